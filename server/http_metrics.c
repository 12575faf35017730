/*
 * http_metrics.c -- GET /metrics (Prometheus text format 0.0.4) and /healthz.
 *
 * Request counters and latency histograms are kept per worker, each worker's in
 * its own cache lines and written only by that worker (relaxed atomics), so
 * counting adds no shared write to the request path; /metrics sums them.
 * Everything else is read at scrape time from the engine (kv_ns_list_all,
 * kv_env_stats_get) and the server's own counters.
 */
#include "http.h"

#include <stdlib.h>
#include <string.h>

static const int statusCodes[] = {101, 200, 201, 204, 400, 401, 404, 405, 408, 409, 413, 431, 500, 501, 503};
#define NSTATUS (sizeof(statusCodes) / sizeof(statusCodes[0]))
static const double buckets[] = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};
#define NBUCKETS (sizeof(buckets) / sizeof(buckets[0]))

typedef struct httpStats {
	_Atomic uint64_t status[NSTATUS + 1]; /* the last: any other status */
	_Atomic uint64_t bucket[NBUCKETS + 1]; /* not cumulative; the last: +Inf */
	_Atomic uint64_t sum_ns;
} __attribute__((aligned(64))) httpStats;

static httpStats *stats;
static int nstats;

int httpMetricsInit(int nworkers)
{
	stats = aligned_alloc(64, sizeof(httpStats) * (size_t)nworkers);
	if (stats == NULL)
		return -1;
	memset(stats, 0, sizeof(httpStats) * (size_t)nworkers);
	nstats = nworkers;
	return 0;
}

void httpMetricsCount(worker *w, int status, double seconds)
{
	if (stats == NULL || w->idx >= nstats)
		return;
	httpStats *s = &stats[w->idx];
	size_t i = 0;
	while (i < NSTATUS && statusCodes[i] != status)
		i++;
	size_t b = 0;
	while (b < NBUCKETS && seconds > buckets[b])
		b++;
	/* one writer per slot: a relaxed load and store, no locked instruction */
#define BUMP(field, by) atomic_store_explicit(&(field), atomic_load_explicit(&(field), memory_order_relaxed) + (by), \
	                                      memory_order_relaxed)
	BUMP(s->status[i], 1);
	BUMP(s->bucket[b], 1);
	BUMP(s->sum_ns, (uint64_t)(seconds * 1e9));
#undef BUMP
}

