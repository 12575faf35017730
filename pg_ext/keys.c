/*
 * keys.c -- the kv.* functions on keys: single keys, batches and scans.
 *
 * Every function follows the same three steps, so that no engine call is ever
 * left by a longjmp (see shardkv.h):
 *   1. turn the SQL arguments into bytes (this may ERROR);
 *   2. make exactly one engine call per step (no ERROR possible inside);
 *   3. check the status and copy the result out into palloc'd datums (this may
 *      ERROR; the engine holds nothing by then).
 * Values read are copied by the engine into a per-backend kv_buf that is reused
 * from call to call, so a read allocates nothing from libc in the steady state.
 *
 * Writes are not transactional: like nextval(), they take effect at once and a
 * ROLLBACK does not undo them.
 */
#include "shardkv.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"

/* Per-backend output buffers, reused; shrunk when a huge value passed through. */
static kv_buf vbuf = KV_BUF_INIT;
static kv_buf arena = KV_BUF_INIT;
#define BUF_KEEP_BYTES (1024 * 1024)

static void
buf_trim(kv_buf *b)
{
	if (b->cap > BUF_KEEP_BYTES)
		kv_buf_free(shardkv_env, b);
}

/* ------------------------------------------------------------ single keys */

/*
 * kv.get* and kv.consume* (ns, key): NULL when missing.  consume deletes the key
 * atomically; a value that then fails to convert is put back (no input may
 * lose stored data).
 */
static Datum
read_impl(FunctionCallInfo fcinfo, Oid typid, bool consume)
{
	ShardkvKey	k = shardkv_key_args(fcinfo, consume);
	int			rc;
	bool		isnull;
	Datum		d;

	rc = consume ? kv_consume(k.ns, k.key, k.klen, &vbuf) : kv_get(k.ns, k.key, k.klen, &vbuf);
	if (!shardkv_found(rc, k.ns))
		PG_RETURN_NULL();
	if (!consume)
		d = shardkv_value_as(typid, vbuf.data, vbuf.len, vbuf.type, &isnull);
	else
	{
		/*
		 * The key is gone already: if its value cannot be shown as typid
		 * (binary bytes as text, non-JSON as jsonb), put it back, unless
		 * another session wrote the key meanwhile, then report the error.
		 */
		PG_TRY();
		{
			d = shardkv_value_as(typid, vbuf.data, vbuf.len, vbuf.type, &isnull);
		}
		PG_CATCH();
		{
			(void) kv_set(k.ns, k.key, k.klen, vbuf.data, vbuf.len, vbuf.type,
						  vbuf.expires_at ? vbuf.expires_at : KV_EXPIRE_NEVER, KV_SET_NX, NULL);
			shardkv_wal_sync();
			PG_RE_THROW();
		}
		PG_END_TRY();
	}
	buf_trim(&vbuf);
	if (isnull)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(d);
}

/*
 * kv.set / kv.add / kv.replace (ns, key, value, ttl interval DEFAULT NULL).
 * A NULL value stores SQL NULL; a NULL ttl means the namespace's default TTL.
 */
static Datum
write_impl(FunctionCallInfo fcinfo, Oid typid, unsigned flags)
{
	ShardkvKey	k = shardkv_key_args(fcinfo, true);
	size_t		vlen = 0;
	const char *val = "";
	int			type = KV_T_NULL;
	int64		expires = KV_EXPIRE_DEFAULT;
	int			rc;

	if (!PG_ARGISNULL(2))
		val = shardkv_value_from(typid, PG_GETARG_DATUM(2), &vlen, &type);
	if (PG_NARGS() > 3 && !PG_ARGISNULL(3))
		expires = shardkv_expiry_from_ttl(PG_GETARG_INTERVAL_P(3), false);

	rc = kv_set(k.ns, k.key, k.klen, val, vlen, type, expires, flags, NULL);
	shardkv_wal_sync();
	if ((flags & KV_SET_NX) && rc == KV_EXISTS)
		PG_RETURN_BOOL(false);
	if ((flags & KV_SET_XX) && rc == KV_NOTFOUND)
		PG_RETURN_BOOL(false);
	SHARDKV_CHECK(rc, k.ns);
	if (flags == 0)
		PG_RETURN_VOID();
	PG_RETURN_BOOL(true);
}

