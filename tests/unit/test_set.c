/*
 * test_set.c -- sets against Redis semantics (kv.h "sets"): SADD, SREM,
 * SISMEMBER, SMISMEMBER, SMEMBERS, SCARD, SPOP (one, a few, many, all),
 * SRANDMEMBER's count rules, SMOVE, SINTER/SUNION/SDIFF and their STORE
 * forms, SINTERCARD's limit, SSCAN, events, memory accounting and a snapshot
 * round trip.
 */
#include "test.h"

static int g_last[8], g_nlast;
static void hook(void *ctx, const char *ns, const void *key, size_t klen, int event)
{
	(void)ctx, (void)ns, (void)key, (void)klen;
	if (g_nlast < 8)
		g_last[g_nlast++] = event;
}

static kv_val V(const char *s)
{
	return (kv_val){strlen(s), s};
}

static uint64_t ns_bytes(kv_ns *ns)
{
	kv_ns_stats st;
	kv_ns_stats_get(ns, &st);
	return st.bytes;
}

static uint64_t card(kv_ns *ns, const char *k)
{
	uint64_t n = 999;
	kv_card(ns, k, strlen(k), KV_T_SET, &n);
	return n;
}

static int has(kv_ns *ns, const char *k, const char *m)
{
	return kv_sismember(ns, k, strlen(k), m, strlen(m)) == KV_OK;
}

/* Are the elements of e distinct members of k? */
static int distinct_members(kv_ns *ns, const char *k, const kv_elems *e)
{
	for (size_t i = 0; i < e->n; i++) {
		if (kv_sismember(ns, k, strlen(k), e->bytes.data + e->v[i].off, e->v[i].len) != KV_OK)
			return 0;
		for (size_t j = 0; j < i; j++)
			if (e->v[i].len == e->v[j].len &&
			    memcmp(e->bytes.data + e->v[i].off, e->bytes.data + e->v[j].off, e->v[i].len) == 0)
				return 0;
	}
	return 1;
}

static void fill(kv_ns *ns, const char *k, int from, int to)
{
	char m[32];
	for (int i = from; i < to; i++) {
		snprintf(m, sizeof m, "m%d", i);
		kv_val v = V(m);
		kv_sadd(ns, k, strlen(k), &v, 1, NULL);
	}
}

