#!/usr/bin/env bash
# Search benchmark of issue "Search, not only sweep" (docs/search.md, "Evidence"):
#   bench/run_search_bench.sh [OUT] [SEEDS] [TRIALS]
# 1. enumerates configs/search/sanger_subspace.json with attnsim sweep (its
#    grid: the exhaustive front);
# 2. runs attnsim search on the same space with NSGA-II, TPE and random
#    sampling, SEEDS seeds each (default 5: seeds 0..4), TRIALS trials each
#    (default 800, half the grid), the runs reading the sweep's reports (the same content
#    hash is the same report, so the trials cost no simulation; the counts of
#    trials do not depend on it);
# 3. counts the trials each run needs to reach 99 % of the exhaustive front's
#    hypervolume (scripts/search/bench_search.py): OUT/results.md, results.json,
#    bench_progress.png.
# Resumable: finished steps are kept. JOBS=N runs N searches at once (default 2).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=$(realpath -m "${1:-$root/out/search_bench}")
seeds=${2:-5}
trials=${3:-800}
jobs=${JOBS:-2}
py=$root/.venv/bin/python
export ATTNSIM=$(realpath "${ATTNSIM:-$root/build/attnsim}")
space=$root/configs/search/sanger_subspace.json
search="$py $root/scripts/search/search.py"
mkdir -p "$out/runs"

$search "$space" --grid-spec "$out/grid.json"
if [ ! -f "$out/exhaustive/summary.json" ]; then
  /usr/bin/time -f "exhaustive sweep: %e s wall, %U s user, %S s sys" "$ATTNSIM" sweep "$out/grid.json" \
    -o "$out/exhaustive" -q -j "$jobs"
fi

one_run() {  # sampler seed
  local run=$out/runs/$1-$2
  if [ ! -e "$run/points" ]; then
    $search "$space" -o "$run" --sampler "$1" --seed "$2" --trials "$trials" --only init -q
    ln -s ../../exhaustive/points "$run/points"
  fi
  local start=$SECONDS   # a finished run with fewer trials is extended (the same trials as one run)
  $search "$space" -o "$run" --sampler "$1" --seed "$2" --trials "$trials" -q
  echo "$1 seed $2: $trials trials in $((SECONDS - start)) s"
}
export -f one_run
export out trials space search
for seed in $(seq 0 $((seeds - 1))); do
  for sampler in nsga2 tpe random; do echo "$sampler $seed"; done
done | xargs -P "$jobs" -L 1 bash -c 'set -euo pipefail; one_run "$0" "$1"'

$py "$root/scripts/search/bench_search.py" "$out" "$space"
