/*
 * kvcoll.c -- the kv_* scalar SQL functions on collections: hashes, sets,
 * sorted sets and lists, and kv_type (the table-valued kv_hgetall,
 * kv_smembers, kv_zrange and kv_lrange are in kvcolltvf.c).
 *
 * Usage:
 *
 *     SELECT kv_hset('app', 'user:1', 'name', 'Ada', 'age', 36);  -- 2 (fields added)
 *     SELECT kv_hget('app', 'user:1', 'age');                      -- '36'
 *     SELECT kv_hincr('app', 'user:1', 'age'), kv_hdel('app', 'user:1', 'name');
 *     SELECT kv_sadd('app', 'tags', 'a', 'b'), kv_sismember('app', 'tags', 'a');
 *     SELECT kv_zadd('app', 'board', 'ada', 120, 'gt ch'), kv_zscore('app', 'board', 'ada');
 *     SELECT kv_zrank('app', 'board', 'ada', 1);                   -- rank from the top
 *     SELECT kv_rpush('app', 'jobs', 'j1', 'j2'), kv_lpop('app', 'jobs'), kv_llen('app', 'jobs');
 *     SELECT kv_type('app', 'board');                              -- 'zset'
 *
 * HOW IT WORKS
 *   As kvfunc.c: the namespace comes first; writes create a missing namespace,
 *   reads of a missing one are an error.  Each function is one engine call.
 *   Fields, members and list elements are bytes: TEXT and BLOB arguments as
 *   they are, numbers as their text (as keys are); they read back as TEXT when
 *   they are valid UTF-8, else as BLOB.  Scores are REAL.  A NULL field,
 *   member, value or score is an error.  A call on a key of another kind
 *   fails with the engine's WRONGTYPE text.
 */
#include "shardkv_sqlite.h"
#include "kvfunc.h"

#include <math.h>
#include <string.h>

/* ------------------------------------------------------------ arguments */

/* Element argument (field, member, value) into *e (a number's text lives in
 * e->num); -1 with the error result set if NULL. */
static int fn_elem(sqlite3_context *ctx, sqlite3_value *v, const char *what, kvsql_val *e)
{
	if (kvsql_key(v, e) != 0) {
		fn_error(ctx, "%s(): %s must not be NULL", fn_name(ctx), what);
		return -1;
	}
	return 0;
}

/* WITH_NS_RETRY for a call that owns mem (sqlite3_malloc'd): freed if the
 * namespace argument fails. */
#define WITH_NS_RETRY_FREE(ctx, argv, create, ns, call, mem)                     \
	do {                                                                     \
		if (fn_ns((ctx), (argv)[0], (create)) == NULL) {                 \
			sqlite3_free(mem);                                       \
			return;                                                  \
		}                                                                \
		WITH_NS_RETRY(ctx, argv, create, ns, call);                      \
	} while (0)

/*
 * Elements argv[first..argc) as kv_vals; a number's text is kept in a
 * sqlite3_malloc'd block after the array.  NULL with the error result set.
 */
static kv_val *fn_elems(sqlite3_context *ctx, int argc, sqlite3_value **argv, int first,
                        const char *what)
{
	size_t  n = (size_t)(argc - first), extra = 0, used = 0;
	kv_val *v;
	char   *num;

	for (int i = first; i < argc; i++)
		if (sqlite3_value_type(argv[i]) == SQLITE_INTEGER || sqlite3_value_type(argv[i]) == SQLITE_FLOAT)
			extra += sizeof(((kvsql_val *)0)->num);
	v = sqlite3_malloc64(n * sizeof(*v) + extra + 1);
	if (v == NULL) {
		sqlite3_result_error_nomem(ctx);
		return NULL;
	}
	num = (char *)(v + n);
	for (int i = first; i < argc; i++) {
		kvsql_val e;
		kv_val   *o = &v[i - first];

		if (kvsql_key(argv[i], &e) != 0) {
			fn_error(ctx, "%s(): %s must not be NULL", fn_name(ctx), what);
			sqlite3_free(v);
			return NULL;
		}
		o->len = e.len;
		o->data = e.data;
		if (e.data == e.num) {
			memcpy(num + used, e.num, e.len);
			o->data = num + used;
			used += sizeof(e.num);
		}
	}
	return v;
}

