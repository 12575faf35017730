/*
 * kvfunc.h -- what the scalar SQL functions share (kvfunc.c for strings and
 * namespaces, kvcoll.c for collections): the registered function's entry,
 * and argument and error helpers that set the function's error result.
 */
#ifndef SHARDKV_SQLITE_KVFUNC_H
#define SHARDKV_SQLITE_KVFUNC_H

#include "shardkv_sqlite.h"

#define FN_CREATE 1 /* the function may create the namespace */

/*
 * A registered function; its entry is the user data.  One xFunc serves the
 * variants of one operation (kv_get and kv_consume), told apart by mode.
 */
typedef struct fn_def {
	const char *name;
	int         nArg;
	void      (*xFunc)(sqlite3_context *, int, sqlite3_value **);
	unsigned    mode;   /* KV_SET_* flags for kv_set/add/replace, else FN_ALT or 0 */
	int         flags;  /* SCHEMA_SAFE: see shardkv_register_functions() */
} fn_def;

#define FN_ALT 1u /* the second variant: kv_consume, kv_delete, kv_load */

/* The function's name and mode, for messages and variants. */
const char *fn_name(sqlite3_context *ctx);
unsigned fn_mode(sqlite3_context *ctx);

/* Set the error result to "fmt ..." (SQLITE_ERROR). */
void fn_error(sqlite3_context *ctx, const char *zFmt, ...) __attribute__((format(printf, 2, 3)));
/* Set the error result of engine status rc: "fn(): <kv_strerror_text>" and its SQLite code. */
void fn_kv_error(sqlite3_context *ctx, int rc);
/* Namespace handle of argument v, cached per statement (NULL: error result set). */
kv_ns *fn_ns(sqlite3_context *ctx, sqlite3_value *v, int create);
/* Key argument (-1: NULL, error result set). */
int fn_key(sqlite3_context *ctx, sqlite3_value *v, kvsql_val *k);

/* Run fn on the namespace; if it was dropped meanwhile, re-create it once (writes). */
#define WITH_NS_RETRY(ctx, argv, create, ns, call)                             \
	do {                                                                   \
		(ns) = fn_ns((ctx), (argv)[0], (create));                      \
		if ((ns) == NULL)                                              \
			return;                                                \
		rc = (call);                                                   \
		if (rc == KV_ENONS && (create)) {                              \
			sqlite3_set_auxdata((ctx), 0, NULL, NULL);             \
			if (shardkv_ns((const char *)sqlite3_value_text((argv)[0]), 1, NULL, &(ns), NULL) == KV_OK) \
				rc = (call);                                   \
		}                                                              \
	} while (0)

#endif /* SHARDKV_SQLITE_KVFUNC_H */
