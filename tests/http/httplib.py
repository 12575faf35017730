"""
httplib.py -- helpers of the HTTP door tests: a shardkv-server with its HTTP
port, curl as the client of record, raw sockets for what curl will not send.
Uses tests/server/harness.py for tests, processes (by PID) and summaries.
"""
import json
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "server"))
import harness  # noqa: E402  (tests/server/harness.py)
from harness import Server, ROOT, eq, true, wait_until  # noqa: E402,F401

RESP_PORT = int(os.environ.get("HTTP_TEST_RESP_PORT", "6397"))
HTTP_PORT = int(os.environ.get("HTTP_TEST_PORT", "6398"))


def server(*args, binary=None, name="shardkv-http"):
    """shardkv-server with RESP on RESP_PORT and HTTP on HTTP_PORT, ready."""
    binary = binary or os.environ.get("SHARDKV_SERVER", os.path.join(ROOT, "build", "shardkv-server"))
    d = subprocess.check_output(["mktemp", "-d"]).decode().strip()
    argv = [binary, "--port", str(RESP_PORT), "--http-port", str(HTTP_PORT), "--threads", "2",
            "--dir", d, "--save", ""] + list(args)
    wait_port_free(RESP_PORT)
    wait_port_free(HTTP_PORT)
    if harness.port_busy(HTTP_PORT):
        raise AssertionError("port %d is already in use by another process" % HTTP_PORT)
    s = Server(argv, RESP_PORT, name).wait_ready()
    wait_until(lambda: harness.port_busy(HTTP_PORT), 5, "the HTTP port")
    return s


class Resp:
    """What curl saw: status, headers (lower-case names), body bytes."""

    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return "<%d %r %r>" % (self.status, self.headers, self.body[:200])


def parse_response(raw):
    """Split curl -i output (maybe after 100 Continue heads) into a Resp."""
    while True:
        head, _, rest = raw.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        if status == 100:
            raw = rest
            continue
        headers = {}
        for ln in lines[1:]:
            k, _, v = ln.partition(b":")
            headers[k.decode().strip().lower()] = v.decode().strip()
        return Resp(status, headers, rest)


def curl(method, path, data=None, headers=(), port=None, extra=()):
    """One request with curl; data is bytes (sent as is) or None."""
    url = "http://127.0.0.1:%d%s" % (port or HTTP_PORT, path)
    args = ["curl", "-s", "-S", "-i", "--max-time", "10", "--path-as-is"]
    if method == "HEAD":
        args.append("--head")
    else:
        args += ["-X", method]
    for h in headers:
        args += ["-H", h]
    if data is not None:
        args += ["--data-binary", "@-"]
    args += list(extra) + [url]
    out = subprocess.run(args, input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20)
    if out.returncode != 0:
        raise AssertionError("curl %s %s failed: %s" % (method, path, out.stderr.decode()))
    return parse_response(out.stdout)


def error_is(r, status, code):
    eq(r.status, status, "status of %r" % (r,))
    if r.body:  # HEAD has none
        j = r.json()
        eq(j.get("code"), code, "error code")
        true(isinstance(j.get("error"), str) and j["error"], "error text in %r" % j)
        eq(r.headers.get("content-type"), "application/json", "error content type")


class Raw:
    """A raw HTTP connection for pipelining and hostile input."""

    def __init__(self, port=None, timeout=5.0):
        self.s = socket.create_connection(("127.0.0.1", port or HTTP_PORT), timeout=timeout)
        self.buf = b""

    def send(self, data):
        self.s.sendall(data)

    def _fill(self):
        d = self.s.recv(65536)
        if not d:
            raise EOFError("connection closed")
        self.buf += d

    def response(self, head_only=False):
        """Read exactly one response (Content-Length framed); returns Resp."""
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        r = parse_response(head + b"\r\n\r\n")
        n = 0 if head_only else int(r.headers.get("content-length", "0"))
        while len(self.buf) < n:
            self._fill()
        r.body, self.buf = self.buf[:n], self.buf[n:]
        return r

    def closed(self, timeout=5.0):
        """True if the server closes the connection within timeout (data drained)."""
        self.s.settimeout(timeout)
        try:
            while True:
                if not self.s.recv(65536):
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False

    def close(self):
        self.s.close()


def resp_client():
    import redis  # python3-redis
    return redis.Redis(host="127.0.0.1", port=RESP_PORT)


def wait_port_free(port, timeout=10):
    end = time.time() + timeout
    while time.time() < end and harness.port_busy(port):
        time.sleep(0.05)
