/*
 * test.h -- the engine tests' tiny harness.
 *
 * Usage:
 *   int main(int argc, char **argv) {
 *       t_init(argc, argv);
 *       TEST("set then get") {
 *           E(kv_set(ns, K("a"), K("1"), KV_T_TEXT, KV_EXPIRE_NEVER, 0, NULL) == KV_OK);
 *       }
 *       return t_done();
 *   }
 *
 * TEST("name") { ... } runs its block once and counts it as passed when at
 * least one E() inside it ran and none failed: a block that checked nothing
 * fails, so a test cannot pass by skipping its own assertions.  Never `break` directly at the top level of a TEST block: the
 * block is a for loop, and a break would skip its bookkeeping.
 *
 * E(expr) checks expr.  On failure it prints file:line, the expression, and when
 * expr called R(...) (which E's convenience forms EOK/ERC do), the status that
 * call returned with its kv_strerror text.  E() is safe from several threads.
 * In a forked child, use t_child_begin()/t_child_exit() so the child's failures
 * become its exit status.
 *
 * The binary ends with "N passed, M failed" (counting TEST blocks) and exits
 * non-zero if anything failed.  argv[1], if given, runs only the tests whose
 * name contains it.  TEST_TIMEOUT (seconds, default 600) arms an alarm that
 * fails the binary instead of letting a deadlock hang the suite.  TEST_QUICK=1
 * asks tests to shrink their workloads (the sanitizer passes set it).
 */
#ifndef SHARDKV_TEST_H
#define SHARDKV_TEST_H

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kv.h"

static int t_passed, t_failed;
static int t_cur_fail;         /* failed checks in the current TEST (atomic) */
static int t_cur_checks;       /* checks run in the current TEST (atomic) */
static const char *t_cur_name = "(setup)";
static const char *t_filter;
static _Thread_local int t_last_rc;
static _Thread_local int t_have_rc;
static int t_child_base;

/* Flags shared between test threads (stop signals): atomic, so TSan agrees. */
#define T_LOAD(x)     __atomic_load_n(&(x), __ATOMIC_ACQUIRE)
#define T_STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELEASE)

/* Key/value literal: pointer and length, NUL bytes included ("a\0b" is 3 bytes). */
#define K(s) (s), (sizeof(s) - 1)

static inline const char *t_code_name(int rc)
{
	static _Thread_local char buf[64];
	const char *s = kv_strerror(rc);
	size_t i = 0;
	if (s == NULL)
		return "(null strerror)";
	while (s[i] && s[i] != ':' && i < sizeof(buf) - 1) {
		buf[i] = s[i];
		i++;
	}
	buf[i] = '\0';
	return buf;
}

/* Record a status for E()'s failure message and pass it through. */
static inline int t_rc(int rc)
{
	t_last_rc = rc;
	t_have_rc = 1;
	return rc;
}
#define R(call) t_rc(call)

static inline void t_reset_rc(void)
{
	t_have_rc = 0;
}

static inline int t_check(int ok, const char *expr, const char *file, int line)
{
	__atomic_add_fetch(&t_cur_checks, 1, __ATOMIC_RELAXED);
	if (ok)
		return 1;
	int n = __atomic_add_fetch(&t_cur_fail, 1, __ATOMIC_RELAXED);
	if (n <= 20) {
		if (t_have_rc)
			fprintf(stderr, "    %s:%d: check failed: %s\n        (status %d = %s)\n", file,
			        line, expr, t_last_rc, kv_strerror(t_last_rc));
		else
			fprintf(stderr, "    %s:%d: check failed: %s\n", file, line, expr);
	} else if (n == 21) {
		fprintf(stderr, "    (further failures of this test not shown)\n");
	}
	fflush(stderr);
	return 0;
}

#define E(expr) (t_reset_rc(), t_check(!!(expr), #expr, __FILE__, __LINE__))
/* The call must return KV_OK / the given status. */
#define EOK(call) E(R(call) == KV_OK)
#define ERC(call, want) E(R(call) == (want))

/* Note something a test could not check (printed, not counted as failure). */
#define NOTE(...) (fprintf(stderr, "    note: " __VA_ARGS__), fputc('\n', stderr))

static inline int t_begin(const char *name)
{
	if (t_filter && !strstr(name, t_filter))
		return 0;
	t_cur_name = name;
	__atomic_store_n(&t_cur_fail, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&t_cur_checks, 0, __ATOMIC_RELAXED);
	fprintf(stderr, "  ... %s\n", name);
	fflush(stderr);
	return 1;
}

static inline int t_end(void)
{
	if (__atomic_load_n(&t_cur_checks, __ATOMIC_RELAXED) == 0) {
		fprintf(stderr, "    %s: the test ran no check\n", t_cur_name);
		__atomic_add_fetch(&t_cur_fail, 1, __ATOMIC_RELAXED);
	}
	if (__atomic_load_n(&t_cur_fail, __ATOMIC_RELAXED)) {
		t_failed++;
		printf("FAIL %s\n", t_cur_name);
	} else {
		t_passed++;
		printf("ok   %s\n", t_cur_name);
	}
	fflush(stdout);
	t_cur_name = "(between tests)";
	return 0;
}

#define TEST(name) for (int t_once_ = t_begin(name); t_once_; t_once_ = t_end())

