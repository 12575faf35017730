/*
 * wal.c -- namespaces with durability 'wal': their writes are WAL-logged
 * through a custom resource manager and replayed by crash recovery, standbys
 * and point-in-time recovery.  pg_ext/README.md ("Durability") has the design
 * and the argument for its correctness; in short:
 *
 *   LOGGING   The engine hands every change of a KV_NS_REDO namespace to
 *             wal_redo_record() under the shard lock that made it (kv.h REDO
 *             LOG), which XLogInserts it in a critical section: WAL order is
 *             apply order, and a WAL failure PANICs (never longjmps out of an
 *             engine call).  The calling function then flushes (or, with
 *             synchronous_commit off, hands the LSN to the WAL writer) before
 *             it returns: shardkv_wal_sync().
 *   BASE      Every snapshot of the default file is paired with an LSN L (the
 *             insert position at its cut, under the cut's locks) in a sidecar
 *             file "<file>.wal"; records before L are in the snapshot.
 *   GUARD     Redo starts at the last checkpoint's REDO point R, so a snapshot
 *             with L >= R must exist before any checkpoint completes.  Two
 *             "checkpoint guard" workers keep DELAY_CHKPT_START set; a
 *             checkpoint that computed R waits for them, and they let it go
 *             only once a save with L >= R is on disk.
 *   REPLAY    The startup process loads the snapshot (rm_startup), applies
 *             records at or after L (rm_redo, kv_redo_apply), and saves at the
 *             end of recovery (rm_cleanup).  Each record is applied once onto
 *             the state it was made on; all but a collection's RENAME and a
 *             list's changes are assignments to one key or element, so
 *             replaying some again is harmless; a list's apply only onto the
 *             length they were made on (README: "Recovery restores every
 *             acknowledged write").
 */
#include "shardkv.h"

#include <sys/stat.h>
#include <unistd.h>

#include "access/rmgr.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "access/xlog_internal.h"
#include "access/xloginsert.h"
#include "access/xlogreader.h"
#include "access/xlogrecovery.h"
#include "catalog/pg_control.h"
#include "common/controldata_utils.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "storage/pmsignal.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "utils/guc.h"
#include "utils/memutils.h"

/* The one place the resource manager's id is chosen. */
#define RM_SHARDKV_ID RM_EXPERIMENTAL_ID

/* Record kinds (xl_info's rmgr bits).  Every record starts with the namespace:
 * u8 length, name. */
#define XLOG_SHARDKV_KEY    0x00	/* + an engine redo record (kv_redo_hdr, key, data) */
#define XLOG_SHARDKV_CREATE 0x10	/* + kv_ns_config: a 'wal' namespace was created */
#define XLOG_SHARDKV_DROP   0x20	/* a 'wal' namespace was dropped */
#define XLOG_SHARDKV_CONFIG 0x30	/* + kv_ns_config: altered (flags 0: now 'snapshot') */
#define XLOG_SHARDKV_CUT    0x40	/* the primary saved (standbys save here too) */

int			shardkv_default_durability = SHARDKV_DURABILITY_SNAPSHOT;

/* Process state */
static XLogRecPtr wal_pending = InvalidXLogRecPtr;	/* last record this process logged */
static char *cut_names;			/* KV_REDO_CUT names of the save running here */
static int	cut_n,
			cut_cap;
static bool cut_seen;
static XLogRecPtr cut_lsn;
static XLogRecPtr save_at_lsn;	/* a save during recovery or at shutdown: its L */
static kv_nscache *redo_cache;	/* the startup process's handles */
static uint64 redo_failures;

/* ------------------------------------------------------------ logging */

/* The engine's redo function (kv.h REDO LOG): under a shard lock, so nothing
 * here may ERROR out of the engine call: a critical section turns any error of
 * XLogInsert into a PANIC, which is what PostgreSQL does when WAL cannot be
 * written. */
static void
wal_redo_record(void *ctx, const char *ns, const kv_redo_hdr *h, const void *key,
				const kv_val *data, size_t nparts)
{
	uint8		nlen = (uint8) strlen(ns);

	(void) ctx;
	if (h->kind == KV_REDO_CUT)
	{
		/* a save's cut, every shard of ns locked: note the name and where WAL is */
		if (cut_names != NULL && cut_n < cut_cap)
			strlcpy(cut_names + (Size) cut_n++ * (KV_NS_NAME_MAX + 1), ns, KV_NS_NAME_MAX + 1);
		/* in recovery: the end of the last record replayed, a safe L (a
		 * record applied meanwhile is replayed again, harmlessly) */
		if (!cut_seen)
			cut_lsn = save_at_lsn != InvalidXLogRecPtr ? save_at_lsn :
				XLogInsertAllowed() ? GetXLogInsertRecPtr() : GetXLogReplayRecPtr(NULL);
		cut_seen = true;
		return;
	}
	/* a standby (or the startup process) removing an expired key locally */
	if (!XLogInsertAllowed())
		return;
	START_CRIT_SECTION();
	XLogBeginInsert();
	XLogRegisterData((char *) &nlen, 1);
	XLogRegisterData((char *) ns, nlen);
	XLogRegisterData((char *) h, sizeof(*h));
	if (h->klen)
		XLogRegisterData((char *) key, h->klen);
	for (size_t i = 0; i < nparts; i++)
		if (data[i].len)
			XLogRegisterData((char *) data[i].data, data[i].len);
	wal_pending = XLogInsert(RM_SHARDKV_ID, XLOG_SHARDKV_KEY);
	END_CRIT_SECTION();
}

