#!/usr/bin/env bash
# Starts a one-node Slurm on this machine (munged as user munge with a fresh
# key, slurmctld and slurmd as root, everything under a temporary folder),
# runs configs/sweeps/small_grid.json as a 2-task job array through
# scripts/slurm_sweep.sh, and checks that the merged summary equals an
# unsharded local run's. Stops the daemons. Exit 77 (skipped) unless root
# with slurm-wlm and munge installed.
#   tests/slurm/run_slurm_test.sh ATTNSIM_BINARY
set -euo pipefail
bin=$(realpath "${1:?usage: run_slurm_test.sh ATTNSIM_BINARY}")
src=$(cd "$(dirname "$0")/../.." && pwd)
skip() { echo "skipped: $*"; exit 77; }
source "$(dirname "$0")/one_node_slurm.sh"

# The sweep as a job array, then the same sweep on one machine.
spec="$src/configs/sweeps/small_grid.json"
ATTNSIM="$bin" SWEEP_WAIT=1 timeout 120 "$src/scripts/slurm_sweep.sh" "$spec" "$tmp/out" 2 ||
  fail "the Slurm sweep failed"
ls "$tmp/out"/summary.shard-0-of-2.json "$tmp/out"/summary.shard-1-of-2.json >/dev/null || fail "shard summaries missing"
"$bin" sweep -q "$spec" --out "$tmp/local" || fail "the local sweep failed"
python3 - "$tmp/out/summary.json" "$tmp/local/summary.json" <<'PY' || fail "summaries differ"
import json, sys
def core(path):
    s = json.load(open(path))
    s.pop("host")
    for p in s["points"]:
        p.pop("host")
    return s
a, b = core(sys.argv[1]), core(sys.argv[2])
assert a["counts"]["ok"] == 4, a["counts"]
assert a == b, "merged summary differs from the local run's"
PY
echo "ok: a 2-task Slurm job array ran the sweep and its merged summary equals the local run's"