/* Score argument: a number (not NaN); -1 with the error result set. */
static int fn_score(sqlite3_context *ctx, sqlite3_value *v, const char *what, double *out)
{
	int t = sqlite3_value_numeric_type(v);

	if (t != SQLITE_INTEGER && t != SQLITE_FLOAT) {
		fn_error(ctx, "%s(): %s must be a number", fn_name(ctx), what);
		return -1;
	}
	*out = sqlite3_value_double(v);
	if (isnan(*out)) {
		fn_error(ctx, "%s(): %s must not be NaN", fn_name(ctx), what);
		return -1;
	}
	return 0;
}

/* An element as the result: TEXT if valid UTF-8, else BLOB (as keys are). */
static void result_elem(sqlite3_context *ctx, const kv_elems *e, size_t i)
{
	kvsql_result_key(ctx, e->bytes.data + e->v[i].off, e->v[i].len);
}

/* ------------------------------------------------------------ any kind */

/* kv_type(ns, key): 'string', 'hash', 'set', 'zset', 'list', or NULL if missing. */
static void typeFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	kv_ns      *ns;
	kvsql_val   k;
	int         kind = 0, rc;
	const char *name;

	(void)argc;
	if (fn_key(ctx, argv[1], &k) != 0 || (ns = fn_ns(ctx, argv[0], 0)) == NULL)
		return;
	rc = kv_kind(ns, k.data, k.len, &kind);
	if (rc == KV_NOTFOUND)
		return;
	if (rc != KV_OK) {
		fn_kv_error(ctx, rc);
		return;
	}
	name = kv_kind_name(kind);
	sqlite3_result_text(ctx, name ? name : "string", -1, SQLITE_STATIC);
}

/* kv_hlen / kv_scard / kv_zcard / kv_llen (ns, key): elements, 0 if missing; the kind is the mode. */
static void cardFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	kv_ns    *ns;
	kvsql_val k;
	uint64_t  n = 0;
	int       rc;

	(void)argc;
	if (fn_key(ctx, argv[1], &k) != 0 || (ns = fn_ns(ctx, argv[0], 0)) == NULL)
		return;
	rc = kv_card(ns, k.data, k.len, (int)fn_mode(ctx), &n);
	if (rc != KV_OK)
		fn_kv_error(ctx, rc);
	else
		sqlite3_result_int64(ctx, (sqlite3_int64)n);
}

/* ---------------------------------------------------------------- hashes */

/* kv_hset(ns, key, field, value [, field, value ...]): fields added. */
static void hsetFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	kv_ns    *ns;
	kvsql_val k;
	kv_val   *fv;
	uint64_t  added = 0;
	int       rc;

	if (argc < 4 || argc % 2 != 0) {
		fn_error(ctx, "kv_hset(): wrong number of arguments (ns, key, then field, value pairs)");
		return;
	}
	if (fn_key(ctx, argv[1], &k) != 0 || (fv = fn_elems(ctx, argc, argv, 2, "field or value")) == NULL)
		return;
	WITH_NS_RETRY_FREE(ctx, argv, FN_CREATE, ns,
	                   kv_hset(ns, k.data, k.len, fv, (size_t)(argc - 2) / 2, 0, &added), fv);
	if (rc == KV_OK)
		sqlite3_result_int64(ctx, (sqlite3_int64)added);
	else
		fn_kv_error(ctx, rc);
	sqlite3_free(fv);
	shardkv_maybe_tick();
}

