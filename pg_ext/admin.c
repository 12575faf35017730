/*
 * admin.c -- the kv.* functions that manage the store: namespaces (create,
 * alter, drop, flush, resize, list), kv.stats() and snapshots (kv.save,
 * kv.load).  Same three steps as keys.c: arguments to bytes, one engine call,
 * results copied out.
 */
#include "shardkv.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "access/xlog.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

/* ----------------------------------------------------------- namespaces */

/* 'snapshot' or 'wal' (arg n; NULL: shardkv.default_durability) as KV_NS_REDO */
static uint32_t
durability_arg(FunctionCallInfo fcinfo, int n, uint32_t dflt)
{
	char	   *s;

	if (PG_ARGISNULL(n))
		return dflt;
	s = text_to_cstring(PG_GETARG_TEXT_PP(n));
	if (pg_strcasecmp(s, "wal") == 0)
		return KV_NS_REDO;
	if (pg_strcasecmp(s, "snapshot") == 0)
		return 0;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid durability \"%s\"", s),
			 errhint("Valid durabilities are snapshot (the store reverts to its last snapshot after a crash) and wal (every write is WAL-logged).")));
	return 0;
}

/* Checks of a 'wal' configuration that deserve their own message. */
static void
check_wal_config(const char *name, const kv_ns_config *cfg, bool was_wal)
{
	if (!(cfg->flags & KV_NS_REDO) && !was_wal)
		return;
	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot change WAL-logged namespace \"%s\" during recovery", name),
				 errhint("Change it on the primary.")));
	if ((cfg->flags & KV_NS_REDO) && cfg->eviction != KV_EVICT_NONE)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("namespace \"%s\" with durability 'wal' must have eviction 'none'", name),
				 errdetail("An eviction is not a write WAL could replay in the same order.")));
}

/* Policy names are the engine's (kv_evict_policy_parse / _name). */
static int
eviction_from_text(text *t)
{
	int			policy;

	if (kv_evict_policy_parse(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), &policy) != KV_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid eviction policy \"%s\"", text_to_cstring(t)),
				 errhint("Valid policies are %s (noeviction is an alias of none).",
						 KV_EVICT_POLICY_LIST)));
	return policy;
}

static const char *
eviction_name(int policy)
{
	const char *name = kv_evict_policy_name(policy, 0);

	return name ? name : "unknown";
}

/*
 * A size or count argument, range-checked as int64 before it is narrowed to
 * the engine's type, so that 4294967301 is refused rather than stored as 5.
 */
static uint64
range_arg(FunctionCallInfo fcinfo, int n, const char *what, int64 max, bool is_int4)
{
	int64		v = is_int4 ? (int64) PG_GETARG_INT32(n) : PG_GETARG_INT64(n);

	if (v < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be negative", what)));
	if (v > max)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be at most " INT64_FORMAT, what, max),
				 errhint("0 means the default.")));
	return (uint64) v;
}

static int64
default_ttl_arg(FunctionCallInfo fcinfo, int n)
{
	int64		ms = shardkv_interval_ms(PG_GETARG_INTERVAL_P(n));
	int64_t		at;

	if (ms < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("default_ttl must not be negative")));
	if (ms > 0 && kv_expiry_from_ttl_ms(ms, &at) != KV_OK)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("default_ttl out of range"),
				 errdetail("An expiry must fall before the year 10000.")));
	return ms;
}

/*
 * Settings shared by create_namespace (args 1..7) and alter_namespace
 * (args 1..6, no shards): NULL leaves the setting as it is in *cfg.
 */
static void
ns_config_args(FunctionCallInfo fcinfo, int first, kv_ns_config *cfg)
{
	int			a = first;

	if (!PG_ARGISNULL(a))
		cfg->max_keys = range_arg(fcinfo, a, "max_keys", PG_INT64_MAX, false);
	a++;
	if (!PG_ARGISNULL(a))
		cfg->max_memory = range_arg(fcinfo, a, "max_memory", PG_INT64_MAX, false);
	a++;
	if (!PG_ARGISNULL(a))
		cfg->default_ttl_ms = default_ttl_arg(fcinfo, a);
	a++;
	if (!PG_ARGISNULL(a))
		cfg->eviction = eviction_from_text(PG_GETARG_TEXT_PP(a));
	a++;
	if (!PG_ARGISNULL(a))
		cfg->max_key_size = (uint32_t) range_arg(fcinfo, a, "max_key_size", KV_KEY_SIZE_LIMIT, true);
	a++;
	if (!PG_ARGISNULL(a))
		cfg->max_value_size = (uint32_t) range_arg(fcinfo, a, "max_value_size",
												   KV_VALUE_SIZE_LIMIT, false);
}

