/*
 * test_ops_locks.c -- single-key operations hold a shard lock for bounded work
 * only (issue 9 item 2; the audit table in engine/kv_internal.h):
 *  - a SET, APPEND or SETRANGE of a big value copies it before taking the
 *    lock, and the result is the same as before (TTL rules included);
 *  - kv_random_key over a huge table of expired keys walks it in bounded steps;
 *  - kv_rename of a big value copies it before the locks, and runs on a
 *    thread with a small stack (its lock set is on the heap);
 *  - EXPIRE/PERSIST and APPEND rebuilding a big value lose no concurrent change.
 *
 * Timing checks compare another thread's progress against the long call's own
 * duration, so a slow (sanitizer) build or a busy machine does not make them
 * flaky: before the fixes the other thread made no progress at all meanwhile.
 */
#include <pthread.h>

#include "test.h"

static int Q;

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ------------------------------------------- another writer of the shard */
typedef struct {
	kv_env *env;
	kv_ns *ns;
	int stop, measure;
	int del_only; /* only calls that lock without adding a live key */
	long ops, bad;
	long during;
	int64_t max_us;
} worker;

static void *work(void *p)
{
	worker *a = p;
	kv_buf b = KV_BUF_INIT;
	/* a call that started before stop counts, also when it completes after: a
	 * call blocked behind the long one completes only once that released it */
	for (long i = 0; !T_LOAD(a->stop); i++) {
		char k[32];
		int kl = snprintf(k, sizeof k, "w:%ld", i % 500);
		int64_t t0 = now_us();
		if (a->del_only) {
			if (kv_del(a->ns, k, (size_t)kl) != KV_NOTFOUND)
				a->bad++;
		} else {
			if (kv_set(a->ns, k, (size_t)kl, K("v"), KV_T_TEXT, KV_EXPIRE_NEVER, 0, NULL) != KV_OK)
				a->bad++;
			if (kv_get(a->ns, k, (size_t)kl, &b) != KV_OK)
				a->bad++;
		}
		int64_t d = now_us() - t0;
		if (T_LOAD(a->measure) && d > __atomic_load_n(&a->max_us, __ATOMIC_RELAXED))
			__atomic_store_n(&a->max_us, d, __ATOMIC_RELAXED);
		__atomic_add_fetch(&a->ops, 1, __ATOMIC_RELEASE);
	}
	kv_buf_free(a->env, &b);
	return NULL;
}

/* Run fn(arg) while a worker writes the same (single-shard) namespace; return
 * fn's duration, with a->during the worker's calls completed meanwhile and
 * a->max_us its slowest call (over the long call only). */
static int64_t beside_worker(kv_env *env, kv_ns *ns, void (*fn)(void *), void *arg, worker *a)
{
	int del_only = a->del_only;
	memset(a, 0, sizeof *a);
	a->del_only = del_only;
	a->env = env;
	a->ns = ns;
	pthread_t th;
	pthread_create(&th, NULL, work, a);
	while (__atomic_load_n(&a->ops, __ATOMIC_ACQUIRE) < 100)
		t_sleep_ms(1);
	T_STORE(a->measure, 1);
	long ops0 = __atomic_load_n(&a->ops, __ATOMIC_ACQUIRE);
	int64_t t0 = now_us();
	fn(arg);
	int64_t took = now_us() - t0;
	a->during = __atomic_load_n(&a->ops, __ATOMIC_ACQUIRE) - ops0;
	T_STORE(a->stop, 1);
	pthread_join(th, NULL);
	return took;
}

/* The long call ran for `took`; the worker made progress meanwhile and never
 * waited for most of it.  1 yes, 0 no, -1 too fast to tell.  A slowest call
 * is judged only against a long call: on a busy machine a thread can lose the
 * CPU for a few ms, which says nothing about locks. */
static int verdict(const char *what, const worker *a, int64_t took)
{
	printf("    %s took %lld ms; meanwhile %ld calls of the other writer, slowest %lld us\n", what,
	       (long long)(took / 1000), a->during, (long long)a->max_us);
	if (a->bad)
		return 0;
	if (took < 20000)
		return -1;
	if (a->during < 10)
		return 0;
	return took < 50000 || a->max_us < took / 2;
}

