/*
 * shardkv.c -- PostgreSQL host of the shardkv engine: module set-up, GUCs,
 * shared memory, the status-code table and helpers shared by the SQL
 * functions, the FDW and the background worker.
 *
 * Usage (postgresql.conf):
 *     shared_preload_libraries = 'shardkv'
 *     shardkv.memory = 256MB
 * then, in a database:
 *     CREATE EXTENSION shardkv;
 *     SELECT kv.create_namespace('cache');
 *     SELECT kv.set('cache', 'greeting', 'hello', interval '1 hour');
 *     SELECT kv.get('cache', 'greeting');
 *
 * HOW IT WORKS
 *   The postmaster requests shardkv.memory bytes of shared memory
 *   (shmem_request_hook) and, in shmem_startup_hook under AddinShmemInitLock,
 *   formats it once as an engine region with kv_env_open().  Every backend is
 *   forked from the postmaster and inherits the kv_env handle, so all sessions
 *   use one store.  On a crash restart the postmaster re-creates shared memory,
 *   the startup hook formats a fresh region, and the background worker loads the
 *   last snapshot again: a crash loses what was written after the last snapshot.
 *
 *   Backends do not touch the store before the worker has tried its start-up
 *   load (ShardkvShared.ready), so no session sees an empty store that is about
 *   to be replaced.
 *
 *   Per backend, kv_ns handles are cached by namespace name in the engine's
 *   kv_nscache (a handle follows its name across drop and re-create, so the
 *   cache never goes stale).
 */
#include "shardkv.h"

#include <limits.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "miscadmin.h"
#include "postmaster/interrupt.h"
#include "common/int.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/wait_event.h"

PG_MODULE_MAGIC;

/* GUCs */
int			shardkv_memory_mb = 64;
int			shardkv_max_namespaces = 1024;
int			shardkv_default_shards = 16;
char	   *shardkv_snapshot_dir = NULL;
char	   *shardkv_snapshot_file = NULL;
int			shardkv_autosave_interval = 60;
int			shardkv_autosave_changes = 1;
int			shardkv_tick_interval = 100;
bool		shardkv_save_on_shutdown = true;
bool		shardkv_load_on_start = true;

kv_env	   *shardkv_env = NULL;
ShardkvShared *shardkv_shared = NULL;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* How long a backend waits for the start-up load before going ahead. */
#define READY_WAIT_MS 30000
#define REGION_ALIGN 4096

void		_PG_init(void);

static Size
shardkv_shmem_size(void)
{
	Size		region = (Size) shardkv_memory_mb * 1024 * 1024;

	return add_size(add_size(MAXALIGN(sizeof(ShardkvShared)), REGION_ALIGN), region);
}

static void
shardkv_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(shardkv_shmem_size());
	RequestNamedLWLockTranche("shardkv", 2);	/* admin, save (wal.c) */
}

/*
 * Postmaster, just before shared memory goes away: at shutdown, and when a
 * backend crashed and the postmaster reinitialises shared memory (PG 15 runs
 * shmem_exit(1), hence this callback, then re-creates the segment, calls
 * shmem_startup_hook again, and restarts the worker, which reloads the last
 * snapshot).  The old region is still mapped here, so its counters can be
 * read: say what the store loses.  Only the host's own atomics are read, never
 * the engine's structures, which a crashed backend may have left half-written.
 * The dirty count is the worker's last tick (shardkv.tick_interval ago at most).
 */
static void
log_store_loss(int code)
{
	uint64		dirty = pg_atomic_read_u64(&shardkv_shared->dirty);
	char	   *path;
	struct stat st;
	bool		have_file;

	if (dirty == 0 && code == 0)
		return;					/* saved at shutdown: nothing is lost */
	path = psprintf("%s/%s", make_absolute_path(shardkv_snapshot_dir), shardkv_snapshot_file);
	have_file = stat(path, &st) == 0;
	ereport(LOG,
			(errmsg("shardkv store discarded with " UINT64_FORMAT " writes made after the last snapshot",
					dirty),
			 have_file ?
			 errdetail("The snapshot \"%s\" is %lld seconds old; a crash loses what was written after the last snapshot.",
					   path, (long long) (time(NULL) - st.st_mtime)) :
			 errdetail("There is no snapshot \"%s\": the store restarts empty.", path),
			 code != 0 ? errhint("The store reloads the snapshot once shared memory is reinitialised.") : 0));
}

