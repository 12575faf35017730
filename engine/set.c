/*
 * set.c -- Redis sets (kv.h "sets") over dict.c (a dict without values),
 * following coll.h's protocol.  Point calls (SADD, SREM, SISMEMBER,
 * SMISMEMBER of n members, SMOVE, SPOP of up to KV_COLL_HOLD members) hold
 * the key's shard lock for O(n) dict operations.  Whole reads (SMEMBERS, set
 * algebra, SRANDMEMBER with a count) pin their keys and read with no lock; a
 * big SPOP builds the survivors with no lock and swaps them in (O(1) locked).
 */
#include "coll.h"

static const void *ptr_or_empty(const void *p)
{
	return p ? p : "";
}

static int check_members(kv_ns *ns, const kv_val *m, size_t n, int64_t *bytes)
{
	kv_nsref ref;
	int rc = kv_ns_ref(ns, &ref);
	if (rc != KV_OK)
		return rc;
	uint32_t max = atomic_load_explicit(&ref.slot->max_value_size, memory_order_relaxed);
	*bytes = 0;
	for (size_t i = 0; i < n; i++) {
		if (!m[i].data && m[i].len)
			return KV_EINVAL;
		if (m[i].len > max)
			return KV_EVALSIZE;
		*bytes += (int64_t)m[i].len + 16;
	}
	return KV_OK;
}

KV_API int kv_sadd(kv_ns *ns, const void *key, size_t klen, const kv_val *m, size_t n,
                   uint64_t *added)
{
	if (added)
		*added = 0;
	if (n == 0 || !m)
		return KV_EINVAL;
	int64_t more;
	int rc = check_members(ns, m, n, &more);
	if (rc != KV_OK)
		return rc;
	kv_env *env = ns->env;
	kv_cop op;
	if ((rc = kv_coll_open(ns, key, klen, KV_T_SET, KV_COPEN_WRITE, &op)) != KV_OK)
		return rc;
	if (!op.h)
		rc = kv_coll_create(&op, KV_ENC_LISTPACK);
	for (size_t i = 0; i < n && rc == KV_OK; i++)
		more += kv_dict_put_cost(env, op.h, m[i].len, 0);
	if (rc == KV_OK)
		rc = kv_coll_reserve(&op, more);
	if (rc == KV_OK)
		rc = kv_coll_mutate(&op, (uint32_t)(4 * n + 4));
	uint64_t k = 0;
	for (size_t i = 0; i < n && rc == KV_OK; i++) {
		int a;
		rc = kv_dict_put(env, op.h, ptr_or_empty(m[i].data), m[i].len, NULL, 0, false, &a);
		k += (uint64_t)a;
		if (a)
			kv_redo_elem(&op, KV_REDO_ELEM, ptr_or_empty(m[i].data), m[i].len, NULL, 0, 0);
	}
	op.changed = k > 0;
	if (added)
		*added = k;
	return kv_coll_close(&op, rc, KV_EV_SADD);
}

KV_API int kv_srem(kv_ns *ns, const void *key, size_t klen, const kv_val *m, size_t n,
                   uint64_t *removed)
{
	return kv_dict_remove(ns, key, klen, KV_T_SET, KV_EV_SREM, m, n, removed);
}

KV_API int kv_sismember(kv_ns *ns, const void *key, size_t klen, const void *m, size_t mlen)
{
	return kv_dict_has(ns, key, klen, KV_T_SET, m, mlen);
}

KV_API int kv_smismember(kv_ns *ns, const void *key, size_t klen, const kv_val *m, size_t n,
                         uint8_t *out)
{
	kv_cop op;
	int rc = kv_coll_open(ns, key, klen, KV_T_SET, KV_COPEN_READ, &op);
	if (rc != KV_OK)
		return rc;
	for (size_t i = 0; i < n; i++)
		out[i] = op.h && kv_dict_get(ns->env, op.h, ptr_or_empty(m[i].data), m[i].len, NULL, NULL);
	return kv_coll_close(&op, KV_OK, 0);
}

typedef struct push_ctx {
	kv_env   *env;
	kv_elems *out;
} push_ctx;

static int push_member(void *ctx, const kv_celem *el)
{
	push_ctx *c = ctx;
	return kv_elems_push(c->env, c->out, el->p, el->len, 0);
}

KV_API int kv_smembers(kv_ns *ns, const void *key, size_t klen, kv_elems *out)
{
	kv_elems_reset(out);
	push_ctx c = {ns->env, out};
	return kv_coll_read_all(ns, key, klen, KV_T_SET, push_member, &c);
}

