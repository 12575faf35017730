/*
 * tick.c -- background work the host drives: the active expiry sweep and the
 * autosave rules (kv_tick, kv_autosave_set).
 *
 * HOW IT WORKS
 *   kv_tick() sweeps namespaces round-robin, one shard at a time, and removes
 *   the expired keys it passes, up to a budget; the position is kept in the
 *   region, so the sweep resumes where the last tick stopped, whichever process
 *   ticks.  Keys are also removed lazily, by any read or write that meets them.
 *   One tick sweeps at a time (r->ticking): a second one that arrives meanwhile
 *   skips the sweep, so two tickers never fight over the position.
 *   Then it adds up the shards' change counters and checks the autosave rules;
 *   a rule that fires sets save_due and the host saves (the engine never does
 *   I/O on its own).
 */
#include "kv_internal.h"

#include <stddef.h>

/* Sweep one shard from its sweep position toward the end of its table, examining
 * at most *work slots (deducted) and reclaiming at most max_reclaim keys.  *done
 * is set when the sweep reached the end of the table (the position restarts). */
static size_t sweep_shard(kv_env *env, kv_ns *ns, kv_nsref *ref, kv_shard *sh, size_t max_reclaim,
                          size_t *work, int64_t now, bool *done)
{
	size_t reclaimed = 0, examined = 0;
	kv_wctx w;
	memset(&w, 0, offsetof(kv_wctx, keybuf));
	w.ns = ns;
	w.ref = *ref;
	w.now = now;
	*done = true;
	kv_spin_lock(&sh->lock);
	if (!kv_ns_ref_valid(ref) || sh->count == 0 ||
	    (sh->snap_pending && kv_shard_reserve_preserve_locked(env, sh, KV_MAX_VICTIMS) != KV_OK)) {
		kv_spin_unlock(&sh->lock);
		*work -= *work ? 1 : 0;
		return 0;
	}
	_Atomic uint64_t *s = kv_ptr(env, atomic_load_explicit(&sh->table, memory_order_relaxed));
	uint32_t mask = sh->mask, i = sh->sweep_pos > mask ? 0 : sh->sweep_pos;
	/* at most KV_MAX_VICTIMS removals a hold, hook or not: that is what the
	 * pre-image room reserved above covers while a save is copying the shard
	 * (a save reads the entries it collected after unlocking) */
	while (i <= mask && examined < *work && reclaimed < max_reclaim && reclaimed < KV_MAX_VICTIMS) {
		uint64_t v = atomic_load_explicit(&s[i], memory_order_relaxed);
		examined++;
		if (v) {
			kv_entry *e = kv_ptr(env, (kv_off)v);
			if (kv_expired(kv_entry_expiry(e), now) &&
			    (!env->hook || kv_wctx_victim(&w, kv_entry_key(e), e->klen, KV_EV_EXPIRED))) {
				kv_w_remove(&w, sh, i, e);
				atomic_fetch_add_explicit(&ref->slot->expired, 1, memory_order_relaxed);
				reclaimed++;
				continue; /* slot i now holds the next key of the cluster */
			}
		}
		i++;
	}
	*done = i > mask;
	sh->sweep_pos = *done ? 0 : i;
	kv_spin_unlock(&sh->lock);
	kv_wctx_emit(&w);
	*work -= examined < *work ? examined : *work;
	return reclaimed;
}

/* Does a rule fire?  The rules are copied under the admin lock, which
 * kv_autosave_set writes them under (at most KV_MAX_SAVE_RULES: bounded). */
static bool rule_fires(kv_region *r, int64_t now, uint64_t dirty)
{
	kv_save_rule rules[KV_MAX_SAVE_RULES];
	kv_spin_lock(&r->admin);
	uint32_t n = r->nrules < KV_MAX_SAVE_RULES ? r->nrules : KV_MAX_SAVE_RULES;
	memcpy(rules, r->rules, n * sizeof rules[0]);
	kv_spin_unlock(&r->admin);
	int64_t last = atomic_load(&r->last_save);
	for (uint32_t i = 0; i < n; i++)
		if (dirty >= rules[i].changes && dirty > 0 && now - last >= rules[i].seconds * 1000)
			return true;
	return false;
}

