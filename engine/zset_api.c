/*
 * zset_api.c -- Redis sorted sets (kv.h "sorted sets") over zset.c.  Every
 * call follows coll.h's protocol: open (lock, kind check), mutate
 * (copy-on-write for a running save), change, close (charge, delete when
 * empty, unlock, events).
 *
 * WHAT EACH CALL HOLDS
 *   - ZADD, ZINCRBY, ZREM, ZSCORE, ZMSCORE, ZRANK, ZCOUNT: the key's shard
 *     lock for O(log n) per member named (ZMSCORE's result is sized before).
 *   - ZRANGE, ZRANDMEMBER and the algebra's sources are read PINNED (coll.h 4):
 *     the range's ranks are found under the lock in O(log n), then the
 *     elements are copied with no lock while writers of that key wait.
 *   - ZREMRANGE* and ZPOP remove at most KV_COLL_HOLD elements per hold (64
 *     while a save's view is frozen: each removal may copy a path).  A rank
 *     range is fixed at the first hold; a score or lex range is found again in
 *     each.  So a removal of more than one hold is not atomic: writes of other
 *     clients may land between holds (KNOWN, documented in kv.h).  ZPOP copies
 *     its elements into the caller's buffer under the lock only when the
 *     buffer already has room (grown before, with no lock).
 *   - STORE forms build the result as a private header with no lock, then
 *     replace the destination in one short hold (kv_coll_replace).
 */
#include "zset.h"

#include <math.h>

static int check_elem(kv_ns *ns, const kv_val *v)
{
	if (!v->data && v->len)
		return KV_EINVAL;
	kv_nsref ref;
	int rc = kv_ns_ref(ns, &ref);
	if (rc != KV_OK)
		return rc;
	return v->len > atomic_load_explicit(&ref.slot->max_value_size, memory_order_relaxed)
	               ? KV_EVALSIZE : KV_OK;
}

static const void *ptr_or_empty(const void *p)
{
	return p ? p : "";
}

/* Room in out for n more elements of `bytes` bytes, so that pushing them
 * under a lock allocates nothing. */
static int elems_reserve(kv_env *env, kv_elems *out, size_t n, size_t bytes)
{
	if (out->cap < out->n + n) {
		kv_elem *v = kv_mem_realloc(env, out->v, (out->n + n) * sizeof *v);
		if (!v)
			return KV_ENOMEM;
		out->v = v;
		out->cap = out->n + n;
	}
	return kv_buf_reserve(env, &out->bytes, out->bytes.len + bytes + 1);
}

/* Pin key's zset for a lock-free read: *h NULL if missing. */
static int pin_zset(kv_ns *ns, const void *key, size_t klen, kv_chdr **h)
{
	kv_cop op;
	*h = NULL;
	int rc = kv_coll_open(ns, key, klen, KV_T_ZSET, KV_COPEN_PIN, &op);
	if (rc != KV_OK)
		return rc;
	if (op.h) {
		*h = op.h;
		kv_coll_pin(&op);
	}
	return kv_coll_close(&op, KV_OK, 0);
}

static bool frozen(const kv_chdr *h)
{
	return atomic_load_explicit(&((kv_chdr *)h)->view.state, memory_order_relaxed) == KV_VIEW_FROZEN;
}

