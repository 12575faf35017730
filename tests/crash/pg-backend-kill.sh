#!/bin/sh
# tests/crash/pg-backend-kill.sh -- kill -9 of a PostgreSQL backend (issue 9).
#
# A backend killed by SIGKILL makes the postmaster kill every other backend and
# reinitialise shared memory; the shardkv store goes with it and the worker
# reloads the last snapshot.  Checked here:
#   1. an idle backend (in pg_sleep): the store comes back as the snapshot had
#      it, and the postmaster's log says how many writes were lost and how old
#      the snapshot was;
#   2. backends killed at random moments while they write, batch or scan
#      (CRASH_QUICK=1: 3 rounds, else 20): every restart succeeds, every key
#      saved before the last completed snapshot is there, and the store serves;
#   3. kill -9 of the postmaster: a new start reloads the last snapshot.
# Port 55432.  Ends with "N passed, M failed".
set -u
cd "$(dirname "$0")/../.."
. tests/pg/cluster.sh
. tests/pg/crash-lib.sh
trap 'pg_cleanup' EXIT
trap 'exit 1' INT TERM HUP

crash_install
pg_setup
pg_init c 55432 "shared_preload_libraries = 'shardkv'" "shardkv.memory = 64MB" \
	"shardkv.autosave_interval = 0" "shardkv.tick_interval = 20ms" \
	"restart_after_crash = on" || { nok "initdb"; finish; }
pg_start c || { nok "cluster start"; finish; }
q c "CREATE EXTENSION shardkv" >/dev/null
resets() { grep -c "all server processes terminated; reinitializing" "$PGT/c.log"; }

# ------------------------------------------------ 1. an idle backend
q c "SELECT kv.create_namespace('crash')" >/dev/null
q c "SELECT count(kv.set('crash', 'saved' || i, 'v')) FROM generate_series(1, 500) i" >/dev/null
q c "SELECT kv.save()" >/dev/null
q c "SELECT count(kv.set('crash', 'lost' || i, 'v')) FROM generate_series(1, 1234) i" >/dev/null
wait_for c "SELECT dirty FROM kv.stats()" 1234 10 || nok "the worker did not count 1234 writes"
bg_psql c "SELECT pg_sleep(600)"
sleeper=$!
wait_for c "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(600)%' AND pid <> pg_backend_pid()" 1 10
pid=$(backend_pid c '%pg_sleep(600)%')
r0=$(resets)
kill -9 "$pid"
wait "$sleeper" 2>/dev/null
if wait_for c "SELECT count(*) FROM kv.keys('crash')" 500 30; then
	ok "kill -9 of an idle backend: the store reloads its last snapshot"
else
	nok "store after the reset: $(q c "SELECT count(*) FROM kv.keys('crash')" 2>&1)"
fi
check "the postmaster reinitialised shared memory" $((r0 + 1)) "$(resets)"
check "writes after the snapshot are lost" 0 "$(q c "SELECT count(*) FROM kv.keys('crash', 'lost*')")"
if grep -q "shardkv store discarded with 1234 writes made after the last snapshot" "$PGT/c.log"; then
	ok "the log says how many writes were lost"
else
	nok "no loss count in the log: $(grep shardkv "$PGT/c.log" | tail -n 5)"
fi
if grep -Eq "The snapshot \".*shardkv.snap\" is [0-9]+ seconds old" "$PGT/c.log"; then
	ok "the log says how old the snapshot was"
else
	nok "no snapshot age in the log"
fi

# --------------------------------- 2. busy backends killed at random moments
rounds=3
[ "$CRASH_QUICK" = 0 ] && rounds=20
i=1
bad=0
while [ "$i" -le "$rounds" ]; do
	q c "SELECT kv.set('crash', 'round$i', 'saved')" >/dev/null &&
		q c "SELECT kv.save()" >/dev/null || { bad=1; echo "# round $i: save failed"; }
	bg_psql c "SELECT count(kv.set('crash', 'w' || g, repeat('x', g % 500))) FROM generate_series(1, 100000000) g"
	w1=$!
	bg_psql c "SELECT count(*) FROM kv.mset('crash', ARRAY(SELECT 'm' || g FROM generate_series(1, 50000) g), ARRAY(SELECT 'v' FROM generate_series(1, 50000))), generate_series(1, 100000)"
	w2=$!
	bg_psql c "SELECT count(*) FROM generate_series(1, 100000), LATERAL kv.keys('crash', '*1*')"
	w3=$!
	bg_psql c "SELECT pg_sleep(600)"
	w4=$!
	sleep "0.$(awk -v s="$i" 'BEGIN { srand(s); printf "%d", 2 + rand() * 7 }')"
	victim=$(pg_psql c -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'client backend'
		AND pid <> pg_backend_pid() AND query NOT LIKE '%pg_stat_activity%' ORDER BY random() LIMIT 1")
	r0=$(resets)
	if [ -n "$victim" ]; then kill -9 "$victim"; else bad=1; echo "# round $i: no backend to kill"; fi
	wait "$w1" "$w2" "$w3" "$w4" 2>/dev/null
	if ! wait_for c "SELECT kv.get('crash', 'round$i')" saved 30; then
		bad=1; echo "# round $i: round$i missing after the reset"
	fi
	[ "$(resets)" -gt "$r0" ] || { bad=1; echo "# round $i: no reset"; }
	j=1
	while [ "$j" -le "$i" ]; do
		[ "$(q c "SELECT kv.get('crash', 'round$j')")" = saved ] || { bad=1; echo "# round $i: round$j lost"; }
		j=$((j + 1))
	done
	[ "$(q c "SELECT count(*) FROM kv.keys('crash', 'saved*')")" = 500 ] || { bad=1; echo "# round $i: saved keys lost"; }
	i=$((i + 1))
done
check "$rounds random kill -9 of busy backends: every restart reloads every saved key" 0 "$bad"
check "the store serves after the resets" "x" \
	"$(q c "SELECT kv.set('crash', 'after', 'x')" >/dev/null; q c "SELECT kv.get('crash', 'after')")"

# ------------------------------------------- 3. kill -9 of the postmaster
q c "SELECT kv.set('crash', 'pm', 'saved')" >/dev/null
q c "SELECT kv.save()" >/dev/null
q c "SELECT kv.set('crash', 'pm_lost', 'x')" >/dev/null
pm=$(pg_pid c)
kill -9 "$pm"
# its children notice the postmaster's death and exit, releasing the old shared
# memory; until then a new postmaster refuses to start, so retry for 20 s
i=0
while kill -0 "$pm" 2>/dev/null && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
i=0
until pg_start c >/dev/null 2>&1 || [ "$i" -ge 20 ]; do sleep 1; i=$((i + 1)); done
if [ "$i" -lt 20 ]; then ok "restart after kill -9 of the postmaster"; else nok "restart after kill -9 of the postmaster"; fi
check "kill -9 of the postmaster: the last snapshot comes back" "saved|f" \
	"$(q c "SELECT kv.get('crash', 'pm'), kv.exists('crash', 'pm_lost')")"

pg_stop c
finish
