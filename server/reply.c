/*
 * reply.c -- RESP2/RESP3 reply encoding (see reply.h).
 */
#include "reply.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void replyInit(replyBuf *rb)
{
	memset(rb, 0, sizeof(*rb));
	rb->resp = 2;
}

void replyFree(replyBuf *rb)
{
	free(rb->buf);
	rb->buf = NULL;
	rb->len = rb->cap = 0;
}

void replyConsume(replyBuf *rb, size_t n)
{
	if (n >= rb->len) {
		rb->len = 0;
		/* do not keep a huge buffer around after one big reply */
		if (rb->cap > 1024 * 1024) {
			free(rb->buf);
			rb->buf = NULL;
			rb->cap = 0;
		}
		return;
	}
	memmove(rb->buf, rb->buf + n, rb->len - n);
	rb->len -= n;
}

static int reserve(replyBuf *rb, size_t n)
{
	if (rb->oom)
		return -1;
	if (rb->cap - rb->len >= n)
		return 0;
	size_t need = rb->len + n;
	if (need < rb->len) {
		rb->oom = 1;
		return -1;
	}
	size_t ncap = rb->cap ? rb->cap : 256;
	while (ncap < need)
		ncap = ncap * 2 < ncap ? need : ncap * 2;
	char *nb = realloc(rb->buf, ncap);
	if (nb == NULL) {
		rb->oom = 1;
		return -1;
	}
	rb->buf = nb;
	rb->cap = ncap;
	return 0;
}

void addReplyRaw(replyBuf *rb, const void *p, size_t n)
{
	if (n == 0 || reserve(rb, n) != 0)
		return;
	memcpy(rb->buf + rb->len, p, n);
	rb->len += n;
}

/* "<prefix><n>\r\n", formatted by hand: it is on every reply's path. */
static void addHeader(replyBuf *rb, char prefix, long long n)
{
	char tmp[32];
	char *p = tmp + sizeof(tmp);
	unsigned long long u = n < 0 ? 0ull - (unsigned long long)n : (unsigned long long)n;
	*--p = '\n';
	*--p = '\r';
	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (n < 0)
		*--p = '-';
	*--p = prefix;
	addReplyRaw(rb, p, (size_t)(tmp + sizeof(tmp) - p));
}

/* Copy s, turning CR and LF into spaces so the line stays one line. */
static void addLine(replyBuf *rb, char prefix, const char *s, size_t n)
{
	if (reserve(rb, n + 3) != 0)
		return;
	rb->buf[rb->len++] = prefix;
	for (size_t i = 0; i < n; i++)
		rb->buf[rb->len++] = (s[i] == '\r' || s[i] == '\n') ? ' ' : s[i];
	rb->buf[rb->len++] = '\r';
	rb->buf[rb->len++] = '\n';
}

void addReplyStatus(replyBuf *rb, const char *s)
{
	if (s[0] == 'O' && s[1] == 'K' && s[2] == '\0') { /* the usual one, as is */
		addReplyRaw(rb, "+OK\r\n", 5);
		return;
	}
	addLine(rb, '+', s, strlen(s));
}

void addReplyError(replyBuf *rb, const char *s)
{
	if (s[0] == '-') {
		addLine(rb, '-', s + 1, strlen(s + 1));
		return;
	}
	addReplyRaw(rb, "-ERR ", 5);
	/* the body as addLine writes it: CR and LF become spaces */
	size_t n = strlen(s);
	if (reserve(rb, n + 2) != 0)
		return;
	for (size_t i = 0; i < n; i++)
		rb->buf[rb->len++] = (s[i] == '\r' || s[i] == '\n') ? ' ' : s[i];
	rb->buf[rb->len++] = '\r';
	rb->buf[rb->len++] = '\n';
}

