/*
 * kvvtab.c -- the "kv" virtual table: a SQL table over one engine namespace.
 *
 * Usage:
 *
 *     CREATE VIRTUAL TABLE cache USING kv(
 *         namespace = sessions,      -- default: the table's name
 *         shards = 32, max_keys = 1000000, max_memory = '256MB',
 *         default_ttl = 3600,        -- seconds (or 250ms, 5m, 2h, 1d)
 *         eviction = allkeys-lru,
 *         snapshot = 'sessions.kvs'  -- optional: load at first connect, save at commit
 *     );
 *     INSERT INTO cache(key, value, ttl) VALUES ('user:1', 'alice', 60);
 *     SELECT value, ttl, expires_at FROM cache WHERE key IN ('user:1', 'user:2');
 *     UPDATE cache SET ttl = NULL WHERE key = 'user:1';     -- persist
 *     DELETE FROM cache WHERE key GLOB 'user:*';
 *
 * The table is
 *
 *     CREATE TABLE x(key TEXT PRIMARY KEY NOT NULL, value, ttl HIDDEN,
 *                    expires_at HIDDEN, type HIDDEN) WITHOUT ROWID
 *
 * where ttl is the number of seconds left (rounded as Redis TTL rounds) and
 * expires_at the absolute expiry in ms since the Unix epoch; both are NULL for
 * a key without expiry.  Either may be written; if a statement gives both,
 * expires_at wins.  type (read-only) is the value's type tag ('text', 'int',
 * 'bytes' ...) or, for a key holding a collection, its kind ('hash', 'set',
 * 'zset', 'list').
 *
 * COLLECTIONS.  A key holding a hash, set, sorted set or list (written with
 * kv_hset, kv_sadd, kv_zadd, kv_lpush ...) is a row with a NULL value and its
 * kind in type.  DELETE deletes it; INSERT OR REPLACE and an UPDATE that sets
 * a value replace it with that string, as Redis SET does.  An UPDATE that
 * leaves the value NULL (one that changes only the key or the ttl) is refused:
 * it would replace the collection with that NULL.
 *
 * HOW IT WORKS
 *   Connecting attaches to the namespace, creating it with the table's options
 *   if this process does not have it yet (and then loading the snapshot file,
 *   if one is named and exists).  Attaching to an existing namespace leaves
 *   its configuration as it is: the options only configure a namespace the
 *   table creates, so reading a schema never changes a live namespace.
 *   DROP TABLE forgets the table, not the namespace: the namespace is shared
 *   by every connection of the process.
 *
 *   Query planning (xBestIndex) offers one plan per call, best first:
 *     key = ?               unique direct lookup, cost 1, 1 row;
 *     key IN (...)          all values at once (sqlite3_vtab_in): one batch get;
 *     key >= 'p' AND key < 'q', key GLOB 'p*', key LIKE 'p%'
 *                           engine scan restricted to the common prefix (SQLite
 *                           still checks each row);
 *     anything else         full scan, costed at the number of keys.
 *   Unusable constraints are ignored, and so are =, IN and ranges under a
 *   collation other than BINARY (the engine compares bytes).  An IN list is
 *   reduced to its distinct key bytes first.  colUsed tells xFilter whether values
 *   (and expiry) are read at all; if not, lookups use kv_exists and scans skip
 *   copying values.
 *
 *   Writes (xUpdate) never touch the engine directly: they are appended to the
 *   connection's write buffer (kvtxn.c), checked against what the connection
 *   sees (its own buffered writes, then the engine) for the primary-key
 *   constraint.  xSync applies the whole buffer as one all-or-nothing
 *   kv_batch, so other connections see all of a transaction or none of it.
 *   Inserts carry KV_SET_NX, so a key that another connection inserted after
 *   this one looked makes the commit fail with a constraint error and apply
 *   nothing.  Savepoints (including SQLite's per-statement ones) are marks in
 *   the buffer.  Reads merge the buffer over the engine, so a connection sees
 *   its own uncommitted writes.
 *
 *   With snapshot='file' the namespace is saved (kv_save) after every commit
 *   that wrote to it.  A save writes the whole namespace, so its cost grows
 *   with the namespace, not with the transaction.
 *
 *   The buffer lives in this table object, so DROP TABLE is refused while it
 *   holds writes (xDestroy), and a table whose namespace is its own name
 *   refuses ALTER TABLE RENAME (xRename): either would lose or hide data.
 */
#include "shardkv_sqlite.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <time.h>

#include "kvargs.h"
#include "kvtxn.h"

#ifndef SQLITE_OMIT_VIRTUALTABLE

/* Columns of the table. */
#define KVCOL_KEY        0
#define KVCOL_VALUE      1
#define KVCOL_TTL        2
#define KVCOL_EXPIRES_AT 3
#define KVCOL_TYPE       4

/*
 * xBestIndex plans (idxNum & 3) and flags.  idxStr names the plan for EXPLAIN
 * QUERY PLAN; for PLAN_PREFIX it ends in one letter per xFilter argument:
 * G (key >=), g (key >), L (key <), l (key <=), * (GLOB), % (LIKE).
 */
#define PLAN_FULL   0
#define PLAN_EQ     1
#define PLAN_IN     2
#define PLAN_PREFIX 3
#define NEED_VALUE  4 /* the value column is read */
#define NEED_EXPIRY 8 /* ttl or expires_at is read */

typedef struct kvvtab {
	sqlite3_vtab base;          /* Base class.  Must be first */
	sqlite3     *db;
	kv_ns       *ns;
	char        *zTable;        /* table name, for constraint messages */
	int          ns_given;      /* namespace= was declared (else the table's name) */
	char        *zSnapshot;     /* snapshot path, or NULL */
	uint32_t     max_key_size;  /* namespace limits cached at xBegin, to */
	uint32_t     max_value_size;/* refuse a write at its statement */
	int64_t      default_ttl_ms;
	kvtxn        txn;           /* buffered writes of the open transaction */
	int          applied;       /* xSync applied txn to the engine */
} kvvtab;

typedef struct kvcursor {
	sqlite3_vtab_cursor base;   /* Base class.  Must be first */
	int           idxNum;
	kvrows        cur;          /* rows of the current step */
	size_t        i;            /* current row of cur */
	kvrows        tail;         /* own buffered writes, returned after the engine's */
	int           in_tail;
	int           scanning;     /* more engine scan steps to run */
	uint64_t      cursor;       /* engine scan cursor */
	char         *prefix;
	size_t        prefix_len;
	int           eof;
	sqlite3_int64 rowid;
	kv_buf        vbuf;         /* reused by point lookups */
} kvcursor;

/* Free the old error message of the table and set a new one. */
static void kvvtab_error(kvvtab *p, const char *zFmt, ...)
{
	va_list ap;

	sqlite3_free(p->base.zErrMsg);
	va_start(ap, zFmt);
	p->base.zErrMsg = sqlite3_vmprintf(zFmt, ap);
	va_end(ap);
}

/* ---------------------------------------------------- connect / create */

