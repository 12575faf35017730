/*
 * util.c -- small helpers that are not commands: the clocks and the glob
 * match of the command files.  Logging is log.c's.
 */
#include "server.h"

#include <time.h>

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
	 * then strips trailing stars, so "" matches the empty pattern alone
	 * (PUBSUB CHANNELS * leaves out the "" channel).  The engine has no empty
	 * keys, so this only shows in pub/sub.
	 */
	if (slen == 0)
		return plen == 0;
	return kv_glob_match(pat, plen, s, slen, nocase ? KV_GLOB_NOCASE : 0);
}
