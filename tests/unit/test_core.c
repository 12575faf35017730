/*
 * test_core.c -- every single-key call, namespace call and environment call of
 * kv.h, with their error paths (issue 2).  Single-threaded; concurrency lives in
 * test_concurrency.c, the failing allocator in test_alloc.c.
 */
#include <locale.h>
#include <math.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "test.h"

#define HOUR_MS 3600000LL

static int set_s(kv_ns *ns, const char *k, const char *v)
{
	return kv_set(ns, k, strlen(k), v, strlen(v), KV_T_TEXT, KV_EXPIRE_NEVER, 0, NULL);
}

/* Is key's value exactly the NUL-terminated v? */
static int val_is(kv_env *env, kv_ns *ns, const void *k, size_t kl, const char *v)
{
	kv_buf b = KV_BUF_INIT;
	int rc = kv_get(ns, k, kl, &b);
	int ok = rc == KV_OK && t_buf_is(&b, v, strlen(v));
	if (!ok)
		fprintf(stderr, "    value is rc=%s len=%zu '%.*s', wanted '%s'\n", t_code_name(rc), b.len,
		        (int)(b.len > 60 ? 60 : b.len), b.data ? b.data : "", v);
	kv_buf_free(env, &b);
	return ok;
}

static int64_t ttl_of(kv_ns *ns, const char *k)
{
	int64_t t = -12345;
	if (kv_ttl(ns, k, strlen(k), &t) != KV_OK)
		return -12345;
	return t;
}

static kv_ns_stats stats_of(kv_ns *ns)
{
	kv_ns_stats st;
	memset(&st, 0xab, sizeof(st));
	E(R(kv_ns_stats_get(ns, &st)) == KV_OK);
	return st;
}

/* kv_scan callback: counts keys and whether the empty key came by. */
typedef struct scan_seen {
	size_t keys, empty;
} scan_seen;
static int see_key(void *ctx, const void *key, size_t klen, const void *val, size_t vlen, int type,
                   int64_t expires_at)
{
	scan_seen *s = ctx;
	(void)key, (void)val, (void)vlen, (void)type, (void)expires_at;
	s->keys++;
	s->empty += klen == 0;
	return 0;
}

static void test_version_and_errors(void)
{
	TEST("kv_version matches the version macros")
	{
		char want[32];
		snprintf(want, sizeof want, "%d.%d.%d", KV_VERSION_MAJOR, KV_VERSION_MINOR,
		         KV_VERSION_PATCH);
		E(kv_version() != NULL && strcmp(kv_version(), want) == 0);
		E(KV_VERSION_NUMBER == 200);
	}

	TEST("kv_strerror names every code and never returns NULL")
	{
		static const struct {
			int code;
			const char *name;
		} codes[] = {
		    {KV_NOTFOUND, "KV_NOTFOUND"},   {KV_EXISTS, "KV_EXISTS"},
		    {KV_UNCHANGED, "KV_UNCHANGED"}, {KV_ENONS, "KV_ENONS"},
		    {KV_ENSEXISTS, "KV_ENSEXISTS"}, {KV_ENSNAME, "KV_ENSNAME"},
		    {KV_ETOOMANYNS, "KV_ETOOMANYNS"}, {KV_EINVAL, "KV_EINVAL"},
		    {KV_EKEYSIZE, "KV_EKEYSIZE"},   {KV_EVALSIZE, "KV_EVALSIZE"},
		    {KV_ENOMEM, "KV_ENOMEM"},       {KV_EMAXKEYS, "KV_EMAXKEYS"},
		    {KV_EMAXMEM, "KV_EMAXMEM"},     {KV_ENOTINT, "KV_ENOTINT"},
		    {KV_EOVERFLOW, "KV_EOVERFLOW"}, {KV_ENOTFLOAT, "KV_ENOTFLOAT"},
		    {KV_ESHARDS, "KV_ESHARDS"},     {KV_EBUSY, "KV_EBUSY"},
		    {KV_EABORTED, "KV_EABORTED"},   {KV_EREGION, "KV_EREGION"},
		    {KV_EIO, "KV_EIO"},             {KV_ECORRUPT, "KV_ECORRUPT"},
		    {KV_EFORMAT, "KV_EFORMAT"},
		};
		for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
			const char *s = kv_strerror(codes[i].code);
			size_t n = strlen(codes[i].name);
			if (!E(s != NULL && strncmp(s, codes[i].name, n) == 0 && s[n] == ':' &&
			       strlen(s) > n + 2))
				fprintf(stderr, "    code %s gives '%s'\n", codes[i].name, s ? s : "(null)");
		}
		E(kv_strerror(KV_OK) != NULL && kv_strerror(KV_OK)[0] != '\0');
		E(kv_strerror(12345) != NULL);
		E(kv_strerror(-1) != NULL);
		E(kv_strerror(-30799) != NULL);
	}

	TEST("kv_now_ms follows CLOCK_REALTIME")
	{
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		int64_t mine = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
		int64_t theirs = kv_now_ms();
		E(theirs >= mine && theirs - mine < 2000);
	}
}

static void test_env(void)
{
	TEST("kv_config_init and kv_ns_config_init defaults")
	{
		kv_config c;
		memset(&c, 0x5a, sizeof c);
		kv_config_init(&c);
		E(c.region == NULL);
		E(c.memory == ((size_t)1 << 30));
		E(c.max_namespaces == 1024);
		E(c.default_shards == 16);
		E(c.mem.xRealloc == NULL && c.mem.ctx == NULL);
		kv_ns_config n;
		memset(&n, 0x5a, sizeof n);
		kv_ns_config_init(&n);
		E(n.shards == 0 && n.max_keys == 0 && n.max_memory == 0 && n.default_ttl_ms == 0);
		E(n.max_key_size == 0 && n.max_value_size == 0 && n.eviction == KV_EVICT_NONE);
	}

	TEST("kv_env_open mode (a) with defaults, stats, close")
	{
		kv_config c;
		kv_config_init(&c);
		kv_env *env = NULL;
		if (EOK(kv_env_open(&c, &env)) && E(env != NULL)) {
			kv_env_stats st;
			EOK(kv_env_stats_get(env, &st));
			E(st.namespaces == 0);
			E(st.max_namespaces == 1024);
			E(st.region_used <= st.region_size);
			E(st.region_size >= ((size_t)1 << 30) - ((size_t)1 << 20) &&
			  st.region_size <= ((size_t)1 << 30) + ((size_t)1 << 20));
			kv_env_close(env);
		}
	}

	TEST("kv_env_open refuses a bad config")
	{
		kv_config c;
		kv_env *env = NULL;
		kv_config_init(&c);
		c.memory = 16 << 20;
		c.default_shards = KV_MAX_SHARDS + 1;
		E(R(kv_env_open(&c, &env)) == KV_EINVAL);
		kv_config_init(&c);
		c.memory = KV_REGION_MAX + 4096;
		int rc = kv_env_open(&c, &env);
		E(R(rc) == KV_EREGION || rc == KV_EINVAL);
		kv_config_init(&c);
		c.memory = 64; /* cannot hold the store's own tables */
		rc = kv_env_open(&c, &env);
		E(R(rc) == KV_EREGION || rc == KV_EINVAL);
	}

	TEST("mode (b): kv_region_min_size is exactly the smallest region accepted")
	{
		size_t min = kv_region_min_size(4);
		E(min > 0 && min < ((size_t)64 << 20));
		size_t sz = min + 4096;
		void *region = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (E(region != MAP_FAILED)) {
			kv_config c;
			kv_env *env = NULL;
			kv_config_init(&c);
			c.region = region;
			c.max_namespaces = 4;
			c.region_size = min - 8;
			E(R(kv_env_open(&c, &env)) == KV_EREGION);
			c.region_size = min;
			if (EOK(kv_env_open(&c, &env))) {
				kv_env_stats st;
				EOK(kv_env_stats_get(env, &st));
				E(st.region_size == min);
				E(st.max_namespaces == 4);
				kv_env_close(env);
			}
			E(kv_region_min_size(1024) >= min);
			munmap(region, sz);
		}
	}

	TEST("mode (b): kv_env_attach sees the formatted store and refuses garbage")
	{
		size_t sz = 16 << 20;
		void *region = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		void *junk = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (E(region != MAP_FAILED && junk != MAP_FAILED)) {
			kv_config c;
			kv_env *env = NULL, *env2 = NULL;
			kv_ns *a = NULL, *b = NULL;
			kv_config_init(&c);
			c.region = region;
			c.region_size = sz;
			c.max_namespaces = 8;
			if (EOK(kv_env_open(&c, &env))) {
				a = t_ns(env, "shared", NULL);
				if (a)
					EOK(set_s(a, "k", "from-first"));
				if (EOK(kv_env_attach(region, sz, NULL, &env2))) {
					if (EOK(kv_ns_open(env2, "shared", &b))) {
						E(val_is(env2, b, K("k"), "from-first"));
						EOK(set_s(b, "k2", "from-second"));
						if (a)
							E(val_is(env, a, K("k2"), "from-second"));
						kv_ns_close(b);
					}
					kv_env_stats st;
					EOK(kv_env_stats_get(env2, &st));
					E(st.namespaces == 1 && st.max_namespaces == 8);
					kv_env_close(env2);
				}
				/* the attached handle's close leaves the store alone */
				if (a) {
					E(val_is(env, a, K("k"), "from-first"));
					kv_ns_close(a);
				}
				kv_env_close(env);
			}
			memset(junk, 0x77, 4096);
			env2 = NULL;
			E(R(kv_env_attach(junk, sz, NULL, &env2)) == KV_EREGION);
			memset(junk, 0, 4096);
			E(R(kv_env_attach(junk, sz, NULL, &env2)) == KV_EREGION);
			munmap(region, sz);
			munmap(junk, sz);
		}
	}

	TEST("kv_buf_free resets the buffer")
	{
		kv_env *env = t_env(16 << 20);
		if (env) {
			kv_ns *ns = t_ns(env, "b", NULL);
			if (ns) {
				kv_buf b = KV_BUF_INIT;
				EOK(set_s(ns, "k", "hello"));
				EOK(kv_get(ns, K("k"), &b));
				kv_buf_free(env, &b);
				E(b.data == NULL && b.len == 0 && b.cap == 0 && b.type == KV_T_NONE &&
				  b.expires_at == 0);
				kv_buf_free(env, &b); /* twice is harmless */
				kv_ns_close(ns);
			}
			kv_env_close(env);
		}
	}

	TEST("fork in mode (a): the child works on a private copy of the store as of the fork")
	{
		kv_env *env = t_env(16 << 20);
		kv_ns *ns = env ? t_ns(env, "f", NULL) : NULL;
		if (ns) {
			EOK(set_s(ns, "before", "1"));
			pid_t pid = fork();
			if (pid == 0) {
				t_child_begin();
				E(val_is(env, ns, K("before"), "1"));
				EOK(set_s(ns, "child", "c"));
				EOK(kv_del(ns, K("before")));
				t_sleep_ms(200); /* the parent writes meanwhile */
				ERC(kv_exists(ns, K("parent")), KV_NOTFOUND);
				kv_ns_close(ns);
				kv_env_close(env);
				t_child_exit();
			}
			E(pid > 0);
			EOK(set_s(ns, "parent", "p"));
			int st = -1;
			waitpid(pid, &st, 0);
			E(WIFEXITED(st) && WEXITSTATUS(st) == 0);
			E(val_is(env, ns, K("before"), "1"));
			ERC(kv_exists(ns, K("child")), KV_NOTFOUND);
			kv_ns_close(ns);
		}
		if (env)
			kv_env_close(env);
	}
}

