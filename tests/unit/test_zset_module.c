/*
 * test_zset_module.c -- the sorted-set structure (engine/zset.c) driven
 * directly, against a sorted-array model: every write's outcome, ranks,
 * ranges by rank/score/lex with REV and LIMIT, removal of ranges, pops,
 * a save's frozen view staying unchanged under later writes, the compact threshold
 * crossed both ways, building, cursor scans, algebra with weights and
 * aggregates, and the structure's own invariants (zs_check) after each phase.
 *
 * It includes the engine's internal headers on purpose: the structure is
 * tested below the key-level API, which hosts reach through kv.h.
 */
#include <math.h>

#include "test.h"
#include "zset.h"

/* A private zset header (no key, no lock: nothing else sees it). */
static kv_chdr *znew(kv_env *env, size_t hint, size_t maxlen)
{
	kv_chdr *h = kv_chdr_new(env, KV_T_ZSET, KV_ENC_LISTPACK);
	if (h && zs_init(env, h, hint, maxlen) != KV_OK) {
		kv_chdr_destroy(env, h);
		h = NULL;
	}
	return h;
}

/* A save's cut, as snapshot.c takes it: the view the writes after it must
 * leave alone (freeze), and the saver being done with it (the next freeze
 * thaws it and the graveyard is reaped).  Each call is a new save of a
 * stand-in namespace slot, whose cut number is all the core reads of it. */
static kv_nsslot save_slot;
static void freeze(kv_env *env, kv_chdr *h, zs_view *v)
{
	atomic_fetch_add(&save_slot.snap_gen, 1);
	atomic_store(&save_slot.snap_live, 1);
	kv_coll_freeze_locked(env, &save_slot, h);
	kv_coll_reap(env);
	v->enc = h->view.enc;
	v->root = h->view.body;
	v->height = (uint32_t)h->view.aux[0];
	v->count = h->view.card;
}
static void view_done(kv_chdr *h)
{
	atomic_store(&h->view.state, KV_VIEW_DONE);
}

typedef struct push_ctx {
	kv_env   *env;
	kv_elems *out;
} push_ctx;
static int push_emit(void *ctx, const kv_celem *el)
{
	push_ctx *c = ctx;
	return kv_elems_push(c->env, c->out, el->p, el->len, el->score);
}

typedef struct mel {
	double score;
	char   m[96];
	size_t len;
} mel;

typedef struct model {
	mel   *v;
	size_t n, cap;
} model;

static int mel_cmp(const void *a, const void *b)
{
	const mel *x = a, *y = b;
	return zs_cmp(x->score, x->m, x->len, y->score, y->m, y->len);
}

static long m_find(const model *md, const char *m, size_t len)
{
	for (size_t i = 0; i < md->n; i++)
		if (md->v[i].len == len && memcmp(md->v[i].m, m, len) == 0)
			return (long)i;
	return -1;
}

static void m_put(model *md, double s, const char *m, size_t len)
{
	long i = m_find(md, m, len);
	if (i < 0) {
		if (md->n == md->cap) {
			md->cap = md->cap ? md->cap * 2 : 64;
			md->v = realloc(md->v, md->cap * sizeof(mel));
		}
		i = (long)md->n++;
		memcpy(md->v[i].m, m, len);
		md->v[i].len = len;
	}
	md->v[i].score = s;
	qsort(md->v, md->n, sizeof(mel), mel_cmp);
}

static void m_del_at(model *md, size_t i)
{
	memmove(&md->v[i], &md->v[i + 1], (md->n - i - 1) * sizeof(mel));
	md->n--;
}

static uint64_t rng_s = 88172645463325252ull;
static uint64_t rnd(void)
{
	rng_s ^= rng_s << 13;
	rng_s ^= rng_s >> 7;
	rng_s ^= rng_s << 17;
	return rng_s;
}

static const double scores[] = {0.0, -0.0, 1, 2, 2.5, -3, 1e9, INFINITY, -INFINITY, 7, 42};

static void rand_member(char *m, size_t *len, int wide)
{
	/* a few hundred names, some over the compact limit of 64 bytes */
	unsigned k = (unsigned)(rnd() % (unsigned)wide);
	int n = snprintf(m, 96, "m%u", k);
	if (k % 97 == 5) {
		memset(m + n, 'x', 70);
		n += 70;
	}
	*len = (size_t)n;
}


