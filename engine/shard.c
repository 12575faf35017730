/*
 * shard.c -- one shard: an open-addressing table of entry offsets, and the life
 * of entries under the shard's lock.
 *
 * HOW IT WORKS
 *   A slot is 64 bits: 31 bits of the key's hash (kv_hash32), a CLOCK reference
 *   bit, and the entry's kv_off (never 0, so an all-zero slot is empty).  A key's
 *   home slot is hash32 >> shift, i.e. the table is indexed by the *high* bits of
 *   hash32, so keys sit in the table in hash order (linear probing only pushes a
 *   key forward, past its home, up to the next empty slot).
 *   That is what lets kv_scan resume from a hash value whatever the table size
 *   did in between (scan.c).  Deletion shifts later keys back instead of leaving
 *   tombstones.  The table doubles past 80% load, under the lock, in one go.
 *
 * LOCKING
 *   Writers hold sh->lock and bracket every change readers could see with
 *   kv_shard_write_begin/end, which make seq odd, then even again (nested
 *   sections move it only at the outermost level).  Readers use
 *   kv_shard_peek() and validate seq afterwards (see kv_internal.h).
 *   Lock order: shards of one namespace in ascending index; a resize takes an old
 *   shard then the new ones, which all have higher indices.  The page allocator
 *   lock may be taken while shard locks are held, never the other way round.
 */
#include "coll.h"

#define KV_MIN_TABLE 16u

static inline _Atomic uint64_t *slots(const kv_env *env, const kv_shard *sh)
{
	return kv_ptr(env, atomic_load_explicit(&sh->table, memory_order_relaxed));
}

uint64_t kv_shard_table_bytes(const kv_shard *sh)
{
	uint32_t m = atomic_load_explicit(&sh->mask, memory_order_relaxed);
	return atomic_load_explicit(&sh->table, memory_order_relaxed) ? kv_alloc_size(((size_t)m + 1) * 8) : 0;
}

static void charge_table(kv_env *env, kv_shard *sh, int64_t d)
{
	if (sh->owner)
		atomic_fetch_add_explicit(&kv_slot(env, sh->owner - 1)->bytes, (uint64_t)d, memory_order_relaxed);
	sh->bytes += (uint64_t)d;
}

int kv_shard_init_locked(kv_env *env, kv_shard *sh, uint32_t cap)
{
	if (cap < KV_MIN_TABLE)
		cap = KV_MIN_TABLE;
	kv_off t = kv_alloc(env, (size_t)cap * 8);
	if (!t)
		return KV_ENOMEM;
	memset(kv_ptr(env, t), 0, (size_t)cap * 8);
	atomic_store_explicit(&sh->table, t, memory_order_relaxed);
	atomic_store_explicit(&sh->mask, cap - 1, memory_order_relaxed);
	atomic_store_explicit(&sh->shift, 32u - (unsigned)__builtin_ctz(cap), memory_order_relaxed);
	charge_table(env, sh, (int64_t)kv_alloc_size((size_t)cap * 8));
	return KV_OK;
}

kv_entry *kv_shard_find_locked(kv_env *env, kv_shard *sh, uint32_t h32, const void *key,
                               size_t klen, uint32_t *pos)
{
	_Atomic uint64_t *s = slots(env, sh);
	uint32_t mask = sh->mask, i = h32 >> sh->shift;
	for (;;) {
		uint64_t v = atomic_load_explicit(&s[i], memory_order_relaxed);
		if (!v)
			break;
		if (kv_slot_is(v, h32)) {
			kv_entry *e = kv_ptr(env, (kv_off)v);
			if (kv_key_eq(e, key, klen)) {
				*pos = i;
				return e;
			}
		}
		i = (i + 1) & mask;
	}
	*pos = i;
	return NULL;
}

/* Double the table (or more, to hold `want` entries).  The rehash only reads the
 * old table, so it runs with seq even when the caller is outside a write section
 * (a single write's kv_make_room_locked grows ahead of its insert): readers go
 * on reading the old table meanwhile, and only the swap of the two is a write
 * section.  Writers of the shard do wait for the rehash: O(table), the one
 * section whose bound is the shard's size (see kv_internal.h). */
