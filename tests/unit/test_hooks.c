/*
 * test_hooks.c -- change hooks (issue 3): one event per changed key with the
 * right operation and namespace, none for refused or failed writes, expiry and
 * eviction events, events of batches, a hook that calls back into the engine
 * (so every lock must be released first), events in the thread that made the
 * change, and in mode (b) only in the process that made it.
 */
#include <pthread.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "test.h"

#define HOUR_MS 3600000LL
#define MAXEV 20000

typedef struct {
	char ns[KV_NS_NAME_MAX + 1];
	char key[64];
	size_t klen;
	int event;
	pthread_t thread;
} ev;

static ev evs[MAXEV];
static int nev;
static pthread_mutex_t evmu = PTHREAD_MUTEX_INITIALIZER;
static kv_ns *reentry_ns; /* when set, the hook reads the key back through it */
static long reentry_bad, reentry_calls;

static void hook(void *ctx, const char *ns, const void *key, size_t klen, int event)
{
	(void)ctx;
	pthread_mutex_lock(&evmu);
	if (nev < MAXEV) {
		ev *e = &evs[nev++];
		snprintf(e->ns, sizeof e->ns, "%s", ns ? ns : "(null)");
		e->klen = klen;
		memcpy(e->key, key, klen < sizeof e->key ? klen : sizeof e->key);
		e->event = event;
		e->thread = pthread_self();
	}
	pthread_mutex_unlock(&evmu);
	if (reentry_ns && event == KV_EV_SET) {
		/* the engine holds no lock now: reading and writing must work */
		kv_buf b = KV_BUF_INIT;
		int rc = kv_get(reentry_ns, key, klen, &b);
		if (rc != KV_OK && rc != KV_NOTFOUND)
			reentry_bad++;
		char other[80];
		memcpy(other, "seen:", 5);
		memcpy(other + 5, key, klen < 60 ? klen : 60);
		kv_env *env = ctx;
		if (klen < 60 && (klen < 5 || memcmp(key, "seen:", 5) != 0) &&
		    kv_set(reentry_ns, other, 5 + klen, "1", 1, KV_T_TEXT, KV_EXPIRE_NEVER, 0, NULL) != KV_OK)
			reentry_bad++;
		if (env)
			kv_buf_free(env, &b);
		reentry_calls++;
	}
}

static void clear(void)
{
	pthread_mutex_lock(&evmu);
	nev = 0;
	pthread_mutex_unlock(&evmu);
}

static const char *ev_name(int e)
{
	static const char *n[] = {"?",       "SET",     "DEL",     "EXPIRE",      "INCR",     "APPEND",
	                          "EXPIRED", "EVICTED", "FLUSH",   "RENAME_FROM", "RENAME_TO"};
	return e >= 0 && e <= 10 ? n[e] : "?";
}

static void dump(void)
{
	fprintf(stderr, "    events:");
	for (int i = 0; i < nev && i < 12; i++)
		fprintf(stderr, " %s(%.*s)", ev_name(evs[i].event), (int)evs[i].klen, evs[i].key);
	fputc('\n', stderr);
}

/* Exactly the events listed (event, key) happened, in this order. */
static int expect(const char *nsname, int n, ...)
{
	va_list ap;
	int ok = nev == n;
	va_start(ap, n);
	for (int i = 0; i < n && ok; i++) {
		int e = va_arg(ap, int);
		const char *k = va_arg(ap, const char *);
		ok = evs[i].event == e && evs[i].klen == strlen(k) && memcmp(evs[i].key, k, evs[i].klen) == 0 &&
		     strcmp(evs[i].ns, nsname) == 0;
	}
	va_end(ap);
	if (!ok)
		dump();
	clear();
	return ok;
}

static int set_s(kv_ns *ns, const char *k, const char *v)
{
	return kv_set(ns, k, strlen(k), v, strlen(v), KV_T_TEXT, KV_EXPIRE_NEVER, 0, NULL);
}

#define HT_THREADS 4
#define HT_KEYS    500
typedef struct {
	kv_ns *ns;
	int id;
} htarg;

/* Sets keys "t<id>:<n>": the hook must record this thread for each. */
static void *hook_thread(void *p)
{
	htarg *a = p;
	for (int i = 0; i < HT_KEYS; i++) {
		char k[32];
		int kl = snprintf(k, sizeof k, "t%d:%d", a->id, i);
		if (kv_set(a->ns, k, (size_t)kl, "v", 1, KV_T_TEXT, KV_EXPIRE_NEVER, 0, NULL) != KV_OK)
			E(!"set in a hook thread failed");
	}
	return NULL;
}

