/*
 * lists.c -- kv.h's list calls (LPUSH ... LMOVE, Redis 7 semantics) over the
 * structure of list.c, and the list kind's operations for the collection
 * core (coll.h: encoding, free, copy, scan, add).
 *
 * A list is a collection header (coll.h) whose body is list.c's root: a
 * chunk ("listpack") or a top node ("quicklist"); the header's card, body
 * and enc are list.c's count, root and encoding, loaded into a kv_list for
 * the duration of one change (lw_begin / lw_end).
 *
 * WHAT RUNS UNDER THE SHARD LOCK (kv_internal.h's table has the rows)
 *   - push / pop (n elements, count), LINDEX, LSET, LINSERT's and LREM's
 *     changes, LMOVE: O(arguments) element operations, each O(1) at the ends
 *     or O(n / (chunk * 509) + 509 + chunk) inside (list.c).
 *   - LRANGE of at most KV_COLL_HOLD elements is copied under the lock; a
 *     longer range of a quicklist is copied PINNED with no lock (coll.h
 *     section 4: writers of that key wait, nobody else does).
 *   - Searches (LPOS, LINSERT's pivot, LREM's matches) always run pinned
 *     with no lock.  A write after its search then takes the lock and checks
 *     that the list is the one it searched (header and version): writers of
 *     the key were held off by the pin, so that only fails when the key was
 *     replaced, and the call starts over.
 *   - LTRIM and pops of many elements detach whole directories and chunks
 *     in O(directories) and free them after the unlock.
 *   Results go into caller memory grown with no lock held: a call whose
 *   buffer is too small under the lock unlocks, grows it and starts over.
 */
#include "coll.h"
#include "list.h"

/* --------------------------------------------------- header <-> kv_list */
static void l_load(const kv_chdr *h, kv_list *L)
{
	L->count = (uint32_t)h->card;
	L->epoch = h->epoch;
	L->root = h->body;
	L->enc = !h->body ? KV_LIST_EMPTY : h->enc == KV_ENC_QUICKLIST ? KV_LIST_QUICKLIST : KV_LIST_LISTPACK;
	L->ver = h->ver;
	L->bytes = 0;
}

static void l_store(kv_chdr *h, kv_list *L)
{
	h->card = L->count;
	h->body = L->root;
	h->enc = L->enc == KV_LIST_QUICKLIST ? KV_ENC_QUICKLIST : KV_ENC_LISTPACK;
	h->bytes += L->bytes; /* a delta: list.c counts from 0 */
	L->bytes = 0;
}

/* One change to a list under its shard lock. */
typedef struct lwork {
	kv_env    *env;
	kv_chdr   *h;
	kv_list    L;
	kv_lctx    c;
	kv_lgc     gc;
	kv_lgc_rec rec[KV_LIST_GC_OP];
} lwork;

/* A node the change dropped that the pending save may read: to the view's
 * graveyard (coll.h section 5).  list.c uncharged it already; the core's
 * release uncharges again, so put it back first. */
static void keep_node(void *arg, kv_off off, size_t size)
{
	lwork *w = arg;
	w->h->bytes += size;
	kv_cobj_release(w->env, w->h, kv_ptr(w->env, off), size);
}
static void keep_shared(kv_lctx *c, kv_off off, size_t size)
{
	keep_node(c->arg, off, size);
}

/* After kv_coll_mutate (which may have frozen the header). */
static void lw_begin(lwork *w, kv_env *env, kv_chdr *h)
{
	w->env = env;
	w->h = h;
	l_load(h, &w->L);
	w->gc.v = w->rec;
	w->gc.n = 0;
	w->gc.cap = KV_LIST_GC_OP;
	bool frozen = atomic_load_explicit(&h->view.state, memory_order_relaxed) == KV_VIEW_FROZEN;
	w->c = (kv_lctx){env, &w->L, frozen, &w->gc, keep_shared, w};
}

/* Still under the lock: the header takes the result.  While a save is
 * pending, detached subtrees go to its graveyard node by node (O(nodes
 * detached), only then); otherwise they wait for lw_free. */
static void lw_end(lwork *w)
{
	if (w->c.frozen) {
		for (size_t i = 0; i < w->gc.n; i++)
			kv_list_rec_nodes(w->env, w->gc.v[i], keep_node, w);
		w->gc.n = 0;
	}
	l_store(w->h, &w->L);
}

/* With no lock held. */
static void lw_free(lwork *w)
{
	kv_list_gc_free(w->env, &w->gc);
}

/* ------------------------------------------------------------- results */
static bool elems_fit(const kv_elems *o, size_t n, size_t bytes)
{
	return o->cap >= o->n + n && o->bytes.cap >= o->bytes.len + bytes + 1;
}

/* Grow with no lock held. */
static int elems_grow(kv_env *env, kv_elems *o, size_t n, size_t bytes)
{
	if (o->cap < o->n + n) {
		size_t cap = (o->n + n) * 2;
		kv_elem *v = kv_mem_realloc(env, o->v, cap * sizeof *v);
		if (!v)
			return KV_ENOMEM;
		o->v = v;
		o->cap = cap;
	}
	return kv_buf_reserve(env, &o->bytes, o->bytes.len + bytes + bytes / 2);
}

/* Room reserved: no allocation. */
static void elems_put(kv_elems *o, const void *p, size_t len)
{
	if (len)
		memcpy(o->bytes.data + o->bytes.len, p, len);
	o->v[o->n].off = o->bytes.len;
	o->v[o->n].len = len;
	o->v[o->n].score = 0;
	o->n++;
	o->bytes.len += len;
	o->bytes.data[o->bytes.len] = 0;
}

