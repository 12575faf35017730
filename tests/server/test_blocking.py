"""
test_blocking.py -- BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BZPOPMIN, BZPOPMAX and
CLIENT UNBLOCK: the waiting client waits, no worker does.

Scenarios whose outcome is deterministic (FIFO service on one key, multi-key
waits, BLMOVE chains, transactions, CLIENT UNBLOCK, pipelined commands behind
a blocked one) run against shardkv-server and redis-server and every reply
must be the same bytes.  The rest checks shardkv-server alone: timeouts to
0.1 s, a disconnect while blocked, producers and consumers spread over four
workers losing or duplicating nothing, SIGTERM with blocked clients, and a
served pop surviving kill -9 through the AOF.

Ports: BL_PORT (default 6390) for shardkv-server, BL_REDIS_PORT (6391) for
redis-server.  Every process is stopped by PID.
Run: /usr/bin/python3 tests/server/test_blocking.py [-k words-of-a-test-name]
"""
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Raw, Server, encode, eq, shardkv, stop_all, summary, test, true  # noqa: E402

P = int(os.environ.get("BL_PORT", 6390))
P_REDIS = int(os.environ.get("BL_REDIS_PORT", 6391))
TMP = tempfile.mkdtemp(prefix="skv-blocking-test-")


def start_skv(*args, threads=2):
    d = tempfile.mkdtemp(dir=TMP)
    return shardkv(P, "--dir", d, "--save", "", "--threads", str(threads), *args).wait_ready()


def start_redis():
    d = tempfile.mkdtemp(dir=TMP)
    return Server(["/usr/bin/redis-server", "--port", str(P_REDIS), "--bind", "127.0.0.1", "--save", "",
                   "--appendonly", "no", "--dir", d], P_REDIS, "redis").wait_ready()


def blocked(port):
    r = Raw(port)
    r.send(encode("INFO", "clients"))
    info = r.reply().decode()
    r.close()
    for ln in info.splitlines():
        if ln.startswith("blocked_clients:"):
            return int(ln.split(":")[1])
    raise AssertionError("no blocked_clients in INFO")


def wait_blocked(port, n, timeout=5.0):
    end = time.time() + timeout
    while time.time() < end:
        if blocked(port) == n:
            return
        time.sleep(0.01)
    raise AssertionError("blocked_clients never reached %d (now %d)" % (n, blocked(port)))


class Waiter:
    """A connection that sent a blocking command and may not have its reply yet."""

    def __init__(self, port, *cmd, resp=2):
        self.r = Raw(port, timeout=10)
        if resp == 3:
            self.r.cmd("HELLO", "3")
        self.r.send(encode(*cmd))

    def reply(self):
        return self.r.raw_reply()

    def pending(self, wait=0.2):
        """True if no reply arrived within wait seconds."""
        self.r.s.settimeout(wait)
        try:
            d = self.r.s.recv(65536)
        except socket.timeout:
            return True
        finally:
            self.r.s.settimeout(10)
        self.r.buf += d
        return False


def on_both(scenario):
    """Run scenario(port) on both servers (fresh ones); its returned replies must be equal."""
    skv = start_skv(threads=4)
    try:
        got = scenario(P)
    finally:
        skv.stop()
    rds = start_redis()
    try:
        want = scenario(P_REDIS)
    finally:
        rds.stop()
    for i, (a, b) in enumerate(zip(got, want)):
        if a != b:
            raise AssertionError("reply %d: shardkv %r, redis-server %r" % (i, a, b))
    eq(len(got), len(want), "number of replies")


def blockers(port, cmds, resp=2):
    """Start one Waiter per command, in order, each known blocked before the next."""
    ws = []
    for c in cmds:
        ws.append(Waiter(port, *c, resp=resp))
        wait_blocked(port, len(ws))
    return ws


@test("blocking: waiters on one key are served first come, first served")
def t_fifo():
    def sc(port):
        ws = blockers(port, [["BLPOP", "q", "0"], ["BRPOP", "q", "0"], ["BLPOP", "q", "0"], ["BLPOP", "q", "0"]])
        c = Raw(port)
        c.send(encode("RPUSH", "q", "a", "b", "c"))
        out = [c.raw_reply()]
        out += [w.reply() for w in ws[:3]]
        out.append(b"pending" if ws[3].pending() else b"served")
        c.send(encode("LPUSH", "q", "d"))
        out += [c.raw_reply(), ws[3].reply()]
        c.send(encode("EXISTS", "q"))
        out.append(c.raw_reply())
        return out
    on_both(sc)


@test("blocking: a client waiting on several keys is served from the first with data")
def t_multikey():
    def sc(port):
        c = Raw(port)
        out = []
        for cmd in (["RPUSH", "k3", "x3"], ["RPUSH", "k2", "x2"]):
            c.send(encode(*cmd))
            out.append(c.raw_reply())
        w = Waiter(port, "BLPOP", "k1", "k2", "k3", "0")
        out.append(w.reply())  # k2: the first non-empty in argument order
        ws = blockers(port, [["BLPOP", "k1", "k4", "0"], ["BRPOP", "k4", "k1", "0"]])
        c.send(encode("RPUSH", "k4", "y1", "y2"))
        out += [c.raw_reply(), ws[0].reply(), ws[1].reply()]
        return out
    on_both(sc)


