/*
 * http.c -- the HTTP door: connection state, framing, limits, auth, routing.
 *
 * HOW IT WORKS
 *   See http.h.  httpProcessInput parses each request in the query buffer with
 *   phr_parse_request, frames its body (Content-Length, or chunked decoded in
 *   place), checks auth and routes it; every response is appended to the
 *   client's reply buffer, in request order, and networking.c writes them.
 *
 *   Limits are checked before anything is allocated for a request: a head that
 *   is still incomplete after HTTP_MAX_HEADER_BYTES is 431, a Content-Length or
 *   a decoded chunked body over proto-max-bulk-len is 413, both sent before the
 *   body is read, and the connection is closed.  A head that does not complete
 *   within http-request-timeout seconds of its first byte, or a body that makes
 *   no progress for as long, gets 408 and is closed (httpClientExpired, from the
 *   worker's periodic scan), so a slowloris client holds only its socket.
 */
#include "http.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---------------------------------------------------------- connections */

void httpClientInit(client *c, int local_port)
{
	if (srv.cfg.http_port == 0 || local_port != srv.cfg.http_port)
		return;
	c->http = calloc(1, sizeof(httpConn));
	if (c->http == NULL) {
		c->close_after_reply = 1; /* nothing can be served: close at once */
		return;
	}
	c->authenticated = 1; /* HTTP authenticates every request (Bearer), not the connection */
}

void httpClientFree(client *c)
{
	if (c->http == NULL)
		return;
	httpFeedClose(c);
	free(c->http);
	c->http = NULL;
}

int httpClientExpired(client *c, int64_t now)
{
	httpConn *h = c->http;
	int64_t limit = (int64_t)srv.cfg.http_request_timeout * 1000;
	if (h->state != HTTP_REQ) {
		/* a feed is never idle; a slow one goes once its close is written, or
		 * when it has not read it in time */
		int64_t o = atomic_load(&h->overflow_ms);
		if (o == 0)
			return -1;
		pthread_mutex_lock(&c->mbox_lock);
		int drained = c->mbox_head == NULL && c->rb.len == c->sentpos;
		pthread_mutex_unlock(&c->mbox_lock);
		return drained || now - o > limit ? 1 : -1;
	}
	if (h->req_start_ms == 0 || limit <= 0)
		return 0;
	int64_t since = h->chunked_started || h->sent_continue ? atomic_load(&c->last_ms) : h->req_start_ms;
	if (now - since <= limit)
		return 0;
	serverLog(LL_VERBOSE, "closing HTTP client id=%llu addr=%s: request timeout",
	          (unsigned long long)c->id, c->addr);
	if (c->rb.len == c->sentpos) {
		static const char body[] = "{\"error\":\"request timeout\",\"code\":\"KV_ETIMEOUT\"}";
		char msg[256];
		int n = snprintf(msg, sizeof(msg), "HTTP/1.1 408 Request Timeout\r\nContent-Type: application/json\r\n"
		                 "Content-Length: %zu\r\nConnection: close\r\n\r\n%s", sizeof(body) - 1, body);
		ssize_t r = send(c->fd, msg, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
		(void)r;
	}
	return 1;
}

int httpListen(void)
{
	if (srv.cfg.http_port == 0)
		return -1;
	int fd = listenOn(srv.cfg.http_bind, srv.cfg.http_port);
	if (fd < 0)
		return -2;
	if (httpMetricsInit(srv.cfg.threads) != 0) {
		close(fd);
		return -2;
	}
	if (srv.cfg.requirepass[0] == '\0' && strcmp(srv.cfg.http_bind, "127.0.0.1") != 0 &&
	    strcmp(srv.cfg.http_bind, "::1") != 0 && strcmp(srv.cfg.http_bind, "localhost") != 0)
		serverLog(LL_WARNING, "WARNING: the HTTP door listens on %s WITHOUT A PASSWORD: anyone who can "
		          "reach it can read, change and delete every key. Set --requirepass.", srv.cfg.http_bind);
	serverLog(LL_NOTICE, "HTTP door on %s:%d", srv.cfg.http_bind, srv.cfg.http_port);
	return fd;
}

/* ------------------------------------------------------------ responses */

static const char *statusText(int status)
{
	switch (status) {
	case 101: return "Switching Protocols";
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 413: return "Content Too Large";
	case 426: return "Upgrade Required";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	default:  return "Unknown";
	}
}

/* Date header text, recomputed once a second per thread. */
static const char *httpDate(void)
{
	static __thread char buf[64];
	static __thread time_t last;
	time_t now = time(NULL);
	if (now != last) {
		struct tm tm;
		gmtime_r(&now, &tm);
		strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm);
		last = now;
	}
	return buf;
}

