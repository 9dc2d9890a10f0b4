#!/usr/bin/env python3
"""Capture the attention Q/K/V of a causal language model as an attnsim workload.

What it does
------------
Runs a PyTorch causal language model on a token sequence and records, for
every layer, the query, key and value tensors that the model hands to
torch.nn.functional.scaled_dot_product_attention (after RoPE or any other
position encoding, split into heads). They are written as attnsim's npy
workload:

    <out-dir>/<name>_q.npy, _k.npy, _v.npy   [layers, heads, seq, head_dim],
                                             float16 or float32, C order
    <out-dir>/<name>.json                    the workload (causal: true)
    <out-dir>/<name>_meta.json               what was captured and how

How
---
* torch.nn.functional.scaled_dot_product_attention is replaced by a recorder
  for the duration of the capture; the model's calls reach the real function
  unchanged. Hugging Face models are loaded with attn_implementation="sdpa",
  so every decoder layer makes one such call; the capture checks that each
  forward step makes exactly one call per layer.
* The sequence is fed in chunks of --chunk tokens (chunked prefill) through
  the model's KV cache. In each call the model sees q for the chunk's rows and
  k/v for every token so far; q and the chunk's new k/v rows go straight into
  preallocated .npy memory maps, so nothing beyond one chunk and the model's
  own KV cache is held in memory.
* Outputs are written as <file>.tmp and renamed only after every chunk has
  been recorded and checked: an error or a crash leaves nothing under the
  final names.
* Grouped-query attention: where k/v have fewer heads than q, each k/v head
  is repeated for the query heads that share it (head h uses k/v head
  h // (heads / kv_heads), as torch's enable_gqa does), so the workload has
  one k and v per query head. The meta says so.
* attnsim computes softmax(q k^T / sqrt(head_dim)) with a causal mask. Where
  the model passes another `scale`, q is multiplied by scale * sqrt(head_dim)
  so that q k^T / sqrt(head_dim) equals the model's logits (the meta records
  the model's scale and the factor). Each call's mask (is_causal, an explicit
  mask, none) is checked against the causal mask and recorded; a mask that is
  not the plain causal one (sliding window, ALiBi bias) is a warning.

Usage (from the repository root; torch and transformers are needed only here)
------------------------------------------------------------------------------
    python3 scripts/capture_qkv.py --model ~/models/Llama-3.2-1B \\
        --text book.txt --seq 8192 --out-dir workloads --name llama1b_s8k

--model is a local Hugging Face model folder, opened with
local_files_only=True (nothing is downloaded). --tokens FILE.npy (integer
token ids) replaces --text and needs no tokenizer. Errors (a missing folder,
PyTorch missing, a text shorter than --seq, outputs that already exist) print
one line and exit with code 2.

Python API: capture(model_step, layers, heads, head_dim, tokens, chunk, ...)
captures any model for which model_step(token_ids_chunk, state) -> state runs
one chunk forward with its KV cache (state is None for the first chunk).
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import argparse
import errno
import hashlib
import json
import math
import platform
import re
import sys
import time
from pathlib import Path

try:
    import numpy as np
    from numpy.lib import format as npy_format
except ImportError:
    print("error: numpy is needed: pip install numpy", file=sys.stderr)
    sys.exit(2)

FP16_MAX = 65504.0
MAX_SEQ = 1 << 20       # functional/workload/workload.cpp: seq_len <= 2^20
MAX_DIM = 1024          # ... and layers, heads, head_dim <= 1024
KINDS = ("q", "k", "v")
# Mask kinds (see _mask_kind) that give each query row exactly the causal set.
CAUSAL_KINDS = ("is_causal", "causal_mask", "single_query")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class CaptureError(Exception):
    """A problem with the inputs or the model: one line, exit code 2."""


# --------------------------------------------------------------------------
# Output files (numpy only)
# --------------------------------------------------------------------------

def output_paths(out_dir, name):
    """The final paths of a capture: q, k, v, the meta JSON and the workload JSON
    (the workload last: it is renamed last)."""
    out_dir = Path(out_dir)
    paths = {t: out_dir / f"{name}_{t}.npy" for t in KINDS}
    paths["meta"] = out_dir / f"{name}_meta.json"
    paths["workload"] = out_dir / f"{name}.json"
    return paths


def check_outputs_free(out_dir, name, force=False):
    if not NAME_RE.match(name or ""):
        raise CaptureError(f"--name {name!r}: use letters, digits, '.', '_' and '-' "
                           "(starting with a letter or digit)")
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise CaptureError(f"--out-dir {out_dir} is not a folder")
    if not force:
        for p in output_paths(out_dir, name).values():
            if p.exists():
                raise CaptureError(f"{p} already exists (pass --force to replace the capture)")


def _fsync(path):
    with open(path, "rb") as f:
        os.fsync(f.fileno())


class NpyCaptureWriter:
    """q, k, v of shape [layers, heads, seq, head_dim], written chunk by chunk.

    The arrays are .npy v1.0 memory maps named <final>.tmp. write() stores a
    block of token rows of one layer; commit() checks that every row of every
    layer was written, flushes, writes the two JSON files and renames all five
    files to their final names (the workload JSON last). Leaving the `with`
    block with an exception, or abort(), removes the .tmp files.
    """

    def __init__(self, out_dir, name, shape, dtype="float16", force=False):
        if dtype not in ("float16", "float32"):
            raise CaptureError(f"dtype {dtype!r}: use float16 or float32")
        shape = tuple(int(x) for x in shape)
        if len(shape) != 4 or min(shape) < 1:
            raise CaptureError(f"shape {shape}: expected [layers, heads, seq, head_dim], all >= 1")
        L, H, S, D = shape
        if max(L, H, D) > MAX_DIM or S > MAX_SEQ:
            raise CaptureError(f"shape {list(shape)} is beyond attnsim's limits "
                               f"(layers, heads, head_dim <= {MAX_DIM}, seq <= {MAX_SEQ})")
        check_outputs_free(out_dir, name, force)
        self.out_dir = Path(out_dir)
        self.name = name
        self.shape = shape
        self.dtype = dtype
        self.np_dtype = np.dtype("<f2" if dtype == "float16" else "<f4")
        self.final = output_paths(out_dir, name)
        self.tmp = {k: p.with_name(p.name + ".tmp") for k, p in self.final.items()}
        self.rows = {t: np.zeros(L, dtype=np.int64) for t in KINDS}
        self.absmax = {t: np.zeros(L, dtype=np.float64) for t in KINDS}
        self._mm = {}
        self._open = True
        where = self.out_dir
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            for t in KINDS:
                where = self.tmp[t]
                self._mm[t] = npy_format.open_memmap(
                    where, mode="w+", dtype=self.np_dtype, shape=shape,
                    fortran_order=False, version=(1, 0))
                self._reserve(where)
        except OSError as e:
            self.abort()
            raise CaptureError(f"cannot create {where}: {e.strerror or e}") from e
        except BaseException:
            self.abort()
            raise

    @property
    def nbytes(self):
        return int(np.prod(self.shape)) * self.np_dtype.itemsize

    def _reserve(self, path):
        # A memory map over a sparse file dies with SIGBUS when the disk fills
        # up; reserving the blocks now turns that into an error up front.
        if not hasattr(os, "posix_fallocate"):
            return
        size = os.path.getsize(path)
        fd = os.open(path, os.O_RDWR)
        try:
            os.posix_fallocate(fd, 0, size)
        except OSError as e:
            if e.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
                raise CaptureError(
                    f"not enough disk space in {self.out_dir}: the capture needs "
                    f"3 x {self.nbytes / 2**30:.2f} GiB") from e
            # EOPNOTSUPP/EINVAL: the file system cannot reserve; go on.
        finally:
            os.close(fd)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self.abort()
        return False

    def write(self, kind, layer, start, rows):
        """rows: [heads, n, head_dim] for tokens [start, start + n) of layer."""
        if not self._open:
            raise RuntimeError("writer is closed")
        L, H, S, D = self.shape
        rows = np.asarray(rows)
        n = rows.shape[1] if rows.ndim == 3 else -1
        if rows.ndim != 3 or rows.shape[0] != H or rows.shape[2] != D:
            raise CaptureError(f"layer {layer}: {kind} block has shape {list(rows.shape)}, "
                               f"expected [{H}, n, {D}]")
        if not (0 <= layer < L and 0 <= start and start + n <= S):
            raise CaptureError(f"{kind} rows {start}..{start + n} of layer {layer} are "
                               f"outside [{L} layers, {S} tokens]")
        if not np.isfinite(rows).all():
            raise CaptureError(f"layer {layer}: {kind} has NaN or Inf in tokens "
                               f"{start}..{start + n - 1} (attnsim rejects them)")
        m = float(np.abs(rows).max()) if rows.size else 0.0
        if self.dtype == "float16" and m > FP16_MAX:
            raise CaptureError(f"layer {layer}: |{kind}| reaches {m:.4g}, beyond float16's "
                               f"range ({FP16_MAX:.0f}): capture with --dtype float32")
        self.absmax[kind][layer] = max(self.absmax[kind][layer], m)
        self._mm[kind][layer, :, start:start + n, :] = rows
        self.rows[kind][layer] += n

    def commit(self, workload, meta):
        """Flush, write the JSONs and rename everything to the final names."""
        L, H, S, D = self.shape
        for t in KINDS:
            short = np.nonzero(self.rows[t] != S)[0]
            if short.size:
                l = int(short[0])
                raise CaptureError(f"layer {l}: {int(self.rows[t][l])} of {S} {t} rows were "
                                   "written; refusing to finish an incomplete capture")
        for t in KINDS:
            self._mm[t].flush()
        self._mm.clear()  # drops the maps (closes them)
        for t in KINDS:
            _fsync(self.tmp[t])
        for key, obj in (("meta", meta), ("workload", workload)):
            with open(self.tmp[key], "w") as f:
                f.write(json.dumps(obj, indent=2) + "\n")
                f.flush()
                os.fsync(f.fileno())
        for key in ("q", "k", "v", "meta", "workload"):
            os.replace(self.tmp[key], self.final[key])
        try:
            fd = os.open(self.out_dir, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError:
            pass
        self._open = False
        return dict(self.final)

    def abort(self):
        self._mm.clear()
        for p in self.tmp.values():
            try:
                p.unlink()
            except FileNotFoundError:
                pass
        self._open = False


def workload_json(name, layers, heads, seq, head_dim, description=""):
    """attnsim's workload descriptor for NAME_{q,k,v}.npy beside it (causal)."""
    w = {"name": name}
    if description:
        w["description"] = description
    w.update({
        "layers": int(layers),
        "heads": int(heads),
        "seq_len": int(seq),
        "head_dim": int(head_dim),
        "batch": 1,
        "causal": True,
        "data": {"kind": "npy", "q": f"{name}_q.npy", "k": f"{name}_k.npy", "v": f"{name}_v.npy"},
    })
    return w


