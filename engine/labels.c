/*
 * labels.c -- the names hosts show for change events and type tags, so that a
 * NOTIFY payload, the HTTP feed, kv.scan's type column and the HTTP door's
 * X-KV-Type header all say the same word for the same thing.
 */
#include "kv_internal.h"

static const char *const event_names[] = {
	[KV_EV_SET] = "set",
	[KV_EV_DEL] = "del",
	[KV_EV_EXPIRE] = "expire",
	[KV_EV_INCR] = "incr",
	[KV_EV_APPEND] = "append",
	[KV_EV_EXPIRED] = "expired",
	[KV_EV_EVICTED] = "evicted",
	[KV_EV_FLUSH] = "flush",
	[KV_EV_RENAME_FROM] = "rename_from",
	[KV_EV_RENAME_TO] = "rename_to",
	[KV_EV_HSET] = "hset",
	[KV_EV_HDEL] = "hdel",
	[KV_EV_HINCRBY] = "hincrby",
	[KV_EV_HINCRBYFLOAT] = "hincrbyfloat",
	[KV_EV_SADD] = "sadd",
	[KV_EV_SREM] = "srem",
	[KV_EV_SPOP] = "spop",
	[KV_EV_SINTERSTORE] = "sinterstore",
	[KV_EV_SUNIONSTORE] = "sunionstore",
	[KV_EV_SDIFFSTORE] = "sdiffstore",
	[KV_EV_ZADD] = "zadd",
	[KV_EV_ZINCR] = "zincr",
	[KV_EV_ZREM] = "zrem",
	[KV_EV_ZREMRANGEBYSCORE] = "zremrangebyscore",
	[KV_EV_ZREMRANGEBYRANK] = "zremrangebyrank",
	[KV_EV_ZREMRANGEBYLEX] = "zremrangebylex",
	[KV_EV_ZPOPMIN] = "zpopmin",
	[KV_EV_ZPOPMAX] = "zpopmax",
	[KV_EV_ZINTERSTORE] = "zinterstore",
	[KV_EV_ZUNIONSTORE] = "zunionstore",
	[KV_EV_ZDIFFSTORE] = "zdiffstore",
	[KV_EV_ZRANGESTORE] = "zrangestore",
	[KV_EV_LPUSH] = "lpush",
	[KV_EV_RPUSH] = "rpush",
	[KV_EV_LPOP] = "lpop",
	[KV_EV_RPOP] = "rpop",
	[KV_EV_LINSERT] = "linsert",
	[KV_EV_LSET] = "lset",
	[KV_EV_LREM] = "lrem",
	[KV_EV_LTRIM] = "ltrim",
};

static const char *const type_names[] = {
	[KV_T_BYTES] = "bytes",
	[KV_T_TEXT] = "text",
	[KV_T_INT] = "int",
	[KV_T_REAL] = "real",
	[KV_T_JSON] = "json",
	[KV_T_NULL] = "null",
	[KV_T_HASH] = "hash",
	[KV_T_SET] = "set",
	[KV_T_ZSET] = "zset",
	[KV_T_LIST] = "list",
};

KV_API const char *kv_event_name(int event)
{
	if (event < 0 || (size_t)event >= sizeof event_names / sizeof event_names[0])
		return NULL;
	return event_names[event];
}

KV_API const char *kv_type_name(int type)
{
	if (type < 0 || (size_t)type >= sizeof type_names / sizeof type_names[0])
		return NULL;
	return type_names[type];
}
