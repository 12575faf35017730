/*
 * kvcolltvf.c -- the table-valued functions over one collection:
 *
 *     SELECT field, value FROM kv_hgetall('app', 'user:1');
 *     SELECT member FROM kv_smembers('app', 'tags');
 *     SELECT value FROM kv_lrange('app', 'jobs', 0, -1);           -- head first
 *     SELECT member, score FROM kv_zrange('app', 'board', 0, 9, 'rank', 1);  -- top 10
 *     SELECT member, score FROM kv_zrange('app', 'board', '(100', '+inf', 'score', 0, 0, 10);
 *     SELECT member FROM kv_zrange('app', 'names', '[a', '(b', 'lex');
 *
 * Arguments are hidden columns, in this order:
 *     kv_hgetall(ns, key)             columns field, value
 *     kv_smembers(ns, key)            column member (no particular order)
 *     kv_lrange(ns, key, start, stop) column value; start 0, stop -1 by default
 *     kv_zrange(ns, key, start, stop, by, rev, offset, count)
 *                                     columns member, score
 *   kv_zrange's by is 'rank' (default: start/stop are ranks, 0 and -1 by
 *   default), 'score' (start/stop are the min and max scores: numbers, or text
 *   "(5" for exclusive, "-inf", "+inf"; all by default) or 'lex' (Redis's
 *   "[a", "(a", "-", "+").  rev (0/1) gives the highest first; min and max stay
 *   the bounds.  offset and count (count < 0: all) are Redis's LIMIT, for
 *   'score' and 'lex' only.
 *
 * HOW IT WORKS
 *   xFilter makes one engine call (kv_hgetall, kv_smembers, kv_lrange,
 *   kv_zrange), which copies the elements, point-in-time, into the cursor's
 *   kv_elems; the engine holds no lock once it returns (see kv.h, LOCKS), so
 *   the rows are handed out from that copy while other connections write.
 *   The cost is memory for the whole answer: use start/stop or LIMIT for
 *   large collections.  Every function is DIRECTONLY (kvtvf.c).
 */
#include "shardkv_sqlite.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifndef SQLITE_OMIT_VIRTUALTABLE

#define MAX_ARGS 8

typedef enum coll_kind { TVF_HGETALL, TVF_SMEMBERS, TVF_LRANGE, TVF_ZRANGE } coll_kind;

/* One function: its schema, visible columns, and hidden argument columns. */
typedef struct coll_tvf {
	const char *name;
	const char *schema;
	coll_kind   kind;
	int         nvis;  /* visible columns, then the arguments */
	int         nargs;
} coll_tvf;

static const coll_tvf tvfs[] = {
	{"kv_hgetall", "CREATE TABLE x(field, value, ns HIDDEN, key HIDDEN)", TVF_HGETALL, 2, 2},
	{"kv_smembers", "CREATE TABLE x(member, ns HIDDEN, key HIDDEN)", TVF_SMEMBERS, 1, 2},
	{"kv_lrange", "CREATE TABLE x(value, ns HIDDEN, key HIDDEN, start HIDDEN, stop HIDDEN)",
	 TVF_LRANGE, 1, 4},
	{"kv_zrange", "CREATE TABLE x(member, score REAL, ns HIDDEN, key HIDDEN, start HIDDEN, "
	              "stop HIDDEN, \"by\" HIDDEN, rev HIDDEN, \"offset\" HIDDEN, count HIDDEN)",
	 TVF_ZRANGE, 2, 8},
};

/* argument positions */
#define ARG_NS     0
#define ARG_KEY    1
#define ARG_START  2
#define ARG_STOP   3
#define ARG_BY     4
#define ARG_REV    5
#define ARG_OFFSET 6
#define ARG_COUNT  7

typedef struct coll_cursor {
	sqlite3_vtab_cursor base;   /* Base class.  Must be first */
	const coll_tvf     *tvf;
	kv_elems            e;
	size_t              i;      /* element (a pair's field for kv_hgetall) */
	sqlite3_value      *args[MAX_ARGS];
} coll_cursor;

static const coll_tvf *tvf_of(sqlite3_vtab *p)
{
	const char *fn = ((kvtvf_vtab *)p)->fn;

	for (size_t i = 0; i < sizeof(tvfs) / sizeof(tvfs[0]); i++)
		if (tvfs[i].name == fn)
			return &tvfs[i];
	return &tvfs[0];
}

