"""bench/benchtsv.py -- write a bench target's results for bench/charts.py.

The format is described in bench/charts.py and bench/README.md: one line per
repetition and peer, shardkv's figure ("ours") beside the peer's ("theirs").
"""
import os

FIELDS = "host workload config peer rep ours theirs unit basis better noisy".split()


def write(path, source, lines):
    """lines: dicts with the keys of FIELDS.  Written whole, then renamed into place."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("# %s\n" % source.replace("\n", " "))
        f.write("\t".join(FIELDS) + "\n")
        for ln in lines:
            f.write("\t".join(("%.6g" % ln[k]) if isinstance(ln[k], float) else str(ln[k])
                              for k in FIELDS) + "\n")
    os.replace(tmp, path)
