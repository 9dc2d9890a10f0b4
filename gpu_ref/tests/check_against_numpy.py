#!/usr/bin/env python3
"""Checks a gpu_ref output directory against numpy.

usage: check_against_numpy.py DUMP_DIR GPU_OUT_DIR [--json REPORT.json]

Recomputes, in numpy, the exact path of the dump's algorithm from its q/k/v
(docs/dump_format.md) and compares it with what gpu_ref wrote:

dense   output vs a float64 softmax(Q K^T * scale) V.
sanger  q_quant / k_quant / quant_scales bit for bit (the numpy quantiser is
        the simulator's formula: the first recipe in double, or, when params
        has normalize_qk or quant_scope, the float32 recipe of Sanger's code
        with optional L2 normalisation and a per-layer absmax); the GPU's mask
        vs the numpy prediction (fp32, or double with the float32 recipe; an
        entry may differ only where the predicted probability lies within
        rounding of the threshold); scores / probs / output vs float64 on the
        GPU's own mask (row_max = predictor: the softmax subtracts the row's
        largest kept predicted score, rounded to a fixed-point number_format,
        exps saturated at a fixed-point prob_format's largest value); the CSR
        structure (indptr from 0 per head, offsets, sorted in-range columns);
        pred_scores / pred_probs when present (--full).
spatten_pruner   each layer's kept token / head sets = the top-k (ties by
        index) of the GPU's own importance; the mask = alive queries x alive
        keys; importance = the running sums of the GPU's probabilities and
        |outputs|; scores / probs / output vs float64 on the mask (progressive
        quantisation: MSB keys emulated, the requantisation decisions checked
        away from tau).
pattern_detector the CSR masks = the keys of the GPU's plans (heads.json:
        layouts, indices, skips, diagonal); the estimates (column / diagonal
        sums) vs float64; vertical-slash indices a top-k of the GPU's scores;
        scores / probs / output vs float64 on the mask.
elsa    ELSA's candidate selection (docs/elsa.md): q_hash / k_hash / q_norm /
        k_norm bit for bit against the float64 rule (sums in index order); the
        cos_table and log_inv_p against their formulas; the GPU's mask
        identical to numpy's selection (no tolerance: the rule is exact in
        float64); scores / probs / output vs float64 on the mask. Reports,
        for information, whether params.projection is what splitmix64 and
        Box-Muller give for params.seed.

Also reports, for information only, how the simulator's own results in the
dump differ from the GPU's (for a fixed-point dump: the precision loss of the
simulated hardware). Exit status 0 when every check passes, 1 otherwise.
"""
import argparse
import json
import math
import os
import sys

import numpy as np

# Tolerances of the fp32 GPU path against float64 (relative to the norm of the
# reference, or to max(|ref|, 1) per element).
TOL_REL_NORM = 1e-5
TOL_ELEM = 1e-5
# A mask entry may differ from the numpy prediction only where the predicted
# probability is within this relative distance of the threshold.
TOL_MASK_REL = 1e-5


class Report:
    def __init__(self):
        self.lines = []
        self.failures = []
        self.data = {}

    def check(self, name, ok, detail):
        self.lines.append(f"  [{'ok' if ok else 'FAIL'}] {name}: {detail}")
        self.data[name] = {"ok": bool(ok), "detail": detail}
        if not ok:
            self.failures.append(name)

    def info(self, name, detail):
        self.lines.append(f"  [info] {name}: {detail}")
        self.data[name] = {"info": detail}


def load(d, name):
    return np.load(os.path.join(d, name + ".npy"))


def rel_norm(a, ref):
    a = np.asarray(a, np.float64)
    ref = np.asarray(ref, np.float64)
    den = np.linalg.norm(ref)
    num = np.linalg.norm(a - ref)
    return float(num / den) if den > 0 else float(num)


def elem_err(a, ref):
    a = np.asarray(a, np.float64)
    ref = np.asarray(ref, np.float64)
    if a.size == 0:
        return 0.0, 0.0
    diff = np.abs(a - ref)
    return float(diff.max()), float((diff / np.maximum(np.abs(ref), 1.0)).max())


def compare_float(rep, name, got, ref, expect_shape=None):
    got = np.asarray(got)
    if expect_shape is not None and tuple(got.shape) != tuple(expect_shape):
        rep.check(name, False, f"shape {got.shape}, expected {tuple(expect_shape)}")
        return
    if got.dtype != np.float32:
        rep.check(name, False, f"dtype {got.dtype}, expected float32")
        return
    nonfinite = int(np.count_nonzero(~np.isfinite(got)))
    mx, me = elem_err(got, ref)
    rn = rel_norm(got, ref)
    ok = nonfinite == 0 and rn <= TOL_REL_NORM and me <= TOL_ELEM
    rep.check(name, ok, f"max abs err {mx:.3e}, max err/max(|ref|,1) {me:.3e}, rel norm err {rn:.3e}"
              + (f", {nonfinite} non-finite" if nonfinite else ""))


def softmax64(x, valid):
    x = np.where(valid, x, -np.inf)
    m = x.max(axis=-1, keepdims=True)
    e = np.where(valid, np.exp(x - m), 0.0)
    return e / e.sum(axis=-1, keepdims=True)


def causal_valid(S):
    return np.tril(np.ones((S, S), dtype=bool))


# ---------------------------------------------------------------- dense
def check_dense(meta, dump, out, rep):
    L, G, S, D = meta["layers"], meta["groups"], meta["seq_len"], meta["head_dim"]
    p = meta["params"]
    q, k, v = (load(dump, n).astype(np.float64) for n in ("q", "k", "v"))
    s = np.einsum("lgid,lgjd->lgij", q, k) * p["scale"]
    valid = causal_valid(S) if p["causal"] else np.ones((S, S), dtype=bool)
    probs = softmax64(s, valid)
    ref = np.einsum("lgij,lgjd->lgid", probs, v)
    got = load(out, "output")
    compare_float(rep, "output", got, ref, (L, G, S, D))
    sim = os.path.join(dump, "output.npy")
    if os.path.exists(sim):
        so = np.load(sim)
        rep.info("simulator output vs gpu", f"rel norm err {rel_norm(so, got):.3e}, max abs err {elem_err(so, got)[0]:.3e}")


