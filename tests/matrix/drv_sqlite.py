"""
drv_sqlite.py -- the matrix through build/shardkv.so loaded into Debian's
python3 sqlite3 module: the kv_* functions, the kv_keys table-valued function
and a kv virtual table (temp.mt) on the same namespace "m".  Each case starts
with kv_flush('m').

TEXT comes back as bytes (text_factory), so typeof() tells TEXT from BLOB.
SQLite shows the engine's tags as its own types: TEXT (text or json), INTEGER,
REAL, BLOB, NULL.
"""
import sqlite3

import neutral
from driver import Reply, StepDriver, Unsupported, expiry_at

NS = "m"


class SqliteDriver(StepDriver):
    name = "sqlite"

    def __init__(self, ext):
        self.db = sqlite3.connect(":memory:", isolation_level=None)
        self.db.text_factory = bytes
        self.db.enable_load_extension(True)
        self.db.load_extension(ext)
        self.db.execute("SELECT kv_set(?, 'x', 1), kv_delete(?, 'x')", (NS, NS))
        self.db.execute("CREATE VIRTUAL TABLE temp.mt USING kv(namespace='%s')" % NS)

    def reset(self):
        self.q("SELECT kv_flush(?)", NS)

    def q(self, sql, *args):
        try:
            return self.db.execute(sql, args).fetchall()
        except sqlite3.Error as e:
            raise Reply(neutral.err(str(e)))

    def one(self, sql, *args):
        return self.q(sql, *args)[0][0]

    # SQLite value <-> neutral -------------------------------------------------
    @staticmethod
    def bind(lit):
        """A value literal -> (SQL expression, parameter)."""
        tag, b = neutral.value(lit)
        if tag == "text":
            return "CAST(? AS TEXT)", b
        if tag == "bytes":
            return "?", b
        if tag == "int":
            return "?", int(b)
        if tag == "real":
            return "?", float(b)
        if tag == "null":
            return "?", None
        raise Unsupported("SQLite has no JSON type")

    @staticmethod
    def result(typ, v):
        if typ == b"text":
            return ("val", "text|json", v)
        if typ == b"blob":
            return ("val", "bytes", v)
        if typ == b"integer":
            return ("val", "int", str(v).encode())
        if typ == b"real":
            return ("real", v)
        return ("val", "null", b"")

    def read(self, fn, key):
        exists = self.one("SELECT kv_exists(?, ?)", NS, key)
        typ, v = self.q("WITH r(v) AS MATERIALIZED (SELECT %s(?, ?)) SELECT typeof(v), v FROM r" % fn,
                        NS, key)[0]
        if typ == b"null" and not exists:
            return ("nil",)
        return self.result(typ, v)

    @staticmethod
    def seconds(spec):
        n, unit = neutral.ttl_ms(spec)
        return n if unit == "s" else n / 1000.0

    # ---------------------------------------------------------------- ops
    def op_set(self, st):
        fn = {None: "kv_set", "nx": "kv_add", "xx": "kv_replace"}[st.get("flag")]
        expr, v = self.bind(st["val"])
        key = neutral.data(st["key"])
        if "ttl" in st:
            n = self.one("SELECT %s(?, ?, %s, ?)" % (fn, expr), NS, key, v, self.seconds(st["ttl"]))
        else:
            n = self.one("SELECT %s(?, ?, %s)" % (fn, expr), NS, key, v)
        return ("ok",) if n == 1 else ("nil",)

    def op_get(self, st):
        return self.read("kv_get", neutral.data(st["key"]))

    def op_getdel(self, st):
        return self.read("kv_consume", neutral.data(st["key"]))

    def op_del(self, st):
        return ("int", self.one("SELECT kv_delete(?, ?)", NS, neutral.data(st["key"])))

    def op_exists(self, st):
        return ("int", self.one("SELECT kv_exists(?, ?)", NS, neutral.data(st["key"])))

    def op_incr(self, st):
        k = neutral.data(st["key"])
        if "by" not in st:
            return ("int", self.one("SELECT kv_incr(?, ?)", NS, k))
        return ("int", self.one("SELECT kv_incr(?, ?, ?)", NS, k, int(st["by"])))

    def op_incr_float(self, st):
        # a REAL increment selects the float path (INCRBYFLOAT)
        return ("real", self.one("SELECT kv_incr(?, ?, ?)", NS, neutral.data(st["key"]), float(st["by"])))

    def op_ttl(self, st):
        return ("int", self.one("SELECT kv_ttl(?, ?)", NS, neutral.data(st["key"])))

    def op_expiretime_ms(self, st):
        k = neutral.data(st["key"])
        rows = self.q("SELECT expires_at FROM mt WHERE key = ?", k)
        if not rows:
            return ("int", -2)
        return ("int", -1 if rows[0][0] is None else rows[0][0])

    def op_expire(self, st):
        return ("int", self.one("SELECT kv_expire(?, ?, ?)", NS, neutral.data(st["key"]),
                                self.seconds(st["ttl"])))

    def op_expireat_ms(self, st):
        cur = self.db.cursor()
        try:
            cur.execute("UPDATE mt SET expires_at = ? WHERE key = ?",
                        (expiry_at(st["at"]), neutral.data(st["key"])))
        except sqlite3.Error as e:
            return neutral.err(str(e))
        return ("int", cur.rowcount)

    def op_persist(self, st):
        return ("int", self.one("SELECT kv_expire(?, ?, NULL)", NS, neutral.data(st["key"])))

    def op_keys(self, st):
        rows = self.q("SELECT key FROM kv_keys(?, ?)", NS, neutral.data(st["pattern"]))
        return ("list", [("key", k) for (k,) in sorted(rows)])

    def op_scan(self, st):
        rows = self.q("SELECT key, typeof(value), value FROM kv_keys(?, ?)", NS, neutral.data(st["pattern"]))
        return ("list", [("pair", k, self.result(t, v)) for k, t, v in sorted(rows)])

    def op_mget(self, st):
        keys = [neutral.data(k) for k in st["keys"]]
        rows = self.q("SELECT key, typeof(value), value FROM mt WHERE key IN (%s)"
                      % ",".join("?" * len(keys)), *keys)
        got = {k: self.result(t, v) for k, t, v in rows}
        return ("list", [got.get(k, ("nil",)) for k in keys])

    def op_mset(self, st):
        exprs, args = [], []
        for k, v in st["pairs"]:
            e, p = self.bind(v)
            exprs.append("(?, %s)" % e)
            args += [neutral.data(k), p]
        self.q("INSERT OR REPLACE INTO mt(key, value) VALUES " + ",".join(exprs), *args)
        return ("ok",)
