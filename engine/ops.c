/*
 * ops.c -- single-key operations.
 *
 * HOW IT WORKS
 *   Reads (get, exists, strlen, getrange, ttl) go through read_key(): an
 *   optimistic lookup under the shard's seq, retried if a writer interfered, and
 *   after many failed tries done under the shard lock so a busy key cannot starve
 *   a reader.  The value is copied into the caller's kv_buf; if it does not fit,
 *   the buffer is grown with no lock held and the read starts over.
 *
 *   Writes run in a write context (write.c): kv_write_begin locks the key's
 *   shard and finds its live entry, kv_put_locked stores the new value under
 *   the rules every write shares, kv_write_end unlocks and fires the hooks.  An
 *   op builds its new value through a fill callback that reads the old value in
 *   place, so APPEND, SETRANGE and INCR never copy it out first.  A new value
 *   over KV_LOCKED_COPY_MAX is built before the lock (write.c, kv_prebuild):
 *   each op says how in its plan (set_plan, mod_plan, retime_plan,
 *   rename_plan), and only links the result under the lock.
 *
 *   kv_get and kv_set route through the handle's view of its namespace
 *   (kv_internal.h, struct kv_ns), rebuilt when the namespace's gen moves.
 *
 *   kv_set's common cases skip the write context (set_fast): a small value
 *   with no TTL, flags or old value wanted, over a live string or a new key,
 *   when no snapshot, redo log, limit or table doubling is involved, is written
 *   in place or linked as a new entry right under the lock; anything else hands
 *   the held lock to the general path (set_slow, kv_write_resume).
 */
#include "coll.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define KV_READ_OPTIMISTIC_TRIES 64

/* Any 0..KV_KEY_SIZE_LIMIT bytes are a key; the empty key is a key, as in
 * Redis.  A caller may pass NULL for it, which then points at "" so that no
 * memcmp or hash ever sees a NULL pointer.  (The namespace's own
 * max_key_size is checked under the shard lock, where it is read.) */
static inline int check_key(const void **key, size_t klen)
{
	if (!*key) {
		if (klen)
			return KV_EINVAL;
		*key = "";
	}
	return klen > KV_KEY_SIZE_LIMIT ? KV_EKEYSIZE : KV_OK;
}

/* ================================================================= reads */
enum { RD_VALUE, RD_EXISTS, RD_LEN, RD_RANGE, RD_TTL };
enum { RD_OK = 0, RD_MISS, RD_EXPIRED, RD_NEEDBUF, RD_WRONGTYPE };

typedef struct rd_args {
	int     what;
	int64_t start, end;   /* RD_RANGE */
	kv_buf *out;          /* RD_VALUE, RD_RANGE */
	size_t  len;          /* RD_LEN */
	int64_t exp;          /* RD_TTL */
	size_t  need;         /* RD_NEEDBUF */
} rd_args;

/* Clamp Redis GETRANGE indexes to [from, to) of a value of length n. */
static void range_of(int64_t start, int64_t end, size_t n, size_t *from, size_t *to)
{
	int64_t len = (int64_t)n;
	if (start < 0)
		start += len;
	if (end < 0)
		end += len;
	if (start < 0)
		start = 0;
	if (end < 0)
		end = 0;
	if (end >= len)
		end = len - 1;
	if (len == 0 || start > end) {
		*from = *to = 0;
		return;
	}
	*from = (size_t)start;
	*to = (size_t)end + 1;
}

/* One read attempt.  Locked or not, the result is only trusted after validation. */
static KV_RACY int read_entry(const kv_nsref *ref, kv_shard *sh, uint32_t h32, const void *key,
                              size_t klen, rd_args *a, int64_t *now)
{
	_Atomic uint64_t *slot;
	uint64_t slotv;
	kv_env *env = ref->env;
	kv_entry *e = kv_shard_peek(env, sh, h32, key, klen, &slot, &slotv);
	if (!e)
		return RD_MISS;
	unsigned flags = atomic_load_explicit(&e->flags, memory_order_relaxed);
	size_t vlen = e->vlen, hdr = kv_entry_hdr(flags);
	if (!kv_in_region(env, kv_offof(env, e), hdr + klen + vlen))
		return RD_MISS;
	int64_t exp = 0;
	if (flags & KV_E_TTL) {
		memcpy(&exp, (char *)e + sizeof *e, 8);
		if (!*now)
			*now = kv_now_ms();
		if (exp <= *now)
			return RD_EXPIRED;
	}
	if (kv_is_kind(e->type) && (a->what == RD_VALUE || a->what == RD_RANGE || a->what == RD_LEN))
		return RD_WRONGTYPE; /* a string call on a collection */
	const char *val = (const char *)e + hdr + klen;
	switch (a->what) {
	case RD_EXISTS:
		break;
	case RD_LEN:
		a->len = vlen;
		break;
	case RD_TTL:
		a->exp = exp;
		break;
	case RD_VALUE:
	case RD_RANGE: {
		size_t from = 0, to = vlen;
		if (a->what == RD_RANGE)
			range_of(a->start, a->end, vlen, &from, &to);
		if (to - from + 1 > a->out->cap) {
			a->need = to - from;
			return RD_NEEDBUF;
		}
		kv_racy_copy(a->out->data, val + from, to - from);
		a->out->data[to - from] = 0;
		a->out->len = to - from;
		a->out->type = e->type;
		a->out->expires_at = exp;
		break;
	}
	}
	/* CLOCK reference bit for LRU namespaces: a CAS on the exact slot value we
	 * read, so it can only land on the slot that still holds this entry */
	if (!(slotv & KV_SLOT_REF)) {
		int pol = atomic_load_explicit(&ref->slot->eviction, memory_order_relaxed);
		if (pol == KV_EVICT_ALLKEYS_LRU || pol == KV_EVICT_VOLATILE_LRU)
			atomic_compare_exchange_strong_explicit(slot, &slotv, slotv | KV_SLOT_REF,
			                                        memory_order_relaxed, memory_order_relaxed);
	}
	return RD_OK;
}

static void reclaim_expired(kv_ns *ns, const void *key, size_t klen);

static int read_key(kv_ns *ns, const void *key, size_t klen, rd_args *a)
{
	int rc = check_key(&key, klen);
	if (rc != KV_OK)
		return rc;
	uint64_t h = kv_hash(key, klen);
	uint32_t h32 = kv_hash32(h);
	kv_nsref ref;
	int64_t now = 0;
	for (unsigned attempt = 0;; attempt++) {
		if ((rc = kv_ns_ref(ns, &ref)) != KV_OK)
			return rc;
		if (klen > atomic_load_explicit(&ref.slot->max_key_size, memory_order_relaxed))
			return KV_EKEYSIZE;
		kv_shard *sh;
		int r;
		if (attempt < KV_READ_OPTIMISTIC_TRIES) {
			uint32_t seq;
			sh = kv_ns_read_shard(&ref, h, &seq);
			if (!sh) {
				kv_cpu_relax();
				continue;
			}
			r = read_entry(&ref, sh, h32, key, klen, a, &now);
			if (!kv_shard_read_valid(sh, seq) || !kv_ns_ref_valid(&ref)) {
				kv_cpu_relax();
				continue;
			}
		} else {
			sh = kv_ns_lock_shard(&ref, h);
			if (!sh)
				continue;
			r = read_entry(&ref, sh, h32, key, klen, a, &now);
			kv_spin_unlock(&sh->lock);
		}
		switch (r) {
		case RD_NEEDBUF:
			if (kv_buf_reserve(ns->env, a->out, a->need) != KV_OK)
				return KV_ENOMEM;
			attempt = 0;
			continue;
		case RD_WRONGTYPE:
			if (a->out)
				a->out->len = 0, a->out->type = KV_T_NONE, a->out->expires_at = 0;
			return KV_EWRONGTYPE;
		case RD_EXPIRED:
			reclaim_expired(ns, key, klen);
			/* fall through */
		case RD_MISS:
			if (a->out)
				a->out->len = 0, a->out->type = KV_T_NONE, a->out->expires_at = 0;
			atomic_store_explicit(&sh->misses, atomic_load_explicit(&sh->misses, memory_order_relaxed) + 1, memory_order_relaxed);
			return KV_NOTFOUND;
		default:
			atomic_store_explicit(&sh->hits, atomic_load_explicit(&sh->hits, memory_order_relaxed) + 1, memory_order_relaxed);
			return KV_OK;
		}
	}
}