@test("blocking: BLMOVE and BRPOPLPUSH, and the chain a served move starts")
def t_blmove():
    def sc(port):
        ws = blockers(port, [["BLMOVE", "src", "mid", "RIGHT", "LEFT", "0"], ["BLPOP", "mid", "0"],
                             ["BRPOPLPUSH", "src", "dst", "0"]])
        c = Raw(port)
        out = []
        c.send(encode("RPUSH", "src", "a", "b"))
        out += [c.raw_reply()] + [w.reply() for w in ws]
        for cmd in (["LRANGE", "mid", "0", "-1"], ["LRANGE", "dst", "0", "-1"], ["EXISTS", "src"]):
            c.send(encode(*cmd))
            out.append(c.raw_reply())
        return out
    on_both(sc)


@test("blocking: BZPOPMIN and BZPOPMAX, scores in RESP2 and RESP3")
def t_bzpop():
    def sc(port):
        ws = blockers(port, [["BZPOPMIN", "z1", "z2", "0"], ["BZPOPMAX", "z2", "0"]])
        w3 = Waiter(port, "BZPOPMIN", "z2", "0", resp=3)
        wait_blocked(port, 3)
        c = Raw(port)
        c.send(encode("ZADD", "z2", "1.5", "a", "2", "b", "0.1", "c"))
        out = [c.raw_reply()] + [w.reply() for w in ws] + [w3.reply()]
        c.send(encode("ZRANGE", "z2", "0", "-1", "WITHSCORES"))
        out.append(c.raw_reply())
        return out
    on_both(sc)


@test("blocking: a transaction's pushes serve waiters after EXEC, with what it left")
def t_multi():
    def sc(port):
        ws = blockers(port, [["BLPOP", "q", "0"], ["BLPOP", "q2", "0"]])
        c = Raw(port)
        out = []
        for cmd in (["MULTI"], ["RPUSH", "q", "a", "b"], ["LPOP", "q"], ["RPUSH", "q2", "x"], ["DEL", "q2"],
                    ["EXEC"]):
            c.send(encode(*cmd))
            out.append(c.raw_reply())
        out.append(ws[0].reply())
        out.append(b"pending" if ws[1].pending() else b"served")
        return out
    on_both(sc)


@test("blocking: CLIENT UNBLOCK with TIMEOUT and ERROR")
def t_unblock():
    def sc(port):
        ids, ws = [], []
        for i, cmd in enumerate((["BLPOP", "q", "0"], ["BZPOPMIN", "z", "0"], ["BLMOVE", "a", "b", "LEFT", "LEFT", "0"])):
            w = Waiter(port, "CLIENT", "ID")
            ids.append(w.r.reply())
            w.r.send(encode(*cmd))
            ws.append(w)
            wait_blocked(port, i + 1)
        c = Raw(port)
        out = []
        for cmd in (["CLIENT", "UNBLOCK", str(ids[0])], ["CLIENT", "UNBLOCK", str(ids[1]), "ERROR"],
                    ["CLIENT", "UNBLOCK", str(ids[2]), "TIMEOUT"], ["CLIENT", "UNBLOCK", str(ids[2])],
                    ["CLIENT", "UNBLOCK", "x"], ["CLIENT", "UNBLOCK", str(ids[0]), "SOON"]):
            c.send(encode(*cmd))
            out.append(c.raw_reply())
        out += [w.reply() for w in ws]
        return out
    on_both(sc)


@test("blocking: commands pipelined behind a blocked one run after it is served")
def t_pipeline():
    def sc(port):
        w = Raw(port, timeout=10)
        w.send(encode("BLPOP", "q", "0") + encode("PING") + encode("LLEN", "q") + encode("BLPOP", "q", "0.05"))
        wait_blocked(port, 1)
        c = Raw(port)
        c.send(encode("RPUSH", "q", "a"))
        return [c.raw_reply(), w.raw_reply(), w.raw_reply(), w.raw_reply(), w.raw_reply()]
    on_both(sc)


@test("blocking: timeouts answer a null array after the time asked (0.1 s resolution)")
def t_timeouts():
    skv = start_skv()
    for resp, null in ((2, b"*-1\r\n"), (3, b"_\r\n")):
        for cmd, secs in ((["BLPOP", "q", "0.1"], 0.1), (["BRPOP", "a", "b", "0.3"], 0.3),
                          (["BLMOVE", "q", "d", "LEFT", "LEFT", "0.2"], 0.2), (["BZPOPMAX", "z", "0.15"], 0.15),
                          (["BRPOPLPUSH", "q", "d", "0.1"], 0.1)):
            w = Waiter(P, *cmd, resp=resp)
            t0 = time.time()  # the command is sent: the server's clock starts no earlier
            eq(w.reply(), null, " ".join(cmd))
            took = time.time() - t0
            true(secs - 0.01 <= took <= secs + 0.25, "%s took %.3f s" % (" ".join(cmd), took))
    eq(blocked(P), 0, "blocked clients after the timeouts")
    skv.stop()


