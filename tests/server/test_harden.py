"""
test_harden.py -- shardkv-server under hostile and heavy requests (issues 9
and 10): the one glob matcher against Debian's redis-server, a busy server that
still answers and still shuts down, hostile names, paths and expiry times.

Ports: 6393-6399 only.  Every process started here is stopped by PID.
Run: /usr/bin/python3 tests/server/test_harden.py [-k words-of-a-test-name]
"""
import os
import random
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import redis  # noqa: E402  (python3-redis, Debian)

from harness import (Err, Raw, Server, encode, eq, shardkv, stop_all,  # noqa: E402
                     summary, test, true, wait_until)

P_MAIN, P_BUSY, P_REDIS_BUSY, P_STOP, P_FS, P_REDIS = 6393, 6394, 6395, 6396, 6397, 6399
TMP = tempfile.mkdtemp(prefix="skv-harden-test-")
SEED = int(os.environ.get("SKV_TEST_SEED", "0")) or random.randrange(1, 1 << 30)


def client(port, **kw):
    return redis.Redis(host="127.0.0.1", port=port, socket_timeout=30, **kw)


def pipelined(conn, cmds):
    """Send every command at once, then read one reply each."""
    conn.send(b"".join(encode(*c) for c in cmds))
    return [conn.reply() for _ in cmds]


def rtt_ms(conn, *cmd):
    t0 = time.perf_counter()
    rep = conn.cmd(*cmd)
    return (time.perf_counter() - t0) * 1000, rep


# Generated glob inputs.  Bytes stay ASCII: above 0x7f the engine compares
# unsigned and Redis signed chars, a deliberate difference (engine/glob.c).
KEY_ALPHABET = "ab-^]\\[*?"
PAT_TOKENS = ["a", "b", "*", "?", "[ab]", "[^a]", "[a-b]", "[b-a]", "\\*", "\\?", "\\[", "[", "]",
              "-", "^", "\\", "[\\]]", "[^]", "[a-]", "[]a]", "**", "[*]", "[?]", "a*", "*b"]


def gen_keys(rnd, n):
    keys = set()
    while len(keys) < n:
        keys.add("".join(rnd.choice(KEY_ALPHABET) for _ in range(rnd.randint(1, 6))))
    return sorted(keys)


def gen_patterns(rnd, n):
    pats = set()
    while len(pats) < n:
        pats.add("".join(rnd.choice(PAT_TOKENS) for _ in range(rnd.randint(1, 5))))
    return sorted(pats)


