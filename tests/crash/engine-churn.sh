#!/bin/sh
# engine-churn.sh -- issue 10's whole-store wedge, as a multi-process churn.
#
# fork()ed processes share one MAP_SHARED region: two loop an all-or-nothing
# 3-key mget on namespace 'churn', a third loops drop, create (2 shards) and a
# 5000-key all-or-nothing mset.  The test binary's watchdog fails the run when
# any process stops making progress for 5 s (the store used to wedge within
# seconds, every process spinning on a freed shard's lock); `timeout` here is a
# second watchdog in case the binary itself hangs.  Also runs the threaded
# version.  CRASH_QUICK=1 (make test): a few seconds; 0 (make crash): minutes.
set -u
cd "$(dirname "$0")/../.."
B=build/tests/test_batch
[ -x "$B" ] || make --no-print-directory build/tests/test_batch >/dev/null 2>&1
if [ "${CRASH_QUICK:-1}" = 1 ]; then ms=4000; rounds=1; else ms=30000; rounds=4; fi
pass=0; fail=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT
run() { # run NAME ENV...: one churn run, judged by the binary's summary line
	name=$1; shift
	env "$@" CHURN_MS=$ms timeout $((ms / 1000 + 60)) "$B" churn >"$out" 2>&1
	rc=$?
	if [ "$rc" = 0 ] && grep -q '^1 passed, 0 failed' "$out"; then
		echo "ok   $name ($(grep '^ *churn: [0-9]' "$out" | sed 's/^ *churn: //'))"; pass=$((pass + 1))
	else
		[ "$rc" = 124 ] && echo "     (killed by the outer watchdog: the binary hung)"
		echo "FAIL $name (exit $rc)"; tail -n 20 "$out" | sed 's/^/   /'; fail=$((fail + 1))
	fi
}
if [ ! -x "$B" ]; then
	echo "FAIL $B was not built"; fail=1
else
	i=0
	while [ "$i" -lt "$rounds" ]; do
		i=$((i + 1))
		run "churn round $i: 3 processes over one shared region, ${ms} ms" CHURN_PROCS=1
		run "churn round $i: 3 threads, ${ms} ms" CHURN_PROCS=0
	done
fi
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