static void
shardkv_env_close_cb(int code, Datum arg)
{
	(void) arg;
	if (code == 0 && shardkv_shared && shardkv_env)
		shardkv_wal_save_at_shutdown();
	if (shardkv_shared)
		log_store_loss(code);
	if (shardkv_env)
		kv_env_close(shardkv_env);
	shardkv_env = NULL;
	shardkv_shared = NULL;
}

static void
shardkv_shmem_startup(void)
{
	bool		found;
	int			rc;
	kv_config	cfg;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	/* A crash reset re-creates shared memory; the old handle is gone. */
	shardkv_env = NULL;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	shardkv_shared = ShmemInitStruct("shardkv", shardkv_shmem_size(), &found);
	if (!found)
	{
		char	   *base = (char *) shardkv_shared + MAXALIGN(sizeof(ShardkvShared));

		pg_atomic_init_u32(&shardkv_shared->ready, 0);
		ConditionVariableInit(&shardkv_shared->ready_cv);
		pg_atomic_init_u32(&shardkv_shared->worker_pid, 0);
		pg_atomic_init_u64(&shardkv_shared->dirty, 0);
		pg_atomic_init_u64(&shardkv_shared->last_save, 0);
		pg_atomic_init_u64(&shardkv_shared->saves, 0);
		pg_atomic_init_u32(&shardkv_shared->load_state, 0);
		pg_atomic_init_u64(&shardkv_shared->replay_from, 0);
		pg_atomic_init_u64(&shardkv_shared->saved_lsn, 0);
		pg_atomic_init_u32(&shardkv_shared->armed, 0);
		pg_atomic_init_u32(&shardkv_shared->guard_holding[0], 0);
		pg_atomic_init_u32(&shardkv_shared->guard_holding[1], 0);
		pg_atomic_init_u32(&shardkv_shared->guard_cycling, 0);
		shardkv_shared->region = (char *) TYPEALIGN(REGION_ALIGN, base);
		shardkv_shared->region_size = (Size) shardkv_memory_mb * 1024 * 1024;

		kv_config_init(&cfg);
		cfg.region = shardkv_shared->region;
		cfg.region_size = shardkv_shared->region_size;
		cfg.max_namespaces = (uint32_t) shardkv_max_namespaces;
		cfg.default_shards = (uint32_t) shardkv_default_shards;
		/* cfg.mem stays libc: the engine must never see palloc's longjmp */
		rc = kv_env_open(&cfg, &shardkv_env);
	}
	else
		rc = kv_env_attach(shardkv_shared->region, shardkv_shared->region_size,
						   NULL, &shardkv_env);
	LWLockRelease(AddinShmemInitLock);

	if (rc != KV_OK)
	{
		shardkv_env = NULL;
		ereport(FATAL,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("could not set up the shardkv store in shared memory"),
				 errdetail("%s", kv_strerror_text(rc)),
				 errhint("Check shardkv.memory and shardkv.max_namespaces.")));
	}
	shardkv_wal_install(shardkv_env);
	if (!IsUnderPostmaster)
		on_shmem_exit(shardkv_env_close_cb, (Datum) 0);
}

static bool
check_snapshot_dir(char **newval, void **extra, GucSource source)
{
	(void) extra;
	(void) source;
	if (*newval == NULL || (*newval)[0] == '\0')
	{
		GUC_check_errdetail("shardkv.snapshot_dir must not be empty.");
		return false;
	}
	return true;
}

static bool
check_snapshot_file(char **newval, void **extra, GucSource source)
{
	(void) extra;
	(void) source;
	if (*newval == NULL || (*newval)[0] == '\0' || strchr(*newval, '/') != NULL)
	{
		GUC_check_errdetail("shardkv.snapshot_file must be a plain file name.");
		return false;
	}
	return true;
}

