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

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <fcntl.h>
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
 * A save cut short by a crash leaves "<dbfilename>.tmp-<pid>-<random>" behind
 * (the engine's temp name).  Remove those of processes that no longer run, so
 * kill -9 during BGSAVE, again and again, does not fill the disk.
 */
static void removeStaleTemps(const char *dir, const char *name)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return;
	char prefix[300];
	int plen = snprintf(prefix, sizeof(prefix), "%s.tmp-", name);
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (plen <= 0 || (size_t)plen >= sizeof(prefix) || strncmp(de->d_name, prefix, (size_t)plen) != 0)
			continue;
		char *end;
		long pid = strtol(de->d_name + plen, &end, 10);
		if (end == de->d_name + plen || *end != '-' || pid <= 0 || pid == (long)getpid())
			continue;
		if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue; /* its writer may still be running */
		if (unlinkat(dirfd(d), de->d_name, 0) == 0)
			serverLog(LL_NOTICE, "removed %s/%s, left by a save that did not finish", dir, de->d_name);
	}
	closedir(d);
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
	removeStaleTemps(dir, name);
	kv_error err;
	memset(&err, 0, sizeof(err));
	int64_t t0 = mstime();
	int rc = kv_load_at(srv.env, dir, name, NULL, NULL, &err);
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

int persistSave(char *errbuf, size_t errlen)
{
	char dir[sizeof(srv.cfg.dir)], name[sizeof(srv.cfg.dbfilename)], path[1400];
	kv_error err;
	memset(&err, 0, sizeof(err));
	snapshotLocation(dir, sizeof(dir), name, sizeof(name));
	persistSnapshotPath(path, sizeof(path));
	pthread_mutex_lock(&srv.save_lock);
	makeDirs(dir);
	int64_t t0 = mstime();
	int rc = kv_save_at(srv.env, NULL, dir, name, &err);
	pthread_mutex_unlock(&srv.save_lock);
	if (rc != KV_OK) {
		atomic_store(&srv.last_save_ok, 0);
		snprintf(errbuf, errlen, "snapshot save to %s failed: %s%s%s", path, kv_strerror(rc),
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
	persistSave(err, sizeof(err));
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
