/*
 * http_rest.c -- /v1/ns...: keys, listing, batches and namespaces over HTTP.
 *
 * Every handler translates one request into one engine call (kv_get, kv_set,
 * kv_del, kv_incr, kv_scan, kv_batch, kv_ns_*) and its status into HTTP; the
 * semantics (conditions, TTLs, globbing, batch atomicity) are the engine's.
 *
 *   GET|HEAD|PUT|DELETE /v1/ns/{ns}/keys/{key}   POST /v1/ns/{ns}/keys/{key}/incr?by=N
 *   (a GET of a hash, set, zset or list key: 409 KV_EWRONGTYPE naming its kind)
 *   GET /v1/ns/{ns}/keys?prefix=&match=&cursor=&count=     POST /v1/ns/{ns}/batch
 *   GET /v1/ns    GET|PUT|DELETE /v1/ns/{ns}
 */
#include "http.h"
#include "aof.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Bounds that keep one request's work short, so a worker's other clients wait
 * at most a few ms behind it. */
#define LIST_COUNT_MAX  10000              /* largest count= of a listing step */
#define BATCH_OPS_MAX   10000              /* largest batch */
#define JSON_BODY_MAX   (16 * 1024 * 1024) /* largest batch or namespace-config body */

/* The engine's tag name, or the tag's number for a host-private tag. */
static const char *typeName(int t, char *buf, size_t cap)
{
	const char *name = kv_type_name(t);
	if (name)
		return name;
	snprintf(buf, cap, "%d", t);
	return buf;
}

static const char *typeContent(int t)
{
	switch (t) {
	case KV_T_TEXT: case KV_T_INT: case KV_T_REAL: return "text/plain; charset=utf-8";
	case KV_T_JSON: return "application/json";
	default:        return "application/octet-stream";
	}
}

/* ------------------------------------------------------------- keys */

static void keyGet(client *c, httpReq *rq, kv_ns *ns, const char *key, size_t klen)
{
	kv_buf *b = &c->w->buf;
	int rc = kv_get(ns, key, klen, b);
	if (rc == KV_EWRONGTYPE) { /* a collection: the door serves strings; say which kind it is */
		int kind = 0;
		char msg[96];
		const char *kn = kv_kind(ns, key, klen, &kind) == KV_OK ? kv_kind_name(kind) : NULL;
		snprintf(msg, sizeof(msg), "WRONGTYPE the key holds a %s, not a string", kn ? kn : "collection");
		httpRespondError(c, rq, 409, "KV_EWRONGTYPE", msg);
		return;
	}
	if (rc != KV_OK) {
		httpRespondKvError(c, rq, rc);
		return;
	}
	char extra[128], tb[16];
	const char *tn = typeName(b->type, tb, sizeof(tb));
	if (b->expires_at)
		snprintf(extra, sizeof(extra), "X-KV-Type: %s\r\nX-KV-Expires-At: %lld\r\n", tn,
		         (long long)b->expires_at);
	else /* the common case, without printf */
		snprintf(extra, sizeof(extra), "X-KV-Type: %s\r\n", tn);
	httpRespond(c, rq, 200, typeContent(b->type), extra, b->data, b->len);
}

static int contentType(const httpReq *rq)
{
	const struct phr_header *ct = httpHeader(rq, "content-type");
	if (ct == NULL)
		return KV_T_BYTES;
	size_t n = ct->value_len;
	const char *semi = memchr(ct->value, ';', n);
	if (semi)
		n = (size_t)(semi - ct->value);
	while (n && (ct->value[n - 1] == ' ' || ct->value[n - 1] == '\t'))
		n--;
	if (n == 16 && strncasecmp(ct->value, "application/json", 16) == 0)
		return KV_T_JSON;
	if (n >= 5 && strncasecmp(ct->value, "text/", 5) == 0)
		return KV_T_TEXT;
	return KV_T_BYTES;
}

