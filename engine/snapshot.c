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
 *   A block's len is at most 16 MiB plus one entry.  Expiry is absolute (ms since
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
 *   fsynced (snapio.c).  kv_save_threads spreads the shards over threads
 *   (SERIALISING IN PARALLEL).  A save of one namespace keeps the file's
 *   others (kv.h, WHICH NAMESPACES A FILE KEEPS): it reads the file's
 *   structure and only the namespaces it keeps (keep_*).
 *
 * LOAD: VALIDATE EVERYTHING, THEN SWAP
 *   The whole file is read and every checksum, length and limit checked first
 *   (with threads, the file is read on one of its own while each block is
 *   verified as it arrives; a failed read still wins).  The new contents are
 *   then built in fresh shards that nobody can see (on up
 *   to kv_load_threads' count of threads: BUILDING IN PARALLEL below), and each
 *   namespace's shard array is swapped in one step (its gen is bumped, so handles
 *   and readers move over); the old shards are freed after.  Any failure before
 *   the swap frees what was built and leaves the live namespaces as they were.
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
	size_t       rec0;                /* its live entries: load_recs [rec0, rec0 + live) */
	/* build */
	uint32_t     target;              /* slot index */
	kv_off       arr;
	uint32_t     nshards;
	bool         created;
} load_ns;

/* ================================================================= save */
struct snap_queue;

/* Builds blocks and writes them, or (a serialising thread's, q set) hands
 * them to the thread that writes (SERIALISING IN PARALLEL below). */
typedef struct snap_writer {
	kv_env        *env;
	kv_snap_target *t;
	int            failed;   /* errno of the first write failure */
	XXH3_state_t  *xs;       /* the trailer's: file header and block headers */
	uint64_t       blocks;
	kv_buf         blk;      /* payload being built; BLK_HDR bytes reserved in front */
	kv_buf         coll;     /* a collection's record, serialised with no lock */
	struct snap_queue *q;    /* not NULL: blocks go there */
} snap_writer;

static void w_bytes(snap_writer *w, const void *p, size_t n)
{
	if (!w->failed)
		w->failed = kv_snap_write(w->t, p, n);
}

/* Write the finished block b (n bytes, header included). */
static void blk_write(snap_writer *w, const char *b, size_t n)
{
	XXH3_64bits_update(w->xs, b, BLK_HDR);
	w_bytes(w, b, n); /* one write per block: up to 16 MiB */
	w->blocks++;
}

static int blk_begin(snap_writer *w)
{
	w->blk.len = BLK_HDR;
	return kv_buf_reserve(w->env, &w->blk, BLK_HDR + 4096);
}

static int blk_room(snap_writer *w, size_t n)
{
	return kv_buf_reserve(w->env, &w->blk, w->blk.len + n);
}

static void queue_push(struct snap_queue *q, kv_buf *b);

