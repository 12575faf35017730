/*
 * test_load_threads.c -- kv_load_threads: a load built on several threads.
 *
 *   - on 1, 2 and 4 threads a load gives exactly the saved keys, values,
 *     types and expiries, the same stats on every thread count, and a drop
 *     gives the region back (the carves' pages accounted exactly);
 *   - a duplicate key in the file: the later record wins on every thread count;
 *   - a namespace with collections (made by the calling thread) loads whole,
 *     and a string after a collection of the same key wins;
 *   - a corrupt file (a byte flipped in every block, a cut at every block
 *     boundary) is refused and the live namespace is untouched;
 *   - the region filling up in the middle of a threaded build fails the load
 *     with KV_ENOMEM, keeps the old data, leaks no page, and a load that fits
 *     works afterwards;
 *   - a file of several blocks: a later block corrupt, the file cut before its
 *     trailer, a limit passed or the region full after earlier blocks were
 *     built fails the load, keeps the old data and leaks nothing; readers of
 *     the namespace during good and failing loads see old or new values only;
 *   - blocks read and checked on the builder threads: with a late block bad,
 *     two blocks bad, an entry malformed before a bad block, the 'Z' count
 *     wrong, the file cut, or a read failing (SHARDKV_FAULT_IO readat) in an
 *     early or a late block, the error reported is the first in file order
 *     and names its byte, on 1, 2 and 4 threads, and the live data stays;
 *   - a block with more entries than a 16 MiB block can hold is refused (its
 *     records are allocated before its job runs); one with the most loads;
 *   - the version 2 fixture (before the header-hash trailer) still loads.
 * It is in the TSan list (tests/tests.mk): the build threads share the page
 * allocator and the class lists.
 */
#include "test.h"

#include <pthread.h>
#include <stdatomic.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

static char dir[256];

static const char *path_of(const char *name)
{
	static char p[4][512];
	static int i;
	i = (i + 1) % 4;
	snprintf(p[i], sizeof p[i], "%s/%s", dir, name);
	return p[i];
}


