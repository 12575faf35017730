/*
 * units.c -- sizes with units, as Redis's memtoll reads them in its config and
 * every host's memory settings should: "100", "64mb", "1G".
 *
 * Decimal digits, then an optional unit, ASCII case-insensitive: b = 1,
 * k = 1000, kb = 1024, m = 10^6, mb = 2^20, g = 10^9, gb = 2^30,
 * t = 10^12, tb = 2^40.  No sign, no spaces, no fraction, no empty number;
 * a result that does not fit uint64_t is refused, never wrapped.
 */
#include "kv_internal.h"

static const struct {
	const char *unit;
	uint64_t    mul;
} units[] = {
	{"", 1}, {"b", 1},
	{"k", UINT64_C(1000)}, {"kb", UINT64_C(1) << 10},
	{"m", UINT64_C(1000000)}, {"mb", UINT64_C(1) << 20},
	{"g", UINT64_C(1000000000)}, {"gb", UINT64_C(1) << 30},
	{"t", UINT64_C(1000000000000)}, {"tb", UINT64_C(1) << 40},
};

KV_API int kv_parse_size(const char *s, size_t len, uint64_t *out)
{
	if (!s || !out)
		return KV_EINVAL;
	size_t i = 0;
	uint64_t v = 0;
	for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return KV_EINVAL;
		v = v * 10 + d;
	}
	if (i == 0 || len - i > 2)
		return KV_EINVAL;
	char u[3] = {0, 0, 0};
	for (size_t j = 0; i + j < len; j++) {
		char c = s[i + j];
		u[j] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
	}
	for (size_t k = 0; k < sizeof units / sizeof units[0]; k++)
		if (strcmp(u, units[k].unit) == 0 && (size_t)(len - i) == strlen(units[k].unit)) {
			if (v > UINT64_MAX / units[k].mul)
				return KV_EINVAL;
			*out = v * units[k].mul;
			return KV_OK;
		}
	return KV_EINVAL;
}
