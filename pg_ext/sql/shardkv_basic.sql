-- single-key functions, NULL handling, non-transactional writes
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS shardkv;
SELECT kv.drop_namespace('basic', if_exists => true);
RESET client_min_messages;

SELECT kv.create_namespace('basic');

-- get / set / exists / delete
SELECT kv.get('basic', 'k1') IS NULL AS missing_is_null;
SELECT kv.exists('basic', 'k1');
SELECT kv.set('basic', 'k1', 'one');
SELECT kv.get('basic', 'k1');
SELECT kv.exists('basic', 'k1');
SELECT kv.set('basic', 'k1', 'uno');
SELECT kv.get('basic', 'k1');
SELECT kv.delete('basic', 'k1');
SELECT kv.delete('basic', 'k1');
SELECT kv.get('basic', 'k1') IS NULL AS gone;

-- add (if absent) and replace (if present)
SELECT kv.add('basic', 'a', 'first');
SELECT kv.add('basic', 'a', 'second');
SELECT kv.get('basic', 'a');
SELECT kv.replace('basic', 'a', 'third');
SELECT kv.replace('basic', 'nope', 'x');
SELECT kv.get('basic', 'a'), kv.exists('basic', 'nope');

-- consume: atomic get-and-delete
SELECT kv.consume('basic', 'a');
SELECT kv.consume('basic', 'a') IS NULL AS consumed_once;

-- incr / decr
SELECT kv.incr('basic', 'n');
SELECT kv.incr('basic', 'n', 41);
SELECT kv.decr('basic', 'n');
SELECT kv.decr('basic', 'n', 100);
SELECT kv.get('basic', 'n');
SELECT kv.set('basic', 'n', '10');
SELECT kv.incr('basic', 'n', -3);
SELECT kv.incr_float('basic', 'f', 1.5);
SELECT kv.incr_float('basic', 'f', 0.25);
SELECT kv.get('basic', 'f');

-- append
SELECT kv.append('basic', 'log', 'abc');
SELECT kv.append('basic', 'log', 'def');
SELECT kv.get('basic', 'log');

-- ttl, expire, persist, expire_at
SELECT kv.set('basic', 't', 'v', interval '1 hour');
SELECT kv.ttl('basic', 't') BETWEEN interval '59 min' AND interval '1 hour 1 ms' AS ttl_ok;
SELECT kv.expires_at('basic', 't') BETWEEN now() + interval '59 min' AND now() + interval '61 min' AS at_ok;
SELECT kv.persist('basic', 't');
SELECT kv.persist('basic', 't');
SELECT kv.ttl('basic', 't') IS NULL AS no_ttl;
SELECT kv.expire('basic', 't', interval '2 days');
SELECT kv.ttl('basic', 't') > interval '47 hours' AS ttl_days;
SELECT kv.expire('basic', 'missing', interval '1 min');
SELECT kv.ttl('basic', 'missing') IS NULL AS missing_ttl;
SELECT kv.expire_at('basic', 't', now() - interval '1 s');
SELECT kv.exists('basic', 't') AS exists_after_past_expiry;
-- a TTL of zero or less deletes, as Redis's EXPIRE does (kv.set refuses it)
SELECT kv.set('basic', 'z', 'v'), kv.set('basic', 'n', 'v');
SELECT kv.expire('basic', 'z', interval '0') AS zero_ttl, kv.exists('basic', 'z') AS z_exists;
SELECT kv.expire('basic', 'n', interval '-5 s') AS negative_ttl, kv.exists('basic', 'n') AS n_exists;
SELECT kv.expire('basic', 'n', interval '-5 s') AS missing_after;
-- a TTL that passes makes the key invisible at once
SELECT kv.set('basic', 'short', 'v', interval '20 ms');
SELECT pg_sleep(0.1);
SELECT kv.get('basic', 'short') IS NULL AS expired, kv.exists('basic', 'short');

-- NULL handling: reads are strict, writes reject NULL namespace or key,
-- a NULL value is stored as SQL NULL
SELECT kv.get(NULL, 'k') IS NULL, kv.get('basic', NULL) IS NULL, kv.exists('basic', NULL) IS NULL;
SELECT kv.set('basic', NULL, 'v');
SELECT kv.set(NULL, 'k', 'v');
SELECT kv.incr('basic', 'n', NULL);
SELECT kv.set('basic', 'nullval', NULL::text);
SELECT kv.exists('basic', 'nullval'), kv.get('basic', 'nullval') IS NULL AS value_is_null;
SELECT kv.set('basic', 'nullttl', 'v', NULL);
SELECT kv.ttl('basic', 'nullttl') IS NULL AS default_ttl_none;

-- writes are not transactional: ROLLBACK does not undo them
BEGIN;
SELECT kv.set('basic', 'tx', 'kept');
SELECT kv.incr('basic', 'txn');
ROLLBACK;
SELECT kv.get('basic', 'tx'), kv.get('basic', 'txn');

-- every session sees the same store (a second connection)
\c
SELECT kv.get('basic', 'tx') AS seen_from_new_session;

-- statement_timeout (and cancel) interrupt a long run of kv calls between
-- engine calls; no engine lock is left behind
SET statement_timeout = '200ms';
SELECT count(kv.incr('basic', 'spin')) FROM (SELECT generate_series(1, 1000000000)) AS lazy;
RESET statement_timeout;
SELECT kv.incr('basic', 'spin') > 1 AS store_still_usable;

SELECT kv.drop_namespace('basic');
