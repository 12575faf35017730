/*
 * test_batch_incr.c -- KV_OP_INCR in kv_batch: integer increments inside
 * all-or-nothing batches (MULTI ... INCR ... EXEC as one batch), the same
 * rules as kv_incr, a failing INCR undoing the whole batch, best-effort mode,
 * KV_EV_INCR events, and no lost increment under concurrent batches.
 */
#include <pthread.h>

#include "test.h"

static int g_incr_events;
static void hook(void *ctx, const char *ns, const void *key, size_t klen, int event)
{
	(void)ctx, (void)ns, (void)key, (void)klen;
	if (event == KV_EV_INCR)
		__atomic_add_fetch(&g_incr_events, 1, __ATOMIC_RELAXED);
}

static kv_op o_incr(const char *k, int64_t by)
{
	return (kv_op){.op = KV_OP_INCR, .key = k, .klen = strlen(k), .by = by};
}

static kv_op o_set(const char *k, const char *v)
{
	return (kv_op){.op = KV_OP_SET, .key = k, .klen = strlen(k), .val = v, .vlen = strlen(v),
	               .type = KV_T_BYTES, .expires_at = KV_EXPIRE_NEVER};
}

#define NTHREADS 4
#define ROUNDS 2000
static kv_ns *g_ns;
static void *incr_pairs(void *arg)
{
	(void)arg;
	for (int i = 0; i < ROUNDS; i++) {
		kv_op ops[2] = {o_incr("x", 1), o_incr("y", -1)};
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
	cfg.default_ttl_ms = 3600000;
	kv_ns *ns = env ? t_ns(env, "bi", &cfg) : NULL;
	if (!ns)
		return t_done();
	kv_env_set_hook(env, hook, NULL);

	TEST("KV_OP_INCR: results in out_int, later items see earlier ones, kv_incr's TTL rules, events") {
		EOK(kv_set(ns, K("keep"), K("10"), KV_T_BYTES, INT64_C(4102444800000), 0, NULL));
		kv_op ops[4] = {o_incr("n", 5), o_incr("n", -7), o_incr("keep", 1), o_set("s", "v")};
		kv_buf arena = KV_BUF_INIT;
		EOK(kv_batch(ns, ops, 4, KV_BATCH_ALL_OR_NOTHING, &arena, NULL));
		E(ops[0].out_int == 5 && ops[1].out_int == -2 && ops[2].out_int == 11);
		int64_t exp = 0;
		EOK(kv_ttl(ns, K("n"), &exp));
		E(exp > 0); /* a new key gets the default TTL, as kv_incr gives it */
		EOK(kv_ttl(ns, K("keep"), &exp));
		E(exp == INT64_C(4102444800000));
		kv_buf b = KV_BUF_INIT;
		EOK(kv_get(ns, K("n"), &b));
		E(t_buf_is(&b, "-2", 2) && b.type == KV_T_INT);
		E(g_incr_events == 3);
		kv_buf_free(env, &b);
		kv_buf_free(env, &arena);
	}

	TEST("KV_OP_INCR: a non-integer or an overflow fails the whole batch, nothing applied") {
		EOK(kv_set(ns, K("txt"), K("abc"), KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL));
		EOK(kv_set(ns, K("big"), K("9223372036854775807"), KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL));
		kv_error err;
		kv_op ops[3] = {o_incr("n", 1), o_set("s", "changed"), o_incr("txt", 1)};
		ERC(kv_batch(ns, ops, 3, KV_BATCH_ALL_OR_NOTHING, NULL, &err), KV_ENOTINT);
		E(err.item == 2 && ops[0].status == KV_EABORTED && ops[2].status == KV_ENOTINT);
		kv_op ov[2] = {o_incr("n", 1), o_incr("big", 1)};
		ERC(kv_batch(ns, ov, 2, KV_BATCH_ALL_OR_NOTHING, NULL, &err), KV_EOVERFLOW);
		kv_buf b = KV_BUF_INIT;
		EOK(kv_get(ns, K("n"), &b));
		E(t_buf_is(&b, "-2", 2));
		EOK(kv_get(ns, K("s"), &b));
		E(t_buf_is(&b, "v", 1));
		kv_buf_free(env, &b);
	}

	TEST("KV_OP_INCR best effort: each item its own status") {
		kv_op ops[2] = {o_incr("txt", 1), o_incr("n", 2)};
		EOK(kv_batch(ns, ops, 2, KV_BATCH_BEST_EFFORT, NULL, NULL));
		E(ops[0].status == KV_ENOTINT && ops[1].status == KV_OK && ops[1].out_int == 0);
	}

	TEST("KV_OP_INCR under 4 threads of batches: x + y stays 0 and nothing is lost") {
		g_ns = ns;
		pthread_t th[NTHREADS];
		for (int t = 0; t < NTHREADS; t++)
			pthread_create(&th[t], NULL, incr_pairs, NULL);
		for (int t = 0; t < NTHREADS; t++)
			pthread_join(th[t], NULL);
		kv_op ops[2] = {o_incr("x", 0), o_incr("y", 0)};
		EOK(kv_batch(ns, ops, 2, KV_BATCH_ALL_OR_NOTHING, NULL, NULL));
		E(ops[0].out_int == NTHREADS * ROUNDS && ops[1].out_int == -NTHREADS * ROUNDS);
	}

	kv_env_set_hook(env, NULL, NULL);
	kv_ns_close(ns);
	kv_env_close(env);
	return t_done();
}
