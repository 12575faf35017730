/*
 * t_string.c -- string commands.  Each one translates its arguments into one
 * engine call (kv.h) and the result into Redis 7's reply; the semantics (NX/XX,
 * KEEPTTL, integer parsing and overflow, SETRANGE padding, MSET atomicity) are
 * the engine's.
 */
#include "server.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* GET key */
void getCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	(void)argc;
	kv_buf *b = &c->w->buf;
	int rc = kv_get(c->db, argv[1], lens[1], b);
	if (rc == KV_OK) {
		countLookup(c, 1);
		addReplyBulk(&c->rb, b->data, b->len);
	} else if (rc == KV_NOTFOUND) {
		countLookup(c, 0);
		addReplyNull(&c->rb);
	} else {
		replyKvError(c, rc);
	}
}

#define SET_NX      (1 << 0)
#define SET_XX      (1 << 1)
#define SET_GET     (1 << 2)
#define SET_KEEPTTL (1 << 3)
#define SET_EX      (1 << 4)
#define SET_PX      (1 << 5)
#define SET_EXAT    (1 << 6)
#define SET_PXAT    (1 << 7)
#define SET_PERSIST (1 << 8)
#define SET_EXPIRE_ANY (SET_EX | SET_PX | SET_EXAT | SET_PXAT)

/*
 * Parse the options of SET (is_get 0) or GETEX (is_get 1) from argv[first..].
 * Same rules as Redis's parseExtendedStringArgumentsOrReply.
 */
static int parseSetOptions(client *c, int argc, const char **argv, const size_t *lens, int first,
                           int is_get, int *flags, int64_t *expires_at, const char *cmdname)
{
	*flags = 0;
	for (int j = first; j < argc; j++) {
		const char *a = argv[j];
		size_t l = lens[j];
		int has_next = j + 1 < argc;
		if (!is_get && argEq(a, l, "nx") && !(*flags & (SET_XX))) {
			*flags |= SET_NX;
		} else if (!is_get && argEq(a, l, "xx") && !(*flags & SET_NX)) {
			*flags |= SET_XX;
		} else if (!is_get && argEq(a, l, "get")) {
			*flags |= SET_GET;
		} else if (!is_get && argEq(a, l, "keepttl") && !(*flags & (SET_EXPIRE_ANY))) {
			*flags |= SET_KEEPTTL;
		} else if (is_get && argEq(a, l, "persist") && !(*flags & SET_EXPIRE_ANY)) {
			*flags |= SET_PERSIST;
		} else if (has_next && !(*flags & (SET_KEEPTTL | SET_PERSIST | SET_EXPIRE_ANY)) &&
		           (argEq(a, l, "ex") || argEq(a, l, "px") || argEq(a, l, "exat") || argEq(a, l, "pxat"))) {
			int unit_s = (a[0] | 0x20) == 'e';
			int absolute = l == 4;
			*flags |= unit_s ? (absolute ? SET_EXAT : SET_EX) : (absolute ? SET_PXAT : SET_PX);
			j++;
			if (expireArgOrReply(c, argv[j], lens[j], unit_s ? 1000 : 1, absolute, 1, cmdname,
			                     expires_at) != C_OK)
				return C_ERR;
		} else {
			replySyntax(c);
			return C_ERR;
		}
	}
	return C_OK;
}

/* The shared body of SET, SETNX, SETEX, PSETEX and GETSET. */
static void setGenericCommand(client *c, const char *key, size_t klen, const char *val, size_t vlen,
                              int flags, int64_t expires_at, int reply_int)
{
	unsigned kf = 0;
	if (flags & SET_NX)
		kf |= KV_SET_NX;
	if (flags & SET_XX)
		kf |= KV_SET_XX;
	if (!(flags & SET_EXPIRE_ANY))
		expires_at = (flags & SET_KEEPTTL) ? KV_EXPIRE_KEEP : KV_EXPIRE_DEFAULT;
	kv_buf *old = (flags & SET_GET) ? &c->w->buf : NULL;
	int rc = kv_set(c->db, key, klen, val, vlen, KV_T_BYTES, expires_at, kf, old);
	if (replyKvError(c, rc))
		return;
	if (rc == KV_OK && (flags & SET_EXPIRE_ANY))
		pubsubNotifyGeneric(c, key, klen, "expire"); /* Redis sends "set" then "expire" */
	if (reply_int) {
		addReplyLongLong(&c->rb, rc == KV_OK);
	} else if (flags & SET_GET) {
		if (old->type == KV_T_NONE)
			addReplyNull(&c->rb);
		else
			addReplyBulk(&c->rb, old->data, old->len);
	} else if (rc == KV_OK) {
		addReplyStatus(&c->rb, "OK");
	} else {
		addReplyNull(&c->rb);
	}
}

