"""
drv_pg.py -- the matrix through psql against a PostgreSQL cluster with the
shardkv extension (tests/suite-matrix.sh starts a throw-away one).  The whole
table runs as one psql script: each step is a SELECT of matrix.try(sql), which
runs the step's SQL, catches its error and returns one line
"R|case|step|t0|t1|result" with the clock (ms) before and after it.  The step's
SQL itself turns the kv.* result into the neutral text parsed below.

PostgreSQL keys, patterns and text values are text: a NUL byte or bytes that
are not UTF-8 cannot be written (the table marks those cases).  kv.get_bytea
reads any value but not its tag; kv.scan's type column shows the tag.
"""
import shlex
import subprocess

import neutral
from driver import Unsupported, expiry_at

NS = "'m'"

PRELUDE = r"""
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
CREATE SCHEMA IF NOT EXISTS matrix;
CREATE OR REPLACE FUNCTION matrix.now_ms() RETURNS bigint LANGUAGE sql AS
$$ SELECT floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint $$;
CREATE OR REPLACE FUNCTION matrix.try(tag text, q text) RETURNS text LANGUAGE plpgsql AS $f$
DECLARE r text; t0 bigint; t1 bigint;
BEGIN
  t0 := matrix.now_ms();
  BEGIN
    EXECUTE q INTO r;
  EXCEPTION WHEN OTHERS THEN
    r := 'err:' || SQLSTATE || ':' || translate(SQLERRM, E'\n|', '  ');
  END;
  t1 := matrix.now_ms() + 1;
  RETURN 'R|' || tag || '|' || t0 || '|' || t1 || '|' || coalesce(r, 'null-result');
END $f$;
SELECT kv.create_namespace('m', if_not_exists => true);
\set ON_ERROR_STOP 0
"""


def _hex(b):
    return "'\\x%s'::bytea" % b.hex()


def text_expr(b, what="text"):
    """Bytes -> a PG text expression, or Unsupported."""
    if b"\x00" in b:
        raise Unsupported("PostgreSQL %s cannot hold a NUL byte" % what)
    try:
        b.decode("utf-8")
    except UnicodeDecodeError:
        raise Unsupported("PostgreSQL %s must be UTF-8" % what)
    return "convert_from(%s, 'UTF8')" % _hex(b)


def key_expr(lit):
    return text_expr(neutral.data(lit), "key")


def value_expr(lit):
    tag, b = neutral.value(lit)
    if tag == "text":
        return text_expr(b, "text value")
    if tag == "bytes":
        return _hex(b)
    if tag == "json":
        return text_expr(b, "json value") + "::jsonb"
    raise Unsupported("kv.set takes text, bytea or jsonb, not %s" % tag)


def interval(spec):
    n, unit = neutral.ttl_ms(spec)
    return "interval '%d %s'" % (n, "milliseconds" if unit == "ms" else "seconds")


def ts(ms):
    s, r = divmod(ms, 1000)
    return "('epoch'::timestamptz + %d * interval '1 second' + %d * interval '1 millisecond')" % (s, r)


def _int(expr):
    return "SELECT 'int:' || (%s)::int" % expr


def _val(expr):
    return "SELECT coalesce('val:*:' || encode(%s, 'hex'), 'nil')" % expr


def _ms_or_missing(expr, k):
    return ("SELECT CASE WHEN t IS NOT NULL THEN 'int:' || floor(extract(epoch FROM t) * 1000)::bigint "
            "WHEN kv.exists(%s, %s) THEN 'int:-1' ELSE 'int:-2' END FROM (SELECT %s AS t) s" % (NS, k, expr))


