/*
 * coll.c -- the collection core: headers and their references, the reap list,
 * objects and their copy-on-write for snapshots, the open/close protocol every
 * kind's public function follows, pins, and the kind-independent calls of
 * kv.h (kv_kind, kv_encoding, kv_card, kv_cscan, kv_elems_free).  coll.h says
 * why it is built this way.
 */
#include "coll.h"

#include <sched.h>

const kv_kind_ops *kv_kind_ops_of(int kind)
{
	switch (kind) {
	case KV_T_HASH: return &kv_hash_ops;
	case KV_T_SET:  return &kv_set_ops;
	case KV_T_ZSET: return &kv_zset_ops;
	case KV_T_LIST: return &kv_list_ops;
	default:        return NULL;
	}
}

/* ------------------------------------------------------------- headers */
uint64_t kv_coll_random(void)
{
	static _Atomic uint64_t ctr;
	uint64_t x = atomic_fetch_add_explicit(&ctr, 0x9e3779b97f4a7c15ull, memory_order_relaxed);
	x ^= (uint64_t)kv_now_ms() * 0xbf58476d1ce4e5b9ull ^ (uint64_t)(uintptr_t)&x;
	return XXH3_64bits(&x, sizeof x);
}

kv_chdr *kv_chdr_new(kv_env *env, int kind, int enc)
{
	kv_off o = kv_alloc(env, sizeof(kv_chdr));
	if (!o)
		return NULL;
	kv_chdr *h = kv_ptr(env, o);
	memset(h, 0, sizeof *h);
	h->epoch = 1;
	h->rtag = KV_REAP_HDR;
	h->kind = (uint8_t)kind;
	h->enc = (uint8_t)enc;
	atomic_store_explicit(&h->refs, 1, memory_order_relaxed);
	h->bytes = kv_alloc_size(sizeof(kv_chdr));
	h->aux[0] = kv_coll_random(); /* a dict's hash seed: no flooding by chosen fields */
	return h;
}

static void grave_free_chain(kv_env *env, kv_off g)
{
	while (g) {
		kv_cgrave *c = kv_ptr(env, g);
		kv_off older = c->older;
		for (uint32_t i = 0; i < c->n; i++)
			kv_free(env, c->item[i].off, c->item[i].size);
		kv_free(env, g, sizeof *c);
		g = older;
	}
}

void kv_chdr_destroy(kv_env *env, kv_chdr *h)
{
	const kv_kind_ops *k = kv_kind_ops_of(h->kind);
	if (k && h->body)
		k->free(env, h);
	grave_free_chain(env, h->view.grave);
	kv_free(env, kv_offof(env, h), sizeof *h);
}

/* The reap list: a stack in the region under its own spinlock (O(1) holds). */
static void reap_push(kv_env *env, kv_off o, kv_off *link)
{
	kv_region *r = env->r;
	kv_spin_lock(&r->reap_lock);
	*link = atomic_load_explicit(&r->reap_head, memory_order_relaxed);
	atomic_store_explicit(&r->reap_head, o, memory_order_relaxed);
	kv_spin_unlock(&r->reap_lock);
}

void kv_coll_reap(kv_env *env)
{
	kv_region *r = env->r;
	if (!atomic_load_explicit(&r->reap_head, memory_order_relaxed))
		return;
	kv_spin_lock(&r->reap_lock);
	kv_off o = atomic_load_explicit(&r->reap_head, memory_order_relaxed);
	atomic_store_explicit(&r->reap_head, 0, memory_order_relaxed);
	kv_spin_unlock(&r->reap_lock);
	while (o) {
		kv_chdr *h = kv_ptr(env, o); /* both node kinds share the first three fields */
		kv_off next = h->next;
		if (h->rtag == KV_REAP_HDR)
			kv_chdr_destroy(env, h);
		else
			grave_free_chain(env, o);
		o = next;
	}
}

void kv_coll_unref(kv_env *env, kv_chdr *h)
{
	if (atomic_fetch_sub_explicit(&h->refs, 1, memory_order_acq_rel) == 1)
		reap_push(env, kv_offof(env, h), &h->next);
}

void kv_coll_entry_gone(kv_env *env, kv_entry *e)
{
	if (kv_is_kind(e->type))
		kv_coll_unref(env, kv_chdr_of(env, e));
}

void kv_coll_entry_dup(kv_env *env, kv_entry *e)
{
	if (kv_is_kind(e->type))
		atomic_fetch_add_explicit(&kv_chdr_of(env, e)->refs, 1, memory_order_relaxed);
}

/* ------------------------------------------------------ views (snapshots) */
static void thaw(kv_env *env, kv_chdr *h)
{
	kv_off g = h->view.grave;
	h->view.grave = 0;
	atomic_store_explicit(&h->view.state, KV_VIEW_NONE, memory_order_relaxed);
	if (g) {
		kv_cgrave *c = kv_ptr(env, g);
		reap_push(env, g, &c->next);
	}
}

/* Is h's frozen view the one the namespace's running save uses? */
static bool view_current(kv_nsslot *sl, const kv_chdr *h)
{
	return h->view.gen == atomic_load_explicit(&sl->snap_gen, memory_order_acquire) &&
	       atomic_load_explicit(&sl->snap_live, memory_order_acquire);
}

void kv_coll_freeze_locked(kv_env *env, kv_nsslot *sl, kv_chdr *h)
{
	uint32_t st = atomic_load_explicit(&h->view.state, memory_order_acquire);
	if (st == KV_VIEW_FROZEN && view_current(sl, h))
		return;
	if (st != KV_VIEW_NONE) /* a former save's (done, failed or ended), not thawed yet */
		thaw(env, h);
	h->view.gen = atomic_load_explicit(&sl->snap_gen, memory_order_acquire);
	h->view.enc = h->enc;
	h->view.body = h->body;
	h->view.card = h->card;
	memcpy(h->view.aux, h->aux, sizeof h->aux);
	h->epoch++;
	atomic_store_explicit(&h->view.state, KV_VIEW_FROZEN, memory_order_release);
}

