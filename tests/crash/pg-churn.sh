#!/bin/sh
# tests/crash/pg-churn.sh -- namespace churn under readers (issue 10, the
# whole-store wedge): two sessions loop kv.mget on a namespace while a third
# drops it, re-creates it and fills it with kv.mset, again and again.  Every
# session must keep making progress, finish in time, and leave the store usable
# (kv.namespaces() from a fresh session, a save).
# CRASH_QUICK=1: 5 s, else 60 s.  Port 55436.  Ends with "N passed, M failed".
set -u
cd "$(dirname "$0")/../.."
. tests/pg/cluster.sh
. tests/pg/crash-lib.sh
trap 'pg_cleanup' EXIT
trap 'exit 1' INT TERM HUP

crash_install
pg_setup
pg_init c 55436 "shared_preload_libraries = 'shardkv'" "shardkv.memory = 128MB" \
	"shardkv.autosave_interval = 0" || { nok "initdb"; finish; }
pg_start c || { nok "cluster start"; finish; }
q c "CREATE EXTENSION shardkv" >/dev/null
q c "SELECT kv.create_namespace('churn', shards => 2)" >/dev/null
secs=5
[ "$CRASH_QUICK" = 0 ] && secs=60

# each loop runs for $secs seconds and returns its rounds; a namespace missing
# for a moment in the middle of a round is expected (undefined_object)
q c "CREATE FUNCTION churn_read(secs int) RETURNS bigint LANGUAGE plpgsql AS \$\$
DECLARE n bigint := 0; t0 timestamptz := clock_timestamp();
BEGIN
	WHILE clock_timestamp() < t0 + secs * interval '1 second' LOOP
		BEGIN
			PERFORM count(*) FROM kv.mget('churn', '{k1,k2,k3}');
			n := n + 1;
		EXCEPTION WHEN undefined_object THEN NULL;
		END;
	END LOOP;
	RETURN n;
END \$\$" >/dev/null
q c "CREATE FUNCTION churn_write(secs int) RETURNS bigint LANGUAGE plpgsql AS \$\$
DECLARE n bigint := 0; t0 timestamptz := clock_timestamp();
BEGIN
	WHILE clock_timestamp() < t0 + secs * interval '1 second' LOOP
		PERFORM kv.drop_namespace('churn', true);
		PERFORM kv.create_namespace('churn', shards => 2);
		PERFORM count(*) FROM kv.mset('churn', ARRAY(SELECT 'k' || g FROM generate_series(1, 5000) g),
			ARRAY(SELECT 'v' || g FROM generate_series(1, 5000) g));
		n := n + 1;
	END LOOP;
	RETURN n;
END \$\$" >/dev/null
loop() { # loop FUNCTION OUTFILE
	timeout $((secs + 30)) $RUN "$PGBIN/psql" -X -A -t -h "$PGT" -p 55436 -U postgres -d postgres \
		-c "SELECT $1($secs)" >"$PGT/$2" 2>&1
}
loop churn_read r1.out &
r1=$!
loop churn_read r2.out &
r2=$!
loop churn_write w.out &
w=$!
wait "$r1"; rc1=$?
wait "$r2"; rc2=$?
wait "$w"; rcw=$?
if [ "$rc1" = 124 ] || [ "$rc2" = 124 ] || [ "$rcw" = 124 ]; then
	nok "sessions wedged (exit $rc1 $rc2 $rcw)"
else
	ok "readers and the churner finish in time"
fi
for f in r1 r2 w; do
	n=$(cat "$PGT/$f.out")
	case "$n" in
	''|*[!0-9]*) nok "$f: $n" ;;
	0) nok "$f made no progress" ;;
	*) ok "$f made $n rounds" ;;
	esac
done
check "kv.namespaces() answers from a fresh session" 1 \
	"$(timeout 10 $RUN "$PGBIN/psql" -X -A -t -h "$PGT" -p 55436 -U postgres -d postgres \
		-c "SELECT count(*) FROM kv.namespaces() WHERE name = 'churn'" 2>&1)"
check "a save works afterwards" "" "$(timeout 30 $RUN "$PGBIN/psql" -X -A -t -h "$PGT" -p 55436 -U postgres -d postgres -c "SELECT kv.save()" 2>&1)"

pg_stop c immediate
finish
