/*
 * kvargs.c -- parse the arguments of CREATE VIRTUAL TABLE ... USING kv(...).
 *
 * HOW IT WORKS
 *   SQLite gives xCreate/xConnect each module argument as the raw text between
 *   the commas.  Every argument must have the form
 *
 *       name = value
 *
 *   with optional blanks around both.  The name is matched case-insensitively
 *   against valid_options[] below (a table with a sentinel, as file_fdw does);
 *   an unknown or repeated name is an error whose text lists the valid names.
 *   A value is either a bare word (everything up to the end, trailing blanks
 *   removed) or a string in '...' or "..." in which a doubled quote stands for
 *   one quote; nothing may follow the closing quote.  The shared vocabulary is
 *   the engine's: sizes are read by kv_parse_size (Redis's units: k = 1000,
 *   kb = 1024), policy names by kv_evict_policy_parse, the namespace by
 *   kv_ns_name_check.  Numbers are checked for overflow before they are
 *   stored, and 0 is refused where the engine would read it as "default"
 *   (shards, max_key_size, max_value_size).  The shard count limit is left to
 *   the engine, which reports it with its own text.
 *
 *   The parser never allocates except for the snapshot path, so a failure
 *   leaves nothing behind.
 */
#include "kvargs.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv.h"

enum kvarg_kind { K_NAME, K_COUNT32, K_COUNT64, K_SIZE32, K_SIZE64, K_DURATION, K_EVICTION, K_PATH };

static const struct kvarg_option {
	const char     *name;
	unsigned        bit;
	enum kvarg_kind kind;
} valid_options[] = {
	{"namespace",      KVARG_NAMESPACE,      K_NAME},
	{"shards",         KVARG_SHARDS,         K_COUNT32},
	{"max_keys",       KVARG_MAX_KEYS,       K_COUNT64},
	{"max_memory",     KVARG_MAX_MEMORY,     K_SIZE64},
	{"default_ttl",    KVARG_DEFAULT_TTL,    K_DURATION},
	{"max_key_size",   KVARG_MAX_KEY_SIZE,   K_SIZE32},
	{"max_value_size", KVARG_MAX_VALUE_SIZE, K_SIZE32},
	{"eviction",       KVARG_EVICTION,       K_EVICTION},
	{"snapshot",       KVARG_SNAPSHOT,       K_PATH},
	{NULL, 0, K_NAME}
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static int ascii_lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* ASCII case-insensitive comparison of s[0..n) with the NUL-terminated word
 * (no locale: tolower could fold a byte >= 0x80 in some). */
static int word_eq(const char *s, size_t n, const char *word)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (word[i] == '\0')
			return 0;
		if (ascii_lower((unsigned char)s[i]) != ascii_lower((unsigned char)word[i]))
			return 0;
	}
	return word[n] == '\0';
}

int kvargs_duration_ms(const char *s, size_t n, int64_t *out)
{
	size_t            i = 0;
	unsigned __int128 whole = 0, frac = 0, fscale = 1, unit_ms, ms;
	int               too_fine = 0;

	while (i < n && is_blank(s[i]))
		i++;
	while (n > i && is_blank(s[n - 1]))
		n--;
	if (i >= n || !isdigit((unsigned char)s[i]))
		return -1;
	for (; i < n && isdigit((unsigned char)s[i]); i++) {
		whole = whole * 10 + (unsigned)(s[i] - '0');
		if (whole > INT64_MAX)
			return -1;
	}
	if (i < n && s[i] == '.') {
		i++;
		if (i >= n || !isdigit((unsigned char)s[i]))
			return -1;
		/* every digit counts: 0.0001h is 360 ms, not 0 */
		for (; i < n && isdigit((unsigned char)s[i]); i++) {
			if (fscale >= (unsigned __int128)1000000000000000000u) {
				too_fine |= s[i] != '0'; /* past 10^-18 of a unit: no whole ms */
				continue;
			}
			frac = frac * 10 + (unsigned)(s[i] - '0');
			fscale *= 10;
		}
	}
	while (i < n && is_blank(s[i]))
		i++;
	if (i == n || word_eq(s + i, n - i, "s"))
		unit_ms = 1000;
	else if (word_eq(s + i, n - i, "ms"))
		unit_ms = 1;
	else if (word_eq(s + i, n - i, "m") || word_eq(s + i, n - i, "min"))
		unit_ms = 60000;
	else if (word_eq(s + i, n - i, "h"))
		unit_ms = 3600000;
	else if (word_eq(s + i, n - i, "d"))
		unit_ms = 86400000;
	else
		return -1;
	/* exact: a duration that is not a whole number of ms is refused, never
	 * rounded (the engine keeps default_ttl in whole ms) */
	if (too_fine || (frac * unit_ms) % fscale != 0)
		return -2;
	ms = whole * unit_ms + frac * unit_ms / fscale;
	if (ms > INT64_MAX)
		return -1;
	*out = (int64_t)ms;
	return 0;
}

