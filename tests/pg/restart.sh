# tests/pg/restart.sh -- snapshot life cycle of the main cluster; sourced by
# tests/suite-pg.sh (uses its ok/nok/check and tests/pg/cluster.sh).
# The durability contract: a crash loses what was written after the last
# snapshot; a clean shutdown saves; a start loads.

q() { pg_psql main -c "$1" 2>&1; }

# wait_sql SQL EXPECTED SECONDS: poll until SQL prints EXPECTED
wait_sql() {
	_i=0
	while [ "$_i" -lt $(($3 * 5)) ]; do
		[ "$(pg_psql main -c "$1" 2>/dev/null)" = "$2" ] && return 0
		sleep 0.2; _i=$((_i + 1))
	done
	return 1
}

SNAP="$PGT/main/pg_shardkv/shardkv.snap"

# 1. a clean shutdown saves, a start loads (every value type and the TTL)
pg_psql main -c "SELECT kv.create_namespace('persist', if_not_exists => true)" \
	-c "SELECT kv.set('persist', 'a', 'alpha')" \
	-c "SELECT kv.set('persist', 'b', '\\x00ff'::bytea)" \
	-c "SELECT kv.set('persist', 'j', '{\"x\": [1, 2]}'::jsonb)" \
	-c "SELECT kv.set('persist', 't', 'ttl', interval '1 hour')" \
	-c "SELECT kv.set('persist', 'gone', 'soon', interval '1 second')" \
	-c "SELECT kv.incr('persist', 'n', 42)" >/dev/null
pg_stop main fast
if [ -s "$SNAP" ]; then ok "clean shutdown writes $SNAP"; else nok "no snapshot after clean shutdown"; fi
sleep 1.2
if pg_start main; then ok "restart after clean shutdown"; else nok "restart after clean shutdown"; fi
check "start loads text" "alpha" "$(q "SELECT kv.get('persist', 'a')")"
check "start loads bytea" '\x00ff' "$(q "SELECT kv.get_bytea('persist', 'b')")"
check "start loads jsonb" '{"x": [1, 2]}' "$(q "SELECT kv.get_jsonb('persist', 'j')")"
check "start loads counters" "43" "$(q "SELECT kv.incr('persist', 'n')")"
check "TTL survives the restart" "t" \
	"$(q "SELECT kv.ttl('persist', 't') BETWEEN interval '55 min' AND interval '1 hour'")"
check "keys that expired while down stay gone" "f" "$(q "SELECT kv.exists('persist', 'gone')")"
grep -q "shardkv loaded snapshot" "$PGT/main.log" && ok "worker logs the load" || nok "no load message in log"

# 1b. the save at shutdown waits for a snapshot directory another save holds
# (the engine gives up after 200 ms with KV_EBUSY; the worker retries)
q "SELECT kv.set('persist', 'late_clean', 'kept')" >/dev/null
flock -x "$PGT/main/pg_shardkv" sleep 1.5 &
LOCKPID=$!
sleep 0.3
pg_stop main fast
wait "$LOCKPID"
pg_start main || nok "restart after the busy-directory shutdown"
check "the save at shutdown waits for a busy snapshot directory" "kept" \
	"$(q "SELECT kv.get('persist', 'late_clean')")"

# 2. a crash (immediate stop) loses what was written after the last snapshot
q "SELECT kv.save()" >/dev/null
q "SELECT kv.set('persist', 'late', 'lost')" >/dev/null
pg_stop main immediate
# what a save killed half-way leaves behind
# (and a file that only looks similar, which must stay)
$RUN sh -c "echo partial > '$SNAP.tmp-4243-0badcafe'; echo mine > '$SNAP.tmp-notasave'"
if pg_start main; then ok "restart after immediate stop"; else nok "restart after immediate stop"; fi
ready() { q "SELECT count(*) FROM kv.namespaces()" >/dev/null; }	# waits for the worker's start-up load
ready
if [ ! -e "$SNAP.tmp-4243-0badcafe" ] && [ -e "$SNAP.tmp-notasave" ]; then
	ok "the worker removes unfinished snapshot temp files at start"
else
	nok "unfinished snapshot temp file left behind"
fi
check "immediate stop: the last snapshot comes back" "alpha" "$(q "SELECT kv.get('persist', 'a')")"
check "immediate stop: writes after the last snapshot are lost" "t" \
	"$(q "SELECT kv.get('persist', 'late') IS NULL")"

