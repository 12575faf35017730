/*
 * networking.c -- worker threads, their epoll loops and client I/O.
 *
 * HOW IT WORKS
 *   The main thread accepts and hands each socket to the worker with the fewest
 *   clients (workerAddClient: a pending list plus an eventfd wake-up).  A worker
 *   owns its clients for their whole life: only it reads, writes, or frees them.
 *   On a readable socket it reads once, runs every complete request in the query
 *   buffer in order (pipelining; commandDispatch runs GETs and simple string writes in batches,
 *   batch.c), then writes the accumulated replies with as
 *   few write() calls as the kernel allows; what is left waits for EPOLLOUT.
 *
 *   A command whose cost depends on the data (KEYS) runs as a job in slices of
 *   JOB_SLICE_US: between slices the loop polls without waiting and serves its
 *   other clients, and a stop request is seen within a slice.  The client's own
 *   later commands wait for the job's reply, and it is not read meanwhile.
 *
 *   Limits are checked before memory is committed: the parser refuses bulk and
 *   header lengths over their limits, and the query buffer grows for an announced
 *   bulk only if the whole request fits client-query-buffer-limit.  A request
 *   that arrives slowly costs its client nothing but its buffer: other clients
 *   are served by the same loop in between.  Writes use MSG_NOSIGNAL, so a
 *   client that vanishes mid-reply is just closed.
 */
#include "server.h"
#include "http.h"
#include "aof.h"
#include "tls.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#define READ_CHUNK   (16 * 1024)
#define OUTPUT_PAUSE (4 * 1024 * 1024) /* pending reply bytes that pause reading */
#define BIG_BULK     (32 * 1024)     /* bulks this large grow the buffer in big steps */

static _Thread_local worker *tlSelf; /* the worker this thread runs, if any */

static void wake(worker *w)
{
	uint64_t one = 1;
	ssize_t r = write(w->evfd, &one, sizeof(one));
	(void)r;
}

/*
 * How loaded w looks to a new client: its client count, plus a lot when it has
 * been inside one command or job slice for a while (a long single match, a
 * PUBLISH against costly patterns), so that a new connection (a SHUTDOWN, say)
 * goes to a worker that answers now.
 */
static uint64_t workerLoad(worker *w, int64_t now_ms)
{
	int64_t since = atomic_load_explicit(&w->busy_since_ms, memory_order_relaxed);
	uint64_t load = atomic_load(&w->nclients);
	return since && now_ms - since > 20 ? load + (1u << 30) : load;
}

void workerAddClient(int fd)
{
	int64_t now = mstime();
	worker *best = &srv.workers[0];
	uint64_t best_load = workerLoad(best, now);
	for (int i = 1; i < srv.nworkers; i++) {
		uint64_t l = workerLoad(&srv.workers[i], now);
		if (l < best_load) {
			best = &srv.workers[i];
			best_load = l;
		}
	}
	atomic_fetch_add(&best->nclients, 1); /* counted now so the next accept sees it */
	pthread_mutex_lock(&best->lock);
	if (best->npending == best->cappending) {
		size_t ncap = best->cappending ? best->cappending * 2 : 64;
		int *n = realloc(best->pending_fds, ncap * sizeof(int));
		if (n == NULL) {
			pthread_mutex_unlock(&best->lock);
			atomic_fetch_sub(&best->nclients, 1);
			atomic_fetch_sub(&srv.connected_clients, 1);
			close(fd);
			return;
		}
		best->pending_fds = n;
		best->cappending = ncap;
	}
	best->pending_fds[best->npending++] = fd;
	pthread_mutex_unlock(&best->lock);
	wake(best);
}

void workerNotifyMail(client *c)
{
	worker *w = c->w;
	int need_wake = 0;
	pthread_mutex_lock(&w->lock);
	if (!c->mail_pending) {
		if (w->nmail == w->capmail) {
			size_t ncap = w->capmail ? w->capmail * 2 : 64;
			client **n = realloc(w->mail_clients, ncap * sizeof(*n));
			if (n == NULL) {
				pthread_mutex_unlock(&w->lock);
				return;
			}
			w->mail_clients = n;
			w->capmail = ncap;
		}
		w->mail_clients[w->nmail++] = c;
		c->mail_pending = 1;
		need_wake = 1;
	}
	pthread_mutex_unlock(&w->lock);
	if (need_wake && w != tlSelf) /* its own loop delivers before it sleeps (workerMain) */
		wake(w);
}

