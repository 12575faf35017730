"""
harness.py -- a small test harness for shardkv-server: named tests, server
processes started and stopped by PID, raw RESP sockets.

Every server this file starts is recorded and stopped at exit (SIGTERM, then
SIGKILL after a grace period), by PID only.

Filter: `-k WORDS` on the command line (or SKV_TEST_FILTER=WORDS) runs only the
tests whose name or function name contains WORDS (case-insensitive), e.g.
    python3 tests/server/test_harden.py -k glob
A filter that matches no test fails the run, so a typo cannot pass.  `--list`
prints every test name (and its function) without running the tests.
"""
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PASSED = 0
FAILED = 0
FAILURES = []
PROCS = []


def _filter():
    if "-k" in sys.argv[1:-1]:
        return sys.argv[sys.argv.index("-k") + 1].lower()
    return os.environ.get("SKV_TEST_FILTER", "").lower()


FILTER = _filter()
LIST = "--list" in sys.argv[1:]
MATCHED = 0


def test(name):
    """Decorator: run the function now as test `name` and count the result."""
    def wrap(fn):
        global PASSED, FAILED, MATCHED
        if FILTER and FILTER not in name.lower() and FILTER not in fn.__name__.lower():
            return fn
        MATCHED += 1
        if LIST:
            print("%-70s %s" % (name, fn.__name__), flush=True)
            return fn
        t0 = time.time()
        nprocs = len(PROCS)
        try:
            try:
                fn()
            finally:
                # servers a test started must not outlive it (ports are reused)
                for s in PROCS[nprocs:]:
                    s.stop(signal.SIGKILL)
                del PROCS[nprocs:]
            PASSED += 1
            print("ok   %-60s (%.1fs)" % (name, time.time() - t0), flush=True)
        except Exception as e:  # noqa: BLE001 - a test failure of any kind
            FAILED += 1
            FAILURES.append(name)
            print("FAIL %-60s %s" % (name, e), flush=True)
            traceback.print_exc(file=sys.stdout)
        return fn
    return wrap


def eq(got, want, what=""):
    if got != want:
        raise AssertionError("%s: got %r, want %r" % (what, got, want))


def true(cond, what):
    if not cond:
        raise AssertionError(what)


def wait_until(fn, timeout=10.0, what="condition"):
    end = time.time() + timeout
    while time.time() < end:
        try:
            v = fn()
            if v:
                return v
        except Exception:  # noqa: BLE001 - not ready yet
            pass
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