static void fill_config(const kvargs *a, kv_ns_config *cfg)
{
	if (a->given & KVARG_SHARDS)
		cfg->shards = a->shards;
	if (a->given & KVARG_MAX_KEYS)
		cfg->max_keys = a->max_keys;
	if (a->given & KVARG_MAX_MEMORY)
		cfg->max_memory = a->max_memory;
	if (a->given & KVARG_DEFAULT_TTL)
		cfg->default_ttl_ms = a->default_ttl_ms;
	if (a->given & KVARG_MAX_KEY_SIZE)
		cfg->max_key_size = a->max_key_size;
	if (a->given & KVARG_MAX_VALUE_SIZE)
		cfg->max_value_size = a->max_value_size;
	if (a->given & KVARG_EVICTION)
		cfg->eviction = a->eviction;
}

/*
 * Load the snapshot into a namespace this connection just created.  First the
 * temp files that saves killed before their rename left beside the file go
 * (the engine's kv_snapshot_cleanup: only its own temp names, never a save in
 * progress); housekeeping only, so its failure does not stop the table.
 */
static int load_snapshot(const char *name, const char *path, char **pzErr)
{
	kv_error err;
	int      rc;

	(void)kv_snapshot_cleanup(shardkv_snapshot_dir(), path);
	memset(&err, 0, sizeof(err));
	rc = shardkv_load(path, name, &err);
	if (rc == KV_EIO && err.sys_errno == ENOENT)
		return KV_OK; /* no file yet: start empty, the first commit writes it */
	if (rc != KV_OK) {
		*pzErr = sqlite3_mprintf("cannot load snapshot \"%.200s\" into namespace \"%s\": %s", path, name,
		                         err.msg[0] ? err.msg : kv_strerror_text(rc));
		(void)kv_ns_drop(shardkv_env(), name);
	}
	return rc;
}

/*
 * A snapshot= name must work at every commit, so CREATE checks it once, as the
 * engine's saves will resolve it (kv_path_check: its spelling, its directory,
 * and that what is there already is a regular file).  xConnect does not check:
 * a file or directory that went away meanwhile must not make the table
 * unreadable (the next commit reports it).
 */
static int check_snapshot_path(const char *path, char **pzErr)
{
	kv_error err;
	int      rc;

	memset(&err, 0, sizeof(err));
	rc = kv_path_check(shardkv_snapshot_dir(), path, &err);
	if (rc == KV_OK)
		return SQLITE_OK;
	*pzErr = sqlite3_mprintf("cannot use snapshot \"%.100s\": %s", path,
	                         err.msg[0] ? err.msg : kv_strerror_text(rc));
	return SQLITE_ERROR;
}

/*
 * xCreate and xConnect: argv[0] module, argv[1] database, argv[2] table name,
 * argv[3..] the options.
 */
static int kvvtabInit(sqlite3 *db, int at_create, int argc, const char *const *argv,
                      sqlite3_vtab **ppVtab, char **pzErr)
{
	kvvtab      *p;
	kvargs       a;
	kv_ns_config cfg;
	kv_ns       *ns = NULL;
	char         msg[256];
	const char  *name;
	int          rc, created = 0;

	*ppVtab = NULL;
	if (kvargs_parse(argc - 3, argv + 3, &a, msg, sizeof(msg)) != 0) {
		*pzErr = sqlite3_mprintf("%s", msg);
		return SQLITE_ERROR;
	}
	if (a.snapshot != NULL && at_create && (rc = check_snapshot_path(a.snapshot, pzErr)) != SQLITE_OK) {
		kvargs_free(&a);
		return rc;
	}
	if ((a.given & KVARG_DEFAULT_TTL) && a.default_ttl_ms > 0) {
		int64_t at;

		/* one the engine would refuse at every write: refuse the table instead */
		if (kv_expiry_from_ttl_ms(a.default_ttl_ms, &at) != KV_OK) {
			*pzErr = sqlite3_mprintf("default_ttl is out of range (the latest expiry is 9999-12-31)");
			kvargs_free(&a);
			return SQLITE_ERROR;
		}
	}
	name = (a.given & KVARG_NAMESPACE) ? a.ns : argv[2];
	kv_ns_config_init(&cfg);
	fill_config(&a, &cfg);
	rc = shardkv_ns(name, 1, &cfg, &ns, &created);
	if (rc != KV_OK) {
		*pzErr = sqlite3_mprintf("cannot open namespace \"%.80s\": %s", name, kv_strerror_text(rc));
		kvargs_free(&a);
		return shardkv_sqlite_rc(rc);
	}
	/* the options configure a namespace this table creates, never one that
	 * exists: a schema (perhaps an attached, untrusted one) must not be able
	 * to change a live namespace merely by being read */
	if (created && a.snapshot != NULL)
		rc = load_snapshot(name, a.snapshot, pzErr);
	if (rc != KV_OK) {
		kvargs_free(&a);
		return shardkv_sqlite_rc(rc);
	}
	rc = sqlite3_declare_vtab(db, "CREATE TABLE x(key TEXT PRIMARY KEY NOT NULL, value, "
	                              "ttl HIDDEN, expires_at HIDDEN, type HIDDEN) WITHOUT ROWID");
	if (rc == SQLITE_OK)
		rc = sqlite3_vtab_config(db, SQLITE_VTAB_CONSTRAINT_SUPPORT, 1);
	if (rc == SQLITE_OK)
		rc = sqlite3_vtab_config(db, SQLITE_VTAB_DIRECTONLY);
	if (rc != SQLITE_OK) {
		*pzErr = sqlite3_mprintf("%s", sqlite3_errmsg(db));
		kvargs_free(&a);
		return rc;
	}
	p = sqlite3_malloc(sizeof(*p));
	if (p == NULL) {
		kvargs_free(&a);
		return SQLITE_NOMEM;
	}
	memset(p, 0, sizeof(*p));
	p->db = db;
	p->ns = ns;
	p->ns_given = (a.given & KVARG_NAMESPACE) != 0;
	p->zTable = sqlite3_mprintf("%s", argv[2]);
	p->zSnapshot = a.snapshot ? sqlite3_mprintf("%s", a.snapshot) : NULL;
	kvargs_free(&a);
	if (p->zTable == NULL || (a.given & KVARG_SNAPSHOT && p->zSnapshot == NULL)) {
		sqlite3_free(p->zTable);
		sqlite3_free(p->zSnapshot);
		sqlite3_free(p);
		return SQLITE_NOMEM;
	}
	*ppVtab = &p->base;
	return SQLITE_OK;
}

static int kvvtabCreate(sqlite3 *db, void *pAux, int argc, const char *const *argv,
                        sqlite3_vtab **ppVtab, char **pzErr)
{
	(void)pAux;
	return kvvtabInit(db, 1, argc, argv, ppVtab, pzErr);
}

static int kvvtabConnect(sqlite3 *db, void *pAux, int argc, const char *const *argv,
                         sqlite3_vtab **ppVtab, char **pzErr)
{
	(void)pAux;
	return kvvtabInit(db, 0, argc, argv, ppVtab, pzErr);
}

