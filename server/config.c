/*
 * config.c -- configuration: defaults, flags, the config file, CONFIG GET/SET.
 *
 * Names and value syntax follow redis.conf, so `--port 6380`, a file line
 * `port 6380` and `CONFIG SET port 6380` mean the same.  Each setting is one row
 * of configTable: how to parse it, how to print it, and whether CONFIG SET may
 * change it on a running server (dir and dbfilename only with
 * enable-protected-configs, as in Redis 7).  Memory values take Redis's units
 * (1k = 1000, 1kb = 1024, m/mb, g/gb) and policy names Redis's spellings,
 * both read by the engine (kv_parse_size, kv_evict_policy_parse), the one
 * vocabulary of every host.
 */
#include "server.h"
#include "aof.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef enum { CT_INT, CT_MEM, CT_STR, CT_SAVE, CT_NOTIFY, CT_POLICY, CT_LOGLEVEL, CT_YESNO, CT_PROTECT, CT_BOOL, CT_FSYNC } cfgType;

typedef struct cfgEntry {
	const char *name;
	cfgType     type;
	size_t      off;      /* offsetof(serverConfig, field) */
	size_t      size;     /* for strings: buffer size */
	long long   min, max; /* for integers */
	int         mutable_; /* CONFIG SET allowed (2: only with enable-protected-configs, as Redis) */
	const char *help;
} cfgEntry;

#define OFF(f) offsetof(serverConfig, f)
#define SZ(f)  sizeof(((serverConfig *)0)->f)

