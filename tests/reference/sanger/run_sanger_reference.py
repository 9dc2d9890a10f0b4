#!/usr/bin/env python3
"""Reference facts for the Sanger model, produced by RUNNING Sanger's public code.

Nothing of hatsu3/Sanger is copied here: the script imports their modules from
a checkout given by --sanger-repo and calls them on attnsim's captured MiniLM
Q/K. What is theirs and what is ours:

Theirs (called):
  * modeling_bert.BertSelfAttention.forward (modeling_bert.py:259-289): the
    whole prediction path: quant_qk_matmul (modeling_sanger_spattn.py:103-116)
    with QuantizedMatMul (quant_utils.py:437-476, built by
    build_quant_matmul, quant_utils.py:479-482), "/ math.sqrt(head_size)"
    (modeling_bert.py:282), prune_attn_scores -> gen_sparsity_mask
    (modeling_sanger_spattn.py:119-123, 82-100). The module's q/k/v Linear
    layers are replaced by modules that return the captured tensors, and
    modeling_bert's import of prune_attn_scores is wrapped to record its input
    (the predicted scores) and output (the additive -10000 mask).
    modeling_bert imports transformers 4.7 (its file_utils, modeling_utils,
    ...), which cannot be installed on Python 3.11; when `transformers` does
    not import, those names are stubbed (none is used by BertSelfAttention).
  * QuantizedMatMul runs in training mode for its first (and only) step, so
    its EMA clipping thresholds are filled with abs().max() of the inputs
    (quant_utils.py:456-459, 469-474): the calibrated value a fine-tuned
    checkpoint starts from. In eval mode without a checkpoint the thresholds
    are 0 and the scale 7/0 = inf.
  * _eval_load_balance and _eval_overall_sparsity
    (modeling_sanger_spattn.py:18-70, 73-79), called with the arguments of
    gen_sparsity_mask's LOG_LOAD_BALANCE block (lines 88-95), per layer (all
    heads, as their log does) and per head.
  * bench_sanger_v2.calc_sanger_latency (bench_sanger_v2.py:7-54) on the
    per-layer density and load balance. To expose its intermediate values the
    function's own source is executed with its final `return` replaced by one
    returning its locals (checked equal to the unmodified function), and a
    second variant substitutes QKV_WIDTH = 768 -> 384 (MiniLM's hidden size).
  * quant_utils.quantize / get_scale to obtain the 4-bit integers that
    _fake_quantize uses internally (hashed for the C++ side).

Ours: the workload loading, the FNV-1a hashes (attnsim's functional/util/hash.h
fnv1a + hex64), exact integer counts of segments / sub-rows (same definition
as _eval_load_balance, which only returns a ratio), and independent
recomputations of the prediction (predict_recompute) that tell the C++ side
which arithmetic reproduces their masks bit for bit: "f32quant_f64rest"
(torch's float32 norm and quantiser, then float64) does, on every head;
"all_f64" and a per-head absmax scope do not (counts recorded).

Output layout: see the "layout" and "semantics" entries of the JSON.

Run (needs torch, numpy; pandas for bench_sanger_v2's import):
  python tests/reference/sanger/run_sanger_reference.py \
      --sanger-repo /tmp/sanger-src --sanger-commit <sha> \
      --workload workloads/minilm_s128.json workloads/minilm_s256.json \
      --out tests/reference/facts/sanger_minilm.json
"""
import argparse
import hashlib
import importlib
import inspect
import json
import logging
import math
import os
import subprocess
import sys
import types

import numpy as np

FNV_OFFSET = 1469598103934665603
FNV_PRIME = 1099511628211
MASK64 = (1 << 64) - 1

SCRIPTS = ["modeling_sanger_spattn.py", "quant_utils.py", "modeling_bert.py", "bench_sanger_v2.py"]
LB_KEYS = [  # (csv column of their log, num_pes, no_skip), modeling_sanger_spattn.py:15, 91-94
    ("50%-no-skip", 32, True),
    ("50%-skip", 32, False),
    ("25%-no-skip", 16, True),
    ("25%-skip", 16, False),
]


