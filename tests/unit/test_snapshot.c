/*
 * test_snapshot.c -- kv_save / kv_load (issue 3).
 *
 *  - round trip of every value type, binary keys, TTLs and every config field,
 *    for one namespace and for all, under another name, from mode (a) to (b);
 *  - load into a live namespace (keeps its config, replaces its keys); keys
 *    expired at load time are dropped; limits of the live namespace refuse a
 *    file that does not fit, leaving it untouched;
 *  - every corruption class refused with the live store untouched: truncation
 *    at every offset, every byte flipped, wrong magic and version, trailing
 *    garbage, and lying lengths and counts *with every checksum recomputed*
 *    (using the format documented at the top of engine/snapshot.c), so that the
 *    loader's own validation is what refuses them;
 *  - kill -9 of a process in the middle of saves leaves the old file loadable;
 *  - snapshots taken while all-or-nothing batches run see all of each or none;
 *  - autosave rules through kv_tick, the dirty counter and the last save time;
 *  - a failing allocator during save and load;
 *  - file safety: links at temp names and at the file, FIFOs, devices and
 *    directories refused without blocking, kv_save_at/kv_load_at confinement,
 *    over-long paths;
 *  - one-namespace saves keep the file's other namespaces (also under
 *    concurrent savers), corrupt files are left alone;
 *  - SHARDKV_FAULT_IO: every op fails the save with its errno, old file intact;
 *  - the save's bounded steps: no shard-sized copy, marks cleared, a cut of one
 *    big shard under all-or-nothing batches.
 *
 * `test_snapshot --write-corpus DIR` writes seed snapshots for the fuzzer.
 */
#include <dirent.h>
#include <endian.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "test.h"

#define HOUR_MS 3600000LL

static char dir[256];

static const char *path_of(const char *name)
{
	static _Thread_local char p[4][512];
	static _Thread_local int i;
	i = (i + 1) % 4;
	snprintf(p[i], sizeof p[i], "%s/%s", dir, name);
	return p[i];
}


