/*
 * fdw.c -- shardkv_fdw, a writable foreign data wrapper over one namespace.
 *
 * Usage:
 *     CREATE SERVER kv FOREIGN DATA WRAPPER shardkv_fdw;
 *     CREATE FOREIGN TABLE cache (key text, value text, expires_at timestamptz)
 *         SERVER kv OPTIONS (namespace 'cache');
 *     SELECT value FROM cache WHERE key = 'a';            -- one lookup
 *     SELECT * FROM cache WHERE key = ANY ('{a,b,c}');    -- one batch get
 *     INSERT INTO cache VALUES ('d', 'x', now() + interval '1 hour');
 *     UPDATE cache SET value = 'y' WHERE key = 'd';
 *     DELETE FROM cache WHERE key = 'd';
 *     IMPORT FOREIGN SCHEMA shardkv FROM SERVER kv INTO public;  -- one table per namespace
 *
 * Columns are matched by name: "key" (text, required), "value" (text, bytea or
 * jsonb; read as kv.get, kv.get_bytea and kv.get_jsonb read) and "expires_at"
 * (timestamptz, NULL = never).  Options: namespace (table; default the table's
 * name) and batch_size (server or table; rows per INSERT batch, default 100).
 *
 * HOW IT WORKS
 *   The planner looks for "key = <constant or parameter>" and "key = ANY (<array
 *   constant or parameter>)" among the restriction clauses.  Such a clause is
 *   taken out of the local quals and evaluated by the scan itself: one kv_get,
 *   or one all-or-nothing kv_batch of GETs (a consistent cut).  EXPLAIN shows it
 *   as "Key Lookup".  Anything else is a full cursor scan (kv_scan), filtered
 *   locally.  The key is the row identity of UPDATE and DELETE.  INSERT refuses
 *   an existing key (unique_violation); batched INSERTs apply each batch
 *   all-or-nothing.  COPY and tuple routing (the table as a partition) come in
 *   through BeginForeignInsert; COPY buffers rows and applies them batch_size
 *   at a time.  As with the kv.* functions, writes are not transactional.
 */
#include "shardkv.h"

#include "access/htup_details.h"
#include "access/reloptions.h"
#include "access/table.h"
#include "catalog/pg_collation_d.h"
#include "catalog/pg_foreign_table.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_operator_d.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "commands/explain.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "foreign/fdwapi.h"
#include "foreign/foreign.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/appendinfo.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/planmain.h"
#include "optimizer/restrictinfo.h"
#include "parser/parsetree.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/ruleutils.h"
#include "utils/rel.h"

#define DEFAULT_BATCH_SIZE 100
#define ROWID_NAME "shardkv_key"

/* ------------------------------------------------------------- options */

typedef struct FdwOption
{
	const char *name;
	Oid			context;		/* catalog the option may appear in */
} FdwOption;

static const FdwOption valid_options[] = {
	{"namespace", ForeignTableRelationId},
	{"batch_size", ForeignServerRelationId},
	{"batch_size", ForeignTableRelationId},
	{NULL, InvalidOid}
};

PG_FUNCTION_INFO_V1(shardkv_fdw_validator);
Datum
shardkv_fdw_validator(PG_FUNCTION_ARGS)
{
	List	   *options = untransformRelOptions(PG_GETARG_DATUM(0));
	Oid			catalog = PG_GETARG_OID(1);
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);
		const FdwOption *opt;
		bool		ok = false;

		for (opt = valid_options; opt->name; opt++)
			if (opt->context == catalog && strcmp(opt->name, def->defname) == 0)
				ok = true;
		if (!ok)
		{
			StringInfoData buf;

			initStringInfo(&buf);
			for (opt = valid_options; opt->name; opt++)
				if (opt->context == catalog)
					appendStringInfo(&buf, "%s%s", buf.len ? ", " : "", opt->name);
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("invalid option \"%s\"", def->defname),
					 buf.len ? errhint("Valid options in this context are: %s.", buf.data)
					 : errhint("There are no valid options in this context.")));
		}
		if (strcmp(def->defname, "batch_size") == 0)
		{
			int			n;

			if (!parse_int(defGetString(def), &n, 0, NULL) || n < 1 || n > 100000)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
						 errmsg("batch_size must be an integer between 1 and 100000")));
		}
		if (strcmp(def->defname, "namespace") == 0)
		{
			const char *ns = defGetString(def);

			if (kv_ns_name_check(ns, strlen(ns)) != KV_OK)
				shardkv_report(KV_ENSNAME, ns, NULL);
		}
	}
	PG_RETURN_VOID();
}

static char *
table_namespace(Oid relid)
{
	ForeignTable *ft = GetForeignTable(relid);
	ListCell   *lc;

	foreach(lc, ft->options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		if (strcmp(def->defname, "namespace") == 0)
			return defGetString(def);
	}
	return get_rel_name(relid);
}

static int
batch_size_of(Oid relid)
{
	ForeignTable *ft = GetForeignTable(relid);
	ForeignServer *fs = GetForeignServer(ft->serverid);
	List	   *opts = list_concat(list_copy(fs->options), ft->options);
	ListCell   *lc;
	int			n = DEFAULT_BATCH_SIZE;

	foreach(lc, opts)		/* table options come last and win */
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		if (strcmp(def->defname, "batch_size") == 0)
			(void) parse_int(defGetString(def), &n, 0, NULL);
	}
	return n;
}

