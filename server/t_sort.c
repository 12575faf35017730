/*
 * t_sort.c -- SORT and SORT_RO over a list, set or sorted set, as Redis 7.0's
 * sortCommandGeneric does it.
 *
 *   SORT key [BY pattern] [LIMIT offset count] [GET pattern ...] [ASC|DESC]
 *        [ALPHA] [STORE destination]          (SORT_RO: no STORE)
 *
 * The elements are copied out of the engine (kv_smembers, kv_lrange,
 * kv_zrange: bounded lock holds), then sorted here with no lock: numerically
 * (an element, or its BY value, that is not a number is Redis's error) or with
 * ALPHA bytewise, ties broken by the element's bytes so the order is
 * deterministic as in Redis.  BY and GET patterns substitute the element for
 * the first '*' and read a string key, or with "->field" a hash field; "#" is
 * the element; a BY pattern without '*' (BY nosort) skips sorting, except for a
 * set stored with STORE, which Redis then sorts ALPHA for a stable result.
 * STORE replaces the destination with the result as a list (deleted if empty):
 * a delete then one push, two engine calls.
 */
#include "server.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>

/* lists and sorted sets land apart from sets (issue 12): until they are
 * linked in, their calls are null and SORT of them (or STORE) is an error */
#pragma weak kv_lrange
#pragma weak kv_push
#pragma weak kv_zrange
#pragma weak kv_zrange_spec_init

typedef struct sortItem {
	const char *p;       /* the element */
	size_t      len;
	double      score;   /* numeric sort */
	char       *by;      /* ALPHA with BY: a copy of the BY value (NULL: none) */
	size_t      bylen;
} sortItem;

typedef struct sortHow {
	int desc, alpha, by;
} sortHow;

static int cmpBytes(const char *a, size_t al, const char *b, size_t bl)
{
	size_t m = al < bl ? al : bl;
	int c = m ? memcmp(a, b, m) : 0;
	return c ? c : (al > bl) - (al < bl);
}

static int cmpItems(const void *x, const void *y, void *ctx)
{
	const sortItem *a = x, *b = y;
	const sortHow *h = ctx;
	int c;
	if (!h->alpha)
		c = a->score > b->score ? 1 : a->score < b->score ? -1 : cmpBytes(a->p, a->len, b->p, b->len);
	else if (h->by)
		c = !a->by && !b->by ? 0 : !a->by ? -1 : !b->by ? 1 : cmpBytes(a->by, a->bylen, b->by, b->bylen);
	else
		c = cmpBytes(a->p, a->len, b->p, b->len);
	return h->desc ? -c : c;
}

/*
 * The value pattern names for element e ("#": e itself): a string key's value,
 * or a hash field's with "->", read into out.  0 found, -1 none (no '*', a
 * missing key or field, a key of another kind).
 */
static int lookupPattern(client *c, const char *pat, size_t plen, const char *e, size_t elen,
                         kv_buf *out, const char **res, size_t *reslen)
{
	if (plen == 1 && pat[0] == '#') {
		*res = e;
		*reslen = elen;
		return 0;
	}
	const char *star = memchr(pat, '*', plen);
	if (star == NULL)
		return -1;
	const char *field = NULL, *end = pat + plen;
	for (const char *f = star + 1; f + 2 < end; f++)
		if (f[0] == '-' && f[1] == '>') {
			field = f + 2;
			break;
		}
	const char *kend = field ? field - 2 : end;
	size_t pre = (size_t)(star - pat), post = (size_t)(kend - star - 1), klen = pre + elen + post;
	char small[256], *key = klen <= sizeof(small) ? small : malloc(klen);
	if (key == NULL)
		return -1;
	memcpy(key, pat, pre);
	if (elen)
		memcpy(key + pre, e, elen);
	memcpy(key + pre + elen, star + 1, post);
	int rc = field ? kv_hget(c->db, key, klen, field, (size_t)(end - field), out)
	               : kv_get(c->db, key, klen, out);
	if (key != small)
		free(key);
	if (rc != KV_OK)
		return -1;
	*res = out->data;
	*reslen = out->len;
	return 0;
}

