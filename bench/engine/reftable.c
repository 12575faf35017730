/*
 * reftable.c -- the engine benchmark's reference: a tuned single-threaded
 * open-addressing hash table.
 *
 * HOW IT WORKS
 *   Slots are one uint64_t each: the high 32 bits are a tag taken from the top
 *   of the key's XXH3 hash, the low 32 bits the entry's offset in the arena in
 *   8-byte units (0 = empty slot, so the arena's first 8 bytes are never used).
 *   The home slot is hash & mask; collisions probe linearly, and the table
 *   doubles at a load of 3/4 (the benchmark presizes it, so it never grows in a
 *   timed loop).  A lookup touches one slot line and, on a tag match, the entry:
 *   two dependent cache misses, the least a pointer-to-entry table can do.
 *
 *   Entries are [u32 vlen][u16 klen][u16 spare][key][value], rounded up to 8
 *   bytes, bump-allocated from one reserved mapping (pages committed on first
 *   touch).  Freed entries go on a free list per size class (size / 8), so a
 *   value that changes size reuses memory of its new class.  A set of the same
 *   rounded size overwrites the entry in place.
 *
 *   There is no delete, no expiry, no type tag and no lock: this is the bar,
 *   not a product.  rt_mget hashes every key first, prefetches all slots, then
 *   all entries, then copies, which is what the engine's batch get is asked to
 *   do.  Snapshots use 1 MiB blocks with an XXH3 checksum each, and the same
 *   temp-file, fsync, rename, fsync-directory dance the engine does.
 */
#include "reftable.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#define RT_NCLASS     4096              /* free lists for entries up to 32 KiB */
#define RT_ARENA_MAX  ((size_t)32 << 30) /* 32-bit offsets in 8-byte units */
#define RT_MGET_CHUNK 32
#define RT_BLOCK      ((size_t)1 << 20)
#define RT_MAGIC      "SKVREF01"

typedef struct rt_entry {
	uint32_t vlen;
	uint16_t klen;
	uint16_t spare;
	/* key bytes, then value bytes */
} rt_entry;

struct rt_table {
	uint64_t *slots;
	size_t    mask;     /* capacity - 1 */
	size_t    count;
	size_t    max_load; /* grow when count would exceed it */
	char     *arena;    /* reserved mapping */
	size_t    arena_cap;
	size_t    arena_top; /* bytes bump-allocated so far (from 8) */
	size_t    free_bytes;
	int       huge;
	uint32_t  free_head[RT_NCLASS]; /* offset8 of first free entry, 0 = none */
};

static inline size_t entry_size(size_t klen, size_t vlen)
{
	return (sizeof(rt_entry) + klen + vlen + 7) & ~(size_t)7;
}

static inline rt_entry *entry_at(const rt_table *t, uint32_t off8)
{
	return (rt_entry *)(t->arena + (size_t)off8 * 8);
}

static inline char *entry_key(rt_entry *e)
{
	return (char *)(e + 1);
}

/* Anonymous memory, committed on first touch; huge pages asked for when
 * t->huge (transparent huge pages cut the TLB misses of random lookups). */
static void *map_mem(const rt_table *t, size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
	               -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	if (t->huge)
		madvise(p, size, MADV_HUGEPAGE);
	return p;
}

static uint64_t *slots_alloc(const rt_table *t, size_t cap)
{
	return map_mem(t, cap * sizeof(uint64_t));
}

static void slots_free(uint64_t *slots, size_t cap)
{
	if (slots)
		munmap(slots, cap * sizeof(uint64_t));
}

rt_table *rt_create(size_t expected, int huge_pages)
{
	rt_table *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->huge = huge_pages;
	size_t cap = 16;
	while (cap / 4 * 3 < expected)
		cap <<= 1;
	t->slots = slots_alloc(t, cap);
	t->mask = cap - 1;
	t->max_load = cap / 4 * 3;
	/* Reserve the whole 32-bit offset range (address space only), less if the
	 * kernel refuses. */
	for (t->arena_cap = RT_ARENA_MAX; t->arena_cap >= ((size_t)64 << 20); t->arena_cap /= 2)
		if ((t->arena = map_mem(t, t->arena_cap)) != NULL)
			break;
	if (!t->slots || !t->arena) {
		slots_free(t->slots, cap);
		free(t);
		return NULL;
	}
	t->arena_top = 8;
	return t;
}

