-- The kv virtual table: options, reads, writes, constraints, types, planning.
-- Each "-- case:" runs in a fresh sqlite3 process (a fresh store).
.mode list
.headers off

-- case: create with every option
CREATE VIRTUAL TABLE c USING kv(namespace = 'ns1', shards = 8, max_keys = 1000, max_memory = '64MB',
    default_ttl = '5m', max_key_size = 100, max_value_size = '1k', eviction = allkeys-lru);
SELECT json_extract(kv_stats('ns1'), '$.shards'), json_extract(kv_stats('ns1'), '$.max_keys'),
       json_extract(kv_stats('ns1'), '$.max_memory'), json_extract(kv_stats('ns1'), '$.default_ttl_ms'),
       json_extract(kv_stats('ns1'), '$.max_key_size'), json_extract(kv_stats('ns1'), '$.max_value_size'),
       json_extract(kv_stats('ns1'), '$.eviction');

-- case: the namespace defaults to the table name
CREATE VIRTUAL TABLE sessions USING kv;
SELECT name FROM kv_namespaces();

-- case: a second table attaches to the same namespace and leaves its options
CREATE VIRTUAL TABLE a USING kv(namespace=shared, shards=4);
INSERT INTO a VALUES ('k', 'v');
CREATE VIRTUAL TABLE b USING kv(namespace=shared, shards=16, max_keys=50);
SELECT value FROM b WHERE key = 'k';
SELECT json_extract(kv_stats('shared'), '$.shards'), json_extract(kv_stats('shared'), '$.max_keys');

-- case: a lower shard count leaves the namespace as it is
CREATE VIRTUAL TABLE a USING kv(namespace=shared, shards=8);
CREATE VIRTUAL TABLE b USING kv(namespace=shared, shards=2);
SELECT json_extract(kv_stats('shared'), '$.shards');

-- case: temp table
CREATE VIRTUAL TABLE temp.t USING kv(namespace=tmp);
INSERT INTO temp.t VALUES ('a', 1);
SELECT kv_get('tmp', 'a');

-- case: unknown option
CREATE VIRTUAL TABLE c USING kv(shardz=4);

-- case: option without a value
CREATE VIRTUAL TABLE c USING kv(shards);

-- case: option given twice
CREATE VIRTUAL TABLE c USING kv(shards=4, shards=8);

-- case: bad number
CREATE VIRTUAL TABLE c USING kv(max_keys='12x');

-- case: bad size suffix
CREATE VIRTUAL TABLE c USING kv(max_memory='10 parsecs');

-- case: bad duration
CREATE VIRTUAL TABLE c USING kv(default_ttl=-5);

-- case: bad eviction policy
CREATE VIRTUAL TABLE c USING kv(eviction=sometimes);

-- case: size units are Redis's (the engine's kv_parse_size): k = 1000, kb = 1024, any case; no spaces, KiB or fractions
.bail off
CREATE VIRTUAL TABLE a USING kv(namespace=u1, max_memory='1k', max_value_size='1kb');
CREATE VIRTUAL TABLE b USING kv(namespace=u2, max_memory='3M', max_value_size='3MB');
CREATE VIRTUAL TABLE c USING kv(namespace=u3, max_memory='2g', max_value_size='512B');
CREATE VIRTUAL TABLE d USING kv(namespace=u4, max_memory='2Gb', max_value_size=77);
SELECT name, max_memory, json_extract(kv_stats(name), '$.max_value_size') FROM kv_namespaces()
 WHERE name LIKE 'u_' ORDER BY name;
CREATE VIRTUAL TABLE e USING kv(max_memory='1 GiB');
CREATE VIRTUAL TABLE e USING kv(max_memory='1KiB');
CREATE VIRTUAL TABLE e USING kv(max_memory='1.5mb');
CREATE VIRTUAL TABLE e USING kv(max_memory='+1k');
CREATE VIRTUAL TABLE e USING kv(max_memory=' 1k');
CREATE VIRTUAL TABLE e USING kv(max_value_size='5gb');
CREATE VIRTUAL TABLE e USING kv(max_memory='18446744073709551616');
CREATE VIRTUAL TABLE e USING kv(max_keys='1k');