static void coll_free(sqlite3_vtab_cursor *cur)
{
	coll_cursor *c = (coll_cursor *)cur;

	kv_elems     none = KV_ELEMS_INIT;

	kv_elems_free(shardkv_env(), &c->e);
	c->e = none;
	for (int j = 0; j < MAX_ARGS; j++) {
		sqlite3_value_free(c->args[j]);
		c->args[j] = NULL;
	}
}

static int collConnect(sqlite3 *db, void *pAux, int argc, const char *const *argv,
                       sqlite3_vtab **ppVtab, char **pzErr)
{
	const coll_tvf *t = pAux;

	(void)argc;
	(void)argv;
	(void)pzErr;
	return kvtvf_connect(db, t->schema, t->name, sizeof(coll_cursor), coll_free, ppVtab);
}

/*
 * Each given argument is an equality constraint on its hidden column; they go
 * to xFilter in column order.  idxNum bit j: argument j is given.  ns and key
 * must be usable (else SQLite is asked for another plan).
 */
static int collBestIndex(sqlite3_vtab *pVtab, sqlite3_index_info *pInfo)
{
	const coll_tvf *t = tvf_of(pVtab);
	int             use[MAX_ARGS], unusable = 0, n = 0;

	for (int j = 0; j < MAX_ARGS; j++)
		use[j] = -1;
	for (int i = 0; i < pInfo->nConstraint; i++) {
		const struct sqlite3_index_constraint *c = &pInfo->aConstraint[i];
		int j = c->iColumn - t->nvis;

		if (c->op != SQLITE_INDEX_CONSTRAINT_EQ || j < 0 || j >= t->nargs)
			continue;
		if (!c->usable)
			unusable |= 1 << j;
		else
			use[j] = i;
	}
	if (((unusable & 1) && use[ARG_NS] < 0) || ((unusable & 2) && use[ARG_KEY] < 0))
		return SQLITE_CONSTRAINT; /* try a plan where the arguments are usable */
	pInfo->idxNum = 0;
	for (int j = 0; j < t->nargs; j++) {
		if (use[j] < 0)
			continue;
		pInfo->aConstraintUsage[use[j]].argvIndex = ++n;
		pInfo->aConstraintUsage[use[j]].omit = 1;
		pInfo->idxNum |= 1 << j;
	}
	pInfo->estimatedCost = 100;
	pInfo->estimatedRows = 100;
	return SQLITE_OK;
}

static int arg_error(sqlite3_vtab_cursor *cur, const char *fmt, const char *what)
{
	kvtvf_set_error(cur, sqlite3_mprintf(fmt, ((kvtvf_vtab *)cur->pVtab)->fn, what));
	return SQLITE_ERROR;
}

/* An integer argument (absent or NULL: dflt). */
static int int_arg(sqlite3_vtab_cursor *cur, sqlite3_value *v, const char *what, int64_t dflt,
                   int64_t *out)
{
	*out = dflt;
	if (v == NULL || sqlite3_value_type(v) == SQLITE_NULL)
		return SQLITE_OK;
	if (sqlite3_value_numeric_type(v) != SQLITE_INTEGER)
		return arg_error(cur, "%s(): %s must be an integer", what);
	*out = sqlite3_value_int64(v);
	return SQLITE_OK;
}

/* A score bound: a number, or text "(x" (exclusive), "x", "-inf", "+inf". */
static int score_arg(sqlite3_vtab_cursor *cur, sqlite3_value *v, const char *what, double dflt,
                     double *out, int *excl)
{
	const char *s, *p;
	char       *end;

	*out = dflt;
	*excl = 0;
	if (v == NULL || sqlite3_value_type(v) == SQLITE_NULL)
		return SQLITE_OK;
	if (sqlite3_value_type(v) == SQLITE_INTEGER || sqlite3_value_type(v) == SQLITE_FLOAT) {
		*out = sqlite3_value_double(v);
		return isnan(*out) ? arg_error(cur, "%s(): %s is not a float", what) : SQLITE_OK;
	}
	s = (const char *)sqlite3_value_text(v);
	if (s == NULL)
		return SQLITE_NOMEM;
	p = s;
	if (*p == '(') {
		*excl = 1;
		p++;
	}
	*out = strtod(p, &end);
	if (*p == '\0' || *end != '\0' || isnan(*out) || (size_t)sqlite3_value_bytes(v) != strlen(s))
		return arg_error(cur, "%s(): %s is not a float", what);
	return SQLITE_OK;
}

