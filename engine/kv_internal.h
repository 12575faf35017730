/*
 * kv_internal.h -- the engine's single internal header: region layout, locks,
 * hashing, and the prototypes every engine file shares.
 *
 * REGION LAYOUT
 *   [ struct kv_region | ns slots | page descriptors | pages ... ]
 *   Everything after the header is addressed by kv_off: a 32-bit offset from the
 *   region base in 8-byte units (0 means none), so a region may be mapped at any
 *   address.  Pages are 64 KiB.  A page is free, a slab of one size class, part of
 *   a large allocation, or a shard-header page.
 *
 * SAFE OPTIMISTIC READS
 *   Readers take no lock.  They read a shard's seq (even = stable), read, then
 *   check seq again; a writer makes seq odd while it changes the shard.  A reader
 *   racing a writer may follow an offset to memory that was just freed and reused.
 *   That is harmless because (1) the region is never unmapped while a handle is
 *   open, and (2) every offset and length a reader derives is bounds-checked against
 *   the region before it is touched, so garbage can only produce a wrong answer,
 *   which the seq check then throws away.  Shard headers, which writers lock, live
 *   on pages that never change kind, so a stale pointer to one still points at a
 *   lock word.
 *
 *   What is checked once, and what on every call.  A handle keeps a resolved
 *   view of its namespace (struct kv_ns, below): the shard headers and route
 *   table of one gen, bounds- and kind-checked when the view is published.  The
 *   single-key paths (kv_get, kv_set) check the slot's gen against the view's,
 *   then index the route table and the view's shard array with no further
 *   checks, and validate seq and gen at the end as before.  Per call they still
 *   check what can change within a gen: the shard's slot array against the
 *   region (one compare: a table doubling swaps it), each candidate entry's
 *   header and key against a per-call limit, then its value, and the value's
 *   fit in the caller's buffer.
 *
 * LOCK ORDER (see also shard.c)
 *   env admin lock  >  shard locks in (namespace slot, shard index) order  >
 *   page-allocator lock.  The collections' reap_lock (coll.c) is a leaf: held
 *   only to push or take the list head.  Nothing is called outside the engine
 *   while any is held, except a namespace's redo function (kv.h REDO LOG),
 *   which may not call in.
 *
 * WHAT A LOCK MAY HOLD (DESIGN: "Locks hold bounded work only")
 *   Nothing whose cost a caller chooses runs under an engine lock: no glob, no
 *   callback, no host allocation, no hook.  Every section that holds a lock, and
 *   its bound (n = shards of the namespace, at most KV_MAX_SHARDS):
 *
 *   section (file)            lock                bound                         why it is enough
 *   kv_scan, one hold         one shard           256 buckets and their cluster; matching, values over 512 B and the
 *     (scan.c)                                    ~64 KiB of keys (+ one key)   callback run after; more holds honour count
 *   kv_ns_flush               all n shards        O(n): tables are swapped;     entries are freed after the locks; a shard a
 *     (namespace.c)                               O(keys) for a shard a         snapshot is copying must keep pre-images
 *                                                 snapshot is copying
 *   kv_ns_drop, kv_shards_    admin, then each    O(n) table detaches           entries freed after the admin lock
 *     retire (namespace.c)    shard in turn
 *   kv_ns_create/configure/   admin               O(n) shard headers + a        configuration, not input
 *     list (namespace.c)                          64 Ki-entry route table
 *   kv_lockset_lock           shards ascending    a stale lock is held only     gen is checked after each lock, so no
 *     (namespace.c)                               for its gen check             waiting while holding a stale one; held,
 *                                                                               every key's owner is a held shard
 *                                                                               (kv_lockset_shard: the lock-time view)
 *   kv_make_room_locked       the writer's        <= 16 victims, each from a    a write that needs more fails with the
 *     (evict.c)               shard(s); others    1024-slot window; at most n   limit error; other shards only trylocked
 *                             by trylock (a       trylocks                      (a batch keeps one it evicted from until
 *                             batch keeps them)                                 it commits: its undo log may restore it)
 *   sweep_shard (tick.c)      one shard           tick budget * 8 slots,        kv_tick's budget; 16 is the pre-image
 *                                                 <= 16 removals, hook or not   room a running save's copy needs
 *   batch_atomic (batch.c)    the batch's shards  O(items + their bytes)        all-or-nothing needs every item under the
 *                                                                               locks.  KNOWN GAP: the caller chooses n
 *                                                                               (a 1M-key MSET holds its shards for the
 *                                                                               whole batch); only the HTTP door caps it
 *   grow_locked (shard.c)     one shard           O(table) on a doubling:       amortised O(1) a write; readers go on during
 *                                                 up to 2^28 slots (~45 ms for  the rehash (only the swap is a write section);
 *                                                 2^20 here)                    KNOWN GAP: writers of the shard wait, it is
 *                                                                               not incremental like Redis's rehash
 *   migrate_step (resize,     an old shard + the  64 home buckets and their     steps resume from a hash watermark
 *     namespace.c)            new shards its keys cluster                       (kv_shard.mig_hash) that routing honours
 *                             move to
 *   kv_pages_alloc/free       palloc              O(free runs) first fit        coalescing keeps the runs few
 *     (region.c)
 *   slab class (region.c)     class lock          O(1); slab_trim O(classes)
 *   kv_carve_alloc/done       class lock, palloc  O(1) per page carved or      a load's builders carve pages privately:
 *     (region.c)                                  handed back (per class)       no lock per entry
 *   kv_free of a large value  palloc              O(1): a run is freed by its   deleting a 512 MiB value clears nothing
 *     (region.c)                                  boundary tags
 *   kv_put_locked (write.c)   one shard           O(1) to link an entry built   values over KV_LOCKED_COPY_MAX (4 KiB) are
 *                                                 before the lock; a value <=   copied before the lock (kv_prebuild: SET,
 *                                                 4 KiB copied or compared;     APPEND, SETRANGE, EXPIRE/PERSIST, RENAME);
 *                                                 in place: the new bytes only  built from an old value, linked only if
 *                                                                               it is unchanged (bigseq, write.c); SET's
 *                                                                               old value and CONSUME's are copied out
 *                                                                               before it the same way (kv_preread).
 *                                                                               KNOWN GAP, O(value) under the lock: the
 *                                                                               fallback after 4 refused builds (a big
 *                                                                               value rewritten all the time), a full
 *                                                                               region (built after eviction), a get's
 *                                                                               locked retry after 64 failed optimistic
 *                                                                               reads
 *   kv_set's fast path        one shard           a find and an in-place copy   only values <= KV_LOCKED_COPY_MAX, no limit
 *     (set_fast, ops.c)                           of <= 4 KiB, or a new entry   set that could evict, no doubling due, no
 *                                                 of <= 4 KiB allocated (class  snapshot or redo log; anything else hands
 *                                                 lock, O(1)), filled, linked   the lock to kv_put_locked's path
 *   kv_view_refresh           the handle's vlock  O(n) shard headers checked  once per namespace gen per handle; no engine
 *     (namespace.c)           (process-local)     and copied into the view      lock is held, the host allocator is called
 *                                                                               only to grow the view's array (to n slots)
 *   kv_random_key (ops.c)     one shard at a time 32 random slots, then         a sparse or all-expired table is walked in
 *                                                 1024-slot windows per hold    holds from a random point (ops.c)
 *   kv_rename (ops.c)         two shards          as kv_put_locked              its lock set is allocated, not on the stack
 *   snapshot cut (snapshot.c) admin + all shards  O(shards): marks each shard   one lock round
 *                                                 snap_pending
 *   redo record (redo.c)      the writer's        O(key + value) for a PUT,     the host's redo function (kv.h REDO LOG)
 *                             shard(s); a flush:  O(key + bytes written) for a  copies the record into its log; that is the
 *                             all of them         PATCH, O(key) otherwise, plus one call out under a lock, so that log
 *                                                 the host's copy (PostgreSQL:  order is apply order.  KNOWN GAP: a SET
 *                                                 XLogInsert, which may wait    of a big value copies it into the log
 *                                                 for WAL buffer space)         under the lock (~0.3 s for 512 MiB)
 *   collection redo records   the key's shard     one record O(key + element)   a point write logs one record per element
 *   (redo.c, kinds)                               per element changed: the      it changed; a ZREMRANGE/ZPOP hold at most
 *                                                 call's own bound; at most     KV_COLL_HOLD.  A collection linked whole
 *                                                 KV_COLL_HOLD per hold for a   (STORE, COPY, MOVE): a DEL under the
 *                                                 linked collection's fill      linking lock, then its elements in holds
 *                                                 or a big SPOP's removals      of KV_COLL_HOLD (kv_redo_fill), pinned; a
 *                                                                               big SPOP's popped members likewise
 *                                                                               (kv_redo_removed); RENAME: one record
 *   list redo records         the key's shard     one record O(key + element)   the same bound as the change itself: a push
 *   (redo.c, lists.c)                             per element pushed, set or    of n values logs n LINS, an LREM one LDEL per
 *                                                 removed by LREM; one O(key)   element removed, a pop of any count or an
 *                                                 record per pop or LTRIM       LTRIM one record; a linked list's fill as
 *                                                                               collections (KV_COLL_HOLD LINS per hold)
 *   snapshot copy             one shard           1024 home slots (+ their      values are serialised with no lock: an
 *     (visit_shard)                               cluster) or 1024 pre-images   entry of the cut is immutable while its
 *                                                 per hold                      shard is pending (snapshot.c); a
 *                                                                               collection is frozen (O(1)) when collected
 *                                                                               and serialised with no lock (coll.h 5)
 *   save file reservation     its mutex (not an   O(1): the next block's file   never taken with an engine lock held; the
 *     (out_put, snapshot.c)   engine lock)        offset and its 16-byte        block is written after it is released, so
 *                                                 header hashed                 a thread never waits for another's write
 *   zset element write        the key's shard     O(log n) descent + path       nodes a write may need are reserved first
 *     (zs_add, zs_del;                            copies, 64 old buckets of     (spare list), so a full region fails
 *     zset.c, zset_api.c)                         incremental rehash; compact:  before any change; ZADD/ZREM of m
 *                                                 one blob <= ~9 KB rewritten   members: m of these
 *   zset index shrink         the key's shard     <= 1024 records relinked      only when the zset falls to 1024
 *     (idx_resize)                                                              elements
 *   ZREMRANGE*, ZPOP          the key's shard     <= KV_COLL_HOLD removals per  more in further holds (not atomic past
 *     (zs_del_ranks)                              hold (64 while a save's view  one hold); ZPOP copies into caller
 *                                                 is frozen), O(log n) each     memory grown before the lock
 *   ZRANGE, ZRANDMEMBER,      the key's shard,    O(log n) to find the ranks,   the copy runs pinned with no lock (coll.h
 *     algebra sources           then a pin        then O(1) to pin              4): writers of that key wait for it
 *   ZRANGESTORE, Z*STORE      the dst's shard     O(1): kv_coll_replace links   the result is built with no lock
 *                                                 a private header
 *   list calls (lists.c)      the key's shard     O(elements given or asked     push/pop of n, LPOP's count: the caller's
 *                             (LMOVE: both keys'  for), each O(1) at an end;    n, as MSET's.  An element over 8 KB has a
 *                             shards)             LINDEX/LSET/LINSERT's change  chunk of its own: a push builds it before
 *                                                 O(n/(chunk*509) + 509 +       the lock, a pop of one unlinks it and
 *                                                 one 8 KB chunk); reads copy   copies after, LINDEX/LRANGE copy it pinned.
 *                                                 at most 64 KB under it        KNOWN GAP: LSET, LINSERT, LMOVE, a pop with
 *                                                                               a count or during a save copy it under it
 *   LRANGE over KV_COLL_HOLD  none: pinned        -                             coll.h PINS: writers of that key wait (no
 *     elements, LPOS, LREM's                                                    lock held) for the copy or search; a write
 *     and LINSERT's searches                                                    after its search relocks and checks the
 *     (lists.c)                                                                 header and version it searched
 *   LREM's removal (list.c    the key's shard     one rewrite (<= 8 KB) per     KNOWN GAP: LREM 0 of a value most elements
 *     delete_positions)                           chunk holding a match         hold rewrites that many chunks under it
 *   LTRIM, a pop of many      the key's shard     O(directories removed + one   whole directories and chunks move into a
 *     (list.c delete_end)                         directory + one chunk)        graveyard node freed after the unlock; while
 *                                                                               a save is pending, O(nodes removed) are
 *                                                                               handed to its graveyard one by one
 *   collection point call     the key's shard     O(n) dict operations for n    n is the call's own argument count; each
 *     (hash.c, set.c, dict.c)                     arguments, each O(1): a       step is bounded by constants, never by
 *                                                 listpack rewrite <= 17 KiB,   the collection's size, except the
 *                                                 its conversion O(128), a      directory doubling: KNOWN GAP, O(size/160)
 *                                                 segment split O(255)          4-byte words copied (64 KiB at ~3M
 *                                                                               elements), amortised O(1) per insert
 *   collection whole read     the key's shard     O(1): pin (a reference and    the copy runs with no lock; writers of that
 *     (coll.c: HGETALL,                           the pin count), then unlock   key alone wait for it with no lock held
 *     SMEMBERS, cscan, COPY,                                                    (kv_coll_open); other keys never wait
 *     RANDFIELD, set algebra)
 *   set algebra, SMOVE        the keys' shards    O(keys): find, check kind,    results are computed with no lock; a STORE
 *     (set.c)                 (lockset)           pin each source               replaces dst's entry in O(1) (kv_coll_replace)
 *   SPOP count (set.c)        the key's shard     <= KV_COLL_HOLD picks and     a bigger count builds the survivors with no
 *                                                 removals                      lock (pinned) and swaps them in, O(1)
 *   copy-on-write for a save  the key's shard     one segment (2 KiB) and the   once per object per save: a frozen object is
 *     (coll.c, dict.c)                            directory per first touch     copied, the original kept in the graveyard
 *   freeing a collection      none (reap list:    O(1) under reap_lock to push  a dead body or graveyard is freed after the
 *     (coll.c kv_coll_reap)   O(1) pushes/pops)   or take the whole list        unlock by the next kv_wctx_emit/reap call
 */
