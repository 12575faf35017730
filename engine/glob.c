/*
 * glob.c -- the one Redis-style glob matcher of every host.
 *
 * Syntax (Redis KEYS / PSUBSCRIBE): `*` any run of bytes, `?` one byte,
 * `[abc]` `[^abc]` `[a-z]` a set of one byte (a reversed range is swapped, `\`
 * escapes inside a set), `\x` the byte x.  An unclosed `[` is a set that runs to
 * the end of the pattern, as in Redis.  The empty string matches the empty
 * pattern only, not even `*`, as in Redis (scans treat a MATCH of "*" as no
 * filter, as Redis's KEYS * and SCAN do, so they still list the empty key).
 * Bytes compare as unsigned values (Redis compares signed chars, so its ranges
 * across 0x80 differ from ours).
 *
 * HOW IT WORKS
 *   Every element except `*` matches exactly one byte.  So when a later element
 *   fails, only the most recent `*` needs to take one more byte: an earlier `*`
 *   taking more could only shift the string under a suffix that the latest `*`
 *   can already reach.  The matcher keeps that one backtrack point (where the
 *   last `*` is in the pattern and how far into the string it reaches) instead of
 *   recursing, so the worst case is O(pattern * string) time and O(1) space, and
 *   no pattern can drive a recursion depth (CVE-2022-36021's shape,
 *   "a*a*a*...b", runs in microseconds).
 */
#include "kv_internal.h"

static unsigned char fold(unsigned char c, bool nocase)
{
	return nocase && c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

/*
 * Does the single-byte element at p (not `*`) match c?  *len gets the element's
 * length in the pattern.
 */
static bool element_match(const unsigned char *p, size_t pl, unsigned char c, bool nocase,
                          size_t *len)
{
	if (p[0] == '?') {
		*len = 1;
		return true;
	}
	if (p[0] == '\\' && pl >= 2) {
		*len = 2;
		return fold(p[1], nocase) == fold(c, nocase);
	}
	if (p[0] != '[') {
		*len = 1;
		return fold(p[0], nocase) == fold(c, nocase);
	}
	size_t i = 1;
	bool neg = i < pl && p[i] == '^', match = false;
	if (neg)
		i++;
	unsigned char fc = fold(c, nocase);
	while (i < pl && p[i] != ']') {
		if (p[i] == '\\' && pl - i >= 2) {
			i++;
			if (p[i] == c) /* an escaped byte matches exactly, as in Redis */
				match = true;
		} else if (pl - i >= 3 && p[i + 1] == '-') {
			/* as Redis: order the ends first, then fold them ([Z-a] under
			 * NOCASE is z..a, an empty range) */
			unsigned char lo = p[i], hi = p[i + 2];
			if (lo > hi) {
				unsigned char t = lo;
				lo = hi;
				hi = t;
			}
			lo = fold(lo, nocase);
			hi = fold(hi, nocase);
			if (fc >= lo && fc <= hi)
				match = true;
			i += 2;
		} else if (fold(p[i], nocase) == fc) {
			match = true;
		}
		i++;
	}
	*len = i < pl ? i + 1 : pl; /* past the `]`, or to the end when unclosed */
	return neg ? !match : match;
}

KV_API int kv_glob_match(const void *pattern, size_t plen, const void *str, size_t slen,
                         unsigned flags)
{
	const unsigned char *p = pattern, *s = str;
	bool nocase = (flags & KV_GLOB_NOCASE) != 0;
	size_t pi = 0, si = 0;
	size_t star_p = SIZE_MAX, star_s = 0; /* after the last `*`; string position it reached */

	if ((plen && !p) || (slen && !s))
		return 0;
	if (slen == 0) /* as Redis: "" matches the empty pattern only, not even "*" */
		return plen == 0;
	while (si < slen) {
		if (pi < plen && p[pi] == '*') {
			while (pi < plen && p[pi] == '*')
				pi++;
			if (pi == plen)
				return 1;
			star_p = pi;
			star_s = si;
			continue;
		}
		size_t len;
		if (pi < plen && element_match(p + pi, plen - pi, s[si], nocase, &len)) {
			pi += len;
			si++;
			continue;
		}
		if (star_p == SIZE_MAX)
			return 0;
		pi = star_p; /* the last `*` takes one more byte */
		si = ++star_s;
	}
	while (pi < plen && p[pi] == '*')
		pi++;
	return pi == plen;
}
