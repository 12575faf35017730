/*
 * test_batch.c -- kv_batch (issue 3): in-order semantics, all-or-nothing
 * failures that change nothing and name the item, best-effort statuses, and
 * atomicity under concurrency: writers apply all-or-nothing batches that keep
 * two invariants (a constant sum over accounts; a constant number of tokens
 * moved by consume+set-NX) while readers doing all-or-nothing GET/EXISTS batches
 * must always see them hold, also while the shard count is raised.  Overlapping
 * batches in random key order must never deadlock (TEST_TIMEOUT catches that).
 * Snapshots taken during such batches are checked in test_snapshot.c.
 */
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "test.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

#define HOUR_MS 3600000LL

static kv_env *g_env;
static void batch_concurrency(void);
static void batch_resize_stress(void);
static void batch_read_resize(void);
static void batch_processes(void);
static void batch_churn(void);
static void batch_eviction(void);

static kv_op o_get(const char *k)
{
	kv_op o;
	memset(&o, 0, sizeof o);
	o.op = KV_OP_GET;
	o.key = k;
	o.klen = strlen(k);
	o.status = 12345;
	return o;
}
static kv_op o_key(int op, const char *k)
{
	kv_op o = o_get(k);
	o.op = op;
	return o;
}
static kv_op o_set(const char *k, const char *v, int type, int64_t exp, unsigned flags)
{
	kv_op o = o_get(k);
	o.op = KV_OP_SET;
	o.val = v;
	o.vlen = strlen(v);
	o.type = type;
	o.expires_at = exp;
	o.flags = flags;
	return o;
}

static int out_is(const kv_buf *arena, const kv_op *o, const char *v)
{
	size_t n = strlen(v);
	return o->status == KV_OK && o->out_len == n && arena->data != NULL &&
	       o->out_off + n <= arena->len && memcmp(arena->data + o->out_off, v, n) == 0;
}

static int val_is(kv_env *env, kv_ns *ns, const char *k, const char *v)
{
	kv_buf b = KV_BUF_INIT;
	int ok = kv_get(ns, k, strlen(k), &b) == KV_OK && t_buf_is(&b, v, strlen(v));
	kv_buf_free(env, &b);
	return ok;
}

static int absent(kv_ns *ns, const char *k)
{
	return kv_exists(ns, k, strlen(k)) == KV_NOTFOUND;
}

static void set_s(kv_ns *ns, const char *k, const char *v)
{
	EOK(kv_set(ns, k, strlen(k), v, strlen(v), KV_T_TEXT, KV_EXPIRE_NEVER, 0, NULL));
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Two keys "tc:N" whose hashes agree in the 31 bits a slot keeps (bits 1..31
 * of kv_hash, which is XXH3_64bits: kv_internal.h), so in a 1-shard namespace
 * they share a home slot and a tag: the second one's reader meets the first
 * one's entry and must probe on.  A birthday search over 2^18 keys finds a
 * pair almost surely; 0 if not. */
static int tag_twins(char a[16], char b[16])
{
	enum { N = 1 << 18 };
	uint64_t *v = malloc(N * sizeof *v);
	if (!v)
		return 0;
	char k[16];
	for (uint32_t i = 0; i < N; i++) {
		int l = snprintf(k, sizeof k, "tc:%u", i);
		v[i] = ((XXH3_64bits(k, (size_t)l) & 0xfffffffeu) << 32) | i;
	}
	qsort(v, N, sizeof *v, cmp_u64);
	int found = 0;
	for (uint32_t i = 1; i < N && !found; i++)
		if ((v[i] >> 32) == (v[i - 1] >> 32)) {
			snprintf(a, 16, "tc:%u", (uint32_t)v[i - 1]);
			snprintf(b, 16, "tc:%u", (uint32_t)v[i]);
			found = 1;
		}
	free(v);
	return found;
}

static void print_statuses(const kv_op *ops, size_t n)
{
	fprintf(stderr, "    statuses:");
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, " %s", t_code_name(ops[i].status));
	fputc('\n', stderr);
}

/* An all-or-nothing batch that must fail at item `bad` with `code`. */
static void expect_aon_failure(kv_ns *ns, kv_op *ops, size_t n, size_t bad, int code)
{
	kv_error err;
	kv_buf arena = KV_BUF_INIT;
	memset(&err, 0, sizeof err);
	int rc = kv_batch(ns, ops, n, KV_BATCH_ALL_OR_NOTHING, &arena, &err);
	E(R(rc) == code);
	E(err.code == code);
	if (!E(err.item == bad))
		fprintf(stderr, "    err.item %zu, want %zu\n", err.item, bad);
	E(err.msg[0] != '\0');
	int others = 1;
	for (size_t i = 0; i < n; i++)
		if (i != bad && ops[i].status != KV_EABORTED)
			others = 0;
	if (!E(ops[bad].status == code && others))
		print_statuses(ops, n);
	kv_buf_free(g_env, &arena);
}

