/*
 * t_zset.c -- sorted-set commands (Redis 7.0's Z* family).  Each command
 * parses its arguments in Redis's order (so the same bad input gets the same
 * error, and a syntax error wins over WRONGTYPE where Redis's does), makes one
 * engine call (kv.h "sorted sets") and writes Redis's reply: scores through
 * addReplyDouble ("%.17g"; a double in RESP3), WITHSCORES as flat pairs in
 * RESP2 and as [member, score] arrays in RESP3.  The semantics (ranges,
 * LIMIT, aggregates, NaN rules) are the engine's.
 *
 * AOF: writes log their effect (collEffect, aof_effect.c): ZADD of the
 * resulting scores of the members a ZADD or ZINCRBY named, ZREM of what ZREM
 * and ZPOP* removed.  ZREMRANGEBY* and the STORE forms log none, so the AOF
 * logs their key whole at the command's commit (aof.c "COLLECTIONS").
 */
#include "server.h"
#include "aof.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ parsing */

/* Redis's getDoubleFromObject: strtod, no blank first, all bytes, no NaN, an
 * underflow only when it rounds to zero.  s is NUL-terminated. */
int zsetParseDouble(const char *s, size_t len, double *out)
{
	char *end;
	if (len == 0 || isspace((unsigned char)s[0]))
		return 0;
	errno = 0;
	double v = strtod(s, &end);
	if ((size_t)(end - s) != len || isnan(v) ||
	    (errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL || v == 0)))
		return 0;
	*out = v;
	return 1;
}

static int doubleOrReply(client *c, const char *s, size_t len, double *out, const char *msg)
{
	if (zsetParseDouble(s, len, out))
		return C_OK;
	addReplyError(&c->rb, msg ? msg : "value is not a valid float");
	return C_ERR;
}

/* Redis's getRangeLongFromObjectOrReply (msg NULL: its own range text). */
int rangeLongOrReply(client *c, const char *s, size_t len, long long min, long long max,
                     long long *out, const char *msg)
{
	long long v;
	if (!argToLongLong(s, len, &v)) {
		addReplyError(&c->rb, msg ? msg : "value is not an integer or out of range");
		return C_ERR;
	}
	if (v < min || v > max) {
		if (msg)
			addReplyError(&c->rb, msg);
		else
			addReplyErrorFormat(&c->rb, "value is out of range, value must between %lld and %lld", min, max);
		return C_ERR;
	}
	*out = v;
	return C_OK;
}

/* One end of a score range, as Redis's zslParseRange: "(" excludes, strtod
 * up to the NUL (so "" and "(" are 0), no NaN. */
static int parseScoreBound(const char *s, double *v, int *excl)
{
	char *end;
	*excl = s[0] == '(';
	if (*excl)
		s++;
	*v = strtod(s, &end);
	return end[0] == '\0' && !isnan(*v);
}

/* One end of a lex range, as zslParseLexRangeItem: "-", "+", "(x", "[x". */
static int parseLexBound(const char *s, size_t len, kv_val *v, int *excl, int *inf)
{
	*inf = 0;
	switch (s[0]) {
	case '+':
	case '-':
		if (len != 1)
			return 0;
		*inf = s[0] == '+' ? 1 : -1;
		*excl = 1;
		v->data = "";
		v->len = 0;
		return 1;
	case '(':
	case '[':
		*excl = s[0] == '(';
		v->data = s + 1;
		v->len = len - 1;
		return 1;
	default:
		return 0;
	}
}

static int scoreRangeOrReply(client *c, const char *min, const char *max, kv_zrange_spec *spec)
{
	spec->by = KV_ZBY_SCORE;
	if (!parseScoreBound(min, &spec->min, &spec->min_excl) ||
	    !parseScoreBound(max, &spec->max, &spec->max_excl)) {
		addReplyError(&c->rb, "min or max is not a float");
		return C_ERR;
	}
	return C_OK;
}

static int lexRangeOrReply(client *c, const char *min, size_t minlen, const char *max, size_t maxlen,
                           kv_zrange_spec *spec)
{
	spec->by = KV_ZBY_LEX;
	if (!parseLexBound(min, minlen, &spec->lmin, &spec->min_excl, &spec->lmin_inf) ||
	    !parseLexBound(max, maxlen, &spec->lmax, &spec->max_excl, &spec->lmax_inf)) {
		addReplyError(&c->rb, "min or max not valid string range item");
		return C_ERR;
	}
	return C_OK;
}

