"""
bench_resp.py -- redis-benchmark against shardkv-server and redis-server 7, in
the same run, interleaved (A B A B ...), reporting the ratio of medians.

Rows: SET and GET, -c 50, -P 1 and -P 16, -d 16 and -d 1024, -r 100000; every
key of the key space is written first so that GETs hit.  At -P 16 also SETEX
(redis-benchmark's custom command `SETEX key:__rand_int__ 100 <value of -d
bytes>`) and, at -d 16, INCR (-t incr): the pipelined writes server/batch.c
runs as one engine batch.  With --tls both
servers also listen on a TLS port (certificates made here with openssl) and
redis-benchmark runs over TLS: shardkv's TLS against redis-server's TLS.  For each run it reads
the server's CPU time from /proc/PID/stat and the client's from rusage, and
/proc/stat for the whole machine: a run where the machine was busier than the
two processes explain is marked [noisy].
"""
import argparse
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "bench"))
import benchtsv  # noqa: E402
HZ = os.sysconf("SC_CLK_TCK")
NCPU = os.cpu_count() or 1
# ports: 6395-6398 unless BENCH_RESP_PORT gives the first of four others
_P0 = int(os.environ.get("BENCH_RESP_PORT", 6395))
P_SKV, P_REDIS = _P0, _P0 + 1
P_SKV_TLS, P_REDIS_TLS = _P0 + 2, _P0 + 3
TLS = []  # redis-benchmark's TLS arguments when --tls
KEYSPACE = 100000


def proc_cpu(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / HZ  # utime + stime


def machine_busy():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return (sum(v) - idle) / HZ


def wait_port(port, proc, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            sys.exit("server on port %d exited early" % port)
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=1)
            s.sendall(b"PING\r\n")
            if s.recv(16).startswith(b"+PONG"):
                s.close()
                return
        except OSError:
            pass
        time.sleep(0.05)
    sys.exit("server on port %d not ready" % port)


def preload(port, dsize):
    val = b"x" * dsize
    buf = []
    for i in range(KEYSPACE):
        k = b"key:%012d" % i
        buf.append(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(k), k, len(val), val))
    r = subprocess.run(["redis-cli", "-p", str(port), "--pipe"], input=b"".join(buf),
                       capture_output=True, timeout=300)
    if b"errors: 0" not in r.stdout:
        sys.exit("preload failed on %d: %r" % (port, r.stdout[-300:]))


def make_certs(d):
    """A CA and a server certificate for 127.0.0.1, as the TLS tests make them."""
    def ossl(*a):
        subprocess.run(["openssl"] + list(a), check=True, capture_output=True, cwd=d)
    ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=bench-ca",
         "-keyout", "ca.key", "-out", "ca.crt")
    ossl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "srv.key",
         "-out", "srv.csr")
    ossl("x509", "-req", "-in", "srv.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
         "-days", "2", "-out", "srv.crt")
    return ["--tls-cert-file", os.path.join(d, "srv.crt"), "--tls-key-file", os.path.join(d, "srv.key"),
            "--tls-ca-cert-file", os.path.join(d, "ca.crt"), "--tls-auth-clients", "no"]


def make_certs(d):
    """A CA and a server certificate for 127.0.0.1, as the TLS tests make them."""
    def ossl(*a):
        subprocess.run(["openssl"] + list(a), check=True, capture_output=True, cwd=d)
    ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=bench-ca",
         "-keyout", "ca.key", "-out", "ca.crt")
    ossl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "srv.key",
         "-out", "srv.csr")
    ossl("x509", "-req", "-in", "srv.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
         "-days", "2", "-out", "srv.crt")
    return ["--tls-cert-file", os.path.join(d, "srv.crt"), "--tls-key-file", os.path.join(d, "srv.key"),
            "--tls-ca-cert-file", os.path.join(d, "ca.crt"), "--tls-auth-clients", "no"]


def bench_args(test, dsize):
    """redis-benchmark's arguments for a row: a -t test, or SETEX as a custom command."""
    if test == "setex":
        return ["SETEX", "key:__rand_int__", "100", "x" * dsize]
    return ["-t", test]


