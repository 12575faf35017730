/*
 * t_hash.c -- the hash commands (Redis 7's H*): each translates its arguments
 * to one engine call (kv.h "hashes") and the result or error to Redis's reply.
 * Writes log their effect in the AOF as a deterministic command (collEffect):
 * HINCRBY and HINCRBYFLOAT as an HSET of the result.
 */
#include "server.h"

#include <limits.h>
#include <math.h>
#include <string.h>

/* HSET key field value [field value ...] / HMSET (reply +OK) */
static void hsetGeneric(client *c, int argc, const char **argv, const size_t *lens, int hmset)
{
	if (argc % 2 != 0) {
		replyArity(c, hmset ? "hmset" : "hset");
		return;
	}
	collArgs a;
	if (collVals(&a, argc, argv, lens, 0, 1) != C_OK) {
		replyKvError(c, KV_ENOMEM);
		return;
	}
	uint64_t added = 0;
	int rc = kv_hset(c->db, argv[1], lens[1], a.v + 2, (a.n - 2) / 2, 0, &added);
	if (!replyKvError(c, rc)) {
		a.v[0].data = "HSET"; /* the command is its own effect (HMSET too) */
		a.v[0].len = 4;
		collEffect(c, a.n, a.v);
		if (hmset)
			addReplyStatus(&c->rb, "OK");
		else
			addReplyLongLong(&c->rb, (long long)added);
	}
	collValsFree(&a);
}

void hsetCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	hsetGeneric(c, argc, argv, lens, 0);
}

void hmsetCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	hsetGeneric(c, argc, argv, lens, 1);
}

/* HSETNX key field value */
void hsetnxCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	(void)argc;
	kv_val fv[2] = {{lens[2], argv[2]}, {lens[3], argv[3]}};
	int rc = kv_hset(c->db, argv[1], lens[1], fv, 1, KV_HSET_NX, NULL);
	if (rc == KV_EXISTS) {
		addReplyLongLong(&c->rb, 0);
		return;
	}
	if (replyKvError(c, rc))
		return;
	kv_val eff[4] = {{4, "HSET"}, {lens[1], argv[1]}, fv[0], fv[1]};
	collEffect(c, 4, eff);
	addReplyLongLong(&c->rb, 1);
}

/* HGET key field */
void hgetCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	(void)argc;
	kv_buf *b = &c->w->buf;
	int rc = kv_hget(c->db, argv[1], lens[1], argv[2], lens[2], b);
	if (rc == KV_NOTFOUND)
		addReplyNull(&c->rb);
	else if (!replyKvError(c, rc))
		addReplyBulk(&c->rb, b->data, b->len);
}

/* HMGET key field [field ...] */
void hmgetCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	collArgs a;
	kv_elems e = KV_ELEMS_INIT;
	if (collVals(&a, argc, argv, lens, 2, 1) != C_OK) {
		replyKvError(c, KV_ENOMEM);
		return;
	}
	int rc = kv_hmget(c->db, argv[1], lens[1], a.v, a.n, &e);
	if (!replyKvError(c, rc))
		replyElemsArray(c, &e, 0);
	collValsFree(&a);
	kv_elems_free(srv.env, &e);
}

static void hgetallGeneric(client *c, const char **argv, const size_t *lens, unsigned what)
{
	kv_elems e = KV_ELEMS_INIT;
	int rc = kv_hgetall(c->db, argv[1], lens[1], what, &e);
	if (!replyKvError(c, rc)) {
		if (what == (KV_HALL_FIELDS | KV_HALL_VALUES))
			replyElemsMap(c, &e);
		else
			replyElemsArray(c, &e, 0);
	}
	kv_elems_free(srv.env, &e);
}

/* HGETALL key: a map in RESP3 */
void hgetallCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	(void)argc;
	hgetallGeneric(c, argv, lens, KV_HALL_FIELDS | KV_HALL_VALUES);
}

/* HKEYS key */
void hkeysCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	(void)argc;
	hgetallGeneric(c, argv, lens, KV_HALL_FIELDS);
}

/* HVALS key */
void hvalsCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	(void)argc;
	hgetallGeneric(c, argv, lens, KV_HALL_VALUES);
}

/* HDEL key field [field ...] */
void hdelCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	collArgs a;
	if (collVals(&a, argc, argv, lens, 0, 1) != C_OK) {
		replyKvError(c, KV_ENOMEM);
		return;
	}
	uint64_t removed = 0;
	int rc = kv_hdel(c->db, argv[1], lens[1], a.v + 2, a.n - 2, &removed);
	if (!replyKvError(c, rc)) {
		if (removed) {
			a.v[0].data = "HDEL";
			a.v[0].len = 4;
			collEffect(c, a.n, a.v);
		}
		addReplyLongLong(&c->rb, (long long)removed);
	}
	collValsFree(&a);
}

