# tests/sqlite/crosshost.sh -- sourced by tests/suite-sqlite.sh when
# build/shardkv-server exists: a snapshot written by the SQLite extension loads
# in the server, and one written by the server loads in SQLite.  Uses port 6390
# only; the server is started and stopped by PID (the suite's cleanup also kills
# whatever is left in $PIDS).
#
# Server databases 0..15 are the engine namespaces "0".."15", so SQLite writes
# to namespace "0" and reads what redis-cli wrote to db 0.

XH=$WORK/crosshost
XPORT=6390
mkdir -p "$XH"

xh_sqlite() { # run SQL (stdin) in a fresh sqlite3 process with the extension
	{ echo ".bail on"; echo ".load $EXT"; cat; } | (cd "$XH" && "$SQLITE3" :memory:) 2>&1
}

xh_start() { # start the server on $XPORT loading $XH/dump.skv; wait until it answers
	build/shardkv-server --port "$XPORT" --dir "$XH" --dbfilename dump.skv --save "" \
		--threads 2 --engine-memory 256mb >"$XH/server.log" 2>&1 &
	XPID=$!
	PIDS="$PIDS $XPID"
	for _ in $(seq 1 100); do
		[ "$(redis-cli -p "$XPORT" PING 2>/dev/null)" = PONG ] && return 0
		kill -0 "$XPID" 2>/dev/null || break
		sleep 0.05
	done
	return 1
}

xh_stop() { # SIGTERM (the server saves on it), then wait for that PID
	kill -TERM "$XPID" 2>/dev/null
	wait "$XPID" 2>/dev/null
	XSTATUS=$?
	PIDS=$(echo "$PIDS" | sed "s/ $XPID//")
}

xh_check() { # name, got, want
	if [ "$2" = "$3" ]; then ok "cross-host: $1"; else bad "cross-host: $1 (got '$2', want '$3')"; fi
}

if ! command -v redis-cli >/dev/null 2>&1; then
	bad "cross-host: redis-cli not installed (Debian package redis-tools)"
elif redis-cli -p "$XPORT" PING >/dev/null 2>&1; then
	bad "cross-host: port $XPORT is already in use"
else
	# --- SQLite writes, the server loads
	out=$(xh_sqlite <<'EOF'
SELECT kv_set('0', 's2r:text', 'hello') + kv_set('0', 's2r:int', 42) + kv_set('0', 's2r:ttl', 'soon', 1000);
CREATE VIRTUAL TABLE c USING kv(namespace='0');
INSERT INTO c VALUES ('s2r:row', x'00ff'), ('', 'empty-from-sqlite');
SELECT kv_save(NULL, 'dump.skv');
EOF
)
	xh_check "sqlite saves a snapshot" "$out" "$(printf '3\n1')"
	if xh_start; then
		xh_check "server GET of a text value written by sqlite" "$(redis-cli -p $XPORT GET s2r:text)" "hello"
		xh_check "server INCR of an integer written by sqlite" "$(redis-cli -p $XPORT INCR s2r:int)" "43"
		ttl=$(redis-cli -p $XPORT TTL s2r:ttl)
		xh_check "server sees the expiry set in sqlite" "$([ "$ttl" -ge 990 ] && [ "$ttl" -le 1000 ] && echo yes)" "yes"
		xh_check "server reads the binary row inserted through the kv table" \
			"$(redis-cli -p $XPORT --no-raw GET s2r:row)" '"\x00\xff"'
		xh_check "server GET of the empty key written by sqlite" "$(redis-cli -p $XPORT GET '')" "empty-from-sqlite"
		redis-cli -p $XPORT SET '' empty-from-server >/dev/null
		# --- the server writes, SQLite loads
		redis-cli -p $XPORT SET r2s:str world >/dev/null
		redis-cli -p $XPORT SET r2s:n 7 >/dev/null
		redis-cli -p $XPORT INCRBY r2s:n 2 >/dev/null
		redis-cli -p $XPORT EXPIRE r2s:str 500 >/dev/null
		redis-cli -p $XPORT -n 1 SET r2s:db1 other-db >/dev/null
		xh_check "server SAVE" "$(redis-cli -p $XPORT SAVE)" "OK"
		xh_stop
		xh_check "server exits cleanly on SIGTERM" "$XSTATUS" "0"
		out=$(xh_sqlite <<'EOF'
SELECT kv_load(NULL, 'dump.skv');
SELECT CAST(kv_get('0', 'r2s:str') AS TEXT), kv_get('0', 'r2s:n'), typeof(kv_get('0', 'r2s:n'));
SELECT kv_ttl('0', 'r2s:str') BETWEEN 490 AND 500, kv_get('0', 's2r:int');
CREATE VIRTUAL TABLE c USING kv(namespace='0');
SELECT count(*) FROM c WHERE key GLOB 'r2s:*';
SELECT CAST(value AS TEXT) FROM c WHERE key = '';
EOF
)
		xh_check "sqlite loads the server's snapshot (the empty key too)" "$out" \
			"$(printf '1\nworld|9|integer\n1|43\n2\nempty-from-server')"
		# --- a snapshot= table on the server's file keeps the server's other databases
		out=$(xh_sqlite <<'EOF'
CREATE VIRTUAL TABLE c USING kv(namespace='0', snapshot='dump.skv');
SELECT count(*) FROM c WHERE key GLOB 'r2s:*';
INSERT INTO c VALUES ('s2r:committed', 'by-table');
EOF
)
		xh_check "a snapshot= table loads its namespace from the server's file" "$out" "2"
		if xh_start; then
			xh_check "the server still has db 1 after the table's commit saved db 0" \
				"$(redis-cli -p $XPORT -n 1 GET r2s:db1)" "other-db"
			xh_check "the server sees the row the table committed" \
				"$(redis-cli -p $XPORT GET s2r:committed)" "by-table"
			xh_stop
		else
			bad "cross-host: shardkv-server did not restart on port $XPORT"
		fi
	else
		bad "cross-host: shardkv-server did not start on port $XPORT"
		sed 's/^/    /' "$XH/server.log" | tail -n 20
		xh_stop
	fi
fi
