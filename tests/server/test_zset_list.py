"""
test_zset_list.py -- sorted sets and lists of issue 12 against Debian's
redis-server (7.0), reply for reply, byte for byte, in RESP2 and RESP3:

  - seeded random command streams (gen_zset_list.py through coll_diff.py)
    over every Z* and L* command, their errors, WRONGTYPE, the compact
    thresholds, LIMIT and negative indices, the blocking forms with short
    timeouts; once under ASan and once with a BGSAVE loop running;
  - fixed cases for what a random stream reaches rarely: score formatting
    (inf, -inf, 1e-300, 0.1 + 0.2, integers past 2^53), the ZADD option
    errors, LIMIT edges, lex and score bound errors, big ranges;
  - ZRANK/ZREVRANK WITHSCORE (Redis 7.2's form, which 7.0 lacks) against
    its documented reply;
  - a random stream's writes with appendonly yes (and a BGREWRITEAOF in the
    middle): the state after kill -9 and replay is the state before.

Ports: ZL_PORT (default 6388) for shardkv-server, ZL_REDIS_PORT (6389) for
redis-server.  SKV_TEST_SEED replays a stream; ZL_STEPS sets its length.
Run: /usr/bin/python3 tests/server/test_zset_list.py [-k words-of-a-test-name]
"""
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import coll_diff  # noqa: E402
import gen_zset_list as gen  # noqa: E402
from harness import Raw, encode, eq, stop_all, summary, test, true  # noqa: E402

P = int(os.environ.get("ZL_PORT", 6388))
P_REDIS = int(os.environ.get("ZL_REDIS_PORT", 6389))
coll_diff.PORT, coll_diff.REDIS_PORT = P, P_REDIS
SEED = int(os.environ.get("SKV_TEST_SEED", "0")) or random.randrange(1, 1 << 30)
STEPS = int(os.environ.get("ZL_STEPS", "1500"))
print("seed %d (SKV_TEST_SEED=%d replays it), %d steps" % (SEED, SEED, STEPS), flush=True)


def generators():
    """The zset/list generators, plus set sources when the server has sets."""
    r = Raw(P)
    has_sets = "unknown command" not in str(r.cmd("SADD", "probe:set", "a"))
    r.cmd("DEL", "probe:set")
    r.close()
    return gen.GENERATORS + (gen.SETS if has_sets else [])


def diff_run(what, seeds, steps, **kw):
    skv, rds, tmp = coll_diff.start_pair(asan=kw.pop("asan", False))
    try:
        gens = generators()
    finally:
        coll_diff.stop_pair(skv, rds, tmp)
    fails = coll_diff.run(gens, seeds, steps, **kw)
    if fails:
        raise AssertionError("%s: %s" % (what, fails[0]))


@test("zset/list: random streams equal redis-server's, RESP2 and RESP3")
def t_random():
    diff_run("stream", [SEED, SEED + 1], STEPS)


