#!/usr/bin/env bash
# Runs an attnsim search as a Slurm job array (docs/search.md):
#   scripts/slurm_search.sh SPACE.json OUT [TASKS] [-- SBATCH_OPTION...]
# creates (or checks) the study here, then submits TASKS array tasks (default
# 4), each one worker on the shared study:
#   search.py SPACE -o OUT --only work
# and a job that starts when they all have ended (afterany) and writes the
# results:
#   search.py SPACE -o OUT --only finish  -> OUT/summary.csv, summary.json, search_hypervolume.png
# The budget is the study's (the space's "trials", or --trials in
# SEARCH_ARGS), shared by all tasks; rerunning the script resumes the study.
# OUT must be on a file system every node sees. The default study,
# OUT/study.db (SQLite), suits a handful of tasks where file locks work; for
# more, give a server: SEARCH_ARGS="--storage postgresql://USER:PW@HOST/DB".
# Prints the two job ids.
# ATTNSIM: the attnsim binary (default: build/attnsim of this checkout).
# PYTHON: a Python with optuna (default: .venv/bin/python of this checkout).
# SEARCH_ARGS: more options of search.py for every step (--trials, --storage, --sampler, --seed, --timeout).
# SEARCH_WAIT=1: wait for the results job and exit with its exit code.
set -euo pipefail

if [ "${1:-}" = "--task" ] || [ "${1:-}" = "--finish" ]; then  # inside a job (Slurm runs a copy of this script)
  phase=work
  [ "$1" = "--finish" ] && phase=finish
  # shellcheck disable=SC2086  # SEARCH_ARGS is a list of options
  exec "$PYTHON" "$SEARCH_PY" "$2" -o "$3" --only "$phase" -q $SEARCH_ARGS
fi
here=$(cd "$(dirname "$0")" && pwd)

if [ $# -lt 2 ]; then
  sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"   # the header comment
  exit 2
fi
space=$(realpath "$1")
out=$(realpath -m "$2")
tasks=${3:-4}
shift $(( $# < 3 ? $# : 3 ))
[ "${1:-}" = "--" ] && shift
[ -f "$space" ] || { echo "slurm_search.sh: $space: no such space" >&2; exit 2; }
[[ "$tasks" =~ ^[1-9][0-9]*$ ]] || { echo "slurm_search.sh: TASKS must be a positive integer, got '$tasks'" >&2; exit 2; }
ATTNSIM=$(realpath "${ATTNSIM:-$here/../build/attnsim}")
PYTHON=${PYTHON:-$here/../.venv/bin/python}
PYTHON=$(cd "$(dirname "$PYTHON")" && pwd)/$(basename "$PYTHON")   # absolute, the venv's link kept
SEARCH_PY=$here/search/search.py
SEARCH_ARGS=${SEARCH_ARGS:-}
export ATTNSIM PYTHON SEARCH_PY SEARCH_ARGS
[ -x "$ATTNSIM" ] || { echo "slurm_search.sh: $ATTNSIM is not executable (set ATTNSIM)" >&2; exit 2; }
# The study exists before the tasks start (and a bad space fails here, once).
# shellcheck disable=SC2086
"$PYTHON" "$SEARCH_PY" "$space" -o "$out" --only init -q $SEARCH_ARGS
mkdir -p "$out/logs"   # Slurm's logs
started="$out/logs/slurm_search.started"   # a summary newer than this one is this run's
touch "$started"

array=$(sbatch --parsable --job-name=attnsim-search --array="0-$((tasks - 1))" \
  --output="$out/logs/slurm-%A_%a.out" "$@" "$0" --task "$space" "$out")
array=${array%%;*}
wait_flag=()
[ "${SEARCH_WAIT:-0}" = 1 ] && wait_flag=(--wait)
finish=$(sbatch --parsable --job-name=attnsim-search-finish --dependency="afterany:$array" \
  --output="$out/logs/slurm-finish-%j.out" "${wait_flag[@]}" "$0" --finish "$space" "$out") || {
  status=$?
  echo "slurm_search.sh: the results job failed (exit $status); see $out/logs/slurm-finish-*.out" >&2
  exit "$status"
}
echo "array job ${array} (${tasks} workers), results job ${finish%%;*}; summary: $out/summary.csv"
