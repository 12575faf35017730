/*
 * aof_effect.c -- the AOF's effect records: a collection write logged as the
 * deterministic command that reproduces its effect, and replayed through the
 * engine (never through the command table: no client, no reply, no events to
 * anyone but the engine's own hook).
 *
 * An effect is argv[0] the name below, argv[1] the key, then its arguments.
 * Commands choose the effect that replays to the same state whatever random
 * choice or float formatting the original made: HINCRBYFLOAT logs an HSET of
 * the result, SPOP an SREM of the members it popped, ZINCRBY a ZADD of the new
 * score.  Effects must be idempotent where the AOF may log a key's state twice
 * (see aof.c "COLLECTIONS"): every effect here is, except the list pushes and
 * pops, which aof.c only logs in engine order.
 *
 * A collection's whole state (aofEffectDump) is DEL, then its elements in
 * chunks of AOF_DUMP_CHUNK (HSET / SADD / ZADD / RPUSH), then PEXPIREAT or
 * PERSIST.
 */
#include "server.h"
#include "aof.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define AOF_DUMP_CHUNK 1024u

/*
 * The sorted-set and list engines land apart from hashes and sets (issue 12):
 * their calls are weak here, so this file links with or without them.  While
 * one is missing (null), its effects and dumps are KV_EINVAL, which the AOF
 * turns into refused writes rather than a silent gap.
 */
#pragma weak kv_zadd
#pragma weak kv_zrem
#pragma weak kv_push
#pragma weak kv_pop
#pragma weak kv_lset
#pragma weak kv_linsert
#pragma weak kv_lrem
#pragma weak kv_ltrim
#pragma weak kv_lrange
#define HAVE_ZSETS (kv_zadd != NULL && kv_zrem != NULL)
#define HAVE_LISTS (kv_push != NULL && kv_pop != NULL && kv_lset != NULL && kv_linsert != NULL && \
                    kv_lrem != NULL && kv_ltrim != NULL && kv_lrange != NULL)

static int argI64(const kv_val *a, int64_t *out)
{
	char buf[32];
	long long v;
	if (a->len == 0 || a->len >= sizeof(buf))
		return 0;
	memcpy(buf, a->data, a->len);
	buf[a->len] = '\0';
	if (!respParseLL(buf, a->len, &v))
		return 0;
	*out = v;
	return 1;
}

static int argDouble(const kv_val *a, double *out)
{
	char buf[64];
	if (a->len == 0 || a->len >= sizeof(buf))
		return 0;
	memcpy(buf, a->data, a->len);
	buf[a->len] = '\0';
	return argToDouble(buf, a->len, out);
}

static int nameIs(const kv_val *a, const char *name)
{
	return a->len == strlen(name) && memcmp(a->data, name, a->len) == 0;
}

/* ZADD key score member [score member ...] */
static int replayZadd(kv_ns *ns, size_t argc, const kv_val *argv)
{
	size_t n = (argc - 2) / 2;
	kv_zmember *m = malloc(n * sizeof(*m));
	if (m == NULL)
		return KV_ENOMEM;
	int rc = KV_OK;
	for (size_t i = 0; i < n && rc == KV_OK; i++) {
		if (!argDouble(&argv[2 + 2 * i], &m[i].score))
			rc = KV_EINVAL;
		m[i].member = argv[3 + 2 * i];
	}
	if (rc == KV_OK)
		rc = kv_zadd(ns, argv[1].data, argv[1].len, m, n, 0, NULL, NULL);
	free(m);
	return rc;
}

