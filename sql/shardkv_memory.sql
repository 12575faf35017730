-- memory limits that must give way (issue 10): allkeys-lru with max_keys
-- evicts instead of refusing, also inside an all-or-nothing batch
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS shardkv;
SELECT kv.drop_namespace(n, if_exists => true) FROM unnest(ARRAY['m_lru', 'm_frag']) n;
RESET client_min_messages;

SELECT kv.create_namespace('m_lru', max_keys => 100, eviction => 'allkeys-lru');
SELECT count(kv.set('m_lru', 'k' || i, 'v')) FROM generate_series(1, 250) i;
SELECT count(*) AS keys_after_250_sets FROM kv.keys('m_lru');
SELECT count(*) FROM kv.mset('m_lru', ARRAY(SELECT 'n' || g FROM generate_series(1, 60) g),
    ARRAY(SELECT 'v' FROM generate_series(1, 60)));
SELECT count(*) AS keys, count(*) FILTER (WHERE k LIKE 'n%') AS batch_keys FROM kv.keys('m_lru') k;
SELECT evicted >= 210 AS evicted FROM kv.namespaces() WHERE name = 'm_lru';

SELECT kv.drop_namespace('m_lru');
