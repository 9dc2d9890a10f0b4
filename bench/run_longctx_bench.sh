#!/usr/bin/env bash
# Long context at LLM scale (issue "Long context at LLM scale"): the DynamiQK
# preset (configs/arch/dynamiqk_sanger.json) on workloads/longctx_s128k.json
# (32 layers, 32 heads, seq 131072, head dim 128), accuracy on ROWS sampled
# rows per head. Each case appends one JSON line to out/bench/longctx.jsonl
# and prints it: CPU (user + sys), wall, peak RSS, threads, seq, layers,
# cycles, density, recall and its 95 % interval, relative error.
#   bench/run_longctx_bench.sh layer    one 128k layer on one core (taskset -c 0, -j1). Targets: <= 60 s CPU, <= 4 GiB
#   bench/run_longctx_bench.sh scaling  LAYERS (default 2) layers with -j1 and with -j$THREADS (default: every CPU)
#   bench/run_longctx_bench.sh length   one layer at 4k, 8k, ..., 128k on one core (about 1000 vertical columns
#                                       per vertical-slash head at every length, as MInference's configs), then
#                                       the plot docs/plots/longctx_cost_vs_length.{png,svg}
#   bench/run_longctx_bench.sh model    the whole 32-layer model with -j$THREADS
# ROWS (default 128), ATTNSIM (default build/attnsim), PYTHON (default .venv/bin/python: matplotlib for the plot).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${ATTNSIM:-build/attnsim}
rows=${ROWS:-128}
threads=${THREADS:-$(nproc)}
py=${PYTHON:-.venv/bin/python}
arch=configs/arch/dynamiqk_sanger.json
mkdir -p out/bench
log=out/bench/longctx.jsonl

# run CASE WORKLOAD LAYERS THREADS [taskset cpu list]
run() {
  local name=$1 workload=$2 layers=$3 j=$4 pin=${5:-}
  local out=out/bench/longctx_$name.json
  local cmd=("$bin" run -q -j "$j" -a "$arch" -w "$workload" --layers "$layers" --accuracy-rows "$rows" -o "$out")
  if [ -n "$pin" ]; then cmd=(taskset -c "$pin" "${cmd[@]}"); fi
  /usr/bin/time -v -o out/bench/time.txt "${cmd[@]}"
  "$py" - "$name" out/bench/time.txt "$out" "$layers" >> "$log" <<'PY'
import json, re, sys
name, time_file, path, layers = sys.argv[1:5]
tv = open(time_file).read()
field = lambda n: re.search(re.escape(n) + r": (\S+)", tv).group(1)
cpu = float(field("User time (seconds)")) + float(field("System time (seconds)"))
wall = sum(float(x) * 60 ** i for i, x in enumerate(reversed(field("Elapsed (wall clock) time (h:mm:ss or m:ss)").split(":"))))
r = json.load(open(path))
t, m = r["total"], r["total"]["mask"]
print(json.dumps({"case": name, "seq": r["workload"]["seq_len"], "heads": r["workload"]["heads"], "layers": int(layers),
                  "threads": r["simulator"]["threads"], "cpu_s": round(cpu, 2), "wall_s": round(wall, 2),
                  "peak_rss_mib": round(int(field("Maximum resident set size (kbytes)")) / 1024),
                  "cycles": t["cycles"], "density": m["density"], "kept": m["kept"],
                  "recall": m["recall"], "recall_ci95": m.get("recall_ci95"), "relative_error": t["accuracy"]["relative_error"],
                  "structured_tiles": r["simulator"]["structured_tiles"]}))
PY
  tail -1 "$log"
}

# A copy of the 128k workload at another length, ~1000 verticals per vertical-slash head.
at_length() {
  local seq=$1 f=out/bench/longctx_s$1.json
  "$py" - "$seq" "$f" <<'PY'
import json, sys
seq, out = int(sys.argv[1]), sys.argv[2]
w = json.load(open("workloads/longctx_s128k.json"))
w["name"], w["seq_len"] = f"longctx-s{seq}", seq
w["data"]["vertical_density"] = 1000 / seq
json.dump(w, open(out, "w"), indent=1)
PY
  echo "$f"
}

case ${1:-layer} in
  layer) run layer_j1 workloads/longctx_s128k.json 1 1 0 ;;
  scaling)
    layers=${LAYERS:-2}
    run "scaling_l${layers}_j1" workloads/longctx_s128k.json "$layers" 1
    run "scaling_l${layers}_j$threads" workloads/longctx_s128k.json "$layers" "$threads" ;;
  length)
    for seq in 4096 8192 16384 32768 65536 131072; do run "length_s$seq" "$(at_length $seq)" 1 1 0; done
    "$py" scripts/plots/longctx_cost.py "$log" -o docs/plots/longctx_cost_vs_length.png ;;
  model) run "model_j$threads" workloads/longctx_s128k.json 32 "$threads" ;;
  *) echo "usage: $0 layer|scaling|length|model" >&2; exit 2 ;;
esac