/* Reads copy at most this much under the lock; bigger answers are copied
 * pinned, with no lock. */
#define LOCKED_READ_MAX ((size_t)64 << 10)

/* Copy k elements walking from it (backwards if back) into out if they fit
 * in its room; else leave out alone and set *need (bytes). */
static bool take(const kv_list_it *start, bool back, uint64_t k, kv_elems *out, size_t *need)
{
	kv_list_it it = *start;
	size_t bytes = 0;
	for (uint64_t i = 0; i < k; i++) {
		const char *p;
		size_t len;
		kv_list_cur(&it, &p, &len);
		bytes += len;
		if (i + 1 < k)
			back ? kv_list_prev(&it) : kv_list_next(&it);
	}
	if (!elems_fit(out, k, bytes)) {
		*need = bytes;
		return false;
	}
	it = *start;
	for (uint64_t i = 0; i < k; i++) {
		const char *p;
		size_t len;
		kv_list_cur(&it, &p, &len);
		elems_put(out, p, len);
		if (i + 1 < k)
			back ? kv_list_prev(&it) : kv_list_next(&it);
	}
	return true;
}

/* ------------------------------------------------------------- helpers */
static uint32_t max_value(const kv_cop *op)
{
	return atomic_load_explicit(&op->w.ref.slot->max_value_size, memory_order_relaxed);
}

static uint32_t clamp32(uint64_t n)
{
	return n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
}

/* Redis's LRANGE/LTRIM normalisation: false if the range is empty. */
static bool norm_range(int64_t start, int64_t stop, uint64_t llen, uint64_t *s, uint64_t *e)
{
	int64_t n = (int64_t)llen;
	if (start < 0)
		start = start < -n ? 0 : start + n;
	if (stop < 0)
		stop = stop < -n ? -1 : stop + n;
	if (start > stop || start >= n)
		return false;
	if (stop >= n)
		stop = n - 1;
	*s = (uint64_t)start;
	*e = (uint64_t)stop;
	return true;
}

/* LINDEX/LSET: false if out of range. */
static bool norm_index(int64_t index, uint64_t llen, uint64_t *i)
{
	int64_t n = (int64_t)llen;
	if (index < 0)
		index += n;
	if (index < 0 || index >= n)
		return false;
	*i = (uint64_t)index;
	return true;
}

static int check_vals(const kv_val *v, size_t n)
{
	if (!v || n == 0)
		return KV_EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!v[i].data && v[i].len)
			return KV_EINVAL;
	return KV_OK;
}

/* ------------------------------------------------------------- pushes */
/* Push v[0..n) at `where` of op's list (created if missing), all or none.
 * pre (may be NULL): chunks built before the lock for elements too big to
 * share one (kv_list_chunk_build); a linked one's slot is zeroed. */
static int push_locked(kv_cop *op, kv_env *env, int where, const kv_val *v, size_t n, kv_off *pre,
                       lwork *w)
{
	size_t more = 8192 + 4096;
	uint32_t maxv = max_value(op);
	for (size_t i = 0; i < n; i++) {
		if (v[i].len > maxv)
			return KV_EVALSIZE;
		more += kv_list_elem_size(v[i].len);
	}
	int rc;
	if (!op->h && (rc = kv_coll_create(op, KV_ENC_LISTPACK)) != KV_OK)
		return rc;
	if (op->h->card + n > KV_COLL_MAX_ELEMS)
		return KV_EVALSIZE;
	if ((rc = kv_coll_reserve(op, (int64_t)more)) != KV_OK || (rc = kv_coll_mutate(op, 8)) != KV_OK)
		return rc;
	uint64_t len0 = op->h->card;
	lw_begin(w, env, op->h);
	size_t done = 0;
	for (; done < n; done++) {
		if (pre && pre[done]) {
			if ((rc = kv_list_push_chunk(&w->c, where, pre[done])) == KV_OK)
				pre[done] = 0;
		} else {
			rc = kv_list_push(&w->c, where, v[done].data, v[done].len);
		}
		if (rc != KV_OK)
			break;
	}
	if (rc != KV_OK) /* undo: the pushed ends are writable, removing them allocates nothing */
		while (done--)
			kv_list_delete(&w->c, where == KV_LEFT ? 0 : w->L.count - 1, 1);
	lw_end(w);
	if (rc == KV_OK)
		op->changed = true;
	for (size_t i = 0; rc == KV_OK && i < n; i++)
		kv_redo_list(op, KV_REDO_LINS, len0 + i, where == KV_LEFT ? 0 : len0 + i, 0, v[i].data, v[i].len);
	return rc;
}

KV_API int kv_push(kv_ns *ns, const void *key, size_t klen, int where, const kv_val *v, size_t n,
                   unsigned flags, uint64_t *len)
{
	if (len)
		*len = 0;
	if ((where != KV_LEFT && where != KV_RIGHT) || (flags & ~KV_PUSH_XX) || check_vals(v, n) != KV_OK)
		return KV_EINVAL;
	kv_env *env = ns->env;
	/* elements too big to share a chunk are copied now, with no lock (one
	 * that cannot be built here, the region being full, is copied under it) */
	kv_off *pre = NULL;
	for (size_t i = 0; i < n; i++) {
		if (v[i].len <= KV_LIST_CHUNK_MAX || v[i].len > KV_VALUE_SIZE_LIMIT)
			continue;
		if (!pre) {
			if (!(pre = kv_mem_realloc(env, NULL, n * sizeof *pre)))
				return KV_ENOMEM;
			memset(pre, 0, n * sizeof *pre);
		}
		pre[i] = kv_list_chunk_build(env, v[i].data, v[i].len);
	}
	kv_cop op;
	int rc = kv_coll_open(ns, key, klen, KV_T_LIST, KV_COPEN_WRITE, &op);
	if (rc == KV_OK) {
		lwork w;
		w.gc.n = 0;
		w.env = env;
		if (!op.h && (flags & KV_PUSH_XX))
			rc = KV_NOTFOUND;
		else
			rc = push_locked(&op, env, where, v, n, pre, &w);
		if (rc == KV_OK && len)
			*len = op.h->card;
		rc = kv_coll_close(&op, rc, where == KV_LEFT ? KV_EV_LPUSH : KV_EV_RPUSH);
		lw_free(&w);
	}
	for (size_t i = 0; pre && i < n; i++)
		if (pre[i])
			kv_list_chunk_drop(env, pre[i]);
	kv_mem_realloc(env, pre, 0);
	return rc;
}

