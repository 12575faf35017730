/*
 * zset.c -- sorted sets in the region: a compact blob for small ones, an
 * order-statistic B+tree plus a member index for large ones.
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
 *       an element costs its record (16 bytes + member, one allocation) plus
 *       12 bytes in a leaf and 4 in the index, against Redis's skiplist node,
 *       dict entry and sds;
 *     - everything is addressed by 32-bit kv_off and allocated with kv_alloc,
 *       so a zset works in shared memory mapped at any address.
 *   Small zsets (<= 128 elements of <= 64 bytes, Redis's listpack limits) are
 *   one immutable blob of (score, length, bytes) entries in order: every write
 *   builds a new blob (at most ~9 KB), which is also its copy-on-write.
 *
 * COPY-ON-WRITE FOR READERS WITHOUT THE LOCK (saves, big ranges)
 *   zs_pin takes a version in O(1) under the lock: it copies (root, height,
 *   count) into a view, counts a pin and advances the zset's gen.  Every node
 *   records the gen it was written in; while pins > 0 a writer that is about to
 *   change a node of an older gen copies it first (path copying: the root to
 *   leaf path a write walks, plus a sibling it merges with), and the old node
 *   goes to the zset's retired list instead of being freed.  A record removed
 *   while pinned is retired the same way (a score update keeps its record: the
 *   view reads scores from its own leaves).  So a save of a 1M-element zset
 *   that runs during writes costs each write at most its path (~5 nodes of
 *   512 bytes, once per pin: a node already copied in this gen is written in
 *   place), never a copy of the zset.  The member index is not versioned: only
 *   the live zset reads it.  The retired list is freed when the last pin goes
 *   (KNOWN LIMIT: readers that keep pins overlapping forever keep it growing;
 *   pins are taken only for work over KV_COLL_HOLD elements).
 *
 * BOUNDED WORK UNDER THE LOCK
 *   One element's write is O(log n) plus 64 buckets of incremental rehash
 *   (the index doubles by moving old buckets a few at a time, as Redis's dict
 *   does; new buckets are written as they are filled, so growing never zeroes
 *   a large array under the lock).  The index shrinks only when the zset falls
 *   to 1024 elements (a rebuild of at most that).  Nodes a write may need are
 *   kept topped up beforehand (spare list), so a full region fails a write
 *   before it changes anything.  zs_destroy is O(size) and runs after the lock.
 */
#include "zset.h"

#include <math.h>
#include <stdlib.h>

#define ZS_NODE 512u
#define ZL 42u /* leaf entries */
#define ZI 25u /* inner children */
#define ZL_MIN (ZL / 2)
#define ZI_MIN (ZI / 2)

/* Every object starts with the gen it was written in (the engine's
 * convention for copy-on-write: a uint32 stamp at offset 0). */
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

/* Allocations retired while pinned: freed when the last pin goes. */
#define ZR 127u
typedef struct zs_rchunk {
	kv_off   next;
	uint32_t n;
	struct {
		kv_off   off;
		uint32_t size;
	} it[ZR];
} zs_rchunk;

#define ZS_REHASH_STEP 64u
#define ZS_MIN_BUCKETS_LOG2 7u
#define ZS_SHRINK_AT 1024u

#define P(env, o) kv_ptr((env), (o))

static inline const char *rec_mem(const zs_rec *r)
{
	return (const char *)(r + 1);
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
	kv_env *env;
	zs_hdr *h;
} zc;

static kv_off zalloc(zc *c, size_t size)
{
	kv_off o = kv_alloc(c->env, size);
	if (o)
		c->h->bytes += kv_alloc_size(size);
	return o;
}
static void zfree(zc *c, kv_off o, size_t size)
{
	c->h->bytes -= kv_alloc_size(size);
	kv_free(c->env, o, size);
}

/* An allocation leaves the live zset: freed, or kept for the pinned views
 * (zs_prepare made room in the retired chunk). */
static void retire(zc *c, kv_off o, size_t size, bool shared)
{
	if (!shared) {
		zfree(c, o, size);
		return;
	}
	zs_rchunk *ch = P(c->env, c->h->retired);
	ch->it[ch->n].off = o;
	ch->it[ch->n].size = (uint32_t)size;
	ch->n++;
	c->h->bytes -= kv_alloc_size(size);
}

static bool node_shared(const zc *c, uint32_t gen)
{
	return c->h->pins > 0 && gen != c->h->gen;
}