/* ------------------------------------------------------------ replies */

static void replyMember(client *c, const kv_elems *e, size_t i)
{
	addReplyBulk(&c->rb, e->bytes.data + e->v[i].off, e->v[i].len);
}

/* Members and scores, flat or as [member, score] arrays. */
static void replyZsetPairs(client *c, const kv_elems *e, int withscores, int nested)
{
	addReplyArrayLen(&c->rb, (long long)(withscores && !nested ? e->n * 2 : e->n));
	for (size_t i = 0; i < e->n; i++) {
		if (nested)
			addReplyArrayLen(&c->rb, 2);
		replyMember(c, e, i);
		if (withscores)
			addReplyDouble(&c->rb, e->v[i].score);
	}
}

/* Members, with scores as RESP2 flat pairs or RESP3 [member, score] arrays. */
static void replyZsetElems(client *c, const kv_elems *e, int withscores)
{
	replyZsetPairs(c, e, withscores, withscores && c->rb.resp >= 3);
}

/* ------------------------------------------------------------ AOF effects */

/* ZADD key score member ... of the members' scores now (those now absent left out). */
static void zaddEffect(client *c, const char *key, size_t klen, const kv_val *members, size_t n)
{
	if (!aofEnabled())
		return;
	kv_elems e = KV_ELEMS_INIT;
	kv_val *eff = malloc((2 + 2 * n) * sizeof(*eff));
	char (*num)[SCORE_BUFSZ] = malloc(n * sizeof(*num));
	if (eff == NULL || num == NULL || kv_zmscore(c->db, key, klen, members, n, &e) != KV_OK) {
		collEffect(c, 0, NULL); /* cannot describe it: the AOF marks the change lost */
		goto out;
	}
	size_t k = 2;
	eff[0] = (kv_val){.data = "ZADD", .len = 4};
	eff[1] = (kv_val){.data = key, .len = klen};
	for (size_t i = 0; i < n && i < e.n; i++)
		if (e.v[i].len != KV_ELEM_NIL) {
			eff[k++] = (kv_val){.data = num[i], .len = fmtScore(e.v[i].score, num[i])};
			eff[k++] = members[i];
		}
	if (k > 2)
		collEffect(c, k, eff);
out:
	kv_elems_free(srv.env, &e);
	free(eff);
	free(num);
}

/* The effect head[0..nh) followed by tail[0..nt) (a command's name and key, then its elements). */
void effectJoin(client *c, const kv_val *head, size_t nh, const kv_val *tail, size_t nt)
{
	if (!aofEnabled())
		return;
	kv_val small[32], *eff = nh + nt <= 32 ? small : malloc((nh + nt) * sizeof(*eff));
	if (eff == NULL) {
		collEffect(c, 0, NULL);
		return;
	}
	memcpy(eff, head, nh * sizeof(*eff));
	if (nt)
		memcpy(eff + nh, tail, nt * sizeof(*eff));
	collEffect(c, nh + nt, eff);
	if (eff != small)
		free(eff);
}

/* ZREM key member ... of removed elements (ZPOP*'s). */
static void zremEffect(client *c, const char *key, size_t klen, const kv_elems *e)
{
	if (!aofEnabled() || e->n == 0)
		return;
	kv_val *eff = malloc((2 + e->n) * sizeof(*eff));
	if (eff == NULL) {
		collEffect(c, 0, NULL);
		return;
	}
	eff[0] = (kv_val){.data = "ZREM", .len = 4};
	eff[1] = (kv_val){.data = key, .len = klen};
	for (size_t i = 0; i < e->n; i++)
		eff[2 + i] = (kv_val){.data = e->bytes.data + e->v[i].off, .len = e->v[i].len};
	collEffect(c, 2 + e->n, eff);
	free(eff);
}

/* ------------------------------------------------------------ ZADD, ZINCRBY */

/* ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...] */
void zaddCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	unsigned flags = 0;
	int i = 2;
	for (; i < argc; i++) {
		if (argEq(argv[i], lens[i], "nx"))
			flags |= KV_ZADD_NX;
		else if (argEq(argv[i], lens[i], "xx"))
			flags |= KV_ZADD_XX;
		else if (argEq(argv[i], lens[i], "ch"))
			flags |= KV_ZADD_CH;
		else if (argEq(argv[i], lens[i], "incr"))
			flags |= KV_ZADD_INCR;
		else if (argEq(argv[i], lens[i], "gt"))
			flags |= KV_ZADD_GT;
		else if (argEq(argv[i], lens[i], "lt"))
			flags |= KV_ZADD_LT;
		else
			break;
	}
	int left = argc - i;
	if (left == 0 || left % 2) {
		replySyntax(c);
		return;
	}
	size_t n = (size_t)left / 2;
	if ((flags & KV_ZADD_NX) && (flags & KV_ZADD_XX)) {
		addReplyError(&c->rb, "XX and NX options at the same time are not compatible");
		return;
	}
	if (((flags & KV_ZADD_NX) && (flags & (KV_ZADD_GT | KV_ZADD_LT))) ||
	    ((flags & KV_ZADD_GT) && (flags & KV_ZADD_LT))) {
		addReplyError(&c->rb, "GT, LT, and/or NX options at the same time are not compatible");
		return;
	}
	if ((flags & KV_ZADD_INCR) && n > 1) {
		addReplyError(&c->rb, "INCR option supports a single increment-element pair");
		return;
	}
	kv_zmember stack[16], *m = n <= 16 ? stack : malloc(n * sizeof(*m));
	if (m == NULL) {
		replyKvError(c, KV_ENOMEM);
		return;
	}
	for (size_t j = 0; j < n; j++) {
		int si = i + (int)j * 2;
		if (doubleOrReply(c, argv[si], lens[si], &m[j].score, NULL) != C_OK)
			goto out;
		m[j].member.data = argv[si + 1];
		m[j].member.len = lens[si + 1];
	}
	uint64_t count = 0;
	double result = 0;
	int rc = kv_zadd(c->db, argv[1], lens[1], m, n, flags, &count, &result);
	if (rc == KV_ENOTFLOAT)
		addReplyError(&c->rb, "resulting score is not a number (NaN)");
	else if (replyKvError(c, rc))
		;
	else {
		if (rc == KV_OK) {
			kv_val mv[16], *mp = n <= 16 ? mv : malloc(n * sizeof(*mp));
			for (size_t j = 0; mp && j < n; j++)
				mp[j] = m[j].member;
			if (mp)
				zaddEffect(c, argv[1], lens[1], mp, n);
			else
				collEffect(c, 0, NULL);
			if (mp != mv)
				free(mp);
		}
		if (!(flags & KV_ZADD_INCR))
			addReplyLongLong(&c->rb, (long long)count);
		else if (rc == KV_UNCHANGED)
			addReplyNull(&c->rb);
		else
			addReplyDouble(&c->rb, result);
	}
out:
	if (m != stack)
		free(m);
}

/* ZINCRBY key increment member */
void zincrbyCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	(void)argc;
	double by, result;
	if (doubleOrReply(c, argv[2], lens[2], &by, NULL) != C_OK)
		return;
	int rc = kv_zincr(c->db, argv[1], lens[1], argv[3], lens[3], by, &result);
	if (rc == KV_ENOTFLOAT) {
		addReplyError(&c->rb, "resulting score is not a number (NaN)");
	} else if (!replyKvError(c, rc)) {
		kv_val mv = {.data = argv[3], .len = lens[3]};
		zaddEffect(c, argv[1], lens[1], &mv, 1);
		addReplyDouble(&c->rb, result);
	}
}

/* ------------------------------------------------------------ point reads and writes */

static kv_val *argVals(const char **argv, const size_t *lens, int from, int argc, kv_val *stack, size_t cap)
{
	size_t n = (size_t)(argc - from);
	kv_val *v = n <= cap ? stack : malloc(n * sizeof(*v));
	if (v == NULL)
		return NULL;
	for (size_t j = 0; j < n; j++) {
		v[j].data = argv[from + (int)j];
		v[j].len = lens[from + (int)j];
	}
	return v;
}

