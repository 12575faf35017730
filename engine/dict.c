/*
 * dict.c -- the structure under hashes and sets: field -> value (a set has no
 * values).  Two encodings, as Redis has:
 *
 * LISTPACK (compact): one object, the elements back to back
 *     u32 epoch  u32 used  u32 cap  u32 count | u8 flen field [u8 vlen value] ...
 *   while the dict has at most KV_COMPACT_MAX_ELEMS elements of at most
 *   KV_COMPACT_MAX_ELEM bytes each.  Lookups walk it (at most 128 records, as
 *   Redis's listpack); a change rewrites it in place, or copies it when it
 *   grows or is shared with a save (bounded: 128 * 130 bytes).  Past either
 *   limit it converts to a hashtable (O(128), once; never back, as Redis).
 *
 * HASHTABLE: extendible hashing.  A directory of 2^depth segment offsets
 *   indexed by the top bits of a 32-bit tag (the high half of the field's
 *   seeded XXH3); a segment is 255 slots (tag << 32 | node offset, open
 *   addressing with linear probing inside the segment, 2 KiB) with its local
 *   depth; a node is u32 epoch, u32 flen, u32 vlen, field, value.  A segment
 *   past 80% full splits into two (255 slots moved: bounded), doubling the
 *   directory when its depth is the directory's (4 bytes a segment: 64 KiB at
 *   ~3M elements; the one step that grows with the size, at n/160 words,
 *   amortised O(1) per insert).  Add, remove, lookup: O(1).
 *   Copy-on-write for saves (coll.h section 5) is per object: a write during a
 *   save copies the segment it changes (2 KiB) and the directory once; nodes
 *   are never changed in place (an update links a new node).
 *   SCAN's cursor is a tag position: a step returns whole segments in tag
 *   order, and a split only divides a tag range, so every element present for
 *   the whole scan is returned (Redis's guarantee) with no state kept.
 */
#include "coll.h"

#include <math.h>

/* ------------------------------------------------------------ layout */
typedef struct lp {
	uint32_t epoch, used, cap, count;
} lp;
#define LP_DATA(l) ((char *)(l) + sizeof(lp))

#define SEG_SLOTS 255u
#define SEG_SPLIT 204u
#define DIR_MAX_DEPTH 24u
typedef struct seg {
	uint32_t epoch;
	uint8_t  ldepth;
	uint8_t  pad;
	uint16_t used;
	uint64_t slot[SEG_SLOTS];
} seg;
typedef struct dir {
	uint32_t epoch;
	uint32_t depth;
	kv_off   seg[];
} dir;
typedef struct node {
	uint32_t epoch, flen, vlen;
	char     data[];
} node;

#define DIR_SIZE(d) (sizeof(dir) + ((size_t)1 << (d)) * sizeof(kv_off))
#define NODE_SIZE(f, v) (sizeof(node) + (f) + (v))

static bool has_vals(const kv_chdr *h)
{
	return h->kind == KV_T_HASH;
}

static uint32_t tag_of(const kv_chdr *h, const void *f, size_t n)
{
	return (uint32_t)(XXH3_64bits_withSeed(f, n, h->aux[0]) >> 32);
}

/* ------------------------------------------------------------ listpack */
typedef struct lp_rec {
	const char *f, *v;
	size_t flen, vlen;
	size_t at, size; /* record offset and size in the data */
} lp_rec;

static bool lp_read(const lp *l, bool vals, size_t at, lp_rec *r)
{
	if (at >= l->used)
		return false;
	const unsigned char *p = (const unsigned char *)LP_DATA(l) + at;
	r->at = at;
	r->flen = p[0];
	r->f = (const char *)p + 1;
	size_t sz = 1 + r->flen;
	r->v = NULL;
	r->vlen = 0;
	if (vals) {
		r->vlen = p[sz];
		r->v = (const char *)p + sz + 1;
		sz += 1 + r->vlen;
	}
	r->size = sz;
	return true;
}

