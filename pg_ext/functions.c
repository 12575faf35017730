/*
 * functions.c -- the kv.* SQL functions.
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

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/jsonb.h"
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

/* ------------------------------------------------------------ conversion */

const char *
shardkv_type_name(int type)
{
	switch (type)
	{
		case KV_T_BYTES:
			return "bytes";
		case KV_T_TEXT:
			return "text";
		case KV_T_INT:
			return "int";
		case KV_T_REAL:
			return "real";
		case KV_T_JSON:
			return "json";
		case KV_T_NULL:
			return "null";
		default:
			return "other";
	}
}

/* Stored bytes (UTF-8 by the engine's convention) -> server-encoded C string. */
char *
shardkv_stored_to_cstring(const char *data, size_t len, int type, int *outlen)
{
	char	   *s;

	if (len > MaxAllocSize - 1)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("value of %zu bytes is too long for text", len)));
	if (!pg_verify_mbstr(PG_UTF8, data, (int) len, true))
		ereport(ERROR,
				(errcode(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE),
				 errmsg("stored %s value is not valid UTF-8 text", shardkv_type_name(type)),
				 errhint("Read it with kv.get_bytea().")));
	s = pg_any_to_server(data, (int) len, PG_UTF8);
	if (s == data)
	{
		s = palloc(len + 1);
		memcpy(s, data, len);
		s[len] = '\0';
		*outlen = (int) len;
	}
	else
		*outlen = (int) strlen(s);
	return s;
}

/*
 * Bytes as text for reads that return many rows (kv.keys, kv.scan, kv.mget, the
 * FDW, kv.random_key): one key or value that is not valid UTF-8 (binary data,
 * or bytes written by another host) must not fail the whole read, so such bytes
 * come back in bytea's hex text form, "\x0aff".  kv.scan's type column tells a
 * bytes value from text; kv.get_bytea reads the value itself.
 */
Datum
shardkv_text_or_hex(const char *data, size_t len)
{
	char	   *s;
	int			slen;

	if (len <= MaxAllocSize / 2 - VARHDRSZ - 2 &&
		!pg_verify_mbstr(PG_UTF8, data, (int) Min(len, (size_t) INT_MAX), true))
	{
		text	   *t = palloc(VARHDRSZ + 2 + len * 2);

		SET_VARSIZE(t, VARHDRSZ + 2 + len * 2);
		memcpy(VARDATA(t), "\\x", 2);
		hex_encode(data, len, VARDATA(t) + 2);
		return PointerGetDatum(t);
	}
	s = shardkv_stored_to_cstring(data, len, KV_T_BYTES, &slen);
	return PointerGetDatum(cstring_to_text_with_len(s, slen));
}

/* shardkv_value_as for many-row reads: text never fails on binary bytes. */
Datum
shardkv_value_as_row(Oid typid, const char *data, size_t len, int type, bool *isnull)
{
	if (typid == TEXTOID && type != KV_T_NULL)
	{
		*isnull = false;
		return shardkv_text_or_hex(data, len);
	}
	return shardkv_value_as(typid, data, len, type, isnull);
}

/*
 * A stored value as SQL type typid (text, bytea or jsonb), converting as a cast
 * would: any value reads as bytea (its bytes); text needs valid UTF-8; jsonb
 * needs valid JSON text.  A stored SQL NULL (KV_T_NULL) reads as NULL.
 */
Datum
shardkv_value_as(Oid typid, const char *data, size_t len, int type, bool *isnull)
{
	char	   *s;
	int			slen;

	*isnull = false;
	if (type == KV_T_NULL)
	{
		*isnull = true;
		return (Datum) 0;
	}
	switch (typid)
	{
		case BYTEAOID:
			{
				bytea	   *b;

				if (len > MaxAllocSize - VARHDRSZ)
					ereport(ERROR,
							(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
							 errmsg("value of %zu bytes is too long for bytea", len)));
				b = palloc(len + VARHDRSZ);
				SET_VARSIZE(b, len + VARHDRSZ);
				memcpy(VARDATA(b), data, len);
				return PointerGetDatum(b);
			}
		case TEXTOID:
			if (GetDatabaseEncoding() == PG_UTF8)
			{
				/* the common case: verify once, copy once */
				text	   *t;

				if (len > MaxAllocSize - VARHDRSZ ||
					!pg_verify_mbstr(PG_UTF8, data, (int) len, true))
					(void) shardkv_stored_to_cstring(data, len, type, &slen);	/* reports */
				t = palloc(len + VARHDRSZ);
				SET_VARSIZE(t, len + VARHDRSZ);
				memcpy(VARDATA(t), data, len);
				return PointerGetDatum(t);
			}
			s = shardkv_stored_to_cstring(data, len, type, &slen);
			return PointerGetDatum(cstring_to_text_with_len(s, slen));
		case JSONBOID:
			s = shardkv_stored_to_cstring(data, len, type, &slen);
			return DirectFunctionCall1(jsonb_in, CStringGetDatum(s));
		default:
			elog(ERROR, "shardkv: unsupported value type %u", typid);
	}
	return (Datum) 0;
}

