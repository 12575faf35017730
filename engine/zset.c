/*
 * zset.c -- sorted sets in the region: a compact blob for small ones, an
 * order-statistic B+tree plus a member index for large ones.  zset_api.c
 * has kv.h's calls; this file is the structure (zset.h is its contract).
 *
 * WHY THIS SHAPE
 *   Redis keeps a skiplist (order, rank through span counts) and a dict
 *   (member -> score).  Here the order is a B+tree keyed by (score, member
 *   bytes) whose inner nodes keep each child's element count, and the member
 *   index is a chained hash whose chains run through the element records:
 *     - add, remove, rank and "count below a bound" are O(log n) descents;
 *       select by rank is O(log n) through the counts; ZSCORE is O(1) through
 *       the index (chains average below one record);
 *     - nodes are 512 bytes (42 elements a leaf, 25 children an inner node):
 *       an element costs its record (20 bytes + member, one allocation) plus
 *       12 bytes in a leaf and 4 in the index, against Redis's skiplist node,
 *       dict entry and sds;
 *     - everything is addressed by 32-bit kv_off and allocated in the region,
 *       so a zset works in shared memory mapped at any address.
 *   Small zsets (<= 128 elements of <= 64 bytes, Redis's listpack limits) are
 *   one immutable blob of (score, length, bytes) entries in order: every write
 *   builds a new blob (at most ~9 KB), which is also its copy-on-write.
 *
 * WHERE IT LIVES IN THE COLLECTION HEADER (coll.h)
 *   body     the blob, or the tree's root node
 *   card     elements
 *   aux[0]   tree height (1: the root is a leaf)
 *   aux[1]   tree: the zs_meta object (member index, spare nodes)
 *   A save's frozen view keeps (body, card, aux) as of its cut: the root and
 *   height are all a reader of the tree needs.  The member index is not part
 *   of any view: only the live zset, under its lock, reads it.
 *
 * COPY-ON-WRITE FOR A RUNNING SAVE (coll.h section 5)
 *   Nodes, records and blobs are the core's objects (their epoch at offset 0).
 *   While a save's view is frozen, a write copies each node it is about to
 *   change that the view shares (path copying: the root-to-leaf path a write
 *   walks, plus a sibling it merges with or borrows from) and releases the
 *   old one to the view's graveyard; a node already copied since the freeze
 *   is written in place.  A record removed while frozen goes to the graveyard
 *   too; a score update keeps its record (the view reads scores from its own
 *   leaves, and members, which never change, from the records).  The index's
 *   links inside records change in place: no view reads them.  So a save of a
 *   1M-element zset during writes costs each write at most ~3 nodes a level
 *   (5 levels), once per save, and never a copy of the zset.
 *
 * BOUNDED WORK UNDER THE LOCK
 *   One element's write is O(log n) plus 64 buckets of incremental rehash
 *   (the index doubles by moving old buckets a few at a time, as Redis's dict
 *   does; new buckets are written as they are filled, so growing never zeroes
 *   a large array under the lock).  The index shrinks only when the zset falls
 *   to 1024 elements (a rebuild of at most that).  Nodes a write may need are
 *   kept topped up beforehand (spare list), so a full region fails a write
 *   before it changes anything.  Freeing a zset (zs_free) is O(size) and the
 *   core runs it with no lock held.
 */
#include "zset.h"

#include <math.h>
#include <stdlib.h>

#define ZS_NODE 512u
#define ZL 42u /* leaf entries */
#define ZI 25u /* inner children */
#define ZL_MIN (ZL / 2)
#define ZI_MIN (ZI / 2)

/* Every object starts with the epoch it was written in (the core's stamp). */
typedef struct zs_node {
	uint32_t gen;
	uint16_t n;
	uint8_t  leaf;
	uint8_t  pad;
} zs_node;
typedef struct zs_leaf {
	zs_node hd;
	double  score[ZL];
	kv_off  elem[ZL];
} zs_leaf;
typedef struct zs_inner {
	zs_node  hd;
	double   score[ZI];     /* each child's smallest key: score ... */
	kv_off   elem[ZI];      /* ... and its record */
	kv_off   child[ZI];
	uint32_t cnt[ZI];       /* elements under each child */
} zs_inner;
_Static_assert(sizeof(zs_leaf) <= ZS_NODE && sizeof(zs_inner) <= ZS_NODE, "node size");

/* An element of a tree zset; member bytes follow.  next chains the index. */
typedef struct __attribute__((packed, aligned(4))) zs_rec {
	uint32_t gen;
	kv_off   next;
	double   score;
	uint32_t len;
} zs_rec;
_Static_assert(sizeof(zs_rec) == 20, "record header");
#define REC_SIZE(len) (sizeof(zs_rec) + (size_t)(len))

/* The compact encoding: entries of 8-byte score, 1-byte length, bytes. */
typedef struct zs_blob {
	uint32_t gen, n, used, pad;
} zs_blob;
#define BLOB_ENTRY(len) (9u + (uint32_t)(len))

/* The live tree's side structures (aux[1]); not versioned. */
typedef struct zs_meta {
	uint32_t gen;
	kv_off   buckets;     /* member index, chains through the records */
	uint32_t blog2;
	kv_off   obuckets;    /* the old bucket array while it rehashes (0: none) */
	uint32_t oblog2;
	uint32_t rehash;      /* old buckets below this have moved */
	kv_off   spare;       /* tree nodes kept for the next writes (linked at offset 4) */
	uint32_t nspare;
	uint64_t seed;        /* random: members cannot be chosen to collide in the index */
} zs_meta;

#define ZS_REHASH_STEP 64u
#define ZS_MIN_BUCKETS_LOG2 7u
#define ZS_SHRINK_AT 1024u

#define P(env, o) kv_ptr((env), (o))

static inline const char *rec_mem(const zs_rec *r)
{
	return (const char *)(r + 1);
}

static inline uint32_t zs_height(const kv_chdr *h)
{
	return (uint32_t)h->aux[0];
}

static inline zs_meta *zs_meta_of(kv_env *env, const kv_chdr *h)
{
	return P(env, (kv_off)h->aux[1]);
}

int zs_cmp(double sa, const void *ma, size_t la, double sb, const void *mb, size_t lb)
{
	if (sa < sb)
		return -1;
	if (sa > sb)
		return 1;
	size_t l = la < lb ? la : lb;
	int c = l ? memcmp(ma, mb, l) : 0;
	if (c)
		return c;
	return la < lb ? -1 : la > lb;
}

static int mcmp(const void *ma, size_t la, const void *mb, size_t lb)
{
	size_t l = la < lb ? la : lb;
	int c = l ? memcmp(ma, mb, l) : 0;
	if (c)
		return c;
	return la < lb ? -1 : la > lb;
}

/* ---------------------------------------------------------- write context */
typedef struct zc {
	kv_env  *env;
	kv_chdr *h;
	zs_meta *m; /* tree only */
} zc;

static zc zc_of(kv_env *env, kv_chdr *h)
{
	zc c = {env, h, NULL};
	if (h->enc == KV_ENC_SKIPLIST)
		c.m = zs_meta_of(env, h);
	return c;
}

/* A versioned object (node, record, blob): the core stamps and charges it. */
static kv_off zalloc(zc *c, size_t size)
{
	void *p = kv_cobj_alloc(c->env, c->h, size);
	return p ? kv_offof(c->env, p) : 0;
}
/* Leaves the live zset: freed, or kept in the graveyard for a frozen view. */
static void zrelease(zc *c, kv_off o, size_t size)
{
	kv_cobj_release(c->env, c->h, P(c->env, o), size);
}
/* An object no view reads (meta, bucket arrays, spare nodes): charged here. */
static kv_off zalloc_plain(zc *c, size_t size)
{
	kv_off o = kv_alloc(c->env, size);
	if (o)
		c->h->bytes += kv_alloc_size(size);
	return o;
}
static void zfree_plain(zc *c, kv_off o, size_t size)
{
	c->h->bytes -= kv_alloc_size(size);
	kv_free(c->env, o, size);
}

static bool obj_shared(const zc *c, kv_off o)
{
	return kv_cobj_shared(c->h, P(c->env, o));
}

static kv_off spare_link(kv_env *env, kv_off o)
{
	kv_off n;
	memcpy(&n, (char *)P(env, o) + 4, sizeof n);
	return n;
}

static kv_off node_take(zc *c, int leaf)
{
	kv_off o = c->m->spare;
	zs_node *n = P(c->env, o);
	c->m->spare = spare_link(c->env, o);
	c->m->nspare--;
	n->gen = c->h->epoch;
	n->n = 0;
	n->leaf = (uint8_t)leaf;
	n->pad = 0;
	return o;
}

static bool frozen(const kv_chdr *h)
{
	return atomic_load_explicit(&((kv_chdr *)h)->view.state, memory_order_relaxed) == KV_VIEW_FROZEN;
}

