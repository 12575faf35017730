/*
 * kvtxn.c -- per-connection write buffer of the "kv" table (see kvtxn.h).
 *
 * HOW IT WORKS
 *   The log is an array of entries whose key and value bytes sit back to back
 *   in an arena of 64 KiB chunks (no allocation per write).  The index is an
 *   open-addressing table of 64-bit slots, each the upper half of the key's
 *   hash (FNV-1a finished with fmix64) beside 1 + the entry's index (0 =
 *   empty), so a probe rarely touches an entry that does not match.  Adding a
 *   write of a key already in the log overwrites its slot, so a lookup always
 *   lands on the latest write.  The table is kept at most half full.
 *
 *   Savepoint i records the log length.  xRollbackTo(i) drops the entries past
 *   that length (and their arena bytes) and rebuilds the index from the
 *   remaining log, which costs O(log length) but keeps adds and lookups O(1).
 *   SQLite may open savepoint N without having opened the ones below it (a
 *   table that joins a transaction late); missing marks take the current
 *   length, which is the right state for them because the table had no writes
 *   before it joined.
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
	/* FNV's low bits mix poorly (keys that differ in their last bytes
	 * collide in a power-of-two table): finish with MurmurHash3's fmix64 */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h;
}

#define SLOT(tag, idx) (((uint64_t)(tag) << 32) | (uint64_t)((idx) + 1))
#define SLOT_IDX(v)    ((size_t)((v) & 0xffffffffu) - 1)
#define SLOT_TAG(v)    ((uint32_t)((v) >> 32))

static void index_put_hash(kvtxn *t, size_t idx, uint64_t h)
{
	const kvtxn_ent *e = &t->ents[idx];
	size_t   mask = t->nslots - 1;
	size_t   s = (size_t)h & mask;
	uint32_t tag = (uint32_t)(h >> 32);

	for (;;) {
		uint64_t v = t->slots[s];

		if (v == 0) {
			t->slots[s] = SLOT(tag, idx);
			return;
		}
		if (SLOT_TAG(v) == tag) {
			const kvtxn_ent *o = &t->ents[SLOT_IDX(v)];

			if (o->klen == e->klen && memcmp(o->key, e->key, e->klen) == 0) {
				t->slots[s] = SLOT(tag, idx);
				return;
			}
		}
		s = (s + 1) & mask;
	}
}

static int index_rebuild(kvtxn *t, size_t nslots)
{
	if (nslots != t->nslots) {
		uint64_t *ns = sqlite3_malloc64(nslots * sizeof(*ns));

		if (ns == NULL)
			return SQLITE_NOMEM;
		sqlite3_free(t->slots);
		t->slots = ns;
		t->nslots = nslots;
	}
	memset(t->slots, 0, t->nslots * sizeof(*t->slots));
	for (size_t i = 0; i < t->n; i++)
		index_put_hash(t, i, key_hash(t->ents[i].key, t->ents[i].klen));
	return SQLITE_OK;
}

/* Bytes for an entry from the arena; records in *e where they start. */
static char *arena_alloc(kvtxn *t, size_t size, kvtxn_ent *e)
{
	kvtxn_chunk *c = t->nchunks ? t->chunks[t->nchunks - 1] : NULL;

	if (c == NULL || c->cap - c->used < size) {
		size_t cap = size > 65536 ? size : 65536;

		if (t->nchunks == t->capchunks) {
			uint32_t      ncap = t->capchunks ? t->capchunks * 2 : 8;
			kvtxn_chunk **nc = sqlite3_realloc64(t->chunks, ncap * sizeof(*nc));

			if (nc == NULL)
				return NULL;
			t->chunks = nc;
			t->capchunks = ncap;
		}
		c = sqlite3_malloc64(sizeof(*c) + cap);
		if (c == NULL)
			return NULL;
		c->cap = cap;
		c->used = 0;
		t->chunks[t->nchunks++] = c;
	}
	e->chunk = t->nchunks - 1;
	e->off = c->used;
	c->used += size;
	return c->data + e->off;
}

/* Drop the entries past n and give back their arena bytes. */
static void truncate_log(kvtxn *t, size_t n)
{
	const kvtxn_ent *e;

	if (n >= t->n)
		return;
	e = &t->ents[n];
	while (t->nchunks > e->chunk + 1)
		sqlite3_free(t->chunks[--t->nchunks]);
	t->chunks[e->chunk]->used = e->off;
	t->n = n;
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
	e = &t->ents[t->n];
	mem = arena_alloc(t, klen + vlen, e);
	if (mem == NULL)
		return SQLITE_NOMEM;
	memcpy(mem, key, klen);
	if (vlen)
		memcpy(mem + klen, val, vlen);
	e->op = op;
	e->flags = flags;
	e->type = type;
	e->expires_at = expires_at;
	e->klen = klen;
	e->vlen = vlen;
	e->key = mem;
	e->val = mem + klen;
	index_put_hash(t, t->n, key_hash(key, klen));
	t->n++;
	return SQLITE_OK;
}

const kvtxn_ent *kvtxn_find(const kvtxn *t, const void *key, size_t klen)
{
	uint64_t h;
	uint32_t tag;
	size_t   mask, s;

	if (t->n == 0)
		return NULL;
	h = key_hash(key, klen);
	tag = (uint32_t)(h >> 32);
	mask = t->nslots - 1;
	s = (size_t)h & mask;
	for (;;) {
		uint64_t v = t->slots[s];

		if (v == 0)
			return NULL;
		if (SLOT_TAG(v) == tag) {
			const kvtxn_ent *e = &t->ents[SLOT_IDX(v)];

			if (e->klen == klen && memcmp(e->key, key, klen) == 0)
				return e;
		}
		s = (s + 1) & mask;
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
	/* a big transaction's buffers are not kept for the next one */
	while (t->nchunks > 1)
		sqlite3_free(t->chunks[--t->nchunks]);
	if (t->cap > 4096) {
		sqlite3_free(t->ents);
		sqlite3_free(t->slots);
		t->ents = NULL;
		t->slots = NULL;
		t->cap = t->nslots = 0;
	} else if (t->nslots) {
		memset(t->slots, 0, t->nslots * sizeof(*t->slots));
	}
}

void kvtxn_free(kvtxn *t)
{
	kvtxn_clear(t);
	while (t->nchunks > 0)
		sqlite3_free(t->chunks[--t->nchunks]);
	sqlite3_free(t->chunks);
	sqlite3_free(t->ents);
	sqlite3_free(t->slots);
	sqlite3_free(t->marks);
	memset(t, 0, sizeof(*t));
}
