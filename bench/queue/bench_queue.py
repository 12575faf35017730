"""
bench_queue.py -- `make bench-queue`: shardkv-server beside Debian's
redis-server in one run, rounds interleaved, ratios of medians.

  queue        50 producers LPUSH and 50 consumers BRPOP one queue over 100
               connections (bench/queue/queue_client.c, one epoll loop, raw
               RESP); messages per second, and the CPU share (cores) of the
               server and of the client, so a client-bound run shows itself
  leaderboard  a 1M-member zset, then redis-benchmark's random ZADD, ZINCRBY
               and ZREVRANGE 0 9 WITHSCORES on it (-c 50 -P 16)

Usage: bench_queue.py CLIENT [--quick] [--tsv FILE]
Ports QUEUE_PORT (default 6390, shardkv-server) and QUEUE_REDIS_PORT (6391).
Both servers run without persistence; shardkv-server with --threads 2.
"""
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
P = int(os.environ.get("QUEUE_PORT", 6390))
P_REDIS = int(os.environ.get("QUEUE_REDIS_PORT", 6391))
CLIENT = sys.argv[1]
QUICK = "--quick" in sys.argv
TSV = sys.argv[sys.argv.index("--tsv") + 1] if "--tsv" in sys.argv else None
ROUNDS = 1 if QUICK else 5
MESSAGES = 20000 if QUICK else 200000
MEMBERS = 100000 if QUICK else 1000000
LB_REQUESTS = 50000 if QUICK else 300000
TICK = os.sysconf("SC_CLK_TCK")


def wait_port(port):
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("port %d never opened" % port)


def start(kind, tmp):
    if kind == "shardkv":
        argv = [os.path.join(ROOT, "build", "shardkv-server"), "--port", str(P), "--save", "",
                "--threads", "2", "--dir", tmp]
        port = P
    else:
        argv = ["/usr/bin/redis-server", "--port", str(P_REDIS), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", tmp]
        port = P_REDIS
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port)
    return proc, port


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def command(port, *args):
    s = socket.create_connection(("127.0.0.1", port))
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    s.sendall(b"".join(out))
    data = s.recv(65536)
    s.close()
    return data


def queue_round(proc, port):
    command(port, "DEL", "queue")
    c0, t0 = cpu_seconds(proc.pid), time.time()
    out = subprocess.run([CLIENT, str(port), "50", "50", str(MESSAGES)], capture_output=True, text=True,
                         timeout=600)
    wall = time.time() - t0
    if out.returncode != 0:
        raise SystemExit("queue client failed: " + out.stderr)
    m = re.search(r"msgs_per_s (\d+) client_cpu ([\d.]+)", out.stdout)
    return float(m.group(1)), (cpu_seconds(proc.pid) - c0) / wall, float(m.group(2))


def fill_zset(port):
    """MEMBERS members m:000000000000.. (scores 0..) in pipelined ZADDs of 1000 pairs."""
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"*2\r\n$3\r\nDEL\r\n$2\r\nlb\r\n")
    s.recv(100)
    batch = 1000
    for start in range(0, MEMBERS, batch):
        args = [b"ZADD", b"lb"]
        for i in range(start, min(start + batch, MEMBERS)):
            args += [b"%d" % i, b"m:%012d" % i]  # redis-benchmark's __rand_int__ is 12 digits
        s.sendall(b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args))
        buf = b""
        while not buf.endswith(b"\r\n"):
            buf += s.recv(100)
    s.close()


LB_ROWS = [("ZADD", ["zadd", "lb", "__rand_int__", "m:__rand_int__"]),
           ("ZINCRBY", ["zincrby", "lb", "1", "m:__rand_int__"]),
           ("ZREVRANGE 0 9", ["zrevrange", "lb", "0", "9", "withscores"])]


def lb_round(port, argv):
    out = subprocess.run(["redis-benchmark", "-p", str(port), "-c", "50", "-P", "16", "-n", str(LB_REQUESTS),
                          "-r", str(MEMBERS), "-q", "--csv"] + argv, capture_output=True, text=True, timeout=600)
    m = re.search(r'"[^"]*","([\d.]+)"', out.stdout)
    if not m:
        raise SystemExit("redis-benchmark: " + out.stdout + out.stderr)
    return float(m.group(1))


def main():
    tmp = tempfile.mkdtemp(prefix="skv-bench-queue-")
    servers = {}
    try:
        for kind in ("shardkv", "redis"):
            d = os.path.join(tmp, kind)
            os.makedirs(d)
            servers[kind] = start(kind, d)
        res = {k: {"queue": [], "srv_cpu": [], "cli_cpu": []} for k in servers}
        for r in range(ROUNDS):
            for kind in ("shardkv", "redis") if r % 2 == 0 else ("redis", "shardkv"):
                rate, scpu, ccpu = queue_round(*servers[kind])
                res[kind]["queue"].append(rate)
                res[kind]["srv_cpu"].append(scpu)
                res[kind]["cli_cpu"].append(ccpu)
        for kind in servers:
            fill_zset(servers[kind][1])
        for name, argv in LB_ROWS:
            for k in servers:
                res[k][name] = []
            for r in range(max(1, ROUNDS - 2)):
                for kind in ("shardkv", "redis") if r % 2 == 0 else ("redis", "shardkv"):
                    res[kind][name].append(lb_round(servers[kind][1], argv))
        card = [command(servers[k][1], "ZCARD", "lb").strip().decode() for k in ("shardkv", "redis")]
    finally:
        for proc, _ in servers.values():
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
        shutil.rmtree(tmp, ignore_errors=True)

    med = {k: {n: statistics.median(v) for n, v in d.items()} for k, d in res.items()}
    lines = ["%-26s %14s %14s %8s" % ("row", "shardkv", "redis-server", "ratio")]
    rows = [("queue LPUSH/BRPOP msgs/s", "queue")] + [("leaderboard %s ops/s" % n, n) for n, _ in LB_ROWS]
    # results in bench/charts.py's row format, one row per interleaved round
    tsv = ["# source: make bench-queue (bench/queue/bench_queue.py)",
           "\t".join("host workload config peer rep ours theirs unit basis better noisy".split())]
    for label, key in rows:
        a, b = med["shardkv"][key], med["redis"][key]
        lines.append("%-26s %14.0f %14.0f %7.2fx" % (label, a, b, a / b))
        config = "50+50 conns" if key == "queue" else "-c 50 -P 16, 1M members"
        for rep, (x, y) in enumerate(zip(res["shardkv"][key], res["redis"][key])):
            tsv.append("queue\t%s\t%s\tredis-server\t%d\t%.0f\t%.0f\t%s\twall\thigher\t1"
                       % (label.rsplit(" ", 1)[0], config, rep, x, y, label.rsplit(" ", 1)[1]))
    lines.append("queue CPU (cores, medians): shardkv-server %.2f + client %.2f; redis-server %.2f + client %.2f"
                 % (med["shardkv"]["srv_cpu"], med["shardkv"]["cli_cpu"], med["redis"]["srv_cpu"],
                    med["redis"]["cli_cpu"]))
    lines.append("rounds %d interleaved, %d messages a queue round, zset of %s members (ZCARD after: %s),"
                 " %d requests a leaderboard row; %d CPUs on this machine [noisy: shared]"
                 % (ROUNDS, MESSAGES, MEMBERS, " / ".join(card), LB_REQUESTS, os.cpu_count()))
    print("\n".join(lines))
    if TSV:
        with open(TSV, "w") as f:
            f.write("\n".join(tsv) + "\n")


if __name__ == "__main__":
    main()