int aofEffectReplay(kv_ns *ns, size_t argc, const kv_val *argv)
{
	if (argc < 2)
		return KV_EINVAL;
	const void *key = argv[1].data;
	size_t klen = argv[1].len;
	const kv_val *a = argv + 2;
	size_t na = argc - 2;
	int64_t x, y;
	int rc;
	int zsets = HAVE_ZSETS, lists = HAVE_LISTS;
	if (nameIs(&argv[0], "HSET") && na >= 2 && na % 2 == 0)
		return kv_hset(ns, key, klen, a, na / 2, 0, NULL);
	if (nameIs(&argv[0], "HDEL") && na >= 1)
		return kv_hdel(ns, key, klen, a, na, NULL);
	if (nameIs(&argv[0], "SADD") && na >= 1)
		return kv_sadd(ns, key, klen, a, na, NULL);
	if (nameIs(&argv[0], "SREM") && na >= 1)
		return kv_srem(ns, key, klen, a, na, NULL);
	if (!zsets && argv[0].len && ((const char *)argv[0].data)[0] == 'Z')
		return KV_EINVAL;
	if (!lists && (nameIs(&argv[0], "RPUSH") || nameIs(&argv[0], "LPUSH") || nameIs(&argv[0], "LPOP") ||
	               nameIs(&argv[0], "RPOP") || nameIs(&argv[0], "LSET") || nameIs(&argv[0], "LINSERT") ||
	               nameIs(&argv[0], "LREM") || nameIs(&argv[0], "LTRIM")))
		return KV_EINVAL;
	if (nameIs(&argv[0], "ZADD") && na >= 2 && na % 2 == 0)
		return replayZadd(ns, argc, argv);
	if (nameIs(&argv[0], "ZREM") && na >= 1)
		return kv_zrem(ns, key, klen, a, na, NULL);
	if ((nameIs(&argv[0], "RPUSH") || nameIs(&argv[0], "LPUSH")) && na >= 1)
		return kv_push(ns, key, klen, ((const char *)argv[0].data)[0] == 'R' ? KV_RIGHT : KV_LEFT, a, na, 0, NULL);
	if ((nameIs(&argv[0], "LPOP") || nameIs(&argv[0], "RPOP")) && na == 1 && argI64(&a[0], &x) && x >= 0) {
		kv_elems e = KV_ELEMS_INIT;
		rc = kv_pop(ns, key, klen, ((const char *)argv[0].data)[0] == 'R' ? KV_RIGHT : KV_LEFT, 1, (uint64_t)x, &e);
		kv_elems_free(srv.env, &e);
		return rc == KV_NOTFOUND ? KV_OK : rc;
	}
	if (nameIs(&argv[0], "LSET") && na == 2 && argI64(&a[0], &x))
		return kv_lset(ns, key, klen, x, a[1].data, a[1].len);
	if (nameIs(&argv[0], "LINSERT") && na == 3) {
		int64_t len;
		int after = a[0].len == 5 && !strncasecmp((const char *)a[0].data, "after", 5);
		rc = kv_linsert(ns, key, klen, after, a[1].data, a[1].len, a[2].data, a[2].len, &len);
		return rc == KV_NOTFOUND ? KV_OK : rc;
	}
	if (nameIs(&argv[0], "LREM") && na == 2 && argI64(&a[0], &x))
		return kv_lrem(ns, key, klen, x, a[1].data, a[1].len, NULL);
	if (nameIs(&argv[0], "LTRIM") && na == 2 && argI64(&a[0], &x) && argI64(&a[1], &y))
		return kv_ltrim(ns, key, klen, x, y);
	if (nameIs(&argv[0], "DEL") && na == 0) {
		rc = kv_del(ns, key, klen);
		return rc == KV_NOTFOUND ? KV_OK : rc;
	}
	if (nameIs(&argv[0], "PEXPIREAT") && na == 1 && argI64(&a[0], &x) && x > 0) {
		rc = kv_expire(ns, key, klen, x, 0);
		return rc == KV_NOTFOUND ? KV_OK : rc;
	}
	if (nameIs(&argv[0], "PERSIST") && na == 0) {
		rc = kv_persist(ns, key, klen);
		return rc == KV_NOTFOUND || rc == KV_UNCHANGED ? KV_OK : rc;
	}
	return KV_EINVAL;
}

