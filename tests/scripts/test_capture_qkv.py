#!/usr/bin/env python3
"""ctest check of scripts/capture_qkv.py with PyTorch: a tiny Llama-style causal
LM with random weights (2 layers, 4 query heads, 2 KV heads, head dim 16, RoPE,
KV cache, torch.nn.functional.scaled_dot_product_attention) is captured in
chunks and checked:

* shapes, dtype and the workload JSON;
* the chunked capture (chunk 64 of 200 tokens) equals one unchunked forward;
* causal softmax(q k^T / sqrt(d)) v computed in numpy from the captured
  tensors equals the model's own attention output (the sdpa results), also
  when the model passes a non-default `scale` (folded into q);
* a failure mid-capture, or a wrong layer count, leaves no output files;
* with transformers importable: a tiny LlamaConfig model (random weights,
  saved to a temp folder; nothing downloaded) captured through the API and
  through the CLI (--tokens, and --text with a small tokenizer), same checks;
* with an attnsim binary (argument 1, else build/attnsim if present): attnsim's
  dense causal attention on the captured workload equals the model's output.

Runs on the CPU (and the tiny model also on CUDA where available). Exit 77
(skipped) where torch or numpy is not importable.

    python3 tests/scripts/test_capture_qkv.py [ATTNSIM_BINARY]
"""
import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import torch
except ImportError as e:
    print(f"skipped: {e}")
    sys.exit(77)
import torch.nn as nn
import torch.nn.functional as F

SRC = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(SRC, "scripts", "capture_qkv.py")
spec = importlib.util.spec_from_file_location("capture_qkv", SCRIPT)
cq = importlib.util.module_from_spec(spec)
spec.loader.exec_module(cq)

failures = []
attnsim = sys.argv[1] if len(sys.argv) > 1 else os.path.join(SRC, "build", "attnsim")
if not os.access(attnsim, os.X_OK):
    if len(sys.argv) > 1:
        print(f"FAIL attnsim binary {attnsim} is not an executable file")
        failures.append("attnsim binary")
    attnsim = None
LAYERS, HEADS, KV_HEADS, HEAD_DIM, VOCAB, DIM = 2, 4, 2, 16, 97, 64
SEQ, CHUNK = 200, 64


def check(name, cond, detail=""):
    if cond:
        print(f"ok {name}")
    else:
        print(f"FAIL {name}{': ' + detail if detail else ''}")
        failures.append(name)


def rel_err(got, want):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    return float(np.abs(got - want).max() / max(np.abs(want).max(), 1e-30))


def listing(d):
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def _sdpa_has_enable_gqa():
    try:
        q, k = torch.zeros(1, 4, 3, 8), torch.zeros(1, 2, 3, 8)
        F.scaled_dot_product_attention(q, k, k, enable_gqa=True)
        return True
    except (TypeError, RuntimeError):
        return False


GQA_IN_SDPA = _sdpa_has_enable_gqa()
SDPA = F.scaled_dot_product_attention


# ---------------------------------------------------------------- the tiny model

class RMSNorm(nn.Module):
    def __init__(self, dim, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope(x, pos, theta=10000.0):
    """Rotary position embedding (rotate-half form) of x (B, H, n, D) at positions pos (n,)."""
    half = x.shape[-1] // 2
    inv = 1.0 / theta ** (torch.arange(half, dtype=torch.float32, device=x.device) / half)
    ang = pos.to(torch.float32)[:, None] * inv[None, :]
    cos, sin = ang.cos().to(x.dtype), ang.sin().to(x.dtype)
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)


class Block(nn.Module):
    def __init__(self, dim, heads, kv_heads, head_dim):
        super().__init__()
        self.norm1, self.norm2 = RMSNorm(dim), RMSNorm(dim)
        self.wq = nn.Linear(dim, heads * head_dim, bias=False)
        self.wk = nn.Linear(dim, kv_heads * head_dim, bias=False)
        self.wv = nn.Linear(dim, kv_heads * head_dim, bias=False)
        self.wo = nn.Linear(heads * head_dim, dim, bias=False)
        self.up = nn.Linear(dim, 4 * dim, bias=False)
        self.down = nn.Linear(4 * dim, dim, bias=False)