/* --------------------------------------------------------------- pops */
KV_API int kv_pop(kv_ns *ns, const void *key, size_t klen, int where, int has_count,
                  uint64_t count, kv_elems *out)
{
	if ((where != KV_LEFT && where != KV_RIGHT) || !out)
		return KV_EINVAL;
	kv_env *env = ns->env;
	kv_elems_reset(out);
	for (;;) {
		kv_cop op;
		int rc = kv_coll_open(ns, key, klen, KV_T_LIST, KV_COPEN_WRITE, &op);
		if (rc != KV_OK)
			return rc;
		if (!op.h)
			return kv_coll_close(&op, KV_NOTFOUND, 0);
		uint64_t k = has_count ? (count < op.h->card ? count : op.h->card) : 1;
		if (k == 0) /* LPOP key 0: an empty answer, nothing changes */
			return kv_coll_close(&op, KV_OK, 0);
		kv_list L;
		l_load(op.h, &L);
		uint64_t at = where == KV_LEFT ? 0 : L.count - k;
		kv_list_it it;
		kv_list_seek(&it, env, &L, where == KV_LEFT ? 0 : L.count - 1);
		const char *p;
		size_t len;
		kv_list_cur(&it, &p, &len);
		if (k == 1 && len > KV_LIST_CHUNK_MAX && elems_fit(out, 1, len)) {
			/* a big element leaves in its chunk and is copied after the unlock */
			lwork w;
			w.env = env;
			w.gc.n = 0;
			kv_off ch = 0;
			if ((rc = kv_coll_mutate(&op, 6)) == KV_OK) {
				lw_begin(&w, env, op.h);
				ch = kv_list_pop_chunk(&w.c, where);
				lw_end(&w);
			}
			if (ch)
				kv_redo_list(&op, KV_REDO_LDEL, L.count, at, 1, NULL, 0);
			if (ch) {
				op.changed = true;
				rc = kv_coll_close(&op, KV_OK, where == KV_LEFT ? KV_EV_LPOP : KV_EV_RPOP);
				kv_list_chunk_elem(env, ch, &p, &len);
				elems_put(out, p, len); /* room was checked: no allocation */
				kv_list_chunk_drop(env, ch);
				lw_free(&w);
				return rc;
			}
			if (rc != KV_OK) {
				rc = kv_coll_close(&op, rc, 0);
				lw_free(&w);
				return rc;
			}
			/* a snapshot reads it: copied under the lock below */
		}
		size_t need;
		if (!take(&it, where == KV_RIGHT, k, out, &need)) {
			kv_coll_close(&op, KV_OK, 0);
			if (elems_grow(env, out, k, need) != KV_OK)
				return KV_ENOMEM;
			continue;
		}
		lwork w;
		w.env = env;
		w.gc.n = 0;
		rc = kv_coll_mutate(&op, clamp32(kv_list_nodes_in(env, &L, at, k)));
		if (rc == KV_OK) {
			lw_begin(&w, env, op.h);
			rc = kv_list_delete(&w.c, at, k);
			lw_end(&w);
		}
		if (rc == KV_OK)
			kv_redo_list(&op, KV_REDO_LDEL, L.count, at, k, NULL, 0);
		if (rc != KV_OK)
			kv_elems_reset(out);
		op.changed = rc == KV_OK;
		rc = kv_coll_close(&op, rc, where == KV_LEFT ? KV_EV_LPOP : KV_EV_RPOP);
		lw_free(&w);
		return rc;
	}
}

/* ------------------------------------------------------------ reading */
KV_API int kv_lrange(kv_ns *ns, const void *key, size_t klen, int64_t start, int64_t stop,
                     kv_elems *out)
{
	if (!out)
		return KV_EINVAL;
	kv_env *env = ns->env;
	kv_elems_reset(out);
	for (;;) {
		kv_cop op;
		int rc = kv_coll_open(ns, key, klen, KV_T_LIST, KV_COPEN_PIN, &op);
		if (rc != KV_OK)
			return rc;
		uint64_t s, e;
		if (!op.h || !norm_range(start, stop, op.h->card, &s, &e))
			return kv_coll_close(&op, KV_OK, 0);
		kv_list L;
		l_load(op.h, &L);
		uint64_t k = e - s + 1;
		kv_list_it it;
		kv_list_seek(&it, env, &L, s);
		size_t need = 0;
		if (k <= KV_COLL_HOLD && take(&it, false, k, out, &need))
			return kv_coll_close(&op, KV_OK, 0);
		if (k > KV_COLL_HOLD || need > LOCKED_READ_MAX) {
			/* pinned: the body stays as it is and no lock is held */
			kv_chdr *h = op.h;
			kv_coll_pin(&op);
			kv_coll_close(&op, KV_OK, 0);
			for (uint64_t i = 0; i < k && rc == KV_OK; i++) {
				const char *p;
				size_t len;
				kv_list_cur(&it, &p, &len);
				rc = kv_elems_push(env, out, p, len, 0);
				kv_list_next(&it);
			}
			kv_coll_unpin(env, h);
			if (rc != KV_OK)
				kv_elems_reset(out);
			return rc;
		}
		kv_coll_close(&op, KV_OK, 0);
		if (elems_grow(env, out, k, need) != KV_OK)
			return KV_ENOMEM;
	}
}

