/*
 * shardkv.h -- internal header of the PostgreSQL host of the shardkv engine.
 *
 * The host is thin: it turns SQL types into engine calls and engine status
 * codes into ereport().  Files:
 *   shardkv.c   _PG_init, GUCs, shared memory, error table, shared helpers
 *   notify.c    NOTIFY of the changes a session makes (shardkv.notify_channel)
 *   worker.c    background worker: snapshot load at start, tick, autosave,
 *               save on clean shutdown
 *   convert.c   SQL values <-> stored bytes, and function arguments
 *   keys.c      the kv.* functions on keys (single keys, batches, scans)
 *   coll.c      the kv.* functions on hashes, sets, sorted sets and lists
 *   admin.c     the kv.* functions on namespaces, stats and snapshots
 *   fdw.c       the writable foreign data wrapper
 *
 * THE ONE RULE
 *   No engine call may be left by a longjmp (ereport(ERROR), palloc failure,
 *   CHECK_FOR_INTERRUPTS).  So: every argument is converted to bytes before the
 *   call, every result is copied out after it, and the only code that runs
 *   inside an engine call (scan callbacks) allocates with MCXT_ALLOC_NO_OOM and
 *   reports failure by its return value.  The engine's own allocator is libc,
 *   never palloc.  Interrupts are checked between engine calls.
 */
#ifndef SHARDKV_PG_H
#define SHARDKV_PG_H

#include "postgres.h"

#include "fmgr.h"
#include "access/xlogdefs.h"
#include "port/atomics.h"
#include "storage/lwlock.h"
#include "storage/condition_variable.h"
#include "utils/array.h"
#include "utils/timestamp.h"

#include "kv.h"

/* Shared state of the host, next to the engine region in shared memory. */
typedef struct ShardkvShared
{
	pg_atomic_uint32 ready;		/* 1 once the worker tried the start-up load */
	ConditionVariable ready_cv; /* backends wait here until ready */
	pg_atomic_uint32 worker_pid;
	pg_atomic_uint64 dirty;		/* from the last kv_tick */
	pg_atomic_uint64 last_save; /* ms since the epoch, 0 = never */
	pg_atomic_uint64 saves;		/* successful full saves by the worker */
	/* WAL-logged namespaces (wal.c) */
	pg_atomic_uint32 load_state;	/* 0 not loaded, 1 loading, 2 done */
	pg_atomic_uint64 replay_from;	/* L of the loaded snapshot: replay records at or after it */
	pg_atomic_uint64 saved_lsn;	/* the highest L of a paired save */
	pg_atomic_uint32 armed;		/* the checkpoint guard holds and has saved */
	pg_atomic_uint32 guard_holding[2];
	pg_atomic_uint32 guard_cycling;
	Size		region_size;
	char	   *region;			/* page-aligned start of the engine region */
} ShardkvShared;

/* GUCs */
extern int	shardkv_memory_mb;
extern int	shardkv_max_namespaces;
extern int	shardkv_default_shards;
extern char *shardkv_snapshot_dir;
extern char *shardkv_snapshot_file;
extern int	shardkv_autosave_interval;
extern int	shardkv_autosave_changes;
extern int	shardkv_tick_interval;
extern bool shardkv_save_on_shutdown;
extern bool shardkv_load_on_start;

/* Process state: the env handle is created in the postmaster and inherited. */
extern kv_env *shardkv_env;
extern ShardkvShared *shardkv_shared;

/* shardkv.c */
extern kv_env *shardkv_get_env(void);
extern kv_ns *shardkv_ns(text *name);
extern kv_ns *shardkv_ns_cstr(const char *name);
extern kv_ns *shardkv_ns_lookup(const char *name, bool missing_ok);
extern kv_ns_stats *shardkv_ns_list(size_t *n);
extern void shardkv_report(int rc, const char *ns, const kv_error *err) pg_attribute_noreturn();
extern const char *shardkv_status_token(int rc);
extern int	shardkv_status_sqlstate(int rc);
extern char *shardkv_status_message(int rc, const char *ns);
extern char *shardkv_snapshot_name(const char *file, bool for_write, char **dirp);
extern bool shardkv_save_all(int elevel);
extern bool shardkv_busy_wait(int rc, TimestampTz start);
extern bool shardkv_load_default(int elevel);
extern int64 shardkv_interval_ms(Interval *iv);
extern int64 shardkv_expiry_from_ttl(Interval *ttl, bool past_deletes);
extern int64 shardkv_expiry_from_timestamptz(TimestampTz ts);
extern Interval *shardkv_ttl_interval(int64 expires_at);
extern Interval *shardkv_ms_to_interval(int64 ms);
extern TimestampTz shardkv_ms_to_timestamptz(int64 ms);
extern int64 shardkv_timestamptz_to_ms(TimestampTz ts);

