#!/usr/bin/env python3
"""Fused kernel vs FlexAttention per sparse case, with and without some tilings.

    compare_tilings.py BENCH_JSONL [--tiling wg128_ws[,wg128_wsp,/q128merge...]]

--tiling: a comma list of variants left out in the "w/o" column; one starting with "/" leaves out every variant
ending so (e.g. /q128merge: the merged-q-block masks). The "ms" and "vs other" columns are the first one's.

Sparse cases: every pattern but dense (random 100 %) and causal. Prints per case
Flex's time over the fused kernel's best time (all tilings, and all but the
named one), the named tiling's time against the best other tiling, Flex's time
over the automatic tiling's (the "auto" variant: what forward() picks, not
counted as a tiling), and the counts and geometric means over the sparse cases.
"""
import argparse
import json
import math
from collections import defaultdict


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("jsonl")
    ap.add_argument("--tiling", default="wg128_ws")
    a = ap.parse_args()
    left_out = a.tiling.split(",")
    mine_name = left_out[0]

    def excluded(v):
        return any(v == x or (x.startswith("/") and v.endswith(x)) for x in left_out)

    cases = defaultdict(lambda: {"fused": {}, "flex": None})
    for line in open(a.jsonl):
        r = json.loads(line)
        key = (r["S"], r["D"], r["pattern"], r["density"])
        if r["method"] == "fused":
            cases[key]["fused"][r["variant"]] = r["time_ms"]
        elif r["method"] == "flex_best":
            cases[key]["flex"] = r["time_ms"]
    n = lose_all = lose_wo = n_auto = lose_auto = 0
    lg_all = lg_wo = lg_auto = 0.0
    print(f"{'S':>6} {'D':>4} {'pattern':12} {'dens':>6} {'flex ms':>8} {'best ms':>8} {'best tiling':22} "
          f"{'flex/best':>9} {'flex/best w/o':>13} {mine_name + ' ms':>12} {'vs other':>8} {'auto ms':>8} {'flex/auto':>9}")
    for key in sorted(cases, key=lambda k: (-k[0], k[1], k[2], k[3])):
        c = cases[key]
        S, D, pat, dens = key
        if not c["fused"] or c["flex"] is None:
            continue
        auto = [c["fused"].pop(v) for v in ("auto", "auto/q128merge") if v in c["fused"]]
        auto = auto[0] if auto else None
        best_t, best = min(c["fused"].items(), key=lambda kv: kv[1])
        others = {t: v for t, v in c["fused"].items() if not excluded(t)}
        wo = min(others.values()) if others else float("nan")
        mine = c["fused"].get(mine_name)
        sparse = pat not in ("causal",) and not (pat == "random" and dens >= 0.999)
        if sparse:
            n += 1
            lose_all += best > c["flex"]
            lose_wo += wo > c["flex"]
            lg_all += math.log(c["flex"] / best)
            lg_wo += math.log(c["flex"] / wo)
            if auto:
                n_auto += 1
                lose_auto += auto > c["flex"]
                lg_auto += math.log(c["flex"] / auto)
        print(f"{S:>6} {D:>4} {pat:12} {dens:>6.3f} {c['flex']:>8.3f} {best:>8.3f} {best_t:22} "
              f"{c['flex'] / best:>8.2f}x {c['flex'] / wo:>12.2f}x "
              + (f"{mine:>12.3f} {wo / mine:>7.2f}x" if mine else f"{'-':>12} {'-':>8}")
              + (f" {auto:>8.3f} {c['flex'] / auto:>8.2f}x" if auto else f" {'-':>8} {'-':>9}")
              + ("" if sparse else "  (not sparse)"))
    if n:
        print(f"sparse cases: {n}; slower than Flex: {lose_all} (without {a.tiling}: {lose_wo}); geo-mean Flex/fused "
              f"{math.exp(lg_all / n):.3f} (without {a.tiling}: {math.exp(lg_wo / n):.3f})")
    if n_auto:
        print(f"automatic tiling: {n_auto} sparse cases, slower than Flex: {lose_auto}; geo-mean Flex/auto "
              f"{math.exp(lg_auto / n_auto):.3f}")


if __name__ == "__main__":
    main()
