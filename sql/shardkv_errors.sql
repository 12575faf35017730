-- every error: SQLSTATE and message
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS shardkv;
SELECT kv.drop_namespace('errs', if_exists => true);
SELECT kv.drop_namespace('errs_small', if_exists => true);
SELECT kv.drop_namespace('errs_mem', if_exists => true);
SELECT kv.drop_namespace('errs_oom', if_exists => true);
RESET client_min_messages;

CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE q;
	RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

SELECT kv.create_namespace('errs');
SELECT kv.create_namespace('errs_small', max_keys => 2, max_key_size => 8, max_value_size => 16);

-- full messages (detail and hint) for the common ones
SELECT kv.get('nosuch', 'k');
SELECT kv.create_namespace('errs');
SELECT kv.create_namespace('bad name!');
SELECT kv.set('errs_small', 'k', repeat('v', 17));
SELECT kv.set('errs_small', 'much-too-long-key', 'v');
SELECT kv.set('errs', 'word', 'abc');
SELECT kv.incr('errs', 'word');

-- SQLSTATEs, one per engine code
SELECT pg_temp.err($$SELECT kv.set('nosuch', 'k', 'v')$$) AS no_namespace;
SELECT pg_temp.err($$SELECT kv.create_namespace('errs')$$) AS namespace_exists;
SELECT pg_temp.err($$SELECT kv.create_namespace('')$$) AS empty_name;
SELECT pg_temp.err($$SELECT kv.create_namespace(repeat('n', 64))$$) AS long_name;
SELECT pg_temp.err($$SELECT kv.get(repeat('n', 64), 'k')$$) AS long_name_get;
-- the empty key is a key, as in Redis
SELECT pg_temp.err($$SELECT kv.set('errs', '', 'v')$$) AS empty_key, kv.get('errs', '') AS empty_key_value;
SELECT pg_temp.err($$SELECT kv.set('errs_small', '123456789', 'v')$$) AS key_too_long;
SELECT pg_temp.err($$SELECT kv.set('errs_small', 'k', repeat('v', 17))$$) AS value_too_long;
SELECT pg_temp.err($$SELECT kv.append('errs_small', 'k', repeat('v', 17))$$) AS append_too_long;
SELECT kv.set('errs_small', 'k1', 'v'), kv.set('errs_small', 'k2', 'v');
SELECT pg_temp.err($$SELECT kv.set('errs_small', 'k3', 'v')$$) AS over_max_keys;
SELECT kv.set('errs_small', 'k1', 'overwrite ok');
SELECT kv.create_namespace('errs_mem', max_memory => 65536);
SELECT pg_temp.err($$SELECT count(kv.set('errs_mem', 'k' || i, repeat('x', 100))) FROM generate_series(1, 100000) i$$) AS over_max_memory;
SELECT keys BETWEEN 10 AND 1000 AS some_keys_fit, bytes <= 65536 AS within_limit FROM kv.namespaces() WHERE name = 'errs_mem';
SELECT kv.drop_namespace('errs_mem');
-- the whole store full (shardkv.memory is 64MB in the test cluster)
SELECT kv.create_namespace('errs_oom');
SELECT pg_temp.err($$SELECT count(kv.set('errs_oom', 'k' || i, repeat('x', 1000000))) FROM generate_series(1, 200) i$$) AS store_full;
SELECT kv.drop_namespace('errs_oom');
SELECT kv.create_namespace('errs_oom');
SELECT kv.set('errs_oom', 'after', repeat('x', 1000000));
SELECT length(kv.get('errs_oom', 'after')) AS memory_is_back;
SELECT kv.drop_namespace('errs_oom');
SELECT pg_temp.err($$SELECT kv.incr('errs', 'word')$$) AS not_integer;
SELECT kv.set('errs', 'big', '9223372036854775807');
SELECT pg_temp.err($$SELECT kv.incr('errs', 'big')$$) AS overflow;
SELECT pg_temp.err($$SELECT kv.decr('errs', 'x', -9223372036854775808)$$) AS decr_overflow;
SELECT pg_temp.err($$SELECT kv.incr_float('errs', 'word', 1)$$) AS not_float;
SELECT pg_temp.err($$SELECT kv.resize('errs', 2)$$) AS shards_lower;
SELECT pg_temp.err($$SELECT kv.resize('errs', 100000)$$) AS shards_too_many;
SELECT pg_temp.err($$SELECT kv.create_namespace('errs2', shards => 5000)$$) AS create_shards;
SELECT pg_temp.err($$SELECT kv.create_namespace('errs2', max_keys => -1)$$) AS negative_limit;
SELECT pg_temp.err($$SELECT kv.create_namespace('errs2', eviction => 'lru')$$) AS bad_eviction;
SELECT pg_temp.err($$SELECT kv.set('errs', 'k', 'v', interval '-1 s')$$) AS negative_ttl;
SELECT pg_temp.err($$SELECT kv.set('errs', 'k', 'v', interval '0')$$) AS zero_ttl;
SELECT pg_temp.err($$SELECT kv.expire('errs', 'k', NULL)$$) AS null_ttl;
SELECT pg_temp.err($$SELECT kv.expire_at('errs', 'k', 'infinity')$$) AS infinite_expiry;
SELECT pg_temp.err($$SELECT kv.drop_namespace('nosuch')$$) AS drop_missing;
SELECT kv.drop_namespace('nosuch', if_exists => true);
SELECT kv.create_namespace('errs', if_not_exists => true);
SELECT pg_temp.err($$SELECT kv.get('errs', 'word') || kv.get_jsonb('errs', 'word')::text$$) AS not_json;

-- a failed call changes nothing
SELECT kv.get('errs_small', 'k3') IS NULL AS not_written, kv.get('errs_small', 'k1');

SELECT kv.drop_namespace('errs');
SELECT kv.drop_namespace('errs_small');
-- handles follow the name: after a drop, calls fail cleanly
SELECT pg_temp.err($$SELECT kv.get('errs', 'word')$$) AS after_drop;