static kv_off node_take(zc *c, int leaf)
{
	kv_off o = c->h->spare;
	zs_node *n = P(c->env, o);
	memcpy(&c->h->spare, n, sizeof(kv_off));
	c->h->nspare--;
	n->n = 0;
	n->leaf = (uint8_t)leaf;
	n->pad = 0;
	n->gen = c->h->gen;
	return o;
}

static uint32_t spare_want(const zs_hdr *h)
{
	uint32_t ht = h->height ? h->height : 1;
	return (h->pins ? 3 * ht : 0) + ht + 2;
}

static void node_release(zc *c, kv_off o)
{
	zs_node *n = P(c->env, o);
	if (node_shared(c, n->gen)) {
		retire(c, o, ZS_NODE, true);
		return;
	}
	if (c->h->nspare < spare_want(c->h)) {
		memcpy(n, &c->h->spare, sizeof(kv_off));
		c->h->spare = o;
		c->h->nspare++;
		return;
	}
	zfree(c, o, ZS_NODE);
}

/* The node at *slot made writable: copied first if a pinned view shares it. */
static void *node_w(zc *c, kv_off *slot)
{
	zs_node *n = P(c->env, *slot);
	if (!node_shared(c, n->gen))
		return n;
	kv_off o = node_take(c, n->leaf);
	zs_node *m = P(c->env, o);
	memcpy(m, n, ZS_NODE);
	m->gen = c->h->gen;
	retire(c, *slot, ZS_NODE, true);
	*slot = o;
	return m;
}

