# Lists in a WAL-logged namespace (issue 16, "every write kind is logged"):
# acknowledged kv.lpush/kv.rpush/kv.lpop/kv.rpop survive kill -9 of the
# postmaster (also those before a CHECKPOINT issued halfway), a standby made
# with pg_basebackup -R sees them in order, and pg_walinspect describes the
# records (one per element pushed, one per pop, each with the list's length
# before it).  The other list writes (LSET, LINSERT, LREM, LTRIM, LMOVE, COPY)
# have no SQL function: tests/unit/test_redo.c replays every one.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib $ENV{SHARDKV_PGWAL_LIB};
use ShardkvWal;

plan skip_all => 'no kv.rpush in pg_ext/*.sql: lists have no SQL functions in this tree'
  unless slurp_file($ENV{SHARDKV_SQL}) =~ /FUNCTION kv\.rpush\(/;
my $primary = shardkv_node('primary');
$primary->start;
install_kv($primary);
q1($primary, "SELECT kv.create_namespace('w', durability => 'wal')");
q1($primary, "SELECT kv.rpush('w', 'q', 'a' || i) FROM generate_series(1, 3000) i");	# a quicklist

$primary->backup('b1');
my $standby = PostgreSQL::Test::Cluster->new('standby', port => ($ENV{SHARDKV_PGWAL_PORT} // 55433) + 1);
$standby->init_from_backup($primary, 'b1', has_streaming => 1);
$standby->start;

# acknowledged pushes and pops from both ends, a checkpoint halfway
q1($primary, "SELECT kv.lpush('w', 'q', 'h' || i, 'H' || i) FROM generate_series(1, 200) i");
q1($primary, "SELECT kv.lpop('w', 'q') FROM generate_series(1, 50)");
q1($primary, "SELECT kv.rpop('w', 'q', 120)");
q1($primary, "CHECKPOINT");
q1($primary, "SELECT kv.rpush('w', 'q', 'r' || i) FROM generate_series(1, 77) i");
q1($primary, "SELECT kv.lpop('w', 'q', 3)");
q1($primary, "SELECT kv.rpop('w', 'q')");
q1($primary, "SELECT kv.rpush('w', 'tmp', 'x', 'y'); SELECT kv.lpop('w', 'tmp', 5)");	# emptied: gone
q1($primary, "SELECT kv.lpush('w', 'small', 'c', 'b', 'a')");

my $state = "SELECT concat_ws('|', kv.llen('w', 'q'),
	(SELECT md5(string_agg(e, ',' ORDER BY n)) FROM kv.lrange('w', 'q') WITH ORDINALITY AS t(e, n)),
	(SELECT string_agg(e, ',' ORDER BY n) FROM kv.lrange('w', 'small') WITH ORDINALITY AS t(e, n)),
	coalesce(kv.type('w', 'tmp'), 'none'))";
my $want = q1($primary, $state);
# 3000 + 400 - 50 - 120 + 77 - 3 - 1
like($want, qr/^3303\|[0-9a-f]{32}\|a,b,c\|none$/, 'primary state');
$primary->wait_for_catchup($standby);
is(q1($standby, $state), $want, 'the standby sees every list write, in order');

kill9_postmaster($primary);
ok(restart_after_kill($primary), 'primary restarts after kill -9');
is(q1($primary, $state), $want, 'every acknowledged list write survived kill -9, also those before the CHECKPOINT');

# after the restart, writes go on and replicate
q1($primary, "SELECT kv.rpush('w', 'small', 'd')");
$primary->wait_for_catchup($standby);
is(q1($standby, "SELECT string_agg(e, ',' ORDER BY n) FROM kv.lrange('w', 'small') WITH ORDINALITY AS t(e, n)"),
	'a,b,c,d', 'a push after the restart reaches the standby');

# pg_walinspect describes the list records (rm_desc)
q1($primary, "CREATE EXTENSION pg_walinspect");
my $lsn = q1($primary, "SELECT pg_current_wal_insert_lsn()");
q1($primary, "SELECT kv.rpush('w', 'small', 'e'); SELECT kv.lpop('w', 'small', 2)");
my $desc = q1($primary, "SELECT string_agg(record_type || ': ' || description || ' (' || record_length || ' bytes)',
	E'\\n' ORDER BY start_lsn)
	FROM pg_get_wal_records_info('$lsn', pg_current_wal_flush_lsn()) WHERE resource_manager = 'shardkv'");
note $desc;
like($desc, qr/KEY: ns w; list insert key "small" at 4 length 4 value "e"/, 'rm_desc: a push is its element, index and length');
like($desc, qr/KEY: ns w; list del key "small" at 0 count 2 length 5/, 'rm_desc: a pop of two is one record');

$standby->stop;
$primary->stop;
done_testing();
