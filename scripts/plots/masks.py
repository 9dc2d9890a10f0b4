#!/usr/bin/env python3
"""Pictures of the attention masks of one layer, one panel per head, from a
dump directory (attnsim run --dump DIR; format in docs/dump_format.md).

    masks.py DUMP_DIR -o OUT.png [--layer 0] [--heads 0 1 2 ...] [--max-heads 12] [--formats png,svg]
             [--title TITLE]

Black is a kept (query, key) entry. Each panel's title gives the head and the
mask's density (kept over allowed entries; causal: the lower triangle).
Sequences longer than 512 are shown pooled over square blocks, the grey level
being the fraction kept.
"""
import argparse
import json
import math
import os

from plotlib import InputProblem, add_output_args, fail_on_bad_input, plt, save, setup_style
import numpy as np


MAX_PIXELS = 512


def load(dump):
    def npy(name):
        path = os.path.join(dump, name)
        if not os.path.isfile(path):
            raise InputProblem(f"{path}: missing (is {dump} an attnsim dump directory?)")
        return np.load(path)

    meta_path = os.path.join(dump, "meta.json")
    if not os.path.isfile(meta_path):
        raise InputProblem(f"{meta_path}: missing (is {dump} an attnsim dump directory?)")
    with open(meta_path) as f:
        meta = json.load(f)
    if meta.get("format") != "attnsim-dump":
        raise InputProblem(f"{meta_path}: format: expected \"attnsim-dump\"")
    return meta, npy("mask_indptr.npy"), npy("mask_indices.npy"), npy("mask_offsets.npy")


def head_mask(indptr, indices, offsets, layer, group, groups, seq):
    """Dense boolean mask [S, S] of one head."""
    start = int(offsets[layer * groups + group])
    ptr = indptr[layer, group]
    m = np.zeros((seq, seq), dtype=bool)
    rows = np.repeat(np.arange(seq), np.diff(ptr))
    m[rows, indices[start + ptr[0]:start + ptr[-1]]] = True
    return m


def pooled(m):
    """Fraction kept per block, at most MAX_PIXELS blocks a side."""
    s = m.shape[0]
    if s <= MAX_PIXELS:
        return m.astype(float), 1
    b = math.ceil(s / MAX_PIXELS)
    pad = b * math.ceil(s / b) - s
    mm = np.pad(m, ((0, pad), (0, pad))).astype(float)
    n = mm.shape[0] // b
    return mm.reshape(n, b, n, b).mean(axis=(1, 3)), b


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dump")
    add_output_args(ap)
    ap.add_argument("--layer", type=int, default=0)
    ap.add_argument("--heads", type=int, nargs="+", help="groups to show (batch * heads + head); default: the first")
    ap.add_argument("--max-heads", type=int, default=12)
    ap.add_argument("--title")
    a = ap.parse_args()

    meta, indptr, indices, offsets = load(a.dump)
    layers, groups, seq = meta["layers"], meta["groups"], meta["seq_len"]
    if indptr.shape != (layers, groups, seq + 1):
        raise InputProblem(f"{a.dump}/mask_indptr.npy: shape {indptr.shape}, expected {(layers, groups, seq + 1)}")
    if not 0 <= a.layer < layers:
        raise InputProblem(f"{a.dump}: --layer {a.layer} out of range (the dump has {layers} layers)")
    heads = a.heads if a.heads else list(range(min(groups, a.max_heads)))
    bad = [h for h in heads if not 0 <= h < groups]
    if bad:
        raise InputProblem(f"{a.dump}: --heads {bad} out of range (the dump has {groups} heads)")
    causal = bool(meta.get("params", {}).get("causal", False))
    allowed = seq * (seq + 1) // 2 if causal else seq * seq

    setup_style()
    cols = min(len(heads), 6)
    rows = math.ceil(len(heads) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.3 * cols, 2.5 * rows + 0.6), squeeze=False)
    block = 1
    for k, ax in enumerate(axes.flat):
        ax.grid(False)
        if k >= len(heads):
            ax.axis("off")
            continue
        m = head_mask(indptr, indices, offsets, a.layer, heads[k], groups, seq)
        img, block = pooled(m)
        ax.imshow(img, cmap="Greys", vmin=0, vmax=1, interpolation="nearest",
                  extent=(-0.5, seq - 0.5, seq - 0.5, -0.5))
        ax.set_title(f"head {heads[k]}: density {m.sum() / allowed:.1%}", fontsize=9)
        ax.set_xticks([0, seq - 1])
        ax.set_yticks([0, seq - 1])
        ax.tick_params(labelsize=7)
        if k % cols == 0:
            ax.set_ylabel("query", fontsize=8)
        if k >= (rows - 1) * cols:
            ax.set_xlabel("key", fontsize=8)
    pooled_note = f", {block}x{block} blocks pooled" if block > 1 else ""
    workload = meta.get("workload", {})
    workload = workload.get("name", "?") if isinstance(workload, dict) else workload
    fig.suptitle(a.title or f"masks of layer {a.layer}: {meta.get('arch', '?')} on {workload} "
                           f"(seq {seq}{pooled_note}; black = kept)", fontsize=11)
    fig.tight_layout()
    save(fig, a.out, a.formats)


if __name__ == "__main__":
    fail_on_bad_input(main)