static void judge(const char *what, const worker *a, int64_t took)
{
	if (!E(verdict(what, a, took) != 0))
		fprintf(stderr, "    the other writer waited %lld us of %lld\n", (long long)a->max_us,
		        (long long)took);
}

/* The same for a call that may be repeated: a descheduled worker in one of up
 * to three tries is not a failure; a worker that waits for the lock fails all. */
static void judge_tries(const char *what, kv_env *env, kv_ns *ns, void (*fn)(void *), void *arg,
                        const int *rc)
{
	worker a = {0};
	int v = 0;
	for (int t = 0; t < 3 && v == 0; t++) {
		int64_t took = beside_worker(env, ns, fn, arg, &a);
		EOK(*rc);
		v = verdict(what, &a, took);
	}
	E(v != 0);
}

/* --------------------------------------------------------- big values */
typedef struct {
	kv_ns *ns;
	const char *key;
	const char *val;
	size_t len;
	size_t off;
	int op; /* 0 set, 1 append, 2 setrange, 3 rename to big2, 4 consume */
	int rc;
	kv_buf out;
} big_job;

static void run_big(void *p)
{
	big_job *j = p;
	size_t nl;
	if (j->op == 0)
		j->rc = kv_set(j->ns, j->key, strlen(j->key), j->val, j->len, KV_T_BYTES, KV_EXPIRE_KEEP, 0, NULL);
	else if (j->op == 1)
		j->rc = kv_append(j->ns, j->key, strlen(j->key), j->val, j->len, &nl);
	else if (j->op == 2)
		j->rc = kv_setrange(j->ns, j->key, strlen(j->key), j->off, j->val, j->len, &nl);
	else if (j->op == 3)
		j->rc = kv_rename(j->ns, j->key, strlen(j->key), K("big2"), 0);
	else
		j->rc = kv_consume(j->ns, j->key, strlen(j->key), &j->out);
}

static int check_bytes(const kv_buf *b, size_t from, size_t n, char c)
{
	for (size_t i = from; i < from + n; i++)
		if (b->data[i] != c)
			return 0;
	return 1;
}

