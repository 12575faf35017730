/*
 * batch.c -- batches of get/set/delete/exists/consume on one namespace.
 *
 * HOW IT WORKS
 *   A batch of only GET and EXISTS takes no lock (batch_read): it hashes every
 *   key, reads each shard's header once however many keys route to it
 *   (through the handle's view, kv_internal.h struct kv_ns; a batch of no
 *   fewer keys than shards reads them all first and hashes, routes and
 *   prefetches in one pass, read_fused, whose stage 2 trails it by a few
 *   items), prefetches each key's home slot,
 *   then each candidate entry, then compares and copies (growing the arena
 *   and reading again if the values do not fit), and finally checks once per
 *   shard that no shard it read changed meanwhile.  Because an all-or-nothing writer keeps every shard it touches
 *   odd (busy) from its first change to its last, a read that validates is a
 *   consistent cut.  It reads the clock once (a key expiring meanwhile is live
 *   or gone for the whole batch), counts hits and misses and sets LRU
 *   reference bits as kv_get does.  After many failed tries it runs under the
 *   locks instead.
 *
 *   Any other all-or-nothing batch locks every shard it touches in ascending
 *   order (each lock once, however many of its keys the batch has), keeps them
 *   all odd, and applies the items in order while logging each table change
 *   (kv_undo).  While it applies item i, the slot of item i+16 and the entry of
 *   item i+8 are prefetched (the first ones while the locks are taken), so the
 *   cache misses of random keys overlap instead of adding up under the locks.  Replaced entries are not freed until commit.  If an
 *   item fails, the log is replayed backwards: new entries are unlinked and freed,
 *   old ones relinked, so the namespace is exactly as before.
 *
 *   Best-effort batches with writes run each item as its own single-key call,
 *   after prefetching a window of keys' slots and entries (batch_best_effort).
 */
#include "coll.h"

#include <stddef.h>
#include <stdio.h>

#define KV_BATCH_READ_TRIES 32

/* "batch item 3 (0-based) failed: value is longer than ..." */
static void batch_err_msg(kv_error *err, size_t item, int rc)
{
	snprintf(err->msg, sizeof err->msg, "batch item %zu (0-based) failed: %s", item,
	         kv_strerror_text(rc));
}

/* Results that do not fail an all-or-nothing batch. */
static bool is_outcome(int op, int rc)
{
	return rc == KV_OK || (rc == KV_NOTFOUND && (op == KV_OP_GET || op == KV_OP_DEL || op == KV_OP_EXISTS));
}

static int arena_put(kv_env *env, kv_buf *arena, kv_op *o, const char *v, size_t n, int type,
                     int64_t exp)
{
	if (kv_buf_reserve(env, arena, arena->len + n) != KV_OK)
		return KV_ENOMEM;
	memcpy(arena->data + arena->len, v, n);
	o->out_off = arena->len;
	o->out_len = n;
	o->out_type = type;
	o->out_expires_at = exp;
	arena->len += n;
	arena->data[arena->len] = 0;
	return KV_OK;
}

/* ------------------------------------------------------ lock-free reads */
/* One shard a read-only batch reads, as its header was at an even seq: the
 * slot array, mask and shift every item of the shard probes with. */
typedef struct rd_shard {
	kv_shard         *sh;
	_Atomic uint64_t *slots;
	uint32_t          seq, mask, shift; /* shift as read: masked (& 31) where used */
} rd_shard;

/* One item of a read-only batch: g, its shard's rd_shard; sp, the slot of its
 * first candidate (then of its entry); sv, its hash bits as a slot holds them
 * (h << 32: bits 33..63 are compared) until stage 2 puts the candidate slot's
 * value there (0: the key is not there), then the found entry's slot value
 * (0: no hit), for the LRU bit. */
typedef struct rd_item {
	_Atomic uint64_t *sp;
	uint64_t          sv;
	uint32_t          g;
} rd_item;

/* Up to this many shards, a read-only batch reads each shard's header once
 * and validates each shard once (rd_shard per shard); beyond it, and during a
 * resize, each item has its own rd_shard. */
#define KV_RD_GROUP_MAX 64

/* True if no writer has touched any of the ng shards read since their headers
 * were (gs[ids[k]], or gs[k] if ids is NULL); the acquire fence orders the
 * reads of the entries before the seq loads. */
KV_RACY_INLINE KV_ALWAYS_INLINE bool rd_shards_unchanged(const rd_shard *gs, const uint8_t *ids, uint32_t ng)
{
	KV_FENCE(memory_order_acquire);
	uint32_t changed = 0;
	if (ids)
		for (uint32_t k = 0; k < ng; k++)
			changed |= atomic_load_explicit(&gs[ids[k]].sh->seq, memory_order_relaxed) ^ gs[ids[k]].seq;
	else
		for (uint32_t k = 0; k < ng; k++)
			changed |= atomic_load_explicit(&gs[k].sh->seq, memory_order_relaxed) ^ gs[k].seq;
	return !changed;
}

/* The header of sh into *g, at its even seq.  False if a writer is busy or
 * the slot array is not in the region (torn: the caller retries).  units: the
 * region's size in KV_UNITs; as in get_fast, a slot is one unit, a table at
 * offset 0 reads the region's header, and a torn shift only moves where a
 * probe starts (it is masked, the index too). */
_Static_assert(KV_UNIT == sizeof(uint64_t), "a slot is one KV_UNIT");
KV_RACY_INLINE KV_ALWAYS_INLINE bool rd_shard_load(char *base, size_t units, kv_shard *sh, uint32_t seq,
                                                   rd_shard *g)
{
	kv_off t = atomic_load_explicit(&sh->table, memory_order_relaxed);
	uint32_t mask = atomic_load_explicit(&sh->mask, memory_order_relaxed);
	uint32_t shift = atomic_load_explicit(&sh->shift, memory_order_relaxed);
	if ((seq & 1) || (size_t)t + mask >= units)
		return false;
	g->sh = sh;
	g->slots = (_Atomic uint64_t *)(base + (size_t)t * KV_UNIT);
	g->seq = seq;
	g->mask = mask;
	g->shift = shift;
	return true;
}

/* The next slot after *sp in its cluster that is empty or holds H's hash bits
 * (kv_hash32 << 32), into *sp; its value, 0 if empty or after two laps of
 * the table (a torn one may have no empty slot). */
