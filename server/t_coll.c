/*
 * t_coll.c -- helpers shared by the collection command files (t_hash.c,
 * t_set.c and the zset/list files): argument vectors as engine kv_val arrays,
 * kv_elems results as replies, *SCAN option parsing, and the AOF effect record
 * of a collection write.
 */
#include "server.h"
#include "aof.h"

#include <stdlib.h>
#include <string.h>

int collVals(collArgs *a, int argc, const char **argv, const size_t *lens, int from, int step)
{
	a->n = 0;
	a->v = a->small;
	size_t n = argc > from ? (size_t)(argc - from + step - 1) / (size_t)step : 0;
	if (n > COLL_SMALL_ARGS && (a->v = malloc(n * sizeof(*a->v))) == NULL) {
		a->v = a->small;
		return C_ERR;
	}
	for (int i = from; i < argc; i += step) {
		a->v[a->n].data = argv[i];
		a->v[a->n++].len = lens[i];
	}
	return C_OK;
}

void collValsFree(collArgs *a)
{
	if (a->v != a->small)
		free(a->v);
	a->v = a->small;
	a->n = 0;
}

void replyElem(client *c, const kv_elems *e, size_t i)
{
	const kv_elem *el = &e->v[i];
	if (el->len == KV_ELEM_NIL)
		addReplyNull(&c->rb);
	else
		addReplyBulk(&c->rb, e->bytes.data + el->off, el->len);
}

void replyElemsArray(client *c, const kv_elems *e, int as_set)
{
	if (as_set)
		addReplySetLen(&c->rb, (long long)e->n);
	else
		addReplyArrayLen(&c->rb, (long long)e->n);
	for (size_t i = 0; i < e->n; i++)
		replyElem(c, e, i);
}

void replyElemsMap(client *c, const kv_elems *e)
{
	addReplyMapLen(&c->rb, (long long)(e->n / 2));
	for (size_t i = 0; i < e->n; i++)
		replyElem(c, e, i);
}

/*
 * HSCAN/SSCAN/ZSCAN key cursor [MATCH p] [COUNT n] [NOVALUES]: parse the
 * cursor and options (NOVALUES only if novalues_ok).  Redis checks the cursor,
 * then the key, then the options: an option error on a missing key still
 * answers the empty scan, and on a key of another kind WRONGTYPE.  Replies on
 * error (C_ERR).
 */
int collScanArgs(client *c, int argc, const char **argv, const size_t *lens, int kind,
                 int novalues_ok, collScan *s)
{
	memset(s, 0, sizeof(*s));
	if (lens[2] == 0 || lens[2] > 20) {
		addReplyError(&c->rb, "invalid cursor");
		return C_ERR;
	}
	for (size_t i = 0; i < lens[2]; i++) {
		unsigned d = (unsigned)(argv[2][i] - '0');
		if (d > 9 || s->cursor > (UINT64_MAX - d) / 10) {
			addReplyError(&c->rb, "invalid cursor");
			return C_ERR;
		}
		s->cursor = s->cursor * 10 + d;
	}
	const char *err = NULL;
	for (int j = 3; j < argc && err == NULL; j++) {
		int more = j + 1 < argc;
		if (more && argEq(argv[j], lens[j], "count")) {
			long long n;
			if (!argToLongLong(argv[j + 1], lens[j + 1], &n))
				err = "value is not an integer or out of range";
			else if (n < 1)
				err = "syntax error";
			else
				s->count = (size_t)n;
			j++;
		} else if (more && argEq(argv[j], lens[j], "match")) {
			s->match = argv[j + 1];
			s->mlen = lens[j + 1];
			j++;
		} else if (novalues_ok && argEq(argv[j], lens[j], "novalues")) {
			s->novalues = 1;
		} else {
			err = "syntax error";
		}
	}
	if (err == NULL)
		return C_OK;
	int k;
	int rc = kv_kind(c->db, argv[1], lens[1], &k);
	if (rc == KV_NOTFOUND) {
		addReplyArrayLen(&c->rb, 2);
		addReplyBulkCString(&c->rb, "0");
		addReplyArrayLen(&c->rb, 0);
	} else if (rc == KV_OK && k != kind) {
		replyKvError(c, KV_EWRONGTYPE);
	} else {
		addReplyError(&c->rb, err);
	}
	return C_ERR;
}

void collScanReply(client *c, int argc, const char **argv, const size_t *lens, int kind,
                   int novalues_ok)
{
	collScan s;
	if (collScanArgs(c, argc, argv, lens, kind, novalues_ok, &s) != C_OK)
		return;
	kv_elems e = KV_ELEMS_INIT;
	int rc = kv_cscan(c->db, argv[1], lens[1], kind, &s.cursor, s.match, s.mlen, s.count,
	                  s.novalues, &e);
	if (!replyKvError(c, rc)) {
		addReplyArrayLen(&c->rb, 2);
		addReplyBulkFormat(&c->rb, "%llu", (unsigned long long)s.cursor);
		if (kind == KV_T_ZSET) {
			addReplyArrayLen(&c->rb, (long long)e.n * 2);
			for (size_t i = 0; i < e.n; i++) {
				replyElem(c, &e, i);
				addReplyBulkFormat(&c->rb, "%.17g", e.v[i].score);
			}
		} else {
			replyElemsArray(c, &e, 0);
		}
	}
	kv_elems_free(srv.env, &e);
}

/* The AOF effect of a collection write: argv[0] names it (aof_effect.c). */
void collEffect(client *c, size_t argc, const kv_val *argv)
{
	if (aofEnabled())
		aofEffect(c->dbname, argc, argv);
}
