/*
 * t_bits.c -- the bitmap commands: GETBIT, BITCOUNT, BITPOS (read here, with
 * Redis 7's ranges: negative indices, BYTE | BIT units), and SETBIT, BITFIELD,
 * BITFIELD_RO, BITOP, whose read-modify-writes are the engine's atomic calls
 * (kv_setbit, kv_bitfield, kv_bitop): this file parses and replies only.
 */
#include "server.h"

#include <stdlib.h>
#include <string.h>

#define BIT_OFFSET_MAX ((512ull * 1024 * 1024 * 8) - 1) /* Redis: a 512 MB string */

/* GETBIT key offset */
void getbitCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	(void)argc;
	long long off;
	if (!argToLongLong(argv[2], lens[2], &off) || off < 0 || (unsigned long long)off > BIT_OFFSET_MAX) {
		addReplyError(&c->rb, "bit offset is not an integer or out of range");
		return;
	}
	/* one byte read, however long the value */
	kv_buf *b = &c->w->buf;
	int rc = kv_getrange(c->db, argv[1], lens[1], off >> 3, off >> 3, b);
	if (rc == KV_NOTFOUND || (rc == KV_OK && b->len == 0)) {
		addReplyLongLong(&c->rb, 0);
		return;
	}
	if (replyKvError(c, rc))
		return;
	addReplyLongLong(&c->rb, (((unsigned char)b->data[0]) >> (7 - (off & 7))) & 1);
}

static long long popcount(const unsigned char *p, size_t n)
{
	long long cnt = 0;
	while (n >= 8) {
		uint64_t v;
		memcpy(&v, p, 8);
		cnt += __builtin_popcountll(v);
		p += 8;
		n -= 8;
	}
	while (n--)
		cnt += __builtin_popcount(*p++);
	return cnt;
}

/*
 * Redis's range rules: negative counts from the end, then clamp to the value;
 * in BIT units the first and last bytes get masks for the bits outside.
 * Returns 0 for an empty range.
 */
typedef struct bitRange {
	long long start, end;       /* bytes, inclusive */
	unsigned  first_mask;       /* bits of the first byte outside the range */
	unsigned  last_mask;        /* bits of the last byte outside the range */
} bitRange;

static int rangeOf(long long start, long long end, int isbit, long long len, bitRange *r)
{
	long long total = isbit ? len << 3 : len;
	if (start < 0)
		start += total;
	if (end < 0)
		end += total;
	if (start < 0)
		start = 0;
	if (end < 0)
		end = 0;
	if (end >= total)
		end = total - 1;
	r->first_mask = r->last_mask = 0;
	if (isbit && start <= end) {
		r->first_mask = ~((1u << (8 - (start & 7))) - 1) & 0xFF;
		r->last_mask = (1u << (7 - (end & 7))) - 1;
		start >>= 3;
		end >>= 3;
	}
	r->start = start;
	r->end = end;
	return start <= end;
}

/* Parse "BYTE" | "BIT"; -1 on anything else. */
static int unitArg(const char *s, size_t n)
{
	if (argEq(s, n, "byte"))
		return 0;
	if (argEq(s, n, "bit"))
		return 1;
	return -1;
}

/* BITCOUNT key [start end [BYTE|BIT]]  (as Redis: a missing key is 0 before any argument is read) */
void bitcountCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	kv_buf *b = &c->w->buf;
	int rc = kv_get(c->db, argv[1], lens[1], b);
	if (rc == KV_NOTFOUND) {
		addReplyLongLong(&c->rb, 0);
		return;
	}
	if (replyKvError(c, rc))
		return;
	long long start = 0, end = -1;
	int isbit = 0;
	if (argc == 4 || argc == 5) {
		if (argToLongLongOrReply(c, argv[2], lens[2], &start) != C_OK ||
		    argToLongLongOrReply(c, argv[3], lens[3], &end) != C_OK)
			return;
		if (argc == 5 && (isbit = unitArg(argv[4], lens[4])) < 0) {
			replySyntax(c);
			return;
		}
		/* both ends negative and crossed: empty before any clamping */
		if (start < 0 && end < 0 && start > end) {
			addReplyLongLong(&c->rb, 0);
			return;
		}
	} else if (argc != 2) {
		replySyntax(c);
		return;
	}
	const unsigned char *p = (const unsigned char *)b->data;
	bitRange r;
	if (!rangeOf(start, end, isbit, (long long)b->len, &r)) {
		addReplyLongLong(&c->rb, 0);
		return;
	}
	long long cnt = popcount(p + r.start, (size_t)(r.end - r.start + 1));
	if (r.first_mask)
		cnt -= __builtin_popcount(p[r.start] & r.first_mask);
	if (r.last_mask)
		cnt -= __builtin_popcount(p[r.end] & r.last_mask);
	addReplyLongLong(&c->rb, cnt);
}

