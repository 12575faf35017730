/*
 * list.h -- the list data structure in the region (list.c), used by the list
 * commands (lists.c) and driven directly by tests/unit/test_list_struct.c.
 *
 * Everything here runs under the lock of the list's shard and is bounded by
 * the arguments: the commands split work a caller sizes into holds (see
 * lists.c).  Nodes detached by a change are given back through a kv_lgc: a
 * single node that no snapshot can see is freed at once (O(1)), anything
 * else (a subtree, or a node an older epoch still shows) is recorded and the
 * caller frees it after the lock, or keeps it while a snapshot needs it.
 */
#ifndef SHARDKV_LIST_H
#define SHARDKV_LIST_H

#include "kv_internal.h"

/* A chunk's payload is at most this many bytes unless it holds one element
 * (Redis's list-max-listpack-size -2: 8 KB, header included: a full chunk is
 * exactly one 8 KiB size class).  A list that fits one such chunk is a
 * "listpack"; beyond, a "quicklist". */
#define KV_LIST_CHUNK_MAX (8192u - 16u)
/* Chunk references per directory node: 24 + 509 * 8 = one 4 KiB block. */
#define KV_LIST_DIR_MAX 509u

enum { KV_LIST_EMPTY = 0, KV_LIST_LISTPACK = 1, KV_LIST_QUICKLIST = 2 };

/* The list's header: the value bytes of its key's entry (32 bytes). */
typedef struct kv_list {
	uint32_t count;   /* elements */
	uint32_t epoch;   /* nodes stamped with it are the live tree's own */
	kv_off   root;    /* listpack: the chunk; quicklist: the top node; 0: empty */
	uint32_t enc;     /* KV_LIST_* */
	uint64_t ver;     /* bumped by every change (multi-hold readers check it) */
	uint64_t bytes;   /* region bytes of the nodes (charged to the namespace) */
} kv_list;

/* What a change detached for the caller to free after the lock. */
enum { KV_LGC_CHUNK = 1, KV_LGC_INODE, KV_LGC_DIRTREE, KV_LGC_TOPTREE };
typedef struct kv_lgc_rec {
	kv_off   off;
	uint32_t kind;
} kv_lgc_rec;
typedef struct kv_lgc {
	kv_lgc_rec *v;
	size_t      n, cap;   /* the caller reserves room (kv_list_gc_need) */
} kv_lgc;

/* One change's context.  frozen: a snapshot cut is pending on the shard, so
 * nodes of another epoch than L->epoch belong to its image too: they are
 * copied before a change and never freed here (recorded in gc). */
typedef struct kv_lctx {
	kv_env  *env;
	kv_list *L;
	bool     frozen;
	kv_lgc  *gc;
	/* a single node of an older epoch the change dropped (frozen only): handed
	 * to the snapshot's keeping (NULL: recorded in gc instead) */
	void   (*keep)(struct kv_lctx *c, kv_off off, size_t size);
	void    *arg;
} kv_lctx;

/* Records one change can need at most (single-element ops, trims). */
#define KV_LIST_GC_OP 16u

/* Start a new epoch: every node so far belongs to the copy of the header a
 * snapshot keeps (call when the header is copied for a pending cut). */
static inline void kv_list_new_epoch(kv_list *L)
{
	L->epoch++;
}

/* Element sizes. */
size_t kv_list_elem_size(size_t len);

/* Changes.  KV_OK, or KV_ENOMEM (the region is full: nothing changed). */
int kv_list_push(kv_lctx *c, int where, const void *v, size_t len);
int kv_list_insert(kv_lctx *c, uint64_t index, const void *v, size_t len); /* before index; index == count appends */
int kv_list_set(kv_lctx *c, uint64_t index, const void *v, size_t len);
int kv_list_delete(kv_lctx *c, uint64_t index, uint64_t n);               /* [index, index + n) */
int kv_list_trim(kv_lctx *c, uint64_t ltrim, uint64_t rtrim);            /* LTRIM: both ends, or none */

/* An element bigger than KV_LIST_CHUNK_MAX always has a chunk of its own, so
 * a push can build that chunk with no lock (kv_list_chunk_build: 0 if the
 * region is full) and only link it under the lock (kv_list_push_chunk:
 * KV_OK, or KV_ENOMEM and not linked); one never linked is dropped with no
 * lock (kv_list_chunk_drop). */
kv_off kv_list_chunk_build(kv_env *env, const void *v, size_t len);
int    kv_list_push_chunk(kv_lctx *c, int where, kv_off chunk);
void   kv_list_chunk_drop(kv_env *env, kv_off chunk);

/* The other way: unlink the chunk at `where` if it holds one element bigger
 * than KV_LIST_CHUNK_MAX and no snapshot reads it, so a pop copies the
 * element out after the lock (kv_list_chunk_elem), then drops the chunk.
 * 0: not such a chunk (or out of memory for a copy-on-write): pop as usual. */
kv_off kv_list_pop_chunk(kv_lctx *c, int where);
void   kv_list_chunk_elem(const kv_env *env, kv_off chunk, const char **p, size_t *len);

/* Remove the elements at pos[0..n) (ascending, distinct, < count): each
 * chunk holding some is rewritten once.  LREM's removal. */
int kv_list_delete_positions(kv_lctx *c, const uint64_t *pos, size_t n);
/* Nodes a deletion of [index, index + n) may drop, at most (to reserve room
 * for the ones a snapshot keeps): O(directories it spans). */
uint64_t kv_list_nodes_in(const kv_env *env, const kv_list *L, uint64_t index, uint64_t n);
/* Every node of a list nobody else can reach (no lock): a dead body. */
void kv_list_free_body(kv_env *env, const kv_list *L);
/* Each node of record r (a subtree: all of them), for handing over one by one. */
void kv_list_rec_nodes(kv_env *env, kv_lgc_rec r, void (*fn)(void *arg, kv_off off, size_t size),
                       void *arg);

/* Reading.  An element is (p, len) into region memory, valid until the lock
 * is released or the list changes. */
typedef struct kv_list_it {
	const kv_env  *env;
	const kv_list *L;
	uint64_t       index;      /* of the current element; L->count: past the end */
	uint32_t       ti, di;     /* top and directory positions (quicklist) */
	const char    *chunk;      /* current chunk */
	uint32_t       ci, off;    /* element ordinal and byte offset in the chunk */
} kv_list_it;
/* Position at index (< L->count; false otherwise). */
bool kv_list_seek(kv_list_it *it, const kv_env *env, const kv_list *L, uint64_t index);
/* The current element. */
void kv_list_cur(const kv_list_it *it, const char **p, size_t *len);
/* Move to the next / previous element: false at the end. */
bool kv_list_next(kv_list_it *it);
bool kv_list_prev(kv_list_it *it);

/* Encoding name for OBJECT ENCODING. */
const char *kv_list_encoding(const kv_list *L);

/* With no lock: free what gc recorded (the caller knows no snapshot needs it). */
void kv_list_gc_free(kv_env *env, kv_lgc *gc);
/* Detach the whole tree into gc (one record) and empty L: freeing a list. */
void kv_list_detach_all(kv_lctx *c);
/* Free one record's nodes (no lock). */
void kv_list_free_rec(kv_env *env, kv_lgc_rec r);
/* Consistency check for tests: counts, sizes, bytes.  KV_OK or KV_ECORRUPT. */
int kv_list_check(const kv_env *env, const kv_list *L);

#endif /* SHARDKV_LIST_H */
