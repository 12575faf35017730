"""
roundtrip.py -- the cross-host snapshot round trip (issue 11 item 5):

    server SAVE -> PostgreSQL kv.load, writes, kv.save -> SQLite kv_load, writes,
    kv_save -> server loads it, SAVE

Each host adds keys of the types it can write (server: bytes, INCRBY's int,
INCRBYFLOAT's real; PostgreSQL: text, jsonb, bytea; SQLite: INTEGER, REAL, NULL,
TEXT, BLOB), with absolute expiries.  After every hop the snapshot file is read
back with skvdump (the engine's own loader) and must hold exactly the model:
every key, value, type tag and expiry.  After every load, the host's own view
(what its read functions show) must match the model too.  Without --psql the
PostgreSQL hop is left out (and reported as not run).

    /usr/bin/python3 tests/matrix/roundtrip.py --dir DIR --server-bin B --port P
        --sqlite-ext build/shardkv --skvdump BIN [--psql "CMD"]
Ends with "N passed, M failed".
"""
import argparse
import os
import shlex
import signal
import sqlite3
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import neutral  # noqa: E402
from driver import KV_EXPIRES_MAX, now_ms  # noqa: E402

BYTES, TEXT, INT, REAL, JSON, NULL = 0, 1, 2, 3, 4, 5
TAGNAME = {0: "bytes", 1: "text", 2: "int", 3: "real", 4: "json", 5: "null"}

passed = failed = 0


def report(ok, what, detail=()):
    global passed, failed
    if ok:
        passed += 1
        print("ok   roundtrip: %s" % what)
    else:
        failed += 1
        print("FAIL roundtrip: %s" % what)
        for d in list(detail)[:30]:
            print("     roundtrip: %s" % d)


def diff(want, got):
    """Model {(ns, key): (tag, value, expires_at)} vs the same from a host."""
    out = []
    for k in sorted(set(want) | set(got)):
        w, g = want.get(k), got.get(k)
        if w != g:
            out.append("ns %s key %s: expected %s, got %s" % (k[0], neutral.esc(k[1]), fmt(w), fmt(g)))
    return out


def fmt(e):
    if e is None:
        return "(missing)"
    tag, v, exp = e
    return "%s:%s exp=%s" % (TAGNAME.get(tag, tag) if isinstance(tag, int) else tag, neutral.esc(v), exp)


def dump(args, path):
    p = subprocess.run([args.skvdump, path], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode != 0:
        return None, p.stderr.decode()
    got = {}
    for line in p.stdout.decode().splitlines():
        ns, k, t, v, e = line.split("\t")
        got[(ns, bytes.fromhex(k))] = (int(t), bytes.fromhex(v), int(e))
    return got, ""


def check_file(args, model, path, hop):
    got, err = dump(args, path)
    if got is None:
        report(False, "%s: %s loads" % (hop, os.path.basename(path)), [err])
    else:
        report(not diff(model, got), "%s: %s holds every key, value, tag and expiry" %
               (hop, os.path.basename(path)), diff(model, got))


# ------------------------------------------------------------------ server
class Server:
    def __init__(self, args, dbfilename):
        import redis
        self.proc = subprocess.Popen(
            [args.server_bin, "--port", str(args.port), "--dir", args.dir, "--dbfilename", dbfilename,
             "--save", "", "--threads", "2", "--engine-memory", "256mb"],
            stdout=open(os.path.join(args.dir, "server.log"), "ab"), stderr=subprocess.STDOUT)
        self.r = redis.Redis(host="127.0.0.1", port=args.port, socket_timeout=20)
        self.r.response_callbacks.clear()
        for _ in range(200):
            try:
                if self.r.ping():
                    return
            except redis.ConnectionError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)
        raise RuntimeError("shardkv-server did not start (see %s/server.log)" % args.dir)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        return self.proc.returncode

    def view(self, dbs):
        """{(ns, key): ("*", value, expires_at)}: the server shows no tags."""
        got = {}
        for db in dbs:
            self.r.execute_command("SELECT", db)
            for k in self.r.execute_command("KEYS", "*"):
                exp = self.r.execute_command("PEXPIRETIME", k)
                got[(str(db), k)] = ("*", self.r.execute_command("GET", k), 0 if exp == -1 else exp)
        self.r.execute_command("SELECT", 0)
        return got


def project(model, host):
    """What a host's reads can show of the model."""
    out = {}
    for k, (tag, v, exp) in model.items():
        if host == "server":
            out[k] = ("*", v, exp)
        elif host == "sqlite":
            out[k] = ({TEXT: "text", JSON: "text", BYTES: "blob", INT: "integer",
                       REAL: "real", NULL: "null"}[tag], float(v) if tag == REAL else v, exp)
        else:
            out[k] = (TAGNAME[tag], v, exp)
    return out


