/*
 * copy.c -- kv_copy and kv_move: a key's value, type and expiry to another
 * key or namespace (Redis COPY [DB n] [REPLACE], MOVE).
 *
 * HOW IT WORKS
 *   Within one namespace handle kv_copy locks both keys' shards through the
 *   lockset (as kv_rename does) and writes the copy from the source entry in
 *   place: one atomic step.  Across namespaces there is no lock order between
 *   two namespaces' shards, so the source is read (a consistent value), then
 *   written to the other namespace in a second atomic step; a concurrent write
 *   to the source falls before or after the copy, never inside it.  kv_move
 *   adds a third step: the source is removed only if it still holds exactly
 *   what was copied; if it changed meanwhile the copy is taken back (again only
 *   if untouched) and the move starts over.  Its two events fire at the end,
 *   the removal first, as Redis sends move_from before move_to.
 */
#include "coll.h"

#define KV_MOVE_TRIES 16

static int check_key(const void **key, size_t klen)
{
	if (!*key) {
		if (klen)
			return KV_EINVAL;
		*key = "";
	}
	return klen > KV_KEY_SIZE_LIMIT ? KV_EKEYSIZE : KV_OK;
}

/* The one-namespace copy: both shards locked, dst written from src in place. */
static int copy_locked(kv_ns *ns, const void *src, size_t srclen, const void *dst, size_t dstlen,
                       int replace, kv_lockset *ls)
{
	uint64_t hs = kv_hash(src, srclen), hd = kv_hash(dst, dstlen);
	kv_wctx w;
	kv_wctx_init(&w, ns);
	int rc = kv_lockset_lock_hashes(ns, &w.ref, ls, (uint64_t[]){hs, hd}, 2);
	if (rc != KV_OK)
		return rc;
	kv_shard *ss = kv_lockset_shard(&w.ref, ls, hs), *sd = kv_lockset_shard(&w.ref, ls, hd);
	if ((ss->snap_pending && kv_shard_reserve_preserve_locked(ns->env, ss, 2 + KV_MAX_VICTIMS) != KV_OK) ||
	    (sd->snap_pending && kv_shard_reserve_preserve_locked(ns->env, sd, 2 + KV_MAX_VICTIMS) != KV_OK)) {
		kv_lockset_unlock(&w.ref, ls);
		return KV_ENOMEM;
	}
	kv_lockset_write(&w.ref, ls, true);
	uint32_t ps, pd;
	kv_entry *es = kv_find_live_locked(&w, ss, kv_hash32(hs), src, srclen, &ps);
	if (!es) {
		rc = KV_NOTFOUND;
	} else if (kv_is_kind(es->type)) {
		rc = KV_EWRONGTYPE; /* a collection: kv_copy deep-copies it (coll.c) */
	} else if (dstlen > atomic_load_explicit(&w.ref.slot->max_key_size, memory_order_relaxed)) {
		rc = KV_EKEYSIZE;
	} else {
		kv_entry *ed = kv_find_live_locked(&w, sd, kv_hash32(hd), dst, dstlen, &pd);
		if (ed && !replace) {
			rc = KV_EXISTS;
		} else {
			/* finding dst may have reclaimed an expired neighbour: find src again */
			es = kv_shard_find_locked(ns->env, ss, kv_hash32(hs), src, srclen, &ps);
			val_arg a = {kv_entry_key(es) + srclen, es->vlen, 0};
			w.pin = es; /* making room for dst never evicts the source */
			rc = kv_put_locked(&w, sd, kv_hash32(hd), dst, dstlen, ed, pd, es->vlen, es->type,
			                   kv_entry_expiry(es), kv_fill_copy, &a);
		}
	}
	kv_lockset_write(&w.ref, ls, false);
	kv_lockset_unlock(&w.ref, ls);
	kv_wctx_emit(&w);
	if (rc == KV_OK)
		kv_emit(ns->env, ns, dst, dstlen, KV_EV_SET);
	return rc;
}

/* Write b to key in ns (not over an existing key unless replace), with b's
 * type and absolute expiry; the event ev fires if ev is nonzero. */
