/*
 * bits.c -- the bit read-modify-writes of a string value: kv_setbit and
 * kv_bitfield, each one atomic call under the key's shard lock (Redis SETBIT,
 * BITFIELD).
 *
 * HOW IT WORKS
 *   Both run in a write context (write.c) like APPEND: the new length is
 *   known before anything is allocated (the highest bit written), it is
 *   checked against max_value_size, and the fill callback builds the new value
 *   from the old one in place, zero-padding past its end.  A bitfield's GETs
 *   read the bits as the earlier ops of the same call left them, so the whole
 *   op list runs inside the fill.  A call that writes nothing (GETs only)
 *   reads the entry under the lock and stores nothing.
 */
#include "coll.h"

/* Bits are numbered from the most significant bit of byte 0, as Redis does. */
static uint64_t get_bits(const unsigned char *p, size_t len, uint64_t off, unsigned bits)
{
	uint64_t v = 0;
	for (unsigned j = 0; j < bits; j++, off++) {
		uint64_t byte = off >> 3;
		unsigned bit = byte < len ? (p[byte] >> (7 - (off & 7))) & 1 : 0;
		v = (v << 1) | bit;
	}
	return v;
}

static void set_bits(unsigned char *p, uint64_t off, unsigned bits, uint64_t v)
{
	for (unsigned j = 0; j < bits; j++, off++) {
		unsigned bit = (v >> (bits - 1 - j)) & 1;
		unsigned char m = (unsigned char)(1u << (7 - (off & 7)));
		p[off >> 3] = (unsigned char)(bit ? p[off >> 3] | m : p[off >> 3] & ~m);
	}
}

static int64_t sign_extend(uint64_t v, unsigned bits)
{
	if (bits < 64 && (v & (1ull << (bits - 1))))
		v |= ~0ull << bits;
	return (int64_t)v;
}

/* Copy the old value and zero the grown tail (dst may be old). */
static void copy_pad(char *dst, size_t vlen, const char *old, size_t oldlen)
{
	if (old && dst != old)
		memcpy(dst, old, oldlen);
	if (vlen > oldlen)
		memset(dst + oldlen, 0, vlen - oldlen);
}

/* ---------------------------------------------------------------- common */
typedef struct bit_rmw {
	uint64_t need;      /* bytes the value must have after the call */
	bool     write;     /* false: read only, store nothing */
	fill_fn  fill;      /* builds the new value (or, read only, reads: dst NULL) */
	void    *arg;
	int      ev;        /* event on success (0: none) */
	size_t  *changes;   /* if not NULL and 0 after the fill, and the value did
	                     * not grow, no event (a bit set to what it was, a
	                     * BITFIELD whose writes all FAILed) */
} bit_rmw;

/* Lock key, grow its value to r->need bytes (creating it with the default
 * TTL), run r->fill; limits are checked before anything is allocated. */
static int bits_rmw(kv_ns *ns, const void *key, size_t klen, const bit_rmw *r)
{
	if (!key) {
		if (klen)
			return KV_EINVAL;
		key = "";
	}
	if (klen > KV_KEY_SIZE_LIMIT)
		return KV_EKEYSIZE;
	if (r->need > KV_VALUE_SIZE_LIMIT)
		return KV_EVALSIZE;
	kv_wctx w;
	kv_shard *sh;
	uint32_t h32, pos;
	kv_entry *e;
	int rc = kv_write_begin(ns, key, klen, &w, &sh, &h32, &pos, &e);
	if (rc != KV_OK)
		return rc;
	if (e && kv_is_kind(e->type))
		return kv_write_end(&w, sh, key, klen, KV_EWRONGTYPE, 0);
	const char *old = e ? kv_entry_key(e) + klen : NULL;
	size_t oldlen = e ? e->vlen : 0;
	if (!r->write) {
		r->fill(NULL, oldlen, old, oldlen, r->arg);
		return kv_write_end(&w, sh, key, klen, KV_OK, 0);
	}
	size_t nl = r->need > oldlen ? (size_t)r->need : oldlen;
	int64_t exp = 0;
	bool del = false;
	if (e)
		exp = kv_entry_expiry(e);
	else
		rc = kv_write_expiry(&w, KV_EXPIRE_DEFAULT, NULL, &exp, &del);
	if (rc != KV_OK)
		;
	else if (nl > atomic_load_explicit(&w.ref.slot->max_value_size, memory_order_relaxed))
		rc = KV_EVALSIZE;
	else if (!e && klen > atomic_load_explicit(&w.ref.slot->max_key_size, memory_order_relaxed))
		rc = KV_EKEYSIZE;
	else
		rc = kv_put_locked(&w, sh, h32, key, klen, e, pos, nl, KV_T_BYTES, exp, r->fill, r->arg);
	bool quiet = r->changes && *r->changes == 0 && e && nl == oldlen;
	return kv_write_end(&w, sh, key, klen, rc, quiet ? 0 : r->ev);
}

