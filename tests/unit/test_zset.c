/*
 * test_zset.c -- sorted sets through kv.h: every call with the answers
 * redis-server 7.0 gives for the same commands (checked by hand with
 * redis-cli; the cases are the ones where Redis's rules are subtle), kinds
 * and WRONGTYPE, deletion when emptied, events, TTL, memory accounting,
 * ZSCAN, removal and pops of more than one bounded hold, and a snapshot
 * round trip of compact and large zsets.
 */
#include <math.h>
#include <stdbool.h>

#include "test.h"

static kv_env *env;
static kv_ns *ns;

#define MAXEV 64
static int evs[MAXEV], nev;
static void hook(void *ctx, const char *n, const void *key, size_t klen, int event)
{
	(void)ctx, (void)n, (void)key, (void)klen;
	if (nev < MAXEV)
		evs[nev++] = event;
}

static kv_val V(const char *s)
{
	kv_val v = {strlen(s), s};
	return v;
}

static int zadd1(const char *key, double s, const char *m, unsigned flags, uint64_t *count)
{
	kv_zmember zm = {s, V(m)};
	return kv_zadd(ns, key, strlen(key), &zm, 1, flags, count, NULL);
}

/* The range as "m1:s1 m2:s2 ..." (scores %.17g). */
static const char *show(const kv_elems *e)
{
	static char buf[8192];
	size_t o = 0;
	buf[0] = 0;
	for (size_t i = 0; i < e->n && o < sizeof buf - 64; i++)
		o += (size_t)snprintf(buf + o, sizeof buf - o, "%s%.*s:%.17g", i ? " " : "", (int)e->v[i].len,
		                      e->bytes.data + e->v[i].off, e->v[i].score);
	return buf;
}

static kv_zrange_spec score_spec(double min, double max, int rev)
{
	kv_zrange_spec s;
	kv_zrange_spec_init(&s);
	s.by = KV_ZBY_SCORE;
	s.min = min;
	s.max = max;
	s.rev = rev;
	return s;
}

