#!/usr/bin/env bash
# Installs what attnsim needs from Debian 12's packages (only what is
# missing), then configures and builds it into build/.
set -euo pipefail
cd "$(dirname "$0")/.."
packages="g++ cmake make pkg-config libsystemc-dev nlohmann-json3-dev libboost-program-options-dev
libgtest-dev libeigen3-dev libbenchmark-dev python3 time python3-matplotlib python3-numpy
slurm-wlm munge"  # slurm-wlm, munge: the Slurm job-array test of attnsim sweep (tests/slurm)
missing=""
for p in $packages; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "setup: installing$missing"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing >/dev/null
fi
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"