static void family(replyBuf *rb, const char *name, const char *type, const char *help)
{
	addReplyRawFormat(rb, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void nsMetrics(replyBuf *rb)
{
	kv_ns_stats *st;
	size_t n;
	if (kv_ns_list_all(srv.env, &st, &n) != KV_OK)
		return;
	static const struct { const char *name, *type, *help; size_t off; } f[] = {
		{"shardkv_keys", "gauge", "Keys per namespace (expired keys not yet reclaimed included).", offsetof(kv_ns_stats, keys)},
		{"shardkv_memory_bytes", "gauge", "Memory charged to the namespace.", offsetof(kv_ns_stats, bytes)},
		{"shardkv_hits_total", "counter", "Reads that found their key.", offsetof(kv_ns_stats, hits)},
		{"shardkv_misses_total", "counter", "Reads that did not find their key.", offsetof(kv_ns_stats, misses)},
		{"shardkv_expired_total", "counter", "Keys removed because their TTL passed.", offsetof(kv_ns_stats, expired)},
		{"shardkv_evicted_total", "counter", "Keys removed by the eviction policy.", offsetof(kv_ns_stats, evicted)},
	};
	for (size_t k = 0; k < sizeof(f) / sizeof(f[0]); k++) {
		family(rb, f[k].name, f[k].type, f[k].help);
		for (size_t i = 0; i < n; i++)
			addReplyRawFormat(rb, "%s{ns=\"%s\"} %llu\n", f[k].name, st[i].name,
			    (unsigned long long)*(const uint64_t *)((const char *)&st[i] + f[k].off));
	}
	kv_ns_list_free(srv.env, st);
}

void httpMetricsRequest(client *c, httpReq *rq)
{
	replyBuf rb;
	replyInit(&rb);
	uint64_t resp = 0, http = 0, st[NSTATUS + 1] = {0}, bk[NBUCKETS + 1] = {0}, sum_ns = 0;
	for (int i = 0; i < srv.nworkers; i++)
		resp += atomic_load_explicit(&srv.workers[i].stat_commands, memory_order_relaxed);
	for (int i = 0; i < nstats; i++) {
		for (size_t k = 0; k <= NSTATUS; k++)
			st[k] += atomic_load_explicit(&stats[i].status[k], memory_order_relaxed);
		for (size_t k = 0; k <= NBUCKETS; k++)
			bk[k] += atomic_load_explicit(&stats[i].bucket[k], memory_order_relaxed);
		sum_ns += atomic_load_explicit(&stats[i].sum_ns, memory_order_relaxed);
	}
	for (size_t k = 0; k <= NSTATUS; k++)
		http += st[k];

	family(&rb, "shardkv_commands_total", "counter", "Commands (RESP) and requests (HTTP) served, by door.");
	addReplyRawFormat(&rb, "shardkv_commands_total{door=\"resp\"} %llu\n", (unsigned long long)resp);
	addReplyRawFormat(&rb, "shardkv_commands_total{door=\"http\"} %llu\n", (unsigned long long)http);
	family(&rb, "shardkv_http_requests_total", "counter", "HTTP requests by status.");
	for (size_t k = 0; k < NSTATUS; k++)
		addReplyRawFormat(&rb, "shardkv_http_requests_total{door=\"http\",status=\"%d\"} %llu\n", statusCodes[k],
		    (unsigned long long)st[k]);
	addReplyRawFormat(&rb, "shardkv_http_requests_total{door=\"http\",status=\"other\"} %llu\n", (unsigned long long)st[NSTATUS]);
	family(&rb, "shardkv_http_request_duration_seconds", "histogram", "Time to handle one HTTP request (parse to response queued).");
	uint64_t cum = 0;
	for (size_t k = 0; k < NBUCKETS; k++) {
		cum += bk[k];
		addReplyRawFormat(&rb, "shardkv_http_request_duration_seconds_bucket{door=\"http\",le=\"%g\"} %llu\n", buckets[k],
		    (unsigned long long)cum);
	}
	cum += bk[NBUCKETS];
	addReplyRawFormat(&rb, "shardkv_http_request_duration_seconds_bucket{door=\"http\",le=\"+Inf\"} %llu\n", (unsigned long long)cum);
	addReplyRawFormat(&rb, "shardkv_http_request_duration_seconds_sum{door=\"http\"} %.9f\n", (double)sum_ns / 1e9);
	addReplyRawFormat(&rb, "shardkv_http_request_duration_seconds_count{door=\"http\"} %llu\n", (unsigned long long)cum);

	nsMetrics(&rb);

	kv_env_stats es;
	if (kv_env_stats_get(srv.env, &es) == KV_OK) {
		family(&rb, "shardkv_region_bytes", "gauge", "Bytes of the engine's memory region.");
		addReplyRawFormat(&rb, "shardkv_region_bytes %llu\n", (unsigned long long)es.region_size);
		family(&rb, "shardkv_region_used_bytes", "gauge", "Region bytes handed out to shards and tables.");
		addReplyRawFormat(&rb, "shardkv_region_used_bytes %llu\n", (unsigned long long)es.region_used);
		family(&rb, "shardkv_namespaces", "gauge", "Namespaces in the store.");
		addReplyRawFormat(&rb, "shardkv_namespaces %u\n", es.namespaces);
	}
	family(&rb, "shardkv_connected_clients", "gauge", "Connected clients, both doors.");
	addReplyRawFormat(&rb, "shardkv_connected_clients %ld\n", atomic_load(&srv.connected_clients));
	family(&rb, "shardkv_feed_subscribers", "gauge", "Open /v1/feed streams.");
	addReplyRawFormat(&rb, "shardkv_feed_subscribers %zu\n", httpFeedSubscribers());
	int64_t now = mstime(), last = atomic_load(&srv.lastsave_ms);
	family(&rb, "shardkv_last_save_timestamp_seconds", "gauge", "Time of the last successful full save (or of the start).");
	addReplyRawFormat(&rb, "shardkv_last_save_timestamp_seconds %.3f\n", (double)last / 1000);
	family(&rb, "shardkv_last_save_age_seconds", "gauge", "Seconds since the last successful full save.");
	addReplyRawFormat(&rb, "shardkv_last_save_age_seconds %.3f\n", (double)(now - last) / 1000);
	family(&rb, "shardkv_last_save_success", "gauge", "1 if the last save succeeded, else 0.");
	addReplyRawFormat(&rb, "shardkv_last_save_success %d\n", atomic_load(&srv.last_save_ok) ? 1 : 0);
	family(&rb, "shardkv_uptime_seconds", "gauge", "Seconds since the server started.");
	addReplyRawFormat(&rb, "shardkv_uptime_seconds %.3f\n", (double)(now - atomic_load(&srv.start_ms)) / 1000);

	if (rb.oom)
		httpRespondKvError(c, rq, KV_ENOMEM);
	else
		httpRespond(c, rq, 200, "text/plain; version=0.0.4; charset=utf-8", NULL, rb.buf, rb.len);
	replyFree(&rb);
}

void httpHealthRequest(client *c, httpReq *rq)
{
	if (atomic_load(&srv.shutdown_asked))
		httpRespondError(c, rq, 503, "KV_ESHUTDOWN", "shutting down");
	else
		httpRespond(c, rq, 200, "application/json", NULL, "{\"status\":\"ok\"}", 15);
}
