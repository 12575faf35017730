/*
 * queue_client.c -- the load of `make bench-queue`: P producer connections
 * LPUSH one message at a time and C consumer connections BRPOP them, all on
 * one queue key, over P + C sockets driven by one epoll loop (one request in
 * flight per connection, as a job queue's workers run).  RESP is written and
 * parsed by hand: no client library, little per-request work, so the client
 * is not what is measured (its CPU share is printed to show it).
 *
 *   queue_client PORT PRODUCERS CONSUMERS MESSAGES
 *
 * Prints one line: "msgs_per_s <rate> client_cpu <cores> seconds <wall>" once
 * every message was consumed (the consumers' pops are the clock).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct conn {
	int    fd;
	int    producer;
	char   in[4096];
	size_t inlen;
} conn;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpuSeconds(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       (double)ru.ru_stime.tv_usec / 1e6;
}

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static void sendAll(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			die("send");
		p += w;
		n -= (size_t)w;
	}
}

static const char BRPOP[] = "*3\r\n$5\r\nBRPOP\r\n$5\r\nqueue\r\n$1\r\n0\r\n";

static void sendPush(conn *c, long seq)
{
	char msg[32], req[96];
	int ml = snprintf(msg, sizeof(msg), "m%ld", seq);
	int n = snprintf(req, sizeof(req), "*3\r\n$5\r\nLPUSH\r\n$5\r\nqueue\r\n$%d\r\n%s\r\n", ml, msg);
	sendAll(c->fd, req, (size_t)n);
}

/* Length of one complete reply at the start of p (integer, bulk, or an array of
 * bulks: all LPUSH and BRPOP answer), 0 if incomplete; -1 for an error reply. */
static long replyLen(const char *p, size_t n)
{
	const char *end = memmem(p, n, "\r\n", 2);
	if (end == NULL)
		return 0;
	size_t pos = (size_t)(end - p) + 2;
	if (p[0] == '-')
		return -1;
	if (p[0] == ':' || p[0] == '_')
		return (long)pos;
	long count = strtol(p + 1, NULL, 10);
	if (p[0] == '$')
		return count < 0 ? (long)pos : (pos + (size_t)count + 2 <= n ? (long)(pos + (size_t)count + 2) : 0);
	if (p[0] != '*')
		return -1;
	for (long i = 0; i < count; i++) {
		long l = replyLen(p + pos, n - pos);
		if (l <= 0)
			return l;
		pos += (size_t)l;
	}
	return (long)pos;
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: %s PORT PRODUCERS CONSUMERS MESSAGES\n", argv[0]);
		return 2;
	}
	int port = atoi(argv[1]), np = atoi(argv[2]), nc = atoi(argv[3]);
	long total = atol(argv[4]);
	int n = np + nc;
	conn *cs = calloc((size_t)n, sizeof(*cs));
	int ep = epoll_create1(0);
	if (cs == NULL || ep < 0)
		die("setup");
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	for (int i = 0; i < n; i++) {
		conn *c = &cs[i];
		c->fd = socket(AF_INET, SOCK_STREAM, 0);
		if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
			die("connect");
		int one = 1;
		setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c->producer = i < np;
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
		if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) != 0)
			die("epoll_ctl");
	}
	/* consumers block first, then producers start */
	for (int i = np; i < n; i++)
		sendAll(cs[i].fd, BRPOP, sizeof(BRPOP) - 1);
	usleep(200000);
	double t0 = now(), c0 = cpuSeconds();
	long pushed = 0, popped = 0, inflight_pushes = 0;
	for (int i = 0; i < np && pushed < total; i++, pushed++, inflight_pushes++)
		sendPush(&cs[i], pushed);
	struct epoll_event evs[256];
	while (popped < total) {
		int k = epoll_wait(ep, evs, 256, 10000);
		if (k == 0) {
			fprintf(stderr, "stalled: pushed %ld popped %ld\n", pushed, popped);
			return 1;
		}
		for (int e = 0; e < k; e++) {
			conn *c = evs[e].data.ptr;
			ssize_t r = recv(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen, 0);
			if (r <= 0)
				die("recv");
			c->inlen += (size_t)r;
			for (;;) {
				long l = replyLen(c->in, c->inlen);
				if (l < 0) {
					fprintf(stderr, "error reply: %.*s\n", (int)c->inlen, c->in);
					return 1;
				}
				if (l == 0)
					break;
				memmove(c->in, c->in + l, c->inlen - (size_t)l);
				c->inlen -= (size_t)l;
				if (c->producer) {
					inflight_pushes--;
					if (pushed < total) {
						sendPush(c, pushed++);
						inflight_pushes++;
					}
				} else {
					popped++;
					if (popped + nc <= total)
						sendAll(c->fd, BRPOP, sizeof(BRPOP) - 1);
				}
			}
		}
	}
	double secs = now() - t0, cpu = cpuSeconds() - c0;
	printf("msgs_per_s %.0f client_cpu %.2f seconds %.3f\n", (double)total / secs, cpu / secs, secs);
	for (int i = 0; i < n; i++)
		close(cs[i].fd);
	return 0;
}