# 3. the autosave worker
q "ALTER SYSTEM SET shardkv.autosave_interval = '1s'" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
sleep 0.5
saves0=$(q "SELECT autosaves FROM kv.stats()")
q "SELECT kv.set('persist', 'auto', 'saved by the worker')" >/dev/null
if wait_sql "SELECT autosaves > $saves0 AND dirty = 0 FROM kv.stats()" t 20; then
	ok "autosave worker saves after shardkv.autosave_interval"
else
	nok "autosave did not happen: $(q "SELECT * FROM kv.stats()")"
fi
pg_stop main immediate
pg_start main || nok "restart after autosave"
check "crash after autosave: the autosaved write comes back" "saved by the worker" \
	"$(q "SELECT kv.get('persist', 'auto')")"

# 4. crash restart by the postmaster itself (the worker is killed)
q "ALTER SYSTEM SET shardkv.autosave_interval = 0" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
q "SELECT kv.save()" >/dev/null
q "SELECT kv.set('persist', 'late2', 'lost')" >/dev/null
wpid=$(q "SELECT worker_pid FROM kv.stats()")
if [ -n "$wpid" ] && kill -9 "$wpid" 2>/dev/null; then
	sleep 1
	if wait_sql "SELECT worker_pid IS NOT NULL AND worker_pid <> $wpid FROM kv.stats()" t 30; then
		ok "postmaster crash restart re-creates the store and restarts the worker"
	else
		nok "no crash restart after killing the worker"
	fi
	check "crash restart: the last snapshot comes back" "alpha" "$(q "SELECT kv.get('persist', 'a')")"
	check "crash restart: writes after the last snapshot are lost" "t" \
		"$(q "SELECT kv.get('persist', 'late2') IS NULL")"
else
	nok "could not find the worker's pid ($wpid)"
fi

# 5. a corrupt snapshot is refused at start; the store starts empty, the file stays
pg_stop main fast
size=$(wc -c <"$SNAP")
$RUN dd if="$SNAP" of="$SNAP.cut" bs=1 count=$((size / 2)) 2>/dev/null
$RUN mv "$SNAP.cut" "$SNAP"
q_ok=1
pg_start main || q_ok=0
check "server starts with a corrupt snapshot" 1 "$q_ok"
ready
grep -q "shardkv could not load snapshot" "$PGT/main.log" && ok "corrupt snapshot is reported in the log" \
	|| nok "no error logged for a corrupt snapshot"
check "corrupt snapshot: nothing loaded" "0" "$(q "SELECT count(*) FROM kv.namespaces() WHERE name = 'persist'")"
if ls "$SNAP".bad-* >/dev/null 2>&1; then ok "corrupt snapshot is moved aside, not overwritten"
else nok "corrupt snapshot was not kept"; fi

# 6. a valid snapshot that no longer fits (shardkv.memory lowered) is kept
#    aside, not overwritten by the next save, and loads once it fits again
q "SELECT kv.create_namespace('big')" >/dev/null
q "SELECT count(kv.set('big', 'k' || i, repeat('x', 1000000))) FROM generate_series(1, 30) i" >/dev/null
pg_stop main fast
$RUN sh -c "echo 'shardkv.memory = 16MB' >> '$PGT/main/postgresql.conf'"
pg_start main || nok "start with less memory"
ready
aside=$(ls "$SNAP".unloaded-* 2>/dev/null | head -n 1)
if [ -n "$aside" ] && grep -q "kv.load(file => 'shardkv.snap.unloaded-" "$PGT/main.log"; then
	ok "a snapshot too big for shardkv.memory is moved aside with a hint"
else
	nok "no .unloaded file or hint after a load that did not fit"
fi
check "too big: nothing loaded" "0" "$(q "SELECT count(*) FROM kv.namespaces() WHERE name = 'big'")"
pg_stop main fast
$RUN sed -i '$d' "$PGT/main/postgresql.conf"
pg_start main || nok "start with the memory back"
q "SELECT kv.load(file => '$(basename "$aside")')" >/dev/null
check "the moved-aside snapshot loads once it fits" "30" \
	"$(q "SELECT keys FROM kv.namespaces() WHERE name = 'big'")"
q "SELECT kv.drop_namespace('big')" >/dev/null
