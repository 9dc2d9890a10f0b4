#!/usr/bin/env python3
"""Sanger-style prediction density (and attention-mass recall) on captured Q/K.

Reference numbers for attnsim's Sanger predictor model, computed with numpy on
the real all-MiniLM-L6-v2 captures written by scripts/capture_minilm.py.

Definition (per workload, layer, head; Q, K are the stored float16 tensors,
[seq, 32], widened to float64 for the prediction):
  * symmetric 4-bit quantisation per head tensor:
        scale_q = 7 / max|Q|   (separately scale_k = 7 / max|K|)
        q^ = clip(round_half_to_even(Q * scale_q), -7, 7)   (same for k^; torch.round, as attnsim)
  * S^ = (q^ k^T) / (scale_q * scale_k) / sqrt(32)
  * P^ = row softmax of S^ (float64)
  * mask = P^ > T, and in every row the argmax of P^ (first index on ties)
    is always kept
  * density = nnz(mask) / (seq * seq)
  * recall = mean over rows of sum of P at kept positions, where
    P = softmax(Q K^T / sqrt(32)) computed exactly in float32
Per-layer values are the mean over the 12 heads (all heads have the same
seq*seq, so this equals pooled nnz / pooled size); "all" is the mean over
all 6*12 heads.

Needs only numpy. Run from the repository root:
    python3 scripts/sanger_density.py                       # print tables
    python3 scripts/sanger_density.py --doc docs/real_workloads.md
The second form rewrites the block between the markers
<!-- BEGIN sanger-density --> / <!-- END sanger-density --> in that file.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
THRESHOLDS = [1e-3, 2e-3, 5e-3, 1e-2, 2e-2]
BEGIN = "<!-- BEGIN sanger-density -->"
END = "<!-- END sanger-density -->"


def quantise4(x: np.ndarray):
    """Symmetric 4-bit per-tensor quantisation; returns (integer codes, scale)."""
    absmax = float(np.abs(x).max())
    scale = 7.0 / absmax if absmax > 0 else 1.0
    y = x * scale
    codes = np.clip(np.rint(y), -7, 7)  # ties to even, as torch.round and attnsim
    return codes, scale


def softmax(s: np.ndarray) -> np.ndarray:
    s = s - s.max(-1, keepdims=True)
    e = np.exp(s)
    return e / e.sum(-1, keepdims=True)


def head_stats(q16: np.ndarray, k16: np.ndarray, thresholds):
    """density[t], recall[t] for one head."""
    seq, d = q16.shape
    q, k = q16.astype(np.float64), k16.astype(np.float64)
    qc, sq = quantise4(q)
    kc, sk = quantise4(k)
    s_hat = (qc @ kc.T) / (sq * sk) / math.sqrt(d)
    p_hat = softmax(s_hat)
    amax = np.argmax(p_hat, axis=-1)

    q32, k32 = q16.astype(np.float32), k16.astype(np.float32)
    p = softmax((q32 @ k32.T) / np.float32(math.sqrt(d)))  # float32

    dens, rec = [], []
    rows = np.arange(seq)
    for t in thresholds:
        mask = p_hat > t
        mask[rows, amax] = True
        dens.append(mask.sum() / (seq * seq))
        rec.append(float(np.where(mask, p, np.float32(0)).sum(-1,
                         dtype=np.float64).mean()))
    return np.array(dens), np.array(rec)


def analyse(workload_json: Path, thresholds):
    desc = json.loads(workload_json.read_text())
    base = workload_json.parent
    q = np.load(base / desc["data"]["q"])
    k = np.load(base / desc["data"]["k"])
    L, H, S, D = q.shape
    assert k.shape == q.shape and S == desc["seq_len"] and D == desc["head_dim"]
    dens = np.zeros((L, H, len(thresholds)))
    rec = np.zeros_like(dens)
    for l in range(L):
        for h in range(H):
            dens[l, h], rec[l, h] = head_stats(q[l, h], k[l, h], thresholds)
    return desc, dens, rec


def fmt_t(t: float) -> str:
    return f"{t:.0e}".replace("e-0", "e-")


def tables(results, thresholds) -> str:
    out = []
    out.append("Overall (mean over all 6 x 12 heads): density / recall\n")
    out.append("| workload | " + " | ".join(f"T={fmt_t(t)}" for t in thresholds) + " |")
    out.append("|---|" + "---|" * len(thresholds))
    for desc, dens, rec in results:
        cells = [f"{d:.4f} / {r:.4f}" for d, r in
                 zip(dens.mean((0, 1)), rec.mean((0, 1)))]
        out.append(f"| {desc['name']} | " + " | ".join(cells) + " |")
    out.append("")
    out.append("Range over the 72 heads of the per-head density: min - max\n")
    out.append("| workload | " + " | ".join(f"T={fmt_t(t)}" for t in thresholds) + " |")
    out.append("|---|" + "---|" * len(thresholds))
    for desc, dens, rec in results:
        flat = dens.reshape(-1, len(thresholds))
        cells = [f"{lo:.4f} - {hi:.4f}" for lo, hi in
                 zip(flat.min(0), flat.max(0))]
        out.append(f"| {desc['name']} | " + " | ".join(cells) + " |")
    for desc, dens, rec in results:
        out.append("")
        out.append(f"Per layer, {desc['name']} (seq {desc['seq_len']}; mean "
                   "over the 12 heads): density / recall\n")
        out.append("| layer | " + " | ".join(f"T={fmt_t(t)}" for t in thresholds) + " |")
        out.append("|---|" + "---|" * len(thresholds))
        for l in range(dens.shape[0]):
            cells = [f"{d:.4f} / {r:.4f}" for d, r in
                     zip(dens[l].mean(0), rec[l].mean(0))]
            out.append(f"| {l} | " + " | ".join(cells) + " |")
        cells = [f"**{d:.4f} / {r:.4f}**" for d, r in
                 zip(dens.mean((0, 1)), rec.mean((0, 1)))]
        out.append("| all | " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("workloads", nargs="*", type=Path,
                    default=[REPO_ROOT / "workloads" / "minilm_s128.json",
                             REPO_ROOT / "workloads" / "minilm_s256.json"],
                    help="workload JSON files (default: workloads/minilm_s128.json "
                         "workloads/minilm_s256.json)")
    ap.add_argument("--doc", type=Path, default=None,
                    help="Markdown file whose marked block is replaced by the tables")
    ap.add_argument("--json", type=Path, default=None,
                    help="also write per-layer/per-head numbers as JSON here")
    args = ap.parse_args(argv)

    results = [analyse(w, THRESHOLDS) for w in args.workloads]
    text = tables(results, THRESHOLDS)
    print(text, end="")

    if args.json:
        args.json.write_text(json.dumps({
            "thresholds": THRESHOLDS,
            "workloads": {d["name"]: {"density": dens.tolist(),
                                      "recall": rec.tolist()}
                          for d, dens, rec in results},
        }) + "\n")

    if args.doc:
        doc = args.doc.read_text()
        if BEGIN not in doc or END not in doc:
            sys.exit(f"error: {args.doc} lacks the markers {BEGIN} / {END}")
        head, rest = doc.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        args.doc.write_text(head + BEGIN + "\n" + text + END + tail)
        print(f"updated {args.doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