/*
 * The hot path of kv_get, kept short on purpose: a lookup that misses the cache
 * twice (slot, entry) is bound by memory latency, and the CPU overlaps the misses
 * of consecutive gets only if each get is few enough instructions to fit several
 * in its out-of-order window.  It handles the common case in one optimistic pass
 * (no resize in progress, the value fits the buffer, the entry is a live string)
 * and returns -1 for anything else; read_key() then does the general work.
 *
 * What keeps it short (instruction counts per step: bench/README.md):
 *   - the handle's view (kv_internal.h, struct kv_ns): one gen check, then
 *     the route table and the shard header straight from it, checked when the
 *     view was published, not per call;
 *   - every offset a gen can change is checked with one compare before it is
 *     touched, as the safe-optimistic-read argument requires, against limits
 *     the handle keeps (kv_ns.units, .elim): the slot array (its table, mask
 *     and shift share seq's cache line), then each candidate entry twice: its
 *     header and key against a limit computed once per call, its value once
 *     vlen is known;
 *   - a slot keeps 31 bits of the key's hash beside the entry's offset, so a
 *     miss is decided from the slot array alone, without touching an entry;
 *   - keys of 9..16 bytes have a copy of their own (get_word_key) that
 *     compares them as two words: no call in the probe;
 *   - values of up to 128 bytes are copied inline (kv_racy_copy_short): with
 *     no call, fewer values are spilled around it;
 *   - a collection (type tags KV_T_HASH..KV_T_LIST) is left to read_key,
 *     which answers KV_EWRONGTYPE: one byte of the header already read.
 * And what keeps it from waiting: the entry's second and third lines are
 * prefetched as soon as the slot names it, and the key's and value's
 * addresses follow its TTL flag by a branch, so no load waits for the header
 * line to learn where to read (two misses a get, as the reference's).
 */
/* get_fast checks the slot array as t + mask < size / KV_UNIT: a slot is one unit */
_Static_assert(KV_UNIT == sizeof(uint64_t), "a slot is one KV_UNIT");
KV_RACY_INLINE KV_ALWAYS_INLINE int get_fast(kv_ns *ns, uint64_t h, const void *key, size_t klen, kv_buf *out,
                                            bool word_key)
{
	char *base = ns->base;
	uint64_t k;
	kv_nsslot *sl;
	if (!view_get(ns, &k, &sl) || klen > atomic_load_explicit(&sl->max_key_size, memory_order_relaxed))
		return -1;
	uint32_t g = (uint32_t)k, si = view_route(ns, h);
	if (si >= view_n(ns))
		return -1;
	kv_shard *sh = view_at(ns, si);
	uint32_t seq = atomic_load_explicit(&sh->seq, memory_order_acquire);
	kv_off t = atomic_load_explicit(&sh->table, memory_order_relaxed);
	size_t mask = atomic_load_explicit(&sh->mask, memory_order_relaxed); /* 64-bit: no extension per slot */
	uint32_t shift = atomic_load_explicit(&sh->shift, memory_order_relaxed) & 31;
	/* the slot array in the region (t 0 is the region's header: readable) */
	if ((seq & 1) || (size_t)t + mask >= ns->units)
		return -1;
	_Atomic uint64_t *s = (_Atomic uint64_t *)(base + (size_t)t * KV_UNIT);
	/* one register for the array (gcc would otherwise re-add t for every slot) */
	__asm__("" : "+r"(s));
	/* kv_hash32(h) needs no clearing here: its bit 0 is shifted out of the
	 * home index (a table's shift is at least 1; a torn one only moves the
	 * start), and the tag compare skips that bit (KV_SLOT_REF) */
	size_t i = ((uint32_t)h >> shift) & mask, left = mask;
	const uint64_t H = h << 32;
	uint64_t sv;
	kv_entry *e;
	unsigned flags;
	const char *ek; /* e's key */
	size_t elim = ns->elim - klen, eoff;
	for (;;) {
		sv = atomic_load_explicit(&s[i], memory_order_relaxed);
		if (!sv)
			goto miss;
		if (!((sv ^ H) >> 33)) { /* kv_slot_is(sv, h32) */
			/* header, TTL word and key in the region (offset 0 is its header) */
			eoff = (size_t)(kv_off)sv * KV_UNIT;
			if (eoff > elim)
				return -1;
			e = (kv_entry *)(base + eoff);
			/* the entry's next lines now, not once its header has
			 * arrived and given the value's address: a third miss in a
			 * row otherwise (a 120-byte entry spans three lines 6 times
			 * in 8) */
			__builtin_prefetch((const char *)e + 64);
			__builtin_prefetch((const char *)e + 127);
			flags = atomic_load_explicit(&e->flags, memory_order_relaxed);
			ek = (const char *)e + sizeof(kv_entry);
			if (KV_UNLIKELY(flags & KV_E_TTL)) {
				__asm__("" : "+r"(ek)); /* a branch, not a data dependence on flags */
				ek += 8;
			}
			if (e->klen == klen &&
			    (word_key ? kv_key_word_eq(ek, key, klen) : kv_key_bytes_eq(ek, key, klen)))
				break;
		}
		if (!left--)
			goto miss;
		i = (i + 1) & mask;
	}
	size_t vlen = e->vlen;
	int type = e->type;
	/* and the value: eoff + 16 + klen + vlen <= size, one compare for both
	 * header sizes (an entry within 8 bytes of the region's end declines) */
	if (vlen >= out->cap || vlen > elim - eoff || kv_is_kind(type))
		return -1;
	int64_t exp = 0;
	if (KV_UNLIKELY(flags & KV_E_TTL)) {
		memcpy(&exp, (char *)e + sizeof *e, 8);
		if (exp <= kv_now_ms())
			return -1;
	}
	/* the outputs first: a decline below hands out to read_key, which sets
	 * them all again; fewer values are then live across the copy */
	char *d = out->data;
	d[vlen] = 0;
	out->len = vlen;
	out->type = type;
	out->expires_at = exp;
	kv_racy_copy_short(d, ek + klen, vlen);
	if (!kv_shard_read_valid(sh, seq) || atomic_load_explicit(&sl->gen, memory_order_relaxed) != g)
		return -1;
	if (KV_UNLIKELY(kv_evict_lru(atomic_load_explicit(&sl->eviction, memory_order_relaxed))) &&
	    !(sv & KV_SLOT_REF))
		atomic_compare_exchange_strong_explicit(&s[i], &sv, sv | KV_SLOT_REF, memory_order_relaxed,
		                                        memory_order_relaxed);
	kv_stat_inc(&sh->hits);
	return KV_OK;
miss:
	if (!kv_shard_read_valid(sh, seq) || atomic_load_explicit(&sl->gen, memory_order_relaxed) != g)
		return -1;
	out->len = 0;
	out->type = KV_T_NONE;
	out->expires_at = 0;
	kv_stat_inc(&sh->misses);
	return KV_NOTFOUND;
}

/* kv_get's general path, out of line: the fast path keeps its registers */
static __attribute__((noinline)) int get_slow(kv_ns *ns, const void *key, size_t klen, kv_buf *out)
{
	rd_args a = {.what = RD_VALUE, .out = out};
	if (!out->data && kv_buf_reserve(ns->env, out, 127) != KV_OK)
		return KV_ENOMEM;
	return read_key(ns, key, klen, &a);
}

/* get_fast for keys of 9..16 bytes (compared as two words) and for the rest
 * (by memcmp): the common short key's copy has no call in its probe, so its
 * values stay in registers; each hands a decline to get_slow as a tail call. */
static KV_RACY __attribute__((noinline)) int get_word_key(kv_ns *ns, const void *key, size_t klen, kv_buf *out)
{
	if (klen - 9 > 7)
		__builtin_unreachable(); /* kv_get's choice: kv_hash is XXH3's 9-16 byte branch inline */
	int rc = get_fast(ns, kv_hash(key, klen), key, klen, out, true);
	return rc != -1 ? rc : get_slow(ns, key, klen, out);
}
static KV_RACY __attribute__((noinline)) int get_any_key(kv_ns *ns, const void *key, size_t klen, kv_buf *out)
{
	int rc = get_fast(ns, kv_hash(key, klen), key, klen, out, false);
	return rc != -1 ? rc : get_slow(ns, key, klen, out);
}

