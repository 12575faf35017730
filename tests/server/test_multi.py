"""
test_multi.py -- MULTI / EXEC / DISCARD / WATCH / UNWATCH on shardkv-server
(issue 14): replies compared byte for byte with Debian's redis-server, the
one-batch EXEC never seen half-done by MGET, WATCH conflicts (another client,
expiry, FLUSHDB), python3-redis pipelines and an EXEC in the AOF.

Ports: 6397 (shardkv), 6398 (redis-server).  Every process is stopped by PID.
Run: /usr/bin/python3 tests/server/test_multi.py [-k words-of-a-test-name]
"""
import os
import shutil
import signal
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import redis  # noqa: E402  (python3-redis, Debian)

from harness import Raw, Server, encode, eq, shardkv, stop_all, summary, test, true  # noqa: E402

P, P_REDIS = int(os.environ.get("MULTI_TEST_PORT", 6397)), int(os.environ.get("MULTI_TEST_REDIS_PORT", 6398))
TMP = tempfile.mkdtemp(prefix="skv-multi-test-")


def client(port=P, **kw):
    return redis.Redis(host="127.0.0.1", port=port, socket_timeout=30, **kw)


def session(port, cmds, resp3=False):
    """One connection, one raw reply per command."""
    r = Raw(port)
    if resp3:
        r.cmd("HELLO", "3")
    out = []
    for c in cmds:
        r.send(encode(*c))
        out.append(r.raw_reply())
    return out


