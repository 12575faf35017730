/*
 * blocking.c -- BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BZPOPMIN, BZPOPMAX and
 * CLIENT UNBLOCK: the client waits, no thread does.
 *
 * HOW IT WORKS
 *   The engine has no blocking calls.  A blocking command first tries the
 *   plain pop on each key in argument order; if every key is empty, its client
 *   becomes a waiter: one link in the FIFO queue of each key it names, in a
 *   registry hashed by (namespace, key) under one mutex.  The client then stops
 *   running commands (its later pipelined requests stay in its query buffer)
 *   but its socket is still read, so a disconnect removes the waiter at once.
 *
 *   The change hook (after the engine released its locks) notes every key that
 *   gained elements (push, ZADD, a STORE or rename onto it) in a thread-local
 *   list, only while someone waits.  After the command that caused them -- after
 *   EXEC as a whole for a transaction, as in Redis -- the same thread serves the
 *   noted keys: under the registry lock, for each key's waiters in FIFO order,
 *   it makes the waiter's non-blocking pop (kv_pop, kv_lmove, kv_zpop) on the
 *   waiter's namespace, encodes the waiter's reply in the waiter's protocol and
 *   marks it done; then it wakes the waiter's worker (workerNotifyMail).  That
 *   worker -- the only one that touches the client's socket -- appends the reply
 *   and runs the client's waiting commands.  A BLMOVE served this way pushes
 *   onto its destination, which the hook notes and the same loop serves next.
 *
 *   No lost wake-up: a blocking command counts itself in `nwaiting` before its
 *   first pop attempt, under the registry lock, and the hook reads the count
 *   after the push's engine call returned; either the attempt sees the element
 *   or the pusher sees the count and serves after the waiter is queued.
 *
 *   Timeouts: each worker keeps its blocked clients with their deadlines
 *   (owner thread only); its epoll wait never sleeps past the earliest one, and
 *   an expired waiter is answered like a served one (a null array).
 *
 *   AOF: a blocking command that pops at once logs its effect like LPOP / LMOVE
 *   / ZREM (its keys' stripes held, as every collection write's).  A pop made
 *   on a waiter's behalf logs no effect: its key goes through the change hook
 *   like any write, and aof.c logs it whole when the serving pass commits,
 *   after the registry lock is released (a command holding a stripe may wait
 *   for the registry: stripes are never taken under it).  Only then, and once
 *   the fsync policy is met, are the served waiters' replies released
 *   (SERVED, then DONE).
 *
 *   Lock order: the WATCH gate (multiWriteBegin), AOF stripes, the registry
 *   lock, then engine and hook locks (pub/sub, a worker's lock).  The
 *   registry lock is held for O(1) work per key a blocking command names, and
 *   by a serving pass for one engine pop per waiter it serves (a push of n
 *   elements serves at most n, as Redis's one thread would in turn); only
 *   blocking commands, serving passes and CLIENT UNBLOCK (a scan of the
 *   waiters) take it, never a plain command.
 */
#include "server.h"
#include "aof.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { BK_POP, BK_LMOVE, BK_ZPOP };
enum { WS_WAITING, WS_SERVED, WS_DONE }; /* SERVED: popped for, reply not yet released */
enum { SERVE_NOTHING, SERVE_DONE, SERVE_ERROR };

typedef struct keyQueue keyQueue;
typedef struct waiter waiter;

typedef struct waitLink { /* a waiter's place in one key's queue */
	waiter          *w;
	keyQueue        *q;
	struct waitLink *prev, *next;
} waitLink;

struct keyQueue {
	keyQueue *chain;
	uint32_t  hash;
	waitLink *head, *tail;
	size_t    nslen, klen;
	char      data[]; /* ns, then the key */
};

struct waiter {
	client   *c;
	uint64_t  id;
	kv_ns    *db;
	int       kind, where, to;
	char     *dst;
	size_t    dstlen;
	size_t    nkeys;
	waitLink *links;
	int64_t   deadline_ms; /* monotonic; 0: none */
	size_t    tidx;        /* in its worker's timer set */
	int       state;       /* registry lock */
	replyBuf  reply;       /* registry lock until done */
	waiter   *gprev, *gnext;
	waiter   *snext;       /* the serving thread's list of SERVED waiters */
};