/* One chunk of a dump: name key then the elements of e (scores first for a zset). */
static int dumpChunk(const char *name, const void *key, size_t klen, const kv_elems *e, int zset,
                     aofEmitFn emit, void *ctx)
{
	size_t per = zset ? 2 : 1, n = 2 + e->n * per;
	kv_val *v = malloc(n * sizeof(*v));
	char (*scores)[32] = zset ? malloc(e->n * sizeof(*scores)) : NULL;
	if (v == NULL || (zset && scores == NULL)) {
		free(v);
		free(scores);
		return KV_ENOMEM;
	}
	v[0] = (kv_val){strlen(name), name};
	v[1] = (kv_val){klen, key};
	for (size_t i = 0; i < e->n; i++) {
		kv_val el = {e->v[i].len, e->bytes.data + e->v[i].off};
		if (zset) {
			int sl = snprintf(scores[i], sizeof(scores[i]), "%.17g", e->v[i].score);
			v[2 + 2 * i] = (kv_val){(size_t)sl, scores[i]};
			v[3 + 2 * i] = el;
		} else {
			v[2 + i] = el;
		}
	}
	int rc = emit(ctx, n, v);
	free(v);
	free(scores);
	return rc;
}

int aofEffectDump(kv_ns *ns, const void *key, size_t klen, aofEmitFn emit, void *ctx)
{
	int kind;
	int rc = kv_kind(ns, key, klen, &kind);
	kv_val del[2] = {{3, "DEL"}, {klen, key}};
	if (rc == KV_NOTFOUND)
		return emit(ctx, 2, del);
	if (rc != KV_OK)
		return rc;
	if ((rc = emit(ctx, 2, del)) != KV_OK)
		return rc;
	if ((kind == KV_T_LIST && !HAVE_LISTS) || (kind == KV_T_ZSET && !HAVE_ZSETS))
		return KV_EINVAL;
	kv_elems e = KV_ELEMS_INIT;
	if (kind == KV_T_LIST) {
		for (int64_t start = 0;; start += AOF_DUMP_CHUNK) {
			rc = kv_lrange(ns, key, klen, start, start + AOF_DUMP_CHUNK - 1, &e);
			if (rc != KV_OK || e.n == 0)
				break;
			if ((rc = dumpChunk("RPUSH", key, klen, &e, 0, emit, ctx)) != KV_OK || e.n < AOF_DUMP_CHUNK)
				break;
		}
	} else {
		const char *name = kind == KV_T_HASH ? "HSET" : kind == KV_T_SET ? "SADD" : "ZADD";
		uint64_t cursor = 0;
		do {
			rc = kv_cscan(ns, key, klen, kind, &cursor, NULL, 0, AOF_DUMP_CHUNK, 0, &e);
			if (rc == KV_OK && e.n)
				rc = dumpChunk(name, key, klen, &e, kind == KV_T_ZSET, emit, ctx);
		} while (rc == KV_OK && cursor != 0);
	}
	kv_elems_free(srv.env, &e);
	/* its expiry, or none (its rebuild got the namespace's default TTL, if any) */
	return rc == KV_OK ? aofEffectExpiry(ns, key, klen, emit, ctx) : rc;
}

int aofEffectExpiry(kv_ns *ns, const void *key, size_t klen, aofEmitFn emit, void *ctx)
{
	int64_t exp = 0;
	if (kv_ttl(ns, key, klen, &exp) != KV_OK)
		return KV_OK; /* gone: its delete is logged by whoever removed it */
	char ms[24];
	int l = snprintf(ms, sizeof(ms), "%lld", (long long)exp);
	kv_val pe[3] = {{9, "PEXPIREAT"}, {klen, key}, {(size_t)l, ms}};
	kv_val pp[2] = {{7, "PERSIST"}, {klen, key}};
	return exp > 0 ? emit(ctx, 3, pe) : emit(ctx, 2, pp);
}