try:
    main = shardkv(P, "--dir", os.path.join(TMP, "main"), "--save", "", name="multi").wait_ready()
    ref = Server(["redis-server", "--port", str(P_REDIS), "--bind", "127.0.0.1", "--save", "",
                  "--appendonly", "no", "--dir", TMP], P_REDIS, "redis-multi").wait_ready()

    SCRIPTS = {
        "queue and exec": [["MULTI"], ["SET", "a", "1"], ["INCR", "a"], ["GET", "a"], ["DEL", "a", "zz"],
                           ["EXEC"]],
        "one-batch exec": [["MULTI"], ["MSET", "x", "1", "y", "2"], ["MGET", "x", "y", "nope"],
                           ["EXISTS", "x", "y", "x"], ["GET", "y"], ["UNLINK", "x"], ["SET", "z", "v"], ["EXEC"]],
        "runtime error inside exec": [["SET", "s", "text"], ["MULTI"], ["INCR", "s"], ["SET", "t", "1"],
                                      ["EXEC"], ["GET", "t"]],
        "execabort: unknown command": [["MULTI"], ["SET", "k", "1"], ["NOSUCH", "x"], ["EXEC"], ["GET", "k"]],
        "execabort: arity": [["MULTI"], ["GET"], ["EXEC"]],
        "nesting and strays": [["EXEC"], ["DISCARD"], ["MULTI"], ["MULTI"], ["WATCH", "k"], ["DISCARD"],
                               ["DISCARD"]],
        "discard drops the queue": [["SET", "d", "0"], ["MULTI"], ["INCR", "d"], ["DISCARD"], ["GET", "d"]],
        "empty exec": [["MULTI"], ["EXEC"]],
        "watch own write": [["WATCH", "w"], ["SET", "w", "1"], ["MULTI"], ["GET", "w"], ["EXEC"]],
        "unwatch clears": [["WATCH", "w2"], ["SET", "w2", "1"], ["UNWATCH"], ["MULTI"], ["GET", "w2"], ["EXEC"]],
        "watch clean": [["WATCH", "w3", "w4"], ["MULTI"], ["SET", "w3", "x"], ["EXEC"]],
        "exec clears watch": [["WATCH", "w5"], ["MULTI"], ["EXEC"], ["SET", "w5", "1"], ["MULTI"], ["EXEC"]],
        "select inside": [["MULTI"], ["SELECT", "1"], ["SET", "in1", "v"], ["EXEC"], ["GET", "in1"], ["SELECT", "0"],
                          ["GET", "in1"]],
        "incr batch": [["SET", "i0", "10"], ["MULTI"], ["INCR", "i0"], ["INCRBY", "i0", "5"], ["DECR", "i1"],
                       ["DECRBY", "i1", "-7"], ["GET", "i0"], ["MSET", "i2", "1", "i3", "2"], ["INCRBY", "i2", "-3"],
                       ["EXEC"], ["MGET", "i0", "i1", "i2"]],
        "incr fails at exec": [["SET", "t", "abc"], ["SET", "big", "9223372036854775807"], ["MULTI"], ["INCR", "n"],
                               ["INCR", "t"], ["INCR", "big"], ["DECRBY", "n", "-9223372036854775808"],
                               ["INCRBY", "n", "x"], ["INCR", "n"], ["EXEC"], ["GET", "n"]],
    }

    @test("multi: replies equal redis-server's byte for byte (RESP2 and RESP3)")
    def t_differential():
        for resp3 in (False, True):
            for name, cmds in SCRIPTS.items():
                for port in (P, P_REDIS):
                    client(port).flushall()
                got = session(P, cmds, resp3)
                want = session(P_REDIS, cmds, resp3)
                eq(got, want, "%s (RESP%d)" % (name, 3 if resp3 else 2))

    @test("multi: WATCH conflict from another client, an expiry and FLUSHDB give a null reply")
    def t_watch_conflicts():
        r = client()
        r.flushall()
        for setup, breaker in [
            (lambda: r.set("k", "1"), lambda: client().set("k", "2")),
            (lambda: r.set("k", "1", px=50), lambda: time.sleep(0.3)),
            (lambda: r.set("k", "1"), lambda: client().flushdb()),
        ]:
            setup()
            p = r.pipeline(transaction=True)
            p.watch("k")
            breaker()
            p.multi()
            p.set("k", "mine")
            try:
                p.execute()
                raise AssertionError("EXEC ran despite the watched key changing")
            except redis.WatchError:
                pass
            eq(r.get("k") in (b"1", b"2", None), True, "the transaction did not apply")

    @test("multi: a one-batch EXEC (MSET-like SETs) is never seen half-done by MGET")
    def t_atomic_batch():
        r = client()
        r.mset({"p": "0", "q": "0"})
        stop = threading.Event()
        seen_half = []

        def reader():
            c = client()
            while not stop.is_set():
                a, b = c.mget("p", "q")
                if a != b:
                    seen_half.append((a, b))
        ts = [threading.Thread(target=reader) for _ in range(2)]
        for t in ts:
            t.start()
        w = client()
        for i in range(3000):
            p = w.pipeline(transaction=True)
            p.set("p", i)
            p.set("q", i)
            p.execute()
        stop.set()
        for t in ts:
            t.join()
        eq(seen_half[:3], [], "MGET saw half of an EXEC")

    @test("multi: an EXEC of INCR/DECR runs as one batch: MGET never sees x + y != 0")
    def t_atomic_incr():
        r = client()
        r.mset({"x": "0", "y": "0"})
        stop = threading.Event()
        seen = []

        def reader():
            c = client()
            while not stop.is_set():
                p = c.pipeline(transaction=False)  # 50 samples a round trip: a dense probe
                for _ in range(50):
                    p.mget("x", "y")
                for a, b in p.execute():
                    if int(a) + int(b) != 0:
                        seen.append((a, b))
        ts = [threading.Thread(target=reader) for _ in range(2)]
        for t in ts:
            t.start()
        w = client()
        for i in range(3000):
            p = w.pipeline(transaction=True)
            p.incr("x")
            p.decrby("y", 1)
            p.execute()
        stop.set()
        for t in ts:
            t.join()
        eq(seen[:3], [], "MGET saw half of an INCR EXEC")
        eq(r.mget("x", "y"), [b"3000", b"-3000"], "every increment applied")

    @test("multi: optimistic lock with python3-redis transaction() and WATCH, 4 clients")
    def t_optimistic():
        r = client()
        r.set("counter", 0)

        def bump(n):
            c = client()
            for _ in range(n):
                def fn(pipe):
                    v = int(pipe.get("counter"))
                    pipe.multi()
                    pipe.set("counter", v + 1)
                c.transaction(fn, "counter")
        ts = [threading.Thread(target=bump, args=(100,)) for _ in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        eq(int(r.get("counter")), 400, "every increment counted once")

    @test("multi: WATCH and UNWATCH of 300k keys stay fast and stall no writer (was O(n^2) under one mutex)")
    def t_big_watch():
        r, w = client(), client()
        keys = ["w%d" % i for i in range(300000)]
        worst = [0.0]
        stop = threading.Event()

        def writer():
            while not stop.is_set():
                t0 = time.monotonic()
                w.set("other", "x")
                worst[0] = max(worst[0], time.monotonic() - t0)
        t = threading.Thread(target=writer)
        t.start()
        t0 = time.monotonic()
        r.execute_command("WATCH", *keys)
        r.execute_command("WATCH", *keys[:1000])  # a key watched twice is fine
        r.set("w5", "changed")                     # marks the watcher dirty
        p = r.pipeline(transaction=False)
        p.execute_command("MULTI")
        p.execute_command("SET", "done", "1")
        p.execute_command("EXEC")
        res = p.execute()
        took = time.monotonic() - t0
        stop.set()
        t.join()
        eq(res[-1], None, "EXEC after a watched key changed is a null reply")
        true(took < 10.0, "WATCH/EXEC of 300k keys took %.2f s" % took)
        true(worst[0] < 2.0, "a writer on another connection waited %.2f s" % worst[0])
        print("    WATCH+EXEC of 300k keys: %.2f s; worst concurrent SET: %.3f s" % (took, worst[0]))

    @test("multi: KEYS inside EXEC keeps the replies in order; RESET discards MULTI")
    def t_keys_reset():
        r = client()
        r.flushall()
        p = r.pipeline(transaction=False)
        for i in range(300000):
            p.set("key:%d" % i, "")
        p.execute()
        c = Raw(P)
        c.cmd("MULTI")
        c.cmd("KEYS", "key:1999*")
        c.cmd("PING")
        out = c.cmd("EXEC")
        eq(sorted(out[0]), sorted(b"key:%d" % k for k in range(300000) if str(k).startswith("1999")), "KEYS")
        eq(out[1], "PONG", "the reply after KEYS")
        c.cmd("MULTI")
        c.cmd("SET", "after-reset", "1")
        eq(c.cmd("RESET"), "RESET", "RESET")
        eq(str(c.cmd("EXEC")), "ERR EXEC without MULTI", "no MULTI after RESET")
        eq(r.exists("after-reset"), 0, "the queued SET did not run")
        r.flushall()

    @test("multi: an EXEC is one AOF record; it survives kill -9")
    def t_aof():
        d = os.path.join(TMP, "aof")
        main.stop(signal.SIGTERM)
        s = shardkv(P, "--dir", d, "--save", "", "--appendonly", "yes", "--appendfsync", "always",
                    name="multi-aof").wait_ready()
        r = client()
        p = r.pipeline(transaction=True)
        p.incr("a")
        p.incrby("b", 5)
        p.set("c", "x", ex=100)
        eq(p.execute(), [1, 5, True], "EXEC")
        s.stop(signal.SIGKILL)
        shardkv(P, "--dir", d, "--save", "", "--appendonly", "yes", name="multi-aof").wait_ready()
        eq((r.get("a"), r.get("b"), r.get("c")), (b"1", b"5", b"x"), "after replay")
        true(0 < r.ttl("c") <= 100, "ttl")
finally:
    stop_all()
    shutil.rmtree(TMP, ignore_errors=True)

sys.exit(0 if summary() else 1)
