/*
 * hash.c -- Redis hashes (kv.h "hashes") over dict.c.  Every call follows
 * coll.h's protocol: open (lock, kind check), mutate (copy-on-write for a
 * running save), change, close (charge, delete when empty, unlock, events).
 * Reads of one field hold the shard lock for one lookup; reads of many
 * fields and of the whole hash pin it and copy with no lock (coll.h 4).
 */
#include "coll.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>

static int check_elem(kv_ns *ns, size_t n)
{
	kv_nsref ref;
	int rc = kv_ns_ref(ns, &ref);
	if (rc != KV_OK)
		return rc;
	return n > atomic_load_explicit(&ref.slot->max_value_size, memory_order_relaxed) ? KV_EVALSIZE : KV_OK;
}

static const void *ptr_or_empty(const void *p)
{
	return p ? p : "";
}

KV_API int kv_hset(kv_ns *ns, const void *key, size_t klen, const kv_val *fv, size_t npairs,
                   unsigned flags, uint64_t *added)
{
	if (added)
		*added = 0;
	if (npairs == 0 || !fv || (flags & ~KV_HSET_NX) || ((flags & KV_HSET_NX) && npairs != 1))
		return KV_EINVAL;
	int64_t more = 0;
	for (size_t i = 0; i < 2 * npairs; i++) {
		int rc = check_elem(ns, fv[i].len);
		if (rc != KV_OK)
			return rc;
		if (!fv[i].data && fv[i].len)
			return KV_EINVAL;
		more += (int64_t)fv[i].len;
	}
	more += (int64_t)npairs * 24;
	kv_env *env = ns->env;
	kv_cop op;
	int rc = kv_coll_open(ns, key, klen, KV_T_HASH, KV_COPEN_WRITE, &op);
	if (rc != KV_OK)
		return rc;
	if (!op.h)
		rc = kv_coll_create(&op, KV_ENC_LISTPACK);
	more = 0;
	for (size_t i = 0; i < npairs && rc == KV_OK; i++)
		more += kv_dict_put_cost(env, op.h, fv[2 * i].len, fv[2 * i + 1].len);
	if (rc == KV_OK)
		rc = kv_coll_reserve(&op, more);
	if (rc == KV_OK)
		rc = kv_coll_mutate(&op, (uint32_t)(4 * npairs + 4));
	uint64_t n = 0;
	for (size_t i = 0; i < npairs && rc == KV_OK; i++) {
		int a;
		rc = kv_dict_put(env, op.h, ptr_or_empty(fv[2 * i].data), fv[2 * i].len, ptr_or_empty(fv[2 * i + 1].data),
		                 fv[2 * i + 1].len, flags & KV_HSET_NX, &a);
		n += (uint64_t)a;
		if (rc == KV_OK && (a || !(flags & KV_HSET_NX))) {
			op.changed = true;
			kv_redo_elem(&op, KV_REDO_ELEM, ptr_or_empty(fv[2 * i].data), fv[2 * i].len,
			             ptr_or_empty(fv[2 * i + 1].data), fv[2 * i + 1].len, 0);
		}
	}
	if (rc == KV_OK && (flags & KV_HSET_NX) && n == 0)
		rc = KV_EXISTS;
	if (added)
		*added = n;
	return kv_coll_close(&op, rc, KV_EV_HSET);
}

/* Copy one value out: under the lock when the caller's buffer already has
 * room, else pinned with no lock (the buffer is grown first). */
typedef struct val_out {
	kv_buf *out;
	size_t  len;   /* the value's length (found) */
} val_out;