int main(int argc, char **argv)
{
	t_init(argc, argv);
	kv_env *env = t_env(256 << 20);
	if (!env)
		return t_done();
	g_env = env;
	kv_ns_config c;
	kv_ns_config_init(&c);
	c.max_value_size = 100;
	kv_ns *ns = t_ns(env, "b", &c);
	if (!ns)
		return t_done();
	kv_buf arena = KV_BUF_INIT;
	kv_error err;
	int64_t far = kv_now_ms() + HOUR_MS;

	TEST("items apply in order and report values, types and expiries")
	{
		kv_op ops[] = {
		    o_set("a", "1", KV_T_TEXT, KV_EXPIRE_NEVER, 0),
		    o_get("a"),
		    o_set("b", "two", KV_T_JSON, far, 0),
		    o_get("b"),
		    o_key(KV_OP_EXISTS, "a"),
		    o_key(KV_OP_EXISTS, "c"),
		    o_key(KV_OP_DEL, "a"),
		    o_get("a"),
		    o_key(KV_OP_CONSUME, "b"),
		    o_get("b"),
		    o_set("c", "three", KV_T_BYTES, KV_EXPIRE_NEVER, KV_SET_NX),
		    o_set("c", "four", KV_T_INT, KV_EXPIRE_KEEP, KV_SET_XX),
		    o_get("c"),
		};
		size_t n = sizeof ops / sizeof ops[0];
		memset(&err, 0, sizeof err);
		EOK(kv_batch(ns, ops, n, KV_BATCH_ALL_OR_NOTHING, &arena, &err));
		E(ops[0].status == KV_OK);
		E(out_is(&arena, &ops[1], "1") && ops[1].out_type == KV_T_TEXT &&
		  ops[1].out_expires_at == 0);
		E(ops[2].status == KV_OK);
		E(out_is(&arena, &ops[3], "two") && ops[3].out_type == KV_T_JSON &&
		  ops[3].out_expires_at == far);
		E(ops[4].status == KV_OK && ops[5].status == KV_NOTFOUND);
		E(ops[6].status == KV_OK && ops[7].status == KV_NOTFOUND);
		E(out_is(&arena, &ops[8], "two") && ops[8].out_type == KV_T_JSON);
		E(ops[9].status == KV_NOTFOUND);
		E(ops[10].status == KV_OK && ops[11].status == KV_OK);
		E(out_is(&arena, &ops[12], "four") && ops[12].out_type == KV_T_INT);
		E(absent(ns, "a") && absent(ns, "b") && val_is(env, ns, "c", "four"));
	}

	TEST("empty values read by GET and CONSUME, in read-only and in writing batches")
	{
		EOK(kv_set(ns, K("emp1"), "", 0, KV_T_NULL, KV_EXPIRE_NEVER, 0, NULL));
		EOK(kv_set(ns, K("emp2"), "", 0, KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL));
		for (int mode = 0; mode < 2; mode++) {
			kv_buf fresh = KV_BUF_INIT;
			kv_op ro[] = {o_get("emp1")};
			EOK(kv_batch(ns, ro, 1, mode, &fresh, &err));
			E(ro[0].status == KV_OK && ro[0].out_len == 0 && ro[0].out_type == KV_T_NULL);
			kv_buf_free(env, &fresh);
			kv_op rw[] = {o_set("emp-other", "v", KV_T_TEXT, KV_EXPIRE_NEVER, 0), o_get("emp1"),
			              o_key(KV_OP_CONSUME, "emp2")};
			if (!EOK(kv_batch(ns, rw, 3, mode, &fresh, &err)))
				fprintf(stderr, "    mode %d: %s\n", mode, err.msg);
			E(rw[1].status == KV_OK && rw[1].out_len == 0 && rw[1].out_type == KV_T_NULL);
			E(rw[2].status == KV_OK && rw[2].out_len == 0 && rw[2].out_type == KV_T_BYTES);
			E(absent(ns, "emp2"));
			EOK(kv_set(ns, K("emp2"), "", 0, KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL));
			kv_buf_free(env, &fresh);
		}
	}

	TEST("best-effort mode gives each item its own status")
	{
		set_s(ns, "be1", "x");
		char big[200];
		memset(big, 'v', sizeof big - 1);
		big[sizeof big - 1] = 0;
		kv_op ops[] = {
		    o_set("be2", "new", KV_T_TEXT, KV_EXPIRE_NEVER, 0),
		    o_key(KV_OP_CONSUME, "nothere"),
		    o_set("be1", "refused", KV_T_TEXT, KV_EXPIRE_NEVER, KV_SET_NX),
		    o_set("be3", big, KV_T_TEXT, KV_EXPIRE_NEVER, 0),
		    o_get("be2"),
		    o_key(KV_OP_DEL, "nothere"),
		    o_set("", "emptykey", KV_T_TEXT, KV_EXPIRE_NEVER, 0),
		    o_set("be4", "xx", KV_T_TEXT, KV_EXPIRE_NEVER, KV_SET_XX),
		    o_key(KV_OP_CONSUME, "be1"),
		};
		size_t n = sizeof ops / sizeof ops[0];
		EOK(kv_batch(ns, ops, n, KV_BATCH_BEST_EFFORT, &arena, &err));
		int want[] = {KV_OK, KV_NOTFOUND, KV_EXISTS, KV_EVALSIZE, KV_OK, KV_NOTFOUND, KV_OK,
		              KV_NOTFOUND, KV_OK};
		int ok = 1;
		for (size_t i = 0; i < n; i++)
			ok &= ops[i].status == want[i];
		if (!E(ok))
			print_statuses(ops, n);
		E(out_is(&arena, &ops[4], "new"));
		E(out_is(&arena, &ops[8], "x"));
		E(val_is(env, ns, "be2", "new") && absent(ns, "be3") && absent(ns, "be4") &&
		  absent(ns, "be1"));
	}

	TEST("the empty key is a key in both modes, also passed as NULL")
	{
		kv_op w[] = {
		    o_set("", "empty", KV_T_TEXT, KV_EXPIRE_NEVER, 0),
		    o_get(""),
		};
		EOK(kv_batch(ns, w, 2, KV_BATCH_ALL_OR_NOTHING, &arena, &err));
		E(w[0].status == KV_OK && out_is(&arena, &w[1], "empty"));
		kv_op r[] = {o_get(""), o_key(KV_OP_EXISTS, "")};
		r[0].key = NULL; /* NULL with length 0 is the empty key too */
		EOK(kv_batch(ns, r, 2, KV_BATCH_ALL_OR_NOTHING, &arena, &err)); /* the lock-free read path */
		E(out_is(&arena, &r[0], "empty") && r[1].status == KV_OK);
		kv_op cs[] = {o_key(KV_OP_CONSUME, ""), o_key(KV_OP_EXISTS, "")};
		EOK(kv_batch(ns, cs, 2, KV_BATCH_BEST_EFFORT, &arena, &err));
		E(out_is(&arena, &cs[0], "empty") && cs[1].status == KV_NOTFOUND);
		kv_op bad = o_get("x");
		bad.key = NULL; /* but NULL with a length is an argument error */
		ERC(kv_batch(ns, &bad, 1, KV_BATCH_BEST_EFFORT, &arena, &err), KV_EINVAL);
		ERC(kv_exists(ns, "", 0), KV_NOTFOUND);
	}

	TEST("all-or-nothing: a consume of a missing key fails the batch and changes nothing")
	{
		set_s(ns, "x", "old-x");
		set_s(ns, "y", "old-y");
		kv_op ops[] = {
		    o_set("x", "new-x", KV_T_TEXT, KV_EXPIRE_NEVER, 0),
		    o_key(KV_OP_DEL, "y"),
		    o_key(KV_OP_CONSUME, "z-missing"),
		    o_set("w", "new-w", KV_T_TEXT, KV_EXPIRE_NEVER, 0),
		};
		expect_aon_failure(ns, ops, 4, 2, KV_NOTFOUND);
		E(val_is(env, ns, "x", "old-x") && val_is(env, ns, "y", "old-y") && absent(ns, "w"));
	}

	TEST("all-or-nothing: a consume after a delete of the same key fails, the delete is undone")
	{
		kv_op ops[] = {
		    o_key(KV_OP_DEL, "x"),
		    o_key(KV_OP_CONSUME, "x"),
		};
		expect_aon_failure(ns, ops, 2, 1, KV_NOTFOUND);
		E(val_is(env, ns, "x", "old-x"));
	}

	TEST("all-or-nothing: NX and XX refusals fail the batch")
	{
		kv_op ops[] = {
		    o_set("x", "new-x", KV_T_TEXT, KV_EXPIRE_NEVER, 0),
		    o_set("fresh", "f", KV_T_TEXT, KV_EXPIRE_NEVER, 0),
		    o_set("y", "nx", KV_T_TEXT, KV_EXPIRE_NEVER, KV_SET_NX),
		};
		expect_aon_failure(ns, ops, 3, 2, KV_EXISTS);
		E(val_is(env, ns, "x", "old-x") && val_is(env, ns, "y", "old-y") && absent(ns, "fresh"));
		kv_op ops2[] = {
		    o_key(KV_OP_CONSUME, "y"),
		    o_set("nosuch", "xx", KV_T_TEXT, KV_EXPIRE_NEVER, KV_SET_XX),
		};
		expect_aon_failure(ns, ops2, 2, 1, KV_NOTFOUND);
		E(val_is(env, ns, "y", "old-y") && absent(ns, "nosuch"));
		/* NX against a key set earlier in the same batch */
		kv_op ops3[] = {
		    o_set("nx2", "1", KV_T_TEXT, KV_EXPIRE_NEVER, 0),
		    o_set("nx2", "2", KV_T_TEXT, KV_EXPIRE_NEVER, KV_SET_NX),
		};
		expect_aon_failure(ns, ops3, 2, 1, KV_EXISTS);
		E(absent(ns, "nx2"));
	}

	TEST("all-or-nothing: size, key and type errors fail the batch")
	{
		char big[200];
		memset(big, 'v', sizeof big - 1);
		big[sizeof big - 1] = 0;
		kv_op ops[] = {
		    o_set("x", "new-x", KV_T_TEXT, KV_EXPIRE_NEVER, 0),
		    o_set("big", big, KV_T_TEXT, KV_EXPIRE_NEVER, 0),
		};
		expect_aon_failure(ns, ops, 2, 1, KV_EVALSIZE);
		char *longkey = malloc(KV_KEY_SIZE_LIMIT + 1);
		if (E(longkey != NULL)) {
			memset(longkey, 'k', KV_KEY_SIZE_LIMIT);
			longkey[KV_KEY_SIZE_LIMIT] = 0;
			kv_op ops2[] = {
			    o_key(KV_OP_DEL, "x"),
			    o_set(longkey, "v", KV_T_TEXT, KV_EXPIRE_NEVER, 0),
			};
			ops2[1].klen = KV_KEY_SIZE_LIMIT + 1; /* one past the limit (the NUL) */
			expect_aon_failure(ns, ops2, 2, 1, KV_EKEYSIZE);
			free(longkey);
		}
		kv_op ops3[] = {
		    o_key(KV_OP_DEL, "x"),
		    o_set("t", "v", 999, KV_EXPIRE_NEVER, 0),
		};
		expect_aon_failure(ns, ops3, 2, 1, KV_EINVAL);
		E(val_is(env, ns, "x", "old-x") && absent(ns, "big") && absent(ns, "t"));
	}

	TEST("all-or-nothing: a batch that would pass max_keys applies nothing")
	{
		kv_ns_config lc;
		kv_ns_config_init(&lc);
		lc.max_keys = 10;
		kv_ns *l = t_ns(env, "lim", &lc);
		if (l) {
			char k[32];
			for (int i = 0; i < 8; i++) {
				snprintf(k, sizeof k, "k%d", i);
				set_s(l, k, "v");
			}
			kv_op ops[] = {
			    o_set("k0", "changed", KV_T_TEXT, KV_EXPIRE_NEVER, 0),
			    o_set("n1", "v", KV_T_TEXT, KV_EXPIRE_NEVER, 0),
			    o_set("n2", "v", KV_T_TEXT, KV_EXPIRE_NEVER, 0),
			    o_set("n3", "v", KV_T_TEXT, KV_EXPIRE_NEVER, 0),
			};
			memset(&err, 0, sizeof err);
			int rc = kv_batch(l, ops, 4, KV_BATCH_ALL_OR_NOTHING, &arena, &err);
			E(R(rc) == KV_EMAXKEYS);
			E(err.item < 4 && ops[err.item < 4 ? err.item : 0].status == KV_EMAXKEYS);
			E(val_is(env, l, "k0", "v") && absent(l, "n1") && absent(l, "n2") && absent(l, "n3"));
			kv_ns_stats st;
			EOK(kv_ns_stats_get(l, &st));
			E(st.keys == 8);
			/* deleting in the same batch makes room */
			kv_op ops2[] = {
			    o_key(KV_OP_DEL, "k1"),
			    o_set("n1", "v", KV_T_TEXT, KV_EXPIRE_NEVER, 0),
			    o_set("n2", "v", KV_T_TEXT, KV_EXPIRE_NEVER, 0),
			    o_set("n3", "v", KV_T_TEXT, KV_EXPIRE_NEVER, 0),
			};
			EOK(kv_batch(l, ops2, 4, KV_BATCH_ALL_OR_NOTHING, &arena, &err));
			EOK(kv_ns_stats_get(l, &st));
			E(st.keys == 10);
			kv_ns_close(l);
		}
	}

	TEST("not-found of GET, DEL and EXISTS is an outcome, not a failure")
	{
		kv_op ops[] = {
		    o_get("nope1"),
		    o_key(KV_OP_DEL, "nope2"),
		    o_key(KV_OP_EXISTS, "nope3"),
		    o_set("made", "yes", KV_T_TEXT, KV_EXPIRE_NEVER, 0),
		};
		EOK(kv_batch(ns, ops, 4, KV_BATCH_ALL_OR_NOTHING, &arena, &err));
		E(ops[0].status == KV_NOTFOUND && ops[1].status == KV_NOTFOUND &&
		  ops[2].status == KV_NOTFOUND && ops[3].status == KV_OK);
		E(val_is(env, ns, "made", "yes"));
	}

	TEST("invalid arguments: bad op, bad mode, dropped namespace, empty batch")
	{
		kv_op ops[] = {o_get("made"), o_key(99, "made")};
		ERC(kv_batch(ns, ops, 2, KV_BATCH_ALL_OR_NOTHING, &arena, &err), KV_EINVAL);
		ERC(kv_batch(ns, ops, 2, KV_BATCH_BEST_EFFORT, &arena, &err), KV_EINVAL);
		kv_op ops2[] = {o_get("made")};
		ERC(kv_batch(ns, ops2, 1, 7, &arena, &err), KV_EINVAL);
		EOK(kv_batch(ns, ops2, 0, KV_BATCH_ALL_OR_NOTHING, &arena, &err));
		kv_op ops3[] = {o_set("noarena", "v", KV_T_TEXT, KV_EXPIRE_NEVER, 0)};
		EOK(kv_batch(ns, ops3, 1, KV_BATCH_ALL_OR_NOTHING, NULL, &err));
		E(val_is(env, ns, "noarena", "v"));
		kv_ns *d = t_ns(env, "gone", NULL);
		if (d) {
			EOK(kv_ns_drop(env, "gone"));
			ERC(kv_batch(d, ops2, 1, KV_BATCH_ALL_OR_NOTHING, &arena, &err), KV_ENONS);
			ERC(kv_batch(d, ops2, 1, KV_BATCH_BEST_EFFORT, &arena, &err), KV_ENONS);
			kv_ns_close(d);
		}
	}

	TEST("expired keys are invisible to batches")
	{
		int64_t soon = kv_now_ms() + 200;
		EOK(kv_set(ns, K("exp"), K("v"), KV_T_TEXT, soon, 0, NULL));
		t_sleep_until(soon);
		kv_op ops[] = {o_get("exp"), o_key(KV_OP_EXISTS, "exp"),
		               o_set("exp", "nx-ok", KV_T_TEXT, KV_EXPIRE_NEVER, KV_SET_NX)};
		EOK(kv_batch(ns, ops, 3, KV_BATCH_ALL_OR_NOTHING, &arena, &err));
		E(ops[0].status == KV_NOTFOUND && ops[1].status == KV_NOTFOUND && ops[2].status == KV_OK);
		EOK(kv_set(ns, K("exp2"), K("v"), KV_T_TEXT, kv_now_ms() + 200, 0, NULL));
		t_sleep_ms(300);
		kv_op ops2[] = {o_key(KV_OP_CONSUME, "exp2")};
		expect_aon_failure(ns, ops2, 1, 0, KV_NOTFOUND);
	}

	TEST("a large batch across every shard, and a binary-key batch")
	{
		enum { N = 3000 };
		static kv_op ops[N];
		static char keys[N][16], vals[N][16];
		for (int i = 0; i < N; i++) {
			snprintf(keys[i], 16, "big:%d", i);
			snprintf(vals[i], 16, "v%d", i * 7);
			ops[i] = o_set(keys[i], vals[i], KV_T_TEXT, KV_EXPIRE_NEVER, 0);
		}
		EOK(kv_batch(ns, ops, N, KV_BATCH_ALL_OR_NOTHING, &arena, &err));
		for (int i = 0; i < N; i++)
			ops[i] = o_get(keys[i]);
		EOK(kv_batch(ns, ops, N, KV_BATCH_ALL_OR_NOTHING, &arena, &err));
		int bad = 0;
		for (int i = 0; i < N; i++)
			bad += !out_is(&arena, &ops[i], vals[i]);
		E(bad == 0);
		kv_op b2[2];
		memset(b2, 0, sizeof b2);
		b2[0].op = KV_OP_SET;
		b2[0].key = "k\0x";
		b2[0].klen = 3;
		b2[0].val = "v\0w";
		b2[0].vlen = 3;
		b2[0].type = KV_T_BYTES;
		b2[0].expires_at = KV_EXPIRE_NEVER;
		b2[1].op = KV_OP_GET;
		b2[1].key = "k\0x";
		b2[1].klen = 3;
		EOK(kv_batch(ns, b2, 2, KV_BATCH_ALL_OR_NOTHING, &arena, &err));
		E(b2[1].status == KV_OK && b2[1].out_len == 3 &&
		  memcmp(arena.data + b2[1].out_off, "v\0w", 3) == 0);
		ERC(kv_exists(ns, K("k")), KV_NOTFOUND);
	}

	TEST("read-only batches: duplicate keys each get the value, in both modes")
	{
		set_s(ns, "dup", "dv");
		for (int mode = 0; mode < 2; mode++) {
			kv_op ops[] = {o_get("dup"), o_get("dup"), o_get("dup-missing"), o_key(KV_OP_EXISTS, "dup"),
			               o_get("dup")};
			EOK(kv_batch(ns, ops, 5, mode, &arena, &err));
			E(out_is(&arena, &ops[0], "dv") && out_is(&arena, &ops[1], "dv") &&
			  out_is(&arena, &ops[4], "dv"));
			E(ops[0].out_off != ops[1].out_off && ops[1].out_off != ops[4].out_off);
			E(ops[2].status == KV_NOTFOUND && ops[2].out_len == 0 && ops[3].status == KV_OK);
			E(arena.len == 6 && arena.data[arena.len] == 0);
		}
	}

	TEST("read-only batches: one clock reading per batch, so a key expiring meanwhile is seen alike")
	{
		/* a key expiring while batches of it run back to back: its two copies in
		 * one batch always agree (hit both with the same expiry, or miss both),
		 * and once missed it stays missed */
		int64_t exp = kv_now_ms() + 150;
		EOK(kv_set(ns, K("mid"), K("soon"), KV_T_TEXT, exp, 0, NULL));
		set_s(ns, "mid-other", "o");
		int split = 0, back = 0, hits = 0, misses = 0, gone = 0;
		while (kv_now_ms() < exp + 50) {
			for (int mode = 0; mode < 2; mode++) {
				kv_op ops[] = {o_get("mid"), o_get("mid-other"), o_key(KV_OP_EXISTS, "mid"), o_get("mid")};
				if (kv_batch(ns, ops, 4, mode, &arena, &err) != KV_OK || ops[1].status != KV_OK) {
					split++;
					continue;
				}
				int st = ops[0].status;
				if (st != ops[2].status || st != ops[3].status)
					split++;
				if (st == KV_OK) {
					hits++;
					back += gone;
					if (!out_is(&arena, &ops[0], "soon") || ops[0].out_expires_at != exp ||
					    !out_is(&arena, &ops[3], "soon"))
						split++;
				} else {
					misses++;
					gone = 1;
				}
			}
		}
		E(split == 0 && back == 0);
		E(hits > 0 && misses > 0);
	}

	TEST("read-only batches count hits and misses into the namespace, as kv_get does")
	{
		set_s(ns, "st1", "a");
		set_s(ns, "st2", "b");
		for (int mode = 0; mode < 2; mode++) {
			kv_ns_stats a0, a1;
			EOK(kv_ns_stats_get(ns, &a0));
			kv_op ops[] = {o_get("st1"), o_get("st-none1"), o_key(KV_OP_EXISTS, "st2"), o_get("st2"),
			               o_key(KV_OP_EXISTS, "st-none2")};
			EOK(kv_batch(ns, ops, 5, mode, &arena, &err));
			EOK(kv_ns_stats_get(ns, &a1));
			E(a1.hits - a0.hits == 3 && a1.misses - a0.misses == 2);
		}
	}

	/* A read batch of at least as many keys as its namespace has shards takes
	 * a pass of its own (batch.c read_fused) that must hand every other batch
	 * starting with a GET or EXISTS to the general path unchanged: over one
	 * and two shards, every batch here qualifies by size. */
	TEST("one-pass read batches (no more shards than keys): values, misses, kinds, and what they hand on")
	{
		for (uint32_t shards = 1; shards <= 2; shards++) {
			kv_ns_config oc;
			kv_ns_config_init(&oc);
			oc.shards = shards;
			char name[16];
			snprintf(name, sizeof name, "onepass%u", shards);
			kv_ns *o = t_ns(env, name, &oc);
			if (!o)
				break;
			set_s(o, "", "vempty");
			set_s(o, "word-key-12", "vw");
			kv_val m = {1, "m"};
			EOK(kv_sadd(o, K("coll"), &m, 1, NULL));
			for (int mode = 0; mode < 2; mode++) {
				set_s(o, "a", "va");
				/* reads only, from an empty arena (it grows, the batch is read again) */
				kv_buf fresh = KV_BUF_INIT;
				kv_op r[] = {o_get("a"), o_key(KV_OP_EXISTS, "a"), o_get("none"), o_get(""),
				             o_get("word-key-12"), o_get("coll"), o_key(KV_OP_EXISTS, "coll")};
				r[3].key = NULL; /* the empty key */
				kv_ns_stats s0, s1;
				EOK(kv_ns_stats_get(o, &s0));
				EOK(kv_batch(o, r, 7, mode, &fresh, &err));
				EOK(kv_ns_stats_get(o, &s1));
				E(out_is(&fresh, &r[0], "va") && r[1].status == KV_OK && r[2].status == KV_NOTFOUND &&
				  out_is(&fresh, &r[3], "vempty") && out_is(&fresh, &r[4], "vw") &&
				  r[5].status == KV_EWRONGTYPE && r[6].status == KV_OK);
				E(s1.hits - s0.hits == 5 && s1.misses - s0.misses == 1);
				kv_buf_free(env, &fresh);
				/* a write after the first GET: applied in order by the general path */
				kv_op w[] = {o_get("a"), o_set("a", "vb", KV_T_TEXT, KV_EXPIRE_NEVER, 0), o_get("a")};
				EOK(kv_batch(o, w, 3, mode, &arena, &err));
				E(out_is(&arena, &w[0], "va") && w[1].status == KV_OK && out_is(&arena, &w[2], "vb"));
				/* an unknown op or a NULL key with a length after the first GET */
				kv_op bad[] = {o_get("a"), o_key(99, "a")};
				ERC(kv_batch(o, bad, 2, mode, &arena, &err), KV_EINVAL);
				kv_op nul[] = {o_get("a"), o_get("x")};
				nul[1].key = NULL;
				ERC(kv_batch(o, nul, 2, mode, &arena, &err), KV_EINVAL);
			}
			/* a key over the limit: the batch's error in all-or-nothing mode,
			 * its item's status in best-effort mode */
			char *longkey = malloc(KV_KEY_SIZE_LIMIT + 2);
			if (E(longkey != NULL)) {
				memset(longkey, 'k', KV_KEY_SIZE_LIMIT + 1);
				longkey[KV_KEY_SIZE_LIMIT + 1] = 0;
				kv_op lk[] = {o_get("a"), o_get(longkey)};
				expect_aon_failure(o, lk, 2, 1, KV_EKEYSIZE);
				kv_op lk2[] = {o_get("a"), o_get(longkey)};
				EOK(kv_batch(o, lk2, 2, KV_BATCH_BEST_EFFORT, &arena, &err));
				E(out_is(&arena, &lk2[0], "vb") && lk2[1].status == KV_EKEYSIZE);
				free(longkey);
			}
			/* EXISTS only, with no arena */
			kv_op ex[] = {o_key(KV_OP_EXISTS, "a"), o_key(KV_OP_EXISTS, "none")};
			EOK(kv_batch(o, ex, 2, KV_BATCH_ALL_OR_NOTHING, NULL, &err));
			E(ex[0].status == KV_OK && ex[1].status == KV_NOTFOUND);
			kv_ns_close(o);
			EOK(kv_ns_drop(env, name));
		}
	}

	kv_buf_free(env, &arena);
	kv_ns_close(ns);

	TEST("read-only batches grow the arena once, from empty or small, past 64 items, big values")
	{
		kv_ns *g = t_ns(env, "grow", NULL);
		if (g) {
			enum { N = 100 };
			static char keys[N][16], big[70000];
			memset(big, 'G', sizeof big);
			size_t total = 0;
			for (int i = 0; i < N; i++) {
				snprintf(keys[i], sizeof keys[i], "g:%d", i);
				size_t vl = i == 50 ? sizeof big : (size_t)(i * 37 % 300);
				EOK(kv_set(g, keys[i], strlen(keys[i]), big, vl, KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL));
				total += vl;
			}
			for (int round = 0; round < 3; round++) {
				for (size_t n = 3; n <= N; n += N - 3) { /* 3 items (stack), N (heap) */
					kv_buf ga = KV_BUF_INIT;
					if (round == 1) { /* a small arena first (64 bytes) */
						kv_op one = o_get(keys[1]);
						EOK(kv_batch(g, &one, 1, KV_BATCH_ALL_OR_NOTHING, &ga, &err));
						E(ga.cap > 37 && ga.cap < 1000);
					}
					kv_op ops[N];
					for (size_t i = 0; i < n; i++)
						ops[i] = o_get(keys[i + (n == 3 ? 49 : 0)]);
					EOK(kv_batch(g, ops, n, round == 2 ? KV_BATCH_BEST_EFFORT : KV_BATCH_ALL_OR_NOTHING,
					             &ga, &err));
					size_t want = 0, bad = 0, end = 0;
					for (size_t i = 0; i < n; i++) {
						int k = (int)i + (n == 3 ? 49 : 0);
						size_t vl = k == 50 ? sizeof big : (size_t)(k * 37 % 300);
						want += vl;
						bad += ops[i].status != KV_OK || ops[i].out_len != vl || ops[i].out_off != end ||
						       (vl && memcmp(ga.data + ops[i].out_off, big, vl) != 0);
						end += vl;
					}
					E(bad == 0 && ga.len == want && ga.data[ga.len] == 0);
					E(n == 3 || want == total);
					kv_buf_free(env, &ga);
				}
			}
			kv_ns_close(g);
		}
	}

	TEST("read-only batches set the LRU reference bit: keys a batch read survive eviction")
	{
		for (int mode = 0; mode < 2; mode++) {
			kv_ns_config lc;
			kv_ns_config_init(&lc);
			lc.shards = 1;
			lc.max_keys = 64;
			lc.eviction = KV_EVICT_ALLKEYS_LRU;
			kv_ns *l = t_ns(env, mode ? "lru-be" : "lru-aon", &lc);
			if (!l)
				continue;
			static char lk[81][16];
			for (int i = 0; i < 81; i++)
				snprintf(lk[i], sizeof lk[i], "l:%d", i);
			for (int i = 0; i < 65; i++) /* a new key is referenced; the 65th's eviction */
				set_s(l, lk[i], "v");    /* walks the hand round, clearing every bit */
			kv_op ops[32];
			for (int i = 0; i < 32; i++) /* the even keys are read, the odd ones not */
				ops[i] = o_get(lk[2 * i]);
			kv_buf la = KV_BUF_INIT;
			EOK(kv_batch(l, ops, 32, mode, &la, &err));
			int read[32];
			for (int i = 0; i < 32; i++)
				read[i] = ops[i].status == KV_OK;
			for (int i = 65; i < 81; i++) /* 16 evictions */
				set_s(l, lk[i], "v");
			int read_lost = 0, unread_lost = 0;
			for (int i = 0; i < 64; i++) {
				if (!absent(l, lk[i]))
					continue;
				if (i % 2)
					unread_lost++;
				else if (read[i / 2])
					read_lost++;
			}
			if (!E(read_lost == 0 && unread_lost >= 16))
				fprintf(stderr, "    mode %d: %d read and %d unread keys evicted\n", mode, read_lost,
				        unread_lost);
			kv_buf_free(env, &la);
			kv_ns_close(l);
		}
	}

	TEST("read-only batches: a key whose hash bits equal another's in its slot is found past it")
	{
		char k1[16], k2[16];
		kv_ns_config tc;
		kv_ns_config_init(&tc);
		tc.shards = 1;
		kv_ns *t = t_ns(env, "tagtwins", &tc);
		if (E(tag_twins(k1, k2)) && t) {
			kv_buf ta = KV_BUF_INIT;
			for (int mode = 0; mode < 2; mode++) {
				set_s(t, k1, "one");
				/* k2 absent: its first candidate is k1's entry, then the cluster ends */
				kv_op m[] = {o_get(k2), o_key(KV_OP_EXISTS, k2), o_get(k1)};
				EOK(kv_batch(t, m, 3, mode, &ta, &err));
				E(m[0].status == KV_NOTFOUND && m[1].status == KV_NOTFOUND && out_is(&ta, &m[2], "one"));
				set_s(t, k2, "two");
				kv_op h2[] = {o_get(k2), o_key(KV_OP_EXISTS, k2), o_get(k1), o_get(k2)};
				EOK(kv_batch(t, h2, 4, mode, &ta, &err));
				E(out_is(&ta, &h2[0], "two") && h2[1].status == KV_OK && out_is(&ta, &h2[2], "one") &&
				  out_is(&ta, &h2[3], "two"));
				/* 40 items: read_fused finds the first ones' candidates
				 * while it still hashes the later ones; a SET last makes
				 * it decline after that, and the general path answers */
				kv_op w[40];
				for (int last = 0; last < 2; last++) {
					for (int i = 0; i < 40; i++)
						w[i] = o_get(i % 2 ? k1 : k2);
					if (last)
						w[39] = o_set(k1, "one", KV_T_TEXT, KV_EXPIRE_NEVER, 0);
					EOK(kv_batch(t, w, 40, mode, &ta, &err));
					int wok = !last || w[39].status == KV_OK;
					for (int i = 0; i < 40 - last; i++)
						wok &= out_is(&ta, &w[i], i % 2 ? "one" : "two");
					E(wok);
				}
				/* k1 gone: k2 is found from its home again */
				EOK(kv_del(t, k1, strlen(k1)));
				kv_op g2[] = {o_get(k1), o_get(k2)};
				EOK(kv_batch(t, g2, 2, mode, &ta, &err));
				E(g2[0].status == KV_NOTFOUND && out_is(&ta, &g2[1], "two"));
				EOK(kv_del(t, k2, strlen(k2)));
			}
			kv_buf_free(env, &ta);
		}
		if (t)
			kv_ns_close(t);
	}

	kv_env_close(env);

	TEST("a batch whose arena cannot grow fails with KV_ENOMEM, changes nothing, leaks nothing")
	{
		kv_config cfg;
		kv_env *fenv = NULL;
		kv_config_init(&cfg);
		cfg.memory = 32 << 20;
		cfg.mem.xRealloc = t_count_realloc;
		if (EOK(kv_env_open(&cfg, &fenv))) {
			kv_ns *f = t_ns(fenv, "f", NULL);
			if (f) {
				static char big[100000];
				memset(big, 'B', sizeof big);
				EOK(kv_set(f, K("big"), big, sizeof big, KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL));
				set_s(f, "x", "old");
				kv_op ops[] = {o_set("x", "new", KV_T_TEXT, KV_EXPIRE_NEVER, 0),
				               o_key(KV_OP_CONSUME, "big"), o_get("big")};
				kv_buf fa = KV_BUF_INIT;
				t_alloc_fail = 1;
				int rc = kv_batch(f, ops, 3, KV_BATCH_ALL_OR_NOTHING, &fa, &err);
				t_alloc_fail = 0;
				E(R(rc) == KV_ENOMEM);
				E(val_is(fenv, f, "x", "old"));
				E(!absent(f, "big"));
				/* and with memory, the same batch works */
				EOK(kv_batch(f, ops, 3, KV_BATCH_ALL_OR_NOTHING, &fa, &err));
				E(ops[1].status == KV_OK && ops[1].out_len == sizeof big && ops[2].status == KV_NOTFOUND);
				E(val_is(fenv, f, "x", "new") && absent(f, "big"));
				kv_buf_free(fenv, &fa);
				kv_ns_close(f);
			}
			kv_env_close(fenv);
			E(t_live_blocks == 0);
		}
	}

	batch_concurrency();
	batch_resize_stress();
	batch_read_resize();
	batch_processes();
	batch_eviction();
	batch_churn();
	return t_done();
}

