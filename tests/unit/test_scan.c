/*
 * test_scan.c -- kv_scan (issue 3): complete and duplicate-free scans of a
 * quiet namespace, prefix and Redis-glob filters (checked against a reference
 * matcher written here), values, expiry, the callback's stop value, and the
 * coverage guarantee: while writers insert, delete and overwrite, tables grow,
 * keys expire and the shard count is raised, every key that exists for the
 * whole scan is returned; duplicates only when the shard count was raised
 * during that scan.
 */
#include <pthread.h>

#include "test.h"

#define HOUR_MS 3600000LL

/* Reference Redis glob (stringmatchlen without nocase). */
static int glob(const char *p, size_t pl, const char *s, size_t sl)
{
	while (pl && sl) {
		switch (*p) {
		case '*':
			while (pl > 1 && p[1] == '*') {
				p++;
				pl--;
			}
			if (pl == 1)
				return 1;
			for (size_t i = 0; i <= sl; i++)
				if (glob(p + 1, pl - 1, s + i, sl - i))
					return 1;
			return 0;
		case '?':
			break;
		case '[': {
			int neg, hit = 0;
			p++;
			pl--;
			neg = pl && *p == '^';
			if (neg) {
				p++;
				pl--;
			}
			while (pl) {
				if (*p == '\\' && pl >= 2) {
					p++;
					pl--;
					if (*p == *s)
						hit = 1;
				} else if (*p == ']') {
					break;
				} else if (pl >= 3 && p[1] == '-') {
					int lo = (unsigned char)p[0], hi = (unsigned char)p[2], c = (unsigned char)*s;
					if (lo > hi) {
						int t = lo;
						lo = hi;
						hi = t;
					}
					if (c >= lo && c <= hi)
						hit = 1;
					p += 2;
					pl -= 2;
				} else if (*p == *s) {
					hit = 1;
				}
				p++;
				pl--;
			}
			if (pl == 0) { /* unterminated class: Redis treats the end as ']' */
				p--;
				pl++;
			}
			if (neg)
				hit = !hit;
			if (!hit)
				return 0;
			break;
		}
		case '\\':
			if (pl >= 2) {
				p++;
				pl--;
			}
			/* fall through */
		default:
			if (*p != *s)
				return 0;
			break;
		}
		p++;
		pl--;
		s++;
		sl--;
	}
	while (pl && *p == '*') {
		p++;
		pl--;
	}
	return pl == 0 && sl == 0;
}

typedef struct {
	int nkeys;
	char (*keys)[40];
	size_t *klens;
	int *seen;   /* per key */
	long unknown; /* returned keys that are not in the list */
	long total;
	int stop_after; /* return 7 after this many keys (0: never) */
	int values;
	long badval;
} sctx;

static int find_key(sctx *c, const void *k, size_t kl)
{
	/* keys are "<prefix><number>": a linear search is fine for the sizes here */
	for (int i = 0; i < c->nkeys; i++)
		if (c->klens[i] == kl && memcmp(c->keys[i], k, kl) == 0)
			return i;
	return -1;
}

static int collect(void *ctx, const void *key, size_t klen, const void *val, size_t vlen, int type,
                   int64_t exp)
{
	sctx *c = ctx;
	int i = find_key(c, key, klen);
	c->total++;
	if (i < 0)
		c->unknown++;
	else
		c->seen[i]++;
	if (c->values) {
		/* every value is "val:" + key, type TEXT, expiry 0 unless the key ends in 'x' */
		if (!val || vlen != klen + 4 || memcmp(val, "val:", 4) != 0 ||
		    memcmp((const char *)val + 4, key, klen) != 0 || type != KV_T_TEXT)
			c->badval++;
		if (klen && ((const char *)key)[klen - 1] == 'x' ? exp == 0 : exp != 0)
			c->badval++;
	} else if (val != NULL) {
		c->badval++;
	}
	if (c->stop_after && c->total >= c->stop_after)
		return 7;
	return 0;
}

/* Full scan; returns 0 or the failing status. */
/* A callback that writes to, reads and scans the namespace being scanned. */
typedef struct {
	kv_env *env;
	kv_ns *ns;
	int seen, bad, depth;
} reent_ctx;

