#!/usr/bin/env bash
# The one command on the GPU machine (from the repository root):
#   gpu_ref/bench/run_device.sh PHASES [bench options...]
# PHASES: comma list of build, numerics, dumps, bench. Without build: uses prebuilt
# binaries from gpu_ref/_bench_dumps/prebuilt when they run, else those of an
# earlier build in gpu_ref/build, else builds with build.sh.
# Everything lands in $OUT/r and is tarred to $OUT/results.tgz.
set -u
phases="${1:-build,numerics,dumps,bench}"
shift || true
OUT="${OUT:-/tmp/bsa_out}"
R="$OUT/r"
mkdir -p "$R"
export PYTHONUNBUFFERED=1
export LD_LIBRARY_PATH="/usr/local/cuda/lib64:/usr/local/cuda/lib:${LD_LIBRARY_PATH:-}"
start=$(date +%s)
t() { echo "[$(( $(date +%s) - start ))s] $*"; }
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,temperature.gpu,power.draw,memory.used --format=csv > "$R/gpu.txt" 2>&1
cat "$R/gpu.txt"
D=gpu_ref/_bench_dumps
runs() { "$1/gpu_ref_fused" --help > /dev/null 2>&1 && "$1/gpu_ref" --help > /dev/null 2>&1; }
BIN="$D/prebuilt"
runs "$BIN" || BIN=gpu_ref/build
if [[ ",$phases," == *",build,"* ]] || ! runs "$BIN"; then
  t "building gpu_ref"
  GPU_REF_JOBS=16 gpu_ref/build.sh > "$R/build.log" 2>&1 || { tail -30 "$R/build.log"; }
  grep -iE "warning|error" "$R/build.log" | head -20
  BIN=gpu_ref/build
fi
t "binaries: $BIN"
if [[ ",$phases," == *",numerics,"* ]]; then
  t "numerics"
  python3 gpu_ref/bench/bench_block_sparse.py --lib "$BIN/libgpu_ref_bsa.so" --out "$R/bench" --phases numerics 2>&1 | tee "$R/numerics.log" | cut -c1-230 | tail -45
fi
if [[ ",$phases," == *",dumps,"* ]]; then
  t "dumps"
  mkdir -p "$R/dumps"
  for w in minilm_s128 minilm_s256 synthetic_bert_base_s512_l2; do
    cp "$D/${w}__sanger/q.npy" "$D/${w}__sanger/k.npy" "$D/${w}__sanger/v.npy" "$D/${w}__dense/"
    "$BIN/gpu_ref" "$D/${w}__dense" "/tmp/g/${w}__dense" --repeats 20 --warmup 5
    "$BIN/gpu_ref" "$D/${w}__sanger" "/tmp/g/${w}__sanger" --repeats 20 --warmup 5
    "$BIN/gpu_ref_fused" "$D/${w}__sanger" "/tmp/g/${w}__fused_sanger" --repeats 50 --warmup 10
    "$BIN/gpu_ref_fused" "$D/${w}__dense" "/tmp/g/${w}__fused_dense" --mask full --repeats 50 --warmup 10
    tls="q64_w2"
    [ "$w" = synthetic_bert_base_s512_l2 ] && tls="q64_w2 wg64 wg64_p"  # head_dim 64: the wgmma tilings too
    if true; then
      for tl in $tls; do
        "$BIN/gpu_ref_fused" "$D/${w}__sanger" "/tmp/g/${w}__fused_sanger-$tl" --tiling $tl --repeats 50 --warmup 10
        "$BIN/gpu_ref_fused" "$D/${w}__dense" "/tmp/g/${w}__fused_dense-$tl" --tiling $tl --mask full --repeats 50 --warmup 10
      done
    fi
    python3 gpu_ref/tests/check_against_numpy.py "$D/${w}__dense" "/tmp/g/${w}__dense" > "$R/dumps/${w}__dense.check.txt" 2>&1; echo "numpy check dense $w: rc=$?"
    for p in dense sanger fused_sanger fused_dense fused_sanger-q64_w2 fused_dense-q64_w2 fused_sanger-wg64 fused_dense-wg64 fused_sanger-wg64_p fused_dense-wg64_p; do
      [ -f "/tmp/g/${w}__$p/meta.json" ] && mkdir -p "$R/dumps/${w}__$p" && cp "/tmp/g/${w}__$p/meta.json" "$R/dumps/${w}__$p/"
    done
  done 2>&1 | tee "$R/dumps.log"
  python3 gpu_ref/bench/make_timing_json.py "$R/dumps" "$R/timings"
fi
if [[ ",$phases," == *",bench,"* ]]; then
  t "bench"
  python3 gpu_ref/bench/bench_block_sparse.py --lib "$BIN/libgpu_ref_bsa.so" --out "$R/bench" --phases bench "$@" 2>&1 | tee "$R/bench.log" | grep -vE "^\s*$" | tail -80
fi
t "done"
tar czf "$OUT/results.tgz" -C "$OUT" r
