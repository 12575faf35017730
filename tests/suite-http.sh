#!/bin/sh
# suite-http.sh -- the HTTP door of shardkv-server (issue 13), run by tests/run-all.sh.
#
#   1. tests/http/test_rest.py: REST keys, listing, batch, namespaces, errors, auth,
#      limits, slowloris, 10k idle connections, pipelining (curl + raw sockets);
#   2. tests/http/test_feed.py: the websocket and SSE feed, slow consumers,
#      /metrics through prometheus_client's parser, /healthz;
#   3. both again against build/asan/shardkv-server (ASan + UBSan);
#   4. tests/http/test_page.py: the status page in headless Chromium (screenshot
#      and DOM dump in build/test-logs/http-page.*);
#   5. the request-path fuzzer: corpus replay, then a short run (FUZZ_HTTP_SECONDS,
#      default 10).
# Ports 6397-6398 only (HTTP_TEST_RESP_PORT, HTTP_TEST_PORT); every process by PID.
# Ends with "N passed, M failed" and exits non-zero if anything failed.
set -u
cd "$(dirname "$0")/.."
PY=/usr/bin/python3   # Debian's python3, which has python3-redis/-websocket/-prometheus-client
passed=0; failed=0

run_py() { # run_py <label> <script> [env...]: add its "N passed, M failed"
	label=$1; script=$2; shift 2
	out=$(mktemp)
	env "$@" $PY "$script" 2>&1 | sed "s/^/[$label] /" | tee "$out"
	line=$(sed "s/^\[$label\] //" "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -n 1)
	if [ -n "$line" ]; then
		passed=$((passed + $(echo "$line" | cut -d' ' -f1)))
		failed=$((failed + $(echo "$line" | cut -d' ' -f3)))
	else
		echo "$label: $script ended without a summary"; failed=$((failed + 1))
	fi
	rm -f "$out"
}

for bin in build/shardkv-server build/asan/shardkv-server; do
	[ -x "$bin" ] || { echo "missing $bin (run make all \$(TEST_DEPS))"; failed=$((failed + 1)); }
done

run_py rest tests/http/test_rest.py SHARDKV_SERVER=build/shardkv-server
run_py feed tests/http/test_feed.py SHARDKV_SERVER=build/shardkv-server
run_py asan-rest tests/http/test_rest.py SHARDKV_SERVER=build/asan/shardkv-server
run_py asan-feed tests/http/test_feed.py SHARDKV_SERVER=build/asan/shardkv-server
run_py page tests/http/test_page.py SHARDKV_SERVER=build/shardkv-server

fuzz=build/fuzz/fuzz_http
if [ -x "$fuzz" ]; then
	work=$(mktemp -d)
	if $fuzz -runs=0 tests/fuzz/corpus/http >"$work/replay.log" 2>&1; then
		echo "ok   fuzz_http: corpus replay ($(ls tests/fuzz/corpus/http | wc -l) inputs)"; passed=$((passed + 1))
	else
		echo "FAIL fuzz_http: corpus replay"; tail -n 30 "$work/replay.log"; failed=$((failed + 1))
	fi
	mkdir -p "$work/corpus" && cp tests/fuzz/corpus/http/* "$work/corpus/"
	if $fuzz -max_total_time="${FUZZ_HTTP_SECONDS:-10}" -max_len=8192 -artifact_prefix="$work/" \
		"$work/corpus" >"$work/run.log" 2>&1; then
		echo "ok   fuzz_http: ${FUZZ_HTTP_SECONDS:-10} s run ($(grep -o 'Done [0-9]* runs' "$work/run.log"))"
		passed=$((passed + 1))
	else
		echo "FAIL fuzz_http: crash; artifacts kept in $work"; tail -n 40 "$work/run.log"; failed=$((failed + 1))
		work=""
	fi
	[ -n "$work" ] && rm -rf "$work"
else
	echo "FAIL missing $fuzz"; failed=$((failed + 1))
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