static int reent_cb(void *ctx, const void *key, size_t klen, const void *val, size_t vlen, int type,
                    int64_t exp)
{
	reent_ctx *r = ctx;
	(void)type;
	(void)exp;
	char k[64];
	if (klen < 2 || klen > 40 || !val || (vlen != 10 && vlen != 5000) || ((const char *)val)[vlen - 1] != 'B') {
		r->bad++;
		return 0;
	}
	r->seen++;
	memcpy(k, key, klen);
	k[0] = 'c';
	if (kv_set(r->ns, k, klen, val, vlen, KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL) != KV_OK)
		r->bad++;
	kv_buf b = KV_BUF_INIT;
	if (kv_get(r->ns, key, klen, &b) != KV_OK || b.len != vlen)
		r->bad++;
	kv_buf_free(r->env, &b);
	if (r->seen == 1) { /* a nested scan step of the same namespace */
		uint64_t cur = 0;
		reent_ctx inner = {r->env, r->ns, 0, 0, 1};
		kv_scan_opts o;
		memset(&o, 0, sizeof o);
		o.match = "nothing*";
		o.match_len = 8;
		if (kv_scan(r->ns, &cur, &o, reent_cb, &inner) != KV_OK || inner.seen != 0)
			r->bad++;
	}
	t_sleep_ms(r->seen % 100 == 0 ? 5 : 0); /* slow now and then */
	return 0;
}

static int full_scan(kv_ns *ns, const kv_scan_opts *o, sctx *c, int *steps)
{
	uint64_t cur = 0;
	int n = 0;
	do {
		int rc = kv_scan(ns, &cur, o, collect, c);
		if (rc != KV_OK)
			return rc;
		if (++n > 10000000)
			return -1;
	} while (cur != 0);
	if (steps)
		*steps = n;
	return 0;
}

#define NK 2000
static char keys[NK][40];
static size_t klens[NK];
static int seen[NK];

static void reset(sctx *c, int n)
{
	memset(c, 0, sizeof *c);
	c->nkeys = n;
	c->keys = keys;
	c->klens = klens;
	c->seen = seen;
	memset(seen, 0, sizeof seen);
}

