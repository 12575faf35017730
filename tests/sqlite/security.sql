-- Untrusted schemas, NUL bytes in names and paths, and path validation.
-- Each "-- case:" runs in a fresh sqlite3 process, in its own scratch directory.
.mode list
.headers off

-- case: an attached schema's kv(...) options never reconfigure a live namespace
.shell @SQLITE3@ evil.db -cmd '.load @EXT@' "CREATE VIRTUAL TABLE t USING kv(namespace=live, shards=64, max_keys=1, max_memory='1k', eviction=allkeys-lru, default_ttl=1, max_key_size=1, max_value_size=1)"
SELECT kv_set('live', 'k', 'value');
PRAGMA trusted_schema = OFF;
ATTACH 'evil.db' AS evil;
PRAGMA evil.table_info(t);
SELECT count(*) FROM evil.t;
SELECT json_extract(kv_stats('live'), '$.shards'), json_extract(kv_stats('live'), '$.max_keys'),
       json_extract(kv_stats('live'), '$.max_memory'), json_extract(kv_stats('live'), '$.eviction'),
       json_extract(kv_stats('live'), '$.default_ttl_ms'), json_extract(kv_stats('live'), '$.max_key_size'),
       json_extract(kv_stats('live'), '$.max_value_size'), kv_ttl('live', 'k');
SELECT kv_set('live', 'k2', 'a longer value'), kv_get('live', 'k');

-- case: a CHECK constraint in an attached database cannot call kv_save, kv_load, kv_flush or kv_drop
-- (crafted with writable_schema, as a hostile file would be; ATTACH itself fails)
.shell @SQLITE3@ evil.db "CREATE TABLE t(x CHECK (abs(x))); PRAGMA writable_schema = ON; UPDATE sqlite_schema SET sql = replace(sql, 'abs(x)', 'kv_save(NULL, ''stolen.kvs'')') WHERE name = 't';"
.shell @SQLITE3@ evil2.db "CREATE TABLE t(x CHECK (abs(x))); PRAGMA writable_schema = ON; UPDATE sqlite_schema SET sql = replace(sql, 'abs(x)', 'kv_flush(''live'')') WHERE name = 't';"
SELECT kv_set('live', 'k', 1);
.bail off
ATTACH 'evil.db' AS evil;
INSERT INTO evil.t VALUES (1);
ATTACH 'evil2.db' AS evil2;
INSERT INTO evil2.t VALUES (1);
.shell ls stolen.kvs 2>/dev/null || echo no file written
SELECT kv_get('live', 'k');

-- case: views, triggers and DEFAULT clauses in an attached database cannot call the functions or the tables
.shell @SQLITE3@ evil.db -cmd '.load @EXT@' "CREATE TABLE u(x); CREATE TRIGGER tr AFTER INSERT ON u BEGIN SELECT kv_set('pwn', 'trigger', 1); END; CREATE VIEW v AS SELECT kv_set('pwn', 'view', 1); CREATE TABLE w(x DEFAULT (kv_set('pwn', 'default', 1)), y); CREATE VIRTUAL TABLE c USING kv(namespace = live); CREATE TABLE z(x); CREATE TRIGGER tz AFTER INSERT ON z BEGIN INSERT INTO c VALUES ('trigger', 1); END; CREATE VIEW vs AS SELECT * FROM kv_scan('live');"
SELECT kv_set('live', 'k', 1);
ATTACH 'evil.db' AS evil;
.bail off
INSERT INTO evil.u VALUES (1);
SELECT * FROM evil.v;
INSERT INTO evil.w(y) VALUES (1);
INSERT INTO evil.z VALUES (1);
SELECT * FROM evil.vs;
SELECT count(*) FROM evil.c;
SELECT group_concat(name) FROM kv_namespaces();

-- case: known limit: SQLite 3.40 lets a CHECK constraint call kv_set; PRAGMA ignore_check_constraints stops it
.shell @SQLITE3@ evil.db "CREATE TABLE t(x CHECK (abs(x))); PRAGMA writable_schema = ON; UPDATE sqlite_schema SET sql = replace(sql, 'abs(x)', 'kv_set(''pwn'', ''check'', x)') WHERE name = 't';"
ATTACH 'evil.db' AS evil;
PRAGMA ignore_check_constraints = ON;
INSERT INTO evil.t VALUES (1);
SELECT count(*) FROM kv_namespaces() WHERE name = 'pwn';
PRAGMA ignore_check_constraints = OFF;
INSERT INTO evil.t VALUES (2);
SELECT kv_get('pwn', 'check');

-- case: a NUL byte in a namespace name is refused, never cut (it wrote into the name before the NUL)
SELECT kv_set('c', 'k', 'original');
.bail off
SELECT kv_set('c' || char(0) || 'xyz', 'k', 'evil');
SELECT kv_set(CAST(x'630078797a' AS TEXT), 'k', 'evil');
SELECT kv_set(x'6300', 'k', 'evil');
SELECT kv_get('c' || char(0), 'k');
SELECT kv_incr('c' || char(0), 'n');
SELECT kv_flush('c' || char(0));
SELECT kv_drop('c' || char(0));
SELECT kv_stats('c' || char(0));
SELECT * FROM kv_scan('c' || char(0));
SELECT kv_save('c' || char(0), 'x.kvs');
SELECT kv_get('c', 'k'), json_extract(kv_stats('c'), '$.keys'), count(*) FROM kv_namespaces();

-- case: a NUL byte in a file name is refused, never cut
SELECT kv_set('c', 'k', 'v');
.bail off
SELECT kv_save('c', 'x.kvs' || char(0) || '.evil');
SELECT kv_load('c', 'x.kvs' || char(0) || '.evil');
SELECT kv_save(NULL, 'x.kvs' || char(0));
.shell ls x.kvs* 2>/dev/null || echo no file written

-- case: SHARDKV_SNAPSHOT_DIR confines every file name to that directory
.shell mkdir snaps snaps/sub outside && ln -s ../outside snaps/link && echo secret > outside/passwd
-- (the confined process's script, written with .output)
.output confined.sql
SELECT '.load @EXT@';
SELECT '.bail off';
SELECT 'SELECT kv_set(''c'', ''k'', ''v'');';
SELECT 'SELECT kv_save(''c'', ''ok.kvs''), kv_save(''c'', ''sub/ok.kvs''), kv_load(''c'', ''ok.kvs'');';
SELECT 'SELECT kv_save(''c'', ''../escape.kvs'');';
SELECT 'SELECT kv_save(''c'', ''/tmp/escape.kvs'');';
SELECT 'SELECT kv_save(''c'', ''link/escape.kvs'');';
SELECT 'SELECT kv_load(''c'', ''link/passwd'');';
SELECT 'SELECT kv_load(''c'', ''../outside/passwd'');';
SELECT 'CREATE VIRTUAL TABLE t USING kv(namespace = tab, snapshot = ''tab.kvs'');';
SELECT 'INSERT INTO t VALUES (''a'', 1);';
SELECT 'CREATE VIRTUAL TABLE u USING kv(namespace = esc, snapshot = ''../esc.kvs'');';
SELECT 'INSERT INTO u VALUES (''a'', 1);';
.output stdout
.shell SHARDKV_SNAPSHOT_DIR=snaps @SQLITE3@ :memory: < confined.sql 2>&1
.shell find . -name '*.kvs' | sort
.shell SHARDKV_SNAPSHOT_DIR=nope @SQLITE3@ :memory: -cmd '.load @EXT@' "SELECT 1;" 2>&1 | head -n 1
