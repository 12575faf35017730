/*
 * write.c -- the path every write takes: single-key calls (ops.c) and
 * all-or-nothing batches (batch.c).  It calls eviction (evict.c) for room;
 * both use the write context's bookkeeping in wctx.c, so neither calls back.
 *
 * A write resolves its namespace, locks the key's shard (reserving room for
 * the pre-images a pending snapshot must keep), finds the live entry (an
 * expired one is removed on the way and reported), and funnels into
 * kv_put_locked, which owns the rules every write shares: limits and eviction,
 * in-place update when the new entry has the same size class (no allocation:
 * the common SET of a same-size value and most APPENDs), copy-on-write while a
 * snapshot cut is pending, an undo log inside a transaction, and accounting.
 * A big new value is built before the lock and only linked under it (see
 * "values built unlocked" below).
 * Keys removed on the side (expired, evicted) are collected in the context
 * (wctx.c) and their hooks fire after the lock is released (kv_wctx_emit).
 */
#include "coll.h"

/* With sh locked for a write: room for the pre-images a pending snapshot keeps. */
static int write_locked(kv_wctx *w, kv_shard *sh)
{
	if (sh->snap_pending &&
	    kv_shard_reserve_preserve_locked(w->ns->env, sh, 2 + KV_MAX_VICTIMS) != KV_OK) {
		kv_spin_unlock(&sh->lock);
		return KV_ENOMEM;
	}
	return KV_OK;
}

/* Resolve the namespace and lock the shard of h.  Retries through drops and resizes. */
static int lock_key(kv_wctx *w, uint64_t h, kv_shard **out)
{
	for (;;) {
		int rc = kv_ns_ref(w->ns, &w->ref);
		if (rc != KV_OK)
			return rc;
		kv_shard *sh = kv_ns_lock_shard(&w->ref, h);
		if (sh) {
			*out = sh;
			return write_locked(w, sh);
		}
		kv_cpu_relax();
	}
}

/* The start every single-key write shares: lock the key's shard (reserving room
 * for a pending snapshot's pre-images) and find its live entry (*e NULL if none). */
int kv_write_begin(kv_ns *ns, const void *key, size_t klen, kv_wctx *w, kv_shard **sh,
                   uint32_t *h32, uint32_t *pos, kv_entry **e)
{
	uint64_t h = kv_hash(key, klen);
	kv_wctx_init(w, ns);
	int rc = lock_key(w, h, sh);
	if (rc != KV_OK)
		return rc;
	*h32 = kv_hash32(h);
	*e = kv_find_live_locked(w, *sh, *h32, key, klen, pos);
	return KV_OK;
}

/* kv_write_begin for a caller that already holds the key's shard lock (ref
 * resolved, sh = kv_ns_lock_shard(ref, h)): kv_set's fast path hands over a
 * write it cannot finish in place.  found: the entry it found (NULL: none, pos
 * its probe end) if it has no TTL; else the live entry is looked up again. */
int kv_write_resume(kv_ns *ns, const kv_nsref *ref, kv_shard *sh, uint64_t h, const void *key,
                    size_t klen, bool found_ok, kv_entry *found, kv_wctx *w, uint32_t *h32,
                    uint32_t *pos, kv_entry **e)
{
	kv_wctx_init(w, ns);
	w->ref = *ref;
	int rc = write_locked(w, sh);
	if (rc != KV_OK)
		return rc;
	*h32 = kv_hash32(h);
	*e = found_ok ? found : kv_find_live_locked(w, sh, *h32, key, klen, pos);
	return KV_OK;
}

void kv_wctx_drop_pre(kv_wctx *w)
{
	kv_entry *e = w->pre;
	if (e) {
		kv_free(w->ns->env, kv_offof(w->ns->env, e),
		        kv_entry_size(e->klen, e->vlen, atomic_load_explicit(&e->flags, memory_order_relaxed)));
		w->pre = NULL;
	}
}

/* ... and the end: unlock, report the keys removed on the side, then the op's own
 * event if it succeeded (ev 0: none). */
int kv_write_end(kv_wctx *w, kv_shard *sh, const void *key, size_t klen, int rc, int ev)
{
	kv_spin_unlock(&sh->lock);
	kv_wctx_drop_pre(w);
	kv_wctx_emit(w);
	if (rc == KV_OK && ev)
		kv_emit(w->ns->env, w->ns, key, klen, ev);
	return rc;
}

