"""
test_hash_set.py -- hashes, sets and the generic commands on collection keys
(issue 12), against Debian's redis-server as the reference:

  * seeded random command streams (gen_hash_set.py) through coll_diff.py, byte
    for byte in RESP2 and RESP3, also under ASan with a concurrent BGSAVE loop;
  * error texts, WRONGTYPE from string commands, COMMAND's arity and keys,
    OBJECT ENCODING, TTL / RENAME / COPY / MOVE of collections, SCAN TYPE,
    keyspace events (__keyspace@0__ and __keyevent@0__ messages compared with
    redis-server's), MULTI/EXEC, HSCAN NOVALUES (Redis 7.4) and the HTTP door's
    answer for a collection key.

Ports: COLL_PORT (6384) shardkv-server, COLL_REDIS_PORT (6385) redis-server,
COLL_HTTP_PORT (6386) the HTTP door.  Every process is stopped by PID.
Run: /usr/bin/python3 tests/server/test_hash_set.py [-k words] ; seeds with
COLL_SEEDS=1,2,3 and steps with COLL_STEPS=1500.
"""
import os
import shutil
import sys
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import coll_diff  # noqa: E402
import gen_hash_set  # noqa: E402
import harness  # noqa: E402
from harness import ROOT, Raw, eq, stop_all, summary, test, true  # noqa: E402

SEEDS = [int(x) for x in os.environ.get("COLL_SEEDS", "11,12,13").split(",")]
STEPS = int(os.environ.get("COLL_STEPS", 4000))
HTTP_PORT = int(os.environ.get("COLL_HTTP_PORT", 6386))
ASAN_BIN = os.path.join(ROOT, "build", "asan", "shardkv-server")


TMPDIRS = []


def pair(*extra):
    skv, rds, tmp = coll_diff.start_pair(extra=extra)
    TMPDIRS.append(tmp)
    return skv, rds, tmp, Raw(coll_diff.PORT), Raw(coll_diff.REDIS_PORT)


def both(a, b, *cmd):
    """Send cmd to both; return (shardkv raw bytes, redis raw bytes)."""
    a.send(harness.encode(*cmd))
    b.send(harness.encode(*cmd))
    return a.raw_reply(), b.raw_reply()


def same(a, b, *cmd):
    ra, rb = both(a, b, *cmd)
    eq(ra, rb, " ".join(str(x) for x in cmd))
    return ra


# ---------------------------------------------------------------- differential

@test("hash/set/generic streams equal redis-server's, RESP2 and RESP3")
def t_diff():
    fails = coll_diff.run(gen_hash_set.GENERATORS, SEEDS, STEPS)
    eq(fails, [], "divergences")


@test("the streams under ASan with a concurrent BGSAVE loop")
def t_diff_asan():
    true(os.path.exists(ASAN_BIN), "build/asan/shardkv-server is built (make all)")
    fails = coll_diff.run(gen_hash_set.GENERATORS, SEEDS[:1], STEPS, asan=True, bgsave=True)
    eq(fails, [], "divergences or sanitizer reports")


# ---------------------------------------------------------------- direct checks

ERROR_CASES = [
    ["HSET", "h"], ["HSET", "h", "f"], ["HSET", "h", "f", "v", "g"], ["HMSET", "h", "f"],
    ["HGET", "h"], ["HINCRBY", "h", "f", "x"], ["HINCRBY", "h", "f", "1.5"],
    ["HINCRBYFLOAT", "h", "f", "x"], ["HINCRBYFLOAT", "h", "f", "inf"], ["HINCRBYFLOAT", "h", "f", "nan"],
    ["HRANDFIELD", "h", "x"], ["HRANDFIELD", "h", "1", "x"], ["HRANDFIELD", "h", "1", "withvalues", "x"],
    ["HRANDFIELD", "h", "-9223372036854775808"], ["HRANDFIELD", "h", "-9223372036854775807", "WITHVALUES"],
    ["HSCAN", "h", "x"], ["HSCAN", "h", "0", "COUNT", "0"], ["HSCAN", "h", "0", "COUNT"], ["HSCAN", "h", "0", "FOO"],
    ["HSCAN", "nokey", "0", "FOO"], ["SSCAN", "h", "0", "FOO"],
    ["SADD", "s"], ["SPOP", "s", "-1"], ["SPOP", "s", "x"], ["SPOP", "s", "1", "2"], ["SPOP", "h", "-1"],
    ["SRANDMEMBER", "s", "x"], ["SRANDMEMBER", "s", "1", "2"], ["SRANDMEMBER", "s", "-9223372036854775808"],
    ["SINTERCARD", "0", "s"], ["SINTERCARD", "x", "s"], ["SINTERCARD", "3", "s"],
    ["SINTERCARD", "1", "s", "LIMIT", "-1"], ["SINTERCARD", "1", "s", "LIMIT", "x"],
    ["SINTERCARD", "1", "s", "FOO"], ["SINTERCARD", "1", "s", "LIMIT"], ["SINTERSTORE", "d"],
    ["SMOVE", "s", "h", "a"], ["SMOVE", "h", "s", "a"], ["SMOVE", "nokey", "h", "a"],
]


