#!/bin/sh
# bench/sqlite/run.sh [--quick] -- run the SQLite host benchmark (make bench-sqlite).
# A benchmark, not a test: it prints a table and never fails on a ratio.
# Every repetition also goes to build/bench/sqlite.tsv for bench/charts.py.
set -eu
cd "$(dirname "$0")/../.."
mkdir -p build/bench
exec build/bench/bench_sqlite --tsv build/bench/sqlite.tsv "$@"