int main(int argc, char **argv)
{
	t_init(argc, argv);
	kv_env *env = t_env(64 << 20);
	kv_ns *ns = env ? t_ns(env, "hooked", NULL) : NULL;
	if (!ns)
		return t_done();
	kv_env_set_hook(env, hook, env);
	int64_t far = kv_now_ms() + HOUR_MS;

	TEST("each single-key write gives one event; refused writes give none")
	{
		kv_buf b = KV_BUF_INIT;
		int64_t r;
		double d;
		size_t nl;
		clear();
		EOK(set_s(ns, "a", "1"));
		E(expect("hooked", 1, KV_EV_SET, "a"));
		ERC(kv_set(ns, K("a"), K("2"), KV_T_TEXT, KV_EXPIRE_NEVER, KV_SET_NX, NULL), KV_EXISTS);
		ERC(kv_set(ns, K("zz"), K("2"), KV_T_TEXT, KV_EXPIRE_NEVER, KV_SET_XX, NULL), KV_NOTFOUND);
		ERC(kv_del(ns, K("zz")), KV_NOTFOUND);
		ERC(kv_consume(ns, K("zz"), &b), KV_NOTFOUND);
		ERC(kv_persist(ns, K("a")), KV_UNCHANGED);
		ERC(kv_expire(ns, K("a"), far, KV_EXPIRE_XX), KV_UNCHANGED);
		EOK(kv_get(ns, K("a"), &b));
		EOK(kv_exists(ns, K("a")));
		E(expect("hooked", 0));
		EOK(kv_expire(ns, K("a"), far, 0));
		EOK(kv_persist(ns, K("a")));
		E(expect("hooked", 2, KV_EV_EXPIRE, "a", KV_EV_EXPIRE, "a"));
		EOK(kv_incr(ns, K("n"), 2, &r));
		EOK(kv_incr_float(ns, K("n"), K("0.5"), &d, NULL));
		E(expect("hooked", 2, KV_EV_INCR, "n", KV_EV_INCR, "n"));
		ERC(kv_incr(ns, K("n"), 1, &r), KV_ENOTINT);
		E(expect("hooked", 0));
		EOK(kv_append(ns, K("a"), K("x"), &nl));
		EOK(kv_setrange(ns, K("a"), 0, K("y"), &nl));
		E(expect("hooked", 2, KV_EV_APPEND, "a", KV_EV_SET, "a"));
		EOK(kv_del(ns, K("a")));
		EOK(kv_set(ns, K("c"), K("v"), KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL));
		EOK(kv_consume(ns, K("c"), &b));
		E(expect("hooked", 3, KV_EV_DEL, "a", KV_EV_SET, "c", KV_EV_DEL, "c"));
		EOK(kv_set(ns, K("bin\0key"), K("v"), KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL));
		E(nev == 1 && evs[0].klen == 7 && memcmp(evs[0].key, "bin\0key", 7) == 0);
		clear();
		kv_buf_free(env, &b);
	}

	TEST("rename gives one event for the source and one for the target")
	{
		EOK(set_s(ns, "src", "v"));
		clear();
		EOK(kv_rename(ns, K("src"), K("dst"), 0));
		int ok = nev == 2;
		for (int i = 0; i < nev; i++) {
			int is_src = evs[i].klen == 3 && memcmp(evs[i].key, "src", 3) == 0;
			int is_dst = evs[i].klen == 3 && memcmp(evs[i].key, "dst", 3) == 0;
			if (is_src)
				ok &= evs[i].event == KV_EV_RENAME_FROM || evs[i].event == KV_EV_DEL;
			else if (is_dst)
				ok &= evs[i].event == KV_EV_RENAME_TO || evs[i].event == KV_EV_SET;
			else
				ok = 0;
		}
		if (!E(ok))
			dump();
		clear();
		ERC(kv_rename(ns, K("nosrc"), K("dst"), 0), KV_NOTFOUND);
		E(expect("hooked", 0));
	}

	TEST("flush gives one FLUSH event with an empty key")
	{
		EOK(set_s(ns, "f1", "v"));
		EOK(set_s(ns, "f2", "v"));
		clear();
		EOK(kv_ns_flush(ns));
		E(nev == 1 && evs[0].event == KV_EV_FLUSH && evs[0].klen == 0 &&
		  strcmp(evs[0].ns, "hooked") == 0);
		clear();
	}

	TEST("expiry reclaimed by kv_tick gives EXPIRED; eviction gives EVICTED")
	{
		int64_t soon = kv_now_ms() + 200;
		for (int i = 0; i < 20; i++) {
			char k[32];
			int kl = snprintf(k, sizeof k, "e%d", i);
			EOK(kv_set(ns, k, (size_t)kl, "v", 1, KV_T_TEXT, soon, 0, NULL));
		}
		clear();
		t_sleep_until(soon);
		for (int i = 0; i < 100 && nev < 20; i++)
			EOK(kv_tick(env, 0, NULL));
		int expired = 0;
		for (int i = 0; i < nev; i++)
			expired += evs[i].event == KV_EV_EXPIRED;
		if (!E(expired == 20 && nev == 20))
			dump();
		clear();
		kv_ns_config c;
		kv_ns_config_init(&c);
		c.shards = 1;
		c.max_keys = 5;
		c.eviction = KV_EVICT_ALLKEYS_RANDOM;
		kv_ns *ev_ns = t_ns(env, "evict", &c);
		if (ev_ns) {
			for (int i = 0; i < 5; i++) {
				char k[32];
				snprintf(k, sizeof k, "v%d", i);
				EOK(set_s(ev_ns, k, "v"));
			}
			clear();
			EOK(set_s(ev_ns, "new", "v"));
			int evicted = 0, set = 0;
			for (int i = 0; i < nev; i++) {
				evicted += evs[i].event == KV_EV_EVICTED && strcmp(evs[i].ns, "evict") == 0;
				set += evs[i].event == KV_EV_SET;
			}
			if (!E(evicted == 1 && set == 1 && nev == 2))
				dump();
			clear();
			kv_ns_close(ev_ns);
		}
	}

	TEST("batches give one event per changed key; a failed all-or-nothing batch gives none")
	{
		EOK(set_s(ns, "b1", "v"));
		clear();
		kv_op ops[4];
		memset(ops, 0, sizeof ops);
		ops[0].op = KV_OP_SET, ops[0].key = "b2", ops[0].klen = 2, ops[0].val = "v", ops[0].vlen = 1;
		ops[0].type = KV_T_TEXT, ops[0].expires_at = KV_EXPIRE_NEVER;
		ops[1].op = KV_OP_DEL, ops[1].key = "b1", ops[1].klen = 2;
		ops[2].op = KV_OP_GET, ops[2].key = "b2", ops[2].klen = 2;
		ops[3].op = KV_OP_CONSUME, ops[3].key = "missing", ops[3].klen = 7;
		kv_buf arena = KV_BUF_INIT;
		kv_error err;
		ERC(kv_batch(ns, ops, 4, KV_BATCH_ALL_OR_NOTHING, &arena, &err), KV_NOTFOUND);
		E(expect("hooked", 0));
		EOK(kv_batch(ns, ops, 3, KV_BATCH_ALL_OR_NOTHING, &arena, &err));
		E(expect("hooked", 2, KV_EV_SET, "b2", KV_EV_DEL, "b1"));
		EOK(kv_batch(ns, ops, 4, KV_BATCH_BEST_EFFORT, &arena, &err));
		E(expect("hooked", 1, KV_EV_SET, "b2")); /* b1 already gone, missing not consumed */
		kv_buf_free(env, &arena);
	}

	TEST("a hook may call the engine: every lock is released before it runs")
	{
		reentry_ns = ns;
		reentry_bad = reentry_calls = 0;
		for (int i = 0; i < 50; i++) {
			char k[32];
			snprintf(k, sizeof k, "re%d", i);
			EOK(set_s(ns, k, "v"));
		}
		kv_op ops[3];
		memset(ops, 0, sizeof ops);
		for (int i = 0; i < 3; i++) {
			static const char *bk[] = {"rb0", "rb1", "rb2"};
			ops[i].op = KV_OP_SET, ops[i].key = bk[i], ops[i].klen = 3, ops[i].val = "v";
			ops[i].vlen = 1, ops[i].type = KV_T_TEXT, ops[i].expires_at = KV_EXPIRE_NEVER;
		}
		kv_error err;
		EOK(kv_batch(ns, ops, 3, KV_BATCH_ALL_OR_NOTHING, NULL, &err));
		reentry_ns = NULL;
		E(reentry_bad == 0);
		E(reentry_calls >= 53);
		EOK(kv_exists(ns, K("seen:re7")));
		EOK(kv_exists(ns, K("seen:rb2")));
		clear();
	}

	TEST("events arrive in the thread that made the change")
	{
		enum { T = HT_THREADS, N = HT_KEYS };
		pthread_t th[T];
		htarg a[T];
		clear();
		for (int t = 0; t < T; t++) {
			a[t].ns = ns;
			a[t].id = t;
		}
		for (int t = 0; t < T; t++)
			pthread_create(&th[t], NULL, hook_thread, &a[t]);
		for (int t = 0; t < T; t++)
			pthread_join(th[t], NULL);
		int wrong = 0, per[T] = {0};
		for (int i = 0; i < nev; i++) {
			int t = evs[i].key[1] - '0';
			if (evs[i].event != KV_EV_SET || t < 0 || t >= T || !pthread_equal(evs[i].thread, th[t]))
				wrong++;
			else
				per[t]++;
		}
		E(wrong == 0);
		for (int t = 0; t < T; t++)
			E(per[t] == N);
		clear();
	}

	TEST("a load fires no change hooks")
	{
		char path[] = "/tmp/shardkv-hooks-XXXXXX";
		int fd = mkstemp(path);
		if (E(fd >= 0)) {
			close(fd);
			kv_error err;
			EOK(set_s(ns, "l1", "v"));
			EOK(kv_save(env, "hooked", path, &err));
			EOK(set_s(ns, "l2", "v"));
			clear();
			EOK(kv_load(env, path, NULL, NULL, &err));
			EOK(kv_load(env, path, "hooked", "hooked-copy", &err));
			E(nev == 0);
			ERC(kv_exists(ns, K("l2")), KV_NOTFOUND);
			unlink(path);
			clear();
		}
	}

	TEST("removing the hook stops events")
	{
		kv_env_set_hook(env, NULL, NULL);
		clear();
		EOK(set_s(ns, "quiet", "v"));
		EOK(kv_del(ns, K("quiet")));
		E(nev == 0);
		kv_env_set_hook(env, hook, env);
	}

	kv_ns_close(ns);
	kv_env_close(env);

	TEST("mode (b): each process gets the events of its own calls only")
	{
		size_t sz = 32 << 20;
		void *region = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		kv_config cfg;
		kv_env *menv = NULL;
		kv_config_init(&cfg);
		cfg.region = region;
		cfg.region_size = sz;
		cfg.max_namespaces = 4;
		if (E(region != MAP_FAILED) && EOK(kv_env_open(&cfg, &menv))) {
			kv_ns *m = t_ns(menv, "shared", NULL);
			if (m) {
				kv_env_set_hook(menv, hook, NULL);
				clear();
				fflush(NULL);
				pid_t pid = fork();
				if (pid == 0) {
					t_child_begin();
					clear();
					int64_t soon = kv_now_ms() + 100;
					for (int i = 0; i < 100; i++) {
						char k[32];
						int kl = snprintf(k, sizeof k, "c%d", i);
						EOK(kv_set(m, k, (size_t)kl, "v", 1, KV_T_TEXT, i < 10 ? soon : KV_EXPIRE_NEVER,
						           0, NULL));
					}
					E(nev == 100);
					t_child_exit();
				}
				int st = 0;
				waitpid(pid, &st, 0);
				E(WIFEXITED(st) && WEXITSTATUS(st) == 0);
				E(nev == 0);
				EOK(set_s(m, "parent", "v"));
				E(nev == 1);
				/* expiry of the child's keys, reclaimed by the parent's tick, is the parent's */
				t_sleep_ms(150);
				clear();
				for (int i = 0; i < 50; i++)
					kv_tick(menv, 0, NULL);
				int expired = 0;
				for (int i = 0; i < nev; i++)
					expired += evs[i].event == KV_EV_EXPIRED;
				E(expired == 10);
				kv_ns_close(m);
			}
			kv_env_close(menv);
		}
		if (region != MAP_FAILED)
			munmap(region, sz);
	}
	return t_done();
}
