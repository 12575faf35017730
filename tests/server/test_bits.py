"""
test_bits.py -- the bit and copy writes of issue 14 against Debian's
redis-server, reply for reply: SETBIT, BITFIELD (GET/SET/INCRBY, every
OVERFLOW mode, i1..i64 and u1..u63, #-offsets), BITFIELD_RO, BITOP over
generated values, COPY (DB, REPLACE) and MOVE with their errors, the keyspace
events they send, and the AOF replay of each after kill -9.

Ports: 6397 (shardkv), 6398 (redis-server).  Every process is stopped by PID.
Run: /usr/bin/python3 tests/server/test_bits.py [-k words-of-a-test-name]
"""
import os
import random
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Raw, Server, encode, eq, shardkv, stop_all, summary, test  # noqa: E402

P, P_REDIS = 6397, 6398
TMP = tempfile.mkdtemp(prefix="skv-bits-test-")
SEED = int(os.environ.get("SKV_TEST_SEED", "0")) or random.randrange(1, 1 << 30)


def run(port, cmds):
    r = Raw(port)
    got = []
    for c in cmds:
        r.send(encode(*c))
        got.append(r.raw_reply())
    r.close()
    return got


def same(cmds, what):
    got, want = run(P, cmds), run(P_REDIS, cmds)
    for c, g, w in zip(cmds, got, want):
        if g != w:
            raise AssertionError("%s: %r: got %r, want %r" % (what, c, g, w))


def edge(rnd, bits, signed):
    """A value near a field's limits, or anywhere in 64 bits."""
    hi = (1 << (bits - 1)) - 1 if signed else (1 << bits) - 1
    lo = -(1 << (bits - 1)) if signed else 0
    return str(rnd.choice([hi, hi + 1, lo, lo - 1, 0, 1, -1, rnd.randrange(lo, hi + 1),
                           rnd.randrange(-(1 << 63), 1 << 63), -(1 << 63), (1 << 63) - 1]))


def bitfield_cmd(rnd, key, ro=False):
    cmd = ["BITFIELD_RO" if ro else "BITFIELD", key]
    for _ in range(rnd.randrange(1, 6)):
        if not ro and rnd.random() < 0.3:
            cmd += ["OVERFLOW", rnd.choice(["WRAP", "SAT", "FAIL", "sat"])]
        signed = rnd.random() < 0.5
        bits = rnd.randrange(1, 65 if signed else 64)
        typ = ("i" if signed else "u") + str(bits)
        off = ("#%d" % rnd.randrange(0, 8)) if rnd.random() < 0.3 else str(rnd.randrange(0, 80))
        op = "GET" if ro else rnd.choice(["GET", "SET", "INCRBY", "incrby"])
        cmd += [op, typ, off] + ([] if op == "GET" else [edge(rnd, bits, signed)])
    return cmd


