#!/usr/bin/env python3
"""ctest check of scripts/capture_qkv.py's numpy side (no PyTorch needed): the
chunked .npy writer, the workload JSON, the atomic rename (nothing under the
final names after a failure), token selection and the CLI's one-line errors.
With an attnsim binary it also runs attnsim on a written workload (dense_fp32,
--dump) and checks that attnsim reads the tensors as written and computes
causal softmax(q k^T / sqrt(d)) v on them. Exit 77 (skipped) without numpy.

    test_capture_writer.py [ATTNSIM_BINARY]
"""
import importlib.util
import json
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
except ImportError as e:
    print(f"skipped: {e}")
    sys.exit(77)

SRC = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(SRC, "scripts", "capture_qkv.py")
spec = importlib.util.spec_from_file_location("capture_qkv", SCRIPT)
cq = importlib.util.module_from_spec(spec)
spec.loader.exec_module(cq)

attnsim = sys.argv[1] if len(sys.argv) > 1 else None
failures = []
if attnsim and not os.access(attnsim, os.X_OK):
    failures.append(f"attnsim binary {attnsim} is not an executable file")
    attnsim = None
# The keys functional/workload/workload.cpp reads (any other key is an error there).
WORKLOAD_KEYS = {"name", "description", "layers", "heads", "seq_len", "head_dim", "batch", "causal", "data"}


def check(name, cond, detail=""):
    if cond:
        print(f"ok {name}")
    else:
        failures.append(f"{name}{': ' + detail if detail else ''}")


def raises(fn, fragment):
    try:
        fn()
    except cq.CaptureError as e:
        return fragment in str(e), str(e)
    return False, "no error"


def listing(d):
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def npy_header(path):
    with open(path, "rb") as f:
        version = cq.npy_format.read_magic(f)
        shape, fortran, dtype = cq.npy_format.read_array_header_1_0(f)
    return version, shape, fortran, dtype.str


def causal_attention(q, k, v):
    """softmax(q k^T / sqrt(d)) v with a causal mask, float64, per [layer, head]."""
    q, k, v = (x.astype(np.float64) for x in (q, k, v))
    S, D = q.shape[-2], q.shape[-1]
    s = q @ np.swapaxes(k, -1, -2) / np.sqrt(D)
    s = np.where(np.tril(np.ones((S, S), dtype=bool)), s, -np.inf)
    s -= s.max(-1, keepdims=True)
    p = np.exp(s)
    p /= p.sum(-1, keepdims=True)
    return p @ v


def write_capture(out, name, shape, dtype, chunk, rng, fail_at=None):
    """Writes random q/k/v through the writer the way capture() does (per chunk,
    per layer: q rows and the new k/v rows); returns the float32 arrays."""
    L, H, S, D = shape
    full = {t: rng.standard_normal(shape).astype(np.float32) * (3 if t == "q" else 1) for t in "qkv"}
    with cq.NpyCaptureWriter(out, name, shape, dtype) as w:
        for i, start in enumerate(range(0, S, chunk)):
            if fail_at is not None and i == fail_at:
                raise RuntimeError("model failed mid-capture")
            n = min(chunk, S - start)
            for layer in range(L):
                for t in "qkv":
                    w.write(t, layer, start, full[t][layer, :, start:start + n, :])
        w.commit(cq.workload_json(name, L, H, S, D, "test capture"), {"test": True})
    return full


