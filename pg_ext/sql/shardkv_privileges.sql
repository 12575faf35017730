-- privileges: nothing is executable by PUBLIC; GRANTs make read-only and
-- read-write roles (as the README shows)
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS shardkv;
SELECT kv.drop_namespace('priv', if_exists => true);
DROP ROLE IF EXISTS kv_nobody;
DROP ROLE IF EXISTS kv_reader;
DROP ROLE IF EXISTS kv_writer;
RESET client_min_messages;

SELECT kv.create_namespace('priv');
SELECT kv.set('priv', 'k', 'secret');

-- no function is executable by PUBLIC
SELECT count(*) AS public_executable
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = 'kv' AND has_function_privilege('public', p.oid, 'EXECUTE');
-- (a role without grants)
CREATE ROLE kv_nobody;
SET ROLE kv_nobody;
SELECT kv.get('priv', 'k');
SELECT kv.set('priv', 'k', 'changed');
SELECT * FROM kv.namespaces();
RESET ROLE;
GRANT USAGE ON SCHEMA kv TO kv_nobody;
SET ROLE kv_nobody;
SELECT kv.get('priv', 'k');
SELECT kv.set('priv', 'k', 'changed');
RESET ROLE;
SELECT kv.get('priv', 'k') AS unchanged;

-- read-only role
CREATE ROLE kv_reader;
GRANT USAGE ON SCHEMA kv TO kv_reader;
GRANT EXECUTE ON FUNCTION kv.get(text, text), kv.get_bytea(text, text), kv.get_jsonb(text, text),
    kv.exists(text, text), kv.ttl(text, text), kv.expires_at(text, text), kv.mget(text, text[]),
    kv.mexists(text, text[], text), kv.keys(text, text, text), kv.scan(text, text, text),
    kv.namespaces(), kv.stats() TO kv_reader;
SET ROLE kv_reader;
SELECT kv.get('priv', 'k'), kv.exists('priv', 'k');
SELECT kv.set('priv', 'k', 'changed');
SELECT kv.delete('priv', 'k');
RESET ROLE;

-- read-write role: also the writers, but not namespace administration or snapshots
CREATE ROLE kv_writer IN ROLE kv_reader;
GRANT EXECUTE ON FUNCTION kv.set(text, text, text, interval), kv.add(text, text, text, interval),
    kv.replace(text, text, text, interval), kv.delete(text, text), kv.consume(text, text),
    kv.incr(text, text, bigint), kv.decr(text, text, bigint), kv.append(text, text, text),
    kv.expire(text, text, interval), kv.persist(text, text),
    kv.mset(text, text[], text[], text, interval), kv.mdelete(text, text[], text) TO kv_writer;
SET ROLE kv_writer;
SELECT kv.set('priv', 'k', 'written');
SELECT kv.incr('priv', 'n');
SELECT kv.get('priv', 'k');
SELECT kv.drop_namespace('priv');
SELECT kv.save();
RESET ROLE;

SELECT kv.drop_namespace('priv');
DROP OWNED BY kv_nobody, kv_reader, kv_writer;
DROP ROLE kv_nobody;
DROP ROLE kv_writer;
DROP ROLE kv_reader;
