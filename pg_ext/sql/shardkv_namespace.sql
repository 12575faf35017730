-- namespaces: create, inspect, alter, resize, flush, drop; store stats
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS shardkv;
SELECT kv.drop_namespace(n, if_exists => true) FROM unnest(ARRAY['ns_a', 'ns_b', 'ns:c.d-e_f']) n;
RESET client_min_messages;

SELECT kv.create_namespace('ns_a');
SELECT kv.create_namespace('ns_b', shards => 4, max_keys => 1000, max_memory => 10000000,
                           default_ttl => interval '1 hour', eviction => 'allkeys-lru',
                           max_key_size => 100, max_value_size => 4096);
SELECT kv.create_namespace('ns:c.d-e_f');
SELECT name, shards, max_keys, max_memory, default_ttl, eviction, max_key_size, max_value_size, keys
FROM kv.namespaces() WHERE name IN ('ns_a', 'ns_b', 'ns:c.d-e_f') ORDER BY name;

-- the default TTL applies to writes without a ttl
SELECT kv.set('ns_b', 'k', 'v');
SELECT kv.ttl('ns_b', 'k') BETWEEN interval '59 min' AND interval '1 hour 1 ms' AS default_ttl_applied;
SELECT kv.set('ns_b', 'k2', 'v', interval '5 min');
SELECT kv.ttl('ns_b', 'k2') <= interval '5 min 1 ms' AS explicit_ttl_wins;

-- alter: NULL leaves a setting alone
SELECT kv.alter_namespace('ns_b', max_keys => 5, eviction => 'noeviction');
SELECT max_keys, max_memory, eviction, default_ttl FROM kv.namespaces() WHERE name = 'ns_b';
-- policy names are the engine's: canonical 'none', Redis's 'noeviction', any case
SELECT kv.alter_namespace('ns_b', eviction => 'Volatile-TTL');
SELECT eviction FROM kv.namespaces() WHERE name = 'ns_b';
SELECT kv.alter_namespace('ns_b', eviction => 'none');
SELECT kv.alter_namespace('ns_b', eviction => 'lru');
SELECT eviction FROM kv.namespaces() WHERE name = 'ns_b';
-- a positive default_ttl under 1 ms is 1 ms (the engine counts in ms), not "none"
SELECT kv.alter_namespace('ns_b', default_ttl => interval '0.4 ms');
SELECT default_ttl FROM kv.namespaces() WHERE name = 'ns_b';
SELECT kv.alter_namespace('ns_b', default_ttl => interval '0');
SELECT default_ttl FROM kv.namespaces() WHERE name = 'ns_b';

-- resize keeps every key
SELECT count(kv.set('ns_a', 'key:' || i, 'v' || i)) FROM generate_series(1, 500) i;
SELECT shards, keys FROM kv.namespaces() WHERE name = 'ns_a';
SELECT kv.resize('ns_a', 64);
SELECT shards, keys FROM kv.namespaces() WHERE name = 'ns_a';
SELECT count(*) FILTER (WHERE kv.get('ns_a', 'key:' || i) = 'v' || i) AS all_found
FROM generate_series(1, 500) i;

-- stats count hits and misses
SELECT kv.get('ns:c.d-e_f', 'nope') IS NULL;
SELECT kv.set('ns:c.d-e_f', 'x', '1');
SELECT kv.get('ns:c.d-e_f', 'x');
SELECT hits >= 1 AS hits, misses >= 1 AS misses, bytes > 0 AS bytes FROM kv.namespaces() WHERE name = 'ns:c.d-e_f';

-- flush
SELECT kv.flush('ns_a');
SELECT keys FROM kv.namespaces() WHERE name = 'ns_a';
SELECT kv.get('ns_a', 'key:1') IS NULL AS flushed;

-- the store
SELECT region_size > 0 AS region, region_used > 0 AS used, namespaces >= 3 AS namespaces,
       max_namespaces, worker_pid IS NOT NULL AS worker_running
FROM kv.stats();

-- drop and re-create: old handles follow the name
SELECT kv.drop_namespace('ns_b');
SELECT kv.create_namespace('ns_b');
SELECT kv.get('ns_b', 'k') IS NULL AS fresh;
SELECT count(*) FROM kv.namespaces() WHERE name = 'ns_b';

SELECT kv.drop_namespace(n) FROM unnest(ARRAY['ns_a', 'ns_b', 'ns:c.d-e_f']) n;
SELECT count(*) FROM kv.namespaces() WHERE name IN ('ns_a', 'ns_b', 'ns:c.d-e_f');
