/*
 * benchutil.c -- key streams, Zipf sampling, clocks and /proc/stat for
 * bench-engine.  See benchutil.h.
 */
#include "benchutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

uint64_t rng_next(bench_rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15u);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

uint32_t rng_below(bench_rng *r, uint32_t n)
{
	return (uint32_t)(((rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

double rng_unit(bench_rng *r)
{
	return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

void bench_key(char out[BENCH_KLEN], uint32_t idx)
{
	memcpy(out, "key:", 4);
	for (int i = 10; i >= 4; i--) {
		out[i] = (char)('0' + idx % 10);
		idx /= 10;
	}
}

void bench_value(char out[BENCH_VLEN], uint32_t idx)
{
	bench_rng r = {idx * 0x2545f4914f6cdd1dull + 1};
	for (int i = 0; i < BENCH_VLEN; i += 8) {
		uint64_t x = rng_next(&r);
		memcpy(out + i, &x, BENCH_VLEN - i < 8 ? (size_t)(BENCH_VLEN - i) : 8);
	}
}

/*
 * Zipf by Gray et al., "Quickly generating billion-record synthetic
 * databases" (SIGMOD 1994), the generator YCSB uses: one O(n) pass for
 * zeta(n), then O(1) per sample.  Rank 0 is the hottest.
 */
typedef struct zipf {
	uint32_t n;
	double   theta, alpha, zetan, eta, half_pow;
} zipf;

static void zipf_init(zipf *z, uint32_t n, double theta)
{
	double zetan = 0, zeta2 = 1.0 + pow(0.5, theta);
	for (uint32_t i = 1; i <= n; i++)
		zetan += 1.0 / pow((double)i, theta);
	z->n = n;
	z->theta = theta;
	z->alpha = 1.0 / (1.0 - theta);
	z->zetan = zetan;
	z->eta = (1.0 - pow(2.0 / n, 1.0 - theta)) / (1.0 - zeta2 / zetan);
	z->half_pow = pow(0.5, theta);
}

static uint32_t zipf_next(const zipf *z, bench_rng *r)
{
	double u = rng_unit(r), uz = u * z->zetan;
	if (uz < 1.0)
		return 0;
	if (uz < 1.0 + z->half_pow)
		return 1;
	double v = (double)z->n * pow(z->eta * u - z->eta + 1.0, z->alpha);
	uint32_t k = (uint32_t)v;
	return k < z->n ? k : z->n - 1;
}

void stream_fill(bench_op *ops, size_t len, uint32_t n, double theta, uint64_t seed)
{
	bench_rng r = {seed};
	uint32_t *perm = NULL;
	zipf z = {0, 0, 0, 0, 0, 0};
	if (theta > 0) {
		perm = malloc((size_t)n * sizeof(uint32_t));
		if (!perm) {
			fprintf(stderr, "bench-engine: out of memory for the zipf permutation\n");
			exit(1);
		}
		for (uint32_t i = 0; i < n; i++)
			perm[i] = i;
		for (uint32_t i = n - 1; i > 0; i--) {
			uint32_t j = rng_below(&r, i + 1);
			uint32_t t = perm[i];
			perm[i] = perm[j];
			perm[j] = t;
		}
		zipf_init(&z, n, theta);
	}
	for (size_t i = 0; i < len; i++) {
		uint32_t idx = perm ? perm[zipf_next(&z, &r)] : rng_below(&r, n);
		bench_key(ops[i].key, idx);
		ops[i].flags = 0;
		ops[i].idx = idx;
	}
	free(perm);
}

uint32_t *stream_mark(bench_op *ops, size_t len, uint32_t n, uint64_t seed, size_t *nrestore)
{
	bench_rng r = {seed ^ 0x5bd1e995u};
	uint8_t *big = calloc(n, 1);
	*nrestore = 0;
	if (!big)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		uint8_t f = rng_below(&r, 10) == 0 ? BOP_SET : 0;
		big[ops[i].idx] ^= 1;
		if (big[ops[i].idx])
			f |= BOP_BIG;
		ops[i].flags = f;
	}
	size_t k = 0;
	for (uint32_t i = 0; i < n; i++)
		k += big[i];
	uint32_t *list = k ? malloc(k * sizeof(uint32_t)) : NULL;
	if (list) {
		k = 0;
		for (uint32_t i = 0; i < n; i++)
			if (big[i])
				list[k++] = i;
		*nrestore = k;
	}
	free(big);
	return list;
}

uint64_t clock_ns(int clock_id)
{
	struct timespec ts;
	clock_gettime((clockid_t)clock_id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t thread_cpu_ns(void)
{
	return clock_ns(CLOCK_THREAD_CPUTIME_ID);
}

uint64_t proc_cpu_ns(void)
{
	return clock_ns(CLOCK_PROCESS_CPUTIME_ID);
}

uint64_t wall_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

/* Busy ticks of all CPUs: everything but idle and iowait (steal counts: some
 * other guest had our core). */
static uint64_t proc_stat_busy(void)
{
	FILE *f = fopen("/proc/stat", "r");
	unsigned long long v[10] = {0};
	if (!f)
		return 0;
	int got = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
	                 &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]);
	fclose(f);
	if (got < 8)
		return 0;
	/* user nice system idle iowait irq softirq steal (guest is inside user) */
	return v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
}

void load_take(load_sample *s)
{
	s->busy_ticks = proc_stat_busy();
	s->proc_ns = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
	s->wall = wall_ns();
}

double load_others(const load_sample *a, const load_sample *b)
{
	static long hz;
	if (!hz)
		hz = sysconf(_SC_CLK_TCK);
	double wall = (double)(b->wall - a->wall) / 1e9;
	if (wall <= 0 || hz <= 0)
		return 0;
	double busy = (double)(b->busy_ticks - a->busy_ticks) / (double)hz;
	double mine = (double)(b->proc_ns - a->proc_ns) / 1e9;
	double others = (busy - mine) / wall;
	return others > 0 ? others : 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

double median(const double *v, int n)
{
	double t[64];
	if (n <= 0)
		return 0;
	if (n > 64)
		n = 64;
	memcpy(t, v, (size_t)n * sizeof(double));
	qsort(t, (size_t)n, sizeof(double), cmp_double);
	return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}
