#!/usr/bin/python3
"""bench/charts.py -- draw bench/charts/<host>.svg from the benchmarks' results.

    /usr/bin/python3 bench/charts.py            (make bench-charts; make bench runs it last)
    /usr/bin/python3 bench/charts.py --host engine --fresh build/bench --out bench/charts

For every host it reads <fresh>/<host>.tsv, the file the host's bench target
wrote on its last run, or, when there is none, bench/charts/seed/<host>.tsv:
figures copied by hand from the READMEs, which the chart's title then says.
One horizontal bar per workload, configuration and peer: shardkv's result
divided by the peer's (inverted where lower is better), on a log scale, so a
bar right of 1 means shardkv is ahead.  The bar is the median of the
repetitions' ratios; the whisker spans their minimum and maximum.

The TSV format (one line per repetition and peer; '#' lines are comments, the
first of them says where the figures come from):
    host workload config peer rep ours theirs unit basis better noisy
rep is 1.. for a repetition, 0 for a median copied without its repetitions;
basis is cpu or wall; better is higher or lower; noisy is 1 when the run saw
other load on the machine.
"""
import argparse
import datetime
import os
import statistics
import sys
import textwrap

import matplotlib

matplotlib.use("svg")
import matplotlib.pyplot as plt  # noqa: E402

HOSTS = {
    "engine": "engine library (make bench-engine)",
    "pg": "PostgreSQL extension (make bench-pg)",
    "sqlite": "SQLite extension (make bench-sqlite)",
    "resp": "shardkv-server, RESP (make bench-resp)",
    "http": "shardkv-server, HTTP door (make bench-http)",
}
FIELDS = "host workload config peer rep ours theirs unit basis better noisy".split()
COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"]


def read_tsv(path):
    """(source comment, rows as dicts) of one results file."""
    source, rows = "", []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            if line.startswith("#"):
                source = source or line[1:].strip()
                continue
            cells = line.split("\t")
            if cells == FIELDS:
                continue
            if len(cells) != len(FIELDS):
                raise ValueError(f"{path}: expected {len(FIELDS)} fields: {line!r}")
            r = dict(zip(FIELDS, cells))
            r["rep"], r["noisy"] = int(r["rep"]), int(r["noisy"])
            r["ours"], r["theirs"] = float(r["ours"]), float(r["theirs"])
            rows.append(r)
    return source, rows


def ratios(rows):
    """[(label, peer, median, lo, hi, n, noisy)] in the order the rows came."""
    groups = {}
    for r in rows:
        if r["ours"] <= 0 or r["theirs"] <= 0:
            continue
        x = r["ours"] / r["theirs"]
        if r["better"] == "lower":
            x = 1 / x
        key = (f'{r["workload"]}  ({r["config"]}, {r["basis"]})', r["peer"])
        g = groups.setdefault(key, [[], 0])
        g[0].append(x)
        g[1] |= r["noisy"]
    return [(k[0], k[1], statistics.median(v), min(v), max(v), len(v), noisy)
            for k, (v, noisy) in groups.items()]


