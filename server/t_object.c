/*
 * t_object.c -- OBJECT and DEBUG: introspection commands of Redis 7 that a
 * client library or a test suite expects to find.
 *
 * OBJECT ENCODING names what Redis would use for the value as the engine tags
 * it: "int" for an integer value (INCR, or SET of an integer within 20 bytes),
 * "embstr" up to 44 bytes, "raw" beyond.  The engine keeps no access time or
 * frequency, so IDLETIME and FREQ are errors that say so.
 *
 * DEBUG is guarded by enable-debug-command (no | yes | local) as in Redis 7;
 * only DEBUG SLEEP is implemented (it blocks the worker it runs on).
 */
#include "server.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Redis's string2ll acceptance: what SET would store as an integer. */
static int looksInt(const char *p, size_t n)
{
	long long v;
	if (n == 0 || n > 20)
		return 0;
	return argToLongLong(p, n, &v);
}

/* OBJECT ENCODING|REFCOUNT|IDLETIME|FREQ key | OBJECT HELP */
void objectCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	const char *sub = argv[1];
	if (argEq(sub, lens[1], "help") && argc == 2) {
		static const char *help[] = {
			"OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
			"ENCODING <key>",
			"    Return the kind of internal representation used in order to store the value",
			"    associated with a <key>.",
			"FREQ <key>",
			"    Not available: the engine does not track access frequency.",
			"IDLETIME <key>",
			"    Not available: the engine does not track access times.",
			"REFCOUNT <key>",
			"    Return the number of references of the value associated with the specified",
			"    <key>.",
			"HELP",
			"    Print this help.",
		};
		addReplyArrayLen(&c->rb, (long long)(sizeof(help) / sizeof(help[0])));
		for (size_t i = 0; i < sizeof(help) / sizeof(help[0]); i++)
			addReplyStatus(&c->rb, help[i]);
		return;
	}
	int enc = argEq(sub, lens[1], "encoding"), ref = argEq(sub, lens[1], "refcount");
	int idle = argEq(sub, lens[1], "idletime"), freq = argEq(sub, lens[1], "freq");
	if (!(enc || ref || idle || freq)) {
		addReplyErrorFormat(&c->rb, "unknown subcommand '%.128s'. Try OBJECT HELP.", sub);
		return;
	}
	if (argc != 3) {
		addReplyErrorFormat(&c->rb, "wrong number of arguments for 'object|%s' command",
		                    enc ? "encoding" : ref ? "refcount" : idle ? "idletime" : "freq");
		return;
	}
	kv_buf *b = &c->w->buf;
	int kind = KV_T_NONE;
	int rc = kv_kind(c->db, argv[2], lens[2], &kind);
	if (rc == KV_OK && kind >= KV_T_HASH && kind <= KV_T_LIST) { /* a collection: the engine's encoding */
		const char *encname = NULL;
		if (enc && (rc = kv_encoding(c->db, argv[2], lens[2], &encname)) == KV_OK) {
			addReplyBulkCString(&c->rb, encname);
			return;
		}
		if (!enc && rc == KV_OK)
			b->type = kind; /* REFCOUNT, IDLETIME, FREQ below */
	} else if (rc == KV_OK) {
		rc = kv_get(c->db, argv[2], lens[2], b);
	}
	if (rc == KV_NOTFOUND) {
		addReplyNull(&c->rb);
		return;
	}
	if (replyKvError(c, rc))
		return;
	if (idle) {
		addReplyError(&c->rb, "OBJECT IDLETIME is not available: the engine does not track access times");
	} else if (freq) {
		addReplyError(&c->rb, "OBJECT FREQ is not available: the engine does not track access frequency");
	} else if (ref) {
		addReplyLongLong(&c->rb, 1);
	} else if (b->type == KV_T_INT || looksInt(b->data, b->len)) {
		addReplyBulkCString(&c->rb, "int");
	} else {
		addReplyBulkCString(&c->rb, b->len <= 44 ? "embstr" : "raw");
	}
}

static int debugAllowed(client *c)
{
	pthread_mutex_lock(&srv.cfg_lock);
	char mode[8];
	snprintf(mode, sizeof(mode), "%s", srv.cfg.enable_debug_command);
	pthread_mutex_unlock(&srv.cfg_lock);
	if (!strcmp(mode, "yes"))
		return 1;
	return !strcmp(mode, "local") && (!strncmp(c->addr, "127.", 4) || !strncmp(c->addr, "::1:", 4));
}

/* DEBUG SLEEP seconds | DEBUG HELP */
void debugCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	if (!debugAllowed(c)) {
		addReplyError(&c->rb, "DEBUG command not allowed. If the enable-debug-command option is set to \"local\", "
		                      "you can run it from a local connection, otherwise you need to set this option in "
		                      "the configuration file, and then restart the server.");
		return;
	}
	if (argEq(argv[1], lens[1], "help") && argc == 2) {
		addReplyArrayLen(&c->rb, 3);
		addReplyStatus(&c->rb, "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:");
		addReplyStatus(&c->rb, "SLEEP <seconds>");
		addReplyStatus(&c->rb, "    Stop the worker thread of this connection for <seconds> (a decimal).");
		return;
	}
	if (argEq(argv[1], lens[1], "sleep") && argc == 3) {
		double secs;
		if (argToDoubleOrReply(c, argv[2], lens[2], &secs) != C_OK)
			return;
		if (secs > 0) {
			if (secs > 3600)
				secs = 3600; /* a typo must not stop a worker for days */
			struct timespec ts = {(time_t)secs, (long)((secs - floor(secs)) * 1e9)};
			while (nanosleep(&ts, &ts) != 0)
				;
		}
		addReplyStatus(&c->rb, "OK");
		return;
	}
	addReplyErrorFormat(&c->rb, "unknown subcommand '%.128s'. Try DEBUG HELP.", argv[1]);
}