KV_API int kv_srandmember(kv_ns *ns, const void *key, size_t klen, int has_count, int64_t count,
                          kv_elems *out)
{
	return kv_dict_randmember(ns, key, klen, KV_T_SET, has_count, count, 0, out);
}

/* ------------------------------------------------------------- SPOP */
static uint64_t rnd(uint64_t *s)
{
	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	return *s >> 11;
}

/* Pop everything: unlink the key (O(1)), then copy the detached body. */
static int spop_all(kv_cop *op, kv_elems *out)
{
	kv_env *env = op->w.ns->env;
	kv_chdr *h = op->h;
	kv_coll_pin(op);
	kv_w_remove(&op->w, op->sh, op->pos, op->e);
	op->h = NULL;
	kv_write_end(&op->w, op->sh, op->key, op->klen, KV_OK, KV_EV_SPOP);
	kv_emit(env, op->w.ns, op->key, op->klen, KV_EV_DEL);
	push_ctx c = {env, out};
	uint64_t cur = 0;
	int rc;
	do
		rc = kv_set_ops.scan(env, h, &cur, KV_COLL_HOLD, push_member, &c);
	while (rc == KV_OK && cur);
	kv_coll_unpin(env, h);
	return rc;
}

/* Pop many of a big set: the survivors are built with no lock into a new
 * header, which replaces the old one in O(1) if the key still names it (it is
 * pinned, so no write of it landed meanwhile). */
static int spop_rebuild(kv_ns *ns, const void *key, size_t klen, uint64_t count, kv_elems *out,
                        bool *retry)
{
	kv_env *env = ns->env;
	*retry = false;
	kv_cop op;
	int rc = kv_coll_open(ns, key, klen, KV_T_SET, KV_COPEN_PIN, &op);
	if (rc != KV_OK)
		return rc;
	if (!op.h)
		return kv_coll_close(&op, KV_OK, 0);
	kv_chdr *h = op.h;
	kv_coll_pin(&op);
	kv_coll_close(&op, KV_OK, 0);
	kv_elems all = KV_ELEMS_INIT;
	kv_chdr *logged = NULL; /* the survivors, pinned while the members popped are logged */
	push_ctx c = {env, &all};
	uint64_t cur = 0, rng = kv_coll_random();
	do
		rc = kv_set_ops.scan(env, h, &cur, KV_COLL_HOLD, push_member, &c);
	while (rc == KV_OK && cur);
	kv_chdr *rest = rc == KV_OK ? kv_chdr_new(env, KV_T_SET, KV_ENC_LISTPACK) : NULL;
	if (rc == KV_OK && !rest)
		rc = KV_ENOMEM;
	if (rc == KV_OK && count >= all.n)
		count = all.n;
	/* the first count after a partial shuffle are popped */
	for (size_t i = 0; rc == KV_OK && i < count; i++) {
		size_t j = i + (size_t)(rnd(&rng) % (all.n - i));
		kv_elem t = all.v[i];
		all.v[i] = all.v[j];
		all.v[j] = t;
	}
	for (size_t i = count; rc == KV_OK && i < all.n; i++) {
		kv_celem el = {all.bytes.data + all.v[i].off, all.v[i].len, NULL, 0, 0};
		rc = kv_set_ops.add(env, rest, &el);
	}
	if (rc == KV_OK) {
		/* swap under the lock if the key still names h */
		if ((rc = kv_coll_open(ns, key, klen, KV_T_SET, KV_COPEN_READ, &op)) == KV_OK) {
			if (op.h != h) {
				*retry = true;
			} else {
				int64_t exp = kv_entry_expiry(op.e);
				if (kv_coll_mutate(&op, 0) != KV_OK) {
					rc = KV_ENOMEM;
				} else {
					atomic_store_explicit(&rest->refs, 0, memory_order_relaxed);
					kv_croot r = {KV_CROOT_MAGIC, kv_offof(env, rest)};
					val_arg a = {&r, sizeof r, 0};
					/* a logged namespace logs the members popped, after the unlock */
					op.w.redo_kind = KV_REDO_ELDEL;
					rc = kv_put_locked(&op.w, op.sh, op.h32, key, klen, op.e, op.pos, sizeof r, KV_T_SET, exp,
					                   kv_fill_copy, &a);
					op.w.redo_kind = 0;
					if (rc == KV_OK) {
						if (kv_redo_logging(&op.w)) {
							logged = rest;
							atomic_fetch_add_explicit(&rest->refs, 1, memory_order_relaxed);
							atomic_fetch_add_explicit(&rest->pin, 1, memory_order_acq_rel);
						}
						rest = NULL;
						op.changed = true;
					} else {
						atomic_store_explicit(&rest->refs, 1, memory_order_relaxed);
					}
				}
			}
			op.h = NULL;
			kv_write_end(&op.w, op.sh, key, klen, rc, *retry || rc != KV_OK ? 0 : KV_EV_SPOP);
		}
	}
	if (logged) { /* writers of the key wait for the pin meanwhile */
		kv_redo_removed(ns, key, klen, logged, &all, (size_t)count);
		kv_coll_unpin(env, logged);
	}
	for (size_t i = 0; rc == KV_OK && !*retry && i < count; i++)
		rc = kv_elems_push(env, out, all.bytes.data + all.v[i].off, all.v[i].len, 0);
	if (rest)
		kv_chdr_destroy(env, rest);
	kv_elems_free(env, &all);
	kv_coll_unpin(env, h);
	return rc;
}