static bool lp_find(const lp *l, bool vals, const void *f, size_t flen, lp_rec *r)
{
	for (size_t at = 0; lp_read(l, vals, at, r); at += r->size)
		if (r->flen == flen && memcmp(r->f, f, flen) == 0)
			return true;
	return false;
}

/* l (NULL: none yet) with room for `more` bytes past used, writable. */
static lp *lp_room(kv_env *env, kv_chdr *h, lp *l, size_t more)
{
	size_t used = l ? l->used : 0;
	if (l && l->cap - l->used >= more) {
		lp *w = kv_cobj_writable(env, h, l, sizeof(lp) + l->cap);
		if (w && w != l)
			h->body = kv_offof(env, w);
		return w;
	}
	/* no slack of our own: the size class rounds up (up to 25%), so a copy
	 * happens only when an insert crosses a class, as Redis's listpack
	 * reallocs within jemalloc's */
	size_t cap = used + more;
	lp *n = kv_cobj_alloc(env, h, sizeof(lp) + cap);
	if (!n)
		return NULL;
	n->used = (uint32_t)used;
	n->cap = (uint32_t)(kv_alloc_size(sizeof(lp) + cap) - sizeof(lp));
	n->count = l ? l->count : 0;
	/* the allocation is its class's size: use all of it (charged as such) */
	if (l) {
		memcpy(LP_DATA(n), LP_DATA(l), used);
		kv_cobj_release(env, h, l, sizeof(lp) + l->cap);
	}
	h->body = kv_offof(env, n);
	return n;
}

/* ------------------------------------------------------------ hashtable */
static uint32_t dir_index(uint32_t depth, uint32_t tag)
{
	return depth ? tag >> (32 - depth) : 0;
}

static int seg_find(kv_env *env, const seg *s, uint32_t tag, const void *f, size_t flen)
{
	uint32_t i = tag % SEG_SLOTS;
	for (uint32_t n = 0; n < SEG_SLOTS; n++) {
		uint64_t v = s->slot[i];
		if (!v)
			return -1;
		if ((uint32_t)(v >> 32) == tag) {
			const node *nd = kv_ptr(env, (kv_off)v);
			if (nd->flen == flen && memcmp(nd->data, f, flen) == 0)
				return (int)i;
		}
		i = i + 1 == SEG_SLOTS ? 0 : i + 1;
	}
	return -1;
}

static void seg_place(seg *s, uint64_t v)
{
	uint32_t i = (uint32_t)(v >> 32) % SEG_SLOTS;
	while (s->slot[i])
		i = i + 1 == SEG_SLOTS ? 0 : i + 1;
	s->slot[i] = v;
	s->used++;
}

/* Remove slot i, shifting back the probe chain behind it. */
static void seg_remove(seg *s, uint32_t i)
{
	uint32_t j = i;
	for (;;) {
		j = j + 1 == SEG_SLOTS ? 0 : j + 1;
		uint64_t v = s->slot[j];
		if (!v)
			break;
		uint32_t home = (uint32_t)(v >> 32) % SEG_SLOTS;
		bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
		if (!stays) {
			s->slot[i] = v;
			i = j;
		}
	}
	s->slot[i] = 0;
	s->used--;
}

static dir *dir_writable(kv_env *env, kv_chdr *h)
{
	dir *d = kv_ptr(env, h->body);
	dir *w = kv_cobj_writable(env, h, d, DIR_SIZE(d->depth));
	if (w)
		h->body = kv_offof(env, w);
	return w;
}

