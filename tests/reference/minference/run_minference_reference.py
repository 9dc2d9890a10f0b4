#!/usr/bin/env python3
"""Reference index sets for attnsim's MInference-style pattern detector,
produced by RUNNING microsoft/MInference's Python code on CPU.

Nothing of MInference is copied here: its files are read from the checkout
given by --minference-repo and executed. What is theirs and what is ours:

Theirs (executed from their files):
  * minference/modules/minference_forward.py
      - `minference_prefill_kernel` (the current prefill path): its inner
        `vertical_and_slash_kernel` (last_q = min(64, L), causal inside the
        last 64x64 via LAST_Q_MASK, / sqrt(head_dim), softmax fp32, column
        sums with [:30] forced, diagonal sums with the last 100 forced,
        torch.topk) and `block_sparse_kernel` (top-k = 100) and the
        "stream_llm" dispatch (streaming_forward(q, k, v, v_size, s_size)).
      - `sum_all_diagonal_matrix`.
      - the module-level statement `LAST_Q_MASK = arange[...] >= arange[...]`.
    That module cannot be imported on a CPU-only machine (module level
    `torch.arange(last_q, device="cuda")`, transformers/vllm imports), so the
    three definitions above are taken from its AST and executed unchanged in a
    namespace where `arange = torch.arange(64)` lives on the CPU (shim) and
    `vertical_slash_sparse_attention` / `block_sparse_attention` /
    `streaming_forward` are their own functions from minference/ops (below),
    wrapped only to record their arguments.
  * minference/ops/pit_sparse_flash_attention_v2.py, imported as a module:
    `vertical_slash_sparse_attention` (padding, v_idx ascending / s_idx
    descending sort, the convert call, the Triton kernel
    `_triton_mixed_sparse_attn_fwd_kernel`). Its `from ..cuda import
    convert_vertical_slash_indexes` is the CUDA extension
    (csrc/vertical_slash_index.cu), which has no Python/PyTorch version in
    their repository: it is REIMPLEMENTED here (`convert_vs_index` below, from
    reading vertical_slash_index.cu:21-99) and injected as `minference.cuda`.
    sgl_kernel / vllm are absent, so their `_opt` path is off (as on any
    install without them).
  * minference/ops/block_sparse_flash_attention.py, imported as a module:
    `block_sparse_attention` (padding), `_build_block_index` (mean pooling,
    causal mask, torch.topk, sort) and the Triton kernel
    `_triton_block_sparse_attn_fwd_kernel`.
  * minference/ops/streaming_kernel.py, imported as a module:
    `streaming_forward` and its Triton kernels (A-shape).
  * minference/ops/pit_sparse_flash_attention.py (v1, not importable: pycuda,
    flash_attn): `torch_build_index` and `make_finegrained_mask` taken from its
    AST and executed, as cross-checks of the element sets.
  The Triton kernels run in Triton's CPU interpreter (TRITON_INTERPRET=1),
  only in the kernel checks (--kernel-checks), on fp16 copies of the inputs
  (their kernels cast Q to fp16/bf16 for tl.dot). `triton.autotune` is made a
  no-op (the autotuner benchmarks on a GPU; its configs only set num_warps /
  num_stages) and `torch.cuda.device` a null context (streaming_kernel enters
  it around each launch). In the index pass the attention kernels are
  replaced by stubs that return zeros: only the indices are wanted there.

Ours: the input generator (a documented 64-bit LCG, reproducible in C++),
the reimplemented convert_vertical_slash_indexes, the dense masked reference
attention of the kernel checks, boundary margins, and the JSON layout.

Output: tests/reference/facts/minference_index_sets.json (see "layout" in it).

Setup (PyPI only):
  python3 -m venv /tmp/venv-minf
  /tmp/venv-minf/bin/pip install torch "numpy==2.2.6" "triton==3.5.1"
    (pip warns that torch pins another triton; the index pass needs no
    Triton kernels. The interpreter of triton 3.9 has dropped block
    pointers, which streaming_kernel uses, and numpy >= 2.4 breaks the
    interpreter of 3.5.1.)
Run:
  /tmp/venv-minf/bin/python tests/reference/minference/run_minference_reference.py \
      --minference-repo /tmp/minference-src --commit <sha> [--kernel-checks]
"""
import argparse
import ast
import contextlib
import hashlib
import importlib.util
import json
import math
import os
import platform
import sys
import types

