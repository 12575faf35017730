/*
 * t_set.c -- the set commands (Redis 7's S*): each translates its arguments to
 * one engine call (kv.h "sets", kv_setop) and the result or error to Redis's
 * reply (RESP3 sets where Redis 7 sends them).  Writes log their effect in the
 * AOF as a deterministic command (collEffect): SPOP as an SREM of what it
 * popped, SMOVE as SREM + SADD; a STORE's destination is logged whole by the
 * AOF's commit (aof.c), as its result replaces the key.
 */
#include "server.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* SADD key member [member ...] / SREM: the command is its own effect */
static void saddSremGeneric(client *c, int argc, const char **argv, const size_t *lens, int add)
{
	collArgs a;
	if (collVals(&a, argc, argv, lens, 0, 1) != C_OK) {
		replyKvError(c, KV_ENOMEM);
		return;
	}
	uint64_t n = 0;
	int rc = add ? kv_sadd(c->db, argv[1], lens[1], a.v + 2, a.n - 2, &n)
	             : kv_srem(c->db, argv[1], lens[1], a.v + 2, a.n - 2, &n);
	if (!replyKvError(c, rc)) {
		if (n) {
			a.v[0].data = add ? "SADD" : "SREM";
			a.v[0].len = 4;
			collEffect(c, a.n, a.v);
		}
		addReplyLongLong(&c->rb, (long long)n);
	}
	collValsFree(&a);
}

void saddCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	saddSremGeneric(c, argc, argv, lens, 1);
}

void sremCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	saddSremGeneric(c, argc, argv, lens, 0);
}

/* SISMEMBER key member */
void sismemberCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	(void)argc;
	int rc = kv_sismember(c->db, argv[1], lens[1], argv[2], lens[2]);
	if (!replyKvError(c, rc))
		addReplyLongLong(&c->rb, rc == KV_OK);
}

/* SMISMEMBER key member [member ...] */
void smismemberCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	collArgs a;
	uint8_t small[COLL_SMALL_ARGS], *out = small;
	if (collVals(&a, argc, argv, lens, 2, 1) != C_OK ||
	    (a.n > COLL_SMALL_ARGS && (out = malloc(a.n)) == NULL)) {
		collValsFree(&a);
		replyKvError(c, KV_ENOMEM);
		return;
	}
	int rc = kv_smismember(c->db, argv[1], lens[1], a.v, a.n, out);
	if (!replyKvError(c, rc)) {
		addReplyArrayLen(&c->rb, (long long)a.n);
		for (size_t i = 0; i < a.n; i++)
			addReplyLongLong(&c->rb, out[i]);
	}
	if (out != small)
		free(out);
	collValsFree(&a);
}

/* SMEMBERS key */
void smembersCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	(void)argc;
	kv_elems e = KV_ELEMS_INIT;
	int rc = kv_smembers(c->db, argv[1], lens[1], &e);
	if (!replyKvError(c, rc))
		replyElemsArray(c, &e, 1);
	kv_elems_free(srv.env, &e);
}

/* SCARD key */
void scardCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	(void)argc;
	uint64_t n = 0;
	int rc = kv_card(c->db, argv[1], lens[1], KV_T_SET, &n);
	if (!replyKvError(c, rc))
		addReplyLongLong(&c->rb, (long long)n);
}

/* SPOP key [count] */
void spopCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	long long count = 0;
	if (argc > 3) {
		replySyntax(c);
		return;
	}
	if (argc == 3) {
		if (!argToLongLong(argv[2], lens[2], &count) || count < 0) {
			addReplyError(&c->rb, "value is out of range, must be positive");
			return;
		}
	}
	kv_elems e = KV_ELEMS_INIT;
	int rc = kv_spop(c->db, argv[1], lens[1], argc == 3, (uint64_t)count, &e);
	if (replyKvError(c, rc))
		goto out;
	if (e.n) { /* the effect: an SREM of exactly what was popped */
		kv_val *eff = malloc((e.n + 2) * sizeof(*eff));
		if (eff == NULL) {
			collEffect(c, 0, NULL); /* cannot describe it: the AOF marks the change lost */
		} else {
			eff[0] = (kv_val){4, "SREM"};
			eff[1] = (kv_val){lens[1], argv[1]};
			for (size_t i = 0; i < e.n; i++)
				eff[i + 2] = (kv_val){e.v[i].len, e.bytes.data + e.v[i].off};
			collEffect(c, e.n + 2, eff);
			free(eff);
		}
	}
	if (argc == 3)
		replyElemsArray(c, &e, 1);
	else if (e.n == 0)
		addReplyNull(&c->rb);
	else
		replyElem(c, &e, 0);
out:
	kv_elems_free(srv.env, &e);
}