/*
 * Make what this process logged durable before the SQL call returns: flush
 * (synchronous_commit on, remote_*, local), or let the WAL writer do it within
 * wal_writer_delay (off: the window PostgreSQL documents for asynchronous
 * commit).  A function call has no xid, so its commit would not flush.
 */
void
shardkv_wal_sync(void)
{
	XLogRecPtr	lsn = wal_pending;

	if (lsn == InvalidXLogRecPtr)
		return;
	wal_pending = InvalidXLogRecPtr;
	if (synchronous_commit > SYNCHRONOUS_COMMIT_OFF)
		XLogFlush(lsn);
	else
		XLogSetAsyncXactLSN(lsn);
}

/* Whatever a statement logged without passing through shardkv_wal_sync (the
 * FDW, an ERROR after a best-effort batch applied items) is flushed at commit
 * at the latest. */
static void
wal_xact_callback(XactEvent event, void *arg)
{
	(void) arg;
	if (wal_pending == InvalidXLogRecPtr)
		return;
	if (event == XACT_EVENT_PRE_COMMIT || event == XACT_EVENT_PARALLEL_PRE_COMMIT ||
		event == XACT_EVENT_PRE_PREPARE)
		shardkv_wal_sync();
	else if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT)
	{
		XLogSetAsyncXactLSN(wal_pending);	/* never ERRORs */
		wal_pending = InvalidXLogRecPtr;
	}
}

bool
shardkv_ns_is_wal(kv_ns *ns)
{
	kv_ns_stats st;

	return kv_ns_stats_get(ns, &st) == KV_OK && (st.config.flags & KV_NS_REDO) != 0;
}

/*
 * Before a write to ns: a standby refuses writes to 'wal' namespaces (25006);
 * a primary whose checkpoint guard has not made its first save yet waits for
 * it (a write logged before the guard holds could fall between the last
 * snapshot and a checkpoint's REDO point).  Costs one atomic read normally.
 */
void
shardkv_wal_check_write(kv_ns *ns)
{
	TimestampTz start;

	if (likely(pg_atomic_read_u32(&shardkv_shared->armed) != 0) && !RecoveryInProgress())
		return;
	if (!shardkv_ns_is_wal(ns))
		return;
	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot write to namespace \"%s\" during recovery", kv_ns_name(ns)),
				 errdetail("Namespace \"%s\" has durability 'wal': a standby serves it read-only from the primary's WAL.",
						   kv_ns_name(ns)),
				 errhint("Write on the primary.")));
	start = GetCurrentTimestamp();
	while (pg_atomic_read_u32(&shardkv_shared->armed) == 0)
	{
		if (TimestampDifferenceExceeds(start, GetCurrentTimestamp(), 30000))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("namespace \"%s\" cannot be written yet", kv_ns_name(ns)),
					 errdetail("The shardkv checkpoint guard has not saved the store since the server started."),
					 errhint("Check the server log for \"shardkv checkpoint guard\" and max_worker_processes.")));
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 10,
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

/* A namespace record (create, drop, configure, cut). */
static XLogRecPtr
log_ns_record(uint8 info, const char *name, const kv_ns_config *cfg)
{
	uint8		nlen = (uint8) strlen(name);
	XLogRecPtr	lsn;

	XLogBeginInsert();
	XLogRegisterData((char *) &nlen, 1);
	XLogRegisterData((char *) name, nlen);
	if (cfg)
		XLogRegisterData((char *) cfg, sizeof(*cfg));
	lsn = XLogInsert(RM_SHARDKV_ID, info);
	wal_pending = lsn;
	return lsn;
}

LWLock *
shardkv_admin_lock(void)
{
	return &(GetNamedLWLockTranche("shardkv"))[0].lock;
}

/* Log the creation of a 'wal' namespace; the caller holds shardkv_admin_lock and
 * creates it after this, so every write to it is logged after this record. */
void
shardkv_wal_log_create(const char *name, const kv_ns_config *cfg)
{
	(void) log_ns_record(XLOG_SHARDKV_CREATE, name, cfg);
}

void
shardkv_wal_log_drop(const char *name)
{
	(void) log_ns_record(XLOG_SHARDKV_DROP, name, NULL);
	shardkv_wal_sync();
}

void
shardkv_wal_log_config(const char *name, const kv_ns_config *cfg)
{
	(void) log_ns_record(XLOG_SHARDKV_CONFIG, name, cfg);
	shardkv_wal_sync();
}

/* ------------------------------------------------- snapshots paired with an LSN */

#define SIDECAR_MAGIC "shardkv wal pairs 1"

typedef struct WalPair
{
	int64		created_ms;		/* the snapshot's header field: which file */
	XLogRecPtr	lsn;			/* L: records before it are in that snapshot */
	int			n;
	char	   *names;			/* n names of KV_NS_REDO namespaces, KV_NS_NAME_MAX + 1 apart */
} WalPair;

