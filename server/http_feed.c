/*
 * http_feed.c -- GET /v1/feed?ns=N&prefix=P: a live feed of every change, as
 * websocket text messages or as Server-Sent Events.
 *
 * HOW IT WORKS
 *   The server installs one engine hook (httpChangeHook): it runs the keyspace
 *   notifications of pubsub.c, then, if anyone subscribed, httpFeedEvent.  That
 *   runs in the thread that made the change, after the engine released its
 *   locks: it encodes the event once per flavour ({"ns","key","event","ts"} in a
 *   websocket frame, built by wslay, or an SSE "data:" block) and appends it to
 *   the mailbox of each matching subscriber, whose worker is woken and writes it
 *   -- the same path as PUBLISH, so only the owner ever touches a socket.
 *
 *   Slow consumers: an event that would take a subscriber's pending output
 *   (mailbox + unsent replies) past client-output-buffer-limit-bytes is not
 *   queued; the events still in its mailbox are dropped and it gets a close
 *   frame (1008, "slow consumer") or an SSE "event: close" right after what its
 *   reply buffer holds, receives nothing more, and is disconnected once that is
 *   written, or after http-request-timeout seconds if it does not read
 *   (httpClientExpired).  Memory per subscriber is therefore bounded by the limit.
 *
 *   Lock order: feedLock, then a client's mbox_lock, then a worker's lock.
 */
#include "http.h"

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <wslay/wslay.h>

typedef struct feedSub {
	client *c;
	int     ws;
	int     closing;          /* the close was queued: nothing more */
	char    ns[KV_NS_NAME_MAX + 1];  /* "" = every namespace */
	char   *prefix;
	size_t  plen;
} feedSub;

static pthread_mutex_t feedLock = PTHREAD_MUTEX_INITIALIZER;
static feedSub **subs;
static size_t nsubs, capsubs;
static _Atomic size_t nsubsAtomic;

size_t httpFeedSubscribers(void)
{
	return atomic_load(&nsubsAtomic);
}

/* ------------------------------------------------------- frame encoding */

static ssize_t appendCb(const uint8_t *data, size_t len, int flags, void *user)
{
	(void)flags;
	addReplyRaw(user, data, len);
	return (ssize_t)len;
}

/* One unmasked server frame into rb (wslay writes the header). */
static int wsFrame(replyBuf *rb, int opcode, const void *payload, size_t len)
{
	struct wslay_frame_callbacks cb = {appendCb, NULL, NULL};
	wslay_frame_context_ptr fc;
	if (wslay_frame_context_init(&fc, &cb, rb) != 0)
		return -1;
	struct wslay_frame_iocb io;
	memset(&io, 0, sizeof(io));
	io.fin = 1;
	io.opcode = (uint8_t)opcode;
	io.payload_length = len;
	io.data = payload;
	io.data_length = len;
	ssize_t r = wslay_frame_send(fc, &io);
	wslay_frame_context_free(fc);
	return r == (ssize_t)len && !rb->oom ? 0 : -1;
}

static int wsCloseFrame(replyBuf *rb, uint16_t code, const char *reason)
{
	char p[128];
	size_t n = strlen(reason);
	if (n > sizeof(p) - 2)
		n = sizeof(p) - 2;
	p[0] = (char)(code >> 8);
	p[1] = (char)(code & 0xff);
	memcpy(p + 2, reason, n);
	return wsFrame(rb, WSLAY_CONNECTION_CLOSE, p, n + 2);
}

/* ------------------------------------------------------------ events */

/* The engine's event name; "change" for a code kv.h does not name. */
static const char *eventName(int event)
{
	const char *name = kv_event_name(event);
	return name ? name : "change";
}

static int subMatches(const feedSub *s, const char *ns, const void *key, size_t klen)
{
	if (s->closing)
		return 0;
	if (s->ns[0] && strcmp(s->ns, ns) != 0)
		return 0;
	return s->plen == 0 || (klen >= s->plen && memcmp(key, s->prefix, s->plen) == 0);
}

#define FEED_CLOSE_RESERVE 64 /* a close frame or SSE close event, with room */