/* ------------------------------------------------------------ columns */

typedef struct ColumnMap
{
	AttrNumber	key;			/* 0 if absent */
	AttrNumber	value;
	AttrNumber	expires;
	Oid			value_type;
} ColumnMap;

static void
map_columns(Relation rel, ColumnMap *map)
{
	TupleDesc	desc = RelationGetDescr(rel);
	int			i;

	memset(map, 0, sizeof(*map));
	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		const char *name = NameStr(att->attname);

		if (att->attisdropped)
			continue;
		if (strcmp(name, "key") == 0 && att->atttypid == TEXTOID)
			map->key = att->attnum;
		else if (strcmp(name, "value") == 0 &&
				 (att->atttypid == TEXTOID || att->atttypid == BYTEAOID ||
				  att->atttypid == JSONBOID))
		{
			map->value = att->attnum;
			map->value_type = att->atttypid;
		}
		else if (strcmp(name, "expires_at") == 0 && att->atttypid == TIMESTAMPTZOID)
			map->expires = att->attnum;
		else
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_COLUMN_NAME),
					 errmsg("column \"%s\" of foreign table \"%s\" is not supported by shardkv_fdw",
							name, RelationGetRelationName(rel)),
					 errhint("Columns are key text, value text, bytea or jsonb, and expires_at timestamptz.")));
	}
	if (map->key == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_COLUMN_NAME),
				 errmsg("foreign table \"%s\" has no column \"key\" of type text",
						RelationGetRelationName(rel))));
}

/* ------------------------------------------------------------- planning */

#define SCAN_FULL 0
#define SCAN_EQ   1
#define SCAN_ANY  2

typedef struct PlanState_kv
{
	int			kind;
	Expr	   *arg;			/* the constant/parameter side */
	RestrictInfo *rinfo;
} PlanState_kv;

static bool
is_key_var(Node *n, Index relid, AttrNumber keyatt)
{
	if (n && IsA(n, RelabelType))
		n = (Node *) ((RelabelType *) n)->arg;
	return n && IsA(n, Var) && ((Var *) n)->varno == (int) relid &&
		((Var *) n)->varattno == keyatt && ((Var *) n)->varlevelsup == 0;
}

static bool
is_lookup_arg(Node *n)
{
	return n && (IsA(n, Const) || (IsA(n, Param) && ((Param *) n)->paramkind == PARAM_EXTERN));
}

/*
 * A lookup finds keys by their bytes, so it may stand in for = only where =
 * compares bytes: not under a nondeterministic (e.g. case-insensitive) collation.
 */
static bool
bytewise_collation(Oid coll)
{
	return !OidIsValid(coll) || get_collation_isdeterministic(coll);
}

/* The first key = x / key = ANY(x) clause of the relation, if any. */
static void
find_lookup(RelOptInfo *baserel, AttrNumber keyatt, PlanState_kv *ps)
{
	ListCell   *lc;

	ps->kind = SCAN_FULL;
	ps->arg = NULL;
	ps->rinfo = NULL;
	foreach(lc, baserel->baserestrictinfo)
	{
		RestrictInfo *ri = lfirst_node(RestrictInfo, lc);
		Expr	   *c = ri->clause;

		if (IsA(c, OpExpr))
		{
			OpExpr	   *op = (OpExpr *) c;
			Node	   *l,
					   *r;

			if (op->opno != TextEqualOperator || list_length(op->args) != 2 ||
				!bytewise_collation(op->inputcollid))
				continue;
			l = linitial(op->args);
			r = lsecond(op->args);
			if (is_key_var(r, baserel->relid, keyatt))
			{
				Node	   *t = l;

				l = r;
				r = t;
			}
			if (is_key_var(l, baserel->relid, keyatt) && is_lookup_arg(r))
			{
				ps->kind = SCAN_EQ;
				ps->arg = (Expr *) r;
				ps->rinfo = ri;
				return;
			}
		}
		else if (IsA(c, ScalarArrayOpExpr))
		{
			ScalarArrayOpExpr *sa = (ScalarArrayOpExpr *) c;

			if (sa->opno != TextEqualOperator || !sa->useOr ||
				!bytewise_collation(sa->inputcollid))
				continue;
			if (is_key_var(linitial(sa->args), baserel->relid, keyatt) &&
				is_lookup_arg(lsecond(sa->args)))
			{
				ps->kind = SCAN_ANY;
				ps->arg = (Expr *) lsecond(sa->args);
				ps->rinfo = ri;
				return;
			}
		}
	}
}

static void
kvGetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	Relation	rel = table_open(foreigntableid, NoLock);
	ColumnMap	map;
	PlanState_kv *ps = palloc(sizeof(PlanState_kv));
	kv_ns_stats st;

	map_columns(rel, &map);
	table_close(rel, NoLock);
	find_lookup(baserel, map.key, ps);
	baserel->fdw_private = ps;

	if (ps->kind == SCAN_EQ)
		baserel->rows = 1;
	else if (ps->kind == SCAN_ANY)
	{
		Node	   *a = (Node *) ps->arg;

		baserel->rows = 10;
		if (IsA(a, Const) && !((Const *) a)->constisnull)
			baserel->rows = ArrayGetNItems(ARR_NDIM(DatumGetArrayTypeP(((Const *) a)->constvalue)),
										   ARR_DIMS(DatumGetArrayTypeP(((Const *) a)->constvalue)));
	}
	else
	{
		/*
		 * A missing namespace is reported by the scan, after the executor's
		 * privilege check: a role without SELECT learns nothing about it.
		 */
		kv_ns	   *ns = shardkv_ns_lookup(table_namespace(foreigntableid), true);

		baserel->rows = 1000;
		if (ns != NULL && kv_ns_stats_get(ns, &st) == KV_OK)
			baserel->rows = Max(1, (double) st.keys);
		baserel->rows = clamp_row_est(baserel->rows *
									  clauselist_selectivity(root, baserel->baserestrictinfo,
															 0, JOIN_INNER, NULL));
	}
}