/* First bit equal to `bit` in p[0..n), counting from the most significant; n*8 if none. */
static long long firstBit(const unsigned char *p, size_t n, int bit)
{
	unsigned char skip = bit ? 0x00 : 0xFF;
	size_t i = 0;
	while (i < n && p[i] == skip)
		i++;
	if (i == n)
		return bit ? -1 : (long long)n * 8;
	for (int k = 0; k < 8; k++)
		if (((p[i] >> (7 - k)) & 1) == bit)
			return (long long)i * 8 + k;
	return -1; /* not reached */
}

/* BITPOS key bit [start [end [BYTE|BIT]]] */
void bitposCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	long long bitl, start = 0, end = -1;
	int isbit = 0, end_given = 0;
	if (argToLongLongOrReply(c, argv[2], lens[2], &bitl) != C_OK)
		return;
	if (bitl != 0 && bitl != 1) {
		addReplyError(&c->rb, "The bit argument must be 1 or 0.");
		return;
	}
	int bit = (int)bitl;
	kv_buf *b = &c->w->buf;
	int rc = kv_get(c->db, argv[1], lens[1], b);
	if (rc == KV_NOTFOUND) {
		/* no key: endless zero bits, as Redis answers before reading the range */
		addReplyLongLong(&c->rb, bit ? -1 : 0);
		return;
	}
	if (replyKvError(c, rc))
		return;
	if (argc > 6) {
		replySyntax(c);
		return;
	}
	if (argc >= 4 && argToLongLongOrReply(c, argv[3], lens[3], &start) != C_OK)
		return;
	if (argc >= 5) {
		if (argToLongLongOrReply(c, argv[4], lens[4], &end) != C_OK)
			return;
		end_given = 1;
	}
	if (argc == 6 && (isbit = unitArg(argv[5], lens[5])) < 0) {
		replySyntax(c);
		return;
	}
	const unsigned char *p = (const unsigned char *)b->data;
	bitRange r;
	if (!rangeOf(start, end, isbit, (long long)b->len, &r)) {
		addReplyLongLong(&c->rb, -1);
		return;
	}
	long long bytes = r.end - r.start + 1, s = r.start, pos;
	if (r.first_mask || r.last_mask) {
		/* the edge bytes with the bits outside the range forced to "not found" */
		unsigned char t;
		if (r.first_mask) {
			t = bit ? p[s] & ~r.first_mask : p[s] | r.first_mask;
			if (r.last_mask && bytes == 1)
				t = bit ? t & ~r.last_mask : t | r.last_mask;
			pos = firstBit(&t, 1, bit);
			if (bytes == 1 || (pos != -1 && pos != 8))
				goto result;
			s++;
			bytes--;
		}
		long long cur = bytes - (r.last_mask ? 1 : 0);
		if (cur > 0) {
			pos = firstBit(p + s, (size_t)cur, bit);
			if (!r.last_mask || (pos != -1 && pos != cur * 8)) {
				bytes = cur; /* these bytes end the range: "not found" is cur * 8 */
				goto result;
			}
			s += cur;
			bytes -= cur;
		}
		t = bit ? p[r.end] & ~r.last_mask : p[r.end] | r.last_mask;
		pos = firstBit(&t, 1, bit);
	} else {
		pos = firstBit(p + s, (size_t)bytes, bit);
	}
result:
	/* a clear bit past an explicit end is not "found" (the right side is not zero padding) */
	if (end_given && bit == 0 && pos == bytes * 8) {
		addReplyLongLong(&c->rb, -1);
		return;
	}
	if (pos != -1)
		pos += s * 8;
	addReplyLongLong(&c->rb, pos);
}

/* Redis's bit offset: a non-negative integer below 2^32 (512 MB of bits);
 * with hash, "#N" means N * bits.  Replies on error. */
static int bitOffsetOrReply(client *c, const char *s, size_t n, int hash, unsigned bits,
                            uint64_t *out)
{
	long long off;
	int usehash = hash && n > 0 && s[0] == '#';
	if (!argToLongLong(s + usehash, n - (size_t)usehash, &off) ||
	    (usehash && __builtin_mul_overflow(off, (long long)bits, &off)) || off < 0 ||
	    (unsigned long long)off > BIT_OFFSET_MAX) {
		addReplyError(&c->rb, "bit offset is not an integer or out of range");
		return C_ERR;
	}
	*out = (uint64_t)off;
	return C_OK;
}

/* SETBIT key offset 0|1 */
void setbitCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	(void)argc;
	uint64_t off;
	long long bit;
	if (bitOffsetOrReply(c, argv[2], lens[2], 0, 1, &off) != C_OK)
		return;
	if (!argToLongLong(argv[3], lens[3], &bit) || (bit & ~1LL)) {
		addReplyError(&c->rb, "bit is not an integer or out of range");
		return;
	}
	int old = 0;
	pubsubRenameEvents(KV_EV_SET, "setbit");
	int rc = kv_setbit(c->db, argv[1], lens[1], off, (int)bit, &old);
	pubsubRenameEvents(0, NULL);
	if (replyKvError(c, rc))
		return;
	addReplyLongLong(&c->rb, old);
}

