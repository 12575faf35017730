/*
 * coll.h -- the internal interface between the engine core and a collection
 * kind (hash.c and set.c over dict.c, zset*.c, list*.c).  kv.h's
 * "collections" section is the public contract; this is how a kind module
 * implements it.  Read it whole before writing a kind.
 *
 * 1. REPRESENTATION
 *   A collection is an ordinary table entry whose type is its kind
 *   (KV_T_HASH .. KV_T_LIST; tags 16..31 are reserved for kinds) and whose
 *   value is a kv_croot: 8 bytes naming a collection header (kv_chdr) allocated
 *   in the region.  The header holds everything that changes: encoding,
 *   element count, charged bytes, the kind's body (kv_off of its root object)
 *   and small kind fields (aux).  Entries move (EXPIRE adds a TTL word,
 *   RENAME, a pending snapshot's copy-on-write of the entry) by copying those
 *   8 bytes, so a collection never moves: several entries may name one header
 *   for a while (a snapshot's pre-image and the live entry), and the header
 *   counts them (refs).  Every object is allocated with kv_alloc (32-bit
 *   offsets from the region base, never pointers) so collections work in
 *   PostgreSQL shared memory mapped at different addresses in each process.
 *
 *   Every object a kind allocates for a collection starts with
 *       uint32_t epoch;   (set by kv_cobj_alloc)
 *   which the copy-on-write of snapshots reads (section 5).
 *
 * 2. LOCKING
 *   A collection's header and objects are guarded by the lock of the shard of
 *   the key whose live entry names it.  Collection calls take that lock (there
 *   are no optimistic collection reads: kv.h allows it) and hold it for work
 *   bounded by the call's arguments, never by the collection's size:
 *     - point calls (HGET, SADD of n members, ZADD, LPUSH ...): O(n) element
 *       operations, each O(1) (hash, set, list ends) or O(log size) (zset);
 *     - compact encodings (listpack-like blobs of at most KV_COMPACT_MAX_*
 *       elements of at most KV_COMPACT_MAX_ELEM bytes) are rewritten or
 *       converted whole: bounded by those constants, not by the caller;
 *     - whole-collection reads (HGETALL, SMEMBERS, set algebra, ZRANGE over a
 *       big range, LRANGE, COPY, MOVE) PIN the collection (section 4) and copy
 *       with no lock at all.
 *   kv_coll_open() / kv_coll_close() (section 3) do the locking for a kind's
 *   public function; multi-key calls use kv_coll_open_many().
 *
 * 3. A KIND'S PUBLIC FUNCTION (hash.c and set.c are the examples)
 *       kv_cop op;
 *       int rc = kv_coll_open(ns, key, klen, KV_T_HASH, KV_COPEN_WRITE, &op);
 *       if (rc != KV_OK) return rc;        (KV_EWRONGTYPE, namespace errors:
 *                                            nothing is held then)
 *       if (!op.h) rc = kv_coll_create(&op, KV_ENC_LISTPACK);  (writes only)
 *       if (rc == KV_OK) rc = kv_coll_reserve(&op, upper bound of new bytes);
 *       if (rc == KV_OK) rc = kv_coll_mutate(&op, objects it may release);
 *       ... change op.h's body through kv_cobj_*; op.changed = true ...
 *       return kv_coll_close(&op, rc, KV_EV_HSET);
 *   The shard lock is held from open to close.  kv_coll_open with
 *   KV_COPEN_WRITE waits (no lock held) while the key is pinned (4); with
 *   KV_COPEN_PIN (a read that will pin) it lets a waiting writer go first;
 *   KV_COPEN_READ reads under the lock.  kind 0 accepts any kind (op.h is
 *   NULL for a string, op.e says whether the key exists).
 *   kv_coll_create makes the missing key with the namespace's default TTL
 *   (writes keep an existing key's TTL).  kv_coll_reserve checks max_memory
 *   against an UPPER BOUND of what the op may allocate (evicting other keys
 *   by policy; KV_EMAXMEM with nothing changed), so a write that passes never
 *   ends over the limit.  kv_coll_mutate is mandatory before the first
 *   change: it freezes or thaws the snapshot view (5), reserves graveyard
 *   room and moves h->ver.  kv_coll_close charges the namespace with the
 *   header's byte delta, deletes the key if its count is 0, unlocks, fires
 *   the side removals' hooks (expired, evicted keys), then ev when rc is
 *   KV_OK and op.changed, then KV_EV_DEL if it deleted the key.  Bodies
 *   freed by anyone (a DEL, a replace, the last unpin) go to the reap list
 *   and are freed with no lock held (kv_coll_reap): nothing O(size) runs
 *   under a lock.
 *   Counters: h->card is the element count (the kind keeps it exact: 0 means
 *   delete), h->bytes the region bytes of header and body (kv_cobj_alloc and
 *   kv_cobj_release keep it), h->ver any change.  aux[] holds small kind
 *   fields (dict: its hash seed); aux and enc are copied into the view at a
 *   freeze, so a kind may change them under the lock as it likes.
 *   Multi-key writes (SMOVE, LMOVE): kv_coll_open_many locks every key's
 *   shard through a lockset (waiting, as a writer, while any of them is
 *   pinned); kv_coll_at(m, i, kind, &op) gives key i's kv_cop, whose
 *   kv_coll_create / reserve / mutate work as above; kv_coll_close_many
 *   charges, deletes emptied keys, unlocks and fires ev[i] for each op with
 *   changed set (then KV_EV_DEL).  STORE forms build their result into a
 *   private header with no lock (kv_chdr_new + ops->add) and link it with
 *   kv_coll_replace, which never waits for pins (the old body is unlinked,
 *   not changed) - so a source that is also the destination is fine.
 *   Results go to kv_elems through kv_elems_push / kv_elems_nil, never under
 *   a lock (host memory): copy from a pinned body, or reserve room before
 *   the lock (kv_spop shows the retry when it was too small).
 *
 * 4. PINS: POINT-IN-TIME WHOLE READS WITHOUT A LONG HOLD
 *   kv_coll_pin() (under the lock, O(1)) takes a reference and raises the
 *   header's pin count; after kv_coll_close the caller reads the body with
 *   no lock and kv_coll_unpin()s.  While pinned, writers OF THAT KEY ONLY
 *   wait (kv_coll_open spins with no lock held until the pin drops); readers
 *   and every other key of the shard go on.  A writer waiting for pins
 *   raises h->wwait, and new pinners (KV_COPEN_PIN) wait for it in turn, so
 *   back-to-back whole reads cannot starve the writers of a key.  A DEL,
 *   SET, RENAME, eviction or flush of a pinned key goes ahead (the entry
 *   goes; the header lives on until the last reference), so the copy is the
 *   value as of the pin.  Cost: a writer of that key waits for one O(size)
 *   copy (as Redis's clients wait while it serves the read); no lock is held
 *   during it.  kv_coll_read_all() is the whole read (ops->scan to the end).
 *
 * 5. SNAPSHOTS: COPY-ON-WRITE PER OBJECT
 *   A save's cut (snapshot.c) must see each collection as it was at the cut
 *   while writers go on.  The first change after the cut to a collection of
 *   the cut (kv_coll_mutate sees the shard pending and the entry not
 *   SNAPNEW), the saver's collection of it, or the retirement of its entry as
 *   a pre-image FREEZES it in O(1) with no allocation: h->view (embedded)
 *   records enc, body, card and aux, and h->epoch moves on.  From then on,
 *   until the saver has written it (view.state DONE), an object whose epoch
 *   is older than the header's is shared with the view and immutable
 *   (kv_cobj_shared): a kind calls kv_cobj_writable() before changing one (a
 *   copy of that one object, stamped new; the old goes to the graveyard) -
 *   and must then store the copy's offset in its parent, made writable first
 *   (top-down) - and kv_cobj_release() for an object it drops (freed now, or
 *   kept in the graveyard when shared).  Nodes that are never changed in
 *   place (dict's) cost nothing to share.  So a write during a save copies
 *   at most the objects it touches, once each per save: for a hash or set a
 *   2 KiB segment and the directory, never an element or the whole
 *   collection.  The saver serialises the view's body with no lock (every
 *   object it reaches is immutable), marks the view DONE, and the next write
 *   thaws it (the graveyard goes to the reap list).  A view also records
 *   its cut (the namespace's snap_gen): once that save ends, failed or not,
 *   or a newer cut begins, the view is stale and the next write or freeze
 *   thaws it, so no view outlives its save's use of it.  A kind whose objects
 *   link to each other (skiplist, list nodes) must make every object it
 *   changes writable top-down (path copying), or pick a layout where that
 *   stays bounded (a B-tree of chunks, a list of chunks): a skiplist node
 *   has many parents, so copying one is not bounded.
 *
 * 6. KIND OPERATIONS (kv_kind_ops; add yours to kv_kind_ops_of in coll.c)
 *   encoding  OBJECT ENCODING's name for h's encoding
 *   free      free every object reachable from h->body (no lock held; never
 *             the graveyard, the core does that)
 *   copy      a deep copy of a pinned body into a new private header (no
 *             lock held: COPY, MOVE); dst->bytes kept by kv_cobj_alloc
 *   scan      emit up to about budget elements from *cursor (0: start) and
 *             advance it (0: done), with Redis's SCAN guarantee (an element
 *             present throughout is emitted at least once) even while the
 *             body changes between calls (kv_cscan: each call pins, steps,
 *             unpins); also walks a pinned body for whole reads and a frozen
 *             view (a kv_chdr copy made by snapshot.c: read only kind, enc,
 *             body, card, aux) for saves - never reading another field
 *   add       insert one element into a private header (snapshot load,
 *             copies, STORE results): no lock, no COW; KV_ENOMEM on a full
 *             region.  The header comes from kv_chdr_new(env, kind,
 *             KV_ENC_LISTPACK) with body 0 and card 0: add starts from there
 *   record_version  the kind's snapshot record format.  Records are generic
 *             (coll.c kv_coll_serialise): u8 version, u64 count, then each
 *             element as scan emits it: u32 len + bytes, a hash's u32 len +
 *             value, a zset's f64 score (a list's items in order).  A new
 *             format bumps the kind's version and keeps reading the old one.
 */