void
_PG_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;

	DefineCustomIntVariable("shardkv.memory",
							"Size of the shared memory region that holds the store.",
							NULL, &shardkv_memory_mb, 64, 1, 32 * 1024,
							PGC_POSTMASTER, GUC_UNIT_MB, NULL, NULL, NULL);
	DefineCustomIntVariable("shardkv.max_namespaces",
							"Maximum number of namespaces in the store.",
							NULL, &shardkv_max_namespaces, 1024, 1, 1 << 20,
							PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("shardkv.default_shards",
							"Shard count of namespaces created with shards = 0.",
							NULL, &shardkv_default_shards, 16, 1, KV_MAX_SHARDS,
							PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("shardkv.snapshot_dir",
							   "Directory for snapshots; relative paths are inside the data directory.",
							   "kv.save and kv.load only read and write files in it.",
							   &shardkv_snapshot_dir, "pg_shardkv",
							   PGC_SIGHUP, 0, check_snapshot_dir, NULL, NULL);
	DefineCustomStringVariable("shardkv.snapshot_file",
							   "File name, in shardkv.snapshot_dir, of the snapshot that is loaded at start and autosaved.",
							   NULL, &shardkv_snapshot_file, "shardkv.snap",
							   PGC_SIGHUP, 0, check_snapshot_file, NULL, NULL);
	DefineCustomIntVariable("shardkv.autosave_interval",
							"Seconds between automatic snapshots (when something changed); 0 disables autosave.",
							NULL, &shardkv_autosave_interval, 60, 0, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("shardkv.autosave_changes",
							"Changes needed, together with shardkv.autosave_interval, before an automatic snapshot.",
							NULL, &shardkv_autosave_changes, 1, 1, INT_MAX,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("shardkv.tick_interval",
							"Milliseconds between expiry sweeps and autosave checks of the background worker.",
							NULL, &shardkv_tick_interval, 100, 10, 60000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomBoolVariable("shardkv.save_on_shutdown",
							 "Save a snapshot when the server shuts down cleanly.",
							 NULL, &shardkv_save_on_shutdown, true,
							 PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("shardkv.load_on_start",
							 "Load the snapshot when the server starts.",
							 NULL, &shardkv_load_on_start, true,
							 PGC_SIGHUP, 0, NULL, NULL, NULL);
	shardkv_notify_define_guc();
	shardkv_wal_init();
	MarkGUCPrefixReserved("shardkv");

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = shardkv_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = shardkv_shmem_startup;

	shardkv_register_worker();
}

/* ------------------------------------------------------------ the store */

/* Wait (interruptibly) until the worker has tried the start-up load. */
static void
shardkv_wait_ready(void)
{
	TimestampTz start = GetCurrentTimestamp();

	ConditionVariablePrepareToSleep(&shardkv_shared->ready_cv);
	while (pg_atomic_read_u32(&shardkv_shared->ready) == 0)
	{
		if (TimestampDifferenceExceeds(start, GetCurrentTimestamp(), READY_WAIT_MS))
		{
			ereport(WARNING,
					(errmsg("shardkv background worker has not finished loading the snapshot"),
					 errdetail("Going ahead without waiting for it.")));
			pg_atomic_write_u32(&shardkv_shared->ready, 1);
			break;
		}
		(void) ConditionVariableTimedSleep(&shardkv_shared->ready_cv, 100, PG_WAIT_EXTENSION);
	}
	ConditionVariableCancelSleep();
}

static bool notify_installed = false;

/* The store, or a clear error if the library was not preloaded. */
kv_env *
shardkv_get_env(void)
{
	if (unlikely(shardkv_env == NULL))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("shardkv must be loaded via shared_preload_libraries"),
				 errhint("Add shardkv to shared_preload_libraries in postgresql.conf and restart the server.")));
	if (unlikely(pg_atomic_read_u32(&shardkv_shared->ready) == 0))
		shardkv_wait_ready();
	if (unlikely(!notify_installed))
	{
		shardkv_notify_install(shardkv_env);
		notify_installed = true;
	}
	return shardkv_env;
}

/*
 * The backend's namespace handles, by name: the engine's kv_nscache (one per
 * process; a PostgreSQL backend is single-threaded).  Opened on first use
 * after the fork; the process exit releases it.
 */
static kv_nscache *ns_cache = NULL;

kv_ns *
shardkv_ns_cstr(const char *name)
{
	return shardkv_ns_lookup(name, false);
}

/* The namespace's handle; with missing_ok, NULL when it does not exist. */
kv_ns *
shardkv_ns_lookup(const char *name, bool missing_ok)
{
	kv_env	   *env = shardkv_get_env();
	kv_ns	   *ns = NULL;
	int			rc;

	if (ns_cache == NULL)
	{
		rc = kv_nscache_open(env, &ns_cache);
		if (rc != KV_OK)
			shardkv_report(rc, name, NULL);
	}
	rc = kv_nscache_get(ns_cache, name, strlen(name), &ns);
	if (rc == KV_ENONS && missing_ok)
		return NULL;
	if (rc != KV_OK)
		shardkv_report(rc, name, NULL);
	return ns;
}

kv_ns *
shardkv_ns(text *name)
{
	size_t		len = VARSIZE_ANY_EXHDR(name);
	char		buf[KV_NS_NAME_MAX + 1];

	/* the engine's rule (length, characters, no NUL), before any copy */
	if (kv_ns_name_check(VARDATA_ANY(name), len) != KV_OK)
		shardkv_report(KV_ENSNAME, text_to_cstring(name), NULL);
	memcpy(buf, VARDATA_ANY(name), len);
	buf[len] = '\0';
	return shardkv_ns_cstr(buf);
}

/*
 * Every namespace, one consistent cut (kv_ns_list_all), copied into palloc'd
 * memory at once so that no ERROR can leak the engine's libc array.
 */
kv_ns_stats *
shardkv_ns_list(size_t *n)
{
	kv_env	   *env = shardkv_get_env();
	kv_ns_stats *list = NULL;
	kv_ns_stats *copy;
	int			rc;

	rc = kv_ns_list_all(env, &list, n);
	if (rc != KV_OK)
		shardkv_report(rc, NULL, NULL);
	copy = palloc_extended(sizeof(kv_ns_stats) * Max(*n, 1), MCXT_ALLOC_HUGE | MCXT_ALLOC_NO_OOM);
	if (copy != NULL && *n > 0)
		memcpy(copy, list, sizeof(kv_ns_stats) * *n);
	kv_ns_list_free(env, list);
	if (copy == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory listing %zu namespaces", *n)));
	return copy;
}

/* ------------------------------------------------------ status -> SQLSTATE */

/*
 * The one table that maps engine status codes to SQLSTATEs, message texts and
 * the tokens that best-effort batches return per item.  A message with %s
 * names the namespace.
 */
typedef struct StatusInfo
{
	int			code;
	int			sqlstate;
	const char *token;
	const char *message;
	const char *hint;
} StatusInfo;

static const StatusInfo status_table[] = {
	{KV_OK, 0, "ok", NULL, NULL},
	{KV_NOTFOUND, ERRCODE_NO_DATA_FOUND, "not_found", "key not found", NULL},
	{KV_EXISTS, ERRCODE_UNIQUE_VIOLATION, "exists", "key already exists", NULL},
	{KV_UNCHANGED, ERRCODE_NO_DATA, "unchanged", "condition not met, nothing changed", NULL},
	{KV_ENONS, ERRCODE_UNDEFINED_OBJECT, "no_namespace",
	 "namespace \"%s\" does not exist", "Create it with kv.create_namespace()."},
	{KV_ENSEXISTS, ERRCODE_DUPLICATE_OBJECT, "namespace_exists",
	 "namespace \"%s\" already exists", NULL},
	{KV_ENSNAME, ERRCODE_INVALID_NAME, "bad_namespace_name",
	 "invalid namespace name \"%s\"",
	 "A namespace name has 1 to 63 characters from A-Z, a-z, 0-9, \"_\", \".\", \":\" and \"-\"."},
	{KV_ETOOMANYNS, ERRCODE_CONFIGURATION_LIMIT_EXCEEDED, "too_many_namespaces",
	 "too many namespaces", "Raise shardkv.max_namespaces and restart the server."},
	{KV_EINVAL, ERRCODE_INVALID_PARAMETER_VALUE, "invalid", "invalid argument", NULL},
	{KV_EKEYSIZE, ERRCODE_PROGRAM_LIMIT_EXCEEDED, "key_size",
	 "key is longer than the namespace allows",
	 "Keys have at most max_key_size bytes (see kv.namespaces())."},
	{KV_EVALSIZE, ERRCODE_PROGRAM_LIMIT_EXCEEDED, "value_size",
	 "value is longer than the namespace allows",
	 "Values have at most max_value_size bytes (see kv.namespaces())."},
	{KV_ENOMEM, ERRCODE_OUT_OF_MEMORY, "out_of_memory",
	 "shardkv store is out of memory", "Raise shardkv.memory, or delete or expire keys."},
	{KV_EMAXKEYS, ERRCODE_CONFIGURATION_LIMIT_EXCEEDED, "max_keys",
	 "namespace \"%s\" reached its max_keys limit",
	 "Raise max_keys, delete keys, or create the namespace with an eviction policy."},
	{KV_EMAXMEM, ERRCODE_CONFIGURATION_LIMIT_EXCEEDED, "max_memory",
	 "namespace \"%s\" reached its max_memory limit",
	 "Raise max_memory, delete keys, or create the namespace with an eviction policy."},
	{KV_ENOTINT, ERRCODE_INVALID_TEXT_REPRESENTATION, "not_integer",
	 "value is not an integer or out of range", NULL},
	{KV_EOVERFLOW, ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE, "overflow",
	 "increment or decrement would overflow bigint", NULL},
	{KV_ENOTFLOAT, ERRCODE_INVALID_TEXT_REPRESENTATION, "not_float",
	 "value is not a valid float", NULL},
	{KV_ESHARDS, ERRCODE_INVALID_PARAMETER_VALUE, "bad_shards",
	 "invalid shard count", "The shard count must be above the current one and at most " CppAsString2(KV_MAX_SHARDS) "."},
	{KV_EBUSY, ERRCODE_OBJECT_IN_USE, "busy",
	 "another save, load or resize is running on namespace \"%s\"", "Try again later."},
	{KV_EABORTED, ERRCODE_TRANSACTION_ROLLBACK, "aborted",
	 "not applied because another item of the batch failed", NULL},
	{KV_EREGION, ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE, "bad_region",
	 "shardkv shared memory region is unusable", NULL},
	{KV_EIO, ERRCODE_IO_ERROR, "io_error", "snapshot input/output error", NULL},
	{KV_ECORRUPT, ERRCODE_DATA_CORRUPTED, "corrupt", "snapshot file is corrupt", NULL},
	{KV_EWRONGTYPE, ERRCODE_WRONG_OBJECT_TYPE, "wrong_type",
	 "operation against a key holding the wrong kind of value",
	 "kv.type() shows the kind of a key."},
	{KV_ERANGE, ERRCODE_ARRAY_SUBSCRIPT_ERROR, "out_of_range", "index out of range", NULL},
	{KV_EFORMAT, ERRCODE_INVALID_BINARY_REPRESENTATION, "bad_format",
	 "file is not a shardkv snapshot of a supported version", NULL},
};

static const StatusInfo *
status_info(int rc)
{
	size_t		i;

	for (i = 0; i < lengthof(status_table); i++)
		if (status_table[i].code == rc)
			return &status_table[i];
	return NULL;
}

const char *
shardkv_status_token(int rc)
{
	const StatusInfo *si = status_info(rc);

	return si ? si->token : "error";
}

/* The SQLSTATE and message text of a status code (ns fills a %s). */
int
shardkv_status_sqlstate(int rc)
{
	const StatusInfo *si = status_info(rc);

	return (si && si->sqlstate) ? si->sqlstate : ERRCODE_INTERNAL_ERROR;
}

char *
shardkv_status_message(int rc, const char *ns)
{
	const StatusInfo *si = status_info(rc);

	if (si == NULL || si->message == NULL)
		return pstrdup(kv_strerror_text(rc));
	if (strstr(si->message, "%s"))
		return psprintf(si->message, ns ? ns : "");
	return pstrdup(si->message);
}

/* "some text" -> "Some text." for errdetail (the engine writes lower case). */
static char *
detail_sentence(const char *msg)
{
	size_t		len = strlen(msg);
	char	   *s = palloc(len + 2);

	memcpy(s, msg, len + 1);
	if (len > 0)
	{
		s[0] = (char) pg_toupper((unsigned char) s[0]);
		if (s[len - 1] != '.')
		{
			s[len] = '.';
			s[len + 1] = '\0';
		}
	}
	return s;
}

/*
 * SQLSTATE of a failed snapshot file operation: errcode_for_file_access()'s
 * classes, plus the errnos the engine's confined file handling gives (a
 * symlink on the way, a file that is not a regular file, an over-long name),
 * which it would call internal errors.
 */
static int
file_errno_sqlstate(int e)
{
	switch (e)
	{
		case EPERM:
		case EACCES:
		case EROFS:
		case ELOOP:				/* a symlink in a confined path */
			return ERRCODE_INSUFFICIENT_PRIVILEGE;
		case ENOENT:
			return ERRCODE_UNDEFINED_FILE;
		case EEXIST:
			return ERRCODE_DUPLICATE_FILE;
		case ENOTDIR:
		case EISDIR:
		case EINVAL:			/* a FIFO, device or socket */
			return ERRCODE_WRONG_OBJECT_TYPE;
		case ENOSPC:
		case EDQUOT:
		case EFBIG:
			return ERRCODE_DISK_FULL;
		case ENFILE:
		case EMFILE:
		case ENOMEM:
			return ERRCODE_INSUFFICIENT_RESOURCES;
		case ENAMETOOLONG:
			return ERRCODE_INVALID_PARAMETER_VALUE;
		default:
			return ERRCODE_IO_ERROR;
	}
}

void
shardkv_report(int rc, const char *ns, const kv_error *err)
{
	const StatusInfo *si = status_info(rc);
	char	   *detail = NULL;
	int			save_errno = 0;

	if (err && err->code == rc && err->msg[0] != '\0')
		detail = detail_sentence(err->msg);
	if (rc == KV_EIO && err)
		save_errno = err->sys_errno;

	if (si == NULL || si->sqlstate == 0)
		elog(ERROR, "unexpected shardkv status %s (%d): %s", kv_strerror_code(rc), rc, kv_strerror_text(rc));

	if (rc == KV_EIO && save_errno != 0)
	{
		errno = save_errno;
		ereport(ERROR,
				(errcode(file_errno_sqlstate(save_errno)),
				 errmsg("snapshot input/output error: %m"),
				 detail ? errdetail_internal("%s", detail) : 0,
				 save_errno == ELOOP ?
				 errhint("Snapshot paths may not pass through symbolic links.") :
				 save_errno == EINVAL ?
				 errhint("Snapshots are read only from regular files.") : 0));
	}
	/* a save of every namespace (ns NULL) that meets another save has no
	 * namespace to name: the engine's detail says which directory */
	if (rc == KV_EBUSY && ns == NULL)
		ereport(ERROR,
				(errcode(si->sqlstate),
				 errmsg("another save, load or resize is running"),
				 detail ? errdetail_internal("%s", detail) : 0,
				 si->hint ? errhint("%s", si->hint) : 0));
	ereport(ERROR,
			(errcode(si->sqlstate),
			 strstr(si->message, "%s") ? errmsg(si->message, ns ? ns : "") : errmsg("%s", si->message),
			 detail ? errdetail_internal("%s", detail) : 0,
			 si->hint ? errhint("%s", si->hint) : 0));
	pg_unreachable();
}

/* ---------------------------------------------------------- snapshots */

/* Absolute, canonical snapshot directory. */
static char *
snapshot_dir_abs(void)
{
	char	   *dir = make_absolute_path(shardkv_snapshot_dir);

	canonicalize_path(dir);
	return dir;
}

/* Names the file system would refuse get 22023 here, not an I/O error later. */
static void
check_file_name(const char *file)
{
	const char *p = file;

	if (strlen(file) >= MAXPGPATH - 64)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("snapshot file name is too long"),
				 errdetail("A snapshot path has at most %d bytes.", MAXPGPATH - 65)));
	while (*p)
	{
		size_t		n = strcspn(p, "/");

		/* room for the engine's ".tmp-<pid>" suffix */
		if (n > NAME_MAX - 32)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("snapshot file name is too long"),
					 errdetail("Each component of a snapshot path has at most %d bytes.",
							   NAME_MAX - 32)));
		p += n;
		p += strspn(p, "/");
	}
}

