/*
 * snapio.c -- the file side of snapshots: where a snapshot file is, how it is
 * created, read and put in place, and the SHARDKV_FAULT_IO test seam.  Every
 * host's save and load goes through here, so the defences live once:
 *
 *   - kv_save_at/kv_load_at resolve `name` under `dir` one component at a time
 *     with openat(O_NOFOLLOW | O_DIRECTORY): no symlink, no "..", no absolute
 *     name, no empty component can lead outside `dir`.  Plain kv_save/kv_load
 *     trust the directories of their path (the caller chose it) but never follow
 *     a link at the file itself.
 *   - A temp file is created O_CREAT | O_EXCL | O_NOFOLLOW next to the target,
 *     named "<file>.tmp-<pid>-<random>", so a link or file planted at a
 *     predictable name cannot redirect the write; EEXIST retries another name.
 *   - It is put in place with renameat() in the same directory (which replaces a
 *     link at the target rather than writing through it) and that directory is
 *     fsynced.
 *   - A snapshot is read only when lstat says it is a regular file, and opened
 *     O_NONBLOCK | O_NOFOLLOW and checked again with fstat, so a FIFO, device,
 *     directory or link swapped in meanwhile is refused and never blocks.
 *   - Saves into one directory take an flock on it, so that a save that merges
 *     the namespaces already in a file never races another save of that file.
 */
#include "kv_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <dirent.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int kv_snap_err(kv_error *err, int code, int sys, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		err->code = code;
		err->sys_errno = sys;
		err->item = (size_t)-1;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof err->msg, fmt, ap);
		va_end(ap);
	}
	return code;
}

/* ------------------------------------------------------------ fault seam */
static const char *const fio_names[KV_FIO_N] = {"open", "read", "write", "fsync", "rename", "dirsync", "readat"};

static const struct {
	const char *name;
	int         e;
} fio_errnos[] = {
	{"EIO", EIO}, {"ENOSPC", ENOSPC}, {"EDQUOT", EDQUOT}, {"EROFS", EROFS}, {"EACCES", EACCES},
	{"EPERM", EPERM}, {"ENOENT", ENOENT}, {"EMFILE", EMFILE}, {"ENFILE", ENFILE},
	{"EFBIG", EFBIG}, {"EXDEV", EXDEV}, {"EBUSY", EBUSY}, {"ENOMEM", ENOMEM},
};

/* Parse "op=ERRNO[@N],..." into *f.  A spec that does not parse sets f->bad:
 * every snapshot I/O then fails, naming the variable, so a typo in a test can
 * never pass silently as "no fault". */
void kv_fault_io_init(kv_fault_io *f)
{
	memset(f, 0, sizeof *f);
	const char *s = getenv("SHARDKV_FAULT_IO");
	if (!s || !*s)
		return;
	while (*s) {
		size_t n = strcspn(s, ",");
		char item[64];
		if (n == 0 || n >= sizeof item) {
			f->bad = 1;
			return;
		}
		memcpy(item, s, n);
		item[n] = 0;
		s += n + (s[n] == ',');
		char *eq = strchr(item, '=');
		if (!eq) {
			f->bad = 1;
			return;
		}
		*eq = 0;
		char *at = strchr(eq + 1, '@');
		unsigned long nth = 0;
		if (at) {
			*at = 0;
			char *end;
			errno = 0;
			nth = strtoul(at + 1, &end, 10);
			if (*end || errno || nth == 0 || nth > UINT32_MAX || at[1] < '0' || at[1] > '9') {
				f->bad = 1;
				return;
			}
		}
		int op = -1, e = 0;
		for (int i = 0; i < KV_FIO_N; i++)
			if (strcmp(item, fio_names[i]) == 0)
				op = i;
		for (size_t i = 0; i < sizeof fio_errnos / sizeof fio_errnos[0]; i++)
			if (strcmp(eq + 1, fio_errnos[i].name) == 0)
				e = fio_errnos[i].e;
		if (op < 0 || e == 0) {
			f->bad = 1;
			return;
		}
		f->err[op] = e;
		f->nth[op] = (uint32_t)nth;
	}
}

