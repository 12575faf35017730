/*
 * fuzz_snapshot.c -- libFuzzer target for the snapshot loader (kv_load).
 *
 * Each input is loaded twice: as it is, and after recomputing every checksum
 * the documented format has (header, blocks, trailer; see the top of
 * engine/snapshot.c), so that mutations get past the checksums and reach the
 * loader's length, count and limit validation.  For each load:
 *   - the status is KV_OK or one of the loader's documented errors, and
 *     kv_error is filled (code, NUL-terminated message);
 *   - a refused file changes nothing: the sentinel namespace keeps its key and
 *     no other namespace appears;
 *   - a loaded file gives namespaces whose scans agree with their key counts,
 *     and that save and load again.
 * Crashes, sanitizer reports, leaks and huge allocations are the findings.
 *
 * Build: make build/fuzz/fuzz_snapshot   Run: make fuzz (see tests/fuzz/README.md)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "kv.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static kv_env *env;
static int in_fd = -1;
static char in_path[256];
static char out_path[256];

static void die(const char *what, int rc)
{
	fprintf(stderr, "fuzz_snapshot: %s (%d: %s)\n", what, rc, kv_strerror(rc));
	abort();
}

static void make_sentinel(void)
{
	int rc = kv_ns_create(env, "sentinel", NULL);
	if (rc != KV_OK && rc != KV_ENSEXISTS)
		die("create sentinel", rc);
	kv_ns *ns;
	if ((rc = kv_ns_open(env, "sentinel", &ns)) != KV_OK)
		die("open sentinel", rc);
	kv_ns_flush(ns);
	if ((rc = kv_set(ns, "s", 1, "intact", 6, KV_T_TEXT, KV_EXPIRE_NEVER, 0, NULL)) != KV_OK)
		die("set sentinel", rc);
	kv_ns_close(ns);
}

static void remove_files(void)
{
	unlink(in_path);
	unlink(out_path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	kv_config cfg;
	kv_config_init(&cfg);
	cfg.memory = 256 << 20;
	cfg.max_namespaces = 64;
	int rc = kv_env_open(&cfg, &env);
	if (rc != KV_OK)
		die("kv_env_open", rc);
	make_sentinel();
	/* a regular file: the engine refuses links such as /proc/self/fd/N */
	const char *tmp = getenv("TMPDIR");
	if (!tmp || !*tmp)
		tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(in_path, sizeof in_path, "%.200s/fuzz-snapshot-in-XXXXXX", tmp);
	in_fd = mkstemp(in_path);
	if (in_fd < 0) {
		perror("mkstemp");
		abort();
	}
	snprintf(out_path, sizeof out_path, "%.200s/fuzz-snapshot-%d.snap", tmp, (int)getpid());
	atexit(remove_files);
	return 0;
}

static int scan_count(void *ctx, const void *k, size_t kl, const void *v, size_t vl, int t,
                      int64_t e)
{
	(void)k, (void)kl, (void)v, (void)vl, (void)t, (void)e;
	(*(uint64_t *)ctx)++;
	return 0;
}

static void check_intact(void)
{
	kv_ns *ns;
	kv_buf b = KV_BUF_INIT;
	size_t n = 0;
	if (kv_ns_open(env, "sentinel", &ns) != KV_OK)
		die("sentinel gone after a refused load", 0);
	if (kv_get(ns, "s", 1, &b) != KV_OK || b.len != 6 || memcmp(b.data, "intact", 6) != 0)
		die("sentinel changed by a refused load", 0);
	kv_buf_free(env, &b);
	kv_ns_close(ns);
	kv_ns_list(env, NULL, 0, &n);
	if (n != 1)
		die("a refused load created a namespace", (int)n);
}