class PgDriver:
    name = "pg"

    def __init__(self, psql):
        self.psql = shlex.split(psql)

    # ---------------------------------------------------------------- ops
    def op_set(self, st):
        fn = {None: "kv.set", "nx": "kv.add", "xx": "kv.replace"}[st.get("flag")]
        args = "%s, %s, %s" % (NS, key_expr(st["key"]), value_expr(st["val"]))
        if "ttl" in st:
            args += ", " + interval(st["ttl"])
        if fn == "kv.set":
            return "SELECT 'ok' FROM (SELECT kv.set(%s)) s" % args
        return "SELECT CASE WHEN %s(%s) THEN 'ok' ELSE 'nil' END" % (fn, args)

    def op_get(self, st):
        return _val("kv.get_bytea(%s, %s)" % (NS, key_expr(st["key"])))

    def op_getdel(self, st):
        return _val("kv.consume_bytea(%s, %s)" % (NS, key_expr(st["key"])))

    def op_getset(self, st):
        tag, _ = neutral.value(st["val"])
        old = "kv.getset(%s, %s, %s)" % (NS, key_expr(st["key"]), value_expr(st["val"]))
        return _val("convert_to(%s, 'UTF8')" % old if tag == "text" else old)

    def op_del(self, st):
        return _int("kv.delete(%s, %s)" % (NS, key_expr(st["key"])))

    def op_exists(self, st):
        return _int("kv.exists(%s, %s)" % (NS, key_expr(st["key"])))

    def op_incr(self, st):
        by = "'%d'::bigint" % st.get("by", 1)
        return "SELECT 'int:' || kv.incr(%s, %s, %s)" % (NS, key_expr(st["key"]), by)

    def op_incr_float(self, st):
        return "SELECT 'real:' || kv.incr_float(%s, %s, '%s'::float8)" % (
            NS, key_expr(st["key"]), st["by"].replace("'", ""))

    def op_append(self, st):
        return "SELECT 'int:' || kv.append(%s, %s, %s)" % (NS, key_expr(st["key"]), value_expr(st["val"]))

    def op_pttl(self, st):
        k = key_expr(st["key"])
        return _ms_or_missing("kv.ttl(%s, %s)" % (NS, k), k)

    def op_expiretime_ms(self, st):
        k = key_expr(st["key"])
        return _ms_or_missing("kv.expires_at(%s, %s)" % (NS, k), k)

    def op_expire(self, st):
        return _int("kv.expire(%s, %s, %s)" % (NS, key_expr(st["key"]), interval(st["ttl"])))

    def op_expireat_ms(self, st):
        return _int("kv.expire_at(%s, %s, %s)" % (NS, key_expr(st["key"]), ts(expiry_at(st["at"]))))

    def op_persist(self, st):
        return _int("kv.persist(%s, %s)" % (NS, key_expr(st["key"])))

    def op_keys(self, st):
        return ("SELECT 'list:' || coalesce(string_agg('key:' || encode(convert_to(k, 'UTF8'), 'hex'), ','), '') "
                "FROM kv.keys(%s, %s) k" % (NS, text_expr(neutral.data(st["pattern"]), "pattern")))

    def op_scan(self, st):
        return ("SELECT 'list:' || coalesce(string_agg('pair:' || encode(convert_to(key, 'UTF8'), 'hex') "
                "|| ':' || type || ':' || coalesce(encode(kv.get_bytea(%s, key), 'hex'), ''), ','), '') "
                "FROM kv.scan(%s, pattern => %s)" % (NS, NS, text_expr(neutral.data(st["pattern"]), "pattern")))

    def op_mget(self, st):
        arr = "ARRAY[%s]::text[]" % ", ".join(key_expr(k) for k in st["keys"])
        return ("SELECT 'list:' || coalesce(string_agg(coalesce('val:*:' || encode(value, 'hex'), 'nil'), ',' "
                "ORDER BY n), '') FROM kv.mget_bytea(%s, %s) WITH ORDINALITY AS t(key, value, n)" % (NS, arr))

    def op_mset(self, st):
        keys, vals = [], []
        for k, v in st["pairs"]:
            tag, b = neutral.value(v)
            if tag != "text":
                raise Unsupported("kv.mset takes text values only")
            keys.append(key_expr(k))
            vals.append(text_expr(b, "text value"))
        return ("SELECT CASE WHEN bool_and(status = 'ok') THEN 'ok' ELSE 'err:mset:' || string_agg(status, ',') END "
                "FROM kv.mset(%s, ARRAY[%s]::text[], ARRAY[%s]::text[])" % (NS, ", ".join(keys), ", ".join(vals)))

    def op_sleep(self, st):
        return "SELECT 'ok' FROM pg_sleep(%f)" % (st["ms"] / 1000.0)

    # ------------------------------------------------------------ running
    def offers(self, op):
        return hasattr(self, "op_" + op)

    def run_cases(self, cases):
        lines, pre = [PRELUDE], {}
        for ci, c in enumerate(cases):
            lines.append("SELECT kv.flush('m');")
            for si, st in enumerate(c["steps"]):
                fn = getattr(self, "op_" + st["op"], None)
                try:
                    if fn is None:
                        raise Unsupported("pg offers no %s" % st["op"])
                    sql = fn(st)
                except Unsupported as e:
                    pre[(ci, si)] = ("unsup", str(e))
                    continue
                lines.append("SELECT matrix.try('%d|%d', $q$%s$q$);" % (ci, si, sql))
        script = "\n".join(lines) + "\n"
        p = subprocess.run(self.psql + ["-X", "-q", "-A", "-t", "-f", "-"], input=script.encode(),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
        got = {}
        for line in p.stdout.decode("utf-8", "replace").splitlines():
            if line.startswith("R|"):
                _, ci, si, t0, t1, res = line.split("|", 5)
                got[(int(ci), int(si))] = (parse(res), (int(t0), int(t1)))
        out = {}
        for ci, c in enumerate(cases):
            rs = []
            for si in range(len(c["steps"])):
                if (ci, si) in pre:
                    rs.append((pre[(ci, si)], (0, 0)))
                else:
                    rs.append(got.get((ci, si), (("err", "no-answer",
                              "psql gave no line (exit %d): %s" % (p.returncode, p.stderr.decode()[-300:])), None)))
            out[c["id"]] = rs
        return out


def parse(res):
    """The neutral text a step's SQL returned -> a result tuple."""
    if res in ("ok", "nil"):
        return (res,)
    kind, _, rest = res.partition(":")
    if kind == "int":
        return ("int", int(rest))
    if kind == "real":
        return ("real", float(rest))
    if kind == "val":
        tag, _, h = rest.partition(":")
        return ("val", tag, bytes.fromhex(h))
    if kind == "key":
        return ("key", bytes.fromhex(rest))
    if kind == "pair":
        k, tag, h = rest.split(":")
        return ("pair", bytes.fromhex(k), ("val", tag, bytes.fromhex(h)))
    if kind == "list":
        items = [parse(x) for x in rest.split(",")] if rest else []
        if items and items[0][0] in ("key", "pair"):     # a set: sorted as the other drivers do
            items.sort(key=lambda x: x[1])
        return ("list", items)
    if kind == "err":
        state, _, msg = rest.partition(":")
        return neutral.err("%s (SQLSTATE %s)" % (msg, state))
    return ("err", "other", "unparsed psql answer %r" % res)
