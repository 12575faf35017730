/*
 * test_setpath.c -- kv_set's fast paths (ops.c set_fast): an in-place
 * overwrite, a new key and a value of another size class, each done with no
 * write context, must do what the general path does.  Checked against the
 * general path itself (NX/XX sets take it), with hooks, on a redo-logged
 * namespace, under max_keys / max_memory, while a save's cut is pending (the
 * file must be a cut of the write order) and while the shard count is raised.
 */
#include "test.h"

#include <pthread.h>

static int ev_n, ev_last[64];
static char ev_key[64][16];
static void hook(void *ctx, const char *ns, const void *key, size_t klen, int event)
{
	(void)ctx, (void)ns;
	if (ev_n < 64) {
		ev_last[ev_n] = event;
		snprintf(ev_key[ev_n], sizeof ev_key[0], "%.*s", (int)(klen < 15 ? klen : 15), (const char *)key);
		ev_n++;
	}
}

static size_t nrec, nput;
static char rec_val[64];
static void redo(void *ctx, const char *ns, const kv_redo_hdr *h, const void *key,
                 const kv_val *data, size_t nparts)
{
	(void)ctx, (void)ns, (void)key;
	if (h->kind == KV_REDO_CUT)
		return;
	nrec++;
	if (h->kind == KV_REDO_PUT)
		nput++;
	size_t got = 0;
	for (size_t i = 0; i < nparts && got < sizeof rec_val - 1; i++) {
		size_t n = data[i].len < sizeof rec_val - 1 - got ? data[i].len : sizeof rec_val - 1 - got;
		memcpy(rec_val + got, data[i].data, n);
		got += n;
	}
	rec_val[got] = 0;
}

static kv_env *cur_env; /* the test's env, for kv_buf_free */

/* value of length len whose text starts with tag */
static size_t mkval(char *v, size_t len, unsigned long tag)
{
	memset(v, 'x', len);
	char t[24];
	int n = snprintf(t, sizeof t, "%lu:", tag);
	memcpy(v, t, (size_t)n);
	return len;
}

static int val_is(kv_ns *ns, const char *k, size_t kl, const char *v, size_t vl)
{
	kv_buf b = KV_BUF_INIT;
	int rc = kv_get(ns, k, kl, &b);
	int ok = rc == KV_OK && t_buf_is(&b, v, vl);
	kv_buf_free(cur_env, &b);
	return ok;
}

static void test_agree(void)
{
	TEST("fast sets (in place, other size class, new key) leave what the general path leaves")
	{
		kv_env *env = cur_env = t_env(0);
		kv_ns *a = t_ns(env, "fast", NULL), *g = t_ns(env, "general", NULL);
		char k[16], v[400];
		int bad = 0;
		/* new keys (the tables double on the way), then per key one of: the same
		 * size, a bigger class, a smaller class */
		for (unsigned i = 0; i < 3000; i++) {
			int kl = snprintf(k, sizeof k, "k%u", i);
			size_t vl = mkval(v, 100, i);
			bad += kv_set(a, k, (size_t)kl, v, vl, KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL) != KV_OK;
			bad += kv_set(g, k, (size_t)kl, v, vl, KV_T_BYTES, KV_EXPIRE_NEVER, KV_SET_NX, NULL) != KV_OK;
		}
		for (unsigned r = 1; r <= 3; r++)
			for (unsigned i = 0; i < 3000; i++) {
				int kl = snprintf(k, sizeof k, "k%u", i);
				size_t len = (i + r) % 3 == 0 ? 100 : (i + r) % 3 == 1 ? 300 : 17;
				size_t vl = mkval(v, len, i * 10 + r);
				bad += kv_set(a, k, (size_t)kl, v, vl, KV_T_BYTES + (int)(r & 1), KV_EXPIRE_NEVER, 0, NULL) != KV_OK;
				bad += kv_set(g, k, (size_t)kl, v, vl, KV_T_BYTES + (int)(r & 1), KV_EXPIRE_NEVER, KV_SET_XX,
				              NULL) != KV_OK;
			}
		E(bad == 0);
		kv_buf x = KV_BUF_INIT, y = KV_BUF_INIT;
		for (unsigned i = 0; i < 3000; i++) {
			int kl = snprintf(k, sizeof k, "k%u", i);
			if (kv_get(a, k, (size_t)kl, &x) != KV_OK || kv_get(g, k, (size_t)kl, &y) != KV_OK ||
			    x.len != y.len || x.type != y.type || memcmp(x.data, y.data, x.len) != 0)
				bad++;
		}
		E(bad == 0);
		kv_ns_stats sa, sg;
		EOK(kv_ns_stats_get(a, &sa));
		EOK(kv_ns_stats_get(g, &sg));
		E(sa.keys == 3000 && sa.keys == sg.keys);
		E(sa.bytes == sg.bytes);
		kv_buf_free(env, &x);
		kv_buf_free(env, &y);
		kv_ns_close(a);
		kv_ns_close(g);
		kv_env_close(env);
	}
}

