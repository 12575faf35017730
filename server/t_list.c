/*
 * t_list.c -- list commands (Redis 7.0's L* family, without the blocking
 * forms, which are blocking.c's).  Arguments are checked in Redis's order:
 * where Redis looks the key up before parsing an index (LINDEX, LSET), a
 * missing or mistyped key wins over a bad index here too.  The semantics are
 * the engine's (kv.h "lists").
 *
 * AOF: every write logs its effect (collEffect, aof_effect.c), which aof.c
 * keeps in the engine's order per key: pushes, LSET, LINSERT, LREM and LTRIM
 * as themselves, pops as LPOP/RPOP key n of what they popped, LMOVE as a pop
 * and a push.
 */
#include "server.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* LEFT | RIGHT, as getListPositionFromObjectOrReply. */
int listWhereOrReply(client *c, const char *s, size_t len, int *where)
{
	if (argEq(s, len, "left"))
		*where = KV_LEFT;
	else if (argEq(s, len, "right"))
		*where = KV_RIGHT;
	else {
		replySyntax(c);
		return C_ERR;
	}
	return C_OK;
}

/* The key's kind check Redis makes before an argument error: missing (reply
 * `missing` and 1), not a list (WRONGTYPE and 1), or a list (0). */
static int listLookupFirst(client *c, const char *key, size_t klen, void (*missing)(client *))
{
	uint64_t n;
	int rc = kv_card(c->db, key, klen, KV_T_LIST, &n);
	if (replyKvError(c, rc))
		return 1;
	if (n == 0) {
		missing(c);
		return 1;
	}
	return 0;
}

#define KV(s, n) ((kv_val){.data = (s), .len = (n)})

/* LPOP / RPOP key n: the effect of popping n elements. */
void listPopEffect(client *c, const char *key, size_t klen, int where, uint64_t n)
{
	char num[24];
	kv_val eff[3] = {KV(where == KV_LEFT ? "LPOP" : "RPOP", 4), KV(key, klen),
	                 KV(num, (size_t)snprintf(num, sizeof(num), "%llu", (unsigned long long)n))};
	effectJoin(c, eff, 3, NULL, 0);
}

/* LMOVE's effect: a pop from src, a push of v onto dst. */
void listMoveEffect(client *c, const char *src, size_t srclen, const char *dst, size_t dstlen, int from,
                    int to, const void *v, size_t vlen)
{
	listPopEffect(c, src, srclen, from, 1);
	kv_val eff[3] = {KV(to == KV_LEFT ? "LPUSH" : "RPUSH", 5), KV(dst, dstlen), KV(v, vlen)};
	effectJoin(c, eff, 3, NULL, 0);
}

/* The command as its own effect: its name in capitals and argv[1..argc). */
static void listSelfEffect(client *c, const char *name, int argc, const char **argv, const size_t *lens)
{
	kv_val eff[5];
	eff[0] = KV(name, strlen(name));
	for (int i = 1; i < argc && i < 5; i++)
		eff[i] = KV(argv[i], lens[i]);
	effectJoin(c, eff, (size_t)argc, NULL, 0);
}

static void replyNullBulk(client *c) { addReplyNull(&c->rb); }
static void replyNoKey(client *c) { addReplyError(&c->rb, "no such key"); }

/* LPUSH / RPUSH / LPUSHX / RPUSHX key element [element ...] */
static void pushGeneric(client *c, int argc, const char **argv, const size_t *lens, int where, unsigned flags)
{
	size_t n = (size_t)(argc - 2);
	kv_val stack[16], *v = n <= 16 ? stack : malloc(n * sizeof(*v));
	if (v == NULL) {
		replyKvError(c, KV_ENOMEM);
		return;
	}
	for (size_t j = 0; j < n; j++) {
		v[j].data = argv[2 + j];
		v[j].len = lens[2 + j];
	}
	uint64_t len = 0;
	int rc = kv_push(c->db, argv[1], lens[1], where, v, n, flags, &len);
	if (rc == KV_NOTFOUND) {
		addReplyLongLong(&c->rb, 0);
	} else if (!replyKvError(c, rc)) {
		kv_val head[2] = {KV(where == KV_LEFT ? "LPUSH" : "RPUSH", 5), KV(argv[1], lens[1])};
		effectJoin(c, head, 2, v, n);
		addReplyLongLong(&c->rb, (long long)len);
	}
	if (v != stack)
		free(v);
}

void lpushCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	pushGeneric(c, argc, argv, lens, KV_LEFT, 0);
}

void rpushCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	pushGeneric(c, argc, argv, lens, KV_RIGHT, 0);
}

void lpushxCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	pushGeneric(c, argc, argv, lens, KV_LEFT, KV_PUSH_XX);
}

void rpushxCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	pushGeneric(c, argc, argv, lens, KV_RIGHT, KV_PUSH_XX);
}

static void replyElems(client *c, const kv_elems *e)
{
	addReplyArrayLen(&c->rb, (long long)e->n);
	for (size_t i = 0; i < e->n; i++)
		addReplyBulk(&c->rb, e->bytes.data + e->v[i].off, e->v[i].len);
}

/* LPOP / RPOP key [count] */
static void popGeneric(client *c, int argc, const char **argv, const size_t *lens, int where)
{
	long long count = 0;
	int has_count = argc == 3;
	if (argc > 3) {
		replyArity(c, where == KV_LEFT ? "lpop" : "rpop");
		return;
	}
	if (has_count && rangeLongOrReply(c, argv[2], lens[2], 0, LLONG_MAX, &count,
	                                  "value is out of range, must be positive") != C_OK)
		return;
	if (has_count && count == 0) {
		uint64_t n;
		int rc = kv_card(c->db, argv[1], lens[1], KV_T_LIST, &n);
		if (replyKvError(c, rc))
			return;
		if (n == 0)
			addReplyNullArray(&c->rb);
		else
			addReplyArrayLen(&c->rb, 0);
		return;
	}
	kv_elems *e = workerElems(c);
	int rc = kv_pop(c->db, argv[1], lens[1], where, has_count, (uint64_t)count, e);
	if (rc == KV_NOTFOUND || (rc == KV_OK && e->n == 0)) {
		if (has_count)
			addReplyNullArray(&c->rb);
		else
			addReplyNull(&c->rb);
	} else if (!replyKvError(c, rc)) {
		listPopEffect(c, argv[1], lens[1], where, e->n);
		if (has_count)
			replyElems(c, e);
		else
			addReplyBulk(&c->rb, e->bytes.data + e->v[0].off, e->v[0].len);
	}
	workerElemsDone(c);
}

void lpopCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	popGeneric(c, argc, argv, lens, KV_LEFT);
}

void rpopCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	popGeneric(c, argc, argv, lens, KV_RIGHT);
}

/* LLEN key */
void llenCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	(void)argc;
	uint64_t n = 0;
	int rc = kv_card(c->db, argv[1], lens[1], KV_T_LIST, &n);
	if (!replyKvError(c, rc))
		addReplyLongLong(&c->rb, (long long)n);
}

/* LRANGE key start stop */
void lrangeCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	(void)argc;
	long long start, stop;
	if (argToLongLongOrReply(c, argv[2], lens[2], &start) != C_OK ||
	    argToLongLongOrReply(c, argv[3], lens[3], &stop) != C_OK)
		return;
	kv_elems *e = workerElems(c);
	int rc = kv_lrange(c->db, argv[1], lens[1], start, stop, e);
	if (rc == KV_NOTFOUND)
		addReplyArrayLen(&c->rb, 0);
	else if (!replyKvError(c, rc))
		replyElems(c, e);
	workerElemsDone(c);
}

/* LINDEX key index */
void lindexCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	(void)argc;
	long long index;
	if (!argToLongLong(argv[2], lens[2], &index)) {
		if (!listLookupFirst(c, argv[1], lens[1], replyNullBulk))
			addReplyError(&c->rb, "value is not an integer or out of range");
		return;
	}
	kv_buf *b = &c->w->buf;
	int rc = kv_lindex(c->db, argv[1], lens[1], index, b);
	if (rc == KV_NOTFOUND)
		addReplyNull(&c->rb);
	else if (!replyKvError(c, rc))
		addReplyBulk(&c->rb, b->data, b->len);
}

/* LSET key index element */
void lsetCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	(void)argc;
	long long index;
	if (!argToLongLong(argv[2], lens[2], &index)) {
		if (!listLookupFirst(c, argv[1], lens[1], replyNoKey))
			addReplyError(&c->rb, "value is not an integer or out of range");
		return;
	}
	int rc = kv_lset(c->db, argv[1], lens[1], index, argv[3], lens[3]);
	if (rc == KV_NOTFOUND)
		replyNoKey(c);
	else if (rc == KV_ERANGE)
		addReplyError(&c->rb, "index out of range");
	else if (!replyKvError(c, rc)) {
		listSelfEffect(c, "LSET", argc, argv, lens);
		addReplyStatus(&c->rb, "OK");
	}
}