def hop_server_first(args, model, t1):
    s = Server(args, "s0.skv")
    try:
        r = s.r.execute_command
        writes = [
            ("0", b"s:bytes", b"\x00\xff\x01", BYTES, 0, lambda k: r("SET", k, b"\x00\xff\x01")),
            ("0", b"s:empty", b"", BYTES, 0, lambda k: r("SET", k, b"")),
            ("0", b"s:int", b"-42", INT, 0, lambda k: r("INCRBY", k, -42)),
            ("0", b"s:real", b"0.3", REAL, 0, lambda k: (r("SET", k, "0.1"), r("INCRBYFLOAT", k, "0.2"))),
            ("0", b"s:ttl", b"v", BYTES, t1, lambda k: (r("SET", k, "v"), r("PEXPIREAT", k, t1))),
            ("0", b"s:max", b"v", BYTES, KV_EXPIRES_MAX,
             lambda k: (r("SET", k, "v"), r("PEXPIREAT", k, KV_EXPIRES_MAX))),
            ("0", b"\xff\x00k", b"bin", BYTES, 0, lambda k: r("SET", k, b"bin")),
            ("0", "clé".encode(), "☃".encode(), BYTES, 0, lambda k: r("SET", k, "☃".encode())),
            ("0", b"s:big", b"\x00\xff" * 32768, BYTES, 0, lambda k: r("SET", k, b"\x00\xff" * 32768)),
        ]
        for ns, k, v, tag, exp, fn in writes:
            fn(k)
            model[(ns, k)] = (tag, v, exp)
        r("SELECT", 5)
        r("SET", "s:db5", "five")
        r("PEXPIREAT", "s:db5", t1 + 1)
        r("SELECT", 0)
        model[("5", b"s:db5")] = (BYTES, b"five", t1 + 1)
        report(r("SAVE") == b"OK", "server: SAVE")
    finally:
        report(s.stop() == 0, "server: exits cleanly on SIGTERM")
    check_file(args, model, os.path.join(args.dir, "s0.skv"), "server")