class Server:
    """A server process on 127.0.0.1:port; argv is the full command line."""

    def __init__(self, argv, port, name):
        if port_busy(port):
            raise AssertionError("port %d is already in use by another process; stop it first" % port)
        self.port = port
        self.name = name
        self.log = os.path.join(tempfile.gettempdir(), "skv-test-%s-%d.log" % (name, port))
        self.logf = open(self.log, "wb")
        self.proc = subprocess.Popen(argv, stdout=self.logf, stderr=subprocess.STDOUT)
        PROCS.append(self)

    def wait_ready(self, timeout=15.0):
        # Ready when the server on the port is this process (INFO's process_id):
        # a slow start (ASan) could otherwise take another test's server that
        # bound the port first for ours, which then dies on "Address already in
        # use" while the test talks to the stranger (seen as -OOM replies from a
        # server left with a tiny maxmemory).
        def ready():
            if self.proc.poll() is not None:
                raise AssertionError("%s exited with %s: %s" % (self.name, self.proc.returncode, self.read_log()))
            s = socket.create_connection(("127.0.0.1", self.port), timeout=1)
            try:
                s.sendall(b"INFO server\r\n")
                data = b""
                while b"process_id:" not in data or not data.split(b"process_id:", 1)[1].count(b"\r\n"):
                    if data.startswith(b"-"):
                        return data.startswith(b"-NOAUTH")  # cannot ask who it is
                    d = s.recv(65536)
                    if not d:
                        return False
                    data += d
            finally:
                s.close()
            return int(data.split(b"process_id:", 1)[1].split(b"\r\n", 1)[0]) == self.proc.pid
        end = time.time() + timeout
        while time.time() < end:
            try:
                if ready():
                    return self
            except AssertionError:
                raise
            except Exception:  # noqa: BLE001 - not listening yet
                pass
            time.sleep(0.05)
        raise AssertionError("%s did not become ready: %s" % (self.name, self.read_log()))

    def read_log(self):
        try:
            with open(self.log, "rb") as f:
                return f.read().decode("utf-8", "replace")[-3000:]
        except OSError:
            return ""

    def send_signal(self, sig):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)

    def stop(self, sig=signal.SIGTERM, timeout=20.0):
        """Send sig and wait; returns the exit code (None if it had to be killed)."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
                return None
        self.logf.close()
        return self.proc.returncode

    def alive(self):
        return self.proc.poll() is None


def port_busy(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def shardkv(port, *args, binary=None, name="shardkv"):
    binary = binary or os.environ.get("SHARDKV_SERVER", os.path.join(ROOT, "build", "shardkv-server"))
    return Server([binary, "--port", str(port), "--threads", "2"] + list(args), port, name)


def stop_all():
    for s in PROCS:
        try:
            s.stop(signal.SIGTERM, timeout=10)
        except Exception:  # noqa: BLE001 - best effort at exit
            pass


class Raw:
    """A raw RESP connection: send bytes, read exactly one reply (any type)."""

    def __init__(self, port, timeout=5.0):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def send(self, data):
        self.s.sendall(data)

    def cmd(self, *args):
        self.send(encode(*args))
        return self.reply()

    def _fill(self):
        d = self.s.recv(65536)
        if not d:
            raise ConnectionError("connection closed")
        self.buf += d

    def line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        i = self.buf.index(b"\r\n")
        ln, self.buf = self.buf[:i], self.buf[i + 2:]
        return ln

    def raw_reply(self):
        """One reply as its exact bytes."""
        out = []
        self._raw(out)
        return b"".join(out)

    def _raw(self, out):
        ln = self.line()
        out.append(ln + b"\r\n")
        t = ln[:1]
        if t in (b"$", b"=", b"!") and ln[1:] != b"-1":
            n = int(ln[1:])
            while len(self.buf) < n + 2:
                self._fill()
            out.append(self.buf[:n + 2])
            self.buf = self.buf[n + 2:]
        elif t in (b"*", b"~", b">", b"%", b"|") and ln[1:] != b"-1":
            n = int(ln[1:])
            if t in (b"%", b"|"):
                n *= 2
            for _ in range(n):
                self._raw(out)

    def reply(self):
        """One reply decoded: str for status, bytes for bulk, int, list, dict, None, Err."""
        ln = self.line()
        t, rest = ln[:1], ln[1:]
        if t == b"+":
            return rest.decode()
        if t == b"-":
            return Err(rest.decode())
        if t == b":":
            return int(rest)
        if t == b"_":
            return None
        if t == b"#":
            return rest == b"t"
        if t == b",":
            return float(rest)
        if t in (b"$", b"=") :
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self._fill()
            data, self.buf = self.buf[:n], self.buf[n + 2:]
            return data
        if t in (b"*", b"~", b">"):
            n = int(rest)
            if n < 0:
                return None
            items = [self.reply() for _ in range(n)]
            return Push(items) if t == b">" else items
        if t == b"%":
            n = int(rest)
            d = {}
            for _ in range(n):
                k = self.reply()
                d[k] = self.reply()
            return d
        raise AssertionError("unexpected reply line %r" % ln)

    def closed(self, timeout=3.0):
        """True if the server closed the connection (after any pending data)."""
        self.s.settimeout(timeout)
        try:
            while True:
                d = self.s.recv(65536)
                if not d:
                    return True
                self.buf += d
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False

    def close(self):
        self.s.close()


class Err(str):
    """An error reply (its text without the leading '-')."""


class Push(list):
    """A RESP3 push reply."""


def encode(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        elif isinstance(a, int):
            a = str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def summary():
    global FAILED
    if LIST:
        return True
    if FILTER and not MATCHED:
        FAILED += 1
        FAILURES.append("-k " + FILTER)
        print("FAIL no test matches '%s' (--list shows the names)" % FILTER, flush=True)
    print("%d passed, %d failed" % (PASSED, FAILED), flush=True)
    if FAILURES:
        print("failed: " + ", ".join(FAILURES))
    return FAILED == 0
