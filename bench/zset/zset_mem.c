/*
 * zset_mem.c -- bytes per element of sorted sets, for the comparison with
 * redis-server's MEMORY USAGE in bench/zset/zset_mem.sh.
 *
 * For each size N given: ZADDs of members "member:<i>" with score i*0.5, one
 * at a time in a shuffled order, into a key of a fresh namespace; printed as
 * "N bytes encoding", bytes being what the namespace is charged for the key
 * (its entry, the collection header and every object of the zset, each at
 * its allocator size class).
 */
#include <stdio.h>
#include <stdlib.h>

#include "kv.h"

int main(int argc, char **argv)
{
	kv_config cfg;
	kv_config_init(&cfg);
	cfg.memory = (size_t)512 << 20;
	kv_env *env = NULL;
	if (kv_env_open(&cfg, &env) != KV_OK) {
		fprintf(stderr, "zset_mem: cannot open a 512 MiB store\n");
		return 1;
	}
	for (int a = 1; a < argc; a++) {
		long n = atol(argv[a]);
		kv_ns *ns;
		char name[32];
		snprintf(name, sizeof name, "m%d", a);
		if (kv_ns_create(env, name, NULL) != KV_OK || kv_ns_open(env, name, &ns) != KV_OK)
			return 1;
		kv_ns_stats st0, st1;
		kv_ns_stats_get(ns, &st0);
		for (long i = 0; i < n; i++) {
			/* a permutation of 0..n-1 (2654435761 is prime, so coprime with n) */
			long k = (long)(((uint64_t)i * 2654435761u) % (uint64_t)n);
			char m[32];
			int l = snprintf(m, sizeof m, "member:%ld", k);
			kv_zmember zm = {(double)k * 0.5, {(size_t)l, m}};
			if (kv_zadd(ns, "z", 1, &zm, 1, 0, NULL, NULL) != KV_OK) {
				fprintf(stderr, "zset_mem: ZADD failed\n");
				return 1;
			}
		}
		kv_ns_stats_get(ns, &st1);
		const char *enc = "?";
		kv_encoding(ns, "z", 1, &enc);
		printf("%ld %llu %s\n", n, (unsigned long long)(st1.bytes - st0.bytes), enc);
		kv_ns_close(ns);
	}
	kv_env_close(env);
	return 0;
}
