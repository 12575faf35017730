/*
 * list.c -- the list data structure in the region: Redis's listpack for small
 * lists, a chunked "quicklist" with a two-level directory for big ones.
 *
 * DESIGN
 *   Elements are packed into chunks, each element as
 *       len (LEB128, forward)  bytes  len (LEB128, stored backwards)
 *   so a chunk is walked from either end, as Redis's listpack is (2 bytes of
 *   overhead for an element under 128 bytes).  A chunk holds at most
 *   KV_LIST_CHUNK_MAX (8 KB) of payload, or a single element of any size.
 *
 *   A list that fits one chunk is that chunk ("listpack").  Past it the list
 *   becomes a "quicklist": a top node of references {dir, count} to directory
 *   nodes of up to KV_LIST_DIR_MAX references {chunk, count} (one 4 KiB block
 *   each).  Counts let LINDEX/LSET pick a directory, then a chunk, then walk
 *   at most half a chunk: O(n / (chunk * 509) + 509 + chunk) -- for 1M
 *   10-byte elements, 3 directories and ~1500 chunks.  The top grows by
 *   doubling but stays tiny (8 bytes per ~350k small elements).
 *
 *   Push and pop at either end touch one chunk (a memmove of at most 8 KB for
 *   the head, as Redis's listpack) and, when a chunk fills or empties, one
 *   reference in a directory: O(1).  A new chunk at a full directory's edge
 *   starts a new directory instead of splitting it, so pushes keep
 *   directories full; LINSERT in the middle splits a chunk (and a directory
 *   when it is full) in half.
 *
 *   Every node sits in the region (engine allocator, 32-bit offsets) and is
 *   charged exactly: kv_list.bytes is the sum of the allocation sizes, and a
 *   directory keeps the bytes of its chunks so a whole subtree is uncharged in
 *   O(1) when it is detached.
 *
 * SNAPSHOTS: COPY-ON-WRITE PER NODE
 *   Each node carries the epoch of the header that created it.  When a save's
 *   cut is pending on the shard, the writer that first changes the list copies
 *   its header (the cut keeps the old one) and starts a new epoch
 *   (kv_list_new_epoch): from then on a node of an older epoch is part of the
 *   snapshot's image, so a change copies it first (the chunk, its directory
 *   and the top: at most 8 KB + 4 KB + the top's 8 bytes per directory), and
 *   a node it would free is recorded for the caller to keep until the save is
 *   done.  Each node is copied at most once per save; later writes to it are
 *   in place.  A push/pop stream on a 1M-element list during a save costs one
 *   top copy and then one chunk (and directory) copy per chunk it touches.
 *
 * FREEING
 *   A single node no snapshot can see is freed at once (O(1) under the lock);
 *   one a snapshot still reads goes to c->keep (the view's graveyard, coll.h).
 *   Ranges of chunks or directories a change removes are moved into a
 *   graveyard node in one step (bounded: at most one directory's references,
 *   or the top's) and recorded in c->gc; the caller frees the records after
 *   the lock (kv_list_gc_free), or hands their nodes to the view while a save
 *   is pending.
 *
 * OUT OF MEMORY
 *   Every change allocates before it moves an element (copies, graveyard
 *   nodes, a split's new chunk), so KV_ENOMEM leaves the elements as they
 *   were (a copy-on-write copy made before the failure is just a copy).
 *   Removing an element whose path is writable allocates nothing, which the
 *   callers use to undo a partial multi-element push.  LTRIM prepares both
 *   ends (every allocation) before it changes either (kv_list_trim).
 */
#include "list.h"

typedef struct lchunk {
	uint32_t epoch;
	uint32_t cap;    /* payload bytes the allocation holds */
	uint32_t used;   /* payload bytes in use */
	uint32_t count;  /* elements */
} lchunk;

typedef struct lref {
	kv_off   off;
	uint32_t count;
} lref;

/* top (refs to directories) or directory (refs to chunks) */
typedef struct lnode {
	uint32_t epoch;
	uint32_t cap;    /* refs the allocation holds */
	uint32_t n;      /* refs in use */
	uint32_t pad;
	uint64_t bytes;  /* directory: bytes of its chunks; top: unused */
	lref     r[];
} lnode;

_Static_assert(sizeof(kv_list) == 32, "kv_list is a value of 32 bytes");
_Static_assert(sizeof(lchunk) + KV_LIST_CHUNK_MAX == 8192, "a full chunk is one size class");
_Static_assert(sizeof(lnode) + KV_LIST_DIR_MAX * sizeof(lref) <= 4096, "a directory is one 4 KiB block");

/* ----------------------------------------------------------- encoding */
static inline unsigned vsize(size_t n)
{
	return n < (1u << 7) ? 1 : n < (1u << 14) ? 2 : n < (1u << 21) ? 3 : n < (1u << 28) ? 4 : 5;
}

size_t kv_list_elem_size(size_t len)
{
	return 2 * (size_t)vsize(len) + len;
}

static void put_elem(unsigned char *p, const void *v, size_t len)
{
	size_t n = len;
	unsigned s = vsize(len);
	while (n >= 128) {
		*p++ = (unsigned char)((n & 127) | 128);
		n >>= 7;
	}
	*p++ = (unsigned char)n;
	if (len)
		memcpy(p, v, len);
	p += len;
	/* the same bytes backwards: p[s-1] is the low group */
	unsigned char *q = p + s - 1;
	n = len;
	while (n >= 128) {
		*q-- = (unsigned char)((n & 127) | 128);
		n >>= 7;
	}
	*q = (unsigned char)n;
}

/* element starting at p: its length, *hs the size of one length field */
static inline size_t get_fwd(const unsigned char *p, unsigned *hs)
{
	size_t n = 0;
	unsigned s = 0;
	for (;;) {
		n |= (size_t)(p[s] & 127) << (7 * s);
		if (!(p[s++] & 128))
			break;
	}
	*hs = s;
	return n;
}

/* element ending at end */
static inline size_t get_back(const unsigned char *end, unsigned *hs)
{
	size_t n = 0;
	unsigned s = 0;
	for (;;) {
		unsigned char b = end[-1 - (int)s];
		n |= (size_t)(b & 127) << (7 * s);
		s++;
		if (!(b & 128))
			break;
	}
	*hs = s;
	return n;
}

/* ---------------------------------------------------------- node access */
static inline lchunk *CH(const kv_env *env, kv_off o) { return kv_ptr(env, o); }
static inline lnode *ND(const kv_env *env, kv_off o) { return kv_ptr(env, o); }
static inline unsigned char *PL(const lchunk *c) { return (unsigned char *)(c + 1); }
static inline size_t chunk_bytes(const lchunk *c) { return sizeof(lchunk) + c->cap; }
static inline size_t node_bytes(const lnode *d) { return sizeof(lnode) + (size_t)d->cap * sizeof(lref); }

