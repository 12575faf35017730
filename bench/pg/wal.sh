#!/bin/sh
# bench/pg/wal.sh -- writes to a namespace with durability 'wal' (issue 16)
# against a logged table's upsert, an unlogged table's upsert and the same
# namespace under 'snapshot', with synchronous_commit on and off, in one
# cluster, pgbench -M prepared.  Run by make bench-pg after bench/pg/run.sh.
#
#   sh bench/pg/wal.sh            3 interleaved rounds of 10 s per workload
#   QUICK=1 sh bench/pg/wal.sh    1 round of 2 s
#   NKEYS, SECS, ROUNDS, CLIENTS override
#
# Workloads (100k keys 'key:NNNNNNN', 100-byte values; counters over 1000 keys):
#   set   kv.set('w', $1, $2)                 vs  INSERT .. ON CONFLICT DO UPDATE
#   incr  kv.incr('w', 'c:' || $1)            vs  INSERT .. ON CONFLICT DO UPDATE SET n = n + 1
# Every round runs each workload once, in the same order (wal, snapshot,
# logged, unlogged); the table shows medians and ratios of medians, wal/peer.
# A row is [noisy] when other processes used more than 10% of the machine
# (as in bench/pg/run.sh).  It uses this tree's shardkv.so from a private
# directory (as tests/suite-pgwal.sh does), so it needs no install.  Port 55436.
set -eu
cd "$(dirname "$0")/../.."
. tests/pg/cluster.sh

QUICK=${QUICK:-0}
if [ "$QUICK" = 1 ]; then SECS=${SECS:-2}; ROUNDS=${ROUNDS:-1}
else SECS=${SECS:-10}; ROUNDS=${ROUNDS:-3}; fi
NKEYS=${NKEYS:-100000}
CLIENTS=${CLIENTS:-2}
PORT=55436

make --no-print-directory pg-ext >/dev/null
trap 'pg_cleanup' EXIT
trap 'exit 1' INT TERM HUP
pg_setup
mkdir -p "$PGT/lib"
cp pg_ext/shardkv.so "$PGT/lib/"
sed -e "s/MODULE_PATHNAME/shardkv/g" -e '/^\\echo/d' pg_ext/shardkv--0.1.sql >"$PGT/shardkv.sql"
[ -n "$RUN" ] && chown -R postgres: "$PGT"
pg_init wal $PORT "shared_preload_libraries = 'shardkv'" "dynamic_library_path = '$PGT/lib:\$libdir'" \
	"shardkv.memory = 512MB" "shardkv.autosave_interval = 0" "shared_buffers = 256MB" \
	"max_connections = 20" "fsync = on" "synchronous_commit = on" "checkpoint_timeout = 30min" \
	"max_wal_size = 4GB"
sed -i 's/^fsync = off$//' "$PGT/wal/postgresql.conf"	# the bench pays for fsync
pg_start wal

echo "# loading $NKEYS keys into namespaces w (wal) and s (snapshot), tables t and tu ..."
pg_psql wal -c 'CREATE SCHEMA kv' >/dev/null
pg_psql wal -f "$PGT/shardkv.sql" >/dev/null
PGOPTIONS="-c synchronous_commit=off" pg_psql wal <<EOF >/dev/null
SELECT kv.create_namespace('w', shards => 64, durability => 'wal');
SELECT kv.create_namespace('s', shards => 64);
CREATE TABLE t (k text PRIMARY KEY, v text);
CREATE UNLOGGED TABLE tu (k text PRIMARY KEY, v text);
CREATE TABLE c (k int PRIMARY KEY, n bigint);
CREATE UNLOGGED TABLE cu (k int PRIMARY KEY, n bigint);
INSERT INTO t SELECT 'key:' || lpad(i::text, 7, '0'), repeat('v', 100) FROM generate_series(1, $NKEYS) i;
INSERT INTO tu SELECT * FROM t;
INSERT INTO c SELECT i, 0 FROM generate_series(1, 1000) i;
INSERT INTO cu SELECT * FROM c;
SELECT count(kv.set('w', k, v)) + count(kv.set('s', k, v)) FROM t;
VACUUM ANALYZE t; VACUUM ANALYZE tu; VACUUM ANALYZE c; VACUUM ANALYZE cu;
CHECKPOINT;
EOF

