/*
 * multi.c -- MULTI / EXEC / DISCARD / WATCH / UNWATCH.
 *
 * QUEUEING.  After MULTI every command but EXEC, DISCARD, MULTI, WATCH, QUIT
 * and RESET is checked as commandExecute would (unknown name, arity, AUTH,
 * MISCONF) and queued with +QUEUED; a failed check replies its error and makes
 * EXEC answer -EXECABORT, as Redis does.
 *
 * EXEC.  A transaction made only of GET, MGET, SET key value, MSET, DEL, UNLINK,
 * EXISTS, INCR, DECR, INCRBY and DECRBY runs as ONE all-or-nothing engine batch
 * on the current namespace: every touched shard is locked together, so no
 * client ever sees part of it.  Anything else (SET with options, SELECT ...),
 * or a batch the engine refuses as a whole (a size or memory limit, an INCR of
 * a non-integer: nothing was applied, and Redis runs the other commands of a
 * transaction whose INCR fails), runs
 * command by command under a server mutex that orders EXECs among themselves;
 * other clients' single commands may then interleave with it (the engine
 * offers no lock over several calls; see server/README.md).  Either way the AOF
 * logs the whole EXEC as one record (aof.c), so replay never applies half.
 *
 * WATCH.  Watched keys live in a hashed registry; the engine change hook (every
 * write, expiry, eviction and flush) marks the watching clients dirty, and EXEC
 * of a dirty client replies a null array.  So that no write lands between
 * EXEC's check and its commands, write commands pass a gate while anyone
 * watches (a reader-writer lock; EXEC of a watching client takes it
 * exclusively).  With no WATCH anywhere the gate is one relaxed load: each
 * worker bumps its own write_seq around a write command, and WATCH waits for a
 * worker that was inside one when the first key got watched.
 */
#include "server.h"
#include "aof.h"

#include <limits.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Watched keys hash into WATCH_BUCKETS chains, guarded by WATCH_STRIPES
 * mutexes (bucket % stripes): a write touches one stripe, so an open WATCH does
 * not serialise every writer of every worker on one lock, and chains stay short
 * for a million watched keys. */
#define WATCH_BUCKETS 65536
#define WATCH_STRIPES 64

typedef struct queuedCmd {
	const redisCommand *cmd;
	int     argc;
	char  **argv;
	size_t *lens;
} queuedCmd;

typedef struct watchEntry {
	struct watchEntry *next, **pprev; /* pprev: O(1) unlink */
	client   *c;
	uint32_t  h;
	char      ns[KV_NS_NAME_MAX + 1];
	size_t    klen;
	char      key[];
} watchEntry;

typedef struct multiState {
	int          in_multi;
	int          in_exec;
	int          aborted;      /* a queueing error: EXEC answers EXECABORT */
	_Atomic int  watch_dirty;  /* set by the change hook */
	queuedCmd   *q;
	size_t       nq, capq;
	size_t       qbytes;
	watchEntry **watched;
	size_t       nwatched, capwatched;
} multiState;

static pthread_mutex_t watchLocks[WATCH_STRIPES];
static pthread_once_t watchLocksOnce = PTHREAD_ONCE_INIT;
static watchEntry *watchTable[WATCH_BUCKETS];

static void watchLocksInit(void)
{
	for (int i = 0; i < WATCH_STRIPES; i++)
		pthread_mutex_init(&watchLocks[i], NULL);
}

static pthread_mutex_t *watchStripe(uint32_t h)
{
	pthread_once(&watchLocksOnce, watchLocksInit);
	return &watchLocks[(h % WATCH_BUCKETS) % WATCH_STRIPES];
}
static _Atomic size_t watchCount;
static pthread_mutex_t execLock = PTHREAD_MUTEX_INITIALIZER;
static pthread_rwlock_t gate;
static pthread_once_t gateOnce = PTHREAD_ONCE_INIT;

static void gateInit(void)
{
	pthread_rwlockattr_t a;
	pthread_rwlockattr_init(&a);
	/* an EXEC must not starve behind a steady stream of writes */
	pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&gate, &a);
	pthread_rwlockattr_destroy(&a);
}

int multiWriteBegin(worker *w)
{
	atomic_fetch_add(&w->write_seq, 1); /* odd: inside a write command */
	if (atomic_load(&watchCount) == 0)
		return 0;
	pthread_once(&gateOnce, gateInit);
	pthread_rwlock_rdlock(&gate);
	return 1;
}