static inline uint32_t elem_at(const lchunk *c, uint32_t off)
{
	unsigned s;
	size_t len = get_fwd(PL(c) + off, &s);
	return (uint32_t)(2 * s + len);
}
static inline uint32_t elem_before(const lchunk *c, uint32_t off)
{
	unsigned s;
	size_t len = get_back(PL(c) + off, &s);
	return (uint32_t)(2 * s + len);
}

/* byte offset of element ci (ci == count: the end) */
static uint32_t chunk_off(const lchunk *c, uint32_t ci)
{
	uint32_t off;
	if (ci <= c->count / 2) {
		off = 0;
		for (uint32_t k = 0; k < ci; k++)
			off += elem_at(c, off);
	} else {
		off = c->used;
		for (uint32_t k = c->count; k > ci; k--)
			off -= elem_before(c, off);
	}
	return off;
}

static inline bool is_frozen(const kv_lctx *c, uint32_t epoch)
{
	return c->frozen && epoch != c->L->epoch;
}

static void gc_add(kv_lctx *c, kv_off off, uint32_t kind)
{
	kv_lgc *g = c->gc;
	/* callers reserve room: KV_LIST_GC_OP per change */
	if (g && g->n < g->cap) {
		g->v[g->n].off = off;
		g->v[g->n].kind = kind;
		g->n++;
	}
}

/* ----------------------------------------------------------- allocation */
static lchunk *chunk_new(kv_lctx *c, size_t need)
{
	if (need > UINT32_MAX - 64)
		return NULL;
	size_t a = kv_alloc_size(sizeof(lchunk) + need);
	kv_off o = kv_alloc(c->env, a);
	if (!o)
		return NULL;
	c->L->bytes += a;
	lchunk *ch = CH(c->env, o);
	ch->epoch = c->L->epoch;
	ch->cap = (uint32_t)(a - sizeof(lchunk));
	ch->used = 0;
	ch->count = 0;
	return ch;
}

static lnode *node_new(kv_lctx *c, size_t need)
{
	size_t a = kv_alloc_size(sizeof(lnode) + need * sizeof(lref));
	kv_off o = kv_alloc(c->env, a);
	if (!o)
		return NULL;
	c->L->bytes += a;
	lnode *d = ND(c->env, o);
	d->epoch = c->L->epoch;
	d->cap = (uint32_t)((a - sizeof(lnode)) / sizeof(lref));
	d->n = 0;
	d->pad = 0;
	d->bytes = 0;
	return d;
}

/* Give back a single node: now, or later if a snapshot may still read it. */
static void chunk_retire(kv_lctx *c, lchunk *ch)
{
	c->L->bytes -= chunk_bytes(ch);
	if (is_frozen(c, ch->epoch) && c->keep)
		c->keep(c, kv_offof(c->env, ch), chunk_bytes(ch));
	else if (is_frozen(c, ch->epoch))
		gc_add(c, kv_offof(c->env, ch), KV_LGC_CHUNK);
	else
		kv_free(c->env, kv_offof(c->env, ch), chunk_bytes(ch));
}
static void node_retire(kv_lctx *c, lnode *d)
{
	c->L->bytes -= node_bytes(d);
	if (is_frozen(c, d->epoch) && c->keep)
		c->keep(c, kv_offof(c->env, d), node_bytes(d));
	else if (is_frozen(c, d->epoch))
		gc_add(c, kv_offof(c->env, d), KV_LGC_INODE);
	else
		kv_free(c->env, kv_offof(c->env, d), node_bytes(d));
}

/* ----------------------------------------------------------------- paths */
/* A position in the tree, made writable from the top down. */
typedef struct lpath {
	lnode  *top;     /* quicklist only */
	uint32_t ti;
	lnode  *dir;
	uint32_t di;
	lchunk *ch;
	uint32_t ci;     /* element in the chunk */
} lpath;

static lnode *top_of(kv_lctx *c) { return ND(c->env, c->L->root); }

/* Locate element index (< count, or == count for "past the end": the last
 * chunk with ci == its count). */
static void locate(const kv_env *env, const kv_list *L, uint64_t index, lpath *p)
{
	memset(p, 0, sizeof *p);
	if (L->enc == KV_LIST_LISTPACK) {
		p->ch = CH(env, L->root);
		p->ci = (uint32_t)index;
		return;
	}
	lnode *t = ND(env, L->root);
	uint64_t idx = index;
	uint32_t ti;
	if (index >= L->count) {
		ti = t->n - 1;
		idx = t->r[ti].count;
	} else if (index < L->count / 2) {
		for (ti = 0; idx >= t->r[ti].count; ti++)
			idx -= t->r[ti].count;
	} else {
		uint64_t back = L->count - index; /* 1 .. */
		for (ti = t->n - 1; back > t->r[ti].count; ti--)
			back -= t->r[ti].count;
		idx = t->r[ti].count - back;
	}
	lnode *d = ND(env, t->r[ti].off);
	uint32_t di;
	if (idx >= t->r[ti].count) {
		di = d->n - 1;
		idx = d->r[di].count;
	} else if (idx < t->r[ti].count / 2) {
		for (di = 0; idx >= d->r[di].count; di++)
			idx -= d->r[di].count;
	} else {
		uint64_t back = t->r[ti].count - idx;
		for (di = d->n - 1; back > d->r[di].count; di--)
			back -= d->r[di].count;
		idx = d->r[di].count - back;
	}
	p->top = t;
	p->ti = ti;
	p->dir = d;
	p->di = di;
	p->ch = CH(env, d->r[di].off);
	p->ci = (uint32_t)idx;
}

static lnode *node_copy(kv_lctx *c, const lnode *d, size_t cap)
{
	lnode *n = node_new(c, cap);
	if (!n)
		return NULL;
	n->n = d->n;
	n->bytes = d->bytes;
	memcpy(n->r, d->r, (size_t)d->n * sizeof(lref));
	return n;
}

/* Make the top writable (copy it if a snapshot sees it). */
static bool top_mut(kv_lctx *c, lpath *p)
{
	lnode *t = top_of(c);
	if (is_frozen(c, t->epoch)) {
		lnode *n = node_copy(c, t, t->cap);
		if (!n)
			return false;
		node_retire(c, t);
		c->L->root = kv_offof(c->env, n);
		t = n;
	}
	p->top = t;
	return true;
}

/* Make the top and p's directory writable (quicklist). */
static bool dir_mut(kv_lctx *c, lpath *p)
{
	if (!top_mut(c, p))
		return false;
	lnode *d = ND(c->env, p->top->r[p->ti].off);
	if (is_frozen(c, d->epoch)) {
		lnode *n = node_copy(c, d, d->cap);
		if (!n)
			return false;
		node_retire(c, d);
		p->top->r[p->ti].off = kv_offof(c->env, n);
		d = n;
	}
	p->dir = d;
	return true;
}

