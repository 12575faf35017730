/*
 * test_glob.c -- kv_glob_match, the one glob matcher of every host (issue 9).
 *
 *  - Redis semantics, case by case: `*` `?` sets, negated sets, ranges
 *    (reversed ones too), escapes inside and outside sets, an unclosed `[`, a
 *    trailing `\`, NOCASE, binary bytes, empty pattern and string.
 *  - The hostile shapes (CVE-2022-36021's "a*a*...*b" and the iterative
 *    matcher's own worst case) finish fast on long strings.
 *  - Random patterns over a small alphabet agree with the reference matcher of
 *    tests/fuzz/fuzz_glob.c.
 */
#include <time.h>

#include "test.h"

#define GLOB_REF_ONLY
#include "../fuzz/fuzz_glob.c"

typedef struct {
	const char *pat, *str;
	unsigned flags;
	int want;
} gcase;

static const gcase cases[] = {
    /* stars and ? */
    {"*", "", 0, 0},   /* as Redis: the empty string matches the empty pattern only */
    {"*", "anything", 0, 1},
    {"**", "", 0, 0},
    {"", "", 0, 1},
    {"", "a", 0, 0},
    {"a*", "a", 0, 1},
    {"a*", "ba", 0, 0},
    {"*a", "bba", 0, 1},
    {"a*b", "ab", 0, 1},
    {"a*b", "aXYZb", 0, 1},
    {"a*b", "aXYZbc", 0, 0},
    {"a*b*c", "abbbcbc", 0, 1},
    {"?", "", 0, 0},
    {"?", "x", 0, 1},
    {"??", "x", 0, 0},
    {"h?llo", "hello", 0, 1},
    {"h?llo", "hllo", 0, 0},
    {"h*llo", "hllo", 0, 1},
    /* sets */
    {"h[ae]llo", "hallo", 0, 1},
    {"h[ae]llo", "hillo", 0, 0},
    {"h[^e]llo", "hallo", 0, 1},
    {"h[^e]llo", "hello", 0, 0},
    {"h[a-b]llo", "hbllo", 0, 1},
    {"h[a-b]llo", "hcllo", 0, 0},
    {"[z-a]", "m", 0, 1},          /* a reversed range is swapped */
    {"[^a-c]", "d", 0, 1},
    {"[^a-c]", "b", 0, 0},
    {"[]", "a", 0, 0},             /* `]` right away closes an empty set */
    {"[^]", "a", 0, 1},
    {"[a-]", "]", 0, 1},           /* "a-]" is the range a..], and the set runs on */
    {"[-a]", "-", 0, 1},
    {"[\\]]", "]", 0, 1},          /* an escaped `]` inside a set */
    {"[\\^]", "^", 0, 1},
    {"[\\-]", "-", 0, 1},
    {"[a\\-z]", "b", 0, 0},        /* escaped `-`: no range */
    {"[*]", "*", 0, 1},
    {"[?]", "x", 0, 0},
    /* an unclosed `[`: a set running to the end of the pattern */
    {"a[bc", "ab", 0, 1},
    {"a[bc", "ac", 0, 1},
    {"a[bc", "abc", 0, 0},
    {"a[", "a", 0, 0},
    {"[", "", 0, 0},
    {"[^", "x", 0, 1},
    /* escapes */
    {"\\*", "*", 0, 1},
    {"\\*", "a", 0, 0},
    {"\\?", "?", 0, 1},
    {"\\[a]", "[a]", 0, 1},
    {"\\a", "a", 0, 1},
    {"a\\", "a\\", 0, 1},          /* a trailing `\` is itself */
    {"a\\", "a", 0, 0},
    {"*\\*", "xx*", 0, 1},
    /* NOCASE (ASCII letters only) */
    {"HELLO", "hello", 0, 0},
    {"HELLO", "hello", KV_GLOB_NOCASE, 1},
    {"h[A-C]llo", "hbllo", KV_GLOB_NOCASE, 1},
    {"h[a-c]llo", "hBllo", KV_GLOB_NOCASE, 1},
    {"h[^A-C]llo", "hbllo", KV_GLOB_NOCASE, 0},
    {"[Z-a]", "q", KV_GLOB_NOCASE, 0},  /* as Redis: order, then fold: z..a is empty */
    {"[Z-a]", "_", 0, 1},
    {"[\\A]", "a", KV_GLOB_NOCASE, 0},  /* an escaped byte in a set compares exactly */
    {"\\A", "a", KV_GLOB_NOCASE, 1},
    {"\xc4", "\xe4", KV_GLOB_NOCASE, 0}, /* no folding beyond ASCII */
    /* bytes compare unsigned */
    {"[\x01-\xff]", "\x80", 0, 1},
    {"[\x7f-\x81]", "\x80", 0, 1},
    {"[\x7f-\x81]", "A", 0, 0},
};

