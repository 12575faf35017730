/* shardkv--0.1.sql: the kv schema (created by CREATE EXTENSION from the control file) */

\echo Use "CREATE EXTENSION shardkv" to load this file. \quit

-- Writes are not transactional (like nextval): a ROLLBACK does not undo them.
-- Every function is VOLATILE: the store changes under any statement.
-- Reads are PARALLEL SAFE (the store is in shared memory); writes are not.

------------------------------------------------------------------ single keys
CREATE FUNCTION kv.get(ns text, key text) RETURNS text
AS 'MODULE_PATHNAME', 'shardkv_get' LANGUAGE C STRICT VOLATILE PARALLEL SAFE;
CREATE FUNCTION kv.get_bytea(ns text, key text) RETURNS bytea
AS 'MODULE_PATHNAME', 'shardkv_get_bytea' LANGUAGE C STRICT VOLATILE PARALLEL SAFE;
CREATE FUNCTION kv.get_jsonb(ns text, key text) RETURNS jsonb
AS 'MODULE_PATHNAME', 'shardkv_get_jsonb' LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

CREATE FUNCTION kv.set(ns text, key text, value text, ttl interval DEFAULT NULL) RETURNS void
AS 'MODULE_PATHNAME', 'shardkv_set_text' LANGUAGE C VOLATILE;
CREATE FUNCTION kv.set(ns text, key text, value bytea, ttl interval DEFAULT NULL) RETURNS void
AS 'MODULE_PATHNAME', 'shardkv_set_bytea' LANGUAGE C VOLATILE;
CREATE FUNCTION kv.set(ns text, key text, value jsonb, ttl interval DEFAULT NULL) RETURNS void
AS 'MODULE_PATHNAME', 'shardkv_set_jsonb' LANGUAGE C VOLATILE;

CREATE FUNCTION kv.add(ns text, key text, value text, ttl interval DEFAULT NULL) RETURNS boolean
AS 'MODULE_PATHNAME', 'shardkv_add_text' LANGUAGE C VOLATILE;
CREATE FUNCTION kv.add(ns text, key text, value bytea, ttl interval DEFAULT NULL) RETURNS boolean
AS 'MODULE_PATHNAME', 'shardkv_add_bytea' LANGUAGE C VOLATILE;
CREATE FUNCTION kv.add(ns text, key text, value jsonb, ttl interval DEFAULT NULL) RETURNS boolean
AS 'MODULE_PATHNAME', 'shardkv_add_jsonb' LANGUAGE C VOLATILE;

CREATE FUNCTION kv.replace(ns text, key text, value text, ttl interval DEFAULT NULL) RETURNS boolean
AS 'MODULE_PATHNAME', 'shardkv_replace_text' LANGUAGE C VOLATILE;
CREATE FUNCTION kv.replace(ns text, key text, value bytea, ttl interval DEFAULT NULL) RETURNS boolean
AS 'MODULE_PATHNAME', 'shardkv_replace_bytea' LANGUAGE C VOLATILE;
CREATE FUNCTION kv.replace(ns text, key text, value jsonb, ttl interval DEFAULT NULL) RETURNS boolean
AS 'MODULE_PATHNAME', 'shardkv_replace_jsonb' LANGUAGE C VOLATILE;

CREATE FUNCTION kv.delete(ns text, key text) RETURNS boolean
AS 'MODULE_PATHNAME', 'shardkv_delete' LANGUAGE C VOLATILE;
CREATE FUNCTION kv.exists(ns text, key text) RETURNS boolean
AS 'MODULE_PATHNAME', 'shardkv_exists' LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

CREATE FUNCTION kv.consume(ns text, key text) RETURNS text
AS 'MODULE_PATHNAME', 'shardkv_consume' LANGUAGE C VOLATILE;
CREATE FUNCTION kv.consume_bytea(ns text, key text) RETURNS bytea
AS 'MODULE_PATHNAME', 'shardkv_consume_bytea' LANGUAGE C VOLATILE;
CREATE FUNCTION kv.consume_jsonb(ns text, key text) RETURNS jsonb
AS 'MODULE_PATHNAME', 'shardkv_consume_jsonb' LANGUAGE C VOLATILE;

CREATE FUNCTION kv.incr(ns text, key text, by bigint DEFAULT 1) RETURNS bigint
AS 'MODULE_PATHNAME', 'shardkv_incr' LANGUAGE C VOLATILE;
CREATE FUNCTION kv.decr(ns text, key text, by bigint DEFAULT 1) RETURNS bigint
AS 'MODULE_PATHNAME', 'shardkv_decr' LANGUAGE C VOLATILE;
CREATE FUNCTION kv.incr_float(ns text, key text, by double precision) RETURNS double precision
AS 'MODULE_PATHNAME', 'shardkv_incr_float' LANGUAGE C VOLATILE;