@test("error texts and edge replies equal redis-server's")
def t_errors():
    skv, rds, tmp, a, b = pair()
    for c in (a, b):
        c.cmd("HSET", "h", "a", "1", "s", "abc")
        c.cmd("SADD", "s", "1", "2", "3")
        c.cmd("SET", "str", "x")
    for cmd in ERROR_CASES:
        same(a, b, *cmd)
    # NUL bytes in fields, values and members
    for cmd in (["HSET", "hn", "a\x00b", "v\x00", "\x00", "z"], ["HGET", "hn", "a\x00b"], ["HGET", "hn", "a"],
                ["SADD", "sn", "\x00", "\x00\x00", "a\x00"], ["SISMEMBER", "sn", "\x00\x00"], ["SCARD", "sn"]):
        same(a, b, *cmd)
    eq(sorted(a.cmd("SMEMBERS", "sn")), sorted(b.cmd("SMEMBERS", "sn")), "members with NUL")


@test("count 0 and SMOVE check the key's type in Redis's order")
def t_kind_order():
    # SRANDMEMBER/SPOP/HRANDFIELD look at the key's type before a count of 0;
    # SMOVE answers a missing source 0 whatever the destination is, then checks
    # the source's type, then the destination's; src == dst is membership
    skv, rds, tmp, a, b = pair()
    for c in (a, b):
        c.cmd("HSET", "h", "f", "v")
        c.cmd("SADD", "s", "m", "n")
        c.cmd("SET", "str", "x")
    for cmd in (["SRANDMEMBER", "str", "0"], ["SRANDMEMBER", "h", "0"], ["SRANDMEMBER", "nokey", "0"],
                ["SPOP", "str", "0"], ["SPOP", "h", "0"], ["SPOP", "nokey", "0"], ["SPOP", "s", "0"],
                ["HRANDFIELD", "str", "0"], ["HRANDFIELD", "s", "0", "WITHVALUES"], ["HRANDFIELD", "nokey", "0"],
                ["HRANDFIELD", "h", "0"], ["SMOVE", "nokey", "str", "m"], ["SMOVE", "nokey", "h", "m"],
                ["SMOVE", "s", "str", "zz"], ["SMOVE", "str", "s", "m"], ["SMOVE", "h", "nokey", "m"],
                ["SMOVE", "s", "s", "zz"], ["SMOVE", "s", "s", "m"], ["SMOVE", "s", "nokey", "zz"],
                ["EXISTS", "nokey"], ["SMOVE", "s", "d", "m"], ["SMEMBERS", "d"], ["SCARD", "s"]):
        same(a, b, *cmd)


STRING_COMMANDS = [
    ["GET", "{k}"], ["GETSET", "{k}", "v"], ["GETDEL", "{k}"], ["GETEX", "{k}"], ["APPEND", "{k}", "x"],
    ["INCR", "{k}"], ["DECRBY", "{k}", "2"], ["INCRBYFLOAT", "{k}", "1"], ["STRLEN", "{k}"],
    ["GETRANGE", "{k}", "0", "1"], ["SETRANGE", "{k}", "0", "x"], ["GETBIT", "{k}", "1"],
    ["SETBIT", "{k}", "1", "1"], ["BITCOUNT", "{k}"], ["BITPOS", "{k}", "1"], ["BITFIELD", "{k}", "GET", "u8", "0"],
    ["BITOP", "AND", "dst", "{k}"], ["LCS", "{k}", "str"], ["MGET", "{k}", "str"],
    ["HGET", "str", "f"], ["SADD", "str", "m"], ["SMEMBERS", "str"], ["HGETALL", "str"], ["SCARD", "str"],
    ["HSET", "s", "f", "v"], ["SADD", "h", "m"], ["HLEN", "s"], ["SINTER", "s", "h"], ["SUNIONSTORE", "d", "h"],
]


