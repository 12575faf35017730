/*
 * evict.c -- namespace limits and eviction.
 *
 * HOW IT WORKS
 *   A write that would take a namespace over max_keys or max_memory evicts keys
 *   of the shard it already holds (so eviction needs no further lock), chosen by
 *   the namespace's policy:
 *     - LRU: CLOCK over the table.  Readers set a reference bit in the slot; the
 *       hand clears bits as it passes and evicts the first unreferenced entry.
 *     - random: a random occupied slot.
 *     - volatile-ttl: the entry with the nearest expiry among a sample.
 *   Volatile policies consider only keys with a TTL.  Keys hash uniformly, so the
 *   shard at hand is the first place to look; when it has nothing to evict (a
 *   small max_keys over many shards), the others are tried (evict_elsewhere).
 *   If none has anything to evict, the write fails with the limit error.  One
 *   write evicts at most KV_MAX_VICTIMS keys, each pick looks at a bounded
 *   window of slots (KV_EVICT_WINDOW), and other shards are only trylocked.
 *
 *   The active expiry sweep and autosave rules are tick.c's.
 */
#include "kv_internal.h"


#define KV_SAMPLE 5
#define KV_EVICT_WINDOW 1024u /* slots one victim pick may look at */

static uint64_t next_rand(kv_shard *sh)
{
	uint64_t x = sh->rng;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	sh->rng = x;
	return x;
}

static bool evictable(kv_entry *e, const kv_wctx *w, kv_entry *keep, bool volatile_only)
{
	return e != keep && e != w->pin && (!volatile_only || kv_entry_expiry(e) != 0) &&
	       !(atomic_load_explicit(&e->flags, memory_order_relaxed) & KV_E_BATCHNEW);
}

/* Choose a victim slot, or return false.  Looks at no more than KV_EVICT_WINDOW
 * slots (per sample), so the work under the shard lock is bounded whatever the
 * table's size; an LRU hand that finds every slot in its window referenced
 * takes the first evictable one it passed (its bit is now clear). */
static bool pick_victim(kv_env *env, const kv_wctx *w, kv_shard *sh, int policy, kv_entry *keep,
                        uint32_t *pos)
{
	_Atomic uint64_t *s = kv_ptr(env, atomic_load_explicit(&sh->table, memory_order_relaxed));
	uint32_t mask = sh->mask;
	uint32_t window = mask < KV_EVICT_WINDOW ? mask + 1 : KV_EVICT_WINDOW;
	bool vol = policy == KV_EVICT_VOLATILE_LRU || policy == KV_EVICT_VOLATILE_RANDOM ||
	           policy == KV_EVICT_VOLATILE_TTL;
	if (sh->count == 0)
		return false;
	if (policy == KV_EVICT_ALLKEYS_LRU || policy == KV_EVICT_VOLATILE_LRU) {
		uint32_t i = sh->clock_hand & mask, first = UINT32_MAX;
		for (uint32_t n = 0; n < 2 * window; n++, i = (i + 1) & mask) {
			uint64_t v = atomic_load_explicit(&s[i], memory_order_relaxed);
			if (!v || !evictable(kv_ptr(env, (kv_off)v), w, keep, vol))
				continue;
			if (v & KV_SLOT_REF) {
				atomic_fetch_and_explicit(&s[i], ~KV_SLOT_REF, memory_order_relaxed);
				if (first == UINT32_MAX)
					first = i;
				continue;
			}
			sh->clock_hand = (i + 1) & mask;
			*pos = i;
			return true;
		}
		sh->clock_hand = i;
		if (first == UINT32_MAX)
			return false;
		*pos = first;
		return true;
	}
	bool found = false;
	int64_t best = 0;
	for (int k = 0; k < KV_SAMPLE; k++) {
		uint32_t i = (uint32_t)next_rand(sh) & mask;
		for (uint32_t n = 0; n < window; n++, i = (i + 1) & mask) {
			uint64_t v = atomic_load_explicit(&s[i], memory_order_relaxed);
			if (!v)
				continue;
			kv_entry *e = kv_ptr(env, (kv_off)v);
			if (!evictable(e, w, keep, vol))
				continue;
			if (policy != KV_EVICT_VOLATILE_TTL) {
				*pos = i;
				return true;
			}
			int64_t x = kv_entry_expiry(e);
			if (!found || x < best) {
				found = true;
				best = x;
				*pos = i;
			}
			break;
		}
		if (!found && policy == KV_EVICT_VOLATILE_TTL && window == mask + 1)
			break; /* a whole lap found no key with a TTL */
	}
	return found;
}

/* A batch's log ran out (only batches set undo, and only they set ls, xv, grow). */
static bool batch_grow(const kv_wctx *w)
{
	return w->undo && w->grow;
}

/* Note an evicted key for its hook.  Nothing to note without a hook.  A batch
 * spills past the context's own buffer into w->xv; when that is full too it
 * asks for a retry with more room (w->grow). */
static bool note_victim(kv_wctx *w, const void *key, size_t klen)
{
	if (!w->ns->env->hook || kv_wctx_victim(w, key, klen, KV_EV_EVICTED))
		return true;
	if (!w->undo || !w->xv)
		return false;
	kv_buf *b = w->xv;
	uint32_t n = (uint32_t)klen;
	if (b->len + sizeof n + klen > b->cap) {
		w->grow = true;
		return false;
	}
	memcpy(b->data + b->len, &n, sizeof n);
	memcpy(b->data + b->len + sizeof n, key, klen);
	b->len += sizeof n + klen;
	return true;
}

