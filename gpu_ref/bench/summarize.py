#!/usr/bin/env python3
"""Markdown table and plot from bench_block_sparse.py's results.

    summarize.py [BENCH_JSONL_OR_CSV] [--md OUT.md] [--png OUT.png] [--numerics NUMERICS_JSON]

Table: per case the fused kernel's best tiling against FlexAttention (best
variant), SDPA (FlashAttention backend, dense), gpu_ref's cuSPARSE path and
cuBLAS dense, with the targets (>= Flex on sparse cases, >= 2x cuSPARSE,
>= 80 % of SDPA on dense cases) marked; then the automatic tiling's ratios and
how far the fused output is from Flex's and cuSPARSE's. --numerics: per
numerics case the worst error over the tilings (and merged masks) it ran.
"""
import argparse
import csv
from collections import defaultdict

PATTERN_ORDER = {"random": 0, "local_stride": 1, "a_shape": 2, "causal": 3}


def load(path):
    if path.endswith(".jsonl"):
        import json

        rows = [{k: ("" if v is None else str(v)) for k, v in json.loads(line).items()} for line in open(path)]
    else:
        rows = list(csv.DictReader(open(path)))
    cases = defaultdict(dict)
    for r in rows:
        key = (int(r["S"]), int(r["D"]), r["pattern"], float(r["density"]), int(r["block"]), int(r["B"]),
               int(r["H"]))
        m = r["method"]
        t = float(r["time_ms"]) if r["time_ms"] else None
        if m == "fused":
            cases[key].setdefault("fused_all", {})[r["variant"]] = t
        elif m == "flex":
            cases[key].setdefault("flex_all", {})[r["variant"]] = t
        else:
            cases[key][m] = t
            if m == "fused_best":
                cases[key]["fused_variant"] = r["variant"]
            if m == "cusparse_fp32":
                cases[key]["cusparse_note"] = r.get("note", "")
        cases[key]["tflops_" + m] = float(r["tflops"]) if r.get("tflops") else None
    return cases


def fmt(x, nd=3):
    return "-" if x is None else f"{x:.{nd}f}"


def table(cases):
    out = []
    out.append("| S | D | pattern | block | density | fused ms (tiling) | fused TFLOP/s | Flex ms | fused vs Flex | "
               "SDPA ms | fused vs SDPA | cuSPARSE ms | fused vs cuSPARSE | cuBLAS fp16 ms | cuBLAS fp32 ms |")
    out.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    misses = []
    for key in sorted(cases, key=lambda k: (k[0], -k[1], PATTERN_ORDER.get(k[2], 9), k[3])):
        S, D, pat, dens, blk, B, H = key
        c = cases[key]
        f = c.get("fused_best")
        fl = c.get("flex_best")
        sd = c.get("sdpa_flash")
        sp = c.get("cusparse_fp32")
        dense_case = (pat == "random" and dens >= 0.999) or pat == "causal"
        sparse_case = not dense_case
        r_flex = fl / f if f and fl else None
        r_sdpa = sd / f if f and sd else None
        r_sp = sp / f if f and sp else None
        mark_flex = ""
        if r_flex is not None:
            ok = r_flex >= 1.0
            mark_flex = f"{r_flex:.2f}x" + ("" if ok or not sparse_case else " **miss**")
            if sparse_case and not ok:
                misses.append(f"Flex: S={S} D={D} {pat} density {dens:.3f}: {r_flex:.2f}x")
        mark_sdpa = ""
        if r_sdpa is not None:
            mark_sdpa = f"{r_sdpa:.2f}x"
            if dense_case and r_sdpa < 0.8:
                mark_sdpa += " **miss**"
                misses.append(f"SDPA: S={S} D={D} {pat}: {r_sdpa:.2f}x")
        mark_sp = ""
        if r_sp is not None:
            mark_sp = f"{r_sp:.1f}x" + ("" if r_sp >= 2 else " **miss**")
            if r_sp < 2:
                misses.append(f"cuSPARSE: S={S} D={D} {pat} density {dens:.3f}: {r_sp:.2f}x")
        out.append(f"| {S} | {D} | {pat} | {blk} | {dens:.3f} | {fmt(f)} ({c.get('fused_variant', '')}) | "
                   f"{fmt(c.get('tflops_fused_best'), 0)} | {fmt(fl)} | {mark_flex} | {fmt(sd)} | {mark_sdpa} | "
                   f"{fmt(sp)} | {mark_sp} | {fmt(c.get('cublas_fp16_dense'))} | {fmt(c.get('cublas_fp32_dense'))} |")
    return "\n".join(out), misses


