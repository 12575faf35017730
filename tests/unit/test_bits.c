/*
 * test_bits.c -- kv_setbit, kv_bitfield, kv_bitop, kv_copy, kv_move: values,
 * growth and limits, TTL rules, Redis's overflow arithmetic, hook events, and
 * atomicity under concurrent writers.
 */
#include <pthread.h>

#include "test.h"

static int g_events[16];
static void count_hook(void *ctx, const char *ns, const void *key, size_t klen, int event)
{
	(void)ctx, (void)ns, (void)key, (void)klen;
	if (event >= 0 && event < 16)
		__atomic_add_fetch(&g_events[event], 1, __ATOMIC_RELAXED);
}

static int val_is(kv_env *env, kv_ns *ns, const char *k, const void *v, size_t n)
{
	kv_buf b = KV_BUF_INIT;
	int ok = kv_get(ns, k, strlen(k), &b) == KV_OK && t_buf_is(&b, v, n);
	kv_buf_free(env, &b);
	return ok;
}

static kv_bitfield_op bf(int op, int ow, int sgn, unsigned bits, uint64_t off, int64_t v)
{
	return (kv_bitfield_op){op, ow, sgn, bits, off, v, 0, 0};
}

#define NTHREADS 4
#define PER_THREAD 2000
static kv_ns *g_ns;
static void *setter(void *arg)
{
	uintptr_t t = (uintptr_t)arg;
	for (uint64_t i = 0; i < PER_THREAD; i++)
		kv_setbit(g_ns, K("race"), i * NTHREADS + t, 1, NULL);
	return NULL;
}
static void *incrementer(void *arg)
{
	(void)arg;
	for (int i = 0; i < PER_THREAD; i++) {
		kv_bitfield_op op = bf(KV_BF_INCRBY, KV_BF_WRAP, 0, 32, 8, 1);
		kv_bitfield(g_ns, K("ctr"), &op, 1);
	}
	return NULL;
}