static __thread int lastStatus; /* of the request being answered, for metrics */

/* Append s to p (no NUL); returns the new end.  The response head is built by
 * hand: it is on every request's path, and printf costs more than the rest. */
static char *put(char *p, const char *s)
{
	size_t n = strlen(s);
	memcpy(p, s, n);
	return p + n;
}

static char *putU64(char *p, uint64_t v)
{
	char tmp[24], *t = tmp + sizeof(tmp);
	do
		*--t = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	memcpy(p, t, (size_t)(tmp + sizeof(tmp) - t));
	return p + (tmp + sizeof(tmp) - t);
}

void httpRespond(client *c, const httpReq *rq, int status, const char *ctype,
                 const char *extra, const void *body, size_t len)
{
	char head[512], *p = head;
	int keep = rq && rq->keepalive && !c->close_after_reply;
	p = put(p, "HTTP/1.1 ");
	p = putU64(p, (uint64_t)status);
	*p++ = ' ';
	p = put(p, statusText(status));
	p = put(p, "\r\nDate: ");
	p = put(p, httpDate());
	p = put(p, "\r\nContent-Length: ");
	p = putU64(p, len);
	p = put(p, "\r\n");
	if (ctype && (len || status == 200) && strlen(ctype) < 128) {
		p = put(p, "Content-Type: ");
		p = put(p, ctype);
		p = put(p, "\r\n");
	}
	if (!keep)
		p = put(p, "Connection: close\r\n");
	else if (rq->minor == 0) /* HTTP/1.0 keeps the connection only if told so */
		p = put(p, "Connection: keep-alive\r\n");
	addReplyRaw(&c->rb, head, (size_t)(p - head));
	if (extra)
		addReplyRaw(&c->rb, extra, strlen(extra));
	addReplyRaw(&c->rb, "\r\n", 2);
	if (len && !(rq && rq->head))
		addReplyRaw(&c->rb, body, len);
	if (!keep)
		c->close_after_reply = 1;
	lastStatus = status;
}

void httpRespondJson(client *c, const httpReq *rq, int status, json_t *obj)
{
	char *s = obj ? json_dumps(obj, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
	json_decref(obj);
	if (s == NULL) {
		httpRespond(c, rq, 500, "application/json", NULL,
		            "{\"error\":\"out of memory\",\"code\":\"KV_ENOMEM\"}\n", 46);
		return;
	}
	httpRespond(c, rq, status, "application/json", NULL, s, strlen(s));
	free(s);
}

void httpRespondError(client *c, const httpReq *rq, int status, const char *code, const char *msg)
{
	json_t *o = json_pack("{s:s, s:s}", "error", msg, "code", code);
	if (status == 401) {
		char *s = json_dumps(o, JSON_COMPACT);
		json_decref(o);
		httpRespond(c, rq, status, "application/json", "WWW-Authenticate: Bearer realm=\"shardkv\"\r\n",
		            s ? s : "", s ? strlen(s) : 0);
		free(s);
		return;
	}
	httpRespondJson(c, rq, status, o);
}

int httpStatusForKv(int rc)
{
	switch (rc) {
	case KV_NOTFOUND: case KV_ENONS:
		return 404;
	case KV_EXISTS: case KV_ENSEXISTS: case KV_ENOTINT: case KV_ENOTFLOAT: case KV_EOVERFLOW:
	case KV_EABORTED: case KV_UNCHANGED: case KV_EWRONGTYPE: /* a collection key: no string body */
		return 409;
	case KV_EVALSIZE:
		return 413;
	case KV_ENOMEM: case KV_EMAXKEYS: case KV_EMAXMEM: case KV_EBUSY: case KV_ETOOMANYNS: case KV_EIO:
		return 503;
	case KV_ENSNAME: case KV_EINVAL: case KV_EKEYSIZE: case KV_ESHARDS: case KV_ERANGE:
		return 400;
	default:
		return 500;
	}
}

void httpRespondKvError(client *c, const httpReq *rq, int rc)
{
	httpRespondError(c, rq, httpStatusForKv(rc), kv_strerror_code(rc), kv_strerror_text(rc));
}

/* -------------------------------------------------------------- helpers */

const struct phr_header *httpHeader(const httpReq *rq, const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < rq->nhdr; i++)
		if (rq->hdr[i].name_len == n && strncasecmp(rq->hdr[i].name, name, n) == 0)
			return &rq->hdr[i];
	return NULL;
}

