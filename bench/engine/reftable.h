/*
 * reftable.h -- the reference table the engine benchmark is judged against.
 *
 * A simple, tuned, single-threaded open-addressing hash table: XXH3 hashes,
 * linear probing over 8-byte slots (32-bit hash tag + 32-bit arena offset in
 * 8-byte units), entries (header, key, value) in one bump arena with
 * per-size-class free lists.  No locks, no expiry, no type tags: it is the
 * fastest thing a C programmer would reasonably write by hand, so the engine's
 * ratio against it shows what sharding, locking and the rest of the contract
 * cost.  See reftable.c for the design notes.
 */
#ifndef SHARDKV_BENCH_REFTABLE_H
#define SHARDKV_BENCH_REFTABLE_H

#include <stddef.h>
#include <stdint.h>

#define RT_OK        0
#define RT_NOTFOUND  (-1)
#define RT_ENOMEM    (-2)
#define RT_EIO       (-3)
#define RT_ECORRUPT  (-4)

typedef struct rt_table rt_table;

/* Growable caller-owned output buffer (the reference's kv_buf). */
typedef struct rt_buf {
	char  *data;
	size_t len;
	size_t cap;
} rt_buf;
#define RT_BUF_INIT {NULL, 0, 0}
void rt_buf_free(rt_buf *b);

/* One item of rt_mget: key in, value location in the arena out. */
typedef struct rt_item {
	const void *key;
	size_t      klen;
	int         status; /* RT_OK or RT_NOTFOUND */
	size_t      off;    /* value at arena->data[off .. off + len) */
	size_t      len;
} rt_item;

typedef struct rt_stats {
	uint64_t keys;
	uint64_t slot_bytes;  /* the slot array */
	uint64_t arena_bytes; /* bump-allocated entry bytes, free-listed ones included */
	uint64_t free_bytes;  /* of arena_bytes, on free lists */
} rt_stats;

/*
 * A table sized for `expected` keys without growing (0: it grows as it fills).
 * huge_pages: madvise(MADV_HUGEPAGE) its slots and arena.  NULL when out of memory.
 */
rt_table *rt_create(size_t expected, int huge_pages);
void      rt_destroy(rt_table *t);

/* Insert or overwrite.  RT_OK or RT_ENOMEM. */
int rt_set(rt_table *t, const void *key, size_t klen, const void *val, size_t vlen);

/* Copy the value into *out (NUL-terminated, like kv_buf).  RT_OK, RT_NOTFOUND, RT_ENOMEM. */
int rt_get(rt_table *t, const void *key, size_t klen, rt_buf *out);

/*
 * Look up n keys at once: hash all, prefetch slots, prefetch entries, then copy
 * the values back to back into arena (whose len is reset to 0 first).  Returns
 * the number found, or RT_ENOMEM.
 */
int rt_mget(rt_table *t, rt_item *items, size_t n, rt_buf *arena);

void rt_stats_get(const rt_table *t, rt_stats *out);

/*
 * Snapshot: a little-endian file of 1 MiB blocks, each with an XXH3 checksum,
 * written to "<path>.tmp", fsynced, renamed over path, directory fsynced.
 * RT_OK, RT_EIO (errno is kept), RT_ENOMEM.
 */
int rt_save(rt_table *t, const char *path);

/* Read and verify a snapshot into a new table.  RT_OK, RT_EIO, RT_ECORRUPT, RT_ENOMEM. */
int rt_load(const char *path, int huge_pages, rt_table **out);

#endif /* SHARDKV_BENCH_REFTABLE_H */