/*
 * kv.create_namespace(name, shards int DEFAULT 0, max_keys bigint DEFAULT 0,
 *     max_memory bigint DEFAULT 0, default_ttl interval DEFAULT NULL,
 *     eviction text DEFAULT 'none', max_key_size int DEFAULT 0,
 *     max_value_size bigint DEFAULT 0, if_not_exists boolean DEFAULT false)
 * Zero means "the engine's default" (unlimited limits, default shard count).
 */
PG_FUNCTION_INFO_V1(shardkv_create_namespace);
Datum
shardkv_create_namespace(PG_FUNCTION_ARGS)
{
	kv_env	   *env = shardkv_get_env();
	char	   *name;
	kv_ns_config cfg;
	int			rc;

	shardkv_require_arg(fcinfo, 0, "namespace");
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	kv_ns_config_init(&cfg);
	if (!PG_ARGISNULL(1))
		cfg.shards = (uint32_t) range_arg(fcinfo, 1, "shards", KV_MAX_SHARDS, true);
	ns_config_args(fcinfo, 2, &cfg);
	cfg.flags = durability_arg(fcinfo, 9,
							   shardkv_default_durability == SHARDKV_DURABILITY_WAL ? KV_NS_REDO : 0);
	check_wal_config(name, &cfg, false);

	if (cfg.flags & KV_NS_REDO)
	{
		/*
		 * The record goes first, so every write to the new namespace is
		 * logged after it; replay creates only what is missing.  A create that
		 * fails for another reason than an existing namespace is cancelled.
		 */
		if (kv_ns_name_check(name, strlen(name)) != KV_OK)
			shardkv_report(KV_ENSNAME, name, NULL);
		LWLockAcquire(shardkv_admin_lock(), LW_EXCLUSIVE);
		shardkv_wal_log_create(name, &cfg);
		rc = kv_ns_create(env, name, &cfg);
		if (rc != KV_OK && rc != KV_ENSEXISTS)
			shardkv_wal_log_drop(name);
		LWLockRelease(shardkv_admin_lock());
		shardkv_wal_sync();
	}
	else
		rc = kv_ns_create(env, name, &cfg);
	if (rc == KV_ENSEXISTS && !PG_ARGISNULL(8) && PG_GETARG_BOOL(8))
	{
		ereport(NOTICE,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("namespace \"%s\" already exists, skipping", name)));
		PG_RETURN_VOID();
	}
	if (rc != KV_OK)
		shardkv_report(rc, name, NULL);
	PG_RETURN_VOID();
}

/* kv.alter_namespace(name, max_keys, max_memory, default_ttl, eviction, max_key_size, max_value_size) */
PG_FUNCTION_INFO_V1(shardkv_alter_namespace);
Datum
shardkv_alter_namespace(PG_FUNCTION_ARGS)
{
	kv_ns	   *ns = shardkv_ns_arg(fcinfo, 0);
	kv_ns_stats st;
	bool		was_wal,
				now_wal;
	int			rc;

	rc = kv_ns_stats_get(ns, &st);
	SHARDKV_CHECK(rc, ns);
	was_wal = (st.config.flags & KV_NS_REDO) != 0;
	ns_config_args(fcinfo, 1, &st.config);
	st.config.flags = durability_arg(fcinfo, 7, st.config.flags);
	now_wal = (st.config.flags & KV_NS_REDO) != 0;
	check_wal_config(kv_ns_name(ns), &st.config, was_wal);
	if (!was_wal && !now_wal)
	{
		rc = kv_ns_configure(ns, &st.config);
		SHARDKV_CHECK(rc, ns);
		PG_RETURN_VOID();
	}
	LWLockAcquire(shardkv_admin_lock(), LW_EXCLUSIVE);
	rc = kv_ns_configure(ns, &st.config);
	if (rc == KV_OK)
		shardkv_wal_log_config(kv_ns_name(ns), &st.config);
	LWLockRelease(shardkv_admin_lock());
	SHARDKV_CHECK(rc, ns);
	/*
	 * Switched to 'wal': its keys so far are in no WAL, so the switch is only
	 * durable once a snapshot paired with a WAL position holds them.  Writes
	 * from now on are logged; the snapshot's cut comes after the switch.
	 */
	if (!was_wal && now_wal)
		(void) shardkv_save_all(ERROR);
	PG_RETURN_VOID();
}

