/*
 * aof.c -- the append-only file: logging, group commit, replay, rewrite.
 *
 * WHAT IS LOGGED.  The engine's change hook names every key a call changed
 * (also implied changes: evictions, expiries the sweep reclaims).  A command's
 * keys are collected while it runs; when it ends, they are re-read in one
 * all-or-nothing read batch per namespace (a consistent cut) and logged as one
 * record holding each key's final state: SET with value, type and ABSOLUTE
 * expiry, or DEL.  Replaying a record therefore sets exactly what the server
 * held, and replaying it twice changes nothing (idempotent).  A namespace flush
 * is its own record.
 *
 * ORDER.  Re-reading and appending happen under a striped lock of each key
 * (stripes taken in ascending order), so for every key the last record in the
 * log is read after the last change to it: the log's final state is the
 * server's.  A flush takes the stripes' rwlock exclusively.
 *
 * COLLECTIONS.  Re-reading a hash or set whole after each write would cost
 * its size per HSET, so a collection write logs its EFFECT instead: the
 * deterministic command that reproduces it (aof_effect.c: HSET of HINCRBYFLOAT's
 * result, SREM of what SPOP popped ...), replayed through the engine.  Effects
 * are not idempotent in general (RPUSH), so they must reach the log in the
 * engine's order for their key: a collection write (CMD_EFFECT in the command
 * table) takes its keys' stripes BEFORE its engine call (aofLockKeys; EXEC
 * takes those of all its queued collection writes at once, in order) and holds
 * them until its record is appended.  String commands keep the re-read above.
 * At commit the re-read of a key that turns out to be a collection logs:
 *   - nothing, if the command's only changes to it were element ops whose
 *     effects it logged (the usual HSET / SADD);
 *   - its absolute expiry (PEXPIREAT / PERSIST), if it changed its expiry or has
 *     one (a key an effect created got the namespace's default TTL, which a
 *     replay would count from the replay);
 *   - the collection whole otherwise (DEL, then its elements in chunks, then
 *     its expiry: aofEffectDump): for RENAME / COPY / MOVE of a collection, a
 *     STORE, a delete or a string write racing with a re-creation, an element
 *     op of a command that logs no effect, a change outside a command.  That
 *     costs the collection's size (read in chunks through the engine, no
 *     engine lock held between them, but the key's stripe held throughout:
 *     writers of keys in that stripe wait); nothing per write does.
 * A rewrite's base is cut after its new incr file takes appends, so records
 * the base already holds may replay again over it: harmless for assignments
 * (HSET, SADD, ZADD of a score, DEL ...), not for list pushes and pops, which
 * are logged as their whole key while a rewrite is cutting (aof.cutting).
 * Known gap: a command that evicts a key whose stripe is below one it holds
 * reads that key without its stripe (waiting could deadlock); a concurrent
 * non-idempotent write to the evicted key may then be logged twice.
 *
 * FILES (Redis 7 multi-part layout, in <dir>/<appenddirname>):
 *   appendonly.aof.manifest          "file <name> seq <n> type b|i" lines
 *   appendonly.aof.<n>.base.skv      an engine snapshot (kv_save_at)
 *   appendonly.aof.<n>.incr.aof      "SKVAOF1\n", then records:
 *       u32 payload length, u32 CRC-32C of the payload, payload
 *       payload: ops 'S' nslen ns klen(u32) key type(u8) expires(i64) vlen(u32) val
 *                    'D' nslen ns klen key     'F' nslen ns (flush)
 *                    'C' nslen ns config (37 bytes: a namespace created)  'X' nslen ns (dropped)
 *                    'K' nslen ns argc(u32) then argc times len(u32) bytes: an effect
 *                        (COLLECTIONS; servers before collections refuse such a file)
 *       all integers little endian
 *
 * GROUP COMMIT.  Appends go to a memory buffer with a logical position (LSN).
 * A worker that ran commands holds their replies until aofWaitFor(lsn): one
 * caller at a time (io_lock) writes the whole buffer and, with `always`,
 * fdatasyncs it; everyone whose LSN that covered returns without a syscall.
 * With everysec and no, the buffer is written before replies too (a killed
 * process loses nothing); everysec fsyncs from the AOF thread once a second.
 *
 * REWRITE WITHOUT FORK (the AOF thread): open incr n+1 and switch appends to it
 * (the manifest lists old base, old incrs and the new one, so a crash now loses
 * nothing), then kv_save_at a new base -- the engine's consistent cut, taken
 * while writers run -- then a manifest of the new base and incr n+1.  Records in
 * incr n+1 that the base already holds replay to the same state.
 */
#include "server.h"
#include "aof.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define AOF_MAGIC      "SKVAOF1\n"
#define AOF_MAGIC_LEN  8
#define AOF_MANIFEST   "appendonly.aof.manifest"
#define AOF_MAX_INCRS  64
#define AOF_STRIPES    256
#define AOF_NAME_MAX   128

/* ---------------------------------------------------------------- CRC-32C */

static uint32_t crcTable[256];
static pthread_once_t crcOnce = PTHREAD_ONCE_INIT;

static void crcInit(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? 0x82F63B78u ^ (c >> 1) : c >> 1;
		crcTable[i] = c;
	}
}

static uint32_t crc32c(const unsigned char *p, size_t n)
{
	pthread_once(&crcOnce, crcInit);
	uint32_t c = 0xFFFFFFFFu;
	while (n--)
		c = crcTable[(c ^ *p++) & 0xFF] ^ (c >> 8);
	return c ^ 0xFFFFFFFFu;
}

/* ---------------------------------------------------------------- state */

typedef struct aofFile {
	char     name[AOF_NAME_MAX];
	uint64_t seq;
} aofFile;

static struct {
	_Atomic int     enabled;      /* logging on (after start-up replay) */
	_Atomic int     starting;     /* CONFIG SET appendonly yes: records buffer, the first base is written */
	char            dir[PATH_MAX];
	_Atomic int     fsync_mode;

	/* the record buffer */
	pthread_mutex_t buf_lock;
	char           *buf;
	size_t          len, cap;
	_Atomic uint64_t appended;    /* LSN of the buffer's end */

	/* the file */
	pthread_mutex_t io_lock;      /* one writer of the file; fd switches */
	int             fd;
	_Atomic uint64_t written;     /* LSN written to fd */
	_Atomic uint64_t synced;      /* LSN known on disk */
	_Atomic int     write_err;    /* errno of the failing write/fsync, 0 ok */
	_Atomic int     lost_err;     /* a change could not be logged: only a rewrite repairs it */
	_Atomic uint64_t lost_gen;    /* bumped at each such loss */
	_Atomic uint64_t incr_size;   /* bytes in the current incr file */

	/* manifest (guarded by io_lock; changed only by the AOF thread) */
	aofFile         base;
	aofFile         incrs[AOF_MAX_INCRS];
	int             nincrs;
	_Atomic uint64_t base_size;   /* the base file */
	_Atomic uint64_t old_incr_size; /* incr files before the current one */
	_Atomic uint64_t rewrite_base_size; /* aof size after the last rewrite (auto rewrite) */

	/* the AOF thread */
	pthread_t       thread;
	int             thread_started;
	pthread_mutex_t th_lock;
	pthread_cond_t  th_cond;
	int             stop;
	int             rewrite_asked;
	int             start_asked;
	_Atomic int     rewrite_running;
	_Atomic int     last_rewrite_ok;
	_Atomic int64_t last_rewrite_sec;
	_Atomic int64_t rewrite_start_ms;
	_Atomic uint64_t rewrites;
	_Atomic uint64_t rewrite_failures;

	pthread_rwlock_t flush_rw;
	pthread_mutex_t stripes[AOF_STRIPES];
	/* a rewrite between its file switch and its base: effects that are not
	 * assignments (list ops) log their key whole instead (COLLECTIONS) */
	_Atomic int     cutting;
} aof = {
	.buf_lock = PTHREAD_MUTEX_INITIALIZER,
	.io_lock = PTHREAD_MUTEX_INITIALIZER,
	.th_lock = PTHREAD_MUTEX_INITIALIZER,
	.th_cond = PTHREAD_COND_INITIALIZER,
	.flush_rw = PTHREAD_RWLOCK_INITIALIZER,
	.fd = -1,
	.last_rewrite_ok = 1,
	.last_rewrite_sec = -1,
};

int aofEnabled(void)
{
	return aof.enabled;
}

int aofFsyncParse(const char *s)
{
	if (!strcasecmp(s, "always")) return AOF_FSYNC_ALWAYS;
	if (!strcasecmp(s, "everysec")) return AOF_FSYNC_EVERYSEC;
	if (!strcasecmp(s, "no")) return AOF_FSYNC_NO;
	return -1;
}

const char *aofFsyncName(int mode)
{
	return mode == AOF_FSYNC_ALWAYS ? "always" : mode == AOF_FSYNC_NO ? "no" : "everysec";
}

/* ---------------------------------------------------------------- helpers */

static void put32(char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (char)(v >> (8 * i));
}