static void
kvGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	PlanState_kv *ps = baserel->fdw_private;
	Cost		startup = 0;
	Cost		total;

	(void) foreigntableid;
	/* a lookup costs about as much as an index probe; a scan, a seq scan */
	if (ps->kind == SCAN_FULL)
		total = baserel->rows * (cpu_tuple_cost + cpu_operator_cost) + 10;
	else
		total = baserel->rows * cpu_tuple_cost + 0.1;
	add_path(baserel, (Path *) create_foreignscan_path(root, baserel, NULL, baserel->rows,
													   startup, total, NIL, NULL, NULL, NIL));
}

static ForeignScan *
kvGetForeignPlan(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid,
				 ForeignPath *best_path, List *tlist, List *scan_clauses, Plan *outer_plan)
{
	PlanState_kv *ps = baserel->fdw_private;
	List	   *fdw_exprs = NIL;
	List	   *local = NIL;
	ListCell   *lc;

	(void) root;
	(void) foreigntableid;
	(void) best_path;
	foreach(lc, scan_clauses)
	{
		RestrictInfo *ri = lfirst_node(RestrictInfo, lc);

		if (ps->kind != SCAN_FULL && ri == ps->rinfo)
			continue;			/* evaluated by the lookup itself */
		local = lappend(local, ri);
	}
	local = extract_actual_clauses(local, false);
	if (ps->kind != SCAN_FULL)
		fdw_exprs = list_make1(ps->arg);
	return make_foreignscan(tlist, local, baserel->relid, fdw_exprs,
							list_make1(makeInteger(ps->kind)), NIL, NIL, outer_plan);
}

/* ---------------------------------------------------------------- scanning */

typedef struct KvScanState
{
	kv_ns	   *ns;
	ColumnMap	map;
	int			kind;
	ExprState  *arg;
	bool		started;
	MemoryContext cxt;			/* per-batch data */
	/* lookups */
	kv_op	   *ops;
	int			nops;
	int			pos;
	kv_buf		arena;
	/* full scan */
	uint64_t	cursor;
	bool		done;
	ShardkvScanCtx sc;
	ShardkvScanItem *next;
	MemoryContextCallback free_arena;
} KvScanState;

static void
free_arena_cb(void *arg)
{
	KvScanState *st = arg;

	kv_buf_free(shardkv_env, &st->arena);
}

static void
kvBeginForeignScan(ForeignScanState *node, int eflags)
{
	ForeignScan *fs = (ForeignScan *) node->ss.ps.plan;
	KvScanState *st = palloc0(sizeof(KvScanState));
	kv_buf		init = KV_BUF_INIT;

	node->fdw_state = st;
	map_columns(node->ss.ss_currentRelation, &st->map);
	if (eflags & EXEC_FLAG_EXPLAIN_ONLY)
		return;
	st->ns = shardkv_ns_cstr(table_namespace(RelationGetRelid(node->ss.ss_currentRelation)));
	st->kind = intVal(linitial(fs->fdw_private));
	if (st->kind != SCAN_FULL)
		st->arg = ExecInitExpr(linitial(fs->fdw_exprs), (PlanState *) node);
	st->cxt = AllocSetContextCreate(node->ss.ps.state->es_query_cxt, "shardkv_fdw scan",
									ALLOCSET_DEFAULT_SIZES);
	st->arena = init;
	/* the arena is libc memory: free it with the query, also after an ERROR */
	st->free_arena.func = free_arena_cb;
	st->free_arena.arg = st;
	MemoryContextRegisterResetCallback(node->ss.ps.state->es_query_cxt, &st->free_arena);
}

static int
cmp_text_datum(const void *a, const void *b)
{
	text	   *x = DatumGetTextPP(*(const Datum *) a);
	text	   *y = DatumGetTextPP(*(const Datum *) b);
	size_t		lx = VARSIZE_ANY_EXHDR(x),
				ly = VARSIZE_ANY_EXHDR(y);
	int			c = memcmp(VARDATA_ANY(x), VARDATA_ANY(y), Min(lx, ly));

	return c ? c : (lx < ly ? -1 : lx > ly);
}