static int same_as_model(kv_env *env, const zs_view *v, const mel *mv, size_t n)
{
	if (v->count != n)
		return 0;
	zs_iter it;
	zs_elem e;
	size_t i = 0;
	for (zs_iter_seek(&it, env, v, 0); zs_iter_get(&it, &e); zs_iter_next(&it), i++) {
		if (i >= n || e.len != mv[i].len || memcmp(e.member, mv[i].m, e.len) != 0 ||
		    e.score != mv[i].score) /* numerically: a compact zset stores -0 as 0 */
			return 0;
	}
	/* and backwards */
	zs_iter_seek(&it, env, v, n ? n - 1 : 0);
	for (size_t k = n; k-- > 0; zs_iter_prev(&it)) {
		if (!zs_iter_get(&it, &e) || e.len != mv[k].len || memcmp(e.member, mv[k].m, e.len) != 0)
			return 0;
	}
	return i == n;
}

/* The model's answer to a spec: indexes into md in output order. */
static size_t model_range(const model *md, const kv_zrange_spec *s, bool limit, size_t *out)
{
	size_t k = 0, n = md->n;
	size_t *tmp = malloc((n + 1) * sizeof(size_t));
	size_t t = 0;
	if (s->by == KV_ZBY_RANK) {
		int64_t a = s->start, b = s->stop, len = (int64_t)n;
		if (a < 0) a += len;
		if (b < 0) b += len;
		if (a < 0) a = 0;
		if (!(a > b || a >= len)) {
			if (b >= len) b = len - 1;
			for (int64_t i = a; i <= b; i++)
				tmp[t++] = s->rev ? (size_t)(len - 1 - i) : (size_t)i;
		}
		memcpy(out, tmp, t * sizeof(size_t));
		free(tmp);
		return t;
	}
	for (size_t i = 0; i < n; i++) {
		const mel *e = &md->v[i];
		bool in;
		if (s->by == KV_ZBY_SCORE) {
			in = (s->min_excl ? e->score > s->min : e->score >= s->min) &&
			     (s->max_excl ? e->score < s->max : e->score <= s->max);
		} else {
			int c1 = s->lmin_inf ? -s->lmin_inf : zs_cmp(0, s->lmin.data, s->lmin.len, 0, e->m, e->len);
			int c2 = s->lmax_inf ? s->lmax_inf : zs_cmp(0, s->lmax.data, s->lmax.len, 0, e->m, e->len);
			/* c1: bound vs elem (lmin_inf -1 "-": below all) */
			in = (s->lmin_inf ? s->lmin_inf < 0 : (s->min_excl ? c1 < 0 : c1 <= 0)) &&
			     (s->lmax_inf ? s->lmax_inf > 0 : (s->max_excl ? c2 > 0 : c2 >= 0));
		}
		if (in)
			tmp[t++] = i;
	}
	if (s->rev)
		for (size_t i = 0; i < t / 2; i++) {
			size_t x = tmp[i];
			tmp[i] = tmp[t - 1 - i];
			tmp[t - 1 - i] = x;
		}
	size_t off = 0, cnt = t;
	if (limit) {
		if (s->offset < 0)
			cnt = 0;
		else
			off = (size_t)s->offset < t ? (size_t)s->offset : t;
		if (cnt)
			cnt = t - off;
		if (s->count >= 0 && (size_t)s->count < cnt)
			cnt = (size_t)s->count;
	}
	for (size_t i = 0; i < cnt; i++)
		out[k++] = tmp[off + i];
	free(tmp);
	return k;
}

static void rand_spec(kv_zrange_spec *s, const model *md, char *b1, char *b2, bool lex)
{
	kv_zrange_spec_init(s);
	int by = lex ? (int)(rnd() % 3) : (int)(rnd() % 2);
	s->by = by;
	s->rev = (int)(rnd() % 2);
	int64_t n = (int64_t)md->n + 3;
	s->start = (int64_t)(rnd() % (uint64_t)(2 * n)) - n;
	s->stop = (int64_t)(rnd() % (uint64_t)(2 * n)) - n;
	s->min = scores[rnd() % 11];
	s->max = scores[rnd() % 11];
	if (rnd() % 3 == 0 && s->min > s->max) {
		double x = s->min;
		s->min = s->max;
		s->max = x;
	}
	s->min_excl = (int)(rnd() % 2);
	s->max_excl = (int)(rnd() % 2);
	size_t l1, l2;
	rand_member(b1, &l1, 300);
	rand_member(b2, &l2, 300);
	if (rnd() % 2 && zs_cmp(0, b1, l1, 0, b2, l2) > 0) {
		s->lmin = (kv_val){l2, b2};
		s->lmax = (kv_val){l1, b1};
	} else {
		s->lmin = (kv_val){l1, b1};
		s->lmax = (kv_val){l2, b2};
	}
	s->lmin_inf = rnd() % 8 == 0 ? (rnd() % 2 ? -1 : 1) : 0;
	s->lmax_inf = rnd() % 8 == 0 ? (rnd() % 2 ? -1 : 1) : 0;
	if (by != KV_ZBY_RANK && rnd() % 2) {
		s->offset = (int64_t)(rnd() % 20) - 2;
		s->count = (int64_t)(rnd() % 30) - 3;
	}
}

