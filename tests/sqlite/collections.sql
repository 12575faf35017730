-- Collections: kv_h*, kv_s*, kv_z*, kv_l*/kv_rpush/kv_rpop, kv_type, the
-- table-valued kv_hgetall, kv_smembers, kv_lrange, kv_zrange, and collection
-- keys in kv_scan and the kv table.
-- Each "-- case:" runs in a fresh sqlite3 process (a fresh store).
.mode list
.headers off

-- case: hset, hget, hdel, hlen, hincr
SELECT kv_hset('c', 'h', 'name', 'Ada'), kv_hset('c', 'h', 'name', 'Ada L.', 'born', 1815, 'pi', 3.5);
SELECT kv_hget('c', 'h', 'name'), kv_hget('c', 'h', 'born'), typeof(kv_hget('c', 'h', 'born')),
       kv_hget('c', 'h', 'pi'), kv_hget('c', 'h', 'nope') IS NULL, kv_hget('c', 'nokey', 'x') IS NULL;
SELECT kv_hset('c', 'h', 'blob', x'00ff'), hex(kv_hget('c', 'h', 'blob')), typeof(kv_hget('c', 'h', 'blob'));
SELECT kv_hset('c', 'h', 42, 'int field'), kv_hget('c', 'h', '42');
SELECT kv_hlen('c', 'h'), kv_hlen('c', 'nokey');
SELECT kv_hincr('c', 'h', 'n'), kv_hincr('c', 'h', 'n', 41), kv_hincr('c', 'h', 'f', 0.5), kv_hincr('c', 'h', 'f', 0.25);
SELECT kv_hdel('c', 'h', 'n', 'f', 'nope'), kv_hlen('c', 'h');
SELECT kv_hdel('c', 'h', 'name', 'born', 'pi', 'blob', '42'), kv_type('c', 'h') IS NULL, kv_exists('c', 'h');

-- case: kv_hgetall
SELECT kv_hset('c', 'h', 'a', '1', 'b', 'two', 'c', x'ff');
SELECT field, quote(value), typeof(value) FROM kv_hgetall('c', 'h') ORDER BY field;
SELECT count(*) FROM kv_hgetall('c', 'nokey');
SELECT field FROM kv_hgetall WHERE ns = 'c' AND key = 'h' ORDER BY 1;
SELECT json_group_object(field, value) FROM (SELECT * FROM kv_hgetall('c', 'h') WHERE field <> 'c' ORDER BY field);

-- case: hset needs field, value pairs
SELECT kv_hset('c', 'h', 'a');

-- case: hset refuses a NULL field
SELECT kv_hset('c', 'h', NULL, 'v');

-- case: hincr of a value that is not an integer
SELECT kv_hset('c', 'h', 'a', 'x');
SELECT kv_hincr('c', 'h', 'a');

-- case: sadd, srem, sismember, scard, kv_smembers
SELECT kv_sadd('c', 's', 'a', 'b', 'c', 'a'), kv_sadd('c', 's', 'c', 'd', 1);
SELECT group_concat(member) FROM (SELECT member FROM kv_smembers('c', 's') ORDER BY member);
SELECT kv_sismember('c', 's', 'a'), kv_sismember('c', 's', 'z'), kv_sismember('c', 's', 1),
       kv_sismember('c', 'nokey', 'a');
SELECT kv_scard('c', 's'), kv_srem('c', 's', 'a', 'z'), kv_scard('c', 's');
SELECT count(*) FROM kv_smembers('c', 'nokey');
SELECT kv_srem('c', 's', 'b', 'c', 'd', '1'), kv_exists('c', 's');

-- case: sadd needs a member
SELECT kv_sadd('c', 's');

-- case: zadd, zincr, zscore, zrank, zrem, zcard
SELECT kv_zadd('c', 'z', 'alice', 10), kv_zadd('c', 'z', 'bob', 20), kv_zadd('c', 'z', 'carol', 20),
       kv_zadd('c', 'z', 'dave', 5), kv_zadd('c', 'z', 'eve', -1.5);
SELECT kv_zadd('c', 'z', 'alice', 11), kv_zadd('c', 'z', 'alice', 12, 'ch'),
       kv_zadd('c', 'z', 'alice', 1, 'gt ch'), kv_zadd('c', 'z', 'alice', 13, 'GT,CH'),
       kv_zadd('c', 'z', 'zed', 1, 'xx'), kv_zadd('c', 'z', 'alice', 99, 'nx');
