/*
 * coll.c -- the kv.* functions on collections: hashes (kv.h*), sets (kv.s*),
 * sorted sets (kv.z*), lists (kv.l*, kv.rpush, kv.rpop) and kv.type.
 *
 * Usage:
 *     SELECT kv.hset('app', 'user:1', 'name', 'Ada');       -- 1 (fields added)
 *     SELECT kv.hset('app', 'user:1', '{"age": 36}'::jsonb);
 *     SELECT * FROM kv.hgetall('app', 'user:1');            -- (field, value) rows
 *     SELECT kv.zadd('app', 'board', 'ada', 120, 'gt ch');
 *     SELECT * FROM kv.zrange('app', 'board', 0, 9, reverse => true);
 *     SELECT kv.rpush('app', 'jobs', 'a', 'b');  SELECT kv.lpop('app', 'jobs');
 *
 * HOW IT WORKS
 *   The steps are those of keys.c (see shardkv.h, THE ONE RULE): arguments
 *   become bytes first, then exactly one engine call, then the result is
 *   copied into palloc'd datums.  Calls that return many elements fill a
 *   per-backend kv_elems that the engine grows in libc memory with no lock
 *   held; the engine has released every lock when the call returns, so the
 *   set-returning functions materialize their rows from that copy without
 *   holding anything.  The kv_elems is static and reused (trimmed after a
 *   large result), so an ERROR while rows are made leaks nothing.
 *
 *   Fields, members and list elements are bytes.  The text forms store UTF-8
 *   and read back as text; an element that is not valid UTF-8 (written as
 *   bytea, or by another host) reads in bytea's hex form "\x..", as kv.scan
 *   shows keys, from every read of many elements and from the pops, so that
 *   one binary element cannot fail a whole read, or a pop after the element
 *   was removed.  kv.hget refuses it as kv.get does.  The _bytea forms read
 *   the bytes.
 *
 *   NULL arguments: reads are STRICT (NULL in, NULL out); writes refuse a NULL
 *   namespace, key, field, member, value or score with an error.
 */
#include "shardkv.h"

#include "catalog/pg_type.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/jsonb.h"
#include "utils/tuplestore.h"

/* Per-backend results of many-element calls; reused, trimmed when large. */
static kv_elems elems = KV_ELEMS_INIT;
static kv_buf vbuf = KV_BUF_INIT;
#define ELEMS_KEEP_BYTES (1024 * 1024)

static void
elems_trim(void)
{
	if (elems.bytes.cap > ELEMS_KEEP_BYTES || elems.cap > ELEMS_KEEP_BYTES / sizeof(kv_elem))
		kv_elems_free(shardkv_env, &elems);
	if (vbuf.cap > ELEMS_KEEP_BYTES)
		kv_buf_free(shardkv_env, &vbuf);
}

#define ELEM_DATA(i) (elems.bytes.data + elems.v[i].off)
#define ELEM_LEN(i) (elems.v[i].len)

/* ------------------------------------------------------------ arguments */

/* A non-null text or bytea argument as bytes (text as UTF-8). */
static kv_val
val_arg(FunctionCallInfo fcinfo, int n, Oid typid, const char *what)
{
	kv_val		v;
	int			type;

	shardkv_require_arg(fcinfo, n, what);
	v.data = shardkv_value_from(typid, PG_GETARG_DATUM(n), &v.len, &type);
	return v;
}

/*
 * A one-dimensional text[] (a VARIADIC list) as kv_vals; no NULL elements.
 * An empty array gives 0 elements (the caller decides what that means).
 */
static kv_val *
vals_arg(FunctionCallInfo fcinfo, int n, const char *what, size_t *count)
{
	ArrayType  *a;
	Datum	   *d;
	bool	   *nulls;
	int			c,
				i;
	kv_val	   *v;

	a = shardkv_array_arg(fcinfo, n, what);
	deconstruct_array(a, TEXTOID, -1, false, TYPALIGN_INT, &d, &nulls, &c);
	v = palloc(sizeof(kv_val) * Max(c, 1));
	for (i = 0; i < c; i++)
	{
		int			type;

		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not contain nulls", what)));
		v[i].data = shardkv_value_from(TEXTOID, d[i], &v[i].len, &type);
	}
	*count = (size_t) c;
	return v;
}

