/*
 * kvargs.h -- parser of the arguments of CREATE VIRTUAL TABLE ... USING kv(...).
 *
 * No SQLite: a libFuzzer target drives it with the engine alone
 * (tests/fuzz/fuzz_vtab_args.c), whose vocabulary (sizes, policy names,
 * namespace names) it uses.  Each argument is one "name=value" string as
 * SQLite hands it to xCreate/xConnect; values may be bare words or quoted with
 * '...' or "..." (a doubled quote inside stands for one quote).
 */
#ifndef SHARDKV_SQLITE_KVARGS_H
#define SHARDKV_SQLITE_KVARGS_H

#include <stddef.h>
#include <stdint.h>

/* Bits of kvargs.given: which options the statement named. */
#define KVARG_NAMESPACE      0x001u
#define KVARG_SHARDS         0x002u
#define KVARG_MAX_KEYS       0x004u
#define KVARG_MAX_MEMORY     0x008u
#define KVARG_DEFAULT_TTL    0x010u
#define KVARG_MAX_KEY_SIZE   0x020u
#define KVARG_MAX_VALUE_SIZE 0x040u
#define KVARG_EVICTION       0x080u
#define KVARG_SNAPSHOT       0x100u

#include "kv.h"

typedef struct kvargs {
	unsigned given;                      /* KVARG_* bits */
	char     ns[KV_NS_NAME_MAX + 1];     /* namespace (NUL-terminated) */
	uint32_t shards;
	uint64_t max_keys;
	uint64_t max_memory;                 /* bytes */
	int64_t  default_ttl_ms;
	uint32_t max_key_size;
	uint32_t max_value_size;
	int      eviction;                   /* KV_EVICT_* value */
	char    *snapshot;                   /* malloc'd path, or NULL */
} kvargs;

/*
 * Parse argc strings into *out (which is first cleared).  On failure returns -1,
 * writes a lower-case message (no trailing period) into err[0..errlen) and
 * leaves nothing to free.  On success returns 0; release with kvargs_free().
 */
int kvargs_parse(int argc, const char *const *argv, kvargs *out, char *err, size_t errlen);
void kvargs_free(kvargs *a);

/*
 * Parse a duration in seconds ("60", "1.5", "250ms", "0.5m", "2h", "1d") into
 * ms, exactly.  Returns 0 and sets *out (>= 0), -2 when it is not a whole
 * number of ms ("1.0005"), or -1 (bad syntax, or past INT64_MAX ms).
 */
int kvargs_duration_ms(const char *s, size_t n, int64_t *out);

#endif /* SHARDKV_SQLITE_KVARGS_H */
