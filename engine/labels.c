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
};

static const char *const type_names[] = {
	[KV_T_BYTES] = "bytes",
	[KV_T_TEXT] = "text",
	[KV_T_INT] = "int",
	[KV_T_REAL] = "real",
	[KV_T_JSON] = "json",
	[KV_T_NULL] = "null",
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