@test("WRONGTYPE from string commands on collections and the reverse, as redis-server")
def t_wrongtype():
    skv, rds, tmp, a, b = pair()
    for c in (a, b):
        c.cmd("HSET", "h", "a", "1")
        c.cmd("SADD", "s", "m")
        c.cmd("SET", "str", "x")
    for tmpl in STRING_COMMANDS:
        for k in ("h", "s"):
            same(a, b, *[x.replace("{k}", k) for x in tmpl])
    # SET replaces a collection, MSET too; the key is a string afterwards
    same(a, b, "SET", "h", "now-a-string")
    same(a, b, "TYPE", "h")
    same(a, b, "MSET", "s", "1")
    same(a, b, "TYPE", "s")


@test("COMMAND INFO: arity and key positions of the hash and set commands")
def t_command_info():
    skv, rds, tmp, a, b = pair()
    names = ["hset", "hsetnx", "hget", "hmget", "hmset", "hgetall", "hdel", "hexists", "hlen", "hkeys",
             "hvals", "hincrby", "hincrbyfloat", "hstrlen", "hrandfield", "hscan", "sadd", "srem",
             "sismember", "smismember", "smembers", "scard", "spop", "srandmember", "smove", "sinter",
             "sunion", "sdiff", "sinterstore", "sunionstore", "sdiffstore", "sintercard", "sscan"]
    ra, rb = a.cmd("COMMAND", "INFO", *names), b.cmd("COMMAND", "INFO", *names)
    for x, y in zip(ra, rb):
        eq([x[0], x[1], x[3], x[4], x[5]], [y[0], y[1], y[3], y[4], y[5]], "COMMAND INFO %s" % y[0])
        eq(b"write" in x[2], b"write" in y[2], "write flag of %s" % y[0])


@test("TYPE, OBJECT ENCODING across the compact threshold")
def t_encoding():
    skv, rds, tmp, a, b = pair()
    # Redis 7.0's upstream thresholds (Debian's redis-server starts with 512 entries)
    eq(b.cmd("CONFIG", "SET", "hash-max-listpack-entries", "128", "hash-max-listpack-value", "64"), "OK", "config")
    for c in (a, b):
        c.cmd("HSET", "hs", "f", "v")
        c.cmd("HSET", "hb", *sum([["f%d" % i, "v"] for i in range(200)], []))
        c.cmd("HSET", "hv", "f", "x" * 100)
        c.cmd("SADD", "si", "1", "2")
        c.cmd("SADD", "sb", *["m%d" % i for i in range(600)])
    for k in ("hs", "hb", "hv", "si", "sb", "nokey"):
        same(a, b, "TYPE", k)
    # hashes: listpack below 128 fields and 64-byte values, then hashtable, as Redis 7.0
    for k in ("hs", "hb", "hv", "sb", "nokey"):
        same(a, b, "OBJECT", "ENCODING", k)
    enc = a.cmd("OBJECT", "ENCODING", "si")
    true(enc in (b"intset", b"listpack", b"hashtable"), "small integer set encoding %r" % enc)
    same(a, b, "OBJECT", "REFCOUNT", "hs")


@test("TTL on collection keys: kept by writes, expiry removes the whole key")
def t_ttl():
    skv, rds, tmp, a, b = pair()
    for c in (a, b):
        c.cmd("HSET", "h", "f", "v")
        c.cmd("SADD", "s", "m")
    same(a, b, "PEXPIRE", "h", "300")
    same(a, b, "EXPIRE", "s", "1000")
    same(a, b, "HSET", "h", "g", "w")  # keeps the TTL
    same(a, b, "SADD", "s", "n")
    true(0 < a.cmd("PTTL", "h") <= 300, "HSET kept the hash's TTL")
    same(a, b, "TTL", "s")
    time.sleep(0.5)
    same(a, b, "EXISTS", "h")
    same(a, b, "HGETALL", "h")
    same(a, b, "HLEN", "h")
    same(a, b, "PERSIST", "s")
    same(a, b, "TTL", "s")
    # an emptied collection is gone, TTL and all
    same(a, b, "EXPIRE", "s", "100")
    same(a, b, "SREM", "s", "m", "n")
    same(a, b, "EXISTS", "s")
    same(a, b, "TTL", "s")


