/*
 * snapshot.c -- saving and loading namespaces to a portable, checksummed file.
 *
 * FILE FORMAT (version 3, all integers little-endian)
 *   header   "SHKVSNAP" u32 version  u32 flags(0)  i64 created_ms  u32 nns
 *            u32 checksum = low 32 bits of XXH3 of the 28 bytes before it
 *   blocks   u32 kind  u32 len  u64 XXH3(payload)  payload[len]
 *     'N'  namespace: u8 namelen, name, u32 shards, u64 max_keys, u64 max_memory,
 *          i64 default_ttl_ms, u32 max_key_size, u32 max_value_size, i32 eviction
 *     'E'  entries of the namespace above, back to back:
 *          u32 klen  u32 vlen  u8 type  u8 flags(bit0: has expiry)  [i64 expires_at]
 *          key  value
 *          A collection (type KV_T_HASH .. KV_T_LIST, version 2) has as its value
 *          its kind's record (coll.c, kv_coll_serialise): u8 record version,
 *          u64 elements, then each element: u32 len + bytes, a hash's u32 len +
 *          value, a zset's f64 score.  A version 1 file has no collections: a
 *          tag 16..31 in it was a string's and loads as KV_T_BYTES.
 *     'Z'  end of namespace: u64 entries written
 *     'T'  trailer, last: u64 blocks before it, u64 XXH3 of the file header and
 *          every block header before it, back to back (version 3: each block
 *          header holds its payload's XXH3, so every byte is hashed once;
 *          versions 1 and 2, which still load, hash every byte before it)
 *   A block's len is at most 16 MiB plus one entry (a save ends its blocks at
 *   about 1 MiB; older builds wrote 16 MiB ones; a load refuses a block with
 *   more live entries than 16 MiB allows).  Expiry is absolute (ms since
 *   the epoch), so it means the same after a restart or in another host.
 *
 * SAVE: A CONSISTENT CUT WITHOUT FORK
 *   The cut locks every shard of the namespaces being saved (in lock order), marks
 *   each snap_pending and unlocks: a pause of one lock round.  From then on a writer
 *   that replaces or removes an entry of a pending shard keeps the old entry on the
 *   shard's preserved list instead of freeing it (and never updates such an entry
 *   in place), and marks entries it creates SNAPNEW.  The saver then visits each
 *   shard and copies out the cut: table entries that are not SNAPNEW plus the
 *   preserved ones; it clears the marks and frees the preserved entries.  It
 *   does that in bounded steps (see BOUNDED STEPS below): a writer of that shard
 *   waits at most for one step of SNAP_STEP (1024) slots or list items, never
 *   for a copy of the shard or of a value; readers never wait.  The image is
 *   written to a temp file, fsynced, renamed over the file and the directory
 *   fsynced (snapio.c).  kv_save_threads spreads the shards over threads,
 *   each writing its own blocks (SERIALISING IN PARALLEL, WRITING IN
 *   PARALLEL).  A save of one namespace keeps the file's
 *   others (kv.h, WHICH NAMESPACES A FILE KEEPS): it reads the file's
 *   structure and only the namespaces it keeps (keep_*).
 *
 * LOAD: BUILD WHILE READING, SWAP AFTER THE TRAILER
 *   The calling thread reads the file's structure (every block header, the
 *   small 'N', 'Z' and 'T' blocks); each 'E' block is read at its offset by
 *   the thread that builds it, into a buffer it reuses, and its checksum,
 *   lengths and the live namespace's limits are checked, its entries built
 *   into fresh shards that nobody can see (on up to kv_load_threads' count of
 *   threads: LOADING WHILE READING below).  Once the trailer has verified,
 *   each namespace's shard array is swapped in one step (its gen is bumped,
 *   so handles and readers move over); the old shards are freed after.  Any
 *   failure before the swap frees what was built and leaves the live
 *   namespaces as they were; the error reported is the first in file order.
 */
#include "coll.h"

#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#define SNAP_MAGIC   "SHKVSNAP"
#define SNAP_VERSION 3u /* 3: trailer hashes the headers; 2: collections; 1 and 2 still load */
#define SNAP_HDR     32
#define BLK_HDR      16
#define BLK_TARGET   ((size_t)16 << 20)
#define BLK_MAX      (BLK_TARGET + (size_t)KV_VALUE_SIZE_LIMIT + 65536 + 64)
/* A save ends a block at about 1 MiB: a block is built, hashed and copied
 * into the page cache while it is still in the core's cache (16 MiB blocks
 * took 15% more CPU per save; 256 KiB to 2 MiB were alike). */
#define SAVE_BLK     ((size_t)1 << 20)

enum { BLK_NS = 'N', BLK_ENTRIES = 'E', BLK_END = 'Z', BLK_TRAILER = 'T' };


/* Little-endian fields, read and written with one load or store each. */
static void put32(char *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}
static void put64(char *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, 8);
}
static uint32_t get32(const char *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return le32toh(v);
}
static uint64_t get64(const char *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return le64toh(v);
}

/* A namespace found in a snapshot file (a load, or a save keeping it). */
typedef struct load_ns {
	char         name[KV_NS_NAME_MAX + 1];
	kv_ns_config cfg;
	size_t       ns_blk;              /* file offset of its 'N' block */
	size_t       first_blk, end_blk;  /* file offsets of its first entries block and of 'Z' */
	uint64_t     nblocks;             /* 'N' to 'Z', both included */
	uint64_t     entries, live, bytes;
	uint64_t     colls;               /* live collections (built on the calling thread) */
	uint32_t     max_klen, max_vlen;
	/* build */
	uint32_t     target;              /* slot index */
	kv_off       arr;
	uint32_t     nshards;
	bool         created;
} load_ns;

/* ================================================================= save */

/* The temp file being written, shared by a save's threads (WRITING IN
 * PARALLEL below): where the next piece goes, and the trailer's hash and
 * block count, all in file order. */
typedef struct snap_out {
	kv_snap_target *t;
	pthread_mutex_t mu;       /* off, xs, blocks: held only to reserve */
	uint64_t        off;      /* file offset of the next piece */
	XXH3_state_t   *xs;       /* the trailer's: file header and block headers */
	uint64_t        blocks;
	_Atomic int     failed;   /* errno of the first failed write */
} snap_out;

/* Reserve the next n bytes of the file for p, hashing its first hn bytes
 * (a block header; the file header) for the trailer and counting nblocks,
 * then write them there outside the lock.  After a failed write nothing
 * more is written (the save fails), but reservations go on. */
static void out_put(snap_out *o, const void *p, size_t n, size_t hn, uint64_t nblocks)
{
	pthread_mutex_lock(&o->mu);
	uint64_t off = o->off;
	o->off += n;
	if (hn)
		XXH3_64bits_update(o->xs, p, hn);
	o->blocks += nblocks;
	pthread_mutex_unlock(&o->mu);
	if (atomic_load_explicit(&o->failed, memory_order_relaxed))
		return;
	int e = kv_snap_write_at(o->t, p, n, off); /* one call per block, or per kept namespace */
	int z = 0;
	if (e)
		atomic_compare_exchange_strong(&o->failed, &z, e);
}

/* Builds blocks and writes them: one per thread of a save. */
typedef struct snap_writer {
	kv_env   *env;
	snap_out *out;
	kv_buf    blk;      /* payload being built; BLK_HDR bytes reserved in front */
	kv_buf    coll;     /* a collection's record, serialised with no lock */
} snap_writer;

static int blk_begin(snap_writer *w)
{
	w->blk.len = BLK_HDR;
	return kv_buf_reserve(w->env, &w->blk, BLK_HDR + 4096);
}

static int blk_room(snap_writer *w, size_t n)
{
	return kv_buf_reserve(w->env, &w->blk, w->blk.len + n);
}

static void blk_end(snap_writer *w, uint32_t kind)
{
	char *b = w->blk.data;
	size_t len = w->blk.len - BLK_HDR;
	put32(b, kind);
	put32(b + 4, (uint32_t)len);
	put64(b + 8, XXH3_64bits(b + BLK_HDR, len));
	out_put(w->out, b, w->blk.len, BLK_HDR, 1);
	w->blk.len = BLK_HDR;
}

/* One namespace chosen for a save, with its config at the cut. */
typedef struct snap_ns {
	uint32_t     idx;
	kv_nsref     ref;
	kv_ns_config cfg;
	char         name[KV_NS_NAME_MAX + 1];
	uint64_t     written;
} snap_ns;

/*
 * BOUNDED STEPS.  A pending shard is visited in steps, each holding the shard's
 * lock for at most SNAP_STEP home slots of its table (plus the cluster that runs
 * past them) or SNAP_STEP list items, whatever the shard's size and whatever the
 * size of its values: values are never copied under the lock.  That is safe
 * because an entry of the cut (not SNAPNEW) is immutable while its shard is
 * pending: writers copy instead of updating it in place, and keep it on the
 * preserved list instead of freeing it.
 *   1. Table: collect the offsets of the cut entries whose hash lies in the next
 *      range (hash order, as scan.c walks it, so growing tables and deletes
 *      that shift keys back cannot hide one), unlock, serialise them, then
 *      mark them SNAPNEW under the lock: from then on writers may update or
 *      free them like any other entry.  An entry replaced between collection
 *      and mark went to the preserved list, where its mark makes step 2 skip
 *      it (no duplicate).
 *   2. Preserved list: after step 1 every table entry is SNAPNEW, so nothing
 *      more is preserved; serialise the unmarked pre-images in steps, then clear
 *      snap_pending.
 *   3. Free the pre-images in steps, then the list.
 *   4. Clear the SNAPNEW marks in steps (writers ignore them once the shard is
 *      not pending; they must be gone before the next save's cut, and no other
 *      save of this namespace can start before this one releases it).
 */
#define SNAP_STEP 1024u

enum { STEP_COLLECT, STEP_CLEAR };

/* Under sh's lock: walk the home slots [h >> shift, +SNAP_STEP) and the
 * cluster past them, and take the entries whose hash is in [h, end).  The
 * slots are read first and each entry prefetched, so that the flags are then
 * read with their cache misses overlapped.  STEP_COLLECT leaves in out the
 * offsets of the cut entries among them; STEP_CLEAR clears their SNAPNEW
 * marks (those out has no room for as it finds them: clearing never fails).
 * *n is what out needs: if that is more than cap, nothing was collected and
 * the caller redoes the step with room.  Returns end (1 << 32: the last
 * step). */
static uint64_t step_locked(kv_env *env, kv_shard *sh, uint64_t h, int mode, kv_off *out,
                            size_t cap, size_t *n)
{
	_Atomic uint64_t *s = kv_ptr(env, atomic_load_explicit(&sh->table, memory_order_relaxed));
	uint32_t mask = sh->mask, shift = sh->shift;
	uint64_t tcap = (uint64_t)mask + 1, b0 = h >> shift, b1 = b0 + SNAP_STEP;
	if (b1 > tcap)
		b1 = tcap;
	uint64_t end = b1 << shift;
	size_t got = 0;
	for (uint64_t k = 0; k < tcap; k++) {
		uint64_t v = atomic_load_explicit(&s[(b0 + k) & mask], memory_order_relaxed);
		if (!v) {
			if (b0 + k >= b1)
				break;
			continue;
		}
		uint32_t hv = (uint32_t)(v >> 32) & ~1u;
		if (hv < h || hv >= end)
			continue;
		if (got < cap) {
			out[got] = (kv_off)v;
			__builtin_prefetch(kv_ptr(env, (kv_off)v));
		} else if (mode == STEP_CLEAR) { /* no room: clear it now, a miss at a time */
			kv_entry *e = kv_ptr(env, (kv_off)v);
			atomic_fetch_and_explicit(&e->flags, (uint8_t)~KV_E_SNAPNEW, memory_order_relaxed);
			continue;
		}
		got++;
	}
	*n = got;
	if (got > cap)
		return end;
	size_t m = 0;
	for (size_t i = 0; i < got; i++) {
		kv_entry *e = kv_ptr(env, out[i]);
		unsigned f = atomic_load_explicit(&e->flags, memory_order_relaxed);
		if (mode == STEP_CLEAR) {
			if (f & KV_E_SNAPNEW)
				atomic_fetch_and_explicit(&e->flags, (uint8_t)~KV_E_SNAPNEW, memory_order_relaxed);
			/* no view_done here: a header renamed into this shard may still
			 * have its cut's pre-image waiting in a shard not visited yet; a
			 * failed save's views go stale with its cut (snap_live) */
		} else if (!(f & KV_E_SNAPNEW)) {
			out[m++] = out[i];
			if (kv_is_kind(e->type) && sh->owner) /* as of the cut: writes copy on write */
				kv_coll_freeze_locked(env, kv_slot(env, sh->owner - 1), kv_chdr_of(env, e));
		}
	}
	*n = m;
	return end;
}

/* One step of sh from hash h (step_locked under the lock), growing *offs
 * (*cap) when the range holds more entries than it has room for.  Returns the
 * step's end, or 0 when out of memory. */
static uint64_t step(kv_env *env, kv_shard *sh, uint64_t h, int mode, kv_off **offs, size_t *cap,
                     size_t *n)
{
	for (;;) {
		kv_spin_lock(&sh->lock);
		uint64_t end = step_locked(env, sh, h, mode, *offs, *cap, n);
		kv_spin_unlock(&sh->lock);
		if (*n <= *cap)
			return end;
		kv_off *o = kv_mem_realloc(env, *offs, *n * sizeof *o); /* a crowded range */
		if (!o)
			return 0;
		*offs = o;
		*cap = *n;
	}
}