/* ------------------------------------------------------------- writes */
KV_API int kv_zadd(kv_ns *ns, const void *key, size_t klen, const kv_zmember *m, size_t n,
                   unsigned flags, uint64_t *count, double *incr_result)
{
	if (count)
		*count = 0;
	const unsigned known = KV_ZADD_NX | KV_ZADD_XX | KV_ZADD_GT | KV_ZADD_LT | KV_ZADD_CH | KV_ZADD_INCR;
	if (n == 0 || !m || (flags & ~known) ||
	    ((flags & KV_ZADD_NX) && (flags & (KV_ZADD_XX | KV_ZADD_GT | KV_ZADD_LT))) ||
	    ((flags & KV_ZADD_GT) && (flags & KV_ZADD_LT)) || ((flags & KV_ZADD_INCR) && n != 1))
		return KV_EINVAL;
	int64_t more = 0;
	for (size_t i = 0; i < n; i++) {
		if (isnan(m[i].score))
			return KV_ENOTFLOAT;
		int rc = check_elem(ns, &m[i].member);
		if (rc != KV_OK)
			return rc;
		more += (int64_t)m[i].member.len + 48;
	}
	kv_env *env = ns->env;
	kv_cop op;
	int rc = kv_coll_open(ns, key, klen, KV_T_ZSET, KV_COPEN_WRITE, &op);
	if (rc != KV_OK)
		return rc;
	if (!op.h) {
		if (flags & KV_ZADD_XX)
			return kv_coll_close(&op, (flags & KV_ZADD_INCR) ? KV_UNCHANGED : KV_OK, 0);
		rc = kv_coll_create(&op, KV_ENC_LISTPACK);
		/* Redis 7.0 picks the encoding from the first member's length */
		if (rc == KV_OK)
			rc = zs_init(env, op.h, 0, m[0].member.len);
	}
	if (rc == KV_OK)
		rc = kv_coll_reserve(&op, more);
	uint64_t added = 0, updated = 0;
	int out = 0;
	double ns_ = 0;
	for (size_t i = 0; i < n && rc == KV_OK; i++) {
		rc = kv_coll_mutate(&op, ZS_RELEASES(op.h));
		if (rc == KV_OK)
			rc = zs_add(env, op.h, m[i].score, ptr_or_empty(m[i].member.data), m[i].member.len,
			            flags, &out, &ns_);
		if (rc == KV_OK) {
			added += (out & ZS_OUT_ADDED) != 0;
			updated += (out & ZS_OUT_UPDATED) != 0;
			if (out & (ZS_OUT_ADDED | ZS_OUT_UPDATED)) {
				op.changed = true;
				/* the resulting score: ZINCRBY's record holds the new score only */
				kv_redo_elem(&op, KV_REDO_ELEM, ptr_or_empty(m[i].member.data), m[i].member.len, NULL, 0,
				             ns_);
			}
		}
	}
	if (rc == KV_OK && (flags & KV_ZADD_INCR)) {
		if (out == ZS_OUT_NOP)
			rc = KV_UNCHANGED;
		else if (incr_result)
			*incr_result = ns_;
	}
	if (count)
		*count = added + ((flags & KV_ZADD_CH) ? updated : 0);
	return kv_coll_close(&op, rc, (flags & KV_ZADD_INCR) ? KV_EV_ZINCR : KV_EV_ZADD);
}

KV_API int kv_zincr(kv_ns *ns, const void *key, size_t klen, const void *m, size_t mlen,
                    double by, double *result)
{
	kv_zmember zm = {by, {mlen, m}};
	return kv_zadd(ns, key, klen, &zm, 1, KV_ZADD_INCR, NULL, result);
}

KV_API int kv_zrem(kv_ns *ns, const void *key, size_t klen, const kv_val *m, size_t n,
                   uint64_t *removed)
{
	if (removed)
		*removed = 0;
	if (n == 0 || !m)
		return KV_EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!m[i].data && m[i].len)
			return KV_EINVAL;
	kv_env *env = ns->env;
	kv_cop op;
	int rc = kv_coll_open(ns, key, klen, KV_T_ZSET, KV_COPEN_WRITE, &op);
	if (rc != KV_OK)
		return rc;
	if (!op.h)
		return kv_coll_close(&op, KV_OK, 0);
	uint64_t k = 0;
	for (size_t i = 0; i < n && rc == KV_OK && op.h->card; i++) {
		rc = kv_coll_mutate(&op, ZS_RELEASES(op.h));
		if (rc == KV_OK)
			rc = zs_del(env, op.h, ptr_or_empty(m[i].data), m[i].len, NULL);
		if (rc == KV_OK) {
			k++;
			op.changed = true;
			kv_redo_elem(&op, KV_REDO_ELDEL, ptr_or_empty(m[i].data), m[i].len, NULL, 0, 0);
		} else if (rc == KV_NOTFOUND) {
			rc = KV_OK;
		}
	}
	if (removed)
		*removed = k;
	return kv_coll_close(&op, rc, KV_EV_ZREM);
}

