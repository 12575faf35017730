/*
 * t_keys.c -- generic key commands: DEL/UNLINK, EXISTS, TYPE, RENAME(NX), KEYS,
 * SCAN, RANDOMKEY, DBSIZE, FLUSHDB, FLUSHALL.
 *
 * Every value is a Redis string here, so TYPE answers "string" or "none" and
 * SCAN's TYPE filter keeps all keys for "string" and none for other types.
 */
#include "server.h"

#include <stdlib.h>
#include <string.h>

/* DEL key [key ...] (also UNLINK) */
void delCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	long long n = 0;
	for (int i = 1; i < argc; i++) {
		int rc = kv_del(c->db, argv[i], lens[i]);
		if (rc == KV_OK)
			n++;
		else if (rc != KV_NOTFOUND && replyKvError(c, rc))
			return;
	}
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
	int rc = kv_exists(c->db, argv[1], lens[1]);
	if (rc != KV_OK && rc != KV_NOTFOUND && replyKvError(c, rc))
		return;
	addReplyStatus(&c->rb, rc == KV_OK ? "string" : "none");
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

/* Keys collected for one reply: encoded into a side buffer, counted. */
typedef struct keyCollector {
	replyBuf rb;
	long long n;
} keyCollector;

static int collectKey(void *ctx, const void *key, size_t klen, const void *val, size_t vlen,
                      int type, int64_t expires_at)
{
	(void)val; (void)vlen; (void)type; (void)expires_at;
	keyCollector *kc = ctx;
	addReplyBulk(&kc->rb, key, klen);
	kc->n++;
	return kc->rb.oom ? 1 : 0;
}

/* KEYS pattern: a whole scan with the engine's glob filter. */
void keysCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	(void)argc;
	keyCollector kc;
	replyInit(&kc.rb);
	kc.n = 0;
	kv_scan_opts o;
	memset(&o, 0, sizeof(o));
	int all = lens[1] == 1 && argv[1][0] == '*';
	if (!all) {
		o.match = argv[1];
		o.match_len = lens[1];
	}
	o.count = 1000;
	uint64_t cursor = 0;
	int rc;
	do {
		rc = kv_scan(c->db, &cursor, &o, collectKey, &kc);
	} while (rc == KV_OK && cursor != 0);
	if (rc != KV_OK || kc.rb.oom) {
		replyKvError(c, rc != KV_OK && rc != 1 ? rc : KV_ENOMEM);
	} else {
		addReplyArrayLen(&c->rb, kc.n);
		addReplyRaw(&c->rb, kc.rb.buf, kc.rb.len);
	}
	replyFree(&kc.rb);
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
	kv_scan_opts o;
	memset(&o, 0, sizeof(o));
	o.count = 10;
	int type_none = 0;
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
			o.count = (size_t)cnt;
		} else if (argEq(argv[j], lens[j], "match")) {
			int all = lens[j + 1] == 1 && argv[j + 1][0] == '*';
			o.match = all ? NULL : argv[j + 1];
			o.match_len = all ? 0 : lens[j + 1];
		} else if (argEq(argv[j], lens[j], "type")) {
			type_none = !argEq(argv[j + 1], lens[j + 1], "string");
		} else {
			replySyntax(c);
			return;
		}
	}
	keyCollector kc;
	replyInit(&kc.rb);
	kc.n = 0;
	int rc = kv_scan(c->db, &cursor, &o, collectKey, &kc);
	if (rc != KV_OK || kc.rb.oom) {
		replyKvError(c, rc != KV_OK && rc != 1 ? rc : KV_ENOMEM);
		replyFree(&kc.rb);
		return;
	}
	addReplyArrayLen(&c->rb, 2);
	addReplyBulkFormat(&c->rb, "%llu", (unsigned long long)cursor);
	if (type_none) {
		addReplyArrayLen(&c->rb, 0);
	} else {
		addReplyArrayLen(&c->rb, kc.n);
		addReplyRaw(&c->rb, kc.rb.buf, kc.rb.len);
	}
	replyFree(&kc.rb);
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
	size_t n = 0;
	kv_ns_list(srv.env, NULL, 0, &n);
	kv_ns_stats *list = calloc(n ? n : 1, sizeof(*list));
	if (list == NULL) {
		replyKvError(c, KV_ENOMEM);
		return;
	}
	kv_ns_list(srv.env, list, n, &n);
	for (size_t i = 0; i < n; i++) {
		int rc;
		kv_ns *ns = serverNamespace(list[i].name, &rc);
		if (ns)
			kv_ns_flush(ns);
	}
	free(list);
	addReplyStatus(&c->rb, "OK");
}
