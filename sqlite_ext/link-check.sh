#!/bin/sh
# link-check.sh OUT LIB OBJ... -- LINK-COMMAND...
# Run the link command only if LIB defines every kv_* symbol that the objects
# call.  Otherwise write OUT.missing with the missing names, remove OUT and
# succeed, so the rest of the build goes on while the engine lands; the sqlite
# suite then reports the missing binary as a failure.
set -eu
out=$1; lib=$2; shift 2
objs=""
while [ "$1" != "--" ]; do objs="$objs $1"; shift; done
shift
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck disable=SC2086
nm -u $objs 2>/dev/null | awk '$1 == "U" && $2 ~ /^kv_/ {print $2}' | sort -u >"$tmp/need"
nm --defined-only $objs 2>/dev/null | awk 'NF == 3 {print $3}' | sort -u >"$tmp/own"
if [ -f "$lib" ]; then
	nm --defined-only "$lib" 2>/dev/null | awk 'NF == 3 && $3 ~ /^kv_/ && $2 ~ /^[TDBR]$/ {print $3}' | sort -u >"$tmp/have"
else
	: >"$tmp/have"
fi
comm -23 "$tmp/need" "$tmp/have" | comm -23 - "$tmp/own" >"$tmp/missing"
rm -f "$out" "$out.missing"
if [ -s "$tmp/missing" ]; then
	cp "$tmp/missing" "$out.missing"
	echo "link-check: $(basename "$out") not built: engine lacks $(tr '\n' ' ' <"$tmp/missing")" >&2
	exit 0
fi
"$@"