/* kv.drop_namespace(name, if_exists boolean DEFAULT false) */
PG_FUNCTION_INFO_V1(shardkv_drop_namespace);
Datum
shardkv_drop_namespace(PG_FUNCTION_ARGS)
{
	kv_env	   *env = shardkv_get_env();
	char	   *name;
	kv_ns	   *ns;
	bool		wal;
	TimestampTz start;
	int			rc;

	shardkv_require_arg(fcinfo, 0, "namespace");
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	ns = shardkv_ns_lookup(name, true);
	wal = ns != NULL && shardkv_ns_is_wal(ns);
	if (wal && RecoveryInProgress())
		shardkv_wal_check_write(ns);	/* 25006 */
	if (wal)
		LWLockAcquire(shardkv_admin_lock(), LW_EXCLUSIVE);
	start = GetCurrentTimestamp();
	do
		rc = kv_ns_drop(env, name);
	while (shardkv_busy_wait(rc, start));
	if (wal)
	{
		if (rc == KV_OK)
			shardkv_wal_log_drop(name);
		LWLockRelease(shardkv_admin_lock());
	}
	if (rc == KV_ENONS && !PG_ARGISNULL(1) && PG_GETARG_BOOL(1))
	{
		ereport(NOTICE,
				(errmsg("namespace \"%s\" does not exist, skipping", name)));
		PG_RETURN_VOID();
	}
	if (rc != KV_OK)
		shardkv_report(rc, name, NULL);
	PG_RETURN_VOID();
}

/* kv.flush(ns): delete every key */
PG_FUNCTION_INFO_V1(shardkv_flush);
Datum
shardkv_flush(PG_FUNCTION_ARGS)
{
	kv_ns	   *ns = shardkv_ns_warg(fcinfo, 0);
	int			rc = kv_ns_flush(ns);

	shardkv_wal_sync();
	SHARDKV_CHECK(rc, ns);
	PG_RETURN_VOID();
}

/* kv.resize(ns, shards): raise the shard count online */
PG_FUNCTION_INFO_V1(shardkv_resize);
Datum
shardkv_resize(PG_FUNCTION_ARGS)
{
	kv_ns	   *ns = shardkv_ns_arg(fcinfo, 0);
	int32		shards;
	TimestampTz start;
	int			rc;

	shardkv_require_arg(fcinfo, 1, "shards");
	shards = PG_GETARG_INT32(1);
	if (shards <= 0)
		shardkv_report(KV_ESHARDS, kv_ns_name(ns), NULL);
	start = GetCurrentTimestamp();
	do
		rc = kv_ns_resize(ns, (uint32_t) shards);
	while (shardkv_busy_wait(rc, start));
	SHARDKV_CHECK(rc, ns);
	PG_RETURN_VOID();
}

/* kv.namespaces() -> one row per namespace: configuration and statistics */
PG_FUNCTION_INFO_V1(shardkv_namespaces);
Datum
shardkv_namespaces(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	kv_ns_stats *list;
	size_t		n,
				i;

	InitMaterializedSRF(fcinfo, 0);
	list = shardkv_ns_list(&n);
	for (i = 0; i < n; i++)
	{
		kv_ns_stats *s = &list[i];
		Datum		v[15];
		bool		nulls[15];
		int			c = 0;

		memset(nulls, 0, sizeof(nulls));
		v[c++] = CStringGetTextDatum(s->name);
		v[c++] = Int32GetDatum((int32) s->config.shards);
		v[c++] = Int64GetDatum((int64) s->config.max_keys);
		v[c++] = Int64GetDatum((int64) s->config.max_memory);
		if (s->config.default_ttl_ms > 0)
			v[c++] = IntervalPGetDatum(shardkv_ms_to_interval(s->config.default_ttl_ms));
		else
			nulls[c++] = true;
		v[c++] = CStringGetTextDatum(eviction_name(s->config.eviction));
		v[c++] = Int32GetDatum((int32) s->config.max_key_size);
		v[c++] = Int64GetDatum((int64) s->config.max_value_size);
		v[c++] = Int64GetDatum((int64) s->keys);
		v[c++] = Int64GetDatum((int64) s->bytes);
		v[c++] = Int64GetDatum((int64) s->hits);
		v[c++] = Int64GetDatum((int64) s->misses);
		v[c++] = Int64GetDatum((int64) s->expired);
		v[c++] = Int64GetDatum((int64) s->evicted);
		v[c++] = CStringGetTextDatum((s->config.flags & KV_NS_REDO) ? "wal" : "snapshot");
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, nulls);
	}
	return (Datum) 0;
}