/* A lex bound: "[x" (inclusive), "(x" (exclusive), "-", "+". */
static int lex_arg(sqlite3_vtab_cursor *cur, sqlite3_value *v, const char *what, int dflt_inf,
                   kv_val *out, int *excl, int *inf)
{
	const char *s;
	int         n;

	*inf = dflt_inf;
	*excl = 0;
	out->data = "";
	out->len = 0;
	if (v == NULL || sqlite3_value_type(v) == SQLITE_NULL)
		return SQLITE_OK;
	s = (const char *)sqlite3_value_blob(v);
	n = sqlite3_value_bytes(v);
	if (n == 1 && (s[0] == '-' || s[0] == '+')) {
		*inf = s[0] == '-' ? -1 : 1;
		return SQLITE_OK;
	}
	if (n < 1 || (s[0] != '[' && s[0] != '('))
		return arg_error(cur, "%s(): %s is not valid string range item (\"[x\", \"(x\", \"-\" or \"+\")", what);
	*inf = 0;
	*excl = s[0] == '(';
	out->data = s + 1;
	out->len = (size_t)n - 1;
	return SQLITE_OK;
}

/* The zrange spec from the arguments. */
static int zrange_spec(sqlite3_vtab_cursor *cur, sqlite3_value **a, kv_zrange_spec *spec)
{
	const char *by = a[ARG_BY] ? (const char *)sqlite3_value_text(a[ARG_BY]) : NULL;
	int64_t     rev;
	int         rc;

	kv_zrange_spec_init(spec);
	if (by == NULL || sqlite3_stricmp(by, "rank") == 0)
		spec->by = KV_ZBY_RANK;
	else if (sqlite3_stricmp(by, "score") == 0)
		spec->by = KV_ZBY_SCORE;
	else if (sqlite3_stricmp(by, "lex") == 0)
		spec->by = KV_ZBY_LEX;
	else
		return arg_error(cur, "%s(): by must be 'rank', 'score' or 'lex', not '%.40s'", by);
	if ((rc = int_arg(cur, a[ARG_REV], "rev", 0, &rev)) != SQLITE_OK)
		return rc;
	spec->rev = rev != 0;
	switch (spec->by) {
	case KV_ZBY_RANK:
		if ((a[ARG_OFFSET] && sqlite3_value_type(a[ARG_OFFSET]) != SQLITE_NULL) ||
		    (a[ARG_COUNT] && sqlite3_value_type(a[ARG_COUNT]) != SQLITE_NULL))
			return arg_error(cur, "%s(): %s", "offset and count are for by 'score' or 'lex' only");
		if ((rc = int_arg(cur, a[ARG_START], "start", 0, &spec->start)) != SQLITE_OK ||
		    (rc = int_arg(cur, a[ARG_STOP], "stop", -1, &spec->stop)) != SQLITE_OK)
			return rc;
		return SQLITE_OK;
	case KV_ZBY_SCORE:
		if ((rc = score_arg(cur, a[ARG_START], "min", -INFINITY, &spec->min, &spec->min_excl)) != SQLITE_OK ||
		    (rc = score_arg(cur, a[ARG_STOP], "max", INFINITY, &spec->max, &spec->max_excl)) != SQLITE_OK)
			return rc;
		break;
	default:
		if ((rc = lex_arg(cur, a[ARG_START], "min", -1, &spec->lmin, &spec->min_excl, &spec->lmin_inf)) != SQLITE_OK ||
		    (rc = lex_arg(cur, a[ARG_STOP], "max", 1, &spec->lmax, &spec->max_excl, &spec->lmax_inf)) != SQLITE_OK)
			return rc;
		break;
	}
	if ((rc = int_arg(cur, a[ARG_OFFSET], "offset", 0, &spec->offset)) != SQLITE_OK ||
	    (rc = int_arg(cur, a[ARG_COUNT], "count", -1, &spec->count)) != SQLITE_OK)
		return rc;
	if (spec->offset < 0)
		return arg_error(cur, "%s(): %s must not be negative", "offset");
	if (spec->count < 0)
		spec->count = -1;
	return SQLITE_OK;
}

