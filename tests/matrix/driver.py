"""
driver.py -- what every host driver shares: the step loop, the clock bracket
around each step and the special expiry times of the table.
"""
import time

KV_EXPIRES_MAX = 253402300799999  # engine/kv.h: 9999-12-31T23:59:59.999Z


def now_ms():
    return int(time.time() * 1000)


def expiry_at(spec):
    """An absolute-expiry literal: an integer (ms), "max", "max+1", "past"."""
    if isinstance(spec, int):
        return spec
    return {"max": KV_EXPIRES_MAX, "max+1": KV_EXPIRES_MAX + 1, "past": 1000}[spec]


class StepDriver:
    """A driver that runs one step at a time: subclasses give reset() and
    the op_<name>(step) methods; a missing method means the host does not
    offer the operation."""
    name = "?"

    def offers(self, op):
        return hasattr(self, "op_" + op)

    def run_cases(self, cases):
        """-> {case id: [(result, (t0, t1)) per step]}"""
        return {c["id"]: self.run_case(c) for c in cases}

    def run_case(self, case):
        """-> list of (result, (t0, t1)) per step."""
        self.reset()
        out = []
        for st in case["steps"]:
            fn = getattr(self, "op_" + st["op"], None)
            t0 = now_ms()
            if fn is None:
                r = ("unsup", "%s offers no %s" % (self.name, st["op"]))
            else:
                try:
                    r = fn(st)
                except Unsupported as e:
                    r = ("unsup", str(e))
                except Reply as e:
                    r = e.result
            out.append((r, (t0, now_ms())))
        return out

    def op_sleep(self, st):
        time.sleep(st["ms"] / 1000.0)
        return ("ok",)


class Unsupported(Exception):
    """The host cannot express this argument (e.g. a NUL byte in a PG text key)."""


class Reply(Exception):
    """Raised by an op with its result, e.g. the host's error as ("err", ...)."""
    def __init__(self, result):
        super().__init__(result)
        self.result = result
