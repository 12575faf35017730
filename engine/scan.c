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
#include "kv_internal.h"

typedef struct scan_rec {
	uint32_t klen, vlen;
	int      type;
	int64_t  exp;
} scan_rec;

KV_API int kv_scan(kv_ns *ns, uint64_t *cursor, const kv_scan_opts *opts, kv_scan_fn fn, void *ctx)
{
	kv_env *env = ns->env;
	kv_scan_opts none = {0};
	if (!opts)
		opts = &none;
	if (!cursor || !fn || (opts->prefix_len && !opts->prefix) || (opts->match_len && !opts->match))
		return KV_EINVAL;
	size_t count = opts->count ? opts->count : 10;
	uint32_t shard = (uint32_t)(*cursor >> 32);
	uint64_t h = (uint32_t)*cursor;
	kv_buf buf = KV_BUF_INIT;
	if (kv_buf_reserve(env, &buf, 4096) != KV_OK)
		return KV_ENOMEM;
	int rc;
	uint64_t next;
	size_t nrec;
	for (;;) {
		kv_nsref ref;
		if ((rc = kv_ns_ref(ns, &ref)) != KV_OK)
			goto out;
		uint32_t n = atomic_load(&ref.slot->nshards);
		if (shard >= n) {
			*cursor = 0;
			goto out;
		}
		kv_shard *sh = kv_ns_shard(&ref, shard);
		if (!sh)
			continue;
		kv_spin_lock(&sh->lock);
		if (!kv_ns_ref_valid(&ref)) {
			kv_spin_unlock(&sh->lock);
			continue;
		}
		if (sh->count == 0) { /* nothing here: on to the next shard in the same step */
			kv_spin_unlock(&sh->lock);
			shard++;
			h = 0;
			continue;
		}
		_Atomic uint64_t *s = kv_ptr(env, atomic_load_explicit(&sh->table, memory_order_relaxed));
		uint32_t mask = sh->mask, shift = sh->shift, cap = mask + 1;
		uint64_t b0 = h >> shift, b1 = b0 + count;
		if (b1 > cap)
			b1 = cap;
		uint64_t hend = b1 << shift;
		int64_t now = kv_now_ms();
		size_t used = 0, need = 0;
		nrec = 0;
		for (uint64_t k = 0; k < cap; k++) {
			uint32_t i = (uint32_t)((b0 + k) & mask);
			uint64_t v = atomic_load_explicit(&s[i], memory_order_relaxed);
			if (!v) {
				if (b0 + k >= b1)
					break;
				continue;
			}
			uint32_t hv = (uint32_t)(v >> 32) & ~1u;
			if (hv < h || hv >= hend)
				continue;
			kv_entry *e = kv_ptr(env, (kv_off)v);
			int64_t exp = kv_entry_expiry(e);
			if (kv_expired(exp, now))
				continue;
			const char *key = kv_entry_key(e);
			if (opts->prefix_len && (e->klen < opts->prefix_len ||
			                         memcmp(key, opts->prefix, opts->prefix_len) != 0))
				continue;
			if (opts->match && !kv_glob_match(opts->match, opts->match_len, key, e->klen, 0))
				continue;
			size_t vl = opts->values ? e->vlen : 0;
			size_t sz = sizeof(scan_rec) + e->klen + vl;
			sz = (sz + 7) & ~(size_t)7;
			need += sz;
			if (used + sz > buf.cap)
				continue; /* counted in need; the step is redone with a larger buffer */
			scan_rec *r = (scan_rec *)(buf.data + used);
			r->klen = e->klen;
			r->vlen = (uint32_t)vl;
			r->type = e->type;
			r->exp = exp;
			memcpy(buf.data + used + sizeof *r, key, e->klen);
			if (vl)
				memcpy(buf.data + used + sizeof *r + e->klen, key + e->klen, vl);
			used += sz;
			nrec++;
		}
		kv_spin_unlock(&sh->lock);
		if (need > buf.cap) {
			if ((rc = kv_buf_reserve(env, &buf, need)) != KV_OK)
				goto out;
			continue;
		}
		next = b1 >= cap ? (uint64_t)(shard + 1) << 32 : ((uint64_t)shard << 32 | hend);
		if (b1 >= cap && shard + 1 >= n)
			next = 0;
		break;
	}
	for (size_t i = 0, off = 0; i < nrec; i++) {
		scan_rec *r = (scan_rec *)(buf.data + off);
		const char *k = buf.data + off + sizeof *r;
		int stop = fn(ctx, k, r->klen, opts->values ? k + r->klen : NULL, r->vlen, r->type, r->exp);
		if (stop) {
			rc = stop;
			goto out;
		}
		off += (sizeof *r + r->klen + r->vlen + 7) & ~(size_t)7;
	}
	*cursor = next;
	rc = KV_OK;
out:
	kv_buf_free(env, &buf);
	return rc;
}