void rt_destroy(rt_table *t)
{
	if (!t)
		return;
	munmap(t->arena, t->arena_cap);
	slots_free(t->slots, t->mask + 1);
	free(t);
}

void rt_buf_free(rt_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

static int buf_reserve(rt_buf *b, size_t need)
{
	if (need <= b->cap)
		return RT_OK;
	size_t cap = b->cap ? b->cap * 2 : 128;
	while (cap < need)
		cap *= 2;
	char *p = realloc(b->data, cap);
	if (!p)
		return RT_ENOMEM;
	b->data = p;
	b->cap = cap;
	return RT_OK;
}

/* Allocate an entry of `size` bytes (a multiple of 8); returns offset8 or 0. */
static uint32_t arena_alloc(rt_table *t, size_t size)
{
	size_t cls = size / 8;
	if (cls < RT_NCLASS && t->free_head[cls]) {
		uint32_t off8 = t->free_head[cls];
		memcpy(&t->free_head[cls], entry_at(t, off8), sizeof(uint32_t));
		t->free_bytes -= size;
		/* the next allocation of this class reads that entry's link: start
		 * its cache miss now rather than then */
		if (t->free_head[cls])
			__builtin_prefetch(entry_at(t, t->free_head[cls]), 1);
		return off8;
	}
	if (t->arena_top + size > t->arena_cap)
		return 0;
	uint32_t off8 = (uint32_t)(t->arena_top / 8);
	t->arena_top += size;
	return off8;
}

static void arena_free(rt_table *t, uint32_t off8, size_t size)
{
	size_t cls = size / 8;
	t->free_bytes += size;
	if (cls >= RT_NCLASS)
		return; /* large entries are not reused; the benchmark never makes them */
	memcpy(entry_at(t, off8), &t->free_head[cls], sizeof(uint32_t));
	t->free_head[cls] = off8;
}

static int grow(rt_table *t)
{
	size_t cap = (t->mask + 1) * 2;
	uint64_t *ns = slots_alloc(t, cap);
	if (!ns)
		return RT_ENOMEM;
	for (size_t i = 0; i <= t->mask; i++) {
		uint64_t s = t->slots[i];
		if (!s)
			continue;
		rt_entry *e = entry_at(t, (uint32_t)s);
		uint64_t h = XXH3_64bits(entry_key(e), e->klen);
		size_t j = h & (cap - 1);
		while (ns[j])
			j = (j + 1) & (cap - 1);
		ns[j] = s;
	}
	slots_free(t->slots, t->mask + 1);
	t->slots = ns;
	t->mask = cap - 1;
	t->max_load = cap / 4 * 3;
	return RT_OK;
}

/* Slot index holding key, or the empty slot where it would go. */
static inline size_t probe(const rt_table *t, const void *key, size_t klen, uint64_t h)
{
	uint32_t tag = (uint32_t)(h >> 32);
	size_t i = h & t->mask;
	for (;;) {
		uint64_t s = t->slots[i];
		if (s == 0)
			return i;
		if ((uint32_t)(s >> 32) == tag) {
			rt_entry *e = entry_at(t, (uint32_t)s);
			if (e->klen == klen && memcmp(entry_key(e), key, klen) == 0)
				return i;
		}
		i = (i + 1) & t->mask;
	}
}

int rt_set(rt_table *t, const void *key, size_t klen, const void *val, size_t vlen)
{
	if (klen > UINT16_MAX || vlen > UINT32_MAX)
		return RT_ENOMEM;
	uint64_t h = XXH3_64bits(key, klen);
	size_t i = probe(t, key, klen, h);
	uint64_t s = t->slots[i];
	size_t size = entry_size(klen, vlen);
	if (s) {
		rt_entry *e = entry_at(t, (uint32_t)s);
		size_t old = entry_size(klen, e->vlen);
		if (old == size) { /* same size class: overwrite in place */
			e->vlen = (uint32_t)vlen;
			memcpy(entry_key(e) + klen, val, vlen);
			return RT_OK;
		}
		uint32_t off8 = arena_alloc(t, size);
		if (!off8)
			return RT_ENOMEM;
		rt_entry *n = entry_at(t, off8);
		n->vlen = (uint32_t)vlen;
		n->klen = (uint16_t)klen;
		n->spare = 0;
		memcpy(entry_key(n), key, klen);
		memcpy(entry_key(n) + klen, val, vlen);
		t->slots[i] = (s & 0xffffffff00000000u) | off8;
		arena_free(t, (uint32_t)s, old);
		return RT_OK;
	}
	if (t->count + 1 > t->max_load) {
		if (grow(t) != RT_OK)
			return RT_ENOMEM;
		i = probe(t, key, klen, h);
	}
	uint32_t off8 = arena_alloc(t, size);
	if (!off8)
		return RT_ENOMEM;
	rt_entry *n = entry_at(t, off8);
	n->vlen = (uint32_t)vlen;
	n->klen = (uint16_t)klen;
	n->spare = 0;
	memcpy(entry_key(n), key, klen);
	memcpy(entry_key(n) + klen, val, vlen);
	t->slots[i] = (h & 0xffffffff00000000u) | off8;
	t->count++;
	return RT_OK;
}

int rt_get(rt_table *t, const void *key, size_t klen, rt_buf *out)
{
	uint64_t h = XXH3_64bits(key, klen);
	uint32_t tag = (uint32_t)(h >> 32);
	size_t i = h & t->mask;
	for (;;) {
		uint64_t s = t->slots[i];
		if (s == 0) {
			out->len = 0;
			return RT_NOTFOUND;
		}
		if ((uint32_t)(s >> 32) == tag) {
			rt_entry *e = entry_at(t, (uint32_t)s);
			if (e->klen == klen && memcmp(entry_key(e), key, klen) == 0) {
				size_t vlen = e->vlen;
				if (vlen + 1 > out->cap && buf_reserve(out, vlen + 1) != RT_OK)
					return RT_ENOMEM;
				memcpy(out->data, entry_key(e) + klen, vlen);
				out->data[vlen] = 0;
				out->len = vlen;
				return RT_OK;
			}
		}
		i = (i + 1) & t->mask;
	}
}

/*
 * Prefetch the cache lines of an entry's first 128 bytes without reading its
 * header (which is what the prefetch waits for).  An 8-aligned 120-byte entry
 * (the benchmark's 11-byte key and 100-byte value) spans three lines 7 times out
 * of 8; fetching only two leaves a demand miss per key, which halves the rate of
 * a batch get.
 */
static inline void prefetch_entry(const void *e)
{
	const char *p = (const char *)((uintptr_t)e & ~(uintptr_t)63);
	const char *end = (const char *)e + 128;
	for (; p < end; p += 64)
		__builtin_prefetch(p);
}

int rt_mget(rt_table *t, rt_item *items, size_t n, rt_buf *arena)
{
	int found = 0;
	arena->len = 0;
	for (size_t base = 0; base < n; base += RT_MGET_CHUNK) {
		size_t m = n - base < RT_MGET_CHUNK ? n - base : RT_MGET_CHUNK;
		rt_item *it = items + base;
		uint64_t h[RT_MGET_CHUNK];
		size_t pos[RT_MGET_CHUNK];
		/* 1: hash every key and prefetch its home slot. */
		for (size_t j = 0; j < m; j++) {
			h[j] = XXH3_64bits(it[j].key, it[j].klen);
			__builtin_prefetch(&t->slots[h[j] & t->mask]);
		}
		/* 2: find the first tag match and prefetch its entry. */
		for (size_t j = 0; j < m; j++) {
			uint32_t tag = (uint32_t)(h[j] >> 32);
			size_t i = h[j] & t->mask;
			pos[j] = SIZE_MAX;
			for (;;) {
				uint64_t s = t->slots[i];
				if (s == 0)
					break;
				if ((uint32_t)(s >> 32) == tag) {
					pos[j] = i;
					prefetch_entry(entry_at(t, (uint32_t)s));
					break;
				}
				i = (i + 1) & t->mask;
			}
		}
		/* 3: verify and copy; a tag collision falls back to probing on. */
		for (size_t j = 0; j < m; j++) {
			size_t i = pos[j];
			rt_entry *e = NULL;
			if (i != SIZE_MAX) {
				uint32_t tag = (uint32_t)(h[j] >> 32);
				for (;;) {
					uint64_t s = t->slots[i];
					if (s == 0)
						break;
					if ((uint32_t)(s >> 32) == tag) {
						rt_entry *c = entry_at(t, (uint32_t)s);
						if (c->klen == it[j].klen &&
						    memcmp(entry_key(c), it[j].key, it[j].klen) == 0) {
							e = c;
							break;
						}
					}
					i = (i + 1) & t->mask;
				}
			}
			if (!e) {
				it[j].status = RT_NOTFOUND;
				it[j].off = arena->len;
				it[j].len = 0;
				continue;
			}
			size_t vlen = e->vlen;
			if (arena->len + vlen > arena->cap && buf_reserve(arena, arena->len + vlen) != RT_OK)
				return RT_ENOMEM;
			memcpy(arena->data + arena->len, entry_key(e) + e->klen, vlen);
			it[j].status = RT_OK;
			it[j].off = arena->len;
			it[j].len = vlen;
			arena->len += vlen;
			found++;
		}
	}
	return found;
}

void rt_stats_get(const rt_table *t, rt_stats *out)
{
	out->keys = t->count;
	out->slot_bytes = (t->mask + 1) * sizeof(uint64_t);
	out->arena_bytes = t->arena_top - 8;
	out->free_bytes = t->free_bytes;
}

/* ---------------------------------------------------------------- snapshots */

static int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n) {
		ssize_t w = write(fd, c, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return RT_EIO;
		}
		c += w;
		n -= (size_t)w;
	}
	return RT_OK;
}