static const cfgEntry configTable[] = {
	{"port", CT_INT, OFF(port), SZ(port), 0, 65535, 0, "TCP port to listen on (default 6379)"},
	{"bind", CT_STR, OFF(bind), SZ(bind), 0, 0, 0, "address to bind (default 127.0.0.1; others warn without requirepass)"},
	{"dir", CT_STR, OFF(dir), SZ(dir), 0, 0, 2, "snapshot directory (default ./data, created if missing)"},
	{"dbfilename", CT_STR, OFF(dbfilename), SZ(dbfilename), 0, 0, 2, "snapshot file name in dir, not a path (default dump.skv)"},
	{"enable-debug-command", CT_PROTECT, OFF(enable_debug_command), SZ(enable_debug_command), 0, 0, 0, "no|yes|local: may clients run DEBUG (default no, as Redis 7)"},
	{"enable-protected-configs", CT_PROTECT, OFF(enable_protected_configs), SZ(enable_protected_configs), 0, 0, 0, "no|yes|local: may CONFIG SET change dir and dbfilename (default no, as Redis 7)"},
	{"save", CT_SAVE, 0, 0, 0, 0, 1, "\"<seconds> <changes> ...\": save when both accrued; \"\" disables (default 3600 1 300 100 60 10000)"},
	{"requirepass", CT_STR, OFF(requirepass), SZ(requirepass), 0, 0, 1, "password for AUTH (default none)"},
	{"maxclients", CT_INT, OFF(maxclients), SZ(maxclients), 1, 1000000, 1, "max connected clients (default 10000)"},
	{"timeout", CT_INT, OFF(timeout), SZ(timeout), 0, 100000000, 1, "close clients idle this many seconds, 0 = never (default 0)"},
	{"maxmemory", CT_MEM, OFF(maxmemory), SZ(maxmemory), 0, 0, 1, "memory limit per database (namespace), 0 = none (default 0)"},
	{"maxmemory-policy", CT_POLICY, OFF(maxmemory_policy), SZ(maxmemory_policy), 0, 0, 1, "one of " KV_EVICT_POLICY_LIST "; noeviction is Redis's name for none"},
	{"loglevel", CT_LOGLEVEL, OFF(loglevel), SZ(loglevel), 0, 0, 1, "debug|verbose|notice|warning (default notice)"},
	{"logfile", CT_STR, OFF(logfile), SZ(logfile), 0, 0, 0, "log file, \"\" = stderr (default \"\")"},
	{"threads", CT_INT, OFF(threads), SZ(threads), 1, 64, 0, "worker threads (default: number of CPUs; 1 on 1-2 CPUs)"},
	{"io-threads", CT_INT, OFF(threads), SZ(threads), 1, 64, 0, "alias of threads"},
	{"busy-poll-us", CT_INT, OFF(busy_poll_us), SZ(busy_poll_us), 0, 100000, 1, "microseconds a worker keeps polling after work before it sleeps, 0 = never (default 50)"},
	{"proto-max-bulk-len", CT_MEM, OFF(proto_max_bulk_len), SZ(proto_max_bulk_len), 1024 * 1024, 0, 1, "largest bulk string a client may send (default 512mb)"},
	{"client-query-buffer-limit", CT_MEM, OFF(client_query_buffer_limit), SZ(client_query_buffer_limit), 1024 * 1024, 0, 1, "largest pending request of one client (default 1gb)"},
	{"client-output-buffer-limit-bytes", CT_MEM, OFF(client_output_buffer_limit), SZ(client_output_buffer_limit), 1024 * 1024, 0, 1, "pending reply bytes before a client is dropped (default 256mb)"},
	{"notify-keyspace-events", CT_NOTIFY, OFF(notify_keyspace_events), SZ(notify_keyspace_events), 0, 0, 1, "keyspace notification classes, as Redis (K E g $ l s h z x e A; default \"\")"},
	{"http-port", CT_INT, OFF(http_port), SZ(http_port), 0, 65535, 0, "HTTP door port: REST, feed, /metrics, status page (default 0 = off)"},
	{"http-bind", CT_STR, OFF(http_bind), SZ(http_bind), 0, 0, 0, "address of the HTTP door (default 127.0.0.1)"},
	{"http-request-timeout", CT_INT, OFF(http_request_timeout), SZ(http_request_timeout), 1, 3600, 0, "seconds an HTTP request may take to arrive (default 10)"},
	{"engine-memory", CT_MEM, OFF(memory), SZ(memory), 0, 0, 0, "bytes the engine reserves for all data (default 4gb, committed on use)"},
	{"appendonly", CT_BOOL, OFF(appendonly), SZ(appendonly), 0, 0, 1, "yes|no: log every write to the append-only file (default no)"},
	{"appendfsync", CT_FSYNC, OFF(appendfsync), SZ(appendfsync), 0, 0, 1, "always|everysec|no: when the AOF is fsynced (default everysec)"},
	{"appenddirname", CT_STR, OFF(appenddirname), SZ(appenddirname), 0, 0, 0, "AOF directory under dir (default appendonlydir)"},
	{"aof-load-truncated", CT_BOOL, OFF(aof_load_truncated), SZ(aof_load_truncated), 0, 0, 1, "yes|no: start after dropping a truncated last AOF record (default yes)"},
	{"auto-aof-rewrite-percentage", CT_INT, OFF(auto_aof_rewrite_percentage), SZ(auto_aof_rewrite_percentage), 0, 1000000, 1, "rewrite the AOF when it grew this % since the last rewrite, 0 = never (default 100)"},
	{"auto-aof-rewrite-min-size", CT_MEM, OFF(auto_aof_rewrite_min_size), SZ(auto_aof_rewrite_min_size), 0, 0, 1, "no automatic rewrite below this AOF size (default 64mb)"},
	{"tls-port", CT_INT, OFF(tls_port), SZ(tls_port), 0, 65535, 0, "TLS port for RESP clients (default 0 = off)"},
	{"tls-cert-file", CT_STR, OFF(tls_cert_file), SZ(tls_cert_file), 0, 0, 0, "server certificate chain (PEM)"},
	{"tls-key-file", CT_STR, OFF(tls_key_file), SZ(tls_key_file), 0, 0, 0, "server private key (PEM)"},
	{"tls-ca-cert-file", CT_STR, OFF(tls_ca_cert_file), SZ(tls_ca_cert_file), 0, 0, 0, "CA certificates that client certificates must chain to (PEM)"},
	{"tls-auth-clients", CT_STR, OFF(tls_auth_clients), SZ(tls_auth_clients), 0, 0, 0, "yes|no|optional: require a client certificate (default yes)"},
	{"tls-protocols", CT_STR, OFF(tls_protocols), SZ(tls_protocols), 0, 0, 0, "\"TLSv1.2 TLSv1.3\" or one of them (default both)"},
	/* accepted for redis.conf compatibility; only the values shown are supported */
	{"daemonize", CT_YESNO, 0, 0, 0, 0, 0, "no (only)"},
	{"protected-mode", CT_YESNO, 0, 0, 0, 0, 1, "accepted and ignored (loopback bind + requirepass are the protection)"},
};
#define NCONFIG (sizeof(configTable) / sizeof(configTable[0]))

