#!/usr/bin/env bash
# Configures and builds gpu_ref into gpu_ref/build (Release, sm_90).
# Exit 77 (CTest's skip code) when there is no CUDA compiler.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# GPU_REF_NVCC names the compiler explicitly; else nvcc on PATH, else /usr/local/cuda/bin/nvcc.
nvcc_path="${GPU_REF_NVCC:-}"
if [ -z "$nvcc_path" ]; then
  nvcc_path="$(command -v nvcc 2>/dev/null || true)"
  [ -z "$nvcc_path" ] && [ -x /usr/local/cuda/bin/nvcc ] && nvcc_path=/usr/local/cuda/bin/nvcc
fi
if [ -z "$nvcc_path" ] || [ ! -x "$nvcc_path" ]; then
  echo "gpu_ref: nvcc not found, skipping the GPU reference build"
  exit 77
fi
jobs="${GPU_REF_JOBS:-$(nproc 2>/dev/null || echo 2)}"
cmake -S "$here" -B "$here/build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_COMPILER="$nvcc_path" "$@"
cmake --build "$here/build" -j "$jobs"