/* A SQL value -> bytes to store and their type tag. */
const char *
shardkv_value_from(Oid typid, Datum d, size_t *len, int *type)
{
	switch (typid)
	{
		case BYTEAOID:
			{
				bytea	   *b = DatumGetByteaPP(d);

				*len = VARSIZE_ANY_EXHDR(b);
				*type = KV_T_BYTES;
				return VARDATA_ANY(b);
			}
		case TEXTOID:
			{
				text	   *t = DatumGetTextPP(d);
				const char *p = VARDATA_ANY(t);
				int			l = (int) VARSIZE_ANY_EXHDR(t);
				const char *u = pg_server_to_any(p, l, PG_UTF8);

				*len = (u == p) ? (size_t) l : strlen(u);
				*type = KV_T_TEXT;
				return u;
			}
		case JSONBOID:
			{
				Jsonb	   *jb = DatumGetJsonbP(d);
				char	   *s = JsonbToCString(NULL, &jb->root, VARSIZE(jb));
				const char *u = pg_server_to_any(s, (int) strlen(s), PG_UTF8);

				*len = strlen(u);
				*type = KV_T_JSON;
				return u;
			}
		default:
			elog(ERROR, "shardkv: unsupported value type %u", typid);
	}
	return NULL;
}

/* ------------------------------------------------------------ arguments */

static void
require_arg(FunctionCallInfo fcinfo, int n, const char *what)
{
	if (PG_ARGISNULL(n))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", what)));
}

static kv_ns *
ns_arg(FunctionCallInfo fcinfo, int n)
{
	require_arg(fcinfo, n, "namespace");
	return shardkv_ns(PG_GETARG_TEXT_PP(n));
}

/* A key as bytes (UTF-8). */
const char *
shardkv_key_bytes(text *t, size_t *klen)
{
	const char *p = VARDATA_ANY(t);
	int			l = (int) VARSIZE_ANY_EXHDR(t);
	const char *u = pg_server_to_any(p, l, PG_UTF8);

	*klen = (u == p) ? (size_t) l : strlen(u);
	return u;
}

static const char *
key_arg(FunctionCallInfo fcinfo, int n, size_t *klen)
{
	require_arg(fcinfo, n, "key");
	return shardkv_key_bytes(PG_GETARG_TEXT_PP(n), klen);
}

/* Report any status but the ones the caller treats as outcomes. */
#define CHECK(rc, ns) \
	do { if ((rc) != KV_OK) shardkv_report((rc), kv_ns_name(ns), NULL); } while (0)

/* ------------------------------------------------------------ single keys */

/*
 * kv.get* and kv.consume* (ns, key): NULL when missing.  consume deletes the key
 * atomically; a value that then fails to convert is put back (no input may
 * lose stored data).
 */
static Datum
read_impl(FunctionCallInfo fcinfo, Oid typid, bool consume)
{
	kv_ns	   *ns = ns_arg(fcinfo, 0);
	size_t		klen;
	const char *key = key_arg(fcinfo, 1, &klen);
	int			rc;
	bool		isnull;
	Datum		d;

	rc = consume ? kv_consume(ns, key, klen, &vbuf) : kv_get(ns, key, klen, &vbuf);
	if (rc == KV_NOTFOUND)
		PG_RETURN_NULL();
	CHECK(rc, ns);
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
			(void) kv_set(ns, key, klen, vbuf.data, vbuf.len, vbuf.type,
						  vbuf.expires_at ? vbuf.expires_at : KV_EXPIRE_NEVER, KV_SET_NX, NULL);
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
	kv_ns	   *ns = ns_arg(fcinfo, 0);
	size_t		klen,
				vlen = 0;
	const char *key = key_arg(fcinfo, 1, &klen);
	const char *val = "";
	int			type = KV_T_NULL;
	int64		expires = KV_EXPIRE_DEFAULT;
	int			rc;

	if (!PG_ARGISNULL(2))
		val = shardkv_value_from(typid, PG_GETARG_DATUM(2), &vlen, &type);
	if (PG_NARGS() > 3 && !PG_ARGISNULL(3))
		expires = shardkv_expiry_from_ttl(PG_GETARG_INTERVAL_P(3));

	rc = kv_set(ns, key, klen, val, vlen, type, expires, flags, NULL);
	if ((flags & KV_SET_NX) && rc == KV_EXISTS)
		PG_RETURN_BOOL(false);
	if ((flags & KV_SET_XX) && rc == KV_NOTFOUND)
		PG_RETURN_BOOL(false);
	CHECK(rc, ns);
	if (flags == 0)
		PG_RETURN_VOID();
	PG_RETURN_BOOL(true);
}

#define TYPED_ENTRY(name, call) \
	PG_FUNCTION_INFO_V1(name); \
	Datum name(PG_FUNCTION_ARGS) { return call; }

