#!/usr/bin/env bash
# DynamiQK benchmark (issue "DynamiQK pattern detector, multimodal and
# long-context workloads"): one layer of the 32-head, seq 16384, head dim 128
# long-context workload (workloads/longctx_s16k.json) with the pattern
# detector in front of the Sanger array (configs/arch/dynamiqk_sanger.json),
# pinned to one core. Prints CPU time (user + sys: steady on a shared
# machine), wall time, peak memory, where the simulated cycles go and the
# detector's choices. Targets: <= 60 s, <= 4 GiB.
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
    /usr/bin/time -v -o out/bench/time.txt taskset -c 0 "$bin" run -q \
      -a "configs/arch/$arch.json" -w workloads/longctx_s16k.json --layers 1 \
      --accuracy-rows "$rows" --set "mask_unit.budget=$budget" -o "$out"
    python3 - "$arch" "$budget" out/bench/time.txt "$out" <<'PY'
import collections, json, re, sys
arch, budget, time_file, path = sys.argv[1:5]
tv = open(time_file).read()
field = lambda name: re.search(re.escape(name) + r": (\S+)", tv).group(1)
user, sys_s = float(field("User time (seconds)")), float(field("System time (seconds)"))
wall = sum(float(x) * 60 ** i for i, x in enumerate(reversed(field("Elapsed (wall clock) time (h:mm:ss or m:ss)").split(":"))))
rss = int(field("Maximum resident set size (kbytes)"))
r = json.load(open(path))
t, s = r["total"], r["simulator"]
print(f"{arch} budget {budget}, {r['total']['accuracy']['compared_rows']} compared rows: CPU {user + sys_s:.1f} s "
      f"(user {user:.1f} + sys {sys_s:.1f}), wall {wall:.1f} s, peak RSS {rss/1024:.0f} MiB, "
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