SHARDKV_ENTRY(shardkv_get, read_impl(fcinfo, TEXTOID, false))
SHARDKV_ENTRY(shardkv_get_bytea, read_impl(fcinfo, BYTEAOID, false))
SHARDKV_ENTRY(shardkv_get_jsonb, read_impl(fcinfo, JSONBOID, false))
SHARDKV_ENTRY(shardkv_consume, read_impl(fcinfo, TEXTOID, true))
SHARDKV_ENTRY(shardkv_consume_bytea, read_impl(fcinfo, BYTEAOID, true))
SHARDKV_ENTRY(shardkv_consume_jsonb, read_impl(fcinfo, JSONBOID, true))
SHARDKV_ENTRY(shardkv_set_text, write_impl(fcinfo, TEXTOID, 0))
SHARDKV_ENTRY(shardkv_set_bytea, write_impl(fcinfo, BYTEAOID, 0))
SHARDKV_ENTRY(shardkv_set_jsonb, write_impl(fcinfo, JSONBOID, 0))
SHARDKV_ENTRY(shardkv_add_text, write_impl(fcinfo, TEXTOID, KV_SET_NX))
SHARDKV_ENTRY(shardkv_add_bytea, write_impl(fcinfo, BYTEAOID, KV_SET_NX))
SHARDKV_ENTRY(shardkv_add_jsonb, write_impl(fcinfo, JSONBOID, KV_SET_NX))
SHARDKV_ENTRY(shardkv_replace_text, write_impl(fcinfo, TEXTOID, KV_SET_XX))
SHARDKV_ENTRY(shardkv_replace_bytea, write_impl(fcinfo, BYTEAOID, KV_SET_XX))
SHARDKV_ENTRY(shardkv_replace_jsonb, write_impl(fcinfo, JSONBOID, KV_SET_XX))

/* kv.delete(ns, key) -> true if it existed */
PG_FUNCTION_INFO_V1(shardkv_delete);
Datum
shardkv_delete(PG_FUNCTION_ARGS)
{
	ShardkvKey	k = shardkv_key_args(fcinfo, true);
	int			rc = kv_del(k.ns, k.key, k.klen);

	if (!shardkv_found(rc, k.ns))
		PG_RETURN_BOOL(false);
	PG_RETURN_BOOL(true);
}

/* kv.exists(ns, key) */
PG_FUNCTION_INFO_V1(shardkv_exists);
Datum
shardkv_exists(PG_FUNCTION_ARGS)
{
	ShardkvKey	k = shardkv_key_args(fcinfo, false);
	int			rc = kv_exists(k.ns, k.key, k.klen);

	if (rc == KV_NOTFOUND)
		PG_RETURN_BOOL(false);
	SHARDKV_CHECK(rc, k.ns);
	PG_RETURN_BOOL(true);
}

/* kv.incr / kv.decr (ns, key, by bigint DEFAULT 1) -> the new value */
static Datum
incr_impl(FunctionCallInfo fcinfo, bool negate)
{
	ShardkvKey	k = shardkv_key_args(fcinfo, true);
	int64		by;
	int64_t		result = 0;
	int			rc;

	shardkv_require_arg(fcinfo, 2, "increment");
	by = PG_GETARG_INT64(2);
	if (negate)
	{
		if (by == PG_INT64_MIN)
			shardkv_report(KV_EOVERFLOW, kv_ns_name(k.ns), NULL);
		by = -by;
	}
	rc = kv_incr(k.ns, k.key, k.klen, by, &result);
	shardkv_done(rc, k.ns);
	PG_RETURN_INT64(result);
}

SHARDKV_ENTRY(shardkv_incr, incr_impl(fcinfo, false))
SHARDKV_ENTRY(shardkv_decr, incr_impl(fcinfo, true))