KV_RACY_INLINE uint64_t rd_walk(const rd_shard *g, _Atomic uint64_t **sp, uint64_t H)
{
	_Atomic uint64_t *s = *sp, *const lo = g->slots, *const end = lo + (size_t)g->mask + 1;
	for (int laps = 0;;) {
		if (++s == end) {
			if (laps++)
				return 0;
			s = lo;
		}
		uint64_t v = atomic_load_explicit(s, memory_order_relaxed);
		if (!v || (((v ^ H) >> 33) == 0)) {
			*sp = s;
			return v;
		}
	}
}

/* Prefetch the cache lines of an entry's first 128 bytes (header, key and a
 * small value) without reading it: a 120-byte entry spans three lines 6 times
 * in 8 (it starts 8-aligned); one that starts a line asks for its second
 * twice, not for a third it does not reach. */
KV_INLINE void prefetch_lines(const void *e)
{
	const char *p = (const char *)e;
	__builtin_prefetch(p);
	__builtin_prefetch(p + 64);
	__builtin_prefetch(p + 127);
}

/* Prefetch the entry that the first slot of h32's cluster matching its hash
 * points at (a hint for writes, see prefetch_entry: decides nothing). */
KV_RACY_INLINE void prefetch_candidate(const kv_env *env, kv_shard *sh, uint32_t h32)
{
	kv_off t = atomic_load_explicit(&sh->table, memory_order_relaxed);
	uint32_t mask = atomic_load_explicit(&sh->mask, memory_order_relaxed);
	uint32_t shift = atomic_load_explicit(&sh->shift, memory_order_relaxed);
	if (shift == 0 || shift > 28 || !kv_in_region(env, t, ((size_t)mask + 1) * 8))
		return;
	const _Atomic uint64_t *s = kv_ptr(env, t);
	uint32_t i = (h32 >> shift) & mask;
	for (uint32_t k = 0; k < 8; k++, i = (i + 1) & mask) {
		uint64_t v = atomic_load_explicit(&s[i], memory_order_relaxed);
		if (!v)
			return;
		if (kv_slot_is(v, h32)) {
			if (kv_in_region(env, (kv_off)v, 192))
				prefetch_lines(kv_ptr(env, (kv_off)v));
			return;
		}
	}
}

/* ------------------------------------------------------ best effort */
/*
 * Each item runs as its own single-key call, in order, with that call's
 * semantics, hooks and errors.  What the batch adds is memory-level
 * parallelism: before a window of KV_BE_WINDOW items runs, every key of it is
 * hashed and its home slot prefetched, then the entry the slot points at, so
 * the two cache misses of each random key overlap with the other keys'
 * instead of adding up (the calls then find slot and entry in cache).  The
 * prefetch only reads (optimistically, bounds-checked) and never decides
 * anything: a key that moved meanwhile is just not prefetched.
 */
#define KV_BE_WINDOW 16

/* Prefetch hints for writes, in two stages: the home slot of h, then (once
 * that has arrived) the entry its first matching slot points at.  They only
 * read, optimistically and bounds-checked, and decide nothing; they ignore
 * seq, since a batch's own locked shards are odd (busy) while it applies. */
static KV_RACY kv_shard *hint_shard(const kv_nsref *ref, uint64_t h)
{
	uint32_t n = atomic_load_explicit(&ref->slot->nshards, memory_order_relaxed);
	return kv_shard_fast(ref, kv_route_of(ref, h, n), n);
}

static KV_RACY void prefetch_slot(const kv_nsref *ref, uint64_t h)
{
	kv_shard *sh = hint_shard(ref, h);
	if (!sh)
		return;
	kv_off t = atomic_load_explicit(&sh->table, memory_order_relaxed);
	uint32_t shift = atomic_load_explicit(&sh->shift, memory_order_relaxed);
	uint32_t mask = atomic_load_explicit(&sh->mask, memory_order_relaxed);
	if (shift && shift <= 28 && kv_in_region(ref->env, t, ((size_t)mask + 1) * 8))
		__builtin_prefetch((uint64_t *)kv_ptr(ref->env, t) + ((kv_hash32(h) >> shift) & mask));
}

static KV_RACY void prefetch_entry(const kv_nsref *ref, uint64_t h)
{
	kv_shard *sh = hint_shard(ref, h);
	if (sh)
		prefetch_candidate(ref->env, sh, kv_hash32(h));
}

static void prefetch_window(kv_ns *ns, const uint64_t *h, size_t n)
{
	kv_nsref ref;
	if (kv_ns_ref(ns, &ref) != KV_OK)
		return;
	for (size_t i = 0; i < n; i++)
		prefetch_slot(&ref, h[i]);
	for (size_t i = 0; i < n; i++)
		prefetch_entry(&ref, h[i]);
}

static int batch_best_effort(kv_ns *ns, kv_op *ops, size_t n, const uint64_t *h, kv_buf *arena)
{
	kv_env *env = ns->env;
	kv_buf tmp = KV_BUF_INIT;
	for (size_t i = 0; i < n; i++) {
		if (i % KV_BE_WINDOW == 0)
			prefetch_window(ns, h + i, n - i < KV_BE_WINDOW ? n - i : KV_BE_WINDOW);
		kv_op *o = &ops[i];
		o->out_len = 0;
		o->out_type = KV_T_NONE;
		o->out_expires_at = 0;
		o->out_int = 0;
		switch (o->op) {
		case KV_OP_GET:
		case KV_OP_CONSUME:
			o->status = o->op == KV_OP_GET ? kv_get(ns, o->key, o->klen, &tmp)
			                               : kv_consume(ns, o->key, o->klen, &tmp);
			if (o->status == KV_OK &&
			    arena_put(env, arena, o, tmp.data, tmp.len, tmp.type, tmp.expires_at) != KV_OK)
				o->status = KV_ENOMEM;
			break;
		case KV_OP_SET:
			o->status = kv_set(ns, o->key, o->klen, o->val, o->vlen, o->type, o->expires_at,
			                   o->flags, NULL);
			break;
		case KV_OP_DEL:
			o->status = kv_del(ns, o->key, o->klen);
			break;
		case KV_OP_EXISTS:
			o->status = kv_exists(ns, o->key, o->klen);
			break;
		case KV_OP_INCR:
			o->status = kv_incr(ns, o->key, o->klen, o->by, &o->out_int);
			break;
		}
	}
	kv_buf_free(env, &tmp);
	return KV_OK;
}

