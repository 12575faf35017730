-- Transactions and savepoints of the kv table.
-- Each "-- case:" runs in a fresh sqlite3 process (a fresh store).
.mode list
.headers off
CREATE VIRTUAL TABLE c USING kv;
INSERT INTO c VALUES ('base', 0);

-- case: writes inside BEGIN are invisible to the engine until COMMIT
BEGIN;
INSERT INTO c VALUES ('a', 1);
UPDATE c SET value = 10 WHERE key = 'base';
SELECT kv_exists('c', 'a'), kv_get('c', 'base');
COMMIT;
SELECT kv_get('c', 'a'), kv_get('c', 'base');

-- case: the connection reads its own uncommitted writes
BEGIN;
INSERT INTO c VALUES ('a', 1), ('b', 2);
DELETE FROM c WHERE key = 'base';
UPDATE c SET value = 20 WHERE key = 'b';
SELECT key, value FROM c ORDER BY key;
SELECT value FROM c WHERE key = 'b';
SELECT count(*) FROM c WHERE key = 'base';
SELECT key FROM c WHERE key IN ('a', 'base', 'b') ORDER BY key;
SELECT key FROM c WHERE key GLOB 'b*';
COMMIT;
SELECT key, value FROM c ORDER BY key;

-- case: rollback discards everything
BEGIN;
INSERT INTO c VALUES ('a', 1);
DELETE FROM c WHERE key = 'base';
ROLLBACK;
SELECT key, value FROM c ORDER BY key;

-- case: insert, delete, insert the same key in one transaction
BEGIN;
INSERT INTO c VALUES ('k', 1);
DELETE FROM c WHERE key = 'k';
INSERT INTO c VALUES ('k', 2);
SELECT value FROM c WHERE key = 'k';
COMMIT;
SELECT value FROM c WHERE key = 'k';

-- case: an update inside the transaction keeps the expiry of the buffered insert
BEGIN;
INSERT INTO c(key, value, ttl) VALUES ('k', 1, 100);
UPDATE c SET value = 2 WHERE key = 'k';
SELECT value, ttl BETWEEN 99 AND 100 FROM c WHERE key = 'k';
COMMIT;
SELECT value, ttl BETWEEN 99 AND 100 FROM c WHERE key = 'k';

-- case: delete then insert of an existing key
BEGIN;
DELETE FROM c WHERE key = 'base';
INSERT INTO c VALUES ('base', 'again');
COMMIT;
SELECT value FROM c WHERE key = 'base';

-- case: a duplicate inside the transaction is a constraint error
BEGIN;
INSERT INTO c VALUES ('k', 1);
INSERT INTO c VALUES ('k', 2);

-- case: a failed statement is undone, the transaction goes on
BEGIN;
INSERT INTO c VALUES ('before', 1);
.bail off
-- (the shell keeps counting errors: .bail stays off for the rest of the case)
INSERT INTO c VALUES ('x1', 1), ('base', 2), ('x2', 3);
INSERT INTO c VALUES ('after', 1);
COMMIT;
SELECT key FROM c ORDER BY key;

-- case: savepoints
BEGIN;
INSERT INTO c VALUES ('a', 1);
SAVEPOINT s1;
INSERT INTO c VALUES ('b', 2);
SAVEPOINT s2;
INSERT INTO c VALUES ('c', 3);
UPDATE c SET value = 'changed' WHERE key = 'a';
ROLLBACK TO s2;
SELECT key, value FROM c ORDER BY key;
INSERT INTO c VALUES ('d', 4);
RELEASE s2;
ROLLBACK TO s1;
SELECT key, value FROM c ORDER BY key;
INSERT INTO c VALUES ('e', 5);
RELEASE s1;
COMMIT;
SELECT key, value FROM c ORDER BY key;

-- case: savepoint as the outer transaction
SAVEPOINT outer_sp;
INSERT INTO c VALUES ('a', 1);
SAVEPOINT inner_sp;
DELETE FROM c WHERE key = 'base';
ROLLBACK TO inner_sp;
RELEASE outer_sp;
SELECT key FROM c ORDER BY key;

