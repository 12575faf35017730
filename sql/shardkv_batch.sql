-- batches: mget, mset, mdelete, mexists; all-or-nothing and best-effort
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS shardkv;
SELECT kv.drop_namespace('batch', if_exists => true);
RESET client_min_messages;
SELECT kv.create_namespace('batch', max_keys => 10, max_value_size => 8);

-- mset, then mget in input order with NULL for missing keys (as MGET answers nil)
SELECT * FROM kv.mset('batch', ARRAY['a', 'b', 'c'], ARRAY['1', '2', '3']);
SELECT * FROM kv.mget('batch', ARRAY['c', 'missing', 'a', 'b', 'a']);
SELECT * FROM kv.mget('batch', ARRAY[]::text[]);
SELECT count(*) FROM kv.mget('batch', ARRAY(SELECT 'k' || i FROM generate_series(1, 1000) i));

-- typed reads
SELECT kv.set('batch', 'j', '[1, 2]'::jsonb);
SELECT * FROM kv.mget_jsonb('batch', ARRAY['j', 'a', 'missing']);
SELECT * FROM kv.mget_bytea('batch', ARRAY['a', 'j']);
SELECT kv.delete('batch', 'j');

-- all-or-nothing (the default): one bad item and nothing is applied
SELECT * FROM kv.mset('batch', ARRAY['a', 'b', 'c'], ARRAY['10', 'too long!', '30']);
SELECT * FROM kv.mget('batch', ARRAY['a', 'b', 'c']);
SELECT * FROM kv.mset('batch', ARRAY['a', repeat('k', 70000)], ARRAY['10', '20'], 'all_or_nothing');
SELECT * FROM kv.mget('batch', ARRAY['a']);

-- best-effort: each item on its own, with its status
SELECT * FROM kv.mset('batch', ARRAY['a', 'b', 'c'], ARRAY['10', 'too long!', '30'], 'best_effort');
SELECT * FROM kv.mget('batch', ARRAY['a', 'b', 'c']);
SELECT * FROM kv.mset('batch', ARRAY(SELECT 'n' || i FROM generate_series(1, 9) i),
                      ARRAY(SELECT i::text FROM generate_series(1, 9) i), 'best_effort')
WHERE status <> 'ok';

-- a TTL for the whole batch; NULL values are stored as SQL NULL
SELECT * FROM kv.mdelete('batch', ARRAY(SELECT 'n' || i FROM generate_series(1, 9) i)) WHERE status <> 'ok';
SELECT * FROM kv.mset('batch', ARRAY['t1', 't2'], ARRAY['x', NULL], ttl => interval '1 hour');
SELECT key, kv.ttl('batch', key) BETWEEN interval '59 min' AND interval '1 hour' AS ttl_ok,
       kv.exists('batch', key), value
FROM kv.mget('batch', ARRAY['t1', 't2']);

-- mexists and mdelete
SELECT * FROM kv.mexists('batch', ARRAY['a', 'nope', 'c']);
SELECT left(key, 5) AS key, "exists", status FROM kv.mexists('batch', ARRAY['a', '', repeat('k', 70000)], 'best_effort')
    ORDER BY length(key);
SELECT * FROM kv.mdelete('batch', ARRAY['a', 'nope']);
SELECT * FROM kv.mdelete('batch', ARRAY['c', 'nope'], 'best_effort');
SELECT * FROM kv.mexists('batch', ARRAY['a', 'b', 'c']);

-- argument errors
SELECT * FROM kv.mset('batch', ARRAY['a', 'b'], ARRAY['1']);
SELECT * FROM kv.mset('batch', ARRAY['a'], ARRAY['1'], 'sometimes');
SELECT * FROM kv.mget('batch', ARRAY['a', NULL]);
SELECT * FROM kv.mget('batch', NULL);
SELECT * FROM kv.mget('batch', ARRAY[['a', 'b'], ['c', 'd']]);
SELECT * FROM kv.mget('nosuch', ARRAY['a']);

SELECT kv.drop_namespace('batch');