/* Stage 1 of batch_read, through the handle's view (kv_internal.h, struct
 * kv_ns: its shard pointers were checked when it was published) of a
 * namespace of at most KV_RD_GROUP_MAX shards: the header of each shard in
 * seen (bits by shard index) into gs[index], its index into ids.  The number
 * read, or -1 if a header is busy or torn (retry). */
static KV_RACY __attribute__((noinline)) int rd_headers(char *base, size_t units, kv_viewarr *va,
                                                        uint64_t seen, rd_shard *gs, uint8_t *ids)
{
	int ng = 0;
	for (; seen; seen &= seen - 1) {
		uint32_t si = (uint32_t)__builtin_ctzll(seen);
		kv_shard *sh = atomic_load_explicit(&va->p[si], memory_order_relaxed);
		if (!rd_shard_load(base, units, sh, atomic_load_explicit(&sh->seq, memory_order_acquire), &gs[si]))
			return -1;
		ids[ng++] = (uint8_t)si;
	}
	return ng;
}
/* ... and of every shard of the view's nsh, into gs[0..nsh): false if one is
 * busy or torn */
static KV_RACY __attribute__((noinline)) bool rd_headers_all(char *base, size_t units, kv_viewarr *va,
                                                             uint32_t nsh, rd_shard *gs)
{
	for (uint32_t k = 0; k < nsh; k++) {
		kv_shard *sh = atomic_load_explicit(&va->p[k], memory_order_relaxed);
		if (!rd_shard_load(base, units, sh, atomic_load_explicit(&sh->seq, memory_order_acquire), &gs[k]))
			return false;
	}
	return true;
}

/* The home slot of each key of shard it[i].g (gs[g]'s header read) into
 * it[i].sp, prefetched; its hash bits into it[i].sv.  route: the view's route
 * table (KV_ROUTE_SIZE entries, all 0 for one shard), the shard of each key
 * looked up first if routed (false if one is not below nsh: a stale view);
 * else it[i].g is already set. */
KV_RACY_INLINE KV_ALWAYS_INLINE bool rd_home(rd_item *it, const rd_shard *gs, const uint64_t *h, size_t n,
                                             const uint16_t *route, uint32_t nsh, bool routed)
{
	for (size_t i = 0; i < n; i++) {
		const uint64_t hv = h[i];
		uint32_t si;
		if (routed) {
			si = route[hv >> (64 - KV_ROUTE_BITS)];
			if (si >= nsh)
				return false;
			it[i].g = si;
		} else {
			si = it[i].g;
		}
		const rd_shard *g = &gs[si];
		/* shift is at least 1: kv_hash32's cleared bit 0 is shifted out, and
		 * the tag compare ignores bit 32 (KV_TAG_IS) */
		_Atomic uint64_t *sp = &g->slots[((uint32_t)hv >> (g->shift & 31)) & g->mask];
		it[i].sv = hv << 32;
		it[i].sp = sp;
		__builtin_prefetch(sp);
	}
	return true;
}
static KV_RACY __attribute__((noinline)) bool rd_home_routed(rd_item *it, const rd_shard *gs, const uint64_t *h,
                                                             size_t n, const uint16_t *route, uint32_t nsh)
{
	return rd_home(it, gs, h, n, route, nsh, true);
}
static KV_RACY __attribute__((noinline)) void rd_home_known(rd_item *it, const rd_shard *gs, const uint64_t *h,
                                                            size_t n)
{
	rd_home(it, gs, h, n, NULL, 0, false);
}

/* v's hash bits are those of H (h32 << 32): its top 31 bits, past the LRU bit */
#define KV_TAG_IS(v, H) ((((v) ^ (H)) >> 33) == 0)

/* Stage 2 of batch_read: the first candidate of each key (or its cluster's
 * end) into sv, its entry prefetched. */
KV_RACY_INLINE KV_ALWAYS_INLINE void rd_candidate(rd_item *t, const rd_shard *gs, char *base)
{
	const uint64_t H = t->sv;
	uint64_t v = atomic_load_explicit(t->sp, memory_order_relaxed);
	if (v && !KV_TAG_IS(v, H))
		v = rd_walk(&gs[t->g], &t->sp, H);
	prefetch_lines(base + (size_t)(kv_off)v * KV_UNIT);
	t->sv = v;
}
static KV_RACY __attribute__((noinline)) void rd_candidates(rd_item *it, const rd_shard *gs, char *base,
                                                             size_t n)
{
	for (size_t i = 0; i < n; i++)
		rd_candidate(&it[i], gs, base);
}

/* An entry stage 3 found, bounds-checked whole: its header's fields and
 * where its key starts. */
typedef struct rd_hit {
	kv_entry   *e;
	const char *ek;
	size_t      vlen;
	unsigned    flags;
} rd_hit;

/* The entry of slot value v, checked: 1 if it lies in the region and holds
 * key (*hit set), 0 if it holds another key, -1 if it is out of the region.
 * hlim: size - 16, the last offset whose header and TTL word are in it. */
KV_RACY_INLINE KV_ALWAYS_INLINE int rd_entry(char *base, size_t hlim, uint64_t v, const void *key, size_t klen,
                                             rd_hit *hit, bool word_key)
{
	/* the header (and a TTL word) in the region, then all of the entry:
	 * past a header of 8 bytes + ttl, klen + vlen bytes end at or below
	 * size, i.e. eoff + ttl + klen + vlen - 8 <= hlim (eoff is at least 8
	 * but in a torn slot, whose underflow then fails the check) */
	size_t eoff = (size_t)(kv_off)v * KV_UNIT;
	if (eoff > hlim)
		return -1;
	kv_entry *e = (kv_entry *)(base + eoff);
	unsigned flags = atomic_load_explicit(&e->flags, memory_order_relaxed);
	const char *ek = (const char *)e + sizeof(kv_entry);
	size_t vlen = e->vlen, last = eoff + klen + vlen - 8;
	/* a branch, not a data dependence on flags: the key's address is
	 * known before the header has arrived */
	if (KV_UNLIKELY(flags & KV_E_TTL)) {
		__asm__("" : "+r"(ek));
		ek += 8;
		last += 8;
	}
	if (last > hlim)
		return -1;
	if (!KV_LIKELY(e->klen == klen && (word_key ? kv_key_word_eq(ek, key, klen) : kv_key_bytes_eq(ek, key, klen))))
		return 0;
	hit->e = e;
	hit->ek = ek;
	hit->vlen = vlen;
	hit->flags = flags;
	return 1;
}