/* Make the whole path to p's chunk writable. */
static bool path_mut(kv_lctx *c, lpath *p)
{
	if (c->L->enc == KV_LIST_LISTPACK) {
		lchunk *ch = CH(c->env, c->L->root);
		if (is_frozen(c, ch->epoch)) {
			lchunk *n = chunk_new(c, ch->used);
			if (!n)
				return false;
			memcpy(PL(n), PL(ch), ch->used);
			n->used = ch->used;
			n->count = ch->count;
			chunk_retire(c, ch);
			c->L->root = kv_offof(c->env, n);
			ch = n;
		}
		p->ch = ch;
		return true;
	}
	if (!dir_mut(c, p))
		return false;
	lnode *d = p->dir;
	lchunk *ch = CH(c->env, d->r[p->di].off);
	if (is_frozen(c, ch->epoch)) {
		lchunk *n = chunk_new(c, ch->used);
		if (!n)
			return false;
		memcpy(PL(n), PL(ch), ch->used);
		n->used = ch->used;
		n->count = ch->count;
		d->bytes += chunk_bytes(n);
		d->bytes -= chunk_bytes(ch);
		chunk_retire(c, ch);
		d->r[p->di].off = kv_offof(c->env, n);
		ch = n;
	}
	p->ch = ch;
	return true;
}

/* Point p's parent at chunk n instead of its chunk (a reallocation). */
static void chunk_replace(kv_lctx *c, lpath *p, lchunk *n)
{
	kv_off o = kv_offof(c->env, n);
	if (c->L->enc == KV_LIST_LISTPACK) {
		c->L->root = o;
	} else {
		p->dir->bytes += chunk_bytes(n);
		p->dir->bytes -= chunk_bytes(p->ch);
		p->dir->r[p->di].off = o;
	}
	chunk_retire(c, p->ch);
	p->ch = n;
}

/* A writable chunk with room for `used` payload bytes. */
static bool chunk_reserve(kv_lctx *c, lpath *p, size_t used)
{
	if (used <= p->ch->cap)
		return true;
	lchunk *n = chunk_new(c, used);
	if (!n)
		return false;
	memcpy(PL(n), PL(p->ch), p->ch->used);
	n->used = p->ch->used;
	n->count = p->ch->count;
	chunk_replace(c, p, n);
	return true;
}

/* Give back memory after deletions (hysteresis: only below half the size). */
static void chunk_shrink(kv_lctx *c, lpath *p)
{
	lchunk *ch = p->ch;
	if (ch->count == 0 || chunk_bytes(ch) <= 64 || sizeof(lchunk) + ch->used > chunk_bytes(ch) / 2)
		return;
	if (kv_alloc_size(sizeof(lchunk) + ch->used) >= chunk_bytes(ch))
		return;
	lchunk *n = chunk_new(c, ch->used);
	if (!n)
		return; /* keeping the bigger one is fine */
	memcpy(PL(n), PL(ch), ch->used);
	n->used = ch->used;
	n->count = ch->count;
	chunk_replace(c, p, n);
}

/* Add delta elements to the counts along p. */
static void count_add(kv_lctx *c, lpath *p, int64_t delta)
{
	c->L->count = (uint32_t)((int64_t)c->L->count + delta);
	if (c->L->enc == KV_LIST_QUICKLIST) {
		p->dir->r[p->di].count = (uint32_t)((int64_t)p->dir->r[p->di].count + delta);
		p->top->r[p->ti].count = (uint32_t)((int64_t)p->top->r[p->ti].count + delta);
	}
}

/* ------------------------------------------------------ chunk editing */
static void chunk_insert_bytes(lchunk *ch, uint32_t off, const void *v, size_t len)
{
	size_t es = kv_list_elem_size(len);
	memmove(PL(ch) + off + es, PL(ch) + off, ch->used - off);
	put_elem(PL(ch) + off, v, len);
	ch->used += (uint32_t)es;
	ch->count++;
}

static void chunk_cut(lchunk *ch, uint32_t off, uint32_t nbytes, uint32_t nelems)
{
	memmove(PL(ch) + off, PL(ch) + off + nbytes, ch->used - off - nbytes);
	ch->used -= nbytes;
	ch->count -= nelems;
}

static inline bool fits(const lchunk *ch, size_t es)
{
	return ch->count == 0 || (size_t)ch->used + es <= KV_LIST_CHUNK_MAX;
}


/* ------------------------------------------------ quicklist structure */
static void node_free_now(kv_lctx *c, lnode *d)
{
	c->L->bytes -= node_bytes(d);
	kv_free(c->env, kv_offof(c->env, d), node_bytes(d));
}
static void chunk_free_now(kv_lctx *c, lchunk *ch)
{
	c->L->bytes -= chunk_bytes(ch);
	kv_free(c->env, kv_offof(c->env, ch), chunk_bytes(ch));
}

static void node_remove(lnode *d, uint32_t pos, uint32_t k)
{
	memmove(&d->r[pos], &d->r[pos + k], (size_t)(d->n - pos - k) * sizeof(lref));
	d->n -= k;
}

/* Listpack -> quicklist: a top with one directory with the one chunk. */
static int to_quicklist(kv_lctx *c)
{
	lnode *d = node_new(c, 1);
	if (!d)
		return KV_ENOMEM;
	lnode *t = node_new(c, 1);
	if (!t) {
		node_free_now(c, d);
		return KV_ENOMEM;
	}
	lchunk *ch = CH(c->env, c->L->root);
	d->r[0].off = c->L->root;
	d->r[0].count = ch->count;
	d->n = 1;
	d->bytes = chunk_bytes(ch);
	t->r[0].off = kv_offof(c->env, d);
	t->r[0].count = ch->count;
	t->n = 1;
	c->L->root = kv_offof(c->env, t);
	c->L->enc = KV_LIST_QUICKLIST;
	return KV_OK;
}

/* Quicklist of one small chunk -> listpack (Redis converts back at half the
 * size limit, so a list at the edge does not flip at every push and pop). */
static void maybe_listpack(kv_lctx *c)
{
	if (c->L->enc != KV_LIST_QUICKLIST)
		return;
	lnode *t = top_of(c);
	if (t->n != 1)
		return;
	lnode *d = ND(c->env, t->r[0].off);
	if (d->n != 1)
		return;
	lchunk *ch = CH(c->env, d->r[0].off);
	if (ch->used > KV_LIST_CHUNK_MAX / 2)
		return;
	c->L->root = d->r[0].off;
	c->L->enc = KV_LIST_LISTPACK;
	node_retire(c, d);
	node_retire(c, t);
}

/* A writable top with room for one more directory. */
static bool top_room(kv_lctx *c, lpath *p)
{
	lnode *t = p->top;
	if (t->n < t->cap)
		return true;
	lnode *n = node_copy(c, t, (size_t)t->cap * 2);
	if (!n)
		return false;
	node_retire(c, t);
	c->L->root = kv_offof(c->env, n);
	p->top = n;
	return true;
}