/* Queue bytes for s (feedLock held).  Over the limit: queue the close instead. */
static void deliver(feedSub *s, const replyBuf *msg)
{
	client *c = s->c;
	uint64_t limit = atomic_load_explicit(&srv.obuf_limit, memory_order_relaxed);
	replyBuf close;
	replyInit(&close);
	const replyBuf *what = msg;
	pthread_mutex_lock(&c->mbox_lock);
	size_t pending = c->mbox_bytes + atomic_load_explicit(&c->info_obl, memory_order_relaxed);
	/* the close frame itself must fit under the limit too, or the writer's
	 * own limit check (networking.c) would cut the connection before it */
	if (pending + msg->len + FEED_CLOSE_RESERVE > limit) {
		/* drop the queued events (whole frames, none started): the close follows
		 * what is already in the reply buffer */
		for (mailMsg *d = c->mbox_head, *nx; d; d = nx) {
			nx = d->next;
			free(d);
		}
		c->mbox_head = c->mbox_tail = NULL;
		c->mbox_bytes = 0;
		s->closing = 1;
		if (s->ws)
			wsCloseFrame(&close, WSLAY_CODE_POLICY_VIOLATION, "slow consumer");
		else
			addReplyRaw(&close, "event: close\ndata: {\"error\":\"slow consumer\"}\n\n", 46);
		what = &close;
		atomic_store(&c->http->overflow_ms, mstime());
		serverLog(LL_WARNING, "feed client id=%llu addr=%s: output buffer limit reached, closing",
		          (unsigned long long)c->id, c->addr);
	}
	mailMsg *m = malloc(sizeof(*m) + what->len);
	if (m) {
		m->next = NULL;
		m->len = what->len;
		memcpy(m->data, what->buf, what->len);
		if (c->mbox_tail)
			c->mbox_tail->next = m;
		else
			c->mbox_head = m;
		c->mbox_tail = m;
		c->mbox_bytes += what->len;
	}
	pthread_mutex_unlock(&c->mbox_lock);
	replyFree(&close);
	workerNotifyMail(c);
}

void httpFeedEvent(const char *ns, const void *key, size_t klen, int event)
{
	replyBuf ws, sse;
	replyInit(&ws);
	replyInit(&sse);
	char *json = NULL;
	pthread_mutex_lock(&feedLock);
	for (size_t i = 0; i < nsubs; i++) {
		feedSub *s = subs[i];
		if (!subMatches(s, ns, key, klen))
			continue;
		if (json == NULL) { /* encode once, on the first match */
			json_t *k = httpJsonBytes(key, klen);
			json_t *o = json_pack("{s:s, s:s, s:I}", "ns", ns, "event", eventName(event),
			                      "ts", (json_int_t)kv_now_ms());
			if (k == NULL) {
				char *pe = httpPercentEncode(key, klen);
				k = json_string(pe ? pe : "");
				free(pe);
				json_object_set_new(o, "key_encoding", json_string("percent"));
			}
			json_object_set_new(o, "key", k);
			json = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
			json_decref(o);
			if (json == NULL)
				break;
		}
		replyBuf *enc = s->ws ? &ws : &sse;
		if (enc->len == 0) {
			if (s->ws) {
				wsFrame(&ws, WSLAY_TEXT_FRAME, json, strlen(json));
			} else {
				addReplyRaw(&sse, "data: ", 6);
				addReplyRaw(&sse, json, strlen(json));
				addReplyRaw(&sse, "\n\n", 2);
			}
		}
		if (!enc->oom)
			deliver(s, enc);
	}
	pthread_mutex_unlock(&feedLock);
	free(json);
	replyFree(&ws);
	replyFree(&sse);
}

void httpChangeHook(void *ctx, const char *ns, const void *key, size_t klen, int event)
{
	pubsubKeyspaceHook(ctx, ns, key, klen, event);
	if (atomic_load_explicit(&nsubsAtomic, memory_order_relaxed))
		httpFeedEvent(ns, key, klen, event);
}

/* --------------------------------------------------- websocket session */

static ssize_t wsRecv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *user)
{
	(void)flags;
	client *c = user;
	size_t avail = c->qlen - c->qpos;
	if (avail == 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	if (len > avail)
		len = avail;
	memcpy(buf, c->qbuf + c->qpos, len);
	c->qpos += len;
	return (ssize_t)len;
}

static ssize_t wsSend(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags, void *user)
{
	(void)ctx, (void)flags;
	client *c = user;
	addReplyRaw(&c->rb, data, len);
	return (ssize_t)len;
}

static void wsMsg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg, void *user)
{
	(void)ctx, (void)arg, (void)user; /* a feed takes no messages; pings and closes are wslay's */
}

void httpFeedInput(client *c)
{
	wslay_event_context_ptr ws = c->http->ws;
	if (wslay_event_recv(ws) != 0 || wslay_event_send(ws) != 0 ||
	    (!wslay_event_want_read(ws) && !wslay_event_want_write(ws)))
		c->close_after_reply = 1; /* closed by the peer, or a protocol error */
	c->qpos = c->qlen;
}

/* --------------------------------------------------------- subscribing */

