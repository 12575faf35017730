# Collections in a WAL-logged namespace (issue 16, "collections too"): every
# acknowledged write of a hash, set and sorted set survives kill -9 of the
# postmaster (also those before a CHECKPOINT issued halfway), a standby made
# with pg_basebackup -R sees them, and a RENAME of a collection (one record)
# replays too.  (STORE forms and COPY, logged as a DEL plus the elements, have
# no SQL function: tests/unit/test_redo.c covers them.)  The SQL functions
# come from the hosts' collection work (kv.hset ...): without them the file
# skips, saying so.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib $ENV{SHARDKV_PGWAL_LIB};
use ShardkvWal;

plan skip_all => 'no kv.hset in pg_ext/*.sql: collections have no SQL functions in this tree'
  unless slurp_file($ENV{SHARDKV_SQL}) =~ /FUNCTION kv\.hset\(/;
my $primary = shardkv_node('primary');
$primary->start;
install_kv($primary);
q1($primary, "SELECT kv.create_namespace('w', durability => 'wal')");
q1($primary, "SELECT kv.hset('w', 'h', 'f' || i, 'v' || i) FROM generate_series(1, 300) i");
q1($primary, "SELECT kv.sadd('w', 's', 'm' || i) FROM generate_series(1, 200) i");
q1($primary, "SELECT kv.zadd('w', 'z', 'z' || i, i * 1.5) FROM generate_series(1, 200) i");

$primary->backup('b1');
my $standby = PostgreSQL::Test::Cluster->new('standby', port => ($ENV{SHARDKV_PGWAL_PORT} // 55433) + 1);
$standby->init_from_backup($primary, 'b1', has_streaming => 1);
$standby->start;

# acknowledged writes of every kind, a checkpoint halfway
q1($primary, "SELECT kv.hincr('w', 'h', 'ctr', 3) FROM generate_series(1, 500)");
q1($primary, "SELECT kv.hincr_float('w', 'h', 'fl', 0.5)");
q1($primary, "SELECT kv.hdel('w', 'h', 'f1', 'f2', 'nope')");
q1($primary, "SELECT kv.srem('w', 's', 'm1', 'm2')");
q1($primary, "SELECT kv.zincr('w', 'z', 'z5', 100) FROM generate_series(1, 10)");
q1($primary, "CHECKPOINT");
q1($primary, "SELECT kv.zrem('w', 'z', 'z1', 'z2')");
q1($primary, "SELECT kv.zadd('w', 'z', 'z3', -1, 'gt')");	# refused by GT: no change
q1($primary, "SELECT kv.hset('w', 'h', 'f3', 'changed')");
q1($primary, "SELECT kv.sadd('w', 'tmp', 'x'); SELECT kv.srem('w', 'tmp', 'x')");	# emptied: gone
q1($primary, "SELECT kv.rename('w', 's', 's2')");

my $state = "SELECT concat_ws('|',
	(SELECT md5(string_agg(field || '=' || value, ',' ORDER BY field)) FROM kv.hgetall('w', 'h')),
	kv.hget('w', 'h', 'ctr'), kv.hget('w', 'h', 'fl'), kv.hget('w', 'h', 'f3'),
	coalesce(kv.hget('w', 'h', 'f1'), 'gone'),
	(SELECT md5(string_agg(m, ',' ORDER BY m)) FROM kv.smembers('w', 's2') m),
	(SELECT count(*) FROM kv.smembers('w', 's') m),
	(SELECT md5(string_agg(member || ':' || score, ',')) FROM kv.zrange('w', 'z')),
	kv.zscore('w', 'z', 'z5'), kv.zscore('w', 'z', 'z3'), coalesce(kv.zscore('w', 'z', 'z1')::text, 'gone'),
	coalesce(kv.type('w', 'tmp'), 'none'))";
my $want = q1($primary, $state);
like($want, qr/^[0-9a-f]{32}\|1500\|0\.5\|changed\|gone\|[0-9a-f]{32}\|0\|[0-9a-f]{32}\|1007\.5\|4\.5\|gone\|none$/,
	'primary state');
$primary->wait_for_catchup($standby);
is(q1($standby, $state), $want, 'the standby sees every collection write');

kill9_postmaster($primary);
ok(restart_after_kill($primary), 'primary restarts after kill -9');
is(q1($primary, $state), $want, 'every acknowledged collection write survived kill -9, also those before the CHECKPOINT');

# after the restart, writes go on and replicate
q1($primary, "SELECT kv.zadd('w', 'z', 'after', 9)");
$primary->wait_for_catchup($standby);
is(q1($standby, "SELECT kv.zscore('w', 'z', 'after')"), '9', 'a write after the restart reaches the standby');

# pg_walinspect describes the element records (rm_desc), each one element
q1($primary, "CREATE EXTENSION pg_walinspect");
my $lsn = q1($primary, "SELECT pg_current_wal_insert_lsn()");
q1($primary, "SELECT kv.hincr('w', 'h', 'ctr', 1); SELECT kv.zincr('w', 'z', 'z5', 1);
	SELECT kv.srem('w', 's2', 'm3'); SELECT kv.rename('w', 's2', 's3')");
my $desc = q1($primary, "SELECT string_agg(record_type || ': ' || description || ' (' || record_length || ' bytes)',
	E'\\n' ORDER BY start_lsn)
	FROM pg_get_wal_records_info('$lsn', pg_current_wal_flush_lsn()) WHERE resource_manager = 'shardkv'");
note $desc;
like($desc, qr/KEY: ns w; element key "h" hash field "ctr" value "1501" \((\d+) bytes\)/,
	'rm_desc: an hincr is the field and the new number');
my ($hlen) = $desc =~ /value "1501" \((\d+) bytes\)/;
cmp_ok($hlen, '<', 120, 'an hincr record of a 300-field hash is a few dozen bytes');
like($desc, qr/KEY: ns w; element key "z" zset member "z5" score 1008.5/, 'rm_desc: a zincr is the new score');
like($desc, qr/KEY: ns w; element del key "s2" set member "m3"/, 'rm_desc: a removed member');
like($desc, qr/KEY: ns w; rename key "s2" to "s3"/, 'rm_desc: a collection rename is one record');

$standby->stop;
$primary->stop;
done_testing();