/*
 * With p->top and p->dir writable, make room in directory p->ti for one more
 * chunk reference at position p->di (0 .. n).  A directory below
 * KV_LIST_DIR_MAX grows; a full one gets a new empty neighbour when di is at
 * an edge (pushes keep directories full), else is split in half.  p is
 * updated to where the reference goes.  Only the structure changes (no
 * element moves), so a failure leaves the list as it was.
 */
static bool dir_room(kv_lctx *c, lpath *p)
{
	lnode *d = p->dir;
	if (d->n < d->cap)
		return true;
	if (d->n < KV_LIST_DIR_MAX) {
		size_t cap = (size_t)d->cap * 2 < KV_LIST_DIR_MAX ? (size_t)d->cap * 2 : KV_LIST_DIR_MAX;
		lnode *n = node_copy(c, d, cap);
		if (!n)
			return false;
		node_retire(c, d);
		p->top->r[p->ti].off = kv_offof(c->env, n);
		p->dir = n;
		return true;
	}
	if (!top_room(c, p))
		return false;
	lnode *t = p->top;
	bool edge = p->di == 0 || p->di == d->n;
	uint32_t from = edge ? d->n : d->n / 2;
	lnode *nd = node_new(c, edge ? 1 : d->n - from + 1);
	if (!nd)
		return false;
	uint64_t moved = 0, mbytes = 0;
	for (uint32_t k = from; k < d->n; k++) {
		nd->r[nd->n++] = d->r[k];
		moved += d->r[k].count;
		mbytes += chunk_bytes(CH(c->env, d->r[k].off));
	}
	d->n = from;
	d->bytes -= mbytes;
	nd->bytes = mbytes;
	t->r[p->ti].count -= (uint32_t)moved;
	uint32_t at = (edge && p->di == 0) ? p->ti : p->ti + 1;
	memmove(&t->r[at + 1], &t->r[at], (size_t)(t->n - at) * sizeof(lref));
	t->r[at].off = kv_offof(c->env, nd);
	t->r[at].count = (uint32_t)moved;
	t->n++;
	if (edge) {
		p->ti = at;
		p->di = 0;
		p->dir = nd;
	} else if (p->di >= from) {
		p->ti++;
		p->di -= from;
		p->dir = nd;
	}
	return true;
}

/* Link chunk ch (writable, counted in no node yet) at p (after dir_room). */
static void link_chunk(kv_lctx *c, lpath *p, lchunk *ch)
{
	lnode *d = p->dir;
	memmove(&d->r[p->di + 1], &d->r[p->di], (size_t)(d->n - p->di) * sizeof(lref));
	d->r[p->di].off = kv_offof(c->env, ch);
	d->r[p->di].count = ch->count;
	d->n++;
	d->bytes += chunk_bytes(ch);
	p->top->r[p->ti].count += ch->count;
}

/* A new chunk holding just v at chunk position (ti, di). */
static int new_chunk_at(kv_lctx *c, uint32_t ti, uint32_t di, const void *v, size_t len)
{
	lchunk *ch = chunk_new(c, kv_list_elem_size(len));
	if (!ch)
		return KV_ENOMEM;
	lpath p;
	memset(&p, 0, sizeof p);
	p.ti = ti;
	p.di = di;
	if (!dir_mut(c, &p) || !dir_room(c, &p)) {
		chunk_free_now(c, ch);
		return KV_ENOMEM;
	}
	chunk_insert_bytes(ch, 0, v, len);
	link_chunk(c, &p, ch);
	c->L->count++;
	return KV_OK;
}

/* Split the chunk at p (quicklist, 0 < p->ci < count) so that element ci
 * starts a new chunk after it.  Elements only move between chunks. */
static int split_chunk(kv_lctx *c, lpath *p)
{
	if (!path_mut(c, p))
		return KV_ENOMEM;
	lchunk *ch = p->ch;
	uint32_t off = chunk_off(ch, p->ci);
	uint32_t nb = ch->used - off, ne = ch->count - p->ci;
	lchunk *up = chunk_new(c, nb);
	if (!up)
		return KV_ENOMEM;
	lpath q = *p;
	q.di = p->di + 1;
	if (!dir_room(c, &q)) {
		chunk_free_now(c, up);
		return KV_ENOMEM;
	}
	/* the split chunk's reference: just before q, in q's directory or at the
	 * end of the one before it */
	lnode *cd;
	uint32_t cdi, cti;
	if (q.di > 0) {
		cd = q.dir;
		cti = q.ti;
		cdi = q.di - 1;
	} else {
		cti = q.ti - 1;
		cd = ND(c->env, q.top->r[cti].off);
		cdi = cd->n - 1;
	}
	memcpy(PL(up), PL(ch) + off, nb);
	up->used = nb;
	up->count = ne;
	chunk_cut(ch, off, nb, ne);
	cd->r[cdi].count -= ne;
	q.top->r[cti].count -= ne;
	link_chunk(c, &q, up);
	lpath s = {q.top, cti, cd, cdi, ch, 0};
	chunk_shrink(c, &s);
	return KV_OK;
}

/* ------------------------------------------------------------- changes */
int kv_list_insert(kv_lctx *c, uint64_t index, const void *v, size_t len)
{
	kv_list *L = c->L;
	size_t es = kv_list_elem_size(len);
	if ((uint64_t)L->count + 1 > KV_COLL_MAX_ELEMS || es > UINT32_MAX - 64 || index > L->count)
		return KV_EINVAL;
	if (L->enc == KV_LIST_EMPTY) {
		lchunk *ch = chunk_new(c, es);
		if (!ch)
			return KV_ENOMEM;
		chunk_insert_bytes(ch, 0, v, len);
		L->root = kv_offof(c->env, ch);
		L->enc = KV_LIST_LISTPACK;
		L->count = 1;
		if (es > KV_LIST_CHUNK_MAX && to_quicklist(c) != KV_OK) {
			chunk_free_now(c, ch);
			L->root = 0;
			L->enc = KV_LIST_EMPTY;
			L->count = 0;
			return KV_ENOMEM;
		}
		L->ver++;
		return KV_OK;
	}
	lpath p;
	if (L->enc == KV_LIST_LISTPACK) {
		if (CH(c->env, L->root)->used + es <= KV_LIST_CHUNK_MAX) {
			memset(&p, 0, sizeof p);
			if (!path_mut(c, &p) || !chunk_reserve(c, &p, p.ch->used + es))
				return KV_ENOMEM;
			chunk_insert_bytes(p.ch, chunk_off(p.ch, (uint32_t)index), v, len);
			L->count++;
			L->ver++;
			return KV_OK;
		}
		if (to_quicklist(c) != KV_OK)
			return KV_ENOMEM;
	}
	for (;;) {
		locate(c->env, L, index, &p);
		int rc;
		if (fits(p.ch, es)) {
			if (!path_mut(c, &p) || !chunk_reserve(c, &p, p.ch->used + es))
				return KV_ENOMEM;
			chunk_insert_bytes(p.ch, chunk_off(p.ch, p.ci), v, len);
			count_add(c, &p, 1);
			rc = KV_OK;
		} else if (p.ci == p.ch->count) {
			/* after the chunk's last element (the list's end): a new chunk */
			rc = new_chunk_at(c, p.ti, p.di + 1, v, len);
		} else if (p.ci == 0) {
			/* before a chunk's first: the previous chunk's tail if it has room */
			lchunk *prev = p.di > 0 ? CH(c->env, p.dir->r[p.di - 1].off) : NULL;
			if (prev && fits(prev, es)) {
				p.di--;
				p.ch = prev;
				if (!path_mut(c, &p) || !chunk_reserve(c, &p, p.ch->used + es))
					return KV_ENOMEM;
				chunk_insert_bytes(p.ch, p.ch->used, v, len);
				count_add(c, &p, 1);
				rc = KV_OK;
			} else {
				rc = new_chunk_at(c, p.ti, p.di, v, len);
			}
		} else {
			/* in the middle of a full chunk: split it there, then place v at a
			 * chunk edge */
			if ((rc = split_chunk(c, &p)) != KV_OK)
				return rc;
			L->ver++;
			continue;
		}
		if (rc == KV_OK)
			L->ver++;
		return rc;
	}
}

