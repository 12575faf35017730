/*
 * memlat.c -- this machine's memory limits for a hash-table get (make bench-memlat).
 *
 * A get at 1M+ keys takes two dependent cache misses: the slot, then the entry
 * it points to.  How fast single gets can go is then set by how many of those
 * misses one core keeps in flight, and that depends on how many instructions a
 * get spends between its misses (the out-of-order window holds only so many).
 * This tool measures the pieces, with no engine code:
 *
 *   latency  one random pointer chase (each load's address is the previous
 *            load's value) over buffers of growing size: ns per dependent load.
 *   mlp      k such chases interleaved in one loop (k = 1..32) over the whole
 *            buffer: lines/s and the overlap factor against k = 1.
 *   model    a get's shape on a table laid out like bench-engine's reference
 *            (8-byte slots holding an entry index, 128-byte entries): read the
 *            op's key from a stream, W/2 instructions of "hashing" that the slot
 *            address depends on, load the slot, load the entry it names, W/2
 *            instructions that depend on the entry.  Three ways to run it:
 *              chain k  k interleaved chains of ops, each op's key depending on
 *                       the chain's previous op (k = 1: one get alone);
 *              stream   independent ops one after another, as a get loop runs:
 *                       the core overlaps as many as its window allows;
 *              batch32  32 ops at a time: hash and prefetch every slot, then read
 *                       the slots and prefetch every entry, then finish each op
 *                       (a batched get).
 *            W is fixed per function (the asm needs a constant), see MODEL_W:
 *            ALU work that waits for the entry (a pessimistic bound) or nops
 *            that only hold a reorder-buffer slot (the window's ceiling).
 *
 * Buffers are mapped twice, one with MADV_HUGEPAGE (2 MiB pages, as the engine's
 * own mapping and bench-engine's reference request) and one with
 * MADV_NOHUGEPAGE (4 KiB pages), and every row runs on both, alternating: random
 * access over a large buffer misses the TLB on nearly every 4 KiB page.  How
 * much of each buffer the kernel did back with huge pages is printed (smaps).
 *
 * Timing: thread CPU time; every row repeats --reps times, rows alternating
 * within each repetition, and the median is reported.  /proc/stat is read around
 * every run (bench/engine/benchutil.c): a run during which other processes used
 * more than 0.15 of a core counts as noisy, and a row is marked [noisy k/N].
 */
#include "benchutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define LINE 64
#define ENTRY_BYTES 128 /* an 11-byte key + 100-byte value entry, in its size class */
#define MAX_K 32
#define BATCH 32
#define MAX_REPS 64
#define MIB ((size_t)1 << 20)

static volatile uint64_t g_sink; /* keeps every loop's result alive */

/* ------------------------------------------------------------- options */
static struct {
	int    quick;
	int    reps;
	size_t buf_mib;  /* each of the two buffers */
	size_t loads;    /* loads per latency/mlp run */
	size_t ops;      /* ops per model run */
	int    do_latency, do_mlp, do_model;
	const char *layouts; /* model layouts whose name contains one of these, comma-separated */
} opt = {0, 5, 1536, 2000000, 1000000, 1, 1, 1, NULL};

/* ------------------------------------------------------------- buffers */
typedef struct buffer {
	char       *p;
	size_t      size;
	int         thp;
	const char *name;
	double      huge_share; /* of the buffer, AnonHugePages after touching it */
	/* the random cycle over the lines of the chase region, and where the next run starts */
	uint32_t   *order;
	size_t      nlines, pos;
} buffer;

