/*
 * engine_compat.h -- TEMPORARY stand-ins for engine TTL helpers announced for
 * kv.h (branch engine-files), so that this branch builds before they land.
 * Delete this file once kv.h defines KV_EXPIRES_MAX.
 */
#ifndef SHARDKV_ENGINE_COMPAT_H
#define SHARDKV_ENGINE_COMPAT_H

#ifndef KV_EXPIRES_MAX
#define KV_EXPIRES_MAX INT64_C(253402300799999)	/* 9999-12-31T23:59:59.999Z */

static inline int
kv_expiry_check(int64_t expires_at)
{
	return (expires_at < 0 || expires_at > KV_EXPIRES_MAX) ? KV_EINVAL : KV_OK;
}

static inline int
kv_expiry_from_ttl_us(int64_t ttl_us, int64_t *expires_at)
{
	int64_t		ms = ttl_us / 1000 + (ttl_us % 1000 > 0);

	if (ttl_us <= 0 || ms > KV_EXPIRES_MAX - kv_now_ms())
		return KV_EINVAL;
	*expires_at = kv_now_ms() + ms;
	return KV_OK;
}

static inline int
kv_expiry_from_ttl_ms(int64_t ttl_ms, int64_t *expires_at)
{
	if (ttl_ms <= 0 || ttl_ms > KV_EXPIRES_MAX - kv_now_ms())
		return KV_EINVAL;
	*expires_at = kv_now_ms() + ttl_ms;
	return KV_OK;
}

static inline int64_t
kv_ttl_remaining(int64_t expires_at, int64_t now_ms, int64_t unit_ms)
{
	int64_t		left = expires_at > now_ms ? expires_at - now_ms : 0;

	return unit_ms > 1 ? (left + unit_ms / 2) / unit_ms : left;
}
#endif							/* KV_EXPIRES_MAX */

#endif							/* SHARDKV_ENGINE_COMPAT_H */