static void
raise_saved_lsn(XLogRecPtr lsn)
{
	uint64		cur = pg_atomic_read_u64(&shardkv_shared->saved_lsn);

	while (cur < lsn && !pg_atomic_compare_exchange_u64(&shardkv_shared->saved_lsn, &cur, lsn))
		;
}

/* created_ms from a snapshot's header, or -1 (missing, not a snapshot). */
static int64
snapshot_created(const char *path)
{
	unsigned char hdr[32];
	int64		v = 0;
	FILE	   *f = fopen(path, "rb");
	size_t		n;

	if (f == NULL)
		return -1;
	n = fread(hdr, 1, sizeof(hdr), f);
	fclose(f);
	if (n != sizeof(hdr) || memcmp(hdr, "SHKVSNAP", 8) != 0)
		return -1;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | hdr[16 + i];
	return v;
}

/* Read up to two pairs from the sidecar; returns how many. */
static int
read_pairs(const char *path, WalPair *out)
{
	FILE	   *f = fopen(path, "r");
	char		line[256];
	int			np = 0;

	if (f == NULL)
		return 0;
	if (fgets(line, sizeof(line), f) == NULL || strncmp(line, SIDECAR_MAGIC, strlen(SIDECAR_MAGIC)) != 0)
	{
		fclose(f);
		return 0;
	}
	while (np < 2 && fgets(line, sizeof(line), f) != NULL)
	{
		long long	created;
		unsigned int hi,
					lo;
		int			n;
		WalPair    *p = &out[np];

		if (sscanf(line, "%lld %X/%X %d", &created, &hi, &lo, &n) != 4 || n < 0 || n > shardkv_max_namespaces)
			break;
		p->created_ms = created;
		p->lsn = ((uint64) hi << 32) | lo;
		p->n = 0;
		p->names = palloc0((Size) Max(n, 1) * (KV_NS_NAME_MAX + 1));
		for (int i = 0; i < n && fgets(line, sizeof(line), f) != NULL; i++)
		{
			line[strcspn(line, "\n")] = '\0';
			strlcpy(p->names + (Size) p->n++ * (KV_NS_NAME_MAX + 1), line, KV_NS_NAME_MAX + 1);
		}
		np++;
	}
	fclose(f);
	return np;
}

static bool
write_pairs(const char *path, const WalPair *pairs, int np, int elevel)
{
	char	   *tmp = psprintf("%s.tmp", path);
	FILE	   *f = fopen(tmp, "w");
	bool		ok;

	if (f == NULL)
	{
		ereport(elevel, (errcode_for_file_access(), errmsg("could not create \"%s\": %m", tmp)));
		return false;
	}
	fprintf(f, "%s\n", SIDECAR_MAGIC);
	for (int i = 0; i < np; i++)
	{
		fprintf(f, "%lld %X/%X %d\n", (long long) pairs[i].created_ms,
				LSN_FORMAT_ARGS(pairs[i].lsn), pairs[i].n);
		for (int j = 0; j < pairs[i].n; j++)
			fprintf(f, "%s\n", pairs[i].names + (Size) j * (KV_NS_NAME_MAX + 1));
	}
	ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
	ok = (fclose(f) == 0) && ok;
	if (!ok)
	{
		ereport(elevel, (errcode_for_file_access(), errmsg("could not write \"%s\": %m", tmp)));
		return false;
	}
	return durable_rename(tmp, path, elevel) == 0;
}

/* The pair of the snapshot made at `created`.  Two saves in one millisecond
 * look alike: the lower L then, since replaying more is harmless. */
static const WalPair *
find_pair(const WalPair *pairs, int np, int64 created)
{
	const WalPair *best = NULL;

	for (int i = 0; i < np; i++)
		if (created >= 0 && pairs[i].created_ms == created && (best == NULL || pairs[i].lsn < best->lsn))
			best = &pairs[i];
	return best;
}

/*
 * Save every namespace to shardkv.snapshot_file, paired with its L:
 *   1. kv_save_at to "<file>.new" (the engine writes a temp file, fsyncs,
 *      renames): the cut notes L and the 'wal' namespaces (wal_redo_record);
 *   2. the sidecar "<file>.wal" is replaced by {new pair, pair of the current
 *      file} (fsynced, durable_rename);
 *   3. "<file>.new" is renamed over "<file>" (durable_rename).
 * A crash anywhere leaves a file whose pair is in the sidecar (after 2 both are;
 * the loader finishes 3).  at_lsn: L for a save in recovery or at shutdown,
 * where no WAL is inserted (InvalidXLogRecPtr: the insert position at the cut).
 */