with tempfile.TemporaryDirectory(prefix="attnsim_capture_writer_") as tmp:
    rng = np.random.default_rng(7)
    shape = (3, 4, 37, 8)

    # 1. Round trip, float16 and float32, chunk not dividing seq.
    for dtype, descr in (("float16", "<f2"), ("float32", "<f4")):
        out = os.path.join(tmp, dtype)
        full = write_capture(out, "cap", shape, dtype, 10, rng)
        names = listing(out)
        check(f"{dtype}: five final files, no .tmp",
              names == ["cap.json", "cap_k.npy", "cap_meta.json", "cap_q.npy", "cap_v.npy"], str(names))
        for t in "qkv":
            path = os.path.join(out, f"cap_{t}.npy")
            version, shp, fortran, d = npy_header(path)
            check(f"{dtype} {t}: npy v1.0 {descr} C order {list(shape)}",
                  version == (1, 0) and shp == shape and not fortran and d == descr,
                  f"{version} {shp} {fortran} {d}")
            a = np.load(path)
            check(f"{dtype} {t}: values", np.array_equal(a, full[t].astype(descr)))
        wl = json.load(open(os.path.join(out, "cap.json")))
        check(f"{dtype}: workload JSON", wl == {
            "name": "cap", "description": "test capture", "layers": 3, "heads": 4, "seq_len": 37,
            "head_dim": 8, "batch": 1, "causal": True,
            "data": {"kind": "npy", "q": "cap_q.npy", "k": "cap_k.npy", "v": "cap_v.npy"}}, str(wl))
        check(f"{dtype}: workload keys are attnsim's", set(wl) <= WORKLOAD_KEYS, str(set(wl) - WORKLOAD_KEYS))
        check(f"{dtype}: meta JSON", json.load(open(os.path.join(out, "cap_meta.json"))) == {"test": True})

    # 2. A failure mid-capture: no final names, no .tmp left.
    out = os.path.join(tmp, "fail")
    try:
        write_capture(out, "cap", shape, "float16", 10, rng, fail_at=2)
        failures.append("failure mid-capture: no exception")
    except RuntimeError:
        pass
    check("failure mid-capture leaves nothing", listing(out) == [], str(listing(out)))

    # 3. An incomplete capture is refused at commit, and leaves nothing.
    out = os.path.join(tmp, "short")

    def short():
        with cq.NpyCaptureWriter(out, "cap", shape, "float32") as w:
            for layer in range(3):
                for t in "qkv":
                    w.write(t, layer, 0, np.zeros((4, 36, 8), np.float32))
            w.commit({}, {})
    ok, msg = raises(short, "36 of 37")
    check("incomplete capture refused", ok, msg)
    check("incomplete capture leaves nothing", listing(out) == [], str(listing(out)))

    # 4. Values float16 cannot hold, NaN: one-line errors, nothing left.
    for label, value, fragment in (("float16 overflow", 7e4, "--dtype float32"), ("NaN", np.nan, "NaN")):
        out = os.path.join(tmp, label.replace(" ", "_"))

        def bad():
            with cq.NpyCaptureWriter(out, "cap", shape, "float16") as w:
                rows = np.zeros((4, 5, 8), np.float32)
                rows[1, 2, 3] = value
                w.write("k", 1, 0, rows)
        ok, msg = raises(bad, fragment)
        check(f"{label} refused", ok, msg)
        check(f"{label} leaves nothing", listing(out) == [], str(listing(out)))

    # 5. Existing outputs are kept unless force.
    out = os.path.join(tmp, "float32")
    before = open(os.path.join(out, "cap_q.npy"), "rb").read()
    ok, msg = raises(lambda: cq.NpyCaptureWriter(out, "cap", shape, "float32"), "already exists")
    check("existing capture refused", ok, msg)
    check("existing capture unchanged", open(os.path.join(out, "cap_q.npy"), "rb").read() == before)
    w = cq.NpyCaptureWriter(out, "cap", (1, 2, 5, 4), "float32", force=True)
    for t in "qkv":
        w.write(t, 0, 0, np.ones((2, 5, 4), np.float32))
    w.commit(cq.workload_json("cap", 1, 2, 5, 4), {})
    check("force replaces", np.load(os.path.join(out, "cap_v.npy")).shape == (1, 2, 5, 4))
    ok, msg = raises(lambda: cq.NpyCaptureWriter(out, "a/b", shape), "--name")
    check("bad name refused", ok, msg)
    ok, msg = raises(lambda: cq.NpyCaptureWriter(tmp, "big", (2, 2, (1 << 20) + 1, 4)), "limits")
    check("seq beyond attnsim's limit refused", ok, msg)

    # 6. Token selection.
    ids = np.arange(10, 20)
    t, times = cq.take_tokens(ids, 4)
    check("take first tokens", t.tolist() == [10, 11, 12, 13] and times == 1.0)
    ok, msg = raises(lambda: cq.take_tokens(ids, 25), "fewer than --seq 25")
    check("short input refused", ok, msg)
    t, times = cq.take_tokens(ids, 25, repeat=True, keep_prefix=1)
    check("repeat keeps the prefix once", t.tolist() == [10] + list(range(11, 20)) * 2 + [11, 12, 13, 14, 15, 16],
          str(t.tolist()))

    # 7. The CLI's errors: one line, exit 2, nothing written.
    model = os.path.join(tmp, "model")
    os.makedirs(model)
    np.save(os.path.join(tmp, "tokens.npy"), np.arange(10, dtype=np.int64))
    np.save(os.path.join(tmp, "floats.npy"), np.zeros(10))
    cli_out = os.path.join(tmp, "cli_out")

    def cli(*args):
        return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True)

    def check_cli(label, args, fragment):
        r = cli(*args)
        lines = r.stderr.strip().splitlines()
        check(f"cli {label}", r.returncode == 2 and len(lines) == 1 and fragment in lines[0],
              f"exit {r.returncode}, stderr {r.stderr!r}")
        check(f"cli {label}: nothing written", listing(cli_out) == [], str(listing(cli_out)))

    base = ["--out-dir", cli_out, "--name", "x"]
    check_cli("missing model folder", ["--model", os.path.join(tmp, "nope"), "--tokens",
                                       os.path.join(tmp, "tokens.npy"), *base], "does not exist")
    check_cli("folder without config.json", ["--model", model, "--tokens", os.path.join(tmp, "tokens.npy"),
                                             *base], "no config.json")
    with open(os.path.join(model, "config.json"), "w") as f:
        f.write('{"model_type": "llama"}\n')
    check_cli("seq longer than the tokens", ["--model", model, "--tokens", os.path.join(tmp, "tokens.npy"),
                                             "--seq", "20", *base], "fewer than --seq 20")
    check_cli("float token ids", ["--model", model, "--tokens", os.path.join(tmp, "floats.npy"), *base],
              "integer token ids")
    check_cli("missing text file", ["--model", model, "--text", os.path.join(tmp, "nope.txt"), *base],
              "no such file")
    check_cli("chunk 0", ["--model", model, "--tokens", os.path.join(tmp, "tokens.npy"), "--chunk", "0", *base],
              "--chunk 0")
    check_cli("existing output", ["--model", model, "--tokens", os.path.join(tmp, "tokens.npy"),
                                  "--out-dir", os.path.join(tmp, "float32"), "--name", "cap"], "already exists")
    if importlib.util.find_spec("torch") is None:
        check_cli("no PyTorch", ["--model", model, "--tokens", os.path.join(tmp, "tokens.npy"), *base],
                  "PyTorch is needed: pip install torch")
    else:
        print("(torch is importable: the missing-PyTorch message is not checked here)")

    # 8. attnsim reads the written workload, and its dense causal attention on it
    #    is softmax(q k^T / sqrt(d)) v with the causal mask.
    if attnsim:
        out = os.path.join(tmp, "attnsim")
        full = write_capture(out, "cap", (2, 3, 40, 16), "float16", 16, rng)
        dump = os.path.join(tmp, "dump")
        r = subprocess.run([attnsim, "run", "-q", "-a", os.path.join(SRC, "configs/arch/dense_fp32.json"),
                            "-w", os.path.join(out, "cap.json"), "-o", os.path.join(tmp, "report.json"),
                            "--dump", dump], capture_output=True, text=True)
        check("attnsim runs the workload", r.returncode == 0, r.stderr.strip())
        if r.returncode == 0:
            q, k, v = (np.load(os.path.join(out, f"cap_{t}.npy")) for t in "qkv")
            check("attnsim loaded q as written", np.array_equal(np.load(os.path.join(dump, "q.npy")),
                                                                q.astype(np.float32)))
            meta = json.load(open(os.path.join(dump, "meta.json")))
            check("attnsim treats it as causal", meta["params"]["causal"] is True, str(meta["params"]))
            got = np.load(os.path.join(dump, "output.npy")).astype(np.float64)
            want = causal_attention(q, k, v)
            err = np.abs(got - want).max() / np.abs(want).max()
            check(f"attnsim's output is causal softmax(q k^T/sqrt(d)) v (rel err {err:.1e})", err < 1e-5)
    else:
        print("(no attnsim binary given: the attnsim check is skipped)")

for f in failures:
    print("FAIL", f)
sys.exit(1 if failures else 0)
