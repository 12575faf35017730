"""
test_tls.py -- shardkv-server's tls-port (issue 14) with certificates made by
`openssl` here: redis-cli --tls, python3-redis ssl=True (pipelines, a 4 MB
value), redis-benchmark --tls (a functional run of 2000 requests), client
certificates (yes / optional / no, a foreign CA), tls-protocols, bad files.

Ports: 6397 (plain), 6398 (TLS).  Every process is stopped by PID.
Run: /usr/bin/python3 tests/server/test_tls.py [-k words-of-a-test-name]
"""
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import redis  # noqa: E402  (python3-redis, Debian)

from harness import eq, shardkv, stop_all, summary, test, true  # noqa: E402

P, PT = 6397, 6398
TMP = tempfile.mkdtemp(prefix="skv-tls-test-")


def sh(*args):
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_certs():
    f = lambda n: os.path.join(TMP, n)  # noqa: E731
    for ca in ("ca", "other-ca"):
        sh("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f(ca + ".key"),
           "-out", f(ca + ".crt"), "-days", "2", "-subj", "/CN=" + ca)
    with open(f("san.ext"), "w") as e:
        e.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    for name, ca in (("server", "ca"), ("client", "ca"), ("stranger", "other-ca")):
        sh("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", f(name + ".key"), "-out", f(name + ".csr"),
           "-subj", "/CN=" + name)
        sh("openssl", "x509", "-req", "-in", f(name + ".csr"), "-CA", f(ca + ".crt"), "-CAkey", f(ca + ".key"),
           "-CAcreateserial", "-out", f(name + ".crt"), "-days", "2", "-extfile", f("san.ext"))
    return f


def server(*extra):
    return shardkv(P, "--dir", os.path.join(TMP, "data"), "--save", "", "--tls-port", str(PT),
                   "--tls-cert-file", F("server.crt"), "--tls-key-file", F("server.key"),
                   "--tls-ca-cert-file", F("ca.crt"), *extra, name="tls").wait_ready()


def tls_client(cert="client", **kw):
    args = dict(host="127.0.0.1", port=PT, ssl=True, ssl_ca_certs=F("ca.crt"), socket_timeout=10)
    if cert:
        args.update(ssl_certfile=F(cert + ".crt"), ssl_keyfile=F(cert + ".key"))
    args.update(kw)
    return redis.Redis(**args)


def refused(fn):
    try:
        fn()
    except (redis.ConnectionError, ssl.SSLError, OSError):
        return True
    return False


def cli(*args, cert=True):
    base = ["redis-cli", "-p", str(PT), "--tls", "--cacert", F("ca.crt")]
    if cert:
        base += ["--cert", F("client.crt"), "--key", F("client.key")]
    return subprocess.run(base + list(args), capture_output=True, text=True, timeout=20)


try:
    F = make_certs()

    @test("tls: redis-cli --tls and python3-redis ssl=True (pipeline, 4 MB value); the plain port too")
    def t_basic():
        server()
        eq(cli("SET", "greeting", "hello").stdout.strip(), "OK", "redis-cli SET")
        eq(cli("GET", "greeting").stdout.strip(), "hello", "redis-cli GET")
        r = tls_client()
        p = r.pipeline(transaction=False)
        for i in range(5000):
            p.set("k%d" % i, "v%d" % i)
        p.execute()
        eq(r.dbsize(), 5001, "pipelined SETs")
        big = os.urandom(4 << 20)
        r.set("big", big)
        eq(r.get("big"), big, "4 MB value both ways")
        eq([r.get("k%d" % i) for i in (0, 4999)], [b"v0", b"v4999"], "values")
        plain = redis.Redis(host="127.0.0.1", port=P)
        eq(plain.get("greeting"), b"hello", "the same data on the plain port")
        tx = r.pipeline(transaction=True)
        tx.incr("n")
        tx.incr("n")
        eq(tx.execute(), [1, 2], "MULTI/EXEC over TLS")

    @test("tls: plain text on the TLS port is closed; redis-benchmark --tls works")
    def t_plain_and_bench():
        server()
        s = socket.create_connection(("127.0.0.1", PT), timeout=5)
        s.sendall(b"PING\r\n")
        try:
            data = s.recv(100)
        except OSError:
            data = b""
        true(b"PONG" not in data, "no plaintext reply: %r" % data)
        out = subprocess.run(["redis-benchmark", "-p", str(PT), "--tls", "--cacert", F("ca.crt"),
                              "--cert", F("client.crt"), "--key", F("client.key"), "-n", "2000", "-c", "4",
                              "-t", "set,get", "-q"], capture_output=True, text=True, timeout=60)
        true("SET:" in out.stdout and "GET:" in out.stdout and "requests per second" in out.stdout,
             "redis-benchmark output: %r %r" % (out.stdout[-300:], out.stderr[-300:]))

    @test("tls: tls-auth-clients yes refuses no certificate and a foreign CA's; optional / no accept")
    def t_auth_clients():
        server()
        true(refused(lambda: tls_client(cert=None).ping()), "no client certificate refused")
        true(refused(lambda: tls_client(cert="stranger").ping()), "a certificate of another CA refused")
        eq(cli("PING", cert=False).stdout.strip(), "", "redis-cli without --cert gets nothing")
        eq(tls_client().ping(), True, "a good certificate")
        stop_all()
        server("--tls-auth-clients", "optional")
        eq(tls_client(cert=None).ping(), True, "optional: no certificate")
        true(refused(lambda: tls_client(cert="stranger").ping()), "optional: a bad certificate still refused")
        stop_all()
        server("--tls-auth-clients", "no")
        eq(tls_client(cert=None).ping(), True, "no: no certificate")

    @test("tls: tls-protocols TLSv1.3 refuses a TLS 1.2-only client")
    def t_protocols():
        server("--tls-protocols", "TLSv1.3", "--tls-auth-clients", "no")

        def connect(maxv):
            ctx = ssl.create_default_context(cafile=F("ca.crt"))
            ctx.maximum_version = maxv
            s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", PT), timeout=5), server_hostname="localhost")
            s.sendall(b"PING\r\n")
            got = s.recv(100)
            s.close()
            return got
        eq(connect(ssl.TLSVersion.TLSv1_3), b"+PONG\r\n", "TLS 1.3")
        true(refused(lambda: connect(ssl.TLSVersion.TLSv1_2)), "TLS 1.2 refused")

    @test("tls: a missing key file or bad tls-protocols refuses to start with a message")
    def t_bad_config():
        for extra, msg in ((["--tls-key-file", F("nope.key")], "nope.key"),
                           (["--tls-protocols", "SSLv3"], "tls-protocols")):
            s = shardkv(P, "--dir", os.path.join(TMP, "data"), "--save", "", "--tls-port", str(PT),
                        "--tls-cert-file", F("server.crt"), "--tls-key-file", F("server.key"),
                        "--tls-ca-cert-file", F("ca.crt"), *extra, name="tls-bad")
            eq(s.proc.wait(15), 1, "exit status")
            true(msg in s.read_log(), "message names it: " + s.read_log())
finally:
    stop_all()
    shutil.rmtree(TMP, ignore_errors=True)

sys.exit(0 if summary() else 1)