/* The segment at directory index di, writable (the directory too). */
static seg *seg_writable(kv_env *env, kv_chdr *h, uint32_t di)
{
	dir *d = kv_ptr(env, h->body);
	seg *s = kv_ptr(env, d->seg[di]);
	if (!kv_cobj_shared(h, s))
		return s;
	if (!(d = dir_writable(env, h)))
		return NULL;
	seg *w = kv_cobj_writable(env, h, s, sizeof(seg));
	if (!w)
		return NULL;
	uint32_t span = 1u << (d->depth - w->ldepth), first = di & ~(span - 1);
	for (uint32_t k = 0; k < span; k++)
		d->seg[first + k] = kv_offof(env, w);
	return w;
}

static seg *seg_new(kv_env *env, kv_chdr *h, uint8_t ldepth)
{
	seg *s = kv_cobj_alloc(env, h, sizeof(seg));
	if (s) {
		s->ldepth = ldepth;
		s->pad = 0;
		s->used = 0;
		memset(s->slot, 0, sizeof s->slot);
	}
	return s;
}

/* Split the segment at di in two (doubling the directory if needed). */
static int seg_split(kv_env *env, kv_chdr *h, uint32_t di)
{
	dir *d = dir_writable(env, h);
	if (!d)
		return KV_ENOMEM;
	seg *s = kv_ptr(env, d->seg[di]);
	if (s->ldepth == d->depth) {
		if (d->depth == DIR_MAX_DEPTH)
			return KV_ENOMEM;
		dir *n = kv_cobj_alloc(env, h, DIR_SIZE(d->depth + 1));
		if (!n)
			return KV_ENOMEM;
		n->depth = d->depth + 1;
		for (uint32_t i = 0; i < (1u << d->depth); i++)
			n->seg[2 * i] = n->seg[2 * i + 1] = d->seg[i];
		kv_cobj_release(env, h, d, DIR_SIZE(d->depth));
		h->body = kv_offof(env, n);
		d = n;
		di *= 2;
	}
	uint8_t ld = s->ldepth;
	seg *a = seg_new(env, h, (uint8_t)(ld + 1)), *b = a ? seg_new(env, h, (uint8_t)(ld + 1)) : NULL;
	if (!b) {
		if (a) {
			h->bytes -= kv_alloc_size(sizeof(seg));
			kv_cobj_free(env, a, sizeof(seg));
		}
		return KV_ENOMEM;
	}
	for (uint32_t i = 0; i < SEG_SLOTS; i++) {
		uint64_t v = s->slot[i];
		if (v)
			seg_place(((uint32_t)(v >> 32) >> (31 - ld)) & 1 ? b : a, v);
	}
	uint32_t span = 1u << (d->depth - ld), first = di & ~(span - 1);
	for (uint32_t k = 0; k < span; k++)
		d->seg[first + k] = kv_offof(env, k < span / 2 ? a : b);
	kv_cobj_release(env, h, s, sizeof(seg));
	return KV_OK;
}

static node *node_new(kv_env *env, kv_chdr *h, const void *f, size_t flen, const void *v, size_t vlen)
{
	node *n = kv_cobj_alloc(env, h, NODE_SIZE(flen, vlen));
	if (n) {
		n->flen = (uint32_t)flen;
		n->vlen = (uint32_t)vlen;
		memcpy(n->data, f, flen);
		if (vlen)
			memcpy(n->data + flen, v, vlen);
	}
	return n;
}

static int ht_init(kv_env *env, kv_chdr *h)
{
	dir *d = kv_cobj_alloc(env, h, DIR_SIZE(0));
	if (!d)
		return KV_ENOMEM;
	seg *s = seg_new(env, h, 0);
	if (!s) {
		h->bytes -= kv_alloc_size(DIR_SIZE(0));
		kv_cobj_free(env, d, DIR_SIZE(0));
		return KV_ENOMEM;
	}
	d->depth = 0;
	d->seg[0] = kv_offof(env, s);
	h->body = kv_offof(env, d);
	h->enc = KV_ENC_HASHTABLE;
	return KV_OK;
}

