/*
 * kvfunc.c -- the kv_* scalar SQL functions over the shared engine (the
 * table-valued kv_namespaces, kv_scan and kv_keys are in kvnamespaces.c and
 * kvscan.c).
 *
 * Usage:
 *
 *     SELECT kv_set('cache', 'k', 'v');             -- 1
 *     SELECT kv_set('cache', 'k', 'v', 60);         -- with a 60 s TTL
 *     SELECT kv_get('cache', 'k');                  -- 'v' (NULL if missing)
 *     SELECT kv_add('cache', 'k', 'w');             -- 0: exists (1 if added)
 *     SELECT kv_replace('cache', 'k', 'w');         -- 1 (0 if missing)
 *     SELECT kv_incr('cache', 'n'), kv_incr('cache', 'n', 5), kv_incr('cache', 'f', 0.5);
 *     SELECT kv_expire('cache', 'k', 10), kv_ttl('cache', 'k');  -- 1, 10
 *     SELECT kv_consume('cache', 'k');              -- the value, and the key is gone
 *     SELECT kv_exists('cache', 'k'), kv_delete('cache', 'k');
 *     SELECT kv_save('cache', 'cache.kvs'), kv_load('cache', 'cache.kvs');
 *     SELECT kv_save(NULL, 'all.kvs');              -- every namespace
 *     SELECT kv_stats('cache');                     -- JSON object
 *     SELECT kv_flush('cache'), kv_drop('cache');
 *     SELECT * FROM kv_namespaces();
 *     SELECT key, value, expires_at FROM kv_scan('cache', 'user:');
 *     SELECT key FROM kv_keys('cache', 'user:*:[0-9]');  -- Redis glob (KEYS)
 *     SELECT shardkv_version();
 *
 * HOW IT WORKS
 *   Every function takes the namespace name first.  Writes (kv_set, kv_add,
 *   kv_replace, kv_incr, kv_load) create a missing namespace with default
 *   settings; every other call on a missing namespace is an error.  The
 *   namespace handle is looked up once per statement and kept with
 *   sqlite3_set_auxdata while the argument is constant.
 *
 *   The functions are not transactional: each applies at once, as the engine
 *   call it wraps does, whatever transaction the connection is in.  Only the
 *   "kv" table buffers its writes until commit.
 *
 *   TTL arguments are seconds (integer or real, > 0); a NULL or missing TTL
 *   means the namespace's default TTL.  kv_ttl returns -2 for a missing key, -1
 *   for a key without expiry, else the seconds left (as Redis TTL does).
 *
 *   Every function is registered SQLITE_DIRECTONLY, and the table-valued
 *   functions call sqlite3_vtab_config(SQLITE_VTAB_DIRECTONLY): a view or a
 *   trigger in an untrusted schema cannot reach the process-wide store.  For
 *   CHECK constraints see shardkv_register_functions() and "Security" in
 *   sqlite_ext/README.md.
 *
 *   Names and paths arrive as SQL text with a length; one holding a NUL byte
 *   is refused (kvsql_cstr), never passed on shortened.
 */
#include "shardkv_sqlite.h"
#include "kvfunc.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* The function's name, for messages. */
const char *fn_name(sqlite3_context *ctx)
{
	return ((const fn_def *)sqlite3_user_data(ctx))->name;
}

unsigned fn_mode(sqlite3_context *ctx)
{
	return ((const fn_def *)sqlite3_user_data(ctx))->mode;
}

void fn_error(sqlite3_context *ctx, const char *zFmt, ...)
{
	va_list ap;
	char   *z;

	va_start(ap, zFmt);
	z = sqlite3_vmprintf(zFmt, ap);
	va_end(ap);
	if (z == NULL) {
		sqlite3_result_error_nomem(ctx);
		return;
	}
	sqlite3_result_error(ctx, z, -1);
	sqlite3_free(z);
}

void fn_kv_error(sqlite3_context *ctx, int rc)
{
	fn_error(ctx, "%s(): %s", fn_name(ctx), kv_strerror_text(rc));
	sqlite3_result_error_code(ctx, shardkv_sqlite_rc(rc));
}