KV_API int kv_spop(kv_ns *ns, const void *key, size_t klen, int has_count, uint64_t count,
                   kv_elems *out)
{
	kv_env *env = ns->env;
	kv_elems_reset(out);
	if (!has_count)
		count = 1;
	if (count == 0) { /* nothing to pop, but the kind is checked as Redis does */
		kv_cop op;
		int rc = kv_coll_open(ns, key, klen, KV_T_SET, KV_COPEN_READ, &op);
		return rc != KV_OK ? rc : kv_coll_close(&op, KV_OK, 0);
	}
	size_t guess = 4096;
	for (int tries = 0;; tries++) {
		/* room for the answer first: no host allocation under the lock */
		size_t want = count < KV_COLL_HOLD ? (size_t)count : KV_COLL_HOLD;
		if (kv_buf_reserve(env, &out->bytes, guess) != KV_OK)
			return KV_ENOMEM;
		if (out->cap < want) {
			kv_elem *v = kv_mem_realloc(env, out->v, want * sizeof *v);
			if (!v)
				return KV_ENOMEM;
			out->v = v;
			out->cap = want;
		}
		kv_cop op;
		int rc = kv_coll_open(ns, key, klen, KV_T_SET, KV_COPEN_WRITE, &op);
		if (rc != KV_OK)
			return rc;
		if (!op.h)
			return kv_coll_close(&op, KV_OK, 0);
		if (count >= op.h->card)
			return spop_all(&op, out);
		if (count > KV_COLL_HOLD) {
			kv_coll_close(&op, KV_OK, 0);
			bool retry;
			rc = spop_rebuild(ns, key, klen, count, out, &retry);
			if (rc != KV_OK || !retry || tries > 16)
				return retry ? KV_EBUSY : rc;
			continue;
		}
		/* pick count distinct members, copy them (room reserved), remove them */
		uint64_t rng = kv_coll_random(), picked[KV_COLL_HOLD];
		size_t used = 0, n = 0;
		bool fits = true;
		while (n < count && fits) {
			kv_celem el;
			kv_dict_random(env, op.h, &rng, &el);
			uint64_t hh = XXH3_64bits(el.p, el.len);
			bool dup = false;
			for (size_t i = 0; i < n && !dup; i++)
				dup = picked[i] == hh && out->v[i].len == el.len &&
				      memcmp(out->bytes.data + out->v[i].off, el.p, el.len) == 0;
			if (dup)
				continue;
			if (used + el.len + 1 > out->bytes.cap) {
				fits = false;
				guess = (used + el.len + 1) * 2 + (size_t)(count - n) * 64;
				break;
			}
			memcpy(out->bytes.data + used, el.p, el.len);
			out->v[n] = (kv_elem){used, el.len, 0};
			picked[n++] = hh;
			used += el.len;
		}
		if (!fits) {
			kv_coll_close(&op, KV_OK, 0);
			continue;
		}
		rc = kv_coll_mutate(&op, (uint32_t)(2 * n + 2));
		for (size_t i = 0; i < n && rc == KV_OK; i++)
			if (kv_dict_del(env, op.h, out->bytes.data + out->v[i].off, out->v[i].len, &rc))
				kv_redo_elem(&op, KV_REDO_ELDEL, out->bytes.data + out->v[i].off, out->v[i].len, NULL, 0, 0);
		if (rc == KV_OK) {
			out->n = n;
			out->bytes.len = used;
			out->bytes.data[used] = 0;
			op.changed = true;
		}
		return kv_coll_close(&op, rc, KV_EV_SPOP);
	}
}