#ifndef SHARDKV_COLL_H
#define SHARDKV_COLL_H

#include "kv_internal.h"

#define KV_KIND_FIRST 16
#define KV_KIND_LAST  31
KV_INLINE bool kv_is_kind(int type)
{
	return type >= KV_KIND_FIRST && type <= KV_KIND_LAST;
}

/* Compact encodings (Redis's hash-max-listpack-entries / -value defaults). */
#define KV_COMPACT_MAX_ELEMS 128u
#define KV_COMPACT_MAX_ELEM  64u

/* Encodings (kv_chdr.enc). */
enum { KV_ENC_LISTPACK = 1, KV_ENC_HASHTABLE, KV_ENC_SKIPLIST, KV_ENC_QUICKLIST };

#define KV_CROOT_MAGIC 0x4c4f4323u /* "#COL" */
typedef struct kv_croot {
	uint32_t magic;
	kv_off   hdr;
} kv_croot;

/* What a running save sees of a header: the fields at the freeze (section 5).
 * Embedded in the header, so a freeze never allocates and never fails. */
enum { KV_VIEW_NONE = 0, KV_VIEW_FROZEN, KV_VIEW_DONE };
typedef struct kv_cview {
	_Atomic uint32_t state;   /* KV_VIEW_*: DONE once the saver wrote it (next write thaws) */
	uint32_t gen;             /* the namespace's snap_gen (cut) it was frozen for: stale once
	                           * that save ended (snap_live 0) or a newer cut began */
	uint8_t  enc;
	kv_off   body;
	kv_off   grave;           /* kv_cgrave chunks: shared objects the live body dropped */
	uint64_t card;
	uint64_t aux[3];
} kv_cview;