/* Serialise entry e (immutable: see BOUNDED STEPS) into w's block. */
static int put_entry(snap_writer *w, kv_entry *e)
{
	unsigned f = atomic_load_explicit(&e->flags, memory_order_relaxed);
	const char *val = kv_entry_key(e) + e->klen;
	size_t vlen = e->vlen;
	if (kv_is_kind(e->type)) {
		/* frozen when it was collected (the view stays until we mark it
		 * done): its objects are immutable, read with no lock */
		kv_chdr *h = kv_chdr_of(w->env, e), snap;
		memset(&snap, 0, sizeof snap);
		snap.kind = h->kind;
		snap.enc = h->view.enc;
		snap.body = h->view.body;
		snap.card = h->view.card;
		memcpy(snap.aux, h->view.aux, sizeof snap.aux);
		int rc = kv_coll_serialise(w->env, &snap, &w->coll);
		if (rc != KV_OK)
			return rc;
		if (w->coll.len > KV_VALUE_SIZE_LIMIT)
			return KV_EVALSIZE;
		val = w->coll.data;
		vlen = w->coll.len;
	}
	size_t rec = 10 + ((f & KV_E_TTL) ? 8 : 0) + e->klen + vlen;
	int rc = blk_room(w, rec);
	if (rc != KV_OK)
		return rc;
	char *p = w->blk.data + w->blk.len;
	put32(p, e->klen);
	put32(p + 4, (uint32_t)vlen);
	p[8] = (char)e->type;
	p[9] = (char)((f & KV_E_TTL) ? 1 : 0);
	p += 10;
	if (f & KV_E_TTL) {
		put64(p, (uint64_t)kv_entry_expiry(e));
		p += 8;
	}
	memcpy(p, kv_entry_key(e), e->klen);
	memcpy(p + e->klen, val, vlen);
	w->blk.len += rec;
	if (w->blk.len - BLK_HDR >= SAVE_BLK)
		blk_end(w, BLK_ENTRIES);
	return KV_OK;
}

/* Copy one pending shard's cut into w->blk (flushing full blocks) and release the
 * shard from the snapshot, in bounded steps.  With w NULL the cut is only
 * released (after an error). */
static int visit_shard(kv_env *env, kv_shard *sh, snap_writer *w, int64_t cut, uint64_t *written)
{
	int rc = KV_OK;
	size_t cap = 4 * SNAP_STEP, need = 0;
	kv_off *offs = kv_mem_realloc(env, NULL, cap * sizeof *offs);
	if (!offs) {
		rc = KV_ENOMEM;
		w = NULL;
	}
	/* 1. the table's cut entries, hash range by hash range */
	for (uint64_t h = 0, end = 0; w && h < ((uint64_t)1 << 32); h = end) {
		if (!(end = step(env, sh, h, STEP_COLLECT, &offs, &cap, &need))) {
			rc = KV_ENOMEM;
			w = NULL;
			break;
		}
		for (size_t i = 0; i < need && w; i++) {
			if (i + 8 < need) { /* the entries are scattered: fetch ahead */
				char *a = kv_ptr(env, offs[i + 8]);
				/* the step read the first line; an entry of a 100-byte value
				 * spans three more often than not (fetching only the second
				 * left a save 20% more CPU); past that the copy streams */
				__builtin_prefetch(a + 64);
				__builtin_prefetch(a + 128);
			}
			kv_entry *e = kv_ptr(env, offs[i]);
			if (kv_expired(kv_entry_expiry(e), cut))
				continue;
			if ((rc = put_entry(w, e)) != KV_OK)
				w = NULL;
			else
				(*written)++;
		}
		kv_spin_lock(&sh->lock);
		for (size_t i = 0; i < need; i++) {
			kv_entry *e = kv_ptr(env, offs[i]);
			atomic_fetch_or_explicit(&e->flags, (uint8_t)KV_E_SNAPNEW, memory_order_relaxed);
			kv_coll_view_done(env, e);
		}
		kv_spin_unlock(&sh->lock);
	}
	/* 2. the pre-images (a failed save skips to releasing them) */
	for (uint32_t i = 0;;) {
		kv_spin_lock(&sh->lock);
		uint32_t n = sh->npreserved;
		if (i >= n || !w) {
			sh->snap_pending = 0; /* nothing is preserved any more */
			kv_spin_unlock(&sh->lock);
			break;
		}
		uint32_t m = n - i < SNAP_STEP ? n - i : SNAP_STEP;
		memcpy(offs, (kv_off *)kv_ptr(env, sh->preserved) + i, m * sizeof *offs);
		kv_spin_unlock(&sh->lock);
		for (uint32_t k = 0; k < m && w; k++) {
			kv_entry *e = kv_ptr(env, offs[k]);
			unsigned f = atomic_load_explicit(&e->flags, memory_order_relaxed);
			if ((f & KV_E_SNAPNEW) || kv_expired(kv_entry_expiry(e), cut))
				continue;
			if ((rc = put_entry(w, e)) != KV_OK)
				w = NULL;
			else
				(*written)++;
		}
		i += m;
	}
	/* 3. free the pre-images; the shard is not pending, the list is ours */
	for (;;) {
		kv_spin_lock(&sh->lock);
		kv_off *pre = sh->preserved ? kv_ptr(env, sh->preserved) : NULL;
		uint32_t m = sh->npreserved < SNAP_STEP ? sh->npreserved : SNAP_STEP;
		for (uint32_t k = 0; k < m; k++) {
			kv_entry *e = kv_ptr(env, pre[--sh->npreserved]);
			kv_coll_view_done(env, e);
			kv_entry_free(env, e); /* a collection's body is freed later, unlocked */
		}
		bool last = sh->npreserved == 0;
		if (last && sh->preserved) {
			kv_free(env, sh->preserved, (size_t)sh->cappreserved * sizeof(kv_off));
			sh->preserved = 0;
			sh->cappreserved = 0;
		}
		kv_spin_unlock(&sh->lock);
		if (last)
			break;
	}
	/* 4. clear the marks (they must go: step never grows offs for this) */
	if (!offs)
		cap = 0;
	for (uint64_t h = 0; h < ((uint64_t)1 << 32);)
		h = step(env, sh, h, STEP_CLEAR, &offs, &cap, &need);
	kv_mem_realloc(env, offs, 0);
	kv_coll_reap(env);
	return rc;
}

/*
 * SERIALISING IN PARALLEL.  With kv_save_threads' count T > 1, a namespace of
 * at least SAVE_THREADS_MIN keys and 2 shards is copied by the calling thread
 * and T - 1 more: each takes the next shard not taken (visit_shard: the same
 * cut and the same bounded steps, only the copying is spread) and builds its
 * own blocks.
 *
 * WRITING IN PARALLEL.  Each thread writes the blocks it fills itself
 * (out_put): under a mutex it reserves the block's place at the end of the
 * file and hashes its header into the trailer's hash, then writes it there
 * with pwrite.  No thread hands its blocks to another or waits for room in
 * a queue, and a block goes to the kernel while it is still in its core's
 * cache (SAVE_BLK).  (ext4 takes the file's inode lock for each buffered
 * write, so two writes never copy into the page cache at once: the kernel's
 * copy is not spread, only no longer tied to one thread.)  Blocks land in
 * the order they were reserved, which is the order their headers were
 * hashed in; a namespace's 'E' blocks may be in any order between its 'N'
 * and 'Z' (the format says nothing of their order: load and verify read
 * them as they come), its 'N' is reserved before the threads start and its
 * 'Z' after they are joined.  A save holds T block buffers.  The threads
 * block every signal and call nothing of the host but kv_mem_methods (their
 * buffers, collections' records; kv.h says so).  After a failed write or
 * copy every thread only releases the shards it takes from the cut, and the
 * save fails: its temp file is removed.
 */
#define SAVE_THREADS_MIN 16384
#define SAVE_SERIAL      1 /* save_ns_parallel started no thread */

typedef struct save_job {
	kv_env          *env;
	snap_ns         *x;
	int64_t          cut;
	_Atomic uint32_t next;   /* the next shard to take */
	_Atomic int      stop;   /* a copy failed: the rest only release their shards */
} save_job;

/* Copy the shards of j that no thread has taken yet into wp, one at a time. */
static int take_shards(save_job *j, snap_writer *wp, uint64_t *written)
{
	int rc = KV_OK;
	for (;;) {
		uint32_t s = atomic_fetch_add(&j->next, 1);
		if (s >= j->x->cfg.shards)
			return rc;
		if (wp && (atomic_load_explicit(&j->stop, memory_order_relaxed) ||
		           atomic_load_explicit(&wp->out->failed, memory_order_relaxed)))
			wp = NULL;
		if (visit_shard(j->env, kv_ns_shard(&j->x->ref, s), wp, j->cut, written) != KV_OK && wp) {
			rc = KV_ENOMEM;
			wp = NULL;
			atomic_store(&j->stop, 1);
		}
	}
}

typedef struct save_work {
	save_job   *job;
	snap_writer w;
	uint64_t    written;
	int         rc;
	pthread_t   th;
} save_work;

static void *save_worker(void *arg)
{
	save_work *k = arg;
	save_job *j = k->job;
	k->rc = take_shards(j, &k->w, &k->written);
	if (k->rc == KV_OK && !atomic_load(&j->stop) && k->w.blk.len > BLK_HDR)
		blk_end(&k->w, BLK_ENTRIES);
	return NULL;
}

/* Copy x's shards on the calling thread (through w) and nw more (see
 * above).  Returns KV_OK, KV_ENOMEM, or SAVE_SERIAL when no thread could be
 * started (nothing was done: the caller copies x alone). */
