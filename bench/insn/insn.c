/*
 * insn.c -- instructions per single-key operation, for callgrind.
 *
 *   make bench-insn            # runs the three loops under callgrind, prints Ir/op
 *
 * The machine is shared and perf's counters are not available in this VM, so
 * the engine's per-op cost is tracked as callgrind's instruction count (Ir),
 * which repeats exactly however busy the machine is.  Each loop is its own
 * noinline function so callgrind can count it alone (--toggle-collect); the
 * reference table (bench/engine/reftable.c) runs the same streams beside it.
 * 100k keys of 'key:NNNNNNN', 100-byte values, OPS ops per loop; the miss and
 * insert loops make their keys, whose cost (insn_keygen) run.sh subtracts.
 * Batch loops (mget, mset) count per key of 32-key batches.
 */
#include "kv.h"
#include "../engine/benchutil.h"
#include "../engine/reftable.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef NKEYS
#define NKEYS 100000u /* -DNKEYS=125000u: both tables half full, as at 1M keys in bench-engine */
#endif
#define OPS   200000u

static char (*keys)[BENCH_KLEN];
static char val[BENCH_VLEN];
static volatile unsigned sink;

static __attribute__((noinline)) void insn_eng_get(kv_ns *ns, kv_buf *b)
{
	for (unsigned i = 0; i < OPS; i++)
		if (kv_get(ns, keys[(i * 7919u) % NKEYS], BENCH_KLEN, b) == KV_OK)
			sink += (unsigned char)b->data[0];
}
static __attribute__((noinline)) void insn_eng_miss(kv_ns *ns, kv_buf *b)
{
	char k[BENCH_KLEN];
	for (unsigned i = 0; i < OPS; i++) {
		bench_key(k, NKEYS + i);
		if (kv_get(ns, k, BENCH_KLEN, b) == KV_OK)
			sink++;
	}
}
static __attribute__((noinline)) void insn_eng_set(kv_ns *ns)
{
	for (unsigned i = 0; i < OPS; i++)
		kv_set(ns, keys[(i * 7919u) % NKEYS], BENCH_KLEN, val, BENCH_VLEN, KV_T_BYTES,
		       KV_EXPIRE_NEVER, 0, NULL);
}
/* every set changes the key's size class (100 <-> 140 bytes, as bench-engine's
 * set-resize): round 0 makes them 140, round 1 back to 100 */
static char val2[140];
static __attribute__((noinline)) void insn_eng_set_resize(kv_ns *ns)
{
	for (unsigned i = 0; i < OPS; i++)
		kv_set(ns, keys[(i * 7919u) % NKEYS], BENCH_KLEN, val2, (i / NKEYS) & 1 ? BENCH_VLEN : sizeof val2,
		       KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL);
}
static __attribute__((noinline)) void insn_ref_set_resize(rt_table *t)
{
	for (unsigned i = 0; i < OPS; i++)
		rt_set(t, keys[(i * 7919u) % NKEYS], BENCH_KLEN, val2, (i / NKEYS) & 1 ? BENCH_VLEN : sizeof val2);
}
static __attribute__((noinline)) void insn_ref_get(rt_table *t, rt_buf *b)
{
	for (unsigned i = 0; i < OPS; i++)
		if (rt_get(t, keys[(i * 7919u) % NKEYS], BENCH_KLEN, b) == RT_OK)
			sink += (unsigned char)b->data[0];
}
static __attribute__((noinline)) void insn_ref_set(rt_table *t)
{
	for (unsigned i = 0; i < OPS; i++)
		rt_set(t, keys[(i * 7919u) % NKEYS], BENCH_KLEN, val, BENCH_VLEN);
}
/* 32 SETs of existing keys per kv_batch (instructions per key) */
static __attribute__((noinline)) void insn_eng_mset(kv_ns *ns, int mode)
{
	kv_op ops[32];
	kv_error err;
	memset(ops, 0, sizeof ops);
	for (unsigned i = 0; i < OPS; i += 32) {
		for (unsigned j = 0; j < 32; j++) {
			ops[j].op = KV_OP_SET;
			ops[j].key = keys[((i + j) * 7919u) % NKEYS];
			ops[j].klen = BENCH_KLEN;
			ops[j].val = val;
			ops[j].vlen = BENCH_VLEN;
			ops[j].type = KV_T_BYTES;
			ops[j].expires_at = KV_EXPIRE_NEVER;
		}
		kv_batch(ns, ops, 32, mode, NULL, &err);
	}
}
static __attribute__((noinline)) void insn_eng_mset_aon(kv_ns *ns)
{
	insn_eng_mset(ns, KV_BATCH_ALL_OR_NOTHING);
}
static __attribute__((noinline)) void insn_eng_mset_be(kv_ns *ns)
{
	insn_eng_mset(ns, KV_BATCH_BEST_EFFORT);
}
/* 32 GETs per kv_batch, the key stream of the get loop (instructions per key) */
static __attribute__((noinline)) void insn_eng_mget(kv_ns *ns, int mode, kv_buf *arena)
{
	kv_op ops[32];
	kv_error err;
	memset(ops, 0, sizeof ops);
	for (unsigned i = 0; i < OPS; i += 32) {
		for (unsigned j = 0; j < 32; j++) {
			ops[j].op = KV_OP_GET;
			ops[j].key = keys[((i + j) * 7919u) % NKEYS];
			ops[j].klen = BENCH_KLEN;
		}
		if (kv_batch(ns, ops, 32, mode, arena, &err) == KV_OK)
			sink += (unsigned char)arena->data[ops[31].out_off];
	}
}
static __attribute__((noinline)) void insn_eng_mget_aon(kv_ns *ns, kv_buf *arena)
{
	insn_eng_mget(ns, KV_BATCH_ALL_OR_NOTHING, arena);
}
static __attribute__((noinline)) void insn_eng_mget_be(kv_ns *ns, kv_buf *arena)
{
	insn_eng_mget(ns, KV_BATCH_BEST_EFFORT, arena);
}
static __attribute__((noinline)) void insn_ref_mget(rt_table *t, rt_buf *arena)
{
	rt_item it[32];
	memset(it, 0, sizeof it);
	for (unsigned i = 0; i < OPS; i += 32) {
		for (unsigned j = 0; j < 32; j++) {
			it[j].key = keys[((i + j) * 7919u) % NKEYS];
			it[j].klen = BENCH_KLEN;
		}
		if (rt_mget(t, it, 32, arena) > 0)
			sink += (unsigned char)arena->data[it[31].off];
	}
}
/* new keys (the tables are presized by the load, so few doublings) */
static __attribute__((noinline)) void insn_eng_insert(kv_ns *ns)
{
	char k[BENCH_KLEN];
	for (unsigned i = 0; i < OPS; i++) {
		bench_key(k, 2 * NKEYS + i);
		kv_set(ns, k, BENCH_KLEN, val, BENCH_VLEN, KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL);
	}
}
static __attribute__((noinline)) void insn_ref_insert(rt_table *t)
{
	char k[BENCH_KLEN];
	for (unsigned i = 0; i < OPS; i++) {
		bench_key(k, 2 * NKEYS + i);
		rt_set(t, k, BENCH_KLEN, val, BENCH_VLEN);
	}
}
/* the loop and bench_key's own cost, to subtract from the miss loop */
static __attribute__((noinline)) void insn_keygen(void)
{
	char k[BENCH_KLEN];
	for (unsigned i = 0; i < OPS; i++) {
		bench_key(k, NKEYS + i);
		sink += (unsigned char)k[5];
	}
}