static void rm_dir_contents(const char *d)
{
	DIR *dd = opendir(d);
	struct dirent *e;
	if (!dd)
		return;
	while ((e = readdir(dd)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		char p[600];
		snprintf(p, sizeof p, "%s/%s", d, e->d_name);
		unlink(p);
	}
	closedir(dd);
}

static int count_dir(const char *d)
{
	DIR *dd = opendir(d);
	struct dirent *e;
	int n = 0;
	if (!dd)
		return -1;
	while ((e = readdir(dd)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(dd);
	return n;
}

/* Is there a file whose name starts with prefix in d? */
static int has_prefix_in(const char *d, const char *prefix)
{
	DIR *dd = opendir(d);
	struct dirent *e;
	int found = 0;
	if (!dd)
		return 0;
	while ((e = readdir(dd)) != NULL)
		if (strncmp(e->d_name, prefix, strlen(prefix)) == 0)
			found = 1;
	closedir(dd);
	return found;
}

static int set_s(kv_ns *ns, const char *k, const char *v)
{
	return kv_set(ns, k, strlen(k), v, strlen(v), KV_T_TEXT, KV_EXPIRE_NEVER, 0, NULL);
}

static int val_is(kv_env *env, kv_ns *ns, const char *k, const char *v)
{
	kv_buf b = KV_BUF_INIT;
	int ok = kv_get(ns, k, strlen(k), &b) == KV_OK && t_buf_is(&b, v, strlen(v));
	kv_buf_free(env, &b);
	return ok;
}

static kv_ns *open_ns(kv_env *env, const char *name)
{
	kv_ns *ns = NULL;
	if (kv_ns_open(env, name, &ns) != KV_OK)
		return NULL;
	return ns;
}

static int ns_exists(kv_env *env, const char *name)
{
	kv_ns *ns = open_ns(env, name);
	if (ns)
		kv_ns_close(ns);
	return ns != NULL;
}

/* ------------------------------------------------ a namespace with every kind of entry */

typedef struct {
	char key[80];
	size_t klen;
	char *val;
	size_t vlen;
	int type;
	int64_t exp;
} entry;

#define NENT 300
static entry ents[NENT];
static int nents;

static void make_entries(int64_t far)
{
	static const int types[] = {KV_T_BYTES, KV_T_TEXT, KV_T_INT, KV_T_REAL, KV_T_JSON, KV_T_NULL,
	                            64, 200, 255};
	nents = 0;
	for (int i = 0; i < NENT; i++) {
		entry *e = &ents[nents++];
		free(e->val);
		e->klen = (size_t)snprintf(e->key, sizeof e->key, "key:%d", i);
		if (i % 10 == 3) { /* binary key */
			e->key[1] = 0;
			e->key[e->klen++] = (char)0xff;
		}
		if (i == 7)
			e->klen = 1;
		if (i == 8) /* the empty key */
			e->klen = 0;
		e->type = types[i % 9];
		e->vlen = e->type == KV_T_NULL ? 0 : i == 10 ? 90000 : (size_t)(i * 13 % 200);
		e->val = malloc(e->vlen + 32);
		for (size_t j = 0; j < e->vlen; j++)
			e->val[j] = (char)(j * 31 + (size_t)i);
		if (e->type == KV_T_INT)
			e->vlen = (size_t)snprintf(e->val, 32, "%d", -i * 1000);
		e->exp = i % 4 == 0 ? far + i : 0;
	}
}

static void fill(kv_ns *ns)
{
	for (int i = 0; i < nents; i++)
		EOK(kv_set(ns, ents[i].key, ents[i].klen, ents[i].val, ents[i].vlen, ents[i].type,
		           ents[i].exp ? ents[i].exp : KV_EXPIRE_NEVER, 0, NULL));
}

/* Every entry present and exact; the namespace holds nothing else. */
static int same_entries(kv_env *env, kv_ns *ns)
{
	kv_buf b = KV_BUF_INIT;
	int bad = 0;
	for (int i = 0; i < nents; i++) {
		entry *e = &ents[i];
		int rc = kv_get(ns, e->key, e->klen, &b);
		if (rc != KV_OK || !t_buf_is(&b, e->val, e->vlen) || b.type != e->type || b.expires_at != e->exp) {
			if (bad++ < 3)
				fprintf(stderr, "    entry %d: rc %s len %zu/%zu type %d/%d exp %lld/%lld\n", i,
				        t_code_name(rc), b.len, e->vlen, b.type, e->type, (long long)b.expires_at,
				        (long long)e->exp);
		}
	}
	kv_ns_stats st;
	if (kv_ns_stats_get(ns, &st) != KV_OK || st.keys != (uint64_t)nents) {
		fprintf(stderr, "    namespace holds %llu keys, want %d\n", (unsigned long long)st.keys, nents);
		bad++;
	}
	kv_buf_free(env, &b);
	return bad == 0;
}

static kv_ns_config rt_config(void)
{
	kv_ns_config c;
	kv_ns_config_init(&c);
	c.shards = 7;
	c.max_keys = 5000;
	c.max_memory = 64 << 20;
	c.default_ttl_ms = 12345;
	c.max_key_size = 300;
	c.max_value_size = 100000;
	c.eviction = KV_EVICT_VOLATILE_TTL;
	return c;
}

static int same_config(const kv_ns_config *a, const kv_ns_config *b)
{
	return a->shards == b->shards && a->max_keys == b->max_keys && a->max_memory == b->max_memory &&
	       a->default_ttl_ms == b->default_ttl_ms && a->max_key_size == b->max_key_size &&
	       a->max_value_size == b->max_value_size && a->eviction == b->eviction;
}

static void test_round_trip(void)
{
	kv_env *env = t_env(256 << 20);
	if (!env)
		return;
	kv_error err;
	int64_t far = kv_now_ms() + 10 * HOUR_MS;
	make_entries(far);
	kv_ns_config rc = rt_config();

	TEST("round trip of one namespace: every type, binary and empty keys, TTLs, every config field")
	{
		kv_ns *ns = t_ns(env, "rt", &rc);
		if (ns) {
			fill(ns);
			memset(&err, 0, sizeof err);
			EOK(kv_save(env, "rt", path_of("one.snap"), &err));
			E(count_dir(dir) == 1); /* no temp file left behind */
			EOK(kv_ns_drop(env, "rt"));
			EOK(kv_load(env, path_of("one.snap"), NULL, NULL, &err));
			kv_ns_stats st;
			if (EOK(kv_ns_stats_get(ns, &st))) /* the old handle follows the name */
				E(same_config(&st.config, &rc));
			E(same_entries(env, ns));
			kv_ns_close(ns);
		}
	}

	TEST("save all, load all / one / one under another name")
	{
		kv_ns *a = open_ns(env, "rt");
		kv_ns *b = t_ns(env, "second", NULL);
		if (a && b) {
			EOK(set_s(b, "only-in-second", "2"));
			EOK(kv_save(env, NULL, path_of("all.snap"), &err));
			EOK(kv_ns_drop(env, "rt"));
			EOK(kv_ns_drop(env, "second"));
			/* only one */
			EOK(kv_load(env, path_of("all.snap"), "second", NULL, &err));
			E(ns_exists(env, "second") && !ns_exists(env, "rt"));
			E(val_is(env, b, "only-in-second", "2"));
			/* under another name */
			EOK(kv_load(env, path_of("all.snap"), "rt", "copy", &err));
			E(!ns_exists(env, "rt"));
			kv_ns *cp = open_ns(env, "copy");
			if (E(cp != NULL)) {
				E(same_entries(env, cp));
				kv_ns_stats st;
				EOK(kv_ns_stats_get(cp, &st));
				E(same_config(&st.config, &rc) && strcmp(st.name, "copy") == 0);
				kv_ns_close(cp);
			}
			/* all */
			EOK(kv_ns_drop(env, "second"));
			EOK(kv_load(env, path_of("all.snap"), NULL, NULL, &err));
			E(same_entries(env, a));
			E(val_is(env, b, "only-in-second", "2"));
			size_t n = 0;
			EOK(kv_ns_list(env, NULL, 0, &n));
			E(n == 3); /* rt, second, copy */
			/* errors */
			ERC(kv_load(env, path_of("all.snap"), "not-in-file", NULL, &err), KV_ENONS);
			ERC(kv_load(env, path_of("all.snap"), NULL, "copy2", &err), KV_EINVAL);
			ERC(kv_save(env, "no-such-ns", path_of("x.snap"), &err), KV_ENONS);
			E(access(path_of("x.snap"), F_OK) != 0);
		}
		if (a)
			kv_ns_close(a);
		if (b)
			kv_ns_close(b);
	}

	TEST("load into a live namespace keeps its config and replaces its keys")
	{
		kv_ns_config lc;
		kv_ns_config_init(&lc);
		lc.shards = 3;
		lc.max_keys = 100000;
		kv_ns *l = t_ns(env, "live", &lc);
		if (l) {
			EOK(set_s(l, "old-key", "old"));
			EOK(kv_load(env, path_of("one.snap"), "rt", "live", &err));
			ERC(kv_exists(l, K("old-key")), KV_NOTFOUND);
			E(same_entries(env, l));
			kv_ns_stats st;
			EOK(kv_ns_stats_get(l, &st));
			E(st.config.shards == 3 && st.config.max_keys == 100000 &&
			  st.config.eviction == KV_EVICT_NONE);
		}
		if (l)
			kv_ns_close(l);
	}

	TEST("a live namespace whose limits the file exceeds refuses it and stays as it was")
	{
		struct {
			const char *name;
			int code;
		} cases[] = {{"small-keys", KV_EMAXKEYS}, {"small-mem", KV_EMAXMEM},
		             {"short-keys", KV_EKEYSIZE}, {"short-vals", KV_EVALSIZE}};
		for (int i = 0; i < 4; i++) {
			kv_ns_config lc;
			kv_ns_config_init(&lc);
			if (i == 0)
				lc.max_keys = NENT - 1;
			if (i == 1)
				lc.max_memory = 64 << 10;
			if (i == 2)
				lc.max_key_size = 6;
			if (i == 3)
				lc.max_value_size = 1000;
			kv_ns *l = t_ns(env, cases[i].name, &lc);
			if (!l)
				continue;
			EOK(set_s(l, "mine", "kept"));
			memset(&err, 0, sizeof err);
			int r = kv_load(env, path_of("one.snap"), "rt", cases[i].name, &err);
			if (!E(R(r) == cases[i].code))
				fprintf(stderr, "    case %s\n", cases[i].name);
			E(err.code == r && err.msg[0]);
			E(val_is(env, l, "mine", "kept"));
			kv_ns_stats st;
			EOK(kv_ns_stats_get(l, &st));
			E(st.keys == 1);
			kv_ns_close(l);
		}
	}

	TEST("keys already expired at load time are dropped")
	{
		kv_ns *e = t_ns(env, "soon", NULL);
		if (e) {
			int64_t soon = kv_now_ms() + 300;
			EOK(kv_set(e, K("dies"), K("v"), KV_T_TEXT, soon, 0, NULL));
			EOK(kv_set(e, K("lives"), K("v"), KV_T_TEXT, far, 0, NULL));
			EOK(kv_save(env, "soon", path_of("soon.snap"), &err));
			EOK(kv_ns_drop(env, "soon"));
			t_sleep_until(soon);
			EOK(kv_load(env, path_of("soon.snap"), NULL, NULL, &err));
			ERC(kv_exists(e, K("dies")), KV_NOTFOUND);
			EOK(kv_exists(e, K("lives")));
			kv_ns_stats st;
			EOK(kv_ns_stats_get(e, &st));
			E(st.keys == 1);
			kv_ns_close(e);
		}
	}

	TEST("an empty namespace and an empty store round trip")
	{
		kv_ns_config ec;
		kv_ns_config_init(&ec);
		ec.shards = 5;
		ec.max_keys = 42;
		EOK(kv_ns_create(env, "empty-ns", &ec));
		EOK(kv_save(env, "empty-ns", path_of("empty-ns.snap"), &err));
		EOK(kv_ns_drop(env, "empty-ns"));
		EOK(kv_load(env, path_of("empty-ns.snap"), NULL, NULL, &err));
		kv_ns *e = open_ns(env, "empty-ns");
		if (E(e != NULL)) {
			kv_ns_stats st;
			EOK(kv_ns_stats_get(e, &st));
			E(st.keys == 0 && st.config.shards == 5 && st.config.max_keys == 42);
			kv_ns_close(e);
		}
		kv_env *env0 = t_env(16 << 20);
		if (env0) {
			EOK(kv_save(env0, NULL, path_of("nothing.snap"), &err));
			size_t before = 0, after = 0;
			EOK(kv_ns_list(env, NULL, 0, &before));
			EOK(kv_load(env, path_of("nothing.snap"), NULL, NULL, &err));
			EOK(kv_ns_list(env, NULL, 0, &after));
			E(before == after);
			ERC(kv_load(env, path_of("nothing.snap"), "rt", NULL, &err), KV_ENONS);
			kv_env_close(env0);
		}
	}

	TEST("I/O errors name errno; a save replaces the old file whole")
	{
		memset(&err, 0, sizeof err);
		ERC(kv_save(env, "rt", "/nonexistent-dir-shardkv/x.snap", &err), KV_EIO);
		E(err.code == KV_EIO && err.sys_errno == ENOENT && err.msg[0]);
		memset(&err, 0, sizeof err);
		ERC(kv_load(env, path_of("missing.snap"), NULL, NULL, &err), KV_EIO);
		E(err.code == KV_EIO && err.sys_errno == ENOENT);
		kv_ns *s = t_ns(env, "over", NULL);
		if (s) {
			EOK(set_s(s, "v", "1"));
			EOK(kv_save(env, "over", path_of("over.snap"), &err));
			EOK(set_s(s, "v", "2"));
			EOK(kv_save(env, "over", path_of("over.snap"), &err));
			EOK(set_s(s, "v", "3"));
			EOK(kv_load(env, path_of("over.snap"), NULL, NULL, &err));
			E(val_is(env, s, "v", "2"));
			kv_ns_close(s);
		}
		unlink(path_of("over.snap"));
	}

	TEST("a snapshot of a mode (a) store loads into a mode (b) store")
	{
		size_t sz = 64 << 20;
		void *region = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		kv_config cfg;
		kv_env *env2 = NULL;
		kv_config_init(&cfg);
		cfg.region = region;
		cfg.region_size = sz;
		cfg.max_namespaces = 8;
		if (E(region != MAP_FAILED) && EOK(kv_env_open(&cfg, &env2))) {
			EOK(kv_load(env2, path_of("one.snap"), NULL, NULL, &err));
			kv_ns *ns = open_ns(env2, "rt");
			if (E(ns != NULL)) {
				E(same_entries(env2, ns));
				kv_ns_close(ns);
			}
			kv_env_close(env2);
		}
		if (region != MAP_FAILED)
			munmap(region, sz);
	}
	kv_env_close(env);
}

/* ------------------------------------------------ corruption */

typedef struct {
	size_t off, len; /* block start, payload length */
	uint32_t kind;
} blk;

static blk blocks[4096];
static int nblocks;
/* What the trailer's hash covers, found on a pristine file: 0 every byte before the
 * trailer block (the documented "every byte before it"), 1 the file header and
 * every block header before it, 2 every byte before the hash field. */
static int trailer_mode;

static uint32_t rd32(const unsigned char *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}
static uint64_t rd64(const unsigned char *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}
static void wr32(unsigned char *p, uint32_t v)
{
	memcpy(p, &v, 4);
}
static void wr64(unsigned char *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

#define HDR 32
#define BH  16

/* Split a snapshot into blocks (documented format); 0 on success. */
static int parse(const unsigned char *b, size_t n)
{
	nblocks = 0;
	if (n < HDR)
		return -1;
	size_t off = HDR;
	while (off + BH <= n && nblocks < 4096) {
		uint32_t len = rd32(b + off + 4);
		if (off + BH + len > n)
			return -1;
		blocks[nblocks].off = off;
		blocks[nblocks].len = len;
		blocks[nblocks].kind = rd32(b + off);
		nblocks++;
		off += BH + len;
	}
	return off == n ? 0 : -1;
}

/* The trailer hash for a trailer that is block tb of the current parse. */
static uint64_t trailer_hash(const unsigned char *b, int tb)
{
	if (trailer_mode == 0)
		return XXH3_64bits(b, blocks[tb].off);
	if (trailer_mode == 2)
		return XXH3_64bits(b, blocks[tb].off + BH + 8);
	XXH3_state_t *st = XXH3_createState();
	XXH3_64bits_reset(st);
	XXH3_64bits_update(st, b, HDR);
	for (int i = 0; i < tb; i++)
		XXH3_64bits_update(st, b + blocks[i].off, BH);
	uint64_t h = XXH3_64bits_digest(st);
	XXH3_freeState(st);
	return h;
}

/* Recompute every checksum and the trailer's block count after an edit. */
static void fixup(unsigned char *b, size_t n)
{
	if (n >= HDR)
		wr32(b + 28, (uint32_t)XXH3_64bits(b, 28));
	if (parse(b, n) != 0)
		return;
	for (int i = 0; i < nblocks; i++) {
		blk *k = &blocks[i];
		if (k->kind == 'T' && k->len >= 16) {
			wr64(b + k->off + BH, (uint64_t)i);
			wr64(b + k->off + BH + 8, trailer_hash(b, i));
		}
		wr64(b + k->off + 8, XXH3_64bits(b + k->off + BH, k->len));
	}
}

static kv_env *cenv;
static int corrupt_checks, corrupt_fail;

/* Load the bytes; it must be refused with one of the allowed codes and change nothing. */
static void expect_refused(const unsigned char *b, size_t n, const char *what, long where,
                           const int *allowed)
{
	kv_error err;
	memset(&err, 0, sizeof err);
	t_write_file(path_of("bad.snap"), b, n);
	int rc = kv_load(cenv, path_of("bad.snap"), NULL, NULL, &err);
	int ok = 0;
	for (int i = 0; allowed[i]; i++)
		ok |= rc == allowed[i];
	corrupt_checks++;
	if (!ok || err.code != rc || !err.msg[0]) {
		if (corrupt_fail++ < 12)
			fprintf(stderr, "    %s at %ld: load returned %s (msg '%s')\n", what, where,
			        t_code_name(rc), err.msg);
		t_check(0, "corrupt file refused with a clear error", __FILE__, __LINE__);
	}
	/* the live store is untouched: "live" intact, the file's namespaces not created */
	static int probe;
	if (++probe % 7 == 0 || !ok) {
		kv_ns *l = open_ns(cenv, "live");
		size_t nns = 0;
		kv_ns_list(cenv, NULL, 0, &nns);
		int intact = l && val_is(cenv, l, "marker", "untouched") && nns == 1;
		if (l) {
			kv_ns_stats st;
			intact = intact && kv_ns_stats_get(l, &st) == KV_OK && st.keys == 2;
			kv_ns_close(l);
		}
		if (!intact) {
			if (corrupt_fail++ < 12)
				fprintf(stderr, "    %s at %ld: the live store changed (%zu namespaces)\n", what,
				        where, nns);
			t_check(0, "live store untouched by a refused load", __FILE__, __LINE__);
			/* restore for the next case */
			size_t cap = 16;
			kv_ns_stats list[16];
			kv_ns_list(cenv, list, cap, &nns);
			for (size_t i = 0; i < nns && i < cap; i++)
				if (strcmp(list[i].name, "live") != 0)
					kv_ns_drop(cenv, list[i].name);
		}
	}
}

static const int REFUSED[] = {KV_ECORRUPT, KV_EFORMAT, 0};
static const int REFUSED_ANY[] = {KV_ECORRUPT, KV_EFORMAT, KV_EKEYSIZE, KV_EVALSIZE, KV_EINVAL,
                                  KV_ESHARDS, KV_ENSNAME, 0};

static void test_corruption(void)
{
	cenv = t_env(128 << 20);
	if (!cenv)
		return;
	kv_error err;
	unsigned char *good = NULL;
	size_t n = 0;

	/* the file: two namespaces, binary keys, TTLs, several value sizes */
	{
		kv_ns *a = t_ns(cenv, "alpha", NULL), *b = t_ns(cenv, "beta", NULL);
		if (!a || !b)
			return;
		int64_t far = kv_now_ms() + 10 * HOUR_MS;
		for (int i = 0; i < 40; i++) {
			char k[32], v[64];
			int kl = snprintf(k, sizeof k, "k\001%d", i);
			int vl = snprintf(v, sizeof v, "value-%d-%.*s", i, i % 30, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
			EOK(kv_set(i % 2 ? a : b, k, (size_t)kl, v, (size_t)vl, i % 6,
			           i % 3 ? KV_EXPIRE_NEVER : far + i, 0, NULL));
		}
		EOK(kv_save(cenv, NULL, path_of("good.snap"), &err));
		kv_ns_close(a);
		kv_ns_close(b);
		EOK(kv_ns_drop(cenv, "alpha"));
		EOK(kv_ns_drop(cenv, "beta"));
		kv_ns *l = t_ns(cenv, "live", NULL);
		if (!l)
			return;
		EOK(set_s(l, "marker", "untouched"));
		EOK(set_s(l, "k\001" "1", "mine"));
		kv_ns_close(l);
		good = t_read_file(path_of("good.snap"), &n);
	}
	if (!E(good != NULL && n > HDR))
		return;
	unsigned char *b = malloc(n + 64);

	TEST("the documented format parses; fixed-up checksums are accepted (self-check)")
	{
		E(memcmp(good, "SHKVSNAP", 8) == 0);
		E(rd32(good + 8) == 3); /* version 3: the trailer hashes the headers; 1 and 2 still load */
		E(parse(good, n) == 0);
		E(nblocks >= 5 && blocks[nblocks - 1].kind == 'T');
		if (nblocks >= 1) {
			blk *t = &blocks[nblocks - 1];
			uint64_t h = rd64(good + t->off + BH + 8);
			static const char *modes[] = {"every byte before the trailer block",
			                              "the header and every block header before it",
			                              "every byte before the hash field"};
			int found = -1;
			for (int m = 0; m < 3 && found < 0; m++) {
				trailer_mode = m;
				if (h == trailer_hash(good, nblocks - 1))
					found = m;
			}
			trailer_mode = found < 0 ? 0 : found;
			if (!E(found >= 0))
				fprintf(stderr, "    the trailer hash covers none of the documented readings tried\n");
			E(rd64(good + t->off + BH) == (uint64_t)(nblocks - 1));
			printf("    %d blocks; the trailer hash covers %s\n", nblocks, modes[trailer_mode]);
		}
		memcpy(b, good, n);
		fixup(b, n);
		E(memcmp(b, good, n) == 0);
		/* and the file loads under another name: the pristine file is fine */
		EOK(kv_load(cenv, path_of("good.snap"), "alpha", "alpha-check", &err));
		EOK(kv_ns_drop(cenv, "alpha-check"));
	}

	/* Every offset, except in TSan's quick run: these loads run on one thread,
	 * so TSan has nothing to find in them that a few offsets would not show
	 * (the plain and ASan runs take every offset). */
#if defined(__SANITIZE_THREAD__)
	size_t every = t_quick() ? 13 : 1;
#else
	size_t every = 1;
#endif
	TEST("truncation at every offset is refused, the live store untouched")
	{
		corrupt_fail = 0;
		for (size_t cut = 0; cut < n; cut += every)
			expect_refused(good, cut, "truncated", (long)cut, REFUSED);
		E(corrupt_fail == 0);
	}

	TEST("every byte flipped (all bits, and the low bit) is refused")
	{
		corrupt_fail = 0;
		for (size_t i = 0; i < n; i += every) {
			memcpy(b, good, n);
			b[i] ^= 0xff;
			expect_refused(b, n, "byte flipped", (long)i, REFUSED);
			memcpy(b, good, n);
			b[i] ^= 0x01;
			expect_refused(b, n, "bit flipped", (long)i, REFUSED);
		}
		E(corrupt_fail == 0);
	}

	TEST("wrong magic, wrong version, empty and foreign files are KV_EFORMAT")
	{
		static const int FORMAT[] = {KV_EFORMAT, 0};
		corrupt_fail = 0;
		memcpy(b, good, n);
		b[0] = 'X';
		expect_refused(b, n, "magic", 0, FORMAT);
		for (uint32_t v = 0; v < 5; v++) {
			if (v >= 1 && v <= 3) /* the three this build reads */
				continue;
			memcpy(b, good, n);
			wr32(b + 8, v);
			fixup(b, n); /* header checksum right: only the version is wrong */
			expect_refused(b, n, "version", (long)v, FORMAT);
		}
		memcpy(b, good, n);
		wr32(b + 8, 0xffffffffu);
		fixup(b, n);
		expect_refused(b, n, "version", -1, FORMAT);
		const char *text = "this is not a snapshot, it is a text file of some length\n";
		expect_refused((const unsigned char *)text, strlen(text), "text file", 0, FORMAT);
		expect_refused(good, 0, "empty file", 0, REFUSED);
		E(corrupt_fail == 0);
	}

	TEST("trailing bytes after the trailer are refused")
	{
		corrupt_fail = 0;
		memcpy(b, good, n);
		memset(b + n, 0, 16);
		expect_refused(b, n + 1, "1 trailing byte", 0, REFUSED);
		expect_refused(b, n + 16, "16 trailing bytes", 0, REFUSED);
		E(corrupt_fail == 0);
	}

	TEST("lying lengths and counts with valid checksums are refused")
	{
		corrupt_fail = 0;
		int e_blk = -1, n_blk = -1, z_blk = -1, t_blk = nblocks - 1;
		parse(good, n);
		for (int i = 0; i < nblocks; i++) {
			if (blocks[i].kind == 'E' && e_blk < 0)
				e_blk = i;
			if (blocks[i].kind == 'N' && n_blk < 0)
				n_blk = i;
			if (blocks[i].kind == 'Z' && z_blk < 0)
				z_blk = i;
		}
		if (E(e_blk >= 0 && n_blk >= 0 && z_blk >= 0)) {
			size_t ep = blocks[e_blk].off + BH; /* first entry of the first E block */
			size_t np = blocks[n_blk].off + BH;
			uint32_t klen = rd32(good + ep), vlen = rd32(good + ep + 4);
			struct {
				const char *what;
				size_t at;
				int width;
				uint64_t v;
			} m[] = {
			    {"entry klen 0", ep, 4, 0},
			    {"entry klen +1", ep, 4, klen + 1},
			    {"entry klen -1", ep, 4, klen - 1},
			    {"entry klen huge", ep, 4, 0xffffffffu},
			    {"entry klen 2^31", ep, 4, 0x80000000u},
			    {"entry klen over the key limit", ep, 4, 65536},
			    {"entry vlen +1", ep + 4, 4, vlen + 1},
			    {"entry vlen huge", ep + 4, 4, 0xfffffff0u},
			    {"entry vlen 2^31", ep + 4, 4, 0x80000000u},
			    {"entry flags unknown bits", ep + 9, 1, 0xfe},
			    {"namespace namelen 0", np, 1, 0},
			    {"namespace namelen 255", np, 1, 255},
			    {"namespace namelen -1", np, 1, good[np] - 1u},
			    {"end-of-namespace count +1", blocks[z_blk].off + BH, 8,
			     rd64(good + blocks[z_blk].off + BH) + 1},
			    {"end-of-namespace count -1", blocks[z_blk].off + BH, 8,
			     rd64(good + blocks[z_blk].off + BH) - 1},
			    {"header namespace count +1", 24, 4, rd32(good + 24) + 1},
			    {"header namespace count 0", 24, 4, 0},
			    {"unknown block kind", blocks[e_blk].off, 4, 'Q'},
			};
			int nm = (int)(sizeof m / sizeof m[0]);
			for (int i = 0; i < nm; i++) {
				memcpy(b, good, n);
				if (m[i].width == 1)
					b[m[i].at] = (unsigned char)m[i].v;
				else if (m[i].width == 4)
					wr32(b + m[i].at, (uint32_t)m[i].v);
				else
					wr64(b + m[i].at, m[i].v);
				fixup(b, n);
				expect_refused(b, n, m[i].what, (long)m[i].at, REFUSED_ANY);
			}
			/* namespace fields: name and shard count and eviction, at their documented places */
			size_t nl = good[np];
			size_t shp = np + 1 + nl, evp = shp + 4 + 8 + 8 + 8 + 4 + 4;
			uint32_t badsh[] = {0, KV_MAX_SHARDS + 1, 0xffffffffu};
			for (int i = 0; i < 3; i++) {
				memcpy(b, good, n);
				wr32(b + shp, badsh[i]);
				fixup(b, n);
				expect_refused(b, n, "namespace shard count", (long)badsh[i], REFUSED_ANY);
			}
			memcpy(b, good, n);
			wr32(b + evp, 99);
			fixup(b, n);
			expect_refused(b, n, "namespace eviction 99", 99, REFUSED_ANY);
			memcpy(b, good, n);
			wr32(b + shp + 4 + 8 + 8 + 8, KV_KEY_SIZE_LIMIT + 1);
			fixup(b, n);
			expect_refused(b, n, "namespace max_key_size", KV_KEY_SIZE_LIMIT + 1, REFUSED_ANY);
			memcpy(b, good, n);
			b[np + 1] = '/';
			fixup(b, n);
			expect_refused(b, n, "namespace name with '/'", 0, REFUSED_ANY);
			/* block lengths that lie (payload checksum recomputed over the lie where possible) */
			uint32_t elen = (uint32_t)blocks[e_blk].len;
			uint32_t lies[] = {elen - 1, elen + 1, elen + 16, 0, 0x7fffffffu, 0xffffffffu};
			for (int i = 0; i < 6; i++) {
				memcpy(b, good, n);
				wr32(b + blocks[e_blk].off + 4, lies[i]);
				if ((size_t)blocks[e_blk].off + BH + lies[i] <= n)
					wr64(b + blocks[e_blk].off + 8,
					     XXH3_64bits(b + blocks[e_blk].off + BH, lies[i]));
				wr64(b + blocks[t_blk].off + BH + 8, trailer_hash(b, t_blk));
				wr64(b + blocks[t_blk].off + 8, XXH3_64bits(b + blocks[t_blk].off + BH, 16));
				expect_refused(b, n, "E block length lies", (long)lies[i], REFUSED_ANY);
			}
			/* whole blocks removed or duplicated, every checksum and count fixed up */
			for (int drop = 0; drop < nblocks - 1; drop++) {
				size_t off = blocks[drop].off, len = BH + blocks[drop].len;
				memcpy(b, good, off);
				memcpy(b + off, good + off + len, n - off - len);
				fixup(b, n - len);
				expect_refused(b, n - len, "block removed", drop, REFUSED_ANY);
			}
			{
				/* trailer's count of blocks lies */
				memcpy(b, good, n);
				fixup(b, n);
				wr64(b + blocks[t_blk].off + BH, (uint64_t)t_blk + 1);
				wr64(b + blocks[t_blk].off + 8, XXH3_64bits(b + blocks[t_blk].off + BH, 16));
				expect_refused(b, n, "trailer block count", t_blk + 1, REFUSED_ANY);
			}
		}
		E(corrupt_fail == 0);
		printf("    %d corrupt files refused\n", corrupt_checks);
	}

	free(b);
	free(good);
	kv_env_close(cenv);
}

/* ------------------------------------------------ kill -9 during save */

static void test_kill_during_save(void)
{
	TEST("kill -9 in the middle of saves leaves the old file loadable")
	{
		int rounds = t_quick() ? 3 : getenv("TEST_STRESS") ? 50 : 8;
		int nkeys = t_quick() ? 30000 : 150000;
		kv_env *env = t_env(256 << 20);
		kv_error err;
		if (env) {
			uint64_t seed = t_seed("kill during save");
			int killed_mid = 0;
			for (int r = 0; r < rounds; r++) {
				int pfd[2];
				if (pipe(pfd) != 0)
					break;
				fflush(NULL);
				pid_t parent = getpid();
				pid_t pid = fork();
				if (pid == 0) {
					/* the child: its own store, saving again and again */
					t_child_begin();
					close(pfd[0]);
					kv_env *ce = t_env(256 << 20);
					kv_ns *ns = ce ? t_ns(ce, "big", NULL) : NULL;
					if (!ns)
						t_child_exit();
					char v[100];
					memset(v, 'b', sizeof v);
					for (int i = 0; i < nkeys; i++) {
						char k[32];
						int kl = snprintf(k, sizeof k, "key:%07d", i);
						kv_set(ns, k, (size_t)kl, v, sizeof v, KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL);
					}
					int gen = 0;
					for (;;) {
						if (getppid() != parent)
							_exit(7); /* the test died: do not outlive it */
						char m[16];
						snprintf(m, sizeof m, "gen%d", gen++);
						set_s(ns, "marker", m);
						kv_error e2;
						if (kv_save(ce, "big", path_of("kill.snap"), &e2) != KV_OK)
							_exit(9);
						if (gen == 1 && write(pfd[1], "x", 1) != 1)
							_exit(8);
					}
				}
				close(pfd[1]);
				char c;
				int got = read(pfd[0], &c, 1) == 1; /* the first save is complete */
				close(pfd[0]);
				if (r % 2) {
					/* at a random moment (between saves, or in one) */
					t_sleep_ms((long)(t_rand(&seed) % 120));
				} else {
					/* while a temp file is being written, however slow a save is
					 * (sanitizers): wait for it, then a random few ms more */
					char tp[64];
					snprintf(tp, sizeof tp, "kill.snap.tmp-%d-", (int)pid);
					for (int w = 0; w < 10000 && !has_prefix_in(dir, tp); w++)
						t_sleep_ms(1);
					t_sleep_ms((long)(t_rand(&seed) % 5));
				}
				kill(pid, SIGKILL);
				int st = 0;
				waitpid(pid, &st, 0);
				if (!E(got && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)) {
					fprintf(stderr, "    child status %d\n", st);
					continue;
				}
				if (count_dir(dir) > 1) {
					killed_mid++; /* a temp file was left: the kill hit a save */
					char tmpname[64];
					snprintf(tmpname, sizeof tmpname, "kill.snap.tmp-%d-", (int)pid);
					if (!E(has_prefix_in(dir, tmpname)))
						fprintf(stderr, "    the leftover is not named <path>.tmp-<pid>-<random>\n");
				}
				int lr = kv_load(env, path_of("kill.snap"), "big", "check", &err);
				if (!E(R(lr) == KV_OK))
					fprintf(stderr, "    round %d: %s\n", r, err.msg);
				kv_ns *ck = open_ns(env, "check");
				if (ck) {
					kv_ns_stats sst;
					EOK(kv_ns_stats_get(ck, &sst));
					E(sst.keys == (uint64_t)nkeys + 1);
					kv_buf mb = KV_BUF_INIT;
					E(kv_get(ck, K("marker"), &mb) == KV_OK && mb.len >= 4 &&
					  memcmp(mb.data, "gen", 3) == 0);
					kv_buf_free(env, &mb);
					kv_ns_close(ck);
					kv_ns_drop(env, "check");
				}
				rm_dir_contents(dir);
			}
			printf("    %d of %d kills landed in the middle of a save\n", killed_mid, rounds);
			E(killed_mid > 0);
			kv_env_close(env);
		}
	}
}

/* ------------------------------------------------ consistent cut under batches */

#define NACCT 32
#define TOTAL 100000
static kv_env *benv;
static kv_ns *bns;
static int bstop;
static char accts[NACCT][24];

static void *batch_writer(void *p)
{
	uint64_t seed = (uint64_t)(uintptr_t)p;
	kv_op ops[NACCT];
	char vals[NACCT][24];
	kv_error err;
	long *bad = calloc(1, sizeof(long));
	while (!T_LOAD(bstop)) {
		int64_t left = TOTAL;
		int rot = (int)(t_rand(&seed) % NACCT); /* a different key order each batch */
		for (int i = 0; i < NACCT; i++) {
			int64_t v = i == NACCT - 1 ? left : (int64_t)(t_rand(&seed) % (uint64_t)(left + 1));
			left -= v;
			int vl = snprintf(vals[i], sizeof vals[i], "%lld", (long long)v);
			memset(&ops[i], 0, sizeof ops[i]);
			ops[i].op = KV_OP_SET;
			ops[i].key = accts[(i + rot) % NACCT];
			ops[i].klen = strlen(ops[i].key);
			ops[i].val = vals[i];
			ops[i].vlen = (size_t)vl;
			ops[i].type = KV_T_INT;
			ops[i].expires_at = KV_EXPIRE_NEVER;
		}
		if (kv_batch(bns, ops, NACCT, KV_BATCH_ALL_OR_NOTHING, NULL, &err) != KV_OK)
			(*bad)++;
		/* some unrelated churn so shards change while the save copies them */
		char k[32];
		int kl = snprintf(k, sizeof k, "noise%d", (int)(t_rand(&seed) % 5000));
		kv_set(bns, k, (size_t)kl, vals[0], strlen(vals[0]), KV_T_TEXT, KV_EXPIRE_NEVER, 0, NULL);
	}
	return bad;
}

/* shards 8: one step per shard; shards 1 with filler keys: the save steps
 * through the shard (snapshot.c, BOUNDED STEPS) while the batches run */
static void test_consistent_cut(const char *name, uint32_t shards, int filler, unsigned threads)
{
	TEST(name)
	{
		int saves = t_quick() ? 3 : getenv("TEST_STRESS") ? 100 : 12;
		benv = t_env(256 << 20);
		kv_ns_config c;
		kv_ns_config_init(&c);
		c.shards = shards;
		bns = benv ? t_ns(benv, "atom", &c) : NULL;
		for (int i = 0; bns && i < filler; i++) {
			char k[32];
			int kl = snprintf(k, sizeof k, "filler:%d", i);
			kv_set(bns, k, (size_t)kl, K("f"), KV_T_TEXT, KV_EXPIRE_NEVER, 0, NULL);
		}
		if (bns) {
			for (int i = 0; i < NACCT; i++) {
				snprintf(accts[i], sizeof accts[i], "acct:%d", i);
				EOK(kv_set(bns, accts[i], strlen(accts[i]), i ? "0" : "100000", i ? 1 : 6, KV_T_INT,
				           KV_EXPIRE_NEVER, 0, NULL));
			}
			T_STORE(bstop, 0);
			pthread_t th[2];
			for (int i = 0; i < 2; i++)
				pthread_create(&th[i], NULL, batch_writer, (void *)(uintptr_t)(i * 77 + 1));
			kv_error err;
			int broken = 0;
			for (int s = 0; s < saves; s++) {
				t_sleep_ms(20);
				int rc = kv_save_threads(benv, "atom", NULL, path_of("cut.snap"), threads, &err);
				if (!E(R(rc) == KV_OK))
					continue;
				if (!EOK(kv_load(benv, path_of("cut.snap"), "atom", "cut", &err)))
					continue;
				kv_ns *cut = open_ns(benv, "cut");
				if (!cut)
					continue;
				int64_t sum = 0;
				int found = 0;
				kv_buf b = KV_BUF_INIT;
				for (int i = 0; i < NACCT; i++)
					if (kv_get(cut, accts[i], strlen(accts[i]), &b) == KV_OK) {
						sum += strtoll(b.data, NULL, 10);
						found++;
					}
				kv_ns_stats cst;
				EOK(kv_ns_stats_get(cut, &cst));
				if (cst.keys < (uint64_t)filler + NACCT) /* the filler is never written: all of it */
					sum = -1;
				if ((sum != TOTAL || found != NACCT) && broken++ < 3)
					fprintf(stderr,
					        "    snapshot %d: %d of %d accounts, summing to %lld; %llu keys in it\n",
					        s, found, NACCT, (long long)sum, (unsigned long long)cst.keys);
				kv_buf_free(benv, &b);
				kv_ns_close(cut);
				EOK(kv_ns_drop(benv, "cut"));
			}
			T_STORE(bstop, 1);
			long bad = 0;
			for (int i = 0; i < 2; i++) {
				void *r;
				pthread_join(th[i], &r);
				bad += *(long *)r;
				free(r);
			}
			E(broken == 0);
			E(bad == 0);
			kv_ns_close(bns);
		}
		if (benv)
			kv_env_close(benv);
	}
}

/* Saves of a shared region while other processes apply all-or-nothing batches. */
static void test_consistent_cut_processes(void)
{
	TEST("mode (b): saves while other processes run all-or-nothing batches are consistent cuts")
	{
		size_t sz = 128 << 20;
		void *region = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		int *flag = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		kv_config cfg;
		kv_config_init(&cfg);
		cfg.region = region;
		cfg.region_size = sz;
		cfg.max_namespaces = 4;
		kv_ns_config c;
		kv_ns_config_init(&c);
		c.shards = 8;
		benv = NULL;
		if (E(region != MAP_FAILED && flag != MAP_FAILED) && EOK(kv_env_open(&cfg, &benv)) &&
		    (bns = t_ns(benv, "mpcut", &c)) != NULL) {
			for (int i = 0; i < NACCT; i++) {
				snprintf(accts[i], sizeof accts[i], "acct:%d", i);
				EOK(kv_set(bns, accts[i], strlen(accts[i]), i ? "0" : "100000", i ? 1 : 6, KV_T_INT,
				           KV_EXPIRE_NEVER, 0, NULL));
			}
			*flag = 0;
			pid_t pids[2], parent = getpid();
			fflush(NULL);
			for (int p = 0; p < 2; p++) {
				pids[p] = fork();
				if (pids[p] == 0) {
					t_child_begin();
					T_STORE(bstop, 0);
					pthread_t w;
					pthread_create(&w, NULL, batch_writer, (void *)(uintptr_t)(p * 991 + 7));
					while (!__atomic_load_n(flag, __ATOMIC_ACQUIRE) && getppid() == parent)
						t_sleep_ms(5);
					T_STORE(bstop, 1);
					void *r;
					pthread_join(w, &r);
					long nbad = *(long *)r;
					free(r);
					_exit(nbad ? 1 : 0);
				}
			}
			kv_env *check = t_env(128 << 20);
			kv_error err;
			int saves = t_quick() ? 3 : 10, broken = 0;
			for (int s = 0; s < saves && check; s++) {
				t_sleep_ms(30);
				if (!EOK(kv_save(benv, "mpcut", path_of("mpcut.snap"), &err)))
					continue;
				if (!EOK(kv_load(check, path_of("mpcut.snap"), NULL, NULL, &err)))
					continue;
				kv_ns *cn = open_ns(check, "mpcut");
				if (!cn)
					continue;
				int64_t sum = 0;
				kv_buf b = KV_BUF_INIT;
				for (int i = 0; i < NACCT; i++)
					if (kv_get(cn, accts[i], strlen(accts[i]), &b) == KV_OK)
						sum += strtoll(b.data, NULL, 10);
				if (sum != TOTAL && broken++ < 3)
					fprintf(stderr, "    save %d: accounts sum to %lld\n", s, (long long)sum);
				kv_buf_free(check, &b);
				kv_ns_close(cn);
			}
			E(broken == 0);
			__atomic_store_n(flag, 1, __ATOMIC_RELEASE);
			int bad_children = 0;
			for (int p = 0; p < 2; p++) {
				int st = 0;
				if (pids[p] > 0 &&
				    (waitpid(pids[p], &st, 0) != pids[p] || !WIFEXITED(st) || WEXITSTATUS(st) != 0))
					bad_children++;
			}
			E(bad_children == 0);
			if (check)
				kv_env_close(check);
			kv_ns_close(bns);
		}
		if (benv)
			kv_env_close(benv);
		if (region != MAP_FAILED)
			munmap(region, sz);
		if (flag != MAP_FAILED)
			munmap(flag, 4096);
	}
}

/* ------------------------------------------------ load while readers run */

static kv_env *lenv;
static kv_ns *lns;
static int lstop;

static void *load_reader(void *p)
{
	long *bad = p;
	kv_buf b = KV_BUF_INIT;
	uint64_t seed = 12345;
	while (!T_LOAD(lstop)) {
		char k[32];
		int kl = snprintf(k, sizeof k, "key:%d", (int)(t_rand(&seed) % 2000));
		int rc = kv_get(lns, k, (size_t)kl, &b);
		/* every key exists before and after: the value is one version, whole */
		if (rc != KV_OK || b.len != 64 || memcmp(b.data, k, (size_t)kl) != 0 ||
		    (b.data[63] != 'A' && b.data[63] != 'B')) {
			if ((*bad)++ < 3)
				fprintf(stderr, "    reader during load: %s len %zu\n", t_code_name(rc), b.len);
			continue;
		}
		for (int i = kl; i < 64; i++)
			if (b.data[i] != b.data[63]) {
				if ((*bad)++ < 3)
					fprintf(stderr, "    reader during load: mixed value\n");
				break;
			}
	}
	kv_buf_free(lenv, &b);
	return NULL;
}

static void test_load_under_readers(void)
{
	TEST("readers of a namespace being loaded see the old or the new value, never nothing")
	{
		kv_env *env = lenv = t_env(256 << 20);
		lns = env ? t_ns(env, "swap", NULL) : NULL;
		if (lns) {
			kv_error err;
			char v[64];
			for (int ver = 0; ver < 2; ver++) {
				for (int i = 0; i < 2000; i++) {
					char k[32];
					int kl = snprintf(k, sizeof k, "key:%d", i);
					memcpy(v, k, (size_t)kl);
					memset(v + kl, ver ? 'B' : 'A', sizeof v - (size_t)kl);
					EOK(kv_set(lns, k, (size_t)kl, v, sizeof v, KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL));
				}
				EOK(kv_save(env, "swap", path_of(ver ? "swapB.snap" : "swapA.snap"), &err));
			}
			T_STORE(lstop, 0);
			long bad[2] = {0, 0};
			pthread_t th[2];
			for (int i = 0; i < 2; i++)
				pthread_create(&th[i], NULL, load_reader, &bad[i]);
			int loads = t_quick() ? 6 : 30;
			for (int i = 0; i < loads; i++)
				EOK(kv_load(env, path_of(i % 2 ? "swapB.snap" : "swapA.snap"), "swap", NULL, &err));
			T_STORE(lstop, 1);
			for (int i = 0; i < 2; i++)
				pthread_join(th[i], NULL);
			E(bad[0] + bad[1] == 0);
			kv_ns_close(lns);
		}
		if (env)
			kv_env_close(env);
	}
}

/* A load of more than KV_ROUTE_SIZE live keys routes them with its own copy
 * of the route table (snapshot.c): each key must land where readers look. */
static void test_load_big_routed(void)
{
	TEST("a load of 70000 keys over 5 shards puts every key where gets and deletes find it")
	{
		kv_env *env = t_env(256 << 20);
		kv_ns_config c;
		kv_ns_config_init(&c);
		c.shards = 5;
		kv_ns *ns = env ? t_ns(env, "big", &c) : NULL;
		if (ns) {
			kv_error err;
			enum { N = 70000 };
			char k[32];
			for (int i = 0; i < N; i++) {
				int kl = snprintf(k, sizeof k, "big:%d", i);
				EOK(kv_set(ns, k, (size_t)kl, k, (size_t)kl, KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL));
			}
			EOK(kv_save(env, "big", path_of("big.snap"), &err));
			EOK(kv_ns_drop(env, "big"));
			EOK(kv_load(env, path_of("big.snap"), NULL, NULL, &err));
			kv_buf b = KV_BUF_INIT;
			int miss = 0;
			for (int i = 0; i < N; i++) {
				int kl = snprintf(k, sizeof k, "big:%d", i);
				if (kv_get(ns, k, (size_t)kl, &b) != KV_OK || b.len != (size_t)kl || memcmp(b.data, k, b.len))
					miss++;
			}
			E(miss == 0);
			/* a write after the load goes to the same shard as the loaded entry */
			EOK(kv_del(ns, "big:12345", 9));
			E(kv_get(ns, "big:12345", 9, &b) == KV_NOTFOUND);
			kv_ns_stats st;
			if (EOK(kv_ns_stats_get(ns, &st)))
				E(st.keys == N - 1);
			kv_buf_free(env, &b);
			kv_ns_close(ns);
		}
		if (env)
			kv_env_close(env);
	}
}

/* ------------------------------------------------ autosave */

static void test_autosave(void)
{
	TEST("autosave rules fire through kv_tick; a full save resets dirty and last_save")
	{
		kv_env *env = t_env(64 << 20);
		kv_ns *ns = env ? t_ns(env, "auto", NULL) : NULL;
		if (ns) {
			kv_tick_info ti;
			kv_error err;
			memset(&ti, 0, sizeof ti);
			EOK(kv_tick(env, 0, &ti));
			E(ti.save_due == 0);
			int64_t t0 = ti.last_save;
			E(t0 > 0 && t0 <= kv_now_ms());
			kv_save_rule rules[] = {{3600, 1}, {0, 5}};
			EOK(kv_autosave_set(env, rules, 2));
			uint64_t d0 = ti.dirty;
			for (int i = 0; i < 4; i++) {
				char k[32];
				snprintf(k, sizeof k, "k%d", i);
				EOK(set_s(ns, k, "v"));
			}
			EOK(kv_tick(env, 0, &ti));
			E(ti.dirty >= d0 + 4);
			E(ti.save_due == 0 || ti.dirty >= 5);
			EOK(set_s(ns, "k4", "v"));
			EOK(set_s(ns, "k5", "v"));
			EOK(kv_tick(env, 0, &ti));
			E(ti.dirty >= 5 && ti.save_due == 1);
			/* saving one namespace is not a full save */
			EOK(kv_save(env, "auto", path_of("auto1.snap"), &err));
			EOK(kv_tick(env, 0, &ti));
			E(ti.save_due == 1 && ti.dirty >= 5);
			int64_t before = kv_now_ms();
			EOK(kv_save(env, NULL, path_of("auto.snap"), &err));
			EOK(kv_tick(env, 0, &ti));
			E(ti.dirty == 0 && ti.save_due == 0);
			E(ti.last_save >= before && ti.last_save <= kv_now_ms());
			/* only the hour rule: never due now */
			EOK(kv_autosave_set(env, rules, 1));
			for (int i = 0; i < 20; i++)
				EOK(set_s(ns, "x", "y"));
			EOK(kv_tick(env, 0, &ti));
			E(ti.save_due == 0 && ti.dirty >= 20);
			/* disabled */
			EOK(kv_autosave_set(env, NULL, 0));
			EOK(kv_tick(env, 0, &ti));
			E(ti.save_due == 0);
			kv_ns_close(ns);
		}
		if (env)
			kv_env_close(env);
	}
}

/* ------------------------------------------------ failing allocator */

static struct {
	long calls, fail_at, live;
} A;

static void *fail_realloc(void *ctx, void *p, size_t n)
{
	(void)ctx;
	if (n == 0) {
		if (p) {
			__atomic_sub_fetch(&A.live, 1, __ATOMIC_RELAXED);
			free(p);
		}
		return NULL;
	}
	long c = __atomic_add_fetch(&A.calls, 1, __ATOMIC_RELAXED);
	if (A.fail_at && c >= A.fail_at)
		return NULL;
	void *q = realloc(p, n);
	if (q && !p)
		__atomic_add_fetch(&A.live, 1, __ATOMIC_RELAXED);
	return q;
}

static void test_failing_alloc(void)
{
	TEST("save and load under a failing allocator: KV_ENOMEM, old file and live data intact, no leak")
	{
		int leaks = 0, runs = 0;
		for (long n = 1; n < 5000; n++) {
			memset(&A, 0, sizeof A);
			kv_config cfg;
			kv_env *env = NULL;
			kv_config_init(&cfg);
			cfg.memory = 32 << 20;
			cfg.mem.xRealloc = fail_realloc;
			if (kv_env_open(&cfg, &env) != KV_OK)
				continue;
			kv_ns *ns = NULL;
			kv_error err;
			int done = 0;
			if (kv_ns_create(env, "fa", NULL) == KV_OK && kv_ns_open(env, "fa", &ns) == KV_OK) {
				for (int i = 0; i < 200; i++) {
					char k[32];
					int kl = snprintf(k, sizeof k, "k%d", i);
					kv_set(ns, k, (size_t)kl, "value", 5, KV_T_TEXT, KV_EXPIRE_NEVER, 0, NULL);
				}
				EOK(set_s(ns, "marker", "old"));
				if (EOK(kv_save(env, "fa", path_of("fa.snap"), &err))) {
					EOK(set_s(ns, "marker", "new"));
					long fail_at = A.calls + n; /* from here on, the nth allocation fails */
					A.fail_at = fail_at;
					int rs = kv_save(env, "fa", path_of("fa.snap"), &err);
					int rl = kv_load(env, path_of("fa.snap"), "fa", NULL, &err);
					long calls = A.calls;
					A.fail_at = 0;
					done = calls < fail_at; /* nothing failed: every allocation was tried */
					E(R(rs) == KV_OK || rs == KV_ENOMEM);
					E(R(rl) == KV_OK || rl == KV_ENOMEM);
					/* the file is one of the two saves, whole */
					kv_ns *chk = NULL;
					if (EOK(kv_load(env, path_of("fa.snap"), "fa", "fa2", &err)) &&
					    EOK(kv_ns_open(env, "fa2", &chk))) {
						E(val_is(env, chk, "marker", rs == KV_OK ? "new" : "old"));
						kv_ns_close(chk);
					}
					/* a failed load changed nothing */
					E(val_is(env, ns, "marker", rl == KV_OK && rs != KV_OK ? "old" : "new"));
				}
				kv_ns_close(ns);
			}
			kv_env_close(env);
			if (A.live != 0 && leaks++ < 3)
				fprintf(stderr, "    fail from allocation %ld on: %ld blocks leaked\n", n, A.live);
			runs++;
			if (done)
				break;
		}
		E(leaks == 0);
		printf("    %d runs\n", runs);
	}
}

/* ------------------------------------------------ seed corpus for the fuzzer */

static int write_corpus(const char *out)
{
	kv_env *env = t_env(64 << 20);
	kv_error err;
	if (!env)
		return 1;
	char p[600];
	int64_t far = kv_now_ms() + 10 * HOUR_MS;
	/* 1: empty store */
	snprintf(p, sizeof p, "%s/empty.snap", out);
	if (kv_save(env, NULL, p, &err) != KV_OK)
		fprintf(stderr, "save: %s\n", err.msg);
	/* 2: one small namespace of each kind of entry */
	kv_ns_config c = rt_config();
	kv_ns *ns = t_ns(env, "seed", &c);
	for (int i = 0; ns && i < 12; i++) {
		char k[32], v[32];
		int kl = snprintf(k, sizeof k, "k%d", i), vl = snprintf(v, sizeof v, "%d", i * 11);
		kv_set(ns, k, (size_t)kl, v, (size_t)vl, i % 6, i % 2 ? far : KV_EXPIRE_NEVER, 0, NULL);
	}
	snprintf(p, sizeof p, "%s/small.snap", out);
	kv_save(env, "seed", p, &err);
	/* 3: two namespaces, binary keys and values */
	kv_ns *b = t_ns(env, "bin.ns:2", NULL);
	for (int i = 0; b && i < 30; i++) {
		char k[8] = {0, (char)i, (char)0xff, 'k', 0}, v[40];
		memset(v, i, sizeof v);
		kv_set(b, k, 4, v, (size_t)i, KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL);
	}
	snprintf(p, sizeof p, "%s/two.snap", out);
	kv_save(env, NULL, p, &err);
	/* 4: an empty namespace */
	kv_ns_create(env, "nothing", NULL);
	snprintf(p, sizeof p, "%s/empty-ns.snap", out);
	kv_save(env, "nothing", p, &err);
	if (ns)
		kv_ns_close(ns);
	if (b)
		kv_ns_close(b);
	kv_env_close(env);
	return 0;
}

/* ------------------------------------------------------------ file safety */
static char fdir[512];

static const char *fpath(const char *name)
{
	static _Thread_local char p[4][1024];
	static _Thread_local int i;
	i = (i + 1) % 4;
	snprintf(p[i], sizeof p[i], "%s/%s", fdir, name);
	return p[i];
}

static void fresh_fdir(void)
{
	char cmd[1200];
	snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", fdir, fdir);
	if (system(cmd) != 0)
		fprintf(stderr, "    could not reset %s\n", fdir);
}

static int file_is(const char *p, const char *content)
{
	size_t n = 0;
	unsigned char *b = t_read_file(p, &n);
	int ok = b && n == strlen(content) && memcmp(b, content, n) == 0;
	free(b);
	return ok;
}

static int msg_has(const kv_error *e, const char *s)
{
	if (strstr(e->msg, s))
		return 1;
	fprintf(stderr, "    message '%s' lacks '%s'\n", e->msg, s);
	return 0;
}

static void test_file_safety(void)
{
	kv_error err;
	snprintf(fdir, sizeof fdir, "%s/files", dir);
	fresh_fdir();
	kv_env *env = t_env(32 << 20);
	kv_ns *ns = env ? t_ns(env, "fs", NULL) : NULL;
	if (!ns)
		return;
	EOK(set_s(ns, "k", "v1"));

	TEST("a link planted at a temp name or at the file never redirects a save")
	{
		fresh_fdir();
		E(t_write_file(fpath("victim"), "precious", 8) == 0);
		/* the old predictable temp name, and the file itself, as links */
		char old_tmp[64];
		snprintf(old_tmp, sizeof old_tmp, "x.snap.tmp-%d", (int)getpid());
		E(symlink(fpath("victim"), fpath(old_tmp)) == 0);
		E(symlink(fpath("victim"), fpath("x.snap")) == 0);
		/* a one-namespace save would read the file to keep its other
		 * namespaces: it refuses the link; a full save replaces the link */
		memset(&err, 0, sizeof err);
		ERC(kv_save(env, "fs", fpath("x.snap"), &err), KV_EIO);
		E(msg_has(&err, "symbolic link"));
		EOK(kv_save(env, NULL, fpath("x.snap"), &err));
		E(file_is(fpath("victim"), "precious"));
		struct stat st;
		E(lstat(fpath("x.snap"), &st) == 0 && S_ISREG(st.st_mode));
		E(lstat(fpath(old_tmp), &st) == 0 && S_ISLNK(st.st_mode));
		EOK(kv_load(env, fpath("x.snap"), "fs", "fs2", &err));
		kv_ns_drop(env, "fs2");
		/* a load never reads through a link */
		E(symlink(fpath("x.snap"), fpath("link.snap")) == 0);
		memset(&err, 0, sizeof err);
		ERC(kv_load(env, fpath("link.snap"), NULL, NULL, &err), KV_EIO);
		E(msg_has(&err, "symbolic link"));
	}

	TEST("loads refuse FIFOs, devices and directories at once, never blocking")
	{
		fresh_fdir();
		E(mkfifo(fpath("fifo"), 0600) == 0);
		int64_t t0 = kv_now_ms();
		memset(&err, 0, sizeof err);
		ERC(kv_load(env, fpath("fifo"), NULL, NULL, &err), KV_EIO);
		E(msg_has(&err, "FIFO") && err.sys_errno == EINVAL);
		memset(&err, 0, sizeof err);
		ERC(kv_load_at(env, fdir, "fifo", NULL, NULL, &err), KV_EIO);
		E(msg_has(&err, "not a regular file"));
		/* a one-namespace save would read the file to keep its namespaces */
		memset(&err, 0, sizeof err);
		ERC(kv_save(env, "fs", fpath("fifo"), &err), KV_EIO);
		E(msg_has(&err, "FIFO"));
		E(kv_now_ms() - t0 < 2000);
		memset(&err, 0, sizeof err);
		ERC(kv_load(env, "/dev/null", NULL, NULL, &err), KV_EIO);
		E(msg_has(&err, "device"));
		E(mkdir(fpath("d.snap"), 0700) == 0);
		memset(&err, 0, sizeof err);
		ERC(kv_load(env, fpath("d.snap"), NULL, NULL, &err), KV_EIO);
		E(msg_has(&err, "directory") && err.sys_errno == EISDIR);
		memset(&err, 0, sizeof err);
		ERC(kv_load(env, fpath("missing"), NULL, NULL, &err), KV_EIO);
		E(err.sys_errno == ENOENT);
	}

	TEST("kv_save_at/kv_load_at confine the name to the directory")
	{
		fresh_fdir();
		E(mkdir(fpath("sub"), 0700) == 0);
		EOK(kv_save_at(env, "fs", fdir, "sub/a.snap", &err));
		E(access(fpath("sub/a.snap"), F_OK) == 0);
		EOK(kv_load_at(env, fdir, "sub/a.snap", "fs", "fs3", &err));
		kv_ns *n3 = open_ns(env, "fs3");
		E(n3 && val_is(env, n3, "k", "v1"));
		if (n3)
			kv_ns_close(n3);
		kv_ns_drop(env, "fs3");
		static const char *bad[] = {"../a.snap", "sub/../a.snap", "/tmp/a.snap", "sub//a.snap",
		                            "sub/", "./a.snap", "sub/.", "", "..", "."};
		for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
			memset(&err, 0, sizeof err);
			if (!E(R(kv_save_at(env, "fs", fdir, bad[i], &err)) == KV_EINVAL && err.msg[0]))
				fprintf(stderr, "    save_at '%s' was not refused\n", bad[i]);
			memset(&err, 0, sizeof err);
			if (!E(R(kv_load_at(env, fdir, bad[i], NULL, NULL, &err)) == KV_EINVAL && err.msg[0]))
				fprintf(stderr, "    load_at '%s' was not refused\n", bad[i]);
		}
		ERC(kv_save_at(env, "fs", NULL, "a.snap", &err), KV_EINVAL);
		ERC(kv_save_at(env, "fs", "", "a.snap", &err), KV_EINVAL);
		ERC(kv_load_at(env, NULL, "a.snap", NULL, NULL, &err), KV_EINVAL);
		/* a symlinked directory on the way is refused, nothing written through it */
		char out[600];
		snprintf(out, sizeof out, "%s/outside", dir);
		mkdir(out, 0700);
		E(symlink(out, fpath("lnk")) == 0);
		memset(&err, 0, sizeof err);
		ERC(kv_save_at(env, "fs", fdir, "lnk/a.snap", &err), KV_EIO);
		E(err.sys_errno == ELOOP && msg_has(&err, "symbolic link"));
		E(count_dir(out) == 0);
		ERC(kv_load_at(env, fdir, "lnk/a.snap", NULL, NULL, &err), KV_EIO);
		rmdir(out);
		/* the file itself as a link: a load refuses it, a save replaces the link */
		E(symlink(fpath("sub/a.snap"), fpath("l.snap")) == 0);
		ERC(kv_load_at(env, fdir, "l.snap", NULL, NULL, &err), KV_EIO);
		/* no temp file is left by any of this */
		E(count_dir(fdir) == 3 && count_dir(fpath("sub")) == 1);
	}

	TEST("over-long paths and names: KV_EINVAL with a short message")
	{
		size_t n = 10000;
		char *lng = malloc(n + 1);
		if (E(lng != NULL)) {
			memset(lng, 'a', n);
			lng[n] = 0;
			memset(&err, 0, sizeof err);
			ERC(kv_save(env, "fs", lng, &err), KV_EINVAL);
			E(strlen(err.msg) < 120 && msg_has(&err, "too long"));
			ERC(kv_load(env, lng, NULL, NULL, &err), KV_EINVAL);
			ERC(kv_save_at(env, "fs", fdir, lng, &err), KV_EINVAL);
			ERC(kv_save_at(env, "fs", lng, "a.snap", &err), KV_EINVAL);
			lng[300] = 0; /* one component over NAME_MAX */
			ERC(kv_save_at(env, "fs", fdir, lng, &err), KV_EINVAL);
			ERC(kv_save(env, "fs", fpath(lng), &err), KV_EINVAL);
			/* a long but valid name still gets a bounded temp name */
			lng[255] = 0;
			EOK(kv_save_at(env, "fs", fdir, lng, &err));
			EOK(kv_load_at(env, fdir, lng, "fs", "fs4", &err));
			kv_ns_drop(env, "fs4");
			free(lng);
		}
	}
	kv_ns_close(ns);
	kv_env_close(env);
	char cmd[1200];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", fdir);
	if (system(cmd) != 0)
		fprintf(stderr, "    could not remove %s\n", fdir);
}

/* ------------------------------------------------------------ save merging */
static kv_env *menv;
static pthread_barrier_t mbar;

/* Each round: all savers start together, each saves its namespace once. */
static void *merge_saver(void *arg)
{
	const char *name = arg;
	kv_error e;
	for (int i = 0; i < 30; i++) {
		pthread_barrier_wait(&mbar);
		if (!E(R(kv_save(menv, name, fpath("shared.snap"), &e)) == KV_OK))
			fprintf(stderr, "    %s: %s\n", name, e.msg);
		pthread_barrier_wait(&mbar); /* the main thread checks the file */
		pthread_barrier_wait(&mbar);
	}
	return NULL;
}

/* The offset of the first block of `kind` in namespace ns of the version 3
 * file f (n bytes), or 0. */
static size_t find_block(const unsigned char *f, size_t n, const char *ns, uint32_t kind)
{
	size_t o = 32, nl = strlen(ns);
	int in = 0;
	while (o + 16 <= n) {
		uint32_t k, len;
		memcpy(&k, f + o, 4);
		memcpy(&len, f + o + 4, 4);
		k = le32toh(k);
		len = le32toh(len);
		if (k == 'N')
			in = o + 17 + nl <= n && f[o + 16] == nl && memcmp(f + o + 17, ns, nl) == 0;
		else if (k == kind && in)
			return o;
		o += 16 + (size_t)len;
	}
	return 0;
}

static void test_merge(void)
{
	kv_error err;
	snprintf(fdir, sizeof fdir, "%s/merge", dir);
	fresh_fdir();
	kv_env *env = t_env(64 << 20);
	kv_ns *a = env ? t_ns(env, "ma", NULL) : NULL;
	kv_ns *b = env ? t_ns(env, "mb", NULL) : NULL;
	if (!a || !b)
		return;

	TEST("saving one namespace keeps the other namespaces of the file")
	{
		EOK(set_s(a, "k", "a1"));
		EOK(set_s(b, "k", "b1"));
		EOK(kv_save(env, "ma", fpath("m.snap"), &err));
		EOK(kv_save(env, "mb", fpath("m.snap"), &err));
		EOK(set_s(a, "k", "a2"));
		EOK(kv_save(env, "ma", fpath("m.snap"), &err)); /* replaces ma, keeps mb */
		EOK(set_s(a, "k", "a3"));
		EOK(set_s(b, "k", "b3"));
		EOK(kv_load(env, fpath("m.snap"), NULL, NULL, &err));
		E(val_is(env, a, "k", "a2") && val_is(env, b, "k", "b1"));
		/* through kv_save_at too, and each namespace exactly once */
		EOK(kv_save_at(env, "mb", fdir, "m.snap", &err));
		kv_env *e2 = t_env(32 << 20);
		if (e2) {
			EOK(kv_load(e2, fpath("m.snap"), NULL, NULL, &err));
			size_t n = 0;
			EOK(kv_ns_list(e2, NULL, 0, &n));
			E(n == 2);
			kv_ns *x = open_ns(e2, "ma"), *y = open_ns(e2, "mb");
			E(x && y && val_is(e2, x, "k", "a2") && val_is(e2, y, "k", "b1"));
			if (x)
				kv_ns_close(x);
			if (y)
				kv_ns_close(y);
			kv_env_close(e2);
		}
	}

	TEST("a corrupt or foreign file is left as it is and the one-namespace save fails")
	{
		size_t n = 0;
		unsigned char *good = t_read_file(fpath("m.snap"), &n);
		if (E(good && n > 100)) {
			good[n / 2] ^= 0x40;
			E(t_write_file(fpath("bad.snap"), good, n) == 0);
			memset(&err, 0, sizeof err);
			ERC(kv_save(env, "ma", fpath("bad.snap"), &err), KV_ECORRUPT);
			E(msg_has(&err, "left as it is"));
			size_t n2 = 0;
			unsigned char *after = t_read_file(fpath("bad.snap"), &n2);
			E(after && n2 == n && memcmp(after, good, n) == 0);
			free(after);
			free(good);
		}
		E(t_write_file(fpath("foreign.snap"), "hello, not a snapshot", 21) == 0);
		memset(&err, 0, sizeof err);
		ERC(kv_save(env, "ma", fpath("foreign.snap"), &err), KV_EFORMAT);
		E(file_is(fpath("foreign.snap"), "hello, not a snapshot"));
		/* an empty file holds nothing to keep */
		E(t_write_file(fpath("empty.snap"), "", 0) == 0);
		EOK(kv_save(env, "ma", fpath("empty.snap"), &err));
		/* a full save is the store's own image: it replaces any file */
		EOK(kv_save(env, NULL, fpath("foreign.snap"), &err));
		EOK(kv_load(env, fpath("foreign.snap"), NULL, NULL, &err));
		E(count_dir(fdir) == 4); /* no temp files */
	}

	TEST("a one-namespace save checks every byte it keeps, not the old copy of the one it replaces")
	{
		EOK(set_s(a, "k", "ka"));
		EOK(set_s(b, "k", "kb"));
		EOK(kv_save(env, "ma", fpath("k.snap"), &err));
		EOK(kv_save(env, "mb", fpath("k.snap"), &err));
		size_t n = 0;
		unsigned char *f = t_read_file(fpath("k.snap"), &n);
		size_t ea = f ? find_block(f, n, "ma", 'E') : 0, eb = f ? find_block(f, n, "mb", 'E') : 0;
		if (E(f && ea && eb)) {
			/* a flipped byte in mb's entries: saving ma would copy it, so it fails */
			f[eb + 16 + 3] ^= 0x10;
			E(t_write_file(fpath("k2.snap"), f, n) == 0);
			memset(&err, 0, sizeof err);
			ERC(kv_save(env, "ma", fpath("k2.snap"), &err), KV_ECORRUPT);
			E(msg_has(&err, "left as it is") && msg_has(&err, "namespace \"mb\": checksum mismatch"));
			size_t n2 = 0;
			unsigned char *after = t_read_file(fpath("k2.snap"), &n2);
			E(after && n2 == n && memcmp(after, f, n) == 0);
			free(after);
			f[eb + 16 + 3] ^= 0x10;
			/* a flipped byte in ma's entries: ma is replaced, its old copy never read */
			f[ea + 16 + 3] ^= 0x10;
			E(t_write_file(fpath("k3.snap"), f, n) == 0);
			EOK(set_s(a, "k", "ka2"));
			EOK(kv_save(env, "ma", fpath("k3.snap"), &err));
			kv_env *e2 = t_env(32 << 20);
			if (e2) {
				EOK(kv_load(e2, fpath("k3.snap"), NULL, NULL, &err));
				kv_ns *x = open_ns(e2, "ma"), *y = open_ns(e2, "mb");
				E(x && y && val_is(e2, x, "k", "ka2") && val_is(e2, y, "k", "kb"));
				if (x)
					kv_ns_close(x);
				if (y)
					kv_ns_close(y);
				kv_env_close(e2);
			}
			/* a block header of ma (hashed by the trailer): the structure fails */
			f[ea + 8] ^= 0x01;
			E(t_write_file(fpath("k4.snap"), f, n) == 0);
			memset(&err, 0, sizeof err);
			ERC(kv_save(env, "ma", fpath("k4.snap"), &err), KV_ECORRUPT);
			E(msg_has(&err, "left as it is"));
			after = t_read_file(fpath("k4.snap"), &n2);
			E(after && n2 == n && memcmp(after, f, n) == 0);
			free(after);
		}
		free(f);
		E(unlink(fpath("k.snap")) == 0 && unlink(fpath("k2.snap")) == 0 && unlink(fpath("k3.snap")) == 0 &&
		  unlink(fpath("k4.snap")) == 0);
	}

	TEST("a full save writes the store's namespaces: a dropped one leaves the file")
	{
		EOK(kv_save(env, NULL, fpath("all.snap"), &err));
		kv_ns *c = t_ns(env, "mc", NULL);
		if (c) {
			EOK(set_s(c, "k", "c"));
			EOK(kv_save(env, "mc", fpath("all.snap"), &err));
			kv_ns_close(c);
			EOK(kv_ns_drop(env, "mc"));
			EOK(kv_save(env, NULL, fpath("all.snap"), &err));
			ERC(kv_load(env, fpath("all.snap"), "mc", NULL, &err), KV_ENONS);
			EOK(kv_load(env, fpath("all.snap"), "mb", NULL, &err));
		}
	}

	TEST("concurrent one-namespace saves into one file lose no namespace")
	{
		menv = env;
		static char names[4][8] = {"c0", "c1", "c2", "c3"};
		for (int i = 0; i < 4; i++) {
			kv_ns *x = t_ns(env, names[i], NULL);
			if (x) {
				EOK(set_s(x, "k", names[i]));
				kv_ns_close(x);
			}
		}
		pthread_t th[4];
		pthread_barrier_init(&mbar, NULL, 5);
		for (int i = 0; i < 4; i++)
			pthread_create(&th[i], NULL, merge_saver, names[i]);
		kv_env *e2 = t_env(32 << 20);
		int lost = 0;
		for (int r = 0; r < 30; r++) {
			unlink(fpath("shared.snap"));
			pthread_barrier_wait(&mbar);
			pthread_barrier_wait(&mbar);
			size_t n = 0;
			for (int i = 0; i < 4 && e2; i++)
				kv_ns_drop(e2, names[i]);
			if (e2 && kv_load(e2, fpath("shared.snap"), NULL, NULL, &err) == KV_OK &&
			    kv_ns_list(e2, NULL, 0, &n) == KV_OK && n != 4)
				lost++;
			pthread_barrier_wait(&mbar);
		}
		for (int i = 0; i < 4; i++)
			pthread_join(th[i], NULL);
		pthread_barrier_destroy(&mbar);
		if (!E(lost == 0))
			fprintf(stderr, "    %d of 30 rounds lost a namespace\n", lost);
		if (e2)
			kv_env_close(e2);
	}
	kv_ns_close(a);
	kv_ns_close(b);
	kv_env_close(env);
}

/* ------------------------------------------------------------ fault seam */
static kv_env *fault_env(const char *spec)
{
	setenv("SHARDKV_FAULT_IO", spec, 1);
	kv_env *env = t_env(32 << 20);
	unsetenv("SHARDKV_FAULT_IO");
	return env;
}

static void test_fault_io(void)
{
	kv_error err;
	snprintf(fdir, sizeof fdir, "%s/fault", dir);
	fresh_fdir();
	static const struct {
		const char *spec;
		int         e;
		int         replaced; /* the new file is in place (dirsync comes after the rename) */
	} cases[] = {
		{"open=EIO", EIO, 0},          {"write=ENOSPC", ENOSPC, 0}, {"write=ENOSPC@1", ENOSPC, 0},
		{"write=ENOSPC@3", ENOSPC, 0}, {"write=EDQUOT@5", EDQUOT, 0}, {"fsync=EIO", EIO, 0},
		{"rename=ENOSPC", ENOSPC, 0},  {"dirsync=EIO", EIO, 1},
		{"fsync=EROFS,rename=EXDEV", EROFS, 0},
	};
	TEST("SHARDKV_FAULT_IO: each fault fails the save with KV_EIO and its errno; the old file stays")
	{
		/* the previous file, written by a store without faults */
		kv_env *good = t_env(32 << 20);
		kv_ns *g = good ? t_ns(good, "f", NULL) : NULL;
		if (g) {
			EOK(set_s(g, "k", "old"));
			EOK(kv_save(good, NULL, fpath("f.snap"), &err));
			kv_ns_close(g);
		}
		size_t oldn = 0;
		unsigned char *oldb = t_read_file(fpath("f.snap"), &oldn);
		for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
			kv_env *env = fault_env(cases[i].spec);
			kv_ns *ns = env ? t_ns(env, "f", NULL) : NULL;
			if (!ns)
				continue;
			char v[2000];
			memset(v, 'n', sizeof v);
			for (int k = 0; k < 100; k++) {
				char key[16];
				int kl = snprintf(key, sizeof key, "k%d", k);
				EOK(kv_set(ns, key, (size_t)kl, v, sizeof v, KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL));
			}
			memset(&err, 0, sizeof err);
			int rc = kv_save(env, NULL, fpath("f.snap"), &err);
			if (!E(R(rc) == KV_EIO && err.sys_errno == cases[i].e &&
			       strstr(err.msg, "injected by SHARDKV_FAULT_IO")))
				fprintf(stderr, "    %s: rc %d errno %d '%s'\n", cases[i].spec, rc, err.sys_errno, err.msg);
			E(count_dir(fdir) == 1); /* no temp file behind */
			size_t n = 0;
			unsigned char *now = t_read_file(fpath("f.snap"), &n);
			if (cases[i].replaced) {
				E(now && n > oldn);
			} else if (!E(now && oldb && n == oldn && memcmp(now, oldb, n) == 0)) {
				fprintf(stderr, "    %s: the previous file changed\n", cases[i].spec);
			}
			free(now);
			/* the file loads (in a store without faults) */
			if (good)
				EOK(kv_load(good, fpath("f.snap"), NULL, NULL, &err));
			if (cases[i].replaced && oldb) /* put the old one back */
				E(t_write_file(fpath("f.snap"), oldb, oldn) == 0);
			kv_ns_close(ns);
			kv_env_close(env);
		}
		free(oldb);
		if (good)
			kv_env_close(good);
	}

	TEST("SHARDKV_FAULT_IO: read faults fail loads and merging saves; a bad spec fails every save")
	{
		kv_env *env = fault_env("read=EIO");
		kv_ns *ns = env ? t_ns(env, "f", NULL) : NULL;
		if (ns) {
			memset(&err, 0, sizeof err);
			ERC(kv_load(env, fpath("f.snap"), NULL, NULL, &err), KV_EIO);
			E(err.sys_errno == EIO && msg_has(&err, "injected"));
			ERC(kv_save(env, "f", fpath("f.snap"), &err), KV_EIO);
			EOK(kv_save(env, NULL, fpath("f2.snap"), &err)); /* a full save reads nothing */
			kv_ns_close(ns);
		}
		if (env)
			kv_env_close(env);
		env = fault_env("fsync=EWHAT");
		ns = env ? t_ns(env, "f", NULL) : NULL;
		if (ns) {
			memset(&err, 0, sizeof err);
			ERC(kv_save(env, NULL, fpath("f3.snap"), &err), KV_EIO);
			E(err.sys_errno == EINVAL && msg_has(&err, "SHARDKV_FAULT_IO"));
			ERC(kv_load(env, fpath("f.snap"), NULL, NULL, &err), KV_EIO);
			E(access(fpath("f3.snap"), F_OK) != 0);
			kv_ns_close(ns);
		}
		if (env)
			kv_env_close(env);
		/* kv_env_attach reads it too, for its own handle only */
		size_t rsz = (size_t)32 << 20;
		void *region = mmap(NULL, rsz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (E(region != MAP_FAILED)) {
			kv_config rc;
			kv_config_init(&rc);
			rc.region = region;
			rc.region_size = rsz;
			kv_env *owner = NULL, *att = NULL;
			if (EOK(kv_env_open(&rc, &owner))) {
				setenv("SHARDKV_FAULT_IO", "rename=EROFS", 1);
				int arc = kv_env_attach(region, rsz, NULL, &att);
				unsetenv("SHARDKV_FAULT_IO");
				if (EOK(arc)) {
					EOK(kv_ns_create(owner, "shared", NULL));
					memset(&err, 0, sizeof err);
					ERC(kv_save(att, NULL, fpath("att.snap"), &err), KV_EIO);
					E(err.sys_errno == EROFS && msg_has(&err, "injected"));
					EOK(kv_save(owner, NULL, fpath("att.snap"), &err));
					kv_env_close(att);
				}
				kv_env_close(owner);
			}
			munmap(region, rsz);
		}
		/* the variable is read at open: unset now, a new store saves */
		env = t_env(32 << 20);
		if (env) {
			EOK(kv_save(env, NULL, fpath("f3.snap"), &err));
			kv_env_close(env);
		}
	}
	char cmd[1200];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", fdir);
	if (system(cmd) != 0)
		fprintf(stderr, "    could not remove %s\n", fdir);
}

/* ------------------------------------------------------- bounded copy */
/* An allocator that tracks the bytes outstanding and their peak. */
static size_t tr_now, tr_peak;

static void *track_realloc(void *ctx, void *p, size_t n)
{
	(void)ctx;
	size_t old = 0;
	char *b = p ? (char *)p - 16 : NULL;
	if (b)
		memcpy(&old, b, sizeof old);
	if (n == 0) {
		free(b);
		tr_now -= old;
		return NULL;
	}
	char *q = realloc(b, n + 16);
	if (!q)
		return NULL;
	memcpy(q, &n, sizeof n);
	tr_now = tr_now - old + n;
	if (tr_now > tr_peak)
		tr_peak = tr_now;
	return q + 16;
}

/* ------------------------------------------------------------ kv_save_threads */
#define PAR_KEYS 20000

/* PAR_KEYS strings of vlen bytes ("p:<i>", each 7th with a TTL) and 40
 * hashes in ns. */
static void par_fill(kv_ns *ns, size_t vlen, char tag, int64_t exp)
{
	char *v = malloc(vlen + 16);
	if (!E(v != NULL))
		return;
	memset(v, tag, vlen);
	for (int i = 0; i < PAR_KEYS; i++) {
		char k[24];
		int kl = snprintf(k, sizeof k, "p:%d", i);
		memcpy(v, k, (size_t)kl);
		if (kv_set(ns, k, (size_t)kl, v, vlen, KV_T_BYTES, i % 7 ? KV_EXPIRE_NEVER : exp, 0, NULL) != KV_OK) {
			E(0);
			break;
		}
	}
	for (int i = 0; i < 40; i++) {
		char k[24], f[24];
		int kl = snprintf(k, sizeof k, "h:%d", i), fl = snprintf(f, sizeof f, "f%d", i);
		kv_val fv[2] = {{(size_t)fl, f}, {1, &tag}};
		EOK(kv_hset(ns, k, (size_t)kl, fv, 1, 0, NULL));
	}
	free(v);
}

/* Does ns hold what par_fill(vlen, tag, exp) wrote? */
static int par_same(kv_env *env, kv_ns *ns, size_t vlen, char tag, int64_t exp)
{
	kv_buf b = KV_BUF_INIT;
	int bad = 0;
	for (int i = 0; i < PAR_KEYS && bad < 3; i++) {
		char k[24];
		int kl = snprintf(k, sizeof k, "p:%d", i);
		int64_t at = 0;
		if (kv_get(ns, k, (size_t)kl, &b) != KV_OK || b.len != vlen || memcmp(b.data, k, (size_t)kl) != 0 ||
		    (unsigned char)b.data[vlen - 1] != (unsigned char)tag || kv_ttl(ns, k, (size_t)kl, &at) != KV_OK ||
		    at != (i % 7 ? 0 : exp))
			bad++;
	}
	for (int i = 0; i < 40 && !bad; i++) {
		char k[24], f[24];
		int kl = snprintf(k, sizeof k, "h:%d", i), fl = snprintf(f, sizeof f, "f%d", i);
		bad += kv_hget(ns, k, (size_t)kl, f, (size_t)fl, &b) != KV_OK || b.len != 1 || b.data[0] != tag;
	}
	kv_ns_stats st;
	bad += kv_ns_stats_get(ns, &st) != KV_OK || st.keys != PAR_KEYS + 40;
	kv_buf_free(env, &b);
	return bad == 0;
}

static void test_save_threads(void)
{
	kv_error err;
	snprintf(fdir, sizeof fdir, "%s/threads", dir);
	fresh_fdir();
	int64_t exp = kv_now_ms() + 10 * HOUR_MS;

	TEST("kv_save_threads: a namespace copied on 3 threads loads back whole (values, TTLs, hashes)")
	{
		kv_env *env = t_env(128 << 20);
		kv_ns_config c;
		kv_ns_config_init(&c);
		c.shards = 8;
		kv_ns *ns = env ? t_ns(env, "par", &c) : NULL;
		if (ns) {
			par_fill(ns, 300, 'a', exp);
			EOK(kv_save_threads(env, "par", NULL, fpath("p.snap"), 4, &err));
			EOK(kv_load(env, fpath("p.snap"), "par", "par2", &err));
			kv_ns *l = open_ns(env, "par2");
			E(l && par_same(env, l, 300, 'a', exp));
			/* the cut's marks were cleared: a second save sees later writes */
			par_fill(ns, 200, 'b', exp);
			EOK(kv_save_threads(env, "par", fdir, "p.snap", 0, &err));
			EOK(kv_load(env, fpath("p.snap"), "par", "par2", &err));
			E(l && par_same(env, l, 200, 'b', exp));
			/* 1 thread and too small a namespace go the one-thread way, same contents */
			EOK(kv_save_threads(env, "par", NULL, fpath("p1.snap"), 1, &err));
			EOK(kv_load(env, fpath("p1.snap"), "par", "par2", &err));
			E(l && par_same(env, l, 200, 'b', exp));
			if (l)
				kv_ns_close(l);
			kv_ns_close(ns);
		}
		if (env)
			kv_env_close(env);
	}

	TEST("kv_save_threads: a write failing mid-save (ENOSPC) leaves the old file and releases every shard")
	{
		size_t rsz = (size_t)160 << 20;
		void *region = mmap(NULL, rsz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (E(region != MAP_FAILED)) {
			kv_config rc;
			kv_config_init(&rc);
			rc.region = region;
			rc.region_size = rsz;
			kv_env *owner = NULL, *att = NULL;
			kv_ns_config c;
			kv_ns_config_init(&c);
			c.shards = 4;
			if (EOK(kv_env_open(&rc, &owner))) {
				kv_ns *ns = t_ns(owner, "big", &c);
				/* 1000-byte values: 20 MB, several blocks on each thread */
				if (ns) {
					par_fill(ns, 1000, 'o', exp);
					EOK(kv_save(owner, "big", fpath("f.snap"), &err));
				}
				size_t oldn = 0;
				unsigned char *oldb = t_read_file(fpath("f.snap"), &oldn);
				/* the third write is the first entries block */
				setenv("SHARDKV_FAULT_IO", "write=ENOSPC@3", 1);
				int arc = kv_env_attach(region, rsz, NULL, &att);
				unsetenv("SHARDKV_FAULT_IO");
				if (ns && oldb && EOK(arc)) {
					par_fill(ns, 1000, 'n', exp);
					memset(&err, 0, sizeof err);
					ERC(kv_save_threads(att, "big", NULL, fpath("f.snap"), 3, &err), KV_EIO);
					E(err.sys_errno == ENOSPC && msg_has(&err, "injected"));
					size_t n = 0;
					unsigned char *now = t_read_file(fpath("f.snap"), &n);
					E(now && n == oldn && memcmp(now, oldb, n) == 0);
					free(now);
					E(count_dir(fdir) == 3); /* f.snap, p.snap, p1.snap: no temp file */
					/* the namespace is free again and its cut released: writes
					 * after it are in the next save, every key once */
					ERC(kv_save_threads(att, "big", NULL, fpath("f.snap"), 3, &err), KV_EIO);
					par_fill(ns, 900, 'm', exp);
					EOK(kv_save_threads(owner, "big", NULL, fpath("f.snap"), 3, &err));
					EOK(kv_load(owner, fpath("f.snap"), "big", "big2", &err));
					kv_ns *l = open_ns(owner, "big2");
					E(l && par_same(owner, l, 900, 'm', exp));
					if (l)
						kv_ns_close(l);
				}
				free(oldb);
				if (att)
					kv_env_close(att);
				if (ns)
					kv_ns_close(ns);
				kv_env_close(owner);
			}
			munmap(region, rsz);
		}
	}
}

/* The 'E' blocks of the first namespace of the snapshot file p, or -1 if its
 * blocks do not chain from the header to a trailer that ends the file. */
static int entries_blocks(const char *p)
{
	size_t n = 0, o = 32;
	unsigned char *f = t_read_file(p, &n);
	int e = 0;
	while (f && o + 16 <= n && rd32(f + o) != 'T') {
		e += rd32(f + o) == 'E';
		o += 16 + (size_t)rd32(f + o + 4);
	}
	int ok = f && o + 32 == n && rd32(f + o) == 'T';
	free(f);
	return ok ? e : -1;
}

/* Every save thread writes its own blocks at offsets it reserves (snapshot.c,
 * WRITING IN PARALLEL): a block two threads wrote over each other, or one
 * reserved and never written, fails the load's checksums or entry count. */
static void test_save_threads_write(void)
{
	kv_error err;
	int64_t exp = kv_now_ms() + 10 * HOUR_MS;
	TEST("kv_save_threads: 4 threads each write several blocks; the file loads back every key")
	{
		kv_env *env = t_env(256 << 20);
		kv_ns_config c;
		kv_ns_config_init(&c);
		c.shards = 16;
		kv_ns *ns = env ? t_ns(env, "w", &c) : NULL;
		if (ns) {
			par_fill(ns, 1500, 'a', exp); /* 30 MB: about 7 blocks a thread */
			for (int r = 0; r < 3; r++) {
				EOK(kv_save_threads(env, "w", NULL, fpath("w.snap"), 4, &err));
				E(entries_blocks(fpath("w.snap")) >= 4 * 4);
				EOK(kv_load(env, fpath("w.snap"), "w", "w2", &err));
				kv_ns *l = open_ns(env, "w2");
				E(l && par_same(env, l, 1500, 'a', exp));
				if (l)
					kv_ns_close(l);
			}
			kv_ns_close(ns);
		}
		if (env)
			kv_env_close(env);
	}

	TEST("kv_save_threads: a write failing on any thread fails the save cleanly, every time")
	{
		size_t rsz = (size_t)160 << 20;
		void *region = mmap(NULL, rsz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		kv_config rc;
		kv_config_init(&rc);
		rc.region = region;
		rc.region_size = rsz;
		kv_env *env = NULL;
		kv_ns_config c;
		kv_ns_config_init(&c);
		c.shards = 16;
		kv_ns *ns = E(region != MAP_FAILED) && EOK(kv_env_open(&rc, &env)) ? t_ns(env, "w", &c) : NULL;
		if (ns) {
			par_fill(ns, 1000, 'o', exp); /* 20 MB: about 20 blocks on 3 threads */
			EOK(kv_save(env, "w", fpath("f.snap"), &err));
			size_t oldn = 0;
			unsigned char *oldb = t_read_file(fpath("f.snap"), &oldn);
			int files = count_dir(fdir);
			par_fill(ns, 1000, 'n', exp);
			/* write 1 is the file header, 2 the 'N' block; from 3 on, blocks of
			 * whichever thread reserves them first */
			for (int nth = 1; nth <= 22 && oldb; nth += nth < 4 ? 1 : 3) {
				char spec[40];
				snprintf(spec, sizeof spec, "write=ENOSPC@%d", nth);
				setenv("SHARDKV_FAULT_IO", spec, 1);
				kv_env *att = NULL;
				int arc = kv_env_attach(region, rsz, NULL, &att);
				unsetenv("SHARDKV_FAULT_IO");
				if (!EOK(arc))
					break;
				memset(&err, 0, sizeof err);
				ERC(kv_save_threads(att, "w", NULL, fpath("f.snap"), 3, &err), KV_EIO);
				E(err.sys_errno == ENOSPC && msg_has(&err, "injected"));
				size_t n = 0;
				unsigned char *now = t_read_file(fpath("f.snap"), &n);
				E(now && n == oldn && memcmp(now, oldb, n) == 0);
				free(now);
				E(count_dir(fdir) == files); /* no temp file left */
				kv_env_close(att);
			}
			free(oldb);
			/* every shard was released: the next save has every key, once */
			EOK(kv_save_threads(env, "w", NULL, fpath("f.snap"), 3, &err));
			EOK(kv_load(env, fpath("f.snap"), "w", "w2", &err));
			kv_ns *l = open_ns(env, "w2");
			E(l && par_same(env, l, 1000, 'n', exp));
			if (l)
				kv_ns_close(l);
			kv_ns_close(ns);
		}
		if (env)
			kv_env_close(env);
		if (region != MAP_FAILED)
			munmap(region, rsz);
	}
}

static void test_bounded_copy(void)
{
	TEST("a save never copies a shard or a value under its lock (no shard-sized buffer)")
	{
		/* The old save copied a whole shard into one buffer under the shard's
		 * lock: a 64 MiB value held writers for the memcpy and doubled the
		 * save's memory.  Now entries are serialised from the store outside the
		 * lock, in steps, so the save needs about one block buffer. */
		kv_config cfg;
		kv_config_init(&cfg);
		cfg.memory = (size_t)256 << 20;
		cfg.mem.xRealloc = track_realloc;
		kv_env *env = NULL;
		kv_ns_config nc;
		kv_ns_config_init(&nc);
		nc.shards = 1;
		kv_ns *ns = NULL;
		if (EOK(kv_env_open(&cfg, &env)) && (ns = t_ns(env, "bc", &nc)) != NULL) {
			size_t vlen = (size_t)64 << 20;
			char *v = malloc(vlen);
			if (E(v != NULL)) {
				memset(v, 'v', vlen);
				EOK(kv_set(ns, K("big"), v, vlen, KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL));
				free(v);
			}
			for (int i = 0; i < 20000; i++) {
				char k[32];
				int kl = snprintf(k, sizeof k, "k%d", i);
				kv_set(ns, k, (size_t)kl, K("small"), KV_T_TEXT, KV_EXPIRE_NEVER, 0, NULL);
			}
			kv_error err;
			size_t base = tr_now;
			tr_peak = base;
			EOK(kv_save(env, "bc", path_of("bounded.snap"), &err));
			size_t peak = tr_peak - base;
			if (!E(peak < 3 * vlen))
				fprintf(stderr, "    the save held %zu MiB at once for a %zu MiB value\n", peak >> 20, vlen >> 20);
			EOK(kv_load(env, path_of("bounded.snap"), "bc", "bc2", &err));
			kv_ns *b2 = open_ns(env, "bc2");
			size_t l = 0;
			E(b2 && kv_strlen(b2, K("big"), &l) == KV_OK && l == vlen);
			kv_ns_stats st;
			E(b2 && kv_ns_stats_get(b2, &st) == KV_OK && st.keys == 20001);
			if (b2)
				kv_ns_close(b2);
			kv_ns_close(ns);
		}
		if (env)
			kv_env_close(env);
		unlink(path_of("bounded.snap"));
	}

	TEST("saves in steps: the next save sees every later change (marks cleared)")
	{
		/* a one-shard namespace of 50000 keys takes many steps; every step marks
		 * what it copied, and the marks must all be gone after the save, or the
		 * next save would skip keys written since */
		kv_env *env = t_env(128 << 20);
		kv_ns_config nc;
		kv_ns_config_init(&nc);
		nc.shards = 1;
		kv_ns *ns = env ? t_ns(env, "st", &nc) : NULL;
		if (ns) {
			int nk = 50000;
			for (int i = 0; i < nk; i++) {
				char k[32];
				int kl = snprintf(k, sizeof k, "k%d", i);
				kv_set(ns, k, (size_t)kl, K("0"), KV_T_TEXT, KV_EXPIRE_NEVER, 0, NULL);
			}
			kv_error err;
			for (int round = 0; round < 3; round++) {
				EOK(kv_save(env, "st", path_of("steps.snap"), &err));
				/* change everything after the save: the next save must see it */
				for (int i = 0; i < nk; i += 2) {
					char k[32];
					int kl = snprintf(k, sizeof k, "k%d", i);
					char v[16];
					int vl = snprintf(v, sizeof v, "%d", round + 1);
					kv_set(ns, k, (size_t)kl, v, (size_t)vl, KV_T_TEXT, KV_EXPIRE_NEVER, 0, NULL);
				}
				EOK(kv_save(env, "st", path_of("steps.snap"), &err));
				EOK(kv_load(env, path_of("steps.snap"), "st", "st2", &err));
				kv_ns *s2 = open_ns(env, "st2");
				kv_ns_stats st;
				E(s2 && kv_ns_stats_get(s2, &st) == KV_OK && st.keys == (uint64_t)nk);
				char want[16];
				snprintf(want, sizeof want, "%d", round + 1);
				E(s2 && val_is(env, s2, "k0", want) && val_is(env, s2, "k1", "0"));
				if (s2)
					kv_ns_close(s2);
				kv_ns_drop(env, "st2");
			}
			kv_ns_close(ns);
		}
		if (env)
			kv_env_close(env);
		unlink(path_of("steps.snap"));
	}
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--write-corpus") == 0)
		return write_corpus(argv[2]);
	t_init(argc, argv);
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, sizeof dir, "%s/shardkv-snap-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_round_trip();
	rm_dir_contents(dir);
	test_corruption();
	rm_dir_contents(dir);
	test_kill_during_save();
	rm_dir_contents(dir);
	test_consistent_cut("snapshots taken while all-or-nothing batches run contain all of each batch or none",
	                    8, 0, 1);
	test_consistent_cut("a save stepping through one big shard under all-or-nothing batches is a cut", 1,
	                    200000, 1);
	test_consistent_cut("kv_save_threads: 8 shards copied on 3 threads under all-or-nothing batches are a cut",
	                    8, 40000, 4);
	test_consistent_cut_processes();
	test_load_under_readers();
	test_load_big_routed();
	test_autosave();
	test_failing_alloc();
	rm_dir_contents(dir);
	test_file_safety();
	test_merge();
	test_fault_io();
	test_save_threads();
	test_save_threads_write();
	test_bounded_copy();
	rmdir(dir);
	for (int i = 0; i < NENT; i++)
		free(ents[i].val);
	return t_done();
}