/* A positive integer query parameter: 1 found, 0 absent, -1 bad. */
static int queryPositive(const httpReq *rq, const char *name, long long *out)
{
	char v[32];
	size_t n;
	int r = httpQueryParam(rq, name, v, sizeof(v), &n);
	if (r != 1)
		return r;
	return argToLongLong(v, n, out) && *out > 0 ? 1 : -1;
}

static int queryFlag(const httpReq *rq, const char *name)
{
	char v[8];
	size_t n;
	if (httpQueryParam(rq, name, v, sizeof(v), &n) != 1)
		return 0;
	return !(n == 1 && v[0] == '0') && !(n == 5 && !strcasecmp(v, "false"));
}

/* A TTL of whole seconds as the engine's absolute expiry (its arithmetic, no rounding here). */
static int expiryFromSeconds(int64_t secs, int64_t *expires_at)
{
	return secs > INT64_MAX / 1000 ? KV_EINVAL : kv_expiry_from_ttl_ms(secs * 1000, expires_at);
}

static void keyPut(client *c, httpReq *rq, kv_ns *ns, const char *key, size_t klen)
{
	long long ttl = 0, px = 0;
	int rt = queryPositive(rq, "ttl", &ttl), rp = queryPositive(rq, "px", &px);
	if (rt < 0 || rp < 0 || (rt && rp)) {
		httpRespondError(c, rq, 400, "KV_EINVAL", "ttl (seconds) or px (ms): one positive integer");
		return;
	}
	int64_t exp = KV_EXPIRE_DEFAULT;
	if (rt && expiryFromSeconds(ttl, &exp) != KV_OK) {
		httpRespondError(c, rq, 400, "KV_EINVAL", "ttl out of range");
		return;
	}
	if (rp && kv_expiry_from_ttl_ms(px, &exp) != KV_OK) {
		httpRespondError(c, rq, 400, "KV_EINVAL", "px out of range");
		return;
	}
	unsigned flags = (queryFlag(rq, "nx") ? KV_SET_NX : 0) | (queryFlag(rq, "xx") ? KV_SET_XX : 0);
	if (flags == (KV_SET_NX | KV_SET_XX)) {
		httpRespondError(c, rq, 400, "KV_EINVAL", "nx and xx are exclusive");
		return;
	}
	kv_buf *old = &c->w->buf; /* tells a new key (201) from an overwrite (204) */
	int rc = kv_set(ns, key, klen, rq->body ? rq->body : "", rq->body_len, contentType(rq), exp, flags, old);
	int replaced = rc == KV_OK && old->type != KV_T_NONE;
	if (rc == KV_EWRONGTYPE) { /* a collection, whose old value cannot be returned: replaced as SET does */
		rc = kv_set(ns, key, klen, rq->body ? rq->body : "", rq->body_len, contentType(rq), exp, flags, NULL);
		replaced = 1;
	}
	if (rc == KV_EXISTS)
		httpRespondError(c, rq, 409, "KV_EXISTS", "key exists (nx)");
	else if (rc == KV_NOTFOUND)
		httpRespondError(c, rq, 404, "KV_NOTFOUND", "key does not exist (xx)");
	else if (rc != KV_OK)
		httpRespondKvError(c, rq, rc);
	else
		httpRespond(c, rq, replaced ? 204 : 201, NULL, NULL, NULL, 0);
}

static void keyIncr(client *c, httpReq *rq, kv_ns *ns, const char *key, size_t klen)
{
	char v[32];
	size_t n;
	long long by = 1;
	int r = httpQueryParam(rq, "by", v, sizeof(v), &n);
	if (r < 0 || (r == 1 && !argToLongLong(v, n, &by))) {
		httpRespondError(c, rq, 400, "KV_EINVAL", "by must be a 64-bit integer");
		return;
	}
	int64_t result;
	int rc = kv_incr(ns, key, klen, by, &result);
	if (rc != KV_OK) {
		httpRespondKvError(c, rq, rc);
		return;
	}
	char body[32];
	int len = snprintf(body, sizeof(body), "%lld", (long long)result);
	httpRespond(c, rq, 200, "application/json", NULL, body, (size_t)len);
}

