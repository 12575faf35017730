#!/bin/sh
# suite-engine-sanitizers.sh -- quick sanitizer passes over the engine tests:
# every engine test binary under AddressSanitizer + UBSan, and those tests/tests.mk
# lists in ENGINE_TESTS_TSAN under ThreadSanitizer, all with TEST_QUICK=1
# (smaller workloads).  `make asan` / `make tsan` run the full-size versions.
# Ends with "N passed, M failed".
set -u
cd "$(dirname "$0")/.."
B=build/tests
export TEST_TIMEOUT=${TEST_TIMEOUT:-300}  # a hung binary fails instead of stalling make test
export TEST_QUICK=1
export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:report_signal_unsafe=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT
tp=0; tf=0
add() {
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$1" | tail -n 1)
	if [ -n "$line" ]; then
		tp=$((tp + $(echo "$line" | cut -d' ' -f1))); tf=$((tf + $(echo "$line" | cut -d' ' -f3)))
	else
		tf=$((tf + 1))
	fi
}
# Build here (not in TEST_DEPS): a sanitizer build failure is reported as a
# failure of this suite, with the compiler's output, instead of stopping make test.
build() { # build TARGET: 0 if it built
	make --no-print-directory -k "$1" >"$out" 2>&1 && return 0
	echo "FAIL make $1:"; grep -E 'error|Error' "$out" | head -n 20
	return 1
}
build asan-build || tf=$((tf + 1))
TB=$B
if ! build tsan-build; then
	tf=$((tf + 1))
	# Still run the TSan tests: build them with clang in a separate tree.
	if command -v clang >/dev/null 2>&1; then
		echo "   retrying the TSan build with clang in build/clang-tsan"
		make --no-print-directory -k BUILD=build/clang-tsan CC=clang tsan-build >"$out" 2>&1 \
			|| { echo "FAIL make CC=clang tsan-build:"; grep -E 'error|Error' "$out" | head -n 20; }
		TB=build/clang-tsan/tests
	fi
fi
echo "== ASan+UBSan ($B/asan)"
tests=$(cd tests/unit && ls test_*.c | sed 's/\.c$//')
sh tests/unit/run.sh "$B/asan" $tests >"$out" 2>&1
cat "$out"; add "$out"
echo "== TSan ($TB/tsan)"
sh tests/unit/run.sh "$TB/tsan" $(make --no-print-directory -s tsan-list) >"$out" 2>&1
cat "$out"; add "$out"
echo "$tp passed, $tf failed"
[ "$tf" = 0 ]
