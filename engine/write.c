/*
 * write.c -- the path every write takes: single-key calls (ops.c) and
 * all-or-nothing batches (batch.c).  It calls eviction (evict.c) for room;
 * both use the write context's bookkeeping in wctx.c, so neither calls back.
 *
 * A write resolves its namespace, locks the key's shard (reserving room for
 * the pre-images a pending snapshot must keep), finds the live entry (an
 * expired one is removed on the way and reported), and funnels into
 * kv_put_locked, which owns the rules every write shares: limits and eviction,
 * in-place update when the new entry has the same size class (no allocation:
 * the common SET of a same-size value and most APPENDs), copy-on-write while a
 * snapshot cut is pending, an undo log inside a transaction, and accounting.
 * Keys removed on the side (expired, evicted) are collected in the context
 * (wctx.c) and their hooks fire after the lock is released (kv_wctx_emit).
 */
#include "kv_internal.h"

/* Resolve the namespace and lock the shard of h.  Retries through drops and resizes. */
static int lock_key(kv_wctx *w, uint64_t h, kv_shard **out)
{
	for (;;) {
		int rc = kv_ns_ref(w->ns, &w->ref);
		if (rc != KV_OK)
			return rc;
		kv_shard *sh = kv_ns_lock_shard(&w->ref, h);
		if (sh) {
			if (sh->snap_pending &&
			    kv_shard_reserve_preserve_locked(w->ns->env, sh, 2 + KV_MAX_VICTIMS) != KV_OK) {
				kv_spin_unlock(&sh->lock);
				return KV_ENOMEM;
			}
			*out = sh;
			return KV_OK;
		}
		kv_cpu_relax();
	}
}

/* The start every single-key write shares: lock the key's shard (reserving room
 * for a pending snapshot's pre-images) and find its live entry (*e NULL if none). */
int kv_write_begin(kv_ns *ns, const void *key, size_t klen, kv_wctx *w, kv_shard **sh,
                   uint32_t *h32, uint32_t *pos, kv_entry **e)
{
	uint64_t h = kv_hash(key, klen);
	kv_wctx_init(w, ns);
	int rc = lock_key(w, h, sh);
	if (rc != KV_OK)
		return rc;
	*h32 = kv_hash32(h);
	*e = kv_find_live_locked(w, *sh, *h32, key, klen, pos);
	return KV_OK;
}

/* ... and the end: unlock, report the keys removed on the side, then the op's own
 * event if it succeeded (ev 0: none). */
int kv_write_end(kv_wctx *w, kv_shard *sh, const void *key, size_t klen, int rc, int ev)
{
	kv_spin_unlock(&sh->lock);
	kv_wctx_emit(w);
	if (rc == KV_OK && ev)
		kv_emit(w->ns->env, w->ns, key, klen, ev);
	return rc;
}

/* Find key; an entry whose TTL has passed is removed first (reported as expired). */
kv_entry *kv_find_live_locked(kv_wctx *w, kv_shard *sh, uint32_t h32, const void *key,
                              size_t klen, uint32_t *pos)
{
	kv_entry *e = kv_shard_find_locked(w->ns->env, sh, h32, key, klen, pos);
	if (e && !(w->undo && w->nundo == w->capundo)) {
		int64_t exp = kv_entry_expiry(e);
		if (kv_expired(exp, kv_wctx_now(w))) {
			kv_w_remove(w, sh, *pos, e);
			atomic_fetch_add_explicit(&w->ref.slot->expired, 1, memory_order_relaxed);
			kv_wctx_victim(w, key, klen, KV_EV_EXPIRED);
			e = kv_shard_find_locked(w->ns->env, sh, h32, key, klen, pos);
		}
	}
	return e;
}

void kv_fill_copy(char *dst, size_t vlen, const char *old, size_t oldlen, const void *arg)
{
	(void)old;
	(void)oldlen;
	memcpy(dst, ((const val_arg *)arg)->p, vlen);
}

/*
 * Store key -> (vlen bytes from fill, type, exp) in sh, replacing old (found at
 * pos) if not NULL.  Applies limits/eviction, reuses old's memory when the size
 * class allows and no snapshot needs the pre-image, and accounts the change.
 */