try:
    shardkv(P, "--dir", os.path.join(TMP, "main"), "--save", "", name="bits").wait_ready()
    Server(["redis-server", "--port", str(P_REDIS), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", TMP], P_REDIS, "redis-bits").wait_ready()
    print("seed %d (SKV_TEST_SEED=%d reproduces the generated cases)" % (SEED, SEED), flush=True)

    @test("setbit: 400 generated SETBITs, then every value, equal redis-server's")
    def t_setbit():
        rnd = random.Random(SEED)
        cmds = [["FLUSHALL"]]
        for _ in range(400):
            key = "s%d" % rnd.randrange(8)
            off = rnd.choice([rnd.randrange(0, 64), rnd.randrange(0, 4000)])
            cmds.append(["SETBIT", key, str(off), rnd.choice(["0", "1"])])
            if rnd.random() < 0.1:
                cmds.append(["SET", key, rnd.choice(["", "10", "abc"])])
        cmds += [["GET", "s%d" % k] for k in range(8)]
        cmds += [["SETBIT", "s0", "-1", "1"], ["SETBIT", "s0", "4294967296", "1"], ["SETBIT", "s0", "x", "1"],
                 ["SETBIT", "s0", "1", "2"], ["SETBIT", "s0", "1", "-1"], ["SETBIT", "s0", "1", "a"],
                 ["SETBIT", "s0", "1"], ["SET", "t", "v", "EX", "1000"], ["SETBIT", "t", "9", "1"], ["TTL", "t"],
                 ["GET", "t"]]
        same(cmds, "setbit")

    @test("bitfield: 300 generated op lists (all types, overflow modes, #offsets) equal redis-server's")
    def t_bitfield():
        rnd = random.Random(SEED + 1)
        cmds = [["FLUSHALL"]]
        for _ in range(300):
            key = "f%d" % rnd.randrange(5)
            cmds.append(bitfield_cmd(rnd, key, ro=rnd.random() < 0.2))
        cmds += [["GET", "f%d" % k] for k in range(5)]
        cmds += [["BITFIELD", "f0"], ["BITFIELD_RO", "f0"], ["BITFIELD", "nokey", "GET", "u8", "0"],
                 ["EXISTS", "nokey"], ["BITFIELD", "f0", "GET", "u64", "0"], ["BITFIELD", "f0", "GET", "i65", "0"],
                 ["BITFIELD", "f0", "GET", "i0", "0"], ["BITFIELD", "f0", "GET", "x8", "0"],
                 ["BITFIELD", "f0", "GET", "u8", "-1"], ["BITFIELD", "f0", "GET", "u8", "#-1"],
                 ["BITFIELD", "f0", "GET", "u8", "4294967296"], ["BITFIELD", "f0", "SET", "u8", "0", "x"],
                 ["BITFIELD", "f0", "SET", "u8", "0"], ["BITFIELD", "f0", "OVERFLOW", "BAD", "GET", "u8", "0"],
                 ["BITFIELD", "f0", "OVERFLOW"], ["BITFIELD", "f0", "FOO", "u8", "0"],
                 ["BITFIELD_RO", "f0", "SET", "u8", "0", "1"], ["BITFIELD_RO", "f0", "INCRBY", "u8", "0", "1"],
                 ["BITFIELD", "g", "OVERFLOW", "FAIL", "INCRBY", "u8", "16", "300"], ["GET", "g"],
                 ["BITFIELD", "g", "INCRBY", "i64", "0", "9223372036854775807", "INCRBY", "i64", "0", "1"],
                 ["BITFIELD", "g", "OVERFLOW", "SAT", "SET", "i8", "0", "-9223372036854775808"],
                 ["BITFIELD", "g", "OVERFLOW", "WRAP", "SET", "i8", "0", "-9223372036854775808"]]
        same(cmds, "bitfield")

    @test("bitop: AND/OR/XOR/NOT over generated values and missing keys, results and errors equal redis-server's")
    def t_bitop():
        rnd = random.Random(SEED + 2)
        cmds = [["FLUSHALL"]]
        for k in range(6):
            n = rnd.choice([0, 1, 3, 8, 20])
            if n:
                cmds.append(["SET", "o%d" % k, bytes(rnd.randrange(256) for _ in range(n))])
        for _ in range(120):
            op = rnd.choice(["AND", "OR", "XOR", "NOT", "and"])
            srcs = ["o%d" % rnd.randrange(8) for _ in range(1 if op == "NOT" else rnd.randrange(1, 5))]
            dst = rnd.choice(["d", "o%d" % rnd.randrange(8)])
            cmds += [["BITOP", op, dst] + srcs, ["GET", dst], ["EXISTS", dst]]
        cmds += [["BITOP", "NOT", "d", "o1", "o2"], ["BITOP", "NAND", "d", "o1"], ["BITOP", "AND", "d"],
                 ["SET", "e", "v", "EX", "1000"], ["BITOP", "OR", "e", "o1"], ["TTL", "e"],
                 ["BITOP", "AND", "e", "missing"], ["EXISTS", "e"]]
        same(cmds, "bitop")

    @test("copy/move: COPY [DB n] [REPLACE] and MOVE, replies, errors, values and TTLs equal redis-server's")
    def t_copy():
        cmds = [["FLUSHALL"], ["SET", "a", "1", "EX", "1000"], ["SET", "b", "2"],
                ["COPY", "a", "c"], ["GET", "c"], ["TTL", "c"], ["COPY", "a", "b"], ["GET", "b"],
                ["COPY", "a", "b", "REPLACE"], ["GET", "b"], ["TTL", "b"], ["COPY", "a", "a"],
                ["COPY", "nokey", "x"], ["EXISTS", "x"], ["COPY", "a", "a", "DB", "1"], ["COPY", "a", "a", "DB", "1"],
                ["COPY", "a", "a", "db", "1", "replace"], ["COPY", "a", "a", "DB", "0"], ["COPY", "a", "z", "DB", "x"],
                ["COPY", "a", "z", "DB", "99"], ["COPY", "a", "z", "DB", "-1"], ["COPY", "a", "z", "DB"],
                ["COPY", "a", "z", "FOO"], ["COPY", "a"], ["INCR", "c"], ["GET", "a"],
                ["SELECT", "1"], ["GET", "a"], ["TTL", "a"], ["SELECT", "0"],
                ["MOVE", "b", "1"], ["EXISTS", "b"], ["MOVE", "b", "1"], ["MOVE", "a", "1"], ["GET", "a"],
                ["MOVE", "c", "0"], ["MOVE", "c", "x"], ["MOVE", "c", "99"], ["MOVE", "c", "-1"], ["MOVE", "c"],
                ["SELECT", "1"], ["GET", "b"], ["MOVE", "b", "0"], ["SELECT", "0"], ["GET", "b"],
                ["SET", "", "empty"], ["COPY", "", "e2"], ["GET", "e2"], ["FLUSHALL"]]
        same(cmds, "copy")

    @test("events: keyspace and keyevent messages of SETBIT, BITFIELD, BITOP, COPY, MOVE equal redis-server's")
    def t_events():
        subs = []
        for port in (P, P_REDIS):
            Raw(port).cmd("CONFIG", "SET", "notify-keyspace-events", "KEA")
            s = Raw(port)
            s.send(encode("PSUBSCRIBE", "__key*__:*"))
            s.reply()
            subs.append(s)
        cmds = [["SET", "a", "x"], ["SETBIT", "a", "3", "1"], ["SETBIT", "n", "0", "0"],
                ["BITFIELD", "a", "INCRBY", "u8", "0", "1", "GET", "u4", "0"], ["BITFIELD", "a", "GET", "u8", "0"],
                ["BITFIELD", "a", "OVERFLOW", "FAIL", "INCRBY", "u8", "0", "1000"],
                ["BITFIELD_RO", "a", "GET", "u8", "0"], ["BITOP", "OR", "d", "a", "n"], ["BITOP", "AND", "d", "zz"],
                ["COPY", "a", "c"], ["COPY", "a", "c", "DB", "2"], ["MOVE", "c", "3"], ["DEL", "a", "n"],
                ["SELECT", "2"], ["DEL", "c"], ["SELECT", "3"], ["DEL", "c"], ["SELECT", "0"], ["SET", "end", "x"]]
        got = []
        for port, s in zip((P, P_REDIS), subs):
            run(port, cmds)
            msgs = []
            while True:
                m = s.reply()
                if m[2] == b"__keyevent@0__:set" and m[3] == b"end":
                    break
                msgs.append(m[2:])
            got.append(msgs)
            Raw(port).cmd("CONFIG", "SET", "notify-keyspace-events", "")
            s.close()
        eq(got[0], got[1], "events")

    @test("aof: SETBIT, BITFIELD, BITOP, COPY, MOVE are logged and replay after kill -9")
    def t_aof():
        d = os.path.join(TMP, "aof")
        os.makedirs(d, exist_ok=True)
        s = shardkv(P_REDIS + 1, "--dir", d, "--save", "", "--appendonly", "yes", "--appendfsync", "always",
                    name="bits-aof").wait_ready()
        rnd = random.Random(SEED + 3)
        cmds = [["SETBIT", "a", "100", "1"], ["BITFIELD", "b", "SET", "i16", "#3", "-300", "INCRBY", "u5", "1", "7"],
                ["BITFIELD", "fail", "OVERFLOW", "FAIL", "INCRBY", "u8", "8", "999"],
                ["BITOP", "XOR", "c", "a", "b"], ["COPY", "c", "c2"], ["COPY", "b", "b", "DB", "1"],
                ["SET", "m", "moved", "EX", "1000"], ["MOVE", "m", "2"]]
        for _ in range(100):
            cmds.append(["SETBIT", "r%d" % rnd.randrange(4), str(rnd.randrange(200)), rnd.choice(["0", "1"])])
        run(P_REDIS + 1, cmds)
        reads = [["SELECT", "0"]] + [["GET", k] for k in ("a", "b", "fail", "c", "c2", "m", "r0", "r1", "r2", "r3")] + \
                [["SELECT", "1"], ["GET", "b"], ["SELECT", "2"], ["GET", "m"], ["TTL", "m"]]
        before = run(P_REDIS + 1, reads)
        s.stop(signal.SIGKILL)
        s = shardkv(P_REDIS + 1, "--dir", d, "--save", "", "--appendonly", "yes", name="bits-aof").wait_ready()
        after = run(P_REDIS + 1, reads)
        s.stop()
        eq(after, before, "replayed values")
        eq(before[6], b"$-1\r\n", "MOVE took m out of db 0")

finally:
    stop_all()
    if summary():
        import shutil
        shutil.rmtree(TMP, ignore_errors=True)
        sys.exit(0)
sys.exit(1)