/* xDisconnect: the namespace stays (it is shared by the process). */
static int kvvtabDisconnect(sqlite3_vtab *pVtab)
{
	kvvtab *p = (kvvtab *)pVtab;

	kvtxn_free(&p->txn);
	sqlite3_free(p->base.zErrMsg); /* set by a refused xDestroy, which SQLite does not import */
	sqlite3_free(p->zTable);
	sqlite3_free(p->zSnapshot);
	sqlite3_free(p);
	return SQLITE_OK;
}

/*
 * xDestroy (DROP TABLE): the namespace stays, but the writes this connection
 * buffered in the open transaction live in this object.  Freeing them would
 * lose them at COMMIT (the namespace outlives the table), and applying them now
 * would keep them after a ROLLBACK, so the drop is refused until the
 * transaction ends.  SQLite reports only the code of a failed xDestroy
 * ("database table is locked"), not the message.
 */
static int kvvtabDestroy(sqlite3_vtab *pVtab)
{
	kvvtab *p = (kvvtab *)pVtab;

	if (p->txn.n > 0) {
		kvvtab_error(p, "cannot drop kv table \"%.200s\" while it has uncommitted writes: "
		                "commit or roll back first", p->zTable);
		return SQLITE_LOCKED;
	}
	return kvvtabDisconnect(pVtab);
}

/*
 * xRename.  A table without namespace= opens the namespace of its own name,
 * and SQLite keeps the declaration's arguments as they are, so the renamed
 * table would open another namespace and hide the data: refuse.  With
 * namespace= the table keeps its namespace and may be renamed.
 */
static int kvvtabRename(sqlite3_vtab *pVtab, const char *zNew)
{
	kvvtab *p = (kvvtab *)pVtab;

	if (p->ns_given)
		return SQLITE_OK;
	kvvtab_error(p, "cannot rename kv table \"%.200s\" to \"%.200s\": its namespace is its name, so "
	                "the renamed table would open namespace \"%.200s\"; create the new table with "
	                "namespace='%s' instead", p->zTable, zNew, zNew, kv_ns_name(p->ns));
	return SQLITE_ERROR;
}

/* ------------------------------------------------------------ planning */

static int kvvtabBestIndex(sqlite3_vtab *pVtab, sqlite3_index_info *pInfo)
{
	kvvtab *p = (kvvtab *)pVtab;
	int     iEq = -1, iIn = -1, nArg = 0, flags = 0;
	char    zPlan[8];
	int     aPrefix[6];
	char    aKind[6];
	int     nPrefix = 0, haveLo = 0, haveHi = 0, haveGlob = 0;
	kv_ns_stats st;
	double  nKeys = 1000;

	if (kv_ns_stats_get(p->ns, &st) == KV_OK)
		nKeys = (double)st.keys;
	if (pInfo->colUsed & (((sqlite3_uint64)1 << KVCOL_VALUE) | ((sqlite3_uint64)1 << KVCOL_TYPE)))
		flags |= NEED_VALUE; /* the type comes with the value */
	if (pInfo->colUsed & (((sqlite3_uint64)1 << KVCOL_TTL) | ((sqlite3_uint64)1 << KVCOL_EXPIRES_AT)))
		flags |= NEED_EXPIRY;

	for (int i = 0; i < pInfo->nConstraint; i++) {
		const struct sqlite3_index_constraint *c = &pInfo->aConstraint[i];

		if (!c->usable || c->iColumn != KVCOL_KEY)
			continue;
		/* the engine compares bytes: under another collation (NOCASE, RTRIM)
		 * =, IN and ranges mean something else, and SQLite must check them */
		if (c->op != SQLITE_INDEX_CONSTRAINT_GLOB && c->op != SQLITE_INDEX_CONSTRAINT_LIKE &&
		    sqlite3_stricmp(sqlite3_vtab_collation(pInfo, i), "BINARY") != 0)
			continue;
		switch (c->op) {
		case SQLITE_INDEX_CONSTRAINT_EQ:
			if (sqlite3_vtab_in(pInfo, i, -1)) {
				if (iIn < 0)
					iIn = i;
			} else if (iEq < 0) {
				iEq = i;
			}
			break;
		case SQLITE_INDEX_CONSTRAINT_GE:
		case SQLITE_INDEX_CONSTRAINT_GT:
			if (nPrefix < 6 && !haveLo) {
				aPrefix[nPrefix] = i;
				aKind[nPrefix++] = c->op == SQLITE_INDEX_CONSTRAINT_GE ? 'G' : 'g';
				haveLo = 1;
			}
			break;
		case SQLITE_INDEX_CONSTRAINT_LT:
		case SQLITE_INDEX_CONSTRAINT_LE:
			if (nPrefix < 6 && !haveHi) {
				aPrefix[nPrefix] = i;
				aKind[nPrefix++] = c->op == SQLITE_INDEX_CONSTRAINT_LT ? 'L' : 'l';
				haveHi = 1;
			}
			break;
		case SQLITE_INDEX_CONSTRAINT_GLOB:
		case SQLITE_INDEX_CONSTRAINT_LIKE:
			if (nPrefix < 6 && haveGlob < 2) {
				aPrefix[nPrefix] = i;
				aKind[nPrefix++] = c->op == SQLITE_INDEX_CONSTRAINT_GLOB ? '*' : '%';
				haveGlob++;
			}
			break;
		default:
			break;
		}
	}

	if (iEq >= 0) {
		pInfo->aConstraintUsage[iEq].argvIndex = 1;
		pInfo->aConstraintUsage[iEq].omit = 1;
		pInfo->idxNum = PLAN_EQ | flags;
		pInfo->idxStr = (char *)"lookup";
		pInfo->idxFlags = SQLITE_INDEX_SCAN_UNIQUE;
		pInfo->estimatedCost = 1.0;
		pInfo->estimatedRows = 1;
		return SQLITE_OK;
	}
	if (iIn >= 0) {
		sqlite3_vtab_in(pInfo, iIn, 1);
		pInfo->aConstraintUsage[iIn].argvIndex = 1;
		pInfo->aConstraintUsage[iIn].omit = 1;
		pInfo->idxNum = PLAN_IN | flags;
		pInfo->idxStr = (char *)"batch-lookup";
		pInfo->estimatedCost = 5.0;
		pInfo->estimatedRows = 5;
		return SQLITE_OK;
	}
	if ((haveLo && haveHi) || haveGlob) {
		int n = 0;

		for (int k = 0; k < nPrefix; k++) {
			/* a lone bound gives no prefix: leave it to SQLite */
			if ((aKind[k] == 'G' || aKind[k] == 'g' || aKind[k] == 'L' || aKind[k] == 'l') &&
			    !(haveLo && haveHi))
				continue;
			pInfo->aConstraintUsage[aPrefix[k]].argvIndex = ++nArg;
			pInfo->aConstraintUsage[aPrefix[k]].omit = 0; /* SQLite re-checks each row */
			zPlan[n++] = aKind[k];
		}
		zPlan[n] = '\0';
		pInfo->idxStr = sqlite3_mprintf("prefix-scan:%s", zPlan);
		if (pInfo->idxStr == NULL)
			return SQLITE_NOMEM;
		pInfo->needToFreeIdxStr = 1;
		pInfo->idxNum = PLAN_PREFIX | flags;
		pInfo->estimatedCost = nKeys * 0.5 + 10;
		pInfo->estimatedRows = (sqlite3_int64)(nKeys / 10) + 1;
		return SQLITE_OK;
	}
	pInfo->idxNum = PLAN_FULL | flags;
	pInfo->idxStr = (char *)"full-scan";
	pInfo->estimatedCost = nKeys + 10;
	pInfo->estimatedRows = (sqlite3_int64)nKeys + 1;
	return SQLITE_OK;
}