/* SET key value [NX | XX] [GET] [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds | KEEPTTL] */
void setCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	int flags;
	int64_t exp = 0;
	if (parseSetOptions(c, argc, argv, lens, 3, 0, &flags, &exp, "set") != C_OK)
		return;
	setGenericCommand(c, argv[1], lens[1], argv[2], lens[2], flags, exp, 0);
}

/* SETNX key value */
void setnxCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	(void)argc;
	setGenericCommand(c, argv[1], lens[1], argv[2], lens[2], SET_NX, 0, 1);
}

/* SETEX key seconds value */
void setexCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	(void)argc;
	int64_t exp;
	if (expireArgOrReply(c, argv[2], lens[2], 1000, 0, 1, "setex", &exp) != C_OK)
		return;
	setGenericCommand(c, argv[1], lens[1], argv[3], lens[3], SET_EX, exp, 0);
}

/* PSETEX key milliseconds value */
void psetexCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	(void)argc;
	int64_t exp;
	if (expireArgOrReply(c, argv[2], lens[2], 1, 0, 1, "psetex", &exp) != C_OK)
		return;
	setGenericCommand(c, argv[1], lens[1], argv[3], lens[3], SET_PX, exp, 0);
}

/* GETSET key value */
void getsetCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	(void)argc;
	setGenericCommand(c, argv[1], lens[1], argv[2], lens[2], SET_GET, 0, 0);
}

/* GETDEL key */
void getdelCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	(void)argc;
	kv_buf *b = &c->w->buf;
	int rc = kv_consume(c->db, argv[1], lens[1], b);
	if (rc == KV_OK)
		addReplyBulk(&c->rb, b->data, b->len);
	else if (rc == KV_NOTFOUND)
		addReplyNull(&c->rb);
	else
		replyKvError(c, rc);
}

/*
 * GETEX key [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds | PERSIST]
 * Two engine calls (get, then expire or persist): see the engine request in
 * server/README.md; a writer in between may be overwritten by the expiry change.
 */
void getexCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	int flags;
	int64_t exp = 0;
	if (parseSetOptions(c, argc, argv, lens, 2, 1, &flags, &exp, "getex") != C_OK)
		return;
	kv_buf *b = &c->w->buf;
	int rc = kv_get(c->db, argv[1], lens[1], b);
	if (rc == KV_NOTFOUND) {
		addReplyNull(&c->rb);
		return;
	}
	if (replyKvError(c, rc))
		return;
	if (flags & SET_EXPIRE_ANY)
		rc = kv_expire(c->db, argv[1], lens[1], exp, 0);
	else if (flags & SET_PERSIST) {
		pubsubRenameEvents(KV_EV_EXPIRE, "persist");
		rc = kv_persist(c->db, argv[1], lens[1]);
		pubsubRenameEvents(0, NULL);
	}
	if (rc != KV_OK && replyKvError(c, rc))
		return;
	addReplyBulk(&c->rb, b->data, b->len);
}

/* MGET key [key ...]: one all-or-nothing batch, so it is a consistent cut. */
void mgetCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	size_t n = (size_t)argc - 1;
	kv_op stackops[16];
	kv_op *ops = n <= 16 ? stackops : calloc(n, sizeof(kv_op));
	if (ops == NULL) {
		replyKvError(c, KV_ENOMEM);
		return;
	}
	memset(ops, 0, n * sizeof(kv_op));
	for (size_t i = 0; i < n; i++) {
		ops[i].op = KV_OP_GET;
		ops[i].key = argv[i + 1];
		ops[i].klen = lens[i + 1];
	}
	kv_error err;
	kv_buf *arena = &c->w->buf;
	int rc = kv_batch(c->db, ops, n, KV_BATCH_ALL_OR_NOTHING, arena, &err);
	if (rc != KV_OK) {
		replyKvError(c, rc);
	} else {
		addReplyArrayLen(&c->rb, (long long)n);
		for (size_t i = 0; i < n; i++) {
			if (ops[i].status == KV_OK) {
				/* an arena that only ever held empty values may still be NULL */
				addReplyBulk(&c->rb, ops[i].out_len ? arena->data + ops[i].out_off : "", ops[i].out_len);
				countLookup(c, 1);
			} else {
				addReplyNull(&c->rb);
				countLookup(c, 0);
			}
		}
	}
	if (ops != stackops)
		free(ops);
}