int kv_list_push(kv_lctx *c, int where, const void *v, size_t len)
{
	return kv_list_insert(c, where == KV_LEFT ? 0 : c->L->count, v, len);
}

kv_off kv_list_chunk_build(kv_env *env, const void *v, size_t len)
{
	size_t es = kv_list_elem_size(len);
	if (es > UINT32_MAX - 64)
		return 0;
	size_t a = kv_alloc_size(sizeof(lchunk) + es);
	kv_off o = kv_alloc(env, a);
	if (!o)
		return 0;
	lchunk *ch = CH(env, o);
	ch->epoch = 0; /* stamped when linked */
	ch->cap = (uint32_t)(a - sizeof(lchunk));
	ch->used = 0;
	ch->count = 0;
	chunk_insert_bytes(ch, 0, v, len);
	return o;
}

kv_off kv_list_pop_chunk(kv_lctx *c, int where)
{
	kv_list *L = c->L;
	if (L->enc != KV_LIST_QUICKLIST)
		return 0;
	lpath p;
	locate(c->env, L, where == KV_LEFT ? 0 : L->count - 1, &p);
	lchunk *ch = p.ch;
	if (ch->count != 1 || ch->used <= KV_LIST_CHUNK_MAX || is_frozen(c, ch->epoch) || !dir_mut(c, &p))
		return 0;
	lnode *d = p.dir, *t = p.top;
	d->bytes -= chunk_bytes(ch);
	L->bytes -= chunk_bytes(ch);
	node_remove(d, p.di, 1);
	t->r[p.ti].count--;
	L->count--;
	L->ver++;
	if (d->n == 0) {
		node_retire(c, d);
		node_remove(t, p.ti, 1);
		if (t->n == 0) {
			node_retire(c, t);
			L->root = 0;
			L->enc = KV_LIST_EMPTY;
			return kv_offof(c->env, ch);
		}
	}
	maybe_listpack(c);
	return kv_offof(c->env, ch);
}

void kv_list_chunk_elem(const kv_env *env, kv_off chunk, const char **p, size_t *len)
{
	const lchunk *ch = CH(env, chunk);
	unsigned s;
	*len = get_fwd(PL(ch), &s);
	*p = (const char *)PL(ch) + s;
}

void kv_list_chunk_drop(kv_env *env, kv_off chunk)
{
	kv_free(env, chunk, chunk_bytes(CH(env, chunk)));
}

int kv_list_push_chunk(kv_lctx *c, int where, kv_off off)
{
	kv_list *L = c->L;
	lchunk *ch = CH(c->env, off);
	uint64_t bytes = chunk_bytes(ch);
	if ((uint64_t)L->count + 1 > KV_COLL_MAX_ELEMS)
		return KV_EINVAL;
	ch->epoch = L->epoch;
	if (L->enc == KV_LIST_EMPTY) {
		L->root = off;
		L->enc = KV_LIST_LISTPACK;
		L->count = 1;
		L->bytes += bytes;
		if (to_quicklist(c) != KV_OK) {
			L->root = 0;
			L->enc = KV_LIST_EMPTY;
			L->count = 0;
			L->bytes -= bytes;
			return KV_ENOMEM;
		}
		L->ver++;
		return KV_OK;
	}
	if (L->enc == KV_LIST_LISTPACK && to_quicklist(c) != KV_OK)
		return KV_ENOMEM;
	lpath p;
	memset(&p, 0, sizeof p);
	p.ti = where == KV_LEFT ? 0 : top_of(c)->n - 1;
	if (!dir_mut(c, &p))
		return KV_ENOMEM;
	p.di = where == KV_LEFT ? 0 : p.dir->n;
	if (!dir_room(c, &p))
		return KV_ENOMEM;
	L->bytes += bytes;
	link_chunk(c, &p, ch);
	L->count++;
	L->ver++;
	return KV_OK;
}

/* After elements left the chunk at p: drop it if empty (and its directory,
 * and the list), else give back memory; then a small list is a listpack. */
static void after_cut(kv_lctx *c, lpath *p)
{
	kv_list *L = c->L;
	if (p->ch->count > 0) {
		chunk_shrink(c, p);
		maybe_listpack(c);
		return;
	}
	if (L->enc == KV_LIST_LISTPACK) {
		chunk_retire(c, p->ch);
		L->root = 0;
		L->enc = KV_LIST_EMPTY;
		return;
	}
	p->dir->bytes -= chunk_bytes(p->ch);
	chunk_retire(c, p->ch);
	node_remove(p->dir, p->di, 1);
	if (p->dir->n == 0) {
		node_retire(c, p->dir);
		node_remove(p->top, p->ti, 1);
		if (p->top->n == 0) {
			node_retire(c, p->top);
			L->root = 0;
			L->enc = KV_LIST_EMPTY;
			return;
		}
	}
	maybe_listpack(c);
}

/* Remove [index, index + n) inside one chunk. */
static int delete_in_chunk(kv_lctx *c, uint64_t index, uint32_t n)
{
	lpath p;
	locate(c->env, c->L, index, &p);
	if (!path_mut(c, &p))
		return KV_ENOMEM;
	uint32_t off = chunk_off(p.ch, p.ci), end = off;
	for (uint32_t k = 0; k < n; k++)
		end += elem_at(p.ch, end);
	chunk_cut(p.ch, off, end - off, n);
	count_add(c, &p, -(int64_t)n);
	c->L->ver++;
	after_cut(c, &p);
	return KV_OK;
}