static void blk_end(snap_writer *w, uint32_t kind)
{
	char *b = w->blk.data;
	size_t len = w->blk.len - BLK_HDR;
	put32(b, kind);
	put32(b + 4, (uint32_t)len);
	put64(b + 8, XXH3_64bits(b + BLK_HDR, len));
	if (w->q)
		queue_push(w->q, &w->blk); /* swapped for an empty buffer */
	else
		blk_write(w, b, w->blk.len);
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
	if (w->blk.len - BLK_HDR >= BLK_TARGET)
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
				__builtin_prefetch(a + 64);
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
 * own blocks.  The other threads queue each block as it fills and take an
 * empty buffer; the calling thread writes the queued blocks between two of
 * its shards and, once every shard is taken, until the others are done, so a
 * busy CPU leaves it doing the work itself rather than waiting.  Blocks are
 * written in the order they come (a namespace's entries may be in any order
 * in the file); the calling thread hashes their headers for the trailer.  At
 * most SNAP_QUEUE blocks wait, so a save holds at most T + SNAP_QUEUE + 1
 * block buffers.  The threads block every signal and call nothing of the host
 * but kv_mem_methods (their buffers, collections' records; kv.h says so).
 * After a failed write or copy every thread only releases the shards it
 * takes from the cut.
 */
#define SNAP_QUEUE       2
#define SAVE_THREADS_MIN 16384
#define SAVE_SERIAL      1 /* save_ns_parallel started no thread */

typedef struct snap_queue {
	pthread_mutex_t mu;
	pthread_cond_t  cv;                   /* a block queued or taken, or a thread done */
	kv_buf          ring[SNAP_QUEUE];     /* finished blocks, oldest at head */
	unsigned        head, n;
	kv_buf          spare[SNAP_QUEUE + 1]; /* written blocks' buffers, for reuse */
	unsigned        nspare;
	unsigned        producers;            /* threads still copying */
} snap_queue;

/* Queue the finished block in *b and give *b an empty buffer (a spare one,
 * or none yet: blk_room allocates it). */
static void queue_push(snap_queue *q, kv_buf *b)
{
	pthread_mutex_lock(&q->mu);
	while (q->n == SNAP_QUEUE)
		pthread_cond_wait(&q->cv, &q->mu);
	q->ring[(q->head + q->n++) % SNAP_QUEUE] = *b;
	*b = q->nspare ? q->spare[--q->nspare] : (kv_buf)KV_BUF_INIT;
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

/* On the calling thread: write what is queued; with wait, until every other
 * thread is done. */
static void queue_drain(snap_queue *q, snap_writer *w, bool wait)
{
	pthread_mutex_lock(&q->mu);
	for (;;) {
		while (wait && !q->n && q->producers)
			pthread_cond_wait(&q->cv, &q->mu);
		if (!q->n)
			break;
		kv_buf b = q->ring[q->head];
		q->head = (q->head + 1) % SNAP_QUEUE;
		q->n--;
		pthread_cond_broadcast(&q->cv);
		pthread_mutex_unlock(&q->mu);
		blk_write(w, b.data, b.len); /* after a failed write, only counted */
		pthread_mutex_lock(&q->mu);
		if (q->nspare < SNAP_QUEUE + 1)
			q->spare[q->nspare++] = b;
		else
			kv_buf_free(w->env, &b);
	}
	pthread_mutex_unlock(&q->mu);
}

typedef struct save_job {
	kv_env          *env;
	snap_ns         *x;
	int64_t          cut;
	snap_queue       q;
	_Atomic uint32_t next;   /* the next shard to take */
	_Atomic int      stop;   /* a copy or write failed: the rest only release their shards */
} save_job;

/* Copy the shards of j that no thread has taken yet into wp, one at a time;
 * main (the calling thread's writer) writes what is queued between two. */
static int take_shards(save_job *j, snap_writer *wp, uint64_t *written, snap_writer *main)
{
	int rc = KV_OK;
	for (;;) {
		if (main) {
			queue_drain(&j->q, main, false);
			if (main->failed)
				atomic_store(&j->stop, 1);
		}
		uint32_t s = atomic_fetch_add(&j->next, 1);
		if (s >= j->x->cfg.shards)
			return rc;
		if (wp && atomic_load_explicit(&j->stop, memory_order_relaxed))
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
	k->rc = take_shards(j, &k->w, &k->written, NULL);
	if (k->rc == KV_OK && !atomic_load(&j->stop) && k->w.blk.len > BLK_HDR)
		blk_end(&k->w, BLK_ENTRIES);
	pthread_mutex_lock(&j->q.mu);
	j->q.producers--;
	pthread_cond_broadcast(&j->q.cv);
	pthread_mutex_unlock(&j->q.mu);
	return NULL;
}

/* Copy x's shards on the calling thread (writing through w) and nw more
 * (see above).  Returns KV_OK, KV_ENOMEM, or SAVE_SERIAL when no thread
 * could be started (nothing was done: the caller copies x alone). */
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
	pthread_mutex_init(&j.q.mu, NULL);
	pthread_cond_init(&j.q.cv, NULL);
	j.q.producers = nw;
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	unsigned started = 0;
	for (unsigned i = 0; i < nw; i++) {
		k[i] = (save_work){.job = &j, .w = {.env = env, .q = &j.q}};
		k[i].w.blk = (kv_buf)KV_BUF_INIT;
		k[i].w.coll = (kv_buf)KV_BUF_INIT;
		k[i].w.blk.len = BLK_HDR;
		if (pthread_create(&k[i].th, NULL, save_worker, &k[i]) != 0)
			break;
		started++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	int rc = SAVE_SERIAL;
	if (started) {
		pthread_mutex_lock(&j.q.mu);
		j.q.producers -= nw - started; /* a started one may be done already */
		pthread_mutex_unlock(&j.q.mu);
		rc = take_shards(&j, w, &x->written, w);
		queue_drain(&j.q, w, true);
	}
	for (unsigned i = 0; i < started; i++) {
		pthread_join(k[i].th, NULL);
		x->written += k[i].written;
		if (k[i].rc != KV_OK)
			rc = k[i].rc;
		kv_buf_free(env, &k[i].w.blk);
		kv_buf_free(env, &k[i].w.coll);
	}
	for (unsigned i = 0; i < j.q.nspare; i++)
		kv_buf_free(env, &j.q.spare[i]);
	pthread_cond_destroy(&j.q.cv);
	pthread_mutex_destroy(&j.q.mu);
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
	snap_writer w = {.env = env, .t = t};
	w.blk = (kv_buf)KV_BUF_INIT;
	w.coll = (kv_buf)KV_BUF_INIT;
	w.xs = XXH3_createState();
	if (!w.xs || blk_begin(&w) != KV_OK)
		rc = kv_snap_err(err, KV_ENOMEM, 0, "out of memory");
	else
		rc = kv_snap_create(t, err);
	if (w.xs)
		XXH3_64bits_reset(w.xs);
	if (rc == KV_OK) {
		char h[SNAP_HDR];
		memcpy(h, SNAP_MAGIC, 8);
		put32(h + 8, SNAP_VERSION);
		put32(h + 12, 0);
		put64(h + 16, (uint64_t)cut);
		put32(h + 24, (uint32_t)(nsel + nkeep));
		put32(h + 28, (uint32_t)XXH3_64bits(h, 28));
		XXH3_64bits_update(w.xs, h, sizeof h);
		w_bytes(&w, h, sizeof h);
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
	/* the other namespaces of the file, verified before, copied block by block */
	for (size_t k = 0; k < nkeep && rc == KV_OK; k++) {
		for (size_t o = keep[k].ns_blk; o <= keep[k].end_blk; o += BLK_HDR + get32(old + o + 4))
			XXH3_64bits_update(w.xs, old + o, BLK_HDR);
		w_bytes(&w, old + keep[k].ns_blk, keep[k].end_blk + BLK_HDR + 8 - keep[k].ns_blk);
		w.blocks += keep[k].nblocks;
	}
	if (rc == KV_OK) {
		char tr[BLK_HDR + 16];
		put32(tr, BLK_TRAILER);
		put32(tr + 4, 16);
		put64(tr + BLK_HDR, w.blocks);
		put64(tr + BLK_HDR + 8, XXH3_64bits_digest(w.xs));
		put64(tr + 8, XXH3_64bits(tr + BLK_HDR, 16));
		w_bytes(&w, tr, sizeof tr);
		if (w.failed)
			rc = kv_snap_write_failed(t, w.failed, err);
	}
	if (rc == KV_OK)
		rc = kv_snap_commit(t, err);
	else
		kv_snap_abort(t);
	if (rc == KV_OK && !ns) {
		atomic_store(&r->last_save, cut);
		atomic_store(&r->dirty_at_save, dirty_cut);
	}
	if (w.xs)
		XXH3_freeState(w.xs);
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

/* A live entry of the file being loaded, with its key's hash: verify lists
 * them in file order (hashing while the rest of the file is still being
 * read), the builders route them to their shards (BUILDING IN PARALLEL). */
typedef struct load_rec {
	uint64_t off;  /* the entry's first byte in the file */
	uint64_t h;    /* kv_hash of its key */
} load_rec;

typedef struct load_recs {
	kv_env   *env;
	load_rec *v;
	size_t    n, cap;
} load_recs;

static int verify(const char *f, size_t size, int64_t now, load_ns *nss, size_t cap, size_t *n,
                  load_recs *lr, kv_snap_reader *rd, kv_error *err);
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

/* Parse and check a version 3 'N' payload (verify's rules) into x. */
static int keep_ns_block(const char *p, uint32_t len, size_t o, load_ns *x, kv_error *err)
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
			if ((rc = keep_ns_block(p, len, o, cur, err)) != KV_OK)
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
		rc = verify(f, size, kv_now_ms(), nss, cap + 1, &n, NULL, NULL, err);
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

static int walk_entries(const char *p, size_t len, size_t fileoff, kv_error *err, entry_fn fn,
                        void *ctx, uint64_t *count)
{
	size_t o = 0;
	while (o < len) {
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
		if (fn) {
			int rc = fn(ctx, p + o, kl, p + o + kl, vl, type, exp);
			if (rc != KV_OK)
				return rc;
		}
		o += (size_t)kl + vl;
		(*count)++;
	}
	return KV_OK;
}

typedef struct stat_ctx {
	load_ns    *ns;
	int64_t     now;
	const char *f;
	load_recs  *lr;   /* NULL: no records */
} stat_ctx;

static int stat_entry(void *ctx, const char *key, uint32_t klen, const char *val, uint32_t vlen,
                      int type, int64_t exp)
{
	(void)key;
	(void)val;
	stat_ctx *c = ctx;
	if (kv_expired(exp, c->now))
		return KV_OK;
	if (c->lr) {
		if (c->lr->n == c->lr->cap) {
			size_t cap = c->lr->cap ? c->lr->cap * 2 : 4096;
			load_rec *v = kv_mem_realloc(c->lr->env, c->lr->v, cap * sizeof *v);
			if (!v)
				return KV_ENOMEM;
			c->lr->v = v;
			c->lr->cap = cap;
		}
		size_t hdr = exp ? 18 : 10; /* a flagged expiry is never 0 */
		c->lr->v[c->lr->n++] = (load_rec){(uint64_t)(key - hdr - c->f), kv_hash(key, klen)};
	}
	c->ns->live++;
	c->ns->colls += kv_is_kind(type);
	c->ns->bytes += kv_alloc_size(kv_entry_size(klen, vlen, exp ? KV_E_TTL : 0));
	if (klen > c->ns->max_klen)
		c->ns->max_klen = klen;
	if (vlen > c->ns->max_vlen && !kv_is_kind(type)) /* a collection's record is not a value */
		c->ns->max_vlen = vlen;
	return KV_OK;
}

/* Parse and verify the whole image; fill nss (cap entries), *n, and lr (if not
 * NULL) with the records of the entries live at now.  With rd, the
 * image is still arriving: each block is verified once it is in, and a failed
 * read returns KV_EIO with no message (kv_snap_read_end has it). */
#define ARRIVED(upto) (!rd || kv_snap_read_wait(rd, (upto)))
static int verify(const char *f, size_t size, int64_t now, load_ns *nss, size_t cap, size_t *n,
                  load_recs *lr, kv_snap_reader *rd, kv_error *err)
{
	if (!ARRIVED(size < SNAP_HDR ? size : SNAP_HDR))
		return KV_EIO;
	if (size < SNAP_HDR || memcmp(f, SNAP_MAGIC, 8) != 0)
		return kv_snap_err(err, KV_EFORMAT, 0, "not a shardkv snapshot (bad magic)");
	if ((uint32_t)XXH3_64bits(f, 28) != get32(f + 28))
		return CORRUPT("file header checksum mismatch");
	uint32_t ver = get32(f + 8);
	if (ver < 1 || ver > SNAP_VERSION)
		return kv_snap_err(err, KV_EFORMAT, 0, "unsupported snapshot version %u (this build reads %u)", ver, SNAP_VERSION);
	uint32_t nns = get32(f + 24);
	if (get32(f + 12) != 0)
		return kv_snap_err(err, KV_EFORMAT, 0, "unsupported snapshot flags");
	size_t o = SNAP_HDR, count = 0;
	uint64_t blocks = 0;
	load_ns *cur = NULL;
	stat_ctx sc = {NULL, now, f, lr};
	XXH3_state_t hs; /* version 3's trailer hash: the file header and the block headers */
	XXH3_64bits_reset(&hs);
	XXH3_64bits_update(&hs, f, SNAP_HDR);
	for (;;) {
		if (size - o < BLK_HDR)
			return CORRUPT("file truncated at byte %zu (block header expected)", o);
		if (!ARRIVED(o + BLK_HDR))
			return KV_EIO;
		uint32_t kind = get32(f + o), len = get32(f + o + 4);
		if (len > size - o - BLK_HDR)
			return CORRUPT("file truncated: block at byte %zu claims %u bytes", o, len);
		const char *p = f + o + BLK_HDR;
		if (!ARRIVED(o + BLK_HDR + len))
			return KV_EIO;
		if (XXH3_64bits(p, len) != get64(f + o + 8))
			return CORRUPT("checksum mismatch in block at byte %zu", o);

		if (kind == BLK_TRAILER) {
			if (len != 16 || cur)
				return CORRUPT("malformed trailer at byte %zu", o);
			if (get64(p) != blocks)
				return CORRUPT("trailer counts %llu blocks, file has %llu", (unsigned long long)get64(p), (unsigned long long)blocks);
			if (get64(p + 8) != (ver >= 3 ? XXH3_64bits_digest(&hs) : XXH3_64bits(f, o)))
				return CORRUPT("whole-file checksum mismatch");
			if (o + BLK_HDR + len != size)
				return CORRUPT("%zu unexpected bytes after the trailer", size - (o + BLK_HDR + len));
			break;
		}
		blocks++;
		XXH3_64bits_update(&hs, f + o, BLK_HDR);
		switch (kind) {
		case BLK_NS: {
			if (cur)
				return CORRUPT("namespace block at byte %zu inside another namespace", o);
			if (count == nns || count == cap)
				return CORRUPT("more namespaces than the header's %u", nns);
			size_t nl = len ? (unsigned char)p[0] : 0;
			if (len != 1 + nl + 40 || nl == 0 || nl > KV_NS_NAME_MAX)
				return CORRUPT("malformed namespace block at byte %zu", o);
			cur = &nss[count++];
			memset(cur, 0, sizeof *cur);
			memcpy(cur->name, p + 1, nl);
			if (kv_ns_valid_name(cur->name) != KV_OK)
				return CORRUPT("invalid namespace name in block at byte %zu", o);
			/* no lock held; count <= cap, the store's max_namespaces (1024 by default) */
			for (size_t d = 0; d + 1 < count; d++)
				if (strcmp(nss[d].name, cur->name) == 0)
					return CORRUPT("namespace \"%s\" appears twice (again at byte %zu)", cur->name, o);
			const char *c = p + 1 + nl;
			cur->cfg.shards = get32(c);
			cur->cfg.max_keys = get64(c + 4);
			cur->cfg.max_memory = get64(c + 12);
			cur->cfg.default_ttl_ms = (int64_t)get64(c + 20);
			cur->cfg.max_key_size = get32(c + 28);
			cur->cfg.max_value_size = get32(c + 32);
			cur->cfg.eviction = (int)get32(c + 36);
			if (cur->cfg.shards == 0 || cur->cfg.shards > KV_MAX_SHARDS || kv_ns_check_config(&cur->cfg) != KV_OK)
				return CORRUPT("invalid configuration for namespace \"%s\"", cur->name);
			cur->first_blk = o + BLK_HDR + len;
			cur->ns_blk = o;
			cur->rec0 = lr ? lr->n : 0;
			cur->nblocks = 1;
			sc.ns = cur;
			break;
		}
		case BLK_ENTRIES: {
			if (!cur)
				return CORRUPT("entries block at byte %zu outside a namespace", o);
			int rc = walk_entries(p, len, o + BLK_HDR, err, stat_entry, &sc, &cur->entries);
			if (rc == KV_ENOMEM) /* the records */
				return kv_snap_err(err, KV_ENOMEM, 0, "out of memory");
			if (rc != KV_OK)
				return rc;
			cur->nblocks++;
			break;
		}
		case BLK_END:
			if (!cur || len != 8)
				return CORRUPT("malformed end-of-namespace block at byte %zu", o);
			if (get64(p) != cur->entries)
				return CORRUPT("namespace \"%s\" should hold %llu entries, file has %llu", cur->name, (unsigned long long)get64(p), (unsigned long long)cur->entries);
			cur->end_blk = o;
			cur->nblocks++;
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
 * BUILDING IN PARALLEL.  Verify has listed every live entry with its key's
 * hash (load_recs), so each key is hashed once, and while the file is still
 * being read.  A namespace's new shards are then built by up to `threads`
 * threads (the calling thread is one of them): thread t takes the shards s
 * with s % threads == t, counts their records, sizes each table once for
 * its count, then walks the records in file order (a later duplicate still
 * wins) and links those of its shards.  Entries come from the thread's own
 * carve of slab pages (kv_carve): a page allocator lock per 64 KiB page, no
 * class lock per entry.  The shards are not published, so no shard lock is
 * contended; the threads call nothing of the host (no hook, no
 * kv_mem_methods: what they need is allocated before), block every signal,
 * and are joined before the load goes on.  A namespace holding collections
 * is built by the calling thread alone (building one may use the host's
 * allocator).  A failure (the region is full) stops every thread; the load
 * then fails as before.
 */
typedef struct load_ent {
	const char *key, *val;
	uint32_t    klen, vlen;
	int         type;
	int64_t     exp;
} load_ent;

/* Decode the (verified) entry at p; returns its size. */
static size_t ent_parse(const char *p, load_ent *e)
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
	return o + e->klen + e->vlen;
}

/* A key's shard among n during a load: from a process-local copy of the
 * namespace's route table (kv_route's answer for each 16-bit prefix) when the
 * namespace is big enough to pay for building one, else kv_route itself (jump
 * hashing: a loop of divisions per key, twice per entry and thread: count, build). */
static uint16_t *load_route_table(kv_env *env, const load_ns *x)
{
	if (x->nshards <= 1 || x->live < KV_ROUTE_SIZE)
		return NULL;
	uint16_t *t = kv_mem_realloc(env, NULL, KV_ROUTE_SIZE * sizeof *t);
	if (t)
		for (size_t p = 0; p < KV_ROUTE_SIZE; p++)
			t[p] = (uint16_t)kv_route((uint64_t)p << (64 - KV_ROUTE_BITS), x->nshards);
	return t;
}

static inline uint32_t load_route(const uint16_t *t, uint64_t h, uint32_t n)
{
	return t ? t[h >> (64 - KV_ROUTE_BITS)] : kv_route(h, n);
}

struct load_job;
typedef struct load_work {
	struct load_job *job;
	uint32_t         id;
	uint32_t        *counts;   /* [nshards]: records of this thread's shards */
	int              rc;       /* first failure */
	bool             reserve;  /* rc came from sizing a table */
	pthread_t        th;
} load_work;

typedef struct load_job {
	kv_env         *env;
	const char     *f;
	load_ns        *x;
	const load_rec *rec;      /* x's: [x->live] */
	const uint16_t *route;
	uint32_t        ver;      /* the file's format version */
	uint32_t        nthreads;
	_Atomic int     stop;     /* a thread failed */
	load_work      *w;
} load_job;

/* Link the entry e (hash h) into its (unpublished) shard sh. */
static int build_one(kv_env *env, kv_shard *sh, kv_carve *carve, const load_ent *in, uint64_t h,
                     uint32_t ver)
{
	uint32_t h32 = kv_hash32(h), pos;
	kv_entry *old = kv_shard_find_locked(env, sh, h32, in->key, in->klen, &pos);
	const char *val = in->val;
	uint32_t vlen = in->vlen;
	int type = in->type, rc = KV_OK;
	kv_croot root = {KV_CROOT_MAGIC, 0};
	if (kv_is_kind(type) && ver < 2) {
		type = KV_T_BYTES; /* version 1 had no kinds: that tag was a string's */
	} else if (kv_is_kind(type)) { /* the calling thread only (see BUILDING IN PARALLEL) */
		kv_chdr *ch;
		if ((rc = kv_coll_deserialise(env, type, val, vlen, &ch)) != KV_OK)
			return rc;
		root.hdr = kv_offof(env, ch); /* the entry takes the header's one reference */
		val = (const char *)&root;
		vlen = sizeof root;
	}
	kv_off o = kv_carve_alloc(env, carve, kv_entry_size(in->klen, vlen, in->exp ? KV_E_TTL : 0));
	if (!o) {
		if (root.hdr)
			kv_chdr_destroy(env, kv_ptr(env, root.hdr));
		return KV_ENOMEM;
	}
	kv_entry *e = kv_entry_init(env, o, in->key, in->klen, vlen, type, in->exp);
	memcpy(kv_entry_key(e) + in->klen, val, vlen);
	if (old) { /* a duplicate key: the later record wins */
		sh->bytes -= kv_entry_charge(env, old);
		kv_shard_replace_locked(env, sh, pos, o);
		kv_entry_free(env, old);
	} else if ((rc = kv_shard_insert_locked(env, sh, h32, o)) != KV_OK) {
		kv_entry_free(env, e);
		return rc;
	}
	sh->bytes += kv_entry_charge(env, e);
	return KV_OK;
}

static void build_pass(load_work *w)
{
	load_job *j = w->job;
	kv_env *env = j->env;
	load_ns *x = j->x;
	uint32_t T = j->nthreads, n = x->nshards;
	kv_off *a = kv_ptr(env, x->arr);
	/* size each of this thread's tables once (the shards are not published:
	 * the lock is for form) */
	for (uint64_t i = 0; i < x->live; i++) {
		uint32_t s = load_route(j->route, j->rec[i].h, n);
		w->counts[s] += s % T == w->id;
	}
	for (uint32_t s = w->id; s < n && w->rc == KV_OK; s += T) {
		kv_shard *sh = kv_ptr(env, a[s]);
		kv_spin_lock(&sh->lock);
		w->rc = kv_shard_reserve_locked(env, sh, w->counts[s]);
		kv_spin_unlock(&sh->lock);
		w->reserve = w->rc != KV_OK;
	}
	kv_carve carve;
	memset(&carve, 0, sizeof carve);
	for (uint64_t i = 0; i < x->live && w->rc == KV_OK; i++) {
		if ((i & 4095) == 0 && atomic_load_explicit(&j->stop, memory_order_relaxed))
			break;
		uint32_t s = load_route(j->route, j->rec[i].h, n);
		if (s % T != w->id)
			continue;
		load_ent e;
		ent_parse(j->f + j->rec[i].off, &e);
		w->rc = build_one(env, kv_ptr(env, a[s]), &carve, &e, j->rec[i].h, j->ver);
	}
	kv_carve_done(env, &carve);
}

static void *load_worker(void *arg)
{
	load_work *w = arg;
	build_pass(w);
	if (w->rc != KV_OK)
		atomic_store(&w->job->stop, 1);
	return NULL;
}

/* Run the job on its threads: the calling thread is worker 0; a thread that
 * cannot be started has its share run here too. */
static void load_run(load_job *j)
{
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	bool *started = (bool *)(j->w + j->nthreads); /* room left by the caller */
	for (uint32_t t = 1; t < j->nthreads; t++)
		started[t] = pthread_create(&j->w[t].th, NULL, load_worker, &j->w[t]) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	load_worker(&j->w[0]);
	for (uint32_t t = 1; t < j->nthreads; t++) {
		if (started[t])
			pthread_join(j->w[t].th, NULL);
		else
			load_worker(&j->w[t]);
	}
}

/* Build x's new shards (x->arr, empty) from the verified file f. */
static int build_ns(kv_env *env, const char *f, load_ns *x, const load_recs *lr, uint32_t threads,
                    kv_error *err)
{
	if (x->live == 0)
		return KV_OK;
	uint32_t T = threads;
	if (x->colls || T > x->nshards)
		T = x->colls ? 1 : x->nshards;
	if (T > 1 && x->live < 4096 * (uint64_t)T) /* not worth a thread */
		T = (uint32_t)(x->live / 4096) + 1;
	load_job j;
	memset(&j, 0, sizeof j);
	j.env = env;
	j.f = f;
	j.x = x;
	j.rec = lr->v + x->rec0;
	j.ver = get32(f + 8);
	j.nthreads = T;
	j.w = kv_mem_realloc(env, NULL, T * (sizeof *j.w + sizeof(bool)));
	uint32_t *counts = kv_mem_realloc(env, NULL, (size_t)T * x->nshards * sizeof *counts);
	j.route = load_route_table(env, x);
	int rc = KV_OK;
	if (!j.w || !counts) {
		rc = kv_snap_err(err, KV_ENOMEM, 0, "out of memory building namespace \"%s\"", x->name);
	} else {
		memset(counts, 0, (size_t)T * x->nshards * sizeof *counts);
		for (uint32_t t = 0; t < T; t++)
			j.w[t] = (load_work){.job = &j, .id = t, .counts = counts + (size_t)t * x->nshards};
		load_run(&j);
		for (uint32_t t = 0; t < T && rc == KV_OK; t++) {
			rc = j.w[t].rc;
			if (rc != KV_OK && j.w[t].reserve)
				kv_snap_err(err, rc, 0, "out of memory building namespace \"%s\"", x->name);
			else if (rc != KV_OK)
				kv_snap_err(err, rc, 0, "%s while loading namespace \"%s\"", kv_strerror(rc), x->name);
		}
	}
	kv_mem_realloc(env, (void *)j.route, 0);
	kv_mem_realloc(env, counts, 0);
	kv_mem_realloc(env, j.w, 0);
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
	/* with threads, the file is read on one while this one verifies what came in */
	int rc = kv_snap_resolve(env, dir, name, &t, err);
	if (rc == KV_OK && (rc = kv_snap_read_begin(&t, env->size * 2 + ((size_t)1 << 20), threads > 1, &rd, err)) != KV_OK)
		kv_snap_close(&t);
	if (rc == KV_NOTFOUND && (rc = KV_EIO) && err) /* a missing file is an I/O error here */
		err->code = rc;
	if (rc != KV_OK)
		return rc;
	char *f = rd.buf;
	size_t size = rd.size, n = 0;
	const char *path = t.shown;
	load_ns *nss = kv_mem_realloc(env, NULL, sizeof *nss * (r->max_ns ? r->max_ns : 1));
	load_recs lr = {env, NULL, 0, 0};
	/* entries expired at this instant are dropped (verify counts, the build skips them) */
	int64_t now = kv_now_ms();
	if (!nss)
		rc = kv_snap_err(err, KV_ENOMEM, 0, "out of memory");
	else
		rc = verify(f, size, now, nss, r->max_ns, &n, &lr, &rd, err);
	kv_error rerr;
	if (kv_snap_read_end(&rd, &rerr) != KV_OK) { /* a failed read wins, as when it came first */
		if (err)
			*err = rerr;
		rc = rerr.code;
		f = NULL; /* freed */
	}
	kv_snap_close(&t);
	if (!nss) {
		kv_mem_realloc(env, f, 0);
		return rc;
	}
	if (rc != KV_OK) {
		if (err && rc == KV_ECORRUPT) {
			char m[sizeof err->msg];
			memcpy(m, err->msg, sizeof m);
			snprintf(err->msg, sizeof err->msg, "snapshot \"%s\" is corrupt: %.120s", path, m);
		}
		goto done;
	}
	/* select */
	if (ns) {
		size_t k;
		for (k = 0; k < n && strcmp(nss[k].name, ns) != 0; k++)
			;
		if (k == n) {
			rc = kv_snap_err(err, KV_ENONS, 0, "snapshot \"%s\" has no namespace \"%s\"", path, ns);
			goto done;
		}
		nss[0] = nss[k];
		n = 1;
		if (as)
			strcpy(nss[0].name, as);
	}

	/* check limits against live namespaces, claim them, create missing ones */
	kv_spin_lock(&r->admin);
	size_t claimed = 0;
	for (size_t k = 0; k < n && rc == KV_OK; k++) {
		load_ns *x = &nss[k];
		uint32_t idx, g;
		if (kv_ns_find_slot(env, x->name, &idx, &g) == KV_OK) {
			kv_nsslot *sl = kv_slot(env, idx);
			uint64_t mk = atomic_load(&sl->max_keys), mm = atomic_load(&sl->max_memory);
			if (mk && x->live > mk)
				rc = kv_snap_err(err, KV_EMAXKEYS, 0, "namespace \"%s\" allows %llu keys, the snapshot holds %llu", x->name, (unsigned long long)mk, (unsigned long long)x->live);
			else if (mm && x->bytes > mm)
				rc = kv_snap_err(err, KV_EMAXMEM, 0, "namespace \"%s\" allows %llu bytes, the snapshot needs about %llu", x->name, (unsigned long long)mm, (unsigned long long)x->bytes);
			else if (x->max_klen > atomic_load(&sl->max_key_size))
				rc = kv_snap_err(err, KV_EKEYSIZE, 0, "snapshot has a key longer than namespace \"%s\" allows", x->name);
			else if (x->max_vlen > atomic_load(&sl->max_value_size))
				rc = kv_snap_err(err, KV_EVALSIZE, 0, "snapshot has a value longer than namespace \"%s\" allows", x->name);
			else {
				uint32_t z = 0;
				if (!atomic_compare_exchange_strong(&sl->busy, &z, 1))
					rc = kv_snap_err(err, KV_EBUSY, 0, "namespace \"%s\" is busy with a save, load or resize", x->name);
			}
			x->target = idx;
			x->nshards = atomic_load(&sl->nshards);
			x->created = false;
		} else {
			x->target = UINT32_MAX;
			x->nshards = x->cfg.shards;
			x->created = true;
		}
		if (rc == KV_OK)
			claimed = k + 1;
	}
	kv_spin_unlock(&r->admin);

	/* build every namespace's new shards; nothing is visible yet */
	size_t built = 0;
	for (size_t k = 0; k < n && rc == KV_OK; k++) {
		load_ns *x = &nss[k];
		/* slot index UINT32_MAX makes owner 0: charged to no slot until the swap */
		if ((rc = kv_shards_create(env, UINT32_MAX, x->nshards, &x->arr)) != KV_OK) {
			kv_snap_err(err, rc, 0, "out of memory building namespace \"%s\"", x->name);
			break;
		}
		built = k + 1;
		rc = build_ns(env, f, x, &lr, threads, err);
	}

	/* create the namespaces that did not exist (empty, with the file's config) */
	for (size_t k = 0; k < n && rc == KV_OK; k++) {
		load_ns *x = &nss[k];
		if (!x->created)
			continue;
		int c = kv_ns_create(env, x->name, &x->cfg);
		uint32_t g;
		if (c == KV_OK || c == KV_ENSEXISTS)
			c = kv_ns_find_slot(env, x->name, &x->target, &g);
		if (c != KV_OK) {
			rc = kv_snap_err(err, c, 0, "could not create namespace \"%s\": %s", x->name, kv_strerror(c));
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
		for (size_t k = 0; k < built; k++)
			kv_shards_destroy(env, nss[k].arr, nss[k].nshards);
	} else {
		/* swap, one namespace at a time */
		kv_spin_lock(&r->admin);
		for (size_t k = 0; k < n; k++) {
			load_ns *x = &nss[k];
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
		for (size_t k = 0; k < n; k++)
			kv_shards_destroy(env, nss[k].arr, nss[k].nshards);
	}
	kv_spin_lock(&r->admin);
	for (size_t k = 0; k < n; k++) {
		bool mine = nss[k].created ? nss[k].target != UINT32_MAX : k < claimed;
		if (mine && nss[k].target != UINT32_MAX)
			atomic_store(&kv_slot(env, nss[k].target)->busy, 0);
	}
	kv_spin_unlock(&r->admin);
done:
	kv_mem_realloc(env, lr.v, 0);
	kv_mem_realloc(env, nss, 0);
	kv_mem_realloc(env, f, 0);
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
