/*
 * t_sort.c -- SORT and SORT_RO.
 *
 * SORT sorts the elements of a list, set or sorted set.  The engine stores
 * strings only, so every SORT here meets either no key (an empty result) or a
 * string (WRONGTYPE), exactly as redis-server answers those two cases; the
 * options are parsed and refused as Redis parses them (LIMIT's integers, STORE
 * only in SORT, a syntax error for anything else), so clients see Redis's
 * replies and errors.  STORE of an empty result deletes the destination, as
 * Redis does.  When the engine gains collections, this file sorts them.
 */
#include "server.h"

#include <string.h>
#include <strings.h>

#define WRONGTYPE "-WRONGTYPE Operation against a key holding the wrong kind of value"

static int isOpt(const char *arg, size_t len, const char *name)
{
	return len == strlen(name) && strncasecmp(arg, name, len) == 0;
}

/* SORT key [BY pattern] [LIMIT offset count] [GET pattern ...] [ASC|DESC] [ALPHA]
 *      [STORE destination]; SORT_RO the same without STORE */
static void sortGenericCommand(client *c, int argc, const char **argv, const size_t *lens,
                               int readonly)
{
	int store = 0;
	long long lim;
	for (int j = 2; j < argc; j++) {
		int left = argc - j - 1;
		if (isOpt(argv[j], lens[j], "asc") || isOpt(argv[j], lens[j], "desc") ||
		    isOpt(argv[j], lens[j], "alpha")) {
			continue;
		} else if (isOpt(argv[j], lens[j], "limit") && left >= 2) {
			if (argToLongLongOrReply(c, argv[j + 1], lens[j + 1], &lim) != C_OK ||
			    argToLongLongOrReply(c, argv[j + 2], lens[j + 2], &lim) != C_OK)
				return;
			j += 2;
		} else if (!readonly && isOpt(argv[j], lens[j], "store") && left >= 1) {
			store = ++j;
		} else if ((isOpt(argv[j], lens[j], "by") || isOpt(argv[j], lens[j], "get")) && left >= 1) {
			j++;
		} else {
			replySyntax(c);
			return;
		}
	}
	int rc = kv_exists(c->db, argv[1], lens[1]);
	if (rc == KV_OK) { /* a string: not a list, set or sorted set */
		addReplyError(&c->rb, WRONGTYPE);
		return;
	}
	if (rc != KV_NOTFOUND && replyKvError(c, rc))
		return;
	if (!store) {
		addReplyArrayLen(&c->rb, 0);
		return;
	}
	/* nothing to store: the destination goes, as in Redis (a "del" event) */
	rc = kv_del(c->db, argv[store], lens[store]);
	if (rc != KV_OK && rc != KV_NOTFOUND && replyKvError(c, rc))
		return;
	addReplyLongLong(&c->rb, 0);
}

void sortCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	sortGenericCommand(c, argc, argv, lens, 0);
}

void sortroCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	sortGenericCommand(c, argc, argv, lens, 1);
}