static void test_namespaces(void)
{
	TEST("namespace names: valid, invalid, too long, duplicate")
	{
		kv_env *env = t_env(32 << 20);
		if (env) {
			char name63[64], name64[65];
			memset(name63, 'n', 63);
			name63[63] = 0;
			memset(name64, 'n', 64);
			name64[64] = 0;
			EOK(kv_ns_create(env, "Az09_.:-", NULL));
			EOK(kv_ns_create(env, name63, NULL));
			E(R(kv_ns_create(env, name64, NULL)) == KV_ENSNAME);
			E(R(kv_ns_create(env, "", NULL)) == KV_ENSNAME);
			E(R(kv_ns_create(env, "a b", NULL)) == KV_ENSNAME);
			E(R(kv_ns_create(env, "a/b", NULL)) == KV_ENSNAME);
			E(R(kv_ns_create(env, "caf\xc3\xa9", NULL)) == KV_ENSNAME);
			E(R(kv_ns_create(env, "Az09_.:-", NULL)) == KV_ENSEXISTS);
			kv_ns *ns = NULL;
			E(R(kv_ns_open(env, "nope", &ns)) == KV_ENONS);
			E(R(kv_ns_open(env, "a b", &ns)) == KV_ENSNAME);
			E(R(kv_ns_drop(env, "nope")) == KV_ENONS);
			if (EOK(kv_ns_open(env, name63, &ns))) {
				E(strcmp(kv_ns_name(ns), name63) == 0);
				kv_ns_close(ns);
			}
			kv_env_close(env);
		}
	}

	TEST("namespace config validation")
	{
		kv_env *env = t_env(64 << 20);
		if (env) {
			kv_ns_config c;
			kv_ns_config_init(&c);
			c.shards = KV_MAX_SHARDS + 1;
			E(R(kv_ns_create(env, "s", &c)) == KV_ESHARDS);
			kv_ns_config_init(&c);
			c.eviction = 99;
			E(R(kv_ns_create(env, "e", &c)) == KV_EINVAL);
			kv_ns_config_init(&c);
			c.max_key_size = KV_KEY_SIZE_LIMIT + 1;
			E(R(kv_ns_create(env, "k", &c)) == KV_EINVAL);
			kv_ns_config_init(&c);
			c.max_value_size = (uint32_t)KV_VALUE_SIZE_LIMIT + 1;
			E(R(kv_ns_create(env, "v", &c)) == KV_EINVAL);
			size_t n = 99;
			EOK(kv_ns_list(env, NULL, 0, &n));
			E(n == 0); /* nothing was created by the failures */

			kv_ns_config_init(&c);
			c.shards = 3;
			c.max_keys = 1000;
			c.max_memory = 1 << 20;
			c.default_ttl_ms = 5000;
			c.max_key_size = 100;
			c.max_value_size = 1000;
			c.eviction = KV_EVICT_ALLKEYS_RANDOM;
			kv_ns *ns = t_ns(env, "full", &c);
			if (ns) {
				kv_ns_stats st = stats_of(ns);
				E(strcmp(st.name, "full") == 0);
				E(st.config.shards == 3 && st.config.max_keys == 1000 &&
				  st.config.max_memory == (1 << 20) && st.config.default_ttl_ms == 5000 &&
				  st.config.max_key_size == 100 && st.config.max_value_size == 1000 &&
				  st.config.eviction == KV_EVICT_ALLKEYS_RANDOM);
				E(st.keys == 0);
				kv_ns_close(ns);
			}
			ns = t_ns(env, "dflt", NULL);
			if (ns) {
				kv_ns_stats st = stats_of(ns);
				E(st.config.shards == 16);
				kv_ns_close(ns);
			}
			kv_env_close(env);
		}
	}

	TEST("default_shards of the env applies to shards 0")
	{
		kv_config c;
		kv_env *env = NULL;
		kv_config_init(&c);
		c.memory = 32 << 20;
		c.default_shards = 5;
		if (EOK(kv_env_open(&c, &env))) {
			kv_ns *ns = t_ns(env, "x", NULL);
			if (ns) {
				E(stats_of(ns).config.shards == 5);
				kv_ns_close(ns);
			}
			kv_env_close(env);
		}
	}

	TEST("max_namespaces: the table fills with KV_ETOOMANYNS, drop frees a slot")
	{
		kv_config c;
		kv_env *env = NULL;
		kv_config_init(&c);
		c.memory = 32 << 20;
		c.max_namespaces = 4;
		if (EOK(kv_env_open(&c, &env))) {
			EOK(kv_ns_create(env, "n1", NULL));
			EOK(kv_ns_create(env, "n2", NULL));
			EOK(kv_ns_create(env, "n3", NULL));
			EOK(kv_ns_create(env, "n4", NULL));
			E(R(kv_ns_create(env, "n5", NULL)) == KV_ETOOMANYNS);
			EOK(kv_ns_drop(env, "n2"));
			EOK(kv_ns_create(env, "n5", NULL));
			kv_env_stats st;
			EOK(kv_env_stats_get(env, &st));
			E(st.namespaces == 4 && st.max_namespaces == 4);
			kv_env_close(env);
		}
	}

	TEST("kv_ns_list: sorted, capped, counts")
	{
		kv_env *env = t_env(32 << 20);
		if (env) {
			const char *names[] = {"zeta", "alpha", "Mid", "beta", "alpha2"};
			for (int i = 0; i < 5; i++)
				EOK(kv_ns_create(env, names[i], NULL));
			kv_ns *ns = NULL;
			if (EOK(kv_ns_open(env, "beta", &ns))) {
				EOK(set_s(ns, "a", "1"));
				EOK(set_s(ns, "b", "2"));
				kv_ns_close(ns);
			}
			kv_ns_stats out[8];
			size_t n = 0;
			EOK(kv_ns_list(env, out, 8, &n));
			if (E(n == 5)) {
				/* sorted by name, bytewise */
				E(strcmp(out[0].name, "Mid") == 0);
				E(strcmp(out[1].name, "alpha") == 0);
				E(strcmp(out[2].name, "alpha2") == 0);
				E(strcmp(out[3].name, "beta") == 0);
				E(strcmp(out[4].name, "zeta") == 0);
				E(out[3].keys == 2 && out[0].keys == 0);
				E(out[3].config.shards == 16);
			}
			n = 0;
			EOK(kv_ns_list(env, out, 2, &n));
			E(n == 5);
			E(strcmp(out[0].name, "Mid") == 0 && strcmp(out[1].name, "alpha") == 0);
			n = 0;
			EOK(kv_ns_list(env, NULL, 0, &n));
			E(n == 5);
			EOK(kv_ns_drop(env, "alpha"));
			EOK(kv_ns_list(env, out, 8, &n));
			E(n == 4 && strcmp(out[1].name, "alpha2") == 0);
			kv_env_stats st;
			EOK(kv_env_stats_get(env, &st));
			E(st.namespaces == 4);
			kv_env_close(env);
		}
	}

	TEST("namespaces are isolated")
	{
		kv_env *env = t_env(32 << 20);
		if (env) {
			kv_ns *a = t_ns(env, "a", NULL), *b = t_ns(env, "b", NULL);
			if (a && b) {
				EOK(set_s(a, "k", "in-a"));
				ERC(kv_exists(b, K("k")), KV_NOTFOUND);
				EOK(set_s(b, "k", "in-b"));
				E(val_is(env, a, K("k"), "in-a"));
				E(val_is(env, b, K("k"), "in-b"));
				EOK(kv_ns_flush(b));
				E(val_is(env, a, K("k"), "in-a"));
				ERC(kv_exists(b, K("k")), KV_NOTFOUND);
			}
			if (a)
				kv_ns_close(a);
			if (b)
				kv_ns_close(b);
			kv_env_close(env);
		}
	}

	TEST("handles follow drop and re-create; calls on a dropped namespace say KV_ENONS")
	{
		kv_env *env = t_env(32 << 20);
		if (env) {
			kv_ns *h = t_ns(env, "cycle", NULL), *h2 = NULL;
			if (h) {
				kv_buf b = KV_BUF_INIT;
				int64_t r = 0;
				size_t len = 0;
				kv_ns_stats st;
				kv_ns_config cfg;
				kv_ns_config_init(&cfg);
				EOK(set_s(h, "old", "1"));
				EOK(kv_ns_drop(env, "cycle"));
				ERC(kv_get(h, K("old"), &b), KV_ENONS);
				ERC(set_s(h, "x", "y"), KV_ENONS);
				ERC(kv_del(h, K("old")), KV_ENONS);
				ERC(kv_exists(h, K("old")), KV_ENONS);
				ERC(kv_incr(h, K("n"), 1, &r), KV_ENONS);
				ERC(kv_strlen(h, K("old"), &len), KV_ENONS);
				ERC(kv_ns_stats_get(h, &st), KV_ENONS);
				ERC(kv_ns_flush(h), KV_ENONS);
				ERC(kv_ns_configure(h, &cfg), KV_ENONS);
				ERC(kv_ns_resize(h, 32), KV_ENONS);
				ERC(kv_ns_drop(env, "cycle"), KV_ENONS);
				E(R(kv_ns_open(env, "cycle", &h2)) == KV_ENONS);
				kv_ns_config_init(&cfg);
				cfg.shards = 2;
				EOK(kv_ns_create(env, "cycle", &cfg));
				/* the old handle now works on the new, empty namespace */
				ERC(kv_get(h, K("old"), &b), KV_NOTFOUND);
				EOK(set_s(h, "new", "2"));
				if (EOK(kv_ns_open(env, "cycle", &h2))) {
					E(val_is(env, h2, K("new"), "2"));
					E(stats_of(h2).config.shards == 2);
					E(stats_of(h).keys == 1);
					kv_ns_close(h2);
				}
				kv_buf_free(env, &b);
				kv_ns_close(h);
			}
			kv_env_close(env);
		}
	}

	TEST("drop returns memory: create, fill, drop 30 times in a small region")
	{
		kv_config c;
		kv_env *env = NULL;
		kv_config_init(&c);
		c.memory = 24 << 20;
		if (EOK(kv_env_open(&c, &env))) {
			char val[1000];
			memset(val, 'v', sizeof val);
			int fails = 0;
			kv_env_stats st0, st1;
			EOK(kv_env_stats_get(env, &st0));
			for (int round = 0; round < 30 && !fails; round++) {
				kv_ns *ns = t_ns(env, "tmp", NULL);
				if (!ns) {
					fails++;
					break;
				}
				for (int i = 0; i < 8000 && !fails; i++) {
					char k[32];
					int kl = snprintf(k, sizeof k, "key:%d", i);
					if (!EOK(kv_set(ns, k, (size_t)kl, val, sizeof val, KV_T_BYTES,
					                KV_EXPIRE_NEVER, 0, NULL))) {
						fprintf(stderr, "    round %d key %d\n", round, i);
						fails++;
					}
				}
				kv_ns_close(ns);
				if (!EOK(kv_ns_drop(env, "tmp")))
					fails++;
			}
			EOK(kv_env_stats_get(env, &st1));
			E(st1.namespaces == st0.namespaces);
			kv_env_close(env);
		}
	}
}