KV_API int kv_hget(kv_ns *ns, const void *key, size_t klen, const void *field, size_t flen,
                   kv_buf *out)
{
	kv_env *env = ns->env;
	field = ptr_or_empty(field);
	if (!out->data && kv_buf_reserve(env, out, 127) != KV_OK)
		return KV_ENOMEM;
	kv_cop op;
	int rc = kv_coll_open(ns, key, klen, KV_T_HASH, KV_COPEN_PIN, &op);
	if (rc != KV_OK)
		return rc;
	const char *v;
	size_t vlen;
	if (!op.h || !kv_dict_get(env, op.h, field, flen, &v, &vlen)) {
		out->len = 0;
		out->type = KV_T_NONE;
		return kv_coll_close(&op, KV_NOTFOUND, 0);
	}
	if (vlen < out->cap && vlen <= KV_LOCKED_COPY_MAX) {
		memcpy(out->data, v, vlen);
	} else {
		kv_chdr *h = op.h;
		kv_coll_pin(&op);
		kv_coll_close(&op, KV_OK, 0);
		rc = kv_buf_reserve(env, out, vlen);
		if (rc == KV_OK) /* pinned: the same value, no lock */
			kv_dict_get(env, h, field, flen, &v, &vlen), memcpy(out->data, v, vlen);
		kv_coll_unpin(env, h);
		if (rc != KV_OK)
			return rc;
		out->data[vlen] = 0;
		out->len = vlen;
		out->type = KV_T_BYTES;
		out->expires_at = 0;
		return KV_OK;
	}
	out->data[vlen] = 0;
	out->len = vlen;
	out->type = KV_T_BYTES;
	out->expires_at = 0;
	return kv_coll_close(&op, KV_OK, 0);
}

/* Pin key's collection of kind for a lock-free read: *h NULL if missing. */
static int pin_key(kv_ns *ns, const void *key, size_t klen, int kind, kv_chdr **h)
{
	kv_cop op;
	*h = NULL;
	int rc = kv_coll_open(ns, key, klen, kind, KV_COPEN_PIN, &op);
	if (rc != KV_OK)
		return rc;
	if (op.h) {
		*h = op.h;
		kv_coll_pin(&op);
	}
	return kv_coll_close(&op, KV_OK, 0);
}

KV_API int kv_hmget(kv_ns *ns, const void *key, size_t klen, const kv_val *fields, size_t n,
                    kv_elems *out)
{
	kv_env *env = ns->env;
	kv_elems_reset(out);
	kv_chdr *h;
	int rc = pin_key(ns, key, klen, KV_T_HASH, &h);
	if (rc != KV_OK)
		return rc;
	for (size_t i = 0; i < n && rc == KV_OK; i++) {
		const char *v;
		size_t vlen;
		if (h && kv_dict_get(env, h, ptr_or_empty(fields[i].data), fields[i].len, &v, &vlen))
			rc = kv_elems_push(env, out, v, vlen, 0);
		else
			rc = kv_elems_nil(env, out);
	}
	if (h)
		kv_coll_unpin(env, h);
	return rc;
}

typedef struct all_ctx {
	kv_env   *env;
	kv_elems *out;
	unsigned  what;
} all_ctx;

static int all_emit(void *ctx, const kv_celem *el)
{
	all_ctx *c = ctx;
	int rc = KV_OK;
	if (c->what & KV_HALL_FIELDS)
		rc = kv_elems_push(c->env, c->out, el->p, el->len, el->score);
	if (rc == KV_OK && (c->what & KV_HALL_VALUES))
		rc = kv_elems_push(c->env, c->out, el->v, el->vlen, el->score);
	return rc;
}

KV_API int kv_hgetall(kv_ns *ns, const void *key, size_t klen, unsigned what, kv_elems *out)
{
	kv_elems_reset(out);
	if (!what || (what & ~(KV_HALL_FIELDS | KV_HALL_VALUES)))
		return KV_EINVAL;
	all_ctx c = {ns->env, out, what};
	return kv_coll_read_all(ns, key, klen, KV_T_HASH, all_emit, &c);
}

/* HDEL and SREM: remove the given fields or members of a hash or set (kind),
 * firing ev if any existed; shared so the two kinds keep one removal path. */