/* Bytes of directory d's chunks [a, b). */
static uint64_t chunks_bytes(const kv_env *env, const lnode *d, uint32_t a, uint32_t b)
{
	uint64_t s = 0;
	for (uint32_t k = a; k < b; k++)
		s += chunk_bytes(CH(env, d->r[k].off));
	return s;
}

/* Move refs [a, b) of writable node d (directory: kind DIRTREE; top:
 * TOPTREE) into a graveyard node g recorded in gc (or, for one ref, record
 * the child itself) and drop them from d.  bytes: what they held. */
static void bury(kv_lctx *c, lnode *d, uint32_t a, uint32_t b, lnode *g, bool top, uint64_t bytes)
{
	if (b - a == 1) {
		if (top) {
			gc_add(c, d->r[a].off, KV_LGC_DIRTREE);
		} else {
			lchunk *ch = CH(c->env, d->r[a].off);
			c->L->bytes += chunk_bytes(ch); /* chunk_retire uncharges it */
			chunk_retire(c, ch);
		}
	} else {
		memcpy(g->r, &d->r[a], (size_t)(b - a) * sizeof(lref));
		g->n = b - a;
		g->bytes = bytes;
		c->L->bytes -= node_bytes(g);
		gc_add(c, kv_offof(c->env, g), top ? KV_LGC_TOPTREE : KV_LGC_DIRTREE);
	}
	c->L->bytes -= bytes;
	node_remove(d, a, b - a);
}

/*
 * Removing the first (tail 0) or last (tail 1) n elements, 0 < n < count, of
 * a quicklist: whole directories and whole chunks go into graveyard nodes
 * (freed after the lock), one chunk is cut.  O(directories removed + one
 * directory + one chunk).  end_prepare does every allocation (copies for a
 * snapshot, the graveyard nodes) and end_apply the change, which cannot
 * fail, so an LTRIM prepares both ends before it changes either.
 */
typedef struct lend {
	bool     tail;
	uint64_t n;
	lnode   *gt, *gd;   /* graveyard nodes for the directories and the chunks */
} lend;

/* From the end: m whole directories, then k whole chunks of directory ti,
 * then rest elements of its chunk di. */
static void end_plan(const kv_lctx *c, const lend *e, uint32_t *m, uint32_t *k, uint32_t *rest,
                     uint32_t *ti, uint32_t *di)
{
	const lnode *t = top_of((kv_lctx *)c);
	uint64_t left = e->n;
	uint32_t mm = 0, kk = 0;
	while (left >= t->r[e->tail ? t->n - 1 - mm : mm].count) {
		left -= t->r[e->tail ? t->n - 1 - mm : mm].count;
		mm++;
	}
	*ti = e->tail ? t->n - 1 - mm : mm;
	const lnode *d = ND(c->env, t->r[*ti].off);
	while (left >= d->r[e->tail ? d->n - 1 - kk : kk].count) {
		left -= d->r[e->tail ? d->n - 1 - kk : kk].count;
		kk++;
	}
	*di = e->tail ? d->n - 1 - kk : kk;
	*m = mm;
	*k = kk;
	*rest = (uint32_t)left;
}

static void end_unprepare(kv_lctx *c, lend *e)
{
	if (e->gt)
		node_free_now(c, e->gt);
	if (e->gd)
		node_free_now(c, e->gd);
	e->gt = e->gd = NULL;
}

static int end_prepare(kv_lctx *c, lend *e)
{
	uint32_t m, k, rest;
	lpath p;
	memset(&p, 0, sizeof p);
	e->gt = e->gd = NULL;
	if (!top_mut(c, &p))
		return KV_ENOMEM;
	end_plan(c, e, &m, &k, &rest, &p.ti, &p.di);
	if ((k > 0 || rest > 0) && !(rest > 0 ? path_mut(c, &p) : dir_mut(c, &p)))
		return KV_ENOMEM;
	if ((m >= 2 && !(e->gt = node_new(c, m))) || (k >= 2 && !(e->gd = node_new(c, k)))) {
		end_unprepare(c, e);
		return KV_ENOMEM;
	}
	return KV_OK;
}

static void end_apply(kv_lctx *c, lend *e)
{
	kv_list *L = c->L;
	uint32_t m, k, rest;
	lpath p;
	memset(&p, 0, sizeof p);
	end_plan(c, e, &m, &k, &rest, &p.ti, &p.di);
	lnode *t = p.top = top_of(c);
	lnode *d = p.dir = ND(c->env, t->r[p.ti].off);
	bool tail = e->tail;
	/* chunks of directory p.ti */
	if (k > 0) {
		uint32_t a = tail ? d->n - k : 0, b = a + k;
		uint64_t cnt = 0;
		for (uint32_t i = a; i < b; i++)
			cnt += d->r[i].count;
		uint64_t by = chunks_bytes(c->env, d, a, b);
		d->bytes -= by;
		bury(c, d, a, b, e->gd, false, by);
		t->r[p.ti].count -= (uint32_t)cnt;
		p.di = tail ? d->n - 1 : 0;
	}
	/* the cut chunk */
	if (rest > 0) {
		lchunk *ch = p.ch = CH(c->env, d->r[p.di].off);
		uint32_t off = tail ? chunk_off(ch, ch->count - rest) : 0;
		uint32_t end = tail ? ch->used : chunk_off(ch, rest);
		chunk_cut(ch, off, end - off, rest);
		d->r[p.di].count -= rest;
		t->r[p.ti].count -= rest;
		chunk_shrink(c, &p);
	}
	/* whole directories */
	if (m > 0) {
		uint32_t a = tail ? t->n - m : 0, b = a + m;
		uint64_t by = 0;
		for (uint32_t i = a; i < b; i++) {
			lnode *x = ND(c->env, t->r[i].off);
			by += x->bytes + node_bytes(x);
		}
		bury(c, t, a, b, e->gt, true, by);
	}
	e->gt = e->gd = NULL; /* buried (or unused) */
	L->count -= (uint32_t)e->n;
	L->ver++;
}

static int delete_end(kv_lctx *c, bool tail, uint64_t n)
{
	lend e = {tail, n, NULL, NULL};
	int rc = end_prepare(c, &e);
	if (rc != KV_OK)
		return rc;
	end_apply(c, &e);
	maybe_listpack(c);
	return KV_OK;
}