/* RT_OK, RT_ECORRUPT on a short file, RT_EIO. */
static int read_all(int fd, void *p, size_t n)
{
	char *c = p;
	while (n) {
		ssize_t r = read(fd, c, n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return RT_EIO;
		}
		if (r == 0)
			return RT_ECORRUPT;
		c += r;
		n -= (size_t)r;
	}
	return RT_OK;
}

/* Block: [u32 payload_len][u32 entries][payload][u64 XXH3 of the 8 + payload bytes]. */
static int flush_block(int fd, rt_buf *b, uint32_t entries)
{
	uint32_t plen = (uint32_t)(b->len - 8);
	memcpy(b->data, &plen, 4);
	memcpy(b->data + 4, &entries, 4);
	uint64_t sum = XXH3_64bits(b->data, b->len);
	memcpy(b->data + b->len, &sum, 8); /* the buffer always has 8 spare bytes */
	int rc = write_all(fd, b->data, b->len + 8);
	b->len = 8;
	return rc;
}

static int fsync_dir_of(const char *path)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	if (!slash) {
		strcpy(dir, ".");
	} else {
		size_t n = (size_t)(slash - path);
		if (n == 0)
			n = 1;
		if (n >= sizeof(dir))
			return RT_EIO;
		memcpy(dir, path, n);
		dir[n] = 0;
	}
	int fd = open(dir, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return RT_EIO;
	int rc = fsync(fd) == 0 ? RT_OK : RT_EIO;
	close(fd);
	return rc;
}