/* Reap list nodes (coll.c): dead headers and graveyard chunks, freed by
 * kv_coll_reap() with no lock held. */
enum { KV_REAP_HDR = 1, KV_REAP_GRAVE };
typedef struct kv_chdr {
	uint32_t epoch;           /* objects stamped below it are shared with view (while frozen) */
	kv_off   next;            /* reap list link */
	uint8_t  rtag;            /* KV_REAP_HDR */
	uint8_t  kind, enc;
	uint8_t  flags;
	_Atomic uint32_t refs;    /* entries naming it + pins */
	_Atomic uint32_t pin;     /* whole readers copying with no lock: writers wait */
	uint32_t ver;             /* moves on every change */
	uint64_t card;            /* elements */
	uint64_t bytes;           /* region bytes of the header and its body (charged) */
	kv_off   body;            /* the kind's root object */
	_Atomic uint32_t wwait;   /* writers waiting for the pins to drop: new pins wait */
	uint64_t aux[3];          /* kind fields (dict: hash seed, directory depth) */
	kv_cview view;
} kv_chdr;

#define KV_GRAVE_SLOTS 253u /* a chunk is 2 KiB, a size class */
typedef struct kv_cgrave {
	uint32_t epoch;
	kv_off   next;            /* reap list link */
	uint8_t  rtag;            /* KV_REAP_GRAVE */
	uint8_t  pad[3];
	uint32_t n;
	kv_off   older;           /* the previous chunk of the same graveyard */
	uint32_t pad2;
	struct { kv_off off; uint32_t size; } item[KV_GRAVE_SLOTS];
} kv_cgrave;