/* The writes that add elements need at least one (Redis's arity). */
static void
require_some(size_t n, const char *what)
{
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("at least one %s is required", what)));
}

/* A count argument of the pops: >= 0, as Redis's "must be positive". */
static uint64
count_arg(FunctionCallInfo fcinfo, int n)
{
	int64		c;

	shardkv_require_arg(fcinfo, n, "count");
	c = PG_GETARG_INT64(n);
	if (c < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("count must not be negative")));
	return (uint64) c;
}

/* ------------------------------------------------------------ results */

/* elems[i] as text (hex form if not UTF-8) or bytea. */
static Datum
elem_datum(size_t i, Oid typid)
{
	bool		isnull;

	if (typid == BYTEAOID)
		return shardkv_value_as(BYTEAOID, ELEM_DATA(i), ELEM_LEN(i), KV_T_BYTES, &isnull);
	return shardkv_text_or_hex(ELEM_DATA(i), ELEM_LEN(i));
}

/* Rows of the SRFs: one element each, field/value pairs, or member and score. */
typedef enum RowShape
{
	ROWS_ELEMS,					/* SETOF text */
	ROWS_PAIRS,					/* (field text, value text|bytea) */
	ROWS_SCORED					/* (member text, score float8) */
} RowShape;

static Datum
emit_rows(FunctionCallInfo fcinfo, RowShape shape, Oid value_type)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	size_t		step = shape == ROWS_PAIRS ? 2 : 1;
	size_t		i;

	/* the engine is done: nothing is locked while these rows are made */
	for (i = 0; i + step <= elems.n; i += step)
	{
		Datum		values[2];
		bool		nulls[2] = {false, false};

		if ((i & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
		values[0] = elem_datum(i, TEXTOID);
		if (shape == ROWS_PAIRS)
			values[1] = elem_datum(i + 1, value_type);
		else if (shape == ROWS_SCORED)
			values[1] = Float8GetDatum(elems.v[i].score);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	elems_trim();
	return (Datum) 0;
}

/* ------------------------------------------------------------ any kind */

/* kv.type(ns, key) -> 'string', 'hash', 'set', 'zset', 'list'; NULL if missing */
PG_FUNCTION_INFO_V1(shardkv_type);
Datum
shardkv_type(PG_FUNCTION_ARGS)
{
	ShardkvKey	k = shardkv_key_args(fcinfo, false);
	int			kind = 0;
	int			rc = kv_kind(k.ns, k.key, k.klen, &kind);
	const char *name;

	if (!shardkv_found(rc, k.ns))
		PG_RETURN_NULL();
	name = kv_kind_name(kind);
	PG_RETURN_TEXT_P(cstring_to_text(name ? name : "string"));
}

/* kv.hlen / kv.scard / kv.zcard / kv.llen (ns, key) -> elements; 0 if missing */
static Datum
card_impl(FunctionCallInfo fcinfo, int kind)
{
	ShardkvKey	k = shardkv_key_args(fcinfo, false);
	uint64_t	n = 0;
	int			rc = kv_card(k.ns, k.key, k.klen, kind, &n);

	shardkv_done(rc, k.ns);
	PG_RETURN_INT64((int64) n);
}

SHARDKV_ENTRY(shardkv_hlen, card_impl(fcinfo, KV_T_HASH))
SHARDKV_ENTRY(shardkv_scard, card_impl(fcinfo, KV_T_SET))
SHARDKV_ENTRY(shardkv_zcard, card_impl(fcinfo, KV_T_ZSET))
SHARDKV_ENTRY(shardkv_llen, card_impl(fcinfo, KV_T_LIST))

/* ---------------------------------------------------------------- hashes */

static Datum
hset_call(const ShardkvKey *k, kv_val *fv, size_t npairs)
{
	uint64_t	added = 0;
	int			rc;

	require_some(npairs, "field");
	rc = kv_hset(k->ns, k->key, k->klen, fv, npairs, 0, &added);
	shardkv_done(rc, k->ns);
	PG_RETURN_INT64((int64) added);
}

/* kv.hset(ns, key, field text, value text|bytea) -> fields added (0 or 1) */
static Datum
hset_impl(FunctionCallInfo fcinfo, Oid typid)
{
	ShardkvKey	k = shardkv_key_args(fcinfo, true);
	kv_val		fv[2];

	fv[0] = val_arg(fcinfo, 2, TEXTOID, "field");
	fv[1] = val_arg(fcinfo, 3, typid, "value");
	return hset_call(&k, fv, 1);
}

SHARDKV_ENTRY(shardkv_hset_text, hset_impl(fcinfo, TEXTOID))
SHARDKV_ENTRY(shardkv_hset_bytea, hset_impl(fcinfo, BYTEAOID))

/* kv.hset(ns, key, fields text[], vals text[]) -> fields added */
PG_FUNCTION_INFO_V1(shardkv_hset_arrays);
Datum
shardkv_hset_arrays(PG_FUNCTION_ARGS)
{
	ShardkvKey	k = shardkv_key_args(fcinfo, true);
	size_t		nf,
				nv,
				i;
	kv_val	   *f = vals_arg(fcinfo, 2, "fields", &nf);
	kv_val	   *v = vals_arg(fcinfo, 3, "values", &nv);
	kv_val	   *fv;

	if (nf != nv)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("fields and values must have the same length"),
				 errdetail("There are %zu fields and %zu values.", nf, nv)));
	fv = palloc(sizeof(kv_val) * 2 * Max(nf, 1));
	for (i = 0; i < nf; i++)
	{
		fv[2 * i] = f[i];
		fv[2 * i + 1] = v[i];
	}
	return hset_call(&k, fv, nf);
}