/* ----------------------------------------------------------- listing */

typedef struct listCtx {
	json_t *keys, *encoded;
	size_t  i;
	int     oom;
} listCtx;

static int listKey(void *ctx, const void *key, size_t klen, const void *val, size_t vlen, int type,
                   int64_t expires_at)
{
	(void)val, (void)vlen, (void)type, (void)expires_at;
	listCtx *l = ctx;
	json_t *s = httpJsonBytes(key, klen);
	if (s == NULL) { /* not UTF-8: percent-encoded, and its index listed */
		char *pe = httpPercentEncode(key, klen);
		s = pe ? json_string(pe) : NULL;
		free(pe);
		if (s == NULL)
			return l->oom = 1;
		if (l->encoded == NULL)
			l->encoded = json_array();
		json_array_append_new(l->encoded, json_integer((json_int_t)l->i));
	}
	json_array_append_new(l->keys, s);
	l->i++;
	return 0;
}

static void keyList(client *c, httpReq *rq, kv_ns *ns)
{
	char prefix[4096], match[4096], cur[32], cnt[32];
	size_t plen = 0, mlen = 0, n;
	int hp = httpQueryParam(rq, "prefix", prefix, sizeof(prefix), &plen);
	int hm = httpQueryParam(rq, "match", match, sizeof(match), &mlen);
	int hc = httpQueryParam(rq, "cursor", cur, sizeof(cur), &n);
	long long count = 100;
	uint64_t ucur = 0;
	errno = 0;
	if (hc == 1 && n > 0 && n <= 20 && strspn(cur, "0123456789") == n)
		ucur = strtoull(cur, NULL, 10);
	else if (hc == 1)
		hc = -1;
	if (hp < 0 || hm < 0 || hc < 0 || errno) {
		httpRespondError(c, rq, 400, "KV_EINVAL", "bad prefix, match or cursor");
		return;
	}
	int hn = httpQueryParam(rq, "count", cnt, sizeof(cnt), &n);
	if (hn < 0 || (hn == 1 && (!argToLongLong(cnt, n, &count) || count < 1 || count > LIST_COUNT_MAX))) {
		httpRespondError(c, rq, 400, "KV_EINVAL", "count must be 1..10000");
		return;
	}
	kv_scan_opts o;
	memset(&o, 0, sizeof(o));
	if (hp == 1 && plen) {
		o.prefix = prefix;
		o.prefix_len = plen;
	}
	if (hm == 1) {
		o.match = match;
		o.match_len = mlen;
	}
	o.count = (size_t)count;
	listCtx l = {json_array(), NULL, 0, 0};
	int rc = kv_scan(ns, &ucur, &o, listKey, &l);
	if (rc != KV_OK || l.oom) {
		json_decref(l.keys);
		json_decref(l.encoded);
		httpRespondKvError(c, rq, rc != KV_OK ? rc : KV_ENOMEM);
		return;
	}
	char cs[32];
	snprintf(cs, sizeof(cs), "%llu", (unsigned long long)ucur);
	json_t *out = json_pack("{s:s, s:o}", "cursor", cs, "keys", l.keys);
	if (l.encoded)
		json_object_set_new(out, "percent_encoded", l.encoded);
	httpRespondJson(c, rq, 200, out);
}

/* ------------------------------------------------------------ batch */

static int opCode(const char *s)
{
	static const struct { const char *n; int op; } t[] = {
		{"get", KV_OP_GET}, {"set", KV_OP_SET}, {"del", KV_OP_DEL}, {"exists", KV_OP_EXISTS},
		{"consume", KV_OP_CONSUME}};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (!strcmp(s, t[i].n))
			return t[i].op;
	return 0;
}

