# tests/pg/files.sh -- hostile files in shardkv.snapshot_dir (issue 10); sourced
# by tests/suite-pg.sh after restart.sh (uses its q, ready, ok/nok/check and
# the main cluster).  Each case must fail fast with a clear SQLSTATE and leave
# everything outside the directory untouched.

D="$PGT/main/pg_shardkv"
OUT="$PGT/outside"
$RUN mkdir -p "$D" "$OUT"
# sqlstate SQL [SECONDS]: "<SQLSTATE> <message>", "ok", or "hang" after SECONDS (10)
sqlstate() {
	timeout "${2:-10}" $RUN "$PGBIN/psql" -X -q -A -t -h "$PGT" -p 55430 -U postgres -d postgres \
		-v VERBOSITY=verbose -c "$1" >"$PGT/sqlstate.out" 2>&1
	case $? in
	0) echo ok ;;
	124) echo hang ;;
	*) sed -n 's/^ERROR: *\([0-9A-Z]\{5\}\): \(.*\)/\1 \2/p' "$PGT/sqlstate.out" | head -n 1 ;;
	esac
}
q "SELECT kv.create_namespace('files', if_not_exists => true)" >/dev/null
q "SELECT kv.set('files', 'k', 'v')" >/dev/null

# a FIFO: refused at once, never waited on (it used to block in open())
$RUN mkfifo "$D/fifo.snap"
out=$(sqlstate "SELECT kv.load(NULL, 'fifo.snap')")
case "$out" in
42809*) ok "kv.load of a FIFO is refused at once ($out)" ;;
*) nok "kv.load of a FIFO: $out" ;;
esac
check "the backend serves after the FIFO" v "$(q "SELECT kv.get('files', 'k')")"

# a symlink to /etc/passwd is not followed
$RUN ln -s /etc/passwd "$D/passwd.snap"
out=$(sqlstate "SELECT kv.load(NULL, 'passwd.snap')")
case "$out" in
42809*) ok "kv.load does not follow a symlink out of the directory ($out)" ;;
*) nok "kv.load through a symlink to /etc/passwd: $out" ;;
esac

# a symlinked subdirectory is not written through
$RUN ln -s "$OUT" "$D/sub"
out=$(sqlstate "SELECT kv.save('files', 'sub/files.snap')")
case "$out" in
42501*) ok "kv.save does not write through a symlinked subdirectory ($out)" ;;
*) nok "kv.save through a symlinked directory: $out" ;;
esac
check "nothing was written outside" "" "$(ls "$OUT")"

# a link planted at the file's name redirects nothing (temp names are random
# and created O_EXCL | O_NOFOLLOW: the engine's tests plant links at them).
# A one-namespace save would keep the file's other namespaces, so it refuses to
# read through the link; a full save replaces the link with the snapshot.
$RUN ln -s "$OUT/victim" "$D/planted.snap"
out=$(sqlstate "SELECT kv.save('files', 'planted.snap')")
case "$out" in
42809*) ok "a one-namespace save refuses to merge through a planted link ($out)" ;;
*) nok "one-namespace save over a planted link: $out" ;;
esac
check "a full save over a planted link saves" ok "$(sqlstate "SELECT kv.save(NULL, 'planted.snap')")"
if [ -f "$D/planted.snap" ] && [ ! -L "$D/planted.snap" ]; then
	ok "the planted link is replaced by the snapshot"
else
	nok "planted.snap is not a regular file"
fi
check "no file created through the planted link" "" "$(ls "$OUT")"

# saving one namespace into the start-up file keeps the others across a restart
q "SELECT kv.create_namespace('keep_a', if_not_exists => true)" >/dev/null
q "SELECT kv.create_namespace('keep_b', if_not_exists => true)" >/dev/null
q "SELECT kv.set('keep_a', 'a', '1'), kv.set('keep_b', 'b', '2')" >/dev/null
q "SELECT kv.save()" >/dev/null
q "SELECT kv.set('keep_b', 'b', '3')" >/dev/null
check "kv.save of one namespace into the start-up file" ok "$(sqlstate "SELECT kv.save('keep_b', 'shardkv.snap')")"
pg_stop main immediate
pg_start main || nok "restart after the one-namespace save"
ready
check "after the restart every namespace is back" "1|3|v" \
	"$(q "SELECT kv.get('keep_a', 'a'), kv.get('keep_b', 'b'), kv.get('files', 'k')")"

$RUN rm -rf "$D/fifo.snap" "$D/passwd.snap" "$D/sub" "$D"/planted* "$OUT"
q "SELECT kv.drop_namespace(n) FROM unnest(ARRAY['files', 'keep_a', 'keep_b']) n" >/dev/null
