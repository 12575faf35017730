#!/bin/sh
# pg-wal-kill.sh -- kill -9 of the postmaster in the middle of a write load on
# a namespace with durability 'wal', then recovery: every acknowledged write
# is there (tests/pgwal/crash/003_kill_loop.pl).  CRASH_QUICK=1: 2 kills;
# CRASH_QUICK=0 (make crash): 25.
set -u
cd "$(dirname "$0")/../.."
if [ "${CRASH_QUICK:-1}" = 1 ]; then n=2; else n=25; fi
PGWAL_KILL_ITERS=$n sh tests/suite-pgwal.sh pgwal/crash/003_kill_loop.pl