#ifndef SHARDKV_KV_INTERNAL_H
#define SHARDKV_KV_INTERNAL_H

#include "kv.h"

#include <locale.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#define KV_REGION_MAGIC   0x4b56444bu /* "KDVK" */
#define KV_LAYOUT_VERSION 5u /* bump on any change to the structs in the region */

#define KV_UNIT       8u
#define KV_PAGE_SHIFT 16
#define KV_PAGE_SIZE  ((size_t)1 << KV_PAGE_SHIFT)
#define KV_UNITS_PER_PAGE (KV_PAGE_SIZE / KV_UNIT)

#define KV_NCLASSES    48      /* slab size classes, 8 B .. 32 KiB */
#define KV_SLAB_MAX    32768u  /* larger objects take whole pages */
#define KV_SHARD_SIZE  512u    /* bytes per shard header (type-stable) */
#define KV_DEFAULT_MAX_VALUE ((uint32_t)512 << 20)
/* Values longer than this are not copied under a shard lock by single-key
 * writes: the new entry is built first (kv_prebuild) and only linked under it. */
#define KV_LOCKED_COPY_MAX 4096u

/* Tiny helpers are always inlined, so they take on their caller's sanitizer
 * treatment (an optimistic reader's copy is not instrumented). */
#define KV_INLINE static inline __attribute__((always_inline))

#define KV_LIKELY(x)   __builtin_expect(!!(x), 1)
#define KV_UNLIKELY(x) __builtin_expect(!!(x), 0)


/* Under ThreadSanitizer, optimistic readers copy and compare with plain loops:
 * they are not instrumented (KV_RACY), but libc's memcpy and memcmp are
 * intercepted, and would report the races the seqlock exists to tolerate. */
#if defined(__SANITIZE_THREAD__)
#define KV_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define KV_TSAN 1
#endif
#endif
/* Functions that read memory a writer may be changing (validated by seqlock).
 * Under TSan they also stay out of line: inlined into an instrumented caller,
 * their body would be instrumented after all. */
#ifdef KV_TSAN
#define KV_RACY          __attribute__((no_sanitize("thread"), noinline))
#define KV_RACY_INLINE   static __attribute__((unused, no_sanitize("thread"), noinline))
#define KV_ALWAYS_INLINE
#else
#define KV_RACY          __attribute__((no_sanitize("thread")))
#define KV_RACY_INLINE   static inline __attribute__((no_sanitize("thread")))
#define KV_ALWAYS_INLINE __attribute__((always_inline))
#endif

#ifdef KV_TSAN
KV_RACY_INLINE void kv_racy_copy(void *dst, const void *src, size_t n)
{
	char *d = dst;
	const volatile char *s = src;
	while (n--)
		*d++ = *s++;
}
KV_RACY_INLINE int kv_racy_cmp(const void *a, const void *b, size_t n)
{
	const volatile unsigned char *x = a, *y = b;
	for (; n; n--, x++, y++)
		if (*x != *y)
			return *x < *y ? -1 : 1;
	return 0;
}
#else
#define kv_racy_copy memcpy
#define kv_racy_cmp  memcmp
#endif