/* kv.incr_float(ns, key, by double precision) -> the new value */
PG_FUNCTION_INFO_V1(shardkv_incr_float);
Datum
shardkv_incr_float(PG_FUNCTION_ARGS)
{
	ShardkvKey	k = shardkv_key_args(fcinfo, true);
	double		result = 0;
	char		by[KV_DOUBLE_BUFSZ];
	size_t		bylen;
	int			rc;

	shardkv_require_arg(fcinfo, 2, "increment");
	/* the engine's text of the double; NaN gives "": not a float.  An
	 * infinity is a number to the engine (as to Redis): the sum then fails */
	if (isinf(PG_GETARG_FLOAT8(2)))
		bylen = strlen(strcpy(by, PG_GETARG_FLOAT8(2) > 0 ? "inf" : "-inf"));
	else
		bylen = kv_fmt_double(PG_GETARG_FLOAT8(2), by, sizeof(by));
	rc = kv_incr_float(k.ns, k.key, k.klen, by, bylen, &result, NULL);
	shardkv_wal_sync();
	if (rc == KV_EOVERFLOW)		/* the sum is not a finite double; nothing changed */
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("increment would overflow double precision"),
				 errdetail("The stored value is unchanged.")));
	SHARDKV_CHECK(rc, k.ns);
	PG_RETURN_FLOAT8(result);
}

/* kv.append(ns, key, value text|bytea) -> new length in bytes */
static Datum
append_impl(FunctionCallInfo fcinfo, Oid typid)
{
	ShardkvKey	k = shardkv_key_args(fcinfo, true);
	size_t		vlen,
				newlen = 0;
	const char *val;
	int			type;
	int			rc;

	shardkv_require_arg(fcinfo, 2, "value");
	val = shardkv_value_from(typid, PG_GETARG_DATUM(2), &vlen, &type);
	rc = kv_append(k.ns, k.key, k.klen, val, vlen, &newlen);
	shardkv_done(rc, k.ns);
	PG_RETURN_INT64((int64) newlen);
}

SHARDKV_ENTRY(shardkv_append_text, append_impl(fcinfo, TEXTOID))
SHARDKV_ENTRY(shardkv_append_bytea, append_impl(fcinfo, BYTEAOID))

/* kv.expire(ns, key, ttl interval) -> false if the key does not exist; a TTL
 * of zero or less deletes the key (Redis EXPIRE) */
PG_FUNCTION_INFO_V1(shardkv_expire);
Datum
shardkv_expire(PG_FUNCTION_ARGS)
{
	ShardkvKey	k = shardkv_key_args(fcinfo, true);
	int64		at;
	int			rc;

	shardkv_require_arg(fcinfo, 2, "ttl");
	at = shardkv_expiry_from_ttl(PG_GETARG_INTERVAL_P(2), true);
	rc = kv_expire(k.ns, k.key, k.klen, at, 0);
	if (!shardkv_found(rc, k.ns))
		PG_RETURN_BOOL(false);
	PG_RETURN_BOOL(true);
}

/* kv.expire_at(ns, key, at timestamptz): a time in the past deletes the key */
PG_FUNCTION_INFO_V1(shardkv_expire_at);
Datum
shardkv_expire_at(PG_FUNCTION_ARGS)
{
	ShardkvKey	k = shardkv_key_args(fcinfo, true);
	TimestampTz ts;
	int64		at;
	int			rc;

	shardkv_require_arg(fcinfo, 2, "expiry time");
	ts = PG_GETARG_TIMESTAMPTZ(2);
	at = shardkv_expiry_from_timestamptz(ts);
	rc = kv_expire(k.ns, k.key, k.klen, at, 0);
	if (!shardkv_found(rc, k.ns))
		PG_RETURN_BOOL(false);
	PG_RETURN_BOOL(true);
}

/* kv.persist(ns, key) -> true if an expiry was removed */
PG_FUNCTION_INFO_V1(shardkv_persist);
Datum
shardkv_persist(PG_FUNCTION_ARGS)
{
	ShardkvKey	k = shardkv_key_args(fcinfo, true);
	int			rc = kv_persist(k.ns, k.key, k.klen);
	shardkv_wal_sync();

	if (rc == KV_NOTFOUND || rc == KV_UNCHANGED)
		PG_RETURN_BOOL(false);
	SHARDKV_CHECK(rc, k.ns);
	PG_RETURN_BOOL(true);
}