static int write_copy(kv_ns *ns, const void *key, size_t klen, const kv_buf *b, int replace, int ev)
{
	kv_wctx w;
	kv_shard *sh;
	uint32_t h32, pos;
	kv_entry *e;
	int rc = kv_write_begin(ns, key, klen, &w, &sh, &h32, &pos, &e);
	if (rc != KV_OK)
		return rc;
	int64_t exp;
	bool del;
	if (e && !replace)
		rc = KV_EXISTS;
	else if (!e && klen > atomic_load_explicit(&w.ref.slot->max_key_size, memory_order_relaxed))
		rc = KV_EKEYSIZE;
	else if ((rc = kv_write_expiry(&w, b->expires_at ? b->expires_at : KV_EXPIRE_NEVER, e, &exp, &del)) != KV_OK)
		;
	else if (del) { /* the source's expiry passed since it was read: no copy */
		if (e)
			kv_w_remove(&w, sh, pos, e);
	} else {
		val_arg a = {b->data, b->len, 0};
		rc = kv_put_locked(&w, sh, h32, key, klen, e, pos, b->len, b->type, exp, kv_fill_copy, &a);
	}
	return kv_write_end(&w, sh, key, klen, rc, ev);
}

static bool same_as(kv_entry *e, size_t klen, const kv_buf *b)
{
	return e->vlen == b->len && e->type == b->type && kv_entry_expiry(e) == b->expires_at &&
	       memcmp(kv_entry_key(e) + klen, b->data, b->len) == 0;
}

/* Remove key if it holds exactly b (value, type, expiry), with no event.
 * KV_OK, or KV_UNCHANGED if it is missing or differs. */
static int del_if_same(kv_ns *ns, const void *key, size_t klen, const kv_buf *b)
{
	kv_wctx w;
	kv_shard *sh;
	uint32_t h32, pos;
	kv_entry *e;
	int rc = kv_write_begin(ns, key, klen, &w, &sh, &h32, &pos, &e);
	if (rc != KV_OK)
		return rc;
	if (e && same_as(e, klen, b)) {
		kv_w_remove(&w, sh, pos, e);
		rc = KV_OK;
	} else {
		rc = KV_UNCHANGED;
	}
	return kv_write_end(&w, sh, key, klen, rc, 0);
}

KV_API int kv_copy(kv_ns *ns, const void *src, size_t srclen, kv_ns *dst_ns, const void *dst,
                   size_t dstlen, int replace)
{
	int rc = check_key(&src, srclen);
	if (rc == KV_OK)
		rc = check_key(&dst, dstlen);
	if (rc != KV_OK)
		return rc;
	if (!dst_ns || dst_ns == ns) {
		if (srclen == dstlen && memcmp(src, dst, srclen) == 0)
			return KV_EINVAL;
		kv_lockset *ls = kv_mem_realloc(ns->env, NULL, sizeof *ls); /* large: not on the stack */
		if (!ls)
			return KV_ENOMEM;
		rc = copy_locked(ns, src, srclen, dst, dstlen, replace, ls);
		kv_mem_realloc(ns->env, ls, 0);
		if (rc == KV_EWRONGTYPE)
			rc = kv_coll_copy(ns, src, srclen, ns, dst, dstlen, replace);
		return rc;
	}
	kv_buf b = KV_BUF_INIT;
	rc = kv_get(ns, src, srclen, &b);
	if (rc == KV_OK)
		rc = write_copy(dst_ns, dst, dstlen, &b, replace, KV_EV_SET);
	else if (rc == KV_EWRONGTYPE)
		rc = kv_coll_copy(ns, src, srclen, dst_ns, dst, dstlen, replace);
	kv_buf_free(ns->env, &b);
	return rc;
}

KV_API int kv_move(kv_ns *ns, const void *key, size_t klen, kv_ns *dst_ns)
{
	int rc = check_key(&key, klen);
	if (rc != KV_OK)
		return rc;
	if (!dst_ns || dst_ns == ns)
		return KV_EINVAL;
	kv_buf b = KV_BUF_INIT;
	for (int tries = 0;; tries++) {
		if ((rc = kv_get(ns, key, klen, &b)) == KV_EWRONGTYPE) {
			rc = kv_coll_move(ns, key, klen, dst_ns);
			break;
		}
		if (rc != KV_OK)
			break;
		if ((rc = write_copy(dst_ns, key, klen, &b, 0, 0)) != KV_OK)
			break;
		if ((rc = del_if_same(ns, key, klen, &b)) == KV_OK) {
			/* Redis's order: move_from, then move_to */
			kv_emit(ns->env, ns, key, klen, KV_EV_DEL);
			kv_emit(dst_ns->env, dst_ns, key, klen, KV_EV_SET);
		}
		if (rc == KV_OK)
			break;
		/* the source changed after it was read, or could not be removed
		 * (its namespace dropped, no room for a running snapshot): take the
		 * copy back, then retry only the first case */
		del_if_same(dst_ns, key, klen, &b);
		if (rc != KV_UNCHANGED)
			break;
		if (tries + 1 == KV_MOVE_TRIES) {
			rc = KV_EBUSY;
			break;
		}
	}
	kv_buf_free(ns->env, &b);
	return rc;
}