/* Insert a field known to be absent. */
static int ht_insert(kv_env *env, kv_chdr *h, uint32_t tag, const void *f, size_t flen, const void *v,
                     size_t vlen)
{
	for (;;) {
		dir *d = kv_ptr(env, h->body);
		uint32_t di = dir_index(d->depth, tag);
		seg *s = kv_ptr(env, d->seg[di]);
		if (s->used >= SEG_SPLIT) {
			int rc = seg_split(env, h, di);
			if (rc != KV_OK)
				return rc;
			continue;
		}
		node *n = node_new(env, h, f, flen, v, vlen);
		if (!n)
			return KV_ENOMEM;
		if (!(s = seg_writable(env, h, di))) {
			kv_cobj_release(env, h, n, NODE_SIZE(flen, vlen));
			return KV_ENOMEM;
		}
		seg_place(s, (uint64_t)tag << 32 | kv_offof(env, n));
		return KV_OK;
	}
}

static int lp_to_ht(kv_env *env, kv_chdr *h)
{
	lp *l = h->body ? kv_ptr(env, h->body) : NULL;
	bool vals = has_vals(h);
	if (ht_init(env, h) != KV_OK) {
		if (l)
			h->body = kv_offof(env, l), h->enc = KV_ENC_LISTPACK;
		return KV_ENOMEM;
	}
	lp_rec r;
	for (size_t at = 0; l && lp_read(l, vals, at, &r); at += r.size) {
		if (ht_insert(env, h, tag_of(h, r.f, r.flen), r.f, r.flen, r.v, r.vlen) != KV_OK)
			return KV_ENOMEM; /* unreachable in practice: see dict_put's reserve */
	}
	if (l)
		kv_cobj_release(env, h, l, sizeof(lp) + l->cap);
	return KV_OK;
}

/* ------------------------------------------------------------ the dict */
/* Look f up; *v and *vlen get its value (hashes). */
bool kv_dict_get(kv_env *env, const kv_chdr *h, const void *f, size_t flen, const char **v, size_t *vlen)
{
	if (!h->body)
		return false;
	if (h->enc == KV_ENC_LISTPACK) {
		lp_rec r;
		if (!lp_find(kv_ptr(env, h->body), has_vals(h), f, flen, &r))
			return false;
		if (v)
			*v = r.v, *vlen = r.vlen;
		return true;
	}
	uint32_t tag = tag_of(h, f, flen);
	const dir *d = kv_ptr(env, h->body);
	const seg *s = kv_ptr(env, d->seg[dir_index(d->depth, tag)]);
	int i = seg_find(env, s, tag, f, flen);
	if (i < 0)
		return false;
	if (v) {
		const node *n = kv_ptr(env, (kv_off)s->slot[i]);
		*v = n->data + n->flen;
		*vlen = n->vlen;
	}
	return true;
}

static bool fits_compact(const kv_chdr *h, size_t flen, size_t vlen, bool adds)
{
	return flen <= KV_COMPACT_MAX_ELEM && vlen <= KV_COMPACT_MAX_ELEM &&
	       (!adds || h->card < KV_COMPACT_MAX_ELEMS);
}

/* An upper bound of the bytes kv_dict_put(f, v) may add to h: what max_memory
 * is checked against before the change (kv_coll_reserve), so a write that
 * passes the check never ends over the limit. */