# ---------------------------------------------------------------- sanger
def quantise(x, bits):
    """The simulator's quantiser: per head, double scale = qmax / absmax."""
    qmax = float(2 ** (bits - 1) - 1)
    absmax = np.abs(x).max(axis=(-2, -1)).astype(np.float64)  # float32 max, exact
    scale = np.where(absmax > 0, qmax / np.where(absmax > 0, absmax, 1.0), 1.0)
    vals = np.rint(x.astype(np.float64) * scale[..., None, None])
    return np.clip(vals, -qmax, qmax).astype(np.int8), scale


def predict(qq, kq, sq, sk, scale, causal):
    """pred_scores and pred_probs in fp32, as the simulator computes them."""
    S = qq.shape[-2]
    acc = np.einsum("lgid,lgjd->lgij", qq.astype(np.int64), kq.astype(np.int64)).astype(np.float32)
    rescale = (scale / (sq * sk)).astype(np.float32)
    pred = acc * rescale[..., None, None]
    valid = causal_valid(S) if causal else np.ones((S, S), dtype=bool)
    m = np.where(valid, pred, np.float32(-np.inf)).max(axis=-1, keepdims=True)
    e = np.where(valid, np.exp(pred - m), np.float32(0)).astype(np.float32)
    z = e.sum(axis=-1, keepdims=True, dtype=np.float32)
    return pred, (e / z).astype(np.float32), valid


def l2_norm_f32(x):
    """Float32 L2 norm of every row (last axis), summed as the simulator does
    (modelled on torch's 8-lane CPU kernel): 8 lane accumulators, element c added
    into lane c % 8 in order, then the lanes left to right; every square and sum
    rounded to float32."""
    x = np.asarray(x, np.float32)
    sq = x * x  # float32 products (numpy does not fuse them into the sums)
    lanes = []
    for lane in range(8):
        acc = np.zeros(x.shape[:-1], np.float32)
        for c in range(lane, x.shape[-1], 8):
            acc = acc + sq[..., c]
        lanes.append(acc)
    total = lanes[0]
    for lane in lanes[1:]:
        total = total + lane
    return np.sqrt(total)


def normalise_f32(x):
    """Rows divided by their float32 L2 norms (0 for a zero row); returns (x_hat, norms)."""
    x = np.asarray(x, np.float32)
    n = l2_norm_f32(x)
    safe = np.where(n > 0, n, np.float32(1))[..., None]
    xhat = np.where(n[..., None] > 0, x / safe, np.float32(0)).astype(np.float32)
    return xhat, n


def quantise_f32(x, bits, layer_scope):
    """Sanger's float32 recipe on [L, G, S, D]: absmax per head (or per layer:
    all G heads), s = float(float(1 / absmax) * qmax) (1 for absmax 0), codes =
    clamp(rint(float(x * s))) with round half to even. Returns (codes, s [L, G])."""
    x = np.asarray(x, np.float32)
    qmax = np.float32(2 ** (bits - 1) - 1)
    a = np.abs(x).max(axis=(-2, -1))  # [L, G], float32 (a max is exact)
    if layer_scope:
        a = np.broadcast_to(a.max(axis=1, keepdims=True), a.shape)
    with np.errstate(divide="ignore"):
        inv = np.float32(1) / a
    s = np.where(a > 0, inv * qmax, np.float32(1)).astype(np.float32)
    y = (x * s[..., None, None]).astype(np.float32)
    return np.clip(np.rint(y), -qmax, qmax).astype(np.int8), s


def predict_f64(qq, kq, sq, sk, q_norm, k_norm, scale, causal):
    """The float32 recipe's prediction: S = double(acc) / (double(s_q) * double(s_k))
    [* (double(|q_i|) * double(|k_j|))] * scale and the row softmax, all in double."""
    S = qq.shape[-2]
    acc = np.einsum("lgid,lgjd->lgij", qq.astype(np.int64), kq.astype(np.int64)).astype(np.float64)
    den = sq.astype(np.float64) * sk.astype(np.float64)
    pred = acc / den[..., None, None]
    if q_norm is not None:
        pred = pred * (q_norm.astype(np.float64)[..., :, None] * k_norm.astype(np.float64)[..., None, :])
    pred = pred * scale
    valid = causal_valid(S) if causal else np.ones((S, S), dtype=bool)
    return pred, softmax64(pred, valid), valid


def fixed_format(name):
    """(width, frac) of "fixedW.F"; None for fp32."""
    if name is None or name == "fp32":
        return None
    width, frac = (int(x) for x in name[len("fixed"):].split("."))
    return width, frac


def round_fixed(x, fmt):
    """config/number_format.h: add half an LSB, saturate, floor."""
    width, frac = fmt
    y = np.clip(np.asarray(x, np.float64) * 2.0 ** frac + 0.5, -2.0 ** (width - 1), 2.0 ** (width - 1) - 1)
    return np.floor(y) * 2.0 ** -frac


def csr_to_dense(indptr, indices, offsets, L, G, S):
    mask = np.zeros((L, G, S, S), dtype=bool)
    pos = np.full((L, G, S, S), -1, dtype=np.int64)  # where each kept entry sits in the flat arrays
    h = 0
    for l in range(L):
        for g in range(G):
            base = int(offsets[h])
            ip = indptr[l, g].astype(np.int64)
            rows = np.repeat(np.arange(S), np.diff(ip))
            cols = indices[base + ip[0]: base + ip[-1]]
            mask[l, g, rows, cols] = True
            pos[l, g, rows, cols] = base + np.arange(ip[-1])
            h += 1
    return mask, pos