/* The elements of key (a list, set or zset) into e; a kv status. */
static int sortLoad(client *c, const char *key, size_t klen, int kind, kv_elems *e)
{
	switch (kind) {
	case KV_T_SET:
		return kv_smembers(c->db, key, klen, e);
	case KV_T_LIST:
		return kv_lrange ? kv_lrange(c->db, key, klen, 0, -1, e) : KV_EINVAL;
	case KV_T_ZSET:
		if (kv_zrange && kv_zrange_spec_init) {
			kv_zrange_spec spec;
			kv_zrange_spec_init(&spec);
			return kv_zrange(c->db, key, klen, &spec, e);
		}
		return KV_EINVAL;
	default:
		return KV_EWRONGTYPE;
	}
}

/* The result values, copied (each pattern lookup reuses the worker's buffer). */
typedef struct sortOut {
	char   *bytes;
	size_t  blen, bcap;
	kv_val *v;       /* data NULL: a missing GET (an offset into bytes until sortOutFix) */
	size_t  n;
	int     oom;
} sortOut;

static void sortOutAdd(sortOut *o, const char *p, size_t len, int missing)
{
	if (o->oom)
		return;
	if (o->bytes == NULL || o->blen + len > o->bcap) { /* never NULL: "" is a value */
		size_t ncap = o->bcap ? o->bcap * 2 : 4096;
		while (ncap < o->blen + len)
			ncap *= 2;
		char *nb = realloc(o->bytes, ncap);
		if (nb == NULL) {
			o->oom = 1;
			return;
		}
		o->bytes = nb;
		o->bcap = ncap;
	}
	if (len)
		memcpy(o->bytes + o->blen, p, len);
	o->v[o->n].len = len;
	o->v[o->n++].data = missing ? NULL : (const void *)(uintptr_t)(o->blen + 1);
	o->blen += len;
}

/* Offsets into pointers, once bytes stopped moving. */
static void sortOutFix(sortOut *o)
{
	for (size_t i = 0; i < o->n; i++)
		if (o->v[i].data)
			o->v[i].data = o->bytes + ((uintptr_t)o->v[i].data - 1);
}