/* kv_hget(ns, key, field): the value, or NULL. */
static void hgetFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	kv_ns    *ns;
	kvsql_val k;
	kvsql_val f;
	kv_buf    buf = KV_BUF_INIT;
	int       rc;

	(void)argc;
	if (fn_key(ctx, argv[1], &k) != 0 || fn_elem(ctx, argv[2], "field", &f) != 0 ||
	    (ns = fn_ns(ctx, argv[0], 0)) == NULL)
		return;
	rc = kv_hget(ns, k.data, k.len, f.data, f.len, &buf);
	if (rc == KV_OK)
		kvsql_result_key(ctx, buf.data, buf.len);
	else if (rc != KV_NOTFOUND)
		fn_kv_error(ctx, rc);
	kv_buf_free(shardkv_env(), &buf);
}

/* kv_hdel / kv_srem / kv_zrem (ns, key, element, ...): how many existed; the kind is the mode. */
static void removeFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	int       kind = (int)fn_mode(ctx);
	kv_ns    *ns;
	kvsql_val k;
	kv_val   *v;
	uint64_t  removed = 0;
	size_t    n = (size_t)(argc - 2);
	int       rc;

	if (argc < 3) {
		fn_error(ctx, "%s(): wrong number of arguments (ns, key, then one or more %s)",
		         fn_name(ctx), kind == KV_T_HASH ? "fields" : "members");
		return;
	}
	if (fn_key(ctx, argv[1], &k) != 0 ||
	    (v = fn_elems(ctx, argc, argv, 2, kind == KV_T_HASH ? "field" : "member")) == NULL)
		return;
	if ((ns = fn_ns(ctx, argv[0], 0)) == NULL) {
		sqlite3_free(v);
		return;
	}
	if (kind == KV_T_HASH)
		rc = kv_hdel(ns, k.data, k.len, v, n, &removed);
	else if (kind == KV_T_SET)
		rc = kv_srem(ns, k.data, k.len, v, n, &removed);
	else
		rc = kv_zrem(ns, k.data, k.len, v, n, &removed);
	if (rc == KV_OK)
		sqlite3_result_int64(ctx, (sqlite3_int64)removed);
	else
		fn_kv_error(ctx, rc);
	sqlite3_free(v);
}

/* kv_hincr(ns, key, field [, by]): integer by -> HINCRBY, real by -> HINCRBYFLOAT. */
static void hincrFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	kv_ns    *ns;
	kvsql_val k, f;
	int       rc, t = SQLITE_INTEGER;

	if (fn_key(ctx, argv[1], &k) != 0 || fn_elem(ctx, argv[2], "field", &f) != 0)
		return;
	if (argc > 3) {
		t = sqlite3_value_numeric_type(argv[3]);
		if (t != SQLITE_INTEGER && t != SQLITE_FLOAT) {
			fn_error(ctx, "kv_hincr(): increment must be a number");
			return;
		}
	}
	if (t == SQLITE_INTEGER) {
		int64_t by = argc > 3 ? sqlite3_value_int64(argv[3]) : 1, result = 0;

		WITH_NS_RETRY(ctx, argv, FN_CREATE, ns,
		              kv_hincr(ns, k.data, k.len, f.data, f.len, by, &result));
		if (rc == KV_OK)
			sqlite3_result_int64(ctx, result);
		else if (rc == KV_ENOTINT)
			fn_error(ctx, "kv_hincr(): hash value is not an integer");
		else
			fn_kv_error(ctx, rc);
	} else {
		kvsql_val by;
		double    result = 0;

		kvsql_from_value(argv[3], &by); /* shortest round-trip decimal text */
		WITH_NS_RETRY(ctx, argv, FN_CREATE, ns,
		              kv_hincr_float(ns, k.data, k.len, f.data, f.len, by.data, by.len, &result, NULL));
		if (rc == KV_OK)
			sqlite3_result_double(ctx, result);
		else if (rc == KV_ENOTFLOAT)
			fn_error(ctx, "kv_hincr(): hash value is not a float");
		else
			fn_kv_error(ctx, rc);
	}
	shardkv_maybe_tick();
}

