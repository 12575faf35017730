/*
 * ttl.c -- the one TTL arithmetic of every host: relative TTLs to absolute
 * expiry times, validation of absolute times, and remaining time as Redis's
 * TTL/PTTL commands report it.  Rules are stated in kv.h ("Expiry vocabulary").
 *
 * Why refuse instead of clamping: a TTL that would land past KV_EXPIRES_MAX (or
 * overflow int64) is a client error in every host (Redis answers "invalid expire
 * time"); wrapping would turn a far-future expiry into an immediate delete.
 */
#include "kv_internal.h"

#include <time.h>

/* The earliest absolute time that still means "already passed": expiry values
 * <= 0 are the KV_EXPIRE_* sentinels, so a past time is never stored as one. */
#define KV_EXPIRES_PAST 1

int kv_expiry_add_ms(int64_t now_ms, int64_t ttl_ms, int64_t *expires_at)
{
	if (ttl_ms > 0 && ttl_ms > KV_EXPIRES_MAX - now_ms)
		return KV_EINVAL;
	int64_t t = ttl_ms > 0 ? now_ms + ttl_ms
	            : ttl_ms < -now_ms ? KV_EXPIRES_PAST : now_ms + ttl_ms;
	*expires_at = t < KV_EXPIRES_PAST ? KV_EXPIRES_PAST : t;
	return KV_OK;
}

int kv_expiry_add_us(int64_t now_ms, int64_t ttl_us, int64_t *expires_at)
{
	/* A positive TTL rounds up to whole ms and is added to the engine's clock
	 * in whole ms (as Redis adds to mstime()): a 1500 ms TTL reads back as
	 * exactly 1500 ms at once, and a 1 us TTL lands after the current ms, so it
	 * is not "already expired".  A TTL <= 0 truncates towards zero: any time at
	 * or before now deletes. */
	int64_t ttl_ms = ttl_us > 0 ? ttl_us / 1000 + (ttl_us % 1000 != 0) : ttl_us / 1000;
	return kv_expiry_add_ms(now_ms, ttl_ms, expires_at);
}

KV_API int kv_expiry_from_ttl_ms(int64_t ttl_ms, int64_t *expires_at)
{
	return kv_expiry_add_ms(kv_now_ms(), ttl_ms, expires_at);
}

KV_API int kv_expiry_from_ttl_us(int64_t ttl_us, int64_t *expires_at)
{
	return kv_expiry_add_us(kv_now_ms(), ttl_us, expires_at);
}

KV_API int kv_expiry_check(int64_t expires_at)
{
	if (expires_at > KV_EXPIRES_MAX || expires_at < KV_EXPIRE_KEEP)
		return KV_EINVAL;
	return KV_OK;
}

KV_API int64_t kv_ttl_remaining(int64_t expires_at, int64_t now_ms, int64_t unit_ms)
{
	if (expires_at <= 0)
		return -1;
	if (expires_at <= now_ms)
		return 0;
	if (unit_ms <= 1)
		return expires_at - now_ms;
	int64_t left = expires_at - now_ms; /* > 0, <= KV_EXPIRES_MAX + |now| */
	return left / unit_ms + (left % unit_ms >= (unit_ms + 1) / 2);
}