int64_t kv_dict_put_cost(kv_env *env, const kv_chdr *h, size_t flen, size_t vlen)
{
	size_t nodesz = kv_alloc_size(NODE_SIZE(flen, vlen));
	if (h->enc == KV_ENC_LISTPACK) {
		const lp *l = h->body ? kv_ptr(env, h->body) : NULL;
		size_t need = (l ? l->used : 0) + 2 + flen + vlen;
		if (fits_compact(h, flen, vlen, true))
			return (int64_t)kv_alloc_size(sizeof(lp) + need);
		/* converts: the table and a node for every element */
		return (int64_t)(kv_alloc_size(DIR_SIZE(1)) + 2 * kv_alloc_size(sizeof(seg)) + nodesz +
		                 (size_t)(h->card + 1) * kv_alloc_size(NODE_SIZE(KV_COMPACT_MAX_ELEM, KV_COMPACT_MAX_ELEM)));
	}
	const dir *d = kv_ptr(env, h->body);
	size_t cow = atomic_load_explicit(&((kv_chdr *)h)->view.state, memory_order_relaxed) == KV_VIEW_FROZEN
	                     ? kv_alloc_size(sizeof(seg)) + kv_alloc_size(DIR_SIZE(d->depth))
	                     : 0; /* a save's copy of the segment and directory */
	return (int64_t)(nodesz + cow + 2 * kv_alloc_size(sizeof(seg)) + kv_alloc_size(DIR_SIZE(d->depth + 1)));
}

/* Set f to v (sets: vlen 0).  nx: leave an existing field alone.  *added: 1 if
 * it was new.  The caller called kv_coll_mutate (or owns h privately). */
int kv_dict_put(kv_env *env, kv_chdr *h, const void *f, size_t flen, const void *v, size_t vlen,
                bool nx, int *added)
{
	bool vals = has_vals(h);
	*added = 0;
	if (!vals)
		vlen = 0;
	if (h->enc == KV_ENC_LISTPACK) {
		lp *l = h->body ? kv_ptr(env, h->body) : NULL;
		lp_rec r;
		bool found = l && lp_find(l, vals, f, flen, &r);
		if (found && nx)
			return KV_OK;
		if (fits_compact(h, flen, vlen, !found)) {
			if (found) {
				if (!vals)
					return KV_OK;
				if (r.vlen == vlen) {
					size_t at = r.at;
					if (!(l = lp_room(env, h, l, 0)))
						return KV_ENOMEM;
					memcpy(LP_DATA(l) + at + 1 + flen + 1, v, vlen);
					return KV_OK;
				}
				/* a new length: shift the tail */
				size_t at = r.at, old = r.size, nsz = 2 + flen + vlen;
				if (!(l = lp_room(env, h, l, nsz > old ? nsz - old : 0)))
					return KV_ENOMEM;
				char *p = LP_DATA(l);
				memmove(p + at + nsz, p + at + old, l->used - at - old);
				p[at + 1 + flen] = (char)vlen;
				memcpy(p + at + 2 + flen, v, vlen);
				l->used = (uint32_t)(l->used - old + nsz);
				return KV_OK;
			}
			size_t nsz = 1 + flen + (vals ? 1 + vlen : 0);
			if (!(l = lp_room(env, h, l, nsz)))
				return KV_ENOMEM;
			char *p = LP_DATA(l) + l->used;
			p[0] = (char)flen;
			memcpy(p + 1, f, flen);
			if (vals) {
				p[1 + flen] = (char)vlen;
				memcpy(p + 2 + flen, v, vlen);
			}
			l->used += (uint32_t)nsz;
			l->count++;
			h->card++;
			*added = 1;
			return KV_OK;
		}
		if (lp_to_ht(env, h) != KV_OK)
			return KV_ENOMEM;
	}
	uint32_t tag = tag_of(h, f, flen);
	dir *d = kv_ptr(env, h->body);
	uint32_t di = dir_index(d->depth, tag);
	int i = seg_find(env, kv_ptr(env, d->seg[di]), tag, f, flen);
	if (i >= 0) {
		if (nx || !vals)
			return KV_OK;
		node *n = node_new(env, h, f, flen, v, vlen);
		seg *s = n ? seg_writable(env, h, di) : NULL;
		if (!s) {
			if (n)
				kv_cobj_release(env, h, n, NODE_SIZE(flen, vlen));
			return KV_ENOMEM;
		}
		node *o = kv_ptr(env, (kv_off)s->slot[i]);
		s->slot[i] = (uint64_t)tag << 32 | kv_offof(env, n);
		kv_cobj_release(env, h, o, NODE_SIZE(o->flen, o->vlen));
		return KV_OK;
	}
	int rc = ht_insert(env, h, tag, f, flen, v, vlen);
	if (rc == KV_OK) {
		h->card++;
		*added = 1;
	}
	return rc;
}

