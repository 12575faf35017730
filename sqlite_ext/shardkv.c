/*
 * shardkv.c -- SQLite extension over the shardkv engine: entry point,
 * process-global store, and translation of values and errors.
 *
 * Usage (sqlite3 shell):
 *
 *     .load ./build/shardkv
 *     CREATE VIRTUAL TABLE cache USING kv(namespace=sessions, default_ttl=3600);
 *     INSERT INTO cache(key, value) VALUES ('user:1', 'alice');
 *     SELECT value FROM cache WHERE key = 'user:1';        -- direct lookup
 *     SELECT kv_set('counters', 'hits', 0), kv_incr('counters', 'hits');
 *     SELECT * FROM kv_scan('sessions', 'user:');
 *
 * From C, statically linked (compiled with -DSQLITE_CORE):
 *
 *     sqlite3_auto_extension((void (*)(void))sqlite3_shardkv_init);
 *
 * HOW IT WORKS
 *   The engine is process-global.  The first call of sqlite3_shardkv_init in a
 *   process opens one kv_env in ordinary process memory (mode a; its size comes
 *   from the SHARDKV_MEMORY environment variable, default 1 GiB of address
 *   space whose pages the kernel commits only when touched).  Every connection
 *   on every thread then sees the same namespaces.
 *
 *   As a loadable extension the entry point returns SQLITE_OK_LOAD_PERMANENTLY,
 *   so the shared object stays mapped (and the store alive) after the
 *   connection that loaded it closes, and it registers itself with
 *   sqlite3_auto_extension, so every connection opened later in the process has
 *   the module and functions without another .load.
 *
 *   Namespace handles (kv_ns) are cached process-wide by name in the engine's
 *   kv_nscache: a handle follows its name across a drop and re-create, so it
 *   never needs closing, and a lookup that hits takes no lock.  The SQL
 *   functions skip even that with sqlite3_get_auxdata when the namespace
 *   argument is a constant.
 *
 *   Values keep their SQLite type through the engine's type tag: INTEGER is
 *   KV_T_INT (decimal text), REAL is KV_T_REAL (shortest round-trip text),
 *   TEXT is KV_T_TEXT, BLOB is KV_T_BYTES and NULL is KV_T_NULL.  Values written
 *   by other hosts come back as BLOB (KV_T_BYTES) or TEXT (KV_T_TEXT, KV_T_JSON).
 */
#define SHARDKV_SQLITE_MAIN
#include "shardkv_sqlite.h"

#ifndef SQLITE_CORE
SQLITE_EXTENSION_INIT1
#endif

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>


/* ------------------------------------------------------- process state */

static pthread_mutex_t g_mutex = PTHREAD_MUTEX_INITIALIZER;
static kv_env         *g_env;           /* written once under g_mutex */
static kv_nscache     *g_nscache;       /* handles by name, opened with g_env, never closed */
static _Atomic int64_t g_last_tick;
static char           *g_snapdir;       /* SHARDKV_SNAPSHOT_DIR, written once with g_env */

kv_env *shardkv_env(void)
{
	return g_env;
}

const char *shardkv_snapshot_dir(void)
{
	return g_snapdir;
}

/* On every CPU, like a load: the save's extra threads call nothing of SQLite
 * (no host allocator is installed) and are joined before the call returns. */
int shardkv_save(const char *ns, const char *file, kv_error *err)
{
	return kv_save_threads(g_env, ns, g_snapdir, file, 0, err);
}

/* On every CPU: the engine's load threads call nothing of SQLite or of the
 * application (no hook, no allocator callback), block signals and are joined
 * before the call returns, so any SQLITE_THREADSAFE mode is fine. */
int shardkv_load(const char *file, const char *ns, kv_error *err)
{
	return kv_load_threads(g_env, g_snapdir, file, ns, NULL, 0, err);
}

/* SHARDKV_SNAPSHOT_DIR: must name a directory; kept as given (the engine opens it per call). */
static int snapdir_init(char **pzErrMsg)
{
	const char *dir = getenv("SHARDKV_SNAPSHOT_DIR");
	struct stat st;

	if (dir == NULL || *dir == '\0')
		return KV_OK;
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		if (pzErrMsg)
			*pzErrMsg = sqlite3_mprintf("SHARDKV_SNAPSHOT_DIR \"%.200s\" is not a directory", dir);
		return KV_EINVAL;
	}
	g_snapdir = strdup(dir);
	return g_snapdir ? KV_OK : KV_ENOMEM;
}

