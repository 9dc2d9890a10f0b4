#!/usr/bin/env bash
# Sweep benchmark of issue "Design-space exploration": the 64-point grid of
# configs/sweeps/sanger_pe_grid.json (PE-array rows x PEs per row x K buffer,
# Sanger on the MiniLM capture, seq 128) with 2 workers, once reusing masks
# across points (the default) and once with --no-reuse, each into a fresh
# folder. Prints wall time, the CPU time of the points, the load average and
# the functional-cache hits; checks both runs give the same summary.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${ATTNSIM:-build/attnsim}
jobs=${JOBS:-2}
spec=configs/sweeps/sanger_pe_grid.json
mkdir -p out/bench
for mode in reuse no-reuse; do
  out=out/bench/sweep-$mode
  rm -rf "$out"
  flag=""
  [ "$mode" = no-reuse ] && flag=--no-reuse
  load=$(cut -d' ' -f1 /proc/loadavg)
  /usr/bin/time -f "%e %U %S" -o out/bench/sweep_time.txt "$bin" sweep -q "$spec" -o "$out" -j "$jobs" $flag
  read -r wall user sys < out/bench/sweep_time.txt
  python3 - "$mode" "$wall" "$user" "$sys" "$load" "$out/summary.json" <<'PY'
import json, sys
mode, wall, user, sys_s, load, path = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5], sys.argv[6]
s = json.load(open(path))
h = s["host"]
print(f"{mode:9s} {s['counts']['points']} points ({s['counts']['failed']} failed), -j {h['workers']}: wall {wall:6.1f} s, "
      f"CPU {user + sys_s:6.1f} s (user {user:.1f} + sys {sys_s:.1f}), functional-cache hits {h['functional_cache_hits']}, "
      f"load average at start {load}")
PY
done
python3 - out/bench/sweep-reuse/summary.json out/bench/sweep-no-reuse/summary.json <<'PY'
import json, sys
def core(p):
    s = json.load(open(p)); s.pop("host")
    for x in s["points"]: x.pop("host")
    return s
assert core(sys.argv[1]) == core(sys.argv[2]), "reuse changed the results"
print("same summary with and without reuse")
PY
