/*
 * test_zset_cow.c -- the sorted-set structure's copy-on-write under real
 * concurrency: writer threads change a large zset under a mutex (standing in
 * for its shard lock) while reader threads pin versions and walk them with
 * no lock, as a save or a big ZRANGE does.  Every pinned walk must see the
 * version it pinned: the count taken at the pin, strictly ordered, with the
 * sum of scores the writers' own bookkeeping says that version had.  Under
 * ThreadSanitizer (ENGINE_TESTS_TSAN) a writer touching a node a pinned
 * reader may read is a reported race, even when the answer happens to be
 * right.
 */
#include <pthread.h>

#include "test.h"
#include "zset.h"

static kv_env *env;
static kv_off zh;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int stop;
/* the version counter and the sum of (integer) scores, changed with the zset */
static uint64_t version;
static int64_t score_sum;
static int bad_walks, walks, writes;

static void *writer(void *arg)
{
	uint64_t x = (uint64_t)(uintptr_t)arg * 0x9e3779b97f4a7c15ull + 1;
	while (!T_LOAD(stop)) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		char m[32];
		unsigned k = (unsigned)(x % 60000);
		int n = snprintf(m, sizeof m, "m%u", k);
		int64_t s = (int64_t)(x >> 40) % 1000;
		pthread_mutex_lock(&mu);
		double old;
		if (x & 1) {
			int out;
			double ns;
			bool had = zs_score(env, zh, m, (size_t)n, &old) == KV_OK;
			if (zs_add(env, zh, (double)s, m, (size_t)n, 0, &out, &ns) == KV_OK) {
				score_sum += s - (had ? (int64_t)old : 0);
				version++;
			}
		} else if (zs_del(env, zh, m, (size_t)n, &old) == KV_OK) {
			score_sum -= (int64_t)old;
			version++;
		}
		__atomic_add_fetch(&writes, 1, __ATOMIC_RELAXED);
		pthread_mutex_unlock(&mu);
	}
	return NULL;
}

static void *reader(void *arg)
{
	(void)arg;
	while (!T_LOAD(stop)) {
		zs_view v;
		pthread_mutex_lock(&mu);
		zs_pin(env, zh, &v);
		int64_t want = score_sum;
		pthread_mutex_unlock(&mu);
		/* the walk: no lock */
		zs_iter it;
		zs_elem e, prev = {0, NULL, 0};
		int64_t sum = 0;
		uint64_t n = 0;
		bool ordered = true;
		for (zs_iter_seek(&it, env, &v, 0); zs_iter_get(&it, &e); zs_iter_next(&it), n++) {
			if (n && zs_cmp(prev.score, prev.member, prev.len, e.score, e.member, e.len) >= 0)
				ordered = false;
			sum += (int64_t)e.score;
			prev = e;
		}
		if (n != v.count || sum != want || !ordered)
			__atomic_add_fetch(&bad_walks, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&walks, 1, __ATOMIC_RELAXED);
		kv_off ret;
		bool destroy;
		pthread_mutex_lock(&mu);
		zs_unpin(env, zh, &ret, &destroy);
		pthread_mutex_unlock(&mu);
		zs_free_retired(env, ret); /* after the lock, as the engine does */
	}
	return NULL;
}

int main(int argc, char **argv)
{
	t_init(argc, argv);
	kv_config cfg;
	kv_config_init(&cfg);
	cfg.memory = (size_t)256 << 20;
	if (kv_env_open(&cfg, &env) != KV_OK)
		return 1;

	TEST("pinned versions stay whole while writers change the zset") {
		zh = zs_new(env, 0, 0);
		unsigned N = t_quick() ? 20000 : 50000;
		for (unsigned i = 0; i < N; i++) {
			char m[32];
			int n = snprintf(m, sizeof m, "m%u", i);
			int out;
			double ns;
			zs_add(env, zh, (double)(i % 1000), m, (size_t)n, 0, &out, &ns);
			score_sum += i % 1000;
		}
		pthread_t w[2], r[2];
		for (int i = 0; i < 2; i++) {
			pthread_create(&w[i], NULL, writer, (void *)(uintptr_t)(i + 1));
			pthread_create(&r[i], NULL, reader, NULL);
		}
		struct timespec ts = {t_quick() ? 1 : 2, 0};
		nanosleep(&ts, NULL);
		T_STORE(stop, 1);
		for (int i = 0; i < 2; i++) {
			pthread_join(w[i], NULL);
			pthread_join(r[i], NULL);
		}
		E(walks > 0 && writes > 100);
		E(bad_walks == 0);
		E(zs_h(env, zh)->pins == 0 && zs_h(env, zh)->retired == 0);
		E(zs_check(env, zh) == 0);
		/* killed while pinned: the last unpin says destroy */
		zs_view v;
		zs_pin(env, zh, &v);
		E(!zs_kill(env, zh));
		kv_off ret;
		bool destroy;
		zs_unpin(env, zh, &ret, &destroy);
		E(destroy);
		zs_free_retired(env, ret);
		zs_destroy(env, zh);
		NOTE("%d pinned walks, %d writes", walks, writes);
	}
	kv_env_close(env);
	return t_done();
}
