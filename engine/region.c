/*
 * region.c -- the memory region: its header, the page allocator, slab size
 * classes and the type-stable pool of shard headers.
 *
 * HOW IT WORKS
 *   The region is cut into 64 KiB pages.  Whole pages come from a bump pointer or
 *   from a first-fit list of free runs; freed runs coalesce with free neighbours
 *   through boundary tags (the first and last page descriptor of a free run both
 *   hold its length), and a run that ends at the bump pointer gives its pages back
 *   to it.  This lock (palloc) is the innermost lock of the engine.
 *
 *   Objects up to 32 KiB come from slab pages of one size class: classes are
 *   8-byte steps to 128 B, then four steps per doubling (160, 192, 224, 256,
 *   320 ...), which wastes at most 20% and, for the common small entry, a few
 *   bytes.  Slab pages are shared by the whole store, one spinlock per class, so a
 *   store with many shards and many value sizes holds at most one partly used
 *   page per class rather than per shard and class.  Each slab page keeps its own
 *   free list and use count; an empty page goes back to the page allocator unless
 *   it is its class's only partial page, and those kept pages are given back too
 *   when an allocation finds no free run (slab_trim), so that a dropped
 *   namespace's pages coalesce into one run again.  Larger objects take whole
 *   page runs.
 *
 *   Shard headers are carved from pages of their own kind that are never given
 *   back, so a writer holding a stale pointer to a dropped shard still locks a
 *   lock word (see kv_internal.h, SAFE OPTIMISTIC READS).
 */
#include "kv_internal.h"

#include <sched.h>

#define KV_MIN_FREE_PAGES 16 /* room for a few namespaces' first shards */

void kv_spin_lock_slow(_Atomic uint32_t *l)
{
	for (unsigned n = 0;; n++) {
		if (atomic_load_explicit(l, memory_order_relaxed) == 0 && kv_spin_trylock(l))
			return;
		if (n < 64)
			kv_cpu_relax();
		else
			sched_yield();
	}
}

void kv_lock_pause(void)
{
	sched_yield();
}

/* ----------------------------------------------------------- size classes */
unsigned kv_size_class(size_t size)
{
	if (size <= 128)
		return size ? (unsigned)((size + 7) / 8 - 1) : 0;
	if (size > KV_SLAB_MAX)
		return KV_NCLASSES;
	size_t s = size - 1;
	unsigned lg = 63u - (unsigned)__builtin_clzll(s);
	unsigned d = lg - 7, k = (unsigned)((s >> (lg - 2)) & 3);
	return 16 + d * 4 + k;
}

size_t kv_class_size(unsigned cls)
{
	if (cls < 16)
		return 8 * (size_t)(cls + 1);
	unsigned d = (cls - 16) / 4, k = (cls - 16) % 4 + 1;
	return ((size_t)128 << d) + k * ((size_t)32 << d);
}

size_t kv_alloc_size(size_t size)
{
	unsigned c = kv_size_class(size);
	if (c < KV_NCLASSES)
		return kv_class_size(c);
	return (size + KV_PAGE_SIZE - 1) & ~(KV_PAGE_SIZE - 1);
}

/* ---------------------------------------------------------------- format */
static size_t meta_bytes(size_t size, uint32_t max_ns, uint32_t *npages)
{
	size_t np = size >> KV_PAGE_SHIFT;
	size_t m = (sizeof(kv_region) + 63) & ~(size_t)63;
	m += (size_t)max_ns * sizeof(kv_nsslot);
	m = (m + 63) & ~(size_t)63;
	m += np * sizeof(kv_page);
	*npages = (uint32_t)np;
	return m;
}

/* Metadata pages plus KV_MIN_FREE_PAGES; the metadata grows with the region, so
 * iterate to the fixed point (two or three rounds). */
