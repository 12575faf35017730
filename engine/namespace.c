/*
 * namespace.c -- namespaces: the slot table, create/drop/open, configuration,
 * statistics, flush, and raising the shard count online.
 *
 * HOW IT WORKS
 *   Namespaces live in a fixed array of slots in the region.  A slot's gen is a
 *   sequence counter for the slot itself: it is odd while the namespace is being
 *   created, dropped or its shard array replaced.  A kv_ns handle remembers (slot,
 *   gen); every call checks gen, and a mismatch sends it back to look the name up
 *   again, so handles follow a drop and re-create.  Readers check gen once more
 *   after reading; writers check it after locking their shard.
 *
 *   Resize (raising the shard count from n to m) first publishes an array of m
 *   shards with old_nshards = n, then migrates each old shard s in turn: with s and
 *   every new shard locked, the keys whose jump hash over m is not s move to their
 *   new shard and s is stamped migrated (= resize_epoch).  Until s is stamped, keys
 *   of s are looked up in s; afterwards in jump(h, m).  Jump hashing only ever
 *   moves keys to the new shards, which all have higher indices than s, so the
 *   lock order (ascending index) holds.
 */
#include "coll.h"

#include <sched.h>
#include <stdlib.h>

/* ------------------------------------------------------------------ names */
int kv_ns_valid_name(const char *name)
{
	if (!name)
		return KV_ENSNAME;
	size_t n = 0;
	for (const char *p = name; *p; p++, n++) {
		char c = *p;
		if (n >= KV_NS_NAME_MAX)
			return KV_ENSNAME;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == ':' || c == '-'))
			return KV_ENSNAME;
	}
	return n ? KV_OK : KV_ENSNAME;
}

KV_RACY int kv_ns_find_slot(kv_env *env, const char *name, uint32_t *idx, uint32_t *gen)
{
	kv_region *r = env->r;
	size_t len = strlen(name) + 1; /* compare the NUL too */
	if (len > sizeof ((kv_nsslot *)0)->name)
		return KV_ENONS;
	for (uint32_t i = 0; i < r->max_ns; i++) {
		kv_nsslot *sl = kv_slot(env, i);
		uint32_t g;
		/* odd: a create, drop or resize is publishing; it is brief, so wait */
		for (unsigned spin = 0; (g = atomic_load_explicit(&sl->gen, memory_order_acquire)) & 1; spin++)
			spin < 64 ? kv_cpu_relax() : (void)sched_yield();
		if (!sl->live || kv_racy_cmp(sl->name, name, len) != 0)
			continue;
		KV_FENCE(memory_order_acquire);
		if (atomic_load_explicit(&sl->gen, memory_order_relaxed) != g) {
			i--; /* changed while we read it: look again */
			continue;
		}
		*idx = i;
		*gen = g;
		return KV_OK;
	}
	return KV_ENONS;
}

int kv_ns_ref_slow(kv_ns *ns, kv_nsref *ref)
{
	kv_env *env = ns->env;
	uint64_t b = atomic_load_explicit(&ns->bound, memory_order_relaxed);
	uint32_t idx = (uint32_t)(b >> 32), g = (uint32_t)b;
	kv_nsslot *sl = kv_slot(env, idx);
	while (KV_UNLIKELY(atomic_load_explicit(&sl->gen, memory_order_acquire) != g)) {
		int rc = kv_ns_find_slot(env, ns->name, &idx, &g);
		if (rc != KV_OK)
			return rc;
		atomic_store_explicit(&ns->bound, (uint64_t)idx << 32 | g, memory_order_relaxed);
		sl = kv_slot(env, idx);
		/* the loop's acquire load again, now of the slot found: find_slot's
		 * own are hidden from ThreadSanitizer (KV_RACY), and what the caller
		 * reads next (the shards the create published) must be ordered after
		 * it in its eyes too */
	}
	ref->env = env;
	ref->slot = sl;
	ref->gen = g;
	ref->slot_index = idx;
	return KV_OK;
}

/* ------------------------------------------------------- shard selection */
KV_RACY kv_shard *kv_ns_shard(const kv_nsref *ref, uint32_t i)
{
	kv_off arr = atomic_load_explicit(&ref->slot->shards, memory_order_relaxed);
	uint32_t n = atomic_load_explicit(&ref->slot->nshards, memory_order_relaxed);
	if (i >= n || !kv_in_region(ref->env, arr, (size_t)n * sizeof(kv_off)))
		return NULL;
	return kv_shard_at(ref->env, ((kv_off *)kv_ptr(ref->env, arr))[i]);
}

/* ------------------------------------------------------------ routing */
kv_off kv_route_build(kv_env *env, uint32_t n)
{
	if (n <= 1)
		return 0;
	size_t bytes = KV_ROUTE_SIZE * sizeof(uint16_t);
	kv_off o = kv_pages_alloc(env, (uint32_t)((bytes + KV_PAGE_SIZE - 1) >> KV_PAGE_SHIFT), KV_PG_LARGE);
	if (!o)
		return 0;
	uint16_t *t = kv_ptr(env, o);
	for (size_t p = 0; p < KV_ROUTE_SIZE; p++)
		t[p] = (uint16_t)kv_route((uint64_t)p << (64 - KV_ROUTE_BITS), n);
	return o;
}

void kv_route_free(kv_env *env, kv_off route)
{
	if (route)
		kv_pages_free(env, route);
}

