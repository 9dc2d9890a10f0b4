#!/usr/bin/env python3
"""The verdict: sparse designs against the dense systolic array of as many PEs.

    verdict.py [--sanger CSV] [--dense CSV] [--spatten CSV] [-o DIR]
               [--preset-threshold 0.002] [--formats png,svg]

Reads the summary.csv files of the three verdict sweeps
(configs/sweeps/verdict_{sanger,dense,spatten}.json; defaults
out/verdict/{sanger,dense,spatten}/summary.csv). For each workload and PE count
(Sanger: pe_array.rows x pe_array.pes_per_row; dense: pe_array.rows x
pe_array.cols; SpAtten: pe_array.qk_multipliers + pe_array.av_multipliers)
the baseline is the fastest dense shape of that PE count (fewest cycles; ties
broken by lower energy). Writes into DIR (default docs/verdict):

  verdict_<workload>.png/.svg  speedup over the baseline and energy relative to
                               it against mask density, one line per Sanger
                               shape and SpAtten configuration, one column per
                               PE count
  breakeven.json               per workload and design: the density where the
                               speedup (and the energy ratio) crosses 1.0,
                               linearly interpolated between sweep points, and
                               the values at the Sanger preset's threshold
  points.csv                   every point with its baseline, speedup, energy
                               ratio and output error
and prints the break-even table. Bad input: one line, exit code 2.
"""
import argparse
import csv
import json
import math
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
try:
    from plotlib import (OKABE_ITO, InputProblem, fail_on_bad_input, plt, read_summary,  # noqa: E402
                         require_columns, setup_style)
except ImportError as e:
    print(f"verdict.py: {e.name or e}: not installed (run with .venv/bin/python, which scripts/setup.sh makes)",
          file=sys.stderr)
    sys.exit(2)

# Okabe & Ito's colours (plotlib), each line also with its own marker.
SANGER_MARKERS = ["o", "s", "^", "D"]
SPATTEN_STYLE = [("#CC79A7", "v", "--"), ("#000000", "P", "--"), ("#000000", "X", ":")]
WORKLOAD_TITLES = {
    "minilm-s128": "all-MiniLM-L6-v2 capture, seq 128 (6 layers, 12 heads, head dim 32)",
    "synthetic-bert-base-s512": "BERT-base-shaped synthetic, seq 512 (12 layers, 12 heads, head dim 64)",
}
COMMON = ["status", "workload", "cycles", "energy_pj", "mask_density"]


def number(path, r, col):
    v = r.get(col)
    if not isinstance(v, (int, float)) or not math.isfinite(v):
        raise InputProblem(f"{path}: point {r.get('point')}: column {col}: expected a finite number, got {v!r}")
    return v


def load(path, columns, what):
    try:
        rows = read_summary(path)
    except (csv.Error, UnicodeDecodeError) as e:
        raise InputProblem(f"{path}: not a readable CSV ({e})")
    try:
        require_columns(path, rows, COMMON + columns)
    except InputProblem as e:
        raise InputProblem(f"{e}; is this the {what} sweep's summary.csv?")
    ok = []
    for r in rows:
        if r["status"] != "ok":
            print(f"verdict.py: warning: {path}: point {r.get('point')} has status {r['status']}: left out",
                  file=sys.stderr)
            continue
        for c in ["cycles", "energy_pj", "mask_density"] + columns:
            number(path, r, c)
        if r["cycles"] <= 0 or r["energy_pj"] <= 0:
            raise InputProblem(f"{path}: point {r.get('point')}: cycles and energy_pj must be positive")
        ok.append(r)
    if not ok:
        raise InputProblem(f"{path}: no point with status ok")
    return ok