/* A jsonb object member's value as the bytes stored: a string's content,
 * any other value's JSON text (jsonb ->> reads them the same way). */
static void
json_value_bytes(JsonbValue *v, const char *field, kv_val *out)
{
	char	   *s;

	switch (v->type)
	{
		case jbvString:
			s = pnstrdup(v->val.string.val, v->val.string.len);
			break;
		case jbvNumeric:
			s = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
			break;
		case jbvBool:
			s = pstrdup(v->val.boolean ? "true" : "false");
			break;
		case jbvBinary:
			s = JsonbToCString(NULL, v->val.binary.data, v->val.binary.len);
			break;
		default:				/* jbvNull */
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("value of field \"%s\" must not be null", field)));
			s = NULL;
	}
	s = (char *) pg_server_to_any(s, (int) strlen(s), PG_UTF8);
	out->data = s;
	out->len = strlen(s);
}

/* kv.hset(ns, key, fields jsonb) -> fields added: one field per object member */
PG_FUNCTION_INFO_V1(shardkv_hset_jsonb);
Datum
shardkv_hset_jsonb(PG_FUNCTION_ARGS)
{
	ShardkvKey	k = shardkv_key_args(fcinfo, true);
	size_t		n = 0;
	Jsonb	   *jb;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	kv_val	   *fv;
	char	   *field = NULL;

	shardkv_require_arg(fcinfo, 2, "fields");
	jb = PG_GETARG_JSONB_P(2);
	if (!JB_ROOT_IS_OBJECT(jb))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("fields must be a jsonb object")));
	fv = palloc(sizeof(kv_val) * 2 * Max(JB_ROOT_COUNT(jb), 1));
	it = JsonbIteratorInit(&jb->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			const char *u;

			field = pnstrdup(v.val.string.val, v.val.string.len);
			u = pg_server_to_any(field, (int) strlen(field), PG_UTF8);

			fv[2 * n].data = u;
			fv[2 * n].len = strlen(u);
		}
		else if (tok == WJB_VALUE)
		{
			json_value_bytes(&v, field, &fv[2 * n + 1]);
			n++;
		}
	}
	return hset_call(&k, fv, n);
}

/* kv.hget / kv.hget_bytea (ns, key, field) -> the value; NULL if missing */
static Datum
hget_impl(FunctionCallInfo fcinfo, Oid typid)
{
	ShardkvKey	k = shardkv_key_args(fcinfo, false);
	kv_val		f = val_arg(fcinfo, 2, TEXTOID, "field");
	bool		isnull;
	Datum		d;
	int			rc = kv_hget(k.ns, k.key, k.klen, f.data, f.len, &vbuf);

	if (!shardkv_found(rc, k.ns))
		PG_RETURN_NULL();
	if (typid == TEXTOID &&
		!pg_verify_mbstr(PG_UTF8, vbuf.data, (int) Min(vbuf.len, (size_t) INT_MAX), true))
		ereport(ERROR,
				(errcode(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE),
				 errmsg("hash value is not valid UTF-8 text"),
				 errhint("Read it with kv.hget_bytea().")));
	d = shardkv_value_as(typid, vbuf.data, vbuf.len, KV_T_BYTES, &isnull);
	elems_trim();
	PG_RETURN_DATUM(d);
}