static struct {
	pthread_mutex_t lock;
	keyQueue      **buckets;
	size_t          nbuckets, nqueues;
	waiter         *all;       /* every waiting client (CLIENT UNBLOCK) */
	size_t          nblocked;  /* how many (INFO blocked_clients) */
	_Atomic size_t  nwaiting;  /* nblocked plus first attempts in progress (the hook's gate) */
} reg = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* Blocked clients of one worker with their deadlines (owner thread only). */
typedef struct timerSet {
	waiter **v;
	size_t   n, cap;
	int64_t  earliest; /* no deadline before this (may be early) */
} timerSet;
static timerSet *timers; /* one per worker, made before the workers start */

int blockingInit(int nworkers)
{
	timers = calloc((size_t)nworkers, sizeof(*timers));
	return timers ? C_OK : C_ERR;
}

void blockingFree(void)
{
	for (int i = 0; timers && i < srv.nworkers; i++)
		free(timers[i].v);
	free(timers);
	timers = NULL;
}

static int64_t nowMs(void)
{
	return ustime_mono() / 1000;
}

/* ---------------------------------------------------------------- registry */

static uint32_t queueHash(const char *ns, size_t nslen, const void *key, size_t klen)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < nslen; i++)
		h = (h ^ (unsigned char)ns[i]) * 16777619u;
	h = (h ^ 0xFF) * 16777619u;
	for (size_t i = 0; i < klen; i++)
		h = (h ^ ((const unsigned char *)key)[i]) * 16777619u;
	return h;
}

static keyQueue *queueFind(const char *ns, size_t nslen, const void *key, size_t klen, uint32_t h)
{
	if (reg.nbuckets == 0)
		return NULL;
	for (keyQueue *q = reg.buckets[h & (reg.nbuckets - 1)]; q; q = q->chain)
		if (q->hash == h && q->nslen == nslen && q->klen == klen && memcmp(q->data, ns, nslen) == 0 &&
		    memcmp(q->data + nslen, key, klen) == 0)
			return q;
	return NULL;
}

static int queueGrow(void)
{
	size_t nb = reg.nbuckets ? reg.nbuckets * 2 : 256;
	keyQueue **b = calloc(nb, sizeof(*b));
	if (b == NULL)
		return -1;
	for (size_t i = 0; i < reg.nbuckets; i++)
		for (keyQueue *q = reg.buckets[i], *next; q; q = next) {
			next = q->chain;
			q->chain = b[q->hash & (nb - 1)];
			b[q->hash & (nb - 1)] = q;
		}
	free(reg.buckets);
	reg.buckets = b;
	reg.nbuckets = nb;
	return 0;
}

static keyQueue *queueGet(const char *ns, const void *key, size_t klen)
{
	size_t nslen = strlen(ns);
	uint32_t h = queueHash(ns, nslen, key, klen);
	keyQueue *q = queueFind(ns, nslen, key, klen, h);
	if (q)
		return q;
	if (reg.nqueues >= reg.nbuckets && queueGrow() != 0 && reg.nbuckets == 0)
		return NULL;
	q = calloc(1, sizeof(*q) + nslen + klen);
	if (q == NULL)
		return NULL;
	q->hash = h;
	q->nslen = nslen;
	q->klen = klen;
	memcpy(q->data, ns, nslen);
	if (klen)
		memcpy(q->data + nslen, key, klen);
	q->chain = reg.buckets[h & (reg.nbuckets - 1)];
	reg.buckets[h & (reg.nbuckets - 1)] = q;
	reg.nqueues++;
	return q;
}

static void queueDrop(keyQueue *q)
{
	keyQueue **pp = &reg.buckets[q->hash & (reg.nbuckets - 1)];
	while (*pp != q)
		pp = &(*pp)->chain;
	*pp = q->chain;
	reg.nqueues--;
	free(q);
}

