/*
 * coll_memory.c -- bytes per element of the engine's hashes and sets: the
 * namespace's charged bytes (kv_ns_stats.bytes, exact) after one key is
 * built, minus before, divided by its elements.  Fields "field:<i>" with
 * values "value:<i>", members "member:<i>", as bench/coll/memory.py writes
 * them into redis-server for MEMORY USAGE.
 *   coll_memory N...   prints "hash N bytes" and "set N bytes" lines
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv.h"

static uint64_t ns_bytes(kv_ns *ns)
{
	kv_ns_stats st;
	kv_ns_stats_get(ns, &st);
	return st.bytes;
}

int main(int argc, char **argv)
{
	kv_config cfg;
	kv_env *env;
	kv_ns *ns;
	kv_config_init(&cfg);
	cfg.memory = (size_t)1 << 30;
	if (kv_env_open(&cfg, &env) != KV_OK || kv_ns_create(env, "m", NULL) != KV_OK ||
	    kv_ns_open(env, "m", &ns) != KV_OK) {
		fprintf(stderr, "cannot open the engine\n");
		return 1;
	}
	for (int a = 1; a < argc; a++) {
		long n = atol(argv[a]);
		char f[32], v[32];
		uint64_t b0 = ns_bytes(ns);
		for (long i = 0; i < n; i++) {
			snprintf(f, sizeof f, "field:%ld", i);
			snprintf(v, sizeof v, "value:%ld", i);
			kv_val fv[] = {{strlen(f), f}, {strlen(v), v}};
			if (kv_hset(ns, "h", 1, fv, 1, 0, NULL) != KV_OK)
				return 1;
		}
		printf("hash %ld %llu\n", n, (unsigned long long)(ns_bytes(ns) - b0));
		kv_del(ns, "h", 1);
		b0 = ns_bytes(ns);
		for (long i = 0; i < n; i++) {
			snprintf(f, sizeof f, "member:%ld", i);
			kv_val m = {strlen(f), f};
			if (kv_sadd(ns, "s", 1, &m, 1, NULL) != KV_OK)
				return 1;
		}
		printf("set %ld %llu\n", n, (unsigned long long)(ns_bytes(ns) - b0));
		kv_del(ns, "s", 1);
	}
	kv_ns_close(ns);
	kv_env_close(env);
	return 0;
}