/* kv_racy_copy for the read fast paths: up to 128 bytes inline as overlapping
 * 16-, 8-, 4- or 1-byte moves.  No call, so the caller's live values stay in
 * caller-saved registers instead of being spilled around memcpy (a get's 100
 * bytes: 16 moves and 3 compares against memcpy's 21 plus the call's setup).
 * Longer values call memcpy. */
#ifdef KV_TSAN
#define kv_racy_copy_short kv_racy_copy
#else
KV_INLINE void kv_racy_copy_short(void *dst, const void *src, size_t n)
{
	char *d = dst;
	const char *s = src;
	if (n > 64) {
		if (KV_UNLIKELY(n > 128)) {
			memcpy(d, s, n);
			return;
		}
		memcpy(d, s, 16); memcpy(d + 16, s + 16, 16);
		memcpy(d + 32, s + 32, 16); memcpy(d + 48, s + 48, 16);
		d += n - 64, s += n - 64;
		memcpy(d, s, 16); memcpy(d + 16, s + 16, 16);
		memcpy(d + 32, s + 32, 16); memcpy(d + 48, s + 48, 16);
	} else if (n > 32) {
		memcpy(d, s, 16); memcpy(d + 16, s + 16, 16);
		memcpy(d + n - 32, s + n - 32, 16); memcpy(d + n - 16, s + n - 16, 16);
	} else if (n >= 16) {
		memcpy(d, s, 16); memcpy(d + n - 16, s + n - 16, 16);
	} else if (n >= 8) {
		memcpy(d, s, 8); memcpy(d + n - 8, s + n - 8, 8);
	} else if (n >= 4) {
		memcpy(d, s, 4); memcpy(d + n - 4, s + n - 4, 4);
	} else if (n) {
		d[0] = s[0], d[n / 2] = s[n / 2], d[n - 1] = s[n - 1];
	}
}
#endif

/* The policies whose readers set a slot's KV_SLOT_REF bit. */
KV_INLINE bool kv_evict_lru(int pol)
{
	return pol == KV_EVICT_ALLKEYS_LRU || pol == KV_EVICT_VOLATILE_LRU;
}

/* A reader-written statistic (kv_shard.hits, misses): racing increments may
 * lose a count, as relaxed loads and stores would; on x86-64 one instruction. */
KV_INLINE void kv_stat_inc(_Atomic uint64_t *c)
{
#if defined(__x86_64__) && !defined(KV_TSAN)
	__asm__("addq $1, %0" : "+m"(*(uint64_t *)c));
#else
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1, memory_order_relaxed);
#endif
}

/* A hint read without the lock that guards the value (re-checked under it). */
KV_RACY_INLINE uint64_t kv_racy_u64(const uint64_t *p)
{
	return *(const volatile uint64_t *)p;
}

/* gcc's ThreadSanitizer refuses atomic_thread_fence.  Sanitizer builds then use a
 * compiler barrier, which is enough on x86 (TSO keeps loads and stores in order);
 * release builds use the real fences. */
#if defined(__SANITIZE_THREAD__)
#define KV_FENCE(order) __asm__ __volatile__("" ::: "memory")
#else
#define KV_FENCE(order) atomic_thread_fence(order)
#endif

typedef uint32_t kv_off;

/* ------------------------------------------------------------------ locks */
/* Test-and-test-and-set spinlock that works across processes (no futex, no
 * pthread object): after a short spin it yields the CPU. */
void kv_spin_lock_slow(_Atomic uint32_t *l);

static inline void kv_spin_lock(_Atomic uint32_t *l)
{
	uint32_t z = 0;
	if (KV_LIKELY(atomic_compare_exchange_weak_explicit(l, &z, 1, memory_order_acquire,
	                                                    memory_order_relaxed)))
		return;
	kv_spin_lock_slow(l);
}
static inline bool kv_spin_trylock(_Atomic uint32_t *l)
{
	uint32_t z = 0;
	return atomic_compare_exchange_strong_explicit(l, &z, 1, memory_order_acquire,
	                                               memory_order_relaxed);
}
static inline void kv_spin_unlock(_Atomic uint32_t *l)
{
	atomic_store_explicit(l, 0, memory_order_release);
}
static inline void kv_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

/* Between bounded holds of the same lock (a scan's, a resize's steps), give
 * the waiters a turn: the spinlock is not fair, and a holder that relocks at
 * once would keep winning it. */
void kv_lock_pause(void);

/* ------------------------------------------------------------------ layout */
typedef struct kv_page {          /* one per page, in the descriptor array */
	uint32_t run;                 /* first page of a run: pages in the run */
	uint8_t  kind;                /* KV_PG_* */
	uint8_t  cls;                 /* slab class */
	uint16_t used;                /* slab objects in use */
	kv_off   free;                /* slab free list (objects link through their first kv_off) */
	uint32_t next, prev;          /* page index links (0 = none; page 0 is never a slab) */
	uint32_t bump;                /* slab: objects carved so far */
} kv_page;

enum { KV_PG_META = 0, KV_PG_FREE, KV_PG_SLAB, KV_PG_LARGE, KV_PG_SHARD };

typedef struct kv_shard {
	/* line 0: what readers read */
	_Atomic uint32_t seq;
	_Atomic uint32_t lock;
	_Atomic kv_off   table;       /* slot array, capacity mask+1 */
	_Atomic uint32_t mask;
	_Atomic uint32_t shift;       /* 32 - log2(capacity): home = hash32 >> shift */
	_Atomic uint32_t migrated;    /* == ns resize_epoch once this shard's keys moved */
	_Atomic uint32_t mig_hash;    /* resize in steps: keys hashing below it have moved */
	uint32_t owner;               /* ns slot index + 1, for sanity checks */
	uint32_t index;               /* shard index in its namespace */
	uint32_t count;               /* entries in the table */
	uint32_t snap_pending;        /* a snapshot cut is waiting to copy this shard */
	uint64_t bytes;               /* entry bytes charged (size classes) */
	_Atomic uint64_t dirty;       /* mutations (for autosave rules); written under the lock */
	uint64_t rng;                 /* eviction sampling */
	kv_off   preserved;           /* snapshot: pre-images kept for the cut (kv_off array) */
	uint32_t npreserved, cappreserved;
	uint32_t sweep_pos;           /* active expiry sweep position */
	uint32_t clock_hand;          /* LRU eviction position */
	uint32_t wdepth;              /* nesting of write sections (lock holder only) */
	uint32_t bigseq;              /* changes to entries over KV_LOCKED_COPY_MAX (write.c) */
	/* reader-written statistics on their own line */
	_Atomic uint64_t hits __attribute__((aligned(64)));
	_Atomic uint64_t misses;
} kv_shard;

typedef struct kv_nsslot {
	_Atomic uint32_t gen;         /* odd while being created or dropped */
	uint32_t live;
	char     name[KV_NS_NAME_MAX + 1];
	/* config (changed under the admin lock; read racily) */
	_Atomic uint64_t max_keys, max_memory;
	_Atomic int64_t  default_ttl;
	_Atomic uint32_t max_key_size, max_value_size;
	_Atomic int      eviction;
	/* shards */
	_Atomic uint32_t nshards;
	_Atomic kv_off   shards;      /* kv_off[nshards] of shard headers */
	_Atomic kv_off   route;       /* uint16_t[KV_ROUTE_SIZE]: kv_route for nshards (0 if 1 shard) */
	_Atomic uint32_t old_nshards; /* nonzero while a resize migrates keys */
	_Atomic uint32_t resize_epoch;
	_Atomic uint32_t busy;        /* a save, load or resize holds the namespace */
	_Atomic uint32_t snap_gen;    /* cuts of saves so far; a collection's frozen view names its cut */
	_Atomic uint32_t snap_live;   /* a save of cut snap_gen is running (coll.c thaws older views) */
	_Atomic uint32_t sweep_shard;
	_Atomic uint32_t redo;        /* KV_NS_REDO: writes go to the env's redo function */
	/* counters */
	_Atomic uint64_t keys __attribute__((aligned(64)));
	_Atomic uint64_t bytes;
	_Atomic uint64_t expired, evicted;
} kv_nsslot;