static uint64_t total_dirty(kv_env *env)
{
	kv_region *r = env->r;
	uint64_t d = 0;
	for (uint32_t i = 0; i < r->max_ns; i++) {
		kv_nsslot *sl = kv_slot(env, i);
		if (!sl->live)
			continue;
		kv_nsref ref = {env, sl, atomic_load(&sl->gen), i};
		uint32_t n = atomic_load(&sl->nshards);
		for (uint32_t j = 0; j < n; j++) {
			kv_shard *sh = kv_ns_shard(&ref, j);
			if (sh)
				d += atomic_load_explicit(&sh->dirty, memory_order_relaxed);
		}
	}
	return d;
}

uint64_t kv_env_dirty(kv_env *env)
{
	uint64_t d = total_dirty(env), at = atomic_load(&env->r->dirty_at_save);
	return d > at ? d - at : 0;
}

KV_API int kv_autosave_set(kv_env *env, const kv_save_rule *rules, size_t n)
{
	if (n > KV_MAX_SAVE_RULES || (n && !rules))
		return KV_EINVAL;
	for (size_t i = 0; i < n; i++) /* seconds * 1000 must not overflow (rule_fires) */
		if (rules[i].seconds < 0 || rules[i].seconds > INT64_MAX / 1000)
			return KV_EINVAL;
	kv_region *r = env->r;
	kv_spin_lock(&r->admin);
	r->nrules = 0;
	for (size_t i = 0; i < n; i++)
		r->rules[i] = rules[i];
	r->nrules = (uint32_t)n;
	kv_spin_unlock(&r->admin);
	return KV_OK;
}

KV_API int kv_tick(kv_env *env, size_t budget, kv_tick_info *out)
{
	kv_region *r = env->r;
	if (!budget)
		budget = 200;
	int64_t now = kv_now_ms();
	size_t reclaimed = 0, work = budget * 8;
	/* one ticker: a tick that finds another sweeping leaves the sweep to it
	 * (its position is the ticker's) and only reports */
	uint32_t idle = 0;
	bool sweeper = atomic_compare_exchange_strong(&r->ticking, &idle, 1);
	/* round-robin over namespaces and their shards, resuming where the last tick
	 * stopped */
	for (uint32_t visited = 0; sweeper && visited < r->max_ns && reclaimed < budget && work > 0;) {
		uint32_t k = r->sweep_ns % r->max_ns;
		kv_nsslot *sl = kv_slot(env, k);
		uint32_t g = atomic_load_explicit(&sl->gen, memory_order_acquire);
		kv_ns h;
		kv_nsref ref;
		bool ns_done = true;
		if (sl->live && !(g & 1)) {
			h.env = env;
			memcpy(h.name, sl->name, sizeof h.name);
			h.name[KV_NS_NAME_MAX] = 0;
			atomic_store(&h.bound, (uint64_t)k << 32 | g);
			if (kv_ns_ref(&h, &ref) == KV_OK) {
				uint32_t n = atomic_load(&sl->nshards);
				/* 0: dropped since kv_ns_ref */
				while (n && reclaimed < budget && work > 0) {
					uint32_t si = sl->sweep_shard % n;
					kv_shard *sh = kv_ns_shard(&ref, si);
					bool done = true;
					if (sh)
						reclaimed += sweep_shard(env, &h, &ref, sh, budget - reclaimed, &work, now, &done);
					if (!done) {
						ns_done = false;
						break;
					}
					sl->sweep_shard = si + 1;
					if (si + 1 >= n) {
						sl->sweep_shard = 0;
						break;
					}
				}
				if (sl->sweep_shard != 0)
					ns_done = false;
			}
		}
		if (!ns_done)
			break;
		r->sweep_ns = k + 1;
		visited++;
	}
	if (sweeper)
		atomic_store(&r->ticking, 0);
	if (out) {
		memset(out, 0, sizeof *out);
		out->reclaimed = reclaimed;
		out->dirty = kv_env_dirty(env);
		out->last_save = atomic_load(&r->last_save);
		out->save_due = rule_fires(r, now, out->dirty);
	}
	return KV_OK;
}
