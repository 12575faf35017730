#!/bin/sh
# tests/crash/pg-cancel.sh -- cancel, statement_timeout and pg_terminate_backend
# in the middle of long shardkv calls (issue 9): none may leave an engine lock
# held or stall other sessions.
#   1. statement_timeout stops a long kv.keys loop over a big namespace;
#   2. while one session runs kv.keys loops, others still get, set and scan;
#      pg_cancel_backend stops it at once;
#   3. pg_terminate_backend in the middle of a large all-or-nothing kv.mset:
#      the batch is wholly in or wholly out, and other sessions keep working;
#   4. afterwards every namespace operation works (drop, save, resize);
#   5. a fast shutdown while sessions scan and batch takes under 5 s.
# CRASH_QUICK=1: 200k keys, else 1M.  Port 55433.  Ends with "N passed, M failed".
set -u
cd "$(dirname "$0")/../.."
. tests/pg/cluster.sh
. tests/pg/crash-lib.sh
trap 'pg_cleanup' EXIT
trap 'exit 1' INT TERM HUP

crash_install
pg_setup
pg_init c 55433 "shared_preload_libraries = 'shardkv'" "shardkv.memory = 512MB" \
	"shardkv.autosave_interval = 0" || { nok "initdb"; finish; }
pg_start c || { nok "cluster start"; finish; }
q c "CREATE EXTENSION shardkv" >/dev/null
keys=200000
[ "$CRASH_QUICK" = 0 ] && keys=1000000

# t SECONDS SQL: run SQL with a hard limit; prints its output, or HANG
t() { timeout "$1" $RUN "$PGBIN/psql" -X -q -A -t -h "$PGT" -p 55433 -U postgres -d postgres \
	-c "$2" 2>&1 || echo "rc=$?"; }
now_ms() { date +%s%3N; }

q c "SELECT kv.create_namespace('big', shards => 4)" >/dev/null
chunk=50000
n=0
while [ "$n" -lt "$keys" ]; do
	q c "SELECT count(*) FROM kv.mset('big', ARRAY(SELECT 'key:' || g FROM generate_series($n + 1, $n + $chunk) g),
		ARRAY(SELECT repeat('v', 20) FROM generate_series(1, $chunk)))" >/dev/null
	n=$((n + chunk))
done
check "$keys keys loaded" "$keys" "$(q c "SELECT count(*) FROM kv.keys('big')")"

# 1. statement_timeout
start=$(now_ms)
out=$(t 20 "SET statement_timeout = '300ms'; SELECT count(*) FROM generate_series(1, 100000) g, LATERAL kv.keys('big', '*a*a*a*a*a*a*a*a*a*a*b' || left(g::text, 0))")
took=$(( $(now_ms) - start ))
case "$out" in
*"canceling statement due to statement timeout"*) ok "statement_timeout stops a kv.keys loop" ;;
*) nok "statement_timeout: $out" ;;
esac
[ "$took" -lt 3000 ] && ok "... within 3 s ($took ms)" || nok "statement_timeout took $took ms"

# 2. others are served while a session scans; pg_cancel_backend stops it
bg_psql c "SELECT count(*) FROM generate_series(1, 100000) g, LATERAL kv.keys('big', '*1*2*3*4*5*6*7*8*9*0*x' || left(g::text, 0))"
scanner=$!
wait_for c "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%*1*2*3*4%' AND pid <> pg_backend_pid()" 1 10
sleep 0.3
worst=0
for k in 1 2 3 4 5; do
	start=$(now_ms)
	out=$(t 10 "SELECT kv.set('big', 'probe$k', 'p'), kv.get('big', 'key:$k'), kv.get('big', 'probe$k')")
	took=$(( $(now_ms) - start ))
	[ "$took" -gt "$worst" ] && worst=$took
	[ "$out" = "|vvvvvvvvvvvvvvvvvvvv|p" ] || nok "probe $k during the scan: $out"
done
[ "$worst" -lt 1000 ] && ok "get/set from other sessions answer during a kv.keys loop (worst $worst ms)" \
	|| nok "get/set stalled behind a scan: worst $worst ms"
