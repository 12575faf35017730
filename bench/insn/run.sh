#!/bin/sh
# Instructions per op (callgrind Ir, exact and repeatable on a busy machine):
# one callgrind run per counted loop of build/bench-insn (bench/insn/insn.c).
set -eu
bin=${1:-build/bench-insn}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
ops=200000
ir() { # total Ir inside function $1
	valgrind --tool=callgrind --callgrind-out-file="$out/$1" --collect-atstart=no \
		--toggle-collect="$1" "$bin" >/dev/null 2>&1
	callgrind_annotate "$out/$1" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1; exit }'
}
kg=$(ir insn_keygen)
printf '%-22s %10s\n' loop 'Ir/op'
for f in insn_eng_get insn_ref_get insn_eng_miss insn_eng_set insn_ref_set insn_eng_set_resize insn_ref_set_resize insn_eng_mset_aon insn_eng_mset_be insn_eng_mget_aon insn_eng_mget_be insn_ref_mget insn_eng_insert insn_ref_insert; do
	n=$(ir $f)
	case $f in *miss|*insert) n=$((n - kg)) ;; esac
	printf '%-22s %10.1f\n' "$f" "$(echo "$n / $ops" | bc -l)"
done