static int grow_locked(kv_env *env, kv_shard *sh, uint32_t want)
{
	uint32_t oldcap = sh->mask + 1, cap = oldcap;
	while ((uint64_t)want * 5 >= (uint64_t)cap * 4)
		cap *= 2;
	if (cap > (1u << 28))
		return KV_ENOMEM;
	kv_off t = kv_alloc(env, (size_t)cap * 8);
	if (!t)
		return KV_ENOMEM;
	_Atomic uint64_t *ns = kv_ptr(env, t), *os = slots(env, sh);
	memset((void *)ns, 0, (size_t)cap * 8);
	unsigned shift = 32u - (unsigned)__builtin_ctz(cap);
	for (uint32_t i = 0; i < oldcap; i++) {
		uint64_t v = atomic_load_explicit(&os[i], memory_order_relaxed);
		if (!v)
			continue;
		uint32_t j = (uint32_t)(v >> 32) >> shift;
		while (atomic_load_explicit(&ns[j], memory_order_relaxed))
			j = (j + 1) & (cap - 1);
		atomic_store_explicit(&ns[j], v, memory_order_relaxed);
	}
	kv_off old = atomic_load_explicit(&sh->table, memory_order_relaxed);
	kv_shard_write_begin(sh);
	atomic_store_explicit(&sh->table, t, memory_order_relaxed);
	atomic_store_explicit(&sh->mask, cap - 1, memory_order_relaxed);
	atomic_store_explicit(&sh->shift, shift, memory_order_relaxed);
	kv_shard_write_end(sh);
	kv_free(env, old, (size_t)oldcap * 8);
	charge_table(env, sh, (int64_t)kv_alloc_size((size_t)cap * 8) - (int64_t)kv_alloc_size((size_t)oldcap * 8));
	return KV_OK;
}

/* Size the table for `want` entries up front.  Bulk inserts (a load, a resize)
 * arrive in hash order, which piles every key into one cluster of a table that
 * grows as it goes; a table sized once takes them at ordinary probe lengths. */
int kv_shard_reserve_locked(kv_env *env, kv_shard *sh, uint32_t want)
{
	if ((uint64_t)want * 5 < (uint64_t)(sh->mask + 1) * 4)
		return KV_OK;
	return grow_locked(env, sh, want);
}

/* Insert an entry whose key is known to be absent.  Inside a write section. */
int kv_shard_insert_locked(kv_env *env, kv_shard *sh, uint32_t h32, kv_off e)
{
	if ((uint64_t)(sh->count + 1) * 5 >= (uint64_t)(sh->mask + 1) * 4) {
		int rc = grow_locked(env, sh, sh->count + 1);
		if (rc != KV_OK)
			return rc;
	}
	_Atomic uint64_t *s = slots(env, sh);
	uint32_t i = h32 >> sh->shift;
	while (atomic_load_explicit(&s[i], memory_order_relaxed))
		i = (i + 1) & sh->mask;
	/* born referenced: to the LRU hand a new key is the most recently used */
	atomic_store_explicit(&s[i], (uint64_t)h32 << 32 | KV_SLOT_REF | e, memory_order_relaxed);
	sh->count++;
	return KV_OK;
}

void kv_shard_replace_locked(kv_env *env, kv_shard *sh, uint32_t pos, kv_off e)
{
	_Atomic uint64_t *s = slots(env, sh);
	uint64_t v = atomic_load_explicit(&s[pos], memory_order_relaxed);
	atomic_store_explicit(&s[pos], (v & 0xffffffff00000000ull) | e, memory_order_relaxed);
}

/* Remove slot pos, shifting the following cluster back (Knuth's algorithm R).
 * Inside a write section. */
void kv_shard_remove_locked(kv_env *env, kv_shard *sh, uint32_t pos)
{
	_Atomic uint64_t *s = slots(env, sh);
	uint32_t mask = sh->mask, shift = sh->shift, i = pos, j = pos;
	for (;;) {
		j = (j + 1) & mask;
		uint64_t v = atomic_load_explicit(&s[j], memory_order_relaxed);
		if (!v)
			break;
		uint32_t home = (uint32_t)(v >> 32) >> shift;
		/* v may fill the hole at i unless its home lies cyclically in (i, j] */
		if (((j - home) & mask) >= ((j - i) & mask)) {
			atomic_store_explicit(&s[i], v, memory_order_relaxed);
			i = j;
		}
	}
	atomic_store_explicit(&s[i], 0, memory_order_relaxed);
	sh->count--;
}