static bool
paired_save(int elevel, XLogRecPtr at_lsn, XLogRecPtr *saved)
{
	kv_error	err;
	char	   *dir;
	char	   *name = shardkv_snapshot_name(NULL, true, &dir);
	char	   *newname = psprintf("%s.new", name);
	char	   *path = psprintf("%s/%s", dir, name);
	char	   *newpath = psprintf("%s/%s", dir, newname);
	char	   *sidecar = psprintf("%s/%s.wal", dir, name);
	WalPair		pairs[2],
				old[2];
	const WalPair *cur;
	int			nold,
				np = 0,
				rc;
	XLogRecPtr	before;
	TimestampTz start = GetCurrentTimestamp();

	cut_cap = shardkv_max_namespaces;
	cut_names = palloc((Size) cut_cap * (KV_NS_NAME_MAX + 1));
	do
	{
		cut_n = 0;
		cut_seen = false;
		save_at_lsn = at_lsn;
		before = at_lsn != InvalidXLogRecPtr ? at_lsn :
			XLogInsertAllowed() ? GetXLogInsertRecPtr() : GetXLogReplayRecPtr(NULL);
		memset(&err, 0, sizeof(err));
		rc = kv_save_at(shardkv_env, NULL, dir, newname, &err);
	} while ((elevel >= ERROR || ShutdownRequestPending || at_lsn != InvalidXLogRecPtr) &&
			 rc == KV_EBUSY && !TimestampDifferenceExceeds(start, GetCurrentTimestamp(), 10000) &&
			 (pg_usleep(10000), true));
	save_at_lsn = InvalidXLogRecPtr;
	if (rc != KV_OK)
	{
		cut_names = NULL;
		if (elevel >= ERROR)
			shardkv_report(rc, NULL, &err);
		ereport(elevel,
				(errmsg("shardkv could not save snapshot \"%s/%s\": %s", dir, name,
						err.msg[0] ? err.msg : kv_strerror_text(rc))));
		return false;
	}
	pairs[0].created_ms = snapshot_created(newpath);
	pairs[0].lsn = cut_seen ? cut_lsn : before;
	pairs[0].n = cut_n;
	pairs[0].names = cut_names;
	cut_names = NULL;
	np = 1;
	nold = read_pairs(sidecar, old);
	cur = find_pair(old, nold, snapshot_created(path));
	if (cur)
		pairs[np++] = *cur;
	/* a store that never had a 'wal' namespace keeps no sidecar */
	if ((cut_n > 0 || access(sidecar, F_OK) == 0) && !write_pairs(sidecar, pairs, np, elevel))
		return false;
	if (durable_rename(newpath, path, elevel) != 0)
		return false;
	if (saved)
		*saved = pairs[0].lsn;
	raise_saved_lsn(pairs[0].lsn);
	pg_atomic_write_u64(&shardkv_shared->last_save, (uint64) kv_now_ms());
	pg_atomic_write_u64(&shardkv_shared->dirty, 0);
	return true;
}

/*
 * One paired save at a time: two savers sharing "<file>.new" could pair one's
 * file with the other's L.  The postmaster's save at shutdown runs alone (every
 * other process has exited) and has no PGPROC to take a lock with.
 */
bool
shardkv_wal_save(int elevel, XLogRecPtr at_lsn, XLogRecPtr *saved)
{
	LWLock	   *lock;
	volatile bool ok = false;

	if (!IsUnderPostmaster)
		return paired_save(elevel, at_lsn, saved);
	lock = &(GetNamedLWLockTranche("shardkv"))[1].lock;
	LWLockAcquire(lock, LW_EXCLUSIVE);
	PG_TRY();
	{
		ok = paired_save(elevel, at_lsn, saved);
	}
	PG_FINALLY();
	{
		LWLockRelease(lock);
	}
	PG_END_TRY();
	return ok;
}

/*
 * Load shardkv.snapshot_file and mark the namespaces that were 'wal' at its
 * cut; replay then starts at its L.  Run once, by whichever of the worker and
 * the startup process (rm_startup) comes first.
 */
static bool
load_paired(int elevel)
{
	char	   *dir;
	char	   *name = shardkv_snapshot_name(NULL, false, &dir);
	char	   *path = psprintf("%s/%s", dir, name);
	char	   *newpath = psprintf("%s.new", path);
	char	   *sidecar = psprintf("%s.wal", path);
	WalPair		pairs[2];
	int			np = read_pairs(sidecar, pairs);
	const WalPair *p;
	struct stat st;

	/* a save that stopped between steps 2 and 3: finish it, or drop its file */
	if (stat(newpath, &st) == 0)
	{
		if (find_pair(pairs, np, snapshot_created(newpath)) != NULL)
			(void) durable_rename(newpath, path, LOG);
		else
			(void) unlink(newpath);
	}
	pg_atomic_write_u64(&shardkv_shared->replay_from, 0);
	if (!shardkv_load_default(elevel))
		return false;
	p = find_pair(pairs, np, snapshot_created(path));
	if (p == NULL && np > 0)
	{
		/*
		 * The file is not the one the sidecar pairs (replaced by hand, say):
		 * take the newest pair's namespaces and replay every record from the
		 * checkpoint on, which is harmless for records that are states (all
		 * but a collection's RENAME and a list's changes, which apply only
		 * onto the length they were made on: README, "Recovery restores ...").
		 */
		ereport(WARNING,
				(errmsg("shardkv snapshot \"%s\" has no WAL position in \"%s\"", path, sidecar),
				 errdetail("Its namespaces with durability 'wal' are replayed from the last checkpoint.")));
		pairs[0].lsn = InvalidXLogRecPtr;
		p = &pairs[0];
	}
	if (p == NULL)
		return true;
	for (int i = 0; i < p->n; i++)
	{
		kv_ns	   *ns;
		kv_ns_stats stats;

		if (kv_ns_open(shardkv_env, p->names + (Size) i * (KV_NS_NAME_MAX + 1), &ns) != KV_OK)
			continue;
		if (kv_ns_stats_get(ns, &stats) == KV_OK)
		{
			stats.config.flags |= KV_NS_REDO;
			(void) kv_ns_configure(ns, &stats.config);
		}
		kv_ns_close(ns);
	}
	pg_atomic_write_u64(&shardkv_shared->replay_from, p->lsn);
	pg_atomic_write_u64(&shardkv_shared->saved_lsn, p->lsn);
	ereport(LOG,
			(errmsg("shardkv snapshot holds WAL-logged namespaces up to %X/%X", LSN_FORMAT_ARGS(p->lsn))));
	return true;
}

