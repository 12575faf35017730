#!/bin/sh
# suite-engine.sh -- the engine's own tests (issues 2 and 3), quick versions.
#
#   unit/model/concurrency/batch/scan/snapshot/hook/glob binaries in build/tests/
#   the snapshot and glob fuzzers: corpus replay, then a short run each
#   (FUZZ_QUICK_SECONDS, default 20 s for the snapshot loader, 10 s for glob)
#
# `make test` builds everything first (TEST_DEPS); run alone, this script builds
# what it needs with make.  Ends with "N passed, M failed".
set -u
cd "$(dirname "$0")/.."
B=build/tests
export TEST_TIMEOUT=${TEST_TIMEOUT:-300}  # a hung binary fails instead of stalling make test
if [ ! -d "$B" ]; then make --no-print-directory engine-tests build/fuzz/fuzz_snapshot build/fuzz/fuzz_glob >&2 || true; fi

tp=0; tf=0
add() { # add "N passed, M failed" from the last such line of file $1
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$1" | tail -n 1)
	if [ -n "$line" ]; then
		tp=$((tp + $(echo "$line" | cut -d' ' -f1))); tf=$((tf + $(echo "$line" | cut -d' ' -f3)))
	else
		tf=$((tf + 1))
	fi
}

out=$(mktemp)
trap 'rm -f "$out"' EXIT

echo "== engine unit, model and concurrency tests (build/tests)"
# every tests/unit/test_*.c, as tests/tests.mk builds them
tests=$(cd tests/unit && ls test_*.c | sed 's/\.c$//')
sh tests/unit/run.sh "$B" $tests >"$out" 2>&1
cat "$out"; add "$out"

# Each fuzzer: replay its committed corpus, then fuzz briefly on a copy.
fuzz_quick() { # fuzz_quick NAME SECONDS
	F=build/fuzz/fuzz_$1
	C=tests/fuzz/corpus/$1
	if [ ! -x "$F" ]; then
		echo "FAIL fuzz_$1: $F was not built (clang with libFuzzer needed)"
		tf=$((tf + 2))
		return
	fi
	files=$(find "$C" -type f 2>/dev/null | sort)
	if [ -z "$files" ]; then
		echo "FAIL fuzz_$1 corpus replay: $C is empty"; tf=$((tf + 1))
	elif "$F" -rss_limit_mb=2048 -timeout=20 $files >"$out" 2>&1; then
		echo "ok   fuzz_$1 corpus replay ($(echo "$files" | wc -l) inputs)"; tp=$((tp + 1))
	else
		echo "FAIL fuzz_$1 corpus replay"; tail -n 40 "$out"; tf=$((tf + 1))
	fi
	work=build/fuzz/work-$1
	rm -rf "$work"; mkdir -p "$work"
	[ -n "$files" ] && cp $files "$work/" 2>/dev/null
	secs=${FUZZ_QUICK_SECONDS:-$2}
	if "$F" -max_total_time="$secs" -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix=build/fuzz/ "$work" >"$out" 2>&1; then
		echo "ok   fuzz_$1 ${secs}s run ($(grep -E 'stat::number_of_executed_units' "$out" | awk '{print $2}') execs)"
		tp=$((tp + 1))
	else
		echo "FAIL fuzz_$1 ${secs}s run (crash input saved under build/fuzz/)"
		tail -n 60 "$out"; tf=$((tf + 1))
	fi
}
fuzz_quick snapshot 10
fuzz_quick glob 5

echo "$tp passed, $tf failed"
[ "$tf" = 0 ]