void kv_coll_view_done(kv_env *env, kv_entry *e)
{
	if (!kv_is_kind(e->type))
		return;
	kv_chdr *h = kv_chdr_of(env, e);
	uint32_t st = KV_VIEW_FROZEN;
	atomic_compare_exchange_strong_explicit(&h->view.state, &st, KV_VIEW_DONE, memory_order_release,
	                                        memory_order_relaxed);
}

/* Room in the graveyard for n more objects (before the change). */
static int grave_reserve(kv_env *env, kv_chdr *h, uint32_t n)
{
	uint32_t room = 0;
	if (h->view.grave)
		room = KV_GRAVE_SLOTS - ((kv_cgrave *)kv_ptr(env, h->view.grave))->n;
	/* one chunk at most: releases fill the newest, and past it
	 * kv_cobj_release adds chunks itself (a larger n looped for ever) */
	if (n > KV_GRAVE_SLOTS)
		n = KV_GRAVE_SLOTS;
	while (room < n) {
		kv_off o = kv_alloc(env, sizeof(kv_cgrave));
		if (!o)
			return KV_ENOMEM;
		kv_cgrave *c = kv_ptr(env, o);
		c->epoch = 0;
		c->next = 0;
		c->rtag = KV_REAP_GRAVE;
		c->n = 0;
		c->older = h->view.grave;
		h->view.grave = o;
		room = KV_GRAVE_SLOTS; /* the slack of the older chunk is given up */
	}
	return KV_OK;
}

/* ------------------------------------------------------------- objects */
void *kv_cobj_alloc(kv_env *env, kv_chdr *h, size_t size)
{
	kv_off o = kv_alloc(env, size);
	if (!o)
		return NULL;
	uint32_t *p = kv_ptr(env, o);
	*p = h->epoch;
	h->bytes += kv_alloc_size(size);
	return p;
}

void kv_cobj_release(kv_env *env, kv_chdr *h, void *obj, size_t size)
{
	h->bytes -= kv_alloc_size(size);
	if (kv_cobj_shared(h, obj)) {
		kv_cgrave *c = h->view.grave ? kv_ptr(env, h->view.grave) : NULL;
		if (c && c->n == KV_GRAVE_SLOTS && c->older) {
			/* the reservation made room in a newer chunk: cannot happen, but
			 * never lose the object: fall through to a fresh chunk */
		}
		if (!c || c->n == KV_GRAVE_SLOTS) {
			if (grave_reserve(env, h, 1) != KV_OK)
				return; /* leaked rather than freed under the saver (unreachable: reserved) */
			c = kv_ptr(env, h->view.grave);
		}
		c->item[c->n].off = kv_offof(env, obj);
		c->item[c->n].size = (uint32_t)size;
		c->n++;
		return;
	}
	kv_free(env, kv_offof(env, obj), size);
}

void *kv_cobj_writable(kv_env *env, kv_chdr *h, void *obj, size_t size)
{
	if (!kv_cobj_shared(h, obj))
		return obj;
	void *n = kv_cobj_alloc(env, h, size);
	if (!n)
		return NULL;
	memcpy((char *)n + 4, (const char *)obj + 4, size - 4);
	kv_cobj_release(env, h, obj, size);
	return n;
}

/* --------------------------------------------------------- operations */
static int check_key(const void **key, size_t klen)
{
	if (!*key) {
		if (klen)
			return KV_EINVAL;
		*key = "";
	}
	return klen > KV_KEY_SIZE_LIMIT ? KV_EKEYSIZE : KV_OK;
}

/* Wait with no lock held until *word is 0 (a pin count, or the writers
 * waiting for one). */
static void wait_zero(_Atomic uint32_t *word)
{
	for (unsigned spins = 0; atomic_load_explicit(word, memory_order_acquire); spins++) {
		if (spins < 64)
			kv_cpu_relax();
		else
			sched_yield();
	}
}

static void wait_unpinned(kv_env *env, kv_chdr *h)
{
	wait_zero(&h->pin);
	kv_coll_unref(env, h);
	kv_coll_reap(env);
}

/* A writer waiting on h's pins: new pinners wait for it (no starvation). */
static void writer_waits(kv_env *env, kv_chdr **waited, kv_chdr *h)
{
	if (*waited == h)
		return;
	atomic_fetch_add_explicit(&h->refs, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->wwait, 1, memory_order_acq_rel);
	if (*waited) { /* the key now names another header: stop holding the old one back */
		atomic_fetch_sub_explicit(&(*waited)->wwait, 1, memory_order_release);
		kv_coll_unref(env, *waited);
	}
	*waited = h;
}

static void writer_done(kv_env *env, kv_chdr **waited)
{
	if (*waited) {
		atomic_fetch_sub_explicit(&(*waited)->wwait, 1, memory_order_release);
		kv_coll_unref(env, *waited);
		*waited = NULL;
	}
}

