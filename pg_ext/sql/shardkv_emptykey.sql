-- the empty key is a key (as in Redis): every kv.* key function and the FDW
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS shardkv;
SELECT kv.drop_namespace('ek', if_exists => true);
DROP SERVER IF EXISTS eksrv CASCADE;
RESET client_min_messages;
SELECT kv.create_namespace('ek');

-- writes and reads of ''
SELECT kv.set('ek', '', 'v0'), kv.get('ek', ''), kv.exists('ek', ''), kv.strlen('ek', '');
SELECT kv.add('ek', '', 'no') AS added, kv.replace('ek', '', 'v1') AS replaced, kv.get('ek', '');
SELECT kv.getset('ek', '', 'v2') AS old, kv.append('ek', '', '+') AS newlen, kv.get('ek', '');
SELECT kv.setrange('ek', '', 0, 'V'), kv.getrange('ek', '', 0, -1);
SELECT kv.set('ek', '', '\x00ff'::bytea), kv.get_bytea('ek', '');
SELECT kv.set('ek', '', '{"a": 1}'::jsonb), kv.get_jsonb('ek', '');
-- numbers
SELECT kv.delete('ek', ''), kv.incr('ek', ''), kv.incr('ek', '', 41), kv.decr('ek', ''), kv.get('ek', '');
SELECT kv.delete('ek', ''), kv.incr_float('ek', '', 0.5), kv.get('ek', '');
-- expiry
SELECT kv.expire('ek', '', interval '1 hour'), kv.ttl('ek', '') > interval '59 min' AS ttl_set,
       kv.expires_at('ek', '') > now() AS at_set;
SELECT kv.persist('ek', ''), kv.ttl('ek', '') IS NULL AS no_ttl;
SELECT kv.expire_at('ek', '', now() + interval '1 day'), kv.ttl('ek', '') > interval '23 hours' AS ttl_day;
-- rename to and from ''
SELECT kv.rename('ek', '', 'named'), kv.exists('ek', '') AS still_there, kv.get('ek', 'named');
SELECT kv.rename('ek', 'named', ''), kv.get('ek', '');
-- consume
SELECT kv.consume('ek', '') AS consumed, kv.exists('ek', '') AS after_consume;
-- batches
SELECT * FROM kv.mset('ek', ARRAY['', 'a'], ARRAY['empty', 'A']);
SELECT * FROM kv.mget('ek', ARRAY['', 'a', 'missing']) ORDER BY key;
SELECT * FROM kv.mexists('ek', ARRAY['', 'zz']) ORDER BY key;
-- scans list '' first (sorted) and match it with '*' and prefix ''
SELECT k = '' AS is_empty FROM kv.keys('ek', '*') k ORDER BY k;
SELECT key = '' AS is_empty, value FROM kv.scan('ek', prefix => '') ORDER BY key;
SELECT count(*) FROM kv.keys('ek', '?*') k WHERE k = '';
-- the empty pattern is a glob that matches only the empty key (as Redis's MATCH "")
SELECT k = '' AS is_empty FROM kv.keys('ek', '') k;
SELECT key = '' AS is_empty, value FROM kv.scan('ek', pattern => '');
SELECT * FROM kv.mdelete('ek', ARRAY['', 'a']) ORDER BY key;
SELECT kv.exists('ek', '') AS gone;

-- the FDW: INSERT, lookup, UPDATE and DELETE of ''
CREATE SERVER eksrv FOREIGN DATA WRAPPER shardkv_fdw;
CREATE FOREIGN TABLE ek_t (key text, value text, expires_at timestamptz)
    SERVER eksrv OPTIONS (namespace 'ek');
INSERT INTO ek_t (key, value) VALUES ('', 'from fdw');
SELECT key = '' AS is_empty, value FROM ek_t WHERE key = '';
SELECT key = '' AS is_empty, value FROM ek_t WHERE key = ANY (ARRAY['', 'nope']);
INSERT INTO ek_t (key, value) VALUES ('', 'again');
UPDATE ek_t SET value = 'updated' WHERE key = '';
SELECT kv.get('ek', '');
DELETE FROM ek_t WHERE key = '';
SELECT kv.exists('ek', '') AS deleted, count(*) FROM ek_t;

-- only a key past max_key_size is refused, and the message says so
SELECT kv.create_namespace('ek_small', max_key_size => 4);
SELECT kv.set('ek_small', '', 'ok');
SELECT kv.set('ek_small', 'abcde', 'too long');

DROP SERVER eksrv CASCADE;
SELECT kv.drop_namespace('ek');
SELECT kv.drop_namespace('ek_small');