static void test_configure_resize_flush(void)
{
	TEST("kv_ns_configure changes limits, TTL and eviction of a live namespace")
	{
		kv_env *env = t_env(32 << 20);
		if (env) {
			kv_ns *ns = t_ns(env, "cfg", NULL);
			if (ns) {
				for (int i = 0; i < 10; i++) {
					char k[32];
					snprintf(k, sizeof k, "k%d", i);
					EOK(set_s(ns, k, "v"));
				}
				kv_ns_config c;
				kv_ns_config_init(&c);
				c.max_keys = 5;
				c.default_ttl_ms = 60000;
				c.max_value_size = 10;
				EOK(kv_ns_configure(ns, &c));
				kv_ns_stats st = stats_of(ns);
				E(st.config.max_keys == 5 && st.config.default_ttl_ms == 60000 &&
				  st.config.max_value_size == 10 && st.config.shards == 16);
				/* nothing removed at once */
				E(st.keys == 10);
				E(val_is(env, ns, K("k9"), "v"));
				/* but a new key is refused */
				ERC(set_s(ns, "new", "v"), KV_EMAXKEYS);
				ERC(kv_exists(ns, K("new")), KV_NOTFOUND);
				ERC(set_s(ns, "k1", "01234567890"), KV_EVALSIZE);
				E(val_is(env, ns, K("k1"), "v"));
				/* the new default TTL applies */
				EOK(kv_del(ns, K("k0")));
				EOK(kv_del(ns, K("k1")));
				EOK(kv_del(ns, K("k2")));
				EOK(kv_del(ns, K("k3")));
				EOK(kv_del(ns, K("k4")));
				EOK(kv_del(ns, K("k5")));
				int64_t before = kv_now_ms();
				EOK(kv_set(ns, K("d"), K("v"), KV_T_TEXT, KV_EXPIRE_DEFAULT, 0, NULL));
				int64_t after = kv_now_ms();
				int64_t t = ttl_of(ns, "d");
				E(t >= before + 60000 && t <= after + 60000);
				c.eviction = 42;
				E(R(kv_ns_configure(ns, &c)) == KV_EINVAL);
				E(stats_of(ns).config.eviction == KV_EVICT_NONE);
				c.eviction = KV_EVICT_ALLKEYS_LRU;
				c.max_key_size = KV_KEY_SIZE_LIMIT + 1;
				E(R(kv_ns_configure(ns, &c)) == KV_EINVAL);
				E(stats_of(ns).config.max_key_size != KV_KEY_SIZE_LIMIT + 1);
				kv_ns_close(ns);
			}
			kv_env_close(env);
		}
	}

	TEST("kv_ns_resize: only upwards, keys stay readable")
	{
		kv_env *env = t_env(64 << 20);
		if (env) {
			kv_ns_config c;
			kv_ns_config_init(&c);
			c.shards = 4;
			kv_ns *ns = t_ns(env, "rs", &c);
			if (ns) {
				char k[32], v[32];
				for (int i = 0; i < 5000; i++) {
					snprintf(k, sizeof k, "key:%07d", i);
					snprintf(v, sizeof v, "val%d", i);
					EOK(set_s(ns, k, v));
				}
				E(R(kv_ns_resize(ns, 4)) == KV_ESHARDS);
				E(R(kv_ns_resize(ns, 2)) == KV_ESHARDS);
				E(R(kv_ns_resize(ns, 0)) == KV_ESHARDS);
				E(R(kv_ns_resize(ns, KV_MAX_SHARDS + 1)) == KV_ESHARDS);
				EOK(kv_ns_resize(ns, 7));
				E(stats_of(ns).config.shards == 7);
				EOK(kv_ns_resize(ns, 64));
				kv_ns_stats st = stats_of(ns);
				E(st.config.shards == 64 && st.keys == 5000);
				int bad = 0;
				for (int i = 0; i < 5000; i++) {
					snprintf(k, sizeof k, "key:%07d", i);
					snprintf(v, sizeof v, "val%d", i);
					if (!val_is(env, ns, k, strlen(k), v))
						bad++;
				}
				E(bad == 0);
				kv_ns_close(ns);
			}
			kv_env_close(env);
		}
	}

	TEST("kv_ns_flush empties the namespace and keeps its config")
	{
		kv_env *env = t_env(32 << 20);
		if (env) {
			kv_ns_config c;
			kv_ns_config_init(&c);
			c.max_keys = 77;
			kv_ns *ns = t_ns(env, "fl", &c);
			if (ns) {
				for (int i = 0; i < 50; i++) {
					char k[32];
					snprintf(k, sizeof k, "k%d", i);
					EOK(set_s(ns, k, "v"));
				}
				E(stats_of(ns).keys == 50);
				EOK(kv_ns_flush(ns));
				kv_ns_stats st = stats_of(ns);
				E(st.keys == 0 && st.config.max_keys == 77);
				ERC(kv_exists(ns, K("k3")), KV_NOTFOUND);
				kv_buf b = KV_BUF_INIT;
				ERC(kv_random_key(ns, &b), KV_NOTFOUND);
				kv_buf_free(env, &b);
				EOK(set_s(ns, "k3", "again"));
				E(val_is(env, ns, K("k3"), "again"));
				kv_ns_close(ns);
			}
			kv_env_close(env);
		}
	}

	TEST("stats: keys, bytes, hits, misses")
	{
		kv_env *env = t_env(32 << 20);
		if (env) {
			kv_ns *ns = t_ns(env, "st", NULL);
			if (ns) {
				kv_ns_stats st0 = stats_of(ns);
				char big[5000];
				memset(big, 'x', sizeof big);
				EOK(kv_set(ns, K("big"), big, sizeof big, KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL));
				kv_ns_stats st1 = stats_of(ns);
				E(st1.keys == 1);
				E(st1.bytes >= st0.bytes + sizeof big);
				kv_buf b = KV_BUF_INIT;
				EOK(kv_get(ns, K("big"), &b));
				ERC(kv_get(ns, K("nothere"), &b), KV_NOTFOUND);
				kv_ns_stats st2 = stats_of(ns);
				E(st2.hits >= st1.hits + 1);
				E(st2.misses >= st1.misses + 1);
				EOK(kv_del(ns, K("big")));
				kv_ns_stats st3 = stats_of(ns);
				E(st3.keys == 0 && st3.bytes < st1.bytes);
				kv_buf_free(env, &b);
				kv_ns_close(ns);
			}
			kv_env_close(env);
		}
	}
}

/* kv_get's fast path (ops.c: get_fast) copies values of up to 128 bytes
 * inline, in size classes, and takes keys of 9..16 bytes by a path of their
 * own: every class and both key paths, through a buffer already big enough
 * (so the fast path answers), give the exact bytes, one NUL after them and
 * nothing written past it, the type and expiry, and one hit or miss each. */
static void test_get_sizes(void)
{
	TEST("get: values of 0..300 bytes and keys of 1..40 bytes through the fast path, exact bytes and counts")
	{
		kv_env *env = t_env(32 << 20);
		kv_ns *ns = env ? t_ns(env, "gs", NULL) : NULL;
		if (ns) {
			static const size_t klens[] = {1, 7, 8, 9, 11, 16, 17, 40};
			static const size_t vlens[] = {0,  1,  2,  3,  4,  7,  8,   15,  16,  17,  31, 32,
			                               33, 63, 64, 65, 96, 100, 127, 128, 129, 200, 300};
			kv_buf b = KV_BUF_INIT;
			char key[40], val[300];
			int64_t exp = kv_now_ms() + 3600 * 1000;
			for (size_t ki = 0; ki < sizeof klens / sizeof *klens; ki++)
				for (size_t vi = 0; vi < sizeof vlens / sizeof *vlens; vi++) {
					memset(key, 'a' + (int)ki, sizeof key);
					key[0] = (char)('A' + (int)vi);
					for (size_t j = 0; j < vlens[vi]; j++)
						val[j] = (char)(j * 7 + ki + vi);
					EOK(kv_set(ns, key, klens[ki], val, vlens[vi], KV_T_TEXT,
					           vi & 1 ? exp : KV_EXPIRE_NEVER, 0, NULL));
				}
			EOK(kv_get(ns, key, klens[0], &b)); /* grows b past every value */
			E(b.cap > 300);
			for (size_t ki = 0; ki < sizeof klens / sizeof *klens; ki++)
				for (size_t vi = 0; vi < sizeof vlens / sizeof *vlens; vi++) {
					size_t vlen = vlens[vi];
					memset(key, 'a' + (int)ki, sizeof key);
					key[0] = (char)('A' + (int)vi);
					for (size_t j = 0; j < vlen; j++)
						val[j] = (char)(j * 7 + ki + vi);
					memset(b.data, '#', b.cap);
					kv_ns_stats st0 = stats_of(ns);
					EOK(kv_get(ns, key, klens[ki], &b));
					kv_ns_stats st1 = stats_of(ns);
					E(b.len == vlen && memcmp(b.data, val, vlen) == 0);
					E(b.data[vlen] == 0 && b.data[vlen + 1] == '#');
					E(b.type == KV_T_TEXT && b.expires_at == (vi & 1 ? exp : 0));
					E(st1.hits == st0.hits + 1 && st1.misses == st0.misses);
					key[0] = '!'; /* the same length, a key never set */
					ERC(kv_get(ns, key, klens[ki], &b), KV_NOTFOUND);
					E(b.len == 0 && b.type == KV_T_NONE && b.expires_at == 0);
					kv_ns_stats st2 = stats_of(ns);
					E(st2.misses == st1.misses + 1 && st2.hits == st1.hits);
				}
			kv_buf_free(env, &b);
			kv_ns_close(ns);
		}
		if (env)
			kv_env_close(env);
	}
}

