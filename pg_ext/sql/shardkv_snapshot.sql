-- snapshots from SQL: kv.save / kv.load, paths confined to shardkv.snapshot_dir
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS shardkv;
SELECT kv.drop_namespace(n, if_exists => true) FROM unnest(ARRAY['snap', 'snap_copy', 'snap_small']) n;
RESET client_min_messages;

CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE q;
	RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

SELECT kv.create_namespace('snap', shards => 8, max_keys => 1000, default_ttl => interval '2 hours');
SELECT kv.set('snap', 'text', 'grüße');
SELECT kv.set('snap', 'bytes', '\x00ff'::bytea);
SELECT kv.set('snap', 'json', '{"a": [1, 2]}'::jsonb);
SELECT kv.incr('snap', 'int', 42);
SELECT kv.set('snap', 'null', NULL::text);
SELECT kv.set('snap', 'forever', 'v', NULL);
SELECT kv.persist('snap', 'forever');
SELECT count(kv.set('snap', 'k' || i, repeat('x', i))) FROM generate_series(1, 300) i;

-- save one namespace, change it, load it back
SELECT kv.save('snap', 'snap_test.snap');
SELECT kv.flush('snap');
SELECT kv.set('snap', 'added_later', 'x');
SELECT kv.load('snap', 'snap_test.snap');
SELECT kv.get('snap', 'text'), kv.get_bytea('snap', 'bytes'), kv.get_jsonb('snap', 'json'),
       kv.incr('snap', 'int'), kv.exists('snap', 'null'), kv.get('snap', 'null') IS NULL AS null_value;
SELECT kv.ttl('snap', 'text') BETWEEN interval '1 hour 59 min' AND interval '2 hours 1 ms' AS ttl_kept,
       kv.ttl('snap', 'forever') IS NULL AS no_ttl_kept;
SELECT kv.exists('snap', 'added_later') AS replaced_not_merged;
SELECT count(*) FROM kv.keys('snap');
SELECT count(*) FILTER (WHERE kv.get('snap', 'k' || i) = repeat('x', i)) FROM generate_series(1, 300) i;

-- load under another name: created with the file's configuration
SELECT kv.load('snap', 'snap_test.snap', into_ns => 'snap_copy');
SELECT name, shards, max_keys, default_ttl, keys FROM kv.namespaces() WHERE name = 'snap_copy';
SELECT kv.get('snap_copy', 'text');

-- a live namespace with a smaller limit refuses the load and keeps its keys
SELECT kv.create_namespace('snap_small', max_keys => 10);
SELECT kv.set('snap_small', 'mine', 'kept');
SELECT pg_temp.err($$SELECT kv.load('snap', 'snap_test.snap', into_ns => 'snap_small')$$) AS too_big;
SELECT kv.get('snap_small', 'mine'), (SELECT keys FROM kv.namespaces() WHERE name = 'snap_small');

-- save everything to the configured file
SELECT kv.save();
SELECT last_save > now() - interval '1 minute' AS saved_now, dirty FROM kv.stats();

-- paths stay inside shardkv.snapshot_dir
SELECT pg_temp.err($$SELECT kv.save('snap', '../escape.snap')$$) AS dotdot;
SELECT pg_temp.err($$SELECT kv.save('snap', 'a/../../escape.snap')$$) AS dotdot_inside;
SELECT pg_temp.err($$SELECT kv.save('snap', '/tmp/escape.snap')$$) AS absolute_outside;
SELECT pg_temp.err($$SELECT kv.load('snap', '/etc/passwd')$$) AS absolute_load;
SELECT pg_temp.err($$SELECT kv.save('snap', '')$$) AS empty;
SELECT kv.save('snap', current_setting('data_directory') || '/pg_shardkv/absolute_inside.snap');
SELECT kv.load('snap', current_setting('data_directory') || '/pg_shardkv/absolute_inside.snap');

-- files that are missing, not snapshots, or truncated are refused; nothing changes
SELECT pg_temp.err($$SELECT kv.load('snap', 'no_such_file.snap')$$) AS missing;
DO $$ BEGIN
	EXECUTE format('COPY (SELECT ''not a snapshot'') TO %L',
	               current_setting('data_directory') || '/pg_shardkv/garbage.snap');
END $$;
SELECT pg_temp.err($$SELECT kv.load('snap', 'garbage.snap')$$) AS garbage;
-- truncated and bit-flipped copies of a good file (written with lo_export)
CREATE TEMP TABLE snapfile AS
	SELECT pg_read_binary_file(current_setting('data_directory') || '/pg_shardkv/snap_test.snap') AS b;
SELECT length(b) > 1000 AS file_is_big FROM snapfile;
CREATE TEMP TABLE los AS
	SELECT lo_from_bytea(0, substr(b, 1, length(b) / 2)) AS half,
	       lo_from_bytea(0, set_byte(b, length(b) / 2, get_byte(b, length(b) / 2) # 1)) AS flipped
	FROM snapfile;
SELECT lo_export(half, current_setting('data_directory') || '/pg_shardkv/half.snap'),
       lo_export(flipped, current_setting('data_directory') || '/pg_shardkv/flipped.snap')
FROM los;
SELECT lo_unlink(half), lo_unlink(flipped) FROM los;
SELECT pg_temp.err($$SELECT kv.load('snap', 'half.snap')$$) AS truncated;
SELECT pg_temp.err($$SELECT kv.load('snap', 'flipped.snap')$$) AS bit_flipped;
SELECT kv.get('snap', 'text') AS unchanged_after_failed_loads;
SELECT pg_temp.err($$SELECT kv.load('nosuch', 'snap_test.snap')$$) AS ns_not_in_file;
SELECT pg_temp.err($$SELECT kv.load(NULL, 'snap_test.snap', into_ns => 'x')$$) AS into_needs_ns;
SELECT pg_temp.err($$SELECT kv.save('nosuch', 'x.snap')$$) AS save_missing_ns;
-- one namespace never goes to the default file (it holds them all)
SELECT kv.save('snap');

SELECT kv.drop_namespace(n) FROM unnest(ARRAY['snap', 'snap_copy', 'snap_small']) n;
