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
#include "zset.h"

#include <math.h>

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

/* Would w's changes be logged (a kind about to log what it removes)? */
bool kv_redo_logging(const kv_wctx *w)
{
	return !w->undo && redo_on(w->ns->env, w->ref.slot);
}

static void emit_parts(kv_env *env, kv_nsslot *slot, kv_redo_hdr *h, const void *key,
                       const kv_val *parts, size_t nparts)
{
	env->redo(env->redo_ctx, slot->name, h, key, parts, nparts);
}

static void emit(kv_env *env, kv_nsslot *slot, kv_redo_hdr *h, const void *key, const void *data)
{
	kv_val part = {h->vlen, data};
	emit_parts(env, slot, h, key, &part, data ? 1 : 0);
}

/* A whole collection linked at a key (a STORE form, COPY, MOVE, RENAME, a big
 * SPOP's survivors): never a kv_croot in a record.  Log a DEL of what the key
 * held, and pin the collection: after the unlock, kv_redo_fill logs its
 * elements in holds, while writers of the key wait for the pin. */
static void link_coll(kv_wctx *w, kv_entry *e)
{
	kv_env *env = w->ns->env;
	kv_chdr *h = kv_chdr_of(env, e);
	kv_redo_hdr d = {0};
	d.kind = KV_REDO_DEL;
	d.klen = e->klen;
	emit(env, w->ref.slot, &d, kv_entry_key(e), NULL);
	if (w->redo_fill)
		return; /* one link per write context (none makes two) */
	atomic_fetch_add_explicit(&h->refs, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->pin, 1, memory_order_acq_rel);
	w->redo_fill = h;
	w->redo_fill_key = w->redo_key;
	w->redo_fill_klen = e->klen;
}

typedef struct fill_arg {
	kv_cop  *op;
	uint64_t at; /* a list's: the element's index (the scan's cursor) */
} fill_arg;

static int fill_one(void *ctx, const kv_celem *el)
{
	fill_arg *a = ctx;
	if (a->op->kind == KV_T_LIST) /* appended: the list holds the `at` before it */
		kv_redo_list(a->op, KV_REDO_LINS, a->at, a->at, 0, el->p, el->len);
	else
		kv_redo_elem(a->op, KV_REDO_ELEM, el->p, el->len, el->v, el->vlen, el->score);
	a->at++;
	return 0;
}

/* After the unlock of a write that linked a collection (link_coll): its
 * elements as ELEM records, KV_COLL_HOLD per hold of the key's shard lock,
 * for as long as the key names it (a DEL, SET or RENAME of the key, which do
 * not wait for the pin, logged their own record meanwhile: the rest is
 * theirs).  O(size) records in all, never more than one hold's under a lock. */
void kv_redo_fill(kv_wctx *w)
{
	kv_env *env = w->ns->env;
	kv_chdr *h = w->redo_fill;
	const void *key = w->redo_fill_key;
	size_t klen = w->redo_fill_klen;
	const kv_kind_ops *k = kv_kind_ops_of(h->kind);
	uint64_t cur = 0;
	w->redo_fill = NULL;
	do {
		kv_cop op;
		if (kv_coll_open(w->ns, key, klen, 0, KV_COPEN_READ, &op) != KV_OK)
			break;
		bool same = op.h == h;
		op.kind = h->kind;
		fill_arg a = {&op, cur};
		if (same && k->scan(env, h, &cur, KV_COLL_HOLD, fill_one, &a) != KV_OK)
			same = false;
		op.h = NULL;
		kv_write_end(&op.w, op.sh, key, klen, KV_OK, 0);
		if (!same)
			break;
	} while (cur);
	kv_coll_unpin(env, h);
}

/* After the unlock of a big SPOP that swapped in h (its survivors, pinned by
 * the caller): the n members it popped, as ELDELs, KV_COLL_HOLD per hold, for
 * as long as the key names h (as kv_redo_fill).  O(n) records, not O(size). */