/* Find key; an entry whose TTL has passed is removed first (reported as expired). */
kv_entry *kv_find_live_locked(kv_wctx *w, kv_shard *sh, uint32_t h32, const void *key,
                              size_t klen, uint32_t *pos)
{
	kv_entry *e = kv_shard_find_locked(w->ns->env, sh, h32, key, klen, pos);
	if (e && !(w->undo && w->nundo == w->capundo)) {
		int64_t exp = kv_entry_expiry(e); /* 0: no TTL, and no clock read */
		if (exp && kv_expired(exp, kv_wctx_now(w))) {
			kv_w_remove(w, sh, *pos, e);
			atomic_fetch_add_explicit(&w->ref.slot->expired, 1, memory_order_relaxed);
			kv_wctx_victim(w, key, klen, KV_EV_EXPIRED);
			e = kv_shard_find_locked(w->ns->env, sh, h32, key, klen, pos);
		}
	}
	return e;
}

void kv_fill_copy(char *dst, size_t vlen, const char *old, size_t oldlen, const void *arg)
{
	(void)old;
	(void)oldlen;
	memcpy(dst, ((const val_arg *)arg)->p, vlen);
}

/* ------------------------------------------------- values built unlocked */
/* Optimistic reads of the key's metadata before one under the lock. */
#define KV_PREREAD_TRIES 8

/*
 * A value over KV_LOCKED_COPY_MAX is never copied under the shard lock by a
 * single-key write: the new entry (header, key, value) is allocated and filled
 * before the lock, and kv_put_locked only links it (O(1)).  A SET needs nothing
 * of the old value but whether it has a TTL (for KV_EXPIRE_KEEP), and a wrong
 * guess only costs a rebuild (KV_W_REBUILD).  APPEND, SETRANGE and a retime
 * build from the old value as an optimistic read saw it; under the lock the
 * result may be linked only if that is still the key's value:
 *   - the key was absent and still is;
 *   - a small old value (<= KV_LOCKED_COPY_MAX) has the same bytes as those
 *     the new entry kept of it (compared under the lock: bounded);
 *   - a big one is the same entry, in the same shard, and the shard's bigseq
 *     has not moved.  Every change to a big entry's value in place, and every
 *     removal of one from its table (after which it could be freed and its
 *     memory reused for a new entry of the same key: the ABA case) moves
 *     bigseq (kv_big_changed; a flush moves it for all), so an unchanged
 *     bigseq means the entry was never freed nor rewritten.
 * Writes of small values elsewhere in the shard do not invalidate a build.  A
 * build refused a few times in a row (a big value rewritten all the time)
 * falls back to copying under the lock.
 */
void kv_prebuild(kv_ns *ns, const void *key, size_t klen, plan_fn plan, fill_fn fill,
                 const void *arg, kv_pre *p)
{
	kv_prebuild_from(ns, key, klen, key, klen, plan, fill, arg, p);
}

