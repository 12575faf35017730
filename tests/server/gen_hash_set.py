"""
gen_hash_set.py -- command generators for hashes, sets and the generic commands
on collection keys, for coll_diff.py (see its header for the (argv, mode)
contract).  Keys collide on purpose: "h:N" are mostly hashes, "s:N" mostly
sets, "x:N" anything (so WRONGTYPE paths run), "str:N" strings.  Counts are
sometimes large enough to cross the compact-encoding threshold (128 elements).
"""


def _hkey(g):
    r = g.random()
    return g.key("h") if r < 0.78 else "" if r < 0.8 else g.key("x", 3)  # "": the empty key


def _skey(g):
    r = g.random()
    return g.key("s") if r < 0.78 else "" if r < 0.8 else g.key("x", 3)


def _anykey(g):
    return g.choice([g.key("h"), g.key("s"), g.key("x", 3), g.key("str", 2), "missing", ""])


def _intval(g):
    # below 2^53: HINCRBYFLOAT on a larger integer formats differently (README, "INCRBYFLOAT
    # results"); HINCRBY's overflow comes from its increments (2^63 - 1)
    return str(g.choice([0, 1, -1, 7, 100, 2 ** 52, -2 ** 52]))


def _value(g):
    r = g.random()
    if r < 0.2:
        return _intval(g)
    if r < 0.3:
        return g.choice(["1.5", "abc", "", "3e2", " 1", "inf"])
    return g.elem(1000)


# ---------------------------------------------------------------- hashes

def g_hset(g):
    n = g.choice([1, 1, 2, 3, 5])
    if g.random() < 0.04:
        n = 150  # past the listpack threshold
    args = ["HSET", _hkey(g)]
    for _ in range(n):
        args += [g.elem(200 if n > 100 else 40), _value(g)]
    if g.random() < 0.1:
        args += ["fc", g.choice(["abc", "1.5", "7", "", " 2", "1e5"])]  # HINCRBYFLOAT's field
    if g.random() < 0.03:
        args = args[:-1]  # odd count: wrong number of arguments
    return args, "exact"


def g_hmset(g):
    args = ["HMSET", _hkey(g)]
    for _ in range(g.randint(1, 3)):
        args += [g.elem(), _value(g)]
    return args, "exact"


def g_hsetnx(g):
    return ["HSETNX", _hkey(g), g.elem(), _value(g)], "exact"


def g_hget(g):
    return [g.choice(["HGET", "HEXISTS", "HSTRLEN"]), _hkey(g), g.elem()], "exact"


def g_hmget(g):
    return ["HMGET", _hkey(g)] + g.elems(1, 5), "exact"


def g_hdel(g):
    return ["HDEL", _hkey(g)] + g.elems(1, 4), "exact"


def g_hlen(g):
    return ["HLEN", _hkey(g)], "exact"


def g_hall(g):
    cmd = g.choice(["HGETALL", "HKEYS", "HVALS"])
    return [cmd, _hkey(g)], ("pairs" if cmd == "HGETALL" else "set")


def g_hincrby(g):
    by = g.choice(["1", "-1", "10", "9223372036854775807", "-9223372036854775808", "x", "1.5", ""])
    return ["HINCRBY", _hkey(g), g.elem(8), by], "exact"


def g_hincrbyfloat(g):
    by = g.choice(["1", "-1.5", "0.25", "1e3", "x", "", "inf", "nan", "3"])  # exact in binary: see below
    # a value past 2^53, or a sum inexact in binary, formats differently from Redis's long
    # double (README, "INCRBYFLOAT results"): increments exact in binary, on fields
    # of their own (HINCRBY's can reach 2^63); HSET puts text or numbers in "fc" (g_hset)
    field = g.choice(["fa", "fb", "fc"])
    return ["HINCRBYFLOAT", _hkey(g), field, by], "exact"


def g_hrandfield(g):
    k = _hkey(g)
    r = g.random()
    if r < 0.3:
        return ["HRANDFIELD", k], "shape"
    c = str(g.count()) if g.random() < 0.95 else "abc"
    if r < 0.6:
        return ["HRANDFIELD", k, c], "shape"
    return ["HRANDFIELD", k, c, g.choice(["WITHVALUES", "withvalues", "BAD"])], "shape"


def g_hscan(g):
    args = ["HSCAN", _hkey(g), "0"]
    if g.random() < 0.3:
        args += ["MATCH", g.choice(["e1*", "*", "e?", "[a-e]*"])]
    if g.random() < 0.3:
        args += ["COUNT", str(g.choice([1, 5, 100]))]
    return args, "scanall"


# ---------------------------------------------------------------- sets

def g_sadd(g):
    n = g.choice([1, 1, 2, 4])
    if g.random() < 0.04:
        n = 150
    if g.random() < 0.3:  # integer members: Redis's intset
        ms = [str(g.randrange(-50, 600)) for _ in range(n)]
    else:
        ms = [g.elem(300 if n > 100 else 40) for _ in range(n)]
    return ["SADD", _skey(g)] + ms, "exact"


def g_srem(g):
    return ["SREM", _skey(g)] + g.elems(1, 4), "exact"


def g_sismember(g):
    return ["SISMEMBER", _skey(g), g.elem()], "exact"


def g_smismember(g):
    return ["SMISMEMBER", _skey(g)] + g.elems(1, 4), "exact"


def g_smembers(g):
    return ["SMEMBERS", _skey(g)], "set"


def g_scard(g):
    return ["SCARD", _skey(g)], "exact"


def g_spop(g):
    k = _skey(g)
    if g.random() < 0.5:
        return ["SPOP", k], "spop"
    return ["SPOP", k, g.choice(["0", "1", "3", "1000", "-1", "x"])], "spop"


