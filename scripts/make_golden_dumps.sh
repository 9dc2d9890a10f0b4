#!/usr/bin/env bash
# Writes the simulator dumps from which the GPU goldens (gpu_ref/golden/) are
# made. Runs on the CPU machine; builds nothing: it uses ${ATTNSIM:-build/attnsim}.
#
#   scripts/make_golden_dumps.sh OUTDIR
#
# Then, on a GPU machine: gpu_ref/run_golden.sh OUTDIR GPU_OUT (see gpu_ref/README.md).
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 OUTDIR" >&2
  exit 2
fi
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$1"
attnsim="${ATTNSIM:-$root/build/attnsim}"
if [ ! -x "$attnsim" ]; then
  echo "make_golden_dumps: $attnsim not found; build it first (cmake -S . -B build && cmake --build build)" >&2
  exit 2
fi
mkdir -p "$out"
cd "$root"

dense_arch=(--arch configs/arch/dense_fp32.json)
if [ ! -f configs/arch/dense_fp32.json ]; then
  # Fallback while the preset is missing: the systolic preset with an fp32 datapath.
  dense_arch=(--arch configs/arch/dense_systolic.json --set pe_array.number_format=fp32
              --set pe_array.prob_format=fp32 --set pe_array.exp=exact)
fi

# dump NAME ARGS...: one case into OUTDIR/NAME (report JSON beside it, then removed).
dump() {
  local name="$1"
  shift
  rm -rf "${out:?}/$name"
  "$attnsim" run "$@" --out "$out/$name.report.json" --dump "$out/$name" -q
  rm -f "$out/$name.report.json"
  echo "make_golden_dumps: $out/$name"
}

dump synthetic_small__sanger_fp32 --arch configs/arch/sanger_fp32.json --workload workloads/synthetic_small.json
dump synthetic_small__dense_fp32 "${dense_arch[@]}" --workload workloads/synthetic_small.json
dump synthetic_small__sanger --arch configs/arch/sanger.json --workload workloads/synthetic_small.json
dump minilm_s128_l1__sanger_fp32 --arch configs/arch/sanger_fp32.json --workload workloads/minilm_s128.json --layers 1
dump minilm_s128_l1__dense_fp32 "${dense_arch[@]}" --workload workloads/minilm_s128.json --layers 1

# SpAtten: the preset with an fp32 datapath (exact numerics; no progressive
# quantisation, which needs a fixed-point format), and the fixed-point preset.
fp32=(--set pe_array.number_format=fp32 --set pe_array.prob_format=fp32 --set pe_array.exp=exact)
dump synthetic_small__spatten_fp32 --arch configs/arch/spatten.json "${fp32[@]}" --workload workloads/synthetic_small.json
dump synthetic_small__spatten --arch configs/arch/spatten.json --workload workloads/synthetic_small.json
dump minilm_s128_l3__spatten_fp32 --arch configs/arch/spatten.json "${fp32[@]}" --workload workloads/minilm_s128.json \
  --layers 3

# DynamiQK: the detector in front of the systolic array with an fp32 datapath;
# the multimodal case with the short-sequence settings of docs/dynamiqk.md.
dump longctx_s2k__dynamiqk_fp32 --arch configs/arch/dynamiqk_systolic.json "${fp32[@]}" \
  --workload workloads/longctx_s2k_small.json
dump multimodal_small__dynamiqk_fp32 --arch configs/arch/dynamiqk_systolic.json "${fp32[@]}" \
  --set mask_unit.budget=0.3 --set mask_unit.init_columns=4 --set mask_unit.min_vertical=4 \
  --set mask_unit.n_init=4 --set mask_unit.local_diagonals=16 --set mask_unit.min_slash=16 \
  --workload workloads/multimodal_small.json

# ELSA's candidate selection in front of the score-stationary array, with an fp32 datapath.
dump synthetic_small__elsa_fp32 --arch configs/arch/elsa.json "${fp32[@]}" --workload workloads/synthetic_small.json
dump minilm_s128_l1__elsa_fp32 --arch configs/arch/elsa.json "${fp32[@]}" --workload workloads/minilm_s128.json --layers 1