/* Remove f: true if it was there. */
bool kv_dict_del(kv_env *env, kv_chdr *h, const void *f, size_t flen, int *err)
{
	*err = KV_OK;
	if (!h->body)
		return false;
	bool vals = has_vals(h);
	if (h->enc == KV_ENC_LISTPACK) {
		lp *l = kv_ptr(env, h->body);
		lp_rec r;
		if (!lp_find(l, vals, f, flen, &r))
			return false;
		size_t at = r.at, sz = r.size;
		if (!(l = lp_room(env, h, l, 0))) {
			*err = KV_ENOMEM;
			return false;
		}
		char *p = LP_DATA(l);
		memmove(p + at, p + at + sz, l->used - at - sz);
		l->used -= (uint32_t)sz;
		l->count--;
		h->card--;
		return true;
	}
	uint32_t tag = tag_of(h, f, flen);
	dir *d = kv_ptr(env, h->body);
	uint32_t di = dir_index(d->depth, tag);
	int i = seg_find(env, kv_ptr(env, d->seg[di]), tag, f, flen);
	if (i < 0)
		return false;
	seg *s = seg_writable(env, h, di);
	if (!s) {
		*err = KV_ENOMEM;
		return false;
	}
	node *o = kv_ptr(env, (kv_off)s->slot[i]);
	seg_remove(s, (uint32_t)i);
	kv_cobj_release(env, h, o, NODE_SIZE(o->flen, o->vlen));
	h->card--;
	return true;
}

/* One random element (h not empty). */
void kv_dict_random(kv_env *env, const kv_chdr *h, uint64_t *rng, kv_celem *el)
{
	bool vals = has_vals(h);
	memset(el, 0, sizeof *el);
	*rng = *rng * 6364136223846793005ull + 1442695040888963407ull;
	uint64_t r = *rng >> 11;
	if (h->enc == KV_ENC_LISTPACK) {
		const lp *l = kv_ptr(env, h->body);
		uint64_t k = r % l->count;
		lp_rec rec = {0};
		size_t at = 0;
		for (; lp_read(l, vals, at, &rec) && k; at += rec.size, k--)
			;
		el->p = rec.f, el->len = rec.flen, el->v = rec.v, el->vlen = rec.vlen;
		return;
	}
	const dir *d = kv_ptr(env, h->body);
	for (unsigned tries = 0;; tries++) {
		*rng = *rng * 6364136223846793005ull + 1442695040888963407ull;
		r = *rng >> 11;
		uint32_t di = (uint32_t)(r % ((uint64_t)1 << d->depth));
		const seg *s = kv_ptr(env, d->seg[di]);
		if (!s->used && tries < 64)
			continue;
		if (!s->used) { /* sparse after deletes: the first non-empty one */
			for (di = 0; !((const seg *)kv_ptr(env, d->seg[di]))->used; di++)
				;
			s = kv_ptr(env, d->seg[di]);
		}
		uint32_t i = (uint32_t)((r >> 24) % SEG_SLOTS);
		while (!s->slot[i])
			i = i + 1 == SEG_SLOTS ? 0 : i + 1;
		const node *n = kv_ptr(env, (kv_off)s->slot[i]);
		el->p = n->data, el->len = n->flen;
		if (vals)
			el->v = n->data + n->flen, el->vlen = n->vlen;
		return;
	}
}

/* ------------------------------------------------------------ kind ops */
static const char *dict_encoding(const kv_chdr *h)
{
	return h->enc == KV_ENC_LISTPACK ? "listpack" : "hashtable";
}