/* Open the store once per process.  Returns a KV_* code; msg on failure. */
static int env_init(char **pzErrMsg)
{
	kv_config cfg;
	int       rc = KV_OK;

	pthread_mutex_lock(&g_mutex);
	if (g_env == NULL) {
		const char *mem = getenv("SHARDKV_MEMORY");

		kv_config_init(&cfg);
		if (mem != NULL && *mem != '\0') {
			uint64_t bytes;

			if (kv_parse_size(mem, strlen(mem), &bytes) != KV_OK) {
				if (pzErrMsg)
					*pzErrMsg = sqlite3_mprintf("invalid SHARDKV_MEMORY value \"%.60s\" (bytes, or a "
					                            "number with b, k, kb, m, mb, g, gb)", mem);
				pthread_mutex_unlock(&g_mutex);
				return KV_EINVAL;
			}
			if (bytes > KV_REGION_MAX) {
				if (pzErrMsg)
					*pzErrMsg = sqlite3_mprintf("SHARDKV_MEMORY value \"%.60s\" is too large "
					                            "(at most %llu GiB)", mem,
					                            (unsigned long long)(KV_REGION_MAX >> 30));
				pthread_mutex_unlock(&g_mutex);
				return KV_EINVAL;
			}
			cfg.memory = (size_t)bytes;
		}
		rc = snapdir_init(pzErrMsg);
		if (rc != KV_OK) {
			pthread_mutex_unlock(&g_mutex);
			return rc;
		}
		rc = kv_env_open(&cfg, &g_env);
		if (rc == KV_OK && (rc = kv_nscache_open(g_env, &g_nscache)) != KV_OK) {
			kv_env_close(g_env);
			g_env = NULL;
		}
		if (rc != KV_OK) {
			g_env = NULL;
			if (pzErrMsg)
				*pzErrMsg = sqlite3_mprintf("shardkv: cannot open the store: %s", kv_strerror_text(rc));
		}
	}
	pthread_mutex_unlock(&g_mutex);
	return rc;
}

int shardkv_ns(const char *name, int create, const kv_ns_config *cfg, kv_ns **out, int *created)
{
	size_t      len = strlen(name);
	kv_ns_stats st;
	int         rc;

	if (created)
		*created = 0;
	rc = kv_nscache_get(g_nscache, name, len, out);
	if (rc == KV_OK) {
		/* a cached handle follows drops: create the namespace again if asked */
		if (!create || kv_ns_stats_get(*out, &st) != KV_ENONS)
			return KV_OK;
	} else if (rc != KV_ENONS || !create) {
		return rc;
	}
	/* the engine's create decides a race: one caller gets created = 1 */
	rc = kv_ns_create(g_env, name, cfg);
	if (rc == KV_OK && created)
		*created = 1;
	if (rc != KV_OK && rc != KV_ENSEXISTS)
		return rc;
	return kv_nscache_get(g_nscache, name, len, out);
}

void shardkv_maybe_tick(void)
{
	int64_t now = kv_now_ms();
	int64_t last = atomic_load_explicit(&g_last_tick, memory_order_relaxed);

	if (now - last < 100)
		return;
	if (!atomic_compare_exchange_strong(&g_last_tick, &last, now))
		return; /* another thread does this round */
	(void)kv_tick(g_env, 0, NULL);
}

/* ------------------------------------------------------------- errors */

int shardkv_sqlite_rc(int rc)
{
	switch (rc) {
	case KV_OK:
		return SQLITE_OK;
	case KV_ENOMEM:
	case KV_EMAXKEYS:
	case KV_EMAXMEM:
		return SQLITE_FULL;
	case KV_EKEYSIZE:
	case KV_EVALSIZE:
		return SQLITE_TOOBIG;
	case KV_EXISTS:
		return SQLITE_CONSTRAINT;
	case KV_EBUSY:
		return SQLITE_BUSY;
	case KV_EIO:
		return SQLITE_IOERR;
	case KV_ECORRUPT:
	case KV_EFORMAT:
		return SQLITE_CORRUPT;
	default:
		return SQLITE_ERROR;
	}
}

