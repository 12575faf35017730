"""
drv_server.py -- the matrix through build/shardkv-server, with python3-redis
(Debian's /usr/bin/python3).  Database 0 is the engine namespace "0"; each case
starts with FLUSHDB.
"""
import redis

import neutral
from driver import Reply, StepDriver, expiry_at


def _int(x):
    return ("int", int(x))


class ServerDriver(StepDriver):
    name = "server"

    def __init__(self, port):
        self.r = redis.Redis(host="127.0.0.1", port=port, decode_responses=False,
                             socket_timeout=20)
        # raw replies: no client-side parsing (INCRBYFLOAT must stay text)
        self.r.response_callbacks.clear()

    def reset(self):
        self.r.flushdb()

    def cmd(self, *args):
        try:
            return self.r.execute_command(*args)
        except redis.ResponseError as e:
            raise Reply(neutral.err(str(e)))

    @staticmethod
    def _val(v):
        return ("nil",) if v is None else ("val", "*", v)

    # ---------------------------------------------------------------- ops
    def op_set(self, st):
        args = ["SET", neutral.data(st["key"]), neutral.value(st["val"])[1]]
        if "ttl" in st:
            n, unit = neutral.ttl_ms(st["ttl"])
            args += ["PX" if unit == "ms" else "EX", n]
        if st.get("flag"):
            args.append(st["flag"].upper())
        return ("ok",) if self.cmd(*args) is not None else ("nil",)

    def op_get(self, st):
        return self._val(self.cmd("GET", neutral.data(st["key"])))

    def op_getdel(self, st):
        return self._val(self.cmd("GETDEL", neutral.data(st["key"])))

    def op_getset(self, st):
        return self._val(self.cmd("GETSET", neutral.data(st["key"]), neutral.value(st["val"])[1]))

    def op_del(self, st):
        return _int(self.cmd("DEL", neutral.data(st["key"])))

    def op_exists(self, st):
        return _int(self.cmd("EXISTS", neutral.data(st["key"])))

    def op_incr(self, st):
        k = neutral.data(st["key"])
        if "by" not in st:
            return _int(self.cmd("INCR", k))
        return _int(self.cmd("INCRBY", k, str(st["by"])))

    def op_incr_float(self, st):
        return ("val", "*", self.cmd("INCRBYFLOAT", neutral.data(st["key"]), st["by"]))

    def op_append(self, st):
        return _int(self.cmd("APPEND", neutral.data(st["key"]), neutral.value(st["val"])[1]))

    def op_ttl(self, st):
        return _int(self.cmd("TTL", neutral.data(st["key"])))

    def op_pttl(self, st):
        return _int(self.cmd("PTTL", neutral.data(st["key"])))

    def op_expiretime_ms(self, st):
        return _int(self.cmd("PEXPIRETIME", neutral.data(st["key"])))

    def op_expire(self, st):
        n, unit = neutral.ttl_ms(st["ttl"])
        return _int(self.cmd("PEXPIRE" if unit == "ms" else "EXPIRE", neutral.data(st["key"]), n))

    def op_expireat_ms(self, st):
        return _int(self.cmd("PEXPIREAT", neutral.data(st["key"]), expiry_at(st["at"])))

    def op_persist(self, st):
        return _int(self.cmd("PERSIST", neutral.data(st["key"])))

    def op_keys(self, st):
        ks = self.cmd("KEYS", neutral.data(st["pattern"]))
        return ("list", [("key", k) for k in sorted(ks)])

    def op_scan(self, st):
        cursor, seen = b"0", set()
        while True:
            cursor, ks = self.cmd("SCAN", cursor, "MATCH", neutral.data(st["pattern"]), "COUNT", 3)
            seen.update(ks)
            if cursor == b"0":
                break
        return ("list", [("pair", k, self._val(self.cmd("GET", k))) for k in sorted(seen)])

    def op_mget(self, st):
        vs = self.cmd("MGET", *[neutral.data(k) for k in st["keys"]])
        return ("list", [self._val(v) for v in vs])

    def op_mset(self, st):
        args = ["MSET"]
        for k, v in st["pairs"]:
            args += [neutral.data(k), neutral.value(v)[1]]
        self.cmd(*args)
        return ("ok",)