/* A save by a process that must not ERROR (the startup process, the
 * postmaster, the guard's loop), in a memory context of its own. */
static bool
save_guarded(XLogRecPtr at_lsn, XLogRecPtr *saved)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "shardkv save",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	volatile bool ok = false;

	PG_TRY();
	{
		ok = shardkv_wal_save(LOG, at_lsn, saved);
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		EmitErrorReport();
		FlushErrorState();
		cut_names = NULL;
		save_at_lsn = InvalidXLogRecPtr;
	}
	PG_END_TRY();
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
	return ok;
}

/* The start-up load, exactly once per shared-memory lifetime. */
void
shardkv_wal_ensure_loaded(int elevel)
{
	uint32		expected = 0;

	if (pg_atomic_compare_exchange_u32(&shardkv_shared->load_state, &expected, 1))
	{
		if (shardkv_load_on_start)
		{
			MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "shardkv load",
													  ALLOCSET_DEFAULT_SIZES);
			MemoryContext old = MemoryContextSwitchTo(cxt);

			PG_TRY();
			{
				(void) load_paired(elevel);
			}
			PG_CATCH();
			{
				MemoryContextSwitchTo(cxt);
				EmitErrorReport();
				FlushErrorState();
			}
			PG_END_TRY();
			MemoryContextSwitchTo(old);
			MemoryContextDelete(cxt);
		}
		pg_atomic_write_u32(&shardkv_shared->load_state, 2);
		return;
	}
	while (pg_atomic_read_u32(&shardkv_shared->load_state) != 2)
		pg_usleep(10000);
}

static bool
store_has_wal(void)
{
	kv_ns_stats *list = NULL;
	size_t		n = 0;
	bool		any = false;

	if (kv_ns_list_all(shardkv_env, &list, &n) != KV_OK)
		return true;
	for (size_t i = 0; i < n && !any; i++)
		any = (list[i].config.flags & KV_NS_REDO) != 0;
	if (list)
		kv_ns_list_free(shardkv_env, list);
	return any;
}

/* Postmaster, at a clean shutdown of a primary, after every other process has
 * exited: save once more with L = the shutdown checkpoint, so that a start
 * without recovery finds everything in the snapshot.  'wal' namespaces need
 * it whatever shardkv.save_on_shutdown says: no WAL is replayed at that start. */
void
shardkv_wal_save_at_shutdown(void)
{
	bool		crc_ok;
	ControlFileData *cf = get_controlfile(DataDir, &crc_ok);

	if (!crc_ok || cf->state != DB_SHUTDOWNED || (!shardkv_save_on_shutdown && !store_has_wal()))
		return;
	if (save_guarded(cf->checkPoint, NULL))
		ereport(LOG, (errmsg("shardkv saved the store after the shutdown checkpoint")));
}

/* ------------------------------------------------------------ replay */

static void
redo_failed(const char *what, const char *ns, int rc, XLogReaderState *r)
{
	/* LOG, never ERROR: a record that cannot apply must not stop recovery */
	if (redo_failures++ < 100)
		ereport(LOG,
				(errmsg("shardkv could not replay %s record of namespace \"%s\" at %X/%X: %s",
						what, ns, LSN_FORMAT_ARGS(r->ReadRecPtr), kv_strerror_text(rc))));
}

static kv_ns *
redo_ns(const char *name)
{
	kv_ns	   *ns = NULL;

	if (redo_cache == NULL && kv_nscache_open(shardkv_env, &redo_cache) != KV_OK)
		return NULL;
	if (kv_nscache_get(redo_cache, name, strlen(name), &ns) != KV_OK)
		return NULL;
	return ns;
}

