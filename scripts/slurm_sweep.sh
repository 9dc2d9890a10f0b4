#!/usr/bin/env bash
# Runs an attnsim sweep as a Slurm job array (docs/dse.md):
#   scripts/slurm_sweep.sh SPEC.json OUT [TASKS] [-- SBATCH_OPTION...]
# submits TASKS array tasks (default 4), task I running
#   attnsim sweep SPEC --out OUT --shard I/TASKS -j $SLURM_CPUS_PER_TASK
# and a job that starts when they all have ended (afterany) and merges:
#   attnsim sweep --merge OUT        -> OUT/summary.csv, OUT/summary.json
# OUT must be on a file system every node sees. Prints the two job ids.
# ATTNSIM: the attnsim binary (default: build/attnsim of this checkout).
# SWEEP_WAIT=1: wait for the merge and exit with its exit code.
set -euo pipefail

if [ "${1:-}" = "--task" ]; then   # inside an array task
  exec "$ATTNSIM" sweep "$2" --out "$3" -q --shard "$SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT" \
    -j "${SLURM_CPUS_PER_TASK:-1}"
fi
if [ "${1:-}" = "--merge" ]; then  # the dependent job
  exec "$ATTNSIM" sweep --merge "$2"
fi

if [ $# -lt 2 ]; then
  sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"   # the header comment
  exit 2
fi
spec=$(realpath "$1")
out=$(realpath -m "$2")
tasks=${3:-4}
shift $(( $# < 3 ? $# : 3 ))
[ "${1:-}" = "--" ] && shift
[ -f "$spec" ] || { echo "slurm_sweep.sh: $spec: no such spec" >&2; exit 2; }
[[ "$tasks" =~ ^[1-9][0-9]*$ ]] || { echo "slurm_sweep.sh: TASKS must be a positive integer, got '$tasks'" >&2; exit 2; }
ATTNSIM=$(realpath "${ATTNSIM:-$(dirname "$0")/../build/attnsim}")
export ATTNSIM
[ -x "$ATTNSIM" ] || { echo "slurm_sweep.sh: $ATTNSIM is not executable (set ATTNSIM)" >&2; exit 2; }
# Catch spec errors here rather than in every task.
"$ATTNSIM" sweep --dry-run "$spec" >/dev/null
# attnsim writes only into folders it made (docs/data_safety.md): check before adding logs/.
if [ -d "$out" ] && [ -n "$(ls -A "$out")" ] && [ ! -e "$out/sweep.json" ] && [ ! -e "$out/points" ]; then
  echo "slurm_sweep.sh: $out: is a folder that is neither empty nor a sweep's output; choose another OUT" >&2
  exit 2
fi
mkdir -p "$out/logs"   # Slurm's logs: a sweep folder holds only what a sweep makes
started="$out/logs/slurm_sweep.started"   # a summary newer than this one is this run's
touch "$started"

array=$(sbatch --parsable --job-name=attnsim-sweep --array="0-$((tasks - 1))" \
  --output="$out/logs/slurm-%A_%a.out" "$@" "$0" --task "$spec" "$out")
array=${array%%;*}
wait_flag=()
[ "${SWEEP_WAIT:-0}" = 1 ] && wait_flag=(--wait)
merge=$(sbatch --parsable --job-name=attnsim-sweep-merge --dependency="afterany:$array" \
  --output="$out/logs/slurm-merge-%j.out" "${wait_flag[@]}" "$0" --merge "$out") || {
  status=$?
  # attnsim sweep --merge exits 1 when it merged but some points failed (listed in the summary).
  if [ "$status" = 1 ] && [ "$out/summary.csv" -nt "$started" ]; then
    echo "slurm_sweep.sh: merged, but some points failed; see the error column of $out/summary.csv" >&2
  else
    echo "slurm_sweep.sh: the merge job failed (exit $status); see $out/logs/slurm-merge-*.out" >&2
  fi
  exit "$status"
}
echo "array job ${array} (${tasks} tasks), merge job ${merge%%;*}; summary: $out/summary.csv"