static void check_loaded(void)
{
	kv_ns_stats list[64];
	size_t n = 0;
	kv_error err;
	int rc = kv_ns_list(env, list, 64, &n);
	if (rc != KV_OK)
		die("kv_ns_list", rc);
	for (size_t i = 0; i < n && i < 64; i++) {
		kv_ns *ns;
		if (kv_ns_open(env, list[i].name, &ns) != KV_OK)
			die("open a loaded namespace", 0);
		uint64_t seen = 0, cur = 0;
		kv_scan_opts o;
		memset(&o, 0, sizeof o);
		o.count = 1000;
		o.values = 1;
		int guard = 0;
		do {
			rc = kv_scan(ns, &cur, &o, scan_count, &seen);
		} while (rc == KV_OK && cur != 0 && ++guard < 1000000);
		if (rc != KV_OK)
			die("scan of a loaded namespace", rc);
		kv_ns_stats st;
		kv_ns_stats_get(ns, &st);
		if (seen > st.keys) /* keys also counts expired keys not yet reclaimed */
			die("scan returned more keys than the namespace holds", (int)seen);
		kv_ns_close(ns);
	}
	/* what was loaded saves, and loads again into an empty store */
	rc = kv_save(env, NULL, out_path, &err);
	if (rc != KV_OK)
		die(err.msg, rc);
	for (int round = 0; round < 2; round++) {
		kv_ns_list(env, list, 64, &n);
		for (size_t i = 0; i < n && i < 64; i++)
			if (round == 1 || strcmp(list[i].name, "sentinel") != 0)
				kv_ns_drop(env, list[i].name);
		if (round == 0) {
			rc = kv_load(env, out_path, NULL, NULL, &err);
			if (rc != KV_OK && rc != KV_ENOMEM)
				die(err.msg, rc);
		}
	}
	unlink(out_path);
	/* back to the sentinel alone */
	make_sentinel();
}

static void load_once(const uint8_t *data, size_t size)
{
	kv_error err;
	if (ftruncate(in_fd, 0) != 0 || pwrite(in_fd, data, size, 0) != (ssize_t)size)
		abort();
	memset(&err, 0x55, sizeof err);
	/* every other input on two build threads (kv_load_threads) */
	int rc = size & 1 ? kv_load_threads(env, NULL, in_path, NULL, NULL, 2, &err)
	                  : kv_load(env, in_path, NULL, NULL, &err);
	switch (rc) {
	case KV_OK:
		check_loaded();
		return;
	case KV_ECORRUPT:
	case KV_EFORMAT:
	case KV_EKEYSIZE:
	case KV_EVALSIZE:
	case KV_EMAXKEYS:
	case KV_EMAXMEM:
	case KV_ENOMEM:
	case KV_EINVAL:
	case KV_ESHARDS:
	case KV_ENSNAME:
	case KV_ETOOMANYNS:
		break;
	default:
		die("kv_load returned an undocumented status", rc);
	}
	if (err.code != rc || memchr(err.msg, 0, sizeof err.msg) == NULL || err.msg[0] == 0)
		die("kv_error not filled", rc);
	check_intact();
}

/* Recompute the documented checksums: header, each block, the trailer (version
 * 3: XXH3 of the file header and the block headers before it; 1 and 2: of
 * every byte before the trailer block). */
static void fixup(uint8_t *b, size_t n)
{
	if (n < 32)
		return;
	uint32_t h = (uint32_t)XXH3_64bits(b, 28), ver;
	memcpy(b + 28, &h, 4);
	memcpy(&ver, b + 8, 4);
	XXH3_state_t hs;
	XXH3_64bits_reset(&hs);
	XXH3_64bits_update(&hs, b, 32);
	size_t off = 32;
	uint64_t blocks = 0;
	while (off + 16 <= n) {
		uint32_t kind, len;
		memcpy(&kind, b + off, 4);
		memcpy(&len, b + off + 4, 4);
		if (len > n - off - 16)
			return;
		if (kind == 'T' && len >= 16) {
			memcpy(b + off + 16, &blocks, 8);
			uint64_t all = ver >= 3 ? XXH3_64bits_digest(&hs) : XXH3_64bits(b, off);
			memcpy(b + off + 24, &all, 8);
		}
		uint64_t c = XXH3_64bits(b + off + 16, len);
		memcpy(b + off + 8, &c, 8);
		XXH3_64bits_update(&hs, b + off, 16);
		off += 16 + (size_t)len;
		blocks++;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > (4u << 20))
		return 0;
	load_once(data, size);
	uint8_t *copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	fixup(copy, size);
	if (size == 0 || memcmp(copy, data, size) != 0)
		load_once(copy, size);
	free(copy);
	return 0;
}