kv_shard *kv_ns_lock_shard(const kv_nsref *ref, uint64_t h)
{
	kv_nsslot *sl = ref->slot;
	uint32_t n = atomic_load_explicit(&sl->nshards, memory_order_relaxed);
	uint32_t old = atomic_load_explicit(&sl->old_nshards, memory_order_relaxed);
	kv_shard *sh;
	if (KV_UNLIKELY(old != 0) && old < n) {
		sh = kv_ns_shard(ref, kv_route(h, old));
		if (!sh)
			return NULL;
		kv_spin_lock(&sh->lock);
		if (!kv_ns_ref_valid(ref)) {
			kv_spin_unlock(&sh->lock);
			return NULL;
		}
		if (!kv_shard_migrated(ref, sh) && kv_hash32(h) >= atomic_load(&sh->mig_hash))
			return sh;
		/* moved: the watermark only rises, so the new shard stays right */
		kv_spin_unlock(&sh->lock);
	}
	sh = kv_ns_shard(ref, kv_route_of(ref, h, n));
	if (!sh)
		return NULL;
	kv_spin_lock(&sh->lock);
	if (!kv_ns_ref_valid(ref) || sh->owner != ref->slot_index + 1) {
		kv_spin_unlock(&sh->lock);
		return NULL;
	}
	return sh;
}

void kv_lockset_init(kv_lockset *ls)
{
	memset(ls->bits, 0, sizeof ls->bits);
	ls->lo = KV_MAX_SHARDS;
	ls->hi = 0;
	ls->nheld = 0;
	ls->vn = 0; /* no view yet: the first kv_lockset_add reads it */
}

static void lockset_bit(kv_lockset *ls, uint32_t i)
{
	ls->bits[i / 64] |= 1ull << (i % 64);
	if (i < ls->lo)
		ls->lo = i;
	if (i + 1 > ls->hi)
		ls->hi = i + 1;
}

void kv_lockset_add(const kv_nsref *ref, kv_lockset *ls, uint64_t h)
{
	if (!ls->vn) { /* one view for every key of the set */
		kv_nsslot *sl = ref->slot;
		uint32_t n = atomic_load_explicit(&sl->nshards, memory_order_relaxed);
		uint32_t old = atomic_load_explicit(&sl->old_nshards, memory_order_relaxed);
		ls->vepoch = atomic_load_explicit(&sl->resize_epoch, memory_order_relaxed);
		ls->vn = n == 0 ? 1 : n > KV_MAX_SHARDS ? KV_MAX_SHARDS : n; /* 0: dropped, gen fails */
		ls->vold = old != 0 && old < ls->vn ? old : 0;
	}
	if (ls->vold)
		lockset_bit(ls, kv_route(h, ls->vold));
	lockset_bit(ls, kv_route(h, ls->vn));
}

/* The header ls holds for shard index i (a bit of ls): held[] lists the bits'
 * shards in ascending order first (an eviction may append others after). */
static kv_shard *lockset_held(const kv_nsref *ref, const kv_lockset *ls, uint32_t i)
{
	uint32_t k = 0;
	for (uint32_t w = ls->lo / 64; w < i / 64; w++)
		k += (uint32_t)__builtin_popcountll(ls->bits[w]);
	k += (uint32_t)__builtin_popcountll(ls->bits[i / 64] & ((1ull << (i % 64)) - 1));
	return kv_ptr(ref->env, ls->held[k]);
}

void kv_lockset_unlock(const kv_nsref *ref, kv_lockset *ls)
{
	while (ls->nheld)
		kv_spin_unlock(&((kv_shard *)kv_ptr(ref->env, ls->held[--ls->nheld]))->lock);
}

/* Lock every shard of ls in ascending order.  After each lock the namespace's
 * gen is checked again: a shard array read while a drop, create or resize was
 * publishing may name headers that now belong to another namespace (or to none),
 * and holding one of those while waiting for the next could deadlock against
 * that namespace's own lockers, whose order differs.  So a stale lock is held
 * only for the instant of the check, never while waiting.
 *
 * THE INVARIANT: while a lockset holds its locks, the owner of each of its keys
 * is a shard it holds, and kv_lockset_shard names that shard.  The routing view
 * (nshards, old_nshards, resize_epoch) is read once into ls and the last gen
 * check proves no resize published since, so the view was the namespace's own
 * when the locks were taken.  Afterwards it may move on without any of our
 * locks -- a resize publishes under the admin lock alone (and frees the old
 * shard array at once), and its end clears old_nshards -- but no key of ours
 * moves: a key leaves a shard only in a migrate_step that locks that shard, and
 * during a resize the old shard s = route(h, old) decides (its mig_hash and
 * migrated stamp change only under s's lock, which we hold).  So the key stays
 * where the recorded view put it: in s if s is not stamped with the view's epoch
 * and h is at or above s's mark, else in route(h, n); a later resize cannot end
 * (or migrate it) while we hold that shard.  kv_lockset_shard therefore routes
 * by the recorded view and returns the header from held[]: it must not read the
 * slot's current view or shard array (the old lookup did, and a resize publishing
 * meanwhile let it read a freed array: a NULL or a foreign shard). */
bool kv_lockset_lock(const kv_nsref *ref, kv_lockset *ls)
{
	ls->nheld = 0;
	for (uint32_t i = ls->lo; i < ls->hi; i++) {
		if (!(ls->bits[i / 64] >> (i % 64) & 1))
			continue;
		kv_shard *sh = kv_ns_shard(ref, i);
		if (!sh) {
			kv_lockset_unlock(ref, ls);
			return false;
		}
		kv_spin_lock(&sh->lock);
		ls->held[ls->nheld++] = kv_offof(ref->env, sh);
		if (!kv_ns_ref_valid(ref) || sh->owner != ref->slot_index + 1) {
			kv_lockset_unlock(ref, ls);
			return false;
		}
	}
	return true;
}

int kv_lockset_lock_hashes(kv_ns *ns, kv_nsref *ref, kv_lockset *ls, const uint64_t *h, size_t n)
{
	for (;;) {
		int rc = kv_ns_ref(ns, ref);
		if (rc != KV_OK)
			return rc;
		kv_lockset_init(ls);
		for (size_t i = 0; i < n; i++)
			kv_lockset_add(ref, ls, h[i]);
		if (kv_lockset_lock(ref, ls))
			return KV_OK;
	}
}

/* The k-th shard locked (ascending index order). */
kv_shard *kv_lockset_at(const kv_nsref *ref, const kv_lockset *ls, uint32_t k)
{
	return kv_ptr(ref->env, ls->held[k]);
}

