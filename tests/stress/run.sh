#!/bin/sh
# tests/stress/run.sh -- long stress of the engine (make stress; not part of make test).
#
# Runs the concurrency, batch, scan, snapshot and model tests with TEST_STRESS=1:
# more threads and processes, 10x-100x longer runs, 200 model phases, 50 kills
# during saves; then the concurrency and batch tests again under ThreadSanitizer,
# and the drop/create/mget churn of tests/crash/engine-churn.sh in full.
# STRESS_ROUNDS (default 1) repeats the whole set with new seeds.  Each binary's
# output goes to build/tests/<name>.log (and tsan/<name>.log); a failing seed is
# printed there as TEST_SEED=<n>.
set -u
cd "$(dirname "$0")/../.."
export TEST_STRESS=1 TEST_TIMEOUT=${TEST_TIMEOUT:-3600}
rounds=${STRESS_ROUNDS:-1}
fail=0
i=0
while [ "$i" -lt "$rounds" ]; do
	i=$((i + 1))
	echo "== stress round $i of $rounds"
	sh tests/unit/run.sh build/tests test_concurrency test_batch test_scan test_snapshot test_model || fail=1
	TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:report_signal_unsafe=0 \
		sh tests/unit/run.sh build/tests/tsan test_concurrency test_batch test_snapshot || fail=1
	# issue 10's wedge: drop/create/mset against mgets, processes and threads, minutes
	CRASH_QUICK=0 sh tests/crash/engine-churn.sh || fail=1
done
[ "$fail" = 0 ] && echo "stress: all rounds passed" || echo "stress: FAILED (see the logs above)"
exit "$fail"
