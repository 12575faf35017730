/*
 * shardkv_sqlite.h -- internal header of the SQLite host (sqlite_ext/).
 *
 * Shared by shardkv.c (entry point, process-global engine, value and error
 * translation, argument decoding), kvvtab.c (the "kv" virtual table), kvtxn.c
 * (per-connection transaction buffer), kvfunc.c (the kv_* scalar functions),
 * kvtvf.c (what the table-valued functions share), kvnamespaces.c
 * (kv_namespaces()) and kvscan.c (kv_scan() and kv_keys()).
 */
#ifndef SHARDKV_SQLITE_H
#define SHARDKV_SQLITE_H

#ifdef SQLITE_CORE
#include <sqlite3.h>
#else
#include <sqlite3ext.h>
#ifndef SHARDKV_SQLITE_MAIN
SQLITE_EXTENSION_INIT3
#endif
#endif

#include <stddef.h>
#include <stdint.h>

#include "kv.h"

/* ------------------------------------------------ shardkv.c: process state */

/* The process-global store; created by the first load.  Never NULL after init. */
kv_env *shardkv_env(void);

/*
 * A process-global handle on namespace `name` (from the engine's kv_nscache:
 * handles are cached forever and shared by every connection and thread).  With create != 0 a missing
 * namespace is created with cfg (NULL: defaults) and *created set to 1.
 * Returns a KV_* code.
 */
int shardkv_ns(const char *name, int create, const kv_ns_config *cfg, kv_ns **out, int *created);

/*
 * Snapshot files.  When SHARDKV_SNAPSHOT_DIR was set at first load, every file
 * name (kv_save, kv_load, snapshot=) is confined to that directory through the
 * engine's kv_save_at/kv_load_at (no absolute name, no "..", no symlink);
 * otherwise it is a path as given, relative to the process's directory.
 * shardkv_snapshot_dir() is that directory, or NULL.
 */
const char *shardkv_snapshot_dir(void);
int shardkv_save(const char *ns, const char *file, kv_error *err);
int shardkv_load(const char *file, const char *ns, kv_error *err);

/* Drive the engine's active expiry sweep at most every 100 ms (cheap otherwise). */
void shardkv_maybe_tick(void);

/* SQLite result code for a KV_* failure. */
int shardkv_sqlite_rc(int rc);

/* ------------------------------------------------- value translation */

/* A SQLite value flattened to engine bytes; text is the scratch for numbers. */
typedef struct kvsql_val {
	const void *data;
	size_t      len;
	int         type;      /* KV_T_* */
	char        num[KV_DOUBLE_BUFSZ > 32 ? KV_DOUBLE_BUFSZ : 32]; /* text of an INTEGER or REAL */
} kvsql_val;

/* Translate v (any SQLite type) into engine bytes and a type tag. */
void kvsql_from_value(sqlite3_value *v, kvsql_val *out);

/* Set a function result / column from engine bytes and a type tag. */
void kvsql_result(sqlite3_context *ctx, const void *data, size_t len, int type);

/* Set a key result: TEXT if the bytes are valid UTF-8, else BLOB. */
void kvsql_result_key(sqlite3_context *ctx, const void *key, size_t klen);

/*
 * Key bytes of a SQLite value: TEXT and BLOB as they are, numbers as the text
 * SQLite's TEXT affinity gives them (42 -> '42', 1.0 -> '1.0').  Returns 0, or
 * -1 when v is NULL.
 */
int kvsql_key(sqlite3_value *v, kvsql_val *out);

/*
 * A namespace name or file path argument as a C string.  Returns 0 and sets
 * *out, -1 when v is NULL, or -2 when the text holds a NUL byte (the engine
 * would see only the part before it: kv_set('c' || char(0) || 'x', ...) must
 * not write into "c").
 */
int kvsql_cstr(sqlite3_value *v, const char **out);

