/*
 * wctx.c -- the write context's own bookkeeping (kv_wctx), shared by every
 * writer (write.c, batch.c) and by what removes keys on a writer's behalf
 * (evict.c, tick.c): removing an entry and retiring it (or logging it in a
 * transaction's undo log), and the keys removed on the side whose hooks fire
 * after the lock is released.  It calls no other engine file but the shard
 * primitives, so eviction can use it without depending on write.c.
 */
#include "kv_internal.h"

bool kv_wctx_victim(kv_wctx *w, const void *key, size_t klen, int ev)
{
	if (w->nvictims == KV_MAX_VICTIMS || klen > sizeof w->keybuf - w->keyused)
		return false;
	memcpy(w->keybuf + w->keyused, key, klen);
	w->voff[w->nvictims] = (uint32_t)w->keyused;
	w->vlen[w->nvictims] = (uint32_t)klen;
	w->vev[w->nvictims] = ev;
	w->nvictims++;
	w->keyused += klen;
	return true;
}

void kv_wctx_emit(kv_wctx *w)
{
	if (w->redo_fill)
		kv_redo_fill(w); /* a collection it linked: its elements' records, in holds */
	for (int i = 0; i < w->nvictims; i++)
		kv_emit(w->ns->env, w->ns, w->keybuf + w->voff[i], w->vlen[i], w->vev[i]);
	w->nvictims = 0;
	w->keyused = 0;
	kv_coll_reap(w->ns->env); /* collections this write removed: freed now, unlocked */
}

void kv_wctx_init(kv_wctx *w, kv_ns *ns)
{
	w->ns = ns;
	w->now = 0;
	w->undo = NULL;
	w->nundo = w->capundo = 0;
	w->credit_keys = 0;
	w->credit_bytes = 0;
	w->pin = NULL;
	w->pre = NULL;
	w->pre_ttl = false;
	w->redo_kind = 0;
	w->redo_off = w->redo_len = 0;
	w->redo_key = NULL;
	w->redo_klen = 0;
	w->redo_rename = NULL;
	w->redo_fill = NULL;
	w->ls = NULL;
	w->xv = NULL;
	w->grow = false;
	w->nevicted = 0;
	w->nvictims = 0;
	w->keyused = 0;
}

/* Log a table change of a transaction (capacity was reserved by the batch). */
void kv_wctx_undo(kv_wctx *w, kv_shard *sh, kv_entry *old, kv_entry *new_)
{
	kv_env *env = w->ns->env;
	kv_undo *u = &w->undo[w->nundo++];
	u->sh = sh;
	u->old = old ? kv_offof(env, old) : 0;
	u->new_ = new_ ? kv_offof(env, new_) : 0;
}

/* The replaced or removed entry: retired now, or at commit in a transaction. */
void kv_wctx_drop_old(kv_wctx *w, kv_shard *sh, kv_entry *old, kv_entry *new_)
{
	if (w->undo)
		kv_wctx_undo(w, sh, old, new_);
	else if (old)
		kv_entry_retire_locked(w->ns->env, sh, old);
}

int64_t kv_wctx_now(kv_wctx *w)
{
	if (!w->now)
		w->now = kv_now_ms();
	return w->now;
}

void kv_w_remove(kv_wctx *w, kv_shard *sh, uint32_t pos, kv_entry *e)
{
	size_t charge = kv_entry_charge(w->ns->env, e);
	kv_redo_del(w, e);
	kv_shard_write_begin(sh);
	kv_big_changed(sh, e);
	kv_shard_remove_locked(w->ns->env, sh, pos);
	kv_wctx_drop_old(w, sh, e, NULL);
	kv_shard_write_end(sh);
	kv_ns_charge(w->ref.slot, sh, -1, -(int64_t)charge);
}
