# tests/pgwal/ShardkvWal.pm -- clusters for the WAL-logged namespace tests
# (issue 16), with the shardkv built in this tree rather than the one installed
# in the system PostgreSQL: tests/suite-pgwal.sh copies shardkv.so into
# $SHARDKV_LIB, found first through dynamic_library_path, and writes the
# extension script with MODULE_PATHNAME = 'shardkv' into $SHARDKV_SQL.
package ShardkvWal;

use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Exporter 'import';

our @EXPORT = qw(shardkv_node install_kv kill9_postmaster restart_after_kill q1);

my $port = $ENV{SHARDKV_PGWAL_PORT} // 55433;

sub shardkv_node
{
	my ($name, %opts) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name, port => $port++);
	$node->init(allows_streaming => 1, has_archiving => $opts{has_archiving} // 0);
	$node->append_conf('postgresql.conf', <<"CONF");
shared_preload_libraries = 'shardkv'
dynamic_library_path = '$ENV{SHARDKV_LIB}:\$libdir'
shardkv.memory = 64MB
shardkv.autosave_interval = 0
max_worker_processes = 16
restart_after_crash = on
log_min_messages = log
CONF
	$node->append_conf('postgresql.conf', $opts{conf}) if $opts{conf};
	return $node;
}

# The kv schema from this tree's extension script (no CREATE EXTENSION: that
# would run the system's script and library).
sub install_kv
{
	my ($node) = @_;
	$node->safe_psql('postgres', 'CREATE SCHEMA kv');
	$node->command_ok([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('postgres'),
		'-f', $ENV{SHARDKV_SQL} ], 'kv functions installed');
}

sub q1
{
	my ($node, $sql) = @_;
	return $node->safe_psql('postgres', $sql);
}

# kill -9 of the postmaster: an immediate stop with nothing flushed.  Its
# children notice the postmaster's death and exit; a restart waits for them
# (a new postmaster refuses to start while they hold the old shared memory).
sub kill9_postmaster
{
	my ($node) = @_;
	my $pid = $node->{_pid};
	$node->kill9;
	for (1 .. 200)
	{
		last unless kill 0, $pid;
		select undef, undef, undef, 0.05;
	}
}

sub restart_after_kill
{
	my ($node) = @_;
	for my $try (1 .. 60)
	{
		return 1 if $node->start(fail_ok => 1);
		sleep 1;
	}
	return 0;
}

1;