def run_one(port, pid, test, pipeline, dsize, n):
    before_srv = proc_cpu(pid)
    before_cli = resource.getrusage(resource.RUSAGE_CHILDREN)
    before_box = machine_busy()
    t0 = time.time()
    r = subprocess.run(["redis-benchmark"] + TLS + ["-h", "127.0.0.1", "-p", str(port), "-c", "50",
                        "-n", str(n), "-P", str(pipeline), "-d", str(dsize), "-r", str(KEYSPACE),
                        "--csv"] + bench_args(test, dsize), capture_output=True, timeout=600)
    wall = time.time() - t0
    after_cli = resource.getrusage(resource.RUSAGE_CHILDREN)
    srv = proc_cpu(pid) - before_srv
    cli = (after_cli.ru_utime - before_cli.ru_utime) + (after_cli.ru_stime - before_cli.ru_stime)
    box = machine_busy() - before_box
    rps = None
    for line in r.stdout.decode().splitlines():
        parts = [p.strip('"') for p in line.split('","')]
        if parts and parts[0].split(" ")[0].upper() == test.upper():
            rps = float(parts[1])
    if rps is None:
        sys.exit("could not parse redis-benchmark output: %r %r" % (r.stdout[-300:], r.stderr[-300:]))
    noisy = box > (srv + cli) * 1.25 + 0.2 * wall
    return {"rps": rps, "srv": srv, "cli": cli, "wall": wall, "noisy": noisy, "n": n}


def stop(proc, port):
    try:
        subprocess.run(["redis-cli", "-p", str(port), "SHUTDOWN", "NOSAVE"], capture_output=True, timeout=10)
        proc.wait(15)
    except Exception:  # noqa: BLE001 - fall back to a signal by PID
        proc.send_signal(signal.SIGKILL)
        proc.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="1 repetition, fewer requests")
    ap.add_argument("--reps", type=int, default=None)
    ap.add_argument("--threads", type=int, default=None,
                    help="shardkv-server worker threads (default: the server's, 1 on a 1-2 CPU machine)")
    ap.add_argument("--skv-args", default="", help="more shardkv-server arguments, e.g. \"--busy-poll-us 0\"")
    ap.add_argument("--pipelines", default="1,16", help="the -P values to run (default 1,16)")
    ap.add_argument("--tls", action="store_true", help="run redis-benchmark over TLS against both servers")
    ap.add_argument("--tsv", default=None, help="every repetition's figures, for bench/charts.py "
                    "(default build/bench/resp.tsv, or resp-tls.tsv with --tls)")
    args = ap.parse_args()
    reps = args.reps or (1 if args.quick else 3)
    host = "resp-tls" if args.tls else "resp"
    args.tsv = args.tsv or os.path.join(ROOT, "build", "bench", host + ".tsv")
    tmp = tempfile.mkdtemp(prefix="skv-bench-")
    skv_tls = red_tls = []
    if args.tls:
        certs = make_certs(tmp)
        skv_tls = ["--tls-port", str(P_SKV_TLS)] + certs
        red_tls = ["--tls-port", str(P_REDIS_TLS)] + certs
        TLS.extend(["--tls", "--cacert", os.path.join(tmp, "ca.crt")])
    skv = subprocess.Popen([os.path.join(ROOT, "build", "shardkv-server"), "--port", str(P_SKV),
                            "--save", "", "--dir", tmp, "--loglevel", "warning"] + skv_tls +
                           (["--threads", str(args.threads)] if args.threads else []) + args.skv_args.split())
    red = subprocess.Popen(["redis-server", "--port", str(P_REDIS), "--bind", "127.0.0.1",
                            "--save", "", "--appendonly", "no", "--dir", tmp, "--loglevel", "warning"] + red_tls)
    bench_skv, bench_red = (P_SKV_TLS, P_REDIS_TLS) if args.tls else (P_SKV, P_REDIS)
    rows = []
    try:
        wait_port(P_SKV, skv)
        wait_port(P_REDIS, red)
        info = subprocess.run(["redis-cli", "-p", str(P_SKV), "INFO", "server"], capture_output=True).stdout.decode()
        args.threads = int(info.split("worker_threads:")[1].split()[0])
        print("shardkv-server (%d threads%s) vs redis-server %s%s; -c 50 -r %d; %d rep(s); %d CPUs" % (
            args.threads, (", " + args.skv_args) if args.skv_args else "", subprocess.run(["redis-server", "--version"], capture_output=True).stdout.split()[2].decode(),
            ", both over TLS" if args.tls else "", KEYSPACE, reps, NCPU), flush=True)
        for dsize in (16, 1024):
            preload(P_SKV, dsize)
            preload(P_REDIS, dsize)
            for pipeline in [int(x) for x in args.pipelines.split(",")]:
                tests = ["set", "get"]
                if pipeline == 16:
                    tests += ["setex", "incr"] if dsize == 16 else ["setex"]
                for test in tests:
                    if args.quick:
                        n = 50000 if pipeline == 1 else 300000
                    else:
                        n = 200000 if pipeline == 1 else 2000000
                    res = {"skv": [], "redis": []}
                    for _ in range(reps):  # interleaved: A B A B
                        res["skv"].append(run_one(bench_skv, skv.pid, test, pipeline, dsize, n))
                        res["redis"].append(run_one(bench_red, red.pid, test, pipeline, dsize, n))
                    rows.append((test.upper(), pipeline, dsize, res))
                    print_row(rows[-1])
    finally:
        stop(skv, P_SKV)
        stop(red, P_REDIS)
        subprocess.run(["rm", "-rf", tmp])
    write_tsv(args.tsv, rows, reps, host, args.threads)