static int save_ns_parallel(kv_env *env, snap_ns *x, snap_writer *w, int64_t cut, unsigned nw)
{
	save_job j;
	memset(&j, 0, sizeof j);
	j.env = env;
	j.x = x;
	j.cut = cut;
	save_work *k = kv_mem_realloc(env, NULL, nw * sizeof *k);
	if (!k)
		return SAVE_SERIAL;
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	unsigned started = 0;
	for (unsigned i = 0; i < nw; i++) {
		k[i] = (save_work){.job = &j, .w = {.env = env, .out = w->out}};
		k[i].w.blk = (kv_buf)KV_BUF_INIT;
		k[i].w.coll = (kv_buf)KV_BUF_INIT;
		k[i].w.blk.len = BLK_HDR;
		if (pthread_create(&k[i].th, NULL, save_worker, &k[i]) != 0)
			break;
		started++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	int rc = started ? take_shards(&j, w, &x->written) : SAVE_SERIAL;
	for (unsigned i = 0; i < started; i++) {
		pthread_join(k[i].th, NULL);
		x->written += k[i].written;
		if (k[i].rc != KV_OK)
			rc = k[i].rc;
		kv_buf_free(env, &k[i].w.blk);
		kv_buf_free(env, &k[i].w.coll);
	}
	kv_mem_realloc(env, k, 0);
	return rc;
}

static void release_busy(snap_ns *sel, size_t nsel)
{
	for (size_t i = 0; i < nsel; i++) {
		atomic_store(&sel[i].ref.slot->snap_live, 0); /* views of this cut are stale now */
		atomic_store(&sel[i].ref.slot->busy, 0);
	}
}

/* Write the chosen namespaces (all, or ns) to t, then the namespaces of the
 * file being replaced that keep[0..nkeep) describes (their blocks in old). */
static int save_locked(kv_env *env, const char *ns, kv_snap_target *t, const char *old,
                       const load_ns *keep, size_t nkeep, unsigned threads, kv_error *err)
{
	kv_region *r = env->r;
	/* choose the namespaces and claim them */
	snap_ns *sel = kv_mem_realloc(env, NULL, sizeof *sel * (r->max_ns ? r->max_ns : 1));
	if (!sel)
		return kv_snap_err(err, KV_ENOMEM, 0, "out of memory");
	size_t nsel = 0;
	int rc = KV_OK;
	kv_spin_lock(&r->admin);
	for (uint32_t i = 0; i < r->max_ns; i++) {
		kv_nsslot *sl = kv_slot(env, i);
		if (!sl->live || (ns && strcmp(sl->name, ns) != 0))
			continue;
		uint32_t z = 0;
		if (!atomic_compare_exchange_strong(&sl->busy, &z, 1)) {
			rc = kv_snap_err(err, KV_EBUSY, 0, "namespace \"%s\" is busy with another save, load or resize", sl->name);
			break;
		}
		snap_ns *x = &sel[nsel++];
		x->idx = i;
		x->ref = (kv_nsref){env, sl, atomic_load(&sl->gen), i};
		memcpy(x->name, sl->name, sizeof x->name);
		x->cfg.shards = atomic_load(&sl->nshards);
		x->cfg.max_keys = atomic_load(&sl->max_keys);
		x->cfg.max_memory = atomic_load(&sl->max_memory);
		x->cfg.default_ttl_ms = atomic_load(&sl->default_ttl);
		x->cfg.max_key_size = atomic_load(&sl->max_key_size);
		x->cfg.max_value_size = atomic_load(&sl->max_value_size);
		x->cfg.eviction = atomic_load(&sl->eviction);
		x->written = 0;
	}
	if (rc == KV_OK && ns && nsel == 0)
		rc = kv_snap_err(err, KV_ENONS, 0, "namespace \"%s\" does not exist", ns);
	if (rc != KV_OK) {
		release_busy(sel, nsel);
		kv_spin_unlock(&r->admin);
		kv_mem_realloc(env, sel, 0);
		return rc;
	}
	/* the cut: every shard of every chosen namespace, in lock order */
	uint64_t dirty_cut = 0;
	for (size_t i = 0; i < nsel; i++)
		for (uint32_t s = 0; s < sel[i].cfg.shards; s++)
			kv_spin_lock(&kv_ns_shard(&sel[i].ref, s)->lock);
	int64_t cut = kv_now_ms();
	for (size_t i = 0; i < nsel; i++) { /* collections frozen from now on belong to this cut */
		atomic_fetch_add(&sel[i].ref.slot->snap_gen, 1);
		atomic_store(&sel[i].ref.slot->snap_live, 1);
	}
	for (size_t i = 0; i < nsel; i++)
		kv_redo_ns(env, sel[i].ref.slot, KV_REDO_CUT);
	for (size_t i = 0; i < nsel; i++)
		for (uint32_t s = 0; s < sel[i].cfg.shards; s++) {
			kv_shard *sh = kv_ns_shard(&sel[i].ref, s);
			sh->snap_pending = 1;
			dirty_cut += atomic_load_explicit(&sh->dirty, memory_order_relaxed);
		}
	for (size_t i = nsel; i-- > 0;)
		for (uint32_t s = sel[i].cfg.shards; s-- > 0;)
			kv_spin_unlock(&kv_ns_shard(&sel[i].ref, s)->lock);
	kv_spin_unlock(&r->admin);

	/* write */
	snap_out out = {.t = t};
	pthread_mutex_init(&out.mu, NULL);
	snap_writer w = {.env = env, .out = &out};
	w.blk = (kv_buf)KV_BUF_INIT;
	w.coll = (kv_buf)KV_BUF_INIT;
	out.xs = XXH3_createState();
	if (!out.xs || blk_begin(&w) != KV_OK)
		rc = kv_snap_err(err, KV_ENOMEM, 0, "out of memory");
	else
		rc = kv_snap_create(t, err);
	if (out.xs)
		XXH3_64bits_reset(out.xs);
	if (rc == KV_OK) {
		char h[SNAP_HDR];
		memcpy(h, SNAP_MAGIC, 8);
		put32(h + 8, SNAP_VERSION);
		put32(h + 12, 0);
		put64(h + 16, (uint64_t)cut);
		put32(h + 24, (uint32_t)(nsel + nkeep));
		put32(h + 28, (uint32_t)XXH3_64bits(h, 28));
		out_put(&out, h, sizeof h, sizeof h, 0);
	}
	for (size_t i = 0; i < nsel; i++) {
		snap_ns *x = &sel[i];
		snap_writer *wp = rc == KV_OK ? &w : NULL;
		if (wp) {
			size_t nl = strlen(x->name);
			if (blk_room(wp, 1 + nl + 48) != KV_OK) {
				rc = kv_snap_err(err, KV_ENOMEM, 0, "out of memory");
				wp = NULL;
			} else {
				char *p = w.blk.data + w.blk.len;
				p[0] = (char)nl;
				memcpy(p + 1, x->name, nl);
				p += 1 + nl;
				put32(p, x->cfg.shards);
				put64(p + 4, x->cfg.max_keys);
				put64(p + 12, x->cfg.max_memory);
				put64(p + 20, (uint64_t)x->cfg.default_ttl_ms);
				put32(p + 28, x->cfg.max_key_size);
				put32(p + 32, x->cfg.max_value_size);
				put32(p + 36, (uint32_t)x->cfg.eviction);
				w.blk.len += 1 + nl + 40;
				blk_end(&w, BLK_NS);
			}
		}
		unsigned nw = threads - 1 < x->cfg.shards - 1 ? threads - 1 : x->cfg.shards - 1;
		int prc = SAVE_SERIAL;
		if (wp && nw >= 1 && x->cfg.shards > 1 && atomic_load(&x->ref.slot->keys) >= SAVE_THREADS_MIN)
			prc = save_ns_parallel(env, x, wp, cut, nw);
		if (prc == KV_ENOMEM) {
			rc = kv_snap_err(err, KV_ENOMEM, 0, "out of memory while copying namespace \"%s\"", x->name);
			wp = NULL;
		}
		for (uint32_t s = 0; prc == SAVE_SERIAL && s < x->cfg.shards; s++) {
			kv_shard *sh = kv_ns_shard(&x->ref, s);
			if (visit_shard(env, sh, wp, cut, &x->written) != KV_OK && wp) {
				rc = kv_snap_err(err, KV_ENOMEM, 0, "out of memory while copying namespace \"%s\"", x->name);
				wp = NULL;
			}
		}
		if (wp) {
			if (w.blk.len > BLK_HDR)
				blk_end(&w, BLK_ENTRIES);
			put64(w.blk.data + w.blk.len, x->written);
			w.blk.len += 8;
			blk_end(&w, BLK_END);
		}
	}
	release_busy(sel, nsel);
	/* the other namespaces of the file, verified before, copied as they are
	 * (one thread again: their block headers are hashed here, in order) */
	for (size_t k = 0; k < nkeep && rc == KV_OK; k++) {
		for (size_t o = keep[k].ns_blk; o <= keep[k].end_blk; o += BLK_HDR + get32(old + o + 4))
			XXH3_64bits_update(out.xs, old + o, BLK_HDR);
		out_put(&out, old + keep[k].ns_blk, keep[k].end_blk + BLK_HDR + 8 - keep[k].ns_blk, 0,
		        keep[k].nblocks);
	}
	if (rc == KV_OK) {
		char tr[BLK_HDR + 16];
		put32(tr, BLK_TRAILER);
		put32(tr + 4, 16);
		put64(tr + BLK_HDR, out.blocks);
		put64(tr + BLK_HDR + 8, XXH3_64bits_digest(out.xs));
		put64(tr + 8, XXH3_64bits(tr + BLK_HDR, 16));
		out_put(&out, tr, sizeof tr, 0, 0);
		if (out.failed)
			rc = kv_snap_write_failed(t, out.failed, err);
	}
	if (rc == KV_OK)
		rc = kv_snap_commit(t, err);
	else
		kv_snap_abort(t);
	if (rc == KV_OK && !ns) {
		atomic_store(&r->last_save, cut);
		atomic_store(&r->dirty_at_save, dirty_cut);
	}
	if (out.xs)
		XXH3_freeState(out.xs);
	pthread_mutex_destroy(&out.mu);
	kv_buf_free(env, &w.blk);
	kv_buf_free(env, &w.coll);
	kv_mem_realloc(env, sel, 0);
	return rc;
}

static void err_init(kv_error *err)
{
	if (err) {
		memset(err, 0, sizeof *err);
		err->item = (size_t)-1;
	}
}

/* Prefix err->msg with context, keeping the code. */
static void err_wrap(kv_error *err, const char *fmt, const char *shown)
{
	if (err) {
		char m[sizeof err->msg];
		memcpy(m, err->msg, sizeof m);
		snprintf(err->msg, sizeof err->msg, fmt, shown, m);
	}
}

static int verify(const char *f, size_t size, int64_t now, load_ns *nss, size_t cap, size_t *n, kv_error *err);
static int walk_entries(const char *p, size_t len, size_t fileoff, kv_error *err,
                        int (*fn)(void *, const char *, uint32_t, const char *, uint32_t, int, int64_t),
                        void *ctx, uint64_t *count);

/* Kept blocks are copied as they are into a file of this version, where a tag
 * 16..19 names a collection; in a version 1 file it was a string's.  So before
 * they are kept, retag such strings KV_T_BYTES (as a load of the old file
 * would) and rehash their blocks.  The file was verified: records are whole. */
static void retag_v1_strings(char *f, const load_ns *keep, size_t nkeep)
{
	for (size_t k = 0; k < nkeep; k++) {
		for (size_t o = keep[k].first_blk; o < keep[k].end_blk; o += BLK_HDR + get32(f + o + 4)) {
			if (get32(f + o) != BLK_ENTRIES)
				continue;
			char *p = f + o + BLK_HDR, *end = p + get32(f + o + 4);
			int changed = 0;
			while (p < end) {
				uint32_t klen = get32(p), vlen = get32(p + 4);
				if (kv_is_kind((unsigned char)p[8])) {
					p[8] = (char)KV_T_BYTES;
					changed = 1;
				}
				p += 10 + ((p[9] & 1) ? 8 : 0) + (size_t)klen + vlen;
			}
			if (changed)
				put64(f + o + 8, XXH3_64bits(f + o + BLK_HDR, get32(f + o + 4)));
		}
	}
}

/* Parse and check an 'N' payload at file offset o into x (a load's verify
 * and a save's read of the namespaces it keeps). */
static int ns_block_parse(const char *p, uint32_t len, size_t o, load_ns *x, kv_error *err)
{
	size_t nl = len ? (unsigned char)p[0] : 0;
	if (len != 1 + nl + 40 || nl == 0 || nl > KV_NS_NAME_MAX)
		return kv_snap_err(err, KV_ECORRUPT, 0, "malformed namespace block at byte %zu", o);
	memset(x, 0, sizeof *x);
	memcpy(x->name, p + 1, nl);
	if (kv_ns_valid_name(x->name) != KV_OK)
		return kv_snap_err(err, KV_ECORRUPT, 0, "invalid namespace name in block at byte %zu", o);
	const char *c = p + 1 + nl;
	x->cfg.shards = get32(c);
	x->cfg.max_keys = get64(c + 4);
	x->cfg.max_memory = get64(c + 12);
	x->cfg.default_ttl_ms = (int64_t)get64(c + 20);
	x->cfg.max_key_size = get32(c + 28);
	x->cfg.max_value_size = get32(c + 32);
	x->cfg.eviction = (int)get32(c + 36);
	if (x->cfg.shards == 0 || x->cfg.shards > KV_MAX_SHARDS || kv_ns_check_config(&x->cfg) != KV_OK)
		return kv_snap_err(err, KV_ECORRUPT, 0, "invalid configuration for namespace \"%s\"", x->name);
	x->ns_blk = o;
	x->first_blk = o + BLK_HDR + len;
	x->nblocks = 1;
	return KV_OK;
}

/* The structure of a version 3 file (fd, size bytes), read without its
 * entries: the file header, every block header (what its trailer hashes),
 * the 'N', 'Z' and 'T' payloads.  Fills nss[0..*n) with each namespace's
 * blocks and the entry count its 'Z' claims. */
static int keep_walk(kv_snap_target *t, int fd, size_t size, load_ns *nss, size_t cap, size_t *n,
                     kv_error *err)
{
	char h[SNAP_HDR], b[BLK_HDR + 1 + KV_NS_NAME_MAX + 40];
	int rc = kv_snap_pread(t, fd, h, SNAP_HDR, 0, err);
	if (rc != KV_OK)
		return rc;
	if (get32(h + 12) != 0)
		return kv_snap_err(err, KV_EFORMAT, 0, "unsupported snapshot flags");
	uint32_t nns = get32(h + 24);
	XXH3_state_t hs;
	XXH3_64bits_reset(&hs);
	XXH3_64bits_update(&hs, h, SNAP_HDR);
	size_t o = SNAP_HDR, count = 0;
	uint64_t blocks = 0;
	load_ns *cur = NULL;
	for (;;) {
		if (size - o < BLK_HDR)
			return kv_snap_err(err, KV_ECORRUPT, 0, "file truncated at byte %zu (block header expected)", o);
		if ((rc = kv_snap_pread(t, fd, b, BLK_HDR, o, err)) != KV_OK)
			return rc;
		uint32_t kind = get32(b), len = get32(b + 4);
		const char *p = b + BLK_HDR;
		if (len > size - o - BLK_HDR)
			return kv_snap_err(err, KV_ECORRUPT, 0, "file truncated: block at byte %zu claims %u bytes", o, len);
		if (kind != BLK_ENTRIES) { /* a small payload: read and check it */
			if (len > sizeof b - BLK_HDR)
				return kv_snap_err(err, KV_ECORRUPT, 0, "malformed block at byte %zu", o);
			if ((rc = kv_snap_pread(t, fd, b + BLK_HDR, len, o + BLK_HDR, err)) != KV_OK)
				return rc;
			if (XXH3_64bits(p, len) != get64(b + 8))
				return kv_snap_err(err, KV_ECORRUPT, 0, "checksum mismatch in block at byte %zu", o);
		}
		if (kind == BLK_TRAILER) {
			if (len != 16 || cur || get64(p) != blocks || get64(p + 8) != XXH3_64bits_digest(&hs))
				return kv_snap_err(err, KV_ECORRUPT, 0, "trailer at byte %zu does not match the blocks before it", o);
			if (o + BLK_HDR + len != size)
				return kv_snap_err(err, KV_ECORRUPT, 0, "%zu unexpected bytes after the trailer", size - (o + BLK_HDR + len));
			break;
		}
		blocks++;
		XXH3_64bits_update(&hs, b, BLK_HDR);
		if (kind == BLK_NS) {
			if (cur)
				return kv_snap_err(err, KV_ECORRUPT, 0, "namespace block at byte %zu inside another namespace", o);
			if (count == nns || count == cap)
				return kv_snap_err(err, KV_ECORRUPT, 0, "more namespaces than the header's %u", nns);
			cur = &nss[count];
			if ((rc = ns_block_parse(p, len, o, cur, err)) != KV_OK)
				return rc;
			for (size_t d = 0; d < count; d++)
				if (strcmp(nss[d].name, cur->name) == 0)
					return kv_snap_err(err, KV_ECORRUPT, 0, "namespace \"%s\" appears twice (again at byte %zu)", cur->name, o);
			count++;
		} else if (kind == BLK_ENTRIES) {
			if (!cur)
				return kv_snap_err(err, KV_ECORRUPT, 0, "entries block at byte %zu outside a namespace", o);
			cur->nblocks++;
		} else if (kind == BLK_END) {
			if (!cur || len != 8)
				return kv_snap_err(err, KV_ECORRUPT, 0, "malformed end-of-namespace block at byte %zu", o);
			cur->entries = get64(p); /* what the namespace claims: checked if it is kept */
			cur->end_blk = o;
			cur->nblocks++;
			cur = NULL;
		} else {
			return kv_snap_err(err, KV_ECORRUPT, 0, "unknown block kind %u at byte %zu", kind, o);
		}
		o += BLK_HDR + len;
	}
	if (count != nns)
		return kv_snap_err(err, KV_ECORRUPT, 0, "header promises %u namespaces, file has %zu", nns, count);
	*n = count;
	return KV_OK;
}

/* Check one kept namespace x, read into f (its blocks, 'N' to 'Z', at
 * x->ns_blk, file offset fo): every block's checksum, every entry's lengths
 * and flags (walk_entries), its entry count.  The bytes checked are the
 * bytes copied: keep_walk read the file earlier. */
static int keep_check(const char *f, const load_ns *x, size_t fo, kv_error *err)
{
	uint64_t entries = 0;
	for (size_t o = x->ns_blk;; o += BLK_HDR + get32(f + o + 4)) {
		uint32_t kind = get32(f + o), len = get32(f + o + 4);
		size_t at = fo + (o - x->ns_blk);
		size_t lim = o == x->end_blk ? x->end_blk + BLK_HDR + 8 : x->end_blk; /* 'Z' is last */
		if (o + BLK_HDR + (size_t)len > lim || (o == x->end_blk) != (kind == BLK_END) ||
		    (o == x->ns_blk) != (kind == BLK_NS))
			return kv_snap_err(err, KV_ECORRUPT, 0, "namespace \"%s\" changed while it was read (block at byte %zu)", x->name, at);
		const char *p = f + o + BLK_HDR;
		if (XXH3_64bits(p, len) != get64(f + o + 8))
			return kv_snap_err(err, KV_ECORRUPT, 0, "namespace \"%s\": checksum mismatch in block at byte %zu", x->name, at);
		if (kind == BLK_NS && ((unsigned char)p[0] != strlen(x->name) || memcmp(p + 1, x->name, (unsigned char)p[0])))
			return kv_snap_err(err, KV_ECORRUPT, 0, "namespace \"%s\" changed while it was read", x->name);
		if (kind == BLK_ENTRIES) {
			int rc = walk_entries(p, len, at + BLK_HDR, err, NULL, NULL, &entries);
			if (rc != KV_OK)
				return rc;
		} else if (kind == BLK_END) {
			if (get64(p) != entries)
				return kv_snap_err(err, KV_ECORRUPT, 0, "namespace \"%s\" should hold %llu entries, file has %llu", x->name,
				                   (unsigned long long)get64(p), (unsigned long long)entries);
			return KV_OK;
		} else if (kind != BLK_NS) {
			return kv_snap_err(err, KV_ECORRUPT, 0, "namespace \"%s\" changed while it was read", x->name);
		}
	}
}

/* Version 3: keep the namespaces other than ns of the file at fd (size
 * bytes).  Only what is kept is read whole; *old holds the kept namespaces'
 * blocks back to back, keep[] their offsets in it. */
static int keep_v3(kv_env *env, kv_snap_target *t, int fd, size_t size, const char *ns, char **old,
                   load_ns **keep, size_t *nkeep, kv_error *err)
{
	char h[SNAP_HDR];
	int rc = kv_snap_pread(t, fd, h, SNAP_HDR, 0, err);
	if (rc != KV_OK)
		return rc;
	size_t cap = get32(h + 24);
	if (cap > size / (BLK_HDR + 42))
		cap = size / (BLK_HDR + 42);
	load_ns *nss = kv_mem_realloc(env, NULL, sizeof *nss * (cap + 1));
	size_t n = 0, m = 0, total = 0;
	char *f = NULL;
	if (!nss)
		return kv_snap_err(err, KV_ENOMEM, 0, "out of memory");
	if ((rc = keep_walk(t, fd, size, nss, cap + 1, &n, err)) != KV_OK)
		goto fail;
	for (size_t k = 0; k < n; k++)
		if (strcmp(nss[k].name, ns) != 0) {
			nss[m++] = nss[k];
			total += nss[k].end_blk + BLK_HDR + 8 - nss[k].ns_blk;
		}
	if (m && !(f = kv_mem_realloc(env, NULL, total))) {
		rc = kv_snap_err(err, KV_ENOMEM, 0, "out of memory");
		goto fail;
	}
	for (size_t k = 0, pos = 0; k < m; k++) {
		load_ns *x = &nss[k];
		size_t len = x->end_blk + BLK_HDR + 8 - x->ns_blk, fo = x->ns_blk;
		if ((rc = kv_snap_pread(t, fd, f + pos, len, fo, err)) != KV_OK)
			goto fail;
		x->first_blk = pos + (x->first_blk - fo);
		x->end_blk = pos + (x->end_blk - fo);
		x->ns_blk = pos;
		if ((rc = keep_check(f, x, fo, err)) != KV_OK)
			goto fail;
		pos += len;
	}
	*old = f;
	*keep = nss;
	*nkeep = m;
	return KV_OK;
fail:
	kv_mem_realloc(env, f, 0);
	kv_mem_realloc(env, nss, 0);
	return rc;
}

/* Versions 1 and 2 (the trailer hashes every byte): read and verify the
 * whole file, as a load would, and keep the namespaces other than ns. */
static int keep_old(kv_env *env, kv_snap_target *t, const char *ns, char **old, load_ns **keep,
                    size_t *nkeep, kv_error *err)
{
	char *f = NULL;
	size_t size = 0;
	int rc = kv_snap_read(t, env->size * 2 + ((size_t)1 << 20), &f, &size, err);
	if (rc != KV_OK)
		return rc;
	size_t cap = get32(f + 24);
	if (cap > size / (BLK_HDR + 42))
		cap = size / (BLK_HDR + 42);
	load_ns *nss = kv_mem_realloc(env, NULL, sizeof *nss * (cap + 1));
	size_t n = 0;
	if (!nss)
		rc = kv_snap_err(err, KV_ENOMEM, 0, "out of memory");
	else
		rc = verify(f, size, kv_now_ms(), nss, cap + 1, &n, err);
	if (rc != KV_OK) {
		kv_mem_realloc(env, nss, 0);
		kv_mem_realloc(env, f, 0);
		return rc;
	}
	size_t m = 0;
	for (size_t k = 0; k < n; k++)
		if (strcmp(nss[k].name, ns) != 0)
			nss[m++] = nss[k];
	if (get32(f + 8) < 2)
		retag_v1_strings(f, nss, m);
	*old = f;
	*keep = nss;
	*nkeep = m;
	return KV_OK;
}

/* A save of one namespace keeps the file's other namespaces (kv.h, WHICH
 * NAMESPACES A FILE KEEPS): list them in *keep, their blocks in *old.  No
 * file (or an empty one) keeps nothing; one whose structure or kept
 * namespaces do not check out fails the save, so it is never destroyed. */
static int merge_source(kv_env *env, kv_snap_target *t, const char *ns, char **old,
                        load_ns **keep, size_t *nkeep, kv_error *err)
{
	int fd = -1;
	size_t size = 0;
	int rc = kv_snap_open_keep(t, env->size * 2 + ((size_t)1 << 20), &fd, &size, err);
	if (rc == KV_NOTFOUND) {
		err_init(err);
		return KV_OK;
	}
	char h[SNAP_HDR];
	if (rc == KV_OK && size > 0) {
		if (size < SNAP_HDR || (rc = kv_snap_pread(t, fd, h, SNAP_HDR, 0, err)) != KV_OK ||
		    memcmp(h, SNAP_MAGIC, 8) != 0)
			rc = rc != KV_OK ? rc : kv_snap_err(err, KV_EFORMAT, 0, "not a shardkv snapshot (bad magic)");
		else if ((uint32_t)XXH3_64bits(h, 28) != get32(h + 28))
			rc = kv_snap_err(err, KV_ECORRUPT, 0, "file header checksum mismatch");
		else if (get32(h + 8) < 1 || get32(h + 8) > SNAP_VERSION)
			rc = kv_snap_err(err, KV_EFORMAT, 0, "unsupported snapshot version %u (this build reads %u)", get32(h + 8), SNAP_VERSION);
		else if (get32(h + 8) == 3)
			rc = keep_v3(env, t, fd, size, ns, old, keep, nkeep, err);
		else
			rc = keep_old(env, t, ns, old, keep, nkeep, err);
	}
	if (fd >= 0)
		close(fd);
	if (rc != KV_OK) /* as the message says: an invalid file, or one that could not be read */
		err_wrap(err, rc == KV_ECORRUPT || rc == KV_EFORMAT
		                  ? "snapshot \"%s\" exists and is not valid, so it was left as it is (it may hold "
		                    "other namespaces): %s"
		                  : "cannot keep the other namespaces of \"%s\": %s", t->shown);
	return rc;
}

static int save_impl(kv_env *env, const char *ns, const char *dir, const char *name, unsigned threads,
                     kv_error *err)
{
	err_init(err);
	if (ns && kv_ns_valid_name(ns) != KV_OK)
		return kv_snap_err(err, KV_ENSNAME, 0, "invalid namespace name");
	uint32_t idx, gen;
	if (ns && kv_ns_find_slot(env, ns, &idx, &gen) != KV_OK) /* before reading a file to merge */
		return kv_snap_err(err, KV_ENONS, 0, "namespace \"%s\" does not exist", ns);
	kv_snap_target t;
	int rc = kv_snap_resolve(env, dir, name, &t, err);
	if (rc != KV_OK)
		return rc;
	char *old = NULL;
	load_ns *keep = NULL;
	size_t nkeep = 0;
	rc = kv_snap_lock(&t, err);
	if (rc == KV_OK && ns)
		rc = merge_source(env, &t, ns, &old, &keep, &nkeep, err);
	if (rc == KV_OK)
		rc = save_locked(env, ns, &t, old, keep, nkeep, threads, err);
	kv_snap_close(&t);
	kv_mem_realloc(env, keep, 0);
	kv_mem_realloc(env, old, 0);
	return rc;
}

KV_API int kv_save(kv_env *env, const char *ns, const char *path, kv_error *err)
{
	return save_impl(env, ns, NULL, path, 1, err);
}

KV_API int kv_save_at(kv_env *env, const char *ns, const char *dir, const char *name, kv_error *err)
{
	if (!dir) {
		err_init(err);
		return kv_snap_err(err, KV_EINVAL, 0, "snapshot directory is empty");
	}
	return save_impl(env, ns, dir, name, 1, err);
}

KV_API int kv_save_threads(kv_env *env, const char *ns, const char *dir, const char *name, unsigned threads,
                           kv_error *err)
{
	if (threads == 0) {
		long c = sysconf(_SC_NPROCESSORS_ONLN);
		threads = c > 0 ? (unsigned)c : 1;
	}
	return save_impl(env, ns, dir, name, threads > KV_SAVE_THREADS_MAX ? KV_SAVE_THREADS_MAX : threads, err);
}

/* ================================================================= load */

#define CORRUPT(...) kv_snap_err(err, KV_ECORRUPT, 0, __VA_ARGS__)

/* Walk every entry of one 'E' payload; fn NULL only validates. */
typedef int (*entry_fn)(void *ctx, const char *key, uint32_t klen, const char *val, uint32_t vlen,
                        int type, int64_t exp);

/* The entries of p[0, len) that start at *at and end within the first
 * `avail` bytes (the rest is still being read); *at moves past them. */
static int walk_some(const char *p, size_t len, size_t avail, size_t *at, size_t fileoff, kv_error *err,
                     entry_fn fn, void *ctx, uint64_t *count)
{
	size_t o = *at;
	while (o < len) {
		size_t e = o; /* the entry's first byte */
		if (avail - e < 18 && avail < len && (avail - e < 10 || (p[e + 9] & 1)))
			break; /* its header is not all in yet */
		if (len - o < 10)
			return CORRUPT("entry header truncated at byte %zu", fileoff + o);
		uint32_t kl = get32(p + o), vl = get32(p + o + 4);
		int type = (unsigned char)p[o + 8];
		unsigned fl = (unsigned char)p[o + 9];
		o += 10;
		int64_t exp = 0;
		if (fl & ~1u)
			return CORRUPT("entry at byte %zu has unknown flags %u", fileoff + o - 10, fl);
		if (fl & 1) {
			if (len - o < 8)
				return CORRUPT("entry expiry truncated at byte %zu", fileoff + o);
			exp = (int64_t)get64(p + o);
			o += 8;
			if (exp <= 0)
				return CORRUPT("entry at byte %zu has an invalid expiry", fileoff + o);
		}
		if (kl > KV_KEY_SIZE_LIMIT) /* 0 is the empty key */
			return CORRUPT("entry at byte %zu has an invalid key length %u", fileoff + o, kl);
		if (vl > KV_VALUE_SIZE_LIMIT || (size_t)kl + vl > len - o)
			return CORRUPT("entry at byte %zu has a length past the end of its block", fileoff + o);
		if (o + kl + vl > avail) {
			o = e;
			break;
		}
		if (fn) {
			int rc = fn(ctx, p + o, kl, p + o + kl, vl, type, exp);
			if (rc != KV_OK)
				return rc;
		}
		o += (size_t)kl + vl;
		(*count)++;
	}
	*at = o;
	return KV_OK;
}

static int walk_entries(const char *p, size_t len, size_t fileoff, kv_error *err, entry_fn fn,
                        void *ctx, uint64_t *count)
{
	size_t at = 0;
	return walk_some(p, len, len, &at, fileoff, err, fn, ctx, count);
}

/* A live entry in its namespace's figures (what the limits are checked on). */
static void count_live(load_ns *x, uint32_t klen, uint32_t vlen, int type, int64_t exp)
{
	x->live++;
	x->colls += kv_is_kind(type);
	x->bytes += kv_alloc_size(kv_entry_size(klen, vlen, exp ? KV_E_TTL : 0));
	if (klen > x->max_klen)
		x->max_klen = klen;
	if (vlen > x->max_vlen && !kv_is_kind(type)) /* a collection's record is not a value */
		x->max_vlen = vlen;
}

typedef struct stat_ctx {
	load_ns *ns;
	int64_t  now;
} stat_ctx;

static int stat_entry(void *ctx, const char *key, uint32_t klen, const char *val, uint32_t vlen,
                      int type, int64_t exp)
{
	(void)key;
	(void)val;
	stat_ctx *c = ctx;
	if (!kv_expired(exp, c->now))
		count_live(c->ns, klen, vlen, type, exp);
	return KV_OK;
}

/* The file header f[0, SNAP_HDR) (size: the file's); *ver and *nns from it. */
static int check_file_header(const char *f, size_t size, uint32_t *ver, uint32_t *nns, kv_error *err)
{
	if (size < SNAP_HDR || memcmp(f, SNAP_MAGIC, 8) != 0)
		return kv_snap_err(err, KV_EFORMAT, 0, "not a shardkv snapshot (bad magic)");
	if ((uint32_t)XXH3_64bits(f, 28) != get32(f + 28))
		return CORRUPT("file header checksum mismatch");
	*ver = get32(f + 8);
	if (*ver < 1 || *ver > SNAP_VERSION)
		return kv_snap_err(err, KV_EFORMAT, 0, "unsupported snapshot version %u (this build reads %u)", *ver, SNAP_VERSION);
	*nns = get32(f + 24);
	if (get32(f + 12) != 0)
		return kv_snap_err(err, KV_EFORMAT, 0, "unsupported snapshot flags");
	return KV_OK;
}

/* The 'N' block at file offset o (payload p): the namespace nss[*count]. */
static int parse_ns_block(const char *p, uint32_t len, size_t o, load_ns *nss, size_t *count,
                          size_t cap, uint32_t nns, kv_error *err)
{
	if (*count == nns || *count == cap)
		return CORRUPT("more namespaces than the header's %u", nns);
	load_ns *cur = &nss[*count];
	int rc = ns_block_parse(p, len, o, cur, err);
	if (rc != KV_OK)
		return rc;
	/* no lock held; count <= cap, the store's max_namespaces (1024 by default) */
	for (size_t d = 0; d < *count; d++)
		if (strcmp(nss[d].name, cur->name) == 0)
			return CORRUPT("namespace \"%s\" appears twice (again at byte %zu)", cur->name, o);
	(*count)++;
	return KV_OK;
}

static int check_end_block(load_ns *cur, const char *p, uint32_t len, size_t o, kv_error *err)
{
	if (!cur || len != 8)
		return CORRUPT("malformed end-of-namespace block at byte %zu", o);
	if (get64(p) != cur->entries)
		return CORRUPT("namespace \"%s\" should hold %llu entries, file has %llu", cur->name, (unsigned long long)get64(p), (unsigned long long)cur->entries);
	cur->end_blk = o;
	cur->nblocks++;
	return KV_OK;
}

/* The trailer at o, payload p; sum: the file's hash (the headers' from version 3). */
static int check_trailer(const char *p, uint32_t len, size_t o, size_t size, bool in_ns, uint64_t blocks,
                         uint64_t sum, kv_error *err)
{
	if (len != 16 || in_ns)
		return CORRUPT("malformed trailer at byte %zu", o);
	if (get64(p) != blocks)
		return CORRUPT("trailer counts %llu blocks, file has %llu", (unsigned long long)get64(p), (unsigned long long)blocks);
	if (get64(p + 8) != sum)
		return CORRUPT("whole-file checksum mismatch");
	if (o + BLK_HDR + len != size)
		return CORRUPT("%zu unexpected bytes after the trailer", size - (o + BLK_HDR + len));
	return KV_OK;
}

/* Parse and verify the whole image f (a save keeping the other namespaces of
 * the file it replaces); fill nss (cap entries) and *n.  A load checks the
 * same, block by block as it reads (load_file). */
static int verify(const char *f, size_t size, int64_t now, load_ns *nss, size_t cap, size_t *n, kv_error *err)
{
	uint32_t ver, nns;
	int rc = check_file_header(f, size, &ver, &nns, err);
	if (rc != KV_OK)
		return rc;
	size_t o = SNAP_HDR, count = 0;
	uint64_t blocks = 0;
	load_ns *cur = NULL;
	stat_ctx sc = {NULL, now};
	XXH3_state_t hs; /* version 3's trailer hash: the file header and the block headers */
	XXH3_64bits_reset(&hs);
	XXH3_64bits_update(&hs, f, SNAP_HDR);
	for (;;) {
		if (size - o < BLK_HDR)
			return CORRUPT("file truncated at byte %zu (block header expected)", o);
		uint32_t kind = get32(f + o), len = get32(f + o + 4);
		if (len > size - o - BLK_HDR)
			return CORRUPT("file truncated: block at byte %zu claims %u bytes", o, len);
		const char *p = f + o + BLK_HDR;
		if (XXH3_64bits(p, len) != get64(f + o + 8))
			return CORRUPT("checksum mismatch in block at byte %zu", o);
		if (kind == BLK_TRAILER) {
			rc = check_trailer(p, len, o, size, cur, blocks, ver >= 3 ? XXH3_64bits_digest(&hs) : XXH3_64bits(f, o), err);
			if (rc != KV_OK)
				return rc;
			break;
		}
		blocks++;
		XXH3_64bits_update(&hs, f + o, BLK_HDR);
		switch (kind) {
		case BLK_NS:
			if (cur)
				return CORRUPT("namespace block at byte %zu inside another namespace", o);
			if ((rc = parse_ns_block(p, len, o, nss, &count, cap, nns, err)) != KV_OK)
				return rc;
			sc.ns = cur = &nss[count - 1];
			break;
		case BLK_ENTRIES:
			if (!cur)
				return CORRUPT("entries block at byte %zu outside a namespace", o);
			if ((rc = walk_entries(p, len, o + BLK_HDR, err, stat_entry, &sc, &cur->entries)) != KV_OK)
				return rc;
			cur->nblocks++;
			break;
		case BLK_END:
			if ((rc = check_end_block(cur, p, len, o, err)) != KV_OK)
				return rc;
			cur = NULL;
			break;
		default:
			return CORRUPT("unknown block kind %u at byte %zu", kind, o);
		}
		o += BLK_HDR + len;
	}
	if (count != nns)
		return CORRUPT("header promises %u namespaces, file has %zu", nns, count);
	*n = count;
	return KV_OK;
}

/*
 * LOADING WHILE READING.  The calling thread reads the file's structure: each
 * block header at its offset (hashed for the trailer), and the small blocks
 * ('N', 'Z', 'T') whole.  An 'E' block of a namespace becomes a job on a slot
 * (ld_slot: a buffer and the arrays its job fills, all allocated here), and
 * the calling thread reads on.  Jobs are taken in order by whoever is free:
 * the builder threads (kv_load_threads' count less one) and the calling
 * thread itself whenever it would otherwise wait (for a slot, or at the end),
 * so a builder the scheduler keeps off a core delays nothing; with one thread
 * the calling thread runs each job as it posts it.  A block's job reads its
 * payload with pread, 256 KiB at a time, and hashes, walks (lengths, expiry,
 * a record per live entry: its key's hash and shard) and builds each piece
 * while it is in that thread's cache, so the kernel's copy, the checksum and
 * the walk are spread over the threads as the building is.  Entries are made
 * before the block's checksum is known (nothing is published; a bad block's
 * are freed), from a carve of slab pages of the job's own (kv_carve: one
 * page-allocator lock per 64 KiB page, no class lock per entry), handed back
 * when the job ends.
 *
 * Blocks are retired by the calling thread in file order (retire_block): the
 * first bad block (a read, its checksum, an entry: the checksum's error first
 * within a block) ends the load with its error, since a reader from the start
 * would have met it first, and any error the calling thread found itself is
 * later in the file; a job after a bad block skips its work (pool.cut).  A
 * block's figures are added to its namespace as it is retired, so the live
 * namespace's limits are checked in file order as before ("holds at least N"
 * names the same N), and a 'Z' is checked once its blocks are retired.  The
 * first reason to stop building in file order is the one reported (ld_stop).
 * At a 'Z' retired, every entry's shard is known: its link is split in
 * threads jobs by shard (s % groups), each sizing its shards' tables once for
 * their count and linking in file order (a later duplicate wins).  Nothing is
 * published before the trailer has verified: a failure anywhere stops the
 * building, the rest of the file before it is still verified, and what was
 * built is freed.  Builder threads block every signal and call nothing of the
 * host (no hook, no kv_mem_methods: the calling thread allocates what they
 * use, the records for the most entries a block can hold, trimmed when
 * retired); collections are made on the calling thread when their block is
 * retired, from its buffer (deserialising one may use the host's allocator),
 * the builders only link them.  A version 1 or 2 file, whose trailer hashes
 * every byte in order, has each block job run on the calling thread.
 */
typedef struct load_ent {
	const char *key, *val;
	uint32_t    klen, vlen;
	int         type;
	int64_t     exp;
} load_ent;

/* Decode the entry at p (walked: its lengths are checked). */
static void ent_parse(const char *p, load_ent *e)
{
	size_t o = 10;
	e->klen = get32(p);
	e->vlen = get32(p + 4);
	e->type = (unsigned char)p[8];
	e->exp = 0;
	if (p[9] & 1) {
		e->exp = (int64_t)get64(p + 10);
		o = 18;
	}
	e->key = p + o;
	e->val = e->key + e->klen;
}

/* A live entry: its block offset until built, then its entry until linked
 * into its shard (0 then: the shard owns it). */
typedef struct ld_rec {
	uint32_t h32;     /* kv_hash32 of the key (the shard is known) */
	uint32_t pos;
	uint16_t shard;
	uint8_t  built;   /* pos is the entry */
	uint8_t  coll;    /* a collection: made by the calling thread */
} ld_rec;

typedef struct ld_blk {
	ld_rec   *rec;
	size_t    n;
	uint64_t *bytes;  /* [nshards]: the charges of the entries made from it, per shard */
} ld_blk;

/* A namespace of the file being built. */
typedef struct ld_ns {
	load_ns  *x;
	char      name[KV_NS_NAME_MAX + 1]; /* the namespace it replaces or makes */
	uint16_t *route;     /* kv_route for each 16-bit prefix; NULL: kv_route itself */
	uint32_t *count;     /* [nshards]: its records per shard */
	ld_blk   *blk;       /* its 'E' blocks' records, in file order */
	size_t    nblk, capblk;
	uint64_t  max_keys, max_memory;         /* the live namespace's limits (0: none) */
	uint32_t  max_key_size, max_value_size; /* UINT32_MAX: none */
} ld_ns;

/* An 'E' block in flight: its buffer, and what its job fills in.  The calling
 * thread allocates it all before posting the job (a builder calls no host
 * allocator) and reads it back once the job is done (retire_block). */
typedef struct ld_slot {
	char      *buf;
	size_t     cap;
	bool       busy;      /* posted and not retired */
	size_t     off;       /* the block's header's file offset */
	uint32_t   len;
	uint64_t   sum;       /* the XXH3 its header gives */
	uint64_t   seq;       /* its job's */
	ld_ns     *y;         /* the namespace it is built into; NULL: only verified */
	load_ns    st;        /* its entries' figures (entries, live, colls, bytes, max_klen/vlen) */
	ld_rec    *rec;       /* [ld_recs(len)]: room for every entry it can hold */
	size_t     n;
	uint64_t  *bytes;     /* [nshards] charges, as ld_blk's */
	uint32_t  *count;     /* [nshards] records */
	bool       colls;     /* some records are collections */
	int        rc;        /* the block's own error: a read, its checksum, an entry (err) */
	kv_error   err;
} ld_slot;

enum { JOB_BLOCK, JOB_LINK };
typedef struct ld_job {
	int           kind;
	ld_ns        *y;
	ld_slot      *slot;    /* JOB_BLOCK */
	XXH3_state_t *all;     /* JOB_BLOCK of a version 1 or 2 file: the whole-file hash (calling thread) */
	uint32_t      group;   /* JOB_LINK: the shards s with s % groups == group */
	uint64_t      after;   /* JOB_LINK: every job before this one is done first */
} ld_job;

#define LD_RING 64 /* jobs posted and not yet done; blocks and ends not yet retired */
#define LD_SLOTS_MAX 8 /* 'E' blocks in flight: one per thread, at most this (a third with one builder: no gain) */
#define LD_CHUNK ((size_t)256 << 10) /* read, hashed, walked and built while in the cache */
#define LD_AHEAD (BLK_TARGET * 4)     /* the device is asked for this much past the block posted */
#define LD_RA_STEP BLK_TARGET        /* in requests of this much (the kernel caps each one) */

/* The jobs of a load, taken in order by whoever is free: the builder threads,
 * and the calling thread whenever it would otherwise wait. */
typedef struct ld_pool {
	kv_env         *env;
	const kv_snap_reader *rd; /* the file: read at offsets, from any thread */
	uint32_t        ver;       /* the file's format version */
	int64_t         now;       /* entries expired at this instant are dropped */
	uint32_t        nthreads;  /* builder threads (0: the calling thread runs each job as it posts it) */
	uint32_t        groups;    /* a namespace's link is split in nthreads + 1 jobs */
	pthread_mutex_t mu;
	pthread_cond_t  cv;        /* a job posted or done, or quit */
	ld_job          ring[LD_RING];
	bool            ended[LD_RING];
	uint64_t        head;      /* jobs posted (under mu, as the rest) */
	uint64_t        next;      /* jobs taken */
	uint64_t        done;      /* every job before it is done */
	bool            quit;
	int             rc;        /* the first failure to build */
	bool            reserve;   /* it came from sizing a table */
	const char     *fail_ns;   /* of its namespace */
	_Atomic int     stop;      /* nothing more is built (a failure anywhere) */
	_Atomic uint64_t cut;      /* the first block job whose block is bad: later ones are skipped */
	pthread_t       th[KV_LOAD_THREADS_MAX];
} ld_pool;

static inline uint32_t load_route(const uint16_t *t, uint64_t h, uint32_t n)
{
	return t ? t[h >> (64 - KV_ROUTE_BITS)] : kv_route(h, n);
}

/* Make the entry of in at *out and add its charge to *charge: a string on a
 * builder, from its carve; a collection on the calling thread, carve NULL,
 * from the class lists (the builder that links a later duplicate of its key
 * may free it, and only a carver may free into a page it carves).
 * KV_ENOMEM: the region is full; KV_ECORRUPT: a collection's record is
 * malformed. */
static int make_entry(kv_env *env, kv_carve *carve, const load_ent *in, uint32_t ver, kv_off *out,
                      uint64_t *charge)
{
	const char *val = in->val;
	uint32_t vlen = in->vlen;
	int type = in->type;
	kv_croot root = {KV_CROOT_MAGIC, 0};
	if (kv_is_kind(type) && ver < 2) {
		type = KV_T_BYTES; /* version 1 had no kinds: that tag was a string's */
	} else if (kv_is_kind(type)) {
		kv_chdr *ch;
		int rc = kv_coll_deserialise(env, type, val, vlen, &ch);
		if (rc != KV_OK)
			return rc;
		root.hdr = kv_offof(env, ch); /* the entry takes the header's one reference */
		val = (const char *)&root;
		vlen = sizeof root;
	}
	size_t sz = kv_entry_size(in->klen, vlen, in->exp ? KV_E_TTL : 0);
	kv_off o = carve ? kv_carve_alloc(env, carve, sz) : kv_alloc(env, sz);
	if (!o) {
		if (root.hdr)
			kv_chdr_destroy(env, kv_ptr(env, root.hdr));
		return KV_ENOMEM;
	}
	kv_entry *e = kv_entry_init(env, o, in->key, in->klen, vlen, type, in->exp);
	memcpy(kv_entry_key(e) + in->klen, val, vlen);
	*charge += root.hdr ? kv_entry_charge(env, e) : kv_alloc_size(sz);
	*out = o;
	return KV_OK;
}

/* Could sh hold r's key already?  Only if a slot of its home cluster has its
 * hash bits: the slots alone tell, without reading the entries (a load's
 * keys are nearly all new, and each entry read would be a cache miss). */
static bool maybe_dup(const kv_env *env, const kv_shard *sh, uint32_t h32)
{
	const _Atomic uint64_t *s = kv_ptr(env, atomic_load_explicit(&sh->table, memory_order_relaxed));
	uint32_t mask = atomic_load_explicit(&sh->mask, memory_order_relaxed);
	uint32_t i = h32 >> atomic_load_explicit(&sh->shift, memory_order_relaxed);
	for (uint64_t v; (v = atomic_load_explicit(&s[i], memory_order_relaxed)) != 0; i = (i + 1) & mask)
		if (kv_slot_is(v, h32))
			return true;
	return false;
}

/* Link the built entry of r into its (unpublished, sized) shard sh. */
static void link_one(kv_env *env, kv_shard *sh, ld_rec *r)
{
	uint32_t h32 = r->h32, pos;
	if (maybe_dup(env, sh, h32)) {
		kv_entry *e = kv_ptr(env, r->pos);
		kv_entry *old = kv_shard_find_locked(env, sh, h32, kv_entry_key(e), e->klen, &pos);
		if (old) { /* a duplicate key: the later record wins */
			sh->bytes -= kv_entry_charge(env, old);
			kv_shard_replace_locked(env, sh, pos, r->pos);
			kv_entry_free(env, old);
			r->pos = 0;
			return;
		}
	}
	if (kv_shard_insert_locked(env, sh, h32, r->pos) == KV_OK) /* it is, after kv_shard_reserve_locked */
		r->pos = 0;
}

#define STOPPED(p) atomic_load_explicit(&(p)->stop, memory_order_relaxed)

/* What a block job's entry walk fills (the thread running the job). */
typedef struct ld_walk {
	ld_pool    *pool;
	ld_slot    *s;
	const char *payload;
	kv_error   *err;
} ld_walk;

/* The records a block's slot has room for: one per 10 bytes (the smallest
 * entry), and no more than a block may hold (the saver ends a block once it
 * reaches BLK_TARGET bytes, so every entry starts before that); a block with
 * more entries is refused (walk_entry). */
#define LD_RECS_MAX (BLK_TARGET / 10 + 1)
static size_t ld_recs(uint32_t len)
{
	return len / 10 + 1 < LD_RECS_MAX ? len / 10 + 1 : LD_RECS_MAX;
}

static int walk_entry(void *ctx, const char *key, uint32_t klen, const char *val, uint32_t vlen,
                      int type, int64_t exp)
{
	(void)val;
	ld_walk *c = ctx;
	ld_slot *s = c->s;
	if (s->st.entries == LD_RECS_MAX) /* this one is past what the records have room for */
		return kv_snap_err(c->err, KV_ECORRUPT, 0, "block at byte %zu holds more than %zu entries (a block ends once it holds %zu bytes)",
		                   s->off, (size_t)LD_RECS_MAX, BLK_TARGET);
	if (kv_expired(exp, c->pool->now))
		return KV_OK;
	count_live(&s->st, klen, vlen, type, exp);
	ld_ns *y = s->y;
	if (!y)
		return KV_OK;
	uint64_t h = kv_hash(key, klen);
	uint32_t sh = load_route(y->route, h, y->x->nshards);
	size_t hdr = exp ? 18 : 10; /* a flagged expiry is never 0 */
	uint8_t coll = kv_is_kind(type) && c->pool->ver >= 2;
	s->rec[s->n++] = (ld_rec){kv_hash32(h), (uint32_t)(key - hdr - c->payload), (uint16_t)sh, 0, coll};
	s->count[sh]++;
	s->colls |= coll;
	return KV_OK;
}

/* Make the string entries of records [from, to) of a block, from the job's
 * carve (collections are made by the calling thread when it retires it). */
static int build_recs(ld_pool *p, ld_slot *s, kv_carve *carve, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++) {
		ld_rec *r = &s->rec[i];
		if (r->coll)
			continue;
		if ((i & 4095) == 0 && STOPPED(p))
			return KV_OK;
		load_ent e;
		ent_parse(s->buf + r->pos, &e);
		kv_off o;
		int rc = make_entry(p->env, carve, &e, p->ver, &o, &s->bytes[r->shard]);
		if (rc != KV_OK)
			return rc;
		r->pos = o;
		r->built = 1;
	}
	return KV_OK;
}