/* ZREM key member [member ...] */
void zremCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	kv_val stack[16] = {{0}};
	kv_val *m = argVals(argv, lens, 2, argc, stack, 16);
	if (m == NULL) {
		replyKvError(c, KV_ENOMEM);
		return;
	}
	uint64_t removed = 0;
	int rc = kv_zrem(c->db, argv[1], lens[1], m, (size_t)(argc - 2), &removed);
	if (!replyKvError(c, rc)) {
		if (removed) { /* the command is its own effect */
			kv_val eff[2] = {{.data = "ZREM", .len = 4}, {.data = argv[1], .len = lens[1]}};
			effectJoin(c, eff, 2, m, (size_t)(argc - 2));
		}
		addReplyLongLong(&c->rb, (long long)removed);
	}
	if (m != stack)
		free(m);
}

/* ZSCORE key member */
void zscoreCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	(void)argc;
	double score;
	int rc = kv_zscore(c->db, argv[1], lens[1], argv[2], lens[2], &score);
	if (rc == KV_NOTFOUND)
		addReplyNull(&c->rb);
	else if (!replyKvError(c, rc))
		addReplyDouble(&c->rb, score);
}

/* ZMSCORE key member [member ...] */
void zmscoreCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	kv_val stack[16] = {{0}};
	kv_val *m = argVals(argv, lens, 2, argc, stack, 16);
	kv_elems e = KV_ELEMS_INIT;
	int rc = m ? kv_zmscore(c->db, argv[1], lens[1], m, (size_t)(argc - 2), &e) : KV_ENOMEM;
	if (!replyKvError(c, rc)) {
		addReplyArrayLen(&c->rb, argc - 2);
		for (int j = 0; j < argc - 2; j++) {
			if ((size_t)j >= e.n || e.v[j].len == KV_ELEM_NIL)
				addReplyNull(&c->rb);
			else
				addReplyDouble(&c->rb, e.v[j].score);
		}
	}
	kv_elems_free(srv.env, &e);
	if (m != stack)
		free(m);
}

/* ZCARD key */
void zcardCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	(void)argc;
	uint64_t n = 0;
	int rc = kv_card(c->db, argv[1], lens[1], KV_T_ZSET, &n);
	if (!replyKvError(c, rc))
		addReplyLongLong(&c->rb, (long long)n);
}

/* ZCOUNT key min max */
void zcountCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	(void)argc; (void)lens;
	kv_zrange_spec spec;
	kv_zrange_spec_init(&spec);
	if (scoreRangeOrReply(c, argv[2], argv[3], &spec) != C_OK)
		return;
	uint64_t n = 0;
	int rc = kv_zcount(c->db, argv[1], lens[1], &spec, &n);
	if (!replyKvError(c, rc))
		addReplyLongLong(&c->rb, (long long)n);
}

/* ZLEXCOUNT key min max */
void zlexcountCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	(void)argc;
	kv_zrange_spec spec;
	kv_zrange_spec_init(&spec);
	if (lexRangeOrReply(c, argv[2], lens[2], argv[3], lens[3], &spec) != C_OK)
		return;
	uint64_t n = 0;
	int rc = kv_zcount(c->db, argv[1], lens[1], &spec, &n);
	if (!replyKvError(c, rc))
		addReplyLongLong(&c->rb, (long long)n);
}

/* ZRANK / ZREVRANK key member [WITHSCORE] (WITHSCORE as Redis 7.2) */
static void zrankGeneric(client *c, int argc, const char **argv, const size_t *lens, int rev)
{
	int withscore = 0;
	if (argc > 4) {
		replyArity(c, rev ? "zrevrank" : "zrank");
		return;
	}
	if (argc == 4) {
		if (!argEq(argv[3], lens[3], "withscore")) {
			replySyntax(c);
			return;
		}
		withscore = 1;
	}
	uint64_t rank;
	double score;
	int rc = kv_zrank(c->db, argv[1], lens[1], argv[2], lens[2], rev, &rank, &score);
	if (rc == KV_NOTFOUND) {
		if (withscore)
			addReplyNullArray(&c->rb);
		else
			addReplyNull(&c->rb);
	} else if (!replyKvError(c, rc)) {
		if (withscore)
			addReplyArrayLen(&c->rb, 2);
		addReplyLongLong(&c->rb, (long long)rank);
		if (withscore)
			addReplyDouble(&c->rb, score);
	}
}

void zrankCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	zrankGeneric(c, argc, argv, lens, 0);
}

void zrevrankCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	zrankGeneric(c, argc, argv, lens, 1);
}

/* ------------------------------------------------------------ ranges */

#define ZR_AUTO  (-1)