SHARDKV_ENTRY(shardkv_hget, hget_impl(fcinfo, TEXTOID))
SHARDKV_ENTRY(shardkv_hget_bytea, hget_impl(fcinfo, BYTEAOID))

/* kv.hexists(ns, key, field) */
PG_FUNCTION_INFO_V1(shardkv_hexists);
Datum
shardkv_hexists(PG_FUNCTION_ARGS)
{
	ShardkvKey	k = shardkv_key_args(fcinfo, false);
	kv_val		f = val_arg(fcinfo, 2, TEXTOID, "field");
	int			rc = kv_hexists(k.ns, k.key, k.klen, f.data, f.len);

	if (!shardkv_found(rc, k.ns))
		PG_RETURN_BOOL(false);
	PG_RETURN_BOOL(true);
}

/* Run HGETALL into elems; a missing key gives no elements. */
static void
hgetall_call(FunctionCallInfo fcinfo)
{
	ShardkvKey	k = shardkv_key_args(fcinfo, false);
	int			rc = kv_hgetall(k.ns, k.key, k.klen, KV_HALL_FIELDS | KV_HALL_VALUES, &elems);

	shardkv_done(rc, k.ns);
}

/* kv.hgetall / kv.hgetall_bytea (ns, key) -> (field, value) rows */
static Datum
hgetall_impl(FunctionCallInfo fcinfo, Oid typid)
{
	InitMaterializedSRF(fcinfo, 0);
	hgetall_call(fcinfo);
	return emit_rows(fcinfo, ROWS_PAIRS, typid);
}

SHARDKV_ENTRY(shardkv_hgetall, hgetall_impl(fcinfo, TEXTOID))
SHARDKV_ENTRY(shardkv_hgetall_bytea, hgetall_impl(fcinfo, BYTEAOID))

/* A JSON string of elems[i] (text, or its hex form). */
static void
json_string(size_t i, JsonbValue *jv)
{
	text	   *t = DatumGetTextPP(elem_datum(i, TEXTOID));

	jv->type = jbvString;
	jv->val.string.val = VARDATA_ANY(t);
	jv->val.string.len = (int) VARSIZE_ANY_EXHDR(t);
}

/* kv.hgetall_jsonb(ns, key) -> {"field": "value", ...}; '{}' if missing */
PG_FUNCTION_INFO_V1(shardkv_hgetall_jsonb);
Datum
shardkv_hgetall_jsonb(PG_FUNCTION_ARGS)
{
	JsonbParseState *state = NULL;
	JsonbValue *res;
	size_t		i;

	hgetall_call(fcinfo);
	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	for (i = 0; i + 2 <= elems.n; i += 2)
	{
		JsonbValue	k,
					v;

		if ((i & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
		json_string(i, &k);
		json_string(i + 1, &v);
		pushJsonbValue(&state, WJB_KEY, &k);
		pushJsonbValue(&state, WJB_VALUE, &v);
	}
	res = pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	elems_trim();
	PG_RETURN_JSONB_P(JsonbValueToJsonb(res));
}

/* kv.hdel(ns, key, VARIADIC fields) / kv.srem / kv.zrem -> how many existed */
static Datum
remove_impl(FunctionCallInfo fcinfo, int kind)
{
	ShardkvKey	k = shardkv_key_args(fcinfo, true);
	size_t		n;
	kv_val	   *v = vals_arg(fcinfo, 2, kind == KV_T_HASH ? "fields" : "members", &n);
	uint64_t	removed = 0;
	int			rc;

	if (n == 0)
		PG_RETURN_INT64(0);
	if (kind == KV_T_HASH)
		rc = kv_hdel(k.ns, k.key, k.klen, v, n, &removed);
	else if (kind == KV_T_SET)
		rc = kv_srem(k.ns, k.key, k.klen, v, n, &removed);
	else
		rc = kv_zrem(k.ns, k.key, k.klen, v, n, &removed);
	shardkv_done(rc, k.ns);
	PG_RETURN_INT64((int64) removed);
}

SHARDKV_ENTRY(shardkv_hdel, remove_impl(fcinfo, KV_T_HASH))
SHARDKV_ENTRY(shardkv_srem, remove_impl(fcinfo, KV_T_SET))
SHARDKV_ENTRY(shardkv_zrem, remove_impl(fcinfo, KV_T_ZSET))

/* kv.hincr(ns, key, field, by bigint DEFAULT 1) -> the new value */
PG_FUNCTION_INFO_V1(shardkv_hincr);
Datum
shardkv_hincr(PG_FUNCTION_ARGS)
{
	ShardkvKey	k = shardkv_key_args(fcinfo, true);
	kv_val		f = val_arg(fcinfo, 2, TEXTOID, "field");
	int64_t		result = 0;
	int			rc;

	shardkv_require_arg(fcinfo, 3, "increment");
	rc = kv_hincr(k.ns, k.key, k.klen, f.data, f.len, PG_GETARG_INT64(3), &result);
	shardkv_wal_sync();
	if (rc == KV_ENOTINT)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("hash value is not an integer")));
	SHARDKV_CHECK(rc, k.ns);
	PG_RETURN_INT64(result);
}