static void sortGenericCommand(client *c, int argc, const char **argv, const size_t *lens,
                               int readonly)
{
	int store = 0, dontsort = 0, ngets = 0;
	sortHow how = {0, 0, 0};
	long long offset = 0, count = -1;
	for (int j = 2; j < argc; j++) {
		int left = argc - j - 1;
		if (argEq(argv[j], lens[j], "asc")) {
			how.desc = 0;
		} else if (argEq(argv[j], lens[j], "desc")) {
			how.desc = 1;
		} else if (argEq(argv[j], lens[j], "alpha")) {
			how.alpha = 1;
		} else if (argEq(argv[j], lens[j], "limit") && left >= 2) {
			if (argToLongLongOrReply(c, argv[j + 1], lens[j + 1], &offset) != C_OK ||
			    argToLongLongOrReply(c, argv[j + 2], lens[j + 2], &count) != C_OK)
				return;
			j += 2;
		} else if (!readonly && argEq(argv[j], lens[j], "store") && left >= 1) {
			store = ++j;
		} else if (argEq(argv[j], lens[j], "by") && left >= 1) {
			how.by = ++j;
			dontsort = memchr(argv[j], '*', lens[j]) == NULL;
		} else if (argEq(argv[j], lens[j], "get") && left >= 1) {
			j++;
			ngets++;
		} else {
			replySyntax(c);
			return;
		}
	}
	int kind = 0;
	int rc = kv_kind(c->db, argv[1], lens[1], &kind);
	if (rc != KV_OK && rc != KV_NOTFOUND && replyKvError(c, rc))
		return;
	if (rc == KV_OK && kind != KV_T_LIST && kind != KV_T_SET && kind != KV_T_ZSET) {
		replyKvError(c, KV_EWRONGTYPE);
		return;
	}
	kv_elems e = KV_ELEMS_INIT;
	sortItem *items = NULL;
	sortOut o = {0};
	size_t n = 0;
	if (rc == KV_OK && (rc = sortLoad(c, argv[1], lens[1], kind, &e)) != KV_OK) {
		replyKvError(c, rc);
		goto out;
	}
	/* a set has no order of its own: stored, it is sorted for a stable result */
	if (dontsort && kind == KV_T_SET && store) {
		dontsort = 0;
		how.alpha = 1;
		how.by = 0;
	}
	n = e.n;
	long long start = offset < 0 ? 0 : offset;
	long long end = count < 0 ? (long long)n - 1 : start + count - 1;
	if (start >= (long long)n) {
		start = (long long)n - 1;
		end = (long long)n - 2;
	}
	if (end >= (long long)n)
		end = (long long)n - 1;
	if (n && (items = calloc(n, sizeof(*items))) == NULL) {
		replyKvError(c, KV_ENOMEM);
		goto out;
	}
	kv_buf *tmp = &c->w->buf;
	for (size_t i = 0; i < n; i++) {
		items[i].p = e.bytes.data + e.v[i].off;
		items[i].len = e.v[i].len;
	}
	for (size_t i = 0; i < n && !dontsort; i++) {
		const char *v = items[i].p;
		size_t vl = items[i].len;
		int found = !how.by || lookupPattern(c, argv[how.by], lens[how.by], items[i].p, items[i].len,
		                                     tmp, &v, &vl) == 0;
		if (how.alpha) {
			if (how.by && found) {
				if ((items[i].by = malloc(vl ? vl : 1)) == NULL) {
					replyKvError(c, KV_ENOMEM);
					goto out;
				}
				if (vl)
					memcpy(items[i].by, v, vl);
				items[i].bylen = vl;
			}
		} else if (found) { /* a missing BY key scores 0 */
			char num[128], *endp;
			if (vl >= sizeof(num))
				goto notnum;
			memcpy(num, v, vl);
			num[vl] = '\0';
			errno = 0;
			items[i].score = strtod(num, &endp);
			if (*endp || isnan(items[i].score) || errno == ERANGE)
				goto notnum;
		}
	}
	if (!dontsort && n)
		qsort_r(items, n, sizeof(*items), cmpItems, &how);

	/* [start, end]: each element, or each of its GETs */
	size_t outn = end >= start ? (size_t)(end - start + 1) * (size_t)(ngets ? ngets : 1) : 0;
	if (outn && (o.v = malloc(outn * sizeof(*o.v))) == NULL) {
		replyKvError(c, KV_ENOMEM);
		goto out;
	}
	for (long long i = start; i <= end; i++) {
		if (!ngets)
			sortOutAdd(&o, items[i].p, items[i].len, 0);
		for (int j = 2; ngets && j < argc; j++) {
			if (!argEq(argv[j], lens[j], "get"))
				continue;
			const char *v = NULL;
			size_t vl = 0;
			j++;
			int missing = lookupPattern(c, argv[j], lens[j], items[i].p, items[i].len, tmp, &v, &vl) != 0;
			sortOutAdd(&o, v, missing ? 0 : vl, missing);
		}
	}
	if (o.oom) {
		replyKvError(c, KV_ENOMEM);
		goto out;
	}
	sortOutFix(&o);
	if (!store) {
		addReplyArrayLen(&c->rb, (long long)o.n);
		for (size_t i = 0; i < o.n; i++) {
			if (o.v[i].data)
				addReplyBulk(&c->rb, o.v[i].data, o.v[i].len);
			else
				addReplyNull(&c->rb);
		}
		goto out;
	}
	/* STORE: the result replaces the destination as a list (a missing GET as "") */
	for (size_t i = 0; i < o.n; i++)
		if (o.v[i].data == NULL)
			o.v[i].data = "";
	rc = kv_del(c->db, argv[store], lens[store]);
	if ((rc == KV_OK || rc == KV_NOTFOUND) && o.n) {
		pubsubRenameEvents(KV_EV_RPUSH, "sortstore");
		rc = kv_push ? kv_push(c->db, argv[store], lens[store], KV_RIGHT, o.v, o.n, 0, NULL) : KV_EINVAL;
		pubsubRenameEvents(0, NULL);
	} else if (rc == KV_NOTFOUND) {
		rc = KV_OK;
	}
	if (!replyKvError(c, rc))
		addReplyLongLong(&c->rb, (long long)o.n);
	goto out;
notnum:
	addReplyError(&c->rb, "One or more scores can't be converted into double");
out:
	for (size_t i = 0; i < n && items; i++)
		free(items[i].by);
	free(items);
	free(o.v);
	free(o.bytes);
	kv_elems_free(srv.env, &e);
}

void sortCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	sortGenericCommand(c, argc, argv, lens, 0);
}

void sortroCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	sortGenericCommand(c, argc, argv, lens, 1);
}