static void dict_free(kv_env *env, const kv_chdr *h)
{
	if (!h->body)
		return;
	if (h->enc == KV_ENC_LISTPACK) {
		lp *l = kv_ptr(env, h->body);
		kv_cobj_free(env, l, sizeof(lp) + l->cap);
		return;
	}
	dir *d = kv_ptr(env, h->body);
	for (uint32_t di = 0; di < (1u << d->depth);) {
		seg *s = kv_ptr(env, d->seg[di]);
		for (uint32_t i = 0; i < SEG_SLOTS; i++)
			if (s->slot[i]) {
				node *n = kv_ptr(env, (kv_off)s->slot[i]);
				kv_cobj_free(env, n, NODE_SIZE(n->flen, n->vlen));
			}
		di += 1u << (d->depth - s->ldepth);
		kv_cobj_free(env, s, sizeof(seg));
	}
	kv_cobj_free(env, d, DIR_SIZE(d->depth));
}

static int dict_scan(kv_env *env, const kv_chdr *h, uint64_t *cursor, size_t budget, kv_cemit_fn fn,
                     void *ctx)
{
	bool vals = has_vals(h);
	if (!h->body) {
		*cursor = 0;
		return KV_OK;
	}
	if (h->enc == KV_ENC_LISTPACK) {
		const lp *l = kv_ptr(env, h->body);
		lp_rec r;
		for (size_t at = 0; lp_read(l, vals, at, &r); at += r.size) {
			kv_celem el = {r.f, r.flen, r.v, r.vlen, 0};
			int rc = fn(ctx, &el);
			if (rc)
				return rc;
		}
		*cursor = 0;
		return KV_OK;
	}
	const dir *d = kv_ptr(env, h->body);
	uint64_t c = *cursor, end = (uint64_t)1 << 32;
	size_t emitted = 0;
	while (c < end && emitted < budget) {
		const seg *s = kv_ptr(env, d->seg[dir_index(d->depth, (uint32_t)c)]);
		uint32_t ld = s->ldepth;
		uint64_t lo = ld ? (c >> (32 - ld)) << (32 - ld) : 0, hi = lo + ((uint64_t)1 << (32 - ld));
		for (uint32_t i = 0; i < SEG_SLOTS; i++) {
			uint64_t v = s->slot[i];
			if (!v || (v >> 32) < c)
				continue;
			const node *n = kv_ptr(env, (kv_off)v);
			kv_celem el = {n->data, n->flen, vals ? n->data + n->flen : NULL, vals ? n->vlen : 0, 0};
			int rc = fn(ctx, &el);
			if (rc)
				return rc;
			emitted++;
		}
		c = hi;
	}
	*cursor = c >= end ? 0 : c;
	return KV_OK;
}

static int dict_add(kv_env *env, kv_chdr *h, const kv_celem *el)
{
	int added;
	return kv_dict_put(env, h, el->p, el->len, el->v, el->vlen, false, &added);
}

typedef struct copy_ctx {
	kv_env  *env;
	kv_chdr *dst;
} copy_ctx;

static int copy_one(void *ctx, const kv_celem *el)
{
	copy_ctx *c = ctx;
	return dict_add(c->env, c->dst, el);
}

static int dict_copy(kv_env *env, const kv_chdr *src, kv_chdr *dst)
{
	dst->aux[0] = src->aux[0];
	copy_ctx c = {env, dst};
	uint64_t cur = 0;
	int rc;
	do
		rc = dict_scan(env, src, &cur, KV_COLL_HOLD, copy_one, &c);
	while (rc == KV_OK && cur);
	return rc;
}

const kv_kind_ops kv_hash_ops = {KV_T_HASH, dict_encoding, dict_free, dict_copy, dict_scan, dict_add, 1};
const kv_kind_ops kv_set_ops = {KV_T_SET, dict_encoding, dict_free, dict_copy, dict_scan, dict_add, 1};