/* Take w out of every queue (registry lock held). */
static void waiterUnlink(waiter *w)
{
	for (size_t i = 0; i < w->nkeys; i++) {
		waitLink *l = &w->links[i];
		keyQueue *q = l->q;
		if (q == NULL)
			continue;
		if (l->prev)
			l->prev->next = l->next;
		else
			q->head = l->next;
		if (l->next)
			l->next->prev = l->prev;
		else
			q->tail = l->prev;
		l->q = NULL;
		if (q->head == NULL)
			queueDrop(q);
	}
	if (w->gprev)
		w->gprev->gnext = w->gnext;
	else if (reg.all == w)
		reg.all = w->gnext;
	if (w->gnext)
		w->gnext->gprev = w->gprev;
	w->gprev = w->gnext = NULL;
	reg.nblocked--;
	atomic_fetch_sub(&reg.nwaiting, 1);
}

/* Answer w with what its reply buffer holds and wake its worker (registry lock held). */
static void waiterDone(waiter *w)
{
	if (w->state == WS_WAITING)
		waiterUnlink(w);
	w->state = WS_DONE;
	workerNotifyMail(w->c);
}

static void waiterFree(waiter *w)
{
	replyFree(&w->reply);
	free(w->links);
	free(w->dst);
	free(w);
}

static void timerAdd(worker *wk, waiter *w)
{
	timerSet *t = &timers[wk->idx];
	if (t->n == t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : 16;
		waiter **nv = realloc(t->v, ncap * sizeof(*nv));
		if (nv == NULL)
			return; /* no timer: it waits until served or closed */
		t->v = nv;
		t->cap = ncap;
	}
	w->tidx = t->n;
	t->v[t->n++] = w;
	if (w->deadline_ms && (t->earliest == 0 || w->deadline_ms < t->earliest))
		t->earliest = w->deadline_ms;
}

static void timerDel(worker *wk, waiter *w)
{
	timerSet *t = &timers[wk->idx];
	if (w->tidx < t->n && t->v[w->tidx] == w) {
		t->v[w->tidx] = t->v[--t->n];
		t->v[w->tidx]->tidx = w->tidx;
	}
}

/* ---------------------------------------------------------------- serving */

typedef struct popSpec {
	kv_ns      *db;
	int         kind, where, to, resp;
	const char *dst;
	size_t      dstlen;
	client     *self;  /* the command's own attempt: log its AOF effect as this client's */
} popSpec;

/*
 * The non-blocking form of a blocking pop on key, its reply into rb.
 * serving: on a waiter's behalf (a key of another kind is skipped, as Redis
 * leaves such a waiter blocked); else the command's own first attempt (a key
 * of another kind is WRONGTYPE).
 */
static int popOnce(const popSpec *p, const char *key, size_t klen, replyBuf *rb, int serving)
{
	kv_elems e = KV_ELEMS_INIT;
	int rc, out = SERVE_NOTHING;
	if (p->kind == BK_LMOVE) {
		kv_buf b = KV_BUF_INIT;
		rc = kv_lmove(p->db, key, klen, p->dst, p->dstlen, p->where, p->to, &b);
		if (rc == KV_OK) {
			if (p->self)
				listMoveEffect(p->self, key, klen, p->dst, p->dstlen, p->where, p->to, b.data, b.len);
			addReplyBulk(rb, b.data, b.len);
			out = SERVE_DONE;
		} else if (rc == KV_EWRONGTYPE && serving) {
			int kind = 0;
			if (kv_kind(p->db, key, klen, &kind) == KV_OK && kind == KV_T_LIST)
				rc = KV_EWRONGTYPE; /* the destination's: the waiter gets the error */
			else
				rc = KV_NOTFOUND;
		}
		kv_buf_free(srv.env, &b);
	} else {
		rc = p->kind == BK_POP ? kv_pop(p->db, key, klen, p->where, 0, 0, &e)
		                       : kv_zpop(p->db, key, klen, p->where, 0, 0, &e);
		if (rc == KV_OK && e.n) {
			if (p->self && p->kind == BK_POP) {
				listPopEffect(p->self, key, klen, p->where, 1);
			} else if (p->self) {
				kv_val eff[3] = {{.data = "ZREM", .len = 4}, {.data = key, .len = klen},
				                 {.data = e.bytes.data + e.v[0].off, .len = e.v[0].len}};
				effectJoin(p->self, eff, 3, NULL, 0);
			}
			addReplyArrayLen(rb, p->kind == BK_POP ? 2 : 3);
			addReplyBulk(rb, key, klen);
			addReplyBulk(rb, e.bytes.data + e.v[0].off, e.v[0].len);
			if (p->kind == BK_ZPOP)
				addReplyDouble(rb, e.v[0].score);
			out = SERVE_DONE;
		} else if (rc == KV_OK || (rc == KV_EWRONGTYPE && serving)) {
			rc = KV_NOTFOUND;
		}
	}
	kv_elems_free(srv.env, &e);
	if (rc != KV_OK && rc != KV_NOTFOUND) {
		client tmp; /* replyKvError writes through a client: lend it rb */
		memset(&tmp, 0, sizeof(tmp));
		tmp.rb = *rb;
		replyKvError(&tmp, rc);
		*rb = tmp.rb;
		out = SERVE_ERROR;
	}
	return out;
}