void multiWriteEnd(worker *w, int gated)
{
	if (gated)
		pthread_rwlock_unlock(&gate);
	atomic_fetch_add(&w->write_seq, 1);
}

/* After watchCount went up: wait out write commands that started before and skipped the gate. */
static void drainUngatedWriters(worker *self)
{
	for (int i = 0; i < srv.nworkers; i++) {
		worker *w = &srv.workers[i];
		if (w == self)
			continue;
		uint64_t s = atomic_load(&w->write_seq);
		while ((s & 1) && atomic_load(&w->write_seq) == s)
			sched_yield();
	}
}

static uint32_t watchHash(const char *ns, const void *key, size_t klen)
{
	uint32_t h = 2166136261u;
	for (const char *p = ns; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	h = (h ^ 0xFF) * 16777619u;
	for (size_t i = 0; i < klen; i++)
		h = (h ^ ((const unsigned char *)key)[i]) * 16777619u;
	return h;
}

static multiState *mstate(client *c)
{
	if (c->mstate == NULL)
		c->mstate = calloc(1, sizeof(multiState));
	return c->mstate;
}

/* ---------------------------------------------------------------- WATCH */

static void unwatchAll(client *c)
{
	multiState *m = c->mstate;
	if (m == NULL || m->nwatched == 0) {
		if (m)
			atomic_store(&m->watch_dirty, 0);
		return;
	}
	for (size_t i = 0; i < m->nwatched; i++) {
		watchEntry *e = m->watched[i];
		pthread_mutex_t *l = watchStripe(e->h);
		pthread_mutex_lock(l);
		*e->pprev = e->next;
		if (e->next)
			e->next->pprev = e->pprev;
		pthread_mutex_unlock(l);
		free(e);
	}
	atomic_fetch_sub(&watchCount, m->nwatched);
	m->nwatched = 0;
	atomic_store(&m->watch_dirty, 0);
}

static void multiChangeHookTouch(const char *ns, const void *key, size_t klen, int event)
{
	if (atomic_load_explicit(&watchCount, memory_order_relaxed) == 0)
		return;
	if (event == KV_EV_FLUSH) { /* rare: every stripe in turn */
		for (size_t b = 0; b < WATCH_BUCKETS; b++) {
			pthread_mutex_t *l = watchStripe((uint32_t)b);
			pthread_mutex_lock(l);
			for (watchEntry *e = watchTable[b]; e; e = e->next)
				if (!strcmp(e->ns, ns))
					atomic_store(&e->c->mstate->watch_dirty, 1);
			pthread_mutex_unlock(l);
		}
	} else {
		uint32_t h = watchHash(ns, key, klen);
		pthread_mutex_t *l = watchStripe(h);
		pthread_mutex_lock(l);
		for (watchEntry *e = watchTable[h % WATCH_BUCKETS]; e; e = e->next)
			if (e->h == h && e->klen == klen && !memcmp(e->key, key, klen) && !strcmp(e->ns, ns))
				atomic_store(&e->c->mstate->watch_dirty, 1);
		pthread_mutex_unlock(l);
	}
}

static kv_hook_fn innerHook;

static void multiChangeHook(void *ctx, const char *ns, const void *key, size_t klen, int event)
{
	multiChangeHookTouch(ns, key, klen, event);
	innerHook(ctx, ns, key, klen, event);
}

kv_hook_fn multiHook(kv_hook_fn inner)
{
	innerHook = inner;
	return multiChangeHook;
}

/* WATCH key [key ...] */
void watchCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	multiState *m = mstate(c);
	if (m == NULL) {
		replyKvError(c, KV_ENOMEM);
		return;
	}
	if (m->in_multi) {
		addReplyError(&c->rb, "WATCH inside MULTI is not allowed");
		return;
	}
	const char *ns = kv_ns_name(c->db);
	for (int i = 1; i < argc; i++) {
		/* a key watched twice gets two entries: either marks the client dirty,
		 * and a check against every watched key would make WATCH O(n^2) */
		uint32_t h = watchHash(ns, argv[i], lens[i]);
		if (m->nwatched == m->capwatched) {
			size_t ncap = m->capwatched ? m->capwatched * 2 : 8;
			watchEntry **nw = realloc(m->watched, ncap * sizeof(*nw));
			if (nw == NULL) {
				replyKvError(c, KV_ENOMEM);
				return;
			}
			m->watched = nw;
			m->capwatched = ncap;
		}
		watchEntry *e = malloc(sizeof(*e) + lens[i] + 1);
		if (e == NULL) {
			replyKvError(c, KV_ENOMEM);
			return;
		}
		e->c = c;
		e->h = h;
		snprintf(e->ns, sizeof(e->ns), "%s", ns);
		e->klen = lens[i];
		memcpy(e->key, argv[i], lens[i]);
		pthread_mutex_t *l = watchStripe(h);
		watchEntry **head = &watchTable[h % WATCH_BUCKETS];
		pthread_mutex_lock(l);
		e->next = *head;
		if (e->next)
			e->next->pprev = &e->next;
		e->pprev = head;
		*head = e;
		atomic_fetch_add(&watchCount, 1);
		pthread_mutex_unlock(l);
		m->watched[m->nwatched++] = e;
	}
	drainUngatedWriters(c->w);
	addReplyStatus(&c->rb, "OK");
}

