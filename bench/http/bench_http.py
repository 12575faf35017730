"""
bench_http.py -- wrk GET and PUT of 100-byte values with 50 connections against
shardkv-server's HTTP door and against webdis (Debian's HTTP front end) in front
of redis-server 7, interleaved in one run (A B A B ...), reporting the ratio of
medians, the absolute rate next to the 85k requests/s that the replaced REST
system claimed on a desktop, and the feed's fan-out: 100 websocket
subscribers, 10k SETs/s over RESP, the delivery lag.

Both sides get the same machine: wrk with 2 threads, the servers with their
defaults (shardkv: one worker per CPU; webdis: 2 threads; redis-server: one).
"""
import argparse
import os
import re
import selectors
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "bench"))
import benchtsv  # noqa: E402
P_RESP, P_HTTP = 6397, 6398
KEYS = 10000
VALUE = "v" * 100

LUA = """
local n = 0
local value = string.rep("v", 100)
request = function()
  n = n + 1
  local path = "%(prefix)s" .. (n %% %(keys)d)
  if "%(method)s" == "PUT" then
    return wrk.format("PUT", path, {["Content-Type"] = "application/octet-stream"}, value)
  end
  return wrk.format("GET", path)
end
"""


def busy(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.3).close()
        return True
    except OSError:
        return False


