/*
 * zset.h -- the sorted-set value (KV_T_ZSET) as a structure in the region.
 * zset.c's header comment explains the design; this is its internal contract.
 *
 * A zset is a header (zs_hdr) at a kv_off, owning everything below it.  Calls
 * that change it (zs_add, zs_del, zs_pop ...) run under the lock of the key's
 * shard; they never allocate outside the region and never free memory that a
 * pinned view may still read.  Reads run either under that lock on the live
 * zset (zs_view_live) or with no lock on a pinned view (zs_pin ... zs_unpin),
 * which stays valid and unchanged while writers go on (copy-on-write of the
 * tree's nodes: only the nodes a write touches are copied, once per pin).
 */
#ifndef SHARDKV_ZSET_H
#define SHARDKV_ZSET_H

#include "kv_internal.h"

/* Redis's zset-max-listpack-entries / -value: past them the compact encoding
 * converts to the tree. */
#define ZS_COMPACT_MAX_ENTRIES 128u
#define ZS_COMPACT_MAX_VALUE   64u
#define ZS_MAXH 12 /* tree height bound: 2 * 21 * 12^10 minimum-filled elements > 2^32 */

enum { ZS_COMPACT = 1, ZS_TREE = 2 };

typedef struct zs_hdr {
	uint32_t enc;         /* ZS_COMPACT or ZS_TREE */
	uint32_t count;       /* elements */
	uint32_t gen;         /* nodes of another gen are shared with a pinned view while pins > 0 */
	uint32_t pins;        /* views pinned (readers, saves) */
	kv_off   root;        /* compact: the blob; tree: the root node */
	uint32_t height;      /* tree: 1 = the root is a leaf */
	kv_off   buckets;     /* tree: member index, chains through the records */
	uint32_t blog2;
	kv_off   obuckets;    /* the old bucket array while it rehashes (0: none) */
	uint32_t oblog2;
	uint32_t rehash;      /* old buckets below this have moved */
	kv_off   spare;       /* tree nodes kept for the next writes (linked) */
	uint32_t nspare;
	kv_off   retired;     /* chunks of allocations pinned views may read */
	uint32_t dead;        /* deleted while pinned: the last zs_unpin frees it */
	uint64_t bytes;       /* size classes of every live allocation, the header's included */
} zs_hdr;

/* What a reader reads: the live zset under its lock, or a pinned version. */
typedef struct zs_view {
	kv_off   hdr;
	uint32_t enc, height;
	kv_off   root;
	uint64_t count;
} zs_view;

/* One element as a reader sees it; member points into the region. */
typedef struct zs_elem {
	double      score;
	const char *member;
	uint32_t    len;
} zs_elem;

KV_INLINE zs_hdr *zs_h(kv_env *env, kv_off h)
{
	return kv_ptr(env, h);
}

/* ---- lifecycle */
/* A new empty zset whose encoding suits `hint` elements of up to `maxlen`
 * bytes (Redis's zsetTypeCreate).  0: the region is full. */
kv_off      zs_new(kv_env *env, size_t hint, size_t maxlen);
/* Free a zset nobody pins (after the shard lock: O(size)). */
void        zs_destroy(kv_env *env, kv_off h);
/* The key was deleted under the lock: true if the caller must zs_destroy it
 * (after the lock); false if a pinned view still reads it (the last zs_unpin
 * says destroy). */
bool        zs_kill(kv_env *env, kv_off h);
const char *zs_encoding(kv_env *env, kv_off h); /* "listpack" / "skiplist" */

/* ---- writes (under the lock) */
#define ZS_OUT_NOP     1 /* refused by NX/XX/GT/LT */
#define ZS_OUT_ADDED   2
#define ZS_OUT_UPDATED 4
/* ZADD of one member with KV_ZADD_* flags (checked by the caller): *out gets
 * ZS_OUT_* (0: existed, score unchanged), *newscore the score it has (INCR).
 * KV_OK, KV_ENOTFLOAT (INCR reached NaN), KV_ENOMEM (the region is full;
 * nothing changed). */
int zs_add(kv_env *env, kv_off h, double score, const void *m, size_t mlen, unsigned flags,
           int *out, double *newscore);
/* KV_OK (removed; *score its score if not NULL) or KV_NOTFOUND. */
int zs_del(kv_env *env, kv_off h, const void *m, size_t mlen, double *score);
/* Remove the elements of ranks [first, first + n) (n small: the caller bounds
 * it).  Their members and scores are appended to out if not NULL, in rank
 * order (rev: highest rank first).  KV_OK or KV_ENOMEM (out; nothing removed). */
