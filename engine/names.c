/*
 * names.c -- the namespace-name rule as hosts see it: names arrive with a
 * length (SQL text, RESP bulk strings), so an embedded NUL must be refused here
 * before the C-string rule of namespace.c can see a shortened name.
 */
#include "kv_internal.h"

KV_API int kv_ns_name_check(const char *name, size_t len)
{
	char tmp[KV_NS_NAME_MAX + 1];
	if (!name || len == 0 || len > KV_NS_NAME_MAX || memchr(name, 0, len))
		return KV_ENSNAME;
	memcpy(tmp, name, len);
	tmp[len] = 0;
	return kv_ns_valid_name(tmp);
}
