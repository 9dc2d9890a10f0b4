#!/usr/bin/env python3
"""Simulator cost against sequence length for long-context runs, from the
JSON lines of bench/run_longctx_bench.sh length (out/bench/longctx.jsonl).

    longctx_cost.py LONGCTX.jsonl -o OUT.png [--formats png,svg]

Left: CPU seconds of one 32-head layer against seq (log-log), beside the
lines seq and seq² through the first point, so the growth reads off the
plot. Right: peak memory, likewise. Only the "length_s*" cases are drawn; the last
run of each length counts.
"""
import argparse
import json

from plotlib import InputProblem, add_output_args, fail_on_bad_input, plt, save, setup_style


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("jsonl")
    add_output_args(ap)
    a = ap.parse_args()
    runs = {}
    with open(a.jsonl) as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                r = json.loads(line)
            except json.JSONDecodeError as e:
                raise InputProblem(f"{a.jsonl}:{n}: not a JSON line ({e.msg})")
            if str(r.get("case", "")).startswith("length_s"):
                runs[r["seq"]] = r
    if len(runs) < 2:
        raise InputProblem(f"{a.jsonl}: fewer than two length_s* runs (run bench/run_longctx_bench.sh length)")
    seq = sorted(runs)
    cpu = [runs[s]["cpu_s"] for s in seq]
    rss = [runs[s]["peak_rss_mib"] / 1024 for s in seq]
    setup_style()
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(10, 4))
    ax.loglog(seq, cpu, "o-", color="#0072B2", label="attnsim, one layer (32 heads)")
    ax.loglog(seq, [cpu[0] * s / seq[0] for s in seq], "--", color="#999999", label="∝ seq")
    ax.loglog(seq, [cpu[0] * (s / seq[0]) ** 2 for s in seq], ":", color="#D55E00", label="∝ seq²")
    ax.set_xlabel("sequence length (tokens)")
    ax.set_ylabel("CPU time (s)")
    ax.set_xticks(seq)
    ax.set_xticklabels([f"{s // 1024}k" for s in seq])
    ax.minorticks_off()
    ax.legend()
    ax.set_title("simulator CPU time, one core")
    bx.loglog(seq, rss, "o-", color="#009E73", label="attnsim, one layer, one thread")
    bx.loglog(seq, [rss[0] * s / seq[0] for s in seq], "--", color="#999999", label="∝ seq")
    bx.set_xticks(seq)
    bx.set_xticklabels([f"{s // 1024}k" for s in seq])
    bx.minorticks_off()
    bx.legend()
    bx.set_xlabel("sequence length (tokens)")
    bx.set_ylabel("peak memory (GiB)")
    bx.set_title("peak resident memory")
    fig.suptitle("DynamiQK preset on longctx_s128k-shaped workloads")
    fig.tight_layout()
    save(fig, a.out, a.formats)


if __name__ == "__main__":
    fail_on_bad_input(main)