/* How many times a header appears: framing headers must appear once, or a
 * proxy in front and this server could frame the same bytes differently. */
static size_t headerCount(const httpReq *rq, const char *name)
{
	size_t n = strlen(name), k = 0;
	for (size_t i = 0; i < rq->nhdr; i++)
		k += rq->hdr[i].name_len == n && strncasecmp(rq->hdr[i].name, name, n) == 0;
	return k;
}

static int hexval(int ch)
{
	if (ch >= '0' && ch <= '9') return ch - '0';
	if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
	return -1;
}

ssize_t httpPercentDecode(const char *in, size_t len, char *out, int plus_is_space)
{
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		if (in[i] == '%') {
			int hi, lo;
			if (i + 2 >= len || (hi = hexval((unsigned char)in[i + 1])) < 0 ||
			    (lo = hexval((unsigned char)in[i + 2])) < 0)
				return -1;
			out[o++] = (char)(hi * 16 + lo);
			i += 2;
		} else if (in[i] == '+' && plus_is_space) {
			out[o++] = ' ';
		} else {
			out[o++] = in[i];
		}
	}
	return (ssize_t)o;
}

char *httpPercentEncode(const void *in, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p = in;
	char *out = malloc(len * 3 + 1), *o = out;
	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = p[i];
		if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		    ch == '-' || ch == '_' || ch == '.' || ch == '~') {
			*o++ = (char)ch;
		} else {
			*o++ = '%';
			*o++ = hex[ch >> 4];
			*o++ = hex[ch & 15];
		}
	}
	*o = '\0';
	return out;
}

json_t *httpJsonBytes(const void *p, size_t len)
{
	return json_stringn(p, len); /* jansson refuses invalid UTF-8 */
}

int httpQueryParam(const httpReq *rq, const char *name, char *out, size_t cap, size_t *outlen)
{
	if (rq->query == NULL)
		return 0;
	size_t nlen = strlen(name);
	const char *q = rq->query, *end = rq->query + rq->query_len;
	while (q && q < end) {
		const char *amp = memchr(q, '&', (size_t)(end - q));
		const char *pe = amp ? amp : end;
		const char *eq = memchr(q, '=', (size_t)(pe - q));
		const char *ke = eq ? eq : pe;
		if ((size_t)(ke - q) == nlen && memcmp(q, name, nlen) == 0) {
			const char *v = eq ? eq + 1 : pe;
			size_t vlen = (size_t)(pe - v);
			if (vlen + 1 > cap)
				return -1;
			ssize_t n = httpPercentDecode(v, vlen, out, 1);
			if (n < 0)
				return -1;
			out[n] = '\0';
			if (outlen)
				*outlen = (size_t)n;
			return 1;
		}
		q = amp ? amp + 1 : NULL;
	}
	return 0;
}

/* ---------------------------------------------------------------- auth */

static int tokenEquals(const char *a, size_t alen, const char *b)
{
	size_t blen = strlen(b);
	unsigned diff = alen != blen;
	for (size_t i = 0; i < alen; i++)
		diff |= (unsigned char)a[i] ^ (unsigned char)b[i < blen ? i : 0];
	return diff == 0;
}

static int authorized(const httpReq *rq)
{
	if (!atomic_load_explicit(&srv.auth_required, memory_order_relaxed))
		return 1;
	const char *tok = NULL;
	size_t tlen = 0;
	char qtok[600];
	const struct phr_header *a = httpHeader(rq, "authorization");
	if (a && a->value_len > 7 && strncasecmp(a->value, "Bearer ", 7) == 0) {
		tok = a->value + 7;
		tlen = a->value_len - 7;
	} else if (httpQueryParam(rq, "access_token", qtok, sizeof(qtok), &tlen) == 1) {
		tok = qtok; /* RFC 6750 2.3: browsers cannot set headers on a websocket */
	}
	if (tok == NULL)
		return 0;
	pthread_mutex_lock(&srv.cfg_lock);
	int ok = tokenEquals(tok, tlen, srv.cfg.requirepass);
	pthread_mutex_unlock(&srv.cfg_lock);
	return ok;
}

/* -------------------------------------------------------------- routing */

static int pathIs(const httpReq *rq, const char *p)
{
	size_t n = strlen(p);
	return rq->path_len == n && memcmp(rq->path, p, n) == 0;
}

static int methodIs(const httpReq *rq, const char *m)
{
	size_t n = strlen(m);
	return rq->method_len == n && memcmp(rq->method, m, n) == 0;
}