/*
 * Split "name = value" into the name and the unquoted value.  The value is
 * written NUL-terminated into val (capacity vcap, which is at least the input
 * length + 1, since unquoting never grows the text).
 */
static int split_arg(const char *arg, const char **name, size_t *nlen, char *val, size_t *vlen,
                     char *err, size_t errlen)
{
	const char *p = arg, *eq, *end;
	size_t      n = 0;

	while (is_blank(*p))
		p++;
	eq = strchr(p, '=');
	if (eq == NULL) {
		set_err(err, errlen, "malformed argument \"%.60s\": expected name=value", arg);
		return -1;
	}
	*name = p;
	end = eq;
	while (end > p && is_blank(end[-1]))
		end--;
	*nlen = (size_t)(end - p);
	if (*nlen == 0) {
		set_err(err, errlen, "malformed argument \"%.60s\": missing option name", arg);
		return -1;
	}
	p = eq + 1;
	while (is_blank(*p))
		p++;
	if (*p == '\'' || *p == '"') {
		char q = *p++;

		for (;;) {
			if (*p == '\0') {
				set_err(err, errlen, "unterminated quoted value in argument \"%.60s\"", arg);
				return -1;
			}
			if (*p == q) {
				if (p[1] == q) {
					val[n++] = q;
					p += 2;
					continue;
				}
				p++;
				break;
			}
			val[n++] = *p++;
		}
		while (is_blank(*p))
			p++;
		if (*p != '\0') {
			set_err(err, errlen, "unexpected text after quoted value in argument \"%.60s\"", arg);
			return -1;
		}
	} else {
		end = p + strlen(p);
		while (end > p && is_blank(end[-1]))
			end--;
		n = (size_t)(end - p);
		memcpy(val, p, n);
	}
	val[n] = '\0';
	*vlen = n;
	return 0;
}

static int has_nul(const char *v, size_t n)
{
	return strlen(v) != n;
}

