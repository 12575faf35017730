"""
coll_diff.py -- a differential harness: the same seeded random command stream
against shardkv-server and Debian's redis-server, replies compared byte for
byte (RESP2 and RESP3).  Used by test_hash_set.py (generators in gen_hash_set.py) and
the zset/list tests, which pass their own generators.

A generator is a function gen(g) -> (argv, mode) where g is a Gen (a seeded
random.Random with key and element pools) and mode says how to compare:
  "exact"   the raw reply bytes must be equal
  "set"     an array/set reply: same header line, same elements in any order
            (SMEMBERS, SINTER, HKEYS ... whose order is the hash table's)
  "pairs"   an array of field, value pairs or a RESP3 map, in any order (HGETALL)
  "shape"   same reply type and element count only (SRANDMEMBER, HRANDFIELD), and for
            an integer its sign (TTL)
  "spop"    a random removal (SPOP): shardkv-server pops; redis-server gets an
            SREM of exactly what was popped, which must remove them all (so the
            two stay equal); errors, nil and empty replies are compared exactly
  "scanall" argv is a *SCAN with cursor "0": each side is iterated to cursor 0
            on its own and the sets of returned elements must be equal
A divergence prints the seed, the step, the command, both replies and the
commands before it, then the run stops (the state of both servers is kept for
the rest of that run only).

Options (run(...) keywords, or the command line):
  asan    run build/asan/shardkv-server (make all builds it) and fail on an
          AddressSanitizer/UBSan report in its log
  bgsave  a thread sends BGSAVE to shardkv-server in a loop while the stream runs
Ports: COLL_PORT (default 6384) for shardkv-server, COLL_REDIS_PORT (6385) for
redis-server.  Every process is stopped by PID (harness.py).

Command line:
  /usr/bin/python3 tests/server/coll_diff.py [--module gen_hash_set] [--seed N]
      [--steps N] [--resp 2,3] [--asan] [--bgsave]
"""
import importlib
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import ROOT, Raw, Server  # noqa: E402

PORT = int(os.environ.get("COLL_PORT", 6384))
REDIS_PORT = int(os.environ.get("COLL_REDIS_PORT", 6385))
REDIS_SERVER = os.environ.get("REDIS_SERVER", "/usr/bin/redis-server")


# ---------------------------------------------------------------- servers

def start_pair(asan=False, extra=(), redis_extra=()):
    """Start shardkv-server and redis-server on the harness ports; returns (skv, rds, tmpdir)."""
    tmp = tempfile.mkdtemp(prefix="skv-coll-diff-")
    binary = os.path.join(ROOT, "build", "asan", "shardkv-server") if asan else None  # None: $SHARDKV_SERVER or build/
    skv = harness.shardkv(PORT, "--dir", tmp, "--save", "", *extra, binary=binary,
                          name="coll-skv").wait_ready(60 if asan else 15)
    rdir = os.path.join(tmp, "redis")
    os.makedirs(rdir)
    rds = Server([REDIS_SERVER, "--port", str(REDIS_PORT), "--bind", "127.0.0.1", "--save", "",
                  "--appendonly", "no", "--dir", rdir, "--daemonize", "no", *redis_extra],
                 REDIS_PORT, "coll-redis").wait_ready()
    return skv, rds, tmp


def stop_pair(skv, rds, tmp):
    import signal
    for s in (skv, rds):
        s.stop(signal.SIGTERM)
    shutil.rmtree(tmp, ignore_errors=True)


def dump_state(conn):
    """Every key of db 0 with its type, content (order-free) and whether it has a TTL."""
    out = {}
    for k in conn.cmd("KEYS", "*"):
        t = conn.cmd("TYPE", k)
        if t == "string":
            v = conn.cmd("GET", k)
        elif t == "hash":
            h = conn.cmd("HGETALL", k)
            v = sorted(zip(h[::2], h[1::2])) if isinstance(h, list) else sorted(h.items())
        elif t == "set":
            v = sorted(conn.cmd("SMEMBERS", k))
        elif t == "zset":
            v = conn.cmd("ZRANGE", k, "0", "-1", "WITHSCORES")
        elif t == "list":
            v = conn.cmd("LRANGE", k, "0", "-1")
        else:
            v = None
        out[k] = (t, v, conn.cmd("PTTL", k) > 0)
    return out


def sanitizer_report(server):
    log = server.read_log()
    for marker in ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer"):
        if marker in log:
            return log
    return None


# ---------------------------------------------------------------- replies

