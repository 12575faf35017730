#!/bin/sh
# tests/suite-sqlite.sh -- the SQLite extension's tests (issue 6).
#
#   1. SQL cases: every tests/sqlite/*.sql file is split into cases at lines
#      "-- case: NAME".  Lines before the first case are the file's preamble.
#      Each case runs in a fresh sqlite3 shell process (so a fresh store) as
#          .bail on / .load build/shardkv / preamble / case
#      in a scratch directory, with stdout and stderr captured ("near line N"
#      removed, so editing a preamble does not shift every message; @EXT@ and
#      @SQLITE3@ in a case stand for the extension and the shell).  The
#      output of all cases is diffed, case by case, against NAME.expected.
#      The same cases run again with build/asan/shardkv.so (ASan+UBSan).
#   2. C tests (build/sqlite-tests/): sharing across connections and threads
#      (plain, ASan+UBSan, TSan) and load/unload lifetime of build/shardkv.so.
#   3. Fuzz: corpus replay of build/fuzz/fuzz_vtab_args, then a ~15 s run.
#   4. Cross-host snapshots with build/shardkv-server (port 6390); skipped
#      (not passed) when the server is not built.
#
# Ends with "N passed, M failed" (skipped checks are in neither number) and
# exits non-zero if anything failed.  SQLITE_SUITE_FUZZ_SECONDS overrides 8.
# SQLITE_SUITE_PARTS picks parts (default "sql sql-asan c fuzz crosshost"), and
# SQLITE_SUITE_SQL picks SQL files (default tests/sqlite/*.sql), for quick runs.
set -u
cd "$(dirname "$0")/.."
ROOT=$(pwd)
EXT=${SHARDKV_EXT:-$ROOT/build/shardkv}  # without .so, as .load takes it
SQLITE3=${SQLITE3:-sqlite3}
FUZZ_SECONDS=${SQLITE_SUITE_FUZZ_SECONDS:-8}
PARTS=" ${SQLITE_SUITE_PARTS:-sql sql-asan c fuzz crosshost} "
part() { case $PARTS in *" $1 "*) return 0 ;; esac; return 1; }
pass=0; fail=0; skip=0
PIDS=""
WORK=$(mktemp -d "${TMPDIR:-/tmp}/suite-sqlite.XXXXXX")

cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	for p in $PIDS; do wait "$p" 2>/dev/null; done
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ok()   { pass=$((pass + 1)); echo "ok   $*"; }
bad()  { fail=$((fail + 1)); echo "FAIL $*"; }
skipped() { skip=$((skip + 1)); echo "skip $*"; }

# ------------------------------------------------------------ SQL cases
# run_sql_file FILE [LABEL]: LABEL (default "sql") names the pass; the
# globals EXT and SQL_PRELOAD (LD_PRELOAD for the shell) pick the build.
run_sql_file() {
	sql=$1
	label=${2:-sql}
	name=$(basename "$sql" .sql)
	expected=tests/sqlite/$name.expected
	dir=$WORK/$label/$name
	mkdir -p "$dir/cases"
	# split into preamble + cases
	awk -v dir="$dir/cases" '
		/^-- case: / { n++; name = substr($0, 10); file = sprintf("%s/%03d", dir, n);
		               print name > (file ".name"); close(file ".name"); next }
		n == 0 { print > (dir "/../preamble.sql"); next }
		{ print > (sprintf("%s/%03d.sql", dir, n)) }
	' "$sql"
	[ -f "$dir/preamble.sql" ] || : >"$dir/preamble.sql"
	: >"$dir/actual"
	for nf in "$dir"/cases/*.name; do
		[ -f "$nf" ] || continue
		base=${nf%.name}
		cname=$(cat "$nf")
		[ -f "$base.sql" ] || : >"$base.sql"
		{
			echo ".bail on"
			echo ".load $EXT"
			cat "$dir/preamble.sql" "$base.sql"
		} | sed -e "s|@EXT@|$EXT|g" -e "s|@SQLITE3@|$SQLITE3|g" >"$base.in"
		mkdir -p "$base.d"
		# a case that hangs fails (exit 124) instead of wedging the suite
		( cd "$base.d" && LD_PRELOAD=$SQL_PRELOAD SHARDKV_MEMORY=256MB timeout -k 5 120 "$SQLITE3" :memory: \
			<"$base.in" >"$base.out" 2>&1 )
		echo "exit $?" >>"$base.out"
		sed -e 's/ near line [0-9]*:/:/' -e 's/\.tmp-[0-9][0-9A-Za-z-]*/.tmp-PID/g' "$base.out" >"$base.norm"
		{ echo "== case: $cname"; cat "$base.norm"; } >>"$dir/actual"
		# compare this case with its block in the expected file
		awk -v want="== case: $cname" '
			$0 == want { on = 1; print; next }
			/^== case: / { on = 0 }
			on { print }
		' "$expected" 2>/dev/null >"$base.want"
		{ echo "== case: $cname"; cat "$base.norm"; } >"$base.got"
		if [ ! -s "$base.want" ]; then
			bad "$label $name: $cname (no expected output for this case)"
			cat "$base.got" | sed 's/^/    /' | head -n 30
		elif cmp -s "$base.want" "$base.got"; then
			ok "$label $name: $cname"
		else
			bad "$label $name: $cname"
			diff -u "$base.want" "$base.got" | sed 's/^/    /' | head -n 40
		fi
	done
	[ "$label" = sql ] && cp "$dir/actual" "build/test-logs/sqlite-$name.actual" 2>/dev/null
	# every expected case must still exist (a stale .expected is a defect too)
	grep '^== case: ' "$expected" 2>/dev/null | sort >"$dir/want.cases"
	grep '^== case: ' "$dir/actual" | sort >"$dir/got.cases"
	stale=$(comm -23 "$dir/want.cases" "$dir/got.cases")
	if [ -n "$stale" ]; then
		bad "$label $name: $expected has cases the script no longer runs:"
		echo "$stale" | sed 's/^/    /'
	fi
}