static void dispatch(client *c, httpReq *rq)
{
	int get = methodIs(rq, "GET") || rq->head;
	int open = pathIs(rq, "/healthz") || pathIs(rq, "/");
	if (!open && !authorized(rq)) {
		httpRespondError(c, rq, 401, "KV_EAUTH", "authentication required: Authorization: Bearer <requirepass>");
		return;
	}
	if (pathIs(rq, "/") || pathIs(rq, "/index.html")) {
		if (get)
			httpPageRequest(c, rq);
		else
			httpRespondError(c, rq, 405, "KV_EMETHOD", "method not allowed");
	} else if (pathIs(rq, "/healthz")) {
		httpHealthRequest(c, rq);
	} else if (pathIs(rq, "/metrics")) {
		if (get)
			httpMetricsRequest(c, rq);
		else
			httpRespondError(c, rq, 405, "KV_EMETHOD", "method not allowed");
	} else if (pathIs(rq, "/v1/feed")) {
		if (methodIs(rq, "GET")) {
			httpFeedRequest(c, rq);
			if (c->http->state != HTTP_REQ) /* a stream's head is not httpRespond's */
				lastStatus = c->http->state == HTTP_WS ? 101 : 200;
		}
		else
			httpRespondError(c, rq, 405, "KV_EMETHOD", "method not allowed");
	} else if (!httpRouteRest(c, rq)) {
		httpRespondError(c, rq, 404, "KV_ENOROUTE", "no such endpoint");
	}
}

/* ------------------------------------------------------- request framing */

static int tooManyHeaderLines(const char *buf, size_t len)
{
	size_t lines = 0;
	for (size_t i = 0; i + 1 < len; i++)
		if (buf[i] == '\r' && buf[i + 1] == '\n') {
			if (i >= 2 && buf[i - 2] == '\r' && buf[i - 1] == '\n')
				break;
			lines++;
		}
	return lines > HTTP_MAX_HEADERS;
}

/* Strict decimal Content-Length: digits only, no overflow. */
static int parseLength(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	if (n == 0 || n > 19)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return 0;
}

static int hasToken(const struct phr_header *h, const char *tok)
{
	size_t n = strlen(tok);
	const char *p = h->value, *end = h->value + h->value_len;
	while (p < end) {
		while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
			p++;
		const char *s = p;
		while (p < end && *p != ',')
			p++;
		const char *e = p;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if ((size_t)(e - s) == n && strncasecmp(s, tok, n) == 0)
			return 1;
	}
	return 0;
}

/* A request-level failure before routing: answer and close the connection. */
static int fail(client *c, int status, const char *code, const char *msg)
{
	serverLog(LL_VERBOSE, "HTTP client id=%llu addr=%s: %d %s", (unsigned long long)c->id, c->addr,
	          status, msg);
	httpRespondError(c, NULL, status, code, msg);
	httpMetricsCount(c->w, status, 0);
	c->close_after_reply = 1;
	return -1;
}

static void resetRequest(httpConn *h)
{
	h->req_start_ms = 0;
	h->chunked_started = 0;
	h->body_decoded = 0;
	h->sent_continue = 0;
}