-- case: eviction names are the engine's: Redis's noeviction is none, any case
CREATE VIRTUAL TABLE a USING kv(namespace=e1, eviction=noeviction);
CREATE VIRTUAL TABLE b USING kv(namespace=e2, eviction='ALLKEYS-LRU');
CREATE VIRTUAL TABLE c USING kv(namespace=e3, eviction=Volatile-TTL);
SELECT name, eviction, json_extract(kv_stats(name), '$.eviction') FROM kv_namespaces()
 WHERE name LIKE 'e_' ORDER BY name;

-- case: a default_ttl is exact to the ms: every fractional digit counts, finer than 1 ms is refused
.bail off
CREATE VIRTUAL TABLE a USING kv(namespace=d1, default_ttl='0.0001h');
CREATE VIRTUAL TABLE b USING kv(namespace=d2, default_ttl='1.0010');
CREATE VIRTUAL TABLE c USING kv(namespace=d3, default_ttl='0.0000003125d');
CREATE VIRTUAL TABLE d USING kv(namespace=d4, default_ttl='2.5');
SELECT name, default_ttl_ms FROM kv_namespaces() WHERE name LIKE 'd_' ORDER BY name;
CREATE VIRTUAL TABLE e USING kv(default_ttl='1.0005');
CREATE VIRTUAL TABLE e USING kv(default_ttl='0.5ms');
CREATE VIRTUAL TABLE e USING kv(default_ttl='2.5ms');
CREATE VIRTUAL TABLE e USING kv(default_ttl='1.0000000000000000000001');

-- case: shard count over the engine limit
CREATE VIRTUAL TABLE c USING kv(shards=100000);

-- case: zero shards, max_key_size or max_value_size is refused (the engine would read "default")
.bail off
CREATE VIRTUAL TABLE c USING kv(shards=0);
CREATE VIRTUAL TABLE c USING kv(max_key_size=0);
CREATE VIRTUAL TABLE c USING kv(max_value_size='0k');
SELECT count(*) FROM kv_namespaces();

-- case: bad namespace name
CREATE VIRTUAL TABLE c USING kv(namespace='has space');

-- case: quoted values, doubled quotes and blanks
CREATE VIRTUAL TABLE c USING kv( namespace = "odd.name" ,max_memory=  '1gb'  , default_ttl = '1.5' );
SELECT json_extract(kv_stats('odd.name'), '$.max_memory'), json_extract(kv_stats('odd.name'), '$.default_ttl_ms');

-- case: negative number
CREATE VIRTUAL TABLE c USING kv(max_keys=-1);

-- case: insert and select every type
CREATE VIRTUAL TABLE c USING kv;
INSERT INTO c VALUES ('t', 'text'), ('i', 7), ('r', 0.25), ('b', x'cafe'), ('n', NULL);
SELECT key, quote(value), typeof(value) FROM c ORDER BY key;
SELECT typeof(kv_get('c', 'i')), typeof(kv_get('c', 'r')), typeof(kv_get('c', 'b'));

-- case: function writes are visible in the table and back
CREATE VIRTUAL TABLE c USING kv;
SELECT kv_set('c', 'f', 'from function');
INSERT INTO c VALUES ('t', 'from table');
SELECT key, value FROM c ORDER BY key;
SELECT kv_get('c', 't');

-- case: duplicate insert is a primary-key constraint error
CREATE VIRTUAL TABLE c USING kv;
INSERT INTO c VALUES ('k', 1);
INSERT INTO c VALUES ('k', 2);

-- case: insert or replace
CREATE VIRTUAL TABLE c USING kv;
INSERT INTO c VALUES ('k', 1);
INSERT OR REPLACE INTO c VALUES ('k', 2);
REPLACE INTO c VALUES ('k2', 3);
SELECT key, value FROM c ORDER BY key;

-- case: insert or ignore
CREATE VIRTUAL TABLE c USING kv;
INSERT INTO c VALUES ('k', 1);
INSERT OR IGNORE INTO c VALUES ('k', 2), ('j', 3);
SELECT key, value FROM c ORDER BY key;

-- case: insert or fail keeps the rows before the failing one
CREATE VIRTUAL TABLE c USING kv;
INSERT INTO c VALUES ('k', 1);
.bail off
-- (the shell keeps counting errors: .bail stays off for the rest of the case)
INSERT OR FAIL INTO c VALUES ('a', 1), ('k', 2), ('z', 3);
SELECT key, value FROM c ORDER BY key;