KV_API size_t kv_region_min_size(uint32_t max_namespaces)
{
	uint32_t np, max_ns = max_namespaces ? max_namespaces : 1024;
	size_t size = 0;
	for (int i = 0; i < 8; i++) {
		size_t m = meta_bytes(size, max_ns, &np);
		size_t next = ((m + KV_PAGE_SIZE - 1) & ~(KV_PAGE_SIZE - 1)) + KV_MIN_FREE_PAGES * KV_PAGE_SIZE;
		if (next == size)
			break;
		size = next;
	}
	return size;
}

int kv_region_format(kv_env *env, uint32_t max_ns, uint32_t default_shards)
{
	uint32_t np;
	size_t m = meta_bytes(env->size, max_ns, &np);
	uint32_t first = (uint32_t)((m + KV_PAGE_SIZE - 1) >> KV_PAGE_SHIFT);
	if (first + KV_MIN_FREE_PAGES > np)
		return KV_EREGION;

	kv_region *r = env->r;
	memset(r, 0, sizeof *r);
	r->magic = KV_REGION_MAGIC;
	r->layout = KV_LAYOUT_VERSION;
	r->size = env->size;
	r->npages = np;
	r->first_page = first;
	r->max_ns = max_ns;
	r->default_shards = default_shards;
	size_t o = (sizeof(kv_region) + 63) & ~(size_t)63;
	r->slots = (kv_off)(o / KV_UNIT);
	memset(env->base + o, 0, (size_t)max_ns * sizeof(kv_nsslot));
	o += (size_t)max_ns * sizeof(kv_nsslot);
	o = (o + 63) & ~(size_t)63;
	r->pages = (kv_off)(o / KV_UNIT);
	memset(env->base + o, 0, (size_t)np * sizeof(kv_page));
	r->bump = first;
	atomic_store(&r->last_save, kv_now_ms());
	return KV_OK;
}

int kv_region_check(kv_env *env)
{
	const kv_region *r = env->r;
	if (env->size < sizeof *r || r->magic != KV_REGION_MAGIC || r->layout != KV_LAYOUT_VERSION ||
	    r->size != env->size)
		return KV_EREGION;
	return KV_OK;
}

size_t kv_region_used(const kv_env *env)
{
	const kv_region *r = env->r;
	return (size_t)(r->first_page + r->pages_used) << KV_PAGE_SHIFT;
}

/* ---------------------------------------------------------- page runs */
static void run_unlink(kv_env *env, uint32_t p)
{
	kv_region *r = env->r;
	kv_page *d = kv_pagedesc(env, p);
	if (d->prev)
		kv_pagedesc(env, d->prev)->next = d->next;
	else
		r->free_runs = d->next;
	if (d->next)
		kv_pagedesc(env, d->next)->prev = d->prev;
	d->next = d->prev = 0;
}

static void run_mark(kv_env *env, uint32_t p, uint32_t n, int kind)
{
	kv_page *f = kv_pagedesc(env, p), *l = kv_pagedesc(env, p + n - 1);
	f->kind = (uint8_t)kind;
	f->run = n;
	l->kind = (uint8_t)kind;
	l->run = n;
}

kv_off kv_pages_alloc(kv_env *env, uint32_t n, int kind)
{
	kv_region *r = env->r;
	uint32_t got = 0;
	kv_spin_lock(&r->palloc);
	for (uint32_t p = r->free_runs; p; p = kv_pagedesc(env, p)->next) {
		uint32_t have = kv_pagedesc(env, p)->run;
		if (have < n)
			continue;
		run_unlink(env, p);
		if (have > n) {
			uint32_t rest = p + n;
			run_mark(env, rest, have - n, KV_PG_FREE);
			kv_page *rd = kv_pagedesc(env, rest);
			rd->prev = 0;
			rd->next = r->free_runs;
			if (r->free_runs)
				kv_pagedesc(env, r->free_runs)->prev = rest;
			r->free_runs = rest;
		}
		got = p;
		break;
	}
	if (!got && r->bump + (uint64_t)n <= r->npages) {
		got = r->bump;
		r->bump += n;
	}
	if (got) {
		run_mark(env, got, n, kind);
		r->pages_used += n;
	}
	kv_spin_unlock(&r->palloc);
	return got ? (kv_off)((size_t)got * KV_UNITS_PER_PAGE) : 0;
}