static client *clientCreate(worker *w, int fd)
{
	client *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->id = atomic_fetch_add(&srv.next_client_id, 1);
	c->fd = fd;
	c->w = w;
	respParserInit(&c->parser);
	replyInit(&c->rb);
	c->db = srv.dbs[0];
	strcpy(c->dbname, "0");
	c->authenticated = !atomic_load(&srv.auth_required);
	c->ctime_ms = mstime();
	c->info_resp = 2;
	atomic_store(&c->last_ms, c->ctime_ms);
	pthread_mutex_init(&c->mbox_lock, NULL);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0 && ss.ss_family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		char ip[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
		snprintf(c->addr, sizeof(c->addr), "%s:%u", ip, ntohs(sin->sin_port));
	} else if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
		char ip[INET6_ADDRSTRLEN];
		inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof(ip));
		snprintf(c->addr, sizeof(c->addr), "%s:%u", ip, ntohs(sin6->sin6_port));
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	sl = sizeof(ss);
	if ((srv.cfg.http_port || srv.cfg.tls_port) && getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
		int lport = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
		                                           : ((struct sockaddr_in *)&ss)->sin_port);
		if (srv.cfg.http_port)
			httpClientInit(c, lport);
		if (srv.cfg.tls_port && lport == srv.cfg.tls_port && (c->tls = tlsConnNew(fd)) == NULL) {
			respParserFree(&c->parser);
			pthread_mutex_destroy(&c->mbox_lock);
			free(c);
			return NULL;
		}
	}
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
	c->events = EPOLLIN;
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
		respParserFree(&c->parser);
		pthread_mutex_destroy(&c->mbox_lock);
		free(c);
		return NULL;
	}
	pthread_mutex_lock(&w->lock);
	c->next = w->clients;
	if (w->clients)
		w->clients->prev = c;
	w->clients = c;
	pthread_mutex_unlock(&w->lock);
	return c;
}

static char skipMarker; /* an epoll event of a client freed earlier in the batch */

int clientStartJob(client *c, clientJob *job)
{
	worker *w = c->w;
	if (multiInExec(c)) {
		/* inside EXEC the replies must stay in order: run it to the end now */
		while (!job->step(c, job, ustime_mono() + JOB_SLICE_US))
			;
		job->free(job);
		return 0;
	}
	if (w->nbusy == w->capbusy) {
		size_t ncap = w->capbusy ? w->capbusy * 2 : 16;
		client **n = realloc(w->busy, ncap * sizeof(*n));
		if (n == NULL)
			return -1;
		w->busy = n;
		w->capbusy = ncap;
	}
	w->busy[w->nbusy++] = c;
	c->job = job;
	return 0;
}

/* Forget c's job (finished, or c is closing). */
static void clientEndJob(client *c)
{
	worker *w = c->w;
	for (size_t i = 0; i < w->nbusy; i++)
		if (w->busy[i] == c) {
			w->busy[i] = w->busy[--w->nbusy];
			break;
		}
	clientJob *job = c->job;
	c->job = NULL;
	job->free(job);
}

