/*
 * resp.c -- incremental RESP request parser (see resp.h for the contract).
 *
 * Error texts are Redis 7's, so clients and tests see the same words; the
 * caller prefixes "ERR " and closes the connection after the reply.
 */
#include "resp.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void respParserInit(respParser *p)
{
	memset(p, 0, sizeof(*p));
	p->bulklen = -1;
}

void respParserReset(respParser *p)
{
	p->kind = 0;
	p->multibulklen = 0;
	p->bulklen = -1;
	p->pos = 0;
	p->argc = 0;
	p->err[0] = '\0';
}

void respParserFree(respParser *p)
{
	free(p->argv);
	p->argv = NULL;
	p->argcap = 0;
}

/*
 * Strict decimal parse, as Redis's string2ll: optional '-', no '+', no blanks,
 * no leading zeros, must fit a long long.
 */
int respParseLL(const char *s, size_t len, long long *out)
{
	size_t i = 0;
	int neg = 0;
	unsigned long long v = 0;

	if (len == 0 || len > 20)
		return 0;
	if (s[0] == '-') {
		neg = 1;
		i = 1;
		if (len == 1)
			return 0;
	}
	if (s[i] == '0' && len > i + 1)
		return 0;
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		if (__builtin_mul_overflow(v, 10u, &v) || __builtin_add_overflow(v, (unsigned)(s[i] - '0'), &v))
			return 0;
	}
	if (neg) {
		if (v > (unsigned long long)LLONG_MAX + 1)
			return 0;
		*out = v == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)v;
	} else {
		if (v > (unsigned long long)LLONG_MAX)
			return 0;
		*out = (long long)v;
	}
	return 1;
}

static int fail(respParser *p, const char *msg)
{
	snprintf(p->err, sizeof(p->err), "Protocol error: %s", msg);
	return RESP_ERROR;
}