TYPED_ENTRY(shardkv_get, read_impl(fcinfo, TEXTOID, false))
TYPED_ENTRY(shardkv_get_bytea, read_impl(fcinfo, BYTEAOID, false))
TYPED_ENTRY(shardkv_get_jsonb, read_impl(fcinfo, JSONBOID, false))
TYPED_ENTRY(shardkv_consume, read_impl(fcinfo, TEXTOID, true))
TYPED_ENTRY(shardkv_consume_bytea, read_impl(fcinfo, BYTEAOID, true))
TYPED_ENTRY(shardkv_consume_jsonb, read_impl(fcinfo, JSONBOID, true))
TYPED_ENTRY(shardkv_set_text, write_impl(fcinfo, TEXTOID, 0))
TYPED_ENTRY(shardkv_set_bytea, write_impl(fcinfo, BYTEAOID, 0))
TYPED_ENTRY(shardkv_set_jsonb, write_impl(fcinfo, JSONBOID, 0))
TYPED_ENTRY(shardkv_add_text, write_impl(fcinfo, TEXTOID, KV_SET_NX))
TYPED_ENTRY(shardkv_add_bytea, write_impl(fcinfo, BYTEAOID, KV_SET_NX))
TYPED_ENTRY(shardkv_add_jsonb, write_impl(fcinfo, JSONBOID, KV_SET_NX))
TYPED_ENTRY(shardkv_replace_text, write_impl(fcinfo, TEXTOID, KV_SET_XX))
TYPED_ENTRY(shardkv_replace_bytea, write_impl(fcinfo, BYTEAOID, KV_SET_XX))
TYPED_ENTRY(shardkv_replace_jsonb, write_impl(fcinfo, JSONBOID, KV_SET_XX))

/* kv.delete(ns, key) -> true if it existed */
PG_FUNCTION_INFO_V1(shardkv_delete);
Datum
shardkv_delete(PG_FUNCTION_ARGS)
{
	kv_ns	   *ns = ns_arg(fcinfo, 0);
	size_t		klen;
	const char *key = key_arg(fcinfo, 1, &klen);
	int			rc = kv_del(ns, key, klen);

	if (rc == KV_NOTFOUND)
		PG_RETURN_BOOL(false);
	CHECK(rc, ns);
	PG_RETURN_BOOL(true);
}

/* kv.exists(ns, key) */
PG_FUNCTION_INFO_V1(shardkv_exists);
Datum
shardkv_exists(PG_FUNCTION_ARGS)
{
	kv_ns	   *ns = ns_arg(fcinfo, 0);
	size_t		klen;
	const char *key = key_arg(fcinfo, 1, &klen);
	int			rc = kv_exists(ns, key, klen);

	if (rc == KV_NOTFOUND)
		PG_RETURN_BOOL(false);
	CHECK(rc, ns);
	PG_RETURN_BOOL(true);
}

/* kv.incr / kv.decr (ns, key, by bigint DEFAULT 1) -> the new value */
static Datum
incr_impl(FunctionCallInfo fcinfo, bool negate)
{
	kv_ns	   *ns = ns_arg(fcinfo, 0);
	size_t		klen;
	const char *key = key_arg(fcinfo, 1, &klen);
	int64		by;
	int64_t		result = 0;
	int			rc;

	require_arg(fcinfo, 2, "increment");
	by = PG_GETARG_INT64(2);
	if (negate)
	{
		if (by == PG_INT64_MIN)
			shardkv_report(KV_EOVERFLOW, kv_ns_name(ns), NULL);
		by = -by;
	}
	rc = kv_incr(ns, key, klen, by, &result);
	CHECK(rc, ns);
	PG_RETURN_INT64(result);
}

TYPED_ENTRY(shardkv_incr, incr_impl(fcinfo, false))
TYPED_ENTRY(shardkv_decr, incr_impl(fcinfo, true))

/* kv.incr_float(ns, key, by double precision) -> the new value */
PG_FUNCTION_INFO_V1(shardkv_incr_float);
Datum
shardkv_incr_float(PG_FUNCTION_ARGS)
{
	kv_ns	   *ns = ns_arg(fcinfo, 0);
	size_t		klen;
	const char *key = key_arg(fcinfo, 1, &klen);
	double		result = 0;
	char	   *by;
	int			rc;

	require_arg(fcinfo, 2, "increment");
	by = float8out_internal(PG_GETARG_FLOAT8(2));	/* shortest exact text */
	rc = kv_incr_float(ns, key, klen, by, strlen(by), &result, NULL);
	CHECK(rc, ns);
	PG_RETURN_FLOAT8(result);
}

/* kv.append(ns, key, value text|bytea) -> new length in bytes */
static Datum
append_impl(FunctionCallInfo fcinfo, Oid typid)
{
	kv_ns	   *ns = ns_arg(fcinfo, 0);
	size_t		klen,
				vlen,
				newlen = 0;
	const char *key = key_arg(fcinfo, 1, &klen);
	const char *val;
	int			type;
	int			rc;

	require_arg(fcinfo, 2, "value");
	val = shardkv_value_from(typid, PG_GETARG_DATUM(2), &vlen, &type);
	rc = kv_append(ns, key, klen, val, vlen, &newlen);
	CHECK(rc, ns);
	PG_RETURN_INT64((int64) newlen);
}