/* Evaluate the lookup argument and run one kv_get or one batch of GETs. */
static void
run_lookup(ForeignScanState *node, KvScanState *st)
{
	ExprContext *econtext = node->ss.ps.ps_ExprContext;
	MemoryContext old = MemoryContextSwitchTo(st->cxt);
	bool		isnull;
	Datum		d = ExecEvalExpr(st->arg, econtext, &isnull);
	Datum	   *keys = NULL;
	bool	   *knulls = NULL;
	int			n = 0,
				i,
				u;
	kv_error	err;
	int			rc;

	if (!isnull && st->kind == SCAN_EQ)
	{
		keys = palloc(sizeof(Datum));
		keys[0] = d;
		n = 1;
	}
	else if (!isnull)
	{
		ArrayType  *a = DatumGetArrayTypeP(d);

		deconstruct_array(a, TEXTOID, -1, false, TYPALIGN_INT, &keys, &knulls, &n);
		/* key = ANY: NULL elements match nothing, duplicates match once */
		for (i = 0, u = 0; i < n; i++)
			if (!knulls[i])
				keys[u++] = keys[i];
		n = u;
		if (n > 1)
		{
			qsort(keys, n, sizeof(Datum), cmp_text_datum);
			for (i = 1, u = 1; i < n; i++)
				if (cmp_text_datum(&keys[i], &keys[u - 1]) != 0)
					keys[u++] = keys[i];
			n = u;
		}
	}
	st->ops = palloc0(sizeof(kv_op) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		st->ops[i].op = KV_OP_GET;
		st->ops[i].key = shardkv_key_bytes(DatumGetTextPP(keys[i]), &st->ops[i].klen);
	}
	st->nops = n;
	st->pos = 0;
	MemoryContextSwitchTo(old);
	if (n == 0)
		return;
	memset(&err, 0, sizeof(err));
	err.item = (size_t) -1;
	rc = kv_batch(st->ns, st->ops, (size_t) n, KV_BATCH_ALL_OR_NOTHING, &st->arena, &err);
	if (rc == KV_EWRONGTYPE)
	{
		/*
		 * A key holds a collection, which a GET refuses and which fails the
		 * whole all-or-nothing batch: each key on its own then (not one
		 * consistent cut), the collection's row made by collection_row().
		 */
		for (i = 0; i < n; i++)
			st->ops[i].status = 0;
		rc = kv_batch(st->ns, st->ops, (size_t) n, KV_BATCH_BEST_EFFORT, &st->arena, &err);
	}
	if (rc != KV_OK)
		shardkv_report(rc, kv_ns_name(st->ns), &err);
}

/* One key, value and expiry as a row of the foreign table. */
static TupleTableSlot *
fill_row(TupleTableSlot *slot, const ColumnMap *map, const char *key, size_t klen,
		 const char *val, size_t vlen, int type, int64 expires_at)
{
	int			natts = slot->tts_tupleDescriptor->natts;

	ExecClearTuple(slot);
	memset(slot->tts_isnull, true, sizeof(bool) * natts);
	slot->tts_values[map->key - 1] = shardkv_text_or_hex(key, klen);
	slot->tts_isnull[map->key - 1] = false;
	if (map->value)
		slot->tts_values[map->value - 1] =
			shardkv_value_as_row(map->value_type, val, vlen, type, &slot->tts_isnull[map->value - 1]);
	if (map->expires && expires_at != 0)
	{
		slot->tts_values[map->expires - 1] =
			TimestampTzGetDatum(shardkv_ms_to_timestamptz(expires_at));
		slot->tts_isnull[map->expires - 1] = false;
	}
	return ExecStoreVirtualTuple(slot);
}

static TupleTableSlot *
store_row(ForeignScanState *node, KvScanState *st, const char *key, size_t klen,
		  const char *val, size_t vlen, int type, int64 expires_at)
{
	return fill_row(node->ss.ss_ScanTupleSlot, &st->map, key, klen, val, vlen, type, expires_at);
}

/*
 * The row of a key that holds a hash, set, zset or list: a NULL value (a
 * collection has no one value) and the key's expiry.  Gone meanwhile: NULL.
 */
static TupleTableSlot *
collection_row(ForeignScanState *node, KvScanState *st, const kv_op *op)
{
	int			kind = 0;
	int64_t		at = 0;
	int			rc = kv_kind(st->ns, op->key, op->klen, &kind);

	if (rc == KV_OK)
		rc = kv_ttl(st->ns, op->key, op->klen, &at);
	if (rc == KV_NOTFOUND)
		return NULL;
	if (rc != KV_OK)
		shardkv_report(rc, kv_ns_name(st->ns), NULL);
	return store_row(node, st, op->key, op->klen, "", 0, kind, at);
}

static TupleTableSlot *
kvIterateForeignScan(ForeignScanState *node)
{
	KvScanState *st = node->fdw_state;
	kv_scan_opts opts;
	int			rc;

	if (st->kind != SCAN_FULL)
	{
		if (!st->started)
		{
			run_lookup(node, st);
			st->started = true;
		}
		while (st->pos < st->nops)
		{
			kv_op	   *op = &st->ops[st->pos++];

			if (op->status == KV_OK)
				return store_row(node, st, op->key, op->klen, st->arena.data + op->out_off,
								 op->out_len, op->out_type, op->out_expires_at);
			if (op->status == KV_EWRONGTYPE)
			{
				TupleTableSlot *slot = collection_row(node, st, op);

				if (slot)
					return slot;
				continue;
			}
			if (op->status != KV_NOTFOUND)
				shardkv_report(op->status, kv_ns_name(st->ns), NULL);
		}
		return ExecClearTuple(node->ss.ss_ScanTupleSlot);
	}

	/* full scan, one kv_scan step at a time */
	for (;;)
	{
		if (st->next)
		{
			ShardkvScanItem *it = st->next;

			st->next = it->next;
			return store_row(node, st, it->data, it->klen, it->data + it->klen, it->vlen,
							 it->type, it->expires_at);
		}
		if (st->done)
			return ExecClearTuple(node->ss.ss_ScanTupleSlot);
		CHECK_FOR_INTERRUPTS();
		MemoryContextReset(st->cxt);
		memset(&opts, 0, sizeof(opts));
		opts.count = 1000;
		opts.values = st->map.value != 0 ? 1 : 0;
		st->sc.cxt = st->cxt;
		st->sc.head = st->sc.tail = NULL;
		rc = kv_scan(st->ns, &st->cursor, &opts, shardkv_scan_collect, &st->sc);
		if (rc == SHARDKV_SCAN_OOM)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory while scanning namespace \"%s\"", kv_ns_name(st->ns))));
		if (rc != KV_OK)
			shardkv_report(rc, kv_ns_name(st->ns), NULL);
		st->next = st->sc.head;
		if (st->cursor == 0)
			st->done = true;
	}
}