/* SRANDMEMBER key [count] */
void srandmemberCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	long long count = 0;
	if (argc > 3) {
		replySyntax(c);
		return;
	}
	if (argc == 3) {
		if (argToLongLongOrReply(c, argv[2], lens[2], &count) != C_OK)
			return;
		if (count == LLONG_MIN) {
			addReplyErrorFormat(&c->rb, "value is out of range, value must between %lld and %lld",
			                    -LLONG_MAX, LLONG_MAX);
			return;
		}
	}
	kv_elems e = KV_ELEMS_INIT;
	int rc = kv_srandmember(c->db, argv[1], lens[1], argc == 3, count, &e);
	if (!replyKvError(c, rc)) {
		if (argc == 3)
			replyElemsArray(c, &e, 0);
		else if (e.n == 0)
			addReplyNull(&c->rb);
		else
			replyElem(c, &e, 0);
	}
	kv_elems_free(srv.env, &e);
}

/* SMOVE source destination member */
void smoveCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	(void)argc;
	int rc = kv_smove(c->db, argv[1], lens[1], argv[2], lens[2], argv[3], lens[3]);
	if (rc == KV_NOTFOUND) {
		addReplyLongLong(&c->rb, 0);
		return;
	}
	if (replyKvError(c, rc))
		return;
	if (lens[1] != lens[2] || memcmp(argv[1], argv[2], lens[1]) != 0) {
		kv_val rem[3] = {{4, "SREM"}, {lens[1], argv[1]}, {lens[3], argv[3]}};
		kv_val add[3] = {{4, "SADD"}, {lens[2], argv[2]}, {lens[3], argv[3]}};
		collEffect(c, 3, rem);
		collEffect(c, 3, add);
	}
	addReplyLongLong(&c->rb, 1);
}

/* SINTER / SUNION / SDIFF key [key ...], and with dst the STORE forms */
static void setopGeneric(client *c, int argc, const char **argv, const size_t *lens, int op, int store)
{
	collArgs a;
	if (collVals(&a, argc, argv, lens, store ? 2 : 1, 1) != C_OK) {
		replyKvError(c, KV_ENOMEM);
		return;
	}
	kv_elems e = KV_ELEMS_INIT;
	uint64_t card = 0;
	int rc = kv_setop(c->db, op, a.v, a.n, 0, store ? argv[1] : NULL, store ? lens[1] : 0,
	                  store ? NULL : &e, &card);
	if (!replyKvError(c, rc)) {
		if (store)
			addReplyLongLong(&c->rb, (long long)card);
		else
			replyElemsArray(c, &e, 1);
	}
	kv_elems_free(srv.env, &e);
	collValsFree(&a);
}

void sinterCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	setopGeneric(c, argc, argv, lens, KV_SETOP_INTER, 0);
}

void sunionCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	setopGeneric(c, argc, argv, lens, KV_SETOP_UNION, 0);
}

void sdiffCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	setopGeneric(c, argc, argv, lens, KV_SETOP_DIFF, 0);
}

void sinterstoreCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	setopGeneric(c, argc, argv, lens, KV_SETOP_INTER, 1);
}

void sunionstoreCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	setopGeneric(c, argc, argv, lens, KV_SETOP_UNION, 1);
}

void sdiffstoreCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	setopGeneric(c, argc, argv, lens, KV_SETOP_DIFF, 1);
}

/* SINTERCARD numkeys key [key ...] [LIMIT limit] */
void sintercardCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	long long numkeys, limit = 0;
	if (!argToLongLong(argv[1], lens[1], &numkeys) || numkeys < 1) {
		addReplyError(&c->rb, "numkeys should be greater than 0");
		return;
	}
	if (numkeys > argc - 2) {
		addReplyError(&c->rb, "Number of keys can't be greater than number of args");
		return;
	}
	for (int j = 2 + (int)numkeys; j < argc; j++) {
		if (j + 1 < argc && argEq(argv[j], lens[j], "limit")) {
			if (!argToLongLong(argv[j + 1], lens[j + 1], &limit) || limit < 0) {
				addReplyError(&c->rb, "LIMIT can't be negative");
				return;
			}
			j++;
		} else {
			replySyntax(c);
			return;
		}
	}
	collArgs a;
	if (collVals(&a, 2 + (int)numkeys, argv, lens, 2, 1) != C_OK) {
		replyKvError(c, KV_ENOMEM);
		return;
	}
	kv_elems e = KV_ELEMS_INIT;
	uint64_t card = UINT64_MAX;
	/* no LIMIT counts them all: a limit past any set's size, so only the count comes back */
	int rc = kv_setop(c->db, KV_SETOP_INTER, a.v, a.n, limit ? (uint64_t)limit : UINT64_MAX, NULL, 0,
	                  &e, &card);
	if (!replyKvError(c, rc))
		addReplyLongLong(&c->rb, (long long)(card == UINT64_MAX ? e.n : card));
	kv_elems_free(srv.env, &e);
	collValsFree(&a);
}

/* SSCAN key cursor [MATCH pattern] [COUNT count] */
void sscanCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	collScanReply(c, argc, argv, lens, KV_T_SET, 0);
}