def check_csr_structure(rep, indptr, indices, offsets, L, G, S, causal):
    H = L * G
    problems = []
    if indptr.dtype != np.int32 or indptr.shape != (L, G, S + 1):
        problems.append(f"mask_indptr {indptr.dtype} {indptr.shape}")
    if indices.dtype != np.int32 or indices.ndim != 1:
        problems.append(f"mask_indices {indices.dtype} {indices.shape}")
    if offsets.dtype != np.int64 or offsets.shape != (H + 1,):
        problems.append(f"mask_offsets {offsets.dtype} {offsets.shape}")
    if problems:
        rep.check("csr structure", False, "; ".join(problems))
        return False
    ip = indptr.reshape(H, S + 1).astype(np.int64)
    if (ip[:, 0] != 0).any():
        problems.append("indptr does not start at 0 in every head")
    if (np.diff(ip, axis=1) < 0).any():
        problems.append("indptr decreases")
    if offsets[0] != 0 or (offsets[1:] - offsets[:-1] != ip[:, -1]).any() or offsets[-1] != indices.size:
        problems.append("offsets disagree with indptr / nnz")
    if not problems:
        if indices.size and (indices.min() < 0 or indices.max() >= S):
            problems.append("column out of range")
        for h in range(H):
            base = offsets[h]
            for i in range(S):
                c = indices[base + ip[h, i]: base + ip[h, i + 1]]
                if c.size > 1 and (np.diff(c) <= 0).any():
                    problems.append(f"head {h} row {i}: columns not strictly increasing")
                    break
                if causal and c.size and c.max() > i:
                    problems.append(f"head {h} row {i}: a causal key j > i is kept")
                    break
            if len(problems) > 5:
                break
    rep.check("csr structure", not problems, "; ".join(problems) if problems else
              f"{H} heads, nnz {indices.size}, indptr/offsets consistent, columns sorted and in range")
    return not problems


def check_sanger(meta, dump, out, rep):
    L, G, S, D = meta["layers"], meta["groups"], meta["seq_len"], meta["head_dim"]
    p = meta["params"]
    bits, thr, keep_row_max = p["bits"], float(p["threshold"]), p.get("keep_row_max", True)
    scale, causal = float(p["scale"]), bool(p["causal"])
    normalize = p.get("normalize_qk", "none")
    scope = p.get("quant_scope", "head")
    f32_recipe = "normalize_qk" in p or "quant_scope" in p
    row_max_pred = p.get("row_max", "pass") == "predictor"
    if normalize not in ("none", "inner_product") or scope not in ("head", "layer"):
        rep.check("params", False, f"normalize_qk {normalize!r}, quant_scope {scope!r}: unknown")
        return
    q, k, v = (load(dump, n) for n in ("q", "k", "v"))

    # 1. quantisation, bit for bit
    q_norm = k_norm = None
    if f32_recipe:
        qx, kx = q, k
        if normalize == "inner_product":
            qx, q_norm = normalise_f32(q)
            kx, k_norm = normalise_f32(k)
        qq, sq = quantise_f32(qx, bits, scope == "layer")
        kq, sk = quantise_f32(kx, bits, scope == "layer")
        thr = float(np.float32(thr))  # Sanger's code compares with a float32 threshold
    else:
        qq, sq = quantise(q, bits)
        kq, sk = quantise(k, bits)
    for name, ref in (("q_quant", qq), ("k_quant", kq)):
        got = load(out, name)
        ok = got.dtype == np.int8 and got.shape == ref.shape and np.array_equal(got, ref)
        ndiff = int(np.count_nonzero(got != ref)) if got.shape == ref.shape else -1
        rep.check(name, ok, f"{got.dtype} {got.shape}, {ndiff} of {ref.size} values differ")
    scales = load(out, "quant_scales")
    ref_scales = np.stack([sq, sk], axis=-1).astype(np.float32)
    rep.check("quant_scales", scales.dtype == np.float32 and scales.shape == ref_scales.shape
              and np.array_equal(scales, ref_scales),
              f"max rel diff {float(np.max(np.abs(scales.astype(np.float64) / ref_scales - 1))):.3e}"
              if scales.shape == ref_scales.shape else f"shape {scales.shape}")

    # 2. prediction and mask (the float32 recipe keeps on double probabilities, files hold float32)
    if f32_recipe:
        pred, pprobs, valid = predict_f64(qq, kq, sq, sk, q_norm, k_norm, scale, causal)
    else:
        pred, pprobs, valid = predict(qq, kq, sq, sk, scale, causal)
    pred32 = pred.astype(np.float32)  # the predicted scores as the GPU stores them
    if os.path.exists(os.path.join(out, "pred_scores.npy")):
        compare_float(rep, "pred_scores", load(out, "pred_scores"), pred32, pred.shape)
        compare_float(rep, "pred_probs", load(out, "pred_probs"), pprobs.astype(np.float32), pprobs.shape)
    np_mask = (pprobs.astype(np.float64) > thr) & valid  # compared in double, as the simulator
    if keep_row_max:
        empty = ~np_mask.any(axis=-1)
        am = np.argmax(np.where(valid, pprobs, -1.0), axis=-1)  # first index on ties
        li, gi, ii = np.nonzero(empty)
        np_mask[li, gi, ii, am[li, gi, ii]] = True

    indptr, indices, offsets = load(out, "mask_indptr"), load(out, "mask_indices"), load(out, "mask_offsets")
    if not check_csr_structure(rep, indptr, indices, offsets, L, G, S, causal):
        return
    gpu_mask, pos = csr_to_dense(indptr, indices, offsets, L, G, S)
    both = int(np.count_nonzero(gpu_mask & np_mask))
    only_gpu = gpu_mask & ~np_mask
    only_np = np_mask & ~gpu_mask
    ndiff = int(np.count_nonzero(only_gpu) + np.count_nonzero(only_np))
    # Differences are acceptable only at probabilities within rounding of the
    # threshold (or where a row's argmax is a near tie).
    diff_p = pprobs[only_gpu | only_np].astype(np.float64)
    borderline = np.abs(diff_p - thr) <= TOL_MASK_REL * thr
    unexplained = int(np.count_nonzero(~borderline))
    union = both + ndiff
    rep.check("mask vs numpy prediction", unexplained == 0,
              f"gpu nnz {int(gpu_mask.sum())}, numpy nnz {int(np_mask.sum())}, identical {both} of {union} "
              f"(agreement {both / union if union else 1.0:.6f}); {ndiff} differ, {ndiff - unexplained} of them "
              f"within {TOL_MASK_REL:g} of the threshold")

    # 3. the exact pass on the GPU's own mask
    q64, k64, v64 = (x.astype(np.float64) for x in (q, k, v))
    s64 = np.einsum("lgid,lgjd->lgij", q64, k64) * scale
    if row_max_pred:
        # m = the row's largest predicted score (float32) among its kept entries,
        # rounded to a fixed-point data format; exp(s - m) saturates where a
        # fixed-point prob format ends (no saturation with fp32)
        m = np.where(gpu_mask, pred32, np.float32(-np.inf)).max(axis=-1).astype(np.float64)
        m = np.where(gpu_mask.any(axis=-1), m, 0.0)
        data_fmt, prob_fmt = fixed_format(p.get("number_format")), fixed_format(p.get("prob_format"))
        if data_fmt:
            m = round_fixed(m, data_fmt).astype(np.float32).astype(np.float64)
        e = np.where(gpu_mask, np.exp(np.where(gpu_mask, s64 - m[..., None], 0.0)), 0.0)
        if prob_fmt:
            e = np.minimum(e, (2.0 ** (prob_fmt[0] - 1) - 1) * 2.0 ** -prob_fmt[1])
        with np.errstate(invalid="ignore", divide="ignore"):
            probs64 = e / e.sum(axis=-1, keepdims=True)
    else:
        probs64 = softmax64(s64, gpu_mask)
    probs64 = np.nan_to_num(probs64)  # rows with an empty mask
    out64 = np.einsum("lgij,lgjd->lgid", probs64, v64)
    flat = pos[gpu_mask]  # positions in CSR order of the dense (l, g, i, j) walk = CSR order
    ref_scores = np.empty(indices.size)
    ref_scores[flat] = s64[gpu_mask]
    ref_probs = np.empty(indices.size)
    ref_probs[flat] = probs64[gpu_mask]
    compare_float(rep, "scores", load(out, "scores"), ref_scores, (indices.size,))
    compare_float(rep, "probs", load(out, "probs"), ref_probs, (indices.size,))
    compare_float(rep, "output", load(out, "output"), out64, (L, G, S, D))

    # 4. information: the simulator's results in the dump against the GPU's
    try:
        s_indptr, s_indices, s_offsets = (load(dump, n) for n in ("mask_indptr", "mask_indices", "mask_offsets"))
        sim_mask, _ = csr_to_dense(s_indptr, s_indices, s_offsets, L, G, S)
        agree = int(np.count_nonzero(sim_mask & gpu_mask))
        un = int(np.count_nonzero(sim_mask | gpu_mask))
        so = load(dump, "output")
        rep.info("simulator vs gpu",
                 f"mask identical {agree} of {un} (agreement {agree / un if un else 1.0:.6f}); output rel norm err "
                 f"{rel_norm(so, load(out, 'output')):.3e}, max abs err {elem_err(so, load(out, 'output'))[0]:.3e}")
    except FileNotFoundError:
        pass