/* Patterns and strings with NUL bytes, by explicit length. */
static void binary_cases(void)
{
	E(kv_glob_match("a\0*", 3, "a\0bc", 4, 0) == 1);
	E(kv_glob_match("a\0*", 3, "a", 1, 0) == 0);
	E(kv_glob_match("?", 1, "\0", 1, 0) == 1);
	E(kv_glob_match("[\0-\x01]", 5, "\x01", 1, 0) == 1);
	E(kv_glob_match("*", 1, NULL, 0, 0) == 0); /* "" matches only the empty pattern */
	E(kv_glob_match(NULL, 0, NULL, 0, 0) == 1);
	E(kv_glob_match(NULL, 0, "a", 1, 0) == 0);
	E(kv_glob_match(NULL, 3, "a", 1, 0) == 0); /* a NULL with a length matches nothing */
}

static double secs_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

int main(int argc, char **argv)
{
	t_init(argc, argv);

	TEST("Redis glob semantics, case by case")
	{
		for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
			const gcase *c = &cases[i];
			int got = kv_glob_match(c->pat, strlen(c->pat), c->str, strlen(c->str), c->flags);
			if (!E(got == c->want))
				fprintf(stderr, "    pattern \"%s\" string \"%s\" nocase %u: got %d\n", c->pat,
				        c->str, c->flags, got);
			/* and the reference agrees with the table */
			int ref = glob_ref_match(c->pat, strlen(c->pat), c->str, strlen(c->str), c->flags != 0);
			if (!E(ref == c->want))
				fprintf(stderr, "    reference: pattern \"%s\" string \"%s\": %d\n", c->pat, c->str, ref);
		}
		binary_cases();
	}

	TEST("hostile patterns over long strings finish fast")
	{
		size_t sl = t_quick() ? 20000 : 100000;
		char *s = malloc(sl + 1), *p = malloc(4096);
		memset(s, 'a', sl);
		s[sl] = 0;
		/* CVE-2022-36021's shape: exponential for a plain recursive matcher */
		size_t pl = 0;
		for (int i = 0; i < 40; i++)
			p[pl++] = 'a', p[pl++] = '*';
		p[pl++] = 'b';
		struct timespec t0;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		E(kv_glob_match(p, pl, s, sl, 0) == 0);
		E(kv_glob_match(p, pl, s, sl, KV_GLOB_NOCASE) == 0);
		/* many stars, each followed by a set: still one backtrack point */
		pl = 0;
		for (int i = 0; i < 200; i++) {
			memcpy(p + pl, "*[a-c]", 6);
			pl += 6;
		}
		p[pl++] = 'b';
		E(kv_glob_match(p, pl, s, sl, 0) == 0);
		double fast = secs_since(&t0);
		printf("    star-heavy patterns over %zu bytes: %.1f ms\n", sl, fast * 1e3);
		E(fast < 1.0);
		/* the iterative matcher's own worst case, O(pattern * string): a star then a
		 * run that fails only at its last byte at every offset; bounded, not fast */
		p[0] = '*';
		memset(p + 1, 'a', 100);
		p[101] = 'b';
		clock_gettime(CLOCK_MONOTONIC, &t0);
		E(kv_glob_match(p, 102, s, sl, 0) == 0);
		double worst = secs_since(&t0);
		printf("    O(p*s) worst case, 102 x %zu: %.1f ms\n", sl, worst * 1e3);
		E(worst < 5.0);
		free(s);
		free(p);
	}

	TEST("random patterns agree with the reference matcher")
	{
		uint64_t seed = t_seed("glob");
		static const char alpha[] = "ab*?[]^-\\Ac";
		long n = t_quick() ? 20000 : 200000, bad = 0;
		for (long k = 0; k < n; k++) {
			char p[24], s[24];
			size_t pl = t_rand(&seed) % sizeof p, sl = t_rand(&seed) % sizeof s;
			for (size_t i = 0; i < pl; i++)
				p[i] = alpha[t_rand(&seed) % (sizeof alpha - 1)];
			for (size_t i = 0; i < sl; i++)
				s[i] = "abcA-]"[t_rand(&seed) % 6];
			unsigned f = t_rand(&seed) & 1 ? KV_GLOB_NOCASE : 0;
			int got = kv_glob_match(p, pl, s, sl, f), want = glob_ref_match(p, pl, s, sl, f != 0);
			if (got != want && bad++ < 5)
				fprintf(stderr, "    \"%.*s\" vs \"%.*s\" nocase %u: %d, reference %d\n", (int)pl, p,
				        (int)sl, s, f, got, want);
		}
		E(bad == 0);
	}

	return t_done();
}
