"""
run.py -- run tests/matrix/cases.json through the hosts and compare every
result with the case's expectation (so also host with host).

    /usr/bin/python3 tests/matrix/run.py --hosts server,sqlite[,pg] \
        [--server-port P] [--sqlite-ext build/shardkv] [--pg-psql CMD] [-k ID-PART]

One line per case and host: "ok", "FAIL" (then one line per differing step:
case id, host, step, expected, got) or "n/a" (the table marks the operation as
not offered by that host, with the reason).  A host answering "unsupported"
where the table does not say so fails.  Ends with "N passed, M failed".
"""
import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import neutral  # noqa: E402


def not_offered(doc, case, host):
    """The table's reason why host cannot run case, or None."""
    why = case.get("not_offered", {}).get(host)
    if why:
        return why
    for st in case["steps"]:
        why = doc["ops"].get(st["op"], {}).get(host)
        if why:
            return "%s: %s" % (st["op"], why)
    return None


def check(case, results):
    """-> list of failure lines (empty: the case passed)."""
    bad = []
    prev = None
    for i, (st, (got, clock)) in enumerate(zip(case["steps"], results)):
        label = "step %d %s" % (i + 1, st["op"])
        if got[0] == "unsup":
            bad.append("%s: unsupported but not marked in the table: %s" % (label, got[1]))
        elif "want" in st:
            clock_of = prev
            if isinstance(st["want"], str) and "@" in st["want"]:
                clock_of = results[int(st["want"].split("@")[1]) - 1][1]
            if not neutral.matches(st["want"], got, clock_of):
                bad.append("%s: expected %s, got %s" % (label, neutral.show_want(st["want"], st["op"]),
                                                         neutral.show(got)))
        elif got[0] == "err":
            bad.append("%s: setup step failed: %s" % (label, neutral.show(got)))
        prev = clock
    return bad


def make_driver(host, args):
    if host == "server":
        from drv_server import ServerDriver
        return ServerDriver(args.server_port)
    if host == "sqlite":
        from drv_sqlite import SqliteDriver
        return SqliteDriver(args.sqlite_ext)
    if host == "pg":
        from drv_pg import PgDriver
        return PgDriver(args.pg_psql)
    raise SystemExit("unknown host %s" % host)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", default="server,sqlite")
    ap.add_argument("--cases", default=os.path.join(HERE, "cases.json"))
    ap.add_argument("--server-port", type=int, default=6392)
    ap.add_argument("--sqlite-ext", default="build/shardkv")
    ap.add_argument("--pg-psql", default="psql")
    ap.add_argument("-k", dest="filter", default="")
    args = ap.parse_args()
    doc = neutral.load_cases(args.cases)
    cases = [c for c in doc["cases"] if args.filter in c["id"]]
    passed = failed = na = 0
    for host in args.hosts.split(","):
        drv = make_driver(host, args)
        for op, hosts in sorted(doc["ops"].items()):
            if host in hosts and drv.offers(op):   # the table must not hide a case
                failed += 1
                print("FAIL ops.%-24s %-6s the table says not offered, but the driver has it" % (op, host))
        todo = [c for c in cases if not not_offered(doc, c, host)]
        results = drv.run_cases(todo)
        for c in cases:
            why = not_offered(doc, c, host)
            if why:
                na += 1
                print("n/a  %-28s %-6s %s" % (c["id"], host, why))
                continue
            bad = check(c, results[c["id"]])
            if bad:
                failed += 1
                print("FAIL %-28s %-6s" % (c["id"], host))
                for b in bad:
                    print("     %s %s: %s" % (c["id"], host, b))
            else:
                passed += 1
                print("ok   %-28s %-6s" % (c["id"], host))
        close = getattr(drv, "close", None)
        if close:
            close()
    print("matrix: %d not offered (n/a, in neither count)" % na)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