/* A tag collision in stage 3: the next slot of the key's cluster (from *sp)
 * whose entry holds key, into *sp, and that entry into *hit: 1; 0 if no slot
 * does; -1 if an entry is out of the region (torn). */
static KV_RACY __attribute__((noinline, cold)) int rd_probe_on(const rd_shard *g, _Atomic uint64_t **sp,
                                                                uint64_t H, char *base, size_t size,
                                                                const void *key, size_t klen, rd_hit *hit,
                                                                uint64_t *vp)
{
	for (;;) {
		uint64_t v = rd_walk(g, sp, H);
		if (!v)
			return 0;
		int r = rd_entry(base, size - sizeof(kv_entry) - 8, v, key, klen, hit, false);
		if (r) {
			*vp = v;
			return r;
		}
	}
}

/* What stage 3 found: hits, misses, and the values' total length. */
typedef struct rd_found {
	size_t hits, misses, alen;
} rd_found;

/* Stage 3 of batch_read: compare keys (a tag collision probes on), check
 * expiry and kind, lay the values out.  False if an offset is out of the
 * region (torn: retry). */
KV_RACY_INLINE KV_ALWAYS_INLINE bool rd_compare(kv_op *ops, rd_item *it, const rd_shard *gs, size_t n,
                                                const kv_env *env, char *adata, size_t acap, rd_found *out,
                                                int64_t *now, bool word_keys)
{
	char *const base = env->base;
	const size_t size = env->size, hlim = size - sizeof(kv_entry) - 8;
	size_t alen = 0, misses = 0, other = 0;
	kv_op *const end = ops + n;
	rd_item *t = it;
	for (kv_op *o = ops; o < end; o++, t++) {
		uint64_t v = t->sv;
		const size_t klen = o->klen;
		if (!v)
			goto miss;
		rd_hit x;
		int r = rd_entry(base, hlim, v, o->key, klen, &x, word_keys);
		if (KV_UNLIKELY(r <= 0)) {
			if (r < 0)
				return false;
			rd_hit y; /* not x: x stays in registers */
			uint64_t w;
			/* v, a candidate, holds the key's hash bits: the walk's tag */
			r = rd_probe_on(&gs[t->g], &t->sp, v, base, size, o->key, klen, &y, &w);
			if (r < 0)
				return false;
			if (!r)
				goto miss;
			x = y;
			t->sv = w; /* for the LRU bit */
		}
		const unsigned flags = x.flags;
		int type = x.e->type;
		int64_t exp = 0;
		if (KV_UNLIKELY(flags & KV_E_TTL)) {
			memcpy(&exp, (char *)x.e + sizeof *x.e, 8);
			if (!*now)
				*now = kv_now_ms();
			if (exp <= *now)
				goto miss;
		}
		o->out_off = alen;
		o->status = KV_OK;
		if (o->op == KV_OP_GET) {
			if (KV_UNLIKELY(kv_is_kind(type))) {
				o->status = KV_EWRONGTYPE; /* a string read of a collection */
				other++;
				t->sv = 0;
				goto none;
			}
			o->out_len = x.vlen;
			o->out_type = type;
			o->out_expires_at = exp;
			size_t at = alen;
			alen += x.vlen;
			if (alen < acap) /* else the arena grows and the read is redone */
				kv_racy_copy_short(adata + at, x.ek + klen, x.vlen);
			continue;
		}
		goto none;
	miss:
		o->status = KV_NOTFOUND;
		o->out_off = alen;
		t->sv = 0;
		misses++;
	none:
		o->out_len = 0;
		o->out_type = KV_T_NONE;
		o->out_expires_at = 0;
	}
	out->hits = n - misses - other;
	out->misses = misses;
	out->alen = alen;
	return true;
}

/*
 * A batch of only GET and EXISTS, with no lock (see HOW IT WORKS), in stages
 * over all items so that their cache misses overlap:
 *   1. read the headers (seq, slot array, mask, shift) of the shards the
 *      batch reads, each once, through the handle's view (its route table
 *      and shard pointers were checked when it was published; a resize that
 *      migrates, or more than KV_RD_GROUP_MAX shards, reads one header per
 *      item through the slot instead): every shard of the namespace when it
 *      has no more shards than the batch has keys (a batch touches most of
 *      them anyway, and then no key is routed twice), else those its keys
 *      route to; route each key and prefetch its home slot;
 *   2. find the first slot of each cluster that is empty or matches the
 *      key's hash and prefetch the entry it points at;
 *   3. compare keys (a tag collision probes on, out of line), check expiry
 *      and kind, copy each value to the arena while it fits; if one does not,
 *      grow the arena by lengths every shard's seq vouches for (so a torn one
 *      never sizes an allocation) and read again;
 *   4. validate each shard's seq once and the namespace's gen; then count
 *      hits and misses and set the LRU bits, as kv_get does.
 * Stages 1 to 3 are functions of their own: each loop keeps its values in
 * registers (one function, with the retry loop's state live, spilled them);
 * stages 2 to 4 are rd_finish, which read_fused shares.
 * Every offset read from the region is bounds-checked before it is read
 * through (kv_internal.h, SAFE OPTIMISTIC READS; a prefetch reads nothing):
 * an entry once for its header, once for all of it.  Any doubt retries the
 * whole read.  KV_EBUSY after KV_BATCH_READ_TRIES: the caller takes the locks.
 */
/* rd_compare for batches whose keys are all 9..16 bytes long (compared as
 * two words, no memcmp call in the loop) and for the others */
static KV_RACY __attribute__((noinline)) bool rd_compare_words(kv_op *ops, rd_item *it, const rd_shard *gs,
                                                               size_t n, const kv_env *env,
                                                               char *adata, size_t acap, rd_found *out,
                                                               int64_t *now)
{
	return rd_compare(ops, it, gs, n, env, adata, acap, out, now, true);
}
static KV_RACY __attribute__((noinline)) bool rd_compare_any(kv_op *ops, rd_item *it, const rd_shard *gs,
                                                             size_t n, const kv_env *env,
                                                             char *adata, size_t acap, rd_found *out,
                                                             int64_t *now)
{
	return rd_compare(ops, it, gs, n, env, adata, acap, out, now, false);
}

/* Stages 2 to 4 of batch_read, once stage 1 has read the headers of the shards
 * (gs[vids[k]], or gs[k] if vids is NULL, k < ng) of namespace slot sl at gen
 * and set every item's home slot: KV_OK (read, counted, LRU bits set),
 * KV_EBUSY (torn or changed, or the arena grew: read again) or KV_ENOMEM (the
 * arena could not grow). */