typedef struct kv_region {
	uint32_t magic, layout;
	uint64_t size;
	uint32_t npages;              /* pages in the region (incl. meta pages) */
	uint32_t first_page;          /* first allocatable page */
	uint32_t max_ns;
	uint32_t default_shards;
	kv_off   slots;               /* kv_nsslot[max_ns] */
	kv_off   pages;               /* kv_page[npages] */
	_Atomic uint32_t admin;       /* admin lock: create, drop, configure, resize setup */
	_Atomic uint32_t nns;
	_Atomic uint32_t sweep_ns;    /* kv_tick's round-robin position */
	_Atomic uint32_t ticking;     /* a kv_tick is sweeping (tick.c) */
	/* page allocator (under palloc) */
	_Atomic uint32_t palloc __attribute__((aligned(64)));
	uint32_t bump;                /* next never-used page */
	uint32_t free_runs;           /* list of free runs (first page of each) */
	uint32_t pages_used;
	kv_off   shard_free;          /* free shard headers (type-stable pool) */
	/* slab classes: partial pages of each class, under the class's lock */
	struct {
		_Atomic uint32_t lock;
		uint32_t head;
	} __attribute__((aligned(64))) cls[KV_NCLASSES];
	/* autosave */
	_Atomic uint32_t save_lock __attribute__((aligned(64)));
	uint32_t nrules;
	kv_save_rule rules[KV_MAX_SAVE_RULES];
	_Atomic int64_t last_save;
	_Atomic uint64_t dirty_at_save;
	/* collections no entry names any more, freed with no lock held (coll.c) */
	_Atomic uint32_t reap_lock __attribute__((aligned(64)));
	_Atomic kv_off reap_head;     /* read without the lock: "anything to free?" */
} kv_region;

/* snapio.c: SHARDKV_FAULT_IO, parsed when a handle is opened or attached */
enum { KV_FIO_OPEN, KV_FIO_READ, KV_FIO_WRITE, KV_FIO_FSYNC, KV_FIO_RENAME, KV_FIO_DIRSYNC, KV_FIO_READAT, KV_FIO_N };
typedef struct kv_fault_io {
	int      bad;             /* the variable is set but does not parse */
	int      err[KV_FIO_N];   /* errno to inject, 0: none */
	uint32_t nth[KV_FIO_N];   /* only the nth call of a save or load; 0: every call */
} kv_fault_io;

struct kv_env {
	kv_region     *r;
	struct kv_nsslot *slots;      /* this process's address of the slot array */
	char          *base;
	size_t         size;
	int            owns_mapping;
	kv_mem_methods mem;
	kv_hook_fn     hook;
	void          *hook_ctx;
	kv_redo_fn     redo;
	void          *redo_ctx;
	kv_fault_io    fault;
};

/* A handle's resolved view of its namespace at one generation: the shard
 * headers and the route table, checked once when the view is published
 * (kv_view_refresh, namespace.c) instead of on every call.  Readers and
 * single-key writers (ops.c: get_fast, set_fast) load vkey, check the slot's
 * gen against it, and then index route and shards directly.  What makes that
 * safe with no lock, however a rebuild or a drop races the call:
 *   - vkey (the slot's byte offset in the slot array << 32 | gen: one add
 *     finds the slot) is one word, stored last (release) by a
 *     rebuild, after every field below; a view is rebuilt only for another
 *     key, i.e. once its old key's slot gen has moved, so a call that read a
 *     field of a newer view fails its closing gen check, as it would have
 *     after reading the slot's own fields;
 *   - every value any field ever holds is safe to use: vroute is the table of
 *     a slot (bounds-checked at publish) or the all-zero table of one shard;
 *     varr only grows (older arrays are kept until kv_ns_close) and vn never
 *     exceeds the capacity of the array published before it; an array slot
 *     holds a shard header checked at publish (in the region, aligned, on a
 *     shard page, which never changes kind) or kv_view_dummy (odd seq, no
 *     owner): a stale pointer reads or locks a real header, never wild memory;
 *   - the view is published only while no resize migrates (old_nshards 0),
 *     and a resize, load, drop or create moves gen, so a call whose gen check
 *     passes routes as the namespace does.
 * Rebuilds are serialised by vlock (process-local, O(shards) held). */
typedef struct kv_viewarr {
	struct kv_viewarr *older;     /* arrays this one replaced, freed by kv_ns_close */
	uint32_t           cap;
	kv_shard *_Atomic  p[];
} kv_viewarr;
#define KV_NSVIEW_NONE ((uint64_t)UINT32_MAX) /* slot 0, an odd gen: never a view's */
extern kv_shard kv_view_dummy;

struct kv_ns {
	kv_env          *env;
	_Atomic uint64_t bound;  /* slot index << 32 | slot gen, re-resolved by name */
	/* the view (above); base and slots are env's, copied to save a load, and
	 * the region's size is kept as the two limits get_fast compares with */
	_Atomic uint64_t vkey;
	char            *base;
	size_t           units;      /* env size / KV_UNIT: slot arrays end below it */
	size_t           elim;       /* env size - sizeof(kv_entry) - 8: entry header,
	                              * TTL word and key start at or below it - klen */
	kv_nsslot       *slots;
	const uint16_t *_Atomic vroute;
	kv_viewarr *_Atomic varr;
	_Atomic uint32_t vn;
	_Atomic uint32_t vlock;
	char             name[KV_NS_NAME_MAX + 1];
};
/* Publish ns's view for its namespace's current gen (true), or say it cannot
 * now (false: the namespace is gone or publishing, a resize migrates, or the
 * host allocator failed): the caller takes the general path. */
bool kv_view_refresh(kv_ns *ns);

/* Entry header; key then value follow, 8-byte aligned as a whole. */
typedef struct kv_entry {
	uint32_t vlen;
	uint16_t klen;
	uint8_t  type;
	_Atomic uint8_t flags;
	/* int64_t expires_at; if KV_E_TTL */
} kv_entry;

#define KV_E_TTL     0x01u /* an expiry word follows the header */
#define KV_E_BATCHNEW 0x02u /* written by the all-or-nothing batch holding its shard: not evictable */
#define KV_E_SNAPNEW 0x04u /* written after the pending snapshot cut */

/* ----------------------------------------------------------- addressing */
KV_INLINE void *kv_ptr(const kv_env *env, kv_off off)
{
	return env->base + (size_t)off * KV_UNIT;
}
KV_INLINE kv_off kv_offof(const kv_env *env, const void *p)
{
	return (kv_off)(((const char *)p - env->base) / KV_UNIT);
}
/* True if [off, off+len) lies inside the region: used by optimistic readers.
 * One compare: off * KV_UNIT is below 2^35 and every caller's len below 2^40
 * (lengths of at most 32 bits times small factors), so the sum cannot wrap. */
KV_INLINE bool kv_in_region(const kv_env *env, kv_off off, size_t len)
{
	return off != 0 && (size_t)off * KV_UNIT + len <= env->size;
}
KV_INLINE kv_page *kv_pagedesc(const kv_env *env, uint32_t pg)
{
	return (kv_page *)kv_ptr(env, env->r->pages) + pg;
}
KV_INLINE kv_nsslot *kv_slot(const kv_env *env, uint32_t i)
{
	return env->slots + i;
}

/* Entry helpers. */
KV_INLINE size_t kv_entry_hdr(unsigned flags)
{
	return sizeof(kv_entry) + ((flags & KV_E_TTL) ? 8 : 0);
}
KV_INLINE size_t kv_entry_size(size_t klen, size_t vlen, unsigned flags)
{
	return kv_entry_hdr(flags) + klen + vlen;
}
KV_INLINE char *kv_entry_key(kv_entry *e)
{
	return (char *)e + kv_entry_hdr(atomic_load_explicit(&e->flags, memory_order_relaxed));
}
/* Copy an entry image to new memory: the flags byte is written atomically, as
 * every other writer of it does (readers load it atomically). */
static inline void kv_entry_copy(kv_entry *dst, const kv_entry *src, size_t size)
{
	memcpy(dst, src, offsetof(kv_entry, flags));
	atomic_store_explicit(&dst->flags, atomic_load_explicit(&((kv_entry *)src)->flags, memory_order_relaxed),
	                      memory_order_relaxed);
	memcpy((char *)dst + sizeof *dst, (const char *)src + sizeof *src, size - sizeof *src);
}

KV_INLINE int64_t kv_entry_expiry(kv_entry *e)
{
	if (!(atomic_load_explicit(&e->flags, memory_order_relaxed) & KV_E_TTL))
		return 0;
	int64_t x;
	memcpy(&x, (char *)e + sizeof(kv_entry), 8);
	return x;
}

/* ----------------------------------------------------------------- hashing */
static inline uint64_t kv_hash(const void *key, size_t klen)
{
#if XXH_VERSION_NUMBER >= 800 && XXH_VERSION_NUMBER < 900
	/* keys of 9..16 bytes (the common short key) take XXH3's own branch for
	 * them inline: the same hash without the call and its length dispatch */
	if (klen - 9 <= 7)
		return XXH3_len_9to16_64b((const xxh_u8 *)key, klen, XXH3_kSecret, 0);
#endif
	return XXH3_64bits(key, klen);
}
/* Lamping & Veach jump consistent hash: raising n moves keys only to new buckets. */
static inline uint32_t kv_jump(uint64_t key, uint32_t n)
{
	int64_t b = -1, j = 0;
	while (j < (int64_t)n) {
		b = j;
		key = key * 2862933555777941757ULL + 1;
		j = (int64_t)((double)(b + 1) * ((double)(1LL << 31) / (double)((key >> 33) + 1)));
	}
	return (uint32_t)b;
}
/* The 31 hash bits a slot keeps (the low half of the hash; the shard comes from
 * the top 16 bits, see kv_route); bit 0 of a slot's high word is its CLOCK
 * reference bit (KV_SLOT_REF), set by readers of LRU namespaces. */