/* Room for one more argument; the array grows only as arguments arrive. */
static int pushArg(respParser *p, size_t off, size_t len)
{
	if ((size_t)p->argc == p->argcap) {
		size_t ncap = p->argcap ? p->argcap * 2 : 16;
		respArg *n = realloc(p->argv, ncap * sizeof(*n));
		if (n == NULL)
			return -1;
		p->argv = n;
		p->argcap = ncap;
	}
	p->argv[p->argc].off = off;
	p->argv[p->argc].len = len;
	p->argc++;
	return 0;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

/*
 * Split one inline line buf[0..n) in place, sdssplitargs style: blanks separate
 * arguments; "double quotes" take \n \r \t \b \a \xHH and \<char> escapes;
 * 'single quotes' take \'; a closing quote must be followed by a blank or the end.
 */
static int splitInline(respParser *p, char *buf, size_t n)
{
	size_t i = 0;

	n = strnlen(buf, n); /* as Redis, which splits a C string: a NUL ends the line */
	for (;;) {
		while (i < n && isspace((unsigned char)buf[i]))
			i++;
		if (i >= n)
			return RESP_COMMAND;
		size_t start = i, w = i;
		int inq = 0, insq = 0, done = 0;
		while (!done) {
			if (inq) {
				if (i >= n)
					return fail(p, "unbalanced quotes in request");
				if (buf[i] == '\\' && i + 3 < n && buf[i + 1] == 'x' &&
				    hexval((unsigned char)buf[i + 2]) >= 0 && hexval((unsigned char)buf[i + 3]) >= 0) {
					buf[w++] = (char)(hexval((unsigned char)buf[i + 2]) * 16 + hexval((unsigned char)buf[i + 3]));
					i += 4;
				} else if (buf[i] == '\\' && i + 1 < n) {
					char ch;
					switch (buf[i + 1]) {
					case 'n': ch = '\n'; break;
					case 'r': ch = '\r'; break;
					case 't': ch = '\t'; break;
					case 'b': ch = '\b'; break;
					case 'a': ch = '\a'; break;
					default: ch = buf[i + 1]; break;
					}
					buf[w++] = ch;
					i += 2;
				} else if (buf[i] == '"') {
					if (i + 1 < n && !isspace((unsigned char)buf[i + 1]))
						return fail(p, "unbalanced quotes in request");
					done = 1;
					i++;
				} else {
					buf[w++] = buf[i++];
				}
			} else if (insq) {
				if (i >= n)
					return fail(p, "unbalanced quotes in request");
				if (buf[i] == '\\' && i + 1 < n && buf[i + 1] == '\'') {
					buf[w++] = '\'';
					i += 2;
				} else if (buf[i] == '\'') {
					if (i + 1 < n && !isspace((unsigned char)buf[i + 1]))
						return fail(p, "unbalanced quotes in request");
					done = 1;
					i++;
				} else {
					buf[w++] = buf[i++];
				}
			} else {
				if (i >= n) {
					done = 1;
					break;
				}
				switch (buf[i]) {
				case ' ': case '\n': case '\r': case '\t': case '\0':
					done = 1;
					break;
				case '"':
					inq = 1;
					i++;
					break;
				case '\'':
					insq = 1;
					i++;
					break;
				default:
					buf[w++] = buf[i++];
					break;
				}
			}
		}
		if (pushArg(p, start, w - start) != 0)
			return fail(p, "out of memory");
	}
}

static int parseInline(respParser *p, char *buf, size_t len)
{
	char *nl = memchr(buf, '\n', len);
	if (nl == NULL) {
		if (len > RESP_MAX_HEADER)
			return fail(p, "too big inline request");
		return RESP_NEED_MORE;
	}
	size_t linelen = (size_t)(nl - buf);
	if (linelen > RESP_MAX_HEADER)
		return fail(p, "too big inline request");
	p->pos = linelen + 1;
	if (linelen > 0 && buf[linelen - 1] == '\r')
		linelen--;
	int r = splitInline(p, buf, linelen);
	if (r != RESP_COMMAND)
		return r;
	return p->argc == 0 ? RESP_EMPTY : RESP_COMMAND;
}

/* Find "\r" of a header line starting at buf[from]; -1: need more, -2: too long. */
static long findHeaderEnd(const char *buf, size_t from, size_t len)
{
	size_t avail = len - from;
	size_t scan = avail < RESP_MAX_HEADER ? avail : RESP_MAX_HEADER;
	const char *cr = memchr(buf + from, '\r', scan);
	if (cr == NULL)
		return avail > RESP_MAX_HEADER ? -2 : -1;
	size_t at = (size_t)(cr - buf);
	if (at + 1 >= len) /* the '\n' has not arrived yet */
		return -1;
	return (long)at;
}

/*
 * The usual header number, read in one pass: 1-18 digits without a leading
 * zero (or "0"), then the '\r' with one more byte read.  The position of the
 * '\r' and the value, or -1 for anything else, which the general path
 * (findHeaderEnd, respParseLL) then decides: the same answer, more slowly.
 */
static long fastHeaderNumber(const char *buf, size_t from, size_t len, long long *out)
{
	size_t end = len - from > 19 ? from + 19 : len, i = from;
	unsigned long long v = 0;
	if (i + 1 < len && buf[i] == '0' && buf[i + 1] != '\r')
		return -1;
	for (; i < end && (unsigned)(buf[i] - '0') <= 9; i++)
		v = v * 10 + (unsigned)(buf[i] - '0');
	if (i == from || i >= end || buf[i] != '\r' || i + 1 >= len)
		return -1;
	*out = (long long)v;
	return (long)i;
}

static int parseMultibulk(respParser *p, char *buf, size_t len, const respLimits *lim)
{
	long long ll;

	if (p->kind == 0) {
		long cr = fastHeaderNumber(buf, 1, len, &ll);
		if (cr < 0) {
			cr = findHeaderEnd(buf, 0, len);
			if (cr == -2)
				return fail(p, "too big mbulk count string");
			if (cr < 0)
				return RESP_NEED_MORE;
			if (!respParseLL(buf + 1, (size_t)cr - 1, &ll))
				return fail(p, "invalid multibulk length");
		}
		if (ll > INT_MAX)
			return fail(p, "invalid multibulk length");
		if (ll > 10 && !lim->authenticated)
			return fail(p, "unauthenticated multibulk length");
		p->kind = 1;
		p->pos = (size_t)cr + 2;
		if (ll <= 0)
			return RESP_EMPTY;
		p->multibulklen = ll;
		p->bulklen = -1;
	}

	while (p->multibulklen > 0) {
		if (p->bulklen == -1) {
			if (p->pos >= len)
				return RESP_NEED_MORE;
			if (buf[p->pos] != '$') {
				char msg[64];
				snprintf(msg, sizeof(msg), "expected '$', got '%c'", buf[p->pos]);
				return fail(p, msg);
			}
			long cr = fastHeaderNumber(buf, p->pos + 1, len, &ll);
			if (cr < 0) {
				cr = findHeaderEnd(buf, p->pos, len);
				if (cr == -2)
					return fail(p, "too big bulk count string");
				if (cr < 0)
					return RESP_NEED_MORE;
				if (!respParseLL(buf + p->pos + 1, (size_t)cr - p->pos - 1, &ll))
					return fail(p, "invalid bulk length");
			}
			if (ll < 0 || (uint64_t)ll > lim->max_bulk_len)
				return fail(p, "invalid bulk length");
			if (ll > 16384 && !lim->authenticated)
				return fail(p, "unauthenticated bulk length");
			p->pos = (size_t)cr + 2;
			p->bulklen = ll;
		}
		if (len - p->pos < (size_t)p->bulklen + 2)
			return RESP_NEED_MORE;
		if (pushArg(p, p->pos, (size_t)p->bulklen) != 0)
			return fail(p, "out of memory");
		p->pos += (size_t)p->bulklen + 2;
		p->bulklen = -1;
		p->multibulklen--;
	}
	return RESP_COMMAND;
}

int respParse(respParser *p, char *buf, size_t len, const respLimits *lim)
{
	int r;
	if (len == 0)
		return RESP_NEED_MORE;
	if (p->kind == 1 || (p->kind == 0 && buf[0] == '*')) {
		r = parseMultibulk(p, buf, len, lim);
	} else {
		p->argc = 0; /* an inline request is always parsed from its start */
		r = parseInline(p, buf, len);
	}
	/*
	 * NUL-terminate every argument in place.  The byte after an argument always
	 * belongs to the consumed request: the CR of a bulk's CRLF, or the blank,
	 * quote or line end after an inline word.
	 */
	if (r == RESP_COMMAND)
		for (int i = 0; i < p->argc; i++)
			buf[p->argv[i].off + p->argv[i].len] = '\0';
	return r;
}