/* The key's expiry time (ms); 0 if the key is missing or never expires. */
static int64_t
expiry_of(FunctionCallInfo fcinfo)
{
	ShardkvKey	k = shardkv_key_args(fcinfo, false);
	int64_t		at = 0;
	int			rc = kv_ttl(k.ns, k.key, k.klen, &at);

	if (rc == KV_NOTFOUND)
		return 0;
	SHARDKV_CHECK(rc, k.ns);
	return at;
}

/* kv.ttl(ns, key) -> time left; NULL if the key is missing or never expires */
PG_FUNCTION_INFO_V1(shardkv_ttl);
Datum
shardkv_ttl(PG_FUNCTION_ARGS)
{
	int64_t		at = expiry_of(fcinfo);

	if (at == 0)
		PG_RETURN_NULL();
	PG_RETURN_INTERVAL_P(shardkv_ttl_interval(at));
}

/* kv.expires_at(ns, key) -> absolute expiry; NULL if missing or never */
PG_FUNCTION_INFO_V1(shardkv_expires_at);
Datum
shardkv_expires_at(PG_FUNCTION_ARGS)
{
	int64_t		at = expiry_of(fcinfo);

	if (at == 0)
		PG_RETURN_NULL();
	PG_RETURN_TIMESTAMPTZ(shardkv_ms_to_timestamptz(at));
}

/*
 * kv.getset(ns, key, value text|bytea, ttl DEFAULT NULL): set and return the
 * old value (NULL if there was none) as text or bytea.  Any old value reads as
 * bytea; there is no jsonb form, because an old value that is not JSON could
 * then fail to convert after the write.
 */
static Datum
getset_impl(FunctionCallInfo fcinfo, Oid typid)
{
	ShardkvKey	k = shardkv_key_args(fcinfo, true);
	size_t		vlen = 0;
	const char *val = "";
	int			type = KV_T_NULL;
	int64		expires = KV_EXPIRE_DEFAULT;
	bool		isnull;
	Datum		d;
	int			rc;

	if (!PG_ARGISNULL(2))
		val = shardkv_value_from(typid, PG_GETARG_DATUM(2), &vlen, &type);
	if (!PG_ARGISNULL(3))
		expires = shardkv_expiry_from_ttl(PG_GETARG_INTERVAL_P(3), false);
	rc = kv_set(k.ns, k.key, k.klen, val, vlen, type, expires, 0, &vbuf);
	shardkv_done(rc, k.ns);
	if (vbuf.type == KV_T_NONE)
		PG_RETURN_NULL();
	/* the write is done: say so if the old value cannot be shown as text */
	if (typid == TEXTOID && vbuf.type != KV_T_NULL &&
		!pg_verify_mbstr(PG_UTF8, vbuf.data, (int) Min(vbuf.len, (size_t) INT_MAX), true))
		ereport(ERROR,
				(errcode(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE),
				 errmsg("old value is not valid UTF-8 text"),
				 errdetail("The new value was stored."),
				 errhint("Use the bytea form of kv.getset() when old values may be binary.")));
	d = shardkv_value_as(typid, vbuf.data, vbuf.len, vbuf.type, &isnull);
	buf_trim(&vbuf);
	if (isnull)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(d);
}

SHARDKV_ENTRY(shardkv_getset_text, getset_impl(fcinfo, TEXTOID))
SHARDKV_ENTRY(shardkv_getset_bytea, getset_impl(fcinfo, BYTEAOID))

/* kv.strlen(ns, key) -> length of the value in bytes; NULL if missing */
PG_FUNCTION_INFO_V1(shardkv_strlen);
Datum
shardkv_strlen(PG_FUNCTION_ARGS)
{
	ShardkvKey	k = shardkv_key_args(fcinfo, false);
	size_t		len = 0;
	int			rc = kv_strlen(k.ns, k.key, k.klen, &len);

	if (rc == KV_NOTFOUND)
		PG_RETURN_NULL();
	SHARDKV_CHECK(rc, k.ns);
	PG_RETURN_INT64((int64) len);
}

/*
 * kv.getrange(ns, key, start bigint, "end" bigint) -> bytea: bytes start..end
 * inclusive, negative counting from the end (Redis GETRANGE); NULL if missing.
 */