/* UNWATCH */
void unwatchCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	(void)argc; (void)argv; (void)lens;
	unwatchAll(c);
	addReplyStatus(&c->rb, "OK");
}

/* ---------------------------------------------------------------- queue */

static void queueFree(multiState *m)
{
	for (size_t i = 0; i < m->nq; i++) {
		free(m->q[i].argv);
		free(m->q[i].lens);
	}
	free(m->q);
	m->q = NULL;
	m->nq = m->capq = 0;
	m->qbytes = 0;
	m->in_multi = 0;
	m->aborted = 0;
}

int multiQueueing(client *c)
{
	return c->mstate && c->mstate->in_multi && !c->mstate->in_exec;
}

int multiPassThrough(const redisCommand *cmd)
{
	static const char *names[] = {"exec", "discard", "multi", "watch", "quit", "reset", NULL};
	for (int i = 0; names[i]; i++)
		if (!strcmp(cmd->name, names[i]))
			return 1;
	return 0;
}

void multiFlagError(client *c)
{
	if (multiQueueing(c))
		c->mstate->aborted = 1;
}

void multiQueue(client *c, const redisCommand *cmd, int argc, const char **argv, const size_t *lens)
{
	multiState *m = c->mstate;
	size_t bytes = 0;
	for (int i = 0; i < argc; i++)
		bytes += lens[i] + 1;
	if (m->qbytes + bytes > atomic_load(&srv.qbuf_limit)) {
		addReplyError(&c->rb, "transaction too large (client-query-buffer-limit)");
		m->aborted = 1;
		return;
	}
	if (m->nq == m->capq) {
		size_t ncap = m->capq ? m->capq * 2 : 16;
		queuedCmd *nq = realloc(m->q, ncap * sizeof(*nq));
		if (nq == NULL)
			goto oom;
		m->q = nq;
		m->capq = ncap;
	}
	/* one block: the pointers, then the argument bytes (NUL-terminated) */
	char **av = malloc((size_t)argc * sizeof(char *) + bytes);
	size_t *lv = malloc((size_t)argc * sizeof(size_t));
	if (av == NULL || lv == NULL) {
		free(av);
		free(lv);
		goto oom;
	}
	char *p = (char *)(av + argc);
	for (int i = 0; i < argc; i++) {
		av[i] = p;
		lv[i] = lens[i];
		memcpy(p, argv[i], lens[i]);
		p[lens[i]] = '\0';
		p += lens[i] + 1;
	}
	m->q[m->nq++] = (queuedCmd){cmd, argc, av, lv};
	m->qbytes += bytes;
	addReplyStatus(&c->rb, "QUEUED");
	return;
oom:
	m->aborted = 1;
	replyKvError(c, KV_ENOMEM);
}

/* MULTI */
void multiCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	(void)argc; (void)argv; (void)lens;
	multiState *m = mstate(c);
	if (m == NULL) {
		replyKvError(c, KV_ENOMEM);
		return;
	}
	if (m->in_multi) {
		addReplyError(&c->rb, "MULTI calls can not be nested");
		return;
	}
	m->in_multi = 1;
	m->aborted = 0;
	addReplyStatus(&c->rb, "OK");
}

/* DISCARD */
void discardCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	(void)argc; (void)argv; (void)lens;
	if (c->mstate == NULL || !c->mstate->in_multi) {
		addReplyError(&c->rb, "DISCARD without MULTI");
		return;
	}
	queueFree(c->mstate);
	unwatchAll(c);
	addReplyStatus(&c->rb, "OK");
}

