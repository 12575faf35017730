"""
test_surface.py -- the rest of the string and keyspace surface (issue 14)
against Debian's redis-server, reply for reply: GETBIT, BITCOUNT and BITPOS
over generated values and ranges (BYTE and BIT), LCS (LEN, IDX, MINMATCHLEN,
WITHMATCHLEN), OBJECT, DEBUG SLEEP and its guard, CLIENT REPLY ON|OFF|SKIP,
INFO with several sections.

Ports: 6397 (shardkv), 6398 (redis-server).  Every process is stopped by PID.
Run: /usr/bin/python3 tests/server/test_surface.py [-k words-of-a-test-name]
"""
import os
import random
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Raw, Server, encode, eq, shardkv, stop_all, summary, test, true  # noqa: E402

P, P_REDIS = int(os.environ.get("SURFACE_TEST_PORT", 6397)), int(os.environ.get("SURFACE_TEST_REDIS_PORT", 6398))
TMP = tempfile.mkdtemp(prefix="skv-surface-test-")
SEED = int(os.environ.get("SKV_TEST_SEED", "0")) or random.randrange(1, 1 << 30)


def both(cmds, resp3=False):
    """Run cmds on a fresh connection to each server; the raw replies of each."""
    out = []
    for port in (P, P_REDIS):
        r = Raw(port)
        if resp3:
            r.cmd("HELLO", "3")
        got = []
        for c in cmds:
            r.send(encode(*c))
            got.append(r.raw_reply())
        out.append(got)
    return out


def same(cmds, what, resp3=False):
    got, want = both(cmds, resp3)
    for c, g, w in zip(cmds, got, want):
        if g != w:
            raise AssertionError("%s: %r: got %r, want %r" % (what, c, g, w))