/* Drop every entry (retiring each) and shrink the table back to its minimum
 * when a smaller one can be had.  Inside a write section. */
void kv_shard_clear_locked(kv_env *env, kv_shard *sh)
{
	_Atomic uint64_t *s = slots(env, sh);
	sh->bigseq++; /* every entry leaves (write.c, kv_prebuild) */
	for (uint32_t i = 0; i <= sh->mask; i++) {
		uint64_t v = atomic_load_explicit(&s[i], memory_order_relaxed);
		if (v)
			kv_entry_retire_locked(env, sh, kv_ptr(env, (kv_off)v));
		atomic_store_explicit(&s[i], 0, memory_order_relaxed);
	}
	sh->count = 0;
	uint32_t cap = sh->mask + 1;
	if (cap > KV_MIN_TABLE) {
		kv_off old = atomic_load_explicit(&sh->table, memory_order_relaxed);
		kv_off t = kv_alloc(env, (size_t)KV_MIN_TABLE * 8);
		if (t) {
			memset(kv_ptr(env, t), 0, (size_t)KV_MIN_TABLE * 8);
			atomic_store_explicit(&sh->table, t, memory_order_relaxed);
			atomic_store_explicit(&sh->mask, KV_MIN_TABLE - 1, memory_order_relaxed);
			atomic_store_explicit(&sh->shift, 32u - (unsigned)__builtin_ctz(KV_MIN_TABLE), memory_order_relaxed);
			kv_free(env, old, (size_t)cap * 8);
			charge_table(env, sh, (int64_t)kv_alloc_size((size_t)KV_MIN_TABLE * 8) - (int64_t)kv_alloc_size((size_t)cap * 8));
		}
	}
}

/* Swap sh's table for an empty one (of the minimum size; none when the shard is
 * being destroyed) and hand the old one, entries and all, to *out for
 * kv_tables_free() once no lock is held: emptying a shard of millions of keys
 * then holds its lock for O(1).  KV_ENOMEM (nothing changed) if the new table
 * cannot be had.  Inside a write section; the entries' charges stay with the
 * caller to settle (kv_ns_charge), the table's are settled here. */
int kv_shard_detach_locked(kv_env *env, kv_shard *sh, bool keep_table, kv_detached *out)
{
	kv_off t = 0;
	if (keep_table) {
		if (!(t = kv_alloc(env, (size_t)KV_MIN_TABLE * 8)))
			return KV_ENOMEM;
		memset(kv_ptr(env, t), 0, (size_t)KV_MIN_TABLE * 8);
	}
	sh->bigseq++; /* every entry leaves (write.c, kv_prebuild) */
	out->table = atomic_load_explicit(&sh->table, memory_order_relaxed);
	out->cap = out->table ? sh->mask + 1 : 0;
	atomic_store_explicit(&sh->table, t, memory_order_relaxed);
	atomic_store_explicit(&sh->mask, keep_table ? KV_MIN_TABLE - 1 : 0, memory_order_relaxed);
	atomic_store_explicit(&sh->shift, keep_table ? 32u - (unsigned)__builtin_ctz(KV_MIN_TABLE) : 0,
	                      memory_order_relaxed);
	sh->count = 0;
	charge_table(env, sh, (keep_table ? (int64_t)kv_alloc_size((size_t)KV_MIN_TABLE * 8) : 0) -
	                      (out->table ? (int64_t)kv_alloc_size((size_t)out->cap * 8) : 0));
	return KV_OK;
}

/* Free detached tables and every entry in them.  No lock needed: nothing
 * reachable points at them any more (optimistic readers that still do fail
 * their seq check). */
void kv_tables_free(kv_env *env, const kv_detached *t, uint32_t n)
{
	for (uint32_t k = 0; k < n; k++) {
		if (!t[k].table)
			continue;
		_Atomic uint64_t *s = kv_ptr(env, t[k].table);
		for (uint32_t i = 0; i < t[k].cap; i++) {
			uint64_t v = atomic_load_explicit(&s[i], memory_order_relaxed);
			if (!v)
				continue;
			kv_entry_free(env, kv_ptr(env, (kv_off)v));
		}
		kv_free(env, t[k].table, (size_t)t[k].cap * 8);
	}
	kv_coll_reap(env);
}

/* ------------------------------------------------------------- entries */
/* The bytes an entry is charged: its allocation, and for a collection the
 * header and body it names (coll.c keeps kv_chdr.bytes exact). */
