-- hashes, sets, sorted sets, lists and kv.type: every function, Redis's semantics,
-- WRONGTYPE, empty collections deleted, zrange order, NULL handling, labels
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS shardkv;
SELECT kv.drop_namespace('coll', if_exists => true);
RESET client_min_messages;
SELECT kv.create_namespace('coll');

CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE q;
	RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

------------------------------------------------------------------------ hashes
SELECT kv.hset('coll', 'h', 'name', 'Ada') AS added;
SELECT kv.hset('coll', 'h', 'name', 'Ada Lovelace') AS added_again;   -- 0: replaced
SELECT kv.hset('coll', 'h', ARRAY['born', 'lang', 'born'], ARRAY['1815', 'en', '1816']) AS added;
SELECT kv.hset('coll', 'h', '{"age": 36, "tags": ["math", "poetry"], "ok": true, "q": "\"x\""}'::jsonb) AS added;
SELECT kv.hset('coll', 'h', 'raw', '\x00ff'::bytea) AS added;
SELECT kv.hget('coll', 'h', 'name'), kv.hget('coll', 'h', 'born') AS last_wins,
       kv.hget('coll', 'h', 'age'), kv.hget('coll', 'h', 'tags'), kv.hget('coll', 'h', 'q');
SELECT kv.hget('coll', 'h', 'nope') IS NULL AS missing_field,
       kv.hget('coll', 'nokey', 'name') IS NULL AS missing_key;
SELECT kv.hget_bytea('coll', 'h', 'raw'), kv.hget_bytea('coll', 'h', 'lang');
SELECT pg_temp.err($$SELECT kv.hget('coll', 'h', 'raw')$$) AS binary_as_text;
SELECT * FROM kv.hgetall('coll', 'h') ORDER BY field;
SELECT field, value FROM kv.hgetall_bytea('coll', 'h') WHERE field IN ('raw', 'ok') ORDER BY field;
SELECT kv.hgetall_jsonb('coll', 'h') - 'raw' AS obj;
SELECT kv.hgetall_jsonb('coll', 'h') ->> 'raw' AS raw_hex;
SELECT kv.hgetall_jsonb('coll', 'nokey') AS empty_obj, count(*) AS no_rows FROM kv.hgetall('coll', 'nokey');
SELECT kv.hexists('coll', 'h', 'name'), kv.hexists('coll', 'h', 'nope'), kv.hexists('coll', 'nokey', 'x');
SELECT kv.hlen('coll', 'h'), kv.hlen('coll', 'nokey');
SELECT kv.hincr('coll', 'h', 'visits'), kv.hincr('coll', 'h', 'visits', 41), kv.hincr('coll', 'h', 'visits', -2);
SELECT kv.hincr_float('coll', 'h', 'score', 0.1), kv.hincr_float('coll', 'h', 'score', 0.2);
SELECT kv.hget('coll', 'h', 'score');
SELECT pg_temp.err($$SELECT kv.hincr('coll', 'h', 'name')$$);
SELECT pg_temp.err($$SELECT kv.hincr('coll', 'h', 'visits', 9223372036854775807)$$);
SELECT pg_temp.err($$SELECT kv.hincr_float('coll', 'h', 'name', 1)$$);
SELECT kv.hdel('coll', 'h', 'visits', 'nope', 'score') AS removed;
SELECT kv.hdel('coll', 'h', VARIADIC ARRAY[]::text[]) AS removed_none;
-- NULLs: reads are STRICT, writes refuse them
SELECT kv.hget('coll', 'h', NULL) IS NULL AS strict_read;
SELECT pg_temp.err($$SELECT kv.hset('coll', 'h', NULL, 'v')$$);
SELECT pg_temp.err($$SELECT kv.hset('coll', 'h', 'f', NULL::text)$$);
SELECT pg_temp.err($$SELECT kv.hset('coll', NULL, 'f', 'v')$$);
SELECT pg_temp.err($$SELECT kv.hset('coll', 'h', '{"a": null}'::jsonb)$$);
SELECT pg_temp.err($$SELECT kv.hset('coll', 'h', '[1]'::jsonb)$$);
SELECT pg_temp.err($$SELECT kv.hset('coll', 'h', '{}'::jsonb)$$);
SELECT pg_temp.err($$SELECT kv.hset('coll', 'h', ARRAY['a'], ARRAY['1', '2'])$$);
SELECT pg_temp.err($$SELECT kv.hset('coll', 'h', ARRAY['a', NULL], ARRAY['1', '2'])$$);
SELECT pg_temp.err($$SELECT kv.hdel('coll', 'h', NULL)$$);
-- the last field deleted deletes the key
SELECT kv.hset('coll', 'h2', 'only', '1');
SELECT kv.hdel('coll', 'h2', 'only'), kv.exists('coll', 'h2'), kv.type('coll', 'h2') IS NULL AS gone;