static void
kvReScanForeignScan(ForeignScanState *node)
{
	KvScanState *st = node->fdw_state;

	st->started = false;
	st->nops = st->pos = 0;
	st->cursor = 0;
	st->done = false;
	st->next = NULL;
	MemoryContextReset(st->cxt);
}

static void
kvEndForeignScan(ForeignScanState *node)
{
	(void) node;				/* the arena goes with the query context */
}

static void
kvExplainForeignScan(ForeignScanState *node, ExplainState *es)
{
	ForeignScan *fs = (ForeignScan *) node->ss.ps.plan;
	int			kind = intVal(linitial(fs->fdw_private));
	Relation	rel = node->ss.ss_currentRelation;

	ExplainPropertyText("Namespace", table_namespace(RelationGetRelid(rel)), es);
	if (kind == SCAN_FULL)
		ExplainPropertyText("Key Lookup", "none (full scan)", es);
	else
	{
		char	   *arg = deparse_expression(linitial(fs->fdw_exprs), NIL, false, false);

		ExplainPropertyText("Key Lookup",
							psprintf(kind == SCAN_EQ ? "key = %s" : "key = ANY (%s)", arg), es);
	}
}

/* --------------------------------------------------------------- modifying */

static void
kvAddForeignUpdateTargets(PlannerInfo *root, Index rtindex, RangeTblEntry *target_rte,
						  Relation target_relation)
{
	ColumnMap	map;
	Var		   *var;

	(void) target_rte;
	map_columns(target_relation, &map);
	var = makeVar(rtindex, map.key, TEXTOID, -1, DEFAULT_COLLATION_OID, 0);
	add_row_identity_var(root, var, rtindex, ROWID_NAME);
}

#define UPD_KEY     0x1
#define UPD_VALUE   0x2
#define UPD_EXPIRES 0x4

static List *
kvPlanForeignModify(PlannerInfo *root, ModifyTable *plan, Index resultRelation,
					int subplan_index)
{
	RangeTblEntry *rte = planner_rt_fetch(resultRelation, root);
	int			flags = 0;

	(void) subplan_index;
	if (plan->operation == CMD_UPDATE)
	{
		Relation	rel = table_open(rte->relid, NoLock);
		ColumnMap	map;
		Bitmapset  *cols = bms_union(rte->updatedCols, rte->extraUpdatedCols);
		int			off = FirstLowInvalidHeapAttributeNumber;

		map_columns(rel, &map);
		table_close(rel, NoLock);
		if (bms_is_member(map.key - off, cols))
			flags |= UPD_KEY;
		if (map.value && bms_is_member(map.value - off, cols))
			flags |= UPD_VALUE;
		if (map.expires && bms_is_member(map.expires - off, cols))
			flags |= UPD_EXPIRES;
	}
	if (plan->onConflictAction != ONCONFLICT_NONE)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("INSERT with ON CONFLICT is not supported by shardkv_fdw"),
				 errhint("Use kv.set() to upsert, or kv.add() to insert if absent.")));
	return list_make1(makeInteger(flags));
}

typedef struct KvModifyState
{
	kv_ns	   *ns;
	ColumnMap	map;
	int			flags;
	AttrNumber	rowid;			/* junk attribute with the old key */
	int			batch_size;
	kv_buf		returned;		/* DELETE .. RETURNING: the consumed value */
	MemoryContextCallback free_returned;
	/* COPY: rows buffered here and applied as one kv_batch (copy_flush) */
	bool		buffered;
	MemoryContext buf_cxt;
	kv_op	   *buf_ops;
	int			buf_n;
	Size		buf_bytes;
} KvModifyState;

/* A COPY buffer is applied when it holds batch_size rows or this many bytes. */
#define COPY_BUFFER_BYTES (4 * 1024 * 1024)

static void
free_returned_cb(void *arg)
{
	KvModifyState *ms = arg;

	kv_buf_free(shardkv_env, &ms->returned);
}

/* The modify state of a result relation, for ModifyTable and for COPY/routing. */
static KvModifyState *
modify_state_create(EState *estate, ResultRelInfo *rinfo, int flags, bool explain_only)
{
	KvModifyState *ms = palloc0(sizeof(KvModifyState));
	Relation	rel = rinfo->ri_RelationDesc;

	rinfo->ri_FdwState = ms;
	map_columns(rel, &ms->map);
	ms->flags = flags;
	ms->batch_size = batch_size_of(RelationGetRelid(rel));
	if (explain_only)
		return ms;
	ms->ns = shardkv_ns_cstr(table_namespace(RelationGetRelid(rel)));
	shardkv_wal_check_write(ms->ns);
	ms->free_returned.func = free_returned_cb;
	ms->free_returned.arg = ms;
	MemoryContextRegisterResetCallback(estate->es_query_cxt, &ms->free_returned);
	return ms;
}