/* kv.hincr_float(ns, key, field, by double precision) -> the new value */
PG_FUNCTION_INFO_V1(shardkv_hincr_float);
Datum
shardkv_hincr_float(PG_FUNCTION_ARGS)
{
	ShardkvKey	k = shardkv_key_args(fcinfo, true);
	size_t		bylen;
	kv_val		f = val_arg(fcinfo, 2, TEXTOID, "field");
	char		by[KV_DOUBLE_BUFSZ];
	double		result = 0;
	int			rc;

	shardkv_require_arg(fcinfo, 3, "increment");
	/* the engine's text of the double; NaN and infinities give "": not a float */
	bylen = kv_fmt_double(PG_GETARG_FLOAT8(3), by, sizeof(by));
	rc = kv_hincr_float(k.ns, k.key, k.klen, f.data, f.len, by, bylen, &result, NULL);
	shardkv_wal_sync();
	if (rc == KV_ENOTFLOAT)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("hash value is not a float")));
	if (rc == KV_EOVERFLOW)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("increment would produce NaN or Infinity"),
				 errdetail("The stored value is unchanged.")));
	SHARDKV_CHECK(rc, k.ns);
	PG_RETURN_FLOAT8(result);
}

/* ------------------------------------------------------------------ sets */

/* kv.sadd(ns, key, VARIADIC members text[]) -> members added */
PG_FUNCTION_INFO_V1(shardkv_sadd);
Datum
shardkv_sadd(PG_FUNCTION_ARGS)
{
	ShardkvKey	k = shardkv_key_args(fcinfo, true);
	size_t		n;
	kv_val	   *m = vals_arg(fcinfo, 2, "members", &n);
	uint64_t	added = 0;
	int			rc;

	require_some(n, "member");
	rc = kv_sadd(k.ns, k.key, k.klen, m, n, &added);
	shardkv_done(rc, k.ns);
	PG_RETURN_INT64((int64) added);
}

/* kv.sismember(ns, key, member) */
PG_FUNCTION_INFO_V1(shardkv_sismember);
Datum
shardkv_sismember(PG_FUNCTION_ARGS)
{
	ShardkvKey	k = shardkv_key_args(fcinfo, false);
	kv_val		m = val_arg(fcinfo, 2, TEXTOID, "member");
	int			rc = kv_sismember(k.ns, k.key, k.klen, m.data, m.len);

	if (!shardkv_found(rc, k.ns))
		PG_RETURN_BOOL(false);
	PG_RETURN_BOOL(true);
}

/* kv.smembers(ns, key) -> SETOF text, in no particular order */
PG_FUNCTION_INFO_V1(shardkv_smembers);
Datum
shardkv_smembers(PG_FUNCTION_ARGS)
{
	ShardkvKey	k;
	int			rc;

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	k = shardkv_key_args(fcinfo, false);
	rc = kv_smembers(k.ns, k.key, k.klen, &elems);
	shardkv_done(rc, k.ns);
	return emit_rows(fcinfo, ROWS_ELEMS, TEXTOID);
}

/* ----------------------------------------------------------- sorted sets */

/*
 * ZADD's options as one text: words nx, xx, gt, lt, ch, separated by blanks
 * or commas, any case ('gt ch', 'NX').  NULL or '' means none.
 */
