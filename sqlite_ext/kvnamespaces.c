/*
 * kvnamespaces.c -- the table-valued function kv_namespaces(): one row per
 * namespace of the process's store, with its settings and counters.
 *
 *     SELECT name, keys, eviction FROM kv_namespaces();
 *
 * HOW IT WORKS
 *   xFilter takes the engine's consistent copy of the namespace list
 *   (kv_ns_list_all); the rows are that copy, so namespaces created or dropped
 *   while the statement runs do not tear it.
 */
#include "shardkv_sqlite.h"

#include <string.h>

#ifndef SQLITE_OMIT_VIRTUALTABLE

#define NSCOL_NAME        0
#define NSCOL_SHARDS      1
#define NSCOL_KEYS        2
#define NSCOL_BYTES       3
#define NSCOL_MAX_KEYS    4
#define NSCOL_MAX_MEMORY  5
#define NSCOL_DEFAULT_TTL 6
#define NSCOL_EVICTION    7
#define NSCOL_HITS        8
#define NSCOL_MISSES      9
#define NSCOL_EXPIRED     10
#define NSCOL_EVICTED     11

typedef struct nslist_cursor {
	sqlite3_vtab_cursor base;   /* Base class.  Must be first */
	kv_ns_stats        *list;
	size_t              n, i;
} nslist_cursor;

static void nslist_free(sqlite3_vtab_cursor *cur)
{
	nslist_cursor *c = (nslist_cursor *)cur;

	kv_ns_list_free(shardkv_env(), c->list);
	c->list = NULL;
	c->n = c->i = 0;
}

static int nslistConnect(sqlite3 *db, void *pAux, int argc, const char *const *argv,
                         sqlite3_vtab **ppVtab, char **pzErr)
{
	(void)pAux;
	(void)argc;
	(void)argv;
	(void)pzErr;
	return kvtvf_connect(db, "CREATE TABLE x(name TEXT, shards INTEGER, keys INTEGER, "
	                         "bytes INTEGER, max_keys INTEGER, max_memory INTEGER, "
	                         "default_ttl_ms INTEGER, eviction TEXT, hits INTEGER, "
	                         "misses INTEGER, expired INTEGER, evicted INTEGER)",
	                     "kv_namespaces", sizeof(nslist_cursor), nslist_free, ppVtab);
}

static int nslistBestIndex(sqlite3_vtab *pVtab, sqlite3_index_info *pInfo)
{
	(void)pVtab;
	pInfo->estimatedCost = 100;
	pInfo->estimatedRows = 10;
	return SQLITE_OK;
}

static int nslistFilter(sqlite3_vtab_cursor *cur, int idxNum, const char *idxStr, int argc,
                        sqlite3_value **argv)
{
	nslist_cursor *c = (nslist_cursor *)cur;
	int            rc;

	(void)idxNum;
	(void)idxStr;
	(void)argc;
	(void)argv;
	nslist_free(cur);
	rc = kv_ns_list_all(shardkv_env(), &c->list, &c->n);
	if (rc != KV_OK) {
		kvtvf_set_error(cur, sqlite3_mprintf("kv_namespaces(): %s", kv_strerror_text(rc)));
		return shardkv_sqlite_rc(rc);
	}
	return SQLITE_OK;
}

static int nslistNext(sqlite3_vtab_cursor *cur)
{
	((nslist_cursor *)cur)->i++;
	return SQLITE_OK;
}

static int nslistEof(sqlite3_vtab_cursor *cur)
{
	nslist_cursor *c = (nslist_cursor *)cur;

	return c->i >= c->n;
}

static int nslistColumn(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int i)
{
	nslist_cursor     *c = (nslist_cursor *)cur;
	const kv_ns_stats *s = &c->list[c->i];

	switch (i) {
	case NSCOL_NAME:        sqlite3_result_text(ctx, s->name, -1, SQLITE_TRANSIENT); break;
	case NSCOL_SHARDS:      sqlite3_result_int64(ctx, s->config.shards); break;
	case NSCOL_KEYS:        sqlite3_result_int64(ctx, (sqlite3_int64)s->keys); break;
	case NSCOL_BYTES:       sqlite3_result_int64(ctx, (sqlite3_int64)s->bytes); break;
	case NSCOL_MAX_KEYS:    sqlite3_result_int64(ctx, (sqlite3_int64)s->config.max_keys); break;
	case NSCOL_MAX_MEMORY:  sqlite3_result_int64(ctx, (sqlite3_int64)s->config.max_memory); break;
	case NSCOL_DEFAULT_TTL: sqlite3_result_int64(ctx, s->config.default_ttl_ms); break;
	case NSCOL_EVICTION:
		sqlite3_result_text(ctx, kv_evict_policy_name(s->config.eviction, 0), -1, SQLITE_STATIC);
		break;
	case NSCOL_HITS:        sqlite3_result_int64(ctx, (sqlite3_int64)s->hits); break;
	case NSCOL_MISSES:      sqlite3_result_int64(ctx, (sqlite3_int64)s->misses); break;
	case NSCOL_EXPIRED:     sqlite3_result_int64(ctx, (sqlite3_int64)s->expired); break;
	case NSCOL_EVICTED:     sqlite3_result_int64(ctx, (sqlite3_int64)s->evicted); break;
	default: break;
	}
	return SQLITE_OK;
}

static int nslistRowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *pRowid)
{
	*pRowid = (sqlite3_int64)((nslist_cursor *)cur)->i + 1;
	return SQLITE_OK;
}

static sqlite3_module nslistModule = {
	/* iVersion    */ 0,
	/* xCreate     */ 0,                /* eponymous only */
	/* xConnect    */ nslistConnect,
	/* xBestIndex  */ nslistBestIndex,
	/* xDisconnect */ kvtvf_disconnect,
	/* xDestroy    */ 0,
	/* xOpen       */ kvtvf_open,
	/* xClose      */ kvtvf_close,
	/* xFilter     */ nslistFilter,
	/* xNext       */ nslistNext,
	/* xEof        */ nslistEof,
	/* xColumn     */ nslistColumn,
	/* xRowid      */ nslistRowid,
	/* xUpdate     */ 0,
	/* xBegin      */ 0,
	/* xSync       */ 0,
	/* xCommit     */ 0,
	/* xRollback   */ 0,
	/* xFindMethod */ 0,
	/* xRename     */ 0,
	/* xSavepoint  */ 0,
	/* xRelease    */ 0,
	/* xRollbackTo */ 0,
	/* xShadowName */ 0
};

int shardkv_register_namespaces(sqlite3 *db)
{
	return sqlite3_create_module(db, "kv_namespaces", &nslistModule, NULL);
}

#else /* SQLITE_OMIT_VIRTUALTABLE */

int shardkv_register_namespaces(sqlite3 *db)
{
	(void)db;
	return SQLITE_OK;
}

#endif /* SQLITE_OMIT_VIRTUALTABLE */