KV_API int kv_lindex(kv_ns *ns, const void *key, size_t klen, int64_t index, kv_buf *out)
{
	if (!out)
		return KV_EINVAL;
	kv_env *env = ns->env;
	for (;;) {
		kv_cop op;
		int rc = kv_coll_open(ns, key, klen, KV_T_LIST, KV_COPEN_PIN, &op);
		if (rc != KV_OK)
			return rc;
		uint64_t i;
		if (!op.h || !norm_index(index, op.h->card, &i))
			return kv_coll_close(&op, KV_NOTFOUND, 0);
		kv_list L;
		l_load(op.h, &L);
		kv_list_it it;
		kv_list_seek(&it, env, &L, i);
		const char *p;
		size_t len;
		kv_list_cur(&it, &p, &len);
		kv_chdr *h = NULL;
		if (len > KV_LOCKED_COPY_MAX) {
			/* a big element is copied pinned, with no lock */
			h = op.h;
			kv_coll_pin(&op);
			kv_coll_close(&op, KV_OK, 0);
			rc = kv_buf_reserve(env, out, len);
		} else if (len + 1 > out->cap) {
			kv_coll_close(&op, KV_OK, 0);
			if (kv_buf_reserve(env, out, len) != KV_OK)
				return KV_ENOMEM;
			continue;
		}
		if (rc == KV_OK) {
			if (len)
				memcpy(out->data, p, len);
			out->data[len] = 0;
			out->len = len;
			out->type = KV_T_BYTES;
			out->expires_at = 0;
		}
		if (h) {
			kv_coll_unpin(env, h);
			return rc;
		}
		return kv_coll_close(&op, KV_OK, 0);
	}
}

/* ------------------------------------------------------------ searches */
/* A search runs pinned with no lock; a write after it locks again and must
 * find the list it searched.  pinned_reopen() returns with op open (locked)
 * and true if it did (the pin is dropped either way). */
static bool pinned_reopen(kv_ns *ns, const void *key, size_t klen, kv_chdr *h, uint32_t ver,
                          kv_cop *op, int *rc)
{
	kv_coll_unpin(ns->env, h);
	*rc = kv_coll_open(ns, key, klen, KV_T_LIST, KV_COPEN_WRITE, op);
	if (*rc != KV_OK)
		return false;
	if (op->h == h && h->ver == ver)
		return true;
	kv_coll_close(op, KV_OK, 0);
	return false;
}

typedef struct lsearch {
	const void *v;
	size_t      vlen;
	bool        back;      /* from the tail */
	uint64_t    skip;      /* matches to pass over first (RANK - 1) */
	uint64_t    limit;     /* matches to report; 0: all */
	uint64_t    maxlen;    /* elements to compare; 0: all */
	uint64_t   *pos;       /* positions found (host memory, grown with no lock) */
	size_t      n, cap;
	uint64_t    chunks;    /* distinct chunks holding them */
} lsearch;

static int search(kv_env *env, const kv_list *L, lsearch *s)
{
	s->n = 0;
	s->chunks = 0;
	if (L->count == 0)
		return KV_OK;
	kv_list_it it;
	kv_list_seek(&it, env, L, s->back ? L->count - 1 : 0);
	const char *last_chunk = NULL;
	for (uint64_t seen = 0;; seen++) {
		if (s->maxlen && seen >= s->maxlen)
			break;
		const char *p;
		size_t len;
		kv_list_cur(&it, &p, &len);
		if (len == s->vlen && memcmp(p, s->v, len) == 0) {
			if (s->skip) {
				s->skip--;
			} else {
				if (s->n == s->cap) {
					size_t cap = s->cap ? s->cap * 2 : 16;
					uint64_t *np = kv_mem_realloc(env, s->pos, cap * sizeof *np);
					if (!np)
						return KV_ENOMEM;
					s->pos = np;
					s->cap = cap;
				}
				s->pos[s->n++] = it.index;
				if (it.chunk != last_chunk) {
					last_chunk = it.chunk;
					s->chunks++;
				}
				if (s->limit && s->n == s->limit)
					break;
			}
		}
		if (!(s->back ? kv_list_prev(&it) : kv_list_next(&it)))
			break;
	}
	return KV_OK;
}

