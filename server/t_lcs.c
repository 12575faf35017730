/*
 * t_lcs.c -- LCS key1 key2 [LEN] [IDX] [MINMATCHLEN n] [WITHMATCHLEN], Redis 7's
 * longest common subsequence: the classic dynamic-programming table, then a
 * walk back from its corner that yields the string and the matching ranges.
 * Both values come from one consistent engine read.  The table costs
 * 4 * (len1 + 1) * (len2 + 1) bytes and is refused past proto-max-bulk-len, as
 * in Redis.
 */
#include "server.h"

#include <stdlib.h>
#include <string.h>

void lcsCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	int getlen = 0, getidx = 0, withmatchlen = 0;
	long long minmatchlen = 0;
	for (int j = 3; j < argc; j++) {
		int more = argc - j - 1;
		if (argEq(argv[j], lens[j], "idx")) {
			getidx = 1;
		} else if (argEq(argv[j], lens[j], "len")) {
			getlen = 1;
		} else if (argEq(argv[j], lens[j], "withmatchlen")) {
			withmatchlen = 1;
		} else if (argEq(argv[j], lens[j], "minmatchlen") && more) {
			if (argToLongLongOrReply(c, argv[j + 1], lens[j + 1], &minmatchlen) != C_OK)
				return;
			if (minmatchlen < 0)
				minmatchlen = 0;
			j++;
		} else {
			replySyntax(c);
			return;
		}
	}
	if (getidx && getlen) {
		addReplyError(&c->rb, "If you want both the length and indexes, please just use IDX.");
		return;
	}
	kv_op ops[2];
	memset(ops, 0, sizeof(ops));
	for (int k = 0; k < 2; k++) {
		ops[k].op = KV_OP_GET;
		ops[k].key = argv[1 + k];
		ops[k].klen = lens[1 + k];
	}
	kv_error err;
	kv_buf *arena = &c->w->buf;
	int rc = kv_batch(c->db, ops, 2, KV_BATCH_ALL_OR_NOTHING, arena, &err);
	if (replyKvError(c, rc))
		return;
	if (ops[0].status == KV_EWRONGTYPE || ops[1].status == KV_EWRONGTYPE) {
		addReplyError(&c->rb, "The specified keys must contain string values");
		return;
	}
	/* a missing key is an empty string */
	const char *a = ops[0].status == KV_OK ? arena->data + ops[0].out_off : "";
	const char *b = ops[1].status == KV_OK ? arena->data + ops[1].out_off : "";
	uint64_t alen = ops[0].status == KV_OK ? ops[0].out_len : 0;
	uint64_t blen = ops[1].status == KV_OK ? ops[1].out_len : 0;
	if (alen >= UINT32_MAX - 1 || blen >= UINT32_MAX - 1) {
		addReplyError(&c->rb, "String too long for LCS");
		return;
	}
	uint64_t cells = (alen + 1) * (blen + 1);
	if (cells * sizeof(uint32_t) > atomic_load(&srv.max_bulk_len)) {
		addReplyError(&c->rb, "Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len");
		return;
	}
	uint32_t *dp = malloc(cells * sizeof(uint32_t));
	char *result = NULL;
	replyBuf matches;
	replyInit(&matches);
	matches.resp = c->rb.resp;
	if (dp == NULL) {
		addReplyError(&c->rb, "Insufficient memory, failed allocating transient memory for LCS");
		return;
	}
#define LCS(A, B) dp[(B) + (A) * (blen + 1)]
	for (uint64_t i = 0; i <= alen; i++)
		for (uint64_t j = 0; j <= blen; j++) {
			if (i == 0 || j == 0)
				LCS(i, j) = 0;
			else if (a[i - 1] == b[j - 1])
				LCS(i, j) = LCS(i - 1, j - 1) + 1;
			else
				LCS(i, j) = LCS(i - 1, j) > LCS(i, j - 1) ? LCS(i - 1, j) : LCS(i, j - 1);
		}
	uint32_t idx = LCS(alen, blen);
	result = malloc((size_t)idx + 1);
	if (result == NULL) {
		free(dp);
		addReplyError(&c->rb, "Insufficient memory, failed allocating transient memory for LCS");
		return;
	}
	/* walk back; ranges are found from the end, as Redis reports them */
	uint64_t i = alen, j = blen;
	uint64_t as = alen, ae = 0, bs = 0, be = 0; /* as == alen: no range open */
	long long nmatches = 0;
	int compute = getidx || !getlen;
	while (compute && i > 0 && j > 0) {
		int emit = 0;
		if (a[i - 1] == b[j - 1]) {
			result[idx - 1] = a[i - 1];
			if (as == alen) {
				as = ae = i - 1;
				bs = be = j - 1;
			} else if (as == i && bs == j) {
				as--; /* the range grows backwards */
				bs--;
			} else {
				emit = 1;
			}
			if (as == 0 || bs == 0)
				emit = 1;
			idx--;
			i--;
			j--;
		} else {
			if (LCS(i - 1, j) > LCS(i, j - 1))
				i--;
			else
				j--;
			if (as != alen)
				emit = 1;
		}
		uint64_t mlen = ae - as + 1;
		if (emit) {
			if (getidx && (minmatchlen == 0 || mlen >= (uint64_t)minmatchlen)) {
				addReplyArrayLen(&matches, 2 + withmatchlen);
				addReplyArrayLen(&matches, 2);
				addReplyLongLong(&matches, (long long)as);
				addReplyLongLong(&matches, (long long)ae);
				addReplyArrayLen(&matches, 2);
				addReplyLongLong(&matches, (long long)bs);
				addReplyLongLong(&matches, (long long)be);
				if (withmatchlen)
					addReplyLongLong(&matches, (long long)mlen);
				nmatches++;
			}
			as = alen;
		}
	}
	if (matches.oom) {
		addReplyError(&c->rb, "Insufficient memory, failed allocating transient memory for LCS");
	} else if (getidx) {
		addReplyMapLen(&c->rb, 2);
		addReplyBulkCString(&c->rb, "matches");
		addReplyArrayLen(&c->rb, nmatches);
		addReplyRaw(&c->rb, matches.buf, matches.len);
		addReplyBulkCString(&c->rb, "len");
		addReplyLongLong(&c->rb, LCS(alen, blen));
	} else if (getlen) {
		addReplyLongLong(&c->rb, idx);
	} else {
		addReplyBulk(&c->rb, result, LCS(alen, blen));
	}
#undef LCS
	replyFree(&matches);
	free(result);
	free(dp);
}