/* ---------------------------------------------------------------- EXEC */

/* The increment of INCR, DECR, INCRBY, DECRBY; 0 if q is none of them or its
 * argument is not one the batch can take (the command path words the error). */
static int incrBy(const queuedCmd *q, long long *by)
{
	const char *n = q->cmd->name;
	long long v = 1;
	if (!strcmp(n, "incr") || !strcmp(n, "decr")) {
		*by = n[0] == 'd' ? -1 : 1;
		return 1;
	}
	if (strcmp(n, "incrby") && strcmp(n, "decrby"))
		return 0;
	if (!argToLongLong(q->argv[2], q->lens[2], &v) || (n[0] == 'd' && v == LLONG_MIN))
		return 0;
	*by = n[0] == 'd' ? -v : v;
	return 1;
}

/* Ops of a command the one-batch path can run; -1 if it cannot. */
static int batchOps(const queuedCmd *q)
{
	const char *n = q->cmd->name;
	long long by;
	if (!strcmp(n, "get") || incrBy(q, &by))
		return 1;
	if (!strcmp(n, "set"))
		return q->argc == 3 ? 1 : -1;
	if (!strcmp(n, "mget") || !strcmp(n, "del") || !strcmp(n, "unlink") || !strcmp(n, "exists"))
		return q->argc - 1;
	if (!strcmp(n, "mset"))
		return q->argc % 2 == 1 ? (q->argc - 1) / 2 : -1;
	return -1;
}

/* The one-batch path.  0 done (replied), -1 not applicable or refused as a whole. */
static int execAsBatch(client *c, multiState *m)
{
	size_t nops = 0;
	for (size_t i = 0; i < m->nq; i++) {
		int k = batchOps(&m->q[i]);
		if (k < 0)
			return -1;
		nops += (size_t)k;
	}
	kv_op *ops = calloc(nops ? nops : 1, sizeof(*ops));
	if (ops == NULL)
		return -1;
	size_t o = 0;
	for (size_t i = 0; i < m->nq; i++) {
		const queuedCmd *q = &m->q[i];
		const char *n = q->cmd->name;
		if (!strcmp(n, "set") || !strcmp(n, "mset")) {
			for (int a = 1; a + 1 < q->argc; a += 2, o++) {
				ops[o].op = KV_OP_SET;
				ops[o].key = q->argv[a];
				ops[o].klen = q->lens[a];
				ops[o].val = q->argv[a + 1];
				ops[o].vlen = q->lens[a + 1];
				ops[o].type = KV_T_BYTES;
				ops[o].expires_at = KV_EXPIRE_DEFAULT; /* as SET and MSET write it */
			}
			continue;
		}
		long long by;
		if (incrBy(q, &by)) {
			ops[o].op = KV_OP_INCR;
			ops[o].key = q->argv[1];
			ops[o].klen = q->lens[1];
			ops[o].by = by;
			o++;
			continue;
		}
		int op = !strcmp(n, "exists") ? KV_OP_EXISTS : (!strcmp(n, "del") || !strcmp(n, "unlink")) ? KV_OP_DEL : KV_OP_GET;
		for (int a = 1; a < q->argc; a++, o++) {
			ops[o].op = op;
			ops[o].key = q->argv[a];
			ops[o].klen = q->lens[a];
		}
	}
	kv_error err;
	kv_buf *arena = &c->w->buf;
	int rc = kv_batch(c->db, ops, nops, KV_BATCH_ALL_OR_NOTHING, arena, &err);
	if (rc != KV_OK) {
		free(ops);
		return -1; /* nothing was applied: the command-by-command path gives each its reply */
	}
	addReplyArrayLen(&c->rb, (long long)m->nq);
	o = 0;
	for (size_t i = 0; i < m->nq; i++) {
		const queuedCmd *q = &m->q[i];
		const char *n = q->cmd->name;
		long long by;
		if (!strcmp(n, "set") || !strcmp(n, "mset")) {
			o += (size_t)(q->argc - 1) / 2;
			addReplyStatus(&c->rb, "OK");
		} else if (incrBy(q, &by)) {
			addReplyLongLong(&c->rb, ops[o++].out_int);
		} else if (!strcmp(n, "get") || !strcmp(n, "mget")) {
			if (n[0] == 'm')
				addReplyArrayLen(&c->rb, q->argc - 1);
			for (int a = 1; a < q->argc; a++, o++) {
				if (ops[o].status == KV_OK)
					addReplyBulk(&c->rb, arena->data + ops[o].out_off, ops[o].out_len);
				else
					addReplyNull(&c->rb);
			}
		} else {
			long long cnt = 0;
			for (int a = 1; a < q->argc; a++, o++)
				cnt += ops[o].status == KV_OK;
			addReplyLongLong(&c->rb, cnt);
		}
	}
	free(ops);
	return 0;
}

