#!/bin/sh
# zset_mem.sh -- bytes per sorted-set element: the engine (zset_mem) against
# redis-server's MEMORY USAGE ... SAMPLES 0 for the same members and scores.
#   make bench-zset-mem      (redis-server on ZSET_MEM_PORT, default 6394)
set -u
cd "$(dirname "$0")/../.."
BIN=${1:-build/bench/zset_mem}
PORT=${ZSET_MEM_PORT:-6394}
DIR=$(mktemp -d)
redis-server --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$DIR" \
	--daemonize no >"$DIR/log" 2>&1 &
RPID=$!
trap 'kill $RPID 2>/dev/null; wait $RPID 2>/dev/null; rm -rf "$DIR"; true' EXIT
for i in 1 2 3 4 5 6 7 8 9 10; do redis-cli -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.2; done
redis-cli -p "$PORT" ping >/dev/null 2>&1 || { echo "zset_mem.sh: redis-server did not start on $PORT" >&2; exit 1; }
[ -x "$BIN" ] || { echo "zset_mem.sh: $BIN not built" >&2; exit 1; }
printf '%-8s %-10s %14s %10s %14s %10s %7s\n' members encoding engine_bytes B/elem redis_bytes B/elem ratio
"$BIN" 10 1000 100000 | while read -r n bytes enc; do
	redis-cli -p "$PORT" del z >/dev/null
	python3 - "$n" <<'PY' | redis-cli -p "$PORT" --pipe >/dev/null
import sys
n = int(sys.argv[1])
for i in range(n):
    k = (i * 2654435761) % n
    m = "member:%d" % k
    s = repr(k * 0.5)
    sys.stdout.write("*4\r\n$4\r\nZADD\r\n$1\r\nz\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(s), s, len(m), m))
PY
	r=$(redis-cli -p "$PORT" memory usage z samples 0)
	renc=$(redis-cli -p "$PORT" object encoding z)
	card=$(redis-cli -p "$PORT" zcard z)
	awk -v n="$n" -v e="$bytes" -v r="$r" -v enc="$enc/$renc" -v c="$card" 'BEGIN {
		printf "%-8s %-10s %14d %10.1f %14d %10.1f %7.2f%s\n", n, enc, e, e / n, r, r / c, e / r,
		       (c == n ? "" : "  (redis card " c ")") }'
done