def fnv1a64(data: bytes) -> str:
    h = FNV_OFFSET
    for b in data:
        h ^= b
        h = (h * FNV_PRIME) & MASK64
    return f"{h:016x}"


def sha256_file(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


# --------------------------------------------------------------------------
# importing their code
# --------------------------------------------------------------------------
def _install_transformers_stub():
    """Minimal stand-ins for the transformers 4.7 names modeling_bert imports.

    None of them is used by BertSelfAttention; they only let the module load.
    """

    def deco_factory(*_a, **_k):
        return lambda f: f

    class _Any:
        def __init__(self, *a, **k):
            pass

    def mod(name, **attrs):
        m = types.ModuleType(name)
        m.__dict__.update(attrs)
        sys.modules[name] = m
        return m

    import torch.nn as nn

    class PreTrainedModel(nn.Module):
        pass

    def _unused(*_a, **_k):
        raise NotImplementedError("transformers stub")

    t = mod("transformers", __path__=[], __stub__=True)
    t.activations = mod("transformers.activations", ACT2FN={})
    t.file_utils = mod(
        "transformers.file_utils",
        ModelOutput=type("ModelOutput", (object,), {}),
        add_code_sample_docstrings=deco_factory,
        add_start_docstrings=deco_factory,
        add_start_docstrings_to_model_forward=deco_factory,
        replace_return_docstrings=deco_factory,
    )
    mo = mod("transformers.modeling_outputs")
    mo.__getattr__ = lambda name: type(name, (_Any,), {})
    t.modeling_outputs = mo
    t.modeling_utils = mod(
        "transformers.modeling_utils",
        PreTrainedModel=PreTrainedModel,
        apply_chunking_to_forward=_unused,
        find_pruneable_heads_and_indices=_unused,
        prune_linear_layer=_unused,
    )
    u = mod("transformers.utils", __path__=[])
    u.logging = mod("transformers.utils.logging", get_logger=logging.getLogger)
    t.utils = u
    t.models = mod("transformers.models", __path__=[])
    t.models.bert = mod("transformers.models.bert", __path__=[])
    t.models.bert.configuration_bert = mod(
        "transformers.models.bert.configuration_bert", BertConfig=type("BertConfig", (object,), {})
    )


def import_sanger(repo):
    sys.path.insert(0, os.path.abspath(repo))
    os.environ.pop("LOG_LOAD_BALANCE", None)  # their log opens load_balance.csv in cwd
    sanger = importlib.import_module("modeling_sanger_spattn")
    quant = importlib.import_module("quant_utils")
    bench = importlib.import_module("bench_sanger_v2")
    stubbed = False
    try:
        import transformers  # noqa: F401
        from transformers.file_utils import ModelOutput  # noqa: F401
    except Exception:
        for k in [k for k in sys.modules if k == "transformers" or k.startswith("transformers.")]:
            del sys.modules[k]
        _install_transformers_stub()
        stubbed = True
    bert = importlib.import_module("modeling_bert")
    return sanger, quant, bench, bert, stubbed


# --------------------------------------------------------------------------
# bench_sanger_v2, instrumented
# --------------------------------------------------------------------------
def make_bench_variants(bench):
    src = inspect.getsource(bench.calc_sanger_latency)
    ret = "    return LAT_linear + LAT_final / FREQUENCY + LAT_project\n"
    assert src.count(ret) == 1, "bench_sanger_v2.calc_sanger_latency changed"
    src = src.replace(ret, "    return dict(locals(), total=LAT_linear + LAT_final / FREQUENCY + LAT_project)\n")
    variants = {}
    for name, s in [("as_published", src), ("qkv_width_384", src.replace("QKV_WIDTH = 768", "QKV_WIDTH = 384"))]:
        if name == "qkv_width_384":
            assert s != src
        ns = {}
        exec(compile(s, bench.__file__, "exec"), ns)
        variants[name] = ns["calc_sanger_latency"]
    return variants


def run_bench(bench, variants, density, lb, seq_len):
    out = {}
    ref = bench.calc_sanger_latency(density, lb, seq_len)
    for name, fn in variants.items():
        d = fn(density, lb, seq_len)
        if name == "as_published":
            assert d["total"] == ref
        out[name] = {
            "QKV_WIDTH": d["QKV_WIDTH"],
            "num_subrows": d["num_subrows"],
            "LAT_Qt_Kt_cycles": d["LAT_Qt_Kt"],
            "LAT_St_Vt_cycles": d["LAT_St_Vt"],
            "LAT_TH_SEQL_output_tile_cycles": d["LAT_TH_SEQL_output_tile"],
            "transfer_coeff": d["transfer_coeff"],
            "attention_cycles": d["LAT_final"],
            "linear_qkv_cycles": d["LAT_linear"] * d["FREQUENCY"],
            "out_project_cycles": d["LAT_project"] * d["FREQUENCY"],
            "total_seconds": d["total"],
            "total_cycles": d["total"] * d["FREQUENCY"],
        }
    return out


# --------------------------------------------------------------------------
# workload
# --------------------------------------------------------------------------
def load_workload(path):
    with open(path) as f:
        w = json.load(f)
    base = os.path.dirname(os.path.abspath(path))
    arrs, files = {}, []
    for key in ("q", "k"):
        p = os.path.join(base, w["data"][key])
        a = np.load(p)
        assert a.shape == (w["layers"], w["heads"], w["seq_len"], w["head_dim"]), a.shape
        arrs[key] = a
        files.append({"file": os.path.relpath(p, os.getcwd()), "sha256": sha256_file(p),
                      "dtype": str(a.dtype), "shape": list(a.shape), "layout": "[layer, head, token, dim]"})
    assert w.get("batch", 1) == 1 and not w.get("causal", False)
    return w, arrs, files


def _fixed_module(torch, t):
    """Stand-in for a Linear: an nn.Module returning a fixed [1, seq, hidden] tensor."""

    class Fixed(torch.nn.Module):
        def forward(self, _x):
            return t

    return Fixed()


# --------------------------------------------------------------------------
# segment counts (our own, same definition as _eval_load_balance)
# --------------------------------------------------------------------------
def segment_counts(mask_u8, width, pes):
    seg = mask_u8.reshape(-1, width).sum(axis=1).astype(np.int64)
    nonempty = seg[seg > 0]
    return {
        "segments": int(seg.size),
        "empty_segments": int((seg == 0).sum()),
        "nonempty_segments": int(nonempty.size),
        "subrows": int(((nonempty + pes - 1) // pes).sum()),
        "full_subrows": int((nonempty // pes).sum()),
        "nnz": int(seg.sum()),
    }


# --------------------------------------------------------------------------
# independent recomputation (ours), to tell the C++ side which arithmetic
# details decide the mask
# --------------------------------------------------------------------------
def torch_cpu_norm32(x):
    """float32 L2 norm over the last axis (length 32) in the order observed for
    torch 2.15 CPU `Tensor.norm(dim=-1)` (checked bit-exact on all four Q/K
    arrays): lane l = ((x[l]^2 + x[l+8]^2) + x[l+16]^2) + x[l+24]^2 for
    l = 0..7, then lane0 + lane1 + ... + lane7 left to right, then sqrt; every
    step rounded to float32 (x^2 of a float16 value is exact in float32)."""
    assert x.shape[-1] == 32 and x.dtype == np.float32
    sq = x * x
    lanes = sq[..., 0:8]
    for c in range(1, 4):
        lanes = lanes + sq[..., 8 * c:8 * c + 8]
    s = lanes[..., 0]
    for i in range(1, 8):
        s = s + lanes[..., i]
    return np.sqrt(s)[..., None]


def predict_recompute(q16, k16, bits, normalize, quant="f32", scope="layer"):
    """q16, k16: [heads, seq, d] arrays as stored (float16).

    quant="f32": the quantiser in float32 exactly as torch evaluates
      quant_utils.quantize: scale = f32(f32(1 / absmax) * 7), v = f32(x * scale),
      round half to even, clamp; norms (normalised mode) as torch_cpu_norm32,
      x / norm in float32.
    quant="f64": everything in float64.
    After the integers: s = (qi . ki) / (sq * sk) [* |q| |k|] / sqrt(d),
    softmax, all in float64.
    Returns probs [heads, seq, seq], qi, ki (int8).
    """
    ft = np.float32 if quant == "f32" else np.float64
    q, k = q16.astype(ft), k16.astype(ft)
    d = q.shape[-1]
    qm = ft(2 ** (bits - 1) - 1)
    if normalize:
        if quant == "f32":
            qn, kn = torch_cpu_norm32(q), torch_cpu_norm32(k)
        else:
            qn = np.sqrt((q ** 2).sum(axis=-1, keepdims=True))
            kn = np.sqrt((k ** 2).sum(axis=-1, keepdims=True))
        qx, kx = q / qn, k / kn
    else:
        qx, kx = q, k
    axes = None if scope == "layer" else (1, 2)
    if quant == "f32":
        # get_scale: `7 / thresh` with a tensor thresh is Tensor.__rdiv__ =
        # thresh.reciprocal() * 7, i.e. f32(f32(1 / thresh) * 7)
        sq = (ft(1) / np.abs(qx).max(axis=axes, keepdims=scope != "layer")) * qm
        sk = (ft(1) / np.abs(kx).max(axis=axes, keepdims=scope != "layer")) * qm
    else:
        sq = qm / np.abs(qx).max(axis=axes, keepdims=scope != "layer")
        sk = qm / np.abs(kx).max(axis=axes, keepdims=scope != "layer")
    qi = np.clip(np.round(qx * sq), -qm, qm)
    ki = np.clip(np.round(kx * sk), -qm, qm)
    acc = np.einsum("hid,hjd->hij", qi.astype(np.float64), ki.astype(np.float64))
    s = acc / (np.float64(sq) * np.float64(sk))
    if normalize:
        s = s * (qn.astype(np.float64) * np.swapaxes(kn.astype(np.float64), -1, -2))
    s = s / math.sqrt(d)
    s = s - s.max(axis=-1, keepdims=True)
    e = np.exp(s)
    p = e / e.sum(axis=-1, keepdims=True)
    return p, qi.astype(np.int8), ki.astype(np.int8)


# --------------------------------------------------------------------------
def run_layer(torch, sanger, quant, bert, q, k, bits, threshold, normalize):
    """q, k: float32 torch [heads, seq, d]. Runs their BertSelfAttention."""
    heads, seq, d = q.shape
    cfg = types.SimpleNamespace(
        hidden_size=heads * d, num_attention_heads=heads, attention_probs_dropout_prob=0.0,
        quant_qk={"method": "sym", "bitwidth": bits},
        prune_score={"method": "probablity_threshold", "threshold": threshold},
    )
    if normalize:
        cfg.normalize_qk = "inner_product"
    attn = bert.BertSelfAttention(cfg)
    # [heads, seq, d] -> [1, seq, heads*d] (inverse of transpose_for_scores)
    attn.query = _fixed_module(torch, q.permute(1, 0, 2).reshape(1, seq, heads * d))
    attn.key = _fixed_module(torch, k.permute(1, 0, 2).reshape(1, seq, heads * d))
    attn.value = _fixed_module(torch, torch.zeros(1, seq, heads * d))
    attn.eval()
    attn.quant_matmul.train()  # first EMA step: thresholds = abs().max()

    rec = {}

    def qm_hook(_m, inputs, _out):
        rec["x"], rec["y"] = inputs[0].detach().clone(), inputs[1].detach().clone()

    h = attn.quant_matmul.register_forward_hook(qm_hook)
    orig = bert.prune_attn_scores

    def wrapped(attn_scores, attn_mask, config):
        out = orig(attn_scores, attn_mask, config)
        rec["scores"], rec["attn_mask"], rec["sparsity_mask"] = attn_scores.detach().clone(), attn_mask, out
        return out

    bert.prune_attn_scores = wrapped
    try:
        ext_mask = torch.zeros(1, 1, 1, seq)  # BERT extended attention mask: no padding
        with torch.no_grad():
            attn(torch.zeros(1, seq, heads * d), ext_mask)
    finally:
        bert.prune_attn_scores = orig
        h.remove()

    kept = rec["sparsity_mask"] == 0  # (1 - m) * -10000: kept -> (-)0.0, pruned -> -10000
    thr_x = attn.quant_matmul.input_x_thresh.clone()
    thr_y = attn.quant_matmul.input_y_thresh.clone()
    # integers inside _fake_quantize (quant_utils.py:461-465)
    qi = quant.quantize(rec["x"], quant.get_scale(bits, thr_x), bits)[0]          # [h, seq, d]
    ki = quant.quantize(rec["y"], quant.get_scale(bits, thr_y), bits)[0].transpose(-1, -2)  # [h, seq, d]
    probs = torch.softmax(rec["scores"] + rec["attn_mask"], dim=-1)  # = line 83
    assert torch.equal(probs > threshold, kept)
    # LOG_LOAD_BALANCE block arguments (modeling_sanger_spattn.py:88-89)
    lb_mask = (rec["attn_mask"] > -1).float()
    lb_mask = lb_mask * lb_mask.permute(0, 1, 3, 2)
    fmask = kept.float()  # line 85: type_as(attention_scores)
    return {
        "kept": kept[0].numpy().astype(np.uint8),
        "fmask": fmask,
        "lb_mask": lb_mask,
        "probs": probs[0].double().numpy(),
        "thr_x": float(thr_x), "thr_y": float(thr_y),
        "scale_x": float(quant.get_scale(bits, thr_x)), "scale_y": float(quant.get_scale(bits, thr_y)),
        "qi": qi.to(torch.int8).numpy(), "ki": ki.to(torch.int8).numpy(),
        "steps": float(attn.quant_matmul._step),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sanger-repo", required=True)
    ap.add_argument("--sanger-commit", default=None, help="commit of the checkout (read with git if omitted)")
    ap.add_argument("--workload", nargs="+", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--threshold", type=float, default=2e-3)
    ap.add_argument("--bits", type=int, default=4)
    ap.add_argument("--segment-width", type=int, default=64)
    ap.add_argument("--fragile-rel", type=float, default=1e-5,
                    help="|P - T| / T below which an entry is listed as fragile")
    args = ap.parse_args()

    import torch
    torch.set_num_threads(1)  # deterministic reductions
    sanger, quant, bench, bert, stubbed = import_sanger(args.sanger_repo)
    variants = make_bench_variants(bench)

    commit = args.sanger_commit
    if commit is None:
        commit = subprocess.check_output(["git", "-C", args.sanger_repo, "rev-parse", "HEAD"], text=True).strip()
    try:
        import pandas
        pandas_v = pandas.__version__
    except Exception:
        pandas_v = None

    T, bits, W = args.threshold, args.bits, args.segment_width
    T32 = float(torch.tensor(T, dtype=torch.float32))
    facts = {
        "provenance": {
            "repository": "hatsu3/Sanger",
            "commit": commit,
            "scripts": [{"file": s, "sha256": sha256_file(os.path.join(args.sanger_repo, s))} for s in SCRIPTS],
            "called": [
                "modeling_bert.BertSelfAttention.forward (lines 259-289; q/k/v Linear replaced by the captured tensors)",
                "modeling_sanger_spattn.quant_qk_matmul / prune_attn_scores / gen_sparsity_mask (inside forward)",
                "quant_utils.QuantizedMatMul (training mode, first step: EMA thresholds = abs().max())",
                "modeling_sanger_spattn._eval_load_balance, _eval_overall_sparsity (arguments as lines 88-95)",
                "bench_sanger_v2.calc_sanger_latency (its source run with locals returned; variant QKV_WIDTH=384)",
                "quant_utils.quantize, get_scale (to read the integers _fake_quantize uses)",
            ],
            "transformers": "stubbed: modeling_bert imports transformers 4.7 names that BertSelfAttention does not use"
                            if stubbed else "real",
            "inputs": [],
            "python": sys.version.split()[0],
            "python_packages": {"torch": torch.__version__, "numpy": np.__version__, "pandas": pandas_v},
            "torch_threads": torch.get_num_threads(),
            "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "runner": "tests/reference/sanger/run_sanger_reference.py",
        },
        "parameters": {
            "bits": bits, "threshold": T, "threshold_as_compared": T32,
            "segment_width": W, "pes_per_row": [16, 32],
            "modes": {"normalized": "config.normalize_qk = 'inner_product' (every config of theirs)",
                      "raw": "normalize_qk absent"},
            "bench_sanger_v2_constants": {"TH": 64, "TW": 64, "NUM_PE_PER_ROW": 16, "DATA_TYPE_bytes": 2,
                                          "FREQUENCY_hz": 1e9, "REAL_BANDWIDTH_GBps": 128,
                                          "QKV_WIDTH": "768 as published; 384 in variant qkv_width_384"},
        },
        "semantics": {
            "scores": "s = fl32(fl32(matmul(deq(Qh), deq(Kh))) * fl32(|q| * |k|)) / fl32(sqrt(d)); raw mode: no norm factor",
            "normalisation": "Qh = Q / |q| per query row, Kh = K / |k| per key (float32; modeling_sanger_spattn.py:108-111)",
            "quantiser": "per layer, one absmax over all heads and the batch, separately for Q (x) and K (y); "
                         "scale = f32(f32(1/absmax) * 7) (7/tensor is Tensor.__rdiv__ = reciprocal()*7); "
                         "int = clamp(round_half_even(f32(x * scale)), -7, 7); deq = f32(int / scale)",
            "softmax": "float32 softmax over keys of (s + attention_mask); attention_mask all 0 here",
            "threshold": "kept iff P > float32(0.002) = 0.0020000000949949026 (strict); no forced keep "
                         "(no diagonal, no row max)",
            "reproduce_exactly": "the crosscheck.f32quant_f64rest recipe (predict_recompute quant='f32': float32 "
                                 "norm as torch_cpu_norm32, float32 quantiser as above, then integer dot products, "
                                 "/ (sx*sy), * |q||k|, / sqrt(d), softmax in float64, P > float32(T)) reproduces "
                                 "every mask below bit for bit",
        },
        "layout": {
            "mask_hash": "FNV-1a 64 (offset 1469598103934665603, prime 1099511628211) over the row-major "
                         "[seq, seq] uint8 mask of one head, 1 = kept, 0 = pruned; 16 lowercase hex digits. "
                         "= attnsim::hex64(attnsim::fnv1a(bytes)) of functional/util/hash.h (note: that offset is not the "
                         "standard FNV-1a basis 14695981039346656037)",
            "qi_hash / ki_hash": "FNV-1a 64 over the row-major [token, dim] int8 4-bit integers of one head "
                                 "(K as [key, dim]), two's complement bytes",
            "lb": "value returned by their _eval_load_balance for each column of their CSV log "
                  "(50% = 32 PEs per row, 25% = 16; float32 .item())",
            "seg16 / seg32": "ours, exact, same definition: [nonempty_segments, empty_segments, subrows, full_subrows] "
                             "over the 64-wide row segments; subrows = sum ceil(nnz/P), full = sum floor(nnz/P)",
            "bench": "calc_sanger_latency(density, lb[key], seq_len) per layer; attention = LAT_final cycles, "
                     "linear = LAT_linear*1e9, project = LAT_project*1e9, total = returned seconds * 1e9",
            "crosscheck": "ours; fragile = [head, row, col, P32] with |P32 - T| <= 1e-5 T; mismatch lists "
                          "[head, row, col, P32(theirs), P(ours)]",
        },
        "workloads": {},
    }

    def bench_short(d):
        return {v: {"num_subrows": x["num_subrows"], "attention": x["attention_cycles"],
                    "linear": x["linear_qkv_cycles"], "project": x["out_project_cycles"],
                    "total": x["total_cycles"]} for v, x in d.items()}

    for wpath in args.workload:
        w, arrs, files = load_workload(wpath)
        facts["provenance"]["inputs"].append({"workload": os.path.relpath(wpath, os.getcwd()),
                                              "sha256": sha256_file(wpath), "arrays": files})
        L, H, S, D = w["layers"], w["heads"], w["seq_len"], w["head_dim"]
        wf = {"layers": L, "heads": H, "seq_len": S, "head_dim": D, "modes": {}}
        for mode, normalize in (("normalized", True), ("raw", False)):
            layers = []
            for l in range(L):
                q = torch.from_numpy(arrs["q"][l].astype(np.float32))
                k = torch.from_numpy(arrs["k"][l].astype(np.float32))
                r = run_layer(torch, sanger, quant, bert, q, k, bits, T, normalize)
                assert r["steps"] == 1.0
                seg = {p: segment_counts(r["kept"], W, p) for p in (16, 32)}
                lf = {
                    "layer": l,
                    "quant": {"x_absmax": r["thr_x"], "y_absmax": r["thr_y"],
                              "x_scale": r["scale_x"], "y_scale": r["scale_y"]},
                    "nnz": int(r["kept"].sum()),
                    "density": float(r["kept"].mean()),
                    "overall_sparsity": sanger._eval_overall_sparsity(r["fmask"], r["lb_mask"]),
                    "lb": {key: sanger._eval_load_balance(r["fmask"], r["lb_mask"], num_ports=W, num_pes=pes,
                                                          no_skip=no_skip) for key, pes, no_skip in LB_KEYS},
                }
                for p in (16, 32):
                    c = seg[p]
                    lf[f"seg{p}"] = [c["nonempty_segments"], c["empty_segments"], c["subrows"], c["full_subrows"]]
                lf["bench"] = {key: bench_short(run_bench(bench, variants, lf["overall_sparsity"], lf["lb"][key], S))
                               for key, _, _ in LB_KEYS}
                # our recomputations (see predict_recompute)
                ql, kl = arrs["q"][l], arrs["k"][l]
                p_r, qi_r, ki_r = predict_recompute(ql, kl, bits, normalize, quant="f32")
                p_d, qi_d, ki_d = predict_recompute(ql, kl, bits, normalize, quant="f64")
                p_h, _, _ = predict_recompute(ql, kl, bits, normalize, quant="f32", scope="head")
                kb = r["kept"].astype(bool)
                m_r, m_d, m_h = p_r > T32, p_d > T32, p_h > T32
                probs = r["probs"]
                lf["crosscheck"] = {
                    "min_rel_margin": float(np.min(np.abs(probs - T32)) / T),
                    "fragile": [[int(h), int(i), int(j), float(probs[h, i, j])]
                                for h, i, j in np.argwhere(np.abs(probs - T32) <= args.fragile_rel * T)],
                    "f32quant_f64rest": {
                        "int_mismatch": int((qi_r != r["qi"]).sum() + (ki_r != r["ki"]).sum()),
                        "mask_mismatch": [[int(h), int(i), int(j), float(probs[h, i, j]), float(p_r[h, i, j])]
                                          for h, i, j in np.argwhere(m_r != kb)],
                    },
                    "all_f64": {"int_mismatch": int((qi_d != r["qi"]).sum() + (ki_d != r["ki"]).sum()),
                                "mask_mismatch": int((m_d != kb).sum())},
                    "per_head_absmax": {"nnz": int(m_h.sum()), "mask_mismatch": int((m_h != kb).sum())},
                }
                lf["heads"] = []
                for hh in range(H):
                    kept = np.ascontiguousarray(r["kept"][hh])
                    fm = r["fmask"][:, hh:hh + 1]
                    hf = {
                        "head": hh,
                        "nnz": int(kept.sum()),
                        "mask_hash": fnv1a64(kept.tobytes()),
                        "qi_hash": fnv1a64(np.ascontiguousarray(r["qi"][hh]).tobytes()),
                        "ki_hash": fnv1a64(np.ascontiguousarray(r["ki"][hh]).tobytes()),
                        "empty_rows": int((kept.sum(axis=1) == 0).sum()),
                        "lb": {key: sanger._eval_load_balance(fm, r["lb_mask"], num_ports=W, num_pes=pes,
                                                              no_skip=no_skip) for key, pes, no_skip in LB_KEYS},
                    }
                    for p in (16, 32):
                        c = segment_counts(kept, W, p)
                        hf[f"seg{p}"] = [c["nonempty_segments"], c["empty_segments"], c["subrows"], c["full_subrows"]]
                    lf["heads"].append(hf)
                layers.append(lf)
                print(f"{w['name']} {mode} layer {l}: density {lf['density']:.4f} "
                      f"lb25skip {lf['lb']['25%-skip']:.4f}", file=sys.stderr)
            # totals: as their main() (mean of the logged rows, one latency) and as a sum over layers
            mean = {key: float(np.mean([x["lb"][key] for x in layers])) for key, _, _ in LB_KEYS}
            mean_d = float(np.mean([x["overall_sparsity"] for x in layers]))
            tot = {
                "nnz": int(sum(x["nnz"] for x in layers)),
                "density": float(sum(x["nnz"] for x in layers)) / (L * H * S * S),
                "mean_layer_overall_sparsity": mean_d,
                "mean_layer_lb": mean,
                "bench_main_style": {key: bench_short(run_bench(bench, variants, mean_d, mean[key], S))
                                     for key, _, _ in LB_KEYS},
                "bench_sum_over_layers": {
                    key: {v: {f: float(sum(x["bench"][key][v][f] for x in layers))
                              for f in ("attention", "linear", "project", "total")} for v in variants}
                    for key, _, _ in LB_KEYS},
            }
            for p in (16, 32):
                tot[f"seg{p}"] = [int(sum(x[f"seg{p}"][i] for x in layers)) for i in range(4)]
            wf["modes"][mode] = {"layers": layers, "total": tot}
        facts["workloads"][w["name"]] = wf

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        f.write(dump_compact(facts))


def dump_compact(obj):
    """JSON with one head (and each short list / flat object) per line."""
    return _collapse(obj, 0) + "\n"


def _collapse(o, ind):
    pad = " " * ind
    if isinstance(o, dict):
        if "head" in o or (len(json.dumps(o)) <= 240
                           and all(not isinstance(v, (dict, list)) or _small(v) for v in o.values())):
            return json.dumps(o)
        items = [f'{pad} {json.dumps(k)}: {_collapse(v, ind + 1)}' for k, v in o.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(o, list):
        if _small(o):
            return json.dumps(o)
        items = [f"{pad} {_collapse(v, ind + 1)}" for v in o]
        return "[\n" + ",\n".join(items) + "\n" + pad + "]"
    return json.dumps(o)


def _small(v):
    return len(json.dumps(v)) <= 100 and not (isinstance(v, list) and any(isinstance(x, dict) for x in v))


if __name__ == "__main__":
    main()
