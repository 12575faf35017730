/*
 * status.c -- status codes, their text, the version, and the clock.
 *
 * Each text is "KV_CODE: description"; kv_strerror_code and kv_strerror_text
 * hand out the two halves so no host strips the prefix itself.
 */
#include "kv_internal.h"

#include <time.h>

/* ERR(KV_X, "text") gives the code, its name and "KV_X: text" from one line. */
#define ERR(code, text) {code, #code, #code ": " text}
static const struct {
	int         code;
	const char *name; /* "KV_X" */
	const char *text; /* "KV_X: text" */
} kv_errors[] = {
	ERR(KV_OK, "success"),
	ERR(KV_NOTFOUND, "key not found"),
	ERR(KV_EXISTS, "key already exists"),
	ERR(KV_UNCHANGED, "condition not met, nothing changed"),
	ERR(KV_ENONS, "namespace does not exist"),
	ERR(KV_ENSEXISTS, "namespace already exists"),
	ERR(KV_ENSNAME, "invalid namespace name (1-63 bytes of A-Z a-z 0-9 _ . : -)"),
	ERR(KV_ETOOMANYNS, "too many namespaces"),
	ERR(KV_EINVAL, "invalid argument"),
	ERR(KV_EKEYSIZE, "key is longer than the namespace's max key size"),
	ERR(KV_EVALSIZE, "value is longer than the namespace's max value size"),
	ERR(KV_ENOMEM, "out of memory: the store's memory region is full"),
	ERR(KV_EMAXKEYS, "namespace is full: max_keys reached"),
	ERR(KV_EMAXMEM, "namespace is full: max_memory reached"),
	ERR(KV_ENOTINT, "value is not an integer or out of range"),
	ERR(KV_EOVERFLOW, "increment or decrement would overflow"),
	ERR(KV_ENOTFLOAT, "value is not a valid float"),
	ERR(KV_ESHARDS, "invalid shard count"),
	ERR(KV_EBUSY, "namespace is busy with a save, load or resize"),
	ERR(KV_EABORTED, "batch aborted: another item failed"),
	ERR(KV_EREGION, "memory region is too small or not a shardkv store of this version"),
	ERR(KV_EIO, "I/O error"),
	ERR(KV_ECORRUPT, "snapshot file is corrupt"),
	ERR(KV_EFORMAT, "not a shardkv snapshot, or an unsupported version"),
	ERR(KV_EWRONGTYPE, "operation against a key holding the wrong kind of value"),
	ERR(KV_ERANGE, "index out of range"),
};

#define NERRORS (sizeof kv_errors / sizeof kv_errors[0])

static int find(int rc)
{
	for (size_t i = 0; i < NERRORS; i++)
		if (kv_errors[i].code == rc)
			return (int)i;
	return -1;
}

KV_API const char *kv_strerror(int rc)
{
	int i = find(rc);
	return i < 0 ? "KV_UNKNOWN: unknown status code" : kv_errors[i].text;
}

KV_API const char *kv_strerror_text(int rc)
{
	int i = find(rc);
	return i < 0 ? "unknown status code" : kv_errors[i].text + strlen(kv_errors[i].name) + 2;
}

KV_API const char *kv_strerror_code(int rc)
{
	int i = find(rc);
	return i < 0 ? "KV_UNKNOWN" : kv_errors[i].name;
}

KV_API int kv_version_number(void)
{
	return KV_VERSION_NUMBER;
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