@test("RENAME, COPY, MOVE, DEL of collections; SCAN TYPE; RANDOMKEY")
def t_generic():
    skv, rds, tmp, a, b = pair()
    for c in (a, b):
        c.cmd("HSET", "h", *sum([["f%d" % i, "v%d" % i] for i in range(300)], []))
        c.cmd("SADD", "s", "a", "b", "c")
        c.cmd("SET", "str", "x")
    same(a, b, "RENAME", "h", "h2")
    same(a, b, "TYPE", "h2")
    same(a, b, "HLEN", "h2")
    eq(sorted(a.cmd("HGETALL", "h2")), sorted(b.cmd("HGETALL", "h2")), "renamed hash")
    same(a, b, "COPY", "s", "s2")
    same(a, b, "COPY", "s", "str")
    same(a, b, "COPY", "s", "str", "REPLACE")
    same(a, b, "TYPE", "str")
    same(a, b, "SADD", "s2", "d")
    same(a, b, "SCARD", "s")  # the copy is independent
    same(a, b, "SCARD", "s2")
    same(a, b, "RENAMENX", "s2", "h2")
    same(a, b, "MOVE", "s2", "1")
    same(a, b, "EXISTS", "s2")
    same(a, b, "SELECT", "1")
    eq(sorted(a.cmd("SMEMBERS", "s2")), sorted(b.cmd("SMEMBERS", "s2")), "moved set")
    same(a, b, "SELECT", "0")
    for t in ("hash", "set", "string", "zset", "list", "HASH", "nosuchtype"):
        ka = sorted(coll_diff.scan_all(a, ["SCAN", "0", "TYPE", t, "COUNT", "100"]).split(b"\r\n"))
        kb = sorted(coll_diff.scan_all(b, ["SCAN", "0", "TYPE", t, "COUNT", "100"]).split(b"\r\n"))
        eq(ka, kb, "SCAN TYPE %s" % t)
    same(a, b, "DEL", "h2", "str", "nokey")
    same(a, b, "DBSIZE")
    same(a, b, "RANDOMKEY")  # only "s" is left


@test("keyspace events of hash and set commands equal redis-server's")
def t_events():
    skv, rds, tmp, a, b = pair()
    subs = []
    for port in (coll_diff.PORT, coll_diff.REDIS_PORT):
        c = Raw(port)
        eq(c.cmd("CONFIG", "SET", "notify-keyspace-events", "KEA"), "OK", "notify config")
        s = Raw(port)
        s.cmd("PSUBSCRIBE", "__key*@0__:*")
        subs.append(s)
    script = [
        ["HSET", "h", "a", "1", "b", "2"], ["HSETNX", "h", "a", "x"], ["HSETNX", "h", "c", "3"],
        ["HINCRBY", "h", "n", "5"], ["HINCRBYFLOAT", "h", "f", "1.5"], ["HDEL", "h", "zz"],
        ["HDEL", "h", "a", "b", "c", "n", "f"], ["SADD", "s", "a", "b", "c"], ["SADD", "s", "a"],
        ["SREM", "s", "a"], ["SPOP", "s", "5"], ["SADD", "s", "x"], ["SADD", "t", "x", "y"],
        ["SMOVE", "t", "s", "y"], ["SINTERSTORE", "d", "s", "t"], ["SUNIONSTORE", "d", "s", "t"],
        ["SDIFFSTORE", "d", "s", "t"], ["SINTERSTORE", "d", "nokey"], ["HMSET", "h", "a", "1"],
        ["EXPIRE", "h", "100"], ["RENAME", "h", "h2"], ["DEL", "h2"],
    ]
    for cmd in script:
        if cmd[0] == "SPOP":  # the same members, in the set's order
            eq(sorted(a.cmd(*cmd)), sorted(b.cmd(*cmd)), " ".join(cmd))
        else:
            same(a, b, *cmd)
    same(a, b, "CONFIG", "SET", "notify-keyspace-events", "Kh")  # classes filter: hash only
    same(a, b, "SADD", "s", "q")
    same(a, b, "HSET", "h", "q", "1")
    same(a, b, "PUBLISH", "__keyspace@0__:end", "end")
    got = []
    for s in subs:
        msgs = []
        while True:
            m = s.reply()
            msgs.append(m)
            if m[-1] == b"end":
                break
        got.append(msgs)
    eq(got[0], got[1], "keyspace and keyevent messages")
    true(len(got[0]) > 30, "events were sent (%d)" % len(got[0]))