# ---------------------------------------------------------------- spatten
def keep_fraction(sched, layer, layers):
    """src/kernels/spatten.cpp KeepSchedule::keep."""
    if sched.get("per_layer"):
        pl = sched["per_layer"]
        return pl[min(layer, len(pl) - 1)]
    start = int(np.ceil(sched.get("start_fraction", 0.15) * layers))
    final = sched.get("final_keep", 1.0)
    if layer < start or layers - 1 <= start:
        return 1.0 if layer < start else final
    return 1.0 + (final - 1.0) * (layer - start + 1) / (layers - start)


def topk_stable(score, alive, k):
    """Keeps the k largest alive entries (ties: lower index), or all when k >= alive count."""
    idx = np.nonzero(alive)[0]
    if k >= idx.size:
        return alive.copy()
    order = idx[np.argsort(-score[idx], kind="stable")]
    out = np.zeros_like(alive)
    out[order[:k]] = 1
    return out


def check_spatten(meta, dump, out, rep):
    """Replays the GPU's own pruning decisions: each layer's kept sets must be the
    top-k of the GPU's importance (ties by index), its mask must be what those
    sets give, its values must match float64 attention on that mask, and the
    importance must accumulate the GPU's probabilities and outputs."""
    L, G, S, D = meta["layers"], meta["groups"], meta["seq_len"], meta["head_dim"]
    B, H = meta["batch"], meta["heads"]
    p = meta["params"]
    mu = p["mask_unit"]
    scale, causal = float(p["scale"]), bool(p["causal"])
    layers = int(p["model_layers"])
    q, k, v = (load(dump, n).astype(np.float64) for n in ("q", "k", "v"))
    talive, timp = load(out, "token_alive"), load(out, "token_importance")
    halive, himp = load(out, "head_alive"), load(out, "head_importance")
    req, top = load(out, "row_requantised"), load(out, "row_top_prob")
    indptr, indices, offsets = load(out, "mask_indptr"), load(out, "mask_indices"), load(out, "mask_offsets")
    if not check_csr_structure(rep, indptr, indices, offsets, L, G, S, causal):
        return
    gpu_mask, pos = csr_to_dense(indptr, indices, offsets, L, G, S)
    probs_g = load(out, "probs")
    out_g = load(out, "output")
    # progressive quantisation: K's fixed-point code with its low bits truncated
    fmt = p.get("number_format", "fp32")
    dropped = 0
    if "msb_bits" in p and fmt.startswith("fixed"):
        width, frac = (int(x) for x in fmt[5:].split("."))
        dropped = max(0, width - int(p["msb_bits"]))
        code = np.clip(np.floor(k * 2.0 ** frac + 0.5), -2.0 ** (width - 1), 2.0 ** (width - 1) - 1)
        k_msb = np.floor(code / 2.0 ** dropped) * 2.0 ** dropped / 2.0 ** frac
    tau = float(p.get("requant_threshold", 0.1))
    v_keep = float(p.get("v_keep", 1.0))
    bad_sets, bad_mask, bad_req = [], [], 0
    ref_out = np.zeros((L, G, S, D))
    ref_scores = np.empty(indices.size)
    ref_probs = np.empty(indices.size)
    score_t = np.zeros((B, S))
    score_h = np.zeros(G)
    alive_t = np.ones((B, S), dtype=np.int8)
    alive_h = np.ones(G, dtype=np.int8)
    imp_err = 0.0
    imp_scale = 0.0
    for l in range(L):
        # importance the GPU decided on (accumulated from its own probabilities and outputs)
        imp_err = max(imp_err, float(np.abs(timp[l] - score_t).max()), float(np.abs(himp[l] - score_h).max()))
        imp_scale = max(imp_scale, float(np.abs(score_t).max()), float(np.abs(score_h).max()))
        kt = max(1, int(np.floor(S * keep_fraction(mu["token_keep"], l, layers))))
        kh = max(1, int(np.floor(H * keep_fraction(mu["head_keep"], l, layers) + 1e-9)))
        for b in range(B):
            alive_t[b] = topk_stable(timp[l, b], alive_t[b], kt)
            alive_h[b * H:(b + 1) * H] = topk_stable(himp[l, b * H:(b + 1) * H], alive_h[b * H:(b + 1) * H], kh)
        if not (np.array_equal(alive_t, talive[l]) and np.array_equal(alive_h, halive[l])):
            bad_sets.append(l)
        alive_t, alive_h = talive[l].copy(), halive[l].copy()  # go on from the GPU's sets
        for g in range(G):
            b = g // H
            rows_alive = alive_t[b].astype(bool) & bool(alive_h[g])
            want = np.outer(rows_alive, alive_t[b].astype(bool))
            if causal:
                want &= causal_valid(S)
            if not np.array_equal(want, gpu_mask[l, g]):
                bad_mask.append((l, g))
                continue
            s64 = q[l, g] @ k[l, g].T * scale
            pr = np.nan_to_num(softmax64(s64, want))
            if dropped:
                pr1 = np.nan_to_num(softmax64(q[l, g] @ k_msb[l, g].T * scale, want))
                top1 = np.where(want, pr1, 0).max(axis=1)
                redo = rows_alive & (top1 < tau)
                flips = (redo != req[l, g].astype(bool)) & (np.abs(top1 - tau) > TOL_MASK_REL * max(tau, 1.0))
                bad_req += int(flips.sum())
                use = req[l, g].astype(bool)[:, None]  # the GPU's decision, to compare its values
                s64 = np.where(use, s64, q[l, g] @ k_msb[l, g].T * scale)
                pr = np.where(use, pr, pr1)
            w = pr.copy()
            if v_keep < 1.0:
                for i in np.nonzero(rows_alive)[0]:
                    cols = np.nonzero(want[i])[0]
                    n = cols.size
                    keep = max(1, int(np.ceil(v_keep * n)))
                    if keep < n:
                        order = cols[np.argsort(-pr[i, cols], kind="stable")]
                        w[i] = 0
                        w[i, order[:keep]] = pr[i, order[:keep]]
            ref_out[l, g] = w @ v[l, g]
            flat = pos[l, g][want]
            ref_scores[flat] = s64[want]
            ref_probs[flat] = pr[want]
        # the importance this layer adds, from the GPU's own probabilities and outputs (double, its order)
        for g in range(G):
            dense = np.zeros((S, S))
            sel = gpu_mask[l, g]
            dense[sel] = probs_g[pos[l, g][sel]].astype(np.float64)
            score_t[g // H] += dense.sum(axis=0)
            score_h[g] += np.abs(out_g[l, g].astype(np.float64)).sum()
    rep.check("kept sets = top-k of the GPU's importance", not bad_sets,
              f"layers whose token/head sets differ: {bad_sets}" if bad_sets else f"{L} layers, ties by index")
    rep.check("mask = alive queries x alive keys", not bad_mask,
              f"{len(bad_mask)} heads differ: {bad_mask[:5]}" if bad_mask else f"{L * G} heads")
    tol = TOL_ELEM * max(imp_scale, 1.0)
    rep.check("importance accumulates probs and |output|", imp_err <= tol,
              f"max abs err {imp_err:.3e} (tolerance {tol:.3e})")
    if dropped:
        rep.check("requantised rows", bad_req == 0, f"{bad_req} rows decided otherwise (away from tau)")
    if bad_mask:
        return
    compare_float(rep, "scores", load(out, "scores"), ref_scores, (indices.size,))
    compare_float(rep, "probs", probs_g, ref_probs, (indices.size,))
    compare_float(rep, "output", out_g, ref_out, (L, G, S, D))
    try:
        so = load(dump, "output")
        same = np.array_equal(load(dump, "token_alive"), talive) and np.array_equal(load(dump, "head_alive"), halive)
        rep.info("simulator vs gpu", f"kept sets identical: {same}; output rel norm err {rel_norm(so, out_g):.3e}")
    except FileNotFoundError:
        pass


# ---------------------------------------------------------------- pattern_detector
def plan_mask(plan, S, segs):
    """The mask a plan of heads.json keeps (rows x keys), from its layouts and indices."""
    names, tok_mod, tok_seg, starts, grid_w = [], np.zeros(S, int), np.zeros(S, int), [], []
    pos = 0
    for s in segs:
        n = int(s["tokens"])
        if n <= 0:
            continue
        if s["kind"] not in names:
            names.append(s["kind"])
        tok_mod[pos:pos + n] = names.index(s["kind"])
        tok_seg[pos:pos + n] = len(starts)
        starts.append(pos)
        grid_w.append(int(s["grid"][1]) if "grid" in s else 0)
        pos += n
    ii = np.arange(S)[:, None]
    jj = np.arange(S)[None, :]
    causal = jj <= ii
    m = np.zeros((S, S), dtype=bool)
    for i in range(S):
        qm = tok_mod[i]
        pat = plan["by_query"][0 if len(plan["by_query"]) == 1 else qm]
        kind = pat["pattern"]
        row = np.zeros(S, dtype=bool)
        if "layout" in pat:
            lay = pat["layout"]
            blk = lay["block"]
            mb = i // blk
            for off in lay["block_offset"][mb]:
                row[max(off, 0):off + blk] = True
            row[lay["column_index"][mb]] = True
        elif kind == "dense" or (kind == "tri_shape" and i >= S - pat["n_last"]):
            row[:] = True
        elif kind == "vertical_slash":
            row[[x for x in pat["verticals"]]] = True
            row[[i - o for o in pat["slashes"] if o <= i]] = True
        else:  # a_shape, tri_shape, grid: sinks, local window, grid columns
            row[:pat["n_init"]] = True
            row[max(0, i - pat["n_local"] + 1):i + 1] = True
            if kind == "grid" and grid_w[tok_seg[i]] > 0:
                w, st = grid_w[tok_seg[i]], starts[tok_seg[i]]
                if i - w >= st:
                    row[np.arange(i - w, st - 1, -w)] = True
        if "skip" in plan:
            row &= ~np.array(plan["skip"][qm], dtype=bool)[tok_mod]
        row &= causal[i]
        row[i] = True
        m[i] = row
    return m


def is_top_k(scores, selected):
    sc = np.array([np.inf if x is None else x for x in scores])
    if not selected or max(selected) >= sc.size:
        return False
    kept = np.zeros(sc.size, bool)
    kept[selected] = True
    return kept.all() or sc[kept].min() >= sc[~kept].max()


def check_pattern_detector(meta, dump, out, rep):
    """The GPU's CSR masks must be exactly what its plans (heads.json) keep, its
    values float64 attention on them; its estimates the column / diagonal sums
    of float64 estimation probabilities; its indices a top-k of its own scores."""
    L, G, S, D = meta["layers"], meta["groups"], meta["seq_len"], meta["head_dim"]
    p = meta["params"]
    scale = float(p["scale"])
    segs = p.get("segments", [{"kind": "text", "tokens": S}])
    with open(os.path.join(out, "heads.json")) as f:
        heads = json.load(f)
    q, k, v = (load(dump, n).astype(np.float64) for n in ("q", "k", "v"))
    indptr, indices, offsets = load(out, "mask_indptr"), load(out, "mask_indices"), load(out, "mask_offsets")
    if not check_csr_structure(rep, indptr, indices, offsets, L, G, S, True):
        return
    gpu_mask, pos = csr_to_dense(indptr, indices, offsets, L, G, S)
    bad_plan, est_err, bad_topk = [], 0.0, 0
    ref_out = np.zeros((L, G, S, D))
    ref_scores = np.empty(indices.size)
    ref_probs = np.empty(indices.size)
    for h, e in enumerate(heads):
        l, g = h // G, h % G
        want = plan_mask(e["plan"], S, segs)
        if not np.array_equal(want, gpu_mask[l, g]):
            bad_plan.append(h)
        s64 = q[l, g] @ k[l, g].T * scale
        pr = np.nan_to_num(softmax64(s64, gpu_mask[l, g]))
        ref_out[l, g] = pr @ v[l, g]
        flat = pos[l, g][gpu_mask[l, g]]
        ref_scores[flat] = s64[gpu_mask[l, g]]
        ref_probs[flat] = pr[gpu_mask[l, g]]
        # estimates: column and diagonal sums over each estimation row set
        full = np.nan_to_num(softmax64(s64, causal_valid(S)))
        mu = p["mask_unit"]
        for st in e["estimates"]["sets"]:
            r0, K = st["first_row"], st["keys"]
            rows = range(r0, K)
            vert = full[r0:K].sum(axis=0)[:K]
            sl = np.zeros(K)
            for i in rows:
                sl[:i + 1] += full[i, i::-1]
            for name, ref, forced in (("vertical", vert, mu.get("init_columns", 30)),
                                      ("slash", sl, mu.get("local_diagonals", 100))):
                got = np.array([np.inf if x is None else x for x in st[name]])
                fin = np.arange(K) >= forced
                est_err = max(est_err, float(np.abs(got[fin] - ref[fin]).max(initial=0) / max(ref[fin].max(initial=0), 1e-30)))
                if not np.all(np.isinf(got[~fin])):
                    est_err = np.inf
        # indices: a top-k of some estimation set's scores (every kept score >= every dropped one)
        for pat in e["plan"]["by_query"]:
            if pat["pattern"] == "vertical_slash" and not any(
                    is_top_k(st["vertical"], pat["verticals"]) and is_top_k(st["slash"], pat["slashes"])
                    for st in e["estimates"]["sets"]):
                bad_topk += 1
    rep.check("masks = the plans' keys", not bad_plan, f"heads differing: {bad_plan}" if bad_plan else
              f"{len(heads)} heads")
    rep.check("estimates vs float64", est_err <= 1e-4, f"max err / max {est_err:.3e} (vertical and slash sums)")
    rep.check("vertical-slash indices are a top-k of the GPU's scores", bad_topk == 0, f"{bad_topk} patterns not")
    compare_float(rep, "scores", load(out, "scores"), ref_scores, (indices.size,))
    compare_float(rep, "probs", load(out, "probs"), ref_probs, (indices.size,))
    compare_float(rep, "output", load(out, "output"), ref_out, (L, G, S, D))


# ---------------------------------------------------------------- elsa
_U64 = (1 << 64) - 1
_POP8 = np.array([bin(i).count("1") for i in range(256)], dtype=np.int64)


def elsa_splitmix64(state):
    """One splitmix64 step: returns (new state, output)."""
    state = (state + 0x9E3779B97F4A7C15) & _U64
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _U64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _U64
    return state, z ^ (z >> 31)


def elsa_projection(k, d, seed):
    """src/kernels/elsa.cpp elsa_projection: splitmix64(seed), per entry
    u = ((x >> 11) + 1) * 2^-53 twice, z = sqrt(-2 ln u1) * cos((2 pi) u2) in
    double, rounded to float32, row-major (math.* is the C library's, as the
    simulator's)."""
    state = int(seed) & _U64
    out = np.empty(k * d, np.float32)
    for e in range(k * d):
        state, x1 = elsa_splitmix64(state)
        state, x2 = elsa_splitmix64(state)
        u1 = ((x1 >> 11) + 1) * 2.0 ** -53
        u2 = ((x2 >> 11) + 1) * 2.0 ** -53
        out[e] = np.float32(math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2))
    return out.reshape(k, d)