class TinyLlama(nn.Module):
    """Llama-style causal LM: RMSNorm, RoPE, grouped-query attention through
    F.scaled_dot_product_attention (is_causal on the first chunk, an explicit
    boolean causal mask after it), SiLU MLP, a KV cache of post-RoPE k/v."""

    def __init__(self, scale=None):
        super().__init__()
        self.scale = scale
        self.emb = nn.Embedding(VOCAB, DIM)
        self.blocks = nn.ModuleList(Block(DIM, HEADS, KV_HEADS, HEAD_DIM) for _ in range(LAYERS))
        self.norm = RMSNorm(DIM)
        self.head = nn.Linear(DIM, VOCAB, bias=False)

    def forward(self, ids, cache=None):
        B, n = ids.shape
        past = 0 if cache is None else cache[0][0].shape[2]
        dev = ids.device
        pos = torch.arange(past, past + n, device=dev)
        x = self.emb(ids)
        new_cache = []
        for i, b in enumerate(self.blocks):
            h = b.norm1(x)
            q = b.wq(h).view(B, n, HEADS, HEAD_DIM).transpose(1, 2)
            k = b.wk(h).view(B, n, KV_HEADS, HEAD_DIM).transpose(1, 2)
            v = b.wv(h).view(B, n, KV_HEADS, HEAD_DIM).transpose(1, 2)
            q, k = rope(q, pos), rope(k, pos)
            if cache is not None:
                k = torch.cat([cache[i][0], k], dim=2)
                v = torch.cat([cache[i][1], v], dim=2)
            new_cache.append((k, v))
            kw = {}
            if self.scale is not None:
                kw["scale"] = self.scale
            if GQA_IN_SDPA:
                kw["enable_gqa"] = True
                ka, va = k, v
            else:
                ka = k.repeat_interleave(HEADS // KV_HEADS, dim=1)
                va = v.repeat_interleave(HEADS // KV_HEADS, dim=1)
            if past == 0:
                a = F.scaled_dot_product_attention(q, ka, va, is_causal=True, **kw)
            else:
                mask = (torch.arange(past + n, device=dev)[None, :]
                        <= torch.arange(n, device=dev)[:, None] + past)
                a = F.scaled_dot_product_attention(q, ka, va, attn_mask=mask, **kw)
            x = x + b.wo(a.transpose(1, 2).reshape(B, n, HEADS * HEAD_DIM))
            x = x + b.down(F.silu(b.up(b.norm2(x))))
        return self.head(self.norm(x)), new_cache


def tiny_model(scale=None, device="cpu"):
    torch.manual_seed(1234)
    m = TinyLlama(scale)
    with torch.no_grad():  # larger q/k than the default init, so attention is not near-uniform
        for b in m.blocks:
            b.wq.weight.mul_(3.0)
            b.wk.weight.mul_(3.0)
    return m.eval().to(device)


def tiny_step(model, device="cpu", fail_at_step=None):
    calls = [0]

    def step(ids, state):
        calls[0] += 1
        if fail_at_step is not None and calls[0] == fail_at_step:
            raise RuntimeError("simulated failure in the model")
        with torch.no_grad():
            _, cache = model(torch.as_tensor(ids, dtype=torch.long, device=device)[None], state)
        return cache

    return step


class SdpaOutputs:
    """Records the result of every F.scaled_dot_product_attention call (the
    capture's recorder wraps this, so both see the same calls)."""

    def __enter__(self):
        self.orig = F.scaled_dot_product_attention
        self.outs = []

        def hook(*args, **kwargs):
            r = self.orig(*args, **kwargs)
            self.outs.append(r.detach().to(torch.float32).cpu().numpy()[0].copy())
            return r

        self.hook = hook
        F.scaled_dot_product_attention = hook
        return self

    def __exit__(self, *exc):
        F.scaled_dot_product_attention = self.orig
        return False

    def per_layer(self, layers):
        """[layer, head, token, dim], the steps' outputs concatenated."""
        steps = len(self.outs) // layers
        return np.stack([np.concatenate([self.outs[s * layers + l] for s in range(steps)], axis=1)
                         for l in range(layers)])


def causal_attention(q, k, v):
    """softmax(q k^T / sqrt(d)) v with the causal mask, float64 (attnsim's attention)."""
    q, k, v = (x.astype(np.float64) for x in (q, k, v))
    S, D = q.shape[-2], q.shape[-1]
    s = q @ np.swapaxes(k, -1, -2) / np.sqrt(D)
    s = np.where(np.tril(np.ones((S, S), dtype=bool)), s, -np.inf)
    s -= s.max(-1, keepdims=True)
    p = np.exp(s)
    p /= p.sum(-1, keepdims=True)
    return p @ v


def load(out, name):
    return [np.load(os.path.join(out, f"{name}_{t}.npy")) for t in "qkv"]


def check_workload(label, out, name, shape):
    with open(os.path.join(out, f"{name}.json")) as f:
        wl = json.load(f)
    L, H, S, D = shape
    want = {"name": name, "layers": L, "heads": H, "seq_len": S, "head_dim": D, "batch": 1, "causal": True,
            "data": {"kind": "npy", "q": f"{name}_q.npy", "k": f"{name}_k.npy", "v": f"{name}_v.npy"}}
    got = {k: v for k, v in wl.items() if k != "description"}
    check(f"{label}: workload JSON", got == want, json.dumps(wl))
    keys = {"name", "description", "layers", "heads", "seq_len", "head_dim", "batch", "causal", "data"}
    check(f"{label}: workload has only attnsim's keys", set(wl) <= keys, str(set(wl) - keys))


def check_attnsim(label, out, name, model_out, tmp):
    if not attnsim:
        return
    dump = os.path.join(tmp, f"dump_{name}")
    r = subprocess.run([attnsim, "run", "-q", "-a", os.path.join(SRC, "configs/arch/dense_fp32.json"),
                        "-w", os.path.join(out, f"{name}.json"), "-o", os.path.join(tmp, f"report_{name}.json"),
                        "--dump", dump], capture_output=True, text=True)
    check(f"{label}: attnsim runs the captured workload", r.returncode == 0, r.stderr.strip())
    if r.returncode == 0:
        err = rel_err(np.load(os.path.join(dump, "output.npy")), model_out)
        check(f"{label}: attnsim's dense causal attention equals the model's (rel err {err:.1e})", err < 1e-4)


# ---------------------------------------------------------------- the checks

def check_tiny(tmp, device):
    tag = f"tiny model on {device}"
    tol = 1e-5 if device == "cpu" else 1e-4  # chunked vs unchunked: float rounding only
    rng = np.random.default_rng(5)
    tokens = rng.integers(0, VOCAB, SEQ)
    shape = (LAYERS, HEADS, SEQ, HEAD_DIM)
    model = tiny_model(device=device)

    out = os.path.join(tmp, f"tiny_{device}")
    with SdpaOutputs() as rec:
        meta = cq.capture(tiny_step(model, device), LAYERS, HEADS, HEAD_DIM, tokens, CHUNK, out_dir=out,
                          name="tiny", dtype="float32", progress=False)
        check(f"{tag}: the capture puts back the F.scaled_dot_product_attention it found",
              F.scaled_dot_product_attention is rec.hook)
    check(f"{tag}: files", listing(out) == ["tiny.json", "tiny_k.npy", "tiny_meta.json", "tiny_q.npy",
                                            "tiny_v.npy"], str(listing(out)))
    q, k, v = load(out, "tiny")
    check(f"{tag}: shapes {list(shape)} float32", all(x.shape == shape and x.dtype == np.float32 for x in (q, k, v)),
          str([(x.shape, x.dtype) for x in (q, k, v)]))
    check_workload(tag, out, "tiny", shape)
    check(f"{tag}: {-(-SEQ // CHUNK)} forward steps", meta["forward_steps"] == -(-SEQ // CHUNK),
          str(meta["forward_steps"]))
    att = meta["attention"]
    masks = [layer["mask"] for layer in att["layers"]]
    check(f"{tag}: meta records is_causal then explicit causal masks",
          att["causal"] and all(m == {"is_causal": 1, "causal_mask": 3} for m in masks), str(masks))
    check(f"{tag}: meta records the GQA repeat",
          att["gqa"]["repeated_by_capture"] == GQA_IN_SDPA and
          att["gqa"]["kv_heads_in_call"] == (KV_HEADS if GQA_IN_SDPA else HEADS), json.dumps(att["gqa"]))
    check(f"{tag}: no scale folding", not att["scale"]["folded_into_q"])
    if not GQA_IN_SDPA:
        print(f"(torch {torch.__version__} has no enable_gqa: the model repeats k/v itself)")
    with open(os.path.join(out, "tiny_meta.json")) as f:
        check(f"{tag}: meta JSON on disk", json.load(f)["tokens_sha256"] == cq.tokens_sha256(tokens))

    # Attention from the captured tensors equals the model's own output.
    model_out = rec.per_layer(LAYERS)
    err = rel_err(causal_attention(q, k, v), model_out)
    check(f"{tag}: numpy causal attention on the capture = model's sdpa output (rel err {err:.1e})", err < 1e-4)
    check_attnsim(tag, out, "tiny", model_out, tmp)

    # One unchunked forward gives the same tensors.
    out1 = os.path.join(tmp, f"tiny1_{device}")
    meta1 = cq.capture(tiny_step(model, device), LAYERS, HEADS, HEAD_DIM, tokens, SEQ, out_dir=out1,
                       name="tiny", dtype="float32", progress=False)
    check(f"{tag}: unchunked capture is one step", meta1["forward_steps"] == 1)
    for t, a, b in zip("qkv", (q, k, v), load(out1, "tiny")):
        err = rel_err(a, b)
        check(f"{tag}: chunked {t} = unchunked {t} (rel err {err:.1e})", err < tol)

    # float16 output: the same values rounded.
    out16 = os.path.join(tmp, f"tiny16_{device}")
    cq.capture(tiny_step(model, device), LAYERS, HEADS, HEAD_DIM, tokens, CHUNK, out_dir=out16, name="tiny",
               progress=False)
    for t, a, b in zip("qkv", load(out16, "tiny"), (q, k, v)):
        check(f"{tag}: float16 {t} is the float32 capture rounded",
              a.dtype == np.float16 and np.allclose(a.astype(np.float32), b, rtol=2e-3, atol=1e-4))

    # A model scale other than 1/sqrt(d) is folded into q.
    scaled = tiny_model(scale=0.1, device=device)
    outs = os.path.join(tmp, f"tinyscale_{device}")
    with SdpaOutputs() as rec:
        meta = cq.capture(tiny_step(scaled, device), LAYERS, HEADS, HEAD_DIM, tokens, CHUNK, out_dir=outs,
                          name="tiny", dtype="float32", progress=False)
    sc = meta["attention"]["scale"]
    factors = [layer["q_scale_factor"] for layer in meta["attention"]["layers"]]
    check(f"{tag}: scale 0.1 recorded and folded (factor 0.1*sqrt(16) = 0.4)",
          sc["folded_into_q"] and all(abs(f - 0.4) < 1e-9 for f in factors), json.dumps(sc) + str(factors))
    qs, ks, vs = load(outs, "tiny")
    err = rel_err(causal_attention(qs, ks, vs), rec.per_layer(LAYERS))
    check(f"{tag}: with scale 0.1, attention of the folded capture = model's (rel err {err:.1e})", err < 1e-4)

    # Failures leave nothing under the final names (nor .tmp files).
    outf = os.path.join(tmp, f"tinyfail_{device}")
    try:
        cq.capture(tiny_step(model, device, fail_at_step=3), LAYERS, HEADS, HEAD_DIM, tokens, CHUNK,
                   out_dir=outf, name="tiny", progress=False)
        check(f"{tag}: failure mid-capture raises", False)
    except RuntimeError:
        check(f"{tag}: failure mid-capture leaves no files", listing(outf) == [], str(listing(outf)))
    check(f"{tag}: F.scaled_dot_product_attention restored after a failure",
          F.scaled_dot_product_attention is SDPA)
    try:
        cq.capture(tiny_step(model, device), LAYERS + 1, HEADS, HEAD_DIM, tokens, CHUNK, out_dir=outf,
                   name="tiny", progress=False)
        check(f"{tag}: wrong layer count raises", False)
    except cq.CaptureError as e:
        check(f"{tag}: wrong layer count is a clear error, no files",
              "expected one per layer (3)" in str(e) and listing(outf) == [], f"{e}; {listing(outf)}")
    return tokens


def check_hf(tmp):
    try:
        import transformers
        from transformers import LlamaConfig, LlamaForCausalLM
    except ImportError as e:
        print(f"(transformers is not importable: the Hugging Face checks are skipped: {e})")
        return
    tag = f"transformers {transformers.__version__}"
    cfg = LlamaConfig(vocab_size=VOCAB, hidden_size=DIM, intermediate_size=2 * DIM, num_hidden_layers=LAYERS,
                      num_attention_heads=HEADS, num_key_value_heads=KV_HEADS, max_position_embeddings=512,
                      rms_norm_eps=1e-6, initializer_range=0.2, tie_word_embeddings=False)
    torch.manual_seed(99)
    model_dir = os.path.join(tmp, "tiny_llama")
    LlamaForCausalLM(cfg).save_pretrained(model_dir)
    rng = np.random.default_rng(11)
    tokens = rng.integers(0, VOCAB, SEQ)
    shape = (LAYERS, HEADS, SEQ, HEAD_DIM)

    model, _ = cq.load_hf_model(model_dir, "cpu", "float32")
    dims = cq.hf_dims(model)
    check(f"{tag}: dims from the config", dims[:4] == (LAYERS, HEADS, HEAD_DIM, KV_HEADS), str(dims))
    out = os.path.join(tmp, "hf_api")
    with SdpaOutputs() as rec:
        meta = cq.capture(cq.hf_model_step(model, "cpu"), LAYERS, HEADS, HEAD_DIM, tokens, CHUNK, out_dir=out,
                          name="hf", dtype="float32", progress=False)
    q, k, v = load(out, "hf")
    check(f"{tag}: shapes", all(x.shape == shape for x in (q, k, v)))
    att = meta["attention"]
    check(f"{tag}: every sdpa call was causal", att["causal"], json.dumps([la["mask"] for la in att["layers"]]))
    print(f"  (masks seen: {att['layers'][0]['mask']}; k/v heads in the calls: {att['gqa']['kv_heads_in_call']})")
    model_out = rec.per_layer(LAYERS)
    err = rel_err(causal_attention(q, k, v), model_out)
    check(f"{tag}: numpy causal attention on the capture = model's sdpa output (rel err {err:.1e})", err < 1e-4)
    out1 = os.path.join(tmp, "hf_api1")
    cq.capture(cq.hf_model_step(model, "cpu"), LAYERS, HEADS, HEAD_DIM, tokens, SEQ, out_dir=out1, name="hf",
               dtype="float32", progress=False)
    for t, a, b in zip("qkv", (q, k, v), load(out1, "hf")):
        err = rel_err(a, b)
        check(f"{tag}: chunked {t} = unchunked {t} (rel err {err:.1e})", err < 1e-5)

    # The CLI, end to end.
    tok_path = os.path.join(tmp, "tokens.npy")
    np.save(tok_path, tokens)
    cli_out = os.path.join(tmp, "hf_cli")

    def cli(*args):
        return subprocess.run([sys.executable, SCRIPT, "--model", model_dir, "--out-dir", cli_out, *args],
                              capture_output=True, text=True)

    r = cli("--tokens", tok_path, "--seq", str(SEQ), "--chunk", str(CHUNK), "--dtype", "float32",
            "--device", "cpu", "--name", "cli", "--quiet")
    check(f"{tag}: CLI --tokens exits 0", r.returncode == 0, r.stderr.strip())
    if r.returncode == 0:
        for t, a, b in zip("qkv", load(cli_out, "cli"), (q, k, v)):
            err = rel_err(a, b)
            check(f"{tag}: CLI {t} = API {t} (rel err {err:.1e})", err < 1e-6)
        check_workload(f"{tag} CLI", cli_out, "cli", shape)
        with open(os.path.join(cli_out, "cli_meta.json")) as f:
            m = json.load(f)
        with open(os.path.join(model_dir, "config.json"), "rb") as f:
            cfg_sha = hashlib.sha256(f.read()).hexdigest()
        check(f"{tag}: CLI meta", m["model"]["config_sha256"] == cfg_sha and m["chunk"] == CHUNK and
              m["tokens_sha256"] == cq.tokens_sha256(tokens) and m["input"]["seq"] == SEQ and
              m["versions"]["transformers"] == transformers.__version__ and
              m["versions"]["torch"] == torch.__version__ and m["model"]["kv_heads"] == KV_HEADS,
              json.dumps({k: m[k] for k in ("model", "input", "versions", "chunk")}))
        check_attnsim(f"{tag} CLI", cli_out, "cli", model_out, tmp)

    r = cli("--tokens", tok_path, "--seq", "300", "--name", "short", "--quiet")
    last = (r.stderr.strip().splitlines() or [""])[-1]
    check(f"{tag}: CLI --seq beyond the tokens: exit 2, one line",
          r.returncode == 2 and "fewer than --seq 300" in last and not os.path.exists(
              os.path.join(cli_out, "short.json")), f"{r.returncode} {r.stderr!r}")
    r = cli("--tokens", tok_path, "--seq", "300", "--repeat", "--chunk", "128", "--device", "cpu",
            "--name", "rep", "--quiet")
    check(f"{tag}: CLI --repeat exits 0", r.returncode == 0, r.stderr.strip())
    if r.returncode == 0:
        with open(os.path.join(cli_out, "rep_meta.json")) as f:
            m = json.load(f)
        want = np.concatenate([tokens, tokens])[:300]
        check(f"{tag}: CLI --repeat tiles the tokens", m["tokens_sha256"] == cq.tokens_sha256(want) and
              "repeated" in m["input"] and np.load(os.path.join(cli_out, "rep_q.npy")).shape[2] == 300)
    r = cli("--tokens", tok_path, "--name", "cli", "--quiet")
    check(f"{tag}: CLI refuses to replace a capture", r.returncode == 2 and "already exists" in r.stderr)

    if torch.cuda.is_available():
        r = cli("--tokens", tok_path, "--chunk", str(CHUNK), "--dtype", "float32", "--name", "cuda", "--quiet")
        check(f"{tag}: CLI on CUDA exits 0", r.returncode == 0, r.stderr.strip())
        if r.returncode == 0:
            for t, a, b in zip("qkv", load(cli_out, "cuda"), (q, k, v)):
                err = rel_err(a, b)
                check(f"{tag}: CLI on CUDA {t} = CPU {t} (rel err {err:.1e})", err < 1e-3)

    # --text, with a small word-level tokenizer that adds a BOS token.
    try:
        from tokenizers import Tokenizer, models, pre_tokenizers, processors
        from transformers import PreTrainedTokenizerFast
        words = [f"w{i}" for i in range(VOCAB - 3)]
        vocab = {"<unk>": 0, "<s>": 1, "</s>": 2, **{w: i + 3 for i, w in enumerate(words)}}
        tk = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
        tk.pre_tokenizer = pre_tokenizers.Whitespace()
        tk.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
        PreTrainedTokenizerFast(tokenizer_object=tk, unk_token="<unk>", bos_token="<s>",
                                eos_token="</s>").save_pretrained(model_dir)
    except Exception as e:  # noqa: BLE001 (an environment without these pieces)
        print(f"(could not build a test tokenizer, --text is not checked: {type(e).__name__}: {e})")
        return
    body = rng.integers(3, VOCAB, 150)
    text_path = os.path.join(tmp, "text.txt")
    with open(text_path, "w") as f:
        f.write(" ".join(words[i - 3] for i in body) + "\n")
    r = cli("--text", text_path, "--seq", "400", "--repeat", "--chunk", "128", "--device", "cpu",
            "--name", "text", "--quiet")
    check(f"{tag}: CLI --text --repeat exits 0", r.returncode == 0, r.stderr.strip())
    if r.returncode == 0:
        with open(os.path.join(cli_out, "text_meta.json")) as f:
            m = json.load(f)
        want = np.concatenate([[1], np.tile(body, 3)])[:400]
        check(f"{tag}: CLI --text tokenises with the model's tokenizer (BOS once, body tiled)",
              m["input"]["text_tokens"] == 151 and m["input"]["leading_special_tokens"] == 1 and
              m["tokens_sha256"] == cq.tokens_sha256(want), json.dumps(m["input"]))
    r = cli("--text", text_path, "--seq", "400", "--name", "text_short", "--quiet")
    last = (r.stderr.strip().splitlines() or [""])[-1]
    check(f"{tag}: CLI --text shorter than --seq: exit 2",
          r.returncode == 2 and "151 tokens, fewer than --seq 400" in last, f"{r.returncode} {r.stderr!r}")


torch.set_num_threads(min(4, os.cpu_count() or 1))
print(f"torch {torch.__version__}, numpy {np.__version__}, enable_gqa in sdpa: {GQA_IN_SDPA}, "
      f"attnsim: {attnsim or 'none (its check is skipped)'}")
with tempfile.TemporaryDirectory(prefix="attnsim_capture_qkv_") as tmp:
    check_tiny(tmp, "cpu")
    if torch.cuda.is_available():
        check_tiny(tmp, "cuda")
    check_hf(tmp)

print(f"{len(failures)} failure(s)" if failures else "all passed")
sys.exit(1 if failures else 0)