KV_RACY void kv_prebuild_from(kv_ns *ns, const void *from, size_t fromlen, const void *key,
                              size_t klen, plan_fn plan, fill_fn fill, const void *arg, kv_pre *p)
{
	kv_env *env = ns->env;
	uint64_t h = kv_hash(from, fromlen);
	uint32_t h32 = kv_hash32(h);
	p->e = NULL;
	for (int attempt = 0; attempt <= KV_PREREAD_TRIES; attempt++) {
		kv_nsref ref;
		if (kv_ns_ref(ns, &ref) != KV_OK)
			return; /* the locked path reports it */
		/* optimistic; on a shard written all the time, the key's metadata is
		 * read under the lock (O(1): no value is copied under it) */
		bool locked = attempt == KV_PREREAD_TRIES;
		uint32_t seq = 0;
		kv_shard *sh = locked ? kv_ns_lock_shard(&ref, h) : kv_ns_read_shard(&ref, h, &seq);
		if (!sh) {
			if (locked)
				return;
			kv_cpu_relax();
			continue;
		}
		_Atomic uint64_t *slot;
		uint64_t sv;
		kv_seen s = {0};
		const char *oval = NULL;
		uint32_t bigseq = sh->bigseq;
		kv_entry *e = kv_shard_peek(env, sh, h32, from, fromlen, &slot, &sv);
		if (e) {
			unsigned f = atomic_load_explicit(&e->flags, memory_order_relaxed);
			size_t hdr = kv_entry_hdr(f);
			s.oldlen = e->vlen;
			s.ttl = f & KV_E_TTL;
			s.exists = kv_in_region(env, kv_offof(env, e), hdr + fromlen + s.oldlen) &&
			           !kv_expired(kv_entry_expiry(e), kv_now_ms());
			oval = (const char *)e + hdr + fromlen;
			if (!s.exists)
				s.oldlen = 0, s.ttl = false, e = NULL;
		}
		s.def_ttl = atomic_load_explicit(&ref.slot->default_ttl, memory_order_relaxed) > 0;
		s.cow = sh->snap_pending != 0;
		bool ttl = false;
		size_t vlen = plan(arg, &s, &ttl);
		if (locked)
			kv_spin_unlock(&sh->lock);
		else if (!kv_shard_read_valid(sh, seq) || !kv_ns_ref_valid(&ref))
			continue;
		if (vlen <= KV_LOCKED_COPY_MAX ||
		    vlen > atomic_load_explicit(&ref.slot->max_value_size, memory_order_relaxed))
			return; /* small, or refused under the lock anyway */
		/* the TTL word's value is written when the entry is linked */
		kv_entry *n = kv_entry_build(env, key, klen, vlen, 0, ttl ? 1 : 0);
		if (!n)
			return; /* the locked path allocates after eviction made room */
		char *dst = kv_entry_key(n) + klen;
		if (s.use_old && s.exists) {
			/* the entry may be rewritten meanwhile: checked under the lock */
			kv_racy_copy(dst, oval, s.oldlen < vlen ? s.oldlen : vlen);
			fill(dst, vlen, dst, s.oldlen, arg);
		} else {
			fill(dst, vlen, NULL, 0, arg);
		}
		p->e = n;
		p->old_used = s.use_old;
		p->patch_off = s.patch_off;
		p->patch_len = s.patch_len;
		p->exists = s.exists;
		p->sh = sh;
		p->old = e;
		p->gen = ref.gen;
		p->bigseq = bigseq;
		p->oldlen = s.oldlen;
		return;
	}
}

/* Is the key's value (e, under the lock) still the one p's entry n was built
 * from?  A small one is compared with what n kept of it. */
static bool pre_current(const kv_wctx *w, kv_shard *sh, kv_entry *e, const kv_pre *p, kv_entry *n)
{
	if (!p->old_used)
		return true;
	if (!p->exists || !e)
		return !p->exists && !e;
	if (e->vlen != p->oldlen)
		return false;
	if (p->oldlen <= KV_LOCKED_COPY_MAX) {
		const char *was = kv_entry_key(e) + e->klen, *kept = kv_entry_key(n) + n->klen;
		size_t m = p->oldlen < n->vlen ? p->oldlen : n->vlen;
		size_t a = p->patch_off < m ? p->patch_off : m;
		size_t b = p->patch_len < m - a ? a + p->patch_len : m;
		return memcmp(was, kept, a) == 0 && memcmp(was + b, kept + b, m - b) == 0;
	}
	return e == p->old && sh == p->sh && w->ref.gen == p->gen && sh->bigseq == p->bigseq;
}

/*
 * The old value a write hands back (SET's GET, CONSUME), when over
 * KV_LOCKED_COPY_MAX, is copied into b before the lock too: p records the
 * entry read, and kv_preread_ok() tells under the lock whether b still holds
 * the key's value (the same entry in the same shard, bigseq unmoved, as for a
 * build above).  b is grown as needed.  False: nothing big was read.
 */
KV_RACY bool kv_preread(kv_ns *ns, const void *key, size_t klen, kv_buf *b, kv_pre *p)
{
	kv_env *env = ns->env;
	uint64_t h = kv_hash(key, klen);
	uint32_t h32 = kv_hash32(h);
	p->e = NULL;
	p->old = NULL;
	bool regrown = false;
	for (int attempt = 0; attempt <= KV_PREREAD_TRIES; attempt++) {
		kv_nsref ref;
		if (kv_ns_ref(ns, &ref) != KV_OK)
			return false;
		/* as kv_prebuild_from: the entry, its length and bigseq are read
		 * optimistically or, on a busy shard, under the lock; the copy itself
		 * is checked under the write's lock (kv_preread_ok) */
		bool locked = attempt == KV_PREREAD_TRIES;
		uint32_t seq = 0;
		kv_shard *sh = locked ? kv_ns_lock_shard(&ref, h) : kv_ns_read_shard(&ref, h, &seq);
		if (!sh) {
			if (locked)
				return false;
			kv_cpu_relax();
			continue;
		}
		_Atomic uint64_t *slot;
		uint64_t sv;
		uint32_t bigseq = sh->bigseq;
		kv_entry *e = kv_shard_peek(env, sh, h32, key, klen, &slot, &sv);
		size_t vlen = e ? e->vlen : 0;
		unsigned f = e ? atomic_load_explicit(&e->flags, memory_order_relaxed) : 0;
		if (locked)
			kv_spin_unlock(&sh->lock);
		else if (!kv_shard_read_valid(sh, seq) || !kv_ns_ref_valid(&ref))
			continue;
		if (!e || vlen <= KV_LOCKED_COPY_MAX || vlen > KV_VALUE_SIZE_LIMIT ||
		    !kv_in_region(env, kv_offof(env, e), kv_entry_hdr(f) + klen + vlen))
			return false; /* absent or small: copied under the lock */
		if (vlen + 1 > b->cap) {
			if (kv_buf_reserve(env, b, vlen) != KV_OK)
				return false;
			if (locked && !regrown) { /* one more read, with room for the value */
				regrown = true;
				attempt--;
			}
			continue;
		}
		kv_racy_copy(b->data, (const char *)e + kv_entry_hdr(f) + klen, vlen);
		p->old_used = p->exists = true;
		p->sh = sh;
		p->old = e;
		p->gen = ref.gen;
		p->bigseq = bigseq;
		p->oldlen = vlen;
		return true;
	}
	return false;
}