TYPED_ENTRY(shardkv_append_text, append_impl(fcinfo, TEXTOID))
TYPED_ENTRY(shardkv_append_bytea, append_impl(fcinfo, BYTEAOID))

/* kv.expire(ns, key, ttl interval) -> false if the key does not exist */
PG_FUNCTION_INFO_V1(shardkv_expire);
Datum
shardkv_expire(PG_FUNCTION_ARGS)
{
	kv_ns	   *ns = ns_arg(fcinfo, 0);
	size_t		klen;
	const char *key = key_arg(fcinfo, 1, &klen);
	int64		at;
	int			rc;

	require_arg(fcinfo, 2, "ttl");
	at = shardkv_expiry_from_ttl(PG_GETARG_INTERVAL_P(2));
	rc = kv_expire(ns, key, klen, at, 0);
	if (rc == KV_NOTFOUND)
		PG_RETURN_BOOL(false);
	CHECK(rc, ns);
	PG_RETURN_BOOL(true);
}

/* kv.expire_at(ns, key, at timestamptz): a time in the past deletes the key */
PG_FUNCTION_INFO_V1(shardkv_expire_at);
Datum
shardkv_expire_at(PG_FUNCTION_ARGS)
{
	kv_ns	   *ns = ns_arg(fcinfo, 0);
	size_t		klen;
	const char *key = key_arg(fcinfo, 1, &klen);
	TimestampTz ts;
	int64		at;
	int			rc;

	require_arg(fcinfo, 2, "expiry time");
	ts = PG_GETARG_TIMESTAMPTZ(2);
	at = shardkv_expiry_from_timestamptz(ts);
	rc = kv_expire(ns, key, klen, at, 0);
	if (rc == KV_NOTFOUND)
		PG_RETURN_BOOL(false);
	CHECK(rc, ns);
	PG_RETURN_BOOL(true);
}

/* kv.persist(ns, key) -> true if an expiry was removed */
PG_FUNCTION_INFO_V1(shardkv_persist);
Datum
shardkv_persist(PG_FUNCTION_ARGS)
{
	kv_ns	   *ns = ns_arg(fcinfo, 0);
	size_t		klen;
	const char *key = key_arg(fcinfo, 1, &klen);
	int			rc = kv_persist(ns, key, klen);

	if (rc == KV_NOTFOUND || rc == KV_UNCHANGED)
		PG_RETURN_BOOL(false);
	CHECK(rc, ns);
	PG_RETURN_BOOL(true);
}

/* kv.ttl(ns, key) -> time left; NULL if the key is missing or never expires */
PG_FUNCTION_INFO_V1(shardkv_ttl);
Datum
shardkv_ttl(PG_FUNCTION_ARGS)
{
	kv_ns	   *ns = ns_arg(fcinfo, 0);
	size_t		klen;
	const char *key = key_arg(fcinfo, 1, &klen);
	int64_t		at = 0;
	int			rc = kv_ttl(ns, key, klen, &at);

	if (rc == KV_NOTFOUND)
		PG_RETURN_NULL();
	CHECK(rc, ns);
	if (at == 0)
		PG_RETURN_NULL();
	PG_RETURN_INTERVAL_P(shardkv_ttl_interval(at));
}