int kv_coll_open(kv_ns *ns, const void *key, size_t klen, int kind, int mode, kv_cop *op)
{
	int rc = check_key(&key, klen);
	if (rc != KV_OK)
		return rc;
	kv_env *env = ns->env;
	kv_chdr *waited = NULL; /* a header whose wwait this writer raised */
	for (;;) {
		memset(op, 0, offsetof(kv_cop, key));
		op->key = key;
		op->klen = klen;
		op->kind = kind;
		op->write = mode == KV_COPEN_WRITE;
		op->created = op->changed = false;
		op->dead = NULL;
		op->wx = &op->w;
		rc = kv_write_begin(ns, key, klen, &op->w, &op->sh, &op->h32, &op->pos, &op->e);
		if (rc != KV_OK) {
			writer_done(env, &waited);
			return rc;
		}
		op->h = NULL;
		op->bytes0 = 0;
		if (op->e && kind && op->e->type != kind) {
			op->e = NULL;
			writer_done(env, &waited); /* O(1) under the lock */
			kv_write_end(&op->w, op->sh, key, klen, KV_EWRONGTYPE, 0);
			return KV_EWRONGTYPE;
		}
		if (!op->e || !kv_is_kind(op->e->type)) {
			writer_done(env, &waited);
			return KV_OK; /* no key, or (kind 0) a string: the caller looks at e */
		}
		kv_chdr *h = op->h = kv_chdr_of(env, op->e);
		op->bytes0 = (int64_t)h->bytes;
		if (mode == KV_COPEN_PIN && atomic_load_explicit(&h->wwait, memory_order_acquire)) {
			/* a writer waits for this key's pins: let it go first */
			atomic_fetch_add_explicit(&h->refs, 1, memory_order_relaxed);
			kv_write_end(&op->w, op->sh, key, klen, KV_OK, 0);
			wait_zero(&h->wwait);
			kv_coll_unref(env, h);
			kv_coll_reap(env);
			continue;
		}
		if (!op->write || !atomic_load_explicit(&h->pin, memory_order_acquire)) {
			writer_done(env, &waited);
			return KV_OK;
		}
		/* pinned by a whole reader: wait with no lock held, then start over */
		writer_waits(env, &waited, h);
		atomic_fetch_add_explicit(&h->refs, 1, memory_order_relaxed);
		kv_write_end(&op->w, op->sh, key, klen, KV_OK, 0);
		wait_unpinned(env, h);
	}
}

int kv_coll_create(kv_cop *op, int enc)
{
	int64_t exp;
	bool del;
	int rc = kv_write_expiry(op->wx, KV_EXPIRE_DEFAULT, NULL, &exp, &del);
	return rc == KV_OK ? kv_coll_create_at(op, enc, exp) : rc;
}

int kv_coll_create_at(kv_cop *op, int enc, int64_t exp)
{
	kv_env *env = op->wx->ns->env;
	if (op->klen > atomic_load_explicit(&op->wx->ref.slot->max_key_size, memory_order_relaxed))
		return KV_EKEYSIZE;
	kv_chdr *h = kv_chdr_new(env, op->kind, enc);
	if (!h)
		return KV_ENOMEM;
	atomic_store_explicit(&h->refs, 0, memory_order_relaxed); /* the entry's dup takes the one */
	kv_croot r = {KV_CROOT_MAGIC, kv_offof(env, h)};
	val_arg a = {&r, sizeof r, 0};
	/* an empty collection logs nothing: its first element's record creates
	 * it on replay (kv.h REDO LOG) */
	uint8_t kind0 = op->wx->redo_kind;
	op->wx->redo_kind = KV_REDO_ELEM;
	int rc = kv_put_locked(op->wx, op->sh, op->h32, op->key, op->klen, NULL, op->pos, sizeof r,
	                       op->kind, exp, kv_fill_copy, &a);
	op->wx->redo_kind = kind0;
	if (rc != KV_OK) {
		kv_chdr_destroy(env, h);
		return rc;
	}
	op->e = kv_shard_find_locked(env, op->sh, op->h32, op->key, op->klen, &op->pos);
	op->h = h;
	op->bytes0 = (int64_t)h->bytes; /* kv_put_locked charged the header */
	op->created = true;
	return KV_OK;
}

int kv_coll_mutate(kv_cop *op, uint32_t releases)
{
	kv_env *env = op->wx->ns->env;
	kv_chdr *h = op->h;
	kv_nsslot *sl = op->wx->ref.slot;
	uint32_t st = atomic_load_explicit(&h->view.state, memory_order_acquire);
	if (st == KV_VIEW_DONE || (st == KV_VIEW_FROZEN && !view_current(sl, h)))
		thaw(env, h); /* its save wrote it, or ended */
	if (op->sh->snap_pending && !(atomic_load_explicit(&op->e->flags, memory_order_relaxed) & KV_E_SNAPNEW))
		kv_coll_freeze_locked(env, sl, h);
	if (atomic_load_explicit(&h->view.state, memory_order_relaxed) == KV_VIEW_FROZEN &&
	    grave_reserve(env, h, releases) != KV_OK)
		return KV_ENOMEM;
	h->ver++;
	return KV_OK;
}

int kv_coll_reserve(kv_cop *op, int64_t more)
{
	if (more <= 0)
		return KV_OK;
	int rc = kv_make_room_locked(op->wx, op->sh, more, 0, op->e);
	if (op->e) /* eviction may have shifted slots */
		kv_shard_find_locked(op->wx->ns->env, op->sh, op->h32, op->key, op->klen, &op->pos);
	return rc;
}

int kv_coll_close(kv_cop *op, int rc, int ev)
{
	kv_env *env = op->w.ns->env;
	bool deleted = false;
	if (op->h && op->e && kv_is_kind(op->e->type)) {
		int64_t d = (int64_t)op->h->bytes - op->bytes0;
		if (d)
			kv_ns_charge(op->w.ref.slot, op->sh, 0, d);
		if (op->h->card == 0) {
			kv_entry *e = kv_shard_find_locked(env, op->sh, op->h32, op->key, op->klen, &op->pos);
			if (e) {
				kv_w_remove(&op->w, op->sh, op->pos, e);
				deleted = true;
			}
		}
	}
	bool fire = rc == KV_OK && op->changed;
	kv_write_end(&op->w, op->sh, op->key, op->klen, rc, fire ? ev : 0);
	if (fire && deleted) /* emptied: the op's event, then del, as Redis */
		kv_emit(env, op->w.ns, op->key, op->klen, KV_EV_DEL);
	return rc;
}