/* An element as a kind emits it (scan), or receives it (add). */
typedef struct kv_celem {
	const char *p;  size_t len;   /* field, member or item */
	const char *v;  size_t vlen;  /* hash value (NULL otherwise) */
	double score;                 /* zset */
} kv_celem;
typedef int (*kv_cemit_fn)(void *ctx, const kv_celem *el); /* nonzero: stop (error) */

typedef struct kv_kind_ops {
	int          kind;
	const char *(*encoding)(const kv_chdr *h);
	void        (*free)(kv_env *env, const kv_chdr *h);
	int         (*copy)(kv_env *env, const kv_chdr *src, kv_chdr *dst);
	int         (*scan)(kv_env *env, const kv_chdr *h, uint64_t *cursor, size_t budget,
	                    kv_cemit_fn fn, void *ctx);
	int         (*add)(kv_env *env, kv_chdr *h, const kv_celem *el);
	uint8_t      record_version;  /* snapshot record format of this kind */
} kv_kind_ops;

const kv_kind_ops *kv_kind_ops_of(int kind); /* NULL: not a kind this build has */
extern const kv_kind_ops kv_hash_ops, kv_set_ops; /* dict.c */
extern const kv_kind_ops kv_zset_ops;             /* zset_api.c */
extern const kv_kind_ops kv_list_ops;             /* lists.c */

/* ------------------------------------------------------------ headers */
uint64_t kv_coll_random(void);  /* seeds (hash seeds, random picks) */
/* dict.c: the structure under hashes and sets (see its header). */
bool kv_dict_get(kv_env *env, const kv_chdr *h, const void *f, size_t flen, const char **v,
                 size_t *vlen);
int  kv_dict_put(kv_env *env, kv_chdr *h, const void *f, size_t flen, const void *v, size_t vlen,
                 bool nx, int *added);
bool kv_dict_del(kv_env *env, kv_chdr *h, const void *f, size_t flen, int *err);
int64_t kv_dict_put_cost(kv_env *env, const kv_chdr *h, size_t flen, size_t vlen);
void kv_dict_random(kv_env *env, const kv_chdr *h, uint64_t *rng, kv_celem *el);
/* hash.c: HRANDFIELD / SRANDMEMBER (pinned, no lock). */
int  kv_dict_remove(kv_ns *ns, const void *key, size_t klen, int kind, int ev, const kv_val *v,
                    size_t n, uint64_t *removed); /* HDEL, SREM (hash.c) */
int  kv_dict_has(kv_ns *ns, const void *key, size_t klen, int kind, const void *e, size_t elen);
int  kv_dict_randmember(kv_ns *ns, const void *key, size_t klen, int kind, int has_count,
                        int64_t count, int withvalues, kv_elems *out);
KV_INLINE kv_chdr *kv_chdr_of(const kv_env *env, const kv_entry *e)
{
	kv_croot r;
	memcpy(&r, (const char *)e + kv_entry_hdr(atomic_load_explicit(&((kv_entry *)e)->flags,
	                                                                memory_order_relaxed)) + e->klen,
	       sizeof r);
	return (kv_chdr *)kv_ptr(env, r.hdr);
}
/* A new private header of kind/enc (refs 1, card 0, bytes its own size). */
kv_chdr *kv_chdr_new(kv_env *env, int kind, int enc);
/* Free a header no entry names any more and its body (no lock held). */
void     kv_chdr_destroy(kv_env *env, kv_chdr *h);
/* Drop one reference; at 0 the header goes to the reap list (O(1), any lock
 * may be held).  kv_coll_reap() frees the list: call it with no lock held. */
void     kv_coll_unref(kv_env *env, kv_chdr *h);
void     kv_coll_reap(kv_env *env);
/* An entry of a kind is freed (shard.c and every other entry-free site). */
void     kv_coll_entry_gone(kv_env *env, kv_entry *e);
/* A new entry now names e's header too (it was built by copying e's value). */
void     kv_coll_entry_dup(kv_env *env, kv_entry *e);