/* HEXISTS key field */
void hexistsCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	(void)argc;
	int rc = kv_hexists(c->db, argv[1], lens[1], argv[2], lens[2]);
	if (!replyKvError(c, rc))
		addReplyLongLong(&c->rb, rc == KV_OK);
}

/* HLEN key */
void hlenCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	(void)argc;
	uint64_t n = 0;
	int rc = kv_card(c->db, argv[1], lens[1], KV_T_HASH, &n);
	if (!replyKvError(c, rc))
		addReplyLongLong(&c->rb, (long long)n);
}

/* HSTRLEN key field */
void hstrlenCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	(void)argc;
	size_t len = 0;
	int rc = kv_hstrlen(c->db, argv[1], lens[1], argv[2], lens[2], &len);
	if (!replyKvError(c, rc))
		addReplyLongLong(&c->rb, rc == KV_OK ? (long long)len : 0);
}

/* HINCRBY key field increment */
void hincrbyCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	(void)argc;
	long long by;
	if (argToLongLongOrReply(c, argv[3], lens[3], &by) != C_OK)
		return;
	int64_t result;
	int rc = kv_hincr(c->db, argv[1], lens[1], argv[2], lens[2], by, &result);
	if (rc == KV_ENOTINT) { /* the argument parsed: the stored value is the culprit */
		addReplyError(&c->rb, "hash value is not an integer");
		return;
	}
	if (replyKvError(c, rc))
		return;
	char num[24];
	int n = snprintf(num, sizeof(num), "%lld", (long long)result);
	kv_val eff[4] = {{4, "HSET"}, {lens[1], argv[1]}, {lens[2], argv[2]}, {(size_t)n, num}};
	collEffect(c, 4, eff);
	addReplyLongLong(&c->rb, (long long)result);
}

/* HINCRBYFLOAT key field increment */
void hincrbyfloatCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	(void)argc;
	double by;
	if (argToDoubleOrReply(c, argv[3], lens[3], &by) != C_OK)
		return;
	if (isinf(by)) {
		addReplyError(&c->rb, "value is NaN or Infinity");
		return;
	}
	kv_buf *b = &c->w->buf;
	int rc = kv_hincr_float(c->db, argv[1], lens[1], argv[2], lens[2], argv[3], lens[3], NULL, b);
	if (rc == KV_ENOTFLOAT) {
		addReplyError(&c->rb, "hash value is not a float");
		return;
	}
	if (rc == KV_EOVERFLOW) {
		addReplyError(&c->rb, "increment would produce NaN or Infinity");
		return;
	}
	if (replyKvError(c, rc))
		return;
	kv_val eff[4] = {{4, "HSET"}, {lens[1], argv[1]}, {lens[2], argv[2]}, {b->len, b->data}};
	collEffect(c, 4, eff);
	addReplyBulk(&c->rb, b->data, b->len);
}

/* HRANDFIELD key [count [WITHVALUES]] */
void hrandfieldCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	long long count = 0;
	int withvalues = 0;
	if (argc >= 3) {
		if (argToLongLongOrReply(c, argv[2], lens[2], &count) != C_OK)
			return;
		if (count == LLONG_MIN) {
			addReplyErrorFormat(&c->rb, "value is out of range, value must between %lld and %lld",
			                    -LLONG_MAX, LLONG_MAX);
			return;
		}
		if (argc > 4 || (argc == 4 && !argEq(argv[3], lens[3], "withvalues"))) {
			replySyntax(c);
			return;
		}
		withvalues = argc == 4;
		if (withvalues && (count < -LLONG_MAX / 2 || count > LLONG_MAX / 2)) {
			addReplyError(&c->rb, "value is out of range");
			return;
		}
	}
	kv_elems e = KV_ELEMS_INIT;
	int rc = kv_hrandfield(c->db, argv[1], lens[1], argc >= 3, count, withvalues, &e);
	if (replyKvError(c, rc)) {
		kv_elems_free(srv.env, &e);
		return;
	}
	if (argc < 3) {
		if (e.n == 0)
			addReplyNull(&c->rb);
		else
			replyElem(c, &e, 0);
	} else if (withvalues && c->rb.resp == 3) { /* RESP3: [field, value] pairs */
		addReplyArrayLen(&c->rb, (long long)(e.n / 2));
		for (size_t i = 0; i + 1 < e.n; i += 2) {
			addReplyArrayLen(&c->rb, 2);
			replyElem(c, &e, i);
			replyElem(c, &e, i + 1);
		}
	} else {
		replyElemsArray(c, &e, 0);
	}
	kv_elems_free(srv.env, &e);
}

/* HSCAN key cursor [MATCH pattern] [COUNT count] [NOVALUES] */
void hscanCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	collScanReply(c, argc, argv, lens, KV_T_HASH, 1);
}
