#!/usr/bin/env python3
"""Small GPU-timing JSONs for `attnsim run --gpu-timing FILE` from gpu_ref outputs.

    make_timing_json.py RESULTS_DIR OUT_DIR

RESULTS_DIR holds <workload>__<path>/meta.json as written by gpu_ref (paths
dense, sanger) and gpu_ref_fused (paths fused_sanger, fused_dense); writes
OUT_DIR/<workload>__<path>.json = {"gpu", "time_us", "what", ...}.
"""
import json
import os
import sys

WORKLOADS = {
    "minilm_s128": ("workloads/minilm_s128.json", None),
    "minilm_s256": ("workloads/minilm_s256.json", None),
    "synthetic_bert_base_s512_l2": ("workloads/synthetic_bert_base_s512.json", 2),
}
WHAT = {
    "dense": "gpu_ref dense path (cuBLAS SGEMM fp32 without TF32 + row softmax + SGEMM), all heads, median of the "
             "whole pipeline (timings_ms.total)",
    "sanger": "gpu_ref sanger path (quantise + int8 cuBLAS GEMM + softmax + threshold -> CSR + cuSPARSE SDDMM + CSR "
              "softmax + cuSPARSE SpMM, fp32), all heads, median of the whole pipeline (timings_ms.total)",
    "fused_sanger": "gpu_ref fused block-sparse attention kernel (fp16, fp32 accumulate, blocks {blocks}) on the "
                    "simulator's Sanger mask from the dump, all heads, median kernel time (timings_ms.attention); "
                    "excludes the mask prediction and the block-mask build",
    "fused_dense": "gpu_ref fused block-sparse attention kernel (fp16, fp32 accumulate, blocks {blocks}) with every block "
                   "FULL (dense attention), all heads, median kernel time (timings_ms.attention)",
}


def usable(m):
    """A fused run counts only when its output agrees with the dump's (fp16: well under 1e-2)."""
    vs = m.get("vs_dump_output")
    return vs is None or (vs.get("non_finite", 1) == 0 and vs.get("max_error_rel_to_max_ref", 1) < 1e-2)


def main():
    src, dst = sys.argv[1], sys.argv[2]
    os.makedirs(dst, exist_ok=True)
    best = {}
    for name in sorted(os.listdir(src)):
        meta_path = os.path.join(src, name, "meta.json")
        if "__" not in name or not os.path.exists(meta_path):
            continue
        wl, path = name.split("__", 1)
        path = path.split("-", 1)[0]  # fused_sanger-wg64 -> fused_sanger (another tiling of the same path)
        if wl not in WORKLOADS or path not in WHAT:
            continue
        m = json.load(open(meta_path))
        if not usable(m):
            print(f"{name}: output disagrees with the dump, not used")
            continue
        step = "attention" if path.startswith("fused") else "total"
        t = m["timings_ms"][step]["median"]
        if (wl, path) not in best or t < best[(wl, path)][0]:
            best[(wl, path)] = (t, m)
    for (wl, path), (_, m) in sorted(best.items()):
        t = m["timings_ms"]
        step = "attention" if path.startswith("fused") else "total"
        what_tiling = m.get("kernel", {}).get("tiling")
        workload_file, layers = WORKLOADS[wl]
        dm = m["dump_meta"]
        k = m.get("kernel", {})
        blocks = f"{k.get('q_block', 64)}x{k.get('kv_block', 64)}"
        if k.get("q_block_built", k.get("q_block")) != k.get("q_block"):
            blocks += f", built as {k['q_block_built']}x{k.get('kv_block', 64)} and merged"
        what = WHAT[path].format(blocks=blocks)
        if what_tiling:
            what += f"; kernel tiling {what_tiling} (the fastest of those run)"
        if layers:
            what += f"; first {layers} of the workload's layers only (the dump was made with --layers {layers})"
        out = {
            "gpu": m["gpu"]["name"],
            "time_us": round(t[step]["median"] * 1000.0, 3),
            "what": what,
            "workload": workload_file,
            "path": path,
            "layers": dm["layers"],
            "heads": dm["groups"],
            "seq_len": dm["seq_len"],
            "head_dim": dm["head_dim"],
            "step": step,
            "timings_ms": t,
        }
        for key in ("nnz", "block_mask", "kernel", "effective_tflops", "vs_dump_output"):
            if key in m:
                out[key] = m[key]
        base = wl.replace("_l2", "")
        with open(os.path.join(dst, f"{base}__{path}.json"), "w") as f:
            json.dump(out, f, indent=1)
            f.write("\n")
        print(f"{base}__{path}: {out['gpu']} {out['time_us']} us")


if __name__ == "__main__":
    main()