/* ------------------------------------------------------------ objects */
/* Allocate an object of size bytes for h (epoch stamped, charged to h->bytes;
 * the op charges the namespace from h->bytes at close).  NULL: region full. */
void    *kv_cobj_alloc(kv_env *env, kv_chdr *h, size_t size);
/* Drop an object from h's body: freed now, or kept for the view when shared.
 * Uncharged either way.  Never fails (the graveyard was reserved by
 * kv_coll_mutate). */
void     kv_cobj_release(kv_env *env, kv_chdr *h, void *obj, size_t size);
/* Make *objp (size bytes, referenced from a writable parent) safe to change:
 * a copy when shared with a view (*objp and the caller's reference are then
 * updated by the caller from the return).  NULL: region full. */
void    *kv_cobj_writable(kv_env *env, kv_chdr *h, void *obj, size_t size);
/* Free an object of a private or dying body (free, copy's error path). */
KV_INLINE void kv_cobj_free(kv_env *env, void *obj, size_t size)
{
	kv_free(env, kv_offof(env, obj), size);
}
/* Is obj shared with h's view (must not change)? */
/* The state may turn DONE under us (the saver marks a pre-image's view done
 * under that pre-image's shard lock, not ours): acquire, so whatever we then
 * free or change in place comes after the saver's reads of it. */
KV_INLINE bool kv_cobj_shared(const kv_chdr *h, const void *obj)
{
	return atomic_load_explicit(&((kv_chdr *)h)->view.state, memory_order_acquire) == KV_VIEW_FROZEN &&
	       *(const uint32_t *)obj < h->epoch;
}

/* ------------------------------------------------------- an operation */
#define KV_COPEN_READ  0
#define KV_COPEN_WRITE 1
#define KV_COPEN_PIN   2  /* a read that will pin: it lets a waiting writer go first */
typedef struct kv_cop {
	kv_wctx   w;          /* a single-key op's context */
	kv_wctx  *wx;         /* the context in use: &w, or the kv_cmulti's */
	kv_shard *sh;
	uint64_t  hash;
	uint32_t  h32, pos;
	kv_entry *e;          /* the live entry (NULL: no key) */
	kv_chdr  *h;          /* its header */
	const void *key;
	size_t    klen;
	int       kind;
	int64_t   bytes0;     /* h->bytes at open (charge at close) */
	bool      write, changed, created;
	uint32_t  grave_need; /* objects this op may release while frozen (kv_coll_mutate) */
	kv_chdr  *dead;       /* a header the op unlinked: unref'd after the unlock */
} kv_cop;

/* Resolve, lock the key's shard and find its live entry.  A key of another
 * kind: KV_EWRONGTYPE (nothing held).  A write waits (no lock held) while the
 * key is pinned.  On KV_OK the shard is locked: end with kv_coll_close. */
int  kv_coll_open(kv_ns *ns, const void *key, size_t klen, int kind, int mode, kv_cop *op);
/* Create the missing key with an empty header of encoding enc (default TTL).
 * KV_OK or a write error (limits, eviction, region full). */
int  kv_coll_create(kv_cop *op, int enc);
/* The same with expiry exp (absolute ms, 0 none): a replayed record's. */
int  kv_coll_create_at(kv_cop *op, int enc, int64_t exp);
/* Before the first change of a write: freeze for a pending save, thaw a
 * finished one, reserve room in the graveyard for `releases` objects.
 * KV_ENOMEM when the region is full (nothing changed). */
int  kv_coll_mutate(kv_cop *op, uint32_t releases);
/* Check max_memory (evicting by policy) for `more` bytes the op will add. */
int  kv_coll_reserve(kv_cop *op, int64_t more);
/* Finish: charge, delete if empty, unlock, free, fire events.  Returns rc. */
int  kv_coll_close(kv_cop *op, int rc, int ev);
/* Pin op.h for a lock-free whole read; unpin after kv_coll_close. */
void kv_coll_pin(kv_cop *op);
void kv_coll_unpin(kv_env *env, kv_chdr *h);
/* With no lock held and a reference on h (dropped here): wait until no writer
 * waits for h's pins (a multi-key reader that found one, kv_setop). */
void kv_coll_wait_writers(kv_env *env, kv_chdr *h);