/* kv.expires_at(ns, key) -> absolute expiry; NULL if missing or never */
PG_FUNCTION_INFO_V1(shardkv_expires_at);
Datum
shardkv_expires_at(PG_FUNCTION_ARGS)
{
	kv_ns	   *ns = ns_arg(fcinfo, 0);
	size_t		klen;
	const char *key = key_arg(fcinfo, 1, &klen);
	int64_t		at = 0;
	int			rc = kv_ttl(ns, key, klen, &at);

	if (rc == KV_NOTFOUND)
		PG_RETURN_NULL();
	CHECK(rc, ns);
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
	kv_ns	   *ns = ns_arg(fcinfo, 0);
	size_t		klen,
				vlen = 0;
	const char *key = key_arg(fcinfo, 1, &klen);
	const char *val = "";
	int			type = KV_T_NULL;
	int64		expires = KV_EXPIRE_DEFAULT;
	bool		isnull;
	Datum		d;
	int			rc;

	if (!PG_ARGISNULL(2))
		val = shardkv_value_from(typid, PG_GETARG_DATUM(2), &vlen, &type);
	if (!PG_ARGISNULL(3))
		expires = shardkv_expiry_from_ttl(PG_GETARG_INTERVAL_P(3));
	rc = kv_set(ns, key, klen, val, vlen, type, expires, 0, &vbuf);
	CHECK(rc, ns);
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

TYPED_ENTRY(shardkv_getset_text, getset_impl(fcinfo, TEXTOID))
TYPED_ENTRY(shardkv_getset_bytea, getset_impl(fcinfo, BYTEAOID))

/* kv.strlen(ns, key) -> length of the value in bytes; NULL if missing */
PG_FUNCTION_INFO_V1(shardkv_strlen);
Datum
shardkv_strlen(PG_FUNCTION_ARGS)
{
	kv_ns	   *ns = ns_arg(fcinfo, 0);
	size_t		klen,
				len = 0;
	const char *key = key_arg(fcinfo, 1, &klen);
	int			rc = kv_strlen(ns, key, klen, &len);

	if (rc == KV_NOTFOUND)
		PG_RETURN_NULL();
	CHECK(rc, ns);
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
	kv_ns	   *ns = ns_arg(fcinfo, 0);
	size_t		klen;
	const char *key = key_arg(fcinfo, 1, &klen);
	bool		isnull;
	Datum		d;
	int			rc;

	require_arg(fcinfo, 2, "start");
	require_arg(fcinfo, 3, "end");
	rc = kv_getrange(ns, key, klen, PG_GETARG_INT64(2), PG_GETARG_INT64(3), &vbuf);
	if (rc == KV_NOTFOUND)
		PG_RETURN_NULL();
	CHECK(rc, ns);
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
	kv_ns	   *ns = ns_arg(fcinfo, 0);
	size_t		klen,
				vlen,
				newlen = 0;
	const char *key = key_arg(fcinfo, 1, &klen);
	const char *val;
	int64		offset;
	int			type;
	int			rc;

	require_arg(fcinfo, 2, "offset");
	require_arg(fcinfo, 3, "value");
	offset = PG_GETARG_INT64(2);
	if (offset < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("offset must not be negative")));
	val = shardkv_value_from(typid, PG_GETARG_DATUM(3), &vlen, &type);
	rc = kv_setrange(ns, key, klen, (size_t) offset, val, vlen, &newlen);
	CHECK(rc, ns);
	PG_RETURN_INT64((int64) newlen);
}

TYPED_ENTRY(shardkv_setrange_text, setrange_impl(fcinfo, TEXTOID))
TYPED_ENTRY(shardkv_setrange_bytea, setrange_impl(fcinfo, BYTEAOID))

/*
 * kv.rename(ns, src, dst, nx boolean DEFAULT false) -> true if renamed; false
 * if src does not exist, or nx and dst exists.  Value, type and expiry move.
 */
PG_FUNCTION_INFO_V1(shardkv_rename);
Datum
shardkv_rename(PG_FUNCTION_ARGS)
{
	kv_ns	   *ns = ns_arg(fcinfo, 0);
	size_t		slen,
				dlen;
	const char *src = key_arg(fcinfo, 1, &slen);
	const char *dst;
	bool		nx = !PG_ARGISNULL(3) && PG_GETARG_BOOL(3);
	int			rc;

	require_arg(fcinfo, 2, "key");
	dst = shardkv_key_bytes(PG_GETARG_TEXT_PP(2), &dlen);
	rc = kv_rename(ns, src, slen, dst, dlen, nx ? 1 : 0);
	if (rc == KV_NOTFOUND || rc == KV_EXISTS)
		PG_RETURN_BOOL(false);
	CHECK(rc, ns);
	PG_RETURN_BOOL(true);
}

