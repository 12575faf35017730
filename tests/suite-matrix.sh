#!/bin/sh
# tests/suite-matrix.sh -- the semantic test matrix (issue 11 item 5).
#
#   1. tests/matrix/cases.json through every host (tests/matrix/run.py): the
#      server (build/shardkv-server on port 6392, python3-redis), SQLite
#      (build/shardkv.so in Debian's python3 sqlite3) and PostgreSQL (psql
#      against a throw-away cluster on port 55439 with the extension).  Every
#      case x host is one check; a case a host does not offer is "n/a", as the
#      table says, and in neither count.
#   2. The cross-host snapshot round trip (tests/matrix/roundtrip.py): server
#      -> PostgreSQL -> SQLite -> server, every file compared exactly with
#      tests/matrix/skvdump.c.
#   3. A snapshot with every kind (tests/matrix/collsnap.py): strings, hashes,
#      sets, sorted sets and lists built in each host, saved, read back by
#      skvdump -c and loaded in the other hosts.  The server's legs are
#      skipped (not passed) while it lacks one of the collection commands.
#
# As root it installs the extension first (make pg-install), unless
# PG_NO_INSTALL=1.  MATRIX_HOSTS (default "server,sqlite,pg") picks hosts; a
# host left out is reported as skipped, never as passed.  The server and the
# cluster are stopped by PID at the end, also on failure.
# Ends with "N passed, M failed".
set -u
cd "$(dirname "$0")/.."
ROOT=$(pwd)
. tests/pg/cluster.sh
PY=/usr/bin/python3
PORT=6392
PGPORT=55439
HOSTS=${MATRIX_HOSTS:-server,sqlite,pg}
pass=0; fail=0
SPID=""
WORK=$(mktemp -d "${TMPDIR:-/tmp}/suite-matrix.XXXXXX")
chmod 755 "$WORK"

cleanup() {
	if [ -n "$SPID" ]; then kill "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null; fi
	pg_cleanup
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ok()  { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
add_counts() { # add the "N passed, M failed" line of a log; none: one failure
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$1" | tail -n 1)
	if [ -n "$line" ]; then
		pass=$((pass + $(echo "$line" | cut -d' ' -f1)))
		fail=$((fail + $(echo "$line" | cut -d' ' -f3)))
	else
		bad "$2 ended without its summary line"
	fi
}
finish() {
	echo "$pass passed, $fail failed"
	[ "$fail" = 0 ]
	exit $?
}
has_host() { case ",$HOSTS," in *",$1,"*) return 0 ;; esac; return 1; }

# ------------------------------------------------------------ prerequisites
for f in build/shardkv-server build/shardkv.so build/libshardkv.a; do
	[ -f "$f" ] || { bad "$f not built (run make)"; finish; }
done
$PY -c 'import redis' 2>/dev/null || { bad "python3-redis missing (Debian package python3-redis)"; finish; }
if ! cc -std=c11 -O1 -Wall -Wextra -Werror -Iengine tests/matrix/skvdump.c build/libshardkv.a \
	-lpthread -o "$WORK/skvdump" 2>"$WORK/skvdump.log"; then
	cat "$WORK/skvdump.log"; bad "tests/matrix/skvdump.c builds"; finish
fi
if redis-cli -p $PORT PING >/dev/null 2>&1; then bad "port $PORT is already in use"; finish; fi

# -------------------------------------------------------- PostgreSQL cluster
PSQL=""
if has_host pg; then
	if [ "$(id -u)" = 0 ] && [ -z "${PG_NO_INSTALL:-}" ]; then
		if log=$(make --no-print-directory pg-install 2>&1); then ok "make pg-install"
		else echo "$log" | tail -n 20; bad "make pg-install"; fi
	fi
	pg_setup
	mkdir -p "$PGT/snap"
	[ -n "$RUN" ] && chown postgres: "$PGT/snap"
	if pg_init mx $PGPORT "shared_preload_libraries = 'shardkv'" "shardkv.memory = 128MB" \
		"shardkv.snapshot_dir = '$PGT/snap'" "shardkv.autosave_interval = 0" \
		"shardkv.save_on_shutdown = off" "shardkv.load_on_start = off" &&
		pg_start mx && pg_psql mx -c "CREATE EXTENSION shardkv" >/dev/null; then
		ok "PostgreSQL cluster with shardkv on port $PGPORT"
		PSQL="$RUN $PGBIN/psql -h $PGT -p $PGPORT -U postgres -d postgres"
	else
		bad "PostgreSQL cluster with shardkv on port $PGPORT (see above)"
		HOSTS=$(echo ",$HOSTS," | sed 's/,pg,/,/; s/^,//; s/,$//')
	fi
else
	echo "skip PostgreSQL host (MATRIX_HOSTS=$HOSTS)"
fi

# -------------------------------------------------------------- the matrix
mkdir -p "$WORK/server"
build/shardkv-server --port $PORT --dir "$WORK/server" --save "" --threads 2 \
	--engine-memory 256mb >"$WORK/server.log" 2>&1 &
SPID=$!
for _ in $(seq 1 100); do
	[ "$(redis-cli -p $PORT PING 2>/dev/null)" = PONG ] && break
	sleep 0.05
done
if [ "$(redis-cli -p $PORT PING 2>/dev/null)" != PONG ]; then
	cat "$WORK/server.log"; bad "shardkv-server starts on port $PORT"; finish
fi
SHARDKV_MEMORY=256MB timeout -k 5 120 $PY tests/matrix/run.py --hosts "$HOSTS" --server-port $PORT \
	--sqlite-ext "$ROOT/build/shardkv" --pg-psql "$PSQL" >"$WORK/matrix.log" 2>&1
cat "$WORK/matrix.log"
add_counts "$WORK/matrix.log" "tests/matrix/run.py"
kill "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null; SPID=""

# ------------------------------------------------------ snapshot round trip
RT=$WORK/rt
[ -n "$PSQL" ] && RT=$PGT/snap
mkdir -p "$RT"
SHARDKV_MEMORY=256MB timeout -k 5 120 $PY tests/matrix/roundtrip.py --dir "$RT" --port $PORT \
	--server-bin build/shardkv-server --sqlite-ext "$ROOT/build/shardkv" --skvdump "$WORK/skvdump" \
	--psql "$PSQL" >"$WORK/roundtrip.log" 2>&1
cat "$WORK/roundtrip.log"
add_counts "$WORK/roundtrip.log" "tests/matrix/roundtrip.py"

# ------------------------------------------------- every kind, every host
SHARDKV_MEMORY=256MB timeout -k 5 300 $PY tests/matrix/collsnap.py --dir "$RT" --port $PORT \
	--server-bin build/shardkv-server --sqlite-ext "$ROOT/build/shardkv" --skvdump "$WORK/skvdump" \
	--psql "$PSQL" >"$WORK/collsnap.log" 2>&1
cat "$WORK/collsnap.log"
add_counts "$WORK/collsnap.log" "tests/matrix/collsnap.py"
finish
