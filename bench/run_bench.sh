#!/usr/bin/env bash
# Whole-run benchmark of issue "Core simulator": the 12-layer BERT-base-shaped
# synthetic workload (12 heads, seq 512, head dim 64) with the Sanger preset,
# numerics included, pinned to one core; prints CPU time (user + sys: steady
# on a shared machine), wall time, peak memory and simulated MACs per host
# second. Targets: <= 5 s, <= 1 GiB.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${ATTNSIM:-build/attnsim}
runs=${RUNS:-3}
mkdir -p out/bench
for arch in sanger spatten dense_systolic; do
  for i in $(seq "$runs"); do
    /usr/bin/time -f "%e %U %S %M" -o out/bench/time.txt taskset -c 0 "$bin" run -q \
      -a "configs/arch/$arch.json" -w workloads/synthetic_bert_base_s512.json -o "out/bench/$arch.json"
    read -r wall user sys_s rss_kib < out/bench/time.txt
    python3 - "$arch" "$wall" "$user" "$sys_s" "$rss_kib" "out/bench/$arch.json" <<'PY'
import json, sys
arch, wall, user, sys_s, rss, path = sys.argv[1], *map(float, sys.argv[2:5]), int(sys.argv[5]), sys.argv[6]
r = json.load(open(path))
s = r["simulator"]
print(f"{arch:15s} CPU {user + sys_s:5.2f} s, wall {wall:5.2f} s (in-process {s['wall_time_s']:.2f} s), "
      f"peak RSS {rss/1024:6.1f} MiB, {s['simulated_macs_per_host_s']/1e6:8.1f} M simulated MACs/s, "
      f"{r['total']['cycles']} cycles")
PY
  done
done
