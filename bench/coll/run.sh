#!/bin/sh
# bench/coll/run.sh -- redis-benchmark's HSET, SADD (LPUSH, LPOP, ZADD, ZPOPMIN
# when the server has them) at -P 16 against shardkv-server and redis-server,
# interleaved.  bench/coll/run.sh [--quick] [--reps N]
cd "$(dirname "$0")/../.." || exit 1
exec /usr/bin/python3 bench/coll/bench_coll.py "$@"
