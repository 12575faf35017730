/*
 * t_server.c -- server commands: COMMAND, INFO, TIME, SAVE, BGSAVE, LASTSAVE,
 * SHUTDOWN.  (CONFIG lives in config.c, DBSIZE/FLUSH* in t_keys.c.)
 */
#include "server.h"
#include "aof.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <unistd.h>

static void addCommandFlags(replyBuf *rb, int flags)
{
	const char *names[6];
	int n = 0;
	if (flags & CMD_WRITE) names[n++] = "write";
	if (flags & CMD_READONLY) names[n++] = "readonly";
	if (flags & CMD_FAST) names[n++] = "fast";
	if (flags & CMD_NOAUTH) names[n++] = "no_auth";
	if (flags & CMD_PUBSUB) names[n++] = "pubsub";
	if (flags & CMD_ADMIN) names[n++] = "admin";
	addReplySetLen(rb, n);
	for (int i = 0; i < n; i++)
		addReplyStatus(rb, names[i]);
}

/* One COMMAND INFO entry, Redis 7's 10-element layout. */
static void addCommandInfo(replyBuf *rb, const redisCommand *cmd)
{
	addReplyArrayLen(rb, 10);
	addReplyBulkCString(rb, cmd->name);
	addReplyLongLong(rb, cmd->arity);
	addCommandFlags(rb, cmd->flags);
	addReplyLongLong(rb, cmd->firstkey);
	addReplyLongLong(rb, cmd->lastkey);
	addReplyLongLong(rb, cmd->step);
	addReplySetLen(rb, 0); /* ACL categories */
	addReplySetLen(rb, 0); /* tips */
	addReplyArrayLen(rb, 0); /* key specs */
	addReplyArrayLen(rb, 0); /* subcommands */
}

static void addCommandDocs(replyBuf *rb, const redisCommand *cmd)
{
	addReplyBulkCString(rb, cmd->name);
	addReplyMapLen(rb, 3);
	addReplyBulkCString(rb, "summary");
	addReplyBulkCString(rb, cmd->summary);
	addReplyBulkCString(rb, "since");
	addReplyBulkCString(rb, "1.0.0");
	addReplyBulkCString(rb, "group");
	addReplyBulkCString(rb, cmd->group);
}

/* COMMAND | COMMAND COUNT | COMMAND INFO [name ...] | COMMAND DOCS [name ...] | COMMAND LIST */
void commandCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	size_t n;
	const redisCommand *tab = commandTable(&n);
	if (argc == 1) {
		addReplyArrayLen(&c->rb, (long long)n);
		for (size_t i = 0; i < n; i++)
			addCommandInfo(&c->rb, &tab[i]);
	} else if (argEq(argv[1], lens[1], "count") && argc == 2) {
		addReplyLongLong(&c->rb, (long long)n);
	} else if (argEq(argv[1], lens[1], "list") && argc == 2) {
		addReplyArrayLen(&c->rb, (long long)n);
		for (size_t i = 0; i < n; i++)
			addReplyBulkCString(&c->rb, tab[i].name);
	} else if (argEq(argv[1], lens[1], "info")) {
		if (argc == 2) {
			addReplyArrayLen(&c->rb, (long long)n);
			for (size_t i = 0; i < n; i++)
				addCommandInfo(&c->rb, &tab[i]);
			return;
		}
		addReplyArrayLen(&c->rb, argc - 2);
		for (int i = 2; i < argc; i++) {
			const redisCommand *cmd = commandLookup(argv[i], lens[i]);
			if (cmd)
				addCommandInfo(&c->rb, cmd);
			else
				addReplyNullArray(&c->rb);
		}
	} else if (argEq(argv[1], lens[1], "docs")) {
		if (argc == 2) {
			addReplyMapLen(&c->rb, (long long)n);
			for (size_t i = 0; i < n; i++)
				addCommandDocs(&c->rb, &tab[i]);
			return;
		}
		long long found = 0;
		for (int i = 2; i < argc; i++)
			found += commandLookup(argv[i], lens[i]) != NULL;
		addReplyMapLen(&c->rb, found);
		for (int i = 2; i < argc; i++) {
			const redisCommand *cmd = commandLookup(argv[i], lens[i]);
			if (cmd)
				addCommandDocs(&c->rb, cmd);
		}
	} else if (argEq(argv[1], lens[1], "getkeys") && argc >= 3) {
		const redisCommand *cmd = commandLookup(argv[2], lens[2]);
		if (cmd == NULL) {
			addReplyError(&c->rb, "Invalid command specified");
			return;
		}
		if (cmd->firstkey == 0) {
			addReplyError(&c->rb, "The command has no key arguments");
			return;
		}
		int cargc = argc - 2, last = cmd->lastkey < 0 ? cargc + cmd->lastkey : cmd->lastkey;
		long long k = 0;
		for (int i = cmd->firstkey; i <= last && i < cargc; i += cmd->step)
			k++;
		addReplyArrayLen(&c->rb, k);
		for (int i = cmd->firstkey; i <= last && i < cargc; i += cmd->step)
			addReplyBulk(&c->rb, argv[2 + i], lens[2 + i]);
	} else {
		addReplyErrorFormat(&c->rb, "unknown subcommand '%.128s'. Try COMMAND HELP.", argv[1]);
	}
}