static void test_hooks_and_ttl(void)
{
	TEST("fast sets fire one SET each; an expired key is reported expired, then set")
	{
		kv_env *env = cur_env = t_env(0);
		kv_ns *ns = t_ns(env, "h", NULL);
		kv_env_set_hook(env, hook, NULL);
		char v[300];
		ev_n = 0;
		EOK(kv_set(ns, K("a"), v, mkval(v, 50, 1), KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL));  /* new */
		EOK(kv_set(ns, K("a"), v, mkval(v, 50, 2), KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL));  /* in place */
		EOK(kv_set(ns, K("a"), v, mkval(v, 250, 3), KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL)); /* resize */
		E(ev_n == 3 && ev_last[0] == KV_EV_SET && ev_last[1] == KV_EV_SET && ev_last[2] == KV_EV_SET &&
		  strcmp(ev_key[2], "a") == 0);
		E(val_is(ns, K("a"), v, 250));
		EOK(kv_set(ns, K("t"), v, mkval(v, 50, 4), KV_T_BYTES, kv_now_ms() + 30, 0, NULL));
		t_sleep_until(kv_now_ms() + 40);
		ev_n = 0;
		EOK(kv_set(ns, K("t"), v, mkval(v, 50, 5), KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL));
		E(ev_n == 2 && ev_last[0] == KV_EV_EXPIRED && ev_last[1] == KV_EV_SET);
		int64_t exp = 1;
		EOK(kv_ttl(ns, K("t"), &exp));
		E(exp == 0 && val_is(ns, K("t"), v, 50));
		kv_ns_stats st;
		EOK(kv_ns_stats_get(ns, &st));
		E(st.keys == 2 && st.expired == 1);
		kv_ns_close(ns);
		kv_env_close(env);
	}
}

static void test_redo_ns(void)
{
	TEST("on a redo-logged namespace every set (in place, resize, new) is logged")
	{
		kv_env *env = cur_env = t_env(0);
		kv_env_set_redo(env, redo, NULL);
		kv_ns_config c;
		kv_ns_config_init(&c);
		c.flags = KV_NS_REDO;
		kv_ns *ns = t_ns(env, "w", &c);
		char v[300];
		nrec = nput = 0;
		EOK(kv_set(ns, K("a"), v, mkval(v, 40, 1), KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL));
		E(nput == 1 && strncmp(rec_val, "1:", 2) == 0);
		EOK(kv_set(ns, K("a"), v, mkval(v, 40, 2), KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL));
		E(nput == 2 && strncmp(rec_val, "2:", 2) == 0);
		EOK(kv_set(ns, K("a"), v, mkval(v, 200, 3), KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL));
		E(nput == 3 && nrec == 3 && strncmp(rec_val, "3:", 2) == 0);
		kv_ns_close(ns);
		kv_env_close(env);
	}
}