W="$PGT/w"; mkdir -p "$W"
KEY="'key:' || lpad(:id::text, 7, '0')"
VAL="repeat('v', 100)"
w() { printf '\\set id random(1, %s)\n%s\n' "$2" "$3" >"$W/$1.sql"; }
w set_wal  "$NKEYS" "SELECT kv.set('w', $KEY, $VAL);"
w set_snap "$NKEYS" "SELECT kv.set('s', $KEY, $VAL);"
w set_log  "$NKEYS" "INSERT INTO t VALUES ($KEY, $VAL) ON CONFLICT (k) DO UPDATE SET v = excluded.v;"
w set_unl  "$NKEYS" "INSERT INTO tu VALUES ($KEY, $VAL) ON CONFLICT (k) DO UPDATE SET v = excluded.v;"
w incr_wal  1000 "SELECT kv.incr('w', 'c:' || :id);"
w incr_snap 1000 "SELECT kv.incr('s', 'c:' || :id);"
w incr_log  1000 "INSERT INTO c VALUES (:id, 1) ON CONFLICT (k) DO UPDATE SET n = c.n + 1;"
w incr_unl  1000 "INSERT INTO cu VALUES (:id, 1) ON CONFLICT (k) DO UPDATE SET n = cu.n + 1;"
[ -n "$RUN" ] && chown -R postgres: "$W"

cpu_all() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9+$10}' /proc/stat; }
cpu_pg() { cat /proc/[0-9]*/stat 2>/dev/null | awk -v pm="$(pg_pid wal)" \
	'$1 == pm {s += $14+$15+$16+$17} $4 == pm {s += $14+$15} END {print s+0}'; }
NCPU=$(nproc)
# run NAME SYNC: tps to $W/NAME-SYNC.tps, others' share of the machine to .others
run() {
	m0=$(cpu_all); p0=$(cpu_pg); t0=$(date +%s%N)
	tps=$($RUN env PGOPTIONS="-c synchronous_commit=$2" "$PGBIN/pgbench" -n -M prepared -T "$SECS" \
		-c "$CLIENTS" -j "$CLIENTS" -f "$W/$1.sql" -h "$PGT" -p $PORT -U postgres postgres 2>/dev/null |
		awk '/^tps = /{print $3; exit}')
	sleep 0.2
	m1=$(cpu_all); p1=$(cpu_pg); t1=$(date +%s%N)
	# pgbench's own CPU counts as "others" here: allow it one core
	echo "$m0 $m1 $p0 $p1 $t0 $t1 $NCPU" | awk '{wall = ($6-$5)/1e7 * $7; o = ($2-$1) - ($4-$3) - ($6-$5)/1e7;
		if (o < 0) o = 0; printf "%.0f\n", (wall > 0 ? 100*o/wall : 0)}' >>"$W/$1-$2.others"
	echo "${tps:-0}" >>"$W/$1-$2.tps"
}
median() { sort -n "$1" | awk '{a[NR]=$1} END {if (NR==0) print 0; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

r=1
while [ "$r" -le "$ROUNDS" ]; do
	for sync in on off; do
		for op in set incr; do
			for v in wal snap log unl; do run "${op}_$v" "$sync"; done
		done
	done
	r=$((r + 1))
done

printf '\n# shardkv WAL-logged namespaces: %s clients, %s x %ss rounds, pgbench -M prepared, fsync on, %s cores\n' \
	"$CLIENTS" "$ROUNDS" "$SECS" "$NCPU"
printf '%-44s %10s %10s %8s %s\n' "workload (synchronous_commit)" "wal tps" "peer tps" "wal/peer" "others' CPU"
for sync in on off; do
	for op in set incr; do
		mw=$(median "$W/${op}_wal-$sync.tps")
		for v in log unl snap; do
			case "$v" in log) peer="logged upsert" ;; unl) peer="unlogged upsert" ;; snap) peer="same ns, snapshot" ;; esac
			mp=$(median "$W/${op}_$v-$sync.tps")
			others=$(sort -n "$W/${op}_wal-$sync.others" "$W/${op}_$v-$sync.others" | tail -n 1)
			noisy=""; [ "$others" -gt 10 ] && noisy=" [noisy]"
			echo "$mw $mp" | awk -v l="kv.$op wal vs $peer ($sync)" -v busy="$others%$noisy" \
				'{printf "%-44s %10.0f %10.0f %7.2fx %s\n", l, $1, $2, ($2 > 0 ? $1/$2 : 0), busy}'
		done
	done
done
pg_stop wal fast
