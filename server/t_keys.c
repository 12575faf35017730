/*
 * t_keys.c -- generic key commands: DEL/UNLINK, EXISTS, TYPE, RENAME(NX), KEYS,
 * SCAN, RANDOMKEY, DBSIZE, FLUSHDB, FLUSHALL.
 *
 * KEYS and SCAN run as jobs in slices (see below and networking.c).
 *
 * TYPE names the key's kind (kv_kind); SCAN's TYPE filter is the engine's
 * (kv_scan_opts.kind), so a scan for hashes walks the same buckets and returns
 * only hashes, as Redis does.
 */
#include "server.h"

#include <stdlib.h>
#include <string.h>

/* DEL key [key ...] (also UNLINK): every key is tried; the reply is the count
 * deleted, or the first error (as a pipelined DEL in batch.c answers). */
void delCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	long long n = 0;
	int err = KV_OK;
	for (int i = 1; i < argc; i++) {
		int rc = kv_del(c->db, argv[i], lens[i]);
		if (rc == KV_OK)
			n++;
		else if (rc != KV_NOTFOUND && err == KV_OK)
			err = rc;
	}
	if (!replyKvError(c, err))
		addReplyLongLong(&c->rb, n);
}

/* EXISTS key [key ...] */
void existsCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	long long n = 0;
	for (int i = 1; i < argc; i++) {
		int rc = kv_exists(c->db, argv[i], lens[i]);
		if (rc == KV_OK)
			n++;
		else if (rc != KV_NOTFOUND && replyKvError(c, rc))
			return;
	}
	addReplyLongLong(&c->rb, n);
}

/* TYPE key */
void typeCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	(void)argc;
	int kind = KV_T_NONE;
	int rc = kv_kind(c->db, argv[1], lens[1], &kind);
	if (rc != KV_OK && rc != KV_NOTFOUND && replyKvError(c, rc))
		return;
	const char *name = rc == KV_OK ? kv_kind_name(kind) : NULL;
	addReplyStatus(&c->rb, name ? name : "none");
}

static void renameGenericCommand(client *c, const char **argv, const size_t *lens, int nx)
{
	int rc = kv_rename(c->db, argv[1], lens[1], argv[2], lens[2], nx);
	if (rc == KV_NOTFOUND) {
		addReplyError(&c->rb, "no such key");
		return;
	}
	if (nx && rc == KV_EXISTS) {
		addReplyLongLong(&c->rb, 0);
		return;
	}
	if (replyKvError(c, rc))
		return;
	if (nx)
		addReplyLongLong(&c->rb, 1);
	else
		addReplyStatus(&c->rb, "OK");
}

/* RENAME key newkey */
void renameCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	(void)argc;
	renameGenericCommand(c, argv, lens, 0);
}

/* RENAMENX key newkey */
void renamenxCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	(void)argc;
	renameGenericCommand(c, argv, lens, 1);
}

/*
 * KEYS and SCAN run as a job (networking.c), so neither a million keys nor a
 * costly pattern holds the worker's other clients for more than a slice:
 *   - kv_scan steps of SCAN_STEP buckets copy the keys out (no engine lock is
 *     held after it returns);
 *   - the pattern is matched here, with the engine's matcher, key by key, and
 *     the slice's deadline is checked between keys (one key costs O(pattern *
 *     key) at worst);
 *   - a job that finishes within its first slice replies at once, without
 *     ever being queued (the common small SCAN).
 * KEYS is a SCAN from cursor 0 with no COUNT limit that replies with the keys
 * alone.
 */
#define SCAN_STEP 256

typedef struct scanJob {
	clientJob base;       /* must be first */
	int       keys;       /* KEYS: no cursor, no COUNT */
	int       type_none;  /* SCAN TYPE naming no kind: no key qualifies */
	int       kind;       /* SCAN TYPE: kv_scan_opts.kind (0: every kind) */
	uint64_t  cursor;
	size_t    left;       /* SCAN: buckets still to examine (COUNT) */
	int       scanned;    /* the scan is over (cursor back at 0, or COUNT used up) */
	replyBuf  out;        /* matching keys, encoded */
	long long n;
	char     *pend;       /* keys of the last step, not yet matched: u32 len, bytes */
	size_t    pend_len, pend_cap, pend_pos;
	int       all;        /* no pattern: every key matches */
	size_t    plen;
	char      pat[];      /* a copy: the query buffer moves while the job runs */
} scanJob;