KV_API int kv_lpos(kv_ns *ns, const void *key, size_t klen, const void *v, size_t vlen,
                   int64_t rank, int has_count, int64_t count, int64_t maxlen, kv_elems *out)
{
	if (!out || (!v && vlen) || rank == 0 || (has_count && count < 0) || maxlen < 0)
		return KV_EINVAL;
	kv_env *env = ns->env;
	kv_elems_reset(out);
	kv_cop op;
	int rc = kv_coll_open(ns, key, klen, KV_T_LIST, KV_COPEN_PIN, &op);
	if (rc != KV_OK)
		return rc;
	if (!op.h)
		return kv_coll_close(&op, KV_NOTFOUND, 0);
	kv_list L;
	l_load(op.h, &L);
	kv_chdr *h = op.h;
	kv_coll_pin(&op);
	kv_coll_close(&op, KV_OK, 0);
	/* INT64_MIN: Redis 7.0's -rank overflows and stays negative, so matching
	 * starts at the tail's first and a COUNT never ends it (all) */
	bool min = rank == INT64_MIN;
	lsearch s = {v, vlen, rank < 0, min ? 0 : (uint64_t)(rank < 0 ? -rank : rank) - 1,
	             has_count ? (min ? 0 : (uint64_t)count) : 1, (uint64_t)maxlen, NULL, 0, 0, 0};
	rc = search(env, &L, &s);
	kv_coll_unpin(env, h);
	for (size_t i = 0; i < s.n && rc == KV_OK; i++) {
		rc = kv_elems_push(env, out, "", 0, 0);
		if (rc == KV_OK)
			out->v[out->n - 1].off = s.pos[i];
	}
	kv_mem_realloc(env, s.pos, 0);
	if (rc != KV_OK) {
		kv_elems_reset(out);
		return rc;
	}
	return s.n ? KV_OK : KV_NOTFOUND;
}

KV_API int kv_linsert(kv_ns *ns, const void *key, size_t klen, int after, const void *pivot,
                      size_t plen, const void *v, size_t vlen, int64_t *len)
{
	int64_t dummy;
	if (!len)
		len = &dummy;
	*len = 0;
	if ((!pivot && plen) || (!v && vlen))
		return KV_EINVAL;
	kv_env *env = ns->env;
	lsearch s = {pivot, plen, false, 0, 1, 0, NULL, 0, 0, 0};
	int rc;
	for (;;) {
		kv_cop op;
		rc = kv_coll_open(ns, key, klen, KV_T_LIST, KV_COPEN_WRITE, &op);
		if (rc != KV_OK)
			break;
		if (!op.h) {
			rc = kv_coll_close(&op, KV_NOTFOUND, 0);
			break;
		}
		if (vlen > max_value(&op)) {
			rc = kv_coll_close(&op, KV_EVALSIZE, 0);
			break;
		}
		kv_list L;
		l_load(op.h, &L);
		kv_chdr *h = op.h;
		uint32_t ver = h->ver;
		kv_coll_pin(&op);
		kv_coll_close(&op, KV_OK, 0);
		rc = search(env, &L, &s);
		if (rc != KV_OK) {
			kv_coll_unpin(env, h);
			break;
		}
		if (!pinned_reopen(ns, key, klen, h, ver, &op, &rc)) {
			if (rc != KV_OK)
				break;
			continue; /* the key was replaced meanwhile: search again */
		}
		if (s.n == 0) {
			*len = -1;
			rc = kv_coll_close(&op, KV_NOTFOUND, 0);
			break;
		}
		if (op.h->card + 1 > KV_COLL_MAX_ELEMS) {
			rc = kv_coll_close(&op, KV_EVALSIZE, 0);
			break;
		}
		lwork w;
		w.env = env;
		w.gc.n = 0;
		rc = kv_coll_reserve(&op, (int64_t)kv_list_elem_size(vlen) + 8192 + 4096);
		if (rc == KV_OK)
			rc = kv_coll_mutate(&op, 12);
		if (rc == KV_OK) {
			lw_begin(&w, env, op.h);
			uint64_t len0 = w.L.count, at = s.pos[0] + (after ? 1 : 0);
			rc = kv_list_insert(&w.c, at, v, vlen);
			lw_end(&w);
			if (rc == KV_OK) /* the position found, not the pivot: replay searches nothing */
				kv_redo_list(&op, KV_REDO_LINS, len0, at, 0, v, vlen);
		}
		op.changed = rc == KV_OK;
		if (rc == KV_OK)
			*len = (int64_t)op.h->card;
		rc = kv_coll_close(&op, rc, KV_EV_LINSERT);
		lw_free(&w);
		break;
	}
	kv_mem_realloc(env, s.pos, 0);
	return rc;
}

KV_API int kv_lrem(kv_ns *ns, const void *key, size_t klen, int64_t count, const void *v,
                   size_t vlen, uint64_t *removed)
{
	uint64_t dummy;
	if (!removed)
		removed = &dummy;
	*removed = 0;
	if (!v && vlen)
		return KV_EINVAL;
	kv_env *env = ns->env;
	lsearch s = {v, vlen, count < 0, 0, count == INT64_MIN ? 0 : (uint64_t)(count < 0 ? -count : count),
	             0, NULL, 0, 0, 0};
	int rc;
	for (;;) {
		kv_cop op;
		rc = kv_coll_open(ns, key, klen, KV_T_LIST, KV_COPEN_WRITE, &op);
		if (rc != KV_OK)
			break;
		if (!op.h) {
			rc = kv_coll_close(&op, KV_OK, 0);
			break;
		}
		kv_list L;
		l_load(op.h, &L);
		kv_chdr *h = op.h;
		uint32_t ver = h->ver;
		kv_coll_pin(&op);
		kv_coll_close(&op, KV_OK, 0);
		rc = search(env, &L, &s);
		if (rc != KV_OK) {
			kv_coll_unpin(env, h);
			break;
		}
		if (!pinned_reopen(ns, key, klen, h, ver, &op, &rc)) {
			if (rc != KV_OK)
				break;
			continue;
		}
		if (s.n == 0) {
			rc = kv_coll_close(&op, KV_OK, 0);
			break;
		}
		if (s.back) /* found tail first: ascending for the removal */
			for (size_t i = 0; i < s.n / 2; i++) {
				uint64_t t = s.pos[i];
				s.pos[i] = s.pos[s.n - 1 - i];
				s.pos[s.n - 1 - i] = t;
			}
		lwork w;
		w.env = env;
		w.gc.n = 0;
		rc = kv_coll_mutate(&op, clamp32(6 + 2 * s.chunks));
		if (rc == KV_OK) {
			lw_begin(&w, env, op.h);
			uint64_t len0 = w.L.count;
			rc = kv_list_delete_positions(&w.c, s.pos, s.n);
			lw_end(&w);
			/* ascending positions: the i-th is at pos - i once i went before it */
			for (size_t i = 0; rc == KV_OK && i < s.n; i++)
				kv_redo_list(&op, KV_REDO_LDEL, len0 - i, s.pos[i] - i, 1, NULL, 0);
		}
		op.changed = rc == KV_OK;
		if (rc == KV_OK)
			*removed = s.n;
		rc = kv_coll_close(&op, rc, KV_EV_LREM);
		lw_free(&w);
		break;
	}
	kv_mem_realloc(env, s.pos, 0);
	return rc;
}