SELECT kv_zscore('c', 'z', 'alice'), typeof(kv_zscore('c', 'z', 'alice')), kv_zscore('c', 'z', 'zed') IS NULL;
SELECT kv_zincr('c', 'z', 'dave', 2.5), kv_zincr('c', 'z', 'new', -3);
SELECT kv_zrank('c', 'z', 'new'), kv_zrank('c', 'z', 'bob'), kv_zrank('c', 'z', 'carol'),
       kv_zrank('c', 'z', 'new', 1), kv_zrank('c', 'z', 'zed') IS NULL;
SELECT kv_zcard('c', 'z'), kv_zrem('c', 'z', 'new', 'zed'), kv_zcard('c', 'z');

-- case: kv_zrange by rank, score and lex
SELECT kv_zadd('c', 'z', 'alice', 13), kv_zadd('c', 'z', 'bob', 20), kv_zadd('c', 'z', 'carol', 20),
       kv_zadd('c', 'z', 'dave', 7.5), kv_zadd('c', 'z', 'eve', -1.5);
SELECT group_concat(member || '=' || score, ' ') FROM kv_zrange('c', 'z');
SELECT group_concat(member, ' ') FROM kv_zrange('c', 'z', 0, 1);
SELECT group_concat(member, ' ') FROM kv_zrange('c', 'z', -2, -1);
SELECT group_concat(member, ' ') FROM kv_zrange('c', 'z', 0, 2, 'rank', 1);
SELECT group_concat(member, ' ') FROM kv_zrange('c', 'z', 7.5, 20, 'score');
SELECT group_concat(member, ' ') FROM kv_zrange('c', 'z', '(7.5', '(20', 'score');
SELECT group_concat(member, ' ') FROM kv_zrange('c', 'z', '-inf', '+inf', 'score', 1, 1, 2);
SELECT group_concat(member, ' ') FROM kv_zrange('c', 'z', NULL, NULL, 'score', 0, 0, 2);
SELECT count(*) FROM kv_zrange('c', 'z', 30, 10, 'score');
SELECT kv_zadd('c', 'lex', 'a', 0), kv_zadd('c', 'lex', 'b', 0), kv_zadd('c', 'lex', 'c', 0), kv_zadd('c', 'lex', 'd', 0);
SELECT group_concat(member, ' ') FROM kv_zrange('c', 'lex', '[b', '(d', 'lex');
SELECT group_concat(member, ' ') FROM kv_zrange('c', 'lex', '-', '+', 'lex', 1);
SELECT count(*) FROM kv_zrange('c', 'nokey');

-- case: zadd with nx and xx
SELECT kv_zadd('c', 'z', 'm', 1, 'nx xx');

-- case: zadd with gt and lt
SELECT kv_zadd('c', 'z', 'm', 1, 'gt lt');

-- case: zadd with an unknown option
SELECT kv_zadd('c', 'z', 'm', 1, 'incr');

-- case: zadd of a score that is not a number
SELECT kv_zadd('c', 'z', 'm', 'abc');

-- case: zrange by rank takes no offset or count
SELECT kv_zadd('c', 'z', 'm', 1);
SELECT * FROM kv_zrange('c', 'z', 0, -1, 'rank', 0, 1, 1);

-- case: zrange by an unknown mode
SELECT kv_zadd('c', 'z', 'm', 1);
SELECT * FROM kv_zrange('c', 'z', 0, -1, 'byscore');

-- case: zrange by score with a bound that is not a float
SELECT kv_zadd('c', 'z', 'm', 1);
SELECT * FROM kv_zrange('c', 'z', 'abc', 1, 'score');

-- case: lpush, rpush, lpop, rpop, llen, kv_lrange
SELECT kv_rpush('c', 'l', 'a', 'b', 'c'), kv_lpush('c', 'l', 'x', 'y'), kv_llen('c', 'l');
SELECT group_concat(value, ' ') FROM kv_lrange('c', 'l');
SELECT group_concat(value, ' ') FROM kv_lrange('c', 'l', 1, -2);
SELECT group_concat(value, ' ') FROM kv_lrange('c', 'l', -100, 100);
SELECT count(*) FROM kv_lrange('c', 'l', 3, 1);
SELECT kv_lpop('c', 'l'), kv_rpop('c', 'l'), kv_llen('c', 'l');
SELECT kv_rpush('c', 'l', 7, x'00ff');
SELECT quote(value), typeof(value) FROM kv_lrange('c', 'l', -2, -1);
SELECT kv_lpop('c', 'l'), kv_lpop('c', 'l'), kv_lpop('c', 'l'), kv_lpop('c', 'l'), hex(kv_lpop('c', 'l'));
SELECT kv_lpop('c', 'l') IS NULL, kv_rpop('c', 'l') IS NULL, kv_exists('c', 'l'), kv_llen('c', 'l');