void kv_coll_pin(kv_cop *op)
{
	atomic_fetch_add_explicit(&op->h->refs, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&op->h->pin, 1, memory_order_acq_rel);
}

void kv_coll_unpin(kv_env *env, kv_chdr *h)
{
	atomic_fetch_sub_explicit(&h->pin, 1, memory_order_release);
	kv_coll_unref(env, h);
	kv_coll_reap(env);
}

/* ------------------------------------------------------- multi-key */
int kv_coll_open_many(kv_ns *ns, const kv_val *keys, size_t n, kv_cmulti *m)
{
	kv_env *env = ns->env;
	m->n = n;
	m->ls = NULL;
	m->ops = NULL;
	for (size_t i = 0; i < n; i++) {
		const void *k = keys[i].data;
		int rc = check_key(&k, keys[i].len);
		if (rc != KV_OK)
			return rc;
	}
	uint64_t *hs = kv_mem_realloc(env, NULL, (n ? n : 1) * sizeof *hs);
	m->ls = kv_mem_realloc(env, NULL, sizeof *m->ls);
	m->ops = kv_mem_realloc(env, NULL, (n ? n : 1) * sizeof *m->ops);
	if (!hs || !m->ls || !m->ops) {
		kv_mem_realloc(env, hs, 0);
		kv_mem_realloc(env, m->ls, 0);
		kv_mem_realloc(env, m->ops, 0);
		m->ls = NULL;
		m->ops = NULL;
		return KV_ENOMEM;
	}
	kv_chdr *waited = NULL; /* a header whose wwait this writer raised */
	for (;;) {
		for (size_t i = 0; i < n; i++) {
			const void *k = keys[i].data ? keys[i].data : "";
			hs[i] = kv_hash(k, keys[i].len);
		}
		kv_wctx_init(&m->w, ns);
		int rc = kv_lockset_lock_hashes(ns, &m->w.ref, m->ls, hs, n);
		if (rc != KV_OK) {
			writer_done(env, &waited);
			kv_coll_reap(env);
			kv_mem_realloc(env, hs, 0);
			return rc;
		}
		kv_chdr *pinned = NULL;
		for (size_t i = 0; i < n && !pinned; i++) {
			kv_cop *op = &m->ops[i];
			memset(op, 0, sizeof *op);
			op->wx = &m->w;
			op->key = keys[i].data ? keys[i].data : "";
			op->klen = keys[i].len;
			op->hash = hs[i];
			op->h32 = kv_hash32(hs[i]);
			op->sh = kv_lockset_shard(&m->w.ref, m->ls, hs[i]);
			if (op->sh->snap_pending &&
			    kv_shard_reserve_preserve_locked(env, op->sh, 2 + KV_MAX_VICTIMS) != KV_OK) {
				writer_done(env, &waited);
				kv_lockset_unlock(&m->w.ref, m->ls);
				kv_coll_reap(env);
				kv_mem_realloc(env, hs, 0);
				return KV_ENOMEM;
			}
		}
		for (size_t i = 0; i < n && !pinned; i++) {
			kv_cop *op = &m->ops[i];
			uint32_t pos;
			kv_entry *e = kv_find_live_locked(&m->w, op->sh, op->h32, op->key, op->klen, &pos);
			if (e && kv_is_kind(e->type) && atomic_load_explicit(&kv_chdr_of(env, e)->pin, memory_order_acquire))
				pinned = kv_chdr_of(env, e);
		}
		if (!pinned) {
			writer_done(env, &waited); /* O(1) under the locks */
			kv_mem_realloc(env, hs, 0);
			return KV_OK;
		}
		writer_waits(env, &waited, pinned);
		atomic_fetch_add_explicit(&pinned->refs, 1, memory_order_relaxed);
		kv_lockset_unlock(&m->w.ref, m->ls);
		kv_wctx_emit(&m->w);
		wait_unpinned(env, pinned);
	}
}

int kv_coll_at(kv_cmulti *m, size_t i, int kind, kv_cop **out)
{
	kv_env *env = m->w.ns->env;
	kv_cop *op = &m->ops[i];
	op->e = kv_find_live_locked(&m->w, op->sh, op->h32, op->key, op->klen, &op->pos);
	op->h = NULL;
	op->kind = kind;
	op->write = true;
	*out = op;
	if (op->e && kind && op->e->type != kind)
		return KV_EWRONGTYPE;
	if (op->e && kv_is_kind(op->e->type)) {
		op->h = kv_chdr_of(env, op->e);
		op->bytes0 = (int64_t)op->h->bytes;
	}
	return KV_OK;
}

/* Within a kv_cmulti every op's wx is the multi's write context. */
int kv_coll_store(kv_cmulti *m, size_t i, kv_chdr *h)
{
	kv_env *env = m->w.ns->env;
	kv_cop *op = &m->ops[i];
	uint32_t pos;
	kv_entry *e = kv_find_live_locked(&m->w, op->sh, op->h32, op->key, op->klen, &pos);
	if (!h) {
		if (e)
			kv_w_remove(&m->w, op->sh, pos, e);
		return KV_OK;
	}
	if (op->klen > atomic_load_explicit(&m->w.ref.slot->max_key_size, memory_order_relaxed))
		return KV_EKEYSIZE;
	int64_t exp;
	bool del;
	int rc = kv_write_expiry(&m->w, KV_EXPIRE_DEFAULT, NULL, &exp, &del);
	if (rc != KV_OK)
		return rc;
	rc = kv_make_room_locked(&m->w, op->sh, (int64_t)h->bytes, 0, e);
	if (rc != KV_OK)
		return rc;
	e = kv_shard_find_locked(env, op->sh, op->h32, op->key, op->klen, &pos);
	atomic_store_explicit(&h->refs, 0, memory_order_relaxed);
	kv_croot r = {KV_CROOT_MAGIC, kv_offof(env, h)};
	val_arg a = {&r, sizeof r, 0};
	rc = kv_put_locked(&m->w, op->sh, op->h32, op->key, op->klen, e, pos, sizeof r, h->kind, exp,
	                   kv_fill_copy, &a);
	if (rc != KV_OK)
		atomic_store_explicit(&h->refs, 1, memory_order_relaxed);
	return rc; /* kv_put_locked charged the entry with the header's bytes */
}