-------------------------------------------------------------------------- sets
SELECT kv.sadd('coll', 's', 'a', 'b', 'c', 'a') AS added;
SELECT kv.sadd('coll', 's', 'c', 'd') AS added;
SELECT kv.sadd('coll', 's', VARIADIC ARRAY['e', 'f']) AS added;
SELECT m FROM kv.smembers('coll', 's') AS m ORDER BY m;
SELECT kv.sismember('coll', 's', 'a'), kv.sismember('coll', 's', 'z'), kv.sismember('coll', 'nokey', 'a');
SELECT kv.scard('coll', 's'), kv.scard('coll', 'nokey');
SELECT kv.srem('coll', 's', 'a', 'z', 'b') AS removed;
SELECT count(*) FROM kv.smembers('coll', 'nokey');
SELECT pg_temp.err($$SELECT kv.sadd('coll', 's', VARIADIC ARRAY[]::text[])$$);
SELECT pg_temp.err($$SELECT kv.sadd('coll', 's', 'x', NULL)$$);
SELECT kv.srem('coll', 's', 'c', 'd', 'e', 'f') AS removed_all, kv.exists('coll', 's') AS still_there;

------------------------------------------------------------------- sorted sets
SELECT kv.zadd('coll', 'z', 'alice', 10) AS added;
SELECT kv.zadd('coll', 'z', ARRAY['bob', 'carol', 'dave', 'eve'], ARRAY[20, 20, 5, -1.5]::float8[]) AS added;
SELECT kv.zadd('coll', 'z', 'alice', 11) AS added_again;               -- 0: updated
SELECT kv.zadd('coll', 'z', 'alice', 12, 'ch') AS changed;              -- 1
SELECT kv.zadd('coll', 'z', 'alice', 1, 'gt ch') AS gt_refused;         -- 0: lower
SELECT kv.zadd('coll', 'z', 'alice', 13, 'GT,CH') AS gt_applied;        -- 1
SELECT kv.zadd('coll', 'z', 'zed', 1, 'xx') AS xx_no_new;               -- 0
SELECT kv.zadd('coll', 'z', 'alice', 99, 'nx') AS nx_no_update;         -- 0
SELECT kv.zadd('coll', 'z', 'frank', 'infinity'::float8) AS added_inf;
SELECT kv.zscore('coll', 'z', 'alice'), kv.zscore('coll', 'z', 'zed') IS NULL AS missing,
       kv.zscore('coll', 'z', 'frank');
SELECT pg_temp.err($$SELECT kv.zadd('coll', 'z', 'x', 1, 'nx xx')$$);
SELECT pg_temp.err($$SELECT kv.zadd('coll', 'z', 'x', 1, 'nx gt')$$);
SELECT pg_temp.err($$SELECT kv.zadd('coll', 'z', 'x', 1, 'gt lt')$$);
SELECT pg_temp.err($$SELECT kv.zadd('coll', 'z', 'x', 1, 'incr')$$);
SELECT pg_temp.err($$SELECT kv.zadd('coll', 'z', 'x', 'NaN'::float8)$$);
SELECT pg_temp.err($$SELECT kv.zadd('coll', 'z', 'x', NULL::float8)$$);
SELECT pg_temp.err($$SELECT kv.zadd('coll', 'z', ARRAY['x'], ARRAY[1, 2]::float8[])$$);
SELECT kv.zincr('coll', 'z', 'dave', 2.5), kv.zincr('coll', 'z', 'new', -3);
SELECT pg_temp.err($$SELECT kv.zincr('coll', 'z', 'frank', '-infinity'::float8)$$);
SELECT kv.zscore('coll', 'z', 'frank') AS unchanged;
-- order: score, then member bytes
SELECT * FROM kv.zrange('coll', 'z');
SELECT * FROM kv.zrange('coll', 'z', 0, 2);
SELECT * FROM kv.zrange('coll', 'z', -2, -1);
SELECT * FROM kv.zrange('coll', 'z', 0, 2, reverse => true);
SELECT * FROM kv.zrange('coll', 'z', 5, 2);
SELECT kv.zrank('coll', 'z', 'eve'), kv.zrank('coll', 'z', 'bob'), kv.zrank('coll', 'z', 'carol'),
       kv.zrank('coll', 'z', 'eve', reverse => true), kv.zrank('coll', 'z', 'zed') IS NULL AS missing;