static uint32_t spare_want(const zc *c)
{
	uint32_t ht = zs_height(c->h) ? zs_height(c->h) : 1;
	return (frozen(c->h) ? 3 * ht : 0) + ht + 2;
}

static void spare_push(zc *c, kv_off o)
{
	memcpy((char *)P(c->env, o) + 4, &c->m->spare, sizeof(kv_off));
	c->m->spare = o;
	c->m->nspare++;
}

static void node_release(zc *c, kv_off o)
{
	if (!obj_shared(c, o) && c->m->nspare < spare_want(c)) {
		spare_push(c, o); /* still charged: spares are the zset's */
		return;
	}
	zrelease(c, o, ZS_NODE);
}

/* The node at *slot made writable: copied first if the view shares it. */
static void *node_w(zc *c, kv_off *slot)
{
	zs_node *n = P(c->env, *slot);
	if (!obj_shared(c, *slot))
		return n;
	kv_off o = node_take(c, n->leaf);
	zs_node *m = P(c->env, o);
	memcpy((char *)m + 4, (char *)n + 4, ZS_NODE - 4);
	zrelease(c, *slot, ZS_NODE);
	*slot = o;
	return m;
}

/* Room for one write: spare nodes (the core reserved the graveyard). */
static int zs_prepare(zc *c)
{
	if (c->h->enc != KV_ENC_SKIPLIST)
		return KV_OK;
	uint32_t want = spare_want(c);
	while (c->m->nspare < want) {
		kv_off o = zalloc(c, ZS_NODE);
		if (!o)
			return KV_ENOMEM;
		spare_push(c, o);
	}
	while (c->m->nspare > want + 4) {
		kv_off o = c->m->spare;
		c->m->spare = spare_link(c->env, o);
		c->m->nspare--;
		c->h->bytes -= kv_alloc_size(ZS_NODE); /* a spare is never shared: free it */
		kv_free(c->env, o, ZS_NODE);
	}
	return KV_OK;
}


/* ------------------------------------------------------------ tree reads */
static inline uint32_t node_n(const void *n)
{
	return ((const zs_node *)n)->n;
}

static uint64_t node_count(kv_env *env, kv_off o, uint32_t ht)
{
	if (ht == 1)
		return node_n(P(env, o));
	const zs_inner *in = P(env, o);
	uint64_t s = 0;
	for (uint32_t i = 0; i < in->hd.n; i++)
		s += in->cnt[i];
	return s;
}

static void node_min(kv_env *env, kv_off o, uint32_t ht, double *s, kv_off *e)
{
	if (ht == 1) {
		const zs_leaf *l = P(env, o);
		*s = l->score[0];
		*e = l->elem[0];
	} else {
		const zs_inner *in = P(env, o);
		*s = in->score[0];
		*e = in->elem[0];
	}
}

static int kcmp(kv_env *env, double s, const char *m, size_t ml, double s2, kv_off e2)
{
	if (s < s2)
		return -1;
	if (s > s2)
		return 1;
	const zs_rec *r = P(env, e2);
	return mcmp(m, ml, rec_mem(r), r->len);
}