check "a scan from another session also runs" 1 "$(t 20 "SELECT count(*) FROM kv.keys('big', 'key:12345')")"
pid=$(backend_pid c '%*1*2*3*4%')
[ -n "$pid" ] || nok "the kv.keys loop ended before it could be cancelled"
start=$(now_ms)
q c "SELECT pg_cancel_backend($pid)" >/dev/null
i=0
while kill -0 "$scanner" 2>/dev/null && [ "$i" -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
took=$(( $(now_ms) - start ))
if kill -0 "$scanner" 2>/dev/null; then nok "pg_cancel_backend did not stop kv.keys"; else
	ok "pg_cancel_backend stops a kv.keys loop ($took ms)"; fi

# 3. pg_terminate_backend in the middle of large all-or-nothing msets: a loop
#    of batches of 20000 keys (batch b writes mset-b-1 .. mset-b-20000)
bg_psql c "SELECT count(*) FROM generate_series(1, 100000) b, LATERAL kv.mset('big',
	ARRAY(SELECT 'mset-' || b || '-' || g FROM generate_series(1, 20000) g),
	ARRAY(SELECT repeat('m', 50) FROM generate_series(1, 20000)))"
msetter=$!
wait_for c "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%mset-%' AND pid <> pg_backend_pid()" 1 10
sleep 0.5
pid=$(backend_pid c "%mset-%")
if [ -n "$pid" ]; then q c "SELECT pg_terminate_backend($pid)" >/dev/null; else nok "the msets ended before they could be terminated"; fi
wait "$msetter" 2>/dev/null
check "other sessions write after the terminate" "after" \
	"$(t 10 "SELECT kv.set('big', 'after', 'after')" >/dev/null; t 10 "SELECT kv.get('big', 'after')")"
got=$(t 30 "SELECT count(*) || ' ' || count(*) FILTER (WHERE n <> 20000) FROM (SELECT split_part(k, '-', 2), count(*) AS n
	FROM kv.keys('big', 'mset-*') AS k(k) GROUP BY 1) s")
case "$got" in
[1-9]*" 0") ok "every all-or-nothing mset is wholly in or out after the terminate (${got% *} batches in)" ;;
*) nok "batches in, partial batches: $got" ;;
esac

# 4. nothing is left locked or busy
check "save after the interruptions" "" "$(t 60 "SELECT kv.save()")"
check "resize after the interruptions" "" "$(t 60 "SELECT kv.resize('big', 8)")"
check "flush after the interruptions" "" "$(t 60 "SELECT kv.flush('big')")"
check "drop after the interruptions" "" "$(t 60 "SELECT kv.drop_namespace('big')")"
check "namespaces() answers" 0 "$(t 10 "SELECT count(*) FROM kv.namespaces()")"

# 5. a fast shutdown while sessions scan and batch finishes within 5 s
q c "SELECT kv.create_namespace('big2', shards => 4)" >/dev/null
q c "SELECT count(*) FROM kv.mset('big2', ARRAY(SELECT 'key:' || g FROM generate_series(1, $chunk) g),
	ARRAY(SELECT repeat('v', 20) FROM generate_series(1, $chunk)))" >/dev/null
bg_psql c "SELECT count(*) FROM generate_series(1, 100000) g, LATERAL kv.keys('big2', '*9*8*7*x' || left(g::text, 0))"
bg_psql c "SELECT count(*) FROM generate_series(1, 100000) g, LATERAL kv.mset('big2', ARRAY['a' || g, 'b' || g], ARRAY['1', '2'])"
wait_for c "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%generate_series(1, 100000) g%' AND pid <> pg_backend_pid()" 2 10
start=$(now_ms)
pg_stop c fast
took=$(( $(now_ms) - start ))
[ "$took" -lt 5000 ] && ok "a fast shutdown during kv.keys and kv.mset loops takes $took ms" \
	|| nok "fast shutdown took $took ms"
grep -q "shardkv saved the store at shutdown" "$PGT/c.log" && ok "the worker saved at that shutdown" \
	|| nok "no save at shutdown"
finish