/* Keep every locked shard's seq odd across a multi-shard change, so no
 * optimistic reader of several shards can see part of it. */
void kv_lockset_write(const kv_nsref *ref, kv_lockset *ls, bool begin)
{
	for (uint32_t k = 0; k < ls->nheld; k++) {
		kv_shard *sh = kv_lockset_at(ref, ls, k);
		if (begin)
			kv_shard_write_begin(sh);
		else
			kv_shard_write_end(sh);
	}
}

kv_shard *kv_lockset_shard(const kv_nsref *ref, const kv_lockset *ls, uint64_t h)
{
	if (ls->vold) {
		kv_shard *sh = lockset_held(ref, ls, kv_route(h, ls->vold));
		if (atomic_load_explicit(&sh->migrated, memory_order_relaxed) != ls->vepoch &&
		    kv_hash32(h) >= atomic_load_explicit(&sh->mig_hash, memory_order_relaxed))
			return sh;
	}
	/* computed, not looked up: a resize may replace the table while we hold the locks */
	return lockset_held(ref, ls, kv_route(h, ls->vn));
}

void kv_ns_charge(kv_nsslot *slot, kv_shard *sh, int64_t dkeys, int64_t dbytes)
{
	if (dkeys)
		atomic_fetch_add_explicit(&slot->keys, (uint64_t)dkeys, memory_order_relaxed);
	if (dbytes)
		atomic_fetch_add_explicit(&slot->bytes, (uint64_t)dbytes, memory_order_relaxed);
	sh->bytes += (uint64_t)dbytes;
	atomic_store_explicit(&sh->dirty, atomic_load_explicit(&sh->dirty, memory_order_relaxed) + 1,
	                      memory_order_relaxed);
}

/* ------------------------------------------------------------ lifecycle */
KV_API void kv_ns_config_init(kv_ns_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->eviction = KV_EVICT_NONE;
}

int kv_ns_check_config(const kv_ns_config *c)
{
	if (c->eviction < KV_EVICT_NONE || c->eviction > KV_EVICT_VOLATILE_TTL)
		return KV_EINVAL;
	if ((c->flags & ~KV_NS_REDO) || ((c->flags & KV_NS_REDO) && c->eviction != KV_EVICT_NONE))
		return KV_EINVAL;
	if (c->max_key_size > KV_KEY_SIZE_LIMIT || c->max_value_size > KV_VALUE_SIZE_LIMIT)
		return KV_EINVAL;
	/* a default TTL no write could apply (now + ttl past KV_EXPIRES_MAX) is
	 * refused here rather than failing every later write */
	if (c->default_ttl_ms < 0 || c->default_ttl_ms > KV_EXPIRES_MAX)
		return KV_EINVAL;
	return KV_OK;
}

static void apply_config(kv_nsslot *sl, const kv_ns_config *c)
{
	atomic_store(&sl->max_keys, c->max_keys);
	atomic_store(&sl->max_memory, c->max_memory);
	atomic_store(&sl->default_ttl, c->default_ttl_ms);
	atomic_store(&sl->max_key_size, c->max_key_size ? c->max_key_size : KV_KEY_SIZE_LIMIT);
	atomic_store(&sl->max_value_size, c->max_value_size ? c->max_value_size : KV_DEFAULT_MAX_VALUE);
	atomic_store(&sl->eviction, c->eviction);
	atomic_store(&sl->redo, c->flags & KV_NS_REDO);
}

/* Allocate shards [from, to) of slot idx into arr.  On failure frees what it made. */
static int make_shards(kv_env *env, uint32_t idx, kv_off *arr, uint32_t from, uint32_t to)
{
	for (uint32_t i = from; i < to; i++) {
		kv_shard *sh = kv_shard_new(env);
		if (!sh)
			goto fail;
		kv_spin_lock(&sh->lock);
		sh->owner = idx + 1;
		sh->index = i;
		sh->count = 0;
		sh->bytes = 0;
		atomic_store(&sh->dirty, 0);
		sh->snap_pending = 0;
		sh->preserved = 0;
		sh->npreserved = sh->cappreserved = 0;
		sh->sweep_pos = sh->clock_hand = 0;
		sh->rng = 0x9e3779b97f4a7c15ull ^ ((uint64_t)idx << 32 | i);
		atomic_store(&sh->migrated, 0);
		atomic_store(&sh->mig_hash, 0);
		atomic_store(&sh->hits, 0);
		atomic_store(&sh->misses, 0);
		int rc = kv_shard_init_locked(env, sh, 16);
		kv_spin_unlock(&sh->lock);
		if (rc != KV_OK) {
			kv_shard_release(env, sh);
			goto fail;
		}
		arr[i] = kv_offof(env, sh);
		continue;
	fail:
		for (uint32_t j = from; j < i; j++)
			kv_shard_release(env, kv_ptr(env, arr[j]));
		return KV_ENOMEM;
	}
	return KV_OK;
}