static void put64(char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (char)(v >> (8 * i));
}

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const unsigned char *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* Write all of p; -1 with errno. */
static int writeAll(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		if (w == 0) {
			errno = ENOSPC;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int fsyncDir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return -1;
	int r = fsync(fd);
	close(fd);
	return r;
}

static uint64_t fileSize(const char *name)
{
	char path[PATH_MAX + AOF_NAME_MAX];
	struct stat st;
	snprintf(path, sizeof(path), "%s/%s", aof.dir, name);
	return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* ---------------------------------------------------------------- manifest */

/* Write the manifest of base + incrs[0..n) atomically (temp, fsync, rename). */
static int manifestWrite(const aofFile *base, const aofFile *incrs, int n, char *err, size_t errlen)
{
	char tmp[PATH_MAX + 64], path[PATH_MAX + 64];
	snprintf(tmp, sizeof(tmp), "%s/%s.tmp", aof.dir, AOF_MANIFEST);
	snprintf(path, sizeof(path), "%s/%s", aof.dir, AOF_MANIFEST);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0644);
	if (fd < 0)
		goto fail;
	char line[AOF_NAME_MAX + 64];
	int len = snprintf(line, sizeof(line), "file %s seq %llu type b\n", base->name,
	                   (unsigned long long)base->seq);
	if (writeAll(fd, line, (size_t)len) != 0)
		goto fail_fd;
	for (int i = 0; i < n; i++) {
		len = snprintf(line, sizeof(line), "file %s seq %llu type i\n", incrs[i].name,
		               (unsigned long long)incrs[i].seq);
		if (writeAll(fd, line, (size_t)len) != 0)
			goto fail_fd;
	}
	if (fsync(fd) != 0)
		goto fail_fd;
	close(fd);
	if (rename(tmp, path) != 0 || fsyncDir(aof.dir) != 0)
		goto fail;
	return C_OK;
fail_fd: {
	int e = errno;
	close(fd);
	errno = e;
}
fail:
	snprintf(err, errlen, "cannot write the AOF manifest %s: %s", path, strerror(errno));
	unlink(tmp);
	return C_ERR;
}

/* Parse the manifest into aof.base / aof.incrs.  0 ok, -1 missing, -2 bad (logged). */
static int manifestRead(void)
{
	char path[PATH_MAX + 64];
	snprintf(path, sizeof(path), "%s/%s", aof.dir, AOF_MANIFEST);
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		if (errno == ENOENT)
			return -1;
		serverLog(LL_WARNING, "cannot open the AOF manifest %s: %s", path, strerror(errno));
		return -2;
	}
	char line[512];
	int lineno = 0, have_base = 0;
	aof.nincrs = 0;
	while (fgets(line, sizeof(line), f)) {
		char name[AOF_NAME_MAX], type[4];
		unsigned long long seq;
		lineno++;
		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (sscanf(line, "file %127s seq %llu type %3s", name, &seq, type) != 3 ||
		    strchr(name, '/') || name[0] == '.' || (strcmp(type, "b") && strcmp(type, "i"))) {
			serverLog(LL_WARNING, "Bad AOF manifest %s line %d: %s", path, lineno, line);
			fclose(f);
			return -2;
		}
		if (type[0] == 'b') {
			snprintf(aof.base.name, sizeof(aof.base.name), "%s", name);
			aof.base.seq = seq;
			have_base++;
		} else {
			if (aof.nincrs == AOF_MAX_INCRS) {
				serverLog(LL_WARNING, "AOF manifest %s lists more than %d incr files", path, AOF_MAX_INCRS);
				fclose(f);
				return -2;
			}
			snprintf(aof.incrs[aof.nincrs].name, sizeof(aof.incrs[0].name), "%s", name);
			aof.incrs[aof.nincrs++].seq = seq;
		}
	}
	fclose(f);
	if (have_base != 1 || aof.nincrs == 0) {
		serverLog(LL_WARNING, "Bad AOF manifest %s: it must list one base and at least one incr file", path);
		return -2;
	}
	return 0;
}

/* Create incr file seq and open it for appending; the fd, or -1 with err. */
static int incrCreate(uint64_t seq, aofFile *out, char *err, size_t errlen)
{
	char path[PATH_MAX + AOF_NAME_MAX];
	snprintf(out->name, sizeof(out->name), "appendonly.aof.%llu.incr.aof", (unsigned long long)seq);
	out->seq = seq;
	snprintf(path, sizeof(path), "%s/%s", aof.dir, out->name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0 || writeAll(fd, AOF_MAGIC, AOF_MAGIC_LEN) != 0 || fsync(fd) != 0) {
		snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
		if (fd >= 0) {
			close(fd);
			unlink(path);
		}
		return -1;
	}
	return fd;
}

/* Save a base snapshot under name (seq); C_OK or err. */
static int baseSave(uint64_t seq, aofFile *out, char *err, size_t errlen)
{
	kv_error ke;
	memset(&ke, 0, sizeof(ke));
	snprintf(out->name, sizeof(out->name), "appendonly.aof.%llu.base.skv", (unsigned long long)seq);
	out->seq = seq;
	int rc = kv_save_at(srv.env, NULL, aof.dir, out->name, &ke);
	if (rc != KV_OK) {
		snprintf(err, errlen, "cannot save the AOF base %s: %s", out->name, ke.msg[0] ? ke.msg : kv_strerror(rc));
		return C_ERR;
	}
	return C_OK;
}

/* ---------------------------------------------------------------- appending */

static _Thread_local int tlDepth;          /* inside a command */

typedef struct pendKey {
	char     ns[KV_NS_NAME_MAX + 1];
	size_t   koff, klen;
	unsigned stripe;
	unsigned ev;     /* PEND_*: what the command's events did to the key */
} pendKey;

/* How a key changed, from its events: decides what a collection found at
 * commit needs (see "COLLECTIONS" above). */
#define PEND_COLL    0x1u /* an element op whose effect record the command logs */
#define PEND_EXPIRE  0x2u /* expiry set or removed */
#define PEND_REPLACE 0x4u /* anything else: deleted, replaced, renamed, stored, evicted ... */
#define PEND_EFFECT  0x8u /* the command logged an effect for it (aofEffect) */
#define EV_EFFECT    (-1) /* pendAdd's pseudo-event for that */

static unsigned pendClass(int event)
{
	switch (event) {
	case EV_EFFECT:
		return PEND_EFFECT;
	case KV_EV_EXPIRE:
		return PEND_EXPIRE;
	case KV_EV_SINTERSTORE: case KV_EV_SUNIONSTORE: case KV_EV_SDIFFSTORE:
	case KV_EV_ZINTERSTORE: case KV_EV_ZUNIONSTORE: case KV_EV_ZDIFFSTORE: case KV_EV_ZRANGESTORE:
		return PEND_REPLACE; /* the result replaces the key: logged whole */
	default:
		return event >= KV_EV_HSET && event <= KV_EV_LTRIM ? PEND_COLL : PEND_REPLACE;
	}
}

static _Thread_local struct {
	pendKey *keys;
	size_t   n, cap;
	char    *kbuf;
	size_t   klen, kcap;
} tlPend;

/* The stripes this thread holds from before a collection write until its
 * command ends (aofLockKeys), and whether it holds flush_rw for reading. */
static _Thread_local struct {
	uint64_t bits[AOF_STRIPES / 64];
	int      max;   /* highest held stripe, -1 when none */
	int      rd;
} tlHeld = {{0}, -1, 0};

static int heldHas(unsigned s)
{
	return (tlHeld.bits[s / 64] >> (s % 64)) & 1;
}

static void heldAdd(unsigned s)
{
	tlHeld.bits[s / 64] |= UINT64_C(1) << (s % 64);
	if ((int)s > tlHeld.max)
		tlHeld.max = (int)s;
}

/* Release every held stripe (and flush_rw); returns nothing held. */
static void heldReleaseAll(void)
{
	for (int s = tlHeld.max; s >= 0; s--)
		if (heldHas((unsigned)s))
			pthread_mutex_unlock(&aof.stripes[s]);
	memset(tlHeld.bits, 0, sizeof(tlHeld.bits));
	tlHeld.max = -1;
	if (tlHeld.rd) {
		pthread_rwlock_unlock(&aof.flush_rw);
		tlHeld.rd = 0;
	}
}

