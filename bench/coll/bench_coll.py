"""
bench_coll.py -- redis-benchmark's collection rows against shardkv-server and
redis-server 7 in the same run, interleaved (A B A B ...), ratio of medians.

Rows: HSET and SADD, and LPUSH, LPOP, ZADD, ZPOPMIN when the server has those
commands; -P 16 -c 50 -r 100000 (redis-benchmark's own key and member
patterns).  Each row prints both servers' requests per second, the ratio, and
each server's CPU share of the run's wall time (from /proc/PID/stat); a run
where the machine was busier than the server and the client explain is marked
[noisy] (bench_resp.py's measure).  Ports 6384-6385, persistence off.
  bench/coll/run.sh [--quick] [--reps N] [--threads N]
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "bench", "resp"))
sys.path.insert(0, os.path.join(ROOT, "bench"))
import bench_resp as br  # noqa: E402  (the measuring code of make bench-resp)
import benchtsv  # noqa: E402

P_SKV, P_REDIS = int(os.environ.get("BENCH_COLL_PORT", 6384)), int(os.environ.get("BENCH_COLL_REDIS_PORT", 6385))
ROWS = ["hset", "sadd", "lpush", "lpop", "zadd", "zpopmin"]


def has_command(port, name):
    r = subprocess.run(["redis-cli", "-p", str(port), "COMMAND", "INFO", name], capture_output=True, timeout=10)
    return r.stdout.strip() not in (b"", b"(nil)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="1 repetition, fewer requests")
    ap.add_argument("--reps", type=int, default=None)
    ap.add_argument("--threads", type=int, default=2, help="shardkv-server worker threads")
    ap.add_argument("--tsv", default=os.path.join(ROOT, "build", "bench", "coll.tsv"))
    args = ap.parse_args()
    reps = args.reps or (1 if args.quick else 3)
    n = 300000 if args.quick else 2000000
    tmp = tempfile.mkdtemp(prefix="skv-bench-coll-")
    skv = subprocess.Popen([os.path.join(ROOT, "build", "shardkv-server"), "--port", str(P_SKV), "--save", "",
                            "--dir", tmp, "--threads", str(args.threads), "--loglevel", "warning"])
    red = subprocess.Popen(["redis-server", "--port", str(P_REDIS), "--bind", "127.0.0.1", "--save", "",
                            "--appendonly", "no", "--dir", tmp, "--loglevel", "warning"])
    results = []
    try:
        br.wait_port(P_SKV, skv)
        br.wait_port(P_REDIS, red)
        tests = [t for t in ROWS if has_command(P_SKV, t)]
        print("shardkv-server (%d threads) vs redis-server; redis-benchmark -P 16 -c 50 -r %d -n %d; "
              "%d rep(s); %d CPUs" % (args.threads, br.KEYSPACE, n, reps, br.NCPU), flush=True)
        print("%-8s | %11s %11s %6s | %8s %9s | %s" % ("cmd", "shardkv r/s", "redis r/s", "ratio",
                                                      "skv CPU%", "redis CPU%", "noise"))
        for t in tests:
            res = {"skv": [], "redis": []}
            try:
                for _ in range(reps):
                    res["skv"].append(br.run_one(P_SKV, skv.pid, t, 16, 16, n))
                    res["redis"].append(br.run_one(P_REDIS, red.pid, t, 16, 16, n))
            except SystemExit as e:  # run_one's parse failure: the server refused the row
                print("%-8s | skipped: %s" % (t.upper(), str(e)[:200]), flush=True)
                continue
            s, r = res["skv"], res["redis"]
            srps, rrps = br.med(s, "rps"), br.med(r, "rps")
            share = [statistics.median(x["srv"] / x["wall"] * 100 for x in side) for side in (s, r)]
            noisy = any(x["noisy"] for x in s + r)
            print("%-8s | %11.0f %11.0f %5.2fx | %7.0f%% %8.0f%% | %s" % (
                t.upper(), srps, rrps, srps / rrps, share[0], share[1], "[noisy]" if noisy else ""), flush=True)
            results.append((t.upper(), res))
    finally:
        br.stop(skv, P_SKV)
        br.stop(red, P_REDIS)
        subprocess.run(["rm", "-rf", tmp])
    lines = []
    for t, res in results:
        for k, (s, r) in enumerate(zip(res["skv"], res["redis"])):
            lines.append({"host": "coll", "workload": t, "config": "-P 16 -c 50", "peer": "redis-server",
                          "rep": k + 1, "ours": float(s["rps"]), "theirs": float(r["rps"]), "unit": "req/s",
                          "basis": "wall", "better": "higher", "noisy": int(s["noisy"] or r["noisy"])})
    benchtsv.write(args.tsv, "bench/coll/run.sh, redis-benchmark -P 16 -c 50, %d rep(s)" % reps, lines)


if __name__ == "__main__":
    main()