static void clientFree(client *c)
{
	blockingRemove(c); /* first: after it no thread wakes c */
	multiFree(c);
	tlsConnFree(c->tls);
	c->tls = NULL;
	if (c->aof_held)
		for (size_t i = 0; i < c->w->nheld; i++)
			if (c->w->held[i] == c)
				c->w->held[i] = NULL;
	worker *w = c->w;
	if (c->job)
		clientEndJob(c);
	for (int j = w->cur_i + 1; j < w->cur_n; j++)
		if (w->cur_evs[j].data.ptr == c)
			w->cur_evs[j].data.ptr = &skipMarker;
	pubsubUnsubscribeAll(c, 0, 1); /* after this no thread can reach c */
	httpClientFree(c);             /* likewise for the HTTP feed */
	epoll_ctl(w->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	pthread_mutex_lock(&w->lock);
	if (c->prev)
		c->prev->next = c->next;
	else
		w->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	if (c->mail_pending)
		for (size_t i = 0; i < w->nmail; i++)
			if (w->mail_clients[i] == c) {
				w->mail_clients[i] = w->mail_clients[--w->nmail];
				break;
			}
	pthread_mutex_unlock(&w->lock);
	mailMsg *m = c->mbox_head;
	while (m) {
		mailMsg *n = m->next;
		free(m);
		m = n;
	}
	pthread_mutex_destroy(&c->mbox_lock);
	respParserFree(&c->parser);
	replyFree(&c->rb);
	free(c->qbuf);
	free(c);
	atomic_fetch_sub(&w->nclients, 1);
	atomic_fetch_sub(&srv.connected_clients, 1);
}

/* Write what we can.  Returns -1 if the client must be closed now. */
static int clientWrite(client *c)
{
	while (c->sentpos < c->rb.len) {
		ssize_t n = c->tls ? tlsWrite(c->tls, c->rb.buf + c->sentpos, c->rb.len - c->sentpos)
		                   : send(c->fd, c->rb.buf + c->sentpos, c->rb.len - c->sentpos, MSG_NOSIGNAL);
		if (n > 0) {
			c->sentpos += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		return -1; /* the peer went away */
	}
	if (c->sentpos == c->rb.len) {
		replyConsume(&c->rb, c->rb.len);
		c->sentpos = 0;
		if (c->close_after_reply)
			return -1;
	} else if (c->sentpos > 64 * 1024 && c->sentpos * 2 > c->rb.len) {
		/* compact only once most of the buffer is sent: amortised O(1) per byte */
		replyConsume(&c->rb, c->sentpos);
		c->sentpos = 0;
	}
	atomic_store_explicit(&c->info_qbuf, c->qlen - c->qpos, memory_order_relaxed);
	atomic_store_explicit(&c->info_obl, c->rb.len - c->sentpos, memory_order_relaxed);
	atomic_store_explicit(&c->info_sub, c->nchannels, memory_order_relaxed);
	atomic_store_explicit(&c->info_psub, c->npatterns, memory_order_relaxed);
	/*
	 * Interest: write while replies are pending; read unless the client is
	 * closing (a peer that keeps sending must not spin a level-triggered loop)
	 * or has OUTPUT_PAUSE bytes of replies it has not read yet (backpressure
	 * instead of an ever-growing reply buffer), or waits for a job.
	 */
	size_t pending = c->rb.len - c->sentpos;
	uint32_t events = (pending ? EPOLLOUT : 0) |
	                  (!c->close_after_reply && !c->job && pending < OUTPUT_PAUSE ? EPOLLIN : 0);
	if (events != c->events) {
		struct epoll_event ev = {.events = events, .data.ptr = c};
		epoll_ctl(c->w->epfd, EPOLL_CTL_MOD, c->fd, &ev);
		c->events = events;
	}
	if (c->rb.len - c->sentpos > atomic_load(&srv.obuf_limit) || c->rb.oom || atomic_load(&c->mbox_overflow)) {
		serverLog(LL_WARNING, "closing client id=%llu addr=%s: output buffer limit reached",
		          (unsigned long long)c->id, c->addr);
		return -1;
	}
	return 0;
}

/* Run every complete request in the query buffer.  -1: protocol error. */
static int processInput(client *c)
{
	respLimits lim;
	lim.max_bulk_len = atomic_load_explicit(&srv.max_bulk_len, memory_order_relaxed);
	const char *stack_argv[32];
	size_t stack_lens[32];
	cmdBatch batch; /* see batch.c */
	batch.n = 0;
	batch.writes = 0;
	batch.ncmds = 0;
	if (c->http)
		return httpProcessInput(c);

	while (c->qpos < c->qlen && !c->close_after_reply && !c->job && !c->blocked) {
		lim.authenticated = c->authenticated;
		int r = respParse(&c->parser, c->qbuf + c->qpos, c->qlen - c->qpos, &lim);
		if (r == RESP_NEED_MORE)
			break;
		if (r == RESP_ERROR) {
			batchFlush(c, &batch);
			addReplyError(&c->rb, c->parser.err);
			serverLog(LL_VERBOSE, "protocol error from client id=%llu addr=%s: %s",
			          (unsigned long long)c->id, c->addr, c->parser.err);
			c->close_after_reply = 1;
			return -1;
		}
		if (r == RESP_COMMAND) {
			int argc = c->parser.argc;
			char *base = c->qbuf + c->qpos;
			respArg *pa = c->parser.argv;
			const char **argv = stack_argv;
			size_t *lens = stack_lens;
			if (argc > 32) {
				argv = malloc((size_t)argc * sizeof(*argv));
				lens = malloc((size_t)argc * sizeof(*lens));
				if (argv == NULL || lens == NULL) {
					batchFlush(c, &batch);
					free(argv);
					free(lens);
					addReplyError(&c->rb, "-OOM out of memory");
					c->close_after_reply = 1;
					return -1;
				}
			}
			for (int i = 0; i < argc; i++) {
				argv[i] = base + pa[i].off;
				lens[i] = pa[i].len;
			}
			commandDispatch(c, &batch, argc, argv, lens);
			if (argv != stack_argv) {
				free(argv);
				free(lens);
			}
		}
		c->qpos += c->parser.pos;
		respParserReset(&c->parser);
	}
	batchFlush(c, &batch);
	return 0;
}

/* Make room for the next read; -1 if the client exceeded the query buffer limit. */
static int ensureReadRoom(client *c)
{
	/* drop consumed bytes first */
	if (c->qpos == c->qlen) {
		c->qpos = c->qlen = 0;
	} else if (c->qpos > 0) {
		memmove(c->qbuf, c->qbuf + c->qpos, c->qlen - c->qpos);
		c->qlen -= c->qpos;
		c->qpos = 0;
	}
	size_t want = c->qlen + READ_CHUNK;
	/*
	 * A large announced bulk: grow towards the whole request, but never beyond
	 * twice what has arrived, so announcing 512 MB and stalling costs a client
	 * kilobytes, while a bulk that does arrive is copied O(1) times per byte.
	 */
	if (c->parser.kind == 1 && c->parser.bulklen >= BIG_BULK) {
		size_t whole = c->parser.pos + (size_t)c->parser.bulklen + 2;
		size_t step = c->qlen > READ_CHUNK ? c->qlen : READ_CHUNK;
		size_t target = whole < c->qlen + step ? whole : c->qlen + step;
		if (target > want)
			want = target;
	}
	uint64_t limit = atomic_load(&srv.qbuf_limit);
	if (c->qlen >= limit || (c->parser.kind == 1 && c->parser.bulklen >= 0 &&
	                         c->parser.pos + (uint64_t)c->parser.bulklen + 2 > limit)) {
		serverLog(LL_WARNING, "closing client id=%llu addr=%s: query buffer limit reached",
		          (unsigned long long)c->id, c->addr);
		return -1;
	}
	if (want > limit + READ_CHUNK)
		want = limit + READ_CHUNK;
	if (c->qcap < want) {
		size_t ncap = c->qcap ? c->qcap * 2 : READ_CHUNK;
		if (ncap < want || ncap > limit + READ_CHUNK)
			ncap = want;
		char *n = realloc(c->qbuf, ncap);
		if (n == NULL)
			return -1;
		c->qbuf = n;
		c->qcap = ncap;
	} else if (c->qlen == 0 && c->qcap > 4 * 1024 * 1024) {
		/* shrink after a big request */
		free(c->qbuf);
		c->qbuf = malloc(READ_CHUNK);
		c->qcap = c->qbuf ? READ_CHUNK : 0;
		if (c->qbuf == NULL)
			return -1;
	}
	return 0;
}

/* Returns -1 when the client must be freed. */
static int clientReadOnce(client *c);

static int clientReadable(client *c)
{
	int r;
	/* TLS: what OpenSSL decrypted already does not wake epoll again, so drain it */
	do
		r = clientReadOnce(c);
	while (r == 1 && c->tls && tlsPending(c->tls) && !c->close_after_reply && !c->job);
	return r < 0 ? -1 : 0;
}

/* One read and the commands it completes: 1 read something, 0 nothing to read, -1 close. */
static int clientReadOnce(client *c)
{
	if (c->close_after_reply)
		return 0;
	if (ensureReadRoom(c) != 0)
		return -1;
	ssize_t n = c->tls ? tlsRead(c->tls, c->qbuf + c->qlen, c->qcap - c->qlen)
	                   : read(c->fd, c->qbuf + c->qlen, c->qcap - c->qlen);
	if (n == 0)
		return -1;
	if (n < 0)
		return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? 0 : -1;
	c->qlen += (size_t)n;
	int64_t now = mstime();
	atomic_store_explicit(&c->last_ms, now, memory_order_relaxed);
	atomic_store_explicit(&c->w->busy_since_ms, now, memory_order_relaxed);
	processInput(c);
	atomic_store_explicit(&c->w->busy_since_ms, 0, memory_order_relaxed);
	return 1;
}

static void acceptPending(worker *w)
{
	pthread_mutex_lock(&w->lock);
	size_t n = w->npending;
	int fds[256];
	if (n == 0) {
		pthread_mutex_unlock(&w->lock);
		return;
	}
	if (n > 256)
		n = 256;
	memcpy(fds, w->pending_fds, n * sizeof(int));
	memmove(w->pending_fds, w->pending_fds + n, (w->npending - n) * sizeof(int));
	w->npending -= n;
	int more = w->npending > 0;
	pthread_mutex_unlock(&w->lock);
	for (size_t i = 0; i < n; i++) {
		if (clientCreate(w, fds[i]) == NULL) {
			close(fds[i]);
			atomic_fetch_sub(&w->nclients, 1);
			atomic_fetch_sub(&srv.connected_clients, 1);
		}
	}
	if (more)
		wake(w);
}

static void deliverMail(worker *w)
{
	for (;;) {
		pthread_mutex_lock(&w->lock);
		if (w->nmail == 0) {
			pthread_mutex_unlock(&w->lock);
			return;
		}
		client *c = w->mail_clients[--w->nmail];
		c->mail_pending = 0;
		pthread_mutex_unlock(&w->lock);
		pubsubDrainMailbox(c);
		if (blockingFinish(c)) {
			processInput(c); /* the commands that waited behind the blocking one */
			uint64_t lsn = aofTakeThreadLsn();
			if (aofMustWait(lsn) && aofWaitFor(lsn) != C_OK && aofMustWait(lsn)) {
				aofReplyMisconf(&c->rb); /* their writes may not be logged: as holdForAof's failure */
				c->close_after_reply = 1;
			}
		}
		if (clientWrite(c) != 0)
			clientFree(c);
	}
}

static void closeIdle(worker *w)
{
	int timeout = atomic_load(&srv.timeout);
	if (timeout <= 0 && !srv.cfg.http_port)
		return;
	int64_t now = mstime();
	client *c = w->clients, *next;
	for (; c; c = next) {
		next = c->next;
		int h = c->http ? httpClientExpired(c, now) : 0; /* 1: close now, -1: never idle */
		if (h > 0) {
			clientFree(c);
			continue;
		}
		if (timeout <= 0 || h < 0 || c->nchannels || c->npatterns || c->job || c->blocked)
			continue; /* as Redis: pub/sub and blocked clients are never idle; nor is one waiting for its job */
		if (now - atomic_load(&c->last_ms) > (int64_t)timeout * 1000) {
			serverLog(LL_VERBOSE, "closing idle client id=%llu", (unsigned long long)c->id);
			clientFree(c);
		}
	}
}

/*
 * A slice of each job in turn, starting where the last round stopped, until
 * every job had one or JOB_ROUND_US passed: however many clients run jobs, the
 * worker's event loop turns at least every JOB_ROUND_US plus one slice.  A
 * finished job's client then runs its waiting commands.
 */
#define JOB_ROUND_US 10000

static void runJobs(worker *w)
{
	int64_t round_end = ustime_mono() + JOB_ROUND_US;
	size_t todo = w->nbusy;
	while (w->nbusy && todo--) {
		size_t i = w->job_next++ % w->nbusy;
		client *c = w->busy[i];
		atomic_store_explicit(&w->busy_since_ms, mstime(), memory_order_relaxed);
		int done = c->job->step(c, c->job, ustime_mono() + JOB_SLICE_US);
		if (done) {
			clientEndJob(c);
			processInput(c);
		}
		atomic_store_explicit(&w->busy_since_ms, 0, memory_order_relaxed);
		if (done && clientWrite(c) != 0)
			clientFree(c);
		if (ustime_mono() >= round_end)
			break;
	}
}

/*
 * Group commit: a client whose commands appended AOF records that the fsync
 * policy says must be written (or synced) before the reply is held until the end
 * of the epoll batch; then one aofWaitFor covers every held client of this
 * worker (and, through the AOF's io lock, those of other workers).  0 if held.
 */
static int holdForAof(worker *w, client *c, uint64_t lsn, size_t mark)
{
	if (!c->aof_held) {
		if (w->nheld == w->capheld) {
			size_t ncap = w->capheld ? w->capheld * 2 : 64;
			client **nh = realloc(w->held, ncap * sizeof(*nh));
			if (nh == NULL)
				return -1;
			w->held = nh;
			w->capheld = ncap;
		}
		w->held[w->nheld++] = c;
		c->aof_held = 1;
		c->aof_mark = mark;
		c->aof_lsn = 0;
	}
	if (lsn > c->aof_lsn)
		c->aof_lsn = lsn;
	return 0;
}

static void releaseHeld(worker *w)
{
	uint64_t max = 0;
	for (size_t i = 0; i < w->nheld; i++)
		if (w->held[i] && w->held[i]->aof_lsn > max)
			max = w->held[i]->aof_lsn;
	if (max)
		aofWaitFor(max);
	for (size_t i = 0; i < w->nheld; i++) {
		client *c = w->held[i];
		if (c == NULL)
			continue;
		w->held[i] = NULL;
		c->aof_held = 0;
		if (aofMustWait(c->aof_lsn)) {
			/*
			 * Not on disk: these replies must not be sent.  The client gets the
			 * MISCONF error instead and is closed, as the commands of its
			 * pipeline may have run in memory.
			 */
			c->rb.len = c->aof_mark;
			aofReplyMisconf(&c->rb);
			c->close_after_reply = 1;
		}
		pubsubDrainMailbox(c);
		if (clientWrite(c) != 0)
			clientFree(c);
	}
	w->nheld = 0;
}

/*
 * Busy poll (busy-poll-us).  A client that sends to a worker asleep in
 * epoll_wait pays for waking it inside its own send: the socket's wake-up, and
 * on a VM an IPI to the worker's idle CPU.  With redis-benchmark -P 1 on the
 * same machine the client is the limit, so that cost decides the rate.  After
 * a round that had events the worker therefore polls without sleeping until
 * busy-poll-us pass with none, then sleeps as before: an idle server costs
 * nothing, and each burst of work at most busy-poll-us more.
 *
 * Polling pays only with a CPU to spare.  At most busy_poll_max workers poll at
 * once, the CPUs the workers leave over (ncpu - workers).  And a polling worker
 * that finds the machine contended stops polling for POLL_BACKOFF_US, since it
 * would take the CPU that a woken client (or any other process) waits for.
 *
 * Contended is read from the kernel's pressure stall information
 * (/proc/pressure/cpu, "some": time during which some task waited for a CPU,
 * averaged over the busy CPUs).  A look every POLL_WINDOW_US is over the bar
 * if tasks waited half a CPU's worth of the span since the look before: one
 * CPU of two with a task always waiting reads 50%, so the bar is
 * 1 / (2 * ncpu).  Contended is PSI_LOOKS looks in a row over it, a wait that
 * lasts 30 ms: with only a client and a polling worker on two CPUs PSI read 2%
 * over a second, yet single 10 ms spans passed 25% a few times in a hundred
 * (kernel threads' bursts), and at two in a row it still backed off 4-5 times
 * in a 2.6 s redis-benchmark -P 1 run; with a spinning process added, it backs
 * off every time it polls again.
 *
 * Where PSI is off (no readable /proc/pressure/cpu), a look every
 * POLL_CHECK_US counts runnable tasks in /proc/loadavg, over the bar when
 * there are more than CPUs, LOADAVG_LOOKS in a row.  That count is cruder:
 * on the 6.18 kernel of the issue-15 VM it read 3 or more at 70% of the looks
 * of a -P 1 run while perf sched saw only the client and the worker run, and
 * backing off on it kept polling off for most of the run.  (Being preempted is
 * not taken as contention either: the loopback's softirq work preempts the
 * worker several times a second on a quiet machine.)
 */
#define POLL_WINDOW_US  10000   /* PSI: the shortest span a look judges */
#define PSI_LOOKS       3       /* PSI: looks in a row over the bar that are contention */
#define POLL_CHECK_US   1000    /* no PSI: how often a polling worker counts runnable tasks */
#define LOADAVG_LOOKS   2       /* no PSI: the same for the runnable count */
#define POLL_BACKOFF_US 100000  /* no polling this long after it saw contention */
#define POLL_STALE_US   1000000 /* a longer span since the last look is not judged, only restarted */

static int psiCpuFd = -1;      /* /proc/pressure/cpu, opened once by workersStart */
static int loadavgFd = -1;     /* /proc/loadavg, the fallback when PSI is off */

/* Microseconds some task waited for a CPU since boot (PSI "some ... total="); -1 if unknown. */
static int64_t cpuStallUs(void)
{
	char b[256];
	ssize_t n = pread(psiCpuFd, b, sizeof(b) - 1, 0);
	if (n <= 0)
		return -1;
	b[n] = '\0';
	const char *p = strstr(b, "total=");
	return p ? strtoll(p + 6, NULL, 10) : -1;
}

/* Tasks runnable on the machine now ("0.50 0.40 0.30 R/T ..."); 0 if unknown. */
static int runnableTasks(void)
{
	char b[128];
	ssize_t n = loadavgFd >= 0 ? pread(loadavgFd, b, sizeof(b) - 1, 0) : -1;
	if (n <= 0)
		return 0;
	b[n] = '\0';
	const char *p = b;
	for (int field = 0; field < 3 && p; field++)
		if ((p = strchr(p, ' ')) != NULL)
			p++;
	return p ? atoi(p) : 0;
}

const char *busyPollContentionSignal(void)
{
	return psiCpuFd >= 0 ? "psi" : loadavgFd >= 0 ? "loadavg" : "none";
}

static void busyPollStop(worker *w)
{
	w->polling = 0;
	atomic_fetch_sub(&srv.busy_pollers, 1);
}

/* PSI: 1 if tasks waited for a CPU half a CPU's worth of the span since the last look. */
static int stallOverBar(worker *w, int64_t now)
{
	int64_t stall = cpuStallUs();
	int64_t span = now - w->poll_look_at;
	int over = stall >= 0 && w->poll_look_stall >= 0 && span <= POLL_STALE_US &&
	           (stall - w->poll_look_stall) * 2 * srv.ncpu >= span;
	w->poll_look_at = now;
	w->poll_look_stall = stall;
	w->poll_check_at = now + POLL_WINDOW_US;
	return over;
}

/* No PSI: 1 if more tasks are runnable than there are CPUs. */
static int runQueueOverBar(worker *w, int64_t now)
{
	w->poll_check_at = now + POLL_CHECK_US;
	return runnableTasks() > srv.ncpu;
}

/* While polling, now and then: 1 if the machine is contended (see above). */
static int busyPollContended(worker *w, int64_t now)
{
	if (now < w->poll_check_at)
		return 0;
	int over = psiCpuFd >= 0 ? stallOverBar(w, now) : runQueueOverBar(w, now);
	w->poll_crowded = over ? w->poll_crowded + 1 : 0;
	if (w->poll_crowded < (psiCpuFd >= 0 ? PSI_LOOKS : LOADAVG_LOOKS))
		return 0;
	w->poll_crowded = 0;
	w->poll_backoff_until = now + POLL_BACKOFF_US;
	atomic_fetch_add_explicit(&srv.busy_poll_backoffs, 1, memory_order_relaxed);
	return 1;
}

static int busyPollTimeout(worker *w, int tmo, int had_events)
{
	int us = atomic_load_explicit(&srv.busy_poll_us, memory_order_relaxed);
	if (us <= 0 || tmo == 0) {
		if (w->polling && us <= 0)
			busyPollStop(w);
		return tmo;
	}
	int64_t now = ustime_mono();
	if (had_events && now >= w->poll_backoff_until) {
		if (!w->polling) {
			int k = atomic_load(&srv.busy_pollers);
			while (k < srv.busy_poll_max && !atomic_compare_exchange_weak(&srv.busy_pollers, &k, k + 1))
				;
			w->polling = k < srv.busy_poll_max;
		}
		w->poll_until = now + us;
	}
	if (w->polling && now < w->poll_until && !busyPollContended(w, now))
		return 0;
	if (w->polling)
		busyPollStop(w);
	return tmo;
}

static void *workerMain(void *arg)
{
	worker *w = arg;
	struct epoll_event evs[256];
	tlSelf = w;
	int n = 0;

	while (!atomic_load(&w->stop)) {
		int tmo = w->nbusy ? 0 : blockingPollTimeout(w, 1000);
		int polls = tmo != 0 && busyPollTimeout(w, tmo, n > 0) == 0;
		n = epoll_wait(w->epfd, evs, 256, polls ? 0 : tmo);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			serverLog(LL_WARNING, "epoll_wait: %s", strerror(errno));
			break;
		}
		w->cur_evs = evs;
		w->cur_n = n;
		for (int i = 0; i < n; i++) {
			w->cur_i = i;
			if (evs[i].data.ptr == &skipMarker)
				continue;
			if (evs[i].data.ptr == NULL) {
				uint64_t v;
				ssize_t r = read(w->evfd, &v, sizeof(v));
				(void)r;
				acceptPending(w);
				deliverMail(w);
				if (atomic_exchange(&w->kill_idle, 0))
					closeIdle(w);
				continue;
			}
			client *c = evs[i].data.ptr;
			int dead = 0;
			size_t mark = c->rb.len;
			if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
				dead = clientReadable(c) != 0;
			uint64_t lsn = aofTakeThreadLsn();
			if (!dead && aofMustWait(lsn)) {
				if (holdForAof(w, c, lsn, mark) == 0)
					continue;
				if (aofWaitFor(lsn) != C_OK && aofMustWait(lsn)) { /* could not hold: wait alone */
					c->rb.len = mark;
					aofReplyMisconf(&c->rb);
					c->close_after_reply = 1;
				}
			}
			if (!dead) {
				pubsubDrainMailbox(c);
				dead = clientWrite(c) != 0;
			}
			if (dead)
				clientFree(c);
		}
		w->cur_n = 0;
		blockingServeReady(w); /* writes outside commandRun (the HTTP door) */
		releaseHeld(w);
		runJobs(w);
		blockingExpire(w);
		deliverMail(w); /* what this thread mailed to its own clients: no eventfd round trip */
	}
	if (w->polling)
		busyPollStop(w);
	/* graceful stop: one last attempt to flush replies, then close */
	while (w->clients) {
		client *c = w->clients;
		clientWrite(c);
		clientFree(c);
	}
	return NULL;
}

int workersStart(int n)
{
	srv.nworkers = n;
	srv.busy_poll_max = srv.ncpu > n ? srv.ncpu - n : 0;
	if (srv.busy_poll_max > 0) {
		psiCpuFd = open("/proc/pressure/cpu", O_RDONLY | O_CLOEXEC);
		if (psiCpuFd >= 0 && cpuStallUs() < 0) { /* there but unreadable */
			close(psiCpuFd);
			psiCpuFd = -1;
		}
		if (psiCpuFd < 0)
			loadavgFd = open("/proc/loadavg", O_RDONLY | O_CLOEXEC);
	}
	srv.workers = calloc((size_t)n, sizeof(worker));
	if (srv.workers == NULL || blockingInit(n) != C_OK)
		return C_ERR;
	for (int i = 0; i < n; i++) {
		worker *w = &srv.workers[i];
		w->idx = i;
		w->elems = (kv_elems)KV_ELEMS_INIT;
		pthread_mutex_init(&w->lock, NULL);
		w->epfd = epoll_create1(EPOLL_CLOEXEC);
		w->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (w->epfd < 0 || w->evfd < 0)
			return C_ERR;
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
		if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->evfd, &ev) != 0)
			return C_ERR;
		if (pthread_create(&w->thread, NULL, workerMain, w) != 0)
			return C_ERR;
	}
	return C_OK;
}