@test("blocking: a disconnect while blocked removes the waiter")
def t_disconnect():
    skv = start_skv()
    ws = blockers(P, [["BLPOP", "q", "0"], ["BZPOPMIN", "z", "0"], ["BLMOVE", "q", "d", "LEFT", "LEFT", "0"]])
    for w in ws:
        w.r.close()
    wait_blocked(P, 0)
    c = Raw(P)
    eq(c.cmd("RPUSH", "q", "x"), 1, "push after the waiters left")
    eq(c.cmd("ZADD", "z", "1", "m"), 1, "zadd after the waiters left")
    eq(c.cmd("LLEN", "q"), 1, "nothing popped for a closed client")
    eq(c.cmd("ZCARD", "z"), 1, "nothing popped for a closed client")
    eq(c.cmd("EXISTS", "d"), 0, "nothing moved for a closed client")
    skv.stop()


@test("blocking: 40 consumers and 40 producers over 4 workers, nothing lost or doubled")
def t_many_workers():
    skv = start_skv(threads=4)
    n, per = 40, 25
    got, errs = [], []
    lock = threading.Lock()

    def consumer(i):
        try:
            r = Raw(P, timeout=30)
            keys = ["jobs", "jobs:0", "jobs:1", "jobs:2"]
            keys = keys[i % 4:] + keys[:i % 4]  # every key, in rotated orders
            for _ in range(per):
                v = r.cmd("BRPOP" if i % 2 else "BLPOP", *keys, "10")
                if v is None:
                    errs.append("consumer %d timed out" % i)
                    return
                with lock:
                    got.append(v[1])
            r.close()
        except Exception as e:  # noqa: BLE001 - reported below
            errs.append("consumer %d: %s" % (i, e))

    def producer(i):
        try:
            r = Raw(P, timeout=30)
            for j in range(per):
                key = "jobs" if j % 4 else "jobs:%d" % (j % 3)
                r.cmd("LPUSH" if j % 2 else "RPUSH", key, "p%d-%d" % (i, j))
            r.close()
        except Exception as e:  # noqa: BLE001 - reported below
            errs.append("producer %d: %s" % (i, e))

    cs = [threading.Thread(target=consumer, args=(i,)) for i in range(n)]
    for t in cs:
        t.start()
    time.sleep(0.3)
    ps = [threading.Thread(target=producer, args=(i,)) for i in range(n)]
    for t in ps:
        t.start()
    for t in ps + cs:
        t.join(60)
    eq(errs, [], "errors")
    want = sorted(b"p%d-%d" % (i, j) for i in range(n) for j in range(per))
    eq(sorted(got), want, "every pushed element popped exactly once")
    c = Raw(P)
    eq(c.cmd("EXISTS", "jobs", "jobs:0", "jobs:1", "jobs:2"), 0, "queues drained")
    eq(blocked(P), 0, "no one left blocked")
    skv.stop()


@test("blocking: SIGTERM with blocked clients shuts down at once")
def t_shutdown():
    skv = start_skv()
    ws = blockers(P, [["BLPOP", "q%d" % i, "0"] for i in range(10)])
    t0 = time.time()
    code = skv.stop(signal.SIGTERM, timeout=10)
    took = time.time() - t0
    true(code is not None, "the server had to be killed")
    true(took < 2.0, "shutdown took %.2f s" % took)
    for w in ws:
        true(w.r.closed(2), "a blocked client's connection was closed")


@test("blocking: a pop served on a waiter's behalf is in the AOF (kill -9, restart)")
def t_aof():
    d = tempfile.mkdtemp(dir=TMP)
    args = ("--dir", d, "--save", "", "--appendonly", "yes", "--appendfsync", "always")
    skv = shardkv(P, *args).wait_ready()
    w = Waiter(P, "BLMOVE", "src", "dst", "LEFT", "RIGHT", "0")
    w2 = Waiter(P, "BZPOPMIN", "z", "0")
    wait_blocked(P, 2)
    c = Raw(P)
    eq(c.cmd("RPUSH", "src", "a", "b"), 2, "push")
    eq(c.cmd("ZADD", "z", "1", "x", "2", "y"), 2, "zadd")
    eq(w.reply(), b"$1\r\na\r\n", "the move")
    eq(w2.reply(), b"*3\r\n$1\r\nz\r\n$1\r\nx\r\n$1\r\n1\r\n", "the zpop")
    skv.stop(signal.SIGKILL)
    skv = shardkv(P, *args).wait_ready()
    c = Raw(P)
    eq(c.cmd("LRANGE", "src", "0", "-1"), [b"b"], "src after restart")
    eq(c.cmd("LRANGE", "dst", "0", "-1"), [b"a"], "dst after restart")
    eq(c.cmd("ZRANGE", "z", "0", "-1"), [b"y"], "zset after restart")
    skv.stop()


ok = summary()
stop_all()
shutil.rmtree(TMP, ignore_errors=True)
sys.exit(0 if ok else 1)