def extras(path, cases):
    """The automatic tiling ("auto" variant) against Flex and SDPA, and the outputs' agreement (from the notes)."""
    import json
    import math
    import re

    lines = []
    vs_flex, vs_sdpa = [], []
    for key, c in cases.items():
        S, D, pat, dens = key[:4]
        fa = c.get("fused_all", {})
        auto = fa.get("auto", fa.get("auto/q128merge"))
        if auto is None:
            continue
        dense_case = (pat == "random" and dens >= 0.999) or pat == "causal"
        if dense_case and c.get("sdpa_flash"):
            vs_sdpa.append(c["sdpa_flash"] / auto)
        if not dense_case and c.get("flex_best"):
            vs_flex.append(c["flex_best"] / auto)
    if vs_flex:
        gm = math.exp(sum(math.log(x) for x in vs_flex) / len(vs_flex))
        lines.append(f"Automatic tiling vs Flex ({len(vs_flex)} sparse cases): "
                     f"{min(vs_flex):.2f}x-{max(vs_flex):.2f}x, geo-mean {gm:.3f}, "
                     f"below Flex in {sum(x < 1 for x in vs_flex)}")
    if vs_sdpa:
        lines.append(f"Automatic tiling vs SDPA ({len(vs_sdpa)} dense and causal cases): "
                     f"{min(vs_sdpa):.2f}x-{max(vs_sdpa):.2f}x")
    if path.endswith(".jsonl"):
        agree = {"flex": [], "cuSPARSE": []}  # as the notes spell them
        for line in open(path):
            note = json.loads(line).get("note") or ""
            for name in agree:
                m = re.search(rf"fused vs {name} max_err_rel=([0-9.e+-]+)", note)
                if m:
                    agree[name].append(float(m.group(1)))
        for name, v in agree.items():
            if v:
                shown = {"flex": "FlexAttention"}.get(name, name)
                lines.append(f"Fused output vs {shown}'s, max |diff| / max |ref| ({len(v)} cases): "
                             f"{min(v):.1e}-{max(v):.1e}")
    return "\n".join(lines)


def numerics_table(path):
    import json

    groups = {}
    for r in json.load(open(path)):
        native_qb = 64 if r["merged"] else r["q_block"]
        key = (r["S"], r["D"], native_qb, r["kv_block"], r["dtype"], r["pattern"])
        groups.setdefault(key, []).append(r)

    def worst(rs, field):
        v = [r[field]["max_err_rel"] for r in rs if r.get(field)]
        return f"{max(v):.1e}" if v else "-"

    out = ["| S | D | q x kv block | dtype | mask | blocks full/causal/partial | runs | fused vs float64 | "
           "fused vs cuSPARSE | fused vs cuBLAS dense | cuSPARSE vs float64 |",
           "|---|---|---|---|---|---|---|---|---|---|---|"]
    for (S, D, qb, kvb, dt, pat), rs in groups.items():
        b = next(r for r in rs if not r["merged"])["blocks"]
        merged = sum(r["merged"] for r in rs)
        runs = f"{len(rs) - merged}" + (f" + {merged} merged" if merged else "")
        dt = {"float16": "fp16", "bfloat16": "bf16"}.get(dt, dt)
        out.append(f"| {S} | {D} | {qb}x{kvb} | {dt} | {pat} | {b['full']}/{b['causal']}/{b['partial']} | {runs} | "
                   f"{worst(rs, 'fused_vs_f64')} | {worst(rs, 'fused_vs_cusparse')} | "
                   f"{worst(rs, 'fused_vs_cublas_dense')} | {worst(rs, 'cusparse_vs_f64')} |")
    n = sum(len(rs) for rs in groups.values())
    npass = sum(r["pass"] for rs in groups.values() for r in rs)
    out.append(f"\n{npass} / {n} pass ({len(groups)} cases)")
    return "\n".join(out)


