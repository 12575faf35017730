/*
 * numfmt.c -- the canonical text of a double (KV_T_REAL), shared by every host.
 *
 * HOW IT WORKS
 *   The shortest digit string that strtod reads back to the same double is found
 *   by asking printf for 1, 2, ... 17 significant digits ("%.*e") and keeping the
 *   first that round-trips (17 always does).  The digits and the decimal exponent
 *   are then laid out as JavaScript's Number#toString lays them out: plain
 *   decimal for 1e-7 <= |x| < 1e21, "d.ddde+XX" / "d.ddde-XX" outside.  The work
 *   is bounded (at most 17 formats of a 32-byte string), so it may run under a
 *   shard lock.
 */
#include "kv_internal.h"

#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

/*
 * Number text is the same in every process: a host may run under a locale
 * whose decimal point is a comma (a SQLite application after setlocale), and
 * printf/strtod follow LC_NUMERIC.  The engine formats and parses under its
 * own "C" locale object, switched in for the calling thread only.
 */
static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void c_locale_init(void)
{
	c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

locale_t kv_c_locale(void)
{
	pthread_once(&c_locale_once, c_locale_init);
	return c_locale; /* (locale_t)0 if newlocale failed: the caller's locale */
}

KV_API size_t kv_fmt_double(double d, char *buf, size_t cap)
{
	char out[KV_DOUBLE_BUFSZ];
	size_t n = 0;
	if (!isfinite(d)) {
		if (cap)
			buf[0] = 0;
		return 0;
	}
	if (d == 0) {
		n = signbit(d) ? 2 : 1;
		memcpy(out, signbit(d) ? "-0" : "0", n + 1);
		goto copy;
	}
	char e[40];
	locale_t c = kv_c_locale(), old = c ? uselocale(c) : (locale_t)0;
	for (int prec = 0; prec <= 16; prec++) {
		snprintf(e, sizeof e, "%.*e", prec, d);
		if (strtod(e, NULL) == d)
			break;
	}
	if (c)
		uselocale(old);
	/* e is "[-]d[.ddd]e[+-]XX": split into digits and exponent */
	const char *p = e;
	bool neg = *p == '-';
	if (neg)
		p++;
	char dig[20];
	int nd = 0;
	for (; *p != 'e'; p++)
		if (*p != '.')
			dig[nd++] = *p;
	while (nd > 1 && dig[nd - 1] == '0')
		nd--;
	int x = atoi(p + 1); /* value = 0.dig * 10^(x+1) */
	int k = x + 1;       /* digits before the point */
	if (neg)
		out[n++] = '-';
	if (k >= -5 && k <= 21) {
		if (k <= 0) {
			out[n++] = '0';
			out[n++] = '.';
			for (int i = 0; i < -k; i++)
				out[n++] = '0';
			memcpy(out + n, dig, (size_t)nd);
			n += (size_t)nd;
		} else {
			for (int i = 0; i < k || i < nd; i++) {
				if (i == k)
					out[n++] = '.';
				out[n++] = i < nd ? dig[i] : '0';
			}
		}
	} else {
		out[n++] = dig[0];
		if (nd > 1) {
			out[n++] = '.';
			memcpy(out + n, dig + 1, (size_t)nd - 1);
			n += (size_t)nd - 1;
		}
		n += (size_t)snprintf(out + n, sizeof out - n, "e%c%d", x < 0 ? '-' : '+', x < 0 ? -x : x);
	}
	out[n] = 0;
copy:
	if (n < cap)
		memcpy(buf, out, n + 1);
	else if (cap)
		buf[0] = 0;
	return n;
}
