/*
 * t_conn.c -- connection commands: PING, ECHO, HELLO, AUTH, SELECT, NAMESPACE,
 * QUIT, RESET, CLIENT.
 *
 * NAMESPACES
 *   Database N of SELECT is the engine namespace named "N" ("0".."15" exist from
 *   the start, so `redis-cli -n 3` works; SELECT of another number works once a
 *   namespace of that name exists).  SELECT <name> with a non-numeric name
 *   selects any existing namespace, e.g. one loaded from a snapshot written by
 *   PostgreSQL or SQLite.  NAMESPACE LIST | CURRENT | INFO <name> |
 *   USE <name> | CREATE <name> | DROP <name> manage them explicitly.
 */
#include "server.h"
#include "aof.h"

#include <ctype.h>
#include <string.h>

/* PING [message] */
void pingCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	if (argc > 2) {
		replyArity(c, "ping");
		return;
	}
	if (c->rb.resp == 2 && (c->nchannels || c->npatterns)) {
		/* RESP2 subscribed context: a pong message, as Redis */
		addReplyArrayLen(&c->rb, 2);
		addReplyBulk(&c->rb, "pong", 4);
		addReplyBulk(&c->rb, argc == 2 ? argv[1] : "", argc == 2 ? lens[1] : 0);
		return;
	}
	if (argc == 2)
		addReplyBulk(&c->rb, argv[1], lens[1]);
	else
		addReplyStatus(&c->rb, "PONG");
}

/* ECHO message */
void echoCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	(void)argc;
	addReplyBulk(&c->rb, argv[1], lens[1]);
}

/* Compare without an early exit, so timing does not reveal the password. */
static int passwordEquals(const char *a, size_t alen, const char *b)
{
	size_t blen = strlen(b);
	unsigned diff = (unsigned)(alen != blen);
	for (size_t i = 0; i < alen; i++)
		diff |= (unsigned)(a[i] ^ b[i % (blen ? blen : 1)]);
	return diff == 0;
}

/* Check user/password; replies on failure.  C_OK when authenticated. */
static int authenticate(client *c, const char *user, size_t ulen, const char *pass, size_t plen)
{
	int is_default = user == NULL || argEq(user, ulen, "default");
	pthread_mutex_lock(&srv.cfg_lock);
	/* without requirepass the default user is "nopass", as in Redis: any password works */
	int ok = is_default && (srv.cfg.requirepass[0] == '\0' || passwordEquals(pass, plen, srv.cfg.requirepass));
	pthread_mutex_unlock(&srv.cfg_lock);
	if (!ok) {
		addReplyError(&c->rb, "-WRONGPASS invalid username-password pair or user is disabled.");
		return C_ERR;
	}
	c->authenticated = 1;
	return C_OK;
}

/* AUTH [username] password */
void authCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	if (argc > 3) {
		replySyntax(c);
		return;
	}
	if (!atomic_load(&srv.auth_required) && argc == 2) {
		addReplyError(&c->rb, "AUTH <password> called without any password configured for the default "
		                      "user. Are you sure your configuration is correct?");
		return;
	}
	int rc = argc == 2 ? authenticate(c, NULL, 0, argv[1], lens[1])
	                   : authenticate(c, argv[1], lens[1], argv[2], lens[2]);
	if (rc == C_OK)
		addReplyStatus(&c->rb, "OK");
}

