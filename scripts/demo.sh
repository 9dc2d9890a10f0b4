#!/usr/bin/env bash
# The main job on the shipped default: the Sanger preset against the dense
# baseline on the default workload (all-MiniLM-L6-v2 Q/K/V, seq 128); writes
# both reports under out/ and prints the comparison.
set -euo pipefail
cd "$(dirname "$0")/.."
workload=${1:-workloads/minilm_s128.json}
mkdir -p out
build/attnsim run --arch configs/arch/dense_systolic.json --workload "$workload" --out out/dense.json
build/attnsim run --arch configs/arch/sanger.json --workload "$workload" --out out/sanger.json
echo
build/attnsim compare out/dense.json out/sanger.json