/* ---------------------------------------------------------------- INFO */

static void infoLine(replyBuf *rb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void infoLine(replyBuf *rb, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	addReplyRawVFormat(rb, fmt, ap);
	va_end(ap);
	addReplyRaw(rb, "\r\n", 2);
}

static void bytesHuman(char *out, size_t len, double b)
{
	const char *u = "B";
	if (b >= 1024.0 * 1024 * 1024) { b /= 1024.0 * 1024 * 1024; u = "G"; }
	else if (b >= 1024.0 * 1024) { b /= 1024.0 * 1024; u = "M"; }
	else if (b >= 1024.0) { b /= 1024.0; u = "K"; }
	snprintf(out, len, "%.2f%s", b, u);
}

static int wantSection(int argc, const char **argv, const size_t *lens, const char *name)
{
	if (argc < 2)
		return 1;
	for (int i = 1; i < argc; i++)
		if (argEq(argv[i], lens[i], name) || argEq(argv[i], lens[i], "all") ||
		    argEq(argv[i], lens[i], "everything") || argEq(argv[i], lens[i], "default"))
			return 1;
	return 0;
}

/* INFO [section [section ...]] */
void infoCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	replyBuf t;
	replyInit(&t);
	int64_t now = mstime();
	int first = 1;
#define SECTION(name) \
	if (!first) addReplyRaw(&t, "\r\n", 2); \
	first = 0; \
	infoLine(&t, "# %s", name)

	if (wantSection(argc, argv, lens, "server")) {
		struct utsname un;
		uname(&un);
		SECTION("Server");
		infoLine(&t, "redis_version:%s", REDIS_COMPAT_VERSION);
		infoLine(&t, "shardkv_version:%s", SHARDKV_SERVER_VERSION);
		infoLine(&t, "shardkv_engine_version:%s", kv_version());
		infoLine(&t, "redis_mode:standalone");
		infoLine(&t, "os:%s %s %s", un.sysname, un.release, un.machine);
		infoLine(&t, "arch_bits:%d", (int)(sizeof(void *) * 8));
		infoLine(&t, "multiplexing_api:epoll");
		infoLine(&t, "process_id:%ld", (long)getpid());
		infoLine(&t, "tcp_port:%d", srv.cfg.port);
		infoLine(&t, "server_time_usec:%lld", (long long)now * 1000);
		infoLine(&t, "uptime_in_seconds:%lld", (long long)(now - srv.start_ms) / 1000);
		infoLine(&t, "uptime_in_days:%lld", (long long)(now - srv.start_ms) / 86400000);
		infoLine(&t, "io_threads_active:%d", srv.nworkers > 1);
		infoLine(&t, "worker_threads:%d", srv.nworkers);
		infoLine(&t, "busy_poll_workers_max:%d", srv.busy_poll_max);
		infoLine(&t, "busy_poll_contention_signal:%s", busyPollContentionSignal());
	}
	if (wantSection(argc, argv, lens, "clients")) {
		SECTION("Clients");
		infoLine(&t, "connected_clients:%ld", (long)atomic_load(&srv.connected_clients));
		infoLine(&t, "maxclients:%d", atomic_load(&srv.maxclients));
		infoLine(&t, "blocked_clients:%zu", blockingCount());
		
	}
	if (wantSection(argc, argv, lens, "memory")) {
		kv_env_stats es;
		memset(&es, 0, sizeof(es));
		kv_env_stats_get(srv.env, &es);
		pthread_mutex_lock(&srv.cfg_lock); /* CONFIG SET swaps cfg under it */
		uint64_t maxmemory = srv.cfg.maxmemory;
		int policy = srv.cfg.maxmemory_policy;
		pthread_mutex_unlock(&srv.cfg_lock);
		char h1[32], h2[32];
		bytesHuman(h1, sizeof(h1), (double)es.region_used);
		bytesHuman(h2, sizeof(h2), (double)maxmemory);
		SECTION("Memory");
		infoLine(&t, "used_memory:%zu", es.region_used);
		infoLine(&t, "used_memory_human:%s", h1);
		infoLine(&t, "engine_region_size:%zu", es.region_size);
		infoLine(&t, "engine_namespaces:%u", es.namespaces);
		infoLine(&t, "maxmemory:%llu", (unsigned long long)maxmemory);
		infoLine(&t, "maxmemory_human:%s", h2);
		infoLine(&t, "maxmemory_policy:%s", kv_evict_policy_name(policy, KV_NAME_REDIS));
	}
	if (wantSection(argc, argv, lens, "persistence")) {
		SECTION("Persistence");
		infoLine(&t, "loading:0");
		infoLine(&t, "rdb_changes_since_last_save:%llu", (unsigned long long)atomic_load(&srv.dirty_at_last_tick));
		infoLine(&t, "rdb_bgsave_in_progress:%d", atomic_load(&srv.bgsave_running));
		infoLine(&t, "rdb_last_save_time:%lld", (long long)atomic_load(&srv.lastsave_ms) / 1000);
		infoLine(&t, "rdb_last_bgsave_status:%s", atomic_load(&srv.last_save_ok) ? "ok" : "err");
		infoLine(&t, "rdb_last_bgsave_time_sec:%lld", (long long)atomic_load(&srv.last_bgsave_time_sec));
		aofInfo(&t);
	}
	if (wantSection(argc, argv, lens, "stats")) {
		uint64_t cmds = 0, hits = 0, misses = 0, expired = 0, evicted = 0;
		for (int i = 0; i < srv.nworkers; i++) {
			cmds += atomic_load(&srv.workers[i].stat_commands);
			hits += atomic_load(&srv.workers[i].stat_hits);
			misses += atomic_load(&srv.workers[i].stat_misses);
		}
		kv_ns_stats *list;
		size_t n;
		if (kv_ns_list_all(srv.env, &list, &n) == KV_OK) {
			for (size_t i = 0; i < n; i++) {
				expired += list[i].expired;
				evicted += list[i].evicted;
			}
			kv_ns_list_free(srv.env, list);
		}
		SECTION("Stats");
		infoLine(&t, "total_connections_received:%llu", (unsigned long long)atomic_load(&srv.total_connections));
		infoLine(&t, "total_commands_processed:%llu", (unsigned long long)cmds);
		infoLine(&t, "rejected_connections:%llu", (unsigned long long)atomic_load(&srv.rejected_connections));
		infoLine(&t, "expired_keys:%llu", (unsigned long long)expired);
		infoLine(&t, "evicted_keys:%llu", (unsigned long long)evicted);
		infoLine(&t, "keyspace_hits:%llu", (unsigned long long)hits);
		infoLine(&t, "keyspace_misses:%llu", (unsigned long long)misses);
		infoLine(&t, "pubsub_channels:%zu", pubsubNumChannels());
		infoLine(&t, "pubsub_patterns:%zu", pubsubNumPatterns());
		infoLine(&t, "busy_poll_backoffs:%llu", (unsigned long long)atomic_load(&srv.busy_poll_backoffs));
	}
	if (wantSection(argc, argv, lens, "cpu")) {
		struct rusage ru;
		getrusage(RUSAGE_SELF, &ru);
		SECTION("CPU");
		infoLine(&t, "used_cpu_sys:%ld.%06ld", (long)ru.ru_stime.tv_sec, (long)ru.ru_stime.tv_usec);
		infoLine(&t, "used_cpu_user:%ld.%06ld", (long)ru.ru_utime.tv_sec, (long)ru.ru_utime.tv_usec);
	}
	if (wantSection(argc, argv, lens, "keyspace")) {
		SECTION("Keyspace");
		kv_ns_stats *list;
		size_t n;
		if (kv_ns_list_all(srv.env, &list, &n) == KV_OK) {
			for (size_t i = 0; i < n; i++) {
				if (list[i].keys == 0)
					continue;
				long long idx;
				/*
				 * Numeric namespaces are Redis databases; others keep their names.
				 * expires and avg_ttl are printed as 0 because the engine does not
				 * count keys with a TTL (an engine request in server/README.md);
				 * clients parse the line only in this three-field form.
				 */
				if (argToLongLong(list[i].name, strlen(list[i].name), &idx))
					infoLine(&t, "db%s:keys=%llu,expires=0,avg_ttl=0", list[i].name,
					         (unsigned long long)list[i].keys);
				else
					infoLine(&t, "ns_%s:keys=%llu,expires=0,avg_ttl=0", list[i].name,
					         (unsigned long long)list[i].keys);
			}
			kv_ns_list_free(srv.env, list);
		}
	}
#undef SECTION
	addReplyVerbatim(&c->rb, t.buf ? t.buf : "", t.len, "txt");
	replyFree(&t);
}