bool kv_preread_ok(const kv_wctx *w, kv_shard *sh, kv_entry *e, const kv_pre *p)
{
	return p->old && e && p->oldlen > KV_LOCKED_COPY_MAX && pre_current(w, sh, e, p, NULL);
}

bool kv_prebuild_take(kv_wctx *w, kv_shard *sh, kv_entry *e, kv_pre *p)
{
	kv_entry *n = p->e;
	if (!n)
		return true;
	p->e = NULL;
	if (sh && pre_current(w, sh, e, p, n)) {
		w->pre = n;
		return true;
	}
	kv_free(w->ns->env, kv_offof(w->ns->env, n),
	        kv_entry_size(n->klen, n->vlen, atomic_load_explicit(&n->flags, memory_order_relaxed)));
	return false;
}

/* Link w->pre as the new entry of sh: what the lock decided goes in now. */
static kv_entry *take_pre(kv_wctx *w, kv_shard *sh, int type, int64_t exp)
{
	kv_entry *e = w->pre;
	w->pre = NULL;
	e->type = (uint8_t)type;
	if (exp)
		memcpy((char *)e + sizeof *e, &exp, 8);
	if (sh->snap_pending)
		atomic_fetch_or_explicit(&e->flags, (uint8_t)KV_E_SNAPNEW, memory_order_relaxed);
	return e;
}

/* Overwrite old's value in place: the new entry has old's size class and TTL
 * layout, and no snapshot or transaction needs old's image.  Nothing to
 * allocate or charge.  kv_put_locked's common case (kv_set's fast path,
 * ops.c set_fast, does the same for a SET with no TTL). */
static void put_in_place_locked(kv_nsslot *slot, kv_shard *sh, kv_entry *old, size_t klen, size_t vlen,
                                int type, int64_t exp, fill_fn fill, const void *arg)
{
	char *val = kv_entry_key(old) + klen;
	kv_shard_write_begin(sh);
	kv_big_changed(sh, old);
	fill(val, vlen, val, old->vlen, arg);
	old->vlen = (uint32_t)vlen;
	old->type = (uint8_t)type;
	if (exp)
		memcpy((char *)old + sizeof *old, &exp, 8);
	kv_shard_write_end(sh);
	kv_ns_charge(slot, sh, 0, 0);
}

/*
 * Store key -> (vlen bytes from fill, type, exp) in sh, replacing old (found at
 * pos) if not NULL.  Applies limits/eviction, reuses old's memory when the size
 * class allows and no snapshot needs the pre-image, and accounts the change.
 * With w->pre (built before the lock, kv_prebuild) it links that entry instead
 * of building one: nothing is copied under the lock.
 */
