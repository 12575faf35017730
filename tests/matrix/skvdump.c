/*
 * skvdump.c -- print what a snapshot file holds, exactly, for the matrix's
 * cross-host round trip (tests/matrix/roundtrip.py): one line per key,
 *
 *     <namespace> TAB <key hex> TAB <type tag> TAB <value hex> TAB <expires_at ms>
 *
 * in scan order (the caller sorts).  Loads the file into a private engine with
 * the engine's own loader, so it sees exactly what any host would load.
 * With -c (tests/matrix/collsnap.py), a key holding a collection prints its
 * elements in place of the value:
 *
 *     <namespace> TAB <key hex> TAB <kind tag> TAB <elements> TAB <expires_at ms>
 *
 * elements being comma-separated hex (hash: field:value; zset: member:score
 * with the score as %.17g; list in order; set and hash in no order).
 * Usage: skvdump [-c] FILE.  Exit 0, or 1 with the engine's message on stderr.
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
static kv_ns      *cur_handle;
static int         with_elems;
static kv_elems    elems = KV_ELEMS_INIT;

/* The elements of a collection key (-c), read with the engine's own calls. */
static int print_elems(const void *key, size_t klen, int type)
{
	kv_zrange_spec spec;
	size_t         step = 1;
	int            rc;

	switch (type) {
	case KV_T_HASH:
		rc = kv_hgetall(cur_handle, key, klen, KV_HALL_FIELDS | KV_HALL_VALUES, &elems);
		step = 2;
		break;
	case KV_T_SET:
		rc = kv_smembers(cur_handle, key, klen, &elems);
		break;
	case KV_T_ZSET:
		kv_zrange_spec_init(&spec);
		rc = kv_zrange(cur_handle, key, klen, &spec, &elems);
		break;
	default:
		rc = kv_lrange(cur_handle, key, klen, 0, -1, &elems);
		break;
	}
	if (rc != KV_OK)
		return rc;
	for (size_t i = 0; i + step <= elems.n; i += step) {
		if (i)
			putchar(',');
		hex(elems.bytes.data + elems.v[i].off, elems.v[i].len);
		if (type == KV_T_HASH) {
			putchar(':');
			hex(elems.bytes.data + elems.v[i + 1].off, elems.v[i + 1].len);
		} else if (type == KV_T_ZSET) {
			printf(":%.17g", elems.v[i].score);
		}
	}
	return KV_OK;
}

static int print_key(void *ctx, const void *key, size_t klen, const void *val, size_t vlen,
                     int type, int64_t expires_at)
{
	(void)ctx;
	printf("%s\t", cur_ns);
	hex(key, klen);
	printf("\t%d\t", type);
	if (with_elems && type >= KV_T_HASH && type <= KV_T_LIST) {
		int rc = print_elems(key, klen, type);

		if (rc != KV_OK) {
			fprintf(stderr, "skvdump: elements of a key of kind %d: %s\n", type, kv_strerror(rc));
			return 1;
		}
	} else {
		hex(val, vlen);
	}
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

	if (argc == 3 && argv[1][0] == '-' && argv[1][1] == 'c' && argv[1][2] == '\0') {
		with_elems = 1;
		argv++;
		argc--;
	}
	if (argc != 2) {
		fprintf(stderr, "usage: skvdump [-c] FILE\n");
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
		cur_handle = ns;
		do {
			if ((rc = kv_scan(ns, &cursor, &opts, print_key, NULL)) != KV_OK) {
				fprintf(stderr, "skvdump: scan %s: %s\n", list[i].name, kv_strerror(rc));
				return 1;
			}
		} while (cursor != 0);
		kv_ns_close(ns);
	}
	free(list);
	kv_elems_free(env, &elems);
	kv_env_close(env);
	return 0;
}