/* kv.stats() -> one row about the store and its worker */
PG_FUNCTION_INFO_V1(shardkv_stats);
Datum
shardkv_stats(PG_FUNCTION_ARGS)
{
	kv_env	   *env = shardkv_get_env();
	kv_env_stats es;
	TupleDesc	tupdesc;
	Datum		v[8];
	bool		nulls[8];
	uint64		last_save;
	uint32		pid;
	int			rc;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	rc = kv_env_stats_get(env, &es);
	if (rc != KV_OK)
		shardkv_report(rc, NULL, NULL);
	memset(nulls, 0, sizeof(nulls));
	last_save = pg_atomic_read_u64(&shardkv_shared->last_save);
	pid = pg_atomic_read_u32(&shardkv_shared->worker_pid);
	v[0] = Int64GetDatum((int64) es.region_size);
	v[1] = Int64GetDatum((int64) es.region_used);
	v[2] = Int32GetDatum((int32) es.namespaces);
	v[3] = Int32GetDatum((int32) es.max_namespaces);
	v[4] = Int64GetDatum((int64) pg_atomic_read_u64(&shardkv_shared->dirty));
	v[5] = TimestampTzGetDatum(shardkv_ms_to_timestamptz((int64) last_save));
	nulls[5] = (last_save == 0);
	v[6] = Int32GetDatum((int32) pid);
	nulls[6] = (pid == 0);
	v[7] = Int64GetDatum((int64) pg_atomic_read_u64(&shardkv_shared->saves));
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, v, nulls)));
}

/* ------------------------------------------------------------ snapshots */

static char *
opt_cstring(FunctionCallInfo fcinfo, int n)
{
	if (PG_NARGS() <= n || PG_ARGISNULL(n))
		return NULL;
	return text_to_cstring(PG_GETARG_TEXT_PP(n));
}

/* kv.save(ns DEFAULT NULL = all, file DEFAULT NULL = shardkv.snapshot_file) */
PG_FUNCTION_INFO_V1(shardkv_save);
Datum
shardkv_save(PG_FUNCTION_ARGS)
{
	kv_env	   *env = shardkv_get_env();
	char	   *ns = opt_cstring(fcinfo, 0);
	char	   *file = opt_cstring(fcinfo, 1);
	char	   *dir;
	char	   *name;
	kv_error	err;
	TimestampTz start;
	int			rc;

	if (ns == NULL && file == NULL)
	{
		(void) shardkv_save_all(ERROR);
		PG_RETURN_VOID();
	}
	if (file == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("saving one namespace needs a file name"),
				 errdetail("The default file, shardkv.snapshot_file, holds every namespace and is loaded at start."),
				 errhint("Use kv.save('%s', 'name.snap').", ns)));
	name = shardkv_snapshot_name(file, true, &dir);
	start = GetCurrentTimestamp();
	do
	{
		memset(&err, 0, sizeof(err));
		rc = kv_save_at(env, ns, dir, name, &err);
	} while (shardkv_busy_wait(rc, start));
	if (rc != KV_OK)
		shardkv_report(rc, ns, &err);
	PG_RETURN_VOID();
}

/*
 * A load replaces keys without logging them, so it may not replace a 'wal'
 * namespace (target NULL: a load of every namespace in the file, which would
 * replace any that exist).
 */
static void
refuse_load_over_wal(const char *target)
{
	kv_ns_stats *list;
	size_t		n;

	list = shardkv_ns_list(&n);
	for (size_t i = 0; i < n; i++)
		if ((list[i].config.flags & KV_NS_REDO) && (target == NULL || strcmp(target, list[i].name) == 0))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("kv.load cannot replace namespace \"%s\", which has durability 'wal'", list[i].name),
					 errdetail("A load is not WAL-logged."),
					 errhint("Load into another namespace (into_ns), or switch it with kv.alter_namespace('%s', durability => 'snapshot') first.",
							 list[i].name)));
}

/* kv.load(ns DEFAULT NULL = all, file DEFAULT NULL, into_ns DEFAULT NULL) */
PG_FUNCTION_INFO_V1(shardkv_load);
Datum
shardkv_load(PG_FUNCTION_ARGS)
{
	kv_env	   *env = shardkv_get_env();
	char	   *ns = opt_cstring(fcinfo, 0);
	char	   *file = opt_cstring(fcinfo, 1);
	char	   *into = opt_cstring(fcinfo, 2);
	char	   *dir;
	char	   *name;
	kv_error	err;
	TimestampTz start;
	int			rc;

	if (into != NULL && ns == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("into_ns requires a namespace to load")));
	refuse_load_over_wal(into ? into : ns);
	name = shardkv_snapshot_name(file, false, &dir);
	start = GetCurrentTimestamp();
	do
	{
		memset(&err, 0, sizeof(err));
		/* one thread: a backend may not start threads (kv_load_threads) */
		rc = kv_load_threads(env, dir, name, ns, into, 1, &err);
	} while (shardkv_busy_wait(rc, start));
	if (rc != KV_OK)
		shardkv_report(rc, into ? into : ns, &err);
	PG_RETURN_VOID();
}
