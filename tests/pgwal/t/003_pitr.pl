# Point-in-time recovery of WAL-logged namespaces (issue 16): a base backup
# plus archived WAL, recovered to an LSN between two writes, has the store as
# of that point: the first write, not the second.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib $ENV{SHARDKV_PGWAL_LIB};
use ShardkvWal;

my $primary = shardkv_node('pitr', has_archiving => 1);
$primary->start;
install_kv($primary);
q1($primary, "SELECT kv.create_namespace('w', durability => 'wal')");
q1($primary, "SELECT kv.set('w', 'k', 'before backup')");
$primary->backup('b');
q1($primary, "SELECT kv.set('w', 'k', 'at target'); SELECT kv.incr('w', 'n', 5)");
q1($primary, "CHECKPOINT");	# a snapshot mark and a checkpoint between backup and target
q1($primary, "SELECT kv.incr('w', 'n', 2)");
my $target = q1($primary, "SELECT pg_current_wal_flush_lsn()");
q1($primary, "SELECT kv.set('w', 'k', 'after target'); SELECT kv.set('w', 'later', 'x'); SELECT kv.delete('w', 'n')");
# wait for the segment the switch completed, by name: WAL written after the
# switch (a checkpoint, the extension's own records) opens a segment that is
# not archived until it fills, so "the one before the current position" can
# wait for ever
my $seg = q1($primary, "SELECT pg_walfile_name(pg_switch_wal())");
$primary->poll_query_until('postgres',
	"SELECT last_archived_wal IS NOT NULL AND last_archived_wal >= '$seg' FROM pg_stat_archiver")
  or die;
$primary->stop;

my $restored = PostgreSQL::Test::Cluster->new('restored', port => ($ENV{SHARDKV_PGWAL_PORT} // 55433) + 2);
$restored->init_from_backup($primary, 'b', has_restoring => 1);
$restored->append_conf('postgresql.conf', "recovery_target_lsn = '$target'\nrecovery_target_action = 'promote'\n");
$restored->start;
$restored->poll_query_until('postgres', "SELECT NOT pg_is_in_recovery()") or die;
is(q1($restored, "SELECT concat_ws('|', kv.get('w', 'k'), kv.get('w', 'n'), coalesce(kv.get('w', 'later'), 'none'))"),
	'at target|7|none', 'recovered to the target LSN: the writes before it, none after');
$restored->stop('immediate');
$restored->start;
is(q1($restored, "SELECT concat_ws('|', kv.get('w', 'k'), kv.get('w', 'n'))"), 'at target|7',
	'and it keeps them across a crash');
$restored->stop;
done_testing();