static kv_env *open_env(size_t mb)
{
	kv_config cfg;
	kv_config_init(&cfg);
	cfg.memory = mb << 20;
	cfg.max_namespaces = 4;
	kv_env *env = NULL;
	if (kv_env_open(&cfg, &env) != KV_OK)
		return NULL;
	return env;
}

/* One randomized run over one zset; lex: every score is 0. */
static void model_run(kv_env *env, unsigned steps, bool lex)
{
	model md = {0};
	kv_chdr *h = znew(env, 0, 0);
	E(h != 0);
	zs_view pv = {0};
	model pinned = {0};
	bool pinned_on = false;
	size_t *idx = malloc(8192 * sizeof(size_t));
	kv_elems out = KV_ELEMS_INIT;
	int bad = 0, was_tree = 0, back_compact = 0;
	uint32_t maxh = 0;
	/* targets: grow past the compact limit, shrink, grow to a deep tree */
	const size_t target[] = {60, 400, 30, 2500, 100};
	for (unsigned step = 0; step < steps; step++) {
		size_t tgt = target[(step * 5) / steps];
		int wide = tgt > 1000 ? 6000 : (int)tgt * 2 + 10;
		char m[96];
		size_t ml;
		rand_member(m, &ml, wide);
		unsigned op = (unsigned)(rnd() % 100);
		bool grow = md.n < tgt;
		if (op < (grow ? 60u : 30u)) {
			unsigned flags = 0;
			unsigned f = (unsigned)(rnd() % 8);
			if (f == 1) flags = KV_ZADD_NX;
			if (f == 2) flags = KV_ZADD_XX;
			if (f == 3) flags = KV_ZADD_GT;
			if (f == 4) flags = KV_ZADD_LT;
			if (f == 5) flags = KV_ZADD_INCR;
			if (f == 6) flags = KV_ZADD_INCR | KV_ZADD_GT;
			double s = lex ? 0.0 : scores[rnd() % 11];
			if (lex && (flags & KV_ZADD_INCR))
				flags = 0;
			long at = m_find(&md, m, ml);
			/* expected outcome */
			int want_out;
			double want_score = s;
			int want_rc = KV_OK;
			if (at < 0) {
				want_out = (flags & KV_ZADD_XX) ? ZS_OUT_NOP : ZS_OUT_ADDED;
			} else if (flags & KV_ZADD_NX) {
				want_out = ZS_OUT_NOP;
			} else {
				double cur = md.v[at].score, ns = s;
				if (flags & KV_ZADD_INCR)
					ns = cur + s;
				if (isnan(ns)) {
					want_rc = KV_ENOTFLOAT;
					want_out = 0;
				} else if (((flags & KV_ZADD_LT) && ns >= cur) || ((flags & KV_ZADD_GT) && ns <= cur)) {
					want_out = ZS_OUT_NOP;
				} else {
					want_out = ns == cur ? 0 : ZS_OUT_UPDATED;
					want_score = ns == cur ? cur : ns;
				}
			}
			int out_f = -1;
			double ns = NAN;
			int rc = zs_add(env, h, s, m, ml, flags, &out_f, &ns);
			if (rc != want_rc || (rc == KV_OK && out_f != want_out) ||
			    (rc == KV_OK && (out_f & (ZS_OUT_ADDED | ZS_OUT_UPDATED)) &&
			     ns != want_score)) {
				if (bad++ < 5)
					fprintf(stderr, "    zadd %.*s %g flags %u: rc %d out %d (want %d %d)\n",
					        (int)ml, m, s, flags, rc, out_f, want_rc, want_out);
			}
			if (rc == KV_OK && (out_f & (ZS_OUT_ADDED | ZS_OUT_UPDATED)))
				m_put(&md, want_score, m, ml);
		} else if (op < 75) {
			long at = m_find(&md, m, ml);
			double sc;
			int rc = zs_del(env, h, m, ml, &sc);
			if (rc != (at < 0 ? KV_NOTFOUND : KV_OK) ||
			    (at >= 0 && sc != md.v[at].score))
				bad++;
			if (at >= 0)
				m_del_at(&md, (size_t)at);
		} else if (op < 82) {
			long at = m_find(&md, m, ml);
			uint64_t rank = 99;
			double sc;
			int rc = zs_rank(env, h, m, ml, &rank, &sc);
			double s2;
			int rc2 = zs_score(env, h, m, ml, &s2);
			if (rc != (at < 0 ? KV_NOTFOUND : KV_OK) || rc2 != rc ||
			    (at >= 0 && (rank != (uint64_t)at || sc != md.v[at].score || s2 != sc)))
				bad++;
		} else if (op < 92) {
			kv_zrange_spec s;
			char b1[96], b2[96];
			rand_spec(&s, &md, b1, b2, lex);
			zs_view v;
			zs_view_of(h, &v);
			uint64_t first, n;
			bool limit = s.by != KV_ZBY_RANK;
			int rc = zs_resolve(env, &v, &s, limit, &first, &n);
			size_t k = model_range(&md, &s, limit, idx);
			if (rc != KV_OK || n != k) {
				if (bad++ < 5)
					fprintf(stderr, "    range by %d rev %d: %llu elements, model %zu\n", s.by,
					        s.rev, (unsigned long long)n, k);
			} else {
				zs_iter it;
				zs_elem e;
				zs_iter_seek(&it, env, &v, s.rev ? first + n - 1 : first);
				for (size_t i = 0; i < k; i++) {
					const mel *x = &md.v[idx[i]];
					if (!zs_iter_get(&it, &e) || e.len != x->len ||
					    memcmp(e.member, x->m, e.len) != 0) {
						bad++;
						break;
					}
					if (s.rev)
						zs_iter_prev(&it);
					else
						zs_iter_next(&it);
				}
			}
		} else if (op < 96) {
			/* remove a range by rank (ZREMRANGEBYRANK / ZPOPMIN / ZPOPMAX) */
			if (md.n == 0)
				continue;
			uint64_t first = rnd() % md.n, n = 1 + rnd() % (grow ? 3 : 50);
			int rev = (int)(rnd() % 2);
			if (n > md.n - first)
				n = md.n - first;
			out.n = 0;
			out.bytes.len = 0;
			int rc = zs_del_ranks(env, h, first, n, rev, &out);
			if (rc != KV_OK || out.n != n)
				bad++;
			for (uint64_t i = 0; rc == KV_OK && i < n && i < out.n; i++) {
				const mel *x = &md.v[rev ? first + n - 1 - i : first + i];
				if (out.v[i].len != x->len ||
				    memcmp(out.bytes.data + out.v[i].off, x->m, x->len) != 0)
					bad++;
			}
			for (uint64_t i = 0; i < n; i++)
				m_del_at(&md, (size_t)first);
		} else {
			/* pin a version, or check and drop the pinned one */
			if (!pinned_on) {
				freeze(env, h, &pv);
				pinned.n = 0;
				for (size_t i = 0; i < md.n; i++)
					m_put(&pinned, md.v[i].score, md.v[i].m, md.v[i].len);
				pinned_on = true;
			} else {
				if (!same_as_model(env, &pv, pinned.v, pinned.n))
					bad++;
				view_done(h);
				pinned_on = false;
			}
		}
		if (h->enc == KV_ENC_SKIPLIST)
			was_tree = 1;
		if (h->enc == KV_ENC_SKIPLIST && (uint32_t)h->aux[0] > maxh)
			maxh = (uint32_t)h->aux[0];
		if (step % 64 == 0 || step + 1 == steps) {
			int c = zs_check(env, h);
			zs_view v;
			zs_view_of(h, &v);
			if (c != 0 || !same_as_model(env, &v, md.v, md.n)) {
				if (bad++ < 5)
					fprintf(stderr, "    step %u: check %d, model match %d (n %zu)\n", step, c,
					        same_as_model(env, &v, md.v, md.n), md.n);
			}
		}
		/* a small result rebuilt (as ZRANGESTORE does) takes the compact form */
		if (was_tree && md.n <= 100 && !back_compact) {
			kv_chdr *nb = znew(env, md.n, 0);
			bool fits = true;
			for (size_t i = 0; i < md.n; i++)
				fits &= md.v[i].len <= 64;
			for (size_t i = 0; nb && i < md.n; i++)
				EOK(zs_insert(env, nb, md.v[i].score, md.v[i].m, md.v[i].len));
			E(nb != NULL);
			E(zs_check(env, nb) == 0);
			E(strcmp(zs_encoding(nb), fits ? "listpack" : "skiplist") == 0);
			zs_view v;
			zs_view_of(nb, &v);
			E(same_as_model(env, &v, md.v, md.n));
			kv_chdr_destroy(env, nb);
			back_compact = 1;
		}
	}
	if (pinned_on) {
		E(same_as_model(env, &pv, pinned.v, pinned.n));
		view_done(h);
	}
	if (getenv("ZS_DEBUG"))
		fprintf(stderr, "    steps %u, final n %zu, max height %u\n", steps, md.n, maxh);
	E(bad == 0);
	E(was_tree);
	E(maxh >= 3 || t_quick());
	E(back_compact);
	E(zs_check(env, h) == 0);
	kv_chdr_destroy(env, h);
	kv_elems_free(env, &out);
	free(idx);
	free(md.v);
	free(pinned.v);
}