static void test_limits(void)
{
	TEST("fast sets honour max_keys and max_memory (refused or evicting, as the general path)")
	{
		kv_env *env = cur_env = t_env(0);
		kv_ns_config c;
		kv_ns_config_init(&c);
		c.max_keys = 10;
		kv_ns *nk = t_ns(env, "mk", &c);
		char k[16], v[2000];
		int bad = 0;
		for (unsigned i = 0; i < 10; i++)
			bad += kv_set(nk, k, (size_t)snprintf(k, sizeof k, "k%u", i), v, mkval(v, 30, i), KV_T_BYTES,
			              KV_EXPIRE_NEVER, 0, NULL) != KV_OK;
		E(bad == 0);
		ERC(kv_set(nk, K("k10"), v, 30, KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL), KV_EMAXKEYS);
		EOK(kv_set(nk, K("k3"), v, mkval(v, 1000, 33), KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL)); /* resize: no new key */
		kv_ns_stats st;
		EOK(kv_ns_stats_get(nk, &st));
		E(st.keys == 10 && val_is(nk, K("k3"), v, 1000));

		kv_ns_config_init(&c);
		c.max_keys = 10;
		c.eviction = KV_EVICT_ALLKEYS_LRU;
		kv_ns *ne = t_ns(env, "ev", &c);
		kv_env_set_hook(env, hook, NULL);
		for (unsigned i = 0; i < 20; i++)
			bad += kv_set(ne, k, (size_t)snprintf(k, sizeof k, "k%u", i), v, mkval(v, 30, i), KV_T_BYTES,
			              KV_EXPIRE_NEVER, 0, NULL) != KV_OK;
		E(bad == 0);
		EOK(kv_ns_stats_get(ne, &st));
		E(st.keys == 10 && st.evicted == 10);

		kv_ns_config_init(&c);
		kv_ns *nm = t_ns(env, "mm", NULL);
		EOK(kv_set(nm, K("a"), v, mkval(v, 30, 7), KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL));
		EOK(kv_ns_stats_get(nm, &st));
		c.max_memory = st.bytes + 64; /* room for a little, not for a 1000-byte value */
		EOK(kv_ns_configure(nm, &c));
		ERC(kv_set(nm, K("a"), v, 1000, KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL), KV_EMAXMEM);
		E(val_is(nm, K("a"), v, 30)); /* the old value stays */
		mkval(v, 30, 8);
		EOK(kv_set(nm, K("a"), v, 30, KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL)); /* in place: no charge */
		ERC(kv_set(nm, K("b"), v, 1000, KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL), KV_EMAXMEM);
		E(kv_exists(nm, K("b")) == KV_NOTFOUND);
		kv_env_set_hook(env, NULL, NULL);
		kv_ns_close(nk);
		kv_ns_close(ne);
		kv_ns_close(nm);
		kv_env_close(env);
	}
}

/* ------------------------------------------- a save's cut, a resize */
#define CUT_KEYS 40000u
static kv_ns *w_ns;
static int w_stop;
static unsigned long w_done; /* writes finished */

/* Write number s: round r = s / (CUT_KEYS + 1); position p < CUT_KEYS sets key
 * p (its value's size class changes with the round), p == CUT_KEYS adds key
 * "n<r>".  Values carry s. */
static size_t write_of(unsigned long s, char *k, size_t *kl, char *v)
{
	unsigned long r = s / (CUT_KEYS + 1), p = s % (CUT_KEYS + 1);
	if (p == CUT_KEYS)
		*kl = (size_t)snprintf(k, 16, "n%lu", r);
	else
		*kl = (size_t)snprintf(k, 16, "k%lu", p);
	return mkval(v, r % 3 == 2 ? 300 : 100, s);
}

static void *writer(void *arg)
{
	(void)arg;
	char k[16], v[400];
	size_t kl;
	for (unsigned long s = 0; !T_LOAD(w_stop); s++) {
		size_t vl = write_of(s, k, &kl, v);
		if (kv_set(w_ns, k, kl, v, vl, KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL) != KV_OK)
			return (void *)1;
		T_STORE(w_done, s + 1);
	}
	return NULL;
}

/* The saved namespace must be the state after some prefix of the writes: the
 * largest write number in it, M, names the prefix. */
static int check_cut(kv_ns *cut, unsigned long *m)
{
	kv_buf b = KV_BUF_INIT;
	char k[16], v[400];
	unsigned long max = 0;
	int bad = 0;
	for (unsigned p = 0; p < CUT_KEYS; p++) {
		snprintf(k, sizeof k, "k%u", p);
		if (kv_get(cut, k, strlen(k), &b) == KV_OK) {
			unsigned long s = strtoul(b.data, NULL, 10);
			if (s > max)
				max = s;
		}
	}
	for (unsigned long r = 0;; r++) {
		snprintf(k, sizeof k, "n%lu", r);
		if (kv_get(cut, k, strlen(k), &b) != KV_OK)
			break;
		unsigned long s = strtoul(b.data, NULL, 10);
		if (s > max)
			max = s;
	}
	/* expected: each key's last write <= max */
	for (unsigned p = 0; p <= CUT_KEYS; p++) {
		unsigned long per = CUT_KEYS + 1, last = max / per * per + p;
		if (last > max) {
			if (last < per) {
				/* never written by the cut */
				size_t kl;
				write_of(last, k, &kl, v);
				if (kv_exists(cut, k, kl) != KV_NOTFOUND)
					bad++;
				continue;
			}
			last -= per;
		}
		size_t kl, vl = write_of(last, k, &kl, v);
		if (kv_get(cut, k, kl, &b) != KV_OK || !t_buf_is(&b, v, vl))
			bad++;
	}
	kv_buf_free(cur_env, &b);
	*m = max;
	return bad;
}