KV_API int kv_get(kv_ns *ns, const void *key, size_t klen, kv_buf *out)
{
	if (KV_LIKELY(out->data && key)) {
		if (klen - 9 <= 7)
			return get_word_key(ns, key, klen, out);
		if (klen <= KV_KEY_SIZE_LIMIT)
			return get_any_key(ns, key, klen, out);
	}
	return get_slow(ns, key, klen, out);
}

KV_API int kv_exists(kv_ns *ns, const void *key, size_t klen)
{
	rd_args a = {.what = RD_EXISTS};
	return read_key(ns, key, klen, &a);
}

KV_API int kv_strlen(kv_ns *ns, const void *key, size_t klen, size_t *len)
{
	rd_args a = {.what = RD_LEN};
	int rc = read_key(ns, key, klen, &a);
	*len = rc == KV_OK ? a.len : 0;
	return rc;
}

KV_API int kv_getrange(kv_ns *ns, const void *key, size_t klen, int64_t start, int64_t end,
                       kv_buf *out)
{
	rd_args a = {.what = RD_RANGE, .start = start, .end = end, .out = out};
	if (!out->data && kv_buf_reserve(ns->env, out, 127) != KV_OK)
		return KV_ENOMEM;
	return read_key(ns, key, klen, &a);
}

KV_API int kv_ttl(kv_ns *ns, const void *key, size_t klen, int64_t *expires_at)
{
	rd_args a = {.what = RD_TTL};
	int rc = read_key(ns, key, klen, &a);
	*expires_at = rc == KV_OK ? a.exp : 0;
	return rc;
}

/* ================================================================ writes */
/* The write context (locking a key's shard, limits, eviction, copy-on-write,
 * accounting) is write.c's; what follows are the operations built on it. */

/* Copy an entry's value into a caller buffer that is known to be large enough. */
void kv_copy_out(kv_buf *b, kv_entry *e, size_t klen)
{
	memcpy(b->data, kv_entry_key(e) + klen, e->vlen);
	b->data[e->vlen] = 0;
	b->len = e->vlen;
	b->type = e->type;
	b->expires_at = kv_entry_expiry(e);
}

/* The old value a write hands back into b: already there if it was read
 * before the lock and is still e's (a big one, kv_preread), else copied now. */
static void old_out(kv_wctx *w, kv_shard *sh, kv_entry *e, size_t klen, kv_buf *b, const kv_pre *rd)
{
	if (!kv_preread_ok(w, sh, e, rd)) {
		kv_copy_out(b, e, klen);
		return;
	}
	b->data[e->vlen] = 0;
	b->len = e->vlen;
	b->type = e->type;
	b->expires_at = kv_entry_expiry(e);
}

static void buf_none(kv_buf *b)
{
	if (b) {
		b->len = 0;
		b->type = KV_T_NONE;
		b->expires_at = 0;
	}
}

/* A SET's new entry, built before the lock (write.c, kv_prebuild): the value
 * is the caller's; only the TTL word depends on the old entry (KEEP). */
typedef struct set_plan_arg {
	val_arg  v;
	int64_t  expires_at;
	int      force;  /* after KV_W_REBUILD: 1 + the TTL word the lock wanted */
} set_plan_arg;

static size_t set_plan(const void *arg, kv_seen *s, bool *ttl)
{
	const set_plan_arg *a = arg;
	if (a->force)
		*ttl = a->force == 2;
	else if (a->expires_at == KV_EXPIRE_KEEP)
		*ttl = s->ttl;
	else if (a->expires_at == KV_EXPIRE_DEFAULT)
		*ttl = s->def_ttl;
	else
		*ttl = a->expires_at != KV_EXPIRE_NEVER;
	return a->v.n;
}

/*
 * kv_set's fast path: the common SET of a value no larger than
 * KV_LOCKED_COPY_MAX over a live string of the same size class, with no TTL
 * before or after, no flags, no old value wanted, no snapshot pending, no redo
 * log, no resize running: the value is overwritten in place with no write
 * context, prebuild or eviction bookkeeping (nothing is allocated or charged).
 * What it does before the lock: resolve the handle, check the namespace's
 * limits, hash, route and check the shard header, and point the CPU at the
 * key's home slot; under the lock: the gen check, the probe, the copy and the
 * seq bumps (plain stores, kv_shard_write_begin).  KV_OK: done.  Anything else
 * (a new key, a TTL, a collection, another size class) changes nothing and
 * returns 1 with the shard still locked, for kv_write_resume (f says what was
 * found), or -1 with nothing held; kv_set then does the general work.
 */
typedef struct set_held {
	kv_nsref  ref;
	kv_shard *sh;
	uint64_t  h;
	uint32_t  pos;
	kv_entry *e;
	bool      found_ok; /* e (maybe NULL) is the live entry: it has no TTL */
} set_held;

/* The home slot of h in sh, fetched for the probe under the lock: a prefetch
 * never faults, so a stale table or shift only wastes it. */
KV_RACY_INLINE void set_prefetch(const kv_ns *ns, kv_shard *sh, uint64_t h)
{
	kv_off t = atomic_load_explicit(&sh->table, memory_order_relaxed);
	uint32_t shift = atomic_load_explicit(&sh->shift, memory_order_relaxed);
	__builtin_prefetch(ns->base + (size_t)t * KV_UNIT + (size_t)(kv_hash32(h) >> (shift & 31)) * 8, 0, 3);
}

/* set_fast's new entry, under sh's lock with no snapshot pending and no redo
 * log: a new key at the empty slot pos (old NULL), or old (a live string with
 * no TTL, in slot pos whose value is v) replaced by an entry of another size
 * class; charge: the bytes it adds to the namespace.  Only when no limit can
 * refuse or evict (no max_keys for a new key, no max_memory) and the table
 * needs no doubling; else false, nothing changed, and kv_set's general path
 * does it.  The entry is allocated and filled (a value <= KV_LOCKED_COPY_MAX)
 * before the write section, which only stores the slot: readers never see
 * the shard odd across the copy. */
static __attribute__((noinline)) bool set_link_locked(kv_env *env, kv_nsslot *sl, kv_shard *sh,
                                                      _Atomic uint64_t *s, uint32_t pos, uint64_t v,
                                                      kv_entry *old, int64_t charge, uint32_t h32,
                                                      const void *key, size_t klen, const void *val,
                                                      size_t vlen, int type)
{
	if (atomic_load_explicit(&sl->max_memory, memory_order_relaxed) ||
	    (!old && (atomic_load_explicit(&sl->max_keys, memory_order_relaxed) ||
	              (uint64_t)(sh->count + 1) * 5 >= ((uint64_t)sh->mask + 1) * 4)))
		return false;
	kv_entry *n = kv_entry_build(env, key, klen, vlen, type, 0);
	if (!n)
		return false; /* the general path reports the full region */
	memcpy(kv_entry_key(n) + klen, val, vlen);
	kv_off no = kv_offof(env, n);
	kv_shard_write_begin(sh);
	if (old) {
		kv_big_changed(sh, old);
		atomic_store_explicit(&s[pos], (v & 0xffffffff00000000ull) | no, memory_order_relaxed);
	} else {
		/* born referenced, as kv_shard_insert_locked does */
		atomic_store_explicit(&s[pos], (uint64_t)h32 << 32 | KV_SLOT_REF | no, memory_order_relaxed);
		sh->count++;
	}
	kv_shard_write_end(sh);
	if (old)
		kv_entry_free(env, old); /* nothing pending keeps a pre-image */
	kv_ns_charge(sl, sh, old ? 0 : 1, charge);
	return true;
}