static int collFilter(sqlite3_vtab_cursor *cur, int idxNum, const char *idxStr, int argc,
                      sqlite3_value **argv)
{
	coll_cursor   *c = (coll_cursor *)cur;
	const coll_tvf *t = tvf_of(cur->pVtab);
	kv_ns         *ns;
	kvsql_val      k;
	char          *zErr = NULL;
	int            rc, n = 0;

	(void)idxStr;
	(void)argc;
	coll_free(cur);
	c->tvf = t;
	c->i = 0;
	c->e.n = 0;
	for (int j = 0; j < t->nargs; j++) {
		if (!(idxNum & (1 << j)))
			continue;
		c->args[j] = sqlite3_value_dup(argv[n++]);
		if (c->args[j] == NULL)
			return SQLITE_NOMEM;
	}
	rc = kvsql_ns_arg(t->name, c->args[ARG_NS], 0, &ns, &zErr);
	if (rc != SQLITE_OK) {
		kvtvf_set_error(cur, zErr);
		return rc;
	}
	if (c->args[ARG_KEY] == NULL || kvsql_key(c->args[ARG_KEY], &k) != 0)
		return arg_error(cur, "%s(): %s must not be NULL", "key");
	switch (t->kind) {
	case TVF_HGETALL:
		rc = kv_hgetall(ns, k.data, k.len, KV_HALL_FIELDS | KV_HALL_VALUES, &c->e);
		break;
	case TVF_SMEMBERS:
		rc = kv_smembers(ns, k.data, k.len, &c->e);
		break;
	case TVF_LRANGE: {
		int64_t start, stop;

		if ((rc = int_arg(cur, c->args[ARG_START], "start", 0, &start)) != SQLITE_OK ||
		    (rc = int_arg(cur, c->args[ARG_STOP], "stop", -1, &stop)) != SQLITE_OK)
			return rc;
		rc = kv_lrange(ns, k.data, k.len, start, stop, &c->e);
		break;
	}
	default: {
		kv_zrange_spec spec;

		if ((rc = zrange_spec(cur, c->args, &spec)) != SQLITE_OK)
			return rc;
		rc = kv_zrange(ns, k.data, k.len, &spec, &c->e);
		break;
	}
	}
	if (rc != KV_OK) {
		c->e.n = 0;
		kvtvf_set_error(cur, sqlite3_mprintf("%s(): %s", t->name, kv_strerror_text(rc)));
		return shardkv_sqlite_rc(rc);
	}
	return SQLITE_OK;
}

static int collNext(sqlite3_vtab_cursor *cur)
{
	coll_cursor *c = (coll_cursor *)cur;

	c->i += c->tvf->kind == TVF_HGETALL ? 2 : 1;
	return SQLITE_OK;
}

static int collEof(sqlite3_vtab_cursor *cur)
{
	coll_cursor *c = (coll_cursor *)cur;

	return c->i + (c->tvf->kind == TVF_HGETALL ? 1 : 0) >= c->e.n;
}

static int collColumn(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int col)
{
	coll_cursor *c = (coll_cursor *)cur;
	const kv_elem *el;

	if (col >= c->tvf->nvis) {
		sqlite3_value *v = c->args[col - c->tvf->nvis];

		if (v != NULL)
			sqlite3_result_value(ctx, v);
		return SQLITE_OK;
	}
	if (col == 1 && c->tvf->kind == TVF_ZRANGE) {
		sqlite3_result_double(ctx, c->e.v[c->i].score);
		return SQLITE_OK;
	}
	el = &c->e.v[c->i + (size_t)col]; /* kv_hgetall's value follows its field */
	kvsql_result_key(ctx, c->e.bytes.data + el->off, el->len);
	return SQLITE_OK;
}

static int collRowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *pRowid)
{
	coll_cursor *c = (coll_cursor *)cur;

	*pRowid = (sqlite3_int64)(c->tvf->kind == TVF_HGETALL ? c->i / 2 : c->i) + 1;
	return SQLITE_OK;
}

static sqlite3_module collModule = {
	/* iVersion    */ 0,
	/* xCreate     */ 0,                /* eponymous only */
	/* xConnect    */ collConnect,
	/* xBestIndex  */ collBestIndex,
	/* xDisconnect */ kvtvf_disconnect,
	/* xDestroy    */ 0,
	/* xOpen       */ kvtvf_open,
	/* xClose      */ kvtvf_close,
	/* xFilter     */ collFilter,
	/* xNext       */ collNext,
	/* xEof        */ collEof,
	/* xColumn     */ collColumn,
	/* xRowid      */ collRowid,
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

int shardkv_register_coll_tvfs(sqlite3 *db)
{
	int rc = SQLITE_OK;

	for (size_t i = 0; i < sizeof(tvfs) / sizeof(tvfs[0]) && rc == SQLITE_OK; i++)
		rc = sqlite3_create_module(db, tvfs[i].name, &collModule, (void *)&tvfs[i]);
	return rc;
}

#else /* SQLITE_OMIT_VIRTUALTABLE */

int shardkv_register_coll_tvfs(sqlite3 *db)
{
	(void)db;
	return SQLITE_OK;
}

#endif /* SQLITE_OMIT_VIRTUALTABLE */