/* ---------------------------------------------------------------- setbit */
typedef struct setbit_arg {
	uint64_t off;
	int      bit;
	int      old;
	size_t   changes;
} setbit_arg;

static void fill_setbit(char *dst, size_t vlen, const char *old, size_t oldlen, const void *arg)
{
	setbit_arg *a = (setbit_arg *)arg;
	a->old = (int)get_bits((const unsigned char *)old, old ? oldlen : 0, a->off, 1);
	a->changes = a->old != a->bit;
	copy_pad(dst, vlen, old, oldlen);
	set_bits((unsigned char *)dst, a->off, 1, (uint64_t)a->bit);
}

KV_API int kv_setbit(kv_ns *ns, const void *key, size_t klen, uint64_t offset, int bit,
                     int *oldbit)
{
	if ((bit != 0 && bit != 1) || offset > (uint64_t)KV_VALUE_SIZE_LIMIT * 8)
		return bit != 0 && bit != 1 ? KV_EINVAL : KV_EVALSIZE;
	setbit_arg a = {offset, bit, 0, 0};
	/* Redis 7.2: an event only if the bit changed or the value was created or grew */
	bit_rmw r = {(offset >> 3) + 1, true, fill_setbit, &a, KV_EV_SET, &a.changes};
	int rc = bits_rmw(ns, key, klen, &r);
	if (oldbit)
		*oldbit = rc == KV_OK ? a.old : 0;
	return rc;
}

/* -------------------------------------------------------------- bitfield */
/*
 * Redis's overflow rules, including its arithmetic on the edges: the limits
 * max - value and min - value are computed with two's-complement wrap, so a
 * value next to INT64_MIN behaves as it does in Redis.  Returns nonzero on
 * overflow with *res the wrapped or saturated value (FAIL: untouched).
 */
static int64_t wsub(int64_t a, int64_t b)
{
	return (int64_t)((uint64_t)a - (uint64_t)b);
}

static uint64_t wrap_signed(int64_t v, int64_t incr, unsigned bits)
{
	uint64_t c = (uint64_t)v + (uint64_t)incr;
	if (bits < 64) {
		uint64_t mask = ~0ull << bits;
		c = (c & (1ull << (bits - 1))) ? c | mask : c & ~mask;
	}
	return c;
}

static int of_signed(int64_t v, int64_t incr, unsigned bits, int ow, int64_t *res)
{
	int64_t max = bits == 64 ? INT64_MAX : (int64_t)((1ull << (bits - 1)) - 1);
	int64_t min = -max - 1;
	int64_t maxincr = wsub(max, v), minincr = wsub(min, v);
	int dir = 0;
	if (v > max || (bits != 64 && incr > maxincr) || (v >= 0 && incr > 0 && incr > maxincr))
		dir = 1;
	else if (v < min || (bits != 64 && incr < minincr) || (v < 0 && incr < 0 && incr < minincr))
		dir = -1;
	if (dir == 0)
		return 0;
	if (ow == KV_BF_WRAP)
		*res = (int64_t)wrap_signed(v, incr, bits);
	else if (ow == KV_BF_SAT)
		*res = dir > 0 ? max : min;
	return 1;
}