/* -------------------------------------------------------- point reads */
KV_API int kv_zscore(kv_ns *ns, const void *key, size_t klen, const void *m, size_t mlen,
                     double *score)
{
	kv_cop op;
	int rc = kv_coll_open(ns, key, klen, KV_T_ZSET, KV_COPEN_READ, &op);
	if (rc != KV_OK)
		return rc;
	rc = op.h ? zs_score(ns->env, op.h, ptr_or_empty(m), mlen, score) : KV_NOTFOUND;
	return kv_coll_close(&op, rc, 0);
}

KV_API int kv_zmscore(kv_ns *ns, const void *key, size_t klen, const kv_val *m, size_t n,
                      kv_elems *out)
{
	kv_env *env = ns->env;
	kv_elems_reset(out);
	for (size_t i = 0; i < n; i++) /* sized here: nothing is allocated under the lock */
		if (kv_elems_nil(env, out) != KV_OK)
			return KV_ENOMEM;
	kv_cop op;
	int rc = kv_coll_open(ns, key, klen, KV_T_ZSET, KV_COPEN_READ, &op);
	if (rc != KV_OK)
		return rc;
	for (size_t i = 0; op.h && i < n; i++) {
		double s;
		if (zs_score(env, op.h, ptr_or_empty(m[i].data), m[i].len, &s) == KV_OK) {
			out->v[i].len = 0;
			out->v[i].score = s;
		}
	}
	return kv_coll_close(&op, KV_OK, 0);
}

KV_API int kv_zrank(kv_ns *ns, const void *key, size_t klen, const void *m, size_t mlen,
                    int rev, uint64_t *rank, double *score)
{
	kv_cop op;
	int rc = kv_coll_open(ns, key, klen, KV_T_ZSET, KV_COPEN_READ, &op);
	if (rc != KV_OK)
		return rc;
	uint64_t r = 0;
	rc = op.h ? zs_rank(ns->env, op.h, ptr_or_empty(m), mlen, &r, score) : KV_NOTFOUND;
	if (rc == KV_OK)
		*rank = rev ? op.h->card - 1 - r : r;
	return kv_coll_close(&op, rc, 0);
}

/* ------------------------------------------------------------- ranges */
static int spec_check(const kv_zrange_spec *s, bool limit_ok)
{
	if (!s || s->by < KV_ZBY_RANK || s->by > KV_ZBY_LEX)
		return KV_EINVAL;
	if (s->by == KV_ZBY_RANK && limit_ok && (s->offset != 0 || s->count >= 0))
		return KV_EINVAL;
	if (s->by == KV_ZBY_SCORE && (isnan(s->min) || isnan(s->max)))
		return KV_EINVAL;
	if (s->by == KV_ZBY_LEX && ((!s->lmin.data && s->lmin.len && !s->lmin_inf) ||
	                            (!s->lmax.data && s->lmax.len && !s->lmax_inf)))
		return KV_EINVAL;
	return KV_OK;
}

/* Copy ranks [first, first + n) of v into out (rev: from the top). */
static int copy_ranks(kv_env *env, const zs_view *v, uint64_t first, uint64_t n, int rev,
                      kv_elems *out)
{
	zs_iter it;
	zs_elem e;
	zs_iter_seek(&it, env, v, rev ? first + n - 1 : first);
	for (uint64_t k = 0; k < n && zs_iter_get(&it, &e); k++) {
		if (kv_elems_push(env, out, e.member, e.len, e.score) != KV_OK)
			return KV_ENOMEM;
		if (rev)
			zs_iter_prev(&it);
		else
			zs_iter_next(&it);
	}
	return KV_OK;
}

