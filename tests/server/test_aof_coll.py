"""
test_aof_coll.py -- the append-only file with hashes and sets (issue 12):
effect records replay after kill -9 to exactly what was acknowledged.

  * a seeded stream of hash, set and generic writes (HINCRBYFLOAT, SPOP, SMOVE,
    STOREs, RENAME, COPY, EXPIRE, DEL ...) runs on shardkv-server under
    appendfsync always and on redis-server as the model, with a BGREWRITEAOF in
    the middle; kill -9, restart, and every key (type, content, TTL or not) must
    equal redis-server's; once more under ASan+UBSan;
  * writers on several connections (so on both worker threads) hammer the same
    keys with HINCRBY, SADD, SPOP and SMOVE, also in MULTI/EXEC: the state after
    kill -9 and replay equals the state read before the kill;
  * one HSET on a 20000-field hash appends a record of its own size, not the
    hash's.

Ports: AOF_COLL_PORT (6387) shardkv-server, COLL_REDIS_PORT (6385) redis-server.
Run: /usr/bin/python3 tests/server/test_aof_coll.py [-k words]
"""
import glob
import os
import shutil
import signal
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import coll_diff  # noqa: E402
import gen_hash_set as G  # noqa: E402
import harness  # noqa: E402
from harness import Raw, Server, eq, stop_all, summary, test, true  # noqa: E402

P = int(os.environ.get("AOF_COLL_PORT", 6387))
TMP = tempfile.mkdtemp(prefix="skv-aof-coll-")


ASAN_BIN = os.path.join(harness.ROOT, "build", "asan", "shardkv-server")


def start(d, binary=None):
    return harness.shardkv(P, "--dir", d, "--save", "", "--appendonly", "yes", "--appendfsync", "always",
                           binary=binary, name="aof-coll-asan" if binary else "aof-coll").wait_ready(60)


def redis_model():
    d = os.path.join(TMP, "redis-%d" % len(os.listdir(TMP)))
    os.makedirs(d)
    return Server([coll_diff.REDIS_SERVER, "--port", str(coll_diff.REDIS_PORT), "--bind", "127.0.0.1",
                   "--save", "", "--appendonly", "no", "--dir", d], coll_diff.REDIS_PORT, "aof-coll-redis").wait_ready()


def fresh(name):
    d = os.path.join(TMP, name)
    os.makedirs(d)
    return d


# the writes (and a few reads, whose replies are compared too)
WRITES = [
    (8, G.g_hset), (2, G.g_hmset), (2, G.g_hsetnx), (4, G.g_hdel), (3, G.g_hincrby), (3, G.g_hincrbyfloat),
    (8, G.g_sadd), (4, G.g_srem), (3, G.g_spop), (2, G.g_smove), (3, G.g_setop_store),
    (2, G.g_strings), (1, G.g_del), (1, G.g_rename), (1, G.g_copy), (2, G.g_expire), (2, G.g_hget),
]


def stream_crash(name, binary=None):
    d = fresh(name)
    skv = start(d, binary)
    rds = redis_model()
    div = coll_diff.run_stream(WRITES, 21, 1200, skv_port=P)
    eq(div, None, "replies during the stream")
    c = Raw(P)
    eq(c.cmd("BGREWRITEAOF"), "Background append only file rewriting started", "rewrite")
    div = coll_diff.run_stream(WRITES, 22, 1200, skv_port=P, flush=False)
    eq(div, None, "replies during the rewrite")
    harness.wait_until(lambda: Raw(P).cmd("INFO", "persistence").find(b"aof_rewrite_in_progress:0") >= 0,
                       30, "the rewrite to end")
    div = coll_diff.run_stream(WRITES, 23, 600, skv_port=P, flush=False)
    eq(div, None, "replies after the rewrite")
    want = coll_diff.dump_state(Raw(coll_diff.REDIS_PORT))
    eq(coll_diff.dump_state(Raw(P)), want, "live state equals the model")
    eq(coll_diff.sanitizer_report(skv), None, "sanitizer report before the kill")
    skv.stop(signal.SIGKILL)
    skv = start(d, binary)
    got = coll_diff.dump_state(Raw(P))
    eq(sorted(got), sorted(want), "keys after replay")
    for k in want:
        eq(got[k], want[k], "key %r after replay" % k)
    true(len(want) > 5, "the stream left keys (%d)" % len(want))
    eq(coll_diff.sanitizer_report(skv), None, "sanitizer report of the replay")


