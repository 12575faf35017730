/*
 * skvdump.c -- print what a snapshot file holds, exactly, for the matrix's
 * cross-host round trip (tests/matrix/roundtrip.py): one line per key,
 *
 *     <namespace> TAB <key hex> TAB <type tag> TAB <value hex> TAB <expires_at ms>
 *
 * in scan order (the caller sorts).  Loads the file into a private engine with
 * the engine's own loader, so it sees exactly what any host would load.
 * Usage: skvdump FILE.  Exit 0, or 1 with the engine's message on stderr.
 */
#include <stdio.h>
#include <stdlib.h>

#include "kv.h"

static void hex(const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		printf("%02x", b[i]);
}

static const char *cur_ns;

static int print_key(void *ctx, const void *key, size_t klen, const void *val, size_t vlen,
                     int type, int64_t expires_at)
{
	(void)ctx;
	printf("%s\t", cur_ns);
	hex(key, klen);
	printf("\t%d\t", type);
	hex(val, vlen);
	printf("\t%lld\n", (long long)expires_at);
	return 0;
}

int main(int argc, char **argv)
{
	kv_config    cfg = {0};
	kv_env      *env;
	kv_error     err = {0};
	kv_ns_stats *list;
	size_t       n = 0;
	int          rc;

	if (argc != 2) {
		fprintf(stderr, "usage: skvdump FILE\n");
		return 2;
	}
	cfg.memory = (size_t)256 << 20;
	if ((rc = kv_env_open(&cfg, &env)) != KV_OK) {
		fprintf(stderr, "skvdump: %s\n", kv_strerror(rc));
		return 1;
	}
	if ((rc = kv_load(env, argv[1], NULL, NULL, &err)) != KV_OK) {
		fprintf(stderr, "skvdump: %s: %s (%s)\n", argv[1], kv_strerror(rc), err.msg);
		return 1;
	}
	if (kv_ns_list(env, NULL, 0, &n) != KV_OK || (list = calloc(n + 1, sizeof(*list))) == NULL ||
	    kv_ns_list(env, list, n, &n) != KV_OK) {
		fprintf(stderr, "skvdump: cannot list namespaces\n");
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		kv_ns       *ns;
		uint64_t     cursor = 0;
		kv_scan_opts opts = {0};

		opts.values = 1;
		opts.count = 1000;
		if ((rc = kv_ns_open(env, list[i].name, &ns)) != KV_OK) {
			fprintf(stderr, "skvdump: %s: %s\n", list[i].name, kv_strerror(rc));
			return 1;
		}
		cur_ns = list[i].name;
		do {
			if ((rc = kv_scan(ns, &cursor, &opts, print_key, NULL)) != KV_OK) {
				fprintf(stderr, "skvdump: scan %s: %s\n", list[i].name, kv_strerror(rc));
				return 1;
			}
		} while (cursor != 0);
		kv_ns_close(ns);
	}
	free(list);
	kv_env_close(env);
	return 0;
}