KV_API int kv_zrange(kv_ns *ns, const void *key, size_t klen, const kv_zrange_spec *spec,
                     kv_elems *out)
{
	kv_env *env = ns->env;
	kv_elems_reset(out);
	int rc = spec_check(spec, true);
	if (rc != KV_OK)
		return rc;
	kv_cop op;
	rc = kv_coll_open(ns, key, klen, KV_T_ZSET, KV_COPEN_PIN, &op);
	if (rc != KV_OK)
		return rc;
	uint64_t first = 0, n = 0;
	zs_view v;
	if (op.h) {
		zs_view_of(op.h, &v);
		rc = zs_resolve(env, &v, spec, true, &first, &n);
	}
	if (rc != KV_OK || n == 0)
		return kv_coll_close(&op, rc, 0);
	kv_chdr *h = op.h;
	kv_coll_pin(&op);
	kv_coll_close(&op, KV_OK, 0);
	rc = copy_ranks(env, &v, first, n, spec->rev, out); /* pinned: no lock */
	kv_coll_unpin(env, h);
	return rc;
}

KV_API int kv_zcount(kv_ns *ns, const void *key, size_t klen, const kv_zrange_spec *spec,
                     uint64_t *n)
{
	*n = 0;
	int rc = spec_check(spec, false);
	if (rc != KV_OK || spec->by == KV_ZBY_RANK)
		return KV_EINVAL;
	kv_cop op;
	rc = kv_coll_open(ns, key, klen, KV_T_ZSET, KV_COPEN_READ, &op);
	if (rc != KV_OK)
		return rc;
	if (op.h) {
		zs_view v;
		uint64_t first;
		zs_view_of(op.h, &v);
		rc = zs_resolve(ns->env, &v, spec, false, &first, n);
	}
	return kv_coll_close(&op, rc, 0);
}

/* A new private zset of the view's ranks [first, first + n). */
static int build_ranks(kv_env *env, const zs_view *v, uint64_t first, uint64_t n, kv_chdr **out)
{
	*out = NULL;
	if (n == 0)
		return KV_OK;
	kv_chdr *h = kv_chdr_new(env, KV_T_ZSET, KV_ENC_LISTPACK);
	if (!h)
		return KV_ENOMEM;
	int rc = zs_init(env, h, n, 0);
	zs_iter it;
	zs_elem e;
	zs_iter_seek(&it, env, v, first);
	for (uint64_t k = 0; rc == KV_OK && k < n && zs_iter_get(&it, &e); k++, zs_iter_next(&it))
		rc = zs_insert(env, h, e.score, e.member, e.len);
	if (rc != KV_OK) {
		kv_chdr_destroy(env, h);
		return rc == KV_ECORRUPT ? KV_ENOMEM : rc;
	}
	*out = h;
	return KV_OK;
}

KV_API int kv_zrangestore(kv_ns *ns, const void *dst, size_t dstlen, const void *src,
                          size_t srclen, const kv_zrange_spec *spec, uint64_t *n)
{
	kv_env *env = ns->env;
	if (n)
		*n = 0;
	int rc = spec_check(spec, true);
	if (rc != KV_OK)
		return rc;
	kv_chdr *h;
	rc = pin_zset(ns, src, srclen, &h);
	if (rc != KV_OK)
		return rc;
	kv_chdr *nh = NULL;
	uint64_t first = 0, cnt = 0;
	if (h) {
		zs_view v;
		zs_view_of(h, &v);
		rc = zs_resolve(env, &v, spec, true, &first, &cnt);
		if (rc == KV_OK)
			rc = build_ranks(env, &v, first, cnt, &nh);
		kv_coll_unpin(env, h);
	}
	if (rc != KV_OK)
		return rc;
	bool existed;
	rc = kv_coll_replace(ns, dst, dstlen, nh, KV_EV_ZRANGESTORE, &existed);
	if (rc == KV_OK && n)
		*n = cnt;
	return rc;
}

/* ------------------------------------------------------------ removal */
static uint32_t hold_of(const kv_chdr *h)
{
	return frozen(h) ? 64u : KV_COLL_HOLD;
}

