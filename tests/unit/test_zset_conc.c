/*
 * test_zset_conc.c -- a large sorted set under concurrent writers, whole
 * readers, ZSCAN and saves, through kv.h.
 *
 * Every write is one kv_zadd (or kv_zrem) of a PAIR "a:<i>" / "b:<i>" with
 * opposite scores, so every state a reader or a save can see, if it is a
 * state the zset really had, has scores summing to 0 and an even count, in
 * order.  Readers check that with kv_zrange over the whole zset (pinned, no
 * lock); a saver saves the namespace while the writers run, loads the file
 * under another name and checks the loaded zset the same way (the save's
 * cut: copy-on-write of the nodes the writers touch); a scanner checks that
 * ZSCAN returns every member that exists throughout (pairs below N/2 are
 * never removed).  Under ThreadSanitizer a writer touching memory a pinned
 * reader or the saver reads is a reported race.
 */
#include <pthread.h>
#include <stdbool.h>

#include "test.h"

static kv_env *env;
static kv_ns *ns;
static unsigned NPAIRS;
static int stop;
static int bad_reads, reads, bad_saves, saves, bad_scans, scans, writes;
static char path[64];

static uint64_t xs(uint64_t *x)
{
	*x ^= *x << 13, *x ^= *x >> 7, *x ^= *x << 17;
	return *x;
}

/* sum 0, even count, strictly ordered */
static bool consistent(const kv_elems *e)
{
	double sum = 0;
	for (size_t i = 0; i < e->n; i++) {
		sum += e->v[i].score;
		if (i && (e->v[i - 1].score > e->v[i].score ||
		          (e->v[i - 1].score == e->v[i].score &&
		           memcmp(e->bytes.data + e->v[i - 1].off, e->bytes.data + e->v[i].off,
		                  e->v[i].len < e->v[i - 1].len ? e->v[i].len : e->v[i - 1].len) > 0)))
			return false;
	}
	return sum == 0 && e->n % 2 == 0;
}

