#!/bin/sh
# bench/scale/run.sh -- throughput through nutcracker with 1, 2 and 3 backends,
# shardkv-server beside redis-server (see bench_scale.py).
#   bench/scale/run.sh           full run
#   bench/scale/run.sh --quick   smoke run
# Ports 6397-6399 on 127.0.0.1, nutcracker's stats on 127.0.0.2:6397.
cd "$(dirname "$0")/../.." || exit 1
exec /usr/bin/python3 bench/scale/bench_scale.py "$@"