void configInitDefaults(serverConfig *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->port = 6379;
	strcpy(cfg->bind, "127.0.0.1");
	strcpy(cfg->dir, "./data");
	strcpy(cfg->dbfilename, "dump.skv");
	strcpy(cfg->enable_protected_configs, "no");
	strcpy(cfg->enable_debug_command, "no");
	cfg->maxclients = 10000;
	cfg->maxmemory_policy = KV_EVICT_NONE;
	strcpy(cfg->loglevel, "notice");
	cfg->threads = 0; /* resolved in main: number of CPUs, 1 on 1-2 CPUs */
	cfg->busy_poll_us = 50;
	cfg->proto_max_bulk_len = 512ull * 1024 * 1024;
	cfg->client_query_buffer_limit = 1024ull * 1024 * 1024;
	cfg->client_output_buffer_limit = 256ull * 1024 * 1024;
	cfg->save_rules[0] = (kv_save_rule){3600, 1};
	cfg->save_rules[1] = (kv_save_rule){300, 100};
	cfg->save_rules[2] = (kv_save_rule){60, 10000};
	cfg->nsave_rules = 3;
	cfg->memory = 4ull << 30;
	strcpy(cfg->http_bind, "127.0.0.1");
	cfg->http_request_timeout = 10;
	strcpy(cfg->appendfsync, "everysec");
	strcpy(cfg->appenddirname, "appendonlydir");
	cfg->aof_load_truncated = 1;
	cfg->auto_aof_rewrite_percentage = 100;
	cfg->auto_aof_rewrite_min_size = 64ull * 1024 * 1024;
	strcpy(cfg->tls_auth_clients, "yes");
	strcpy(cfg->tls_protocols, "TLSv1.2 TLSv1.3");
}

int configParseNotifyFlags(const char *s, int *out)
{
	int f = 0;
	for (; *s; s++) {
		switch (*s) {
		case 'K': f |= NOTIFY_KEYSPACE; break;
		case 'E': f |= NOTIFY_KEYEVENT; break;
		case 'g': f |= NOTIFY_GENERIC; break;
		case '$': f |= NOTIFY_STRING; break;
		case 'x': f |= NOTIFY_EXPIRED; break;
		case 'e': f |= NOTIFY_EVICTED; break;
		case 'n': f |= NOTIFY_NEW; break;
		case 'A': f |= NOTIFY_ALL; break;
		case 'l': f |= NOTIFY_LIST; break;
		case 's': f |= NOTIFY_SET; break;
		case 'h': f |= NOTIFY_HASH; break;
		case 'z': f |= NOTIFY_ZSET; break;
		/* stream, module, key-miss: no such events here */
		case 't': case 'd': case 'm': break;
		default: return -1;
		}
	}
	*out = f;
	return 0;
}

