/*
 * test_list_struct.c -- the list structure of engine/list.c driven directly
 * (the commands over it are tested in test_lists.c).
 *
 *  - a randomized model test against a plain array: pushes at both ends,
 *    inserts, sets and deletes anywhere, element sizes from 0 bytes to past a
 *    chunk, crossing the listpack/quicklist threshold both ways; after every
 *    step kv_list_check (counts, sizes, bytes) and periodically the contents
 *    read forwards and backwards;
 *  - the region's bytes in use match kv_list.bytes (exact charge) and go back
 *    to where they started once the list and its graveyard are freed;
 *  - copy-on-write: with a "snapshot" pending (frozen, a new epoch) the old
 *    header still reads the old contents after many changes, and nothing the
 *    old tree uses is freed until the snapshot ends.
 */
#include "test.h"
#include "list.h"

/* bytes allocated from the region: slab objects plus large runs */
static size_t region_live(kv_env *env)
{
	kv_region *r = env->r;
	size_t s = 0;
	for (uint32_t pg = r->first_page; pg < r->bump; pg++) {
		kv_page *d = kv_pagedesc(env, pg);
		if (d->kind == KV_PG_SLAB) {
			s += (size_t)d->used * kv_class_size(d->cls);
		} else if (d->kind == KV_PG_LARGE) {
			s += (size_t)d->run * KV_PAGE_SIZE;
			pg += d->run - 1;
		} else if (d->kind == KV_PG_FREE && d->run) {
			pg += d->run - 1; /* inner pages of a run keep stale descriptors */
		}
	}
	return s;
}

/* the model: elements as (len, bytes) */
typedef struct melem {
	size_t len;
	char  *p;
} melem;
typedef struct model {
	melem *v;
	size_t n, cap;
} model;

static void m_insert(model *m, size_t at, const char *p, size_t len)
{
	if (m->n == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 64;
		m->v = realloc(m->v, m->cap * sizeof *m->v);
	}
	memmove(&m->v[at + 1], &m->v[at], (m->n - at) * sizeof *m->v);
	m->v[at].len = len;
	m->v[at].p = malloc(len ? len : 1);
	memcpy(m->v[at].p, p, len);
	m->n++;
}
static void m_delete(model *m, size_t at, size_t k)
{
	for (size_t i = at; i < at + k; i++)
		free(m->v[i].p);
	if (k)
		memmove(&m->v[at], &m->v[at + k], (m->n - at - k) * sizeof *m->v);
	m->n -= k;
}
static void m_copy(model *dst, const model *src)
{
	m_delete(dst, 0, dst->n);
	for (size_t i = 0; i < src->n; i++)
		m_insert(dst, i, src->v[i].p, src->v[i].len);
}
static void m_free(model *m)
{
	m_delete(m, 0, m->n);
	free(m->v);
	memset(m, 0, sizeof *m);
}

static uint64_t rng = 88172645463325252ull;
static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static size_t rnd_len(void)
{
	uint64_t r = rnd() % 1000;
	if (r < 5)
		return 8192 + rnd() % 30000;   /* bigger than a chunk */
	if (r < 30)
		return 1000 + rnd() % 4000;
	if (r < 60)
		return 0;
	return rnd() % 40;
}

static char buf[65536];
static void fill(size_t len, uint64_t tag)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (char)('a' + (tag + i * 7) % 26);
}

/* the list reads as the model, both ways, and LINDEX-style seeks agree */
static int same(kv_env *env, const kv_list *L, const model *m)
{
	if (L->count != m->n)
		return 0;
	kv_list_it it;
	size_t i = 0;
	if (m->n) {
		if (!kv_list_seek(&it, env, L, 0))
			return 0;
		do {
			const char *p;
			size_t len;
			kv_list_cur(&it, &p, &len);
			if (i >= m->n || len != m->v[i].len || memcmp(p, m->v[i].p, len) != 0)
				return 0;
			i++;
		} while (kv_list_next(&it));
		if (i != m->n)
			return 0;
		if (!kv_list_seek(&it, env, L, m->n - 1))
			return 0;
		i = m->n;
		do {
			const char *p;
			size_t len;
			kv_list_cur(&it, &p, &len);
			i--;
			if (len != m->v[i].len || memcmp(p, m->v[i].p, len) != 0)
				return 0;
		} while (kv_list_prev(&it));
		if (i != 0)
			return 0;
		for (int k = 0; k < 20; k++) {
			size_t x = rnd() % m->n;
			const char *p;
			size_t len;
			if (!kv_list_seek(&it, env, L, x))
				return 0;
			kv_list_cur(&it, &p, &len);
			if (len != m->v[x].len || memcmp(p, m->v[x].p, len) != 0)
				return 0;
		}
	}
	return 1;
}

