/*
 * status.c -- status codes, their text, the version, and the clock.
 */
#include "kv_internal.h"

#include <time.h>

static const struct {
	int         code;
	const char *text;
} kv_errors[] = {
	{KV_OK, "KV_OK: success"},
	{KV_NOTFOUND, "KV_NOTFOUND: key not found"},
	{KV_EXISTS, "KV_EXISTS: key already exists"},
	{KV_UNCHANGED, "KV_UNCHANGED: condition not met, nothing changed"},
	{KV_ENONS, "KV_ENONS: namespace does not exist"},
	{KV_ENSEXISTS, "KV_ENSEXISTS: namespace already exists"},
	{KV_ENSNAME, "KV_ENSNAME: invalid namespace name (1-63 bytes of A-Z a-z 0-9 _ . : -)"},
	{KV_ETOOMANYNS, "KV_ETOOMANYNS: too many namespaces"},
	{KV_EINVAL, "KV_EINVAL: invalid argument"},
	{KV_EKEYSIZE, "KV_EKEYSIZE: key is empty or longer than the namespace's max key size"},
	{KV_EVALSIZE, "KV_EVALSIZE: value is longer than the namespace's max value size"},
	{KV_ENOMEM, "KV_ENOMEM: out of memory: the store's memory region is full"},
	{KV_EMAXKEYS, "KV_EMAXKEYS: namespace is full: max_keys reached"},
	{KV_EMAXMEM, "KV_EMAXMEM: namespace is full: max_memory reached"},
	{KV_ENOTINT, "KV_ENOTINT: value is not an integer or out of range"},
	{KV_EOVERFLOW, "KV_EOVERFLOW: increment or decrement would overflow"},
	{KV_ENOTFLOAT, "KV_ENOTFLOAT: value is not a valid float"},
	{KV_ESHARDS, "KV_ESHARDS: invalid shard count"},
	{KV_EBUSY, "KV_EBUSY: namespace is busy with a save, load or resize"},
	{KV_EABORTED, "KV_EABORTED: batch aborted: another item failed"},
	{KV_EREGION, "KV_EREGION: memory region is too small or not a shardkv store of this version"},
	{KV_EIO, "KV_EIO: I/O error"},
	{KV_ECORRUPT, "KV_ECORRUPT: snapshot file is corrupt"},
	{KV_EFORMAT, "KV_EFORMAT: not a shardkv snapshot, or an unsupported version"},
};

KV_API const char *kv_strerror(int rc)
{
	for (size_t i = 0; i < sizeof kv_errors / sizeof kv_errors[0]; i++)
		if (kv_errors[i].code == rc)
			return kv_errors[i].text;
	return "KV_UNKNOWN: unknown status code";
}

KV_API const char *kv_version(void)
{
#define KV_STR2(x) #x
#define KV_STR(x) KV_STR2(x)
	return KV_STR(KV_VERSION_MAJOR) "." KV_STR(KV_VERSION_MINOR) "." KV_STR(KV_VERSION_PATCH);
}

KV_API int64_t kv_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
