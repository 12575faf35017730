/*
 * reply.h -- the reply builder: RESP2 and RESP3 encodings into a growable buffer.
 *
 * Commands call these with the protocol version of their client; the RESP3-only
 * types (null, map, set, double, boolean, push, verbatim) fall back to their RESP2
 * forms as Redis does.  An allocation failure marks the buffer failed (oom) and
 * drops the rest; the connection is then closed by its owner.
 */
#ifndef SHARDKV_REPLY_H
#define SHARDKV_REPLY_H

#include <stdarg.h>
#include <stddef.h>

typedef struct replyBuf {
	char  *buf;
	size_t len, cap;
	int    resp;  /* 2 or 3 */
	int    oom;
} replyBuf;

void replyInit(replyBuf *rb);
void replyFree(replyBuf *rb);
/* Drop the first n bytes (they were written). */
void replyConsume(replyBuf *rb, size_t n);

void addReplyRaw(replyBuf *rb, const void *p, size_t n);
void addReplyStatus(replyBuf *rb, const char *s);                 /* +s */
/* -ERR s, or -s verbatim when s starts with '-'; CR/LF become spaces. */
void addReplyError(replyBuf *rb, const char *s);
void addReplyErrorFormat(replyBuf *rb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void addReplyBulk(replyBuf *rb, const void *p, size_t n);
void addReplyBulkCString(replyBuf *rb, const char *s);
void addReplyLongLong(replyBuf *rb, long long v);
void addReplyNull(replyBuf *rb);                                  /* $-1 or _ */
void addReplyNullArray(replyBuf *rb);                             /* *-1 or _ */
void addReplyArrayLen(replyBuf *rb, long long n);
void addReplyMapLen(replyBuf *rb, long long n);                   /* %n or *2n */
void addReplySetLen(replyBuf *rb, long long n);                   /* ~n or *n */
void addReplyPushLen(replyBuf *rb, long long n);                  /* >n or *n */
void addReplyStatusArray(replyBuf *rb, const char *const *lines, size_t n); /* HELP replies */
void addReplyBool(replyBuf *rb, int b);
/*
 * A score as Redis 7.0's addReplyDouble writes it: "%.17g" ("inf", "-inf"),
 * a bulk string in RESP2, a double (,) in RESP3.  fmtScore gives the same text
 * (ZSCAN's scores, always bulk); buf needs SCORE_BUFSZ bytes.
 */
#define SCORE_BUFSZ 32
size_t fmtScore(double d, char *buf);
void addReplyDouble(replyBuf *rb, double d);                           /* #t / :1 */
void addReplyVerbatim(replyBuf *rb, const char *s, size_t n, const char *ext); /* =n txt: or bulk */
/* A bulk string whose text is given as a printf format. */
void addReplyBulkFormat(replyBuf *rb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Formatted text appended as is (INFO lines, /metrics), cut at 511 bytes. */
void addReplyRawFormat(replyBuf *rb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void addReplyRawVFormat(replyBuf *rb, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* Encode a RESP2/RESP3 pub/sub message; helper for the pub/sub mailbox. */
void addReplyPubsubMessage(replyBuf *rb, const char *kind, const void *pat, size_t plen,
                           const void *chan, size_t clen, const void *msg, size_t mlen);

#endif /* SHARDKV_REPLY_H */
