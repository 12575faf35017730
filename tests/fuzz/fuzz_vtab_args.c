/*
 * fuzz_vtab_args.c -- libFuzzer target for the "kv" virtual table's argument
 * parser (sqlite_ext/kvargs.c), the text of CREATE VIRTUAL TABLE ... USING
 * kv(...) after SQLite has split it at commas.
 *
 * The input is split at newlines into up to 16 arguments.  The parser must
 * never crash, read out of bounds or leak; on success the result must be
 * consistent (a namespace that fits, a snapshot path only when given), on
 * failure the message must be non-empty, NUL-terminated and lower-case first.
 * The duration helper and the engine's kv_parse_size (which the parser uses
 * for sizes) are also driven on the raw input.  Built with the engine's
 * sources (sqlite_ext/sqlite.mk), since the parser uses its vocabulary.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kvargs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char       *buf, *argv[16];
	int         argc = 0;
	kvargs      a;
	char        err[256];
	uint64_t    sz;
	int64_t     ms;
	size_t      i, start = 0;

	if (size > 4096)
		return 0;
	/* the helpers take (pointer, length): give them an exact-size copy */
	buf = malloc(size ? size : 1);
	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	if (kv_parse_size(buf, size, &sz) == KV_OK && size == 0)
		abort(); /* empty text is not a size */
	if (kvargs_duration_ms(buf, size, &ms) == 0 && ms < 0)
		abort();
	free(buf);

	buf = malloc(size + 1);
	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	for (i = 0; i <= size && argc < 16; i++) {
		if (i == size || buf[i] == '\n') {
			buf[i] = '\0';
			argv[argc++] = buf + start;
			start = i + 1;
		}
	}
	memset(err, 'x', sizeof(err));
	if (kvargs_parse(argc, (const char *const *)argv, &a, err, sizeof(err)) == 0) {
		if (strlen(a.ns) > KV_NS_NAME_MAX)
			abort();
		if ((a.given & KVARG_NAMESPACE) && kv_ns_name_check(a.ns, strlen(a.ns)) != KV_OK)
			abort(); /* the engine's rule decides, not a copy of it */
		if ((a.given & KVARG_NAMESPACE) && a.ns[0] == '\0')
			abort();
		if ((a.snapshot != NULL) != ((a.given & KVARG_SNAPSHOT) != 0))
			abort();
		if (a.snapshot != NULL && a.snapshot[0] == '\0')
			abort();
		if (a.default_ttl_ms < 0)
			abort();
		/* 0 would mean "default" to the engine: the parser refuses it */
		if (((a.given & KVARG_SHARDS) && a.shards == 0) ||
		    ((a.given & KVARG_MAX_KEY_SIZE) && a.max_key_size == 0) ||
		    ((a.given & KVARG_MAX_VALUE_SIZE) && a.max_value_size == 0))
			abort();
		kvargs_free(&a);
	} else {
		if (memchr(err, '\0', sizeof(err)) == NULL || err[0] == '\0')
			abort();
		if (err[0] >= 'A' && err[0] <= 'Z')
			abort();
		if (a.snapshot != NULL)
			abort(); /* nothing is left to free after a failure */
	}
	free(buf);
	return 0;
}