static KV_ALWAYS_INLINE inline int set_fast(kv_ns *ns, const void *key, size_t klen, const void *val,
                                            size_t vlen, int type, int64_t expires_at, set_held *f)
{
	uint64_t h = kv_hash(key, klen); /* first: fewer values live across its call */
	kv_env *env = ns->env;
	uint64_t b;
	kv_nsslot *sl;
	if (!view_get(ns, &b, &sl) ||
	    klen > atomic_load_explicit(&sl->max_key_size, memory_order_relaxed) ||
	    vlen > atomic_load_explicit(&sl->max_value_size, memory_order_relaxed) ||
	    (expires_at == KV_EXPIRE_DEFAULT && atomic_load_explicit(&sl->default_ttl, memory_order_relaxed) > 0))
		return -1;
	/* a stale view's shard is still a header (a lock word): gen and owner
	 * are checked under the lock */
	uint32_t si = view_route(ns, h);
	if (si >= view_n(ns))
		return -1;
	kv_shard *sh = view_at(ns, si);
	set_prefetch(ns, sh, h);
	kv_spin_lock(&sh->lock);
	KV_FENCE(memory_order_acquire);
	if (atomic_load_explicit(&sl->gen, memory_order_relaxed) != (uint32_t)b ||
	    sh->owner != (uint32_t)(b >> 32) + 1) {
		kv_spin_unlock(&sh->lock);
		return -1;
	}
	/* held as kv_ns_lock_shard would have it: from here on, every way out
	 * but the in-place write hands it over */
	kv_entry *e = NULL;
	uint32_t i = 0;
	bool found_ok = false;
	/* a namespace with a redo log (read under the lock, as the log's own
	 * check is) takes the general path, which writes the record */
	if (sh->snap_pending || atomic_load_explicit(&sl->redo, memory_order_relaxed))
		goto handover;
	char *base = ns->base;
	_Atomic uint64_t *s = (_Atomic uint64_t *)(base + (size_t)atomic_load_explicit(&sh->table, memory_order_relaxed) * KV_UNIT);
	uint32_t mask = atomic_load_explicit(&sh->mask, memory_order_relaxed);
	uint32_t h32 = kv_hash32(h);
	uint64_t v;
	for (i = h32 >> atomic_load_explicit(&sh->shift, memory_order_relaxed);; i = (i + 1) & mask) {
		v = atomic_load_explicit(&s[i], memory_order_relaxed);
		if (!v) {
			e = NULL; /* a new key: pos i ends its probe */
			found_ok = true;
			if (!set_link_locked(env, sl, sh, s, i, 0, NULL, (int64_t)kv_alloc_size(kv_entry_size(klen, vlen, 0)),
			                     h32, key, klen, val, vlen, type))
				goto handover;
			goto done;
		}
		if (kv_slot_is(v, h32)) {
			e = (kv_entry *)(base + (size_t)(kv_off)v * KV_UNIT);
			/* the lines the value will be written to, fetched beside the
			 * header's (the key compare waits for that one) */
			__builtin_prefetch((char *)e + 64, 1, 3);
			__builtin_prefetch((char *)e + sizeof *e + klen + vlen - 1, 1, 3);
			if (kv_key_eq(e, key, klen))
				break;
		}
	}
	if (atomic_load_explicit(&e->flags, memory_order_relaxed) & KV_E_TTL) {
		e = NULL; /* looked up again, expiry and all */
		goto handover;
	}
	found_ok = true;
	if (kv_is_kind(e->type))
		goto handover;
	if (e->vlen != vlen) {
		size_t oc = kv_alloc_size(kv_entry_size(klen, e->vlen, 0));
		size_t nc = kv_alloc_size(kv_entry_size(klen, vlen, 0));
		if (oc != nc) {
			if (!set_link_locked(env, sl, sh, s, i, v, e, (int64_t)nc - (int64_t)oc, h32, key, klen, val,
			                     vlen, type))
				goto handover;
			goto done;
		}
	}
	/* the write section (kv_shard_write_begin/end; the depth is 0 here, as
	 * nothing else holds the lock) */
	kv_shard_seq_bump(sh, memory_order_relaxed);
	KV_FENCE(memory_order_release);
	kv_big_changed(sh, e);
	memcpy((char *)e + sizeof *e + klen, val, vlen);
	e->vlen = (uint32_t)vlen;
	e->type = (uint8_t)type;
	kv_shard_seq_bump(sh, memory_order_release);
	atomic_store_explicit(&sh->dirty, atomic_load_explicit(&sh->dirty, memory_order_relaxed) + 1,
	                      memory_order_relaxed);
done:
	kv_spin_unlock(&sh->lock);
	kv_emit(env, ns, key, klen, KV_EV_SET);
	return KV_OK;
handover:
	f->ref = (kv_nsref){env, sl, (uint32_t)b, (uint32_t)(b >> 32)};
	f->sh = sh;
	f->h = h;
	f->pos = i;
	f->e = e;
	f->found_ok = found_ok;
	return 1;
}

/* Tries of a write whose prebuilt entry the lock refused, before it copies
 * under the lock after all (a shard written all the time, see write.c). */
#define KV_PREBUILD_TRIES 4

/* kv_set's general path; held: the fast path's lock handed over, or NULL
 * (its arguments then passed kv_set's fast-path test, so every check below
 * holds and nothing returns with the lock held). */
static __attribute__((noinline)) int set_slow(kv_ns *ns, const void *key, size_t klen, const void *val,
                                              size_t vlen, int type, int64_t expires_at, unsigned flags,
                                              kv_buf *old, set_held *held)
{
	int rc = check_key(&key, klen);
	if (rc != KV_OK)
		return rc;
	if (type < 0 || type > 255 || kv_is_kind(type) || (flags & ~(KV_SET_NX | KV_SET_XX)) ||
	    (flags & (KV_SET_NX | KV_SET_XX)) == (KV_SET_NX | KV_SET_XX) || (vlen && !val) ||
	    kv_expiry_check(expires_at) != KV_OK)
		return KV_EINVAL;
	if (vlen > KV_VALUE_SIZE_LIMIT)
		return KV_EVALSIZE;
	set_plan_arg pa = {{val, vlen, 0}, expires_at, 0};
	for (int tries = 0;; tries++) {
		kv_wctx w;
		kv_shard *sh;
		uint32_t h32, pos;
		kv_entry *e;
		kv_pre pre, rd;
		pre.e = NULL; /* only e is read unless kv_prebuild filled it */
		rd.old = NULL;
		if (vlen > KV_LOCKED_COPY_MAX && tries < KV_PREBUILD_TRIES)
			kv_prebuild(ns, key, klen, set_plan, kv_fill_copy, &pa, &pre);
		if (old && tries < KV_PREBUILD_TRIES)
			kv_preread(ns, key, klen, old, &rd);
		if (held) { /* the fast path's lock, handed over (no prebuild: vlen is small) */
			sh = held->sh;
			pos = held->pos;
			rc = kv_write_resume(ns, &held->ref, sh, held->h, key, klen, held->found_ok, held->e, &w,
			                     &h32, &pos, &e);
			held = NULL;
		} else {
			rc = kv_write_begin(ns, key, klen, &w, &sh, &h32, &pos, &e);
		}
		if (rc != KV_OK) {
			kv_prebuild_take(&w, NULL, NULL, &pre); /* frees it */
			return rc;
		}
		kv_prebuild_take(&w, sh, e, &pre);
		if (klen > atomic_load_explicit(&w.ref.slot->max_key_size, memory_order_relaxed))
			return kv_write_end(&w, sh, key, klen, KV_EKEYSIZE, 0);
		if (old && e && kv_is_kind(e->type)) /* SET ... GET on a collection */
			return kv_write_end(&w, sh, key, klen, KV_EWRONGTYPE, 0);
		if (old && e && e->vlen + 1 > old->cap) {
			/* grow the caller's buffer with no lock held, then start over */
			size_t need = e->vlen;
			kv_write_end(&w, sh, key, klen, KV_OK, 0);
			if (kv_buf_reserve(ns->env, old, need) != KV_OK)
				return KV_ENOMEM;
			continue;
		}
		if (old && e)
			old_out(&w, sh, e, klen, old, &rd);
		else if (old)
			buf_none(old);
		if ((flags & KV_SET_NX) && e)
			rc = KV_EXISTS;
		else if ((flags & KV_SET_XX) && !e)
			rc = KV_NOTFOUND;
		else {
			int64_t exp;
			bool del;
			rc = kv_write_expiry(&w, expires_at, e, &exp, &del);
			if (rc == KV_OK && del) {
				if (e)
					kv_w_remove(&w, sh, pos, e);
			} else if (rc == KV_OK) {
				rc = kv_put_locked(&w, sh, h32, key, klen, e, pos, vlen, type, exp, kv_fill_copy, &pa.v);
			}
		}
		if (rc == KV_W_REBUILD) { /* the prebuilt entry had the wrong TTL word */
			pa.force = w.pre_ttl ? 2 : 1;
			kv_write_end(&w, sh, key, klen, rc, 0);
			continue;
		}
		return kv_write_end(&w, sh, key, klen, rc, KV_EV_SET);
	}
}