/* Evict one entry of sh (locked, and ready for pre-images) by policy. */
static bool evict_from(kv_wctx *w, kv_shard *sh, int policy, kv_entry *keep)
{
	kv_env *env = w->ns->env;
	uint32_t pos;
	if (w->undo && w->nundo == w->capundo) {
		w->grow = true;
		return false;
	}
	if (!pick_victim(env, w, sh, policy, keep, &pos))
		return false;
	_Atomic uint64_t *s = kv_ptr(env, atomic_load_explicit(&sh->table, memory_order_relaxed));
	kv_entry *e = kv_ptr(env, (kv_off)atomic_load_explicit(&s[pos], memory_order_relaxed));
	if (!note_victim(w, kv_entry_key(e), e->klen))
		return false;
	kv_w_remove(w, sh, pos, e);
	if (w->undo)
		w->nevicted++;
	else
		atomic_fetch_add_explicit(&w->ref.slot->evicted, 1, memory_order_relaxed);
	return true;
}

/* Is shard index i one of the shards a batch's lockset holds? */
static bool lockset_has(const kv_lockset *ls, uint32_t i)
{
	return i >= ls->lo && i < ls->hi && (ls->bits[i / 64] >> (i % 64) & 1);
}

/* The shard at hand has nothing to evict (a small max_keys spread over many
 * shards leaves most of them empty): evict from another shard of the namespace.
 * A batch looks in the other shards it holds first.  Then, like a single write,
 * it tries the rest with trylock only, which cannot deadlock whatever is held,
 * and looks at each at most once.  A batch keeps a shard it evicted from locked
 * (appended to its lockset, seq odd like the others) until it commits or undoes,
 * because the eviction is part of its undo log; a single write unlocks it at
 * once. */
static bool evict_elsewhere(kv_wctx *w, kv_shard *sh, int policy, kv_entry *keep)
{
	kv_env *env = w->ns->env;
	kv_lockset *ls = w->undo ? w->ls : NULL;
	if (w->undo) {
		if (!ls)
			return false;
		for (uint32_t k = 0; k < ls->nheld; k++) {
			kv_shard *o = kv_lockset_at(&w->ref, ls, k);
			if (o != sh && evict_from(w, o, policy, keep))
				return true;
			if (batch_grow(w))
				return false;
		}
	}
	uint32_t n = atomic_load_explicit(&w->ref.slot->nshards, memory_order_relaxed);
	for (uint32_t k = 1; k < n; k++) {
		uint32_t i = (sh->index + k) % n;
		if (ls && (lockset_has(ls, i) || ls->nheld >= KV_MAX_SHARDS))
			continue;
		kv_shard *o = kv_ns_shard(&w->ref, i);
		if (!o || o == sh || !kv_spin_trylock(&o->lock))
			continue;
		bool usable = kv_ns_ref_valid(&w->ref) && o->owner == w->ref.slot_index + 1 && o->count &&
		              (!o->snap_pending || kv_shard_reserve_preserve_locked(env, o, 1) == KV_OK);
		if (usable && ls) {
			kv_shard_write_begin(o);
			ls->held[ls->nheld++] = kv_offof(env, o); /* bits stay: they are the batch's own */
			return evict_from(w, o, policy, keep);
		}
		bool ok = usable && evict_from(w, o, policy, keep);
		kv_spin_unlock(&o->lock);
		if (ok)
			return true;
	}
	return false;
}

int kv_make_room_locked(kv_wctx *w, kv_shard *sh, int64_t need, int newkey, kv_entry *keep)
{
	kv_nsslot *sl = w->ref.slot;
	uint64_t maxk = atomic_load_explicit(&sl->max_keys, memory_order_relaxed);
	uint64_t maxm = atomic_load_explicit(&sl->max_memory, memory_order_relaxed);
	int policy = atomic_load_explicit(&sl->eviction, memory_order_relaxed);
	if (maxm && need > 0 && (uint64_t)need > maxm)
		return KV_EMAXMEM;
	/* grow the table now, outside the insert's write section: readers keep
	 * reading while it rehashes (shard.c, grow_locked) */
	if (newkey && kv_shard_reserve_locked(w->ns->env, sh, sh->count + 1) != KV_OK)
		return KV_ENOMEM;
	for (int evicted = 0;; evicted++) {
		int64_t keys = (int64_t)atomic_load_explicit(&sl->keys, memory_order_relaxed) - w->credit_keys;
		int64_t bytes = (int64_t)atomic_load_explicit(&sl->bytes, memory_order_relaxed) - w->credit_bytes;
		bool overk = maxk && newkey && keys + 1 > (int64_t)maxk;
		bool overm = maxm && need > 0 && bytes + need > (int64_t)maxm;
		if (!overk && !overm)
			return KV_OK;
		int err = overk ? KV_EMAXKEYS : KV_EMAXMEM;
		if (policy == KV_EVICT_NONE || evicted == KV_MAX_VICTIMS || batch_grow(w))
			return err;
		if (!evict_from(w, sh, policy, keep) && (batch_grow(w) || !evict_elsewhere(w, sh, policy, keep)))
			return err;
	}
}