/* ------------------------------------------------ atomicity under concurrency */

#define NACCT  32
#define TOTAL  100000
#define NSLOT  64
#define NTOKEN 16

static kv_env *cenv;
static kv_ns *cns;
static int cstop;
static int cyield; /* workers yield after each operation (the resize stress) */
static char accts[NACCT][24], slot[NSLOT][24];

typedef struct {
	uint64_t seed;
	long batches, failed, bad, reads;
} carg;

/* Sets every account to a random partition of TOTAL in one all-or-nothing batch. */
static void *sum_writer(void *p)
{
	carg *a = p;
	kv_op ops[NACCT];
	char vals[NACCT][24];
	kv_error err;
	while (!T_LOAD(cstop)) {
		if (T_LOAD(cyield))
			sched_yield(); /* let a resize at the locks between writes */
		int64_t left = TOTAL;
		int n = 0;
		int perm[NACCT];
		for (int i = 0; i < NACCT; i++)
			perm[i] = i;
		for (int i = NACCT - 1; i > 0; i--) { /* random order: overlapping lock sets */
			int j = (int)(t_rand(&a->seed) % (uint64_t)(i + 1)), t = perm[i];
			perm[i] = perm[j];
			perm[j] = t;
		}
		for (int i = 0; i < NACCT; i++) {
			int64_t v = i == NACCT - 1 ? left : (int64_t)(t_rand(&a->seed) % (uint64_t)(left + 1));
			left -= v;
			snprintf(vals[i], sizeof vals[i], "%lld", (long long)v);
			ops[n++] = o_set(accts[perm[i]], vals[i], KV_T_INT, KV_EXPIRE_NEVER, 0);
		}
		int rc = kv_batch(cns, ops, NACCT, KV_BATCH_ALL_OR_NOTHING, NULL, &err);
		if (rc != KV_OK && a->bad++ < 3)
			fprintf(stderr, "    sum writer: %s\n", t_code_name(rc));
		a->batches++;
	}
	return NULL;
}

