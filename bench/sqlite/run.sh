#!/bin/sh
# bench/sqlite/run.sh [--quick] -- run the SQLite host benchmark (make bench-sqlite).
# A benchmark, not a test: it prints a table and never fails on a ratio.
set -eu
cd "$(dirname "$0")/../.."
exec build/bench/bench_sqlite "$@"
