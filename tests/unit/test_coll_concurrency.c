/*
 * test_coll_concurrency.c -- collections under concurrent writers, readers and
 * saves.
 *
 * One big hash holds pairs a<i>, b<i>; every writer sets both fields of a
 * pair to one new value in a single HSET (and sometimes deletes both in one
 * HDEL), and one big set holds x<i>, y<i> pairs added and removed together.
 * So every consistent state has a<i> == b<i> for every i (both present or
 * both absent), and x<i> in the set exactly when y<i> is.  While the writers
 * run:
 *   - readers check pairs with HMGET and SMISMEMBER (point reads, locked),
 *     and whole collections with HGETALL and SMEMBERS (pinned copies);
 *   - a saver runs kv_save over and over; every file is loaded into another
 *     namespace and must hold a consistent state of both collections (the
 *     cut of a save is copy-on-write per segment: coll.h section 5);
 *   - HSCAN walks the hash: every pair present for the whole scan must show
 *     up (pairs 0..KEEP-1 are never deleted).
 * TEST_QUICK=1 shrinks it (sanitizers).
 */
#include <pthread.h>

#include "test.h"

static int NPAIRS, KEEP, NWRITES;
static kv_env *g_env;
static kv_ns *g_ns;
static int g_stop, g_bad, g_saves, g_reads, g_scans;
static char g_dir[64];

static void pair_name(char *a, char *b, size_t cap, int i, char pa, char pb)
{
	snprintf(a, cap, "%c%d", pa, i);
	snprintf(b, cap, "%c%d", pb, i);
}

/* The pair number of an element "a<i>" (elements are not NUL-terminated). */
static int num_of(const char *p, size_t len)
{
	int i = 0;
	for (size_t k = 1; k < len && k < 12; k++)
		i = i * 10 + (p[k] - '0');
	return len < 2 ? -1 : i;
}

static void *writer(void *arg)
{
	uint64_t r = (uintptr_t)arg * 7919 + 1;
	char a[32], b[32], v[64];
	/* at least NWRITES, and on until a few saves ran during the writes */
	for (int n = 0; (n < NWRITES || (T_LOAD(g_saves) < 10 && n < 40 * NWRITES)) && !T_LOAD(g_stop); n++) {
		int i = (int)(t_rand(&r) % (uint64_t)NPAIRS);
		uint64_t x = t_rand(&r);
		pair_name(a, b, sizeof a, i, 'a', 'b');
		if (i >= KEEP && x % 8 == 0) {
			kv_val f[] = {{strlen(a), a}, {strlen(b), b}};
			kv_hdel(g_ns, K("H"), f, 2, NULL);
		} else {
			/* some values are long: fields move between node sizes */
			int len = snprintf(v, sizeof v, "%llu%s", (unsigned long long)x, x % 5 ? "" : "-a-longer-value-");
			kv_val fv[] = {{strlen(a), a}, {(size_t)len, v}, {strlen(b), b}, {(size_t)len, v}};
			if (kv_hset(g_ns, K("H"), fv, 2, 0, NULL) != KV_OK)
				__atomic_or_fetch(&g_bad, 1 << 1, __ATOMIC_RELAXED);
		}
		pair_name(a, b, sizeof a, i, 'x', 'y');
		kv_val m[] = {{strlen(a), a}, {strlen(b), b}};
		if (x % 3 == 0 && i >= KEEP)
			kv_srem(g_ns, K("S"), m, 2, NULL);
		else
			kv_sadd(g_ns, K("S"), m, 2, NULL);
	}
	return NULL;
}

/* HGETALL result: every a<i> has b<i> with the same value, and back. */
static int hash_consistent_n(const kv_elems *e, int *pairs, int npairs, int keep)
{
	/* index values by pair number: a then b */
	size_t cap = (size_t)npairs;
	long *ai = calloc(cap, sizeof *ai), *bi = calloc(cap, sizeof *bi);
	int ok = ai && bi && e->n % 2 == 0;
	for (size_t k = 0; ok && k < e->n; k += 2) {
		const char *f = e->bytes.data + e->v[k].off;
		int i = num_of(f, e->v[k].len);
		if (i < 0 || i >= npairs) {
			ok = 0;
			break;
		}
		if (f[0] == 'a')
			ai[i] = (long)k + 1;
		else if (f[0] == 'b')
			bi[i] = (long)k + 1;
		else
			ok = 0;
	}
	int n = 0;
	for (size_t i = 0; ok && i < cap; i++) {
		if (!ai[i] != !bi[i]) {
			ok = 0;
			break;
		}
		if (!ai[i])
			continue;
		const kv_elem *va = &e->v[ai[i]], *vb = &e->v[bi[i]];
		ok = va->len == vb->len && memcmp(e->bytes.data + va->off, e->bytes.data + vb->off, va->len) == 0;
		n++;
		if ((int)i < keep && !ai[i])
			ok = 0;
	}
	for (int i = 0; ok && i < keep; i++)
		ok = ai[i] != 0;
	free(ai);
	free(bi);
	if (pairs)
		*pairs = n;
	return ok;
}