/* Keys that gained elements while someone waits, noted by the hook. */
typedef struct readyList {
	char  *buf; /* entries: u32 nslen, ns, u32 klen, key */
	size_t len, cap;
} readyList;
static _Thread_local readyList tlReady;

static void readyAdd(const char *ns, const void *key, size_t klen)
{
	uint32_t nl = (uint32_t)strlen(ns), kl = (uint32_t)klen;
	size_t need = tlReady.len + 8 + nl + klen;
	if (need > tlReady.cap) {
		size_t ncap = tlReady.cap ? tlReady.cap * 2 : 256;
		while (ncap < need)
			ncap *= 2;
		char *nb = realloc(tlReady.buf, ncap);
		if (nb == NULL)
			return; /* the waiter is served by the next push, or times out */
		tlReady.buf = nb;
		tlReady.cap = ncap;
	}
	char *p = tlReady.buf + tlReady.len;
	memcpy(p, &nl, 4);
	memcpy(p + 4, ns, nl);
	memcpy(p + 4 + nl, &kl, 4);
	if (klen)
		memcpy(p + 8 + nl, key, klen);
	tlReady.len = need;
}

static int gainsElements(int event)
{
	switch (event) {
	case KV_EV_SET: /* a copy, move or restore onto the key */
	case KV_EV_RENAME_TO:
	case KV_EV_LPUSH:
	case KV_EV_RPUSH:
	case KV_EV_ZADD:
	case KV_EV_ZINCR:
	case KV_EV_ZINTERSTORE:
	case KV_EV_ZUNIONSTORE:
	case KV_EV_ZDIFFSTORE:
	case KV_EV_ZRANGESTORE:
		return 1;
	default:
		return 0;
	}
}

static kv_hook_fn innerHook;

static void blockingChangeHook(void *ctx, const char *ns, const void *key, size_t klen, int event)
{
	if (gainsElements(event)) {
		atomic_thread_fence(memory_order_seq_cst); /* the push is visible before the count is read */
		if (atomic_load(&reg.nwaiting))
			readyAdd(ns, key, klen);
	}
	if (innerHook)
		innerHook(ctx, ns, key, klen, event);
}

kv_hook_fn blockingHook(kv_hook_fn inner)
{
	innerHook = inner;
	return blockingChangeHook;
}

/*
 * Serve the waiters of one noted key, FIFO, while it has elements (registry
 * lock held).  Each served one goes on *served: its reply is released once
 * the AOF has its pop (blockingServeReady).
 */
static void serveKey(const char *ns, size_t nslen, const char *key, size_t klen, waiter **served)
{
	uint32_t h = queueHash(ns, nslen, key, klen);
	keyQueue *q;
	while ((q = queueFind(ns, nslen, key, klen, h)) != NULL && q->head) {
		waiter *w = q->head->w;
		popSpec p = {w->db, w->kind, w->where, w->to, w->reply.resp, w->dst, w->dstlen, NULL};
		size_t mark = w->reply.len;
		if (popOnce(&p, key, klen, &w->reply, 1) == SERVE_NOTHING) {
			w->reply.len = mark;
			return;
		}
		waiterUnlink(w);
		w->state = WS_SERVED;
		w->snext = *served;
		*served = w;
	}
}

