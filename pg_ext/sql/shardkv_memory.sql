-- memory limits that must give way (issue 10): allkeys-lru with max_keys
-- evicts instead of refusing, also inside an all-or-nothing batch; a region
-- filled with small values and emptied takes one big value again
-- (fragmentation)
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS shardkv;
SELECT kv.drop_namespace(n, if_exists => true) FROM unnest(ARRAY['m_lru', 'm_fill', 'm_frag']) n;
RESET client_min_messages;

SELECT kv.create_namespace('m_lru', max_keys => 100, eviction => 'allkeys-lru');
SELECT count(kv.set('m_lru', 'k' || i, 'v')) FROM generate_series(1, 250) i;
SELECT count(*) AS keys_after_250_sets FROM kv.keys('m_lru');
SELECT count(*) FROM kv.mset('m_lru', ARRAY(SELECT 'n' || g FROM generate_series(1, 60) g),
    ARRAY(SELECT 'v' FROM generate_series(1, 60)));
SELECT count(*) AS keys, count(*) FILTER (WHERE k LIKE 'n%') AS batch_keys FROM kv.keys('m_lru') k;
SELECT evicted >= 210 AS evicted FROM kv.namespaces() WHERE name = 'm_lru';

SELECT kv.drop_namespace('m_lru');

-- fragmentation: the 64 MB region (tests/suite-pg.sh) filled with 40000 x 1 kB
-- values, emptied by dropping the namespace, then one 45 MB value
SELECT region_size AS region FROM kv.stats();
SELECT kv.create_namespace('m_fill');
SELECT count(kv.set('m_fill', 'k' || i, repeat('x', 1000))) FROM generate_series(1, 40000) i;
SELECT region_used > 40000 * 1000 AS filled FROM kv.stats();
SELECT kv.drop_namespace('m_fill');
SELECT region_used < 8 * 1024 * 1024 AS emptied FROM kv.stats();
SELECT kv.create_namespace('m_frag');
SELECT kv.set('m_frag', 'big', repeat('y', 45000000));
SELECT kv.strlen('m_frag', 'big');
SELECT region_used < 56 * 1024 * 1024 AS fits FROM kv.stats();
SELECT kv.drop_namespace('m_frag');