static KV_RACY __attribute__((noinline)) int rd_finish(kv_env *env, kv_nsslot *sl, uint32_t gen, kv_op *ops,
                                                       rd_item *it, const rd_shard *gs, const uint8_t *vids,
                                                       uint32_t ng, size_t n, kv_buf *arena,
                                                       bool word_keys, int64_t *now, size_t from)
{
	/* 2: the candidates (of items from on: read_fused found the others');
	 * 3: compare and copy */
	rd_candidates(it + from, gs, env->base, n - from);
	rd_found f;
	char *adata = arena ? arena->data : NULL;
	size_t acap = arena ? arena->cap : 0;
	if (!(word_keys ? rd_compare_words : rd_compare_any)(ops, it, gs, n, env, adata, acap, &f, now))
		return KV_EBUSY;
	size_t alen = f.alen, hits = f.hits, misses = f.misses;
	/* 3: the arena, grown if the values did not fit, then read again */
	if (alen && alen >= arena->cap) {
		/* the gen too: a resize or drop moves it before it frees the
		 * shard array, so only then were the headers read real shards'
		 * and alen their entries' lengths, not reused memory's */
		if (!rd_shards_unchanged(gs, vids, ng) || atomic_load_explicit(&sl->gen, memory_order_relaxed) != gen)
			return KV_EBUSY;
		return kv_buf_reserve(env, arena, alen) != KV_OK ? KV_ENOMEM : KV_EBUSY;
	}
	/* 4: validate every shard read, once, and the namespace */
	if (!rd_shards_unchanged(gs, vids, ng) || atomic_load_explicit(&sl->gen, memory_order_relaxed) != gen)
		return KV_EBUSY;
	if (adata) {
		arena->len = alen;
		adata[alen] = 0;
	}
	/* the namespace's statistics sum its shards: the batch's counts go to
	 * the first shard it read */
	kv_shard *sh0 = gs[vids ? vids[0] : 0].sh;
	if (hits)
		atomic_store_explicit(&sh0->hits, atomic_load_explicit(&sh0->hits, memory_order_relaxed) + hits,
		                      memory_order_relaxed);
	if (misses)
		atomic_store_explicit(&sh0->misses, atomic_load_explicit(&sh0->misses, memory_order_relaxed) + misses,
		                      memory_order_relaxed);
	/* CLOCK reference bits for LRU namespaces: a CAS on the exact slot value
	 * read, so it can only land on the slot that still holds the entry */
	if (kv_evict_lru(atomic_load_explicit(&sl->eviction, memory_order_relaxed)))
		for (size_t i = 0; i < n; i++) {
			uint64_t v = it[i].sv;
			if (v && !(v & KV_SLOT_REF))
				atomic_compare_exchange_strong_explicit(it[i].sp, &v, v | KV_SLOT_REF, memory_order_relaxed,
				                                        memory_order_relaxed);
		}
	return KV_OK;
}

static KV_RACY int batch_read(kv_ns *ns, kv_op *ops, size_t n, const uint64_t *h, rd_item *it,
                              rd_shard *gs, kv_buf *arena, bool word_keys)
{
	kv_env *env = ns->env;
	char *const base = ns->base;
	const size_t units = ns->units;
	int64_t now = 0;
	int rc = KV_EBUSY;
	for (int attempt = 0; attempt < KV_BATCH_READ_TRIES; attempt++) {
		if (attempt)
			kv_cpu_relax();
		uint8_t ids[KV_RD_GROUP_MAX]; /* the shards read, in gs[shard index] */
		const uint8_t *vids = NULL;   /* ids, or NULL when gs[0..ng) are the shards read */
		uint32_t ng = 0, nsh = 0, gen;
		uint64_t vk;
		kv_nsslot *sl;
		size_t i;
		/* 1: shards, home slots */
		if (view_get(ns, &vk, &sl) && (nsh = view_n(ns)) <= KV_RD_GROUP_MAX) {
			/* the handle's view (kv_internal.h, struct kv_ns): its route
			 * table and shard pointers need no checks, its gen is
			 * validated at the end */
			gen = (uint32_t)vk;
			const uint16_t *rt = atomic_load_explicit(&ns->vroute, memory_order_relaxed);
			kv_viewarr *va = atomic_load_explicit(&ns->varr, memory_order_relaxed);
			/* every shard's header if no more than the keys; else route
			 * every key first (each key's shard kept: the table is read
			 * once) and read those */
			if (nsh <= n) {
				if (!rd_headers_all(base, units, va, nsh, gs) || !rd_home_routed(it, gs, h, n, rt, nsh))
					continue;
				ng = nsh;
			} else {
				uint64_t want = 0;
				uint32_t over = 0;
				for (i = 0; i < n; i++) {
					uint32_t si = rt[h[i] >> (64 - KV_ROUTE_BITS)];
					it[i].g = si;
					over |= si >= nsh;
					want |= (uint64_t)1 << (si & (KV_RD_GROUP_MAX - 1));
				}
				int got;
				if (over || (got = rd_headers(base, units, va, want, gs, ids)) < 0)
					continue;
				ng = (uint32_t)got;
				vids = ids;
				rd_home_known(it, gs, h, n);
			}
		} else { /* a resize is moving keys, or many shards: one header per item */
			kv_nsref ref;
			if ((rc = kv_ns_ref(ns, &ref)) != KV_OK)
				break;
			rc = KV_EBUSY;
			sl = ref.slot;
			gen = ref.gen;
			for (i = 0; i < n; i++) {
				uint64_t hv = h[i];
				uint32_t seq;
				kv_shard *sh = kv_ns_read_shard(&ref, hv, &seq);
				if (!sh || !rd_shard_load(base, units, sh, seq, &gs[i]))
					break;
				uint32_t h32 = kv_hash32(hv);
				_Atomic uint64_t *sp = &gs[i].slots[(h32 >> (gs[i].shift & 31)) & gs[i].mask];
				it[i].sv = (uint64_t)h32 << 32;
				it[i].sp = sp;
				it[i].g = (uint32_t)i;
				__builtin_prefetch(sp);
			}
			ng = (uint32_t)i;
			if (i < n)
				continue;
		}
		rc = rd_finish(env, sl, gen, ops, it, gs, vids, ng, n, arena, word_keys, &now, 0);
		if (rc != KV_EBUSY)
			break;
	}
	return rc;
}