static void *writer(void *arg)
{
	uint64_t x = (uint64_t)(uintptr_t)arg * 0x9e3779b97f4a7c15ull + 7;
	char a[32], b[32];
	while (!T_LOAD(stop)) {
		unsigned i = (unsigned)(xs(&x) % NPAIRS);
		double k = (double)(int64_t)(xs(&x) % 2001) - 1000;
		snprintf(a, sizeof a, "a:%u", i);
		snprintf(b, sizeof b, "b:%u", i);
		if (i >= NPAIRS / 2 && xs(&x) % 4 == 0) {
			kv_val m[2] = {{strlen(a), a}, {strlen(b), b}};
			E(kv_zrem(ns, K("z"), m, 2, NULL) == KV_OK);
		} else {
			kv_zmember m[2] = {{k, {strlen(a), a}}, {-k, {strlen(b), b}}};
			E(kv_zadd(ns, K("z"), m, 2, 0, NULL, NULL) == KV_OK);
		}
		__atomic_add_fetch(&writes, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void *reader(void *arg)
{
	(void)arg;
	kv_elems e = KV_ELEMS_INIT;
	kv_zrange_spec all;
	kv_zrange_spec_init(&all);
	while (!T_LOAD(stop)) {
		if (kv_zrange(ns, K("z"), &all, &e) != KV_OK || !consistent(&e))
			__atomic_add_fetch(&bad_reads, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&reads, 1, __ATOMIC_RELAXED);
		struct timespec ts = {0, 2 * 1000 * 1000}; /* writers wait for a pinned copy: let them run */
		nanosleep(&ts, NULL);
	}
	kv_elems_free(env, &e);
	return NULL;
}

static void *saver(void *arg)
{
	(void)arg;
	kv_elems e = KV_ELEMS_INIT;
	kv_zrange_spec all;
	kv_zrange_spec_init(&all);
	int rounds = t_quick() ? 6 : 12;
	for (int r = 0; r < rounds && !T_LOAD(stop); r++) {
		kv_error err;
		kv_ns *copy = NULL;
		bool ok = kv_save(env, "c", path, &err) == KV_OK &&
		          kv_load(env, path, "c", "c2", &err) == KV_OK && kv_ns_open(env, "c2", &copy) == KV_OK &&
		          kv_zrange(copy, K("z"), &all, &e) == KV_OK && consistent(&e) && e.n >= NPAIRS;
		if (!ok)
			__atomic_add_fetch(&bad_saves, 1, __ATOMIC_RELAXED);
		if (copy)
			kv_ns_close(copy);
		__atomic_add_fetch(&saves, 1, __ATOMIC_RELAXED);
	}
	kv_elems_free(env, &e);
	return NULL;
}

static void *scanner(void *arg)
{
	(void)arg;
	kv_elems e = KV_ELEMS_INIT;
	uint8_t *seen = calloc(NPAIRS / 2, 1);
	while (!T_LOAD(stop) && seen) {
		memset(seen, 0, NPAIRS / 2);
		uint64_t cur = 0;
		do {
			if (kv_cscan(ns, K("z"), KV_T_ZSET, &cur, "a:*", 3, 200, 0, &e) != KV_OK)
				break;
			for (size_t i = 0; i < e.n; i++) {
				char t[32];
				size_t l = e.v[i].len < 31 ? e.v[i].len : 31;
				memcpy(t, e.bytes.data + e.v[i].off, l);
				t[l] = 0;
				unsigned k;
				if (sscanf(t, "a:%u", &k) == 1 && k < NPAIRS / 2)
					seen[k] = 1;
			}
		} while (cur);
		unsigned missing = 0;
		for (unsigned k = 0; k < NPAIRS / 2; k++)
			missing += !seen[k];
		if (missing)
			__atomic_add_fetch(&bad_scans, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&scans, 1, __ATOMIC_RELAXED);
	}
	free(seen);
	kv_elems_free(env, &e);
	return NULL;
}

int main(int argc, char **argv)
{
	t_init(argc, argv);
	kv_config cfg;
	kv_config_init(&cfg);
	cfg.memory = (size_t)256 << 20;
	if (kv_env_open(&cfg, &env) != KV_OK || kv_ns_create(env, "c", NULL) != KV_OK ||
	    kv_ns_open(env, "c", &ns) != KV_OK)
		return 1;
	NPAIRS = t_quick() ? 4000 : 20000;
	snprintf(path, sizeof path, "/tmp/test_zset_conc_%d.snap", (int)getpid());

	TEST("writers, whole readers, ZSCAN and saves of one large zset") {
		char a[32], b[32];
		for (unsigned i = 0; i < NPAIRS; i++) {
			snprintf(a, sizeof a, "a:%u", i);
			snprintf(b, sizeof b, "b:%u", i);
			kv_zmember m[2] = {{(double)(i % 100), {strlen(a), a}}, {-(double)(i % 100), {strlen(b), b}}};
			kv_zadd(ns, K("z"), m, 2, 0, NULL, NULL);
		}
		const char *enc = NULL;
		EOK(kv_encoding(ns, K("z"), &enc));
		E(enc && strcmp(enc, "skiplist") == 0);
		pthread_t w[2], r, s, c;
		for (int i = 0; i < 2; i++)
			pthread_create(&w[i], NULL, writer, (void *)(uintptr_t)(i + 1));
		pthread_create(&r, NULL, reader, NULL);
		pthread_create(&c, NULL, scanner, NULL);
		pthread_create(&s, NULL, saver, NULL);
		pthread_join(s, NULL); /* the saves pace the run */
		struct timespec ts = {0, 300 * 1000 * 1000};
		nanosleep(&ts, NULL);
		T_STORE(stop, 1);
		for (int i = 0; i < 2; i++)
			pthread_join(w[i], NULL);
		pthread_join(r, NULL);
		pthread_join(c, NULL);
		unlink(path);
		E(writes > 100 && reads > 0 && saves > 0 && scans > 0);
		E(bad_reads == 0);
		E(bad_saves == 0);
		E(bad_scans == 0);
		NOTE("%d writes, %d whole reads, %d saves, %d scans", writes, reads, saves, scans);
	}
	TEST("ZREMRANGE and ZPOP of thousands while saves copy the zset") {
		char m[32];
		unsigned N = t_quick() ? 20000 : 60000;
		for (unsigned i = 0; i < N; i++) {
			int l = snprintf(m, sizeof m, "r%u", i);
			kv_zmember zm = {(double)i, {(size_t)l, m}};
			kv_zadd(ns, K("rm"), &zm, 1, 0, NULL, NULL);
		}
		T_STORE(stop, 0);
		saves = bad_saves = 0;
		pthread_t s;
		pthread_create(&s, NULL, saver, NULL);
		uint64_t removed = 0, left = N;
		kv_zrange_spec spec;
		kv_elems out = KV_ELEMS_INIT;
		while (left > 2000) { /* in steps the saves overlap: holds of 64 while frozen */
			kv_zrange_spec_init(&spec);
			spec.start = 100, spec.stop = 2599;
			uint64_t n = 0;
			EOK(kv_zremrange(ns, K("rm"), &spec, &n));
			E(n == 2500);
			EOK(kv_zpop(ns, K("rm"), 1, 1, 1500, &out));
			E(out.n == 1500);
			removed += n + out.n;
			left -= n + out.n;
		}
		pthread_join(s, NULL);
		uint64_t card = 0;
		EOK(kv_card(ns, K("rm"), KV_T_ZSET, &card));
		E(card == N - removed);
		E(bad_saves == 0 && saves > 0);
		kv_elems_free(env, &out);
		unlink(path);
	}
	kv_ns_close(ns);
	kv_env_close(env);
	return t_done();
}