/* Moves a token: consume slot i and set slot j NX, all or nothing. */
static void *token_mover(void *p)
{
	carg *a = p;
	kv_error err;
	kv_buf arena = KV_BUF_INIT;
	while (!T_LOAD(cstop)) {
		if (T_LOAD(cyield))
			sched_yield(); /* let a resize at the locks between writes */
		int i = (int)(t_rand(&a->seed) % NSLOT), j = (int)(t_rand(&a->seed) % NSLOT);
		if (i == j)
			continue;
		kv_op ops[2] = {o_key(KV_OP_CONSUME, slot[i]),
		                o_set(slot[j], "token", KV_T_TEXT, KV_EXPIRE_NEVER, KV_SET_NX)};
		int rc = kv_batch(cns, ops, 2, KV_BATCH_ALL_OR_NOTHING, &arena, &err);
		if (rc == KV_OK)
			a->batches++;
		else if (rc == KV_NOTFOUND || rc == KV_EXISTS)
			a->failed++;
		else if (a->bad++ < 3)
			fprintf(stderr, "    token mover: %s\n", t_code_name(rc));
	}
	kv_buf_free(cenv, &arena);
	return NULL;
}

static void *checker(void *p)
{
	carg *a = p;
	kv_op ops[NSLOT];
	kv_error err;
	kv_buf arena = KV_BUF_INIT;
	while (!T_LOAD(cstop)) {
		if (T_LOAD(cyield))
			sched_yield(); /* let a resize at the locks between writes */
		for (int i = 0; i < NACCT; i++)
			ops[i] = o_get(accts[i]);
		int rc = kv_batch(cns, ops, NACCT, KV_BATCH_ALL_OR_NOTHING, &arena, &err);
		if (rc != KV_OK) {
			if (a->bad++ < 3)
				fprintf(stderr, "    reader batch: %s\n", t_code_name(rc));
			continue;
		}
		int64_t sum = 0;
		int missing = 0;
		for (int i = 0; i < NACCT; i++) {
			if (ops[i].status != KV_OK) {
				missing++;
				continue;
			}
			char num[32];
			size_t l = ops[i].out_len < 31 ? ops[i].out_len : 31;
			memcpy(num, arena.data + ops[i].out_off, l);
			num[l] = 0;
			sum += strtoll(num, NULL, 10);
		}
		if ((sum != TOTAL || missing) && a->bad++ < 5)
			fprintf(stderr, "    a GET batch saw sum %lld with %d missing (want %d)\n", (long long)sum,
			        missing, TOTAL);
		for (int i = 0; i < NSLOT; i++)
			ops[i] = o_key(KV_OP_EXISTS, slot[i]);
		rc = kv_batch(cns, ops, NSLOT, KV_BATCH_ALL_OR_NOTHING, &arena, &err);
		if (rc == KV_OK) {
			int tokens = 0;
			for (int i = 0; i < NSLOT; i++)
				tokens += ops[i].status == KV_OK;
			if (tokens != NTOKEN && a->bad++ < 5)
				fprintf(stderr, "    an EXISTS batch saw %d tokens (want %d)\n", tokens, NTOKEN);
		} else if (a->bad++ < 3) {
			fprintf(stderr, "    exists batch: %s\n", t_code_name(rc));
		}
		a->reads++;
	}
	kv_buf_free(cenv, &arena);
	return NULL;
}