void kv_pages_free(kv_env *env, kv_off off)
{
	kv_region *r = env->r;
	uint32_t p = (uint32_t)(off / KV_UNITS_PER_PAGE);
	kv_spin_lock(&r->palloc);
	uint32_t n = kv_pagedesc(env, p)->run;
	r->pages_used -= n;
	/* coalesce with the following run */
	if (p + n < r->bump && kv_pagedesc(env, p + n)->kind == KV_PG_FREE) {
		uint32_t m = kv_pagedesc(env, p + n)->run;
		run_unlink(env, p + n);
		n += m;
	}
	/* and with the preceding one (its last page carries the boundary tag) */
	if (p > r->first_page && kv_pagedesc(env, p - 1)->kind == KV_PG_FREE) {
		uint32_t m = kv_pagedesc(env, p - 1)->run;
		run_unlink(env, p - m);
		p -= m;
		n += m;
	}
	if (p + n == r->bump) {
		r->bump = p;
		kv_pagedesc(env, p)->kind = KV_PG_META;
		kv_pagedesc(env, p + n - 1)->kind = KV_PG_META;
	} else {
		run_mark(env, p, n, KV_PG_FREE);
		kv_page *d = kv_pagedesc(env, p);
		d->prev = 0;
		d->next = r->free_runs;
		if (r->free_runs)
			kv_pagedesc(env, r->free_runs)->prev = p;
		r->free_runs = p;
	}
	kv_spin_unlock(&r->palloc);
}

/* ------------------------------------------------------------------ slabs */
/* Slab pages of a class are shared by the whole store, each class under its own
 * spinlock (taken inside a shard lock, outside the page lock).  A page keeps its
 * own free list and use count; pages with free objects sit on the class list. */
/* A page fresh from the page allocator, as an empty slab page of class cls
 * (linked on no list). */
static void slab_page_init(kv_env *env, uint32_t p, unsigned cls)
{
	kv_page *d = kv_pagedesc(env, p);
	d->cls = (uint8_t)cls;
	d->used = 0;
	d->free = 0;
	d->bump = 0;
	d->next = d->prev = 0;
}

static void slab_link(kv_env *env, kv_region *r, unsigned cls, uint32_t p)
{
	kv_page *d = kv_pagedesc(env, p);
	d->prev = 0;
	d->next = r->cls[cls].head;
	if (d->next)
		kv_pagedesc(env, d->next)->prev = p;
	r->cls[cls].head = p;
}

static void slab_unlink(kv_env *env, kv_region *r, unsigned cls, uint32_t p)
{
	kv_page *d = kv_pagedesc(env, p);
	if (d->prev)
		kv_pagedesc(env, d->prev)->next = d->next;
	else
		r->cls[cls].head = d->next;
	if (d->next)
		kv_pagedesc(env, d->next)->prev = d->prev;
	d->next = d->prev = 0;
}

/* Give back every class's empty page that kv_free kept as its class's only
 * partial page.  Each class keeps one so that a store hovering around a page
 * boundary does not allocate and free a page per write; but those pages sit
 * wherever their class last had room, and after a big namespace is dropped
 * they are what cuts the freed pages into runs too short for a large value.
 * O(classes); called with no class lock held (the class locks come before the
 * page lock). */
static bool slab_trim(kv_env *env)
{
	kv_region *r = env->r;
	bool any = false;
	for (unsigned cls = 0; cls < KV_NCLASSES; cls++) {
		kv_spin_lock(&r->cls[cls].lock);
		uint32_t p = r->cls[cls].head;
		bool release = p && kv_pagedesc(env, p)->used == 0;
		if (release)
			slab_unlink(env, r, cls, p);
		kv_spin_unlock(&r->cls[cls].lock);
		if (release) {
			kv_pages_free(env, (kv_off)((size_t)p * KV_UNITS_PER_PAGE));
			any = true;
		}
	}
	return any;
}

