/*
 * convert.c -- conversions between SQL values and the engine's bytes: stored
 * values as text, bytea and jsonb (and back), keys, and the namespace, key and
 * required arguments of the kv.* functions.  Nothing here calls into the
 * engine's store; everything may ERROR.
 */
#include "shardkv.h"

#include "catalog/pg_type.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

const char *
shardkv_type_name(int type)
{
	const char *name = kv_type_name(type);

	return name ? name : psprintf("%d", type);
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
	if (typid == TEXTOID && type != KV_T_NULL && !SHARDKV_IS_KIND(type))
	{
		*isnull = false;
		return shardkv_text_or_hex(data, len);
	}
	return shardkv_value_as(typid, data, len, type, isnull);
}

/*
 * A stored value as SQL type typid (text, bytea or jsonb), converting as a cast
 * would: any value reads as bytea (its bytes); text needs valid UTF-8; jsonb
 * needs valid JSON text.  A stored SQL NULL (KV_T_NULL) reads as NULL, and
 * so does a collection (a hash, set, zset or list has no one value: kv.scan and
 * the FDW show such a key with a NULL value, kv.scan's type column names it).
 */
Datum
shardkv_value_as(Oid typid, const char *data, size_t len, int type, bool *isnull)
{
	char	   *s;
	int			slen;

	*isnull = false;
	if (type == KV_T_NULL || SHARDKV_IS_KIND(type))
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

void
shardkv_require_arg(FunctionCallInfo fcinfo, int n, const char *what)
{
	if (PG_ARGISNULL(n))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", what)));
}

kv_ns *
shardkv_ns_arg(FunctionCallInfo fcinfo, int n)
{
	shardkv_require_arg(fcinfo, n, "namespace");
	return shardkv_ns(PG_GETARG_TEXT_PP(n));
}

/* The namespace of a write: shardkv_ns_arg, then the write check of 'wal'
 * namespaces (25006 on a standby). */
kv_ns *
shardkv_ns_warg(FunctionCallInfo fcinfo, int n)
{
	kv_ns	   *ns = shardkv_ns_arg(fcinfo, n);

	shardkv_wal_check_write(ns);
	return ns;
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

const char *
shardkv_key_arg(FunctionCallInfo fcinfo, int n, size_t *klen)
{
	shardkv_require_arg(fcinfo, n, "key");
	return shardkv_key_bytes(PG_GETARG_TEXT_PP(n), klen);
}

/* A non-null array argument that has at most one dimension. */
ArrayType *
shardkv_array_arg(FunctionCallInfo fcinfo, int n, const char *what)
{
	ArrayType  *a;

	shardkv_require_arg(fcinfo, n, what);
	a = PG_GETARG_ARRAYTYPE_P(n);
	if (ARR_NDIM(a) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s must be a one-dimensional array", what)));
	return a;
}

ShardkvKey
shardkv_key_args(FunctionCallInfo fcinfo, bool write)
{
	ShardkvKey	k;

	k.ns = write ? shardkv_ns_warg(fcinfo, 0) : shardkv_ns_arg(fcinfo, 0);
	k.key = shardkv_key_arg(fcinfo, 1, &k.klen);
	return k;
}

void
shardkv_done(int rc, kv_ns *ns)
{
	shardkv_wal_sync();
	SHARDKV_CHECK(rc, ns);
}

bool
shardkv_found(int rc, kv_ns *ns)
{
	shardkv_wal_sync();
	if (rc == KV_NOTFOUND)
		return false;
	SHARDKV_CHECK(rc, ns);
	return true;
}