static int of_unsigned(uint64_t v, int64_t incr, unsigned bits, int ow, uint64_t *res)
{
	uint64_t max = (1ull << bits) - 1; /* bits <= 63 */
	int64_t maxincr = (int64_t)(max - v), minincr = (int64_t)(0 - v);
	int dir = 0;
	if (v > max || (incr > 0 && incr > maxincr))
		dir = 1;
	else if (incr < 0 && incr < minincr)
		dir = -1;
	if (dir == 0)
		return 0;
	if (ow == KV_BF_WRAP)
		*res = (v + (uint64_t)incr) & max;
	else if (ow == KV_BF_SAT)
		*res = dir > 0 ? max : 0;
	return 1;
}

typedef struct bf_arg {
	kv_bitfield_op *ops;
	size_t          n;
	size_t          changes;
} bf_arg;

/* One op on value p (len bytes; dst NULL: read only). */
static void bf_one(unsigned char *dst, const unsigned char *p, size_t len, kv_bitfield_op *op,
                   size_t *changes)
{
	op->failed = 0;
	uint64_t raw = get_bits(p, len, op->offset, op->bits);
	if (op->op == KV_BF_GET) {
		op->result = op->is_signed ? sign_extend(raw, op->bits) : (int64_t)raw;
		return;
	}
	uint64_t newv;
	int of;
	if (op->is_signed) {
		int64_t oldv = sign_extend(raw, op->bits), nv = 0;
		if (op->op == KV_BF_INCRBY) {
			of = of_signed(oldv, op->value, op->bits, op->overflow, &nv);
			if (!of)
				nv = (int64_t)((uint64_t)oldv + (uint64_t)op->value);
			op->result = nv;
		} else {
			nv = op->value;
			of = of_signed(nv, 0, op->bits, op->overflow, &nv);
			op->result = oldv;
		}
		newv = (uint64_t)nv;
	} else {
		uint64_t nv = 0;
		if (op->op == KV_BF_INCRBY) {
			of = of_unsigned(raw, op->value, op->bits, op->overflow, &nv);
			if (!of)
				nv = raw + (uint64_t)op->value;
			op->result = (int64_t)nv;
		} else {
			nv = (uint64_t)op->value;
			of = of_unsigned(nv, 0, op->bits, op->overflow, &nv);
			op->result = (int64_t)raw;
		}
		newv = nv;
	}
	if (of && op->overflow == KV_BF_FAIL) {
		op->failed = 1;
		op->result = 0;
		return;
	}
	set_bits(dst, op->offset, op->bits, newv);
	(*changes)++;
}

static void fill_bitfield(char *dst, size_t vlen, const char *old, size_t oldlen, const void *arg)
{
	bf_arg *a = (bf_arg *)arg;
	if (dst)
		copy_pad(dst, vlen, old, oldlen);
	const unsigned char *p = (const unsigned char *)(dst ? dst : old);
	size_t len = dst ? vlen : (old ? oldlen : 0);
	for (size_t i = 0; i < a->n; i++)
		bf_one((unsigned char *)dst, p, len, &a->ops[i], &a->changes);
}

KV_API int kv_bitfield(kv_ns *ns, const void *key, size_t klen, kv_bitfield_op *ops, size_t n)
{
	if (n && !ops)
		return KV_EINVAL;
	uint64_t need = 0;
	bool write = false;
	for (size_t i = 0; i < n; i++) {
		const kv_bitfield_op *op = &ops[i];
		unsigned maxbits = op->is_signed ? 64 : 63;
		if (op->op < KV_BF_GET || op->op > KV_BF_INCRBY || op->bits < 1 || op->bits > maxbits ||
		    (op->op != KV_BF_GET && (op->overflow < KV_BF_WRAP || op->overflow > KV_BF_FAIL)))
			return KV_EINVAL;
		if (op->offset > (uint64_t)KV_VALUE_SIZE_LIMIT * 8)
			return KV_EVALSIZE;
		if (op->op != KV_BF_GET) {
			uint64_t end = ((op->offset + op->bits - 1) >> 3) + 1;
			need = end > need ? end : need;
			write = true;
		}
	}
	bf_arg a = {ops, n, 0};
	/* Redis creates (or grows) the key for a write op even if every write
	 * FAILed; that change still fires the event, so hooks (the AOF) see it */
	bit_rmw r = {need, write, fill_bitfield, &a, KV_EV_SET, &a.changes};
	return bits_rmw(ns, key, klen, &r);
}