static kv_lgc_rec gcv[1 << 16];

/* one random change to both; returns 0 on a mismatch of status */
static int step(kv_lctx *c, model *m, int bias)
{
	uint64_t r = rnd() % 100;
	size_t len = rnd_len();
	fill(len, rnd());
	int rc = KV_OK;
	if (c->gc->cap - c->gc->n < KV_LIST_GC_OP)
		return 1; /* the caller drains */
	int push = 30 + bias;           /* grow (bias > 0) or shrink phases */
	if ((int)r < push) {
		int where = (int)(rnd() & 1);
		if (len > KV_LIST_CHUNK_MAX && (rnd() & 1)) {
			/* built with no lock, linked under it */
			kv_off ch = kv_list_chunk_build(c->env, buf, len);
			rc = ch ? kv_list_push_chunk(c, where, ch) : KV_ENOMEM;
			if (ch && rc != KV_OK)
				kv_list_chunk_drop(c->env, ch);
		} else {
			rc = kv_list_push(c, where, buf, len);
		}
		if (rc == KV_OK)
			m_insert(m, where == KV_LEFT ? 0 : m->n, buf, len);
	} else if ((int)r < push + 15) {
		size_t at = m->n ? rnd() % (m->n + 1) : 0;
		rc = kv_list_insert(c, at, buf, len);
		if (rc == KV_OK)
			m_insert(m, at, buf, len);
	} else if ((int)r < push + 25) {
		if (m->n) {
			size_t at = rnd() % m->n;
			rc = kv_list_set(c, at, buf, len);
			if (rc == KV_OK) {
				m_delete(m, at, 1);
				m_insert(m, at, buf, len);
			}
		}
	} else if (r < 80) {
		if (m->n) {
			/* an end: a pop, now and then LTRIM-sized */
			size_t k = 1 + (rnd() % 200 == 0 ? rnd() % m->n : rnd() % 3);
			if (k > m->n)
				k = m->n;
			size_t at = (rnd() & 1) ? 0 : m->n - k;
			rc = kv_list_delete(c, at, k);
			if (rc == KV_OK)
				m_delete(m, at, k);
		}
	} else if (r < 86) {
		if (m->n) {
			/* LREM-like: scattered positions, ascending */
			uint64_t pos[64];
			size_t k = 0, at = rnd() % m->n;
			while (k < 64 && at < m->n) {
				pos[k++] = at;
				at += 1 + rnd() % ((rnd() & 1) ? 3 : 700);
			}
			rc = kv_list_delete_positions(c, pos, k);
			if (rc == KV_OK)
				while (k > 0)
					m_delete(m, pos[--k], 1);
		}
	} else if (r < 88) {
		if (m->n) {
			/* LTRIM: both ends at once */
			size_t l = rnd() % (m->n + 1), rt = rnd() % (m->n - l + 1);
			if (rnd() % 30) { /* mostly a few off each end, now and then most of it */
				l = l % 4;
				rt = rt % 4 < m->n - l ? rt % 4 : m->n - l;
			}
			rc = kv_list_trim(c, l, rt);
			if (rc == KV_OK) {
				if (rt)
					m_delete(m, m->n - rt, rt);
				if (l)
					m_delete(m, 0, l);
			}
		}
	} else if (r < 99 || rnd() % 10) {
		if (m->n) {
			size_t at = rnd() % m->n;
			size_t k = 1 + rnd() % 3;
			if (k > m->n - at)
				k = m->n - at;
			rc = kv_list_delete(c, at, k);
			if (rc == KV_OK)
				m_delete(m, at, k);
		}
	} else if (m->n) {
		/* a big range anywhere */
		size_t at = rnd() % m->n;
		size_t k = rnd() % (m->n - at) + 1;
		rc = kv_list_delete(c, at, k);
		if (rc == KV_OK)
			m_delete(m, at, k);
	}
	return rc == KV_OK;
}

