/*
 * redo.c -- a namespace's redo log (kv.h REDO LOG): the records of its writes,
 * handed to the host under the shard lock that made them, and their replay.
 *
 * Every change of a key's state funnels through kv_put_locked (a new state),
 * kv_w_remove (a removal) or an in-place retime, so those are the only hook
 * points besides a flush, a snapshot's cut and a batch's commit.  A record is
 * the resulting state (or, for a long value's APPEND/SETRANGE, the bytes
 * written), so replay is a plain overwrite: it needs neither the writer's clock
 * nor its eviction choices (KV_NS_REDO requires KV_EVICT_NONE).
 *
 * Replay (kv_redo_apply) goes through the same write path with the redo
 * function switched off for the calling thread, so a replica applying its
 * primary's log never logs again, and it fires no hooks.
 */
#include "kv_internal.h"
#include "coll.h"

/* Set while this thread replays a record: its writes are not logged. */
static _Thread_local bool applying;

KV_API void kv_env_set_redo(kv_env *env, kv_redo_fn fn, void *ctx)
{
	env->redo = fn;
	env->redo_ctx = ctx;
}

static bool redo_on(const kv_env *env, const kv_nsslot *slot)
{
	return env->redo && !applying && atomic_load_explicit(&slot->redo, memory_order_relaxed);
}

/* A collection write into a logged namespace: refused (kv.h REDO LOG,
 * COLLECTIONS), except an expiry change, whose record holds no value. */
bool kv_redo_refuses_kind(const kv_wctx *w)
{
	return w->redo_kind != KV_REDO_EXPIRE && redo_on(w->ns->env, w->ref.slot);
}

static void emit(kv_env *env, kv_nsslot *slot, kv_redo_hdr *h, const void *key, const void *data)
{
	env->redo(env->redo_ctx, slot->name, h, key, data);
}

/* The record of e's new state (PUT), or of the write's own bytes (PATCH) or
 * expiry (EXPIRE) when the write said so in w->redo_kind. */
static void log_state(kv_wctx *w, kv_entry *e, int kind)
{
	kv_redo_hdr h = {0};
	char *key = kv_entry_key(e), *val = key + e->klen;
	h.klen = e->klen;
	h.type = e->type;
	h.expires_at = kv_entry_expiry(e);
	if (kv_is_kind(e->type) && kind != KV_REDO_EXPIRE)
		return; /* never a kv_croot in a record (kv_put_locked refused the write) */
	if (kind == KV_REDO_PATCH && e->vlen > KV_REDO_PATCH_MIN && w->redo_off + w->redo_len <= e->vlen) {
		h.kind = KV_REDO_PATCH;
		h.off = (uint32_t)w->redo_off;
		h.total = e->vlen;
		h.vlen = (uint32_t)w->redo_len;
		val += w->redo_off;
	} else if (kind == KV_REDO_EXPIRE) {
		h.kind = KV_REDO_EXPIRE;
	} else {
		h.kind = KV_REDO_PUT;
		h.vlen = e->vlen;
	}
	emit(w->ns->env, w->ref.slot, &h, key, h.vlen ? val : NULL);
}

void kv_redo_put(kv_wctx *w, const kv_entry *e)
{
	if (!w->undo && redo_on(w->ns->env, w->ref.slot))
		log_state(w, (kv_entry *)e, w->redo_kind);
}

void kv_redo_expire(kv_wctx *w, const kv_entry *e)
{
	if (!w->undo && redo_on(w->ns->env, w->ref.slot))
		log_state(w, (kv_entry *)e, KV_REDO_EXPIRE);
}

static void log_del(kv_wctx *w, kv_entry *e)
{
	kv_redo_hdr h = {0};
	h.kind = KV_REDO_DEL;
	h.klen = e->klen;
	emit(w->ns->env, w->ref.slot, &h, kv_entry_key(e), NULL);
}

void kv_redo_del(kv_wctx *w, const kv_entry *e)
{
	if (!w->undo && redo_on(w->ns->env, w->ref.slot))
		log_del(w, (kv_entry *)e);
}

/* A batch commits: its undo log, in order, is what it changed (an entry linked,
 * or one removed with nothing in its place).  Called under the batch's locks. */
void kv_redo_commit(kv_wctx *w)
{
	kv_env *env = w->ns->env;
	if (!redo_on(env, w->ref.slot))
		return;
	for (size_t k = 0; k < w->nundo; k++) {
		kv_undo *u = &w->undo[k];
		if (u->new_)
			log_state(w, kv_ptr(env, u->new_), KV_REDO_PUT);
		else if (u->old)
			log_del(w, kv_ptr(env, u->old));
	}
}

/* A flush or a snapshot's cut, under every shard lock of the namespace. */
void kv_redo_ns(kv_env *env, kv_nsslot *slot, int kind)
{
	if (redo_on(env, slot)) {
		kv_redo_hdr h = {0};
		h.kind = (uint8_t)kind;
		emit(env, slot, &h, NULL, NULL);
	}
}

