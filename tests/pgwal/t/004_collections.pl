# Collections in a WAL-logged namespace (issue 16, "collections too"): every
# acknowledged write of a hash, set and sorted set survives kill -9 of the
# postmaster (also those before a CHECKPOINT issued halfway), a standby made
# with pg_basebackup -R sees them, and a copy of a collection (logged as a DEL
# plus its elements) and a RENAME (one record) replay too.  The SQL functions
# come from the hosts' collection work (kv.hset ...): without them the file
# skips, saying so.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib $ENV{SHARDKV_PGWAL_LIB};
use ShardkvWal;

my $primary = shardkv_node('primary');
$primary->start;
install_kv($primary);
if (q1($primary, "SELECT count(*) FROM pg_proc WHERE proname = 'hset' AND pronamespace = 'kv'::regnamespace") == 0)
{
	$primary->stop;
	plan skip_all => 'no kv.hset in pg_ext/*.sql: collections have no SQL functions in this tree';
}
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
q1($primary, "SELECT kv.copy('w', 'h', 'w', 'hcopy')") if q1($primary,
	"SELECT count(*) FROM pg_proc WHERE proname = 'copy' AND pronamespace = 'kv'::regnamespace") > 0;
q1($primary, "SELECT kv.rename('w', 's', 's2')");

my $state = "SELECT concat_ws('|',
	(SELECT md5(string_agg(field || '=' || value, ',' ORDER BY field)) FROM kv.hgetall('w', 'h')),
	kv.hget('w', 'h', 'ctr'), kv.hget('w', 'h', 'fl'), kv.hget('w', 'h', 'f3'),
	coalesce(kv.hget('w', 'h', 'f1'), 'gone'),
	(SELECT md5(string_agg(m, ',' ORDER BY m)) FROM kv.smembers('w', 's2') m),
	(SELECT count(*) FROM kv.smembers('w', 's') m),
	(SELECT md5(string_agg(member || '@' || score, ',')) FROM kv.zrange('w', 'z')),
	kv.zscore('w', 'z', 'z5'), kv.zscore('w', 'z', 'z3'), coalesce(kv.zscore('w', 'z', 'z1')::text, 'gone'),
	kv.type('w', 'tmp'),
	(SELECT md5(string_agg(field || '=' || value, ',' ORDER BY field)) FROM kv.hgetall('w', 'hcopy')))";
my $want = q1($primary, $state);
like($want, qr/^[0-9a-f]{32}\|1500\|0\.5\|changed\|gone\|[0-9a-f]{32}\|0\|[0-9a-f]{32}\|1007\.5\|4\.5\|gone\|none\|/,
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

$standby->stop;
$primary->stop;
done_testing();