/* -------------------------------------------------------------- values */

void kvsql_real_text(double d, char *buf, size_t cap)
{
	/* the engine's canonical text; kv_fmt_double leaves infinities to the
	 * host, and SQLite makes them (1e308 * 10): strtod reads these back */
	if (isinf(d))
		snprintf(buf, cap, "%s", d < 0 ? "-inf" : "inf");
	else
		kv_fmt_double(d, buf, cap);
}

void kvsql_from_value(sqlite3_value *v, kvsql_val *out)
{
	switch (sqlite3_value_type(v)) {
	case SQLITE_INTEGER:
		snprintf(out->num, sizeof(out->num), "%lld", (long long)sqlite3_value_int64(v));
		out->data = out->num;
		out->len = strlen(out->num);
		out->type = KV_T_INT;
		break;
	case SQLITE_FLOAT:
		kvsql_real_text(sqlite3_value_double(v), out->num, sizeof(out->num));
		out->data = out->num;
		out->len = strlen(out->num);
		out->type = KV_T_REAL;
		break;
	case SQLITE_TEXT:
		out->data = sqlite3_value_text(v);
		out->len = (size_t)sqlite3_value_bytes(v);
		out->type = KV_T_TEXT;
		if (out->data == NULL)
			out->data = "";
		break;
	case SQLITE_BLOB:
		out->data = sqlite3_value_blob(v);
		out->len = (size_t)sqlite3_value_bytes(v);
		out->type = KV_T_BYTES;
		if (out->data == NULL)
			out->data = "";
		break;
	default:
		out->data = "";
		out->len = 0;
		out->type = KV_T_NULL;
		break;
	}
}

int kvsql_key(sqlite3_value *v, kvsql_val *out)
{
	switch (sqlite3_value_type(v)) {
	case SQLITE_NULL:
		return -1;
	case SQLITE_FLOAT:
		/* the text a TEXT column stores for a REAL (1.0 -> '1.0'), so that
		 * key = 1.0 and CAST(1.0 AS TEXT) name the same key, and 1.0 is not 1 */
		sqlite3_snprintf((int)sizeof(out->num), out->num, "%!.15g", sqlite3_value_double(v));
		out->data = out->num;
		out->len = strlen(out->num);
		out->type = KV_T_TEXT;
		return 0;
	default:
		kvsql_from_value(v, out);
		return 0;
	}
}

int kvsql_cstr(sqlite3_value *v, const char **out)
{
	const char *z;

	*out = NULL;
	if (sqlite3_value_type(v) == SQLITE_NULL)
		return -1;
	z = (const char *)sqlite3_value_text(v);
	if (z == NULL)
		return -1;
	if (strlen(z) != (size_t)sqlite3_value_bytes(v))
		return -2;
	*out = z;
	return 0;
}

int kvsql_ns_name_arg(const char *fn, sqlite3_value *v, const char **name, char **zErr)
{
	switch (v == NULL ? -1 : kvsql_cstr(v, name)) {
	case 0:
		return SQLITE_OK;
	case -1:
		*zErr = sqlite3_mprintf("%s(): the namespace (first argument) is missing or NULL", fn);
		return SQLITE_ERROR;
	default:
		*zErr = sqlite3_mprintf("%s(): namespace name must not contain NUL bytes", fn);
		return SQLITE_ERROR;
	}
}

int kvsql_ns_arg(const char *fn, sqlite3_value *v, int create, kv_ns **out, char **zErr)
{
	const char *name;
	int         rc = kvsql_ns_name_arg(fn, v, &name, zErr);

	if (rc != SQLITE_OK)
		return rc;
	rc = shardkv_ns(name, create, NULL, out, NULL);
	if (rc != KV_OK) {
		*zErr = sqlite3_mprintf("%s(): namespace \"%.80s\": %s", fn, name, kv_strerror_text(rc));
		return shardkv_sqlite_rc(rc);
	}
	return SQLITE_OK;
}