/* qsort order of MSETNX pairs: by key, then by position */
typedef struct keyPos {
	const char *key;
	size_t      len;
	size_t      pos;
} keyPos;

static int keyPosCmp(const void *a, const void *b)
{
	const keyPos *x = a, *y = b;
	size_t m = x->len < y->len ? x->len : y->len;
	int r = memcmp(x->key, y->key, m);
	if (r == 0)
		r = (x->len > y->len) - (x->len < y->len);
	if (r == 0)
		r = (x->pos > y->pos) - (x->pos < y->pos);
	return r;
}

/*
 * MSETNX checks that no key exists *before* it writes, so a key named twice
 * is set once, to its last value.  Translated into the engine's NX batch, the
 * second SET of such a key would see the first: drop every earlier occurrence.
 * Marks skip[i] for dropped pairs; returns the number kept, or -1 on OOM.
 */
static long dedupeLastWins(int argc, const char **argv, const size_t *lens, unsigned char *skip)
{
	size_t n = (size_t)(argc - 1) / 2;
	keyPos *kp = malloc(n * sizeof(*kp));
	if (kp == NULL)
		return -1;
	for (size_t i = 0; i < n; i++)
		kp[i] = (keyPos){argv[1 + 2 * i], lens[1 + 2 * i], i};
	qsort(kp, n, sizeof(*kp), keyPosCmp);
	long kept = 0;
	for (size_t i = 0; i < n; i++) {
		int dup = i + 1 < n && kp[i + 1].len == kp[i].len && memcmp(kp[i + 1].key, kp[i].key, kp[i].len) == 0;
		skip[kp[i].pos] = (unsigned char)dup;
		kept += !dup;
	}
	free(kp);
	return kept;
}

/* MSET / MSETNX: one all-or-nothing batch of SETs. */
static void msetGenericCommand(client *c, int argc, const char **argv, const size_t *lens, int nx)
{
	if (argc % 2 == 0) {
		replyArity(c, nx ? "msetnx" : "mset");
		return;
	}
	size_t total = (size_t)(argc - 1) / 2, n = 0;
	kv_op stackops[16];
	unsigned char stackskip[16];
	kv_op *ops = total <= 16 ? stackops : calloc(total, sizeof(kv_op));
	unsigned char *skip = total <= 16 ? stackskip : calloc(total, 1);
	if (ops == NULL || skip == NULL || (nx && dedupeLastWins(argc, argv, lens, skip) < 0)) {
		if (ops != stackops)
			free(ops);
		if (skip != stackskip)
			free(skip);
		replyKvError(c, KV_ENOMEM);
		return;
	}
	if (!nx)
		memset(skip, 0, total);
	memset(ops, 0, total * sizeof(kv_op));
	for (size_t i = 0; i < total; i++) {
		if (skip[i])
			continue;
		ops[n].op = KV_OP_SET;
		ops[n].key = argv[1 + 2 * i];
		ops[n].klen = lens[1 + 2 * i];
		ops[n].val = argv[2 + 2 * i];
		ops[n].vlen = lens[2 + 2 * i];
		ops[n].type = KV_T_BYTES;
		ops[n].expires_at = KV_EXPIRE_DEFAULT;
		ops[n].flags = nx ? KV_SET_NX : 0;
		n++;
	}
	if (skip != stackskip)
		free(skip);
	kv_error err;
	int rc = kv_batch(c->db, ops, n, KV_BATCH_ALL_OR_NOTHING, NULL, &err);
	if (nx && rc == KV_EXISTS)
		addReplyLongLong(&c->rb, 0);
	else if (replyKvError(c, rc))
		;
	else if (nx)
		addReplyLongLong(&c->rb, 1);
	else
		addReplyStatus(&c->rb, "OK");
	if (ops != stackops)
		free(ops);
}

