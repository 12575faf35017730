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
 *   one quote; nothing may follow the closing quote.  Numbers are checked for
 *   overflow before they are stored, and 0 is refused where the engine would
 *   read it as "default" (shards, max_key_size, max_value_size).  Other range
 *   checks that depend on the engine (shard count limit, namespace name
 *   characters) are left to the engine, which reports them with its own text.
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

static const struct {
	const char *name;
	int         policy;
} eviction_names[] = {
	{"none",             KV_EVICT_NONE},
	{"noeviction",       KV_EVICT_NONE},
	{"allkeys-lru",      KV_EVICT_ALLKEYS_LRU},
	{"allkeys-random",   KV_EVICT_ALLKEYS_RANDOM},
	{"volatile-lru",     KV_EVICT_VOLATILE_LRU},
	{"volatile-random",  KV_EVICT_VOLATILE_RANDOM},
	{"volatile-ttl",     KV_EVICT_VOLATILE_TTL},
	{NULL, 0}
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

/* Case-insensitive comparison of s[0..n) with the NUL-terminated word. */
static int word_eq(const char *s, size_t n, const char *word)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (word[i] == '\0')
			return 0;
		if (tolower((unsigned char)s[i]) != tolower((unsigned char)word[i]))
			return 0;
	}
	return word[n] == '\0';
}

/* Multiplier for a unit suffix such as "k", "KiB", "mb"; 0 if unknown. */
static uint64_t size_unit(const char *s, size_t n)
{
	static const char units[] = "kmgt";
	const char *p;
	uint64_t    m = 1;

	if (n == 0)
		return 1;
	if (n == 1 && (s[0] == 'b' || s[0] == 'B'))
		return 1;
	p = strchr(units, tolower((unsigned char)s[0]));
	if (p == NULL || s[0] == '\0')
		return 0;
	for (const char *q = units; q <= p; q++)
		m *= 1024;
	if (n == 1)
		return m;
	if (n == 2 && (s[1] == 'b' || s[1] == 'B'))
		return m;
	if (n == 3 && (s[1] == 'i' || s[1] == 'I') && (s[2] == 'b' || s[2] == 'B'))
		return m;
	return 0;
}

int kvargs_size(const char *s, size_t n, uint64_t *out)
{
	size_t   i = 0;
	uint64_t v = 0, m;

	while (i < n && is_blank(s[i]))
		i++;
	while (n > i && is_blank(s[n - 1]))
		n--;
	if (i >= n || !isdigit((unsigned char)s[i]))
		return -1;
	for (; i < n && isdigit((unsigned char)s[i]); i++) {
		unsigned d = (unsigned)(s[i] - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	while (i < n && is_blank(s[i]))
		i++;
	m = size_unit(s + i, n - i);
	if (m == 0)
		return -1;
	if (v != 0 && m > UINT64_MAX / v)
		return -1;
	*out = v * m;
	return 0;
}

int kvargs_duration_ms(const char *s, size_t n, int64_t *out)
{
	size_t   i = 0;
	uint64_t whole = 0, frac = 0, fscale = 1, unit_ms = 1000, ms;

	while (i < n && is_blank(s[i]))
		i++;
	while (n > i && is_blank(s[n - 1]))
		n--;
	if (i >= n || !isdigit((unsigned char)s[i]))
		return -1;
	for (; i < n && isdigit((unsigned char)s[i]); i++) {
		if (whole > (UINT64_MAX / 10) - 10)
			return -1;
		whole = whole * 10 + (uint64_t)(s[i] - '0');
	}
	if (i < n && s[i] == '.') {
		i++;
		if (i >= n || !isdigit((unsigned char)s[i]))
			return -1;
		/* keep at most 3 fractional digits (milliseconds); ignore the rest */
		for (; i < n && isdigit((unsigned char)s[i]); i++) {
			if (fscale < 1000) {
				frac = frac * 10 + (uint64_t)(s[i] - '0');
				fscale *= 10;
			}
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
	/* whole * unit_ms + frac * unit_ms / fscale, without overflow past INT64_MAX */
	if (whole > (uint64_t)INT64_MAX / unit_ms)
		return -1;
	ms = whole * unit_ms;
	frac = frac * unit_ms / fscale;
	if (ms > (uint64_t)INT64_MAX - frac)
		return -1;
	*out = (int64_t)(ms + frac);
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
		if (n == 0 || n > KVARGS_NAME_MAX || has_nul(v, n)) {
			set_err(err, errlen, "namespace must be 1 to %d bytes", KVARGS_NAME_MAX);
			return -1;
		}
		memcpy(out->ns, v, n + 1);
		return 0;
	case K_COUNT32:
	case K_COUNT64:
	case K_SIZE32:
	case K_SIZE64:
		if ((o->kind == K_COUNT32 || o->kind == K_COUNT64)
		        ? kvargs_size(v, n, &u) != 0 || strspn(v, "0123456789 \t") != n
		        : kvargs_size(v, n, &u) != 0) {
			set_err(err, errlen, "invalid value for %s: \"%.60s\"", o->name, v);
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
		if (kvargs_duration_ms(v, n, &d) != 0) {
			set_err(err, errlen, "invalid value for %s: \"%.60s\" (seconds, or a number with ms/s/m/h/d)",
			        o->name, v);
			return -1;
		}
		out->default_ttl_ms = d;
		return 0;
	case K_EVICTION:
		for (int i = 0; eviction_names[i].name != NULL; i++) {
			if (!has_nul(v, n) && word_eq(v, n, eviction_names[i].name)) {
				out->eviction = eviction_names[i].policy;
				return 0;
			}
		}
		set_err(err, errlen,
		        "invalid value for eviction: \"%.60s\" (none, allkeys-lru, allkeys-random, "
		        "volatile-lru, volatile-random, volatile-ttl)", v);
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
