#!/bin/sh
# WAL-logged namespaces (issue 16): TAP tests with PostgreSQL::Test::Cluster,
# run by tests/run-all.sh, or directly:  sh tests/suite-pgwal.sh [t/NNN_x.pl]
#   tests/pgwal/t/001_crash.pl    kill -9 of the postmaster after 10,000 writes
#                                 from 4 clients and a CHECKPOINT, a backend
#                                 crash, a crash during an autosave, switching
#                                 durability, pg_walinspect/pg_waldump
#   tests/pgwal/t/002_standby.pl  pg_basebackup -R standby: reads, 25006,
#                                 crash and restart, promotion
#   tests/pgwal/t/003_pitr.pl     base backup + archive, recovery_target_lsn
#   tests/pgwal/t/004_collections.pl  hashes, sets, sorted sets: kill -9, a
#                                 CHECKPOINT halfway, a standby (skips when
#                                 this tree has no kv.hset)
#   tests/pgwal/t/005_lists.pl    lists: pushes and pops survive kill -9 and a
#                                 CHECKPOINT halfway, reach a standby in order
# It tests the shardkv.so built in this tree, not the one installed in the
# system PostgreSQL (no make pg-install, no lock): the library is copied to a
# private directory named first in dynamic_library_path, and the kv schema is
# created from pg_ext/shardkv--0.1.sql with MODULE_PATHNAME = 'shardkv'.
# Clusters run as user postgres on Unix sockets (ports from 55433 up, override
# with SHARDKV_PGWAL_PORT) in a mktemp directory, removed at the end.
set -u
cd "$(dirname "$0")/.."
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PERL5=/usr/lib/postgresql/15/lib/pgxs/src/test/perl
if [ ! -d "$PERL5/PostgreSQL/Test" ] || ! perl -MIPC::Run -e1 2>/dev/null; then
	echo "not ok - PostgreSQL::Test::Cluster or IPC::Run missing (postgresql-server-dev-15, libipc-run-perl)"
	echo "0 passed, 1 failed"
	exit 1
fi
make --no-print-directory pg-ext >/dev/null || { echo "not ok - make pg-ext"; exit 1; }
T=$(mktemp -d /tmp/shardkv-pgwal.XXXXXX)
trap '[ -n "${SHARDKV_PGWAL_KEEP:-}" ] || rm -rf "$T"' EXIT
mkdir -p "$T/lib"
cp pg_ext/shardkv.so "$T/lib/"
# the base script, then any upgrade scripts in version order (what CREATE EXTENSION runs)
for f in pg_ext/shardkv--0.1.sql $(ls pg_ext/shardkv--*--*.sql 2>/dev/null | sort -V); do
	sed -e "s/MODULE_PATHNAME/shardkv/g" -e '/^\\echo/d' "$f"
done >"$T/shardkv.sql"
cp -r tests/pgwal "$T/pgwal"
RUN=""
if [ "$(id -u)" = 0 ]; then
	chown -R postgres: "$T"
	RUN="runuser -u postgres --"
fi
chmod 755 "$T"
cd "$T"
if [ $# -gt 0 ]; then TESTS="$*"; else TESTS=$(ls pgwal/t/*.pl); fi
$RUN env PATH="$PGBIN:$PATH" TESTDIR="$T" SHARDKV_LIB="$T/lib" SHARDKV_SQL="$T/shardkv.sql" \
	SHARDKV_PGWAL_LIB="$T/pgwal" PGWAL_KILL_ITERS="${PGWAL_KILL_ITERS:-2}" PG_REGRESS=/usr/lib/postgresql/15/lib/pgxs/src/test/regress/pg_regress \
	prove -I "$PERL5" $TESTS >"$T/prove.out" 2>&1
rc=$?
cat "$T/prove.out"
if [ $rc != 0 ] && [ -d "$T/tmp_check/log" ]; then
	for f in "$T"/tmp_check/log/*; do echo "=== $f"; tail -n 40 "$f"; done
fi
# the TAP counts: "Files=2, Tests=43, ..."; a failure counts its failed tests (at least 1)
n=$(sed -n 's/^Files=[0-9]*, Tests=\([0-9]*\),.*/\1/p' "$T/prove.out")
bad=$(grep -c '^not ok' "$T/prove.out")
if [ $rc = 0 ] && [ -n "$n" ] && [ "$n" -gt 0 ]; then
	echo "$n passed, 0 failed"
else
	[ "$bad" -gt 0 ] || bad=1
	echo "$(( ${n:-0} - bad < 0 ? 0 : ${n:-0} - bad )) passed, $bad failed"
	rc=1
fi
exit $rc
