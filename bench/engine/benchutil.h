/*
 * benchutil.h -- workload generation and measurement for bench-engine.
 *
 * Everything a timed loop reads is generated before the clock starts: each
 * operation stream is an array of 16-byte records holding the key's bytes, so
 * a loop reads its input sequentially and spends its time in the table.
 */
#ifndef SHARDKV_BENCH_BENCHUTIL_H
#define SHARDKV_BENCH_BENCHUTIL_H

#include <stddef.h>
#include <stdint.h>

#define BENCH_KLEN 11  /* "key:NNNNNNN" */
#define BENCH_VLEN 100
#define BENCH_VLEN_BIG 140 /* the other size of the set-resize workload */

/* flags of a stream record */
#define BOP_SET 0x1u /* the mixed workload writes this one (10%) */
#define BOP_BIG 0x2u /* set-resize writes BENCH_VLEN_BIG bytes (else BENCH_VLEN) */

typedef struct bench_op {
	char     key[BENCH_KLEN];
	uint8_t  flags;
	uint32_t idx; /* key index */
} bench_op;

/* ------------------------------------------------------------- randomness */
typedef struct bench_rng {
	uint64_t s;
} bench_rng;
uint64_t rng_next(bench_rng *r);             /* splitmix64 */
uint32_t rng_below(bench_rng *r, uint32_t n); /* uniform in [0, n) */
double   rng_unit(bench_rng *r);             /* uniform in [0, 1) */

/* ------------------------------------------------------------- data */
void bench_key(char out[BENCH_KLEN], uint32_t idx);
/* The initial value of key idx: BENCH_VLEN bytes derived from idx. */
void bench_value(char out[BENCH_VLEN], uint32_t idx);

/*
 * Fill ops[0..len) with keys drawn from n keys: uniform when theta is 0, else
 * Zipf(theta) by Gray et al.'s method, ranks scattered over the key space by a
 * random permutation so hot keys land on different shards.
 */
void stream_fill(bench_op *ops, size_t len, uint32_t n, double theta, uint64_t seed);

/*
 * Mark the stream for the writing workloads: BOP_SET on 10% of records; BOP_BIG
 * so that, walking the stream from all-small values, every set-resize write
 * changes its key's size.  Returns (malloc'd, *nrestore entries) the key indexes
 * left big after one pass, to be set back untimed; NULL if none or no memory.
 */
uint32_t *stream_mark(bench_op *ops, size_t len, uint32_t n, uint64_t seed, size_t *nrestore);

/* ------------------------------------------------------------- clocks */
uint64_t clock_ns(int clock_id); /* CLOCK_* value */
uint64_t thread_cpu_ns(void);
uint64_t proc_cpu_ns(void); /* all threads: charges a library's helper threads */
uint64_t wall_ns(void);

/*
 * Machine load around a run: /proc/stat busy time of all CPUs versus this
 * process's CPU time.  A run is noisy when other work took more than
 * NOISE_CORES of a core on average.
 */
#define NOISE_CORES 0.15
typedef struct load_sample {
	uint64_t busy_ticks;
	uint64_t proc_ns;
	uint64_t wall;
} load_sample;
void   load_take(load_sample *s);
/* Average number of cores used by other work between a and b. */
double load_others(const load_sample *a, const load_sample *b);

double median(const double *v, int n);

#endif /* SHARDKV_BENCH_BENCHUTIL_H */
