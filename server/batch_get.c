/*
 * batch_get.c -- a pipeline's consecutive plain GETs as one engine read batch.
 *
 * HOW IT WORKS
 *   commandDispatch (commands.c) hands each GET that commandExecute would run
 *   as is to getBatchAdd instead of running it; up to GET_BATCH keys wait here
 *   and go to the engine in one kv_batch, which hashes every key first and
 *   prefetches their buckets and entries, so the cache misses of random keys
 *   overlap instead of adding up.  Any other command, the end of the input and
 *   a protocol error flush the batch first, so replies stay in request order.
 *   The keys point into the client's query buffer, which does not move while
 *   networking.c runs the commands of one read.
 */
#include "server.h"

#include <string.h>

/* The replies of the n GETs in b, in order. */
static void getBatchRun(client *c, getBatch *b)
{
	size_t n = b->n;
	if (n == 1) {
		const char *argv[2] = {"get", b->keys[0]};
		size_t lens[2] = {3, b->lens[0]};
		getCommand(c, 2, argv, lens);
		return;
	}
	kv_op ops[GET_BATCH];
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

void getBatchAdd(client *c, getBatch *b, const char *key, size_t klen)
{
	b->keys[b->n] = key;
	b->lens[b->n] = klen;
	if (++b->n == GET_BATCH)
		getBatchFlush(c, b);
}

void getBatchFlush(client *c, getBatch *b)
{
	if (b->n)
		getBatchRun(c, b);
	b->n = 0;
}