void blockingServeReady(worker *wk)
{
	if (tlReady.len == 0)
		return;
	int gated = multiWriteBegin(wk);
	waiter *served = NULL;
	aofCommandBegin();
	pthread_mutex_lock(&reg.lock);
	while (tlReady.len) {
		readyList round = tlReady; /* keys noted while serving go to the next round */
		memset(&tlReady, 0, sizeof(tlReady));
		for (size_t pos = 0; pos < round.len;) {
			uint32_t nl, kl;
			memcpy(&nl, round.buf + pos, 4);
			const char *ns = round.buf + pos + 4;
			memcpy(&kl, round.buf + pos + 4 + nl, 4);
			const char *key = round.buf + pos + 8 + nl;
			pos += 8 + (size_t)nl + kl;
			serveKey(ns, nl, key, kl, &served);
		}
		free(round.buf);
	}
	pthread_mutex_unlock(&reg.lock);
	/*
	 * The pops logged no effect: the AOF logs their keys whole at this commit,
	 * under the keys' stripes, which it takes with no registry lock held (a
	 * command holding a stripe may be waiting for the registry).  The waiters'
	 * replies go out once that is written as the fsync policy says.
	 */
	aofCommandEnd();
	uint64_t lsn = aofThreadLsn();
	if (served && aofMustWait(lsn))
		aofWaitFor(lsn);
	pthread_mutex_lock(&reg.lock);
	while (served) {
		waiter *w = served;
		served = w->snext;
		if (w->c)
			waiterDone(w);
		else
			waiterFree(w); /* its client closed meanwhile */
	}
	pthread_mutex_unlock(&reg.lock);
	multiWriteEnd(wk, gated);
}

/* ---------------------------------------------------------------- client side */

static int blockForKeys(client *c, const popSpec *p, const char **keys, const size_t *klens, size_t nkeys,
                        int64_t timeout_ms)
{
	waiter *w = calloc(1, sizeof(*w));
	if (w == NULL || (w->links = calloc(nkeys, sizeof(*w->links))) == NULL ||
	    (p->dst && (w->dst = malloc(p->dstlen ? p->dstlen : 1)) == NULL)) {
		if (w)
			waiterFree(w);
		return -1;
	}
	w->c = c;
	w->id = c->id;
	w->db = c->db;
	w->kind = p->kind;
	w->where = p->where;
	w->to = p->to;
	if (p->dst && p->dstlen)
		memcpy(w->dst, p->dst, p->dstlen);
	w->dstlen = p->dstlen;
	w->nkeys = nkeys;
	w->deadline_ms = timeout_ms ? nowMs() + timeout_ms : 0;
	replyInit(&w->reply);
	w->reply.resp = c->rb.resp;
	for (size_t i = 0; i < nkeys; i++) {
		keyQueue *q = NULL;
		for (size_t j = 0; j < i && q == NULL; j++) /* BLPOP k k 0: one link per key */
			if (klens[j] == klens[i] && memcmp(keys[j], keys[i], klens[i]) == 0)
				q = (keyQueue *)1;
		if (q)
			continue;
		q = queueGet(c->dbname, keys[i], klens[i]);
		if (q == NULL) {
			reg.nblocked++;  /* waiterUnlink drops the links made so far, and counts */
			atomic_fetch_add(&reg.nwaiting, 1);
			waiterUnlink(w);
			waiterFree(w);
			return -1;
		}
		waitLink *l = &w->links[i];
		l->w = w;
		l->q = q;
		l->prev = q->tail;
		if (q->tail)
			q->tail->next = l;
		else
			q->head = l;
		q->tail = l;
	}
	w->gnext = reg.all;
	if (reg.all)
		reg.all->gprev = w;
	reg.all = w;
	reg.nblocked++;
	c->blocked = w;
	return 0;
}