int main(int argc, char **argv)
{
	t_init(argc, argv);
	int quick = getenv("TEST_QUICK") != NULL;
	kv_config cfg;
	kv_config_init(&cfg);
	cfg.region_size = (size_t)256 << 20;
	kv_env *env = NULL;
	if (kv_env_open(&cfg, &env) != KV_OK) {
		fprintf(stderr, "kv_env_open failed\n");
		return 1;
	}

	TEST("encoding: element sizes, listpack to quicklist and back")
	{
		E(kv_list_elem_size(0) == 2 && kv_list_elem_size(127) == 129 && kv_list_elem_size(128) == 132);
		kv_list L = {0};
		kv_lgc gc = {gcv, 0, 1 << 16};
		kv_lctx c = {env, &L, false, &gc, NULL, NULL};
		size_t base = region_live(env);
		int ok = 1;
		for (int i = 0; i < 600 && ok; i++)
			ok = kv_list_push(&c, KV_RIGHT, "0123456789", 10) == KV_OK;
		E(ok && L.count == 600);
		E(strcmp(kv_list_encoding(&L), "listpack") == 0);   /* 600 * 12 < 8 KB */
		for (int i = 0; i < 200 && ok; i++)
			ok = kv_list_push(&c, KV_LEFT, "0123456789", 10) == KV_OK;
		E(strcmp(kv_list_encoding(&L), "quicklist") == 0);  /* 800 * 12 > 8 KB */
		E(kv_list_check(env, &L) == KV_OK);
		E(region_live(env) - base == L.bytes);
		E(kv_list_delete(&c, 0, 700) == KV_OK && L.count == 100);
		E(strcmp(kv_list_encoding(&L), "listpack") == 0);
		E(kv_list_check(env, &L) == KV_OK);
		kv_list_detach_all(&c);
		kv_list_gc_free(env, &gc);
		E(region_live(env) == base);
		/* one element past a chunk is a quicklist at once, as in Redis */
		fill(10000, 1);
		E(kv_list_push(&c, KV_RIGHT, buf, 10000) == KV_OK);
		E(strcmp(kv_list_encoding(&L), "quicklist") == 0 && kv_list_check(env, &L) == KV_OK);
		kv_list_detach_all(&c);
		kv_list_gc_free(env, &gc);
		E(region_live(env) == base);
	}

	TEST("bad arguments change nothing")
	{
		kv_list L = {0};
		kv_lgc gc = {gcv, 0, 1 << 16};
		kv_lctx c = {env, &L, false, &gc, NULL, NULL};
		E(kv_list_insert(&c, 1, "x", 1) == KV_EINVAL);
		E(kv_list_set(&c, 0, "x", 1) == KV_ERANGE);
		E(kv_list_delete(&c, 0, 1) == KV_EINVAL);
		E(kv_list_push(&c, KV_LEFT, "x", 1) == KV_OK);
		E(kv_list_delete(&c, 0, 2) == KV_EINVAL && L.count == 1);
		E(kv_list_delete(&c, 0, 0) == KV_OK && L.count == 1);
		kv_list_detach_all(&c);
		kv_list_gc_free(env, &gc);
		E(L.count == 0 && L.bytes == 0);
	}

	TEST("a million pushes and pops at both ends, LINDEX-style seeks")
	{
		kv_list L = {0};
		kv_lgc gc = {gcv, 0, 1 << 16};
		kv_lctx c = {env, &L, false, &gc, NULL, NULL};
		size_t base = region_live(env);
		uint32_t n = quick ? 100000 : 1000000;
		int ok = 1;
		char e[16];
		for (uint32_t i = 0; i < n && ok; i++) {
			int len = snprintf(e, sizeof e, "e%09u", i);
			ok = kv_list_push(&c, (i & 1) ? KV_RIGHT : KV_LEFT, e, (size_t)len) == KV_OK;
		}
		E(ok && L.count == n && kv_list_check(env, &L) == KV_OK);
		E(region_live(env) - base == L.bytes);
		/* element i from the left: the odd ones pushed right follow the even ones reversed */
		kv_list_it it;
		int good = 1;
		for (int k = 0; k < 1000 && good; k++) {
			uint32_t x = (uint32_t)(rnd() % n);
			uint32_t half = n / 2; /* even pushes (left) */
			uint32_t want = x < half ? 2 * (half - 1 - x) : 2 * (x - half) + 1;
			const char *p;
			size_t len;
			int wl = snprintf(e, sizeof e, "e%09u", want);
			good = kv_list_seek(&it, env, &L, x);
			kv_list_cur(&it, &p, &len);
			good = good && len == (size_t)wl && memcmp(p, e, len) == 0;
		}
		E(good);
		printf("   %u elements of 10 bytes: %.2f bytes each in the region\n", n, (double)L.bytes / n);
		/* pop everything from alternating ends */
		for (uint32_t i = 0; i < n && ok; i++)
			ok = kv_list_delete(&c, (i & 1) ? L.count - 1 : 0, 1) == KV_OK;
		E(ok && L.count == 0 && L.enc == KV_LIST_EMPTY && L.bytes == 0);
		kv_list_gc_free(env, &gc);
		E(region_live(env) == base);
	}

	TEST("randomized model test (sizes across chunk limits, every operation)")
	{
		kv_list L = {0};
		kv_lgc gc = {gcv, 0, 1 << 16};
		kv_lctx c = {env, &L, false, &gc, NULL, NULL};
		model m = {0};
		size_t base = region_live(env);
		int steps = quick ? 20000 : 100000;
		int ok = 1, consistent = 1, charged = 1, quick_seen = 0;
		size_t maxn = 0;
		for (int i = 0; i < steps && ok && consistent && charged; i++) {
			if (m.n > maxn)
				maxn = m.n;
			if (L.enc == KV_LIST_QUICKLIST)
				quick_seen++;
			/* phases that grow the list past a few directories and shrink it */
			int bias = ((i / 10000) % 2) ? -12 : 25;
			ok = step(&c, &m, bias);
			if (kv_list_check(env, &L) != KV_OK)
				consistent = 0;
			kv_list_gc_free(env, &gc);
			if (region_live(env) - base != L.bytes)
				charged = 0;
			if (i % 997 == 0 && !same(env, &L, &m))
				consistent = 0;
		}
		printf("   %d steps, up to %zu elements, %d steps as a quicklist\n", steps, maxn, quick_seen);
		E(ok);
		E(consistent);
		E(charged);
		E(maxn > 500 && quick_seen > steps / 4); /* the test went where it should */
		E(same(env, &L, &m));
		kv_list_detach_all(&c);
		kv_list_gc_free(env, &gc);
		E(region_live(env) == base);
		m_free(&m);
	}

	TEST("copy-on-write: a pending snapshot keeps reading the old tree")
	{
		kv_list L = {0};
		kv_lgc gc = {gcv, 0, 1 << 16};
		kv_lctx c = {env, &L, false, &gc, NULL, NULL};
		model m = {0}, old = {0};
		size_t base = region_live(env);
		int rounds = quick ? 6 : 20, ok = 1, intact = 1, consistent = 1;
		for (int round = 0; round < rounds && ok; round++) {
			/* grow a list of a few thousand elements */
			for (int i = 0; i < 3000 && ok; i++)
				ok = step(&c, &m, 20);
			kv_list_gc_free(env, &gc);
			/* the cut: the snapshot keeps this header; the live one starts an epoch */
			kv_list snap = L;
			m_copy(&old, &m);
			kv_list_new_epoch(&L);
			c.frozen = true;
			for (int i = 0; i < 3000 && ok; i++) {
				ok = step(&c, &m, 0);
				if (kv_list_check(env, &L) != KV_OK)
					consistent = 0;
				if (i % 500 == 0 && (!same(env, &snap, &old) || kv_list_check(env, &snap) != KV_OK))
					intact = 0;
			}
			if (!same(env, &snap, &old) || !same(env, &L, &m))
				intact = 0;
			/* the snapshot is done: what it kept is freed */
			c.frozen = false;
			kv_list_gc_free(env, &gc);
		}
		E(ok);
		E(consistent);
		E(intact);
		E(region_live(env) - base == L.bytes);
		kv_list_detach_all(&c);
		kv_list_gc_free(env, &gc);
		E(region_live(env) == base);
		m_free(&m);
		m_free(&old);
	}

	TEST("big model test: many directories, splits in the middle, frozen phases")
	{
		kv_list L = {0};
		kv_lgc gc = {gcv, 0, 1 << 16};
		kv_lctx c = {env, &L, false, &gc, NULL, NULL};
		model m = {0}, old = {0};
		size_t base = region_live(env);
		uint32_t n0 = quick ? 400000 : 700000;
		int ok = 1, consistent = 1, intact = 1;
		char e[16];
		for (uint32_t i = 0; i < n0 && ok; i++) {
			int len = snprintf(e, sizeof e, "%09u", i);
			ok = kv_list_push(&c, KV_RIGHT, e, (size_t)len) == KV_OK;
			if (ok)
				m_insert(&m, m.n, e, (size_t)len);
		}
		uint32_t dirs0 = ((const uint32_t *)kv_ptr(env, L.root))[2];
		int steps = quick ? 4000 : 20000;
		kv_list snap = L;
		for (int i = 0; i < steps && ok; i++) {
			if (i % 2000 == 0) { /* alternate frozen (a snapshot pending) and not */
				c.frozen = !c.frozen;
				if (c.frozen) {
					snap = L;
					m_copy(&old, &m);
					kv_list_new_epoch(&L);
				} else {
					if (!same(env, &snap, &old))
						intact = 0;
					kv_list_gc_free(env, &gc);
				}
			}
			uint64_t r = rnd() % 100;
			size_t len = r < 50 ? 200 + rnd() % 3000 : rnd() % 30;
			fill(len, rnd());
			size_t at = rnd() % m.n;
			if (r < 70) {
				ok = kv_list_insert(&c, at, buf, len) == KV_OK;
				if (ok)
					m_insert(&m, at, buf, len);
			} else if (r < 80) {
				ok = kv_list_set(&c, at, buf, len) == KV_OK;
				if (ok) {
					m_delete(&m, at, 1);
					m_insert(&m, at, buf, len);
				}
			} else if (r < 99) {
				size_t k = 1 + rnd() % 2;
				if (k > m.n - at)
					k = m.n - at;
				ok = kv_list_delete(&c, at, k) == KV_OK;
				if (ok)
					m_delete(&m, at, k);
			} else {
				size_t k = 1 + rnd() % 5000, a2 = (rnd() & 1) ? 0 : m.n - k;
				ok = kv_list_delete(&c, a2, k) == KV_OK;
				if (ok)
					m_delete(&m, a2, k);
			}
			if (i % 500 == 0 && kv_list_check(env, &L) != KV_OK)
				consistent = 0;
		}
		uint32_t dirs1 = ((const uint32_t *)kv_ptr(env, L.root))[2];
		printf("   directories: %u after the pushes, %u after the inserts\n", dirs0, dirs1);
		E(ok);
		E(dirs0 >= 2 && dirs1 > dirs0);
		E(consistent && kv_list_check(env, &L) == KV_OK);
		E(intact);
		E(same(env, &L, &m));
		c.frozen = false;
		kv_list_gc_free(env, &gc);
		E(region_live(env) - base == L.bytes);
		kv_list_detach_all(&c);
		kv_list_gc_free(env, &gc);
		E(region_live(env) == base);
		m_free(&m);
		m_free(&old);
	}

	kv_env_close(env);
	return t_done();
}
