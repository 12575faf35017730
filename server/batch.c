/*
 * batch.c -- a pipeline's consecutive plain GETs, or plain SETs, as one engine
 * batch.
 *
 * HOW IT WORKS
 *   commandDispatch (commands.c) hands each GET or SET that commandExecute
 *   would run as is (GET key; SET key value, no options) to batchAdd instead
 *   of running it; up to CMD_BATCH of one kind wait here and go to the engine
 *   in one kv_batch.  For GETs it hashes every key first and prefetches their
 *   buckets and entries (no lock); for SETs it prefetches a window of keys'
 *   slots and entries and then runs each SET as its own kv_set, in order
 *   (best effort: each item has its own status), so the cache misses of random
 *   keys overlap instead of adding up.  A command of the other kind, any other
 *   command, the end of the input and a protocol error flush the batch first,
 *   so replies stay in request order.  The keys and values point into the
 *   client's query buffer, which does not move while networking.c runs the
 *   commands of one read.
 *
 *   A SET batch is one write command for the server's bookkeeping: it runs
 *   inside one multiWriteBegin/End (WATCH's gate) and one aofCommandBegin/End,
 *   so the AOF logs its keys' final states as one record, which replays to the
 *   same state as one record per SET.  The engine's change hook fires for each
 *   SET in order, as kv_set always does, so keyspace events and WATCH see
 *   every SET.  Each SET is counted and answered as commandExecute would.
 */
#include "server.h"
#include "aof.h"

#include <string.h>

/* The replies of the n GETs in b, in order. */
static void batchRunGets(client *c, cmdBatch *b)
{
	size_t n = b->n;
	if (n == 1) {
		const char *argv[2] = {"get", b->keys[0]};
		size_t lens[2] = {3, b->lens[0]};
		getCommand(c, 2, argv, lens);
		return;
	}
	kv_op ops[CMD_BATCH];
	memset(ops, 0, n * sizeof(kv_op));
	for (size_t i = 0; i < n; i++) {
		ops[i].op = KV_OP_GET;
		ops[i].key = b->keys[i];
		ops[i].klen = b->lens[i];
	}
	kv_buf *arena = &c->w->buf;
	kv_error err;
	int rc = kv_batch(c->db, ops, n, KV_BATCH_BEST_EFFORT, arena, &err);
	for (size_t i = 0; i < n; i++) {
		int st = rc == KV_OK ? ops[i].status : rc;
		if (st == KV_OK) {
			countLookup(c, 1);
			addReplyBulk(&c->rb, ops[i].out_len ? arena->data + ops[i].out_off : "", ops[i].out_len);
		} else if (st == KV_NOTFOUND) {
			countLookup(c, 0);
			addReplyNull(&c->rb);
		} else {
			replyKvError(c, st);
		}
	}
}

/* The n SETs in b (SET key value: default TTL, as setCommand), replies in order. */
static void batchRunSets(client *c, cmdBatch *b)
{
	size_t n = b->n;
	kv_op ops[CMD_BATCH];
	memset(ops, 0, n * sizeof(kv_op));
	for (size_t i = 0; i < n; i++) {
		ops[i].op = KV_OP_SET;
		ops[i].key = b->keys[i];
		ops[i].klen = b->lens[i];
		ops[i].val = b->vals[i];
		ops[i].vlen = b->vlens[i];
		ops[i].type = KV_T_BYTES;
		ops[i].expires_at = KV_EXPIRE_DEFAULT;
	}
	if (aofWriteError()) { /* as commandExecute refuses each write then */
		for (size_t i = 0; i < n; i++)
			aofReplyMisconf(&c->rb);
		return;
	}
	kv_error err;
	int gated = multiWriteBegin(c->w);
	aofCommandBegin();
	int rc = kv_batch(c->db, ops, n, KV_BATCH_BEST_EFFORT, NULL, &err);
	aofCommandEnd();
	multiWriteEnd(c->w, gated);
	for (size_t i = 0; i < n; i++) {
		int st = rc == KV_OK ? ops[i].status : rc;
		if (st == KV_OK)
			addReplyStatus(&c->rb, "OK");
		else if (!replyKvError(c, st))
			addReplyNull(&c->rb);
	}
}

void batchAdd(client *c, cmdBatch *b, int kind, const char *key, size_t klen, const char *val, size_t vlen)
{
	if (b->n && b->kind != kind)
		batchFlush(c, b);
	b->kind = kind;
	b->keys[b->n] = key;
	b->lens[b->n] = klen;
	b->vals[b->n] = val;
	b->vlens[b->n] = vlen;
	if (++b->n == CMD_BATCH)
		batchFlush(c, b);
}

void batchFlush(client *c, cmdBatch *b)
{
	if (b->n) {
		if (b->kind == BATCH_SET)
			batchRunSets(c, b);
		else
			batchRunGets(c, b);
	}
	b->n = 0;
}