int kv_dict_remove(kv_ns *ns, const void *key, size_t klen, int kind, int ev, const kv_val *v,
                   size_t n, uint64_t *removed)
{
	if (removed)
		*removed = 0;
	if (n == 0 || !v)
		return KV_EINVAL;
	kv_env *env = ns->env;
	kv_cop op;
	int rc = kv_coll_open(ns, key, klen, kind, KV_COPEN_WRITE, &op);
	if (rc != KV_OK)
		return rc;
	if (!op.h)
		return kv_coll_close(&op, KV_OK, 0);
	rc = kv_coll_mutate(&op, (uint32_t)(2 * n + 2));
	uint64_t k = 0;
	for (size_t i = 0; i < n && rc == KV_OK && op.h->card; i++)
		if (kv_dict_del(env, op.h, ptr_or_empty(v[i].data), v[i].len, &rc)) {
			k++;
			kv_redo_elem(&op, KV_REDO_ELDEL, ptr_or_empty(v[i].data), v[i].len, NULL, 0, 0);
		}
	op.changed = k > 0;
	if (removed)
		*removed = k;
	return kv_coll_close(&op, rc, ev);
}

KV_API int kv_hdel(kv_ns *ns, const void *key, size_t klen, const kv_val *fields, size_t n,
                   uint64_t *removed)
{
	return kv_dict_remove(ns, key, klen, KV_T_HASH, KV_EV_HDEL, fields, n, removed);
}

/* HEXISTS and SISMEMBER: KV_OK if e is a field or member of key's hash or set. */
int kv_dict_has(kv_ns *ns, const void *key, size_t klen, int kind, const void *e, size_t elen)
{
	kv_cop op;
	int rc = kv_coll_open(ns, key, klen, kind, KV_COPEN_READ, &op);
	if (rc != KV_OK)
		return rc;
	bool f = op.h && kv_dict_get(ns->env, op.h, ptr_or_empty(e), elen, NULL, NULL);
	return kv_coll_close(&op, f ? KV_OK : KV_NOTFOUND, 0);
}

KV_API int kv_hexists(kv_ns *ns, const void *key, size_t klen, const void *field, size_t flen)
{
	return kv_dict_has(ns, key, klen, KV_T_HASH, field, flen);
}

KV_API int kv_hstrlen(kv_ns *ns, const void *key, size_t klen, const void *field, size_t flen,
                      size_t *len)
{
	*len = 0;
	kv_cop op;
	int rc = kv_coll_open(ns, key, klen, KV_T_HASH, KV_COPEN_READ, &op);
	if (rc != KV_OK)
		return rc;
	const char *v;
	bool f = op.h && kv_dict_get(ns->env, op.h, ptr_or_empty(field), flen, &v, len);
	return kv_coll_close(&op, f ? KV_OK : KV_NOTFOUND, 0);
}

KV_API int kv_hincr(kv_ns *ns, const void *key, size_t klen, const void *field, size_t flen,
                    int64_t by, int64_t *result)
{
	int rc = check_elem(ns, flen);
	if (rc != KV_OK)
		return rc;
	field = ptr_or_empty(field);
	kv_env *env = ns->env;
	kv_cop op;
	if ((rc = kv_coll_open(ns, key, klen, KV_T_HASH, KV_COPEN_WRITE, &op)) != KV_OK)
		return rc;
	int64_t cur = 0;
	const char *v;
	size_t vlen;
	if (op.h && kv_dict_get(env, op.h, field, flen, &v, &vlen) && !kv_parse_ll(v, vlen, &cur))
		rc = KV_ENOTINT;
	if (rc == KV_OK && ((by > 0 && cur > INT64_MAX - by) || (by < 0 && cur < INT64_MIN - by)))
		rc = KV_EOVERFLOW;
	if (rc == KV_OK && !op.h)
		rc = kv_coll_create(&op, KV_ENC_LISTPACK);
	if (rc == KV_OK)
		rc = kv_coll_reserve(&op, kv_dict_put_cost(env, op.h, flen, 24));
	if (rc == KV_OK)
		rc = kv_coll_mutate(&op, 8);
	if (rc == KV_OK) {
		char txt[24];
		int n = snprintf(txt, sizeof txt, "%lld", (long long)(cur + by));
		int a;
		rc = kv_dict_put(env, op.h, field, flen, txt, (size_t)n, false, &a);
		if (rc == KV_OK) {
			op.changed = true;
			kv_redo_elem(&op, KV_REDO_ELEM, field, flen, txt, (size_t)n, 0); /* the new number */
			if (result)
				*result = cur + by;
		}
	}
	return kv_coll_close(&op, rc, KV_EV_HINCRBY);
}

