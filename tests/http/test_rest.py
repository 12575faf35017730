"""
test_rest.py -- the HTTP door's REST API through curl (and raw sockets where
curl cannot misbehave): keys, listing, batch, namespaces, errors, auth, limits,
keep-alive and pipelining.  Ends with "N passed, M failed".
"""
import json
import os
import resource
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from httplib import (HTTP_PORT, RESP_PORT, Raw, curl, eq, error_is, harness, resp_client, server, true,  # noqa: E402
                     wait_until)
from harness import test  # noqa: E402

K = "/v1/ns/0/keys/"

srv = server()
r = resp_client()


@test("PUT answers 201 for a new key, 204 for an overwrite; GET returns the bytes")
def _():
    eq(curl("PUT", K + "greeting", b"hello", ["Content-Type: text/plain"]).status, 201)
    g = curl("GET", K + "greeting")
    eq((g.status, g.body), (200, b"hello"))
    eq(g.headers["content-type"], "text/plain; charset=utf-8")
    eq(g.headers["x-kv-type"], "text")
    true("x-kv-expires-at" not in g.headers, "no expiry header without a TTL")
    eq(curl("PUT", K + "greeting", b"again", ["Content-Type: text/plain"]).status, 204)
    eq(r.get("greeting"), b"again")


@test("Content-Type picks the type tag and GET gives it back")
def _():
    curl("PUT", K + "j", b'{"a": 1}', ["Content-Type: application/json; charset=utf-8"])
    g = curl("GET", K + "j")
    eq((g.headers["content-type"], g.headers["x-kv-type"], g.body), ("application/json", "json", b'{"a": 1}'))
    curl("PUT", K + "b", b"\x00\x01\xff", ["Content-Type: application/octet-stream"])
    g = curl("GET", K + "b")
    eq((g.headers["content-type"], g.headers["x-kv-type"], g.body),
       ("application/octet-stream", "bytes", b"\x00\x01\xff"))
    r.set("fromresp", b"raw")
    eq(curl("GET", K + "fromresp").headers["x-kv-type"], "bytes")


@test("a PUT without a body stores an empty value (fuzz find: NULL body reached the engine)")
def _():
    eq(curl("PUT", K + "empty").status, 201)
    g = curl("GET", K + "empty")
    eq((g.status, g.body, g.headers["content-length"]), (200, b"", "0"))
    eq(r.get("empty"), b"")


@test("missing key: GET 404 with a JSON error, HEAD 404, DELETE 404")
def _():
    error_is(curl("GET", K + "nope"), 404, "KV_NOTFOUND")
    eq(curl("HEAD", K + "nope").status, 404)
    error_is(curl("DELETE", K + "nope"), 404, "KV_NOTFOUND")


@test("HEAD tells existence with GET's headers and no body; DELETE answers 204")
def _():
    curl("PUT", K + "h", b"12345")
    h = curl("HEAD", K + "h")
    eq((h.status, h.headers["content-length"], h.body), (200, "5", b""))
    eq(curl("DELETE", K + "h").status, 204)
    eq(curl("HEAD", K + "h").status, 404)
    eq(r.exists("h"), 0)


@test("?ttl= and ?px= set an expiry: X-KV-Expires-At in ms, and the key expires")
def _():
    before = int(time.time() * 1000)
    curl("PUT", K + "t", b"v")
    eq(curl("PUT", K + "t?ttl=100", b"v").status, 204)
    exp = int(curl("GET", K + "t").headers["x-kv-expires-at"])
    true(before + 99_000 <= exp <= before + 101_000 + 5000, "expiry %d near now+100s" % exp)
    true(95 <= r.ttl("t") <= 100, "RESP TTL agrees")
    t0 = time.time()
    eq(curl("PUT", K + "short?px=1000", b"v").status, 201)
    alive = curl("GET", K + "short").status
    if time.time() - t0 < 0.9:  # a loaded machine may take longer than the TTL itself
        eq(alive, 200, "alive before its time")
    time.sleep(max(0.0, t0 + 1.3 - time.time()))
    error_is(curl("GET", K + "short"), 404, "KV_NOTFOUND")


