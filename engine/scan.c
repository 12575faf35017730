/*
 * scan.c -- cursor scans with prefix and glob filters.
 *
 * HOW IT WORKS
 *   A cursor is (shard << 32 | h): every key of shards below `shard`, and every
 *   key of `shard` whose 31-bit slot hash is below h, has been returned.  Tables
 *   are indexed by the high bits of that 31-bit hash (shard.c), so the keys with hashes in
 *   [h, h') sit in the slots from home(h) to home(h') plus the cluster that runs on
 *   past it up to the next empty slot.  A step walks exactly that, and returns the
 *   keys whose hash lies in [h, h').
 *
 *   WHY NOTHING IS MISSED.  The cursor is a position in hash order, not in a
 *   table, so growing a table (which keeps hash order) cannot skip keys, and a
 *   backward shift on delete never moves a key before its home.  Raising the shard
 *   count moves keys only from a shard to a higher-numbered new one, and the scan
 *   visits shards in ascending order, so a moved key is either already returned or
 *   still ahead.  A key that moves from a shard already scanned into a new shard
 *   is returned twice; that is the only source of duplicates.
 */
#include "coll.h"

/* One lock hold walks at most KV_SCAN_HOLD_BUCKETS buckets and copies about
 * KV_SCAN_HOLD_BYTES (it ends early at a bucket boundary past that, after at
 * least one key); a larger count is honoured with more holds in the same step.
 * Values up to KV_SCAN_INLINE_VALUE bytes are copied under the lock; larger ones
 * are read afterwards with the optimistic reader, and only for keys that
 * passed the filters, which also run after the lock is released. */
#define KV_SCAN_HOLD_BUCKETS 256u
#define KV_SCAN_HOLD_BYTES   ((size_t)64 << 10)
#define KV_SCAN_INLINE_VALUE 512u

typedef struct scan_rec {
	uint32_t klen, vlen;   /* vlen: value bytes that follow the key here */
	uint32_t hv;           /* slot hash, to trim a hold that ended early */
	uint8_t  deferred;     /* value too large to copy under the lock: read later */
	uint8_t  skip;         /* outside the hold's final range */
	int      type;
	int64_t  exp;
} scan_rec;

static size_t rec_size(const scan_rec *r)
{
	return (sizeof *r + r->klen + r->vlen + 7) & ~(size_t)7;
}

static bool passes(const kv_scan_opts *o, const char *key, size_t klen)
{
	if (o->prefix_len && (klen < o->prefix_len || memcmp(key, o->prefix, o->prefix_len) != 0))
		return false;
	/* a MATCH of "*" alone is no filter, as Redis's KEYS * and SCAN: the empty
	 * key is listed, though kv_glob_match("*", "") is 0 as in Redis */
	if (!o->match || (o->match_len == 1 && o->match[0] == '*'))
		return true;
	return kv_glob_match(o->match, o->match_len, key, klen, 0);
}