def g_srandmember(g):
    k = _skey(g)
    if g.random() < 0.3:
        return ["SRANDMEMBER", k], "shape"
    return ["SRANDMEMBER", k, str(g.count())], "shape"


def g_smove(g):
    return ["SMOVE", _skey(g), _skey(g), g.elem()], "exact"


def g_setop(g):
    op = g.choice(["SINTER", "SUNION", "SDIFF"])
    keys = [_skey(g) for _ in range(g.randint(1, 3))]
    return [op] + keys, "set"


def g_setop_store(g):
    op = g.choice(["SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"])
    dst = g.choice([_skey(g), g.key("h"), g.key("str", 2)])
    return [op, dst] + [_skey(g) for _ in range(g.randint(1, 3))], "exact"


def g_sintercard(g):
    keys = [_skey(g) for _ in range(g.randint(1, 3))]
    args = ["SINTERCARD", str(len(keys))] + keys
    r = g.random()
    if r < 0.3:
        args += ["LIMIT", str(g.choice([0, 1, 2, 100]))]
    elif r < 0.35:
        args = ["SINTERCARD", g.choice(["0", "-1", "5", "x"])] + keys
    elif r < 0.4:
        args += ["LIMIT", "-1"]
    return args, "exact"


def g_sscan(g):
    args = ["SSCAN", _skey(g), "0"]
    if g.random() < 0.3:
        args += ["MATCH", g.choice(["e1*", "*", "1*"])]
    if g.random() < 0.3:
        args += ["COUNT", str(g.choice([1, 7, 100]))]
    return args, "scanall"


# ---------------------------------------------------------------- generic

def g_strings(g):
    """String commands on any key: WRONGTYPE on collections."""
    k = _anykey(g)
    return g.choice([["GET", k], ["SET", k, _value(g)], ["APPEND", k, "z"], ["INCR", k],
                     ["STRLEN", k], ["GETRANGE", k, "0", "2"], ["SETRANGE", k, "1", "q"],
                     ["GETDEL", k], ["GETSET", k, "v"], ["INCRBYFLOAT", k, "1"],
                     ["SETBIT", k, "3", "1"], ["BITCOUNT", k], ["MGET", k, _anykey(g)],
                     ["LCS", k, _anykey(g)]]), "exact"


def g_type(g):
    k = _anykey(g)
    return g.choice([["TYPE", k], ["EXISTS", k, _anykey(g)]]), "exact"  # OBJECT ENCODING: test_hash_set.py


def g_del(g):
    return [g.choice(["DEL", "UNLINK"]), _anykey(g)], "exact"


def g_rename(g):
    cmd = g.choice(["RENAME", "RENAMENX"])
    return [cmd, _anykey(g), _anykey(g)], "exact"


def g_copy(g):
    args = ["COPY", _anykey(g), _anykey(g)]
    if g.random() < 0.5:
        args.append("REPLACE")
    return args, "exact"


def g_expire(g):
    k = _anykey(g)
    if g.random() < 0.2:
        return [g.choice(["TTL", "PTTL"]), k], "shape"  # the clock may tick between the two
    return g.choice([["EXPIRE", k, "1000"], ["PERSIST", k], ["EXPIRE", k, "1000", "NX"],
                     ["EXPIRE", k, "1000", "XX"], ["PEXPIRE", k, "900000", "GT"]]), "exact"


def g_sort(g):
    """SORT / SORT_RO of a set (numeric, ALPHA, BY, GET, LIMIT)."""
    args = [g.choice(["SORT", "SORT_RO"]), _skey(g)]
    mode = "exact"
    if g.random() < 0.5:
        args.append("ALPHA")
    if g.random() < 0.3:
        args.append(g.choice(["DESC", "ASC"]))
    if g.random() < 0.3:
        args += ["LIMIT", str(g.choice([0, 1, -1, 2])), str(g.choice([1, 3, -1, 0]))]
    r = g.random()
    if r < 0.15:
        args = [a for a in args if a not in ("DESC", "ASC")][:2] + args[2:3] * (args[2:3] == ["ALPHA"])
        args += ["BY", "nosort"]  # no LIMIT: it would cut the set's own order
        mode = "set"
    elif r < 0.3 and "ALPHA" not in args:  # ALPHA BY ties are unordered in Redis too
        args += ["BY", "str:*"]
    if g.random() < 0.3:
        args += ["GET", "#", "GET", g.choice(["str:*", "h:*->e1", "nokey*"])]
        if mode == "set":
            mode = "shape"
    # STORE writes a list: the zset/list generators cover it once lists are merged
    return args, mode


def g_scan_type(g):
    t = g.choice(["string", "hash", "set", "zset", "list", "none", "HASH"])
    return ["SCAN", "0", "TYPE", t, "COUNT", "1000"], "scanall"


def g_dbsize(g):
    return ["DBSIZE"], "exact"


GENERATORS = [
    (8, g_hset), (2, g_hmset), (2, g_hsetnx), (5, g_hget), (3, g_hmget), (4, g_hdel), (3, g_hlen),
    (3, g_hall), (3, g_hincrby), (3, g_hincrbyfloat), (2, g_hrandfield), (2, g_hscan),
    (8, g_sadd), (4, g_srem), (3, g_sismember), (2, g_smismember), (3, g_smembers), (2, g_scard),
    (2, g_spop), (2, g_srandmember), (2, g_smove), (3, g_setop), (2, g_setop_store),
    (2, g_sintercard), (2, g_sscan),
    (4, g_strings), (3, g_type), (1, g_del), (1, g_rename), (1, g_copy), (2, g_expire),
    (1, g_scan_type), (1, g_dbsize), (2, g_sort),
]
