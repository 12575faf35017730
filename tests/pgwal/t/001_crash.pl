# Crash recovery of WAL-logged namespaces (issue 16): every acknowledged write
# survives a kill -9 of the postmaster (including writes from before a
# CHECKPOINT, whose REDO point is past the start-up snapshot), a backend crash,
# a crash in the middle of an autosave, and a switch snapshot -> wal -> snapshot.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib $ENV{SHARDKV_PGWAL_LIB};
use ShardkvWal;

my $node = shardkv_node('crash', conf => "shardkv.tick_interval = 50ms\n");
$node->start;
install_kv($node);
q1($node, "SELECT kv.create_namespace('w', durability => 'wal')");
q1($node, "SELECT kv.create_namespace('s')");
is(q1($node, "SELECT string_agg(name || '=' || durability, ',' ORDER BY name) FROM kv.namespaces()"),
	's=snapshot,w=wal', 'kv.namespaces shows durability');

# 4 clients; each transaction is one kv.incr of the client's counter and one
# kv.set of a key named after the new count: 2 acknowledged calls.
my $script = $node->basedir . '/load.sql';
open my $fh, '>', $script or die;
print $fh "SELECT kv.incr('w', 'n:' || :client_id) AS v \\gset\n";
print $fh "SELECT kv.set('w', 's:' || :client_id || ':' || :v, :v::text)\n";
close $fh;
sub load
{
	my ($tx) = @_;
	$node->command_ok([ 'pgbench', '-n', '-c', '4', '-j', '2', '-t', $tx, '-f', $script,
		$node->connstr('postgres') ], "pgbench: 4 clients x $tx x 2 writes");
}
sub check_all
{
	my ($per_client, $what) = @_;
	is(q1($node, "SELECT string_agg(coalesce(kv.get('w', 'n:' || c), 'missing'), ',' ORDER BY c) FROM generate_series(0, 3) c"),
		join(',', ($per_client) x 4), "$what: every counter");
	is(q1($node, "SELECT count(*) FROM generate_series(0, 3) c, generate_series(1, $per_client) i
	                WHERE kv.get('w', 's:' || c || ':' || i) = i::text"),
		4 * $per_client, "$what: every set key");
}

load(625);
$node->safe_psql('postgres', 'CHECKPOINT');
load(625);		# 10,000 acknowledged calls in all
kill9_postmaster($node);
ok(restart_after_kill($node), 'restarted after kill -9 of the postmaster');
check_all(1250, 'after kill -9');

# A second crash right after recovery: the end-of-recovery save holds them.
$node->stop('immediate');
$node->start;
check_all(1250, 'after a second (immediate) crash');

# A backend crash: the postmaster reinitialises shared memory and recovers.
load(250);
my ($in, $out, $err) = ('', '', '');
my $h = IPC::Run::start([ 'psql', '-X', '-d', $node->connstr('postgres'), '-c',
	'SELECT pg_sleep(60)' ], \$in, \$out, \$err);
my $bpid;
for (1 .. 100)
{
	$bpid = q1($node, "SELECT pid FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(60)%' AND pid <> pg_backend_pid()");
	last if $bpid;
	select undef, undef, undef, 0.1;
}
ok($bpid, 'found the sleeping backend');
kill 'KILL', $bpid;
$h->finish;
$node->poll_query_until('postgres', "SELECT kv.get('w', 'n:0') IS NOT NULL") or die;
check_all(1500, 'after a backend crash');

# A crash in the middle of an autosave: a store big enough that a save takes a
# while, autosave every second, killed when the save's temp file appears.
q1($node, "SELECT kv.create_namespace('big', durability => 'wal')");
q1($node, "SELECT kv.mset('big', array_agg('k' || i), array_agg(repeat('v', 200))) FROM generate_series(1, 100000) i");
$node->append_conf('postgresql.conf', "shardkv.autosave_interval = 1\n");
$node->reload;
load(250);
my $dir = $node->data_dir . '/pg_shardkv';
my $seen = 0;
for (1 .. 3000)
{
	opendir my $d, $dir or next;
	$seen = grep { /tmp-/ } readdir $d;
	closedir $d;
	last if $seen;
	select undef, undef, undef, 0.005;
}
ok($seen, 'caught an autosave in progress');
kill9_postmaster($node);
ok(restart_after_kill($node), 'restarted after a kill -9 during an autosave');
check_all(1750, 'after a crash during an autosave');
is(q1($node, "SELECT count(*) FROM generate_series(1, 100000) i WHERE kv.get('big', 'k' || i) = repeat('v', 200)"),
	100000, 'the big namespace is whole');
$node->append_conf('postgresql.conf', "shardkv.autosave_interval = 0\n");
$node->reload;

# snapshot -> wal -> snapshot: nothing lost at either switch.
q1($node, "SELECT kv.set('s', 'before', 'b')");
q1($node, "SELECT kv.alter_namespace('s', durability => 'wal')");
q1($node, "SELECT kv.set('s', 'during', 'd')");
q1($node, "SELECT kv.incr('s', 'count', 5)");
kill9_postmaster($node);
ok(restart_after_kill($node), 'restarted after a crash of a switched namespace');
is(q1($node, "SELECT kv.get('s', 'before') || kv.get('s', 'during') || kv.get('s', 'count') || durability FROM kv.namespaces() WHERE name = 's'"),
	'bd5wal', 'switched to wal: older and newer keys survive a crash');
q1($node, "SELECT kv.alter_namespace('s', durability => 'snapshot')");
q1($node, "SELECT kv.set('s', 'after', 'a')");
$node->restart;
is(q1($node, "SELECT kv.get('s', 'before') || kv.get('s', 'during') || kv.get('s', 'after') || durability FROM kv.namespaces() WHERE name = 's'"),
	'bdasnapshot', 'switched back to snapshot: kept, and saved at a clean shutdown');

# The rules that keep replay exact.
my ($ret, $stdout, $stderr) = $node->psql('postgres',
	"SELECT kv.create_namespace('e', durability => 'wal', eviction => 'allkeys-lru')");
like($stderr, qr/must have eviction 'none'/, 'wal needs eviction none');
($ret, $stdout, $stderr) = $node->psql('postgres', "SELECT kv.load()");
like($stderr, qr/cannot replace namespace "big", which has durability 'wal'/, 'kv.load refuses to replace a wal namespace');
q1($node, "SET shardkv.default_durability = 'wal'; SELECT kv.create_namespace('d')");
is(q1($node, "SELECT durability FROM kv.namespaces() WHERE name = 'd'"), 'wal', 'shardkv.default_durability');

# Clean stop, start: no recovery at all, everything from the shutdown save.
$node->restart;
check_all(1750, 'after a clean restart');

# The checkpoint guard: a checkpoint waits until a snapshot holds every record
# before its REDO point, here for as long as the snapshot directory refuses
# the save.
my $sdir = $node->data_dir . '/pg_shardkv';
q1($node, "SELECT kv.set('w', 'g', '1')");
chmod 0000, $sdir or die;
my ($cout, $cerr) = ('', '');
my $ch = IPC::Run::start([ 'psql', '-X', '-d', $node->connstr('postgres'), '-c', 'CHECKPOINT' ],
	'>', \$cout, '2>', \$cerr);
sleep 2;
is(q1($node, "SELECT count(*) FROM pg_stat_activity WHERE query = 'CHECKPOINT' AND state = 'active'"),
	'1', 'a checkpoint waits while the guard cannot save');
chmod 0700, $sdir or die;
$ch->finish;
is($cerr, '', 'and completes once it can');

# pg_walinspect describes the records (rm_identify, rm_desc).
q1($node, "CREATE EXTENSION pg_walinspect");
my $lsn = q1($node, "SELECT pg_current_wal_insert_lsn()");
q1($node, "SELECT kv.set('w', 'wd', 'hello'); SELECT kv.incr('w', 'wi', 41); SELECT kv.delete('w', 'wd')");
my $desc = q1($node, "SELECT string_agg(record_type || ': ' || description, E'\\n' ORDER BY start_lsn)
	FROM pg_get_wal_records_info('$lsn', pg_current_wal_flush_lsn()) WHERE resource_manager = 'shardkv'");
like($desc, qr/KEY: ns w; put key "wd" type text value "hello"/, 'rm_desc: put');
like($desc, qr/KEY: ns w; put key "wi" type int value "41"/, 'rm_desc: an incr is the number');
like($desc, qr/KEY: ns w; del key "wd"/, 'rm_desc: del');
note $desc;
my $walfile = $node->safe_psql('postgres', "SELECT pg_walfile_name('$lsn')");
my ($wd_out, $wd_err) = run_command([ 'pg_waldump', '-s', $lsn, $node->data_dir . "/pg_wal/$walfile" ]);
note $wd_out;
like($wd_out, qr/custom128/, 'pg_waldump shows the records under the custom rmgr id');

$node->stop;
done_testing();
