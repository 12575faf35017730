-- pgTAP: the kv schema's shape, and behaviour through it
BEGIN;
SELECT plan(40);

SELECT has_schema('kv');
SELECT has_extension('shardkv');
SELECT has_function('kv', 'get', ARRAY['text', 'text']);
SELECT has_function('kv', 'get_bytea', ARRAY['text', 'text']);
SELECT has_function('kv', 'get_jsonb', ARRAY['text', 'text']);
SELECT has_function('kv', 'set', ARRAY['text', 'text', 'text', 'interval']);
SELECT has_function('kv', 'set', ARRAY['text', 'text', 'bytea', 'interval']);
SELECT has_function('kv', 'set', ARRAY['text', 'text', 'jsonb', 'interval']);
SELECT function_returns('kv', 'get', ARRAY['text', 'text'], 'text');
SELECT function_returns('kv', 'get_bytea', ARRAY['text', 'text'], 'bytea');
SELECT function_returns('kv', 'get_jsonb', ARRAY['text', 'text'], 'jsonb');
SELECT function_returns('kv', 'incr', ARRAY['text', 'text', 'bigint'], 'bigint');
SELECT function_returns('kv', 'exists', ARRAY['text', 'text'], 'boolean');
SELECT function_returns('kv', 'ttl', ARRAY['text', 'text'], 'interval');
SELECT is_strict('kv', 'get', ARRAY['text', 'text']);
SELECT isnt_strict('kv', 'set', ARRAY['text', 'text', 'text', 'interval']);
SELECT volatility_is('kv', 'get', ARRAY['text', 'text'], 'volatile');
SELECT is(
    (SELECT count(*)::int FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE n.nspname = 'kv' AND has_function_privilege('public', p.oid, 'EXECUTE')),
    0, 'no kv function is executable by PUBLIC');
SELECT ok(EXISTS (SELECT 1 FROM pg_foreign_data_wrapper WHERE fdwname = 'shardkv_fdw'), 'shardkv_fdw exists');

SELECT lives_ok($$SELECT kv.drop_namespace('tap', if_exists => true)$$, 'drop if exists');
SELECT lives_ok($$SELECT kv.create_namespace('tap', max_keys => 3, max_value_size => 10)$$, 'create');
SELECT is(kv.get('tap', 'k'), NULL, 'missing key reads NULL');
SELECT lives_ok($$SELECT kv.set('tap', 'k', 'v')$$, 'set');
SELECT is(kv.get('tap', 'k'), 'v', 'get what was set');
SELECT ok(kv.exists('tap', 'k'), 'exists');
SELECT is(kv.add('tap', 'k', 'w'), false, 'add refuses an existing key');
SELECT is(kv.replace('tap', 'nope', 'w'), false, 'replace refuses a missing key');
SELECT is(kv.incr('tap', 'c', 5), 5::bigint, 'incr from missing');
SELECT is(kv.decr('tap', 'c', 2), 3::bigint, 'decr');
SELECT throws_ok($$SELECT kv.incr('tap', 'k')$$, '22P02', 'value is not an integer or out of range', 'incr of text');
SELECT throws_ok($$SELECT kv.set('tap', k, 'v') FROM unnest(ARRAY['k3', 'k4']) k$$, '53400', NULL, 'max_keys');
SELECT throws_ok($$SELECT kv.set('tap', 'k', 'elevenchars')$$, '54000', NULL, 'value too long');
SELECT throws_ok($$SELECT kv.get('no_such_ns', 'k')$$, '42704', NULL, 'unknown namespace');
SELECT throws_ok($$SELECT kv.create_namespace('tap')$$, '42710', NULL, 'duplicate namespace');
SELECT results_eq(
    $$SELECT key, value FROM kv.mget('tap', ARRAY['k', 'missing', 'c'])$$,
    $$VALUES ('k'::text, 'v'::text), ('missing', NULL), ('c', '3')$$,
    'mget returns input order with NULL for missing keys');
SELECT is(kv.consume('tap', 'k'), 'v', 'consume returns the value');
SELECT ok(NOT kv.exists('tap', 'k'), 'consume deleted the key');
SELECT is(kv.set('tap', 'j', '{"a": 1}'::jsonb)::text, '', 'set jsonb');
SELECT is(kv.get_jsonb('tap', 'j'), '{"a": 1}'::jsonb, 'jsonb round trip');
SELECT lives_ok($$SELECT kv.drop_namespace('tap')$$, 'drop');

SELECT * FROM finish();
ROLLBACK;
