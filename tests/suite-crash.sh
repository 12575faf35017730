#!/bin/sh
# suite-crash.sh -- the quick versions of the crash and fault tests, run by
# tests/run-all.sh.  `make crash` runs the same scripts in full (CRASH_QUICK=0).
#
# Every tests/crash/*.sh is one crash test: it kills or starves a real host
# (kill -9, a full tmpfs, failing fsync/rename, a killed PostgreSQL backend),
# reads CRASH_QUICK (1: a few iterations, 0: the long loops) and ends with a
# line "N passed, M failed".  A script that ends without that line, or exits
# non-zero with 0 failed, counts as one failure.
set -u
cd "$(dirname "$0")/.."
: "${CRASH_QUICK:=1}"
export CRASH_QUICK
passed=0; failed=0
for t in tests/crash/*.sh; do
	[ -e "$t" ] || continue
	echo "== $t (CRASH_QUICK=$CRASH_QUICK)"
	out=$(mktemp)
	sh "$t" >"$out" 2>&1
	rc=$?
	cat "$out"
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1)
	rm -f "$out"
	if [ -z "$line" ]; then
		echo "FAIL $t ended without a summary line"; failed=$((failed + 1)); continue
	fi
	p=$(echo "$line" | cut -d' ' -f1); f=$(echo "$line" | cut -d' ' -f3)
	[ "$rc" != 0 ] && [ "$f" = 0 ] && { echo "FAIL $t exited $rc"; f=1; }
	passed=$((passed + p)); failed=$((failed + f))
done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