def draw(host, path, fresh, out):
    source, rows = read_tsv(path)
    bars = ratios(rows)
    if not bars:
        print(f"charts: {path}: no figures", file=sys.stderr)
        return False
    per_label = {}
    for b in bars:
        per_label.setdefault(b[0], []).append(b[1])
    if all(len(p) == 1 for p in per_label.values()) and len(set(b[1] for b in bars)) > 1:
        # one peer per workload (a table, a query): name it in the label, one series
        bars = [(f"{b[0]}\nvs {b[1]}", "its peer") + b[2:] for b in bars]
        per_label = {b[0]: [b[1]] for b in bars}
    peers = list(dict.fromkeys(b[1] for b in bars))
    labels = list(per_label)
    most = max(len(p) for p in per_label.values())
    fig, ax = plt.subplots(figsize=(10, 1.4 + 0.3 * len(labels) * max(1, most * 0.7)))
    for pi, peer in enumerate(peers):
        ys, meds, lo, hi = [], [], [], []
        for b in bars:
            if b[1] != peer:
                continue
            here = per_label[b[0]]
            h = 0.8 / len(here)
            y = labels.index(b[0]) + (here.index(peer) - (len(here) - 1) / 2) * h
            ys.append(y)
            meds.append(b[2])
            lo.append(b[2] - b[3])
            hi.append(b[4] - b[2])
            text = f"{b[2]:.2f}x" + (" ~" if b[6] else "")
            if b[2] >= 1:
                ax.text(b[4] * 1.04, y, text, va="center", ha="left", fontsize=7)
            else:
                ax.text(b[3] / 1.04, y, text, va="center", ha="right", fontsize=7)
        colour = COLOURS[pi % len(COLOURS)]
        ax.barh(ys, [m - 1 for m in meds], left=1, height=0.8 / most * 0.9, color=colour,
                label=f"shardkv / {peer}")
        if any(lo) or any(hi):
            ax.errorbar(meds, ys, xerr=[lo, hi], fmt="none", ecolor="black", elinewidth=0.8,
                        capsize=2)
    ax.set_xscale("log", base=2)
    xs = [b[3] for b in bars] + [b[4] for b in bars] + [1]
    lo_x, hi_x = min(xs) / 1.8, max(xs) * 1.8
    ax.set_xlim(lo_x, hi_x)
    ticks = [2.0 ** e for e in range(-8, 9)]
    if hi_x / lo_x < 16:
        ticks += [0.75] + [1.5 * 2.0 ** e for e in range(0, 8)]
    ax.set_xticks([t for t in ticks if lo_x <= t <= hi_x])
    ax.minorticks_off()
    ax.axvline(1, color="black", linewidth=0.8)
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}x"))
    ax.set_yticks(range(len(labels)))
    ax.set_yticklabels(labels, fontsize=8)
    ax.invert_yaxis()
    ax.grid(axis="x", linestyle=":", linewidth=0.6)
    ax.set_xlabel("shardkv / peer, log scale (right of 1x: shardkv ahead); '~' = noisy run")
    reps = max(b[5] for b in bars)
    if fresh:
        when = datetime.datetime.fromtimestamp(os.path.getmtime(path), datetime.timezone.utc)
        sub = (f"fresh run {when:%Y-%m-%d %H:%M} UTC ({path}): bar = median of {reps} "
               f"repetition(s), whisker = min-max")
    else:
        sub = f"NOT a fresh run: figures copied from the READMEs, medians only, no spread -- {source}"
    ax.set_title("\n".join([HOSTS.get(host, host)] + textwrap.wrap(sub, 95)), fontsize=9, loc="left")
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    os.makedirs(out, exist_ok=True)
    target = os.path.join(out, f"{host}.svg")
    fig.savefig(target, metadata={"Date": None})
    plt.close(fig)
    print(f"charts: {target} from {path}")
    return True


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fresh", default="build/bench", help="directory of the bench targets' TSV files")
    ap.add_argument("--seed", default=os.path.join(here, "charts", "seed"))
    ap.add_argument("--out", default=os.path.join(here, "charts"))
    ap.add_argument("--host", action="append", help="only these hosts (default: all)")
    a = ap.parse_args()
    plt.rcParams["svg.hashsalt"] = "shardkv"  # the same figures give the same file
    plt.rcParams["svg.fonttype"] = "none"
    ok = True
    for host in a.host or HOSTS:
        fresh = os.path.join(a.fresh, f"{host}.tsv")
        seed = os.path.join(a.seed, f"{host}.tsv")
        if os.path.exists(fresh):
            ok &= draw(host, fresh, True, a.out)
        elif os.path.exists(seed):
            ok &= draw(host, seed, False, a.out)
        else:
            print(f"charts: no results for {host}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
