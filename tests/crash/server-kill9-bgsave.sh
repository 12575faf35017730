#!/bin/sh
# server-kill9-bgsave.sh -- kill -9 shardkv-server at random moments while
# BGSAVE runs under write load, again and again (CRASH_QUICK=1: 3 rounds, else
# 20).  Every restart must succeed, and every key acknowledged before the start
# of the last BGSAVE that completed must be there with its value: "a crash loses
# what was written after the last snapshot", and nothing before it.
#
# Port 6393; the server is started and killed by PID.  Ends with "N passed, M failed".
set -u
cd "$(dirname "$0")/../.."
BIN=${SHARDKV_SERVER:-build/shardkv-server}
ROUNDS=20
[ "${CRASH_QUICK:-1}" = 1 ] && ROUNDS=3
if [ ! -x "$BIN" ]; then
	echo "FAIL missing $BIN"; echo "0 passed, 1 failed"; exit 1
fi
WORK=$(mktemp -d /tmp/skv-crash-bgsave-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
/usr/bin/python3 - "$BIN" "$WORK" "$ROUNDS" <<'EOF'
import os, random, signal, socket, subprocess, sys, threading, time

BIN, WORK, ROUNDS = sys.argv[1], sys.argv[2], int(sys.argv[3])
PORT = 6393
rnd = random.Random()
seed = rnd.randrange(1 << 30)
rnd.seed(seed)
print("seed %d, %d rounds" % (seed, ROUNDS), flush=True)
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
        return self.reply()

    def reply(self):
        line = self.f.readline()
        if not line:
            raise ConnectionError("closed")
        t, rest = line[:1], line[1:-2]
        if t in (b"+", b"-"):
            return rest.decode() if t == b"+" else Exception(rest.decode())
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.f.read(n + 2)
            return data[:-2]
        if t == b"*":
            return [self.reply() for _ in range(int(rest))]
        raise ConnectionError("bad reply %r" % line)

    def close(self):
        self.s.close()


def start():
    log = open(os.path.join(WORK, "server.log"), "ab")
    p = subprocess.Popen([BIN, "--port", str(PORT), "--threads", "2", "--dir", os.path.join(WORK, "data"),
                          "--save", ""], stdout=log, stderr=subprocess.STDOUT)
    end = time.time() + 30
    while time.time() < end:
        if p.poll() is not None:
            return p, False
        try:
            c = Conn(1)
            ok = c.cmd("PING") == "PONG"
            c.close()
            if ok:
                return p, True
        except OSError:
            time.sleep(0.05)
    return p, False


def missing_keys(c, want):
    """Keys of want whose value differs on the server (MGET in chunks)."""
    keys, bad = list(want), []
    for i in range(0, len(keys), 1000):
        chunk = keys[i:i + 1000]
        got = c.cmd("MGET", *chunk)
        bad += [k for k, v in zip(chunk, got) if v != want[k]]
    return bad


def info_field(c, name):
    for ln in c.cmd("INFO", "persistence").decode().splitlines():
        if ln.startswith(name + ":"):
            return ln.split(":", 1)[1]
    return None


guaranteed = {}      # key -> value acknowledged before the start of a completed BGSAVE
acked = {}           # every acknowledged write of this server life
proc = None
try:
    for rnd_i in range(ROUNDS):
        proc, up = start()
        if not check(up, "round %d: restart succeeds" % rnd_i):
            print(open(os.path.join(WORK, "server.log"), "rb").read().decode(errors="replace")[-2000:])
            break
        c = Conn(30)
        data = os.path.join(WORK, "data")
        temps = [n for n in os.listdir(data) if ".tmp-" in n] if os.path.isdir(data) else []
        check(not temps, "round %d: no temp file of a killed save is left after the restart (%r)" % (rnd_i, temps))
        missing = missing_keys(c, guaranteed)
        check(not missing, "round %d: all %d keys acknowledged before the last completed save are there%s"
              % (rnd_i, len(guaranteed), "" if not missing else " (%d missing, e.g. %r)" % (len(missing), missing[:3])))
        acked = {}
        stop = threading.Event()
        lock = threading.Lock()

        def writer(wid):
            w = Conn(30)
            n = 0
            try:
                while not stop.is_set() and n < 20000:
                    batch = []
                    for _ in range(200):
                        k = "r%d:w%d:%d" % (rnd_i, wid, n)
                        v = ("%d-" % n).encode() * rnd.randint(1, 40)
                        batch.append((k, v))
                        n += 1
                    w.s.sendall(b"".join(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n"
                                         % (len(k), k.encode(), len(v), v) for k, v in batch))
                    for k, v in batch:
                        if w.reply() != "OK":
                            raise ConnectionError("write refused")
                        with lock:
                            acked[k] = v
            except (OSError, ConnectionError):
                pass  # killed under us

        ws = [threading.Thread(target=writer, args=(i,)) for i in range(3)]
        for t in ws:
            t.start()
        time.sleep(0.2)
        # BGSAVEs back to back; a save counts once INFO says it completed and succeeded
        kill_at = time.time() + rnd.uniform(0.3, 1.5)
        saves, saving = 0, "?"
        try:
            while time.time() < kill_at:
                with lock:
                    before = dict(acked)
                last = int(info_field(c, "rdb_last_save_time") or 0)
                if c.cmd("BGSAVE") != "Background saving started":
                    time.sleep(0.01)
                    continue
                while time.time() < kill_at and info_field(c, "rdb_bgsave_in_progress") == "1":
                    time.sleep(0.002)
                if info_field(c, "rdb_bgsave_in_progress") == "0" and \
                        info_field(c, "rdb_last_bgsave_status") == "ok":
                    guaranteed.update(before)
                    saves += 1
                time.sleep(rnd.uniform(0, 0.02))
            saving = info_field(c, "rdb_bgsave_in_progress")
        except (OSError, ConnectionError):
            pass
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        stop.set()
        for t in ws:
            t.join()
        c.close()
        print("     round %d: killed with %d keys acknowledged this round, after %d completed saves"
              " (a save in progress just before the kill: %s)"
              % (rnd_i, len(acked), saves, {"1": "yes", "0": "no"}.get(saving, "?")), flush=True)
    else:
        proc, up = start()
        if check(up, "final restart succeeds"):
            c = Conn(30)
            missing = missing_keys(c, guaranteed)
            check(not missing, "final: all %d keys acknowledged before the last completed save are there"
                  % len(guaranteed))
            check(len(guaranteed) > 1000, "the test saved something (%d keys)" % len(guaranteed))
            c.close()
finally:
    if proc is not None and proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
print("%d passed, %d failed" % (passed, failed))
sys.exit(0 if failed == 0 else 1)
EOF