int main(int argc, char **argv)
{
	t_init(argc, argv);
	kv_env *env = t_env(128 << 20);
	kv_ns *ns = t_ns(env, "s", NULL);
	kv_env_set_hook(env, hook, NULL);
	uint64_t base = ns_bytes(ns);
	kv_elems e = KV_ELEMS_INIT;

	TEST("SADD, SREM, SISMEMBER, SMISMEMBER, SMEMBERS, SCARD, events") {
		kv_val m[] = {V("a"), V("b"), V("a"), V("")};
		uint64_t n;
		g_nlast = 0;
		EOK(kv_sadd(ns, K("s1"), m, 4, &n));
		E(n == 3 && card(ns, "s1") == 3 && g_nlast == 1 && g_last[0] == KV_EV_SADD);
		g_nlast = 0;
		EOK(kv_sadd(ns, K("s1"), m, 2, &n));
		E(n == 0 && g_nlast == 0); /* nothing new: no event, as Redis */
		E(has(ns, "s1", "a") && has(ns, "s1", "") && !has(ns, "s1", "c") && !has(ns, "nokey", "a"));
		uint8_t f[3];
		kv_val q[] = {V("a"), V("zz"), V("b")};
		EOK(kv_smismember(ns, K("s1"), q, 3, f));
		E(f[0] == 1 && f[1] == 0 && f[2] == 1);
		EOK(kv_smismember(ns, K("nokey"), q, 3, f));
		E(f[0] == 0 && f[2] == 0);
		EOK(kv_smembers(ns, K("s1"), &e));
		E(e.n == 3 && distinct_members(ns, "s1", &e));
		EOK(kv_smembers(ns, K("nokey"), &e));
		E(e.n == 0);
		kv_val r[] = {V("a"), V("x")};
		EOK(kv_srem(ns, K("s1"), r, 2, &n));
		E(n == 1 && card(ns, "s1") == 2);
		kv_val r2[] = {V("b"), V("")};
		g_nlast = 0;
		EOK(kv_srem(ns, K("s1"), r2, 2, &n));
		E(n == 2 && g_nlast == 2 && g_last[0] == KV_EV_SREM && g_last[1] == KV_EV_DEL);
		ERC(kv_exists(ns, K("s1")), KV_NOTFOUND);
		EOK(kv_set(ns, K("str"), K("x"), KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL));
		ERC(kv_sadd(ns, K("str"), m, 1, &n), KV_EWRONGTYPE);
		ERC(kv_sismember(ns, K("str"), K("a")), KV_EWRONGTYPE);
		ERC(kv_smembers(ns, K("str"), &e), KV_EWRONGTYPE);
		/* redis-server: SRANDMEMBER str 0, SPOP str 0 -> WRONGTYPE (the kind before the count) */
		ERC(kv_srandmember(ns, K("str"), 1, 0, &e), KV_EWRONGTYPE);
		ERC(kv_spop(ns, K("str"), 1, 0, &e), KV_EWRONGTYPE);
		EOK(kv_spop(ns, K("missing"), 1, 0, &e));
		EOK(kv_srandmember(ns, K("missing"), 1, 0, &e));
		E(e.n == 0);
		kv_val hv[] = {V("f"), V("v")};
		EOK(kv_hset(ns, K("hh"), hv, 1, 0, NULL));
		ERC(kv_sadd(ns, K("hh"), m, 1, &n), KV_EWRONGTYPE);
		ERC(kv_hset(ns, K("s0"), hv, 1, 0, NULL) == KV_OK ? kv_sadd(ns, K("s0"), m, 1, &n) : -1, KV_EWRONGTYPE);
		EOK(kv_del(ns, K("str")));
		EOK(kv_del(ns, K("hh")));
		EOK(kv_del(ns, K("s0")));
		E(ns_bytes(ns) == base);
	}

	TEST("SPOP: one, a few, many (rebuilt), all; SRANDMEMBER's counts") {
		fill(ns, "p", 0, 50);
		EOK(kv_spop(ns, K("p"), 0, 0, &e));
		E(e.n == 1 && card(ns, "p") == 49 && !has(ns, "p", e.bytes.data));
		g_nlast = 0;
		EOK(kv_spop(ns, K("p"), 1, 10, &e));
		E(e.n == 10 && card(ns, "p") == 39 && g_nlast == 1 && g_last[0] == KV_EV_SPOP);
		int gone = 1;
		for (size_t i = 0; i < e.n; i++)
			gone &= kv_sismember(ns, K("p"), e.bytes.data + e.v[i].off, e.v[i].len) == KV_NOTFOUND;
		E(gone);
		EOK(kv_srandmember(ns, K("p"), 1, 5, &e));
		E(e.n == 5 && distinct_members(ns, "p", &e));
		EOK(kv_srandmember(ns, K("p"), 1, 100, &e));
		E(e.n == 39 && distinct_members(ns, "p", &e));
		EOK(kv_srandmember(ns, K("p"), 1, -100, &e));
		E(e.n == 100);
		EOK(kv_srandmember(ns, K("p"), 0, 0, &e));
		E(e.n == 1 && card(ns, "p") == 39);
		g_nlast = 0;
		EOK(kv_spop(ns, K("p"), 1, 100, &e));
		E(e.n == 39 && g_nlast == 2 && g_last[1] == KV_EV_DEL);
		ERC(kv_exists(ns, K("p")), KV_NOTFOUND);
		EOK(kv_spop(ns, K("p"), 1, 3, &e));
		E(e.n == 0);
		fill(ns, "big", 0, 5000);
		EOK(kv_spop(ns, K("big"), 1, 3000, &e));
		E(e.n == 3000 && card(ns, "big") == 2000);
		gone = 1;
		for (size_t i = 0; i < e.n; i += 97)
			gone &= kv_sismember(ns, K("big"), e.bytes.data + e.v[i].off, e.v[i].len) == KV_NOTFOUND;
		E(gone);
		EOK(kv_smembers(ns, K("big"), &e));
		E(e.n == 2000 && distinct_members(ns, "big", &e));
		EOK(kv_del(ns, K("big")));
		E(ns_bytes(ns) == base);
	}

	TEST("SMOVE") {
		fill(ns, "a", 0, 3);
		kv_val x = V("x");
		EOK(kv_sadd(ns, K("b"), &x, 1, NULL));
		g_nlast = 0;
		EOK(kv_smove(ns, K("a"), K("b"), K("m1")));
		E(!has(ns, "a", "m1") && has(ns, "b", "m1") && g_nlast == 2 && g_last[0] == KV_EV_SREM &&
		  g_last[1] == KV_EV_SADD);
		ERC(kv_smove(ns, K("a"), K("b"), K("m1")), KV_NOTFOUND);
		EOK(kv_smove(ns, K("a"), K("a"), K("m0")));
		E(has(ns, "a", "m0") && card(ns, "a") == 2);
		EOK(kv_smove(ns, K("a"), K("new"), K("m0")));
		E(has(ns, "new", "m0") && card(ns, "a") == 1);
		g_nlast = 0;
		EOK(kv_smove(ns, K("a"), K("new"), K("m2")));
		E(card(ns, "a") == 0 && g_nlast == 3 && g_last[1] == KV_EV_DEL);
		EOK(kv_set(ns, K("str"), K("x"), KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL));
		/* redis-server 7.0: SMOVE looks src up first: missing is 0 whatever dst
		 * is; then src's kind, then dst's (even when member is not in src) */
		ERC(kv_smove(ns, K("new"), K("str"), K("m0")), KV_EWRONGTYPE);
		ERC(kv_smove(ns, K("new"), K("str"), K("zz")), KV_EWRONGTYPE);
		ERC(kv_smove(ns, K("str"), K("new"), K("m0")), KV_EWRONGTYPE);
		ERC(kv_smove(ns, K("missing"), K("str"), K("m0")), KV_NOTFOUND);
		ERC(kv_smove(ns, K("missing"), K("new"), K("m0")), KV_NOTFOUND);
		ERC(kv_smove(ns, K("new"), K("new"), K("zz")), KV_NOTFOUND);
		EOK(kv_smove(ns, K("new"), K("new"), K("m0")));
		E(has(ns, "new", "m0"));
		kv_del(ns, K("str"));
		kv_del(ns, K("b"));
		kv_del(ns, K("new"));
		E(ns_bytes(ns) == base);
	}

	TEST("SINTER, SUNION, SDIFF, STORE forms, SINTERCARD") {
		fill(ns, "x", 0, 300);   /* m0..m299 */
		fill(ns, "y", 200, 500); /* m200..m499 */
		fill(ns, "z", 250, 260);
		kv_val k2[] = {V("x"), V("y")}, k3[] = {V("x"), V("y"), V("z")}, km[] = {V("x"), V("nokey")};
		uint64_t c;
		EOK(kv_setop(ns, KV_SETOP_INTER, k2, 2, 0, NULL, 0, &e, &c));
		E(e.n == 100 && c == 100);
		EOK(kv_setop(ns, KV_SETOP_INTER, k3, 3, 0, NULL, 0, &e, &c));
		E(e.n == 10);
		EOK(kv_setop(ns, KV_SETOP_INTER, km, 2, 0, NULL, 0, &e, &c));
		E(e.n == 0 && c == 0);
		EOK(kv_setop(ns, KV_SETOP_INTER, k2, 2, 7, NULL, 0, NULL, &c));
		E(c == 7);
		EOK(kv_setop(ns, KV_SETOP_UNION, k2, 2, 0, NULL, 0, &e, &c));
		E(e.n == 500 && c == 500);
		EOK(kv_setop(ns, KV_SETOP_DIFF, k2, 2, 0, NULL, 0, &e, &c));
		E(e.n == 200);
		EOK(kv_setop(ns, KV_SETOP_DIFF, km, 2, 0, NULL, 0, &e, &c));
		E(e.n == 300);
		g_nlast = 0;
		EOK(kv_setop(ns, KV_SETOP_UNION, k2, 2, 0, K("u"), NULL, &c));
		E(c == 500 && card(ns, "u") == 500 && g_nlast == 1 && g_last[0] == KV_EV_SUNIONSTORE);
		/* the destination may be a source, and any kind */
		kv_val ku[] = {V("u"), V("z")};
		EOK(kv_setop(ns, KV_SETOP_INTER, ku, 2, 0, K("u"), NULL, &c));
		E(c == 10 && card(ns, "u") == 10);
		EOK(kv_set(ns, K("str"), K("x"), KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL));
		EOK(kv_setop(ns, KV_SETOP_DIFF, k2, 2, 0, K("str"), NULL, &c));
		E(c == 200 && card(ns, "str") == 200);
		g_nlast = 0;
		EOK(kv_setop(ns, KV_SETOP_INTER, km, 2, 0, K("u"), NULL, &c));
		E(c == 0 && kv_exists(ns, K("u")) == KV_NOTFOUND && g_nlast == 1 && g_last[0] == KV_EV_DEL);
		EOK(kv_set(ns, K("s2"), K("x"), KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL));
		kv_val kw[] = {V("x"), V("s2")};
		ERC(kv_setop(ns, KV_SETOP_UNION, kw, 2, 0, NULL, 0, &e, &c), KV_EWRONGTYPE);
		ERC(kv_setop(ns, KV_SETOP_UNION, kw, 0, 0, NULL, 0, &e, &c), KV_EINVAL);
		kv_del(ns, K("s2"));
		kv_del(ns, K("str"));
		kv_del(ns, K("x"));
		kv_del(ns, K("y"));
		kv_del(ns, K("z"));
		E(ns_bytes(ns) == base);
	}

	TEST("SSCAN: a small set whole, a big one in steps, every member once") {
		fill(ns, "sc", 0, 100);
		uint64_t cur = 0;
		EOK(kv_cscan(ns, K("sc"), KV_T_SET, &cur, NULL, 0, 10, 0, &e));
		E(cur == 0 && e.n == 100);
		fill(ns, "sc", 100, 3000);
		uint64_t seen = 0;
		int steps = 0;
		do {
			EOK(kv_cscan(ns, K("sc"), KV_T_SET, &cur, NULL, 0, 50, 0, &e));
			seen += e.n;
			steps++;
		} while (cur);
		E(seen == 3000 && steps > 10);
		ERC(kv_cscan(ns, K("sc"), KV_T_HASH, &cur, NULL, 0, 50, 0, &e), KV_EWRONGTYPE);
		kv_del(ns, K("sc"));
	}

	TEST("snapshot round trip of sets, and of sets mixed with hashes and strings") {
		fill(ns, "snapbig", 0, 2000);
		fill(ns, "snapsmall", 0, 5);
		kv_val hv[] = {V("f"), V("v")};
		EOK(kv_hset(ns, K("snaph"), hv, 1, 0, NULL));
		EOK(kv_set(ns, K("snaps"), K("str"), KV_T_TEXT, KV_EXPIRE_NEVER, 0, NULL));
		EOK(kv_expire(ns, K("snapsmall"), kv_now_ms() + 1000000, 0));
		char path[] = "/tmp/test_set_snapXXXXXX";
		int fd = mkstemp(path);
		close(fd);
		kv_error err;
		EOK(kv_save(env, "s", path, &err));
		EOK(kv_ns_flush(ns));
		E(ns_bytes(ns) == base);
		EOK(kv_load(env, path, "s", NULL, &err));
		unlink(path);
		E(card(ns, "snapbig") == 2000 && card(ns, "snapsmall") == 5 && has(ns, "snapbig", "m1999"));
		int64_t exp;
		EOK(kv_ttl(ns, K("snapsmall"), &exp));
		E(exp > 0);
		int kind;
		EOK(kv_kind(ns, K("snaph"), &kind));
		E(kind == KV_T_HASH);
		EOK(kv_kind(ns, K("snaps"), &kind));
		E(kind == KV_T_BYTES);
		EOK(kv_ns_flush(ns));
		E(ns_bytes(ns) == base);
	}

	kv_elems_free(env, &e);
	kv_ns_close(ns);
	kv_env_close(env);
	return t_done();
}