SELECT * FROM kv.zrangebyscore('coll', 'z', 5, 20);
SELECT * FROM kv.zrangebyscore('coll', 'z', 5, 20, min_exclusive => true, max_exclusive => true);
SELECT * FROM kv.zrangebyscore('coll', 'z', 5, 20, reverse => true);
SELECT * FROM kv.zrangebyscore('coll', 'z', "offset" => 1, "limit" => 3);
SELECT * FROM kv.zrangebyscore('coll', 'z', 0, 'infinity', reverse => true, "limit" => 2);
SELECT count(*) FROM kv.zrangebyscore('coll', 'z', 30, 10);
SELECT pg_temp.err($$SELECT * FROM kv.zrangebyscore('coll', 'z', 'NaN', 1)$$);
SELECT pg_temp.err($$SELECT * FROM kv.zrangebyscore('coll', 'z', "offset" => -1)$$);
SELECT kv.zcard('coll', 'z'), kv.zcard('coll', 'nokey');
SELECT kv.zrem('coll', 'z', 'frank', 'zed', 'new') AS removed;
SELECT count(*) FROM kv.zrange('coll', 'nokey');

------------------------------------------------------------------------- lists
SELECT kv.rpush('coll', 'l', 'a', 'b', 'c') AS len;
SELECT kv.lpush('coll', 'l', 'x', 'y') AS len;                          -- y x a b c
SELECT v, n FROM kv.lrange('coll', 'l') WITH ORDINALITY AS t(v, n);
SELECT array_agg(v) FROM kv.lrange('coll', 'l', 1, -2) AS v;
SELECT array_agg(v) FROM kv.lrange('coll', 'l', -100, 100) AS v;
SELECT count(*) FROM kv.lrange('coll', 'l', 3, 1);
SELECT kv.llen('coll', 'l'), kv.llen('coll', 'nokey');
SELECT kv.lpop('coll', 'l'), kv.rpop('coll', 'l');
SELECT kv.lpop('coll', 'l', 2);
SELECT kv.rpop('coll', 'l', 0);
SELECT kv.rpop('coll', 'l', 5);                                          -- the last one
SELECT kv.lpop('coll', 'l') IS NULL AS empty, kv.exists('coll', 'l') AS exists,
       count(*) AS no_rows FROM kv.lpop('coll', 'l', 3);
SELECT pg_temp.err($$SELECT kv.lpop('coll', 'l', -1)$$);
SELECT pg_temp.err($$SELECT kv.rpush('coll', 'l', VARIADIC ARRAY[]::text[])$$);
SELECT pg_temp.err($$SELECT kv.rpush('coll', 'l', 'a', NULL)$$);
-- a queue
SELECT kv.rpush('coll', 'q', 'job1', 'job2');
SELECT kv.lpop('coll', 'q'), kv.llen('coll', 'q');

---------------------------------------------------------------- kinds, WRONGTYPE
SELECT kv.set('coll', 'str', 'v');
SELECT kv.hset('coll', 'h3', 'f', 'v'), kv.sadd('coll', 's3', 'm'), kv.zadd('coll', 'z3', 'm', 1),
       kv.rpush('coll', 'l3', 'e');
