-- text, bytea and jsonb values: round trips and conversions between them
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS shardkv;
SELECT kv.drop_namespace('types', if_exists => true);
RESET client_min_messages;
SELECT kv.create_namespace('types');

-- text round trip, including non-ASCII and the empty string
SELECT kv.set('types', 't', 'grüße, 世界');
SELECT kv.get('types', 't'), kv.get('types', 't') = 'grüße, 世界' AS same;
SELECT kv.set('types', 'empty', '');
SELECT kv.get('types', 'empty') = '' AS empty_not_null;

-- bytea round trip, including NUL and high bytes
SELECT kv.set('types', 'b', '\x00ff10deadbeef'::bytea);
SELECT kv.get_bytea('types', 'b');
SELECT kv.get_bytea('types', 'b') = '\x00ff10deadbeef'::bytea AS same;

-- jsonb round trip
SELECT kv.set('types', 'j', '{"b": [1, 2.5, null], "a": "x"}'::jsonb);
SELECT kv.get_jsonb('types', 'j');
SELECT kv.get_jsonb('types', 'j') -> 'b' ->> 1 AS nested;
SELECT pg_typeof(kv.get_jsonb('types', 'j'));

-- conversions, as casts would do them
SELECT kv.get('types', 'j') AS json_as_text;
SELECT kv.get_bytea('types', 't') = convert_to('grüße, 世界', 'UTF8') AS text_as_bytea;
SELECT kv.get_jsonb('types', 'missing') IS NULL AS missing_jsonb;
SELECT kv.set('types', 'numtext', '42');
SELECT kv.get_jsonb('types', 'numtext') AS text_as_jsonb;
SELECT kv.incr('types', 'counter', 7);
SELECT kv.get('types', 'counter'), kv.get_jsonb('types', 'counter'), kv.get_bytea('types', 'counter');
SELECT kv.set('types', 'utf8bytes', convert_to('héllo', 'UTF8'));
SELECT kv.get('types', 'utf8bytes') AS valid_bytes_as_text;
-- failures: bytes that are not UTF-8 text, text that is not JSON
SELECT kv.get('types', 'b');
SELECT kv.get_jsonb('types', 't');

-- consume in each type
SELECT kv.consume_bytea('types', 'b');
SELECT kv.consume_jsonb('types', 'j');
SELECT kv.exists('types', 'b'), kv.exists('types', 'j');

-- add / replace / append overloads
SELECT kv.add('types', 'ab', '\x01'::bytea), kv.add('types', 'aj', '[1]'::jsonb);
SELECT kv.replace('types', 'ab', '\x0203'::bytea), kv.replace('types', 'aj', '[2]'::jsonb);
SELECT kv.get_bytea('types', 'ab'), kv.get_jsonb('types', 'aj');
SELECT kv.append('types', 'ab', '\x04'::bytea);
SELECT kv.get_bytea('types', 'ab');
-- a stored SQL NULL reads as NULL in every type
SELECT kv.set('types', 'n', NULL::jsonb);
SELECT kv.get('types', 'n') IS NULL, kv.get_bytea('types', 'n') IS NULL, kv.get_jsonb('types', 'n') IS NULL;

-- large values
SELECT kv.set('types', 'big', repeat('x', 1000000));
SELECT length(kv.get('types', 'big'));

SELECT kv.drop_namespace('types');