int workersStop(int64_t wait_ms)
{
	for (int i = 0; i < srv.nworkers; i++) {
		atomic_store(&srv.workers[i].stop, 1);
		wake(&srv.workers[i]);
	}
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += wait_ms / 1000;
	until.tv_nsec += (wait_ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	int stuck = 0;
	for (int i = 0; i < srv.nworkers; i++) {
		worker *w = &srv.workers[i];
		/* a worker inside one long engine call is left to the exit (see main.c) */
		if (pthread_timedjoin_np(w->thread, NULL, &until) != 0) {
			stuck++;
			continue;
		}
		/* sockets handed over but never picked up */
		for (size_t k = 0; k < w->npending; k++)
			close(w->pending_fds[k]);
		close(w->epfd);
		close(w->evfd);
		kv_buf_free(srv.env, &w->buf);
		kv_elems_free(srv.env, &w->elems);
		free(w->pending_fds);
		free(w->mail_clients);
		free(w->busy);
		free(w->held);
	}
	if (stuck == 0)
		blockingFree();
	return stuck;
}

void workersCheckIdle(void)
{
	for (int i = 0; i < srv.nworkers; i++) {
		atomic_store(&srv.workers[i].kill_idle, 1);
		wake(&srv.workers[i]);
	}
}

/*
 * CLIENT LIST: one line per client, in Redis's field layout (a subset).  Other
 * threads' clients are read only through fields that are immutable, guarded by
 * the worker's lock (name, db) or relaxed atomic copies (info_*, last_cmd).
 */
void clientListAppend(replyBuf *rb)
{
	int64_t now = mstime();
	for (int i = 0; i < srv.nworkers; i++) {
		worker *w = &srv.workers[i];
		pthread_mutex_lock(&w->lock);
		for (client *c = w->clients; c; c = c->next) {
			char line[512];
			size_t sub = atomic_load_explicit(&c->info_sub, memory_order_relaxed);
			size_t psub = atomic_load_explicit(&c->info_psub, memory_order_relaxed);
			const char *cmd = atomic_load_explicit(&c->last_cmd, memory_order_relaxed);
			int n = snprintf(line, sizeof(line),
			                 "id=%llu addr=%s laddr=%s:%d fd=%d name=%s age=%lld idle=%lld flags=%s db=%s "
			                 "sub=%zu psub=%zu qbuf=%zu obl=%zu resp=%d cmd=%s user=default\n",
			                 (unsigned long long)c->id, c->addr, srv.cfg.bind, srv.cfg.port, c->fd,
			                 c->name, (long long)(now - c->ctime_ms) / 1000,
			                 (long long)(now - atomic_load(&c->last_ms)) / 1000,
			                 (sub || psub) ? "P" : "N", c->dbname, sub, psub,
			                 atomic_load_explicit(&c->info_qbuf, memory_order_relaxed),
			                 atomic_load_explicit(&c->info_obl, memory_order_relaxed),
			                 atomic_load_explicit(&c->info_resp, memory_order_relaxed),
			                 cmd ? cmd : "NULL");
			if (n > 0)
				addReplyRaw(rb, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
		}
		pthread_mutex_unlock(&w->lock);
	}
}