/* i<1..64> | u<1..63>, either case; replies on error. */
static int bitfieldTypeOrReply(client *c, const char *s, size_t n, kv_bitfield_op *op)
{
	long long bits;
	int ok = n >= 2 && (s[0] == 'i' || s[0] == 'I' || s[0] == 'u' || s[0] == 'U');
	if (ok) {
		op->is_signed = s[0] == 'i' || s[0] == 'I';
		ok = argToLongLong(s + 1, n - 1, &bits) && bits >= 1 && bits <= (op->is_signed ? 64 : 63);
	}
	if (!ok) {
		addReplyError(&c->rb, "Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.");
		return C_ERR;
	}
	op->bits = (unsigned)bits;
	return C_OK;
}

static void bitfieldGeneric(client *c, int argc, const char **argv, const size_t *lens, int ro)
{
	kv_bitfield_op *ops = argc > 2 ? malloc(sizeof(*ops) * (size_t)(argc - 2) / 2 + sizeof(*ops)) : NULL;
	size_t n = 0;
	int writes = 0, ow = KV_BF_WRAP;
	if (argc > 2 && !ops) {
		replyKvError(c, KV_ENOMEM);
		return;
	}
	for (int j = 2; j < argc; j++) {
		int rem = argc - j - 1;
		const char *sub = argv[j];
		size_t sl = lens[j];
		int op;
		if (argEq(sub, sl, "get") && rem >= 2) {
			op = KV_BF_GET;
		} else if (argEq(sub, sl, "set") && rem >= 3) {
			op = KV_BF_SET;
		} else if (argEq(sub, sl, "incrby") && rem >= 3) {
			op = KV_BF_INCRBY;
		} else if (argEq(sub, sl, "overflow") && rem >= 1) {
			j++;
			if (argEq(argv[j], lens[j], "wrap"))
				ow = KV_BF_WRAP;
			else if (argEq(argv[j], lens[j], "sat"))
				ow = KV_BF_SAT;
			else if (argEq(argv[j], lens[j], "fail"))
				ow = KV_BF_FAIL;
			else {
				addReplyError(&c->rb, "Invalid OVERFLOW type specified");
				goto out;
			}
			continue;
		} else {
			goto syntax;
		}
		kv_bitfield_op *o = &ops[n];
		memset(o, 0, sizeof *o);
		o->op = op;
		o->overflow = ow;
		if (bitfieldTypeOrReply(c, argv[j + 1], lens[j + 1], o) != C_OK ||
		    bitOffsetOrReply(c, argv[j + 2], lens[j + 2], 1, o->bits, &o->offset) != C_OK)
			goto out;
		if (op != KV_BF_GET) {
			long long v;
			if (argToLongLongOrReply(c, argv[j + 3], lens[j + 3], &v) != C_OK)
				goto out;
			o->value = v;
			writes++;
		}
		n++;
		j += op == KV_BF_GET ? 2 : 3;
	}
	if (ro && writes) {
		addReplyError(&c->rb, "BITFIELD_RO only supports the GET subcommand");
		goto out;
	}
	pubsubRenameEvents(KV_EV_SET, "setbit");
	int rc = kv_bitfield(c->db, argv[1], lens[1], ops, n);
	pubsubRenameEvents(0, NULL);
	if (replyKvError(c, rc))
		goto out;
	addReplyArrayLen(&c->rb, (long long)n);
	for (size_t i = 0; i < n; i++) {
		if (ops[i].failed)
			addReplyNull(&c->rb);
		else
			addReplyLongLong(&c->rb, ops[i].result);
	}
	goto out;
syntax:
	replySyntax(c);
out:
	free(ops);
}

/* BITFIELD key [GET type offset | SET type offset value | INCRBY type offset incr | OVERFLOW WRAP|SAT|FAIL] ... */
void bitfieldCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	bitfieldGeneric(c, argc, argv, lens, 0);
}

/* BITFIELD_RO key [GET type offset] ... */
void bitfieldroCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	bitfieldGeneric(c, argc, argv, lens, 1);
}

/* BITOP AND|OR|XOR|NOT destkey key [key ...] */
void bitopCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	int op;
	if (argEq(argv[1], lens[1], "and"))
		op = KV_BITOP_AND;
	else if (argEq(argv[1], lens[1], "or"))
		op = KV_BITOP_OR;
	else if (argEq(argv[1], lens[1], "xor"))
		op = KV_BITOP_XOR;
	else if (argEq(argv[1], lens[1], "not"))
		op = KV_BITOP_NOT;
	else {
		replySyntax(c);
		return;
	}
	size_t nkeys = (size_t)argc - 3;
	if (op == KV_BITOP_NOT && nkeys != 1) {
		addReplyError(&c->rb, "BITOP NOT must be called with a single source key.");
		return;
	}
	if (nkeys > KV_BITOP_MAX_KEYS) {
		addReplyErrorFormat(&c->rb, "BITOP takes at most %d source keys", KV_BITOP_MAX_KEYS);
		return;
	}
	size_t outlen = 0;
	int rc = kv_bitop(c->db, op, argv[2], lens[2], (const void *const *)(argv + 3), lens + 3, nkeys,
	                  &outlen);
	if (replyKvError(c, rc))
		return;
	addReplyLongLong(&c->rb, (long long)outlen);
}