@test("bad TTLs are 400 KV_EINVAL: text, zero, negative, both, past the engine's max")
def _():
    for q in ("ttl=abc", "ttl=0", "ttl=-5", "px=0", "ttl=1&px=1000", "ttl=999999999999999",
              "px=99999999999999999"):
        error_is(curl("PUT", K + "badttl?" + q, b"v"), 400, "KV_EINVAL")
    eq(r.exists("badttl"), 0)


@test("?nx=1 refuses an existing key with 409, ?xx=1 a missing one with 404")
def _():
    curl("PUT", K + "c", b"1")
    error_is(curl("PUT", K + "c?nx=1", b"2"), 409, "KV_EXISTS")
    eq(r.get("c"), b"1")
    eq(curl("PUT", K + "c?xx=1", b"3").status, 204)
    eq(r.get("c"), b"3")
    error_is(curl("PUT", K + "cmissing?xx=1", b"3"), 404, "KV_NOTFOUND")
    eq(curl("PUT", K + "cnew?nx=1", b"3").status, 201)
    error_is(curl("PUT", K + "c?nx=1&xx=1", b"3"), 400, "KV_EINVAL")


@test("keys are percent-decoded: slashes, spaces, NUL and high bytes are addressable")
def _():
    for raw, enc in ((b"a/b c", "a%2Fb%20c"), (b"\x00\xff\x10", "%00%FF%10"), (b"caf\xc3\xa9", "caf%C3%A9"),
                     (b"100%", "100%25")):
        eq(curl("PUT", K + enc, b"val:" + raw).status, 201, "PUT %r" % raw)
        eq(r.get(raw), b"val:" + raw, "RESP sees key %r" % raw)
        eq(curl("GET", K + enc).body, b"val:" + raw)
    error_is(curl("GET", K + "bad%zz"), 400, "KV_EINVAL")
    error_is(curl("GET", K + "trunc%4"), 400, "KV_EINVAL")


@test("POST .../incr?by=N returns the new integer as JSON; errors map to 400/409")
def _():
    p = curl("POST", K + "n/incr?by=5")
    eq((p.status, p.headers["content-type"], json.loads(p.body)), (200, "application/json", 5))
    eq(json.loads(curl("POST", K + "n/incr").body), 6)
    eq(json.loads(curl("POST", K + "n/incr?by=-10").body), -4)
    eq(r.get("n"), b"-4")
    eq(curl("GET", K + "n").headers["x-kv-type"], "int")
    error_is(curl("POST", K + "n/incr?by=x"), 400, "KV_EINVAL")
    error_is(curl("POST", K + "n/incr?by=99999999999999999999"), 400, "KV_EINVAL")
    r.set("word", "abc")
    error_is(curl("POST", K + "word/incr"), 409, "KV_ENOTINT")
    r.set("big", str(2**63 - 1))
    error_is(curl("POST", K + "big/incr"), 409, "KV_EOVERFLOW")
    error_is(curl("GET", K + "n/incr"), 405, "KV_EMETHOD")


@test("GET .../keys lists with prefix, match, count and a cursor until it is 0")
def _():
    r3 = resp_client()
    r3.execute_command("SELECT", "3")
    for i in range(300):
        r3.set("user:%d" % i, "x")
    for i in range(50):
        r3.set("order:%d" % i, "x")
    seen, cursor, steps = set(), "0", 0
    while True:
        j = curl("GET", "/v1/ns/3/keys?prefix=user:&count=40&cursor=" + cursor).json()
        seen.update(j["keys"])
        cursor = j["cursor"]
        steps += 1
        if cursor == "0":
            break
        true(steps < 1000, "the scan ends")
    eq(seen, {"user:%d" % i for i in range(300)})
    m = set()
    cursor = "0"
    while True:
        j = curl("GET", "/v1/ns/3/keys?match=order:%5B1-2%5D&count=1000&cursor=" + cursor).json()
        m.update(j["keys"])
        cursor = j["cursor"]
        if cursor == "0":
            break
    eq(m, {"order:1", "order:2"})
    for bad in ("count=0", "count=10001", "count=x", "cursor=abc", "cursor=-1", "prefix=%zz"):
        error_is(curl("GET", "/v1/ns/3/keys?" + bad), 400, "KV_EINVAL")