KV_API int kv_ns_create(kv_env *env, const char *name, const kv_ns_config *cfg)
{
	kv_ns_config def;
	if (!cfg) {
		kv_ns_config_init(&def);
		cfg = &def;
	}
	int rc = kv_ns_valid_name(name);
	if (rc != KV_OK)
		return rc;
	if ((rc = kv_ns_check_config(cfg)) != KV_OK)
		return rc;
	kv_region *r = env->r;
	uint32_t n = cfg->shards ? cfg->shards : r->default_shards;
	if (n == 0 || n > KV_MAX_SHARDS)
		return KV_ESHARDS;

	kv_spin_lock(&r->admin);
	uint32_t idx, g;
	if (kv_ns_find_slot(env, name, &idx, &g) == KV_OK) {
		kv_spin_unlock(&r->admin);
		return KV_ENSEXISTS;
	}
	for (idx = 0; idx < r->max_ns; idx++)
		if (!kv_slot(env, idx)->live)
			break;
	if (idx == r->max_ns) {
		kv_spin_unlock(&r->admin);
		return KV_ETOOMANYNS;
	}
	kv_nsslot *sl = kv_slot(env, idx);
	atomic_fetch_add(&sl->gen, 1); /* odd: under construction */
	memset(sl->name, 0, sizeof sl->name);
	strcpy(sl->name, name);
	apply_config(sl, cfg);
	atomic_store(&sl->keys, 0);
	atomic_store(&sl->bytes, 0);
	atomic_store(&sl->expired, 0);
	atomic_store(&sl->evicted, 0);
	atomic_store(&sl->old_nshards, 0);
	atomic_store(&sl->busy, 0);
	sl->sweep_shard = 0;

	kv_off arr, route = 0;
	rc = kv_shards_create(env, idx, n, &arr);
	if (rc == KV_OK && n > 1 && !(route = kv_route_build(env, n))) {
		kv_shards_destroy(env, arr, n);
		rc = KV_ENOMEM;
	}
	if (rc != KV_OK) {
		atomic_store(&sl->bytes, 0);
		atomic_fetch_add(&sl->gen, 1);
		kv_spin_unlock(&r->admin);
		return rc;
	}
	atomic_store(&sl->shards, arr);
	atomic_store(&sl->nshards, n);
	atomic_store(&sl->route, route);
	sl->live = 1;
	atomic_fetch_add(&r->nns, 1);
	atomic_fetch_add_explicit(&sl->gen, 1, memory_order_release);
	kv_spin_unlock(&r->admin);
	return KV_OK;
}

/* Unlink n shards listed in arr and release them (the array is freed too).
 * The shards are unreachable: their namespace's gen has moved on.  Each one's
 * table, with its entries, goes to out[i] for kv_tables_free() once the caller
 * holds no lock (a drop of millions of keys then holds each shard lock, and the
 * admin lock, for O(1) per shard); out NULL frees them here. */
void kv_shards_retire(kv_env *env, kv_off arr, uint32_t n, kv_detached *out)
{
	kv_off *a = kv_ptr(env, arr);
	kv_off keep[KV_MAX_SHARDS];
	memcpy(keep, a, (size_t)n * sizeof(kv_off));
	for (uint32_t i = 0; i < n; i++) {
		kv_shard *sh = kv_ptr(env, keep[i]);
		kv_detached d;
		kv_spin_lock(&sh->lock);
		sh->owner = 0; /* no more charges to the slot */
		kv_shard_write_begin(sh);
		kv_shard_detach_locked(env, sh, false, &d); /* cannot fail without a new table */
		kv_shard_write_end(sh);
		kv_spin_unlock(&sh->lock);
		if (out)
			out[i] = d;
		else
			kv_tables_free(env, &d, 1);
	}
	kv_free(env, arr, (size_t)n * sizeof(kv_off));
	for (uint32_t i = 0; i < n; i++)
		kv_shard_release(env, kv_ptr(env, keep[i]));
}

void kv_shards_destroy(kv_env *env, kv_off arr, uint32_t n)
{
	kv_shards_retire(env, arr, n, NULL);
}

/* Make n empty shards for slot idx, in a new array; *arr = 0 on failure. */
int kv_shards_create(kv_env *env, uint32_t idx, uint32_t n, kv_off *arr)
{
	kv_off tmp[1];
	*arr = 0;
	int rc = make_shards(env, idx, tmp, 0, 1);
	if (rc != KV_OK)
		return rc;
	kv_shard *s0 = kv_ptr(env, tmp[0]);
	kv_off a = kv_alloc(env, (size_t)n * sizeof(kv_off));
	if (!a) {
		kv_shard_release(env, s0);
		return KV_ENOMEM;
	}
	kv_off *p = kv_ptr(env, a);
	p[0] = tmp[0];
	rc = make_shards(env, idx, p, 1, n);
	if (rc != KV_OK) {
		kv_free(env, a, (size_t)n * sizeof(kv_off));
		kv_shard_release(env, s0);
		return rc;
	}
	*arr = a;
	return KV_OK;
}

KV_API int kv_ns_drop(kv_env *env, const char *name)
{
	int rc = kv_ns_valid_name(name);
	if (rc != KV_OK)
		return rc;
	kv_region *r = env->r;
	/* the tables are freed after the admin lock is released (NULL: under it) */
	kv_detached *dt = kv_mem_realloc(env, NULL, KV_MAX_SHARDS * sizeof *dt);
	kv_spin_lock(&r->admin);
	uint32_t idx, g;
	if (kv_ns_find_slot(env, name, &idx, &g) != KV_OK) {
		kv_spin_unlock(&r->admin);
		kv_mem_realloc(env, dt, 0);
		return KV_ENONS;
	}
	kv_nsslot *sl = kv_slot(env, idx);
	uint32_t z = 0;
	if (!atomic_compare_exchange_strong(&sl->busy, &z, 1)) {
		kv_spin_unlock(&r->admin);
		kv_mem_realloc(env, dt, 0);
		return KV_EBUSY;
	}
	atomic_fetch_add(&sl->gen, 1);
	uint32_t n = atomic_load(&sl->nshards);
	kv_shards_retire(env, atomic_load(&sl->shards), n, dt);
	kv_route_free(env, atomic_load(&sl->route));
	atomic_store(&sl->route, 0);
	sl->live = 0;
	atomic_store(&sl->keys, 0);
	atomic_store(&sl->bytes, 0);
	atomic_store(&sl->nshards, 0);
	atomic_store(&sl->shards, 0);
	atomic_store(&sl->busy, 0);
	atomic_fetch_sub(&r->nns, 1);
	atomic_fetch_add_explicit(&sl->gen, 1, memory_order_release);
	kv_spin_unlock(&r->admin);
	if (dt) {
		kv_tables_free(env, dt, n);
		kv_mem_realloc(env, dt, 0);
	}
	return KV_OK;
}

/* ------------------------------------------------------- handle views */
/* The view's table for one shard (no table in the slot): every prefix routes
 * to shard 0.  Never written: its pages stay the kernel's zero page. */
static uint16_t view_route_one[KV_ROUTE_SIZE];
/* What an array slot holds until a view puts a shard there: odd seq (readers
 * decline it), no owner (a writer that locks it declines it). */
