/*
 * log.c -- the server log: Redis's line format ("pid:M date time.ms level msg"),
 * to the logfile or stderr, one line per call under a mutex so lines of
 * different threads never interleave.  Each line is flushed at once, so a
 * process that dies (or _exits past stuck workers) loses none.
 */
#include "server.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static FILE *logfp; /* NULL: stderr */
static pthread_mutex_t logLock = PTHREAD_MUTEX_INITIALIZER;

int serverLogOpen(const char *path)
{
	if (path[0] == '\0')
		return C_OK;
	logfp = fopen(path, "a");
	if (logfp == NULL) {
		fprintf(stderr, "shardkv-server: cannot open log file %s: %s\n", path, strerror(errno));
		return C_ERR;
	}
	return C_OK;
}

void serverLogClose(void)
{
	pthread_mutex_lock(&logLock);
	if (logfp)
		fclose(logfp);
	logfp = NULL;
	pthread_mutex_unlock(&logLock);
}

int serverLogLevel(const char *name)
{
	static const char *names[] = {"debug", "verbose", "notice", "warning"};
	for (int i = 0; i < 4; i++)
		if (!strcasecmp(name, names[i]))
			return i;
	return -1;
}

void serverLog(int level, const char *fmt, ...)
{
	if (level < atomic_load_explicit(&srv.loglevel, memory_order_relaxed))
		return;
	char msg[1024], ts[64];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	struct timeval tv;
	gettimeofday(&tv, NULL);
	struct tm tm;
	time_t secs = tv.tv_sec;
	localtime_r(&secs, &tm);
	size_t off = strftime(ts, sizeof(ts), "%d %b %Y %H:%M:%S", &tm);
	snprintf(ts + off, sizeof(ts) - off, ".%03d", (int)(tv.tv_usec / 1000));
	pthread_mutex_lock(&logLock);
	fprintf(logfp ? logfp : stderr, "%d:M %s %c %s\n", (int)getpid(), ts, ".-*#"[level], msg);
	fflush(logfp ? logfp : stderr);
	pthread_mutex_unlock(&logLock);
}