-- case: insert or abort undoes the whole statement
CREATE VIRTUAL TABLE c USING kv;
INSERT INTO c VALUES ('k', 1);
.bail off
-- (the shell keeps counting errors: .bail stays off for the rest of the case)
INSERT INTO c VALUES ('a', 1), ('k', 2), ('z', 3);
SELECT key, value FROM c ORDER BY key;

-- case: upsert do nothing
CREATE VIRTUAL TABLE c USING kv;
INSERT INTO c VALUES ('k', 1);
INSERT INTO c VALUES ('k', 2) ON CONFLICT DO NOTHING;

-- case: NULL key is a not-null constraint error
CREATE VIRTUAL TABLE c USING kv;
INSERT INTO c VALUES (NULL, 1);

-- case: the empty key is a key: insert, read, update, primary-key check, delete
CREATE VIRTUAL TABLE c USING kv;
INSERT INTO c VALUES ('', 1);
SELECT quote(key), value FROM c WHERE key = '';
SELECT quote(key), value FROM c WHERE key IN ('', 'x');
SELECT count(*) FROM c;
UPDATE c SET value = 2 WHERE key = '';
SELECT kv_get('c', '');
.bail off
INSERT INTO c VALUES (x'', 3);
SELECT quote(key), typeof(key) FROM c;
INSERT INTO c VALUES ('e', '');
SELECT quote(key), quote(value) FROM c ORDER BY key;
DELETE FROM c WHERE key = '';
SELECT count(*), kv_exists('c', '') FROM c;

-- case: value over max_value_size is refused at once
CREATE VIRTUAL TABLE c USING kv(max_value_size=4);
INSERT INTO c VALUES ('k', '12345');

-- case: key over max_key_size is refused
CREATE VIRTUAL TABLE c USING kv(max_key_size=4);
INSERT INTO c VALUES ('12345', 'v');

-- case: max_keys is enforced at commit
CREATE VIRTUAL TABLE c USING kv(max_keys=2);
INSERT INTO c VALUES ('a', 1), ('b', 2);
.bail off
-- (the shell keeps counting errors: .bail stays off for the rest of the case)
INSERT INTO c VALUES ('c', 3);
SELECT count(*) FROM c;

-- case: update the value
CREATE VIRTUAL TABLE c USING kv;
INSERT INTO c VALUES ('k', 1), ('j', 2);
UPDATE c SET value = value + 10;
SELECT key, value FROM c ORDER BY key;
UPDATE c SET value = 'x' WHERE key = 'k';
SELECT key, value FROM c ORDER BY key;

-- case: update the key
CREATE VIRTUAL TABLE c USING kv;
INSERT INTO c(key, value, ttl) VALUES ('old', 'v', 100);
UPDATE c SET key = 'new' WHERE key = 'old';
SELECT key, value, ttl BETWEEN 99 AND 100 FROM c;

-- case: update the key onto an existing key is a constraint error
CREATE VIRTUAL TABLE c USING kv;
INSERT INTO c VALUES ('a', 1), ('b', 2);
UPDATE c SET key = 'b' WHERE key = 'a';

-- case: update or replace the key onto an existing key
CREATE VIRTUAL TABLE c USING kv;
INSERT INTO c VALUES ('a', 1), ('b', 2);
UPDATE OR REPLACE c SET key = 'b' WHERE key = 'a';
SELECT key, value FROM c;

-- case: delete
CREATE VIRTUAL TABLE c USING kv;
INSERT INTO c VALUES ('a', 1), ('b', 2), ('c', 3);
DELETE FROM c WHERE key = 'b';
SELECT key FROM c ORDER BY key;
DELETE FROM c WHERE value > 2;
SELECT key FROM c ORDER BY key;
DELETE FROM c;
SELECT count(*) FROM c;

-- case: lookups by key, by IN list, and misses
CREATE VIRTUAL TABLE c USING kv;
INSERT INTO c VALUES ('a', 1), ('b', 2), ('c', 3), ('42', 'num');
SELECT value FROM c WHERE key = 'b';
SELECT count(*) FROM c WHERE key = 'zz';
SELECT key, value FROM c WHERE key IN ('a', 'c', 'zz', 'a') ORDER BY key;
SELECT value FROM c WHERE key = 42;
SELECT count(*) FROM c WHERE key = NULL;
SELECT count(*) FROM c WHERE key IN (SELECT 'b' UNION SELECT 'c');
SELECT count(*) FROM c WHERE key = '';