static void notifyFlagsToString(int f, char *out, size_t outlen)
{
	size_t n = 0;
	if ((f & NOTIFY_ALL) == NOTIFY_ALL) {
		out[n++] = 'A';
	} else {
		if (f & NOTIFY_GENERIC) out[n++] = 'g';
		if (f & NOTIFY_STRING) out[n++] = '$';
		if (f & NOTIFY_LIST) out[n++] = 'l';
		if (f & NOTIFY_SET) out[n++] = 's';
		if (f & NOTIFY_HASH) out[n++] = 'h';
		if (f & NOTIFY_ZSET) out[n++] = 'z';
		if (f & NOTIFY_EXPIRED) out[n++] = 'x';
		if (f & NOTIFY_EVICTED) out[n++] = 'e';
	}
	if (f & NOTIFY_KEYSPACE) out[n++] = 'K';
	if (f & NOTIFY_KEYEVENT) out[n++] = 'E';
	if (f & NOTIFY_NEW) out[n++] = 'n';
	out[n < outlen ? n : outlen - 1] = '\0';
}

static const cfgEntry *configFind(const char *name)
{
	for (size_t i = 0; i < NCONFIG; i++)
		if (!strcasecmp(configTable[i].name, name))
			return &configTable[i];
	return NULL;
}

/*
 * Set one directive from its arguments.  Returns 0, or -1 with errbuf filled
 * (the reason, without the name).
 */
static int configSetEntry(serverConfig *cfg, const cfgEntry *e, int argc, char **argv,
                          char *errbuf, size_t errlen)
{
	char *base = (char *)cfg;

	if (e->type == CT_SAVE) {
		/* "save 900 1 300 10", "save 900 1" repeated, or save "" */
		kv_save_rule rules[16];
		size_t n = 0;
		char joined[512] = "";
		for (int i = 0; i < argc; i++) {
			if (strlen(joined) + strlen(argv[i]) + 2 >= sizeof(joined))
				goto bad;
			strcat(joined, argv[i]);
			strcat(joined, " ");
		}
		char *save = NULL, *tok = strtok_r(joined, " ", &save);
		while (tok) {
			char *tok2 = strtok_r(NULL, " ", &save);
			char *end1, *end2;
			if (tok2 == NULL || n == 16)
				goto bad;
			errno = 0;
			long long secs = strtoll(tok, &end1, 10);
			long long ch = strtoll(tok2, &end2, 10);
			if (errno || *end1 || *end2 || secs < 1 || ch < 0) /* out of range: refused, not clamped */
				goto bad;
			rules[n].seconds = secs;
			rules[n].changes = (uint64_t)ch;
			n++;
			tok = strtok_r(NULL, " ", &save);
		}
		memcpy(cfg->save_rules, rules, n * sizeof(rules[0]));
		cfg->nsave_rules = n;
		return 0;
	}
	if (argc != 1)
		goto bad;
	const char *v = argv[0];
	switch (e->type) {
	case CT_INT: {
		char *end;
		errno = 0;
		long long x = strtoll(v, &end, 10);
		if (errno || *end || end == v || x < e->min || x > e->max)
			goto bad;
		*(int *)(base + e->off) = (int)x;
		return 0;
	}
	case CT_MEM: {
		uint64_t x;
		if (kv_parse_size(v, strlen(v), &x) != KV_OK || (e->min && x < (uint64_t)e->min))
			goto bad;
		*(uint64_t *)(base + e->off) = x;
		return 0;
	}
	case CT_STR:
		if (strlen(v) >= e->size)
			goto bad;
		if (e->off == OFF(dbfilename) && (strchr(v, '/') || strchr(v, '\\') || !strcmp(v, "") ||
		                                  !strcmp(v, ".") || !strcmp(v, ".."))) {
			snprintf(errbuf, errlen, "dbfilename can't be a path, just a filename");
			return -1;
		}
		strcpy(base + e->off, v);
		return 0;
	case CT_NOTIFY: {
		int f;
		if (strlen(v) >= e->size || configParseNotifyFlags(v, &f) != 0)
			goto bad;
		cfg->notify_flags = f;
		notifyFlagsToString(f, cfg->notify_keyspace_events, sizeof(cfg->notify_keyspace_events));
		return 0;
	}
	case CT_POLICY:
		if (kv_evict_policy_parse(v, strlen(v), &cfg->maxmemory_policy) != KV_OK)
			goto bad;
		return 0;
	case CT_LOGLEVEL:
		if (serverLogLevel(v) < 0)
			goto bad;
		snprintf(cfg->loglevel, sizeof(cfg->loglevel), "%s", v);
		return 0;
	case CT_YESNO:
		if (!strcasecmp(e->name, "protected-mode") && (!strcasecmp(v, "yes") || !strcasecmp(v, "no")))
			return 0;
		if (strcasecmp(v, "no") != 0)
			goto bad;
		return 0;
	case CT_BOOL:
		if (strcasecmp(v, "yes") && strcasecmp(v, "no"))
			goto bad;
		*(int *)(base + e->off) = !strcasecmp(v, "yes");
		return 0;
	case CT_FSYNC:
		if (aofFsyncParse(v) < 0)
			goto bad;
		snprintf(base + e->off, e->size, "%s", aofFsyncName(aofFsyncParse(v)));
		return 0;
	case CT_PROTECT:
		if (strcasecmp(v, "no") && strcasecmp(v, "yes") && strcasecmp(v, "local"))
			goto bad;
		snprintf(base + e->off, e->size, "%s", v);
		for (char *q = base + e->off; *q; q++)
			*q = (char)tolower((unsigned char)*q);
		return 0;
	case CT_SAVE:
		break;
	}
bad:
	snprintf(errbuf, errlen, "argument(s) must be %s", e->help);
	return -1;
}

