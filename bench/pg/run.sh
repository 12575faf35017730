#!/bin/sh
# bench/pg/run.sh -- shardkv's kv.* functions against plain tables, in the same
# cluster and the same run, with pgbench -M prepared (issue 4).
#
#   sh bench/pg/run.sh            full: 1M keys, 3 interleaved rounds of 15 s
#   QUICK=1 sh bench/pg/run.sh    smoke: 100k keys, 1 round of 3 s
#   NKEYS, SECS, ROUNDS, CLIENTS override; ONLY="pg_get pg_mget pg_setu pg_set pg_incr"
#   picks workloads by their peer
#   (make bench-pg builds first; as root it installs the extension)
#
# Workloads (11-byte keys 'key:NNNNNNN', 100-byte values):
#   get     SELECT kv.get('b', $1)            vs  SELECT v FROM t WHERE k = $1
#   mget    kv.mget of 100 keys (keys/s)      vs  SELECT .. WHERE k = ANY($1)
#   set     SELECT kv.set('b', $1, $2)        vs  INSERT .. ON CONFLICT DO UPDATE
#           (unlogged table and logged table)
#   incr    kv.incr on one hot key, 4 clients vs  UPDATE counters SET n = n + 1
# Rounds alternate A B A B; the table shows medians and the ratio ours/peer.
# Each row also shows the share of all CPUs that other processes used during
# its runs (/proc/stat minus our postmaster, backends and pgbench); above 10%
# the row is marked [noisy] and should be re-run.
# Ports 55435-55439 only; the cluster lives in a mktemp directory and is
# stopped by PID at the end.
set -eu
cd "$(dirname "$0")/../.."
. tests/pg/cluster.sh

QUICK=${QUICK:-0}
if [ "$QUICK" = 1 ]; then NKEYS=${NKEYS:-100000}; SECS=${SECS:-3}; ROUNDS=${ROUNDS:-1}
else NKEYS=${NKEYS:-1000000}; SECS=${SECS:-15}; ROUNDS=${ROUNDS:-3}; fi
CLIENTS=${CLIENTS:-2}
PORT=55435

if [ "$(id -u)" = 0 ] && [ -z "${NO_INSTALL:-}" ]; then
	make --no-print-directory pg-install >/dev/null
fi

trap 'pg_cleanup' EXIT
trap 'exit 1' INT TERM HUP
pg_setup
pg_init bench $PORT "shared_preload_libraries = 'shardkv'" "shardkv.memory = 1GB" \
	"shardkv.autosave_interval = 0" "shardkv.save_on_shutdown = off" \
	"shared_buffers = 512MB" "max_connections = 20" "fsync = on" "synchronous_commit = on"
# pg_init turned fsync off for tests; a logged table must pay for its WAL here
sed -i 's/^fsync = off$//' "$PGT/bench/postgresql.conf"
pg_start bench

echo "# loading $NKEYS keys into table t, unlogged table tu and namespace b ..."
pg_psql bench <<EOF >/dev/null
CREATE EXTENSION shardkv;
SELECT kv.create_namespace('b', shards => 64);
CREATE TABLE t (k text PRIMARY KEY, v text);
CREATE UNLOGGED TABLE tu (k text PRIMARY KEY, v text);
CREATE TABLE counters (id int PRIMARY KEY, n bigint);
INSERT INTO counters VALUES (1, 0);
INSERT INTO t SELECT 'key:' || lpad(i::text, 7, '0'), md5(i::text) || md5((-i)::text) || md5((i * 7)::text) || left(md5((i * 3)::text), 4)
  FROM generate_series(1, $NKEYS) i;
INSERT INTO tu SELECT * FROM t;
SELECT count(kv.set('b', k, v)) FROM t;
-- 1000 random 100-key arrays, so that the mget workloads pass one array
-- parameter rather than build it in every statement
CREATE TABLE batches (id int PRIMARY KEY, keys text[]);
INSERT INTO batches SELECT b, ARRAY(SELECT 'key:' || lpad((1 + floor(random() * $NKEYS))::int::text, 7, '0')
                                    FROM generate_series(1, 100) WHERE b > 0)
  FROM generate_series(1, 1000) b;
