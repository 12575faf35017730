-- the writable foreign data wrapper
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS shardkv;
SELECT kv.drop_namespace(n, if_exists => true) FROM unnest(ARRAY['fdw', 'fdw_json']) n;
DROP SERVER IF EXISTS kvsrv CASCADE;
DROP SCHEMA IF EXISTS fdw_import CASCADE;
RESET client_min_messages;

SELECT kv.create_namespace('fdw');
SELECT kv.create_namespace('fdw_json');
CREATE SERVER kvsrv FOREIGN DATA WRAPPER shardkv_fdw;
CREATE FOREIGN TABLE cache (key text, value text, expires_at timestamptz)
    SERVER kvsrv OPTIONS (namespace 'fdw');

-- INSERT (batched), then read through the functions and the table
INSERT INTO cache (key, value) SELECT 'k' || i, 'v' || i FROM generate_series(1, 250) i;
SELECT kv.get('fdw', 'k7');
SELECT count(*) FROM cache;
INSERT INTO cache VALUES ('ttl', 'x', now() + interval '1 hour');
SELECT kv.ttl('fdw', 'ttl') BETWEEN interval '59 min' AND interval '1 hour 1 ms' AS ttl_from_insert;
-- an existing key is a unique violation, for single and batched inserts
INSERT INTO cache VALUES ('k1', 'again');
INSERT INTO cache (key, value) SELECT 'new' || i, 'x' FROM generate_series(1, 3) i
    UNION ALL SELECT 'k2', 'dup';
SELECT count(*) FROM cache WHERE key LIKE 'new%';
INSERT INTO cache VALUES (NULL, 'x');

-- key = const and key = ANY(array) are pushed down to direct lookups
EXPLAIN (COSTS OFF) SELECT value FROM cache WHERE key = 'k1';
EXPLAIN (COSTS OFF) SELECT * FROM cache WHERE key = ANY (ARRAY['k1', 'k2']);
EXPLAIN (COSTS OFF) SELECT * FROM cache WHERE value = 'v1';
SELECT key, value FROM cache WHERE key = 'k1';
SELECT key, value FROM cache WHERE key = 'missing';
SELECT key, value FROM cache WHERE key = ANY (ARRAY['k3', 'missing', 'k1', 'k3', NULL]) ORDER BY key;
SELECT key, value FROM cache WHERE key IN ('k10', 'k20') AND value = 'v20';
SELECT key, value FROM cache WHERE value = 'v100';
-- parameters (prepared statements) are pushed down as well
PREPARE one(text) AS SELECT value FROM cache WHERE key = $1;
PREPARE many(text[]) AS SELECT key, value FROM cache WHERE key = ANY ($1) ORDER BY key;
SET plan_cache_mode = force_generic_plan;
EXPLAIN (COSTS OFF) EXECUTE one('k5');
EXECUTE one('k5');
EXECUTE many(ARRAY['k6', 'k8']);
RESET plan_cache_mode;

-- UPDATE and DELETE
UPDATE cache SET value = 'changed' WHERE key = 'k1';
SELECT kv.get('fdw', 'k1');
UPDATE cache SET value = upper(value) WHERE key IN ('k2', 'k3');
SELECT key, value FROM cache WHERE key IN ('k2', 'k3') ORDER BY key;
UPDATE cache SET expires_at = now() + interval '1 day' WHERE key = 'k4';
SELECT kv.ttl('fdw', 'k4') > interval '23 hours' AS ttl_set, kv.get('fdw', 'k4');
UPDATE cache SET value = 'keeps ttl' WHERE key = 'k4';
SELECT kv.ttl('fdw', 'k4') > interval '23 hours' AS ttl_kept, kv.get('fdw', 'k4');
UPDATE cache SET expires_at = NULL WHERE key = 'k4';
SELECT kv.ttl('fdw', 'k4') IS NULL AS persisted;
UPDATE cache SET key = 'other' WHERE key = 'k5';
DELETE FROM cache WHERE key = 'k6';
SELECT kv.exists('fdw', 'k6');
DELETE FROM cache WHERE value LIKE 'v1%';
SELECT count(*) FROM cache;
-- writes through the table are not transactional either
BEGIN;
DELETE FROM cache WHERE key = 'k7';
ROLLBACK;
SELECT kv.exists('fdw', 'k7');

