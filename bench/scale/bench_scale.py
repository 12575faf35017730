"""
bench_scale.py -- throughput through twemproxy (Debian's nutcracker, ketama)
with 1, 2 and 3 backends, shardkv-server beside redis-server behind the same
proxy configuration, in the same run (issue 14's `make bench-scale`).

For each backend kind and count: N servers on 127.0.0.1:6397.. (persistence
off, one worker thread each, as redis-server has one), a fresh nutcracker on a
unix socket (stats on 127.0.0.2:6397), the key space preloaded through the
proxy, then redis-benchmark SET and GET (-c 50, -r 100000, -d 64) through the
proxy.  Prints requests per second and the ratio shardkv / redis.

On a 2-core machine nutcracker (one thread) and the client share the cores
with the backends, so the figures show the proxy's ceiling more than the
backends'; they are a recipe check, not a capacity plan.

Every process is started and stopped by PID.
Run: bench/scale/run.sh [--quick]
"""
import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PORTS = [6397, 6398, 6399]
KEYSPACE = 100000


def wait_port(port, proc, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            sys.exit("backend on port %d exited early" % port)
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=1)
            s.sendall(b"PING\r\n")
            ok = s.recv(16).startswith(b"+PONG")
            s.close()
            if ok:
                return
        except OSError:
            pass
        time.sleep(0.05)
    sys.exit("backend on port %d not ready" % port)


def start_backend(kind, port, d, log):
    if kind == "shardkv":
        argv = [os.environ.get("SHARDKV_SERVER", os.path.join(ROOT, "build", "shardkv-server")),
                "--port", str(port), "--dir", d, "--save", "", "--threads", "1"]
    else:
        argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--dir", d]
    p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    wait_port(port, p)
    return p


def start_proxy(tmp, n):
    sock = os.path.join(tmp, "nc.sock")
    conf = os.path.join(tmp, "nc.yml")
    with open(conf, "w") as f:
        f.write("bench:\n  listen: %s 0600\n  hash: fnv1a_64\n  distribution: ketama\n  redis: true\n"
                "  timeout: 5000\n  auto_eject_hosts: false\n  servers:\n" % sock)
        for i in range(n):
            f.write("   - 127.0.0.1:%d:1 s%d\n" % (PORTS[i], i + 1))
    p = subprocess.Popen(["nutcracker", "-c", conf, "-s", str(PORTS[0]), "-a", "127.0.0.2",
                          "-o", os.path.join(tmp, "nc.log"), "-p", os.path.join(tmp, "nc.pid")])
    end = time.time() + 10
    while not os.path.exists(sock) and time.time() < end:
        time.sleep(0.05)
    if not os.path.exists(sock):
        sys.exit("nutcracker did not start")
    return p, sock


def benchmark(sock, test, n):
    out = subprocess.run(["redis-benchmark", "-s", sock, "-t", test, "-n", str(n), "-c", "50", "-r", str(KEYSPACE),
                          "-d", "64", "--csv"], capture_output=True, text=True, timeout=600).stdout
    for line in out.splitlines():
        f = [x.strip('"') for x in line.split(",")]
        if len(f) > 1 and f[0].upper() == test.upper():
            return float(f[1])
    sys.exit("redis-benchmark printed no %s row: %s" % (test, out[-500:]))


def stop(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer requests")
    a = ap.parse_args()
    n = 20000 if a.quick else 100000
    rows = {}
    for count in (1, 2, 3):
        for kind in ("shardkv", "redis"):
            tmp = tempfile.mkdtemp(prefix="skv-bench-scale-")
            log = open(os.path.join(tmp, "backends.log"), "wb")
            procs = []
            proxy = None
            try:
                for i in range(count):
                    d = os.path.join(tmp, "b%d" % i)
                    os.makedirs(d)
                    procs.append(start_backend(kind, PORTS[i], d, log))
                proxy, sock = start_proxy(tmp, count)
                benchmark(sock, "set", KEYSPACE)  # preload: GETs hit
                rows[(kind, count, "SET")] = benchmark(sock, "set", n)
                rows[(kind, count, "GET")] = benchmark(sock, "get", n)
            finally:
                if proxy:
                    stop(proxy)
                for p in procs:
                    stop(p)
                log.close()
                shutil.rmtree(tmp, ignore_errors=True)
    print("\nthrough nutcracker (ketama), redis-benchmark -c 50 -d 64 -r %d -n %d, requests/s" % (KEYSPACE, n))
    print("%-9s %-4s %12s %12s %7s" % ("backends", "op", "shardkv", "redis", "ratio"))
    for count in (1, 2, 3):
        for op in ("SET", "GET"):
            s, r = rows[("shardkv", count, op)], rows[("redis", count, op)]
            print("%-9d %-4s %12.0f %12.0f %7.2f" % (count, op, s, r, s / r if r else 0))
    print("load average at the end: %s" % open("/proc/loadavg").read().split()[0])


if __name__ == "__main__":
    main()
