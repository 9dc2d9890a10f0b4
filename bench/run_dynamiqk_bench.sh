#!/usr/bin/env bash
# DynamiQK benchmark (issue "DynamiQK pattern detector, multimodal and
# long-context workloads"): one layer of the 32-head, seq 16384, head dim 128
# long-context workload (workloads/longctx_s16k.json) with the pattern
# detector in front of the Sanger array (configs/arch/dynamiqk_sanger.json),
# pinned to one core. Prints wall time, peak memory, where the simulated
# cycles go and the detector's choices. Targets: <= 60 s, <= 4 GiB.
#   ACCURACY_ROWS  rows per head compared with dense attention (default 256; 0 = all rows, seq^2 work)
#   BUDGETS        detector budgets to run (default "0.1")
#   ARCHS          presets to run (default "dynamiqk_sanger")
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${ATTNSIM:-build/attnsim}
rows=${ACCURACY_ROWS:-256}
budgets=${BUDGETS:-0.1}
archs=${ARCHS:-dynamiqk_sanger}
mkdir -p out/bench
for arch in $archs; do
  for budget in $budgets; do
    out="out/bench/${arch}_longctx_s16k_b${budget}.json"
    /usr/bin/time -f "%e %M" -o out/bench/time.txt taskset -c 0 "$bin" run -q \
      -a "configs/arch/$arch.json" -w workloads/longctx_s16k.json --layers 1 \
      --accuracy-rows "$rows" --set "mask_unit.budget=$budget" -o "$out"
    read -r wall rss_kib < out/bench/time.txt
    python3 - "$arch" "$budget" "$wall" "$rss_kib" "$out" <<'PY'
import collections, json, sys
arch, budget, wall, rss, path = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
r = json.load(open(path))
t, s = r["total"], r["simulator"]
print(f"{arch} budget {budget}: wall {wall:.1f} s (in-process {s['wall_time_s']:.1f} s), peak RSS {rss/1024:.0f} MiB, "
      f"{t['cycles']} cycles, density {t['mask']['density']:.4f}, recall {t['mask']['recall']:.4f}, "
      f"rel. error {t['accuracy']['relative_error']:.4f}")
for name in ("mask_unit", "encoder", "pe_array"):
    u = t["units"].get(name)
    if u:
        stages = ", ".join(f"{k} {v}" for k, v in sorted(u["stages"].items(), key=lambda kv: -kv[1]))
        print(f"  {name:9s} busy {u['busy_cycles']:>12d} ({u['busy_fraction']*100:5.1f} %): {stages}")
kinds = collections.Counter(h["pattern"] for h in r["layers"][0]["heads"])
print("  heads: " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
PY
  done
done