/* kv.random_key(ns) -> a random live key; NULL if the namespace is empty */
PG_FUNCTION_INFO_V1(shardkv_random_key);
Datum
shardkv_random_key(PG_FUNCTION_ARGS)
{
	kv_ns	   *ns = ns_arg(fcinfo, 0);
	int			rc = kv_random_key(ns, &vbuf);

	if (rc == KV_NOTFOUND)
		PG_RETURN_NULL();
	CHECK(rc, ns);
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

	require_arg(fcinfo, n, what);
	a = PG_GETARG_ARRAYTYPE_P(n);
	if (ARR_NDIM(a) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s must be a one-dimensional array", what)));
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
 * input order, NULL for missing keys, a consistent cut.
 */
static Datum
mget_impl(FunctionCallInfo fcinfo, Oid typid)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	kv_ns	   *ns = ns_arg(fcinfo, 0);
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
		else if (ops[i].status != KV_NOTFOUND)
			shardkv_report(ops[i].status, kv_ns_name(ns), NULL);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	buf_trim(&arena);
	return (Datum) 0;
}

TYPED_ENTRY(shardkv_mget, mget_impl(fcinfo, TEXTOID))
TYPED_ENTRY(shardkv_mget_bytea, mget_impl(fcinfo, BYTEAOID))
TYPED_ENTRY(shardkv_mget_jsonb, mget_impl(fcinfo, JSONBOID))

/*
 * kv.mset(ns, keys text[], vals text[], mode, ttl) -> (key, status)
 * kv.mdelete(ns, keys text[], mode)                 -> (key, status)
 * kv.mexists(ns, keys text[], mode)                 -> (key, exists, status)
 */
static Datum
mwrite_impl(FunctionCallInfo fcinfo, int op)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	kv_ns	   *ns = ns_arg(fcinfo, 0);
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
			expires = shardkv_expiry_from_ttl(PG_GETARG_INTERVAL_P(4));
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

TYPED_ENTRY(shardkv_mset, mwrite_impl(fcinfo, KV_OP_SET))
TYPED_ENTRY(shardkv_mdelete, mwrite_impl(fcinfo, KV_OP_DEL))
TYPED_ENTRY(shardkv_mexists, mwrite_impl(fcinfo, KV_OP_EXISTS))

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
	kv_ns	   *ns = ns_arg(fcinfo, 0);
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
		CHECK(rc, ns);
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

TYPED_ENTRY(shardkv_keys, scan_impl(fcinfo, false))
TYPED_ENTRY(shardkv_scan, scan_impl(fcinfo, true))

/* ----------------------------------------------------------- namespaces */

static const struct
{
	const char *name;
	int			policy;
}			eviction_names[] = {
	{"noeviction", KV_EVICT_NONE},
	{"allkeys-lru", KV_EVICT_ALLKEYS_LRU},
	{"allkeys-random", KV_EVICT_ALLKEYS_RANDOM},
	{"volatile-lru", KV_EVICT_VOLATILE_LRU},
	{"volatile-random", KV_EVICT_VOLATILE_RANDOM},
	{"volatile-ttl", KV_EVICT_VOLATILE_TTL},
};

static int
eviction_from_text(text *t)
{
	char	   *s = text_to_cstring(t);
	size_t		i;

	for (i = 0; i < lengthof(eviction_names); i++)
		if (pg_strcasecmp(s, eviction_names[i].name) == 0)
			return eviction_names[i].policy;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid eviction policy \"%s\"", s),
			 errhint("Valid policies are noeviction, allkeys-lru, allkeys-random, "
					 "volatile-lru, volatile-random and volatile-ttl.")));
	return 0;
}

static const char *
eviction_to_name(int policy)
{
	size_t		i;

	for (i = 0; i < lengthof(eviction_names); i++)
		if (eviction_names[i].policy == policy)
			return eviction_names[i].name;
	return "unknown";
}

/*
 * A size or count argument, range-checked as int64 before it is narrowed to
 * the engine's type, so that 4294967301 is refused rather than stored as 5.
 */
static uint64
range_arg(FunctionCallInfo fcinfo, int n, const char *what, int64 max, bool is_int4)
{
	int64		v = is_int4 ? (int64) PG_GETARG_INT32(n) : PG_GETARG_INT64(n);

	if (v < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be negative", what)));
	if (v > max)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be at most " INT64_FORMAT, what, max),
				 errhint("0 means the default.")));
	return (uint64) v;
}

static int64
default_ttl_arg(FunctionCallInfo fcinfo, int n)
{
	int64		ms = shardkv_interval_ms(PG_GETARG_INTERVAL_P(n));
	int64_t		at;

	if (ms < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("default_ttl must not be negative")));
	if (ms > 0 && kv_expiry_from_ttl_ms(ms, &at) != KV_OK)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("default_ttl out of range"),
				 errdetail("An expiry must fall before the year 10000.")));
	return ms;
}

/*
 * Settings shared by create_namespace (args 1..7) and alter_namespace
 * (args 1..6, no shards): NULL leaves the setting as it is in *cfg.
 */
static void
ns_config_args(FunctionCallInfo fcinfo, int first, kv_ns_config *cfg)
{
	int			a = first;

	if (!PG_ARGISNULL(a))
		cfg->max_keys = range_arg(fcinfo, a, "max_keys", PG_INT64_MAX, false);
	a++;
	if (!PG_ARGISNULL(a))
		cfg->max_memory = range_arg(fcinfo, a, "max_memory", PG_INT64_MAX, false);
	a++;
	if (!PG_ARGISNULL(a))
		cfg->default_ttl_ms = default_ttl_arg(fcinfo, a);
	a++;
	if (!PG_ARGISNULL(a))
		cfg->eviction = eviction_from_text(PG_GETARG_TEXT_PP(a));
	a++;
	if (!PG_ARGISNULL(a))
		cfg->max_key_size = (uint32_t) range_arg(fcinfo, a, "max_key_size", KV_KEY_SIZE_LIMIT, true);
	a++;
	if (!PG_ARGISNULL(a))
		cfg->max_value_size = (uint32_t) range_arg(fcinfo, a, "max_value_size",
												   KV_VALUE_SIZE_LIMIT, false);
}

/*
 * kv.create_namespace(name, shards int DEFAULT 0, max_keys bigint DEFAULT 0,
 *     max_memory bigint DEFAULT 0, default_ttl interval DEFAULT NULL,
 *     eviction text DEFAULT 'noeviction', max_key_size int DEFAULT 0,
 *     max_value_size bigint DEFAULT 0, if_not_exists boolean DEFAULT false)
 * Zero means "the engine's default" (unlimited limits, default shard count).
 */