static void t_on_alarm(int sig)
{
	(void)sig;
	static const char msg[] = "TIMEOUT: the test binary ran past TEST_TIMEOUT (deadlock?)\n";
	ssize_t w = write(2, msg, sizeof(msg) - 1);
	(void)w;
	w = write(2, "  in test: ", 11);
	w = write(2, t_cur_name, strlen(t_cur_name));
	w = write(2, "\n", 1);
	w = write(1, "0 passed, 1 failed\n", 19);
	(void)w;
	_exit(3);
}

/* The whole file p, malloc'd (NULL if unreadable), its size in *n. */
static inline unsigned char *t_read_file(const char *p, size_t *n)
{
	FILE *f = fopen(p, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long sz = ftell(f);
	fseek(f, 0, SEEK_SET);
	unsigned char *b = malloc((size_t)sz + 1);
	if (b && fread(b, 1, (size_t)sz, f) != (size_t)sz) {
		free(b);
		b = NULL;
	}
	fclose(f);
	*n = (size_t)sz;
	return b;
}

/* Write b[0..n) as the file p, replacing it: 0, or -1. */
static inline int t_write_file(const char *p, const void *b, size_t n)
{
	FILE *f = fopen(p, "wb");
	if (!f)
		return -1;
	int ok = fwrite(b, 1, n, f) == n;
	return fclose(f) == 0 && ok ? 0 : -1;
}

static inline int t_quick(void)
{
	const char *q = getenv("TEST_QUICK");
	return q && *q && strcmp(q, "0") != 0;
}

static inline void t_init(int argc, char **argv)
{
	const char *to = getenv("TEST_TIMEOUT");
	unsigned secs = to ? (unsigned)atoi(to) : 600;
	if (argc > 1 && argv[1][0])
		t_filter = argv[1];
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGALRM, t_on_alarm);
	if (secs)
		alarm(secs);
}

static inline int t_done(void)
{
	printf("%d passed, %d failed\n", t_passed, t_failed);
	fflush(stdout);
	return t_failed ? 1 : 0;
}

/* In a fork()ed child: count failures from here on, and exit with them. */
static inline void t_child_begin(void)
{
	t_child_base = __atomic_load_n(&t_cur_fail, __ATOMIC_RELAXED);
	alarm(0);
}
static inline void t_child_exit(void)
{
	int n = __atomic_load_n(&t_cur_fail, __ATOMIC_RELAXED) - t_child_base;
	fflush(stdout);
	fflush(stderr);
	_exit(n > 100 ? 100 : n);
}

/* ------------------------------------------------------------ helpers */

static inline void t_sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
	}
}

/* Sleep until kv_now_ms() is past t. */
static inline void t_sleep_until(int64_t t)
{
	int64_t now;
	while ((now = kv_now_ms()) <= t)
		t_sleep_ms((long)(t - now) + 1);
}

/* splitmix64: seeded, reproducible randomness for the randomized tests. */
static inline uint64_t t_rand(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static inline uint64_t t_seed(const char *what)
{
	const char *s = getenv("TEST_SEED");
	uint64_t seed;
	if (s && *s)
		seed = strtoull(s, NULL, 0);
	else {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)getpid();
	}
	printf("seed for %s: TEST_SEED=%llu\n", what, (unsigned long long)seed);
	return seed;
}

/* A mode (a) environment of `mem` bytes (0: 256 MiB); NULL on failure (counted). */
static inline kv_env *t_env(size_t mem)
{
	kv_config cfg;
	kv_env *env = NULL;
	kv_config_init(&cfg);
	cfg.memory = mem ? mem : ((size_t)256 << 20);
	if (!EOK(kv_env_open(&cfg, &env)))
		return NULL;
	return env;
}

/* Create namespace name (cfg may be NULL) and open a handle on it. */
static inline kv_ns *t_ns(kv_env *env, const char *name, const kv_ns_config *cfg)
{
	kv_ns *ns = NULL;
	if (!EOK(kv_ns_create(env, name, cfg)))
		return NULL;
	if (!EOK(kv_ns_open(env, name, &ns)))
		return NULL;
	return ns;
}

/*
 * A kv_mem_methods.xRealloc that counts the blocks it has live in
 * t_live_blocks and fails (returns NULL) while t_alloc_fail is set: for leak
 * checks and out-of-memory paths.  Safe from several threads.
 */
static long t_live_blocks;
static int t_alloc_fail;
static inline void *t_count_realloc(void *ctx, void *p, size_t n)
{
	(void)ctx;
	if (n == 0) {
		if (p)
			__atomic_sub_fetch(&t_live_blocks, 1, __ATOMIC_RELAXED);
		free(p);
		return NULL;
	}
	if (__atomic_load_n(&t_alloc_fail, __ATOMIC_RELAXED))
		return NULL;
	void *q = realloc(p, n);
	if (q && !p)
		__atomic_add_fetch(&t_live_blocks, 1, __ATOMIC_RELAXED);
	return q;
}

/* Does out hold exactly the bytes v[0..n)? */
static inline int t_buf_is(const kv_buf *b, const void *v, size_t n)
{
	return b->len == n && (n == 0 || memcmp(b->data, v, n) == 0) && b->data != NULL &&
	       b->data[n] == '\0';
}

#endif /* SHARDKV_TEST_H */