/* Set the error result from a kvsql_* helper's code and message. */
static void fn_arg_error(sqlite3_context *ctx, int rc, char *zErr)
{
	if (zErr == NULL) {
		sqlite3_result_error_nomem(ctx);
		return;
	}
	sqlite3_result_error(ctx, zErr, -1);
	sqlite3_result_error_code(ctx, rc);
	sqlite3_free(zErr);
}

/* Namespace name argument; on failure the error result is set and -1 returned. */
static int fn_name_arg(sqlite3_context *ctx, sqlite3_value *v, const char **name)
{
	char *zErr = NULL;
	int   rc = kvsql_ns_name_arg(fn_name(ctx), v, name, &zErr);

	if (rc == SQLITE_OK)
		return 0;
	fn_arg_error(ctx, rc, zErr);
	return -1;
}

/*
 * Namespace handle for argument v (cached per statement with auxdata).  On
 * failure the error result is set and NULL returned.
 */
kv_ns *fn_ns(sqlite3_context *ctx, sqlite3_value *v, int create)
{
	kv_ns *ns = sqlite3_get_auxdata(ctx, 0);
	char  *zErr = NULL;
	int    rc;

	if (ns != NULL)
		return ns;
	rc = kvsql_ns_arg(fn_name(ctx), v, create, &ns, &zErr);
	if (rc != SQLITE_OK) {
		fn_arg_error(ctx, rc, zErr);
		return NULL;
	}
	sqlite3_set_auxdata(ctx, 0, ns, NULL);
	return ns;
}

/* Key argument; on failure the error result is set and -1 returned. */
int fn_key(sqlite3_context *ctx, sqlite3_value *v, kvsql_val *k)
{
	if (kvsql_key(v, k) != 0) {
		fn_error(ctx, "%s(): key must not be NULL", fn_name(ctx));
		return -1;
	}
	return 0;
}

/* The (ns, key) arguments of a read or delete: the handle (NULL: the error
 * result is set) and the key in *k.  The namespace is not created. */
static kv_ns *fn_ns_key(sqlite3_context *ctx, sqlite3_value **argv, kvsql_val *k)
{
	if (fn_key(ctx, argv[1], k) != 0)
		return NULL;
	return fn_ns(ctx, argv[0], 0);
}

/* A seconds argument as an absolute expiry; on failure the error result is set and -1 returned. */
static int fn_seconds(sqlite3_context *ctx, sqlite3_value *v, const char *what, const char *nan_msg,
                      int64_t *out)
{
	switch (kvsql_ttl_expiry(v, out)) {
	case 0:
		return 0;
	case KVSQL_TTL_NAN:
		fn_error(ctx, "%s(): %s", fn_name(ctx), nan_msg);
		return -1;
	default:
		fn_error(ctx, "%s(): %s is out of range (the latest expiry is 9999-12-31)", fn_name(ctx), what);
		return -1;
	}
}

/* Optional TTL argument (seconds, > 0) as an absolute expiry or KV_EXPIRE_DEFAULT. */
static int fn_ttl(sqlite3_context *ctx, int argc, sqlite3_value **argv, int i, int64_t *out)
{
	*out = KV_EXPIRE_DEFAULT;
	if (argc <= i || sqlite3_value_type(argv[i]) == SQLITE_NULL)
		return 0;
	if (fn_seconds(ctx, argv[i], "ttl", "ttl must be a positive number of seconds", out) != 0)
		return -1;
	if (!(sqlite3_value_double(argv[i]) > 0)) {
		fn_error(ctx, "%s(): ttl must be a positive number of seconds", fn_name(ctx));
		return -1;
	}
	return 0;
}


