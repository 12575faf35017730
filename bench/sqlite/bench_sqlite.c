/*
 * bench_sqlite.c -- the kv virtual table and kv_get() against a native
 * WITHOUT ROWID table, in one process and one run (issue 6).
 *
 *   bench_sqlite [--quick] [--keys N] [--reps R] [--only WORKLOAD] [--tsv PATH]
 *
 * Data: N keys 'key:NNNNNNN' (11 bytes) with 100-byte values (default 1M;
 * --quick: 100k).  Peer: CREATE TABLE nat(key TEXT PRIMARY KEY, value) WITHOUT
 * ROWID in :memory:, same connection, same prepared-statement loop.
 *
 * Workloads, each run R times as native, kv, native, kv, ... (interleaved):
 *   bulk insert      N rows in one transaction (fresh table / flushed namespace),
 *                    keys in ascending order (a B-tree's best case)
 *   bulk ins random  the same with the keys in a pseudo-random order
 *   point lookup     SELECT value FROM t WHERE key = ?     (random existing keys)
 *   kv_get()         SELECT kv_get('bench', ?)  vs  the native point lookup
 *   update batches   BEGIN; 1000 x UPDATE t SET value = ? WHERE key = ?; COMMIT
 *
 * Times are thread CPU time (CLOCK_THREAD_CPUTIME_ID) with wall time beside it;
 * the ratio is native median / kv median (higher is better for kv).  A run is
 * marked [noisy] when /proc/stat shows the machine busier than this process
 * explains by more than half a core.
 */
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "kv.h" /* kv_version: the engine the figures are of */

int sqlite3_shardkv_init(sqlite3 *db, char **pzErrMsg, const sqlite3_api_routines *pApi);

static sqlite3 *db;
static int      nkeys = 1000000, reps = 5, quick;
static const char *only; /* --only WORKLOAD-PREFIX: run just that one */
static FILE    *tsv;  /* --tsv PATH: every repetition, for bench/charts.py */
static char     value[101];

static double now_s(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* busy and total jiffies of the whole machine */
static void cpu_jiffies(unsigned long long *busy, unsigned long long *total)
{
	unsigned long long v[10] = {0};
	FILE              *f = fopen("/proc/stat", "r");

	*busy = *total = 0;
	if (f == NULL)
		return;
	if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
	           &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]) >= 8) {
		for (int i = 0; i < 8; i++)
			*total += v[i];
		*busy = *total - v[3] - v[4];
	}
	fclose(f);
}

static void die(const char *what)
{
	fprintf(stderr, "bench_sqlite: %s: %s\n", what, sqlite3_errmsg(db));
	exit(1);
}

static void exec(const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
		fprintf(stderr, "bench_sqlite: %s: %s\n", sql, err ? err : "?");
		exit(1);
	}
}

static sqlite3_stmt *prep(const char *sql)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		die(sql);
	return st;
}

static void key_of(char *buf, uint64_t i)
{
	snprintf(buf, 12, "key:%07" PRIu64, i % 10000000);
}

static uint64_t rng = 88172645463325252ull;
static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* Step a statement that returns at most one row; returns 1 if it gave a row. */
static int step_once(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st), row = 0;

	if (rc == SQLITE_ROW) {
		row = 1;
		rc = sqlite3_step(st);
	}
	if (rc != SQLITE_DONE)
		die("step");
	sqlite3_reset(st);
	return row;
}

/* ---------------------------------------------------------- workloads */

typedef struct side {
	const char *table;   /* "nat" or "kvt" */
	int         is_kv;
} side;

static void reset_table(const side *s)
{
	if (s->is_kv) {
		exec("SELECT kv_flush('bench')");
	} else {
		exec("DROP TABLE IF EXISTS nat");
		exec("CREATE TABLE nat(key TEXT PRIMARY KEY, value) WITHOUT ROWID");
	}
}

/* N rows in one transaction; shuffled: keys in a pseudo-random order. */
static long bulk_insert_order(const side *s, int shuffled)
{
	char          sql[128], key[12];
	sqlite3_stmt *st;

	snprintf(sql, sizeof(sql), "INSERT INTO %s(key, value) VALUES (?, ?)", s->table);
	st = prep(sql);
	exec("BEGIN");
	for (int i = 0; i < nkeys; i++) {
		/* 2654435761 is prime, so i -> i * p mod N is a permutation of 0..N-1
		 * unless N is a multiple of it */
		key_of(key, shuffled ? (uint64_t)i * 2654435761u % (uint64_t)nkeys : (uint64_t)i);
		sqlite3_bind_text(st, 1, key, 11, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, value, 100, SQLITE_STATIC);
		step_once(st);
	}
	exec("COMMIT");
	sqlite3_finalize(st);
	return nkeys;
}

