"""
test_batch.py -- pipelined string writes as one engine batch (server/batch.c,
issue 15): runs of GET, SET [EX|PX], SETEX, PSETEX, DEL, UNLINK, INCR, DECR,
INCRBY and DECRBY of one pipeline read go to the engine as one best-effort
kv_batch.  Each test sends the same pipeline to shardkv-server and to Debian's
redis-server and compares them: replies byte for byte (errors in the middle of
a run: a non-integer INCR, an overflow, a bad expire time, a wrong type,
arity), final values and TTLs, keyspace events in order, WATCH / MULTI around
and inside a run, total_commands_processed and CLIENT LIST's cmd; then a
maxmemory refusal inside a run, and the AOF replay of a batched pipeline with
TTLs after kill -9.

Ports: BATCH_TEST_PORT (6390, shardkv), BATCH_TEST_REDIS_PORT (6391,
redis-server).  Every process is stopped by PID.
Run: /usr/bin/python3 tests/server/test_batch.py [-k words-of-a-test-name]
"""
import os
import random
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Err, Raw, Server, encode, eq, shardkv, stop_all, summary, test, true  # noqa: E402

P = int(os.environ.get("BATCH_TEST_PORT", 6390))
P_REDIS = int(os.environ.get("BATCH_TEST_REDIS_PORT", 6391))
TMP = tempfile.mkdtemp(prefix="skv-batch-test-")
KEYS = ["b%d" % j for j in range(40)]


def script(seed, n):
    """A pipeline of batchable commands with errors and other commands between them."""
    rnd = random.Random(seed)
    cmds = []
    for i in range(n):
        k = rnd.choice(KEYS)
        x = rnd.random()
        if x < 0.14:
            cmds.append(("SET", k, "v%d" % i))
        elif x < 0.20:
            cmds.append(("set", k, "%d" % rnd.randint(-5, 5), rnd.choice(["EX", "px", "ex"]),
                         rnd.choice(["150000", "200000", "0", "-1", "x", "9223372036854775807", "99999999999999999999"])))
        elif x < 0.28:
            cmds.append(("SETEX", k, rnd.choice(["100", "1000", "0", "-3", "1.5", "abc", "9223372036854775807"]),
                         str(rnd.randint(0, 9))))
        elif x < 0.33:
            cmds.append(("PSETEX", k, rnd.choice(["100000", "5000000", "0", "nope"]), "p%d" % i))
        elif x < 0.43:
            cmds.append(("INCR" if rnd.random() < 0.5 else "decr", k))
        elif x < 0.50:
            by = rnd.choice(["1", "-7", "9223372036854775807", "-9223372036854775808", "x", "1e3", ""])
            cmds.append((rnd.choice(["INCRBY", "DECRBY"]), k, by))
        elif x < 0.58:
            cmds.append(("DEL",) + tuple(rnd.choice(KEYS) for _ in range(rnd.randint(1, 5))))
        elif x < 0.61:
            cmds.append(("UNLINK", k))
        elif x < 0.78:
            cmds.append(("GET", k))
        elif x < 0.80:
            cmds.append(("SET", k, "t%d" % i, "NX"))  # options: the normal path, between batched ones
        elif x < 0.82:
            cmds.append(("LPUSH", k, "l"))  # a list: WRONGTYPE for the string commands after it
        elif x < 0.84:
            cmds.append(("SETEX", k, "5"))  # arity errors inside a run
        elif x < 0.85:
            cmds.append(("DEL",))
        elif x < 0.87:
            cmds.append(("APPEND", k, "9"))  # makes numbers non-integers sometimes
        elif x < 0.89:
            cmds.append(("DEL", k) + tuple("nokey%d" % j for j in range(32)))  # more keys than a batch holds
        else:
            cmds.append(("INCRBY", k, str(rnd.choice([2 ** 62, -(2 ** 62)]))))  # overflow after a few
    return cmds