/* The errno to inject for this call of op, or 0.  Calls are counted per save or
 * load (per kv_snap_target), so "@N" means the Nth such call of one save. */
static int fault(kv_snap_target *t, int op)
{
	const kv_fault_io *f = &t->env->fault;
	if (f->bad)
		return EINVAL;
	if (!f->err[op])
		return 0;
	uint32_t c = atomic_fetch_add_explicit(&t->calls[op], 1, memory_order_relaxed) + 1;
	return (!f->nth[op] || f->nth[op] == c) ? f->err[op] : 0;
}

static const char *fault_note(kv_snap_target *t, int e)
{
	if (t->env->fault.bad)
		return " (SHARDKV_FAULT_IO is set but does not parse; see kv.h)";
	return e == t->injected ? " (injected by SHARDKV_FAULT_IO)" : "";
}

/* ------------------------------------------------------------- resolving */
static void shorten(char *out, size_t cap, const char *dir, const char *name)
{
	char full[PATH_MAX * 2 + 2];
	snprintf(full, sizeof full, "%s%s%s", dir ? dir : "", dir ? "/" : "", name);
	size_t n = strlen(full);
	if (n < cap) {
		memcpy(out, full, n + 1);
		return;
	}
	size_t half = (cap - 4) / 2;
	snprintf(out, cap, "%.*s...%s", (int)half, full, full + n - (cap - 4 - half));
}

/* The spelling rules of a name under a directory, checked before anything is
 * opened, so a bad name is KV_EINVAL whatever exists on disk. */
static int check_components(kv_snap_target *t, const char *rel, kv_error *err)
{
	for (const char *p = rel;; p++) {
		size_t n = strcspn(p, "/");
		if (n == 0)
			return kv_snap_err(err, KV_EINVAL, 0, "snapshot file name \"%s\" has an empty component", t->shown);
		if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return kv_snap_err(err, KV_EINVAL, 0, "snapshot file name \"%s\" must not contain \".\" or \"..\"", t->shown);
		if (n > KV_FILE_NAME_MAX)
			return kv_snap_err(err, KV_EINVAL, 0, "snapshot file name has a component longer than %d bytes", KV_FILE_NAME_MAX);
		p += n;
		if (!*p)
			return KV_OK;
	}
}

/* Open each component of rel under *dfd, refusing links (check_components
 * has vetted the spelling); the last one is the file and is left in t->leaf. */
