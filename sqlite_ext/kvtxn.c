/*
 * kvtxn.c -- per-connection write buffer of the "kv" table (see kvtxn.h).
 *
 * HOW IT WORKS
 *   The log is an array of entries; each owns one allocation holding its key
 *   and value bytes.  The index is an open-addressing table of 32-bit slots
 *   (1 + entry index, 0 = empty) keyed by an FNV-1a hash of the key; adding a
 *   write of a key already in the log overwrites its slot, so a lookup always
 *   lands on the latest write.  The table is kept at most half full.
 *
 *   Savepoint i records the log length.  xRollbackTo(i) frees the entries past
 *   that length and rebuilds the index from the remaining log, which costs
 *   O(log length) but keeps adds and lookups O(1).  SQLite may open savepoint
 *   N without having opened the ones below it (a table that joins a
 *   transaction late); missing marks take the current length, which is the
 *   right state for them because the table had no writes before it joined.
 */
#include "shardkv_sqlite.h"
#include "kvtxn.h"

#include <string.h>

static uint64_t key_hash(const void *key, size_t klen)
{
	const unsigned char *p = key;
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < klen; i++) {
		h ^= p[i];
		h *= 1099511628211ull;
	}
	return h ^ (h >> 29);
}

static void index_put(kvtxn *t, size_t idx)
{
	const kvtxn_ent *e = &t->ents[idx];
	size_t mask = t->nslots - 1;
	size_t s = (size_t)key_hash(e->key, e->klen) & mask;

	for (;;) {
		uint32_t v = t->slots[s];

		if (v == 0) {
			t->slots[s] = (uint32_t)(idx + 1);
			return;
		}
		if (t->ents[v - 1].klen == e->klen && memcmp(t->ents[v - 1].key, e->key, e->klen) == 0) {
			t->slots[s] = (uint32_t)(idx + 1);
			return;
		}
		s = (s + 1) & mask;
	}
}

static int index_rebuild(kvtxn *t, size_t nslots)
{
	if (nslots != t->nslots) {
		uint32_t *ns = sqlite3_malloc64(nslots * sizeof(*ns));

		if (ns == NULL)
			return SQLITE_NOMEM;
		sqlite3_free(t->slots);
		t->slots = ns;
		t->nslots = nslots;
	}
	memset(t->slots, 0, t->nslots * sizeof(*t->slots));
	for (size_t i = 0; i < t->n; i++)
		index_put(t, i);
	return SQLITE_OK;
}

int kvtxn_add(kvtxn *t, int op, unsigned flags, const void *key, size_t klen, const void *val,
              size_t vlen, int type, int64_t expires_at)
{
	kvtxn_ent *e;
	char      *mem;

	if (t->n >= UINT32_MAX - 1)
		return SQLITE_FULL;
	if (t->n == t->cap) {
		size_t     cap = t->cap ? t->cap * 2 : 16;
		kvtxn_ent *ne = sqlite3_realloc64(t->ents, cap * sizeof(*ne));

		if (ne == NULL)
			return SQLITE_NOMEM;
		t->ents = ne;
		t->cap = cap;
	}
	if ((t->n + 1) * 2 > t->nslots) {
		size_t want = t->nslots ? t->nslots * 2 : 32;

		if (index_rebuild(t, want) != SQLITE_OK)
			return SQLITE_NOMEM;
	}
	mem = sqlite3_malloc64(klen + vlen + 1);
	if (mem == NULL)
		return SQLITE_NOMEM;
	memcpy(mem, key, klen);
	if (vlen)
		memcpy(mem + klen, val, vlen);
	mem[klen + vlen] = '\0';
	e = &t->ents[t->n];
	e->op = op;
	e->flags = flags;
	e->type = type;
	e->expires_at = expires_at;
	e->klen = klen;
	e->vlen = vlen;
	e->key = mem;
	e->val = mem + klen;
	index_put(t, t->n);
	t->n++;
	return SQLITE_OK;
}

const kvtxn_ent *kvtxn_find(const kvtxn *t, const void *key, size_t klen)
{
	size_t mask, s;

	if (t->n == 0)
		return NULL;
	mask = t->nslots - 1;
	s = (size_t)key_hash(key, klen) & mask;
	for (;;) {
		uint32_t v = t->slots[s];

		if (v == 0)
			return NULL;
		if (t->ents[v - 1].klen == klen && memcmp(t->ents[v - 1].key, key, klen) == 0)
			return &t->ents[v - 1];
		s = (s + 1) & mask;
	}
}

static void truncate_log(kvtxn *t, size_t n)
{
	while (t->n > n) {
		t->n--;
		sqlite3_free(t->ents[t->n].key);
	}
}

int kvtxn_savepoint(kvtxn *t, int i)
{
	if (i < 0)
		return SQLITE_OK;
	if (i >= t->capmarks) {
		int     cap = i + 8;
		size_t *nm = sqlite3_realloc64(t->marks, (size_t)cap * sizeof(*nm));

		if (nm == NULL)
			return SQLITE_NOMEM;
		t->marks = nm;
		t->capmarks = cap;
	}
	while (t->nmarks < i)
		t->marks[t->nmarks++] = t->n;
	t->marks[i] = t->n;
	t->nmarks = i + 1;
	return SQLITE_OK;
}

void kvtxn_release(kvtxn *t, int i)
{
	if (i >= 0 && i < t->nmarks)
		t->nmarks = i;
}

int kvtxn_rollback_to(kvtxn *t, int i)
{
	if (i < 0 || i >= t->nmarks)
		return SQLITE_OK; /* never opened here: the table had no writes since */
	truncate_log(t, t->marks[i]);
	t->nmarks = i + 1;
	if (t->nslots)
		return index_rebuild(t, t->nslots); /* same size: cannot fail */
	return SQLITE_OK;
}

void kvtxn_clear(kvtxn *t)
{
	truncate_log(t, 0);
	t->nmarks = 0;
	if (t->nslots)
		memset(t->slots, 0, t->nslots * sizeof(*t->slots));
	/* a big transaction's buffers are not kept for the next one */
	if (t->cap > 4096) {
		sqlite3_free(t->ents);
		sqlite3_free(t->slots);
		t->ents = NULL;
		t->slots = NULL;
		t->cap = t->nslots = 0;
	}
}

void kvtxn_free(kvtxn *t)
{
	kvtxn_clear(t);
	sqlite3_free(t->ents);
	sqlite3_free(t->slots);
	sqlite3_free(t->marks);
	memset(t, 0, sizeof(*t));
}