/* One batch item from its JSON; NULL on success, else the reason. */
static const char *opFromJson(json_t *jo, kv_op *op, char **owned)
{
	const char *name = json_string_value(json_object_get(jo, "op"));
	json_t *key = json_object_get(jo, "key");
	if (!json_is_object(jo) || name == NULL || !(op->op = opCode(name)))
		return "each op needs \"op\": get|set|del|exists|consume";
	if (!json_is_string(key))
		return "each op needs a string \"key\"";
	op->key = json_string_value(key);
	op->klen = json_string_length(key);
	op->expires_at = KV_EXPIRE_DEFAULT;
	if (op->op != KV_OP_SET)
		return NULL;
	json_t *v = json_object_get(jo, "value");
	const char *tname = json_string_value(json_object_get(jo, "type"));
	if (v == NULL)
		return "set needs a \"value\"";
	if (json_is_string(v)) {
		op->val = json_string_value(v);
		op->vlen = json_string_length(v);
		op->type = KV_T_TEXT;
	} else { /* any other JSON value is stored as JSON text */
		*owned = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		if (*owned == NULL)
			return "out of memory";
		op->val = *owned;
		op->vlen = strlen(*owned);
		op->type = KV_T_JSON;
	}
	if (tname) {
		if (!strcmp(tname, "text")) op->type = KV_T_TEXT;
		else if (!strcmp(tname, "json")) op->type = KV_T_JSON;
		else if (!strcmp(tname, "bytes")) op->type = KV_T_BYTES;
		else return "type must be text, json or bytes";
	}
	json_t *ttl = json_object_get(jo, "ttl"), *px = json_object_get(jo, "px");
	if (ttl && px)
		return "ttl and px are exclusive";
	if (ttl) {
		json_int_t t = json_integer_value(ttl);
		if (!json_is_integer(ttl) || t <= 0 || expiryFromSeconds(t, &op->expires_at) != KV_OK)
			return "ttl must be a positive integer of seconds";
	}
	if (px) {
		json_int_t t = json_integer_value(px);
		if (!json_is_integer(px) || t <= 0 || kv_expiry_from_ttl_ms(t, &op->expires_at) != KV_OK)
			return "px must be a positive integer of ms";
	}
	if (json_is_true(json_object_get(jo, "nx")))
		op->flags |= KV_SET_NX;
	if (json_is_true(json_object_get(jo, "xx")))
		op->flags |= KV_SET_XX;
	return NULL;
}

static json_t *opResult(const kv_op *op, const kv_buf *arena)
{
	json_t *r = json_object();
	json_object_set_new(r, "code", json_string(kv_strerror_code(op->status)));
	if (op->op == KV_OP_EXISTS && (op->status == KV_OK || op->status == KV_NOTFOUND))
		json_object_set_new(r, "exists", json_boolean(op->status == KV_OK));
	if ((op->op == KV_OP_GET || op->op == KV_OP_CONSUME) && op->status == KV_OK) {
		const char *p = arena->data + op->out_off;
		json_t *s = httpJsonBytes(p, op->out_len);
		if (s) {
			json_object_set_new(r, "value", s);
		} else {
			char *pe = httpPercentEncode(p, op->out_len);
			json_object_set_new(r, "value_percent", json_string(pe ? pe : ""));
			free(pe);
		}
		char tb[16];
		json_object_set_new(r, "type", json_string(typeName(op->out_type, tb, sizeof(tb))));
		if (op->out_expires_at)
			json_object_set_new(r, "expires_at", json_integer(op->out_expires_at));
	}
	return r;
}