/* HELLO [protover [AUTH username password] [SETNAME clientname]] */
void helloCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	long long ver = 0;
	int next = 1;
	if (argc >= 2) {
		if (!argToLongLong(argv[1], lens[1], &ver)) {
			addReplyError(&c->rb, "Protocol version is not an integer or out of range");
			return;
		}
		next = 2;
		if (ver < 2 || ver > 3) {
			addReplyError(&c->rb, "-NOPROTO unsupported protocol version");
			return;
		}
	}
	const char *name = NULL;
	size_t namelen = 0;
	for (int j = next; j < argc; j++) {
		int more = argc - j - 1;
		if (argEq(argv[j], lens[j], "auth") && more >= 2) {
			if (authenticate(c, argv[j + 1], lens[j + 1], argv[j + 2], lens[j + 2]) != C_OK)
				return;
			j += 2;
		} else if (argEq(argv[j], lens[j], "setname") && more >= 1) {
			name = argv[j + 1];
			namelen = lens[j + 1];
			j++;
		} else {
			addReplyErrorFormat(&c->rb, "Syntax error in HELLO option '%.128s'", argv[j]);
			return;
		}
	}
	if (!c->authenticated && atomic_load(&srv.auth_required)) {
		addReplyError(&c->rb, "-NOAUTH HELLO must be called with the client already authenticated, "
		                      "otherwise the HELLO AUTH <user> <pass> option can be used to "
		                      "authenticate the client and select the RESP protocol version at the same time");
		return;
	}
	if (name) {
		for (size_t i = 0; i < namelen; i++)
			if (name[i] < '!' || name[i] > '~') {
				addReplyError(&c->rb, "Client names cannot contain spaces, newlines or special characters.");
				return;
			}
		pthread_mutex_lock(&c->w->lock);
		snprintf(c->name, sizeof(c->name), "%.*s", (int)namelen, name);
		pthread_mutex_unlock(&c->w->lock);
	}
	if (ver) {
		c->rb.resp = (int)ver;
		atomic_store(&c->info_resp, (int)ver); /* publishers encode for it */
	}
	addReplyMapLen(&c->rb, 7);
	addReplyBulkCString(&c->rb, "server");
	addReplyBulkCString(&c->rb, "redis");
	addReplyBulkCString(&c->rb, "version");
	addReplyBulkCString(&c->rb, REDIS_COMPAT_VERSION);
	addReplyBulkCString(&c->rb, "proto");
	addReplyLongLong(&c->rb, c->rb.resp);
	addReplyBulkCString(&c->rb, "id");
	addReplyLongLong(&c->rb, (long long)c->id);
	addReplyBulkCString(&c->rb, "mode");
	addReplyBulkCString(&c->rb, "standalone");
	addReplyBulkCString(&c->rb, "role");
	addReplyBulkCString(&c->rb, "master");
	addReplyBulkCString(&c->rb, "modules");
	addReplyArrayLen(&c->rb, 0);
}

/*
 * The engine's name rule and its text; a NUL inside the bulk string is
 * refused, never cut at.  Replies with an error when the name is invalid.
 */
static int validNsNameOrReply(client *c, const char *s, size_t len)
{
	return !replyKvError(c, kv_ns_name_check(s, len));
}

/* Point c at namespace name; replies with an error on failure. */
static int useNamespace(client *c, const char *name, size_t len, int numeric)
{
	kv_ns_stats st;
	kv_ns *ns;
	if (!numeric && !validNsNameOrReply(c, name, len))
		return C_ERR;
	int rc = kv_nscache_get(srv.nscache, name, len, &ns);
	if (rc == KV_OK)
		rc = kv_ns_stats_get(ns, &st); /* KV_ENONS: the cached handle of a dropped namespace */
	if (rc != KV_OK) {
		if (numeric)
			addReplyError(&c->rb, "DB index is out of range");
		else if (rc == KV_ENONS)
			addReplyErrorFormat(&c->rb, "no such namespace '%s'", name);
		else
			replyKvError(c, rc);
		return C_ERR;
	}
	c->db = ns;
	pthread_mutex_lock(&c->w->lock);
	snprintf(c->dbname, sizeof(c->dbname), "%.*s", (int)len, name);
	pthread_mutex_unlock(&c->w->lock);
	return C_OK;
}

/* SELECT index | SELECT namespace-name */
void selectCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	(void)argc;
	long long idx;
	int numeric = argToLongLong(argv[1], lens[1], &idx);
	if (numeric && idx < 0) {
		addReplyError(&c->rb, "DB index is out of range");
		return;
	}
	if (!numeric && lens[1] > 0 && (isdigit((unsigned char)argv[1][0]) || argv[1][0] == '-')) {
		addReplyError(&c->rb, "value is not an integer or out of range");
		return;
	}
	if (useNamespace(c, argv[1], lens[1], numeric) == C_OK)
		addReplyStatus(&c->rb, "OK");
}