int kv_list_trim(kv_lctx *c, uint64_t ltrim, uint64_t rtrim)
{
	kv_list *L = c->L;
	if (ltrim > L->count || rtrim > L->count - ltrim)
		return KV_EINVAL;
	if (ltrim + rtrim == 0)
		return KV_OK;
	if (ltrim + rtrim == L->count) {
		kv_list_detach_all(c);
		L->ver++;
		return KV_OK;
	}
	if (L->enc == KV_LIST_LISTPACK) {
		lpath p;
		memset(&p, 0, sizeof p);
		if (!path_mut(c, &p))
			return KV_ENOMEM;
		lchunk *ch = p.ch;
		uint32_t keep = L->count - (uint32_t)ltrim - (uint32_t)rtrim;
		uint32_t off = chunk_off(ch, (uint32_t)ltrim), end = off;
		for (uint32_t i = 0; i < keep; i++)
			end += elem_at(ch, end);
		chunk_cut(ch, end, ch->used - end, (uint32_t)rtrim);
		chunk_cut(ch, 0, off, (uint32_t)ltrim);
		L->count = keep;
		L->ver++;
		after_cut(c, &p);
		return KV_OK;
	}
	lend r = {true, rtrim, NULL, NULL}, l = {false, ltrim, NULL, NULL};
	if (rtrim && end_prepare(c, &r) != KV_OK)
		return KV_ENOMEM;
	if (ltrim && end_prepare(c, &l) != KV_OK) {
		end_unprepare(c, &r);
		return KV_ENOMEM;
	}
	if (rtrim)
		end_apply(c, &r);
	if (ltrim)
		end_apply(c, &l);
	maybe_listpack(c);
	return KV_OK;
}

int kv_list_delete(kv_lctx *c, uint64_t index, uint64_t n)
{
	kv_list *L = c->L;
	if (n == 0)
		return KV_OK;
	if (index >= L->count || n > L->count - index)
		return KV_EINVAL;
	if (n == L->count) {
		kv_list_detach_all(c);
		L->ver++;
		return KV_OK;
	}
	if (L->enc == KV_LIST_LISTPACK)
		return delete_in_chunk(c, index, (uint32_t)n);
	lpath p;
	locate(c->env, L, index, &p);
	if ((uint64_t)p.ci + n <= p.ch->count)
		return delete_in_chunk(c, index, (uint32_t)n);
	if (index == 0)
		return delete_end(c, false, n);
	if (index + n == L->count)
		return delete_end(c, true, n);
	/* a range in the middle: chunk by chunk (the commands never ask for one
	 * longer than a chunk's worth: LREM removes single elements) */
	while (n > 0) {
		locate(c->env, L, index, &p);
		uint64_t k = p.ch->count - p.ci;
		if (k > n)
			k = n;
		int rc = delete_in_chunk(c, index, (uint32_t)k);
		if (rc != KV_OK)
			return rc;
		n -= k;
	}
	return KV_OK;
}

int kv_list_set(kv_lctx *c, uint64_t index, const void *v, size_t len)
{
	kv_list *L = c->L;
	if (index >= L->count)
		return KV_ERANGE;
	size_t es = kv_list_elem_size(len);
	if (es > UINT32_MAX - 64)
		return KV_EINVAL;
	lpath p;
	locate(c->env, L, index, &p);
	uint32_t off = chunk_off(p.ch, p.ci);
	uint32_t old = elem_at(p.ch, off);
	size_t used = (size_t)p.ch->used - old + es;
	if (p.ch->count == 1 || used <= KV_LIST_CHUNK_MAX) {
		if (!path_mut(c, &p) || !chunk_reserve(c, &p, used))
			return KV_ENOMEM;
		lchunk *ch = p.ch;
		memmove(PL(ch) + off + es, PL(ch) + off + old, ch->used - off - old);
		put_elem(PL(ch) + off, v, len);
		ch->used = (uint32_t)used;
		L->ver++;
		chunk_shrink(c, &p);
		if (L->enc == KV_LIST_LISTPACK && used > KV_LIST_CHUNK_MAX)
			(void)to_quicklist(c); /* stays a listpack if memory is short */
		return KV_OK;
	}
	/* too big for its chunk: the new element goes in after the old one, which
	 * is then removed (its path is writable by then, so that cannot fail) */
	if (!path_mut(c, &p))
		return KV_ENOMEM;
	int rc = kv_list_insert(c, index + 1, v, len);
	if (rc != KV_OK)
		return rc;
	return kv_list_delete(c, index, 1);
}

void kv_list_detach_all(kv_lctx *c)
{
	kv_list *L = c->L;
	if (L->enc == KV_LIST_LISTPACK) {
		chunk_retire(c, CH(c->env, L->root));
	} else if (L->enc == KV_LIST_QUICKLIST) {
		gc_add(c, L->root, KV_LGC_TOPTREE);
		L->bytes = 0;
	}
	L->root = 0;
	L->enc = KV_LIST_EMPTY;
	L->count = 0;
}

/* Rewrite the chunk at p without its elements ci in sel[0..k) (ascending). */
static void chunk_drop(lchunk *ch, const uint32_t *sel, size_t k)
{
	unsigned char *b = PL(ch);
	uint32_t rd = 0, wr = 0, ci = 0;
	size_t j = 0;
	while (rd < ch->used) {
		uint32_t es = elem_at(ch, rd);
		if (j < k && sel[j] == ci) {
			j++;
		} else {
			if (wr != rd)
				memmove(b + wr, b + rd, es);
			wr += es;
		}
		rd += es;
		ci++;
	}
	ch->used = wr;
	ch->count -= (uint32_t)k;
}

int kv_list_delete_positions(kv_lctx *c, const uint64_t *pos, size_t n)
{
	uint32_t sel[512];
	while (n > 0) {
		/* the last position's chunk, and every position that falls in it */
		lpath p;
		locate(c->env, c->L, pos[n - 1], &p);
		uint64_t first = pos[n - 1] - p.ci;
		size_t k = 0;
		while (k < n && k < 512 && pos[n - 1 - k] >= first)
			k++;
		if (!path_mut(c, &p))
			return KV_ENOMEM;
		for (size_t j = 0; j < k; j++)
			sel[j] = (uint32_t)(pos[n - k + j] - first);
		chunk_drop(p.ch, sel, k);
		count_add(c, &p, -(int64_t)k);
		c->L->ver++;
		n -= k;
		if (c->L->count == 0) {
			kv_list_detach_all(c);
			return KV_OK;
		}
		after_cut(c, &p);
	}
	return KV_OK;
}

uint64_t kv_list_nodes_in(const kv_env *env, const kv_list *L, uint64_t index, uint64_t n)
{
	if (L->enc != KV_LIST_QUICKLIST || n == 0 || index >= L->count)
		return 6;
	lpath p;
	locate(env, L, index, &p);
	if ((uint64_t)p.ci + n <= p.ch->count) /* one chunk: it, its directory, the top */
		return 6;
	const lnode *t = ND(env, L->root);
	uint64_t at = 0, nodes = 4;
	for (uint32_t i = 0; i < t->n && at < index + n; i++) {
		uint64_t end = at + t->r[i].count;
		if (end > index)
			nodes += 1 + ND(env, t->r[i].off)->n;
		at = end;
	}
	return nodes;
}