static int store_option(const struct kvarg_option *o, const char *v, size_t n, kvargs *out,
                        char *err, size_t errlen)
{
	uint64_t u;
	int64_t  d;

	switch (o->kind) {
	case K_NAME:
		if (kv_ns_name_check(v, n) != KV_OK) {
			set_err(err, errlen, "namespace \"%.60s\": %s", v, kv_strerror_text(KV_ENSNAME));
			return -1;
		}
		memcpy(out->ns, v, n + 1);
		return 0;
	case K_COUNT32:
	case K_COUNT64:
	case K_SIZE32:
	case K_SIZE64:
		if (kv_parse_size(v, n, &u) != KV_OK ||
		    ((o->kind == K_COUNT32 || o->kind == K_COUNT64) && strspn(v, "0123456789") != n)) {
			set_err(err, errlen, (o->kind == K_SIZE32 || o->kind == K_SIZE64)
			        ? "invalid value for %s: \"%.60s\" (bytes, or a number with b, k, kb, m, mb, g, gb)"
			        : "invalid value for %s: \"%.60s\" (a whole number)", o->name, v);
			return -1;
		}
		if ((o->kind == K_COUNT32 || o->kind == K_SIZE32) && u > UINT32_MAX) {
			set_err(err, errlen, "value for %s is too large: \"%.60s\"", o->name, v);
			return -1;
		}
		/* the engine reads 0 as "default" for these: refuse it, never
		 * silently turn shards=0 into 16 */
		if (u == 0 && (o->bit & (KVARG_SHARDS | KVARG_MAX_KEY_SIZE | KVARG_MAX_VALUE_SIZE))) {
			set_err(err, errlen, "invalid value for %s: \"%.60s\" (must be at least 1)", o->name, v);
			return -1;
		}
		if (o->bit == KVARG_SHARDS)
			out->shards = (uint32_t)u;
		else if (o->bit == KVARG_MAX_KEYS)
			out->max_keys = u;
		else if (o->bit == KVARG_MAX_MEMORY)
			out->max_memory = u;
		else if (o->bit == KVARG_MAX_KEY_SIZE)
			out->max_key_size = (uint32_t)u;
		else
			out->max_value_size = (uint32_t)u;
		return 0;
	case K_DURATION:
		switch (has_nul(v, n) ? -1 : kvargs_duration_ms(v, n, &d)) {
		case 0:
			break;
		case -2:
			set_err(err, errlen, "invalid value for %s: \"%.60s\" (not a whole number of milliseconds)",
			        o->name, v);
			return -1;
		default:
			set_err(err, errlen, "invalid value for %s: \"%.60s\" (seconds, or a number with ms/s/m/h/d)",
			        o->name, v);
			return -1;
		}
		out->default_ttl_ms = d;
		return 0;
	case K_EVICTION:
		if (kv_evict_policy_parse(v, n, &out->eviction) == KV_OK)
			return 0;
		set_err(err, errlen, "invalid value for eviction: \"%.60s\" (" KV_EVICT_POLICY_LIST ")", v);
		return -1;
	case K_PATH:
		if (n == 0 || has_nul(v, n)) {
			set_err(err, errlen, "snapshot must name a file");
			return -1;
		}
		out->snapshot = malloc(n + 1);
		if (out->snapshot == NULL) {
			set_err(err, errlen, "out of memory");
			return -1;
		}
		memcpy(out->snapshot, v, n + 1);
		return 0;
	}
	return -1;
}

int kvargs_parse(int argc, const char *const *argv, kvargs *out, char *err, size_t errlen)
{
	char  *val = NULL;
	size_t vcap = 0;

	memset(out, 0, sizeof(*out));
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	for (int i = 0; i < argc; i++) {
		const struct kvarg_option *o;
		const char *name;
		size_t      nlen, vlen, alen = strlen(argv[i]);

		if (alen + 1 > vcap) {
			char *nv = realloc(val, alen + 1);

			if (nv == NULL) {
				set_err(err, errlen, "out of memory");
				goto fail;
			}
			val = nv;
			vcap = alen + 1;
		}
		if (split_arg(argv[i], &name, &nlen, val, &vlen, err, errlen) != 0)
			goto fail;
		for (o = valid_options; o->name != NULL; o++)
			if (word_eq(name, nlen, o->name))
				break;
		if (o->name == NULL) {
			set_err(err, errlen,
			        "unknown option \"%.*s\"; valid options are namespace, shards, max_keys, "
			        "max_memory, default_ttl, max_key_size, max_value_size, eviction, snapshot",
			        (int)(nlen > 60 ? 60 : nlen), name);
			goto fail;
		}
		if (out->given & o->bit) {
			set_err(err, errlen, "option \"%s\" given more than once", o->name);
			goto fail;
		}
		if (store_option(o, val, vlen, out, err, errlen) != 0)
			goto fail;
		out->given |= o->bit;
	}
	free(val);
	return 0;
fail:
	free(val);
	kvargs_free(out);
	return -1;
}

void kvargs_free(kvargs *a)
{
	free(a->snapshot);
	a->snapshot = NULL;
}
