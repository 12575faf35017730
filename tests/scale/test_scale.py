"""
test_scale.py -- three shardkv-servers behind twemproxy (Debian's nutcracker,
ketama hashing) on loopback (issue 14): redis-benchmark and python3-redis through
the proxy, keys on all three servers, what the proxy does not forward, and
auto_eject_hosts when one server stops (nothing lost on the two that stay; the
stopped one comes back from its append-only file and rejoins).

Servers: 127.0.0.1:6397-6399 (appendonly yes).  The proxy listens on a unix
socket; its stats port is 127.0.0.2:6397 (nutcracker cannot turn it off).
Every process is started and stopped by PID.
Run: /usr/bin/python3 tests/scale/test_scale.py
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "server"))
import redis  # noqa: E402  (python3-redis, Debian)

from harness import eq, shardkv, stop_all, summary, test, true  # noqa: E402

PORTS = [6397, 6398, 6399]
TMP = tempfile.mkdtemp(prefix="skv-scale-test-")
SOCK = os.path.join(TMP, "nutcracker.sock")
RETRY_MS = 1500

CONF = """scale:
  listen: %s 0600
  hash: fnv1a_64
  distribution: ketama
  redis: true
  timeout: 2000
  auto_eject_hosts: true
  server_retry_timeout: %d
  server_failure_limit: 2
  servers:
%s
""" % (SOCK, RETRY_MS, "".join("   - 127.0.0.1:%d:1 s%d\n" % (p, i + 1) for i, p in enumerate(PORTS)))


def backend(i):
    return shardkv(PORTS[i], "--dir", os.path.join(TMP, "s%d" % i), "--save", "", "--threads", "1",
                   "--appendonly", "yes", "--appendfsync", "everysec", name="scale%d" % i).wait_ready()


class Proxy:
    def __init__(self):
        conf = os.path.join(TMP, "nutcracker.yml")
        with open(conf, "w") as f:
            f.write(CONF)
        self.log = os.path.join(TMP, "nutcracker.log")
        self.proc = subprocess.Popen(["nutcracker", "-c", conf, "-s", str(PORTS[0]), "-a", "127.0.0.2",
                                      "-o", self.log, "-p", os.path.join(TMP, "nutcracker.pid")])
        end = time.time() + 10
        while not os.path.exists(SOCK) and time.time() < end:
            time.sleep(0.05)
        if not os.path.exists(SOCK):
            raise AssertionError("nutcracker did not start: %s" % open(self.log).read()[-2000:]
                                 if os.path.exists(self.log) else "no log")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def via_proxy():
    return redis.Redis(unix_socket_path=SOCK, socket_timeout=10)


def direct(i):
    return redis.Redis(host="127.0.0.1", port=PORTS[i], socket_timeout=10)


proxy = None
try:
    servers = [backend(i) for i in range(3)]
    proxy = Proxy()
    r = via_proxy()
    N = 3000

    @test("scale: python3-redis through nutcracker; keys land on all three servers")
    def t_spread():
        p = r.pipeline(transaction=False)
        for i in range(N):
            p.set("user:%d" % i, "v%d" % i)
        p.execute()
        sizes = [direct(i).dbsize() for i in range(3)]
        print("     keys per server: %r" % sizes)
        eq(sum(sizes), N, "every key once")
        true(all(s > N // 10 for s in sizes), "each server holds a share: %r" % sizes)
        eq(r.mget(["user:1", "user:2", "user:2999", "nope"]), [b"v1", b"v2", b"v2999", None], "MGET split by the proxy")
        eq(r.get("user:1234"), b"v1234", "GET")
        eq(r.incr("counter"), 1, "INCR")

    @test("scale: redis-benchmark through the proxy (2000 requests, functional)")
    def t_benchmark():
        out = subprocess.run(["redis-benchmark", "-s", SOCK, "-n", "2000", "-c", "4", "-t", "set,get", "-q"],
                             capture_output=True, text=True, timeout=60)
        true("SET:" in out.stdout and "GET:" in out.stdout, "redis-benchmark: %r %r" % (out.stdout[-300:], out.stderr[-300:]))
        sizes = [direct(i).dbsize() for i in range(3)]
        true(sum(sizes) > N, "benchmark keys stored: %r" % sizes)

    @test("scale: what nutcracker does not forward: MULTI, SUBSCRIBE, blocking and server commands")
    def t_not_forwarded():
        for cmd in (["MULTI"], ["SUBSCRIBE", "ch"], ["WATCH", "user:1"], ["INFO"], ["KEYS", "*"], ["FLUSHALL"]):
            try:
                got = via_proxy().execute_command(*cmd)
                raise AssertionError("%s was forwarded: %r" % (cmd, got))
            except (redis.ResponseError, redis.ConnectionError) as e:
                print("     %-18s -> %s: %s" % (" ".join(cmd), type(e).__name__, str(e)[:60]))
        eq(via_proxy().get("user:1"), b"v1", "the proxy still serves")

    @test("scale: a stopped server is ejected (auto_eject_hosts); nothing lost on the other two; it rejoins")
    def t_eject():
        owner = {}
        for i in range(3):
            for k in direct(i).scan_iter("user:*", count=1000):
                owner[k.decode()] = i
        eq(len(owner), N, "owners known")
        servers[1].stop(signal.SIGKILL)
        # until server_failure_limit errors, its keys fail; then it is ejected and they rehash
        errors = 0
        for _ in range(10):
            try:
                via_proxy().get(next(k for k, o in owner.items() if o == 1))
            except (redis.ResponseError, redis.ConnectionError):
                errors += 1
        true(errors >= 1, "requests for the stopped server failed first")
        missing = [k for k, o in owner.items() if o != 1 and via_proxy().get(k) != ("v" + k[5:]).encode()]
        eq(missing[:5], [], "keys of the two running servers, through the proxy")
        eq(direct(0).dbsize() + direct(2).dbsize() >= sum(1 for o in owner.values() if o != 1), True,
           "their data is intact")
        lost = [k for k, o in owner.items() if o == 1][:50]
        eq(sum(via_proxy().get(k) is None for k in lost), len(lost), "the stopped server's keys now miss")
        # back from its AOF; after server_retry_timeout the proxy uses it again
        servers[1] = backend(1)
        eq(direct(1).get(lost[0]), ("v" + lost[0][5:]).encode(), "the restarted server replayed its AOF")
        end = time.time() + RETRY_MS / 1000 * 4 + 5
        while time.time() < end and via_proxy().get(lost[0]) is None:
            time.sleep(0.2)
        eq(via_proxy().get(lost[0]), ("v" + lost[0][5:]).encode(), "rejoined: its keys are served again")
finally:
    if proxy:
        proxy.stop()
    stop_all()
    shutil.rmtree(TMP, ignore_errors=True)

sys.exit(0 if summary() else 1)
