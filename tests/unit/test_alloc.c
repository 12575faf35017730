/*
 * test_alloc.c -- the engine under a failing allocator (kv_mem_methods).
 *
 * A scripted workload touches every issue-2 call that may allocate from the
 * host allocator (handles, output buffers, lists).  It runs again and again
 * with the allocator failing its Nth call (N = 1, 2, ...), once failing only
 * that call ("transient": the workload retries, as a host would) and once
 * failing every call from the Nth on ("persistent": the workload gives up
 * and closes everything).  In every run:
 *   - no crash; every status is the expected one or KV_ENOMEM;
 *   - a call that returned KV_ENOMEM changed nothing (checked for writes that
 *     return an old value and for consume, which must copy before deleting);
 *   - after everything is closed, every block the engine allocated was freed.
 * The loop ends when a run completes without reaching call N.
 */
#include <sys/mman.h>

#include "test.h"

static struct {
	long calls;   /* allocating calls so far (size > 0) */
	long fail_at; /* fail call number fail_at (1-based); 0: never */
	int persistent;
	long live;    /* blocks outstanding */
	long failed;  /* failures injected */
	long bad_free;
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
	if (A.fail_at && (c == A.fail_at || (A.persistent && c > A.fail_at))) {
		__atomic_add_fetch(&A.failed, 1, __ATOMIC_RELAXED);
		return NULL;
	}
	void *q = realloc(p, n);
	if (q && !p)
		__atomic_add_fetch(&A.live, 1, __ATOMIC_RELAXED);
	return q;
}

static const kv_mem_methods failing = {fail_realloc, NULL};

/* Run call; with a transient failure, retry while it says KV_ENOMEM. */
#define TRY(rc, call)                                                                   \
	do {                                                                                \
		int tries_ = 0;                                                             \
		while (((rc) = (call)) == KV_ENOMEM && !A.persistent && ++tries_ < 4) {     \
		}                                                                           \
	} while (0)