PG_FUNCTION_INFO_V1(shardkv_getrange);
Datum
shardkv_getrange(PG_FUNCTION_ARGS)
{
	ShardkvKey	k = shardkv_key_args(fcinfo, false);
	bool		isnull;
	Datum		d;
	int			rc;

	shardkv_require_arg(fcinfo, 2, "start");
	shardkv_require_arg(fcinfo, 3, "end");
	rc = kv_getrange(k.ns, k.key, k.klen, PG_GETARG_INT64(2), PG_GETARG_INT64(3), &vbuf);
	if (rc == KV_NOTFOUND)
		PG_RETURN_NULL();
	SHARDKV_CHECK(rc, k.ns);
	d = shardkv_value_as(BYTEAOID, vbuf.data, vbuf.len, KV_T_BYTES, &isnull);
	buf_trim(&vbuf);
	PG_RETURN_DATUM(d);
}

/*
 * kv.setrange(ns, key, "offset" bigint, value text|bytea) -> new length:
 * overwrite bytes at offset, zero-padding (Redis SETRANGE).
 */
static Datum
setrange_impl(FunctionCallInfo fcinfo, Oid typid)
{
	ShardkvKey	k = shardkv_key_args(fcinfo, true);
	size_t		vlen,
				newlen = 0;
	const char *val;
	int64		offset;
	int			type;
	int			rc;

	shardkv_require_arg(fcinfo, 2, "offset");
	shardkv_require_arg(fcinfo, 3, "value");
	offset = PG_GETARG_INT64(2);
	if (offset < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("offset must not be negative")));
	val = shardkv_value_from(typid, PG_GETARG_DATUM(3), &vlen, &type);
	rc = kv_setrange(k.ns, k.key, k.klen, (size_t) offset, val, vlen, &newlen);
	shardkv_done(rc, k.ns);
	PG_RETURN_INT64((int64) newlen);
}

SHARDKV_ENTRY(shardkv_setrange_text, setrange_impl(fcinfo, TEXTOID))
SHARDKV_ENTRY(shardkv_setrange_bytea, setrange_impl(fcinfo, BYTEAOID))

/*
 * kv.rename(ns, src, dst, nx boolean DEFAULT false) -> true if renamed; false
 * if src does not exist, or nx and dst exists.  Value, type and expiry move.
 */
PG_FUNCTION_INFO_V1(shardkv_rename);
Datum
shardkv_rename(PG_FUNCTION_ARGS)
{
	kv_ns	   *ns = shardkv_ns_warg(fcinfo, 0);
	size_t		slen,
				dlen;
	const char *src = shardkv_key_arg(fcinfo, 1, &slen);
	const char *dst;
	bool		nx = !PG_ARGISNULL(3) && PG_GETARG_BOOL(3);
	int			rc;

	shardkv_require_arg(fcinfo, 2, "key");
	dst = shardkv_key_bytes(PG_GETARG_TEXT_PP(2), &dlen);
	rc = kv_rename(ns, src, slen, dst, dlen, nx ? 1 : 0);
	shardkv_wal_sync();
	if (rc == KV_NOTFOUND || rc == KV_EXISTS)
		PG_RETURN_BOOL(false);
	SHARDKV_CHECK(rc, ns);
	PG_RETURN_BOOL(true);
}

/* kv.random_key(ns) -> a random live key; NULL if the namespace is empty */
PG_FUNCTION_INFO_V1(shardkv_random_key);
Datum
shardkv_random_key(PG_FUNCTION_ARGS)
{
	kv_ns	   *ns = shardkv_ns_arg(fcinfo, 0);
	int			rc = kv_random_key(ns, &vbuf);

	if (rc == KV_NOTFOUND)
		PG_RETURN_NULL();
	SHARDKV_CHECK(rc, ns);
	PG_RETURN_DATUM(shardkv_text_or_hex(vbuf.data, vbuf.len));
}

/* ------------------------------------------------------------- batches */