static void test_single_key(void)
{
	kv_env *env = t_env(64 << 20);
	if (!env)
		return;
	kv_ns *ns = t_ns(env, "sk", NULL);
	if (!ns) {
		kv_env_close(env);
		return;
	}
	kv_buf b = KV_BUF_INIT, old = KV_BUF_INIT;

	TEST("get of a missing key")
	{
		b.type = 3;
		ERC(kv_get(ns, K("missing"), &b), KV_NOTFOUND);
		E(b.type == KV_T_NONE && b.len == 0);
		ERC(kv_exists(ns, K("missing")), KV_NOTFOUND);
	}

	TEST("set/get round trip with type tag, NUL terminator and expiry 0")
	{
		EOK(kv_set(ns, K("k"), K("hello"), KV_T_TEXT, KV_EXPIRE_NEVER, 0, NULL));
		EOK(kv_get(ns, K("k"), &b));
		E(t_buf_is(&b, "hello", 5) && b.type == KV_T_TEXT && b.expires_at == 0);
		EOK(kv_exists(ns, K("k")));
		for (int t = 0; t <= 255; t += 51) {
			EOK(kv_set(ns, K("typed"), K("x"), t, KV_EXPIRE_NEVER, 0, NULL));
			EOK(kv_get(ns, K("typed"), &b));
			E(b.type == t);
		}
		ERC(kv_set(ns, K("typed"), K("y"), 256, KV_EXPIRE_NEVER, 0, NULL), KV_EINVAL);
		ERC(kv_set(ns, K("typed"), K("y"), -1, KV_EXPIRE_NEVER, 0, NULL), KV_EINVAL);
		ERC(kv_set(ns, K("typed"), K("y"), KV_T_TEXT, -3, 0, NULL), KV_EINVAL);
		EOK(kv_get(ns, K("typed"), &b));
		E(t_buf_is(&b, "x", 1) && b.type == 255);
	}

	TEST("empty values and the NULL type")
	{
		EOK(kv_set(ns, K("empty"), "", 0, KV_T_NULL, KV_EXPIRE_NEVER, 0, NULL));
		b.len = 99;
		EOK(kv_get(ns, K("empty"), &b));
		E(b.len == 0 && b.type == KV_T_NULL && b.data != NULL && b.data[0] == '\0');
		EOK(kv_exists(ns, K("empty")));
		size_t len = 99;
		EOK(kv_strlen(ns, K("empty"), &len));
		E(len == 0);
	}

	TEST("set returns the old value, also when NX refuses")
	{
		EOK(kv_set(ns, K("o"), K("first"), KV_T_TEXT, KV_EXPIRE_NEVER, 0, &old));
		E(old.type == KV_T_NONE && old.len == 0);
		EOK(kv_set(ns, K("o"), K("second"), KV_T_JSON, KV_EXPIRE_NEVER, 0, &old));
		E(t_buf_is(&old, "first", 5) && old.type == KV_T_TEXT);
		ERC(kv_set(ns, K("o"), K("third"), KV_T_TEXT, KV_EXPIRE_NEVER, KV_SET_NX, &old),
		    KV_EXISTS);
		E(t_buf_is(&old, "second", 6) && old.type == KV_T_JSON);
		E(val_is(env, ns, K("o"), "second"));
	}

	TEST("NX and XX")
	{
		EOK(kv_set(ns, K("nx"), K("1"), KV_T_TEXT, KV_EXPIRE_NEVER, KV_SET_NX, NULL));
		ERC(kv_set(ns, K("nx"), K("2"), KV_T_TEXT, KV_EXPIRE_NEVER, KV_SET_NX, NULL), KV_EXISTS);
		E(val_is(env, ns, K("nx"), "1"));
		ERC(kv_set(ns, K("xx"), K("1"), KV_T_TEXT, KV_EXPIRE_NEVER, KV_SET_XX, &old),
		    KV_NOTFOUND);
		E(old.type == KV_T_NONE);
		ERC(kv_exists(ns, K("xx")), KV_NOTFOUND);
		EOK(kv_set(ns, K("nx"), K("3"), KV_T_TEXT, KV_EXPIRE_NEVER, KV_SET_XX, &old));
		E(t_buf_is(&old, "1", 1));
		E(val_is(env, ns, K("nx"), "3"));
	}

	TEST("keys are binary: NUL bytes, high bytes, one byte")
	{
		EOK(kv_set(ns, K("a\0b"), K("v1"), KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL));
		EOK(kv_set(ns, K("a\0c"), K("v2"), KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL));
		EOK(kv_set(ns, K("a"), K("v3"), KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL));
		EOK(kv_set(ns, K("\0"), K("v4"), KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL));
		EOK(kv_set(ns, K("\0\0"), K("v5"), KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL));
		EOK(kv_set(ns, K("\xff\xfe"), K("v\0\xff"), KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL));
		E(val_is(env, ns, K("a\0b"), "v1"));
		E(val_is(env, ns, K("a\0c"), "v2"));
		E(val_is(env, ns, K("a"), "v3"));
		E(val_is(env, ns, K("\0"), "v4"));
		E(val_is(env, ns, K("\0\0"), "v5"));
		EOK(kv_get(ns, K("\xff\xfe"), &b));
		E(t_buf_is(&b, "v\0\xff", 3));
		EOK(kv_del(ns, K("a\0b")));
		ERC(kv_exists(ns, K("a\0b")), KV_NOTFOUND);
		EOK(kv_exists(ns, K("a\0c")));
	}

	TEST("the empty key is a key for every call (as in Redis)")
	{
		int64_t r, exp;
		double d;
		size_t len;
		kv_ns_stats st0 = stats_of(ns);
		ERC(kv_get(ns, "", 0, &b), KV_NOTFOUND);
		ERC(kv_exists(ns, NULL, 0), KV_NOTFOUND);
		EOK(kv_set(ns, "", 0, K("v"), KV_T_TEXT, KV_EXPIRE_NEVER, 0, NULL));
		E(stats_of(ns).keys == st0.keys + 1);
		EOK(kv_exists(ns, "", 0));
		EOK(kv_exists(ns, NULL, 0)); /* NULL with length 0 is the same key */
		EOK(kv_get(ns, NULL, 0, &b));
		E(t_buf_is(&b, "v", 1) && b.type == KV_T_TEXT);
		ERC(kv_set(ns, "", 0, K("w"), KV_T_TEXT, KV_EXPIRE_NEVER, KV_SET_NX, NULL), KV_EXISTS);
		EOK(kv_append(ns, "", 0, K("x"), &len));
		E(len == 2);
		EOK(kv_setrange(ns, "", 0, 2, K("yz"), &len));
		E(len == 4);
		EOK(kv_getrange(ns, "", 0, 1, -1, &b));
		E(t_buf_is(&b, "xyz", 3));
		EOK(kv_strlen(ns, "", 0, &len));
		E(len == 4);
		EOK(kv_expire(ns, "", 0, kv_now_ms() + 100000, 0));
		EOK(kv_ttl(ns, "", 0, &exp));
		E(exp > kv_now_ms());
		EOK(kv_persist(ns, "", 0));
		EOK(kv_consume(ns, "", 0, &b));
		E(t_buf_is(&b, "vxyz", 4));
		ERC(kv_del(ns, "", 0), KV_NOTFOUND);
		EOK(kv_incr(ns, "", 0, 5, &r));
		E(r == 5);
		EOK(kv_incr_float(ns, "", 0, K("1.5"), &d, NULL));
		E(d == 6.5);
		/* rename to and from the empty key */
		EOK(kv_rename(ns, "", 0, K("from-empty"), 0));
		ERC(kv_exists(ns, "", 0), KV_NOTFOUND);
		E(val_is(env, ns, K("from-empty"), "6.5"));
		EOK(kv_rename(ns, K("from-empty"), "", 0, 0));
		E(val_is(env, ns, "", 0, "6.5"));
		EOK(kv_rename(ns, "", 0, "", 0, 0));
		EOK(kv_del(ns, NULL, 0));
		E(stats_of(ns).keys == st0.keys);
		/* a NULL key with a length is an argument error, never a crash */
		ERC(kv_get(ns, NULL, 1, &b), KV_EINVAL);
		ERC(kv_set(ns, NULL, 3, K("v"), KV_T_TEXT, KV_EXPIRE_NEVER, 0, NULL), KV_EINVAL);
		ERC(kv_rename(ns, K("a"), NULL, 2, 0), KV_EINVAL);
	}

	TEST("the empty key: scans return it; MATCH * and an empty prefix match it, MATCH \"\" only it")
	{
		EOK(kv_set(ns, "", 0, K("e"), KV_T_TEXT, KV_EXPIRE_NEVER, 0, NULL));
		static const struct {
			const char *match, *prefix;
			int all;  /* 1: every key; 0: only the empty key; -1: every key but it */
		} cases[] = {{NULL, NULL, 1}, {"*", NULL, 1}, {NULL, "", 1}, {"", NULL, 0}, {"?*", NULL, -1}};
		for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
			kv_scan_opts o = {0};
			o.match = cases[c].match;
			o.match_len = o.match ? strlen(o.match) : 0;
			o.prefix = cases[c].prefix;
			o.count = 1000;
			scan_seen seen = {0, 0};
			uint64_t cur = 0;
			do
				EOK(kv_scan(ns, &cur, &o, see_key, &seen));
			while (cur != 0);
			uint64_t n = stats_of(ns).keys;
			E(seen.empty == (cases[c].all >= 0));
			E(seen.keys == (cases[c].all == 1 ? n : cases[c].all == 0 ? 1 : n - 1));
		}
		EOK(kv_del(ns, "", 0));
	}

	TEST("del, exists and consume")
	{
		EOK(set_s(ns, "d", "gone soon"));
		EOK(kv_del(ns, K("d")));
		ERC(kv_del(ns, K("d")), KV_NOTFOUND);
		ERC(kv_exists(ns, K("d")), KV_NOTFOUND);
		EOK(kv_set(ns, K("c"), K("take me"), KV_T_JSON, KV_EXPIRE_NEVER, 0, NULL));
		EOK(kv_consume(ns, K("c"), &b));
		E(t_buf_is(&b, "take me", 7) && b.type == KV_T_JSON);
		ERC(kv_consume(ns, K("c"), &b), KV_NOTFOUND);
		E(b.type == KV_T_NONE);
		ERC(kv_get(ns, K("c"), &b), KV_NOTFOUND);
	}

	TEST("incr: missing key, existing, negative, result type")
	{
		int64_t r = 0;
		EOK(kv_incr(ns, K("n"), 5, &r));
		E(r == 5);
		EOK(kv_incr(ns, K("n"), -7, &r));
		E(r == -2);
		EOK(kv_get(ns, K("n"), &b));
		E(t_buf_is(&b, "-2", 2) && b.type == KV_T_INT);
		EOK(kv_set(ns, K("n2"), K("10"), KV_T_TEXT, KV_EXPIRE_NEVER, 0, NULL));
		EOK(kv_incr(ns, K("n2"), 0, &r));
		E(r == 10);
		EOK(kv_get(ns, K("n2"), &b));
		E(t_buf_is(&b, "10", 2) && b.type == KV_T_INT);
		EOK(kv_set(ns, K("n3"), K("-9223372036854775808"), KV_T_TEXT, KV_EXPIRE_NEVER, 0, NULL));
		EOK(kv_incr(ns, K("n3"), 1, &r));
		E(r == INT64_MIN + 1);
	}

	TEST("incr refuses what Redis INCRBY refuses, and changes nothing")
	{
		static const char *bad[] = {"abc", "", " 1", "1 ", "01", "+1", "-0", "1.5", "1e3",
		                            "9223372036854775808", "-9223372036854775809", "0x10",
		                            "12a", "--1", "-"};
		for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
			int64_t r = 777;
			EOK(kv_set(ns, K("bad"), bad[i], strlen(bad[i]), KV_T_TEXT, KV_EXPIRE_NEVER, 0, NULL));
			if (!E(R(kv_incr(ns, K("bad"), 1, &r)) == KV_ENOTINT))
				fprintf(stderr, "    value '%s' was accepted\n", bad[i]);
			E(val_is(env, ns, K("bad"), bad[i]));
		}
		EOK(kv_set(ns, K("bad"), K("1\0002"), KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL));
		int64_t r;
		ERC(kv_incr(ns, K("bad"), 1, &r), KV_ENOTINT);
		static const char *good[] = {"0", "-1", "9223372036854775806", "42"};
		for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
			EOK(kv_set(ns, K("good"), good[i], strlen(good[i]), KV_T_TEXT, KV_EXPIRE_NEVER, 0,
			           NULL));
			if (!EOK(kv_incr(ns, K("good"), 1, &r)))
				fprintf(stderr, "    value '%s' was refused\n", good[i]);
			E(r == strtoll(good[i], NULL, 10) + 1);
		}
	}

	TEST("incr overflow in both directions changes nothing")
	{
		int64_t r = 0;
		EOK(kv_set(ns, K("big"), K("9223372036854775807"), KV_T_INT, KV_EXPIRE_NEVER, 0, NULL));
		ERC(kv_incr(ns, K("big"), 1, &r), KV_EOVERFLOW);
		E(val_is(env, ns, K("big"), "9223372036854775807"));
		EOK(kv_incr(ns, K("big"), -1, &r));
		E(r == INT64_MAX - 1);
		EOK(kv_set(ns, K("small"), K("-9223372036854775807"), KV_T_INT, KV_EXPIRE_NEVER, 0, NULL));
		EOK(kv_incr(ns, K("small"), -1, &r));
		E(r == INT64_MIN);
		ERC(kv_incr(ns, K("small"), -1, &r), KV_EOVERFLOW);
		ERC(kv_incr(ns, K("small"), INT64_MIN, &r), KV_EOVERFLOW);
		E(val_is(env, ns, K("small"), "-9223372036854775808"));
		ERC(kv_incr(ns, K("newkey"), INT64_MIN, &r), KV_OK);
		E(r == INT64_MIN);
	}

	TEST("incr_float: Redis INCRBYFLOAT examples and text form")
	{
		double d = 0;
		kv_buf txt = KV_BUF_INIT;
		EOK(kv_set(ns, K("f"), K("10.50"), KV_T_TEXT, KV_EXPIRE_NEVER, 0, NULL));
		EOK(kv_incr_float(ns, K("f"), K("0.1"), &d, &txt));
		E(fabs(d - 10.6) < 1e-12);
		E(t_buf_is(&txt, "10.6", 4));
		EOK(kv_incr_float(ns, K("f"), K("-5"), &d, &txt));
		E(t_buf_is(&txt, "5.6", 3));
		EOK(kv_get(ns, K("f"), &b));
		E(t_buf_is(&b, "5.6", 3) && b.type == KV_T_REAL);
		EOK(kv_set(ns, K("f"), K("5.0e3"), KV_T_TEXT, KV_EXPIRE_NEVER, 0, NULL));
		EOK(kv_incr_float(ns, K("f"), K("2.0e2"), &d, &txt));
		E(d == 5200.0 && t_buf_is(&txt, "5200", 4));
		EOK(kv_incr_float(ns, K("fnew"), K("1.5"), &d, NULL));
		E(d == 1.5 && val_is(env, ns, K("fnew"), "1.5"));
		EOK(kv_set(ns, K("fi"), K("3"), KV_T_INT, KV_EXPIRE_NEVER, 0, NULL));
		EOK(kv_incr_float(ns, K("fi"), K("1e20"), &d, &txt));
		E(t_buf_is(&txt, "100000000000000000003", 21) || t_buf_is(&txt, "100000000000000000000", 21));
		E(strchr(txt.data ? txt.data : "e", 'e') == NULL);
		kv_buf_free(env, &txt);
	}

	TEST("incr_float refuses non-floats and non-finite results")
	{
		double d;
		static const char *bad[] = {"abc", "", "1.5.5", "nan", "1x"};
		for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
			EOK(kv_set(ns, K("bf"), bad[i], strlen(bad[i]), KV_T_TEXT, KV_EXPIRE_NEVER, 0, NULL));
			if (!E(R(kv_incr_float(ns, K("bf"), K("1.0"), &d, NULL)) == KV_ENOTFLOAT))
				fprintf(stderr, "    value '%s' was accepted\n", bad[i]);
			E(val_is(env, ns, K("bf"), bad[i]));
		}
		/* binary values are not numbers, whatever follows the NUL */
		EOK(kv_set(ns, K("bf"), K("\0"), KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL));
		ERC(kv_incr_float(ns, K("bf"), K("1"), &d, NULL), KV_ENOTFLOAT);
		EOK(kv_set(ns, K("bf"), K("\0AB"), KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL));
		ERC(kv_incr_float(ns, K("bf"), K("1"), &d, NULL), KV_ENOTFLOAT);
		EOK(kv_set(ns, K("bf"), K("12\0AB"), KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL));
		ERC(kv_incr_float(ns, K("bf"), K("1"), &d, NULL), KV_ENOTFLOAT);
		EOK(kv_set(ns, K("bf"), K("12\0"), KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL));
		ERC(kv_incr_float(ns, K("bf"), K("1"), &d, NULL), KV_ENOTFLOAT);
		EOK(set_s(ns, "bf", "1"));
		ERC(kv_incr_float(ns, K("bf"), K("1\0"), &d, NULL), KV_ENOTFLOAT);
		ERC(kv_incr_float(ns, K("bf"), K("1\0002"), &d, NULL), KV_ENOTFLOAT);
		EOK(set_s(ns, "bf", "1"));
		/* Redis reads "inf" as a number, so the sum is what fails */
		ERC(kv_incr_float(ns, K("bf"), K("inf"), &d, NULL), KV_EOVERFLOW);
		E(val_is(env, ns, K("bf"), "1"));
		EOK(set_s(ns, "bfinf", "inf"));
		ERC(kv_incr_float(ns, K("bfinf"), K("1"), &d, NULL), KV_EOVERFLOW);
		ERC(kv_incr_float(ns, K("bfinf"), K("-inf"), &d, NULL), KV_EOVERFLOW);
		E(val_is(env, ns, K("bfinf"), "inf"));
		ERC(kv_incr_float(ns, K("bf"), K("nan"), &d, NULL), KV_ENOTFLOAT);
		ERC(kv_incr_float(ns, K("bfnew"), K("nan"), &d, NULL), KV_ENOTFLOAT);
		ERC(kv_exists(ns, K("bfnew")), KV_NOTFOUND);
		static const char *badby[] = {"abc", "", "1x", " 1", "1 ", "nan", "--1"};
		for (size_t i = 0; i < sizeof badby / sizeof badby[0]; i++) {
			if (!E(R(kv_incr_float(ns, K("bf"), badby[i], strlen(badby[i]), &d, NULL)) ==
			       KV_ENOTFLOAT))
				fprintf(stderr, "    increment '%s' was accepted\n", badby[i]);
		}
		ERC(kv_incr_float(ns, K("bf"), K("1e5000"), &d, NULL), KV_ENOTFLOAT);
		E(val_is(env, ns, K("bf"), "1"));
		/* long double range: 1e4000 is finite, twice 1e4932 is not */
		EOK(set_s(ns, "bf", "1e4932"));
		ERC(kv_incr_float(ns, K("bf"), K("1e4932"), &d, NULL), KV_EOVERFLOW);
		E(val_is(env, ns, K("bf"), "1e4932"));
	}

	TEST("append: creates with BYTES, keeps the tag, reports the length")
	{
		size_t nl = 0;
		EOK(kv_append(ns, K("ap"), K("abc"), &nl));
		E(nl == 3);
		EOK(kv_get(ns, K("ap"), &b));
		E(t_buf_is(&b, "abc", 3) && b.type == KV_T_BYTES);
		EOK(kv_set(ns, K("ap2"), K("x"), KV_T_TEXT, KV_EXPIRE_NEVER, 0, NULL));
		EOK(kv_append(ns, K("ap2"), K("y\0z"), &nl));
		E(nl == 4);
		EOK(kv_get(ns, K("ap2"), &b));
		E(t_buf_is(&b, "xy\0z", 4) && b.type == KV_T_TEXT);
		EOK(kv_append(ns, K("ap2"), "", 0, &nl));
		E(nl == 4);
		/* grow it past several size classes */
		char chunk[1000];
		memset(chunk, 'q', sizeof chunk);
		for (int i = 0; i < 100; i++)
			EOK(kv_append(ns, K("ap3"), chunk, sizeof chunk, &nl));
		E(nl == 100000);
		size_t len = 0;
		EOK(kv_strlen(ns, K("ap3"), &len));
		E(len == 100000);
	}

	TEST("setrange and getrange with Redis semantics")
	{
		size_t nl = 0;
		EOK(set_s(ns, "sr", "Hello World"));
		EOK(kv_setrange(ns, K("sr"), 6, K("Redis"), &nl));
		E(nl == 11 && val_is(env, ns, K("sr"), "Hello Redis"));
		EOK(kv_setrange(ns, K("sr2"), 5, K("x"), &nl));
		E(nl == 6);
		EOK(kv_get(ns, K("sr2"), &b));
		E(t_buf_is(&b, "\0\0\0\0\0x", 6));
		nl = 99;
		int rc = kv_setrange(ns, K("sr3"), 10, "", 0, &nl);
		E(R(rc) == KV_OK || rc == KV_NOTFOUND);
		E(nl == 0);
		ERC(kv_exists(ns, K("sr3")), KV_NOTFOUND);
		EOK(kv_setrange(ns, K("sr"), 100, "", 0, &nl));
		E(nl == 11 && val_is(env, ns, K("sr"), "Hello Redis"));

		EOK(set_s(ns, "gr", "This is a string"));
		EOK(kv_getrange(ns, K("gr"), 0, 3, &b));
		E(t_buf_is(&b, "This", 4));
		EOK(kv_getrange(ns, K("gr"), -3, -1, &b));
		E(t_buf_is(&b, "ing", 3));
		EOK(kv_getrange(ns, K("gr"), 0, -1, &b));
		E(t_buf_is(&b, "This is a string", 16));
		EOK(kv_getrange(ns, K("gr"), 10, 100, &b));
		E(t_buf_is(&b, "string", 6));
		EOK(kv_getrange(ns, K("gr"), 5, 3, &b));
		E(b.len == 0);
		EOK(kv_getrange(ns, K("gr"), -100, 3, &b));
		E(t_buf_is(&b, "This", 4));
		EOK(kv_getrange(ns, K("gr"), 100, 200, &b));
		E(b.len == 0);
		ERC(kv_getrange(ns, K("nokey"), 0, -1, &b), KV_NOTFOUND);
		size_t len = 0;
		EOK(kv_strlen(ns, K("gr"), &len));
		E(len == 16);
		ERC(kv_strlen(ns, K("nokey"), &len), KV_NOTFOUND);
	}

	TEST("expire, persist and ttl")
	{
		int64_t t = -1, far = kv_now_ms() + 10 * HOUR_MS;
		EOK(set_s(ns, "e", "v"));
		EOK(kv_ttl(ns, K("e"), &t));
		E(t == 0);
		ERC(kv_persist(ns, K("e")), KV_UNCHANGED);
		EOK(kv_expire(ns, K("e"), far, 0));
		EOK(kv_ttl(ns, K("e"), &t));
		E(t == far);
		EOK(kv_get(ns, K("e"), &b));
		E(b.expires_at == far);
		EOK(kv_persist(ns, K("e")));
		EOK(kv_ttl(ns, K("e"), &t));
		E(t == 0);
		ERC(kv_expire(ns, K("nokey"), far, 0), KV_NOTFOUND);
		ERC(kv_persist(ns, K("nokey")), KV_NOTFOUND);
		ERC(kv_ttl(ns, K("nokey"), &t), KV_NOTFOUND);
		/* a time at or before now deletes the key */
		EOK(kv_expire(ns, K("e"), kv_now_ms() - 1, 0));
		ERC(kv_exists(ns, K("e")), KV_NOTFOUND);
		EOK(set_s(ns, "e", "v"));
		EOK(kv_expire(ns, K("e"), 1, 0));
		ERC(kv_exists(ns, K("e")), KV_NOTFOUND);
	}

	TEST("expire conditions NX XX GT LT and invalid combinations")
	{
		int64_t now = kv_now_ms(), t1 = now + HOUR_MS, t2 = now + 2 * HOUR_MS;
		EOK(set_s(ns, "c", "v"));
		/* no expiry yet */
		ERC(kv_expire(ns, K("c"), t1, KV_EXPIRE_XX), KV_UNCHANGED);
		ERC(kv_expire(ns, K("c"), t1, KV_EXPIRE_GT), KV_UNCHANGED); /* none = infinite */
		E(ttl_of(ns, "c") == 0);
		EOK(kv_expire(ns, K("c"), t2, KV_EXPIRE_LT));
		E(ttl_of(ns, "c") == t2);
		EOK(kv_persist(ns, K("c")));
		EOK(kv_expire(ns, K("c"), t2, KV_EXPIRE_NX));
		E(ttl_of(ns, "c") == t2);
		/* with an expiry t2 */
		ERC(kv_expire(ns, K("c"), t1, KV_EXPIRE_NX), KV_UNCHANGED);
		ERC(kv_expire(ns, K("c"), t1, KV_EXPIRE_GT), KV_UNCHANGED);
		ERC(kv_expire(ns, K("c"), t2, KV_EXPIRE_GT), KV_UNCHANGED);
		ERC(kv_expire(ns, K("c"), t2, KV_EXPIRE_LT), KV_UNCHANGED);
		E(ttl_of(ns, "c") == t2);
		EOK(kv_expire(ns, K("c"), t1, KV_EXPIRE_LT));
		E(ttl_of(ns, "c") == t1);
		EOK(kv_expire(ns, K("c"), t2, KV_EXPIRE_GT | KV_EXPIRE_XX));
		E(ttl_of(ns, "c") == t2);
		EOK(kv_expire(ns, K("c"), t1, KV_EXPIRE_XX));
		E(ttl_of(ns, "c") == t1);
		ERC(kv_expire(ns, K("c"), t2, KV_EXPIRE_NX | KV_EXPIRE_XX), KV_EINVAL);
		ERC(kv_expire(ns, K("c"), t2, KV_EXPIRE_NX | KV_EXPIRE_GT), KV_EINVAL);
		ERC(kv_expire(ns, K("c"), t2, KV_EXPIRE_NX | KV_EXPIRE_LT), KV_EINVAL);
		ERC(kv_expire(ns, K("c"), t2, KV_EXPIRE_GT | KV_EXPIRE_LT), KV_EINVAL);
		E(ttl_of(ns, "c") == t1);
		ERC(kv_expire(ns, K("nokey"), t2, KV_EXPIRE_NX), KV_NOTFOUND);
	}

	TEST("write expiry arguments: absolute, NEVER, KEEP, DEFAULT")
	{
		int64_t t1 = kv_now_ms() + HOUR_MS;
		EOK(kv_set(ns, K("w"), K("1"), KV_T_TEXT, t1, 0, NULL));
		E(ttl_of(ns, "w") == t1);
		EOK(kv_get(ns, K("w"), &b));
		E(b.expires_at == t1);
		EOK(kv_set(ns, K("w"), K("2"), KV_T_TEXT, KV_EXPIRE_KEEP, 0, NULL));
		E(ttl_of(ns, "w") == t1 && val_is(env, ns, K("w"), "2"));
		EOK(kv_set(ns, K("w"), K("3"), KV_T_TEXT, KV_EXPIRE_DEFAULT, 0, NULL));
		E(ttl_of(ns, "w") == 0); /* default_ttl_ms 0: none */
		EOK(kv_set(ns, K("w"), K("4"), KV_T_TEXT, t1, 0, NULL));
		EOK(kv_set(ns, K("w"), K("5"), KV_T_TEXT, KV_EXPIRE_NEVER, 0, NULL));
		E(ttl_of(ns, "w") == 0);
		/* incr and append keep an existing key's TTL */
		int64_t r;
		size_t nl;
		EOK(kv_set(ns, K("w"), K("5"), KV_T_TEXT, t1, 0, NULL));
		EOK(kv_incr(ns, K("w"), 1, &r));
		E(ttl_of(ns, "w") == t1);
		EOK(kv_append(ns, K("w"), K("0"), &nl));
		E(ttl_of(ns, "w") == t1 && val_is(env, ns, K("w"), "60"));
		size_t nl2;
		EOK(kv_setrange(ns, K("w"), 0, K("7"), &nl2));
		E(ttl_of(ns, "w") == t1 && val_is(env, ns, K("w"), "70"));
		double d;
		EOK(kv_incr_float(ns, K("w"), K("0.5"), &d, NULL));
		E(ttl_of(ns, "w") == t1 && val_is(env, ns, K("w"), "70.5"));
	}

	TEST("set with an absolute expiry at or before now deletes the key and returns KV_OK")
	{
		int64_t past = kv_now_ms() - 1000;
		EOK(set_s(ns, "pd", "before"));
		EOK(kv_set(ns, K("pd"), K("after"), KV_T_TEXT, past, 0, &old));
		E(t_buf_is(&old, "before", 6));
		ERC(kv_exists(ns, K("pd")), KV_NOTFOUND);
		EOK(kv_set(ns, K("pd"), K("x"), KV_T_TEXT, past, 0, &old)); /* absent: nothing to delete */
		E(old.type == KV_T_NONE);
		ERC(kv_exists(ns, K("pd")), KV_NOTFOUND);
		EOK(set_s(ns, "pd", "kept"));
		ERC(kv_set(ns, K("pd"), K("x"), KV_T_TEXT, past, KV_SET_NX, NULL), KV_EXISTS);
		E(val_is(env, ns, K("pd"), "kept"));
		ERC(kv_set(ns, K("pd-absent"), K("x"), KV_T_TEXT, past, KV_SET_XX, NULL), KV_NOTFOUND);
		EOK(kv_set(ns, K("pd"), K("x"), KV_T_TEXT, 1, KV_SET_XX, NULL));
		ERC(kv_exists(ns, K("pd")), KV_NOTFOUND);
	}

	TEST("namespace default TTL applies to DEFAULT writes, new incr and append keys")
	{
		kv_ns_config c;
		kv_ns_config_init(&c);
		c.default_ttl_ms = 30000;
		kv_ns *d = t_ns(env, "dttl", &c);
		if (d) {
			int64_t before = kv_now_ms(), r;
			size_t nl;
			double f;
			EOK(kv_set(d, K("a"), K("1"), KV_T_TEXT, KV_EXPIRE_DEFAULT, 0, NULL));
			EOK(kv_incr(d, K("b"), 1, &r));
			EOK(kv_append(d, K("c"), K("x"), &nl));
			EOK(kv_incr_float(d, K("f"), K("1.5"), &f, NULL));
			EOK(kv_set(d, K("n"), K("1"), KV_T_TEXT, KV_EXPIRE_NEVER, 0, NULL));
			int64_t after = kv_now_ms();
			const char *keys[] = {"a", "b", "c", "f"};
			for (int i = 0; i < 4; i++) {
				int64_t t = ttl_of(d, keys[i]);
				if (!E(t >= before + 30000 && t <= after + 30000))
					fprintf(stderr, "    key %s ttl %lld\n", keys[i], (long long)t);
			}
			E(ttl_of(d, "n") == 0);
			kv_ns_close(d);
		}
	}

	TEST("rename: value, type and expiry move; NX; missing source; same key")
	{
		int64_t t1 = kv_now_ms() + HOUR_MS;
		EOK(kv_set(ns, K("src"), K("payload"), KV_T_JSON, t1, 0, NULL));
		EOK(kv_rename(ns, K("src"), K("dst\0bin"), 0));
		ERC(kv_exists(ns, K("src")), KV_NOTFOUND);
		EOK(kv_get(ns, K("dst\0bin"), &b));
		E(t_buf_is(&b, "payload", 7) && b.type == KV_T_JSON && b.expires_at == t1);
		EOK(set_s(ns, "other", "o"));
		ERC(kv_rename(ns, K("dst\0bin"), K("other"), 1), KV_EXISTS);
		E(val_is(env, ns, K("other"), "o"));
		EOK(kv_exists(ns, K("dst\0bin")));
		EOK(kv_rename(ns, K("dst\0bin"), K("other"), 0));
		E(val_is(env, ns, K("other"), "payload"));
		ERC(kv_exists(ns, K("dst\0bin")), KV_NOTFOUND);
		ERC(kv_rename(ns, K("nosuch"), K("x"), 0), KV_NOTFOUND);
		ERC(kv_exists(ns, K("x")), KV_NOTFOUND);
		EOK(kv_rename(ns, K("other"), K("other"), 0));
		E(val_is(env, ns, K("other"), "payload"));
		ERC(kv_rename(ns, K("nosuch"), K("nosuch"), 0), KV_NOTFOUND);
		/* across many keys, so that source and target shards differ */
		int bad = 0;
		for (int i = 0; i < 200; i++) {
			char s[16], dd[16];
			snprintf(s, sizeof s, "rs%d", i);
			snprintf(dd, sizeof dd, "rd%d", i);
			EOK(set_s(ns, s, s));
			if (kv_rename(ns, s, strlen(s), dd, strlen(dd), 0) != KV_OK ||
			    !val_is(env, ns, dd, strlen(dd), s) || kv_exists(ns, s, strlen(s)) != KV_NOTFOUND)
				bad++;
		}
		E(bad == 0);
	}

	TEST("random_key returns live keys")
	{
		kv_ns *r = t_ns(env, "rnd", NULL);
		if (r) {
			ERC(kv_random_key(r, &b), KV_NOTFOUND);
			EOK(set_s(r, "one", "1"));
			EOK(set_s(r, "two", "2"));
			EOK(set_s(r, "three\0", "3"));
			int seen[3] = {0, 0, 0}, other = 0;
			for (int i = 0; i < 300; i++) {
				int rrc = kv_random_key(r, &b);
				if (rrc != KV_OK) {
					if (other++ == 0)
						fprintf(stderr, "    kv_random_key returned %s with 3 live keys\n",
						        t_code_name(rrc));
					continue;
				}
				if (t_buf_is(&b, "one", 3))
					seen[0]++;
				else if (t_buf_is(&b, "two", 3))
					seen[1]++;
				else if (t_buf_is(&b, "three", 5))
					seen[2]++;
				else if (other++ == 0)
					fprintf(stderr, "    kv_random_key returned a key never set (len %zu)\n", b.len);
			}
			E(other == 0);
			if (!E((seen[0] > 0) + (seen[1] > 0) + (seen[2] > 0) >= 2))
				fprintf(stderr, "    300 draws gave one=%d two=%d three=%d\n", seen[0], seen[1],
				        seen[2]);
			kv_ns_close(r);
		}
	}

	TEST("key and value size limits are exact, and a refused write changes nothing")
	{
		kv_ns_config c;
		kv_ns_config_init(&c);
		c.max_key_size = 100;
		c.max_value_size = 1000;
		kv_ns *l = t_ns(env, "lim", &c);
		if (l) {
			char key[101], val[1001];
			size_t nl;
			memset(key, 'k', sizeof key);
			memset(val, 'v', sizeof val);
			EOK(kv_set(l, key, 100, val, 1000, KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL));
			ERC(kv_set(l, key, 101, "x", 1, KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL), KV_EKEYSIZE);
			ERC(kv_get(l, key, 101, &b), KV_EKEYSIZE);
			ERC(kv_set(l, key, 100, val, 1001, KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL), KV_EVALSIZE);
			EOK(kv_strlen(l, key, 100, &nl));
			E(nl == 1000);
			ERC(kv_append(l, key, 100, "x", 1, &nl), KV_EVALSIZE);
			ERC(kv_setrange(l, key, 100, 1000, "x", 1, &nl), KV_EVALSIZE);
			ERC(kv_setrange(l, K("fresh"), 995, "123456", 6, &nl), KV_EVALSIZE);
			ERC(kv_exists(l, K("fresh")), KV_NOTFOUND);
			EOK(kv_setrange(l, key, 100, 999, "y", 1, &nl));
			EOK(kv_strlen(l, key, 100, &nl));
			E(nl == 1000);
			kv_ns_close(l);
		}
		/* the default limits: keys up to 65535 bytes */
		char *big = malloc(KV_KEY_SIZE_LIMIT + 1);
		if (E(big != NULL)) {
			memset(big, 'B', KV_KEY_SIZE_LIMIT + 1);
			EOK(kv_set(ns, big, KV_KEY_SIZE_LIMIT, K("v"), KV_T_TEXT, KV_EXPIRE_NEVER, 0, NULL));
			EOK(kv_exists(ns, big, KV_KEY_SIZE_LIMIT));
			ERC(kv_set(ns, big, KV_KEY_SIZE_LIMIT + 1, K("v"), KV_T_TEXT, KV_EXPIRE_NEVER, 0,
			           NULL),
			    KV_EKEYSIZE);
			EOK(kv_del(ns, big, KV_KEY_SIZE_LIMIT));
			free(big);
		}
	}

	TEST("large values round trip (4 MiB) and buffers are reused")
	{
		size_t n = 4 << 20;
		char *v = malloc(n);
		if (E(v != NULL)) {
			for (size_t i = 0; i < n; i++)
				v[i] = (char)(i * 7 + 3);
			EOK(kv_set(ns, K("huge"), v, n, KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL));
			EOK(kv_get(ns, K("huge"), &b));
			E(t_buf_is(&b, v, n));
			E(b.cap >= n + 1);
			EOK(kv_get(ns, K("k"), &b)); /* a smaller value into the same buffer */
			E(t_buf_is(&b, "hello", 5));
			EOK(kv_del(ns, K("huge")));
			free(v);
		}
	}

	kv_buf_free(env, &b);
	kv_buf_free(env, &old);
	kv_ns_close(ns);
	kv_env_close(env);
}