/*
 * The shared body of the blocking commands: try each key in order; if none
 * has an element, block c (or, inside EXEC, answer as a timeout would).
 */
static void blockingPop(client *c, const popSpec *p, const char **keys, const size_t *klens, size_t nkeys,
                        int64_t timeout_ms)
{
	pthread_mutex_lock(&reg.lock);
	atomic_fetch_add(&reg.nwaiting, 1); /* before the attempt: see the header comment */
	int rc = SERVE_NOTHING;
	for (size_t i = 0; i < nkeys && rc == SERVE_NOTHING; i++)
		rc = popOnce(p, keys[i], klens[i], &c->rb, 0);
	if (rc != SERVE_NOTHING || multiInExec(c)) {
		atomic_fetch_sub(&reg.nwaiting, 1);
		pthread_mutex_unlock(&reg.lock);
		if (rc == SERVE_NOTHING) { /* inside EXEC: blocking forms do not block */
			if (p->kind == BK_LMOVE)
				addReplyNull(&c->rb);
			else
				addReplyNullArray(&c->rb);
		}
		return;
	}
	if (blockForKeys(c, p, keys, klens, nkeys, timeout_ms) != 0) {
		atomic_fetch_sub(&reg.nwaiting, 1);
		pthread_mutex_unlock(&reg.lock);
		replyKvError(c, KV_ENOMEM);
		return;
	}
	pthread_mutex_unlock(&reg.lock);
	if (timeout_ms)
		timerAdd(c->w, c->blocked);
}

int blockingFinish(client *c)
{
	waiter *w = c->blocked;
	if (w == NULL)
		return 0;
	pthread_mutex_lock(&reg.lock);
	int done = w->state == WS_DONE;
	if (done)
		addReplyRaw(&c->rb, w->reply.buf, w->reply.len);
	pthread_mutex_unlock(&reg.lock);
	if (!done)
		return 0;
	timerDel(c->w, w);
	c->blocked = NULL;
	waiterFree(w);
	return 1;
}

void blockingRemove(client *c)
{
	waiter *w = c->blocked;
	if (w == NULL)
		return;
	timerDel(c->w, w);
	c->blocked = NULL;
	pthread_mutex_lock(&reg.lock);
	int owned = w->state != WS_SERVED; /* a serving thread still holds a served one: it frees it */
	if (w->state == WS_WAITING)
		waiterUnlink(w);
	w->c = NULL;
	pthread_mutex_unlock(&reg.lock);
	if (owned)
		waiterFree(w);
}

int blockingPollTimeout(worker *wk, int dflt_ms)
{
	if (timers[wk->idx].earliest == 0)
		return dflt_ms;
	int64_t left = timers[wk->idx].earliest - nowMs();
	if (left <= 0)
		return 0;
	return left < dflt_ms ? (int)left : dflt_ms;
}

void blockingExpire(worker *wk)
{
	timerSet *t = &timers[wk->idx];
	int64_t now = nowMs();
	if (t->earliest == 0 || now < t->earliest)
		return;
	int64_t earliest = 0;
	pthread_mutex_lock(&reg.lock);
	for (size_t i = 0; i < t->n; i++) {
		waiter *w = t->v[i];
		if (w->state != WS_WAITING || w->deadline_ms == 0)
			continue;
		if (w->deadline_ms <= now) {
			addReplyNullArray(&w->reply);
			waiterDone(w);
		} else if (earliest == 0 || w->deadline_ms < earliest) {
			earliest = w->deadline_ms;
		}
	}
	pthread_mutex_unlock(&reg.lock);
	t->earliest = earliest;
}

size_t blockingCount(void)
{
	pthread_mutex_lock(&reg.lock);
	size_t n = reg.nblocked;
	pthread_mutex_unlock(&reg.lock);
	return n;
}

