"""
test_harden.py -- shardkv-server under hostile and heavy requests (issues 9
and 10): the one glob matcher against Debian's redis-server, a busy server that
still answers and still shuts down, hostile names, paths and expiry times.

Ports: 6380-6386, the ones of test_server.py, which has ended by then (the suite
runs one file after the other).  Every process started here is stopped by PID.
Run: /usr/bin/python3 tests/server/test_harden.py [-k words-of-a-test-name] [--list]
(see tests/server/README.md)
"""
import os
import random
import select
import shutil
import signal
import socket
import stat
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (ROOT, Err, Raw, Server, encode, eq, shardkv, stop_all,  # noqa: E402
                     summary, test, true)

# 6380-6389 are test_server.py's too, free again once it has ended (see above)
P_MAIN, P_BUSY, P_REDIS_BUSY, P_STOP, P_REDIS, P_ASAN, P_FS = 6380, 6381, 6382, 6383, 6384, 6385, 6386
TMP = tempfile.mkdtemp(prefix="skv-harden-test-")
SEED = int(os.environ.get("SKV_TEST_SEED", "0")) or random.randrange(1, 1 << 30)
BIN = os.environ.get("SHARDKV_SERVER", os.path.join(ROOT, "build", "shardkv-server"))
BIN_ASAN = os.path.join(ROOT, "build", "asan", "shardkv-server")
BIN_TSAN = os.path.join(ROOT, "build", "tsan", "shardkv-server")


def pipelined(conn, cmds):
    """Send every command at once, then read one reply each."""
    conn.send(b"".join(encode(*c) for c in cmds))
    return [conn.reply() for _ in cmds]


def rtt_ms(conn, *cmd):
    t0 = time.perf_counter()
    rep = conn.cmd(*cmd)
    return (time.perf_counter() - t0) * 1000, rep


def fill(port, n, prefix="key:", start=0, value=b"v"):
    """SET prefix<i> for i in [start, start+n), pipelined in chunks; returns when all are acknowledged."""
    s = socket.create_connection(("127.0.0.1", port), timeout=60)
    chunk = 20000
    for base in range(start, start + n, chunk):
        m = min(chunk, start + n - base)
        s.sendall(b"".join(encode("SET", "%s%d" % (prefix, i), value) for i in range(base, base + m)))
        want, got = 5 * m, b""
        while len(got) < want:
            d = s.recv(1 << 20)
            if not d:
                raise AssertionError("connection closed while filling")
            got += d
        true(got == b"+OK\r\n" * m, "fill acknowledged")
    s.close()


