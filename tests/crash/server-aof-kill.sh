#!/bin/sh
# server-aof-kill.sh -- kill -9 shardkv-server under a 50-client INCR load with
# the append-only file on, again and again (CRASH_QUICK=1: 3 rounds per fsync
# policy, else 20).  Each client increments its own counter and remembers the
# last value the server acknowledged.  After every restart:
#   appendfsync always:   every acknowledged increment is there (value >= acked),
#                         and at most the one in flight beyond it (<= acked + 1);
#   appendfsync everysec: the loss (acked - value) is measured and printed; a
#                         kill -9 leaves the page cache intact, so it must be
#                         within one second of writes (here: 0 expected).
# Half the rounds also run BGREWRITEAOF right before the kill.
#
# Port 6397; the server is started and killed by PID.  Ends with "N passed, M failed".
set -u
cd "$(dirname "$0")/../.."
BIN=${SHARDKV_SERVER:-build/shardkv-server}
ROUNDS=20
[ "${CRASH_QUICK:-1}" = 1 ] && ROUNDS=3
if [ ! -x "$BIN" ]; then
	echo "FAIL missing $BIN"; echo "0 passed, 1 failed"; exit 1
fi
WORK=$(mktemp -d /tmp/skv-crash-aof-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
/usr/bin/python3 - "$BIN" "$WORK" "$ROUNDS" <<'EOF'
import os, random, signal, socket, subprocess, sys, threading, time

BIN, WORK, ROUNDS = sys.argv[1], sys.argv[2], int(sys.argv[3])
PORT = 6397
CLIENTS = 50
rnd = random.Random()
seed = rnd.randrange(1 << 30)
rnd.seed(seed)
print("seed %d, %d rounds per policy, %d clients" % (seed, ROUNDS, CLIENTS), flush=True)
passed = failed = 0


def start(d, fsync, log):
    p = subprocess.Popen([BIN, "--port", str(PORT), "--threads", "2", "--dir", d, "--save", "",
                          "--appendonly", "yes", "--appendfsync", fsync], stdout=log, stderr=subprocess.STDOUT)
    end = time.time() + 30
    while time.time() < end:
        if p.poll() is not None:
            return p
        try:
            s = socket.create_connection(("127.0.0.1", PORT), timeout=1)
            s.sendall(b"PING\r\n")
            if s.recv(10) == b"+PONG\r\n":
                s.close()
                return p
            s.close()
        except OSError:
            pass
        time.sleep(0.05)
    return p


class Conn:
    def __init__(self):
        self.s = socket.create_connection(("127.0.0.1", PORT), timeout=10)
        self.buf = b""

    def cmd(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.s.sendall(out)
        while b"\r\n" not in self.buf:
            d = self.s.recv(4096)
            if not d:
                raise ConnectionError("closed")
            self.buf += d
        i = self.buf.index(b"\r\n")
        line, self.buf = self.buf[:i], self.buf[i + 2:]
        if line[:1] == b"$":
            n = int(line[1:])
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self.buf += self.s.recv(4096)
            v, self.buf = self.buf[:n], self.buf[n + 2:]
            return v
        return line


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
        print("ok   " + what, flush=True)
    else:
        failed += 1
        print("FAIL " + what, flush=True)


for fsync in ("always", "everysec"):
    d = os.path.join(WORK, fsync)
    os.makedirs(d)
    logpath = os.path.join(WORK, fsync + ".log")
    log = open(logpath, "ab")
    acked = [0] * CLIENTS
    total_loss = worst = 0
    total_acks = 0
    for rnd_i in range(ROUNDS):
        p = start(d, fsync, log)
        if p.poll() is not None:
            check(False, "%s round %d: server did not start: %s" % (fsync, rnd_i, open(logpath, "rb").read()[-2000:]))
            break
        stop = threading.Event()
        counts = [0] * CLIENTS

        def worker(n):
            try:
                c = Conn()
                while not stop.is_set():
                    v = int(c.cmd("INCR", "c%d" % n)[1:])
                    acked[n] = v
                    counts[n] += 1
            except (OSError, ConnectionError, ValueError):
                pass
        ts = [threading.Thread(target=worker, args=(n,)) for n in range(CLIENTS)]
        t_start = time.time()
        for t in ts:
            t.start()
        time.sleep(rnd.uniform(0.5, 1.5))
        if rnd_i % 2 == 1:
            try:
                Conn().cmd("BGREWRITEAOF")
            except (OSError, ConnectionError):
                pass
            time.sleep(rnd.uniform(0.0, 0.2))
        t_kill = time.time()
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
        stop.set()
        for t in ts:
            t.join()
        round_acks = sum(counts)
        total_acks += round_acks
        p = start(d, fsync, log)
        if p.poll() is not None:
            check(False, "%s round %d: restart failed: %s" % (fsync, rnd_i, open(logpath, "rb").read()[-2000:]))
            break
        c = Conn()
        got = [int(c.cmd("GET", "c%d" % n) or 0) for n in range(CLIENTS)]
        lost = sum(max(0, acked[n] - got[n]) for n in range(CLIENTS))
        ahead = [n for n in range(CLIENTS) if got[n] > acked[n] + 1]
        total_loss += lost
        worst = max(worst, lost)
        if fsync == "always":
            check(lost == 0 and not ahead, "always round %d: %d increments acknowledged, %d lost, %d ahead" %
                  (rnd_i, round_acks, lost, len(ahead)))
        else:
            # the bound: one second of writes at this round's rate
            per_sec = int(round_acks / max(0.001, t_kill - t_start))
            check(lost <= per_sec and not ahead, "everysec round %d: %d increments acknowledged, %d lost (bound %d)" %
                  (rnd_i, round_acks, lost, per_sec))
        acked = got[:]  # the next round continues from what survived
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
    print("%s: %d increments acknowledged over %d rounds, %d lost in total, worst round %d" %
          (fsync, total_acks, ROUNDS, total_loss, worst), flush=True)
    log.close()

print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
EOF
