/*
 * resp.h -- the RESP request parser, free of sockets so it can be fuzzed.
 *
 * Usage:
 *   respParser p; respParserInit(&p);
 *   for (;;) {
 *       int r = respParse(&p, buf, len, &limits);
 *       if (r == RESP_NEED_MORE) break;            // read more, call again
 *       if (r == RESP_ERROR) { reply "-ERR " p.err; close; }
 *       if (r == RESP_COMMAND) run p.argc args buf+p.argv[i].off, p.argv[i].len
 *       buf += p.pos; len -= p.pos; respParserReset(&p);
 *   }
 *
 * HOW IT WORKS
 *   A request is either a multibulk array ("*N\r\n" then N "$len\r\n<bytes>\r\n")
 *   or an inline line (telnet style, split on blanks with quotes).  The parser
 *   keeps its position between calls, so a request that arrives in pieces is
 *   never rescanned from its start: each call resumes where the last stopped.
 *   Arguments are (offset, length) pairs into the caller's buffer, relative to
 *   the request's first byte, so the caller may move the buffer between calls as
 *   long as it moves the partial request with it.  Inline arguments are unescaped
 *   in place (the result is never longer than its source).
 *
 *   When a request is complete each argument is NUL-terminated in place (the
 *   byte after it is part of the consumed request), so arguments are C strings
 *   that may also hold NUL bytes of their own: always use their lengths.
 *
 *   Every limit is checked before anything is allocated: a bulk length is compared
 *   with max_bulk_len before the caller grows its buffer for it (p->bulklen tells
 *   the caller how much is coming), the argument array grows only as arguments
 *   actually arrive, and a header line longer than 64 KiB is refused.
 */
#ifndef SHARDKV_RESP_H
#define SHARDKV_RESP_H

#include <stddef.h>
#include <stdint.h>

#define RESP_NEED_MORE 0  /* incomplete: call again with more bytes */
#define RESP_COMMAND   1  /* p->argc arguments are ready; p->pos bytes consumed */
#define RESP_EMPTY     2  /* an empty request (blank line, "*0"): p->pos bytes consumed */
#define RESP_ERROR     (-1) /* protocol error: p->err says what; close the connection */

#define RESP_MAX_HEADER  (64 * 1024)   /* longest "*N" / "$N" / inline line */

typedef struct respArg {
	size_t off;
	size_t len;
} respArg;

typedef struct respLimits {
	uint64_t max_bulk_len;     /* proto-max-bulk-len */
	int      authenticated;    /* 0: Redis's tighter limits for unauthenticated clients */
} respLimits;

typedef struct respParser {
	int       kind;          /* 0 unknown, 1 multibulk, 2 inline */
	long long multibulklen;  /* arguments still to read */
	long long bulklen;       /* length of the bulk being read, -1 between bulks */
	size_t    pos;           /* bytes of the request examined so far */
	int       argc;
	respArg  *argv;
	size_t    argcap;
	char      err[96];
} respParser;

void respParserInit(respParser *p);
/* Forget the request just handled (keeps the argument array for reuse). */
void respParserReset(respParser *p);
void respParserFree(respParser *p);
/*
 * Parse from buf (the request's first byte) for len bytes.  Returns one of the
 * RESP_* codes above.  On RESP_NEED_MORE inside a bulk, p->bulklen is the size
 * of the bulk being waited for (already checked against the limits).
 * Returns RESP_ERROR with err "out of memory" if the argument array cannot grow.
 */
int respParse(respParser *p, char *buf, size_t len, const respLimits *lim);

/* Redis's strict string-to-integer rule (no blanks, no '+', no leading zeros). */
int respParseLL(const char *s, size_t len, long long *out);

#endif /* SHARDKV_RESP_H */