CREATE FUNCTION kv.append(ns text, key text, value text) RETURNS bigint
AS 'MODULE_PATHNAME', 'shardkv_append_text' LANGUAGE C VOLATILE;
CREATE FUNCTION kv.append(ns text, key text, value bytea) RETURNS bigint
AS 'MODULE_PATHNAME', 'shardkv_append_bytea' LANGUAGE C VOLATILE;

CREATE FUNCTION kv.expire(ns text, key text, ttl interval) RETURNS boolean
AS 'MODULE_PATHNAME', 'shardkv_expire' LANGUAGE C VOLATILE;
CREATE FUNCTION kv.expire_at(ns text, key text, at timestamptz) RETURNS boolean
AS 'MODULE_PATHNAME', 'shardkv_expire_at' LANGUAGE C VOLATILE;
CREATE FUNCTION kv.persist(ns text, key text) RETURNS boolean
AS 'MODULE_PATHNAME', 'shardkv_persist' LANGUAGE C VOLATILE;
CREATE FUNCTION kv.ttl(ns text, key text) RETURNS interval
AS 'MODULE_PATHNAME', 'shardkv_ttl' LANGUAGE C STRICT VOLATILE PARALLEL SAFE;
CREATE FUNCTION kv.expires_at(ns text, key text) RETURNS timestamptz
AS 'MODULE_PATHNAME', 'shardkv_expires_at' LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

CREATE FUNCTION kv.getset(ns text, key text, value text, ttl interval DEFAULT NULL) RETURNS text
AS 'MODULE_PATHNAME', 'shardkv_getset_text' LANGUAGE C VOLATILE;
CREATE FUNCTION kv.getset(ns text, key text, value bytea, ttl interval DEFAULT NULL) RETURNS bytea
AS 'MODULE_PATHNAME', 'shardkv_getset_bytea' LANGUAGE C VOLATILE;
CREATE FUNCTION kv.strlen(ns text, key text) RETURNS bigint
AS 'MODULE_PATHNAME', 'shardkv_strlen' LANGUAGE C STRICT VOLATILE PARALLEL SAFE;
CREATE FUNCTION kv.getrange(ns text, key text, start bigint, "end" bigint) RETURNS bytea
AS 'MODULE_PATHNAME', 'shardkv_getrange' LANGUAGE C STRICT VOLATILE PARALLEL SAFE;
CREATE FUNCTION kv.setrange(ns text, key text, "offset" bigint, value text) RETURNS bigint
AS 'MODULE_PATHNAME', 'shardkv_setrange_text' LANGUAGE C VOLATILE;
CREATE FUNCTION kv.setrange(ns text, key text, "offset" bigint, value bytea) RETURNS bigint
AS 'MODULE_PATHNAME', 'shardkv_setrange_bytea' LANGUAGE C VOLATILE;
CREATE FUNCTION kv.rename(ns text, key text, new_key text, nx boolean DEFAULT false) RETURNS boolean
AS 'MODULE_PATHNAME', 'shardkv_rename' LANGUAGE C VOLATILE;
CREATE FUNCTION kv.random_key(ns text) RETURNS text
AS 'MODULE_PATHNAME', 'shardkv_random_key' LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

