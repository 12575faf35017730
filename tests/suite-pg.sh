#!/bin/sh
# PostgreSQL extension tests (issue 4).  Run by tests/run-all.sh, or directly:
#     sh tests/suite-pg.sh            (as root: installs the extension first,
#                                      unless PG_NO_INSTALL=1)
# It starts its own clusters as user postgres on Unix sockets in a mktemp
# directory (ports 55430-55431), and stops them by PID at the end, also on
# failure.  Parts:
#   1. pg_regress: pg_ext/sql/*.sql against pg_ext/expected/*.out
#   2. pg_isolation_regress: tests/pg/isolation/specs/*.spec (visibility,
#      concurrent incr, batches, notifications)
#   3. pgTAP via pg_prove: tests/pg/tap/*.sql
#   4. pgbench: 8 clients kv.incr one key, checked exact
#   5. stress: writers, batches, scans, saves and online resizes at once
#   6. snapshots (tests/pg/restart.sh): save at clean shutdown, load at start,
#      autosave worker, crash restart (pg_ctl stop -m immediate, killed worker),
#      corrupt file, temp-file cleanup
#   7. hostile files in the snapshot dir (tests/pg/files.sh): a FIFO, symlinks
#      out of the directory, a planted link, a one-namespace save into the
#      start-up file
#   8. a cluster without shared_preload_libraries: clear error and hint
# Ends with "N passed, M failed".
set -u
cd "$(dirname "$0")/.."
. tests/pg/cluster.sh

PASS=0
FAIL=0
ok() { PASS=$((PASS + 1)); echo "ok - $*"; }
nok() { FAIL=$((FAIL + 1)); echo "not ok - $*"; }
check() { # check DESCRIPTION EXPECTED ACTUAL
	if [ "$2" = "$3" ]; then ok "$1"; else nok "$1 (expected '$2', got '$3')"; fi
}
finish() {
	echo "$PASS passed, $FAIL failed"
	[ "$FAIL" = 0 ]
	exit $?
}

trap 'pg_cleanup' EXIT
trap 'exit 1' INT TERM HUP

# ---------------------------------------------------------------- install
if [ "$(id -u)" = 0 ] && [ -z "${PG_NO_INSTALL:-}" ]; then
	if install_log=$(make --no-print-directory pg-install 2>&1); then
		ok "make pg-install"
	else
		echo "$install_log"; nok "make pg-install"; finish
	fi
else
	echo "# using the shardkv already installed in $(pg_config --pkglibdir)"
fi

pg_setup
mkdir -p "$PGT/regress/sql" "$PGT/regress/expected" "$PGT/iso"
cp pg_ext/sql/*.sql "$PGT/regress/sql/"
cp pg_ext/expected/*.out "$PGT/regress/expected/"
cp -r tests/pg/isolation/. "$PGT/iso/"
cp -r tests/pg/tap "$PGT/tap"
[ -n "$RUN" ] && chown -R postgres: "$PGT"

pg_init main 55430 "shared_preload_libraries = 'shardkv'" "shardkv.memory = 64MB" \
	"shardkv.autosave_interval = 0" "shardkv.tick_interval = 50ms" || { nok "initdb"; finish; }
if pg_start main; then ok "cluster starts with shardkv preloaded"; else nok "cluster start"; finish; fi
# the pgbench and snapshot parts use database postgres
pg_psql main -c "CREATE EXTENSION shardkv" || nok "CREATE EXTENSION shardkv"

# --------------------------------------------------------------- pg_regress
$RUN "$PGBIN/createdb" -h "$PGT" -p 55430 -U postgres shardkv_regress
TESTS=$(ls pg_ext/sql/*.sql | sed 's|.*/||; s|\.sql$||' | sort)
$RUN "$PG_REGRESS" --use-existing --host="$PGT" --port=55430 --user=postgres \
	--inputdir="$PGT/regress" --outputdir="$PGT/regress" --dbname=shardkv_regress \
	$TESTS >"$PGT/regress.log" 2>&1