/* EXEC */
/*
 * With the AOF on, the collection writes among the queued commands take their
 * keys' stripes all at once, in order, before the first runs (aof.c): their
 * effects then reach the log in the engine's order, and no two EXECs or
 * commands wait on each other's stripes.  Released when EXEC ends.  With a
 * SELECT or NAMESPACE among them the namespaces are not known ahead: every
 * stripe is taken (rare; it orders that EXEC against every other AOF write).
 */
static void execLockEffectKeys(client *c, multiState *m)
{
	if (!aofEnabled())
		return;
	kv_val *keys = NULL;
	size_t n = 0, cap = 0;
	int effects = 0, switches = 0;
	for (size_t i = 0; i < m->nq; i++) {
		effects |= (m->q[i].cmd->flags & CMD_EFFECT) != 0;
		switches |= m->q[i].cmd->proc == selectCommand || m->q[i].cmd->proc == namespaceCommand;
	}
	if (effects && switches) { /* later keys live in another namespace: hold every stripe */
		aofLockAllKeys();
		return;
	}
	for (size_t i = 0; i < m->nq && n != (size_t)-1; i++)
		if (m->q[i].cmd->flags & CMD_EFFECT)
			n = commandKeys(m->q[i].cmd, m->q[i].argc, (const char **)m->q[i].argv, m->q[i].lens,
			                &keys, n, &cap);
	if (n == (size_t)-1)
		aofEffect(c->dbname, 0, NULL); /* cannot order them: writes are refused until a rewrite */
	else
		aofLockKeys(c->dbname, keys, n);
	free(keys);
}

void execCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	(void)argc; (void)argv; (void)lens;
	multiState *m = c->mstate;
	int gated = 0;
	if (m == NULL || !m->in_multi) {
		addReplyError(&c->rb, "EXEC without MULTI");
		return;
	}
	if (m->aborted) {
		addReplyError(&c->rb, "-EXECABORT Transaction discarded because of previous errors.");
		goto done;
	}
	gated = m->nwatched > 0;
	if (gated) {
		pthread_once(&gateOnce, gateInit);
		pthread_rwlock_wrlock(&gate); /* no write between the check and the commands */
	}
	if (atomic_load(&m->watch_dirty)) {
		addReplyNullArray(&c->rb);
		goto done;
	}
	int writes = 0;
	for (size_t i = 0; i < m->nq; i++)
		writes |= (m->q[i].cmd->flags & CMD_WRITE) != 0;
	if (writes && aofWriteError()) {
		aofReplyMisconf(&c->rb);
		goto done;
	}
	m->in_exec = 1;
	if (execAsBatch(c, m) != 0) {
		pthread_mutex_lock(&execLock);
		execLockEffectKeys(c, m);
		addReplyArrayLen(&c->rb, (long long)m->nq);
		for (size_t i = 0; i < m->nq; i++) {
			queuedCmd *q = &m->q[i];
			atomic_store_explicit(&c->last_cmd, q->cmd->name, memory_order_relaxed);
			q->cmd->proc(c, q->argc, (const char **)q->argv, q->lens);
		}
		pthread_mutex_unlock(&execLock);
	}
	m->in_exec = 0;
done:
	if (gated)
		pthread_rwlock_unlock(&gate);
	queueFree(m);
	unwatchAll(c);
}

int multiInExec(client *c)
{
	return c->mstate && c->mstate->in_exec;
}

/* RESET and connection close. */
void multiReset(client *c)
{
	if (c->mstate == NULL)
		return;
	queueFree(c->mstate);
	unwatchAll(c);
}

void multiFree(client *c)
{
	if (c->mstate == NULL)
		return;
	multiReset(c);
	free(c->mstate->watched);
	free(c->mstate);
	c->mstate = NULL;
}