/* ------------------------------------------------------------- changes */
KV_API int kv_lset(kv_ns *ns, const void *key, size_t klen, int64_t index, const void *v,
                   size_t vlen)
{
	if (!v && vlen)
		return KV_EINVAL;
	kv_env *env = ns->env;
	kv_cop op;
	int rc = kv_coll_open(ns, key, klen, KV_T_LIST, KV_COPEN_WRITE, &op);
	if (rc != KV_OK)
		return rc;
	if (!op.h)
		return kv_coll_close(&op, KV_NOTFOUND, 0);
	uint64_t i;
	if (!norm_index(index, op.h->card, &i))
		return kv_coll_close(&op, KV_ERANGE, 0);
	if (vlen > max_value(&op))
		return kv_coll_close(&op, KV_EVALSIZE, 0);
	lwork w;
	w.env = env;
	w.gc.n = 0;
	rc = kv_coll_reserve(&op, (int64_t)kv_list_elem_size(vlen) + 8192 + 4096);
	if (rc == KV_OK)
		rc = kv_coll_mutate(&op, 12);
	if (rc == KV_OK) {
		lw_begin(&w, env, op.h);
		rc = kv_list_set(&w.c, i, v, vlen);
		lw_end(&w);
		if (rc == KV_OK)
			kv_redo_list(&op, KV_REDO_LSET, op.h->card, i, 0, v, vlen);
	}
	op.changed = rc == KV_OK;
	rc = kv_coll_close(&op, rc, KV_EV_LSET);
	lw_free(&w);
	return rc;
}

KV_API int kv_ltrim(kv_ns *ns, const void *key, size_t klen, int64_t start, int64_t stop)
{
	kv_env *env = ns->env;
	kv_cop op;
	int rc = kv_coll_open(ns, key, klen, KV_T_LIST, KV_COPEN_WRITE, &op);
	if (rc != KV_OK)
		return rc;
	if (!op.h)
		return kv_coll_close(&op, KV_OK, 0);
	uint64_t llen = op.h->card, s, e, ltrim, rtrim;
	if (norm_range(start, stop, llen, &s, &e)) {
		ltrim = s;
		rtrim = llen - e - 1;
	} else {
		ltrim = llen;
		rtrim = 0;
	}
	kv_list L;
	l_load(op.h, &L);
	uint64_t nodes = kv_list_nodes_in(env, &L, 0, ltrim) + kv_list_nodes_in(env, &L, llen - rtrim, rtrim);
	lwork w;
	w.env = env;
	w.gc.n = 0;
	rc = kv_coll_mutate(&op, clamp32(nodes));
	if (rc == KV_OK) {
		lw_begin(&w, env, op.h);
		rc = kv_list_trim(&w.c, ltrim, rtrim);
		lw_end(&w);
		if (rc == KV_OK && (ltrim || rtrim)) /* resolved: counts from each end */
			kv_redo_list(&op, KV_REDO_LTRIM, llen, ltrim, rtrim, NULL, 0);
	}
	op.changed = rc == KV_OK; /* Redis fires ltrim even when nothing went */
	rc = kv_coll_close(&op, rc, KV_EV_LTRIM);
	lw_free(&w);
	return rc;
}

/* LMOVE within one key: a rotation (or nothing when from == to). */
static int lmove_same(kv_ns *ns, const void *key, size_t klen, int from, int to, kv_buf *out)
{
	kv_env *env = ns->env;
	for (;;) {
		kv_cop op;
		int rc = kv_coll_open(ns, key, klen, KV_T_LIST, KV_COPEN_WRITE, &op);
		if (rc != KV_OK)
			return rc;
		if (!op.h)
			return kv_coll_close(&op, KV_NOTFOUND, 0);
		kv_list L;
		l_load(op.h, &L);
		kv_list_it it;
		kv_list_seek(&it, env, &L, from == KV_LEFT ? 0 : L.count - 1);
		const char *p;
		size_t len;
		kv_list_cur(&it, &p, &len);
		if (len + 1 > out->cap) {
			kv_coll_close(&op, KV_OK, 0);
			if (kv_buf_reserve(env, out, len) != KV_OK)
				return KV_ENOMEM;
			continue;
		}
		if (len)
			memcpy(out->data, p, len);
		out->data[len] = 0;
		out->len = len;
		out->type = KV_T_BYTES;
		out->expires_at = 0;
		lwork w;
		w.env = env;
		w.gc.n = 0;
		rc = kv_coll_reserve(&op, (int64_t)kv_list_elem_size(len) + 8192 + 4096);
		if (rc == KV_OK)
			rc = kv_coll_mutate(&op, 12);
		if (rc == KV_OK && from != to && L.count > 1) {
			lw_begin(&w, env, op.h);
			/* the copy goes in first, so a failure changes nothing */
			rc = kv_list_push(&w.c, to, out->data, len);
			if (rc == KV_OK)
				kv_redo_list(&op, KV_REDO_LINS, L.count, to == KV_LEFT ? 0 : L.count, 0, out->data, len);
			if (rc == KV_OK && (rc = kv_list_delete(&w.c, from == KV_LEFT ? 0 : L.count, 1)) == KV_OK)
				kv_redo_list(&op, KV_REDO_LDEL, L.count + 1, from == KV_LEFT ? 0 : L.count, 1, NULL, 0);
			lw_end(&w);
		}
		op.changed = rc == KV_OK;
		rc = kv_coll_close(&op, rc, to == KV_LEFT ? KV_EV_LPUSH : KV_EV_RPUSH);
		lw_free(&w);
		if (rc == KV_OK)
			kv_emit(env, ns, key, klen, from == KV_LEFT ? KV_EV_LPOP : KV_EV_RPOP);
		return rc;
	}
}

