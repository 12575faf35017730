"""
test_aof.py -- shardkv-server's append-only file (issue 14) through redis-cli-
style clients (python3-redis): replay after kill -9, absolute expiries, evictions,
a truncated tail, a corrupt middle record, BGREWRITEAOF under writes, the
automatic rewrite, INFO persistence and a full disk (MISCONF).

Ports: 6397-6398.  Every process started here is stopped by PID.
Run: /usr/bin/python3 tests/server/test_aof.py [-k words-of-a-test-name]
"""
import glob
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import redis  # noqa: E402  (python3-redis, Debian)

import harness  # noqa: E402
from harness import eq, shardkv, stop_all, summary, test, true  # noqa: E402

P, P2 = int(os.environ.get("AOF_TEST_PORT", 6397)), int(os.environ.get("AOF_TEST_PORT2", 6398))
TMP = tempfile.mkdtemp(prefix="skv-aof-test-")


def client(port=P):
    return redis.Redis(host="127.0.0.1", port=port, socket_timeout=30)


def start(d, *extra, port=P, fsync="always"):
    return shardkv(port, "--dir", d, "--save", "", "--appendonly", "yes", "--appendfsync", fsync,
                   *extra, name="aof").wait_ready()


def fresh(name):
    d = os.path.join(TMP, name)
    os.makedirs(d)
    return d


def incr_files(d):
    return sorted(glob.glob(os.path.join(d, "appendonlydir", "*.incr.aof")))


def dir_digest(d):
    h = hashlib.sha256()
    for f in sorted(glob.glob(os.path.join(d, "appendonlydir", "*"))):
        h.update(f.encode())
        with open(f, "rb") as fh:
            h.update(fh.read())
    return h.hexdigest()


def info(r):
    return r.info("persistence")