static unsigned
zadd_options(FunctionCallInfo fcinfo, int n)
{
	static const struct
	{
		const char *word;
		unsigned	flag;
	}			words[] = {
		{"nx", KV_ZADD_NX}, {"xx", KV_ZADD_XX}, {"gt", KV_ZADD_GT},
		{"lt", KV_ZADD_LT}, {"ch", KV_ZADD_CH},
	};
	unsigned	flags = 0;
	char	   *s,
			   *w,
			   *save = NULL;

	if (PG_NARGS() <= n || PG_ARGISNULL(n))
		return 0;
	s = text_to_cstring(PG_GETARG_TEXT_PP(n));
	for (w = strtok_r(s, " \t\n,", &save); w; w = strtok_r(NULL, " \t\n,", &save))
	{
		size_t		i;

		for (i = 0; i < lengthof(words); i++)
			if (pg_strcasecmp(w, words[i].word) == 0)
				break;
		if (i == lengthof(words))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid zadd option \"%s\"", w),
					 errhint("Valid options are nx, xx, gt, lt and ch, separated by spaces or commas.")));
		flags |= words[i].flag;
	}
	return flags;
}

static Datum
zadd_call(const ShardkvKey *k, kv_zmember *m, size_t n, unsigned flags)
{
	uint64_t	count = 0;
	int			rc;

	require_some(n, "member");
	rc = kv_zadd(k->ns, k->key, k->klen, m, n, flags, &count, NULL);
	shardkv_wal_sync();
	if (rc == KV_EINVAL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 (flags & KV_ZADD_NX) && (flags & KV_ZADD_XX) ?
				 errmsg("XX and NX options at the same time are not compatible") :
				 errmsg("GT, LT, and/or NX options at the same time are not compatible")));
	if (rc == KV_ENOTFLOAT)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("score must not be NaN")));
	SHARDKV_CHECK(rc, k->ns);
	PG_RETURN_INT64((int64) count);
}

/* kv.zadd(ns, key, member text, score float8, options text DEFAULT NULL)
 * -> members added (with ch: added or changed) */
PG_FUNCTION_INFO_V1(shardkv_zadd);
Datum
shardkv_zadd(PG_FUNCTION_ARGS)
{
	ShardkvKey	k = shardkv_key_args(fcinfo, true);
	kv_zmember	m;

	m.member = val_arg(fcinfo, 2, TEXTOID, "member");
	shardkv_require_arg(fcinfo, 3, "score");
	m.score = PG_GETARG_FLOAT8(3);
	return zadd_call(&k, &m, 1, zadd_options(fcinfo, 4));
}

/* kv.zadd(ns, key, members text[], scores float8[], options text DEFAULT NULL) */
PG_FUNCTION_INFO_V1(shardkv_zadd_arrays);
Datum
shardkv_zadd_arrays(PG_FUNCTION_ARGS)
{
	ShardkvKey	k = shardkv_key_args(fcinfo, true);
	size_t		n,
				i;
	kv_val	   *v = vals_arg(fcinfo, 2, "members", &n);
	ArrayType  *a;
	Datum	   *d;
	bool	   *nulls;
	int			ns_count;
	kv_zmember *m;

	a = shardkv_array_arg(fcinfo, 3, "scores");
	deconstruct_array(a, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
					  &d, &nulls, &ns_count);
	if ((size_t) ns_count != n)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("members and scores must have the same length"),
				 errdetail("There are %zu members and %d scores.", n, ns_count)));
	m = palloc(sizeof(kv_zmember) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("scores must not contain nulls")));
		m[i].member = v[i];
		m[i].score = DatumGetFloat8(d[i]);
	}
	return zadd_call(&k, m, n, zadd_options(fcinfo, 4));
}

/* kv.zincr(ns, key, member, by float8) -> the new score */
PG_FUNCTION_INFO_V1(shardkv_zincr);
Datum
shardkv_zincr(PG_FUNCTION_ARGS)
{
	ShardkvKey	k = shardkv_key_args(fcinfo, true);
	kv_val		m = val_arg(fcinfo, 2, TEXTOID, "member");
	double		result = 0;
	int			rc;

	shardkv_require_arg(fcinfo, 3, "increment");
	rc = kv_zincr(k.ns, k.key, k.klen, m.data, m.len, PG_GETARG_FLOAT8(3), &result);
	shardkv_wal_sync();
	if (rc == KV_ENOTFLOAT)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("resulting score is not a number (NaN)"),
				 errdetail("The stored score is unchanged.")));
	SHARDKV_CHECK(rc, k.ns);
	PG_RETURN_FLOAT8(result);
}