static int pendKey(void *ctx, const void *key, size_t klen, const void *val, size_t vlen,
                   int type, int64_t expires_at)
{
	(void)val; (void)vlen; (void)type; (void)expires_at;
	scanJob *j = ctx;
	if (j->all) {
		addReplyBulk(&j->out, key, klen);
		j->n++;
		return j->out.oom ? 1 : 0;
	}
	uint32_t kl = (uint32_t)klen;
	if (j->pend_len + sizeof(kl) + klen > j->pend_cap) {
		size_t ncap = j->pend_cap ? j->pend_cap * 2 : 4096;
		while (ncap < j->pend_len + sizeof(kl) + klen)
			ncap *= 2;
		char *n = realloc(j->pend, ncap);
		if (n == NULL)
			return 1;
		j->pend = n;
		j->pend_cap = ncap;
	}
	memcpy(j->pend + j->pend_len, &kl, sizeof(kl));
	memcpy(j->pend + j->pend_len + sizeof(kl), key, klen);
	j->pend_len += sizeof(kl) + klen;
	return 0;
}

/* Match pending keys until they run out (1) or the deadline passes (0). */
static int matchPending(scanJob *j, int64_t deadline_us)
{
	size_t since_check = 0;
	while (j->pend_pos < j->pend_len) {
		uint32_t kl;
		memcpy(&kl, j->pend + j->pend_pos, sizeof(kl));
		const char *key = j->pend + j->pend_pos + sizeof(kl);
		j->pend_pos += sizeof(kl) + kl;
		if (kv_glob_match(j->pat, j->plen, key, kl, 0)) {
			addReplyBulk(&j->out, key, kl);
			j->n++;
		}
		/* a clock read per 64 short keys, or after any long match */
		since_check += 1 + (size_t)kl * j->plen / 4096;
		if (since_check >= 64) {
			since_check = 0;
			if (ustime_mono() >= deadline_us)
				return j->pend_pos == j->pend_len;
		}
	}
	return 1;
}

static void scanJobReply(client *c, scanJob *j)
{
	if (!j->keys) {
		addReplyArrayLen(&c->rb, 2);
		addReplyBulkFormat(&c->rb, "%llu", (unsigned long long)j->cursor);
		if (j->type_none) {
			addReplyArrayLen(&c->rb, 0);
			return;
		}
	}
	addReplyArrayLen(&c->rb, j->n);
	addReplyRaw(&c->rb, j->out.buf, j->out.len);
}

static int scanJobStep(client *c, clientJob *base, int64_t deadline_us)
{
	scanJob *j = (scanJob *)base;
	kv_scan_opts o;
	memset(&o, 0, sizeof(o));
	o.kind = j->kind;
	for (;;) {
		if (!matchPending(j, deadline_us))
			return 0;
		if (j->out.oom) {
			replyKvError(c, KV_ENOMEM);
			return 1;
		}
		if (j->scanned) {
			scanJobReply(c, j);
			return 1;
		}
		if (ustime_mono() >= deadline_us)
			return 0;
		j->pend_len = j->pend_pos = 0;
		o.count = j->keys || j->left > SCAN_STEP ? SCAN_STEP : j->left;
		int rc = kv_scan(c->db, &j->cursor, &o, pendKey, j);
		if (rc != KV_OK) {
			replyKvError(c, rc == 1 ? KV_ENOMEM : rc); /* 1: pendKey out of memory */
			return 1;
		}
		if (!j->keys)
			j->left -= o.count;
		j->scanned = j->cursor == 0 || (!j->keys && j->left == 0);
	}
}

static void scanJobFree(clientJob *base)
{
	scanJob *j = (scanJob *)base;
	replyFree(&j->out);
	free(j->pend);
	free(j);
}

static scanJob *scanJobNew(client *c, const char *pat, size_t plen)
{
	scanJob *j = malloc(sizeof(*j) + plen + 1);
	if (j == NULL)
		return NULL;
	memset(j, 0, sizeof(*j));
	j->base.step = scanJobStep;
	j->base.free = scanJobFree;
	replyInit(&j->out);
	j->out.resp = c->rb.resp;
	/* "*" alone takes every key without matching, as Redis's allkeys */
	j->all = pat == NULL || (plen == 1 && pat[0] == '*');
	if (!j->all)
		memcpy(j->pat, pat, plen);
	j->pat[j->all ? 0 : plen] = '\0';
	j->plen = j->all ? 0 : plen;
	return j;
}

/* Run j's first slice now; queue it if it did not finish. */
static void scanJobStart(client *c, scanJob *j)
{
	if (scanJobStep(c, &j->base, ustime_mono() + JOB_SLICE_US)) {
		scanJobFree(&j->base);
		return;
	}
	if (clientStartJob(c, &j->base) != 0) {
		scanJobFree(&j->base);
		replyKvError(c, KV_ENOMEM);
	}
}