/* --------------------------------------------------------------- cursor */

static int kvvtabOpen(sqlite3_vtab *pVtab, sqlite3_vtab_cursor **ppCursor)
{
	kvcursor *c = sqlite3_malloc(sizeof(*c));

	(void)pVtab;
	if (c == NULL)
		return SQLITE_NOMEM;
	memset(c, 0, sizeof(*c));
	*ppCursor = &c->base;
	return SQLITE_OK;
}

static int kvvtabClose(sqlite3_vtab_cursor *cur)
{
	kvcursor *c = (kvcursor *)cur;

	kvrows_free(&c->cur);
	kvrows_free(&c->tail);
	kv_buf_free(shardkv_env(), &c->vbuf);
	sqlite3_free(c->prefix);
	sqlite3_free(c);
	return SQLITE_OK;
}

/* Expiry of a buffered write as a reader sees it (0 = none). */
static int64_t ent_expiry(kvvtab *p, const kvtxn_ent *e)
{
	int64_t t;

	switch (e->expires_at) {
	case KV_EXPIRE_NEVER:
		return 0;
	case KV_EXPIRE_DEFAULT:
		/* what the engine will compute at commit (CREATE refused a default
		 * past KV_EXPIRES_MAX, so the call fails only on a clock that far on) */
		if (p->default_ttl_ms <= 0 || kv_expiry_from_ttl_ms(p->default_ttl_ms, &t) != KV_OK)
			return 0;
		return t;
	case KV_EXPIRE_KEEP:
		if (kv_ttl(p->ns, e->key, e->klen, &t) == KV_OK)
			return t;
		return 0;
	default:
		return e->expires_at;
	}
}

/*
 * What the connection sees for a key that has a buffered write: 1 and the
 * expiry if the buffer holds a live value, 0 if it holds a delete (or a value
 * already expired).
 */
static int ent_visible(kvvtab *p, const kvtxn_ent *e, int64_t *expires_at)
{
	int64_t t;

	if (e->op != KV_OP_SET)
		return 0;
	t = ent_expiry(p, e);
	if (t != 0 && t <= kv_now_ms())
		return 0;
	*expires_at = t;
	return 1;
}

/*
 * The row of a key that holds a collection (kv_get said KV_EWRONGTYPE): its
 * kind as the type, a NULL value, and its expiry.  Gone meanwhile: no row.
 */
static int collection_row(kvvtab *p, kvcursor *c, const void *key, size_t klen)
{
	int     kind = 0, rc = kv_kind(p->ns, key, klen, &kind);
	int64_t t = 0;

	if (rc == KV_OK)
		rc = kv_ttl(p->ns, key, klen, &t);
	if (rc == KV_NOTFOUND)
		return SQLITE_OK;
	if (rc != KV_OK) {
		kvvtab_error(p, "%s", kv_strerror_text(rc));
		return shardkv_sqlite_rc(rc);
	}
	return kvrows_add(&c->cur, key, klen, NULL, 0, kind, t);
}

/* Add the row of key (if the connection sees one) to c->cur. */
static int lookup_one(kvvtab *p, kvcursor *c, const void *key, size_t klen)
{
	const kvtxn_ent *e = kvtxn_find(&p->txn, key, klen);
	kv_buf          *buf = &c->vbuf;
	int64_t          t = 0;
	int              rc;

	if (e != NULL) {
		if (!ent_visible(p, e, &t))
			return SQLITE_OK;
		return kvrows_add(&c->cur, key, klen, e->val, e->vlen, e->type, t);
	}
	if (c->idxNum & NEED_VALUE) {
		rc = kv_get(p->ns, key, klen, buf);
		if (rc == KV_OK) {
			rc = kvrows_add(&c->cur, key, klen, buf->data, buf->len, buf->type, buf->expires_at);
			if (buf->cap > 65536)
				kv_buf_free(shardkv_env(), buf); /* do not keep a big value around */
			return rc;
		}
		if (rc == KV_NOTFOUND)
			return SQLITE_OK;
		if (rc == KV_EWRONGTYPE)
			return collection_row(p, c, key, klen);
		goto fail;
	}
	rc = (c->idxNum & NEED_EXPIRY) ? kv_ttl(p->ns, key, klen, &t) : kv_exists(p->ns, key, klen);
	if (rc == KV_OK)
		return kvrows_add(&c->cur, key, klen, NULL, 0, KV_T_NULL, t);
	if (rc == KV_NOTFOUND)
		return SQLITE_OK;
fail:
	if (rc == KV_EKEYSIZE)
		return SQLITE_OK; /* no such key can exist */
	kvvtab_error(p, "%s", kv_strerror_text(rc));
	return shardkv_sqlite_rc(rc);
}

/* A key of an IN list, pointing into the list's row arena. */
typedef struct in_key {
	const char *key;
	size_t      klen;
} in_key;

static int in_key_cmp(const void *a, const void *b)
{
	const in_key *x = a, *y = b;
	size_t        n = x->klen < y->klen ? x->klen : y->klen;
	int           d = n ? memcmp(x->key, y->key, n) : 0;

	if (d != 0)
		return d;
	return (x->klen > y->klen) - (x->klen < y->klen);
}

/*
 * The distinct byte strings of an IN list: 'a' and x'61' are one key, and
 * must give one row.  NULLs and keys longer than the namespace's
 * max_key_size cannot exist, so they match nothing (as with =); the empty key
 * is a key like any other.
 * On success *out (sqlite3_malloc) holds *n keys whose bytes live in *arena.
 */
static int in_list_keys(kvvtab *p, sqlite3_value *pList, kvrows *arena, in_key **out, size_t *n)
{
	sqlite3_value *v;
	kv_ns_stats    st;
	uint32_t       max_key = 0;
	in_key        *keys;
	size_t         m = 0;
	int            rc;

	*out = NULL;
	*n = 0;
	if (kv_ns_stats_get(p->ns, &st) == KV_OK)
		max_key = st.config.max_key_size;
	for (rc = sqlite3_vtab_in_first(pList, &v); rc == SQLITE_OK && v; rc = sqlite3_vtab_in_next(pList, &v)) {
		kvsql_val k;

		if (kvsql_key(v, &k) != 0 || (max_key && k.len > max_key))
			continue;
		rc = kvrows_add(arena, k.data, k.len, NULL, 0, 0, 0);
		if (rc != SQLITE_OK)
			return rc;
	}
	if (rc != SQLITE_DONE && rc != SQLITE_OK)
		return rc;
	if (arena->n == 0)
		return SQLITE_OK;
	keys = sqlite3_malloc64(arena->n * sizeof(*keys));
	if (keys == NULL)
		return SQLITE_NOMEM;
	for (size_t i = 0; i < arena->n; i++) {
		keys[i].key = arena->arena + arena->rows[i].koff;
		keys[i].klen = arena->rows[i].klen;
	}
	qsort(keys, arena->n, sizeof(*keys), in_key_cmp);
	for (size_t i = 0; i < arena->n; i++)
		if (m == 0 || in_key_cmp(&keys[m - 1], &keys[i]) != 0)
			keys[m++] = keys[i];
	*out = keys;
	*n = m;
	return SQLITE_OK;
}