mkdir -p build/test-logs
if ! part sql; then
	:
elif ! command -v "$SQLITE3" >/dev/null 2>&1; then
	bad "sqlite3 shell not installed (Debian package sqlite3)"
elif [ ! -f "$EXT.so" ]; then
	bad "build/shardkv.so not built (run make)"
else
	SQL_PRELOAD=
	for sql in ${SQLITE_SUITE_SQL:-tests/sqlite/*.sql}; do
		run_sql_file "$sql"
	done
fi
# The same cases with the ASan+UBSan build of the extension: any report aborts
# the shell, so the case's output differs from the expected one.
if part sql-asan; then
	SQL_PRELOAD=$(${CC:-cc} -print-file-name=libasan.so 2>/dev/null)
	if [ ! -f build/asan/shardkv.so ] || [ ! -f "$SQL_PRELOAD" ]; then
		bad "sql-asan: build/asan/shardkv.so or libasan.so missing (run make)"
	else
		EXT_PLAIN=$EXT; EXT=$ROOT/build/asan/shardkv
		# no leak check here: the shell leaks when a -cmd fails, and so do the
		# uninstrumented commands that .shell runs (the C tests check leaks)
		export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
		for sql in ${SQLITE_SUITE_SQL:-tests/sqlite/*.sql}; do
			run_sql_file "$sql" sql-asan
		done
		EXT=$EXT_PLAIN; SQL_PRELOAD=
		unset ASAN_OPTIONS UBSAN_OPTIONS
	fi
fi

# ------------------------------------------------------------- C tests
run_ctest() {
	bin=$1; label=$2
	if [ ! -x "$bin" ]; then
		bad "$label not built (run make)"
		return
	fi
	out=$WORK/$(echo "$label" | tr ' /' '__').log
	( cd "$WORK" && SHARDKV_SO="$EXT.so" \
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		TSAN_OPTIONS="halt_on_error=1:report_signal_unsafe=0" \
		"$ROOT/$bin" ) >"$out" 2>&1
	rc=$?
	p=$(grep -c '^ok ' "$out"); f=$(grep -c '^not ok ' "$out")
	pass=$((pass + p)); fail=$((fail + f))
	sed 's/^/    /' "$out" | grep -v '^    ok ' | head -n 40
	echo "$label: $p ok, $f not ok, exit $rc"
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
		bad "$label exited $rc"
	elif ! grep -q '^# [0-9]* checks, [0-9]* failed' "$out"; then
		bad "$label ended without its summary line"
	fi
}
if part c; then
	run_ctest build/sqlite-tests/test_sharing "C sharing"
	run_ctest build/sqlite-tests/asan/test_sharing "C sharing (asan)"
	# TSan: gcc cannot build the engine with -fsanitize=thread; fall back to clang
	# in a separate build tree, as tests/suite-engine-sanitizers.sh does.
	TSAN_BIN=build/sqlite-tests/tsan/test_sharing
	if ! make --no-print-directory "$TSAN_BIN" >"$WORK/tsan-build.log" 2>&1 || [ ! -x "$TSAN_BIN" ]; then
		if command -v clang >/dev/null 2>&1 &&
		   make --no-print-directory BUILD=build/clang-tsan CC=clang \
			build/clang-tsan/sqlite-tests/tsan/test_sharing >"$WORK/tsan-build.log" 2>&1; then
			TSAN_BIN=build/clang-tsan/sqlite-tests/tsan/test_sharing
		else
			grep -E 'error|Error' "$WORK/tsan-build.log" | head -n 10
		fi
	fi
	run_ctest "$TSAN_BIN" "C sharing (tsan)"
	run_ctest build/sqlite-tests/test_lifetime "C lifetime"
fi

# ---------------------------------------------------------------- fuzz
FUZZ=build/fuzz/fuzz_vtab_args
if ! part fuzz; then
	:
elif [ ! -x "$FUZZ" ]; then
	bad "fuzz_vtab_args (not built: needs clang with libFuzzer)"
else
	if "$FUZZ" -runs=0 tests/fuzz/corpus/vtab_args >"$WORK/fuzz-replay.log" 2>&1; then
		ok "fuzz_vtab_args corpus replay ($(ls tests/fuzz/corpus/vtab_args | wc -l) inputs)"
	else
		bad "fuzz_vtab_args corpus replay"; tail -n 30 "$WORK/fuzz-replay.log"
	fi
	mkdir -p "$WORK/fuzz-corpus"
	if "$FUZZ" -max_total_time="$FUZZ_SECONDS" -max_len=512 -timeout=10 -print_final_stats=1 \
		"$WORK/fuzz-corpus" tests/fuzz/corpus/vtab_args >"$WORK/fuzz-run.log" 2>&1; then
		ok "fuzz_vtab_args ${FUZZ_SECONDS}s run ($(grep -o 'stat::number_of_executed_units: [0-9]*' "$WORK/fuzz-run.log" | cut -d' ' -f2) execs)"
	else
		bad "fuzz_vtab_args ${FUZZ_SECONDS}s run"; tail -n 40 "$WORK/fuzz-run.log"
	fi
fi

# ------------------------------------------------- cross-host snapshots
if ! part crosshost; then
	:
elif [ -x build/shardkv-server ] && [ -f "$EXT.so" ]; then
	. tests/sqlite/crosshost.sh
else
	skipped "cross-host snapshot test (build/shardkv-server not built)"
fi

echo "sqlite: $skip skipped"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