int main(int argc, char **argv)
{
	t_init(argc, argv);
	kv_config cfg;
	kv_config_init(&cfg);
	cfg.memory = (size_t)128 << 20;
	if (kv_env_open(&cfg, &env) != KV_OK || kv_ns_create(env, "z", NULL) != KV_OK ||
	    kv_ns_open(env, "z", &ns) != KV_OK)
		return 1;
	kv_env_set_hook(env, hook, NULL);
	kv_elems out = KV_ELEMS_INIT;
	uint64_t n;

	TEST("ZADD flags and replies as Redis 7") {
		E(zadd1("k", 1, "a", 0, &n) == KV_OK && n == 1);
		E(zadd1("k", 1, "a", 0, &n) == KV_OK && n == 0);
		E(zadd1("k", 2, "a", KV_ZADD_CH, &n) == KV_OK && n == 1);
		E(zadd1("k", 5, "b", KV_ZADD_XX, &n) == KV_OK && n == 0);
		E(zadd1("k", 1, "a", KV_ZADD_GT | KV_ZADD_CH, &n) == KV_OK && n == 0);
		E(zadd1("k", 3, "c", KV_ZADD_GT, &n) == KV_OK && n == 1); /* GT still adds */
		kv_zmember zm = {1, V("a")};
		double r = 0;
		ERC(kv_zadd(ns, K("k"), &zm, 1, KV_ZADD_LT | KV_ZADD_INCR, NULL, &r), KV_UNCHANGED);
		zm.score = 3;
		EOK(kv_zadd(ns, K("k"), &zm, 1, KV_ZADD_GT | KV_ZADD_INCR, NULL, &r));
		E(r == 5);
		ERC(kv_zadd(ns, K("nokey"), &zm, 1, KV_ZADD_XX | KV_ZADD_INCR, NULL, &r), KV_UNCHANGED);
		ERC(kv_exists(ns, K("nokey")), KV_NOTFOUND);
		ERC(zadd1("k", 1, "a", KV_ZADD_NX | KV_ZADD_XX, &n), KV_EINVAL);
		ERC(zadd1("k", 1, "a", KV_ZADD_NX | KV_ZADD_GT, &n), KV_EINVAL);
		ERC(zadd1("k", 1, "a", KV_ZADD_GT | KV_ZADD_LT, &n), KV_EINVAL);
		ERC(zadd1("k", NAN, "a", 0, &n), KV_ENOTFLOAT);
		kv_zmember two[2] = {{1, V("x")}, {2, V("y")}};
		ERC(kv_zadd(ns, K("k"), two, 2, KV_ZADD_INCR, NULL, &r), KV_EINVAL);
		ERC(kv_zadd(ns, K("k"), two, 0, 0, NULL, NULL), KV_EINVAL);
		EOK(kv_zincr(ns, K("k"), K("x"), INFINITY, &r));
		ERC(kv_zincr(ns, K("k"), K("x"), -INFINITY, &r), KV_ENOTFLOAT);
		double s;
		EOK(kv_zscore(ns, K("k"), K("x"), &s));
		E(isinf(s) && s > 0);
		int kind = 0;
		EOK(kv_kind(ns, K("k"), &kind));
		E(kind == KV_T_ZSET);
		const char *enc = NULL;
		EOK(kv_encoding(ns, K("k"), &enc));
		E(enc && strcmp(enc, "listpack") == 0);
		EOK(kv_set(ns, K("str"), K("v"), KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL));
		ERC(zadd1("str", 1, "a", 0, &n), KV_EWRONGTYPE);
		ERC(kv_zscore(ns, K("str"), K("a"), &s), KV_EWRONGTYPE);
		ERC(kv_zrange(ns, K("str"), NULL, &out), KV_EINVAL);
		kv_zrange_spec all;
		kv_zrange_spec_init(&all);
		ERC(kv_zrange(ns, K("str"), &all, &out), KV_EWRONGTYPE);
		kv_del(ns, K("k"));
		kv_del(ns, K("str"));
	}

	TEST("-0 in a compact zset reads as 0; 0 == -0 changes nothing") {
		double s = 1;
		EOK(zadd1("nz", -0.0, "q", 0, &n));
		EOK(kv_zscore(ns, K("nz"), K("q"), &s));
		E(s == 0 && !signbit(s)); /* redis-cli: ZADD z -0 q; ZSCORE z q -> "0" */
		E(zadd1("nz", 0, "q", KV_ZADD_CH, &n) == KV_OK && n == 0);
		kv_del(ns, K("nz"));
	}

	TEST("ZRANGE by rank, score and lex with REV and LIMIT (redis-server's answers)") {
		kv_zmember m[5] = {{1, V("a")}, {2, V("b")}, {3, V("c")}, {4, V("d")}, {5, V("e")}};
		EOK(kv_zadd(ns, K("r"), m, 5, 0, &n, NULL));
		kv_zrange_spec s = score_spec(-INFINITY, INFINITY, 0);
		s.offset = -1, s.count = 2;
		EOK(kv_zrange(ns, K("r"), &s, &out));
		E(out.n == 0); /* a negative offset: empty */
		s.offset = 0, s.count = 0;
		EOK(kv_zrange(ns, K("r"), &s, &out));
		E(out.n == 0);
		s.offset = 2, s.count = -1;
		EOK(kv_zrange(ns, K("r"), &s, &out));
		E(strcmp(show(&out), "c:3 d:4 e:5") == 0);
		s = score_spec(1, 5, 1); /* ZRANGE r 5 1 BYSCORE REV LIMIT 1 2 */
		s.offset = 1, s.count = 2;
		EOK(kv_zrange(ns, K("r"), &s, &out));
		E(strcmp(show(&out), "d:4 c:3") == 0);
		s.count = -5;
		EOK(kv_zrange(ns, K("r"), &s, &out));
		E(strcmp(show(&out), "d:4 c:3 b:2 a:1") == 0);
		s = score_spec(1, 3, 0);
		s.min_excl = 1;
		EOK(kv_zrange(ns, K("r"), &s, &out));
		E(strcmp(show(&out), "b:2 c:3") == 0);
		kv_zrange_spec_init(&s);
		s.start = -2, s.stop = 100;
		EOK(kv_zrange(ns, K("r"), &s, &out));
		E(strcmp(show(&out), "d:4 e:5") == 0);
		s.start = 0, s.stop = 1, s.rev = 1;
		EOK(kv_zrange(ns, K("r"), &s, &out));
		E(strcmp(show(&out), "e:5 d:4") == 0);
		s.start = 3, s.stop = 1, s.rev = 0;
		EOK(kv_zrange(ns, K("r"), &s, &out));
		E(out.n == 0);
		s.offset = 0, s.count = 1; /* LIMIT with BY RANK: Redis's syntax error */
		ERC(kv_zrange(ns, K("r"), &s, &out), KV_EINVAL);
		uint64_t rank;
		EOK(kv_zrank(ns, K("r"), K("b"), 0, &rank, NULL));
		E(rank == 1);
		EOK(kv_zrank(ns, K("r"), K("b"), 1, &rank, NULL));
		E(rank == 3);
		ERC(kv_zrank(ns, K("r"), K("zz"), 0, &rank, NULL), KV_NOTFOUND);
		ERC(kv_zrank(ns, K("none"), K("b"), 0, &rank, NULL), KV_NOTFOUND);
		s = score_spec(2, 4, 0);
		EOK(kv_zcount(ns, K("r"), &s, &n));
		E(n == 3);
		/* lex over equal scores */
		kv_zmember l[4] = {{0, V("a")}, {0, V("b")}, {0, V("c")}, {0, V("d")}};
		EOK(kv_zadd(ns, K("l"), l, 4, 0, &n, NULL));
		kv_zrange_spec x;
		kv_zrange_spec_init(&x);
		x.by = KV_ZBY_LEX;
		x.lmin_inf = 1, x.lmax_inf = -1; /* + - */
		EOK(kv_zrange(ns, K("l"), &x, &out));
		E(out.n == 0);
		x.lmin_inf = -1, x.lmax_inf = 1, x.offset = 1, x.count = 2; /* - + LIMIT 1 2 */
		EOK(kv_zrange(ns, K("l"), &x, &out));
		E(strcmp(show(&out), "b:0 c:0") == 0);
		kv_zrange_spec_init(&x);
		x.by = KV_ZBY_LEX;
		x.lmin = V("b"), x.min_excl = 1, x.lmax = V("d"); /* (b [d */
		EOK(kv_zrange(ns, K("l"), &x, &out));
		E(strcmp(show(&out), "c:0 d:0") == 0);
		x.lmin_inf = -1, x.lmax = V("c"), x.rev = 1; /* ZRANGE l [c - BYLEX REV */
		EOK(kv_zrange(ns, K("l"), &x, &out));
		E(strcmp(show(&out), "c:0 b:0 a:0") == 0);
		EOK(kv_zcount(ns, K("l"), &x, &n));
		E(n == 3);
		kv_del(ns, K("r"));
		kv_del(ns, K("l"));
	}

	TEST("ZREM empties and deletes the key: events zrem then del") {
		kv_zmember m[2] = {{1, V("a")}, {2, V("b")}};
		nev = 0;
		EOK(kv_zadd(ns, K("e"), m, 2, 0, &n, NULL));
		kv_val rm[3] = {V("a"), V("b"), V("zz")};
		EOK(kv_zrem(ns, K("e"), rm, 3, &n));
		E(n == 2);
		ERC(kv_exists(ns, K("e")), KV_NOTFOUND);
		E(nev == 3 && evs[0] == KV_EV_ZADD && evs[1] == KV_EV_ZREM && evs[2] == KV_EV_DEL);
		nev = 0;
		EOK(kv_zrem(ns, K("e"), rm, 1, &n));
		E(n == 0 && nev == 0);
		double r;
		EOK(kv_zincr(ns, K("e"), K("a"), 2.5, &r));
		E(r == 2.5 && nev == 1 && evs[0] == KV_EV_ZINCR);
		kv_del(ns, K("e"));
	}

	TEST("ZMSCORE, TTL kept by writes, memory charged and given back") {
		kv_ns_stats st0, st1, st2;
		EOK(kv_ns_stats_get(ns, &st0));
		char m[32];
		for (int i = 0; i < 2000; i++) {
			snprintf(m, sizeof m, "member-%d", i);
			zadd1("big", i, m, 0, NULL);
		}
		EOK(kv_ns_stats_get(ns, &st1));
		E(st1.bytes > st0.bytes + 2000 * 40);
		const char *enc = NULL;
		EOK(kv_encoding(ns, K("big"), &enc));
		E(enc && strcmp(enc, "skiplist") == 0);
		EOK(kv_expire(ns, K("big"), kv_now_ms() + 100000, 0));
		zadd1("big", -1, "member-7", 0, NULL);
		int64_t exp = 0;
		EOK(kv_ttl(ns, K("big"), &exp));
		E(exp > 0);
		kv_val q[3] = {V("member-7"), V("nope"), V("member-1999")};
		EOK(kv_zmscore(ns, K("big"), q, 3, &out));
		E(out.n == 3 && out.v[0].len == 0 && out.v[0].score == -1 && out.v[1].len == KV_ELEM_NIL &&
		  out.v[2].score == 1999);
		EOK(kv_zmscore(ns, K("nobig"), q, 3, &out));
		E(out.n == 3 && out.v[0].len == KV_ELEM_NIL);
		EOK(kv_del(ns, K("big")));
		EOK(kv_ns_stats_get(ns, &st2));
		E(st2.bytes == st0.bytes);
	}

	TEST("ZREMRANGE and ZPOP beyond one hold; ZRANGESTORE; ZSCAN") {
		kv_zmember zm[100];
		for (int i = 0; i < 5000; i += 100) {
			char names[100][16];
			for (int j = 0; j < 100; j++) {
				snprintf(names[j], sizeof names[j], "p%05d", i + j);
				zm[j].score = i + j;
				zm[j].member = V(names[j]);
			}
			EOK(kv_zadd(ns, K("p"), zm, 100, 0, &n, NULL));
		}
		kv_zrange_spec s;
		kv_zrange_spec_init(&s);
		s.start = 100, s.stop = 2599; /* 2500 ranks: three holds */
		nev = 0;
		EOK(kv_zremrange(ns, K("p"), &s, &n));
		E(n == 2500);
		E(nev == 1 && evs[0] == KV_EV_ZREMRANGEBYRANK); /* one event for the three holds */
		uint64_t card;
		EOK(kv_card(ns, K("p"), KV_T_ZSET, &card));
		E(card == 2500);
		double sc;
		EOK(kv_zscore(ns, K("p"), K("p00099"), &sc));
		ERC(kv_zscore(ns, K("p"), K("p00100"), &sc), KV_NOTFOUND);
		EOK(kv_zscore(ns, K("p"), K("p02600"), &sc));
		s = score_spec(4000, INFINITY, 0);
		EOK(kv_zremrange(ns, K("p"), &s, &n));
		E(n == 1000);
		nev = 0;
		EOK(kv_zpop(ns, K("p"), 0, 1, 1200, &out));
		E(out.n == 1200 && out.v[0].score == 0 && out.v[1199].score == 3699); /* 0..99, then 2600.. */
		E(nev == 1 && evs[0] == KV_EV_ZPOPMIN);
		EOK(kv_zpop(ns, K("p"), 1, 0, 0, &out));
		E(out.n == 1 && out.v[0].score == 3999);
		EOK(kv_zpop(ns, K("p"), 1, 1, 0, &out));
		E(out.n == 0);
		/* ZRANGESTORE: the range replaces dst; an empty one deletes it */
		kv_zrange_spec_init(&s);
		s.start = 0, s.stop = 9;
		EOK(kv_set(ns, K("dst"), K("string"), KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL));
		EOK(kv_zrangestore(ns, K("dst"), K("p"), &s, &n));
		E(n == 10);
		kv_zrange_spec_init(&s);
		EOK(kv_zrange(ns, K("dst"), &s, &out));
		E(out.n == 10 && out.v[0].score == 3700);
		s = score_spec(1e9, 2e9, 0);
		EOK(kv_zrangestore(ns, K("dst"), K("p"), &s, &n));
		E(n == 0);
		ERC(kv_exists(ns, K("dst")), KV_NOTFOUND);
		/* ZSCAN: every member of a big zset, each once while nothing changes */
		uint64_t cur = 0, seen = 0;
		do {
			EOK(kv_cscan(ns, K("p"), KV_T_ZSET, &cur, NULL, 0, 100, 0, &out));
			seen += out.n;
		} while (cur);
		EOK(kv_card(ns, K("p"), KV_T_ZSET, &card));
		E(seen == card);
		/* a small one comes back whole, cursor 0, with scores */
		zadd1("small", 1.5, "x", 0, NULL);
		cur = 0;
		EOK(kv_cscan(ns, K("small"), KV_T_ZSET, &cur, NULL, 0, 1, 0, &out));
		E(cur == 0 && out.n == 1 && out.v[0].score == 1.5);
		kv_del(ns, K("p"));
		kv_del(ns, K("small"));
	}

	TEST("COPY and RENAME of a large zset; SET over it") {
		char m[32];
		for (int i = 0; i < 500; i++) {
			snprintf(m, sizeof m, "c%d", i);
			zadd1("src", i, m, 0, NULL);
		}
		EOK(kv_copy(ns, K("src"), ns, K("cp"), 0));
		zadd1("src", -5, "c7", 0, NULL); /* the copy is deep */
		double s;
		EOK(kv_zscore(ns, K("cp"), K("c7"), &s));
		E(s == 7);
		uint64_t card;
		EOK(kv_card(ns, K("cp"), KV_T_ZSET, &card));
		E(card == 500);
		const char *enc = NULL;
		EOK(kv_encoding(ns, K("cp"), &enc));
		E(enc && strcmp(enc, "skiplist") == 0);
		EOK(kv_rename(ns, K("cp"), K("rn"), 0));
		uint64_t rank;
		EOK(kv_zrank(ns, K("rn"), K("c499"), 0, &rank, NULL));
		E(rank == 499);
		EOK(kv_set(ns, K("rn"), K("now a string"), KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL));
		ERC(kv_zscore(ns, K("rn"), K("c1"), &s), KV_EWRONGTYPE);
		kv_del(ns, K("src"));
		kv_del(ns, K("rn"));
	}

	TEST("ZRANDMEMBER's counts") {
		kv_zmember m[5] = {{1, V("a")}, {2, V("b")}, {3, V("c")}, {4, V("d")}, {5, V("e")}};
		EOK(kv_zadd(ns, K("q"), m, 5, 0, &n, NULL));
		EOK(kv_zrandmember(ns, K("q"), 0, 0, &out));
		E(out.n == 1);
		EOK(kv_zrandmember(ns, K("q"), 1, 3, &out));
		E(out.n == 3);
		bool dup = false;
		for (size_t i = 0; i < out.n; i++)
			for (size_t j = 0; j < i; j++)
				dup |= out.v[i].score == out.v[j].score;
		E(!dup);
		EOK(kv_zrandmember(ns, K("q"), 1, 10, &out));
		E(out.n == 5);
		EOK(kv_zrandmember(ns, K("q"), 1, -12, &out));
		E(out.n == 12);
		EOK(kv_zrandmember(ns, K("none"), 1, 3, &out));
		E(out.n == 0);
		kv_del(ns, K("q"));
	}

	TEST("ZUNION / ZINTER / ZDIFF with weights and aggregates (redis-server's answers)") {
		kv_zmember u1[1] = {{INFINITY, V("m")}}, u2[1] = {{-INFINITY, V("m")}};
		EOK(kv_zadd(ns, K("u1"), u1, 1, 0, &n, NULL));
		EOK(kv_zadd(ns, K("u2"), u2, 1, 0, &n, NULL));
		kv_val keys[3] = {V("u1"), V("u2"), V("missing")};
		EOK(kv_zsetop(ns, KV_SETOP_UNION, keys, 2, NULL, KV_AGG_SUM, NULL, 0, &out, &n));
		E(strcmp(show(&out), "m:0") == 0); /* inf + -inf */
		double w[2] = {0, 1};
		EOK(kv_zsetop(ns, KV_SETOP_INTER, keys, 2, w, KV_AGG_MAX, NULL, 0, &out, &n));
		E(strcmp(show(&out), "m:0") == 0); /* 0 * inf -> 0, max(0, -inf) */
		EOK(kv_zsetop(ns, KV_SETOP_INTER, keys, 3, NULL, KV_AGG_SUM, NULL, 0, &out, &n));
		E(out.n == 0 && n == 0);
		kv_zmember a[3] = {{1, V("x")}, {2, V("y")}, {3, V("z")}};
		kv_zmember b[2] = {{10, V("y")}, {20, V("w")}};
		EOK(kv_zadd(ns, K("a"), a, 3, 0, &n, NULL));
		EOK(kv_zadd(ns, K("b"), b, 2, 0, &n, NULL));
		kv_val ab[2] = {V("a"), V("b")};
		double w2[2] = {2, 3};
		EOK(kv_zsetop(ns, KV_SETOP_UNION, ab, 2, w2, KV_AGG_SUM, NULL, 0, &out, &n));
		E(strcmp(show(&out), "x:2 z:6 y:34 w:60") == 0);
		EOK(kv_zsetop(ns, KV_SETOP_DIFF, ab, 2, NULL, KV_AGG_SUM, NULL, 0, &out, &n));
		E(strcmp(show(&out), "x:1 z:3") == 0);
		nev = 0;
		EOK(kv_zsetop(ns, KV_SETOP_INTER, ab, 2, NULL, KV_AGG_MIN, K("dst"), NULL, &n));
		E(n == 1 && nev == 1 && evs[0] == KV_EV_ZINTERSTORE);
		double s;
		EOK(kv_zscore(ns, K("dst"), K("y"), &s));
		E(s == 2);
		/* a set counts score 1 (redis-cli: ZADD s1 1 x; SADD s2 x; ZINTER 2 s1 s2 -> x 2;
		 * ZUNION 2 s1 s2 WEIGHTS 2 3 -> x 5) */
		kv_zmember s1[1] = {{1, V("x")}};
		kv_val s2m[1] = {V("x")};
		EOK(kv_zadd(ns, K("s1"), s1, 1, 0, &n, NULL));
		EOK(kv_sadd(ns, K("s2"), s2m, 1, &n));
		kv_val ss[2] = {V("s1"), V("s2")};
		EOK(kv_zsetop(ns, KV_SETOP_INTER, ss, 2, NULL, KV_AGG_SUM, NULL, 0, &out, &n));
		E(strcmp(show(&out), "x:2") == 0);
		EOK(kv_zsetop(ns, KV_SETOP_UNION, ss, 2, w2, KV_AGG_SUM, NULL, 0, &out, &n));
		E(strcmp(show(&out), "x:5") == 0);
		kv_del(ns, K("s1"));
		kv_del(ns, K("s2"));
		kv_val aw[2] = {V("a"), V("str2")};
		EOK(kv_set(ns, K("str2"), K("v"), KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL));
		ERC(kv_zsetop(ns, KV_SETOP_UNION, aw, 2, NULL, KV_AGG_SUM, NULL, 0, &out, &n), KV_EWRONGTYPE);
		kv_val none[2] = {V("missing"), V("missing2")};
		EOK(kv_zsetop(ns, KV_SETOP_UNION, none, 2, NULL, KV_AGG_SUM, K("dst"), NULL, &n));
		E(n == 0);
		ERC(kv_exists(ns, K("dst")), KV_NOTFOUND);
		kv_del(ns, K("a"));
		kv_del(ns, K("b"));
		kv_del(ns, K("u1"));
		kv_del(ns, K("u2"));
		kv_del(ns, K("str2"));
	}

	TEST("ZINTER's NaN rule: smallest source first, only its NaN product is 0 (redis-server's answers)") {
		/* redis-cli: ZADD zi 1 a inf m; ZADD big inf m 1 x 1 y 1 z */
		kv_zmember zi[2] = {{1, V("a")}, {INFINITY, V("m")}};
		kv_zmember big[4] = {{INFINITY, V("m")}, {1, V("x")}, {1, V("y")}, {1, V("z")}};
		EOK(kv_zadd(ns, K("zi"), zi, 2, 0, &n, NULL));
		EOK(kv_zadd(ns, K("big"), big, 4, 0, &n, NULL));
		kv_val zz[2] = {V("zi"), V("zi")}, bz[2] = {V("big"), V("zi")};
		double w20[2] = {2, 0}, w01[2] = {0, 1};
		/* ZINTER 2 zi zi WEIGHTS 2 0: inf + NaN is a NaN sum -> 0 */
		EOK(kv_zsetop(ns, KV_SETOP_INTER, zz, 2, w20, KV_AGG_SUM, NULL, 0, &out, &n));
		E(strcmp(show(&out), "m:0 a:2") == 0);
		/* ... AGGREGATE MIN: min(inf, NaN) keeps inf */
		EOK(kv_zsetop(ns, KV_SETOP_INTER, zz, 2, w20, KV_AGG_MIN, NULL, 0, &out, &n));
		E(strcmp(show(&out), "a:0 m:inf") == 0);
		/* ZINTER 2 big zi WEIGHTS 0 1 AGGREGATE MIN: zi (smaller) first: inf, then big's NaN */
		EOK(kv_zsetop(ns, KV_SETOP_INTER, bz, 2, w01, KV_AGG_MIN, NULL, 0, &out, &n));
		E(strcmp(show(&out), "m:inf") == 0);
		EOK(kv_zsetop(ns, KV_SETOP_INTER, bz, 2, w01, KV_AGG_SUM, NULL, 0, &out, &n));
		E(strcmp(show(&out), "m:0") == 0);
		kv_del(ns, K("zi"));
		kv_del(ns, K("big"));
	}

	TEST("snapshot round trip: compact and large zsets, scores exact") {
		char m[32];
		for (int i = 0; i < 3000; i++) {
			snprintf(m, sizeof m, "e%d", i);
			zadd1("large", i % 7 == 0 ? -INFINITY : i * 0.1, m, 0, NULL);
		}
		zadd1("large", -0.0, "negzero", 0, NULL);
		zadd1("tiny", 1, "a", 0, NULL);
		zadd1("tiny", INFINITY, "b", 0, NULL);
		char path[64];
		snprintf(path, sizeof path, "/tmp/test_zset_%d.snap", (int)getpid());
		kv_error err;
		EOK(kv_save(env, "z", path, &err));
		EOK(kv_load(env, path, "z", "z2", &err));
		unlink(path);
		kv_ns *ns2;
		EOK(kv_ns_open(env, "z2", &ns2));
		kv_elems a = KV_ELEMS_INIT, b = KV_ELEMS_INIT;
		kv_zrange_spec all;
		kv_zrange_spec_init(&all);
		const char *keys[2] = {"large", "tiny"};
		for (int k = 0; k < 2; k++) {
			EOK(kv_zrange(ns, keys[k], strlen(keys[k]), &all, &a));
			EOK(kv_zrange(ns2, keys[k], strlen(keys[k]), &all, &b));
			bool same = a.n == b.n && a.bytes.len == b.bytes.len &&
			            memcmp(a.bytes.data, b.bytes.data, a.bytes.len) == 0;
			for (size_t i = 0; same && i < a.n; i++)
				same = memcmp(&a.v[i].score, &b.v[i].score, 8) == 0;
			E(same);
			const char *e1, *e2;
			EOK(kv_encoding(ns, keys[k], strlen(keys[k]), &e1));
			EOK(kv_encoding(ns2, keys[k], strlen(keys[k]), &e2));
			E(strcmp(e1, e2) == 0);
		}
		double s = 1;
		EOK(kv_zscore(ns2, K("large"), K("negzero"), &s));
		E(s == 0 && signbit(s)); /* the tree keeps -0 through the file */
		kv_elems_free(env, &a);
		kv_elems_free(env, &b);
		kv_ns_close(ns2);
		kv_del(ns, K("large"));
		kv_del(ns, K("tiny"));
	}

	kv_elems_free(env, &out);
	kv_ns_close(ns);
	kv_env_close(env);
	return t_done();
}
