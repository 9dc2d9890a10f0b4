#!/usr/bin/env python3
"""The Pareto front's progress over a search: hypervolume against trials.

    plot_progress.py OUT/search_progress.csv -o OUT.png

search_progress.csv is what attnsim search writes (columns trial,
hypervolume_<sampler>...): the hypervolume of the front of the first N trials'
feasible points, objectives (their logarithms, where all of one sign)
normalised to [0, 1] over every feasible point of the studies shown,
reference point 1.1 in each. attnsim search draws it itself
(OUT/search_hypervolume.png and .svg); this script redraws it.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "plots"))
from plotlib import InputProblem, fail_on_bad_input, plt, read_summary, save, setup_style  # noqa: E402

LABELS = {"nsga2": "NSGA-II", "tpe": "TPE", "random": "random sampling"}


def plot(curves, objectives, out):
    """curves: {sampler: [hypervolume after trial 1, 2, ...]}; PNG and SVG."""
    setup_style()
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for name, curve in curves.items():
        ax.plot(range(1, len(curve) + 1), curve, label=LABELS.get(name, name),
                linestyle="--" if name == "random" else "-", linewidth=1.8)
    ax.set_xlabel("trials")
    ax.set_ylabel("hypervolume of the front\n(log objectives, normalised; ref. 1.1)")
    ax.set_title("Search progress: " + ", ".join(objectives) if objectives else "Search progress", fontsize=9)
    ax.legend(loc="lower right")
    save(fig, out, "png,svg")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("progress")
    ap.add_argument("-o", "--out", required=True)
    a = ap.parse_args()
    rows = read_summary(a.progress)
    names = [c for c in rows[0] if c.startswith("hypervolume_")]
    if "trial" not in rows[0] or not names:
        raise InputProblem(f"{a.progress}: expected columns trial, hypervolume_<sampler> (attnsim search's "
                           "search_progress.csv)")
    curves = {n[len("hypervolume_"):]: [r[n] for r in rows if r[n] is not None] for n in names}
    plot(curves, [], a.out)


if __name__ == "__main__":
    fail_on_bad_input(main)