static void test_quiet(void)
{
	kv_env *env = t_env(128 << 20);
	kv_ns *ns = env ? t_ns(env, "sc", NULL) : NULL;
	if (!ns)
		return;
	sctx c;
	kv_scan_opts o;

	TEST("an empty namespace scans in one step with no keys")
	{
		memset(&o, 0, sizeof o);
		reset(&c, 0);
		uint64_t cur = 0;
		EOK(kv_scan(ns, &cur, &o, collect, &c));
		E(cur == 0 && c.total == 0);
	}

	/* keys: user:N, order:N, "\0bin:N" (binary), glob metacharacters, TTL keys end in x */
	int n = 0;
	for (int i = 0; i < 700; i++)
		klens[n] = (size_t)snprintf(keys[n], 40, "user:%d", i), n++;
	for (int i = 0; i < 700; i++)
		klens[n] = (size_t)snprintf(keys[n], 40, "order:%d", i), n++;
	for (int i = 0; i < 300; i++) {
		klens[n] = (size_t)snprintf(keys[n], 40, "_bin:%d", i);
		keys[n][0] = 0;
		n++;
	}
	const char *odd[] = {"a*b", "a?b", "a[b", "a\\b", "aXb", "ab", "x", "user:", "[x]", "u"};
	for (int i = 0; i < 10; i++)
		klens[n] = strlen(strcpy(keys[n], odd[i])), n++;
	for (int i = 0; i < 200; i++)
		klens[n] = (size_t)snprintf(keys[n], 40, "ttl:%dx", i), n++;
	int nkeys = n;
	int64_t far = kv_now_ms() + HOUR_MS;
	for (int i = 0; i < nkeys; i++) {
		char v[48];
		memcpy(v, "val:", 4);
		memcpy(v + 4, keys[i], klens[i]);
		EOK(kv_set(ns, keys[i], klens[i], v, klens[i] + 4, KV_T_TEXT,
		           keys[i][klens[i] - 1] == 'x' ? far : KV_EXPIRE_NEVER, 0, NULL));
	}

	TEST("a full scan of a quiet namespace returns every key exactly once, for any count")
	{
		size_t counts[] = {0, 1, 7, 100, 100000};
		for (int ci = 0; ci < 5; ci++) {
			memset(&o, 0, sizeof o);
			o.count = counts[ci];
			reset(&c, nkeys);
			int steps = 0;
			EOK(full_scan(ns, &o, &c, &steps));
			int missing = 0, dup = 0;
			for (int i = 0; i < nkeys; i++) {
				missing += seen[i] == 0;
				dup += seen[i] > 1;
			}
			if (!E(missing == 0 && dup == 0 && c.unknown == 0 && c.badval == 0))
				fprintf(stderr, "    count %zu: %d missing, %d duplicated, %ld unknown\n",
				        counts[ci], missing, dup, c.unknown);
			if (counts[ci] == 1)
				E(steps > 16); /* the count hint bounds the work per step */
		}
	}

	TEST("values: scan returns value, type and expiry when asked")
	{
		memset(&o, 0, sizeof o);
		o.values = 1;
		reset(&c, nkeys);
		c.values = 1;
		EOK(full_scan(ns, &o, &c, NULL));
		E(c.badval == 0 && c.total == nkeys);
	}

	TEST("prefix filter, binary prefix included")
	{
		struct {
			const char *p;
			size_t pl;
		} pf[] = {{"user:", 5}, {"order:1", 7}, {"\0bin:2", 6}, {"a", 1}, {"zzz", 3}, {"user:699", 8}};
		for (int t = 0; t < 6; t++) {
			memset(&o, 0, sizeof o);
			o.prefix = pf[t].p;
			o.prefix_len = pf[t].pl;
			o.count = 50;
			reset(&c, nkeys);
			EOK(full_scan(ns, &o, &c, NULL));
			int wrong = 0;
			for (int i = 0; i < nkeys; i++) {
				int want = klens[i] >= pf[t].pl && memcmp(keys[i], pf[t].p, pf[t].pl) == 0;
				wrong += seen[i] != want;
			}
			if (!E(wrong == 0 && c.unknown == 0))
				fprintf(stderr, "    prefix #%d: %d keys wrong\n", t, wrong);
		}
	}

	TEST("glob filter matches Redis MATCH semantics")
	{
		const char *pats[] = {"user:*",   "*:1?",  "order:[0-4]*", "[^u]*",  "a\\*b", "a?b",
		                      "*[*?]*",   "a\\?b", "[a-b]*",       "*x",     "user:6[5-9]",
		                      "*",        "[x]",   "\\[x\\]",      "a[^*]b", "?",
		                      "u*r:1*0", "ttl:1??x"};
		int np = (int)(sizeof pats / sizeof pats[0]);
		for (int t = 0; t < np; t++) {
			memset(&o, 0, sizeof o);
			o.match = pats[t];
			o.match_len = strlen(pats[t]);
			reset(&c, nkeys);
			EOK(full_scan(ns, &o, &c, NULL));
			int wrong = 0, want_n = 0;
			for (int i = 0; i < nkeys; i++) {
				int want = glob(pats[t], strlen(pats[t]), keys[i], klens[i]);
				want_n += want;
				if (seen[i] != want && wrong++ < 2)
					fprintf(stderr, "    pattern '%s', key '%s': returned %d times, want %d\n",
					        pats[t], keys[i][0] ? keys[i] : "\\0...", seen[i], want);
			}
			E(wrong == 0 && c.unknown == 0);
			if (t == 0)
				E(want_n == 701); /* the reference matcher itself: user:0..699 and "user:" */
		}
		/* prefix and match together */
		memset(&o, 0, sizeof o);
		o.prefix = "order:";
		o.prefix_len = 6;
		o.match = "*9";
		o.match_len = 2;
		reset(&c, nkeys);
		EOK(full_scan(ns, &o, &c, NULL));
		int wrong = 0;
		for (int i = 0; i < nkeys; i++) {
			int want = strncmp(keys[i], "order:", 6) == 0 && keys[i][klens[i] - 1] == '9';
			wrong += seen[i] != want;
		}
		E(wrong == 0);
	}

	TEST("expired keys are not returned")
	{
		kv_ns *e = t_ns(env, "scexp", NULL);
		if (e) {
			int64_t soon = kv_now_ms() + 200;
			for (int i = 0; i < 100; i++) {
				char k[32];
				int kl = snprintf(k, sizeof k, "gone%d", i);
				EOK(kv_set(e, k, (size_t)kl, "v", 1, KV_T_TEXT, soon, 0, NULL));
			}
			EOK(kv_set(e, K("stays"), K("v"), KV_T_TEXT, KV_EXPIRE_NEVER, 0, NULL));
			t_sleep_until(soon);
			klens[0] = strlen(strcpy(keys[0], "stays"));
			reset(&c, 1);
			memset(&o, 0, sizeof o);
			EOK(full_scan(e, &o, &c, NULL));
			E(c.total == 1 && seen[0] == 1);
			kv_ns_close(e);
		}
		/* restore key 0 of the main list */
		klens[0] = (size_t)snprintf(keys[0], 40, "user:%d", 0);
	}

	TEST("a nonzero callback return stops the step with the cursor unchanged")
	{
		memset(&o, 0, sizeof o);
		o.count = 100;
		reset(&c, nkeys);
		uint64_t cur = 0, before;
		int stops = 0, steps = 0, rc;
		do {
			before = cur;
			c.stop_after = (int)c.total + 3; /* stop on the 3rd key of every step */
			rc = kv_scan(ns, &cur, &o, collect, &c);
			if (rc == 7) {
				stops++;
				if (!E(cur == before))
					break;
				/* resume the same step, this time to its end */
				c.stop_after = 0;
				rc = kv_scan(ns, &cur, &o, collect, &c);
			}
			if (!E(R(rc) == KV_OK))
				break;
		} while (cur != 0 && ++steps < 1000000);
		E(stops > 0);
		int missing = 0;
		for (int i = 0; i < nkeys; i++)
			missing += seen[i] == 0;
		E(missing == 0 && c.unknown == 0);
	}

	TEST("a scan callback may call the engine, on the same namespace and shard, and be slow")
	{
		kv_ns_config sc;
		kv_ns_config_init(&sc);
		sc.shards = 1;
		kv_ns *one = t_ns(env, "screent", &sc);
		if (one) {
			char big[5000];
			memset(big, 'B', sizeof big);
			for (int i = 0; i < 300; i++) {
				char k[32];
				int kl = snprintf(k, sizeof k, "r:%d", i);
				EOK(kv_set(one, k, (size_t)kl, big, (size_t)(i % 2 ? sizeof big : 10), KV_T_BYTES,
				           KV_EXPIRE_NEVER, 0, NULL));
			}
			reent_ctx rc_ = {env, one, 0, 0, 0};
			kv_scan_opts ro;
			memset(&ro, 0, sizeof ro);
			ro.values = 1;
			ro.count = 1000000;
			ro.match = "r:*";
			ro.match_len = 3;
			uint64_t cur = 0;
			int steps = 0;
			do
				EOK(kv_scan(one, &cur, &ro, reent_cb, &rc_));
			while (cur != 0 && ++steps < 100);
			/* every original key once; the copies the callback wrote (c:N) do not match */
			E(rc_.seen == 300 && rc_.bad == 0);
			kv_ns_stats st;
			EOK(kv_ns_stats_get(one, &st));
			E(st.keys == 600);
			kv_ns_close(one);
		}
	}

	TEST("scan of a dropped namespace is KV_ENONS")
	{
		kv_ns *d = t_ns(env, "scdrop", NULL);
		if (d) {
			EOK(kv_ns_drop(env, "scdrop"));
			uint64_t cur = 0;
			memset(&o, 0, sizeof o);
			reset(&c, 0);
			ERC(kv_scan(d, &cur, &o, collect, &c), KV_ENONS);
			kv_ns_close(d);
		}
	}

	kv_ns_close(ns);
	kv_env_close(env);
}

