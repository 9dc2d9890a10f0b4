#!/usr/bin/env python3
"""Numerics check and benchmark of gpu_ref's fused block-sparse attention kernel.

Runs on the GPU machine (PyTorch with FlexAttention, the gpu_ref build with
libgpu_ref_bsa.so). Phases:

  numerics  the fused kernel (fp16, bf16; head dims 32/64/128; q/kv blocks
            64/128; every tiling) on random element masks given as CSR
            (FULL / PARTIAL / CAUSAL / empty blocks, ragged seq_len, empty
            rows) against float64 PyTorch, gpu_ref's cuSPARSE path (fp32
            SDDMM + CSR softmax + SpMM) and gpu_ref's cuBLAS dense path
            (fp32; full and causal masks).
  bench     time (CUDA events, warm-up, median) of the fused kernel,
            FlexAttention (torch.compile'd, the equivalent BlockMask), SDPA
            (FlashAttention backend, dense), cuSPARSE (gpu_ref's path, fp32,
            element mask) and cuBLAS dense (gpu_ref's fp32 path, and fp16
            through torch.matmul) on the same masks; CSV + JSON lines.

Usage: bench_block_sparse.py --lib gpu_ref/build/libgpu_ref_bsa.so --out DIR
           [--phases numerics,bench] [--seqs 1024,4096,16384,32768]
           [--dims 128,64] [--budget-s 400] [--quick]
"""
import argparse
import csv as csvmod
import ctypes
import json
import math
import os
import sys
import time
import traceback

import torch
import torch.nn.functional as F

T0 = time.time()

# ----------------------------------------------------------------------------
# the C API


class Lib:
    TILINGS = {"auto": 0, "q64_w4": 1, "q64_w4_s3": 2, "q128_w8": 3, "q128_w4": 4, "q64_w2": 5, "wg64": 6,
               "wg128": 7, "wg64_s3": 8, "wg64_n128": 9, "wg128_m2": 10, "wg128_s3": 11, "wg128_n128": 12,
               "wg64_p": 13, "wg128_p": 14, "wg128_n128_m2": 15, "wg128_n128_s3": 16, "wg128_n128_p": 17,
               "wg64_n128_m3": 18, "wg64_m4": 19, "wg128_ws": 20, "wg128_wsp": 21}

    def __init__(self, path):
        L = ctypes.CDLL(path)
        vp, i32, i64, f32 = ctypes.c_void_p, ctypes.c_int, ctypes.c_longlong, ctypes.c_float
        L.bsa_last_error.restype = ctypes.c_char_p
        L.bsa_mask_from_kinds.argtypes = [vp, i32, i32, i32, i32, ctypes.POINTER(vp)]
        L.bsa_mask_from_csr.argtypes = [vp, vp, vp, i32, i32, i32, i32, i32, ctypes.POINTER(vp)]
        L.bsa_mask_merge_q.argtypes = [vp, ctypes.POINTER(vp)]
        L.bsa_mask_stats.argtypes = [vp, vp]
        L.bsa_mask_free.argtypes = [vp]
        L.bsa_mask_free.restype = None
        L.bsa_forward.argtypes = [vp, vp, vp, vp, vp, i32, i32, i32, i32, f32, i32, vp]
        L.ref_dense_fp32.argtypes = [vp, vp, vp, vp, vp, vp, i32, i32, i32, f32, i32, vp]
        L.ref_sparse_create.argtypes = [vp, vp, i64, i32, i32, vp, vp, vp, vp, f32, vp, ctypes.POINTER(vp)]
        L.ref_sparse_run.argtypes = [vp]
        L.ref_sparse_layout.argtypes = [vp]
        L.ref_sparse_free.argtypes = [vp]
        L.ref_sparse_free.restype = None
        L.bsa_set_wgmma_variant.argtypes = [i32]
        L.bsa_set_wgmma_variant.restype = None
        self.L = L
        self.wgmma = bool(L.bsa_wgmma_available())

    def set_wgmma_variant(self, v):
        self.L.bsa_set_wgmma_variant(int(v))

    def _ok(self, rc):
        if rc != 0:
            raise RuntimeError(self.L.bsa_last_error().decode())

    def mask_from_kinds(self, kinds, S, qb, kvb):
        k = kinds.to(torch.int8).cpu().contiguous()
        h = ctypes.c_void_p()
        self._ok(self.L.bsa_mask_from_kinds(k.data_ptr(), k.shape[0], S, qb, kvb, ctypes.byref(h)))
        return Mask(self, h)

    def mask_from_csr(self, indptr, indices, offsets, mask_heads, S, qb, kvb, detect_causal=True):
        ip = indptr.to(torch.int32).cpu().contiguous()
        ix = indices.to(torch.int32).cpu().contiguous()
        of = offsets.to(torch.int64).cpu().contiguous()
        h = ctypes.c_void_p()
        self._ok(self.L.bsa_mask_from_csr(ip.data_ptr(), ix.data_ptr(), of.data_ptr(), mask_heads, S, qb, kvb,
                                          int(detect_causal), ctypes.byref(h)))
        return Mask(self, h)

    def merge_q(self, mask):
        """The same element mask with 64-row q-blocks merged into 128-row ones."""
        h = ctypes.c_void_p()
        self._ok(self.L.bsa_mask_merge_q(mask.h, ctypes.byref(h)))
        return Mask(self, h)

    def forward(self, mask, q, k, v, o, tiling="auto"):
        heads = q.numel() // (q.shape[-2] * q.shape[-1])
        S, D = q.shape[-2], q.shape[-1]
        dt = 1 if q.dtype == torch.bfloat16 else 0
        scale = 1.0 / math.sqrt(D)
        self._ok(self.L.bsa_forward(mask.h, q.data_ptr(), k.data_ptr(), v.data_ptr(), o.data_ptr(), heads, S, D, dt,
                                    scale, self.TILINGS[tiling], torch.cuda.current_stream().cuda_stream))

    def dense_fp32(self, q, k, v, o, scores, probs, causal):
        heads = q.numel() // (q.shape[-2] * q.shape[-1])
        S, D = q.shape[-2], q.shape[-1]
        self._ok(self.L.ref_dense_fp32(q.data_ptr(), k.data_ptr(), v.data_ptr(), o.data_ptr(), scores.data_ptr(),
                                       probs.data_ptr(), heads, S, D, 1.0 / math.sqrt(D), int(causal),
                                       torch.cuda.current_stream().cuda_stream))


