/*
 * zset_mem.c -- bytes per element of engine/zset.c's sorted sets, for the
 * comparison with redis-server's MEMORY USAGE in bench/zset/zset_mem.sh.
 *
 * For each size N given: a zset of members "member:<i>" with score i*0.5 is
 * built by N single adds in shuffled order (as ZADDs arrive), and the bytes
 * it is charged (every allocation's size class: header, blob or nodes,
 * records and index) are printed as "N bytes encoding".
 */
#include <stdio.h>
#include <stdlib.h>

#include "zset.h"

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
		kv_off h = zs_new(env, 0, 0);
		for (long i = 0; i < n; i++) {
			/* a permutation of 0..n-1 (2654435761 is prime, so coprime with n) */
			long k = (long)(((uint64_t)i * 2654435761u) % (uint64_t)n);
			char m[32];
			int l = snprintf(m, sizeof m, "member:%ld", k);
			int out;
			double ns;
			if (zs_add(env, h, (double)k * 0.5, m, (size_t)l, 0, &out, &ns) != KV_OK) {
				fprintf(stderr, "zset_mem: add failed\n");
				return 1;
			}
		}
		printf("%ld %llu %s\n", n, (unsigned long long)zs_h(env, h)->bytes, zs_encoding(env, h));
		zs_destroy(env, h);
	}
	kv_env_close(env);
	return 0;
}
