"""
gen_zset_list.py -- command generators for sorted sets, lists and the
blocking pops, for coll_diff.py (see its header for the (argv, mode) contract).

Keys collide on purpose: "z:N" are mostly zsets, "lz:N" zsets whose members
all score 0 (the lexicographic commands are only defined on those), "l:N"
lists, "x:N" anything (so WRONGTYPE paths run), "str:N" strings.  Sizes now
and then pass the compact encodings' thresholds (128 zset members, 8 KB of
list).  Scores and bounds include Redis's edge texts: inf, -inf, "(", "-0",
1e-300, 0.1 + 0.2, NaN, blanks, hex and overflow.  SETS lists the set
generators used when the server under test has sets (ZUNION & co. take them).
"""

SCORES = ["0", "1", "-1", "2", "3", "1.5", "0.1", "0.2", "inf", "-inf", "+inf", "1e-300", "-0",
          "100", "1e300", "-2.5", "7", "10", "0.30000000000000004", "4503599627370496",
          "9007199254740993", "1e17", "123456789.123"]
BAD_SCORES = ["abc", "nan", "", " 1", "1 ", "1e400", "-1e400", "1e-400", "0x10", "(1", "1.2.3"]
SCORE_BOUNDS = ["-inf", "+inf", "inf", "(1", "1", "(0", "0", "1.5", "(1.5", "-1", "(-1", "2", "(3",
                "10", "(inf", "(-inf", "1e-300", "(", "", "0.1"]
BAD_BOUNDS = ["abc", "nan", "(nan", "[1", "1x"]
LEX_BOUNDS = ["-", "+", "[a", "(a", "[e5", "(e5", "[e20", "(e3", "[", "(", "[e", "(z"]
BAD_LEX = ["a", "+x", "-x", "", "1"]
INDEXES = [0, 1, 2, -1, -2, -3, 5, 10, -10, 100, -100, 3, 4, -5]
BAD_INTS = ["abc", "1.5", "", "9223372036854775808", " 1"]


def _zkey(g):
    r = g.random()
    return g.key("z") if r < 0.75 else g.key("x", 3) if r < 0.9 else g.key("str", 2)


def _lzkey(g):
    # l:N (a list or nothing) for WRONGTYPE: x:N and str:N may be zsets of mixed
    # scores, where lex ranges are undefined
    return g.key("lz", 3) if g.random() < 0.9 else g.key("l", 2)


def _lkey(g):
    r = g.random()
    return g.key("l") if r < 0.75 else g.key("x", 3) if r < 0.9 else g.key("str", 2)


def _score(g):
    r = g.random()
    if r < 0.03:
        return g.choice(BAD_SCORES)
    if r < 0.6:
        return g.choice(SCORES)
    if r < 0.8:
        return str(g.randrange(-20, 20))
    return repr(g.uniform(-50, 50))


def _sbound(g):
    if g.random() < 0.04:
        return g.choice(BAD_BOUNDS)
    if g.random() < 0.2:
        return ("(" if g.random() < 0.5 else "") + str(g.randrange(-20, 20))
    return g.choice(SCORE_BOUNDS)


def _lbound(g):
    r = g.random()
    if r < 0.04:
        return g.choice(BAD_LEX)
    if r < 0.5:
        return g.choice(LEX_BOUNDS)
    e = g.elem()
    return (g.choice(["[", "("]) + e) if isinstance(e, str) else (b"[" + e)


def _index(g):
    if g.random() < 0.03:
        return g.choice(BAD_INTS)
    return str(g.choice(INDEXES))


def _many(g, n_small=5, big=150):
    return big if g.random() < 0.03 else g.randint(1, n_small)


# ---------------------------------------------------------------- sorted sets

def g_zadd(g):
    opts = [o for o in ["NX", "XX", "GT", "LT", "CH", "INCR"] if g.random() < 0.12]
    g.shuffle(opts)
    n = 1 if "INCR" in opts and g.random() < 0.9 else _many(g)
    args = ["ZADD", _zkey(g)] + opts
    for _ in range(n):
        args += [_score(g), g.elem(300 if n > 100 else 40)]
    if g.random() < 0.03:
        args = args[:-1]
    return args, "exact"