/* ------------------------------------------------------------------ sets */

/* kv_sadd(ns, key, member, ...): members added. */
static void saddFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	kv_ns    *ns;
	kvsql_val k;
	kv_val   *m;
	uint64_t  added = 0;
	int       rc;

	if (argc < 3) {
		fn_error(ctx, "kv_sadd(): wrong number of arguments (ns, key, then one or more members)");
		return;
	}
	if (fn_key(ctx, argv[1], &k) != 0 || (m = fn_elems(ctx, argc, argv, 2, "member")) == NULL)
		return;
	WITH_NS_RETRY_FREE(ctx, argv, FN_CREATE, ns,
	                   kv_sadd(ns, k.data, k.len, m, (size_t)(argc - 2), &added), m);
	if (rc == KV_OK)
		sqlite3_result_int64(ctx, (sqlite3_int64)added);
	else
		fn_kv_error(ctx, rc);
	sqlite3_free(m);
	shardkv_maybe_tick();
}

/* kv_sismember(ns, key, member): 1 or 0. */
static void sismemberFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	kv_ns    *ns;
	kvsql_val k;
	kvsql_val m;
	int       rc;

	(void)argc;
	if (fn_key(ctx, argv[1], &k) != 0 || fn_elem(ctx, argv[2], "member", &m) != 0 ||
	    (ns = fn_ns(ctx, argv[0], 0)) == NULL)
		return;
	rc = kv_sismember(ns, k.data, k.len, m.data, m.len);
	if (rc == KV_OK || rc == KV_NOTFOUND)
		sqlite3_result_int(ctx, rc == KV_OK);
	else
		fn_kv_error(ctx, rc);
}

/* ----------------------------------------------------------- sorted sets */

/* ZADD's options: words nx, xx, gt, lt, ch separated by blanks or commas, any case. */
static int zadd_options(sqlite3_context *ctx, sqlite3_value *v, unsigned *flags)
{
	static const struct { const char *word; unsigned flag; } words[] = {
		{"nx", KV_ZADD_NX}, {"xx", KV_ZADD_XX}, {"gt", KV_ZADD_GT},
		{"lt", KV_ZADD_LT}, {"ch", KV_ZADD_CH},
	};
	const unsigned char *s = sqlite3_value_text(v);
	int                  n = sqlite3_value_bytes(v);

	*flags = 0;
	if (sqlite3_value_type(v) == SQLITE_NULL)
		return 0;
	for (int i = 0; i < n;) {
		int    j = i;
		size_t w;

		if (s[i] == ' ' || s[i] == ',' || s[i] == '\t') {
			i++;
			continue;
		}
		while (j < n && s[j] != ' ' && s[j] != ',' && s[j] != '\t')
			j++;
		for (w = 0; w < sizeof(words) / sizeof(words[0]); w++)
			if (j - i == 2 && sqlite3_strnicmp((const char *)s + i, words[w].word, 2) == 0)
				break;
		if (w == sizeof(words) / sizeof(words[0])) {
			fn_error(ctx, "kv_zadd(): invalid option \"%.*s\" (nx, xx, gt, lt, ch)", j - i > 40 ? 40 : j - i,
			         (const char *)s + i);
			return -1;
		}
		*flags |= words[w].flag;
		i = j;
	}
	return 0;
}

