#!/bin/sh
# tests/crash/sqlite-full-disk.sh -- a kv table's snapshot= file on a full disk.
#
# A 2 MB tmpfs (mounted here as root, unmounted at the end) holds c.kvs.  A
# small commit saves; a 3 MB commit cannot.  Checked:
#   - that commit fails with SQLITE_IOERR and a message naming the file and
#     "No space left on device";
#   - the rows stay in memory and the connection keeps working;
#   - c.kvs is byte for byte the file of the last good save, and loads in
#     another process; no temp file is left on the full disk;
#   - after the big rows are deleted, the next commit saves again.
# Then the same with injected faults (SHARDKV_FAULT_IO) when the engine has
# them: failing fsync and rename leave the old file, loadable.
#
# Quick and full modes are the same (it takes about a second).
set -u
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
EXT=$ROOT/build/shardkv
SQLITE3=${SQLITE3:-sqlite3}
pass=0; fail=0; MNT=
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sqlite-full-disk.XXXXXX")
cleanup() {
	[ -n "$MNT" ] && umount "$MNT" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ok()  { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
check() { # name, got, want
	if [ "$2" = "$3" ]; then ok "$1"; else bad "$1 (got '$2', want '$3')"; fi
}
finish() { echo "$pass passed, $fail failed"; [ "$fail" = 0 ]; exit $?; }

if [ ! -f "$EXT.so" ] || ! command -v "$SQLITE3" >/dev/null 2>&1; then
	bad "sqlite full-disk: build/shardkv.so or the sqlite3 shell is missing"
	finish
fi

# ------------------------------------------------------------ full tmpfs
mkdir -p "$WORK/disk"
if [ "$(id -u)" != 0 ] || ! mount -t tmpfs -o size=2m tmpfs "$WORK/disk" 2>"$WORK/mount.err"; then
	bad "sqlite full-disk: cannot mount a tmpfs (needs root): $(cat "$WORK/mount.err" 2>/dev/null)"
	finish
fi
MNT=$WORK/disk
cd "$WORK"
"$SQLITE3" app.db >out.txt 2>&1 <<EOF
.load $EXT
CREATE VIRTUAL TABLE c USING kv(snapshot='disk/c.kvs');
INSERT INTO c VALUES ('small', 1);
.shell cp disk/c.kvs good.kvs
.bail off
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000)
INSERT INTO c SELECT 'big:' || i, randomblob(1000) FROM n;
SELECT 'rows in memory: ' || count(*) FROM c;
SELECT 'small: ' || kv_get('c', 'small');
.shell ls disk | grep -c tmp- | sed 's/^/temp files: /'
.shell cmp -s disk/c.kvs good.kvs && echo 'file unchanged'
.shell $SQLITE3 :memory: -cmd '.load $EXT' "SELECT 'other process loads: ' || kv_load('c', 'disk/c.kvs') || ' ' || (SELECT count(*) FROM kv_scan('c'));"
DELETE FROM c WHERE key GLOB 'big:*';
.shell $SQLITE3 :memory: -cmd '.load $EXT' "SELECT 'after the delete: ' || kv_load('c', 'disk/c.kvs') || ' ' || (SELECT count(*) FROM kv_scan('c'));"
EOF
err=$(grep -m1 'Runtime error' out.txt)
echo "# $err"
case $err in
	*'changes were applied but snapshot "disk/c.kvs" was not saved'*'No space left on device'*'(10)')
		ok "the commit fails with SQLITE_IOERR naming the file and the full disk" ;;
	*) bad "commit on a full disk: unexpected error: '$err'" ;;
esac
check "the rows stay in memory" "$(grep '^rows in memory' out.txt)" "rows in memory: 3001"
check "the connection keeps working" "$(grep '^small: ' out.txt)" "small: 1"
check "no temp file left on the full disk" "$(grep '^temp files' out.txt)" "temp files: 0"
check "c.kvs is the last good save, byte for byte" "$(grep '^file unchanged' out.txt)" "file unchanged"
check "another process loads the old file" "$(grep '^other process loads' out.txt)" "other process loads: 1 1"
check "the next commit that fits saves again" "$(grep '^after the delete' out.txt)" "after the delete: 1 1"
umount "$MNT" && MNT=

# ------------------------------------------- injected fsync/rename failures
if ! grep -q SHARDKV_FAULT_IO "$ROOT/engine/kv.h"; then
	echo "# SHARDKV_FAULT_IO not in this engine: fsync/rename faults not tested"
	finish
fi
for fault in fsync=EIO rename=ENOSPC write=ENOSPC@2; do
	rm -f f.kvs good.kvs f.db
	"$SQLITE3" f.db >/dev/null 2>&1 <<EOF
.load $EXT
CREATE VIRTUAL TABLE c USING kv(snapshot='f.kvs');
INSERT INTO c VALUES ('old', 1);
EOF
	cp f.kvs good.kvs
	out=$(SHARDKV_FAULT_IO=$fault "$SQLITE3" f.db 2>&1 <<EOF
.load $EXT
INSERT INTO c VALUES ('new', 2);
SELECT 'rows: ' || count(*) FROM c;
EOF
)
	case $out in
		*'was not saved'*'injected by SHARDKV_FAULT_IO'*'rows: 2'*) ok "$fault: the commit fails clearly, the rows stay" ;;
		*) bad "$fault: unexpected output: $(echo "$out" | head -n 3)" ;;
	esac
	if cmp -s f.kvs good.kvs; then ok "$fault: the old file is intact"; else bad "$fault: the old file changed"; fi
	check "$fault: no temp file left" "$(ls | grep -c 'f\.kvs\.tmp-')" "0"
	check "$fault: the old file loads" \
		"$("$SQLITE3" :memory: -cmd ".load $EXT" "SELECT kv_load('c', 'f.kvs') || ' ' || (SELECT group_concat(key) FROM kv_scan('c'));" 2>&1)" "1 old"
done
finish