kv_shard kv_view_dummy = {.seq = 1};

/* The header at arr[i], checked as a writer checks one it will lock. */
static KV_RACY kv_shard *view_shard(const kv_env *env, kv_off arr, uint32_t i)
{
	return kv_shard_at(env, atomic_load_explicit((_Atomic kv_off *)kv_ptr(env, arr) + i,
	                                             memory_order_relaxed));
}

_Static_assert((uint64_t)KV_MAX_NAMESPACES * sizeof(kv_nsslot) <= UINT32_MAX,
               "a view key holds a slot's byte offset in 32 bits");
bool kv_view_refresh(kv_ns *ns)
{
	kv_nsref ref;
	if (kv_ns_ref(ns, &ref) != KV_OK || (ref.gen & 1))
		return false;
	kv_env *env = ns->env;
	kv_nsslot *sl = ref.slot;
	uint64_t key = ((uint64_t)ref.slot_index * sizeof(kv_nsslot)) << 32 | ref.gen;
	if (atomic_load_explicit(&ns->vkey, memory_order_acquire) == key)
		return true;
	if (atomic_load_explicit(&sl->old_nshards, memory_order_relaxed))
		return false; /* migrating: the general path routes by both counts */
	bool ok = false;
	kv_spin_lock(&ns->vlock);
	if (atomic_load_explicit(&ns->vkey, memory_order_relaxed) == key) {
		ok = true;
		goto out;
	}
	uint32_t n = atomic_load_explicit(&sl->nshards, memory_order_relaxed);
	kv_off arr = atomic_load_explicit(&sl->shards, memory_order_relaxed);
	kv_off route = atomic_load_explicit(&sl->route, memory_order_relaxed);
	if (atomic_load_explicit(&sl->old_nshards, memory_order_relaxed) || n == 0 || n > KV_MAX_SHARDS ||
	    !kv_in_region(env, arr, (size_t)n * sizeof(kv_off)) ||
	    (n > 1 && !kv_in_region(env, route, KV_ROUTE_SIZE * sizeof(uint16_t))))
		goto out;
	/* no reader trusts the fields while they change */
	atomic_store_explicit(&ns->vkey, KV_NSVIEW_NONE, memory_order_relaxed);
	kv_viewarr *a = atomic_load_explicit(&ns->varr, memory_order_relaxed);
	if (!a || a->cap < n) {
		uint32_t cap = a ? a->cap : 8;
		while (cap < n)
			cap *= 2;
		kv_viewarr *b = kv_mem_realloc(env, NULL, sizeof *b + (size_t)cap * sizeof b->p[0]);
		if (!b)
			goto out;
		b->older = a;
		b->cap = cap;
		for (uint32_t i = 0; i < cap; i++)
			atomic_init(&b->p[i], &kv_view_dummy);
		a = b;
		atomic_store_explicit(&ns->varr, a, memory_order_release);
	}
	for (uint32_t i = 0; i < n; i++) {
		kv_shard *sh = view_shard(env, arr, i);
		if (!sh)
			goto out; /* the array changed under us: gen has moved */
		atomic_store_explicit(&a->p[i], sh, memory_order_relaxed);
	}
	/* route, then vn (never above the capacity of the array published
	 * before it), then the key */
	atomic_store_explicit(&ns->vroute, n > 1 ? (const uint16_t *)kv_ptr(env, route) : view_route_one,
	                      memory_order_relaxed);
	atomic_store_explicit(&ns->vn, n, memory_order_release);
	if (!kv_ns_ref_valid(&ref))
		goto out; /* what we read may be another gen's: publish nothing */
	atomic_store_explicit(&ns->vkey, key, memory_order_release);
	ok = true;
out:
	kv_spin_unlock(&ns->vlock);
	return ok;
}

KV_API int kv_ns_open(kv_env *env, const char *name, kv_ns **out)
{
	*out = NULL;
	int rc = kv_ns_valid_name(name);
	if (rc != KV_OK)
		return rc;
	uint32_t idx, g;
	if ((rc = kv_ns_find_slot(env, name, &idx, &g)) != KV_OK)
		return rc;
	kv_ns *ns = kv_mem_realloc(env, NULL, sizeof *ns);
	if (!ns)
		return KV_ENOMEM;
	memset(ns, 0, sizeof *ns);
	ns->env = env;
	strcpy(ns->name, name);
	atomic_store(&ns->bound, (uint64_t)idx << 32 | g);
	atomic_store(&ns->vkey, KV_NSVIEW_NONE);
	ns->base = env->base;
	ns->units = env->size / KV_UNIT;
	ns->elim = env->size - sizeof(kv_entry) - 8;
	ns->slots = env->slots;
	atomic_store(&ns->vroute, view_route_one);
	*out = ns;
	return KV_OK;
}

KV_API void kv_ns_close(kv_ns *ns)
{
	if (!ns)
		return;
	for (kv_viewarr *a = atomic_load(&ns->varr), *older; a; a = older) {
		older = a->older;
		kv_mem_realloc(ns->env, a, 0);
	}
	kv_mem_realloc(ns->env, ns, 0);
}

KV_API const char *kv_ns_name(const kv_ns *ns)
{
	return ns->name;
}

KV_API int kv_ns_configure(kv_ns *ns, const kv_ns_config *cfg)
{
	int rc = kv_ns_check_config(cfg);
	if (rc != KV_OK)
		return rc;
	kv_env *env = ns->env;
	kv_spin_lock(&env->r->admin);
	kv_nsref ref;
	rc = kv_ns_ref(ns, &ref);
	if (rc == KV_OK)
		apply_config(ref.slot, cfg);
	kv_spin_unlock(&env->r->admin);
	return rc;
}

/* Every shard is locked at once, so the flush is atomic; each shard's table is
 * swapped for an empty one under its lock (O(1)) and the old entries are freed
 * after the locks are released.  A shard that a snapshot is copying keeps its
 * pre-images, so it is cleared in place (O(its keys)), as it is when a new table
 * or the host's memory for the list cannot be had. */