def _read(conn):
    """One reply as a tree: (header_line_bytes, payload_bytes_or_None, [children])."""
    ln = conn.line()
    t = ln[:1]
    if t in (b"$", b"=", b"!") and ln[1:] != b"-1":
        n = int(ln[1:])
        while len(conn.buf) < n + 2:
            conn._fill()
        data, conn.buf = conn.buf[:n], conn.buf[n + 2:]
        return (ln, data, [])
    if t in (b"*", b"~", b">", b"%", b"|") and ln[1:] != b"-1":
        n = int(ln[1:]) * (2 if t in (b"%", b"|") else 1)
        return (ln, None, [_read(conn) for _ in range(n)])
    return (ln, None, [])


def _bytes(tree):
    ln, data, kids = tree
    out = ln + b"\r\n"
    if data is not None:
        out += data + b"\r\n"
    for k in kids:
        out += _bytes(k)
    return out


def _normal(tree, mode):
    ln, data, kids = tree
    if mode == "set" and kids:
        return _bytes((ln, data, [])) + b"".join(sorted(_bytes(k) for k in kids))
    if mode == "pairs" and kids:
        pairs = sorted(_bytes(kids[i]) + _bytes(kids[i + 1]) for i in range(0, len(kids) - 1, 2))
        return _bytes((ln, data, [])) + b"".join(pairs)
    if mode == "shape":  # the type and size; an integer's sign (TTL: -2, -1 or some time)
        if ln[:1] == b":":
            return ln if ln[1:2] == b"-" else b":+"
        return ln[:1] + (ln[1:] if ln[:1] in (b"*", b"~", b"%", b"-") else b"")
    return _bytes(tree)


def _elements(tree):
    return [(_bytes(k)) for k in tree[2]]


def scan_all(conn, argv, limit=100000):
    """Iterate a *SCAN argv (cursor at argv[0] == SCAN, or argv[2] for HSCAN...) to cursor 0."""
    argv = list(argv)
    ci = 1 if argv[0].upper() in (b"SCAN", "SCAN") else 2
    seen, first = set(), None
    cursor = b"0"
    for _ in range(limit):
        argv[ci] = cursor
        conn.send(harness.encode(*argv))
        tree = _read(conn)
        if tree[0][:1] == b"-":
            return _bytes(tree)
        first = first or tree[0]
        cursor = tree[2][0][1]
        elems = tree[2][1][2]
        if argv[0].upper() in (b"HSCAN", "HSCAN", b"ZSCAN", "ZSCAN") and not any(
                str(a).upper() in ("NOVALUES", "B'NOVALUES'") for a in argv):
            for i in range(0, len(elems) - 1, 2):
                seen.add(_bytes(elems[i]) + _bytes(elems[i + 1]))
        else:
            seen.update(_bytes(e) for e in elems)
        if cursor == b"0":
            return b"".join(sorted(seen))
    return b"<scan did not end>"


# ---------------------------------------------------------------- generators' helper

class Gen(random.Random):
    """The random source generators draw from, with small pools so keys collide."""

    def __init__(self, seed):
        super().__init__(seed)
        self.seed_value = seed

    def key(self, prefix, n=4):
        return "%s:%d" % (prefix, self.randrange(n))

    def elem(self, n=40):
        """A field/member: mostly short text, sometimes an integer, binary or empty."""
        r = self.random()
        if r < 0.08:
            return ""
        if r < 0.2:
            return str(self.randrange(-5, 200))
        if r < 0.27:  # no NUL: SORT ALPHA compares as C strings, whose ties Redis leaves unordered
            return bytes(self.randrange(1, 256) for _ in range(self.randrange(1, 6)))
        return "e%d" % self.randrange(n)

    def elems(self, lo=1, hi=6, n=40):
        return [self.elem(n) for _ in range(self.randint(lo, hi))]

    def count(self):
        return self.choice([0, 1, 2, 5, -1, -3, 10, 300, -300])


# ---------------------------------------------------------------- the run

def _send(conn, argv):
    conn.send(harness.encode(*argv))
    return _read(conn)


def _show(argv):
    return " ".join(a if isinstance(a, str) else repr(a) for a in argv)[:300]


def bgsave_loop(stop, port=None):
    """BGSAVE to shardkv-server until stop is set; returns how many were accepted."""
    done = [0]

    def loop():
        try:
            c = Raw(port or PORT, timeout=30)
        except OSError:
            return
        while not stop.is_set():
            r = c.cmd("BGSAVE")
            if isinstance(r, str) and not isinstance(r, harness.Err):
                done[0] += 1
            time.sleep(0.02)
        c.close()
    t = threading.Thread(target=loop, daemon=True)
    t.start()
    return t, done