# Must be set before triton is imported (their ops modules import it).
os.environ.setdefault("TRITON_INTERPRET", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

BLOCK = 64
HEAD_DIM = 64

# ---------------------------------------------------------------------------
# Input generator (ours). Documented so that C++ can rebuild the same Q/K/V.
# ---------------------------------------------------------------------------
LCG_A = 6364136223846793005
LCG_C = 1442695040888963407
MASK64 = (1 << 64) - 1

GENERATOR_DOC = {
    "name": "lcg64-grid16",
    "state_update": "state = (state * 6364136223846793005 + 1442695040888963407) mod 2^64; every draw updates first, then reads the new state",
    "seed": "state0 = 1000003 * seq + head (uint64)",
    "noise_value": "r = state >> 59 (top 5 bits, 0..31); value = (r - 16) / 16, in [-1, 0.9375]",
    "sign_value": "bit = state >> 63; sign = bit ? -1 : +1",
    "draw_order": [
        "1. Qn[i][d], i = 0..seq-1, d = 0..63 (row-major), noise_value",
        "2. Kn[j][d], same order, noise_value",
        "3. Vn[j][d], same order, noise_value (V is used only by the kernel checks)",
        "4. sv[d], d = 0..7, sign_value",
        "5. F0[t][d], t = 0..2*seq-1, d = 0..15, sign_value",
        "6. F1[t][d], t = 0..2*seq-1, d = 0..15, sign_value",
        "every draw is made for every head whatever is planted",
    ],
    "assembly": [
        "Q = Qn, K = Kn, V = Vn (float32; every value is a multiple of 1/16 with |x| <= 2, exact in fp16 and float32)",
        "if the head plants verticals PV: Q[i][d] = 1.5 * sv[d] for all i, d in 0..7; K[j][d] = 2 * sv[d] for j in PV, 0 for the other j, d in 0..7",
        "if the head plants slash offset o_g (g = 0, 1): Q[i][8+16g+d] = F_g[i][d]; K[j][8+16g+d] = 1.5 * F_g[j + o_g][d], d in 0..15",
        "dims 40..63 are always noise",
    ],
    "why": "Q.K^T is a multiple of 1/256 below 2^11 in magnitude: exact in float32 in any summation order, so attnsim and torch get the same logits; / 8 (= 1/sqrt(64)) is exact too",
    "checks": "checksums per head: sum and sum of squares of 16*Q, 16*K, 16*V as integers, and sha256 of 16*Q, 16*K as little-endian int8 arrays [seq][64]",
}

# Planted structure per (seq, head): verticals (key columns) and slash offsets (i - j).
PLANTS = {
    1024: [
        {"verticals": [77, 301, 555, 812], "slash_offsets": []},
        {"verticals": [], "slash_offsets": [150, 420]},
        {"verticals": [45, 600, 900], "slash_offsets": [260, 700]},
        {"verticals": [], "slash_offsets": []},
    ],
    2048: [
        {"verticals": [77, 301, 1024, 1700], "slash_offsets": []},
        {"verticals": [], "slash_offsets": [150, 1300]},
        {"verticals": [45, 999, 1900], "slash_offsets": [513, 1111]},
        {"verticals": [], "slash_offsets": []},
    ],
}


class Lcg:
    def __init__(self, seed):
        self.s = seed & MASK64

    def draws(self, n):
        out = np.empty(n, dtype=np.uint64)
        s = self.s
        for t in range(n):
            s = (s * LCG_A + LCG_C) & MASK64
            out[t] = s
        self.s = s
        return out


def make_inputs(seq, head):
    g = Lcg(1000003 * seq + head)
    n = seq * HEAD_DIM

    def noise():
        r = (g.draws(n) >> np.uint64(59)).astype(np.int64)
        return ((r - 16).reshape(seq, HEAD_DIM)).astype(np.int64)  # in units of 1/16

    def signs(count):
        b = (g.draws(count) >> np.uint64(63)).astype(np.int64)
        return 1 - 2 * b

    q16, k16, v16 = noise(), noise(), noise()
    sv = signs(8)
    F = [signs(2 * seq * 16).reshape(2 * seq, 16) for _ in range(2)]
    plant = PLANTS[seq][head]
    if plant["verticals"]:
        q16[:, 0:8] = 24 * sv  # 1.5
        k16[:, 0:8] = 0
        for j in plant["verticals"]:
            k16[j, 0:8] = 32 * sv  # 2.0
    for gi, o in enumerate(plant["slash_offsets"]):
        lo = 8 + 16 * gi
        q16[:, lo:lo + 16] = 16 * F[gi][:seq]  # 1.0
        k16[:, lo:lo + 16] = 24 * F[gi][o:o + seq]  # 1.5
    def chk(a):
        return {"sum": int(a.sum()), "sum_sq": int((a * a).sum())}
    checks = {
        "q16": chk(q16), "k16": chk(k16), "v16": chk(v16),
        "sha256_q16_int8": hashlib.sha256(q16.astype("<i1").tobytes()).hexdigest(),
        "sha256_k16_int8": hashlib.sha256(k16.astype("<i1").tobytes()).hexdigest(),
        "q_first_row_x16": q16[0, :8].tolist(),
        "k_last_row_x16": k16[-1, :8].tolist(),
    }
    to_t = lambda a: torch.from_numpy(a.astype(np.float32) / 16.0)[None, None]  # [1, 1, seq, 64]
    return to_t(q16), to_t(k16), to_t(v16), checks


# ---------------------------------------------------------------------------
# convert_vertical_slash_indexes: REIMPLEMENTED from reading
# csrc/vertical_slash_index.cu:21-99 (no Python version exists in MInference).
# Same inputs/outputs as the extension: v_idx ascending, s_idx descending
# (offsets i - j), [batch, heads, nnz]; returns block_count, block_offset,
# column_count, column_index as int32 tensors, zero-padded.
# Written as: (1) the key ranges of the slashes that reach the row block,
# merged; (2) the verticals outside them that lie before the last range's end.
# ---------------------------------------------------------------------------
def vs_row_block(start_m, verticals_asc, slashes_desc, bm, bn):
    end_m = start_m + bm
    offs = [o for o in slashes_desc if o < end_m]  # .cu:65-67 skips the leading o >= end_m
    if not offs:
        raise RuntimeError("no slash reaches row block %d: the CUDA kernel reads past its input" % start_m)
    ranges = []
    cur = None
    for o in offs:  # descending offsets -> non-decreasing range ends
        e = max(end_m - o, bm)  # .cu:68,82: keys [end_m - o - bm, end_m - o), clamped to start at 0
        if cur is None:
            cur = [e - bm, e]
        elif e > cur[1] + bm:  # .cu:87-90: a gap -> a new range
            ranges.append(cur)
            cur = [e - bm, e]
        elif e > cur[1]:  # .cu:91-92: grows by one whole block, not to e
            cur[1] += bm
    ranges.append(cur)
    blocks = [x for a, b in ranges for x in range(a, b, bn)]  # save_blocks .cu:21-25
    last_end = ranges[-1][1]
    cols = [v for v in verticals_asc if v < last_end and not any(a <= v < b for a, b in ranges)]  # .cu:71-79
    return blocks, cols, ranges


def convert_vs_index(seqlens, vertical_indexes, slash_indexes, context_size, block_size_M, block_size_N):
    B, H, nnz_s = slash_indexes.shape
    nnz_v = vertical_indexes.shape[-1]
    rows = (context_size + block_size_M - 1) // block_size_M
    bc = torch.zeros((B, H, rows), dtype=torch.int32)
    bo = torch.zeros((B, H, rows, nnz_s), dtype=torch.int32)
    cc = torch.zeros((B, H, rows), dtype=torch.int32)
    ci = torch.zeros((B, H, rows, nnz_v), dtype=torch.int32)
    for b in range(B):
        seqlen = int(seqlens[b])
        for h in range(H):
            va = vertical_indexes[b, h].tolist()
            sd = slash_indexes[b, h].tolist()
            for m in range(rows):
                if m * block_size_M >= seqlen:
                    continue
                blocks, cols, _ = vs_row_block(m * block_size_M, va, sd, block_size_M, block_size_N)
                bc[b, h, m] = len(blocks)
                bo[b, h, m, :len(blocks)] = torch.tensor(blocks, dtype=torch.int32)
                cc[b, h, m] = len(cols)
                if cols:
                    ci[b, h, m, :len(cols)] = torch.tensor(cols, dtype=torch.int32)
    return bc, bo, cc, ci


# ---------------------------------------------------------------------------
# Loading their code.
# ---------------------------------------------------------------------------
class Recorder:
    def __init__(self):
        self.items = []

    def clear(self):
        self.items = []


REC = Recorder()


def load_their_code(repo):
    import triton
    triton.autotune = lambda *a, **kw: (lambda f: f)  # shim: no GPU benchmarking
    torch.cuda.device = lambda *a, **kw: contextlib.nullcontext()  # shim: streaming_kernel enters it

    def load(name, rel):
        spec = importlib.util.spec_from_file_location(name, os.path.join(repo, rel))
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
        return mod

    pkg = types.ModuleType("minference")
    pkg.__path__ = [os.path.join(repo, "minference")]
    sys.modules["minference"] = pkg
    ops = types.ModuleType("minference.ops")
    ops.__path__ = [os.path.join(repo, "minference", "ops")]
    sys.modules["minference.ops"] = ops
    cuda = types.ModuleType("minference.cuda")

    def recording_convert(*args):
        out = convert_vs_index(*args)
        REC.items.append(("convert", args, out))
        return out

    cuda.convert_vertical_slash_indexes = recording_convert
    sys.modules["minference.cuda"] = cuda
    import io
    with contextlib.redirect_stdout(io.StringIO()):  # their "we recommend installing SGLang or vllm" print
        vs = load("minference.ops.pit_sparse_flash_attention_v2", "minference/ops/pit_sparse_flash_attention_v2.py")
    bs = load("minference.ops.block_sparse_flash_attention", "minference/ops/block_sparse_flash_attention.py")
    sk = load("minference.ops.streaming_kernel", "minference/ops/streaming_kernel.py")
    assert vs.convert_vertical_slash_indexes_opt is None and vs.sparse_attn_func is None

    # _build_block_index: record its output (the kernel's block_index).
    orig_build = bs._build_block_index

    def recording_build(query, key, top_k, block_size_M=64, block_size_N=64):
        out = orig_build(query, key, top_k, block_size_M, block_size_N)
        REC.items.append(("block_index", {"context_size": query.shape[2], "top_k": top_k}, out))
        return out

    bs._build_block_index = recording_build
    kernels = {
        "vs": vs._triton_mixed_sparse_attention,
        "bs": bs._triton_block_sparse_attention,
    }

    def recording_vs(query, key, value, v_idx, s_idx, *a, **kw):
        REC.items.append(("vs_args", None, (v_idx.clone(), s_idx.clone())))
        return vs.vertical_slash_sparse_attention(query, key, value, v_idx, s_idx, *a, **kw)

    def recording_bs(query, key, value, top_k, *a, **kw):
        REC.items.append(("bs_args", None, top_k))
        return bs.block_sparse_attention(query, key, value, top_k, *a, **kw)

    def recording_stream(q, k, v, n_init, n_local):
        REC.items.append(("stream_args", None, (n_init, n_local)))
        return sk.streaming_forward(q, k, v, n_init, n_local)

    # Definitions from minference_forward.py, executed from their AST.
    path = os.path.join(repo, "minference/modules/minference_forward.py")
    tree = ast.parse(open(path).read(), filename=path)
    wanted_defs = {"sum_all_diagonal_matrix", "minference_prefill_kernel"}
    body, lines = [], {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name in wanted_defs:
            body.append(node)
            lines[node.name] = [node.lineno, node.end_lineno]
        elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "LAST_Q_MASK" for t in node.targets):
            body.append(node)
            lines["LAST_Q_MASK"] = [node.lineno, node.end_lineno]
    assert set(lines) == wanted_defs | {"LAST_Q_MASK"}, lines
    ns = {
        "torch": torch, "math": math,
        "arange": torch.arange(64),  # shim for `arange = torch.arange(last_q, device="cuda")`
        "vertical_slash_sparse_attention": recording_vs,
        "block_sparse_attention": recording_bs,
        "streaming_forward": recording_stream,
    }
    exec(compile(ast.Module(body=body, type_ignores=[]), path, "exec"), ns)

    # v1 (pit_sparse_flash_attention.py): torch_build_index, make_finegrained_mask.
    path1 = os.path.join(repo, "minference/ops/pit_sparse_flash_attention.py")
    tree1 = ast.parse(open(path1).read(), filename=path1)
    body1 = []
    for node in tree1.body:
        if isinstance(node, ast.FunctionDef) and node.name in ("torch_build_index", "make_finegrained_mask", "make_causal_mask"):
            body1.append(node)
            lines["v1." + node.name] = [node.lineno, node.end_lineno]
    ns1 = {"torch": torch, "triton": triton}
    exec(compile(ast.Module(body=body1, type_ignores=[]), path1, "exec"), ns1)

    def lines_of(mod, names):
        src = open(mod.__file__).read()
        t = ast.parse(src)
        return {n.name: [n.lineno, n.end_lineno] for n in t.body if isinstance(n, ast.FunctionDef) and n.name in names}

    lines.update({"pit_v2." + k: v for k, v in lines_of(vs, {"vertical_slash_sparse_attention", "_triton_mixed_sparse_attention", "_triton_mixed_sparse_attn_fwd_kernel"}).items()})
    lines.update({"block_sparse." + k: v for k, v in lines_of(bs, {"block_sparse_attention", "_build_block_index", "_triton_block_sparse_attention", "_triton_block_sparse_attn_fwd_kernel"}).items()})
    lines.update({"streaming." + k: v for k, v in lines_of(sk, {"streaming_forward", "_attn_fwd_inner", "_attn_fwd", "_forward"}).items()})
    return {"vs": vs, "bs": bs, "sk": sk, "ns": ns, "ns1": ns1, "kernels": kernels, "lines": lines}


def stub_kernels(T, on):
    """Index pass: replace the attention kernels by stubs (indices only)."""
    if on:
        T["vs"]._triton_mixed_sparse_attention = lambda q, k, v, *a, **kw: torch.zeros_like(q)
        T["bs"]._triton_block_sparse_attention = lambda q, k, v, *a, **kw: torch.zeros_like(q)
    else:
        T["vs"]._triton_mixed_sparse_attention = T["kernels"]["vs"]
        T["bs"]._triton_block_sparse_attention = T["kernels"]["bs"]


# ---------------------------------------------------------------------------
# Helpers (ours).
# ---------------------------------------------------------------------------
def topk_margin(scores, k, forced=None):
    """Relative gap between the k-th and (k+1)-th finite scores among the
    candidates (forced ones excluded), in float64 of the float32 values."""
    s = np.asarray(scores, dtype=np.float64)
    finite = np.sort(s[np.isfinite(s)])[::-1]
    kf = k - int(np.sum(~np.isfinite(s)))
    if kf <= 0 or kf >= len(finite):
        return None
    a, b = finite[kf - 1], finite[kf]
    return float((a - b) / max(abs(a), 1e-30))


def estimate_scores(T, q, k):
    """Their estimate, re-run step by step only to expose the score vectors
    for margins (the chosen sets come from their kernel function)."""
    q_len = q.shape[2]
    last_q = min(64, q_len)
    qk = torch.einsum('bhmk, bhnk -> bhmn', q[:, :, -last_q:, :], k) / math.sqrt(q.shape[-1])
    mask = T["ns"]["LAST_Q_MASK"][..., -last_q:, -last_q:]
    qk[:, :, :, -last_q:] = torch.where(mask, qk[:, :, :, -last_q:], -torch.inf)
    p = torch.nn.functional.softmax(qk, dim=-1, dtype=torch.float32)
    vertical = p.sum(-2, keepdim=True)
    vertical[..., :30] = torch.inf
    slash = T["ns"]["sum_all_diagonal_matrix"](p)[..., :-last_q + 1]
    slash[..., -100:] = torch.inf
    # slash[t] is offset q_len - 1 - t: reorder by offset.
    return vertical[0, 0, 0].numpy(), slash[0, 0].numpy()[::-1].copy()


def layout_lists(bc, bo, cc, ci):
    rows = bc.shape[-1]
    return {
        "block_count": [int(x) for x in bc[0, 0]],
        "block_offset": [[int(x) for x in bo[0, 0, m, :int(bc[0, 0, m])]] for m in range(rows)],
        "column_count": [int(x) for x in cc[0, 0]],
        "column_index": [[int(x) for x in ci[0, 0, m, :int(cc[0, 0, m])]] for m in range(rows)],
    }


def layout_mask(L, lay):
    """Element set of a vertical-slash plan as their Triton kernel computes it:
    row i of row block m keeps key j iff (j <= i and j in some
    [off, off + 64) of block_offset[m]) or j in column_index[m]."""
    M = torch.zeros((L, L), dtype=torch.bool)
    ar = torch.arange(L)
    for m, (offs, cols) in enumerate(zip(lay["block_offset"], lay["column_index"])):
        r0, r1 = m * BLOCK, min(L, (m + 1) * BLOCK)
        for off in offs:
            M[r0:r1, off:min(L, off + BLOCK)] = True
        M[r0:r1] &= ar[None, :] <= ar[r0:r1, None]
        if cols:
            M[r0:r1, torch.tensor(cols)] = True
    return M


def block_mask(L, blocks):
    M = torch.zeros((L, L), dtype=torch.bool)
    for m, kbs in enumerate(blocks):
        for kb in kbs:
            M[m * BLOCK:(m + 1) * BLOCK, kb * BLOCK:(kb + 1) * BLOCK] = True
    ar = torch.arange(L)
    return M & (ar[None, :] <= ar[:, None])


def dense_masked(q, k, v, M):
    s = (q[0, 0].double() @ k[0, 0].double().T) / math.sqrt(q.shape[-1])
    s = s.masked_fill(~M, -math.inf)
    return (torch.softmax(s, -1) @ v[0, 0].double())


def effective_block_sets(block_index, L, top_k):
    """The key blocks their block-sparse kernel visits for row block m: the
    first min(top_k, m + 1) entries of the sorted top-k list
    (block_count = min((start_m + 1) * BLOCK_M // BLOCK_N, MAX_BLOCKS_PRE_ROW))."""
    nb = L // BLOCK
    out = []
    for m in range(nb):
        row = [int(x) for x in block_index[0, 0, m]]
        out.append(row[:min(len(row), m + 1)])
    return out


def pooled_scores(q, k):
    nb = q.shape[2] // BLOCK
    qp = q[0, 0].reshape(nb, BLOCK, -1).mean(1)
    kp = k[0, 0].reshape(nb, BLOCK, -1).mean(1)
    return (qp @ kp.T).numpy()


def dump_compact(obj, path):
    """JSON with every list of numbers on one line."""
    def enc(o, ind):
        pad = " " * ind
        if isinstance(o, dict):
            if not o:
                return "{}"
            items = [pad + " " + json.dumps(k) + ": " + enc(v, ind + 1) for k, v in o.items()]
            return "{\n" + ",\n".join(items) + "\n" + pad + "}"
        if isinstance(o, list):
            if all(not isinstance(x, (dict, list)) for x in o) or all(isinstance(x, list) and all(not isinstance(y, (dict, list)) for y in x) for x in o):
                return json.dumps(o, separators=(",", ":"))
            items = [pad + " " + enc(x, ind + 1) for x in o]
            return "[\n" + ",\n".join(items) + "\n" + pad + "]"
        return json.dumps(o)
    with open(path, "w") as f:
        f.write(enc(obj, 0) + "\n")


# ---------------------------------------------------------------------------
def run_head(T, seq, head, vs_sizes, bs_topks):
    q, k, v, checks = make_inputs(seq, head)
    plant = PLANTS[seq][head]
    res = {"head": head, "seed": 1000003 * seq + head, "planted": plant, "checksums": checks}
    prefill = T["ns"]["minference_prefill_kernel"]
    vert_sc, slash_sc = estimate_scores(T, q, k)
    res["vertical_slash"] = []
    for (vsz, ssz) in vs_sizes:
        REC.clear()
        cfg = {"best_pattern": [{str(head): ["vertical_and_slash", vsz, ssz, 1.0]}]}
        prefill(q, k, v, head, 0, cfg)
        (_, _, (v_idx, s_idx)), = [it for it in REC.items if it[0] == "vs_args"]
        (_, cargs, (bc, bo, cc, ci)), = [it for it in REC.items if it[0] == "convert"]
        verticals = sorted(int(x) for x in v_idx.reshape(-1))
        slashes = sorted(int(x) for x in s_idx.reshape(-1))
        # The converter received them sorted (v ascending, s descending) by their wrapper:
        assert [int(x) for x in cargs[1].reshape(-1)] == verticals
        assert [int(x) for x in cargs[2].reshape(-1)] == slashes[::-1]
        # Our step-by-step scores rank the same sets (they only give the margins).
        for sc, got in ((vert_sc, verticals), (slash_sc, slashes)):
            order = sorted(range(len(sc)), key=lambda j: (-float(sc[j]), j))
            assert sorted(order[:len(got)]) == got or topk_margin(sc, len(got)) == 0.0
        lay = layout_lists(bc, bo, cc, ci)
        # Properties: columns lie before their row block; every chosen vertical
        # j <= i and every slash (i - o >= 0) is kept (their v1 make_finegrained_mask).
        for m, cols in enumerate(lay["column_index"]):
            assert all(c < m * BLOCK for c in cols)
        M2 = layout_mask(seq, lay)
        causal = T["ns1"]["make_causal_mask"](torch.tensor([seq]), "cpu", seq)
        fine = T["ns1"]["make_finegrained_mask"](torch.tensor(verticals)[None, None], torch.tensor(slashes)[None, None], causal, "cpu")[0, 0]
        # v1 index (torch_build_index): per row block the single keys of the slash ranges and verticals.
        c1, i1 = T["ns1"]["torch_build_index"](torch.tensor([seq], dtype=torch.int32),
                                                torch.tensor(verticals, dtype=torch.int32)[None, None],
                                                torch.tensor(slashes[::-1], dtype=torch.int32)[None, None])
        M1 = torch.zeros((seq, seq), dtype=torch.bool)
        for m in range(seq // BLOCK):
            cols = i1[0, 0, m, :int(c1[0, 0, m])]
            M1[m * BLOCK:(m + 1) * BLOCK, cols.long()] = True
        M1 &= causal[0, 0]
        entry = {
            "requested": [vsz, ssz],
            "effective": [len(verticals), len(slashes)],
            "verticals": verticals,
            "slashes": slashes,
            "vertical_margin": topk_margin(vert_sc, len(verticals)),
            "slash_margin": topk_margin(slash_sc, len(slashes)),
            "layout": lay,
            "nnz": int(M2.sum()),
            "nnz_fine": int(fine.sum()),
            "nnz_v1": int(M1.sum()),
            "covers_fine": bool((fine & ~M2).sum() == 0),
            "covers_v1": bool((M1 & ~M2).sum() == 0),
        }
        assert entry["covers_fine"], "layout misses a vertical/slash entry"
        res["vertical_slash"].append(entry)
    pooled = pooled_scores(q, k)
    res["block_sparse"] = []
    for top_k in bs_topks:
        REC.clear()
        if top_k == 100:  # their kernel function's own constant
            cfg = {"best_pattern": [{str(head): ["block_sparse", 0, 0, 1.0]}]}
            prefill(q, k, v, head, 0, cfg)
            assert [it[2] for it in REC.items if it[0] == "bs_args"] == [100]
        else:
            T["bs"].block_sparse_attention(q, k, v, top_k)
        (_, info, bidx), = [it for it in REC.items if it[0] == "block_index"]
        sets = effective_block_sets(bidx, seq, top_k)
        forced = []  # derived (not theirs): the same scores with the diagonal block forced in
        margins = []
        for m in range(seq // BLOCK):
            row = pooled[m, :m + 1].astype(np.float64)
            kk = min(top_k, info["context_size"] // BLOCK, m + 1)
            order = sorted(range(m + 1), key=lambda j: (-row[j], j))
            margins.append(None if kk >= m + 1 else float((row[order[kk - 1]] - row[order[kk]]) / max(abs(row[order[kk - 1]]), 1e-30)))
            r2 = row.copy()
            r2[m] = math.inf
            order2 = sorted(range(m + 1), key=lambda j: (-r2[j], j))
            forced.append(sorted(order2[:kk]))
        res["block_sparse"].append({
            "top_k": top_k,
            "padded_context": int(info["context_size"]),
            "top_k_cap": min(top_k, int(info["context_size"]) // BLOCK),
            "key_blocks": sets,
            "row_blocks_without_diagonal": [m for m, s in enumerate(sets) if m not in s],
            "key_blocks_diagonal_forced": forced,
            "margins": margins,
        })
    return res


def kernel_checks(T, seq=1024):
    """Run their Triton kernels (CPU interpreter, fp16) and compare with a
    dense float64 attention under the element sets we derived."""
    out = []
    stub_kernels(T, False)
    prefill = T["ns"]["minference_prefill_kernel"]
    # vertical-slash: head 2 (verticals and slashes planted).
    for head, (vsz, ssz) in [(2, (33, 102)), (3, (100, 200))]:
        q, k, v, _ = make_inputs(seq, head)
        q16, k16, v16 = q.half(), k.half(), v.half()
        REC.clear()
        o = prefill(q16, k16, v16, head, 0, {"best_pattern": [{str(head): ["vertical_and_slash", vsz, ssz, 1.0]}]})
        (_, _, (bc, bo, cc, ci)), = [it for it in REC.items if it[0] == "convert"]
        (_, _, (v_idx, s_idx)), = [it for it in REC.items if it[0] == "vs_args"]
        lay = layout_lists(bc, bo, cc, ci)
        ref = dense_masked(q16, k16, v16, layout_mask(seq, lay))
        causal = T["ns1"]["make_causal_mask"](torch.tensor([seq]), "cpu", seq)
        fine = T["ns1"]["make_finegrained_mask"](v_idx.reshape(1, 1, -1), s_idx.reshape(1, 1, -1), causal, "cpu")[0, 0]
        ref_fine = dense_masked(q16, k16, v16, fine)
        err = (o[0, 0].double() - ref).abs().max().item()
        err_fine = (o[0, 0].double() - ref_fine).abs().max().item()
        out.append({"kernel": "pit_sparse_flash_attention_v2._triton_mixed_sparse_attn_fwd_kernel (via minference_prefill_kernel)",
                    "seq": seq, "head": head, "sizes": [vsz, ssz], "dtype": "float16",
                    "max_abs_err_vs_layout_element_set": err, "max_abs_err_vs_exact_verticals_and_slashes": err_fine,
                    "note": "estimate made on the fp16 inputs here, so the sets may differ slightly from the float32 facts"})
    # block-sparse
    for head, top_k in [(3, 4), (2, 8), (0, 100)]:
        q, k, v, _ = make_inputs(seq, head)
        q16, k16, v16 = q.half(), k.half(), v.half()
        REC.clear()
        if top_k == 100:
            o = prefill(q16, k16, v16, head, 0, {"best_pattern": [{str(head): ["block_sparse", 0, 0, 1.0]}]})
        else:
            o = T["bs"].block_sparse_attention(q16, k16, v16, top_k)
        (_, info, bidx), = [it for it in REC.items if it[0] == "block_index"]
        sets = effective_block_sets(bidx, seq, top_k)
        ref = dense_masked(q16, k16, v16, block_mask(seq, sets))
        forced = [sorted(set(s) | {m}) for m, s in enumerate(sets)]
        ref_forced = dense_masked(q16, k16, v16, block_mask(seq, forced))
        out.append({"kernel": "block_sparse_flash_attention._triton_block_sparse_attn_fwd_kernel",
                    "seq": seq, "head": head, "top_k": top_k, "dtype": "float16",
                    "max_abs_err_vs_effective_key_blocks": (o[0, 0].double() - ref).abs().max().item(),
                    "max_abs_err_vs_key_blocks_plus_diagonal": (o[0, 0].double() - ref_forced).abs().max().item(),
                    "row_blocks_without_diagonal": [m for m, s in enumerate(sets) if m not in s]})
    # A-shape (streaming_forward via the "stream_llm" dispatch: n_init = v, n_local = s).
    ar = torch.arange(seq)
    dist = ar[:, None] - ar[None, :]
    for head, (n_init, n_local) in [(0, (30, 200)), (3, (100, 333))]:
        q, k, v, _ = make_inputs(seq, head)
        q16, k16, v16 = q.half(), k.half(), v.half()
        REC.clear()
        o = prefill(q16, k16, v16, head, 0, {"best_pattern": [{str(head): ["stream_llm", n_init, n_local, 1.0]}]})
        assert [it[2] for it in REC.items if it[0] == "stream_args"] == [(n_init, n_local)]
        exact = ((dist >= 0) & (dist < n_local)) | ((ar[None, :] < n_init) & (dist >= 0))
        # attnsim's block-granular A-shape (patterns.cpp prepare()): ranges [0, n_init) and
        # [start_m - n_local + 1, end_m) per row block, as 64-wide blocks from each range start.
        blk = torch.zeros((seq, seq), dtype=torch.bool)
        for m in range(seq // BLOCK):
            s0, e0 = m * BLOCK, (m + 1) * BLOCK
            rs = sorted([(0, n_init), (max(0, s0 - n_local + 1), e0)])
            merged = []
            for a, b in rs:
                if merged and a <= merged[-1][1]:
                    while merged[-1][1] < b:
                        merged[-1][1] += BLOCK
                else:
                    merged.append([a, b])
            for a, b in merged:
                for x in range(a, b, BLOCK):
                    blk[s0:e0, x:min(seq, x + BLOCK)] = True
        blk &= dist >= 0
        out.append({"kernel": "streaming_kernel.streaming_forward (A-shape; stream_llm dispatch of minference_prefill_kernel)",
                    "seq": seq, "head": head, "n_init": n_init, "n_local": n_local, "dtype": "float16",
                    "max_abs_err_vs_element_rule": (o[0, 0].double() - dense_masked(q16, k16, v16, exact)).abs().max().item(),
                    "max_abs_err_vs_block_granular": (o[0, 0].double() - dense_masked(q16, k16, v16, blk)).abs().max().item(),
                    "element_rule": "(0 <= i - j < n_local) or (j < n_init and j <= i)",
                    "nnz_element_rule": int(exact.sum()), "nnz_block_granular": int(blk.sum())})
    stub_kernels(T, True)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minference-repo", required=True)
    ap.add_argument("--commit", required=True, help="commit of the checkout (recorded)")
    ap.add_argument("--commit-date", default="")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "facts", "minference_index_sets.json"))
    ap.add_argument("--kernel-checks", action="store_true", help="also run their Triton kernels in the CPU interpreter (minutes)")
    ap.add_argument("--seqs", default="1024,2048")
    args = ap.parse_args()
    torch.set_num_threads(2)
    repo = os.path.abspath(args.minference_repo)
    T = load_their_code(repo)
    stub_kernels(T, True)
    import triton
    files = [
        "minference/modules/minference_forward.py",
        "minference/ops/pit_sparse_flash_attention_v2.py",
        "minference/ops/pit_sparse_flash_attention.py",
        "minference/ops/block_sparse_flash_attention.py",
        "minference/ops/streaming_kernel.py",
        "csrc/vertical_slash_index.cu",
        "minference/models_patch.py",
    ]
    facts = {
        "provenance": {
            "repo": "microsoft/MInference",
            "commit": args.commit,
            "commit_date": args.commit_date,
            "files_sha256": {f: hashlib.sha256(open(os.path.join(repo, f), "rb").read()).hexdigest() for f in files},
            "definitions_line_ranges": T["lines"],
            "executed": [
                "minference_forward.py: minference_prefill_kernel (its vertical_and_slash_kernel, block_sparse_kernel, stream_llm dispatch), sum_all_diagonal_matrix, the LAST_Q_MASK statement (AST-extracted, unchanged)",
                "pit_sparse_flash_attention_v2.py: vertical_slash_sparse_attention (module imported)",
                "block_sparse_flash_attention.py: block_sparse_attention, _build_block_index (module imported)",
                "pit_sparse_flash_attention.py (v1): torch_build_index, make_finegrained_mask, make_causal_mask (AST-extracted, cross-checks)",
                "kernel checks only: their Triton kernels in the CPU interpreter (streaming_forward, _triton_mixed_sparse_attention, _triton_block_sparse_attention)",
            ],
            "reimplemented": ["convert_vertical_slash_indexes (csrc/vertical_slash_index.cu:21-99, CUDA only): convert_vs_index in run_minference_reference.py"],
            "shims": [
                "arange = torch.arange(64) on the CPU for the LAST_Q_MASK statement (theirs: device='cuda')",
                "minference.cuda stub module carrying the reimplemented converter",
                "index pass: _triton_mixed_sparse_attention / _triton_block_sparse_attention replaced by zero stubs",
                "triton.autotune -> identity; torch.cuda.device -> null context",
            ],
            "packages": {"python": platform.python_version(), "torch": torch.__version__, "triton": triton.__version__, "numpy": np.__version__},
            "dtype": "float32 inputs for the index facts (MInference in use runs bf16/fp16; the estimate's softmax is fp32 either way)",
            "generated_by": "tests/reference/minference/run_minference_reference.py --minference-repo PATH --commit SHA" + (" --kernel-checks" if args.kernel_checks else ""),
        },
        "generator": GENERATOR_DOC,
        "layout": {
            "cases[].seq / head_dim / scale": "sequence length, 64, 1/sqrt(64) = 0.125 (their / math.sqrt(head_dim))",
            "cases[].heads[]": "one head each; batch 1; Q/K/V from `generator` with seed 1000003*seq + head and planted[]",
            "vertical_slash[].requested": "[vertical_size, slash_size] given to their kernel (config entry)",
            "vertical_slash[].effective": "after min(q_len, max(v, 30)), min(q_len, max(s, 50))",
            "vertical_slash[].verticals": "chosen key columns, ascending (their vertical_topk)",
            "vertical_slash[].slashes": "chosen offsets o = i - j >= 0, ascending (their (q_len - 1) - topk index)",
            "vertical_slash[].vertical_margin / slash_margin": "relative gap (k-th - (k+1)-th)/k-th of the non-forced scores at the top-k boundary (null: no boundary); small = fragile to rounding",
            "vertical_slash[].layout": "per 64-row block m: block_offset[m] = starts of 64-wide key ranges (NOT multiples of 64), column_index[m] = single key columns; counts alongside",
            "vertical_slash[].nnz": "kept (i, j) entries over all rows: row i of block m keeps j iff (j <= i and off <= j < off + 64 for some off in block_offset[m]) or j in column_index[m]",
            "vertical_slash[].nnz_fine / covers_fine": "entries of the exact set {j in verticals or i - j in slashes, j <= i} (their v1 make_finegrained_mask); the layout covers it",
            "vertical_slash[].nnz_v1 / covers_v1": "entries of their v1 torch_build_index layout (single keys, un-merged 64-key slash windows); the v2 layout covers it",
            "block_sparse[].key_blocks": "per 64-row block m, ascending key blocks the kernel visits: the first min(top_k, m + 1) of their sorted top-k list; element (i, j) kept iff j // 64 in key_blocks[i // 64] and j <= i",
            "block_sparse[].padded_context / top_k_cap": "block_sparse_attention pads L by 64 - (L % 64) (a whole block when L % 64 == 0) before _build_block_index, whose top_k = min(top_k, padded // 64)",
            "block_sparse[].row_blocks_without_diagonal": "row blocks whose set lacks block m (they do not force it)",
            "block_sparse[].key_blocks_diagonal_forced": "DERIVED, not theirs: the same pooled scores with block m forced in, then the best min(top_k, m + 1) with ties to the lower index (attnsim's rule), for comparison",
            "block_sparse[].margins": "per row block, relative gap at the top-k boundary of the pooled scores (null: all causal blocks kept)",
            "kernel_checks": "their Triton kernels run in the CPU interpreter against dense float64 attention under our derived element sets (errors ~1e-3 = fp16 agreement)",
        },
        "cpp_comparison": {
            "inputs": "rebuild Q, K (V) per head from `generator` (not stored: 8 heads x 3 x seq x 64 values = 6 MB > 1 MB); verify with checksums",
            "vertical_slash": "attnsim: rows = [L-64, L); probs = estimate_probs(q, k, 0.125, rows); sc = vertical_slash_scores(probs, rows, 30, 100); pick_vertical_slash(sc, effective[0], effective[1]) -> verticals / slashes (same conventions: ascending columns, ascending offsets i - j); vertical_slash_layout(L, verticals, slashes, 64).to_json() -> layout; nnz = sum over rows of row_keys",
            "block_sparse": "attnsim: pick_block_sparse(pooled_block_scores(q, k, 0.125, 64), top_k) forces the diagonal block: compare with key_blocks_diagonal_forced; it equals key_blocks except on row_blocks_without_diagonal",
            "margins": "a top-k boundary with margin below ~1e-5 may flip under float32 rounding; the facts here are all above 5e-6",
        },
        "cases": [],
    }
    for seq in [int(x) for x in args.seqs.split(",")]:
        case = {"seq": seq, "head_dim": HEAD_DIM, "scale": 1 / math.sqrt(HEAD_DIM), "heads": []}
        for head in range(len(PLANTS[seq])):
            p = PLANTS[seq][head]
            sizes = [(30 + len(p["verticals"]), 100 + len(p["slash_offsets"])), (100, 200), (1000, 6096)]
            case["heads"].append(run_head(T, seq, head, sizes, [100, 8, 4]))
            print("seq %d head %d done" % (seq, head), file=sys.stderr)
        facts["cases"].append(case)
    if args.kernel_checks:
        facts["kernel_checks"] = kernel_checks(T)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    dump_compact(facts, args.out)
    print("wrote", os.path.abspath(args.out), file=sys.stderr)


if __name__ == "__main__":
    main()