/* kv_set / kv_add / kv_replace (ns, key, value [, ttl_seconds]); the mode gives the flags. */
static void setFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	unsigned  flags = fn_mode(ctx);
	kv_ns    *ns;
	kvsql_val k, v;
	int64_t   exp;
	int       rc;

	if (fn_key(ctx, argv[1], &k) != 0 || fn_ttl(ctx, argc, argv, 3, &exp) != 0)
		return;
	kvsql_from_value(argv[2], &v);
	WITH_NS_RETRY(ctx, argv, FN_CREATE, ns,
	              kv_set(ns, k.data, k.len, v.data, v.len, v.type, exp, flags, NULL));
	if (rc == KV_OK)
		sqlite3_result_int(ctx, 1);
	else if (rc == KV_EXISTS || rc == KV_NOTFOUND)
		sqlite3_result_int(ctx, 0);
	else
		fn_kv_error(ctx, rc);
	shardkv_maybe_tick();
}

/* kv_get(ns, key) and kv_consume(ns, key): the value, or NULL. */
static void getFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	int       consume = fn_mode(ctx) == FN_ALT;
	kv_ns    *ns;
	kvsql_val k;
	kv_buf    buf = KV_BUF_INIT;
	int       rc;

	(void)argc;
	ns = fn_ns_key(ctx, argv, &k);
	if (ns == NULL)
		return;
	rc = consume ? kv_consume(ns, k.data, k.len, &buf) : kv_get(ns, k.data, k.len, &buf);
	if (rc == KV_OK)
		kvsql_result(ctx, buf.data, buf.len, buf.type);
	else if (rc != KV_NOTFOUND)
		fn_kv_error(ctx, rc);
	kv_buf_free(shardkv_env(), &buf);
}

/* kv_delete(ns, key) and kv_exists(ns, key): 1 or 0. */
static void keyFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	int       del = fn_mode(ctx) == FN_ALT;
	kv_ns    *ns;
	kvsql_val k;
	int       rc;

	(void)argc;
	ns = fn_ns_key(ctx, argv, &k);
	if (ns == NULL)
		return;
	rc = del ? kv_del(ns, k.data, k.len) : kv_exists(ns, k.data, k.len);
	if (rc == KV_OK || rc == KV_NOTFOUND)
		sqlite3_result_int(ctx, rc == KV_OK);
	else
		fn_kv_error(ctx, rc);
}

/* kv_incr(ns, key [, by]): integer by -> kv_incr, real by -> kv_incr_float. */
static void kvIncrFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	kv_ns    *ns;
	kvsql_val k;
	int       rc, t = SQLITE_INTEGER;

	if (fn_key(ctx, argv[1], &k) != 0)
		return;
	if (argc > 2) {
		t = sqlite3_value_numeric_type(argv[2]);
		if (t != SQLITE_INTEGER && t != SQLITE_FLOAT) {
			fn_error(ctx, "kv_incr(): increment must be a number");
			return;
		}
	}
	if (t == SQLITE_INTEGER) {
		int64_t by = argc > 2 ? sqlite3_value_int64(argv[2]) : 1, result = 0;

		WITH_NS_RETRY(ctx, argv, FN_CREATE, ns, kv_incr(ns, k.data, k.len, by, &result));
		if (rc == KV_OK)
			sqlite3_result_int64(ctx, result);
		else
			fn_kv_error(ctx, rc);
	} else {
		kvsql_val by;
		double    result = 0;

		kvsql_from_value(argv[2], &by); /* shortest round-trip decimal text */
		WITH_NS_RETRY(ctx, argv, FN_CREATE, ns,
		              kv_incr_float(ns, k.data, k.len, by.data, by.len, &result, NULL));
		if (rc == KV_OK)
			sqlite3_result_double(ctx, result);
		else
			fn_kv_error(ctx, rc);
	}
}

/* kv_expire(ns, key, seconds): 1 if the expiry changed, 0 if no such key; NULL seconds persists. */
static void kvExpireFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	kv_ns    *ns;
	kvsql_val k;
	int       rc;

	(void)argc;
	ns = fn_ns_key(ctx, argv, &k);
	if (ns == NULL)
		return;
	if (sqlite3_value_type(argv[2]) == SQLITE_NULL) {
		rc = kv_persist(ns, k.data, k.len);
	} else {
		int64_t at;

		/* zero or negative seconds: a time at or before now deletes the key */
		if (fn_seconds(ctx, argv[2], "seconds", "seconds must be a number", &at) != 0)
			return;
		rc = kv_expire(ns, k.data, k.len, at, 0);
	}
	if (rc == KV_OK || rc == KV_NOTFOUND || rc == KV_UNCHANGED)
		sqlite3_result_int(ctx, rc == KV_OK);
	else
		fn_kv_error(ctx, rc);
}

