"""
neutral.py -- the matrix's host-neutral vocabulary (tests/matrix/README.md).

Byte strings in cases.json are JSON strings read as UTF-8, where "\\xHH" stands
for the byte HH and "\\\\" for one backslash (so non-UTF-8 and NUL bytes can be
written), or {"rep": S, "n": N}: S repeated N times.

Values are typed: "t:..." text, "b:..." bytes, "i:42" integer, "r:0.3" real,
"j:{...}" JSON, "n:" SQL NULL; or {"tag": "b", "rep": S, "n": N}.

A driver answers each step with one of these tuples:
    ("ok",)  ("nil",)  ("int", n)  ("err", class, message)
    ("val", tag, bytes)   tag "*" when the host's read cannot show the tag,
                          "text|json" when it cannot tell those two apart
    ("real", float)       a native double (SQLite REAL, PG float8)
    ("list", [...])       mget: values/nil in order; keys: ("key", bytes) sorted;
                          scan: ("pair", key bytes, value tuple) sorted by key
    ("unsup", why)        the host does not offer this operation or argument
Expected results ("want") are: "ok", "nil", "int:N", "err:CLASS", a value
literal, "range:LO:HI" (an integer in that range), "rel:MS" (an absolute ms
time MS after the previous step ran: between the clock before it and after
it, + MS; "rel:MS@N" after step N, counted from 1),
or a JSON list of those (keys and scan take ["key-literal", value] forms).
"""
import json
import re

TAGS = {"t": "text", "b": "bytes", "i": "int", "r": "real", "j": "json", "n": "null"}

_ESC = re.compile(rb"\\(x[0-9a-fA-F]{2}|\\)")


def data(lit):
    """A byte-string literal -> bytes."""
    if isinstance(lit, dict):
        return data(lit["rep"]) * lit["n"]
    if not isinstance(lit, str):
        raise ValueError("byte string literal must be a string: %r" % (lit,))

    def sub(m):
        g = m.group(1)
        return b"\\" if g == b"\\" else bytes([int(g[1:], 16)])
    return _ESC.sub(sub, lit.encode("utf-8"))


def value(lit):
    """A typed value literal -> (tag, bytes)."""
    if isinstance(lit, dict):
        return TAGS[lit["tag"]], data(lit)
    if len(lit) < 2 or lit[1] != ":" or lit[0] not in TAGS:
        raise ValueError("bad value literal %r" % (lit,))
    return TAGS[lit[0]], data(lit[2:])


def esc(b, limit=80):
    """Bytes -> readable escaped text (long ones are summarised)."""
    if b is None:
        return "<SQL NULL>"
    if len(b) > limit:
        import hashlib
        return "<%d bytes %s... sha1 %s>" % (len(b), esc(b[:16]), hashlib.sha1(b).hexdigest()[:12])
    out = []
    for c in b:
        if c == 0x5C:
            out.append("\\\\")
        elif 0x20 <= c < 0x7F:
            out.append(chr(c))
        else:
            out.append("\\x%02x" % c)
    return "".join(out)


def show(r):
    """A driver's result tuple -> one line of neutral text."""
    k = r[0]
    if k in ("ok", "nil"):
        return k
    if k == "int":
        return "int:%d" % r[1]
    if k == "err":
        return "err:%s (%s)" % (r[1], r[2][:160])
    if k == "val":
        return "%s:%s" % (r[1], esc(r[2]))
    if k == "real":
        return "real~%r" % r[1]
    if k == "key":
        return "key:" + esc(r[1])
    if k == "pair":
        return "%s=%s" % (esc(r[1]), show(r[2]))
    if k == "list":
        return "[" + ", ".join(show(x) for x in r[1]) + "]"
    if k == "unsup":
        return "unsupported (%s)" % r[1]
    return repr(r)


def _is_value(w):
    return isinstance(w, dict) and "tag" in w or \
        isinstance(w, str) and len(w) >= 2 and w[1] == ":" and w[0] in TAGS


