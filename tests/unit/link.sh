#!/bin/sh
# link.sh OUT LIB OBJ -- LINK-COMMAND...
# Link a test binary against the engine library, unless the library does not yet
# define every kv_* symbol the test calls.  In that case write OUT.missing with
# the missing names, remove OUT and succeed, so that `make test` still builds the
# rest while the engine lands; the suite then reports the test as failed with a
# "not yet implemented in engine" line.  Any other link error fails the build.
set -eu
out=$1; lib=$2; obj=$3; shift 3
[ "$1" = "--" ] && shift
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
nm -u "$obj" | awk '$2 ~ /^kv_/ {print $2}' | sort -u >"$tmp/need"
if [ -f "$lib" ]; then
	nm --defined-only "$lib" 2>/dev/null | awk 'NF == 3 && $3 ~ /^kv_/ && $2 ~ /^[TDBR]$/ {print $3}' | sort -u >"$tmp/have"
else
	: >"$tmp/have"
fi
comm -23 "$tmp/need" "$tmp/have" >"$tmp/missing"
rm -f "$out" "$out.missing"
if [ -s "$tmp/missing" ]; then
	cp "$tmp/missing" "$out.missing"
	echo "link.sh: $(basename "$out") not built: engine lacks $(tr '\n' ' ' <"$tmp/missing")" >&2
	exit 0
fi
"$@"