int kv_coll_close_many(kv_cmulti *m, int rc, const int *ev)
{
	kv_env *env = m->w.ns->env;
	bool *deleted = NULL;
	if (m->ls) {
		deleted = kv_mem_realloc(env, NULL, (m->n ? m->n : 1) * sizeof *deleted);
		for (size_t i = 0; i < m->n; i++) {
			kv_cop *op = &m->ops[i];
			if (deleted)
				deleted[i] = false;
			if (!op->h || !op->changed)
				continue;
			uint32_t pos;
			kv_entry *e = kv_shard_find_locked(env, op->sh, op->h32, op->key, op->klen, &pos);
			if (!e || !kv_is_kind(e->type) || kv_chdr_of(env, e) != op->h)
				continue;
			int64_t d = (int64_t)op->h->bytes - op->bytes0;
			if (d)
				kv_ns_charge(m->w.ref.slot, op->sh, 0, d);
			if (op->h->card == 0) {
				kv_w_remove(&m->w, op->sh, pos, e);
				if (deleted)
					deleted[i] = true;
			}
		}
		kv_lockset_unlock(&m->w.ref, m->ls);
		kv_wctx_emit(&m->w);
		for (size_t i = 0; i < m->n && rc == KV_OK && ev; i++) {
			if (!m->ops[i].changed || !ev[i])
				continue;
			kv_emit(env, m->w.ns, m->ops[i].key, m->ops[i].klen, ev[i]);
			if (deleted && deleted[i])
				kv_emit(env, m->w.ns, m->ops[i].key, m->ops[i].klen, KV_EV_DEL);
		}
	}
	kv_mem_realloc(env, deleted, 0);
	kv_mem_realloc(env, m->ls, 0);
	kv_mem_realloc(env, m->ops, 0);
	m->ls = NULL;
	m->ops = NULL;
	kv_coll_reap(env);
	return rc;
}

/* ------------------------------------------------------------ results */
void kv_elems_reset(kv_elems *out)
{
	out->n = 0;
	out->bytes.len = 0;
}

static int elems_slot(kv_env *env, kv_elems *out)
{
	if (out->n == out->cap) {
		size_t cap = out->cap ? out->cap * 2 : 16;
		kv_elem *v = kv_mem_realloc(env, out->v, cap * sizeof *v);
		if (!v)
			return KV_ENOMEM;
		out->v = v;
		out->cap = cap;
	}
	return KV_OK;
}

int kv_elems_push(kv_env *env, kv_elems *out, const void *p, size_t len, double score)
{
	if (elems_slot(env, out) != KV_OK || kv_buf_reserve(env, &out->bytes, out->bytes.len + len) != KV_OK)
		return KV_ENOMEM;
	if (len)
		memcpy(out->bytes.data + out->bytes.len, p, len);
	out->v[out->n].off = out->bytes.len;
	out->v[out->n].len = len;
	out->v[out->n].score = score;
	out->n++;
	out->bytes.len += len;
	out->bytes.data[out->bytes.len] = 0;
	return KV_OK;
}

int kv_elems_nil(kv_env *env, kv_elems *out)
{
	if (elems_slot(env, out) != KV_OK)
		return KV_ENOMEM;
	out->v[out->n].off = out->bytes.len;
	out->v[out->n].len = KV_ELEM_NIL;
	out->v[out->n].score = 0;
	out->n++;
	return KV_OK;
}

KV_API void kv_elems_free(kv_env *env, kv_elems *e)
{
	if (!e)
		return;
	kv_mem_realloc(env, e->v, 0);
	kv_buf_free(env, &e->bytes);
	e->v = NULL;
	e->n = e->cap = 0;
}

int kv_coll_read_all(kv_ns *ns, const void *key, size_t klen, int kind, kv_cemit_fn fn, void *ctx)
{
	kv_env *env = ns->env;
	kv_cop op;
	int rc = kv_coll_open(ns, key, klen, kind, KV_COPEN_PIN, &op);
	if (rc != KV_OK)
		return rc;
	if (!op.h)
		return kv_coll_close(&op, KV_OK, 0);
	kv_chdr *h = op.h;
	kv_coll_pin(&op);
	kv_coll_close(&op, KV_OK, 0);
	/* pinned: the body does not change and is not freed; no lock */
	const kv_kind_ops *k = kv_kind_ops_of(h->kind);
	uint64_t cur = 0;
	do
		rc = k->scan(env, h, &cur, KV_COLL_HOLD, fn, ctx);
	while (rc == KV_OK && cur);
	kv_coll_unpin(env, h);
	return rc;
}

/* ---------------------------------------------------- kind-free calls */
KV_API const char *kv_kind_name(int kind)
{
	switch (kind) {
	case KV_T_HASH: return "hash";
	case KV_T_SET:  return "set";
	case KV_T_ZSET: return "zset";
	case KV_T_LIST: return "list";
	default:        return kind < 0 || kind > 255 || kv_is_kind(kind) ? NULL : "string";
	}
}