-- case: join drives lookups
CREATE VIRTUAL TABLE c USING kv;
INSERT INTO c VALUES ('a', 1), ('b', 2);
CREATE TABLE wanted(k);
INSERT INTO wanted VALUES ('a'), ('b'), ('x');
SELECT w.k, c.value FROM wanted w LEFT JOIN c ON c.key = w.k ORDER BY w.k;

-- case: prefix, range, glob and like filters
CREATE VIRTUAL TABLE c USING kv;
INSERT INTO c VALUES ('user:1', 1), ('user:2', 2), ('User:3', 3), ('usex', 4), ('job:1', 5), ('u', 6);
SELECT group_concat(key, ',') FROM (SELECT key FROM c WHERE key GLOB 'user:*' ORDER BY key);
SELECT group_concat(key, ',') FROM (SELECT key FROM c WHERE key LIKE 'user:%' ORDER BY key);
SELECT group_concat(key, ',') FROM (SELECT key FROM c WHERE key >= 'user:' AND key < 'user;' ORDER BY key);
SELECT group_concat(key, ',') FROM (SELECT key FROM c WHERE key > 'u' AND key <= 'user:2' ORDER BY key);
SELECT group_concat(key, ',') FROM (SELECT key FROM c WHERE key GLOB '*:1' ORDER BY key);
SELECT group_concat(key, ',') FROM (SELECT key FROM c WHERE key LIKE '_ser%' ORDER BY key);
SELECT group_concat(key, ',') FROM (SELECT key FROM c WHERE key >= 1 AND key < 'v' ORDER BY key);

-- case: explain query plan
CREATE VIRTUAL TABLE c USING kv;
EXPLAIN QUERY PLAN SELECT value FROM c WHERE key = 'a';
EXPLAIN QUERY PLAN SELECT key FROM c WHERE key = ?;
EXPLAIN QUERY PLAN SELECT value FROM c WHERE key IN ('a', 'b');
EXPLAIN QUERY PLAN SELECT * FROM c WHERE key GLOB 'user:*';
EXPLAIN QUERY PLAN SELECT * FROM c WHERE key LIKE 'user:%';
EXPLAIN QUERY PLAN SELECT * FROM c WHERE key >= 'a' AND key < 'b';
EXPLAIN QUERY PLAN SELECT * FROM c WHERE key >= 'a';
EXPLAIN QUERY PLAN SELECT * FROM c;
EXPLAIN QUERY PLAN SELECT * FROM c WHERE value = 1;
EXPLAIN QUERY PLAN UPDATE c SET value = 1 WHERE key = 'a';
EXPLAIN QUERY PLAN DELETE FROM c WHERE key IN ('a', 'b');

-- case: explain query plan of a join uses the lookup
CREATE VIRTUAL TABLE c USING kv;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100)
INSERT INTO c SELECT 'k' || i, i FROM n;
CREATE TABLE w(k);
EXPLAIN QUERY PLAN SELECT c.value FROM w JOIN c ON c.key = w.k;

-- case: a full scan is costed at the number of keys
CREATE VIRTUAL TABLE big USING kv;
CREATE VIRTUAL TABLE small USING kv;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000)
INSERT INTO big SELECT 'k' || i, i FROM n;
INSERT INTO small VALUES ('k1', 'a'), ('k2', 'b');
EXPLAIN QUERY PLAN SELECT * FROM big, small WHERE big.key = small.key;
SELECT big.key, big.value, small.value FROM big, small WHERE big.key = small.key ORDER BY 1;

-- case: ttl and expires_at columns
CREATE VIRTUAL TABLE c USING kv;
INSERT INTO c(key, value, ttl) VALUES ('a', 1, 100);
INSERT INTO c(key, value, expires_at) VALUES ('b', 2, 4102444800000);
INSERT INTO c(key, value) VALUES ('c', 3);
SELECT key, ttl > 2000000000, expires_at FROM c WHERE key IN ('b', 'c') ORDER BY key;
SELECT key, ttl BETWEEN 99 AND 100, abs(expires_at - (julianday('now') - 2440587.5) * 86400000 - 100000) < 5000
  FROM c WHERE key = 'a';
SELECT kv_ttl('c', 'a') BETWEEN 99 AND 100, kv_ttl('c', 'c');

