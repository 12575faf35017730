/*
 * util.c -- small helpers that are not commands: the clocks, the listening
 * sockets of both doors and the glob match of the command files.  Logging is
 * log.c's.
 */
#include "server.h"

#include <errno.h>
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int64_t mstime(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t ustime_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int globMatch(const char *pat, size_t plen, const char *s, size_t slen, int nocase)
{
	/*
	 * Redis's stringmatchlen stops as soon as the string is used up and only
	 * then strips trailing stars, so "" matches the empty pattern alone:
	 * PUBSUB CHANNELS * leaves out the "" channel, KEYS ** the "" key.  (KEYS *
	 * and SCAN MATCH * list every key without matching, "" included: t_keys.c.)
	 */
	if (slen == 0)
		return plen == 0;
	return kv_glob_match(pat, plen, s, slen, nocase ? KV_GLOB_NOCASE : 0);
}

int listenOn(const char *addr, int port)
{
	struct addrinfo hints, *res, *ai;
	char portstr[16];
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	snprintf(portstr, sizeof(portstr), "%d", port);
	int rc = getaddrinfo(addr, portstr, &hints, &res);
	if (rc != 0) {
		serverLog(LL_WARNING, "cannot resolve bind address '%s': %s", addr, gai_strerror(rc));
		return -1;
	}
	int fd = -1;
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0)
			continue;
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 511) == 0)
			break;
		serverLog(LL_WARNING, "could not listen on %s:%d: %s", addr, port, strerror(errno));
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}