int main(void)
{
	kv_env *env;
	kv_ns *ns;
	kv_config cfg;
	kv_config_init(&cfg);
	cfg.memory = (size_t)256 << 20;
	kv_ns_config nc;
	kv_ns_config_init(&nc);
	if (kv_env_open(&cfg, &env) != KV_OK || kv_ns_create(env, "b", &nc) != KV_OK ||
	    kv_ns_open(env, "b", &ns) != KV_OK) {
		fprintf(stderr, "insn: engine set-up failed\n");
		return 1;
	}
	rt_table *t = rt_create(NKEYS, 0);
	keys = malloc((size_t)NKEYS * BENCH_KLEN);
	if (!t || !keys)
		return 1;
	for (unsigned i = 0; i < NKEYS; i++) {
		bench_key(keys[i], i);
		bench_value(val, i);
		if (kv_set(ns, keys[i], BENCH_KLEN, val, BENCH_VLEN, KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL) != KV_OK ||
		    rt_set(t, keys[i], BENCH_KLEN, val, BENCH_VLEN) != RT_OK)
			return 1;
	}
	kv_buf b = KV_BUF_INIT;
	rt_buf rb = RT_BUF_INIT;
	kv_get(ns, keys[0], BENCH_KLEN, &b);
	rt_get(t, keys[0], BENCH_KLEN, &rb);
	insn_eng_get(ns, &b);
	insn_ref_get(t, &rb);
	insn_eng_miss(ns, &b);
	insn_keygen();
	insn_eng_set(ns);
	insn_ref_set(t);
	insn_eng_set_resize(ns);
	insn_ref_set_resize(t);
	insn_eng_mset_aon(ns);
	insn_eng_mset_be(ns);
	kv_buf ka = KV_BUF_INIT;
	rt_buf ra = RT_BUF_INIT;
	kv_batch(ns, (kv_op[]){{.op = KV_OP_GET, .key = keys[0], .klen = BENCH_KLEN}}, 1,
	         KV_BATCH_BEST_EFFORT, &ka, NULL); /* the arenas exist before counting */
	rt_mget(t, (rt_item[]){{.key = keys[0], .klen = BENCH_KLEN}}, 1, &ra);
	insn_eng_mget_aon(ns, &ka);
	insn_eng_mget_be(ns, &ka);
	insn_ref_mget(t, &ra);
	kv_buf_free(env, &ka);
	rt_buf_free(&ra);
	insn_eng_insert(ns);
	insn_ref_insert(t);
	printf("ops per loop: %u\n", OPS);
	kv_buf_free(env, &b);
	rt_buf_free(&rb);
	kv_ns_close(ns);
	kv_env_close(env);
	return 0;
}