KV_API int kv_hincr_float(kv_ns *ns, const void *key, size_t klen, const void *field,
                          size_t flen, const char *by_text, size_t bylen, double *result,
                          kv_buf *result_text)
{
	int rc = check_elem(ns, flen);
	if (rc != KV_OK)
		return rc;
	field = ptr_or_empty(field);
	long double by;
	if (!by_text || !kv_parse_ld(by_text, bylen, &by))
		return KV_ENOTFLOAT;
	kv_env *env = ns->env;
	if (result_text && kv_buf_reserve(env, result_text, KV_DOUBLE_BUFSZ) != KV_OK)
		return KV_ENOMEM;
	kv_cop op;
	if ((rc = kv_coll_open(ns, key, klen, KV_T_HASH, KV_COPEN_WRITE, &op)) != KV_OK)
		return rc;
	long double cur = 0;
	const char *v;
	size_t vlen;
	if (op.h && kv_dict_get(env, op.h, field, flen, &v, &vlen) && !kv_parse_ld(v, vlen, &cur))
		rc = KV_ENOTFLOAT;
	double d = (double)(cur + by);
	if (rc == KV_OK && !isfinite(d))
		rc = KV_EOVERFLOW;
	char txt[KV_DOUBLE_BUFSZ];
	size_t n = 0;
	if (rc == KV_OK)
		n = kv_fmt_double(d == 0 ? 0.0 : d, txt, sizeof txt);
	if (rc == KV_OK && !op.h)
		rc = kv_coll_create(&op, KV_ENC_LISTPACK);
	if (rc == KV_OK)
		rc = kv_coll_reserve(&op, kv_dict_put_cost(env, op.h, flen, KV_DOUBLE_BUFSZ));
	if (rc == KV_OK)
		rc = kv_coll_mutate(&op, 8);
	if (rc == KV_OK) {
		int a;
		rc = kv_dict_put(env, op.h, field, flen, txt, n, false, &a);
		if (rc == KV_OK)
			kv_redo_elem(&op, KV_REDO_ELEM, field, flen, txt, n, 0); /* the new number */
	}
	if (rc == KV_OK) {
		op.changed = true;
		if (result)
			*result = d == 0 ? 0.0 : d;
		if (result_text) {
			memcpy(result_text->data, txt, n + 1);
			result_text->len = n;
			result_text->type = KV_T_REAL;
			result_text->expires_at = 0;
		}
	}
	return kv_coll_close(&op, rc, KV_EV_HINCRBYFLOAT);
}

/* ------------------------------------------------------ random picks */
typedef struct pick_all {
	kv_env   *env;
	kv_elems *out;
	bool      vals;
} pick_all;

static int pick_emit(void *ctx, const kv_celem *el)
{
	pick_all *c = ctx;
	int rc = kv_elems_push(c->env, c->out, el->p, el->len, 0);
	if (rc == KV_OK && c->vals)
		rc = kv_elems_push(c->env, c->out, el->v ? el->v : "", el->vlen, 0);
	return rc;
}

/* A set of 64-bit hashes in process memory (distinct picks). */
typedef struct hset64 {
	uint64_t *v;
	size_t    cap;
} hset64;

static bool hset64_add(hset64 *s, uint64_t x)
{
	x |= 1;
	size_t i = (size_t)(x * 0x9e3779b97f4a7c15ull) & (s->cap - 1);
	while (s->v[i]) {
		if (s->v[i] == x)
			return false;
		i = (i + 1) & (s->cap - 1);
	}
	s->v[i] = x;
	return true;
}