int rt_save(rt_table *t, const char *path)
{
	char tmp[4096];
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return RT_EIO;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return RT_EIO;
	rt_buf b = RT_BUF_INIT;
	int rc = buf_reserve(&b, RT_BLOCK + 16);
	char head[16];
	uint64_t count = t->count;
	memcpy(head, RT_MAGIC, 8);
	memcpy(head + 8, &count, 8);
	if (rc == RT_OK)
		rc = write_all(fd, head, sizeof(head));
	b.len = 8;
	uint32_t entries = 0;
	/* Walk the slots in order; entries are scattered in the arena, so keep
	 * 16 entry prefetches in flight ahead of the copy. */
	enum { DEPTH = 16 };
	rt_entry *ring[DEPTH];
	size_t head_i = 0, tail_i = 0;
	for (size_t i = 0; rc == RT_OK && i <= t->mask + DEPTH; i++) {
		if (i <= t->mask) {
			uint64_t s = t->slots[i];
			if (!s)
				continue;
			rt_entry *e = entry_at(t, (uint32_t)s);
			prefetch_entry(e);
			ring[head_i++ % DEPTH] = e;
			if (head_i - tail_i < DEPTH)
				continue;
		} else if (tail_i == head_i) {
			break;
		}
		rt_entry *e = ring[tail_i++ % DEPTH];
		size_t need = 6 + (size_t)e->klen + e->vlen;
		if (b.len + need > RT_BLOCK + 8 && entries) {
			rc = flush_block(fd, &b, entries);
			entries = 0;
			if (rc != RT_OK)
				break;
		}
		if (b.len + need + 8 > b.cap && (rc = buf_reserve(&b, b.len + need + 8)) != RT_OK)
			break;
		uint16_t kl = e->klen;
		uint32_t vl = e->vlen;
		char *p = b.data + b.len;
		memcpy(p, &kl, 2);
		memcpy(p + 2, &vl, 4);
		memcpy(p + 6, entry_key(e), (size_t)kl + vl);
		b.len += need;
		entries++;
	}
	if (rc == RT_OK && entries)
		rc = flush_block(fd, &b, entries);
	if (rc == RT_OK)
		rc = flush_block(fd, &b, 0); /* empty block: end of file */
	if (rc == RT_OK && fsync(fd) != 0)
		rc = RT_EIO;
	if (close(fd) != 0 && rc == RT_OK)
		rc = RT_EIO;
	rt_buf_free(&b);
	if (rc == RT_OK && rename(tmp, path) != 0)
		rc = RT_EIO;
	if (rc == RT_OK)
		rc = fsync_dir_of(path);
	if (rc != RT_OK) {
		int e = errno;
		unlink(tmp);
		errno = e;
	}
	return rc;
}