/*
 * A user-supplied snapshot file name (NULL: shardkv.snapshot_file) as a name
 * relative to shardkv.snapshot_dir, for kv_save_at/kv_load_at, which resolve
 * it component by component below the directory and follow no symlink.  Here
 * only what deserves a clearer message than the engine's: "..", and absolute
 * paths (accepted when inside the directory).  *dirp gets the absolute
 * directory, created first when writing.
 */
char *
shardkv_snapshot_name(const char *file, bool for_write, char **dirp)
{
	char	   *dir = snapshot_dir_abs();
	size_t		dlen = strlen(dir);
	char	   *name;

	if (file == NULL)
		file = shardkv_snapshot_file;
	if (file[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("snapshot file name must not be empty")));
	check_file_name(file);
	if (path_contains_parent_reference(file) || strcmp(file, "..") == 0 ||
		strncmp(file, "../", 3) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("snapshot path \"%s\" must not contain \"..\"", file)));
	name = pstrdup(file);
	canonicalize_path(name);
	if (is_absolute_path(name))
	{
		if (strncmp(name, dir, dlen) != 0 || name[dlen] != '/' || name[dlen + 1] == '\0')
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("snapshot path \"%s\" is outside shardkv.snapshot_dir", file),
					 errdetail("Snapshots are read from and written to \"%s\".", dir)));
		name += dlen + 1;
	}
	else if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || strncmp(name, "../", 3) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("snapshot path \"%s\" is outside shardkv.snapshot_dir", file)));
	if (for_write && MakePGDirectory(dir) < 0 && errno != EEXIST)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create directory \"%s\": %m", dir)));
	*dirp = dir;
	return name;
}