static void configFormat(const serverConfig *cfg, const cfgEntry *e, char *out, size_t outlen)
{
	const char *base = (const char *)cfg;
	switch (e->type) {
	case CT_INT:
		snprintf(out, outlen, "%d", *(const int *)(base + e->off));
		break;
	case CT_MEM:
		snprintf(out, outlen, "%llu", (unsigned long long)*(const uint64_t *)(base + e->off));
		break;
	case CT_BOOL:
		snprintf(out, outlen, "%s", *(const int *)(base + e->off) ? "yes" : "no");
		break;
	case CT_STR: case CT_NOTIFY: case CT_LOGLEVEL: case CT_FSYNC: case CT_PROTECT:
		snprintf(out, outlen, "%s", base + e->off);
		break;
	case CT_POLICY: /* Redis's spelling: CONFIG GET answers noeviction */
		snprintf(out, outlen, "%s", kv_evict_policy_name(cfg->maxmemory_policy, KV_NAME_REDIS));
		break;
	case CT_YESNO:
		snprintf(out, outlen, "%s", "no");
		break;
	case CT_SAVE: {
		size_t n = 0;
		out[0] = '\0';
		for (size_t i = 0; i < cfg->nsave_rules && n < outlen; i++)
			n += (size_t)snprintf(out + n, outlen - n, "%s%lld %llu", i ? " " : "",
			                      (long long)cfg->save_rules[i].seconds,
			                      (unsigned long long)cfg->save_rules[i].changes);
		break;
	}
	}
}

/* Split a config file line into words; "quoted strings" may hold blanks. */
static int splitLine(char *line, char **words, int max)
{
	int n = 0;
	char *p = line;
	while (*p) {
		while (isspace((unsigned char)*p))
			p++;
		if (!*p || *p == '#')
			break;
		if (n == max)
			return -1;
		if (*p == '"' || *p == '\'') {
			char q = *p++;
			words[n++] = p;
			while (*p && *p != q)
				p++;
			if (!*p)
				return -1;
			*p++ = '\0';
		} else {
			words[n++] = p;
			while (*p && !isspace((unsigned char)*p))
				p++;
			if (*p)
				*p++ = '\0';
		}
	}
	return n;
}