/* kv_ttl(ns, key): -2 no such key, -1 no expiry, else seconds left. */
static void kvTtlFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	kv_ns    *ns;
	kvsql_val k;
	int64_t   t = 0;
	int       rc;

	(void)argc;
	ns = fn_ns_key(ctx, argv, &k);
	if (ns == NULL)
		return;
	rc = kv_ttl(ns, k.data, k.len, &t);
	if (rc == KV_NOTFOUND)
		sqlite3_result_int(ctx, -2);
	else if (rc != KV_OK)
		fn_kv_error(ctx, rc);
	else if (t == 0)
		sqlite3_result_int(ctx, -1);
	else
		sqlite3_result_int64(ctx, kv_ttl_remaining(t, kv_now_ms(), 1000));
}

/* kv_save(ns, file) / kv_load(ns, file); ns NULL means every namespace. */
static void snapFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	int         load = fn_mode(ctx) == FN_ALT;
	const char *ns = NULL, *path;
	kv_error    err;
	int         rc;

	(void)argc;
	if (sqlite3_value_type(argv[0]) != SQLITE_NULL && fn_name_arg(ctx, argv[0], &ns) != 0)
		return;
	rc = kvsql_cstr(argv[1], &path);
	if (rc == -2) {
		fn_error(ctx, "%s(): file name must not contain NUL bytes", fn_name(ctx));
		return;
	}
	if (rc != 0 || path[0] == '\0') {
		fn_error(ctx, "%s(): file name must not be NULL or empty", fn_name(ctx));
		return;
	}
	memset(&err, 0, sizeof(err));
	rc = load ? shardkv_load(path, ns, &err) : shardkv_save(ns, path, &err);
	if (rc == KV_OK) {
		sqlite3_result_int(ctx, 1);
		return;
	}
	fn_error(ctx, "%s(): %s", fn_name(ctx), err.msg[0] ? err.msg : kv_strerror_text(rc));
	sqlite3_result_error_code(ctx, shardkv_sqlite_rc(rc));
}

/* kv_stats(ns): a JSON object with the namespace's settings and counters. */
static void kvStatsFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	kv_ns      *ns;
	kv_ns_stats st;
	char       *z;
	int         rc;

	(void)argc;
	ns = fn_ns(ctx, argv[0], 0);
	if (ns == NULL)
		return;
	rc = kv_ns_stats_get(ns, &st);
	if (rc != KV_OK) {
		fn_kv_error(ctx, rc);
		return;
	}
	z = sqlite3_mprintf("{\"name\":\"%w\",\"shards\":%u,\"keys\":%llu,\"bytes\":%llu,"
	                    "\"max_keys\":%llu,\"max_memory\":%llu,\"default_ttl_ms\":%lld,"
	                    "\"max_key_size\":%u,\"max_value_size\":%u,\"eviction\":\"%s\","
	                    "\"hits\":%llu,\"misses\":%llu,\"expired\":%llu,\"evicted\":%llu}",
	                    st.name, st.config.shards, (unsigned long long)st.keys,
	                    (unsigned long long)st.bytes, (unsigned long long)st.config.max_keys,
	                    (unsigned long long)st.config.max_memory, (long long)st.config.default_ttl_ms,
	                    st.config.max_key_size, st.config.max_value_size,
	                    kv_evict_policy_name(st.config.eviction, 0), (unsigned long long)st.hits,
	                    (unsigned long long)st.misses, (unsigned long long)st.expired,
	                    (unsigned long long)st.evicted);
	if (z == NULL) {
		sqlite3_result_error_nomem(ctx);
		return;
	}
	sqlite3_result_text(ctx, z, -1, sqlite3_free);
	sqlite3_result_subtype(ctx, 'J'); /* JSON, for the json1 functions */
}

