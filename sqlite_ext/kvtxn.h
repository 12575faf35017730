/*
 * kvtxn.h -- the write buffer of one "kv" table in one connection.
 *
 * Writes made inside a transaction are appended to a log in statement order
 * and applied at commit as one all-or-nothing kv_batch.  A hash index over the
 * log finds the latest buffered write of a key, so the connection reads its own
 * uncommitted writes.  Savepoints are log lengths: rolling back to one
 * truncates the log and rebuilds the index.
 */
#ifndef SHARDKV_SQLITE_KVTXN_H
#define SHARDKV_SQLITE_KVTXN_H

#include <stddef.h>
#include <stdint.h>

typedef struct kvtxn_ent {
	int      op;         /* KV_OP_SET or KV_OP_DEL */
	unsigned flags;      /* KV_SET_NX: an INSERT that found the key absent */
	int      type;       /* KV_T_* of the value */
	int64_t  expires_at; /* absolute ms, or KV_EXPIRE_DEFAULT / NEVER / KEEP */
	size_t   klen, vlen;
	char    *key;        /* in the arena: key bytes, then value bytes */
	char    *val;
	uint32_t chunk;      /* arena position where this entry's bytes start */
	size_t   off;
} kvtxn_ent;

typedef struct kvtxn_chunk {
	size_t cap, used;
	char   data[];
} kvtxn_chunk;

typedef struct kvtxn {
	kvtxn_ent *ents;     /* the log, in order */
	size_t     n, cap;
	uint64_t  *slots;    /* open addressing: hash tag << 32 | (1 + index of the
	                      * key's latest entry); 0 empty */
	size_t     nslots;   /* power of two, or 0 */
	kvtxn_chunk **chunks;/* arena holding the entries' bytes */
	uint32_t   nchunks, capchunks;
	size_t    *marks;    /* marks[i]: log length at savepoint i */
	int        nmarks, capmarks;
} kvtxn;

/* Append a write.  Returns SQLITE_OK or SQLITE_NOMEM (nothing appended). */
int kvtxn_add(kvtxn *t, int op, unsigned flags, const void *key, size_t klen, const void *val,
              size_t vlen, int type, int64_t expires_at);

/* The latest buffered write of key, or NULL.  Valid until the next change of t. */
const kvtxn_ent *kvtxn_find(const kvtxn *t, const void *key, size_t klen);

int  kvtxn_savepoint(kvtxn *t, int i); /* SQLITE_OK or SQLITE_NOMEM */
void kvtxn_release(kvtxn *t, int i);
int  kvtxn_rollback_to(kvtxn *t, int i);

/* Forget every write and savepoint (commit done, or rollback). */
void kvtxn_clear(kvtxn *t);
/* kvtxn_clear plus release of every buffer. */
void kvtxn_free(kvtxn *t);

#endif /* SHARDKV_SQLITE_KVTXN_H */
