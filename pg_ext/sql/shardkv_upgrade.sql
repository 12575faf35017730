-- ALTER EXTENSION UPDATE from 0.1 (strings only) to 0.2 (collections), in a
-- database of its own; privileges of both versions after the update
SET client_min_messages = warning;
DROP DATABASE IF EXISTS shardkv_upgrade;
DROP ROLE IF EXISTS kv_upg_reader;
DROP ROLE IF EXISTS kv_upg_nobody;
RESET client_min_messages;
SELECT current_database() AS origdb \gset
CREATE DATABASE shardkv_upgrade;
\c shardkv_upgrade

CREATE EXTENSION shardkv VERSION '0.1';
SELECT extversion FROM pg_extension WHERE extname = 'shardkv';
SELECT count(*) AS collection_functions FROM pg_proc WHERE proname IN ('hset', 'zadd', 'lpush', 'type')
    AND pronamespace = 'kv'::regnamespace;
SELECT kv.create_namespace('upg', if_not_exists => true);
SELECT kv.set('upg', 'k', 'kept');
-- a grant made on 0.1 survives the update
CREATE ROLE kv_upg_reader;
GRANT USAGE ON SCHEMA kv TO kv_upg_reader;
GRANT EXECUTE ON FUNCTION kv.get(text, text) TO kv_upg_reader;

ALTER EXTENSION shardkv UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'shardkv';
SELECT kv.get('upg', 'k') AS data_kept;
SELECT kv.hset('upg', 'h', 'f', 'v'), kv.hget('upg', 'h', 'f'), kv.type('upg', 'h');
-- the functions the update made are no more executable by PUBLIC than the old ones
SELECT count(*) AS public_executable
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = 'kv' AND has_function_privilege('public', p.oid, 'EXECUTE');
-- every object of 0.2 belongs to the extension (DROP EXTENSION removes it)
SELECT count(*) AS loose_functions
FROM pg_proc p
WHERE p.pronamespace = 'kv'::regnamespace
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass
                  AND d.objid = p.oid AND d.deptype = 'e');
SET ROLE kv_upg_reader;
SELECT kv.get('upg', 'k') AS reader_reads;
SELECT kv.hget('upg', 'h', 'f');
RESET ROLE;
GRANT EXECUTE ON FUNCTION kv.hget(text, text, text), kv.hgetall(text, text) TO kv_upg_reader;
SET ROLE kv_upg_reader;
SELECT kv.hget('upg', 'h', 'f') AS granted;
SELECT * FROM kv.hgetall('upg', 'h');
SELECT kv.hset('upg', 'h', 'f', 'w');
RESET ROLE;
CREATE ROLE kv_upg_nobody;
GRANT USAGE ON SCHEMA kv TO kv_upg_nobody;
SET ROLE kv_upg_nobody;
SELECT kv.zadd('upg', 'z', 'm', 1);
SELECT * FROM kv.lrange('upg', 'l');
RESET ROLE;

-- a fresh install is 0.2 and defines the same functions as the updated one
CREATE VIEW pg_temp.kv_defs AS
SELECT md5(string_agg(d, ',' ORDER BY d)) AS defs
FROM (SELECT format('%s %s %s %s %s %s', p.oid::regprocedure, p.prorettype::regtype, p.proisstrict,
                    p.provolatile, p.proparallel, p.prosrc) AS d
      FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'kv') f;
SELECT defs AS updated_defs FROM pg_temp.kv_defs \gset
DROP EXTENSION shardkv;
CREATE EXTENSION shardkv;
SELECT extversion FROM pg_extension WHERE extname = 'shardkv';
SELECT defs = :'updated_defs' AS same_as_updated FROM pg_temp.kv_defs;
SELECT kv.hget('upg', 'h', 'f') AS store_outlives_the_extension;
SELECT kv.drop_namespace('upg');

\c :origdb
DROP DATABASE shardkv_upgrade;
DROP ROLE kv_upg_reader;
DROP ROLE kv_upg_nobody;