VACUUM ANALYZE t;
VACUUM ANALYZE tu;
VACUUM ANALYZE batches;
EOF

W="$PGT/w"; mkdir -p "$W"
KEY="'key:' || lpad(:id::text, 7, '0')"
VAL="repeat('v', 100)"
KEYS100="(SELECT keys FROM batches WHERE id = :id)"
w() { printf '%s\n' "$2" >"$W/$1.sql"; }
w kv_get    "\\set id random(1, $NKEYS)
SELECT kv.get('b', $KEY);"
w pg_get    "\\set id random(1, $NKEYS)
SELECT v FROM t WHERE k = $KEY;"
w kv_mget   "\\set id random(1, 1000)
SELECT count(value) FROM kv.mget('b', $KEYS100);"
w pg_mget   "\\set id random(1, 1000)
SELECT count(v) FROM t WHERE k = ANY ($KEYS100::text[]);"
w kv_set    "\\set id random(1, $NKEYS)
SELECT kv.set('b', $KEY, $VAL);"
w pg_setu   "\\set id random(1, $NKEYS)
INSERT INTO tu VALUES ($KEY, $VAL) ON CONFLICT (k) DO UPDATE SET v = excluded.v;"
w pg_set    "\\set id random(1, $NKEYS)
INSERT INTO t VALUES ($KEY, $VAL) ON CONFLICT (k) DO UPDATE SET v = excluded.v;"
w kv_incr   "SELECT kv.incr('b', 'hot');"
w pg_incr   "UPDATE counters SET n = n + 1 WHERE id = 1;"
[ -n "$RUN" ] && chown -R postgres: "$W"

# CPU accounting, in jiffies (USER_HZ = 100): the whole machine from
# /proc/stat; ours = the postmaster and its reaped backends + our children (pgbench)
cpu_all() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9+$10}' /proc/stat; }
cpu_ours() {
	# the postmaster (with the backends it reaped) and its live children
	_pm=$(cat /proc/[0-9]*/stat 2>/dev/null | awk -v pm="$(pg_pid bench)" \
		'$1 == pm {s += $14+$15+$16+$17} $4 == pm {s += $14+$15} END {print s+0}')
	times >"$W/times"	# in this shell: a subshell would count its own children
	_kids=$(tail -n 1 "$W/times" | awk '{s=0; for (i=1; i<=2; i++) {split($i, a, "m"); s += a[1]*60 + substr(a[2], 1, length(a[2])-1)} printf "%d", s*100}')
	OURS=$((_pm + _kids))
}
NCPU=$(nproc)

# run NAME CLIENTS: appends tps to $W/NAME.tps and the share of the machine
# that others used meanwhile (percent of all CPUs) to $W/NAME.others
run() {
	m0=$(cpu_all); cpu_ours; o0=$OURS; t0=$(date +%s%N)
	tps=$($RUN "$PGBIN/pgbench" -n -M prepared -T "$SECS" -c "$2" -j "$(($2 < 2 ? 1 : 2))" \
		-f "$W/$1.sql" -h "$PGT" -p $PORT -U postgres postgres 2>/dev/null |
		awk '/^tps = /{print $3; exit}')
	sleep 0.2	# let the postmaster reap the backends
	m1=$(cpu_all); cpu_ours; o1=$OURS; t1=$(date +%s%N)
	echo "$m0 $m1 $o0 $o1 $t0 $t1 $NCPU" | awk '{wall = ($6-$5)/1e7 * $7; others = ($2-$1) - ($4-$3);
		if (others < 0) others = 0; printf "%.0f\n", (wall > 0 ? 100*others/wall : 0)}' >>"$W/$1.others"
	echo "${tps:-0}" >>"$W/$1.tps"
}

median() { sort -n "$1" | awk '{a[NR]=$1} END {if (NR==0) print 0; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

PAIRS="kv_get:pg_get:$CLIENTS kv_mget:pg_mget:$CLIENTS kv_set:pg_setu:$CLIENTS kv_set:pg_set:$CLIENTS kv_incr:pg_incr:4"
if [ -n "${ONLY:-}" ]; then	# e.g. ONLY="pg_get pg_incr": the peers to run
	sel=""
	for p in $PAIRS; do
		for o in $ONLY; do case "$p" in *":$o:"*) sel="$sel $p" ;; esac; done
	done
	PAIRS=$sel