def show_want(w, op=None):
    """An expectation as text; op says what a list holds (keys, scan pairs)."""
    if isinstance(w, list):
        if op == "keys":
            return "[" + ", ".join("key:" + esc(data(x)) for x in w) + "]"
        if op == "scan":
            return "[" + ", ".join("%s=%s" % (esc(data(k)), show_want(v)) for k, v in w) + "]"
        return "[" + ", ".join(show_want(x) for x in w) + "]"
    if _is_value(w):
        tag, b = value(w)
        return "%s:%s" % (tag, esc(b))
    return str(w)


def _value_matches(want, got):
    tag, b = value(want)
    if got[0] == "real":
        if tag != "real":
            return False
        try:
            return float(b.decode()) == got[1]
        except ValueError:
            return False
    if got[0] != "val":
        return False
    gtag = got[1]
    if gtag != "*" and tag not in gtag.split("|"):
        return False
    return got[2] == b


def matches(want, got, clock=None):
    """Does a driver's result match the case's expectation?  clock: the
    (before, after) ms bracket of the previous step, for "rel:"."""
    if isinstance(want, list):
        if got[0] != "list" or len(got[1]) != len(want):
            return False
        if got[1] and got[1][0][0] in ("key", "pair"):   # sets, sorted by key bytes
            want = sorted(want, key=lambda w: data(w[0] if isinstance(w, list) else w))
        return all(_item_matches(w, g) for w, g in zip(want, got[1]))
    if isinstance(want, dict):
        return _value_matches(want, got)
    if want in ("ok", "nil"):
        return got == (want,)
    if want.startswith("int:"):
        return got == ("int", int(want[4:]))
    if want.startswith("err:"):
        return got[0] == "err" and got[1] == want[4:]
    if want.startswith("range:"):
        lo, hi = (int(x) for x in want[6:].split(":"))
        return got[0] == "int" and lo <= got[1] <= hi
    if want.startswith("rel:"):
        ms = int(want[4:].split("@")[0])
        return got[0] == "int" and clock is not None and \
            clock[0] + ms <= got[1] <= clock[1] + ms + 1
    if len(want) >= 2 and want[1] == ":" and want[0] in TAGS:
        return _value_matches(want, got)
    raise ValueError("bad expectation %r" % (want,))


def _item_matches(w, g):
    if isinstance(w, list):            # scan: [key literal, value literal]
        return g[0] == "pair" and g[1] == data(w[0]) and _value_matches(w[1], g[2])
    if g[0] == "key":                  # keys: a key literal
        return g[1] == data(w)
    return matches(w, g)


def load_cases(path):
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    ids = set()
    for c in doc["cases"]:
        if c["id"] in ids:
            raise ValueError("duplicate case id %s" % c["id"])
        ids.add(c["id"])
    return doc


def ttl_ms(spec):
    """A TTL literal "1500ms" / "2s" -> (number, unit) with unit "ms" or "s"."""
    m = re.fullmatch(r"(-?\d+)(ms|s)", spec)
    if not m:
        raise ValueError("bad ttl %r" % spec)
    return int(m.group(1)), m.group(2)


# Error classes: every host's error text (the engine's kv_strerror text, which
# SQLite and PostgreSQL pass on, or Redis's reply texts on the server) maps to
# one class.  First match wins; an unknown text is class "other".
ERROR_CLASSES = [
    ("overflow", r"would overflow|nan or infinity"),
    ("not-an-integer", r"not an integer"),
    ("not-a-float", r"not a valid float|must be a number"),
    ("invalid-expire", r"invalid expire time|ttl (is )?out of range|ttl must be|expires_at must be|"
                       r"expir\w* .*out of range|out of range.*expir|seconds is out of range"),
    ("key-size", r"key is (empty or )?longer|key .*too (long|large)|invalid key"),
    ("value-size", r"value is longer|value .*too (long|large)|string exceeds maximum"),
    ("syntax", r"syntax error"),
    ("wrong-argument", r"invalid argument|wrong number of arguments"),
]


def error_class(msg):
    low = msg.lower()
    for cls, rx in ERROR_CLASSES:
        if re.search(rx, low):
            return cls
    return "other"


def err(msg):
    return ("err", error_class(msg), msg)
