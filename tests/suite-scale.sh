#!/bin/sh
# suite-scale.sh -- scale-out behind twemproxy (issue 14), run by tests/run-all.sh:
# tests/scale/test_scale.py starts three build/shardkv-server (127.0.0.1:6397-6399,
# appendonly yes) behind nutcracker (ketama; a unix socket; stats on
# 127.0.0.2:6397) and drives it with python3-redis and redis-benchmark.
# Ends with "N passed, M failed" and exits non-zero if anything failed.
set -u
cd "$(dirname "$0")/.."
if ! command -v nutcracker >/dev/null 2>&1; then
	echo "FAIL nutcracker is not installed (Debian package nutcracker, tests/debian-packages.txt)"
	echo "0 passed, 1 failed"; exit 1
fi
[ -x build/shardkv-server ] || { echo "FAIL missing build/shardkv-server"; echo "0 passed, 1 failed"; exit 1; }
/usr/bin/python3 tests/scale/test_scale.py
