#!/bin/sh
# tests/crash/sqlite-kill-commit.sh -- kill -9 a sqlite3 process while it
# commits to a kv table with snapshot= (every commit saves the whole namespace),
# then reopen the database as a restarted application would.
#
# Each round: a writer process declares
#     CREATE VIRTUAL TABLE c USING kv(snapshot='c.kvs')
# in app.db, fills it with PAYLOAD keys (a save then takes milliseconds, so the
# kill often lands inside one) and loops transactions that set gen = x = i and
# y = -i together, printing "committed i" after each COMMIT returns.  It is
# killed at a random moment.  Then a fresh sqlite3 opens app.db, which loads
# c.kvs when the table connects.  The round passes when
#   - the database opens and the file loads (never a torn or corrupt file);
#   - the loaded image is one transaction's: x = gen = -y, and every payload key;
#   - gen >= the last "committed" the writer printed (an acknowledged commit
#     is never lost).
# Leftover temp files of a killed save are counted and reported, not failed.
#
# CRASH_QUICK=1 (default): 4 rounds; CRASH_QUICK=0: 30 rounds.
set -u
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
EXT=$ROOT/build/shardkv
SQLITE3=${SQLITE3:-sqlite3}
ROUNDS=4
[ "${CRASH_QUICK:-1}" = 0 ] && ROUNDS=30
PAYLOAD=40000
pass=0; fail=0; WPID=
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sqlite-kill-commit.XXXXXX")
cleanup() {
	[ -n "$WPID" ] && kill -9 "$WPID" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ok()  { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }

if [ ! -f "$EXT.so" ] || ! command -v "$SQLITE3" >/dev/null 2>&1; then
	bad "sqlite kill-commit: build/shardkv.so or the sqlite3 shell is missing"
	echo "$pass passed, $fail failed"
	exit 1
fi

# The writer's script: setup, then transactions until killed.
{
	echo ".bail on"
	echo ".load $EXT"
	echo "CREATE VIRTUAL TABLE IF NOT EXISTS c USING kv(snapshot='c.kvs');"
	echo "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $PAYLOAD)"
	echo "INSERT OR REPLACE INTO c SELECT 'payload:' || i, printf('%.*c', 100, 'p') FROM n;"
	i=1
	while [ $i -le 2000 ]; do
		echo "BEGIN; INSERT OR REPLACE INTO c VALUES ('gen', $i), ('x', $i), ('y', -$i); COMMIT;"
		echo "SELECT 'committed $i';"
		i=$((i + 1))
	done
} >"$WORK/writer.sql"

temps=0
r=1
while [ $r -le $ROUNDS ]; do
	dir=$WORK/round$r
	mkdir -p "$dir"
	# kill between 0.1 and ~1.2 s in: during the payload load, a commit or a save
	delay=$(awk -v s="$r$$" 'BEGIN { srand(s); printf "%.2f", 0.1 + rand() * 1.1 }')
	( cd "$dir" && exec stdbuf -oL "$SQLITE3" app.db <"$WORK/writer.sql" >writer.out 2>&1 ) &
	WPID=$!
	sleep "$delay"
	kill -9 "$WPID" 2>/dev/null
	wait "$WPID" 2>/dev/null
	WPID=
	acked=$(grep -o '^committed [0-9]*' "$dir/writer.out" | tail -n 1 | cut -d' ' -f2)
	acked=${acked:-0}
	if grep -q -v -e '^committed ' "$dir/writer.out"; then
		bad "round $r: the writer reported an error before the kill: $(grep -v '^committed ' "$dir/writer.out" | head -n 1)"
		r=$((r + 1)); continue
	fi
	if [ ! -f "$dir/c.kvs" ]; then
		# killed before the first save finished: nothing was acknowledged
		if [ "$acked" = 0 ]; then ok "round $r: killed after ${delay}s, before the first save (nothing acknowledged)"
		else bad "round $r: $acked commits acknowledged but no c.kvs"; fi
		r=$((r + 1)); continue
	fi
	out=$(cd "$dir" && "$SQLITE3" app.db -cmd ".load $EXT" \
		"SELECT coalesce((SELECT value FROM c WHERE key = 'gen'), 0), coalesce((SELECT value FROM c WHERE key = 'x'), 0),
		        coalesce((SELECT value FROM c WHERE key = 'y'), 0), (SELECT count(*) FROM c WHERE key GLOB 'payload:*');" 2>&1)
	gen=$(echo "$out" | cut -d'|' -f1); x=$(echo "$out" | cut -d'|' -f2)
	y=$(echo "$out" | cut -d'|' -f3); n=$(echo "$out" | cut -d'|' -f4)
	t=$(ls "$dir" | grep -c '\.tmp-')
	temps=$((temps + t))
	case $gen in ''|*[!0-9-]*) bad "round $r: reopening app.db failed: $out"; r=$((r + 1)); continue ;; esac
	if [ "$x" != "$gen" ] || [ "$y" != "$((-gen))" ]; then
		bad "round $r: torn image: gen=$gen x=$x y=$y"
	elif [ "$n" != "$PAYLOAD" ]; then
		bad "round $r: $n of $PAYLOAD payload keys in the image"
	elif [ "$gen" -lt "$acked" ]; then
		bad "round $r: commit $acked was acknowledged but the file holds only $gen"
	elif [ "$gen" -gt $((acked + 1)) ]; then
		bad "round $r: the file holds commit $gen, but only $acked were acknowledged"
	else
		ok "round $r: killed after ${delay}s; reopened at commit $gen (acknowledged $acked), image whole"
	fi
	r=$((r + 1))
done
echo "# temp files left by killed saves: $temps"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