static void batch(client *c, httpReq *rq, kv_ns *ns)
{
	json_error_t jerr;
	if (rq->body_len > JSON_BODY_MAX) {
		httpRespondError(c, rq, 413, "KV_EVALSIZE", "batch body over 16 MiB");
		return;
	}
	json_t *root = json_loadb(rq->body ? rq->body : "", rq->body_len, JSON_REJECT_DUPLICATES, &jerr);
	json_t *ops = json_object_get(root, "ops");
	const char *mode = json_string_value(json_object_get(root, "mode"));
	if (root == NULL || !json_is_object(root) || !json_is_array(ops)) {
		json_decref(root);
		httpRespondError(c, rq, 400, "KV_EINVAL", "body must be {\"mode\": ..., \"ops\": [...]}");
		return;
	}
	int m = KV_BATCH_ALL_OR_NOTHING;
	if (mode && !strcmp(mode, "best_effort"))
		m = KV_BATCH_BEST_EFFORT;
	else if (mode && strcmp(mode, "all_or_nothing")) {
		json_decref(root);
		httpRespondError(c, rq, 400, "KV_EINVAL", "mode must be all_or_nothing or best_effort");
		return;
	}
	size_t n = json_array_size(ops);
	if (n > BATCH_OPS_MAX) {
		json_decref(root);
		httpRespondError(c, rq, 413, "KV_EINVAL", "more than 10000 ops");
		return;
	}
	kv_op *kops = calloc(n ? n : 1, sizeof(*kops));
	char **owned = calloc(n ? n : 1, sizeof(char *));
	const char *why = kops && owned ? NULL : "out of memory";
	size_t bad = 0;
	for (size_t i = 0; i < n && !why; i++)
		if ((why = opFromJson(json_array_get(ops, i), &kops[i], &owned[i])) != NULL)
			bad = i;
	if (why) {
		char msg[160];
		snprintf(msg, sizeof(msg), "op %zu: %s", bad, why);
		httpRespondError(c, rq, kops && owned ? 400 : 503, kops && owned ? "KV_EINVAL" : "KV_ENOMEM", msg);
	} else {
		kv_buf arena = KV_BUF_INIT;
		kv_error err;
		int rc = n ? kv_batch(ns, kops, n, m, &arena, &err) : KV_OK;
		json_t *results = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(results, opResult(&kops[i], &arena));
		if (rc == KV_OK) {
			httpRespondJson(c, rq, 200, json_pack("{s:o}", "results", results));
		} else {
			const char *msg = kv_strerror_text(rc), *code = kv_strerror_code(rc);
			int st = rc == KV_NOTFOUND || rc == KV_EXISTS ? 409 : httpStatusForKv(rc);
			json_t *o = json_pack("{s:s, s:s, s:o}", "error", msg, "code", code, "results", results);
			if (err.item != (size_t)-1)
				json_object_set_new(o, "item", json_integer((json_int_t)err.item));
			httpRespondJson(c, rq, st, o);
		}
		kv_buf_free(srv.env, &arena);
	}
	for (size_t i = 0; owned && i < n; i++)
		free(owned[i]);
	free(owned);
	free(kops);
	json_decref(root);
}

/* -------------------------------------------------------- namespaces */

/* The eviction policy under the server's names, Redis's ("noeviction"). */
static json_t *nsJson(const kv_ns_stats *st)
{
	const kv_ns_config *k = &st->config;
	const char *pol = kv_evict_policy_name(k->eviction, KV_NAME_REDIS);
	return json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:s}}",
	                 "name", st->name, "keys", (json_int_t)st->keys, "bytes", (json_int_t)st->bytes,
	                 "hits", (json_int_t)st->hits, "misses", (json_int_t)st->misses,
	                 "expired", (json_int_t)st->expired, "evicted", (json_int_t)st->evicted,
	                 "config", "shards", (json_int_t)k->shards, "max_keys", (json_int_t)k->max_keys,
	                 "max_memory", (json_int_t)k->max_memory, "default_ttl_ms", (json_int_t)k->default_ttl_ms,
	                 "max_key_size", (json_int_t)k->max_key_size, "max_value_size", (json_int_t)k->max_value_size,
	                 "eviction", pol ? pol : "unknown");
}

static void nsList(client *c, httpReq *rq)
{
	kv_ns_stats *st;
	size_t n;
	int rc = kv_ns_list_all(srv.env, &st, &n);
	if (rc != KV_OK) {
		httpRespondKvError(c, rq, rc);
		return;
	}
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, nsJson(&st[i]));
	kv_ns_list_free(srv.env, st);
	httpRespondJson(c, rq, 200, json_pack("{s:o}", "namespaces", arr));
}

