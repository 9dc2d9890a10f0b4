#!/usr/bin/env bash
# Here (CPU machine, simulator built in build/), from the repository root:
#   gpu_ref/bench/make_dumps.sh [DIR]      (default gpu_ref/_bench_dumps)
# Writes the dumps that run_device.sh's "dumps" phase reads, stripped to what
# gpu_ref / gpu_ref_fused read (meta.json, q/k/v, the mask CSR, output.npy), so
# that they travel with the working tree (< 64 MiB with the repository), and
# copies the gpu_ref binaries built here into DIR/prebuilt (run_device.sh
# rebuilds on the GPU machine when they do not run there). DIR must be ignored
# by git (gpu_ref/.gitignore ignores the default; another DIR e.g. listed in
# .git/info/exclude) and passed to the device call in `carry`.
# synthetic_bert_base_s512 is dumped with --layers 2 (its full dump has 150 MB
# of pred_scores alone).
set -euo pipefail
dir="${1:-gpu_ref/_bench_dumps}"
attnsim="${ATTNSIM:-build/attnsim}"
mkdir -p "$dir" /tmp/attnsim_bench_reports
for spec in minilm_s128: minilm_s256: synthetic_bert_base_s512:2; do
  wl="${spec%%:*}"; layers="${spec##*:}"
  name="$wl"; extra=()
  if [ -n "$layers" ]; then name="${wl}_l${layers}"; extra=(--layers "$layers"); fi
  for arch in sanger dense; do
    "$attnsim" run -q --arch "configs/arch/${arch}_fp32.json" --workload "workloads/$wl.json" "${extra[@]}" \
      --out "/tmp/attnsim_bench_reports/${name}__$arch.json" --dump "$dir/${name}__$arch"
  done
  rm -f "$dir/${name}__sanger/"{pred_scores,pred_probs,scores,probs,q_quant,k_quant,quant_scales}.npy
  # the dense dump's q/k/v are the sanger dump's (run_device.sh copies them back); its mask is the full one
  rm -f "$dir/${name}__dense/"{pred_scores,pred_probs,scores,probs,mask_indptr,mask_indices,mask_offsets,q,k,v}.npy
done
if [ -x gpu_ref/build/gpu_ref_fused ]; then
  mkdir -p "$dir/prebuilt"
  cp gpu_ref/build/gpu_ref gpu_ref/build/gpu_ref_fused gpu_ref/build/libgpu_ref_bsa.so "$dir/prebuilt/"
fi
du -sh "$dir"
