/*
 * kvscan.c -- the table-valued functions kv_scan(ns, prefix) and
 * kv_keys(ns, pattern): the keys of a namespace, with value, expires_at and
 * type (the value's type tag, 'text', 'int' ..., or a collection's kind,
 * 'hash', 'set', 'zset', 'list', whose value is NULL).
 *
 *     SELECT key, value, expires_at FROM kv_scan('cache', 'user:');
 *     SELECT key FROM kv_keys('cache', 'user:*:[0-9]');  -- Redis glob (KEYS)
 *
 * HOW IT WORKS
 *   One module serves both: kv_keys (pAux non-NULL) hands its pattern to the
 *   engine's kv_scan as MATCH (kv_glob_match, Redis's KEYS rules), where
 *   kv_scan hands over a prefix.  Rows are fetched from the engine's cursor
 *   256 keys at a time, so a large namespace is never copied whole; the value
 *   is copied only when the statement reads it.
 */
#include "shardkv_sqlite.h"

#include <string.h>

#ifndef SQLITE_OMIT_VIRTUALTABLE

#define SCANCOL_KEY        0
#define SCANCOL_VALUE      1
#define SCANCOL_EXPIRES_AT 2
#define SCANCOL_TYPE       3
#define SCANCOL_NS         4 /* hidden: first argument */
#define SCANCOL_FILTER     5 /* hidden: second argument, prefix or pattern */

typedef struct scan_cursor {
	sqlite3_vtab_cursor base;   /* Base class.  Must be first */
	kv_ns              *ns;
	kvrows              rows;
	size_t              i;
	uint64_t            cursor;
	int                 more;   /* engine scan not finished */
	int                 values; /* value column is read */
	char               *filter; /* prefix (kv_scan) or pattern (kv_keys) */
	size_t              filter_len;
	sqlite3_int64       rowid;
} scan_cursor;

static void scan_free(sqlite3_vtab_cursor *cur)
{
	scan_cursor *c = (scan_cursor *)cur;

	kvrows_free(&c->rows);
	sqlite3_free(c->filter);
	c->filter = NULL;
	c->filter_len = 0;
}

static int kvscanConnect(sqlite3 *db, void *pAux, int argc, const char *const *argv,
                         sqlite3_vtab **ppVtab, char **pzErr)
{
	(void)argc;
	(void)argv;
	(void)pzErr;
	if (pAux != NULL)
		return kvtvf_connect(db, "CREATE TABLE x(key, value, expires_at INTEGER, type, "
		                         "ns HIDDEN, pattern HIDDEN)",
		                     "kv_keys", sizeof(scan_cursor), scan_free, ppVtab);
	return kvtvf_connect(db, "CREATE TABLE x(key, value, expires_at INTEGER, type, ns HIDDEN, prefix HIDDEN)",
	                     "kv_scan", sizeof(scan_cursor), scan_free, ppVtab);
}

/* kv_keys: the filter is a glob pattern (else a prefix). */
static int is_keys(sqlite3_vtab_cursor *cur)
{
	return strcmp(((kvtvf_vtab *)cur->pVtab)->fn, "kv_keys") == 0;
}

static const char *fn_of(sqlite3_vtab_cursor *cur)
{
	return ((kvtvf_vtab *)cur->pVtab)->fn;
}

/*
 * The arguments arrive as equality constraints on the hidden columns; both
 * must be passed to xFilter (argvIndex 1 = ns, 2 = prefix or pattern).
 * idxNum bit 1: ns given; bit 2: filter given; bit 4: values read.
 */
static int kvscanBestIndex(sqlite3_vtab *pVtab, sqlite3_index_info *pInfo)
{
	int iNs = -1, iPrefix = -1, unusableNs = 0, n = 0;

	(void)pVtab;
	for (int i = 0; i < pInfo->nConstraint; i++) {
		const struct sqlite3_index_constraint *c = &pInfo->aConstraint[i];

		if (c->op != SQLITE_INDEX_CONSTRAINT_EQ)
			continue;
		if (c->iColumn == SCANCOL_NS) {
			if (!c->usable)
				unusableNs = 1;
			else
				iNs = i;
		} else if (c->iColumn == SCANCOL_FILTER && c->usable) {
			iPrefix = i;
		}
	}
	if (iNs < 0 && unusableNs)
		return SQLITE_CONSTRAINT; /* try a plan where the argument is usable */
	pInfo->idxNum = 0;
	if (iNs >= 0) {
		pInfo->aConstraintUsage[iNs].argvIndex = ++n;
		pInfo->aConstraintUsage[iNs].omit = 1;
		pInfo->idxNum |= 1;
	}
	if (iPrefix >= 0) {
		pInfo->aConstraintUsage[iPrefix].argvIndex = ++n;
		pInfo->aConstraintUsage[iPrefix].omit = 1;
		pInfo->idxNum |= 2;
	}
	if (pInfo->colUsed & ((sqlite3_uint64)1 << SCANCOL_VALUE))
		pInfo->idxNum |= 4;
	pInfo->estimatedCost = iPrefix >= 0 ? 1000 : 10000;
	pInfo->estimatedRows = iPrefix >= 0 ? 100 : 1000;
	return SQLITE_OK;
}

static int kvscan_row(void *ctx, const void *key, size_t klen, const void *val, size_t vlen,
                      int type, int64_t expires_at)
{
	scan_cursor *c = ctx;

	if (kvrows_add(&c->rows, key, klen, val, val ? vlen : 0, type, expires_at) != SQLITE_OK)
		return SQLITE_NOMEM;
	return 0;
}