/* kv.zscore(ns, key, member) -> the score; NULL if missing */
PG_FUNCTION_INFO_V1(shardkv_zscore);
Datum
shardkv_zscore(PG_FUNCTION_ARGS)
{
	ShardkvKey	k = shardkv_key_args(fcinfo, false);
	kv_val		m = val_arg(fcinfo, 2, TEXTOID, "member");
	double		score = 0;
	int			rc = kv_zscore(k.ns, k.key, k.klen, m.data, m.len, &score);

	if (!shardkv_found(rc, k.ns))
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8(score);
}

/* kv.zrank(ns, key, member, reverse boolean DEFAULT false) -> 0-based rank; NULL if missing */
PG_FUNCTION_INFO_V1(shardkv_zrank);
Datum
shardkv_zrank(PG_FUNCTION_ARGS)
{
	ShardkvKey	k = shardkv_key_args(fcinfo, false);
	kv_val		m = val_arg(fcinfo, 2, TEXTOID, "member");
	bool		rev = PG_NARGS() > 3 && !PG_ARGISNULL(3) && PG_GETARG_BOOL(3);
	uint64_t	rank = 0;
	int			rc = kv_zrank(k.ns, k.key, k.klen, m.data, m.len, rev ? 1 : 0, &rank, NULL);

	if (!shardkv_found(rc, k.ns))
		PG_RETURN_NULL();
	PG_RETURN_INT64((int64) rank);
}

static Datum
zrange_run(FunctionCallInfo fcinfo, const kv_zrange_spec *spec)
{
	ShardkvKey	k = shardkv_key_args(fcinfo, false);
	int			rc;

	rc = kv_zrange(k.ns, k.key, k.klen, spec, &elems);
	shardkv_done(rc, k.ns);
	return emit_rows(fcinfo, ROWS_SCORED, InvalidOid);
}

#define ARG_OR(n, get, dflt) (PG_NARGS() > (n) && !PG_ARGISNULL(n) ? get(n) : (dflt))

/*
 * kv.zrange(ns, key, start bigint DEFAULT 0, stop bigint DEFAULT -1,
 *           reverse boolean DEFAULT false) -> (member, score) by rank, inclusive,
 * negative counting from the end (Redis ZRANGE / ZREVRANGE).
 */
PG_FUNCTION_INFO_V1(shardkv_zrange);
Datum
shardkv_zrange(PG_FUNCTION_ARGS)
{
	kv_zrange_spec spec;

	InitMaterializedSRF(fcinfo, 0);
	kv_zrange_spec_init(&spec);
	spec.by = KV_ZBY_RANK;
	spec.start = ARG_OR(2, PG_GETARG_INT64, 0);
	spec.stop = ARG_OR(3, PG_GETARG_INT64, -1);
	spec.rev = ARG_OR(4, PG_GETARG_BOOL, false) ? 1 : 0;
	return zrange_run(fcinfo, &spec);
}

/*
 * kv.zrangebyscore(ns, key, min float8 DEFAULT '-infinity', max float8 DEFAULT
 *                  'infinity', min_exclusive boolean DEFAULT false,
 *                  max_exclusive boolean DEFAULT false, reverse boolean DEFAULT
 *                  false, "offset" bigint DEFAULT 0, "limit" bigint DEFAULT NULL)
 * -> (member, score) with min <= score <= max, lowest first (highest first
 * with reverse; min and max stay the bounds), Redis ZRANGE BYSCORE [REV] LIMIT.
 */