KV_INLINE uint32_t kv_hash32(uint64_t h)
{
	return (uint32_t)h & ~1u;
}

/* A key's shard among n: jump consistent hashing of the top KV_ROUTE_BITS of its
 * hash.  Routing by a 16-bit prefix lets a namespace keep the answer for every
 * prefix in a table (kv_nsslot.route), so the hot path does one load instead of
 * jump's loop of divisions and unpredictable branches; 65536 prefixes still spread
 * evenly over up to KV_MAX_SHARDS shards, and raising n moves prefixes (and so
 * keys) only to the new shards. */
#define KV_ROUTE_BITS 16
#define KV_ROUTE_SIZE ((size_t)1 << KV_ROUTE_BITS)
static inline uint32_t kv_route(uint64_t h, uint32_t n)
{
	return n > 1 ? kv_jump((h >> (64 - KV_ROUTE_BITS)) * 0x9e3779b97f4a7c15ull, n) : 0;
}

/* The view of ns (struct kv_ns) for this call (ops.c get_fast and set_fast,
 * batch.c batch_read): its key, with the slot's gen checked against it; the view is
 * rebuilt if the namespace moved on.  false: no current view (dropped,
 * publishing, migrating), take the general path. */
KV_RACY_INLINE KV_ALWAYS_INLINE bool view_get(kv_ns *ns, uint64_t *key, kv_nsslot **slot)
{
	uint64_t k = atomic_load_explicit(&ns->vkey, memory_order_acquire);
	kv_nsslot *sl = (kv_nsslot *)((char *)ns->slots + (k >> 32));
	if (KV_UNLIKELY(atomic_load_explicit(&sl->gen, memory_order_acquire) != (uint32_t)k)) {
		if (!kv_view_refresh(ns))
			return false;
		k = atomic_load_explicit(&ns->vkey, memory_order_acquire);
		sl = (kv_nsslot *)((char *)ns->slots + (k >> 32));
		if (atomic_load_explicit(&sl->gen, memory_order_acquire) != (uint32_t)k)
			return false;
	}
	*key = k;
	*slot = sl;
	return true;
}

/* The index of h's shard in the view just checked, to be compared with
 * view_n() and looked up with view_at() (a stale view's slot still holds a
 * shard header, or kv_view_dummy). */
KV_RACY_INLINE KV_ALWAYS_INLINE uint32_t view_route(const kv_ns *ns, uint64_t h)
{
	return atomic_load_explicit(&((kv_ns *)ns)->vroute, memory_order_relaxed)[h >> (64 - KV_ROUTE_BITS)];
}
KV_RACY_INLINE KV_ALWAYS_INLINE uint32_t view_n(const kv_ns *ns)
{
	return atomic_load_explicit(&((kv_ns *)ns)->vn, memory_order_acquire);
}
KV_RACY_INLINE KV_ALWAYS_INLINE kv_shard *view_at(const kv_ns *ns, uint32_t si)
{
	return atomic_load_explicit(&atomic_load_explicit(&((kv_ns *)ns)->varr, memory_order_relaxed)->p[si],
	                            memory_order_relaxed);
}

#define KV_SLOT_REF ((uint64_t)1 << 32)
KV_INLINE bool kv_slot_is(uint64_t v, uint32_t h32)
{
	return ((uint32_t)(v >> 32) & ~1u) == h32;
}

/* ----------------------------------------------------------- allocator */
/* region.c */
int    kv_region_format(kv_env *env, uint32_t max_ns, uint32_t default_shards);
int    kv_region_check(kv_env *env);
unsigned kv_size_class(size_t size);          /* KV_NCLASSES for large */
size_t kv_class_size(unsigned cls);
size_t kv_alloc_size(size_t size);            /* bytes actually charged */
kv_off kv_alloc(kv_env *env, size_t size);   /* 0 = the region is full */
void   kv_free(kv_env *env, kv_off off, size_t size);
kv_off kv_pages_alloc(kv_env *env, uint32_t npages, int kind);
/* A private carve: one thread's slab pages, one per class, taken whole from the
 * page allocator and cut by bump with no class lock (a load's builders, one per
 * thread).  Objects are ordinary slab objects (kv_free them as any other);
 * kv_carve_done() hands the partly used pages to their classes.  Nothing else
 * may free an object of a page still being carved (the owner may). */
typedef struct kv_carve {
	uint32_t page[KV_NCLASSES];   /* page being carved per class, 0: none */
} kv_carve;
kv_off kv_carve_alloc(kv_env *env, kv_carve *c, size_t size); /* 0 = the region is full */
void   kv_carve_done(kv_env *env, kv_carve *c);
void   kv_pages_free(kv_env *env, kv_off off);
kv_shard *kv_shard_new(kv_env *env);          /* zeroed, unlocked; NULL = full */
void   kv_shard_release(kv_env *env, kv_shard *sh);
kv_shard *kv_shard_at(const kv_env *env, kv_off off); /* validated, or NULL */
size_t kv_region_used(const kv_env *env);

/* env.c */
void  *kv_mem_realloc(kv_env *env, void *p, size_t n);
int    kv_buf_reserve(kv_env *env, kv_buf *b, size_t need);

/* ------------------------------------------------------------- shards */
/* shard.c: the table of one shard.  *_locked functions need the shard lock. */
/* Writer sections nest (a multi-shard change keeps every shard busy across many
 * single changes), but only the outermost one moves seq: seq must stay odd for
 * the whole span, or a reader starting inside an inner change would see it even
 * and accept a torn value.  depth is touched only by the lock holder.
 * Only the lock holder writes seq either, so it moves by a plain load and
 * store, not a read-modify-write (a locked instruction on x86, a full barrier):
 * the odd store, then a release fence before the section's stores, then the
 * even store with release (Boehm, "Can seqlocks get along with programming
 * language memory models?", 2012). */
static inline void kv_shard_seq_bump(kv_shard *sh, memory_order mo)
{
	atomic_store_explicit(&sh->seq, atomic_load_explicit(&sh->seq, memory_order_relaxed) + 1, mo);
}
static inline void kv_shard_write_begin(kv_shard *sh)
{
	if (sh->wdepth++ == 0) {
		kv_shard_seq_bump(sh, memory_order_relaxed);
		KV_FENCE(memory_order_release);
	}
}
static inline void kv_shard_write_end(kv_shard *sh)
{
	if (--sh->wdepth == 0)
		kv_shard_seq_bump(sh, memory_order_release);
}

int       kv_shard_init_locked(kv_env *env, kv_shard *sh, uint32_t cap);
kv_entry *kv_shard_find_locked(kv_env *env, kv_shard *sh, uint32_t h32, const void *key,
                               size_t klen, uint32_t *pos);
int       kv_shard_insert_locked(kv_env *env, kv_shard *sh, uint32_t h32, kv_off e);
int       kv_shard_reserve_locked(kv_env *env, kv_shard *sh, uint32_t want);
void      kv_shard_replace_locked(kv_env *env, kv_shard *sh, uint32_t pos, kv_off e);
void      kv_shard_remove_locked(kv_env *env, kv_shard *sh, uint32_t pos);
void      kv_shard_clear_locked(kv_env *env, kv_shard *sh);
typedef struct kv_detached {  /* a table taken out of its shard, freed later */
	kv_off   table;
	uint32_t cap;
} kv_detached;
int       kv_shard_detach_locked(kv_env *env, kv_shard *sh, bool keep_table, kv_detached *out);
void      kv_tables_free(kv_env *env, const kv_detached *t, uint32_t n);
uint64_t  kv_shard_table_bytes(const kv_shard *sh);

/* Entry lifecycle under the shard lock. */
kv_entry *kv_entry_build(kv_env *env, const void *key, size_t klen, size_t vlen, int type,
                         int64_t expires_at);
kv_entry *kv_entry_init(kv_env *env, kv_off o, const void *key, size_t klen, size_t vlen, int type,
                        int64_t expires_at); /* kv_entry_build at o, from kv_entry_size's allocation */
kv_entry *kv_entry_new_locked(kv_env *env, kv_shard *sh, const void *key, size_t klen,
                              size_t vlen, int type, int64_t expires_at);
void      kv_entry_retire_locked(kv_env *env, kv_shard *sh, kv_entry *e);
int       kv_shard_reserve_preserve_locked(kv_env *env, kv_shard *sh, uint32_t n);
size_t    kv_entry_charge(const kv_env *env, const kv_entry *e);