static long bulk_insert(const side *s)
{
	return bulk_insert_order(s, 0);
}

static long bulk_insert_shuffled(const side *s)
{
	return bulk_insert_order(s, 1);
}

static long lookups(const side *s, int use_fn)
{
	char          sql[128], key[12];
	sqlite3_stmt *st;
	long          n = quick ? 200000 : 1000000, hits = 0;

	if (use_fn && s->is_kv)
		snprintf(sql, sizeof(sql), "SELECT kv_get('bench', ?)");
	else
		snprintf(sql, sizeof(sql), "SELECT value FROM %s WHERE key = ?", s->table);
	st = prep(sql);
	for (long i = 0; i < n; i++) {
		key_of(key, next_rand() % (uint64_t)nkeys);
		sqlite3_bind_text(st, 1, key, 11, SQLITE_STATIC);
		hits += step_once(st);
	}
	sqlite3_finalize(st);
	if (hits != n) {
		fprintf(stderr, "bench_sqlite: %s: %ld of %ld lookups hit\n", s->table, hits, n);
		exit(1);
	}
	return n;
}

static long point_lookup(const side *s)
{
	return lookups(s, 0);
}

static long fn_get(const side *s)
{
	return lookups(s, 1);
}

static long update_batches(const side *s)
{
	char          sql[128], key[12], val[101];
	sqlite3_stmt *st;
	int           batches = quick ? 50 : 200;

	snprintf(sql, sizeof(sql), "UPDATE %s SET value = ? WHERE key = ?", s->table);
	st = prep(sql);
	memcpy(val, value, sizeof(val));
	for (int b = 0; b < batches; b++) {
		exec("BEGIN");
		for (int i = 0; i < 1000; i++) {
			key_of(key, next_rand() % (uint64_t)nkeys);
			val[0] = (char)('a' + (i % 26));
			sqlite3_bind_text(st, 1, val, 100, SQLITE_STATIC);
			sqlite3_bind_text(st, 2, key, 11, SQLITE_STATIC);
			step_once(st);
		}
		exec("COMMIT");
	}
	sqlite3_finalize(st);
	return (long)batches * 1000;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/*
 * Run fn on both sides reps times, interleaved; print one table row.
 * before(side) prepares each run untimed (may be NULL).
 */
static void run(const char *name, long (*fn)(const side *), void (*before)(const side *),
                double target)
{
	static const side sides[2] = {{"nat", 0}, {"kvt", 1}};
	double cpu[2][16], wall[2][16];
	long   ops = 0;
	int    noisy = 0;

	if (only != NULL && strncmp(name, only, strlen(only)) != 0)
		return;

	for (int r = 0; r < reps; r++) {
		for (int k = 0; k < 2; k++) {
			unsigned long long b0, t0, b1, t1;
			double c0, w0, c1, w1, pc0, pc1;

			if (before)
				before(&sides[k]);
			cpu_jiffies(&b0, &t0);
			pc0 = now_s(CLOCK_PROCESS_CPUTIME_ID);
			c0 = now_s(CLOCK_THREAD_CPUTIME_ID);
			w0 = now_s(CLOCK_MONOTONIC);
			ops = fn(&sides[k]);
			c1 = now_s(CLOCK_THREAD_CPUTIME_ID);
			w1 = now_s(CLOCK_MONOTONIC);
			pc1 = now_s(CLOCK_PROCESS_CPUTIME_ID);
			cpu_jiffies(&b1, &t1);
			cpu[k][r] = c1 - c0;
			wall[k][r] = w1 - w0;
			/* machine busy seconds (2 cores) beyond our own process's CPU */
			if (t1 > t0) {
				double busy_s = (double)(b1 - b0) / (double)(t1 - t0) * 2.0 * (w1 - w0);

				if (busy_s - (pc1 - pc0) > 0.5 * (w1 - w0))
					noisy = 1;
			}
		}
	}
	{
		double cn = median(cpu[0], reps), ck = median(cpu[1], reps);
		double wn = median(wall[0], reps), wk = median(wall[1], reps);

		printf("%-16s %10.0f %10.0f %7.2fx %7.2fx   >= %.1fx %s%s\n", name, ops / cn, ops / ck, cn / ck,
		       wn / wk, target, cn / ck >= target ? "met" : "NOT MET", noisy ? " [noisy]" : "");
		fflush(stdout);
	}
	for (int r = 0; tsv && r < reps; r++) /* kv vs native, per thread-CPU second */
		fprintf(tsv, "sqlite\t%s\t%d keys\tWITHOUT ROWID table\t%d\t%.6g\t%.6g\tops/s\tcpu\thigher\t%d\n",
		        name, nkeys, r + 1, ops / cpu[1][r], ops / cpu[0][r], noisy);
}

static void only_fill(void)
{
	static const side sides[2] = {{"nat", 0}, {"kvt", 1}};

	for (int k = 0; k < 2; k++) {
		reset_table(&sides[k]);
		bulk_insert(&sides[k]);
	}
}

static void before_bulk(const side *s)
{
	reset_table(s);
}

int main(int argc, char **argv)
{
	char *err = NULL;
	const char *tsv_path = NULL;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0) {
			quick = 1;
			nkeys = 100000;
			reps = 3;
		} else if (strcmp(argv[i], "--keys") == 0 && i + 1 < argc) {
			nkeys = atoi(argv[++i]);
		} else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
			only = argv[++i];
		} else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
			reps = atoi(argv[++i]);
		} else if (strcmp(argv[i], "--tsv") == 0 && i + 1 < argc) {
			tsv_path = argv[++i];
		} else {
			fprintf(stderr, "usage: bench_sqlite [--quick] [--keys N] [--reps R] [--only WORKLOAD] "
			                "[--tsv PATH]\n");
			return 2;
		}
	}
	if (reps < 1 || reps > 16 || nkeys < 1000) {
		fprintf(stderr, "bench_sqlite: reps must be 1..16 and keys >= 1000\n");
		return 2;
	}
	for (int i = 0; i < 100; i++)
		value[i] = (char)('a' + i % 26);
	value[100] = '\0';
	if (sqlite3_auto_extension((void (*)(void))sqlite3_shardkv_init) != SQLITE_OK ||
	    sqlite3_open(":memory:", &db) != SQLITE_OK)
		die("open");
	exec("CREATE VIRTUAL TABLE kvt USING kv(namespace=bench, shards=16)");
	exec("CREATE TABLE nat(key TEXT PRIMARY KEY, value) WITHOUT ROWID");
	(void)err;

	printf("# sqlite %s, shardkv %s: %d keys (11 B) x 100 B values, %d reps interleaved%s\n",
	       sqlite3_libversion(), kv_version(), nkeys, reps, quick ? ", QUICK" : "");
	printf("# ops/s are per thread-CPU second (median); ratio = native time / kv time\n");
	printf("%-16s %10s %10s %8s %8s   %s\n", "workload", "native/s", "kv/s", "cpu", "wall", "target");
	if (tsv_path) {
		if (!(tsv = fopen(tsv_path, "w"))) {
			perror(tsv_path);
			return 1;
		}
		fprintf(tsv, "# bench/sqlite/bench_sqlite, %d keys, %d rep(s)%s\n", nkeys, reps, quick ? ", quick" : "");
		fprintf(tsv, "host\tworkload\tconfig\tpeer\trep\tours\ttheirs\tunit\tbasis\tbetter\tnoisy\n");
	}
	run("bulk insert", bulk_insert, before_bulk, 2.0);
	run("bulk ins random", bulk_insert_shuffled, before_bulk, 2.0);
	/* both tables now hold the keys (the last run of each side filled it) */
	if (only != NULL && strncmp("bulk", only, strlen(only)) != 0) {
		/* fill both tables when the bulk insert did not run */
		only_fill();
	}
	run("point lookup", point_lookup, NULL, 1.5);
	run("kv_get()", fn_get, NULL, 2.0);
	run("update x1000 tx", update_batches, NULL, 1.5);
	sqlite3_close(db);
	if (tsv && fclose(tsv) != 0) {
		perror(tsv_path);
		return 1;
	}
	return 0;
}