static void test_big_values(void)
{
	TEST("SET, APPEND and SETRANGE of big values give the same results as before")
	{
		kv_env *env = t_env(64 << 20);
		kv_ns_config c;
		kv_ns_config_init(&c);
		c.shards = 2;
		kv_ns *ns = env ? t_ns(env, "big", &c) : NULL;
		if (ns) {
			size_t n = 100000;
			char *v = malloc(n);
			memset(v, 'x', n);
			kv_buf b = KV_BUF_INIT;
			int64_t far = kv_now_ms() + 3600000, exp;
			/* SET KEEP over a key with a TTL keeps it; over none, none */
			EOK(kv_set(ns, K("t"), K("small"), KV_T_TEXT, far, 0, NULL));
			EOK(kv_set(ns, K("t"), v, n, KV_T_BYTES, KV_EXPIRE_KEEP, 0, NULL));
			EOK(kv_ttl(ns, K("t"), &exp));
			E(exp == far);
			EOK(kv_get(ns, K("t"), &b));
			E(b.len == n && b.type == KV_T_BYTES && check_bytes(&b, 0, n, 'x'));
			EOK(kv_set(ns, K("t"), v, n, KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL));
			EOK(kv_ttl(ns, K("t"), &exp));
			E(exp == 0);
			EOK(kv_set(ns, K("t"), v, n - 1, KV_T_BYTES, far + 1, 0, NULL));
			EOK(kv_ttl(ns, K("t"), &exp));
			E(exp == far + 1);
			/* KEEP when the entry the guess saw has no TTL but gets one: still right */
			EOK(kv_set(ns, K("u"), v, n, KV_T_BYTES, KV_EXPIRE_KEEP, 0, NULL));
			EOK(kv_ttl(ns, K("u"), &exp));
			E(exp == 0);
			/* NX and XX refuse without leaking the entry built for them */
			ERC(kv_set(ns, K("u"), v, n, KV_T_BYTES, KV_EXPIRE_NEVER, KV_SET_NX, NULL), KV_EXISTS);
			ERC(kv_set(ns, K("nx"), v, n, KV_T_BYTES, KV_EXPIRE_NEVER, KV_SET_XX, NULL), KV_NOTFOUND);
			/* SET ... GET of a big old value */
			kv_buf old = KV_BUF_INIT;
			EOK(kv_set(ns, K("u"), K("s"), KV_T_TEXT, KV_EXPIRE_NEVER, 0, &old));
			E(old.len == n && check_bytes(&old, 0, n, 'x'));
			kv_buf_free(env, &old);

			/* APPEND: a big tail onto a small value, a small tail onto a big one,
			 * onto nothing; the TTL stays */
			size_t nl;
			EOK(kv_set(ns, K("a"), K("head"), KV_T_TEXT, far, 0, NULL));
			EOK(kv_append(ns, K("a"), v, n, &nl));
			E(nl == n + 4);
			EOK(kv_append(ns, K("a"), K("!"), &nl));
			E(nl == n + 5);
			EOK(kv_get(ns, K("a"), &b));
			E(b.len == n + 5 && memcmp(b.data, "head", 4) == 0 && check_bytes(&b, 4, n, 'x') &&
			  b.data[n + 4] == '!' && b.type == KV_T_TEXT && b.expires_at == far);
			EOK(kv_append(ns, K("a2"), v, n, &nl));
			EOK(kv_get(ns, K("a2"), &b));
			E(nl == n && b.len == n && check_bytes(&b, 0, n, 'x') && b.expires_at == 0);
			/* grow a value by appends across many size classes */
			for (int i = 0; i < 40; i++)
				EOK(kv_append(ns, K("g"), v, 3000, &nl));
			EOK(kv_get(ns, K("g"), &b));
			E(b.len == 120000 && check_bytes(&b, 0, 120000, 'x'));

			/* SETRANGE past the end of nothing: zeros, then the bytes */
			EOK(kv_setrange(ns, K("r"), 50000, v, 10, &nl));
			EOK(kv_get(ns, K("r"), &b));
			E(nl == 50010 && b.len == 50010 && check_bytes(&b, 0, 50000, 0) && check_bytes(&b, 50000, 10, 'x'));
			/* a patch inside a big value keeps the rest */
			memset(v, 'y', 20);
			EOK(kv_setrange(ns, K("r"), 10, v, 20, &nl));
			EOK(kv_get(ns, K("r"), &b));
			E(nl == 50010 && check_bytes(&b, 0, 10, 0) && check_bytes(&b, 10, 20, 'y') &&
			  check_bytes(&b, 30, 49970, 0));
			/* EXPIRE and PERSIST add and drop the TTL word of a big value */
			EOK(kv_expire(ns, K("a2"), far, 0));
			EOK(kv_get(ns, K("a2"), &b));
			E(b.len == n && check_bytes(&b, 0, n, 'x') && b.expires_at == far);
			EOK(kv_expire(ns, K("a2"), far + 5, KV_EXPIRE_GT));
			EOK(kv_persist(ns, K("a2")));
			EOK(kv_get(ns, K("a2"), &b));
			E(b.len == n && check_bytes(&b, 0, n, 'x') && b.expires_at == 0);
			ERC(kv_persist(ns, K("a2")), KV_UNCHANGED);
			/* over a limit: refused, and the entry built for it is freed */
			kv_ns_stats st0, st1;
			kv_env_stats es0, es1;
			c.max_value_size = 60000;
			EOK(kv_ns_configure(ns, &c));
			EOK(kv_ns_stats_get(ns, &st0));
			EOK(kv_env_stats_get(env, &es0));
			for (int i = 0; i < 50; i++) {
				ERC(kv_set(ns, K("r"), v, n, KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL), KV_EVALSIZE);
				ERC(kv_append(ns, K("r"), v, 20000, &nl), KV_EVALSIZE);
				ERC(kv_set(ns, K("a2"), v, 50000, KV_T_BYTES, KV_EXPIRE_NEVER, KV_SET_NX, NULL), KV_EXISTS);
			}
			EOK(kv_ns_stats_get(ns, &st1));
			EOK(kv_env_stats_get(env, &es1));
			E(st1.keys == st0.keys && st1.bytes == st0.bytes && es1.region_used == es0.region_used);
			kv_buf_free(env, &b);
			free(v);
			kv_ns_close(ns);
		}
		if (env)
			kv_env_close(env);
	}
}