static int
mode_arg(FunctionCallInfo fcinfo, int n)
{
	char	   *m;

	if (PG_NARGS() <= n || PG_ARGISNULL(n))
		return KV_BATCH_ALL_OR_NOTHING;
	m = text_to_cstring(PG_GETARG_TEXT_PP(n));
	if (pg_strcasecmp(m, "all_or_nothing") == 0)
		return KV_BATCH_ALL_OR_NOTHING;
	if (pg_strcasecmp(m, "best_effort") == 0)
		return KV_BATCH_BEST_EFFORT;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid batch mode \"%s\"", m),
			 errhint("Valid modes are \"all_or_nothing\" and \"best_effort\".")));
	return 0;
}

/* Deconstruct a one-dimensional text[] (or empty); *nulls may be NULL if none allowed. */
static int
array_arg(FunctionCallInfo fcinfo, int n, const char *what, Datum **elems, bool **nulls,
		  bool allow_nulls)
{
	ArrayType  *a;
	int			count;
	int			i;

	a = shardkv_array_arg(fcinfo, n, what);
	deconstruct_array(a, ARR_ELEMTYPE(a), -1, false, TYPALIGN_INT, elems, nulls, &count);
	if (!allow_nulls)
		for (i = 0; i < count; i++)
			if ((*nulls)[i])
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("%s must not contain nulls", what)));
	return count;
}

static void
batch_report(int rc, kv_ns *ns, kv_error *err, Datum *keys, int n)
{
	if (err->item < (size_t) n)
	{
		char	   *key = TextDatumGetCString(keys[err->item]);
		int			klen = pg_mbcliplen(key, strlen(key), 200);	/* a key can be 64 kB */

		ereport(ERROR,
				(errcode(shardkv_status_sqlstate(rc)),
				 errmsg("%s", shardkv_status_message(rc, kv_ns_name(ns))),
				 errdetail("Batch item %zu (key \"%.*s\") failed; no item of the all-or-nothing batch was applied.",
						   err->item + 1, klen, key),
				 errhint("Use mode => 'best_effort' to apply the other items.")));
	}
	shardkv_report(rc, kv_ns_name(ns), err);
}

static kv_op *
ops_for_keys(Datum *keys, int n, int op)
{
	kv_op	   *ops = palloc0(sizeof(kv_op) * Max(n, 1));
	int			i;

	for (i = 0; i < n; i++)
	{
		CHECK_FOR_INTERRUPTS();	/* before the engine call: a cancel costs nothing */
		ops[i].op = op;
		ops[i].key = shardkv_key_bytes(DatumGetTextPP(keys[i]), &ops[i].klen);
	}
	return ops;
}

/*
 * kv.mget / kv.mget_bytea / kv.mget_jsonb (ns, keys text[]) -> (key, value):
 * input order, NULL for missing keys and for keys holding a collection (as
 * Redis MGET answers nil for them), a consistent cut.
 */
static Datum
mget_impl(FunctionCallInfo fcinfo, Oid typid)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	kv_ns	   *ns = shardkv_ns_arg(fcinfo, 0);
	Datum	   *keys;
	bool	   *knulls;
	int			n = array_arg(fcinfo, 1, "keys", &keys, &knulls, false);
	kv_op	   *ops = ops_for_keys(keys, n, KV_OP_GET);
	kv_error	err;
	int			rc;
	int			i;

	InitMaterializedSRF(fcinfo, 0);
	if (n == 0)
		return (Datum) 0;
	memset(&err, 0, sizeof(err));
	err.item = (size_t) -1;
	rc = kv_batch(ns, ops, (size_t) n, KV_BATCH_ALL_OR_NOTHING, &arena, &err);
	if (rc == KV_EWRONGTYPE)
	{
		/* a key holds a collection, which fails the locked all-or-nothing
		 * read: item by item then (its row reads NULL below) */
		for (i = 0; i < n; i++)
			ops[i].status = 0;
		rc = kv_batch(ns, ops, (size_t) n, KV_BATCH_BEST_EFFORT, &arena, &err);
	}
	shardkv_wal_sync();
	if (rc != KV_OK)
		batch_report(rc, ns, &err, keys, n);
	for (i = 0; i < n; i++)
	{
		Datum		values[2];
		bool		nulls[2] = {false, true};

		CHECK_FOR_INTERRUPTS();
		values[0] = keys[i];
		values[1] = (Datum) 0;
		if (ops[i].status == KV_OK)
			values[1] = shardkv_value_as_row(typid, arena.data + ops[i].out_off, ops[i].out_len,
										 ops[i].out_type, &nulls[1]);
		else if (ops[i].status != KV_NOTFOUND && ops[i].status != KV_EWRONGTYPE)
			shardkv_report(ops[i].status, kv_ns_name(ns), NULL);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	buf_trim(&arena);
	return (Datum) 0;
}