/* ----------------------------------------------------------------- bitop */
/* dst[i] = op over byte i of every source (missing bytes are 0). */
static void bitop_into(unsigned char *out, size_t len, int op, const unsigned char *const *p,
                       const size_t *n, size_t nkeys)
{
	for (size_t i = 0; i < len; i++) {
		unsigned v = i < n[0] ? p[0][i] : 0;
		if (op == KV_BITOP_NOT)
			v = ~v;
		for (size_t k = 1; k < nkeys; k++) {
			unsigned b = i < n[k] ? p[k][i] : 0;
			v = op == KV_BITOP_AND ? v & b : op == KV_BITOP_OR ? v | b : v ^ b;
		}
		out[i] = (unsigned char)v;
	}
}

/* The locked part of kv_bitop: the sources are read and combined into tmp
 * (sized beforehand, with no lock held: *need says how much was missing),
 * then dst is written from tmp, so making room for dst may evict anything. */
static int bitop_locked(kv_ns *ns, int op, const void *dst, size_t dstlen, const void *const *keys,
                        const size_t *klens, size_t nkeys, kv_buf *tmp, size_t *need,
                        size_t *outlen, int *ev, kv_lockset *ls)
{
	const unsigned char *p[KV_BITOP_MAX_KEYS];
	size_t n[KV_BITOP_MAX_KEYS];
	uint64_t hd = kv_hash(dst, dstlen);
	kv_wctx w;
	kv_wctx_init(&w, ns);
	uint64_t hashes[KV_BITOP_MAX_KEYS + 1];
	hashes[0] = hd;
	for (size_t k = 0; k < nkeys; k++)
		hashes[k + 1] = kv_hash(keys[k], klens[k]);
	int rc = kv_lockset_lock_hashes(ns, &w.ref, ls, hashes, nkeys + 1);
	if (rc != KV_OK)
		return rc;
	kv_shard *sd = kv_lockset_shard(&w.ref, ls, hd);
	if (sd->snap_pending && kv_shard_reserve_preserve_locked(ns->env, sd, 2 + KV_MAX_VICTIMS) != KV_OK) {
		kv_lockset_unlock(&w.ref, ls);
		return KV_ENOMEM;
	}
	kv_lockset_write(&w.ref, ls, true);
	size_t len = 0;
	bool wrongtype = false;
	for (size_t k = 0; k < nkeys; k++) {
		uint64_t h = kv_hash(keys[k], klens[k]);
		uint32_t pos;
		kv_entry *e = kv_find_live_locked(&w, kv_lockset_shard(&w.ref, ls, h), kv_hash32(h), keys[k],
		                                  klens[k], &pos);
		if (e && kv_is_kind(e->type))
			wrongtype = true, e = NULL;
		n[k] = e ? e->vlen : 0;
		len = n[k] > len ? n[k] : len;
	}
	/* positions of found entries can move when a later find reclaims an
	 * expired key: look every source up again, now with nothing reclaimed */
	for (size_t k = 0; k < nkeys; k++) {
		uint64_t h = kv_hash(keys[k], klens[k]);
		uint32_t pos;
		kv_entry *e = n[k] ? kv_shard_find_locked(ns->env, kv_lockset_shard(&w.ref, ls, h), kv_hash32(h),
		                                          keys[k], klens[k], &pos)
		                   : NULL;
		p[k] = e ? (const unsigned char *)kv_entry_key(e) + klens[k] : NULL;
	}
	*need = 0;
	*ev = 0;
	if (wrongtype) {
		rc = KV_EWRONGTYPE;
	} else if (len > atomic_load_explicit(&w.ref.slot->max_value_size, memory_order_relaxed)) {
		rc = KV_EVALSIZE;
	} else if (len + 1 > tmp->cap) {
		*need = len;
		rc = KV_OK;
	} else {
		bitop_into((unsigned char *)tmp->data, len, op, p, n, nkeys);
		uint32_t pd;
		kv_entry *ed = kv_find_live_locked(&w, sd, kv_hash32(hd), dst, dstlen, &pd);
		if (len == 0) {
			/* Redis: an empty result deletes dst */
			if (ed) {
				kv_w_remove(&w, sd, pd, ed);
				*ev = KV_EV_DEL;
			}
		} else if (!ed && dstlen > atomic_load_explicit(&w.ref.slot->max_key_size, memory_order_relaxed)) {
			rc = KV_EKEYSIZE;
		} else {
			int64_t exp;
			bool del;
			rc = kv_write_expiry(&w, KV_EXPIRE_DEFAULT, ed, &exp, &del);
			val_arg a = {tmp->data, len, 0};
			if (rc == KV_OK)
				rc = kv_put_locked(&w, sd, kv_hash32(hd), dst, dstlen, ed, pd, len, KV_T_BYTES, exp,
				                   kv_fill_copy, &a);
			*ev = KV_EV_SET;
		}
	}
	kv_lockset_write(&w.ref, ls, false);
	kv_lockset_unlock(&w.ref, ls);
	kv_wctx_emit(&w);
	if (outlen)
		*outlen = rc == KV_OK ? len : 0;
	return rc;
}