/*
 * Redis's zrangeGenericCommand: argv[first] is the source key, then min max
 * and options.  by/rev ZR_AUTO: ZRANGE's BYSCORE/BYLEX/REV may set them; a
 * fixed value makes those words syntax errors (ZRANGEBYSCORE ... REV).  dst
 * non-NULL: ZRANGESTORE.
 */
static void zrangeGeneric(client *c, int argc, const char **argv, const size_t *lens, int first,
                          int by, int rev, const char *dst, size_t dstlen)
{
	int withscores = 0;
	long long offset = 0, limit = -1;
	for (int j = first + 3; j < argc; j++) {
		int left = argc - j - 1;
		if (!dst && argEq(argv[j], lens[j], "withscores")) {
			withscores = 1;
		} else if (argEq(argv[j], lens[j], "limit") && left >= 2) {
			if (argToLongLongOrReply(c, argv[j + 1], lens[j + 1], &offset) != C_OK ||
			    argToLongLongOrReply(c, argv[j + 2], lens[j + 2], &limit) != C_OK)
				return;
			j += 2;
		} else if (rev == ZR_AUTO && argEq(argv[j], lens[j], "rev")) {
			rev = 1;
		} else if (by == ZR_AUTO && argEq(argv[j], lens[j], "bylex")) {
			by = KV_ZBY_LEX;
		} else if (by == ZR_AUTO && argEq(argv[j], lens[j], "byscore")) {
			by = KV_ZBY_SCORE;
		} else {
			replySyntax(c);
			return;
		}
	}
	if (rev == ZR_AUTO)
		rev = 0;
	if (by == ZR_AUTO)
		by = KV_ZBY_RANK;
	if (limit != -1 && by == KV_ZBY_RANK) {
		addReplyError(&c->rb, "syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX");
		return;
	}
	if (withscores && by == KV_ZBY_LEX) {
		addReplyError(&c->rb, "syntax error, WITHSCORES not supported in combination with BYLEX");
		return;
	}
	int mi = first + 1, ma = first + 2;
	if (rev && by != KV_ZBY_RANK) { /* the range is given as max min */
		mi = first + 2;
		ma = first + 1;
	}
	kv_zrange_spec spec;
	kv_zrange_spec_init(&spec);
	spec.rev = rev;
	if (by == KV_ZBY_RANK) {
		long long s, e;
		if (argToLongLongOrReply(c, argv[mi], lens[mi], &s) != C_OK ||
		    argToLongLongOrReply(c, argv[ma], lens[ma], &e) != C_OK)
			return;
		spec.start = s;
		spec.stop = e;
	} else if (by == KV_ZBY_SCORE) {
		if (scoreRangeOrReply(c, argv[mi], argv[ma], &spec) != C_OK)
			return;
	} else if (lexRangeOrReply(c, argv[mi], lens[mi], argv[ma], lens[ma], &spec) != C_OK) {
		return;
	}
	spec.by = by;
	if (by != KV_ZBY_RANK) {
		/* a negative offset skips everything in Redis; a negative count is "all" */
		spec.offset = offset < 0 ? 0 : offset;
		spec.count = offset < 0 ? 0 : limit;
	}
	const char *src = argv[first];
	size_t srclen = lens[first];
	if (dst) {
		uint64_t n = 0;
		int rc = kv_zrangestore(c->db, dst, dstlen, src, srclen, &spec, &n);
		if (!replyKvError(c, rc))
			addReplyLongLong(&c->rb, (long long)n);
		return;
	}
	kv_elems *e = workerElems(c);
	int rc = kv_zrange(c->db, src, srclen, &spec, e);
	if (!replyKvError(c, rc))
		replyZsetElems(c, e, withscores);
	workerElemsDone(c);
}

void zrangeCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	zrangeGeneric(c, argc, argv, lens, 1, ZR_AUTO, ZR_AUTO, NULL, 0);
}

void zrangestoreCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	zrangeGeneric(c, argc, argv, lens, 2, ZR_AUTO, ZR_AUTO, argv[1], lens[1]);
}

void zrevrangeCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	zrangeGeneric(c, argc, argv, lens, 1, KV_ZBY_RANK, 1, NULL, 0);
}

void zrangebyscoreCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	zrangeGeneric(c, argc, argv, lens, 1, KV_ZBY_SCORE, 0, NULL, 0);
}

void zrevrangebyscoreCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	zrangeGeneric(c, argc, argv, lens, 1, KV_ZBY_SCORE, 1, NULL, 0);
}

void zrangebylexCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	zrangeGeneric(c, argc, argv, lens, 1, KV_ZBY_LEX, 0, NULL, 0);
}

void zrevrangebylexCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	zrangeGeneric(c, argc, argv, lens, 1, KV_ZBY_LEX, 1, NULL, 0);
}

/* ZREMRANGEBYRANK key start stop, ZREMRANGEBYSCORE key min max, ZREMRANGEBYLEX key min max */
static void zremrangeGeneric(client *c, const char **argv, const size_t *lens, int by)
{
	kv_zrange_spec spec;
	kv_zrange_spec_init(&spec);
	if (by == KV_ZBY_RANK) {
		long long s, e;
		if (argToLongLongOrReply(c, argv[2], lens[2], &s) != C_OK ||
		    argToLongLongOrReply(c, argv[3], lens[3], &e) != C_OK)
			return;
		spec.start = s;
		spec.stop = e;
	} else if (by == KV_ZBY_SCORE) {
		if (scoreRangeOrReply(c, argv[2], argv[3], &spec) != C_OK)
			return;
	} else if (lexRangeOrReply(c, argv[2], lens[2], argv[3], lens[3], &spec) != C_OK) {
		return;
	}
	uint64_t removed = 0;
	int rc = kv_zremrange(c->db, argv[1], lens[1], &spec, &removed);
	if (!replyKvError(c, rc))
		addReplyLongLong(&c->rb, (long long)removed);
}

void zremrangebyrankCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	(void)argc;
	zremrangeGeneric(c, argv, lens, KV_ZBY_RANK);
}

void zremrangebyscoreCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	(void)argc;
	zremrangeGeneric(c, argv, lens, KV_ZBY_SCORE);
}

void zremrangebylexCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	(void)argc;
	zremrangeGeneric(c, argv, lens, KV_ZBY_LEX);
}

/* ------------------------------------------------------------ pops, random */

/* ZPOPMIN / ZPOPMAX key [count] */
static void zpopGeneric(client *c, int argc, const char **argv, const size_t *lens, int max)
{
	long long count = -1;
	if (argc > 3) {
		replySyntax(c);
		return;
	}
	if (argc == 3 && rangeLongOrReply(c, argv[2], lens[2], 0, LLONG_MAX, &count,
	                                  "value is out of range, must be positive") != C_OK)
		return;
	if (count == 0) { /* the type still counts, as in Redis */
		uint64_t n;
		int rc = kv_card(c->db, argv[1], lens[1], KV_T_ZSET, &n);
		if (!replyKvError(c, rc))
			addReplyArrayLen(&c->rb, 0);
		return;
	}
	kv_elems *e = workerElems(c);
	int rc = kv_zpop(c->db, argv[1], lens[1], max, count != -1, count == -1 ? 1 : (uint64_t)count, e);
	if (rc == KV_NOTFOUND)
		addReplyArrayLen(&c->rb, 0);
	else if (!replyKvError(c, rc)) {
		zremEffect(c, argv[1], lens[1], e);
		replyZsetPairs(c, e, 1, c->rb.resp >= 3 && count != -1); /* one pop is flat in RESP3 too */
	}
	workerElemsDone(c);
}

void zpopminCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	zpopGeneric(c, argc, argv, lens, 0);
}

void zpopmaxCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	zpopGeneric(c, argc, argv, lens, 1);
}

/* ZRANDMEMBER key [count [WITHSCORES]] */
void zrandmemberCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	long long count = 0;
	int withscores = 0;
	if (argc >= 3) {
		if (rangeLongOrReply(c, argv[2], lens[2], -LLONG_MAX, LLONG_MAX, &count, NULL) != C_OK)
			return;
		if (argc > 4 || (argc == 4 && !argEq(argv[3], lens[3], "withscores"))) {
			replySyntax(c);
			return;
		}
		if (argc == 4) {
			withscores = 1;
			if (count < -LLONG_MAX / 2 || count > LLONG_MAX / 2) {
				addReplyError(&c->rb, "value is out of range");
				return;
			}
		}
	}
	kv_elems e = KV_ELEMS_INIT;
	int rc = kv_zrandmember(c->db, argv[1], lens[1], argc >= 3, count, &e);
	if (!replyKvError(c, rc)) {
		if (argc < 3) {
			if (e.n == 0)
				addReplyNull(&c->rb);
			else
				replyMember(c, &e, 0);
		} else {
			replyZsetElems(c, &e, withscores);
		}
	}
	kv_elems_free(srv.env, &e);
}