int rt_load(const char *path, int huge_pages, rt_table **out)
{
	*out = NULL;
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return RT_EIO;
	char head[16];
	uint64_t count = 0, seen = 0;
	rt_table *t = NULL;
	rt_buf b = RT_BUF_INIT;
	int rc = read_all(fd, head, sizeof(head));
	if (rc == RT_OK && memcmp(head, RT_MAGIC, 8) != 0)
		rc = RT_ECORRUPT;
	if (rc == RT_OK) {
		memcpy(&count, head + 8, 8);
		if (count > ((uint64_t)1 << 32))
			rc = RT_ECORRUPT;
	}
	if (rc == RT_OK && !(t = rt_create((size_t)count, huge_pages)))
		rc = RT_ENOMEM;
	for (;;) {
		if (rc != RT_OK)
			break;
		uint32_t plen, entries;
		if ((rc = buf_reserve(&b, 8)) != RT_OK || (rc = read_all(fd, b.data, 8)) != RT_OK)
			break;
		memcpy(&plen, b.data, 4);
		memcpy(&entries, b.data + 4, 4);
		if (plen > (64u << 20)) {
			rc = RT_ECORRUPT;
			break;
		}
		if ((rc = buf_reserve(&b, 16 + (size_t)plen)) != RT_OK ||
		    (rc = read_all(fd, b.data + 8, (size_t)plen + 8)) != RT_OK)
			break;
		uint64_t sum;
		memcpy(&sum, b.data + 8 + plen, 8);
		if (sum != XXH3_64bits(b.data, 8 + (size_t)plen)) {
			rc = RT_ECORRUPT;
			break;
		}
		if (plen == 0) { /* end block */
			if (entries != 0 || seen != count)
				rc = RT_ECORRUPT;
			break;
		}
		const char *p = b.data + 8, *end = p + plen;
		for (uint32_t k = 0; k < entries && rc == RT_OK; k++) {
			uint16_t kl;
			uint32_t vl;
			if (end - p < 6) {
				rc = RT_ECORRUPT;
				break;
			}
			memcpy(&kl, p, 2);
			memcpy(&vl, p + 2, 4);
			if ((size_t)(end - p - 6) < (size_t)kl + vl) {
				rc = RT_ECORRUPT;
				break;
			}
			rc = rt_set(t, p + 6, kl, p + 6 + kl, vl);
			p += 6 + (size_t)kl + vl;
		}
		if (rc == RT_OK && p != end)
			rc = RT_ECORRUPT;
		seen += entries;
	}
	close(fd);
	rt_buf_free(&b);
	if (rc != RT_OK) {
		rt_destroy(t);
		return rc;
	}
	*out = t;
	return RT_OK;
}