static int hash_consistent(const kv_elems *e, int *pairs)
{
	return hash_consistent_n(e, pairs, NPAIRS, KEEP);
}

static int set_consistent(const kv_elems *e)
{
	char *x = calloc((size_t)NPAIRS, 1), *y = calloc((size_t)NPAIRS, 1);
	int ok = x && y;
	for (size_t k = 0; ok && k < e->n; k++) {
		const char *m = e->bytes.data + e->v[k].off;
		int i = num_of(m, e->v[k].len);
		if (i < 0 || i >= NPAIRS)
			ok = 0;
		else if (m[0] == 'x')
			x[i] = 1;
		else if (m[0] == 'y')
			y[i] = 1;
		else
			ok = 0;
	}
	for (int i = 0; ok && i < NPAIRS; i++)
		ok = x[i] == y[i] && (i >= KEEP || x[i]);
	free(x);
	free(y);
	return ok;
}

/* A hash that keeps moving between keys R0..R3 (other shards) while its
 * pairs change: a save must see it under exactly one name, consistent (its
 * pre-image in one shard, its renamed entry in another). */
#define RPAIRS 600
static int g_rname;
static void *renamer(void *arg)
{
	uint64_t r = (uintptr_t)arg * 31 + 7;
	char a[32], b[32], v[32], from[16], to[16];
	while (!T_LOAD(g_stop)) {
		for (int k = 0; k < 50; k++) {
			int i = (int)(t_rand(&r) % RPAIRS);
			pair_name(a, b, sizeof a, i, 'a', 'b');
			int len = snprintf(v, sizeof v, "%llu", (unsigned long long)t_rand(&r));
			kv_val fv[] = {{strlen(a), a}, {(size_t)len, v}, {strlen(b), b}, {(size_t)len, v}};
			snprintf(from, sizeof from, "R%d", g_rname);
			if (kv_hset(g_ns, from, strlen(from), fv, 2, 0, NULL) != KV_OK)
				__atomic_or_fetch(&g_bad, 1 << 12, __ATOMIC_RELAXED);
		}
		snprintf(from, sizeof from, "R%d", g_rname);
		snprintf(to, sizeof to, "R%d", (g_rname + 1) % 4);
		if (kv_rename(g_ns, from, strlen(from), to, strlen(to), 0) != KV_OK)
			__atomic_or_fetch(&g_bad, 1 << 13, __ATOMIC_RELAXED);
		g_rname = (g_rname + 1) % 4;
	}
	return NULL;
}

/* The copy holds exactly one R<i>, with every pair equal. */
static int moving_consistent(kv_ns *c, kv_elems *e)
{
	int found = 0, ok = 1;
	char name[16];
	for (int i = 0; i < 4; i++) {
		snprintf(name, sizeof name, "R%d", i);
		if (kv_hgetall(c, name, strlen(name), KV_HALL_FIELDS | KV_HALL_VALUES, e) != KV_OK)
			return 0;
		if (!e->n)
			continue;
		found++;
		int pairs = 0;
		ok &= hash_consistent_n(e, &pairs, RPAIRS, RPAIRS) && pairs == RPAIRS;
	}
	return ok && found == 1;
}