size_t kv_entry_charge(const kv_env *env, const kv_entry *e)
{
	size_t c = kv_alloc_size(kv_entry_size(e->klen, e->vlen, atomic_load_explicit(&((kv_entry *)e)->flags, memory_order_relaxed)));
	if (kv_is_kind(e->type))
		c += kv_chdr_of(env, e)->bytes;
	return c;
}

void kv_entry_free(kv_env *env, kv_entry *e)
{
	unsigned f = atomic_load_explicit(&e->flags, memory_order_relaxed);
	kv_coll_entry_gone(env, e);
	kv_free(env, kv_offof(env, e), kv_entry_size(e->klen, e->vlen, f));
}

/* A new entry with its header and key, not linked anywhere: no lock needed.
 * The caller writes the value, and SNAPNEW if it links it while the shard's
 * snapshot cut is pending. */
kv_entry *kv_entry_build(kv_env *env, const void *key, size_t klen, size_t vlen, int type,
                         int64_t expires_at)
{
	kv_off o = kv_alloc(env, kv_entry_size(klen, vlen, expires_at ? KV_E_TTL : 0));
	return o ? kv_entry_init(env, o, key, klen, vlen, type, expires_at) : NULL;
}

kv_entry *kv_entry_init(kv_env *env, kv_off o, const void *key, size_t klen, size_t vlen, int type,
                        int64_t expires_at)
{
	unsigned flags = expires_at ? KV_E_TTL : 0;
	kv_entry *e = kv_ptr(env, o);
	e->vlen = (uint32_t)vlen;
	e->klen = (uint16_t)klen;
	e->type = (uint8_t)type;
	atomic_store_explicit(&e->flags, (uint8_t)flags, memory_order_relaxed);
	if (expires_at)
		memcpy((char *)e + sizeof *e, &expires_at, 8);
	memcpy(kv_entry_key(e), key, klen);
	return e;
}

kv_entry *kv_entry_new_locked(kv_env *env, kv_shard *sh, const void *key, size_t klen,
                              size_t vlen, int type, int64_t expires_at)
{
	kv_entry *e = kv_entry_build(env, key, klen, vlen, type, expires_at);
	if (e && sh->snap_pending)
		atomic_fetch_or_explicit(&e->flags, (uint8_t)KV_E_SNAPNEW, memory_order_relaxed);
	return e;
}

/* Ensure room to preserve n pre-images for a pending snapshot. */
int kv_shard_reserve_preserve_locked(kv_env *env, kv_shard *sh, uint32_t n)
{
	if (!sh->snap_pending || sh->npreserved + n <= sh->cappreserved)
		return KV_OK;
	uint32_t cap = sh->cappreserved ? sh->cappreserved * 2 : 64;
	while (cap < sh->npreserved + n)
		cap *= 2;
	kv_off a = kv_alloc(env, (size_t)cap * sizeof(kv_off));
	if (!a)
		return KV_ENOMEM;
	if (sh->preserved) {
		memcpy(kv_ptr(env, a), kv_ptr(env, sh->preserved), (size_t)sh->npreserved * sizeof(kv_off));
		kv_free(env, sh->preserved, (size_t)sh->cappreserved * sizeof(kv_off));
	}
	sh->preserved = a;
	sh->cappreserved = cap;
	return KV_OK;
}

/* The entry left the table: free it, or keep it for the pending snapshot cut.
 * Every caller that may retire while a snapshot is pending reserves the room
 * first with kv_shard_reserve_preserve_locked(), so the keep never fails. */
void kv_entry_retire_locked(kv_env *env, kv_shard *sh, kv_entry *e)
{
	unsigned f = atomic_load_explicit(&e->flags, memory_order_relaxed);
	if (sh->snap_pending && !(f & KV_E_SNAPNEW) && sh->npreserved < sh->cappreserved) {
		kv_off *p = kv_ptr(env, sh->preserved);
		p[sh->npreserved++] = kv_offof(env, e);
		/* a collection's pre-image keeps its header as of the cut: later
		 * writes through another entry naming it copy on write */
		if (kv_is_kind(e->type) && sh->owner)
			kv_coll_freeze_locked(env, kv_slot(env, sh->owner - 1), kv_chdr_of(env, e));
		return;
	}
	kv_entry_free(env, e);
}