@test("acknowledged hash/set writes survive kill -9 (appendfsync always, a rewrite midway)")
def t_stream_crash():
    stream_crash("stream")


@test("the same under ASan+UBSan")
def t_stream_crash_asan():
    true(os.path.exists(ASAN_BIN), "build/asan/shardkv-server is built (make all)")
    stream_crash("stream-asan", ASAN_BIN)


@test("concurrent collection writers on both workers replay to the acknowledged state")
def t_concurrent_crash():
    d = fresh("concurrent")
    start(d)

    def writer(n, seed):
        c = Raw(P)
        for i in range(n):
            c.cmd("HINCRBY", "cnt", "f%d" % (i % 3), "1")
            c.cmd("HINCRBYFLOAT", "cnt", "x", "0.5")
            c.cmd("SADD", "pool", "m%d" % ((i * 7 + seed) % 50))
            if i % 3 == 0:
                c.cmd("SPOP", "pool")
            if i % 5 == 0:
                c.cmd("SMOVE", "pool", "other", "m%d" % (i % 50))
            if i % 7 == 0:
                c.cmd("MULTI")
                c.cmd("HSET", "tx", "last", "%d-%d" % (seed, i))
                c.cmd("SREM", "other", "m%d" % (i % 50))
                c.cmd("HINCRBY", "cnt", "tx", "1")
                c.cmd("EXEC")
    ts = [threading.Thread(target=writer, args=(300, s)) for s in range(4)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    want = coll_diff.dump_state(Raw(P))
    eq(Raw(P).cmd("HGET", "cnt", "f0"), b"400", "no increment lost")
    harness.PROCS[-1].stop(signal.SIGKILL)
    start(d)
    eq(coll_diff.dump_state(Raw(P)), want, "state after replay")


@test("one HSET on a 20000-field hash logs its own size, not the hash")
def t_effect_size():
    d = fresh("size")
    start(d)
    c = Raw(P)
    for i in range(0, 20000, 1000):
        c.cmd("HSET", "big", *sum([["field:%06d" % j, "value:%06d" % j] for j in range(i, i + 1000)], []))
    incr = sorted(glob.glob(os.path.join(d, "appendonlydir", "*.incr.aof")))[-1]
    before = os.path.getsize(incr)
    for i in range(10):
        eq(c.cmd("HSET", "big", "field:000001", "new%d" % i), 0, "HSET of an existing field")
    c.cmd("HINCRBY", "big", "n", "1")
    grown = os.path.getsize(incr) - before
    true(grown < 2000, "11 small writes appended %d bytes" % grown)
    c.cmd("EXPIRE", "big", "1000")  # an expiry change: one PEXPIREAT, not the hash
    true(os.path.getsize(incr) - before - grown < 200, "EXPIRE of the big hash logged its expiry only")
    harness.PROCS[-1].stop(signal.SIGKILL)
    start(d)
    c = Raw(P)
    eq(c.cmd("HLEN", "big"), 20001, "fields after replay")
    eq(c.cmd("HGET", "big", "field:000001"), b"new9", "the last write")
    true(c.cmd("TTL", "big") > 900, "the expiry after replay")


@test("a transaction that SELECTs between collection writes replays in each database")
def t_multi_select():
    d = fresh("select")
    start(d)
    c = Raw(P)
    c.cmd("MULTI")
    for cmd in (["HSET", "h", "f", "0"], ["SELECT", "1"], ["SADD", "s", "a", "b"], ["HINCRBY", "h", "f", "5"],
                ["SELECT", "0"], ["SREM", "s", "x"], ["SADD", "s", "z"]):
        eq(c.cmd(*cmd), "QUEUED", "queued")
    eq(c.cmd("EXEC"), [1, "OK", 2, 5, "OK", 0, 1], "EXEC")
    harness.PROCS[-1].stop(signal.SIGKILL)
    start(d)
    c = Raw(P)
    eq(c.cmd("HGET", "h", "f"), b"0", "db 0's hash")
    eq(c.cmd("SMEMBERS", "s"), [b"z"], "db 0's set")
    c.cmd("SELECT", "1")
    eq(c.cmd("HGET", "h", "f"), b"5", "db 1's hash")
    eq(sorted(c.cmd("SMEMBERS", "s")), [b"a", b"b"], "db 1's set")


try:
    pass
finally:
    stop_all()
    shutil.rmtree(TMP, ignore_errors=True)

sys.exit(0 if summary() else 1)