class Mask:
    def __init__(self, lib, h):
        self.lib, self.h = lib, h
        st = (ctypes.c_longlong * 7)()
        lib._ok(lib.L.bsa_mask_stats(h, ctypes.cast(st, ctypes.c_void_p)))
        self.entries, self.full, self.causal, self.partial, self.computed, self.kept, self.q_block = list(st)

    def __del__(self):
        try:
            self.lib.L.bsa_mask_free(self.h)
        except Exception:
            pass


class SparsePlan:
    """gpu_ref's cuSPARSE path on a global CSR (rows = heads * S)."""

    def __init__(self, lib, rowptr, cols, q32, k32, v32, out32):
        self.lib = lib
        self.keep = (rowptr, cols, q32, k32, v32, out32)
        rows, D = q32.numel() // q32.shape[-1], q32.shape[-1]
        h = ctypes.c_void_p()
        lib._ok(lib.L.ref_sparse_create(rowptr.data_ptr(), cols.data_ptr(), cols.numel(), rows, D, q32.data_ptr(),
                                        k32.data_ptr(), v32.data_ptr(), out32.data_ptr(), 1.0 / math.sqrt(D),
                                        torch.cuda.current_stream().cuda_stream, ctypes.byref(h)))
        self.h = h
        self.layout = "K row-major transposed" if lib.L.ref_sparse_layout(h) else "K column-major"

    def run(self):
        self.lib._ok(self.lib.L.ref_sparse_run(self.h))

    def __del__(self):
        try:
            self.lib.L.ref_sparse_free(self.h)
        except Exception:
            pass


# ----------------------------------------------------------------------------
# masks


def causal_kinds(S, blk):
    n = (S + blk - 1) // blk
    qb = torch.arange(n)[:, None]
    kb = torch.arange(n)[None, :]
    return ((kb < qb).to(torch.int8) + 2 * (kb == qb).to(torch.int8))[None]


def random_kinds(S, blk, density, mask_heads, seed):
    n = (S + blk - 1) // blk
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(mask_heads, n, n, generator=g) < density).to(torch.int8)