/* read_fused's stage 2 trails its stage 1 by this many items: about the
 * time of one slot's cache miss (8 waited on slots that had not arrived:
 * 0.90x the reference against 0.98x without; bench/README.md) */
#define KV_RD_LAG 16
/*
 * The common read batch in one pass less: when its first item is a GET or
 * EXISTS and the namespace has no more shards than the batch has keys (the
 * headers batch_read would read are then all of them, whatever the keys), the
 * headers are read first and one pass over the items checks each, hashes
 * it, routes it and prefetches its home slot, and runs stage 2 for the item
 * KV_RD_LAG back (so the first entries are asked for sooner); the last
 * KV_RD_LAG items' stage 2 and stages 3 and 4 follow as in batch_read.  Declines (KV_EBUSY: kv_batch then takes its general path,
 * which sets every output again) at an item that is not a GET or EXISTS, a
 * NULL key with a length, a key over the limit, a busy or torn shard, no
 * view, or anything but KV_OK from the stages.
 */
static KV_RACY __attribute__((noinline)) int read_fused(kv_ns *ns, kv_op *ops, size_t n, rd_item *it,
                                                        rd_shard *gs, kv_buf *arena)
{
	uint64_t vk;
	kv_nsslot *sl;
	uint32_t nsh;
	if (!view_get(ns, &vk, &sl) || (nsh = view_n(ns)) > n)
		return KV_EBUSY;
	const uint16_t *rt = atomic_load_explicit(&ns->vroute, memory_order_relaxed);
	if (!rd_headers_all(ns->base, ns->units, atomic_load_explicit(&ns->varr, memory_order_relaxed), nsh, gs))
		return KV_EBUSY;
	size_t klens = 0; /* the OR of klen - 9 (see kv_batch) */
	for (size_t i = 0; i < n; i++) {
		kv_op *o = &ops[i];
		if (o->op != KV_OP_GET && o->op != KV_OP_EXISTS)
			return KV_EBUSY;
		const void *key = o->key;
		const size_t klen = o->klen;
		if (!key) {
			if (klen)
				return KV_EBUSY;
			o->key = key = "";
		}
		klens |= klen - 9;
		const uint64_t hv = kv_hash(key, klen);
		const uint32_t si = rt[hv >> (64 - KV_ROUTE_BITS)];
		if (si >= nsh)
			return KV_EBUSY;
		const rd_shard *g = &gs[si];
		_Atomic uint64_t *sp = &g->slots[((uint32_t)hv >> (g->shift & 31)) & g->mask];
		it[i].g = si;
		it[i].sv = hv << 32;
		it[i].sp = sp;
		__builtin_prefetch(sp);
		/* stage 2 for the item KV_RD_LAG back, whose slot has had a
		 * few hashes' time to arrive: its entry is asked for sooner */
		if (i >= KV_RD_LAG)
			rd_candidate(&it[i - KV_RD_LAG], gs, ns->base);
	}
	if (klens > 7) /* not every key 9..16 bytes: is one over the limit? */
		for (size_t i = 0; i < n; i++)
			if (ops[i].klen > KV_KEY_SIZE_LIMIT)
				return KV_EBUSY;
	int64_t now = 0;
	return rd_finish(ns->env, sl, (uint32_t)vk, ops, it, gs, NULL, nsh, n, arena, klens <= 7, &now,
	                 n > KV_RD_LAG ? n - KV_RD_LAG : 0);
}
#undef KV_TAG_IS

/* ------------------------------------------------------ all-or-nothing */
static void undo_all(kv_wctx *w)
{
	kv_env *env = w->ns->env;
	for (size_t k = w->nundo; k-- > 0;) {
		kv_undo *u = &w->undo[k];
		kv_shard *sh = u->sh;
		kv_shard_write_begin(sh);
		if (u->new_) {
			kv_entry *e = kv_ptr(env, u->new_);
			uint64_t h = kv_hash(kv_entry_key(e), e->klen);
			uint32_t pos;
			if (kv_shard_find_locked(env, sh, kv_hash32(h), kv_entry_key(e), e->klen, &pos) == e)
				kv_shard_remove_locked(env, sh, pos);
			size_t charge = kv_entry_charge(env, e);
			kv_ns_charge(w->ref.slot, sh, -1, -(int64_t)charge);
			kv_entry_free(env, e);
		}
		if (u->old) {
			kv_entry *e = kv_ptr(env, u->old);
			uint64_t h = kv_hash(kv_entry_key(e), e->klen);
			/* cannot fail: the table held this entry before the batch began */
			kv_shard_insert_locked(env, sh, kv_hash32(h), u->old);
			kv_ns_charge(w->ref.slot, sh, 1, (int64_t)kv_entry_charge(env, e));
		}
		kv_shard_write_end(sh);
	}
	w->nundo = 0;
}

/* Mark the entries the batch created from undo record `from` on, so that its
 * later items never evict them (a batch into a full namespace keeps its own
 * keys); commit clears the marks before the locks go. */
static void mark_new(kv_wctx *w, size_t from, bool on)
{
	kv_env *env = w->ns->env;
	for (size_t k = from; k < w->nundo; k++) {
		if (!w->undo[k].new_)
			continue;
		kv_entry *e = kv_ptr(env, w->undo[k].new_);
		if (on)
			atomic_fetch_or_explicit(&e->flags, (uint8_t)KV_E_BATCHNEW, memory_order_relaxed);
		else
			atomic_fetch_and_explicit(&e->flags, (uint8_t)~KV_E_BATCHNEW, memory_order_relaxed);
	}
}

static void commit_all(kv_wctx *w)
{
	kv_env *env = w->ns->env;
	mark_new(w, 0, false);
	for (size_t k = 0; k < w->nundo; k++)
		if (w->undo[k].old)
			kv_entry_retire_locked(env, w->undo[k].sh, kv_ptr(env, w->undo[k].old));
	w->nundo = 0;
}