def run_both(cmds, setup=(), sub_pattern=None):
    """Replies, final state and (with sub_pattern) the keyspace events of cmds on both servers."""
    data = b"".join(encode(*c) for c in cmds)
    res = []
    for port in (P, P_REDIS):
        c = Raw(port)
        c.cmd("FLUSHALL")
        for s in setup:
            c.cmd(*s)
        sub = None
        if sub_pattern:
            sub = Raw(port)
            sub.cmd("PSUBSCRIBE", sub_pattern)
        c.send(data)
        replies = [c.raw_reply() for _ in cmds]
        events = []
        if sub:
            c.cmd("SET", "end-of-script", "1")
            while True:
                m = sub.reply()
                if m[-1] == b"end-of-script" or m[2].endswith(b"end-of-script"):
                    break
                events.append((m[2], m[3]))
            sub.close()
        final = []
        for k in KEYS:
            t = c.cmd("TYPE", k)
            v = c.cmd("GET", k) if t == "string" else t
            final.append((k, v, c.cmd("TTL", k)))
        c.cmd("CONFIG", "SET", "notify-keyspace-events", "")
        c.close()
        res.append((replies, events, final))
    return res


def diff(cmds, a, b, what):
    bad = [(cmds[i], a[i], b[i]) for i in range(len(cmds)) if a[i] != b[i]]
    eq(bad[:3], [], what + " mismatches (command, shardkv, redis)")


def same_final(fa, fb):
    for (k, va, ta), (_, vb, tb) in zip(fa, fb):
        eq(va, vb, "final value of " + k)
        true(ta == tb or (ta > 0 and tb > 0 and abs(ta - tb) <= 1), "TTL of %s: %r vs %r" % (k, ta, tb))


def info_field(c, section, field):
    text = c.cmd("INFO", section).decode()
    for ln in text.split("\r\n"):
        if ln.startswith(field + ":"):
            return int(ln.split(":", 1)[1])
    raise AssertionError("no %s in INFO %s" % (field, section))