static void *cresizer(void *p)
{
	carg *a = p;
	uint32_t shards = 2;
	while (!T_LOAD(cstop)) {
		if (shards < 128) {
			shards += 1 + shards / 2;
			int rc = kv_ns_resize(cns, shards);
			if (rc != KV_OK && rc != KV_EBUSY && a->bad++ < 3)
				fprintf(stderr, "    resize: %s\n", t_code_name(rc));
		}
		t_sleep_ms(20);
	}
	return NULL;
}

/* ------------------------------------------- lock-free batch reads under resize */
/*
 * A read-only batch reads each shard's header once (up to 64 shards) or once
 * per item (more shards, or a resize moving keys), validating what it read
 * with the shards' seqs and the namespace's gen.  Here readers run batches of
 * 48 GETs and EXISTS over keys whose values they know while the namespace is
 * resized 1 -> 100 shards step by step: every item must come back exact.
 */
#define RR_KEYS 500
static char rr_key[RR_KEYS][16], rr_val[RR_KEYS][16];

static void *rr_reader(void *p)
{
	carg *a = p;
	kv_buf ra = KV_BUF_INIT;
	kv_error err;
	kv_op ops[48];
	int key[48];
	while (!T_LOAD(cstop)) {
		int mode = (int)(t_rand(&a->seed) % 2);
		for (int i = 0; i < 48; i++) {
			key[i] = (int)(t_rand(&a->seed) % RR_KEYS);
			ops[i] = i % 8 == 7 ? o_key(KV_OP_EXISTS, rr_key[key[i]]) : o_get(rr_key[key[i]]);
		}
		int rc = kv_batch(cns, ops, 48, mode, &ra, &err);
		if (rc != KV_OK) {
			if (a->bad++ < 3)
				fprintf(stderr, "    batch read under resize: %s\n", t_code_name(rc));
			continue;
		}
		for (int i = 0; i < 48; i++) {
			const char *v = rr_val[key[i]];
			if (ops[i].status != KV_OK ||
			    (ops[i].op == KV_OP_GET && !out_is(&ra, &ops[i], v))) {
				if (a->bad++ < 3)
					fprintf(stderr, "    item %d (%s): %s\n", i, rr_key[key[i]],
					        t_code_name(ops[i].status));
			}
		}
		a->reads++;
	}
	kv_buf_free(cenv, &ra);
	return NULL;
}

static void batch_read_resize(void)
{
	TEST("lock-free batch reads stay exact while the shard count goes 1 -> 100")
	{
		int ms = t_quick() ? 600 : getenv("TEST_STRESS") ? 20000 : 1500;
		cenv = t_env(128 << 20);
		uint64_t seed = t_seed("batch read resize");
		for (int i = 0; i < RR_KEYS; i++) {
			snprintf(rr_key[i], sizeof rr_key[i], "rr:%d", i);
			snprintf(rr_val[i], sizeof rr_val[i], "v%d", i * 13);
		}
		int64_t until = kv_now_ms() + ms;
		long rounds = 0, resizes = 0, bad = 0, reads = 0;
		while (cenv && kv_now_ms() < until && !bad) {
			kv_ns_config c;
			kv_ns_config_init(&c);
			c.shards = 1;
			char name[32];
			snprintf(name, sizeof name, "rr%ld", rounds);
			cns = t_ns(cenv, name, &c);
			if (!cns)
				break;
			for (int i = 0; i < RR_KEYS; i++)
				set_s(cns, rr_key[i], rr_val[i]);
			pthread_t th[2];
			carg a[2];
			memset(a, 0, sizeof a);
			T_STORE(cstop, 0);
			for (int i = 0; i < 2; i++) {
				a[i].seed = seed + (uint64_t)rounds * 7 + (uint64_t)i;
				pthread_create(&th[i], NULL, rr_reader, &a[i]);
			}
			for (uint32_t m = 2; m <= 100; m += 1 + m / 8) {
				int rc = kv_ns_resize(cns, m);
				if (rc != KV_OK && bad++ < 3)
					fprintf(stderr, "    resize to %u: %s\n", m, t_code_name(rc));
				resizes++;
			}
			T_STORE(cstop, 1);
			for (int i = 0; i < 2; i++) {
				pthread_join(th[i], NULL);
				bad += a[i].bad;
				reads += a[i].reads;
			}
			kv_ns_close(cns);
			EOK(kv_ns_drop(cenv, name));
			rounds++;
		}
		printf("    %ld rounds, %ld resizes, %ld batch reads\n", rounds, resizes, reads);
		E(bad == 0 && rounds > 0 && reads > 0);
		if (cenv)
			kv_env_close(cenv);
	}
}

