/*
 * t_copy.c -- COPY source destination [DB n] [REPLACE] and MOVE key db, with
 * Redis 7's replies, errors and keyspace events (copy_to; move_from and
 * move_to).  The engine's kv_copy and kv_move do the work: one atomic step
 * within a namespace, see kv.h for the steps across namespaces.
 */
#include "server.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

/* The namespace named by a Redis DB index (an int); replies on error. */
static int dbArgOrReply(client *c, const char *s, size_t n, kv_ns **out)
{
	long long id;
	if (!argToLongLong(s, n, &id) || id < INT_MIN || id > INT_MAX) {
		addReplyError(&c->rb, "value is not an integer or out of range");
		return C_ERR;
	}
	char name[24];
	int len = snprintf(name, sizeof name, "%lld", id);
	kv_ns_stats st;
	if (id < 0 || kv_nscache_get(srv.nscache, name, (size_t)len, out) != KV_OK ||
	    kv_ns_stats_get(*out, &st) != KV_OK) {
		addReplyError(&c->rb, "DB index is out of range");
		return C_ERR;
	}
	return C_OK;
}

/* Two handles on one namespace (the client's own handle need not be the cache's). */
static int sameNs(kv_ns *a, kv_ns *b)
{
	return a == b || strcmp(kv_ns_name(a), kv_ns_name(b)) == 0;
}

/* COPY source destination [DB destination-db] [REPLACE] */
void copyCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	kv_ns *dst = c->db;
	int replace = 0;
	for (int j = 3; j < argc; j++) {
		if (argEq(argv[j], lens[j], "replace")) {
			replace = 1;
		} else if (argEq(argv[j], lens[j], "db") && argc - j - 1 >= 1) {
			if (dbArgOrReply(c, argv[j + 1], lens[j + 1], &dst) != C_OK)
				return;
			j++;
		} else {
			replySyntax(c);
			return;
		}
	}
	int same = sameNs(c->db, dst);
	if (same && lens[1] == lens[2] && memcmp(argv[1], argv[2], lens[1]) == 0) {
		addReplyError(&c->rb, "source and destination objects are the same");
		return;
	}
	pubsubRenameEvents(KV_EV_SET, "copy_to");
	int rc = kv_copy(c->db, argv[1], lens[1], same ? c->db : dst, argv[2], lens[2], replace);
	pubsubRenameEvents(0, NULL);
	if (rc == KV_NOTFOUND || rc == KV_EXISTS) {
		addReplyLongLong(&c->rb, 0);
		return;
	}
	if (replyKvError(c, rc))
		return;
	addReplyLongLong(&c->rb, 1);
}

/* MOVE key db */
void moveCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	(void)argc;
	kv_ns *dst;
	if (dbArgOrReply(c, argv[2], lens[2], &dst) != C_OK)
		return;
	if (sameNs(c->db, dst)) {
		addReplyError(&c->rb, "source and destination objects are the same");
		return;
	}
	pubsubRenameEvents2(KV_EV_DEL, "move_from", KV_EV_SET, "move_to");
	int rc = kv_move(c->db, argv[1], lens[1], dst);
	pubsubRenameEvents(0, NULL);
	if (rc == KV_NOTFOUND || rc == KV_EXISTS) {
		addReplyLongLong(&c->rb, 0);
		return;
	}
	if (replyKvError(c, rc))
		return;
	addReplyLongLong(&c->rb, 1);
}
