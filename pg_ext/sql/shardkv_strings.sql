-- getset, strlen, getrange, setrange, rename, random_key
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS shardkv;
SELECT kv.drop_namespace('strings', if_exists => true);
RESET client_min_messages;
SELECT kv.create_namespace('strings');

-- getset returns the old value (NULL when there was none) as text or bytea
SELECT kv.getset('strings', 'g', 'first') IS NULL AS no_old_value;
SELECT kv.getset('strings', 'g', 'second');
SELECT kv.get('strings', 'g');
SELECT kv.getset('strings', 'g', '\xff'::bytea);
SELECT kv.getset('strings', 'g', 'text again');
SELECT kv.get('strings', 'g') AS stored_anyway;
SELECT kv.getset('strings', 'g', '\x41'::bytea);
SELECT kv.getset('strings', 'g', 'x', interval '1 hour');
SELECT kv.ttl('strings', 'g') > interval '59 min' AS ttl_set;

-- strlen counts bytes
SELECT kv.set('strings', 's', 'héllo');
SELECT kv.strlen('strings', 's'), kv.strlen('strings', 'missing') IS NULL AS missing;

-- getrange: inclusive, negative from the end (bytea: a range may split a character)
SELECT kv.set('strings', 'r', 'Hello, World');
SELECT kv.getrange('strings', 'r', 0, 4), kv.getrange('strings', 'r', -5, -1);
SELECT convert_from(kv.getrange('strings', 'r', 7, 100), 'UTF8');
SELECT kv.getrange('strings', 'r', 5, 2), kv.getrange('strings', 'missing', 0, 1) IS NULL AS missing;

-- setrange overwrites and zero-pads
SELECT kv.setrange('strings', 'r', 7, 'Redis');
SELECT kv.get('strings', 'r');
SELECT kv.setrange('strings', 'pad', 3, '\xff'::bytea);
SELECT kv.get_bytea('strings', 'pad');
SELECT kv.setrange('strings', 'r', -1, 'x');

-- rename keeps value, type and expiry
SELECT kv.set('strings', 'old', '{"k": true}'::jsonb, interval '1 day');
SELECT kv.rename('strings', 'old', 'new');
SELECT kv.exists('strings', 'old'), kv.get_jsonb('strings', 'new'),
       kv.ttl('strings', 'new') > interval '23 hours' AS ttl_moved;
SELECT kv.rename('strings', 'missing', 'x');
SELECT kv.set('strings', 'taken', 'v');
SELECT kv.rename('strings', 'new', 'taken', nx => true);
SELECT kv.get('strings', 'taken');
SELECT kv.rename('strings', 'new', 'taken');
SELECT kv.get('strings', 'taken'), kv.exists('strings', 'new');

-- random_key
SELECT kv.random_key('strings') IN (SELECT k FROM kv.keys('strings') k) AS is_a_key;
SELECT kv.flush('strings');
SELECT kv.random_key('strings') IS NULL AS empty;

SELECT kv.drop_namespace('strings');