static void
shardkv_rm_redo(XLogReaderState *r)
{
	uint8		info = XLogRecGetInfo(r) & ~XLR_INFO_MASK;
	char	   *p = XLogRecGetData(r);
	Size		len = XLogRecGetDataLen(r);
	char		name[KV_NS_NAME_MAX + 1];
	uint8		nlen;
	kv_ns	   *ns;
	kv_ns_config cfg;
	int			rc;

	if (shardkv_env == NULL || len < 1 || (nlen = (uint8) p[0]) > KV_NS_NAME_MAX || len < 1 + (Size) nlen)
		return;
	memcpy(name, p + 1, nlen);
	name[nlen] = '\0';
	p += 1 + nlen;
	len -= 1 + nlen;

	if (info == XLOG_SHARDKV_CUT)
	{
		/* a standby (or archive recovery) saves where the primary did, so
		 * that its restartpoints never pass its own snapshot */
		if (ArchiveRecoveryRequested)
			(void) save_guarded(r->ReadRecPtr, NULL);
		return;
	}
	if (r->ReadRecPtr < pg_atomic_read_u64(&shardkv_shared->replay_from))
		return;					/* the snapshot has it */
	switch (info)
	{
		case XLOG_SHARDKV_KEY:
			if ((ns = redo_ns(name)) == NULL)
				return;
			rc = kv_redo_apply(ns, p, len);
			if (rc != KV_OK && rc != KV_UNCHANGED && rc != KV_ENONS)
				redo_failed("a key", name, rc, r);
			break;
		case XLOG_SHARDKV_CREATE:
			if (len != sizeof(cfg))
				return;
			memcpy(&cfg, p, sizeof(cfg));
			cfg.flags = KV_NS_REDO;
			rc = kv_ns_create(shardkv_env, name, &cfg);
			if (rc != KV_OK && rc != KV_ENSEXISTS)
				redo_failed("a create", name, rc, r);
			break;
		case XLOG_SHARDKV_DROP:
			for (int i = 0; i < 500 && (rc = kv_ns_drop(shardkv_env, name)) == KV_EBUSY; i++)
				pg_usleep(10000);
			break;
		case XLOG_SHARDKV_CONFIG:
			{
				kv_ns_stats st;

				if (len != sizeof(cfg) || (ns = redo_ns(name)) == NULL ||
					kv_ns_stats_get(ns, &st) != KV_OK)
					return;
				memcpy(&cfg, p, sizeof(cfg));
				/* switched to 'wal' here: this store has no base for it (the
				 * primary saved one after this record), so it stays unreplayed */
				if (!(st.config.flags & KV_NS_REDO))
					cfg.flags = 0;
				cfg.shards = st.config.shards;
				rc = kv_ns_configure(ns, &cfg);
				if (rc != KV_OK)
					redo_failed("a configure", name, rc, r);
				break;
			}
		default:
			break;
	}
}

static const char *
shardkv_rm_identify(uint8 info)
{
	switch (info & ~XLR_INFO_MASK)
	{
		case XLOG_SHARDKV_KEY:
			return "KEY";
		case XLOG_SHARDKV_CREATE:
			return "CREATE_NAMESPACE";
		case XLOG_SHARDKV_DROP:
			return "DROP_NAMESPACE";
		case XLOG_SHARDKV_CONFIG:
			return "ALTER_NAMESPACE";
		case XLOG_SHARDKV_CUT:
			return "SNAPSHOT";
	}
	return NULL;
}

static void
desc_bytes(StringInfo buf, const char *p, size_t n)
{
	size_t		show = Min(n, 32);

	appendStringInfoChar(buf, '"');
	for (size_t i = 0; i < show; i++)
	{
		unsigned char c = (unsigned char) p[i];

		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
			appendStringInfoChar(buf, (char) c);
		else
			appendStringInfo(buf, "\\x%02x", c);
	}
	appendStringInfoString(buf, n > show ? "\"..." : "\"");
}