KV_API int kv_kind(kv_ns *ns, const void *key, size_t klen, int *kind)
{
	kv_cop op;
	int rc = kv_coll_open(ns, key, klen, 0, KV_COPEN_READ, &op);
	if (rc != KV_OK)
		return rc;
	if (!op.e)
		rc = KV_NOTFOUND;
	else
		*kind = kv_is_kind(op.e->type) ? op.e->type : KV_T_BYTES;
	return kv_coll_close(&op, rc, 0);
}

/* Redis's OBJECT ENCODING of a string: "int" for a canonical 64-bit integer,
 * "embstr" up to 44 bytes, else "raw". */
static const char *string_encoding(const char *v, size_t n)
{
	int64_t x;
	if (n <= 20 && kv_parse_ll(v, n, &x))
		return "int";
	return n <= 44 ? "embstr" : "raw";
}

KV_API int kv_card(kv_ns *ns, const void *key, size_t klen, int kind, uint64_t *n)
{
	*n = 0;
	kv_cop op;
	int rc = kv_coll_open(ns, key, klen, kind, KV_COPEN_READ, &op);
	if (rc != KV_OK)
		return rc;
	if (op.h)
		*n = op.h->card;
	return kv_coll_close(&op, KV_OK, 0);
}

KV_API int kv_encoding(kv_ns *ns, const void *key, size_t klen, const char **name)
{
	*name = NULL;
	kv_cop op;
	int rc = kv_coll_open(ns, key, klen, 0, KV_COPEN_READ, &op);
	if (rc != KV_OK)
		return rc;
	if (!op.e) {
		rc = KV_NOTFOUND;
	} else if (op.h) {
		const kv_kind_ops *k = kv_kind_ops_of(op.h->kind);
		*name = k ? k->encoding(op.h) : "unknown";
	} else {
		kv_entry *e = op.e;
		const char *v = kv_entry_key(e) + e->klen;
		*name = string_encoding(v, e->vlen);
	}
	return kv_coll_close(&op, rc, 0);
}

typedef struct cscan_ctx {
	kv_env     *env;
	kv_elems   *out;
	const char *match;
	size_t      mlen;
	int         novalues;
	kv_buf      tmp;   /* elements copied under the lock, matched after it */
	size_t      n;
} cscan_ctx;

/* Under the lock: copy raw (len-prefixed) into tmp; no matching here (a glob's
 * cost is the caller's choice). */
static int cscan_take(void *ctx, const kv_celem *el)
{
	cscan_ctx *c = ctx;
	size_t need = 8 + el->len + 8 + (el->v ? el->vlen : 0) + 8 + 1;
	if (kv_buf_reserve(c->env, &c->tmp, c->tmp.len + need) != KV_OK)
		return KV_ENOMEM;
	char *p = c->tmp.data + c->tmp.len;
	uint64_t l = el->len, vl = el->v ? el->vlen : UINT64_MAX;
	memcpy(p, &l, 8);
	memcpy(p + 8, el->p, el->len);
	p += 8 + el->len;
	memcpy(p, &vl, 8);
	p += 8;
	if (el->v) {
		memcpy(p, el->v, el->vlen);
		p += el->vlen;
	}
	memcpy(p, &el->score, 8);
	p += 8;
	c->tmp.len = (size_t)(p - c->tmp.data);
	c->n++;
	return 0;
}

KV_API int kv_cscan(kv_ns *ns, const void *key, size_t klen, int kind, uint64_t *cursor,
                    const char *match, size_t mlen, size_t count, int novalues, kv_elems *out)
{
	kv_env *env = ns->env;
	kv_elems_reset(out);
	if (!count)
		count = 10;
	if (count > KV_COLL_HOLD)
		count = KV_COLL_HOLD;
	kv_cop op;
	int rc = kv_coll_open(ns, key, klen, kind, KV_COPEN_PIN, &op);
	if (rc != KV_OK)
		return rc;
	if (!op.h) {
		*cursor = 0;
		return kv_coll_close(&op, KV_OK, 0);
	}
	/* copy this step's elements: a compact one whole (bounded), a big one a
	 * bounded step; the host buffer was sized before when possible */
	cscan_ctx c = {env, out, match, mlen, novalues, KV_BUF_INIT, 0};
	kv_chdr *h = op.h;
	kv_coll_pin(&op);
	kv_coll_close(&op, KV_OK, 0);
	const kv_kind_ops *k = kv_kind_ops_of(h->kind);
	rc = k->scan(env, h, cursor, count, cscan_take, &c);
	kv_coll_unpin(env, h);
	if (rc != KV_OK) {
		kv_buf_free(env, &c.tmp);
		return rc;
	}
	bool all = !match || (mlen == 1 && match[0] == '*');
	const char *p = c.tmp.data;
	for (size_t i = 0; i < c.n && rc == KV_OK; i++) {
		uint64_t l, vl;
		double sc;
		memcpy(&l, p, 8);
		const char *f = p + 8;
		p += 8 + l;
		memcpy(&vl, p, 8);
		p += 8;
		const char *v = p;
		if (vl != UINT64_MAX)
			p += vl;
		memcpy(&sc, p, 8);
		p += 8;
		if (!all && !kv_glob_match(match, mlen, f, l, 0))
			continue;
		rc = kv_elems_push(env, out, f, l, sc);
		if (rc == KV_OK && vl != UINT64_MAX && !novalues)
			rc = kv_elems_push(env, out, v, vl, sc);
	}
	kv_buf_free(env, &c.tmp);
	return rc;
}

/* ------------------------------------------------------ snapshots */
/* A collection's record: u8 kind record version, u64 count, then per element
 * u32 len + bytes, [u32 vlen + bytes] for hashes, [f64 score] for zsets. */
typedef struct ser_ctx {
	kv_env *env;
	kv_buf *out;
	int     kind;
	uint64_t n;
} ser_ctx;