static void *reader(void *arg)
{
	uint64_t r = (uintptr_t)arg * 104729 + 3;
	kv_elems e = KV_ELEMS_INIT;
	char a[32], b[32];
	while (!T_LOAD(g_stop)) {
		for (int k = 0; k < 200; k++) {
			int i = (int)(t_rand(&r) % (uint64_t)NPAIRS);
			pair_name(a, b, sizeof a, i, 'a', 'b');
			kv_val f[] = {{strlen(a), a}, {strlen(b), b}};
			if (kv_hmget(g_ns, K("H"), f, 2, &e) != KV_OK || e.n != 2 || e.v[0].len != e.v[1].len ||
			    (e.v[0].len != KV_ELEM_NIL &&
			     memcmp(e.bytes.data + e.v[0].off, e.bytes.data + e.v[1].off, e.v[0].len) != 0) ||
			    (i < KEEP && e.v[0].len == KV_ELEM_NIL)) {
				__atomic_or_fetch(&g_bad, 1 << 2, __ATOMIC_RELAXED);
			}
			pair_name(a, b, sizeof a, i, 'x', 'y');
			kv_val m[] = {{strlen(a), a}, {strlen(b), b}};
			uint8_t in[2];
			if (kv_smismember(g_ns, K("S"), m, 2, in) != KV_OK || in[0] != in[1] || (i < KEEP && !in[0]))
				__atomic_or_fetch(&g_bad, 1 << 3, __ATOMIC_RELAXED);
		}
		if (kv_hgetall(g_ns, K("H"), KV_HALL_FIELDS | KV_HALL_VALUES, &e) != KV_OK || !hash_consistent(&e, NULL))
			__atomic_or_fetch(&g_bad, 1 << 4, __ATOMIC_RELAXED);
		if (kv_smembers(g_ns, K("S"), &e) != KV_OK || !set_consistent(&e))
			__atomic_or_fetch(&g_bad, 1 << 5, __ATOMIC_RELAXED);
		__atomic_add_fetch(&g_reads, 1, __ATOMIC_RELAXED);
	}
	kv_elems_free(g_env, &e);
	return NULL;
}

static void *scanner(void *arg)
{
	(void)arg;
	kv_elems e = KV_ELEMS_INIT;
	char *seen = malloc((size_t)KEEP);
	while (!T_LOAD(g_stop)) {
		memset(seen, 0, (size_t)KEEP);
		uint64_t cur = 0;
		do {
			if (kv_cscan(g_ns, K("H"), KV_T_HASH, &cur, NULL, 0, 200, 1, &e) != KV_OK) {
				__atomic_or_fetch(&g_bad, 1 << 6, __ATOMIC_RELAXED);
				break;
			}
			for (size_t k = 0; k < e.n; k++) {
				const char *f = e.bytes.data + e.v[k].off;
				int i = num_of(f, e.v[k].len);
				if (f[0] == 'a' && i < KEEP)
					seen[i] = 1;
			}
		} while (cur && !T_LOAD(g_stop));
		if (cur == 0)
			for (int i = 0; i < KEEP; i++)
				if (!seen[i])
					__atomic_or_fetch(&g_bad, 1 << 7, __ATOMIC_RELAXED);
		__atomic_add_fetch(&g_scans, 1, __ATOMIC_RELAXED);
	}
	free(seen);
	kv_elems_free(g_env, &e);
	return NULL;
}

static void *saver(void *arg)
{
	(void)arg;
	char path[128];
	snprintf(path, sizeof path, "%s/c.kvs", g_dir);
	kv_elems e = KV_ELEMS_INIT;
	kv_ns *c = NULL;
	while (!T_LOAD(g_stop)) {
		kv_error err;
		if (kv_save(g_env, "c", path, &err) != KV_OK) {
			__atomic_or_fetch(&g_bad, 1 << 8, __ATOMIC_RELAXED);
			break;
		}
		if (kv_load(g_env, path, "c", "copy", &err) != KV_OK) {
			__atomic_or_fetch(&g_bad, 1 << 9, __ATOMIC_RELAXED);
			break;
		}
		if (!c && kv_ns_open(g_env, "copy", &c) != KV_OK)
			break;
		int pairs = 0;
		if (kv_hgetall(c, K("H"), KV_HALL_FIELDS | KV_HALL_VALUES, &e) != KV_OK || !hash_consistent(&e, &pairs) ||
		    pairs < KEEP)
			__atomic_or_fetch(&g_bad, 1 << 10, __ATOMIC_RELAXED);
		if (kv_smembers(c, K("S"), &e) != KV_OK || !set_consistent(&e))
			__atomic_or_fetch(&g_bad, 1 << 11, __ATOMIC_RELAXED);
		if (!moving_consistent(c, &e))
			__atomic_or_fetch(&g_bad, 1 << 14, __ATOMIC_RELAXED);
		__atomic_add_fetch(&g_saves, 1, __ATOMIC_RELAXED);
	}
	if (c)
		kv_ns_close(c);
	kv_elems_free(g_env, &e);
	return NULL;
}