/* Parse the whole of s[0..n) as a signed 64-bit decimal. */
static int parse_i64(const char *s, size_t n, sqlite3_int64 *out)
{
	char  buf[32], *end;
	long long v;

	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	errno = 0;
	v = strtoll(buf, &end, 10);
	if (errno != 0 || *end != '\0' || end == buf)
		return -1;
	*out = v;
	return 0;
}

static int parse_f64(const char *s, size_t n, double *out)
{
	char   buf[512], *end; /* another host's text may be long (%.17Lf wrote 309 bytes) */
	double d;

	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	d = strtod(buf, &end);
	if (*end != '\0' || end == buf)
		return -1;
	*out = d;
	return 0;
}

void kvsql_result(sqlite3_context *ctx, const void *data, size_t len, int type)
{
	sqlite3_int64 i;
	double        d;

	if (data == NULL)
		data = ""; /* 0 bytes from an empty row arena: '' (a NULL pointer would make SQL NULL) */
	switch (type) {
	case KV_T_INT:
		if (parse_i64(data, len, &i) == 0) {
			sqlite3_result_int64(ctx, i);
			return;
		}
		break; /* changed by another host (e.g. APPEND): fall back to text */
	case KV_T_REAL:
		if (parse_f64(data, len, &d) == 0) {
			sqlite3_result_double(ctx, d);
			return;
		}
		break;
	case KV_T_NULL:
		sqlite3_result_null(ctx);
		return;
	case KV_T_TEXT:
	case KV_T_JSON:
		break;
	case KV_T_HASH:
	case KV_T_SET:
	case KV_T_ZSET:
	case KV_T_LIST:
		/* a collection has no one value: the kv table and kv_scan show NULL */
		sqlite3_result_null(ctx);
		return;
	default: /* KV_T_BYTES and host-private tags */
		sqlite3_result_blob64(ctx, data, (sqlite3_uint64)len, SQLITE_TRANSIENT);
		return;
	}
	sqlite3_result_text64(ctx, data, (sqlite3_uint64)len, SQLITE_TRANSIENT, SQLITE_UTF8);
}

/* Valid UTF-8 without NUL bytes? */
static int is_utf8_text(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned c = s[i];
		size_t   k;

		if (c == 0)
			return 0;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			k = 1;
		else if (c >= 0xe0 && c <= 0xef)
			k = 2;
		else if (c >= 0xf0 && c <= 0xf4)
			k = 3;
		else
			return 0;
		if (i + k >= n)
			return 0; /* truncated sequence */
		for (size_t j = 1; j <= k; j++)
			if ((s[i + j] & 0xc0) != 0x80)
				return 0;
		i += k + 1;
	}
	return 1;
}

void kvsql_result_key(sqlite3_context *ctx, const void *key, size_t klen)
{
	if (key == NULL)
		key = ""; /* the empty key in an empty row arena: '', never NULL */
	if (is_utf8_text(key, klen))
		sqlite3_result_text64(ctx, key, (sqlite3_uint64)klen, SQLITE_TRANSIENT, SQLITE_UTF8);
	else
		sqlite3_result_blob64(ctx, key, (sqlite3_uint64)klen, SQLITE_TRANSIENT);
}

int kvsql_ttl_expiry(sqlite3_value *v, int64_t *expires_at)
{
	int rc;

	switch (sqlite3_value_numeric_type(v)) {
	case SQLITE_INTEGER: {
		sqlite3_int64 sec = sqlite3_value_int64(v);

		if (sec > INT64_MAX / 1000 || sec < INT64_MIN / 1000)
			return KVSQL_TTL_RANGE;
		rc = kv_expiry_from_ttl_ms((int64_t)sec * 1000, expires_at);
		break;
	}
	case SQLITE_FLOAT: {
		double  us = sqlite3_value_double(v) * 1e6;
		int64_t n;

		if (!(us > -9.2e18 && us < 9.2e18)) /* also NaN and infinities */
			return KVSQL_TTL_RANGE;
		/* the engine takes whole microseconds and rounds now + ttl up to a
		 * ms; rounding the fraction of a microsecond up as well gives the
		 * same ms as rounding the exact sum once (ceilings on a finer grid
		 * compose), so this is the engine's one rule, not a second one: a
		 * positive TTL, however small, is never "already expired" */
		n = (int64_t)us;
		if ((double)n < us)
			n++;
		rc = kv_expiry_from_ttl_us(n, expires_at);
		break;
	}
	default:
		return KVSQL_TTL_NAN;
	}
	return rc == KV_OK ? 0 : KVSQL_TTL_RANGE;
}