@test("MULTI/EXEC and WATCH with hash and set commands")
def t_multi():
    skv, rds, tmp, a, b = pair()
    for c in (a, b):
        c.cmd("MULTI")
        for cmd in (["HSET", "h", "f", "1"], ["HINCRBY", "h", "f", "2"], ["SADD", "s", "a"],
                    ["SMEMBERS", "s"], ["HGET", "h", "f"], ["HINCRBY", "s", "f", "1"], ["SCARD", "s"]):
            eq(c.cmd(*cmd), "QUEUED", "queued")
    same(a, b, "EXEC")
    # WATCH sees a collection write by another client
    w = Raw(coll_diff.PORT)
    eq(a.cmd("WATCH", "h"), "OK", "watch")
    w.cmd("HSET", "h", "g", "2")
    a.cmd("MULTI")
    a.cmd("HSET", "h", "x", "1")
    eq(a.cmd("EXEC"), None, "EXEC after a watched hash changed")
    eq(a.cmd("HEXISTS", "h", "x"), 0, "the transaction did not run")
    # concurrent HINCRBY in transactions and outside: no increment lost
    def bump(n):
        c = Raw(coll_diff.PORT)
        for _ in range(n):
            c.cmd("MULTI")
            c.cmd("HINCRBY", "cnt", "f", "1")
            c.cmd("SADD", "seen", "x")
            c.cmd("EXEC")
            c.cmd("HINCRBY", "cnt", "f", "1")
    ts = [threading.Thread(target=bump, args=(200,)) for _ in range(4)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    eq(a.cmd("HGET", "cnt", "f"), b"1600", "increments")


@test("HSCAN NOVALUES (Redis 7.4) returns the fields alone")
def t_hscan_novalues():
    skv, rds, tmp, a, b = pair()
    a.cmd("HSET", "h", *sum([["f%d" % i, "v%d" % i] for i in range(300)], []))
    fields, cursor = set(), b"0"
    while True:
        cursor, items = a.cmd("HSCAN", "h", cursor, "NOVALUES", "COUNT", "50")
        fields.update(items)
        if cursor == b"0":
            break
    eq(fields, {b"f%d" % i for i in range(300)}, "HSCAN NOVALUES fields")
    a.cmd("HSET", "small", "a", "1", "b", "2")
    eq(sorted(a.cmd("HSCAN", "small", "0", "NOVALUES")[1]), [b"a", b"b"], "small hash")


@test("the HTTP door: GET and INCR of a collection key are 409 WRONGTYPE, PUT replaces it")
def t_http():
    skv, rds, tmp = coll_diff.start_pair(extra=("--http-port", str(HTTP_PORT)))
    TMPDIRS.append(tmp)
    a = Raw(coll_diff.PORT)
    a.cmd("HSET", "h", "f", "v")
    a.cmd("SET", "str", "x")
    url = "http://127.0.0.1:%d/v1/ns/0/keys/" % HTTP_PORT
    with urllib.request.urlopen(url + "str", timeout=10) as r:
        eq(r.status, 200, "string key")
    try:
        urllib.request.urlopen(url + "h", timeout=10)
        raise AssertionError("GET of a hash answered 2xx")
    except urllib.error.HTTPError as e:
        eq(e.code, 409, "status of a hash key")
        body = e.read().decode()
        true("WRONGTYPE" in body.upper(), "body names WRONGTYPE: %s" % body)
    try:
        urllib.request.urlopen(urllib.request.Request(url + "h/incr?by=1", method="POST"), timeout=10)
        raise AssertionError("INCR of a hash answered 2xx")
    except urllib.error.HTTPError as e:
        eq(e.code, 409, "status of an INCR of a hash key")
    eq(a.cmd("HGET", "h", "f"), b"v", "the server is fine afterwards")
    # PUT replaces a collection, as SET does (204: the key existed)
    with urllib.request.urlopen(urllib.request.Request(url + "h", data=b"now", method="PUT"), timeout=10) as r:
        eq(r.status, 204, "PUT over a hash")
    eq(a.cmd("TYPE", "h"), "string", "the hash was replaced")
    eq(a.cmd("GET", "h"), b"now", "its new value")


if __name__ == "__main__":
    stop_all()
    for d in TMPDIRS:
        shutil.rmtree(d, ignore_errors=True)
    sys.exit(0 if summary() else 1)