/* The redo records of ranks [first, first + k) of op's zset: their removal,
 * logged while the members are still there to point at (kind ELDEL), or,
 * after a removal that failed and changed nothing, their being there again
 * (ELEM).  Nothing for a namespace that is not logged. */
static void log_ranks(kv_cop *op, uint64_t first, uint64_t k, int kind)
{
	kv_env *env = op->wx->ns->env;
	if (!kv_redo_logging(op->wx))
		return;
	zs_view v;
	zs_iter it;
	zs_elem e;
	zs_view_of(op->h, &v);
	zs_iter_seek(&it, env, &v, first);
	for (uint64_t i = 0; i < k && zs_iter_get(&it, &e); i++, zs_iter_next(&it))
		kv_redo_elem(op, kind, e.member, e.len, NULL, 0, e.score);
}

static int del_ranks_logged(kv_cop *op, uint64_t first, uint64_t k, int rev, kv_elems *out)
{
	log_ranks(op, first, k, KV_REDO_ELDEL);
	int rc = zs_del_ranks(op->wx->ns->env, op->h, first, k, rev, out);
	if (rc != KV_OK)
		log_ranks(op, first, k, KV_REDO_ELEM);
	return rc;
}

/* Remove ranks [first, first + k) (rev: highest first into out), each with
 * its graveyard room reserved (a reservation is one chunk at most, so a tree
 * removes one element per reservation).  *done gets how many went. */
static int remove_ranks(kv_cop *op, uint64_t first, uint64_t k, int rev, kv_elems *out,
                        uint64_t *done)
{
	int rc;
	*done = 0;
	if (op->h->enc == KV_ENC_LISTPACK) { /* one new blob, one old one released */
		if ((rc = kv_coll_mutate(op, 2)) == KV_OK && (rc = del_ranks_logged(op, first, k, rev, out)) == KV_OK)
			*done = k;
		return rc;
	}
	for (uint64_t i = 0; i < k; i++) {
		rc = kv_coll_mutate(op, ZS_RELEASES(op->h));
		if (rc == KV_OK)
			rc = del_ranks_logged(op, rev ? first + k - 1 - i : first, 1, 0, out);
		if (rc != KV_OK)
			return rc;
		(*done)++;
	}
	return KV_OK;
}

KV_API int kv_zremrange(kv_ns *ns, const void *key, size_t klen, const kv_zrange_spec *spec,
                        uint64_t *removed)
{
	kv_env *env = ns->env;
	if (removed)
		*removed = 0;
	int rc = spec_check(spec, false);
	if (rc != KV_OK)
		return rc;
	kv_zrange_spec s = *spec;
	s.rev = 0;
	int ev = s.by == KV_ZBY_RANK ? KV_EV_ZREMRANGEBYRANK
	       : s.by == KV_ZBY_SCORE ? KV_EV_ZREMRANGEBYSCORE : KV_EV_ZREMRANGEBYLEX;
	uint64_t total = 0, first = 0, left = 0;
	for (bool started = false;; started = true) {
		kv_cop op;
		rc = kv_coll_open(ns, key, klen, KV_T_ZSET, KV_COPEN_WRITE, &op);
		if (rc != KV_OK)
			break;
		/* the event fires once, at the end: also when other writers emptied
		 * the rest of the range (or the key) between holds */
		op.changed = total > 0;
		if (!op.h) {
			kv_coll_close(&op, KV_OK, ev);
			break;
		}
		zs_view v;
		zs_view_of(op.h, &v);
		/* a rank range is fixed at the first hold; a value range found again */
		if (s.by != KV_ZBY_RANK || !started)
			rc = zs_resolve(env, &v, &s, false, &first, &left);
		if (rc != KV_OK || left == 0 || first >= op.h->card) {
			kv_coll_close(&op, rc, ev);
			break;
		}
		uint64_t k = left < hold_of(op.h) ? left : hold_of(op.h), gone;
		rc = remove_ranks(&op, first, k, 0, NULL, &gone);
		total += gone;
		left -= gone;
		if (gone)
			op.changed = true;
		bool done = rc != KV_OK || left == 0 || (s.by != KV_ZBY_RANK && k < hold_of(op.h));
		rc = kv_coll_close(&op, rc, done ? ev : 0);
		if (done || rc != KV_OK)
			break;
		kv_lock_pause();
	}
	if (removed)
		*removed = total;
	return rc;
}