KV_API int kv_bitop(kv_ns *ns, int op, const void *dst, size_t dstlen, const void *const *keys,
                    const size_t *klens, size_t nkeys, size_t *outlen)
{
	if (outlen)
		*outlen = 0;
	if (op < KV_BITOP_AND || op > KV_BITOP_NOT || nkeys == 0 || nkeys > KV_BITOP_MAX_KEYS ||
	    !keys || !klens || (op == KV_BITOP_NOT && nkeys != 1) || (!dst && dstlen))
		return KV_EINVAL;
	if (!dst)
		dst = "";
	if (dstlen > KV_KEY_SIZE_LIMIT)
		return KV_EKEYSIZE;
	const void *k0[KV_BITOP_MAX_KEYS];
	for (size_t k = 0; k < nkeys; k++) {
		if (!keys[k] && klens[k])
			return KV_EINVAL;
		if (klens[k] > KV_KEY_SIZE_LIMIT)
			return KV_EKEYSIZE;
		k0[k] = keys[k] ? keys[k] : "";
	}
	kv_buf tmp = KV_BUF_INIT;
	int rc, ev = 0;
	size_t need = 0;
	kv_lockset *ls = kv_mem_realloc(ns->env, NULL, sizeof *ls); /* large: not on the stack */
	if (!ls || kv_buf_reserve(ns->env, &tmp, 63) != KV_OK) {
		kv_mem_realloc(ns->env, ls, 0);
		return KV_ENOMEM;
	}
	for (;;) {
		rc = bitop_locked(ns, op, dst, dstlen, k0, klens, nkeys, &tmp, &need, outlen, &ev, ls);
		if (rc != KV_OK || need == 0)
			break;
		/* a source is longer than the buffer: grow it with no lock held, retry */
		if (kv_buf_reserve(ns->env, &tmp, need) != KV_OK) {
			rc = KV_ENOMEM;
			break;
		}
	}
	kv_buf_free(ns->env, &tmp);
	kv_mem_realloc(ns->env, ls, 0);
	if (rc == KV_OK && ev)
		kv_emit(ns->env, ns, dst, dstlen, ev);
	return rc;
}