@test("a key that is not UTF-8 is listed percent-encoded, and its index is given")
def _():
    r4 = resp_client()
    r4.execute_command("SELECT", "4")
    r4.set(b"\xff\xfe", "x")
    j = curl("GET", "/v1/ns/4/keys?count=1000").json()
    eq(j["keys"], ["%FF%FE"])
    eq(j["percent_encoded"], [0])
    eq(curl("GET", "/v1/ns/4/keys/" + j["keys"][0]).body, b"x")


@test("batch all_or_nothing applies every op, in order, and returns one result per op")
def _():
    body = {"mode": "all_or_nothing", "ops": [
        {"op": "set", "key": "b1", "value": "one"},
        {"op": "set", "key": "b2", "value": {"n": [1, 2]}},
        {"op": "get", "key": "b1"},
        {"op": "exists", "key": "b2"},
        {"op": "consume", "key": "b1"},
        {"op": "del", "key": "b9"},
        {"op": "set", "key": "b3", "value": "x", "ttl": 100}]}
    p = curl("POST", "/v1/ns/0/batch", json.dumps(body).encode(), ["Content-Type: application/json"])
    eq(p.status, 200)
    res = p.json()["results"]
    eq([x["code"] for x in res], ["KV_OK", "KV_OK", "KV_OK", "KV_OK", "KV_OK", "KV_NOTFOUND", "KV_OK"])
    eq((res[2]["value"], res[2]["type"]), ("one", "text"))
    eq(res[3]["exists"], True)
    eq(res[4]["value"], "one")
    eq(r.exists("b1"), 0)
    eq(json.loads(r.get("b2")), {"n": [1, 2]})
    eq(curl("GET", K + "b2").headers["x-kv-type"], "json")
    true(95 <= r.ttl("b3") <= 100, "ttl applied")


@test("batch all_or_nothing: a failing op fails the batch with 409 and changes nothing")
def _():
    body = {"mode": "all_or_nothing", "ops": [
        {"op": "set", "key": "aon1", "value": "x"},
        {"op": "consume", "key": "aon-missing"}]}
    p = curl("POST", "/v1/ns/0/batch", json.dumps(body).encode())
    eq(p.status, 409)
    j = p.json()
    eq((j["code"], j["item"]), ("KV_NOTFOUND", 1))
    eq([x["code"] for x in j["results"]], ["KV_EABORTED", "KV_NOTFOUND"])
    eq(r.exists("aon1"), 0)


@test("batch best_effort: each op on its own")
def _():
    r.set("be-exists", "1")
    body = {"mode": "best_effort", "ops": [
        {"op": "set", "key": "be-exists", "value": "2", "nx": True},
        {"op": "set", "key": "be-new", "value": "3"},
        {"op": "consume", "key": "be-missing"}]}
    p = curl("POST", "/v1/ns/0/batch", json.dumps(body).encode())
    eq(p.status, 200)
    eq([x["code"] for x in p.json()["results"]], ["KV_EXISTS", "KV_OK", "KV_NOTFOUND"])
    eq((r.get("be-exists"), r.get("be-new")), (b"1", b"3"))