static void test_save_cut(void)
{
	TEST("sets of every kind during saves: each file is a cut of the write order")
	{
		kv_env *env = cur_env = t_env((size_t)512 << 20);
		kv_ns_config c;
		kv_ns_config_init(&c);
		c.shards = 8;
		w_ns = t_ns(env, "w", &c);
		char path[] = "/tmp/test_setpath_XXXXXX";
		int fd = mkstemp(path);
		E(fd >= 0);
		close(fd);
		T_STORE(w_stop, 0);
		T_STORE(w_done, 0);
		pthread_t th;
		pthread_create(&th, NULL, writer, NULL);
		while (T_LOAD(w_done) < 2 * (CUT_KEYS + 1))
			t_sleep_ms(1);
		int saves = t_quick() ? 3 : 8, bad = 0, during = 0;
		for (int i = 0; i < saves; i++) {
			kv_error err;
			unsigned long before = T_LOAD(w_done);
			if (!EOK(kv_save(env, "w", path, &err)))
				break;
			unsigned long after = T_LOAD(w_done);
			kv_ns_drop(env, "cut");
			if (!EOK(kv_load(env, path, "w", "cut", &err)))
				break;
			kv_ns *cut = NULL;
			EOK(kv_ns_open(env, "cut", &cut));
			unsigned long m = 0;
			int b = check_cut(cut, &m);
			if (getenv("SETPATH_DEBUG"))
				NOTE("save %d: cut at %lu, writes %lu..%lu", i, m, before, after);
			if (b)
				NOTE("save %d: %d keys off the cut at write %lu (writes %lu..%lu ran meanwhile)", i, b, m,
				     before, after);
			bad += b;
			during += after > before;
			E(m + 1 >= before && m < after); /* the cut lies inside the save */
			kv_ns_close(cut);
		}
		T_STORE(w_stop, 1);
		void *r;
		pthread_join(th, &r);
		E(r == NULL);
		E(bad == 0);
		if (!during)
			NOTE("no write ran during a save: the cut was not exercised");
		unlink(path);
		kv_ns_close(w_ns);
		kv_env_close(env);
	}
}

static void test_resize(void)
{
	TEST("sets of every kind while the shard count is raised: nothing lost")
	{
		kv_env *env = cur_env = t_env((size_t)512 << 20);
		kv_ns_config c;
		kv_ns_config_init(&c);
		c.shards = 2;
		w_ns = t_ns(env, "w", &c);
		T_STORE(w_stop, 0);
		T_STORE(w_done, 0);
		pthread_t th;
		pthread_create(&th, NULL, writer, NULL);
		while (T_LOAD(w_done) < CUT_KEYS + 1)
			t_sleep_ms(1);
		EOK(kv_ns_resize(w_ns, 8));
		EOK(kv_ns_resize(w_ns, 32));
		T_STORE(w_stop, 1);
		void *r;
		pthread_join(th, &r);
		E(r == NULL);
		unsigned long m = 0;
		E(check_cut(w_ns, &m) == 0);
		E(m + 1 == T_LOAD(w_done));
		kv_ns_stats st;
		EOK(kv_ns_stats_get(w_ns, &st));
		E(st.keys == CUT_KEYS + m / (CUT_KEYS + 1) + (m % (CUT_KEYS + 1) == CUT_KEYS));
		kv_ns_close(w_ns);
		kv_env_close(env);
	}
}

int main(int argc, char **argv)
{
	t_init(argc, argv);
	test_agree();
	test_hooks_and_ttl();
	test_redo_ns();
	test_limits();
	test_save_cut();
	test_resize();
	return t_done();
}
