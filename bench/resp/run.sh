#!/bin/sh
# bench/resp/run.sh -- shardkv-server vs Debian's redis-server with redis-benchmark.
#   bench/resp/run.sh           full run (3 interleaved repetitions per row)
#   bench/resp/run.sh --quick   smoke run (1 repetition, fewer requests)
# Ports 6395-6399 on 127.0.0.1; both servers run with persistence off.
cd "$(dirname "$0")/../.." || exit 1
exec /usr/bin/python3 bench/resp/bench_resp.py "$@"