/* The status must be want or KV_ENOMEM; on KV_ENOMEM in persistent mode, give up. */
#define STEP(call, want)                                                                \
	do {                                                                                \
		int rc_;                                                                    \
		TRY(rc_, call);                                                             \
		if (rc_ == KV_ENOMEM) {                                                     \
			if (A.persistent)                                                   \
				goto out;                                                   \
			E(!"KV_ENOMEM persisted after retries of a transient failure");     \
			fprintf(stderr, "    call: %s\n", #call);                           \
			goto out;                                                           \
		}                                                                           \
		if (!E(R(rc_) == (want)))                                                   \
			fprintf(stderr, "    call: %s (fail_at %ld)\n", #call, A.fail_at);      \
	} while (0)

static size_t g_region_size = 8 << 20;
static void *g_region;

/* Read key with an allocator that cannot fail now (to check state after ENOMEM). */
static int peek(kv_ns *ns, const char *k, kv_buf *b)
{
	long save = A.fail_at;
	A.fail_at = 0;
	int rc = kv_get(ns, k, strlen(k), b);
	A.fail_at = save;
	return rc;
}

static void workload(int mode_b)
{
	kv_env *env = NULL;
	kv_ns *ns = NULL, *ns2 = NULL;
	kv_buf b = KV_BUF_INIT, old = KV_BUF_INIT, txt = KV_BUF_INIT;
	kv_config cfg;
	int rc;

	kv_config_init(&cfg);
	cfg.mem = failing;
	cfg.max_namespaces = 8;
	if (mode_b) {
		cfg.region = g_region;
		cfg.region_size = g_region_size;
	} else {
		cfg.memory = 8 << 20;
	}
	TRY(rc, kv_env_open(&cfg, &env));
	if (rc == KV_ENOMEM && A.persistent)
		goto out;
	if (!E(R(rc) == KV_OK))
		goto out;

	STEP(kv_ns_create(env, "w", NULL), KV_OK);
	STEP(kv_ns_open(env, "w", &ns), KV_OK);
	STEP(kv_ns_create(env, "w2", NULL), KV_OK);
	STEP(kv_ns_open(env, "w2", &ns2), KV_OK);

	char big[3000];
	memset(big, 'b', sizeof big);
	for (int i = 0; i < 40; i++) {
		char k[32];
		snprintf(k, sizeof k, "k%d", i);
		STEP(kv_set(ns, k, strlen(k), big, (size_t)(i * 70), KV_T_BYTES, KV_EXPIRE_NEVER, 0,
		            NULL),
		     KV_OK);
	}
	/* buffers growing through several sizes */
	for (int i = 0; i < 40; i += 7) {
		char k[32];
		snprintf(k, sizeof k, "k%d", i);
		STEP(kv_get(ns, k, strlen(k), &b), KV_OK);
		E(b.len == (size_t)(i * 70));
	}

	/* set returning the old value: ENOMEM (growing old) must leave the value alone */
	for (int i = 1; i < 40; i += 9) {
		char k[32];
		snprintf(k, sizeof k, "k%d", i);
		int r2 = kv_set(ns, k, strlen(k), "new", 3, KV_T_TEXT, KV_EXPIRE_NEVER, 0, &old);
		if (r2 == KV_ENOMEM) {
			kv_buf chk = KV_BUF_INIT;
			if (E(R(peek(ns, k, &chk)) == KV_OK))
				E(chk.len == (size_t)(i * 70)); /* unchanged */
			long save = A.fail_at;
			A.fail_at = 0;
			kv_buf_free(env, &chk);
			A.fail_at = save;
			if (A.persistent)
				goto out;
			STEP(kv_set(ns, k, strlen(k), "new", 3, KV_T_TEXT, KV_EXPIRE_NEVER, 0, &old), KV_OK);
		} else if (E(R(r2) == KV_OK)) {
			E(old.len == (size_t)(i * 70));
		}
	}

	/* consume: ENOMEM must leave the key in place */
	{
		int r2 = kv_consume(ns, K("k39"), &b);
		if (r2 == KV_ENOMEM) {
			kv_buf chk = KV_BUF_INIT;
			E(R(peek(ns, "k39", &chk)) == KV_OK);
			long save = A.fail_at;
			A.fail_at = 0;
			kv_buf_free(env, &chk);
			A.fail_at = save;
			if (A.persistent)
				goto out;
			STEP(kv_consume(ns, K("k39"), &b), KV_OK);
		} else {
			E(R(r2) == KV_OK);
		}
		E(b.len == 39 * 70);
		STEP(kv_exists(ns, K("k39")), KV_NOTFOUND);
	}

	int64_t r = 0;
	double d = 0;
	size_t nl = 0;
	STEP(kv_incr(ns, K("ctr"), 5, &r), KV_OK);
	STEP(kv_incr_float(ns, K("fl"), K("2.5"), &d, &txt), KV_OK);
	STEP(kv_append(ns, K("ap"), big, sizeof big, &nl), KV_OK);
	STEP(kv_append(ns, K("ap"), big, sizeof big, &nl), KV_OK);
	STEP(kv_setrange(ns, K("ap"), 10000, K("tail"), &nl), KV_OK);
	STEP(kv_getrange(ns, K("ap"), 0, -1, &b), KV_OK);
	E(b.len == 10004);
	STEP(kv_strlen(ns, K("ap"), &nl), KV_OK);
	STEP(kv_expire(ns, K("ap"), kv_now_ms() + 100000, 0), KV_OK);
	STEP(kv_ttl(ns, K("ap"), &r), KV_OK);
	STEP(kv_persist(ns, K("ap")), KV_OK);
	STEP(kv_rename(ns, K("ap"), K("ap2"), 0), KV_OK);
	STEP(kv_random_key(ns, &b), KV_OK);
	STEP(kv_del(ns, K("k0")), KV_OK);

	kv_ns_stats list[4];
	size_t n = 0;
	STEP(kv_ns_list(env, list, 4, &n), KV_OK);
	E(n == 2);
	STEP(kv_ns_stats_get(ns, &list[0]), KV_OK);
	STEP(kv_ns_resize(ns, 32), KV_OK);
	STEP(kv_tick(env, 0, NULL), KV_OK);
	STEP(kv_ns_flush(ns2), KV_OK);
	STEP(kv_ns_drop(env, "w2"), KV_OK);

	if (mode_b) {
		/* a second handle on the same region, through kv_env_attach */
		kv_env *env2 = NULL;
		kv_ns *h = NULL;
		TRY(rc, kv_env_attach(g_region, g_region_size, &failing, &env2));
		if (rc == KV_ENOMEM && A.persistent)
			goto out;
		if (E(R(rc) == KV_OK)) {
			TRY(rc, kv_ns_open(env2, "w", &h));
			if (rc == KV_OK) {
				kv_buf bb = KV_BUF_INIT;
				TRY(rc, kv_get(h, K("ctr"), &bb));
				E(rc == KV_ENOMEM || (rc == KV_OK && t_buf_is(&bb, "5", 1)));
				kv_buf_free(env2, &bb);
				kv_ns_close(h);
			} else {
				E(R(rc) == KV_ENOMEM && A.persistent);
			}
			kv_env_close(env2);
		}
	}

out:
	/* cleanup must not need the allocator to succeed */
	if (env) {
		kv_buf_free(env, &b);
		kv_buf_free(env, &old);
		kv_buf_free(env, &txt);
	}
	if (ns)
		kv_ns_close(ns);
	if (ns2)
		kv_ns_close(ns2);
	if (env)
		kv_env_close(env);
}

static void run_until_done(int mode_b, int persistent, long max_n)
{
	long n;
	int leaks = 0;
	for (n = 1; n <= max_n; n++) {
		memset(&A, 0, sizeof A);
		A.fail_at = n;
		A.persistent = persistent;
		workload(mode_b);
		if (A.live != 0) {
			if (leaks++ < 5)
				fprintf(stderr, "    fail_at %ld (%s): %ld blocks not freed\n", n,
				        persistent ? "persistent" : "transient", A.live);
		}
		if (A.calls < n)
			break; /* the whole workload ran without reaching call n */
	}
	E(leaks == 0);
	E(n <= max_n);
	printf("    %s, %s: %ld runs\n", mode_b ? "mode (b)" : "mode (a)",
	       persistent ? "persistent" : "transient", n);
}

/* ------------------------------------------------ fragmentation (issue 10) */
/*
 * Fill a small region with small values (and some larger ones, whose tables
 * and pages interleave with the slabs), drop the namespace, then store one
 * value of about 40% of the region: the freed pages must have come back as one
 * run (each size class used to keep one empty page wherever it last had room,
 * which cut them up).  Also with a second namespace whose keys, written before
 * and after each fill, stay live.  (Keys of another namespace written in the
 * middle of the fill share its slab pages and do pin them: the engine does not
 * move live entries.)
 */
static int frag_fill(kv_ns *ns, int salt)
{
	char v[3000];
	memset(v, 'f', sizeof v);
	int i;
	for (i = 0;; i++) {
		char k[32];
		int kl = snprintf(k, sizeof k, "f%d:%d", salt, i);
		/* mostly small values of many size classes, now and then a 3000-byte one */
		size_t vl = i % 50 == 0 ? 3000 : (size_t)(8 + (i * 37) % 400);
		int rc = kv_set(ns, k, (size_t)kl, v, vl, KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL);
		if (rc == KV_ENOMEM)
			break;
		if (!EOK(rc))
			break;
	}
	return i;
}

static void test_fragmentation(void)
{
	for (int keep = 0; keep < 2; keep++)
	TEST(keep ? "fill, drop, then a value of 40% of the region fits (another namespace live)"
	          : "fill, drop, then a value of 40% of the region fits")
	{
		size_t sz = (size_t)64 << 20;
		kv_config cfg;
		kv_env *env = NULL;
		kv_config_init(&cfg);
		cfg.memory = sz;
		if (!EOK(kv_env_open(&cfg, &env)))
			continue;
		kv_ns *live = keep ? t_ns(env, "live", NULL) : NULL;
		for (int round = 0; round < 3; round++) {
			kv_ns *ns = t_ns(env, "fill", NULL);
			if (!ns)
				break;
			int n = frag_fill(ns, round);
			E(n > 1000);
			for (int i = 0; live && i < 100; i++) { /* live keys written after the fill */
				char k[32];
				int kl = snprintf(k, sizeof k, "l%d:%d", round, i);
				EOK(kv_set(live, k, (size_t)kl, K("v"), KV_T_TEXT, KV_EXPIRE_NEVER, 0, NULL));
			}
			kv_ns_close(ns);
			EOK(kv_ns_drop(env, "fill"));
			kv_ns *big = t_ns(env, "big", NULL);
			if (!big)
				break;
			size_t vl = sz * 2 / 5;
			char *v = malloc(vl);
			memset(v, 'x', vl);
			int rc = kv_set(big, K("huge"), v, vl, KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL);
			if (!E(R(rc) == KV_OK)) {
				kv_env_stats st;
				kv_env_stats_get(env, &st);
				fprintf(stderr, "    round %d: %zu MiB value after %d keys filled and dropped\n",
				        round, vl >> 20, n);
			}
			free(v);
			kv_ns_close(big);
			EOK(kv_ns_drop(env, "big"));
		}
		kv_ns_close(live);
		kv_env_close(env);
	}
}

int main(int argc, char **argv)
{
	t_init(argc, argv);
	g_region = mmap(NULL, g_region_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (g_region == MAP_FAILED) {
		perror("mmap");
		return 1;
	}

	TEST("allocator is used, and every block is freed (no injected failure)")
	{
		memset(&A, 0, sizeof A);
		workload(1);
		E(A.calls > 0);
		E(A.live == 0);
		E(A.failed == 0);
	}

	TEST("the allocator fails the Nth call once (mode b): no crash, no leak, no partial change")
	{
		run_until_done(1, 0, 20000);
	}

	TEST("the allocator fails every call from the Nth (mode b): no crash, no leak")
	{
		run_until_done(1, 1, 20000);
	}

	TEST("the allocator fails the Nth call once (mode a)")
	{
		run_until_done(0, 0, 20000);
	}

	TEST("the allocator fails every call from the Nth (mode a)")
	{
		run_until_done(0, 1, 20000);
	}

	test_fragmentation();

	munmap(g_region, g_region_size);
	return t_done();
}