static int configApply(serverConfig *cfg, const char *where, int argc, char **argv)
{
	char err[512];
	const cfgEntry *e = configFind(argv[0]);
	if (e == NULL) {
		fprintf(stderr, "shardkv-server: %s: bad directive '%s' (see --help)\n", where, argv[0]);
		return C_ERR;
	}
	if (configSetEntry(cfg, e, argc - 1, argv + 1, err, sizeof(err)) != 0) {
		fprintf(stderr, "shardkv-server: %s: bad value for '%s': %s\n", where, argv[0], err);
		return C_ERR;
	}
	return C_OK;
}

static int configLoadFile(serverConfig *cfg, const char *path)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		fprintf(stderr, "shardkv-server: cannot open config file '%s': %s\n", path, strerror(errno));
		return C_ERR;
	}
	char line[4096];
	int lineno = 0, rc = C_OK;
	while (rc == C_OK && fgets(line, sizeof(line), f)) {
		char *words[40];
		char where[1100];
		lineno++;
		snprintf(where, sizeof(where), "%s:%d", path, lineno);
		int n = splitLine(line, words, 40);
		if (n < 0) {
			fprintf(stderr, "shardkv-server: %s: unbalanced quotes or too many words\n", where);
			rc = C_ERR;
		} else if (n > 0) {
			rc = configApply(cfg, where, n, words);
		}
	}
	fclose(f);
	return rc;
}

void configUsage(FILE *out)
{
	fprintf(out,
	        "Usage: shardkv-server [/path/to/shardkv.conf] [--<option> <value> ...]\n"
	        "       shardkv-server --help | --version\n\n"
	        "A multi-threaded Redis-protocol (RESP2/RESP3) server on the shardkv engine.\n"
	        "Options have redis.conf names; a config file holds one \"<option> <value>\" per line,\n"
	        "and flags given after it override it.  Options:\n\n");
	for (size_t i = 0; i < NCONFIG; i++)
		fprintf(out, "  --%-34s %s%s\n", configTable[i].name, configTable[i].help,
		        configTable[i].mutable_ ? "" : " [not settable at runtime]");
	fprintf(out,
	        "\nDatabases 0-15 (SELECT n, redis-cli -n n) are the engine namespaces \"0\"..\"15\";\n"
	        "SELECT <name> or NAMESPACE USE <name> reaches any other namespace.\n"
	        "Without appendonly yes, a crash loses what was written after the last snapshot.\n");
}

int configParseArgs(serverConfig *cfg, int argc, char **argv)
{
	int i = 1;
	if (i < argc && argv[i][0] != '-') {
		if (configLoadFile(cfg, argv[i]) != C_OK)
			return C_ERR;
		i++;
	}
	while (i < argc) {
		if (strncmp(argv[i], "--", 2) != 0 || argv[i][2] == '\0') {
			fprintf(stderr, "shardkv-server: unexpected argument '%s' (see --help)\n", argv[i]);
			return C_ERR;
		}
		char *words[40];
		int n = 0;
		words[n++] = argv[i] + 2;
		i++;
		while (i < argc && strncmp(argv[i], "--", 2) != 0 && n < 40)
			words[n++] = argv[i++];
		if (n == 1) {
			fprintf(stderr, "shardkv-server: option --%s needs a value\n", words[0]);
			return C_ERR;
		}
		if (configApply(cfg, "command line", n, words) != C_OK)
			return C_ERR;
	}
	return C_OK;
}

/* ---------------------------------------------------------------- CONFIG */