KV_API int kv_ns_flush(kv_ns *ns)
{
	kv_env *env = ns->env;
	kv_nsref ref;
	kv_lockset *ls = kv_mem_realloc(env, NULL, sizeof *ls);
	kv_detached *dt = kv_mem_realloc(env, NULL, KV_MAX_SHARDS * sizeof *dt);
	if (!ls) {
		kv_mem_realloc(env, dt, 0);
		return KV_ENOMEM;
	}
	int rc;
	for (;;) {
		if ((rc = kv_ns_ref(ns, &ref)) != KV_OK)
			goto out;
		kv_lockset_init(ls);
		uint32_t n = atomic_load(&ref.slot->nshards);
		for (uint32_t i = 0; i < n; i++)
			lockset_bit(ls, i);
		if (kv_lockset_lock(&ref, ls))
			break;
	}
	/* the shards locked, not nshards again: a resize may publish more meanwhile */
	uint32_t n = ls->nheld, ndt = 0;
	for (uint32_t i = 0; i < n && rc == KV_OK; i++) {
		kv_shard *sh = kv_lockset_at(&ref, ls, i);
		rc = kv_shard_reserve_preserve_locked(env, sh, sh->count);
	}
	if (rc == KV_OK) {
		kv_lockset_write(&ref, ls, true);
		for (uint32_t i = 0; i < n; i++) {
			kv_shard *sh = kv_lockset_at(&ref, ls, i);
			uint64_t entries = sh->bytes - kv_shard_table_bytes(sh);
			uint32_t cnt = sh->count;
			if (!dt || sh->snap_pending || kv_shard_detach_locked(env, sh, true, &dt[ndt]) != KV_OK)
				kv_shard_clear_locked(env, sh);
			else
				ndt++;
			kv_ns_charge(ref.slot, sh, -(int64_t)cnt, -(int64_t)entries);
		}
		kv_redo_ns(env, ref.slot, KV_REDO_FLUSH);
		kv_lockset_write(&ref, ls, false);
	}
	kv_lockset_unlock(&ref, ls);
	kv_tables_free(env, dt, ndt);
	if (rc == KV_OK)
		kv_emit(env, ns, "", 0, KV_EV_FLUSH);
out:
	kv_mem_realloc(env, dt, 0);
	kv_mem_realloc(env, ls, 0);
	return rc;
}

static void fill_stats(kv_env *env, uint32_t idx, kv_ns_stats *st)
{
	kv_nsslot *sl = kv_slot(env, idx);
	kv_nsref ref = {env, sl, atomic_load(&sl->gen), idx};
	memset(st, 0, sizeof *st);
	memcpy(st->name, sl->name, sizeof st->name);
	st->config.shards = atomic_load(&sl->nshards);
	st->config.max_keys = atomic_load(&sl->max_keys);
	st->config.max_memory = atomic_load(&sl->max_memory);
	st->config.default_ttl_ms = atomic_load(&sl->default_ttl);
	st->config.max_key_size = atomic_load(&sl->max_key_size);
	st->config.max_value_size = atomic_load(&sl->max_value_size);
	st->config.eviction = atomic_load(&sl->eviction);
	st->config.flags = atomic_load(&sl->redo);
	st->keys = atomic_load(&sl->keys);
	st->bytes = atomic_load(&sl->bytes);
	st->expired = atomic_load(&sl->expired);
	st->evicted = atomic_load(&sl->evicted);
	for (uint32_t i = 0; i < st->config.shards; i++) {
		kv_shard *sh = kv_ns_shard(&ref, i);
		if (sh) {
			st->hits += atomic_load_explicit(&sh->hits, memory_order_relaxed);
			st->misses += atomic_load_explicit(&sh->misses, memory_order_relaxed);
		}
	}
}

KV_API int kv_ns_stats_get(kv_ns *ns, kv_ns_stats *out)
{
	kv_nsref ref;
	int rc = kv_ns_ref(ns, &ref);
	if (rc != KV_OK)
		return rc;
	fill_stats(ns->env, ref.slot_index, out);
	return kv_ns_ref_valid(&ref) ? KV_OK : KV_ENONS;
}

static int cmp_stats(const void *a, const void *b)
{
	return strcmp(((const kv_ns_stats *)a)->name, ((const kv_ns_stats *)b)->name);
}

/* Every live namespace's stats, sorted by name, into a new array of
 * max_namespaces entries (the list cannot be longer, so one pass under the
 * admin lock is a consistent cut).  *all NULL when collect is false. */
static int list_collect(kv_env *env, bool collect, kv_ns_stats **all, size_t *n)
{
	kv_region *r = env->r;
	size_t cnt = 0;
	*all = NULL;
	if (collect && !(*all = kv_mem_realloc(env, NULL, sizeof **all * (r->max_ns ? r->max_ns : 1))))
		return KV_ENOMEM;
	kv_spin_lock(&r->admin);
	for (uint32_t i = 0; i < r->max_ns; i++) {
		if (!kv_slot(env, i)->live)
			continue;
		if (*all)
			fill_stats(env, i, &(*all)[cnt]);
		cnt++;
	}
	kv_spin_unlock(&r->admin);
	if (*all)
		qsort(*all, cnt, sizeof **all, cmp_stats);
	*n = cnt;
	return KV_OK;
}

KV_API int kv_ns_list(kv_env *env, kv_ns_stats *out, size_t cap, size_t *n)
{
	kv_ns_stats *all;
	*n = 0;
	int rc = list_collect(env, cap > 0, &all, n);
	if (rc == KV_OK && all) {
		memcpy(out, all, sizeof *all * (*n < cap ? *n : cap));
		kv_mem_realloc(env, all, 0);
	}
	return rc;
}

/* kv_ns_list_all: the collected array itself, shrunk to fit; replaces every
 * host's size-then-fill loop around kv_ns_list. */
