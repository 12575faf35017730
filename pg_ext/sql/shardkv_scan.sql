-- scans: kv.keys (glob) and kv.scan (prefix, glob, values, types, expiry)
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS shardkv;
SELECT kv.drop_namespace('scan', if_exists => true);
RESET client_min_messages;
SELECT kv.create_namespace('scan', shards => 4);

SELECT count(kv.set('scan', 'user:' || i, 'u' || i)) FROM generate_series(1, 2500) i;
SELECT count(kv.set('scan', 'item:' || i, 'i' || i)) FROM generate_series(1, 30) i;
SELECT kv.set('scan', 'json', '{"a": 1}'::jsonb);
SELECT kv.set('scan', 'bin', '\xff00'::bytea);
SELECT kv.incr('scan', 'counter', 5);
SELECT kv.set('scan', 'ttl', 'v', interval '1 day');

-- every key exactly once, across many scan steps
SELECT count(*), count(DISTINCT k) FROM kv.keys('scan') k;
SELECT count(*) FROM kv.keys('scan', 'user:*');
SELECT k FROM kv.keys('scan', 'item:?') k ORDER BY k;
SELECT k FROM kv.keys('scan', 'item:[12]0') k ORDER BY k;
SELECT k FROM kv.keys('scan', 'no match*') k;
SELECT count(*) FROM kv.keys('scan', prefix => 'user:12');
SELECT k FROM kv.keys('scan', 'item:?', prefix => 'item:3') k;

-- kv.scan: prefix and pattern, with values, type tags and expiry
SELECT key, value, type FROM kv.scan('scan', prefix => 'item:2') ORDER BY key;
SELECT key, value, type FROM kv.scan('scan', pattern => 'c*') ORDER BY key;
SELECT key, type, expires_at > now() + interval '23 hours' AS expires_tomorrow
FROM kv.scan('scan', pattern => 'ttl');
SELECT key, value::jsonb -> 'a' AS a FROM kv.scan('scan', pattern => 'json');
SELECT count(*) FROM kv.scan('scan', prefix => 'user:1', pattern => '*0');
-- a binary value does not fail the scan: its bytes come back in hex form
SELECT * FROM kv.scan('scan', pattern => 'bin');

-- the scan still sees every key after a resize
SELECT kv.resize('scan', 32);
SELECT count(*), count(DISTINCT k) FROM kv.keys('scan') k;
-- expired keys are not returned
SELECT kv.expire_at('scan', 'user:1', now() - interval '1 s');
SELECT count(*) FROM kv.keys('scan', 'user:*');

SELECT kv.drop_namespace('scan');