/* The klen bytes at k (an entry's key, read racily) equal key's, for klen of
 * 8..16: two overlapping words, no call. */
KV_RACY_INLINE KV_ALWAYS_INLINE bool kv_key_word_eq(const char *k, const void *key, size_t klen)
{
#ifdef KV_TSAN
	return kv_racy_cmp(k, key, klen) == 0;
#else
	uint64_t a0, a1, b0, b1;
	memcpy(&a0, k, 8);
	memcpy(&a1, k + klen - 8, 8);
	memcpy(&b0, key, 8);
	memcpy(&b1, (const char *)key + klen - 8, 8);
	return ((a0 ^ b0) | (a1 ^ b1)) == 0;
#endif
}

/* The klen bytes at k (an entry's key, read racily) equal key's. */
KV_RACY_INLINE KV_ALWAYS_INLINE bool kv_key_bytes_eq(const char *k, const void *key, size_t klen)
{
	if (klen >= 8 && klen <= 16)
		return kv_key_word_eq(k, key, klen);
	return kv_racy_cmp(k, key, klen) == 0;
}

KV_RACY_INLINE bool kv_key_eq(kv_entry *e, const void *key, size_t klen)
{
	return e->klen == klen && kv_key_bytes_eq(kv_entry_key(e), key, klen);
}

/* Optimistic lookup: returns the entry (maybe stale) for validation by seq, and
 * the slot it was found in with the slot's value.  Inline: it is the read path. */
KV_RACY_INLINE KV_ALWAYS_INLINE kv_entry *kv_shard_peek(const kv_env *env, kv_shard *sh, uint32_t h32,
                                const void *key, size_t klen, _Atomic uint64_t **slot,
                                uint64_t *slotv)
{
	kv_off t = atomic_load_explicit(&sh->table, memory_order_relaxed);
	uint32_t mask = atomic_load_explicit(&sh->mask, memory_order_relaxed);
	uint32_t shift = atomic_load_explicit(&sh->shift, memory_order_relaxed);
	if (shift == 0 || shift > 28 || !kv_in_region(env, t, ((size_t)mask + 1) * 8))
		return NULL;
	_Atomic uint64_t *s = kv_ptr(env, t);
	uint32_t i = (h32 >> shift) & mask;
	for (uint32_t n = 0; n <= mask; n++) {
		uint64_t v = atomic_load_explicit(&s[i], memory_order_relaxed);
		if (!v)
			return NULL;
		if (kv_slot_is(v, h32)) {
			kv_off o = (kv_off)v;
			if (kv_in_region(env, o, sizeof(kv_entry) + 8 + klen)) {
				kv_entry *e = kv_ptr(env, o);
				if (kv_key_eq(e, key, klen)) {
					*slot = &s[i];
					*slotv = v;
					return e;
				}
			}
		}
		i = (i + 1) & mask;
	}
	return NULL;
}



/* ------------------------------------------------------------ namespaces */
/* namespace.c */
typedef struct kv_nsref {
	kv_env    *env;
	kv_nsslot *slot;
	uint32_t   gen;
	uint32_t   slot_index;
} kv_nsref;

int  kv_ns_ref_slow(kv_ns *ns, kv_nsref *ref);         /* re-resolve by name */
int  kv_ns_valid_name(const char *name);
int  kv_ns_find_slot(kv_env *env, const char *name, uint32_t *idx, uint32_t *gen);
kv_shard *kv_ns_shard(const kv_nsref *ref, uint32_t i);

/* Pick and lock the shard that owns hash h, honouring an in-progress resize.
 * Returns NULL (and nothing locked) if the namespace changed under us: the
 * caller re-resolves and retries. */
kv_shard *kv_ns_lock_shard(const kv_nsref *ref, uint64_t h);
static inline bool kv_shard_read_valid(const kv_shard *sh, uint32_t seq)
{
	KV_FENCE(memory_order_acquire);
	return atomic_load_explicit(&((kv_shard *)sh)->seq, memory_order_relaxed) == seq;
}

/* Several shards locked at once, in ascending index order (batches, rename).
 * held[] records the headers actually locked, in order: unlocking walks it and
 * never looks shards up again, because a drop and re-create may have replaced
 * the namespace's shard array in between (issue 10's wedge: the old unlock
 * released other shards and left its own locked forever). */
typedef struct kv_lockset {
	uint64_t bits[KV_MAX_SHARDS / 64];
	uint32_t lo, hi;
	uint32_t nheld;
	/* the routing view the keys were added under (read once, at the first
	 * kv_lockset_add; the gen check of kv_lockset_lock validates it): nshards,
	 * old_nshards (0: no resize) and resize_epoch.  kv_lockset_shard routes by
	 * it, never by the slot's current view (see kv_lockset_lock) */
	uint32_t vn, vold, vepoch;
	kv_off   held[KV_MAX_SHARDS];
} kv_lockset;
void kv_lockset_init(kv_lockset *ls);
void kv_lockset_add(const kv_nsref *ref, kv_lockset *ls, uint64_t h);
bool kv_lockset_lock(const kv_nsref *ref, kv_lockset *ls);   /* false: retry */
void kv_lockset_unlock(const kv_nsref *ref, kv_lockset *ls);
/* owner of h (a hash added to ls), one of the shards ls holds; reads nothing
 * of the slot, so it stays right whatever a resize or drop does meanwhile */
kv_shard *kv_lockset_shard(const kv_nsref *ref, const kv_lockset *ls, uint64_t h);
void kv_lockset_write(const kv_nsref *ref, kv_lockset *ls, bool begin);
kv_shard *kv_lockset_at(const kv_nsref *ref, const kv_lockset *ls, uint32_t k);
/* Resolve ns into *ref and lock the shards of the n key hashes, retrying while a
 * drop, create or resize is publishing.  ls is large (~16.5 KB): callers
 * allocate it.  KV_OK (locked) or kv_ns_ref's error (nothing locked). */
int kv_lockset_lock_hashes(kv_ns *ns, kv_nsref *ref, kv_lockset *ls, const uint64_t *h, size_t n);

int  kv_shards_create(kv_env *env, uint32_t idx, uint32_t n, kv_off *arr);
kv_off kv_route_build(kv_env *env, uint32_t n);
void kv_route_free(kv_env *env, kv_off route);
void kv_shards_destroy(kv_env *env, kv_off arr, uint32_t n);
void kv_shards_retire(kv_env *env, kv_off arr, uint32_t n, kv_detached *out);
int  kv_ns_check_config(const kv_ns_config *c);


/* ------------------------------------------------- the read path, inline */
/* Resolve a handle to its slot; a gen mismatch looks the name up again. */
static inline int kv_ns_ref(kv_ns *ns, kv_nsref *ref)
{
	kv_env *env = ns->env;
	uint64_t b = atomic_load_explicit(&ns->bound, memory_order_relaxed);
	kv_nsslot *sl = kv_slot(env, (uint32_t)(b >> 32));
	if (KV_UNLIKELY(atomic_load_explicit(&sl->gen, memory_order_acquire) != (uint32_t)b))
		return kv_ns_ref_slow(ns, ref);
	ref->env = env;
	ref->slot = sl;
	ref->gen = (uint32_t)b;
	ref->slot_index = (uint32_t)(b >> 32);
	return KV_OK;
}

static inline bool kv_ns_ref_valid(const kv_nsref *ref)
{
	KV_FENCE(memory_order_acquire);
	return atomic_load_explicit(&ref->slot->gen, memory_order_relaxed) == ref->gen;
}

/* Shard index of h among n shards; the table serves the namespace's current
 * count.  The table may be replaced by a resize at any time (it is freed after
 * the namespace's gen moves), so only callers that validate gen afterwards may
 * use it: readers, and kv_ns_lock_shard before its check. */
KV_RACY_INLINE uint32_t kv_route_of(const kv_nsref *ref, uint64_t h, uint32_t n)
{
	kv_off t = atomic_load_explicit(&ref->slot->route, memory_order_relaxed);
	if (n > 1 && t && n == atomic_load_explicit(&ref->slot->nshards, memory_order_relaxed) &&
	    kv_in_region(ref->env, t, KV_ROUTE_SIZE * sizeof(uint16_t)))
		return ((const uint16_t *)kv_ptr(ref->env, t))[h >> (64 - KV_ROUTE_BITS)];
	return kv_route(h, n);
}


/* Reader's shard lookup: no page-kind check (a reader never writes to it, and a
 * stale pointer is caught by the namespace gen check); only bounds. */