/* The fast path takes a plain SET of a small string (no flags, no old value
 * wanted, no TTL given): anything else, a NULL key or value included (the
 * general path validates them), goes to set_slow directly. */
KV_API int kv_set(kv_ns *ns, const void *key, size_t klen, const void *val, size_t vlen,
                  int type, int64_t expires_at, unsigned flags, kv_buf *old)
{
	set_held held;
	if (KV_LIKELY(!flags && !old && key && val && vlen <= KV_LOCKED_COPY_MAX &&
	              (unsigned)type <= 255 && !kv_is_kind(type) &&
	              (expires_at == KV_EXPIRE_NEVER || expires_at == KV_EXPIRE_DEFAULT))) {
		int rc = set_fast(ns, key, klen, val, vlen, type, expires_at, &held);
		if (rc == KV_OK)
			return KV_OK;
		/* no flags, no old buffer here: neither stays live across the fast path */
		return set_slow(ns, key, klen, val, vlen, type, expires_at, 0, NULL, rc > 0 ? &held : NULL);
	}
	return set_slow(ns, key, klen, val, vlen, type, expires_at, flags, old, NULL);
}

KV_API int kv_del(kv_ns *ns, const void *key, size_t klen)
{
	return kv_consume(ns, key, klen, NULL);
}

KV_API int kv_consume(kv_ns *ns, const void *key, size_t klen, kv_buf *out)
{
	int rc = check_key(&key, klen);
	if (rc != KV_OK)
		return rc;
	if (out && !out->data && kv_buf_reserve(ns->env, out, 127) != KV_OK)
		return KV_ENOMEM;
	for (int tries = 0;; tries++) {
		kv_wctx w;
		kv_shard *sh;
		uint32_t h32, pos;
		kv_entry *e;
		kv_pre rd;
		rd.old = NULL;
		if (out && tries < KV_PREBUILD_TRIES)
			kv_preread(ns, key, klen, out, &rd);
		if ((rc = kv_write_begin(ns, key, klen, &w, &sh, &h32, &pos, &e)) != KV_OK)
			return rc;
		if (e && out && kv_is_kind(e->type)) /* GETDEL on a collection */
			return kv_write_end(&w, sh, key, klen, KV_EWRONGTYPE, 0);
		if (e && out && e->vlen + 1 > out->cap) {
			size_t need = e->vlen;
			kv_write_end(&w, sh, key, klen, KV_OK, 0);
			if (kv_buf_reserve(ns->env, out, need) != KV_OK)
				return KV_ENOMEM;
			continue;
		}
		if (e) {
			if (out)
				old_out(&w, sh, e, klen, out, &rd);
			kv_w_remove(&w, sh, pos, e);
			rc = KV_OK;
		} else {
			buf_none(out);
			rc = KV_NOTFOUND;
		}
		return kv_write_end(&w, sh, key, klen, rc, KV_EV_DEL);
	}
}

