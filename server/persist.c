/*
 * persist.c -- snapshots: load at start, SAVE, BGSAVE (a thread, no fork),
 * autosave from the engine's rules, and the periodic kv_tick.
 *
 * Durability contract: a crash loses what was written after the last snapshot.
 * The engine writes each snapshot to a temp file, fsyncs and renames it, so a
 * crash during a save leaves the previous snapshot intact, and a failed save
 * (a full disk) leaves it as it was.  The file is dbfilename confined to dir
 * (kv_save_at/kv_load_at: no symlink followed, no FIFO opened).  Saves never block
 * the request path: the engine takes a consistent cut while writers run.
 */
#include "server.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void persistSnapshotPath(char *out, size_t outlen)
{
	pthread_mutex_lock(&srv.cfg_lock);
	snprintf(out, outlen, "%s/%s", srv.cfg.dir, srv.cfg.dbfilename);
	pthread_mutex_unlock(&srv.cfg_lock);
}

/* dir and dbfilename as they are now (CONFIG SET may change them). */
static void snapshotLocation(char *dir, size_t dirlen, char *name, size_t namelen)
{
	pthread_mutex_lock(&srv.cfg_lock);
	snprintf(dir, dirlen, "%s", srv.cfg.dir);
	snprintf(name, namelen, "%s", srv.cfg.dbfilename);
	pthread_mutex_unlock(&srv.cfg_lock);
}

/* mkdir -p */
static int makeDirs(const char *dir)
{
	char tmp[1100];
	snprintf(tmp, sizeof(tmp), "%s", dir);
	for (char *p = tmp + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
				return -1;
			*p = '/';
		}
	}
	if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
		return -1;
	return 0;
}

/*
 * The snapshot is dbfilename inside dir, opened by the engine with
 * kv_load_at/kv_save_at: never through a symlink, never a FIFO or device, and
 * never outside dir.
 */
int persistLoadAtStart(void)
{
	char dir[sizeof(srv.cfg.dir)], name[sizeof(srv.cfg.dbfilename)], path[1400];
	snapshotLocation(dir, sizeof(dir), name, sizeof(name));
	persistSnapshotPath(path, sizeof(path));
	if (makeDirs(dir) != 0) {
		serverLog(LL_WARNING, "cannot create snapshot directory '%s': %s", dir, strerror(errno));
		return C_ERR;
	}
	kv_error err;
	memset(&err, 0, sizeof(err));
	/* refuse a name the engine would refuse at the first save, now rather than later */
	int rc = kv_path_check(dir, name, &err);
	if (rc != KV_OK && !(rc == KV_EIO && err.sys_errno == ENOENT)) {
		serverLog(LL_WARNING, "refusing to start: snapshot %s is unusable: %s%s%s", path,
		          kv_strerror_text(rc), err.msg[0] ? ": " : "", err.msg);
		return C_ERR;
	}
	/* temp files of saves killed before their rename (kill -9 during BGSAVE, again and again) */
	rc = kv_snapshot_cleanup(dir, name);
	if (rc != KV_OK)
		serverLog(LL_WARNING, "cannot remove the temp files of unfinished saves in %s: %s", dir,
		          kv_strerror_text(rc));
	int64_t t0 = mstime();
	/* built on every CPU, or on threads when given (the workers start after) */
	rc = kv_load_threads(srv.env, dir, name, NULL, NULL, (unsigned)srv.load_threads, &err);
	if (rc == KV_EIO && err.sys_errno == ENOENT) {
		serverLog(LL_NOTICE, "no snapshot at %s: starting empty", path);
		return C_OK;
	}
	if (rc != KV_OK) {
		serverLog(LL_WARNING,
		          "refusing to start: snapshot %s cannot be loaded: %s%s%s. The file was left as it is; "
		          "move it away to start empty.",
		          path, kv_strerror(rc), err.msg[0] ? ": " : "", err.msg);
		return C_ERR;
	}
	serverLog(LL_NOTICE, "snapshot %s loaded in %lld ms", path, (long long)(mstime() - t0));
	return C_OK;
}

/* threads: kv_save_threads's; SAVE and the save at shutdown pass the load's
 * thread count (every CPU unless threads is set), BGSAVE 1, so that the
 * workers keep their CPUs while it runs. */
int persistSave(char *errbuf, size_t errlen, unsigned threads)
{
	char dir[sizeof(srv.cfg.dir)], name[sizeof(srv.cfg.dbfilename)], path[1400];
	kv_error err;
	memset(&err, 0, sizeof(err));
	snapshotLocation(dir, sizeof(dir), name, sizeof(name));
	persistSnapshotPath(path, sizeof(path));
	pthread_mutex_lock(&srv.save_lock);
	makeDirs(dir);
	int64_t t0 = mstime();
	int rc = kv_save_threads(srv.env, NULL, dir, name, threads, &err);
	pthread_mutex_unlock(&srv.save_lock);
	if (rc != KV_OK) {
		atomic_store(&srv.last_save_ok, 0);
		snprintf(errbuf, errlen, "snapshot save to %s failed: %s%s%s", path, kv_strerror_text(rc),
		         err.msg[0] ? ": " : "", err.msg);
		serverLog(LL_WARNING, "%s", errbuf);
		return C_ERR;
	}
	atomic_store(&srv.last_save_ok, 1);
	atomic_store(&srv.lastsave_ms, mstime());
	atomic_store(&srv.last_bgsave_time_sec, (mstime() - t0) / 1000);
	serverLog(LL_NOTICE, "DB saved on disk (%s, %lld ms)", path, (long long)(mstime() - t0));
	return C_OK;
}

static void *bgsaveMain(void *arg)
{
	(void)arg;
	char err[1024];
	persistSave(err, sizeof(err), 1);
	atomic_store(&srv.bgsave_running, 0);
	return NULL;
}

int persistBgsave(void)
{
	int expected = 0;
	if (!atomic_compare_exchange_strong(&srv.bgsave_running, &expected, 1))
		return C_ERR;
	pthread_t t;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	int rc = pthread_create(&t, &attr, bgsaveMain, NULL);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		atomic_store(&srv.bgsave_running, 0);
		return C_ERR;
	}
	serverLog(LL_NOTICE, "Background saving started");
	return C_OK;
}

void persistWaitBgsave(void)
{
	while (atomic_load(&srv.bgsave_running)) {
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

void persistTick(void)
{
	kv_tick_info info;
	/* reclaim in bounded rounds: more while the sweep keeps finding expired keys */
	for (int round = 0; round < 10; round++) {
		memset(&info, 0, sizeof(info));
		if (kv_tick(srv.env, 200, &info) != KV_OK)
			return;
		if (info.reclaimed < 200)
			break;
	}
	atomic_store(&srv.dirty_at_last_tick, info.dirty);
	if (info.save_due && !atomic_load(&srv.bgsave_running)) {
		serverLog(LL_NOTICE, "%llu changes since the last save: saving", (unsigned long long)info.dirty);
		persistBgsave();
	}
}