KV_RACY_INLINE kv_shard *kv_shard_fast(const kv_nsref *ref, uint32_t i, uint32_t n)
{
	kv_off arr = atomic_load_explicit(&ref->slot->shards, memory_order_relaxed);
	if (i >= n || !kv_in_region(ref->env, arr, (size_t)n * sizeof(kv_off)))
		return NULL;
	kv_off o = ((const kv_off *)kv_ptr(ref->env, arr))[i];
	/* shard headers sit at multiples of KV_SHARD_SIZE: garbage rarely passes */
	return kv_in_region(ref->env, o, KV_SHARD_SIZE) && !(o & (KV_SHARD_SIZE / KV_UNIT - 1))
	               ? kv_ptr(ref->env, o) : NULL;
}

static inline bool kv_shard_migrated(const kv_nsref *ref, kv_shard *sh)
{
	return atomic_load_explicit(&sh->migrated, memory_order_relaxed) ==
	       atomic_load_explicit(&ref->slot->resize_epoch, memory_order_relaxed);
}

/* The shard to read optimistically for h, with its (even) seq in *seq; the
 * caller validates seq afterwards.  NULL: a writer is busy, retry. */
KV_RACY_INLINE kv_shard *kv_ns_read_shard(const kv_nsref *ref, uint64_t h, uint32_t *seq)
{
	kv_nsslot *sl = ref->slot;
	uint32_t n = atomic_load_explicit(&sl->nshards, memory_order_relaxed);
	uint32_t old = atomic_load_explicit(&sl->old_nshards, memory_order_relaxed);
	kv_shard *sh;
	uint32_t s;
	if (KV_UNLIKELY(old != 0) && old < n) {
		sh = kv_shard_fast(ref, kv_route(h, old), n);
		if (!sh)
			return NULL;
		s = atomic_load_explicit(&sh->seq, memory_order_acquire);
		if (s & 1)
			return NULL;
		/* a key below the watermark has moved (the step that moved it raised the
		 * mark while its new shard was odd, so that shard's seq tells) */
		if (!kv_shard_migrated(ref, sh) &&
		    kv_hash32(h) >= atomic_load_explicit(&sh->mig_hash, memory_order_acquire)) {
			*seq = s;
			return sh;
		}
	}
	sh = kv_shard_fast(ref, kv_route_of(ref, h, n), n);
	if (!sh)
		return NULL;
	s = atomic_load_explicit(&sh->seq, memory_order_acquire);
	if (s & 1)
		return NULL;
	*seq = s;
	return sh;
}


/* Account an entry added/removed/resized in a namespace. */
void kv_ns_charge(kv_nsslot *slot, kv_shard *sh, int64_t dkeys, int64_t dbytes);

/* ---------------------------------------------------------- write context */
/* One write operation: the namespace it resolved, and the keys it removed on
 * the side (expired or evicted) whose hooks fire after the locks are released.
 * Their keys are copied into keybuf; eviction skips a candidate whose key does
 * not fit, so the buffer bounds the work one write can do. */
#define KV_MAX_VICTIMS 16

/* All-or-nothing batches log every table change so they can be rolled back. */
typedef struct kv_undo {
	kv_shard *sh;
	kv_off    old, new_; /* entry replaced (0: none) and entry linked (0: none) */
} kv_undo;

typedef struct kv_wctx {
	kv_ns   *ns;
	kv_nsref ref;
	int64_t  now;
	kv_undo *undo;        /* non-NULL: transactional, nothing is retired until commit */
	int64_t  credit_keys, credit_bytes; /* about to be freed by this op (rename) */
	kv_entry *pin;        /* never evict this one either (rename's source) */
	kv_entry *pre;        /* the new entry, built before the lock (kv_prebuild); kv_put_locked
	                       * links it, kv_write_end frees it if it was not */
	bool     pre_ttl;     /* kv_put_locked refused pre (KV_W_REBUILD): the TTL word it needs */
	uint8_t  redo_kind;   /* redo.c: what the write's record is (0: a PUT of the new state) */
	size_t   redo_off, redo_len; /* KV_REDO_PATCH: where the write's bytes start, how many */
	const void *redo_key;  /* the key kv_put_locked is writing (the caller's bytes) */
	size_t   redo_klen;
	struct kv_chdr *redo_rename; /* RENAME of this collection: one RENAME record, logged
	                        * at the source's removal (kv_rename) */
	struct kv_chdr *redo_fill; /* a collection this write linked: its elements are logged
	                        * after the unlock (kv_redo_fill, from kv_wctx_emit) */
	const void *redo_fill_key;
	size_t   redo_fill_klen;
	size_t   nundo, capundo;
	/* All-or-nothing batches only, read only while undo is set (kv_wctx_init
	 * zeroes them all the same): the shards the batch holds, where eviction may
	 * also look (evict.c appends a shard it trylocked to evict from, which then
	 * stays locked until the batch commits or undoes); xv, victims' keys past
	 * keybuf (records of uint32 length + key,
	 * preallocated); grow is set when the undo log or xv ran out, and the
	 * batch then retries with larger ones; evictions are counted at commit. */
	kv_lockset *ls;
	kv_buf  *xv;
	bool     grow;
	uint32_t nevicted;    /* counted into the namespace at commit */
	int      nvictims;
	int      vev[KV_MAX_VICTIMS];
	uint32_t voff[KV_MAX_VICTIMS], vlen[KV_MAX_VICTIMS];
	size_t   keyused;
	char     keybuf[4096];
} kv_wctx;

/* wctx.c.  Remove the entry at pos (e) from sh and account for it; in a
 * transaction the entry is logged instead of retired.  Opens its own write
 * section. */
void kv_w_remove(kv_wctx *w, kv_shard *sh, uint32_t pos, kv_entry *e);
/* Log a table change of a transaction (its capacity was reserved). */
void kv_wctx_undo(kv_wctx *w, kv_shard *sh, kv_entry *old, kv_entry *new_);
/* The replaced or removed entry: retired now, or at commit in a transaction. */
void kv_wctx_drop_old(kv_wctx *w, kv_shard *sh, kv_entry *old, kv_entry *new_);

/* redo.c: hand the record of a change just made under sh's lock to the env's
 * redo function (kv.h REDO LOG).  Nothing unless the namespace has KV_NS_REDO,
 * a function is installed, and the write is not a transaction's (a batch logs
 * its undo log at commit: kv_redo_commit) or a replay (kv_redo_apply). */
void kv_redo_put(kv_wctx *w, const kv_entry *e);
void kv_redo_del(kv_wctx *w, const kv_entry *e);
void kv_redo_expire(kv_wctx *w, const kv_entry *e);
void kv_redo_commit(kv_wctx *w);
void kv_redo_ns(kv_env *env, kv_nsslot *slot, int kind);
bool kv_redo_logging(const kv_wctx *w);
void kv_redo_fill(kv_wctx *w);

/* Record a removed entry's key for its hook; false if it does not fit. */
bool kv_wctx_victim(kv_wctx *w, const void *key, size_t klen, int ev);
void kv_wctx_emit(kv_wctx *w);

/* write.c: the write path batches share with single-key calls; kv_wctx_init
 * and kv_wctx_now are wctx.c's. */
/* Builds a new value at dst (vlen bytes) from the old one (NULL if none).  dst
 * may equal old (in-place update): only what changes must be written then. */
typedef void (*fill_fn)(char *dst, size_t vlen, const char *old, size_t oldlen, const void *arg);
typedef struct val_arg {
	const void *p;
	size_t      n;
	size_t      off; /* setrange */
} val_arg;
void      kv_wctx_init(kv_wctx *w, kv_ns *ns);

/* kv_put_locked: w->pre has the wrong layout (TTL word); build again and retry */
#define KV_W_REBUILD (-1)
/* A new entry built with no lock held.  Its value came from fill over the old
 * value as an optimistic read saw it (when old_used), so it may only be linked
 * if that is still the key's value: kv_prebuild_take() checks under the lock. */
typedef struct kv_pre {
	kv_entry *e;
	bool      old_used, exists;
	kv_shard *sh;          /* a big old value: the shard, entry and bigseq it was read under */
	kv_entry *old;
	uint32_t  gen, bigseq;
	size_t    oldlen;
	size_t    patch_off, patch_len; /* bytes of the old value the write replaces */
} kv_pre;
/* What the optimistic read saw of the key (exists: live; cow: its shard's
 * snapshot cut is pending, so the write cannot update in place), and the plan
 * decides: ttl, the TTL word the new entry carries; use_old, whether the
 * builder copies the old value's first min(oldlen, length) bytes and calls
 * fill as for an in-place update (else fill builds the value from nothing);
 * patch_off/len, the old bytes fill overwrites.  With use_old the entry is
 * linked only if the key's value is still the one read (also when the key did
 * not exist then). */
typedef struct kv_seen {
	bool   exists, ttl, def_ttl, cow;  /* read */
	size_t oldlen;
	bool   use_old;                    /* plan's */
	size_t patch_off, patch_len;
} kv_seen;
/* Returns the new value's length (0: do not prebuild, the write is small or
 * stays in place) and sets *ttl and the plan's fields of s. */