def g_zadd_lex(g):
    args = ["ZADD", _lzkey(g)]
    for _ in range(_many(g)):
        args += ["0", g.elem(300)]
    return args, "exact"


def g_zincrby(g):
    return ["ZINCRBY", _zkey(g), _score(g), g.elem()], "exact"


def g_zrem(g):
    return ["ZREM", g.choice([_zkey(g), _lzkey(g)])] + g.elems(1, 4), "exact"


def g_zscore(g):
    return ["ZSCORE", _zkey(g), g.elem()], "exact"


def g_zmscore(g):
    return ["ZMSCORE", _zkey(g)] + g.elems(1, 4), "exact"


def g_zcard(g):
    return ["ZCARD", g.choice([_zkey(g), _lzkey(g)])], "exact"


def g_zcount(g):
    return ["ZCOUNT", _zkey(g), _sbound(g), _sbound(g)], "exact"


def g_zlexcount(g):
    return ["ZLEXCOUNT", _lzkey(g), _lbound(g), _lbound(g)], "exact"


def g_zrank(g):
    return [g.choice(["ZRANK", "ZREVRANK"]), _zkey(g), g.elem()], "exact"


def _limit(g):
    if g.random() < 0.3:
        return ["LIMIT", str(g.choice([0, 1, 2, 5, -1, -2, 100])), str(g.choice([0, 1, 2, 3, -1, -5, 100]))]
    return []


def g_zrange(g):
    by = g.choice(["", "", "BYSCORE", "BYLEX"])
    key = _lzkey(g) if by == "BYLEX" else _zkey(g)
    if by == "BYSCORE":
        lo, hi = _sbound(g), _sbound(g)
    elif by == "BYLEX":
        lo, hi = _lbound(g), _lbound(g)
    else:
        lo, hi = _index(g), _index(g)
    opts = ([by] if by else []) + (["REV"] if g.random() < 0.3 else []) + _limit(g)
    if g.random() < 0.4:
        opts.append("WITHSCORES")
    g.shuffle(opts)
    if g.random() < 0.02:
        opts.append(g.choice(["BOGUS", "LIMIT", "REV"]))
    return ["ZRANGE", key, lo, hi] + opts, "exact"


def g_zrangestore(g):
    argv, _ = g_zrange(g)
    argv = [a for a in argv if a != "WITHSCORES" or g.random() < 0.05]
    return ["ZRANGESTORE", g.choice([g.key("z"), g.key("dst", 2)])] + argv[1:], "exact"


def g_zrange_old(g):
    cmd = g.choice(["ZRANGEBYSCORE", "ZREVRANGEBYSCORE", "ZRANGEBYLEX", "ZREVRANGEBYLEX", "ZREVRANGE"])
    if "LEX" in cmd:
        argv = [cmd, _lzkey(g), _lbound(g), _lbound(g)]
    elif "SCORE" in cmd:
        argv = [cmd, _zkey(g), _sbound(g), _sbound(g)]
    else:
        argv = [cmd, _zkey(g), _index(g), _index(g)]
    opts = _limit(g) + (["WITHSCORES"] if g.random() < 0.4 else [])
    if g.random() < 0.05:
        opts.append(g.choice(["REV", "BYSCORE", "BYLEX"]))
    g.shuffle(opts)
    return argv + opts, "exact"


def g_zremrange(g):
    kind = g.choice(["RANK", "SCORE", "LEX"])
    if kind == "LEX":
        return ["ZREMRANGEBYLEX", _lzkey(g), _lbound(g), _lbound(g)], "exact"
    if kind == "SCORE":
        return ["ZREMRANGEBYSCORE", _zkey(g), _sbound(g), _sbound(g)], "exact"
    return ["ZREMRANGEBYRANK", _zkey(g), _index(g), _index(g)], "exact"


