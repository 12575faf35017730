#!/bin/sh
# suite-install.sh -- `make install-lib` into a staging directory, then build and
# run a C program against the installed library the way a user would: through
# pkg-config, once statically and once against the shared library (whose soname
# must resolve).  Ends with "N passed, M failed".
set -u
cd "$(dirname "$0")/.."
passed=0; failed=0
ok()  { echo "ok   $1"; passed=$((passed + 1)); }
nok() { echo "FAIL $1"; failed=$((failed + 1)); }

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
prefix=/opt/shardkv-test
if make --no-print-directory install-lib DESTDIR="$stage" PREFIX="$prefix" >"$stage/install.log" 2>&1; then
	ok "make install-lib DESTDIR=... PREFIX=$prefix"
else
	cat "$stage/install.log"; nok "make install-lib"; echo "$passed passed, $failed failed"; exit 1
fi
root=$stage$prefix
for f in include/shardkv/kv.h lib/libshardkv.a lib/libshardkv.so lib/pkgconfig/shardkv.pc; do
	[ -e "$root/$f" ] && ok "installed $f" || nok "installed $f"
done
soname=$(readelf -d "$root/lib/libshardkv.so" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
[ -n "$soname" ] && [ -e "$root/lib/$soname" ] && ok "soname $soname resolves" || nok "soname '$soname' resolves"

cat >"$stage/prog.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <kv.h>
int main(void)
{
	kv_env *env; kv_ns *ns; kv_buf b = KV_BUF_INIT;
	if (kv_env_open(NULL, &env) || kv_ns_create(env, "t", NULL) || kv_ns_open(env, "t", &ns))
		return 1;
	if (kv_set(ns, "k", 1, "v", 1, KV_T_TEXT, KV_EXPIRE_NEVER, 0, NULL) || kv_get(ns, "k", 1, &b))
		return 2;
	printf("%s %.*s %d\n", kv_version(), (int)b.len, b.data, KV_VERSION_NUMBER);
	kv_buf_free(env, &b); kv_ns_close(ns); kv_env_close(env);
	return 0;
}
C
export PKG_CONFIG_PATH="$root/lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$stage"
if ! command -v pkg-config >/dev/null; then
	nok "pkg-config is installed (tests/debian-packages.txt)"
else
	want="$(sed -n 's/^#define KV_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\).*/\2/p' engine/kv.h | paste -sd.)"
	[ "$(pkg-config --modversion shardkv)" = "$want" ] && ok "pkg-config --modversion is $want" \
		|| nok "pkg-config --modversion ($(pkg-config --modversion shardkv) vs $want)"
	if cc -o "$stage/prog-static" "$stage/prog.c" $(pkg-config --cflags shardkv) \
		"$root/lib/libshardkv.a" $(pkg-config --static --libs-only-l shardkv | sed 's/-lshardkv//') 2>"$stage/cc.log" \
		&& "$stage/prog-static" | grep -q "^$want v "; then
		ok "static link through pkg-config runs"
	else
		cat "$stage/cc.log"; nok "static link through pkg-config runs"
	fi
	if cc -o "$stage/prog-shared" "$stage/prog.c" $(pkg-config --cflags --libs shardkv) 2>"$stage/cc.log" \
		&& LD_LIBRARY_PATH="$root/lib" "$stage/prog-shared" | grep -q "^$want v " \
		&& readelf -d "$stage/prog-shared" | grep -q "NEEDED.*\[$soname\]"; then
		ok "shared link through pkg-config runs and needs $soname"
	else
		cat "$stage/cc.log"; nok "shared link through pkg-config runs and needs $soname"
	fi
fi
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