/* Conversions between stored values and SQL values, and arguments (convert.c). */
extern Datum shardkv_value_as(Oid typid, const char *data, size_t len, int type, bool *isnull);
extern Datum shardkv_value_as_row(Oid typid, const char *data, size_t len, int type, bool *isnull);
extern Datum shardkv_text_or_hex(const char *data, size_t len);
extern const char *shardkv_value_from(Oid typid, Datum d, size_t *len, int *type);
extern const char *shardkv_type_name(int type);
extern const char *shardkv_key_bytes(text *t, size_t *klen);
extern char *shardkv_stored_to_cstring(const char *data, size_t len, int type, int *outlen);
extern void shardkv_require_arg(FunctionCallInfo fcinfo, int n, const char *what);
extern kv_ns *shardkv_ns_arg(FunctionCallInfo fcinfo, int n);
extern const char *shardkv_key_arg(FunctionCallInfo fcinfo, int n, size_t *klen);
extern ArrayType *shardkv_array_arg(FunctionCallInfo fcinfo, int n, const char *what);

/*
 * Arguments 0 and 1 of a kv.* function on one key: the namespace (resolved
 * for a read, or for a write with shardkv_ns_warg) and the key's bytes.
 */
typedef struct ShardkvKey
{
	kv_ns	   *ns;
	const char *key;
	size_t		klen;
} ShardkvKey;
extern ShardkvKey shardkv_key_args(FunctionCallInfo fcinfo, bool write);

/* After one engine call: sync the WAL, then report any status but KV_OK
 * (shardkv_done) or but KV_OK and KV_NOTFOUND (shardkv_found: false if not found). */
extern void shardkv_done(int rc, kv_ns *ns);
extern bool shardkv_found(int rc, kv_ns *ns);

/* A SQL-callable function that is one call of a shared implementation. */
#define SHARDKV_ENTRY(name, call) \
	PG_FUNCTION_INFO_V1(name); \
	Datum name(PG_FUNCTION_ARGS) { return call; }

/* A collection's type tag (KV_T_HASH .. KV_T_LIST; kv.h reserves 16..31). */
#define SHARDKV_IS_KIND(t) ((t) >= KV_T_HASH && (t) <= 31)

/* Report any status but the ones the caller treats as outcomes. */
#define SHARDKV_CHECK(rc, ns) \
	do { if ((rc) != KV_OK) shardkv_report((rc), kv_ns_name(ns), NULL); } while (0)

/*
 * Scan steps collect their keys with shardkv_scan_collect (a kv_scan_fn that
 * never ERRORs: it allocates with MCXT_ALLOC_NO_OOM in cxt and returns
 * SHARDKV_SCAN_OOM on failure); rows are made after kv_scan returns.
 */
#define SHARDKV_SCAN_OOM 1
typedef struct ShardkvScanItem
{
	struct ShardkvScanItem *next;
	size_t		klen;
	size_t		vlen;
	int			type;
	int64		expires_at;
	char		data[FLEXIBLE_ARRAY_MEMBER];	/* key, then value */
} ShardkvScanItem;

typedef struct ShardkvScanCtx
{
	MemoryContext cxt;
	ShardkvScanItem *head;
	ShardkvScanItem *tail;
} ShardkvScanCtx;

extern int	shardkv_scan_collect(void *arg, const void *key, size_t klen, const void *val,
								 size_t vlen, int type, int64_t expires_at);

/* notify.c */
extern char *shardkv_notify_channel;
extern void shardkv_notify_define_guc(void);
extern void shardkv_notify_install(kv_env *env);

/* wal.c */
#define SHARDKV_DURABILITY_SNAPSHOT 0
#define SHARDKV_DURABILITY_WAL 1
extern int	shardkv_default_durability;
extern void shardkv_wal_init(void);
extern void shardkv_wal_install(kv_env *env);
extern void shardkv_wal_sync(void);
extern bool shardkv_ns_is_wal(kv_ns *ns);
extern void shardkv_wal_check_write(kv_ns *ns);
extern LWLock *shardkv_admin_lock(void);
extern void shardkv_wal_log_create(const char *name, const kv_ns_config *cfg);
extern void shardkv_wal_log_drop(const char *name);
extern void shardkv_wal_log_config(const char *name, const kv_ns_config *cfg);
extern bool shardkv_wal_save(int elevel, XLogRecPtr at_lsn, XLogRecPtr *saved);
extern void shardkv_wal_ensure_loaded(int elevel);
extern void shardkv_wal_save_at_shutdown(void);
PGDLLEXPORT void shardkv_guard_main(Datum arg);
extern kv_ns *shardkv_ns_warg(FunctionCallInfo fcinfo, int n);

/* worker.c */
extern void shardkv_register_worker(void);
PGDLLEXPORT void shardkv_worker_main(Datum arg);

#endif							/* SHARDKV_PG_H */