/* kv_flush(ns) / kv_drop(ns): 1. */
static void kvFlushFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	kv_ns *ns;
	int    rc;

	(void)argc;
	ns = fn_ns(ctx, argv[0], 0);
	if (ns == NULL)
		return;
	rc = kv_ns_flush(ns);
	if (rc == KV_OK)
		sqlite3_result_int(ctx, 1);
	else
		fn_kv_error(ctx, rc);
}

static void kvDropFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const char *name;
	int         rc;

	(void)argc;
	if (fn_name_arg(ctx, argv[0], &name) != 0)
		return;
	rc = kv_ns_drop(shardkv_env(), name);
	if (rc == KV_OK)
		sqlite3_result_int(ctx, 1);
	else
		fn_kv_error(ctx, rc);
}

static void versionFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	(void)argc;
	(void)argv;
	sqlite3_result_text(ctx, kv_version(), -1, SQLITE_STATIC);
}

/* ================================================= registration */

/*
 * Every function is SQLITE_DIRECTONLY.  Up to SQLite 3.49 that flag is only
 * enforced on calls the resolver marks as coming from the schema, and it marks
 * only deterministic functions: a CHECK constraint in an attached, untrusted
 * database could call a non-deterministic DIRECTONLY function (views,
 * triggers, DEFAULT clauses and generated columns were refused).  The
 * functions that touch files or whole namespaces are therefore also declared
 * SQLITE_DETERMINISTIC, which makes SQLite refuse them in a CHECK constraint
 * too.  They are idempotent, so the price is small: within one statement,
 * SQLite may run a call with constant arguments once and reuse its result.
 * The other functions cannot pay that price (kv_incr must run once per row);
 * see "Security" in sqlite_ext/README.md.
 */
#define SCHEMA_SAFE SQLITE_DETERMINISTIC

int shardkv_register_functions(sqlite3 *db)
{
	static const fn_def fns[] = {
		{"kv_get",          2, getFunc, 0, 0},
		{"kv_consume",      2, getFunc, FN_ALT, 0},
		{"kv_set",          3, setFunc, 0, 0},
		{"kv_set",          4, setFunc, 0, 0},
		{"kv_add",          3, setFunc, KV_SET_NX, 0},
		{"kv_add",          4, setFunc, KV_SET_NX, 0},
		{"kv_replace",      3, setFunc, KV_SET_XX, 0},
		{"kv_replace",      4, setFunc, KV_SET_XX, 0},
		{"kv_exists",       2, keyFunc, 0, 0},
		{"kv_delete",       2, keyFunc, FN_ALT, 0},
		{"kv_incr",         2, kvIncrFunc, 0, 0},
		{"kv_incr",         3, kvIncrFunc, 0, 0},
		{"kv_expire",       3, kvExpireFunc, 0, 0},
		{"kv_ttl",          2, kvTtlFunc, 0, 0},
		{"kv_save",         2, snapFunc, 0, SCHEMA_SAFE},
		{"kv_load",         2, snapFunc, FN_ALT, SCHEMA_SAFE},
		{"kv_stats",        1, kvStatsFunc, 0, 0},
		{"kv_flush",        1, kvFlushFunc, 0, SCHEMA_SAFE},
		{"kv_drop",         1, kvDropFunc, 0, SCHEMA_SAFE},
		{"shardkv_version", 0, versionFunc, 0, 0},
	};
	int rc = SQLITE_OK;

	for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]) && rc == SQLITE_OK; i++)
		rc = sqlite3_create_function_v2(db, fns[i].name, fns[i].nArg,
		                                SQLITE_UTF8 | SQLITE_DIRECTONLY | fns[i].flags,
		                                (void *)&fns[i], fns[i].xFunc, NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = shardkv_register_namespaces(db);
	if (rc == SQLITE_OK)
		rc = shardkv_register_scan(db);
	if (rc == SQLITE_OK)
		rc = shardkv_register_coll_functions(db);
	if (rc == SQLITE_OK)
		rc = shardkv_register_coll_tvfs(db);
	return rc;
}