static void test_big_unlocked(void)
{
	TEST("a big SET, APPEND, RENAME or CONSUME copies its value outside the shard lock")
	{
		size_t n = Q ? ((size_t)64 << 20) : ((size_t)256 << 20);
		kv_env *env = t_env(8 * n + ((size_t)64 << 20)); /* room for fragmentation */
		kv_ns_config c;
		kv_ns_config_init(&c);
		c.shards = 1; /* the big write and the other writer meet on one lock */
		kv_ns *ns = env ? t_ns(env, "one", &c) : NULL;
		char *v = malloc(n);
		if (ns && v) {
			memset(v, 'z', n);
			worker a = {0};
			big_job j = {ns, "big", v, n, 0, 0, 0, KV_BUF_INIT};
			/* a new key (and again, a replacement of the same size: it used to be
			 * overwritten in place, under the lock) */
			judge_tries("SET of a big value", env, ns, run_big, &j, &j.rc);
			v[0] = 'A';
			judge_tries("SET over a big value of the same size", env, ns, run_big, &j, &j.rc);
			int64_t took;
			/* APPEND onto it: a new entry of twice the size */
			j.op = 1;
			j.len = n / 2;
			took = beside_worker(env, ns, run_big, &j, &a);
			EOK(j.rc);
			judge("APPEND of half as much again", &a, took);
			/* RENAME: the new key's entry holds a copy of the value */
			j.op = 3;
			took = beside_worker(env, ns, run_big, &j, &a);
			EOK(j.rc);
			judge("RENAME of it", &a, took);
			/* CONSUME: the value handed back is copied out before the lock */
			j.op = 4;
			j.key = "big2";
			took = beside_worker(env, ns, run_big, &j, &a);
			EOK(j.rc);
			judge("CONSUME of it", &a, took);
			kv_buf *b = &j.out;
			E(b->len == n + n / 2 && b->data[0] == 'A' && b->data[1] == 'z' && b->data[n] == 'A' &&
			  b->data[n + n / 2 - 1] == 'z' && b->data[b->len] == 0 && b->type == KV_T_BYTES);
			ERC(kv_exists(ns, K("big2")), KV_NOTFOUND);
			kv_buf_free(env, &j.out);
			kv_ns_close(ns);
		}
		free(v);
		if (env)
			kv_env_close(env);
	}
}

/* Two threads append big chunks to one key while a third rewrites its small
 * neighbours: no append is lost or torn (a build from a value that changed
 * before the lock must never be linked). */
typedef struct {
	kv_ns *ns;
	int id, n;
	size_t chunk;
	int bad;
} app_arg;

static void *appender(void *p)
{
	app_arg *a = p;
	char *v = malloc(a->chunk);
	for (int i = 0; i < a->n; i++) {
		memset(v, 'A' + a->id * 8 + i % 8, a->chunk);
		size_t nl;
		if (kv_append(a->ns, K("cat"), v, a->chunk, &nl) != KV_OK)
			a->bad++;
		if (i % 4 == 0 && kv_setrange(a->ns, K("cat"), 0, v, 1, &nl) != KV_OK) /* first byte */
			a->bad++;
	}
	free(v);
	return NULL;
}

static void test_append_race(void)
{
	TEST("concurrent big APPENDs to one key: none lost, none torn")
	{
		kv_env *env = t_env(256 << 20);
		kv_ns_config c;
		kv_ns_config_init(&c);
		c.shards = 1;
		kv_ns *ns = env ? t_ns(env, "cat", &c) : NULL;
		if (ns) {
			/* chunks over a page, so that every append outgrows its entry's
			 * size class and builds a new one from the old value */
			int n = Q ? 20 : 60;
			size_t chunk = 70000;
			app_arg a[2] = {{ns, 0, n, chunk, 0}, {ns, 1, n, chunk, 0}};
			worker w;
			memset(&w, 0, sizeof w);
			w.env = env;
			w.ns = ns;
			pthread_t th[3];
			pthread_create(&th[2], NULL, work, &w);
			for (int i = 0; i < 2; i++)
				pthread_create(&th[i], NULL, appender, &a[i]);
			for (int i = 0; i < 2; i++)
				pthread_join(th[i], NULL);
			T_STORE(w.stop, 1);
			pthread_join(th[2], NULL);
			E(a[0].bad == 0 && a[1].bad == 0 && w.bad == 0);
			kv_buf b = KV_BUF_INIT;
			EOK(kv_get(ns, K("cat"), &b));
			E(b.len == 2 * (size_t)n * chunk);
			/* chunk by chunk: uniform (but for a first byte a setrange wrote), and
			 * each thread's chunks in its order */
			int next[2] = {0, 0}, torn = 0;
			for (size_t off = 0; off + chunk <= b.len; off += chunk) {
				char c1 = b.data[off + 1];
				int id = (c1 - 'A') / 8;
				if (id < 0 || id > 1 || !check_bytes(&b, off + 1, chunk - 1, c1) ||
				    c1 != 'A' + id * 8 + next[id] % 8) {
					torn++;
					continue;
				}
				next[id]++;
			}
			E(torn == 0 && next[0] == n && next[1] == n);
			kv_buf_free(env, &b);
			kv_ns_close(ns);
		}
		if (env)
			kv_env_close(env);
	}
}