/* Apply one item under the locks.  Returns its status. */
static int apply_item(kv_wctx *w, kv_op *o, uint64_t h, kv_buf *arena, size_t *arena_need)
{
	kv_shard *sh = kv_lockset_shard(&w->ref, w->ls, h);
	uint32_t h32 = kv_hash32(h), pos;
	kv_entry *e = kv_find_live_locked(w, sh, h32, o->key, o->klen, &pos);
	o->out_len = 0;
	o->out_off = arena ? arena->len : 0;
	o->out_type = KV_T_NONE;
	o->out_expires_at = 0;
	o->out_int = 0;
	switch (o->op) {
	case KV_OP_EXISTS:
		return e ? KV_OK : KV_NOTFOUND;
	case KV_OP_GET:
	case KV_OP_CONSUME:
		if (!e)
			return KV_NOTFOUND;
		if (kv_is_kind(e->type))
			return KV_EWRONGTYPE;
		if (arena->len + e->vlen + 1 > arena->cap) {
			*arena_need = arena->len + e->vlen + 1; /* never 0: it flags a retry */
			return KV_ENOMEM;
		}
		memcpy(arena->data + arena->len, kv_entry_key(e) + o->klen, e->vlen);
		o->out_len = e->vlen;
		o->out_type = e->type;
		o->out_expires_at = kv_entry_expiry(e);
		arena->len += e->vlen;
		arena->data[arena->len] = 0;
		if (o->op == KV_OP_CONSUME)
			kv_w_remove(w, sh, pos, e);
		return KV_OK;
	case KV_OP_DEL:
		if (!e)
			return KV_NOTFOUND;
		kv_w_remove(w, sh, pos, e);
		return KV_OK;
	case KV_OP_INCR:
		return kv_incr_locked(w, sh, h32, o->key, o->klen, e, pos, o->by, &o->out_int);
	case KV_OP_SET: {
		if (o->type < 0 || o->type > 255 || kv_is_kind(o->type) || (o->flags & ~(KV_SET_NX | KV_SET_XX)) ||
		    (o->flags & (KV_SET_NX | KV_SET_XX)) == (KV_SET_NX | KV_SET_XX) || (o->vlen && !o->val))
			return KV_EINVAL;
		if (o->vlen > KV_VALUE_SIZE_LIMIT)
			return KV_EVALSIZE;
		if (o->klen > atomic_load_explicit(&w->ref.slot->max_key_size, memory_order_relaxed))
			return KV_EKEYSIZE;
		if ((o->flags & KV_SET_NX) && e)
			return KV_EXISTS;
		if ((o->flags & KV_SET_XX) && !e)
			return KV_NOTFOUND;
		int64_t exp;
		bool del;
		int rc = kv_write_expiry(w, o->expires_at, e, &exp, &del);
		if (rc != KV_OK)
			return rc;
		if (del) {
			if (e)
				kv_w_remove(w, sh, pos, e);
			return KV_OK;
		}
		val_arg a = {o->val, o->vlen, 0};
		return kv_put_locked(w, sh, h32, o->key, o->klen, e, pos, o->vlen, o->type, exp,
		                     kv_fill_copy, &a);
	}
	}
	return KV_EINVAL;
}

/* Items ahead of the one being applied whose slot is prefetched (half as far:
 * whose entry is). */
#define KV_PF_AHEAD 16

static int batch_atomic(kv_ns *ns, kv_op *ops, size_t n, const uint64_t *h, kv_buf *arena,
                        kv_error *err)
{
	kv_env *env = ns->env;
	size_t cap = 3 * n + KV_MAX_VICTIMS;
	kv_undo *undo = kv_mem_realloc(env, NULL, cap * sizeof *undo);
	if (!undo)
		return KV_ENOMEM;
	kv_wctx *w = kv_mem_realloc(env, NULL, sizeof *w);
	if (!w) {
		kv_mem_realloc(env, undo, 0);
		return KV_ENOMEM;
	}
	kv_lockset *ls = kv_mem_realloc(env, NULL, sizeof *ls); /* large: not on the stack */
	kv_buf xv = KV_BUF_INIT; /* evicted keys past w's own buffer, for their hooks */
	if (!ls || kv_buf_reserve(env, &xv, env->hook ? 64 * n : 0) != KV_OK) {
		kv_mem_realloc(env, ls, 0);
		kv_mem_realloc(env, w, 0);
		kv_mem_realloc(env, undo, 0);
		return KV_ENOMEM;
	}
	int rc;
	size_t failed = (size_t)-1;
	for (;;) {
		kv_wctx_init(w, ns);
		w->undo = undo;
		w->capundo = cap;
		w->ls = ls;
		w->xv = &xv;
		w->grow = false;
		w->nevicted = 0;
		xv.len = 0;
		if ((rc = kv_ns_ref(ns, &w->ref)) != KV_OK)
			break;
		kv_lockset_init(ls);
		for (size_t i = 0; i < n; i++)
			kv_lockset_add(&w->ref, ls, h[i]);
		/* the first items' slots and entries are on their way while the locks are taken */
		for (size_t i = 0; i < n && i < KV_PF_AHEAD; i++)
			prefetch_slot(&w->ref, h[i]);
		for (size_t i = 0; i < n && i < KV_PF_AHEAD / 2; i++)
			prefetch_entry(&w->ref, h[i]);
		if (!kv_lockset_lock(&w->ref, ls))
			continue;
		rc = KV_OK;
		for (uint32_t k = 0; k < ls->nheld && rc == KV_OK; k++) {
			kv_shard *sh = kv_lockset_at(&w->ref, ls, k);
			if (sh->snap_pending)
				rc = kv_shard_reserve_preserve_locked(env, sh, (uint32_t)cap);
		}
		if (rc != KV_OK) {
			kv_lockset_unlock(&w->ref, ls);
			break;
		}
		kv_lockset_write(&w->ref, ls, true);
		if (arena)
			arena->len = 0;
		size_t need = 0, i;
		for (i = 0; i < n; i++) {
			size_t from = w->nundo;
			if (i + KV_PF_AHEAD < n) /* software pipeline: later items' misses overlap this one */
				prefetch_slot(&w->ref, h[i + KV_PF_AHEAD]);
			if (i + KV_PF_AHEAD / 2 < n)
				prefetch_entry(&w->ref, h[i + KV_PF_AHEAD / 2]);
			ops[i].status = apply_item(w, &ops[i], h[i], arena, &need);
			if (!is_outcome(ops[i].op, ops[i].status))
				break;
			mark_new(w, from, true);
		}
		if (i < n) {
			undo_all(w);
			kv_lockset_write(&w->ref, ls, false);
			kv_lockset_unlock(&w->ref, ls);
			w->nvictims = 0; /* nothing happened: no hooks */
			if (w->grow) { /* eviction ran out of log room: retry with twice as much */
				kv_undo *u2 = kv_mem_realloc(env, undo, 2 * cap * sizeof *undo);
				if (!u2 || kv_buf_reserve(env, &xv, 2 * xv.cap) != KV_OK) {
					if (u2)
						undo = u2;
					rc = KV_ENOMEM;
					failed = i;
					break;
				}
				undo = u2;
				cap *= 2;
				continue;
			}
			if (need) {
				if (kv_buf_reserve(env, arena, need) != KV_OK) {
					rc = KV_ENOMEM;
					failed = i;
					break;
				}
				continue;
			}
			rc = ops[i].status;
			failed = i;
			break;
		}
		kv_redo_commit(w);
		commit_all(w);
		atomic_fetch_add_explicit(&w->ref.slot->evicted, w->nevicted, memory_order_relaxed);
		kv_lockset_write(&w->ref, ls, false);
		kv_lockset_unlock(&w->ref, ls);
		kv_wctx_emit(w);
		for (size_t off = 0; off < xv.len;) {
			uint32_t kl;
			memcpy(&kl, xv.data + off, sizeof kl);
			kv_emit(env, ns, xv.data + off + sizeof kl, kl, KV_EV_EVICTED);
			off += sizeof kl + kl;
		}
		for (i = 0; i < n; i++) {
			int ev = ops[i].op == KV_OP_SET ? KV_EV_SET
			       : ops[i].op == KV_OP_INCR ? KV_EV_INCR
			       : (ops[i].op == KV_OP_DEL || ops[i].op == KV_OP_CONSUME) ? KV_EV_DEL : 0;
			if (ev && ops[i].status == KV_OK)
				kv_emit(env, ns, ops[i].key, ops[i].klen, ev);
		}
		break;
	}
	if (failed != (size_t)-1) {
		for (size_t i = 0; i < n; i++)
			ops[i].status = i == failed ? rc : KV_EABORTED;
		if (err) {
			err->code = rc;
			err->item = failed;
			batch_err_msg(err, failed, rc);
		}
	}
	kv_buf_free(env, &xv);
	kv_mem_realloc(env, ls, 0);
	kv_mem_realloc(env, w, 0);
	kv_mem_realloc(env, undo, 0);
	return rc;
}