/* ------------------------------------------------ coverage under change */

#define NSTABLE 3000
static kv_env *cenv;
static kv_ns *cns;
static int cstop;
static int resize_gen; /* odd while a resize runs */

typedef struct {
	uint64_t seed;
	long ops, bad;
} warg;

static void *churn(void *p)
{
	warg *a = p;
	char k[32], v[300];
	memset(v, 'c', sizeof v);
	while (!T_LOAD(cstop)) {
		uint64_t r = t_rand(&a->seed);
		int kl;
		int rc;
		switch (r % 4) {
		case 0: /* transient keys come and go; tables grow and shrink */
		case 1:
			kl = snprintf(k, sizeof k, "t:%llu", (unsigned long long)((r >> 8) % 40000));
			rc = kv_set(cns, k, (size_t)kl, v, (r >> 20) % 300, KV_T_BYTES,
			            r & 0x1000000 ? kv_now_ms() + 5 : KV_EXPIRE_NEVER, 0, NULL);
			break;
		case 2:
			kl = snprintf(k, sizeof k, "t:%llu", (unsigned long long)((r >> 8) % 40000));
			rc = kv_del(cns, k, (size_t)kl);
			if (rc == KV_NOTFOUND)
				rc = KV_OK;
			break;
		default: /* stable keys are overwritten, never removed */
			kl = snprintf(k, sizeof k, "s:%llu", (unsigned long long)((r >> 8) % NSTABLE));
			rc = kv_set(cns, k, (size_t)kl, v, (r >> 20) % 300, KV_T_BYTES, KV_EXPIRE_NEVER, 0,
			            NULL);
		}
		if (rc != KV_OK && a->bad++ < 3)
			fprintf(stderr, "    writer: %s\n", t_code_name(rc));
		a->ops++;
		if ((a->ops & 1023) == 0)
			kv_tick(cenv, 100, NULL);
	}
	return NULL;
}