/*
 * KV_EBUSY means another save, load or resize of the namespace is running:
 * short, rare administrative work (a save waits 200 ms for another save of
 * its directory, then gives KV_EBUSY).  SQL callers and the worker's save at
 * shutdown wait it out (interruptibly,
 * up to BUSY_WAIT_MS) rather than fail; call as
 *     start = GetCurrentTimestamp(); do rc = ...; while (shardkv_busy_wait(rc, start));
 */
#define BUSY_WAIT_MS 10000

bool
shardkv_busy_wait(int rc, TimestampTz start)
{
	if (rc != KV_EBUSY || TimestampDifferenceExceeds(start, GetCurrentTimestamp(), BUSY_WAIT_MS))
		return false;
	(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 10,
					 PG_WAIT_EXTENSION);
	ResetLatch(MyLatch);
	CHECK_FOR_INTERRUPTS();
	return true;
}

/* Save every namespace to the configured file, paired with its WAL position
 * (wal.c); used by the worker and kv.save().  An autosave that finds another
 * save running is retried at the next tick. */
bool
shardkv_save_all(int elevel)
{
	return shardkv_wal_save(elevel, InvalidXLogRecPtr, NULL);
}

/* Load the configured snapshot if it exists (worker, at start). */
bool
shardkv_load_default(int elevel)
{
	kv_error	err;
	char	   *dir;
	char	   *name = shardkv_snapshot_name(NULL, false, &dir);
	char	   *path = psprintf("%s/%s", dir, name);
	struct stat st;
	int			rc;

	if (lstat(path, &st) != 0 && errno == ENOENT)
	{
		ereport(LOG, (errmsg("shardkv found no snapshot at \"%s\", starting empty", path)));
		return true;
	}
	memset(&err, 0, sizeof(err));
	rc = kv_load_at(shardkv_env, dir, name, NULL, NULL, &err);
	if (rc != KV_OK)
	{
		/*
		 * Nothing was loaded (kv_load verifies the whole file before it
		 * changes anything), and the next save would overwrite the file: move
		 * it out of the way first.  A valid file that did not fit (shardkv.memory was
		 * lowered, say) can be loaded again with kv.load() once it fits.
		 */
		bool		bad = (rc == KV_ECORRUPT || rc == KV_EFORMAT);
		char	   *aside = psprintf("%s.%s-" INT64_FORMAT, path, bad ? "bad" : "unloaded",
									 (int64) kv_now_ms());
		bool		moved = rename(path, aside) == 0;
		char	   *aside_name = strrchr(aside, '/');

		ereport(elevel,
				(errmsg("shardkv could not load snapshot \"%s\": %s", path,
						err.msg[0] ? err.msg : kv_strerror_text(rc)),
				 moved ? errdetail("The store starts empty; the file was renamed to \"%s\".", aside)
				 : errdetail("The store starts empty; the file could not be moved aside: %m."),
				 (moved && !bad) ? errhint("Make room (shardkv.memory, namespace limits) and run kv.load(file => '%s').",
										   aside_name ? aside_name + 1 : aside) : 0));
		return false;
	}
	ereport(LOG, (errmsg("shardkv loaded snapshot \"%s\"", path)));
	return true;
}

