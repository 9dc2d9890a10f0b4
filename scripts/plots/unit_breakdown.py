#!/usr/bin/env python3
"""Per-unit time (and energy) breakdown of one or several attnsim reports.

    unit_breakdown.py REPORT.json [REPORT.json ...] -o OUT.png [--title TITLE] [--formats png,svg]
                      [--no-energy]

Left: each unit's busy cycles (mask unit, encoder, PE array, DRAM) as grouped
bars per report, the run's total cycles marked; units overlap in a pipeline,
so busy cycles do not add up to the total. Right (when the reports carry
total.energy): energy by unit, stacked, in µJ (SRAM buffers summed).
"""
import argparse

from plotlib import (UNIT_COLOURS, UNIT_LABELS, UNIT_ORDER, InputProblem, add_output_args, fail_on_bad_input, plt,
                     read_report, report_label, save, setup_style)
from matplotlib.ticker import FuncFormatter
import numpy as np


ENERGY_ORDER = ["mask_unit", "encoder", "pe_array", "sram", "dram"]
ENERGY_LABELS = dict(UNIT_LABELS, sram="SRAM")


def energy_by_unit(report):
    """{unit: µJ} with the sram_<buffer> entries summed, or None."""
    by_unit = report["total"].get("energy", {}).get("by_unit")
    if not isinstance(by_unit, dict):
        return None
    out = {}
    for k, v in by_unit.items():
        key = "sram" if k.startswith("sram_") else k
        out[key] = out.get(key, 0.0) + v * 1e-6
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("reports", nargs="+")
    add_output_args(ap)
    ap.add_argument("--title")
    ap.add_argument("--no-energy", action="store_true", help="only the time panel")
    a = ap.parse_args()

    reports = [(p, read_report(p)) for p in a.reports]
    labels = [report_label(r, p) for p, r in reports]
    units = [u for u in UNIT_ORDER if any(u in r["total"].get("units", {}) for _, r in reports)]
    if not units:
        raise InputProblem(f"{a.reports[0]}: total.units: no unit to plot")
    energies = [energy_by_unit(r) for _, r in reports]
    show_energy = not a.no_energy and all(e is not None for e in energies)

    setup_style()
    fig, axes = plt.subplots(1, 2 if show_energy else 1, figsize=(12 if show_energy else 7, 4.8), squeeze=False)
    ax = axes[0][0]
    n = len(reports)
    width = 0.8 / len(units)
    x = np.arange(n)
    for k, u in enumerate(units):
        busy = [r["total"].get("units", {}).get(u, {}).get("busy_cycles", 0) for _, r in reports]
        ax.bar(x + (k - (len(units) - 1) / 2) * width, busy, width, label=UNIT_LABELS.get(u, u),
               color=UNIT_COLOURS.get(u))
    totals = [r["total"]["cycles"] for _, r in reports]
    ax.scatter(x, totals, marker="_", s=2500 / max(n, 1), color="black", linewidths=2, zorder=3,
               label="total cycles")
    ax.set_xticks(x, labels, fontsize=8)
    ax.set_ylabel("busy cycles")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))  # whole cycles, no "1e5" offset
    ax.set_title("busy cycles per unit")
    ax.legend(fontsize=8)

    if show_energy:
        ax = axes[0][1]
        bottom = np.zeros(n)
        for u in ENERGY_ORDER:
            vals = np.array([e.get(u, 0.0) for e in energies])
            if not vals.any():
                continue
            ax.bar(x, vals, 0.6, bottom=bottom, label=ENERGY_LABELS.get(u, u), color=UNIT_COLOURS.get(u))
            bottom += vals
        for i, total in enumerate(bottom):
            ax.annotate(f"{total:.3g} µJ", (x[i], total), textcoords="offset points", xytext=(0, 3), ha="center",
                        fontsize=8)
        tech = {r["total"]["energy"].get("tech") for _, r in reports}
        ax.set_xticks(x, labels, fontsize=8)
        ax.set_ylabel("energy (µJ)")
        ax.set_title("energy by unit" + (f" ({', '.join(sorted(t for t in tech if t))} tables)" if tech else ""))
        ax.legend(fontsize=8)
    if a.title:
        fig.suptitle(a.title)
    fig.tight_layout()
    save(fig, a.out, a.formats)


if __name__ == "__main__":
    fail_on_bad_input(main)