static void
kvBeginForeignModify(ModifyTableState *mtstate, ResultRelInfo *rinfo, List *fdw_private,
					 int subplan_index, int eflags)
{
	KvModifyState *ms;

	(void) subplan_index;
	ms = modify_state_create(mtstate->ps.state, rinfo,
							 fdw_private ? intVal(linitial(fdw_private)) : 0,
							 (eflags & EXEC_FLAG_EXPLAIN_ONLY) != 0);
	if (eflags & EXEC_FLAG_EXPLAIN_ONLY)
		return;
	if (mtstate->operation == CMD_UPDATE || mtstate->operation == CMD_DELETE)
	{
		Plan	   *sub = outerPlanState(mtstate)->plan;

		ms->rowid = ExecFindJunkAttributeInTlist(sub->targetlist, ROWID_NAME);
		if (!AttributeNumberIsValid(ms->rowid))
			elog(ERROR, "shardkv_fdw: row identity \"%s\" not found", ROWID_NAME);
	}
}

/* Value and expiry of a row to write. */
static void
row_value(KvModifyState *ms, TupleTableSlot *slot, kv_op *op)
{
	bool		isnull;
	Datum		d;

	slot_getallattrs(slot);
	op->val = "";
	op->vlen = 0;
	op->type = KV_T_NULL;
	if (ms->map.value)
	{
		d = slot_getattr(slot, ms->map.value, &isnull);
		if (!isnull)
			op->val = shardkv_value_from(ms->map.value_type, d, &op->vlen, &op->type);
	}
	op->expires_at = KV_EXPIRE_DEFAULT;
	if (ms->map.expires)
	{
		d = slot_getattr(slot, ms->map.expires, &isnull);
		if (!isnull)
			op->expires_at = shardkv_expiry_from_timestamptz(DatumGetTimestampTz(d));
	}
}

static void
row_key(TupleTableSlot *slot, AttrNumber att, kv_op *op)
{
	bool		isnull;
	Datum		d = slot_getattr(slot, att, &isnull);

	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("key must not be null")));
	op->key = shardkv_key_bytes(DatumGetTextPP(d), &op->klen);
}

static void
report_duplicate(kv_ns *ns, const kv_op *op)
{
	ereport(ERROR,
			(errcode(ERRCODE_UNIQUE_VIOLATION),
			 errmsg("key already exists in namespace \"%s\"", kv_ns_name(ns)),
			 errdetail("Key \"%.*s\" already exists.",
					   pg_mbcliplen(op->key, (int) Min(op->klen, 1000), 200),
					   (const char *) op->key),
			 errhint("Use UPDATE, or kv.set() to overwrite.")));
}

/* Apply n SET-if-absent ops as one all-or-nothing batch; a duplicate is a unique violation. */
static void
insert_batch(KvModifyState *ms, kv_op *ops, int n)
{
	kv_error	err;
	int			rc;

	if (n == 0)
		return;
	memset(&err, 0, sizeof(err));
	err.item = (size_t) -1;
	rc = kv_batch(ms->ns, ops, (size_t) n, KV_BATCH_ALL_OR_NOTHING, NULL, &err);
	shardkv_wal_sync();
	if (rc == KV_EXISTS && err.item < (size_t) n)
		report_duplicate(ms->ns, &ops[err.item]);
	if (rc != KV_OK)
		shardkv_report(rc, kv_ns_name(ms->ns), &err);
}

/* COPY: apply the buffered rows and empty the buffer. */
static void
copy_flush(KvModifyState *ms)
{
	int			n = ms->buf_n;

	ms->buf_n = 0;
	ms->buf_bytes = 0;
	insert_batch(ms, ms->buf_ops, n);
	MemoryContextReset(ms->buf_cxt);
	CHECK_FOR_INTERRUPTS();		/* between engine calls: nothing is held */
}

/* COPY: copy one row's bytes into the buffer (the slot is reused for the next row). */
static void
copy_buffer_row(KvModifyState *ms, TupleTableSlot *slot)
{
	kv_op	   *op = &ms->buf_ops[ms->buf_n];
	MemoryContext old;
	char	   *copy;

	memset(op, 0, sizeof(*op));
	op->op = KV_OP_SET;
	op->flags = KV_SET_NX;
	row_key(slot, ms->map.key, op);
	row_value(ms, slot, op);
	old = MemoryContextSwitchTo(ms->buf_cxt);
	copy = palloc_extended(op->klen + op->vlen + 1, MCXT_ALLOC_HUGE);
	MemoryContextSwitchTo(old);
	memcpy(copy, op->key, op->klen);
	memcpy(copy + op->klen, op->val, op->vlen);
	op->key = copy;
	op->val = copy + op->klen;
	ms->buf_n++;
	ms->buf_bytes += op->klen + op->vlen;
	if (ms->buf_n >= ms->batch_size || ms->buf_bytes >= COPY_BUFFER_BYTES)
		copy_flush(ms);
}