/* ------------------------------------------------------------------ replay */
typedef struct patch_arg {
	const char *p;
	size_t      n, off;
} patch_arg;

static void fill_patch(char *dst, size_t vlen, const char *old, size_t oldlen, const void *arg)
{
	const patch_arg *a = arg;
	if (old && dst != old)
		memcpy(dst, old, oldlen < vlen ? oldlen : vlen);
	if (oldlen < a->off)
		memset(dst + oldlen, 0, a->off - oldlen);
	memcpy(dst + a->off, a->p, a->n);
}

static void fill_keep(char *dst, size_t vlen, const char *old, size_t oldlen, const void *arg)
{
	(void)oldlen;
	(void)arg;
	if (dst != old)
		memcpy(dst, old, vlen);
}

static int apply_key(kv_ns *ns, const kv_redo_hdr *h, const char *key, const char *data)
{
	kv_wctx w;
	kv_shard *sh;
	uint32_t h32, pos;
	kv_entry *e;
	int rc = kv_write_begin(ns, key, h->klen, &w, &sh, &h32, &pos, &e);
	if (rc != KV_OK)
		return rc;
	if (!atomic_load_explicit(&w.ref.slot->redo, memory_order_relaxed)) {
		rc = KV_UNCHANGED; /* not (or no longer) a replayed namespace */
		e = NULL;
		goto out;
	}
	/* a state whose expiry has passed here is a removal here */
	bool gone = h->expires_at != 0 && h->expires_at <= kv_wctx_now(&w);
	size_t oldlen = e ? e->vlen : 0;
	switch (h->kind) {
	case KV_REDO_DEL:
		break;
	case KV_REDO_EXPIRE:
		if (e && !gone)
			rc = kv_put_locked(&w, sh, h32, key, h->klen, e, pos, e->vlen, e->type, h->expires_at,
			                   fill_keep, NULL);
		break;
	case KV_REDO_PUT:
		if (!gone) {
			val_arg a = {data, h->vlen, 0};
			rc = kv_put_locked(&w, sh, h32, key, h->klen, e, pos, h->vlen, h->type, h->expires_at,
			                   kv_fill_copy, &a);
		}
		break;
	default: /* KV_REDO_PATCH: only onto the value it was made on */
		if ((oldlen > (size_t)h->off + h->vlen ? oldlen : (size_t)h->off + h->vlen) != h->total) {
			if (!gone)
				rc = KV_ECORRUPT;
		} else if (!gone) {
			patch_arg a = {data, h->vlen, h->off};
			rc = kv_put_locked(&w, sh, h32, key, h->klen, e, pos, h->total, e ? e->type : h->type,
			                   h->expires_at, fill_patch, &a);
		}
		break;
	}
	bool remove = h->kind == KV_REDO_DEL || gone;
	if (rc == KV_OK && remove && e) {
		e = kv_shard_find_locked(ns->env, sh, h32, key, h->klen, &pos);
		if (e)
			kv_w_remove(&w, sh, pos, e);
	}
out:
	w.nvictims = 0; /* replay fires no hooks */
	return kv_write_end(&w, sh, key, h->klen, rc, 0);
}

KV_API int kv_redo_apply(kv_ns *ns, const void *rec, size_t len)
{
	kv_redo_hdr h;
	if (!rec || len < sizeof h)
		return KV_EFORMAT;
	memcpy(&h, rec, sizeof h);
	const char *key = (const char *)rec + sizeof h, *data = key + h.klen;
	if ((size_t)h.klen + h.vlen != len - sizeof h)
		return KV_EFORMAT;
	switch (h.kind) {
	case KV_REDO_CUT:
		return KV_OK;
	case KV_REDO_FLUSH:
		break;
	case KV_REDO_PUT:
	case KV_REDO_DEL:
	case KV_REDO_EXPIRE:
		if (h.kind != KV_REDO_PUT && h.vlen)
			return KV_EFORMAT;
		if (h.kind == KV_REDO_PUT && kv_is_kind(h.type))
			return KV_EFORMAT; /* a collection's value is an offset into its own store */
		break;
	case KV_REDO_PATCH:
		if ((uint64_t)h.off + h.vlen > h.total || h.total > KV_VALUE_SIZE_LIMIT || kv_is_kind(h.type))
			return KV_EFORMAT;
		break;
	default:
		return KV_EFORMAT;
	}
	if (h.expires_at < 0 || h.expires_at > KV_EXPIRES_MAX)
		return KV_EFORMAT;
	if (h.kind == KV_REDO_FLUSH) {
		kv_nsref ref;
		int rc = kv_ns_ref(ns, &ref);
		if (rc != KV_OK)
			return rc;
		if (!atomic_load_explicit(&ref.slot->redo, memory_order_relaxed))
			return KV_UNCHANGED;
	}
	applying = true;
	int rc = h.kind == KV_REDO_FLUSH ? kv_ns_flush(ns) : apply_key(ns, &h, key, data);
	applying = false;
	return rc;
}