static void
shardkv_rm_desc(StringInfo buf, XLogReaderState *r)
{
	uint8		info = XLogRecGetInfo(r) & ~XLR_INFO_MASK;
	char	   *p = XLogRecGetData(r);
	Size		len = XLogRecGetDataLen(r);
	uint8		nlen;
	kv_redo_hdr h;
	static const char *const kinds[] = {"?", "put", "patch", "del", "expire", "flush", "cut",
	"element", "element del", "rename", "list insert", "list set", "list del", "list trim"};

	if (len < 1 || len < 1 + (Size) (nlen = (uint8) p[0]))
		return;
	appendStringInfo(buf, "ns %.*s", nlen, p + 1);
	p += 1 + nlen;
	len -= 1 + nlen;
	if (info != XLOG_SHARDKV_KEY || len < sizeof(h))
		return;
	memcpy(&h, p, sizeof(h));
	if (sizeof(h) + h.klen + (Size) h.vlen != len)
		return;
	appendStringInfo(buf, "; %s", h.kind < lengthof(kinds) ? kinds[h.kind] : "?");
	if (h.kind == KV_REDO_FLUSH)
		return;
	appendStringInfoString(buf, " key ");
	desc_bytes(buf, p + sizeof(h), h.klen);
	if (h.kind == KV_REDO_PUT)
	{
		appendStringInfo(buf, " type %s value ", kv_type_name(h.type));
		desc_bytes(buf, p + sizeof(h) + h.klen, h.vlen);
	}
	else if (h.kind == KV_REDO_PATCH)
		appendStringInfo(buf, " off %u bytes %u length %u", h.off, h.vlen, h.total);
	else if (h.kind == KV_REDO_RENAME)
	{
		appendStringInfoString(buf, " to ");
		desc_bytes(buf, p + sizeof(h) + h.klen, h.vlen);
	}
	else if (h.kind == KV_REDO_LINS || h.kind == KV_REDO_LSET)
	{
		appendStringInfo(buf, " at %u length %u value ", h.off, h.total);
		desc_bytes(buf, p + sizeof(h) + h.klen, h.vlen);
	}
	else if ((h.kind == KV_REDO_LDEL || h.kind == KV_REDO_LTRIM) && h.vlen == sizeof(uint32))
	{
		uint32		n;

		memcpy(&n, p + sizeof(h) + h.klen, sizeof(n));
		if (h.kind == KV_REDO_LDEL)
			appendStringInfo(buf, " at %u count %u length %u", h.off, n, h.total);
		else
			appendStringInfo(buf, " head %u tail %u length %u", h.off, n, h.total);
	}
	else if (h.kind == KV_REDO_ELEM || h.kind == KV_REDO_ELDEL)
	{
		const char *d = p + sizeof(h) + h.klen;
		Size		n = h.vlen;
		double		score = 0;
		bool		scored = h.kind == KV_REDO_ELEM && h.type == KV_T_ZSET && n >= sizeof(score);

		appendStringInfo(buf, " %s ", kv_kind_name(h.type) ? kv_kind_name(h.type) : "?");
		if (scored)
		{
			memcpy(&score, d, sizeof(score));
			d += sizeof(score);
			n -= sizeof(score);
		}
		else if (h.kind == KV_REDO_ELEM && h.type == KV_T_HASH && h.off <= n)
			n = h.off;
		appendStringInfoString(buf, h.type == KV_T_HASH ? "field " : "member ");
		desc_bytes(buf, d, n);
		if (h.kind == KV_REDO_ELEM && h.type == KV_T_HASH && h.off <= h.vlen)
		{
			appendStringInfoString(buf, " value ");
			desc_bytes(buf, d + h.off, h.vlen - h.off);
		}
		else if (scored)
			appendStringInfo(buf, " score %.17g", score);
	}
	if (h.kind != KV_REDO_DEL && h.expires_at)
		appendStringInfo(buf, " expires_at " INT64_FORMAT, (int64) h.expires_at);
}

/* Recovery begins: the store must be loaded before the first record. */
static void
shardkv_rm_startup(void)
{
	if (shardkv_env != NULL && shardkv_shared != NULL)
		shardkv_wal_ensure_loaded(LOG);
}

/* Recovery ends (crash recovery done, or promotion): save before the
 * end-of-recovery checkpoint moves REDO past the loaded snapshot. */
static void
shardkv_rm_cleanup(void)
{
	if (shardkv_env != NULL && shardkv_shared != NULL)
		(void) save_guarded(GetXLogReplayRecPtr(NULL), NULL);
}

static RmgrData shardkv_rmgr = {
	.rm_name = "shardkv",
	.rm_redo = shardkv_rm_redo,
	.rm_desc = shardkv_rm_desc,
	.rm_identify = shardkv_rm_identify,
	.rm_startup = shardkv_rm_startup,
	.rm_cleanup = shardkv_rm_cleanup,
};

/* ------------------------------------------------------ checkpoint guard */

/*
 * Is there a 'wal' namespace?  If not, every record logged before redo (none,
 * or those of namespaces since dropped) needs no snapshot, and saved_lsn moves
 * to redo.  The admin lock orders this against a create, which logs its record
 * and creates the namespace under it: a create either shows here or logs after.
 */
static bool
any_wal_namespace(XLogRecPtr redo)
{
	kv_ns_stats *list = NULL;
	size_t		n = 0;
	bool		any = false;

	LWLockAcquire(shardkv_admin_lock(), LW_SHARED);
	if (kv_ns_list_all(shardkv_env, &list, &n) != KV_OK)
		any = true;				/* cannot tell: save */
	for (size_t i = 0; i < n && !any; i++)
		any = (list[i].config.flags & KV_NS_REDO) != 0;
	if (!any)
		raise_saved_lsn(redo);
	LWLockRelease(shardkv_admin_lock());
	if (list)
		kv_ns_list_free(shardkv_env, list);
	return any;
}

/*
 * After a kill -9 of the postmaster its children run on until they notice,
 * and a backend that is never idle keeps serving its client, CHECKPOINT
 * requests included.  So the guards keep guarding while the checkpointer
 * lives (an auxiliary process's PGPROC gets pid 0 when it exits).
 */
static bool
checkpointer_alive(void)
{
	Latch	   *l = ProcGlobal->checkpointerLatch;

	return l != NULL && ((PGPROC *) ((char *) l - offsetof(PGPROC, procLatch)))->pid != 0;
}

static void
guard_hold(int me)
{
	StartTransactionCommand();	/* a fresh vxid: checkpoints wait for this one */
	MyProc->delayChkptFlags |= DELAY_CHKPT_START;
	pg_atomic_write_u32(&shardkv_shared->guard_holding[me], 1);
}

static void
guard_release(int me)
{
	pg_atomic_write_u32(&shardkv_shared->guard_holding[me], 0);
	MyProc->delayChkptFlags &= ~DELAY_CHKPT_START;
	CommitTransactionCommand();
}