/* key IN (...): every key of the list in one all-or-nothing (consistent) batch get. */
static int lookup_in(kvvtab *p, kvcursor *c, sqlite3_value *pList)
{
	kvrows    list;
	in_key   *keys = NULL;
	kv_op    *ops = NULL;
	kv_buf    arena = KV_BUF_INIT;
	kv_error  err;
	size_t    nkeys = 0, nops = 0;
	int       rc;

	memset(&list, 0, sizeof(list));
	rc = in_list_keys(p, pList, &list, &keys, &nkeys);
	if (rc != SQLITE_OK || nkeys == 0)
		goto done;
	ops = sqlite3_malloc64(nkeys * sizeof(*ops));
	if (ops == NULL) {
		rc = SQLITE_NOMEM;
		goto done;
	}
	for (size_t i = 0; i < nkeys; i++) {
		const kvtxn_ent *e = kvtxn_find(&p->txn, keys[i].key, keys[i].klen);
		int64_t          t;

		if (e != NULL) { /* the connection's own buffered write wins */
			if (ent_visible(p, e, &t))
				rc = kvrows_add(&c->cur, keys[i].key, keys[i].klen, e->val, e->vlen, e->type, t);
			if (rc != SQLITE_OK)
				goto done;
			continue;
		}
		memset(&ops[nops], 0, sizeof(ops[nops]));
		ops[nops].op = (c->idxNum & (NEED_VALUE | NEED_EXPIRY)) ? KV_OP_GET : KV_OP_EXISTS;
		ops[nops].key = keys[i].key;
		ops[nops].klen = keys[i].klen;
		nops++;
	}
	memset(&err, 0, sizeof(err));
	rc = nops ? kv_batch(p->ns, ops, nops, KV_BATCH_ALL_OR_NOTHING, &arena, &err) : KV_OK;
	if (rc == KV_EWRONGTYPE) {
		/* a key of the list holds a collection, which a batch GET refuses:
		 * one lookup per key instead (not one consistent cut then) */
		rc = SQLITE_OK;
		for (size_t i = 0; i < nops && rc == SQLITE_OK; i++)
			rc = lookup_one(p, c, ops[i].key, ops[i].klen);
		goto done;
	}
	if (rc != KV_OK) {
		kvvtab_error(p, "%s", err.msg[0] ? err.msg : kv_strerror_text(rc));
		rc = shardkv_sqlite_rc(rc);
		goto done;
	}
	for (size_t i = 0; i < nops && rc == SQLITE_OK; i++) {
		if (ops[i].status == KV_NOTFOUND)
			continue;
		if (ops[i].status == KV_EWRONGTYPE) {
			rc = collection_row(p, c, ops[i].key, ops[i].klen);
			continue;
		}
		if (ops[i].status != KV_OK) {
			kvvtab_error(p, "%s", kv_strerror_text(ops[i].status));
			rc = shardkv_sqlite_rc(ops[i].status);
			break;
		}
		if (ops[i].op == KV_OP_GET)
			rc = kvrows_add(&c->cur, ops[i].key, ops[i].klen, arena.data + ops[i].out_off,
			              ops[i].out_len, ops[i].out_type, ops[i].out_expires_at);
		else
			rc = kvrows_add(&c->cur, ops[i].key, ops[i].klen, NULL, 0, KV_T_NULL, 0);
	}
done:
	kv_buf_free(shardkv_env(), &arena);
	sqlite3_free(ops);
	sqlite3_free(keys);
	kvrows_free(&list);
	return rc;
}

typedef struct scan_ctx {
	kvvtab   *p;
	kvcursor *c;
} scan_ctx;

static int scan_row(void *ctx, const void *key, size_t klen, const void *val, size_t vlen,
                    int type, int64_t expires_at)
{
	scan_ctx *s = ctx;

	if (kvtxn_find(&s->p->txn, key, klen) != NULL)
		return 0; /* the connection's own buffered write wins (it is in c->tail) */
	if (kvrows_add(&s->c->cur, key, klen, val, val ? vlen : 0, type, expires_at) != SQLITE_OK)
		return SQLITE_NOMEM;
	return 0;
}

/* Fill c->cur with the next engine scan step that has rows, or finish the scan. */
static int scan_step(kvvtab *p, kvcursor *c)
{
	kv_scan_opts opts;
	scan_ctx     s = {p, c};

	memset(&opts, 0, sizeof(opts));
	opts.prefix = c->prefix_len ? c->prefix : NULL;
	opts.prefix_len = c->prefix_len;
	opts.count = 256;
	opts.values = (c->idxNum & NEED_VALUE) != 0;
	while (c->scanning && c->cur.n == 0) {
		int rc = kv_scan(p->ns, &c->cursor, &opts, scan_row, &s);

		if (rc == SQLITE_NOMEM)
			return SQLITE_NOMEM;
		if (rc != KV_OK) {
			kvvtab_error(p, "%s", kv_strerror_text(rc));
			return shardkv_sqlite_rc(rc);
		}
		if (c->cursor == 0)
			c->scanning = 0;
	}
	return SQLITE_OK;
}

/* Copy the connection's buffered, visible writes whose key starts with the prefix. */
static int collect_tail(kvvtab *p, kvcursor *c)
{
	for (size_t i = 0; i < p->txn.n; i++) {
		const kvtxn_ent *e = &p->txn.ents[i];
		int64_t          t;

		if (kvtxn_find(&p->txn, e->key, e->klen) != e)
			continue; /* a later write of the key supersedes this one */
		if (c->prefix_len &&
		    (e->klen < c->prefix_len || memcmp(e->key, c->prefix, c->prefix_len) != 0))
			continue;
		if (!ent_visible(p, e, &t))
			continue;
		if (kvrows_add(&c->tail, e->key, e->klen, e->val, e->vlen, e->type, t) != SQLITE_OK)
			return SQLITE_NOMEM;
	}
	return SQLITE_OK;
}

static size_t common_prefix(const unsigned char *a, size_t na, const unsigned char *b, size_t nb)
{
	size_t i = 0;

	while (i < na && i < nb && a[i] == b[i])
		i++;
	return i;
}

