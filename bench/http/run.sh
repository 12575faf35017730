#!/bin/sh
# bench/http/run.sh -- the HTTP door against webdis in front of redis-server, with wrk,
# in the same run; then the feed's fan-out.  See bench_http.py.
#   bench/http/run.sh           full run (3 interleaved repetitions, 10 s each)
#   bench/http/run.sh --quick   smoke run (1 repetition, 3 s each)
# Ports 6397-6398 on 127.0.0.1; every server runs with persistence off.
cd "$(dirname "$0")/../.." || exit 1
exec /usr/bin/python3 bench/http/bench_http.py "$@"
