/*
 * http.h -- the HTTP door of shardkv-server (REST, change feed, metrics, page).
 *
 * HOW IT WORKS
 *   --http-port opens a second listening socket.  Its connections are ordinary
 *   clients of the worker epoll loops (networking.c): the same query buffer,
 *   reply buffer, output-buffer limit, backpressure and mailbox.  A client whose
 *   socket was accepted on the HTTP port carries an httpConn (c->http), and
 *   networking.c hands its input to httpProcessInput instead of the RESP parser.
 *
 *   Requests are parsed with picohttpparser (exported by Debian's libh2o-evloop):
 *   a stateless, zero-copy parser over the bytes already in the query buffer, so
 *   pipelined requests are answered in order from one read, and a partial
 *   request costs nothing but its buffered bytes.  Chunked bodies are decoded in
 *   place (phr_decode_chunked).  Websocket frames are read and written by wslay;
 *   JSON is read and written by jansson.
 *
 *   http.c       connection state, limits, auth, routing, responses
 *   http_rest.c  /v1/ns... keys, listing, batch, namespaces
 *   http_feed.c  /v1/feed: websocket and Server-Sent Events fed by the engine hook
 *   http_metrics.c  /metrics, /healthz
 *   http_page.c  / (server/status_page.html, embedded at build time)
 */
#ifndef SHARDKV_HTTP_H
#define SHARDKV_HTTP_H

#include "server.h"

#include <jansson.h>

/* picohttpparser's API as libh2o-evloop exports it (Debian ships the library
 * symbols but not this header). */
struct phr_header {
	const char *name;
	size_t      name_len;
	const char *value;
	size_t      value_len;
};
struct phr_chunked_decoder {
	size_t bytes_left_in_chunk;
	char   consume_trailer;
	char   _hex_count;
	char   _state;
};
int phr_parse_request(const char *buf, size_t len, const char **method, size_t *method_len,
                      const char **path, size_t *path_len, int *minor_version,
                      struct phr_header *headers, size_t *num_headers, size_t last_len);
ssize_t phr_decode_chunked(struct phr_chunked_decoder *decoder, char *buf, size_t *bufsz);

#define HTTP_MAX_HEADER_BYTES 16384 /* request line + headers; more is 431 */
#define HTTP_MAX_HEADERS      64    /* header lines; more is 431 */
#define HTTP_WS_MAX_MSG       65536 /* largest websocket message a feed client may send */

enum { HTTP_REQ = 0, HTTP_WS, HTTP_SSE };

typedef struct httpConn {
	int      state;          /* HTTP_REQ, or a feed (HTTP_WS / HTTP_SSE) */
	int64_t  req_start_ms;   /* first byte of the partial request; 0: none */
	/* a request whose body is still arriving */
	int      chunked_started;
	union {
		struct phr_chunked_decoder d;
		char pad[64];        /* room should the library's struct grow */
	} dec;
	size_t   body_decoded;   /* chunked: decoded body bytes after the head */
	int      sent_continue;  /* 100 Continue already sent for this request */
	/* feed */
	struct feedSub *sub;
	void    *ws;             /* wslay_event_context_ptr */
	_Atomic int64_t overflow_ms; /* slow consumer: when the close was queued */
} httpConn;

/* One parsed request; every pointer points into the query buffer. */
typedef struct httpReq {
	const char *method;
	size_t      method_len;
	const char *path;        /* without the query string */
	size_t      path_len;
	const char *query;       /* after '?', or NULL */
	size_t      query_len;
	int         minor;
	struct phr_header *hdr;
	size_t      nhdr;
	const char *body;
	size_t      body_len;
	int         keepalive;
	int         head;        /* HEAD: send headers only */
} httpReq;

/* ---------------------------------------------------------------- http.c */
/* Called for every new client: marks the ones accepted on the HTTP port. */
void httpClientInit(client *c, int local_port);
void httpClientFree(client *c);
/* Run every complete request in c's query buffer (networking.c's processInput). */
int  httpProcessInput(client *c);
/* Periodic check from the worker: 1 if c must be closed now (slowloris, slow feed). */
int  httpClientExpired(client *c, int64_t now_ms);
int  httpListen(void);      /* main.c: open --http-port; the fd, -1 off, -2 error */

/* responses: one complete HTTP/1.1 response appended to c->rb */
void httpRespond(client *c, const httpReq *rq, int status, const char *ctype,
                 const char *extra_headers, const void *body, size_t len);
void httpRespondJson(client *c, const httpReq *rq, int status, json_t *obj); /* steals obj */
void httpRespondError(client *c, const httpReq *rq, int status, const char *code,
                      const char *msg);
/* An engine status as an HTTP error (status chosen from the code). */
void httpRespondKvError(client *c, const httpReq *rq, int rc);
int  httpStatusForKv(int rc);

/* helpers */
const struct phr_header *httpHeader(const httpReq *rq, const char *name);
/* Query parameter name: decoded into out (cap bytes); 1 found, 0 absent, -1 bad. */
int  httpQueryParam(const httpReq *rq, const char *name, char *out, size_t cap, size_t *outlen);
/* Percent-decode in into out (cap >= len); -1 on a bad escape. */
ssize_t httpPercentDecode(const char *in, size_t len, char *out, int plus_is_space);
/* Percent-encode arbitrary bytes as a string (caller frees). */
char *httpPercentEncode(const void *in, size_t len);
/* A JSON string for bytes that may not be UTF-8: NULL if they are not. */
json_t *httpJsonBytes(const void *p, size_t len);

/* ----------------------------------------------------------- http_rest.c */
/* /v1/ns...; returns 0 if the path is not a /v1/ns path. */
int  httpRouteRest(client *c, httpReq *rq);

/* ----------------------------------------------------------- http_feed.c */
void httpFeedRequest(client *c, httpReq *rq);
void httpFeedInput(client *c);     /* websocket frames from the client */
void httpFeedClose(client *c);
void httpFeedEvent(const char *ns, const void *key, size_t klen, int event);
/* The one engine hook: keyspace notifications (pubsub.c), then the feed. */
void httpChangeHook(void *ctx, const char *ns, const void *key, size_t klen, int event);
size_t httpFeedSubscribers(void);

/* -------------------------------------------------------- http_metrics.c */
void httpMetricsRequest(client *c, httpReq *rq);
void httpHealthRequest(client *c, httpReq *rq);
/* Count one finished request of worker w (status, seconds taken). */
void httpMetricsCount(worker *w, int status, double seconds);
int  httpMetricsInit(int nworkers);

/* ----------------------------------------------------------- http_page.c */
void httpPageRequest(client *c, httpReq *rq);

#endif /* SHARDKV_HTTP_H */