PG_FUNCTION_INFO_V1(shardkv_create_namespace);
Datum
shardkv_create_namespace(PG_FUNCTION_ARGS)
{
	kv_env	   *env = shardkv_get_env();
	char	   *name;
	kv_ns_config cfg;
	int			rc;

	require_arg(fcinfo, 0, "namespace");
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	kv_ns_config_init(&cfg);
	if (!PG_ARGISNULL(1))
		cfg.shards = (uint32_t) range_arg(fcinfo, 1, "shards", KV_MAX_SHARDS, true);
	ns_config_args(fcinfo, 2, &cfg);

	rc = kv_ns_create(env, name, &cfg);
	if (rc == KV_ENSEXISTS && !PG_ARGISNULL(8) && PG_GETARG_BOOL(8))
	{
		ereport(NOTICE,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("namespace \"%s\" already exists, skipping", name)));
		PG_RETURN_VOID();
	}
	if (rc != KV_OK)
		shardkv_report(rc, name, NULL);
	PG_RETURN_VOID();
}

/* kv.alter_namespace(name, max_keys, max_memory, default_ttl, eviction, max_key_size, max_value_size) */
PG_FUNCTION_INFO_V1(shardkv_alter_namespace);
Datum
shardkv_alter_namespace(PG_FUNCTION_ARGS)
{
	kv_ns	   *ns = ns_arg(fcinfo, 0);
	kv_ns_stats st;
	int			rc;

	rc = kv_ns_stats_get(ns, &st);
	CHECK(rc, ns);
	ns_config_args(fcinfo, 1, &st.config);
	rc = kv_ns_configure(ns, &st.config);
	CHECK(rc, ns);
	PG_RETURN_VOID();
}

/* kv.drop_namespace(name, if_exists boolean DEFAULT false) */
PG_FUNCTION_INFO_V1(shardkv_drop_namespace);
Datum
shardkv_drop_namespace(PG_FUNCTION_ARGS)
{
	kv_env	   *env = shardkv_get_env();
	char	   *name;
	TimestampTz start;
	int			rc;

	require_arg(fcinfo, 0, "namespace");
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	start = GetCurrentTimestamp();
	do
		rc = kv_ns_drop(env, name);
	while (shardkv_busy_wait(rc, start));
	if (rc == KV_ENONS && !PG_ARGISNULL(1) && PG_GETARG_BOOL(1))
	{
		ereport(NOTICE,
				(errmsg("namespace \"%s\" does not exist, skipping", name)));
		PG_RETURN_VOID();
	}
	if (rc != KV_OK)
		shardkv_report(rc, name, NULL);
	PG_RETURN_VOID();
}

/* kv.flush(ns): delete every key */
PG_FUNCTION_INFO_V1(shardkv_flush);
Datum
shardkv_flush(PG_FUNCTION_ARGS)
{
	kv_ns	   *ns = ns_arg(fcinfo, 0);
	int			rc = kv_ns_flush(ns);

	CHECK(rc, ns);
	PG_RETURN_VOID();
}

/* kv.resize(ns, shards): raise the shard count online */
PG_FUNCTION_INFO_V1(shardkv_resize);
Datum
shardkv_resize(PG_FUNCTION_ARGS)
{
	kv_ns	   *ns = ns_arg(fcinfo, 0);
	int32		shards;
	TimestampTz start;
	int			rc;

	require_arg(fcinfo, 1, "shards");
	shards = PG_GETARG_INT32(1);
	if (shards <= 0)
		shardkv_report(KV_ESHARDS, kv_ns_name(ns), NULL);
	start = GetCurrentTimestamp();
	do
		rc = kv_ns_resize(ns, (uint32_t) shards);
	while (shardkv_busy_wait(rc, start));
	CHECK(rc, ns);
	PG_RETURN_VOID();
}

/* kv.namespaces() -> one row per namespace: configuration and statistics */
PG_FUNCTION_INFO_V1(shardkv_namespaces);
Datum
shardkv_namespaces(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	kv_env	   *env = shardkv_get_env();
	kv_ns_stats *list = NULL;
	size_t		n = 0,
				cap = 0,
				i;
	int			rc;

	InitMaterializedSRF(fcinfo, 0);
	for (;;)
	{
		rc = kv_ns_list(env, list, cap, &n);
		if (rc != KV_OK)
			shardkv_report(rc, NULL, NULL);
		if (n <= cap)
			break;
		cap = n + 8;
		list = palloc_extended(sizeof(kv_ns_stats) * cap, MCXT_ALLOC_HUGE);
	}
	for (i = 0; i < n; i++)
	{
		kv_ns_stats *s = &list[i];
		Datum		v[14];
		bool		nulls[14];
		int			c = 0;

		memset(nulls, 0, sizeof(nulls));
		v[c++] = CStringGetTextDatum(s->name);
		v[c++] = Int32GetDatum((int32) s->config.shards);
		v[c++] = Int64GetDatum((int64) s->config.max_keys);
		v[c++] = Int64GetDatum((int64) s->config.max_memory);
		if (s->config.default_ttl_ms > 0)
			v[c++] = IntervalPGetDatum(shardkv_ms_to_interval(s->config.default_ttl_ms));
		else
			nulls[c++] = true;
		v[c++] = CStringGetTextDatum(eviction_to_name(s->config.eviction));
		v[c++] = Int32GetDatum((int32) s->config.max_key_size);
		v[c++] = Int64GetDatum((int64) s->config.max_value_size);
		v[c++] = Int64GetDatum((int64) s->keys);
		v[c++] = Int64GetDatum((int64) s->bytes);
		v[c++] = Int64GetDatum((int64) s->hits);
		v[c++] = Int64GetDatum((int64) s->misses);
		v[c++] = Int64GetDatum((int64) s->expired);
		v[c++] = Int64GetDatum((int64) s->evicted);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, nulls);
	}
	return (Datum) 0;
}

