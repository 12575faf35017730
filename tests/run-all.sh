#!/bin/sh
# Run every test suite (tests/suite-*.sh, in name order) and add up their counts.
# Each suite ends its output with a line "N passed, M failed"; a suite that exits
# non-zero without such a line counts as one failure.
set -u
cd "$(dirname "$0")/.."
total_p=0; total_f=0
mkdir -p build/test-logs
for s in tests/suite-*.sh; do
	name=$(basename "$s" .sh); name=${name#suite-}
	log=build/test-logs/$name.log
	start=$(date +%s)
	sh "$s" >"$log" 2>&1
	rc=$?
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
	if [ -n "$line" ]; then
		p=$(echo "$line" | cut -d' ' -f1); f=$(echo "$line" | cut -d' ' -f3)
		[ "$rc" != 0 ] && [ "$f" = 0 ] && f=1
	else
		p=0; f=1
	fi
	total_p=$((total_p + p)); total_f=$((total_f + f))
	printf '%-12s %5d passed %4d failed  (%ss)\n' "$name" "$p" "$f" "$(( $(date +%s) - start ))"
	if [ "$f" != 0 ]; then
		# the failing checks first: a suite's last lines are often its summary only
		echo "---- $log: failing checks ----"
		grep -n -E '^(\[[a-z0-9-]+\] )?(FAIL|not ok)|Traceback|AddressSanitizer|runtime error' "$log" | head -n 40
		echo "---- $log (last 40 lines) ----"; tail -n 40 "$log"; echo "----"
	fi
done
echo "$total_p passed, $total_f failed"
[ "$total_f" = 0 ]
