#!/bin/sh
# tests/crash/pg-full-disk.sh -- snapshots on a full disk and failing I/O (issue 9).
#
# shardkv.snapshot_dir is a 2 MB tmpfs (mounted here, as root; unmounted at
# the end).  A save that does not fit:
#   - fails with a clear error: SQLSTATE 53100 (disk_full);
#   - leaves the previous snapshot as it was (same bytes, no temp file), and
#     kv.load and a restart still read it;
#   - does not stop the backend, nor the autosave worker, which logs and retries.
# Then, with the engine's fault seam (SHARDKV_FAULT_IO in the postmaster's
# environment), a failing fsync and a failing rename do the same.
# Port 55434.  Ends with "N passed, M failed".
set -u
cd "$(dirname "$0")/../.."
. tests/pg/cluster.sh
. tests/pg/crash-lib.sh

TINY=""
cleanup() {
	for _n in $PG_CLUSTERS; do pg_stop "$_n" immediate; done
	[ -n "$TINY" ] && umount "$TINY" 2>/dev/null
	pg_cleanup
}
trap 'cleanup' EXIT
trap 'exit 1' INT TERM HUP

if [ "$(id -u)" != 0 ]; then
	echo "# skipped: mounting a tmpfs needs root"
	finish
fi
crash_install
pg_setup
TINY="$PGT/tiny"
mkdir "$TINY"
if ! mount -t tmpfs -o size=2m tmpfs "$TINY"; then
	TINY=""
	nok "mount -t tmpfs -o size=2m"
	finish
fi
chown postgres: "$TINY"
pg_init c 55434 "shared_preload_libraries = 'shardkv'" "shardkv.memory = 64MB" \
	"shardkv.snapshot_dir = '$TINY'" "shardkv.autosave_interval = 0" \
	"shardkv.tick_interval = 50ms" || { nok "initdb"; finish; }
pg_start c || { nok "cluster start"; finish; }
q c "CREATE EXTENSION shardkv" >/dev/null
q c "CREATE FUNCTION sqlstate_of(q text) RETURNS text LANGUAGE plpgsql AS \$\$
BEGIN EXECUTE q; RETURN 'ok'; EXCEPTION WHEN OTHERS THEN RETURN SQLSTATE || ' ' || SQLERRM; END \$\$" >/dev/null
SNAP="$TINY/shardkv.snap"
sum() { md5sum "$1" 2>/dev/null | cut -d' ' -f1; }

q c "SELECT kv.create_namespace('fd')" >/dev/null
q c "SELECT count(kv.set('fd', 'small' || i, 'v' || i)) FROM generate_series(1, 100) i" >/dev/null
check "a save that fits" ok "$(q c "SELECT sqlstate_of('SELECT kv.save()')")"
before=$(sum "$SNAP")
[ -n "$before" ] || nok "no snapshot written"

# 3 MB that cannot be compressed away
q c "SELECT count(kv.set('fd', 'big' || i, (SELECT string_agg(md5(random()::text), '') FROM generate_series(1, 320))))
	FROM generate_series(1, 300) i" >/dev/null
out=$(q c "SELECT sqlstate_of('SELECT kv.save()')")
case "$out" in
"53100 "*) ok "a save that does not fit fails with 53100 ($out)" ;;
*) nok "save on a full disk: $out" ;;
esac
check "the previous snapshot keeps its bytes" "$before" "$(sum "$SNAP")"
check "no temp file is left behind" "shardkv.snap" "$(ls "$TINY")"
check "the backend still serves" "v7|x" \
	"$(q c "SELECT kv.set('fd', 'after', 'x')" >/dev/null; q c "SELECT kv.get('fd', 'small7'), kv.get('fd', 'after')")"
check "the previous snapshot loads" 100 \
	"$(q c "SELECT kv.load('fd', 'shardkv.snap', 'fd_copy')" >/dev/null; q c "SELECT count(*) FROM kv.keys('fd_copy')")"

# the autosave worker fails the same way, logs it, and keeps going
q c "ALTER SYSTEM SET shardkv.autosave_interval = 1" >/dev/null
q c "SELECT pg_reload_conf()" >/dev/null
i=0
until grep -q "shardkv could not save snapshot" "$PGT/c.log" || [ "$i" -ge 50 ]; do sleep 0.1; i=$((i + 1)); done
if grep -q "shardkv could not save snapshot.*No space left on device" "$PGT/c.log"; then
	ok "the autosave worker logs the full disk"
else
	nok "no autosave failure in the log: $(grep shardkv "$PGT/c.log" | tail -n 3)"
fi
wpid=$(q c "SELECT worker_pid FROM kv.stats()")
sleep 1.5
check "the worker keeps running" "$wpid" "$(q c "SELECT worker_pid FROM kv.stats()")"
check "the snapshot is still the old one" "$before" "$(sum "$SNAP")"
q c "ALTER SYSTEM SET shardkv.autosave_interval = 0" >/dev/null
q c "SELECT pg_reload_conf()" >/dev/null

# a crash now brings back the old snapshot
pg_stop c immediate
pg_start c || nok "restart after the full disk"
check "a restart loads the previous snapshot" "100|0" \
	"$(q c "SELECT count(*) FILTER (WHERE key LIKE 'small%'), count(*) FILTER (WHERE key LIKE 'big%') FROM kv.keys('fd') AS k(key)")"

# once there is room again, saving works
q c "SELECT count(kv.set('fd', 'big' || i, 'y')) FROM generate_series(1, 3) i" >/dev/null
check "a save succeeds once it fits" ok "$(q c "SELECT sqlstate_of('SELECT kv.save()')")"

# failing fsync and rename through the engine's fault seam
for fault in fsync=EIO rename=EIO write=ENOSPC@2; do
	pg_stop c fast
	before=$(sum "$SNAP")
	PGCTL_ENV="SHARDKV_FAULT_IO=$fault"
	$RUN env "$PGCTL_ENV" "$PGBIN/pg_ctl" -D "$PGT/c" -l "$PGT/c.log" -w -t 60 start >/dev/null ||
		{ nok "start with $PGCTL_ENV"; continue; }
	q c "SELECT kv.set('fd', 'fault', '$fault')" >/dev/null
	out=$(q c "SELECT sqlstate_of('SELECT kv.save()')")
	case "$out" in
	58030*|53100*) ok "$fault: the save fails clearly ($out)" ;;
	*) nok "$fault: $out" ;;
	esac
	check "$fault: the previous snapshot keeps its bytes" "$before" "$(sum "$SNAP")"
	check "$fault: no temp file is left behind" "shardkv.snap" "$(ls "$TINY" | grep -v '^fd_')"
	check "$fault: the backend still serves" "$fault" "$(q c "SELECT kv.get('fd', 'fault')")"
	pg_stop c immediate
	pg_start c || nok "restart after $fault"
	check "$fault: a restart loads the previous snapshot" 100 \
		"$(q c "SELECT count(*) FROM kv.keys('fd', 'small*')")"
done

pg_stop c
finish
