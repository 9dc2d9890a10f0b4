#!/usr/bin/env bash
# Regenerates tests/golden/*.json: the shipped presets' reports on the shipped
# workloads. Run after a deliberate change of a simulated number, and explain
# the change in the commit message.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${ATTNSIM:-build/attnsim}
mkdir -p tests/golden
# Keep this list in step with tests/e2e/test_golden.cpp.
cases="sanger:minilm_s128 sanger:minilm_s256 sanger:synthetic_small sanger:synthetic_bert_base_s512
dense_systolic:minilm_s128 dense_systolic:minilm_s256 dense_systolic:synthetic_small dense_systolic:synthetic_bert_base_s512
sanger_fp32:minilm_s128 dense_fp32:minilm_s128 spatten:minilm_s128 spatten:synthetic_small
spatten_eighth:minilm_s128 spatten_pruner_systolic:minilm_s128 spatten_gpt2_medium:minilm_s128
spatten_gpt2_small:minilm_s128"
for c in $cases; do
  arch=${c%%:*} wl=${c##*:}
  "$bin" run -q -a "configs/arch/$arch.json" -w "workloads/$wl.json" -o "tests/golden/${arch}__${wl}.json"
  # Host timings vary run to run; the goldens keep them out.
  python3 - "tests/golden/${arch}__${wl}.json" <<'PY'
import json, sys
p = sys.argv[1]
r = json.load(open(p))
r.pop("simulator", None)
open(p, "w").write(json.dumps(r, indent=2) + "\n")
PY
  echo "updated tests/golden/${arch}__${wl}.json"
done