static TupleTableSlot *
kvExecForeignInsert(EState *estate, ResultRelInfo *rinfo, TupleTableSlot *slot,
					TupleTableSlot *planSlot)
{
	KvModifyState *ms = rinfo->ri_FdwState;
	kv_op		op;
	int			rc;

	(void) estate;
	(void) planSlot;
	if (ms->buffered)
	{
		copy_buffer_row(ms, slot);
		return slot;
	}
	memset(&op, 0, sizeof(op));
	row_key(slot, ms->map.key, &op);
	row_value(ms, slot, &op);
	rc = kv_set(ms->ns, op.key, op.klen, op.val, op.vlen, op.type, op.expires_at, KV_SET_NX, NULL);
	shardkv_wal_sync();
	if (rc == KV_EXISTS)
		report_duplicate(ms->ns, &op);
	if (rc != KV_OK)
		shardkv_report(rc, kv_ns_name(ms->ns), NULL);
	return slot;
}

static TupleTableSlot **
kvExecForeignBatchInsert(EState *estate, ResultRelInfo *rinfo, TupleTableSlot **slots,
						 TupleTableSlot **planSlots, int *numSlots)
{
	KvModifyState *ms = rinfo->ri_FdwState;
	int			n = *numSlots;
	kv_op	   *ops = palloc0(sizeof(kv_op) * Max(n, 1));
	int			i;

	(void) estate;
	(void) planSlots;
	for (i = 0; i < n; i++)
	{
		ops[i].op = KV_OP_SET;
		ops[i].flags = KV_SET_NX;
		row_key(slots[i], ms->map.key, &ops[i]);
		row_value(ms, slots[i], &ops[i]);
	}
	insert_batch(ms, ops, n);
	return slots;
}

/*
 * COPY into the table, INSERT routed to it as a partition, or an UPDATE that
 * moves a row into it: no ModifyTable plan of our own, so the state is made
 * here.  COPY (no plan at all) buffers its rows and applies them batch_size at
 * a time, unless a row trigger must see each row applied as it comes.
 */
static void
kvBeginForeignInsert(ModifyTableState *mtstate, ResultRelInfo *rinfo)
{
	EState	   *estate = mtstate->ps.state;
	KvModifyState *ms = modify_state_create(estate, rinfo, 0, false);
	TriggerDesc *td = rinfo->ri_TrigDesc;

	if (mtstate->ps.plan == NULL && ms->batch_size > 1 &&
		!(td && (td->trig_insert_before_row || td->trig_insert_after_row ||
				 td->trig_insert_instead_row)))
	{
		ms->buffered = true;
		ms->buf_cxt = AllocSetContextCreate(estate->es_query_cxt, "shardkv_fdw copy",
											ALLOCSET_DEFAULT_SIZES);
		ms->buf_ops = MemoryContextAlloc(estate->es_query_cxt,
										 sizeof(kv_op) * ms->batch_size);
	}
}

static void
kvEndForeignInsert(EState *estate, ResultRelInfo *rinfo)
{
	KvModifyState *ms = rinfo->ri_FdwState;

	(void) estate;
	if (ms && ms->buffered)
		copy_flush(ms);
}

static int
kvGetForeignModifyBatchSize(ResultRelInfo *rinfo)
{
	KvModifyState *ms = rinfo->ri_FdwState;

	/* no batching with RETURNING or row triggers (the executor's rule) */
	if (rinfo->ri_projectReturning != NULL ||
		(rinfo->ri_TrigDesc && (rinfo->ri_TrigDesc->trig_insert_before_row ||
								rinfo->ri_TrigDesc->trig_insert_after_row)))
		return 1;
	return ms ? ms->batch_size : DEFAULT_BATCH_SIZE;
}

static TupleTableSlot *
kvExecForeignUpdate(EState *estate, ResultRelInfo *rinfo, TupleTableSlot *slot,
					TupleTableSlot *planSlot)
{
	KvModifyState *ms = rinfo->ri_FdwState;
	kv_op		old,
				upd;
	int			rc = KV_OK;

	(void) estate;
	memset(&old, 0, sizeof(old));
	memset(&upd, 0, sizeof(upd));
	row_key(planSlot, ms->rowid, &old);
	if (ms->flags & UPD_KEY)
	{
		row_key(slot, ms->map.key, &upd);
		if (upd.klen != old.klen || memcmp(upd.key, old.key, old.klen) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("shardkv_fdw cannot change the key of a row"),
					 errhint("Insert a row with the new key and delete the old one.")));
	}
	row_value(ms, slot, &upd);
	if (ms->flags & UPD_VALUE)
	{
		int64		exp = KV_EXPIRE_KEEP;

		if (ms->flags & UPD_EXPIRES)
			exp = upd.expires_at == KV_EXPIRE_DEFAULT ? KV_EXPIRE_NEVER : upd.expires_at;
		rc = kv_set(ms->ns, old.key, old.klen, upd.val, upd.vlen, upd.type, exp, KV_SET_XX, NULL);
		shardkv_wal_sync();
	}
	else if (ms->flags & UPD_EXPIRES)
	{
		if (upd.expires_at == KV_EXPIRE_DEFAULT)
		{
			rc = kv_persist(ms->ns, old.key, old.klen);
			shardkv_wal_sync();
			if (rc == KV_UNCHANGED)
				rc = KV_OK;
		}
		else
			rc = kv_expire(ms->ns, old.key, old.klen, upd.expires_at, 0);
		shardkv_wal_sync();
	}
	else
		rc = kv_exists(ms->ns, old.key, old.klen);
	if (rc == KV_NOTFOUND)
		return NULL;			/* the row went away meanwhile */
	if (rc != KV_OK)
		shardkv_report(rc, kv_ns_name(ms->ns), NULL);
	return slot;
}

