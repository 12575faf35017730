#!/usr/bin/env python3
"""Bytes per element of hashes and sets: shardkv's engine vs redis-server.

Runs build/bench-coll-memory (the engine's exact charge, kv_ns_stats.bytes)
and a private redis-server on 127.0.0.1:$REDIS_PORT (default 6392), filled
through redis-cli --pipe with the same fields, values and members, asking
MEMORY USAGE key SAMPLES 0 (every element counted).  Prints a markdown table.
    make bench-coll-memory      (or: python3 bench/coll/memory.py)
"""
import os
import subprocess
import sys
import tempfile
import time

SIZES = [10, 1000, 100000]
PORT = int(os.environ.get("REDIS_PORT", "6392"))
ENGINE = os.environ.get("BENCH_COLL_MEMORY", "build/bench-coll-memory")


def resp(*args):
    out = ["*%d\r\n" % len(args)]
    for a in args:
        b = str(a)
        out.append("$%d\r\n%s\r\n" % (len(b.encode()), b))
    return "".join(out)


def cli(*args):
    return subprocess.run(["redis-cli", "-p", str(PORT)] + [str(a) for a in args],
                          capture_output=True, text=True, check=True).stdout.strip()


def redis_usage(kind, n):
    cmds = []
    for i in range(n):
        if kind == "hash":
            cmds.append(resp("HSET", "h", "field:%d" % i, "value:%d" % i))
        else:
            cmds.append(resp("SADD", "s", "member:%d" % i))
    subprocess.run(["redis-cli", "-p", str(PORT), "--pipe"], input="".join(cmds),
                   capture_output=True, text=True, check=True)
    key = "h" if kind == "hash" else "s"
    used = int(cli("MEMORY", "USAGE", key, "SAMPLES", "0"))
    enc = cli("OBJECT", "ENCODING", key)
    cli("DEL", key)
    return used, enc


def main():
    eng = {}
    out = subprocess.run([ENGINE] + [str(s) for s in SIZES], capture_output=True, text=True, check=True)
    for line in out.stdout.split("\n"):
        if line:
            kind, n, b = line.split()
            eng[(kind, int(n))] = int(b)
    d = tempfile.mkdtemp(prefix="kv-collmem-")
    srv = subprocess.Popen(["redis-server", "--port", str(PORT), "--bind", "127.0.0.1", "--save", "",
                            "--appendonly", "no", "--dir", d], stdout=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                if cli("PING") == "PONG":
                    break
            except subprocess.CalledProcessError:
                pass
            time.sleep(0.05)
        print("| kind | elements | shardkv B/elem | redis B/elem (encoding) | ratio |")
        print("|---|---:|---:|---:|---:|")
        for kind in ("hash", "set"):
            for n in SIZES:
                r, enc = redis_usage(kind, n)
                e = eng[(kind, n)]
                print("| %s | %d | %.1f | %.1f (%s) | %.2f |" % (kind, n, e / n, r / n, enc, e / r))
    finally:
        srv.terminate()
        srv.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