/* The longest key prefix that the pushed-down constraints imply. */
static int compute_prefix(kvcursor *c, const char *zPlan, int argc, sqlite3_value **argv)
{
	const unsigned char *best = NULL, *lo = NULL, *hi = NULL;
	size_t               nbest = 0, nlo = 0, nhi = 0;

	for (int i = 0; i < argc && zPlan && zPlan[i]; i++) {
		int                  t = sqlite3_value_type(argv[i]);
		const unsigned char *s;
		size_t               n, k = 0;

		if (t != SQLITE_TEXT && t != SQLITE_BLOB)
			continue; /* a numeric bound says nothing about text keys' prefix */
		s = t == SQLITE_TEXT ? sqlite3_value_text(argv[i]) : sqlite3_value_blob(argv[i]);
		n = (size_t)sqlite3_value_bytes(argv[i]);
		if (s == NULL)
			continue;
		switch (zPlan[i]) {
		case 'G': case 'g':
			lo = s; nlo = n;
			continue;
		case 'L': case 'l':
			hi = s; nhi = n;
			continue;
		case '*':
			while (k < n && s[k] != '*' && s[k] != '?' && s[k] != '[')
				k++;
			break;
		case '%':
			/* LIKE folds ASCII case: stop before the first letter, too */
			while (k < n && s[k] != '%' && s[k] != '_' &&
			       !((s[k] >= 'a' && s[k] <= 'z') || (s[k] >= 'A' && s[k] <= 'Z')))
				k++;
			break;
		default:
			continue;
		}
		if (k > nbest) {
			best = s;
			nbest = k;
		}
	}
	if (lo && hi) {
		size_t k = common_prefix(lo, nlo, hi, nhi);

		if (k > nbest) {
			best = lo;
			nbest = k;
		}
	}
	sqlite3_free(c->prefix);
	c->prefix = NULL;
	c->prefix_len = 0;
	if (nbest == 0)
		return SQLITE_OK;
	c->prefix = sqlite3_malloc64(nbest);
	if (c->prefix == NULL)
		return SQLITE_NOMEM;
	memcpy(c->prefix, best, nbest);
	c->prefix_len = nbest;
	return SQLITE_OK;
}

static int kvvtabFilter(sqlite3_vtab_cursor *cur, int idxNum, const char *idxStr, int argc,
                        sqlite3_value **argv)
{
	kvcursor *c = (kvcursor *)cur;
	kvvtab   *p = (kvvtab *)cur->pVtab;
	int       rc = SQLITE_OK;

	kvrows_reset(&c->cur);
	kvrows_reset(&c->tail);
	c->i = 0;
	c->in_tail = 0;
	c->scanning = 0;
	c->cursor = 0;
	c->rowid = 0;
	c->eof = 0;
	c->idxNum = idxNum;
	sqlite3_free(c->prefix);
	c->prefix = NULL;
	c->prefix_len = 0;

	switch (idxNum & 3) {
	case PLAN_EQ: {
		kvsql_val k;

		if (argc >= 1 && kvsql_key(argv[0], &k) == 0)
			rc = lookup_one(p, c, k.data, k.len);
		break;
	}
	case PLAN_IN:
		if (argc >= 1)
			rc = lookup_in(p, c, argv[0]);
		break;
	case PLAN_PREFIX:
		/* idxStr is "prefix-scan:" and one letter per argument */
		rc = compute_prefix(c, idxStr ? strchr(idxStr, ':') + 1 : NULL, argc, argv);
		/* fall through */
	default:
		if (rc == SQLITE_OK)
			rc = collect_tail(p, c);
		c->scanning = 1;
		if (rc == SQLITE_OK)
			rc = scan_step(p, c);
		break;
	}
	if (rc == SQLITE_OK && c->cur.n == 0) {
		c->in_tail = 1;
		c->eof = c->tail.n == 0;
	}
	return rc;
}

static int kvvtabNext(sqlite3_vtab_cursor *cur)
{
	kvcursor *c = (kvcursor *)cur;
	kvvtab   *p = (kvvtab *)cur->pVtab;
	int       rc;

	c->rowid++;
	c->i++;
	if (c->in_tail) {
		c->eof = c->i >= c->tail.n;
		return SQLITE_OK;
	}
	if (c->i < c->cur.n)
		return SQLITE_OK;
	kvrows_reset(&c->cur);
	c->i = 0;
	rc = scan_step(p, c);
	if (rc != SQLITE_OK)
		return rc;
	if (c->cur.n == 0) {
		c->in_tail = 1;
		c->eof = c->tail.n == 0;
	}
	return SQLITE_OK;
}

static int kvvtabEof(sqlite3_vtab_cursor *cur)
{
	return ((kvcursor *)cur)->eof;
}

static int kvvtabColumn(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int i)
{
	kvcursor     *c = (kvcursor *)cur;
	const kvrows *r = c->in_tail ? &c->tail : &c->cur;
	const kvrow  *row = &r->rows[c->i];

	switch (i) {
	case KVCOL_KEY:
		kvsql_result_key(ctx, r->arena + row->koff, row->klen);
		break;
	case KVCOL_VALUE:
		kvsql_result(ctx, r->arena + row->voff, row->vlen, row->type);
		break;
	case KVCOL_TTL:
		if (sqlite3_vtab_nochange(ctx))
			break; /* UPDATE that does not set ttl: xUpdate sees "unchanged" */
		if (row->expires_at != 0)
			sqlite3_result_int64(ctx, kv_ttl_remaining(row->expires_at, kv_now_ms(), 1000));
		break;
	case KVCOL_EXPIRES_AT:
		if (sqlite3_vtab_nochange(ctx))
			break;
		if (row->expires_at != 0)
			sqlite3_result_int64(ctx, row->expires_at);
		break;
	case KVCOL_TYPE: {
		const char *name = kv_type_name(row->type);

		if (sqlite3_vtab_nochange(ctx))
			break; /* UPDATE: xUpdate sees "unchanged" */
		if (name != NULL)
			sqlite3_result_text(ctx, name, -1, SQLITE_STATIC);
		else
			sqlite3_result_int(ctx, row->type);
		break;
	}
	default:
		break;
	}
	return SQLITE_OK;
}

static int kvvtabRowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *pRowid)
{
	*pRowid = ((kvcursor *)cur)->rowid;
	return SQLITE_OK;
}

/* -------------------------------------------------------------- writes */

/* Does the connection see key?  1 yes, 0 no, or a negative KV_* error. */
static int key_visible(kvvtab *p, const void *key, size_t klen)
{
	const kvtxn_ent *e = kvtxn_find(&p->txn, key, klen);
	int64_t          t;
	int              rc;

	if (e != NULL)
		return ent_visible(p, e, &t);
	rc = kv_exists(p->ns, key, klen);
	if (rc == KV_OK)
		return 1;
	if (rc == KV_NOTFOUND)
		return 0;
	return rc;
}

/* Absolute expiry of a key the connection sees, for a row that changes key. */
static int64_t current_expiry(kvvtab *p, const void *key, size_t klen)
{
	const kvtxn_ent *e = kvtxn_find(&p->txn, key, klen);
	int64_t          t = 0;

	if (e != NULL)
		return ent_visible(p, e, &t) ? t : 0;
	if (kv_ttl(p->ns, key, klen, &t) != KV_OK)
		return 0;
	return t;
}

/*
 * The expiry a write asks for.  is_insert: every column was given.  Sets
 * *out to an absolute time or KV_EXPIRE_*; returns SQLITE_OK or an error.
 */