/* The write context of a multi-key op, lent to one of its keys for a call
 * that takes a single op (create, reserve): copied in, then back. */
static void mw_lend(kv_cmulti *m, kv_cop *op) { memcpy(&op->w, &m->w, sizeof m->w); }
static void mw_back(kv_cmulti *m, kv_cop *op) { memcpy(&m->w, &op->w, sizeof m->w); }

KV_API int kv_lmove(kv_ns *ns, const void *src, size_t srclen, const void *dst, size_t dstlen,
                    int from, int to, kv_buf *out)
{
	if ((from != KV_LEFT && from != KV_RIGHT) || (to != KV_LEFT && to != KV_RIGHT) || !out ||
	    (!src && srclen) || (!dst && dstlen))
		return KV_EINVAL;
	if (srclen == dstlen && (srclen == 0 || memcmp(src, dst, srclen) == 0))
		return lmove_same(ns, src, srclen, from, to, out);
	kv_env *env = ns->env;
	/* dst first: Redis fires its push, then the pop (and del) of src */
	kv_val keys[2] = {{dstlen, dst}, {srclen, src}};
	int ev[2] = {to == KV_LEFT ? KV_EV_LPUSH : KV_EV_RPUSH, from == KV_LEFT ? KV_EV_LPOP : KV_EV_RPOP};
	for (;;) {
		kv_cmulti m;
		int rc = kv_coll_open_many(ns, keys, 2, &m);
		if (rc != KV_OK)
			return rc;
		kv_cop *dop, *sop;
		if ((rc = kv_coll_at(&m, 1, KV_T_LIST, &sop)) != KV_OK)
			return kv_coll_close_many(&m, rc, NULL);
		if (!sop->h)
			return kv_coll_close_many(&m, KV_NOTFOUND, NULL);
		if ((rc = kv_coll_at(&m, 0, KV_T_LIST, &dop)) != KV_OK)
			return kv_coll_close_many(&m, rc, NULL);
		kv_list L;
		l_load(sop->h, &L);
		kv_list_it it;
		kv_list_seek(&it, env, &L, from == KV_LEFT ? 0 : L.count - 1);
		const char *p;
		size_t len;
		kv_list_cur(&it, &p, &len);
		if (len + 1 > out->cap) {
			kv_coll_close_many(&m, KV_OK, NULL);
			if (kv_buf_reserve(env, out, len) != KV_OK)
				return KV_ENOMEM;
			continue;
		}
		if (len)
			memcpy(out->data, p, len);
		out->data[len] = 0;
		out->len = len;
		out->type = KV_T_BYTES;
		out->expires_at = 0;
		kv_val one = {len, out->data};
		lwork dw, sw;
		dw.env = sw.env = env;
		dw.gc.n = sw.gc.n = 0;
		mw_lend(&m, dop);
		if (dop->h && dop->h->card + 1 > KV_COLL_MAX_ELEMS)
			rc = KV_EVALSIZE;
		else
			rc = push_locked(dop, env, to, &one, 1, NULL, &dw);
		mw_back(&m, dop);
		if (dop->created) /* the close must see it: an empty one it created goes again */
			dop->changed = true;
		if (rc == KV_OK) {
			mw_lend(&m, sop);
			rc = kv_coll_mutate(sop, 12);
			mw_back(&m, sop);
		}
		if (rc == KV_OK) {
			lw_begin(&sw, env, sop->h);
			uint64_t slen = sw.L.count;
			rc = kv_list_delete(&sw.c, from == KV_LEFT ? 0 : slen - 1, 1);
			lw_end(&sw);
			sop->changed = rc == KV_OK;
			if (rc == KV_OK)
				kv_redo_list(sop, KV_REDO_LDEL, slen, from == KV_LEFT ? 0 : slen - 1, 1, NULL, 0);
		}
		if (rc != KV_OK && dop->changed) {
			/* take the pushed copy back off (its end is writable: no allocation) */
			lw_begin(&dw, env, dop->h);
			uint64_t dlen = dw.L.count;
			if (dlen && kv_list_delete(&dw.c, to == KV_LEFT ? 0 : dlen - 1, 1) == KV_OK)
				kv_redo_list(dop, KV_REDO_LDEL, dlen, to == KV_LEFT ? 0 : dlen - 1, 1, NULL, 0);
			lw_end(&dw);
			/* still "changed": the close charges it and deletes it if it was
			 * created (rc is an error, so no event fires) */
		}
		rc = kv_coll_close_many(&m, rc, ev);
		lw_free(&dw);
		lw_free(&sw);
		return rc;
	}
}

