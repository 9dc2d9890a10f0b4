#!/usr/bin/env python3
"""Latency against energy of a sweep's points, the Pareto front highlighted.

    pareto_scatter.py SUMMARY.csv -o OUT.png [--x time_us] [--y energy_pj]
                      [--color PARAM] [--title TITLE]

SUMMARY.csv is attnsim sweep's summary.csv (columns point, status, the swept
parameter paths, workload, cycles, time_us, energy_pj, area_mm2, ...,
pareto). Points with status other than "ok" are left out. Points marked in
the "pareto" column (the front over the sweep's objectives) are drawn large
and labelled with their point number; the line is the front of the two
plotted metrics (both minimised). --color colours points by a parameter.
"""
import argparse

from plotlib import (METRIC_LABELS, METRIC_SCALE, InputProblem, fail_on_bad_input, is_true, metric_column,
                     ok_points, plt, read_summary, require_columns, save, setup_style)
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter



def sort_key(v):
    """Numbers in order, then strings, then missing values."""
    return (v is None, isinstance(v, str), v if isinstance(v, (int, float)) else 0, str(v))


def front_2d(points):
    """Indices of the points no other point beats in both x and y (minimised)."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], points[i][1]))
    front, best_y = [], float("inf")
    for i in order:
        if points[i][1] < best_y:
            front.append(i)
            best_y = points[i][1]
    return front


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("summary")
    ap.add_argument("-o", "--out", required=True, help="PNG to write")
    ap.add_argument("--x", default="time_us", help="metric on the x axis (default time_us)")
    ap.add_argument("--y", default="energy_pj", help="metric on the y axis (default energy_pj)")
    ap.add_argument("--color", help="colour the points by this parameter column, e.g. pe_array.rows")
    ap.add_argument("--title")
    a = ap.parse_args()

    rows = read_summary(a.summary)
    xcol, ycol = metric_column(rows, a.x), metric_column(rows, a.y)
    require_columns(a.summary, rows, [xcol, ycol] + ([a.color] if a.color else []))
    pts = [r for r in ok_points(rows) if isinstance(r[xcol], (int, float)) and isinstance(r[ycol], (int, float))]
    if not pts:
        raise InputProblem(f"{a.summary}: no point with status ok and numbers in {xcol} and {ycol}")
    sx, sy = METRIC_SCALE.get(xcol, 1), METRIC_SCALE.get(ycol, 1)
    xs = [r[xcol] * sx for r in pts]
    ys = [r[ycol] * sy for r in pts]

    setup_style()
    fig, ax = plt.subplots(figsize=(7, 5))
    if a.color:
        values = sorted({r[a.color] for r in pts}, key=sort_key)
        cmap = plt.get_cmap("viridis", max(len(values), 2))
        for k, v in enumerate(values):
            sel = [i for i, r in enumerate(pts) if r[a.color] == v]
            ax.scatter([xs[i] for i in sel], [ys[i] for i in sel], s=28, color=cmap(k), alpha=0.8,
                       label=f"{a.color} = {v}", zorder=2)
    else:
        ax.scatter(xs, ys, s=28, color="tab:gray", alpha=0.7, label="sweep point", zorder=2)

    front = front_2d(list(zip(xs, ys)))
    ax.step([xs[i] for i in front], [ys[i] for i in front], where="post", color="tab:red", lw=1.5,
            label=f"front of {xcol} and {ycol}", zorder=3)
    marked = [i for i, r in enumerate(pts) if is_true(r.get("pareto"))] if "pareto" in rows[0] else front
    ax.scatter([xs[i] for i in marked], [ys[i] for i in marked], s=110, facecolors="none", edgecolors="tab:red",
               linewidths=1.8, label="Pareto front (sweep objectives)" if "pareto" in rows[0] else "Pareto front",
               zorder=4)
    # Point numbers of the front, staggered so that neighbours do not overlap.
    offsets = [(8, 6), (8, -12), (-28, 8), (-28, -12)]
    for k, i in enumerate(sorted(marked, key=lambda i: xs[i])):
        if "point" in pts[i]:
            ax.annotate(f"#{pts[i]['point']}", (xs[i], ys[i]), textcoords="offset points",
                        xytext=offsets[k % len(offsets)], fontsize=8, color="tab:red")

    for vals, axis in ((xs, ax.xaxis), (ys, ax.yaxis)):
        if min(vals) > 0 and max(vals) / min(vals) > 10:  # a wide range: log axis, ticks at 1, 2, 5 x 10^n
            (ax.set_xscale if axis is ax.xaxis else ax.set_yscale)("log")
            axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
            axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            axis.set_minor_formatter(NullFormatter())
    ax.set_xlabel(METRIC_LABELS.get(xcol, xcol))
    ax.set_ylabel(METRIC_LABELS.get(ycol, ycol))
    workloads = sorted({str(r.get("workload")) for r in pts if r.get("workload") is not None})
    ax.set_title(a.title or (f"{METRIC_LABELS.get(ycol, ycol)} vs {METRIC_LABELS.get(xcol, xcol)}: "
                             f"{len(pts)} points" + (f" on {', '.join(workloads)}" if workloads else "")))
    ax.legend(fontsize=8, loc="best")
    save(fig, a.out)


if __name__ == "__main__":
    fail_on_bad_input(main)