def write_tsv(path, rows, reps, host, threads):
    lines = []
    for test, pipeline, dsize, res in rows:
        for k, (s, r) in enumerate(zip(res["skv"], res["redis"])):
            lines.append({"host": host, "workload": test, "config": "-P %d -d %d" % (pipeline, dsize),
                          "peer": "redis-server", "rep": k + 1, "ours": float(s["rps"]),
                          "theirs": float(r["rps"]), "unit": "req/s", "basis": "wall",
                          "better": "higher", "noisy": int(s["noisy"] or r["noisy"])})
    benchtsv.write(path, "bench/resp/run.sh, %d worker thread(s) vs redis-server, redis-benchmark -c 50 -r %d, %d rep(s)" % (threads, KEYSPACE, reps),
                   lines)


def med(runs, key):
    return statistics.median(r[key] for r in runs)


HEADER_DONE = [False]


def print_row(row):
    test, pipeline, dsize, res = row
    if not HEADER_DONE[0]:
        print("%-5s %3s %5s | %11s %11s %6s | %16s %16s | %8s %8s | %17s | %s" % (
            "cmd", "-P", "-d", "shardkv r/s", "redis r/s", "ratio", "skv CPU s/Mreq", "redis CPU s/Mreq",
            "cli CPU%", "skv CPU%", "cli us/req skv/rd", "noise"))
        HEADER_DONE[0] = True
    s, r = res["skv"], res["redis"]
    srps, rrps = med(s, "rps"), med(r, "rps")
    s_cpu_m = statistics.median(x["srv"] / x["n"] * 1e6 for x in s)
    r_cpu_m = statistics.median(x["srv"] / x["n"] * 1e6 for x in r)
    cli_share = statistics.median(x["cli"] / x["wall"] * 100 for x in s)
    srv_share = statistics.median(x["srv"] / x["wall"] * 100 for x in s)
    # the client's CPU per request against each server: at -P 1 the client is the limit
    s_cli = statistics.median(x["cli"] / x["n"] * 1e6 for x in s)
    r_cli = statistics.median(x["cli"] / x["n"] * 1e6 for x in r)
    noisy = any(x["noisy"] for x in s + r)
    print("%-5s %3d %5d | %11.0f %11.0f %5.2fx | %16.3f %16.3f | %7.0f%% %7.0f%% | %8.2f/%-8.2f | %s" % (
        test, pipeline, dsize, srps, rrps, srps / rrps, s_cpu_m, r_cpu_m, cli_share, srv_share,
        s_cli, r_cli, "[noisy]" if noisy else ""), flush=True)


if __name__ == "__main__":
    main()
