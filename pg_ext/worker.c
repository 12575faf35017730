/*
 * worker.c -- the shardkv background worker, modelled on autoprewarm.
 *
 * One worker per cluster, started with the postmaster (and again after a
 * crash restart, which re-creates the store empty):
 *   1. load shardkv.snapshot_dir/shardkv.snapshot_file if it exists, then mark
 *      the store ready so that waiting backends go ahead;
 *   2. every shardkv.tick_interval ms call kv_tick(): the engine's active expiry
 *      sweep and its autosave rules ("save after autosave_interval seconds if at
 *      least autosave_changes writes happened"); save when a rule fires;
 *   3. on SIGTERM (clean shutdown) save once more and exit.
 * A crash or an immediate shutdown skips step 3: a crash loses what was written
 * to 'snapshot' namespaces after the last snapshot ('wal' ones are replayed from
 * WAL, see wal.c).  In recovery (a standby) it neither autosaves nor saves at
 * shutdown: the startup process saves where the primary did.
 */
#include "shardkv.h"

#include <sys/stat.h>
#include <unistd.h>

#include "access/xlog.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "utils/guc.h"
#include "utils/memutils.h"

void
shardkv_register_worker(void)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS;
	worker.bgw_start_time = BgWorkerStart_PostmasterStart;
	worker.bgw_restart_time = 1;
	strcpy(worker.bgw_library_name, "shardkv");
	strcpy(worker.bgw_function_name, "shardkv_worker_main");
	strcpy(worker.bgw_name, "shardkv worker");
	strcpy(worker.bgw_type, "shardkv worker");
	RegisterBackgroundWorker(&worker);
}

static void
apply_autosave_rules(void)
{
	kv_save_rule rule;
	int			rc;

	rule.seconds = shardkv_autosave_interval;
	rule.changes = (uint64_t) shardkv_autosave_changes;
	rc = kv_autosave_set(shardkv_env, &rule, shardkv_autosave_interval > 0 ? 1 : 0);
	if (rc != KV_OK)
		ereport(LOG, (errmsg("shardkv could not set autosave rules: %s", kv_strerror_text(rc))));
}

/*
 * A save killed before its rename leaves "<file>.tmp-<pid>-<hex>" beside the
 * snapshot; the engine removes those (kv_snapshot_cleanup, under the
 * directory's save lock).  No directory yet: nothing to clean.
 */
static void
remove_stale_temp_files(void)
{
	char	   *dir = make_absolute_path(shardkv_snapshot_dir);
	struct stat st;
	int			rc;

	if (stat(dir, &st) != 0 && errno == ENOENT)
	{
		free(dir);
		return;
	}
	rc = kv_snapshot_cleanup(dir, shardkv_snapshot_file);
	if (rc != KV_OK)
		ereport(LOG,
				(errmsg("shardkv could not remove unfinished snapshot files in \"%s\": %s",
						dir, kv_strerror_text(rc))));
	free(dir);				/* make_absolute_path mallocs */
}

static void
mark_ready(void)
{
	pg_atomic_write_u32(&shardkv_shared->ready, 1);
	ConditionVariableBroadcast(&shardkv_shared->ready_cv);
}

/*
 * Errors inside the loop (a save that cannot create its directory, say) must
 * not kill the worker, or autosave would stop: they are caught, logged and
 * the loop goes on.
 */
static bool
guarded(bool (*fn) (int), MemoryContext cxt)
{
	MemoryContext old = MemoryContextSwitchTo(cxt);
	volatile bool ok = false;

	PG_TRY();
	{
		ok = fn(LOG);
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		EmitErrorReport();
		FlushErrorState();
		ok = false;
	}
	PG_END_TRY();
	MemoryContextSwitchTo(old);
	MemoryContextReset(cxt);
	return ok;
}

void
shardkv_worker_main(Datum arg)
{
	MemoryContext cxt;
	kv_tick_info info;

	(void) arg;
	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();

	if (shardkv_env == NULL || shardkv_shared == NULL)
		ereport(ERROR, (errmsg("shardkv worker started without the shared store")));

	cxt = AllocSetContextCreate(TopMemoryContext, "shardkv worker", ALLOCSET_DEFAULT_SIZES);
	pg_atomic_write_u32(&shardkv_shared->worker_pid, (uint32) MyProcPid);

	remove_stale_temp_files();
	/* the startup process may be loading it for recovery (wal.c, rm_startup) */
	shardkv_wal_ensure_loaded(LOG);
	/* the load counts as changes; what is on disk is what we just read */
	memset(&info, 0, sizeof(info));
	mark_ready();
	apply_autosave_rules();

	while (!ShutdownRequestPending)
	{
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 shardkv_tick_interval, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			apply_autosave_rules();
		}
		if (ShutdownRequestPending)
			break;
		if (kv_tick(shardkv_env, 0, &info) == KV_OK)
		{
			pg_atomic_write_u64(&shardkv_shared->dirty, info.dirty);
			/* in recovery the startup process saves, where the primary did (wal.c) */
			if (info.save_due && !RecoveryInProgress() && guarded(shardkv_save_all, cxt))
				pg_atomic_fetch_add_u64(&shardkv_shared->saves, 1);
		}
	}

	if (shardkv_save_on_shutdown && !RecoveryInProgress() && guarded(shardkv_save_all, cxt))
		ereport(LOG, (errmsg("shardkv saved the store at shutdown")));
	pg_atomic_write_u32(&shardkv_shared->worker_pid, 0);
	proc_exit(0);
}