/* ------------------------------------------------------------- SMOVE */
KV_API int kv_smove(kv_ns *ns, const void *src, size_t srclen, const void *dst, size_t dstlen,
                    const void *m, size_t mlen)
{
	kv_env *env = ns->env;
	m = ptr_or_empty(m);
	int64_t more;
	kv_val mv = {mlen, m};
	int rc = check_members(ns, &mv, 1, &more);
	if (rc != KV_OK)
		return rc;
	kv_val keys[2] = {{srclen, src}, {dstlen, dst}};
	kv_cmulti mu;
	if ((rc = kv_coll_open_many(ns, keys, 2, &mu)) != KV_OK)
		return rc;
	kv_cop *s, *d;
	int rs = kv_coll_at(&mu, 0, KV_T_SET, &s), rd = kv_coll_at(&mu, 1, KV_T_SET, &d);
	/* Redis's order: a missing src is 0 whatever dst is; then either's kind */
	rc = rs == KV_OK && !s->h ? KV_NOTFOUND : rs != KV_OK ? rs : rd;
	bool same = srclen == dstlen && memcmp(ptr_or_empty(src), ptr_or_empty(dst), srclen) == 0;
	if (rc == KV_OK && (!s->h || !kv_dict_get(env, s->h, m, mlen, NULL, NULL)))
		rc = KV_NOTFOUND;
	else if (rc == KV_OK && !same) {
		if (!d->h)
			rc = kv_coll_create(d, KV_ENC_LISTPACK);
		if (rc == KV_OK)
			rc = kv_coll_reserve(d, more + kv_dict_put_cost(env, d->h, mlen, 0));
		if (rc == KV_OK)
			rc = kv_coll_mutate(s, 4);
		if (rc == KV_OK)
			rc = kv_coll_mutate(d, 8);
		int added = 0;
		if (rc == KV_OK) /* add first: a full region fails before anything changed */
			rc = kv_dict_put(env, d->h, m, mlen, NULL, 0, false, &added);
		if (rc == KV_OK && added)
			kv_redo_elem(d, KV_REDO_ELEM, m, mlen, NULL, 0, 0);
		if (rc == KV_OK) {
			if (kv_dict_del(env, s->h, m, mlen, &rc))
				kv_redo_elem(s, KV_REDO_ELDEL, m, mlen, NULL, 0, 0);
			s->changed = true;
			d->changed = added != 0;
		}
		if (rc != KV_OK && d->created)
			d->changed = true; /* let close remove the empty key it created */
	}
	int ev[2] = {KV_EV_SREM, KV_EV_SADD};
	return kv_coll_close_many(&mu, rc, ev);
}

/* ------------------------------------------------------- set algebra */
typedef struct algebra {
	kv_env   *env;
	kv_chdr **src;   /* pinned, NULL for a missing key */
	size_t    n;
	int       op;
	uint64_t  limit, card;
	kv_chdr  *store; /* result header (STORE forms and UNION's dedup) */
	kv_elems *out;
} algebra;

static int alg_emit(algebra *a, const kv_celem *el)
{
	a->card++;
	if (a->store) {
		int added;
		return kv_dict_put(a->env, a->store, el->p, el->len, NULL, 0, false, &added);
	}
	return a->out ? kv_elems_push(a->env, a->out, el->p, el->len, 0) : KV_OK;
}

static int inter_one(void *ctx, const kv_celem *el)
{
	algebra *a = ctx;
	if (a->limit && a->card >= a->limit)
		return 0;
	for (size_t i = 1; i < a->n; i++)
		if (!kv_dict_get(a->env, a->src[i], el->p, el->len, NULL, NULL))
			return 0;
	return alg_emit(a, el);
}

static int diff_one(void *ctx, const kv_celem *el)
{
	algebra *a = ctx;
	for (size_t i = 1; i < a->n; i++)
		if (a->src[i] && kv_dict_get(a->env, a->src[i], el->p, el->len, NULL, NULL))
			return 0;
	return alg_emit(a, el);
}

static int union_one(void *ctx, const kv_celem *el)
{
	algebra *a = ctx;
	int added;
	int rc = kv_dict_put(a->env, a->store, el->p, el->len, NULL, 0, false, &added);
	a->card += (uint64_t)added;
	return rc;
}