/* Multi-key operations (SMOVE, LMOVE, STORE forms): lock every key's shard
 * through a lockset; each key then gets a kv_cop view (kv_coll_at) that
 * shares the one write context.  Close with kv_coll_close_many. */
typedef struct kv_cmulti {
	kv_wctx     w;
	kv_lockset *ls;
	size_t      n;
	kv_cop     *ops;
} kv_cmulti;
int  kv_coll_open_many(kv_ns *ns, const kv_val *keys, size_t n, kv_cmulti *m);
/* op i: find key i (kind check: KV_EWRONGTYPE unless kind 0 = any). */
int  kv_coll_at(kv_cmulti *m, size_t i, int kind, kv_cop **op);
/* Replace key i's value by header h (NULL: delete it) built outside the lock. */
int  kv_coll_store(kv_cmulti *m, size_t i, kv_chdr *h);
int  kv_coll_close_many(kv_cmulti *m, int rc, const int *ev);

/* COPY (same or another namespace) and MOVE of a collection: a deep copy of
 * the pinned source, built with no lock, then linked at dst.  KV_EINVAL if
 * src is a string (copy.c's own path). */
int  kv_coll_copy(kv_ns *ns, const void *src, size_t srclen, kv_ns *dns, const void *dst,
                  size_t dstlen, int replace);
int  kv_coll_move(kv_ns *ns, const void *key, size_t klen, kv_ns *dns);
/* Replace key's value, whatever its kind, by private header h built with no
 * lock (a STORE form's result; NULL or empty: delete the key, event
 * KV_EV_DEL if it existed), else event ev.  Never waits for pins: the old
 * body is not changed, only unlinked.  h is consumed either way. */
int  kv_coll_replace(kv_ns *ns, const void *key, size_t klen, kv_chdr *h, int ev, bool *existed);

/* redo.c: one element of op's collection was set (KV_REDO_ELEM: hash field f
 * := v, set member f, zset member f := score) or removed (KV_REDO_ELDEL).
 * Each kind calls it under the lock right after its own code made that
 * change, so the record's order is the apply order (kv.h REDO LOG).  Nothing
 * unless op's namespace is logged. */
void kv_redo_elem(kv_cop *op, int kind, const void *f, size_t flen, const void *v, size_t vlen,
                  double score);
/* redo.c: one change of op's list (KV_REDO_LINS/LSET/LDEL/LTRIM; len its
 * length before), logged by lists.c under the lock right after making it. */
void kv_redo_list(kv_cop *op, int kind, uint64_t len, uint64_t at, uint64_t n, const void *v,
                  size_t vlen);
/* lists.c: replay a list record onto op's list (open for writing, maybe
 * missing); closes op.  KV_UNCHANGED when the length is not the record's. */
int kv_list_redo(kv_cop *op, const kv_redo_hdr *h, const char *data);
/* After a big SPOP swapped in its survivors h (pinned): the members popped,
 * in holds (redo.c). */
void kv_redo_removed(kv_ns *ns, const void *key, size_t klen, kv_chdr *h, const kv_elems *gone,
                     size_t n);

/* ------------------------------------------------------- results */
int  kv_elems_push(kv_env *env, kv_elems *out, const void *p, size_t len, double score);
int  kv_elems_nil(kv_env *env, kv_elems *out);
void kv_elems_reset(kv_elems *out);

/* Whole read of key (pinned, no lock): every element through fn.  A missing
 * key: KV_OK with nothing emitted. */
int  kv_coll_read_all(kv_ns *ns, const void *key, size_t klen, int kind, kv_cemit_fn fn,
                      void *ctx);

/* Snapshot (snapshot.c): serialise the collection named by e as of the cut
 * (its frozen view, or its live body when unchanged since: the caller holds
 * the shard lock for the freeze and releases it before the copy). */
/* Freeze h for the running save of namespace sl (O(1), never fails); a
 * view of an older cut is thawed first. */
void kv_coll_freeze_locked(kv_env *env, kv_nsslot *sl, kv_chdr *h);
void kv_coll_view_done(kv_env *env, kv_entry *e);          /* under the lock */
int  kv_coll_serialise(kv_env *env, const kv_chdr *snap, kv_buf *out);
int  kv_coll_deserialise(kv_env *env, int kind, const char *p, size_t n, kv_chdr **out);

#endif /* SHARDKV_COLL_H */