def tokens_sha256(tokens):
    return hashlib.sha256(np.ascontiguousarray(tokens, dtype="<i8").tobytes()).hexdigest()


def file_sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def take_tokens(ids, seq, repeat=False, keep_prefix=0, what="the input"):
    """The first seq tokens of ids; with repeat, ids[keep_prefix:] is tiled
    after ids[:keep_prefix] until there are seq. Returns (tokens, times)."""
    ids = np.asarray(ids, dtype=np.int64).reshape(-1)
    if seq is None:
        seq = ids.size
    if seq < 1:
        raise CaptureError(f"--seq {seq}: must be at least 1")
    if seq > MAX_SEQ:
        raise CaptureError(f"--seq {seq} is beyond attnsim's limit of {MAX_SEQ} tokens")
    if ids.size == 0:
        raise CaptureError(f"{what} has no tokens")
    if ids.size >= seq:
        return ids[:seq].copy(), 1.0
    if not repeat:
        raise CaptureError(f"{what} has {ids.size} tokens, fewer than --seq {seq} "
                           "(pass --repeat to tile it)")
    head, body = ids[:keep_prefix], ids[keep_prefix:]
    if body.size == 0:
        raise CaptureError(f"{what} has no tokens to repeat")
    reps = -(-(seq - head.size) // body.size)
    out = np.concatenate([head, np.tile(body, reps)])[:seq]
    return out, (seq - head.size) / body.size


def load_token_file(path):
    path = Path(path)
    if not path.is_file():
        raise CaptureError(f"--tokens {path}: no such file")
    try:
        a = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as e:
        raise CaptureError(f"--tokens {path}: not a .npy file ({e})") from e
    if a.dtype.kind not in "iu":
        raise CaptureError(f"--tokens {path}: dtype {a.dtype}, expected integer token ids")
    if a.ndim == 2 and a.shape[0] == 1:
        a = a[0]
    if a.ndim != 1:
        raise CaptureError(f"--tokens {path}: shape {list(a.shape)}, expected [n] or [1, n]")
    if a.size and a.min() < 0:
        raise CaptureError(f"--tokens {path}: negative token id {int(a.min())}")
    return a.astype(np.int64)


# --------------------------------------------------------------------------
# Progress
# --------------------------------------------------------------------------

def _hms(s):
    s = int(round(s))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


class Progress:
    def __init__(self, total, enabled):
        self.total, self.enabled = total, enabled
        self.t0 = time.monotonic()

    def update(self, done):
        if not self.enabled:
            return
        el = time.monotonic() - self.t0
        frac = done / self.total if self.total else 1.0
        eta = el * (self.total - done) / done if done else 0.0
        bar = "#" * int(30 * frac)
        sys.stderr.write(f"\r[{bar:<30}] {done}/{self.total} tokens  "
                         f"{_hms(el)} elapsed  ETA {_hms(eta)} ")
        sys.stderr.flush()

    def close(self):
        if self.enabled:
            sys.stderr.write("\n")
            sys.stderr.flush()


# --------------------------------------------------------------------------
# The recorder (torch)
# --------------------------------------------------------------------------

def import_torch():
    try:
        import torch
    except ImportError as e:
        raise CaptureError("PyTorch is needed: pip install torch") from e
    return torch


def _sdpa_args(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False,
               scale=None, enable_gqa=False, **extra):
    """torch.nn.functional.scaled_dot_product_attention's signature."""
    return query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa, extra


def _mask_kind(torch, attn_mask, is_causal, n, total):
    """How the call restricts query rows [total-n, total) over keys [0, total):
    is_causal     is_causal=True and square (torch aligns it top-left)
    causal_mask   an explicit mask equal to the causal mask (bottom-right)
    single_query  one query row and no mask: it sees every past key (causal)
    is_causal_top_left  is_causal=True with fewer queries than keys: NOT causal
    none          several query rows and no mask: bidirectional
    other_mask    a mask that is not the causal one (sliding window, padding)
    bias_mask     a float mask with finite non-zero entries (ALiBi or similar)
    """
    if attn_mask is None:
        if is_causal:
            return "is_causal" if n == total else "is_causal_top_left"
        return "single_query" if n == 1 else "none"
    m = attn_mask
    if m.dim() < 2 or m.shape[-1] != total or m.shape[-2] not in (1, n):
        return "other_mask"
    i = torch.arange(n, device=m.device).unsqueeze(1)
    j = torch.arange(total, device=m.device).unsqueeze(0)
    causal = j <= i + (total - n)
    if m.dtype == torch.bool:
        allowed, bias = m, False
    else:
        blocked = m < torch.finfo(m.dtype).min / 2  # -inf or the dtype's minimum
        allowed = ~blocked
        bias = bool(((m != 0) & allowed).any())
    same = bool((allowed == causal).all())
    if bias:
        return "bias_mask"
    return "causal_mask" if same else "other_mask"


class SdpaRecorder:
    """Replaces torch.nn.functional.scaled_dot_product_attention while active
    (a context manager) and writes each call's q rows and new k/v rows into a
    NpyCaptureWriter. Call i of a forward step is layer i."""

    def __init__(self, torch, writer, layers, heads, head_dim):
        self.torch = torch
        self.writer = writer
        self.layers, self.heads, self.head_dim = layers, heads, head_dim
        self.default_scale = 1.0 / math.sqrt(head_dim)
        self.recording = False
        self.start = self.n = self.calls = 0
        self.steps = 0
        self.masks = [dict() for _ in range(layers)]
        self.scales = [None] * layers
        self.kv_heads = [set() for _ in range(layers)]
        self.enable_gqa = [False] * layers

    def __enter__(self):
        F = self.torch.nn.functional
        self._orig = F.scaled_dot_product_attention
        recorder = self

        def scaled_dot_product_attention(*args, **kwargs):
            if recorder.recording:
                recorder._record(*args, **kwargs)
            return recorder._orig(*args, **kwargs)

        F.scaled_dot_product_attention = scaled_dot_product_attention
        return self

    def __exit__(self, *exc):
        self.torch.nn.functional.scaled_dot_product_attention = self._orig
        self.recording = False
        return False

    def begin_step(self, start, n):
        self.start, self.n, self.calls = start, n, 0
        self.recording = True

    def end_step(self):
        self.recording = False
        self.steps += 1
        if self.calls != self.layers:
            hint = (" (the model does not call torch.nn.functional.scaled_dot_product_attention: "
                    "a Hugging Face model must support attn_implementation='sdpa'; code that "
                    "imported the function by name before the capture is not seen)"
                    if self.calls == 0 else "")
            raise CaptureError(
                f"forward step {self.steps} (tokens {self.start}..{self.start + self.n - 1}) "
                f"made {self.calls} scaled_dot_product_attention calls, expected one per "
                f"layer ({self.layers}){hint}")

    def _record(self, *args, **kwargs):
        torch = self.torch
        q, k, v, mask, dropout_p, is_causal, scale, enable_gqa, _ = _sdpa_args(*args, **kwargs)
        layer = self.calls
        self.calls += 1
        where = f"layer {layer} (sdpa call {layer + 1} of forward step {self.steps + 1})"
        if layer >= self.layers:
            raise CaptureError(f"the model made more than {self.layers} (the number of layers) "
                               "scaled_dot_product_attention calls in one forward step")
        t = []
        for name, x in (("q", q), ("k", k), ("v", v)):
            if x.dim() == 3:
                x = x.unsqueeze(0)
            if x.dim() != 4:
                raise CaptureError(f"{where}: {name} has shape {list(x.shape)}, "
                                   "expected (batch, heads, tokens, head_dim)")
            if x.shape[0] != 1:
                raise CaptureError(f"{where}: batch {x.shape[0]}; the capture needs batch 1")
            t.append(x[0])
        q, k, v = t
        H, n, D = q.shape
        Hk, total = k.shape[0], k.shape[1]
        if H != self.heads:
            raise CaptureError(f"{where}: {H} query heads, expected {self.heads}")
        if D != self.head_dim or k.shape[2] != D or v.shape[2] != D:
            raise CaptureError(f"{where}: head dims q {D}, k {k.shape[2]}, v {v.shape[2]}; "
                               f"expected {self.head_dim} for all three")
        if n != self.n:
            raise CaptureError(f"{where}: {n} query rows for a chunk of {self.n} tokens")
        want = self.start + self.n
        if total != want or v.shape[1] != total or v.shape[0] != Hk:
            raise CaptureError(
                f"{where}: k/v cover {total} tokens, expected {want} (every token so far): "
                "the KV cache was not passed between chunks or does not keep every token "
                "(sliding window?); try --chunk larger than the sequence")
        if Hk != H and (Hk == 0 or H % Hk):
            raise CaptureError(f"{where}: {H} query heads are not a multiple of {Hk} k/v heads")
        if dropout_p:
            raise CaptureError(f"{where}: dropout_p={dropout_p}: put the model in eval mode")

        kind = _mask_kind(torch, mask, bool(is_causal), n, total)
        self.masks[layer][kind] = self.masks[layer].get(kind, 0) + 1
        s = self.default_scale if scale is None else float(scale)
        if self.scales[layer] is None:
            self.scales[layer] = s
        elif not math.isclose(self.scales[layer], s, rel_tol=1e-6):
            raise CaptureError(f"{where}: scale {s} differs from the {self.scales[layer]} "
                               "of an earlier chunk")
        self.kv_heads[layer].add(int(Hk))
        self.enable_gqa[layer] = self.enable_gqa[layer] or bool(enable_gqa)

        def host(x):
            return x.detach().to(torch.float32).cpu().numpy()

        factor = s / self.default_scale
        qh = host(q)
        if not math.isclose(factor, 1.0, rel_tol=1e-6):
            qh = qh * np.float32(factor)
        kh, vh = host(k[:, total - n:, :]), host(v[:, total - n:, :])
        if Hk != H:
            kh = np.repeat(kh, H // Hk, axis=0)
            vh = np.repeat(vh, H // Hk, axis=0)
        w = self.writer
        w.write("q", layer, self.start, qh)
        w.write("k", layer, self.start, kh)
        w.write("v", layer, self.start, vh)

    def summary(self):
        D = self.head_dim
        layers = []
        warnings = []
        for l in range(self.layers):
            s = self.scales[l]
            layers.append({
                "layer": l,
                "mask": dict(sorted(self.masks[l].items())),
                "scale": s,
                "q_scale_factor": s / self.default_scale,
                "kv_heads_in_call": sorted(self.kv_heads[l]),
                "enable_gqa": self.enable_gqa[l],
            })
        bad = sorted({k for m in self.masks for k in m if k not in CAUSAL_KINDS})
        for kind in bad:
            ls = [l for l in range(self.layers) if kind in self.masks[l]]
            warnings.append(
                f"layers {_ranges(ls)}: the model's attention mask was '{kind}', not the plain "
                "causal mask attnsim simulates (see attention.mask_kinds)")
        folded = [l for l in range(self.layers)
                  if not math.isclose(self.scales[l], self.default_scale, rel_tol=1e-6)]
        kvh = sorted(set().union(*self.kv_heads))
        repeated = [h for h in kvh if h != self.heads]
        return {
            "sdpa_calls_per_step": self.layers,
            "causal": not bad,
            "mask_kinds": {
                "is_causal": "is_causal=True on a square call (as many queries as keys)",
                "causal_mask": "an explicit mask equal to the causal mask",
                "single_query": "one query row, no mask: it attends every earlier token",
                "is_causal_top_left": "is_causal=True with fewer queries than keys "
                                      "(torch aligns it top-left): not causal over the sequence",
                "none": "no mask: bidirectional",
                "other_mask": "a mask that is not the causal one (sliding window, padding)",
                "bias_mask": "a float mask with finite non-zero entries (e.g. ALiBi)",
            },
            "scale": {
                "attnsim": f"1/sqrt({D}) = {self.default_scale!r}",
                "folded_into_q": bool(folded),
                "note": ("q was multiplied by q_scale_factor = model scale * sqrt(head_dim) in "
                         f"layers {_ranges(folded)}, so q k^T / sqrt({D}) equals the model's "
                         "logits" if folded else
                         f"every call used 1/sqrt({D}); q is stored unchanged"),
            },
            "gqa": {
                "query_heads": self.heads,
                "kv_heads_in_call": kvh[0] if len(kvh) == 1 else kvh,
                "repeated_by_capture": bool(repeated),
                "note": (f"k/v had {' or '.join(map(str, repeated))} heads in (some of) the sdpa "
                         f"calls for {self.heads} query heads; each k/v head was repeated for the "
                         "query heads sharing it (query head h uses k/v head h // (heads / "
                         "kv_heads), as torch's enable_gqa does), so k and v have one head per "
                         "query head" if repeated else
                         "k/v had as many heads as q in the sdpa call (a model with grouped-"
                         "query attention may have repeated them itself)"),
            },
            "layers": layers,
        }, warnings


def _ranges(ls):
    if not ls:
        return "none"
    out, a = [], ls[0]
    for x, y in zip(ls, ls[1:] + [None]):
        if y != x + 1:
            out.append(str(a) if a == x else f"{a}-{x}")
            a = y
    return ",".join(out)


def capture(model_step, layers, heads, head_dim, tokens, chunk=1024, *, out_dir, name,
            dtype="float16", description="", meta=None, force=False, progress=None):
    """Capture q, k, v of every layer into out_dir/name_{q,k,v}.npy (+ name.json,
    name_meta.json). Returns the meta dict.

    model_step(token_ids_chunk, state) -> state runs one chunk forward (a 1-D
    int64 numpy array of token ids; state is None at the first chunk and
    otherwise what the previous call returned, the KV cache), with the model
    calling torch.nn.functional.scaled_dot_product_attention once per layer
    with q for the chunk and k/v for every token so far.
    layers, heads, head_dim: the query heads per layer and their dimension.
    progress: True/False, or None for a bar on a terminal stderr.
    """
    torch = import_torch()
    tokens = np.asarray(tokens, dtype=np.int64).reshape(-1)
    S = int(tokens.size)
    if S < 1:
        raise CaptureError("no tokens to capture")
    chunk = int(chunk)
    if chunk < 1:
        raise CaptureError(f"--chunk {chunk}: must be at least 1")
    if progress is None:
        progress = sys.stderr.isatty()
    shape = (int(layers), int(heads), S, int(head_dim))
    t0 = time.monotonic()
    with NpyCaptureWriter(out_dir, name, shape, dtype, force) as writer:
        bar = Progress(S, bool(progress))
        rec = SdpaRecorder(torch, writer, *shape[:2], shape[3])
        state = None
        try:
            with rec:
                for start in range(0, S, chunk):
                    ids = tokens[start:start + chunk]
                    rec.begin_step(start, int(ids.size))
                    state = model_step(ids, state)
                    rec.end_step()
                    bar.update(start + int(ids.size))
        finally:
            bar.close()
            state = None  # the KV cache can be large
        attention, warnings = rec.summary()
        out = {
            "tool": "scripts/capture_qkv.py",
            "workload": f"{name}.json",
            "files": {t: f"{name}_{t}.npy" for t in KINDS},
            "shape": list(shape),
            "layout": "[layer, head, token, head_dim], C order, batch 1",
            "dtype": dtype,
            "seq_len": S,
            "chunk": chunk,
            "forward_steps": rec.steps,
            "tokens_sha256": tokens_sha256(tokens),
            "attention": attention,
            "absmax": {t: [round(float(x), 6) for x in writer.absmax[t]] for t in KINDS},
            "versions": {
                "python": platform.python_version(),
                "numpy": np.__version__,
                "torch": torch.__version__,
            },
        }
        if meta:
            for key, val in meta.items():
                if key == "versions":
                    out["versions"].update(val)
                elif key == "warnings":
                    warnings = list(val) + warnings
                else:
                    out[key] = val
        out["warnings"] = warnings
        out["seconds"] = round(time.monotonic() - t0, 3)
        wl = workload_json(name, *shape[:2], S, shape[3], description)
        writer.commit(wl, out)
    return out


# --------------------------------------------------------------------------
# Hugging Face models
# --------------------------------------------------------------------------

def _version_tuple(v):
    return tuple(int(x) for x in re.findall(r"\d+", v)[:3])


def load_hf_model(path, device="cpu", torch_dtype="float32", trust_remote_code=False):
    """A local Hugging Face causal LM with attn_implementation="sdpa", in eval
    mode on device. Returns (model, transformers module)."""
    torch = import_torch()
    try:
        import transformers
        from transformers import AutoModelForCausalLM
    except ImportError as e:
        raise CaptureError("Hugging Face transformers is needed to load --model: "
                           "pip install transformers") from e
    if torch_dtype == "auto":
        dt = "auto"
    else:
        dt = getattr(torch, torch_dtype)
    dtype_key = "dtype" if _version_tuple(transformers.__version__) >= (4, 56) else "torch_dtype"
    kwargs = {"local_files_only": True, "attn_implementation": "sdpa", dtype_key: dt}
    if trust_remote_code:
        kwargs["trust_remote_code"] = True
    try:
        model = AutoModelForCausalLM.from_pretrained(str(path), **kwargs)
    except (OSError, ValueError, KeyError, ImportError) as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise CaptureError(f"cannot load the model in {path}: {first}") from e
    impl = getattr(model.config, "_attn_implementation", None)
    if impl is not None and impl != "sdpa":
        raise CaptureError(f"the model in {path} runs attention with {impl!r}, not 'sdpa'")
    model.eval()
    model.to(device)
    return model, transformers


def hf_dims(model):
    """(layers, heads, head_dim, kv_heads, vocab) from the model's config."""
    cfg = model.config
    if hasattr(cfg, "get_text_config"):
        cfg = cfg.get_text_config()
    try:
        layers = int(cfg.num_hidden_layers)
        heads = int(cfg.num_attention_heads)
    except AttributeError as e:
        raise CaptureError(f"the model's config has no layer or head count ({e})") from e
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // heads
    kv_heads = getattr(cfg, "num_key_value_heads", None) or heads
    vocab = getattr(cfg, "vocab_size", None)
    return layers, heads, int(head_dim), int(kv_heads), vocab


def hf_model_step(model, device):
    """model_step for capture(): runs the model's decoder (without the LM head:
    no logits are computed) on a chunk, with its KV cache as the state."""
    torch = import_torch()
    core = getattr(model, "base_model", None)
    if core is None:
        core = model

    def step(ids, state):
        x = torch.as_tensor(np.asarray(ids, dtype=np.int64), device=device).unsqueeze(0)
        with torch.inference_mode():
            out = core(input_ids=x, past_key_values=state, use_cache=True)
        cache = getattr(out, "past_key_values", None)
        if cache is None:
            raise CaptureError("the model returned no past_key_values (no KV cache)")
        return cache

    return step


def tokenize_text(model_dir, text_path, trust_remote_code=False):
    """Token ids of the text file with the model's tokenizer (special tokens as
    the tokenizer adds them). Returns (ids, number of leading special tokens)."""
    try:
        from transformers import AutoTokenizer
    except ImportError as e:
        raise CaptureError("Hugging Face transformers is needed for --text: "
                           "pip install transformers (or pass --tokens)") from e
    try:
        tok = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True,
                                            trust_remote_code=trust_remote_code)
    except (OSError, ValueError, KeyError, ImportError) as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise CaptureError(f"cannot load a tokenizer from {model_dir}: {first} "
                           "(pass --tokens FILE.npy instead)") from e
    tok.model_max_length = 1 << 62  # no "longer than the model" warning: we chunk
    text = Path(text_path).read_text(encoding="utf-8")
    ids = list(tok(text, add_special_tokens=True)["input_ids"])
    bos = getattr(tok, "bos_token_id", None)
    prefix = 1 if bos is not None and ids and ids[0] == bos else 0
    return np.array(ids, dtype=np.int64), prefix, type(tok).__name__


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------

def parse_args(argv):
    ap = argparse.ArgumentParser(
        description="Capture a causal LM's attention Q/K/V as an attnsim npy workload "
                    "(docs/real_workloads.md).")
    ap.add_argument("--model", required=True, type=Path,
                    help="a local Hugging Face model folder (config.json, weights); "
                         "nothing is downloaded")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--text", type=Path, help="a UTF-8 text file, tokenised with the "
                                               "model's tokenizer")
    src.add_argument("--tokens", type=Path, help="a .npy file of integer token ids, [n] or [1, n]")
    ap.add_argument("--seq", type=int, default=None,
                    help="capture the first SEQ tokens (default: all of the input)")
    ap.add_argument("--repeat", action="store_true",
                    help="tile the input when it has fewer than --seq tokens")
    ap.add_argument("--chunk", type=int, default=1024,
                    help="tokens per forward step (chunked prefill through the KV cache; "
                         "default 1024)")
    ap.add_argument("--dtype", choices=("float16", "float32"), default="float16",
                    help="dtype of the stored q, k, v (default float16)")
    ap.add_argument("--out-dir", type=Path, required=True)
    ap.add_argument("--name", required=True, help="writes NAME_{q,k,v}.npy, NAME.json, "
                                                  "NAME_meta.json in --out-dir")
    ap.add_argument("--device", default=None,
                    help="torch device (default: cuda when available, else cpu)")
    ap.add_argument("--torch-dtype", choices=("auto", "float32", "bfloat16", "float16"),
                    default=None, help="dtype the model runs in (default: the checkpoint's "
                                       "on a GPU, float32 on the CPU)")
    ap.add_argument("--trust-remote-code", action="store_true",
                    help="allow a model folder's own Python code (transformers' option)")
    ap.add_argument("--force", action="store_true", help="replace an existing capture")
    ap.add_argument("--quiet", action="store_true", help="no progress bar and no summary")
    return ap.parse_args(argv)


def run(args):
    model_dir = args.model.expanduser()
    if not model_dir.is_dir():
        raise CaptureError(f"model folder {model_dir} does not exist")
    if not (model_dir / "config.json").is_file():
        raise CaptureError(f"{model_dir} is not a Hugging Face model folder (no config.json)")
    if args.chunk < 1:
        raise CaptureError(f"--chunk {args.chunk}: must be at least 1")
    if args.seq is not None and not 1 <= args.seq <= MAX_SEQ:
        raise CaptureError(f"--seq {args.seq}: must be 1..{MAX_SEQ}")
    check_outputs_free(args.out_dir, args.name, args.force)
    source = {}
    if args.tokens is not None:
        ids = load_token_file(args.tokens)
        tokens, times = take_tokens(ids, args.seq, args.repeat, 0, f"--tokens {args.tokens}")
        source = {"tokens_file": str(args.tokens.resolve()),
                  "tokens_file_sha256": file_sha256(args.tokens)}
    else:
        if not args.text.is_file():
            raise CaptureError(f"--text {args.text}: no such file")
    torch = import_torch()
    if args.text is not None:
        ids, prefix, tok_name = tokenize_text(model_dir, args.text, args.trust_remote_code)
        tokens, times = take_tokens(ids, args.seq, args.repeat, prefix, f"--text {args.text}")
        source = {"text_file": str(args.text.resolve()), "text_sha256": file_sha256(args.text),
                  "tokenizer": tok_name, "text_tokens": int(ids.size),
                  "leading_special_tokens": prefix}
    if times > 1:
        source["repeated"] = (f"the input's {int(ids.size)} tokens were tiled {times:.2f} "
                              "times to reach --seq" + (" (the leading BOS kept once)"
                                                        if source.get("leading_special_tokens")
                                                        else ""))
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    tdt = args.torch_dtype or ("auto" if str(device).startswith("cuda") else "float32")
    try:
        torch.empty(1, device=device)
    except (RuntimeError, ValueError) as e:
        raise CaptureError(f"--device {device}: {str(e).splitlines()[0]}") from e
    model, transformers = load_hf_model(model_dir, device, tdt, args.trust_remote_code)
    layers, heads, head_dim, kv_heads, vocab = hf_dims(model)
    if vocab is not None and tokens.max() >= vocab:
        raise CaptureError(f"token id {int(tokens.max())} is outside the model's vocabulary "
                           f"of {vocab}")
    cfg_path = model_dir / "config.json"
    cfg = json.loads(cfg_path.read_text())
    warnings = []
    max_pos = cfg.get("max_position_embeddings")
    if isinstance(max_pos, int) and tokens.size > max_pos:
        warnings.append(f"seq {tokens.size} is longer than the model's "
                        f"max_position_embeddings ({max_pos})")
    meta = {
        "model": {
            "path": str(model_dir.resolve()),
            "config_sha256": file_sha256(cfg_path),
            "model_type": cfg.get("model_type"),
            "architectures": cfg.get("architectures"),
            "layers": layers, "heads": heads, "kv_heads": kv_heads, "head_dim": head_dim,
            "class": type(model).__name__,
            "attn_implementation": getattr(model.config, "_attn_implementation", None),
            "device": str(device),
            "torch_dtype": str(next(model.parameters()).dtype).replace("torch.", ""),
        },
        "input": dict(source, seq=int(tokens.size)),
        "versions": {"transformers": transformers.__version__},
        "warnings": warnings,
    }
    desc = (f"{cfg.get('model_type') or type(model).__name__} Q/K/V ({model_dir.name}) "
            f"captured by scripts/capture_qkv.py, seq {tokens.size}")
    try:
        out = capture(hf_model_step(model, device), layers, heads, head_dim, tokens, args.chunk,
                      out_dir=args.out_dir, name=args.name, dtype=args.dtype, description=desc,
                      meta=meta, force=args.force,
                      progress=(not args.quiet) and sys.stderr.isatty())
    except getattr(torch.cuda, "OutOfMemoryError", MemoryError) as e:
        raise CaptureError(f"out of GPU memory (try a smaller --chunk than {args.chunk}): "
                           f"{str(e).splitlines()[0]}") from e
    for w in out["warnings"]:
        print(f"warning: {w}", file=sys.stderr)
    if not args.quiet:
        paths = output_paths(args.out_dir, args.name)
        L, H, S, D = out["shape"]
        print(f"captured {L} layers x {H} heads x {S} tokens x {D} ({args.dtype}) in "
              f"{out['forward_steps']} chunks, {out['seconds']:.1f} s")
        for key in ("workload", "q", "k", "v", "meta"):
            print(f"  {paths[key]}")
    return out


def main(argv=None):
    args = parse_args(argv)
    try:
        run(args)
    except CaptureError as e:
        msg = " ".join(str(e).split())
        print(f"error: {msg}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