static void *sresizer(void *p)
{
	warg *a = p;
	uint32_t shards = 2;
	while (!T_LOAD(cstop)) {
		t_sleep_ms(15);
		if (shards >= 256)
			continue;
		shards += 1 + shards / 3;
		__atomic_add_fetch(&resize_gen, 1, __ATOMIC_SEQ_CST);
		int rc = kv_ns_resize(cns, shards);
		__atomic_add_fetch(&resize_gen, 1, __ATOMIC_SEQ_CST);
		if (rc != KV_OK && rc != KV_EBUSY && a->bad++ < 3)
			fprintf(stderr, "    resize: %s\n", t_code_name(rc));
		a->ops++;
	}
	return NULL;
}

typedef struct {
	int *seen;
	long other;
} cctx;

static int ccollect(void *ctx, const void *key, size_t klen, const void *val, size_t vlen, int type,
                    int64_t exp)
{
	cctx *c = ctx;
	(void)val, (void)vlen, (void)type, (void)exp;
	if (klen > 2 && memcmp(key, "s:", 2) == 0) {
		char num[16];
		size_t l = klen - 2 < 15 ? klen - 2 : 15;
		memcpy(num, (const char *)key + 2, l);
		num[l] = 0;
		long i = strtol(num, NULL, 10);
		if (i >= 0 && i < NSTABLE)
			c->seen[i]++;
		else
			c->other++;
	} else if (klen < 2 || memcmp(key, "t:", 2) != 0) {
		c->other++;
	}
	return 0;
}