typedef size_t (*plan_fn)(const void *arg, kv_seen *s, bool *ttl);
void      kv_prebuild(kv_ns *ns, const void *key, size_t klen, plan_fn plan, fill_fn fill,
                      const void *arg, kv_pre *p);
/* The same, the old value being another key's (from): a rename's source. */
void      kv_prebuild_from(kv_ns *ns, const void *from, size_t fromlen, const void *key, size_t klen,
                           plan_fn plan, fill_fn fill, const void *arg, kv_pre *p);
/* Under sh's lock, with e the key's live entry (NULL: none): hand p's entry to
 * w->pre if it may be linked, else free it (false: the old value changed since
 * it was read, build again).  sh NULL: just free it. */
bool      kv_prebuild_take(kv_wctx *w, kv_shard *sh, kv_entry *e, kv_pre *p);
/* A big old value copied into b before the lock (write.c): p says which;
 * under the lock, kv_preread_ok() says whether it is still e's value. */
bool      kv_preread(kv_ns *ns, const void *key, size_t klen, kv_buf *b, kv_pre *p);
bool      kv_preread_ok(const kv_wctx *w, kv_shard *sh, kv_entry *e, const kv_pre *p);
/* With no lock held: free w->pre if the write did not link it. */
void      kv_wctx_drop_pre(kv_wctx *w);
/* Under sh's lock, before a change to e's value or its removal from the table. */
static inline void kv_big_changed(kv_shard *sh, const kv_entry *e)
{
	if (e->vlen > KV_LOCKED_COPY_MAX)
		sh->bigseq++;
}
int64_t   kv_wctx_now(kv_wctx *w); /* the op's one reading of the clock */
/* A single-key write: resolve, lock the key's shard (room reserved for a
 * pending snapshot), find the live entry (*e NULL if none) ... */
int       kv_write_begin(kv_ns *ns, const void *key, size_t klen, kv_wctx *w, kv_shard **sh,
                         uint32_t *h32, uint32_t *pos, kv_entry **e);
int       kv_write_resume(kv_ns *ns, const kv_nsref *ref, kv_shard *sh, uint64_t h, const void *key,
                          size_t klen, bool found_ok, kv_entry *found, kv_wctx *w, uint32_t *h32,
                          uint32_t *pos, kv_entry **e);
/* ... and unlock, fire the side removals' hooks, then the op's own event ev
 * if rc is KV_OK (ev 0: none).  Returns rc. */
int       kv_write_end(kv_wctx *w, kv_shard *sh, const void *key, size_t klen, int rc, int ev);
void      kv_fill_copy(char *dst, size_t vlen, const char *old, size_t oldlen, const void *arg);
kv_entry *kv_find_live_locked(kv_wctx *w, kv_shard *sh, uint32_t h32, const void *key,
                              size_t klen, uint32_t *pos);
int       kv_put_locked(kv_wctx *w, kv_shard *sh, uint32_t h32, const void *key, size_t klen,
                        kv_entry *old, uint32_t pos, size_t vlen, int type, int64_t exp,
                        fill_fn fill, const void *arg);
int       kv_write_expiry(kv_wctx *w, int64_t req, kv_entry *old, int64_t *exp, bool *del);
void      kv_copy_out(kv_buf *b, kv_entry *e, size_t klen); /* ops.c */
bool      kv_parse_ll(const char *s, size_t n, int64_t *out);      /* ops.c: Redis string2ll */
bool      kv_parse_ld(const char *s, size_t n, long double *out);  /* ops.c: Redis strtold rules */
/* Free an entry that left every table (a collection drops its header's
 * reference: coll.c frees the body later, with no lock held). */
void      kv_entry_free(kv_env *env, kv_entry *e);
/* coll.c: free the collections no entry names any more; call with no lock. */
void      kv_coll_reap(kv_env *env);
int       kv_incr_locked(kv_wctx *w, kv_shard *sh, uint32_t h32, const void *key, size_t klen,
                         kv_entry *e, uint32_t pos, int64_t by, int64_t *result); /* ops.c */

/* evict.c: make room in sh for `need` more bytes (may be negative) and, if
 * newkey, one more key, evicting by the namespace's policy.  Never evicts keep. */
int kv_make_room_locked(kv_wctx *w, kv_shard *sh, int64_t need, int newkey, kv_entry *keep);

/* changes since the last full save (tick.c) */
uint64_t kv_env_dirty(kv_env *env);

/* ------------------------------------------------------- snapshot files */
/* snapio.c: one snapshot file being saved or loaded (see the file's header). */
#define KV_FILE_NAME_MAX 255
typedef struct kv_snap_target {
	kv_env  *env;
	int      dfd;                        /* the directory that holds the file */
	int      fd;                         /* the temp file being written, or -1 */
	int      locked;                     /* dfd holds the save flock */
	_Atomic int      injected;           /* errno last injected by the fault seam */
	_Atomic uint32_t calls[KV_FIO_N];    /* per-op call counts, for "@N" (a save's threads write) */
	_Atomic uint64_t unflushed;          /* temp file bytes written since the last writeback start */
	char     leaf[KV_FILE_NAME_MAX + 1]; /* the file's name in dfd */
	char     tmp[KV_FILE_NAME_MAX + 1];  /* the temp file's name in dfd, or "" */
	char     shown[96];                  /* the path for messages, shortened */
} kv_snap_target;

int  kv_snap_err(kv_error *err, int code, int sys, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void kv_fault_io_init(kv_fault_io *f);
int  kv_snap_resolve(kv_env *env, const char *dir, const char *name, kv_snap_target *t, kv_error *err);
void kv_snap_close(kv_snap_target *t);
int  kv_snap_lock(kv_snap_target *t, kv_error *err);
/* whole file into *data (env allocator); KV_NOTFOUND if it does not exist */
int  kv_snap_read(kv_snap_target *t, size_t limit, char **data, size_t *size, kv_error *err);
/* The same file read piece by piece (a load reads each block at its offset,
 * on the thread that builds it, into buffers it reuses): kv_snap_read_open
 * opens and checks it (kv_snap_read's errors) and sets size;
 * kv_snap_read_at reads n bytes at an offset from any thread (KV_OK or
 * KV_EIO, the message names the offset); kv_snap_read_ahead starts the
 * device on a range; kv_snap_read_close closes. */
typedef struct kv_snap_reader {
	kv_snap_target *t;
	int             fd;
	size_t          size;
	int             e;          /* errno of a failed read (0: the file shrank) */
} kv_snap_reader;
int  kv_snap_read_open(kv_snap_target *t, size_t limit, kv_snap_reader *rd, kv_error *err);
int  kv_snap_read_at(const kv_snap_reader *rd, void *buf, size_t n, size_t off, kv_error *err);
void kv_snap_read_ahead(const kv_snap_reader *rd, size_t off, size_t n);
void kv_snap_read_close(kv_snap_reader *rd);
/* the file a one-namespace save keeps namespaces of: opened with
 * kv_snap_read's checks, then read in parts (KV_EIO if it is short) */
int  kv_snap_open_keep(kv_snap_target *t, size_t limit, int *fd, size_t *size, kv_error *err);
int  kv_snap_pread(kv_snap_target *t, int fd, void *buf, size_t n, size_t off, kv_error *err);
int  kv_snap_create(kv_snap_target *t, kv_error *err);
/* write n bytes at file offset off of the temp file: 0 or errno; a save's
 * threads call it at once, each for its own range */
int  kv_snap_write_at(kv_snap_target *t, const void *p, size_t n, uint64_t off);
int  kv_snap_write_failed(kv_snap_target *t, int e, kv_error *err);
int  kv_snap_commit(kv_snap_target *t, kv_error *err);
void kv_snap_abort(kv_snap_target *t);

/* ------------------------------------------------------------ expiry */
/* ttl.c: now + ttl under kv.h's rule, with the clock given (KV_EINVAL past
 * KV_EXPIRES_MAX); kv_expiry_from_ttl_* call these with the real clock. */
/* numfmt.c: the "C" locale the engine formats and parses numbers under, so
 * a host's LC_NUMERIC never changes number text; (locale_t)0 if unavailable. */
locale_t kv_c_locale(void);

int kv_expiry_add_ms(int64_t now_ms, int64_t ttl_ms, int64_t *expires_at);
int kv_expiry_add_us(int64_t now_ms, int64_t ttl_us, int64_t *expires_at);

static inline bool kv_expired(int64_t exp, int64_t now)
{
	return exp != 0 && exp <= now;
}

/* ------------------------------------------------------------- hooks */
static inline void kv_emit(kv_env *env, const kv_ns *ns, const void *key, size_t klen, int ev)
{
	if (env->hook)
		env->hook(env->hook_ctx, ns->name, key, klen, ev);
}

#endif /* SHARDKV_KV_INTERNAL_H */