/* KEYS pattern */
void keysCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	(void)argc;
	scanJob *j = scanJobNew(c, argv[1], lens[1]);
	if (j == NULL) {
		replyKvError(c, KV_ENOMEM);
		return;
	}
	j->keys = 1;
	scanJobStart(c, j);
}

/* SCAN cursor [MATCH pattern] [COUNT count] [TYPE type] */
void scanCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	/* the cursor: an unsigned 64-bit decimal, as Redis parses it */
	uint64_t cursor = 0;
	if (lens[1] == 0 || lens[1] > 20) {
		addReplyError(&c->rb, "invalid cursor");
		return;
	}
	for (size_t i = 0; i < lens[1]; i++) {
		unsigned d = (unsigned)(argv[1][i] - '0');
		if (d > 9 || cursor > (UINT64_MAX - d) / 10) {
			addReplyError(&c->rb, "invalid cursor");
			return;
		}
		cursor = cursor * 10 + d;
	}
	size_t count = 10;
	const char *match = NULL;
	size_t match_len = 0;
	int type_none = 0, kind = 0;
	for (int j = 2; j < argc; j += 2) {
		if (j + 1 >= argc) {
			replySyntax(c);
			return;
		}
		if (argEq(argv[j], lens[j], "count")) {
			long long cnt;
			if (argToLongLongOrReply(c, argv[j + 1], lens[j + 1], &cnt) != C_OK)
				return;
			if (cnt < 1) {
				replySyntax(c);
				return;
			}
			count = (size_t)cnt;
		} else if (argEq(argv[j], lens[j], "match")) {
			match = argv[j + 1];
			match_len = lens[j + 1];
		} else if (argEq(argv[j], lens[j], "type")) {
			/* Redis 7.0 compares the name case-insensitively; an unknown one matches nothing */
			static const int kinds[] = {KV_T_BYTES, KV_T_HASH, KV_T_SET, KV_T_ZSET, KV_T_LIST};
			type_none = 1;
			for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
				if (argEq(argv[j + 1], lens[j + 1], kv_kind_name(kinds[k]))) {
					kind = kinds[k] == KV_T_BYTES ? KV_SCAN_STRINGS : kinds[k];
					type_none = 0;
				}
		} else {
			replySyntax(c);
			return;
		}
	}
	scanJob *j = scanJobNew(c, match, match_len);
	if (j == NULL) {
		replyKvError(c, KV_ENOMEM);
		return;
	}
	j->cursor = cursor;
	j->left = count;
	j->type_none = type_none;
	j->kind = kind;
	scanJobStart(c, j);
}

/* RANDOMKEY */
void randomkeyCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	(void)argc; (void)argv; (void)lens;
	kv_buf *b = &c->w->buf;
	int rc = kv_random_key(c->db, b);
	if (rc == KV_NOTFOUND) {
		addReplyNull(&c->rb);
		return;
	}
	if (replyKvError(c, rc))
		return;
	addReplyBulk(&c->rb, b->data, b->len);
}

/* DBSIZE */
void dbsizeCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	(void)argc; (void)argv; (void)lens;
	kv_ns_stats st;
	int rc = kv_ns_stats_get(c->db, &st);
	if (replyKvError(c, rc))
		return;
	addReplyLongLong(&c->rb, (long long)st.keys);
}

static int flushOptionOk(client *c, int argc, const char **argv, const size_t *lens)
{
	if (argc == 1)
		return 1;
	if (argc == 2 && (argEq(argv[1], lens[1], "sync") || argEq(argv[1], lens[1], "async")))
		return 1;
	replySyntax(c);
	return 0;
}

/* FLUSHDB [ASYNC | SYNC] */
void flushdbCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	if (!flushOptionOk(c, argc, argv, lens))
		return;
	int rc = kv_ns_flush(c->db);
	if (replyKvError(c, rc))
		return;
	addReplyStatus(&c->rb, "OK");
}

/* FLUSHALL [ASYNC | SYNC]: every namespace of the store. */
void flushallCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	if (!flushOptionOk(c, argc, argv, lens))
		return;
	kv_ns_stats *list;
	size_t n;
	if (replyKvError(c, kv_ns_list_all(srv.env, &list, &n)))
		return;
	for (size_t i = 0; i < n; i++) {
		kv_ns *ns;
		if (kv_nscache_get(srv.nscache, list[i].name, strlen(list[i].name), &ns) == KV_OK)
			kv_ns_flush(ns);
	}
	kv_ns_list_free(srv.env, list);
	addReplyStatus(&c->rb, "OK");
}