/* Push the settings that live outside cfg (atomics, the engine) after a change. */
void configPublish(void)
{
	serverConfig *cfg = &srv.cfg;
	atomic_store(&srv.max_bulk_len, cfg->proto_max_bulk_len);
	atomic_store(&srv.qbuf_limit, cfg->client_query_buffer_limit);
	atomic_store(&srv.obuf_limit, cfg->client_output_buffer_limit);
	atomic_store(&srv.auth_required, cfg->requirepass[0] != '\0');
	atomic_store(&srv.maxclients, cfg->maxclients);
	atomic_store(&srv.timeout, cfg->timeout);
	atomic_store(&srv.busy_poll_us, cfg->busy_poll_us);
	atomic_store(&srv.loglevel, serverLogLevel(cfg->loglevel));
	atomic_store(&srv.notify_flags, cfg->notify_flags);
}

/*
 * Apply maxmemory and the eviction policy to every namespace: on CONFIG SET, and
 * at start when either was given (otherwise namespaces keep the limits their
 * snapshot carried).
 */
int configApplyMemory(void)
{
	kv_ns_stats *list;
	size_t n;
	if (kv_ns_list_all(srv.env, &list, &n) != KV_OK)
		return C_ERR;
	pthread_mutex_lock(&srv.cfg_lock);
	uint64_t maxmemory = srv.cfg.maxmemory;
	int pol = srv.cfg.maxmemory_policy;
	pthread_mutex_unlock(&srv.cfg_lock);
	for (size_t i = 0; i < n; i++) {
		kv_ns *ns;
		if (kv_nscache_get(srv.nscache, list[i].name, strlen(list[i].name), &ns) != KV_OK)
			continue;
		kv_ns_config nc = list[i].config;
		nc.max_memory = maxmemory;
		nc.eviction = pol;
		kv_ns_configure(ns, &nc);
	}
	kv_ns_list_free(srv.env, list);
	return C_OK;
}

static void configGetCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	/* collect matches first: the reply is a map of their count */
	int hit[NCONFIG] = {0};
	long long n = 0;
	for (int a = 2; a < argc; a++)
		for (size_t i = 0; i < NCONFIG; i++)
			if (!hit[i] && kv_glob_match(argv[a], lens[a], configTable[i].name,
			                             strlen(configTable[i].name), KV_GLOB_NOCASE)) {
				hit[i] = 1;
				n++;
			}
	addReplyMapLen(&c->rb, n);
	pthread_mutex_lock(&srv.cfg_lock);
	for (size_t i = 0; i < NCONFIG; i++) {
		if (!hit[i])
			continue;
		char val[1100];
		configFormat(&srv.cfg, &configTable[i], val, sizeof(val));
		addReplyBulkCString(&c->rb, configTable[i].name);
		addReplyBulkCString(&c->rb, val);
	}
	pthread_mutex_unlock(&srv.cfg_lock);
}

/*
 * dir and dbfilename decide where the server writes a file: as in Redis 7, a
 * client may change them only if enable-protected-configs says so ("local":
 * from a loopback address).  cfg_lock held.
 */
static int protectedConfigAllowed(client *c)
{
	const char *p = srv.cfg.enable_protected_configs;
	if (!strcmp(p, "yes"))
		return 1;
	return !strcmp(p, "local") && (!strncmp(c->addr, "127.", 4) || !strncmp(c->addr, "::1:", 4));
}