/* kv_ns_config from a JSON object with the engine's field names. */
static const char *nsConfigFromJson(json_t *o, kv_ns_config *cfg)
{
	kv_ns_config_init(cfg);
	const char *k;
	json_t *v;
	json_object_foreach(o, k, v) {
		if (!strcmp(k, "eviction")) {
			const char *s = json_string_value(v);
			if (s == NULL || kv_evict_policy_parse(s, json_string_length(v), &cfg->eviction) != KV_OK)
				return "eviction: one of " KV_EVICT_POLICY_LIST " (noeviction is an alias of none)";
			continue;
		}
		json_int_t x = json_integer_value(v);
		if (!json_is_integer(v) || x < 0)
			return "config values must be non-negative integers";
		if (!strcmp(k, "shards") && x <= UINT32_MAX) cfg->shards = (uint32_t)x;
		else if (!strcmp(k, "max_keys")) cfg->max_keys = (uint64_t)x;
		else if (!strcmp(k, "max_memory")) cfg->max_memory = (uint64_t)x;
		else if (!strcmp(k, "default_ttl_ms")) cfg->default_ttl_ms = (int64_t)x;
		else if (!strcmp(k, "max_key_size") && x <= UINT32_MAX) cfg->max_key_size = (uint32_t)x;
		else if (!strcmp(k, "max_value_size") && x <= UINT32_MAX) cfg->max_value_size = (uint32_t)x;
		else return "unknown or out-of-range config field";
	}
	return NULL;
}

static void nsCreate(client *c, httpReq *rq, const char *name)
{
	kv_ns_config cfg;
	kv_ns_config_init(&cfg);
	if (rq->body_len > JSON_BODY_MAX) {
		httpRespondError(c, rq, 413, "KV_EVALSIZE", "namespace config body over 16 MiB");
		return;
	}
	if (rq->body_len) {
		json_error_t jerr;
		json_t *o = json_loadb(rq->body, rq->body_len, JSON_REJECT_DUPLICATES, &jerr);
		const char *why = json_is_object(o) ? nsConfigFromJson(o, &cfg) : "body must be a JSON object";
		json_decref(o);
		if (why) {
			httpRespondError(c, rq, 400, "KV_EINVAL", why);
			return;
		}
	}
	aofNamespaceBegin();
	int rc = kv_ns_create(srv.env, name, &cfg);
	aofNamespaceEnd(1, name, &cfg, rc);
	if (rc != KV_OK)
		httpRespondKvError(c, rq, rc);
	else
		httpRespond(c, rq, 201, NULL, NULL, NULL, 0);
}

static void nsDrop(client *c, httpReq *rq, const char *name)
{
	long long idx;
	if (argToLongLong(name, strlen(name), &idx) && idx >= 0 && idx < NUM_DBS) {
		httpRespondError(c, rq, 409, "KV_EBUSY", "databases 0-15 cannot be dropped");
		return;
	}
	aofNamespaceBegin();
	int rc = kv_ns_drop(srv.env, name);
	aofNamespaceEnd(0, name, NULL, rc);
	if (rc != KV_OK)
		httpRespondKvError(c, rq, rc);
	else
		httpRespond(c, rq, 204, NULL, NULL, NULL, 0);
}

static void nsInfo(client *c, httpReq *rq, const char *name)
{
	kv_ns *ns;
	kv_ns_stats st;
	int rc = kv_nscache_get(srv.nscache, name, strlen(name), &ns);
	if (rc == KV_OK && (rc = kv_ns_stats_get(ns, &st)) == KV_OK)
		httpRespondJson(c, rq, 200, nsJson(&st));
	else
		httpRespondKvError(c, rq, rc);
}

/* ------------------------------------------------------------ routing */

static int methodIs(const httpReq *rq, const char *m)
{
	size_t n = strlen(m);
	return rq->method_len == n && memcmp(rq->method, m, n) == 0;
}