/* CLIENT UNBLOCK client-id [TIMEOUT | ERROR] */
void clientUnblockCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	int error = 0;
	if (argc == 4) {
		if (argEq(argv[3], lens[3], "error"))
			error = 1;
		else if (!argEq(argv[3], lens[3], "timeout")) {
			addReplyError(&c->rb, "CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
			return;
		}
	}
	long long id;
	if (argToLongLongOrReply(c, argv[2], lens[2], &id) != C_OK)
		return;
	int found = 0;
	pthread_mutex_lock(&reg.lock);
	for (waiter *w = reg.all; w; w = w->gnext)
		if (w->id == (uint64_t)id && w->state == WS_WAITING) {
			if (error)
				addReplyError(&w->reply, "-UNBLOCKED client unblocked via CLIENT UNBLOCK");
			else
				addReplyNullArray(&w->reply);
			waiterDone(w);
			found = 1;
			break;
		}
	pthread_mutex_unlock(&reg.lock);
	addReplyLongLong(&c->rb, found);
}

/* ---------------------------------------------------------------- commands */

/*
 * Redis 7.0's getTimeoutFromObjectOrReply in seconds: a long double, times
 * 1000 truncated to milliseconds (0.0001 is 0: wait for ever).
 */
static int timeoutOrReply(client *c, const char *s, size_t len, int64_t *ms)
{
	char *end;
	if (len == 0 || isspace((unsigned char)s[0]))
		goto bad;
	errno = 0;
	long double v = strtold(s, &end);
	if ((size_t)(end - s) != len || isnan(v) ||
	    (errno == ERANGE && (v == HUGE_VALL || v == -HUGE_VALL || v == 0)))
		goto bad;
	long double t = v * 1000.0L;
	/* out of long long's range: x86 gives LLONG_MIN, which Redis calls negative */
	long long tval = t > -9.2e18L && t < 9.2e18L ? (long long)t : LLONG_MIN;
	if (tval < 0) {
		addReplyError(&c->rb, "timeout is negative");
		return C_ERR;
	}
	if (tval > 0 && tval > LLONG_MAX - mstime()) {
		addReplyError(&c->rb, "timeout is out of range");
		return C_ERR;
	}
	*ms = tval;
	return C_OK;
bad:
	addReplyError(&c->rb, "timeout is not a float or out of range");
	return C_ERR;
}

/* BLPOP / BRPOP / BZPOPMIN / BZPOPMAX key [key ...] timeout */
static void blockingPopKeys(client *c, int argc, const char **argv, const size_t *lens, int kind, int where)
{
	int64_t ms;
	if (timeoutOrReply(c, argv[argc - 1], lens[argc - 1], &ms) != C_OK)
		return;
	popSpec p = {c->db, kind, where, 0, c->rb.resp, NULL, 0, c};
	blockingPop(c, &p, argv + 1, lens + 1, (size_t)(argc - 2), ms);
}

void blpopCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	blockingPopKeys(c, argc, argv, lens, BK_POP, KV_LEFT);
}

void brpopCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	blockingPopKeys(c, argc, argv, lens, BK_POP, KV_RIGHT);
}

void bzpopminCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	blockingPopKeys(c, argc, argv, lens, BK_ZPOP, 0);
}

void bzpopmaxCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	blockingPopKeys(c, argc, argv, lens, BK_ZPOP, 1);
}

static void blmoveGeneric(client *c, const char **argv, const size_t *lens, int from, int to, int tidx)
{
	int64_t ms;
	if (timeoutOrReply(c, argv[tidx], lens[tidx], &ms) != C_OK)
		return;
	popSpec p = {c->db, BK_LMOVE, from, to, c->rb.resp, argv[2], lens[2], c};
	blockingPop(c, &p, argv + 1, lens + 1, 1, ms);
}

/* BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout */
void blmoveCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	(void)argc;
	int from, to;
	if (listWhereOrReply(c, argv[3], lens[3], &from) != C_OK || listWhereOrReply(c, argv[4], lens[4], &to) != C_OK)
		return;
	blmoveGeneric(c, argv, lens, from, to, 5);
}

/* BRPOPLPUSH source destination timeout */
void brpoplpushCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	(void)argc;
	blmoveGeneric(c, argv, lens, KV_RIGHT, KV_LEFT, 3);
}
