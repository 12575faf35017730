#!/bin/sh
# engine-snapshot-kill.sh -- crash tests of the engine's snapshot files.
#
#   1. kill -9 in the middle of saves, in a loop: a process saves one namespace
#      again and again into a file that also holds another namespace (so every
#      save merges, snapshot.c); after each kill the file must load, hold the
#      other namespace, and hold the saved one whole, from one save (every key
#      of one generation), never a mix or a torn file.
#   2. a full disk (a tiny tmpfs; needs root, skipped otherwise): the save fails
#      with KV_EIO / ENOSPC, the previous file still loads and no temp file is
#      left; after space is freed the save succeeds.
#   3. SHARDKV_FAULT_IO=fsync=EIO and rename=EIO through a real process: the save
#      fails with KV_EIO and the previous file is untouched.
#
# A small C driver (below) is built against build/libshardkv.a.
# CRASH_QUICK=1 (default): 8 kills; 0: 60 kills.  Ends with "N passed, M failed".
set -u
cd "$(dirname "$0")/../.."
: "${CRASH_QUICK:=1}"
ROUNDS=8
[ "$CRASH_QUICK" = 0 ] && ROUNDS=60
passed=0; failed=0
ok() { echo "ok   $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; failed=$((failed + 1)); }

W=$(mktemp -d "${TMPDIR:-/tmp}/shardkv-crash-snap-XXXXXX")
MNT=""
cleanup() {
	[ -n "$MNT" ] && umount "$MNT" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT INT TERM

make --no-print-directory -s build/libshardkv.a >/dev/null 2>&1 || { fail "build libshardkv.a"; echo "$passed passed, $failed failed"; exit 1; }

cat >"$W/drv.c" <<'EOF'
/* driver: init DIR | loop DIR NKEYS | check DIR NKEYS | save1 FILE NKEYS VLEN | check1 FILE NKEYS */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kv.h"

static kv_env *env;
static char path[4096];

static kv_ns *ns_of(const char *name)
{
	kv_ns *ns = NULL;
	int rc = kv_ns_create(env, name, NULL);
	if ((rc != KV_OK && rc != KV_ENSEXISTS) || kv_ns_open(env, name, &ns) != KV_OK) {
		fprintf(stderr, "namespace %s: %s\n", name, kv_strerror(rc));
		exit(2);
	}
	return ns;
}

static void fill(kv_ns *ns, long n, long vlen, long gen)
{
	char v[4096];
	memset(v, 'x', sizeof v);
	int l = snprintf(v, sizeof v, "%ld:", gen);
	v[l] = 'x';
	for (long i = 0; i < n; i++) {
		char k[32];
		int kl = snprintf(k, sizeof k, "key:%ld", i);
		if (kv_set(ns, k, (size_t)kl, v, (size_t)vlen, KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL) != KV_OK)
			exit(2);
	}
}

/* every key of "k" from one generation: 0 ok, 1 not */
static int check_k(long n)
{
	kv_ns *ns;
	if (kv_ns_open(env, "k", &ns) != KV_OK)
		return 0; /* no save of k finished before the kill: only "other" */
	kv_ns_stats st;
	kv_ns_stats_get(ns, &st);
	if (st.keys != (uint64_t)n) {
		fprintf(stderr, "k holds %llu keys, not %ld\n", (unsigned long long)st.keys, n);
		return 1;
	}
	kv_buf b = KV_BUF_INIT, first = KV_BUF_INIT;
	for (long i = 0; i < n; i++) {
		char k[32];
		int kl = snprintf(k, sizeof k, "key:%ld", i);
		if (kv_get(ns, k, (size_t)kl, i ? &b : &first) != KV_OK)
			return 1;
		if (i && (b.len != first.len || memcmp(b.data, first.data, b.len) != 0)) {
			fprintf(stderr, "key:%ld is from another save than key:0\n", i);
			return 1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	kv_config cfg;
	kv_config_init(&cfg);
	cfg.memory = (size_t)256 << 20;
	if (argc < 3 || kv_env_open(&cfg, &env) != KV_OK)
		return 2;
	kv_error err;
	const char *mode = argv[1];
	if (strcmp(mode, "init") == 0 || strcmp(mode, "loop") == 0 || strcmp(mode, "check") == 0)
		snprintf(path, sizeof path, "%s/kill.snap", argv[2]);
	else
		snprintf(path, sizeof path, "%s", argv[2]);
	long n = argc > 3 ? atol(argv[3]) : 0;
	if (strcmp(mode, "init") == 0) {
		kv_ns *o = ns_of("other");
		kv_set(o, "o", 1, "other", 5, KV_T_TEXT, KV_EXPIRE_NEVER, 0, NULL);
		return kv_save(env, NULL, path, &err) == KV_OK ? 0 : 2;
	}
	if (strcmp(mode, "loop") == 0) {
		kv_ns *ns = ns_of("k");
		for (long gen = 1;; gen++) {
			fill(ns, n, 200, gen);
			if (kv_save(env, "k", path, &err) != KV_OK) {
				fprintf(stderr, "save: %s\n", err.msg);
				return 2;
			}
			if (gen == 1) { /* tell the script a first save is complete */
				printf("saved\n");
				fflush(stdout);
			}
		}
	}
	if (strcmp(mode, "check") == 0 || strcmp(mode, "check1") == 0) {
		if (kv_load(env, path, NULL, NULL, &err) != KV_OK) {
			fprintf(stderr, "load: %s\n", err.msg);
			return 1;
		}
		if (strcmp(mode, "check") == 0) {
			kv_ns *o;
			kv_buf b = KV_BUF_INIT;
			if (kv_ns_open(env, "other", &o) != KV_OK || kv_get(o, "o", 1, &b) != KV_OK || b.len != 5) {
				fprintf(stderr, "namespace other was lost\n");
				return 1;
			}
		}
		return check_k(n);
	}
	if (strcmp(mode, "save1") == 0) {
		fill(ns_of("k"), n, atol(argv[4]), 1);
		int rc = kv_save(env, "k", path, &err);
		printf("%d %d %s\n", rc, rc == KV_OK ? 0 : err.sys_errno, rc == KV_OK ? "" : err.msg);
		return rc == KV_OK ? 0 : rc == KV_EIO ? 3 : 4;
	}
	return 2;
}
EOF
if ! cc -std=c11 -D_GNU_SOURCE -O1 -Iengine "$W/drv.c" build/libshardkv.a -lpthread -lm -o "$W/drv" 2>"$W/cc.log"; then
	cat "$W/cc.log"; fail "build the driver"; echo "$passed passed, $failed failed"; exit 1
fi
D="$W/drv"
tmps() { ls "$1" | grep -c '\.tmp-' ; }

# ---------------------------------------------------------------- 1. kill -9
mkdir "$W/kill"
"$D" init "$W/kill" || fail "initial full save"
bad=0; mid=0
r=0
# more rounds until one kill lands inside a save (about a third do)
while [ "$r" -lt "$ROUNDS" ] || { [ "$mid" = 0 ] && [ "$r" -lt $((ROUNDS * 4)) ]; }; do
	r=$((r + 1))
	fifo="$W/ready"; rm -f "$fifo"; mkfifo "$fifo"
	"$D" loop "$W/kill" 20000 >"$fifo" 2>"$W/loop.err" &
	pid=$!
	read -r _ <"$fifo"            # the first save of this process is complete
	sleep "0.$(awk -v s="$r$$" 'BEGIN{srand(s); printf "%03d", int(rand()*400)}')"
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	[ "$(tmps "$W/kill")" -gt 0 ] && mid=$((mid + 1))
	if ! "$D" check "$W/kill" 20000 2>"$W/check.err"; then
		bad=$((bad + 1)); echo "    round $r: $(cat "$W/check.err")"
	fi
	rm -f "$W"/kill/*.tmp-*
done
if [ "$bad" = 0 ]; then ok "kill -9 during $r merging saves: the file always loads whole ($mid kills hit a save)"
else fail "kill -9 during saves: $bad of $r files were not one save's image"; fi
[ "$mid" -gt 0 ] && ok "kills landed in the middle of a save ($mid of $r left a temp file)" \
	|| fail "no kill landed in the middle of a save: the test did not test anything"

# ---------------------------------------------------------------- 2. full disk
MNT="$W/full"; mkdir "$MNT"
if mount -t tmpfs -o size=1m tmpfs "$MNT" 2>/dev/null; then
	if "$D" save1 "$MNT/f.snap" 100 100 >/dev/null && "$D" check1 "$MNT/f.snap" 100; then
		sum0=$(cksum <"$MNT/f.snap")
		dd if=/dev/zero of="$MNT/filler" bs=4k count=1000 2>/dev/null
		rm -f "$MNT/filler"; dd if=/dev/zero of="$MNT/filler" bs=4k count=150 2>/dev/null
		out=$("$D" save1 "$MNT/f.snap" 3000 400); rc=$?
		if [ "$rc" = 3 ] && echo "$out" | grep -q "^-30750 28 "; then ok "full disk: KV_EIO with ENOSPC ($out)"
		else fail "full disk: wanted KV_EIO/ENOSPC, got rc $rc: $out"; fi
		if [ "$(cksum <"$MNT/f.snap")" = "$sum0" ] && "$D" check1 "$MNT/f.snap" 100 && [ "$(tmps "$MNT")" = 0 ]; then
			ok "full disk: the previous file is intact and loads, no temp file left"
		else fail "full disk: the previous file changed or a temp file was left"; fi
		rm -f "$MNT/filler"
		if "$D" save1 "$MNT/f.snap" 1000 400 >/dev/null && "$D" check1 "$MNT/f.snap" 1000; then
			ok "full disk: with space again the save succeeds"
		else fail "full disk: the save after freeing space failed"; fi
	else fail "full disk: the first small save failed"; fi
	umount "$MNT"; MNT=""
elif [ "$(id -u)" = 0 ]; then
	fail "full disk: root could not mount a tmpfs on $MNT"
else
	echo "skip full disk: mounting a tmpfs needs root"
fi

# ---------------------------------------------------------------- 3. fault seam
mkdir "$W/fault"
"$D" save1 "$W/fault/f.snap" 50 10 >/dev/null || fail "fault: the first save failed"
sum0=$(cksum <"$W/fault/f.snap")
for spec in fsync=EIO rename=EIO write=EIO@2; do
	out=$(SHARDKV_FAULT_IO=$spec "$D" save1 "$W/fault/f.snap" 500 100); rc=$?
	if [ "$rc" = 3 ] && echo "$out" | grep -q "^-30750 5 .*injected by SHARDKV_FAULT_IO" \
	   && [ "$(cksum <"$W/fault/f.snap")" = "$sum0" ] && [ "$(tmps "$W/fault")" = 0 ] \
	   && "$D" check1 "$W/fault/f.snap" 50; then
		ok "SHARDKV_FAULT_IO=$spec: KV_EIO/EIO, previous file intact"
	else fail "SHARDKV_FAULT_IO=$spec: rc $rc: $out"; fi
done

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