/* kv.stats() -> one row about the store and its worker */
PG_FUNCTION_INFO_V1(shardkv_stats);
Datum
shardkv_stats(PG_FUNCTION_ARGS)
{
	kv_env	   *env = shardkv_get_env();
	kv_env_stats es;
	TupleDesc	tupdesc;
	Datum		v[8];
	bool		nulls[8];
	uint64		last_save;
	uint32		pid;
	int			rc;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	rc = kv_env_stats_get(env, &es);
	if (rc != KV_OK)
		shardkv_report(rc, NULL, NULL);
	memset(nulls, 0, sizeof(nulls));
	last_save = pg_atomic_read_u64(&shardkv_shared->last_save);
	pid = pg_atomic_read_u32(&shardkv_shared->worker_pid);
	v[0] = Int64GetDatum((int64) es.region_size);
	v[1] = Int64GetDatum((int64) es.region_used);
	v[2] = Int32GetDatum((int32) es.namespaces);
	v[3] = Int32GetDatum((int32) es.max_namespaces);
	v[4] = Int64GetDatum((int64) pg_atomic_read_u64(&shardkv_shared->dirty));
	v[5] = TimestampTzGetDatum(shardkv_ms_to_timestamptz((int64) last_save));
	nulls[5] = (last_save == 0);
	v[6] = Int32GetDatum((int32) pid);
	nulls[6] = (pid == 0);
	v[7] = Int64GetDatum((int64) pg_atomic_read_u64(&shardkv_shared->saves));
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, v, nulls)));
}

/* ------------------------------------------------------------ snapshots */

static char *
opt_cstring(FunctionCallInfo fcinfo, int n)
{
	if (PG_NARGS() <= n || PG_ARGISNULL(n))
		return NULL;
	return text_to_cstring(PG_GETARG_TEXT_PP(n));
}

/* kv.save(ns DEFAULT NULL = all, file DEFAULT NULL = shardkv.snapshot_file) */
PG_FUNCTION_INFO_V1(shardkv_save);
Datum
shardkv_save(PG_FUNCTION_ARGS)
{
	kv_env	   *env = shardkv_get_env();
	char	   *ns = opt_cstring(fcinfo, 0);
	char	   *file = opt_cstring(fcinfo, 1);
	char	   *dir;
	char	   *name;
	kv_error	err;
	TimestampTz start;
	int			rc;

	if (ns == NULL && file == NULL)
	{
		(void) shardkv_save_all(ERROR);
		PG_RETURN_VOID();
	}
	if (file == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("saving one namespace needs a file name"),
				 errdetail("The default file, shardkv.snapshot_file, holds every namespace and is loaded at start."),
				 errhint("Use kv.save('%s', 'name.snap').", ns)));
	name = shardkv_snapshot_name(file, true, &dir);
	start = GetCurrentTimestamp();
	do
	{
		memset(&err, 0, sizeof(err));
		rc = kv_save_at(env, ns, dir, name, &err);
	} while (shardkv_busy_wait(rc, start));
	if (rc != KV_OK)
		shardkv_report(rc, ns, &err);
	PG_RETURN_VOID();
}

/* kv.load(ns DEFAULT NULL = all, file DEFAULT NULL, into_ns DEFAULT NULL) */
PG_FUNCTION_INFO_V1(shardkv_load);
Datum
shardkv_load(PG_FUNCTION_ARGS)
{
	kv_env	   *env = shardkv_get_env();
	char	   *ns = opt_cstring(fcinfo, 0);
	char	   *file = opt_cstring(fcinfo, 1);
	char	   *into = opt_cstring(fcinfo, 2);
	char	   *dir;
	char	   *name;
	kv_error	err;
	TimestampTz start;
	int			rc;

	if (into != NULL && ns == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("into_ns requires a namespace to load")));
	name = shardkv_snapshot_name(file, false, &dir);
	start = GetCurrentTimestamp();
	do
	{
		memset(&err, 0, sizeof(err));
		rc = kv_load_at(env, dir, name, ns, into, &err);
	} while (shardkv_busy_wait(rc, start));
	if (rc != KV_OK)
		shardkv_report(rc, into ? into : ns, &err);
	PG_RETURN_VOID();
}