def g_zpop(g):
    argv = [g.choice(["ZPOPMIN", "ZPOPMAX"]), _zkey(g)]
    if g.random() < 0.5:
        argv.append(g.choice(["0", "1", "2", "5", "300", "-1", "x"]))
    if g.random() < 0.02:
        argv.append("1")
    return argv, "exact"


def g_zrandmember(g):
    argv = ["ZRANDMEMBER", _zkey(g)]
    if g.random() < 0.7:
        argv.append(str(g.choice([0, 1, 2, 5, -1, -3, 10, 300, -300])))
        if g.random() < 0.5:
            argv.append(g.choice(["WITHSCORES", "WITHSCORES", "bogus"]))
    return argv, "shape"


def g_zsetop(g, srcs=None):
    cmd = g.choice(["ZUNION", "ZINTER", "ZDIFF", "ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE", "ZINTERCARD"])
    n = g.randint(1, 3)
    keys = [g.choice(srcs) if srcs and g.random() < 0.3 else _zkey(g) for _ in range(n)]
    argv = [cmd]
    if cmd.endswith("STORE"):
        argv.append(g.choice([g.key("z"), g.key("dst", 2)]))
    argv += [str(n) if g.random() > 0.04 else g.choice(["0", "-1", "9", "x"])] + keys
    if cmd == "ZINTERCARD":
        if g.random() < 0.5:
            argv += ["LIMIT", g.choice(["0", "1", "2", "-1", "x"])]
        return argv, "exact"
    if cmd not in ("ZDIFF", "ZDIFFSTORE") and g.random() < 0.4:
        # 0 and inf make NaN products: Redis zeroes them for every ZUNION source
        # but for ZINTER only in the smallest source's, then a NaN sum
        ws = ["1", "2", "-1", "0.5", "x", "0", "inf", "-inf"]
        argv += ["WEIGHTS"] + [g.choice(ws) for _ in range(n)]
    if cmd not in ("ZDIFF", "ZDIFFSTORE") and g.random() < 0.4:
        argv += ["AGGREGATE", g.choice(["SUM", "MIN", "MAX", "min", "avg"])]
    if not cmd.endswith("STORE") and g.random() < 0.5:
        argv.append("WITHSCORES")
    return argv, "exact"


def g_zscan(g):
    argv = ["ZSCAN", _zkey(g), "0"]
    if g.random() < 0.3:
        argv += ["MATCH", g.choice(["e1*", "*", "e?", "[a-e]*"])]
    if g.random() < 0.3:
        argv += ["COUNT", g.choice(["1", "5", "100"])]
    return argv, "scanall"


# ---------------------------------------------------------------- lists

def g_push(g):
    cmd = g.choice(["LPUSH", "RPUSH", "LPUSH", "RPUSH", "LPUSHX", "RPUSHX"])
    n = _many(g, 5, 200)
    return [cmd, _lkey(g)] + [g.elem(60) for _ in range(n)], "exact"


def g_pop(g):
    argv = [g.choice(["LPOP", "RPOP"]), _lkey(g)]
    if g.random() < 0.5:
        argv.append(g.choice(["0", "1", "2", "3", "10", "300", "-1", "x"]))
    if g.random() < 0.02:
        argv.append("1")
    return argv, "exact"


def g_llen(g):
    return ["LLEN", _lkey(g)], "exact"


def g_lrange(g):
    return ["LRANGE", _lkey(g), _index(g), _index(g)], "exact"


def g_lindex(g):
    return ["LINDEX", _lkey(g), _index(g)], "exact"


def g_lset(g):
    return ["LSET", _lkey(g), _index(g), g.elem()], "exact"


def g_linsert(g):
    return ["LINSERT", _lkey(g), g.choice(["BEFORE", "AFTER", "after", "middle"]), g.elem(), g.elem()], "exact"


def g_lrem(g):
    return ["LREM", _lkey(g), g.choice(["0", "1", "-1", "2", "-2", "x"]), g.elem()], "exact"