/* The child to descend into for key k: the last whose minimum is <= k. */
static uint32_t inner_child(kv_env *env, const zs_inner *in, double s, const char *m, size_t ml)
{
	uint32_t lo = 1, hi = in->hd.n; /* answer in [0, n): first i >= 1 with key[i] > k, minus 1 */
	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		if (kcmp(env, s, m, ml, in->score[mid], in->elem[mid]) < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo - 1;
}

/* First leaf position whose key is >= k. */
static uint32_t leaf_lower(kv_env *env, const zs_leaf *l, double s, const char *m, size_t ml)
{
	uint32_t lo = 0, hi = l->hd.n;
	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		if (kcmp(env, s, m, ml, l->score[mid], l->elem[mid]) > 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* ----------------------------------------------------------- tree writes */
static void refresh_key(zc *c, zs_inner *in, uint32_t i, uint32_t cht)
{
	node_min(c->env, in->child[i], cht, &in->score[i], &in->elem[i]);
}

/* Insert (s, m) with record e under *slot.  A split puts the new right
 * sibling in *right and returns 1.  `rightmost`: the node ends the tree, where
 * an append splits off just the new key (sequential builds fill nodes). */
static int t_ins(zc *c, kv_off *slot, uint32_t ht, double s, const char *m, size_t ml, kv_off e,
                 bool rightmost, kv_off *right)
{
	kv_env *env = c->env;
	if (ht == 1) {
		zs_leaf *l = node_w(c, slot);
		uint32_t n = l->hd.n, pos = leaf_lower(env, l, s, m, ml);
		if (n < ZL) {
			memmove(&l->score[pos + 1], &l->score[pos], (n - pos) * sizeof(double));
			memmove(&l->elem[pos + 1], &l->elem[pos], (n - pos) * sizeof(kv_off));
			l->score[pos] = s;
			l->elem[pos] = e;
			l->hd.n++;
			return 0;
		}
		double ts[ZL + 1];
		kv_off te[ZL + 1];
		memcpy(ts, l->score, pos * sizeof(double));
		memcpy(te, l->elem, pos * sizeof(kv_off));
		ts[pos] = s;
		te[pos] = e;
		memcpy(ts + pos + 1, l->score + pos, (n - pos) * sizeof(double));
		memcpy(te + pos + 1, l->elem + pos, (n - pos) * sizeof(kv_off));
		uint32_t keep = (rightmost && pos == n) ? ZL : (ZL + 1) / 2;
		kv_off ro = node_take(c, 1);
		zs_leaf *r = P(env, ro);
		memcpy(l->score, ts, keep * sizeof(double));
		memcpy(l->elem, te, keep * sizeof(kv_off));
		l->hd.n = (uint16_t)keep;
		memcpy(r->score, ts + keep, (ZL + 1 - keep) * sizeof(double));
		memcpy(r->elem, te + keep, (ZL + 1 - keep) * sizeof(kv_off));
		r->hd.n = (uint16_t)(ZL + 1 - keep);
		*right = ro;
		return 1;
	}
	zs_inner *in = node_w(c, slot);
	uint32_t n = in->hd.n, i = inner_child(env, in, s, m, ml);
	kv_off r;
	int split = t_ins(c, &in->child[i], ht - 1, s, m, ml, e, rightmost && i == n - 1, &r);
	in->cnt[i]++;
	refresh_key(c, in, i, ht - 1);
	if (!split)
		return 0;
	uint32_t rc = (uint32_t)node_count(env, r, ht - 1);
	in->cnt[i] -= rc;
	double rs;
	kv_off re;
	node_min(env, r, ht - 1, &rs, &re);
	uint32_t pos = i + 1;
	if (n < ZI) {
		memmove(&in->score[pos + 1], &in->score[pos], (n - pos) * sizeof(double));
		memmove(&in->elem[pos + 1], &in->elem[pos], (n - pos) * sizeof(kv_off));
		memmove(&in->child[pos + 1], &in->child[pos], (n - pos) * sizeof(kv_off));
		memmove(&in->cnt[pos + 1], &in->cnt[pos], (n - pos) * sizeof(uint32_t));
		in->score[pos] = rs;
		in->elem[pos] = re;
		in->child[pos] = r;
		in->cnt[pos] = rc;
		in->hd.n++;
		return 0;
	}
	double ts[ZI + 1];
	kv_off te[ZI + 1], tc[ZI + 1];
	uint32_t tn[ZI + 1];
	for (uint32_t k = 0, j = 0; k <= ZI; k++) {
		if (k == pos) {
			ts[k] = rs, te[k] = re, tc[k] = r, tn[k] = rc;
			continue;
		}
		ts[k] = in->score[j], te[k] = in->elem[j], tc[k] = in->child[j], tn[k] = in->cnt[j];
		j++;
	}
	uint32_t keep = (rightmost && pos == n) ? ZI : (ZI + 1) / 2;
	kv_off ro = node_take(c, 0);
	zs_inner *rn = P(env, ro);
	memcpy(in->score, ts, keep * sizeof(double));
	memcpy(in->elem, te, keep * sizeof(kv_off));
	memcpy(in->child, tc, keep * sizeof(kv_off));
	memcpy(in->cnt, tn, keep * sizeof(uint32_t));
	in->hd.n = (uint16_t)keep;
	uint32_t rn_n = ZI + 1 - keep;
	memcpy(rn->score, ts + keep, rn_n * sizeof(double));
	memcpy(rn->elem, te + keep, rn_n * sizeof(kv_off));
	memcpy(rn->child, tc + keep, rn_n * sizeof(kv_off));
	memcpy(rn->cnt, tn + keep, rn_n * sizeof(uint32_t));
	rn->hd.n = (uint16_t)rn_n;
	*right = ro;
	return 1;
}

static void tree_insert(zc *c, double s, const char *m, size_t ml, kv_off e)
{
	kv_chdr *h = c->h;
	kv_off r;
	if (t_ins(c, &h->body, zs_height(h), s, m, ml, e, true, &r)) {
		kv_off no = node_take(c, 0);
		zs_inner *in = P(c->env, no);
		in->hd.n = 2;
		uint32_t ht = zs_height(h);
		in->child[0] = h->body;
		in->child[1] = r;
		in->cnt[0] = (uint32_t)node_count(c->env, h->body, ht);
		in->cnt[1] = (uint32_t)node_count(c->env, r, ht);
		node_min(c->env, h->body, ht, &in->score[0], &in->elem[0]);
		node_min(c->env, r, ht, &in->score[1], &in->elem[1]);
		h->body = no;
		h->aux[0] = ht + 1;
	}
}

/* Child i of `in` fell below the minimum: merge it with a sibling, or share
 * the two's entries evenly. */
static void t_fix(zc *c, zs_inner *in, uint32_t i, uint32_t cht)
{
	uint32_t a = i + 1 < in->hd.n ? i : i - 1, b = a + 1;
	void *L = node_w(c, &in->child[a]);
	void *R = node_w(c, &in->child[b]);
	uint32_t ln = node_n(L), rn = node_n(R), tot = ln + rn;
	if (cht == 1) {
		zs_leaf *l = L, *r = R;
		if (tot <= ZL) {
			memcpy(&l->score[ln], r->score, rn * sizeof(double));
			memcpy(&l->elem[ln], r->elem, rn * sizeof(kv_off));
			l->hd.n = (uint16_t)tot;
		} else {
			double ts[2 * ZL];
			kv_off te[2 * ZL];
			memcpy(ts, l->score, ln * sizeof(double));
			memcpy(ts + ln, r->score, rn * sizeof(double));
			memcpy(te, l->elem, ln * sizeof(kv_off));
			memcpy(te + ln, r->elem, rn * sizeof(kv_off));
			uint32_t k = tot / 2;
			memcpy(l->score, ts, k * sizeof(double));
			memcpy(l->elem, te, k * sizeof(kv_off));
			memcpy(r->score, ts + k, (tot - k) * sizeof(double));
			memcpy(r->elem, te + k, (tot - k) * sizeof(kv_off));
			l->hd.n = (uint16_t)k;
			r->hd.n = (uint16_t)(tot - k);
		}
	} else {
		zs_inner *l = L, *r = R;
		double ts[2 * ZI];
		kv_off te[2 * ZI], tc[2 * ZI];
		uint32_t tn[2 * ZI];
		memcpy(ts, l->score, ln * sizeof(double));
		memcpy(ts + ln, r->score, rn * sizeof(double));
		memcpy(te, l->elem, ln * sizeof(kv_off));
		memcpy(te + ln, r->elem, rn * sizeof(kv_off));
		memcpy(tc, l->child, ln * sizeof(kv_off));
		memcpy(tc + ln, r->child, rn * sizeof(kv_off));
		memcpy(tn, l->cnt, ln * sizeof(uint32_t));
		memcpy(tn + ln, r->cnt, rn * sizeof(uint32_t));
		uint32_t k = tot <= ZI ? tot : tot / 2;
		memcpy(l->score, ts, k * sizeof(double));
		memcpy(l->elem, te, k * sizeof(kv_off));
		memcpy(l->child, tc, k * sizeof(kv_off));
		memcpy(l->cnt, tn, k * sizeof(uint32_t));
		l->hd.n = (uint16_t)k;
		if (k < tot) {
			memcpy(r->score, ts + k, (tot - k) * sizeof(double));
			memcpy(r->elem, te + k, (tot - k) * sizeof(kv_off));
			memcpy(r->child, tc + k, (tot - k) * sizeof(kv_off));
			memcpy(r->cnt, tn + k, (tot - k) * sizeof(uint32_t));
			r->hd.n = (uint16_t)(tot - k);
		} else {
			r->hd.n = 0;
		}
	}
	if (node_n(L) == tot) { /* merged: b leaves the parent */
		uint32_t cnt = in->cnt[a] + in->cnt[b];
		kv_off gone = in->child[b];
		uint32_t n = in->hd.n;
		memmove(&in->score[b], &in->score[b + 1], (n - b - 1) * sizeof(double));
		memmove(&in->elem[b], &in->elem[b + 1], (n - b - 1) * sizeof(kv_off));
		memmove(&in->child[b], &in->child[b + 1], (n - b - 1) * sizeof(kv_off));
		memmove(&in->cnt[b], &in->cnt[b + 1], (n - b - 1) * sizeof(uint32_t));
		in->hd.n--;
		in->cnt[a] = cnt;
		node_release(c, gone);
		refresh_key(c, in, a, cht);
	} else {
		uint32_t cnt = in->cnt[a] + in->cnt[b];
		in->cnt[a] = (uint32_t)node_count(c->env, in->child[a], cht);
		in->cnt[b] = cnt - in->cnt[a];
		refresh_key(c, in, a, cht);
		refresh_key(c, in, b, cht);
	}
}

/* Remove the key (s, m) (it exists) under *slot. */
static void t_del(zc *c, kv_off *slot, uint32_t ht, double s, const char *m, size_t ml)
{
	kv_env *env = c->env;
	if (ht == 1) {
		zs_leaf *l = node_w(c, slot);
		uint32_t n = l->hd.n, pos = leaf_lower(env, l, s, m, ml);
		memmove(&l->score[pos], &l->score[pos + 1], (n - pos - 1) * sizeof(double));
		memmove(&l->elem[pos], &l->elem[pos + 1], (n - pos - 1) * sizeof(kv_off));
		l->hd.n--;
		return;
	}
	zs_inner *in = node_w(c, slot);
	uint32_t i = inner_child(env, in, s, m, ml);
	t_del(c, &in->child[i], ht - 1, s, m, ml);
	in->cnt[i]--;
	uint32_t cn = node_n(P(env, in->child[i]));
	if (cn < (ht - 1 == 1 ? ZL_MIN : ZI_MIN) && in->hd.n > 1)
		t_fix(c, in, i, ht - 1);
	else if (cn)
		refresh_key(c, in, i, ht - 1);
}

static void tree_delete(zc *c, double s, const char *m, size_t ml)
{
	kv_chdr *h = c->h;
	t_del(c, &h->body, zs_height(h), s, m, ml);
	while (zs_height(h) > 1 && node_n(P(c->env, h->body)) == 1) {
		kv_off old = h->body;
		h->body = ((zs_inner *)P(c->env, old))->child[0];
		h->aux[0]--;
		node_release(c, old);
	}
}

/* ---------------------------------------------------------- member index */
static inline uint64_t zhash(const zs_meta *m, const void *p, size_t n)
{
	return XXH3_64bits_withSeed(p, n, m->seed);
}

static inline kv_off *bucket_arr(kv_env *env, kv_off a)
{
	return P(env, a);
}

static kv_off *bucket_of(kv_env *env, const zs_meta *h, uint64_t hv)
{
	if (h->obuckets) {
		uint64_t ob = hv & (((uint64_t)1 << h->oblog2) - 1);
		if (ob >= h->rehash)
			return bucket_arr(env, h->obuckets) + ob;
	}
	return bucket_arr(env, h->buckets) + (hv & (((uint64_t)1 << h->blog2) - 1));
}

static zs_rec *idx_find(kv_env *env, const zs_meta *h, const void *m, size_t ml, kv_off *at)
{
	kv_off o = *bucket_of(env, h, zhash(h, m, ml));
	while (o) {
		zs_rec *r = P(env, o);
		if (r->len == ml && (ml == 0 || memcmp(rec_mem(r), m, ml) == 0)) {
			if (at)
				*at = o;
			return r;
		}
		o = r->next;
	}
	return NULL;
}

static void idx_link(kv_env *env, zs_meta *h, kv_off o)
{
	zs_rec *r = P(env, o);
	kv_off *b = bucket_of(env, h, zhash(h, rec_mem(r), r->len));
	r->next = *b;
	*b = o;
}

static void idx_unlink(kv_env *env, zs_meta *h, kv_off o)
{
	zs_rec *r = P(env, o);
	kv_off *p = bucket_of(env, h, zhash(h, rec_mem(r), r->len));
	while (*p != o)
		p = &((zs_rec *)P(env, *p))->next;
	*p = r->next;
}

static void rehash_step(zc *c, uint32_t steps)
{
	zs_meta *h = c->m;
	kv_env *env = c->env;
	if (!h->obuckets)
		return;
	uint64_t on = (uint64_t)1 << h->oblog2;
	kv_off *ob = bucket_arr(env, h->obuckets), *nb = bucket_arr(env, h->buckets);
	uint64_t nmask = ((uint64_t)1 << h->blog2) - 1;
	while (steps-- && h->rehash < on) {
		uint32_t j = h->rehash;
		kv_off o = ob[j];
		nb[j] = 0;
		nb[j + on] = 0;
		while (o) {
			zs_rec *r = P(env, o);
			kv_off next = r->next;
			kv_off *d = nb + (zhash(h, rec_mem(r), r->len) & nmask);
			r->next = *d;
			*d = o;
			o = next;
		}
		h->rehash++;
	}
	if (h->rehash == on) {
		zfree_plain(c, h->obuckets, on * sizeof(kv_off));
		h->obuckets = 0;
		h->oblog2 = 0;
		h->rehash = 0;
	}
}

static kv_off buckets_new(zc *c, uint32_t lg, bool zero)
{
	size_t sz = ((size_t)1 << lg) * sizeof(kv_off);
	kv_off o = zalloc_plain(c, sz);
	if (o && zero)
		memset(P(c->env, o), 0, sz);
	return o;
}

/* After a count change: start doubling, or rebuild smaller. */
static void idx_resize(zc *c)
{
	zs_meta *h = c->m;
	uint64_t card = c->h->card;
	if (h->obuckets)
		return;
	uint64_t nb = (uint64_t)1 << h->blog2;
	if (card > nb && h->blog2 < 31) {
		/* new buckets j and j + old are written when old bucket j moves */
		kv_off o = buckets_new(c, h->blog2 + 1, false);
		if (!o)
			return; /* chains grow longer: still correct */
		h->obuckets = h->buckets;
		h->oblog2 = h->blog2;
		h->buckets = o;
		h->blog2++;
		h->rehash = 0;
		return;
	}
	if (card <= ZS_SHRINK_AT && h->blog2 > ZS_MIN_BUCKETS_LOG2 && nb > 4 * card) {
		uint32_t lg = ZS_MIN_BUCKETS_LOG2;
		while (((uint64_t)1 << lg) < card)
			lg++;
		kv_off o = buckets_new(c, lg, true);
		if (!o)
			return;
		kv_off old = h->buckets;
		h->buckets = o;
		h->blog2 = lg;
		zs_view v;
		zs_view_of(c->h, &v);
		zs_iter it;
		for (zs_iter_seek(&it, c->env, &v, 0); it.rank < v.count; zs_iter_next(&it)) {
			const zs_leaf *l = P(c->env, it.node[it.depth - 1]);
			idx_link(c->env, h, l->elem[it.idx[it.depth - 1]]);
		}
		zfree_plain(c, old, nb * sizeof(kv_off));
	}
}

/* ------------------------------------------------------------ the blob */
static const char *blob_entries(const zs_blob *b)
{
	return (const char *)(b + 1);
}

static void blob_entry(const char *p, zs_elem *e)
{
	memcpy(&e->score, p, 8);
	e->len = (uint8_t)p[8];
	e->member = p + 9;
}

/* Find member in the blob: its entry and rank, or NULL. */
static const char *blob_find(const zs_blob *b, const void *m, size_t ml, uint64_t *rank)
{
	const char *p = blob_entries(b);
	for (uint32_t i = 0; i < b->n; i++) {
		zs_elem e;
		blob_entry(p, &e);
		if (e.len == ml && (ml == 0 || memcmp(e.member, m, ml) == 0)) {
			if (rank)
				*rank = i;
			return p;
		}
		p += BLOB_ENTRY(e.len);
	}
	return NULL;
}

/* Replace the blob by one without `drop` (NULL: none) and with (s, m) added
 * (m NULL: none).  The old blob is released. */
static int blob_rewrite(zc *c, const char *drop, double s, const void *m, size_t ml)
{
	kv_chdr *h = c->h;
	zs_blob *b = P(c->env, h->body);
	uint32_t dl = 0;
	if (s == 0)
		s = 0.0; /* a listpack keeps -0 as the integer 0, so Redis answers "0" for it */
	if (drop)
		dl = BLOB_ENTRY((uint8_t)drop[8]);
	uint32_t used = b->used - dl + (m ? BLOB_ENTRY(ml) : 0);
	kv_off no = zalloc(c, sizeof(zs_blob) + used);
	if (!no)
		return KV_ENOMEM;
	zs_blob *nb = P(c->env, no);
	nb->n = b->n - (drop ? 1 : 0) + (m ? 1 : 0);
	nb->used = used;
	nb->pad = 0;
	const char *p = blob_entries(b), *end = p + b->used;
	char *q = (char *)blob_entries(nb);
	bool placed = m == NULL;
	while (p < end) {
		zs_elem e;
		blob_entry(p, &e);
		uint32_t el = BLOB_ENTRY(e.len);
		if (!placed && zs_cmp(s, m, ml, e.score, e.member, e.len) < 0) {
			memcpy(q, &s, 8);
			q[8] = (char)ml;
			if (ml)
				memcpy(q + 9, m, ml);
			q += BLOB_ENTRY(ml);
			placed = true;
		}
		if (p != drop) {
			memcpy(q, p, el);
			q += el;
		}
		p += el;
	}
	if (!placed) {
		memcpy(q, &s, 8);
		q[8] = (char)ml;
		if (ml)
			memcpy(q + 9, m, ml);
	}
	zrelease(c, h->body, sizeof(zs_blob) + b->used);
	h->body = no;
	return KV_OK;
}

/* -------------------------------------------------------------- lifecycle */
static int tree_init(zc *c)
{
	kv_chdr *h = c->h;
	kv_off mo = zalloc_plain(c, sizeof(zs_meta));
	if (!mo)
		return KV_ENOMEM;
	zs_meta *m = P(c->env, mo);
	memset(m, 0, sizeof *m);
	m->seed = kv_coll_random();
	c->m = m;
	m->buckets = buckets_new(c, ZS_MIN_BUCKETS_LOG2, true);
	kv_off root = m->buckets ? zalloc(c, ZS_NODE) : 0;
	if (!root) {
		if (m->buckets)
			zfree_plain(c, m->buckets, ((size_t)1 << ZS_MIN_BUCKETS_LOG2) * sizeof(kv_off));
		zfree_plain(c, mo, sizeof(zs_meta));
		c->m = NULL;
		return KV_ENOMEM;
	}
	m->blog2 = ZS_MIN_BUCKETS_LOG2;
	zs_leaf *l = P(c->env, root);
	l->hd.n = 0;
	l->hd.leaf = 1;
	l->hd.pad = 0;
	h->enc = KV_ENC_SKIPLIST;
	h->body = root;
	h->aux[0] = 1;
	h->aux[1] = mo;
	return KV_OK;
}

static int blob_init(zc *c)
{
	kv_off b = zalloc(c, sizeof(zs_blob));
	if (!b)
		return KV_ENOMEM;
	zs_blob *bl = P(c->env, b);
	bl->n = bl->used = bl->pad = 0;
	c->h->enc = KV_ENC_LISTPACK;
	c->h->body = b;
	c->h->aux[0] = c->h->aux[1] = 0;
	return KV_OK;
}

int zs_init(kv_env *env, kv_chdr *h, size_t hint, size_t maxlen)
{
	zc c = {env, h, NULL};
	h->aux[0] = h->aux[1] = h->aux[2] = 0; /* the core seeds aux[0] for dicts */
	if (hint <= ZS_COMPACT_MAX_ENTRIES && maxlen <= ZS_COMPACT_MAX_VALUE)
		return blob_init(&c);
	return tree_init(&c);
}

/* Free the tree below root (post-order with an explicit stack), records too. */
static void tree_free(kv_env *env, kv_off root, uint32_t height)
{
	kv_off stack[ZS_MAXH];
	uint32_t idx[ZS_MAXH];
	int d = 0;
	stack[0] = root;
	idx[0] = 0;
	while (d >= 0) {
		uint32_t ht = height - (uint32_t)d;
		if (ht == 1) {
			zs_leaf *l = P(env, stack[d]);
			for (uint32_t i = 0; i < l->hd.n; i++)
				kv_free(env, l->elem[i], REC_SIZE(((zs_rec *)P(env, l->elem[i]))->len));
			kv_free(env, stack[d], ZS_NODE);
			d--;
			continue;
		}
		zs_inner *in = P(env, stack[d]);
		if (idx[d] < in->hd.n) {
			stack[d + 1] = in->child[idx[d]++];
			idx[d + 1] = 0;
			d++;
		} else {
			kv_free(env, stack[d], ZS_NODE);
			d--;
		}
	}
}

void zs_free(kv_env *env, const kv_chdr *h)
{
	if (!h->body)
		return;
	if (h->enc == KV_ENC_LISTPACK) {
		zs_blob *b = P(env, h->body);
		kv_free(env, h->body, sizeof(zs_blob) + b->used);
		return;
	}
	zs_meta *m = zs_meta_of(env, h);
	tree_free(env, h->body, zs_height(h));
	kv_free(env, m->buckets, ((size_t)1 << m->blog2) * sizeof(kv_off));
	if (m->obuckets)
		kv_free(env, m->obuckets, ((size_t)1 << m->oblog2) * sizeof(kv_off));
	while (m->spare) {
		kv_off o = m->spare;
		m->spare = spare_link(env, o);
		kv_free(env, o, ZS_NODE);
	}
	kv_free(env, (kv_off)h->aux[1], sizeof(zs_meta));
}

const char *zs_encoding(const kv_chdr *h)
{
	return h->enc == KV_ENC_SKIPLIST ? "skiplist" : "listpack";
}

/* ------------------------------------------------------------------ views */
void zs_view_of(const kv_chdr *h, zs_view *v)
{
	v->enc = h->enc;
	v->height = zs_height(h);
	v->root = h->body;
	v->count = h->body ? h->card : 0;
}

/* ----------------------------------------------------------- iteration */
static void iter_leaf_elem(const zs_iter *it, zs_elem *e)
{
	const zs_leaf *l = P(it->env, it->node[it->depth - 1]);
	uint32_t i = it->idx[it->depth - 1];
	const zs_rec *r = P(it->env, l->elem[i]);
	e->score = l->score[i];
	e->member = rec_mem(r);
	e->len = r->len;
}

void zs_iter_seek(zs_iter *it, kv_env *env, const zs_view *v, uint64_t rank)
{
	it->env = env;
	it->v = v;
	it->rank = rank;
	it->depth = 0;
	it->p = NULL;
	if (rank >= v->count)
		return;
	if (v->enc == KV_ENC_LISTPACK) {
		const zs_blob *b = P(env, v->root);
		const char *p = blob_entries(b);
		for (uint64_t i = 0; i < rank; i++)
			p += BLOB_ENTRY((uint8_t)p[8]);
		it->p = p;
		return;
	}
	kv_off o = v->root;
	uint64_t r = rank;
	for (uint32_t ht = v->height; ht > 1; ht--) {
		const zs_inner *in = P(env, o);
		uint32_t i = 0;
		while (r >= in->cnt[i]) {
			r -= in->cnt[i];
			i++;
		}
		it->node[it->depth] = o;
		it->idx[it->depth++] = i;
		o = in->child[i];
	}
	it->node[it->depth] = o;
	it->idx[it->depth++] = (uint32_t)r;
}

bool zs_iter_get(const zs_iter *it, zs_elem *e)
{
	if (it->rank >= it->v->count)
		return false;
	if (it->v->enc == KV_ENC_LISTPACK)
		blob_entry(it->p, e);
	else
		iter_leaf_elem(it, e);
	return true;
}

void zs_iter_next(zs_iter *it)
{
	it->rank++;
	if (it->rank >= it->v->count)
		return;
	if (it->v->enc == KV_ENC_LISTPACK) {
		it->p += BLOB_ENTRY((uint8_t)it->p[8]);
		return;
	}
	int d = it->depth - 1;
	if (++it->idx[d] < node_n(P(it->env, it->node[d])))
		return;
	while (d > 0) { /* climb to the first ancestor with a next child */
		d--;
		if (++it->idx[d] < node_n(P(it->env, it->node[d])))
			break;
	}
	for (; d < it->depth - 1; d++) { /* and down its leftmost path */
		const zs_inner *in = P(it->env, it->node[d]);
		it->node[d + 1] = in->child[it->idx[d]];
		it->idx[d + 1] = 0;
	}
}

void zs_iter_prev(zs_iter *it)
{
	if (it->rank == 0 || it->rank > it->v->count) {
		it->rank = UINT64_MAX;
		return;
	}
	if (it->rank == it->v->count || it->v->enc == KV_ENC_LISTPACK) {
		zs_iter_seek(it, it->env, it->v, it->rank - 1);
		return;
	}
	it->rank--;
	int d = it->depth - 1;
	if (it->idx[d] > 0) {
		it->idx[d]--;
		return;
	}
	while (d > 0) {
		d--;
		if (it->idx[d] > 0) {
			it->idx[d]--;
			break;
		}
	}
	for (; d < it->depth - 1; d++) { /* down the rightmost path */
		const zs_inner *in = P(it->env, it->node[d]);
		kv_off ch = in->child[it->idx[d]];
		it->node[d + 1] = ch;
		it->idx[d + 1] = node_n(P(it->env, ch)) - 1;
	}
}

void zs_at(kv_env *env, const zs_view *v, uint64_t r, zs_elem *e)
{
	zs_iter it;
	zs_iter_seek(&it, env, v, r);
	zs_iter_get(&it, e);
}

/* ------------------------------------------------------------ bounds */
enum { PB_SLT, PB_SLE, PB_LLT, PB_LLE };
typedef struct zpred {
	int         kind;
	double      s;
	const char *m;
	size_t      ml;
	int         inf; /* lex: -1 never before, +1 always */
} zpred;

static bool before(kv_env *env, const zpred *p, double s, const char *m, size_t ml)
{
	(void)env;
	switch (p->kind) {
	case PB_SLT: return s < p->s;
	case PB_SLE: return s <= p->s;
	default:
		if (p->inf)
			return p->inf > 0;
		int c = mcmp(m, ml, p->m, p->ml);
		return p->kind == PB_LLT ? c < 0 : c <= 0;
	}
}

static bool before_key(kv_env *env, const zpred *p, double s, kv_off e)
{
	if (p->kind == PB_SLT || p->kind == PB_SLE || p->inf)
		return before(env, p, s, NULL, 0);
	const zs_rec *r = P(env, e);
	return before(env, p, s, rec_mem(r), r->len);
}

/* How many elements come before the bound (p is monotone over the order). */
static uint64_t count_before(kv_env *env, const zs_view *v, const zpred *p)
{
	if (v->count == 0)
		return 0;
	if (v->enc == KV_ENC_LISTPACK) {
		zs_iter it;
		zs_elem e;
		for (zs_iter_seek(&it, env, v, 0); zs_iter_get(&it, &e); zs_iter_next(&it))
			if (!before(env, p, e.score, e.member, e.len))
				break;
		return it.rank;
	}
	uint64_t acc = 0;
	kv_off o = v->root;
	for (uint32_t ht = v->height; ht > 1; ht--) {
		const zs_inner *in = P(env, o);
		uint32_t lo = 0, hi = in->hd.n; /* first child whose minimum is not before */
		while (lo < hi) {
			uint32_t mid = (lo + hi) / 2;
			if (before_key(env, p, in->score[mid], in->elem[mid]))
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo == 0)
			return acc;
		for (uint32_t i = 0; i + 1 < lo; i++)
			acc += in->cnt[i];
		o = in->child[lo - 1];
	}
	const zs_leaf *l = P(env, o);
	uint32_t lo = 0, hi = l->hd.n;
	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		if (before_key(env, p, l->score[mid], l->elem[mid]))
			lo = mid + 1;
		else
			hi = mid;
	}
	return acc + lo;
}

int zs_resolve(kv_env *env, const zs_view *v, const kv_zrange_spec *s, bool use_limit,
               uint64_t *first, uint64_t *n)
{
	int64_t len = (int64_t)v->count;
	*first = 0;
	*n = 0;
	if (s->by == KV_ZBY_RANK) {
		if (use_limit && (s->offset != 0 || s->count >= 0))
			return KV_EINVAL;
		int64_t a = s->start, b = s->stop;
		if (a < 0)
			a += len;
		if (b < 0)
			b += len;
		if (a < 0)
			a = 0;
		if (a > b || a >= len)
			return KV_OK;
		if (b >= len)
			b = len - 1;
		*first = (uint64_t)(s->rev ? len - 1 - b : a);
		*n = (uint64_t)(b - a + 1);
		return KV_OK;
	}
	zpred lo, hi;
	if (s->by == KV_ZBY_SCORE) {
		lo = (zpred){s->min_excl ? PB_SLE : PB_SLT, s->min, NULL, 0, 0};
		hi = (zpred){s->max_excl ? PB_SLT : PB_SLE, s->max, NULL, 0, 0};
	} else if (s->by == KV_ZBY_LEX) {
		lo = (zpred){s->min_excl ? PB_LLE : PB_LLT, 0, s->lmin.data, s->lmin.len, s->lmin_inf};
		hi = (zpred){s->max_excl ? PB_LLT : PB_LLE, 0, s->lmax.data, s->lmax.len, s->lmax_inf};
	} else {
		return KV_EINVAL;
	}
	uint64_t a = count_before(env, v, &lo), b = count_before(env, v, &hi);
	if (b <= a)
		return KV_OK;
	uint64_t cnt = b - a;
	if (use_limit) {
		if (s->offset < 0 || (uint64_t)s->offset >= cnt)
			return KV_OK;
		cnt -= (uint64_t)s->offset;
		if (!s->rev)
			a += (uint64_t)s->offset;
		if (s->count >= 0 && (uint64_t)s->count < cnt) {
			if (s->rev)
				a += cnt - (uint64_t)s->count;
			cnt = (uint64_t)s->count;
		}
	}
	*first = a;
	*n = cnt;
	return KV_OK;
}

/* ------------------------------------------------------------- point reads */
int zs_score(kv_env *env, const kv_chdr *h, const void *m, size_t mlen, double *score)
{
	if (h->enc == KV_ENC_LISTPACK) {
		const char *p = blob_find(P(env, h->body), m, mlen, NULL);
		if (!p)
			return KV_NOTFOUND;
		memcpy(score, p, 8);
		return KV_OK;
	}
	zs_rec *r = idx_find(env, zs_meta_of(env, h), m, mlen, NULL);
	if (!r)
		return KV_NOTFOUND;
	*score = r->score;
	return KV_OK;
}

int zs_rank(kv_env *env, const kv_chdr *h, const void *m, size_t mlen, uint64_t *rank,
            double *score)
{
	double s;
	if (h->enc == KV_ENC_LISTPACK) {
		const char *p = blob_find(P(env, h->body), m, mlen, rank);
		if (!p)
			return KV_NOTFOUND;
		memcpy(&s, p, 8);
	} else {
		zs_rec *r = idx_find(env, zs_meta_of(env, h), m, mlen, NULL);
		if (!r)
			return KV_NOTFOUND;
		s = r->score;
		uint64_t acc = 0;
		kv_off o = h->body;
		for (uint32_t ht = zs_height(h); ht > 1; ht--) {
			const zs_inner *in = P(env, o);
			uint32_t i = inner_child(env, in, s, m, mlen);
			for (uint32_t j = 0; j < i; j++)
				acc += in->cnt[j];
			o = in->child[i];
		}
		*rank = acc + leaf_lower(env, P(env, o), s, m, mlen);
	}
	if (score)
		*score = s;
	return KV_OK;
}

/* ---------------------------------------------------------------- writes */
static kv_off rec_new(zc *c, double s, const void *m, size_t ml)
{
	kv_off ro = zalloc(c, REC_SIZE(ml));
	if (!ro)
		return 0;
	zs_rec *r = P(c->env, ro);
	r->next = 0;
	r->score = s;
	r->len = (uint32_t)ml;
	if (ml)
		memcpy((char *)(r + 1), m, ml);
	return ro;
}

static void tree_put(zc *c, kv_off ro)
{
	zs_rec *r = P(c->env, ro);
	tree_insert(c, r->score, rec_mem(r), r->len, ro);
	idx_link(c->env, c->m, ro);
	c->h->card++;
}

/* The blob's elements into a new tree (at most 128: bounded).  On failure
 * the blob stays and everything built is freed. */
static int convert_to_tree(zc *c)
{
	kv_chdr *h = c->h;
	kv_off blob = h->body;
	uint64_t card = h->card, bytes0 = h->bytes;
	zs_blob *b = P(c->env, blob);
	if (tree_init(c) != KV_OK)
		goto fail;
	h->card = 0;
	const char *p = blob_entries(b);
	for (uint32_t i = 0; i < b->n; i++) {
		zs_elem e;
		blob_entry(p, &e);
		kv_off ro;
		if (zs_prepare(c) != KV_OK || !(ro = rec_new(c, e.score, e.member, e.len)))
			goto fail_tree;
		tree_put(c, ro);
		p += BLOB_ENTRY(e.len);
	}
	zrelease(c, blob, sizeof(zs_blob) + b->used);
	return KV_OK;
fail_tree:
	zs_free(c->env, h); /* all of it made by this write: no view shares it */
fail:
	h->bytes = bytes0;
	h->enc = KV_ENC_LISTPACK;
	h->body = blob;
	h->card = card;
	h->aux[0] = h->aux[1] = 0;
	c->m = NULL;
	return KV_ENOMEM;
}

/* Insert a member known to be absent. */
static int insert_new(zc *c, double s, const void *m, size_t ml)
{
	kv_chdr *h = c->h;
	if (h->enc == KV_ENC_LISTPACK &&
	    (h->card + 1 > ZS_COMPACT_MAX_ENTRIES || ml > ZS_COMPACT_MAX_VALUE)) {
		int rc = convert_to_tree(c);
		if (rc == KV_OK)
			rc = zs_prepare(c);
		if (rc != KV_OK)
			return rc;
	}
	if (h->enc == KV_ENC_LISTPACK) {
		int rc = blob_rewrite(c, NULL, s, m, ml);
		if (rc == KV_OK)
			h->card++;
		return rc;
	}
	kv_off ro = rec_new(c, s, m, ml);
	if (!ro)
		return KV_ENOMEM;
	tree_put(c, ro);
	idx_resize(c);
	return KV_OK;
}

int zs_add(kv_env *env, kv_chdr *h, double score, const void *m, size_t mlen, unsigned flags,
           int *out, double *newscore)
{
	zc c = zc_of(env, h);
	*out = 0;
	if (isnan(score))
		return KV_ENOTFLOAT;
	int rc = zs_prepare(&c);
	if (rc != KV_OK)
		return rc;
	double cur = 0;
	const char *bp = NULL;
	zs_rec *r = NULL;
	kv_off ro = 0;
	bool exists;
	if (h->enc == KV_ENC_LISTPACK) {
		bp = blob_find(P(env, h->body), m, mlen, NULL);
		exists = bp != NULL;
		if (exists)
			memcpy(&cur, bp, 8);
	} else {
		rehash_step(&c, ZS_REHASH_STEP);
		r = idx_find(env, c.m, m, mlen, &ro);
		exists = r != NULL;
		if (exists)
			cur = r->score;
	}
	if (!exists) {
		if (flags & KV_ZADD_XX) {
			*out = ZS_OUT_NOP;
			return KV_OK;
		}
		rc = insert_new(&c, score, m, mlen);
		if (rc != KV_OK)
			return rc;
		*out = ZS_OUT_ADDED;
		*newscore = score;
		return KV_OK;
	}
	if (flags & KV_ZADD_NX) {
		*out = ZS_OUT_NOP;
		return KV_OK;
	}
	if (flags & KV_ZADD_INCR) {
		score += cur;
		if (isnan(score))
			return KV_ENOTFLOAT;
	}
	if (((flags & KV_ZADD_LT) && score >= cur) || ((flags & KV_ZADD_GT) && score <= cur)) {
		*out = ZS_OUT_NOP;
		return KV_OK;
	}
	*newscore = score;
	if (score == cur) { /* -0.0 == 0.0: no change, as Redis */
		*newscore = cur;
		return KV_OK;
	}
	if (h->enc == KV_ENC_LISTPACK) {
		rc = blob_rewrite(&c, bp, score, m, mlen);
		if (rc != KV_OK)
			return rc;
	} else {
		tree_delete(&c, cur, m, mlen);
		r->score = score;
		tree_insert(&c, score, m, mlen, ro);
	}
	*out = ZS_OUT_UPDATED;
	return KV_OK;
}

int zs_insert(kv_env *env, kv_chdr *h, double score, const void *m, size_t mlen)
{
	if (isnan(score) || mlen > UINT32_MAX - REC_SIZE(0))
		return KV_ECORRUPT;
	zc c = zc_of(env, h);
	int rc = h->body ? KV_OK : zs_init(env, h, 0, mlen);
	if (rc != KV_OK)
		return rc;
	c = zc_of(env, h);
	double cur;
	if (zs_score(env, h, m, mlen, &cur) == KV_OK)
		return KV_ECORRUPT;
	if ((rc = zs_prepare(&c)) != KV_OK)
		return rc;
	if (h->enc == KV_ENC_SKIPLIST)
		rehash_step(&c, ZS_REHASH_STEP);
	return insert_new(&c, score, m, mlen);
}

/* Remove an element known to exist (tree: its record ro). */
static void remove_rec(zc *c, kv_off ro)
{
	zs_rec *r = P(c->env, ro);
	tree_delete(c, r->score, rec_mem(r), r->len);
	idx_unlink(c->env, c->m, ro);
	c->h->card--;
	zrelease(c, ro, REC_SIZE(r->len));
}

int zs_del(kv_env *env, kv_chdr *h, const void *m, size_t mlen, double *score)
{
	zc c = zc_of(env, h);
	int rc = zs_prepare(&c);
	if (rc != KV_OK)
		return rc;
	if (h->enc == KV_ENC_LISTPACK) {
		const char *p = blob_find(P(env, h->body), m, mlen, NULL);
		if (!p)
			return KV_NOTFOUND;
		if (score)
			memcpy(score, p, 8);
		rc = blob_rewrite(&c, p, 0, NULL, 0);
		if (rc == KV_OK)
			h->card--;
		return rc;
	}
	rehash_step(&c, ZS_REHASH_STEP);
	kv_off ro;
	zs_rec *r = idx_find(env, c.m, m, mlen, &ro);
	if (!r)
		return KV_NOTFOUND;
	if (score)
		*score = r->score;
	remove_rec(&c, ro);
	idx_resize(&c);
	return KV_OK;
}

int zs_del_ranks(kv_env *env, kv_chdr *h, uint64_t first, uint64_t n, int rev, kv_elems *out)
{
	zc c = zc_of(env, h);
	if (first >= h->card || n == 0)
		return KV_OK;
	if (n > h->card - first)
		n = h->card - first;
	zs_view v;
	zs_view_of(h, &v);
	if (out) { /* copy out first: a failure must change nothing */
		zs_iter it;
		zs_elem e;
		zs_iter_seek(&it, env, &v, rev ? first + n - 1 : first);
		for (uint64_t k = 0; k < n && zs_iter_get(&it, &e); k++) {
			if (kv_elems_push(env, out, e.member, e.len, e.score) != KV_OK)
				return KV_ENOMEM;
			if (rev)
				zs_iter_prev(&it);
			else
				zs_iter_next(&it);
		}
	}
	int rc = zs_prepare(&c);
	if (rc != KV_OK)
		return rc;
	if (h->enc == KV_ENC_LISTPACK) {
		zs_blob *b = P(env, h->body);
		const char *p = blob_entries(b), *end = p + b->used;
		const char *from = p;
		for (uint64_t i = 0; i < first; i++)
			from += BLOB_ENTRY((uint8_t)from[8]);
		const char *to = from;
		for (uint64_t i = 0; i < n; i++)
			to += BLOB_ENTRY((uint8_t)to[8]);
		uint32_t used = b->used - (uint32_t)(to - from);
		kv_off no = zalloc(&c, sizeof(zs_blob) + used);
		if (!no)
			return KV_ENOMEM;
		zs_blob *nb = P(env, no);
		nb->n = b->n - (uint32_t)n;
		nb->used = used;
		nb->pad = 0;
		char *q = (char *)blob_entries(nb);
		memcpy(q, p, (size_t)(from - p));
		memcpy(q + (from - p), to, (size_t)(end - to));
		zrelease(&c, h->body, sizeof(zs_blob) + b->used);
		h->body = no;
		h->card -= n;
		return KV_OK;
	}
	for (uint64_t k = 0; k < n; k++) {
		if ((rc = zs_prepare(&c)) != KV_OK)
			return rc;
		rehash_step(&c, 4);
		zs_view_of(h, &v);
		zs_iter it;
		zs_iter_seek(&it, env, &v, first);
		const zs_leaf *l = P(env, it.node[it.depth - 1]);
		remove_rec(&c, l->elem[it.idx[it.depth - 1]]);
	}
	idx_resize(&c);
	return KV_OK;
}

int zs_copy(kv_env *env, const kv_chdr *src, kv_chdr *dst)
{
	zs_view v;
	zs_iter it;
	zs_elem e;
	zs_view_of(src, &v);
	int rc = zs_init(env, dst, v.count, v.enc == KV_ENC_LISTPACK ? 0 : ZS_COMPACT_MAX_VALUE + 1);
	for (zs_iter_seek(&it, env, &v, 0); rc == KV_OK && zs_iter_get(&it, &e); zs_iter_next(&it))
		rc = zs_insert(env, dst, e.score, e.member, e.len);
	return rc;
}

/* ------------------------------------------------------------------ scan */
static uint64_t rev64(uint64_t v)
{
	v = ((v >> 1) & 0x5555555555555555ull) | ((v & 0x5555555555555555ull) << 1);
	v = ((v >> 2) & 0x3333333333333333ull) | ((v & 0x3333333333333333ull) << 2);
	v = ((v >> 4) & 0x0F0F0F0F0F0F0F0Full) | ((v & 0x0F0F0F0F0F0F0F0Full) << 4);
	return __builtin_bswap64(v);
}

static int scan_chain(kv_env *env, kv_off o, kv_cemit_fn fn, void *ctx, size_t *n)
{
	while (o) {
		const zs_rec *r = P(env, o);
		kv_celem el = {rec_mem(r), r->len, NULL, 0, r->score};
		int rc = fn(ctx, &el);
		if (rc)
			return rc;
		(*n)++;
		o = r->next;
	}
	return 0;
}

int zs_scan_index(kv_env *env, const kv_chdr *h, uint64_t *cursor, size_t count, kv_cemit_fn fn,
                  void *ctx)
{
	const zs_meta *m = zs_meta_of(env, h);
	uint64_t v = *cursor;
	size_t visits = count * 10, n = 0;
	int rc;
	/* the smaller table's mask drives the cursor; a moved old bucket j is new
	 * buckets j and j + old, exactly its expansions (Redis's dictScan) */
	uint64_t m0 = ((uint64_t)1 << (m->obuckets ? m->oblog2 : m->blog2)) - 1;
	do {
		uint64_t j = v & m0;
		kv_off *nb = bucket_arr(env, m->buckets);
		if (m->obuckets && j >= m->rehash) {
			rc = scan_chain(env, bucket_arr(env, m->obuckets)[j], fn, ctx, &n);
		} else {
			rc = scan_chain(env, nb[j], fn, ctx, &n);
			if (!rc && m->obuckets)
				rc = scan_chain(env, nb[j + m0 + 1], fn, ctx, &n);
		}
		if (rc)
			return rc;
		v |= ~m0;
		v = rev64(v);
		v++;
		v = rev64(v);
	} while (v && n < count && --visits);
	*cursor = v;
	return KV_OK;
}

int zs_scan_ranks(kv_env *env, const zs_view *v, uint64_t *cursor, size_t count, kv_cemit_fn fn,
                  void *ctx)
{
	zs_iter it;
	zs_elem e;
	uint64_t k = 0;
	for (zs_iter_seek(&it, env, v, *cursor); k < count && zs_iter_get(&it, &e); zs_iter_next(&it), k++) {
		kv_celem el = {e.member, e.len, NULL, 0, e.score};
		int rc = fn(ctx, &el);
		if (rc)
			return rc;
	}
	*cursor = it.rank >= v->count ? 0 : it.rank;
	return KV_OK;
}

/* ---------------------------------------------------------------- algebra */
typedef struct amap {
	uint32_t *slot; /* index + 1 into the element list, 0: empty */
	size_t    mask;
} amap;

static const char *el_mem(const kv_elems *e, size_t i)
{
	return e->bytes.data + e->v[i].off;
}

static int amap_init(kv_env *env, amap *a, size_t n)
{
	size_t cap = 16;
	while (cap < n * 2)
		cap *= 2;
	a->slot = kv_mem_realloc(env, NULL, cap * sizeof(uint32_t));
	if (!a->slot)
		return KV_ENOMEM;
	memset(a->slot, 0, cap * sizeof(uint32_t));
	a->mask = cap - 1;
	return KV_OK;
}

/* The slot for m in a (over list e): *found says whether it holds m. */
static uint32_t *amap_at(const amap *a, const kv_elems *e, const void *m, size_t ml, bool *found)
{
	size_t i = (size_t)kv_hash(m, ml) & a->mask;
	for (;;) {
		uint32_t s = a->slot[i];
		if (!s) {
			*found = false;
			return &a->slot[i];
		}
		if (e->v[s - 1].len == ml && (ml == 0 || memcmp(el_mem(e, s - 1), m, ml) == 0)) {
			*found = true;
			return &a->slot[i];
		}
		i = (i + 1) & a->mask;
	}
}

static int amap_index(kv_env *env, amap *a, const kv_elems *e)
{
	if (amap_init(env, a, e->n) != KV_OK)
		return KV_ENOMEM;
	for (size_t i = 0; i < e->n; i++) {
		bool f;
		uint32_t *s = amap_at(a, e, el_mem(e, i), e->v[i].len, &f);
		if (!f)
			*s = (uint32_t)i + 1;
	}
	return KV_OK;
}

/* Redis zeroes a NaN weighted score (0 * inf) for each UNION source and for
 * the first (smallest) INTER source only; the other INTER sources' products
 * go to aggregate() as they are (zunionInterDiffGenericCommand). */
static double weighted(double w, double s)
{
	double x = w * s;
	return isnan(x) ? 0 : x;
}

static void aggregate(double *t, double v, int agg)
{
	if (agg == KV_AGG_SUM) {
		*t += v;
		if (isnan(*t))
			*t = 0;
	} else if (agg == KV_AGG_MIN) {
		*t = v < *t ? v : *t;
	} else {
		*t = v > *t ? v : *t;
	}
}

static const kv_elems *sort_base;
static int cmp_elem(const void *a, const void *b)
{
	const kv_elem *x = &sort_base->v[*(const uint32_t *)a], *y = &sort_base->v[*(const uint32_t *)b];
	return zs_cmp(x->score, sort_base->bytes.data + x->off, x->len, y->score,
	              sort_base->bytes.data + y->off, y->len);
}

int zs_algebra(kv_env *env, int op, zs_src *src, size_t n, int agg, kv_elems *out)
{
	kv_elems acc = KV_ELEMS_INIT;
	amap am = {0}, *idx = NULL;
	uint32_t *order = NULL;
	int rc = KV_ENOMEM;
	out->n = 0;
	out->bytes.len = 0;
	if (n == 0)
		return KV_OK;
	if (op != KV_SETOP_DIFF) { /* smallest first, stable, as Redis orders them */
		for (size_t i = 1; i < n; i++)
			for (size_t j = i; j > 0 && src[j - 1].e->n > src[j].e->n; j--) {
				zs_src t = src[j];
				src[j] = src[j - 1];
				src[j - 1] = t;
			}
	}
	idx = kv_mem_realloc(env, NULL, n * sizeof(amap));
	if (!idx)
		goto done;
	memset(idx, 0, n * sizeof(amap));
	if (op == KV_SETOP_UNION) {
		size_t tot = 0;
		for (size_t i = 0; i < n; i++)
			tot += src[i].e->n;
		if (amap_init(env, &am, tot) != KV_OK)
			goto done;
		for (size_t i = 0; i < n; i++) {
			const kv_elems *e = src[i].e;
			for (size_t k = 0; k < e->n; k++) {
				double sc = weighted(src[i].weight, e->v[k].score);
				bool f;
				uint32_t *s = amap_at(&am, &acc, el_mem(e, k), e->v[k].len, &f);
				if (f) {
					aggregate(&acc.v[*s - 1].score, sc, agg);
					continue;
				}
				if (kv_elems_push(env, &acc, el_mem(e, k), e->v[k].len, sc) != KV_OK)
					goto done;
				*s = (uint32_t)acc.n;
			}
		}
	} else {
		for (size_t i = 1; i < n; i++)
			if (amap_index(env, &idx[i], src[i].e) != KV_OK)
				goto done;
		const kv_elems *e0 = src[0].e;
		bool any_empty = false;
		for (size_t i = 0; i < n; i++)
			any_empty |= src[i].e->n == 0;
		if (op == KV_SETOP_INTER && any_empty)
			e0 = NULL;
		for (size_t k = 0; e0 && k < e0->n; k++) {
			const char *m = el_mem(e0, k);
			size_t ml = e0->v[k].len;
			double sc = op == KV_SETOP_DIFF ? e0->v[k].score : weighted(src[0].weight, e0->v[k].score);
			bool keep = true;
			for (size_t i = 1; i < n && keep; i++) {
				bool f;
				uint32_t *s = amap_at(&idx[i], src[i].e, m, ml, &f);
				if (op == KV_SETOP_DIFF)
					keep = !f;
				else if (!f)
					keep = false;
				else /* a NaN product stays NaN: SUM zeroes it, MIN/MAX ignore it */
					aggregate(&sc, src[i].weight * src[i].e->v[*s - 1].score, agg);
			}
			if (keep && kv_elems_push(env, &acc, m, ml, sc) != KV_OK)
				goto done;
		}
	}
	order = kv_mem_realloc(env, NULL, (acc.n ? acc.n : 1) * sizeof(uint32_t));
	if (!order)
		goto done;
	for (size_t i = 0; i < acc.n; i++)
		order[i] = (uint32_t)i;
	sort_base = &acc;
	qsort(order, acc.n, sizeof(uint32_t), cmp_elem);
	for (size_t i = 0; i < acc.n; i++) {
		const kv_elem *x = &acc.v[order[i]];
		if (kv_elems_push(env, out, acc.bytes.data + x->off, x->len, x->score) != KV_OK)
			goto done;
	}
	rc = KV_OK;
done:
	for (size_t i = 0; idx && i < n; i++)
		if (idx[i].slot)
			kv_mem_realloc(env, idx[i].slot, 0);
	if (idx)
		kv_mem_realloc(env, idx, 0);
	if (am.slot)
		kv_mem_realloc(env, am.slot, 0);
	if (order)
		kv_mem_realloc(env, order, 0);
	if (acc.v)
		kv_mem_realloc(env, acc.v, 0);
	kv_buf_free(env, &acc.bytes);
	return rc;
}

/* ------------------------------------------------------------------ check */
static int check_node(kv_env *env, kv_off o, uint32_t ht, bool root, uint64_t *cnt,
                      uint64_t *nodes, bool *have_prev, double *ps, kv_off *pe)
{
	const zs_node *nd = P(env, o);
	(*nodes)++;
	if (nd->leaf != (ht == 1))
		return 10;
	if (ht == 1) {
		const zs_leaf *l = (const zs_leaf *)nd;
		if (l->hd.n > ZL || (!root && l->hd.n == 0))
			return 11;
		for (uint32_t i = 0; i < l->hd.n; i++) {
			const zs_rec *r = P(env, l->elem[i]);
			if (*have_prev && kcmp(env, *ps, rec_mem(P(env, *pe)), ((zs_rec *)P(env, *pe))->len,
			                       l->score[i], l->elem[i]) >= 0)
				return 12;
			(void)r;
			*have_prev = true;
			*ps = l->score[i];
			*pe = l->elem[i];
		}
		*cnt += l->hd.n;
		return 0;
	}
	const zs_inner *in = (const zs_inner *)nd;
	if (in->hd.n > ZI || in->hd.n < (root ? 2u : 1u))
		return 13;
	for (uint32_t i = 0; i < in->hd.n; i++) {
		uint64_t c = 0;
		double ms;
		kv_off me;
		node_min(env, in->child[i], ht - 1, &ms, &me);
		if (ms != in->score[i] || me != in->elem[i])
			return 14;
		int rc = check_node(env, in->child[i], ht - 1, false, &c, nodes, have_prev, ps, pe);
		if (rc)
			return rc;
		if (c != in->cnt[i])
			return 15;
		*cnt += c;
	}
	return 0;
}

int zs_check(kv_env *env, const kv_chdr *h)
{
	uint64_t bytes = kv_alloc_size(sizeof(kv_chdr));
	if (h->enc == KV_ENC_LISTPACK) {
		const zs_blob *b = P(env, h->body);
		if (b->n != h->card || h->card > ZS_COMPACT_MAX_ENTRIES)
			return 1;
		zs_view v;
		zs_iter it;
		zs_elem e, pe = {0, NULL, 0};
		zs_view_of(h, &v);
		uint32_t used = 0;
		for (zs_iter_seek(&it, env, &v, 0); zs_iter_get(&it, &e); zs_iter_next(&it)) {
			if (it.rank && zs_cmp(pe.score, pe.member, pe.len, e.score, e.member, e.len) >= 0)
				return 2;
			if (e.len > ZS_COMPACT_MAX_VALUE)
				return 3;
			used += BLOB_ENTRY(e.len);
			pe = e;
		}
		if (used != b->used)
			return 4;
		bytes += kv_alloc_size(sizeof(zs_blob) + b->used);
		return bytes == h->bytes ? 0 : 5;
	}
	uint64_t cnt = 0, nodes = 0;
	bool hp = false;
	double ps = 0;
	kv_off pe = 0;
	const zs_meta *m = zs_meta_of(env, h);
	int rc = check_node(env, h->body, zs_height(h), true, &cnt, &nodes, &hp, &ps, &pe);
	if (rc)
		return rc;
	if (cnt != h->card)
		return 20;
	/* every element is indexed under its member with the leaf's score */
	zs_view v;
	zs_iter it;
	zs_elem e;
	zs_view_of(h, &v);
	uint64_t recbytes = 0;
	for (zs_iter_seek(&it, env, &v, 0); zs_iter_get(&it, &e); zs_iter_next(&it)) {
		zs_rec *r = idx_find(env, m, e.member, e.len, NULL);
		if (!r || r->score != e.score || rec_mem(r) != e.member)
			return 21;
		recbytes += kv_alloc_size(REC_SIZE(e.len));
	}
	/* and the index holds nothing else */
	uint64_t chained = 0;
	uint64_t nb = (uint64_t)1 << m->blog2;
	for (uint64_t j = 0; j < nb; j++) {
		if (m->obuckets && (j & (((uint64_t)1 << m->oblog2) - 1)) >= m->rehash)
			continue;
		for (kv_off o = bucket_arr(env, m->buckets)[j]; o; o = ((zs_rec *)P(env, o))->next)
			chained++;
	}
	if (m->obuckets)
		for (uint64_t j = m->rehash; j < ((uint64_t)1 << m->oblog2); j++)
			for (kv_off o = bucket_arr(env, m->obuckets)[j]; o; o = ((zs_rec *)P(env, o))->next)
				chained++;
	if (chained != h->card)
		return 22;
	bytes += (nodes + m->nspare) * kv_alloc_size(ZS_NODE) + recbytes +
	         kv_alloc_size(nb * sizeof(kv_off)) + kv_alloc_size(sizeof(zs_meta));
	if (m->obuckets)
		bytes += kv_alloc_size(((size_t)1 << m->oblog2) * sizeof(kv_off));
	return bytes == h->bytes ? 0 : 23;
}

/* ------------------------------------------------------------- contract */
KV_API void kv_zrange_spec_init(kv_zrange_spec *s)
{
	memset(s, 0, sizeof *s);
	s->by = KV_ZBY_RANK;
	s->start = 0;
	s->stop = -1;
	s->offset = 0;
	s->count = -1;
}