int kv_put_locked(kv_wctx *w, kv_shard *sh, uint32_t h32, const void *key, size_t klen,
                  kv_entry *old, uint32_t pos, size_t vlen, int type, int64_t exp,
                  fill_fn fill, const void *arg)
{
	kv_env *env = w->ns->env;
	unsigned nflags = exp ? KV_E_TTL : 0;
	size_t nsize = kv_entry_size(klen, vlen, nflags), ncharge = kv_alloc_size(nsize);
	if (vlen > atomic_load_explicit(&w->ref.slot->max_value_size, memory_order_relaxed))
		return KV_EVALSIZE;
	w->redo_key = key;
	w->redo_klen = klen;
	kv_entry *pre = w->pre;
	if (pre && (pre->vlen != vlen ||
	            (atomic_load_explicit(&pre->flags, memory_order_relaxed) & KV_E_TTL) != nflags)) {
		w->pre_ttl = nflags != 0;
		return KV_W_REBUILD;
	}

	if (old) {
		unsigned of = atomic_load_explicit(&old->flags, memory_order_relaxed);
		size_t ocharge = kv_entry_charge(env, old);
		bool cow = (sh->snap_pending && !(of & KV_E_SNAPNEW)) || w->undo;
		/* a collection's entry is never overwritten in place: the new entry
		 * takes a reference to the header, the old one drops its own */
		bool kinds = kv_is_kind(old->type) || kv_is_kind(type);
		if (!pre && !cow && !kinds && (of & KV_E_TTL) == nflags && ocharge == ncharge) {
			put_in_place_locked(w->ref.slot, sh, old, klen, vlen, type, exp, fill, arg);
			kv_redo_put(w, old);
			return KV_OK;
		}
		int rc = kv_make_room_locked(w, sh, (int64_t)ncharge - (int64_t)ocharge, 0, old);
		if (rc != KV_OK)
			return rc;
		/* eviction may have shifted slots: find old again */
		old = kv_shard_find_locked(env, sh, h32, key, klen, &pos);
		kv_entry *e = pre ? take_pre(w, sh, type, exp) : kv_entry_new_locked(env, sh, key, klen, vlen, type, exp);
		if (!e)
			return KV_ENOMEM;
		if (!pre)
			fill(kv_entry_key(e) + klen, vlen, kv_entry_key(old) + klen, old->vlen, arg);
		kv_coll_entry_dup(env, e);
		ncharge = kv_entry_charge(env, e);
		kv_shard_write_begin(sh);
		kv_big_changed(sh, old);
		kv_shard_replace_locked(env, sh, pos, kv_offof(env, e));
		kv_wctx_drop_old(w, sh, old, e);
		kv_shard_write_end(sh);
		kv_ns_charge(w->ref.slot, sh, 0, (int64_t)ncharge - (int64_t)ocharge);
		kv_redo_put(w, e);
		return KV_OK;
	}

	int rc = kv_make_room_locked(w, sh, (int64_t)ncharge, 1, NULL);
	if (rc != KV_OK)
		return rc;
	kv_entry *e = pre ? take_pre(w, sh, type, exp) : kv_entry_new_locked(env, sh, key, klen, vlen, type, exp);
	if (!e)
		return KV_ENOMEM;
	if (!pre)
		fill(kv_entry_key(e) + klen, vlen, NULL, 0, arg);
	kv_coll_entry_dup(env, e);
	ncharge = kv_entry_charge(env, e);
	kv_shard_write_begin(sh);
	rc = kv_shard_insert_locked(env, sh, h32, kv_offof(env, e));
	kv_shard_write_end(sh);
	if (rc != KV_OK) {
		kv_entry_free(env, e);
		return rc;
	}
	if (w->undo)
		kv_wctx_undo(w, sh, NULL, e);
	kv_ns_charge(w->ref.slot, sh, 1, (int64_t)ncharge);
	kv_redo_put(w, e);
	return KV_OK;
}

/* Expiry for a write: KV_EXPIRE_* or absolute.  *del: the time already passed.
 * KV_EINVAL past KV_EXPIRES_MAX, also when the default TTL would land there. */
int kv_write_expiry(kv_wctx *w, int64_t req, kv_entry *old, int64_t *exp, bool *del)
{
	*del = false;
	if (req == KV_EXPIRE_NEVER) {
		*exp = 0;
		return KV_OK;
	}
	if (kv_expiry_check(req) != KV_OK)
		return KV_EINVAL;
	if (req == KV_EXPIRE_DEFAULT) {
		int64_t ttl = atomic_load_explicit(&w->ref.slot->default_ttl, memory_order_relaxed);
		*exp = 0;
		if (ttl > 0)
			return kv_expiry_add_ms(kv_wctx_now(w), ttl, exp);
	} else if (req == KV_EXPIRE_NEVER) {
		*exp = 0;
	} else if (req == KV_EXPIRE_KEEP) {
		*exp = old ? kv_entry_expiry(old) : 0;
	} else if (req > 0) {
		*exp = req;
		*del = req <= kv_wctx_now(w);
	} else {
		return KV_EINVAL;
	}
	return KV_OK;
}