static int kvscan_fill(sqlite3_vtab_cursor *cur)
{
	scan_cursor *c = (scan_cursor *)cur;
	kv_scan_opts opts;

	memset(&opts, 0, sizeof(opts));
	if (is_keys(cur)) {
		opts.match = c->filter; /* NULL: no pattern given, every key */
		opts.match_len = c->filter_len;
	} else {
		opts.prefix = c->filter_len ? c->filter : NULL;
		opts.prefix_len = c->filter_len;
	}
	opts.count = 256;
	opts.values = c->values;
	kvrows_reset(&c->rows);
	c->i = 0;
	while (c->more && c->rows.n == 0) {
		int rc = kv_scan(c->ns, &c->cursor, &opts, kvscan_row, c);

		if (rc == SQLITE_NOMEM)
			return SQLITE_NOMEM;
		if (rc != KV_OK) {
			kvtvf_set_error(cur, sqlite3_mprintf("%s(): %s", fn_of(cur), kv_strerror_text(rc)));
			return shardkv_sqlite_rc(rc);
		}
		if (c->cursor == 0)
			c->more = 0;
	}
	return SQLITE_OK;
}

static int kvscanFilter(sqlite3_vtab_cursor *cur, int idxNum, const char *idxStr, int argc,
                        sqlite3_value **argv)
{
	scan_cursor *c = (scan_cursor *)cur;
	char        *zErr = NULL;
	int          rc;

	(void)idxStr;
	(void)argc;
	scan_free(cur);
	c->more = 0;
	c->i = 0;
	c->rowid = 0;
	c->cursor = 0;
	c->values = (idxNum & 4) != 0;
	rc = kvsql_ns_arg(fn_of(cur), (idxNum & 1) ? argv[0] : NULL, 0, &c->ns, &zErr);
	if (rc != SQLITE_OK) {
		kvtvf_set_error(cur, zErr);
		return rc;
	}
	if ((idxNum & 2) && sqlite3_value_type(argv[1]) != SQLITE_NULL) {
		kvsql_val pv;

		/* an empty pattern is kept: it matches only the empty key, as in Redis */
		kvsql_key(argv[1], &pv);
		c->filter = sqlite3_malloc64(pv.len + 1);
		if (c->filter == NULL)
			return SQLITE_NOMEM;
		memcpy(c->filter, pv.data, pv.len);
		c->filter_len = pv.len;
	}
	c->more = 1;
	return kvscan_fill(cur);
}

static int kvscanNext(sqlite3_vtab_cursor *cur)
{
	scan_cursor *c = (scan_cursor *)cur;

	c->rowid++;
	if (++c->i < c->rows.n)
		return SQLITE_OK;
	return kvscan_fill(cur);
}

static int kvscanEof(sqlite3_vtab_cursor *cur)
{
	scan_cursor *c = (scan_cursor *)cur;

	return c->i >= c->rows.n;
}

static int kvscanColumn(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int i)
{
	scan_cursor *c = (scan_cursor *)cur;
	const kvrow *r = &c->rows.rows[c->i];

	switch (i) {
	case SCANCOL_KEY:
		kvsql_result_key(ctx, c->rows.arena + r->koff, r->klen);
		break;
	case SCANCOL_VALUE:
		kvsql_result(ctx, c->rows.arena + r->voff, r->vlen, r->type);
		break;
	case SCANCOL_EXPIRES_AT:
		if (r->expires_at)
			sqlite3_result_int64(ctx, r->expires_at);
		break;
	case SCANCOL_TYPE: {
		const char *name = kv_type_name(r->type);

		if (name != NULL)
			sqlite3_result_text(ctx, name, -1, SQLITE_STATIC);
		else
			sqlite3_result_int(ctx, r->type);
		break;
	}
	case SCANCOL_NS:
		sqlite3_result_text(ctx, kv_ns_name(c->ns), -1, SQLITE_TRANSIENT);
		break;
	case SCANCOL_FILTER:
		if (c->filter != NULL)
			sqlite3_result_text(ctx, c->filter, (int)c->filter_len, SQLITE_TRANSIENT);
		break;
	default:
		break;
	}
	return SQLITE_OK;
}

static int kvscanRowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *pRowid)
{
	*pRowid = ((scan_cursor *)cur)->rowid + 1;
	return SQLITE_OK;
}

static sqlite3_module kvscanModule = {
	/* iVersion    */ 0,
	/* xCreate     */ 0,                /* eponymous only */
	/* xConnect    */ kvscanConnect,
	/* xBestIndex  */ kvscanBestIndex,
	/* xDisconnect */ kvtvf_disconnect,
	/* xDestroy    */ 0,
	/* xOpen       */ kvtvf_open,
	/* xClose      */ kvtvf_close,
	/* xFilter     */ kvscanFilter,
	/* xNext       */ kvscanNext,
	/* xEof        */ kvscanEof,
	/* xColumn     */ kvscanColumn,
	/* xRowid      */ kvscanRowid,
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

int shardkv_register_scan(sqlite3 *db)
{
	int rc = sqlite3_create_module(db, "kv_scan", &kvscanModule, NULL);

	if (rc == SQLITE_OK)
		rc = sqlite3_create_module(db, "kv_keys", &kvscanModule, (void *)"kv_keys");
	return rc;
}

#else /* SQLITE_OMIT_VIRTUALTABLE */

int shardkv_register_scan(sqlite3 *db)
{
	(void)db;
	return SQLITE_OK;
}

#endif /* SQLITE_OMIT_VIRTUALTABLE */
