#!/usr/bin/env python3
"""Latency against energy of a sweep's points, the Pareto front highlighted.

    pareto_scatter.py SUMMARY.csv -o OUT.png [--x time_us] [--y energy_pj]
                      [--color PARAM] [--baseline POINT|REPORT.json] [--title TITLE]
                      [--formats png,svg]

SUMMARY.csv is attnsim sweep's summary.csv (columns point, status, the swept
parameter paths, workload, cycles, time_us, energy_pj, area_mm2, ...,
pareto). Points with status other than "ok" are left out. Points marked in
the "pareto" column (the front over the sweep's objectives) are circled and
labelled with their point number (labels placed clear of each other); the
line is the front of the two plotted metrics (both minimised), drawn when it
has two points or more. --color colours points by a parameter. --baseline
marks a point of the sweep (its number) or another run's report with a star.
"""
import argparse

from plotlib import (BASELINE_COLOUR, FRONT_COLOUR, METRIC_LABELS, METRIC_SCALE, POINT_COLOUR, REPORT_PATHS,
                     InputProblem, add_output_args, fail_on_bad_input, front_2d, is_true, maybe_log, metric_column,
                     ok_points, place_labels, plt, readable_ticks, read_report, read_summary, require_columns, save, setup_style)



def sort_key(v):
    """Numbers in order, then strings, then missing values."""
    return (v is None, isinstance(v, str), v if isinstance(v, (int, float)) else 0, str(v))


def baseline_point(arg, path, pts, xcol, ycol):
    """(x, y, label) of --baseline: a point number of the sweep, or a report file."""
    if arg.lstrip("#").isdigit():
        for r in pts:
            if r.get("point") == int(arg.lstrip("#")):
                return r[xcol], r[ycol], f"baseline: point #{r['point']}"
        raise InputProblem(f"{path}: --baseline: no point {arg} with status ok and numbers in {xcol} and {ycol}")
    report = read_report(arg)
    values = []
    for col in (xcol, ycol):
        v = report
        for key in REPORT_PATHS.get(col, col).split("."):
            v = v.get(key) if isinstance(v, dict) else None
        if not isinstance(v, (int, float)):
            raise InputProblem(f"{arg}: {REPORT_PATHS.get(col, col)}: missing, needed for --baseline's {col}")
        values.append(v)
    name = report.get("run", {}).get("name") or report.get("arch", {}).get("name") or arg
    return values[0], values[1], f"baseline: {name}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("summary")
    add_output_args(ap)
    ap.add_argument("--x", default="time_us", help="metric on the x axis (default time_us)")
    ap.add_argument("--y", default="energy_pj", help="metric on the y axis (default energy_pj)")
    ap.add_argument("--color", help="colour the points by this parameter column, e.g. pe_array.rows")
    ap.add_argument("--baseline", help="mark a baseline: a point number of the sweep, or a report JSON")
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
    base = baseline_point(a.baseline, a.summary, pts, xcol, ycol) if a.baseline else None

    setup_style()
    fig, ax = plt.subplots(figsize=(7, 5))
    if a.color:
        values = sorted({r[a.color] for r in pts}, key=sort_key)
        cmap = plt.get_cmap("viridis", max(len(values), 2))  # ordered values: a perceptually uniform ramp
        for k, v in enumerate(values):
            sel = [i for i, r in enumerate(pts) if r[a.color] == v]
            ax.scatter([xs[i] for i in sel], [ys[i] for i in sel], s=28, color=cmap(k), alpha=0.8,
                       label=f"{a.color} = {v}", zorder=2)
    else:
        ax.scatter(xs, ys, s=28, color=POINT_COLOUR, alpha=0.7, label="sweep point", zorder=2)

    front = front_2d(xs, ys)
    if len(front) > 1:  # a single point is no line
        ax.step([xs[i] for i in front], [ys[i] for i in front], where="post", color=FRONT_COLOUR, lw=1.5,
                label=f"front of {xcol} and {ycol}", zorder=3)
    marked = [i for i, r in enumerate(pts) if is_true(r.get("pareto"))] if "pareto" in rows[0] else front
    if marked:
        ax.scatter([xs[i] for i in marked], [ys[i] for i in marked], s=110, facecolors="none",
                   edgecolors=FRONT_COLOUR, linewidths=1.8,
                   label="Pareto front (sweep objectives)" if "pareto" in rows[0] else "Pareto front", zorder=4)
    if base:
        ax.scatter([base[0] * sx], [base[1] * sy], marker="*", s=220, color=BASELINE_COLOUR, label=base[2], zorder=5)
        xs.append(base[0] * sx)  # the axes' ranges include it
        ys.append(base[1] * sy)

    maybe_log(ax, "x", xs)
    maybe_log(ax, "y", ys)
    readable_ticks(ax, "x", "y")
    ax.set_xlabel(METRIC_LABELS.get(xcol, xcol))
    ax.set_ylabel(METRIC_LABELS.get(ycol, ycol))
    workloads = sorted({str(r.get("workload")) for r in pts if r.get("workload") is not None})
    ax.set_title(a.title or (f"{METRIC_LABELS.get(ycol, ycol)} vs {METRIC_LABELS.get(xcol, xcol)}: "
                             f"{len(pts)} points" + (f" on {', '.join(workloads)}" if workloads else "")))
    ax.legend(fontsize=8, loc="best")
    # Point numbers of the front, after the axes are final (the placement works in pixels).
    order = sorted((i for i in marked if "point" in pts[i]), key=lambda i: (xs[i], ys[i]))
    place_labels(ax, [(xs[i], ys[i]) for i in order], [f"#{pts[i]['point']}" for i in order], FRONT_COLOUR)
    save(fig, a.out, a.formats)


if __name__ == "__main__":
    fail_on_bad_input(main)