static void test_coverage(void)
{
	TEST("every key present for the whole scan is returned while writers, expiry and resize run")
	{
		int ms = t_quick() ? 800 : getenv("TEST_STRESS") ? 30000 : 3000;
		cenv = t_env(512 << 20);
		kv_ns_config c;
		kv_ns_config_init(&c);
		c.shards = 2;
		cns = cenv ? t_ns(cenv, "cov", &c) : NULL;
		if (cns) {
			char k[32];
			for (int i = 0; i < NSTABLE; i++) {
				int kl = snprintf(k, sizeof k, "s:%d", i);
				EOK(kv_set(cns, k, (size_t)kl, "v", 1, KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL));
			}
			uint64_t seed = t_seed("scan coverage");
			pthread_t th[3];
			warg a[3];
			memset(a, 0, sizeof a);
			T_STORE(cstop, 0);
			for (int i = 0; i < 3; i++) {
				a[i].seed = seed + (uint64_t)i * 7777;
				pthread_create(&th[i], NULL, i == 2 ? sresizer : churn, &a[i]);
			}
			int64_t end = kv_now_ms() + ms;
			static int sn[NSTABLE];
			long scans = 0, incomplete = 0, dup_quiet = 0, dup_resize = 0, other = 0, errors = 0;
			kv_scan_opts o;
			memset(&o, 0, sizeof o);
			while (kv_now_ms() < end) {
				memset(sn, 0, sizeof sn);
				cctx cc = {sn, 0};
				int g0 = __atomic_load_n(&resize_gen, __ATOMIC_SEQ_CST);
				uint64_t cur = 0;
				o.count = (size_t)(scans % 3 == 0 ? 1 : scans % 3 == 1 ? 16 : 500);
				int rc = KV_OK;
				do {
					rc = kv_scan(cns, &cur, &o, ccollect, &cc);
				} while (rc == KV_OK && cur != 0);
				int g1 = __atomic_load_n(&resize_gen, __ATOMIC_SEQ_CST);
				if (rc != KV_OK) {
					if (errors++ < 3)
						fprintf(stderr, "    kv_scan: %s\n", t_code_name(rc));
					continue;
				}
				int missing = 0, dups = 0;
				for (int i = 0; i < NSTABLE; i++) {
					missing += sn[i] == 0;
					dups += sn[i] > 1;
				}
				if (missing && incomplete++ < 3)
					fprintf(stderr, "    scan %ld missed %d stable keys (resizes during it: %d)\n",
					        scans, missing, (g1 - g0 + 1) / 2);
				if (dups) {
					if (g0 == g1 && (g0 % 2) == 0)
						dup_quiet++;
					else
						dup_resize++;
				}
				other += cc.other;
				scans++;
			}
			T_STORE(cstop, 1);
			long bad = 0;
			for (int i = 0; i < 3; i++) {
				pthread_join(th[i], NULL);
				bad += a[i].bad;
			}
			printf("    %ld full scans, %ld writer ops, %ld resizes, duplicates in %ld scans with "
			       "a resize\n",
			       scans, a[0].ops + a[1].ops, a[2].ops, dup_resize);
			E(scans > 0);
			E(incomplete == 0);
			if (!E(dup_quiet == 0))
				fprintf(stderr, "    %ld scans without a resize returned duplicates\n", dup_quiet);
			E(other == 0 && errors == 0 && bad == 0);
			kv_ns_close(cns);
		}
		if (cenv)
			kv_env_close(cenv);
	}
}

/* An allocator that fails while fail_now is set, and counts live blocks. */
static int fail_now;
static long live_blocks;
static void *fail_realloc(void *ctx, void *p, size_t n)
{
	(void)ctx;
	if (n == 0) {
		if (p)
			live_blocks--;
		free(p);
		return NULL;
	}
	if (fail_now)
		return NULL;
	void *q = realloc(p, n);
	if (q && !p)
		live_blocks++;
	return q;
}

static void test_failing_alloc(void)
{
	TEST("scans under a failing allocator: KV_ENOMEM or done, cursor kept, nothing leaked")
	{
		kv_config cfg;
		kv_env *fenv = NULL;
		kv_config_init(&cfg);
		cfg.memory = 32 << 20;
		cfg.mem.xRealloc = fail_realloc;
		if (EOK(kv_env_open(&cfg, &fenv))) {
			kv_ns *f = t_ns(fenv, "f", NULL);
			if (f) {
				static char big[50000];
				memset(big, 'v', sizeof big);
				for (int i = 0; i < 200; i++) {
					char k[32];
					int kl = snprintf(k, sizeof k, "k%d", i);
					EOK(kv_set(f, k, (size_t)kl, big, (size_t)(i * 250), KV_T_BYTES, KV_EXPIRE_NEVER, 0,
					           NULL));
				}
				kv_scan_opts o;
				memset(&o, 0, sizeof o);
				o.values = 1;
				o.count = 50;
				uint64_t cur = 0, before;
				sctx c;
				int enomem = 0, steps = 0, rc;
				reset(&c, 0);
				do {
					before = cur;
					fail_now = steps % 2 == 0;
					rc = kv_scan(f, &cur, &o, collect, &c);
					fail_now = 0;
					if (rc == KV_ENOMEM) {
						enomem++;
						if (!E(cur == before))
							break;
						rc = kv_scan(f, &cur, &o, collect, &c);
					}
					if (!E(R(rc) == KV_OK))
						break;
				} while (cur != 0 && ++steps < 100000);
				E(c.total >= 200);
				printf("    %d scan steps refused with KV_ENOMEM and resumed\n", enomem);
				kv_ns_close(f);
			}
			kv_env_close(fenv);
			E(live_blocks == 0);
		}
	}
}

int main(int argc, char **argv)
{
	t_init(argc, argv);
	test_failing_alloc();
	test_quiet();
	test_coverage();
	return t_done();
}