try:
    shardkv(P, "--dir", os.path.join(TMP, "main"), "--save", "", "--enable-debug-command", "yes",
            name="surface").wait_ready()
    Server(["redis-server", "--port", str(P_REDIS), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", TMP, "--enable-debug-command", "yes"], P_REDIS, "redis-surface").wait_ready()
    print("seed %d (SKV_TEST_SEED=%d reproduces the generated cases)" % (SEED, SEED), flush=True)

    @test("bits: GETBIT / BITCOUNT / BITPOS over 300 generated values and ranges equal redis-server's")
    def t_bits():
        rnd = random.Random(SEED)
        cmds = []
        for n in range(300):
            size = rnd.choice([0, 1, 2, 3, 7, 8, 9, 31, 100])
            kind = rnd.random()
            val = bytes(rnd.choice([0x00, 0xFF, rnd.randrange(256)]) if kind < 0.5 else rnd.randrange(256)
                        for _ in range(size))
            key = "b%d" % n
            cmds.append(["SET", key, val] if size else ["DEL", key])
            cmds.append(["GETBIT", key, str(rnd.randrange(0, size * 8 + 10))])
            r = lambda: str(rnd.randrange(-size * 9 - 3, size * 9 + 3))  # noqa: E731
            unit = rnd.choice([[], ["BYTE"], ["BIT"], ["bit"]])
            cmds.append(["BITCOUNT", key])
            cmds.append(["BITCOUNT", key, r(), r()] + unit)
            b = rnd.choice(["0", "1"])
            cmds.append(["BITPOS", key, b])
            cmds.append(["BITPOS", key, b, r()])
            cmds.append(["BITPOS", key, b, r(), r()] + unit)
        cmds += [["GETBIT", "b1", "-1"], ["GETBIT", "b1", "4294967296"], ["GETBIT", "b1", "x"],
                 ["BITCOUNT", "b1", "0"], ["BITCOUNT", "b1", "0", "1", "WORD"], ["BITCOUNT", "b1", "a", "1"],
                 ["BITPOS", "b1", "2"], ["BITPOS", "b1", "1", "0", "1", "BIT", "x"], ["BITPOS", "nokey", "0"],
                 ["BITPOS", "nokey", "1"], ["BITCOUNT", "nokey", "0", "-1"], ["GETBIT", "nokey", "7"]]
        # a clear bit searched in an explicit BIT range that ends on a byte's
        # last bit, all ones: -1 (it answered the bit after the range)
        for val, s, e in ((b"\xff\xff\xff", "5", "25"), (b"\xff\xff\xff\xff", "12", "34"),
                          (b"\x00\x00\xdf\xff\xff\xff", "-17", "-1"), (b"\xff\x13\xff\xff\xff\x4c", "20", "39")):
            cmds += [["SET", "bp", val], ["BITPOS", "bp", "0", s, e, "BIT"], ["BITPOS", "bp", "1", s, e, "BIT"]]
        same(cmds, "bits")

    @test("lcs: LCS, LEN, IDX, MINMATCHLEN, WITHMATCHLEN equal redis-server's (RESP2 and RESP3)")
    def t_lcs():
        rnd = random.Random(SEED + 1)
        cmds = [["MSET", "key1", "ohmytext", "key2", "mynewtext"],
                ["LCS", "key1", "key2"], ["LCS", "key1", "key2", "LEN"], ["LCS", "key1", "key2", "IDX"],
                ["LCS", "key1", "key2", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN"],
                ["LCS", "key1", "key2", "LEN", "IDX"], ["LCS", "key1", "key2", "BOGUS"],
                ["LCS", "key1", "nokey"], ["LCS", "nokey", "nokey2", "IDX"], ["LCS", "key1", "key2", "MINMATCHLEN"],
                ["LCS", "key1", "key2", "MINMATCHLEN", "x"]]
        for n in range(40):
            a = "".join(rnd.choice("abc") for _ in range(rnd.randrange(0, 30)))
            b = "".join(rnd.choice("abc") for _ in range(rnd.randrange(0, 30)))
            cmds.append(["MSET", "la", a, "lb", b])
            cmds.append(["LCS", "la", "lb"])
            cmds.append(["LCS", "la", "lb", "IDX", "WITHMATCHLEN", "MINMATCHLEN", str(rnd.randrange(0, 4))])
        same(cmds, "lcs")
        same(cmds[:6], "lcs resp3", resp3=True)

    @test("object/debug: OBJECT ENCODING of set values, REFCOUNT, errors; DEBUG SLEEP and its guard")
    def t_object_debug():
        cmds = [["SET", "i", "12345"], ["SET", "s", "short"], ["SET", "r", "x" * 45], ["SET", "z", "012"],
                ["SET", "big", "123456789012345678901"], ["SET", "e44", "y" * 44], ["INCR", "n"]]
        cmds += [["OBJECT", "ENCODING", k] for k in ("i", "s", "r", "z", "big", "e44", "n", "nokey")]
        cmds += [["OBJECT", "REFCOUNT", "s"], ["OBJECT", "NOPE", "s"], ["OBJECT", "ENCODING"],
                 ["DEBUG", "SLEEP", "0"], ["DEBUG", "SLEEP", "0.01"]]
        same(cmds, "object/debug")
        c = Raw(P)
        t0 = time.time()
        eq(c.cmd("DEBUG", "SLEEP", "0.3"), "OK", "DEBUG SLEEP")
        true(time.time() - t0 >= 0.29, "it slept")
        # Redis reads "x" as 0 (atof); here it is an error
        eq(str(c.cmd("DEBUG", "SLEEP", "x")), "ERR value is not a valid float", "DEBUG SLEEP x")
        shardkv(P + 2, "--dir", os.path.join(TMP, "nodebug"), "--save", "", name="nodebug").wait_ready()
        eq(str(Raw(P + 2).cmd("DEBUG", "SLEEP", "0")).startswith("ERR DEBUG command not allowed"), True,
           "enable-debug-command no (the default, as Redis 7)")

    @test("client reply: OFF, ON, SKIP (also of errors and pipelined GETs) equal redis-server's")
    def t_client_reply():
        for port in (P, P_REDIS):
            r = Raw(port)
            r.send(b"".join(encode(*c) for c in [
                ["SET", "cr", "1"], ["CLIENT", "REPLY", "OFF"], ["GET", "cr"], ["GET", "cr"], ["NOSUCH"],
                ["INCR", "cr"], ["CLIENT", "REPLY", "ON"], ["GET", "cr"], ["CLIENT", "REPLY", "SKIP"],
                ["GET", "cr"], ["ECHO", "after-skip"], ["CLIENT", "REPLY", "MAYBE"]]))
            got = [r.raw_reply() for _ in range(5)]
            eq(got, [b"+OK\r\n", b"+OK\r\n", b"$1\r\n2\r\n", b"$10\r\nafter-skip\r\n", b"-ERR syntax error\r\n"],
               "replies on port %d" % port)

    @test("sort: SORT and SORT_RO on the kinds that exist (none: empty; a string: WRONGTYPE), options and errors equal redis-server's")
    def t_sort():
        cmds = [["SET", "str", "v"], ["SET", "dst", "old"], ["DEL", "nokey"],
                ["SORT", "nokey"], ["SORT", "nokey", "DESC", "ALPHA"], ["SORT", "nokey", "LIMIT", "0", "10"],
                ["SORT", "nokey", "BY", "w_*", "GET", "#", "GET", "o_*", "ASC"], ["SORT", "nokey", "BY", "nosort"],
                ["SORT", "str"], ["SORT", "str", "ALPHA"], ["SORT", "str", "LIMIT", "x", "1"],
                ["SORT", "nokey", "LIMIT", "0"], ["SORT", "nokey", "LIMIT", "0", "1", "2"], ["SORT", "nokey", "FOO"],
                ["SORT", "nokey", "GET"], ["SORT", "nokey", "LIMIT", "1", "99999999999999999999"],
                ["SORT", "nokey", "STORE", "dst"], ["EXISTS", "dst"], ["SORT", "nokey", "STORE", "dst"],
                ["SORT", "str", "STORE", "dst2"], ["SORT_RO", "nokey"], ["SORT_RO", "nokey", "STORE", "dst"],
                ["SORT_RO", "str", "DESC"], ["SORT"], ["SORT_RO"]]
        same(cmds, "sort")
        same(cmds[:5], "sort (RESP3)", resp3=True)

    @test("info: several sections in one INFO, as Redis 7 accepts them")
    def t_info_sections():
        for port in (P, P_REDIS):
            text = Raw(port).cmd("INFO", "server", "persistence", "keyspace").decode()
            heads = [l for l in text.split("\r\n") if l.startswith("# ")]
            eq(heads, ["# Server", "# Persistence", "# Keyspace"], "sections on port %d" % port)
finally:
    stop_all()
    shutil.rmtree(TMP, ignore_errors=True)

sys.exit(0 if summary() else 1)