fi
r=1
while [ "$r" -le "$ROUNDS" ]; do
	for p in $PAIRS; do
		a=${p%%:*}; rest=${p#*:}; b=${rest%%:*}; c=${rest#*:}
		run "$a" "$c"; run "$b" "$c"
		mv "$W/$a.tps" "$W/$a-$b.a.tps" 2>/dev/null || true
		cat "$W/$a-$b.a.tps" >>"$W/$a-$b.A" ; rm -f "$W/$a-$b.a.tps"
		cat "$W/$b.tps" >>"$W/$a-$b.B"; rm -f "$W/$b.tps"
	done
	r=$((r + 1))
done

printf '\n# shardkv PostgreSQL bench: %s keys, %s x %ss rounds, pgbench -M prepared, %s cores\n' \
	"$NKEYS" "$ROUNDS" "$SECS" "$(nproc)"
printf '%-34s %12s %12s %8s %s\n' "workload (clients)" "shardkv/s" "peer/s" "ratio" "others' CPU"
# every round also goes to build/bench/pg.tsv for bench/charts.py (format there)
TSV=build/bench/pg.tsv
mkdir -p build/bench
{ printf '# bench/pg/run.sh, %s keys, %s x %ss rounds, pgbench -M prepared\n' "$NKEYS" "$ROUNDS" "$SECS"
  printf 'host\tworkload\tconfig\tpeer\trep\tours\ttheirs\tunit\tbasis\tbetter\tnoisy\n'; } >"$TSV.tmp"
for p in $PAIRS; do
	a=${p%%:*}; rest=${p#*:}; b=${rest%%:*}; c=${rest#*:}
	ma=$(median "$W/$a-$b.A"); mb=$(median "$W/$a-$b.B")
	mult=1; unit="tps"
	[ "$a" = kv_mget ] && { mult=100; unit="keys"; }
	others=$(sort -n "$W/$a.others" "$W/$b.others" | tail -n 1)
	noisy=""
	[ "$others" -gt 10 ] && noisy=" [noisy]"
	case "$b" in
	pg_get) label="get vs SELECT v WHERE k = \$1" ;;
	pg_mget) label="mget 100 vs WHERE k = ANY(\$1)" ;;
	pg_setu) label="set vs upsert (unlogged)" ;;
	pg_set) label="set vs upsert (logged)" ;;
	pg_incr) label="incr hot key vs UPDATE" ;;
	esac
	echo "$ma $mb $mult" | awk -v l="$label ($c) $unit" -v busy="$others%$noisy" \
		'{printf "%-34s %12.0f %12.0f %7.2fx %s\n", l, $1*$3, $2*$3, ($2 > 0 ? $1/$2 : 0), busy}'
	case "$b" in
	pg_get) wl="kv.get"; peer="SELECT by primary key" ;;
	pg_mget) wl="kv.mget (100 keys)"; peer="WHERE k = ANY(\$1)" ;;
	pg_setu) wl="kv.set"; peer="upsert, unlogged table" ;;
	pg_set) wl="kv.set"; peer="upsert, logged table" ;;
	pg_incr) wl="kv.incr (hot key)"; peer="UPDATE n = n + 1" ;;
	esac
	paste "$W/$a-$b.A" "$W/$a-$b.B" | awk -v wl="$wl" -v c="$c clients" -v peer="$peer" \
		-v m="$mult" -v unit="$([ "$unit" = keys ] && echo keys/s || echo tps)" -v nz="$([ -n "$noisy" ] && echo 1 || echo 0)" \
		'{printf "pg\t%s\t%s\t%s\t%d\t%.6g\t%.6g\t%s\twall\thigher\t%d\n", wl, c, peer, NR, $1*m, $2*m, unit, nz}' \
		>>"$TSV.tmp"
done
mv "$TSV.tmp" "$TSV"
pg_stop bench fast