/* TIME */
void timeCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	(void)argc; (void)argv; (void)lens;
	struct timeval tv;
	gettimeofday(&tv, NULL);
	addReplyArrayLen(&c->rb, 2);
	addReplyBulkFormat(&c->rb, "%ld", (long)tv.tv_sec);
	addReplyBulkFormat(&c->rb, "%ld", (long)tv.tv_usec);
}

/* SAVE */
void saveCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	(void)argc; (void)argv; (void)lens;
	if (atomic_load(&srv.bgsave_running)) {
		addReplyError(&c->rb, "Background save already in progress");
		return;
	}
	char err[1024];
	if (persistSave(err, sizeof(err), (unsigned)srv.load_threads) != C_OK)
		addReplyError(&c->rb, err);
	else
		addReplyStatus(&c->rb, "OK");
}

/* BGSAVE [SCHEDULE] */
void bgsaveCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	if (argc > 2 || (argc == 2 && !argEq(argv[1], lens[1], "schedule"))) {
		replySyntax(c);
		return;
	}
	if (persistBgsave() != C_OK) {
		if (argc == 2)
			addReplyStatus(&c->rb, "Background saving scheduled");
		else
			addReplyError(&c->rb, "Background save already in progress");
		return;
	}
	addReplyStatus(&c->rb, "Background saving started");
}

/* LASTSAVE */
void lastsaveCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	(void)argc; (void)argv; (void)lens;
	addReplyLongLong(&c->rb, (long long)atomic_load(&srv.lastsave_ms) / 1000);
}

/* SHUTDOWN [NOSAVE | SAVE] [NOW] [FORCE] [ABORT] */
void shutdownCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	int how = 1; /* save (SAVE and the default are the same here) */
	for (int i = 1; i < argc; i++) {
		if (argEq(argv[i], lens[i], "nosave"))
			how = 2;
		else if (argEq(argv[i], lens[i], "save"))
			how = 3;
		else if (argEq(argv[i], lens[i], "now") || argEq(argv[i], lens[i], "force"))
			;
		else if (argEq(argv[i], lens[i], "abort")) {
			addReplyError(&c->rb, "No shutdown in progress.");
			return;
		} else {
			replySyntax(c);
			return;
		}
	}
	serverRequestShutdown(how);
	c->close_after_reply = 1; /* as Redis: no reply, the connection closes */
}
