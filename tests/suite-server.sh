#!/bin/sh
# suite-server.sh -- shardkv-server tests (issue 5), run by tests/run-all.sh.
#
#   1. tests/server/test_server.py against build/shardkv-server, Debian's
#      redis-server beside it for exact error texts, and build/asan/shardkv-server
#      for a sanitizer pass (ports 6380-6389; every process by PID), then
#      tests/server/test_harden.py: hostile and heavy requests (ports 6380-6386,
#      after test_server.py has freed them),
#      then test_aof.py (append-only file; 6397-6398) and the other issue-14 files,
#      then test_hash_set.py and test_aof_coll.py (issue 12; 6384-6387);
#      then issue 12's test_zset_list.py and test_blocking.py (6388-6391);
#      then test_batch.py: pipelined string writes as one engine batch (issue 15; 6390-6391);
#      then test_busy_poll.py: busy-poll-us and the default worker count (issue 15; 6392-6393);
#   2. the RESP parser fuzzer: corpus replay, then a short run (FUZZ_RESP_SECONDS,
#      default 10).
# Ends with "N passed, M failed" and exits non-zero if anything failed.
set -u
cd "$(dirname "$0")/.."
PY=/usr/bin/python3   # Debian's python3, which has python3-redis
passed=0; failed=0

for bin in build/shardkv-server build/asan/shardkv-server; do
	[ -x "$bin" ] || { echo "missing $bin (run make all \$(TEST_DEPS))"; failed=$((failed + 1)); }
done

# 1. the server through real clients
for t in tests/server/test_server.py tests/server/test_harden.py tests/server/test_aof.py tests/server/test_multi.py tests/server/test_tls.py tests/server/test_surface.py tests/server/test_bits.py tests/server/test_hash_set.py tests/server/test_aof_coll.py tests/server/test_zset_list.py tests/server/test_blocking.py tests/server/test_batch.py tests/server/test_busy_poll.py; do
	out=$(mktemp)
	$PY "$t" 2>&1 | tee "$out"
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1)
	if [ -n "$line" ]; then
		passed=$((passed + $(echo "$line" | cut -d' ' -f1)))
		failed=$((failed + $(echo "$line" | cut -d' ' -f3)))
	else
		echo "$t ended without a summary"; failed=$((failed + 1))
	fi
	rm -f "$out"
done

# 2. the RESP parser under libFuzzer
fuzz=build/fuzz/fuzz_resp
if [ -x "$fuzz" ]; then
	work=$(mktemp -d)
	if $fuzz -runs=0 tests/fuzz/corpus/resp >"$work/replay.log" 2>&1; then
		echo "ok   fuzz_resp: corpus replay ($(ls tests/fuzz/corpus/resp | wc -l) inputs)"; passed=$((passed + 1))
	else
		echo "FAIL fuzz_resp: corpus replay"; tail -n 30 "$work/replay.log"; failed=$((failed + 1))
	fi
	mkdir -p "$work/corpus" && cp tests/fuzz/corpus/resp/* "$work/corpus/"
	if $fuzz -max_total_time="${FUZZ_RESP_SECONDS:-10}" -max_len=4096 -artifact_prefix="$work/" \
		"$work/corpus" >"$work/run.log" 2>&1; then
		echo "ok   fuzz_resp: ${FUZZ_RESP_SECONDS:-10} s run ($(grep -o 'Done [0-9]* runs' "$work/run.log"))"
		passed=$((passed + 1))
	else
		echo "FAIL fuzz_resp: crash; artifacts kept in $work"; tail -n 40 "$work/run.log"; failed=$((failed + 1))
		work=""
	fi
	[ -n "$work" ] && rm -rf "$work"
else
	echo "FAIL missing $fuzz"; failed=$((failed + 1))
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