static unsigned stripeOf(const char *ns, const void *key, size_t klen)
{
	uint32_t h = 2166136261u;
	for (const char *p = ns; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	for (size_t i = 0; i < klen; i++)
		h = (h ^ ((const unsigned char *)key)[i]) * 16777619u;
	return h % AOF_STRIPES;
}

/*
 * A change that could not be logged (no memory to buffer or re-read it): the
 * log no longer matches the data.  Writes are refused (MISCONF) until a
 * rewrite -- which the cron starts at once -- writes a base of the true state.
 */
static _Thread_local uint64_t tlLsn;       /* highest LSN this thread appended */

/* The thread's position to wait for only grows (a lost change pins it at UINT64_MAX). */
static void noteLsn(uint64_t lsn)
{
	if (lsn > tlLsn)
		tlLsn = lsn;
}

static void recordLost(int e)
{
	tlLsn = UINT64_MAX; /* the reply of this change must not be sent as a success */
	atomic_fetch_add(&aof.lost_gen, 1);
	if (atomic_exchange(&aof.lost_err, e) == 0)
		serverLog(LL_WARNING, "AOF: a change could not be logged (%s); writes are refused until an AOF rewrite",
		          strerror(e));
}

/* Append one encoded record (payload) to the buffer; returns its end LSN. */
static uint64_t bufAppend(const char *payload, size_t n)
{
	char hdr[8];
	put32(hdr, (uint32_t)n);
	put32(hdr + 4, crc32c((const unsigned char *)payload, n));
	pthread_mutex_lock(&aof.buf_lock);
	if (aof.len + n + 8 > aof.cap) {
		size_t ncap = aof.cap ? aof.cap : 65536;
		while (ncap < aof.len + n + 8)
			ncap *= 2;
		char *nb = realloc(aof.buf, ncap);
		if (nb == NULL) {
			/* cannot log: refuse further writes rather than lose this one silently */
			pthread_mutex_unlock(&aof.buf_lock);
			recordLost(ENOMEM);
			serverLog(LL_WARNING, "AOF: out of memory buffering a record; writes are refused");
			return atomic_load(&aof.appended) + 1; /* never reached: its wait fails */
		}
		aof.buf = nb;
		aof.cap = ncap;
	}
	memcpy(aof.buf + aof.len, hdr, 8);
	memcpy(aof.buf + aof.len + 8, payload, n);
	aof.len += n + 8;
	uint64_t lsn = atomic_fetch_add(&aof.appended, n + 8) + n + 8;
	pthread_mutex_unlock(&aof.buf_lock);
	return lsn;
}

typedef struct enc {
	char  *p;
	size_t len, cap;
	int    oom;
} enc;

static void encPut(enc *e, const void *p, size_t n)
{
	if (e->oom || n == 0)
		return;
	if (e->len + n > e->cap) {
		size_t ncap = e->cap ? e->cap * 2 : 256;
		while (ncap < e->len + n)
			ncap *= 2;
		char *np = realloc(e->p, ncap);
		if (np == NULL) {
			e->oom = 1;
			return;
		}
		e->p = np;
		e->cap = ncap;
	}
	memcpy(e->p + e->len, p, n);
	e->len += n;
}

static void encNs(enc *e, char op, const char *ns)
{
	unsigned char nl = (unsigned char)strlen(ns);
	encPut(e, &op, 1);
	encPut(e, &nl, 1);
	encPut(e, ns, nl);
}

static void encKey(enc *e, char op, const char *ns, const void *key, size_t klen)
{
	char b[4];
	encNs(e, op, ns);
	put32(b, (uint32_t)klen);
	encPut(e, b, 4);
	encPut(e, key, klen);
}

/* The effect ops of this thread's command, appended in front of its record,
 * and whether one of them is not an assignment (replayed twice, it would
 * change the state twice). */
static _Thread_local enc tlEff;
static _Thread_local int tlEffNotAssign;

static int effectIsAssignment(const kv_val *name)
{
	static const char *const names[] = {"HSET", "HDEL", "SADD", "SREM", "ZADD", "ZREM", "DEL",
	                                    "PEXPIREAT", "PERSIST"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (name->len == strlen(names[i]) && memcmp(name->data, names[i], name->len) == 0)
			return 1;
	return 0;
}

static void encEffect(enc *e, const char *ns, size_t argc, const kv_val *argv)
{
	char b[4];
	encNs(e, 'K', ns);
	put32(b, (uint32_t)argc);
	encPut(e, b, 4);
	for (size_t i = 0; i < argc; i++) {
		put32(b, (uint32_t)argv[i].len);
		encPut(e, b, 4);
		encPut(e, argv[i].data, argv[i].len);
	}
}

typedef struct effCtx {
	enc        *e;
	const char *ns;
} effCtx;

static int effEmit(void *ctx, size_t argc, const kv_val *argv)
{
	effCtx *x = ctx;
	encEffect(x->e, x->ns, argc, argv);
	return x->e->oom ? KV_ENOMEM : KV_OK;
}

static int cmpStripe(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
	return x < y ? -1 : x > y;
}

/* Thread-local memory is not freed at thread exit: nothing is kept between commands. */
static void pendReset(void)
{
	free(tlPend.keys);
	free(tlPend.kbuf);
	memset(&tlPend, 0, sizeof(tlPend));
	free(tlEff.p);
	memset(&tlEff, 0, sizeof(tlEff));
	tlEffNotAssign = 0;
}

/* Log the final state of the keys this thread's command changed, as one record. */
/* Drop repeated keys, keeping each key's first place: a command that changed a
 * key twice logs it once, and the record keeps the order of the changes (an
 * eviction's delete before the write that caused it, so a replay under the same
 * maxmemory evicts nothing else).  Sorting indices makes it O(n log n), where
 * comparing each new key with every pending one was O(n^2) (a 100k-key MSET
 * held its worker for seconds). */
static int cmpPendKey(const pendKey *x, const pendKey *y)
{
	int c = strcmp(x->ns, y->ns);
	if (c)
		return c;
	size_t m = x->klen < y->klen ? x->klen : y->klen;
	c = m ? memcmp(tlPend.kbuf + x->koff, tlPend.kbuf + y->koff, m) : 0;
	return c ? c : (x->klen > y->klen) - (x->klen < y->klen);
}

static int cmpPendIdx(const void *a, const void *b)
{
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	int c = cmpPendKey(&tlPend.keys[i], &tlPend.keys[j]);
	return c ? c : (i > j) - (i < j);
}

static int pendDedupe(void)
{
	size_t n = tlPend.n;
	if (n < 2)
		return 0;
	size_t *idx = malloc(n * sizeof(*idx));
	unsigned char *dup = calloc(n, 1);
	if (idx == NULL || dup == NULL) {
		free(idx);
		free(dup);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		idx[i] = i;
	qsort(idx, n, sizeof(*idx), cmpPendIdx);
	size_t first = idx[0];
	for (size_t i = 1; i < n; i++) {
		if (cmpPendKey(&tlPend.keys[idx[i]], &tlPend.keys[first]) == 0) {
			dup[idx[i]] = 1; /* a later place of a key already pending */
			tlPend.keys[first].ev |= tlPend.keys[idx[i]].ev;
		} else {
			first = idx[i];
		}
	}
	size_t w = 0;
	for (size_t i = 0; i < n; i++)
		if (!dup[i])
			tlPend.keys[w++] = tlPend.keys[i];
	tlPend.n = w;
	free(idx);
	free(dup);
	return 0;
}

/* Encode one re-read key: a string's state, a delete, or for a collection
 * what its events call for.  KV_OK or the failure. */
static int encReread(enc *e, kv_ns *ns, const char *nsname, const pendKey *pk, const kv_op *op,
                     const kv_buf *arena, int effects_dropped)
{
	if (ns == NULL || op->status == KV_NOTFOUND) {
		encKey(e, 'D', nsname, op->key, op->klen);
		return KV_OK;
	}
	if (op->status == KV_OK) {
		char b[13];
		encKey(e, 'S', nsname, op->key, op->klen);
		b[0] = (char)op->out_type;
		put64(b + 1, (uint64_t)op->out_expires_at);
		put32(b + 9, (uint32_t)op->out_len);
		encPut(e, b, 13);
		encPut(e, arena->data + op->out_off, op->out_len);
		return KV_OK;
	}
	if (op->status != KV_EWRONGTYPE)
		return op->status;
	/* a collection: element ops logged their effects; anything else (or an
	 * element op of a command that logs none) logs it whole */
	effCtx x = {e, nsname};
	int effected = (pk->ev & PEND_EFFECT) && !effects_dropped;
	if ((pk->ev & PEND_REPLACE) || ((pk->ev & (PEND_COLL | PEND_EFFECT)) && !effected))
		return aofEffectDump(ns, op->key, op->klen, effEmit, &x);
	int64_t exp = 0;
	if ((pk->ev & PEND_EXPIRE) || (kv_ttl(ns, op->key, op->klen, &exp) == KV_OK && exp > 0))
		return aofEffectExpiry(ns, op->key, op->klen, effEmit, &x); /* absolute, as S records */
	return KV_OK;
}

/*
 * Log this thread's command as one record: its effect ops, then the final
 * state of the keys it changed, read under their stripes.  Stripes already
 * held (aofLockKeys) stay held; the ones taken here are released.
 */
static void commitPending(void)
{
	if (pendDedupe() != 0) {
		recordLost(ENOMEM);
		pendReset();
		return;
	}
	size_t n = tlPend.n;
	if (n == 0 && tlEff.len == 0) {
		if (tlEff.oom)
			recordLost(ENOMEM);
		pendReset();
		return;
	}
	unsigned *stripes = malloc((n ? n : 1) * sizeof(*stripes));
	unsigned char *taken = calloc(n ? n : 1, 1);
	kv_op *ops = calloc(n ? n : 1, sizeof(*ops));
	kv_buf arena = KV_BUF_INIT;
	enc e = {0};
	int failed = 0, took_rd = 0;
	if (stripes == NULL || ops == NULL || taken == NULL) {
		recordLost(ENOMEM);
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		stripes[i] = tlPend.keys[i].stripe;
	qsort(stripes, n, sizeof(*stripes), cmpStripe);
	if (!tlHeld.rd) {
		pthread_rwlock_rdlock(&aof.flush_rw);
		took_rd = 1;
	}
	/* ascending above what is held; a lower one (a key the command did not
	 * name, e.g. one it evicted) only if free, so that no two threads wait on
	 * each other -- if busy, that key is read without its stripe */
	for (size_t i = 0; i < n; i++) {
		if ((i && stripes[i] == stripes[i - 1]) || heldHas(stripes[i]))
			continue;
		if ((int)stripes[i] > tlHeld.max)
			pthread_mutex_lock(&aof.stripes[stripes[i]]), taken[i] = 1;
		else
			taken[i] = pthread_mutex_trylock(&aof.stripes[stripes[i]]) == 0;
	}

	/* during a rewrite's cut, effects that are not assignments could be in the
	 * new base and replayed again after it: their keys are logged whole instead */
	int drop = tlEffNotAssign && atomic_load(&aof.cutting);
	if (!drop)
		encPut(&e, tlEff.p, tlEff.len);
	if (tlEff.oom)
		e.oom = 1;
	/* one read per namespace (a command rarely touches more than one) */
	size_t i = 0;
	while (i < n) {
		const char *nsname = tlPend.keys[i].ns;
		size_t j = i;
		while (j < n && strcmp(tlPend.keys[j].ns, nsname) == 0)
			j++;
		kv_ns *ns = NULL;
		kv_nscache_get(srv.nscache, nsname, strlen(nsname), &ns); /* NULL: dropped meanwhile */
		for (size_t k = i; k < j; k++) {
			ops[k].op = KV_OP_GET;
			ops[k].key = tlPend.kbuf + tlPend.keys[k].koff;
			ops[k].klen = tlPend.keys[k].klen;
			ops[k].status = KV_NOTFOUND;
		}
		if (ns != NULL) {
			kv_error ke;
			arena.len = 0;
			int rc = kv_batch(ns, ops + i, j - i, KV_BATCH_ALL_OR_NOTHING, &arena, &ke);
			if (rc == KV_EWRONGTYPE) { /* a collection among them: each key on its own */
				arena.len = 0;
				rc = kv_batch(ns, ops + i, j - i, KV_BATCH_BEST_EFFORT, &arena, &ke);
			}
			if (rc != KV_OK && rc != KV_ENONS) {
				serverLog(LL_WARNING, "AOF: cannot read back changed keys: %s", kv_strerror(rc));
				failed = 1;
			}
		}
		for (size_t k = i; k < j && !failed; k++) {
			int rc = encReread(&e, ns, nsname, &tlPend.keys[k], &ops[k], &arena, drop);
			if (rc != KV_OK) {
				serverLog(LL_WARNING, "AOF: cannot log a changed key: %s", kv_strerror(rc));
				failed = 1;
			}
		}
		i = j;
	}
	if (e.oom || failed)
		recordLost(e.oom ? ENOMEM : EIO); /* never a record that says less than happened */
	else if (e.len)
		noteLsn(bufAppend(e.p, e.len));

	for (size_t k = n; k-- > 0;)
		if (taken[k])
			pthread_mutex_unlock(&aof.stripes[stripes[k]]);
	if (took_rd)
		pthread_rwlock_unlock(&aof.flush_rw);
out:
	free(stripes);
	free(taken);
	free(ops);
	kv_buf_free(srv.env, &arena);
	free(e.p);
	pendReset();
}

static int pendAdd(const char *ns, const void *key, size_t klen, int event)
{
	/* a key changed again right away is noted once; other repeats are removed
	 * when the command commits (pendDedupe), so noting stays O(1) a key */
	if (tlPend.n) {
		pendKey *last = &tlPend.keys[tlPend.n - 1];
		if (last->klen == klen && !strcmp(last->ns, ns) &&
		    memcmp(tlPend.kbuf + last->koff, key, klen) == 0) {
			last->ev |= pendClass(event);
			return 0;
		}
	}
	if (tlPend.n == tlPend.cap) {
		size_t ncap = tlPend.cap ? tlPend.cap * 2 : 16;
		pendKey *nk = realloc(tlPend.keys, ncap * sizeof(*nk));
		if (nk == NULL)
			return -1;
		tlPend.keys = nk;
		tlPend.cap = ncap;
	}
	if (tlPend.kbuf == NULL || tlPend.klen + klen > tlPend.kcap) { /* never NULL: the empty key reads "" */
		size_t ncap = tlPend.kcap ? tlPend.kcap * 2 : 1024;
		while (ncap < tlPend.klen + klen)
			ncap *= 2;
		char *nb = realloc(tlPend.kbuf, ncap);
		if (nb == NULL)
			return -1;
		tlPend.kbuf = nb;
		tlPend.kcap = ncap;
	}
	pendKey *pk = &tlPend.keys[tlPend.n++];
	snprintf(pk->ns, sizeof(pk->ns), "%s", ns);
	pk->koff = tlPend.klen;
	pk->klen = klen;
	pk->stripe = stripeOf(ns, key, klen);
	pk->ev = pendClass(event);
	if (klen)
		memcpy(tlPend.kbuf + tlPend.klen, key, klen);
	tlPend.klen += klen;
	return 0;
}

static kv_hook_fn innerHook;

/* The engine hook while the AOF is on: log, then the server's other hooks. */
static void aofChangeHook(void *ctx, const char *ns, const void *key, size_t klen, int event)
{
	if (aof.enabled) {
		if (event == KV_EV_FLUSH) {
			/* keys changed before the flush go first; the flush excludes every re-read */
			commitPending();
			enc e = {0};
			encNs(&e, 'F', ns);
			/* a transaction's held stripes are let go around the exclusive lock */
			uint64_t held[AOF_STRIPES / 64];
			int had = tlHeld.rd;
			memcpy(held, tlHeld.bits, sizeof(held));
			heldReleaseAll();
			pthread_rwlock_wrlock(&aof.flush_rw);
			if (!e.oom)
				noteLsn(bufAppend(e.p, e.len));
			else
				recordLost(ENOMEM);
			pthread_rwlock_unlock(&aof.flush_rw);
			free(e.p);
			if (had) {
				pthread_rwlock_rdlock(&aof.flush_rw);
				tlHeld.rd = 1;
				for (unsigned st = 0; st < AOF_STRIPES; st++)
					if ((held[st / 64] >> (st % 64)) & 1) {
						pthread_mutex_lock(&aof.stripes[st]);
						heldAdd(st);
					}
			}
		} else if (pendAdd(ns, key, klen, event) != 0) {
			recordLost(ENOMEM);
		} else if (tlDepth == 0) {
			commitPending(); /* the expiry sweep, the HTTP door: one record per change */
		}
	}
	if (innerHook)
		innerHook(ctx, ns, key, klen, event);
}

void aofCommandBegin(void)
{
	tlDepth++;
}

void aofCommandEnd(void)
{
	if (--tlDepth != 0)
		return;
	if (aof.enabled)
		commitPending();
	else if (tlPend.n || tlEff.len)
		pendReset(); /* the AOF was turned off meanwhile */
	heldReleaseAll();
}

void aofLockKeys(const char *ns, const kv_val *keys, size_t n)
{
	if (!aof.enabled || n == 0)
		return;
	unsigned small[16], *st = n <= 16 ? small : malloc(n * sizeof(*st));
	if (st == NULL) {
		recordLost(ENOMEM); /* cannot order its effect: refuse writes until a rewrite */
		return;
	}
	for (size_t i = 0; i < n; i++)
		st[i] = stripeOf(ns, keys[i].data, keys[i].len);
	qsort(st, n, sizeof(*st), cmpStripe);
	if (!tlHeld.rd) {
		pthread_rwlock_rdlock(&aof.flush_rw);
		tlHeld.rd = 1;
	}
	for (size_t i = 0; i < n; i++) {
		if (heldHas(st[i]))
			continue;
		if ((int)st[i] > tlHeld.max || pthread_mutex_trylock(&aof.stripes[st[i]]) != 0) {
			if ((int)st[i] < tlHeld.max) {
				/* below what is held and busy: waiting could deadlock.  Let
				 * everything go and take the whole set in order (only a
				 * transaction naming keys outside the command table's key
				 * positions gets here) */
				uint64_t held[AOF_STRIPES / 64];
				memcpy(held, tlHeld.bits, sizeof(held));
				heldReleaseAll();
				for (size_t k = 0; k < n; k++)
					held[st[k] / 64] |= UINT64_C(1) << (st[k] % 64);
				pthread_rwlock_rdlock(&aof.flush_rw);
				tlHeld.rd = 1;
				for (unsigned s = 0; s < AOF_STRIPES; s++)
					if ((held[s / 64] >> (s % 64)) & 1) {
						pthread_mutex_lock(&aof.stripes[s]);
						heldAdd(s);
					}
				break;
			}
			pthread_mutex_lock(&aof.stripes[st[i]]);
		}
		heldAdd(st[i]);
	}
	if (st != small)
		free(st);
}

void aofLockAllKeys(void)
{
	if (!aof.enabled)
		return;
	heldReleaseAll(); /* nothing is logged yet: taking them again in order is safe */
	pthread_rwlock_rdlock(&aof.flush_rw);
	tlHeld.rd = 1;
	for (unsigned s = 0; s < AOF_STRIPES; s++) {
		pthread_mutex_lock(&aof.stripes[s]);
		heldAdd(s);
	}
}

void aofEffect(const char *ns, size_t argc, const kv_val *argv)
{
	if (!aof.enabled)
		return;
	if (argc < 2) {
		recordLost(ENOMEM); /* the command could not describe its change */
		return;
	}
	if (tlDepth == 0)
		return; /* outside a command the change hook has logged the key whole already */
	encEffect(&tlEff, ns, argc, argv);
	tlEffNotAssign |= !effectIsAssignment(&argv[0]);
	if (pendAdd(ns, argv[1].data, argv[1].len, EV_EFFECT) != 0)
		recordLost(ENOMEM);
}

uint64_t aofThreadLsn(void)
{
	return tlLsn;
}

uint64_t aofTakeThreadLsn(void)
{
	uint64_t v = tlLsn;
	tlLsn = 0;
	return v;
}

int aofWriteError(void)
{
	int e = atomic_load(&aof.write_err);
	return e ? e : atomic_load(&aof.lost_err);
}

void aofReplyMisconf(replyBuf *rb)
{
	int e = aofWriteError();
	addReplyErrorFormat(rb, "-MISCONF Errors writing to the AOF file: %s", strerror(e ? e : EIO));
}

int aofMustWait(uint64_t lsn)
{
	/* while the first base is written there is no file to wait for (as Redis) */
	if (!aof.enabled || lsn == 0 || atomic_load(&aof.starting))
		return 0;
	if (atomic_load(&aof.fsync_mode) == AOF_FSYNC_ALWAYS)
		return atomic_load(&aof.synced) < lsn;
	return atomic_load(&aof.written) < lsn;
}

/*
 * Write the buffer to the file (io_lock held).  On failure the bytes stay
 * buffered (a partial write is cut off the file) and write_err is set; a later
 * flush retries them.
 */
static int flushLocked(void)
{
	pthread_mutex_lock(&aof.buf_lock);
	char *data = aof.buf;
	size_t n = aof.len;
	uint64_t end = atomic_load(&aof.appended);
	aof.buf = NULL;
	aof.len = aof.cap = 0;
	pthread_mutex_unlock(&aof.buf_lock);
	if (n == 0) {
		free(data);
		return C_OK;
	}
	uint64_t before = atomic_load(&aof.incr_size);
	if (writeAll(aof.fd, data, n) != 0) {
		int e = errno;
		if (ftruncate(aof.fd, (off_t)before) != 0)
			serverLog(LL_WARNING, "AOF: cannot cut a partial write off the file: %s", strerror(errno));
		/* put the bytes back in front of what was appended meanwhile */
		pthread_mutex_lock(&aof.buf_lock);
		char *nb = malloc(n + aof.len);
		if (nb) {
			memcpy(nb, data, n);
			if (aof.len)
				memcpy(nb + n, aof.buf, aof.len);
			free(aof.buf);
			aof.buf = nb;
			aof.len += n;
			aof.cap = aof.len;
		}
		pthread_mutex_unlock(&aof.buf_lock);
		free(data);
		if (atomic_exchange(&aof.write_err, e) != e)
			serverLog(LL_WARNING, "Error writing to the AOF file: %s; writes are refused until it succeeds", strerror(e));
		return C_ERR;
	}
	free(data);
	atomic_fetch_add(&aof.incr_size, n);
	atomic_store(&aof.written, end);
	return C_OK;
}

static int syncLocked(void)
{
	uint64_t w = atomic_load(&aof.written);
	if (atomic_load(&aof.synced) >= w)
		return C_OK;
	if (fdatasync(aof.fd) != 0) {
		int e = errno;
		if (atomic_exchange(&aof.write_err, e) != e)
			serverLog(LL_WARNING, "Error syncing the AOF file: %s; writes are refused until it succeeds", strerror(e));
		return C_ERR;
	}
	atomic_store(&aof.synced, w);
	return C_OK;
}

int aofWaitFor(uint64_t lsn)
{
	if (!aofMustWait(lsn))
		return atomic_load(&aof.write_err) ? C_ERR : C_OK;
	int always = atomic_load(&aof.fsync_mode) == AOF_FSYNC_ALWAYS;
	pthread_mutex_lock(&aof.io_lock);
	int rc = C_OK;
	/* another caller's write (and fsync) may have covered us while we waited */
	if (atomic_load(&aof.written) < lsn)
		rc = flushLocked();
	if (rc == C_OK && always && atomic_load(&aof.synced) < lsn)
		rc = syncLocked();
	if (rc == C_OK && atomic_load(&aof.written) >= lsn)
		atomic_store(&aof.write_err, 0);
	pthread_mutex_unlock(&aof.io_lock);
	return rc == C_OK && !aofMustWait(lsn) ? C_OK : C_ERR;
}

void aofNamespaceBegin(void)
{
	if (aof.enabled)
		pthread_rwlock_wrlock(&aof.flush_rw);
}

void aofNamespaceEnd(int create, const char *name, const kv_ns_config *cfg, int rc)
{
	if (!aof.enabled)
		return;
	if (rc == KV_OK) {
		enc e = {0};
		encNs(&e, create ? 'C' : 'X', name);
		if (create) {
			kv_ns_config d;
			if (cfg == NULL) {
				kv_ns_config_init(&d);
				cfg = &d;
			}
			char b[37];
			put32(b, cfg->shards);
			put64(b + 4, cfg->max_keys);
			put64(b + 12, cfg->max_memory);
			put64(b + 20, (uint64_t)cfg->default_ttl_ms);
			put32(b + 28, cfg->max_key_size);
			put32(b + 32, cfg->max_value_size);
			b[36] = (char)cfg->eviction;
			encPut(&e, b, 37);
		}
		if (e.oom)
			recordLost(ENOMEM);
		else
			noteLsn(bufAppend(e.p, e.len));
		free(e.p);
	}
	pthread_rwlock_unlock(&aof.flush_rw);
}

/* ---------------------------------------------------------------- replay */

typedef struct replayFile {
	const char    *name;
	unsigned char *map;
	size_t         size;
	size_t         good;   /* bytes up to the end of the last whole record */
	int            truncated;
} replayFile;

/* Check one op's layout; its length, or 0 if malformed. */
static size_t opLen(const unsigned char *p, size_t n)
{
	if (n < 2 || p[1] == 0 || p[1] > KV_NS_NAME_MAX || n < 2u + p[1])
		return 0;
	size_t o = 2u + p[1];
	if (p[0] == 'F' || p[0] == 'X')
		return o;
	if (p[0] == 'C')
		return n - o < 37 ? 0 : o + 37;
	if (p[0] == 'K') { /* argc, then each argument's u32 length and bytes */
		if (n - o < 4)
			return 0;
		uint64_t argc = get32(p + o);
		o += 4;
		if (argc < 2)
			return 0;
		for (uint64_t i = 0; i < argc; i++) {
			if (n - o < 4)
				return 0;
			uint64_t al = get32(p + o);
			o += 4;
			if (n - o < al)
				return 0;
			o += al;
		}
		return o;
	}
	if ((p[0] != 'S' && p[0] != 'D') || n < o + 4)
		return 0;
	uint64_t kl = get32(p + o);
	o += 4;
	if (n - o < kl)
		return 0;
	o += kl;
	if (p[0] == 'D')
		return o;
	if (n - o < 13)
		return 0;
	uint64_t vl = get32(p + o + 9);
	o += 13;
	if (n - o < vl)
		return 0;
	return o + vl;
}

/* Verify a whole incr file before anything changes.  C_ERR (logged) if corrupt. */
static int replayCheck(replayFile *f, int last, int load_truncated)
{
	if (f->size < AOF_MAGIC_LEN || memcmp(f->map, AOF_MAGIC, AOF_MAGIC_LEN) != 0) {
		if (last && f->size < AOF_MAGIC_LEN && memcmp(f->map, AOF_MAGIC, f->size) == 0) {
			f->good = 0; /* created, header not whole: an empty log */
			f->truncated = 1;
			return C_OK;
		}
		serverLog(LL_WARNING, "Bad AOF file %s: not a shardkv AOF (bad header at offset 0)", f->name);
		return C_ERR;
	}
	size_t pos = AOF_MAGIC_LEN;
	while (pos < f->size) {
		size_t left = f->size - pos;
		uint32_t plen = left >= 8 ? get32(f->map + pos) : 0;
		if (left < 8 || left - 8 < plen) {
			if (!last || !load_truncated) {
				serverLog(LL_WARNING, "Bad AOF file %s: truncated record at offset %zu (%zu bytes left)%s",
				          f->name, pos, left, last ? "; set aof-load-truncated yes to drop it" : "");
				return C_ERR;
			}
			serverLog(LL_WARNING, "!!! Warning: short read while loading the AOF file %s!!! "
			          "Dropping the truncated last record at offset %zu (%zu bytes).",
			          f->name, pos, left);
			f->truncated = 1;
			break;
		}
		const unsigned char *pl = f->map + pos + 8;
		if (crc32c(pl, plen) != get32(f->map + pos + 4)) {
			serverLog(LL_WARNING, "Bad AOF file %s: checksum mismatch in the record at offset %zu; "
			          "refusing to start (nothing was changed)", f->name, pos);
			return C_ERR;
		}
		for (size_t o = 0; o < plen;) {
			size_t l = opLen(pl + o, plen - o);
			if (l == 0) {
				serverLog(LL_WARNING, "Bad AOF file %s: malformed record at offset %zu; refusing to start",
				          f->name, pos);
				return C_ERR;
			}
			o += l;
		}
		pos += 8 + plen;
	}
	f->good = pos;
	return C_OK;
}

/* A 'K' op's arguments (checked by opLen) through aof_effect.c. */
static int replayEffect(kv_ns *ns, const unsigned char *q)
{
	size_t argc = get32(q);
	kv_val small[16], *argv = argc <= 16 ? small : malloc(argc * sizeof(*argv));
	if (argv == NULL)
		return KV_ENOMEM;
	q += 4;
	for (size_t i = 0; i < argc; i++) {
		argv[i].len = get32(q);
		argv[i].data = q + 4;
		q += 4 + argv[i].len;
	}
	int rc = aofEffectReplay(ns, argc, argv);
	if (argv != small)
		free(argv);
	return rc;
}

/* Apply one op (checked by opLen); a kv status. */
static int replayOp(const unsigned char *p, char *name)
{
	memcpy(name, p + 2, p[1]);
	name[p[1]] = '\0';
	const unsigned char *q = p + 2 + p[1];
	int rc;
	if (p[0] == 'X') {
		rc = kv_ns_drop(srv.env, name);
		return rc == KV_ENONS ? KV_OK : rc;
	}
	if (p[0] == 'C') {
		kv_ns_config cfg;
		kv_ns_config_init(&cfg);
		cfg.shards = get32(q);
		cfg.max_keys = get64(q + 4);
		cfg.max_memory = get64(q + 12);
		cfg.default_ttl_ms = (int64_t)get64(q + 20);
		cfg.max_key_size = get32(q + 28);
		cfg.max_value_size = get32(q + 32);
		cfg.eviction = q[36];
		rc = kv_ns_create(srv.env, name, &cfg);
		return rc == KV_ENSEXISTS ? KV_OK : rc;
	}
	kv_ns *ns = NULL;
	rc = kv_nscache_get(srv.nscache, name, strlen(name), &ns);
	if (rc == KV_ENONS) {
		if (p[0] != 'S' && p[0] != 'K')
			return KV_OK; /* a delete or flush re-read after the namespace was dropped */
		kv_ns_create(srv.env, name, NULL);
		rc = kv_nscache_get(srv.nscache, name, strlen(name), &ns);
	}
	if (rc != KV_OK)
		return rc;
	if (p[0] == 'F')
		return kv_ns_flush(ns);
	if (p[0] == 'K')
		return replayEffect(ns, q);
	size_t kl = get32(q);
	const unsigned char *key = q + 4;
	if (p[0] == 'D') {
		rc = kv_del(ns, key, kl);
		return rc == KV_NOTFOUND ? KV_OK : rc;
	}
	const unsigned char *v = key + kl;
	int64_t exp = (int64_t)get64(v + 1);
	/* an absolute time already past deletes the key: it expired meanwhile */
	return kv_set(ns, key, kl, v + 13, get32(v + 9), v[0], exp > 0 ? exp : KV_EXPIRE_NEVER, 0, NULL);
}

static int replayApply(replayFile *f)
{
	size_t pos = AOF_MAGIC_LEN;
	while (pos < f->good) {
		uint32_t plen = get32(f->map + pos);
		const unsigned char *pl = f->map + pos + 8;
		for (size_t o = 0; o < plen;) {
			char name[KV_NS_NAME_MAX + 1];
			int rc = replayOp(pl + o, name);
			if (rc != KV_OK) {
				serverLog(LL_WARNING, "Cannot replay the AOF record at %s offset %zu (namespace %s): %s",
				          f->name, pos, name, kv_strerror(rc));
				return C_ERR;
			}
			o += opLen(pl + o, plen - o);
		}
		pos += 8 + plen;
	}
	return C_OK;
}

static void aofDirPath(void)
{
	snprintf(aof.dir, sizeof(aof.dir), "%s/%s", srv.cfg.dir, srv.cfg.appenddirname);
}

int aofLoadAtStart(void)
{
	const char *dn = srv.cfg.appenddirname;
	if (!dn[0] || strchr(dn, '/') || !strcmp(dn, ".") || !strcmp(dn, "..")) {
		serverLog(LL_WARNING, "appenddirname must be one directory name under dir, not '%s'", dn);
		return C_ERR;
	}
	aofDirPath();
	atomic_store(&aof.fsync_mode, aofFsyncParse(srv.cfg.appendfsync));
	int m = manifestRead();
	if (m == -2)
		return C_ERR;
	if (m == -1) {
		/* no AOF yet: start from the snapshot; aofStart writes the first base */
		serverLog(LL_NOTICE, "No AOF manifest in %s: loading the snapshot, then creating the AOF", aof.dir);
		return persistLoadAtStart();
	}

	replayFile files[AOF_MAX_INCRS];
	memset(files, 0, sizeof(files));
	int rc = C_ERR;
	for (int i = 0; i < aof.nincrs; i++) {
		char path[PATH_MAX + AOF_NAME_MAX];
		snprintf(path, sizeof(path), "%s/%s", aof.dir, aof.incrs[i].name);
		files[i].name = aof.incrs[i].name;
		int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		struct stat st;
		if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
			serverLog(LL_WARNING, "Cannot open the AOF file %s: %s", path, fd < 0 ? strerror(errno) : "not a regular file");
			if (fd >= 0)
				close(fd);
			goto out;
		}
		files[i].size = (size_t)st.st_size;
		if (files[i].size) {
			files[i].map = mmap(NULL, files[i].size, PROT_READ, MAP_PRIVATE, fd, 0);
			if (files[i].map == MAP_FAILED) {
				files[i].map = NULL;
				serverLog(LL_WARNING, "Cannot map the AOF file %s: %s", path, strerror(errno));
				close(fd);
				goto out;
			}
		} else {
			files[i].map = (unsigned char *)"";
		}
		close(fd);
		if (replayCheck(&files[i], i == aof.nincrs - 1, srv.cfg.aof_load_truncated) != C_OK)
			goto out;
	}

	kv_error ke;
	memset(&ke, 0, sizeof(ke));
	int krc = kv_load_threads(srv.env, aof.dir, aof.base.name, NULL, NULL, (unsigned)srv.load_threads, &ke);
	if (krc != KV_OK) {
		serverLog(LL_WARNING, "Cannot load the AOF base %s/%s: %s", aof.dir, aof.base.name,
		          ke.msg[0] ? ke.msg : kv_strerror(krc));
		goto out;
	}
	size_t nrec_bytes = 0;
	for (int i = 0; i < aof.nincrs; i++) {
		if (replayApply(&files[i]) != C_OK)
			goto out;
		nrec_bytes += files[i].good;
	}
	replayFile *lastf = &files[aof.nincrs - 1];
	if (lastf->truncated) {
		char path[PATH_MAX + AOF_NAME_MAX];
		snprintf(path, sizeof(path), "%s/%s", aof.dir, lastf->name);
		int fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
		int ok = fd >= 0 && ftruncate(fd, (off_t)lastf->good) == 0;
		if (ok && lastf->good == 0)
			ok = writeAll(fd, AOF_MAGIC, AOF_MAGIC_LEN) == 0;
		if (ok)
			ok = fsync(fd) == 0;
		if (fd >= 0)
			close(fd);
		if (!ok) {
			serverLog(LL_WARNING, "Cannot cut the truncated record off %s: %s", path, strerror(errno));
			goto out;
		}
	}
	serverLog(LL_NOTICE, "DB loaded from the append only file: base %s + %d incr file(s), %zu bytes of records",
	          aof.base.name, aof.nincrs, nrec_bytes);
	rc = C_OK;
out:
	for (int i = 0; i < aof.nincrs; i++)
		if (files[i].map && files[i].size)
			munmap(files[i].map, files[i].size);
	return rc;
}

/* A new AOF: base 1 from the current data, incr 1, manifest. */
static void removeFile(const char *name);

/*
 * A new AOF from the current data: base and incr numbered after any files the
 * manifest lists (an AOF left by an earlier run), which go once the new
 * manifest is in place.  Returns the incr file's fd, or -1 (logged).
 */
static int createFresh(void)
{
	char err[PATH_MAX + 256];
	if (mkdir(aof.dir, 0755) != 0 && errno != EEXIST) {
		serverLog(LL_WARNING, "Cannot create the AOF directory %s: %s", aof.dir, strerror(errno));
		return -1;
	}
	uint64_t seq = 1;
	if (aof.nincrs)
		seq = (aof.base.seq > aof.incrs[aof.nincrs - 1].seq ? aof.base.seq : aof.incrs[aof.nincrs - 1].seq) + 1;
	aofFile base, incr;
	if (baseSave(seq, &base, err, sizeof(err)) != C_OK) {
		serverLog(LL_WARNING, "%s", err);
		return -1;
	}
	int fd = incrCreate(seq, &incr, err, sizeof(err));
	if (fd < 0 || manifestWrite(&base, &incr, 1, err, sizeof(err)) != C_OK) {
		serverLog(LL_WARNING, "%s", err);
		if (fd >= 0)
			close(fd);
		removeFile(base.name);
		return -1;
	}
	if (aof.nincrs) {
		removeFile(aof.base.name);
		for (int i = 0; i < aof.nincrs; i++)
			removeFile(aof.incrs[i].name);
	}
	aof.base = base;
	aof.incrs[0] = incr;
	aof.nincrs = 1;
	return fd;
}

static void sizesReset(void)
{
	atomic_store(&aof.base_size, fileSize(aof.base.name));
	uint64_t olds = 0;
	for (int i = 0; i + 1 < aof.nincrs; i++)
		olds += fileSize(aof.incrs[i].name);
	atomic_store(&aof.old_incr_size, olds);
	atomic_store(&aof.incr_size, fileSize(aof.incrs[aof.nincrs - 1].name));
	atomic_store(&aof.rewrite_base_size, atomic_load(&aof.base_size) + olds + atomic_load(&aof.incr_size));
}

/* The AOF thread, after CONFIG SET appendonly yes: the first base, then the fd. */
static void startRun(void)
{
	int64_t t0 = mstime();
	atomic_store(&aof.rewrite_start_ms, t0);
	int fd = createFresh();
	pthread_mutex_lock(&aof.io_lock);
	if (fd < 0) {
		/* records buffered meanwhile are dropped with the log they were for */
		atomic_store(&aof.enabled, 0);
		pthread_mutex_lock(&aof.buf_lock);
		aof.len = 0;
		pthread_mutex_unlock(&aof.buf_lock);
		atomic_store(&aof.written, atomic_load(&aof.appended));
		atomic_store(&aof.synced, atomic_load(&aof.appended));
		atomic_store(&aof.last_rewrite_ok, 0);
		serverLog(LL_WARNING, "appendonly yes failed: the AOF is off again (see the error above)");
	} else {
		aof.fd = fd;
		sizesReset();
		atomic_store(&aof.last_rewrite_ok, 1);
		serverLog(LL_NOTICE, "Append only file on: %s (appendfsync %s)", aof.dir, aofFsyncName(atomic_load(&aof.fsync_mode)));
	}
	atomic_store(&aof.starting, 0);
	atomic_store(&aof.last_rewrite_sec, (mstime() - t0) / 1000);
	pthread_mutex_unlock(&aof.io_lock);
	if (fd < 0) { /* after io_lock: CONFIG SET holds cfg_lock, then takes io_lock */
		pthread_mutex_lock(&srv.cfg_lock);
		srv.cfg.appendonly = 0;
		pthread_mutex_unlock(&srv.cfg_lock);
	}
}

/* ---------------------------------------------------------------- rewrite */

static void removeFile(const char *name)
{
	char path[PATH_MAX + AOF_NAME_MAX];
	snprintf(path, sizeof(path), "%s/%s", aof.dir, name);
	if (unlink(path) != 0 && errno != ENOENT)
		serverLog(LL_WARNING, "AOF rewrite: cannot remove %s: %s", path, strerror(errno));
}

static void rewriteRun(void)
{
	char err[PATH_MAX + 256];
	int64_t t0 = mstime();
	uint64_t lost_gen = atomic_load(&aof.lost_gen); /* losses before the base are repaired by it */
	atomic_store(&aof.rewrite_start_ms, t0);
	serverLog(LL_NOTICE, "Background append only file rewriting started");

	/* 1. switch appends to a new incr file, listed with everything before it;
	 * from here until the base is cut, effects that are not assignments are
	 * logged as whole keys (set under flush_rw, which every commit reads under) */
	pthread_rwlock_wrlock(&aof.flush_rw);
	atomic_store(&aof.cutting, 1);
	pthread_rwlock_unlock(&aof.flush_rw);
	pthread_mutex_lock(&aof.io_lock);
	uint64_t seq = aof.incrs[aof.nincrs - 1].seq + 1;
	aofFile incr, nbase;
	int fd = -1;
	if (aof.nincrs == AOF_MAX_INCRS) {
		snprintf(err, sizeof(err), "too many incr files (%d): earlier rewrites failed", AOF_MAX_INCRS);
		goto fail_locked;
	}
	fd = incrCreate(seq, &incr, err, sizeof(err));
	if (fd < 0)
		goto fail_locked;
	aof.incrs[aof.nincrs] = incr;
	if (manifestWrite(&aof.base, aof.incrs, aof.nincrs + 1, err, sizeof(err)) != C_OK) {
		close(fd);
		removeFile(incr.name);
		goto fail_locked;
	}
	/* the old file gets everything appended so far, then the new one takes over */
	if (flushLocked() == C_OK)
		syncLocked(); /* what fails here stays buffered and goes to the new file */
	close(aof.fd);
	aof.fd = fd;
	atomic_fetch_add(&aof.old_incr_size, atomic_load(&aof.incr_size));
	atomic_store(&aof.incr_size, AOF_MAGIC_LEN);
	aof.nincrs++;
	pthread_mutex_unlock(&aof.io_lock);

	/* 2. the base: the engine's consistent cut, writers keep running */
	int saved = baseSave(aof.base.seq + 1, &nbase, err, sizeof(err));
	atomic_store(&aof.cutting, 0);
	if (saved != C_OK)
		goto fail;

	/* 3. the new manifest: new base + the new incr; then drop the old files */
	pthread_mutex_lock(&aof.io_lock);
	aofFile old_base = aof.base, old_incrs[AOF_MAX_INCRS];
	int nold = aof.nincrs - 1;
	memcpy(old_incrs, aof.incrs, (size_t)nold * sizeof(aofFile));
	if (manifestWrite(&nbase, &aof.incrs[nold], 1, err, sizeof(err)) != C_OK) {
		pthread_mutex_unlock(&aof.io_lock);
		removeFile(nbase.name);
		goto fail;
	}
	aof.base = nbase;
	aof.incrs[0] = aof.incrs[nold];
	aof.nincrs = 1;
	atomic_store(&aof.old_incr_size, 0);
	atomic_store(&aof.base_size, fileSize(nbase.name));
	atomic_store(&aof.rewrite_base_size, atomic_load(&aof.base_size) + atomic_load(&aof.incr_size));
	pthread_mutex_unlock(&aof.io_lock);
	removeFile(old_base.name);
	for (int i = 0; i < nold; i++)
		removeFile(old_incrs[i].name);
	if (atomic_load(&aof.lost_err) && atomic_load(&aof.lost_gen) == lost_gen) {
		atomic_store(&aof.lost_err, 0);
		serverLog(LL_NOTICE, "AOF rewrite: the base holds the changes that could not be logged; writes are accepted again");
	}
	atomic_store(&aof.last_rewrite_ok, 1);
	atomic_fetch_add(&aof.rewrites, 1);
	atomic_store(&aof.rewrite_failures, 0);
	atomic_store(&aof.last_rewrite_sec, (mstime() - t0) / 1000);
	serverLog(LL_NOTICE, "Background AOF rewrite finished successfully (base %s)", nbase.name);
	return;

fail_locked:
	pthread_mutex_unlock(&aof.io_lock);
fail:
	atomic_store(&aof.cutting, 0);
	atomic_store(&aof.last_rewrite_ok, 0);
	atomic_fetch_add(&aof.rewrite_failures, 1);
	atomic_store(&aof.last_rewrite_sec, (mstime() - t0) / 1000);
	serverLog(LL_WARNING, "Background AOF rewrite failed: %s", err);
}

/* The AOF thread: everysec fsync, retries after an error, rewrites. */
static void *aofThread(void *arg)
{
	(void)arg;
	int64_t last_sync = mstime();
	pthread_mutex_lock(&aof.th_lock);
	while (!aof.stop) {
		if (aof.start_asked) {
			aof.start_asked = 0;
			pthread_mutex_unlock(&aof.th_lock);
			startRun();
			atomic_store(&aof.rewrite_running, 0);
			pthread_mutex_lock(&aof.th_lock);
			continue;
		}
		if (aof.rewrite_asked) {
			aof.rewrite_asked = 0;
			pthread_mutex_unlock(&aof.th_lock);
			rewriteRun();
			atomic_store(&aof.rewrite_running, 0);
			pthread_mutex_lock(&aof.th_lock);
			continue;
		}
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 100 * 1000 * 1000;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&aof.th_cond, &aof.th_lock, &ts);
		pthread_mutex_unlock(&aof.th_lock);

		/* records nobody waits for (the expiry sweep) and retries after an error */
		int mode = atomic_load(&aof.fsync_mode);
		if (aof.fd < 0)
			; /* off, or the first base is being written */
		else if (atomic_load(&aof.written) < atomic_load(&aof.appended) || atomic_load(&aof.write_err)) {
			pthread_mutex_lock(&aof.io_lock);
			int r = flushLocked();
			if (r == C_OK && mode == AOF_FSYNC_ALWAYS)
				r = syncLocked();
			if (r == C_OK && atomic_load(&aof.write_err)) {
				atomic_store(&aof.write_err, 0);
				serverLog(LL_NOTICE, "AOF write error cleared: writes are accepted again");
			}
			pthread_mutex_unlock(&aof.io_lock);
		}
		if (aof.fd >= 0 && mode == AOF_FSYNC_EVERYSEC && mstime() - last_sync >= 1000) {
			last_sync = mstime();
			/* only this thread closes fds, so the fsync needs no lock */
			uint64_t w = atomic_load(&aof.written);
			if (atomic_load(&aof.synced) < w) {
				if (fdatasync(aof.fd) == 0) {
					uint64_t s = atomic_load(&aof.synced);
					while (s < w && !atomic_compare_exchange_weak(&aof.synced, &s, w))
						;
				} else {
					int e = errno;
					if (atomic_exchange(&aof.write_err, e) != e)
						serverLog(LL_WARNING, "Error syncing the AOF file: %s; writes are refused", strerror(e));
				}
			}
		}
		pthread_mutex_lock(&aof.th_lock);
	}
	pthread_mutex_unlock(&aof.th_lock);
	return NULL;
}

int aofRewriteStart(char *err, size_t errlen)
{
	if (!aof.enabled) {
		/* Redis rewrites even with appendonly no; here the AOF exists only when on */
		snprintf(err, errlen, "ERR the append only file is off (appendonly no)");
		return C_ERR;
	}
	int expected = 0;
	if (!atomic_compare_exchange_strong(&aof.rewrite_running, &expected, 1)) {
		snprintf(err, errlen, "ERR Background append only file rewriting already in progress");
		return C_ERR;
	}
	pthread_mutex_lock(&aof.th_lock);
	aof.rewrite_asked = 1;
	pthread_cond_signal(&aof.th_cond);
	pthread_mutex_unlock(&aof.th_lock);
	return C_OK;
}

void aofCron(void)
{
	if (!aof.enabled || atomic_load(&aof.rewrite_running))
		return;
	atomic_store(&aof.fsync_mode, aofFsyncParse(srv.cfg.appendfsync));
	if (atomic_load(&aof.lost_err) && !atomic_load(&aof.starting)) {
		char err[128];
		aofRewriteStart(err, sizeof(err));
		return;
	}
	int pct = srv.cfg.auto_aof_rewrite_percentage;
	uint64_t cur = atomic_load(&aof.base_size) + atomic_load(&aof.old_incr_size) + atomic_load(&aof.incr_size);
	uint64_t base = atomic_load(&aof.rewrite_base_size);
	if (pct <= 0 || cur < srv.cfg.auto_aof_rewrite_min_size || base == 0)
		return;
	if ((cur - (cur > base ? base : cur)) * 100 / base >= (uint64_t)pct) {
		char err[128];
		serverLog(LL_NOTICE, "Starting automatic rewriting of AOF on %llu%% growth",
		          (unsigned long long)((cur - base) * 100 / base));
		aofRewriteStart(err, sizeof(err));
	}
}

/* ---------------------------------------------------------------- lifecycle */

static int threadStart(void)
{
	if (aof.thread_started)
		return C_OK;
	if (pthread_create(&aof.thread, NULL, aofThread, NULL) != 0) {
		serverLog(LL_WARNING, "Cannot start the AOF thread");
		return C_ERR;
	}
	aof.thread_started = 1;
	return C_OK;
}

int aofStart(kv_hook_fn inner)
{
	/* installed always, so that CONFIG SET appendonly yes needs no hook change */
	innerHook = inner;
	kv_env_set_hook(srv.env, aofChangeHook, NULL);
	if (!srv.cfg.appendonly)
		return C_OK;
	if (aof.nincrs == 0) {
		if ((aof.fd = createFresh()) < 0)
			return C_ERR;
	} else {
		char path[PATH_MAX + AOF_NAME_MAX];
		snprintf(path, sizeof(path), "%s/%s", aof.dir, aof.incrs[aof.nincrs - 1].name);
		aof.fd = open(path, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
		if (aof.fd < 0) {
			serverLog(LL_WARNING, "Cannot open the AOF file %s: %s", path, strerror(errno));
			return C_ERR;
		}
	}
	sizesReset();
	if (threadStart() != C_OK)
		return C_ERR;
	aof.enabled = 1;
	serverLog(LL_NOTICE, "Append only file on: %s (appendfsync %s)", aof.dir, srv.cfg.appendfsync);
	return C_OK;
}

/*
 * CONFIG SET appendonly yes|no on a running server (cfg_lock held).  Yes:
 * logging starts at once into the buffer, and the AOF thread writes the first
 * base (taken after logging started, so nothing falls between) and opens the
 * incr file; replies wait for the fsync policy only from then on, as in Redis.
 * No: flush, fsync and close; the files stay.
 */
int aofSetEnabled(int on, char *err, size_t errlen)
{
	if (on) {
		if (aof.enabled)
			return C_OK;
		int expected = 0;
		if (!atomic_compare_exchange_strong(&aof.rewrite_running, &expected, 1)) {
			snprintf(err, errlen, "an AOF rewrite is in progress");
			return C_ERR;
		}
		const char *dn = srv.cfg.appenddirname;
		if (!dn[0] || strchr(dn, '/') || !strcmp(dn, ".") || !strcmp(dn, "..")) {
			atomic_store(&aof.rewrite_running, 0);
			snprintf(err, errlen, "appenddirname must be one directory name under dir");
			return C_ERR;
		}
		aofDirPath();
		atomic_store(&aof.fsync_mode, aofFsyncParse(srv.cfg.appendfsync));
		if (manifestRead() != 0)
			aof.nincrs = 0; /* none, or unreadable: start numbering afresh */
		if (threadStart() != C_OK) {
			atomic_store(&aof.rewrite_running, 0);
			snprintf(err, errlen, "cannot start the AOF thread");
			return C_ERR;
		}
		atomic_store(&aof.written, atomic_load(&aof.appended));
		atomic_store(&aof.synced, atomic_load(&aof.appended));
		atomic_store(&aof.write_err, 0);
		atomic_store(&aof.starting, 1);
		atomic_store(&aof.enabled, 1);
		pthread_mutex_lock(&aof.th_lock);
		aof.start_asked = 1;
		pthread_cond_signal(&aof.th_cond);
		pthread_mutex_unlock(&aof.th_lock);
		serverLog(LL_NOTICE, "CONFIG SET appendonly yes: writing the first AOF base in %s", aof.dir);
		return C_OK;
	}
	if (!aof.enabled)
		return C_OK;
	if (atomic_load(&aof.rewrite_running)) {
		snprintf(err, errlen, "an AOF rewrite is in progress");
		return C_ERR;
	}
	atomic_store(&aof.enabled, 0);
	pthread_mutex_lock(&aof.io_lock);
	if (flushLocked() != C_OK || fdatasync(aof.fd) != 0)
		serverLog(LL_WARNING, "Cannot flush the AOF while turning it off: %s", strerror(errno));
	close(aof.fd);
	aof.fd = -1;
	atomic_store(&aof.write_err, 0);
	pthread_mutex_unlock(&aof.io_lock);
	serverLog(LL_NOTICE, "CONFIG SET appendonly no: the append only file is off");
	return C_OK;
}

void aofShutdown(void)
{
	if (!aof.thread_started)
		return;
	pthread_mutex_lock(&aof.th_lock);
	aof.stop = 1;
	pthread_cond_signal(&aof.th_cond);
	pthread_mutex_unlock(&aof.th_lock);
	pthread_join(aof.thread, NULL);
	aof.thread_started = 0;
	pthread_mutex_lock(&aof.io_lock);
	if (aof.fd >= 0 && (flushLocked() != C_OK || fdatasync(aof.fd) != 0))
		serverLog(LL_WARNING, "Cannot flush the AOF at shutdown: %s", strerror(atomic_load(&aof.write_err) ? atomic_load(&aof.write_err) : errno));
	if (aof.fd >= 0)
		close(aof.fd);
	aof.fd = -1;
	aof.enabled = 0;
	pthread_mutex_unlock(&aof.io_lock);
	/* a worker stuck in a command may still append: under the buffer's lock */
	pthread_mutex_lock(&aof.buf_lock);
	free(aof.buf);
	aof.buf = NULL;
	aof.len = aof.cap = 0;
	pthread_mutex_unlock(&aof.buf_lock);
}

void aofInfo(replyBuf *rb)
{
	char line[256];
	int n;
#define AOFLINE(...) do { n = snprintf(line, sizeof(line) - 2, __VA_ARGS__); memcpy(line + n, "\r\n", 2); addReplyRaw(rb, line, (size_t)n + 2); } while (0)
	int64_t start = atomic_load(&aof.rewrite_start_ms);
	int running = atomic_load(&aof.rewrite_running);
	AOFLINE("aof_enabled:%d", aof.enabled);
	AOFLINE("aof_rewrite_in_progress:%d", running);
	AOFLINE("aof_rewrite_scheduled:0");
	AOFLINE("aof_last_rewrite_time_sec:%lld", (long long)atomic_load(&aof.last_rewrite_sec));
	AOFLINE("aof_current_rewrite_time_sec:%lld", running ? (long long)(mstime() - start) / 1000 : -1LL);
	AOFLINE("aof_last_bgrewrite_status:%s", atomic_load(&aof.last_rewrite_ok) ? "ok" : "err");
	AOFLINE("aof_rewrites:%llu", (unsigned long long)atomic_load(&aof.rewrites));
	AOFLINE("aof_rewrites_consecutive_failures:%llu", (unsigned long long)atomic_load(&aof.rewrite_failures));
	AOFLINE("aof_last_write_status:%s", aofWriteError() ? "err" : "ok");
	AOFLINE("aof_last_cow_size:0");
	if (aof.enabled) {
		pthread_mutex_lock(&aof.buf_lock);
		size_t blen = aof.len;
		pthread_mutex_unlock(&aof.buf_lock);
		AOFLINE("aof_current_size:%llu", (unsigned long long)(atomic_load(&aof.base_size) +
		        atomic_load(&aof.old_incr_size) + atomic_load(&aof.incr_size)));
		AOFLINE("aof_base_size:%llu", (unsigned long long)atomic_load(&aof.rewrite_base_size));
		AOFLINE("aof_pending_rewrite:0");
		AOFLINE("aof_buffer_length:%zu", blen);
		AOFLINE("aof_pending_bio_fsync:0");
		AOFLINE("aof_delayed_fsync:0");
	}
#undef AOFLINE
}

/* BGREWRITEAOF */
void bgrewriteaofCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	(void)argc;
	(void)argv;
	(void)lens;
	char err[128];
	if (aofRewriteStart(err, sizeof(err)) != C_OK)
		addReplyError(&c->rb, err[0] == 'E' ? err + 4 : err);
	else
		addReplyStatus(&c->rb, "Background append only file rewriting started");
}