/* ---------------------------------------------------------- time helpers */

/*
 * TTL arithmetic is the engine's (kv_expiry_from_ttl_us, kv_expiry_check,
 * kv_ttl_remaining); the host only turns PostgreSQL intervals and timestamps
 * into microseconds and milliseconds, and the engine's KV_EINVAL into 22008.
 */
static void
report_expiry_range(const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
			 errmsg("%s out of range", what),
			 errdetail("An expiry must fall before the year 10000.")));
}

/* Interval -> microseconds, months as 30 days (as extract(epoch) counts them). */
static int64
interval_us(Interval *iv, const char *what)
{
	int64		days = (int64) iv->month * DAYS_PER_MONTH + iv->day;
	int64		us;

	if (pg_mul_s64_overflow(days, USECS_PER_DAY, &us) ||
		pg_add_s64_overflow(us, iv->time, &us))
		report_expiry_range(what);
	return us;
}

/*
 * Interval -> milliseconds, for namespace settings (kept in ms by the engine).
 * A positive part of a millisecond counts as a whole one, as the engine rounds
 * a TTL up, so a positive default_ttl never becomes "none".
 */
int64
shardkv_interval_ms(Interval *iv)
{
	int64		us = interval_us(iv, "interval");

	return us / 1000 + (us % 1000 > 0 ? 1 : 0);
}