void kv_list_rec_nodes(kv_env *env, kv_lgc_rec r, void (*fn)(void *arg, kv_off off, size_t size),
                       void *arg)
{
	switch (r.kind) {
	case KV_LGC_CHUNK:
		fn(arg, r.off, chunk_bytes(CH(env, r.off)));
		break;
	case KV_LGC_INODE:
		fn(arg, r.off, node_bytes(ND(env, r.off)));
		break;
	case KV_LGC_DIRTREE:
	case KV_LGC_TOPTREE: {
		lnode *d = ND(env, r.off);
		size_t size = node_bytes(d);
		for (uint32_t i = 0; i < d->n; i++) {
			kv_lgc_rec sub = {d->r[i].off, r.kind == KV_LGC_TOPTREE ? KV_LGC_DIRTREE : KV_LGC_CHUNK};
			kv_list_rec_nodes(env, sub, fn, arg);
		}
		fn(arg, r.off, size); /* last: fn may free it */
		break;
	}
	}
}

void kv_list_free_body(kv_env *env, const kv_list *L)
{
	if (L->enc == KV_LIST_LISTPACK)
		kv_list_free_rec(env, (kv_lgc_rec){L->root, KV_LGC_CHUNK});
	else if (L->enc == KV_LIST_QUICKLIST)
		kv_list_free_rec(env, (kv_lgc_rec){L->root, KV_LGC_TOPTREE});
}

/* ------------------------------------------------------------- freeing */
static void free_node(void *env, kv_off off, size_t size)
{
	kv_free(env, off, size);
}

void kv_list_free_rec(kv_env *env, kv_lgc_rec r)
{
	kv_list_rec_nodes(env, r, free_node, env); /* children first, then r itself */
}

void kv_list_gc_free(kv_env *env, kv_lgc *gc)
{
	for (size_t i = 0; i < gc->n; i++)
		kv_list_free_rec(env, gc->v[i]);
	gc->n = 0;
}

/* ------------------------------------------------------------- reading */
static void it_load(kv_list_it *it)
{
	const kv_env *env = it->env;
	const lnode *t = ND(env, it->L->root);
	const lnode *d = ND(env, t->r[it->ti].off);
	it->chunk = (const char *)CH(env, d->r[it->di].off);
}

bool kv_list_seek(kv_list_it *it, const kv_env *env, const kv_list *L, uint64_t index)
{
	it->env = env;
	it->L = L;
	it->index = index;
	if (index >= L->count)
		return false;
	lpath p;
	locate(env, L, index, &p);
	it->ti = p.ti;
	it->di = p.di;
	it->chunk = (const char *)p.ch;
	it->ci = p.ci;
	it->off = chunk_off(p.ch, p.ci);
	return true;
}

void kv_list_cur(const kv_list_it *it, const char **p, size_t *len)
{
	const lchunk *ch = (const lchunk *)it->chunk;
	unsigned s;
	*len = get_fwd(PL(ch) + it->off, &s);
	*p = (const char *)PL(ch) + it->off + s;
}

bool kv_list_next(kv_list_it *it)
{
	if (it->index >= it->L->count)
		return false;
	it->index++;
	if (it->index == it->L->count)
		return false;
	const lchunk *ch = (const lchunk *)it->chunk;
	if (it->ci + 1 < ch->count) {
		it->off += elem_at(ch, it->off);
		it->ci++;
		return true;
	}
	const lnode *t = ND(it->env, it->L->root);
	const lnode *d = ND(it->env, t->r[it->ti].off);
	if (++it->di == d->n) {
		it->ti++;
		it->di = 0;
	}
	it_load(it);
	it->ci = 0;
	it->off = 0;
	return true;
}

bool kv_list_prev(kv_list_it *it)
{
	if (it->index == 0 || it->index > it->L->count)
		return false;
	it->index--;
	const lchunk *ch = (const lchunk *)it->chunk;
	if (it->ci > 0) {
		it->off -= elem_before(ch, it->off);
		it->ci--;
		return true;
	}
	const lnode *t = ND(it->env, it->L->root);
	if (it->di == 0) {
		it->ti--;
		it->di = ND(it->env, t->r[it->ti].off)->n - 1;
	} else {
		it->di--;
	}
	it_load(it);
	ch = (const lchunk *)it->chunk;
	it->ci = ch->count - 1;
	it->off = ch->used - elem_before(ch, ch->used);
	return true;
}

const char *kv_list_encoding(const kv_list *L)
{
	return L->enc == KV_LIST_QUICKLIST ? "quicklist" : "listpack";
}

/* ------------------------------------------------------------- checking */
static int check_chunk(const lchunk *ch, uint64_t *bytes)
{
	if (ch->used > ch->cap || ch->count == 0)
		return KV_ECORRUPT;
	uint32_t off = 0, n = 0;
	while (off < ch->used) {
		uint32_t a = elem_at(ch, off);
		if (off + a > ch->used || elem_before(ch, off + a) != a)
			return KV_ECORRUPT;
		off += a;
		n++;
	}
	if (off != ch->used || n != ch->count)
		return KV_ECORRUPT;
	if (ch->count > 1 && ch->used > KV_LIST_CHUNK_MAX)
		return KV_ECORRUPT;
	*bytes += chunk_bytes(ch);
	return KV_OK;
}

int kv_list_check(const kv_env *env, const kv_list *L)
{
	uint64_t bytes = 0;
	if (L->enc == KV_LIST_EMPTY)
		return L->count == 0 && L->root == 0 && L->bytes == 0 ? KV_OK : KV_ECORRUPT;
	if (L->enc == KV_LIST_LISTPACK) {
		const lchunk *ch = CH(env, L->root);
		if (check_chunk(ch, &bytes) != KV_OK || ch->count != L->count || ch->used > KV_LIST_CHUNK_MAX)
			return KV_ECORRUPT;
		return bytes == L->bytes ? KV_OK : KV_ECORRUPT;
	}
	const lnode *t = ND(env, L->root);
	uint64_t total = 0;
	if (t->n == 0 || t->n > t->cap)
		return KV_ECORRUPT;
	bytes += node_bytes(t);
	for (uint32_t i = 0; i < t->n; i++) {
		const lnode *d = ND(env, t->r[i].off);
		uint64_t dc = 0, db = 0;
		if (d->n == 0 || d->n > d->cap || d->n > KV_LIST_DIR_MAX)
			return KV_ECORRUPT;
		for (uint32_t k = 0; k < d->n; k++) {
			const lchunk *ch = CH(env, d->r[k].off);
			if (check_chunk(ch, &db) != KV_OK || ch->count != d->r[k].count)
				return KV_ECORRUPT;
			dc += ch->count;
		}
		if (dc != t->r[i].count || db != d->bytes)
			return KV_ECORRUPT;
		bytes += db + node_bytes(d);
		total += dc;
	}
	if (total != L->count || bytes != L->bytes)
		return KV_ECORRUPT;
	return KV_OK;
}