KV_API int kv_ns_list_all(kv_env *env, kv_ns_stats **out, size_t *n)
{
	kv_ns_stats *all;
	*out = NULL;
	*n = 0;
	size_t cnt;
	int rc = list_collect(env, true, &all, &cnt);
	if (rc != KV_OK)
		return rc;
	if (cnt == 0) {
		kv_mem_realloc(env, all, 0);
		return KV_OK;
	}
	kv_ns_stats *fit = kv_mem_realloc(env, all, cnt * sizeof *all);
	*out = fit ? fit : all; /* a failed shrink keeps the larger array */
	*n = cnt;
	return KV_OK;
}

KV_API void kv_ns_list_free(kv_env *env, kv_ns_stats *list)
{
	if (list)
		kv_mem_realloc(env, list, 0);
}

/* -------------------------------------------------------------- resize */
/* A resize moves an old shard's keys in bounded steps, in hash order: each step
 * takes the keys whose 31-bit hash lies in [mig_hash, end), end being
 * KV_MIGRATE_BUCKETS home buckets further, and raises mig_hash to end.  Routing
 * (kv_ns_read_shard, kv_ns_lock_shard, kv_lockset_shard) sends a key of an
 * unfinished old shard to its new shard once its hash is below the mark. */
#define KV_MIGRATE_BUCKETS 64u

typedef struct mig_range {
	uint64_t w, wend, b0, b1; /* hashes [w, wend), home buckets [b0, b1) */
} mig_range;

/* Visit the entries of s in range (the buckets and the cluster that runs on
 * past them, as kv_scan walks) that move under m shards.  fn returns false to
 * stop; pos is the walk position (the slot is pos & mask). */
typedef bool (*mig_fn)(kv_nsref *ref, kv_shard *s, uint64_t pos, kv_entry *e, uint64_t h,
                       uint32_t to, void *arg);
static uint64_t mig_walk(kv_nsref *ref, kv_shard *s, const mig_range *g, uint32_t m, mig_fn fn,
                         void *arg, bool removes)
{
	kv_env *env = ref->env;
	_Atomic uint64_t *tab = kv_ptr(env, atomic_load_explicit(&s->table, memory_order_relaxed));
	uint32_t mask = s->mask;
	uint64_t pos;
	for (pos = g->b0; pos < g->b0 + (uint64_t)mask + 1;) {
		uint64_t v = atomic_load_explicit(&tab[pos & mask], memory_order_relaxed);
		if (!v) {
			if (pos >= g->b1)
				break;
			pos++;
			continue;
		}
		uint32_t hv = (uint32_t)(v >> 32) & ~1u;
		kv_entry *e = kv_ptr(env, (kv_off)v);
		if (hv >= g->w && hv < g->wend) {
			uint64_t h = kv_hash(kv_entry_key(e), e->klen);
			uint32_t to = kv_route(h, m);
			if (to != s->index) {
				if (!fn(ref, s, pos, e, h, to, arg))
					break;
				if (removes)
					continue; /* the slot now holds a shifted-back key, or is empty */
			}
		}
		pos++;
	}
	return pos;
}

static bool mig_dest(kv_nsref *ref, kv_shard *s, uint64_t pos, kv_entry *e, uint64_t h, uint32_t to,
                     void *arg)
{
	(void)ref, (void)s, (void)pos, (void)e, (void)h;
	lockset_bit(arg, to);
	return true;
}

static bool mig_copy(kv_nsref *ref, kv_shard *s, uint64_t pos, kv_entry *e, uint64_t h, uint32_t to,
                     void *arg)
{
	(void)s, (void)pos;
	kv_env *env = ref->env;
	kv_shard *d = kv_ns_shard(ref, to);
	size_t sz = kv_entry_size(e->klen, e->vlen, atomic_load(&e->flags));
	kv_off no = kv_alloc(env, sz);
	if (!no || kv_shard_insert_locked(env, d, kv_hash32(h), no) != KV_OK) {
		if (no)
			kv_free(env, no, sz);
		*(int *)arg = KV_ENOMEM;
		return false;
	}
	kv_entry_copy(kv_ptr(env, no), e, sz);
	kv_coll_entry_dup(env, kv_ptr(env, no));
	d->bytes += kv_entry_charge(env, kv_ptr(env, no));
	return true;
}

static bool mig_uncopy(kv_nsref *ref, kv_shard *s, uint64_t pos, kv_entry *e, uint64_t h, uint32_t to,
                       void *arg)
{
	(void)s;
	if (pos >= *(uint64_t *)arg)
		return false;
	kv_env *env = ref->env;
	kv_shard *d = kv_ns_shard(ref, to);
	uint32_t p;
	kv_entry *c = kv_shard_find_locked(env, d, kv_hash32(h), kv_entry_key(e), e->klen, &p);
	if (c) {
		kv_shard_remove_locked(env, d, p);
		d->bytes -= kv_entry_charge(env, c);
		kv_entry_free(env, c);
	}
	return true;
}

static bool mig_drop(kv_nsref *ref, kv_shard *s, uint64_t pos, kv_entry *e, uint64_t h, uint32_t to,
                     void *arg)
{
	(void)h, (void)to, (void)arg;
	kv_env *env = ref->env;
	s->bytes -= kv_entry_charge(env, e);
	kv_shard_remove_locked(env, s, (uint32_t)(pos & s->mask));
	kv_entry_free(env, e);
	return true;
}

/* One step of moving old shard s's keys to their shards under m.  Locks s, then
 * the new shards this step's keys go to (all above s: lock order holds).
 * KV_ENOMEM with nothing moved if a copy cannot be made.  *done once s is
 * wholly migrated (stamped with epoch). */