/*
 * HRANDFIELD / SRANDMEMBER, Redis's rules for count; pinned, no lock.  A
 * distinct count of at least a third of the collection copies it whole and
 * drops random ones (Redis's case 3); fewer are drawn at random, repeats
 * skipped (case 4).
 */
int kv_dict_randmember(kv_ns *ns, const void *key, size_t klen, int kind, int has_count,
                       int64_t count, int withvalues, kv_elems *out)
{
	kv_env *env = ns->env;
	kv_elems_reset(out);
	kv_chdr *h;
	int rc = pin_key(ns, key, klen, kind, &h); /* the kind is checked even for count 0 */
	if (rc != KV_OK || !h)
		return rc;
	if (has_count && count == 0) {
		kv_coll_unpin(env, h);
		return KV_OK;
	}
	bool vals = withvalues && kind == KV_T_HASH;
	size_t per = vals ? 2 : 1;
	uint64_t rng = kv_coll_random(), card = h->card;
	kv_celem el;
	if (!has_count || count < 0) {
		uint64_t n = has_count ? (count == INT64_MIN ? (uint64_t)INT64_MAX + 1 : (uint64_t)-count) : 1;
		for (uint64_t i = 0; i < n && rc == KV_OK; i++) {
			kv_dict_random(env, h, &rng, &el);
			rc = kv_elems_push(env, out, el.p, el.len, 0);
			if (rc == KV_OK && vals)
				rc = kv_elems_push(env, out, el.v, el.vlen, 0);
		}
	} else if ((uint64_t)count * 3 > card) {
		pick_all c = {env, out, vals};
		uint64_t cur = 0;
		do
			rc = h->kind == KV_T_HASH || h->kind == KV_T_SET
			             ? kv_kind_ops_of(h->kind)->scan(env, h, &cur, KV_COLL_HOLD, pick_emit, &c)
			             : KV_EINVAL;
		while (rc == KV_OK && cur);
		/* keep count of them: a partial Fisher-Yates over the element groups */
		size_t groups = out->n / per, want = (uint64_t)count < groups ? (size_t)count : groups;
		for (size_t i = 0; i < want && rc == KV_OK; i++) {
			rng = rng * 6364136223846793005ull + 1442695040888963407ull;
			size_t j = i + (size_t)((rng >> 11) % (groups - i));
			for (size_t k = 0; k < per; k++) {
				kv_elem t = out->v[i * per + k];
				out->v[i * per + k] = out->v[j * per + k];
				out->v[j * per + k] = t;
			}
		}
		out->n = want * per;
	} else {
		size_t cap = 16;
		while (cap < (size_t)count * 2)
			cap *= 2;
		hset64 s = {kv_mem_realloc(env, NULL, cap * sizeof(uint64_t)), cap};
		if (!s.v) {
			rc = KV_ENOMEM;
		} else {
			memset(s.v, 0, cap * sizeof(uint64_t));
			for (uint64_t got = 0; got < (uint64_t)count && rc == KV_OK;) {
				kv_dict_random(env, h, &rng, &el);
				if (!hset64_add(&s, XXH3_64bits(el.p, el.len)))
					continue;
				got++;
				rc = kv_elems_push(env, out, el.p, el.len, 0);
				if (rc == KV_OK && vals)
					rc = kv_elems_push(env, out, el.v, el.vlen, 0);
			}
			kv_mem_realloc(env, s.v, 0);
		}
	}
	kv_coll_unpin(env, h);
	if (rc != KV_OK)
		kv_elems_reset(out);
	return rc;
}

KV_API int kv_hrandfield(kv_ns *ns, const void *key, size_t klen, int has_count, int64_t count,
                         int withvalues, kv_elems *out)
{
	return kv_dict_randmember(ns, key, klen, KV_T_HASH, has_count, count, withvalues, out);
}
