#!/usr/bin/env python3
"""Per-launch timing spread and output check of the persistent tiling (wg128_wsp) against the others.

    wsp_stability.py LIB [--launches N]

For a few benchmark cases (bench_block_sparse.py's masks and inputs): N back-to-back launches of each tiling timed
one by one (CUDA events; median, p90, p99, max, launches over 1.3x the median), then N/4 launches each on a zeroed
output compared with wg128_ws's output (max abs difference; a skipped work item would leave zeros).
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_block_sparse as bb  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("lib")
    ap.add_argument("--launches", type=int, default=400)
    a = ap.parse_args()
    lib = bb.Lib(a.lib)
    H = 16
    cases = [(1024, 128, "random", 0.05), (4096, 64, "a_shape", None), (4096, 64, "local_stride", None),
             (1024, 64, "random", 0.05), (16384, 128, "random", 0.1)]
    for S, D, pat, dens in cases:
        B = max(1, 16384 // S)
        g = torch.Generator(device="cuda").manual_seed(S + D)
        q, k, v = (torch.randn(B, H, S, D, generator=g, device="cuda", dtype=torch.float16) for _ in range(3))
        if pat == "random":
            kinds, blk = bb.random_kinds(S, 128, dens, H, seed=int(dens * 1000) + S), 128
        elif pat == "a_shape":
            kinds, blk = bb.a_shape_kinds(S, 128, 1, 8), 128
        else:
            kinds, blk = bb.local_stride_kinds(S, 64, 16, 8, H), 64
        m = lib.mask_from_kinds(kinds, S, blk, blk)
        if blk == 64:
            m = lib.merge_q(m)
        ref = torch.zeros_like(q)
        lib.forward(m, q, k, v, ref, "wg128_ws")
        o = torch.empty_like(q)
        for tiling in ("wg128_ws", "wg128_wsp", "wg128_m2", "wg128_wsp", "auto"):
            for _ in range(3):
                lib.forward(m, q, k, v, o, tiling)
            evs = []
            for _ in range(a.launches):
                e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                e0.record()
                lib.forward(m, q, k, v, o, tiling)
                e1.record()
                evs.append((e0, e1))
            torch.cuda.synchronize()
            ts = sorted(e0.elapsed_time(e1) for e0, e1 in evs)
            n = len(ts)
            med = ts[n // 2]
            slow = sum(t > 1.3 * med for t in ts)
            worst = 0.0
            for _ in range(max(1, a.launches // 4)):
                o.zero_()
                lib.forward(m, q, k, v, o, tiling)
                worst = max(worst, (o.float() - ref.float()).abs().max().item())
            print(f"S={S:>5} D={D:>3} {pat:12} {tiling:10} med {med:.4f} p90 {ts[int(0.9 * n)]:.4f} "
                  f"p99 {ts[int(0.99 * n)]:.4f} max {ts[-1]:.4f} ms; {slow}/{n} over 1.3x; max |o - ws| {worst:.2e}",
                  flush=True)


if __name__ == "__main__":
    main()