def g_ltrim(g):
    return ["LTRIM", _lkey(g), _index(g), _index(g)], "exact"


def g_lpos(g):
    argv = ["LPOS", _lkey(g), g.elem()]
    opts = []
    if g.random() < 0.4:
        opts += ["RANK", g.choice(["1", "2", "-1", "-2", "0", "x", "-9223372036854775807",
                                     "-9223372036854775808"])]
    if g.random() < 0.4:
        opts += ["COUNT", g.choice(["0", "1", "2", "-1", "x"])]
    if g.random() < 0.3:
        opts += ["MAXLEN", g.choice(["0", "1", "5", "-1"])]
    if g.random() < 0.03:
        opts.append("RANK")
    return argv + opts, "exact"


def g_lmove(g):
    if g.random() < 0.3:
        return ["RPOPLPUSH", _lkey(g), _lkey(g)], "exact"
    return ["LMOVE", _lkey(g), _lkey(g), g.choice(["LEFT", "RIGHT", "left"]),
            g.choice(["LEFT", "RIGHT", "up"])], "exact"


def g_blocking(g):
    """Blocking forms on keys that may be empty: a 10 ms timeout keeps the stream moving."""
    t = g.choice(["0.01", "0.01", "0.01", "-1", "x", "inf", ""])
    cmd = g.choice(["BLPOP", "BRPOP", "BLMOVE", "BRPOPLPUSH", "BZPOPMIN", "BZPOPMAX"])
    if cmd == "BLMOVE":
        return [cmd, _lkey(g), _lkey(g), g.choice(["LEFT", "RIGHT"]), g.choice(["LEFT", "RIGHT", "x"]), t], "exact"
    if cmd == "BRPOPLPUSH":
        return [cmd, _lkey(g), _lkey(g), t], "exact"
    keyf = _zkey if cmd.startswith("BZ") else _lkey
    return [cmd] + [keyf(g) for _ in range(g.randint(1, 3))] + [t], "exact"


def g_generic(g):
    key = g.choice([g.key("z"), g.key("l"), g.key("x", 3), g.key("lz", 3), g.key("str", 2)])
    r = g.random()
    if r < 0.3:
        return ["TYPE", key], "exact"
    if r < 0.45:
        return ["DEL", key], "exact"
    if r < 0.55:
        return ["EXISTS", key], "exact"
    return ["SET", g.choice([g.key("str", 2), g.key("x", 3)]), g.elem()], "exact"


def g_xfill(g):
    """Make an x:N key a zset or a list (others make it a set or string)."""
    if g.random() < 0.5:
        return ["ZADD", g.key("x", 3), _score(g), g.elem()], "exact"
    return ["RPUSH", g.key("x", 3), g.elem()], "exact"


GENERATORS = [
    (10, g_zadd), (4, g_zadd_lex), (3, g_zincrby), (3, g_zrem), (3, g_zscore), (2, g_zmscore), (2, g_zcard),
    (3, g_zcount), (3, g_zlexcount), (3, g_zrank), (8, g_zrange), (3, g_zrangestore), (6, g_zrange_old),
    (3, g_zremrange), (4, g_zpop), (2, g_zrandmember), (6, g_zsetop), (2, g_zscan),
    (10, g_push), (5, g_pop), (2, g_llen), (4, g_lrange), (3, g_lindex), (2, g_lset), (2, g_linsert),
    (2, g_lrem), (2, g_ltrim), (3, g_lpos), (3, g_lmove), (1, g_blocking), (3, g_generic), (2, g_xfill),
]


def g_sadd(g):
    return ["SADD", g.key("s", 2)] + g.elems(1, 4), "exact"


SET_SOURCES = ["s:0", "s:1"]


def g_zsetop_sets(g):
    return g_zsetop(g, SET_SOURCES)


# used when the server has sets: ZUNION & co. take them as sources (score 1)
SETS = [(2, g_sadd), (3, g_zsetop_sets)]