/* A bad block: no job after it counts (its error is the first in file order
 * unless an earlier block's is), and nothing more is built. */
static void block_failed(ld_pool *p, uint64_t seq)
{
	uint64_t c = atomic_load(&p->cut);
	while (seq < c && !atomic_compare_exchange_weak(&p->cut, &c, seq))
		;
	atomic_store(&p->stop, 1);
}

/* An 'E' block's job: read its payload at its offset into the slot's buffer a
 * piece at a time, and hash, walk and build each piece while it is in this
 * thread's cache.  The block's own errors (read, checksum, an entry's lengths:
 * the checksum's first, as the walk's counts only once the block is intact)
 * go to the slot; the build's failure (the region full) is returned. */
static int job_block(ld_pool *p, const ld_job *j, uint64_t seq)
{
	ld_slot *s = j->slot;
	if (seq > atomic_load(&p->cut))
		return KV_OK; /* past a bad block: never retired */
	kv_carve carve;
	memset(&carve, 0, sizeof carve);
	XXH3_state_t bs;
	XXH3_64bits_reset(&bs);
	kv_error werr;
	ld_walk wk = {p, s, s->buf, &werr};
	size_t got = 0, at = 0, made = 0, fo = s->off + BLK_HDR;
	int wrc = KV_OK, brc = KV_OK;
	while (got < s->len) {
		size_t c = s->len - got < LD_CHUNK ? s->len - got : LD_CHUNK;
		if ((s->rc = kv_snap_read_at(p->rd, s->buf + got, c, fo + got, &s->err)) != KV_OK)
			break;
		XXH3_64bits_update(&bs, s->buf + got, c);
		if (j->all)
			XXH3_64bits_update(j->all, s->buf + got, c);
		got += c;
		if (wrc != KV_OK)
			continue;
		wrc = walk_some(s->buf, s->len, got, &at, fo, &werr, walk_entry, &wk, &s->st.entries);
		/* built before the checksum is known: a bad block's entries are freed */
		if (wrc == KV_OK && brc == KV_OK && s->y && !STOPPED(p)) {
			brc = build_recs(p, s, &carve, made, s->n);
			made = s->n;
		}
	}
	kv_carve_done(p->env, &carve);
	if (s->rc == KV_OK && XXH3_64bits_digest(&bs) != s->sum)
		s->rc = kv_snap_err(&s->err, KV_ECORRUPT, 0, "checksum mismatch in block at byte %zu", s->off);
	if (s->rc == KV_OK && wrc != KV_OK) {
		s->rc = wrc;
		s->err = werr;
	}
	if (s->rc != KV_OK)
		block_failed(p, seq);
	return brc;
}