KV_API int kv_scan(kv_ns *ns, uint64_t *cursor, const kv_scan_opts *opts, kv_scan_fn fn, void *ctx)
{
	kv_env *env = ns->env;
	kv_scan_opts none = {0};
	if (!opts)
		opts = &none;
	if (!cursor || !fn || (opts->prefix_len && !opts->prefix) || (opts->match_len && !opts->match) ||
	    (opts->kind && opts->kind != KV_SCAN_STRINGS && !kv_is_kind(opts->kind)))
		return KV_EINVAL;
	size_t count = opts->count ? opts->count : 10, walked = 0;
	uint32_t shard = (uint32_t)(*cursor >> 32);
	uint64_t h = (uint32_t)*cursor;
	kv_buf buf = KV_BUF_INIT, val = KV_BUF_INIT;
	if (kv_buf_reserve(env, &buf, 4096) != KV_OK)
		return KV_ENOMEM;
	int rc;
	uint64_t next;
	size_t used = 0;
	for (;;) { /* one lock hold per round */
		kv_nsref ref;
		if ((rc = kv_ns_ref(ns, &ref)) != KV_OK)
			goto out;
		uint32_t n = atomic_load(&ref.slot->nshards);
		if (shard >= n) {
			next = 0;
			break;
		}
		kv_shard *sh = kv_ns_shard(&ref, shard);
		if (!sh)
			continue;
		kv_spin_lock(&sh->lock);
		if (!kv_ns_ref_valid(&ref)) {
			kv_spin_unlock(&sh->lock);
			continue;
		}
		uint64_t b0 = 0, bcut = 1, cap = 1; /* an empty shard: done at once */
		uint32_t shift = 0;
		size_t need = used;
		if (sh->count != 0) {
			_Atomic uint64_t *s = kv_ptr(env, atomic_load_explicit(&sh->table, memory_order_relaxed));
			uint32_t mask = sh->mask;
			shift = sh->shift;
			cap = (uint64_t)mask + 1;
			b0 = h >> shift;
			size_t want = count - walked < KV_SCAN_HOLD_BUCKETS ? count - walked : KV_SCAN_HOLD_BUCKETS;
			bcut = b0 + want < cap ? b0 + want : cap;
			int64_t now = kv_now_ms();
			size_t copied = 0;
			/* the buckets [b0, bcut) and the cluster that runs on past them */
			for (uint64_t pos = b0; pos < b0 + cap; pos++) {
				uint64_t v = atomic_load_explicit(&s[pos & mask], memory_order_relaxed);
				if (!v) {
					if (pos >= bcut)
						break;
					continue;
				}
				uint32_t hv = (uint32_t)(v >> 32) & ~1u;
				if (hv < h || hv >= bcut << shift)
					continue;
				kv_entry *e = kv_ptr(env, (kv_off)v);
				int64_t exp = kv_entry_expiry(e);
				if (kv_expired(exp, now))
					continue;
				bool coll = kv_is_kind(e->type); /* no value bytes: the kind is the type */
				bool inl = opts->values && !coll && e->vlen <= KV_SCAN_INLINE_VALUE;
				scan_rec r = {e->klen, inl ? e->vlen : 0, hv, opts->values && !inl && !coll, 0, e->type, exp};
				size_t sz = rec_size(&r);
				if (need + sz <= buf.cap) {
					const char *key = kv_entry_key(e);
					memcpy(buf.data + need, &r, sizeof r);
					memcpy(buf.data + need + sizeof r, key, e->klen + r.vlen);
				}
				need += sz; /* past buf.cap: the hold is redone with a larger buffer */
				copied += sz;
				if (copied >= KV_SCAN_HOLD_BYTES && pos + 1 < bcut)
					bcut = pos + 1; /* enough for one hold: end at this bucket */
			}
		}
		kv_spin_unlock(&sh->lock);
		if (need > buf.cap) {
			if ((rc = kv_buf_reserve(env, &buf, need)) != KV_OK)
				goto out;
			continue;
		}
		/* a hold that ended early may have taken keys that wrapped round the
		 * table's end from beyond its final range: they belong to a later hold */
		if (bcut < cap) {
			uint64_t hend = bcut << shift;
			for (size_t off = used; off < need;) {
				scan_rec *r = (scan_rec *)(buf.data + off);
				if (r->hv >= hend)
					r->skip = 1;
				off += rec_size(r);
			}
		}
		used = need;
		if (shift) /* an empty shard costs nothing */
			walked += bcut - b0;
		if (bcut >= cap) { /* this shard is done (an empty one costs nothing) */
			shard++;
			h = 0;
		} else {
			h = bcut << shift;
		}
		next = shard < n ? (uint64_t)shard << 32 | h : 0;
		if (next == 0 || walked >= count)
			break;
		if (shift)
			kv_lock_pause(); /* another hold of a shard follows */
	}
	/* no lock is held from here: filter, fetch large values, call back */
	for (size_t off = 0; off < used; off += rec_size((scan_rec *)(buf.data + off))) {
		scan_rec *r = (scan_rec *)(buf.data + off);
		const char *k = buf.data + off + sizeof *r;
		if (r->skip || !passes(opts, k, r->klen))
			continue;
		if (opts->kind && (opts->kind == KV_SCAN_STRINGS ? kv_is_kind(r->type) : r->type != opts->kind))
			continue; /* SCAN TYPE */
		const char *v = opts->values && !kv_is_kind(r->type) ? k + r->klen : NULL;
		size_t vlen = r->vlen;
		int type = r->type;
		int64_t exp = r->exp;
		if (r->deferred) {
			rc = kv_get(ns, k, r->klen, &val);
			if (rc == KV_NOTFOUND || rc == KV_EWRONGTYPE)
				continue; /* removed (or replaced by a collection) since: it may not appear */
			if (rc != KV_OK)
				goto out;
			v = val.data;
			vlen = val.len;
			type = val.type;
			exp = val.expires_at;
		}
		int stop = fn(ctx, k, r->klen, v, vlen, type, exp);
		if (stop) {
			rc = stop;
			goto out;
		}
	}
	*cursor = next;
	rc = KV_OK;
out:
	kv_buf_free(env, &val);
	kv_buf_free(env, &buf);
	return rc;
}