int main(int argc, char **argv)
{
	t_init(argc, argv);
	kv_env *env = open_env(256);
	if (!env) {
		fprintf(stderr, "cannot open an env\n");
		return 1;
	}
	unsigned steps = t_quick() ? 6000 : 30000;

	TEST("zadd flags, scores, -0 and ties on a small zset") {
		kv_chdr *h = znew(env, 0, 0);
		int o;
		double ns;
		EOK(zs_add(env, h, 1, K("a"), 0, &o, &ns));
		E(o == ZS_OUT_ADDED);
		EOK(zs_add(env, h, 1, K("a"), KV_ZADD_NX, &o, &ns));
		E(o == ZS_OUT_NOP);
		EOK(zs_add(env, h, 5, K("b"), KV_ZADD_XX, &o, &ns));
		E(o == ZS_OUT_NOP);
		EOK(zs_add(env, h, 0.5, K("a"), KV_ZADD_GT, &o, &ns));
		E(o == ZS_OUT_NOP);
		EOK(zs_add(env, h, 2, K("a"), KV_ZADD_GT, &o, &ns));
		E(o == ZS_OUT_UPDATED && ns == 2);
		EOK(zs_add(env, h, 3, K("a"), KV_ZADD_INCR, &o, &ns));
		E(o == ZS_OUT_UPDATED && ns == 5);
		EOK(zs_add(env, h, 0, K("a"), KV_ZADD_INCR, &o, &ns));
		E(o == 0 && ns == 5); /* ZINCRBY 0: answered, nothing changed */
		EOK(zs_add(env, h, INFINITY, K("a"), 0, &o, &ns));
		ERC(zs_add(env, h, -INFINITY, K("a"), KV_ZADD_INCR, &o, &ns), KV_ENOTFLOAT);
		ERC(zs_add(env, h, NAN, K("z"), 0, &o, &ns), KV_ENOTFLOAT);
		EOK(zs_add(env, h, -0.0, K("n"), 0, &o, &ns));
		EOK(zs_add(env, h, 0.0, K("n"), 0, &o, &ns));
		E(o == 0); /* 0 == -0: unchanged */
		double sc;
		EOK(zs_score(env, h, K("n"), &sc));
		E(sc == 0 && !signbit(sc)); /* a listpack keeps -0 as the integer 0 (Redis 7: "0") */
		EOK(zs_add(env, h, 0, K("m"), 0, &o, &ns));
		uint64_t r;
		EOK(zs_rank(env, h, K("m"), &r, NULL));
		E(r == 0); /* ties order by member bytes: "m" < "n" */
		EOK(zs_rank(env, h, K("a"), &r, &sc));
		E(r == 2 && isinf(sc));
		ERC(zs_rank(env, h, K("q"), &r, NULL), KV_NOTFOUND);
		E(strcmp(zs_encoding(h), "listpack") == 0);
		E(zs_check(env, h) == 0);
		kv_chdr_destroy(env, h);
	}

	TEST("encoding follows Redis's thresholds (128 entries, 64 bytes)") {
		kv_chdr *h = znew(env, 0, 0);
		int o;
		double ns;
		char m[100];
		for (int i = 0; i < 128; i++) {
			int n = snprintf(m, sizeof m, "k%03d", i);
			zs_add(env, h, i, m, (size_t)n, 0, &o, &ns);
		}
		E(strcmp(zs_encoding(h), "listpack") == 0);
		EOK(zs_add(env, h, 1000, K("one more"), 0, &o, &ns));
		E(strcmp(zs_encoding(h), "skiplist") == 0);
		E(zs_check(env, h) == 0);
		/* the tree keeps -0 (Redis's skiplist answers "-0") */
		EOK(zs_add(env, h, -0.0, K("negzero"), 0, &o, &ns));
		double sc = 1;
		EOK(zs_score(env, h, K("negzero"), &sc));
		E(sc == 0 && signbit(sc));
		kv_chdr_destroy(env, h);
		h = znew(env, 0, 0);
		memset(m, 'x', 65);
		EOK(zs_add(env, h, 1, m, 64, 0, &o, &ns));
		E(strcmp(zs_encoding(h), "listpack") == 0);
		EOK(zs_add(env, h, 1, m, 65, 0, &o, &ns));
		E(strcmp(zs_encoding(h), "skiplist") == 0);
		E(zs_check(env, h) == 0);
		kv_chdr_destroy(env, h);
		h = znew(env, 129, 1);
		E(strcmp(zs_encoding(h), "skiplist") == 0);
		kv_chdr_destroy(env, h);
	}

	TEST("randomized model: scores, ranks, ranges, removals, pins") {
		model_run(env, steps, false);
	}
	TEST("randomized model: lex ranges over equal scores") {
		model_run(env, steps / 2, true);
	}

	TEST("a large zset: rank and range in O(log n), memory back after destroy") {
		size_t before = kv_region_used(env);
		kv_chdr *h = znew(env, 0, 0);
		int o;
		double ns;
		char m[32];
		unsigned N = t_quick() ? 20000 : 100000;
		for (unsigned i = 0; i < N; i++) {
			int n = snprintf(m, sizeof m, "member:%u", (i * 7919u) % N);
			zs_add(env, h, (double)((i * 7919u) % N), m, (size_t)n, 0, &o, &ns);
		}
		zs_view v;
		zs_view_of(h, &v);
		E(v.count == N);
		uint64_t r;
		EOK(zs_rank(env, h, K("member:12345"), &r, NULL));
		E(r == 12345);
		zs_elem e;
		zs_at(env, &v, N - 1, &e);
		E(e.score == N - 1);
		kv_zrange_spec s;
		kv_zrange_spec_init(&s);
		s.by = KV_ZBY_SCORE;
		s.min = 100;
		s.max = 200;
		s.min_excl = 1;
		uint64_t first, n;
		EOK(zs_resolve(env, &v, &s, true, &first, &n));
		E(first == 101 && n == 100);
		E(zs_check(env, h) == 0);
		/* a save's cut, then a write: the path is copied, not the zset */
		zs_view pv;
		freeze(env, h, &pv);
		uint64_t b0 = h->bytes;
		EOK(zs_add(env, h, -1, K("member:0"), 0, &o, &ns));
		uint32_t kept = 0;
		for (kv_off g = h->view.grave; g; g = ((kv_cgrave *)kv_ptr(env, g))->older)
			kept += ((kv_cgrave *)kv_ptr(env, g))->n;
		E(kept >= 1 && kept <= 3 * (uint32_t)h->aux[0] + 2); /* at most the paths of a delete and an insert */
		E(h->bytes <= b0 + 8 * 512); /* charged: the live zset only */
		zs_at(env, &pv, 0, &e);
		E(e.score == 0 && e.len == 8 && memcmp(e.member, "member:0", 8) == 0);
		zs_view lv;
		zs_view_of(h, &lv);
		zs_at(env, &lv, 0, &e);
		E(e.score == -1);
		view_done(h);
		E(zs_check(env, h) == 0);
		/* scan: every member once when nothing changes */
		uint64_t cur = 0;
		kv_elems out = KV_ELEMS_INIT;
		size_t seen = 0;
		do {
			out.n = 0;
			out.bytes.len = 0;
			push_ctx pc = {env, &out};
			EOK(zs_scan_index(env, h, &cur, 100, push_emit, &pc));
			seen += out.n;
		} while (cur);
		E(seen == N);
		kv_elems_free(env, &out);
		/* remove most of it in bounded steps: the index shrinks back */
		while (h->card > 500)
			zs_del_ranks(env, h, 0, 1000, 0, NULL);
		E(zs_check(env, h) == 0);
		E(h->bytes < 200000); /* the index shrank from 128 Ki buckets */
		kv_chdr_destroy(env, h);
		if (!E(kv_region_used(env) <= before + (1u << 20)) /* a kept page per size class */)
			fprintf(stderr, "    region used %zu -> %zu\n", before, kv_region_used(env));
	}

	TEST("scan returns every member present throughout, while it grows") {
		kv_chdr *h = znew(env, 0, 0);
		int o;
		double ns;
		char m[32];
		for (unsigned i = 0; i < 3000; i++) {
			int n = snprintf(m, sizeof m, "s%u", i);
			zs_add(env, h, i, m, (size_t)n, 0, &o, &ns);
		}
		uint8_t *seen = calloc(3000, 1);
		uint64_t cur = 0;
		unsigned extra = 0;
		kv_elems out = KV_ELEMS_INIT;
		do {
			out.n = 0;
			out.bytes.len = 0;
			push_ctx pc = {env, &out};
			EOK(zs_scan_index(env, h, &cur, 50, push_emit, &pc));
			for (size_t i = 0; i < out.n; i++) {
				char t[16];
				unsigned k;
				size_t l = out.v[i].len < 15 ? out.v[i].len : 15;
				memcpy(t, out.bytes.data + out.v[i].off, l);
				t[l] = 0;
				if (sscanf(t, "s%u", &k) == 1 && k < 3000)
					seen[k] = 1;
			}
			for (int j = 0; j < 40; j++) { /* growth during the scan: doublings, rehash */
				int n = snprintf(m, sizeof m, "extra%u", extra++);
				zs_add(env, h, -1, m, (size_t)n, 0, &o, &ns);
			}
		} while (cur);
		size_t missing = 0;
		for (unsigned i = 0; i < 3000; i++)
			missing += !seen[i];
		E(missing == 0);
		E(zs_check(env, h) == 0);
		free(seen);
		kv_elems_free(env, &out);
		kv_chdr_destroy(env, h);
	}

	TEST("building refuses disorder and repeats (a loader's check)") {
		kv_chdr *b = kv_chdr_new(env, KV_T_ZSET, KV_ENC_LISTPACK); /* as a loader makes it */
		EOK(zs_insert(env, b, 1, K("b")));
		EOK(zs_insert(env, b, 1, K("a"))); /* any order */
		ERC(zs_insert(env, b, 2, K("b")), KV_ECORRUPT);
		ERC(zs_insert(env, b, NAN, K("c")), KV_ECORRUPT);
		E(b->card == 2 && zs_check(env, b) == 0);
		kv_chdr_destroy(env, b);
		b = znew(env, 1000, 10);
		for (int i = 0; i < 1000; i++) {
			char m[16];
			int n = snprintf(m, sizeof m, "%05d", i);
			EOK(zs_insert(env, b, 3, m, (size_t)n));
		}
		E(zs_check(env, b) == 0);
		/* appends in order fill nodes: ~1000 / 42 leaves, not twice that */
		E(b->bytes < 1000 * 48 + 40 * 512 + 16 * 512 + 8192);
		kv_chdr_destroy(env, b);
	}

	TEST("algebra: weights, aggregates, inf * 0 and inf - inf as Redis") {
		kv_elems a = KV_ELEMS_INIT, b = KV_ELEMS_INIT, c = KV_ELEMS_INIT, out = KV_ELEMS_INIT;
		kv_elems_push(env, &a, K("x"), 1);
		kv_elems_push(env, &a, K("y"), INFINITY);
		kv_elems_push(env, &a, K("z"), 3);
		kv_elems_push(env, &b, K("y"), -INFINITY);
		kv_elems_push(env, &b, K("z"), 4);
		kv_elems_push(env, &b, K("w"), 5);
		zs_src src[3] = {{&a, 1}, {&b, 1}, {&c, 1}};
		EOK(zs_algebra(env, KV_SETOP_UNION, src, 2, KV_AGG_SUM, &out));
		/* x 1, y inf + -inf -> 0, z 7, w 5: order y(0) x(1) w(5) z(7) */
		E(out.n == 4);
		E(out.n == 4 && out.v[0].score == 0 && out.bytes.data[out.v[0].off] == 'y');
		E(out.n == 4 && out.v[3].score == 7 && out.bytes.data[out.v[3].off] == 'z');
		zs_src s2[2] = {{&a, 0}, {&b, 2}};
		EOK(zs_algebra(env, KV_SETOP_INTER, s2, 2, KV_AGG_MAX, &out));
		/* y: 0 * inf -> 0, 2 * -inf = -inf -> max 0; z: max(0, 8) = 8 */
		E(out.n == 2 && out.v[0].score == 0 && out.v[1].score == 8);
		zs_src s3[2] = {{&a, 1}, {&b, 1}};
		EOK(zs_algebra(env, KV_SETOP_DIFF, s3, 2, KV_AGG_SUM, &out));
		E(out.n == 1 && out.bytes.data[out.v[0].off] == 'x' && out.v[0].score == 1);
		zs_src s4[2] = {{&a, 1}, {&c, 1}};
		EOK(zs_algebra(env, KV_SETOP_INTER, s4, 2, KV_AGG_SUM, &out));
		E(out.n == 0);
		zs_src s5[2] = {{&a, -1}, {&b, 1}};
		EOK(zs_algebra(env, KV_SETOP_UNION, s5, 2, KV_AGG_MIN, &out));
		/* x -1, y min(-inf, -inf) = -inf, z min(-3, 4) = -3, w 5 */
		E(out.n == 4 && out.v[0].score == -INFINITY && out.v[1].score == -3 &&
		  out.v[2].score == -1 && out.v[3].score == 5);
		kv_elems_free(env, &a);
		kv_elems_free(env, &b);
		kv_elems_free(env, &c);
		kv_elems_free(env, &out);
	}

	TEST("randomized algebra against a naive model (weights, aggregates, infinities)") {
		const double sv[] = {0, 1, -2, 3.5, INFINITY, -INFINITY};
		const double wv[] = {1, 0, -1, 2, 0.5, INFINITY};
		int bad = 0;
		for (int round = 0; round < 400; round++) {
			size_t n = 1 + rnd() % 3;
			kv_elems e[3] = {KV_ELEMS_INIT, KV_ELEMS_INIT, KV_ELEMS_INIT}, out = KV_ELEMS_INIT;
			zs_src src[3];
			for (size_t i = 0; i < n; i++) {
				unsigned cnt = (unsigned)(rnd() % 6);
				for (unsigned k = 0; k < cnt; k++) {
					char m[8];
					int l = snprintf(m, sizeof m, "m%u", (unsigned)(rnd() % 6));
					bool dup = false;
					for (size_t j = 0; j < e[i].n; j++)
						dup |= e[i].v[j].len == (size_t)l && !memcmp(e[i].bytes.data + e[i].v[j].off, m, (size_t)l);
					if (!dup)
						kv_elems_push(env, &e[i], m, (size_t)l, sv[rnd() % 6]);
				}
				src[i].e = &e[i];
				src[i].weight = wv[rnd() % 6];
			}
			int op = (int)(rnd() % 3), agg = (int)(rnd() % 3);
			zs_src msrc[3];
			memcpy(msrc, src, sizeof src);
			EOK(zs_algebra(env, op, src, n, agg, &out));
			/* the model: Redis's order (INTER/UNION: sources by size, stable),
			 * each member's contributions folded in that order */
			if (op != KV_SETOP_DIFF)
				for (size_t i = 1; i < n; i++)
					for (size_t j = i; j > 0 && msrc[j - 1].e->n > msrc[j].e->n; j--) {
						zs_src t = msrc[j];
						msrc[j] = msrc[j - 1];
						msrc[j - 1] = t;
					}
			model md = {0};
			for (unsigned mm = 0; mm < 6; mm++) {
				char m[8];
				int l = snprintf(m, sizeof m, "m%u", mm);
				double acc = 0;
				int present = 0, in_first = 0, in_other = 0;
				for (size_t i = 0; i < n; i++) {
					for (size_t j = 0; j < msrc[i].e->n; j++) {
						const kv_elem *x = &msrc[i].e->v[j];
						if (x->len != (size_t)l || memcmp(msrc[i].e->bytes.data + x->off, m, (size_t)l))
							continue;
						double v = msrc[i].weight * x->score;
						/* Redis zeroes a NaN product in every UNION source but
						 * only in INTER's first; the others fold it as it is */
						if (isnan(v) && (op == KV_SETOP_UNION || i == 0))
							v = 0;
						if (op == KV_SETOP_DIFF)
							v = x->score;
						if (i == 0)
							in_first = 1;
						else
							in_other = 1;
						if (!present++) {
							acc = v;
						} else if (agg == KV_AGG_SUM) {
							acc += v;
							if (isnan(acc))
								acc = 0;
						} else if (agg == KV_AGG_MIN) {
							acc = v < acc ? v : acc;
						} else {
							acc = v > acc ? v : acc;
						}
					}
				}
				bool keep = op == KV_SETOP_UNION ? present > 0
				          : op == KV_SETOP_INTER ? present == (int)n
				                                 : in_first && !in_other;
				if (op == KV_SETOP_DIFF && keep) /* the first source's own score */
					for (size_t j = 0; j < msrc[0].e->n; j++)
						if (msrc[0].e->v[j].len == (size_t)l &&
						    !memcmp(msrc[0].e->bytes.data + msrc[0].e->v[j].off, m, (size_t)l))
							acc = msrc[0].e->v[j].score;
				if (keep)
					m_put(&md, acc, m, (size_t)l);
			}
			bool same = out.n == md.n;
			for (size_t i = 0; same && i < md.n; i++)
				same = out.v[i].len == md.v[i].len &&
				       !memcmp(out.bytes.data + out.v[i].off, md.v[i].m, md.v[i].len) &&
				       out.v[i].score == md.v[i].score;
			if (!same && bad++ < 3)
				fprintf(stderr, "    round %d op %d agg %d: %zu results, model %zu\n", round, op, agg,
				        out.n, md.n);
			for (size_t i = 0; i < n; i++)
				kv_elems_free(env, &e[i]);
			kv_elems_free(env, &out);
			free(md.v);
		}
		E(bad == 0);
	}

	kv_env_close(env);
	return t_done();
}