/* All-or-nothing batches from fork()ed processes over one MAP_SHARED region. */
static void batch_processes(void)
{
	TEST("mode (b): all-or-nothing batches from several processes keep the invariant")
	{
		size_t sz = 64 << 20;
		void *region = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		int *shared_stop = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		kv_config cfg;
		kv_config_init(&cfg);
		cfg.region = region;
		cfg.region_size = sz;
		cfg.max_namespaces = 4;
		cenv = NULL;
		kv_ns_config c;
		kv_ns_config_init(&c);
		c.shards = 8;
		if (E(region != MAP_FAILED && shared_stop != MAP_FAILED) && EOK(kv_env_open(&cfg, &cenv)) &&
		    (cns = t_ns(cenv, "mpatom", &c)) != NULL) {
			for (int i = 0; i < NACCT; i++) {
				snprintf(accts[i], sizeof accts[i], "acct:%d", i);
				EOK(kv_set(cns, accts[i], strlen(accts[i]), i == 0 ? "100000" : "0", i == 0 ? 6 : 1,
				           KV_T_INT, KV_EXPIRE_NEVER, 0, NULL));
			}
			for (int i = 0; i < NSLOT; i++) {
				snprintf(slot[i], sizeof slot[i], "slot:%d", i);
				if (i < NTOKEN)
					EOK(kv_set(cns, slot[i], strlen(slot[i]), K("token"), KV_T_TEXT, KV_EXPIRE_NEVER,
					           0, NULL));
			}
			*shared_stop = 0;
			uint64_t seed = t_seed("batch processes");
			pid_t pids[3], parent = getpid();
			fflush(NULL);
			for (int p = 0; p < 3; p++) {
				pids[p] = fork();
				if (pids[p] == 0) {
					t_child_begin();
					carg a;
					memset(&a, 0, sizeof a);
					a.seed = seed + (uint64_t)p * 31337;
					/* the children's loops watch cstop: copy the shared flag into it */
					pthread_t w;
					pthread_create(&w, NULL, p == 2 ? token_mover : sum_writer, &a);
					while (!__atomic_load_n(shared_stop, __ATOMIC_ACQUIRE) && getppid() == parent)
						t_sleep_ms(5);
					T_STORE(cstop, 1);
					pthread_join(w, NULL);
					_exit(a.bad ? 1 : 0);
				}
			}
			carg ck;
			memset(&ck, 0, sizeof ck);
			T_STORE(cstop, 0);
			pthread_t th;
			pthread_create(&th, NULL, checker, &ck);
			t_sleep_ms(t_quick() ? 400 : 1500);
			T_STORE(cstop, 1);
			pthread_join(th, NULL);
			__atomic_store_n(shared_stop, 1, __ATOMIC_RELEASE);
			int bad_children = 0;
			for (int p = 0; p < 3; p++) {
				int st = 0;
				if (pids[p] > 0 && (waitpid(pids[p], &st, 0) != pids[p] || !WIFEXITED(st) ||
				                    WEXITSTATUS(st) != 0))
					bad_children++;
			}
			E(bad_children == 0);
			E(ck.bad == 0 && ck.reads > 0);
			printf("    %ld consistent cuts checked against 3 writer processes\n", ck.reads);
			kv_ns_close(cns);
		}
		if (cenv)
			kv_env_close(cenv);
		if (region != MAP_FAILED)
			munmap(region, sz);
		if (shared_stop != MAP_FAILED)
			munmap(shared_stop, 4096);
	}
}

static void batch_concurrency(void)
{
	TEST("all-or-nothing batches keep invariants for concurrent GET/EXISTS batches, under resize")
	{
		int ms = t_quick() ? 500 : getenv("TEST_STRESS") ? 30000 : 2500;
		cenv = t_env(256 << 20);
		kv_ns_config c;
		kv_ns_config_init(&c);
		c.shards = 2;
		cns = cenv ? t_ns(cenv, "atom", &c) : NULL;
		if (cns) {
			for (int i = 0; i < NACCT; i++) {
				snprintf(accts[i], sizeof accts[i], "acct:%d", i);
				EOK(kv_set(cns, accts[i], strlen(accts[i]), i == 0 ? "100000" : "0",
				           i == 0 ? 6 : 1, KV_T_INT, KV_EXPIRE_NEVER, 0, NULL));
			}
			for (int i = 0; i < NSLOT; i++) {
				snprintf(slot[i], sizeof slot[i], "slot:%d", i);
				if (i < NTOKEN)
					EOK(kv_set(cns, slot[i], strlen(slot[i]), K("token"), KV_T_TEXT,
					           KV_EXPIRE_NEVER, 0, NULL));
			}
			uint64_t seed = t_seed("batch concurrency");
			pthread_t th[6];
			carg a[6];
			void *(*fn[6])(void *) = {sum_writer, sum_writer, token_mover, token_mover, checker,
			                          cresizer};
			memset(a, 0, sizeof a);
			T_STORE(cstop, 0);
			for (int i = 0; i < 6; i++) {
				a[i].seed = seed + (uint64_t)i * 1000003;
				pthread_create(&th[i], NULL, fn[i], &a[i]);
			}
			t_sleep_ms(ms);
			T_STORE(cstop, 1);
			long bad = 0;
			for (int i = 0; i < 6; i++) {
				pthread_join(th[i], NULL);
				bad += a[i].bad;
			}
			printf("    %ld + %ld sum batches, %ld token moves (%ld refused), %ld checks\n",
			       a[0].batches, a[1].batches, a[2].batches + a[3].batches,
			       a[2].failed + a[3].failed, a[4].reads);
			E(bad == 0);
			E(a[0].batches > 0 && a[2].batches > 0 && a[4].reads > 0);
			E(a[2].failed + a[3].failed > 0); /* the failure path ran concurrently too */
			kv_ns_close(cns);
		}
		if (cenv)
			kv_env_close(cenv);
	}
}

/* ---------------------------------- multi-key locks while the shard count moves */
/*
 * A multi-key write routes each key, under its locks, to the shard that owns it
 * (kv_lockset_shard).  A resize publishes a new shard array (freeing the old
 * one) and later ends without taking any shard lock, so that routing must use
 * the view the locks were taken under and the headers it holds: it once read
 * the slot's current array again and, racing a publish, got a freed array's
 * word -- a NULL shard in batch_atomic, or another namespace's.  Here rounds of
 * resizes 1 -> 2 -> ... -> 64 publish back to back (a round starts from a fresh
 * 1-shard namespace) while all-or-nothing batches, a rename ring and copies
 * run across the shards, and every invariant is checked after each round.
 * Workers yield between operations so that the resizer, which takes every
 * shard lock in turn, publishes some hundreds of times a second.  The window is
 * a few instructions (kv_ns_shard between loading the array and its element),
 * so the old code crashed only rarely by itself; with a sched_yield() put into
 * that window it crashed (a NULL shard in copy_locked) in every quick run.
 */
#define RING 8

static void *ring_renamer(void *p)
{
	carg *a = p;
	char from[24], to[24];
	int at = 0;
	while (!T_LOAD(cstop)) {
		if (T_LOAD(cyield))
			sched_yield(); /* let a resize at the locks between writes */
		snprintf(from, sizeof from, "ring:%d", at);
		snprintf(to, sizeof to, "ring:%d", (at + 1) % RING);
		int rc = kv_rename(cns, from, strlen(from), to, strlen(to), 1);
		if (rc != KV_OK && a->bad++ < 3)
			fprintf(stderr, "    rename %s -> %s: %s\n", from, to, t_code_name(rc));
		if (rc == KV_OK)
			at = (at + 1) % RING;
		a->batches++;
	}
	a->reads = at; /* where the ring key is now */
	return NULL;
}

static void *copier(void *p)
{
	carg *a = p;
	char dst[24];
	while (!T_LOAD(cstop)) {
		if (T_LOAD(cyield))
			sched_yield(); /* let a resize at the locks between writes */
		snprintf(dst, sizeof dst, "copy:%d", (int)(t_rand(&a->seed) % 64));
		int rc = kv_copy(cns, K("copy:src"), NULL, dst, strlen(dst), 1);
		if (rc != KV_OK && a->bad++ < 3)
			fprintf(stderr, "    copy -> %s: %s\n", dst, t_code_name(rc));
		a->batches++;
	}
	return NULL;
}

static void batch_resize_stress(void)
{
	TEST("multi-key writes (batches, rename, copy) route to shards they hold while resizes publish")
	{
		int ms = t_quick() ? 1500 : getenv("TEST_STRESS") ? 30000 : 3000;
		cenv = t_env(256 << 20);
		uint64_t seed = t_seed("batch resize stress");
		int64_t until = kv_now_ms() + ms;
		long rounds = 0, resizes = 0, bad = 0, writes = 0, renames = 0, copies = 0;
		while (cenv && kv_now_ms() < until && bad == 0) {
			kv_ns_config c;
			kv_ns_config_init(&c);
			c.shards = 1;
			cns = t_ns(cenv, "rz", &c);
			if (!cns)
				break;
			for (int i = 0; i < NACCT; i++) {
				snprintf(accts[i], sizeof accts[i], "acct:%d", i);
				EOK(kv_set(cns, accts[i], strlen(accts[i]), i == 0 ? "100000" : "0",
				           i == 0 ? 6 : 1, KV_T_INT, KV_EXPIRE_NEVER, 0, NULL));
			}
			for (int i = 0; i < NSLOT; i++) {
				snprintf(slot[i], sizeof slot[i], "slot:%d", i);
				if (i < NTOKEN)
					EOK(kv_set(cns, slot[i], strlen(slot[i]), K("token"), KV_T_TEXT,
					           KV_EXPIRE_NEVER, 0, NULL));
			}
			EOK(kv_set(cns, K("ring:0"), K("ringval"), KV_T_TEXT, KV_EXPIRE_NEVER, 0, NULL));
			EOK(kv_set(cns, K("copy:src"), K("copied"), KV_T_TEXT, KV_EXPIRE_NEVER, 0, NULL));
			pthread_t th[6];
			carg a[6];
			void *(*fn[6])(void *) = {sum_writer, token_mover, token_mover, checker, ring_renamer, copier};
			memset(a, 0, sizeof a);
			T_STORE(cstop, 0);
			T_STORE(cyield, 1);
			for (int i = 0; i < 6; i++) {
				a[i].seed = seed + (uint64_t)rounds * 7919 + (uint64_t)i * 1000003;
				pthread_create(&th[i], NULL, fn[i], &a[i]);
			}
			uint32_t m = 1; /* a round ends early (at 16 shards or more) when time is up */
			while (m < 64 && (m < 16 || kv_now_ms() < until)) {
				int rc = kv_ns_resize(cns, ++m);
				if (rc != KV_OK && bad++ < 3)
					fprintf(stderr, "    resize to %u: %s\n", m, t_code_name(rc));
				resizes++;
			}
			T_STORE(cstop, 1);
			for (int i = 0; i < 6; i++) {
				pthread_join(th[i], NULL);
				bad += a[i].bad;
			}
			writes += a[0].batches + a[1].batches + a[2].batches;
			renames += a[4].batches;
			copies += a[5].batches;
			/* after the round: the ring key where the renamer left it, alone */
			for (int i = 0; i < RING; i++) {
				char k[24];
				snprintf(k, sizeof k, "ring:%d", i);
				if (i == (int)a[4].reads ? !val_is(cenv, cns, k, "ringval") : !absent(cns, k))
					bad++;
			}
			kv_ns_stats st;
			if (!EOK(kv_ns_stats_get(cns, &st)) || st.config.shards != m)
				bad++;
			kv_ns_close(cns);
			EOK(kv_ns_drop(cenv, "rz"));
			rounds++;
		}
		T_STORE(cyield, 0);
		printf("    %ld rounds, %ld resizes; %ld batches, %ld renames, %ld copies\n", rounds,
		       resizes, writes, renames, copies);
		E(bad == 0);
		E(rounds > 0 && writes > 0 && renames > 0 && copies > 0);
		if (cenv)
			kv_env_close(cenv);
	}
}