static int write_expiry(kvvtab *p, sqlite3_value *ttl, sqlite3_value *exp, int is_insert,
                        int64_t *out)
{
	int ttl_set = is_insert || !sqlite3_value_nochange(ttl);
	int exp_set = is_insert || !sqlite3_value_nochange(exp);

	if (exp_set && sqlite3_value_type(exp) != SQLITE_NULL) {
		int    t = sqlite3_value_numeric_type(exp);
		double d = sqlite3_value_double(exp);

		/* a fractional REAL is refused, not truncated: the engine's rule is
		 * that a key never expires earlier than asked, and the host keeps no
		 * rounding of its own */
		if ((t != SQLITE_INTEGER && t != SQLITE_FLOAT) || !(d >= 1 && d < 9.2e18) ||
		    (t == SQLITE_FLOAT && d != (double)sqlite3_value_int64(exp)) ||
		    kv_expiry_check(sqlite3_value_int64(exp)) != KV_OK) {
			kvvtab_error(p, "expires_at must be a whole number of ms since the Unix epoch, "
			                "at most 9999-12-31 (%lld)", (long long)KV_EXPIRES_MAX);
			return SQLITE_MISMATCH;
		}
		*out = sqlite3_value_int64(exp);
		return SQLITE_OK;
	}
	if (ttl_set && sqlite3_value_type(ttl) != SQLITE_NULL) {
		int rc = kvsql_ttl_expiry(ttl, out);

		if (rc == KVSQL_TTL_RANGE) {
			kvvtab_error(p, "ttl is out of range (the latest expiry is 9999-12-31)");
			return SQLITE_MISMATCH;
		}
		if (rc != 0 || !(sqlite3_value_double(ttl) > 0)) {
			kvvtab_error(p, "ttl must be a positive number of seconds");
			return SQLITE_MISMATCH;
		}
		return SQLITE_OK;
	}
	if (is_insert)
		*out = KV_EXPIRE_DEFAULT;
	else if (ttl_set || exp_set)
		*out = KV_EXPIRE_NEVER; /* SET ttl = NULL / expires_at = NULL: persist */
	else
		*out = KV_EXPIRE_KEEP;
	return SQLITE_OK;
}

static int constraint_error(kvvtab *p)
{
	kvvtab_error(p, "UNIQUE constraint failed: %.200s.key", p->zTable);
	return SQLITE_CONSTRAINT_PRIMARYKEY;
}

static int kv_failure(kvvtab *p, int rc)
{
	kvvtab_error(p, "%s", kv_strerror_text(rc));
	return shardkv_sqlite_rc(rc);
}

/*
 * An UPDATE that leaves the value NULL on a row holding a collection would
 * replace the collection with that NULL (see COLLECTIONS above): refused.  A
 * key this connection wrote in its open transaction holds that string.
 */
static int refuse_collection_update(kvvtab *p, const void *key, size_t klen)
{
	int kind = 0, rc;

	if (kvtxn_find(&p->txn, key, klen) != NULL)
		return SQLITE_OK;
	rc = kv_kind(p->ns, key, klen, &kind);
	if (rc == KV_NOTFOUND || (rc == KV_OK && (kind < KV_T_HASH || kind > KV_T_LIST)))
		return SQLITE_OK;
	if (rc != KV_OK)
		return kv_failure(p, rc);
	kvvtab_error(p, "%.200s: the key holds a %s: an UPDATE that leaves its value NULL would replace "
	             "it (set a value to replace it, or DELETE it)", p->zTable, kv_kind_name(kind));
	return SQLITE_CONSTRAINT;
}

/*
 * xUpdate.  argc 1: DELETE of key argv[0].  argv[0] NULL: INSERT.  Otherwise
 * UPDATE of row argv[0].  argv[2..5] are the new key, value, ttl, expires_at.
 */
static int kvvtabUpdate(sqlite3_vtab *pVtab, int argc, sqlite3_value **argv, sqlite_int64 *pRowid)
{
	kvvtab   *p = (kvvtab *)pVtab;
	kvsql_val oldk, newk, val;
	int64_t   exp;
	int       is_insert, rc, seen, mode;
	unsigned  flags = 0;

	(void)pRowid;
	if (argc == 1) {
		if (kvsql_key(argv[0], &oldk) != 0)
			return SQLITE_OK;
		return kvtxn_add(&p->txn, KV_OP_DEL, 0, oldk.data, oldk.len, NULL, 0, 0, 0);
	}
	is_insert = sqlite3_value_type(argv[0]) == SQLITE_NULL;
	if (kvsql_key(argv[2 + KVCOL_KEY], &newk) != 0) {
		kvvtab_error(p, "NOT NULL constraint failed: %.200s.key", p->zTable);
		return SQLITE_CONSTRAINT_NOTNULL;
	}
	if (p->max_key_size && newk.len > p->max_key_size)
		return kv_failure(p, KV_EKEYSIZE);
	if (sqlite3_value_type(argv[2 + KVCOL_TYPE]) != SQLITE_NULL &&
	    !sqlite3_value_nochange(argv[2 + KVCOL_TYPE])) {
		kvvtab_error(p, "%.200s.type is read-only", p->zTable);
		return SQLITE_CONSTRAINT;
	}
	if (!is_insert && sqlite3_value_type(argv[2 + KVCOL_VALUE]) == SQLITE_NULL &&
	    kvsql_key(argv[0], &oldk) == 0) {
		rc = refuse_collection_update(p, oldk.data, oldk.len);
		if (rc != SQLITE_OK)
			return rc;
	}
	kvsql_from_value(argv[2 + KVCOL_VALUE], &val);
	if (p->max_value_size && val.len > p->max_value_size)
		return kv_failure(p, KV_EVALSIZE);
	rc = write_expiry(p, argv[2 + KVCOL_TTL], argv[2 + KVCOL_EXPIRES_AT], is_insert, &exp);
	if (rc != SQLITE_OK)
		return rc;

	if (!is_insert) {
		if (kvsql_key(argv[0], &oldk) != 0)
			return SQLITE_OK;
		if (oldk.len == newk.len && memcmp(oldk.data, newk.data, newk.len) == 0) {
			if (exp == KV_EXPIRE_KEEP) {
				/* keeping the expiry of a write buffered earlier: copy it, so
				 * that reads before the commit see it too */
				const kvtxn_ent *e = kvtxn_find(&p->txn, newk.data, newk.len);

				if (e != NULL && e->op == KV_OP_SET)
					exp = e->expires_at;
			}
			return kvtxn_add(&p->txn, KV_OP_SET, 0, newk.data, newk.len, val.data, val.len,
			                 val.type, exp);
		}
		if (exp == KV_EXPIRE_KEEP) {
			exp = current_expiry(p, oldk.data, oldk.len);
			if (exp == 0)
				exp = KV_EXPIRE_NEVER;
		}
	}
	/* a new key (INSERT, or UPDATE that changes the key): primary-key check */
	mode = sqlite3_vtab_on_conflict(p->db);
	if (mode != SQLITE_REPLACE) {
		seen = key_visible(p, newk.data, newk.len);
		if (seen < 0)
			return kv_failure(p, seen);
		if (seen) {
			if (mode == SQLITE_IGNORE)
				return SQLITE_OK;
			return constraint_error(p);
		}
		flags = KV_SET_NX;
	}
	if (!is_insert) {
		rc = kvtxn_add(&p->txn, KV_OP_DEL, 0, oldk.data, oldk.len, NULL, 0, 0, 0);
		if (rc != SQLITE_OK)
			return rc;
	}
	return kvtxn_add(&p->txn, KV_OP_SET, flags, newk.data, newk.len, val.data, val.len, val.type,
	                 exp);
}