try:
    @test("aof: writes survive kill -9 (strings, incr, mset, del, flushdb, other db)")
    def t_replay():
        d = fresh("replay")
        s = start(d)
        r = client()
        r.set("a", "1")
        r.incrby("a", 41)
        r.incrbyfloat("f", "1.5")
        r.append("s", "hello")
        r.setrange("s", 10, "x")
        r.mset({"m1": "v1", "m2": "v2"})
        r.set("gone", "x")
        r.delete("gone")
        r.rename("m2", "m3")
        r1 = redis.Redis(host="127.0.0.1", port=P, db=1)
        r1.set("one", "in db1")
        r2 = redis.Redis(host="127.0.0.1", port=P, db=2)
        r2.set("two", "x")
        r2.flushdb()
        r.set(b"bin\x00key", b"\x00\xff\r\n")
        r.set("", "the empty key")
        before = {k: r.get(k) for k in ["a", "f", "s", "m1", "m2", "m3", "gone", b"bin\x00key", ""]}
        s.stop(signal.SIGKILL)
        start(d)
        after = {k: r.get(k) for k in before}
        eq(after, before, "values after replay")
        eq(r1.get("one"), b"in db1", "db 1")
        eq(r2.dbsize(), 0, "flushed db 2")
        eq(r.type("a"), b"string", "type")

    @test("aof: a pipeline of plain SETs (engine batches) survives kill -9, last write of each key wins")
    def t_pipelined_sets():
        d = fresh("pipeset")
        s = start(d)
        r = client()
        c = harness.Raw(P)
        want = {}
        data = b""
        for i in range(3000):
            k, v = "ps%d" % (i % 700), "v%d" % i
            want[k] = v.encode()
            data += harness.encode("SET", k, v)
        c.send(data)
        replies = [c.raw_reply() for _ in range(3000)]
        eq(set(replies), {b"+OK\r\n"}, "every SET answered OK")
        c.close()
        s.stop(signal.SIGKILL)
        start(d)
        eq({k: r.get(k) for k in want}, want, "values after replay")

    @test("aof: NAMESPACE CREATE / DROP replay, also of a namespace the base holds")
    def t_namespaces():
        d = fresh("ns")
        s = start(d)
        r = client()
        eq(r.execute_command("NAMESPACE", "CREATE", "keep"), b"OK", "create keep")
        eq(r.execute_command("NAMESPACE", "CREATE", "gone"), b"OK", "create gone")
        rk = redis.Redis(host="127.0.0.1", port=P, db=0)
        rk.execute_command("SELECT", "gone")
        rk.set("g", "1")
        rk.execute_command("SELECT", "keep")
        rk.set("k", "1")
        eq(r.bgrewriteaof(), True, "rewrite: the base holds both")
        deadline = time.time() + 10
        while info(r)["aof_rewrite_in_progress"] and time.time() < deadline:
            time.sleep(0.05)
        eq(r.execute_command("NAMESPACE", "DROP", "gone"), b"OK", "drop gone")
        eq(r.execute_command("NAMESPACE", "CREATE", "late"), b"OK", "create late")
        s.stop(signal.SIGKILL)
        start(d)
        names = set(x.decode() for x in r.execute_command("NAMESPACE", "LIST"))
        true("keep" in names and "late" in names and "gone" not in names, "namespaces: %r" % names)
        r.execute_command("SELECT", "keep")
        eq(r.get("k"), b"1", "key of keep")

    @test("aof: writes through the HTTP door are logged too (PUT, incr, DELETE) and survive kill -9")
    def t_http():
        d = fresh("http")
        s = start(d, "--http-port", str(P2))
        base = "http://127.0.0.1:%d/v1/ns/0/keys/" % P2
        for args in (["-X", "PUT", "--data", "from-http", base + "h1"],
                     ["-X", "PUT", "--data", "gone", base + "h2"],
                     ["-X", "POST", base + "n/incr?by=7"],
                     ["-X", "DELETE", base + "h2"]):
            out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}"] + args,
                                 capture_output=True, text=True, timeout=10)
            true(out.stdout in ("200", "201", "204"), "%r: HTTP %s" % (args, out.stdout))
        s.stop(signal.SIGKILL)
        start(d)
        r = client()
        eq((r.get("h1"), r.get("h2"), r.get("n")), (b"from-http", None, b"7"), "after replay")

    @test("aof: expiries replay as absolute times (EX, KEEPTTL, INCR keeps the TTL, PERSIST)")
    def t_expiry():
        d = fresh("expiry")
        s = start(d)
        r = client()
        r.set("ex", "v", ex=1000)
        r.set("n", "5", px=500000)
        r.incr("n")                      # keeps the TTL
        r.set("kt", "a", ex=2000)
        r.set("kt", "b", keepttl=True)   # keeps the TTL
        r.set("p", "x", ex=100)
        r.persist("p")
        r.set("short", "x", px=300)
        want = {k: r.pexpiretime(k) for k in ["ex", "n", "kt", "p"]}
        true(want["n"] > 0 and want["kt"] > 0, "ttls set: %r" % want)
        eq(want["p"], -1, "persisted")
        time.sleep(0.5)                  # "short" expires before the crash
        s.stop(signal.SIGKILL)
        time.sleep(1.1)                  # replay later: absolute times must not move
        start(d)
        got = {k: r.pexpiretime(k) for k in want}
        eq(got, want, "absolute expiry times")
        eq(r.get("n"), b"6", "incr value")
        eq(r.get("kt"), b"b", "keepttl value")
        eq(r.exists("short"), 0, "expired key stays gone")

    @test("aof: a 200k-key MSET is logged in linear-ish time and replays whole")
    def t_big_mset():
        # noting each changed key used to compare it with every pending one: O(n^2)
        d = fresh("bigmset")
        s = start(d)
        r = client()
        args = []
        for i in range(200000):
            args += ["m%d" % i, "v"]
        t0 = time.monotonic()
        r.execute_command("MSET", *args)
        took = time.monotonic() - t0
        true(took < 5.0, "MSET of 200k keys took %.2f s (bound 5 s)" % took)
        print("    MSET of 200k keys with appendfsync always: %.2f s" % took)
        s.stop(signal.SIGKILL)
        start(d)
        eq(r.dbsize(), 200000, "every key after replay")

    @test("aof: evictions are logged (allkeys-random, maxmemory)")
    def t_evict():
        d = fresh("evict")
        s = start(d, "--maxmemory", "2mb", "--maxmemory-policy", "allkeys-random")
        r = client()
        p = r.pipeline(transaction=False)
        for i in range(3000):
            p.set("k%d" % i, "v" * 1000)
        p.execute()
        n = r.dbsize()
        true(0 < n < 3000, "evicted some: dbsize %d" % n)
        keys = sorted(r.keys("*"))
        s.stop(signal.SIGKILL)
        start(d, "--maxmemory", "2mb", "--maxmemory-policy", "allkeys-random")
        eq(sorted(r.keys("*")), keys, "the same keys after replay")

    @test("aof: a truncated last record is dropped with a warning, the rest loads")
    def t_truncated():
        d = fresh("trunc")
        s = start(d)
        r = client()
        for i in range(20):
            r.set("k%d" % i, "v%d" % i)
        s.stop(signal.SIGKILL)
        f = incr_files(d)[-1]
        size = os.path.getsize(f)
        with open(f, "r+b") as fh:       # cut the last record in half
            fh.truncate(size - 5)
        s = start(d)
        eq(r.get("k18"), b"v18", "records before the cut")
        eq(r.get("k19"), None, "the cut record is dropped")
        true("truncated last record" in s.read_log(), "warning logged: " + s.read_log())
        r.set("after", "1")              # appends go after the good part
        s.stop(signal.SIGKILL)
        start(d)
        eq(r.get("after"), b"1", "write after a truncated load")
        eq(r.get("k18"), b"v18", "still there")

    @test("aof: aof-load-truncated no refuses a truncated file")
    def t_truncated_no():
        d = fresh("trunc-no")
        s = start(d)
        client().set("k", "v")
        s.stop(signal.SIGKILL)
        f = incr_files(d)[-1]
        with open(f, "r+b") as fh:
            fh.truncate(os.path.getsize(f) - 3)
        s = shardkv(P, "--dir", d, "--save", "", "--appendonly", "yes", "--aof-load-truncated", "no", name="aof")
        eq(s.proc.wait(15), 1, "exit status")
        true("truncated record at offset" in s.read_log(), s.read_log())

    @test("aof: a corrupt record in the middle refuses to start, names the offset, changes nothing")
    def t_corrupt():
        d = fresh("corrupt")
        s = start(d)
        r = client()
        for i in range(10):
            r.set("k%d" % i, "value-%d" % i)
        s.stop(signal.SIGKILL)
        f = incr_files(d)[-1]
        data = bytearray(open(f, "rb").read())
        i = data.index(b"value-3")
        data[i] ^= 0x01                  # one flipped bit in a middle record
        open(f, "wb").write(bytes(data))
        digest = dir_digest(d)
        s = shardkv(P, "--dir", d, "--save", "", "--appendonly", "yes", name="aof")
        eq(s.proc.wait(15), 1, "exit status")
        log = s.read_log()
        true("checksum mismatch in the record at offset" in log, log)
        eq(dir_digest(d), digest, "files unchanged")

    @test("aof: BGREWRITEAOF while 8 clients write: nothing acknowledged is lost, old files removed")
    def t_rewrite():
        d = fresh("rewrite")
        s = start(d, fsync="everysec")
        r = client()
        stop = threading.Event()
        acked = {}

        def writer(n):
            c = client()
            i = 0
            while not stop.is_set():
                c.set("w%d" % n, i)
                acked[n] = i
                i += 1
        ts = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
        for t in ts:
            t.start()
        for k in range(2000):
            r.set("base%d" % k, k)
        for _ in range(3):
            eq(r.bgrewriteaof(), True, "BGREWRITEAOF")
            deadline = time.time() + 20
            while info(r)["aof_rewrite_in_progress"] and time.time() < deadline:
                time.sleep(0.05)
            time.sleep(0.1)
        stop.set()
        for t in ts:
            t.join()
        i = info(r)
        eq(i["aof_rewrites"], 3, "rewrites counted")
        eq(i["aof_last_bgrewrite_status"], "ok", "status")
        files = sorted(os.listdir(os.path.join(d, "appendonlydir")))
        eq(files, ["appendonly.aof.4.base.skv", "appendonly.aof.4.incr.aof", "appendonly.aof.manifest"],
           "files after three rewrites")
        s.stop(signal.SIGKILL)
        start(d)
        for n, v in acked.items():
            eq(int(r.get("w%d" % n)), v, "writer %d" % n)
        eq(r.get("base1999"), b"1999", "written before the rewrites")

    @test("aof: automatic rewrite (auto-aof-rewrite-percentage / min-size)")
    def t_auto():
        d = fresh("auto")
        start(d, "--auto-aof-rewrite-percentage", "100", "--auto-aof-rewrite-min-size", "64kb", fsync="no")
        r = client()
        p = r.pipeline(transaction=False)
        for i in range(2000):
            p.set("k%d" % (i % 50), "x" * 200)
        p.execute()
        deadline = time.time() + 10
        while info(r)["aof_rewrites"] < 1 and time.time() < deadline:
            time.sleep(0.1)
        true(info(r)["aof_rewrites"] >= 1, "an automatic rewrite ran: %r" % info(r))
        eq(r.config_get("auto-aof-rewrite-min-size")["auto-aof-rewrite-min-size"], "65536", "config get")

    @test("aof: CONFIG SET appendonly yes under a writer loses nothing; appendonly no stops logging")
    def t_runtime():
        d = fresh("runtime")
        shardkv(P, "--dir", d, "--save", "", name="aof").wait_ready()
        r = client()
        for i in range(3000):
            r.set("pre%d" % i, i)
        stop = threading.Event()
        acked = [0]

        def writer():
            c = client()
            while not stop.is_set():
                acked[0] = c.incr("during")
        t = threading.Thread(target=writer)
        t.start()
        time.sleep(0.1)
        eq(r.config_set("appendonly", "yes"), True, "CONFIG SET appendonly yes")
        deadline = time.time() + 20
        while info(r)["aof_rewrite_in_progress"] and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(0.1)
        stop.set()
        t.join()
        eq(r.config_get("appendonly")["appendonly"], "yes", "config get")
        r.set("after", "1")
        r.config_set("appendonly", "no")
        r.set("unlogged", "1")
        eq(info(r)["aof_enabled"], 0, "off again")
        r.config_set("appendonly", "yes")   # a second start numbers after the first files
        deadline = time.time() + 20
        while info(r)["aof_rewrite_in_progress"] and time.time() < deadline:
            time.sleep(0.05)
        r.set("again", "1")
        files = sorted(os.listdir(os.path.join(d, "appendonlydir")))
        eq(files, ["appendonly.aof.2.base.skv", "appendonly.aof.2.incr.aof", "appendonly.aof.manifest"],
           "the first AOF's files replaced")
        # kill -9 and start from the AOF
        for s in list(harness.PROCS):
            s.stop(signal.SIGKILL)
        start(d)
        eq(int(r.get("during")), acked[0], "every increment acknowledged around the switch")
        eq((r.get("pre2999"), r.get("after"), r.get("unlogged"), r.get("again")), (b"2999", b"1", b"1", b"1"),
           "keys from before, between and after")

    @test("aof: INFO persistence fields, CONFIG appendfsync, BGREWRITEAOF with appendonly no")
    def t_info():
        d = fresh("info")
        start(d)
        r = client()
        i = info(r)
        for f in ["aof_enabled", "aof_rewrite_in_progress", "aof_last_bgrewrite_status", "aof_last_write_status",
                  "aof_current_size", "aof_base_size", "aof_buffer_length", "aof_rewrites"]:
            true(f in i, "INFO persistence has " + f)
        eq(i["aof_enabled"], 1, "enabled")
        eq(r.config_get("appendonly")["appendonly"], "yes", "config get appendonly")
        eq(r.config_set("appendfsync", "everysec"), True, "config set appendfsync")
        eq(r.config_get("appendfsync")["appendfsync"], "everysec", "config get appendfsync")
        try:
            r.config_set("appendfsync", "sometimes")
            raise AssertionError("bad appendfsync accepted")
        except redis.ResponseError as e:
            true("appendfsync" in str(e), str(e))
        d2 = fresh("info-off")
        shardkv(P2, "--dir", d2, "--save", "", name="noaof").wait_ready()
        r2 = client(P2)
        eq(info(r2)["aof_enabled"], 0, "off")
        try:
            r2.bgrewriteaof()
            raise AssertionError("BGREWRITEAOF with appendonly no accepted")
        except redis.ResponseError as e:
            true("appendonly no" in str(e), str(e))

    @test("aof: a snapshot is the start of a new AOF; the AOF wins over it afterwards")
    def t_from_snapshot():
        d = fresh("fromsnap")
        s = shardkv(P, "--dir", d, "--save", "", name="snap").wait_ready()
        client().set("from-snapshot", "1")
        eq(s.stop(signal.SIGTERM), 0, "saved at shutdown")
        s = start(d)
        r = client()
        eq(r.get("from-snapshot"), b"1", "loaded from dump.skv into the first base")
        r.set("from-aof", "2")
        s.stop(signal.SIGKILL)
        start(d)
        eq((r.get("from-snapshot"), r.get("from-aof")), (b"1", b"2"), "both after replay")

    @test("aof: full disk during append gives MISCONF, never a silent loss")
    def t_full_disk():
        if os.geteuid() != 0:
            print("     skipped: mounting a tmpfs needs root")
            return
        mnt = tempfile.mkdtemp(prefix="skv-aof-tiny-")
        if subprocess.call(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mnt]) != 0:
            raise AssertionError("mount -t tmpfs failed")
        try:
            s = start(mnt)
            r = client()
            ok, errors = [], []
            for i in range(400):
                try:
                    r.set("big%d" % i, ("%d-" % i) * 2000)
                    ok.append(i)
                except redis.ResponseError as e:
                    errors.append(str(e))
                except redis.ConnectionError:
                    errors.append("closed")
                    r = client()
            print("     %d writes acknowledged, then: %r" % (len(ok), errors[:2]))
            true(errors, "the disk filled up")
            true(all(e.startswith("MISCONF Errors writing to the AOF file") or e == "closed" for e in errors),
                 "errors: %r" % errors[:3])
            true(any(e.startswith("MISCONF") for e in errors), "a MISCONF reply: %r" % errors[:3])
            eq(info(r)["aof_last_write_status"], "err", "INFO says err")
            eq(r.get("big0")[:2], b"0-", "reads still served")
            # a rewrite on the full disk fails cleanly and leaves a loadable AOF
            try:
                r.bgrewriteaof()
            except redis.ResponseError as e:
                true("in progress" in str(e), str(e))
            deadline = time.time() + 10
            while info(r)["aof_rewrite_in_progress"] and time.time() < deadline:
                time.sleep(0.05)
            eq(info(r)["aof_last_bgrewrite_status"], "err", "the rewrite failed")
            s.stop(signal.SIGKILL)
            s = start(mnt)
            r = client()
            for i in ok:
                true(r.exists("big%d" % i), "acknowledged write big%d survived" % i)
            s.stop(signal.SIGKILL)
        finally:
            subprocess.call(["umount", mnt])
            os.rmdir(mnt)
finally:
    stop_all()
    shutil.rmtree(TMP, ignore_errors=True)

sys.exit(0 if summary() else 1)