SELECT k, kv.type('coll', k) FROM unnest(ARRAY['str', 'h3', 's3', 'z3', 'l3', 'nokey']) AS k;
SELECT pg_temp.err($$SELECT kv.hset('coll', 'str', 'f', 'v')$$);
SELECT pg_temp.err($$SELECT kv.hget('coll', 's3', 'f')$$);
SELECT pg_temp.err($$SELECT * FROM kv.hgetall('coll', 'z3')$$);
SELECT pg_temp.err($$SELECT kv.sadd('coll', 'h3', 'm')$$);
SELECT pg_temp.err($$SELECT kv.sismember('coll', 'l3', 'm')$$);
SELECT pg_temp.err($$SELECT kv.zadd('coll', 's3', 'm', 1)$$);
SELECT pg_temp.err($$SELECT * FROM kv.zrange('coll', 'h3')$$);
SELECT pg_temp.err($$SELECT kv.zscore('coll', 'l3', 'm')$$);
SELECT pg_temp.err($$SELECT kv.lpush('coll', 'z3', 'e')$$);
SELECT pg_temp.err($$SELECT kv.llen('coll', 'h3')$$);
SELECT pg_temp.err($$SELECT kv.rpop('coll', 'str')$$);
-- string functions on a collection: WRONGTYPE; SET replaces any kind, as in Redis
SELECT pg_temp.err($$SELECT kv.get('coll', 'h3')$$);
SELECT pg_temp.err($$SELECT kv.incr('coll', 'l3')$$);
SELECT pg_temp.err($$SELECT kv.append('coll', 's3', 'x')$$);
SELECT kv.set('coll', 'z3', 'now a string'), kv.type('coll', 'z3'), kv.get('coll', 'z3');
-- kv.mget reads NULL for a collection, as Redis MGET answers nil
SELECT * FROM kv.mget('coll', ARRAY['str', 'h3', 'l3', 'nokey']);
-- the error itself, with its hint
SELECT kv.sadd('coll', 'str', 'x');
-- a namespace with durability 'wal' logs every kind: hashes, sets, sorted sets, lists
SELECT kv.create_namespace('coll_wal', durability => 'wal');
SELECT kv.hset('coll_wal', 'h', 'f', 'v'), kv.sadd('coll_wal', 's', 'm'), kv.zadd('coll_wal', 'z', 'm', 1);
SELECT kv.rpush('coll_wal', 'l', 'x', 'y', 'z'), kv.lpush('coll_wal', 'l', 'w'), kv.rpop('coll_wal', 'l');
SELECT kv.hget('coll_wal', 'h', 'f'), kv.type('coll_wal', 'l'), array(SELECT kv.lrange('coll_wal', 'l')) AS list,
       kv.drop_namespace('coll_wal');
-- every kind expires, renames and deletes as a key
SELECT kv.expire('coll', 'h3', interval '1 hour'), kv.ttl('coll', 'h3') > interval '59 min' AS ttl;
SELECT kv.rename('coll', 'h3', 'h4'), kv.hget('coll', 'h4', 'f');
SELECT kv.delete('coll', 'l3'), kv.exists('coll', 'l3');

------------------------------------------------------ kv.scan and the FDW
SELECT key, value, type, expires_at IS NOT NULL AS expires
FROM kv.scan('coll') WHERE key IN ('str', 'h4', 's3', 'z', 'q') ORDER BY key;
CREATE SERVER coll_srv FOREIGN DATA WRAPPER shardkv_fdw;
CREATE FOREIGN TABLE coll_ft (key text, value text, expires_at timestamptz)
    SERVER coll_srv OPTIONS (namespace 'coll');
SELECT key, value, expires_at IS NOT NULL AS expires FROM coll_ft
WHERE key IN ('str', 'h4', 's3', 'q', 'nokey') ORDER BY key;
SELECT key, value FROM coll_ft WHERE key = 'h4';
SELECT key, value FROM coll_ft WHERE key = ANY (ARRAY['h4', 'str']) ORDER BY key;
SELECT count(*) FILTER (WHERE value IS NULL) AS null_values FROM coll_ft WHERE key IN ('h4', 's3', 'z', 'q');
-- UPDATE of the value replaces a collection, as Redis SET does; DELETE deletes it
UPDATE coll_ft SET value = 'replaced' WHERE key = 's3';
SELECT kv.type('coll', 's3'), kv.get('coll', 's3');
DELETE FROM coll_ft WHERE key = 'q';
SELECT kv.exists('coll', 'q');
DROP FOREIGN TABLE coll_ft;
DROP SERVER coll_srv;

--------------------------------------------------------- function labels
-- reads: STRICT and PARALLEL SAFE; writes: neither; every one VOLATILE
SELECT p.oid::regprocedure AS function, p.proisstrict AS strict, p.provolatile AS vol, p.proparallel AS par, p.proretset AS srf
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = 'kv' AND p.proname ~ '^(type|h|s(add|rem|members|ismember|card)|z|l(push|pop|range|len)|r(push|pop))'
ORDER BY 1::text;

SELECT kv.drop_namespace('coll');
