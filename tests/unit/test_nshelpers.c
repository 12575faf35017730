/*
 * test_nshelpers.c -- the namespace helpers hosts share: kv_ns_list_all /
 * kv_ns_list_free (the whole list in one consistent call, allocated with the
 * env's allocator) and kv_nscache (handles by name, lock-free hits, many
 * threads at once).
 */
#include "test.h"

#include <pthread.h>

static kv_env *counted_env(uint32_t max_ns)
{
	kv_config cfg;
	kv_env *env = NULL;
	kv_config_init(&cfg);
	cfg.memory = (size_t)64 << 20;
	cfg.max_namespaces = max_ns;
	cfg.mem.xRealloc = t_count_realloc;
	if (!EOK(kv_env_open(&cfg, &env)))
		return NULL;
	return env;
}

#define NTHREADS 4
static kv_nscache *shared_cache;
static kv_ns *seen[NTHREADS][64];

static void *lookup_all(void *arg)
{
	int t = (int)(intptr_t)arg;
	char name[16];
	for (int round = 0; round < 200; round++)
		for (int i = 0; i < 64; i++) {
			int len = snprintf(name, sizeof name, "c%d", i);
			kv_ns *ns = NULL;
			if (!EOK(kv_nscache_get(shared_cache, name, (size_t)len, &ns)))
				return NULL;
			if (round == 0)
				seen[t][i] = ns;
			else if (!E(seen[t][i] == ns))
				return NULL;
		}
	return NULL;
}

int main(int argc, char **argv)
{
	t_init(argc, argv);
	kv_env *env = counted_env(16);
	if (!env)
		return t_done();
	long base = __atomic_load_n(&t_live_blocks, __ATOMIC_RELAXED);

	TEST("kv_ns_list_all: empty store gives NULL and 0") {
		kv_ns_stats *l = (kv_ns_stats *)1;
		size_t n = 99;
		EOK(kv_ns_list_all(env, &l, &n));
		E(l == NULL && n == 0);
		kv_ns_list_free(env, l);
	}

	TEST("kv_ns_list_all: every namespace, sorted, as kv_ns_list gives them, with the env's allocator") {
		static const char *const names[] = {"zeta", "alpha", "m.id", "Beta", "a:b", "a-b", "_u"};
		for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
			kv_ns_config c;
			kv_ns_config_init(&c);
			c.max_keys = 100 + i;
			EOK(kv_ns_create(env, names[i], &c));
		}
		kv_ns_stats *l = NULL, ref[16];
		size_t n = 0, rn = 0;
		EOK(kv_ns_list_all(env, &l, &n));
		E(__atomic_load_n(&t_live_blocks, __ATOMIC_RELAXED) == base + 1);
		EOK(kv_ns_list(env, ref, 16, &rn));
		E(n == 7 && rn == 7 && l != NULL);
		for (size_t i = 0; l && i < n && i < rn; i++) {
			E(strcmp(l[i].name, ref[i].name) == 0);
			E(l[i].config.max_keys == ref[i].config.max_keys);
			if (i)
				E(strcmp(l[i - 1].name, l[i].name) < 0);
		}
		kv_ns_list_free(env, l);
		E(__atomic_load_n(&t_live_blocks, __ATOMIC_RELAXED) == base);
		kv_ns_list_free(env, NULL);
	}

	TEST("kv_ns_list_all: a full namespace table") {
		char name[16];
		for (int i = 0; i < 16; i++) {
			snprintf(name, sizeof name, "f%02d", i);
			int rc = kv_ns_create(env, name, NULL);
			E(rc == KV_OK || rc == KV_ETOOMANYNS);
		}
		kv_ns_stats *l = NULL;
		size_t n = 0;
		EOK(kv_ns_list_all(env, &l, &n));
		E(n == 16 && l && strcmp(l[0].name, "Beta") == 0);
		kv_ns_list_free(env, l);
		E(__atomic_load_n(&t_live_blocks, __ATOMIC_RELAXED) == base);
	}
	kv_env_close(env);

	env = counted_env(128);
	if (!env)
		return t_done();
	base = __atomic_load_n(&t_live_blocks, __ATOMIC_RELAXED);

	TEST("kv_nscache: one handle per name, bad names refused, a missing name not cached") {
		kv_nscache *c = NULL;
		EOK(kv_nscache_open(env, &c));
		kv_ns *a = NULL, *b = NULL;
		ERC(kv_nscache_get(c, "a", 1, &a), KV_ENONS);
		E(a == NULL);
		EOK(kv_ns_create(env, "a", NULL));
		EOK(kv_nscache_get(c, "a", 1, &a)); /* created since: found now */
		EOK(kv_nscache_get(c, "abc", 1, &b)); /* len bounds the name */
		E(a != NULL && a == b);
		E(strcmp(kv_ns_name(a), "a") == 0);
		ERC(kv_nscache_get(c, "a\0b", 3, &b), KV_ENSNAME);
		ERC(kv_nscache_get(c, "", 0, &b), KV_ENSNAME);
		ERC(kv_nscache_get(c, "a b", 3, &b), KV_ENSNAME);
		char longname[80];
		memset(longname, 'x', sizeof longname);
		ERC(kv_nscache_get(c, longname, sizeof longname, &b), KV_ENSNAME);
		/* the handle follows drop and re-create */
		EOK(kv_set(a, K("k"), K("v"), KV_T_TEXT, KV_EXPIRE_NEVER, 0, NULL));
		EOK(kv_ns_drop(env, "a"));
		ERC(kv_exists(a, K("k")), KV_ENONS);
		EOK(kv_nscache_get(c, "a", 1, &b)); /* still cached */
		E(b == a);
		EOK(kv_ns_create(env, "a", NULL));
		ERC(kv_exists(a, K("k")), KV_NOTFOUND);
		EOK(kv_set(a, K("k"), K("v"), KV_T_TEXT, KV_EXPIRE_NEVER, 0, NULL));
		kv_nscache_close(c);
		kv_nscache_close(NULL);
		E(__atomic_load_n(&t_live_blocks, __ATOMIC_RELAXED) == base); /* every handle and node freed */
	}

	TEST("kv_nscache: threads looking up the same names at once share one handle each") {
		char name[16];
		for (int i = 0; i < 64; i++) {
			snprintf(name, sizeof name, "c%d", i);
			EOK(kv_ns_create(env, name, NULL));
		}
		EOK(kv_nscache_open(env, &shared_cache));
		pthread_t th[NTHREADS];
		for (int t = 0; t < NTHREADS; t++)
			E(pthread_create(&th[t], NULL, lookup_all, (void *)(intptr_t)t) == 0);
		for (int t = 0; t < NTHREADS; t++)
			pthread_join(th[t], NULL);
		int same = 1;
		for (int t = 1; t < NTHREADS; t++)
			for (int i = 0; i < 64; i++)
				same &= seen[t][i] == seen[0][i] && seen[0][i] != NULL;
		E(same);
		/* one cache node and one handle per name, nothing leaked by lost races */
		E(__atomic_load_n(&t_live_blocks, __ATOMIC_RELAXED) == base + 1 + 2 * 64);
		kv_nscache_close(shared_cache);
		E(__atomic_load_n(&t_live_blocks, __ATOMIC_RELAXED) == base);
	}

	TEST("after kv_env_close nothing the helpers allocated is left") {
		kv_env_close(env);
		E(__atomic_load_n(&t_live_blocks, __ATOMIC_RELAXED) == 0);
	}
	return t_done();
}
