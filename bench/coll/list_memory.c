/*
 * list_memory.c -- bytes a list costs in the engine, for
 * bench/coll/list_memory.sh (which asks redis-server's MEMORY USAGE the same).
 *
 * For each element count and size on the command line pairs ("10:10
 * 1000:100 ..."), RPUSH that many elements of that size (distinct, not
 * integers, as the script's) to one key of a fresh namespace, in batches of
 * 1000 like the script's pipeline, and print "n size bytes encoding", bytes
 * being what the namespace is charged for the key: entry, collection header
 * and the list's nodes (kv_ns_stats.bytes before and after).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv.h"

static void elem(char *buf, size_t size, unsigned long i)
{
	/* "e" then the number, padded with 'x': never an integer */
	int n = snprintf(buf, size + 1, "e%lu", i);
	for (size_t k = (size_t)n; k < size; k++)
		buf[k] = 'x';
}

int main(int argc, char **argv)
{
	kv_config cfg;
	kv_config_init(&cfg);
	cfg.region_size = (size_t)1 << 30;
	kv_env *env;
	if (kv_env_open(&cfg, &env) != KV_OK)
		return 1;
	for (int a = 1; a < argc; a++) {
		unsigned long n = 0, size = 0;
		if (sscanf(argv[a], "%lu:%lu", &n, &size) != 2 || size < 8 || size > 4096)
			return 2;
		kv_ns *ns;
		kv_ns_create(env, "m", NULL);
		kv_ns_open(env, "m", &ns);
		kv_ns_stats s0, s1;
		kv_ns_stats_get(ns, &s0);
		static char bufs[1000][4097];
		kv_val v[1000];
		for (unsigned long i = 0; i < n;) {
			size_t k = 0;
			for (; k < 1000 && i < n; k++, i++) {
				elem(bufs[k], size, i);
				v[k].data = bufs[k];
				v[k].len = size;
			}
			if (kv_push(ns, "list", 4, KV_RIGHT, v, k, 0, NULL) != KV_OK)
				return 3;
		}
		kv_ns_stats_get(ns, &s1);
		const char *enc = "?";
		kv_encoding(ns, "list", 4, &enc);
		printf("%lu %lu %llu %s\n", n, size, (unsigned long long)(s1.bytes - s0.bytes), enc);
		kv_ns_close(ns);
		kv_ns_drop(env, "m");
	}
	kv_env_close(env);
	return 0;
}