/* ------------------------------------------------------------- replay */
/* A list record (kv.h REDO LOG, LISTS) onto op's list, only if its length is
 * the one the record was made on; a record that does not fit that length is
 * malformed.  The same list.c calls as the write, so the same lock bounds. */
int kv_list_redo(kv_cop *op, const kv_redo_hdr *h, const char *data)
{
	kv_env *env = op->w.ns->env;
	uint64_t len = op->h ? op->h->card : 0, at = h->off;
	uint32_t n = 0;
	int rc = KV_OK;
	lwork w;
	w.env = env;
	w.gc.n = 0;
	if (h->kind == KV_REDO_LDEL || h->kind == KV_REDO_LTRIM)
		memcpy(&n, data, sizeof n);
	if (len != h->total)
		rc = KV_UNCHANGED; /* a state the base already holds past (pg_ext/README.md) */
	else if (h->kind == KV_REDO_LINS ? at > len || len + 1 > KV_COLL_MAX_ELEMS
	         : h->kind == KV_REDO_LSET ? at >= len
	         : h->kind == KV_REDO_LDEL ? n == 0 || at + n > len
	                                   : at + n > len || at + n == 0)
		rc = KV_EFORMAT;
	else if ((h->kind == KV_REDO_LINS || h->kind == KV_REDO_LSET) && h->vlen > max_value(op))
		rc = KV_EVALSIZE;
	if (rc == KV_OK && h->kind == KV_REDO_LINS && !op->h)
		rc = kv_coll_create_at(op, KV_ENC_LISTPACK, h->expires_at);
	if (rc == KV_OK && (h->kind == KV_REDO_LINS || h->kind == KV_REDO_LSET)) {
		rc = kv_coll_reserve(op, (int64_t)kv_list_elem_size(h->vlen) + 8192 + 4096);
		if (rc == KV_OK)
			rc = kv_coll_mutate(op, 12);
	} else if (rc == KV_OK) {
		kv_list L;
		l_load(op->h, &L);
		uint64_t nodes = h->kind == KV_REDO_LDEL ? kv_list_nodes_in(env, &L, at, n)
		                 : kv_list_nodes_in(env, &L, 0, at) + kv_list_nodes_in(env, &L, len - n, n);
		rc = kv_coll_mutate(op, clamp32(nodes + 6));
	}
	if (rc == KV_OK) {
		lw_begin(&w, env, op->h);
		switch (h->kind) {
		case KV_REDO_LINS:  rc = kv_list_insert(&w.c, at, data, h->vlen); break;
		case KV_REDO_LSET:  rc = kv_list_set(&w.c, at, data, h->vlen); break;
		case KV_REDO_LDEL:  rc = kv_list_delete(&w.c, at, n); break;
		default:            rc = kv_list_trim(&w.c, at, n); break;
		}
		lw_end(&w);
	}
	op->changed = false; /* replay fires no hooks */
	op->w.nvictims = 0;
	rc = kv_coll_close(op, rc, 0);
	lw_free(&w);
	return rc;
}

/* ---------------------------------------------------- the kind's operations */
static const char *l_encoding(const kv_chdr *h)
{
	return h->enc == KV_ENC_QUICKLIST ? "quicklist" : "listpack";
}

static void l_free(kv_env *env, const kv_chdr *h)
{
	kv_list L;
	l_load(h, &L);
	kv_list_free_body(env, &L);
}

/* Append to a private header (no lock, nothing shared). */
static int l_append(kv_env *env, kv_chdr *h, const void *p, size_t len)
{
	kv_list L;
	kv_lgc_rec rec[KV_LIST_GC_OP];
	kv_lgc gc = {rec, 0, KV_LIST_GC_OP};
	l_load(h, &L);
	kv_lctx c = {env, &L, false, &gc, NULL, NULL};
	int rc = kv_list_push(&c, KV_RIGHT, p, len);
	l_store(h, &L);
	return rc;
}

static int l_copy(kv_env *env, const kv_chdr *src, kv_chdr *dst)
{
	kv_list L;
	l_load(src, &L);
	kv_list_it it;
	int rc = KV_OK;
	if (kv_list_seek(&it, env, &L, 0))
		do {
			const char *p;
			size_t len;
			kv_list_cur(&it, &p, &len);
			rc = l_append(env, dst, p, len);
		} while (rc == KV_OK && kv_list_next(&it));
	return rc;
}

static int l_scan(kv_env *env, const kv_chdr *h, uint64_t *cursor, size_t budget, kv_cemit_fn fn,
                  void *ctx)
{
	kv_list L;
	l_load(h, &L);
	kv_list_it it;
	if (!kv_list_seek(&it, env, &L, *cursor)) {
		*cursor = 0;
		return KV_OK;
	}
	for (size_t i = 0; i < (budget ? budget : 1); i++) {
		kv_celem el = {NULL, 0, NULL, 0, 0};
		kv_list_cur(&it, &el.p, &el.len);
		int rc = fn(ctx, &el);
		if (rc != 0)
			return rc;
		if (!kv_list_next(&it)) {
			*cursor = 0;
			return KV_OK;
		}
	}
	*cursor = it.index;
	return KV_OK;
}

static int l_add(kv_env *env, kv_chdr *h, const kv_celem *el)
{
	return l_append(env, h, el->p, el->len);
}

const kv_kind_ops kv_list_ops = {KV_T_LIST, l_encoding, l_free, l_copy, l_scan, l_add, 1};