int main(int argc, char **argv)
{
	t_init(argc, argv);
	int q = t_quick();
	NPAIRS = q ? 3000 : 20000;
	KEEP = NPAIRS / 10;
	NWRITES = q ? 20000 : 60000;
	g_env = t_env((size_t)(q ? 256 : 512) << 20);
	kv_ns_config cfg;
	kv_ns_config_init(&cfg);
	cfg.shards = 4;
	g_ns = t_ns(g_env, "c", &cfg);
	strcpy(g_dir, "/tmp/kv-collc-XXXXXX");
	if (!mkdtemp(g_dir))
		return 1;

	TEST("writers, point and whole readers, HSCAN and saves on one big hash and set") {
		char a[32], b[32];
		for (int i = 0; i < NPAIRS; i++) {
			pair_name(a, b, sizeof a, i, 'a', 'b');
			kv_val fv[] = {{strlen(a), a}, {1, "0"}, {strlen(b), b}, {1, "0"}};
			kv_hset(g_ns, K("H"), fv, 2, 0, NULL);
			pair_name(a, b, sizeof a, i, 'x', 'y');
			kv_val m[] = {{strlen(a), a}, {strlen(b), b}};
			kv_sadd(g_ns, K("S"), m, 2, NULL);
		}
		for (int i = 0; i < RPAIRS; i++) {
			pair_name(a, b, sizeof a, i, 'a', 'b');
			kv_val fv[] = {{strlen(a), a}, {1, "0"}, {strlen(b), b}, {1, "0"}};
			kv_hset(g_ns, K("R0"), fv, 2, 0, NULL);
		}
		kv_elems e0 = KV_ELEMS_INIT;
		int p0 = 0;
		EOK(kv_hgetall(g_ns, K("H"), KV_HALL_FIELDS | KV_HALL_VALUES, &e0));
		E(hash_consistent(&e0, &p0) && p0 == NPAIRS);
		NOTE("initial: %zu elements, %d pairs", e0.n, p0);
		kv_elems_free(g_env, &e0);
		pthread_t w[3], rd[2], sc, sv, rn;
		pthread_create(&rn, NULL, renamer, (void *)1);
		for (uintptr_t i = 0; i < 3; i++)
			pthread_create(&w[i], NULL, writer, (void *)i);
		for (uintptr_t i = 0; i < 2; i++)
			pthread_create(&rd[i], NULL, reader, (void *)i);
		pthread_create(&sc, NULL, scanner, NULL);
		pthread_create(&sv, NULL, saver, NULL);
		for (int i = 0; i < 3; i++)
			pthread_join(w[i], NULL);
		/* at least one save, read and scan ran during the writes or after */
		for (int t = 0; t < 600 && (T_LOAD(g_saves) < 2 || T_LOAD(g_reads) < 2 || T_LOAD(g_scans) < 1); t++)
			usleep(50000);
		T_STORE(g_stop, 1);
		for (int i = 0; i < 2; i++)
			pthread_join(rd[i], NULL);
		pthread_join(sc, NULL);
		pthread_join(sv, NULL);
		pthread_join(rn, NULL);
		NOTE("%d saves, %d whole reads, %d scans, failures 0x%x", g_saves, g_reads, g_scans, g_bad);
		E(g_bad == 0);
		E(g_saves >= 2 && g_reads >= 2 && g_scans >= 1);
		/* accounting: dropping everything gives every byte back */
		kv_ns_stats st;
		EOK(kv_ns_flush(g_ns));
		EOK(kv_ns_stats_get(g_ns, &st));
		kv_ns_stats st0;
		EOK(kv_ns_create(g_env, "empty", &cfg));
		kv_ns *em;
		EOK(kv_ns_open(g_env, "empty", &em));
		EOK(kv_ns_stats_get(em, &st0));
		E(st.bytes == st0.bytes);
		kv_ns_close(em);
	}

	char path[128];
	snprintf(path, sizeof path, "%s/c.kvs", g_dir);
	unlink(path);
	rmdir(g_dir);
	kv_ns_close(g_ns);
	kv_env_close(g_env);
	return t_done();
}