-- RETURNING
INSERT INTO cache VALUES ('r1', 'one', now() + interval '1 hour') RETURNING key, value, expires_at > now() AS expires;
UPDATE cache SET value = 'uno' WHERE key = 'r1' RETURNING key, value, expires_at > now() AS expires;
DELETE FROM cache WHERE key = 'r1' RETURNING key, value, expires_at > now() AS expires;
DELETE FROM cache WHERE key = 'r1' RETURNING *;

-- foreign tables follow table privileges
SET client_min_messages = warning;
DROP ROLE IF EXISTS kv_fdw_reader;
RESET client_min_messages;
CREATE ROLE kv_fdw_reader;
SET ROLE kv_fdw_reader;
SELECT value FROM cache WHERE key = 'k8';
RESET ROLE;
GRANT SELECT ON cache TO kv_fdw_reader;
SET ROLE kv_fdw_reader;
SELECT value FROM cache WHERE key = 'k8';
DELETE FROM cache WHERE key = 'k8';
RESET ROLE;
REVOKE SELECT ON cache FROM kv_fdw_reader;
DROP ROLE kv_fdw_reader;

-- under a nondeterministic collation, = is not a byte lookup: no pushdown
CREATE COLLATION fdw_ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
CREATE FOREIGN TABLE ci_cache (key text COLLATE fdw_ci, value text) SERVER kvsrv OPTIONS (namespace 'fdw');
EXPLAIN (COSTS OFF) SELECT * FROM ci_cache WHERE key = 'K1';
SELECT key, value FROM ci_cache WHERE key = 'K1';
DROP FOREIGN TABLE ci_cache;
DROP COLLATION fdw_ci;

-- jsonb and bytea value columns
CREATE FOREIGN TABLE docs (key text, value jsonb) SERVER kvsrv OPTIONS (namespace 'fdw_json');
INSERT INTO docs VALUES ('a', '{"n": 1}'), ('b', '[1, 2]');
SELECT key, value, jsonb_typeof(value) FROM docs ORDER BY key;
SELECT kv.get_jsonb('fdw_json', 'a') -> 'n' AS n;
CREATE FOREIGN TABLE raw (key text, value bytea) SERVER kvsrv OPTIONS (namespace 'fdw_json');
SELECT key, value FROM raw WHERE key = 'b';

-- options and columns are validated
CREATE FOREIGN TABLE bad1 (key text) SERVER kvsrv OPTIONS (nmspace 'fdw');
CREATE FOREIGN TABLE bad2 (key text, extra int) SERVER kvsrv OPTIONS (namespace 'fdw');
SELECT * FROM bad2;
CREATE FOREIGN TABLE bad3 (value text) SERVER kvsrv OPTIONS (namespace 'fdw');
SELECT * FROM bad3;
CREATE FOREIGN TABLE bad4 (key text) SERVER kvsrv OPTIONS (namespace 'fdw', batch_size '0');
CREATE FOREIGN TABLE gone (key text, value text) SERVER kvsrv OPTIONS (namespace 'no_such_ns');
SELECT * FROM gone;
INSERT INTO cache VALUES ('x', 'y') ON CONFLICT DO NOTHING;

-- IMPORT FOREIGN SCHEMA: one table per namespace
CREATE SCHEMA fdw_import;
IMPORT FOREIGN SCHEMA shardkv LIMIT TO (fdw, fdw_json) FROM SERVER kvsrv INTO fdw_import;
SELECT foreign_table_name FROM information_schema.foreign_tables
WHERE foreign_table_schema = 'fdw_import' ORDER BY 1;
SELECT count(*) FROM fdw_import.fdw;
SELECT value FROM fdw_import.fdw_json WHERE key = 'a';

DROP SCHEMA fdw_import CASCADE;
DROP SERVER kvsrv CASCADE;
SELECT kv.drop_namespace('fdw');
SELECT kv.drop_namespace('fdw_json');