static void
guard_exit(int code, Datum arg)
{
	(void) code;
	pg_atomic_write_u32(&shardkv_shared->armed, 0);
	pg_atomic_write_u32(&shardkv_shared->guard_holding[DatumGetInt32(arg)], 0);
	MyProc->delayChkptFlags = 0;
}

/*
 * Two guards keep DELAY_CHKPT_START set, so that a checkpoint that has chosen
 * its REDO point R waits for them (CreateCheckPoint waits for the vxids that
 * had the flag when R was chosen).  Guard 0 saves whenever R passes the last
 * save's L; then a guard may "cycle" (commit, start a new transaction: a new
 * vxid with the flag set again), which releases a waiting checkpoint.  A guard
 * cycles only while the other one holds, so there is no instant at which a
 * checkpoint could choose R with no guard holding.
 */
void
shardkv_guard_main(Datum arg)
{
	int			me = DatumGetInt32(arg);
	XLogRecPtr	cycled = InvalidXLogRecPtr;
	TimestampTz alone_since = 0;

	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	if (shardkv_env == NULL || shardkv_shared == NULL)
		proc_exit(0);
	before_shmem_exit(guard_exit, Int32GetDatum(me));
	shardkv_wal_ensure_loaded(LOG);
	guard_hold(me);

	while (!ShutdownRequestPending && (PostmasterIsAlive() || checkpointer_alive()))
	{
		XLogRecPtr	redo = GetRedoRecPtr();
		XLogRecPtr	saved = pg_atomic_read_u64(&shardkv_shared->saved_lsn);

		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		if (me == 0 && (redo > saved || pg_atomic_read_u32(&shardkv_shared->armed) == 0) &&
			!any_wal_namespace(redo))
		{
			/* nothing is WAL-logged before R: no save needed (creates wait) */
			saved = redo;
			(void) pg_atomic_exchange_u32(&shardkv_shared->armed, 1);
		}
		else if (me == 0 && (redo > saved || pg_atomic_read_u32(&shardkv_shared->armed) == 0))
		{
			XLogRecPtr	l;

			if (save_guarded(InvalidXLogRecPtr, &l))
			{
				saved = l;
				(void) log_ns_record(XLOG_SHARDKV_CUT, "", NULL);
				shardkv_wal_sync();
				if (pg_atomic_exchange_u32(&shardkv_shared->armed, 1) == 0)
					ereport(LOG, (errmsg("shardkv checkpoint guard saved the store at %X/%X; WAL-logged namespaces are writable",
										 LSN_FORMAT_ARGS(l))));
			}
		}
		if (redo <= saved && redo != cycled)
		{
			uint32		zero = 0;
			bool		other = pg_atomic_read_u32(&shardkv_shared->guard_holding[1 - me]) != 0;

			/* the other guard missing for a second: cycle alone, with a gap */
			if (!other && alone_since == 0)
				alone_since = GetCurrentTimestamp();
			if (other)
				alone_since = 0;
			if ((other || TimestampDifferenceExceeds(alone_since, GetCurrentTimestamp(), 1000)) &&
				pg_atomic_compare_exchange_u32(&shardkv_shared->guard_cycling, &zero, (uint32) me + 1))
			{
				guard_release(me);
				guard_hold(me);
				pg_atomic_write_u32(&shardkv_shared->guard_cycling, 0);
				cycled = redo;
			}
		}
		if (WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_POSTMASTER_DEATH, 10,
					  PG_WAIT_EXTENSION) & WL_POSTMASTER_DEATH)
			pg_usleep(10000);	/* orphaned: WaitLatch returns at once from now on */
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	guard_release(me);
	proc_exit(0);
}

static void
register_guard(int me)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 1;
	worker.bgw_main_arg = Int32GetDatum(me);
	strcpy(worker.bgw_library_name, "shardkv");
	strcpy(worker.bgw_function_name, "shardkv_guard_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "shardkv checkpoint guard %d", me);
	strcpy(worker.bgw_type, "shardkv checkpoint guard");
	RegisterBackgroundWorker(&worker);
}

/* ------------------------------------------------------------- set-up */

static const struct config_enum_entry durability_options[] = {
	{"snapshot", SHARDKV_DURABILITY_SNAPSHOT, false},
	{"wal", SHARDKV_DURABILITY_WAL, false},
	{NULL, 0, false}
};

/* _PG_init, in the postmaster */
void
shardkv_wal_init(void)
{
	DefineCustomEnumVariable("shardkv.default_durability",
							 "Durability of namespaces created without one: snapshot or wal.",
							 "wal: every write is WAL-logged and survives any crash; snapshot: the store "
							 "reverts to its last snapshot after a crash.",
							 &shardkv_default_durability, SHARDKV_DURABILITY_SNAPSHOT,
							 durability_options, PGC_USERSET, 0, NULL, NULL, NULL);
	RegisterCustomRmgr(RM_SHARDKV_ID, &shardkv_rmgr);
	RegisterXactCallback(wal_xact_callback, NULL);
	register_guard(0);
	register_guard(1);
}

/* The postmaster installs the redo function on the env every process inherits. */
void
shardkv_wal_install(kv_env *env)
{
	kv_env_set_redo(env, wal_redo_record, NULL);
}