/* Sets a and b to one new 8-byte value together (one all-or-nothing batch). */
static volatile int g_stop;
static void *pair_writer(void *arg)
{
	uint64_t r = (uintptr_t)arg + 1;
	while (!__atomic_load_n(&g_stop, __ATOMIC_RELAXED)) {
		char v[8];
		uint64_t x = t_rand(&r);
		memcpy(v, &x, 8);
		kv_op ops[2] = {{.op = KV_OP_SET, .key = "pa", .klen = 2, .val = v, .vlen = 8, .type = KV_T_BYTES,
		                 .expires_at = KV_EXPIRE_NEVER},
		                {.op = KV_OP_SET, .key = "pb", .klen = 2, .val = v, .vlen = 8, .type = KV_T_BYTES,
		                 .expires_at = KV_EXPIRE_NEVER}};
		kv_batch(g_ns, ops, 2, KV_BATCH_ALL_OR_NOTHING, NULL, NULL);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	t_init(argc, argv);
	kv_env *env = t_env(64 << 20);
	kv_ns_config cfg;
	kv_ns_config_init(&cfg);
	cfg.max_value_size = 1024;
	kv_ns *ns = env ? t_ns(env, "b", &cfg) : NULL;
	kv_ns *other = env ? t_ns(env, "o", NULL) : NULL;
	if (!ns || !other)
		return t_done();
	kv_env_set_hook(env, count_hook, NULL);

	TEST("kv_setbit: old bit, zero-padded growth, KV_T_BYTES, TTL kept, bounds before allocation") {
		int old = -1;
		EOK(kv_setbit(ns, K("s"), 7, 1, &old));
		E(old == 0 && val_is(env, ns, "s", "\x01", 1));
		EOK(kv_setbit(ns, K("s"), 7, 1, &old));
		E(old == 1);
		EOK(kv_setbit(ns, K("s"), 17, 1, &old));
		E(old == 0 && val_is(env, ns, "s", "\x01\x00\x40", 3));
		EOK(kv_setbit(ns, K("s"), 7, 0, &old));
		E(old == 1 && val_is(env, ns, "s", "\x00\x00\x40", 3));
		EOK(kv_set(ns, K("n"), K("10"), KV_T_INT, INT64_C(4102444800000), 0, NULL));
		EOK(kv_setbit(ns, K("n"), 0, 1, &old));
		kv_buf b = KV_BUF_INIT;
		EOK(kv_get(ns, K("n"), &b));
		E(b.type == KV_T_BYTES && b.expires_at == INT64_C(4102444800000) && t_buf_is(&b, "\xb1" "0", 2));
		kv_buf_free(env, &b);
		ERC(kv_setbit(ns, K("s"), 1024 * 8, 1, &old), KV_EVALSIZE); /* 1025 bytes */
		EOK(kv_setbit(ns, K("s"), 1024 * 8 - 1, 1, &old));
		ERC(kv_setbit(ns, K("s"), UINT64_MAX, 1, &old), KV_EVALSIZE);
		ERC(kv_setbit(ns, K("s"), 0, 2, &old), KV_EINVAL);
		int sets = g_events[KV_EV_SET];
		EOK(kv_setbit(ns, K("s"), 0, 0, &old)); /* unchanged bit, same length: no event (Redis 7.2) */
		E(g_events[KV_EV_SET] == sets);
		EOK(kv_setbit(ns, K("s"), 0, 1, &old));
		E(g_events[KV_EV_SET] == sets + 1);
		EOK(kv_setbit(ns, K("new"), 0, 0, &old)); /* created: an event */
		E(g_events[KV_EV_SET] == sets + 2);
	}

	TEST("kv_setbit: a new key gets the namespace's default TTL") {
		kv_ns_config c2;
		kv_ns_config_init(&c2);
		c2.default_ttl_ms = 60000;
		kv_ns *t = t_ns(env, "ttl", &c2);
		int64_t exp = 0;
		E(t && kv_setbit(t, K("k"), 3, 1, NULL) == KV_OK && kv_ttl(t, K("k"), &exp) == KV_OK && exp > 0);
		if (t)
			kv_ns_close(t);
	}

	TEST("kv_bitfield: Redis's documented examples and overflow rules") {
		/* BITFIELD k INCRBY u2 100 1 OVERFLOW SAT INCRBY u2 102 1, four times:
		 * 1 1, 2 2, 3 3, 0 3 */
		int64_t want[4][2] = {{1, 1}, {2, 2}, {3, 3}, {0, 3}};
		for (int i = 0; i < 4; i++) {
			kv_bitfield_op ops[2] = {bf(KV_BF_INCRBY, KV_BF_WRAP, 0, 2, 100, 1),
			                         bf(KV_BF_INCRBY, KV_BF_SAT, 0, 2, 102, 1)};
			EOK(kv_bitfield(ns, K("f"), ops, 2));
			E(ops[0].result == want[i][0] && ops[1].result == want[i][1]);
		}
		kv_bitfield_op ops[6] = {
		    bf(KV_BF_SET, KV_BF_WRAP, 1, 8, 0, 200),   /* old 0; stores 200-256 = -56 */
		    bf(KV_BF_GET, 0, 1, 8, 0, 0),              /* -56 */
		    bf(KV_BF_INCRBY, KV_BF_FAIL, 1, 8, 0, -100),/* -156: fails, nil */
		    bf(KV_BF_INCRBY, KV_BF_SAT, 1, 8, 0, -100), /* -128 */
		    bf(KV_BF_SET, KV_BF_SAT, 0, 8, 0, -1),     /* u8 SAT of -1 as unsigned: 255; old 128 */
		    bf(KV_BF_GET, 0, 0, 8, 0, 0),              /* 255 */
		};
		EOK(kv_bitfield(ns, K("g"), ops, 6));
		E(ops[0].result == 0 && ops[1].result == -56 && ops[2].failed && ops[3].result == -128 &&
		  ops[4].result == 128 && ops[5].result == 255);
		kv_bitfield_op big[3] = {bf(KV_BF_SET, KV_BF_WRAP, 1, 64, 8, INT64_MIN),
		                         bf(KV_BF_INCRBY, KV_BF_WRAP, 1, 64, 8, -1),
		                         bf(KV_BF_INCRBY, KV_BF_SAT, 0, 63, 8, INT64_MAX)};
		EOK(kv_bitfield(ns, K("h"), big, 3));
		E(big[1].result == INT64_MAX && big[2].result == INT64_MAX);
		kv_bitfield_op bad = bf(KV_BF_GET, 0, 0, 64, 0, 0); /* u64 */
		ERC(kv_bitfield(ns, K("h"), &bad, 1), KV_EINVAL);
		bad = bf(KV_BF_SET, 7, 1, 8, 0, 0);
		ERC(kv_bitfield(ns, K("h"), &bad, 1), KV_EINVAL);
		bad = bf(KV_BF_SET, KV_BF_WRAP, 1, 8, 1024 * 8 - 4, 0); /* crosses byte 1024 */
		ERC(kv_bitfield(ns, K("h"), &bad, 1), KV_EVALSIZE);
	}

	TEST("kv_bitfield: GETs only store nothing; all-FAIL writes still create the key") {
		kv_bitfield_op g = bf(KV_BF_GET, 0, 0, 8, 800, 0);
		EOK(kv_bitfield(ns, K("ro"), &g, 1));
		E(g.result == 0);
		ERC(kv_exists(ns, K("ro")), KV_NOTFOUND);
		kv_bitfield_op f = bf(KV_BF_INCRBY, KV_BF_FAIL, 0, 8, 8, 300);
		EOK(kv_bitfield(ns, K("ro"), &f, 1));
		E(f.failed && val_is(env, ns, "ro", "\0\0", 2));
	}

	TEST("kv_bitop: AND/OR/XOR/NOT, missing sources, padding, empty result deletes dst") {
		EOK(kv_set(ns, K("a"), K("\xff\x0f"), KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL));
		EOK(kv_set(ns, K("b"), K("\x0f"), KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL));
		const void *keys[3] = {"a", "b", "missing"};
		size_t kl[3] = {1, 1, 7}, n = 0;
		EOK(kv_bitop(ns, KV_BITOP_AND, K("d"), keys, kl, 2, &n));
		E(n == 2 && val_is(env, ns, "d", "\x0f\x00", 2));
		EOK(kv_bitop(ns, KV_BITOP_OR, K("d"), keys, kl, 3, &n));
		E(n == 2 && val_is(env, ns, "d", "\xff\x0f", 2));
		EOK(kv_bitop(ns, KV_BITOP_XOR, K("d"), keys, kl, 2, &n));
		E(n == 2 && val_is(env, ns, "d", "\xf0\x0f", 2));
		EOK(kv_bitop(ns, KV_BITOP_NOT, K("a"), keys, kl, 1, &n)); /* in place */
		E(n == 2 && val_is(env, ns, "a", "\x00\xf0", 2));
		ERC(kv_bitop(ns, KV_BITOP_NOT, K("d"), keys, kl, 2, &n), KV_EINVAL);
		ERC(kv_bitop(ns, 9, K("d"), keys, kl, 2, &n), KV_EINVAL);
		int dels = g_events[KV_EV_DEL];
		EOK(kv_bitop(ns, KV_BITOP_AND, K("d"), keys + 2, kl + 2, 1, &n));
		E(n == 0 && kv_exists(ns, K("d")) == KV_NOTFOUND && g_events[KV_EV_DEL] == dels + 1);
	}

	TEST("kv_copy and kv_move: value, type and expiry; NX unless replace; across namespaces") {
		EOK(kv_set(ns, K("src"), K("42"), KV_T_INT, INT64_C(4102444800000), 0, NULL));
		EOK(kv_copy(ns, K("src"), NULL, K("dst"), 0));
		kv_buf b = KV_BUF_INIT;
		EOK(kv_get(ns, K("dst"), &b));
		E(b.type == KV_T_INT && b.expires_at == INT64_C(4102444800000) && t_buf_is(&b, "42", 2));
		ERC(kv_copy(ns, K("src"), ns, K("dst"), 0), KV_EXISTS);
		ERC(kv_copy(ns, K("src"), ns, K("src"), 1), KV_EINVAL);
		ERC(kv_copy(ns, K("nope"), ns, K("dst"), 1), KV_NOTFOUND);
		EOK(kv_set(ns, K("src"), K("v2"), KV_T_TEXT, KV_EXPIRE_NEVER, 0, NULL));
		EOK(kv_copy(ns, K("src"), ns, K("dst"), 1));
		E(val_is(env, ns, "dst", "v2", 2));
		EOK(kv_copy(ns, K("src"), other, K("x"), 0));
		E(val_is(env, other, "x", "v2", 2) && val_is(env, ns, "src", "v2", 2));
		ERC(kv_copy(ns, K("src"), other, K("x"), 0), KV_EXISTS);
		ERC(kv_move(ns, K("src"), ns), KV_EINVAL);
		EOK(kv_set(other, K("src"), K("there"), KV_T_TEXT, KV_EXPIRE_NEVER, 0, NULL));
		ERC(kv_move(ns, K("src"), other), KV_EXISTS);
		E(val_is(env, ns, "src", "v2", 2) && val_is(env, other, "src", "there", 5));
		EOK(kv_del(other, K("src")));
		EOK(kv_move(ns, K("src"), other));
		E(kv_exists(ns, K("src")) == KV_NOTFOUND && val_is(env, other, "src", "v2", 2));
		ERC(kv_move(ns, K("src"), other), KV_NOTFOUND);
		kv_buf_free(env, &b);
	}

	TEST("atomic under 4 writers: SETBIT of disjoint bits and BITFIELD INCRBY lose nothing") {
		g_ns = ns;
		pthread_t th[NTHREADS];
		for (uintptr_t t = 0; t < NTHREADS; t++)
			pthread_create(&th[t], NULL, setter, (void *)t);
		for (int t = 0; t < NTHREADS; t++)
			pthread_join(th[t], NULL);
		kv_buf b = KV_BUF_INIT;
		EOK(kv_get(ns, K("race"), &b));
		long bits = 0;
		for (size_t i = 0; i < b.len; i++)
			bits += __builtin_popcount((unsigned char)b.data[i]);
		E(bits == NTHREADS * PER_THREAD && b.len == NTHREADS * PER_THREAD / 8);
		for (int t = 0; t < NTHREADS; t++)
			pthread_create(&th[t], NULL, incrementer, NULL);
		for (int t = 0; t < NTHREADS; t++)
			pthread_join(th[t], NULL);
		kv_bitfield_op g = bf(KV_BF_GET, 0, 0, 32, 8, 0);
		EOK(kv_bitfield(ns, K("ctr"), &g, 1));
		E(g.result == NTHREADS * PER_THREAD);
		kv_buf_free(env, &b);
	}

	TEST("kv_bitop reads every source in one cut: XOR of a pair always written together is all zeros") {
		g_ns = ns;
		pthread_t th[2];
		for (uintptr_t t = 0; t < 2; t++)
			pthread_create(&th[t], NULL, pair_writer, (void *)t);
		const void *keys[2] = {"pa", "pb"};
		size_t kl[2] = {2, 2};
		int bad = 0;
		kv_buf b = KV_BUF_INIT;
		for (int i = 0; i < 4000; i++) {
			size_t n;
			if (kv_bitop(ns, KV_BITOP_XOR, K("px"), keys, kl, 2, &n) != KV_OK)
				continue;
			if (n && kv_get(ns, K("px"), &b) == KV_OK && memcmp(b.data, "\0\0\0\0\0\0\0\0", 8) != 0)
				bad++;
		}
		__atomic_store_n(&g_stop, 1, __ATOMIC_RELAXED);
		for (int t = 0; t < 2; t++)
			pthread_join(th[t], NULL);
		E(bad == 0);
		kv_buf_free(env, &b);
	}

	kv_env_set_hook(env, NULL, NULL);
	kv_ns_close(other);
	kv_ns_close(ns);
	kv_env_close(env);
	return t_done();
}
