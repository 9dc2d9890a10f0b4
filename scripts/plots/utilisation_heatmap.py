#!/usr/bin/env python3
"""MAC utilisation, latency and energy over PE rows x PEs per row, from a sweep's summary.

    utilisation_heatmap.py SUMMARY.csv -o OUT.png [--metrics mac_utilisation,time_us,energy_pj]
                           [--rows pe_array.rows] [--cols pe_array.pes_per_row]
                           [--where PARAM=VALUE ...] [--title TITLE] [--formats png,svg]

SUMMARY.csv is attnsim sweep's summary.csv. One panel per metric (default:
MAC utilisation = useful MACs / (PEs x the array's compute cycles), latency in
µs, energy in µJ), each cell the value of the points with that (rows, cols)
pair; where several points share a cell (other swept parameters or
workloads) it shows their mean and the title says so: --where fixes the other
parameters instead (e.g. --where memory.sram_kib.k=64). Cells no point reached
stay blank. --metrics takes any numeric columns (pe_utilisation, area_mm2,
dram_bytes, ...); --rows/--cols any two parameter columns (e.g. pe_array.cols
for a systolic array).
"""
import argparse
from collections import defaultdict

from plotlib import (FRACTIONS, METRIC_LABELS, METRIC_SCALE, InputProblem, add_output_args, fail_on_bad_input,
                     metric_column, ok_points, plt, read_summary, require_columns, save, setup_style, to_number)
import numpy as np


def grid_of(rows, metric, row_param, col_param):
    """(row values, col values, mean grid, most points in one cell)."""
    cells = defaultdict(list)
    for r in rows:
        if isinstance(r[metric], (int, float)) and r[row_param] is not None and r[col_param] is not None:
            cells[(r[row_param], r[col_param])].append(r[metric] * METRIC_SCALE.get(metric, 1))
    if not cells:
        return None
    ys = sorted({k[0] for k in cells})
    xs = sorted({k[1] for k in cells})
    grid = np.full((len(ys), len(xs)), np.nan)
    for (y, x), v in cells.items():
        grid[ys.index(y), xs.index(x)] = np.mean(v)
    return ys, xs, grid, max(len(v) for v in cells.values())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("summary")
    add_output_args(ap)
    ap.add_argument("--metrics", default="mac_utilisation,time_us,energy_pj",
                    help="one panel per column, comma-separated (default mac_utilisation,time_us,energy_pj)")
    ap.add_argument("--rows", default="pe_array.rows", help="parameter on the vertical axis")
    ap.add_argument("--cols", default="pe_array.pes_per_row", help="parameter on the horizontal axis")
    ap.add_argument("--where", action="append", default=[], metavar="PARAM=VALUE",
                    help="only the points with this value of a column (repeatable)")
    ap.add_argument("--title")
    a = ap.parse_args()

    rows = read_summary(a.summary)
    for cond in a.where:
        col, sep, value = cond.partition("=")
        if not sep:
            raise InputProblem(f"--where: expected PARAM=VALUE, got {cond!r}")
        require_columns(a.summary, rows, [col])
        rows = [r for r in rows if str(r[col]) == value or r[col] == to_number(value)]
        if not rows:
            raise InputProblem(f"{a.summary}: --where {cond}: no point has {col} = {value}")
    metrics = [metric_column(rows, m.strip()) for m in a.metrics.split(",") if m.strip()]
    if not metrics:
        raise InputProblem(f"{a.summary}: --metrics: no column given")
    require_columns(a.summary, rows, [a.rows, a.cols] + metrics)
    ok = ok_points(rows)
    grids = []
    for m in metrics:
        g = grid_of(ok, m, a.rows, a.cols)
        if g is None:
            raise InputProblem(f"{a.summary}: no point with status ok and numbers in {a.rows}, {a.cols} and {m}")
        grids.append(g)

    setup_style()
    ys, xs = grids[0][0], grids[0][1]
    fig, axes = plt.subplots(1, len(metrics), figsize=(len(metrics) * (0.9 * len(xs) + 2.6), 0.7 * len(ys) + 2.2),
                             squeeze=False)
    per_cell = max(g[3] for g in grids)
    for ax, m, (ys, xs, grid, _) in zip(axes[0], metrics, grids):
        ax.grid(False)
        fraction = m in FRACTIONS
        # viridis: perceptually uniform and readable with colour-blindness; for
        # latency and energy lower is better, so the colours run reversed (bright = good).
        cmap = "viridis" if fraction or m not in METRIC_LABELS else "viridis_r"
        im = ax.imshow(grid, cmap=cmap, origin="lower", aspect="auto",
                       vmin=0 if fraction else None, vmax=1 if fraction else None)
        ax.set_xticks(range(len(xs)), [str(x) for x in xs])
        ax.set_yticks(range(len(ys)), [str(y) for y in ys])
        ax.set_xlabel(a.cols)
        ax.set_ylabel(a.rows)
        label = METRIC_LABELS.get(m, m)
        fig.colorbar(im, ax=ax, label=label, shrink=0.9)
        for i in range(len(ys)):
            for j in range(len(xs)):
                v = grid[i, j]
                if not np.isnan(v):  # dark text on the bright end of viridis, white on the dark end
                    bright = im.norm(v) > 0.5 if cmap == "viridis" else im.norm(v) < 0.5
                    ax.text(j, i, f"{v:.0f}" if abs(v) >= 100 else f"{v:.3g}", ha="center", va="center", fontsize=8,
                            color="black" if bright else "white")
        ax.set_title(label)
    note = f" (mean of up to {per_cell} points per cell)" if per_cell > 1 else ""
    where = f", {', '.join(a.where)}" if a.where else ""
    fig.suptitle(a.title or f"by {a.rows} x {a.cols}{where}{note}")
    fig.tight_layout()
    save(fig, a.out, a.formats)


if __name__ == "__main__":
    fail_on_bad_input(main)