def local_stride_kinds(S, blk, local_blocks, vert_stride, heads, offset=0):
    """Phi-3-small / dkernel: (q, k) active iff k <= q and (q - k < local or
    (k + h * step + offset) % vert_stride == 0), step = max(1, vert_stride // heads)."""
    n = (S + blk - 1) // blk
    qb = torch.arange(n)[None, :, None]
    kb = torch.arange(n)[None, None, :]
    h = torch.arange(heads)[:, None, None]
    step = max(1, vert_stride // heads)
    act = (kb <= qb) & (((qb - kb) < local_blocks) | (((kb + h * step + offset) % vert_stride) == 0))
    return (act & (kb < qb)).to(torch.int8) + 2 * (act & (kb == qb)).to(torch.int8)


def a_shape_kinds(S, blk, init_blocks, local_blocks):
    n = (S + blk - 1) // blk
    qb = torch.arange(n)[:, None]
    kb = torch.arange(n)[None, :]
    act = (kb <= qb) & ((kb < init_blocks) | ((qb - kb) < local_blocks))
    return ((act & (kb < qb)).to(torch.int8) + 2 * (act & (kb == qb)).to(torch.int8))[None]


def element_mask_from_kinds(kinds, S, blk, device):
    """[MH, S, S] bool on `device`."""
    k = kinds.to(device)
    e = k.repeat_interleave(blk, 1).repeat_interleave(blk, 2)[:, :S, :S]
    r = torch.arange(S, device=device)
    tri = r[None, :, None] >= r[None, None, :]
    return (e == 1) | ((e == 2) & tri)


def csr_of(mask):
    """Dump-format CSR of a [MH, S, S] bool mask: indptr [MH, S+1], indices, offsets [MH+1] (CPU)."""
    MH, S, _ = mask.shape
    counts = mask.sum(-1, dtype=torch.int64)  # [MH, S]
    indptr = torch.zeros(MH, S + 1, dtype=torch.int64, device=mask.device)
    indptr[:, 1:] = counts.cumsum(-1)
    nz = mask.nonzero()  # sorted by (head, row, col)
    offsets = torch.zeros(MH + 1, dtype=torch.int64, device=mask.device)
    offsets[1:] = counts.sum(-1).cumsum(0)
    return indptr.int().cpu(), nz[:, 2].int().cpu(), offsets.cpu()


def global_csr(mask, heads_total):
    """Block-diagonal CSR of all heads (head t uses mask t % MH), global columns t*S + j, on the GPU."""
    MH, S, _ = mask.shape
    counts = mask.sum(-1, dtype=torch.int64)
    idx = torch.arange(heads_total, device=mask.device) % MH
    allc = counts[idx].reshape(-1)
    rowptr = torch.zeros(allc.numel() + 1, dtype=torch.int64, device=mask.device)
    rowptr[1:] = allc.cumsum(0)
    nnz = int(rowptr[-1])
    if nnz >= 2 ** 31 - 1:
        raise RuntimeError("nnz too large for 32-bit CSR")
    per = [mask[m].nonzero()[:, 1].int() for m in range(MH)]
    cols = torch.cat([per[t % MH] + t * S for t in range(heads_total)])
    return rowptr.int(), cols.int().contiguous()


def reference_f64(q, k, v, mask):
    """float64 masked attention; heads use mask[h % MH]; rows with no key -> 0."""
    B, H, S, D = q.shape
    MH = mask.shape[0]
    qd, kd, vd = q.double(), k.double(), v.double()
    s = torch.matmul(qd, kd.transpose(-1, -2)) / math.sqrt(D)
    m = mask[torch.arange(H, device=q.device) % MH][None].expand(B, H, S, S) if MH != B * H else mask.view(B, H, S, S)
    s = s.masked_fill(~m, float("-inf"))
    p = torch.softmax(s, -1)
    p = torch.nan_to_num(p, nan=0.0)
    return torch.matmul(p, vd)


def err(out, ref):
    o, r = out.double(), ref.double()
    mref = r.abs().max().item()
    return {"max_err_rel": (o - r).abs().max().item() / max(mref, 1e-30),
            "rel_l2": ((o - r).norm() / max(r.norm().item(), 1e-30)).item(),
            "nan": int((~torch.isfinite(o)).sum().item())}


# ----------------------------------------------------------------------------
# timing


def bench(fn, warmup=2, target_ms=250.0, min_reps=5, max_reps=50):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    s.record()
    fn()
    e.record()
    torch.cuda.synchronize()
    first = max(s.elapsed_time(e), 1e-3)
    reps = int(min(max_reps, max(min_reps, target_ms / first)))
    evs = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        evs.append((a, b))
    torch.cuda.synchronize()
    ts = sorted(a.elapsed_time(b) for a, b in evs)
    n = len(ts)
    med = ts[n // 2] if n % 2 else 0.5 * (ts[n // 2 - 1] + ts[n // 2])
    return med, ts[0], n


def log(*a):
    print(f"[{time.time() - T0:7.1f}s]", *a, flush=True)


# ----------------------------------------------------------------------------
# numerics


def wgmma_probe(lib_path, variant):
    """One small case in this (fresh) process: the wgmma kernel with descriptor encoding `variant`."""
    lib = Lib(lib_path)
    if not lib.wgmma:
        print(json.dumps({"variant": variant, "available": False}))
        return
    lib.set_wgmma_variant(variant)
    dev = "cuda"
    res = {"variant": variant, "available": True, "cases": []}
    for S, D, qb, dt in ((256, 64, 64, torch.float16), (384, 128, 128, torch.bfloat16), (320, 128, 64, torch.float16)):
        g = torch.Generator(device=dev).manual_seed(S + D)
        q, k, v = (torch.randn(1, 2, S, D, generator=g, device=dev).to(dt) for _ in range(3))
        r = torch.arange(S, device=dev)
        mask = ((r[:, None] >= r[None, :]) | (torch.rand(2, S, S, generator=g, device=dev) < 0.3))
        indptr, indices, offsets = csr_of(mask)
        m = lib.mask_from_csr(indptr, indices, offsets, 2, S, qb, qb)
        o = torch.full_like(q, float("nan"))
        lib.forward(m, q, k, v, o, "wg64" if qb == 64 else "wg128")
        torch.cuda.synchronize()
        e = err(o, reference_f64(q, k, v, mask))
        res["cases"].append(dict(S=S, D=D, q_block=qb, **e))
    res["pass"] = all(c["nan"] == 0 and c["max_err_rel"] < 3e-2 for c in res["cases"])
    print(json.dumps(res))


def choose_wgmma_variant(lib_path, out_dir):
    """Runs the probe for each descriptor encoding in its own process (a bad one may fault the context)."""
    import subprocess
    path = os.path.join(out_dir, "wgmma_variant.json")
    if os.path.exists(path):
        return json.load(open(path)).get("chosen")
    tries = []
    chosen = None
    for v in (0, 1, 2):
        try:
            p = subprocess.run([sys.executable, os.path.abspath(__file__), "--lib", lib_path, "--out", out_dir,
                                "--phases", "wgprobe", "--variant", str(v)], capture_output=True, text=True,
                               timeout=120)
            line = [x for x in p.stdout.splitlines() if x.startswith("{")]
            r = json.loads(line[-1]) if line else {"variant": v, "error": (p.stderr or "")[-500:]}
        except Exception as ex:
            r = {"variant": v, "error": str(ex)}
        tries.append(r)
        log(f"wgmma descriptor variant {v}: {json.dumps(r)[:400]}")
        if r.get("available") is False:
            break
        if r.get("pass"):
            chosen = v
            break
    json.dump({"chosen": chosen, "tries": tries}, open(path, "w"), indent=1)
    return chosen


def numerics(lib, out_dir, quick, wg_variant=None):
    dev = "cuda"
    results = []
    cases = [
        # S, D, q_block, kv_block, dtype, pattern
        (256, 64, 64, 64, torch.float16, "mixed"),
        (1000, 128, 128, 64, torch.float16, "mixed"),
        (520, 32, 64, 128, torch.float16, "mixed"),
        (777, 64, 128, 128, torch.bfloat16, "mixed"),
        (1024, 128, 64, 128, torch.bfloat16, "mixed"),
        (1000, 64, 64, 64, torch.float16, "causal"),
        (768, 128, 128, 128, torch.float16, "full"),
        (384, 32, 128, 64, torch.bfloat16, "causal"),
        (2048, 128, 128, 128, torch.float16, "causal"),
        (2048, 64, 64, 64, torch.bfloat16, "mixed"),
        (1000, 64, 64, 128, torch.float16, "mixed"),
        # q-block 128 at the other dtype / head dim pairings (the warp-specialised wg128_ws among others)
        (1000, 64, 128, 128, torch.float16, "mixed"),
        (1024, 128, 128, 128, torch.bfloat16, "mixed"),
        (1500, 64, 128, 128, torch.bfloat16, "causal"),
        (900, 128, 128, 64, torch.bfloat16, "mixed"),
        # more q-blocks than SMs, so that the persistent wg128_wsp walks several per CTA (and the merged masks)
        (8192, 64, 64, 64, torch.float16, "mixed"),
        (8192, 128, 128, 128, torch.bfloat16, "causal"),
    ]
    if quick:
        cases = cases[:6]
    B, H, MH = 2, 3, 3
    g = torch.Generator(device=dev)
    for ci, (S, D, qb, kvb, dt, pat) in enumerate(cases):
        g.manual_seed(1000 + ci)
        q = torch.randn(B, H, S, D, generator=g, device=dev).to(dt)
        k = torch.randn(B, H, S, D, generator=g, device=dev).to(dt)
        v = torch.randn(B, H, S, D, generator=g, device=dev).to(dt)
        r = torch.arange(S, device=dev)
        if pat == "full":
            mask = torch.ones(MH, S, S, dtype=torch.bool, device=dev)
        elif pat == "causal":
            mask = (r[:, None] >= r[None, :]).expand(MH, S, S).contiguous()
        else:
            # random block kinds (empty / full / partial with random elements), a causal
            # band on one head, and a few rows with no key at all
            blk = 64
            nb = (S + blk - 1) // blk
            kind = torch.randint(0, 3, (MH, nb, nb), generator=g, device=dev)
            ke = kind.repeat_interleave(blk, 1).repeat_interleave(blk, 2)[:, :S, :S]
            rnd = torch.rand(MH, S, S, generator=g, device=dev) < 0.5
            mask = (ke == 1) | ((ke == 2) & rnd)
            mask[0] = mask[0] | (r[:, None] >= r[None, :])
            mask[1, : min(S, 70)] = False  # empty rows
        indptr, indices, offsets = csr_of(mask)
        ref = reference_f64(q, k, v, mask)
        m = lib.mask_from_csr(indptr, indices, offsets, MH, S, qb, kvb)
        tilings = ["q64_w4", "q64_w4_s3", "q64_w2"] if qb == 64 else ["q128_w8", "q128_w4"]
        if wg_variant is not None and D in (64, 128):
            if qb == 64:
                tilings += ["wg64", "wg64_s3", "wg64_p"] + (["wg64_n128"] if kvb == 128 else []) + (
                    ["wg64_n128_m3"] if kvb == 128 and D == 64 else []) + (["wg64_m4"] if D == 64 else [])
            else:
                tilings += ["wg128", "wg128_m2", "wg128_s3", "wg128_p", "wg128_ws", "wg128_wsp"] + (
                    ["wg128_n128", "wg128_n128_s3", "wg128_n128_p"] if kvb == 128 else []) + (
                    ["wg128_n128_m2"] if kvb == 128 and D == 64 else [])
        runs = [(m, t) for t in tilings]
        if qb == 64:  # the same element mask merged into 128-row q-blocks, on the 128-row tilings
            m_merged = lib.merge_q(m)
            runs += [(m_merged, t) for t in ["q128_w4"] + (
                ["wg128_m2", "wg128_ws", "wg128_wsp"] if wg_variant is not None and D in (64, 128) else [])]
        o = torch.empty_like(q)
        # the references of gpu_ref: cuSPARSE path (fp32) and cuBLAS dense path (fp32) on the rounded inputs
        q32, k32, v32 = q.float().contiguous(), k.float().contiguous(), v.float().contiguous()
        sp_out = torch.full_like(q32, float("nan"))
        rowptr, cols = global_csr(mask, B * H)
        plan = SparsePlan(lib, rowptr, cols, q32, k32, v32, sp_out)
        plan.run()
        torch.cuda.synchronize()
        e_sp = err(sp_out, ref)
        e_dense = None
        if pat in ("full", "causal"):
            dn_out = torch.full_like(q32, float("nan"))
            sc = torch.empty(B * H, S, S, device=dev)
            pr = torch.empty(B * H, S, S, device=dev)
            lib.dense_fp32(q32, k32, v32, dn_out, sc, pr, pat == "causal")
            torch.cuda.synchronize()
            e_dense = err(dn_out, ref)
            del sc, pr
        for mk, t in runs:
            o.fill_(float("nan"))
            lib.forward(mk, q, k, v, o, t)
            torch.cuda.synchronize()
            e = err(o, ref)
            e_vs_sp = err(o, sp_out)
            e_vs_dense = err(o, dn_out) if e_dense is not None else None
            tol = 1e-2 if dt == torch.float16 else 3e-2
            ok = e["nan"] == 0 and e["max_err_rel"] < tol
            rec = {"S": S, "D": D, "q_block": mk.q_block, "kv_block": kvb, "dtype": str(dt).split(".")[-1],
                   "pattern": pat, "tiling": t, "merged": mk is not m,
                   "blocks": {"listed": mk.entries, "full": mk.full, "causal": mk.causal, "partial": mk.partial},
                   "fused_vs_f64": e, "fused_vs_cusparse": e_vs_sp, "cusparse_vs_f64": e_sp,
                   "fused_vs_cublas_dense": e_vs_dense, "cublas_dense_vs_f64": e_dense, "tolerance": tol,
                   "pass": ok}
            results.append(rec)
            with open(os.path.join(out_dir, "numerics.json"), "w") as f:  # written as it goes (a crash keeps it)
                json.dump(results, f, indent=1)
            log(f"numerics S={S} D={D} blocks {mk.q_block}x{kvb}{'m' if mk is not m else ' '} {rec['dtype']} {pat:6s} {t:10s} "
                f"max_err/max|ref|={e['max_err_rel']:.2e} relL2={e['rel_l2']:.2e} nan={e['nan']} "
                f"vs cuSPARSE {e_vs_sp['max_err_rel']:.2e}"
                + (f" vs cuBLAS {e_vs_dense['max_err_rel']:.2e}" if e_vs_dense else "")
                + f" blocks(full/causal/partial)={mk.full}/{mk.causal}/{mk.partial} {'PASS' if ok else 'FAIL'}")
        del plan
    with open(os.path.join(out_dir, "numerics.json"), "w") as f:
        json.dump(results, f, indent=1)
    npass = sum(r["pass"] for r in results)
    log(f"numerics: {npass}/{len(results)} pass")
    return npass == len(results)


# ----------------------------------------------------------------------------
# benchmark


SAFE_TILINGS = {"q128_w4", "q64_w4", "q64_w2", "wg64", "wg128"}  # passed the numerics on an H200 before


def allowed_tilings(out_dir):
    """Tilings that passed every numerics case they ran in (numerics.json of this run), else SAFE_TILINGS."""
    path = os.path.join(out_dir, "numerics.json")
    if not os.path.exists(path):
        return set(SAFE_TILINGS)
    ok, bad = set(), set()
    for r in json.load(open(path)):
        (ok if r["pass"] else bad).add(r["tiling"])
    return ok - bad


def flex_setup():
    from torch.nn.attention.flex_attention import BlockMask, flex_attention
    for name in ("cache_size_limit", "recompile_limit", "accumulated_cache_size_limit",
                 "accumulated_recompile_limit"):
        if hasattr(torch._dynamo.config, name):
            setattr(torch._dynamo.config, name, 4096)
    return BlockMask, torch.compile(flex_attention, dynamic=False)


def causal_mod(b, h, q_idx, kv_idx):
    return q_idx >= kv_idx


def flex_block_mask(BlockMask, kinds, S, blk, dev, mask_mod=None):
    """The equivalent BlockMask: kinds 1 -> full blocks, 2 -> partial blocks (mask_mod applied)."""
    k = kinds.to(dev)
    full, part = k == 1, k == 2

    def ordered(m):
        num = m.sum(-1, dtype=torch.int32)
        idx = torch.argsort((~m).to(torch.int8), dim=-1, stable=True).to(torch.int32)
        return num[None].contiguous(), idx[None].contiguous()

    pn, pi = ordered(part)
    fn, fi = ordered(full)
    mm = mask_mod or causal_mod
    try:
        return BlockMask.from_kv_blocks(pn, pi, fn, fi, BLOCK_SIZE=blk, mask_mod=mm, seq_lengths=(S, S))
    except TypeError:
        return BlockMask.from_kv_blocks(pn, pi, fn, fi, BLOCK_SIZE=blk, mask_mod=mm)


def coarsen_kinds(kinds64):
    """64-blocks -> 128-blocks: 1 if all four are full, 0 if all empty, else 2 (partial: mask_mod decides)."""
    MH, n, _ = kinds64.shape
    k = kinds64.view(MH, n // 2, 2, n // 2, 2)
    allfull = (k == 1).all(dim=4).all(dim=2)
    allempty = (k == 0).all(dim=4).all(dim=2)
    return torch.where(allfull, 1, torch.where(allempty, 0, 2)).to(torch.int8)


def bench_main(lib, out_dir, seqs, dims, budget_s, quick, flex_ok=True, wgmma=False):
    dev = "cuda"
    from torch.nn.attention import SDPBackend, sdpa_kernel
    BlockMask, flex = flex_setup() if flex_ok else (None, None)
    H = 16
    rows = []
    csv_path = os.path.join(out_dir, "bench.csv")
    jl = open(os.path.join(out_dir, "bench.jsonl"), "a")
    fields = ["S", "B", "H", "D", "pattern", "block", "density", "method", "variant", "time_ms", "min_ms", "reps",
              "tflops", "note"]
    new = not os.path.exists(csv_path)
    csv = open(csv_path, "a", newline="")
    cw = csvmod.writer(csv)
    if new:
        cw.writerow(fields)

    def emit(rec):
        rows.append(rec)
        cw.writerow([rec.get(f, "") for f in fields])
        csv.flush()
        jl.write(json.dumps(rec) + "\n")
        jl.flush()

    sdpa_cache, torch_dense_cache, f32_cache = {}, {}, {}
    allowed = allowed_tilings(out_dir)
    log(f"tilings allowed by the numerics: {sorted(allowed)}")
    for S in seqs:
        B = max(1, 16384 // S)
        for D in dims:
            if time.time() - T0 > budget_s:
                log(f"budget reached: skipping S={S} D={D}")
                continue
            g = torch.Generator(device=dev).manual_seed(S + D)
            q = torch.randn(B, H, S, D, generator=g, device=dev, dtype=torch.float16)
            k = torch.randn(B, H, S, D, generator=g, device=dev, dtype=torch.float16)
            v = torch.randn(B, H, S, D, generator=g, device=dev, dtype=torch.float16)
            o = torch.empty_like(q)
            scale = 1.0 / math.sqrt(D)
            patterns = []
            for dens in ([0.05, 0.1, 0.25, 0.5, 1.0] if not quick else [0.1, 1.0]):
                patterns.append((f"random", 128, dens, random_kinds(S, 128, dens, H, seed=int(dens * 1000) + S),
                                 False))
            patterns.append(("local_stride", 64, None, local_stride_kinds(S, 64, 16, 8, H), True))
            patterns.append(("a_shape", 128, None, a_shape_kinds(S, 128, 1, 8), True))
            patterns.append(("causal", 128, None, causal_kinds(S, 128), True))
            if quick:
                patterns = [p for p in patterns if p[0] in ("random", "causal", "local_stride")]
            for pname, blk, dens, kinds, causal in patterns:
                if time.time() - T0 > budget_s:
                    log(f"budget reached: skipping S={S} D={D} {pname}")
                    continue
                MH = kinds.shape[0]
                heads = B * H
                try:
                    m_native = lib.mask_from_kinds(kinds, S, blk, blk)
                except Exception as ex:
                    log("mask build failed", ex)
                    continue
                computed = m_native.computed * (heads // MH)
                flops = 4.0 * D * computed
                density = m_native.computed / (MH * S * S)
                base = {"S": S, "B": B, "H": H, "D": D, "pattern": pname, "block": blk,
                        "density": round(density, 5)}

                def tf(ms):
                    return round(flops / (ms * 1e-3) / 1e12, 2) if ms > 0 else 0

                # ---- the fused kernel: each tiling (128-blocks also with the q-block split into 64s)
                cands = []  # (block mask, tiling, variant suffix)
                if blk == 128:
                    cands += [(m_native, t, "") for t in (
                        "q128_w4", "wg128", "wg128_m2", "wg128_s3", "wg128_p", "wg128_n128", "wg128_n128_s3",
                        "wg128_n128_p", "wg128_ws", "wg128_wsp", "auto")]
                    cands += [(m_native, "wg128_n128_m2", "")] if D == 64 else []
                    # the same element mask as q-block 64 x kv-block 128 (each 128-row block split in two)
                    if S % 128 == 0:
                        try:
                            m_split = lib.mask_from_kinds(kinds.repeat_interleave(2, dim=1), S, 64, 128)
                            cands += [(m_split, t, "/q64split") for t in ("wg64_p", "wg64_n128") + (
                                ("wg64_n128_m3",) if D == 64 else ())]
                        except Exception as ex:
                            log(f"split mask failed: {ex}")
                else:
                    cands += [(m_native, t, "") for t in ("q64_w4", "q64_w2", "wg64", "wg64_s3", "wg64_p") + (
                        ("wg64_m4",) if D == 64 else ())]
                    # the same element mask with pairs of 64-row q-blocks merged (kv list = the union)
                    try:
                        m_merged = lib.merge_q(m_native)
                        cands += [(m_merged, t, "/q128merge") for t in ("q128_w4", "wg128_m2", "wg128_p",
                                                                         "wg128_ws", "wg128_wsp", "auto")]
                    except Exception as ex:
                        log(f"merged mask failed: {ex}")
                # "auto": what forward() picks by itself (a tiling of the others; not counted for the best)
                cands = [c for c in cands if (c[1] in allowed or c[1] == "auto") and (wgmma or not c[1].startswith("wg"))]
                best = None
                ours_out = None
                for mk, t, suffix in cands:
                    try:
                        fn = lambda mk=mk, t=t: lib.forward(mk, q, k, v, o, t)
                        ms, mn, n = bench(fn)
                        emit(dict(base, method="fused", variant=t + suffix,
                                  time_ms=round(ms, 4), min_ms=round(mn, 4), reps=n, tflops=tf(ms)))
                        if t != "auto" and (best is None or ms < best[0]):
                            best = (ms, mn, n, t + suffix)
                            ours_out = o.clone() if S <= 16384 else None
                    except Exception as ex:
                        log(f"fused {t}{suffix} failed: {ex}")
                if best:
                    emit(dict(base, method="fused_best", variant=best[3], time_ms=round(best[0], 4),
                              min_ms=round(best[1], 4), reps=best[2], tflops=tf(best[0])))

                # ---- FlexAttention (torch.compile'd) with the equivalent BlockMask
                flex_times = []
                if flex is not None:
                    variants = []
                    if blk == 128:
                        variants.append(("blockmask128", kinds, 128, None, None))
                    else:
                        variants.append(("blockmask64_tiles64x64", kinds, 64, None, {"BLOCK_M": 64, "BLOCK_N": 64}))
                        if S % 128 == 0:
                            tab = kinds.to(dev)

                            def lookup_mod(b, h, q_idx, kv_idx, tab=tab):
                                kk = tab[h, q_idx // 64, kv_idx // 64]
                                return (kk == 1) | ((kk == 2) & (q_idx >= kv_idx))

                            variants.append(("blockmask128_maskmod", coarsen_kinds(kinds), 128, lookup_mod, None))
                    for vname, kk, fb, mm, ko in variants:
                        if time.time() - T0 > budget_s:
                            break
                        try:
                            t_c = time.time()
                            bm = flex_block_mask(BlockMask, kk, S, fb, dev, mm)
                            fn = lambda bm=bm, ko=ko: flex(q, k, v, block_mask=bm, scale=scale, kernel_options=ko)
                            out_f = fn()
                            torch.cuda.synchronize()
                            comp_s = time.time() - t_c
                            agree = ""
                            if ours_out is not None:
                                e = err(ours_out, out_f)
                                agree = f"fused vs flex max_err_rel={e['max_err_rel']:.2e}"
                            del out_f
                            ms, mn, n = bench(fn)
                            flex_times.append(ms)
                            emit(dict(base, method="flex", variant=vname, time_ms=round(ms, 4), min_ms=round(mn, 4),
                                      reps=n, tflops=tf(ms), note=f"compile+first {comp_s:.1f}s; {agree}"))
                        except Exception as ex:
                            log(f"flex {vname} failed: {type(ex).__name__}: {str(ex)[:300]}")
                    if flex_times:
                        emit(dict(base, method="flex_best", variant="", time_ms=round(min(flex_times), 4),
                                  tflops=tf(min(flex_times))))

                # ---- SDPA FlashAttention backend (dense; causal when the pattern is)
                key = (S, D, causal)
                if key not in sdpa_cache:
                    try:
                        with sdpa_kernel([SDPBackend.FLASH_ATTENTION]):
                            fn = lambda: F.scaled_dot_product_attention(q, k, v, is_causal=causal, scale=scale)
                            sdpa_cache[key] = bench(fn)
                            if pname == "causal" and ours_out is not None:
                                e = err(ours_out, fn())
                                log(f"S={S} D={D} causal: fused vs SDPA max_err_rel={e['max_err_rel']:.2e}")
                    except Exception as ex:
                        log(f"sdpa failed: {ex}")
                        sdpa_cache[key] = None
                if sdpa_cache[key]:
                    ms, mn, n = sdpa_cache[key]
                    emit(dict(base, method="sdpa_flash", variant="causal" if causal else "dense", time_ms=round(ms, 4),
                              min_ms=round(mn, 4), reps=n, tflops=tf(ms),
                              note="dense: computes every (causal) element"))

                # ---- cuBLAS dense: fp16 via torch.matmul, and gpu_ref's fp32 path
                inter = B * H * S * S
                if key not in torch_dense_cache:
                    torch_dense_cache[key] = None
                    if inter * 2 * 2 <= 24e9:
                        try:
                            tri = (torch.ones(S, S, device=dev, dtype=torch.bool).triu(1)) if causal else None

                            def dense16():
                                s_ = torch.matmul(q, k.transpose(-1, -2))
                                s_.mul_(scale)
                                if tri is not None:
                                    s_.masked_fill_(tri, float("-inf"))
                                return torch.matmul(torch.softmax(s_, -1), v)

                            torch_dense_cache[key] = bench(dense16, target_ms=100)
                            del tri
                        except Exception as ex:
                            log(f"torch dense failed: {ex}")
                        torch.cuda.empty_cache()
                if torch_dense_cache[key]:
                    ms, mn, n = torch_dense_cache[key]
                    emit(dict(base, method="cublas_fp16_dense", variant="torch.matmul+softmax", time_ms=round(ms, 4),
                              min_ms=round(mn, 4), reps=n, tflops=tf(ms)))
                if key not in f32_cache:
                    f32_cache[key] = None
                    if inter * 4 * 2 <= 24e9:
                        try:
                            q32, k32, v32 = q.float(), k.float(), v.float()
                            o32 = torch.empty_like(q32)
                            sc = torch.empty(B * H, S, S, device=dev)
                            pr = torch.empty(B * H, S, S, device=dev)
                            f32_cache[key] = bench(lambda: lib.dense_fp32(q32, k32, v32, o32, sc, pr, causal),
                                                   target_ms=100, min_reps=3)
                            del q32, k32, v32, o32, sc, pr
                        except Exception as ex:
                            log(f"gpu_ref dense fp32 failed: {ex}")
                        torch.cuda.empty_cache()
                if f32_cache[key]:
                    ms, mn, n = f32_cache[key]
                    emit(dict(base, method="cublas_fp32_dense", variant="gpu_ref dense (SGEMM, no TF32)",
                              time_ms=round(ms, 4), min_ms=round(mn, 4), reps=n, tflops=tf(ms)))

                # ---- gpu_ref's cuSPARSE path on the element mask (fp32), where it fits
                nnz = m_native.kept * (heads // MH)
                if nnz <= 3.0e8 and MH * S * S <= 2 ** 31 and time.time() - T0 < budget_s:
                    try:
                        emask = element_mask_from_kinds(kinds, S, blk, dev)
                        rowptr, cols = global_csr(emask, heads)
                        del emask
                        q32, k32, v32 = q.float(), k.float(), v.float()
                        o32 = torch.empty_like(q32)
                        plan = SparsePlan(lib, rowptr, cols, q32, k32, v32, o32)
                        ms, mn, n = bench(plan.run, warmup=1, target_ms=300, min_reps=3, max_reps=10)
                        note = f"nnz={nnz}; {plan.layout}"
                        if ours_out is not None:
                            e = err(ours_out, o32)
                            note += f"; fused vs cuSPARSE max_err_rel={e['max_err_rel']:.2e}"
                        emit(dict(base, method="cusparse_fp32", variant="SDDMM+softmax+SpMM", time_ms=round(ms, 4),
                                  min_ms=round(mn, 4), reps=n, tflops=tf(ms), note=note))
                        del plan, q32, k32, v32, o32, rowptr, cols
                    except Exception as ex:
                        log(f"cusparse failed: {type(ex).__name__}: {str(ex)[:200]}")
                    torch.cuda.empty_cache()

                sel = {r["method"]: r["time_ms"] for r in rows if r["S"] == S and r["D"] == D and
                       r["pattern"] == pname and r["density"] == base["density"]}
                log(f"S={S:6d} D={D:3d} {pname:12s} dens={density:.3f} " +
                    " ".join(f"{m}={t:.3f}" for m, t in sel.items() if m in
                             ("fused_best", "flex_best", "sdpa_flash", "cusparse_fp32", "cublas_fp16_dense",
                              "cublas_fp32_dense")))
                ours_out = None
            del q, k, v, o
            torch.cuda.empty_cache()
    csv.close()
    jl.close()
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--phases", default="numerics,bench")
    ap.add_argument("--seqs", default="1024,4096,16384,32768")
    ap.add_argument("--dims", default="128,64")
    ap.add_argument("--budget-s", type=float, default=420)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-flex", action="store_true")
    ap.add_argument("--variant", type=int, default=0)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    lib = Lib(a.lib)
    log(f"torch {torch.__version__}, {torch.cuda.get_device_name()}, cuda {torch.version.cuda}")
    ok = True
    if a.phases == "wgprobe":
        wgmma_probe(a.lib, a.variant)
        return 0
    wg_variant = None
    if "numerics" in a.phases or "bench" in a.phases:
        wg_variant = choose_wgmma_variant(a.lib, a.out) if lib.wgmma else None
        if wg_variant is not None:
            lib.set_wgmma_variant(wg_variant)
        log(f"wgmma: available={lib.wgmma} descriptor variant={wg_variant}")
    if "numerics" in a.phases:
        try:
            ok = numerics(lib, a.out, a.quick, wg_variant) and ok
        except Exception:
            traceback.print_exc()
            ok = False
    if "bench" in a.phases:
        bench_main(lib, a.out, [int(x) for x in a.seqs.split(",")], [int(x) for x in a.dims.split(",")],
                   a.budget_s, a.quick, flex_ok=not a.no_flex, wgmma=wg_variant is not None)
    log("done")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