/* -------------------------------------------------------- transactions */

static int kvvtabBegin(sqlite3_vtab *pVtab)
{
	kvvtab     *p = (kvvtab *)pVtab;
	kv_ns_stats st;

	kvtxn_clear(&p->txn);
	p->applied = 0;
	if (kv_ns_stats_get(p->ns, &st) == KV_OK) {
		p->max_key_size = st.config.max_key_size;
		p->max_value_size = st.config.max_value_size;
		p->default_ttl_ms = st.config.default_ttl_ms;
	}
	return SQLITE_OK;
}

/*
 * Save the namespace, waiting out a concurrent save of it for up to 10 s of
 * wall time in all (a save can itself wait for the directory's other saves, so
 * the bound is on time, not on tries).
 */
static int save_snapshot(kvvtab *p)
{
	kv_error err;
	int64_t  deadline = kv_now_ms() + 10000;
	int      rc;

	for (;;) {
		struct timespec ts = {0, 5 * 1000 * 1000};

		memset(&err, 0, sizeof(err));
		rc = shardkv_save(kv_ns_name(p->ns), p->zSnapshot, &err);
		if (rc != KV_EBUSY || kv_now_ms() >= deadline)
			break;
		nanosleep(&ts, NULL);
	}
	if (rc != KV_OK) {
		kvvtab_error(p, "changes were applied but snapshot \"%.200s\" was not saved: %s", p->zSnapshot,
		             err.msg[0] ? err.msg : kv_strerror_text(rc));
		return SQLITE_IOERR;
	}
	return SQLITE_OK;
}

/* xSync: the commit's first phase, the one that may fail: apply the buffer. */
static int kvvtabSync(sqlite3_vtab *pVtab)
{
	kvvtab  *p = (kvvtab *)pVtab;
	kv_op   *ops;
	kv_error err;
	size_t   n = p->txn.n;
	int      rc;

	if (n == 0 || p->applied)
		return SQLITE_OK;
	ops = sqlite3_malloc64(n * sizeof(*ops));
	if (ops == NULL)
		return SQLITE_NOMEM;
	memset(ops, 0, n * sizeof(*ops));
	for (size_t i = 0; i < n; i++) {
		const kvtxn_ent *e = &p->txn.ents[i];

		ops[i].op = e->op;
		ops[i].key = e->key;
		ops[i].klen = e->klen;
		if (e->op == KV_OP_SET) {
			ops[i].val = e->val;
			ops[i].vlen = e->vlen;
			ops[i].type = e->type;
			ops[i].expires_at = e->expires_at;
			ops[i].flags = e->flags;
		}
	}
	memset(&err, 0, sizeof(err));
	err.item = (size_t)-1;
	rc = kv_batch(p->ns, ops, n, KV_BATCH_ALL_OR_NOTHING, NULL, &err);
	if (rc != KV_OK) {
		size_t item = err.item < n ? err.item : (size_t)-1;

		if (rc == KV_EXISTS) {
			rc = constraint_error(p);
		} else {
			if (item != (size_t)-1)
				kvvtab_error(p, "cannot commit key \"%.*s\": %s", (int)(ops[item].klen > 100 ? 100 : ops[item].klen),
				             (const char *)ops[item].key, kv_strerror_text(rc));
			else
				kvvtab_error(p, "cannot commit: %s", err.msg[0] ? err.msg : kv_strerror_text(rc));
			rc = shardkv_sqlite_rc(rc);
		}
		sqlite3_free(ops);
		return rc;
	}
	sqlite3_free(ops);
	p->applied = 1;
	shardkv_maybe_tick();
	if (p->zSnapshot != NULL)
		return save_snapshot(p);
	return SQLITE_OK;
}

static int kvvtabCommit(sqlite3_vtab *pVtab)
{
	kvvtab *p = (kvvtab *)pVtab;
	int     rc = SQLITE_OK;

	if (!p->applied && p->txn.n > 0)
		rc = kvvtabSync(pVtab); /* SQLite always syncs first; this is a safety net */
	kvtxn_clear(&p->txn);
	p->applied = 0;
	return rc;
}

static int kvvtabRollback(sqlite3_vtab *pVtab)
{
	kvvtab *p = (kvvtab *)pVtab;

	kvtxn_clear(&p->txn);
	p->applied = 0;
	return SQLITE_OK;
}

static int kvvtabSavepoint(sqlite3_vtab *pVtab, int iSavepoint)
{
	return kvtxn_savepoint(&((kvvtab *)pVtab)->txn, iSavepoint);
}

static int kvvtabRelease(sqlite3_vtab *pVtab, int iSavepoint)
{
	kvtxn_release(&((kvvtab *)pVtab)->txn, iSavepoint);
	return SQLITE_OK;
}

static int kvvtabRollbackTo(sqlite3_vtab *pVtab, int iSavepoint)
{
	return kvtxn_rollback_to(&((kvvtab *)pVtab)->txn, iSavepoint);
}

static sqlite3_module kvvtabModule = {
	/* iVersion    */ 2,
	/* xCreate     */ kvvtabCreate,
	/* xConnect    */ kvvtabConnect,
	/* xBestIndex  */ kvvtabBestIndex,
	/* xDisconnect */ kvvtabDisconnect,
	/* xDestroy    */ kvvtabDestroy,
	/* xOpen       */ kvvtabOpen,
	/* xClose      */ kvvtabClose,
	/* xFilter     */ kvvtabFilter,
	/* xNext       */ kvvtabNext,
	/* xEof        */ kvvtabEof,
	/* xColumn     */ kvvtabColumn,
	/* xRowid      */ kvvtabRowid,
	/* xUpdate     */ kvvtabUpdate,
	/* xBegin      */ kvvtabBegin,
	/* xSync       */ kvvtabSync,
	/* xCommit     */ kvvtabCommit,
	/* xRollback   */ kvvtabRollback,
	/* xFindMethod */ 0,
	/* xRename     */ kvvtabRename,
	/* xSavepoint  */ kvvtabSavepoint,
	/* xRelease    */ kvvtabRelease,
	/* xRollbackTo */ kvvtabRollbackTo,
	/* xShadowName */ 0
};

int shardkv_register_vtab(sqlite3 *db)
{
	return sqlite3_create_module(db, "kv", &kvvtabModule, 0);
}

#else /* SQLITE_OMIT_VIRTUALTABLE */

int shardkv_register_vtab(sqlite3 *db)
{
	(void)db;
	return SQLITE_OK;
}

#endif /* SQLITE_OMIT_VIRTUALTABLE */