-- case: update ttl only, then expires_at, then persist
CREATE VIRTUAL TABLE c USING kv;
INSERT INTO c VALUES ('a', 'v');
UPDATE c SET ttl = 30 WHERE key = 'a';
SELECT value, ttl BETWEEN 29 AND 30 FROM c;
UPDATE c SET value = 'w' WHERE key = 'a';
SELECT value, ttl BETWEEN 29 AND 30 FROM c;
UPDATE c SET expires_at = 4102444800000 WHERE key = 'a';
SELECT value, expires_at FROM c;
UPDATE c SET ttl = NULL WHERE key = 'a';
SELECT value, ttl, expires_at FROM c;

-- case: updates and deletes filtered on ttl keep the other rows' expiry
CREATE VIRTUAL TABLE c USING kv;
INSERT INTO c(key, value, ttl) VALUES ('a', 1, 1000), ('b', 2, NULL), ('c', 3, 50);
UPDATE c SET value = 'x' WHERE ttl IS NULL;
UPDATE c SET value = value || '!' WHERE ttl > 500;
DELETE FROM c WHERE ttl < 500;
UPDATE c SET ttl = ttl + 1000 WHERE key = 'a';
SELECT key, value, ttl > 1900, ttl IS NULL FROM c ORDER BY key;

-- case: ttl and expires_at both given: expires_at wins
CREATE VIRTUAL TABLE c USING kv;
INSERT INTO c(key, value, ttl, expires_at) VALUES ('a', 'v', 10, 4102444800000);
SELECT expires_at FROM c;

-- case: expires_at in the past: the row is gone at once
CREATE VIRTUAL TABLE c USING kv;
INSERT INTO c(key, value, expires_at) VALUES ('a', 'v', 1000);
SELECT count(*) FROM c;
SELECT kv_exists('c', 'a');

-- case: default_ttl applies to inserts without ttl
CREATE VIRTUAL TABLE c USING kv(default_ttl=60);
INSERT INTO c VALUES ('a', 'v');
INSERT INTO c(key, value, ttl) VALUES ('b', 'v', 10);
SELECT key, ttl BETWEEN 59 AND 60, ttl BETWEEN 9 AND 10 FROM c ORDER BY key;

-- case: bad ttl
CREATE VIRTUAL TABLE c USING kv;
INSERT INTO c(key, value, ttl) VALUES ('a', 'v', -1);

-- case: bad expires_at
CREATE VIRTUAL TABLE c USING kv;
INSERT INTO c(key, value, expires_at) VALUES ('a', 'v', 'tomorrow');

-- case: a REAL expires_at must be a whole number of ms: refused, not truncated
CREATE VIRTUAL TABLE c USING kv;
INSERT INTO c(key, value, expires_at) VALUES ('a', 'v', 4102444800000.0);
SELECT key, expires_at FROM c;
.bail off
INSERT INTO c(key, value, expires_at) VALUES ('b', 'v', 4102444800000.5);
UPDATE c SET expires_at = 4102444800000.25 WHERE key = 'a';
SELECT key, expires_at FROM c;

-- case: the table is direct-only: not from a view
CREATE VIRTUAL TABLE c USING kv;
CREATE VIEW v AS SELECT * FROM c;
SELECT * FROM v;

-- case: the table is direct-only: not from a trigger
CREATE VIRTUAL TABLE c USING kv;
CREATE TABLE t(a);
CREATE TRIGGER tr AFTER INSERT ON t BEGIN INSERT INTO c VALUES (new.a, 1); END;
INSERT INTO t VALUES ('x');

-- case: drop table keeps the namespace
CREATE VIRTUAL TABLE c USING kv;
INSERT INTO c VALUES ('a', 1);
DROP TABLE c;
SELECT kv_get('c', 'a');
CREATE VIRTUAL TABLE c USING kv;
SELECT key, value FROM c;

-- case: the table follows a drop and re-create of its namespace
CREATE VIRTUAL TABLE c USING kv;
INSERT INTO c VALUES ('a', 1);
SELECT kv_drop('c'), kv_set('c', 'b', 2);
SELECT key, value FROM c;

-- case: a dropped namespace is an error for the table
CREATE VIRTUAL TABLE c USING kv;
SELECT kv_drop('c');
SELECT * FROM c WHERE key = 'a';