static int ser_put(void *ctx, const kv_celem *el)
{
	ser_ctx *s = ctx;
	size_t need = 4 + el->len + 4 + el->vlen + 8;
	if (kv_buf_reserve(s->env, s->out, s->out->len + need) != KV_OK)
		return KV_ENOMEM;
	char *p = s->out->data + s->out->len;
	uint32_t l = (uint32_t)el->len;
	memcpy(p, &l, 4);
	memcpy(p + 4, el->p, el->len);
	p += 4 + el->len;
	if (s->kind == KV_T_HASH) {
		l = (uint32_t)el->vlen;
		memcpy(p, &l, 4);
		memcpy(p + 4, el->v, el->vlen);
		p += 4 + el->vlen;
	}
	if (s->kind == KV_T_ZSET) {
		memcpy(p, &el->score, 8);
		p += 8;
	}
	s->out->len = (size_t)(p - s->out->data);
	s->n++;
	return 0;
}

int kv_coll_serialise(kv_env *env, const kv_chdr *snap, kv_buf *out)
{
	const kv_kind_ops *k = kv_kind_ops_of(snap->kind);
	out->len = 0;
	if (!k)
		return KV_EINVAL;
	if (kv_buf_reserve(env, out, 9) != KV_OK)
		return KV_ENOMEM;
	out->data[0] = (char)k->record_version;
	out->len = 9;
	ser_ctx s = {env, out, snap->kind, 0};
	uint64_t cur = 0;
	int rc;
	do
		rc = k->scan(env, snap, &cur, KV_COLL_HOLD, ser_put, &s);
	while (rc == KV_OK && cur);
	memcpy(out->data + 1, &s.n, 8);
	return rc;
}

int kv_coll_deserialise(kv_env *env, int kind, const char *p, size_t n, kv_chdr **out)
{
	const kv_kind_ops *k = kv_kind_ops_of(kind);
	*out = NULL;
	if (!k || n < 9 || (uint8_t)p[0] != k->record_version)
		return KV_ECORRUPT;
	uint64_t cnt;
	memcpy(&cnt, p + 1, 8);
	size_t o = 9;
	kv_chdr *h = kv_chdr_new(env, kind, KV_ENC_LISTPACK);
	if (!h)
		return KV_ENOMEM;
	int rc = KV_OK;
	for (uint64_t i = 0; i < cnt && rc == KV_OK; i++) {
		kv_celem el = {0};
		uint32_t l;
		if (n - o < 4) { rc = KV_ECORRUPT; break; }
		memcpy(&l, p + o, 4);
		o += 4;
		if (n - o < l) { rc = KV_ECORRUPT; break; }
		el.p = p + o;
		el.len = l;
		o += l;
		if (kind == KV_T_HASH) {
			if (n - o < 4) { rc = KV_ECORRUPT; break; }
			memcpy(&l, p + o, 4);
			o += 4;
			if (n - o < l) { rc = KV_ECORRUPT; break; }
			el.v = p + o;
			el.vlen = l;
			o += l;
		}
		if (kind == KV_T_ZSET) {
			if (n - o < 8) { rc = KV_ECORRUPT; break; }
			memcpy(&el.score, p + o, 8);
			o += 8;
		}
		rc = k->add(env, h, &el);
	}
	if (rc == KV_OK && (o != n || h->card == 0))
		rc = KV_ECORRUPT;
	if (rc != KV_OK) {
		kv_chdr_destroy(env, h);
		return rc;
	}
	*out = h;
	return KV_OK;
}

/* ------------------------------------------------------ COPY and MOVE */
/* Deep-copy the collection at src (pinned, no lock) to dst in dns.  *srch and
 * *ver (move) get the source's header (a reference held: kv_coll_unref it)
 * and version.  KV_EINVAL: src is a string (the caller's path). */
static int copy_to(kv_ns *ns, const void *src, size_t srclen, kv_ns *dns, const void *dst,
                   size_t dstlen, int replace, kv_chdr **srch, uint32_t *ver, int ev)
{
	kv_env *env = ns->env;
	kv_cop op;
	int rc = kv_coll_open(ns, src, srclen, 0, KV_COPEN_PIN, &op);
	if (rc != KV_OK)
		return rc;
	if (!op.e)
		return kv_coll_close(&op, KV_NOTFOUND, 0);
	if (!op.h)
		return kv_coll_close(&op, KV_EINVAL, 0);
	kv_chdr *h = op.h;
	int64_t exp = kv_entry_expiry(op.e);
	kv_coll_pin(&op);
	if (ver)
		*ver = h->ver;
	kv_coll_close(&op, KV_OK, 0);
	const kv_kind_ops *k = kv_kind_ops_of(h->kind);
	kv_chdr *nh = kv_chdr_new(env, h->kind, KV_ENC_LISTPACK);
	rc = nh ? k->copy(env, h, nh) : KV_ENOMEM;
	if (srch) {
		atomic_fetch_add_explicit(&h->refs, 1, memory_order_relaxed);
		*srch = h;
	}
	kv_coll_unpin(env, h);
	if (rc != KV_OK) {
		if (nh)
			kv_chdr_destroy(env, nh);
		return rc;
	}
	kv_cop d;
	if ((rc = kv_coll_open(dns, dst, dstlen, 0, KV_COPEN_READ, &d)) != KV_OK) {
		kv_chdr_destroy(env, nh);
		return rc;
	}
	if (d.e && !replace) {
		rc = KV_EXISTS;
	} else if (dstlen > atomic_load_explicit(&d.w.ref.slot->max_key_size, memory_order_relaxed)) {
		rc = KV_EKEYSIZE;
	} else if ((rc = kv_make_room_locked(&d.w, d.sh, (int64_t)nh->bytes + 64, !d.e, d.e)) == KV_OK) {
		kv_entry *e = kv_shard_find_locked(env, d.sh, d.h32, dst, dstlen, &d.pos);
		atomic_store_explicit(&nh->refs, 0, memory_order_relaxed);
		kv_croot r = {KV_CROOT_MAGIC, kv_offof(env, nh)};
		val_arg a = {&r, sizeof r, 0};
		rc = kv_put_locked(&d.w, d.sh, d.h32, dst, dstlen, e, d.pos, sizeof r, nh->kind, exp,
		                   kv_fill_copy, &a);
		if (rc != KV_OK)
			atomic_store_explicit(&nh->refs, 1, memory_order_relaxed);
		else
			nh = NULL;
	}
	d.h = NULL; /* nothing of the op's own to charge */
	kv_write_end(&d.w, d.sh, dst, dstlen, rc, ev);
	if (nh)
		kv_chdr_destroy(env, nh);
	kv_coll_reap(env);
	return rc;
}

