/* shardkv--0.1--0.2.sql: collections (hashes, sets, sorted sets, lists) and kv.type.
 * CREATE EXTENSION shardkv runs 0.1 and then this script; ALTER EXTENSION
 * shardkv UPDATE brings an 0.1 installation here. */

\echo Use "ALTER EXTENSION shardkv UPDATE TO '0.2'" to load this file. \quit

-- As in 0.1: VOLATILE everywhere; reads STRICT and PARALLEL SAFE; writes refuse
-- NULL arguments with an error and are PARALLEL UNSAFE.  Writes are not
-- transactional.  A function on the wrong kind of key raises 42809
-- (wrong_object_type) "operation against a key holding the wrong kind of value".

--------------------------------------------------------------------- any kind
CREATE FUNCTION kv.type(ns text, key text) RETURNS text
AS 'MODULE_PATHNAME', 'shardkv_type' LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

----------------------------------------------------------------------- hashes
CREATE FUNCTION kv.hset(ns text, key text, field text, value text) RETURNS bigint
AS 'MODULE_PATHNAME', 'shardkv_hset_text' LANGUAGE C VOLATILE;
CREATE FUNCTION kv.hset(ns text, key text, field text, value bytea) RETURNS bigint
AS 'MODULE_PATHNAME', 'shardkv_hset_bytea' LANGUAGE C VOLATILE;
CREATE FUNCTION kv.hset(ns text, key text, fields text[], vals text[]) RETURNS bigint
AS 'MODULE_PATHNAME', 'shardkv_hset_arrays' LANGUAGE C VOLATILE;
CREATE FUNCTION kv.hset(ns text, key text, fields jsonb) RETURNS bigint
AS 'MODULE_PATHNAME', 'shardkv_hset_jsonb' LANGUAGE C VOLATILE;
CREATE FUNCTION kv.hget(ns text, key text, field text) RETURNS text
AS 'MODULE_PATHNAME', 'shardkv_hget' LANGUAGE C STRICT VOLATILE PARALLEL SAFE;
CREATE FUNCTION kv.hget_bytea(ns text, key text, field text) RETURNS bytea
AS 'MODULE_PATHNAME', 'shardkv_hget_bytea' LANGUAGE C STRICT VOLATILE PARALLEL SAFE;
CREATE FUNCTION kv.hgetall(ns text, key text, OUT field text, OUT value text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'shardkv_hgetall' LANGUAGE C STRICT VOLATILE PARALLEL SAFE ROWS 100;
CREATE FUNCTION kv.hgetall_bytea(ns text, key text, OUT field text, OUT value bytea)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'shardkv_hgetall_bytea' LANGUAGE C STRICT VOLATILE PARALLEL SAFE ROWS 100;
CREATE FUNCTION kv.hgetall_jsonb(ns text, key text) RETURNS jsonb
AS 'MODULE_PATHNAME', 'shardkv_hgetall_jsonb' LANGUAGE C STRICT VOLATILE PARALLEL SAFE;
CREATE FUNCTION kv.hexists(ns text, key text, field text) RETURNS boolean
AS 'MODULE_PATHNAME', 'shardkv_hexists' LANGUAGE C STRICT VOLATILE PARALLEL SAFE;
CREATE FUNCTION kv.hlen(ns text, key text) RETURNS bigint
AS 'MODULE_PATHNAME', 'shardkv_hlen' LANGUAGE C STRICT VOLATILE PARALLEL SAFE;
CREATE FUNCTION kv.hdel(ns text, key text, VARIADIC fields text[]) RETURNS bigint
AS 'MODULE_PATHNAME', 'shardkv_hdel' LANGUAGE C VOLATILE;
CREATE FUNCTION kv.hincr(ns text, key text, field text, by bigint DEFAULT 1) RETURNS bigint
AS 'MODULE_PATHNAME', 'shardkv_hincr' LANGUAGE C VOLATILE;
CREATE FUNCTION kv.hincr_float(ns text, key text, field text, by double precision)
RETURNS double precision
AS 'MODULE_PATHNAME', 'shardkv_hincr_float' LANGUAGE C VOLATILE;

------------------------------------------------------------------------- sets
CREATE FUNCTION kv.sadd(ns text, key text, VARIADIC members text[]) RETURNS bigint
AS 'MODULE_PATHNAME', 'shardkv_sadd' LANGUAGE C VOLATILE;
CREATE FUNCTION kv.srem(ns text, key text, VARIADIC members text[]) RETURNS bigint
AS 'MODULE_PATHNAME', 'shardkv_srem' LANGUAGE C VOLATILE;
CREATE FUNCTION kv.smembers(ns text, key text) RETURNS SETOF text
AS 'MODULE_PATHNAME', 'shardkv_smembers' LANGUAGE C STRICT VOLATILE PARALLEL SAFE ROWS 100;
CREATE FUNCTION kv.sismember(ns text, key text, member text) RETURNS boolean
AS 'MODULE_PATHNAME', 'shardkv_sismember' LANGUAGE C STRICT VOLATILE PARALLEL SAFE;
CREATE FUNCTION kv.scard(ns text, key text) RETURNS bigint
AS 'MODULE_PATHNAME', 'shardkv_scard' LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

------------------------------------------------------------------ sorted sets
-- options: words nx, xx, gt, lt, ch (Redis ZADD's), separated by spaces or commas.
CREATE FUNCTION kv.zadd(ns text, key text, member text, score double precision,
                        options text DEFAULT NULL) RETURNS bigint
AS 'MODULE_PATHNAME', 'shardkv_zadd' LANGUAGE C VOLATILE;
CREATE FUNCTION kv.zadd(ns text, key text, members text[], scores double precision[],
                        options text DEFAULT NULL) RETURNS bigint
AS 'MODULE_PATHNAME', 'shardkv_zadd_arrays' LANGUAGE C VOLATILE;
CREATE FUNCTION kv.zincr(ns text, key text, member text, by double precision)
RETURNS double precision
AS 'MODULE_PATHNAME', 'shardkv_zincr' LANGUAGE C VOLATILE;
CREATE FUNCTION kv.zscore(ns text, key text, member text) RETURNS double precision
AS 'MODULE_PATHNAME', 'shardkv_zscore' LANGUAGE C STRICT VOLATILE PARALLEL SAFE;
CREATE FUNCTION kv.zrank(ns text, key text, member text, reverse boolean DEFAULT false)
RETURNS bigint
AS 'MODULE_PATHNAME', 'shardkv_zrank' LANGUAGE C STRICT VOLATILE PARALLEL SAFE;
CREATE FUNCTION kv.zrem(ns text, key text, VARIADIC members text[]) RETURNS bigint
AS 'MODULE_PATHNAME', 'shardkv_zrem' LANGUAGE C VOLATILE;
CREATE FUNCTION kv.zcard(ns text, key text) RETURNS bigint
AS 'MODULE_PATHNAME', 'shardkv_zcard' LANGUAGE C STRICT VOLATILE PARALLEL SAFE;
CREATE FUNCTION kv.zrange(ns text, key text, start bigint DEFAULT 0, stop bigint DEFAULT -1,
                          reverse boolean DEFAULT false,
                          OUT member text, OUT score double precision)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'shardkv_zrange' LANGUAGE C STRICT VOLATILE PARALLEL SAFE ROWS 100;
CREATE FUNCTION kv.zrangebyscore(ns text, key text,
                                 min double precision DEFAULT '-infinity',
                                 max double precision DEFAULT 'infinity',
                                 min_exclusive boolean DEFAULT false,
                                 max_exclusive boolean DEFAULT false,
                                 reverse boolean DEFAULT false,
                                 "offset" bigint DEFAULT 0, "limit" bigint DEFAULT NULL,
                                 OUT member text, OUT score double precision)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'shardkv_zrangebyscore' LANGUAGE C VOLATILE PARALLEL SAFE ROWS 100;

------------------------------------------------------------------------ lists
CREATE FUNCTION kv.lpush(ns text, key text, VARIADIC vals text[]) RETURNS bigint
AS 'MODULE_PATHNAME', 'shardkv_lpush' LANGUAGE C VOLATILE;
CREATE FUNCTION kv.rpush(ns text, key text, VARIADIC vals text[]) RETURNS bigint
AS 'MODULE_PATHNAME', 'shardkv_rpush' LANGUAGE C VOLATILE;
CREATE FUNCTION kv.lpop(ns text, key text) RETURNS text
AS 'MODULE_PATHNAME', 'shardkv_lpop' LANGUAGE C VOLATILE;
CREATE FUNCTION kv.rpop(ns text, key text) RETURNS text
AS 'MODULE_PATHNAME', 'shardkv_rpop' LANGUAGE C VOLATILE;
CREATE FUNCTION kv.lpop(ns text, key text, count bigint) RETURNS SETOF text
AS 'MODULE_PATHNAME', 'shardkv_lpop_count' LANGUAGE C VOLATILE ROWS 10;
CREATE FUNCTION kv.rpop(ns text, key text, count bigint) RETURNS SETOF text
AS 'MODULE_PATHNAME', 'shardkv_rpop_count' LANGUAGE C VOLATILE ROWS 10;
CREATE FUNCTION kv.lrange(ns text, key text, start bigint DEFAULT 0, stop bigint DEFAULT -1)
RETURNS SETOF text
AS 'MODULE_PATHNAME', 'shardkv_lrange' LANGUAGE C STRICT VOLATILE PARALLEL SAFE ROWS 100;
CREATE FUNCTION kv.llen(ns text, key text) RETURNS bigint
AS 'MODULE_PATHNAME', 'shardkv_llen' LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

------------------------------------------------------------------- privileges
-- As in 0.1, a role without grants can neither read nor write.  Only the
-- functions this script creates are named, so that an update keeps every grant
-- already made on the 0.1 functions.
REVOKE ALL ON FUNCTION
    kv.type(text, text),
    kv.hset(text, text, text, text), kv.hset(text, text, text, bytea),
    kv.hset(text, text, text[], text[]), kv.hset(text, text, jsonb),
    kv.hget(text, text, text), kv.hget_bytea(text, text, text),
    kv.hgetall(text, text), kv.hgetall_bytea(text, text), kv.hgetall_jsonb(text, text),
    kv.hexists(text, text, text), kv.hlen(text, text), kv.hdel(text, text, text[]),
    kv.hincr(text, text, text, bigint), kv.hincr_float(text, text, text, double precision),
    kv.sadd(text, text, text[]), kv.srem(text, text, text[]), kv.smembers(text, text),
    kv.sismember(text, text, text), kv.scard(text, text),
    kv.zadd(text, text, text, double precision, text),
    kv.zadd(text, text, text[], double precision[], text),
    kv.zincr(text, text, text, double precision), kv.zscore(text, text, text),
    kv.zrank(text, text, text, boolean), kv.zrem(text, text, text[]), kv.zcard(text, text),
    kv.zrange(text, text, bigint, bigint, boolean),
    kv.zrangebyscore(text, text, double precision, double precision, boolean, boolean,
                     boolean, bigint, bigint),
    kv.lpush(text, text, text[]), kv.rpush(text, text, text[]),
    kv.lpop(text, text), kv.rpop(text, text), kv.lpop(text, text, bigint),
    kv.rpop(text, text, bigint), kv.lrange(text, text, bigint, bigint), kv.llen(text, text)
FROM PUBLIC;
