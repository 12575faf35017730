#!/bin/sh
# server-full-disk.sh -- shardkv-server with --dir on a full disk: a 2 MB tmpfs
# (needs root; skipped otherwise).  SAVE and BGSAVE fail with a clear error and
# INFO says rdb_last_bgsave_status:err; the server keeps serving; the previous
# snapshot stays byte-identical and loads at the next start; no temp file is
# left behind; a SIGTERM whose final save fails exits non-zero and says so; once
# space is back, saves succeed again.  The same quick and full (CRASH_QUICK).
#
# Port 6394; the server is started and stopped by PID.  Ends with "N passed, M failed".
set -u
cd "$(dirname "$0")/../.."
BIN=${SHARDKV_SERVER:-build/shardkv-server}
if [ "$(id -u)" != 0 ]; then
	echo "skip server-full-disk: mounting a tmpfs needs root"; echo "0 passed, 0 failed"; exit 0
fi
if [ ! -x "$BIN" ]; then
	echo "FAIL missing $BIN"; echo "0 passed, 1 failed"; exit 1
fi
WORK=$(mktemp -d /tmp/skv-crash-disk-XXXXXX)
mkdir -p "$WORK/disk"
if ! mount -t tmpfs -o size=2m tmpfs "$WORK/disk"; then
	echo "FAIL cannot mount a tmpfs on $WORK/disk"; echo "0 passed, 1 failed"; rm -rf "$WORK"; exit 1
fi
trap 'umount "$WORK/disk" 2>/dev/null; rm -rf "$WORK"' EXIT
/usr/bin/python3 - "$BIN" "$WORK" <<'EOF'
import hashlib, os, signal, socket, subprocess, sys, time

BIN, WORK = sys.argv[1], sys.argv[2]
PORT = 6394
DIR = os.path.join(WORK, "disk", "snap")
DUMP = os.path.join(DIR, "dump.skv")
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
        out = self.cmd("INFO", "persistence").decode()
        for ln in out.splitlines():
            if ln.startswith(name + ":"):
                return ln.split(":", 1)[1]
        return None


def start():
    p = subprocess.Popen([BIN, "--port", str(PORT), "--threads", "2", "--dir", DIR, "--save", ""],
                         stdout=open(LOG, "ab"), stderr=subprocess.STDOUT)
    end = time.time() + 30
    while time.time() < end and p.poll() is None:
        try:
            c = Conn(1)
            if c.cmd("PING") == "PONG":
                return p, c
        except OSError:
            time.sleep(0.05)
    raise SystemExit("server did not start: " + open(LOG).read()[-2000:])


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def strays():
    return sorted(n for n in os.listdir(DIR) if n != "dump.skv")


def wait_bgsave(c):
    end = time.time() + 30
    while c.info("rdb_bgsave_in_progress") != "0" and time.time() < end:
        time.sleep(0.01)


proc = None
try:
    proc, c = start()
    for i in range(1000):
        c.cmd("SET", "small:%d" % i, "v%d" % i)
    check(c.cmd("SAVE") == "OK", "SAVE of 1000 small keys fits on the 2 MB disk")
    good = sha(DUMP)
    check(c.info("rdb_last_bgsave_status") == "ok", "INFO: rdb_last_bgsave_status:ok")

    for i in range(40):
        c.cmd("SET", "big:%d" % i, os.urandom(32 * 1024).hex())  # 64 KB each, 2.5 MB in all
    err = c.cmd("SAVE")
    print("     SAVE on a full disk answered: %r" % err, flush=True)
    check(isinstance(err, str) and err.startswith("ERROR ") and "No space left on device" in err,
          "SAVE fails with an error that names the cause")
    check(c.info("rdb_last_bgsave_status") == "err", "INFO: rdb_last_bgsave_status:err after SAVE")
    check(sha(DUMP) == good, "the previous snapshot is byte-identical")
    check(strays() == [], "no temp file left after SAVE (%r)" % strays())
    check(c.cmd("PING") == "PONG" and c.cmd("SET", "after", "1") == "OK" and c.cmd("GET", "big:3") is not None,
          "the server keeps serving reads and writes")

    check(c.cmd("BGSAVE") == "Background saving started", "BGSAVE starts")
    wait_bgsave(c)
    check(c.info("rdb_last_bgsave_status") == "err", "INFO: rdb_last_bgsave_status:err after BGSAVE")
    check(sha(DUMP) == good and strays() == [], "after BGSAVE: previous snapshot intact, no temp file")
    check("No space left on device" in open(LOG, errors="replace").read(), "the log names the cause")

    c.s.close()
    os.kill(proc.pid, signal.SIGTERM)
    code = proc.wait(15)
    log = open(LOG, errors="replace").read()
    check(code != 0 and "Error trying to save the DB" in log,
          "SIGTERM whose final save fails exits non-zero (%s) and logs why" % code)
    check(sha(DUMP) == good and strays() == [], "after the failed final save: previous snapshot intact")

    proc, c = start()
    check(c.cmd("DBSIZE") == 1000 and c.cmd("GET", "small:999") == b"v999" and c.cmd("GET", "big:1") is None,
          "a restart loads the previous snapshot: the 1000 keys saved before the disk filled")
    check(c.cmd("SAVE") == "OK" and c.info("rdb_last_bgsave_status") == "ok",
          "with space back, SAVE succeeds and INFO says ok")
    c.s.close()
finally:
    if proc is not None and proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
print("%d passed, %d failed" % (passed, failed))
sys.exit(0 if failed == 0 else 1)
EOF