int kv_coll_copy(kv_ns *ns, const void *src, size_t srclen, kv_ns *dns, const void *dst,
                 size_t dstlen, int replace)
{
	return copy_to(ns, src, srclen, dns, dst, dstlen, replace, NULL, NULL, KV_EV_SET);
}

/* Remove key from ns if it still names h at version ver (no event). */
static int del_if_same(kv_ns *ns, const void *key, size_t klen, const kv_chdr *h, uint32_t ver)
{
	kv_cop op;
	int rc = kv_coll_open(ns, key, klen, 0, KV_COPEN_READ, &op);
	if (rc != KV_OK)
		return rc;
	rc = KV_UNCHANGED;
	if (op.h == h && (!ver || h->ver == ver)) {
		kv_w_remove(&op.w, op.sh, op.pos, op.e);
		rc = KV_OK;
	}
	op.h = NULL;
	kv_write_end(&op.w, op.sh, key, klen, rc, 0);
	kv_coll_reap(ns->env);
	return rc;
}

int kv_coll_move(kv_ns *ns, const void *key, size_t klen, kv_ns *dns)
{
	kv_env *env = ns->env;
	for (int tries = 0; tries < 16; tries++) {
		kv_chdr *h = NULL;
		uint32_t ver = 0;
		int rc = copy_to(ns, key, klen, dns, key, klen, 0, &h, &ver, 0);
		if (rc != KV_OK) {
			if (h)
				kv_coll_unref(env, h);
			kv_coll_reap(env);
			return rc;
		}
		rc = del_if_same(ns, key, klen, h, ver);
		kv_coll_unref(env, h);
		kv_coll_reap(env);
		if (rc == KV_OK) {
			kv_emit(env, ns, key, klen, KV_EV_DEL);
			kv_emit(dns->env, dns, key, klen, KV_EV_SET);
			return KV_OK;
		}
		/* the source changed since the copy: take the copy back, start over */
		kv_cop d;
		if (kv_coll_open(dns, key, klen, 0, KV_COPEN_READ, &d) == KV_OK) {
			kv_chdr *c = d.h;
			d.h = NULL;
			kv_write_end(&d.w, d.sh, key, klen, KV_OK, 0);
			if (c)
				del_if_same(dns, key, klen, c, 0);
		}
		if (rc != KV_UNCHANGED)
			return rc;
	}
	return KV_EBUSY;
}

/* ------------------------------------------------ whole-value replace */
int kv_coll_replace(kv_ns *ns, const void *key, size_t klen, kv_chdr *h, int ev, bool *existed)
{
	kv_env *env = ns->env;
	kv_cop op;
	*existed = false;
	int rc = kv_coll_open(ns, key, klen, 0, KV_COPEN_READ, &op);
	if (rc != KV_OK) {
		if (h)
			kv_chdr_destroy(env, h);
		return rc;
	}
	op.h = NULL; /* nothing of the op's own to charge: the entry changes whole */
	*existed = op.e != NULL;
	if (!h || h->card == 0) {
		if (op.e)
			kv_w_remove(&op.w, op.sh, op.pos, op.e);
		kv_write_end(&op.w, op.sh, key, klen, KV_OK, 0);
		if (h)
			kv_chdr_destroy(env, h);
		if (*existed)
			kv_emit(env, ns, key, klen, KV_EV_DEL);
		return KV_OK;
	}
	int64_t exp = 0;
	bool del;
	if (op.klen > atomic_load_explicit(&op.w.ref.slot->max_key_size, memory_order_relaxed))
		rc = KV_EKEYSIZE;
	else
		rc = kv_write_expiry(&op.w, KV_EXPIRE_DEFAULT, NULL, &exp, &del);
	if (rc == KV_OK)
		rc = kv_make_room_locked(&op.w, op.sh, (int64_t)h->bytes + 64, !op.e, op.e);
	if (rc == KV_OK) {
		kv_entry *e = kv_shard_find_locked(env, op.sh, op.h32, key, klen, &op.pos);
		atomic_store_explicit(&h->refs, 0, memory_order_relaxed);
		kv_croot r = {KV_CROOT_MAGIC, kv_offof(env, h)};
		val_arg a = {&r, sizeof r, 0};
		rc = kv_put_locked(&op.w, op.sh, op.h32, key, klen, e, op.pos, sizeof r, h->kind, exp,
		                   kv_fill_copy, &a);
		if (rc != KV_OK)
			atomic_store_explicit(&h->refs, 1, memory_order_relaxed);
		else
			h = NULL;
	}
	kv_write_end(&op.w, op.sh, key, klen, rc, ev);
	if (h)
		kv_chdr_destroy(env, h);
	return rc;
}

void kv_coll_wait_writers(kv_env *env, kv_chdr *h)
{
	wait_zero(&h->wwait);
	kv_coll_unref(env, h);
	kv_coll_reap(env);
}