/* ------------------------------------------------------------- numbers */
/* Parse a whole value as a signed 64-bit decimal, as Redis string2ll does. */
bool kv_parse_ll(const char *s, size_t n, int64_t *out)
{
	if (n == 0 || n > 20)
		return false;
	size_t i = 0;
	bool neg = false;
	if (s[0] == '-') {
		neg = true;
		i = 1;
		if (n == 1 || s[1] == '0') /* Redis refuses "-0" and "-01" */
			return false;
	}
	if (s[i] == '0' && n > i + 1)
		return false;
	uint64_t v = 0;
	for (; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	if (neg) {
		if (v > (uint64_t)INT64_MAX + 1)
			return false;
		*out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
	} else {
		if (v > (uint64_t)INT64_MAX)
			return false;
		*out = (int64_t)v;
	}
	return true;
}

static void fill_text(char *dst, size_t vlen, const char *old, size_t oldlen, const void *arg)
{
	(void)old;
	(void)oldlen;
	memcpy(dst, arg, vlen);
}

/* INCRBY under the key's shard lock (kv_incr and the batches' KV_OP_INCR):
 * a missing key counts as 0 and gets the default TTL, an existing one keeps its. */
int kv_incr_locked(kv_wctx *w, kv_shard *sh, uint32_t h32, const void *key, size_t klen,
                   kv_entry *e, uint32_t pos, int64_t by, int64_t *result)
{
	int rc = KV_OK;
	int64_t cur = 0, exp = 0;
	if (e && kv_is_kind(e->type)) {
		rc = KV_EWRONGTYPE;
	} else if (e) {
		if (!kv_parse_ll(kv_entry_key(e) + klen, e->vlen, &cur))
			rc = KV_ENOTINT;
		exp = kv_entry_expiry(e);
	} else {
		bool del;
		rc = kv_write_expiry(w, KV_EXPIRE_DEFAULT, NULL, &exp, &del);
	}
	if (rc == KV_OK && ((by > 0 && cur > INT64_MAX - by) || (by < 0 && cur < INT64_MIN - by)))
		rc = KV_EOVERFLOW;
	if (rc == KV_OK) {
		char txt[24];
		int n = snprintf(txt, sizeof txt, "%lld", (long long)(cur + by));
		rc = kv_put_locked(w, sh, h32, key, klen, e, pos, (size_t)n, KV_T_INT, exp, fill_text, txt);
		if (rc == KV_OK && result)
			*result = cur + by;
	}
	return rc;
}

KV_API int kv_incr(kv_ns *ns, const void *key, size_t klen, int64_t by, int64_t *result)
{
	int rc = check_key(&key, klen);
	if (rc != KV_OK)
		return rc;
	kv_wctx w;
	kv_shard *sh;
	uint32_t h32, pos;
	kv_entry *e;
	if ((rc = kv_write_begin(ns, key, klen, &w, &sh, &h32, &pos, &e)) != KV_OK)
		return rc;
	rc = kv_incr_locked(&w, sh, h32, key, klen, e, pos, by, result);
	return kv_write_end(&w, sh, key, klen, rc, KV_EV_INCR);
}

bool kv_parse_ld(const char *s, size_t n, long double *out)
{
	char tmp[64];
	if (n == 0 || n >= sizeof tmp || memchr(s, 0, n))
		return false;
	memcpy(tmp, s, n);
	tmp[n] = 0;
	if (tmp[0] == ' ' || tmp[0] == '\t' || tmp[0] == '\n' || tmp[n - 1] == ' ')
		return false;
	char *end;
	errno = 0;
	locale_t c = kv_c_locale(); /* "1.5" whatever the host's LC_NUMERIC */
	long double v = c ? strtold_l(tmp, &end, c) : strtold(tmp, &end);
	/* Redis's string2ld: "inf" is a number (the sum then fails as not
	 * finite), an overflow or an underflow to zero is not, NaN never is */
	if (*end || isnan(v) || (errno == ERANGE && (isinf(v) || v == 0)))
		return false;
	*out = v;
	return true;
}

KV_API int kv_incr_float(kv_ns *ns, const void *key, size_t klen, const char *by_text,
                         size_t bylen, double *result, kv_buf *result_text)
{
	int rc = check_key(&key, klen);
	if (rc != KV_OK)
		return rc;
	long double by;
	if (!by_text || !kv_parse_ld(by_text, bylen, &by))
		return KV_ENOTFLOAT;
	if (result_text && kv_buf_reserve(ns->env, result_text, KV_DOUBLE_BUFSZ) != KV_OK)
		return KV_ENOMEM;
	kv_wctx w;
	kv_shard *sh;
	uint32_t h32, pos;
	kv_entry *e;
	if ((rc = kv_write_begin(ns, key, klen, &w, &sh, &h32, &pos, &e)) != KV_OK)
		return rc;
	long double cur = 0;
	int64_t exp = 0;
	if (e && kv_is_kind(e->type)) {
		rc = KV_EWRONGTYPE;
	} else if (e) {
		if (!kv_parse_ld(kv_entry_key(e) + klen, e->vlen, &cur))
			rc = KV_ENOTFLOAT;
		exp = kv_entry_expiry(e);
	} else {
		bool del;
		rc = kv_write_expiry(&w, KV_EXPIRE_DEFAULT, NULL, &exp, &del);
	}
	/* Redis's arithmetic (long double), then the stored result is a double in
	 * its canonical text, so every value written here parses again */
	double v = (double)(cur + by);
	char txt[KV_DOUBLE_BUFSZ];
	size_t n = 0;
	if (rc == KV_OK && !isfinite(v))
		rc = KV_EOVERFLOW;
	if (rc == KV_OK)
		n = kv_fmt_double(v == 0 ? 0.0 : v, txt, sizeof txt); /* never "-0" */
	if (rc == KV_OK)
		rc = kv_put_locked(&w, sh, h32, key, klen, e, pos, n, KV_T_REAL, exp, fill_text, txt);
	if (rc == KV_OK && result)
		*result = v == 0 ? 0.0 : v;
	if (rc == KV_OK && result_text) { /* reserved above: no allocation here */
		memcpy(result_text->data, txt, n + 1);
		result_text->len = n;
		result_text->type = KV_T_REAL;
		result_text->expires_at = exp;
	}
	return kv_write_end(&w, sh, key, klen, rc, KV_EV_INCR);
}

/* ------------------------------------------------------- append, setrange */
static void fill_append(char *dst, size_t vlen, const char *old, size_t oldlen, const void *arg)
{
	const val_arg *a = arg;
	if (old && dst != old)
		memcpy(dst, old, oldlen);
	memcpy(dst + (vlen - a->n), a->p, a->n);
}

static void fill_setrange(char *dst, size_t vlen, const char *old, size_t oldlen, const void *arg)
{
	const val_arg *a = arg;
	(void)vlen;
	if (old && dst != old)
		memcpy(dst, old, oldlen);
	if (a->off > oldlen)
		memset(dst + oldlen, 0, a->off - oldlen);
	memcpy(dst + a->off, a->p, a->n);
}

/* The new length of an APPEND or SETRANGE of vlen bytes at offset. */
static size_t modify_len(bool append, size_t oldlen, size_t vlen, size_t offset)
{
	if (append)
		return oldlen + vlen;
	return vlen && offset + vlen > oldlen ? offset + vlen : oldlen;
}

typedef struct mod_plan_arg {
	val_arg v;
	size_t  klen;
	bool    append;
} mod_plan_arg;

/* Built before the lock (write.c, kv_prebuild) unless the update stays in the
 * old entry's size class: then only the new bytes are written, in place. */
static size_t mod_plan(const void *arg, kv_seen *s, bool *ttl)
{
	const mod_plan_arg *a = arg;
	if (!a->append && a->v.n == 0)
		return 0;
	size_t nl = modify_len(a->append, s->oldlen, a->v.n, a->v.off);
	*ttl = s->exists ? s->ttl : s->def_ttl;
	s->use_old = true;
	s->patch_off = a->append ? s->oldlen : a->v.off;
	s->patch_len = a->v.n;
	unsigned f = *ttl ? KV_E_TTL : 0;
	if (s->exists && !s->cow && nl <= KV_VALUE_SIZE_LIMIT &&
	    kv_alloc_size(kv_entry_size(a->klen, s->oldlen, f)) == kv_alloc_size(kv_entry_size(a->klen, nl, f)))
		return 0;
	return nl;
}

static int modify(kv_ns *ns, const void *key, size_t klen, const void *val, size_t vlen,
                  size_t offset, bool append, size_t *newlen)
{
	int rc = check_key(&key, klen);
	if (rc != KV_OK)
		return rc;
	if (vlen && !val)
		return KV_EINVAL;
	if (offset > KV_VALUE_SIZE_LIMIT || vlen > KV_VALUE_SIZE_LIMIT - offset)
		return KV_EVALSIZE;
	mod_plan_arg pa = {{val, vlen, offset}, klen, append};
	fill_fn fill = append ? fill_append : fill_setrange;
	for (int tries = 0;; tries++) {
		kv_wctx w;
		kv_shard *sh;
		uint32_t h32, pos;
		kv_entry *e;
		kv_pre pre;
		pre.e = NULL; /* only e is read unless kv_prebuild filled it */
		if (tries < KV_PREBUILD_TRIES)
			kv_prebuild(ns, key, klen, mod_plan, fill, &pa, &pre);
		if ((rc = kv_write_begin(ns, key, klen, &w, &sh, &h32, &pos, &e)) != KV_OK) {
			kv_prebuild_take(&w, NULL, NULL, &pre);
			return rc;
		}
		if (!kv_prebuild_take(&w, sh, e, &pre)) { /* the value changed since the read */
			kv_write_end(&w, sh, key, klen, KV_OK, 0);
			continue;
		}
		size_t oldlen = e ? e->vlen : 0;
		size_t nl = modify_len(append, oldlen, vlen, offset);
		int64_t exp = 0;
		bool del;
		int xrc = e ? KV_OK : kv_write_expiry(&w, KV_EXPIRE_DEFAULT, NULL, &exp, &del);
		if (e)
			exp = kv_entry_expiry(e);
		if (e && kv_is_kind(e->type)) {
			rc = KV_EWRONGTYPE;
			nl = 0;
		} else if (!append && vlen == 0) {
			/* SETRANGE with nothing to write changes nothing (and creates nothing) */
			rc = KV_OK;
			nl = oldlen;
		} else if (nl > KV_VALUE_SIZE_LIMIT ||
		           nl > atomic_load_explicit(&w.ref.slot->max_value_size, memory_order_relaxed)) {
			rc = KV_EVALSIZE;
		} else if (!e && klen > atomic_load_explicit(&w.ref.slot->max_key_size, memory_order_relaxed)) {
			rc = KV_EKEYSIZE;
		} else if (xrc != KV_OK) {
			rc = xrc;
		} else {
			w.redo_kind = KV_REDO_PATCH; /* a long value's record holds the new bytes only */
			w.redo_off = append ? oldlen : offset;
			w.redo_len = vlen;
			rc = kv_put_locked(&w, sh, h32, key, klen, e, pos, nl, e ? e->type : KV_T_BYTES, exp,
			                   fill, &pa.v);
		}
		if (rc == KV_W_REBUILD) { /* built for another length or TTL word */
			kv_write_end(&w, sh, key, klen, rc, 0);
			continue;
		}
		if (newlen)
			*newlen = rc == KV_OK ? nl : 0;
		return kv_write_end(&w, sh, key, klen, rc, append ? KV_EV_APPEND : vlen ? KV_EV_SET : 0);
	}
}

KV_API int kv_append(kv_ns *ns, const void *key, size_t klen, const void *val, size_t vlen,
                     size_t *newlen)
{
	return modify(ns, key, klen, val, vlen, 0, true, newlen);
}

KV_API int kv_setrange(kv_ns *ns, const void *key, size_t klen, size_t offset, const void *val,
                       size_t vlen, size_t *newlen)
{
	return modify(ns, key, klen, val, vlen, offset, false, newlen);
}

/* ---------------------------------------------------------------- expiry */
static void fill_same(char *dst, size_t vlen, const char *old, size_t oldlen, const void *arg)
{
	(void)arg;
	(void)oldlen;
	if (dst != old)
		memcpy(dst, old, vlen);
}

/* Set (exp > 0) or remove (exp == 0) the expiry of an existing entry. */
static int retime_locked(kv_wctx *w, kv_shard *sh, uint32_t h32, const void *key, size_t klen,
                         kv_entry *e, uint32_t pos, int64_t exp)
{
	unsigned f = atomic_load_explicit(&e->flags, memory_order_relaxed);
	if ((f & KV_E_TTL) && exp && !(sh->snap_pending && !(f & KV_E_SNAPNEW))) {
		kv_shard_write_begin(sh);
		memcpy((char *)e + sizeof *e, &exp, 8);
		kv_shard_write_end(sh);
		kv_ns_charge(w->ref.slot, sh, 0, 0);
		kv_redo_expire(w, e);
		return KV_OK;
	}
	w->redo_kind = KV_REDO_EXPIRE;
	return kv_put_locked(w, sh, h32, key, klen, e, pos, e->vlen, e->type, exp, fill_same, NULL);
}

/* A retime that adds or drops the TTL word (or meets a pending snapshot)
 * builds a new entry: before the lock, like a big APPEND's (write.c). */
static size_t retime_plan(const void *arg, kv_seen *s, bool *ttl)
{
	*ttl = *(const bool *)arg;
	s->use_old = true;
	return s->exists && (s->ttl != *ttl || s->cow) ? s->oldlen : 0;
}

/* kv_write_begin for a retime to ttl (a TTL word or none), with the entry built
 * before the lock when the retime rebuilds a big one.  KV_W_REBUILD (nothing
 * locked): the value changed meanwhile, call again. */
static int retime_begin(kv_ns *ns, const void *key, size_t klen, bool ttl, int tries, kv_wctx *w,
                        kv_shard **sh, uint32_t *h32, uint32_t *pos, kv_entry **e)
{
	kv_pre pre;
	pre.e = NULL;
	if (tries < KV_PREBUILD_TRIES)
		kv_prebuild(ns, key, klen, retime_plan, fill_same, &ttl, &pre);
	int rc = kv_write_begin(ns, key, klen, w, sh, h32, pos, e);
	if (rc != KV_OK) {
		kv_prebuild_take(w, NULL, NULL, &pre);
		return rc;
	}
	if (!kv_prebuild_take(w, *sh, *e, &pre)) {
		kv_write_end(w, *sh, key, klen, KV_OK, 0);
		return KV_W_REBUILD;
	}
	return KV_OK;
}

KV_API int kv_expire(kv_ns *ns, const void *key, size_t klen, int64_t expires_at, unsigned cond)
{
	int rc = check_key(&key, klen);
	if (rc != KV_OK)
		return rc;
	if ((cond & ~(KV_EXPIRE_NX | KV_EXPIRE_XX | KV_EXPIRE_GT | KV_EXPIRE_LT)) ||
	    ((cond & KV_EXPIRE_NX) && (cond & ~KV_EXPIRE_NX)) ||
	    ((cond & KV_EXPIRE_GT) && (cond & KV_EXPIRE_LT)) || expires_at > KV_EXPIRES_MAX)
		return KV_EINVAL;
	for (int tries = 0;; tries++) {
		kv_wctx w;
		kv_shard *sh;
		uint32_t h32, pos;
		kv_entry *e;
		if ((rc = retime_begin(ns, key, klen, true, tries, &w, &sh, &h32, &pos, &e)) == KV_W_REBUILD)
			continue;
		if (rc != KV_OK)
			return rc;
		int ev = KV_EV_EXPIRE;
		if (!e) {
			rc = KV_NOTFOUND;
		} else {
			int64_t cur = kv_entry_expiry(e);
			bool ok = true;
			if ((cond & KV_EXPIRE_NX) && cur)
				ok = false;
			if ((cond & KV_EXPIRE_XX) && !cur)
				ok = false;
			if ((cond & KV_EXPIRE_GT) && (!cur || expires_at <= cur))
				ok = false;
			if ((cond & KV_EXPIRE_LT) && cur && expires_at >= cur)
				ok = false;
			if (!ok) {
				rc = KV_UNCHANGED;
			} else if (expires_at <= kv_wctx_now(&w)) {
				kv_w_remove(&w, sh, pos, e);
				ev = KV_EV_DEL;
				rc = KV_OK;
			} else {
				rc = retime_locked(&w, sh, h32, key, klen, e, pos, expires_at);
			}
		}
		if (rc == KV_W_REBUILD) {
			kv_write_end(&w, sh, key, klen, rc, 0);
			continue;
		}
		return kv_write_end(&w, sh, key, klen, rc, ev);
	}
}

KV_API int kv_persist(kv_ns *ns, const void *key, size_t klen)
{
	int rc = check_key(&key, klen);
	if (rc != KV_OK)
		return rc;
	for (int tries = 0;; tries++) {
		kv_wctx w;
		kv_shard *sh;
		uint32_t h32, pos;
		kv_entry *e;
		if ((rc = retime_begin(ns, key, klen, false, tries, &w, &sh, &h32, &pos, &e)) == KV_W_REBUILD)
			continue;
		if (rc != KV_OK)
			return rc;
		if (!e)
			rc = KV_NOTFOUND;
		else if (!kv_entry_expiry(e))
			rc = KV_UNCHANGED;
		else
			rc = retime_locked(&w, sh, h32, key, klen, e, pos, 0);
		if (rc == KV_W_REBUILD) {
			kv_write_end(&w, sh, key, klen, rc, 0);
			continue;
		}
		return kv_write_end(&w, sh, key, klen, rc, KV_EV_EXPIRE);
	}
}

/* Remove key if its TTL has passed (a reader found it expired): finding it
 * live under the lock does exactly that. */
static void reclaim_expired(kv_ns *ns, const void *key, size_t klen)
{
	kv_wctx w;
	kv_shard *sh;
	uint32_t h32, pos;
	kv_entry *e;
	if (kv_write_begin(ns, key, klen, &w, &sh, &h32, &pos, &e) == KV_OK)
		kv_write_end(&w, sh, key, klen, KV_OK, 0);
}

/* ---------------------------------------------------------------- rename */
/* dst's new entry holds src's value: a big one is built before the locks. */
static size_t rename_plan(const void *arg, kv_seen *s, bool *ttl)
{
	(void)arg;
	*ttl = s->ttl;
	s->use_old = true;
	return s->exists ? s->oldlen : 0;
}

/* Under the locks of a rename's lockset: the rename itself.  pre: dst's entry
 * built before the locks (may be refused: KV_W_REBUILD, retry). */
static int rename_locked(kv_wctx *w, const kv_lockset *ls, kv_pre *pre, const void *src,
                         size_t srclen, uint64_t hs, const void *dst, size_t dstlen, uint64_t hd,
                         int nx, bool *same)
{
	kv_env *env = w->ns->env;
	kv_shard *ss = kv_lockset_shard(&w->ref, ls, hs), *sd = kv_lockset_shard(&w->ref, ls, hd);
	if ((ss->snap_pending && kv_shard_reserve_preserve_locked(env, ss, 2 + KV_MAX_VICTIMS) != KV_OK) ||
	    (sd->snap_pending && kv_shard_reserve_preserve_locked(env, sd, 2 + KV_MAX_VICTIMS) != KV_OK)) {
		kv_prebuild_take(w, NULL, NULL, pre);
		return KV_ENOMEM;
	}
	int rc;
	uint32_t ps, pd;
	kv_entry *es = kv_find_live_locked(w, ss, kv_hash32(hs), src, srclen, &ps);
	if (!kv_prebuild_take(w, ss, es, pre))
		return KV_W_REBUILD;
	*same = srclen == dstlen && memcmp(src, dst, srclen) == 0;
	if (!es) {
		rc = KV_NOTFOUND;
	} else if (*same) {
		rc = nx ? KV_EXISTS : KV_OK;
	} else if (dstlen > atomic_load_explicit(&w->ref.slot->max_key_size, memory_order_relaxed)) {
		rc = KV_EKEYSIZE;
	} else {
		kv_entry *ed = kv_find_live_locked(w, sd, kv_hash32(hd), dst, dstlen, &pd);
		if (ed && nx) {
			rc = KV_EXISTS;
		} else {
			/* write dst first (it may fail on limits), then drop src */
			es = kv_shard_find_locked(env, ss, kv_hash32(hs), src, srclen, &ps);
			val_arg a = {kv_entry_key(es) + srclen, es->vlen, 0};
			/* src goes away: the namespace's totals change only by the difference */
			w->credit_keys = 1;
			w->credit_bytes = (int64_t)kv_entry_charge(env, es);
			w->pin = es;
			if (kv_is_kind(es->type)) /* logged as one RENAME record (kv.h REDO LOG) */
				w->redo_rename = kv_chdr_of(env, es);
			rc = kv_put_locked(w, sd, kv_hash32(hd), dst, dstlen, ed, pd, es->vlen, es->type,
			                   kv_entry_expiry(es), kv_fill_copy, &a);
			if (rc == KV_OK) {
				es = kv_shard_find_locked(env, ss, kv_hash32(hs), src, srclen, &ps);
				kv_w_remove(w, ss, ps, es);
			}
		}
	}
	return rc;
}

KV_API int kv_rename(kv_ns *ns, const void *src, size_t srclen, const void *dst, size_t dstlen,
                     int nx)
{
	int rc = check_key(&src, srclen);
	if (rc == KV_OK)
		rc = check_key(&dst, dstlen);
	if (rc != KV_OK)
		return rc;
	uint64_t hs = kv_hash(src, srclen), hd = kv_hash(dst, dstlen);
	kv_lockset *ls = kv_mem_realloc(ns->env, NULL, sizeof *ls); /* large: not on the stack */
	if (!ls)
		return KV_ENOMEM;
	kv_wctx w;
	kv_pre pre;
	bool same = false;
	for (int tries = 0;; tries++) {
		kv_wctx_init(&w, ns);
		pre.e = NULL;
		if (tries < KV_PREBUILD_TRIES)
			kv_prebuild_from(ns, src, srclen, dst, dstlen, rename_plan, fill_same, NULL, &pre);
		rc = kv_lockset_lock_hashes(ns, &w.ref, ls, (uint64_t[]){hs, hd}, 2);
		if (rc != KV_OK) {
			kv_prebuild_take(&w, NULL, NULL, &pre);
			break;
		}
		kv_lockset_write(&w.ref, ls, true);
		rc = rename_locked(&w, ls, &pre, src, srclen, hs, dst, dstlen, hd, nx, &same);
		kv_lockset_write(&w.ref, ls, false);
		kv_lockset_unlock(&w.ref, ls);
		kv_wctx_drop_pre(&w);
		kv_wctx_emit(&w);
		if (rc != KV_W_REBUILD)
			break;
	}
	kv_mem_realloc(ns->env, ls, 0);
	if (rc == KV_OK && !same) {
		kv_emit(ns->env, ns, src, srclen, KV_EV_RENAME_FROM);
		kv_emit(ns->env, ns, dst, dstlen, KV_EV_RENAME_TO);
	}
	return rc;
}

/* ------------------------------------------------------------ random key */
/*
 * A key at random, holding a shard lock for a bounded window at a time:
 *   1. a shard, weighted by its key count (read without locks: a hint), so
 *      that shards of unequal sizes do not favour the keys of small ones;
 *   2. in it, up to RK_PROBES slots at random under one hold: the first that
 *      holds a live key wins.  Every slot is equally likely, so every key of
 *      the shard is: the pick is uniform.  A table is kept between 40% and
 *      80% full as it grows, so the probes nearly always hit;
 *   3. a table left sparse (tables do not shrink after deletes) or full of
 *      expired keys may miss every probe: the shard is then walked from a
 *      random point, RK_WINDOW slots per hold (the position is a hash value,
 *      as scan.c keeps it, so a table that doubles between holds is fine), and
 *      the first live key found wins.  That pick favours keys after long empty
 *      runs, as Redis's fallback over sparse buckets does;
 *   4. a shard with no live key sends the search to the next shard.
 * KV_NOTFOUND once every shard was walked without a live key.
 */
#define RK_PROBES 32u
#define RK_WINDOW 1024u

static uint64_t rk_next(uint64_t *r)
{
	uint64_t x = *r;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *r = x;
}

/* Under the lock: take the key of slot value v if its entry is live.  1 taken,
 * 0 not, -1 key needs *need bytes (grown with no lock held, then retried). */
static int rk_take(kv_env *env, uint64_t v, int64_t now, kv_buf *key, size_t *need)
{
	if (!v)
		return 0;
	kv_entry *e = kv_ptr(env, (kv_off)v);
	if (kv_expired(kv_entry_expiry(e), now))
		return 0;
	if ((size_t)e->klen + 1 > key->cap) {
		*need = e->klen;
		return -1;
	}
	memcpy(key->data, kv_entry_key(e), e->klen);
	key->data[e->klen] = 0;
	key->len = e->klen;
	key->type = KV_T_BYTES;
	key->expires_at = 0;
	return 1;
}

/* Steps 2 and 3 in one shard.  Returns rk_take's codes, or -2: the namespace
 * changed under us (start over). */
static int rk_shard(const kv_nsref *ref, kv_shard *sh, uint64_t *r, kv_buf *key, size_t *need)
{
	kv_env *env = ref->env;
	int64_t now = kv_now_ms();
	uint64_t pos = (uint32_t)rk_next(r), covered = 0;
	for (bool first = true;; first = false) {
		kv_spin_lock(&sh->lock);
		if (!kv_ns_ref_valid(ref) || sh->owner != ref->slot_index + 1) {
			kv_spin_unlock(&sh->lock);
			return -2;
		}
		if (sh->count == 0) {
			kv_spin_unlock(&sh->lock);
			return 0;
		}
		_Atomic uint64_t *s = kv_ptr(env, atomic_load_explicit(&sh->table, memory_order_relaxed));
		uint32_t mask = sh->mask, shift = sh->shift;
		int res = 0;
		for (uint32_t p = 0; first && p < RK_PROBES && !res; p++)
			res = rk_take(env, atomic_load_explicit(&s[(rk_next(r) >> 32) & mask], memory_order_relaxed),
			              now, key, need);
		uint32_t i = (uint32_t)(pos >> shift), w = 0;
		for (; !res && w < RK_WINDOW && w <= mask; w++)
			res = rk_take(env, atomic_load_explicit(&s[(i + w) & mask], memory_order_relaxed), now, key,
			              need);
		kv_spin_unlock(&sh->lock);
		if (res)
			return res;
		pos = (((uint64_t)i + w) << shift) & 0xffffffffu;
		covered += (uint64_t)w << shift;
		if (covered >= (uint64_t)1 << 32)
			return 0; /* walked it all: only expired keys */
		kv_lock_pause();
	}
}

/* Step 1: the first shard to look in, weighted by the shards' key counts. */
static KV_RACY uint32_t rk_first_shard(const kv_nsref *ref, uint32_t n, uint64_t r)
{
	uint64_t total = 0;
	for (uint32_t k = 0; k < n; k++) {
		kv_shard *sh = kv_shard_fast(ref, k, n);
		total += sh ? sh->count : 0;
	}
	if (total == 0)
		return (uint32_t)(r % n);
	uint64_t x = r % total;
	for (uint32_t k = 0; k < n; k++) {
		kv_shard *sh = kv_shard_fast(ref, k, n);
		uint32_t c = sh ? sh->count : 0;
		if (x < c)
			return k;
		x -= c;
	}
	return 0; /* the counts moved meanwhile */
}

KV_API int kv_random_key(kv_ns *ns, kv_buf *key)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t r = ((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec) * 0x9e3779b97f4a7c15ull;
	r ^= (uint64_t)(uintptr_t)key;
	r |= 1; /* xorshift never leaves 0 */
	size_t need = 127;
	for (;;) {
		if (need && kv_buf_reserve(ns->env, key, need) != KV_OK)
			return KV_ENOMEM;
		need = 0;
		kv_nsref ref;
		int rc = kv_ns_ref(ns, &ref);
		if (rc != KV_OK)
			return rc;
		uint32_t n = atomic_load_explicit(&ref.slot->nshards, memory_order_relaxed);
		if (n == 0)
			return KV_ENONS;
		uint32_t first = rk_first_shard(&ref, n, rk_next(&r));
		int res = 0;
		for (uint32_t k = 0; k < n && res == 0; k++) {
			kv_shard *sh = kv_ns_shard(&ref, (first + k) % n);
			if (!sh && kv_ns_ref_valid(&ref))
				return KV_ENONS;
			res = sh ? rk_shard(&ref, sh, &r, key, &need) : -2;
		}
		if (res == 1)
			return KV_OK;
		if (res == 0) {
			buf_none(key);
			return KV_NOTFOUND;
		}
		/* -1: need is set; -2: the namespace changed, resolve it again */
	}
}