static double monoSeconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int httpProcessInput(client *c)
{
	httpConn *h = c->http;
	while (c->qpos < c->qlen && !c->close_after_reply) {
		if (h->state == HTTP_WS) {
			httpFeedInput(c);
			return 0;
		}
		if (h->state == HTTP_SSE) { /* an event stream takes no input */
			c->qpos = c->qlen;
			return 0;
		}
		char *buf = c->qbuf + c->qpos;
		size_t len = c->qlen - c->qpos;
		struct phr_header hdr[HTTP_MAX_HEADERS];
		size_t nh = HTTP_MAX_HEADERS;
		httpReq rq;
		memset(&rq, 0, sizeof(rq));
		const char *path;
		size_t path_len;
		int hl = phr_parse_request(buf, len, &rq.method, &rq.method_len, &path, &path_len, &rq.minor,
		                           hdr, &nh, 0);
		if (hl == -2) {
			if (len > HTTP_MAX_HEADER_BYTES)
				return fail(c, 431, "KV_EHEADERS", "request header fields too large");
			if (h->req_start_ms == 0)
				h->req_start_ms = mstime();
			break;
		}
		if (hl == -1) {
			if (tooManyHeaderLines(buf, len < HTTP_MAX_HEADER_BYTES ? len : HTTP_MAX_HEADER_BYTES))
				return fail(c, 431, "KV_EHEADERS", "too many header fields");
			return fail(c, 400, "KV_EPROTO", "malformed HTTP request");
		}
		if (hl > HTTP_MAX_HEADER_BYTES)
			return fail(c, 431, "KV_EHEADERS", "request header fields too large");
		rq.hdr = hdr;
		rq.nhdr = nh;
		const char *qm = memchr(path, '?', path_len);
		rq.path = path;
		rq.path_len = qm ? (size_t)(qm - path) : path_len;
		if (qm) {
			rq.query = qm + 1;
			rq.query_len = path_len - rq.path_len - 1;
		}
		rq.head = rq.method_len == 4 && memcmp(rq.method, "HEAD", 4) == 0;
		const struct phr_header *conn = httpHeader(&rq, "connection");
		rq.keepalive = rq.minor >= 1 ? !(conn && hasToken(conn, "close"))
		                             : (conn && hasToken(conn, "keep-alive"));

		/* body framing: Transfer-Encoding chunked, or Content-Length, never both */
		const struct phr_header *te = httpHeader(&rq, "transfer-encoding");
		const struct phr_header *cl = httpHeader(&rq, "content-length");
		uint64_t maxbody = atomic_load_explicit(&srv.max_bulk_len, memory_order_relaxed);
		size_t consumed = (size_t)hl;
		int complete = 1;
		if (te && cl)
			return fail(c, 400, "KV_EPROTO", "both Transfer-Encoding and Content-Length");
		if (headerCount(&rq, "content-length") > 1 || headerCount(&rq, "transfer-encoding") > 1)
			return fail(c, 400, "KV_EPROTO", "a framing header appears more than once");
		if (te) {
			if (!(te->value_len == 7 && strncasecmp(te->value, "chunked", 7) == 0))
				return fail(c, 501, "KV_EPROTO", "unsupported Transfer-Encoding");
			if (!h->chunked_started) {
				memset(&h->dec, 0, sizeof(h->dec));
				h->dec.d.consume_trailer = 1;
				h->chunked_started = 1;
				h->body_decoded = 0;
			}
			char *raw = buf + hl + h->body_decoded;
			size_t rawlen = len - (size_t)hl - h->body_decoded;
			ssize_t r = phr_decode_chunked(&h->dec.d, raw, &rawlen);
			h->body_decoded += rawlen;
			if (r == -1)
				return fail(c, 400, "KV_EPROTO", "bad chunked encoding");
			if (h->body_decoded > maxbody)
				return fail(c, 413, "KV_EVALSIZE", "request body larger than proto-max-bulk-len");
			if (r == -2) {
				c->qlen = c->qpos + (size_t)hl + h->body_decoded; /* the rest was consumed */
				complete = 0;
			} else {
				rq.body = buf + hl;
				rq.body_len = h->body_decoded;
				consumed = (size_t)hl + h->body_decoded;
				c->qlen = c->qpos + consumed + (size_t)r;
			}
		} else if (cl) {
			uint64_t n;
			if (parseLength(cl->value, cl->value_len, &n) != 0)
				return fail(c, 400, "KV_EPROTO", "bad Content-Length");
			if (n > maxbody)
				return fail(c, 413, "KV_EVALSIZE", "request body larger than proto-max-bulk-len");
			if (len - (size_t)hl < n) {
				complete = 0;
			} else {
				rq.body = buf + hl;
				rq.body_len = (size_t)n;
				consumed = (size_t)hl + (size_t)n;
			}
		}
		if (!complete) {
			if (h->req_start_ms == 0)
				h->req_start_ms = mstime();
			if (!h->sent_continue) {
				const struct phr_header *ex = httpHeader(&rq, "expect");
				if (!authorized(&rq) && !pathIs(&rq, "/healthz")) {
					httpRespondError(c, NULL, 401, "KV_EAUTH", "authentication required: Authorization: Bearer <requirepass>");
					c->close_after_reply = 1;
					return -1;
				}
				if (ex && ex->value_len == 12 && strncasecmp(ex->value, "100-continue", 12) == 0)
					addReplyRaw(&c->rb, "HTTP/1.1 100 Continue\r\n\r\n", 25);
				h->sent_continue = 1; /* from here the body must make progress */
			}
			break;
		}

		double t0 = monoSeconds();
		lastStatus = 0;
		dispatch(c, &rq);
		httpMetricsCount(c->w, lastStatus, monoSeconds() - t0);
		c->qpos += consumed;
		resetRequest(h);
	}
	return 0;
}