/*
 * A TTL -> absolute expiry; NULL TTL is the caller's business.  Writes refuse
 * a TTL that is not positive (as Redis refuses SET EX 0); kv.expire passes
 * past_deletes, and a zero or negative TTL then gives a past time that deletes
 * the key, as Redis's EXPIRE does.
 */
int64
shardkv_expiry_from_ttl(Interval *ttl, bool past_deletes)
{
	int64		us = interval_us(ttl, "ttl");
	int64_t		at;

	if (us <= 0 && !past_deletes)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ttl must be positive"),
				 errhint("Use kv.persist() to remove an expiry and kv.delete() to remove a key.")));
	if (kv_expiry_from_ttl_us(us, &at) != KV_OK)
		report_expiry_range("ttl");
	return at;
}

/*
 * An absolute expiry given as timestamptz -> engine ms.  Infinity and times
 * beyond the engine's KV_EXPIRES_MAX are refused; a time before 1970 has
 * passed already (1 ms after the epoch: expired, not "never").
 */
int64
shardkv_expiry_from_timestamptz(TimestampTz ts)
{
	int64		at;

	if (TIMESTAMP_NOT_FINITE(ts))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("expiry time must be finite")));
	at = shardkv_timestamptz_to_ms(ts);
	if (at <= 0)
		return 1;
	if (kv_expiry_check(at) != KV_OK)
		report_expiry_range("expiry time");
	return at;
}

