# kill -9 of the postmaster in the middle of a write load, repeatedly (make
# crash; tests/crash/pg-wal-kill.sh): every transaction pgbench saw
# acknowledged is present after recovery, checkpoints and autosaves running.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib $ENV{SHARDKV_PGWAL_LIB};
use ShardkvWal;

my $iters = $ENV{PGWAL_KILL_ITERS} // 2;
my $node = shardkv_node('kill', conf => "shardkv.autosave_interval = 1\ncheckpoint_timeout = 30s\n");
$node->start;
install_kv($node);
q1($node, "SELECT kv.create_namespace('w', durability => 'wal')");
my $script = $node->basedir . '/load.sql';
open my $fh, '>', $script or die;
print $fh "SELECT kv.incr('w', 'n:' || :client_id) AS v \\gset\n";
print $fh "SELECT kv.set('w', 's:' || :client_id || ':' || :v, :v::text)\n";
print $fh "\\if :v % 500 = 0\nCHECKPOINT\n\\endif\n";
close $fh;

my $acked = 0;
my %holes;
for my $it (1 .. $iters)
{
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start([ 'pgbench', '-n', '-c', '4', '-j', '2', '-T', '60', '-f', $script,
		$node->connstr('postgres') ], '>', \$out, '2>', \$err);
	select undef, undef, undef, 0.5 + rand(2.5);
	kill9_postmaster($node);
	$h->finish;
	my ($n) = $out =~ /number of transactions actually processed: (\d+)/;
	$n //= 0;
	$acked += $n;
	ok(restart_after_kill($node), "iteration $it: restarted after kill -9 ($n transactions acknowledged)");
	my $sum = q1($node, "SELECT sum(coalesce(kv.get('w', 'n:' || c), '0')::bigint) FROM generate_series(0, 3) c");
	# each client has at most one transaction in flight when the server dies
	ok($sum >= $acked && $sum <= $acked + 4, "iteration $it: counters $sum cover the $acked acknowledged");
	$acked = $sum;	# in-flight ones that made it count from now on
	# a transaction killed between its incr and its set leaves that one key
	# unset for good: allowed, only at the counter value of a kill
	for my $c (0 .. 3)
	{
		$holes{"$c:" . q1($node, "SELECT coalesce(kv.get('w', 'n:$c'), '0')")} = 1;
	}
	my @missing = grep { !$holes{$_} } split /,/, q1($node, "SELECT string_agg(c || ':' || i, ',')
	    FROM generate_series(0, 3) c, LATERAL generate_series(1, coalesce(kv.get('w', 'n:' || c), '0')::int) i
	    WHERE kv.get('w', 's:' || c || ':' || i) IS DISTINCT FROM i::text");
	is(join(',', @missing), '', "iteration $it: every acknowledged kv.set is there");
}
$node->stop;
done_testing();
