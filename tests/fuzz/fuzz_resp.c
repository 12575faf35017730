/*
 * fuzz_resp.c -- libFuzzer target for the RESP request parser (server/resp.c).
 *
 * The input is split into requests twice: once with every byte available at
 * once, once fed in pieces (piece sizes taken from the input's first byte), as a
 * socket would deliver it.  Both runs must produce the same requests, argument
 * for argument, and the same error; every argument must lie inside the request
 * and be NUL-terminated.  ASan/UBSan catch the rest.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resp.h"

typedef struct {
	char  *log;    /* "arg\x01arg\x02" per request, "E:msg" for an error */
	size_t len, cap;
} trace;

static void tput(trace *t, const void *p, size_t n)
{
	if (n == 0)
		return;
	if (t->len + n > t->cap) {
		t->cap = (t->len + n) * 2 + 64;
		t->log = realloc(t->log, t->cap);
		if (t->log == NULL)
			abort();
	}
	memcpy(t->log + t->len, p, n);
	t->len += n;
}

/* Parse buf[0..total) making at most `avail` bytes visible, growing by step. */
static void run(const uint8_t *data, size_t size, size_t step, int auth, trace *t)
{
	char *buf = malloc(size + 1);
	if (buf == NULL)
		abort();
	memcpy(buf, data, size);
	respParser p;
	respParserInit(&p);
	respLimits lim = {.max_bulk_len = 1024 * 1024, .authenticated = auth};
	size_t start = 0, avail = step < size ? step : size;
	for (;;) {
		int r = respParse(&p, buf + start, avail - start, &lim);
		if (r == RESP_NEED_MORE) {
			if (avail == size)
				break;
			avail = avail + step < size ? avail + step : size;
			continue;
		}
		if (r == RESP_ERROR) {
			tput(t, "E:", 2);
			tput(t, p.err, strlen(p.err));
			break;
		}
		if (p.pos == 0 || p.pos > avail - start)
			abort(); /* must consume, and only what it was given */
		if (r == RESP_COMMAND) {
			if (p.argc <= 0)
				abort();
			for (int i = 0; i < p.argc; i++) {
				if (p.argv[i].off + p.argv[i].len >= p.pos)
					abort(); /* its NUL must lie inside the request */
				if (buf[start + p.argv[i].off + p.argv[i].len] != '\0')
					abort();
				tput(t, buf + start + p.argv[i].off, p.argv[i].len);
				tput(t, "\x01", 1);
			}
		}
		tput(t, "\x02", 1);
		start += p.pos;
		respParserReset(&p);
		if (start == size)
			break;
		if (avail < start)
			avail = start;
	}
	respParserFree(&p);
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t step = (size_t)(data[0] % 17) + 1;
	int auth = data[0] & 0x80 ? 0 : 1;
	data++;
	size--;
	trace whole = {0}, pieces = {0};
	run(data, size, size ? size : 1, auth, &whole);
	run(data, size, step, auth, &pieces);
	if (whole.len != pieces.len || (whole.len && memcmp(whole.log, pieces.log, whole.len) != 0)) {
		fprintf(stderr, "whole-buffer and piecewise parses differ (step %zu)\n", step);
		abort();
	}
	free(whole.log);
	free(pieces.log);
	return 0;
}