/* ------------------------------------------------ churn (issue 10: the wedge) */
/*
 * Two workers loop an all-or-nothing 3-key mget on namespace 'churn' while a
 * third loops drop, create (2 shards) and a 5000-key all-or-nothing mset.  The
 * store once wedged here within seconds: a batch that locked shards through a
 * shard array that a drop/create then replaced unlocked other shards (looked
 * up again through the new array) and left its own locked forever.  Each
 * worker bumps a progress counter; a watchdog fails the test when one stops.
 * CHURN_PROCS=1 runs the workers as fork()ed processes over one MAP_SHARED
 * region; CHURN_MS sets the duration (tests/crash/engine-churn.sh uses both).
 */
#define CHURN_KEYS 5000
#define CHURN_STALL_MS 5000

typedef struct churn_shared {
	long progress[3];
	long bad[3];
	int stop, done;
} churn_shared;

static void churn_bad(churn_shared *cs, int id, const char *what, int rc)
{
	if (__atomic_fetch_add(&cs->bad[id], 1, __ATOMIC_RELAXED) < 3)
		fprintf(stderr, "    churn worker %d: %s: %s\n", id, what, t_code_name(rc));
}

static void churn_reader(kv_env *env, churn_shared *cs, int id)
{
	kv_ns *ns = NULL;
	kv_buf arena = KV_BUF_INIT;
	while (!__atomic_load_n(&cs->stop, __ATOMIC_ACQUIRE)) {
		if (!ns && kv_ns_open(env, "churn", &ns) != KV_OK) {
			ns = NULL;
			__atomic_add_fetch(&cs->progress[id], 1, __ATOMIC_RELEASE);
			continue;
		}
		kv_op ops[3] = {o_get("k1"), o_get("k2"), o_get("k3")};
		int rc = kv_batch(ns, ops, 3, KV_BATCH_ALL_OR_NOTHING, &arena, NULL);
		if (rc != KV_OK && rc != KV_ENONS)
			churn_bad(cs, id, "mget", rc);
		/* the mset is all-or-nothing: all three keys or none */
		if (rc == KV_OK && !((ops[0].status == KV_OK) == (ops[1].status == KV_OK) &&
		                     (ops[1].status == KV_OK) == (ops[2].status == KV_OK)))
			churn_bad(cs, id, "mget saw part of an mset", ops[0].status);
		__atomic_add_fetch(&cs->progress[id], 1, __ATOMIC_RELEASE);
	}
	kv_buf_free(env, &arena);
	kv_ns_close(ns);
	__atomic_add_fetch(&cs->done, 1, __ATOMIC_RELEASE);
}

static void churn_writer(kv_env *env, churn_shared *cs, int id)
{
	kv_op *ops = malloc(CHURN_KEYS * sizeof *ops);
	char (*keys)[16] = malloc(CHURN_KEYS * sizeof *keys);
	kv_ns *ns = NULL;
	if (!ops || !keys) {
		churn_bad(cs, id, "malloc", KV_ENOMEM);
		goto out;
	}
	for (int i = 0; i < CHURN_KEYS; i++) {
		snprintf(keys[i], sizeof keys[i], "k%d", i + 1);
		ops[i] = o_set(keys[i], "v", KV_T_TEXT, KV_EXPIRE_NEVER, 0);
	}
	kv_ns_config c;
	kv_ns_config_init(&c);
	c.shards = 2;
	while (!__atomic_load_n(&cs->stop, __ATOMIC_ACQUIRE)) {
		int rc = kv_ns_drop(env, "churn");
		if (rc != KV_OK && rc != KV_ENONS && rc != KV_EBUSY)
			churn_bad(cs, id, "drop", rc);
		rc = kv_ns_create(env, "churn", &c);
		if (rc != KV_OK && rc != KV_ENSEXISTS)
			churn_bad(cs, id, "create", rc);
		if (!ns && kv_ns_open(env, "churn", &ns) != KV_OK)
			ns = NULL;
		if (ns) {
			rc = kv_batch(ns, ops, CHURN_KEYS, KV_BATCH_ALL_OR_NOTHING, NULL, NULL);
			if (rc != KV_OK && rc != KV_ENONS)
				churn_bad(cs, id, "mset", rc);
		}
		__atomic_add_fetch(&cs->progress[id], 1, __ATOMIC_RELEASE);
	}
out:
	kv_ns_close(ns);
	free(ops);
	free(keys);
	__atomic_add_fetch(&cs->done, 1, __ATOMIC_RELEASE);
}

typedef struct churn_arg {
	kv_env *env;
	churn_shared *cs;
	int id;
} churn_arg;

static void *churn_thread(void *p)
{
	churn_arg *a = p;
	if (a->id == 2)
		churn_writer(a->env, a->cs, a->id);
	else
		churn_reader(a->env, a->cs, a->id);
	return NULL;
}

/* Watch the counters for ms milliseconds; 0 if every worker kept moving. */
static int churn_watch(churn_shared *cs, int ms)
{
	long last[3] = {0, 0, 0};
	int64_t seen[3], end = kv_now_ms() + ms;
	for (int i = 0; i < 3; i++)
		seen[i] = kv_now_ms();
	while (kv_now_ms() < end) {
		t_sleep_ms(20);
		int64_t now = kv_now_ms();
		for (int i = 0; i < 3; i++) {
			long p = __atomic_load_n(&cs->progress[i], __ATOMIC_ACQUIRE);
			if (p != last[i]) {
				last[i] = p;
				seen[i] = now;
			} else if (now - seen[i] > CHURN_STALL_MS) {
				fprintf(stderr, "    churn worker %d made no progress for %d ms (%ld rounds before): "
				        "the store is wedged\n", i, CHURN_STALL_MS, p);
				return 1;
			}
		}
	}
	printf("    churn: %ld + %ld mgets, %ld drop/create/mset rounds\n", last[0], last[1], last[2]);
	/* stop, and every worker must finish its round promptly */
	__atomic_store_n(&cs->stop, 1, __ATOMIC_RELEASE);
	for (end = kv_now_ms() + CHURN_STALL_MS; __atomic_load_n(&cs->done, __ATOMIC_ACQUIRE) < 3;) {
		if (kv_now_ms() > end) {
			fprintf(stderr, "    only %d of 3 churn workers finished within %d ms of the stop: "
			        "the store is wedged\n", __atomic_load_n(&cs->done, __ATOMIC_ACQUIRE), CHURN_STALL_MS);
			return 1;
		}
		t_sleep_ms(10);
	}
	return 0;
}

/* A wedged worker cannot be joined: report and leave. */
static void churn_wedged(void)
{
	E(!"the store wedged (see above)");
	t_end();
	t_done();
	fflush(NULL);
	_exit(1);
}

static void batch_churn(void)
{
	const char *ev = getenv("CHURN_MS");
	int ms = ev && *ev ? atoi(ev) : t_quick() ? 1500 : 3000;
	bool procs = getenv("CHURN_PROCS") && atoi(getenv("CHURN_PROCS")) > 0;
	TEST("churn: mgets against a drop/create/mset loop never wedge the store (issue 10)")
	{
		size_t sz = 64 << 20;
		void *region = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		churn_shared *cs = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		kv_env *env = NULL;
		kv_config cfg;
		kv_config_init(&cfg);
		cfg.region = region;
		cfg.region_size = sz;
		cfg.max_namespaces = 4;
		if (E(region != MAP_FAILED && cs != MAP_FAILED) && EOK(kv_env_open(&cfg, &env))) {
			memset(cs, 0, sizeof *cs);
			int stalled;
			if (procs) {
				pid_t pids[3];
				fflush(NULL);
				for (int i = 0; i < 3; i++) {
					pids[i] = fork();
					if (pids[i] == 0) {
						t_child_begin();
						if (i == 2)
							churn_writer(env, cs, i);
						else
							churn_reader(env, cs, i);
						_exit(0);
					}
					E(pids[i] > 0);
				}
				stalled = churn_watch(cs, ms);
				__atomic_store_n(&cs->stop, 1, __ATOMIC_RELEASE);
				for (int i = 0; i < 3; i++) {
					if (pids[i] <= 0)
						continue;
					if (stalled)
						kill(pids[i], SIGKILL);
					int st = 0;
					waitpid(pids[i], &st, 0);
					if (!stalled)
						E(WIFEXITED(st) && WEXITSTATUS(st) == 0);
				}
				if (stalled)
					churn_wedged();
			} else {
				pthread_t th[3];
				churn_arg a[3];
				for (int i = 0; i < 3; i++) {
					a[i] = (churn_arg){env, cs, i};
					pthread_create(&th[i], NULL, churn_thread, &a[i]);
				}
				stalled = churn_watch(cs, ms);
				__atomic_store_n(&cs->stop, 1, __ATOMIC_RELEASE);
				if (stalled)
					churn_wedged();
				for (int i = 0; i < 3; i++)
					pthread_join(th[i], NULL);
			}
			E(cs->bad[0] + cs->bad[1] + cs->bad[2] == 0);
			E(cs->progress[0] > 0 && cs->progress[1] > 0 && cs->progress[2] > 0);
			/* and the store still answers */
			kv_ns_stats st[4];
			size_t n = 0;
			EOK(kv_ns_list(env, st, 4, &n));
			E(n <= 1);
		}
		if (env)
			kv_env_close(env);
		if (region != MAP_FAILED)
			munmap(region, sz);
		if (cs != MAP_FAILED)
			munmap(cs, 4096);
	}
}

/* ------------------------------------------------ eviction (issue 10) */
static long ev_evicted, ev_set;
static void ev_hook(void *ctx, const char *ns, const void *key, size_t klen, int event)
{
	(void)ctx;
	(void)ns;
	(void)key;
	(void)klen;
	if (event == KV_EV_EVICTED)
		ev_evicted++;
	else if (event == KV_EV_SET)
		ev_set++;
}