static void test_expiry(void)
{
	TEST("expired keys are invisible at once to every call")
	{
		kv_env *env = t_env(32 << 20);
		kv_ns *ns = env ? t_ns(env, "exp", NULL) : NULL;
		if (ns) {
			kv_buf b = KV_BUF_INIT;
			int64_t exp = kv_now_ms() + 400;
			const char *keys[] = {"g", "x", "s", "t", "i", "a", "n", "xx", "c", "e", "p", "r", "f",
			                      "sr", "gr", "st"};
			int n = (int)(sizeof keys / sizeof keys[0]);
			for (int i = 0; i < n; i++)
				EOK(kv_set(ns, keys[i], strlen(keys[i]), K("41"), KV_T_TEXT, exp, 0, NULL));
			if (kv_now_ms() < exp - 100)
				EOK(kv_exists(ns, K("g")));
			t_sleep_until(exp);
			int64_t r;
			size_t nl;
			double f;
			ERC(kv_get(ns, K("g"), &b), KV_NOTFOUND);
			ERC(kv_exists(ns, K("x")), KV_NOTFOUND);
			ERC(kv_strlen(ns, K("s"), &nl), KV_NOTFOUND);
			ERC(kv_ttl(ns, K("t"), &r), KV_NOTFOUND);
			EOK(kv_incr(ns, K("i"), 1, &r));
			E(r == 1 && ttl_of(ns, "i") == 0);
			EOK(kv_append(ns, K("a"), K("z"), &nl));
			E(nl == 1);
			EOK(kv_set(ns, K("n"), K("new"), KV_T_TEXT, KV_EXPIRE_NEVER, KV_SET_NX, NULL));
			ERC(kv_set(ns, K("xx"), K("new"), KV_T_TEXT, KV_EXPIRE_NEVER, KV_SET_XX, NULL),
			    KV_NOTFOUND);
			ERC(kv_consume(ns, K("c"), &b), KV_NOTFOUND);
			ERC(kv_expire(ns, K("e"), kv_now_ms() + HOUR_MS, 0), KV_NOTFOUND);
			ERC(kv_persist(ns, K("p")), KV_NOTFOUND);
			ERC(kv_rename(ns, K("r"), K("r2"), 0), KV_NOTFOUND);
			EOK(kv_incr_float(ns, K("f"), K("0.5"), &f, NULL));
			E(f == 0.5);
			ERC(kv_getrange(ns, K("gr"), 0, -1, &b), KV_NOTFOUND);
			EOK(kv_setrange(ns, K("sr"), 1, K("q"), &nl));
			E(nl == 2);
			kv_buf old = KV_BUF_INIT;
			EOK(kv_set(ns, K("st"), K("v"), KV_T_TEXT, KV_EXPIRE_NEVER, 0, &old));
			E(old.type == KV_T_NONE);
			kv_buf_free(env, &old);
			/* random_key never returns an expired key */
			kv_ns *only = t_ns(env, "exp2", NULL);
			if (only) {
				int64_t e2 = kv_now_ms() + 200;
				EOK(kv_set(only, K("dead"), K("v"), KV_T_TEXT, e2, 0, NULL));
				t_sleep_until(e2);
				ERC(kv_random_key(only, &b), KV_NOTFOUND);
				kv_ns_close(only);
			}
			kv_buf_free(env, &b);
		}
		if (ns)
			kv_ns_close(ns);
		if (env)
			kv_env_close(env);
	}

	TEST("kv_tick reclaims expired keys within its budget")
	{
		kv_env *env = t_env(64 << 20);
		kv_ns *a = env ? t_ns(env, "ta", NULL) : NULL;
		kv_ns *bns = env ? t_ns(env, "tb", NULL) : NULL;
		if (a && bns) {
			int64_t exp = kv_now_ms() + 800; /* 1010 sets must finish before it, even on a loaded machine */
			for (int i = 0; i < 1000; i++) {
				char k[32];
				int kl = snprintf(k, sizeof k, "v%d", i);
				EOK(kv_set(i % 2 ? a : bns, k, (size_t)kl, K("x"), KV_T_TEXT, exp, 0, NULL));
			}
			for (int i = 0; i < 10; i++) {
				char k[32];
				int kl = snprintf(k, sizeof k, "p%d", i);
				EOK(kv_set(a, k, (size_t)kl, K("x"), KV_T_TEXT, KV_EXPIRE_NEVER, 0, NULL));
			}
			t_sleep_until(exp);
			size_t total = 0;
			int over_budget = 0, ticks = 0;
			kv_tick_info info;
			while (total < 1000 && ticks < 2000) {
				memset(&info, 0, sizeof info);
				if (!EOK(kv_tick(env, 50, &info)))
					break;
				if (info.reclaimed > 50)
					over_budget++;
				total += info.reclaimed;
				ticks++;
			}
			if (!E(total == 1000))
				fprintf(stderr, "    %d ticks reclaimed %zu of 1000\n", ticks, total);
			E(over_budget == 0);
			EOK(kv_tick(env, 0, NULL));
			kv_ns_stats sa = stats_of(a), sb = stats_of(bns);
			if (!E(sa.keys == 10 && sb.keys == 0))
				fprintf(stderr, "    keys left: %llu and %llu\n", (unsigned long long)sa.keys,
				        (unsigned long long)sb.keys);
			E(sa.expired + sb.expired > 0);
			EOK(kv_tick(env, 0, &info));
			E(info.reclaimed == 0);
		}
		if (a)
			kv_ns_close(a);
		if (bns)
			kv_ns_close(bns);
		if (env)
			kv_env_close(env);
	}
}