void kv_redo_removed(kv_ns *ns, const void *key, size_t klen, kv_chdr *h, const kv_elems *gone,
                     size_t n)
{
	for (size_t i = 0; i < n;) {
		kv_cop op;
		if (kv_coll_open(ns, key, klen, 0, KV_COPEN_READ, &op) != KV_OK)
			break;
		bool same = op.h == h;
		op.kind = h->kind;
		for (size_t k = 0; same && k < KV_COLL_HOLD && i < n; k++, i++)
			kv_redo_elem(&op, KV_REDO_ELDEL, gone->bytes.data + gone->v[i].off, gone->v[i].len, NULL, 0, 0);
		op.h = NULL;
		kv_write_end(&op.w, op.sh, key, klen, KV_OK, 0);
		if (!same)
			break;
	}
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
	if (kv_is_kind(e->type) && kind == KV_REDO_ELEM)
		return; /* an empty collection created: its first element's record creates it */
	if (kv_is_kind(e->type) && kind == KV_REDO_ELDEL)
		return; /* a big SPOP's survivors: the caller logs what went (kv_redo_removed) */
	if (kv_is_kind(e->type) && kind != KV_REDO_EXPIRE) {
		if (kv_chdr_of(w->ns->env, e) != w->redo_rename)
			link_coll(w, e); /* (a RENAME's is logged at the source's removal) */
		return;
	}
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
	if (w->redo_rename && kv_is_kind(e->type) && kv_chdr_of(w->ns->env, e) == w->redo_rename) {
		/* a collection renamed: the source's removal is the rename (its
		 * target was linked just before, under the same locks) */
		h.kind = KV_REDO_RENAME;
		h.vlen = (uint32_t)w->redo_klen;
		emit(w->ns->env, w->ref.slot, &h, kv_entry_key(e), w->redo_key);
		w->redo_rename = NULL;
		return;
	}
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

/* A record's header for a change of op's collection: the record kind, the
 * collection's type, its key's length and its entry's expiry now (op's lock
 * held). */
static kv_redo_hdr cop_hdr(kv_cop *op, int kind, int type)
{
	uint32_t pos;
	kv_entry *e = kv_shard_find_locked(op->wx->ns->env, op->sh, op->h32, op->key, op->klen, &pos);
	kv_redo_hdr h = {0};
	h.kind = (uint8_t)kind;
	h.type = (uint8_t)type;
	h.klen = (uint16_t)op->klen;
	h.expires_at = e ? kv_entry_expiry(e) : 0;
	return h;
}

/* One element of op's collection was set (ELEM: hash field f := v, set member
 * f, zset member f := score) or removed (ELDEL), under op's lock, right after
 * the kind's own code changed it.  O(element). */
void kv_redo_elem(kv_cop *op, int kind, const void *f, size_t flen, const void *v, size_t vlen,
                  double score)
{
	kv_wctx *w = op->wx;
	kv_env *env = w->ns->env;
	if (!kv_redo_logging(w))
		return;
	kv_redo_hdr h = cop_hdr(op, kind, op->kind);
	kv_val parts[2];
	size_t n = 0;
	if (kind == KV_REDO_ELEM && op->kind == KV_T_ZSET)
		parts[n++] = (kv_val){sizeof score, &score};
	parts[n++] = (kv_val){flen, f};
	if (kind == KV_REDO_ELEM && op->kind == KV_T_HASH) {
		h.off = (uint32_t)flen;
		parts[n++] = (kv_val){vlen, v};
	}
	for (size_t i = 0; i < n; i++)
		h.vlen += (uint32_t)parts[i].len;
	emit_parts(env, w->ref.slot, &h, op->key, parts, n);
}

/* One change of op's list, under op's lock, right after lists.c made it (kv.h
 * REDO LOG, LISTS): len is the list's length before it; LINS puts v at index
 * at, LSET overwrites index at with v, LDEL removes n from at, LTRIM n2 from
 * the head (at) and n from the tail.  O(element). */
void kv_redo_list(kv_cop *op, int kind, uint64_t len, uint64_t at, uint64_t n, const void *v,
                  size_t vlen)
{
	kv_wctx *w = op->wx;
	kv_env *env = w->ns->env;
	if (!kv_redo_logging(w))
		return;
	kv_redo_hdr h = cop_hdr(op, kind, KV_T_LIST);
	h.off = (uint32_t)at;
	h.total = (uint32_t)len;
	uint32_t n32 = (uint32_t)n;
	kv_val part = {vlen, v};
	if (kind == KV_REDO_LDEL || kind == KV_REDO_LTRIM)
		part = (kv_val){sizeof n32, &n32};
	h.vlen = (uint32_t)part.len;
	emit_parts(env, w->ref.slot, &h, op->key, &part, 1);
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

/* An element record, through the kinds' own code: ELEM sets one element
 * (creating the key with the record's expiry), ELDEL removes one (removing the
 * key when it empties).  Both are states of one element, so applying one again
 * changes nothing. */
static int apply_elem(kv_ns *ns, const kv_redo_hdr *h, const char *key, const char *data)
{
	kv_env *env = ns->env;
	kv_cop op;
	int rc = kv_coll_open(ns, key, h->klen, h->type, KV_COPEN_WRITE, &op);
	if (rc == KV_EWRONGTYPE)
		return KV_UNCHANGED; /* only replaying records the snapshot holds: a later one fixes the key */
	if (rc != KV_OK)
		return rc;
	const char *f = data, *v = NULL;
	size_t flen = h->vlen, vlen = 0;
	double score = 0;
	bool zset = h->type == KV_T_ZSET;
	if (!atomic_load_explicit(&op.w.ref.slot->redo, memory_order_relaxed)) {
		rc = KV_UNCHANGED;
	} else if (h->expires_at != 0 && h->expires_at <= kv_wctx_now(&op.w)) {
		if (op.e) { /* a state whose expiry has passed here is a removal here */
			kv_w_remove(&op.w, op.sh, op.pos, op.e);
			op.h = NULL;
		}
	} else if (h->kind == KV_REDO_ELDEL) {
		if (op.h)
			rc = kv_coll_mutate(&op, zset ? ZS_RELEASES(op.h) : 4);
		if (op.h && rc == KV_OK && zset && (rc = zs_del(env, op.h, f, flen, NULL)) == KV_NOTFOUND)
			rc = KV_OK;
		else if (op.h && rc == KV_OK && !zset)
			kv_dict_del(env, op.h, f, flen, &rc);
	} else {
		if (zset) {
			memcpy(&score, data, sizeof score);
			f += sizeof score;
			flen -= sizeof score;
		} else if (h->type == KV_T_HASH) {
			flen = h->off;
			v = data + h->off;
			vlen = h->vlen - h->off;
		}
		if (!op.h) {
			rc = kv_coll_create_at(&op, KV_ENC_LISTPACK, h->expires_at);
			if (rc == KV_OK && zset)
				rc = zs_init(env, op.h, 0, flen);
		}
		if (rc == KV_OK)
			rc = kv_coll_reserve(&op, (int64_t)(flen + vlen) + 48);
		if (rc == KV_OK)
			rc = kv_coll_mutate(&op, zset ? ZS_RELEASES(op.h) : 8);
		int out;
		double now;
		if (rc == KV_OK && zset)
			rc = zs_add(env, op.h, score, f, flen, 0, &out, &now);
		else if (rc == KV_OK)
			rc = kv_dict_put(env, op.h, f, flen, v, vlen, false, &out);
	}
	op.changed = false; /* replay fires no hooks */
	op.w.nvictims = 0;
	return kv_coll_close(&op, rc, 0);
}

/* A list record, through lists.c (kv_list_redo), only onto a list of the
 * length it was made on (pg_ext/README.md argues when that skips one). */
static int apply_list(kv_ns *ns, const kv_redo_hdr *h, const char *key, const char *data)
{
	kv_cop op;
	int rc = kv_coll_open(ns, key, h->klen, KV_T_LIST, KV_COPEN_WRITE, &op);
	if (rc == KV_EWRONGTYPE)
		return KV_UNCHANGED; /* as apply_elem */
	if (rc != KV_OK)
		return rc;
	if (!atomic_load_explicit(&op.w.ref.slot->redo, memory_order_relaxed)) {
		rc = KV_UNCHANGED;
	} else if (h->expires_at != 0 && h->expires_at <= kv_wctx_now(&op.w)) {
		if (op.e) { /* a state whose expiry has passed here is a removal here */
			kv_w_remove(&op.w, op.sh, op.pos, op.e);
			op.h = NULL;
		}
	} else {
		return kv_list_redo(&op, h, data); /* closes op */
	}
	op.changed = false;
	op.w.nvictims = 0;
	return kv_coll_close(&op, rc, 0);
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
	case KV_REDO_RENAME:
		if (h.vlen > KV_KEY_SIZE_LIMIT)
			return KV_EFORMAT;
		break;
	case KV_REDO_ELEM:
	case KV_REDO_ELDEL:
		if (h.type != KV_T_HASH && h.type != KV_T_SET && h.type != KV_T_ZSET)
			return KV_EFORMAT;
		if (h.kind == KV_REDO_ELEM && h.type == KV_T_ZSET) {
			double score;
			if (h.vlen < sizeof score)
				return KV_EFORMAT;
			memcpy(&score, data, sizeof score);
			if (isnan(score))
				return KV_EFORMAT;
		}
		if (h.kind == KV_REDO_ELEM && h.type == KV_T_HASH && h.off > h.vlen)
			return KV_EFORMAT;
		break;
	case KV_REDO_LINS:
	case KV_REDO_LSET:
	case KV_REDO_LDEL:
	case KV_REDO_LTRIM:
		if (h.type != KV_T_LIST)
			return KV_EFORMAT;
		if ((h.kind == KV_REDO_LDEL || h.kind == KV_REDO_LTRIM) && h.vlen != sizeof(uint32_t))
			return KV_EFORMAT;
		break;
	default:
		return KV_EFORMAT;
	}
	if (h.expires_at < 0 || h.expires_at > KV_EXPIRES_MAX)
		return KV_EFORMAT;
	if (h.kind == KV_REDO_FLUSH || h.kind == KV_REDO_RENAME) {
		kv_nsref ref;
		int rc = kv_ns_ref(ns, &ref);
		if (rc != KV_OK)
			return rc;
		if (!atomic_load_explicit(&ref.slot->redo, memory_order_relaxed))
			return KV_UNCHANGED;
	}
	applying = true;
	int rc;
	if (h.kind == KV_REDO_FLUSH)
		rc = kv_ns_flush(ns);
	else if (h.kind == KV_REDO_RENAME) /* the source missing: only a replay of records the snapshot holds */
		rc = (rc = kv_rename(ns, key, h.klen, data, h.vlen, 0)) == KV_NOTFOUND ? KV_UNCHANGED : rc;
	else if (h.kind == KV_REDO_ELEM || h.kind == KV_REDO_ELDEL)
		rc = apply_elem(ns, &h, key, data);
	else if (h.kind >= KV_REDO_LINS)
		rc = apply_list(ns, &h, key, data);
	else
		rc = apply_key(ns, &h, key, data);
	applying = false;
	return rc;
}