@test("batch input errors are 400 KV_EINVAL and change nothing")
def _():
    for body in (b"not json", b"[]", b'{"ops": 3}', b'{"mode": "sometimes", "ops": []}',
                 b'{"ops": [{"op": "fly", "key": "k"}]}', b'{"ops": [{"op": "get"}]}',
                 b'{"ops": [{"op": "set", "key": "k"}]}', b'{"ops": [{"op": "set", "key": "bx", "value": "v", "ttl": -1}]}',
                 b'{"ops": [{"op": "set", "key": "bx", "value": "v"}, {"op": "set", "key": "k", "value": "v", "type": "odd"}]}'):
        error_is(curl("POST", "/v1/ns/0/batch", body), 400, "KV_EINVAL")
    eq(r.exists("bx"), 0)
    error_is(curl("GET", "/v1/ns/0/batch"), 405, "KV_EMETHOD")
    many = json.dumps({"ops": [{"op": "get", "key": "k"}] * 10001}).encode()
    eq(curl("POST", "/v1/ns/0/batch", many).status, 413)
    big = b'{"ops": [], "pad": "' + b"x" * (17 << 20) + b'"}'
    error_is(curl("POST", "/v1/ns/0/batch", big), 413, "KV_EVALSIZE")


@test("namespaces: PUT creates from a JSON config, GET lists with stats, DELETE drops")
def _():
    cfg = {"shards": 4, "max_keys": 1000, "default_ttl_ms": 60000, "eviction": "allkeys-lru"}
    eq(curl("PUT", "/v1/ns/web.sessions", json.dumps(cfg).encode()).status, 201)
    error_is(curl("PUT", "/v1/ns/web.sessions"), 409, "KV_ENSEXISTS")
    one = curl("GET", "/v1/ns/web.sessions").json()
    eq((one["name"], one["keys"], one["config"]["shards"], one["config"]["max_keys"],
        one["config"]["default_ttl_ms"], one["config"]["eviction"]),
       ("web.sessions", 0, 4, 1000, 60000, "allkeys-lru"))
    eq(curl("PUT", "/v1/ns/web.sessions/keys/s1", b"x").status, 201)
    rs = resp_client()
    rs.execute_command("SELECT", "web.sessions")
    true(55 <= rs.ttl("s1") <= 60, "the namespace's default TTL applies")
    names = {n["name"]: n for n in curl("GET", "/v1/ns").json()["namespaces"]}
    true("web.sessions" in names and "0" in names and "15" in names, "listed: %s" % sorted(names))
    eq(names["web.sessions"]["keys"], 1)
    eq(curl("DELETE", "/v1/ns/web.sessions").status, 204)
    error_is(curl("DELETE", "/v1/ns/web.sessions"), 404, "KV_ENONS")
    error_is(curl("GET", "/v1/ns/web.sessions/keys/s1"), 404, "KV_ENONS")
    error_is(curl("PUT", "/v1/ns/web.sessions/keys/s1", b"x"), 404, "KV_ENONS")


@test("namespace errors: bad names 400, bad config 400, databases 0-15 are not dropped")
def _():
    for bad in ("bad%20name", "a" * 64, "%00x", "semi;colon", "b" * 150, "c" * 300):
        error_is(curl("PUT", "/v1/ns/" + bad), 400, "KV_ENSNAME")
        error_is(curl("GET", "/v1/ns/" + bad + "/keys/k"), 400, "KV_ENSNAME")  # fuzz find: 150 bytes overflowed
    for cfg in (b"[1]", b"{", b'{"shards": -1}', b'{"colour": 1}', b'{"eviction": "sometimes"}',
                b'{"shards": 99999}'):
        p = curl("PUT", "/v1/ns/cfgtest", cfg)
        eq(p.status, 400, "config %r" % cfg)
    error_is(curl("DELETE", "/v1/ns/0"), 409, "KV_EBUSY")
    eq(r.ping(), True)


@test("unknown routes are 404 KV_ENOROUTE, wrong methods 405 KV_EMETHOD")
def _():
    for path in ("/v2/x", "/v1/nsx", "/v1/ns/0/other", "/v1/ns/0/keys/a/b", "/v1/ns/0/keys/a/incr/x"):
        error_is(curl("GET", path), 404, "KV_ENOROUTE")
    error_is(curl("POST", K + "a"), 405, "KV_EMETHOD")
    error_is(curl("DELETE", "/v1/ns"), 405, "KV_EMETHOD")
    error_is(curl("POST", "/metrics"), 405, "KV_EMETHOD")