-- case: push needs a value
SELECT kv_lpush('c', 'l');

-- case: kv_type and WRONGTYPE from every kind
SELECT kv_set('c', 'str', 'v'), kv_hset('c', 'h', 'f', 'v'), kv_sadd('c', 's', 'm'),
       kv_zadd('c', 'z', 'm', 1), kv_rpush('c', 'l', 'e');
SELECT kv_type('c', 'str'), kv_type('c', 'h'), kv_type('c', 's'), kv_type('c', 'z'), kv_type('c', 'l'),
       kv_type('c', 'nokey') IS NULL;
SELECT kv_hset('c', 'str', 'f', 'v');

-- case: WRONGTYPE: hget of a set
SELECT kv_sadd('c', 's', 'm');
SELECT kv_hget('c', 's', 'f');

-- case: WRONGTYPE: zadd on a list
SELECT kv_rpush('c', 'l', 'e');
SELECT kv_zadd('c', 'l', 'm', 1);

-- case: WRONGTYPE: kv_zrange of a hash
SELECT kv_hset('c', 'h', 'f', 'v');
SELECT * FROM kv_zrange('c', 'h');

-- case: WRONGTYPE: kv_get of a zset
SELECT kv_zadd('c', 'z', 'm', 1);
SELECT kv_get('c', 'z');

-- case: kv_set replaces any kind, as Redis SET does
SELECT kv_hset('c', 'h', 'f', 'v'), kv_set('c', 'h', 'string now'), kv_type('c', 'h'), kv_get('c', 'h');

-- case: collection keys in kv_scan: their kind and a NULL value
SELECT kv_set('c', 'str', 'v'), kv_hset('c', 'h', 'f', 'v'), kv_sadd('c', 's', 'm'),
       kv_zadd('c', 'z', 'm', 1), kv_rpush('c', 'l', 'e'), kv_expire('c', 'z', 100);
SELECT key, quote(value), type, expires_at IS NOT NULL FROM kv_scan('c') ORDER BY key;
SELECT group_concat(key) FROM (SELECT key FROM kv_keys('c', '*') ORDER BY key);

-- case: collection keys in the kv table
SELECT kv_set('c', 'str', 'v'), kv_hset('c', 'h', 'f', 'v'), kv_sadd('c', 's', 'm'),
       kv_zadd('c', 'z', 'm', 1), kv_rpush('c', 'l', 'e'), kv_expire('c', 'l', 100);
CREATE VIRTUAL TABLE c USING kv;
SELECT key, quote(value), type, ttl IS NOT NULL FROM c ORDER BY key;
SELECT key, quote(value), type FROM c WHERE key = 'h';
SELECT key, quote(value), type, ttl IS NOT NULL FROM c WHERE key = 'l';
SELECT key, quote(value), type FROM c WHERE key IN ('h', 'str', 'z', 'nokey') ORDER BY key;
SELECT count(*) FROM c WHERE value IS NULL;
-- DELETE deletes a collection; UPDATE of its value replaces it (Redis SET)
DELETE FROM c WHERE key = 's';
UPDATE c SET value = 'now a string' WHERE key = 'z';
SELECT kv_exists('c', 's'), kv_type('c', 'z'), kv_get('c', 'z');
INSERT OR REPLACE INTO c(key, value) VALUES ('l', 'replaced');
SELECT kv_type('c', 'l'), kv_get('c', 'l');

-- case: the kv table refuses an UPDATE that would turn a collection into NULL
SELECT kv_hset('c', 'h', 'f', 'v');
CREATE VIRTUAL TABLE c USING kv;
UPDATE c SET ttl = 100 WHERE key = 'h';

-- case: the kv table's type column is read-only
CREATE VIRTUAL TABLE c USING kv;
INSERT INTO c(key, value, type) VALUES ('k', 'v', 'hash');

-- case: collections survive a save and load
SELECT kv_hset('c', 'h', 'f', 'v', 'g', 'w'), kv_sadd('c', 's', 'a', 'b'), kv_zadd('c', 'z', 'm', 2.5),
       kv_rpush('c', 'l', 'x', 'y', 'z'), kv_set('c', 'str', 'v');
SELECT kv_save('c', 'coll.kvs'), kv_flush('c'), kv_exists('c', 'h'), kv_load('c', 'coll.kvs');
SELECT kv_type('c', 'h'), kv_hget('c', 'h', 'g'), kv_scard('c', 's'), kv_zscore('c', 'z', 'm'),
       (SELECT group_concat(value, ' ') FROM kv_lrange('c', 'l')), kv_get('c', 'str');
