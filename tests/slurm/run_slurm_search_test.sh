#!/usr/bin/env bash
# attnsim search on a one-node Slurm (tests/slurm/one_node_slurm.sh): a
# 3-task job array through scripts/slurm_search.sh fills one study (SQLite in
# OUT) with the space's budget, several tasks running trials at once (as many
# as the node has CPUs), none left running or counted twice; the results job
# writes the summary. Exit 77 (skipped)
# unless root with slurm-wlm and munge installed, or where PYTHON lacks optuna.
#   tests/slurm/run_slurm_search_test.sh ATTNSIM_BINARY PYTHON
set -euo pipefail
bin=$(realpath "${1:?usage: run_slurm_search_test.sh ATTNSIM_BINARY PYTHON}")
py=${2:?usage: run_slurm_search_test.sh ATTNSIM_BINARY PYTHON}
src=$(cd "$(dirname "$0")/../.." && pwd)
skip() { echo "skipped: $*"; exit 77; }
"$py" -c "import optuna" 2>/dev/null || skip "$py cannot import optuna"
source "$(dirname "$0")/one_node_slurm.sh"

# A small space; points slowed a little so that the tasks overlap.
cat >"$tmp/space.json" <<JSON
{ "arch": "$src/configs/arch/sanger.json", "workload": "$src/workloads/synthetic_small.json",
  "run_options": { "layers": 1 },
  "space": { "pe_array.rows": { "choices": [16, 32, 64] }, "pe_array.pes_per_row": { "choices": [8, 16] },
             "mask_unit.threshold": { "float": [0.001, 0.02], "log": true } },
  "objectives": [ { "metric": "total.cycles" }, { "metric": "edp_pj_us" } ],
  "sampler": "tpe", "seed": 2, "trials": 15 }
JSON
cat >"$tmp/slow_attnsim.sh" <<SH
#!/bin/sh
case " \$* " in *" --point "*) sleep 0.5;; esac
exec "$bin" "\$@"
SH
chmod +x "$tmp/slow_attnsim.sh"
ATTNSIM="$tmp/slow_attnsim.sh" PYTHON="$py" SEARCH_WAIT=1 SEARCH_ARGS="--heartbeat 2" \
  timeout 200 "$src/scripts/slurm_search.sh" "$tmp/space.json" "$tmp/out" 3 || fail "the Slurm search failed"
"$py" - "$tmp/out" <<'PY' || fail "the study or summary is wrong"
import json, sqlite3, sys
out = sys.argv[1]
s = json.load(open(f"{out}/summary.json"))
assert s["counts"]["points"] == 15 and s["counts"]["ok"] == 15, s["counts"]
assert s["pareto"], "a front"
con = sqlite3.connect(f"{out}/study.db")
states = dict(con.execute("SELECT state, COUNT(*) FROM trials GROUP BY state"))
workers = {json.loads(v) for (v,) in con.execute("SELECT value_json FROM trial_user_attributes WHERE key='worker'")}
trials = [p["host"]["trial"] for p in s["points"]]
assert states.get("COMPLETE") == 15 and "RUNNING" not in states and "WAITING" not in states, states
assert len(set(trials)) == 15, trials
# The node has as many task slots as CPUs: a task that starts once the budget is filled ends at once.
assert len(workers) >= 2, f"several tasks ran trials: {workers}"
print(f"ok: a 3-task Slurm array filled one study with 15 trials (workers {', '.join(sorted(workers))})")
PY