static uint32_t rd32(const unsigned char *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
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

/* Key i's value: a length spread over many size classes, a few over the
 * slab limit (whole pages), content tied to i and to `gen`. */
static size_t val_of(int i, char gen, char *v)
{
	size_t len = (size_t)(i * 37) % 300;
	if (i % 997 == 0)
		len = 40000 + (size_t)i % 100;
	for (size_t k = 0; k < len; k++)
		v[k] = (char)(gen + (int)((k + (size_t)i) % 23));
	return len;
}

#define FAR_MS 4102444800000LL /* 2100-01-01 */

static int nkeys(void)
{
	return t_quick() ? 6000 : 40000;
}

static void fill(kv_ns *ns, int n, char gen)
{
	static char v[41000];
	char k[32];
	for (int i = 0; i < n; i++) {
		int kl = snprintf(k, sizeof k, "key:%d", i);
		size_t vl = val_of(i, gen, v);
		EOK(kv_set(ns, k, (size_t)kl, v, vl, i % 5, i % 3 ? KV_EXPIRE_NEVER : FAR_MS + i, 0, NULL));
	}
}

/* Does ns hold exactly keys 0..n-1 of generation gen? */
static int holds(kv_env *env, kv_ns *ns, int n, char gen)
{
	static char v[41000];
	char k[32];
	kv_buf b = KV_BUF_INIT;
	int bad = 0;
	for (int i = 0; i < n && bad < 3; i++) {
		int kl = snprintf(k, sizeof k, "key:%d", i);
		size_t vl = val_of(i, gen, v);
		int rc = kv_get(ns, k, (size_t)kl, &b);
		if (rc != KV_OK || b.len != vl || memcmp(b.data, v, vl) != 0 || b.type != i % 5 ||
		    b.expires_at != (i % 3 ? 0 : FAR_MS + i)) {
			fprintf(stderr, "    key %d: rc %d len %zu (want %zu) type %d\n", i, rc, b.len, vl, b.type);
			bad++;
		}
	}
	kv_buf_free(env, &b);
	kv_ns_stats st;
	if (kv_ns_stats_get(ns, &st) != KV_OK || st.keys != (uint64_t)n)
		bad++;
	return bad == 0;
}

static size_t used(kv_env *env)
{
	kv_env_stats st;
	kv_env_stats_get(env, &st);
	return st.region_used;
}

static uint64_t ns_bytes(kv_env *env, const char *name)
{
	kv_ns *ns;
	kv_ns_stats st;
	if (kv_ns_open(env, name, &ns) != KV_OK)
		return 0;
	kv_ns_stats_get(ns, &st);
	kv_ns_close(ns);
	return st.bytes;
}


/* The entry at p of a copied block: gen 'a' -> 'b' (every value byte + 1). */
static void bump_value(unsigned char *p)
{
	uint32_t kl = rd32(p), vl = rd32(p + 4);
	size_t h = p[9] & 1 ? 18 : 10;
	for (uint32_t k = 0; k < vl; k++)
		p[h + kl + k]++;
}

/* A collection's record as a string's value (type 16..31 -> 0). */
static void coll_to_string(unsigned char *p)
{
	if (p[8] >= 16 && p[8] < 32)
		p[8] = 0;
}

/* Write `to`: the file `from` (one namespace) with its entries blocks twice,
 * mut applied to every entry of the copies; the end block
 * counts both and every checksum is recomputed.  1 on success. */
static int write_dup(const char *from, const char *to, void (*mut)(unsigned char *))
{
	size_t sz;
	unsigned char *f = t_read_file(from, &sz);
	unsigned char *g = f ? malloc(sz * 2 + 64) : NULL;
	size_t o = 32, e = 0, z = 0;
	while (f && o + 16 <= sz) {
		uint32_t kind = rd32(f + o), len = rd32(f + o + 4);
		if (kind == 'E' && !e)
			e = o;
		if (kind == 'Z')
			z = o;
		o += 16 + len;
	}
	int ok = g && e && z > e; /* the namespace's 'E' blocks are [e, z) */
	if (ok) {
		size_t m = 0;
		memcpy(g, f, z);
		m = z;
		memcpy(g + m, f + e, z - e); /* the copy, every block of it */
		for (size_t q = m; q < m + (z - e); q += 16 + rd32(g + q + 4)) {
			uint32_t elen = rd32(g + q + 4);
			unsigned char *p = g + q + 16, *end = p + elen;
			while (p < end) {
				uint32_t kl = rd32(p), vl = rd32(p + 4);
				size_t h = p[9] & 1 ? 18 : 10;
				mut(p);
				p += h + kl + vl;
			}
			wr64(g + q + 8, XXH3_64bits(g + q + 16, elen));
		}
		m += z - e;
		memcpy(g + m, f + z, 24); /* 'Z' */
		uint64_t cnt;
		memcpy(&cnt, f + z + 16, 8);
		wr64(g + m + 16, cnt * 2);
		wr64(g + m + 8, XXH3_64bits(g + m + 16, 8));
		m += 24;
		/* trailer: block count, hash of the header and the block headers */
		size_t blocks = 0;
		XXH3_state_t *st = XXH3_createState();
		XXH3_64bits_reset(st);
		XXH3_64bits_update(st, g, 32);
		for (size_t q = 32; q < m; q += 16 + rd32(g + q + 4), blocks++)
			XXH3_64bits_update(st, g + q, 16);
		wr32(g + m, 'T');
		wr32(g + m + 4, 16);
		wr64(g + m + 16, blocks);
		wr64(g + m + 24, XXH3_64bits_digest(st));
		wr64(g + m + 8, XXH3_64bits(g + m + 16, 16));
		XXH3_freeState(st);
		m += 32;
		ok = t_write_file(to, g, m) == 0;
	}
	free(f);
	free(g);
	return ok;
}

static void test_threads(void)
{
	kv_env *env = t_env((size_t)512 << 20);
	if (!env)
		return;
	kv_ns_config cfg;
	kv_ns_config_init(&cfg);
	cfg.shards = 8;
	kv_ns *src = t_ns(env, "src", &cfg);
	if (!src)
		return;
	int n = nkeys();
	fill(src, n, 'a');
	kv_error err;
	EOK(kv_save(env, "src", path_of("src.snap"), &err));

	TEST("1, 2 and 4 threads load exactly the saved data, with the same accounting")
	{
		uint64_t bytes[3] = {0, 0, 0};
		static const unsigned th[3] = {1, 2, 4};
		size_t before = used(env);
		for (int r = 0; r < 3; r++) {
			EOK(kv_load_threads(env, NULL, path_of("src.snap"), "src", "dst", th[r], &err));
			kv_ns *dst;
			if (EOK(kv_ns_open(env, "dst", &dst))) {
				E(holds(env, dst, n, 'a'));
				kv_ns_close(dst);
			}
			bytes[r] = ns_bytes(env, "dst");
			EOK(kv_ns_drop(env, "dst"));
			E(used(env) <= before + ((size_t)64 << 10) * 64); /* the classes keep a partial page each */
		}
		E(bytes[0] > 0 && bytes[0] == bytes[1] && bytes[1] == bytes[2]);
		/* the whole region comes back: a load that fills most of it again fits */
		size_t base = used(env);
		for (int r = 0; r < 3; r++) {
			EOK(kv_load_threads(env, NULL, path_of("src.snap"), "src", "dst", 2, &err));
			EOK(kv_ns_drop(env, "dst"));
		}
		E(used(env) == base);
	}

	TEST("a threaded load replaces a live namespace's keys; threads 0 means every CPU")
	{
		kv_ns *dst = t_ns(env, "dst", &cfg);
		if (dst) {
			EOK(kv_set(dst, K("stale"), K("x"), KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL));
			EOK(kv_load_threads(env, NULL, path_of("src.snap"), "src", "dst", 0, &err));
			kv_buf b = KV_BUF_INIT;
			E(kv_get(dst, K("stale"), &b) == KV_NOTFOUND);
			E(holds(env, dst, n, 'a'));
			kv_buf_free(env, &b);
			kv_ns_close(dst);
		}
		EOK(kv_ns_drop(env, "dst"));
		/* a namespace of another shard count than the file's: keys re-routed */
		kv_ns_config c3 = cfg;
		c3.shards = 3;
		dst = t_ns(env, "dst", &c3);
		if (dst) {
			EOK(kv_load_threads(env, NULL, path_of("src.snap"), "src", "dst", 4, &err));
			E(holds(env, dst, n, 'a'));
			kv_ns_close(dst);
		}
		EOK(kv_ns_drop(env, "dst"));
		/* kv_load_threads with a directory resolves the name as kv_load_at */
		EOK(kv_load_threads(env, dir, "src.snap", "src", "dst", 2, &err));
		EOK(kv_ns_drop(env, "dst"));
		E(kv_load_threads(env, dir, "../x.snap", "src", "dst", 2, &err) == KV_EINVAL);
	}

	TEST("a duplicate key in the file: the later record wins, on 1, 2 and 4 threads")
	{
		int ok = write_dup(path_of("src.snap"), path_of("dup.snap"), bump_value);
		if (E(ok)) {
			static const unsigned th[3] = {1, 2, 4};
			for (int r = 0; r < 3; r++) {
				EOK(kv_load_threads(env, NULL, path_of("dup.snap"), "src", "dst", th[r], &err));
				kv_ns *dst;
				if (EOK(kv_ns_open(env, "dst", &dst))) {
					E(holds(env, dst, n, 'b'));
					kv_ns_close(dst);
				}
				EOK(kv_ns_drop(env, "dst"));
			}
		}
	}

	TEST("a namespace holding collections loads whole on 4 threads")
	{
		kv_ns *c = t_ns(env, "coll", &cfg);
		if (c) {
			fill(c, 5000, 'c');
			kv_val fv[2] = {{1, "f"}, {3, "val"}};
			EOK(kv_hset(c, K("h"), fv, 1, 0, NULL));
			kv_val m[2] = {{1, "a"}, {1, "b"}};
			EOK(kv_sadd(c, K("s"), m, 2, NULL));
			EOK(kv_save(env, "coll", path_of("coll.snap"), &err));
			kv_ns_close(c);
			EOK(kv_load_threads(env, NULL, path_of("coll.snap"), "coll", "coll2", 4, &err));
			kv_ns *d;
			if (EOK(kv_ns_open(env, "coll2", &d))) {
				kv_buf b = KV_BUF_INIT;
				EOK(kv_hget(d, K("h"), K("f"), &b));
				E(t_buf_is(&b, "val", 3));
				kv_buf_free(env, &b);
				kv_ns_stats st;
				EOK(kv_ns_stats_get(d, &st));
				E(st.keys == 5002);
				kv_ns_close(d);
			}
			EOK(kv_ns_drop(env, "coll2"));
		}
	}

	TEST("a string after a collection of the same key in the file wins on 2 and 4 threads, nothing leaks")
	{
		/* the collection is made on the calling thread, the string and the
		 * link that frees the collection on a builder */
		size_t before = used(env);
		if (E(write_dup(path_of("coll.snap"), path_of("colldup.snap"), coll_to_string))) {
			for (unsigned t = 2; t <= 4; t += 2) {
				EOK(kv_load_threads(env, NULL, path_of("colldup.snap"), "coll", "coll3", t, &err));
				kv_ns *d;
				if (EOK(kv_ns_open(env, "coll3", &d))) {
					kv_buf b = KV_BUF_INIT;
					E(kv_get(d, K("h"), &b) == KV_OK && b.type == KV_T_BYTES);
					E(kv_get(d, K("s"), &b) == KV_OK && b.type == KV_T_BYTES);
					kv_buf_free(env, &b);
					kv_ns_stats st;
					EOK(kv_ns_stats_get(d, &st));
					E(st.keys == 5002);
					kv_ns_close(d);
				}
				EOK(kv_ns_drop(env, "coll3"));
				E(used(env) <= before + ((size_t)64 << 10) * 64);
			}
		}
	}

	TEST("a corrupt file is refused at every block on the threaded path; the live data stays")
	{
		kv_ns *dst = t_ns(env, "dst", &cfg);
		if (dst)
			fill(dst, 100, 'z');
		size_t sz;
		unsigned char *f = t_read_file(path_of("src.snap"), &sz);
		unsigned char *g = f ? malloc(sz) : NULL;
		int cases = 0, bad = 0;
		for (size_t o = 32; g && o + 16 <= sz; o += 16 + rd32(f + o + 4)) {
			uint32_t len = rd32(f + o + 4);
			size_t at[4] = {o, o + 8, o + 16, o + 16 + len / 2}; /* kind, checksum, payload */
			for (int a = 0; a < 4; a++) {
				if (at[a] >= sz || (a >= 2 && !len))
					continue;
				memcpy(g, f, sz);
				g[at[a]] ^= 0x40;
				t_write_file(path_of("bad.snap"), g, sz);
				int rc = kv_load_threads(env, NULL, path_of("bad.snap"), "src", "dst", 4, &err);
				cases++;
				if (rc != KV_ECORRUPT || !err.msg[0])
					bad++;
			}
			/* cut at the block's start and inside it */
			t_write_file(path_of("bad.snap"), f, o);
			bad += kv_load_threads(env, NULL, path_of("bad.snap"), "src", "dst", 2, &err) != KV_ECORRUPT;
			t_write_file(path_of("bad.snap"), f, o + 16 + len / 2);
			bad += kv_load_threads(env, NULL, path_of("bad.snap"), "src", "dst", 2, &err) != KV_ECORRUPT;
			cases += 2;
		}
		printf("    %d corrupt or cut files refused\n", cases - bad);
		E(cases > 10 && bad == 0);
		if (dst) {
			E(holds(env, dst, 100, 'z'));
			kv_ns_close(dst);
		}
		EOK(kv_ns_drop(env, "dst"));
		free(f);
		free(g);
	}
	kv_ns_close(src);
	kv_env_close(env);
}

static void test_out_of_memory(void)
{
	TEST("the region filling up mid-load: KV_ENOMEM, the old data kept, no page lost")
	{
		/* a file of ~14 MB of entries into a 12 MiB store that already holds some */
		kv_env *big = t_env((size_t)64 << 20);
		kv_env *env = t_env((size_t)12 << 20);
		kv_ns_config cfg;
		kv_ns_config_init(&cfg);
		cfg.shards = 4;
		kv_ns *s = big ? t_ns(big, "dst", &cfg) : NULL;
		kv_ns *d = env ? t_ns(env, "dst", &cfg) : NULL;
		kv_error err;
		if (s && d) {
			static char v[200];
			char k[32];
			memset(v, 'v', sizeof v);
			for (int i = 0; i < 60000; i++) {
				int kl = snprintf(k, sizeof k, "big:%d", i);
				EOK(kv_set(s, k, (size_t)kl, v, sizeof v, KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL));
			}
			EOK(kv_save(big, "dst", path_of("big.snap"), &err));
			fill(d, 3000, 'd');
			EOK(kv_save(env, "dst", path_of("small.snap"), &err));
			size_t before = used(env), first = 0;
			static const unsigned th[4] = {1, 2, 4, 2};
			for (int r = 0; r < 4; r++) {
				int rc = kv_load_threads(env, NULL, path_of("big.snap"), "dst", NULL, th[r], &err);
				/* an entry or (another thread first) a table that does not fit */
				E(rc == KV_ENOMEM && strstr(err.msg, "namespace \"dst\""));
				if (r == 0)
					printf("    %s\n", err.msg);
				E(holds(env, d, 3000, 'd'));
				/* a class may keep an empty page (which ones depends on the order the
				 * threads freed in); nothing more stays, however often */
				if (r == 0)
					first = used(env);
				E(first <= before + ((size_t)64 << 10) * 64 && used(env) <= first + ((size_t)64 << 10) * 8);
			}
			/* and a load that fits works: the allocator is consistent */
			EOK(kv_load_threads(env, NULL, path_of("small.snap"), "dst", "dst2", 2, &err));
			kv_ns *d2;
			if (EOK(kv_ns_open(env, "dst2", &d2))) {
				E(holds(env, d2, 3000, 'd'));
				kv_ns_close(d2);
			}
		}
		if (s)
			kv_ns_close(s);
		if (d)
			kv_ns_close(d);
		if (big)
			kv_env_close(big);
		if (env)
			kv_env_close(env);
	}
}


/* A file of several 16 MiB blocks: BIGN keys, every 40th with a 256 KiB value
 * (whole pages), the rest small (carved slab objects). */
#define BIGN 8000
static size_t bigval_of(int i, char gen, char *v)
{
	size_t len = i % 40 ? 20 + (size_t)i % 90 : ((size_t)256 << 10) + (size_t)i;
	memset(v, gen + i % 7, len);
	memset(v, gen, 16);
	return len;
}

static void bigfill(kv_ns *ns, char gen)
{
	static char v[(256 << 10) + BIGN];
	char k[32];
	for (int i = 0; i < BIGN; i++) {
		int kl = snprintf(k, sizeof k, "big:%d", i);
		EOK(kv_set(ns, k, (size_t)kl, v, bigval_of(i, gen, v), KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL));
	}
}

/* Does one get of key i in ns give generation g1's or g2's value, whole?
 * (b: a buffer to reuse) */
static int bigkey_is(kv_ns *ns, int i, char g1, char g2, kv_buf *b)
{
	static _Thread_local char v[(256 << 10) + BIGN];
	char k[32];
	int kl = snprintf(k, sizeof k, "big:%d", i);
	if (kv_get(ns, k, (size_t)kl, b) != KV_OK)
		return 0;
	for (int g = 0; g < 2; g++) {
		size_t vl = bigval_of(i, g ? g2 : g1, v);
		if (b->len == vl && memcmp(b->data, v, 16) == 0 && b->data[vl / 2] == v[vl / 2] &&
		    b->data[vl - 1] == v[vl - 1])
			return 1;
	}
	return 0;
}

static int bigholds(kv_env *env, kv_ns *ns, char gen)
{
	kv_buf b = KV_BUF_INIT;
	int bad = 0;
	for (int i = 0; i < BIGN && bad < 3; i++)
		bad += !bigkey_is(ns, i, gen, gen, &b);
	kv_buf_free(env, &b);
	kv_ns_stats st;
	return bad == 0 && kv_ns_stats_get(ns, &st) == KV_OK && st.keys == BIGN;
}

typedef struct reader_arg {
	kv_env      *env;
	_Atomic int  stop;
	_Atomic long gets, torn;
} reader_arg;

/* Reads every key of "dst" over and over: each must be generation a's or
 * b's, whole, never missing. */
static void *reader_main(void *p)
{
	reader_arg *a = p;
	kv_ns *ns;
	kv_buf b = KV_BUF_INIT;
	if (kv_ns_open(a->env, "dst", &ns) != KV_OK) {
		atomic_fetch_add(&a->torn, 1);
		return NULL;
	}
	while (!atomic_load(&a->stop)) {
		for (int i = 0; i < BIGN && !atomic_load(&a->stop); i += 7) {
			if (!bigkey_is(ns, i, 'a', 'b', &b))
				atomic_fetch_add(&a->torn, 1);
			atomic_fetch_add(&a->gets, 1);
		}
	}
	kv_buf_free(a->env, &b);
	kv_ns_close(ns);
	return NULL;
}

static void test_later_block(void)
{
	TEST("a later block corrupt, cut or over a limit after earlier blocks were built: old data kept, nothing leaked")
	{
		kv_env *env = t_env((size_t)512 << 20);
		kv_ns_config cfg;
		kv_ns_config_init(&cfg);
		cfg.shards = 8;
		kv_ns *src = env ? t_ns(env, "src", &cfg) : NULL;
		kv_ns *dst = env ? t_ns(env, "dst", &cfg) : NULL;
		kv_error err;
		if (src && dst) {
			bigfill(src, 'b');
			EOK(kv_save(env, "src", path_of("multi.snap"), &err));
			EOK(kv_ns_drop(env, "src"));
			bigfill(dst, 'a');
			size_t sz;
			unsigned char *f = t_read_file(path_of("multi.snap"), &sz);
			unsigned char *g = f ? malloc(sz) : NULL;
			/* the offsets of the 'E' blocks and of the trailer */
			size_t eblk[16], ne = 0, trailer = 0;
			for (size_t o = 32; f && o + 16 <= sz; o += 16 + rd32(f + o + 4)) {
				if (rd32(f + o) == 'E' && ne < 16)
					eblk[ne++] = o;
				if (rd32(f + o) == 'T')
					trailer = o;
			}
			printf("    %zu MB, %zu entry blocks\n", sz >> 20, ne);
			E(ne >= 3 && trailer);
			size_t before = used(env);
			int cases = 0, bad = 0;
			static const unsigned th[3] = {1, 2, 4};
			for (int t = 0; g && ne >= 3 && t < 3; t++) {
				/* a payload byte of the second and the last entry block, the trailer's sum */
				size_t at[3] = {eblk[1] + 16 + 1000, eblk[ne - 1] + 16 + rd32(f + eblk[ne - 1] + 4) - 3, trailer + 16 + 8};
				for (int a = 0; a < 3; a++) {
					memcpy(g, f, sz);
					g[at[a]] ^= 0x10;
					t_write_file(path_of("bad.snap"), g, sz);
					int rc = kv_load_threads(env, NULL, path_of("bad.snap"), "src", "dst", th[t], &err);
					cases++;
					bad += rc != KV_ECORRUPT;
				}
				/* cut before the trailer */
				t_write_file(path_of("bad.snap"), f, trailer);
				bad += kv_load_threads(env, NULL, path_of("bad.snap"), "src", "dst", th[t], &err) != KV_ECORRUPT;
				cases++;
				E(bigholds(env, dst, 'a'));
				/* a class may keep a partly used page per carve; nothing more stays */
				E(used(env) <= before + ((size_t)64 << 10) * 64);
			}
			printf("    %d corrupt or cut files refused\n", cases - bad);
			E(bad == 0);
			/* over the live namespace's key limit, found mid-file */
			kv_ns_config lim = cfg;
			lim.max_keys = BIGN / 2;
			kv_ns *l = t_ns(env, "lim", &lim);
			if (l) {
				EOK(kv_set(l, "k", 1, "v", 1, KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL));
				size_t u = used(env);
				E(kv_load_threads(env, NULL, path_of("multi.snap"), "src", "lim", 2, &err) == KV_EMAXKEYS);
				printf("    %s\n", err.msg);
				kv_ns_stats st;
				E(kv_ns_stats_get(l, &st) == KV_OK && st.keys == 1);
				E(used(env) <= u + ((size_t)64 << 10) * 64);
				kv_ns_close(l);
			}
			/* and the whole file loads */
			EOK(kv_load_threads(env, NULL, path_of("multi.snap"), "src", "dst", 2, &err));
			E(bigholds(env, dst, 'b'));
			free(f);
			free(g);
		}
		if (src)
			kv_ns_close(src);
		if (dst)
			kv_ns_close(dst);
		if (env)
			kv_env_close(env);
	}
	TEST("the region filling up in a later block: KV_ENOMEM, the old data kept")
	{
		kv_env *env = t_env((size_t)40 << 20);
		kv_ns_config cfg;
		kv_ns_config_init(&cfg);
		cfg.shards = 4;
		kv_ns *d = env ? t_ns(env, "dst", &cfg) : NULL;
		kv_error err;
		if (d) {
			fill(d, 2000, 'd');
			size_t before = used(env);
			for (unsigned t = 1; t <= 2; t++) {
				int rc = kv_load_threads(env, NULL, path_of("multi.snap"), "src", "dst", t, &err);
				E(rc == KV_ENOMEM);
				if (t == 1)
					printf("    %s\n", err.msg);
				E(holds(env, d, 2000, 'd'));
				E(used(env) <= before + ((size_t)64 << 10) * 64);
			}
			kv_ns_close(d);
		}
		if (env)
			kv_env_close(env);
	}
	TEST("readers of the namespace during loads (good and corrupt) see old or new values, never a mix")
	{
		kv_env *env = t_env((size_t)512 << 20);
		kv_ns_config cfg;
		kv_ns_config_init(&cfg);
		cfg.shards = 8;
		kv_ns *dst = env ? t_ns(env, "dst", &cfg) : NULL;
		kv_error err;
		if (dst) {
			bigfill(dst, 'a');
			EOK(kv_save(env, "dst", path_of("gen_a.snap"), &err));
			size_t sz;
			unsigned char *f = t_read_file(path_of("multi.snap"), &sz);
			if (f) {
				f[sz / 2] ^= 1; /* a payload byte in the middle */
				t_write_file(path_of("bad.snap"), f, sz);
				free(f);
			}
			reader_arg a = {.env = env};
			pthread_t th;
			E(pthread_create(&th, NULL, reader_main, &a) == 0);
			int rounds = t_quick() ? 2 : 4;
			for (int r = 0; r < rounds; r++) {
				E(kv_load_threads(env, NULL, path_of("bad.snap"), "src", "dst", 2, &err) == KV_ECORRUPT);
				EOK(kv_load_threads(env, NULL, path_of(r % 2 ? "gen_a.snap" : "multi.snap"), r % 2 ? "dst" : "src", "dst", 2, &err));
			}
			atomic_store(&a.stop, 1);
			pthread_join(th, NULL);
			printf("    %ld gets during %d loads\n", atomic_load(&a.gets), 2 * rounds);
			E(atomic_load(&a.torn) == 0);
			E(bigholds(env, dst, 'a'));
			kv_ns_close(dst);
		}
		if (env)
			kv_env_close(env);
	}
}

/* The file's v3 trailer hash (the header and every block header before the
 * trailer) and block checksums, recomputed after an edit. */
static void fix_block(unsigned char *g, size_t o)
{
	wr64(g + o + 8, XXH3_64bits(g + o + 16, rd32(g + o + 4)));
}
static void fix_trailer(unsigned char *g, size_t trailer)
{
	XXH3_state_t *st = XXH3_createState();
	XXH3_64bits_reset(st);
	XXH3_64bits_update(st, g, 32);
	for (size_t q = 32; q < trailer; q += 16 + rd32(g + q + 4))
		XXH3_64bits_update(st, g + q, 16);
	wr64(g + trailer + 24, XXH3_64bits_digest(st));
	fix_block(g, trailer);
	XXH3_freeState(st);
}

/* The byte offset a load error names ("... at byte N ..."), or -1. */
static long named_byte(const kv_error *e)
{
	const char *a = strstr(e->msg, "at byte ");
	return a ? strtol(a + 8, NULL, 10) : -1;
}

/* Load `file` into "dst" (holding generation 'a') on th threads: it must fail
 * with rc and a message holding `has` (and naming a byte in [lo, hi] unless
 * lo is -1); "dst" must be untouched and the region not grow.  1 if so. */
static int refused_as(kv_env *env, kv_ns *dst, const char *file, unsigned th, int rc, const char *has,
                      long lo, long hi)
{
	kv_error err;
	memset(&err, 0, sizeof err);
	size_t before = used(env);
	int got = kv_load_threads(env, NULL, path_of(file), "src", "dst", th, &err);
	long at = named_byte(&err);
	int ok = got == rc && err.code == rc && strstr(err.msg, has) && (lo < 0 || (at >= lo && at <= hi));
	if (!ok)
		fprintf(stderr, "    %u threads: rc %d (want %d) '%s' (want '%s' at byte %ld..%ld)\n", th, got, rc, err.msg,
		        has, lo, hi);
	ok &= bigholds(env, dst, 'a');
	ok &= used(env) <= before + ((size_t)64 << 10) * 64; /* a class may keep a partly used page per carve */
	return ok;
}

static void test_error_order(void)
{
	TEST("blocks read and checked on builder threads: the first error in file order is reported, the live data stays")
	{
		/* each 'E' block is read, hashed and walked by whichever thread builds it,
		 * so a later block can fail before an earlier one is done: the error must
		 * still be the one a reader from the start would meet first */
		kv_env *env = t_env((size_t)512 << 20);
		kv_ns_config cfg;
		kv_ns_config_init(&cfg);
		cfg.shards = 8;
		kv_ns *dst = env ? t_ns(env, "dst", &cfg) : NULL;
		size_t sz = 0;
		unsigned char *f = t_read_file(path_of("multi.snap"), &sz); /* test_later_block's: 'b', 4+ blocks */
		unsigned char *g = f ? malloc(sz) : NULL;
		size_t eblk[16], ne = 0, zblk = 0, trailer = 0;
		for (size_t o = 32; f && o + 16 <= sz; o += 16 + rd32(f + o + 4)) {
			if (rd32(f + o) == 'E' && ne < 16)
				eblk[ne++] = o;
			zblk = rd32(f + o) == 'Z' ? o : zblk;
			trailer = rd32(f + o) == 'T' ? o : trailer;
		}
		if (dst && g && E(ne >= 3 && zblk && trailer)) {
			bigfill(dst, 'a');
			size_t last = eblk[ne - 1], second = eblk[1];
			uint32_t lastlen = rd32(f + last + 4);
			static const unsigned th[3] = {1, 2, 4};
			for (int t = t_quick(); t < 3; t++) { /* quick: 2 and 4 (1 is every test's path) */
				/* a late block's checksum: named exactly */
				memcpy(g, f, sz);
				g[last + 16 + lastlen - 5] ^= 0x20;
				t_write_file(path_of("bad.snap"), g, sz);
				E(refused_as(env, dst, "bad.snap", th[t], KV_ECORRUPT, "checksum mismatch in block", (long)last, (long)last));
				/* the second and the last block both bad: the second is named */
				g[second + 16 + 7] ^= 0x20;
				t_write_file(path_of("bad.snap"), g, sz);
				E(refused_as(env, dst, "bad.snap", th[t], KV_ECORRUPT, "checksum mismatch in block", (long)second, (long)second));
				/* an entry of the second block malformed (its checksum right) and the
				 * last block's checksum wrong: the entry is named */
				memcpy(g, f, sz);
				g[second + 16 + 9] = 0x80; /* the first entry's flags */
				fix_block(g, second);
				fix_trailer(g, trailer);
				g[last + 16 + 3] ^= 0x20;
				t_write_file(path_of("bad.snap"), g, sz);
				E(refused_as(env, dst, "bad.snap", th[t], KV_ECORRUPT, "unknown flags", (long)second + 16, (long)second + 16));
				/* the 'Z' count wrong (checksums right): named only when no block before it is bad */
				memcpy(g, f, sz);
				wr64(g + zblk + 16, rd32(g + zblk + 16) + 1);
				fix_block(g, zblk);
				fix_trailer(g, trailer);
				t_write_file(path_of("bad.snap"), g, sz);
				E(refused_as(env, dst, "bad.snap", th[t], KV_ECORRUPT, "should hold", -1, -1));
				g[last + 16 + 11] ^= 0x20;
				t_write_file(path_of("bad.snap"), g, sz);
				E(refused_as(env, dst, "bad.snap", th[t], KV_ECORRUPT, "checksum mismatch in block", (long)last, (long)last));
				/* the file cut in its last block, and with the second block bad as well */
				t_write_file(path_of("bad.snap"), f, last + 16 + lastlen / 2);
				E(refused_as(env, dst, "bad.snap", th[t], KV_ECORRUPT, "file truncated: block", (long)last, (long)last));
				memcpy(g, f, sz);
				g[second + 16 + 7] ^= 0x20;
				t_write_file(path_of("bad.snap"), g, last + 16 + lastlen / 2);
				E(refused_as(env, dst, "bad.snap", th[t], KV_ECORRUPT, "checksum mismatch in block", (long)second, (long)second));
			}
			/* a read failing on the thread that builds a block (SHARDKV_FAULT_IO
			 * readat: the read covering that byte fails) */
			static const int which[2] = {1, -1};
			for (int w = 0; w < 2; w++) {
				size_t blk = eblk[which[w] < 0 ? ne - 1 : (size_t)which[w]];
				size_t byte = blk + 16 + rd32(f + blk + 4) / 2;
				char spec[64];
				snprintf(spec, sizeof spec, "readat=EIO@%zu", byte);
				setenv("SHARDKV_FAULT_IO", spec, 1);
				kv_env *fe = t_env((size_t)512 << 20);
				unsetenv("SHARDKV_FAULT_IO");
				kv_ns *fd = fe ? t_ns(fe, "dst", &cfg) : NULL;
				if (fd)
					bigfill(fd, 'a');
				for (int t = t_quick(); fd && t < 3; t++) {
					t_write_file(path_of("bad.snap"), f, sz);
					E(refused_as(fe, fd, "bad.snap", th[t], KV_EIO, "injected", (long)blk + 16, (long)byte));
					/* with a bad block before it, that block is named; after it, the read is */
					memcpy(g, f, sz);
					g[eblk[0] + 16 + 3] ^= 0x20;
					t_write_file(path_of("bad.snap"), g, sz);
					E(refused_as(fe, fd, "bad.snap", th[t], KV_ECORRUPT, "checksum mismatch in block", (long)eblk[0], (long)eblk[0]));
					if (blk != last) {
						memcpy(g, f, sz);
						g[last + 16 + 3] ^= 0x20;
						t_write_file(path_of("bad.snap"), g, sz);
						E(refused_as(fe, fd, "bad.snap", th[t], KV_EIO, "could not read", (long)blk + 16, (long)byte));
					}
				}
				if (fd)
					kv_ns_close(fd);
				if (fe)
					kv_env_close(fe);
			}
			/* and the file itself still loads */
			kv_error err;
			EOK(kv_load_threads(env, NULL, path_of("multi.snap"), "src", "dst", 4, &err));
			E(bigholds(env, dst, 'b'));
		}
		free(f);
		free(g);
		if (dst)
			kv_ns_close(dst);
		if (env)
			kv_env_close(env);
	}
}

/* Write `to`: the one-namespace file `from` with its entries replaced by one
 * 'E' block of n entries with an empty key and value (all the same key). */
static int write_tiny_entries(const char *from, const char *to, size_t n)
{
	size_t sz;
	unsigned char *f = t_read_file(from, &sz);
	size_t nb = 0;
	for (size_t o = 32; f && o + 16 <= sz && rd32(f + o) != 'E'; o += 16 + rd32(f + o + 4))
		nb = o + 16 + rd32(f + o + 4); /* the header and the 'N' */
	size_t m = nb + 16 + n * 10 + 24 + 32;
	unsigned char *g = f && nb ? calloc(1, m) : NULL;
	int ok = g != NULL;
	if (ok) {
		memcpy(g, f, nb);
		wr32(g + nb, 'E');
		wr32(g + nb + 4, (uint32_t)(n * 10)); /* each entry: klen 0, vlen 0, type 0, flags 0 */
		fix_block(g, nb);
		size_t z = nb + 16 + n * 10;
		wr32(g + z, 'Z');
		wr32(g + z + 4, 8);
		wr64(g + z + 16, n);
		fix_block(g, z);
		size_t t = z + 24;
		wr32(g + t, 'T');
		wr32(g + t + 4, 16);
		wr64(g + t + 16, 3);
		fix_trailer(g, t);
		ok = t_write_file(to, g, m) == 0;
	}
	free(f);
	free(g);
	return ok;
}

static void test_block_entries(void)
{
	TEST("a block holding more entries than a 16 MiB block can is refused; one holding the most loads")
	{
		/* the records of a block are allocated before its job runs (a builder
		 * allocates nothing): room for as many entries as a block written by a
		 * save can hold, every one starting in its first 16 MiB */
		kv_env *env = t_env((size_t)512 << 20);
		kv_ns_config cfg;
		kv_ns_config_init(&cfg);
		cfg.shards = 4;
		kv_ns *t = env ? t_ns(env, "tiny", &cfg) : NULL;
		kv_error err;
		if (t) {
			EOK(kv_set(t, K("k"), K("v"), KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL));
			EOK(kv_save(env, "tiny", path_of("tiny.snap"), &err));
			size_t most = ((size_t)16 << 20) / 10 + 1;
			for (unsigned th = t_quick() ? 2 : 1; th <= 2; th++) {
				if (E(write_tiny_entries(path_of("tiny.snap"), path_of("bad.snap"), most + 1))) {
					E(kv_load_threads(env, NULL, path_of("bad.snap"), "tiny", "tiny", th, &err) == KV_ECORRUPT &&
					  strstr(err.msg, "holds more than"));
					if (th == 1)
						printf("    %s\n", err.msg);
					kv_buf b = KV_BUF_INIT;
					E(kv_get(t, K("k"), &b) == KV_OK && t_buf_is(&b, "v", 1)); /* untouched */
					kv_buf_free(env, &b);
				}
				if (E(write_tiny_entries(path_of("tiny.snap"), path_of("bad.snap"), most))) {
					EOK(kv_load_threads(env, NULL, path_of("bad.snap"), "tiny", "tiny2", th, &err));
					kv_ns_stats st;
					kv_ns *t2;
					if (EOK(kv_ns_open(env, "tiny2", &t2))) {
						E(kv_ns_stats_get(t2, &st) == KV_OK && st.keys == 1); /* the empty key, the last wins */
						kv_ns_close(t2);
					}
					EOK(kv_ns_drop(env, "tiny2"));
				}
			}
			kv_ns_close(t);
		}
		if (env)
			kv_env_close(env);
	}
}

static void test_v2_fixture(void)
{
	TEST("a version 2 snapshot (whole-file trailer hash) loads on 1 and 2 threads")
	{
		/* tests/unit/fixtures/snapshot-v2.kvs, see make_snapshot_v2.c there */
		char path[512];
		const char *srcf = __FILE__, *slash = strrchr(srcf, '/');
		snprintf(path, sizeof path, "%.*s/fixtures/snapshot-v2.kvs", slash ? (int)(slash - srcf) : 1,
		         slash ? srcf : ".");
		for (unsigned th = 1; th <= 2; th++) {
			kv_env *env = t_env((size_t)32 << 20);
			if (!env)
				continue;
			kv_error err;
			EOK(kv_load_threads(env, NULL, path, NULL, NULL, th, &err));
			kv_ns *a, *b;
			if (EOK(kv_ns_open(env, "v2", &a)) && EOK(kv_ns_open(env, "v2plain", &b))) {
				kv_buf buf = KV_BUF_INIT;
				EOK(kv_get(a, K("s"), &buf));
				E(t_buf_is(&buf, "hello", 5) && buf.type == KV_T_TEXT);
				EOK(kv_get(a, K("ttl"), &buf));
				E(buf.expires_at == FAR_MS);
				EOK(kv_hget(a, K("h"), K("f"), &buf));
				E(t_buf_is(&buf, "fv", 2));
				EOK(kv_get(b, K("k999"), &buf));
				E(t_buf_is(&buf, "v999", 4));
				kv_ns_stats st;
				EOK(kv_ns_stats_get(b, &st));
				E(st.keys == 1000);
				kv_buf_free(env, &buf);
				kv_ns_close(a);
				kv_ns_close(b);
			}
			/* saved again it is version 3, and loads again */
			EOK(kv_save(env, NULL, path_of("v3.snap"), &err));
			size_t sz;
			unsigned char *f = t_read_file(path_of("v3.snap"), &sz);
			E(f && sz > 32 && rd32(f + 8) == 3);
			free(f);
			EOK(kv_load_threads(env, NULL, path_of("v3.snap"), "v2plain", "again", th, &err));
			kv_env_close(env);
		}
	}
}

int main(int argc, char **argv)
{
	t_init(argc, argv);
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, sizeof dir, "%s/shardkv-loadthr-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_threads();
	test_out_of_memory();
	test_later_block();
	test_error_order();
	test_block_entries();
	test_v2_fixture();
	static const char *files[] = {"src.snap", "dup.snap", "coll.snap", "bad.snap", "big.snap", "small.snap", "v3.snap",
	                              "multi.snap", "gen_a.snap", "colldup.snap", "tiny.snap"};
	for (size_t i = 0; i < sizeof files / sizeof *files; i++)
		unlink(path_of(files[i]));
	rmdir(dir);
	return t_done();
}
