#!/bin/sh
# run.sh DIR NAME...
# Run the test binaries DIR/NAME, each to its own log, and add up the
# "N passed, M failed" lines they print.  A binary that is missing, ends
# without its summary line (even with status 0), or exits non-zero without
# failures of its own counts as one failure.  Prints one final
# "N passed, M failed".
set -u
dir=$1; shift
tp=0; tf=0
for name in "$@"; do
	bin=$dir/$name
	log=$dir/$name.log
	if [ ! -x "$bin" ]; then
		echo "FAIL $name: binary $bin was not built"
		tf=$((tf + 1)); continue
	fi
	start=$(date +%s)
	"$bin" >"$log" 2>&1
	rc=$?
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
	if [ -n "$line" ]; then
		p=$(echo "$line" | cut -d' ' -f1); f=$(echo "$line" | cut -d' ' -f3)
	else
		p=0; f=1
		echo "FAIL $name: exited with status $rc without its \"N passed, M failed\" line"
	fi
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
		f=1
		echo "FAIL $name: exited with status $rc without reporting a failed test (crash or sanitizer report?)"
	fi
	tp=$((tp + p)); tf=$((tf + f))
	echo "== $name: $p passed, $f failed ($(( $(date +%s) - start ))s)"
	if [ "$f" != 0 ]; then
		grep -E '^(FAIL|seed)' "$log" | sed 's/^/   /'
		echo "   ---- $log (last 60 lines) ----"
		tail -n 60 "$log" | sed 's/^/   /'
	fi
done
echo "$tp passed, $tf failed"
[ "$tf" = 0 ]