/* AnonHugePages of the mappings overlapping [p, p+size), as a share of size. */
static double huge_share(const char *p, size_t size)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	unsigned long lo = 0, hi = 0, huge_kb = 0;
	int in = 0;
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f)) {
		unsigned long a, b, kb;
		if (sscanf(line, "%lx-%lx ", &a, &b) == 2 && strchr(line, '-') < strchr(line, ' ')) {
			lo = a;
			hi = b;
			in = lo < (unsigned long)(p + size) && hi > (unsigned long)p;
		} else if (in && sscanf(line, "AnonHugePages: %lu kB", &kb) == 1) {
			huge_kb += kb;
		}
	}
	fclose(f);
	return (double)huge_kb * 1024.0 / (double)size;
}

static void buffer_map(buffer *b, size_t size, int thp)
{
	size_t align = 2 * MIB;
	char *raw = mmap(NULL, size + align, PROT_READ | PROT_WRITE,
	                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (raw == MAP_FAILED) {
		fprintf(stderr, "bench-memlat: cannot map %zu MiB\n", size / MIB);
		exit(1);
	}
	b->p = (char *)(((uintptr_t)raw + align - 1) & ~(uintptr_t)(align - 1));
	b->size = size;
	b->thp = thp;
	b->name = thp ? "THP" : "4K";
	madvise(b->p, size, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	memset(b->p, 1, size); /* fault every page in now, not in a timed loop */
	b->huge_share = huge_share(b->p, size);
	b->order = NULL;
}

/*
 * Link the first `bytes` of b into one random cycle of its lines (each line's
 * first word points to the next line), remembering the order so that each run
 * starts where the last one stopped and no run re-reads lines a recent run left
 * in the cache (unless the region is small enough to live there).
 */
static void buffer_chain(buffer *b, size_t bytes, uint64_t seed)
{
	size_t n = bytes / LINE;
	bench_rng r = {seed};
	free(b->order);
	b->order = malloc(n * sizeof(uint32_t));
	if (!b->order) {
		fprintf(stderr, "bench-memlat: out of memory for the chain order\n");
		exit(1);
	}
	for (size_t i = 0; i < n; i++)
		b->order[i] = (uint32_t)i;
	for (size_t i = n - 1; i > 0; i--) {
		size_t j = (size_t)(rng_next(&r) % (i + 1));
		uint32_t t = b->order[i];
		b->order[i] = b->order[j];
		b->order[j] = t;
	}
	for (size_t i = 0; i < n; i++)
		*(char **)(b->p + (size_t)b->order[i] * LINE) = b->p + (size_t)b->order[(i + 1) % n] * LINE;
	b->nlines = n;
	b->pos = 0;
}

/* ------------------------------------------------------------- pointer chases */

/* K chases interleaved, `steps` loads each; K constant so the cursors stay in registers. */
#define DEFINE_CHASE(K)                                                        \
	static uint64_t chase_##K(char **start, size_t steps)                  \
	{                                                                      \
		char *c[K];                                                    \
		uint64_t acc = 0;                                              \
		for (int j = 0; j < K; j++)                                    \
			c[j] = start[j];                                       \
		for (size_t s = 0; s < steps; s++) {                           \
			_Pragma("GCC unroll 32") for (int j = 0; j < K; j++)   \
				c[j] = *(char **)c[j];                         \
		}                                                              \
		for (int j = 0; j < K; j++)                                    \
			acc += (uintptr_t)c[j];                                \
		return acc;                                                    \
	}
DEFINE_CHASE(1)
DEFINE_CHASE(2)
DEFINE_CHASE(4)
DEFINE_CHASE(8)
DEFINE_CHASE(16)
DEFINE_CHASE(32)

static const int chase_ks[] = {1, 2, 4, 8, 16, 32};
#define N_CHASE_K 6
static uint64_t (*const chase_fn[N_CHASE_K])(char **, size_t) = {
	chase_1, chase_2, chase_4, chase_8, chase_16, chase_32};

/* ------------------------------------------------------------- the get model */
typedef struct model {
	const uint64_t *slots; /* entry index in the low 32 bits, as the reference's slot */
	uint64_t        slot_mask;
	const char     *ents;
	const uint32_t *keys; /* one random slot index per op, read sequentially */
	size_t          nops;
} model;

/*
 * 4*R+3 one-cycle ALU instructions, four independent chains that all start
 * from `in` and end in `out` (so `out` depends on `in`, and the work can run
 * four wide, as ordinary code does).  R must be a literal.
 */
#define WORK(out, in, R)                                                               \
	do {                                                                           \
		uint64_t in_ = (in), w0_ = in_, w1_ = in_, w2_ = in_, w3_ = in_;       \
		__asm__(".rept " #R "\n\tadd %4, %0\n\txor %4, %1\n\tadd %4, %2\n\t"   \
		        "xor %4, %3\n\t.endr\n\tadd %1, %0\n\tadd %3, %2\n\tadd %2, %0" \
		        : "+r"(w0_), "+r"(w1_), "+r"(w2_), "+r"(w3_)                   \
		        : "r"(in_));                                                   \
		(out) = w0_;                                                           \
	} while (0)

/* x becomes 0 but still depends on its old value (and $0 is no zeroing idiom). */
#define DEP_ZERO(x) __asm__("and $0, %0" : "+r"(x))

/* NH nops: each takes a reorder-buffer slot and nothing else (no register, no port). */
#define NOPS(NH) __asm__ volatile(".rept " #NH "\n\tnop\n\t.endr")

/*
 * One get: key -> 4R+3 ALU instructions of "hashing" that the slot address
 * depends on -> slot -> entry -> 4R+3 that depend on the entry; NH nops before
 * the slot load and NH after the entry load.  Sets r.
 */
#define GET_OP(m, key, r, R, NH)                                                \
	do {                                                                    \
		uint64_t z_, s_, v_;                                            \
		WORK(z_, key, R);                                               \
		DEP_ZERO(z_);                                                   \
		NOPS(NH);                                                       \
		s_ = (m)->slots[((key) + z_) & (m)->slot_mask];                 \
		v_ = *(const uint64_t *)((m)->ents + (uint32_t)s_ * (size_t)ENTRY_BYTES); \
		WORK(r, v_, R);                                                 \
		NOPS(NH);                                                       \
	} while (0)

#define DEFINE_MODEL(R, NH, N)                                                       \
	static uint64_t stream_##N(const model *m)                                   \
	{                                                                            \
		uint64_t sink = 0;                                                   \
		for (size_t i = 0; i < m->nops; i++) {                               \
			uint64_t key = m->keys[i], r;                                \
			GET_OP(m, key, r, R, NH);                                    \
			sink += r;                                                   \
		}                                                                    \
		return sink;                                                         \
	}                                                                            \
	static uint64_t chain_##N(const model *m, int k)                             \
	{                                                                            \
		uint64_t sink = 0, carry[MAX_K] = {0};                               \
		for (size_t i = 0; i + (size_t)k <= m->nops; i += (size_t)k) {      \
			for (int j = 0; j < k; j++) {                                \
				uint64_t key = m->keys[i + (size_t)j] + carry[j], r; \
				GET_OP(m, key, r, R, NH);                            \
				sink += r;                                           \
				DEP_ZERO(r);                                         \
				carry[j] = r;                                        \
			}                                                            \
		}                                                                    \
		return sink;                                                         \
	}                                                                            \
	static uint64_t batch_##N(const model *m)                                    \
	{                                                                            \
		uint64_t sink = 0;                                                   \
		const uint64_t *sp[BATCH];                                           \
		const char *ep[BATCH];                                               \
		for (size_t i = 0; i + BATCH <= m->nops; i += BATCH) {               \
			for (int j = 0; j < BATCH; j++) {                            \
				uint64_t key = m->keys[i + (size_t)j], z;            \
				WORK(z, key, R);                                     \
				DEP_ZERO(z);                                         \
				NOPS(NH);                                            \
				sp[j] = &m->slots[(key + z) & m->slot_mask];         \
				__builtin_prefetch(sp[j]);                           \
			}                                                            \
			for (int j = 0; j < BATCH; j++) {                            \
				ep[j] = m->ents + (uint32_t)*sp[j] * (size_t)ENTRY_BYTES; \
				__builtin_prefetch(ep[j]);                           \
			}                                                            \
			for (int j = 0; j < BATCH; j++) {                            \
				uint64_t v = *(const uint64_t *)ep[j], r;            \
				WORK(r, v, R);                                       \
				NOPS(NH);                                            \
				sink += r;                                           \
			}                                                            \
		}                                                                    \
		return sink;                                                         \
	}

/*
 * Two kinds of per-get work, W instructions besides the loads and the loop:
 *   alu  W = 8R (+6 of WORK's folding): every instruction writes a register and
 *        executes, and the half after the entry load waits for the entry, so it
 *        holds scheduler and register-file entries while the miss is out.  Real
 *        code does less of that: a pessimistic bound.
 *   nop  W = 2*NH: instructions that hold only a reorder-buffer slot, so the
 *        window's size is the only limit: an optimistic bound (a ceiling).
 * With the loads, WORK's folding and the loop, a get is W + 27 instructions
 * (objdump of stream_*): 171 at W = 144, 315 at W = 288, beside bench-insn's
 * 162 for the reference's get and 305 for the engine's, loop included.
 */
DEFINE_MODEL(0, 0, w0)
DEFINE_MODEL(9, 0, a72)
DEFINE_MODEL(18, 0, a144)
DEFINE_MODEL(27, 0, a216)
DEFINE_MODEL(36, 0, a288)
DEFINE_MODEL(54, 0, a432)
DEFINE_MODEL(0, 36, n72)
DEFINE_MODEL(0, 72, n144)
DEFINE_MODEL(0, 90, n180)
DEFINE_MODEL(0, 108, n216)
DEFINE_MODEL(0, 126, n252)
DEFINE_MODEL(0, 144, n288)
DEFINE_MODEL(0, 216, n432)

typedef struct model_fns {
	int         W;
	const char *kind;
	uint64_t (*stream)(const model *);
	uint64_t (*chain)(const model *, int);
	uint64_t (*batch)(const model *);
} model_fns;
#define MODEL_FNS(R, NH, N) {8 * (R) + 2 * (NH), (R) ? "alu" : (NH) ? "nop" : "-", \
                             stream_##N, chain_##N, batch_##N}
static const model_fns MODEL_W[] = {
	MODEL_FNS(0, 0, w0),     MODEL_FNS(9, 0, a72),    MODEL_FNS(18, 0, a144),
	MODEL_FNS(27, 0, a216),  MODEL_FNS(36, 0, a288),  MODEL_FNS(54, 0, a432),
	MODEL_FNS(0, 36, n72),   MODEL_FNS(0, 72, n144),  MODEL_FNS(0, 90, n180),
	MODEL_FNS(0, 108, n216), MODEL_FNS(0, 126, n252), MODEL_FNS(0, 144, n288),
	MODEL_FNS(0, 216, n432)};
#define N_MODEL_W 13

/*
 * A chain of register adds, one cycle each: ns per add is one clock period (this
 * VM has no cycle counters).  Not add-immediate: recent cores fold those at rename.
 */
static double clock_ghz(void)
{
	double best = 0;
	for (int rep = 0; rep < 5; rep++) {
		uint64_t x = rep, y = g_sink | 1, t0 = thread_cpu_ns();
		for (int i = 0; i < 200000; i++)
			__asm__(".rept 100\n\tadd %1, %0\n\t.endr" : "+r"(x) : "r"(y));
		uint64_t t1 = thread_cpu_ns();
		g_sink += x;
		double ghz = 2e7 / (double)(t1 - t0);
		if (ghz > best)
			best = ghz;
	}
	return best;
}

/* ------------------------------------------------------------- rows */
typedef struct row {
	double ns[MAX_REPS];  /* per load or per op, CPU time */
	int    noisy, n;
} row;

static void row_add(row *rw, uint64_t ns, size_t count, const load_sample *a, const load_sample *b)
{
	if (rw->n < MAX_REPS)
		rw->ns[rw->n++] = (double)ns / (double)count;
	if (load_others(a, b) > NOISE_CORES)
		rw->noisy++;
}

static double row_med(const row *rw)
{
	return median(rw->ns, rw->n);
}

static void row_spread(const row *rw, double *lo, double *hi)
{
	*lo = *hi = rw->n ? rw->ns[0] : 0;
	for (int i = 1; i < rw->n; i++) {
		if (rw->ns[i] < *lo)
			*lo = rw->ns[i];
		if (rw->ns[i] > *hi)
			*hi = rw->ns[i];
	}
}

static const char *row_noise(const row *rw, char *out, size_t len)
{
	if (rw->noisy)
		snprintf(out, len, "[noisy %d/%d]", rw->noisy, rw->n);
	else
		out[0] = 0;
	return out;
}

/* One chase run of k chains on b: loads spread over the cycle from b->pos on. */
static void run_chase(buffer *b, int ki, row *rw)
{
	int k = chase_ks[ki];
	size_t loads = opt.loads < b->nlines ? opt.loads : b->nlines;
	size_t steps = loads / (size_t)k;
	char *start[MAX_K];
	for (int j = 0; j < k; j++)
		start[j] = b->p + (size_t)b->order[(b->pos + (size_t)j * steps) % b->nlines] * LINE;
	b->pos = (b->pos + steps * (size_t)k) % b->nlines;
	load_sample a, z;
	load_take(&a);
	uint64_t t0 = thread_cpu_ns();
	g_sink += chase_fn[ki](start, steps);
	uint64_t t1 = thread_cpu_ns();
	load_take(&z);
	row_add(rw, t1 - t0, steps * (size_t)k, &a, &z);
}

static void print_huge(buffer *bufs, int nb)
{
	for (int i = 0; i < nb; i++)
		printf("  %-3s buffer: %zu MiB, %.0f%% backed by huge pages (smaps AnonHugePages)\n",
		       bufs[i].name, bufs[i].size / MIB, 100.0 * bufs[i].huge_share);
}

/* ------------------------------------------------------------- latency */
static void section_latency(buffer *bufs, int nb, const size_t *sizes, int nsizes)
{
	printf("\n== latency: one dependent chase, ns per load (median of %d; min-max)\n", opt.reps);
	printf("%-10s", "region");
	for (int i = 0; i < nb; i++)
		printf("  %-26s", bufs[i].name);
	printf("\n");
	for (int s = 0; s < nsizes; s++) {
		row rows[2];
		memset(rows, 0, sizeof rows);
		for (int i = 0; i < nb; i++)
			buffer_chain(&bufs[i], sizes[s], 0x1234 + (uint64_t)s);
		for (int rep = 0; rep < opt.reps; rep++)
			for (int i = 0; i < nb; i++)
				run_chase(&bufs[i], 0, &rows[i]);
		printf("%6zu MiB", sizes[s] / MIB);
		for (int i = 0; i < nb; i++) {
			double lo, hi;
			char nz[32];
			row_spread(&rows[i], &lo, &hi);
			printf("  %6.1f ns (%5.1f-%5.1f) %-12s", row_med(&rows[i]), lo, hi,
			       row_noise(&rows[i], nz, sizeof nz));
		}
		printf("\n");
	}
}

/* ------------------------------------------------------------- mlp */
static void section_mlp(buffer *bufs, int nb, size_t bytes)
{
	row rows[2][N_CHASE_K];
	memset(rows, 0, sizeof rows);
	for (int i = 0; i < nb; i++)
		if (bufs[i].nlines != bytes / LINE)
			buffer_chain(&bufs[i], bytes, 0x5678);
	for (int rep = 0; rep < opt.reps; rep++)
		for (int ki = 0; ki < N_CHASE_K; ki++)
			for (int i = 0; i < nb; i++)
				run_chase(&bufs[i], ki, &rows[i][ki]);
	printf("\n== mlp: k independent chases interleaved over %zu MiB (median of %d)\n",
	       bytes / MIB, opt.reps);
	printf("%-5s %-4s %10s %12s %8s  %s\n", "pages", "k", "ns/load", "M lines/s", "overlap", "");
	for (int i = 0; i < nb; i++)
		for (int ki = 0; ki < N_CHASE_K; ki++) {
			double ns = row_med(&rows[i][ki]);
			char nz[32];
			printf("%-5s %-4d %10.2f %12.1f %7.1fx  %s\n", bufs[i].name, chase_ks[ki], ns,
			       1e3 / ns, row_med(&rows[i][0]) / ns, row_noise(&rows[i][ki], nz, sizeof nz));
		}
}

/* ------------------------------------------------------------- model */
typedef struct layout {
	const char *name;
	size_t      nslots, nents; /* powers of two / counts */
} layout;

static uint32_t *g_keys;

/* Lay out slots then entries at the start of b; the slots name random entries. */
static void model_build(buffer *b, const layout *l, model *m, uint64_t seed)
{
	bench_rng r = {seed};
	uint64_t *slots = (uint64_t *)b->p;
	char *ents = b->p + ((l->nslots * sizeof(uint64_t) + 4095) & ~(size_t)4095);
	if ((size_t)(ents - b->p) + l->nents * ENTRY_BYTES > b->size) {
		fprintf(stderr, "bench-memlat: layout %s does not fit the buffer\n", l->name);
		exit(1);
	}
	for (size_t i = 0; i < l->nslots; i++)
		slots[i] = (rng_next(&r) & 0xffffffff00000000ull) | (uint32_t)(rng_next(&r) % l->nents);
	for (size_t i = 0; i < l->nents; i++)
		*(uint64_t *)(ents + i * ENTRY_BYTES) = rng_next(&r);
	m->slots = slots;
	m->slot_mask = l->nslots - 1;
	m->ents = ents;
	m->keys = g_keys;
	m->nops = opt.ops;
	b->nlines = 0; /* the chase cycle is gone */
}

enum { MODE_CHAIN, MODE_STREAM, MODE_BATCH };
typedef struct model_row {
	int mode, k, wi;
	row r[2];
} model_row;

static void run_model(const model *m, model_row *mr, int bi)
{
	const model_fns *f = &MODEL_W[mr->wi];
	load_sample a, z;
	load_take(&a);
	uint64_t t0 = thread_cpu_ns();
	if (mr->mode == MODE_CHAIN)
		g_sink += f->chain(m, mr->k);
	else if (mr->mode == MODE_STREAM)
		g_sink += f->stream(m);
	else
		g_sink += f->batch(m);
	uint64_t t1 = thread_cpu_ns();
	load_take(&z);
	row_add(&mr->r[bi], t1 - t0, m->nops, &a, &z);
}

/* the k sweep at W = 0 (a pair of misses per op), one get alone at every W, stream, batch32 */
static int model_rows(model_row *rows)
{
	static const int chain_k[] = {1, 2, 4, 8, 16, 32};
	int n = 0;
	for (size_t k = 0; k < sizeof chain_k / sizeof chain_k[0]; k++)
		rows[n++] = (model_row){MODE_CHAIN, chain_k[k], 0, {{{0}, 0, 0}, {{0}, 0, 0}}};
	for (int w = 1; w < N_MODEL_W; w++)
		rows[n++] = (model_row){MODE_CHAIN, 1, w, {{{0}, 0, 0}, {{0}, 0, 0}}};
	for (int w = 0; w < N_MODEL_W; w++)
		rows[n++] = (model_row){MODE_STREAM, 0, w, {{{0}, 0, 0}, {{0}, 0, 0}}};
	for (int w = 0; w < N_MODEL_W; w++)
		rows[n++] = (model_row){MODE_BATCH, BATCH, w, {{{0}, 0, 0}, {{0}, 0, 0}}};
	return n;
}

static void section_model(buffer *bufs, int nb, const layout *l)
{
	model m[2];
	model_row rows[64];
	int nr = model_rows(rows);
	for (int i = 0; i < nb; i++)
		model_build(&bufs[i], l, &m[i], 0x9abc);
	for (int rep = 0; rep < opt.reps; rep++)
		for (int ri = 0; ri < nr; ri++)
			for (int i = 0; i < nb; i++)
				run_model(&m[i], &rows[ri], i);

	printf("\n== model, %s: %zu slots (%zu MiB) -> %zu entries of %d B (%zu MiB); "
	       "ns per get, median of %d\n",
	       l->name, l->nslots, l->nslots * 8 / MIB, l->nents, ENTRY_BYTES,
	       l->nents * ENTRY_BYTES / MIB, opt.reps);
	printf("%-8s %-4s %5s %-4s", "mode", "k", "W", "kind");
	for (int i = 0; i < nb; i++)
		printf("  %8s %9s %7s %-13s", bufs[i].name, "M gets/s", "overlap", "");
	printf("\n");
	/* overlap: one get alone at the same W (chain k=1) over this row's ns per get */
	for (int ri = 0; ri < nr; ri++) {
		const model_row *mr = &rows[ri];
		const char *mode = mr->mode == MODE_CHAIN ? "chain" : mr->mode == MODE_STREAM ? "stream" : "batch32";
		char kbuf[8];
		snprintf(kbuf, sizeof kbuf, "%d", mr->k);
		printf("%-8s %-4s %5d %-4s", mode, mr->mode == MODE_STREAM ? "-" : kbuf, MODEL_W[mr->wi].W,
		       MODEL_W[mr->wi].kind);
		for (int i = 0; i < nb; i++) {
			double ns = row_med(&mr->r[i]), alone = 0;
			for (int rj = 0; rj < nr; rj++)
				if (rows[rj].mode == MODE_CHAIN && rows[rj].k == 1 && rows[rj].wi == mr->wi)
					alone = row_med(&rows[rj].r[i]);
			char nz[32], ov[16] = "";
			if (alone > 0)
				snprintf(ov, sizeof ov, "%6.1fx", alone / ns);
			printf("  %8.1f %9.2f %7s %-13s", ns, 1e3 / ns, ov, row_noise(&mr->r[i], nz, sizeof nz));
		}
		printf("\n");
	}
}

/* ------------------------------------------------------------- main */
static int layout_wanted(const char *name)
{
	if (!opt.layouts)
		return 1;
	for (const char *p = opt.layouts; *p;) {
		size_t n = strcspn(p, ",");
		char part[32];
		if (n > 0 && n < sizeof part) {
			memcpy(part, p, n);
			part[n] = 0;
			if (strstr(name, part))
				return 1;
		}
		p += n + (p[n] == ',');
	}
	return 0;
}

static void usage(void)
{
	printf("usage: bench-memlat [--quick] [--reps N] [--buffer-mib N] [--only latency,mlp,model] [--layouts L1,1M,10M]\n"
	       "  --quick        64 MiB buffers, 1 rep, short runs: a smoke run of every row (seconds)\n"
	       "  --reps N       repetitions per row, median reported (default 5)\n"
	       "  --buffer-mib N size of each of the two buffers (THP and 4K; default 1536)\n"
	       "  --only LIST    sections to run (default all)\n"
	       "  --layouts LIST model layouts to run, by part of their name: L1,1M,10M (default all)\n");
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick")) {
			opt.quick = 1;
		} else if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
			opt.reps = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--buffer-mib") && i + 1 < argc) {
			opt.buf_mib = (size_t)atol(argv[++i]);
		} else if (!strcmp(argv[i], "--layouts") && i + 1 < argc) {
			opt.layouts = argv[++i];
		} else if (!strcmp(argv[i], "--only") && i + 1 < argc) {
			const char *s = argv[++i];
			opt.do_latency = strstr(s, "latency") != NULL;
			opt.do_mlp = strstr(s, "mlp") != NULL;
			opt.do_model = strstr(s, "model") != NULL;
		} else {
			usage();
			return strcmp(argv[i], "--help") ? 2 : 0;
		}
	}
	if (opt.quick) {
		opt.reps = 1;
		opt.buf_mib = 64;
		opt.loads = 100000;
		opt.ops = 50000;
	}
	if (opt.reps < 1 || opt.reps > MAX_REPS || opt.buf_mib < 16) {
		usage();
		return 2;
	}

	size_t bytes = opt.buf_mib * MIB;
	buffer bufs[2];
	buffer_map(&bufs[0], bytes, 1);
	buffer_map(&bufs[1], bytes, 0);
	int nb = 2;

	g_keys = malloc(opt.ops * sizeof(uint32_t));
	if (!g_keys) {
		fprintf(stderr, "bench-memlat: out of memory for the op stream\n");
		return 1;
	}
	bench_rng r = {42};
	for (size_t i = 0; i < opt.ops; i++)
		g_keys[i] = (uint32_t)rng_next(&r);

	load_sample a, z;
	load_take(&a);
	printf("bench-memlat: core clock ~%.2f GHz (1-cycle add chain), %d reps per row%s\n",
	       clock_ghz(), opt.reps, opt.quick ? " (--quick)" : "");
	print_huge(bufs, nb);

	if (opt.do_latency) {
		size_t full[] = {16 * MIB, 128 * MIB, 512 * MIB, bytes};
		size_t quick[] = {4 * MIB, 16 * MIB, bytes};
		int n = 0;
		size_t sizes[4];
		const size_t *src = opt.quick ? quick : full;
		int nsrc = opt.quick ? 3 : 4;
		for (int i = 0; i < nsrc; i++)
			if (src[i] <= bytes && (n == 0 || src[i] > sizes[n - 1]))
				sizes[n++] = src[i];
		section_latency(bufs, nb, sizes, n);
	}
	if (opt.do_mlp)
		section_mlp(bufs, nb, bytes);
	if (opt.do_model) {
		/* bench-engine's reference at 1M and 10M keys: slots presized to load <= 3/4 */
		layout full[] = {{"in L1/L2 (instructions only)", 512, 256},
		                 {"1M keys", (size_t)1 << 21, 1000000},
		                 {"10M keys", (size_t)1 << 24, 10000000}};
		layout quick[] = {{"in L1/L2 (instructions only)", 512, 256},
		                  {"quick", (size_t)1 << 17, 100000}};
		const layout *ls = opt.quick ? quick : full;
		int nl = opt.quick ? 2 : 3;
		for (int i = 0; i < nl; i++) {
			if (!layout_wanted(ls[i].name))
				continue;
			size_t need = ((ls[i].nslots * 8 + 4095) & ~(size_t)4095) + ls[i].nents * ENTRY_BYTES;
			if (need > bytes) {
				printf("\n== model, %s: skipped (needs %zu MiB, --buffer-mib is %zu)\n",
				       ls[i].name, need / MIB + 1, opt.buf_mib);
				continue;
			}
			section_model(bufs, nb, &ls[i]);
		}
	}
	load_take(&z);
	printf("\nother load during the whole run: %.2f cores (from /proc/stat)\n", load_others(&a, &z));
	printf("bench-memlat: done\n");
	for (int i = 0; i < nb; i++)
		free(bufs[i].order);
	free(g_keys);
	return 0;
}
