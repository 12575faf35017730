/*
 * test_hash.c -- hashes against Redis semantics (kv.h "hashes"), the core's
 * kind plumbing on every string call (KV_EWRONGTYPE), the keyspace calls on a
 * collection (DEL, EXPIRE, RENAME, COPY, MOVE, SCAN TYPE, TYPE, OBJECT
 * ENCODING), exact memory accounting, events, and the compact -> hashtable
 * conversion.
 */
#include "test.h"

static int g_ev[64], g_last[8], g_nlast;
static void hook(void *ctx, const char *ns, const void *key, size_t klen, int event)
{
	(void)ctx, (void)ns, (void)key, (void)klen;
	if (event >= 0 && event < 64)
		__atomic_add_fetch(&g_ev[event], 1, __ATOMIC_RELAXED);
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

static int hget_is(kv_env *env, kv_ns *ns, const char *k, const char *f, const char *want)
{
	kv_buf b = KV_BUF_INIT;
	int rc = kv_hget(ns, k, strlen(k), f, strlen(f), &b);
	int ok = want ? rc == KV_OK && t_buf_is(&b, want, strlen(want)) : rc == KV_NOTFOUND;
	kv_buf_free(env, &b);
	return ok;
}

static int g_scan_hash, g_scan_str, g_scan_badval;
static int scan_cb(void *ctx, const void *key, size_t klen, const void *val, size_t vlen, int type,
                   int64_t exp)
{
	(void)ctx, (void)key, (void)klen, (void)exp;
	if (type == KV_T_HASH) {
		g_scan_hash++;
		if (val || vlen)
			g_scan_badval++;
	} else {
		g_scan_str++;
	}
	return 0;
}

int main(int argc, char **argv)
{
	t_init(argc, argv);
	kv_env *env = t_env(128 << 20);
	kv_ns *ns = t_ns(env, "h", NULL);
	kv_env_set_hook(env, hook, NULL);
	uint64_t base = ns_bytes(ns);

	TEST("HSET / HGET / HLEN / HEXISTS / HSTRLEN / HDEL") {
		uint64_t added = 9;
		kv_val fv[] = {V("f1"), V("v1"), V("f2"), V("v2"), V("f1"), V("v1b")};
		EOK(kv_hset(ns, K("h1"), fv, 3, 0, &added));
		E(added == 2);
		E(hget_is(env, ns, "h1", "f1", "v1b"));
		E(hget_is(env, ns, "h1", "f2", "v2"));
		E(hget_is(env, ns, "h1", "nope", NULL));
		E(hget_is(env, ns, "missing", "f1", NULL));
		uint64_t n;
		EOK(kv_card(ns, K("h1"), KV_T_HASH, &n));
		E(n == 2);
		EOK(kv_card(ns, K("missing"), KV_T_HASH, &n));
		E(n == 0);
		EOK(kv_hexists(ns, K("h1"), K("f1")));
		ERC(kv_hexists(ns, K("h1"), K("zz")), KV_NOTFOUND);
		size_t len;
		EOK(kv_hstrlen(ns, K("h1"), K("f1"), &len));
		E(len == 3);
		ERC(kv_hstrlen(ns, K("h1"), K("zz"), &len), KV_NOTFOUND);
		kv_val nx[] = {V("f1"), V("other")};
		ERC(kv_hset(ns, K("h1"), nx, 1, KV_HSET_NX, &added), KV_EXISTS);
		E(added == 0 && hget_is(env, ns, "h1", "f1", "v1b"));
		kv_val nx2[] = {V("f3"), V("v3")};
		EOK(kv_hset(ns, K("h1"), nx2, 1, KV_HSET_NX, &added));
		E(added == 1);
		ERC(kv_hset(ns, K("h1"), fv, 2, KV_HSET_NX, &added), KV_EINVAL);
		ERC(kv_hset(ns, K("h1"), fv, 0, 0, &added), KV_EINVAL);
		kv_val del[] = {V("f1"), V("zz"), V("f1")};
		uint64_t removed;
		g_nlast = 0;
		EOK(kv_hdel(ns, K("h1"), del, 3, &removed));
		E(removed == 1);
		E(g_nlast == 1 && g_last[0] == KV_EV_HDEL);
		kv_val rest[] = {V("f2"), V("f3")};
		g_nlast = 0;
		EOK(kv_hdel(ns, K("h1"), rest, 2, &removed));
		E(removed == 2);
		/* emptied: deleted, hdel then del */
		E(g_nlast == 2 && g_last[0] == KV_EV_HDEL && g_last[1] == KV_EV_DEL);
		ERC(kv_exists(ns, K("h1")), KV_NOTFOUND);
		EOK(kv_hdel(ns, K("h1"), rest, 2, &removed));
		E(removed == 0);
		E(ns_bytes(ns) == base);
	}

	TEST("HINCRBY / HINCRBYFLOAT") {
		int64_t r;
		EOK(kv_hincr(ns, K("h2"), K("n"), 5, &r));
		E(r == 5);
		EOK(kv_hincr(ns, K("h2"), K("n"), -7, &r));
		E(r == -2 && hget_is(env, ns, "h2", "n", "-2"));
		kv_val fv[] = {V("s"), V("abc"), V("big"), V("9223372036854775807")};
		EOK(kv_hset(ns, K("h2"), fv, 2, 0, NULL));
		ERC(kv_hincr(ns, K("h2"), K("s"), 1, &r), KV_ENOTINT);
		ERC(kv_hincr(ns, K("h2"), K("big"), 1, &r), KV_EOVERFLOW);
		double d;
		kv_buf t = KV_BUF_INIT;
		EOK(kv_hincr_float(ns, K("h2"), K("f"), K("10.5"), &d, &t));
		E(d == 10.5 && t_buf_is(&t, "10.5", 4));
		EOK(kv_hincr_float(ns, K("h2"), K("f"), K("0.1"), &d, &t));
		E(hget_is(env, ns, "h2", "f", "10.6"));
		ERC(kv_hincr_float(ns, K("h2"), K("s"), K("1"), &d, &t), KV_ENOTFLOAT);
		ERC(kv_hincr_float(ns, K("h2"), K("f"), K("x"), &d, &t), KV_ENOTFLOAT);
		kv_buf_free(env, &t);
		EOK(kv_del(ns, K("h2")));
		E(ns_bytes(ns) == base);
	}

	TEST("string calls on a hash: KV_EWRONGTYPE; kv_set replaces it") {
		kv_val fv[] = {V("a"), V("1")};
		EOK(kv_hset(ns, K("hw"), fv, 1, 0, NULL));
		kv_buf b = KV_BUF_INIT;
		ERC(kv_get(ns, K("hw"), &b), KV_EWRONGTYPE);
		ERC(kv_getrange(ns, K("hw"), 0, -1, &b), KV_EWRONGTYPE);
		size_t len;
		ERC(kv_strlen(ns, K("hw"), &len), KV_EWRONGTYPE);
		int64_t r;
		ERC(kv_incr(ns, K("hw"), 1, &r), KV_EWRONGTYPE);
		double d;
		ERC(kv_incr_float(ns, K("hw"), K("1"), &d, NULL), KV_EWRONGTYPE);
		ERC(kv_append(ns, K("hw"), K("x"), &len), KV_EWRONGTYPE);
		ERC(kv_setrange(ns, K("hw"), 0, K("x"), &len), KV_EWRONGTYPE);
		ERC(kv_consume(ns, K("hw"), &b), KV_EWRONGTYPE);
		int old;
		ERC(kv_setbit(ns, K("hw"), 3, 1, &old), KV_EWRONGTYPE);
		ERC(kv_set(ns, K("x"), K("1"), KV_T_HASH, KV_EXPIRE_NEVER, 0, NULL), KV_EINVAL);
		ERC(kv_set(ns, K("hw"), K("1"), KV_T_BYTES, KV_EXPIRE_NEVER, 0, &b), KV_EWRONGTYPE);
		kv_op ops[2] = {{.op = KV_OP_GET, .key = "hw", .klen = 2}, {.op = KV_OP_INCR, .key = "hw", .klen = 2, .by = 1}};
		kv_buf arena = KV_BUF_INIT;
		kv_batch(ns, ops, 2, KV_BATCH_BEST_EFFORT, &arena, NULL);
		E(ops[0].status == KV_EWRONGTYPE && ops[1].status == KV_EWRONGTYPE);
		kv_buf_free(env, &arena);
		int kind;
		EOK(kv_kind(ns, K("hw"), &kind));
		E(kind == KV_T_HASH && strcmp(kv_kind_name(kind), "hash") == 0);
		E(strcmp(kv_type_name(KV_T_HASH), "hash") == 0 && strcmp(kv_event_name(KV_EV_HSET), "hset") == 0);
		uint64_t n;
		EOK(kv_set(ns, K("s1"), K("1"), KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL));
		ERC(kv_card(ns, K("s1"), KV_T_HASH, &n), KV_EWRONGTYPE);
		ERC(kv_hset(ns, K("s1"), fv, 1, 0, NULL), KV_EWRONGTYPE);
		ERC(kv_hget(ns, K("s1"), K("a"), &b), KV_EWRONGTYPE);
		EOK(kv_kind(ns, K("s1"), &kind));
		E(kind == KV_T_BYTES);
		/* SET over a hash replaces it, memory comes back */
		EOK(kv_set(ns, K("hw"), K("str"), KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL));
		EOK(kv_get(ns, K("hw"), &b));
		E(t_buf_is(&b, "str", 3));
		EOK(kv_del(ns, K("hw")));
		EOK(kv_del(ns, K("s1")));
		E(ns_bytes(ns) == base);
		kv_buf_free(env, &b);
	}

	TEST("conversion past 128 fields or a 64-byte element; HGETALL, HSCAN") {
		const char *enc;
		char f[32], v[32];
		for (int i = 0; i < 128; i++) {
			snprintf(f, sizeof f, "f%d", i);
			snprintf(v, sizeof v, "v%d", i);
			kv_val fv[] = {V(f), V(v)};
			EOK(kv_hset(ns, K("big"), fv, 1, 0, NULL));
		}
		EOK(kv_encoding(ns, K("big"), &enc));
		E(strcmp(enc, "listpack") == 0);
		for (int i = 128; i < 5000; i++) {
			snprintf(f, sizeof f, "f%d", i);
			snprintf(v, sizeof v, "v%d", i);
			kv_val fv[] = {V(f), V(v)};
			EOK(kv_hset(ns, K("big"), fv, 1, 0, NULL));
		}
		EOK(kv_encoding(ns, K("big"), &enc));
		E(strcmp(enc, "hashtable") == 0);
		uint64_t n;
		EOK(kv_card(ns, K("big"), KV_T_HASH, &n));
		E(n == 5000);
		int ok = 1;
		for (int i = 0; i < 5000; i += 7) {
			snprintf(f, sizeof f, "f%d", i);
			snprintf(v, sizeof v, "v%d", i);
			ok &= hget_is(env, ns, "big", f, v);
		}
		E(ok);
		kv_elems all = KV_ELEMS_INIT;
		EOK(kv_hgetall(ns, K("big"), KV_HALL_FIELDS | KV_HALL_VALUES, &all));
		E(all.n == 10000);
		int pairs = 1;
		for (size_t i = 0; i < all.n; i += 2)
			pairs &= all.v[i].len >= 2 && all.v[i + 1].len == all.v[i].len &&
			         memcmp(all.bytes.data + all.v[i].off + 1, all.bytes.data + all.v[i + 1].off + 1, all.v[i].len - 1) == 0;
		E(pairs);
		/* HSCAN visits every field exactly once here (no concurrent change) */
		uint64_t cur = 0, seen = 0;
		int steps = 0;
		do {
			EOK(kv_cscan(ns, K("big"), KV_T_HASH, &cur, NULL, 0, 100, 1, &all));
			seen += all.n;
			steps++;
		} while (cur && steps < 100000);
		E(seen == 5000 && steps > 1);
		cur = 0;
		seen = 0;
		do {
			EOK(kv_cscan(ns, K("big"), KV_T_HASH, &cur, K("f1?"), 1000, 0, &all));
			seen += all.n;
		} while (cur);
		E(seen == 20); /* f10..f19, each with its value */
		/* a long value converts a small hash */
		char lv[100];
		memset(lv, 'x', sizeof lv);
		kv_val fv[] = {V("a"), {sizeof lv, lv}};
		EOK(kv_hset(ns, K("small"), fv, 1, 0, NULL));
		EOK(kv_encoding(ns, K("small"), &enc));
		E(strcmp(enc, "hashtable") == 0);
		kv_elems_free(env, &all);
		EOK(kv_del(ns, K("big")));
		EOK(kv_del(ns, K("small")));
		E(ns_bytes(ns) == base);
	}

	TEST("HMGET, HKEYS, HVALS, HRANDFIELD") {
		kv_val fv[] = {V("a"), V("1"), V("b"), V("2"), V("c"), V("3")};
		EOK(kv_hset(ns, K("hm"), fv, 3, 0, NULL));
		kv_elems e = KV_ELEMS_INIT;
		kv_val q[] = {V("a"), V("x"), V("c")};
		EOK(kv_hmget(ns, K("hm"), q, 3, &e));
		E(e.n == 3 && e.v[0].len == 1 && e.v[1].len == KV_ELEM_NIL && e.bytes.data[e.v[2].off] == '3');
		EOK(kv_hmget(ns, K("none"), q, 3, &e));
		E(e.n == 3 && e.v[0].len == KV_ELEM_NIL);
		EOK(kv_hgetall(ns, K("hm"), KV_HALL_FIELDS, &e));
		E(e.n == 3);
		EOK(kv_hgetall(ns, K("hm"), KV_HALL_VALUES, &e));
		E(e.n == 3);
		EOK(kv_hrandfield(ns, K("hm"), 0, 0, 0, &e));
		E(e.n == 1);
		EOK(kv_hrandfield(ns, K("hm"), 1, 2, 1, &e));
		E(e.n == 4 && memcmp(e.bytes.data + e.v[0].off, e.bytes.data + e.v[2].off, 1) != 0);
		EOK(kv_hrandfield(ns, K("hm"), 1, 10, 0, &e));
		E(e.n == 3);
		EOK(kv_hrandfield(ns, K("hm"), 1, -10, 0, &e));
		E(e.n == 10);
		EOK(kv_hrandfield(ns, K("none"), 1, 5, 0, &e));
		E(e.n == 0);
		EOK(kv_hrandfield(ns, K("hm"), 1, 0, 1, &e));
		E(e.n == 0);
		EOK(kv_hrandfield(ns, K("none"), 1, 0, 0, &e));
		/* redis-server: SET str x; HRANDFIELD str 0 -> WRONGTYPE (the kind before the count) */
		EOK(kv_set(ns, K("hstr"), K("x"), KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL));
		ERC(kv_hrandfield(ns, K("hstr"), 1, 0, 0, &e), KV_EWRONGTYPE);
		ERC(kv_hrandfield(ns, K("hstr"), 1, 0, 1, &e), KV_EWRONGTYPE);
		EOK(kv_del(ns, K("hstr")));
		kv_elems_free(env, &e);
		EOK(kv_del(ns, K("hm")));
	}

	TEST("keyspace calls: EXPIRE, TTL, RENAME, COPY, MOVE, SCAN TYPE") {
		kv_val fv[] = {V("a"), V("1"), V("b"), V("2")};
		EOK(kv_hset(ns, K("k1"), fv, 2, 0, NULL));
		EOK(kv_set(ns, K("str"), K("x"), KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL));
		EOK(kv_expire(ns, K("k1"), kv_now_ms() + 100000, 0));
		int64_t exp;
		EOK(kv_ttl(ns, K("k1"), &exp));
		E(exp > 0);
		EOK(kv_rename(ns, K("k1"), K("k2"), 0));
		E(hget_is(env, ns, "k2", "a", "1"));
		EOK(kv_copy(ns, K("k2"), NULL, K("k3"), 0));
		kv_val one[] = {V("a"), V("changed")};
		EOK(kv_hset(ns, K("k3"), one, 1, 0, NULL));
		E(hget_is(env, ns, "k2", "a", "1") && hget_is(env, ns, "k3", "a", "changed"));
		EOK(kv_ttl(ns, K("k3"), &exp));
		E(exp > 0);
		EOK(kv_persist(ns, K("k3")));
		EOK(kv_ttl(ns, K("k3"), &exp));
		E(exp == 0);
		EOK(kv_ns_create(env, "other", NULL));
		kv_ns *o;
		EOK(kv_ns_open(env, "other", &o));
		EOK(kv_move(ns, K("k3"), o));
		ERC(kv_exists(ns, K("k3")), KV_NOTFOUND);
		E(hget_is(env, o, "k3", "a", "changed"));
		EOK(kv_copy(ns, K("k2"), o, K("k9"), 0));
		E(hget_is(env, o, "k9", "b", "2"));
		/* SCAN TYPE hash / string: a collection comes with no value bytes */
		uint64_t cur = 0;
		kv_scan_opts so = {0};
		so.count = 1000;
		so.values = 1;
		so.kind = KV_T_HASH;
		g_scan_hash = g_scan_str = g_scan_badval = 0;
		do
			EOK(kv_scan(ns, &cur, &so, scan_cb, NULL));
		while (cur);
		E(g_scan_hash == 1 && g_scan_str == 0 && g_scan_badval == 0);
		so.kind = KV_SCAN_STRINGS;
		do
			EOK(kv_scan(ns, &cur, &so, scan_cb, NULL));
		while (cur);
		E(g_scan_hash == 1 && g_scan_str == 1);
		so.kind = 7;
		ERC(kv_scan(ns, &cur, &so, scan_cb, NULL), KV_EINVAL);
		kv_ns_close(o);
		EOK(kv_ns_drop(env, "other"));
		EOK(kv_del(ns, K("k2")));
		EOK(kv_del(ns, K("str")));
		E(ns_bytes(ns) == base);
	}

	TEST("snapshot round trip of hashes, small and big") {
		char f[32], v[32];
		for (int i = 0; i < 3000; i++) {
			snprintf(f, sizeof f, "f%d", i);
			snprintf(v, sizeof v, "v%d", i);
			kv_val fv[] = {V(f), V(v)};
			EOK(kv_hset(ns, K("sbig"), fv, 1, 0, NULL));
		}
		kv_val fv[] = {V("a"), V("1")};
		EOK(kv_hset(ns, K("ssmall"), fv, 1, 0, NULL));
		char path[] = "/tmp/test_hash_snapXXXXXX";
		int fd = mkstemp(path);
		close(fd);
		kv_error err;
		EOK(kv_save(env, "h", path, &err));
		EOK(kv_del(ns, K("sbig")));
		EOK(kv_del(ns, K("ssmall")));
		EOK(kv_load(env, path, "h", NULL, &err));
		unlink(path);
		uint64_t n;
		EOK(kv_card(ns, K("sbig"), KV_T_HASH, &n));
		E(n == 3000);
		E(hget_is(env, ns, "sbig", "f2999", "v2999") && hget_is(env, ns, "ssmall", "a", "1"));
		EOK(kv_del(ns, K("sbig")));
		EOK(kv_del(ns, K("ssmall")));
		E(ns_bytes(ns) == base);
	}

	TEST("collections survive a shard resize; expiry by the sweep frees them whole") {
		kv_ns_config rc2;
		kv_ns_config_init(&rc2);
		rc2.shards = 2;
		kv_ns *rs = t_ns(env, "rs", &rc2);
		char k[32], f[32];
		for (int i = 0; i < 40; i++) {
			snprintf(k, sizeof k, "key%d", i);
			for (int j = 0; j < (i % 4 ? 5 : 300); j++) {
				snprintf(f, sizeof f, "f%d", j);
				kv_val fv[] = {V(f), V(k)};
				EOK(kv_hset(rs, k, strlen(k), fv, 1, 0, NULL));
			}
		}
		kv_ns_stats a, b;
		EOK(kv_ns_stats_get(rs, &a));
		EOK(kv_ns_resize(rs, 8));
		EOK(kv_ns_stats_get(rs, &b));
		E(a.keys == b.keys);
		int ok = 1;
		for (int i = 0; i < 40; i++) {
			uint64_t n;
			snprintf(k, sizeof k, "key%d", i);
			ok &= kv_card(rs, k, strlen(k), KV_T_HASH, &n) == KV_OK && n == (i % 4 ? 5u : 300u);
			ok &= hget_is(env, rs, k, "f4", k);
		}
		E(ok);
		/* every key expires; the sweep (kv_tick) reclaims them with their bodies */
		for (int i = 0; i < 40; i++) {
			snprintf(k, sizeof k, "key%d", i);
			EOK(kv_expire(rs, k, strlen(k), kv_now_ms() + 20, 0));
		}
		usleep(60000);
		kv_tick_info ti;
		for (int r = 0; r < 200; r++)
			kv_tick(env, 1000, &ti);
		EOK(kv_ns_stats_get(rs, &b));
		E(b.keys == 0 && b.expired == 40);
		kv_ns_close(rs);
		EOK(kv_ns_drop(env, "rs"));
	}

	TEST("a version 1 snapshot (written before collections) still loads") {
		/* tests/unit/fixtures/snapshot-v1.kvs, see make_snapshot_v1.c there */
		char path[512];
		const char *src = __FILE__, *slash = strrchr(src, '/');
		snprintf(path, sizeof path, "%.*s/fixtures/snapshot-v1.kvs", slash ? (int)(slash - src) : 1,
		         slash ? src : ".");
		kv_error err;
		EOK(kv_load(env, path, "old", NULL, &err));
		kv_ns *old;
		EOK(kv_ns_open(env, "old", &old));
		kv_buf b = KV_BUF_INIT;
		EOK(kv_get(old, K("s"), &b));
		E(t_buf_is(&b, "hello", 5) && b.type == KV_T_TEXT);
		EOK(kv_get(old, K("n"), &b));
		E(t_buf_is(&b, "42", 2) && b.type == KV_T_INT);
		EOK(kv_get(old, K("ttl"), &b));
		E(b.expires_at == 4102444800000LL);
		/* tag 16 was a string's in version 1: it loads as bytes, not as a hash */
		EOK(kv_get(old, K("tag16"), &b));
		E(t_buf_is(&b, "was-a-string", 12) && b.type == KV_T_BYTES);
		EOK(kv_get(old, K("k99"), &b));
		E(t_buf_is(&b, "v99", 3));
		kv_ns_stats st;
		EOK(kv_ns_stats_get(old, &st));
		E(st.keys == 104);

		/* saving another namespace over a copy of that file keeps "old" in a
		 * file of the current version: its tag-16 string must stay a string */
		char copy[] = "/tmp/test_hash_v1XXXXXX";
		close(mkstemp(copy));
		size_t fsize;
		unsigned char *file = t_read_file(path, &fsize);
		E(file && t_write_file(copy, file, fsize) == 0);
		free(file);
		EOK(kv_ns_create(env, "next", NULL));
		EOK(kv_save(env, "next", copy, &err));
		EOK(kv_del(old, K("tag16")));
		EOK(kv_load(env, copy, "old", NULL, &err));
		unlink(copy);
		EOK(kv_get(old, K("tag16"), &b));
		E(t_buf_is(&b, "was-a-string", 12) && b.type == KV_T_BYTES);
		EOK(kv_get(old, K("s"), &b));
		E(t_buf_is(&b, "hello", 5) && b.type == KV_T_TEXT);
		EOK(kv_ns_stats_get(old, &st));
		E(st.keys == 104);
		EOK(kv_ns_drop(env, "next"));
		kv_buf_free(env, &b);
		kv_ns_close(old);
	}

	kv_ns_close(ns);
	kv_env_close(env);
	return t_done();
}