static void configSetCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	if (argc < 4 || (argc - 2) % 2 != 0) {
		replyArity(c, "config|set");
		return;
	}
	/* validate everything on a copy, then swap it in: all or nothing */
	pthread_mutex_lock(&srv.cfg_lock);
	serverConfig copy = srv.cfg;
	for (int a = 2; a < argc; a += 2) {
		char name[64], err[512];
		/* a NUL would cut the value short (a path, a password): refused, never truncated */
		char *val = memchr(argv[a + 1], '\0', lens[a + 1]) ? NULL : strndup(argv[a + 1], lens[a + 1]);
		snprintf(name, sizeof(name), "%.*s", (int)(lens[a] < 63 ? lens[a] : 63), argv[a]);
		const cfgEntry *e = configFind(name);
		if (e == NULL || lens[a] > 63) {
			pthread_mutex_unlock(&srv.cfg_lock);
			addReplyErrorFormat(&c->rb, "Unknown option or number of arguments for CONFIG SET - '%s'", name);
			free(val);
			return;
		}
		if (!e->mutable_) {
			pthread_mutex_unlock(&srv.cfg_lock);
			addReplyErrorFormat(&c->rb, "CONFIG SET failed (possibly related to argument '%s') - can't set immutable config", e->name);
			free(val);
			return;
		}
		if (e->mutable_ == 2 && !protectedConfigAllowed(c)) {
			pthread_mutex_unlock(&srv.cfg_lock);
			addReplyErrorFormat(&c->rb, "CONFIG SET failed (possibly related to argument '%s') - can't set protected config", e->name);
			free(val);
			return;
		}
		int rc = -1;
		if (val)
			rc = configSetEntry(&copy, e, 1, &val, err, sizeof(err));
		else
			snprintf(err, sizeof(err), "%s", memchr(argv[a + 1], '\0', lens[a + 1]) ?
			         "argument must not contain a NUL byte" : "out of memory");
		free(val);
		if (rc != 0) {
			pthread_mutex_unlock(&srv.cfg_lock);
			addReplyErrorFormat(&c->rb, "CONFIG SET failed (possibly related to argument '%s') - %s", e->name, err);
			return;
		}
	}
	if (copy.appendonly != srv.cfg.appendonly) {
		char err[256];
		if (aofSetEnabled(copy.appendonly, err, sizeof(err)) != C_OK) {
			pthread_mutex_unlock(&srv.cfg_lock);
			addReplyErrorFormat(&c->rb, "CONFIG SET failed (possibly related to argument 'appendonly') - %s", err);
			return;
		}
	}
	int rules_changed = copy.nsave_rules != srv.cfg.nsave_rules ||
	                    memcmp(copy.save_rules, srv.cfg.save_rules, sizeof(copy.save_rules)) != 0;
	int mem_changed = copy.maxmemory != srv.cfg.maxmemory ||
	                  copy.maxmemory_policy != srv.cfg.maxmemory_policy;
	srv.cfg = copy;
	configPublish();
	if (rules_changed)
		kv_autosave_set(srv.env, srv.cfg.save_rules, srv.cfg.nsave_rules);
	pthread_mutex_unlock(&srv.cfg_lock);
	if (mem_changed)
		configApplyMemory();
	addReplyStatus(&c->rb, "OK");
}

/* CONFIG GET parameter [parameter ...] | CONFIG SET parameter value [...] | CONFIG RESETSTAT | CONFIG HELP */
void configCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	if (argEq(argv[1], lens[1], "get")) {
		if (argc < 3) {
			replyArity(c, "config|get");
			return;
		}
		configGetCommand(c, argc, argv, lens);
	} else if (argEq(argv[1], lens[1], "set")) {
		configSetCommand(c, argc, argv, lens);
	} else if (argEq(argv[1], lens[1], "resetstat") && argc == 2) {
		for (int i = 0; i < srv.nworkers; i++) {
			atomic_store(&srv.workers[i].stat_commands, 0);
			atomic_store(&srv.workers[i].stat_hits, 0);
			atomic_store(&srv.workers[i].stat_misses, 0);
		}
		addReplyStatus(&c->rb, "OK");
	} else if (argEq(argv[1], lens[1], "help") && argc == 2) {
		static const char *help[] = {
			"CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
			"GET <pattern>",
			"    Return parameters matching the glob-like <pattern> and their values.",
			"SET <directive> <value>",
			"    Set the configuration <directive> to <value>.",
			"RESETSTAT",
			"    Reset statistics reported by the INFO command.",
			"HELP",
			"    Print this help.",
		};
		addReplyStatusArray(&c->rb, help, sizeof(help) / sizeof(help[0]));
	} else {
		addReplyErrorFormat(&c->rb, "unknown subcommand '%.128s'. Try CONFIG HELP.", argv[1]);
	}
}