/* Size and link the shards s with s % groups == group of a namespace whose
 * blocks are all built. */
static int job_link(ld_pool *p, const ld_job *j, bool *reserve)
{
	kv_env *env = p->env;
	ld_ns *y = j->y;
	uint32_t G = p->groups, g = j->group, n = y->x->nshards;
	kv_off *a = kv_ptr(env, y->x->arr);
	/* the shards are not published: their locks are for form */
	for (uint32_t s = g; s < n; s += G) {
		kv_shard *sh = kv_ptr(env, a[s]);
		kv_spin_lock(&sh->lock);
		int rc = kv_shard_reserve_locked(env, sh, y->count[s]);
		for (size_t k = 0; k < y->nblk; k++)
			sh->bytes += y->blk[k].bytes[s];
		kv_spin_unlock(&sh->lock);
		if (rc != KV_OK) {
			*reserve = true;
			return rc;
		}
	}
	for (size_t k = 0; k < y->nblk; k++) {
		if (STOPPED(p))
			return KV_OK;
		for (size_t i = 0; i < y->blk[k].n; i++) {
			ld_rec *r = &y->blk[k].rec[i];
			if (r->shard % G == g && r->built && r->pos)
				link_one(env, kv_ptr(env, a[r->shard]), r);
		}
	}
	return KV_OK;
}