-- case: rollback to a savepoint made before the table was touched
BEGIN;
CREATE TABLE other(x);
SAVEPOINT s1;
INSERT INTO other VALUES (1);
INSERT INTO c VALUES ('a', 1);
ROLLBACK TO s1;
INSERT INTO c VALUES ('b', 2);
COMMIT;
SELECT key FROM c ORDER BY key;
SELECT count(*) FROM other;

-- case: a transaction over a native table and the kv table commits both
CREATE TABLE log(msg);
BEGIN;
INSERT INTO log VALUES ('one');
INSERT INTO c VALUES ('a', 1);
COMMIT;
SELECT (SELECT count(*) FROM log), (SELECT count(*) FROM c);
BEGIN;
INSERT INTO log VALUES ('two');
INSERT INTO c VALUES ('b', 2);
ROLLBACK;
SELECT (SELECT count(*) FROM log), (SELECT count(*) FROM c);

-- case: a key inserted elsewhere before commit fails the commit, nothing applies
BEGIN;
INSERT INTO c VALUES ('x', 'mine'), ('y', 'mine');
SELECT kv_set('c', 'x', 'theirs');
COMMIT;

-- case: after a failed commit nothing of the transaction is applied
BEGIN;
INSERT INTO c VALUES ('x', 'mine'), ('y', 'mine');
SELECT kv_set('c', 'x', 'theirs');
.bail off
-- (the shell keeps counting errors: .bail stays off for the rest of the case)
COMMIT;
SELECT key, value FROM c ORDER BY key;
SELECT kv_get('c', 'y') IS NULL;

-- case: functions apply at once, inside a transaction too
BEGIN;
SELECT kv_set('c', 'f', 1);
ROLLBACK;
SELECT kv_get('c', 'f');

-- case: two tables on two namespaces in one transaction
CREATE VIRTUAL TABLE d USING kv;
BEGIN;
INSERT INTO c VALUES ('a', 1);
INSERT INTO d VALUES ('a', 2);
COMMIT;
SELECT kv_get('c', 'a'), kv_get('d', 'a');

-- case: a large transaction commits as one batch
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000)
INSERT INTO c SELECT 'k' || i, i FROM n;
SELECT kv_exists('c', 'k1'), count(*) FROM c;
COMMIT;
SELECT json_extract(kv_stats('c'), '$.keys'), sum(value) FROM c;

-- case: DROP TABLE with uncommitted writes is refused, and COMMIT keeps the writes
BEGIN;
INSERT INTO c VALUES ('a', 1);
.bail off
DROP TABLE c;
COMMIT;
SELECT kv_get('c', 'a'), count(*) FROM c;
DROP TABLE c;
SELECT kv_get('c', 'a'), count(*) FROM sqlite_schema WHERE name = 'c';

-- case: DROP TABLE in a savepoint, rolled back, keeps the writes made before it
BEGIN;
INSERT INTO c VALUES ('x', 1);
SAVEPOINT a;
.bail off
DROP TABLE c;
ROLLBACK TO a;
INSERT INTO c VALUES ('y', 2);
COMMIT;
SELECT kv_get('c', 'x'), kv_get('c', 'y');

-- case: DROP TABLE without writes in a savepoint rolls back cleanly
BEGIN;
SAVEPOINT a;
DROP TABLE c;
ROLLBACK TO a;
INSERT INTO c VALUES ('y', 2);
COMMIT;
SELECT key, value FROM c ORDER BY key;

-- case: a rolled-back write no longer blocks DROP TABLE
BEGIN;
SAVEPOINT a;
INSERT INTO c VALUES ('y', 2);
ROLLBACK TO a;
DROP TABLE c;
COMMIT;
SELECT kv_exists('c', 'y'), kv_get('c', 'base'), count(*) FROM sqlite_schema;

-- case: ALTER TABLE RENAME of a table named after its namespace is refused
.bail off
ALTER TABLE c RENAME TO d;
SELECT name FROM sqlite_schema;
SELECT key, value FROM c;

-- case: ALTER TABLE RENAME keeps the data when namespace= is declared
CREATE VIRTUAL TABLE e USING kv(namespace = c);
BEGIN;
INSERT INTO e VALUES ('during', 1);
ALTER TABLE e RENAME TO f;
INSERT INTO f VALUES ('after', 2);
COMMIT;
SELECT key, value FROM f ORDER BY key;
SELECT group_concat(name) FROM kv_namespaces();