/* NAMESPACE LIST | CURRENT | INFO name | USE name | CREATE name | DROP name */
void namespaceCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	const char *sub = argv[1];
	if (argEq(sub, lens[1], "list") && argc == 2) {
		kv_ns_stats *list;
		size_t n;
		if (replyKvError(c, kv_ns_list_all(srv.env, &list, &n)))
			return;
		addReplyArrayLen(&c->rb, (long long)n);
		for (size_t i = 0; i < n; i++)
			addReplyBulkCString(&c->rb, list[i].name);
		kv_ns_list_free(srv.env, list);
	} else if (argEq(sub, lens[1], "info") && argc == 3) {
		kv_ns *ns;
		kv_ns_stats st;
		if (!validNsNameOrReply(c, argv[2], lens[2]))
			return;
		if (kv_nscache_get(srv.nscache, argv[2], lens[2], &ns) != KV_OK || kv_ns_stats_get(ns, &st) != KV_OK) {
			addReplyErrorFormat(&c->rb, "no such namespace '%s'", argv[2]);
			return;
		}
		const char *pol = kv_evict_policy_name(st.config.eviction, KV_NAME_REDIS);
		addReplyMapLen(&c->rb, 13);
		addReplyBulkCString(&c->rb, "name");
		addReplyBulkCString(&c->rb, st.name);
		addReplyBulkCString(&c->rb, "keys");
		addReplyLongLong(&c->rb, (long long)st.keys);
		addReplyBulkCString(&c->rb, "bytes");
		addReplyLongLong(&c->rb, (long long)st.bytes);
		addReplyBulkCString(&c->rb, "shards");
		addReplyLongLong(&c->rb, st.config.shards);
		addReplyBulkCString(&c->rb, "max_keys");
		addReplyLongLong(&c->rb, (long long)st.config.max_keys);
		addReplyBulkCString(&c->rb, "max_memory");
		addReplyLongLong(&c->rb, (long long)st.config.max_memory);
		addReplyBulkCString(&c->rb, "default_ttl_ms");
		addReplyLongLong(&c->rb, (long long)st.config.default_ttl_ms);
		addReplyBulkCString(&c->rb, "eviction");
		addReplyBulkCString(&c->rb, pol ? pol : "unknown");
		addReplyBulkCString(&c->rb, "max_value_size");
		addReplyLongLong(&c->rb, st.config.max_value_size);
		addReplyBulkCString(&c->rb, "hits");
		addReplyLongLong(&c->rb, (long long)st.hits);
		addReplyBulkCString(&c->rb, "misses");
		addReplyLongLong(&c->rb, (long long)st.misses);
		addReplyBulkCString(&c->rb, "expired");
		addReplyLongLong(&c->rb, (long long)st.expired);
		addReplyBulkCString(&c->rb, "evicted");
		addReplyLongLong(&c->rb, (long long)st.evicted);
	} else if (argEq(sub, lens[1], "current") && argc == 2) {
		addReplyBulkCString(&c->rb, c->dbname);
	} else if (argEq(sub, lens[1], "use") && argc == 3) {
		if (useNamespace(c, argv[2], lens[2], 0) == C_OK)
			addReplyStatus(&c->rb, "OK");
	} else if (argEq(sub, lens[1], "create") && argc == 3) {
		kv_ns_config nc;
		kv_ns_config_init(&nc);
		pthread_mutex_lock(&srv.cfg_lock);
		nc.max_memory = srv.cfg.maxmemory;
		nc.eviction = srv.cfg.maxmemory_policy;
		pthread_mutex_unlock(&srv.cfg_lock);
		if (!validNsNameOrReply(c, argv[2], lens[2]))
			return;
		aofNamespaceBegin();
		int rc = kv_ns_create(srv.env, argv[2], &nc);
		aofNamespaceEnd(1, argv[2], &nc, rc);
		if (!replyKvError(c, rc)) /* KV_ENSEXISTS: the engine's text */
			addReplyStatus(&c->rb, "OK");
	} else if (argEq(sub, lens[1], "drop") && argc == 3) {
		long long idx;
		if (argToLongLong(argv[2], lens[2], &idx) && idx >= 0 && idx < NUM_DBS) {
			addReplyError(&c->rb, "databases 0-15 cannot be dropped; use FLUSHDB");
			return;
		}
		if (!validNsNameOrReply(c, argv[2], lens[2]))
			return;
		aofNamespaceBegin();
		int rc = kv_ns_drop(srv.env, argv[2]);
		aofNamespaceEnd(0, argv[2], NULL, rc);
		if (rc == KV_ENONS)
			addReplyErrorFormat(&c->rb, "no such namespace '%s'", argv[2]);
		else if (!replyKvError(c, rc))
			addReplyStatus(&c->rb, "OK");
	} else if (argEq(sub, lens[1], "help")) {
		static const char *help[] = {
			"NAMESPACE <subcommand> [<arg>]. Subcommands are:",
			"LIST", "    Return the names of every engine namespace.",
			"CURRENT", "    Return the namespace this connection uses.",
			"INFO <name>", "    Return the configuration and counters of namespace <name>.",
			"USE <name>", "    Use namespace <name> (as SELECT <name>).",
			"CREATE <name>", "    Create namespace <name> with default settings.",
			"DROP <name>", "    Drop namespace <name> and every key in it.",
		};
		addReplyStatusArray(&c->rb, help, sizeof(help) / sizeof(help[0]));
	} else {
		addReplyErrorFormat(&c->rb, "unknown subcommand or wrong number of arguments for '%.128s'. Try NAMESPACE HELP.", sub);
	}
}

/* QUIT */
void quitCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	(void)argc; (void)argv; (void)lens;
	addReplyStatus(&c->rb, "OK");
	c->close_after_reply = 1;
}