try:
    main = shardkv(P_MAIN, "--dir", os.path.join(TMP, "main"), "--save", "", name="harden").wait_ready()
    ref = Server(["redis-server", "--port", str(P_REDIS), "--bind", "127.0.0.1", "--save", "",
                  "--appendonly", "no", "--dir", TMP], P_REDIS, "redis-harden").wait_ready()
    print("seed %d (SKV_TEST_SEED=%d reproduces the generated cases)" % (SEED, SEED), flush=True)

    # ------------------------------------------------------------ one glob
    @test("glob: KEYS of 600 generated patterns over 300 generated keys equals redis-server's")
    def glob_keys_differential():
        rnd = random.Random(SEED)
        keys, pats = gen_keys(rnd, 300), gen_patterns(rnd, 600)
        conns = [Raw(P_MAIN, timeout=30), Raw(P_REDIS, timeout=30)]
        for c in conns:
            c.cmd("SELECT", "3")
            c.cmd("FLUSHDB")
            pipelined(c, [("SET", k, "1") for k in keys])
        got = [pipelined(c, [("KEYS", p) for p in pats]) for c in conns]
        bad = ["KEYS %r: shardkv %r, redis %r" % (p, sorted(a), sorted(b))
               for p, a, b in zip(pats, got[0], got[1]) if sorted(a) != sorted(b)]
        for c in conns:
            c.cmd("FLUSHDB")
            c.close()
        nonempty = sum(1 for x in got[1] if x)
        print("     %d of %d patterns match some key" % (nonempty, len(pats)), flush=True)
        true(len(pats) // 10 < nonempty < len(pats), "the generated patterns discriminate")
        true(not bad, "%d of %d patterns differ (seed %d):\n  %s" % (len(bad), len(pats), SEED, "\n  ".join(bad[:20])))

    @test("glob: SCAN MATCH with small COUNTs returns exactly KEYS' keys for generated patterns")
    def glob_scan_match():
        rnd = random.Random(SEED + 1)
        keys, pats = gen_keys(rnd, 300), gen_patterns(rnd, 100)
        c = Raw(P_MAIN, timeout=30)
        c.cmd("SELECT", "3")
        pipelined(c, [("SET", k, "1") for k in keys])
        bad = []
        for p in pats:
            want = sorted(c.cmd("KEYS", p))
            seen, cursor = [], b"0"
            while True:
                cursor, batch = c.cmd("SCAN", cursor, "MATCH", p, "COUNT", rnd.randint(1, 40))
                seen += batch
                if cursor == b"0":
                    break
            if sorted(set(seen)) != want:
                bad.append("%r: scan %r, keys %r" % (p, sorted(set(seen)), want))
        c.cmd("FLUSHDB")
        c.close()
        true(not bad, "SCAN MATCH differs from KEYS (seed %d):\n  %s" % (SEED, "\n  ".join(bad[:10])))

    @test("glob: PSUBSCRIBE delivery of generated patterns equals redis-server's (PUBLISH counts)")
    def glob_psubscribe_differential():
        rnd = random.Random(SEED + 2)
        pats, chans = gen_patterns(rnd, 150), gen_keys(rnd, 150) + [""]
        counts = []
        for port in (P_MAIN, P_REDIS):
            sub = Raw(port, timeout=30)
            sub.send(encode("PSUBSCRIBE", *pats))
            for _ in pats:
                sub.reply()
            pub = Raw(port, timeout=30)
            eq(pub.cmd("PUBSUB", "NUMPAT"), len(pats), "numpat")
            counts.append(pipelined(pub, [("PUBLISH", ch, "m") for ch in chans]))
            sub.close()
            pub.close()
        bad = ["PUBLISH %r: shardkv %d receivers, redis %d" % (ch, a, b)
               for ch, a, b in zip(chans, counts[0], counts[1]) if a != b]
        true(not bad, "(seed %d)\n  %s" % (SEED, "\n  ".join(bad[:20])))

    @test("glob: CONFIG GET matches names case-insensitively, as Redis")
    def glob_config_get_nocase():
        c = Raw(P_MAIN)
        eq(sorted(c.cmd("CONFIG", "GET", "MAXMEM*")[0::2]), [b"maxmemory", b"maxmemory-policy"], "MAXMEM*")
        eq(c.cmd("CONFIG", "GET", "[P]Or?")[0::2], [b"port"], "[P]Or?")
        eq(c.cmd("CONFIG", "GET", "[^a-z]ort"), [], "a range with nocase")
        eq(c.cmd("CONFIG", "GET", "DB[F-G]ILENAME")[0::2], [b"dbfilename"], "range folded")
        c.close()

    @test("glob: the hostile KEYS a*a*...*b answers within 10 ms (CVE-2022-36021's shape)")
    def glob_hostile_keys():
        hostile = "a*" * 20 + "b"
        c = Raw(P_MAIN, timeout=20)
        c.cmd("SELECT", "4")
        c.cmd("SET", "a" * 40, "1")
        times = []
        for _ in range(5):
            ms, rep = rtt_ms(c, "KEYS", hostile)
            eq(rep, [], "no key matches")
            times.append(ms)
        # and a longer one: 2000 stars against a 60 KiB key
        c.cmd("SET", "a" * 60000, "1")
        ms_long, rep = rtt_ms(c, "KEYS", "a*" * 2000 + "b")
        eq(rep, [], "no key matches the long pattern")
        ms_ping, rep = rtt_ms(c, "PING")
        eq(rep, "PONG", "ping after")
        print("     hostile KEYS: best %.2f ms, worst %.2f ms of 5; 2000 stars vs 60 KiB key: %.1f ms"
              % (min(times), max(times), ms_long), flush=True)
        true(min(times) < 10, "hostile KEYS took %.1f ms" % min(times))
        true(ms_long < 1000, "2000-star pattern took %.1f ms" % ms_long)
        c.cmd("FLUSHDB")
        c.close()

finally:
    stop_all()
    shutil.rmtree(TMP, ignore_errors=True)

sys.exit(0 if summary() else 1)