static void notAllowed(client *c, httpReq *rq)
{
	httpRespondError(c, rq, 405, "KV_EMETHOD", "method not allowed");
}

int httpRouteRest(client *c, httpReq *rq)
{
	const char *p = rq->path, *end = rq->path + rq->path_len;
	if (rq->path_len < 6 || memcmp(p, "/v1/ns", 6) != 0 || (rq->path_len > 6 && p[6] != '/'))
		return 0;
	/* raw segments after /v1/ns (split before decoding: %2F stays in a key) */
	const char *seg[5];
	size_t slen[5], nseg = 0;
	p += 6;
	while (p < end) {
		p++; /* the '/' */
		const char *s = p;
		while (p < end && *p != '/')
			p++;
		if (nseg == 5)
			return 0;
		seg[nseg] = s;
		slen[nseg++] = (size_t)(p - s);
	}
	if (nseg == 0) {
		if (methodIs(rq, "GET") || rq->head)
			nsList(c, rq);
		else
			notAllowed(c, rq);
		return 1;
	}
	char name[KV_NS_NAME_MAX * 3 + 1]; /* decoding never grows: room for any raw name we accept */
	ssize_t nl = slen[0] <= KV_NS_NAME_MAX * 3 ? httpPercentDecode(seg[0], slen[0], name, 0) : -1;
	if (nl < 0 || nl > KV_NS_NAME_MAX || kv_ns_name_check(name, (size_t)nl) != KV_OK) {
		httpRespondKvError(c, rq, KV_ENSNAME); /* 400 and the engine's text */
		return 1;
	}
	name[nl] = '\0';
	if (nseg == 1) {
		if (methodIs(rq, "PUT"))
			nsCreate(c, rq, name);
		else if (methodIs(rq, "DELETE"))
			nsDrop(c, rq, name);
		else if (methodIs(rq, "GET") || rq->head)
			nsInfo(c, rq, name);
		else
			notAllowed(c, rq);
		return 1;
	}
	int is_keys = slen[1] == 4 && memcmp(seg[1], "keys", 4) == 0;
	int is_batch = slen[1] == 5 && memcmp(seg[1], "batch", 5) == 0;
	if (!(is_keys && nseg <= 4) && !(is_batch && nseg == 2))
		return 0;
	if (nseg == 4 && !(slen[3] == 4 && memcmp(seg[3], "incr", 4) == 0))
		return 0;
	kv_ns *ns;
	int rc = kv_nscache_get(srv.nscache, name, (size_t)nl, &ns);
	if (rc != KV_OK) {
		httpRespondKvError(c, rq, rc);
		return 1;
	}
	if (is_batch) {
		if (methodIs(rq, "POST"))
			batch(c, rq, ns);
		else
			notAllowed(c, rq);
		return 1;
	}
	if (nseg == 2) {
		if (methodIs(rq, "GET") || rq->head)
			keyList(c, rq, ns);
		else
			notAllowed(c, rq);
		return 1;
	}
	char key[HTTP_MAX_HEADER_BYTES];
	ssize_t kl = httpPercentDecode(seg[2], slen[2], key, 0);
	if (kl < 0) {
		httpRespondError(c, rq, 400, "KV_EINVAL", "bad percent-encoding in the key");
		return 1;
	}
	if (nseg == 4) {
		if (methodIs(rq, "POST"))
			keyIncr(c, rq, ns, key, (size_t)kl);
		else
			notAllowed(c, rq);
	} else if (methodIs(rq, "GET") || rq->head) {
		keyGet(c, rq, ns, key, (size_t)kl);
	} else if (methodIs(rq, "PUT")) {
		keyPut(c, rq, ns, key, (size_t)kl);
	} else if (methodIs(rq, "DELETE")) {
		int r = kv_del(ns, key, (size_t)kl);
		if (r == KV_OK)
			httpRespond(c, rq, 204, NULL, NULL, NULL, 0);
		else
			httpRespondKvError(c, rq, r);
	} else {
		notAllowed(c, rq);
	}
	return 1;
}