def plot(cases, png, gpu):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    seqs = sorted({k[0] for k in cases})
    dims = sorted({k[1] for k in cases}, reverse=True)
    fig, axes = plt.subplots(len(dims), len(seqs), figsize=(4.2 * len(seqs), 3.6 * len(dims)), squeeze=False)
    markers = {"local_stride": "s", "a_shape": "^", "causal": "D"}
    for i, D in enumerate(dims):
        for j, S in enumerate(seqs):
            ax = axes[i][j]
            rnd = sorted((k for k in cases if k[0] == S and k[1] == D and k[2] == "random"), key=lambda k: k[3])
            if not rnd and not any(k[0] == S and k[1] == D for k in cases):
                ax.set_visible(False)
                continue
            for meth, col, lab in (("fused_best", "C0", "fused kernel (ours)"), ("flex_best", "C1", "FlexAttention"),
                                   ("cusparse_fp32", "C2", "cuSPARSE SDDMM+SpMM (fp32)")):
                xs = [k[3] for k in rnd if cases[k].get(meth)]
                ys = [cases[k]["tflops_" + meth] for k in rnd if cases[k].get(meth)]
                if xs:
                    ax.plot(xs, ys, "o-", color=col, label=lab + " (random)")
                for pat, mk in markers.items():
                    ks = [k for k in cases if k[0] == S and k[1] == D and k[2] == pat and cases[k].get(meth)]
                    if ks:
                        ax.plot([k[3] for k in ks], [cases[k]["tflops_" + meth] for k in ks], mk, color=col,
                                markersize=7, markerfacecolor="none" if meth != "fused_best" else col)
            dense = [k for k in rnd if k[3] >= 0.999 and cases[k].get("sdpa_flash")]
            if dense:
                ax.axhline(cases[dense[0]]["tflops_sdpa_flash"], color="C3", ls="--", lw=1,
                           label="SDPA flash, dense (TFLOP/s)")
            ax.set_xscale("log")
            ax.set_ylim(bottom=0)
            ax.set_title(f"S={S}, head_dim={D}", fontsize=10)
            ax.set_xlabel("block density (computed / S²)")
            ax.set_ylabel("effective TFLOP/s")
            ax.grid(True, alpha=0.3)
    h, lab = axes[0][0].get_legend_handles_labels()
    from matplotlib.lines import Line2D

    h += [Line2D([], [], marker=m, ls="", color="gray", label=p) for p, m in markers.items()]
    fig.legend(handles=h, loc="lower center", ncol=4, fontsize=9)
    fig.suptitle(f"Block-sparse attention forward on {gpu}, fp16, 16 heads, batch max(1, 16384/S); effective "
                 "TFLOP/s = 4*d*(elements of computed blocks) / time (SDPA line: dense non-causal)", fontsize=10)
    fig.tight_layout(rect=(0, 0.08, 1, 0.96))
    fig.savefig(png, dpi=110)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("csv", nargs="?")
    ap.add_argument("--md")
    ap.add_argument("--png")
    ap.add_argument("--gpu", default="an H100", help="the GPU named in the plot's title")
    ap.add_argument("--numerics", help="numerics.json of the same run: per-case error table")
    a = ap.parse_args()
    if not a.csv and not a.numerics:
        ap.error("give a benchmark file, --numerics, or both")
    text = ""
    if a.csv:
        cases = load(a.csv)
        t, misses = table(cases)
        text = t + "\n\nTargets missed:\n" + ("\n".join("- " + m for m in misses) if misses else "- none") + "\n"
        ex = extras(a.csv, cases)
        text += ("\n" + ex + "\n") if ex else ""
    if a.numerics:
        text += ("\n" if text else "") + numerics_table(a.numerics) + "\n"
    if a.md:
        open(a.md, "w").write(text)
    print(text)
    if a.csv and a.png:
        plot(cases, a.png, a.gpu)


if __name__ == "__main__":
    main()
