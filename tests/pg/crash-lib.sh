# tests/pg/crash-lib.sh -- shared by the PostgreSQL crash scripts
# (tests/crash/pg-*.sh): counters, the summary line, and the extension install.
# Sourced after tests/pg/cluster.sh.
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
: "${CRASH_QUICK:=1}"

# As root, install the extension being tested (unless PG_NO_INSTALL=1).
crash_install() {
	if [ "$(id -u)" = 0 ] && [ -z "${PG_NO_INSTALL:-}" ]; then
		make --no-print-directory pg-install >/dev/null 2>&1 || { nok "make pg-install"; finish; }
	fi
}

# q NAME SQL: one statement, output only (errors on stderr)
q() { pg_psql "$1" -c "$2"; }

# wait_for NAME SQL EXPECTED SECONDS: poll until SQL prints EXPECTED
wait_for() {
	_i=0
	while [ "$_i" -lt $(($4 * 10)) ]; do
		[ "$(pg_psql "$1" -c "$2" 2>/dev/null)" = "$3" ] && return 0
		sleep 0.1; _i=$((_i + 1))
	done
	return 1
}

# bg_psql NAME SQL: run SQL in the background as its own session; $! is its pid
bg_psql() {
	_n=$1; shift
	eval "_p=\$PG_PORT_$_n"
	$RUN "$PGBIN/psql" -X -q -A -t -h "$PGT" -p "$_p" -U postgres -d postgres -c "$1" \
		>/dev/null 2>&1 &
}

# backend_pid NAME PATTERN: pid of the (one) other backend whose query matches
backend_pid() {
	pg_psql "$1" -c "SELECT pid FROM pg_stat_activity WHERE query LIKE '$2'
		AND pid <> pg_backend_pid() AND backend_type = 'client backend' LIMIT 1"
}