static void test_limits(void)
{
	TEST("max_keys without eviction: KV_EMAXKEYS, nothing changed")
	{
		kv_env *env = t_env(32 << 20);
		kv_ns_config c;
		kv_ns_config_init(&c);
		c.max_keys = 100;
		kv_ns *ns = env ? t_ns(env, "mk", &c) : NULL;
		if (ns) {
			char k[32];
			int64_t r;
			size_t nl;
			double f;
			for (int i = 0; i < 100; i++) {
				snprintf(k, sizeof k, "k%d", i);
				EOK(set_s(ns, k, "v"));
			}
			ERC(set_s(ns, "k100", "v"), KV_EMAXKEYS);
			ERC(kv_incr(ns, K("newi"), 1, &r), KV_EMAXKEYS);
			ERC(kv_incr_float(ns, K("newf"), K("1"), &f, NULL), KV_EMAXKEYS);
			ERC(kv_append(ns, K("newa"), K("x"), &nl), KV_EMAXKEYS);
			ERC(kv_setrange(ns, K("news"), 0, K("x"), &nl), KV_EMAXKEYS);
			ERC(kv_exists(ns, K("k100")), KV_NOTFOUND);
			ERC(kv_exists(ns, K("newi")), KV_NOTFOUND);
			E(stats_of(ns).keys == 100);
			EOK(set_s(ns, "k5", "overwrite is fine"));
			EOK(kv_rename(ns, K("k6"), K("k6renamed"), 0));
			EOK(kv_del(ns, K("k7")));
			EOK(set_s(ns, "k100", "v"));
			ERC(set_s(ns, "k101", "v"), KV_EMAXKEYS);
			E(stats_of(ns).keys == 100);
			kv_ns_close(ns);
		}
		if (env)
			kv_env_close(env);
	}

	TEST("max_memory without eviction: KV_EMAXMEM, limit respected, recovers after delete")
	{
		kv_env *env = t_env(64 << 20);
		kv_ns_config c;
		kv_ns_config_init(&c);
		c.shards = 4;
		c.max_memory = 1 << 20;
		kv_ns *ns = env ? t_ns(env, "mm", &c) : NULL;
		if (ns) {
			char v[10000], k[16];
			memset(v, 'm', sizeof v);
			int i, rc = KV_OK;
			for (i = 0; i < 1000; i++) {
				snprintf(k, sizeof k, "k%d", i);
				rc = kv_set(ns, k, strlen(k), v, sizeof v, KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL);
				if (rc != KV_OK)
					break;
			}
			E(R(rc) == KV_EMAXMEM);
			E(i > 10 && i < 105);
			ERC(kv_exists(ns, k, strlen(k)), KV_NOTFOUND);
			kv_ns_stats st = stats_of(ns);
			E(st.bytes <= c.max_memory);
			E(st.keys == (uint64_t)i);
			size_t nl;
			ERC(kv_append(ns, K("k0"), v, sizeof v, &nl), KV_EMAXMEM);
			EOK(kv_strlen(ns, K("k0"), &nl));
			E(nl == sizeof v);
			EOK(kv_del(ns, K("k0")));
			EOK(kv_del(ns, K("k1")));
			EOK(kv_set(ns, k, strlen(k), v, sizeof v, KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL));
			kv_ns_close(ns);
		}
		if (env)
			kv_env_close(env);
	}

	TEST("full region: KV_ENOMEM, never a crash, data intact, space reusable")
	{
		size_t sz = 8 << 20;
		void *region = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		kv_env *env = NULL;
		kv_config cfg;
		kv_config_init(&cfg);
		cfg.region = region;
		cfg.region_size = sz;
		cfg.max_namespaces = 8;
		if (E(region != MAP_FAILED) && EOK(kv_env_open(&cfg, &env))) {
			kv_ns *ns = t_ns(env, "full", NULL);
			if (ns) {
				char v[4096], k[32];
				int i, rc = KV_OK, bad = 0;
				for (i = 0; i < 100000; i++) {
					memset(v, (char)i, sizeof v);
					snprintf(k, sizeof k, "key:%d", i);
					rc = kv_set(ns, k, strlen(k), v, sizeof v, KV_T_BYTES, KV_EXPIRE_NEVER, 0,
					            NULL);
					if (rc != KV_OK)
						break;
				}
				E(R(rc) == KV_ENOMEM);
				E(i > 100);
				ERC(kv_exists(ns, k, strlen(k)), KV_NOTFOUND);
				int n = i;
				E(stats_of(ns).keys == (uint64_t)n);
				kv_buf b = KV_BUF_INIT;
				for (i = 0; i < n; i++) {
					snprintf(k, sizeof k, "key:%d", i);
					memset(v, (char)i, sizeof v);
					if (kv_get(ns, k, strlen(k), &b) != KV_OK || !t_buf_is(&b, v, sizeof v))
						bad++;
				}
				E(bad == 0);
				/* small keys fill whatever is left (table growth must fail cleanly too) */
				for (i = 0; i < 1000000; i++) {
					snprintf(k, sizeof k, "small:%d", i);
					rc = kv_set(ns, k, strlen(k), "s", 1, KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL);
					if (rc != KV_OK)
						break;
				}
				E(R(rc) == KV_ENOMEM);
				ERC(kv_ns_create(env, "another", NULL), KV_ENOMEM);
				int rrc = kv_ns_resize(ns, KV_MAX_SHARDS);
				E(R(rrc) == KV_ENOMEM || rrc == KV_OK);
				if (rrc == KV_ENOMEM)
					E(stats_of(ns).config.shards == 16);
				snprintf(k, sizeof k, "key:%d", n - 1);
				memset(v, (char)(n - 1), sizeof v);
				EOK(kv_get(ns, k, strlen(k), &b));
				E(t_buf_is(&b, v, sizeof v));
				/* flush, and everything fits again */
				EOK(kv_ns_flush(ns));
				for (i = 0; i < n / 2; i++) {
					snprintf(k, sizeof k, "again:%d", i);
					if (kv_set(ns, k, strlen(k), v, sizeof v, KV_T_BYTES, KV_EXPIRE_NEVER, 0,
					           NULL) != KV_OK)
						bad++;
				}
				E(bad == 0);
				kv_buf_free(env, &b);
				kv_ns_close(ns);
			}
			kv_env_close(env);
		}
		if (region != MAP_FAILED)
			munmap(region, sz);
	}

	TEST("eviction allkeys-lru / allkeys-random with max_keys: writes succeed, limit holds")
	{
		int policies[] = {KV_EVICT_ALLKEYS_LRU, KV_EVICT_ALLKEYS_RANDOM};
		for (int p = 0; p < 2; p++) {
			kv_env *env = t_env(32 << 20);
			kv_ns_config c;
			kv_ns_config_init(&c);
			c.shards = 1;
			c.max_keys = 50;
			c.eviction = policies[p];
			kv_ns *ns = env ? t_ns(env, "ev", &c) : NULL;
			if (ns) {
				int fails = 0;
				for (int i = 0; i < 500; i++) {
					char k[32];
					snprintf(k, sizeof k, "k%d", i);
					if (!EOK(set_s(ns, k, "v")))
						fails++;
					else if (!E(R(kv_exists(ns, k, strlen(k))) == KV_OK))
						fails++;
				}
				kv_ns_stats st = stats_of(ns);
				E(fails == 0);
				E(st.keys <= 50 && st.keys >= 1);
				E(st.evicted >= 450);
				kv_ns_close(ns);
			}
			if (env)
				kv_env_close(env);
		}
	}

	TEST("eviction volatile-*: only keys with a TTL go; none left is KV_EMAXKEYS")
	{
		int policies[] = {KV_EVICT_VOLATILE_LRU, KV_EVICT_VOLATILE_RANDOM, KV_EVICT_VOLATILE_TTL};
		for (int p = 0; p < 3; p++) {
			kv_env *env = t_env(32 << 20);
			kv_ns_config c;
			kv_ns_config_init(&c);
			c.shards = 1;
			c.max_keys = 10;
			c.eviction = policies[p];
			kv_ns *ns = env ? t_ns(env, "vev", &c) : NULL;
			if (ns) {
				char k[32];
				int64_t far = kv_now_ms() + HOUR_MS;
				for (int i = 0; i < 5; i++) {
					snprintf(k, sizeof k, "keep%d", i);
					EOK(set_s(ns, k, "v"));
					snprintf(k, sizeof k, "vol%d", i);
					EOK(kv_set(ns, k, strlen(k), K("v"), KV_T_TEXT, far + i * 60000, 0, NULL));
				}
				for (int i = 0; i < 5; i++) {
					snprintf(k, sizeof k, "new%d", i);
					if (!EOK(set_s(ns, k, "v")))
						fprintf(stderr, "    policy %d, new key %d\n", policies[p], i);
				}
				snprintf(k, sizeof k, "new%d", 5);
				ERC(set_s(ns, k, "v"), KV_EMAXKEYS);
				int kept = 0;
				for (int i = 0; i < 5; i++) {
					snprintf(k, sizeof k, "keep%d", i);
					kept += kv_exists(ns, k, strlen(k)) == KV_OK;
					snprintf(k, sizeof k, "new%d", i);
					kept += kv_exists(ns, k, strlen(k)) == KV_OK;
				}
				E(kept == 10);
				E(stats_of(ns).evicted >= 5);
				kv_ns_close(ns);
			}
			if (env)
				kv_env_close(env);
		}
	}

	TEST("eviction with max_memory keeps bytes under the limit")
	{
		kv_env *env = t_env(64 << 20);
		kv_ns_config c;
		kv_ns_config_init(&c);
		c.shards = 2;
		c.max_memory = 512 << 10;
		c.eviction = KV_EVICT_ALLKEYS_LRU;
		kv_ns *ns = env ? t_ns(env, "evm", &c) : NULL;
		if (ns) {
			char v[2000];
			memset(v, 'e', sizeof v);
			int fails = 0, over = 0;
			for (int i = 0; i < 3000; i++) {
				char k[32];
				snprintf(k, sizeof k, "k%d", i);
				if (kv_set(ns, k, strlen(k), v, sizeof v, KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL) !=
				    KV_OK)
					fails++;
				if (stats_of(ns).bytes > c.max_memory)
					over++;
			}
			E(fails == 0);
			E(over == 0);
			kv_ns_stats st = stats_of(ns);
			E(st.keys > 0 && st.keys < 3000 && st.evicted > 0);
			kv_ns_close(ns);
		}
		if (env)
			kv_env_close(env);
	}
}