/* Run job j (taken, mu not held) and note its end (mu held on return). */
static void run_job(ld_pool *p, uint64_t seq, const ld_job *j)
{
	int rc = KV_OK;
	bool reserve = false;
	if (j->kind == JOB_BLOCK)
		rc = job_block(p, j, seq); /* a block is verified even when nothing more is built */
	else if (!STOPPED(p))
		rc = job_link(p, j, &reserve);
	if (rc != KV_OK)
		atomic_store(&p->stop, 1);
	if (p->nthreads)
		pthread_mutex_lock(&p->mu);
	if (rc != KV_OK && p->rc == KV_OK) {
		p->rc = rc;
		p->reserve = reserve;
		p->fail_ns = j->y ? j->y->name : "";
	}
	p->ended[seq % LD_RING] = true;
	while (p->done < p->head && p->ended[p->done % LD_RING]) {
		p->ended[p->done % LD_RING] = false;
		p->done++;
	}
	if (p->nthreads)
		pthread_cond_broadcast(&p->cv);
}

/* Take the next job if it can run now (mu held); its sequence number, or -1. */
static int64_t take_job(ld_pool *p, ld_job *j)
{
	if (p->next == p->head)
		return -1;
	const ld_job *n = &p->ring[p->next % LD_RING];
	if (n->kind == JOB_LINK && p->done < n->after)
		return -1;
	*j = *n;
	return (int64_t)p->next++;
}