@test("keep-alive and pipelining: three requests in one write, three answers in order")
def _():
    c = Raw()
    c.send(b"PUT /v1/ns/0/keys/p1 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
           b"GET /v1/ns/0/keys/p1 HTTP/1.1\r\nHost: x\r\n\r\n"
           b"DELETE /v1/ns/0/keys/p1 HTTP/1.1\r\nHost: x\r\n\r\n")
    a, b, d = c.response(), c.response(), c.response()
    eq((a.status, b.status, b.body, d.status), (201, 200, b"abc", 204))
    for i in range(50):  # the same connection keeps serving
        c.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        eq(c.response().status, 200)
    c.send(b"GET /v1/ns/0/keys/p1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    z = c.response()
    eq((z.status, z.headers.get("connection")), (404, "close"))
    true(c.closed(), "closed after Connection: close")
    c = Raw()
    c.send(b"GET /healthz HTTP/1.0\r\n\r\n")
    eq(c.response().status, 200)
    true(c.closed(), "HTTP/1.0 without keep-alive closes")
    c = Raw()
    c.send(b"GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    eq(c.response().headers.get("connection"), "keep-alive", "HTTP/1.0 keep-alive is confirmed")
    c.send(b"GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    eq(c.response().status, 200)


@test("a chunked PUT is decoded; a bad chunked encoding is 400 and closes")
def _():
    p = curl("PUT", K + "chunky", b"x" * 100000, ["Transfer-Encoding: chunked"])
    eq(p.status, 201)
    eq(r.strlen("chunky"), 100000)
    c = Raw()
    c.send(b"PUT /v1/ns/0/keys/ch2 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\nGET /v1/ns/0/keys/ch2 HTTP/1.1\r\n\r\n")
    eq(c.response().status, 201)
    eq(c.response().body, b"abcde")
    c.send(b"PUT /v1/ns/0/keys/ch4 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"  # extension, trailer
           b"4;name=val\r\nwxyz\r\n0\r\nX-Trailer: 1\r\n\r\nGET /v1/ns/0/keys/ch4 HTTP/1.1\r\n\r\n")
    eq(c.response().status, 201)
    eq(c.response().body, b"wxyz")
    req = (b"PUT /v1/ns/0/keys/ch5 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"5\r\nhello\r\n1;x=y\r\n \r\nA\r\n0123456789\r\n0\r\n\r\n")
    for i in range(len(req)):  # one byte per read: the decoder resumes where it stopped
        c.send(req[i:i + 1])
        time.sleep(0.002)
    eq(c.response().status, 201)
    eq(r.get("ch5"), b"hello 0123456789")
    c.close()
    for bad in (b"zz\r\nabc\r\n", b"3\r\nabcXX\r\n", b"-1\r\n", b"fffffffffffffffffff\r\n"):
        c = Raw()
        c.send(b"PUT /v1/ns/0/keys/ch3 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + bad)
        error_is(c.response(), 400, "KV_EPROTO")
        true(c.closed(), "closed after a bad chunk")
    eq(r.exists("ch3"), 0)


@test("framing errors: both Content-Length and chunked, a repeated framing header, bad Content-Length, garbage")
def _():
    for req in (b"PUT /v1/ns/0/keys/f HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc",
                # two lengths: a proxy taking the other one would frame the next request differently
                b"PUT /v1/ns/0/keys/f HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 30\r\n\r\nabc",
                b"PUT /v1/ns/0/keys/f HTTP/1.1\r\nContent-Length: 3\r\ncontent-length: 3\r\n\r\nabc",
                b"PUT /v1/ns/0/keys/f HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                b"PUT /v1/ns/0/keys/f HTTP/1.1\r\nContent-Length: 3x\r\n\r\nabc",
                b"PUT /v1/ns/0/keys/f HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
                b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
                b"GET\r\n\r\n"):
        c = Raw()
        c.send(req)
        p = c.response()
        true(p.status == 400, "400 for %r, got %r" % (req, p))
        true(c.closed(), "closed")
    eq(r.exists("f"), 0)


@test("oversized and too many headers are 431 and close; others keep being served")
def _():
    c = Raw()
    c.send(b"GET /healthz HTTP/1.1\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")
    error_is(c.response(), 431, "KV_EHEADERS")
    true(c.closed(), "closed after 431")
    c = Raw()
    c.send(b"GET /healthz HTTP/1.1\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(100)) + b"\r\n")
    error_is(c.response(), 431, "KV_EHEADERS")
    c = Raw()  # a head that never ends: 431 once it passes 16 KiB
    c.send(b"GET /healthz HTTP/1.1\r\n")
    time.sleep(0.1)
    c.send(b"".join(b"X-Drip: " + b"d" * 1000 + b"\r\n" for _ in range(17)))
    error_is(c.response(), 431, "KV_EHEADERS")
    eq(curl("GET", "/healthz").status, 200)


@test("Expect: 100-continue is honoured: 100 Continue before the body, then the answer")
def _():
    c = Raw()
    c.send(b"PUT /v1/ns/0/keys/expect HTTP/1.1\r\nHost: x\r\nContent-Length: 50000\r\n"
           b"Expect: 100-continue\r\n\r\n")
    while b"\r\n\r\n" not in c.buf:  # sent before any byte of the body
        c._fill()
    head, _, c.buf = c.buf.partition(b"\r\n\r\n")
    eq(head, b"HTTP/1.1 100 Continue")
    c.send(b"z" * 50000)
    eq(c.response().status, 201)
    eq(r.strlen("expect"), 50000)
    eq(curl("PUT", K + "expect", b"y" * 50000, ["Expect: 100-continue"]).status, 204)  # and curl agrees


@test("random bytes on the HTTP port never hurt the server")
def _():
    import random
    rnd = random.Random(13)
    seeds = [b"GET / HTTP/1.1\r\n\r\n", b"PUT /v1/ns/0/keys/r HTTP/1.1\r\nContent-Length: 2\r\n\r\nab",
             b"POST /v1/ns/0/batch HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"op\"\r\n0\r\n\r\n"]
    for i in range(300):
        b = bytearray(rnd.choice(seeds))
        for _ in range(rnd.randint(1, 8)):
            b[rnd.randrange(len(b))] = rnd.randrange(256)
        c = Raw(timeout=2)
        c.send(bytes(b))
        c.s.shutdown(socket.SHUT_WR)
        c.closed(2)
        c.close()
    eq(curl("GET", "/healthz").status, 200)
    true(srv.alive(), "alive")



# Each test below starts a server of its own (the harness stops it after the test).
srv.stop()


@test("a body over proto-max-bulk-len is 413 before it is sent")
def _():
    s2 = server("--proto-max-bulk-len", "1mb", name="limits")
    c = Raw()
    c.send(b"PUT /v1/ns/0/keys/big HTTP/1.1\r\nContent-Length: 2000000\r\n\r\n")
    error_is(c.response(), 413, "KV_EVALSIZE")  # answered with no body byte sent
    true(c.closed(), "closed after 413")
    p = curl("PUT", K + "big", b"x" * 2000000)
    eq(p.status, 413)
    c = Raw()
    c.send(b"PUT /v1/ns/0/keys/big HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" +
           b"".join(b"10000\r\n" + b"y" * 0x10000 + b"\r\n" for _ in range(20)))
    error_is(c.response(), 413, "KV_EVALSIZE")
    eq(curl("PUT", K + "ok", b"x" * 900000).status, 201)
    eq(resp_client().exists("big"), 0)


@test("slowloris: a head not done in http-request-timeout gets 408; others are served meanwhile")
def _():
    s2 = server("--http-request-timeout", "3", name="slow")
    slow = Raw()
    slow.send(b"GET /v1/ns/0/keys/x HTTP/1.1\r\nHost: ")
    body = Raw()
    body.send(b"PUT /v1/ns/0/keys/x HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc")  # half a body, then silence
    t0 = time.time()
    for _ in range(5):
        eq(curl("GET", "/healthz").status, 200)
    true(time.time() - t0 < 2.5, "others served while the slow heads wait")
    p = slow.response()
    eq(p.status, 408)
    true(slow.closed(), "closed")
    true(body.closed(5), "a stalled body is closed too")
    true(time.time() - t0 < 10, "within a few seconds of the timeout")
    eq(resp_client().exists("x"), 0)


@test("10k idle connections do not stop the door")
def _():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 24000
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    s2 = server("--maxclients", "11000", name="idle")
    conns = []
    try:
        for _ in range(10000):
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.connect(("127.0.0.1", HTTP_PORT))
            conns.append(s)
        for s in conns[:100]:
            s.send(b"GET /heal")  # half a request on some of them
        t0 = time.time()
        eq(curl("PUT", K + "idle", b"v").status, 201)
        eq(curl("GET", K + "idle").body, b"v")
        true(time.time() - t0 < 2.0, "served promptly with 10k idle connections")
        wait_until(lambda: resp_client().info("clients")["connected_clients"] >= 10000, 20, "10k clients")
    finally:
        for s in conns:
            s.close()
    wait_until(lambda: resp_client().info("clients")["connected_clients"] < 100, 20, "idle clients gone")
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@test("over maxclients an HTTP client gets 503 JSON, not a RESP error")
def _():
    s2 = server("--maxclients", "2", name="maxc")

    def two_served():  # once the readiness probes' connections are gone
        a, b = Raw(), Raw()
        got = []
        for x in (a, b):
            x.send(b"GET /healthz HTTP/1.1\r\n\r\n")
            got.append(x.response().status)
        if got == [200, 200]:
            return a, b
        a.close()
        b.close()
        return None
    a, b = wait_until(two_served, 10, "two clients served under maxclients 2")
    c = Raw()
    error_is(c.response(), 503, "KV_EBUSY")
    a.close()
    b.close()


@test("requirepass: Bearer required (401 + WWW-Authenticate), healthz and the page stay open")
def _():
    s2 = server("--requirepass", "s3cret", name="auth")
    p = curl("GET", K + "a")
    error_is(p, 401, "KV_EAUTH")
    true(p.headers.get("www-authenticate", "").startswith("Bearer"), "WWW-Authenticate")
    error_is(curl("GET", K + "a", headers=["Authorization: Bearer wrong"]), 401, "KV_EAUTH")
    error_is(curl("GET", K + "a", headers=["Authorization: Basic czNjcmV0"]), 401, "KV_EAUTH")
    error_is(curl("GET", "/metrics"), 401, "KV_EAUTH")
    error_is(curl("PUT", K + "a", b"x" * 5000), 401, "KV_EAUTH")
    eq(curl("PUT", K + "a", b"v", ["Authorization: Bearer s3cret"]).status, 201)
    eq(curl("GET", K + "a", headers=["Authorization: bearer s3cret"]).body, b"v")
    eq(curl("GET", K + "a?access_token=s3cret").body, b"v")
    eq(curl("GET", "/healthz").status, 200)
    eq(curl("GET", "/").status, 200)
    import redis
    rc = redis.Redis(port=RESP_PORT, password="s3cret")
    rc.config_set("requirepass", "n3w")  # CONFIG SET applies to HTTP at once
    error_is(curl("GET", K + "a", headers=["Authorization: Bearer s3cret"]), 401, "KV_EAUTH")
    eq(curl("GET", K + "a", headers=["Authorization: Bearer n3w"]).body, b"v")



sys.exit(0 if harness.summary() else 1)