static TupleTableSlot *
kvExecForeignDelete(EState *estate, ResultRelInfo *rinfo, TupleTableSlot *slot,
					TupleTableSlot *planSlot)
{
	KvModifyState *ms = rinfo->ri_FdwState;
	kv_op		old;
	int			rc;

	(void) estate;
	memset(&old, 0, sizeof(old));
	row_key(planSlot, ms->rowid, &old);
	if (rinfo->ri_projectReturning == NULL)
		rc = kv_del(ms->ns, old.key, old.klen);
	else
		rc = kv_consume(ms->ns, old.key, old.klen, &ms->returned);	/* RETURNING: the row as deleted */
	shardkv_wal_sync();
	if (rc == KV_NOTFOUND)
		return NULL;
	if (rc != KV_OK)
		shardkv_report(rc, kv_ns_name(ms->ns), NULL);
	if (rinfo->ri_projectReturning != NULL)
	{
		/* a value the column cannot show (non-JSON in jsonb) is put back, not lost */
		PG_TRY();
		{
			fill_row(slot, &ms->map, old.key, old.klen, ms->returned.data, ms->returned.len,
					 ms->returned.type, ms->returned.expires_at);
		}
		PG_CATCH();
		{
			(void) kv_set(ms->ns, old.key, old.klen, ms->returned.data, ms->returned.len,
						  ms->returned.type,
						  ms->returned.expires_at ? ms->returned.expires_at : KV_EXPIRE_NEVER,
						  KV_SET_NX, NULL);
			shardkv_wal_sync();
			PG_RE_THROW();
		}
		PG_END_TRY();
	}
	return slot;
}

static void
kvEndForeignModify(EState *estate, ResultRelInfo *rinfo)
{
	(void) estate;
	(void) rinfo;
}

static int
kvIsForeignRelUpdatable(Relation rel)
{
	(void) rel;
	return (1 << CMD_INSERT) | (1 << CMD_UPDATE) | (1 << CMD_DELETE);
}

/* -------------------------------------------------------------- importing */

/*
 * IMPORT FOREIGN SCHEMA <anything> FROM SERVER s INTO local: one foreign table
 * (key text, value text, expires_at timestamptz) per namespace, named after it.
 */
static List *
kvImportForeignSchema(ImportForeignSchemaStmt *stmt, Oid serverOid)
{
	ForeignServer *server = GetForeignServer(serverOid);
	size_t		n,
				i;
	kv_ns_stats *list = shardkv_ns_list(&n);
	List	   *cmds = NIL;

	for (i = 0; i < n; i++)
	{
		const char *name = list[i].name;
		ListCell   *lc;
		bool		listed = false;

		foreach(lc, stmt->table_list)
			if (strcmp(((RangeVar *) lfirst(lc))->relname, name) == 0)
				listed = true;
		if (stmt->list_type == FDW_IMPORT_SCHEMA_LIMIT_TO && !listed)
			continue;
		if (stmt->list_type == FDW_IMPORT_SCHEMA_EXCEPT && listed)
			continue;
		cmds = lappend(cmds,
					   psprintf("CREATE FOREIGN TABLE %s (key text NOT NULL, value text, "
								"expires_at timestamptz) SERVER %s OPTIONS (namespace %s)",
								quote_identifier(name), quote_identifier(server->servername),
								quote_literal_cstr(name)));
	}
	return cmds;
}

PG_FUNCTION_INFO_V1(shardkv_fdw_handler);
Datum
shardkv_fdw_handler(PG_FUNCTION_ARGS)
{
	FdwRoutine *r = makeNode(FdwRoutine);

	(void) fcinfo;
	r->GetForeignRelSize = kvGetForeignRelSize;
	r->GetForeignPaths = kvGetForeignPaths;
	r->GetForeignPlan = kvGetForeignPlan;
	r->BeginForeignScan = kvBeginForeignScan;
	r->IterateForeignScan = kvIterateForeignScan;
	r->ReScanForeignScan = kvReScanForeignScan;
	r->EndForeignScan = kvEndForeignScan;
	r->ExplainForeignScan = kvExplainForeignScan;
	r->AddForeignUpdateTargets = kvAddForeignUpdateTargets;
	r->PlanForeignModify = kvPlanForeignModify;
	r->BeginForeignModify = kvBeginForeignModify;
	r->ExecForeignInsert = kvExecForeignInsert;
	r->ExecForeignBatchInsert = kvExecForeignBatchInsert;
	r->GetForeignModifyBatchSize = kvGetForeignModifyBatchSize;
	r->ExecForeignUpdate = kvExecForeignUpdate;
	r->ExecForeignDelete = kvExecForeignDelete;
	r->EndForeignModify = kvEndForeignModify;
	r->BeginForeignInsert = kvBeginForeignInsert;
	r->EndForeignInsert = kvEndForeignInsert;
	r->IsForeignRelUpdatable = kvIsForeignRelUpdatable;
	r->ImportForeignSchema = kvImportForeignSchema;
	PG_RETURN_POINTER(r);
}
