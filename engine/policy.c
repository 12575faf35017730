/*
 * policy.c -- eviction-policy names, the one table every host reads: SQL
 * arguments (PostgreSQL, SQLite), the server's maxmemory-policy and INFO.
 *
 * The canonical names are the engine's (KV_EVICT_*); Redis spells "none" as
 * "noeviction", which parses as an alias and is written back when a host asks
 * for Redis's spelling (KV_NAME_REDIS).
 */
#include "kv_internal.h"

static const struct {
	const char *name;  /* canonical */
	const char *redis; /* Redis's spelling, also accepted */
} policies[] = {
	[KV_EVICT_NONE]            = {"none", "noeviction"},
	[KV_EVICT_ALLKEYS_LRU]     = {"allkeys-lru", "allkeys-lru"},
	[KV_EVICT_ALLKEYS_RANDOM]  = {"allkeys-random", "allkeys-random"},
	[KV_EVICT_VOLATILE_LRU]    = {"volatile-lru", "volatile-lru"},
	[KV_EVICT_VOLATILE_RANDOM] = {"volatile-random", "volatile-random"},
	[KV_EVICT_VOLATILE_TTL]    = {"volatile-ttl", "volatile-ttl"},
};
#define NPOLICIES (sizeof policies / sizeof policies[0])

/* ASCII-only case folding: a host's locale must not change what parses. */
static int same_nocase(const char *s, size_t len, const char *name)
{
	size_t i = 0;
	for (; i < len && name[i]; i++) {
		unsigned char a = (unsigned char)s[i], b = (unsigned char)name[i];
		if (a >= 'A' && a <= 'Z')
			a = (unsigned char)(a - 'A' + 'a');
		if (a != b)
			return 0;
	}
	return i == len && name[i] == 0;
}

KV_API int kv_evict_policy_parse(const char *name, size_t len, int *policy)
{
	if (!name || !policy)
		return KV_EINVAL;
	for (size_t i = 0; i < NPOLICIES; i++)
		if (same_nocase(name, len, policies[i].name) || same_nocase(name, len, policies[i].redis)) {
			*policy = (int)i;
			return KV_OK;
		}
	return KV_EINVAL;
}

KV_API const char *kv_evict_policy_name(int policy, unsigned flags)
{
	if (policy < 0 || (size_t)policy >= NPOLICIES)
		return NULL;
	return (flags & KV_NAME_REDIS) ? policies[policy].redis : policies[policy].name;
}