def delay_during(port, *big):
    """Run `big` on one connection; meanwhile GET/PING on another in a loop.
    Returns (worst GET/PING round trip in ms, how many ran, ms until big's reply began, big's reply)."""
    a, b = Raw(port, timeout=120), Raw(port, timeout=120)
    b.cmd("PING")
    a.send(encode(*big))
    t0 = time.perf_counter()
    time.sleep(0.003)  # let the server start on it
    worst, n = 0.0, 0
    while not select.select([a.s], [], [], 0)[0]:
        ms, rep = rtt_ms(b, "GET", "key:1") if n % 2 == 0 else rtt_ms(b, "PING")
        true(not isinstance(rep, Err), "reply %r" % rep)
        worst, n = max(worst, ms), n + 1
        time.sleep(0.001)
    total = (time.perf_counter() - t0) * 1000  # until the reply starts
    rep = a.reply()
    a.close()
    b.close()
    return worst, n, total, rep


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
    @test("glob: KEYS of 600 generated patterns and 10 hostile ones over 305 keys (\"\" too) equals redis-server's")
    def glob_keys_differential():
        rnd = random.Random(SEED)
        keys, pats = gen_keys(rnd, 300) + [""], gen_patterns(rnd, 600)
        # hostile shapes too (CVE-2022-36021's and friends), against keys they nearly match
        keys += ["a" * 40, "a" * 39 + "b", "ab" * 20, "a" * 20 + "[" + "a" * 19]
        pats += ["a*" * 20 + "b", "a*" * 20 + "a", "*" + "a" * 30 + "b", "*" * 50 + "a", "?" * 40,
                 "[a]*" * 10 + "b", "*a" * 20 + "*", "*[^b]" * 15 + "*", "\\a*" * 10 + "[", "*[a-b]?" * 12]
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

    @test("glob: ranges compare bytes unsigned (the one intended difference: Redis compares signed chars)")
    def glob_unsigned_ranges():
        conns = [Raw(P_MAIN), Raw(P_REDIS)]
        got = []
        for c in conns:
            c.cmd("SELECT", "6")
            c.cmd("SET", b"\xe9t\xe9", "1")
            got.append([sorted(c.cmd("KEYS", p)) for p in (b"[a-\xff]*", b"*[\x80-\xff]", b"\xe9?\xe9", b"[\xe9]*")])
            c.cmd("FLUSHDB")
            c.close()
        k = [b"\xe9t\xe9"]
        eq(got[0], [k, k, k, k], "shardkv: 0xe9 lies in a-0xff and 0x80-0xff")
        eq(got[1], [[], k, k, k], "redis-server: as a signed char 0xe9 is below 'a' (but within 0x80-0xff)")
        true(got[0][1:] == got[1][1:], "no difference unless a range spans 0x7f/0x80")

    @test("glob: SCAN MATCH with small COUNTs returns exactly KEYS' keys for generated patterns")
    def glob_scan_match():
        rnd = random.Random(SEED + 1)
        keys, pats = gen_keys(rnd, 300) + [""], gen_patterns(rnd, 100) + ["*"]
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

    # ------------------------------------------------------------ hostile names, paths, times, numbers
    @test("ttl: overflowing expiries give redis-server's exact error; the key keeps its old TTL (no wrap)")
    def ttl_overflow_same_as_redis():
        big = "9223372036854775807"
        cases = [("EXPIRE", "k", big), ("EXPIRE", "k", "9223372036854775"), ("PEXPIRE", "k", big),
                 ("EXPIRE", "k", "-9223372036854775808"), ("PEXPIREAT", "k", "-9223372036854775808"),
                 ("SET", "k", "v", "EX", "9223372036854775"), ("SET", "k", "v", "PX", big),
                 ("SET", "k", "v", "EX", "0"), ("SET", "k", "v", "PX", "-1"), ("SET", "k", "v", "EXAT", "0"),
                 ("SETEX", "k", "9223372036854775", "v"), ("PSETEX", "k", big, "v"), ("SETEX", "k", "0", "v"),
                 ("GETEX", "k", "EX", "9223372036854775"), ("GETEX", "k", "PX", big), ("GETEX", "k", "EXAT", "-1")]
        conns = [Raw(P_MAIN), Raw(P_REDIS)]
        bad = []
        for cmd in cases:
            got = []
            for c in conns:
                c.cmd("SET", "k", "v", "EX", "1000")
                got.append((c.raw_reply() if c.send(encode(*cmd)) is None else None, c.cmd("TTL", "k")))
            if got[0] != got[1]:
                bad.append("%s: shardkv %r, redis %r" % (" ".join(cmd), got[0], got[1]))
        for c in conns:
            c.close()
        true(not bad, "\n  ".join(bad))

    @test("ttl: an expiry past 9999-12-31 is refused with 'invalid expire time in <cmd>', never stored or wrapped")
    def ttl_past_year_9999():
        c = Raw(P_MAIN)
        max_ms = 253402300799999
        cases = [("EXPIRE", "k", "1000000000000", "expire"), ("PEXPIRE", "k", str(max_ms), "pexpire"),
                 ("EXPIREAT", "k", str(max_ms // 1000 + 1), "expireat"),
                 ("PEXPIREAT", "k", str(max_ms + 1), "pexpireat"),
                 ("SET", "k", "v2", "EX", "1000000000000", "set"), ("SET", "k", "v2", "EXAT", "9223372036854775", "set"),
                 ("SET", "k", "v2", "PXAT", str(max_ms + 1), "set"), ("SETEX", "k", "1000000000000", "v2", "setex"),
                 ("GETEX", "k", "PXAT", str(max_ms + 1), "getex"), ("GETEX", "k", "EX", "1000000000000", "getex")]
        for *cmd, name in cases:
            c.cmd("SET", "k", "v", "EX", "1000")
            eq(c.cmd(*cmd), Err("ERR invalid expire time in '%s' command" % name), " ".join(cmd))
            true(990 <= c.cmd("TTL", "k") <= 1000 and c.cmd("GET", "k") == b"v", "unchanged after " + " ".join(cmd))
        eq(c.cmd("PEXPIREAT", "k", str(max_ms)), 1, "the last accepted millisecond")
        eq(c.cmd("PEXPIRETIME", "k"), max_ms, "stored exactly")
        eq(c.cmd("SET", "k", "v", "PXAT", str(max_ms)), "OK", "SET PXAT at the maximum")
        true(c.cmd("TTL", "k") > 0, "a positive TTL, not a wrapped one")
        c.cmd("DEL", "k")
        c.close()

    @test("names: a NUL byte in a namespace name (SELECT, NAMESPACE USE/INFO/CREATE/DROP) is refused, never cut")
    def names_nul_refused():
        c = Raw(P_MAIN)
        bad_name = Err("ERR invalid namespace name (1-63 bytes of A-Z a-z 0-9 _ . : -)")
        eq(c.cmd("NAMESPACE", "CREATE", "nulns"), "OK", "create")
        for cmd in (("SELECT", "nulns\x00x"), ("NAMESPACE", "USE", "nulns\x00"), ("NAMESPACE", "INFO", "nulns\x00x"),
                    ("NAMESPACE", "CREATE", "nulns\x00y"), ("NAMESPACE", "DROP", "nulns\x00z")):
            eq(c.cmd(*cmd), bad_name, repr(cmd))
        eq(c.cmd("SELECT", "1\x00"), Err("ERR value is not an integer or out of range"), "SELECT 1\\0")
        eq(c.cmd("NAMESPACE", "CURRENT"), b"0", "still on db 0")
        true(b"nulns" in c.cmd("NAMESPACE", "LIST"), "nulns not dropped")
        eq(c.cmd("NAMESPACE", "DROP", "nulns"), "OK", "drop")
        c.close()

    @test("paths: CONFIG SET dir/dbfilename refused as protected configs, byte-identical to redis-server 7")
    def paths_protected_configs():
        c, ref_c = Raw(P_MAIN), Raw(P_REDIS)
        for name, val in (("dir", "/etc"), ("dbfilename", "../evil.skv"), ("dbfilename", "x.skv"),
                          ("dir", TMP + "\x00/etc")):
            eq(c.cmd("CONFIG", "SET", name, val), ref_c.cmd("CONFIG", "SET", name, val), "%s %r" % (name, val))
        eq(c.cmd("CONFIG", "SET", "requirepass", "pw\x00rest"),
           Err("ERR CONFIG SET failed (possibly related to argument 'requirepass') - "
               "argument must not contain a NUL byte"), "a NUL in any value is refused, not cut")
        eq(c.cmd("CONFIG", "GET", "requirepass"), [b"requirepass", b""], "no password was set")
        c.close()
        ref_c.close()

    @test("paths: with enable-protected-configs yes, a NUL or a path in dir/dbfilename is still refused")
    def paths_config_set_unprotected():
        d = os.path.join(TMP, "unprot")
        s2 = shardkv(P_FS, "--dir", d, "--save", "", "--enable-protected-configs", "yes", name="unprot").wait_ready()
        c = Raw(P_FS)
        before = c.cmd("CONFIG", "GET", "d*")
        for name, val in (("dir", d + "\x00/etc"), ("dbfilename", "dump.skv\x00.x")):
            eq(c.cmd("CONFIG", "SET", name, val),
               Err("ERR CONFIG SET failed (possibly related to argument '%s') - argument must not contain a NUL byte"
                   % name), name)
        for val in ("../evil.skv", "sub/dump.skv", "/etc/passwd", "a\\b", "..", ".", ""):
            eq(c.cmd("CONFIG", "SET", "dbfilename", val),
               Err("ERR CONFIG SET failed (possibly related to argument 'dbfilename') - "
                   "dbfilename can't be a path, just a filename"), "dbfilename %r" % val)
        eq(c.cmd("CONFIG", "GET", "d*"), before, "nothing changed")
        eq(c.cmd("CONFIG", "SET", "dbfilename", "other.skv"), "OK", "a plain file name is fine")
        eq(c.cmd("SAVE"), "OK", "save")
        true(os.path.exists(os.path.join(d, "other.skv")), "saved under dir")
        c.close()
        s2.stop()
        bad = Server([BIN, "--port", str(P_FS), "--dir", d, "--dbfilename", "../x.skv"], P_FS, "badname")
        eq(bad.proc.wait(10), 1, "refused at start")
        true("dbfilename can't be a path" in bad.read_log(), "says why: " + bad.read_log())

    @test("files: a FIFO or a symlink at dbfilename refuses start at once and says why; nothing read through it")
    def files_fifo_symlink_at_start():
        binary = BIN
        outside = os.path.join(TMP, "outside")
        os.makedirs(outside, exist_ok=True)
        # a valid snapshot outside dir, reached through a link: refused for the link, not the content
        s1 = shardkv(P_FS, "--dir", outside, "--save", "", name="outside").wait_ready()
        Raw(P_FS).cmd("SET", "secret", "1")
        eq(Raw(P_FS).cmd("SAVE"), "OK", "a snapshot outside")
        s1.stop()
        for kind in ("fifo", "symlink", "dir-symlink"):
            d = os.path.join(TMP, "files-" + kind)
            os.makedirs(d, exist_ok=True)
            target = os.path.join(d, "dump.skv")
            if kind == "fifo":
                os.mkfifo(target)
            elif kind == "symlink":
                os.symlink(os.path.join(outside, "dump.skv"), target)
            else:
                os.symlink(outside, os.path.join(d, "sub"))
            # dbfilename cannot name sub/dump.skv (not a path), so the linked directory is --dir itself
            args = [binary, "--port", str(P_FS), "--dir", os.path.join(d, "sub") if kind == "dir-symlink" else d,
                    "--save", ""]
            t0 = time.time()
            srv = Server(args, P_FS, "files-" + kind)
            if kind == "dir-symlink":
                # the configured dir is the operator's choice and may be a link: it loads
                srv.wait_ready()
                eq(Raw(P_FS).cmd("GET", "secret"), b"1", "a linked --dir is followed, as configured")
                srv.stop()
                continue
            code = srv.proc.wait(10)
            log = srv.read_log()
            eq(code, 1, kind + " refuses start")
            true(time.time() - t0 < 5, kind + " at once, not blocked in open()")
            true("refusing to start" in log and "dump.skv" in log, kind + " says why: " + log[-600:])
            print("     %s: %s" % (kind, log.strip().splitlines()[-1].split("# ", 1)[-1][:200]), flush=True)
            true(os.path.islink(target) or stat.S_ISFIFO(os.lstat(target).st_mode), kind + " left as it was")

    @test("files: SAVE over a dbfilename that became a symlink replaces the link, never writes through it")
    def files_save_over_symlink():
        d = os.path.join(TMP, "files-save")
        victim = os.path.join(TMP, "victim.txt")
        with open(victim, "w") as f:
            f.write("precious\n")
        s2 = shardkv(P_FS, "--dir", d, "--save", "", name="files-save").wait_ready()
        c = Raw(P_FS)
        c.cmd("SET", "k", "v")
        eq(c.cmd("SAVE"), "OK", "first save")
        os.unlink(os.path.join(d, "dump.skv"))
        os.symlink(victim, os.path.join(d, "dump.skv"))
        eq(c.cmd("SAVE"), "OK", "save again")
        eq(open(victim).read(), "precious\n", "the link's target is untouched")
        true(not os.path.islink(os.path.join(d, "dump.skv")), "the link was replaced by the snapshot")
        c.close()
        s2.stop()

    @test("numbers: CONFIG SET values out of range are refused, never clamped or truncated")
    def numbers_config_ranges():
        c = Raw(P_MAIN)
        before = c.cmd("CONFIG", "GET", "*")
        for name, val in (("save", "99999999999999999999 1"), ("save", "1 99999999999999999999"),
                          ("maxclients", "4294967297"), ("timeout", "-1"), ("maxmemory", "18446744073709551616"),
                          ("maxmemory", "20000000000gb"), ("proto-max-bulk-len", "1k")):
            rep = c.cmd("CONFIG", "SET", name, val)
            true(isinstance(rep, Err) and rep.startswith("ERR CONFIG SET failed (possibly related to argument '%s')"
                                                         % name), "%s %s: %r" % (name, val, rep))
        eq(c.cmd("CONFIG", "GET", "*"), before, "nothing changed")
        c.close()

    @test("numbers: INCRBYFLOAT results are read back by GET and by the next INCRBYFLOAT (tiny, huge, inexact)")
    def numbers_incrbyfloat_readback():
        c = Raw(P_MAIN)
        for start, by in (("0", "1e-18"), ("0", "1.5e300"), ("0.1", "0.2"), ("-0", "0"), ("1e308", "1e308"),
                          ("3", "-3.0000000000000004"), ("0", "123456789012345678901234567890")):
            c.cmd("SET", "f", start)
            rep = c.cmd("INCRBYFLOAT", "f", by)
            if isinstance(rep, Err):
                eq(rep, Err("ERR increment would produce NaN or Infinity"), "only an infinite result fails")
                eq(c.cmd("GET", "f"), start.encode(), "unchanged after the error")
                continue
            eq(c.cmd("GET", "f"), rep, "GET returns what INCRBYFLOAT answered")
            true(len(rep) <= 32, "short text: %r" % rep)
            again = c.cmd("INCRBYFLOAT", "f", "0")
            eq(float(again), float(rep), "%s + %s read back by INCRBYFLOAT (%r)" % (start, by, rep))
        c.cmd("DEL", "f")
        c.close()

    # ------------------------------------------------------------ a busy server
    # One worker thread for shardkv, so the waiting client shares the busy
    # client's thread (the hard case: the job must yield); redis-server beside it.
    busy = shardkv(P_BUSY, "--dir", os.path.join(TMP, "busy"), "--save", "", "--threads", "1",
                   name="busy").wait_ready()
    busy_ref = Server(["redis-server", "--port", str(P_REDIS_BUSY), "--bind", "127.0.0.1", "--save", "",
                       "--appendonly", "no", "--dir", TMP], P_REDIS_BUSY, "redis-busy").wait_ready()

    def ensure_500k(port):
        """key:0 .. key:499999 and nothing else (each busy test can run alone with -k)."""
        c = Raw(port, timeout=60)
        if c.cmd("DBSIZE") != 500000 or c.cmd("EXISTS", "key:499999") != 1:
            c.cmd("FLUSHALL")
            fill(port, 500000)
        c.close()

    @test("busy: KEYS * over 500k keys delays another client's GET/PING by < 200 ms (redis-server side by side)")
    def busy_keys_all_delay():
        figures = {}
        for name, port in (("shardkv", P_BUSY), ("redis-server", P_REDIS_BUSY)):
            ensure_500k(port)
            worst, n, total, rep = delay_during(port, "KEYS", "*")
            eq(len(rep), 500000, name + " KEYS * count")
            figures[name] = (worst, n, total)
        print("     KEYS * over 500k keys: concurrent GET/PING worst %.1f ms over %d calls (KEYS %.0f ms) on shardkv;"
              " %.1f ms over %d (KEYS %.0f ms) on redis-server" % (figures["shardkv"] + figures["redis-server"]),
              flush=True)
        true(figures["shardkv"][1] >= 3, "GETs ran while KEYS ran")
        true(figures["shardkv"][0] < 200, "a GET waited %.1f ms" % figures["shardkv"][0])

    @test("busy: KEYS with a costly pattern over 500k keys delays a GET/PING by < 200 ms on the same worker")
    def busy_keys_pattern_delay():
        ensure_500k(P_BUSY)
        worst, n, total, rep = delay_during(P_BUSY, "KEYS", "*" + "[0-9]*" * 8 + "x")
        eq(rep, [], "no key matches")
        print("     KEYS *[0-9]*...x over 500k keys: GET/PING worst %.1f ms over %d calls (KEYS %.0f ms)"
              % (worst, n, total), flush=True)
        true(n >= 3, "GETs ran while KEYS ran")
        true(worst < 200, "a GET waited %.1f ms" % worst)

    @test("busy: SCAN with COUNT 10^9 over 500k keys delays a GET/PING by < 200 ms and returns every key")
    def busy_scan_delay():
        ensure_500k(P_BUSY)
        worst, n, total, rep = delay_during(P_BUSY, "SCAN", "0", "MATCH", "key:*", "COUNT", "1000000000")
        eq((rep[0], len(rep[1])), (b"0", 500000), "one SCAN call covered everything")
        print("     SCAN 0 COUNT 1e9 over 500k keys: GET/PING worst %.1f ms over %d calls (SCAN %.0f ms)"
              % (worst, n, total), flush=True)
        true(worst < 200, "a GET waited %.1f ms" % worst)

    @test("busy: 100 clients running KEYS at once on one worker delay another client's GET/PING by < 200 ms")
    def busy_many_keys_jobs():
        ensure_500k(P_BUSY)
        many = [Raw(P_BUSY, timeout=120) for _ in range(100)]
        for k in many:
            k.send(encode("KEYS", "key:123*"))  # every key examined, 1111 returned
        worst, n, total, rep = delay_during(P_BUSY, "KEYS", "key:234*")
        eq(len(rep), 1111, "KEYS key:234* over 500k keys")
        for k in many:
            eq(len(k.reply()), 1111, "each KEYS answered in full")
            k.close()
        print("     100 concurrent KEYS over 500k keys: GET/PING worst %.1f ms over %d calls" % (worst, n), flush=True)
        true(n >= 3, "GETs ran while the KEYS ran")
        true(worst < 200, "a GET waited %.1f ms" % worst)

    @test("busy: FLUSHALL of 1M keys delays a GET/PING by < 200 ms (redis-server side by side)")
    def busy_flushall_delay():
        figures = {}
        for name, port in (("shardkv", P_BUSY), ("redis-server", P_REDIS_BUSY)):
            ensure_500k(port)
            fill(port, 500000, start=500000)
            worst, n, total, rep = delay_during(port, "FLUSHALL")
            eq(rep, "OK", name + " FLUSHALL")
            eq(Raw(port).cmd("DBSIZE"), 0, name + " empty")
            figures[name] = (worst, n, total)
        print("     FLUSHALL of 1M keys: concurrent GET/PING worst %.1f ms (FLUSHALL %.0f ms) on shardkv;"
              " %.1f ms (FLUSHALL %.0f ms) on redis-server"
              % (figures["shardkv"][0], figures["shardkv"][2], figures["redis-server"][0],
                 figures["redis-server"][2]), flush=True)
        true(figures["shardkv"][0] < 200, "a GET waited %.1f ms" % figures["shardkv"][0])

    @test("busy: the worst KEYS (long pattern vs 40 KB keys) on one worker; a client of the other worker waits < 200 ms")
    def busy_worst_keys_other_worker():
        c = Raw(P_MAIN, timeout=60)
        c.cmd("FLUSHDB")
        for i in range(2):
            eq(c.cmd("SET", "a" * 40000 + str(i), "1"), "OK", "a 40 KB key")
        c.close()
        # the KEYS client is alone on worker 0; the next connection goes to worker 1
        worst, n, total, rep = delay_during(P_MAIN, "KEYS", "*" + "a" * 20000 + "b")
        eq(rep, [], "no key matches")
        print("     worst KEYS (2 keys x 40 KB, 20000-byte pattern): %.0f ms; other worker's GET/PING worst %.1f ms"
              " over %d calls" % (total, worst, n), flush=True)
        true(n >= 3, "PINGs ran meanwhile")
        true(worst < 200, "a PING waited %.1f ms" % worst)
        Raw(P_MAIN).cmd("FLUSHDB")

    @test("busy: PUBLISH to a long channel with a hostile PSUBSCRIBE pattern does not stall other clients' "
          "pub/sub or keyspace events (< 200 ms)")
    def busy_publish_hostile_pattern():
        sub = Raw(P_MAIN, timeout=60)
        sub.cmd("PSUBSCRIBE", "*" + "a" * 20000 + "b")
        pub = Raw(P_MAIN, timeout=60)
        pub.send(encode("PUBLISH", "a" * 40000, "m") * 3)  # ~0.5 s of matching each
        time.sleep(0.05)
        # connected while the PUBLISH runs: placed on a worker that is not inside a long command
        other = Raw(P_MAIN, timeout=60)
        other.cmd("CONFIG", "SET", "notify-keyspace-events", "KEA")
        worst, n = 0.0, 0
        while not select.select([pub.s], [], [], 0)[0]:
            for cmd in (("PUBLISH", "small", "x"), ("SET", "k", "v"), ("PUBSUB", "NUMPAT")):
                ms, rep = rtt_ms(other, *cmd)
                true(not isinstance(rep, Err), "reply %r" % rep)
                worst, n = max(worst, ms), n + 1
            time.sleep(0.001)
        eq([pub.reply() for _ in range(3)], [0, 0, 0], "no receiver")
        other.cmd("CONFIG", "SET", "notify-keyspace-events", "")
        other.cmd("DEL", "k")
        print("     PUBLISH vs a 20000-byte pattern: other clients' PUBLISH/SET/PUBSUB worst %.1f ms over %d calls"
              % (worst, n), flush=True)
        true(n >= 3, "other commands ran meanwhile")
        true(worst < 200, "a command waited %.1f ms" % worst)
        for k in (sub, pub, other):
            k.close()

    # ------------------------------------------------------------ stopping a busy server
    def stop_under_load(how):
        """Start a server with 1M keys, keep its clients busy in every way we know, then
        stop it (SIGTERM or SHUTDOWN).  Returns (seconds to exit, exit code, log)."""
        d = os.path.join(TMP, "stop-" + how)
        srv = shardkv(P_STOP, "--dir", d, "--save", "", name="stop-" + how).wait_ready()
        fill(P_STOP, 1000000)
        c = Raw(P_STOP, timeout=60)
        c.cmd("SELECT", "1")
        for i in range(24):  # a costly KEYS: ~0.25 s a key (O(key * pattern)), 24 keys
            c.cmd("SET", "a" * 30000 + str(i), "1")
        c.cmd("SET", "big", "x" * (1 << 20))
        busy_conns = []

        def start(*cmds, db="0"):
            k = Raw(P_STOP, timeout=60)
            k.send(encode("SELECT", db) + b"".join(encode(*x) for x in cmds))  # no waiting for replies
            busy_conns.append(k)
            return k
        start(("KEYS", "*"))                                   # a million keys
        start(("KEYS", "*" + "a" * 15000 + "b"), db="1")       # the costly pattern
        start(*[("GET", "big")] * 200, db="1")                 # a reader that never reads 200 MB
        start(("SCAN", "0", "COUNT", "1000000000"))            # a SCAN with no limit
        half = Raw(P_STOP)
        half.send(b"*3\r\n$3\r\nSET\r\n$1\r\nh\r\n$100000000\r\nabc")  # a bulk that never arrives
        busy_conns.append(half)
        sub = start(("SUBSCRIBE", "flood"))                    # a subscriber that never reads
        pub = start(*[("PUBLISH", "flood", "m" * 10000)] * 2000)
        if how == "SHUTDOWN":
            start(("FLUSHDB",), db="2")
        time.sleep(0.3)
        t0 = time.time()
        if how == "SIGTERM":
            srv.send_signal(signal.SIGTERM)
        else:
            Raw(P_STOP).send(encode("SHUTDOWN"))
        try:
            srv.proc.wait(30)
        except Exception:  # noqa: BLE001 - reported below
            pass
        took = time.time() - t0
        code = srv.stop(signal.SIGKILL)
        for k in busy_conns + [sub, pub]:
            k.close()
        return took, code, srv.read_log(), d

    @test("stop: SIGTERM exits 0 within 5 s while clients run KEYS over 1M keys, the worst KEYS, a huge SCAN, "
          "a slow reader, a half-sent bulk, a flooded subscriber; the final save has every key")
    def stop_sigterm_busy():
        took, code, log, d = stop_under_load("SIGTERM")
        print("     SIGTERM under load: exited %s after %.2f s" % (code, took), flush=True)
        eq(code, 0, "exit code (log: %s)" % log[-1500:])
        true(took < 5, "SIGTERM took %.1f s" % took)
        true("DB saved on disk" in log, "final save logged")
        again = shardkv(P_STOP, "--dir", d, "--save", "", name="stop-again").wait_ready(60)
        c = Raw(P_STOP)
        eq(c.cmd("DBSIZE"), 1000000, "every key of db 0 after the restart")
        c.cmd("SELECT", "1")
        eq(c.cmd("DBSIZE"), 25, "db 1 after the restart")
        c.close()
        again.stop()

    @test("stop: SHUTDOWN exits 0 within 5 s under the same load plus a FLUSHDB")
    def stop_shutdown_busy():
        took, code, log, d = stop_under_load("SHUTDOWN")
        print("     SHUTDOWN under load: exited %s after %.2f s" % (code, took), flush=True)
        eq(code, 0, "exit code (log: %s)" % log[-1500:])
        true(took < 5, "SHUTDOWN took %.1f s" % took)
        true("DB saved on disk" in log, "final save logged")

    # ------------------------------------------------------------ jobs under ASan

    @test("asan: KEYS/SCAN jobs -- pipelined replies stay in order, clients closed mid-job, SIGTERM mid-job: clean")
    def asan_jobs():
        a = shardkv(P_ASAN, "--dir", os.path.join(TMP, "asan"), "--save", "", "--threads", "1",
                    binary=BIN_ASAN, name="asan-jobs").wait_ready(60)
        fill(P_ASAN, 100000)
        c = Raw(P_ASAN, timeout=120)
        # a job, then commands queued behind it, twice, in one write
        reps = pipelined(c, [("KEYS", "key:9*"), ("SET", "after", "1"), ("GET", "after"),
                             ("SCAN", "0", "MATCH", "key:1*", "COUNT", "1000000"), ("DEL", "after"), ("PING",)])
        eq(len(reps[0]), 11111, "KEYS key:9*")
        eq(reps[1:3], ["OK", b"1"], "queued commands ran after the job, in order")
        eq((reps[3][0], len(reps[3][1])), (b"0", 11111), "SCAN as a job")
        eq(reps[4:], [1, "PONG"], "the rest in order")
        # clients that leave while their job runs
        for i in range(20):
            k = Raw(P_ASAN)
            k.send(encode("KEYS", "*" if i % 2 else "*9*9*") + encode("GET", "key:1"))
            if i % 3 == 0:
                time.sleep(0.01)
            k.close()
        eq(c.cmd("DBSIZE"), 100000, "served meanwhile")
        # SIGTERM while jobs run
        for _ in range(3):
            Raw(P_ASAN).send(encode("KEYS", "*"))
        time.sleep(0.05)
        t0 = time.time()
        code = a.stop(signal.SIGTERM)
        took = time.time() - t0
        log = a.read_log()
        eq(code, 0, "exit code")
        true(took < 5, "SIGTERM took %.1f s" % took)
        true("Sanitizer" not in log and "runtime error" not in log, "sanitizer report: " + log[-3000:])

    @test("asan: SIGTERM while a worker is inside one long match (seconds under ASan): exits 0 within 5 s, saved")
    def asan_stop_stuck_worker():
        d = os.path.join(TMP, "asan-stuck")
        a = shardkv(P_ASAN, "--dir", d, "--save", "", binary=BIN_ASAN, name="asan-stuck").wait_ready(60)
        c = Raw(P_ASAN, timeout=60)
        eq(c.cmd("SET", "a" * 65000, "1"), "OK", "a 65000-byte key")
        eq(c.cmd("SET", "kept", "yes"), "OK", "a key for the final save")
        pattern = "*" + "a" * 32500 + "b"
        match_s, rep = rtt_ms(c, "KEYS", pattern)  # one key's match: seconds under ASan
        match_s /= 1000
        eq(rep, [], "no match")
        Raw(P_ASAN).send(encode("KEYS", pattern))
        time.sleep(0.5)
        t0 = time.time()
        code = a.stop(signal.SIGTERM)
        took = time.time() - t0
        log = a.read_log()
        print("     SIGTERM during a single %.1f s match: exited %s after %.2f s" % (match_s, code, took), flush=True)
        eq(code, 0, "exit code")
        true(took < 5, "SIGTERM took %.1f s" % took)
        if match_s > 3:  # the match outlasts the 2 s wait: the bounded wait must have been used
            true("still inside a command" in log, "the stuck worker was noted: " + log[-1500:])
        true("DB saved on disk" in log and "Sanitizer" not in log and "runtime error" not in log,
             "saved, no sanitizer report: " + log[-1500:])
        again = shardkv(P_ASAN, "--dir", d, "--save", "", name="asan-stuck-again").wait_ready()
        eq(Raw(P_ASAN).cmd("GET", "kept"), b"yes", "the final save has the data")
        again.stop()


    if not os.path.exists(BIN_TSAN):
        print("skip tsan: %s missing" % BIN_TSAN)
    else:
        @test("tsan: KEYS/SCAN jobs on three workers beside writers, closing clients, PSUBSCRIBE churn and SIGTERM are race-free")
        def tsan_jobs():
            t = shardkv(P_FS, "--dir", os.path.join(TMP, "tsan"), "--save", "", "--threads", "3",
                        binary=BIN_TSAN, name="tsan-jobs").wait_ready(60)
            fill(P_FS, 50000, prefix="k")

            def keyser():
                for r in range(8):
                    k = Raw(P_FS, timeout=60)
                    k.send(encode("KEYS", "k1*") + encode("SCAN", "0", "COUNT", "100000") + encode("PING"))
                    if r % 2:
                        k.reply(), k.reply(), k.reply()
                    k.close()

            def writer(i):
                w = Raw(P_FS, timeout=60)
                for r in range(1500):
                    w.cmd("SET", "w%d:%d" % (i, r), "x")
                    if r % 7 == 0:
                        w.cmd("DEL", "k%d" % r)
                    if r % 100 == 0:
                        w.cmd("PUBLISH", "ch%d" % (r % 3), "m")
                w.close()

            def subber():
                for r in range(20):
                    k = Raw(P_FS, timeout=60)
                    k.send(encode("PSUBSCRIBE", "ch*", "*x*") + encode("PUBSUB", "CHANNELS", "c*"))
                    time.sleep(0.01)
                    k.close()
            ts = [threading.Thread(target=keyser) for _ in range(3)] + \
                 [threading.Thread(target=writer, args=(i,)) for i in range(2)] + [threading.Thread(target=subber)]
            for th in ts:
                th.start()
            for th in ts:
                th.join()
            for _ in range(3):
                Raw(P_FS).send(encode("KEYS", "*"))
            time.sleep(0.05)
            code = t.stop(signal.SIGTERM, timeout=60)
            log = t.read_log()
            true("WARNING: ThreadSanitizer" not in log, "TSan report: " + log[log.find("WARNING: ThreadSanitizer"):][:3000])
            eq(code, 0, "exit code")

finally:
    stop_all()
    shutil.rmtree(TMP, ignore_errors=True)

sys.exit(0 if summary() else 1)