/* RESET */
void resetCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	(void)argc; (void)argv; (void)lens;
	pubsubUnsubscribeAll(c, 0, 0);
	multiReset(c);
	c->rb.resp = 2;
	atomic_store(&c->info_resp, 2);
	c->db = srv.dbs[0];
	pthread_mutex_lock(&c->w->lock);
	strcpy(c->dbname, "0");
	c->name[0] = '\0';
	pthread_mutex_unlock(&c->w->lock);
	c->authenticated = !atomic_load(&srv.auth_required);
	addReplyStatus(&c->rb, "RESET");
}

/* CLIENT ID | GETNAME | SETNAME name | LIST | INFO | SETINFO | NO-EVICT | HELP */
void clientCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	const char *sub = argv[1];
	if (argEq(sub, lens[1], "id") && argc == 2) {
		addReplyLongLong(&c->rb, (long long)c->id);
	} else if (argEq(sub, lens[1], "reply") && argc == 3) {
		/* ON answers OK; OFF and SKIP answer nothing (commandExecute drops replies) */
		if (argEq(argv[2], lens[2], "on")) {
			c->reply_off = 0;
			addReplyStatus(&c->rb, "OK");
		} else if (argEq(argv[2], lens[2], "off")) {
			c->reply_off = 1;
		} else if (argEq(argv[2], lens[2], "skip")) {
			if (!c->reply_off)
				c->reply_skip = 1;
		} else {
			replySyntax(c);
		}
	} else if (argEq(sub, lens[1], "unblock") && (argc == 3 || argc == 4)) {
		clientUnblockCommand(c, argc, argv, lens);
	} else if (argEq(sub, lens[1], "getname") && argc == 2) {
		if (c->name[0])
			addReplyBulkCString(&c->rb, c->name);
		else
			addReplyNull(&c->rb);
	} else if (argEq(sub, lens[1], "setname")) {
		if (argc != 3) {
			replyArity(c, "client|setname");
			return;
		}
		for (size_t i = 0; i < lens[2]; i++)
			if (argv[2][i] < '!' || argv[2][i] > '~') {
				addReplyError(&c->rb, "Client names cannot contain spaces, newlines or special characters.");
				return;
			}
		pthread_mutex_lock(&c->w->lock);
		snprintf(c->name, sizeof(c->name), "%.*s", (int)lens[2], argv[2]);
		pthread_mutex_unlock(&c->w->lock);
		addReplyStatus(&c->rb, "OK");
	} else if ((argEq(sub, lens[1], "list") || argEq(sub, lens[1], "info"))) {
		replyBuf tmp;
		replyInit(&tmp);
		if (argEq(sub, lens[1], "info")) {
			/* only this client: filter the list by id */
			replyBuf all;
			replyInit(&all);
			clientListAppend(&all);
			char idtag[32];
			int n = snprintf(idtag, sizeof(idtag), "id=%llu ", (unsigned long long)c->id);
			for (size_t pos = 0; pos < all.len;) {
				char *nl = memchr(all.buf + pos, '\n', all.len - pos);
				size_t end = nl ? (size_t)(nl - all.buf) + 1 : all.len;
				if (end - pos >= (size_t)n && memcmp(all.buf + pos, idtag, (size_t)n) == 0)
					addReplyRaw(&tmp, all.buf + pos, end - pos);
				pos = end;
			}
			replyFree(&all);
		} else {
			clientListAppend(&tmp);
		}
		addReplyVerbatim(&c->rb, tmp.buf ? tmp.buf : "", tmp.len, "txt");
		replyFree(&tmp);
	} else if ((argEq(sub, lens[1], "setinfo") && argc == 4) || argEq(sub, lens[1], "no-evict") ||
	           argEq(sub, lens[1], "no-touch")) {
		addReplyStatus(&c->rb, "OK");
	} else if (argEq(sub, lens[1], "help")) {
		static const char *help[] = {
			"CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
			"GETNAME", "    Return the name of the current connection.",
			"ID", "    Return the ID of the current connection.",
			"INFO", "    Return information about the current client connection.",
			"LIST", "    Return information about client connections.",
			"SETNAME <name>", "    Assign the name <name> to the current connection.",
			"UNBLOCK <clientid> [TIMEOUT|ERROR]", "    Unblock the specified blocked client.",
			"HELP", "    Print this help.",
		};
		addReplyStatusArray(&c->rb, help, sizeof(help) / sizeof(help[0]));
	} else {
		addReplyErrorFormat(&c->rb, "unknown subcommand '%.128s'. Try CLIENT HELP.", sub);
	}
}