static void batch_eviction(void)
{
	static const int policies[] = {KV_EVICT_ALLKEYS_LRU, KV_EVICT_ALLKEYS_RANDOM,
	                               KV_EVICT_VOLATILE_LRU, KV_EVICT_VOLATILE_RANDOM,
	                               KV_EVICT_VOLATILE_TTL};
	TEST("every evicting policy with a small max_keys over 16 shards evicts instead of KV_EMAXKEYS")
	{
		kv_env *env = t_env(32 << 20);
		for (size_t p = 0; env && p < sizeof policies / sizeof policies[0]; p++) {
			kv_ns_config c;
			kv_ns_config_init(&c);
			c.max_keys = 10; /* most of the 16 shards hold no key at all */
			c.eviction = policies[p];
			char name[16];
			snprintf(name, sizeof name, "ev%zu", p);
			kv_ns *ns = t_ns(env, name, &c);
			if (!ns)
				continue;
			int64_t exp = kv_now_ms() + HOUR_MS; /* volatile policies need a TTL */
			int bad = 0;
			for (int i = 0; i < 500; i++) {
				char k[32];
				int kl = snprintf(k, sizeof k, "key:%d", i);
				int rc = kv_set(ns, k, (size_t)kl, K("v"), KV_T_TEXT, exp + i, 0, NULL);
				if (rc != KV_OK && bad++ < 3)
					fprintf(stderr, "    policy %d, key %d: %s\n", policies[p], i, t_code_name(rc));
				if (rc == KV_OK && kv_exists(ns, k, (size_t)kl) != KV_OK && bad++ < 3)
					fprintf(stderr, "    policy %d: key %d was evicted by its own write\n",
					        policies[p], i);
			}
			E(bad == 0);
			kv_ns_stats st;
			EOK(kv_ns_stats_get(ns, &st));
			if (!E(st.keys == 10 && st.evicted == 490))
				fprintf(stderr, "    policy %d: %llu keys, %llu evicted\n", policies[p],
				        (unsigned long long)st.keys, (unsigned long long)st.evicted);
			kv_ns_close(ns);
		}
		if (env)
			kv_env_close(env);
	}

	TEST("all-or-nothing batches into a full allkeys-lru namespace evict as needed, hooks included")
	{
		kv_env *env = t_env(64 << 20);
		kv_ns_config c;
		kv_ns_config_init(&c);
		c.max_keys = 50;
		c.eviction = KV_EVICT_ALLKEYS_LRU;
		kv_ns *ns = env ? t_ns(env, "evb", &c) : NULL;
		if (ns) {
			for (int i = 0; i < 50; i++) {
				char k[32];
				int kl = snprintf(k, sizeof k, "old:%d", i);
				EOK(kv_set(ns, k, (size_t)kl, K("v"), KV_T_TEXT, KV_EXPIRE_NEVER, 0, NULL));
			}
			kv_env_set_hook(env, ev_hook, NULL);
			/* 40 new keys: 40 evictions (more than one write context's 16) */
			enum { N = 40, M = 300 };
			static char keys[M][200];
			static kv_op ops[M];
			for (int i = 0; i < N; i++) {
				snprintf(keys[i], sizeof keys[i], "new:%d", i);
				ops[i] = o_set(keys[i], "w", KV_T_TEXT, KV_EXPIRE_NEVER, 0);
			}
			kv_error e;
			EOK(kv_batch(ns, ops, N, KV_BATCH_ALL_OR_NOTHING, NULL, &e));
			kv_ns_stats st;
			EOK(kv_ns_stats_get(ns, &st));
			E(st.keys == 50 && st.evicted == N);
			E(ev_evicted == N && ev_set == N);
			int present = 0;
			for (int i = 0; i < N; i++)
				present += kv_exists(ns, keys[i], strlen(keys[i])) == KV_OK;
			E(present == N);
			/* a batch larger than max_keys cannot keep all its keys: refused whole */
			for (int i = 0; i < 60; i++) {
				snprintf(keys[i], sizeof keys[i], "many:%d", i);
				ops[i] = o_set(keys[i], "w", KV_T_TEXT, KV_EXPIRE_NEVER, 0);
			}
			ERC(kv_batch(ns, ops, 60, KV_BATCH_ALL_OR_NOTHING, NULL, &e), KV_EMAXKEYS);
			E(e.item >= 40 && e.item <= 50); /* where its own keys fill the namespace */
			EOK(kv_ns_stats_get(ns, &st));
			E(st.keys == 50 && st.evicted == N); /* and nothing changed */
			present = 0;
			for (int i = 0; i < N; i++) {
				char k[32];
				int kl = snprintf(k, sizeof k, "new:%d", i);
				present += kv_exists(ns, k, (size_t)kl) == KV_OK;
			}
			E(present == N);
			/* 300 new keys into 400 long-named ones: the evicted keys' names
			 * outgrow the room the batch set aside, so it retries with more */
			c.max_keys = 400;
			EOK(kv_ns_configure(ns, &c));
			kv_env_set_hook(env, NULL, NULL);
			for (int i = 0; i < 400; i++) {
				char k[200];
				memset(k, 'x', sizeof k);
				int kl = snprintf(k, 16, "old:%05d", i);
				k[kl] = 'x';
				EOK(kv_set(ns, k, sizeof k, K("v"), KV_T_TEXT, KV_EXPIRE_NEVER, 0, NULL));
			}
			kv_env_set_hook(env, ev_hook, NULL);
			ev_evicted = ev_set = 0;
			for (int i = 0; i < M; i++) {
				snprintf(keys[i], sizeof keys[i], "new2:%d", i);
				ops[i] = o_set(keys[i], "w", KV_T_TEXT, KV_EXPIRE_NEVER, 0);
			}
			EOK(kv_batch(ns, ops, M, KV_BATCH_ALL_OR_NOTHING, NULL, &e));
			EOK(kv_ns_stats_get(ns, &st));
			E(st.keys == 400);
			if (!E(ev_evicted == M && ev_set == M))
				fprintf(stderr, "    %ld evicted, %ld set events\n", ev_evicted, ev_set);
			present = 0;
			for (int i = 0; i < M; i++)
				present += kv_exists(ns, keys[i], strlen(keys[i])) == KV_OK;
			E(present == M);
			kv_env_set_hook(env, NULL, NULL);
			kv_ns_close(ns);
		}
		if (env)
			kv_env_close(env);
	}

	TEST("an all-or-nothing batch evicts from shards it does not touch (max_keys 10 over 16 shards)")
	{
		/* the batch's 8 keys touch a few shards that hold few of the 10 old keys:
		 * it must evict from the others too (it failed with KV_EMAXKEYS) */
		kv_env *env = t_env(32 << 20);
		kv_ns_config c;
		kv_ns_config_init(&c);
		c.max_keys = 10;
		c.eviction = KV_EVICT_ALLKEYS_LRU;
		kv_ns *ns = env ? t_ns(env, "evsmall", &c) : NULL;
		for (int round = 0; ns && round < 20; round++) {
			static char keys[8][32];
			kv_op ops[8];
			for (int i = 0; i < 8; i++) {
				snprintf(keys[i], sizeof keys[i], "r%d:%d", round, i);
				ops[i] = o_set(keys[i], "w", KV_T_TEXT, KV_EXPIRE_NEVER, 0);
			}
			kv_error e;
			if (!EOK(kv_batch(ns, ops, 8, KV_BATCH_ALL_OR_NOTHING, NULL, &e)))
				fprintf(stderr, "    round %d: item %zd: %s\n", round, (ssize_t)e.item, e.msg);
			kv_ns_stats st;
			EOK(kv_ns_stats_get(ns, &st));
			E(st.keys <= 10);
			int present = 0;
			for (int i = 0; i < 8; i++)
				present += kv_exists(ns, keys[i], strlen(keys[i])) == KV_OK;
			E(present == 8);
			/* a concurrent reader of two of its keys sees a stable store afterwards */
			kv_buf b = KV_BUF_INIT;
			EOK(kv_get(ns, keys[0], strlen(keys[0]), &b));
			kv_buf_free(env, &b);
		}
		if (ns)
			kv_ns_close(ns);
		if (env)
			kv_env_close(env);
	}

	TEST("eviction never takes more than max_keys allows, and KV_EVICT_NONE still refuses")
	{
		kv_env *env = t_env(32 << 20);
		kv_ns_config c;
		kv_ns_config_init(&c);
		c.max_keys = 3;
		kv_ns *ns = env ? t_ns(env, "evn", &c) : NULL;
		if (ns) {
			EOK(kv_set(ns, K("a"), K("1"), KV_T_TEXT, KV_EXPIRE_NEVER, 0, NULL));
			EOK(kv_set(ns, K("b"), K("1"), KV_T_TEXT, KV_EXPIRE_NEVER, 0, NULL));
			EOK(kv_set(ns, K("c"), K("1"), KV_T_TEXT, KV_EXPIRE_NEVER, 0, NULL));
			ERC(kv_set(ns, K("d"), K("1"), KV_T_TEXT, KV_EXPIRE_NEVER, 0, NULL), KV_EMAXKEYS);
			/* volatile-lru with no key carrying a TTL: nothing may go */
			c.eviction = KV_EVICT_VOLATILE_LRU;
			EOK(kv_ns_configure(ns, &c));
			ERC(kv_set(ns, K("d"), K("1"), KV_T_TEXT, KV_EXPIRE_NEVER, 0, NULL), KV_EMAXKEYS);
			kv_op ops[2] = {o_set("d", "1", KV_T_TEXT, KV_EXPIRE_NEVER, 0),
			                o_set("e", "1", KV_T_TEXT, KV_EXPIRE_NEVER, 0)};
			expect_aon_failure(ns, ops, 2, 0, KV_EMAXKEYS);
			kv_ns_stats st;
			EOK(kv_ns_stats_get(ns, &st));
			E(st.keys == 3 && st.evicted == 0);
			kv_ns_close(ns);
		}
		if (env)
			kv_env_close(env);
	}
}