def shrink_png(path):
    """Palette PNG (the plots use a few flat colours): a fraction of the size, the same look."""
    try:
        from PIL import Image
    except ImportError:
        return
    with Image.open(path) as im:
        q = im.convert("RGB").quantize(colors=64, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    q.save(path, format="PNG", optimize=True)


def shrink_svg(path):
    """Coordinates to 0.1 pt and no indentation: a smaller file, the same drawing."""
    with open(path) as f:
        text = f.read()

    def rounded(m):  # numbers inside attribute values only; text (tick labels, titles) stays as drawn
        return re.sub(r"\d+\.\d+", lambda n: f"{float(n.group(0)):.1f}".removesuffix(".0"), m.group(0))
    text = re.sub(r'="[^"]*"', rounded, text)
    text = re.sub(r"\n\s+", "\n", text)
    text = re.sub(r'<g id="[^"]*">', "<g>", text)  # matplotlib's group names; nothing refers to them
    text = re.sub(r" \n([LMCz])", r" \1", text)
    with open(path, "w") as f:
        f.write(text)


def crossings(points, key):
    """Densities where key crosses 1.0, linear between neighbouring points (density ascending)."""
    pts = sorted((p["density"], p[key]) for p in points)
    out = []
    for (d0, y0), (d1, y1) in zip(pts, pts[1:]):
        if y0 == 1.0:
            out.append(d0)
        elif (y0 - 1.0) * (y1 - 1.0) < 0:
            out.append(d0 + (1.0 - y0) * (d1 - d0) / (y1 - y0))
    if pts and pts[-1][1] == 1.0:
        out.append(pts[-1][0])
    return sorted(set(round(d, 6) for d in out))


def breakeven(points, key, better):
    """better: 'above' (speedup) or 'below' (energy ratio) 1.0 is the sparse design's win."""
    xs = crossings(points, key)
    dmin, dmax = min(p["density"] for p in points), max(p["density"] for p in points)
    wins = [(p[key] > 1.0) if better == "above" else (p[key] < 1.0) for p in points]
    if not xs:
        status = "wins at every swept density" if all(wins) else (
            "loses at every swept density" if not any(wins) else "touches 1.0 without crossing")
    else:
        status = "crosses 1.0 once" if len(xs) == 1 else f"crosses 1.0 {len(xs)} times"
    return {"density": xs[0] if len(xs) == 1 else (xs or None), "crossings": xs, "status": status,
            "swept_density": [round(dmin, 6), round(dmax, 6)]}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sanger", default="out/verdict/sanger/summary.csv")
    ap.add_argument("--dense", default="out/verdict/dense/summary.csv")
    ap.add_argument("--spatten", default="out/verdict/spatten/summary.csv")
    ap.add_argument("-o", "--out", default="docs/verdict", help="folder for the plots and summaries (created)")
    ap.add_argument("--preset-threshold", type=float, default=0.002,
                    help="Sanger threshold whose point is reported separately (the preset's, 0.002)")
    ap.add_argument("--formats", default="png,svg", help="plot formats, comma-separated (default png,svg)")
    a = ap.parse_args()
    formats = [f.strip() for f in a.formats.split(",") if f.strip()]
    for f in formats:
        if f not in ("png", "svg", "pdf"):
            raise InputProblem(f"--formats: unknown format {f!r} (expected png, svg or pdf)")

    sanger = load(a.sanger, ["mask_unit.threshold", "pe_array.rows", "pe_array.pes_per_row"], "Sanger")
    dense = load(a.dense, ["pe_array.rows", "pe_array.cols"], "dense")
    spatten = load(a.spatten, ["pe_array.qk_multipliers", "pe_array.av_multipliers"], "SpAtten") \
        if a.spatten else []

    # Baselines: the fastest dense shape per (workload, PE count).
    base = {}
    for r in dense:
        pes = r["pe_array.rows"] * r["pe_array.cols"]
        k = (r["workload"], pes)
        if k not in base or (r["cycles"], r["energy_pj"]) < (base[k]["cycles"], base[k]["energy_pj"]):
            base[k] = r
    dense_shapes = {}
    for r in dense:
        dense_shapes.setdefault((r["workload"], r["pe_array.rows"] * r["pe_array.cols"]), []).append(
            {"shape": f"{r['pe_array.rows']}x{r['pe_array.cols']}", "cycles": r["cycles"],
             "energy_pj": r["energy_pj"]})

    def baseline(path, r, pes):
        b = base.get((r["workload"], pes))
        if b is None:
            raise InputProblem(f"{path}: point {r.get('point')}: no dense point with {pes} PEs on workload "
                               f"{r['workload']} in {a.dense}")
        return b

    # Series: (workload, pes) -> {label: [points]} in a stable order.
    series, order, rows_out = {}, {}, []

    def add(design, label, r, pes, path, setting, value):
        b = baseline(path, r, pes)
        p = {"design": design, "label": label, "pes": pes, "workload": r["workload"], "setting": setting, "value": value,
             "density": r["mask_density"], "cycles": r["cycles"], "energy_pj": r["energy_pj"],
             "speedup": b["cycles"] / r["cycles"], "energy_ratio": r["energy_pj"] / b["energy_pj"],
             "relative_error": r.get("relative_error"),
             "baseline": f"dense {b['pe_array.rows']}x{b['pe_array.cols']}"}
        series.setdefault((r["workload"], pes), {}).setdefault(label, []).append(p)
        order.setdefault((r["workload"], pes), [])
        if label not in order[(r["workload"], pes)]:
            order[(r["workload"], pes)].append(label)
        rows_out.append(p)

    for r in sanger:
        rows, ppr = r["pe_array.rows"], r["pe_array.pes_per_row"]
        add("sanger", f"Sanger {rows}x{ppr}", r, rows * ppr, a.sanger, f"threshold {r['mask_unit.threshold']:g}",
            r["mask_unit.threshold"])
    for r in spatten:
        qk, av = r["pe_array.qk_multipliers"], r["pe_array.av_multipliers"]
        lanes = r.get("pe_array.softmax_lanes")
        label = f"SpAtten {qk}+{av}" + (f", {lanes} softmax lanes" if isinstance(lanes, int) else "")
        keep = r.get("mask_unit.token_keep.final_keep")
        heads = r.get("mask_unit.head_keep.final_keep")
        setting = f"final keep: tokens {keep:g}, heads {heads:g}" if keep is not None and heads is not None else ""
        add("spatten", label, r, qk + av, a.spatten, setting, None)

    # Break-even densities and the preset-threshold points.
    result = {"baseline": "fastest dense systolic shape of the same PE count (fewest cycles, then lower energy)",
              "method": "density where speedup (energy ratio) crosses 1.0, linear interpolation between sweep "
                        "points sorted by density; 'density' is null when the curve does not cross, a list when "
                        "it crosses more than once",
              "inputs": {"sanger": a.sanger, "dense": a.dense, "spatten": a.spatten},
              "workloads": {}}
    for (w, pes) in sorted(series, key=lambda k: (k[0], k[1])):
        b = base[(w, pes)]
        wd = result["workloads"].setdefault(w, {})
        entry = {"baseline": {"shape": f"{b['pe_array.rows']}x{b['pe_array.cols']}", "cycles": b["cycles"],
                              "energy_pj": b["energy_pj"]},
                 "dense_shapes": dense_shapes[(w, pes)], "designs": {}}
        for label in order[(w, pes)]:
            pts = series[(w, pes)][label]
            d = {"speedup_breakeven": breakeven(pts, "speedup", "above"),
                 "energy_breakeven": breakeven(pts, "energy_ratio", "below")}
            preset = [p for p in pts if p["design"] == "sanger" and isinstance(p["value"], (int, float))
                      and math.isclose(p["value"], a.preset_threshold, rel_tol=1e-9)]
            if preset:
                p = preset[0]
                d["at_preset_threshold"] = {"threshold": p["value"], "density": round(p["density"], 6),
                                            "speedup": round(p["speedup"], 4),
                                            "energy_ratio": round(p["energy_ratio"], 4),
                                            "relative_error": p["relative_error"]}
            entry["designs"][label] = d
        wd[str(pes)] = entry

    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "breakeven.json.tmp"), "w") as f:
        text = json.dumps(result, indent=1)
        # Short lists and the innermost objects on one line each.
        text = re.sub(r"\[\s+([^\[\]{}]*?)\s+\]", lambda m: "[" + re.sub(r"\s*\n\s*", " ", m.group(1)) + "]", text)
        text = re.sub(r"\{\s+([^\[\]{}]*?)\s+\}", lambda m: "{" + re.sub(r"\s*\n\s*", " ", m.group(1)) + "}", text)
        f.write(text + "\n")
    os.replace(os.path.join(a.out, "breakeven.json.tmp"), os.path.join(a.out, "breakeven.json"))
    cols = ["workload", "pes", "label", "setting", "density", "cycles", "energy_pj", "baseline", "speedup",
            "energy_ratio", "relative_error"]
    with open(os.path.join(a.out, "points.csv.tmp"), "w", newline="") as f:
        wr = csv.writer(f)
        wr.writerow(cols)
        for p in rows_out:
            wr.writerow([f"{p[c]:.5g}" if isinstance(p[c], float) else p[c] for c in cols])
    os.replace(os.path.join(a.out, "points.csv.tmp"), os.path.join(a.out, "points.csv"))

    def fmt(be):
        if be["density"] is None:
            return be["status"]
        return ", ".join(f"{x:.3f}" for x in be["crossings"])

    print(f"{'workload':26} {'PEs':>5} {'design':37} {'baseline':12} {'speedup = 1 at density':28} "
          f"{'energy = 1 at density':28} {'at threshold ' + str(a.preset_threshold)}")
    for w, wd in result["workloads"].items():
        for pes, entry in wd.items():
            for label, d in entry["designs"].items():
                at = d.get("at_preset_threshold")
                ats = (f"density {at['density']:.3f}: {at['speedup']:.2f}x, energy {at['energy_ratio']:.2f}"
                       if at else "")
                print(f"{w:26} {pes:>5} {label:37} {'dense ' + entry['baseline']['shape']:12} "
                      f"{fmt(d['speedup_breakeven']):28} {fmt(d['energy_breakeven']):28} {ats}")

    # Plots: one figure per workload; columns = PE counts, rows = speedup, energy ratio.
    setup_style()
    plt.rcParams.update({"svg.fonttype": "none", "svg.hashsalt": "attnsim-verdict"})
    for w in sorted({k[0] for k in series}):
        pes_list = sorted(p for (ww, p) in series if ww == w)
        fig, axes = plt.subplots(2, len(pes_list), figsize=(6.6 * len(pes_list), 8.6), squeeze=False,
                                 sharex=True)
        dens = [p["density"] for k, v in series.items() if k[0] == w for pts in v.values() for p in pts]
        lo, hi = min(dens) / 1.25, 1.15
        for c, pes in enumerate(pes_list):
            b = base[(w, pes)]
            ns = nsp = 0
            for label in order[(w, pes)]:
                pts = sorted(series[(w, pes)][label], key=lambda p: p["density"])
                style = {"lw": 1.6, "ms": 5, "zorder": 3}
                if pts[0]["design"] == "sanger":
                    style.update(color=OKABE_ITO[ns % 6], marker=SANGER_MARKERS[ns % 4], ls="-")
                    ns += 1
                else:
                    color, marker, ls = SPATTEN_STYLE[nsp % 3]
                    # Later SpAtten variants drawn underneath with larger hollow markers: where their
                    # points coincide with an earlier variant's (the same energy), both stay visible.
                    style.update(color=color, marker=marker, ls=ls, ms=5 + 4 * nsp, mfc="none" if nsp else color,
                                 zorder=3 - 0.1 * nsp)
                    nsp += 1
                for rr, key in enumerate(["speedup", "energy_ratio"]):
                    axes[rr][c].plot([p["density"] for p in pts], [p[key] for p in pts], label=label, **style)
            preset_d = [p["density"] for lab in order[(w, pes)] for p in series[(w, pes)][lab]
                        if p["design"] == "sanger" and isinstance(p["value"], (int, float))
                        and math.isclose(p["value"], a.preset_threshold, rel_tol=1e-9)]
            ticks = [t for t in (0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0) if lo <= t <= hi]
            for rr in range(2):
                ax = axes[rr][c]
                ax.axhline(1.0, color="0.3", lw=1.2, zorder=2, label="dense baseline (1.0)")
                if preset_d:
                    ax.axvline(preset_d[0], color="0.5", lw=1.1, ls=(0, (2, 3)), zorder=1,
                               label=f"Sanger preset threshold {a.preset_threshold:g} (density {preset_d[0]:.3f})")
                ax.set_xscale("log")
                ax.set_xlim(lo, hi)
                ax.set_xticks(ticks)
                ax.set_xticklabels([f"{t:g}" for t in ticks])
                ax.minorticks_off()
            top, bottom = axes[0][c], axes[1][c]
            cyc = f"{b['cycles']:,}".replace(",", "\u2009")
            uj = f"{b['energy_pj'] * 1e-6:,.0f}".replace(",", "\u2009")
            top.set_title(f"{pes} PEs: baseline dense {b['pe_array.rows']}x{b['pe_array.cols']} "
                          f"({cyc} cycles, {uj} µJ)")
            top.set_ylabel("speedup over the dense baseline (×)\nhigher is faster")
            bottom.set_ylabel("energy relative to the dense baseline (×)\nlower is better")
            bottom.set_xlabel("mask density (kept / all query-key pairs, log scale)")
            bottom.legend(fontsize=8.5, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2, frameon=False)
        fig.suptitle(f"{WORKLOAD_TITLES.get(w, w)}:\nsparse designs against the dense systolic array of as many PEs",
                     fontsize=12)
        fig.tight_layout(w_pad=2.5)
        for ext in formats:
            out = os.path.join(a.out, f"verdict_{w}.{ext}")
            tmp = out + f".tmp.{ext}"
            if ext == "png":
                fig.savefig(tmp, bbox_inches="tight", dpi=100, format="png")
                shrink_png(tmp)
            else:
                fig.savefig(tmp, bbox_inches="tight", format=ext, metadata={"Date": None} if ext == "svg" else None)
                if ext == "svg":
                    shrink_svg(tmp)
            os.replace(tmp, out)
            print(f"wrote {out}")
        plt.close(fig)
    print(f"wrote {os.path.join(a.out, 'breakeven.json')} and {os.path.join(a.out, 'points.csv')}")


if __name__ == "__main__":
    fail_on_bad_input(main)