/*
 * Time left until an absolute expiry (never negative), as the engine counts
 * it.  The engine rounds an expiry up to the next ms, so right after a set the
 * remaining time may read up to 1 ms above the TTL asked for: the key does
 * live that long.
 */
Interval *
shardkv_ttl_interval(int64 expires_at)
{
	return shardkv_ms_to_interval(kv_ttl_remaining(expires_at, kv_now_ms(), 1));
}

/*
 * Never fails: a duration too long for the microsecond field (a default_ttl
 * from a file another host wrote, say) is given in days instead.
 */
Interval *
shardkv_ms_to_interval(int64 ms)
{
	Interval   *iv = palloc0(sizeof(Interval));

	if (pg_mul_s64_overflow(ms, 1000, &iv->time))
	{
		int64		ms_per_day = (int64) SECS_PER_DAY * 1000;
		int64		days = ms / ms_per_day;

		iv->day = (int32) Min(days, (int64) PG_INT32_MAX);
		iv->time = (ms % ms_per_day) * 1000;
	}
	return iv;
}

/* Unix epoch ms <-> PostgreSQL timestamptz (microseconds since 2000-01-01). */
#define PG_EPOCH_OFFSET_MS \
	((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY * 1000)

/*
 * Never fails: a stored expiry beyond timestamptz's range (from a file written
 * before the engine capped expiries, say) reads as infinity, so that one odd
 * key cannot make a whole scan fail.
 */
TimestampTz
shardkv_ms_to_timestamptz(int64 ms)
{
	int64		us;

	if (pg_mul_s64_overflow(ms - PG_EPOCH_OFFSET_MS, 1000, &us) ||
		!IS_VALID_TIMESTAMP(us))
		return ms > 0 ? DT_NOEND : DT_NOBEGIN;
	return us;
}

int64
shardkv_timestamptz_to_ms(TimestampTz ts)
{
	return ts / 1000 + PG_EPOCH_OFFSET_MS;
}