/* ------------------------------------------------------------- rows */

int kvrows_add(kvrows *r, const void *key, size_t klen, const void *val, size_t vlen,
                    int type, int64_t expires_at)
{
	size_t need = r->alen + klen + vlen;
	kvrow *row;

	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 32;
		kvrow *nr = sqlite3_realloc64(r->rows, cap * sizeof(*nr));

		if (nr == NULL)
			return SQLITE_NOMEM;
		r->rows = nr;
		r->cap = cap;
	}
	if (need > r->acap) {
		size_t cap = r->acap ? r->acap : 4096;
		char  *na;

		while (cap < need)
			cap *= 2;
		na = sqlite3_realloc64(r->arena, cap);
		if (na == NULL)
			return SQLITE_NOMEM;
		r->arena = na;
		r->acap = cap;
	}
	row = &r->rows[r->n++];
	row->koff = r->alen;
	row->klen = klen;
	if (klen)
		memcpy(r->arena + r->alen, key, klen);
	r->alen += klen;
	row->voff = r->alen;
	row->vlen = vlen;
	if (vlen)
		memcpy(r->arena + r->alen, val, vlen);
	r->alen += vlen;
	row->type = type;
	row->expires_at = expires_at;
	return SQLITE_OK;
}

void kvrows_reset(kvrows *r)
{
	r->n = 0;
	r->alen = 0;
}

void kvrows_free(kvrows *r)
{
	sqlite3_free(r->rows);
	sqlite3_free(r->arena);
	memset(r, 0, sizeof(*r));
}

/* --------------------------------------------------------- entry point */

static int register_all(sqlite3 *db, char **pzErrMsg)
{
	int rc = shardkv_register_vtab(db);

	if (rc == SQLITE_OK)
		rc = shardkv_register_functions(db);
	if (rc != SQLITE_OK && pzErrMsg)
		*pzErrMsg = sqlite3_mprintf("shardkv: cannot register: %s", sqlite3_errstr(rc));
	return rc;
}

#ifndef SQLITE_CORE
/* Registered with sqlite3_auto_extension: runs for every later connection. */
static int shardkv_auto_init(sqlite3 *db, char **pzErrMsg, const sqlite3_api_routines *pApi)
{
	SQLITE_EXTENSION_INIT2(pApi);
	return register_all(db, pzErrMsg);
}
#endif

__attribute__((visibility("default")))
int sqlite3_shardkv_init(sqlite3 *db, char **pzErrMsg, const sqlite3_api_routines *pApi);

__attribute__((visibility("default")))
int sqlite3_shardkv_init(sqlite3 *db, char **pzErrMsg, const sqlite3_api_routines *pApi)
{
	int rc;

#ifndef SQLITE_CORE
	SQLITE_EXTENSION_INIT2(pApi);
#else
	(void)pApi;
#endif
	if (sqlite3_libversion_number() < 3038000) {
		if (pzErrMsg)
			*pzErrMsg = sqlite3_mprintf("shardkv requires SQLite 3.38.0 or later, this is %s",
			                            sqlite3_libversion());
		return SQLITE_ERROR;
	}
	if (env_init(pzErrMsg) != KV_OK)
		return SQLITE_ERROR;
	rc = register_all(db, pzErrMsg);
	if (rc != SQLITE_OK)
		return rc;
#ifndef SQLITE_CORE
	/* a no-op when already registered; registers again after sqlite3_reset_auto_extension */
	rc = sqlite3_auto_extension((void (*)(void))shardkv_auto_init);
	if (rc != SQLITE_OK) {
		if (pzErrMsg)
			*pzErrMsg = sqlite3_mprintf("shardkv: sqlite3_auto_extension failed: %s", sqlite3_errstr(rc));
		return rc;
	}
	return SQLITE_OK_LOAD_PERMANENTLY;
#else
	return SQLITE_OK;
#endif
}
