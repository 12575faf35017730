#!/bin/sh
# server-fault-io.sh -- shardkv-server saves whose write, fsync, rename or
# directory fsync fails, through the engine's SHARDKV_FAULT_IO seam (see
# engine/kv.h).  SAVE and BGSAVE fail with an error that names the cause, INFO
# says rdb_last_bgsave_status:err, the server keeps serving, no temp file is
# left, the previous snapshot stays byte-identical (except after a failed
# directory fsync, where the new file is already in place) and a restart
# without the fault loads it.  The same quick and full (CRASH_QUICK).
#
# Port 6394; servers are started and stopped by PID.  Ends with "N passed, M failed".
set -u
cd "$(dirname "$0")/../.."
BIN=${SHARDKV_SERVER:-build/shardkv-server}
if [ ! -x "$BIN" ]; then
	echo "FAIL missing $BIN"; echo "0 passed, 1 failed"; exit 1
fi
WORK=$(mktemp -d /tmp/skv-crash-fault-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
/usr/bin/python3 - "$BIN" "$WORK" <<'EOF'
import hashlib, os, signal, socket, subprocess, sys, time

BIN, WORK = sys.argv[1], sys.argv[2]
PORT = 6394
LOG = os.path.join(WORK, "server.log")
passed = failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
        print("ok   " + what, flush=True)
    else:
        failed += 1
        print("FAIL " + what, flush=True)
    return cond


class Conn:
    def __init__(self, timeout=10):
        self.s = socket.create_connection(("127.0.0.1", PORT), timeout=timeout)
        self.f = self.s.makefile("rb")

    def cmd(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.s.sendall(b"".join(out))
        line = self.f.readline()
        t, rest = line[:1], line[1:-2]
        if t == b"+":
            return rest.decode()
        if t == b"-":
            return "ERROR " + rest.decode()
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            return None if n < 0 else self.f.read(n + 2)[:-2]
        raise ConnectionError("unexpected reply %r" % line)

    def info(self, name):
        for ln in self.cmd("INFO", "persistence").decode().splitlines():
            if ln.startswith(name + ":"):
                return ln.split(":", 1)[1]
        return None


def start(d, fault=None):
    env = dict(os.environ)
    env.pop("SHARDKV_FAULT_IO", None)
    if fault:
        env["SHARDKV_FAULT_IO"] = fault
    p = subprocess.Popen([BIN, "--port", str(PORT), "--threads", "2", "--dir", d, "--save", ""],
                         stdout=open(LOG, "ab"), stderr=subprocess.STDOUT, env=env)
    end = time.time() + 30
    while time.time() < end and p.poll() is None:
        try:
            c = Conn(1)
            if c.cmd("PING") == "PONG":
                return p, c
        except OSError:
            time.sleep(0.05)
    raise SystemExit("server did not start: " + open(LOG).read()[-2000:])


def kill(p):
    if p.poll() is None:
        os.kill(p.pid, signal.SIGKILL)
        p.wait()


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


# fault, errno text, is the new file in place afterwards
CASES = [("fsync=EIO", "Input/output error", False), ("rename=ENOSPC", "No space left on device", False),
         ("write=ENOSPC@3", "No space left on device", False), ("open=EACCES", "Permission denied", False),
         ("dirsync=EIO", "Input/output error", True)]
proc = None
try:
    for fault, text, replaced in CASES:
        d = os.path.join(WORK, fault.replace("=", "-").replace("@", "-"))
        dump = os.path.join(d, "dump.skv")
        proc, c = start(d)
        for i in range(1000):
            c.cmd("SET", "old:%d" % i, "v%d" % i)
        c.cmd("SAVE")
        c.s.close()
        kill(proc)
        good = sha(dump)

        proc, c = start(d, fault)
        check(c.cmd("DBSIZE") == 1000, "%s: the snapshot loads (a load reads, it does not write)" % fault)
        for i in range(1000):
            c.cmd("SET", "new:%d" % i, os.urandom(200).hex())
        err = c.cmd("SAVE")
        check(err.startswith("ERROR ") and text in err and "SHARDKV_FAULT_IO" in err,
              "%s: SAVE fails naming the cause: %r" % (fault, err[:200]))
        check(c.info("rdb_last_bgsave_status") == "err", "%s: INFO rdb_last_bgsave_status:err" % fault)
        check(c.cmd("BGSAVE") == "Background saving started", "%s: BGSAVE starts" % fault)
        end = time.time() + 30
        while c.info("rdb_bgsave_in_progress") != "0" and time.time() < end:
            time.sleep(0.01)
        check(c.info("rdb_last_bgsave_status") == "err", "%s: BGSAVE fails too" % fault)
        check(c.cmd("SET", "still", "serving") == "OK" and c.cmd("GET", "new:5") is not None,
              "%s: the server keeps serving" % fault)
        strays = sorted(n for n in os.listdir(d) if n != "dump.skv")
        check(strays == [], "%s: no temp file left (%r)" % (fault, strays))
        if replaced:
            check(sha(dump) != good, "%s: the new file is in place (only the directory fsync failed)" % fault)
        else:
            check(sha(dump) == good, "%s: the previous snapshot is byte-identical" % fault)
        c.s.close()
        kill(proc)

        proc, c = start(d)
        want = 2000 if replaced else 1000
        check(c.cmd("DBSIZE") == want and c.cmd("GET", "old:7") == b"v7",
              "%s: a restart without the fault loads %d keys" % (fault, want))
        c.s.close()
        kill(proc)
finally:
    if proc is not None:
        kill(proc)
print("%d passed, %d failed" % (passed, failed))
sys.exit(0 if failed == 0 else 1)
EOF