/* kv_zadd(ns, key, member, score [, options]): members added (with ch: added or changed). */
static void zaddFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	kv_ns     *ns;
	kvsql_val  k, mk;
	kv_zmember m;
	unsigned   flags = 0;
	uint64_t   count = 0;
	int        rc;

	if (fn_key(ctx, argv[1], &k) != 0)
		return;
	if (fn_elem(ctx, argv[2], "member", &mk) != 0)
		return;
	m.member.data = mk.data;
	m.member.len = mk.len;
	if (fn_score(ctx, argv[3], "score", &m.score) != 0 ||
	    (argc > 4 && zadd_options(ctx, argv[4], &flags) != 0))
		return;
	WITH_NS_RETRY(ctx, argv, FN_CREATE, ns, kv_zadd(ns, k.data, k.len, &m, 1, flags, &count, NULL));
	if (rc == KV_OK || rc == KV_UNCHANGED)
		sqlite3_result_int64(ctx, (sqlite3_int64)count);
	else if (rc == KV_EINVAL)
		fn_error(ctx, "kv_zadd(): %s", (flags & KV_ZADD_NX) && (flags & KV_ZADD_XX)
		         ? "XX and NX options at the same time are not compatible"
		         : "GT, LT, and/or NX options at the same time are not compatible");
	else
		fn_kv_error(ctx, rc);
	shardkv_maybe_tick();
}

/* kv_zincr(ns, key, member, by): the new score. */
static void zincrFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	kv_ns    *ns;
	kvsql_val k, mk;
	double    by, result = 0;
	int       rc;

	(void)argc;
	if (fn_key(ctx, argv[1], &k) != 0)
		return;
	if (fn_elem(ctx, argv[2], "member", &mk) != 0)
		return;
	if (fn_score(ctx, argv[3], "increment", &by) != 0)
		return;
	WITH_NS_RETRY(ctx, argv, FN_CREATE, ns, kv_zincr(ns, k.data, k.len, mk.data, mk.len, by, &result));
	if (rc == KV_OK)
		sqlite3_result_double(ctx, result);
	else if (rc == KV_ENOTFLOAT)
		fn_error(ctx, "kv_zincr(): resulting score is not a number (NaN)");
	else
		fn_kv_error(ctx, rc);
	shardkv_maybe_tick();
}

/* kv_zscore(ns, key, member): the score, or NULL. */
static void zscoreFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	kv_ns    *ns;
	kvsql_val k;
	kvsql_val m;
	double    score = 0;
	int       rc;

	(void)argc;
	if (fn_key(ctx, argv[1], &k) != 0 || fn_elem(ctx, argv[2], "member", &m) != 0 ||
	    (ns = fn_ns(ctx, argv[0], 0)) == NULL)
		return;
	rc = kv_zscore(ns, k.data, k.len, m.data, m.len, &score);
	if (rc == KV_OK)
		sqlite3_result_double(ctx, score);
	else if (rc != KV_NOTFOUND)
		fn_kv_error(ctx, rc);
}

/* kv_zrank(ns, key, member [, rev]): 0-based rank (from the top with rev true), or NULL. */
static void zrankFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	kv_ns    *ns;
	kvsql_val k;
	kvsql_val m;
	uint64_t  rank = 0;
	int       rc, rev = argc > 3 && sqlite3_value_int(argv[3]) != 0;

	if (fn_key(ctx, argv[1], &k) != 0 || fn_elem(ctx, argv[2], "member", &m) != 0 ||
	    (ns = fn_ns(ctx, argv[0], 0)) == NULL)
		return;
	rc = kv_zrank(ns, k.data, k.len, m.data, m.len, rev, &rank, NULL);
	if (rc == KV_OK)
		sqlite3_result_int64(ctx, (sqlite3_int64)rank);
	else if (rc != KV_NOTFOUND)
		fn_kv_error(ctx, rc);
}

/* ----------------------------------------------------------------- lists */