/* MSET key value [key value ...] */
void msetCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	msetGenericCommand(c, argc, argv, lens, 0);
}

/* MSETNX key value [key value ...] */
void msetnxCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	msetGenericCommand(c, argc, argv, lens, 1);
}

static void incrGenericCommand(client *c, const char *key, size_t klen, long long by)
{
	int64_t result;
	int rc = kv_incr(c->db, key, klen, by, &result);
	if (replyKvError(c, rc))
		return;
	addReplyLongLong(&c->rb, result);
}

/* INCR key */
void incrCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	(void)argc;
	incrGenericCommand(c, argv[1], lens[1], 1);
}

/* DECR key */
void decrCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	(void)argc;
	incrGenericCommand(c, argv[1], lens[1], -1);
}

/* INCRBY key increment */
void incrbyCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	(void)argc;
	long long by;
	if (argToLongLongOrReply(c, argv[2], lens[2], &by) != C_OK)
		return;
	incrGenericCommand(c, argv[1], lens[1], by);
}

/* DECRBY key decrement */
void decrbyCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	(void)argc;
	long long by;
	if (argToLongLongOrReply(c, argv[2], lens[2], &by) != C_OK)
		return;
	if (by == LLONG_MIN) {
		addReplyError(&c->rb, "decrement would overflow");
		return;
	}
	incrGenericCommand(c, argv[1], lens[1], -by);
}

/* INCRBYFLOAT key increment */
void incrbyfloatCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	(void)argc;
	double by, result;
	if (argToDoubleOrReply(c, argv[2], lens[2], &by) != C_OK)
		return;
	kv_buf *text = &c->w->buf;
	pubsubRenameEvents(KV_EV_INCR, "incrbyfloat");
	int rc = kv_incr_float(c->db, argv[1], lens[1], argv[2], lens[2], &result, text);
	pubsubRenameEvents(0, NULL);
	if (rc == KV_EOVERFLOW) { /* the sum is not a finite double */
		addReplyError(&c->rb, "increment would produce NaN or Infinity");
		return;
	}
	if (replyKvError(c, rc))
		return;
	addReplyBulk(&c->rb, text->data, text->len);
}

/* APPEND key value */
void appendCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	(void)argc;
	size_t newlen;
	int rc = kv_append(c->db, argv[1], lens[1], argv[2], lens[2], &newlen);
	if (replyKvError(c, rc))
		return;
	addReplyLongLong(&c->rb, (long long)newlen);
}

/* STRLEN key */
void strlenCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	(void)argc;
	size_t len = 0;
	int rc = kv_strlen(c->db, argv[1], lens[1], &len);
	if (rc != KV_NOTFOUND && replyKvError(c, rc))
		return;
	addReplyLongLong(&c->rb, rc == KV_OK ? (long long)len : 0);
}

/* GETRANGE key start end */
void getrangeCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	(void)argc;
	long long start, end;
	if (argToLongLongOrReply(c, argv[2], lens[2], &start) != C_OK ||
	    argToLongLongOrReply(c, argv[3], lens[3], &end) != C_OK)
		return;
	kv_buf *b = &c->w->buf;
	int rc = kv_getrange(c->db, argv[1], lens[1], start, end, b);
	if (rc == KV_NOTFOUND) {
		addReplyBulk(&c->rb, "", 0);
		return;
	}
	if (replyKvError(c, rc))
		return;
	addReplyBulk(&c->rb, b->data, b->len);
}

/* SETRANGE key offset value */
void setrangeCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	(void)argc;
	long long off;
	if (argToLongLongOrReply(c, argv[2], lens[2], &off) != C_OK)
		return;
	if (off < 0) {
		addReplyError(&c->rb, "offset is out of range");
		return;
	}
	size_t newlen;
	pubsubRenameEvents(KV_EV_SET, "setrange");
	int rc = kv_setrange(c->db, argv[1], lens[1], (size_t)off, argv[3], lens[3], &newlen);
	pubsubRenameEvents(0, NULL);
	if (replyKvError(c, rc))
		return;
	addReplyLongLong(&c->rb, (long long)newlen);
}