def elsa_cos_table(k):
    """llround(cos((pi * h) / k) * 32768), h = 0..k (halves away from zero)."""
    table = []
    for h in range(k + 1):
        x = math.cos(math.pi * h / k) * 32768.0
        r = math.floor(x)
        frac = x - r
        table.append(int(r + 1 if frac > 0.5 or (frac == 0.5 and x >= 0) else r))
    return table


def elsa_hash(x, proj):
    """Hash words [..., W] (uint64) and norms [...] (float64) of the rows of x
    [..., D]: bit t = 1 iff sum_j A[t][j] * x[j] >= 0, summed in float64 in j
    order (one rounding per product and per addition: numpy does not fuse
    them), bit t in word t // 64 at position t % 64; norm = sqrt(sum_j x_j^2)
    likewise."""
    k, d = proj.shape
    x64 = np.asarray(x, np.float32).astype(np.float64)
    a64 = proj.astype(np.float64)
    acc = np.zeros(x64.shape[:-1] + (k,))
    sq = np.zeros(x64.shape[:-1])
    for j in range(d):
        xj = x64[..., j]
        acc = acc + xj[..., None] * a64[:, j]
        sq = sq + xj * xj
    words = (k + 63) // 64
    bits = np.zeros(x64.shape[:-1] + (words * 64,), dtype=bool)
    bits[..., :k] = acc >= 0.0
    packed = np.packbits(bits, axis=-1, bitorder="little")  # bit t -> byte t // 8, bit t % 8
    hashes = np.ascontiguousarray(packed).view("<u8")        # byte b -> word b // 8, bits 8 (b % 8) ..
    return hashes, np.sqrt(sq)