/* kv_lpush / kv_rpush (ns, key, value, ...): the new length; the side is the mode. */
static void pushFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	kv_ns    *ns;
	kvsql_val k;
	kv_val   *v;
	uint64_t  len = 0;
	int       rc;

	if (argc < 3) {
		fn_error(ctx, "%s(): wrong number of arguments (ns, key, then one or more values)", fn_name(ctx));
		return;
	}
	if (fn_key(ctx, argv[1], &k) != 0 || (v = fn_elems(ctx, argc, argv, 2, "value")) == NULL)
		return;
	WITH_NS_RETRY_FREE(ctx, argv, FN_CREATE, ns,
	                   kv_push(ns, k.data, k.len, (int)fn_mode(ctx), v, (size_t)(argc - 2), 0, &len), v);
	if (rc == KV_OK)
		sqlite3_result_int64(ctx, (sqlite3_int64)len);
	else
		fn_kv_error(ctx, rc);
	sqlite3_free(v);
	shardkv_maybe_tick();
}

/* kv_lpop / kv_rpop (ns, key): one element, or NULL; the side is the mode. */
static void popFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	kv_ns    *ns;
	kvsql_val k;
	kv_elems  e = KV_ELEMS_INIT;
	int       rc;

	(void)argc;
	if (fn_key(ctx, argv[1], &k) != 0 || (ns = fn_ns(ctx, argv[0], 0)) == NULL)
		return;
	rc = kv_pop(ns, k.data, k.len, (int)fn_mode(ctx), 0, 0, &e);
	if (rc == KV_OK && e.n > 0)
		result_elem(ctx, &e, 0);
	else if (rc != KV_OK && rc != KV_NOTFOUND)
		fn_kv_error(ctx, rc);
	kv_elems_free(shardkv_env(), &e);
}

/* ================================================= registration */

int shardkv_register_coll_functions(sqlite3 *db)
{
	static const fn_def fns[] = {
		{"kv_type",      2, typeFunc, 0, 0},
		{"kv_hset",     -1, hsetFunc, 0, 0},
		{"kv_hget",      3, hgetFunc, 0, 0},
		{"kv_hdel",     -1, removeFunc, KV_T_HASH, 0},
		{"kv_hincr",     3, hincrFunc, 0, 0},
		{"kv_hincr",     4, hincrFunc, 0, 0},
		{"kv_hlen",      2, cardFunc, KV_T_HASH, 0},
		{"kv_sadd",     -1, saddFunc, 0, 0},
		{"kv_srem",     -1, removeFunc, KV_T_SET, 0},
		{"kv_sismember", 3, sismemberFunc, 0, 0},
		{"kv_scard",     2, cardFunc, KV_T_SET, 0},
		{"kv_zadd",      4, zaddFunc, 0, 0},
		{"kv_zadd",      5, zaddFunc, 0, 0},
		{"kv_zincr",     4, zincrFunc, 0, 0},
		{"kv_zscore",    3, zscoreFunc, 0, 0},
		{"kv_zrank",     3, zrankFunc, 0, 0},
		{"kv_zrank",     4, zrankFunc, 0, 0},
		{"kv_zrem",     -1, removeFunc, KV_T_ZSET, 0},
		{"kv_zcard",     2, cardFunc, KV_T_ZSET, 0},
		{"kv_lpush",    -1, pushFunc, KV_LEFT, 0},
		{"kv_rpush",    -1, pushFunc, KV_RIGHT, 0},
		{"kv_lpop",      2, popFunc, KV_LEFT, 0},
		{"kv_rpop",      2, popFunc, KV_RIGHT, 0},
		{"kv_llen",      2, cardFunc, KV_T_LIST, 0},
	};
	int rc = SQLITE_OK;

	/* DIRECTONLY as every kv_* function (see kvfunc.c's registration) */
	for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]) && rc == SQLITE_OK; i++)
		rc = sqlite3_create_function_v2(db, fns[i].name, fns[i].nArg,
		                                SQLITE_UTF8 | SQLITE_DIRECTONLY | fns[i].flags,
		                                (void *)&fns[i], fns[i].xFunc, NULL, NULL, NULL);
	return rc;
}
