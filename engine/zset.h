/*
 * zset.h -- the sorted-set structure (KV_T_ZSET) inside a collection header.
 * zset.c's header comment explains the design; zset_api.c implements kv.h's
 * calls with it; this is the contract between the two.
 *
 * A zset is a kv_chdr (coll.h) whose body, card and aux[0..1] zset.c owns.
 * Calls that change it run under the lock of the key's shard, after
 * kv_coll_mutate() reserved the graveyard for ZS_RELEASES(h) objects per
 * element changed; they allocate only in the region and never free an
 * object a frozen view may read (the core's copy-on-write, coll.h section 5).
 * Reads take a zs_view: of the live header under the lock or pinned, or of
 * a save's frozen copy with no lock.
 */
#ifndef SHARDKV_ZSET_H
#define SHARDKV_ZSET_H

#include "coll.h"

/* Redis's zset-max-listpack-entries / -value: past them the compact encoding
 * converts to the tree. */
#define ZS_COMPACT_MAX_ENTRIES 128u
#define ZS_COMPACT_MAX_VALUE   64u
#define ZS_MAXH 12 /* tree height bound: 2 * 21 * 12^10 minimum-filled elements > 2^32 */

/* Objects one element's write may release to a frozen view's graveyard: the
 * nodes of a delete and an insert path and the siblings they touch, a record
 * or a blob. */
#define ZS_RELEASES(h) (3u * ((uint32_t)(h)->aux[0] + 1u) + 2u)
_Static_assert(3u * (ZS_MAXH + 1u) + 2u <= KV_GRAVE_SLOTS, "one reservation fits a graveyard chunk");

/* What a reader reads. */
typedef struct zs_view {
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

/* ---- lifecycle */
/* Give an empty header (body 0) the encoding that suits `hint` elements of up
 * to `maxlen` bytes.  KV_OK or KV_ENOMEM. */
int         zs_init(kv_env *env, kv_chdr *h, size_t hint, size_t maxlen);
/* Free everything reachable from the body (no lock: the core calls it). */
void        zs_free(kv_env *env, const kv_chdr *h);
const char *zs_encoding(const kv_chdr *h); /* "listpack" / "skiplist" */
/* Deep copy of src (pinned or private) into the empty dst. */
int         zs_copy(kv_env *env, const kv_chdr *src, kv_chdr *dst);

/* ---- writes (under the lock, after kv_coll_mutate) */
#define ZS_OUT_NOP     1 /* refused by NX/XX/GT/LT */
#define ZS_OUT_ADDED   2
#define ZS_OUT_UPDATED 4
/* ZADD of one member with KV_ZADD_* flags (checked by the caller): *out gets
 * ZS_OUT_* (0: existed, score unchanged), *newscore the score it has (INCR).
 * KV_OK, KV_ENOTFLOAT (a NaN, or INCR reaching NaN), KV_ENOMEM (the region is
 * full; nothing changed). */
int zs_add(kv_env *env, kv_chdr *h, double score, const void *m, size_t mlen, unsigned flags,
           int *out, double *newscore);
/* A loader's insert (any order; the header may be empty): KV_ECORRUPT for a
 * repeated member or a NaN. */
int zs_insert(kv_env *env, kv_chdr *h, double score, const void *m, size_t mlen);
/* KV_OK (removed; *score its score if not NULL) or KV_NOTFOUND. */
int zs_del(kv_env *env, kv_chdr *h, const void *m, size_t mlen, double *score);
/* Remove the elements of ranks [first, first + n) (the caller bounds n and
 * reserved the graveyard for what they release: one blob in a compact zset,
 * ZS_RELEASES(h) per element in a tree, at most one chunk of KV_GRAVE_SLOTS
 * per kv_coll_mutate).  Their members and scores are appended to out if not
 * NULL, in rank order (rev: highest first).  KV_OK or KV_ENOMEM (nothing
 * removed). */
int zs_del_ranks(kv_env *env, kv_chdr *h, uint64_t first, uint64_t n, int rev, kv_elems *out);

/* ---- point reads (the live header, under the lock) */
int zs_score(kv_env *env, const kv_chdr *h, const void *m, size_t mlen, double *score);
int zs_rank(kv_env *env, const kv_chdr *h, const void *m, size_t mlen, uint64_t *rank,
            double *score);

/* ---- views and iteration */
void zs_view_of(const kv_chdr *h, zs_view *v);
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
void zs_at(kv_env *env, const zs_view *v, uint64_t r, zs_elem *e);

/* A range spec resolved to ranks: elements [first, first + n) of the view, in
 * order (rev: from first + n - 1 down).  KV_OK or KV_EINVAL (LIMIT by rank). */
int zs_resolve(kv_env *env, const zs_view *v, const kv_zrange_spec *s, bool use_limit,
               uint64_t *first, uint64_t *n);

/* ---- scans (the kind's scan op) */
/* ZSCAN of a live tree: Redis's reverse-binary cursor over the member index,
 * up to about count elements.  Under the lock or pinned. */
int zs_scan_index(kv_env *env, const kv_chdr *h, uint64_t *cursor, size_t count, kv_cemit_fn fn,
                  void *ctx);
/* A version that does not change during the scan (a save's frozen view):
 * count elements from rank *cursor, in order. */
int zs_scan_ranks(kv_env *env, const zs_view *v, uint64_t *cursor, size_t count, kv_cemit_fn fn,
                  void *ctx);

/* ---- algebra on copied-out sources (no lock) */
typedef struct zs_src {
	const kv_elems *e;   /* members with scores (sets: score 1) */
	double          weight;
} zs_src;
/* ZUNION / ZINTER / ZDIFF of n sources into out, sorted by (score, member),
 * with Redis's weight and aggregate rules.  KV_OK or KV_ENOMEM. */
int zs_algebra(kv_env *env, int op, zs_src *src, size_t n, int agg, kv_elems *out);

/* ---- helpers */
/* Order of (score, member) pairs as Redis orders zset elements. */
int zs_cmp(double sa, const void *ma, size_t la, double sb, const void *mb, size_t lb);
/* Tests: check every invariant of a live zset; 0 if sound, else a code
 * naming the first broken one. */
int zs_check(kv_env *env, const kv_chdr *h);

#endif /* SHARDKV_ZSET_H */
