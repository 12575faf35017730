# Streaming replication of WAL-logged namespaces (issue 16): a standby made
# with pg_basebackup -R serves them read-only and current, refuses writes with
# SQLSTATE 25006, survives its own crash and restart (also after a
# restartpoint), and keeps the store when promoted.
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
q1($primary, "SELECT kv.create_namespace('w', durability => 'wal')");
q1($primary, "SELECT kv.create_namespace('local')");
q1($primary, "SELECT kv.set('w', 'k' || i, 'v' || i) FROM generate_series(1, 1000) i");
q1($primary, "SELECT kv.incr('w', 'counter', 7)");

$primary->backup('b1');	# pg_basebackup --checkpoint fast
my $standby = PostgreSQL::Test::Cluster->new('standby', port => ($ENV{SHARDKV_PGWAL_PORT} // 55433) + 1);
$standby->init_from_backup($primary, 'b1', has_streaming => 1);
$standby->start;

# writes after the backup, of every string kind
q1($primary, "SELECT kv.incr('w', 'counter', 3)");
q1($primary, "SELECT kv.set('w', 'after', 'a', interval '1 hour')");
q1($primary, "SELECT kv.append('w', 'k1', '+')");
q1($primary, "SELECT kv.append('w', 'long', repeat('x', 1000)); SELECT kv.append('w', 'long', 'tail')");
q1($primary, "SELECT kv.setrange('w', 'k2', 0, 'V')");
q1($primary, "SELECT kv.delete('w', 'k3')");
q1($primary, "SELECT kv.rename('w', 'k4', 'k4renamed')");
q1($primary, "SELECT kv.incr_float('w', 'f', 1.5)");
q1($primary, "SELECT kv.mset('w', ARRAY['m1', 'm2'], ARRAY['1', '2'])");
q1($primary, "SELECT kv.expire('w', 'k5', interval '2 hours'); SELECT kv.persist('w', 'k5')");
q1($primary, "SELECT kv.set('local', 'x', 'primary only')");
$primary->wait_for_catchup($standby);

my $state = "SELECT concat_ws('|', kv.get('w', 'counter'), kv.get('w', 'after'), kv.get('w', 'k1'),
	length(kv.get('w', 'long')), kv.get('w', 'k2'), coalesce(kv.get('w', 'k3'), 'gone'),
	kv.get('w', 'k4renamed'), kv.get('w', 'f'), kv.get('w', 'm2'), coalesce(kv.ttl('w', 'k5')::text, 'none'),
	(SELECT count(*) FROM generate_series(1, 1000) i WHERE kv.get('w', 'k' || i) IS NOT NULL),
	kv.ttl('w', 'after') > interval '59 minutes')";
my $want = q1($primary, $state);
is($want, '10|a|v1+|1004|V2|gone|v4|1.5|2|none|998|t', 'primary state');
is(q1($standby, $state), $want, 'the standby sees every write, base backup and streamed');
is(q1($standby, "SELECT durability FROM kv.namespaces() WHERE name = 'w'"), 'wal', 'durability on the standby');

my ($ret, $out, $err) = $standby->psql('postgres', "\\set VERBOSITY verbose\nSELECT kv.set('w', 'nope', '1')");
like($err, qr/25006: cannot write to namespace "w" during recovery/, 'a standby refuses writes with 25006');
($ret, $out, $err) = $standby->psql('postgres', "\\set VERBOSITY verbose\nSELECT kv.incr('w', 'counter')");
like($err, qr/25006/, 'also kv.incr');
($ret, $out, $err) = $standby->psql('postgres', "\\set VERBOSITY verbose\nSELECT kv.drop_namespace('w')");
like($err, qr/25006/, 'and dropping it');
is(q1($standby, "SELECT kv.get('w', 'counter')"), '10', 'refused writes changed nothing');

# the standby crashes and restarts; then writes, a checkpoint (a restartpoint
# on the standby) and another crash
$standby->stop('immediate');
$standby->start;
$primary->wait_for_catchup($standby);
is(q1($standby, $state), $want, 'after a standby crash');
q1($primary, "SELECT kv.incr('w', 'counter', 100)");
q1($primary, "SELECT kv.create_namespace('w2', durability => 'wal'); SELECT kv.set('w2', 'a', 'b')");
q1($primary, "CHECKPOINT");
q1($primary, "SELECT kv.incr('w', 'counter', 1000)");
$primary->wait_for_catchup($standby);
$standby->safe_psql('postgres', 'CHECKPOINT');	# a restartpoint
q1($primary, "SELECT kv.incr('w', 'counter', 10000); SELECT kv.flush('w2')");
$primary->wait_for_catchup($standby);
$standby->stop('immediate');
$standby->start;
$primary->wait_for_catchup($standby);
is(q1($standby, "SELECT kv.get('w', 'counter') || '|' || (SELECT keys FROM kv.namespaces() WHERE name = 'w2')"),
	'11110|0', 'after a restartpoint and another standby crash');

# promotion keeps the store, and writes work
q1($primary, "SELECT kv.set('w', 'last', 'from the primary')");
$primary->wait_for_catchup($standby);
$primary->stop;
$standby->promote;
$standby->poll_query_until('postgres', "SELECT NOT pg_is_in_recovery()") or die;
$standby->poll_query_until('postgres', "SELECT count(*) = 1 FROM (SELECT kv.set('w', 'promoted', 'yes')) s") or die;
q1($standby, "SELECT kv.incr('w', 'counter', 1)");
is(q1($standby, "SELECT kv.get('w', 'last') || '|' || kv.get('w', 'promoted') || '|' || kv.get('w', 'counter')"),
	'from the primary|yes|11111', 'promoted: the store is kept and writable');
$standby->stop('immediate');
$standby->start;
is(q1($standby, "SELECT kv.get('w', 'promoted') || '|' || kv.get('w', 'counter') || '|' || kv.get('w', 'k1')"),
	'yes|11111|v1+', 'the promoted server recovers its own writes after a crash');

$standby->stop;
done_testing();