try:
    main = shardkv(P, "--dir", os.path.join(TMP, "main"), "--save", "", name="batch").wait_ready()
    ref = Server(["redis-server", "--port", str(P_REDIS), "--bind", "127.0.0.1", "--save", "",
                  "--appendonly", "no", "--dir", TMP], P_REDIS, "redis-batch").wait_ready()

    @test("batch: mixed pipelines with errors in the middle reply and end exactly as redis-server")
    def t_mixed():
        for seed in (1, 2, 3):
            cmds = script(seed, 700)
            (ra, _, fa), (rb, _, fb) = run_both(cmds)
            diff(cmds, ra, rb, "seed %d" % seed)
            same_final(fa, fb)
            errs = set(r.split(b" ")[0] for r in rb if r.startswith(b"-"))
            true({b"-ERR", b"-WRONGTYPE"} <= errs, "the script made errors: %r" % errs)
            true(b":0\r\n" in rb and any(r.startswith(b":") and r not in (b":0\r\n", b":1\r\n") for r in rb),
                 "the script made counts and sums")

    @test("batch: a run of each kind alone (all SETEX, all INCR, all DEL ...) as redis-server")
    def t_runs():
        for build in (lambda i: ("SETEX", KEYS[i % 40], "100", "v%d" % i),
                      lambda i: ("PSETEX", KEYS[i % 40], str(1000 + i), "v%d" % i),
                      lambda i: ("SET", KEYS[i % 40], str(i), "EX", "50"),
                      lambda i: ("INCRBY", KEYS[i % 7], str(i)),
                      lambda i: ("DECR", KEYS[i % 3]),
                      lambda i: ("DEL", KEYS[i % 40], KEYS[(i * 7) % 40], KEYS[i % 40]),
                      lambda i: ("UNLINK", KEYS[i % 40])):
            cmds = [build(i) for i in range(200)]
            setup = [("MSET",) + tuple(x for k in KEYS for x in (k, "1"))]
            (ra, _, fa), (rb, _, fb) = run_both(cmds, setup)
            diff(cmds, ra, rb, cmds[0][0])
            same_final(fa, fb)

    @test("batch: keyspace events of batched writes in redis-server's order (KEA, and K$ with SETEX batched)")
    def t_events():
        cmds = [c for c in script(5, 500) if c[0].upper() != "LPUSH"]
        for flags in ("KEA", "KE$", "Kg$"):
            setup = [("CONFIG", "SET", "notify-keyspace-events", flags)]
            pattern = "__keyevent@0__:*" if "E" in flags else "__keyspace@0__:*"
            (ra, ea, fa), (rb, eb, fb) = run_both(cmds, setup, pattern)
            diff(cmds, ra, rb, flags)
            eq(len(ea), len(eb), flags + ": as many events")
            eq([(i, ea[i], eb[i]) for i in range(len(ea)) if ea[i] != eb[i]][:3], [], flags + ": same order")
            true(len(eb) > 200, flags + ": the script made events (%d)" % len(eb))
            same_final(fa, fb)

    @test("batch: WATCH sees batched writes of another client (and not DEL of a missing key), as redis-server")
    def t_watch():
        for port in (P, P_REDIS):
            a, b = Raw(port), Raw(port)
            a.cmd("FLUSHALL")
            a.cmd("SET", "w", "0")
            outs = []
            for hit in ([("SET", "x", "1"), ("INCR", "w"), ("GET", "x")],
                        [("SETEX", "w", "100", "v"), ("SET", "y", "1")],
                        [("DEL", "nope", "w", "y")],
                        [("DEL", "nope", "nope2"), ("INCR", "other")],
                        [("SET", "w", "5", "PX", "100000"), ("DECRBY", "w", "2")],
                        [("INCR", "w"), ("INCR", "w")]):
                a.cmd("WATCH", "w")
                b.send(b"".join(encode(*c) for c in hit))
                outs.append([b.raw_reply() for _ in hit])
                outs.append([a.cmd("MULTI"), a.cmd("SET", "w", "mine"), a.cmd("EXEC")])
                a.cmd("SET", "w", "0")
            if port == P:
                got = outs
            else:
                want = outs
            a.close()
            b.close()
        eq(got, want, "watch outcomes")

    @test("batch: MULTI inside a pipeline queues, nothing batched; commands around it batch, as redis-server")
    def t_multi():
        cmds = [("SET", "m", "1"), ("INCR", "m"), ("MULTI",), ("SET", "m", "x"), ("INCR", "m"), ("SETEX", "n", "100", "2"),
                ("DEL", "m", "n"), ("INCRBY", "n", "bad"), ("GET", "n"), ("EXEC",), ("GET", "m"), ("INCR", "n"),
                ("MULTI",), ("SETEX", "k", "0", "v"), ("EXEC",), ("MULTI",), ("INCR", "q"), ("DISCARD",), ("GET", "q"),
                ("SET", "q", "a"), ("MULTI",), ("INCR", "q"), ("SET", "r", "1"), ("EXEC",), ("GET", "r")]
        for resp3 in (False, True):
            (ra, _, fa), (rb, _, fb) = run_both(cmds, [("HELLO", "3")] if resp3 else [])
            diff(cmds, ra, rb, "resp3" if resp3 else "resp2")
            same_final(fa, fb)

    @test("batch: total_commands_processed and CLIENT LIST cmd= count each batched command, as redis-server")
    def t_stats():
        cmds = [c for c in script(9, 400) if c[0].upper() not in ("DEL",) or len(c) > 1]
        cmds = [c for c in cmds if not (c[0].upper() == "SETEX" and len(c) != 4)]  # no rejected calls
        cmds.append(("DECRBY", "last", "3"))
        data = b"".join(encode(*c) for c in cmds)
        deltas, last = [], []
        for port in (P, P_REDIS):
            c, o = Raw(port), Raw(port)
            c.cmd("FLUSHALL")
            c.cmd("CLIENT", "SETNAME", "piper")
            before = info_field(c, "stats", "total_commands_processed")
            c.send(data)
            for _ in cmds:
                c.raw_reply()
            deltas.append(info_field(c, "stats", "total_commands_processed") - before)
            line = [ln for ln in o.cmd("CLIENT", "LIST").decode().split("\n") if "name=piper" in ln][0]
            last.append([f for f in line.split() if f.startswith("cmd=")])
            c.close()
            o.close()
        eq(deltas[0], deltas[1], "total_commands_processed delta")
        eq(deltas[0], len(cmds) + 1, "one per command (and the INFO)")
        eq(last[0], last[1], "CLIENT LIST cmd of the last batched command")

    @test("batch: maxmemory refuses a batched SET / SETEX / INCR of a new key with -OOM, lets DEL and GET run")
    def t_oom():
        c = Raw(P)
        c.cmd("FLUSHALL")
        c.cmd("SET", "n", "10")
        c.cmd("SET", "keep", "v")
        eq(c.cmd("CONFIG", "SET", "maxmemory", "2mb", "maxmemory-policy", "noeviction"), "OK", "config")
        i = 0
        while c.cmd("SET", "fill:%d" % i, "x" * 500) == "OK":
            i += 1
        oom = b"-OOM command not allowed when used memory > 'maxmemory'.\r\n"
        cmds = [("SET", "new1", "x" * 500), ("GET", "keep"), ("SETEX", "new2", "100", "x" * 500),
                ("INCR", "new3" + "y" * 2000), ("DECRBY", "n", "3"), ("PSETEX", "new4", "1000", "x" * 500), ("GET", "new1"),
                ("DEL", "fill:0", "nope")]
        c.send(b"".join(encode(*x) for x in cmds))
        got = [c.raw_reply() for _ in cmds]
        eq(got, [oom, b"$1\r\nv\r\n", oom, oom, b":7\r\n", oom, b"$-1\r\n", b":1\r\n"], "replies in order")
        c.cmd("CONFIG", "SET", "maxmemory", "0")
        c.cmd("FLUSHALL")
        c.close()

    @test("batch: an AOF of a batched pipeline with TTLs replays after kill -9 to the same values and expiries")
    def t_aof():
        d = os.path.join(TMP, "aof")
        os.makedirs(d)
        main.stop()  # the port is this test's for a while
        s = shardkv(P, "--dir", d, "--save", "", "--appendonly", "yes", "--appendfsync", "always",
                    name="batch-aof").wait_ready()
        try:
            cmds = [c for c in script(21, 900) if c[0].upper() != "LPUSH"]
            cmds += [("SETEX", "t1", "1000", "a"), ("PSETEX", "t2", "2000000", "b"), ("SET", "t3", "c", "EX", "3000"),
                     ("INCR", "t1"), ("SET", "t4", "d", "PX", "150"), ("DEL", "b1", "b2"), ("GET", "t2")]
            c = Raw(P)
            c.send(b"".join(encode(*x) for x in cmds))
            replies = [c.raw_reply() for _ in cmds]
            eq(replies[-1], b"$1\r\nb\r\n", "the pipeline ran")
            keys = KEYS + ["t1", "t2", "t3"]

            def state():
                return {k: (c.cmd("GET", k), c.cmd("PEXPIRETIME", k)) for k in keys}
            before = state()
            true(sum(1 for v in before.values() if v[1] > 0) > 5, "keys with expiries: %r" % before)
            c.close()
            time.sleep(0.3)  # t4 expires before the restart
            s.stop(signal.SIGKILL)
            s = shardkv(P, "--dir", d, "--save", "", "--appendonly", "yes", name="batch-aof").wait_ready()
            c = Raw(P)
            eq(state(), before, "values and absolute expiries after replay")
            eq(c.cmd("EXISTS", "t4"), 0, "the short TTL expired")
            c.close()
        finally:
            s.stop()
            globals()["main"] = shardkv(P, "--dir", os.path.join(TMP, "main"), "--save", "", name="batch").wait_ready()
finally:
    stop_all()

sys.exit(0 if summary() else 1)