static void *builder_main(void *arg)
{
	ld_pool *p = arg;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		ld_job j;
		int64_t seq = take_job(p, &j);
		if (seq < 0) {
			if (p->quit && p->next == p->head)
				break;
			pthread_cond_wait(&p->cv, &p->mu);
			continue;
		}
		pthread_mutex_unlock(&p->mu);
		run_job(p, (uint64_t)seq, &j);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* The builder threads start with the load: threads less the calling one, and
 * no more than one per 64 KiB of file past the first (one thread: the
 * calling thread runs every job).  A thread that cannot be started is left
 * out. */
static void pool_start(ld_pool *p, kv_env *env, const kv_snap_reader *rd, unsigned threads)
{
	memset(p, 0, sizeof *p);
	p->env = env;
	p->rd = rd;
	atomic_init(&p->cut, UINT64_MAX);
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	uint32_t want = threads > 1 ? threads - 1 : 0;
	if (want > 1 + rd->size / ((size_t)64 << 10))
		want = 1 + (uint32_t)(rd->size / ((size_t)64 << 10));
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_mutex_lock(&p->mu); /* the threads wait for it; nthreads is final when they run */
	for (uint32_t t = 0; t < want; t++)
		if (pthread_create(&p->th[p->nthreads], NULL, builder_main, p) == 0)
			p->nthreads++;
	p->groups = p->nthreads + 1;
	pthread_mutex_unlock(&p->mu);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* Until the first `upto` jobs are done (calling thread), running those it can
 * take instead of waiting. */
static void pool_wait(ld_pool *p, uint64_t upto)
{
	if (!p->nthreads)
		return; /* each job ran when it was posted */
	pthread_mutex_lock(&p->mu);
	while (p->done < upto) {
		ld_job j;
		int64_t seq = take_job(p, &j);
		if (seq < 0) {
			pthread_cond_wait(&p->cv, &p->mu);
			continue;
		}
		pthread_mutex_unlock(&p->mu);
		run_job(p, (uint64_t)seq, &j);
	}
	pthread_mutex_unlock(&p->mu);
}

/* Are the first `upto` jobs done?  (calling thread, without waiting) */
static bool pool_done(ld_pool *p, uint64_t upto)
{
	if (!p->nthreads)
		return true;
	pthread_mutex_lock(&p->mu);
	bool d = p->done >= upto;
	pthread_mutex_unlock(&p->mu);
	return d;
}

/* Post a job (the calling thread); its sequence number.  Without threads, or
 * `here` (a job that must run in file order on this thread), it runs here
 * before this returns. */
static uint64_t pool_post(ld_pool *p, const ld_job *j, bool here)
{
	if (here)
		pool_wait(p, p->head); /* nothing else is pending: it is the next taken */
	else
		pool_wait(p, p->head >= LD_RING ? p->head - LD_RING + 1 : 0);
	if (p->nthreads)
		pthread_mutex_lock(&p->mu);
	uint64_t seq = p->head++;
	p->ring[seq % LD_RING] = *j;
	p->ended[seq % LD_RING] = false;
	if (here || !p->nthreads) {
		p->next++;
		if (p->nthreads)
			pthread_mutex_unlock(&p->mu);
		run_job(p, seq, j);
	} else {
		pthread_cond_broadcast(&p->cv);
	}
	if (p->nthreads)
		pthread_mutex_unlock(&p->mu);
	return seq;
}

/* Post a namespace's link jobs, one per group: each runs once every job
 * before the first (the namespace's blocks) is done. */
static void pool_post_link(ld_pool *p, ld_ns *y)
{
	uint64_t after = p->head;
	for (uint32_t g = 0; g < p->groups; g++) {
		ld_job j = {JOB_LINK, y, NULL, NULL, g, after};
		pool_post(p, &j, false);
	}
}

/* Run what is left, end the threads; the first failure, if any. */
static int pool_end(ld_pool *p, bool *reserve, const char **ns)
{
	pool_wait(p, p->head);
	if (p->nthreads) {
		pthread_mutex_lock(&p->mu);
		p->quit = true;
		pthread_cond_broadcast(&p->cv);
		pthread_mutex_unlock(&p->mu);
		for (uint32_t t = 0; t < p->nthreads; t++)
			pthread_join(p->th[t], NULL);
	}
	*reserve = p->reserve;
	*ns = p->fail_ns ? p->fail_ns : "";
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	return p->rc;
}

/* Free the entries built and not linked of n records. */
static void recs_free(kv_env *env, const ld_rec *rec, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (rec[i].built && rec[i].pos)
			kv_entry_free(env, kv_ptr(env, rec[i].pos));
}

/* Free what was built of y and not published. */
static void ld_ns_free(kv_env *env, ld_ns *y)
{
	for (size_t k = 0; k < y->nblk; k++)
		recs_free(env, y->blk[k].rec, y->blk[k].n);
	if (y->x->arr)
		kv_shards_destroy(env, y->x->arr, y->x->nshards);
	y->x->arr = 0;
}

static void ld_ns_release(kv_env *env, ld_ns *y)
{
	for (size_t k = 0; k < y->nblk; k++) {
		kv_mem_realloc(env, y->blk[k].rec, 0);
		kv_mem_realloc(env, y->blk[k].bytes, 0);
	}
	kv_mem_realloc(env, y->blk, 0);
	kv_mem_realloc(env, y->route, 0);
	kv_mem_realloc(env, y->count, 0);
	memset(y, 0, sizeof *y);
}

/* The live namespace's limits against what x holds (so far, unless whole). */
static int ld_limits(const ld_ns *y, const load_ns *x, bool whole, kv_error *err)
{
	const char *al = whole ? "" : "at least ", *name = y->name;
	if (y->max_keys && x->live > y->max_keys)
		return kv_snap_err(err, KV_EMAXKEYS, 0, "namespace \"%s\" allows %llu keys, the snapshot holds %s%llu", name, (unsigned long long)y->max_keys, al, (unsigned long long)x->live);
	if (y->max_memory && x->bytes > y->max_memory)
		return kv_snap_err(err, KV_EMAXMEM, 0, "namespace \"%s\" allows %llu bytes, the snapshot needs %sabout %llu", name, (unsigned long long)y->max_memory, al, (unsigned long long)x->bytes);
	if (x->max_klen > y->max_key_size)
		return kv_snap_err(err, KV_EKEYSIZE, 0, "snapshot has a key longer than namespace \"%s\" allows", name);
	if (x->max_vlen > y->max_value_size)
		return kv_snap_err(err, KV_EVALSIZE, 0, "snapshot has a value longer than namespace \"%s\" allows", name);
	return KV_OK;
}

/* An 'E' block posted or a namespace's 'Z' read, waiting to be retired in file
 * order (calling thread). */
typedef struct ld_item {
	ld_slot  *slot;      /* an 'E' block; NULL: a 'Z' */
	load_ns  *x;         /* its namespace */
	ld_ns    *y;         /* built (NULL: only verified) */
	size_t    off;       /* a 'Z': its offset and payload */
	char      z[8];
} ld_item;

/* The load's state across the file (calling thread). */
typedef struct ld_state {
	kv_env     *env;
	const char *ns, *as;     /* the namespace selected (NULL: all) and its new name */
	load_ns    *nss;
	ld_ns      *ys;          /* [max_ns], beside nss */
	size_t      n;           /* namespaces found so far */
	size_t      size;        /* the file's */
	int         stop;        /* why nothing more is built (the first in file order), with stop_err */
	size_t      stop_at;     /* the file offset it was found at */
	kv_error    stop_err;
	int         frc;         /* the first bad block or 'Z' in file order, found retiring, with ferr */
	kv_error    ferr;
	ld_slot     slot[LD_SLOTS_MAX];
	unsigned    nslots, next_slot;
	ld_item     q[LD_RING];  /* to retire, in file order */
	size_t      qhead, qtail;
	ld_pool     pool;
} ld_state;

/* Why nothing more is built: the first reason in file order is the one
 * reported (a namespace busy is found when its 'N' is read, a limit passed
 * only when the block that passes it is retired, which may be later). */
static void ld_stop(ld_state *st, int rc, const kv_error *e, size_t at)
{
	if (st->stop == KV_OK || at < st->stop_at) {
		st->stop = rc;
		st->stop_at = at;
		st->stop_err = *e;
	}
	atomic_store(&st->pool.stop, 1);
}

/* An 'N' block (nss[n - 1]) is to be built: claim its live namespace (or
 * note it is to be created) and make its empty, unpublished shards. */
static int ld_begin_ns(ld_state *st, load_ns *x, ld_ns *y, kv_error *err)
{
	kv_env *env = st->env;
	kv_region *r = env->r;
	const char *name = st->as ? st->as : x->name;
	uint32_t idx, g;
	int rc = KV_OK;
	memset(y, 0, sizeof *y);
	y->x = x;
	strcpy(y->name, name);
	y->max_key_size = y->max_value_size = UINT32_MAX;
	kv_spin_lock(&r->admin);
	if (kv_ns_find_slot(env, name, &idx, &g) == KV_OK) {
		kv_nsslot *sl = kv_slot(env, idx);
		uint32_t z = 0;
		if (!atomic_compare_exchange_strong(&sl->busy, &z, 1)) {
			rc = kv_snap_err(err, KV_EBUSY, 0, "namespace \"%s\" is busy with a save, load or resize", name);
		} else {
			y->max_keys = atomic_load(&sl->max_keys);
			y->max_memory = atomic_load(&sl->max_memory);
			y->max_key_size = atomic_load(&sl->max_key_size);
			y->max_value_size = atomic_load(&sl->max_value_size);
			x->target = idx;
			x->nshards = atomic_load(&sl->nshards);
			x->created = false;
		}
	} else {
		x->target = UINT32_MAX;
		x->nshards = x->cfg.shards;
		x->created = true;
	}
	kv_spin_unlock(&r->admin);
	if (rc != KV_OK) {
		memset(y, 0, sizeof *y); /* nothing claimed */
		return rc;
	}
	uint32_t n = x->nshards;
	y->count = kv_mem_realloc(env, NULL, n * sizeof *y->count);
	/* a copy of the route table: a lookup per key instead of jump hashing's
	 * loop of divisions (built when the file is big enough to pay for it) */
	if (n > 1 && st->size >= KV_ROUTE_SIZE * 64 && (y->route = kv_mem_realloc(env, NULL, KV_ROUTE_SIZE * sizeof *y->route)))
		for (size_t p = 0; p < KV_ROUTE_SIZE; p++)
			y->route[p] = (uint16_t)kv_route((uint64_t)p << (64 - KV_ROUTE_BITS), n);
	/* slot index UINT32_MAX makes owner 0: charged to no slot until the swap */
	if (!y->count || (n > 1 && st->size >= KV_ROUTE_SIZE * 64 && !y->route) || kv_shards_create(env, UINT32_MAX, n, &x->arr) != KV_OK)
		return kv_snap_err(err, KV_ENOMEM, 0, "out of memory building namespace \"%s\"", name);
	memset(y->count, 0, n * sizeof *y->count);
	return KV_OK;
}

/* Free a slot's records (and the entries built from them) and arrays. */
static void slot_clear(kv_env *env, ld_slot *s)
{
	if (s->rec)
		recs_free(env, s->rec, s->n);
	kv_mem_realloc(env, s->rec, 0);
	kv_mem_realloc(env, s->bytes, 0);
	kv_mem_realloc(env, s->count, 0);
	s->rec = NULL;
	s->bytes = NULL;
	s->count = NULL;
	s->n = 0;
	s->busy = false;
}

/* Retire a done 'E' block (calling thread, in file order): its error is the
 * load's if it is the first; else its figures go to its namespace, whose
 * limits are checked (as far as the file has been retired), its collections
 * are made and its records kept for the link. */
static void retire_block(ld_state *st, ld_item *it)
{
	kv_env *env = st->env;
	ld_slot *s = it->slot;
	load_ns *x = it->x;
	ld_ns *y = s->y;
	if (s->rc != KV_OK) {
		st->frc = s->rc;
		st->ferr = s->err;
		slot_clear(env, s);
		return;
	}
	x->entries += s->st.entries;
	x->live += s->st.live;
	x->colls += s->st.colls;
	x->bytes += s->st.bytes;
	if (s->st.max_klen > x->max_klen)
		x->max_klen = s->st.max_klen;
	if (s->st.max_vlen > x->max_vlen)
		x->max_vlen = s->st.max_vlen;
	x->nblocks++;
	if (!y) {
		slot_clear(env, s);
		return;
	}
	kv_error e;
	int l = KV_OK;
	for (size_t i = 0; s->colls && i < s->n && l == KV_OK && !STOPPED(&st->pool); i++) {
		ld_rec *r = &s->rec[i];
		if (!r->coll || r->built)
			continue;
		load_ent le;
		ent_parse(s->buf + r->pos, &le);
		kv_off o;
		int rc = make_entry(env, NULL, &le, st->pool.ver, &o, &s->bytes[r->shard]);
		if (rc == KV_OK) {
			r->pos = o;
			r->built = 1;
		} else {
			l = rc == KV_ENOMEM ? kv_snap_err(&e, rc, 0, "out of memory building namespace \"%s\"", y->name)
			                    : kv_snap_err(&e, rc, 0, "%s while loading namespace \"%s\"", kv_strerror(rc), y->name);
		}
	}
	if (l == KV_OK)
		l = ld_limits(y, x, false, &e);
	for (uint32_t k = 0; k < x->nshards; k++)
		y->count[k] += s->count[k];
	if (y->nblk == y->capblk) {
		size_t c = y->capblk ? y->capblk * 2 : 16;
		ld_blk *v = kv_mem_realloc(env, y->blk, c * sizeof *v);
		if (v) {
			y->blk = v;
			y->capblk = c;
		}
	}
	if (y->nblk < y->capblk) { /* y keeps the records, trimmed to what they hold */
		ld_rec *rec = s->n ? kv_mem_realloc(env, s->rec, s->n * sizeof *rec) : NULL;
		if (rec || !s->n) {
			if (!s->n)
				kv_mem_realloc(env, s->rec, 0);
			y->blk[y->nblk++] = (ld_blk){rec, s->n, s->bytes};
			s->rec = NULL;
			s->bytes = NULL;
			s->n = 0;
		}
	}
	if (s->rec && l == KV_OK)
		l = kv_snap_err(&e, KV_ENOMEM, 0, "out of memory building namespace \"%s\"", y->name);
	if (l != KV_OK)
		ld_stop(st, l, &e, s->off);
	slot_clear(env, s);
}

/* Retire the oldest item; wait for its job if `wait`, else only if it is
 * done.  false: nothing retired. */
static bool retire_one(ld_state *st, bool wait)
{
	if (st->qtail == st->qhead || st->frc != KV_OK)
		return false;
	ld_item *it = &st->q[st->qtail % LD_RING];
	if (it->slot) {
		if (!wait && !pool_done(&st->pool, it->slot->seq + 1))
			return false;
		pool_wait(&st->pool, it->slot->seq + 1);
		retire_block(st, it);
	} else {
		kv_error e;
		if (check_end_block(it->x, it->z, 8, it->off, &e) != KV_OK) {
			st->frc = KV_ECORRUPT;
			st->ferr = e;
		} else if (it->y && !STOPPED(&st->pool)) {
			pool_post_link(&st->pool, it->y);
		}
	}
	st->qtail++;
	return true;
}

/* Room for one more item in the queue, and a free slot if `slot`; it, or
 * NULL once a bad block was retired. */
static ld_slot *ld_room(ld_state *st, bool slot)
{
	while (retire_one(st, false))
		;
	while (st->frc == KV_OK && st->qhead - st->qtail == LD_RING)
		retire_one(st, true);
	if (!slot || st->frc != KV_OK)
		return NULL;
	ld_slot *s = &st->slot[st->next_slot];
	while (st->frc == KV_OK && s->busy)
		retire_one(st, true);
	if (st->frc != KV_OK)
		return NULL;
	st->next_slot = (st->next_slot + 1) % st->nslots;
	return s;
}

/* Post the 'E' block at o (header bh) of x as a job on slot s: built into y,
 * or only verified (y NULL).  all: a version 1 or 2 file's whole-file hash
 * (the job then runs here, in file order). */
static int ld_post_block(ld_state *st, ld_slot *s, const char *bh, size_t o, load_ns *x, ld_ns *y,
                         XXH3_state_t *all, kv_error *err)
{
	kv_env *env = st->env;
	uint32_t len = get32(bh + 4);
	if (s->cap < len) {
		char *nb = kv_mem_realloc(env, s->buf, len);
		if (!nb)
			return kv_snap_err(err, KV_ENOMEM, 0, "out of memory reading a block of %u bytes", len);
		s->buf = nb;
		s->cap = len;
	}
	memset(&s->st, 0, sizeof s->st);
	s->off = o;
	s->len = len;
	s->sum = get64(bh + 8);
	s->y = y;
	s->n = 0;
	s->colls = false;
	s->rc = KV_OK;
	if (y) {
		uint32_t n = x->nshards;
		s->rec = kv_mem_realloc(env, NULL, ld_recs(len) * sizeof *s->rec);
		s->bytes = kv_mem_realloc(env, NULL, n * sizeof *s->bytes);
		s->count = kv_mem_realloc(env, NULL, n * sizeof *s->count);
		if (!s->rec || !s->bytes || !s->count) { /* only verified, then */
			kv_error e;
			slot_clear(env, s);
			kv_snap_err(&e, KV_ENOMEM, 0, "out of memory building namespace \"%s\"", y->name);
			ld_stop(st, KV_ENOMEM, &e, o);
			s->y = y = NULL;
		} else {
			memset(s->bytes, 0, n * sizeof *s->bytes);
			memset(s->count, 0, n * sizeof *s->count);
		}
	}
	s->busy = true;
	ld_job j = {JOB_BLOCK, y, s, all, 0, 0};
	s->seq = st->pool.head;
	st->q[st->qhead++ % LD_RING] = (ld_item){s, x, y, o, {0}};
	pool_post(&st->pool, &j, all != NULL);
	return KV_OK;
}

/* Read, verify and build the file (see LOADING WHILE READING): st->n
 * namespaces, each selected one in unpublished shards (x->arr) unless
 * st->stop says why not.  The reading and checking errors are returned. */
static int load_file(ld_state *st, const kv_snap_reader *rd, kv_error *err)
{
	kv_env *env = st->env;
	size_t size = rd->size, cap = env->r->max_ns;
	char hdr[SNAP_HDR];
	char *pb = NULL; /* the payload of a block read here ('N', 'Z', 'T', or a bad one) */
	size_t pbcap = 0;
	uint32_t ver, nns;
	int rc;
	kv_error rerr; /* the reading thread's own error: later in the file than any a block job finds */
	kv_snap_read_ahead(rd, 0, LD_RA_STEP);
	size_t ra_to = LD_RA_STEP; /* what the device was asked for: [0, ra_to) */
	if ((rc = kv_snap_read_at(rd, hdr, size < SNAP_HDR ? size : SNAP_HDR, 0, err)) != KV_OK)
		return rc;
	if ((rc = check_file_header(hdr, size, &ver, &nns, err)) != KV_OK)
		return rc;
	st->pool.ver = ver;
	st->nslots = st->pool.nthreads + 1;
	if (st->nslots > LD_SLOTS_MAX)
		st->nslots = LD_SLOTS_MAX;
	size_t o = SNAP_HDR;
	uint64_t blocks = 0;
	load_ns *cur = NULL;
	ld_ns *y = NULL;
	XXH3_state_t hs, all; /* the trailer's: the headers (version 3), every byte (1 and 2) */
	XXH3_64bits_reset(&hs);
	XXH3_64bits_update(&hs, hdr, SNAP_HDR);
	XXH3_64bits_reset(&all);
	XXH3_64bits_update(&all, hdr, SNAP_HDR);
	for (;;) {
		char bh[BLK_HDR];
		if (atomic_load(&st->pool.cut) != UINT64_MAX)
			break; /* a block posted is bad: its error comes first */
		if (size - o < BLK_HDR) {
			rc = kv_snap_err(&rerr, KV_ECORRUPT, 0, "file truncated at byte %zu (block header expected)", o);
			break;
		}
		if ((rc = kv_snap_read_at(rd, bh, BLK_HDR, o, &rerr)) != KV_OK)
			break;
		uint32_t kind = get32(bh), len = get32(bh + 4);
		if (ver < 3 && kind != BLK_TRAILER)
			XXH3_64bits_update(&all, bh, BLK_HDR);
		if (len > size - o - BLK_HDR) {
			rc = kv_snap_err(&rerr, KV_ECORRUPT, 0, "file truncated: block at byte %zu claims %u bytes", o, len);
			break;
		}
		if (kind == BLK_ENTRIES && cur) { /* read, checked and built by a job */
			ld_slot *s = ld_room(st, true);
			if (!s)
				break;
			if ((rc = ld_post_block(st, s, bh, o, cur, st->stop == KV_OK ? y : NULL, ver < 3 ? &all : NULL, &rerr)) != KV_OK)
				break;
			blocks++;
			XXH3_64bits_update(&hs, bh, BLK_HDR);
			o += BLK_HDR + len;
			/* keep the device LD_AHEAD ahead, each byte asked for once (a
			 * request over pages already cached still walks them) */
			for (; ra_to < o + LD_AHEAD && ra_to < size; ra_to += LD_RA_STEP)
				kv_snap_read_ahead(rd, ra_to, LD_RA_STEP);
			continue;
		}
		if (pbcap < len) {
			char *nb = kv_mem_realloc(env, pb, len);
			if (!nb) {
				rc = kv_snap_err(&rerr, KV_ENOMEM, 0, "out of memory reading a block of %u bytes", len);
				break;
			}
			pb = nb;
			pbcap = len;
		}
		if ((rc = kv_snap_read_at(rd, pb, len, o + BLK_HDR, &rerr)) != KV_OK)
			break;
		if (ver < 3 && kind != BLK_TRAILER)
			XXH3_64bits_update(&all, pb, len);
		if (XXH3_64bits(pb, len) != get64(bh + 8)) {
			rc = kv_snap_err(&rerr, KV_ECORRUPT, 0, "checksum mismatch in block at byte %zu", o);
			break;
		}
		if (kind == BLK_TRAILER) {
			/* the blocks before it are retired first: an error of theirs is earlier */
			rc = check_trailer(pb, len, o, size, cur, blocks, XXH3_64bits_digest(ver >= 3 ? &hs : &all), &rerr);
			break;
		}
		blocks++;
		XXH3_64bits_update(&hs, bh, BLK_HDR);
		if (kind == BLK_NS) {
			if (cur) {
				rc = kv_snap_err(&rerr, KV_ECORRUPT, 0, "namespace block at byte %zu inside another namespace", o);
				break;
			}
			if ((rc = parse_ns_block(pb, len, o, st->nss, &st->n, cap, nns, &rerr)) != KV_OK)
				break;
			cur = &st->nss[st->n - 1];
			y = NULL;
			if (st->stop == KV_OK && (!st->ns || strcmp(cur->name, st->ns) == 0)) {
				kv_error e;
				y = &st->ys[st->n - 1];
				int b = ld_begin_ns(st, cur, y, &e);
				if (b != KV_OK) {
					ld_stop(st, b, &e, o);
					y = NULL;
				}
			}
		} else if (kind == BLK_ENTRIES) {
			rc = kv_snap_err(&rerr, KV_ECORRUPT, 0, "entries block at byte %zu outside a namespace", o);
			break;
		} else if (kind == BLK_END) {
			/* its count is checked once the namespace's blocks are retired */
			if (!cur || len != 8) {
				rc = check_end_block(cur, pb, len, o, &rerr);
				break;
			}
			ld_room(st, false);
			if (st->frc != KV_OK)
				break;
			ld_item it = {NULL, cur, y && st->stop == KV_OK ? y : NULL, o, {0}};
			memcpy(it.z, pb, 8);
			st->q[st->qhead++ % LD_RING] = it;
			cur = NULL;
			y = NULL;
		} else {
			rc = kv_snap_err(&rerr, KV_ECORRUPT, 0, "unknown block kind %u at byte %zu", kind, o);
			break;
		}
		o += BLK_HDR + len;
	}
	if (rc != KV_OK)
		atomic_store(&st->pool.stop, 1); /* the load fails: only the blocks before are still checked */
	/* the blocks and ends queued are before any error found here */
	while (retire_one(st, true))
		;
	if (st->frc != KV_OK) {
		rc = st->frc;
		rerr = st->ferr;
	}
	if (rc == KV_OK && st->n != nns)
		rc = kv_snap_err(&rerr, KV_ECORRUPT, 0, "header promises %u namespaces, file has %zu", nns, st->n);
	if (rc != KV_OK && err)
		*err = rerr;
	if (rc != KV_OK || st->stop != KV_OK) /* what is still being built is freed */
		atomic_store(&st->pool.stop, 1);
	pool_wait(&st->pool, st->pool.head); /* nothing is built from the buffers any more */
	for (unsigned i = 0; i < LD_SLOTS_MAX; i++) {
		slot_clear(env, &st->slot[i]); /* a block not retired: what it built */
		kv_mem_realloc(env, st->slot[i].buf, 0);
	}
	kv_mem_realloc(env, pb, 0);
	return rc;
}

static int load_impl(kv_env *env, const char *dir, const char *name, const char *ns, const char *as,
                     unsigned threads, kv_error *err)
{
	kv_region *r = env->r;
	err_init(err);
	if (as && !ns)
		return kv_snap_err(err, KV_EINVAL, 0, "loading under another name needs a namespace");
	if ((ns && kv_ns_valid_name(ns) != KV_OK) || (as && kv_ns_valid_name(as) != KV_OK))
		return kv_snap_err(err, KV_ENSNAME, 0, "invalid namespace name");
	kv_snap_target t;
	kv_snap_reader rd;
	int rc = kv_snap_resolve(env, dir, name, &t, err);
	if (rc == KV_OK && (rc = kv_snap_read_open(&t, env->size * 2 + ((size_t)1 << 20), &rd, err)) != KV_OK)
		kv_snap_close(&t);
	if (rc == KV_NOTFOUND && (rc = KV_EIO) && err) /* a missing file is an I/O error here */
		err->code = rc;
	if (rc != KV_OK)
		return rc;
	const char *path = t.shown;
	size_t cap = r->max_ns ? r->max_ns : 1;
	ld_state *st = kv_mem_realloc(env, NULL, sizeof *st);
	load_ns *nss = kv_mem_realloc(env, NULL, sizeof *nss * cap);
	ld_ns *ys = kv_mem_realloc(env, NULL, sizeof *ys * cap);
	if (!st || !nss || !ys) {
		kv_snap_read_close(&rd);
		kv_snap_close(&t);
		kv_mem_realloc(env, st, 0);
		kv_mem_realloc(env, nss, 0);
		kv_mem_realloc(env, ys, 0);
		return kv_snap_err(err, KV_ENOMEM, 0, "out of memory");
	}
	memset(st, 0, sizeof *st);
	memset(ys, 0, sizeof *ys * cap);
	st->env = env;
	st->ns = ns;
	st->as = as;
	st->nss = nss;
	st->ys = ys;
	st->size = rd.size;
	pool_start(&st->pool, env, &rd, threads);
	st->pool.now = kv_now_ms(); /* entries expired at this instant are dropped (the walk skips them) */
	rc = load_file(st, &rd, err);
	bool reserve;
	const char *bns = "";
	int brc = pool_end(&st->pool, &reserve, &bns);
	kv_snap_read_close(&rd);
	size_t n = st->n;
	/* the file's own errors first, then why the build stopped, then the builders' */
	if (rc == KV_OK && st->stop != KV_OK) {
		rc = st->stop;
		if (err)
			*err = st->stop_err;
	}
	if (rc == KV_OK && ns) {
		size_t k;
		for (k = 0; k < n && strcmp(nss[k].name, ns) != 0; k++)
			;
		if (k == n)
			rc = kv_snap_err(err, KV_ENONS, 0, "snapshot \"%s\" has no namespace \"%s\"", path, ns);
	}
	for (size_t k = 0; k < n && rc == KV_OK; k++)
		if (ys[k].x)
			rc = ld_limits(&ys[k], &nss[k], true, err);
	if (rc == KV_OK && brc != KV_OK) {
		if (reserve || brc == KV_ENOMEM)
			kv_snap_err(err, brc, 0, "out of memory building namespace \"%s\"", bns);
		else
			kv_snap_err(err, brc, 0, "%s while loading namespace \"%s\"", kv_strerror(brc), bns);
		rc = brc;
	}
	if (err && rc == KV_ECORRUPT) {
		char m[sizeof err->msg];
		memcpy(m, err->msg, sizeof m);
		snprintf(err->msg, sizeof err->msg, "snapshot \"%s\" is corrupt: %.120s", path, m);
	}
	kv_snap_close(&t);

	/* the namespaces built: each ys[k].x */
	size_t m = 0;
	for (size_t k = 0; k < n; k++) {
		if (!ys[k].x)
			continue;
		if (as)
			strcpy(nss[k].name, as);
		ys[m] = ys[k];
		ys[m].x = &nss[k];
		m++;
	}
	for (size_t k = m; k < n; k++)
		memset(&ys[k], 0, sizeof ys[k]);

	/* create the namespaces that did not exist (empty, with the file's config) */
	for (size_t k = 0; k < m && rc == KV_OK; k++) {
		load_ns *x = ys[k].x;
		if (!x->created)
			continue;
		int c = kv_ns_create(env, x->name, &x->cfg);
		uint32_t g;
		if (c == KV_OK || c == KV_ENSEXISTS)
			c = kv_ns_find_slot(env, x->name, &x->target, &g);
		if (c != KV_OK) {
			rc = kv_snap_err(err, c, 0, "could not create namespace \"%s\": %s", x->name, kv_strerror(c));
			x->target = UINT32_MAX;
			break;
		}
		uint32_t z = 0;
		if (!atomic_compare_exchange_strong(&kv_slot(env, x->target)->busy, &z, 1)) {
			rc = kv_snap_err(err, KV_EBUSY, 0, "namespace \"%s\" is busy", x->name);
			x->target = UINT32_MAX;
			break;
		}
		if (atomic_load(&kv_slot(env, x->target)->nshards) != x->nshards) {
			/* created concurrently with another shard count: rebuild would be needed */
			rc = kv_snap_err(err, KV_EBUSY, 0, "namespace \"%s\" changed during the load", x->name);
			break;
		}
	}

	if (rc != KV_OK) {
		for (size_t k = 0; k < m; k++)
			ld_ns_free(env, &ys[k]);
	} else {
		/* swap, one namespace at a time */
		kv_spin_lock(&r->admin);
		for (size_t k = 0; k < m; k++) {
			load_ns *x = ys[k].x;
			kv_nsslot *sl = kv_slot(env, x->target);
			kv_off *a = kv_ptr(env, x->arr);
			uint64_t keys = 0, bytes = 0;
			for (uint32_t s = 0; s < x->nshards; s++) {
				kv_shard *sh = kv_ptr(env, a[s]);
				sh->owner = x->target + 1;
				keys += sh->count;
				bytes += sh->bytes;
			}
			atomic_fetch_add(&sl->gen, 1);
			kv_off oldarr = atomic_load(&sl->shards);
			uint32_t oldn = atomic_load(&sl->nshards);
			atomic_store(&sl->shards, x->arr);
			atomic_store(&sl->nshards, x->nshards);
			atomic_store(&sl->old_nshards, 0);
			atomic_store(&sl->keys, keys);
			atomic_store(&sl->bytes, bytes);
			atomic_fetch_add_explicit(&sl->gen, 1, memory_order_release);
			x->arr = oldarr;
			x->nshards = oldn;
		}
		kv_spin_unlock(&r->admin);
		for (size_t k = 0; k < m; k++)
			if (ys[k].x->arr) /* a namespace created empty has shards too */
				kv_shards_destroy(env, ys[k].x->arr, ys[k].x->nshards);
	}
	kv_spin_lock(&r->admin);
	for (size_t k = 0; k < m; k++)
		if (ys[k].x->target != UINT32_MAX)
			atomic_store(&kv_slot(env, ys[k].x->target)->busy, 0);
	kv_spin_unlock(&r->admin);
	for (size_t k = 0; k < m; k++)
		ld_ns_release(env, &ys[k]);
	kv_mem_realloc(env, ys, 0);
	kv_mem_realloc(env, nss, 0);
	kv_mem_realloc(env, st, 0);
	return rc;
}

/* threads 0: the online CPUs; at most KV_LOAD_THREADS_MAX */
static unsigned load_threads(unsigned threads)
{
	if (threads == 0) {
		long c = sysconf(_SC_NPROCESSORS_ONLN);
		threads = c > 0 ? (unsigned)c : 1;
	}
	return threads > KV_LOAD_THREADS_MAX ? KV_LOAD_THREADS_MAX : threads;
}

KV_API int kv_load(kv_env *env, const char *path, const char *ns, const char *as, kv_error *err)
{
	return load_impl(env, NULL, path, ns, as, 1, err);
}

KV_API int kv_load_at(kv_env *env, const char *dir, const char *name, const char *ns, const char *as,
                      kv_error *err)
{
	if (!dir) {
		err_init(err);
		return kv_snap_err(err, KV_EINVAL, 0, "snapshot directory is empty");
	}
	return load_impl(env, dir, name, ns, as, 1, err);
}

KV_API int kv_load_threads(kv_env *env, const char *dir, const char *name, const char *ns, const char *as,
                           unsigned threads, kv_error *err)
{
	return load_impl(env, dir, name, ns, as, load_threads(threads), err);
}