-- case: many rows through the table
CREATE VIRTUAL TABLE c USING kv;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
INSERT INTO c SELECT printf('key:%07d', i), i FROM n;
SELECT count(*), sum(value), min(key), max(key) FROM c;
SELECT count(*) FROM c WHERE key GLOB 'key:00001*';
UPDATE c SET value = -value WHERE key GLOB 'key:0000*';
SELECT sum(value) FROM c WHERE key GLOB 'key:0000*';
DELETE FROM c WHERE value < 0;
SELECT count(*) FROM c;

-- case: NOCASE =, IN and ranges are not pushed down as byte comparisons
CREATE VIRTUAL TABLE c USING kv;
INSERT INTO c VALUES ('ABX', 1), ('abx', 2), ('aby', 3), ('b', 4);
SELECT group_concat(key) FROM (SELECT key FROM c WHERE key = 'abx' COLLATE NOCASE ORDER BY key);
SELECT group_concat(key) FROM (SELECT key FROM c WHERE key COLLATE NOCASE IN ('ABY', 'B') ORDER BY key);
SELECT group_concat(key) FROM (SELECT key FROM c WHERE key COLLATE NOCASE >= 'ABX' AND key COLLATE NOCASE < 'ABZ' ORDER BY key);
SELECT group_concat(key) FROM (SELECT key FROM c WHERE key = 'abx' ORDER BY key);
EXPLAIN QUERY PLAN SELECT key FROM c WHERE key = 'abx' COLLATE NOCASE;
EXPLAIN QUERY PLAN SELECT key FROM c WHERE key COLLATE NOCASE IN ('a', 'b');
EXPLAIN QUERY PLAN SELECT key FROM c WHERE key COLLATE RTRIM = 'abx ';

-- case: an IN list naming one key twice returns its row once
CREATE VIRTUAL TABLE c USING kv;
INSERT INTO c VALUES ('a', 1), ('1', 2);
SELECT count(*) FROM c WHERE key IN ('a', x'61');
SELECT count(*) FROM c WHERE key IN ('1', 1, x'31', '1');
BEGIN;
INSERT INTO c VALUES ('b', 3);
SELECT count(*) FROM c WHERE key IN ('b', x'62', 'a', 'a');
COMMIT;

-- case: an oversized key in an IN list matches nothing, as with =; the empty key is looked up
CREATE VIRTUAL TABLE c USING kv(max_key_size = 8);
INSERT INTO c VALUES ('a', 1);
SELECT count(*) FROM c WHERE key = '123456789';
SELECT count(*) FROM c WHERE key IN ('a', '123456789', '', NULL);
SELECT count(*) FROM c WHERE key IN (printf('%.*c', 70000, 'x'));
INSERT INTO c VALUES ('', 2);
SELECT count(*) FROM c WHERE key IN ('a', '', x'', NULL);

-- case: a REAL key is stored as the text a TEXT column gives it (1.0 is not 1)
CREATE VIRTUAL TABLE c USING kv;
INSERT INTO c VALUES (1.0, 'real'), (1, 'int'), (0.1 + 0.2, 'sum'), (1e300, 'big');
SELECT key, value FROM c ORDER BY value;
SELECT value FROM c WHERE key = 1.0;
SELECT value FROM c WHERE key = CAST(1.0 AS TEXT);
SELECT kv_get('c', 1.0), kv_get('c', '1.0'), kv_get('c', 1);
CREATE TABLE nat(key TEXT PRIMARY KEY, value);
INSERT INTO nat VALUES (1.0, 'real'), (1e300, 'big');
SELECT count(*) FROM nat JOIN c USING (key);

-- case: ttl and expires_at past 9999-12-31 are refused with a range error
CREATE VIRTUAL TABLE c USING kv;
.bail off
INSERT INTO c(key, value, ttl) VALUES ('a', 1, 1e300);
INSERT INTO c(key, value, expires_at) VALUES ('b', 1, 253402300800000);
INSERT INTO c(key, value, expires_at) VALUES ('c', 1, 253402300799999);
INSERT INTO c(key, value, ttl) VALUES ('d', 1, 1e9);
SELECT key, expires_at = 253402300799999, ttl > 999999000 FROM c ORDER BY key;

-- case: a default_ttl past 9999-12-31 is refused at CREATE, not at every write
.bail off
CREATE VIRTUAL TABLE c USING kv(default_ttl = '1000000000d');
CREATE VIRTUAL TABLE c USING kv(default_ttl = '1000000d');
INSERT INTO c VALUES ('k', 1);
SELECT key, ttl > 86399000000 FROM c;