int kv_put_locked(kv_wctx *w, kv_shard *sh, uint32_t h32, const void *key, size_t klen,
                  kv_entry *old, uint32_t pos, size_t vlen, int type, int64_t exp,
                  fill_fn fill, const void *arg)
{
	kv_env *env = w->ns->env;
	unsigned nflags = exp ? KV_E_TTL : 0;
	size_t nsize = kv_entry_size(klen, vlen, nflags), ncharge = kv_alloc_size(nsize);
	if (vlen > atomic_load_explicit(&w->ref.slot->max_value_size, memory_order_relaxed))
		return KV_EVALSIZE;

	if (old) {
		unsigned of = atomic_load_explicit(&old->flags, memory_order_relaxed);
		size_t ocharge = kv_entry_charge(old);
		bool cow = (sh->snap_pending && !(of & KV_E_SNAPNEW)) || w->undo;
		if (!cow && (of & KV_E_TTL) == nflags && ocharge == ncharge) {
			/* same size class: overwrite in place, nothing to allocate or charge */
			char *val = kv_entry_key(old) + klen;
			kv_shard_write_begin(sh);
			fill(val, vlen, val, old->vlen, arg);
			old->vlen = (uint32_t)vlen;
			old->type = (uint8_t)type;
			if (exp)
				memcpy((char *)old + sizeof *old, &exp, 8);
			kv_shard_write_end(sh);
			kv_ns_charge(w->ref.slot, sh, 0, 0);
			return KV_OK;
		}
		int rc = kv_make_room_locked(w, sh, (int64_t)ncharge - (int64_t)ocharge, 0, old);
		if (rc != KV_OK)
			return rc;
		/* eviction may have shifted slots: find old again */
		old = kv_shard_find_locked(env, sh, h32, key, klen, &pos);
		kv_entry *e = kv_entry_new_locked(env, sh, key, klen, vlen, type, exp);
		if (!e)
			return KV_ENOMEM;
		fill(kv_entry_key(e) + klen, vlen, kv_entry_key(old) + klen, old->vlen, arg);
		kv_shard_write_begin(sh);
		kv_shard_replace_locked(env, sh, pos, kv_offof(env, e));
		kv_wctx_drop_old(w, sh, old, e);
		kv_shard_write_end(sh);
		kv_ns_charge(w->ref.slot, sh, 0, (int64_t)ncharge - (int64_t)ocharge);
		return KV_OK;
	}

	int rc = kv_make_room_locked(w, sh, (int64_t)ncharge, 1, NULL);
	if (rc != KV_OK)
		return rc;
	kv_entry *e = kv_entry_new_locked(env, sh, key, klen, vlen, type, exp);
	if (!e)
		return KV_ENOMEM;
	fill(kv_entry_key(e) + klen, vlen, NULL, 0, arg);
	kv_shard_write_begin(sh);
	rc = kv_shard_insert_locked(env, sh, h32, kv_offof(env, e));
	kv_shard_write_end(sh);
	if (rc != KV_OK) {
		kv_free(env, kv_offof(env, e), nsize);
		return rc;
	}
	if (w->undo)
		kv_wctx_undo(w, sh, NULL, e);
	kv_ns_charge(w->ref.slot, sh, 1, (int64_t)ncharge);
	return KV_OK;
}

/* Expiry for a write: KV_EXPIRE_* or absolute.  *del: the time already passed.
 * KV_EINVAL past KV_EXPIRES_MAX, also when the default TTL would land there. */
int kv_write_expiry(kv_wctx *w, int64_t req, kv_entry *old, int64_t *exp, bool *del)
{
	*del = false;
	if (kv_expiry_check(req) != KV_OK)
		return KV_EINVAL;
	if (req == KV_EXPIRE_DEFAULT) {
		int64_t ttl = atomic_load_explicit(&w->ref.slot->default_ttl, memory_order_relaxed);
		*exp = 0;
		if (ttl > 0)
			return kv_expiry_add_ms(kv_wctx_now(w), ttl, exp);
	} else if (req == KV_EXPIRE_NEVER) {
		*exp = 0;
	} else if (req == KV_EXPIRE_KEEP) {
		*exp = old ? kv_entry_expiry(old) : 0;
	} else if (req > 0) {
		*exp = req;
		*del = req <= kv_wctx_now(w);
	} else {
		return KV_EINVAL;
	}
	return KV_OK;
}