PG_FUNCTION_INFO_V1(shardkv_zrangebyscore);
Datum
shardkv_zrangebyscore(PG_FUNCTION_ARGS)
{
	kv_zrange_spec spec;

	InitMaterializedSRF(fcinfo, 0);
	kv_zrange_spec_init(&spec);
	spec.by = KV_ZBY_SCORE;
	spec.min = ARG_OR(2, PG_GETARG_FLOAT8, -get_float8_infinity());
	spec.max = ARG_OR(3, PG_GETARG_FLOAT8, get_float8_infinity());
	if (isnan(spec.min) || isnan(spec.max))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("min or max is not a float")));
	spec.min_excl = ARG_OR(4, PG_GETARG_BOOL, false) ? 1 : 0;
	spec.max_excl = ARG_OR(5, PG_GETARG_BOOL, false) ? 1 : 0;
	spec.rev = ARG_OR(6, PG_GETARG_BOOL, false) ? 1 : 0;
	spec.offset = ARG_OR(7, PG_GETARG_INT64, 0);
	spec.count = ARG_OR(8, PG_GETARG_INT64, -1);
	if (spec.offset < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("offset must not be negative")));
	if (spec.count < 0)
		spec.count = -1;		/* Redis: a negative count means all */
	return zrange_run(fcinfo, &spec);
}

/* ----------------------------------------------------------------- lists */

/* kv.lpush / kv.rpush (ns, key, VARIADIC values text[]) -> the new length */
static Datum
push_impl(FunctionCallInfo fcinfo, int where)
{
	ShardkvKey	k = shardkv_key_args(fcinfo, true);
	size_t		n;
	kv_val	   *v = vals_arg(fcinfo, 2, "values", &n);
	uint64_t	len = 0;
	int			rc;

	require_some(n, "value");
	rc = kv_push(k.ns, k.key, k.klen, where, v, n, 0, &len);
	shardkv_done(rc, k.ns);
	PG_RETURN_INT64((int64) len);
}

SHARDKV_ENTRY(shardkv_lpush, push_impl(fcinfo, KV_LEFT))
SHARDKV_ENTRY(shardkv_rpush, push_impl(fcinfo, KV_RIGHT))

/* kv.lpop / kv.rpop (ns, key) -> one element; NULL if the list is missing */
static Datum
pop_one_impl(FunctionCallInfo fcinfo, int where)
{
	ShardkvKey	k = shardkv_key_args(fcinfo, true);
	int			rc = kv_pop(k.ns, k.key, k.klen, where, 0, 0, &elems);
	Datum		d;

	shardkv_wal_sync();
	if (rc == KV_NOTFOUND || (rc == KV_OK && elems.n == 0))
		PG_RETURN_NULL();
	SHARDKV_CHECK(rc, k.ns);
	/* removed already: the hex form for binary bytes never fails */
	d = elem_datum(0, TEXTOID);
	elems_trim();
	PG_RETURN_DATUM(d);
}

SHARDKV_ENTRY(shardkv_lpop, pop_one_impl(fcinfo, KV_LEFT))
SHARDKV_ENTRY(shardkv_rpop, pop_one_impl(fcinfo, KV_RIGHT))

/* kv.lpop / kv.rpop (ns, key, count bigint) -> SETOF text, up to count elements */
static Datum
pop_many_impl(FunctionCallInfo fcinfo, int where)
{
	ShardkvKey	k;
	uint64		count;
	int			rc;

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	k = shardkv_key_args(fcinfo, true);
	count = count_arg(fcinfo, 2);
	if (count == 0)
		return (Datum) 0;
	rc = kv_pop(k.ns, k.key, k.klen, where, 1, count, &elems);
	if (!shardkv_found(rc, k.ns))
		return (Datum) 0;
	return emit_rows(fcinfo, ROWS_ELEMS, TEXTOID);
}

SHARDKV_ENTRY(shardkv_lpop_count, pop_many_impl(fcinfo, KV_LEFT))
SHARDKV_ENTRY(shardkv_rpop_count, pop_many_impl(fcinfo, KV_RIGHT))

/* kv.lrange(ns, key, start bigint DEFAULT 0, stop bigint DEFAULT -1) -> SETOF text,
 * head first (Redis LRANGE indices: inclusive, negative from the tail) */
PG_FUNCTION_INFO_V1(shardkv_lrange);
Datum
shardkv_lrange(PG_FUNCTION_ARGS)
{
	ShardkvKey	k;
	int			rc;

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	k = shardkv_key_args(fcinfo, false);
	rc = kv_lrange(k.ns, k.key, k.klen, ARG_OR(2, PG_GETARG_INT64, 0),
				   ARG_OR(3, PG_GETARG_INT64, -1), &elems);
	shardkv_done(rc, k.ns);
	return emit_rows(fcinfo, ROWS_ELEMS, TEXTOID);
}