static int subscribe(client *c, int ws, const char *ns, const char *prefix, size_t plen)
{
	feedSub *s = calloc(1, sizeof(*s));
	if (s == NULL || (plen && (s->prefix = malloc(plen)) == NULL)) {
		free(s);
		return -1;
	}
	s->c = c;
	s->ws = ws;
	snprintf(s->ns, sizeof(s->ns), "%s", ns);
	if (plen)
		memcpy(s->prefix, prefix, plen);
	s->plen = plen;
	pthread_mutex_lock(&feedLock);
	if (nsubs == capsubs) {
		size_t ncap = capsubs ? capsubs * 2 : 16;
		feedSub **n = realloc(subs, ncap * sizeof(*n));
		if (n == NULL) {
			pthread_mutex_unlock(&feedLock);
			free(s->prefix);
			free(s);
			return -1;
		}
		subs = n;
		capsubs = ncap;
	}
	subs[nsubs++] = s;
	atomic_store(&nsubsAtomic, nsubs);
	pthread_mutex_unlock(&feedLock);
	c->http->sub = s;
	return 0;
}

void httpFeedClose(client *c)
{
	httpConn *h = c->http;
	if (h->sub) {
		pthread_mutex_lock(&feedLock);
		for (size_t i = 0; i < nsubs; i++)
			if (subs[i] == h->sub) {
				subs[i] = subs[--nsubs];
				break;
			}
		atomic_store(&nsubsAtomic, nsubs);
		pthread_mutex_unlock(&feedLock);
		free(h->sub->prefix);
		free(h->sub);
		h->sub = NULL;
	}
	if (h->ws) {
		wslay_event_context_free(h->ws);
		h->ws = NULL;
	}
}

static int headerHas(const httpReq *rq, const char *name, const char *tok)
{
	const struct phr_header *h = httpHeader(rq, name);
	size_t n = strlen(tok);
	if (h == NULL)
		return 0;
	for (size_t i = 0; i + n <= h->value_len; i++)
		if (strncasecmp(h->value + i, tok, n) == 0)
			return 1;
	return 0;
}

void httpFeedRequest(client *c, httpReq *rq)
{
	char ns[KV_NS_NAME_MAX + 1] = "", prefix[4096];
	size_t nslen = 0, plen = 0;
	int hn = httpQueryParam(rq, "ns", ns, sizeof(ns), &nslen);
	int hp = httpQueryParam(rq, "prefix", prefix, sizeof(prefix), &plen);
	if (hn < 0 || (hn == 1 && kv_ns_name_check(ns, nslen) != KV_OK)) {
		httpRespondKvError(c, rq, KV_ENSNAME); /* 400 and the engine's text */
		return;
	}
	if (hp < 0) {
		httpRespondError(c, rq, 400, "KV_EINVAL", "bad prefix");
		return;
	}
	int ws = headerHas(rq, "upgrade", "websocket");
	int sse = !ws && headerHas(rq, "accept", "text/event-stream");
	if (!ws && !sse) {
		httpRespondError(c, rq, 400, "KV_EINVAL",
		                 "the feed needs a websocket upgrade or Accept: text/event-stream");
		return;
	}
	if (ws) {
		const struct phr_header *key = httpHeader(rq, "sec-websocket-key");
		const struct phr_header *ver = httpHeader(rq, "sec-websocket-version");
		if (key == NULL || key->value_len != 24 || ver == NULL || ver->value_len != 2 ||
		    memcmp(ver->value, "13", 2) != 0 || !headerHas(rq, "connection", "upgrade")) {
			httpRespondError(c, rq, 400, "KV_EINVAL", "bad websocket handshake (version 13 only)");
			return;
		}
		static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
		unsigned char in[24 + sizeof(guid)], md[SHA_DIGEST_LENGTH];
		char accept[64];
		memcpy(in, key->value, 24);
		memcpy(in + 24, guid, sizeof(guid) - 1);
		SHA1(in, 24 + sizeof(guid) - 1, md);
		EVP_EncodeBlock((unsigned char *)accept, md, SHA_DIGEST_LENGTH);
		struct wslay_event_callbacks cb = {wsRecv, wsSend, NULL, NULL, NULL, NULL, wsMsg};
		wslay_event_context_ptr ctx;
		if (wslay_event_context_server_init(&ctx, &cb, c) != 0) {
			httpRespondKvError(c, rq, KV_ENOMEM);
			return;
		}
		wslay_event_config_set_max_recv_msg_length(ctx, HTTP_WS_MAX_MSG);
		c->http->ws = ctx;
		if (subscribe(c, 1, ns, prefix, plen) != 0) {
			httpRespondKvError(c, rq, KV_ENOMEM);
			return;
		}
		char head[256];
		int n = snprintf(head, sizeof(head),
		                 "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		                 "Sec-WebSocket-Accept: %s\r\n\r\n", accept);
		addReplyRaw(&c->rb, head, (size_t)n);
		c->http->state = HTTP_WS;
	} else {
		if (subscribe(c, 0, ns, prefix, plen) != 0) {
			httpRespondKvError(c, rq, KV_ENOMEM);
			return;
		}
		static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
		                           "Cache-Control: no-cache\r\nConnection: close\r\n\r\n"
		                           ": shardkv feed\n\n";
		addReplyRaw(&c->rb, head, sizeof(head) - 1);
		c->http->state = HTTP_SSE;
	}
}