---------------------------------------------------------------------- batches
-- mode: 'all_or_nothing' (default: atomic, a consistent cut) or 'best_effort'
-- (each item on its own, with its own status).
CREATE FUNCTION kv.mget(ns text, keys text[], OUT key text, OUT value text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'shardkv_mget' LANGUAGE C VOLATILE PARALLEL SAFE ROWS 100;
CREATE FUNCTION kv.mget_bytea(ns text, keys text[], OUT key text, OUT value bytea)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'shardkv_mget_bytea' LANGUAGE C VOLATILE PARALLEL SAFE ROWS 100;
CREATE FUNCTION kv.mget_jsonb(ns text, keys text[], OUT key text, OUT value jsonb)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'shardkv_mget_jsonb' LANGUAGE C VOLATILE PARALLEL SAFE ROWS 100;

CREATE FUNCTION kv.mset(ns text, keys text[], vals text[], mode text DEFAULT 'all_or_nothing',
                        ttl interval DEFAULT NULL, OUT key text, OUT status text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'shardkv_mset' LANGUAGE C VOLATILE ROWS 100;

CREATE FUNCTION kv.mdelete(ns text, keys text[], mode text DEFAULT 'all_or_nothing',
                           OUT key text, OUT status text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'shardkv_mdelete' LANGUAGE C VOLATILE ROWS 100;

CREATE FUNCTION kv.mexists(ns text, keys text[], mode text DEFAULT 'all_or_nothing',
                           OUT key text, OUT "exists" boolean, OUT status text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'shardkv_mexists' LANGUAGE C VOLATILE PARALLEL SAFE ROWS 100;

------------------------------------------------------------------------ scans
-- pattern: a Redis glob (* ? [abc] [^a] [a-z] \x); prefix: leading characters.
CREATE FUNCTION kv.keys(ns text, pattern text DEFAULT NULL, prefix text DEFAULT NULL) RETURNS SETOF text
AS 'MODULE_PATHNAME', 'shardkv_keys' LANGUAGE C VOLATILE PARALLEL SAFE;

CREATE FUNCTION kv.scan(ns text, prefix text DEFAULT NULL, pattern text DEFAULT NULL,
                        OUT key text, OUT value text, OUT type text, OUT expires_at timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'shardkv_scan' LANGUAGE C VOLATILE PARALLEL SAFE;

------------------------------------------------------------------- namespaces
-- 0 means the default: unlimited limits, shardkv.default_shards shards,
-- 65535-byte keys, 512 MiB values.
CREATE FUNCTION kv.create_namespace(name text, shards integer DEFAULT 0,
                                    max_keys bigint DEFAULT 0, max_memory bigint DEFAULT 0,
                                    default_ttl interval DEFAULT NULL,
                                    eviction text DEFAULT 'none',
                                    max_key_size integer DEFAULT 0,
                                    max_value_size bigint DEFAULT 0,
                                    if_not_exists boolean DEFAULT false,
                                    durability text DEFAULT NULL)
RETURNS void AS 'MODULE_PATHNAME', 'shardkv_create_namespace' LANGUAGE C VOLATILE;

-- NULL leaves a setting as it is.
CREATE FUNCTION kv.alter_namespace(name text, max_keys bigint DEFAULT NULL,
                                   max_memory bigint DEFAULT NULL,
                                   default_ttl interval DEFAULT NULL,
                                   eviction text DEFAULT NULL,
                                   max_key_size integer DEFAULT NULL,
                                   max_value_size bigint DEFAULT NULL,
                                   durability text DEFAULT NULL)
RETURNS void AS 'MODULE_PATHNAME', 'shardkv_alter_namespace' LANGUAGE C VOLATILE;

CREATE FUNCTION kv.drop_namespace(name text, if_exists boolean DEFAULT false) RETURNS void
AS 'MODULE_PATHNAME', 'shardkv_drop_namespace' LANGUAGE C VOLATILE;
CREATE FUNCTION kv.flush(ns text) RETURNS void
AS 'MODULE_PATHNAME', 'shardkv_flush' LANGUAGE C VOLATILE;
CREATE FUNCTION kv.resize(ns text, shards integer) RETURNS void
AS 'MODULE_PATHNAME', 'shardkv_resize' LANGUAGE C VOLATILE;

CREATE FUNCTION kv.namespaces(
    OUT name text, OUT shards integer, OUT max_keys bigint, OUT max_memory bigint,
    OUT default_ttl interval, OUT eviction text, OUT max_key_size integer,
    OUT max_value_size bigint, OUT keys bigint, OUT bytes bigint, OUT hits bigint,
    OUT misses bigint, OUT expired bigint, OUT evicted bigint, OUT durability text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'shardkv_namespaces' LANGUAGE C VOLATILE PARALLEL SAFE;

CREATE FUNCTION kv.stats(
    OUT region_size bigint, OUT region_used bigint, OUT namespaces integer,
    OUT max_namespaces integer, OUT dirty bigint, OUT last_save timestamptz,
    OUT worker_pid integer, OUT autosaves bigint)
RETURNS record
AS 'MODULE_PATHNAME', 'shardkv_stats' LANGUAGE C VOLATILE PARALLEL SAFE;

-------------------------------------------------------------------- snapshots
-- file is relative to shardkv.snapshot_dir (no "..", no path outside it);
-- NULL: shardkv.snapshot_file, the one loaded at start and autosaved.
CREATE FUNCTION kv.save(ns text DEFAULT NULL, file text DEFAULT NULL) RETURNS void
AS 'MODULE_PATHNAME', 'shardkv_save' LANGUAGE C VOLATILE;
CREATE FUNCTION kv.load(ns text DEFAULT NULL, file text DEFAULT NULL, into_ns text DEFAULT NULL)
RETURNS void AS 'MODULE_PATHNAME', 'shardkv_load' LANGUAGE C VOLATILE;

---------------------------------------------------------------- foreign data
CREATE FUNCTION kv.fdw_handler() RETURNS fdw_handler
AS 'MODULE_PATHNAME', 'shardkv_fdw_handler' LANGUAGE C STRICT;
CREATE FUNCTION kv.fdw_validator(text[], oid) RETURNS void
AS 'MODULE_PATHNAME', 'shardkv_fdw_validator' LANGUAGE C STRICT;
CREATE FOREIGN DATA WRAPPER shardkv_fdw HANDLER kv.fdw_handler VALIDATOR kv.fdw_validator;

------------------------------------------------------------------- privileges
-- A role without grants can neither read nor write (see README for GRANTs).
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA kv FROM PUBLIC;
REVOKE ALL ON SCHEMA kv FROM PUBLIC;
