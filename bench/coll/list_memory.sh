#!/bin/sh
# list_memory.sh -- bytes per list element: the engine (kv_ns_stats.bytes)
# against redis-server's MEMORY USAGE, for 10, 1000 and 100k elements of 10
# and 100 bytes (distinct, non-integer elements, RPUSHed in batches of 1000).
#
#   make bench-list-memory                     (or sh bench/coll/list_memory.sh)
#   LIST_MEM_PORT=6395                         redis-server's port (127.0.0.1)
#   BENCH_LIST_MEMORY=build/bench-list-memory  the engine side (bench/coll/list_memory.c)
#
# Prints one row per case: elements, element size, bytes per element for
# each, and the ratio ours / redis's (below 1: we use less).
set -eu
cd "$(dirname "$0")/../.."
PORT=${LIST_MEM_PORT:-6395}
CASES="10:10 1000:10 100000:10 10:100 1000:100 100000:100"
ENGINE=${BENCH_LIST_MEMORY:-build/bench-list-memory}
[ -x "$ENGINE" ] || make --no-print-directory -s "$ENGINE"
ours=$("$ENGINE" $CASES)

dir=$(mktemp -d)
redis-server --port "$PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" \
	--daemonize no >"$dir/log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
for i in $(seq 50); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done

printf "%-9s %-5s %-10s %-12s %-10s %-10s %s\n" elements size "ours B/el" "redis B/el" ratio "our enc" "redis enc"
for c in $CASES; do
	n=${c%%:*}; size=${c##*:}
	redis-cli -p "$PORT" del list >/dev/null
	# the same elements as list_mem.c's, 1000 a command
	python3 - "$n" "$size" >"$dir/cmds" <<'PY'
import sys
n, size = int(sys.argv[1]), int(sys.argv[2])
out = sys.stdout
for s in range(0, n, 1000):
    els = [("e%d" % i).ljust(size, "x") for i in range(s, min(n, s + 1000))]
    out.write("*%d\r\n$5\r\nRPUSH\r\n$4\r\nlist\r\n" % (len(els) + 2))
    for e in els:
        out.write("$%d\r\n%s\r\n" % (len(e), e))
PY
	redis-cli -p "$PORT" --pipe <"$dir/cmds" >/dev/null
	rb=$(redis-cli -p "$PORT" memory usage list samples 0)
	renc=$(redis-cli -p "$PORT" object encoding list)
	ob=$(echo "$ours" | awk -v n="$n" -v s="$size" '$1 == n && $2 == s {print $3}')
	oenc=$(echo "$ours" | awk -v n="$n" -v s="$size" '$1 == n && $2 == s {print $4}')
	awk -v n="$n" -v s="$size" -v o="$ob" -v r="$rb" -v oe="$oenc" -v re="$renc" 'BEGIN {
		printf "%-9d %-5d %-10.1f %-12.1f %-10.2f %-10s %s\n", n, s, o / n, r / n, o / r, oe, re }'
done
echo "redis: $(redis-server --version | cut -d' ' -f3)"