int zs_del_ranks(kv_env *env, kv_off h, uint64_t first, uint64_t n, int rev, kv_elems *out);

/* ---- point reads (under the lock, or racy with validation by the caller) */
int zs_score(kv_env *env, kv_off h, const void *m, size_t mlen, double *score);
int zs_rank(kv_env *env, kv_off h, const void *m, size_t mlen, uint64_t *rank, double *score);

/* ---- views */
void zs_view_live(kv_env *env, kv_off h, zs_view *v);
/* Under the lock: O(1).  The view stays readable with no lock until zs_unpin. */
void zs_pin(kv_env *env, kv_off h, zs_view *v);
/* Under the lock: drop a pin.  The retired allocations the last pin held are
 * handed back in *retired for zs_free_retired after the lock; *destroy says
 * the zset was killed meanwhile and the caller must zs_destroy it after the
 * lock. */
void zs_unpin(kv_env *env, kv_off h, kv_off *retired, bool *destroy);
void zs_free_retired(kv_env *env, kv_off retired);

/* The element at rank r of a view (r < count). */
void zs_at(kv_env *env, const zs_view *v, uint64_t r, zs_elem *e);
/* Iteration from a rank in either direction. */
typedef struct zs_iter {
	kv_env        *env;
	const zs_view *v;
	uint64_t       rank;       /* current; count (or UINT64_MAX backwards) when done */
	const char    *p;          /* compact: the current entry */
	int            depth;
	kv_off         node[ZS_MAXH];
	uint32_t       idx[ZS_MAXH];
} zs_iter;
void zs_iter_seek(zs_iter *it, kv_env *env, const zs_view *v, uint64_t rank);
bool zs_iter_get(const zs_iter *it, zs_elem *e); /* false: past either end */
void zs_iter_next(zs_iter *it);
void zs_iter_prev(zs_iter *it);

/* A range spec resolved to ranks: elements [first, first + n) of the view, in
 * order (rev: from first + n - 1 down).  KV_OK or KV_EINVAL (LIMIT by rank). */
int zs_resolve(kv_env *env, const zs_view *v, const kv_zrange_spec *s, bool use_limit,
               uint64_t *first, uint64_t *n);

/* ---- building a new zset with no lock (it is not linked anywhere yet) */
typedef struct zs_build {
	kv_env  *env;
	kv_off   h;
	double   last;
	kv_buf   lastm;
	bool     any;
	int      rc;
} zs_build;
/* n elements of up to maxlen bytes will follow (both may be estimates). */
int  zs_build_begin(zs_build *b, kv_env *env, size_t n, size_t maxlen);
/* Append elements in strictly increasing (score, member) order; an element
 * out of order or repeated: KV_ECORRUPT (a loader's input check). */
int  zs_build_add(zs_build *b, double score, const void *m, size_t mlen);
/* The built zset (0 on failure, after which everything was freed). */
kv_off zs_build_end(zs_build *b);
void   zs_build_abort(zs_build *b);

/* ---- cursor scan (ZSCAN): one step of up to `count` member buckets.
 * Appends elements to out; returns the next cursor (0: done). */
int zs_scan(kv_env *env, kv_off h, uint64_t *cursor, size_t count, kv_elems *out);

/* ---- algebra on copied-out sources (no lock) */
typedef struct zs_src {
	const kv_elems *e;   /* members with scores (sets: score 1) */
	double          weight;
} zs_src;
/* ZUNION / ZINTER / ZDIFF of n sources into out, sorted by (score, member),
 * with Redis's weight and aggregate rules.  KV_OK or KV_ENOMEM. */
int zs_algebra(kv_env *env, int op, zs_src *src, size_t n, int agg, kv_elems *out);

/* ---- helpers */
/* Append one element to a result list (env's allocator). */
int  zs_elems_push(kv_env *env, kv_elems *out, const void *m, size_t mlen, double score);
/* Order of (score, member) pairs as Redis orders zset elements. */
int  zs_cmp(double sa, const void *ma, size_t la, double sb, const void *mb, size_t lb);
/* Tests: check every invariant of the structure; 0 if sound, else a code
 * naming the first broken one. */
int  zs_check(kv_env *env, kv_off h);

#endif /* SHARDKV_ZSET_H */