static int migrate_step(kv_nsref *ref, kv_shard *s, uint32_t m, uint32_t epoch, kv_lockset *ls,
                        bool *done)
{
	kv_env *env = ref->env;
	kv_spin_lock(&s->lock);
	uint32_t shift = s->shift;
	uint64_t cap = (uint64_t)s->mask + 1;
	mig_range g;
	g.w = atomic_load(&s->mig_hash);
	g.b0 = g.w >> shift;
	g.b1 = g.b0 + KV_MIGRATE_BUCKETS < cap ? g.b0 + KV_MIGRATE_BUCKETS : cap;
	g.wend = g.b1 << shift;
	kv_lockset_init(ls);
	mig_walk(ref, s, &g, m, mig_dest, ls, false);
	for (uint32_t i = ls->lo; i < ls->hi; i++)
		if (ls->bits[i / 64] >> (i % 64) & 1)
			kv_spin_lock(&kv_ns_shard(ref, i)->lock);
	kv_shard_write_begin(s);
	for (uint32_t i = ls->lo; i < ls->hi; i++)
		if (ls->bits[i / 64] >> (i % 64) & 1)
			kv_shard_write_begin(kv_ns_shard(ref, i));
	int rc = KV_OK;
	uint64_t stop = mig_walk(ref, s, &g, m, mig_copy, &rc, false);
	if (rc != KV_OK) {
		mig_walk(ref, s, &g, m, mig_uncopy, &stop, false);
	} else {
		mig_walk(ref, s, &g, m, mig_drop, NULL, true);
		*done = g.b1 >= cap;
		if (*done) { /* stamped first: a reader that still sees the mark retries on seq */
			atomic_store(&s->migrated, epoch);
			atomic_store_explicit(&s->mig_hash, 0, memory_order_release);
		} else {
			atomic_store_explicit(&s->mig_hash, (uint32_t)g.wend, memory_order_release);
		}
	}
	for (uint32_t i = ls->hi; i-- > ls->lo;)
		if (ls->bits[i / 64] >> (i % 64) & 1) {
			kv_shard *d = kv_ns_shard(ref, i);
			kv_shard_write_end(d);
			kv_spin_unlock(&d->lock);
		}
	kv_shard_write_end(s);
	kv_spin_unlock(&s->lock);
	(void)env;
	return rc;
}

KV_API int kv_ns_resize(kv_ns *ns, uint32_t m)
{
	kv_env *env = ns->env;
	kv_region *r = env->r;
	kv_nsref ref;
	kv_spin_lock(&r->admin);
	int rc = kv_ns_ref(ns, &ref);
	if (rc != KV_OK) {
		kv_spin_unlock(&r->admin);
		return rc;
	}
	kv_nsslot *sl = ref.slot;
	uint32_t n = atomic_load(&sl->nshards), old = atomic_load(&sl->old_nshards);
	/* an interrupted resize to the same count may be resumed */
	bool resume = old != 0 && m == n;
	if (!resume && (m <= n || m > KV_MAX_SHARDS)) {
		kv_spin_unlock(&r->admin);
		return KV_ESHARDS;
	}
	uint32_t z = 0;
	if (!atomic_compare_exchange_strong(&sl->busy, &z, 1)) {
		kv_spin_unlock(&r->admin);
		return KV_EBUSY;
	}
	if (!resume) {
		kv_off oldarr = atomic_load(&sl->shards);
		kv_off arr = kv_alloc(env, (size_t)m * sizeof(kv_off));
		if (!arr) {
			atomic_store(&sl->busy, 0);
			kv_spin_unlock(&r->admin);
			return KV_ENOMEM;
		}
		kv_off *a = kv_ptr(env, arr);
		memcpy(a, kv_ptr(env, oldarr), (size_t)n * sizeof(kv_off));
		rc = make_shards(env, ref.slot_index, a, n, m);
		kv_off route = 0;
		if (rc == KV_OK && !(route = kv_route_build(env, m))) {
			for (uint32_t j = n; j < m; j++)
				kv_shard_release(env, kv_ptr(env, a[j]));
			rc = KV_ENOMEM;
		}
		if (rc != KV_OK) {
			kv_free(env, arr, (size_t)m * sizeof(kv_off));
			atomic_store(&sl->busy, 0);
			kv_spin_unlock(&r->admin);
			return rc;
		}
		/* publish: readers that saw the old array fail their gen check */
		atomic_fetch_add(&sl->gen, 1);
		atomic_fetch_add(&sl->resize_epoch, 1);
		kv_off oldroute = atomic_load(&sl->route);
		atomic_store(&sl->shards, arr);
		atomic_store(&sl->route, route);
		atomic_store(&sl->old_nshards, n);
		atomic_store(&sl->nshards, m);
		atomic_fetch_add_explicit(&sl->gen, 1, memory_order_release);
		kv_route_free(env, oldroute);
		kv_free(env, oldarr, (size_t)n * sizeof(kv_off));
		old = n;
		n = m;
		ns->bound = (uint64_t)ref.slot_index << 32 | atomic_load(&sl->gen);
	}
	kv_spin_unlock(&r->admin);
	rc = kv_ns_ref(ns, &ref);
	/* size the new shards for their share up front: movers arrive in hash order */
	uint64_t share = atomic_load(&sl->keys) / m + 64;
	for (uint32_t j = old; j < m && rc == KV_OK; j++) {
		kv_shard *d = kv_ns_shard(&ref, j);
		kv_spin_lock(&d->lock);
		kv_shard_write_begin(d);
		rc = kv_shard_reserve_locked(env, d, (uint32_t)(share + share / 8));
		kv_shard_write_end(d);
		kv_spin_unlock(&d->lock);
	}
	uint32_t epoch = atomic_load(&sl->resize_epoch);
	kv_lockset *ls = kv_mem_realloc(env, NULL, sizeof *ls);
	if (!ls && rc == KV_OK)
		rc = KV_ENOMEM;
	for (uint32_t s = 0; s < old && rc == KV_OK; s++) {
		kv_shard *sh = kv_ns_shard(&ref, s);
		for (bool done = atomic_load(&sh->migrated) == epoch; !done && rc == KV_OK;) {
			rc = migrate_step(&ref, sh, m, epoch, ls, &done);
			kv_lock_pause();
		}
	}
	kv_mem_realloc(env, ls, 0);
	if (rc == KV_OK)
		atomic_store(&sl->old_nshards, 0);
	atomic_store(&sl->busy, 0);
	return rc;
}