/*
 * The namespace argument v of function fn (v NULL: not given): its name, or
 * the handle (create as for shardkv_ns).  SQLITE_OK, or a SQLite code with a
 * message "fn(): ..." in *zErr (sqlite3_malloc'd; NULL when out of memory).
 */
int kvsql_ns_name_arg(const char *fn, sqlite3_value *v, const char **name, char **zErr);
int kvsql_ns_arg(const char *fn, sqlite3_value *v, int create, kv_ns **out, char **zErr);

/* The text stored for a REAL: kv_fmt_double's, or "inf"/"-inf".  cap >= KV_DOUBLE_BUFSZ. */
void kvsql_real_text(double d, char *buf, size_t cap);

/*
 * A TTL in seconds (INTEGER or REAL) as an absolute expiry, through the
 * engine's kv_expiry_from_ttl_ms.  Returns 0 and sets *expires_at, or
 * KVSQL_TTL_NAN (not a number) or KVSQL_TTL_RANGE (not finite, or past
 * KV_EXPIRES_MAX).  Non-positive TTLs give a time at or before now.
 */
#define KVSQL_TTL_NAN   (-1)
#define KVSQL_TTL_RANGE (-2)
int kvsql_ttl_expiry(sqlite3_value *v, int64_t *expires_at);

/* ------------------------------------------------- row buffers */

/* One row of a cursor: offsets into kvrows.arena. */
typedef struct kvrow {
	size_t  koff, klen, voff, vlen;
	int     type;
	int64_t expires_at;
} kvrow;

/* Rows with their bytes in one growing arena (sqlite3_malloc). */
typedef struct kvrows {
	kvrow *rows;
	size_t n, cap;
	char  *arena;
	size_t alen, acap;
} kvrows;

/* Append a row (val may be NULL with vlen 0).  SQLITE_OK or SQLITE_NOMEM. */
int  kvrows_add(kvrows *r, const void *key, size_t klen, const void *val, size_t vlen, int type,
                int64_t expires_at);
void kvrows_reset(kvrows *r);
void kvrows_free(kvrows *r);

/* ----------------------------- kvtvf.c: table-valued function boilerplate */

/*
 * The vtab of an eponymous table-valued function (kv_namespaces, kv_scan,
 * kv_keys).  Connect, Disconnect, Open and Close are written once in kvtvf.c:
 * Open allocates cursor_size zeroed bytes, Close calls cursor_free (which frees
 * what the cursor holds, not the cursor) and then frees the cursor.
 */
typedef struct kvtvf_vtab {
	sqlite3_vtab base;          /* Base class.  Must be first */
	const char  *fn;            /* the function's name, for messages */
	size_t       cursor_size;
	void       (*cursor_free)(sqlite3_vtab_cursor *cur);
} kvtvf_vtab;

/* Declare schema, mark the table DIRECTONLY and allocate the vtab. */
int kvtvf_connect(sqlite3 *db, const char *schema, const char *fn, size_t cursor_size,
                  void (*cursor_free)(sqlite3_vtab_cursor *), sqlite3_vtab **ppVtab);
int kvtvf_disconnect(sqlite3_vtab *pVtab);
int kvtvf_open(sqlite3_vtab *pVtab, sqlite3_vtab_cursor **ppCursor);
int kvtvf_close(sqlite3_vtab_cursor *cur);

/* Replace the vtab's error message (zErr may be NULL: out of memory). */
void kvtvf_set_error(sqlite3_vtab_cursor *cur, char *zErr);

/* --------------------------------------------------- registration */
int shardkv_register_vtab(sqlite3 *db);
int shardkv_register_functions(sqlite3 *db);
int shardkv_register_namespaces(sqlite3 *db); /* kvnamespaces.c */
int shardkv_register_scan(sqlite3 *db);       /* kvscan.c */
int shardkv_register_coll_functions(sqlite3 *db); /* kvcoll.c */
int shardkv_register_coll_tvfs(sqlite3 *db);      /* kvcolltvf.c */

#endif /* SHARDKV_SQLITE_H */