cat "$PGT/regress.log"
for t in $TESTS; do
	if grep -Eq "^(test )?$t +\.\.\. ok" "$PGT/regress.log"; then
		ok "pg_regress $t"
	else
		nok "pg_regress $t"
	fi
done
[ -f "$PGT/regress/regression.diffs" ] && head -n 150 "$PGT/regress/regression.diffs"

# ------------------------------------------------------ pg_isolation_regress
if [ -x "$PG_ISOLATION_REGRESS" ]; then
	ISO=$(ls tests/pg/isolation/specs/*.spec | sed 's|.*/||; s|\.spec$||' | sort)
	$RUN "$PGBIN/createdb" -h "$PGT" -p 55430 -U postgres shardkv_iso
	PGDATABASE=shardkv_iso pg_psql main -c "CREATE EXTENSION shardkv"
	$RUN "$PG_ISOLATION_REGRESS" --use-existing --host="$PGT" --port=55430 --user=postgres \
		--inputdir="$PGT/iso" --outputdir="$PGT/iso" --dbname=shardkv_iso \
		$ISO >"$PGT/iso.log" 2>&1
	cat "$PGT/iso.log"
	for t in $ISO; do
		if grep -Eq "^(test )?$t +\.\.\. ok" "$PGT/iso.log"; then
			ok "isolation $t"
		else
			nok "isolation $t"
		fi
	done
	[ -f "$PGT/iso/regression.diffs" ] && head -n 100 "$PGT/iso/regression.diffs"
else
	nok "pg_isolation_regress not found at $PG_ISOLATION_REGRESS"
fi

# --------------------------------------------------------------------- pgTAP
PGDATABASE=shardkv_tap
$RUN "$PGBIN/createdb" -h "$PGT" -p 55430 -U postgres shardkv_tap
pg_psql main -d shardkv_tap -c "CREATE EXTENSION IF NOT EXISTS pgtap" -c "CREATE EXTENSION IF NOT EXISTS shardkv"
$RUN pg_prove --verbose -h "$PGT" -p 55430 -U postgres -d shardkv_tap "$PGT"/tap/*.sql \
	>"$PGT/tap.log" 2>&1
tap_rc=$?
cat "$PGT/tap.log"
tp=$(grep -Ec '^ *ok [0-9]+' "$PGT/tap.log")
tf=$(grep -Ec '^ *not ok [0-9]+' "$PGT/tap.log")
PASS=$((PASS + tp))
FAIL=$((FAIL + tf))
if [ "$tap_rc" != 0 ] || [ "$tp" = 0 ]; then nok "pg_prove (exit $tap_rc, $tp ok)"; fi
unset PGDATABASE

# ------------------------------------------------------------------ pgbench
pg_psql main -c "SELECT kv.create_namespace('bench_incr', if_not_exists => true)" \
	-c "SELECT kv.delete('bench_incr', 'hot')" >/dev/null
echo "SELECT kv.incr('bench_incr', 'hot');" >"$PGT/incr.sql"
[ -n "$RUN" ] && chown postgres: "$PGT/incr.sql"
if $RUN "$PGBIN/pgbench" -n -M prepared -c 8 -j 2 -t 250 -f "$PGT/incr.sql" \
	-h "$PGT" -p 55430 -U postgres postgres >"$PGT/pgbench.log" 2>&1; then
	check "pgbench: 8 clients x 250 kv.incr on one key is exact" 2000 \
		"$(pg_psql main -c "SELECT kv.get('bench_incr', 'hot')")"
else
	cat "$PGT/pgbench.log"; nok "pgbench run"
fi

# ------------------------------------------------------------------- stress
# 4 clients write, read, batch and count while another client scans and saves
# and the shard count is raised online; every transaction must succeed and the
# counter must equal the number of transactions.
pg_psql main -c "SELECT kv.create_namespace('stress', shards => 2)" >/dev/null
cat >"$PGT/mixed.sql" <<'EOF2'
\set id random(1, 5000)
SELECT kv.set('stress', 'k' || :id, repeat('x', :id % 300));
SELECT kv.get('stress', 'k' || :id);
SELECT kv.incr('stress', 'counter');
SELECT count(*) FROM kv.mget('stress', ARRAY['k1', 'k2', 'k' || :id]);
SELECT * FROM kv.mset('stress', ARRAY['a' || :id, 'b' || :id], ARRAY['1', '2']);
SELECT kv.delete('stress', 'k' || (:id + 1));
EOF2
cat >"$PGT/admin.sql" <<'EOF2'
SELECT count(*) FROM kv.keys('stress', 'k*');
SELECT kv.save('stress', 'stress.snap');
EOF2
[ -n "$RUN" ] && chown postgres: "$PGT/mixed.sql" "$PGT/admin.sql"
$RUN "$PGBIN/pgbench" -n -M prepared -c 4 -j 2 -T 4 -f "$PGT/mixed.sql" \
	-h "$PGT" -p 55430 -U postgres postgres >"$PGT/stress.log" 2>&1 &
stress_pid=$!
$RUN "$PGBIN/pgbench" -n -c 1 -T 4 -f "$PGT/admin.sql" \
	-h "$PGT" -p 55430 -U postgres postgres >"$PGT/stress-admin.log" 2>&1 &
admin_pid=$!
resize_ok=1
for n in 4 8 16 32 64; do
	sleep 0.6
	pg_psql main -c "SELECT kv.resize('stress', $n)" >/dev/null || resize_ok=0
done
wait $stress_pid; stress_rc=$?
wait $admin_pid; admin_rc=$?
done_tx=$(awk '/number of transactions actually processed/ {split($NF, a, "/"); print a[1]}' "$PGT/stress.log")
failed_tx=$(awk '/number of failed transactions/ {print $5}' "$PGT/stress.log")
if [ "$stress_rc" = 0 ] && [ "${failed_tx:-x}" = 0 ] && [ -n "$done_tx" ]; then
	ok "stress: $done_tx mixed transactions from 4 clients, no errors"
else
	cat "$PGT/stress.log"; nok "stress: mixed clients failed (exit $stress_rc)"
fi
if [ "$admin_rc" = 0 ]; then ok "stress: scans and saves alongside"; else cat "$PGT/stress-admin.log"; nok "stress: scans and saves failed"; fi
check "stress: online resizes while clients run" 1 "$resize_ok"
check "stress: shard count raised" 64 "$(pg_psql main -c "SELECT shards FROM kv.namespaces() WHERE name = 'stress'")"
check "stress: the counter equals the transactions" "$done_tx" "$(pg_psql main -c "SELECT kv.get('stress', 'counter')")"
pg_psql main -c "SELECT kv.drop_namespace('stress')" >/dev/null

# ---------------------------------------------------------------- snapshots
. tests/pg/restart.sh
. tests/pg/files.sh

# ------------------------------------------------- without preloading
pg_init nopreload 55431 || nok "initdb nopreload"
if pg_start nopreload; then
	out=$(pg_psql nopreload -c "CREATE EXTENSION shardkv" -c "SELECT kv.get('a', 'b')" 2>&1)
	case "$out" in
	*"shardkv must be loaded via shared_preload_libraries"*"HINT:"*"shared_preload_libraries"*)
		ok "without preloading: clear error and hint" ;;
	*) nok "without preloading: got: $out" ;;
	esac
	out=$(pg_psql nopreload -c "SELECT kv.create_namespace('x')" 2>&1)
	case "$out" in
	*"shardkv must be loaded via shared_preload_libraries"*) ok "without preloading: create_namespace fails too" ;;
	*) nok "without preloading (create_namespace): got: $out" ;;
	esac
	pg_stop nopreload
else
	nok "nopreload cluster start"
fi

pg_stop main
finish
