#!/usr/bin/env python3
"""PE-array utilisation over PE rows x PEs per row, from a sweep's summary.

    utilisation_heatmap.py SUMMARY.csv -o OUT.png [--metric pe_utilisation]
                           [--rows pe_array.rows] [--cols pe_array.pes_per_row]
                           [--title TITLE]

SUMMARY.csv is attnsim sweep's summary.csv. Each cell shows the metric of the
points with that (rows, cols) pair; where several points share a cell (other
swept parameters or workloads) it shows their mean and says so. Cells no point
reached stay blank. --metric can be any numeric column (time_us, energy_pj,
...); --rows/--cols any two parameter columns (e.g. pe_array.cols for a
systolic array).
"""
import argparse
from collections import defaultdict

from plotlib import (METRIC_LABELS, METRIC_SCALE, InputProblem, fail_on_bad_input, metric_column, ok_points, plt,
                     read_summary, require_columns, save, setup_style)
import numpy as np



def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("summary")
    ap.add_argument("-o", "--out", required=True, help="PNG to write")
    ap.add_argument("--metric", default="pe_utilisation")
    ap.add_argument("--rows", default="pe_array.rows", help="parameter on the vertical axis")
    ap.add_argument("--cols", default="pe_array.pes_per_row", help="parameter on the horizontal axis")
    ap.add_argument("--title")
    a = ap.parse_args()

    rows = read_summary(a.summary)
    metric = metric_column(rows, a.metric)
    require_columns(a.summary, rows, [a.rows, a.cols, metric])
    cells = defaultdict(list)
    for r in ok_points(rows):
        if isinstance(r[metric], (int, float)) and r[a.rows] is not None and r[a.cols] is not None:
            cells[(r[a.rows], r[a.cols])].append(r[metric] * METRIC_SCALE.get(metric, 1))
    if not cells:
        raise InputProblem(f"{a.summary}: no point with status ok and numbers in {a.rows}, {a.cols} and {metric}")
    ys = sorted({k[0] for k in cells})
    xs = sorted({k[1] for k in cells})
    grid = np.full((len(ys), len(xs)), np.nan)
    for (y, x), v in cells.items():
        grid[ys.index(y), xs.index(x)] = np.mean(v)
    per_cell = max(len(v) for v in cells.values())

    setup_style()
    fig, ax = plt.subplots(figsize=(1.1 * len(xs) + 3, 0.8 * len(ys) + 2))
    ax.grid(False)
    fraction = metric in ("pe_utilisation", "density", "mask_density")
    im = ax.imshow(grid, cmap="viridis", origin="lower", aspect="auto",
                   vmin=0 if fraction else None, vmax=1 if fraction else None)
    ax.set_xticks(range(len(xs)), [str(x) for x in xs])
    ax.set_yticks(range(len(ys)), [str(y) for y in ys])
    ax.set_xlabel(a.cols)
    ax.set_ylabel(a.rows)
    label = METRIC_LABELS.get(metric, metric)
    fig.colorbar(im, ax=ax, label=label)
    for i in range(len(ys)):
        for j in range(len(xs)):
            v = grid[i, j]
            if not np.isnan(v):  # dark text on the bright end of viridis, white on the dark end
                ax.text(j, i, f"{v:.3g}", ha="center", va="center", fontsize=9,
                        color="black" if im.norm(v) > 0.5 else "white")
    note = f"\n(mean of up to {per_cell} points per cell)" if per_cell > 1 else ""
    ax.set_title(a.title or f"{label}\nby {a.rows} x {a.cols}{note}")
    save(fig, a.out)


if __name__ == "__main__":
    fail_on_bad_input(main)