def run_stream(generators, seed, steps, resp=2, skv_port=None, redis_port=None, context=8, flush=True):
    """
    Run `steps` commands from generators (a list of (weight, gen)) seeded with
    seed on both servers after FLUSHALL (unless flush is false), in RESP
    `resp`.  Returns None when all replies matched, else a text describing the
    first divergence.
    """
    g = Gen(seed)
    a, b = Raw(skv_port or PORT, timeout=30), Raw(redis_port or REDIS_PORT, timeout=30)
    try:
        for c in (a, b):
            if flush:
                c.cmd("FLUSHALL")
            if resp == 3:
                c.cmd("HELLO", "3")
        weights = [w for w, _ in generators]
        fns = [f for _, f in generators]
        history = []
        for step in range(steps):
            gen = g.choices(fns, weights)[0]
            argv, mode = gen(g)
            history.append(argv)
            if mode == "scanall":
                ra, rb = scan_all(a, argv), scan_all(b, argv)
                if ra != rb:
                    return _report(seed, step, resp, argv, ra, rb, history, context)
                continue
            if mode == "spop":
                d = _spop(a, b, argv, resp)
                if d:
                    return _report(seed, step, resp, argv, d[0], d[1], history, context)
                continue
            try:
                ta = _send(a, argv)
            except (ConnectionError, OSError) as e:
                return _report(seed, step, resp, argv, b"<connection lost: %s>" % str(e).encode(), b"",
                               history, context)
            tb = _send(b, argv)
            na, nb = _normal(ta, mode), _normal(tb, mode)
            if na != nb:
                return _report(seed, step, resp, argv, _bytes(ta), _bytes(tb), history, context)
        return None
    finally:
        a.close()
        b.close()


def _spop(a, b, argv, resp):
    """Mode "spop": None if consistent, else (shardkv bytes, redis-server bytes)."""
    ta = _send(a, argv)
    kind = ta[0][:1]
    popped = [k[1] for k in ta[2]] if kind in (b"*", b"~") else [ta[1]] if ta[1] is not None else []
    if not popped:
        tb = _send(b, argv)
        return None if _bytes(ta) == _bytes(tb) else (_bytes(ta), _bytes(tb))
    want = b"$" if len(argv) == 2 else (b"~" if resp == 3 else b"*")
    if any(p is None for p in popped):
        return (_bytes(ta), b"<bulk strings>")
    tb = _send(b, ["SREM", argv[1]] + popped)
    if kind != want or tb[0] != b":%d" % len(popped) or len(set(popped)) != len(popped):
        return (_bytes(ta), b"SREM of the popped members: " + _bytes(tb))
    return None


def _report(seed, step, resp, argv, ra, rb, history, context):
    lines = ["divergence: seed %d step %d RESP%d" % (seed, step, resp),
             "  command:      %s" % _show(argv),
             "  shardkv:      %r" % ra[:600],
             "  redis-server: %r" % rb[:600],
             "  before it:"]
    lines += ["    %s" % _show(h) for h in history[-context - 1:-1]]
    return "\n".join(lines)


def run(generators, seeds, steps, resps=(2, 3), asan=False, bgsave=False, extra=(), redis_extra=()):
    """
    Start both servers, run every seed in every RESP version, stop them.
    Returns a list of divergence texts (empty: all matched).  With asan, a
    sanitizer report in shardkv-server's log is a failure too; with bgsave, at
    least one BGSAVE must have been accepted during the run.
    """
    skv, rds, tmp = start_pair(asan=asan, extra=extra, redis_extra=redis_extra)
    failures = []
    stop = threading.Event()
    saver = bgsave_loop(stop) if bgsave else None
    try:
        for seed in seeds:
            for resp in resps:
                d = run_stream(generators, seed, steps, resp)
                if d:
                    failures.append(d)
                    print(d, flush=True)
                    break
        if not skv.alive():
            failures.append("shardkv-server died: " + skv.read_log())
    finally:
        stop.set()
        if saver:
            saver[0].join(10)
            if saver[1][0] == 0:
                failures.append("the BGSAVE loop never got a save accepted")
        stop_pair(skv, rds, tmp)
        if asan:
            rep = sanitizer_report(skv)
            if rep:
                failures.append("sanitizer report:\n" + rep)
    return failures


def main():
    args = sys.argv[1:]

    def opt(name, default):
        return args[args.index(name) + 1] if name in args else default
    mod = importlib.import_module(opt("--module", "gen_hash_set").replace(".py", ""))
    seed = int(opt("--seed", int(time.time()) % 100000))
    steps = int(opt("--steps", 2000))
    resps = tuple(int(x) for x in opt("--resp", "2,3").split(","))
    print("seed %d, %d steps, RESP %s" % (seed, steps, resps), flush=True)
    fails = run(mod.GENERATORS, [seed], steps, resps, asan="--asan" in args, bgsave="--bgsave" in args)
    print("PASS" if not fails else "FAIL")
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