/* The shared vocabulary of kv.h: TTL arithmetic, number text, names. */
static void test_vocabulary(void)
{
	TEST("number text ignores the host's LC_NUMERIC (a comma locale made 1.5 unreadable)")
	{
		/* compile de_DE into a private directory (no root: LOCPATH), then run
		 * the engine under it as a SQLite application after setlocale would */
		char dir[] = "/tmp/shardkv-locale.XXXXXX", cmd[256];
		E(mkdtemp(dir) != NULL);
		snprintf(cmd, sizeof cmd, "localedef -i de_DE -f UTF-8 %s/de_DE.UTF-8 >/dev/null 2>&1", dir);
		int made = system(cmd) == 0;
		if (!E(made))
			NOTE("localedef failed: is Debian's locales package installed?");
		setenv("LOCPATH", dir, 1);
		if (made && E(setlocale(LC_ALL, "de_DE.UTF-8") != NULL)) {
			char txt[KV_DOUBLE_BUFSZ], probe[16];
			snprintf(probe, sizeof probe, "%.1f", 1.5);
			E(strcmp(probe, "1,5") == 0); /* the locale really is in force */
			kv_fmt_double(1.5, txt, sizeof txt);
			E(strcmp(txt, "1.5") == 0);
			kv_fmt_double(2.5e-9, txt, sizeof txt);
			E(strcmp(txt, "2.5e-9") == 0);
			kv_env *lenv = t_env(16 << 20);
			kv_ns *lns = lenv ? t_ns(lenv, "loc", NULL) : NULL;
			if (lns) {
				double d = 0;
				kv_buf b = KV_BUF_INIT;
				EOK(kv_incr_float(lns, K("f"), K("1.5"), &d, &b));
				E(d == 1.5 && t_buf_is(&b, "1.5", 3));
				EOK(kv_incr_float(lns, K("f"), K("0.25"), &d, &b));
				E(d == 1.75 && t_buf_is(&b, "1.75", 4));
				kv_buf_free(lenv, &b);
				kv_ns_close(lns);
			}
			if (lenv)
				kv_env_close(lenv);
		}
		setlocale(LC_ALL, "C");
		unsetenv("LOCPATH");
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
		(void)!system(cmd);
	}

	TEST("ttl: relative to absolute, one rule, refused past KV_EXPIRES_MAX")
	{
		int64_t t = 0, before = kv_now_ms();
		EOK(kv_expiry_from_ttl_ms(1000, &t));
		E(t >= before + 1000 && t <= kv_now_ms() + 1000);
		ERC(kv_expiry_from_ttl_ms(INT64_MAX, &t), KV_EINVAL);
		ERC(kv_expiry_from_ttl_ms(KV_EXPIRES_MAX - before + 60000, &t), KV_EINVAL);
		EOK(kv_expiry_from_ttl_ms(KV_EXPIRES_MAX - before - 60000, &t));
		E(t <= KV_EXPIRES_MAX && t > KV_EXPIRES_MAX - 120000);
		/* non-positive: a past time, never a KV_EXPIRE_* sentinel */
		EOK(kv_expiry_from_ttl_ms(0, &t));
		E(t >= 1 && t <= kv_now_ms());
		EOK(kv_expiry_from_ttl_ms(INT64_MIN, &t));
		E(t == 1);
		/* microseconds round up to whole ms, added to the whole-ms clock: 1 us
		 * is not past, and 1.5 s reads back as exactly 1500 ms (it read 1501
		 * when the sub-ms part of the clock was added too) */
		for (int i = 0; i < 200; i++) {
			int64_t ms0 = kv_now_ms();
			EOK(kv_expiry_from_ttl_us(1, &t));
			E(t >= ms0 + 1 && t <= kv_now_ms() + 1);
			EOK(kv_expiry_from_ttl_us(1500, &t));
			E(t >= ms0 + 2 && t <= kv_now_ms() + 2);
			EOK(kv_expiry_from_ttl_us(1500000, &t));
			int64_t ms1 = kv_now_ms();
			E(t >= ms0 + 1500 && t <= ms1 + 1500 && kv_ttl_remaining(t, ms1, 1) <= 1500);
		}
		ERC(kv_expiry_from_ttl_us(INT64_MAX, &t), KV_EINVAL);
		ERC(kv_expiry_from_ttl_us((KV_EXPIRES_MAX - before + 60000) * 1000, &t), KV_EINVAL);
		EOK(kv_expiry_from_ttl_us(INT64_MIN, &t));
		E(t == 1);
	}

	TEST("ttl: kv_expiry_check and kv_ttl_remaining (Redis TTL rounding)")
	{
		EOK(kv_expiry_check(KV_EXPIRES_MAX));
		ERC(kv_expiry_check(KV_EXPIRES_MAX + 1), KV_EINVAL);
		ERC(kv_expiry_check(INT64_MAX), KV_EINVAL);
		EOK(kv_expiry_check(1));
		EOK(kv_expiry_check(KV_EXPIRE_DEFAULT));
		EOK(kv_expiry_check(KV_EXPIRE_NEVER));
		EOK(kv_expiry_check(KV_EXPIRE_KEEP));
		ERC(kv_expiry_check(-3), KV_EINVAL);
		ERC(kv_expiry_check(INT64_MIN), KV_EINVAL);
		/* 253402300799999 ms is 9999-12-31T23:59:59.999Z */
		E(KV_EXPIRES_MAX == (INT64_C(253402300800) * 1000 - 1));
		int64_t now = 1700000000000;
		E(kv_ttl_remaining(0, now, 1000) == -1);
		E(kv_ttl_remaining(now, now, 1000) == 0);
		E(kv_ttl_remaining(now - 5, now, 1) == 0);
		E(kv_ttl_remaining(now + 1, now, 1000) == 0);
		E(kv_ttl_remaining(now + 499, now, 1000) == 0);
		E(kv_ttl_remaining(now + 500, now, 1000) == 1);
		E(kv_ttl_remaining(now + 1499, now, 1000) == 1);
		E(kv_ttl_remaining(now + 1500, now, 1000) == 2);
		E(kv_ttl_remaining(now + 1499, now, 1) == 1499);
		E(kv_ttl_remaining(now + 1499, now, 0) == 1499);
		E(kv_ttl_remaining(KV_EXPIRES_MAX, 0, 1000) == (KV_EXPIRES_MAX + 500) / 1000);
	}

	TEST("ttl: every write refuses an expiry past KV_EXPIRES_MAX, default TTL never wraps")
	{
		kv_env *env = t_env(32 << 20);
		kv_ns *ns = env ? t_ns(env, "vx", NULL) : NULL;
		if (ns) {
			int64_t t = 0;
			size_t nl;
			EOK(kv_set(ns, K("max"), K("v"), KV_T_TEXT, KV_EXPIRES_MAX, 0, NULL));
			EOK(kv_ttl(ns, K("max"), &t));
			E(t == KV_EXPIRES_MAX);
			ERC(kv_set(ns, K("over"), K("v"), KV_T_TEXT, KV_EXPIRES_MAX + 1, 0, NULL), KV_EINVAL);
			ERC(kv_set(ns, K("over"), K("v"), KV_T_TEXT, INT64_MAX, 0, NULL), KV_EINVAL);
			ERC(kv_exists(ns, K("over")), KV_NOTFOUND);
			ERC(kv_expire(ns, K("max"), KV_EXPIRES_MAX + 1, 0), KV_EINVAL);
			EOK(kv_ttl(ns, K("max"), &t));
			E(t == KV_EXPIRES_MAX);
			kv_op op = {.op = KV_OP_SET, .key = "b", .klen = 1, .val = "v", .vlen = 1,
			            .type = KV_T_TEXT, .expires_at = KV_EXPIRES_MAX + 1};
			kv_batch(ns, &op, 1, KV_BATCH_BEST_EFFORT, NULL, NULL);
			E(op.status == KV_EINVAL);
			ERC(kv_exists(ns, K("b")), KV_NOTFOUND);
			/* a default TTL that would land past the maximum: refused, not wrapped
			 * (before, now + INT64_MAX overflowed into a past time: a silent delete) */
			kv_ns_config c;
			kv_ns_config_init(&c);
			/* past KV_EXPIRES_MAX no write could ever apply it: create and
			 * configure refuse it and keep what was there */
			c.default_ttl_ms = INT64_MAX;
			ERC(kv_ns_configure(ns, &c), KV_EINVAL);
			ERC(kv_ns_create(env, "ttlmax", &c), KV_EINVAL);
			c.default_ttl_ms = KV_EXPIRES_MAX + 1;
			ERC(kv_ns_configure(ns, &c), KV_EINVAL);
			ERC(kv_ns_create(env, "ttlmax", &c), KV_EINVAL);
			E(stats_of(ns).config.default_ttl_ms == 0);
			/* at KV_EXPIRES_MAX it is accepted, but now + ttl still lands past it */
			c.default_ttl_ms = KV_EXPIRES_MAX;
			if (E(R(kv_ns_configure(ns, &c)) == KV_OK)) {
				int64_t r;
				double d;
				ERC(kv_set(ns, K("d"), K("v"), KV_T_TEXT, KV_EXPIRE_DEFAULT, 0, NULL), KV_EINVAL);
				ERC(kv_incr(ns, K("d"), 1, &r), KV_EINVAL);
				ERC(kv_incr_float(ns, K("d"), K("1"), &d, NULL), KV_EINVAL);
				ERC(kv_append(ns, K("d"), K("x"), &nl), KV_EINVAL);
				ERC(kv_setrange(ns, K("d"), 2, K("x"), &nl), KV_EINVAL);
				ERC(kv_exists(ns, K("d")), KV_NOTFOUND);
				/* an existing key keeps its own expiry: appending works */
				EOK(kv_append(ns, K("max"), K("x"), &nl));
				c.default_ttl_ms = 60000;
				EOK(kv_ns_configure(ns, &c));
				EOK(kv_incr(ns, K("d"), 1, &r));
				E(ttl_of(ns, "d") > kv_now_ms() + 50000 && ttl_of(ns, "d") <= kv_now_ms() + 60000);
			}
			kv_ns_close(ns);
		}
		if (env)
			kv_env_close(env);
	}

	TEST("kv_fmt_double: shortest round-trip text, plain in [1e-7, 1e21)")
	{
		static const struct {
			double      d;
			const char *txt;
		} v[] = {
			{0.3, "0.3"}, {0.1 + 0.2, "0.30000000000000004"}, {1, "1"}, {-1.5, "-1.5"},
			{100, "100"}, {123.456, "123.456"}, {1e20, "100000000000000000000"},
			{1e21, "1e+21"}, {1.5e21, "1.5e+21"}, {123456789012345678901234.0, "1.2345678901234569e+23"},
			{1e-6, "0.000001"}, {1.25e-6, "0.00000125"}, {1e-7, "1e-7"}, {-2.5e-8, "-2.5e-8"},
			{1e-18, "1e-18"}, {5e-324, "5e-324"}, {1.7976931348623157e308, "1.7976931348623157e+308"},
			{0.0, "0"}, {-0.0, "-0"}, {9007199254740993.0, "9007199254740992"},
			{2.2250738585072014e-308, "2.2250738585072014e-308"}, {-123456789.125, "-123456789.125"},
		};
		char buf[KV_DOUBLE_BUFSZ];
		for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
			size_t n = kv_fmt_double(v[i].d, buf, sizeof buf);
			if (!E(n == strlen(v[i].txt) && strcmp(buf, v[i].txt) == 0))
				fprintf(stderr, "    %.17g gave '%s', wanted '%s'\n", v[i].d, buf, v[i].txt);
		}
		E(kv_fmt_double(NAN, buf, sizeof buf) == 0 && buf[0] == 0);
		E(kv_fmt_double(INFINITY, buf, sizeof buf) == 0 && buf[0] == 0);
		E(kv_fmt_double(-INFINITY, buf, sizeof buf) == 0 && buf[0] == 0);
		char small[3] = "xx";
		E(kv_fmt_double(0.25, small, sizeof small) == 4 && small[0] == 0);
		/* random bit patterns: always round-trip, always fit, never longer than %.17g */
		uint64_t x = 88172645463325252ull;
		for (int i = 0; i < 200000; i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			double d;
			memcpy(&d, &x, sizeof d);
			if (i & 1)
				d = (double)(int64_t)(x >> (x & 63)) / (double)(1ull << (x % 60));
			if (!isfinite(d))
				continue;
			size_t n = kv_fmt_double(d, buf, sizeof buf);
			char alt[40];
			snprintf(alt, sizeof alt, "%.17g", d);
			if (!E(n > 0 && n < KV_DOUBLE_BUFSZ && strtod(buf, NULL) == d &&
			       signbit(strtod(buf, NULL)) == signbit(d) && strlen(buf) == n)) {
				fprintf(stderr, "    %s gave '%s'\n", alt, buf);
				break;
			}
		}
	}

	TEST("incr_float stores the canonical double text; every result parses again")
	{
		kv_env *env = t_env(32 << 20);
		kv_ns *ns = env ? t_ns(env, "vf", NULL) : NULL;
		if (ns) {
			double d = 0;
			kv_buf txt = KV_BUF_INIT;
			EOK(kv_incr_float(ns, K("a"), K("0.1"), &d, NULL));
			EOK(kv_incr_float(ns, K("a"), K("0.2"), &d, &txt));
			E(t_buf_is(&txt, "0.3", 3) && d == 0.3 && txt.type == KV_T_REAL);
			E(val_is(env, ns, K("a"), "0.3"));
			/* before: "%.17Lf" wrote "0" for 1e-18, losing the increment */
			EOK(kv_incr_float(ns, K("tiny"), K("1e-18"), &d, &txt));
			E(t_buf_is(&txt, "1e-18", 5) && d == 1e-18);
			E(val_is(env, ns, K("tiny"), "1e-18"));
			EOK(kv_incr_float(ns, K("tiny"), K("1e-18"), &d, &txt));
			E(t_buf_is(&txt, "2e-18", 5));
			/* before: 1e300 was stored as 301 digits plus 17 decimals */
			EOK(kv_incr_float(ns, K("big"), K("1e300"), &d, &txt));
			E(t_buf_is(&txt, "1e+300", 6) && txt.len < KV_DOUBLE_BUFSZ);
			EOK(kv_incr_float(ns, K("big"), K("1e300"), &d, &txt));
			E(t_buf_is(&txt, "2e+300", 6) && d == 2e300);
			/* finite in long double but not as a double: refused, value kept */
			ERC(kv_incr_float(ns, K("big"), K("1.7976931348623157e308"), &d, NULL), KV_EOVERFLOW);
			E(val_is(env, ns, K("big"), "2e+300"));
			ERC(kv_incr_float(ns, K("huge"), K("1e4000"), &d, NULL), KV_EOVERFLOW);
			ERC(kv_exists(ns, K("huge")), KV_NOTFOUND);
			/* -0 is stored as 0 */
			EOK(kv_incr_float(ns, K("z"), K("-0"), &d, &txt));
			E(t_buf_is(&txt, "0", 1) && !signbit(d));
			EOK(kv_incr_float(ns, K("z2"), K("-1.5"), &d, NULL));
			EOK(kv_incr_float(ns, K("z2"), K("1.5"), &d, &txt));
			E(t_buf_is(&txt, "0", 1));
			/* long decimal inputs come back short */
			EOK(kv_incr_float(ns, K("l"), K("3.14159265358979323846264338327950288"), &d, &txt));
			E(t_buf_is(&txt, "3.141592653589793", 17));
			kv_buf_free(env, &txt);
			kv_ns_close(ns);
		}
		if (env)
			kv_env_close(env);
	}

	TEST("kv_ns_name_check: the engine's rule with a length, NUL refused")
	{
		EOK(kv_ns_name_check("abc", 3));
		EOK(kv_ns_name_check("abc", 2));
		EOK(kv_ns_name_check("A-z_0.9:x", 9));
		ERC(kv_ns_name_check("ab\0c", 4), KV_ENSNAME);
		ERC(kv_ns_name_check("abc\0", 4), KV_ENSNAME);
		ERC(kv_ns_name_check("", 0), KV_ENSNAME);
		ERC(kv_ns_name_check(NULL, 3), KV_ENSNAME);
		ERC(kv_ns_name_check("a/b", 3), KV_ENSNAME);
		ERC(kv_ns_name_check("a b", 3), KV_ENSNAME);
		char n64[65];
		memset(n64, 'n', 64);
		n64[64] = 0;
		EOK(kv_ns_name_check(n64, 63));
		ERC(kv_ns_name_check(n64, 64), KV_ENSNAME);
	}
}

int main(int argc, char **argv)
{
	t_init(argc, argv);
	test_version_and_errors();
	test_env();
	test_namespaces();
	test_configure_resize_flush();
	test_single_key();
	test_get_sizes();
	test_expiry();
	test_limits();
	test_vocabulary();
	return t_done();
}