static int walk(kv_snap_target *t, const char *rel, kv_error *err)
{
	const char *p = rel;
	for (;;) {
		size_t n = strcspn(p, "/");
		if (!p[n]) {
			memcpy(t->leaf, p, n + 1);
			return KV_OK;
		}
		char comp[KV_FILE_NAME_MAX + 1];
		memcpy(comp, p, n);
		comp[n] = 0;
		int fd = openat(t->dfd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			int e = errno;
			struct stat st;
			if ((e == ELOOP || e == ENOTDIR) && fstatat(t->dfd, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			    S_ISLNK(st.st_mode))
				e = ELOOP;
			return kv_snap_err(err, KV_EIO, e, "could not open directory \"%.60s\" of \"%s\": %s", comp,
			                   t->shown, e == ELOOP ? "it is a symbolic link (never followed)" : strerror(e));
		}
		close(t->dfd);
		t->dfd = fd;
		p += n + 1;
	}
}

int kv_snap_resolve(kv_env *env, const char *dir, const char *name, kv_snap_target *t, kv_error *err)
{
	memset(t, 0, sizeof *t);
	t->env = env;
	t->dfd = t->fd = -1;
	if (dir && !*dir)
		return kv_snap_err(err, KV_EINVAL, 0, "snapshot directory is empty");
	if (!name || !*name)
		return kv_snap_err(err, KV_EINVAL, 0, dir ? "snapshot file name is empty" : "snapshot path is empty");
	size_t dl = dir ? strlen(dir) : 0, nl = strlen(name);
	if (dl >= PATH_MAX || nl >= PATH_MAX)
		return kv_snap_err(err, KV_EINVAL, 0, "snapshot %s is too long (%zu bytes, the limit is %d)",
		                   dl >= PATH_MAX ? "directory" : dir ? "file name" : "path", dl >= PATH_MAX ? dl : nl, PATH_MAX - 1);
	shorten(t->shown, sizeof t->shown, dir, name);
	if (dir) {
		if (name[0] == '/')
			return kv_snap_err(err, KV_EINVAL, 0, "snapshot file name \"%s\" is absolute; it must be relative to the snapshot directory", t->shown);
		int rc = check_components(t, name, err); /* the spelling first, then the file system */
		if (rc != KV_OK)
			return rc;
		if ((t->dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
			return kv_snap_err(err, KV_EIO, errno, "could not open snapshot directory \"%.100s\": %s", dir, strerror(errno));
		rc = walk(t, name, err);
		if (rc != KV_OK)
			kv_snap_close(t);
		return rc;
	}
	/* a plain path: its directory as given, then the file itself */
	const char *slash = strrchr(name, '/');
	const char *leaf = slash ? slash + 1 : name;
	size_t ll = strlen(leaf);
	if (ll == 0 || strcmp(leaf, ".") == 0 || strcmp(leaf, "..") == 0)
		return kv_snap_err(err, KV_EINVAL, 0, "snapshot path \"%s\" names a directory, not a file", t->shown);
	if (ll > KV_FILE_NAME_MAX)
		return kv_snap_err(err, KV_EINVAL, 0, "snapshot file name is longer than %d bytes", KV_FILE_NAME_MAX);
	char d[PATH_MAX];
	if (!slash)
		strcpy(d, ".");
	else if (slash == name)
		strcpy(d, "/");
	else
		snprintf(d, sizeof d, "%.*s", (int)(slash - name), name);
	if ((t->dfd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return kv_snap_err(err, KV_EIO, errno, "could not open the directory of \"%s\": %s", t->shown, strerror(errno));
	memcpy(t->leaf, leaf, ll + 1);
	return KV_OK;
}

void kv_snap_close(kv_snap_target *t)
{
	if (t->dfd >= 0) {
		if (t->locked)
			flock(t->dfd, LOCK_UN);
		close(t->dfd);
	}
	t->dfd = -1;
	t->locked = 0;
}

/* Serialise saves into one directory (see the merge in snapshot.c).  Waits at
 * most KV_SNAP_LOCK_WAIT_MS, holding no engine lock, then gives up with
 * KV_EBUSY: a host that will wait longer retries, where its user can interrupt
 * it (a PostgreSQL cancel cannot reach a wait inside the engine).  A file
 * system without flock (ENOLCK, EOPNOTSUPP ...) saves unserialised rather than
 * not at all. */
#define KV_SNAP_LOCK_WAIT_MS 200
int kv_snap_lock(kv_snap_target *t, kv_error *err)
{
	int64_t deadline = kv_now_ms() + KV_SNAP_LOCK_WAIT_MS;
	while (flock(t->dfd, LOCK_EX | LOCK_NB) != 0) {
		if (errno != EWOULDBLOCK && errno != EINTR)
			return KV_OK;
		if (kv_now_ms() > deadline)
			return kv_snap_err(err, KV_EBUSY, 0, "another save into the directory of \"%s\" is still running", t->shown);
		struct timespec ts = {0, 2000000};
		nanosleep(&ts, NULL);
	}
	t->locked = 1;
	return KV_OK;
}

/* ---------------------------------------------------------------- reading */
static int refuse(kv_snap_target *t, mode_t m, kv_error *err)
{
	const char *what = S_ISLNK(m) ? "a symbolic link (never followed)" : S_ISDIR(m) ? "a directory"
	                 : S_ISFIFO(m) ? "a FIFO" : S_ISSOCK(m) ? "a socket" : "a device";
	return kv_snap_err(err, KV_EIO, S_ISDIR(m) ? EISDIR : EINVAL, "snapshot \"%s\" is %s, not a regular file",
	                   t->shown, what);
}

/* Read exactly n bytes at the file position; 0, or -1 with rd->e (0: the
 * file ended early). */
static int kv_snap_read_next(kv_snap_reader *rd, void *buf, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t k = read(rd->fd, (char *)buf + got, n - got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			rd->e = k < 0 ? errno : 0;
			return -1;
		}
		got += (size_t)k;
	}
	return 0;
}

/* Read exactly n bytes at off, from any thread (a load's builders read the
 * blocks they build): KV_OK, or KV_EIO with err naming the offset.  The
 * "readat" fault fails the read that covers its byte (see kv.h). */
int kv_snap_read_at(const kv_snap_reader *rd, void *buf, size_t n, size_t off, kv_error *err)
{
	const kv_fault_io *f = &rd->t->env->fault;
	int e = f->err[KV_FIO_READAT];
	if (e && (!f->nth[KV_FIO_READAT] || (off <= f->nth[KV_FIO_READAT] && f->nth[KV_FIO_READAT] - off < n)))
		return kv_snap_err(err, KV_EIO, e, "could not read \"%s\" at byte %zu: %s (injected by SHARDKV_FAULT_IO)",
		                   rd->t->shown, off, strerror(e));
	char *p = buf;
	size_t at = off;
	while (n) {
		ssize_t k = pread(rd->fd, p, n, (off_t)at);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			e = k < 0 ? errno : 0;
			return kv_snap_err(err, KV_EIO, e ? e : EIO, "could not read \"%s\" at byte %zu: %s", rd->t->shown, at,
			                   e ? strerror(e) : "file shrank while reading");
		}
		p += k;
		n -= (size_t)k;
		at += (size_t)k;
	}
	return KV_OK;
}

/* Ask the kernel to start reading [off, off + n) now, so that the device
 * works while the caller processes what it has (a load reads block by block). */
void kv_snap_read_ahead(const kv_snap_reader *rd, size_t off, size_t n)
{
	if (off < rd->size)
		posix_fadvise(rd->fd, (off_t)off, (off_t)(n < rd->size - off ? n : rd->size - off), POSIX_FADV_WILLNEED);
}

/* The error of a failed kv_snap_read_next. */
static int kv_snap_read_failed(kv_snap_reader *rd, kv_error *err)
{
	int e = rd->e;
	return kv_snap_err(err, KV_EIO, e ? e : EIO, "could not read \"%s\": %s", rd->t->shown,
	                   e ? strerror(e) : "file shrank while reading");
}

int kv_snap_read_open(kv_snap_target *t, size_t limit, kv_snap_reader *rd, kv_error *err)
{
	struct stat st;
	int fd = -1, e;
	memset(rd, 0, sizeof *rd);
	rd->t = t;
	rd->fd = -1;
	if ((e = fault(t, KV_FIO_READ)) != 0) {
		t->injected = e;
		errno = e;
		goto fail;
	}
	/* refuse before opening: opening a device or FIFO can have effects; then
	 * check again what was opened, in case it was swapped meanwhile */
	if (fstatat(t->dfd, t->leaf, &st, AT_SYMLINK_NOFOLLOW) != 0)
		goto fail;
	if (!S_ISREG(st.st_mode))
		return refuse(t, st.st_mode, err);
	if ((fd = openat(t->dfd, t->leaf, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		if (errno == ELOOP)
			return refuse(t, S_IFLNK, err);
		goto fail;
	}
	if (fstat(fd, &st) != 0)
		goto fail;
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return refuse(t, st.st_mode, err);
	}
	if ((uint64_t)st.st_size > limit) {
		close(fd);
		return kv_snap_err(err, KV_ECORRUPT, 0, "snapshot \"%s\" (%lld bytes) is larger than the store could hold", t->shown, (long long)st.st_size);
	}
	rd->fd = fd;
	rd->size = (size_t)st.st_size;
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	return KV_OK;
fail:
	e = errno;
	if (fd >= 0)
		close(fd);
	return kv_snap_err(err, e == ENOENT ? KV_NOTFOUND : KV_EIO, e, "could not open \"%s\": %s%s", t->shown,
	                   strerror(e), fault_note(t, e));
}

void kv_snap_read_close(kv_snap_reader *rd)
{
	if (rd->fd >= 0)
		close(rd->fd);
	rd->fd = -1;
}

int kv_snap_read(kv_snap_target *t, size_t limit, char **data, size_t *size, kv_error *err)
{
	kv_snap_reader rd;
	int rc = kv_snap_read_open(t, limit, &rd, err);
	if (rc != KV_OK)
		return rc;
	char *buf = kv_mem_realloc(t->env, NULL, rd.size ? rd.size : 1);
	if (!buf)
		rc = kv_snap_err(err, KV_ENOMEM, 0, "out of memory reading \"%s\"", t->shown);
	else if (kv_snap_read_next(&rd, buf, rd.size) != 0)
		rc = kv_snap_read_failed(&rd, err);
	kv_snap_read_close(&rd);
	if (rc != KV_OK) {
		kv_mem_realloc(t->env, buf, 0);
		return rc;
	}
	*data = buf;
	*size = rd.size;
	return KV_OK;
}

/* ---------------------------------------------------------------- writing */
/* Open the file a one-namespace save replaces, to read the parts it keeps
 * (snapshot.c, keep_*): the checks of kv_snap_read_open (a regular file,
 * never a link, never blocking, at most limit bytes; the "read" fault), but
 * nothing is read here.  KV_NOTFOUND if there is no file. */
int kv_snap_open_keep(kv_snap_target *t, size_t limit, int *fd, size_t *size, kv_error *err)
{
	kv_snap_reader rd;
	int rc = kv_snap_read_open(t, limit, &rd, err);
	*fd = rc == KV_OK ? rd.fd : -1;
	*size = rc == KV_OK ? rd.size : 0;
	return rc;
}

/* Read exactly n bytes at off of a file kv_snap_open_keep opened. */
int kv_snap_pread(kv_snap_target *t, int fd, void *buf, size_t n, size_t off, kv_error *err)
{
	char *p = buf;
	while (n) {
		ssize_t k = pread(fd, p, n, (off_t)off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			int e = k < 0 ? errno : 0;
			return kv_snap_err(err, KV_EIO, e ? e : EIO, "could not read \"%s\": %s", t->shown,
			                   e ? strerror(e) : "file shrank while reading");
		}
		p += k;
		n -= (size_t)k;
		off += (size_t)k;
	}
	return KV_OK;
}

int kv_snap_create(kv_snap_target *t, kv_error *err)
{
	char suffix[48];
	for (int tries = 0;; tries++) {
		uint32_t rnd;
		if (getrandom(&rnd, sizeof rnd, GRND_NONBLOCK) != (ssize_t)sizeof rnd) {
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			rnd = (uint32_t)ts.tv_nsec ^ (uint32_t)tries * 2654435761u;
		}
		int sl = snprintf(suffix, sizeof suffix, ".tmp-%ld-%08x", (long)getpid(), rnd);
		size_t keep = strlen(t->leaf);
		if (keep + (size_t)sl > KV_FILE_NAME_MAX)
			keep = KV_FILE_NAME_MAX - (size_t)sl;
		snprintf(t->tmp, sizeof t->tmp, "%.*s%s", (int)keep, t->leaf, suffix);
		int e = fault(t, KV_FIO_OPEN);
		if (e) {
			t->injected = e;
			errno = e;
			t->fd = -1;
		} else {
			t->fd = openat(t->dfd, t->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		}
		if (t->fd >= 0)
			return KV_OK;
		e = errno;
		if (e == EEXIST && tries < 100)
			continue;
		t->tmp[0] = 0;
		return kv_snap_err(err, KV_EIO, e, "could not create a temporary file for \"%s\": %s%s", t->shown,
		                   strerror(e), fault_note(t, e));
	}
}

/* Dirty bytes of the temp file handed to writeback at a time: the disk writes
 * them while the saver serialises what comes next, so the fsync at the end
 * finds little left and a save runs at the slower of the CPU and the disk
 * instead of their sum.  With a save's threads writing at once, whichever
 * write brings the bytes written since the last start past the step starts
 * the whole file's dirty pages (the others' blocks as far as they are in). */
#define WRITEBACK_STEP ((uint64_t)8 << 20)

/* The most one write() is given.  Linux sizes the page cache folios of a
 * buffered write by the write (ext4 since 6.16): a 16 MiB block written at
 * once lands mostly in 2 MiB folios, each a free 2 MiB block of RAM.  A VM
 * that hands its free 2 MiB blocks back to the host (free page reporting,
 * as the one the benchmarks run on does) gives such a block back cold:
 * every page of it faults on the host when write() copies into it, and
 * saves ran at 0.3 GB/s instead of 0.9 with 5x the kernel time, about one
 * save in two.  Smaller folios come from the smaller free blocks first,
 * which are warm; but the smaller the writes, the more the kernel's per-write
 * and per-folio costs.  256 KiB pieces (folios of at most 128 KiB, the file
 * offsets being unaligned) were the fast mode every time and the cheapest:
 * 1 MiB pieces turned slow at times, 32 KiB ones took 0.02 s more kernel
 * time per 121 MB (bench/README.md, "The bimodal save"). */
#define WRITE_PIECE ((size_t)256 << 10)

int kv_snap_write_at(kv_snap_target *t, const void *p, size_t n, uint64_t off)
{
	int e = fault(t, KV_FIO_WRITE);
	if (e) {
		t->injected = e;
		return e;
	}
	const char *c = p;
	size_t left = n;
	while (left) {
		ssize_t k = pwrite(t->fd, c, left < WRITE_PIECE ? left : WRITE_PIECE, (off_t)off);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return errno;
		}
		c += k;
		off += (uint64_t)k;
		left -= (size_t)k;
	}
	uint64_t u = atomic_fetch_add_explicit(&t->unflushed, n, memory_order_relaxed) + n;
	if (u >= WRITEBACK_STEP && atomic_compare_exchange_strong(&t->unflushed, &u, 0))
		/* start the write-out, do not wait for it; its errors come back at the fsync */
		sync_file_range(t->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
	return 0;
}

int kv_snap_write_failed(kv_snap_target *t, int e, kv_error *err)
{
	return kv_snap_err(err, KV_EIO, e, "could not write \"%s\": %s%s", t->shown, strerror(e), fault_note(t, e));
}

/* fsync and close the temp file, rename it over the target, fsync the
 * directory.  On failure the temp file is removed and the target untouched
 * (a dirsync failure comes after the rename: the new file is in place but
 * may not survive a crash, and the save reports the error). */
int kv_snap_commit(kv_snap_target *t, kv_error *err)
{
	int rc = KV_OK, e;
	if ((e = fault(t, KV_FIO_FSYNC)) != 0 || fsync(t->fd) != 0) {
		if (e)
			t->injected = e;
		else
			e = errno;
		rc = kv_snap_err(err, KV_EIO, e, "could not fsync \"%s\": %s%s", t->shown, strerror(e), fault_note(t, e));
	}
	if (close(t->fd) != 0 && rc == KV_OK)
		rc = kv_snap_err(err, KV_EIO, errno, "could not close \"%s\": %s", t->shown, strerror(errno));
	t->fd = -1;
	if (rc == KV_OK && ((e = fault(t, KV_FIO_RENAME)) != 0 || renameat(t->dfd, t->tmp, t->dfd, t->leaf) != 0)) {
		if (e)
			t->injected = e;
		else
			e = errno;
		rc = kv_snap_err(err, KV_EIO, e, "could not rename the temporary file to \"%s\": %s%s", t->shown,
		                 strerror(e), fault_note(t, e));
	}
	if (rc != KV_OK) {
		kv_snap_abort(t);
		return rc;
	}
	t->tmp[0] = 0;
	if ((e = fault(t, KV_FIO_DIRSYNC)) != 0 || fsync(t->dfd) != 0) {
		if (e)
			t->injected = e;
		else
			e = errno;
		rc = kv_snap_err(err, KV_EIO, e, "could not fsync the directory of \"%s\": %s%s", t->shown,
		                 strerror(e), fault_note(t, e));
	}
	return rc;
}

/* Drop the temp file of a failed save. */
void kv_snap_abort(kv_snap_target *t)
{
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
	if (t->tmp[0])
		unlinkat(t->dfd, t->tmp, 0);
	t->tmp[0] = 0;
}

/* --------------------------------------------------------- housekeeping */
KV_API int kv_path_check(const char *dir, const char *name, kv_error *err)
{
	kv_snap_target t;
	int rc = kv_snap_resolve(NULL, dir, name, &t, err);
	if (rc != KV_OK)
		return rc;
	/* what is at the name now: nothing, or a regular file (a load refuses
	 * anything else, and a save cannot put a file in place of a directory) */
	struct stat st;
	if (fstatat(t.dfd, t.leaf, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISREG(st.st_mode))
		rc = refuse(&t, st.st_mode, err);
	kv_snap_close(&t);
	return rc;
}

/* Is ent a temp name kv_snap_create made for leaf: "<leaf>.tmp-<pid>-<8 hex>",
 * with leaf cut short when the whole would pass KV_FILE_NAME_MAX?  *pid gets
 * the saver's pid. */
static int temp_of(const char *ent, const char *leaf, long *pid)
{
	const char *p = strstr(ent, ".tmp-");
	for (; p; p = strstr(p + 1, ".tmp-")) {
		size_t keep = (size_t)(p - ent), ll = strlen(leaf);
		if (strncmp(ent, leaf, keep) != 0 || (keep != ll && (keep > ll || strlen(ent) != KV_FILE_NAME_MAX)))
			continue;
		const char *q = p + 5, *d = q;
		long v = 0;
		while (*q >= '0' && *q <= '9' && q - d < 10)
			v = v * 10 + (*q++ - '0');
		if (q == d || *q != '-' || strlen(q + 1) != 8 || strspn(q + 1, "0123456789abcdef") != 8)
			continue;
		*pid = v;
		return 1;
	}
	return 0;
}

KV_API int kv_snapshot_cleanup(const char *dir, const char *name)
{
	kv_snap_target t;
	kv_error err;
	int rc = kv_snap_resolve(NULL, dir, name, &t, &err);
	if (rc != KV_OK)
		return rc;
	/* holding the directory's save lock, no engine save is between creating
	 * and renaming a temp file here; without flock, only a dead saver's go */
	if ((rc = kv_snap_lock(&t, &err)) != KV_OK) {
		kv_snap_close(&t);
		return rc;
	}
	int fd = openat(t.dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		kv_snap_close(&t);
		return KV_EIO;
	}
	struct dirent *de;
	long pid;
	while ((de = readdir(d)) != NULL) {
		if (!temp_of(de->d_name, t.leaf, &pid))
			continue;
		if (!t.locked && !(kill((pid_t)pid, 0) != 0 && errno == ESRCH))
			continue;
		struct stat st;
		/* a regular file only: never a link, never a directory */
		if (fstatat(t.dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
			continue;
		if (unlinkat(t.dfd, de->d_name, 0) != 0 && errno != ENOENT)
			rc = KV_EIO;
	}
	closedir(d);
	kv_snap_close(&t);
	return rc;
}