KV_API int kv_zpop(kv_ns *ns, const void *key, size_t klen, int max, int has_count,
                   uint64_t count, kv_elems *out)
{
	kv_env *env = ns->env;
	kv_elems_reset(out);
	uint64_t want = has_count ? count : 1;
	int ev = max ? KV_EV_ZPOPMAX : KV_EV_ZPOPMIN;
	int rc;
	do {
		kv_cop op;
		rc = kv_coll_open(ns, key, klen, KV_T_ZSET, want ? KV_COPEN_WRITE : KV_COPEN_READ, &op);
		if (rc != KV_OK)
			return rc;
		op.changed = out->n > 0; /* the event fires once, at the end */
		if (!op.h || want == 0)
			return kv_coll_close(&op, KV_OK, ev);
		uint64_t card = op.h->card, k = want < card ? want : card;
		if (k > hold_of(op.h))
			k = hold_of(op.h);
		uint64_t first = max ? card - k : 0;
		/* the elements' bytes: copied under the lock only into room made before */
		zs_view v;
		zs_iter it;
		zs_elem e;
		size_t bytes = 0;
		zs_view_of(op.h, &v);
		zs_iter_seek(&it, env, &v, first);
		for (uint64_t i = 0; i < k && zs_iter_get(&it, &e); i++, zs_iter_next(&it))
			bytes += e.len;
		if (out->cap < out->n + k || out->bytes.cap < out->bytes.len + bytes + 1) {
			op.changed = false;
			kv_coll_close(&op, KV_OK, 0);
			if (elems_reserve(env, out, (size_t)k, bytes) != KV_OK)
				return KV_ENOMEM;
			continue; /* look again: the zset may have changed meanwhile */
		}
		uint64_t gone;
		rc = remove_ranks(&op, first, k, max, out, &gone);
		want -= gone;
		if (gone)
			op.changed = true;
		bool done = rc != KV_OK || want == 0 || k == card;
		rc = kv_coll_close(&op, rc, done ? ev : 0);
		if (done || rc != KV_OK)
			break;
		kv_lock_pause();
	} while (rc == KV_OK);
	return rc;
}

/* ------------------------------------------------------------- random */
typedef struct rset { /* distinct ranks picked so far */
	uint64_t *slot;   /* rank + 1, 0: empty */
	size_t    mask;
} rset;

static bool rset_add(rset *s, uint64_t r)
{
	size_t i = (size_t)((r + 1) * 0x9e3779b97f4a7c15ull) & s->mask;
	while (s->slot[i]) {
		if (s->slot[i] == r + 1)
			return false;
		i = (i + 1) & s->mask;
	}
	s->slot[i] = r + 1;
	return true;
}

KV_API int kv_zrandmember(kv_ns *ns, const void *key, size_t klen, int has_count, int64_t count,
                          kv_elems *out)
{
	kv_env *env = ns->env;
	kv_elems_reset(out);
	kv_chdr *h;
	int rc = pin_zset(ns, key, klen, &h);
	if (rc != KV_OK || !h)
		return rc;
	zs_view v;
	zs_view_of(h, &v);
	uint64_t rng = kv_coll_random(), card = v.count;
#define NEXT() (rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17, rng)
	zs_elem e;
	if (card == 0) {
		/* nothing */
	} else if (!has_count || count < 0) {
		uint64_t k = has_count ? (uint64_t)(-(count + 1)) + 1 : 1;
		for (uint64_t i = 0; i < k && rc == KV_OK; i++) {
			zs_at(env, &v, NEXT() % card, &e);
			rc = kv_elems_push(env, out, e.member, e.len, e.score);
		}
	} else if ((uint64_t)count >= card) {
		rc = copy_ranks(env, &v, 0, card, 0, out);
	} else {
		/* distinct: random ranks, repeats rejected (count < card, so it ends) */
		uint64_t k = (uint64_t)count;
		size_t cap = 16;
		while (cap < 2 * k)
			cap *= 2;
		rset s = {kv_mem_realloc(env, NULL, cap * sizeof(uint64_t)), cap - 1};
		if (!s.slot) {
			rc = KV_ENOMEM;
		} else {
			memset(s.slot, 0, cap * sizeof(uint64_t));
			for (uint64_t got = 0; got < k && rc == KV_OK;) {
				uint64_t r = NEXT() % card;
				if (!rset_add(&s, r))
					continue;
				zs_at(env, &v, r, &e);
				rc = kv_elems_push(env, out, e.member, e.len, e.score);
				got++;
			}
			kv_mem_realloc(env, s.slot, 0);
		}
	}
#undef NEXT
	kv_coll_unpin(env, h);
	return rc;
}