SHARDKV_ENTRY(shardkv_mget, mget_impl(fcinfo, TEXTOID))
SHARDKV_ENTRY(shardkv_mget_bytea, mget_impl(fcinfo, BYTEAOID))
SHARDKV_ENTRY(shardkv_mget_jsonb, mget_impl(fcinfo, JSONBOID))

/*
 * kv.mset(ns, keys text[], vals text[], mode, ttl) -> (key, status)
 * kv.mdelete(ns, keys text[], mode)                 -> (key, status)
 * kv.mexists(ns, keys text[], mode)                 -> (key, exists, status)
 */
static Datum
mwrite_impl(FunctionCallInfo fcinfo, int op)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	kv_ns	   *ns = shardkv_ns_warg(fcinfo, 0);
	Datum	   *keys;
	bool	   *knulls;
	int			n = array_arg(fcinfo, 1, "keys", &keys, &knulls, false);
	int			modearg = (op == KV_OP_SET) ? 3 : 2;
	int			mode = mode_arg(fcinfo, modearg);
	kv_op	   *ops = ops_for_keys(keys, n, op);
	kv_error	err;
	int			rc;
	int			i;

	if (op == KV_OP_SET)
	{
		Datum	   *vals;
		bool	   *vnulls;
		int			nv = array_arg(fcinfo, 2, "values", &vals, &vnulls, true);
		int64		expires = KV_EXPIRE_DEFAULT;

		if (nv != n)
			ereport(ERROR,
					(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
					 errmsg("keys and values must have the same length"),
					 errdetail("There are %d keys and %d values.", n, nv)));
		if (PG_NARGS() > 4 && !PG_ARGISNULL(4))
			expires = shardkv_expiry_from_ttl(PG_GETARG_INTERVAL_P(4), false);
		for (i = 0; i < n; i++)
		{
			CHECK_FOR_INTERRUPTS();
			ops[i].expires_at = expires;
			if (vnulls[i])
			{
				ops[i].val = "";
				ops[i].vlen = 0;
				ops[i].type = KV_T_NULL;
			}
			else
				ops[i].val = shardkv_value_from(TEXTOID, vals[i], &ops[i].vlen, &ops[i].type);
		}
	}

	InitMaterializedSRF(fcinfo, 0);
	if (n == 0)
		return (Datum) 0;
	memset(&err, 0, sizeof(err));
	err.item = (size_t) -1;
	rc = kv_batch(ns, ops, (size_t) n, mode, &arena, &err);	/* EXISTS-only batches need it too (engine) */
	if (rc != KV_OK)
		batch_report(rc, ns, &err, keys, n);
	shardkv_wal_sync();
	for (i = 0; i < n; i++)
	{
		Datum		values[3];
		bool		nulls[3] = {false, false, false};
		int			st = ops[i].status;

		CHECK_FOR_INTERRUPTS();
		values[0] = keys[i];
		if (op == KV_OP_EXISTS)
		{
			if (st == KV_OK || st == KV_NOTFOUND)
				values[1] = BoolGetDatum(st == KV_OK);
			else
				nulls[1] = true;
			values[2] = CStringGetTextDatum(st == KV_NOTFOUND ? "ok" : shardkv_status_token(st));
		}
		else
			values[1] = CStringGetTextDatum(shardkv_status_token(st));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

SHARDKV_ENTRY(shardkv_mset, mwrite_impl(fcinfo, KV_OP_SET))
SHARDKV_ENTRY(shardkv_mdelete, mwrite_impl(fcinfo, KV_OP_DEL))
SHARDKV_ENTRY(shardkv_mexists, mwrite_impl(fcinfo, KV_OP_EXISTS))

/* --------------------------------------------------------------- scans */

/*
 * The scan callback runs inside kv_scan(), so it must not ERROR: it copies each
 * key (and value) into the step's memory context with MCXT_ALLOC_NO_OOM and
 * returns SCAN_OOM when that fails.  The rows are made after kv_scan returns.
 */
#define SCAN_STEP_KEYS 1000

int
shardkv_scan_collect(void *arg, const void *key, size_t klen, const void *val, size_t vlen,
					 int type, int64_t expires_at)
{
	ShardkvScanCtx *sc = arg;
	ShardkvScanItem *it;

	if (val == NULL)
		vlen = 0;
	it = MemoryContextAllocExtended(sc->cxt, offsetof(ShardkvScanItem, data) + klen + vlen,
									MCXT_ALLOC_HUGE | MCXT_ALLOC_NO_OOM);
	if (it == NULL)
		return SHARDKV_SCAN_OOM;
	it->next = NULL;
	it->klen = klen;
	it->vlen = vlen;
	it->type = type;
	it->expires_at = expires_at;
	memcpy(it->data, key, klen);
	if (vlen)
		memcpy(it->data + klen, val, vlen);
	if (sc->tail)
		sc->tail->next = it;
	else
		sc->head = it;
	sc->tail = it;
	return 0;
}

/*
 * kv.keys(ns, pattern text DEFAULT NULL, prefix text DEFAULT NULL) -> SETOF text
 * kv.scan(ns, prefix text DEFAULT NULL, pattern text DEFAULT NULL)
 *     -> (key, value, type, expires_at)
 * pattern is a Redis glob (*, ?, [...], \); prefix matches leading bytes.
 */
static Datum
scan_impl(FunctionCallInfo fcinfo, bool with_values)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	kv_ns	   *ns = shardkv_ns_arg(fcinfo, 0);
	kv_scan_opts opts;
	ShardkvScanCtx sc;
	uint64_t	cursor = 0;
	int			rc;
	int			patarg = with_values ? 2 : 1;
	int			prefixarg = with_values ? 1 : 2;

	memset(&opts, 0, sizeof(opts));
	if (PG_NARGS() > prefixarg && !PG_ARGISNULL(prefixarg))
		opts.prefix = shardkv_key_bytes(PG_GETARG_TEXT_PP(prefixarg), &opts.prefix_len);
	if (PG_NARGS() > patarg && !PG_ARGISNULL(patarg))
		opts.match = shardkv_key_bytes(PG_GETARG_TEXT_PP(patarg), &opts.match_len);
	opts.count = SCAN_STEP_KEYS;
	opts.values = with_values;

	/* SETOF text (kv.keys) has no row type: take the executor's descriptor */
	InitMaterializedSRF(fcinfo, with_values ? 0 : MAT_SRF_USE_EXPECTED_DESC);
	sc.cxt = AllocSetContextCreate(CurrentMemoryContext, "shardkv scan", ALLOCSET_DEFAULT_SIZES);
	do
	{
		ShardkvScanItem *it;

		sc.head = sc.tail = NULL;
		rc = kv_scan(ns, &cursor, &opts, shardkv_scan_collect, &sc);
		if (rc == SHARDKV_SCAN_OOM)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory while scanning namespace \"%s\"", kv_ns_name(ns))));
		SHARDKV_CHECK(rc, ns);
		for (it = sc.head; it; it = it->next)
		{
			Datum		values[4];
			bool		nulls[4] = {false, false, false, false};
			values[0] = shardkv_text_or_hex(it->data, it->klen);
			if (with_values)
			{
				values[1] = shardkv_value_as_row(TEXTOID, it->data + it->klen, it->vlen, it->type,
											 &nulls[1]);
				values[2] = CStringGetTextDatum(shardkv_type_name(it->type));
				if (it->expires_at)
					values[3] = TimestampTzGetDatum(shardkv_ms_to_timestamptz(it->expires_at));
				else
					nulls[3] = true;
			}
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
		MemoryContextReset(sc.cxt);
		CHECK_FOR_INTERRUPTS();
	} while (cursor != 0);
	MemoryContextDelete(sc.cxt);
	return (Datum) 0;
}

SHARDKV_ENTRY(shardkv_keys, scan_impl(fcinfo, false))
SHARDKV_ENTRY(shardkv_scan, scan_impl(fcinfo, true))

