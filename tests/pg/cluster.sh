# tests/pg/cluster.sh -- start and stop throw-away PostgreSQL 15 clusters with
# shardkv preloaded.  Sourced (sh) by tests/suite-pg.sh and bench/pg/run.sh.
#
#   pg_setup                      work dir in $PGT (mktemp), $RUN runs as postgres
#   pg_init NAME PORT [CONF...]   initdb $PGT/NAME, append settings
#   pg_start NAME / pg_stop NAME [MODE]
#   pg_psql NAME PORT [psql args] psql on the cluster's Unix socket
#   pg_cleanup                    stop every cluster started here (by PID), rm $PGT
#
# initdb refuses root, so as root every server command runs as user postgres.

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PGLIBDIR=$("$PGBIN/pg_config" --pkglibdir 2>/dev/null || pg_config --pkglibdir)
PG_REGRESS="$PGLIBDIR/pgxs/src/test/regress/pg_regress"
PG_ISOLATION_REGRESS="$PGLIBDIR/pgxs/src/test/isolation/pg_isolation_regress"
PG_CLUSTERS=""

pg_setup() {
	PGT=$(mktemp -d /tmp/shardkv-pg.XXXXXX)
	if [ "$(id -u)" = 0 ]; then
		chown postgres: "$PGT"
		RUN="runuser -u postgres --"
	else
		RUN=""
	fi
	chmod 755 "$PGT"
}

# pg_init NAME PORT [extra postgresql.conf lines...]
pg_init() {
	_n=$1; _p=$2; shift 2
	$RUN "$PGBIN/initdb" -D "$PGT/$_n" -A trust -U postgres --no-sync -E UTF8 --locale=C \
		>"$PGT/$_n.initdb.log" 2>&1 || { cat "$PGT/$_n.initdb.log"; return 1; }
	{
		echo "port = $_p"
		echo "listen_addresses = ''"
		echo "unix_socket_directories = '$PGT'"
		echo "fsync = off"
		echo "max_connections = 40"
		echo "shared_buffers = 64MB"
		echo "log_min_messages = log"
		for _l in "$@"; do echo "$_l"; done
	} >>"$PGT/$_n/postgresql.conf"
	eval "PG_PORT_$_n=$_p"
}

pg_start() {
	$RUN "$PGBIN/pg_ctl" -D "$PGT/$1" -l "$PGT/$1.log" -w -t 60 start >/dev/null || {
		tail -n 30 "$PGT/$1.log"; return 1; }
	case " $PG_CLUSTERS " in *" $1 "*) ;; *) PG_CLUSTERS="$PG_CLUSTERS $1" ;; esac
}

# pg_stop NAME [fast|immediate]
pg_stop() {
	$RUN "$PGBIN/pg_ctl" -D "$PGT/$1" -m "${2:-fast}" -w -t 60 stop >/dev/null 2>&1
}

pg_pid() {
	[ -f "$PGT/$1/postmaster.pid" ] && head -n 1 "$PGT/$1/postmaster.pid"
}

# pg_psql NAME [psql args...]: quiet, unaligned, tuples only, stop on error
pg_psql() {
	_n=$1; shift
	eval "_p=\$PG_PORT_$_n"
	$RUN "$PGBIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h "$PGT" -p "$_p" -U postgres \
		-d "${PGDATABASE:-postgres}" "$@"
}

pg_cleanup() {
	for _n in $PG_CLUSTERS; do
		_pid=$(pg_pid "$_n" || true)
		[ -n "$_pid" ] || continue
		kill -0 "$_pid" 2>/dev/null || continue
		pg_stop "$_n" immediate || true
		# still there?  kill that one postmaster, by PID
		if kill -0 "$_pid" 2>/dev/null; then kill -9 "$_pid" 2>/dev/null || true; fi
	done
	if [ -n "${PGT:-}" ] && [ -z "${KEEP_PGT:-}" ]; then rm -rf "$PGT"; fi
}
