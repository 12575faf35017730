/*
 * test_tick.c -- kv_tick and kv_autosave_set (tick.c): the limits on autosave
 * rules, and several tickers at once (one sweeps, the others only report;
 * rules may change meanwhile).  The rules' firing is tested in test_snapshot.
 */
#include "test.h"

#include <pthread.h>

#define NTICKERS 4
static kv_env *g_env;
static int g_stop;
static size_t g_reclaimed[NTICKERS];

static void *ticker(void *arg)
{
	int t = (int)(intptr_t)arg;
	kv_tick_info ti;
	while (!T_LOAD(g_stop)) {
		if (!EOK(kv_tick(g_env, 50, &ti)))
			break;
		g_reclaimed[t] += ti.reclaimed;
	}
	return NULL;
}

static void *rule_changer(void *arg)
{
	(void)arg;
	kv_save_rule rules[KV_MAX_SAVE_RULES];
	for (int i = 0; i < KV_MAX_SAVE_RULES; i++)
		rules[i] = (kv_save_rule){i + 1, (uint64_t)i * 10};
	for (size_t n = 0; !T_LOAD(g_stop); n = (n + 1) % (KV_MAX_SAVE_RULES + 1))
		if (!EOK(kv_autosave_set(g_env, rules, n)))
			break;
	return NULL;
}

int main(int argc, char **argv)
{
	t_init(argc, argv);
	kv_env *env = t_env(64 << 20);
	kv_ns *ns = env ? t_ns(env, "t", NULL) : NULL;
	if (!ns)
		return t_done();

	TEST("kv_autosave_set: at most KV_MAX_SAVE_RULES rules, none negative; a refused set keeps the old rules") {
		kv_save_rule rules[KV_MAX_SAVE_RULES + 1];
		for (int i = 0; i <= KV_MAX_SAVE_RULES; i++)
			rules[i] = (kv_save_rule){0, 1};
		EOK(kv_autosave_set(env, rules, KV_MAX_SAVE_RULES));
		ERC(kv_autosave_set(env, rules, KV_MAX_SAVE_RULES + 1), KV_EINVAL);
		ERC(kv_autosave_set(env, NULL, 1), KV_EINVAL);
		kv_save_rule neg = {-1, 1};
		ERC(kv_autosave_set(env, &neg, 1), KV_EINVAL);
		kv_save_rule huge = {INT64_MAX, 1}; /* seconds * 1000 would overflow */
		ERC(kv_autosave_set(env, &huge, 1), KV_EINVAL);
		huge.seconds = INT64_MAX / 1000;
		EOK(kv_autosave_set(env, &huge, 1));
		EOK(kv_autosave_set(env, rules, KV_MAX_SAVE_RULES));
		/* the 16 "any change, at once" rules are still in force */
		EOK(kv_set(ns, K("a"), K("v"), KV_T_TEXT, KV_EXPIRE_NEVER, 0, NULL));
		kv_tick_info ti;
		EOK(kv_tick(env, 0, &ti));
		E(ti.save_due == 1);
		EOK(kv_autosave_set(env, NULL, 0));
		EOK(kv_tick(env, 0, &ti));
		E(ti.save_due == 0);
		EOK(kv_del(ns, K("a")));
	}

	TEST("several tickers at once: every expired key is reclaimed once, rules may change meanwhile") {
		const int nkeys = t_quick() ? 5000 : 50000;
		int64_t soon = kv_now_ms() + 50;
		char k[32];
		for (int i = 0; i < nkeys; i++) {
			int n = snprintf(k, sizeof k, "x%d", i);
			EOK(kv_set(ns, k, (size_t)n, K("v"), KV_T_TEXT, i % 2 ? soon : KV_EXPIRE_NEVER, 0, NULL));
		}
		/* a key whose time passed while the loop ran was never stored */
		kv_ns_stats st;
		EOK(kv_ns_stats_get(ns, &st));
		const size_t live = (size_t)(nkeys / 2), doomed = (size_t)st.keys - live;
		E(st.keys >= live);
		t_sleep_ms(100); /* every key with a TTL has expired */
		g_env = env;
		pthread_t th[NTICKERS + 1];
		for (int t = 0; t < NTICKERS; t++)
			E(pthread_create(&th[t], NULL, ticker, (void *)(intptr_t)t) == 0);
		E(pthread_create(&th[NTICKERS], NULL, rule_changer, NULL) == 0);
		/* until the keys that expired are gone (the sweep takes several ticks) */
		for (int i = 0; i < 2000; i++) {
			EOK(kv_ns_stats_get(ns, &st));
			if (st.keys == live)
				break;
			t_sleep_ms(5);
		}
		T_STORE(g_stop, 1);
		for (int t = 0; t <= NTICKERS; t++)
			pthread_join(th[t], NULL);
		size_t total = 0;
		for (int t = 0; t < NTICKERS; t++)
			total += g_reclaimed[t];
		E(total == doomed); /* no key reclaimed twice, none missed */
		EOK(kv_ns_stats_get(ns, &st));
		if (!E(st.keys == live && st.expired == doomed))
			NOTE("keys %llu expired %llu reclaimed %zu", (unsigned long long)st.keys,
			     (unsigned long long)st.expired, total);
		EOK(kv_autosave_set(env, NULL, 0));
	}

	kv_ns_close(ns);
	kv_env_close(env);
	return t_done();
}