kv_off kv_alloc(kv_env *env, size_t size)
{
	unsigned cls = kv_size_class(size);
	if (cls == KV_NCLASSES) {
		size_t np = (size + KV_PAGE_SIZE - 1) >> KV_PAGE_SHIFT;
		if (np > UINT32_MAX)
			return 0;
		kv_off o = kv_pages_alloc(env, (uint32_t)np, KV_PG_LARGE);
		if (!o && slab_trim(env))
			o = kv_pages_alloc(env, (uint32_t)np, KV_PG_LARGE);
		return o;
	}
	kv_region *r = env->r;
	size_t csize = kv_class_size(cls);
	uint32_t per = (uint32_t)(KV_PAGE_SIZE / csize);
	bool trimmed = false;
again:
	kv_spin_lock(&r->cls[cls].lock);
	uint32_t p = r->cls[cls].head;
	if (!p) {
		kv_off po = kv_pages_alloc(env, 1, KV_PG_SLAB);
		if (!po) {
			/* the other classes' kept empty pages may be all that is left */
			kv_spin_unlock(&r->cls[cls].lock);
			if (!trimmed && slab_trim(env)) {
				trimmed = true;
				goto again;
			}
			return 0;
		}
		p = (uint32_t)(po / KV_UNITS_PER_PAGE);
		slab_page_init(env, p, cls);
		slab_link(env, r, cls, p);
	}
	kv_page *d = kv_pagedesc(env, p);
	kv_off obj;
	if (d->free) {
		obj = d->free;
		memcpy(&d->free, kv_ptr(env, obj), sizeof(kv_off));
	} else {
		obj = (kv_off)((size_t)p * KV_UNITS_PER_PAGE + d->bump * (csize / KV_UNIT));
		d->bump++;
	}
	if (++d->used == per)
		slab_unlink(env, r, cls, p);
	kv_spin_unlock(&r->cls[cls].lock);
	return obj;
}

void kv_free(kv_env *env, kv_off off, size_t size)
{
	unsigned cls = kv_size_class(size);
	if (cls == KV_NCLASSES) {
		kv_pages_free(env, off);
		return;
	}
	kv_region *r = env->r;
	uint32_t per = (uint32_t)(KV_PAGE_SIZE / kv_class_size(cls));
	uint32_t p = (uint32_t)(off / KV_UNITS_PER_PAGE);
	kv_page *d = kv_pagedesc(env, p);
	kv_spin_lock(&r->cls[cls].lock);
	memcpy(kv_ptr(env, off), &d->free, sizeof(kv_off));
	d->free = off;
	if (d->used-- == per)
		slab_link(env, r, cls, p);
	/* give an empty page back unless it is the class's only partial page */
	bool release = d->used == 0 && (d->prev || d->next);
	if (release)
		slab_unlink(env, r, cls, p);
	kv_spin_unlock(&r->cls[cls].lock);
	if (release)
		kv_pages_free(env, (kv_off)((size_t)p * KV_UNITS_PER_PAGE));
}

/* ------------------------------------------------------------- carving */
/* See kv_carve in kv_internal.h.  A page being carved is on no class list, so
 * kv_alloc never sees it and only its carver changes it (a kv_free by the
 * carver itself takes the class lock as usual and finds used < per: the page
 * stays off the list).  A page carved to its end leaves the carve: a full one
 * is on no list, as any full page, and a later kv_free links it as usual; one
 * the carver freed objects of goes to its class list then. */