/* LINSERT key BEFORE|AFTER pivot element */
void linsertCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	(void)argc;
	int after;
	if (argEq(argv[2], lens[2], "after"))
		after = 1;
	else if (argEq(argv[2], lens[2], "before"))
		after = 0;
	else {
		replySyntax(c);
		return;
	}
	int64_t len = 0;
	int rc = kv_linsert(c->db, argv[1], lens[1], after, argv[3], lens[3], argv[4], lens[4], &len);
	if (rc == KV_NOTFOUND) {
		addReplyLongLong(&c->rb, len);
	} else if (!replyKvError(c, rc)) {
		listSelfEffect(c, "LINSERT", argc, argv, lens);
		addReplyLongLong(&c->rb, len);
	}
}

/* LREM key count element */
void lremCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	(void)argc;
	long long count;
	if (argToLongLongOrReply(c, argv[2], lens[2], &count) != C_OK)
		return;
	uint64_t removed = 0;
	int rc = kv_lrem(c->db, argv[1], lens[1], count, argv[3], lens[3], &removed);
	if (rc == KV_NOTFOUND) {
		addReplyLongLong(&c->rb, 0);
	} else if (!replyKvError(c, rc)) {
		if (removed)
			listSelfEffect(c, "LREM", argc, argv, lens);
		addReplyLongLong(&c->rb, (long long)removed);
	}
}

/* LTRIM key start stop */
void ltrimCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	(void)argc;
	long long start, stop;
	if (argToLongLongOrReply(c, argv[2], lens[2], &start) != C_OK ||
	    argToLongLongOrReply(c, argv[3], lens[3], &stop) != C_OK)
		return;
	int rc = kv_ltrim(c->db, argv[1], lens[1], start, stop);
	if (rc == KV_OK)
		listSelfEffect(c, "LTRIM", argc, argv, lens);
	if (rc == KV_NOTFOUND || !replyKvError(c, rc))
		addReplyStatus(&c->rb, "OK");
}

/* LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len] */
void lposCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	long long rank = 1, count = -1, maxlen = 0;
	for (int j = 3; j < argc; j++) {
		int more = argc - 1 - j;
		if (argEq(argv[j], lens[j], "rank") && more) {
			j++;
			if (argToLongLongOrReply(c, argv[j], lens[j], &rank) != C_OK)
				return;
			if (rank == 0) {
				addReplyError(&c->rb, "RANK can't be zero: use 1 to start from the first match, 2 from the "
				                      "second ... or use negative to start from the end of the list");
				return;
			}
		} else if (argEq(argv[j], lens[j], "count") && more) {
			j++;
			if (rangeLongOrReply(c, argv[j], lens[j], 0, LLONG_MAX, &count, "COUNT can't be negative") != C_OK)
				return;
		} else if (argEq(argv[j], lens[j], "maxlen") && more) {
			j++;
			if (rangeLongOrReply(c, argv[j], lens[j], 0, LLONG_MAX, &maxlen, "MAXLEN can't be negative") != C_OK)
				return;
		} else {
			replySyntax(c);
			return;
		}
	}
	kv_elems e = KV_ELEMS_INIT;
	int rc = kv_lpos(c->db, argv[1], lens[1], argv[2], lens[2], rank, count != -1,
	                 count == -1 ? 0 : count, maxlen, &e);
	if (rc == KV_OK || rc == KV_NOTFOUND) {
		if (count != -1) {
			addReplyArrayLen(&c->rb, (long long)e.n);
			for (size_t i = 0; i < e.n; i++)
				addReplyLongLong(&c->rb, (long long)e.v[i].off);
		} else if (e.n) {
			addReplyLongLong(&c->rb, (long long)e.v[0].off);
		} else {
			addReplyNull(&c->rb);
		}
	} else {
		replyKvError(c, rc);
	}
	kv_elems_free(srv.env, &e);
}

/* LMOVE source destination LEFT|RIGHT LEFT|RIGHT, and RPOPLPUSH source destination */
static void lmoveGeneric(client *c, const char *src, size_t srclen, const char *dst, size_t dstlen, int from, int to)
{
	kv_buf *b = &c->w->buf;
	int rc = kv_lmove(c->db, src, srclen, dst, dstlen, from, to, b);
	if (rc == KV_NOTFOUND) {
		addReplyNull(&c->rb);
	} else if (!replyKvError(c, rc)) {
		listMoveEffect(c, src, srclen, dst, dstlen, from, to, b->data, b->len);
		addReplyBulk(&c->rb, b->data, b->len);
	}
}

void lmoveCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	(void)argc;
	int from, to;
	if (listWhereOrReply(c, argv[3], lens[3], &from) != C_OK || listWhereOrReply(c, argv[4], lens[4], &to) != C_OK)
		return;
	lmoveGeneric(c, argv[1], lens[1], argv[2], lens[2], from, to);
}

void rpoplpushCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	(void)argc;
	lmoveGeneric(c, argv[1], lens[1], argv[2], lens[2], KV_RIGHT, KV_LEFT);
}