def wait_port(port, proc, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            sys.exit("a server for port %d exited early" % port)
        if busy(port):
            return
        time.sleep(0.05)
    sys.exit("port %d never opened" % port)


def preload():
    import redis
    r = redis.Redis(port=P_RESP)
    p = r.pipeline(transaction=False)
    for i in range(KEYS):
        p.set("k:%d" % i, VALUE)
    p.execute()


class Shardkv:
    name = "shardkv"
    get_prefix = "/v1/ns/0/keys/k:"
    put_prefix = "/v1/ns/0/keys/k:"

    def start(self):
        self.dir = tempfile.mkdtemp(prefix="bench-http-")
        self.procs = [subprocess.Popen(
            [os.path.join(ROOT, "build", "shardkv-server"), "--port", str(P_RESP), "--http-port", str(P_HTTP),
             "--dir", self.dir, "--save", "", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
        wait_port(P_RESP, self.procs[0])
        wait_port(P_HTTP, self.procs[0])

    def stop(self):
        for p in self.procs:
            p.terminate()
            p.wait()
        wait_free()


class Webdis(Shardkv):
    name = "webdis"
    get_prefix = "/GET/k:"
    put_prefix = "/SET/k:"  # webdis takes a PUT body as the command's last argument

    def start(self):
        self.dir = tempfile.mkdtemp(prefix="bench-http-")
        redis = subprocess.Popen(["redis-server", "--port", str(P_RESP), "--save", "", "--appendonly", "no",
                                  "--dir", self.dir, "--loglevel", "warning"], stdout=subprocess.DEVNULL)
        wait_port(P_RESP, redis)
        conf = os.path.join(self.dir, "webdis.json")
        with open(conf, "w") as f:
            f.write('{"redis_host": "127.0.0.1", "redis_port": %d, "http_host": "127.0.0.1", '
                    '"http_port": %d, "threads": 2, "pool_size": 20, "daemonize": false, "database": 0, '
                    '"verbosity": 0, "logfile": "%s/webdis.log"}' % (P_RESP, P_HTTP, self.dir))
        webdis = subprocess.Popen(["webdis", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.procs = [webdis, redis]
        wait_port(P_HTTP, webdis)


def wait_free():
    end = time.time() + 10
    while time.time() < end and (busy(P_RESP) or busy(P_HTTP)):
        time.sleep(0.05)


def wrk(target, method, seconds):
    prefix = target.put_prefix if method == "PUT" else target.get_prefix
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(LUA % {"prefix": prefix, "keys": KEYS, "method": method})
    out = subprocess.run(["wrk", "-t", "2", "-c", "50", "-d", "%ds" % seconds, "-s", f.name,
                          "http://127.0.0.1:%d" % P_HTTP], capture_output=True, text=True).stdout
    os.unlink(f.name)
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    if bad or errors:
        print("  warning: %s %s: %s %s" % (target.name, method, bad.group(0) if bad else "", errors.group(0) if errors else ""))
    return rate


def fanout(seconds, subscribers=100, rate=10000):
    """100 websocket subscribers, `rate` SETs/s over RESP; lag of probe keys."""
    import redis
    s = Shardkv()
    s.start()
    socks = []
    for _ in range(subscribers):
        c = socket.create_connection(("127.0.0.1", P_HTTP))
        c.sendall(b"GET /v1/feed?ns=0 HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
        socks.append(c)
    sent, arrivals, closed = {}, [], [0]
    stop = threading.Event()

    def reader():  # raw bytes: look for probe keys only, no frame parsing
        sel = selectors.DefaultSelector()
        tails = {}
        for c in socks:
            c.setblocking(False)
            sel.register(c, selectors.EVENT_READ)
            tails[c] = b""
        while not stop.is_set():
            for key, _ in sel.select(0.1):
                c = key.fileobj
                try:
                    d = c.recv(1 << 16)
                except BlockingIOError:
                    continue
                now = time.time()
                if not d:
                    closed[0] += 1
                    sel.unregister(c)
                    continue
                tail = tails[c]
                buf = tail + d
                for m in re.finditer(rb"probe:(\d+)\"", buf):
                    if m.end() > len(tail):  # not one already counted in the tail
                        arrivals.append((int(m.group(1)), now))
                tails[c] = buf[-32:]
    t = threading.Thread(target=reader)
    t.start()
    time.sleep(0.5)
    r = redis.Redis(port=P_RESP)
    batch = rate // 100
    t0 = time.time()
    n = probes = 0
    while time.time() - t0 < seconds:
        p = r.pipeline(transaction=False)
        for _ in range(batch - 1):
            p.set("fan:%d" % n, "v")
            n += 1
        p.set("probe:%d" % probes, "v")
        sent[probes] = time.time()
        p.execute()
        probes += 1
        n += 1
        delay = t0 + n / rate - time.time()
        if delay > 0:
            time.sleep(delay)
    achieved = n / (time.time() - t0)
    time.sleep(1.0)
    stop.set()
    t.join()
    lags = sorted((at - sent[pid]) * 1000 for pid, at in arrivals if pid in sent)
    for c in socks:
        c.close()
    s.stop()
    want = probes * subscribers
    return achieved, lags, len(lags), want, closed[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--tsv", default=os.path.join(ROOT, "build", "bench", "http.tsv"),
                    help="every repetition's figures, for bench/charts.py")
    a = ap.parse_args()
    reps, secs = (1, 3) if a.quick else (3, 10)
    for tool in ("wrk", "webdis", "redis-server"):
        if subprocess.run(["which", tool], capture_output=True).returncode:
            sys.exit("missing %s (Debian packages wrk, webdis, redis-server)" % tool)
    if busy(P_RESP) or busy(P_HTTP):
        sys.exit("ports %d-%d are in use" % (P_RESP, P_HTTP))
    res = {}
    for rep in range(reps):
        for target in (Shardkv(), Webdis()):
            target.start()
            preload()
            for method in ("GET", "PUT"):
                v = wrk(target, method, secs)
                res.setdefault((target.name, method), []).append(v)
                print("  rep %d %-8s %-4s %10.0f req/s" % (rep + 1, target.name, method, v), flush=True)
            target.stop()
    print("\nwrk -t2 -c50, 100-byte values, %d keys, %d x %d s, median req/s:" % (KEYS, reps, secs))
    print("%-5s %12s %12s %8s" % ("", "shardkv", "webdis", "ratio"))
    for m in ("GET", "PUT"):
        s, w = statistics.median(res[("shardkv", m)]), statistics.median(res[("webdis", m)])
        print("%-5s %12.0f %12.0f %7.2fx   (target >= 3x; %.2fx the 85k req/s claimed on a desktop)"
              % (m, s, w, s / w, s / 85000))
    # the chart pairs repetition k of shardkv with repetition k of webdis (noise is not tracked here)
    benchtsv.write(a.tsv, "bench/http/run.sh, wrk -t2 -c50, %d x %d s" % (reps, secs),
                   [{"host": "http", "workload": m, "config": "wrk -t2 -c50", "peer": "webdis + redis-server",
                     "rep": k + 1, "ours": float(s), "theirs": float(w), "unit": "req/s", "basis": "wall",
                     "better": "higher", "noisy": 0}
                    for m in ("GET", "PUT")
                    for k, (s, w) in enumerate(zip(res[("shardkv", m)], res[("webdis", m)]))])
    achieved, lags, got, want, closed = fanout(3 if a.quick else 10)
    if lags:
        q = lambda f: lags[min(len(lags) - 1, int(f * len(lags)))]  # noqa: E731
        print("\nfeed fan-out: 100 websocket subscribers, %.0f SETs/s over RESP: %d/%d probe deliveries, "
              "lag ms p50 %.1f p99 %.1f max %.1f; %d subscribers disconnected"
              % (achieved, got, want, q(0.5), q(0.99), lags[-1], closed))
    else:
        print("\nfeed fan-out: no probe arrived (%d subscribers disconnected)" % closed)


if __name__ == "__main__":
    main()