kv_off kv_carve_alloc(kv_env *env, kv_carve *c, size_t size)
{
	unsigned cls = kv_size_class(size);
	if (cls == KV_NCLASSES)
		return kv_alloc(env, size);
	size_t csize = kv_class_size(cls);
	uint32_t per = (uint32_t)(KV_PAGE_SIZE / csize), p = c->page[cls];
	if (!p) {
		kv_off po = kv_pages_alloc(env, 1, KV_PG_SLAB);
		if (!po) /* the classes' partial pages (and slab_trim) may still have room */
			return kv_alloc(env, size);
		p = (uint32_t)(po / KV_UNITS_PER_PAGE);
		slab_page_init(env, p, cls);
		c->page[cls] = p;
	}
	kv_page *d = kv_pagedesc(env, p);
	kv_off obj = (kv_off)((size_t)p * KV_UNITS_PER_PAGE + d->bump * (csize / KV_UNIT));
	d->bump++;
	d->used++;
	if (d->bump == per) {
		c->page[cls] = 0;
		if (d->used < per) { /* the carver freed some: the page must be on its list */
			kv_spin_lock(&env->r->cls[cls].lock);
			slab_link(env, env->r, cls, p);
			kv_spin_unlock(&env->r->cls[cls].lock);
		}
	}
	return obj;
}

void kv_carve_done(kv_env *env, kv_carve *c)
{
	kv_region *r = env->r;
	for (unsigned cls = 0; cls < KV_NCLASSES; cls++) {
		uint32_t p = c->page[cls];
		if (!p)
			continue;
		c->page[cls] = 0;
		kv_spin_lock(&r->cls[cls].lock);
		slab_link(env, r, cls, p); /* partly used (an empty one is linked too: kv_alloc fills it) */
		kv_spin_unlock(&r->cls[cls].lock);
	}
}

/* ---------------------------------------------------------- shard headers */
kv_shard *kv_shard_new(kv_env *env)
{
	kv_region *r = env->r;
	kv_spin_lock(&r->palloc);
	kv_off o = r->shard_free;
	if (o) {
		kv_shard *sh = kv_ptr(env, o);
		r->shard_free = sh->preserved;
		kv_spin_unlock(&r->palloc);
		return sh;
	}
	kv_spin_unlock(&r->palloc);
	kv_off po = kv_pages_alloc(env, 1, KV_PG_SHARD);
	if (!po)
		return NULL;
	char *page = kv_ptr(env, po);
	memset(page, 0, KV_PAGE_SIZE);
	/* keep the first header, pool the rest */
	kv_spin_lock(&r->palloc);
	for (size_t i = KV_PAGE_SIZE / KV_SHARD_SIZE - 1; i >= 1; i--) {
		kv_shard *sh = (kv_shard *)(page + i * KV_SHARD_SIZE);
		sh->preserved = r->shard_free;
		r->shard_free = kv_offof(env, sh);
	}
	kv_spin_unlock(&r->palloc);
	return (kv_shard *)page;
}

/* The shard must be empty and unlocked; its table and slabs are released here.
 * The lock and seq words keep their values so stale holders stay consistent. */
void kv_shard_release(kv_env *env, kv_shard *sh)
{
	kv_region *r = env->r;
	kv_off t = atomic_load(&sh->table);
	if (t)
		kv_free(env, t, ((size_t)atomic_load(&sh->mask) + 1) * 8);
	atomic_store(&sh->table, 0);
	atomic_store(&sh->mask, 0);
	sh->owner = 0;
	sh->count = 0;
	sh->bytes = 0;
	kv_spin_lock(&r->palloc);
	sh->preserved = r->shard_free;
	r->shard_free = kv_offof(env, sh);
	kv_spin_unlock(&r->palloc);
}

KV_RACY kv_shard *kv_shard_at(const kv_env *env, kv_off off)
{
	if (!kv_in_region(env, off, KV_SHARD_SIZE))
		return NULL;
	size_t b = (size_t)off * KV_UNIT;
	uint32_t p = (uint32_t)(b >> KV_PAGE_SHIFT);
	if (p >= env->r->npages || kv_pagedesc(env, p)->kind != KV_PG_SHARD ||
	    (b & (KV_PAGE_SIZE - 1)) % KV_SHARD_SIZE)
		return NULL;
	return kv_ptr(env, off);
}