KV_API int kv_batch(kv_ns *ns, kv_op *ops, size_t n, int mode, kv_buf *arena, kv_error *err)
{
	if (err) { /* not a memset of its 256-byte message: 40 instructions a batch */
		err->code = 0;
		err->sys_errno = 0;
		err->item = (size_t)-1;
		err->msg[0] = 0;
	}
	if ((mode != KV_BATCH_ALL_OR_NOTHING && mode != KV_BATCH_BEST_EFFORT) || (n && !ops))
		return KV_EINVAL;
	kv_env *env = ns->env;
	uint64_t hs[KV_RD_GROUP_MAX];
	rd_item its[KV_RD_GROUP_MAX];
	rd_shard gss[KV_RD_GROUP_MAX];
	if (n && n <= KV_RD_GROUP_MAX && arena && (ops[0].op == KV_OP_GET || ops[0].op == KV_OP_EXISTS) &&
	    read_fused(ns, ops, n, its, gss, arena) == KV_OK)
		return KV_OK;
	uint64_t *h = hs;
	rd_item *it = its;
	rd_shard *gs = gss;
	void *heap = NULL;
	if (n > KV_RD_GROUP_MAX) {
		heap = kv_mem_realloc(env, NULL, n * (sizeof *h + sizeof *it + sizeof *gs));
		if (!heap)
			return KV_ENOMEM;
		gs = heap;
		h = (uint64_t *)(gs + n);
		it = (rd_item *)(h + n);
	}
	/* one pass: arguments, which kinds of item, the longest key, the hashes
	 * (a key over the limit is hashed like any other: it matches nothing) */
	unsigned kinds = 0;
	size_t maxk = 0, big = (size_t)-1;
	size_t klens = 0; /* the OR of klen - 9: at most 7 if every key is 9..16 bytes */
	int rc = KV_EINVAL;
	for (size_t i = 0; i < n; i++) {
		kv_op *o = &ops[i];
		if ((unsigned)(o->op - KV_OP_GET) > KV_OP_INCR - KV_OP_GET)
			goto out;
		if (!o->key) { /* the empty key, passed as NULL */
			if (o->klen)
				goto out;
			o->key = "";
		}
		kinds |= 1u << o->op;
		maxk = o->klen > maxk ? o->klen : maxk;
		klens |= o->klen - 9;
		o->status = KV_EABORTED;
		h[i] = kv_hash(o->key, o->klen);
	}
	if (maxk > KV_KEY_SIZE_LIMIT)
		for (big = 0; ops[big].klen <= KV_KEY_SIZE_LIMIT; big++)
			;
	bool readonly = !(kinds & ~(1u << KV_OP_GET | 1u << KV_OP_EXISTS));
	if ((kinds & (1u << KV_OP_GET | 1u << KV_OP_CONSUME)) && !arena)
		goto out;
	if (arena)
		arena->len = 0;
	rc = KV_OK;
	if (n == 0)
		goto out;
	if (mode == KV_BATCH_BEST_EFFORT && !readonly) {
		rc = batch_best_effort(ns, ops, n, h, arena);
		goto out;
	}

	/* key sizes are checked up front: an all-or-nothing batch fails whole */
	if (big != (size_t)-1 && mode == KV_BATCH_ALL_OR_NOTHING) {
		for (size_t j = 0; j < n; j++)
			ops[j].status = j == big ? KV_EKEYSIZE : KV_EABORTED;
		if (err) {
			err->code = KV_EKEYSIZE;
			err->item = big;
			batch_err_msg(err, big, KV_EKEYSIZE);
		}
		rc = KV_EKEYSIZE;
		goto out;
	}

	rc = KV_EBUSY;
	if (readonly) {
		rc = batch_read(ns, ops, n, h, it, gs, arena, klens <= 7);
		if (rc == KV_OK && big != (size_t)-1)
			for (size_t i = big; i < n; i++)
				if (ops[i].klen > KV_KEY_SIZE_LIMIT)
					ops[i].status = KV_EKEYSIZE;
		if (rc == KV_ENOMEM) /* the arena could not grow: nothing was read */
			for (size_t i = 0; i < n; i++)
				ops[i].status = KV_EABORTED;
	}
	if (rc == KV_EBUSY)
		rc = batch_atomic(ns, ops, n, h, arena, err);
out:
	if (heap)
		kv_mem_realloc(env, heap, 0);
	return rc;
}