/* ------------------------------------------------------------ algebra */
typedef struct set_ctx {
	kv_env   *env;
	kv_elems *out;
} set_ctx;

static int set_emit(void *ctx, const kv_celem *el)
{
	set_ctx *c = ctx;
	return kv_elems_push(c->env, c->out, el->p, el->len, 1.0);
}

/* A pinned source's elements into out: a zset's with scores, a set's with 1. */
static int read_source(kv_env *env, kv_chdr *h, kv_elems *out)
{
	if (h->kind == KV_T_ZSET) {
		zs_view v;
		zs_view_of(h, &v);
		return copy_ranks(env, &v, 0, v.count, 0, out);
	}
	const kv_kind_ops *k = kv_kind_ops_of(h->kind);
	set_ctx c = {env, out};
	uint64_t cur = 0;
	int rc;
	do
		rc = k->scan(env, h, &cur, KV_COLL_HOLD, set_emit, &c);
	while (rc == KV_OK && cur);
	return rc;
}

KV_API int kv_zsetop(kv_ns *ns, int op, const kv_val *keys, size_t n, const double *weights,
                     int agg, const void *dst, size_t dstlen, kv_elems *out, uint64_t *card)
{
	kv_env *env = ns->env;
	if (card)
		*card = 0;
	if (out)
		kv_elems_reset(out);
	if (n == 0 || !keys || op < KV_SETOP_INTER || op > KV_SETOP_DIFF || agg < KV_AGG_SUM ||
	    agg > KV_AGG_MAX || (!dst && !out))
		return KV_EINVAL;
	for (size_t i = 0; weights && i < n; i++)
		if (isnan(weights[i]))
			return KV_ENOTFLOAT;
	/* pin every source in one lock round: no write lands between the reads */
	kv_chdr **hs = kv_mem_realloc(env, NULL, n * sizeof *hs);
	kv_elems *es = kv_mem_realloc(env, NULL, n * sizeof *es);
	zs_src *src = kv_mem_realloc(env, NULL, n * sizeof *src);
	if (!hs || !es || !src) {
		kv_mem_realloc(env, hs, 0);
		kv_mem_realloc(env, es, 0);
		kv_mem_realloc(env, src, 0);
		return KV_ENOMEM;
	}
	memset(hs, 0, n * sizeof *hs);
	for (size_t i = 0; i < n; i++)
		es[i] = (kv_elems)KV_ELEMS_INIT;
	kv_cmulti m;
	int rc = kv_coll_open_many(ns, keys, n, &m);
	for (size_t i = 0; rc == KV_OK && i < n; i++) {
		kv_cop *o;
		rc = kv_coll_at(&m, i, 0, &o);
		if (rc == KV_OK && o->e && o->e->type != KV_T_ZSET && o->e->type != KV_T_SET)
			rc = KV_EWRONGTYPE;
		if (rc == KV_OK && o->h) {
			hs[i] = o->h;
			kv_coll_pin(o);
		}
	}
	if (m.ls)
		kv_coll_close_many(&m, KV_OK, NULL);
	/* read and combine with no lock */
	for (size_t i = 0; i < n; i++) {
		if (rc == KV_OK && hs[i])
			rc = read_source(env, hs[i], &es[i]);
		src[i].e = &es[i];
		src[i].weight = weights ? weights[i] : 1.0;
	}
	for (size_t i = 0; i < n; i++)
		if (hs[i])
			kv_coll_unpin(env, hs[i]);
	kv_elems res = KV_ELEMS_INIT;
	if (rc == KV_OK)
		rc = zs_algebra(env, op, src, n, agg, dst ? &res : out);
	for (size_t i = 0; i < n; i++)
		kv_elems_free(env, &es[i]);
	kv_mem_realloc(env, hs, 0);
	kv_mem_realloc(env, es, 0);
	kv_mem_realloc(env, src, 0);
	if (rc == KV_OK && dst) {
		kv_chdr *nh = NULL;
		if (res.n) {
			nh = kv_chdr_new(env, KV_T_ZSET, KV_ENC_LISTPACK);
			rc = nh ? zs_init(env, nh, res.n, 0) : KV_ENOMEM;
			for (size_t i = 0; rc == KV_OK && i < res.n; i++)
				rc = zs_insert(env, nh, res.v[i].score, res.bytes.data + res.v[i].off, res.v[i].len);
			if (rc != KV_OK && nh) {
				kv_chdr_destroy(env, nh);
				nh = NULL;
			}
		}
		int ev = op == KV_SETOP_INTER ? KV_EV_ZINTERSTORE
		       : op == KV_SETOP_UNION ? KV_EV_ZUNIONSTORE : KV_EV_ZDIFFSTORE;
		bool existed;
		if (rc == KV_OK)
			rc = kv_coll_replace(ns, dst, dstlen, nh, ev, &existed);
		if (rc == KV_OK && out)
			for (size_t i = 0; rc == KV_OK && i < res.n; i++)
				rc = kv_elems_push(env, out, res.bytes.data + res.v[i].off, res.v[i].len,
				                   res.v[i].score);
	}
	if (rc == KV_OK && card)
		*card = dst ? res.n : (out ? out->n : 0);
	kv_elems_free(env, &res);
	return rc;
}