/* Room for one write: spare nodes, and retired-chunk slots while pinned. */
static int zs_prepare(zc *c)
{
	zs_hdr *h = c->h;
	if (h->pins) {
		zs_rchunk *ch = h->retired ? P(c->env, h->retired) : NULL;
		if (!ch || ch->n + 3 * ZS_MAXH + 2 > ZR) {
			kv_off o = kv_alloc(c->env, sizeof(zs_rchunk));
			if (!o)
				return KV_ENOMEM;
			zs_rchunk *nc = P(c->env, o);
			nc->next = h->retired;
			nc->n = 0;
			h->retired = o;
		}
	}
	if (h->enc != ZS_TREE)
		return KV_OK;
	uint32_t want = spare_want(h);
	while (h->nspare < want) {
		kv_off o = zalloc(c, ZS_NODE);
		if (!o)
			return KV_ENOMEM;
		memcpy(P(c->env, o), &h->spare, sizeof(kv_off));
		h->spare = o;
		h->nspare++;
	}
	while (h->nspare > want + 4) {
		kv_off o = h->spare;
		memcpy(&h->spare, P(c->env, o), sizeof(kv_off));
		h->nspare--;
		zfree(c, o, ZS_NODE);
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
	zs_hdr *h = c->h;
	kv_off r;
	if (t_ins(c, &h->root, h->height, s, m, ml, e, true, &r)) {
		kv_off no = node_take(c, 0);
		zs_inner *in = P(c->env, no);
		in->hd.n = 2;
		in->child[0] = h->root;
		in->child[1] = r;
		in->cnt[0] = (uint32_t)node_count(c->env, h->root, h->height);
		in->cnt[1] = (uint32_t)node_count(c->env, r, h->height);
		node_min(c->env, h->root, h->height, &in->score[0], &in->elem[0]);
		node_min(c->env, r, h->height, &in->score[1], &in->elem[1]);
		h->root = no;
		h->height++;
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
	zs_hdr *h = c->h;
	t_del(c, &h->root, h->height, s, m, ml);
	while (h->height > 1 && node_n(P(c->env, h->root)) == 1) {
		kv_off old = h->root;
		h->root = ((zs_inner *)P(c->env, old))->child[0];
		h->height--;
		node_release(c, old);
	}
}

/* ---------------------------------------------------------- member index */
static inline kv_off *bucket_arr(kv_env *env, kv_off a)
{
	return P(env, a);
}

static kv_off *bucket_of(kv_env *env, const zs_hdr *h, uint64_t hv)
{
	if (h->obuckets) {
		uint64_t ob = hv & (((uint64_t)1 << h->oblog2) - 1);
		if (ob >= h->rehash)
			return bucket_arr(env, h->obuckets) + ob;
	}
	return bucket_arr(env, h->buckets) + (hv & (((uint64_t)1 << h->blog2) - 1));
}

static zs_rec *idx_find(kv_env *env, const zs_hdr *h, const void *m, size_t ml, kv_off *at)
{
	kv_off o = *bucket_of(env, h, kv_hash(m, ml));
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

static void idx_link(kv_env *env, zs_hdr *h, kv_off o)
{
	zs_rec *r = P(env, o);
	kv_off *b = bucket_of(env, h, kv_hash(rec_mem(r), r->len));
	r->next = *b;
	*b = o;
}

static void idx_unlink(kv_env *env, zs_hdr *h, kv_off o)
{
	zs_rec *r = P(env, o);
	kv_off *p = bucket_of(env, h, kv_hash(rec_mem(r), r->len));
	while (*p != o)
		p = &((zs_rec *)P(env, *p))->next;
	*p = r->next;
}

static void rehash_step(zc *c, uint32_t steps)
{
	zs_hdr *h = c->h;
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
			kv_off *d = nb + (kv_hash(rec_mem(r), r->len) & nmask);
			r->next = *d;
			*d = o;
			o = next;
		}
		h->rehash++;
	}
	if (h->rehash == on) {
		zfree(c, h->obuckets, on * sizeof(kv_off));
		h->obuckets = 0;
		h->oblog2 = 0;
		h->rehash = 0;
	}
}

static kv_off buckets_new(zc *c, uint32_t lg, bool zero)
{
	size_t sz = ((size_t)1 << lg) * sizeof(kv_off);
	kv_off o = zalloc(c, sz);
	if (o && zero)
		memset(P(c->env, o), 0, sz);
	return o;
}

/* After a count change: start doubling, or rebuild smaller. */
static void idx_resize(zc *c)
{
	zs_hdr *h = c->h;
	if (h->obuckets)
		return;
	uint64_t nb = (uint64_t)1 << h->blog2;
	if (h->count > nb && h->blog2 < 31) {
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
	if (h->count <= ZS_SHRINK_AT && h->blog2 > ZS_MIN_BUCKETS_LOG2 &&
	    nb > 4 * (uint64_t)h->count) {
		uint32_t lg = ZS_MIN_BUCKETS_LOG2;
		while (((uint64_t)1 << lg) < h->count)
			lg++;
		kv_off o = buckets_new(c, lg, true);
		if (!o)
			return;
		kv_off old = h->buckets;
		h->buckets = o;
		h->blog2 = lg;
		zs_view v;
		zs_view_live(c->env, kv_offof(c->env, h), &v);
		zs_iter it;
		for (zs_iter_seek(&it, c->env, &v, 0); it.rank < v.count; zs_iter_next(&it)) {
			const zs_leaf *l = P(c->env, it.node[it.depth - 1]);
			idx_link(c->env, h, l->elem[it.idx[it.depth - 1]]);
		}
		zfree(c, old, nb * sizeof(kv_off));
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
 * (m NULL: none).  The old blob is freed or retired. */
static int blob_rewrite(zc *c, const char *drop, double s, const void *m, size_t ml)
{
	zs_hdr *h = c->h;
	zs_blob *b = P(c->env, h->root);
	uint32_t dl = 0;
	if (s == 0)
		s = 0.0; /* a listpack keeps -0 as the integer 0, so Redis answers "0" for it */
	if (drop)
		dl = BLOB_ENTRY((uint8_t)drop[8]);
	uint32_t used = b->used - dl + (m ? BLOB_ENTRY(ml) : 0);
	kv_off no = zalloc(c, sizeof(zs_blob) + used);
	if (!no)
		return KV_ENOMEM;
	b = P(c->env, h->root); /* zalloc does not move it; reload for clarity */
	zs_blob *nb = P(c->env, no);
	nb->n = b->n - (drop ? 1 : 0) + (m ? 1 : 0);
	nb->used = used;
	nb->gen = h->gen;
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
	retire(c, h->root, sizeof(zs_blob) + b->used, h->pins && b->gen != h->gen);
	h->root = no;
	return KV_OK;
}

/* -------------------------------------------------------------- lifecycle */
static int tree_init(zc *c)
{
	zs_hdr *h = c->h;
	kv_off b = buckets_new(c, ZS_MIN_BUCKETS_LOG2, true);
	if (!b)
		return KV_ENOMEM;
	kv_off root = zalloc(c, ZS_NODE);
	if (!root) {
		zfree(c, b, ((size_t)1 << ZS_MIN_BUCKETS_LOG2) * sizeof(kv_off));
		return KV_ENOMEM;
	}
	zs_leaf *l = P(c->env, root);
	l->hd.n = 0;
	l->hd.leaf = 1;
	l->hd.pad = 0;
	l->hd.gen = h->gen;
	h->enc = ZS_TREE;
	h->root = root;
	h->height = 1;
	h->buckets = b;
	h->blog2 = ZS_MIN_BUCKETS_LOG2;
	return KV_OK;
}

kv_off zs_new(kv_env *env, size_t hint, size_t maxlen)
{
	kv_off ho = kv_alloc(env, sizeof(zs_hdr));
	if (!ho)
		return 0;
	zs_hdr *h = P(env, ho);
	memset(h, 0, sizeof *h);
	h->bytes = kv_alloc_size(sizeof(zs_hdr));
	h->gen = 1;
	zc c = {env, h};
	if (hint <= ZS_COMPACT_MAX_ENTRIES && maxlen <= ZS_COMPACT_MAX_VALUE) {
		kv_off b = zalloc(&c, sizeof(zs_blob));
		if (!b) {
			kv_free(env, ho, sizeof(zs_hdr));
			return 0;
		}
		zs_blob *bl = P(env, b);
		memset(bl, 0, sizeof *bl);
		bl->gen = h->gen;
		h->enc = ZS_COMPACT;
		h->root = b;
	} else if (tree_init(&c) != KV_OK) {
		kv_free(env, ho, sizeof(zs_hdr));
		return 0;
	}
	return ho;
}

/* Free the tree below o (post-order with an explicit stack), records too. */
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

void zs_free_retired(kv_env *env, kv_off o)
{
	while (o) {
		zs_rchunk *ch = P(env, o);
		kv_off next = ch->next;
		for (uint32_t i = 0; i < ch->n; i++)
			kv_free(env, ch->it[i].off, ch->it[i].size);
		kv_free(env, o, sizeof(zs_rchunk));
		o = next;
	}
}

void zs_destroy(kv_env *env, kv_off ho)
{
	zs_hdr *h = P(env, ho);
	if (h->enc == ZS_COMPACT) {
		zs_blob *b = P(env, h->root);
		kv_free(env, h->root, sizeof(zs_blob) + b->used);
	} else {
		tree_free(env, h->root, h->height);
		kv_free(env, h->buckets, ((size_t)1 << h->blog2) * sizeof(kv_off));
		if (h->obuckets)
			kv_free(env, h->obuckets, ((size_t)1 << h->oblog2) * sizeof(kv_off));
		while (h->spare) {
			kv_off o = h->spare;
			memcpy(&h->spare, P(env, o), sizeof(kv_off));
			kv_free(env, o, ZS_NODE);
		}
	}
	zs_free_retired(env, h->retired);
	kv_free(env, ho, sizeof(zs_hdr));
}

bool zs_kill(kv_env *env, kv_off ho)
{
	zs_hdr *h = P(env, ho);
	if (h->pins == 0)
		return true;
	h->dead = 1;
	return false;
}

const char *zs_encoding(kv_env *env, kv_off ho)
{
	return ((zs_hdr *)P(env, ho))->enc == ZS_COMPACT ? "listpack" : "skiplist";
}

/* ------------------------------------------------------------------ views */
void zs_view_live(kv_env *env, kv_off ho, zs_view *v)
{
	zs_hdr *h = P(env, ho);
	v->hdr = ho;
	v->enc = h->enc;
	v->height = h->height;
	v->root = h->root;
	v->count = h->count;
}

void zs_pin(kv_env *env, kv_off ho, zs_view *v)
{
	zs_hdr *h = P(env, ho);
	zs_view_live(env, ho, v);
	h->pins++;
	h->gen++;
}

void zs_unpin(kv_env *env, kv_off ho, kv_off *retired, bool *destroy)
{
	zs_hdr *h = P(env, ho);
	*retired = 0;
	*destroy = false;
	if (--h->pins)
		return;
	*retired = h->retired;
	h->retired = 0;
	*destroy = h->dead != 0;
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
	if (v->enc == ZS_COMPACT) {
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
	if (it->v->enc == ZS_COMPACT)
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
	if (it->v->enc == ZS_COMPACT) {
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
	if (it->rank == it->v->count || it->v->enc == ZS_COMPACT) {
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
	if (v->enc == ZS_COMPACT) {
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
int zs_score(kv_env *env, kv_off ho, const void *m, size_t mlen, double *score)
{
	zs_hdr *h = P(env, ho);
	if (h->enc == ZS_COMPACT) {
		const char *p = blob_find(P(env, h->root), m, mlen, NULL);
		if (!p)
			return KV_NOTFOUND;
		memcpy(score, p, 8);
		return KV_OK;
	}
	zs_rec *r = idx_find(env, h, m, mlen, NULL);
	if (!r)
		return KV_NOTFOUND;
	*score = r->score;
	return KV_OK;
}

int zs_rank(kv_env *env, kv_off ho, const void *m, size_t mlen, uint64_t *rank, double *score)
{
	zs_hdr *h = P(env, ho);
	double s;
	if (h->enc == ZS_COMPACT) {
		const char *p = blob_find(P(env, h->root), m, mlen, rank);
		if (!p)
			return KV_NOTFOUND;
		memcpy(&s, p, 8);
	} else {
		zs_rec *r = idx_find(env, h, m, mlen, NULL);
		if (!r)
			return KV_NOTFOUND;
		s = r->score;
		uint64_t acc = 0;
		kv_off o = h->root;
		for (uint32_t ht = h->height; ht > 1; ht--) {
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
static int convert_to_tree(zc *c)
{
	zs_hdr *h = c->h;
	kv_off blob = h->root;
	zs_blob *b = P(c->env, blob);
	uint32_t bgen = b->gen, bused = b->used;
	h->enc = ZS_TREE; /* tree_init sets the rest; restored on failure */
	if (tree_init(c) != KV_OK) {
		h->enc = ZS_COMPACT;
		h->root = blob;
		return KV_ENOMEM;
	}
	if (zs_prepare(c) != KV_OK)
		goto fail;
	const char *p = blob_entries(b);
	for (uint32_t i = 0; i < b->n; i++) {
		zs_elem e;
		blob_entry(p, &e);
		kv_off ro = zalloc(c, REC_SIZE(e.len));
		if (!ro || zs_prepare(c) != KV_OK) {
			if (ro)
				zfree(c, ro, REC_SIZE(e.len));
			goto fail;
		}
		zs_rec *r = P(c->env, ro);
		r->gen = h->gen;
		r->score = e.score;
		r->len = e.len;
		memcpy((char *)(r + 1), e.member, e.len);
		tree_insert(c, e.score, e.member, e.len, ro);
		idx_link(c->env, h, ro);
		p += BLOB_ENTRY(e.len);
	}
	retire(c, blob, sizeof(zs_blob) + bused, h->pins && bgen != h->gen);
	return KV_OK;
fail: {
	/* free what was built (fresh nodes of this gen, never shared) */
	tree_free(c->env, h->root, h->height);
	kv_free(c->env, h->buckets, ((size_t)1 << h->blog2) * sizeof(kv_off));
	while (h->spare) {
		kv_off o = h->spare;
		memcpy(&h->spare, P(c->env, o), sizeof(kv_off));
		kv_free(c->env, o, ZS_NODE);
	}
	h->nspare = 0;
	h->enc = ZS_COMPACT;
	h->root = blob;
	h->height = 0;
	h->buckets = 0;
	h->blog2 = 0;
	/* recount: header + blob */
	h->bytes = kv_alloc_size(sizeof(zs_hdr)) + kv_alloc_size(sizeof(zs_blob) + bused);
	return KV_ENOMEM;
}
}

/* Insert a new member (the caller checked it is absent). */
static int insert_new(zc *c, double s, const void *m, size_t ml)
{
	zs_hdr *h = c->h;
	if (h->enc == ZS_COMPACT &&
	    (h->count + 1 > ZS_COMPACT_MAX_ENTRIES || ml > ZS_COMPACT_MAX_VALUE)) {
		int rc = convert_to_tree(c);
		if (rc == KV_OK)
			rc = zs_prepare(c);
		if (rc != KV_OK)
			return rc;
	}
	if (h->enc == ZS_COMPACT) {
		int rc = blob_rewrite(c, NULL, s, m, ml);
		if (rc == KV_OK)
			h->count++;
		return rc;
	}
	kv_off ro = zalloc(c, REC_SIZE(ml));
	if (!ro)
		return KV_ENOMEM;
	zs_rec *r = P(c->env, ro);
	r->gen = h->gen;
	r->score = s;
	r->len = (uint32_t)ml;
	r->next = 0;
	if (ml)
		memcpy((char *)(r + 1), m, ml);
	tree_insert(c, s, m, ml, ro);
	idx_link(c->env, h, ro);
	h->count++;
	idx_resize(c);
	return KV_OK;
}

int zs_add(kv_env *env, kv_off ho, double score, const void *m, size_t mlen, unsigned flags,
           int *out, double *newscore)
{
	zc c = {env, P(env, ho)};
	zs_hdr *h = c.h;
	*out = 0;
	if (isnan(score))
		return KV_ENOTFLOAT;
	int rc = zs_prepare(&c);
	if (rc != KV_OK)
		return rc;
	rehash_step(&c, ZS_REHASH_STEP);
	double cur;
	const char *bp = NULL;
	zs_rec *r = NULL;
	kv_off ro = 0;
	bool exists;
	if (h->enc == ZS_COMPACT) {
		bp = blob_find(P(env, h->root), m, mlen, NULL);
		exists = bp != NULL;
		if (exists)
			memcpy(&cur, bp, 8);
	} else {
		r = idx_find(env, h, m, mlen, &ro);
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
	if (h->enc == ZS_COMPACT) {
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

/* Remove an element known to exist (tree: its record ro). */
static void remove_rec(zc *c, kv_off ro)
{
	zs_rec *r = P(c->env, ro);
	tree_delete(c, r->score, rec_mem(r), r->len);
	idx_unlink(c->env, c->h, ro);
	c->h->count--;
	retire(c, ro, REC_SIZE(r->len), node_shared(c, r->gen));
}

int zs_del(kv_env *env, kv_off ho, const void *m, size_t mlen, double *score)
{
	zc c = {env, P(env, ho)};
	zs_hdr *h = c.h;
	int rc = zs_prepare(&c);
	if (rc != KV_OK)
		return rc;
	if (h->enc == ZS_COMPACT) {
		const char *p = blob_find(P(env, h->root), m, mlen, NULL);
		if (!p)
			return KV_NOTFOUND;
		if (score)
			memcpy(score, p, 8);
		rc = blob_rewrite(&c, p, 0, NULL, 0);
		if (rc == KV_OK)
			h->count--;
		return rc;
	}
	rehash_step(&c, ZS_REHASH_STEP);
	kv_off ro;
	zs_rec *r = idx_find(env, h, m, mlen, &ro);
	if (!r)
		return KV_NOTFOUND;
	if (score)
		*score = r->score;
	remove_rec(&c, ro);
	idx_resize(&c);
	return KV_OK;
}

int zs_elems_push(kv_env *env, kv_elems *out, const void *m, size_t mlen, double score)
{
	if (out->n == out->cap) {
		size_t cap = out->cap ? out->cap * 2 : 16;
		kv_elem *v = kv_mem_realloc(env, out->v, cap * sizeof(kv_elem));
		if (!v)
			return KV_ENOMEM;
		out->v = v;
		out->cap = cap;
	}
	if (kv_buf_reserve(env, &out->bytes, out->bytes.len + mlen) != KV_OK)
		return KV_ENOMEM;
	if (mlen)
		memcpy(out->bytes.data + out->bytes.len, m, mlen);
	out->v[out->n].off = out->bytes.len;
	out->v[out->n].len = mlen;
	out->v[out->n].score = score;
	out->n++;
	out->bytes.len += mlen;
	return KV_OK;
}

int zs_del_ranks(kv_env *env, kv_off ho, uint64_t first, uint64_t n, int rev, kv_elems *out)
{
	zc c = {env, P(env, ho)};
	zs_hdr *h = c.h;
	if (first >= h->count || n == 0)
		return KV_OK;
	if (n > h->count - first)
		n = h->count - first;
	zs_view v;
	zs_view_live(env, ho, &v);
	if (out) { /* copy out first: a failure must change nothing */
		zs_iter it;
		zs_elem e;
		if (rev) {
			zs_iter_seek(&it, env, &v, first + n - 1);
			for (uint64_t k = 0; k < n && zs_iter_get(&it, &e); k++, zs_iter_prev(&it))
				if (zs_elems_push(env, out, e.member, e.len, e.score) != KV_OK)
					return KV_ENOMEM;
		} else {
			zs_iter_seek(&it, env, &v, first);
			for (uint64_t k = 0; k < n && zs_iter_get(&it, &e); k++, zs_iter_next(&it))
				if (zs_elems_push(env, out, e.member, e.len, e.score) != KV_OK)
					return KV_ENOMEM;
		}
	}
	int rc = zs_prepare(&c);
	if (rc != KV_OK)
		return rc;
	if (h->enc == ZS_COMPACT) {
		zs_blob *b = P(env, h->root);
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
		nb->gen = h->gen;
		nb->pad = 0;
		char *q = (char *)blob_entries(nb);
		memcpy(q, p, (size_t)(from - p));
		memcpy(q + (from - p), to, (size_t)(end - to));
		retire(&c, h->root, sizeof(zs_blob) + b->used, h->pins && b->gen != h->gen);
		h->root = no;
		h->count -= (uint32_t)n;
		return KV_OK;
	}
	for (uint64_t k = 0; k < n; k++) {
		if ((rc = zs_prepare(&c)) != KV_OK)
			return rc; /* only after the first hundred-odd removals of a pinned zset */
		rehash_step(&c, 4);
		zs_view_live(env, ho, &v);
		zs_iter it;
		zs_iter_seek(&it, env, &v, first);
		const zs_leaf *l = P(env, it.node[it.depth - 1]);
		remove_rec(&c, l->elem[it.idx[it.depth - 1]]);
	}
	idx_resize(&c);
	return KV_OK;
}

/* ------------------------------------------------------------- building */
int zs_build_begin(zs_build *b, kv_env *env, size_t n, size_t maxlen)
{
	memset(b, 0, sizeof *b);
	b->env = env;
	b->h = zs_new(env, n, maxlen);
	b->rc = b->h ? KV_OK : KV_ENOMEM;
	return b->rc;
}

int zs_build_add(zs_build *b, double score, const void *m, size_t mlen)
{
	if (b->rc != KV_OK)
		return b->rc;
	if (isnan(score) || mlen > UINT32_MAX - sizeof(zs_rec) - 8 ||
	    (b->any && zs_cmp(b->last, b->lastm.data, b->lastm.len, score, m, mlen) >= 0))
		return b->rc = KV_ECORRUPT;
	zc c = {b->env, P(b->env, b->h)};
	int rc = zs_prepare(&c);
	if (rc == KV_OK)
		rc = insert_new(&c, score, m, mlen);
	if (rc == KV_OK && kv_buf_reserve(b->env, &b->lastm, mlen) != KV_OK)
		rc = KV_ENOMEM;
	if (rc != KV_OK)
		return b->rc = rc;
	if (mlen)
		memcpy(b->lastm.data, m, mlen);
	b->lastm.len = mlen;
	b->last = score;
	b->any = true;
	return KV_OK;
}

void zs_build_abort(zs_build *b)
{
	if (b->h)
		zs_destroy(b->env, b->h);
	b->h = 0;
	kv_buf_free(b->env, &b->lastm);
}

kv_off zs_build_end(zs_build *b)
{
	kv_off h = b->h;
	if (b->rc != KV_OK) {
		zs_build_abort(b);
		return 0;
	}
	kv_buf_free(b->env, &b->lastm);
	b->h = 0;
	return h;
}

/* ------------------------------------------------------------------ scan */
static uint64_t rev64(uint64_t v)
{
	v = ((v >> 1) & 0x5555555555555555ull) | ((v & 0x5555555555555555ull) << 1);
	v = ((v >> 2) & 0x3333333333333333ull) | ((v & 0x3333333333333333ull) << 2);
	v = ((v >> 4) & 0x0F0F0F0F0F0F0F0Full) | ((v & 0x0F0F0F0F0F0F0F0Full) << 4);
	return __builtin_bswap64(v);
}

static int scan_chain(kv_env *env, kv_off o, kv_elems *out)
{
	while (o) {
		const zs_rec *r = P(env, o);
		if (zs_elems_push(env, out, rec_mem(r), r->len, r->score) != KV_OK)
			return KV_ENOMEM;
		o = r->next;
	}
	return KV_OK;
}

int zs_scan(kv_env *env, kv_off ho, uint64_t *cursor, size_t count, kv_elems *out)
{
	zs_hdr *h = P(env, ho);
	if (h->enc == ZS_COMPACT) {
		zs_view v;
		zs_iter it;
		zs_elem e;
		zs_view_live(env, ho, &v);
		for (zs_iter_seek(&it, env, &v, 0); zs_iter_get(&it, &e); zs_iter_next(&it))
			if (zs_elems_push(env, out, e.member, e.len, e.score) != KV_OK)
				return KV_ENOMEM;
		*cursor = 0;
		return KV_OK;
	}
	if (count == 0)
		count = 10;
	if (count > KV_COLL_HOLD)
		count = KV_COLL_HOLD;
	uint64_t v = *cursor;
	size_t visits = count * 10, start = out->n;
	/* the smaller table's mask drives the cursor; a moved old bucket j is new
	 * buckets j and j + old, exactly its expansions (Redis's dictScan) */
	uint64_t m0 = ((uint64_t)1 << (h->obuckets ? h->oblog2 : h->blog2)) - 1;
	do {
		uint64_t j = v & m0;
		if (h->obuckets && j >= h->rehash) {
			if (scan_chain(env, bucket_arr(env, h->obuckets)[j], out) != KV_OK)
				return KV_ENOMEM;
		} else if (h->obuckets) {
			kv_off *nb = bucket_arr(env, h->buckets);
			if (scan_chain(env, nb[j], out) != KV_OK ||
			    scan_chain(env, nb[j + m0 + 1], out) != KV_OK)
				return KV_ENOMEM;
		} else if (scan_chain(env, bucket_arr(env, h->buckets)[j], out) != KV_OK) {
			return KV_ENOMEM;
		}
		v |= ~m0;
		v = rev64(v);
		v++;
		v = rev64(v);
	} while (v && out->n - start < count && --visits);
	*cursor = v;
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
				if (zs_elems_push(env, &acc, el_mem(e, k), e->v[k].len, sc) != KV_OK)
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
				else
					aggregate(&sc, weighted(src[i].weight, src[i].e->v[*s - 1].score), agg);
			}
			if (keep && zs_elems_push(env, &acc, m, ml, sc) != KV_OK)
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
		if (zs_elems_push(env, out, acc.bytes.data + x->off, x->len, x->score) != KV_OK)
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

int zs_check(kv_env *env, kv_off ho)
{
	zs_hdr *h = P(env, ho);
	uint64_t bytes = kv_alloc_size(sizeof(zs_hdr));
	if (h->enc == ZS_COMPACT) {
		const zs_blob *b = P(env, h->root);
		if (b->n != h->count || h->count > ZS_COMPACT_MAX_ENTRIES)
			return 1;
		zs_view v;
		zs_iter it;
		zs_elem e, pe = {0, NULL, 0};
		zs_view_live(env, ho, &v);
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
	int rc = check_node(env, h->root, h->height, true, &cnt, &nodes, &hp, &ps, &pe);
	if (rc)
		return rc;
	if (cnt != h->count)
		return 20;
	/* every element is indexed under its member with the leaf's score */
	zs_view v;
	zs_iter it;
	zs_elem e;
	zs_view_live(env, ho, &v);
	uint64_t recbytes = 0;
	for (zs_iter_seek(&it, env, &v, 0); zs_iter_get(&it, &e); zs_iter_next(&it)) {
		zs_rec *r = idx_find(env, h, e.member, e.len, NULL);
		if (!r || r->score != e.score || rec_mem(r) != e.member)
			return 21;
		recbytes += kv_alloc_size(REC_SIZE(e.len));
	}
	/* and the index holds nothing else */
	uint64_t chained = 0;
	uint64_t nb = (uint64_t)1 << h->blog2;
	for (uint64_t j = 0; j < nb; j++) {
		if (h->obuckets && (j & (((uint64_t)1 << h->oblog2) - 1)) >= h->rehash)
			continue;
		for (kv_off o = bucket_arr(env, h->buckets)[j]; o; o = ((zs_rec *)P(env, o))->next)
			chained++;
	}
	if (h->obuckets)
		for (uint64_t j = h->rehash; j < ((uint64_t)1 << h->oblog2); j++)
			for (kv_off o = bucket_arr(env, h->obuckets)[j]; o; o = ((zs_rec *)P(env, o))->next)
				chained++;
	if (chained != h->count)
		return 22;
	bytes += (nodes + h->nspare) * kv_alloc_size(ZS_NODE) + recbytes +
	         kv_alloc_size(nb * sizeof(kv_off));
	if (h->obuckets)
		bytes += kv_alloc_size(((size_t)1 << h->oblog2) * sizeof(kv_off));
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
