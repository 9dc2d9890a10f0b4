#!/usr/bin/env bash
# Installs what attnsim needs from Debian 12's packages (only what is
# missing), makes the Python virtual environment .venv for the external-reference
# tests (tests/reference), then configures and builds attnsim into build/.
set -euo pipefail
cd "$(dirname "$0")/.."
# python3-venv: the .venv made below; slurm-wlm, munge: the Slurm job-array tests of
# attnsim sweep (tests/slurm); clang, libclang-rt-14-dev: the libFuzzer targets (scripts/fuzz.sh);
# chromium: the headless browser that checks the HTML sweep report (tests/plots)
packages="g++ cmake make pkg-config libsystemc-dev nlohmann-json3-dev libboost-program-options-dev
libgtest-dev libeigen3-dev libbenchmark-dev python3 python3-venv time slurm-wlm munge clang
libclang-rt-14-dev chromium"
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

# .venv: the one Python environment of the tools (plots, sweep report, search, SCALE-Sim v3),
# pinned in scripts/requirements.txt. Made again only when missing or when the
# requirements file changed (its sha256 is kept in .venv/.requirements.sha256).
req=scripts/requirements.txt
stamp=.venv/.requirements.sha256
want="$(sha256sum "$req" | cut -d' ' -f1)"
venv_failed() {  # $1: the step that failed, $2: the file with its output
  tail -n 20 "$2" >&2
  rm -rf .venv "$2"  # no half-made .venv: reference_scalesim_live then skips instead of failing
  echo "setup: error: $1 failed (output above); .venv removed" >&2
  exit 1
}
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: making .venv from $req"
  rm -rf .venv
  log="$(mktemp)"
  /usr/bin/python3 -m venv .venv >"$log" 2>&1 || venv_failed "/usr/bin/python3 -m venv .venv" "$log"
  .venv/bin/pip install -q -r "$req" >"$log" 2>&1 || venv_failed "pip install -r $req" "$log"
  rm -f "$log"
  echo "$want" >"$stamp"
fi

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"