def elsa_select(qh, qn, kh, kn, cos_table, log_inv_p, scale, causal):
    """One head's mask [S, S] and the keep rule's bound [S, S]: e_ij =
    c[popcount(q_i ^ k_j)] * |k_j|, m_i = max over allowed j, kept iff
    ((m_i - e_ij) * |q_i|) * scale / 32768 <= log_inv_p (float64, left to right)."""
    S = qh.shape[0]
    x = np.ascontiguousarray(qh[:, None, :] ^ kh[None, :, :])
    dist = _POP8[x.view(np.uint8)].sum(axis=-1)
    e = np.asarray(cos_table, np.int64)[dist].astype(np.float64) * kn[None, :]
    valid = causal_valid(S) if causal else np.ones((S, S), dtype=bool)
    m = np.where(valid, e, -np.inf).max(axis=-1)
    bound = (m[:, None] - e) * qn[:, None] * scale / 32768.0
    return (bound <= log_inv_p) & valid, bound


def check_elsa(meta, dump, out, rep):
    """Hashes and norms bit for bit, the mask identical (the rule is exact in
    float64: no tolerance), then scores / probs / output vs float64 on the mask."""
    L, G, S, D = meta["layers"], meta["groups"], meta["seq_len"], meta["head_dim"]
    p = meta["params"]
    k = int(p["hash_bits"])
    scale, causal = float(p["scale"]), bool(p["causal"])
    thr, log_inv_p = float(p["threshold"]), float(p["log_inv_p"])
    W = (k + 63) // 64
    proj = np.asarray(p["projection"], dtype=np.float64)
    if proj.shape != (k, D):
        rep.check("params", False, f"projection shape {proj.shape}, expected ({k}, {D})")
        return
    proj = proj.astype(np.float32)
    want_cos = elsa_cos_table(k)
    rep.check("cos_table", list(p["cos_table"]) == want_cos,
              f"{len(p['cos_table'])} entries, llround(cos(pi h / k) * 32768): "
              f"{'identical' if list(p['cos_table']) == want_cos else 'DIFFERENT'}")
    want_lip = math.log(1.0 / thr)
    rep.check("log_inv_p", abs(log_inv_p - want_lip) <= 1e-12 * max(1.0, abs(want_lip)),
              f"{log_inv_p!r} vs log(1 / threshold) = {want_lip!r}")
    regen = elsa_projection(k, D, int(p["seed"]))
    nd = int(np.count_nonzero(regen.view(np.uint32) != proj.view(np.uint32)))
    rep.info("projection vs seed", f"{nd} of {k * D} entries differ from splitmix64/Box-Muller of seed {p['seed']}")

    q, kk, v = (load(dump, n) for n in ("q", "k", "v"))
    qh, qn = elsa_hash(q, proj)
    kh, kn = elsa_hash(kk, proj)
    for name, ref in (("q_hash", qh), ("k_hash", kh)):
        got = load(out, name)
        ok = got.dtype == np.int64 and got.shape == (L, G, S, W)
        ndiff = int(np.count_nonzero(got.view(np.uint64) != ref)) if ok else -1
        rep.check(name, ok and ndiff == 0, f"{got.dtype} {got.shape}, {ndiff} of {ref.size} words differ")
    for name, ref in (("q_norm", qn), ("k_norm", kn)):
        got = load(out, name)
        ok = got.dtype == np.float64 and got.shape == (L, G, S)
        ndiff = int(np.count_nonzero(got.view(np.uint64) != ref.view(np.uint64))) if ok else -1
        rep.check(name, ok and ndiff == 0, f"{got.dtype} {got.shape}, {ndiff} of {ref.size} values differ (bits)")

    np_mask = np.zeros((L, G, S, S), dtype=bool)
    bound = np.zeros((L, G, S, S))
    for l in range(L):
        for g in range(G):
            np_mask[l, g], bound[l, g] = elsa_select(qh[l, g], qn[l, g], kh[l, g], kn[l, g], want_cos, log_inv_p,
                                                     scale, causal)
    indptr, indices, offsets = load(out, "mask_indptr"), load(out, "mask_indices"), load(out, "mask_offsets")
    if not check_csr_structure(rep, indptr, indices, offsets, L, G, S, causal):
        return
    gpu_mask, pos = csr_to_dense(indptr, indices, offsets, L, G, S)
    diff = gpu_mask != np_mask
    ndiff = int(np.count_nonzero(diff))
    allowed = int(np.count_nonzero(causal_valid(S))) * L * G if causal else L * G * S * S
    detail = (f"gpu nnz {int(gpu_mask.sum())}, numpy nnz {int(np_mask.sum())} of {allowed} allowed "
              f"(density {np_mask.sum() / allowed:.4f}); {ndiff} entries differ")
    if ndiff:
        margin = np.abs(bound[diff] - log_inv_p)
        detail += f" (closest to the bound: {float(margin.min()):.3e})"
    rep.check("mask vs numpy selection", ndiff == 0, detail)

    # the exact pass on the GPU's own mask
    q64, k64, v64 = (x.astype(np.float64) for x in (q, kk, v))
    s64 = np.einsum("lgid,lgjd->lgij", q64, k64) * scale
    probs64 = np.nan_to_num(softmax64(s64, gpu_mask))
    out64 = np.einsum("lgij,lgjd->lgid", probs64, v64)
    flat = pos[gpu_mask]
    ref_scores = np.empty(indices.size)
    ref_scores[flat] = s64[gpu_mask]
    ref_probs = np.empty(indices.size)
    ref_probs[flat] = probs64[gpu_mask]
    compare_float(rep, "scores", load(out, "scores"), ref_scores, (indices.size,))
    compare_float(rep, "probs", load(out, "probs"), ref_probs, (indices.size,))
    compare_float(rep, "output", load(out, "output"), out64, (L, G, S, D))

    # information: the simulator's results in the dump against the GPU's
    for name in ("q_hash", "k_hash", "q_norm", "k_norm"):
        path = os.path.join(dump, name + ".npy")
        if os.path.exists(path):
            a, b = np.load(path), load(out, name)
            same = a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a.view(np.uint64), b.view(np.uint64))
            rep.info(f"simulator {name} vs gpu", "identical" if same else "DIFFERENT")
    try:
        s_indptr, s_indices, s_offsets = (load(dump, n) for n in ("mask_indptr", "mask_indices", "mask_offsets"))
        sim_mask, _ = csr_to_dense(s_indptr, s_indices, s_offsets, L, G, S)
        agree = int(np.count_nonzero(sim_mask & gpu_mask))
        un = int(np.count_nonzero(sim_mask | gpu_mask))
        so = load(dump, "output")
        rep.info("simulator vs gpu",
                 f"mask identical {agree} of {un} (agreement {agree / un if un else 1.0:.6f}, "
                 f"{int(np.count_nonzero(sim_mask != gpu_mask))} entries differ); output rel norm err "
                 f"{rel_norm(so, load(out, 'output')):.3e}, max abs err {elem_err(so, load(out, 'output'))[0]:.3e}")
    except FileNotFoundError:
        pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dump_dir")
    ap.add_argument("gpu_out_dir")
    ap.add_argument("--json", help="also write the report as JSON")
    a = ap.parse_args()
    with open(os.path.join(a.dump_dir, "meta.json")) as f:
        meta = json.load(f)
    rep = Report()
    gm = os.path.join(a.gpu_out_dir, "meta.json")
    if os.path.exists(gm):
        with open(gm) as f:
            gmeta = json.load(f)
        rep.check("meta", gmeta.get("format") == "attnsim-gpu" and gmeta.get("algorithm") == meta["algorithm"]
                  and gmeta.get("dump_meta") == meta,
                  f"format {gmeta.get('format')}, algorithm {gmeta.get('algorithm')}, dump_meta verbatim: "
                  f"{gmeta.get('dump_meta') == meta}")
    algo = meta["algorithm"]
    if algo == "dense":
        check_dense(meta, a.dump_dir, a.gpu_out_dir, rep)
    elif algo == "sanger":
        check_sanger(meta, a.dump_dir, a.gpu_out_dir, rep)
    elif algo == "spatten_pruner":
        check_spatten(meta, a.dump_dir, a.gpu_out_dir, rep)
    elif algo == "pattern_detector":
        check_pattern_detector(meta, a.dump_dir, a.gpu_out_dir, rep)
    elif algo == "elsa":
        check_elsa(meta, a.dump_dir, a.gpu_out_dir, rep)
    else:
        rep.check("algorithm", False, f"no numpy reference for '{algo}'")
    status = "PASS" if not rep.failures else "FAIL (" + ", ".join(rep.failures) + ")"
    print(f"check {a.gpu_out_dir} ({algo}, {meta['layers']}x{meta['groups']} heads, S={meta['seq_len']}, "
          f"D={meta['head_dim']}): {status}")
    print("\n".join(rep.lines))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"dump": a.dump_dir, "gpu_out": a.gpu_out_dir, "algorithm": algo,
                       "pass": not rep.failures, "checks": rep.data}, f, indent=2)
    return 0 if not rep.failures else 1


if __name__ == "__main__":
    sys.exit(main())