@test("zset/list: a random stream under ASan")
def t_random_asan():
    diff_run("asan stream", [SEED + 2], STEPS // 3, asan=True)


@test("zset/list: a random stream while BGSAVE runs in a loop")
def t_random_bgsave():
    diff_run("bgsave stream", [SEED + 3], STEPS // 2, resps=(2,), bgsave=True)


# ---------------------------------------------------------------- fixed cases

def same(cmds, what, resps=(2, 3)):
    """Run cmds on both servers after FLUSHALL, in each RESP version; replies must be equal bytes."""
    for resp in resps:
        got = []
        for port in (P, P_REDIS):
            r = Raw(port)
            r.cmd("FLUSHALL")
            if resp == 3:
                r.cmd("HELLO", "3")
            out = []
            for c in cmds:
                r.send(encode(*c))
                out.append(r.raw_reply())
            r.close()
            got.append(out)
        for c, a, b in zip(cmds, got[0], got[1]):
            if a != b:
                raise AssertionError("%s RESP%d: %r: shardkv %r, redis-server %r" % (what, resp, c, a, b))


def fixed(fn):
    """Run fn with both servers up (one pair for all the fixed cases of a test)."""
    def wrap():
        skv, rds, tmp = coll_diff.start_pair()
        try:
            fn()
        finally:
            coll_diff.stop_pair(skv, rds, tmp)
    wrap.__name__ = fn.__name__
    return wrap


@test("ZINTER's NaN weights (smallest source first) and LPOS RANK -2^63, as redis-server")
@fixed
def t_nan_and_rank():
    cmds = [["ZADD", "zi", "1", "a", "inf", "m"], ["ZADD", "big", "inf", "m", "1", "x", "1", "y", "1", "z"],
            ["SADD", "st", "m", "a"]]
    for agg in ([], ["AGGREGATE", "MIN"], ["AGGREGATE", "MAX"]):
        for keys, ws in ((["zi", "zi"], ["2", "0"]), (["zi", "zi"], ["0", "2"]), (["big", "zi"], ["0", "1"]),
                         (["zi", "big"], ["1", "0"]), (["big", "zi"], ["-inf", "inf"]), (["st", "zi"], ["inf", "0"])):
            cmds.append(["ZINTER", "2"] + keys + ["WEIGHTS"] + ws + agg + ["WITHSCORES"])
            cmds.append(["ZUNION", "2"] + keys + ["WEIGHTS"] + ws + agg + ["WITHSCORES"])
    cmds += [["ZINTERSTORE", "d", "2", "zi", "zi", "WEIGHTS", "2", "0"], ["ZRANGE", "d", "0", "-1", "WITHSCORES"],
             ["RPUSH", "l", "a", "b", "a", "c", "a"]]
    for opts in ([], ["COUNT", "2"], ["COUNT", "0"], ["COUNT", "0", "MAXLEN", "2"], ["MAXLEN", "1"]):
        cmds.append(["LPOS", "l", "a", "RANK", "-9223372036854775808"] + opts)
    cmds += [["LPOS", "l", "zz", "RANK", "-9223372036854775808"], ["LPOS", "l", "a", "RANK", "-9223372036854775809"]]
    same(cmds, "NaN weights, LPOS RANK")


@test("zset: score formatting (inf, 1e-300, 0.1+0.2, 2^53+1, integers)")
@fixed
def t_scores():
    scores = ["inf", "-inf", "+inf", "1e-300", "-1e-300", "0.1", "0.2", "3", "-3", "1e17", "1.5e300",
              "9007199254740993", "4503599627370496", "123456789.125", "5e-324", "2.2250738585072014e-308",
              "0", "1e16", "0.30000000000000004"]
    cmds = [["ZADD", "z"] + [x for i, s in enumerate(scores) for x in (s, "m%d" % i)]]
    cmds += [["ZSCORE", "z", "m%d" % i] for i in range(len(scores))]
    cmds += [["ZINCRBY", "z", "0.2", "m4"], ["ZINCRBY", "z", "inf", "m0"], ["ZINCRBY", "z", "-inf", "m0"],
             ["ZADD", "z", "INCR", "1e308", "m10"], ["ZADD", "z", "INCR", "1e308", "m10"],
             ["ZRANGE", "z", "0", "-1", "WITHSCORES"], ["ZRANGE", "z", "-inf", "+inf", "BYSCORE", "WITHSCORES"],
             ["ZMSCORE", "z", "m1", "nope", "m2"], ["ZPOPMIN", "z"], ["ZPOPMAX", "z", "2"],
             ["ZRANGEBYSCORE", "z", "(0", "(inf", "WITHSCORES", "LIMIT", "1", "3"]]
    same(cmds, "scores")


@test("zset: ZADD option combinations and their errors")
@fixed
def t_zadd_opts():
    cmds = [["ZADD", "z", "1", "a"], ["ZADD", "z", "NX", "XX", "1", "a"], ["ZADD", "z", "GT", "LT", "1", "a"],
            ["ZADD", "z", "NX", "GT", "1", "a"], ["ZADD", "z", "INCR", "1", "a", "2", "b"],
            ["ZADD", "z", "INCR"], ["ZADD", "z", "1"], ["ZADD", "z", "x", "a"], ["ZADD", "z", "nan", "a"],
            ["ZADD", "z", "XX", "GT", "CH", "5", "a", "1", "b"], ["ZADD", "z", "LT", "CH", "0", "a"],
            ["ZADD", "z", "NX", "INCR", "1", "a"], ["ZADD", "z", "XX", "INCR", "1", "new"],
            ["ZADD", "z", "GT", "INCR", "-1", "a"], ["ZADD", "z", "INCR", "inf", "a"],
            ["ZADD", "z", "INCR", "-inf", "a"], ["ZINCRBY", "z", "inf", "a"], ["ZINCRBY", "z", "x", "a"],
            ["ZADD", "z", "CH", "CH", "1", "a"], ["ZRANGE", "z", "0", "-1", "WITHSCORES"]]
    same(cmds, "zadd")


@test("zset: ranges, LIMIT edges, bounds and their errors")
@fixed
def t_ranges():
    fill = ["ZADD", "z"] + [x for i in range(200) for x in (str(i % 17), "m%03d" % i)]
    lex = ["ZADD", "lz"] + [x for i in range(150) for x in ("0", "k%03d" % i)]
    cmds = [fill, lex]
    for lim in (["0", "-1"], ["-1", "5"], ["5", "0"], ["190", "100"], ["0", "3"], ["3", "-7"]):
        cmds += [["ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT"] + lim,
                 ["ZRANGE", "z", "+inf", "-inf", "BYSCORE", "REV", "LIMIT"] + lim + ["WITHSCORES"],
                 ["ZRANGE", "lz", "[k010", "(k100", "BYLEX", "LIMIT"] + lim,
                 ["ZREVRANGEBYLEX", "lz", "+", "-", "LIMIT"] + lim,
                 ["ZRANGE", "z", "0", "-1", "LIMIT"] + lim]
    for a, b in (("0", "-1"), ("-5", "-1"), ("-300", "300"), ("5", "2"), ("199", "199"), ("200", "300"), ("-1", "-300")):
        cmds += [["ZRANGE", "z", a, b], ["ZREVRANGE", "z", a, b, "WITHSCORES"], ["ZRANGE", "z", a, b, "REV"],
                 ["LRANGE", "l", a, b]]
    cmds += [["ZRANGE", "z", "(1", "(", "BYSCORE"], ["ZRANGE", "z", "x", "1", "BYSCORE"],
             ["ZRANGE", "lz", "a", "+", "BYLEX"], ["ZRANGE", "lz", "-", "+", "BYLEX", "WITHSCORES"],
             ["ZRANGE", "z", "0", "1", "LIMIT", "1"], ["ZRANGE", "z", "0", "1", "BYSCORE", "BYLEX"],
             ["ZRANGEBYSCORE", "z", "1", "2", "REV"], ["ZRANGESTORE", "d", "z", "0", "-1", "WITHSCORES"],
             ["ZRANGESTORE", "d", "z", "5", "(7", "BYSCORE", "LIMIT", "1", "4"], ["ZRANGE", "d", "0", "-1", "WITHSCORES"],
             ["ZRANGESTORE", "d", "z", "5", "1", "BYSCORE"], ["EXISTS", "d"],
             ["ZCOUNT", "z", "(3", "5"], ["ZCOUNT", "z", "5", "3"], ["ZLEXCOUNT", "lz", "(k005", "[k010"],
             ["ZLEXCOUNT", "lz", "+", "-"], ["ZREMRANGEBYLEX", "lz", "[k140", "+"], ["ZREMRANGEBYSCORE", "z", "(15", "inf"],
             ["ZREMRANGEBYRANK", "z", "-3", "-1"], ["ZCARD", "z"], ["ZCARD", "lz"],
             ["ZSCAN", "z", "x"], ["ZSCAN", "nokey", "0", "BOGUS"], ["ZSCAN", "z", "0", "COUNT", "0"]]
    same(cmds, "ranges")


@test("lists: pops with counts, indices, LPOS and LMOVE edges")
@fixed
def t_lists():
    big = ["RPUSH", "l"] + ["v%d" % (i % 7) for i in range(300)]
    cmds = [big, ["LLEN", "l"], ["LPOP", "l", "0"], ["LPOP", "nokey", "0"], ["RPOP", "l", "3"], ["LPOP", "l"],
            ["LPOS", "l", "v3"], ["LPOS", "l", "v3", "RANK", "-2", "COUNT", "3"], ["LPOS", "l", "v3", "COUNT", "0", "MAXLEN", "50"],
            ["LPOS", "l", "v3", "RANK", "0"], ["LPOS", "l", "v3", "COUNT", "-1"], ["LPOS", "l", "v9", "COUNT", "2"],
            ["LPOS", "nokey", "v", "COUNT", "1"], ["LINDEX", "l", "-1"], ["LINDEX", "l", "1000"], ["LINDEX", "nokey", "x"],
            ["LSET", "l", "-1", "last"], ["LSET", "l", "1000", "x"], ["LSET", "nokey", "0", "x"], ["LSET", "nokey", "x", "x"],
            ["LINSERT", "l", "BEFORE", "v0", "ins"], ["LINSERT", "l", "AFTER", "none", "x"], ["LINSERT", "nokey", "AFTER", "a", "b"],
            ["LREM", "l", "-2", "v1"], ["LREM", "l", "0", "v2"], ["LTRIM", "l", "5", "-5"], ["LRANGE", "l", "0", "9"],
            ["LMOVE", "l", "l2", "LEFT", "RIGHT"], ["LMOVE", "l", "l", "RIGHT", "LEFT"], ["RPOPLPUSH", "nokey", "l2"],
            ["SET", "s", "x"], ["LMOVE", "l", "s", "LEFT", "LEFT"], ["LMOVE", "nokey", "s", "LEFT", "LEFT"],
            ["LPUSH", "s", "x"], ["LPUSHX", "nokey", "a"], ["RPUSHX", "l2", "a", "b"], ["LRANGE", "l2", "0", "-1"],
            ["LTRIM", "l2", "5", "1"], ["EXISTS", "l2"], ["LPOP", "l", "1000"], ["EXISTS", "l"]]
    same(cmds, "lists")


@test("blocking forms: errors and non-blocking answers equal redis-server's")
@fixed
def t_blocking_errors():
    cmds = [["RPUSH", "l", "a", "b"], ["ZADD", "z", "1", "m"], ["SET", "s", "x"],
            ["BLPOP", "l", "-1"], ["BLPOP", "l", "x"], ["BLPOP", "l", "inf"], ["BLPOP", "l", ""],
            ["BLPOP", "l", "1e300"], ["BLPOP", "nokey", "l", "0"], ["BRPOP", "s", "l", "0"], ["BLPOP", "l", "s", "0"],
            ["RPUSH", "l", "c", "d"], ["BLMOVE", "l", "l2", "LEFT", "UP", "0"], ["BLMOVE", "l", "s", "LEFT", "LEFT", "0"],
            ["BRPOPLPUSH", "l", "l2", "0"], ["BZPOPMIN", "nokey", "z", "0"], ["BZPOPMAX", "s", "0"],
            ["MULTI"], ["BLPOP", "nokey", "0"], ["BLMOVE", "nokey", "x", "LEFT", "LEFT", "0"],
            ["BZPOPMIN", "nokey", "0"], ["EXEC"], ["BLPOP", "nokey", "0.01"], ["BZPOPMAX", "nokey", "0.01"],
            ["BLMOVE", "nokey", "x", "LEFT", "LEFT", "0.01"]]
    same(cmds, "blocking")


@test("zset: ZRANK WITHSCORE (Redis 7.2's form)")
@fixed
def t_zrank_withscore():
    for resp, want in ((2, [b"*2\r\n:1\r\n$3\r\n2.5\r\n", b"*-1\r\n", b":0\r\n", b"-ERR syntax error\r\n"]),
                       (3, [b"*2\r\n:1\r\n,2.5\r\n", b"_\r\n", b":0\r\n", b"-ERR syntax error\r\n"])):
        r = Raw(P)
        r.cmd("FLUSHALL")
        if resp == 3:
            r.cmd("HELLO", "3")
        r.cmd("ZADD", "z", "1", "a", "2.5", "b")
        got = []
        for c in (["ZRANK", "z", "b", "WITHSCORE"], ["ZREVRANK", "z", "nope", "WITHSCORE"],
                  ["ZREVRANK", "z", "b"], ["ZRANK", "z", "b", "WITHSCORES"]):
            r.send(encode(*c))
            got.append(r.raw_reply())
        eq(got, want, "RESP%d" % resp)
        r.close()


def state(port):
    """Every key's type and contents (zsets with scores, lists in order), as comparable bytes."""
    r = Raw(port)
    out = []
    for k in sorted(r.cmd("KEYS", "*")):
        t = r.cmd("TYPE", k)
        if t == "zset":
            v = r.cmd("ZRANGE", k, "0", "-1", "WITHSCORES")
        elif t == "list":
            v = r.cmd("LRANGE", k, "0", "-1")
        elif t == "set":
            v = sorted(r.cmd("SMEMBERS", k))
        else:
            v = r.cmd("GET", k)
        out.append((k, t, v, r.cmd("PTTL", k) > 0))
    r.close()
    return out


@test("zset/list: a random stream's writes replay from the AOF after kill -9")
def t_aof_replay():
    import signal
    import tempfile
    from harness import shardkv
    d = tempfile.mkdtemp(prefix="skv-zl-aof-")
    args = ("--dir", d, "--save", "", "--appendonly", "yes", "--appendfsync", "always")
    skv = shardkv(P, *args).wait_ready()
    g = coll_diff.Gen(SEED + 4)
    gens = [(w, f) for w, f in generators() if f not in (gen.g_blocking, gen.g_zscan)]
    fns, weights = [f for _, f in gens], [w for w, _ in gens]
    r = Raw(P, timeout=30)
    for step in range(STEPS):
        argv, _ = g.choices(fns, weights)[0](g)
        r.send(encode(*argv))
        r.raw_reply()
        if step == STEPS // 2:
            r.cmd("BGREWRITEAOF")  # records after a rewrite's cut replay over its base too
    r.close()
    before = state(P)
    true(len(before) > 5, "the stream left keys")
    skv.stop(signal.SIGKILL)
    skv = shardkv(P, *args).wait_ready()
    eq(state(P), before, "state after kill -9 and AOF replay")
    skv.stop()


ok = summary()
stop_all()
sys.exit(0 if ok else 1)