static int scan_all(kv_env *env, const kv_chdr *h, kv_cemit_fn fn, void *ctx)
{
	uint64_t cur = 0;
	int rc;
	do
		rc = kv_set_ops.scan(env, h, &cur, KV_COLL_HOLD, fn, ctx);
	while (rc == KV_OK && cur);
	return rc;
}

KV_API int kv_setop(kv_ns *ns, int op, const kv_val *keys, size_t n, uint64_t limit,
                    const void *dst, size_t dstlen, kv_elems *out, uint64_t *card)
{
	kv_env *env = ns->env;
	if (card)
		*card = 0;
	if (out)
		kv_elems_reset(out);
	if (n == 0 || !keys || op < KV_SETOP_INTER || op > KV_SETOP_DIFF || (limit && op != KV_SETOP_INTER))
		return KV_EINVAL;
	/* pin every source together: no write to any of them lands between reads */
	kv_cmulti mu;
	int rc = kv_coll_open_many(ns, keys, n, &mu);
	if (rc != KV_OK)
		return rc;
	kv_chdr **src = kv_mem_realloc(env, NULL, n * sizeof *src);
	if (!src)
		rc = KV_ENOMEM;
	for (size_t i = 0; i < n && rc == KV_OK; i++) {
		kv_cop *c;
		rc = kv_coll_at(&mu, i, KV_T_SET, &c);
		src[i] = rc == KV_OK ? c->h : NULL;
	}
	kv_chdr *busy = NULL; /* a source whose writers wait for its pins: they go first */
	for (size_t i = 0; rc == KV_OK && i < n && !busy; i++)
		if (src[i] && atomic_load_explicit(&src[i]->wwait, memory_order_acquire))
			busy = src[i];
	for (size_t i = 0; rc == KV_OK && !busy && i < n; i++)
		if (src[i])
			kv_coll_pin(&mu.ops[i]);
	if (busy)
		atomic_fetch_add_explicit(&busy->refs, 1, memory_order_relaxed);
	kv_coll_close_many(&mu, KV_OK, NULL);
	if (rc != KV_OK || busy) {
		kv_mem_realloc(env, src, 0);
		if (busy) {
			kv_coll_wait_writers(env, busy);
			return kv_setop(ns, op, keys, n, limit, dst, dstlen, out, card);
		}
		return rc;
	}
	algebra a = {env, src, n, op, limit, 0, NULL, (dst || limit) ? NULL : out};
	if (dst || op == KV_SETOP_UNION) {
		a.store = kv_chdr_new(env, KV_T_SET, KV_ENC_LISTPACK);
		if (!a.store)
			rc = KV_ENOMEM;
	}
	if (rc == KV_OK && op == KV_SETOP_INTER) {
		/* walk the smallest; a missing source makes it empty */
		size_t best = 0;
		bool empty = false;
		for (size_t i = 0; i < n; i++) {
			if (!src[i])
				empty = true;
			else if (src[best] && src[i]->card < src[best]->card)
				best = i;
		}
		if (!empty) {
			kv_chdr *t = src[0];
			src[0] = src[best];
			src[best] = t;
			rc = scan_all(env, src[0], inter_one, &a);
		}
	} else if (rc == KV_OK && op == KV_SETOP_DIFF) {
		if (src[0])
			rc = scan_all(env, src[0], diff_one, &a);
	} else if (rc == KV_OK) {
		for (size_t i = 0; i < n && rc == KV_OK; i++)
			if (src[i])
				rc = scan_all(env, src[i], union_one, &a);
		if (rc == KV_OK && !dst && out)
			rc = scan_all(env, a.store, push_member, &(push_ctx){env, out});
	}
	if (rc == KV_OK && dst) {
		static const int evs[] = {KV_EV_SINTERSTORE, KV_EV_SUNIONSTORE, KV_EV_SDIFFSTORE};
		bool existed;
		uint64_t c = a.store->card;
		rc = kv_coll_replace(ns, dst, dstlen, a.store, evs[op], &existed); /* consumes it */
		a.store = NULL;
		a.card = c;
	}
	if (a.store)
		kv_chdr_destroy(env, a.store);
	for (size_t i = 0; i < n; i++)
		if (src[i])
			kv_coll_unpin(env, src[i]);
	kv_mem_realloc(env, src, 0);
	if (rc == KV_OK && card)
		*card = a.card;
	if (rc != KV_OK && out)
		kv_elems_reset(out);
	return rc;
}
