/*
 * fuzz_http.c -- libFuzzer target for the HTTP door's request path.
 *
 * Each input is fed to httpProcessInput (server/http.c) as a client's query
 * buffer, in up to three reads split where the first byte says, exactly as
 * networking.c does (compaction between reads), against a real engine with
 * namespaces "0".."15": parsing, framing (Content-Length, chunked), auth,
 * routing, REST handlers, batch JSON, namespace creation, feed handshakes and
 * websocket frames all run.  The server's sources are linked except main.c,
 * whose few globals are defined here (server/log.c logs to stderr at the
 * default level, which keeps the run quiet).
 */
#include "http.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>

server srv;

void serverRequestShutdown(int how)
{
	(void)how;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	configInitDefaults(&srv.cfg);
	srv.cfg.http_port = 1;
	srv.cfg.threads = 1;
	srv.cfg.proto_max_bulk_len = 1 << 20;
	pthread_mutex_init(&srv.cfg_lock, NULL);
	configPublish();
	kv_config kc;
	kv_config_init(&kc);
	kc.memory = 256u << 20;
	if (kv_env_open(&kc, &srv.env) != KV_OK || kv_nscache_open(srv.env, &srv.nscache) != KV_OK)
		abort();
	for (int i = 0; i < NUM_DBS; i++) {
		char name[8];
		snprintf(name, sizeof(name), "%d", i);
		kv_ns_create(srv.env, name, NULL);
		if (kv_nscache_get(srv.nscache, name, strlen(name), &srv.dbs[i]) != KV_OK)
			abort();
	}
	kv_env_set_hook(srv.env, httpChangeHook, NULL);
	srv.nworkers = 1;
	srv.workers = calloc(1, sizeof(worker));
	pthread_mutex_init(&srv.workers[0].lock, NULL);
	srv.workers[0].evfd = eventfd(0, EFD_NONBLOCK);
	if (httpMetricsInit(1) != 0)
		abort();
	return 0;
}

static void feed(client *c, const uint8_t *p, size_t n)
{
	if (n == 0)
		return;
	if (c->qpos) { /* networking.c's compaction */
		memmove(c->qbuf, c->qbuf + c->qpos, c->qlen - c->qpos);
		c->qlen -= c->qpos;
		c->qpos = 0;
	}
	if (c->qlen + n > c->qcap) {
		c->qcap = c->qlen + n;
		c->qbuf = realloc(c->qbuf, c->qcap ? c->qcap : 1);
	}
	memcpy(c->qbuf + c->qlen, p, n);
	c->qlen += n;
	httpProcessInput(c);
	pubsubDrainMailbox(c); /* what the worker would write */
	replyConsume(&c->rb, c->rb.len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned runs;
	if (size == 0)
		return 0;
	client *c = calloc(1, sizeof(*c));
	c->w = &srv.workers[0];
	c->fd = -1;
	replyInit(&c->rb);
	pthread_mutex_init(&c->mbox_lock, NULL);
	httpClientInit(c, 1);
	/* the first byte picks two split points */
	size_t a = size > 1 ? (data[0] * (size - 1)) / 255 : 0;
	size_t b = a + (size - 1 - a) / 2;
	const uint8_t *p = data + 1;
	size_t n = size - 1;
	if (a > n) a = n;
	if (b > n) b = n;
	feed(c, p, a);
	if (!c->close_after_reply)
		feed(c, p + a, b - a);
	if (!c->close_after_reply)
		feed(c, p + b, n - b);
	httpClientFree(c);
	for (mailMsg *m = c->mbox_head, *nx; m; m = nx) {
		nx = m->next;
		free(m);
	}
	pthread_mutex_destroy(&c->mbox_lock);
	replyFree(&c->rb);
	free(c->qbuf);
	free(c);
	if (++runs % 4096 == 0) /* keep the store small */
		for (int i = 0; i < NUM_DBS; i++)
			kv_ns_flush(srv.dbs[i]);
	return 0;
}