/* EXPIRE and PERSIST rebuild a big entry from its value as read before the
 * lock, while another thread patches that value in place: no patch is lost. */
typedef struct {
	kv_ns *ns;
	int stop;
	long retimes;
	int bad;
} retimer_arg;

static void *retimer(void *p)
{
	retimer_arg *a = p;
	int64_t far = kv_now_ms() + 3600000;
	while (!T_LOAD(a->stop)) {
		if (kv_expire(a->ns, K("tt"), far, 0) != KV_OK || kv_persist(a->ns, K("tt")) != KV_OK)
			a->bad++;
		__atomic_add_fetch(&a->retimes, 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

static void test_retime_race(void)
{
	TEST("EXPIRE and PERSIST of a big value lose no concurrent SETRANGE")
	{
		kv_env *env = t_env(128 << 20);
		kv_ns_config c;
		kv_ns_config_init(&c);
		c.shards = 1;
		kv_ns *ns = env ? t_ns(env, "tt", &c) : NULL;
		if (ns) {
			size_t n = (size_t)2 << 20;
			char *v = malloc(n);
			memset(v, '.', n);
			EOK(kv_set(ns, K("tt"), v, n, KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL));
			retimer_arg a = {ns, 0, 0, 0};
			pthread_t th;
			pthread_create(&th, NULL, retimer, &a);
			/* patch until the retimer rebuilt the entry many times */
			enum { NP = 2000 };
			static char want[NP];
			memset(want, '.', sizeof want);
			long target = Q ? 30 : 200, i, bad = 0;
			for (i = 0; i < NP || (T_LOAD(a.retimes) < target && i < 50000000); i++) {
				char ch = (char)('a' + (i / NP + i) % 26);
				size_t nl;
				bad += kv_setrange(ns, K("tt"), (size_t)(i % NP) * 1000, &ch, 1, &nl) != KV_OK;
				want[i % NP] = ch;
			}
			T_STORE(a.stop, 1);
			pthread_join(th, NULL);
			printf("    %ld patches beside %ld EXPIRE+PERSIST pairs\n", i, a.retimes);
			E(bad == 0 && a.bad == 0 && a.retimes >= target);
			kv_buf b = KV_BUF_INIT;
			EOK(kv_get(ns, K("tt"), &b));
			int lost = 0;
			for (int k = 0; k < NP; k++)
				lost += b.data[(size_t)k * 1000] != want[k];
			E(b.len == n && lost == 0);
			if (lost)
				fprintf(stderr, "    %d patches lost\n", lost);
			kv_buf_free(env, &b);
			free(v);
			kv_ns_close(ns);
		}
		if (env)
			kv_env_close(env);
	}
}

/* ------------------------------------------------------------ random key */
typedef struct {
	kv_ns *ns;
	int rc;
	kv_buf b;
} rk_job;

static void run_rk(void *p)
{
	rk_job *j = p;
	j->rc = kv_random_key(j->ns, &j->b);
}

static void test_random_key(void)
{
	TEST("kv_random_key: every key of unequal shards about equally likely; a sparse table")
	{
		kv_env *env = t_env(64 << 20);
		kv_ns_config c;
		kv_ns_config_init(&c);
		c.shards = 4;
		kv_ns *ns = env ? t_ns(env, "rk", &c) : NULL;
		if (ns) {
			enum { NK = 40, CALLS = 8000 };
			int hits[NK] = {0}, other = 0;
			char k[16];
			for (int i = 0; i < NK; i++) {
				int kl = snprintf(k, sizeof k, "k%d", i);
				EOK(kv_set(ns, k, (size_t)kl, K("v"), KV_T_TEXT, KV_EXPIRE_NEVER, 0, NULL));
			}
			kv_buf b = KV_BUF_INIT;
			for (int i = 0; i < CALLS; i++) {
				int x = -1;
				if (!EOK(kv_random_key(ns, &b)))
					break;
				if (b.len >= 2 && b.data[0] == 'k')
					x = atoi(b.data + 1);
				if (x >= 0 && x < NK)
					hits[x]++;
				else
					other++;
			}
			/* mean 200 a key (sd ~14): a key of a shard with few keys used to
			 * come up several times as often as one of a crowded shard */
			int lo = CALLS, hi = 0;
			for (int i = 0; i < NK; i++) {
				lo = hits[i] < lo ? hits[i] : lo;
				hi = hits[i] > hi ? hits[i] : hi;
			}
			printf("    %d calls over %d keys: each key %d..%d times\n", CALLS, NK, lo, hi);
			E(other == 0 && lo >= 100 && hi <= 320);
			/* a big table emptied but for one key (tables do not shrink) */
			for (int i = 0; i < 50000; i++) {
				int kl = snprintf(k, sizeof k, "s%d", i);
				EOK(kv_set(ns, k, (size_t)kl, K("v"), KV_T_TEXT, KV_EXPIRE_NEVER, 0, NULL));
			}
			for (int i = 0; i < 50000; i++) {
				int kl = snprintf(k, sizeof k, "s%d", i);
				EOK(kv_del(ns, k, (size_t)kl));
			}
			for (int i = 1; i < NK; i++) {
				int kl = snprintf(k, sizeof k, "k%d", i);
				EOK(kv_del(ns, k, (size_t)kl));
			}
			int found = 0;
			for (int i = 0; i < 100; i++)
				found += kv_random_key(ns, &b) == KV_OK && b.len == 2 && memcmp(b.data, "k0", 2) == 0;
			E(found == 100);
			EOK(kv_del(ns, K("k0")));
			ERC(kv_random_key(ns, &b), KV_NOTFOUND);
			E(b.len == 0);
			kv_buf_free(env, &b);
			kv_ns_close(ns);
		}
		if (env)
			kv_env_close(env);
	}

	TEST("kv_random_key over a big shard of expired keys never holds its lock for long")
	{
		kv_env *env = t_env(512 << 20);
		kv_ns_config c;
		kv_ns_config_init(&c);
		c.shards = 1;
		kv_ns *ns = env ? t_ns(env, "exp", &c) : NULL;
		if (ns) {
			int n = Q ? 300000 : 1500000;
			/* filled with a far expiry, then every expiry moved to a time
			 * the second pass is sure to finish before (three times the
			 * first pass's length: a sanitizer on a busy machine can take
			 * seconds), so that all of them expire and none is deleted */
			int64_t t0 = kv_now_ms();
			char k[32];
			int ok = 1;
			for (int i = 0; i < n && ok; i++) {
				int kl = snprintf(k, sizeof k, "e:%d", i);
				ok = EOK(kv_set(ns, k, (size_t)kl, K("v"), KV_T_TEXT, t0 + 3600000, 0, NULL));
			}
			int64_t t1 = kv_now_ms(), until = t1 + 3 * (t1 - t0) + 500;
			for (int i = 0; i < n && ok; i++) {
				int kl = snprintf(k, sizeof k, "e:%d", i);
				ok = EOK(kv_expire(ns, k, (size_t)kl, until, 0));
			}
			E(kv_now_ms() < until); /* every expiry set before the first passed */
			while (kv_now_ms() <= until + 5)
				t_sleep_ms(10);
			/* every key is expired but still in the table: the call walks it all */
			worker a = {0};
			a.del_only = 1;
			rk_job j = {ns, 0, KV_BUF_INIT};
			int64_t took = beside_worker(env, ns, run_rk, &j, &a);
			ERC(j.rc, KV_NOTFOUND);
			judge("kv_random_key over expired keys", &a, took);
			kv_buf_free(env, &j.b);
			kv_ns_close(ns);
		}
		if (env)
			kv_env_close(env);
	}
}

/* ---------------------------------------------------------------- rename */
typedef struct {
	kv_ns *ns;
	int n, bad;
} ren_arg;

/* Renames back and forth, some across shards, on a thread with a small stack:
 * kv_rename kept its 16 KiB lock set on the stack.  kv_copy and kv_bitop lock
 * several shards the same way and run here too. */
static void *renamer(void *p)
{
	ren_arg *a = p;
	char k1[16], k2[16];
	for (int i = 0; i < a->n; i++) {
		int l1 = snprintf(k1, sizeof k1, "r%d", i), l2 = snprintf(k2, sizeof k2, "r%d", i + 1);
		if (kv_rename(a->ns, k1, (size_t)l1, k2, (size_t)l2, 0) != KV_OK)
			a->bad++;
		/* COPY and BITOP take lock sets too */
		const void *src[1] = {k2};
		size_t srcl[1] = {(size_t)l2}, out = 0;
		if (kv_copy(a->ns, k2, (size_t)l2, NULL, K("copy"), 1) != KV_OK ||
		    kv_bitop(a->ns, KV_BITOP_OR, K("or"), src, srcl, 1, &out) != KV_OK || out != 5000)
			a->bad++;
	}
	return NULL;
}

static void test_rename(void)
{
	TEST("kv_rename (and kv_copy, kv_bitop) of big and small values, across shards, on a thread with a small stack")
	{
		kv_env *env = t_env(64 << 20);
		kv_ns_config c;
		kv_ns_config_init(&c);
		c.shards = 8;
		kv_ns *ns = env ? t_ns(env, "ren", &c) : NULL;
		if (ns) {
			size_t n = 300000;
			char *v = malloc(n);
			memset(v, 'q', n);
			int64_t far = kv_now_ms() + 3600000;
			kv_buf b = KV_BUF_INIT;
			EOK(kv_set(ns, K("big"), v, n, KV_T_BYTES, far, 0, NULL));
			EOK(kv_set(ns, K("dst"), K("old"), KV_T_TEXT, KV_EXPIRE_NEVER, 0, NULL));
			ERC(kv_rename(ns, K("big"), K("dst"), 1), KV_EXISTS);
			EOK(kv_rename(ns, K("big"), K("dst"), 0));
			ERC(kv_get(ns, K("big"), &b), KV_NOTFOUND);
			EOK(kv_get(ns, K("dst"), &b));
			E(b.len == n && check_bytes(&b, 0, n, 'q') && b.expires_at == far && b.type == KV_T_BYTES);
			EOK(kv_rename(ns, K("dst"), K("dst"), 0));
			ERC(kv_rename(ns, K("nope"), K("x"), 0), KV_NOTFOUND);
			kv_ns_stats st;
			EOK(kv_ns_stats_get(ns, &st));
			E(st.keys == 1);
			EOK(kv_set(ns, K("r0"), v, 5000, KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL));
			/* PTHREAD_STACK_MIN plus a little: room for a write context, not for
			 * a lock set as well */
			ren_arg a = {ns, 200, 0};
			pthread_attr_t at;
			pthread_attr_init(&at);
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
			pthread_attr_setstacksize(&at, (size_t)1 << 20); /* sanitizers' frames are larger */
#else
			pthread_attr_setstacksize(&at, 20 << 10);
#endif
			pthread_t th;
			E(pthread_create(&th, &at, renamer, &a) == 0);
			pthread_join(th, NULL);
			pthread_attr_destroy(&at);
			E(a.bad == 0);
			EOK(kv_get(ns, K("r200"), &b));
			E(b.len == 5000 && check_bytes(&b, 0, 5000, 'q'));
			kv_buf_free(env, &b);
			free(v);
			kv_ns_close(ns);
		}
		if (env)
			kv_env_close(env);
	}
}

int main(int argc, char **argv)
{
	t_init(argc, argv);
	Q = t_quick();
	test_big_values();
	test_big_unlocked();
	test_append_race();
	test_retime_race();
	test_random_key();
	test_rename();
	return t_done();
}