void addReplyErrorFormat(replyBuf *rb, const char *fmt, ...)
{
	char tmp[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	addReplyError(rb, tmp);
}

/* "$<n>\r\n<p>\r\n" with one reserve: every GET's reply. */
void addReplyBulk(replyBuf *rb, const void *p, size_t n)
{
	char tmp[24];
	char *t = tmp + sizeof(tmp);
	size_t u = n;
	do {
		*--t = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	size_t hl = (size_t)(tmp + sizeof(tmp) - t);
	if (n > SIZE_MAX - 32) {
		rb->oom = 1;
		return;
	}
	if (reserve(rb, n + hl + 5) != 0)
		return;
	char *d = rb->buf + rb->len;
	*d++ = '$';
	for (size_t i = 0; i < hl; i++)
		*d++ = t[i];
	*d++ = '\r';
	*d++ = '\n';
	if (n)
		memcpy(d, p, n);
	d += n;
	*d++ = '\r';
	*d++ = '\n';
	rb->len = (size_t)(d - rb->buf);
}

void addReplyBulkCString(replyBuf *rb, const char *s)
{
	if (s == NULL)
		addReplyNull(rb);
	else
		addReplyBulk(rb, s, strlen(s));
}

/* Format into buf; the length written, cut at cap - 1 (0 on a format error). */
static size_t formatLine(char *buf, size_t cap, const char *fmt, va_list ap)
{
	int n = vsnprintf(buf, cap, fmt, ap);
	if (n < 0)
		return 0;
	return (size_t)n < cap ? (size_t)n : cap - 1;
}

void addReplyBulkFormat(replyBuf *rb, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	va_start(ap, fmt);
	size_t n = formatLine(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	addReplyBulk(rb, tmp, n);
}

void addReplyRawVFormat(replyBuf *rb, const char *fmt, va_list ap)
{
	char tmp[512];
	addReplyRaw(rb, tmp, formatLine(tmp, sizeof(tmp), fmt, ap));
}

void addReplyRawFormat(replyBuf *rb, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	addReplyRawVFormat(rb, fmt, ap);
	va_end(ap);
}

void addReplyLongLong(replyBuf *rb, long long v)
{
	addHeader(rb, ':', v);
}

void addReplyNull(replyBuf *rb)
{
	if (rb->resp >= 3)
		addReplyRaw(rb, "_\r\n", 3);
	else
		addReplyRaw(rb, "$-1\r\n", 5);
}

void addReplyNullArray(replyBuf *rb)
{
	if (rb->resp >= 3)
		addReplyRaw(rb, "_\r\n", 3);
	else
		addReplyRaw(rb, "*-1\r\n", 5);
}

void addReplyArrayLen(replyBuf *rb, long long n)
{
	addHeader(rb, '*', n);
}

void addReplyMapLen(replyBuf *rb, long long n)
{
	if (rb->resp >= 3)
		addHeader(rb, '%', n);
	else
		addHeader(rb, '*', n * 2);
}

void addReplySetLen(replyBuf *rb, long long n)
{
	addHeader(rb, rb->resp >= 3 ? '~' : '*', n);
}

void addReplyPushLen(replyBuf *rb, long long n)
{
	addHeader(rb, rb->resp >= 3 ? '>' : '*', n);
}

void addReplyStatusArray(replyBuf *rb, const char *const *lines, size_t n)
{
	addReplyArrayLen(rb, (long long)n);
	for (size_t i = 0; i < n; i++)
		addReplyStatus(rb, lines[i]);
}

void addReplyBool(replyBuf *rb, int b)
{
	if (rb->resp >= 3)
		addReplyRaw(rb, b ? "#t\r\n" : "#f\r\n", 4);
	else
		addReplyLongLong(rb, b ? 1 : 0);
}

void addReplyVerbatim(replyBuf *rb, const char *s, size_t n, const char *ext)
{
	if (rb->resp < 3) {
		addReplyBulk(rb, s, n);
		return;
	}
	addHeader(rb, '=', (long long)(n + 4));
	addReplyRaw(rb, ext, 3);
	addReplyRaw(rb, ":", 1);
	addReplyRaw(rb, s, n);
	addReplyRaw(rb, "\r\n", 2);
}

void addReplyPubsubMessage(replyBuf *rb, const char *kind, const void *pat, size_t plen,
                           const void *chan, size_t clen, const void *msg, size_t mlen)
{
	addReplyPushLen(rb, pat ? 4 : 3);
	addReplyBulkCString(rb, kind);
	if (pat)
		addReplyBulk(rb, pat, plen);
	addReplyBulk(rb, chan, clen);
	addReplyBulk(rb, msg, mlen);
}

size_t fmtScore(double d, char *buf)
{
	if (isinf(d))
		return (size_t)snprintf(buf, SCORE_BUFSZ, "%s", d > 0 ? "inf" : "-inf");
	return (size_t)snprintf(buf, SCORE_BUFSZ, "%.17g", d);
}

void addReplyDouble(replyBuf *rb, double d)
{
	char num[SCORE_BUFSZ], out[SCORE_BUFSZ + 8];
	size_t n = fmtScore(d, num);
	int w = rb->resp >= 3 ? snprintf(out, sizeof(out), ",%s\r\n", num)
	                      : snprintf(out, sizeof(out), "$%zu\r\n%s\r\n", n, num);
	addReplyRaw(rb, out, (size_t)w);
}