# -------------------------------------------------------------- PostgreSQL
def psql(args, sql):
    p = subprocess.run(shlex.split(args.psql) + ["-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1",
                                                 "-f", "-"], input=sql.encode(),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def pg_view(args, dbs):
    sql = ("SELECT n.ns, s.key, s.type, coalesce(floor(extract(epoch FROM s.expires_at) * 1000)::bigint, 0), "
           "CASE WHEN left(s.key, 2) = '\\x' THEN '' ELSE encode(kv.get_bytea(n.ns, s.key), 'hex') END "
           "FROM (VALUES %s) n(ns), LATERAL kv.scan(n.ns) s;\n" % ", ".join("('%s')" % d for d in dbs))
    rc, out, err = psql(args, sql)
    if rc != 0:
        return None, err
    got = {}
    for line in out.splitlines():
        ns, key, typ, exp, vhex = line.split("\t")
        # a key that is not UTF-8 comes back in bytea's hex form; its value
        # cannot be read by a text key, so it is compared by tag and expiry
        k = bytes.fromhex(key[2:]) if key.startswith("\\x") else key.encode()
        got[(ns, k)] = (typ, None if key.startswith("\\x") else bytes.fromhex(vhex), int(exp))
    return got, ""


def hop_pg(args, model, t1):
    # the file was written by root; the cluster runs as postgres
    subprocess.run(["chown", "postgres:", os.path.join(args.dir, "s0.skv")])
    rc, _, err = psql(args, "SELECT kv.drop_namespace('m', if_exists => true);\n"
                            "SELECT kv.load(NULL, 's0.skv');\n")
    report(rc == 0, "pg: kv.load of the server's snapshot", [err])
    got, err = pg_view(args, ["0", "5"])
    want = project(model, "pg")
    if got is not None:
        for k, (t, v, e) in got.items():
            if v is None and k in want:          # value not readable by text key
                got[k] = (t, want[k][1], e)
    report(got is not None and not diff(want, got), "pg: kv.scan/kv.get_bytea show what the server wrote",
           [err] if got is None else diff(want, got))
    t = t1 + 2
    s, ms = divmod(t, 1000)
    rc, _, err = psql(args, """
SELECT kv.set('0', 'p:text', 'h\u00e9llo');
SELECT kv.set('0', 'p:json', '{"a": [1, 2]}'::jsonb);
SELECT kv.set('0', 'p:bytea', '\\x00ff'::bytea);
SELECT kv.set('0', 'p:ttl', 'x');
SELECT kv.expire_at('0', 'p:ttl', 'epoch'::timestamptz + %d * interval '1 second' + %d * interval '1 millisecond');
SELECT kv.save(NULL, 'p1.skv');
""" % (s, ms))
    report(rc == 0, "pg: writes text, jsonb, bytea, an expiry, and kv.save", [err])
    model[("0", b"p:text")] = (TEXT, "héllo".encode(), 0)
    model[("0", b"p:json")] = (JSON, b'{"a": [1, 2]}', 0)
    model[("0", b"p:bytea")] = (BYTES, b"\x00\xff", 0)
    model[("0", b"p:ttl")] = (TEXT, b"x", t)
    check_file(args, model, os.path.join(args.dir, "p1.skv"), "pg")
    return "p1.skv"


# ------------------------------------------------------------------ SQLite
def sqlite_view(db, dbs):
    got = {}
    for d in dbs:
        db.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.t%s USING kv(namespace='%s')" % (d, d))
        for k, typ, v, exp in db.execute("SELECT key, typeof(value), value, expires_at FROM t%s" % d):
            if typ == b"integer":
                v = str(v).encode()
            elif typ == b"null":
                v = b""
            got[(d, k)] = (typ.decode(), v, exp or 0)
    return got


def hop_sqlite(args, model, t1, src):
    db = sqlite3.connect(":memory:", isolation_level=None)
    db.text_factory = bytes
    db.enable_load_extension(True)
    db.load_extension(args.sqlite_ext)
    try:
        db.execute("SELECT kv_load(NULL, ?)", (os.path.join(args.dir, src),))
        report(True, "sqlite: kv_load of %s" % src)
    except sqlite3.Error as e:
        report(False, "sqlite: kv_load of %s" % src, [str(e)])
        return None
    want = project(model, "sqlite")
    got = sqlite_view(db, ["0", "5"])
    report(not diff(want, got), "sqlite: the kv table shows every value, type and expires_at", diff(want, got))
    t = t1 + 3
    try:
        db.execute("SELECT kv_set('0', 'q:int', 7), kv_set('0', 'q:real', 2.5), kv_set('0', 'q:null', NULL),"
                   " kv_set('0', 'q:text', 'hi'), kv_set('0', 'q:blob', x'00')")
        db.execute("INSERT INTO t0(key, value, expires_at) VALUES ('q:ttl', 'v', ?)", (t,))
        db.execute("SELECT kv_save(NULL, ?)", (os.path.join(args.dir, "q2.skv"),))
        report(True, "sqlite: writes INTEGER, REAL, NULL, TEXT, BLOB, an expiry, and kv_save")
    except sqlite3.Error as e:
        report(False, "sqlite: writes and kv_save", [str(e)])
    model[("0", b"q:int")] = (INT, b"7", 0)
    model[("0", b"q:real")] = (REAL, b"2.5", 0)
    model[("0", b"q:null")] = (NULL, b"", 0)
    model[("0", b"q:text")] = (TEXT, b"hi", 0)
    model[("0", b"q:blob")] = (BYTES, b"\x00", 0)
    model[("0", b"q:ttl")] = (TEXT, b"v", t)
    check_file(args, model, os.path.join(args.dir, "q2.skv"), "sqlite")
    db.close()
    return "q2.skv"


def hop_server_last(args, model, src):
    import shutil
    shutil.copyfile(os.path.join(args.dir, src), os.path.join(args.dir, "s3.skv"))
    s = Server(args, "s3.skv")
    try:
        want = project(model, "server")
        got = s.view([0, 5])
        report(not diff(want, got), "server: loads %s, GET and PEXPIRETIME show every key" % src, diff(want, got))
        report(s.r.execute_command("SAVE") == b"OK", "server: SAVE after the load")
    finally:
        report(s.stop() == 0, "server: exits cleanly on SIGTERM")
    check_file(args, model, os.path.join(args.dir, "s3.skv"), "server (last)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--server-bin", default="build/shardkv-server")
    ap.add_argument("--port", type=int, default=6392)
    ap.add_argument("--sqlite-ext", default="build/shardkv")
    ap.add_argument("--skvdump", required=True)
    ap.add_argument("--psql", default="")
    args = ap.parse_args()
    model = {}
    t1 = now_ms() + 3600 * 1000
    hop_server_first(args, model, t1)
    src = "s0.skv"
    if args.psql:
        src = hop_pg(args, model, t1)
    else:
        print("skip roundtrip: the PostgreSQL hop (no cluster given)")
    src = hop_sqlite(args, model, t1, src)
    if src:
        hop_server_last(args, model, src)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
