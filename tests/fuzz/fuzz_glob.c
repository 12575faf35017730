/*
 * fuzz_glob.c -- libFuzzer target for kv_glob_match, the engine's one glob
 * matcher: every input is matched by it and by a slow reference written the
 * obvious way, and the two must agree.
 *
 * The reference follows Redis's stringmatchlen (util.c) element by element,
 * with two deliberate differences that kv.h documents: bytes compare unsigned,
 * and there is no recursion cap.  As in Redis, an empty string matches the
 * empty pattern only (its loop never starts), not even "*".
 * It recurses on every `*` (trying each split of the string), which is the
 * definition of the semantics, and memoises (pattern position, string
 * position) so that a bounded input stays cheap.  Inputs are bounded (pattern
 * and string at most GLOB_REF_MAX bytes each).
 *
 * Input layout: byte 0 = flags (bit 0: KV_GLOB_NOCASE), then the pattern, a
 * 0xff byte, then the string (no 0xff: all of it is the pattern, the string
 * is empty).
 *
 * tests/unit/test_glob.c includes this file with GLOB_REF_ONLY defined, to use
 * the reference in its randomized comparison.
 *
 * Build: make build/fuzz/fuzz_glob   Run: make fuzz (see tests/fuzz/README.md)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv.h"

#define GLOB_REF_MAX 96

typedef struct glob_ref {
	const unsigned char *p, *s;
	size_t pl, sl;
	int nocase;
	signed char memo[GLOB_REF_MAX + 1][GLOB_REF_MAX + 1]; /* -1 unknown, else 0/1 */
} glob_ref;

static unsigned char ref_lower(unsigned char c, int nocase)
{
	return nocase && c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

/* Does the one-byte element at pattern position pi match byte c?  *next gets
 * the position after it.  Redis's `[` loop, transcribed with lengths. */
static int ref_element(const glob_ref *g, size_t pi, unsigned char c, size_t *next)
{
	const unsigned char *p = g->p;
	size_t n = g->pl - pi; /* pattern bytes left, > 0 */
	if (p[pi] == '?') {
		*next = pi + 1;
		return 1;
	}
	if (p[pi] == '\\' && n >= 2) {
		*next = pi + 2;
		return ref_lower(p[pi + 1], g->nocase) == ref_lower(c, g->nocase);
	}
	if (p[pi] != '[') {
		*next = pi + 1;
		return ref_lower(p[pi], g->nocase) == ref_lower(c, g->nocase);
	}
	size_t i = pi + 1;
	int not = i < g->pl && p[i] == '^', match = 0;
	if (not)
		i++;
	for (;;) {
		if (i >= g->pl) { /* unclosed: the set ran to the end of the pattern */
			*next = g->pl;
			break;
		}
		if (p[i] == '\\' && g->pl - i >= 2) {
			i++;
			if (p[i] == c)
				match = 1;
		} else if (p[i] == ']') {
			*next = i + 1;
			break;
		} else if (g->pl - i >= 3 && p[i + 1] == '-') {
			int start = p[i], end = p[i + 2], x = c;
			if (start > end) {
				int t = start;
				start = end;
				end = t;
			}
			start = ref_lower((unsigned char)start, g->nocase);
			end = ref_lower((unsigned char)end, g->nocase);
			x = ref_lower((unsigned char)x, g->nocase);
			i += 2;
			if (x >= start && x <= end)
				match = 1;
		} else if (ref_lower(p[i], g->nocase) == ref_lower(c, g->nocase)) {
			match = 1;
		}
		i++;
	}
	return not ? !match : match;
}

/* Does pattern[pi..] match string[si..]? */
static int ref_match(glob_ref *g, size_t pi, size_t si)
{
	signed char *m = &g->memo[pi][si];
	if (*m >= 0)
		return *m;
	int r;
	if (pi == g->pl)
		r = si == g->sl;
	else if (g->p[pi] == '*') /* the star takes nothing, or one more byte */
		r = ref_match(g, pi + 1, si) || (si < g->sl && ref_match(g, pi, si + 1));
	else if (si == g->sl)
		r = 0;
	else {
		size_t next;
		r = ref_element(g, pi, g->s[si], &next) && ref_match(g, next, si + 1);
	}
	return *m = (signed char)r;
}

/* -1 if an input is over the bound, else 0/1. */
static int glob_ref_match(const void *p, size_t pl, const void *s, size_t sl, int nocase)
{
	static glob_ref g; /* ~9 KiB: not on the stack of a deep caller */
	if (pl > GLOB_REF_MAX || sl > GLOB_REF_MAX)
		return -1;
	g.p = p;
	g.s = s;
	g.pl = pl;
	g.sl = sl;
	g.nocase = nocase;
	if (sl == 0)
		return pl == 0;
	memset(g.memo, -1, sizeof g.memo);
	return ref_match(&g, 0, 0);
}

#ifndef GLOB_REF_ONLY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	unsigned flags = data[0] & 1 ? KV_GLOB_NOCASE : 0;
	const uint8_t *p = data + 1, *sep = memchr(p, 0xff, size - 1);
	size_t pl = sep ? (size_t)(sep - p) : size - 1;
	const uint8_t *s = sep ? sep + 1 : p + pl;
	size_t sl = sep ? size - 1 - pl - 1 : 0;
	if (pl > GLOB_REF_MAX || sl > GLOB_REF_MAX)
		return 0;
	/* exact-size heap copies, so ASan sees any read past either end */
	uint8_t *pc = malloc(pl ? pl : 1), *sc = malloc(sl ? sl : 1);
	if (!pc || !sc)
		abort();
	memcpy(pc, p, pl);
	memcpy(sc, s, sl);
	int got = kv_glob_match(pc, pl, sc, sl, flags);
	int want = glob_ref_match(pc, pl, sc, sl, flags != 0);
	if (got != want) {
		fprintf(stderr, "kv_glob_match says %d, the reference %d (nocase %d)\npattern:", got, want,
		        flags != 0);
		for (size_t i = 0; i < pl; i++)
			fprintf(stderr, " %02x", pc[i]);
		fprintf(stderr, "\nstring: ");
		for (size_t i = 0; i < sl; i++)
			fprintf(stderr, " %02x", sc[i]);
		fputc('\n', stderr);
		abort();
	}
	free(pc);
	free(sc);
	return 0;
}
#endif