/* ------------------------------------------------------------ algebra */

/*
 * Redis's zunionInterDiffGenericCommand: numkeys at argv[nki], the keys (each
 * a zset, a set or missing: checked before the options, as Redis does), then
 * WEIGHTS, AGGREGATE, WITHSCORES (no dst) or LIMIT (ZINTERCARD).
 */
static void zsetopGeneric(client *c, int argc, const char **argv, const size_t *lens, int nki,
                          int op, const char *name, const char *dst, size_t dstlen, int card_only)
{
	long long numkeys;
	if (argToLongLongOrReply(c, argv[nki], lens[nki], &numkeys) != C_OK)
		return;
	if (numkeys < 1) {
		addReplyErrorFormat(&c->rb, "at least 1 input key is needed for '%s' command", name);
		return;
	}
	if (numkeys > argc - (nki + 1)) {
		replySyntax(c);
		return;
	}
	size_t n = (size_t)numkeys;
	kv_val *keys = malloc(n * sizeof(*keys));
	double *weights = malloc(n * sizeof(*weights));
	kv_elems e = KV_ELEMS_INIT;
	if (keys == NULL || weights == NULL) {
		replyKvError(c, KV_ENOMEM);
		goto out;
	}
	int j = nki + 1;
	for (size_t i = 0; i < n; i++, j++) {
		keys[i].data = argv[j];
		keys[i].len = lens[j];
		weights[i] = 1;
		int kind;
		int rc = kv_kind(c->db, argv[j], lens[j], &kind);
		if (rc == KV_OK && kind != KV_T_ZSET && kind != KV_T_SET)
			rc = KV_EWRONGTYPE;
		if (rc != KV_NOTFOUND && replyKvError(c, rc))
			goto out;
	}
	int agg = KV_AGG_SUM, withscores = 0, has_weights = 0;
	long long limit = 0;
	while (j < argc) {
		int left = argc - j;
		if (op != KV_SETOP_DIFF && !card_only && left >= (int)n + 1 && argEq(argv[j], lens[j], "weights")) {
			j++;
			for (size_t i = 0; i < n; i++, j++)
				if (doubleOrReply(c, argv[j], lens[j], &weights[i], "weight value is not a float") != C_OK)
					goto out;
			has_weights = 1;
		} else if (op != KV_SETOP_DIFF && !card_only && left >= 2 && argEq(argv[j], lens[j], "aggregate")) {
			j++;
			if (argEq(argv[j], lens[j], "sum"))
				agg = KV_AGG_SUM;
			else if (argEq(argv[j], lens[j], "min"))
				agg = KV_AGG_MIN;
			else if (argEq(argv[j], lens[j], "max"))
				agg = KV_AGG_MAX;
			else {
				replySyntax(c);
				goto out;
			}
			j++;
		} else if (!dst && !card_only && argEq(argv[j], lens[j], "withscores")) {
			j++;
			withscores = 1;
		} else if (card_only && left >= 2 && argEq(argv[j], lens[j], "limit")) {
			j++;
			if (rangeLongOrReply(c, argv[j], lens[j], 0, LLONG_MAX, &limit, "LIMIT can't be negative") != C_OK)
				goto out;
			j++;
		} else {
			replySyntax(c);
			goto out;
		}
	}
	uint64_t card = 0;
	int rc = kv_zsetop(c->db, op, keys, n, has_weights ? weights : NULL, agg, dst, dstlen,
	                   dst ? NULL : &e, &card);
	if (replyKvError(c, rc))
		goto out;
	if (card_only) /* ZINTERCARD: the intersection's size, at most LIMIT */
		card = limit && e.n > (uint64_t)limit ? (uint64_t)limit : e.n;
	if (dst || card_only)
		addReplyLongLong(&c->rb, (long long)card);
	else
		replyZsetElems(c, &e, withscores);
out:
	kv_elems_free(srv.env, &e);
	free(keys);
	free(weights);
}

void zunionCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	zsetopGeneric(c, argc, argv, lens, 1, KV_SETOP_UNION, "zunion", NULL, 0, 0);
}

void zinterCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	zsetopGeneric(c, argc, argv, lens, 1, KV_SETOP_INTER, "zinter", NULL, 0, 0);
}

void zdiffCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	zsetopGeneric(c, argc, argv, lens, 1, KV_SETOP_DIFF, "zdiff", NULL, 0, 0);
}

void zunionstoreCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	zsetopGeneric(c, argc, argv, lens, 2, KV_SETOP_UNION, "zunionstore", argv[1], lens[1], 0);
}

void zinterstoreCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	zsetopGeneric(c, argc, argv, lens, 2, KV_SETOP_INTER, "zinterstore", argv[1], lens[1], 0);
}

void zdiffstoreCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	zsetopGeneric(c, argc, argv, lens, 2, KV_SETOP_DIFF, "zdiffstore", argv[1], lens[1], 0);
}

void zintercardCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	zsetopGeneric(c, argc, argv, lens, 1, KV_SETOP_INTER, "zintercard", NULL, 0, 1);
}

/* ------------------------------------------------------------ ZSCAN */

/*
 * A score as Redis 7.0 keeps it in a listpack (d2string): an integral value
 * within +-LLONG_MAX/2 as an integer ("100000000000000000"), else "%.17g".
 * ZSCAN of a compact zset shows this text; of a big one, fmtScore's.
 */
static size_t fmtListpackScore(double d, char *buf)
{
	if (d >= (double)(-LLONG_MAX / 2) && d <= (double)(LLONG_MAX / 2) && (double)(long long)d == d)
		return (size_t)snprintf(buf, SCORE_BUFSZ, "%lld", (long long)d);
	return fmtScore(d, buf);
}

/* ZSCAN key cursor [MATCH pattern] [COUNT count]: scores as bulk strings. */
void zscanCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	char *end;
	errno = 0;
	unsigned long long cursor = strtoull(argv[2], &end, 10);
	if (isspace((unsigned char)argv[2][0]) || end[0] != '\0' || errno == ERANGE) {
		addReplyError(&c->rb, "invalid cursor");
		return;
	}
	int kind;
	int rc = kv_kind(c->db, argv[1], lens[1], &kind);
	if (rc == KV_NOTFOUND) {
		addReplyArrayLen(&c->rb, 2);
		addReplyBulk(&c->rb, "0", 1);
		addReplyArrayLen(&c->rb, 0);
		return;
	}
	if (rc == KV_OK && kind != KV_T_ZSET)
		rc = KV_EWRONGTYPE;
	if (replyKvError(c, rc))
		return;
	const char *match = NULL;
	size_t mlen = 0;
	long long count = 10;
	for (int j = 3; j < argc; j += 2) {
		if (j + 1 >= argc) {
			replySyntax(c);
			return;
		}
		if (argEq(argv[j], lens[j], "count")) {
			if (argToLongLongOrReply(c, argv[j + 1], lens[j + 1], &count) != C_OK)
				return;
			if (count < 1) {
				replySyntax(c);
				return;
			}
		} else if (argEq(argv[j], lens[j], "match")) {
			match = argv[j + 1];
			mlen = lens[j + 1];
		} else {
			replySyntax(c);
			return;
		}
	}
	const char *enc = "";
	kv_encoding(c->db, argv[1], lens[1], &enc);
	size_t (*fmt)(double, char *) = strcmp(enc, "listpack") == 0 ? fmtListpackScore : fmtScore;
	kv_elems e = KV_ELEMS_INIT;
	uint64_t cur = cursor;
	rc = kv_cscan(c->db, argv[1], lens[1], KV_T_ZSET, &cur, match, mlen, (size_t)count, 0, &e);
	if (!replyKvError(c, rc)) {
		char num[32];
		addReplyArrayLen(&c->rb, 2);
		addReplyBulk(&c->rb, num, (size_t)snprintf(num, sizeof(num), "%llu", (unsigned long long)cur));
		addReplyArrayLen(&c->rb, (long long)e.n * 2);
		for (size_t i = 0; i < e.n; i++) {
			char sb[SCORE_BUFSZ];
			replyMember(c, &e, i);
			addReplyBulk(&c->rb, sb, fmt(e.v[i].score, sb));
		}
	}
	kv_elems_free(srv.env, &e);
}