/* ------------------------------------------------------------ kind ops */
static const char *zk_encoding(const kv_chdr *h)
{
	return zs_encoding(h);
}

static void zk_free(kv_env *env, const kv_chdr *h)
{
	zs_free(env, h);
}

static int zk_copy(kv_env *env, const kv_chdr *src, kv_chdr *dst)
{
	return zs_copy(env, src, dst);
}

/* The live zset (a header in the region, under its lock or pinned) is
 * scanned by its member index with Redis's cursor, so ZSCAN keeps SCAN's
 * guarantee across writes between steps; a save's frozen copy (a header
 * outside the region, coll.c's kv_coll_snap_locked) by rank, in order, which
 * its body never changes under. */
static int zk_scan(kv_env *env, const kv_chdr *h, uint64_t *cursor, size_t budget,
                   kv_cemit_fn fn, void *ctx)
{
	zs_view v;
	zs_view_of(h, &v);
	bool live = (const char *)h >= env->base && (const char *)h < env->base + env->size;
	if (v.count == 0) {
		*cursor = 0;
		return KV_OK;
	}
	if (v.enc == KV_ENC_LISTPACK) { /* whole, as Redis does for a listpack */
		*cursor = 0;
		uint64_t c = 0;
		return zs_scan_ranks(env, &v, &c, v.count, fn, ctx);
	}
	if (live)
		return zs_scan_index(env, h, cursor, budget ? budget : 10, fn, ctx);
	return zs_scan_ranks(env, &v, cursor, budget ? budget : 10, fn, ctx);
}

static int zk_add(kv_env *env, kv_chdr *h, const kv_celem *el)
{
	return zs_insert(env, h, el->score, el->p, el->len);
}

const kv_kind_ops kv_zset_ops = {KV_T_ZSET, zk_encoding, zk_free, zk_copy, zk_scan, zk_add, 1};
