#!/usr/bin/env bash
# The one command to run on a GPU machine: builds gpu_ref, runs it on every
# dump under DUMPS_DIR into OUT_DIR/<case>/, and checks each against numpy.
#
#   gpu_ref/run_golden.sh DUMPS_DIR OUT_DIR [gpu_ref options, e.g. --repeats 20]
#
# GPU_REF_BIN=DIR runs DIR/gpu_ref instead of building (when it starts here).
# Writes OUT_DIR/<case>/ (gpu_ref's output), OUT_DIR/<case>.check.txt and
# OUT_DIR/<case>.check.json (the numpy check), OUT_DIR/<case>.log (gpu_ref's
# stdout/stderr) and OUT_DIR/SUMMARY.txt. Exit status: 0 when every case ran
# and passed its check, 1 otherwise, 77 when there is no nvcc.
set -uo pipefail

if [ $# -lt 2 ]; then
  echo "usage: $0 DUMPS_DIR OUT_DIR [gpu_ref options]" >&2
  exit 2
fi
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dumps="$1"
out="$2"
shift 2
python="${PYTHON:-python3}"

# GPU_REF_BIN=DIR: use DIR/gpu_ref (built elsewhere) when it runs here, else build.
bin="$here/build/gpu_ref"
mkdir -p "$out"
if [ -n "${GPU_REF_BIN:-}" ] && "$GPU_REF_BIN/gpu_ref" --help >/dev/null 2>&1; then
  bin="$GPU_REF_BIN/gpu_ref"
  echo "run_golden: using $bin"
else
  "$here/build.sh" >"${TMPDIR:-/tmp}/gpu_ref_build.log" 2>&1
  rc=$?
  if [ $rc -ne 0 ]; then
    cat "${TMPDIR:-/tmp}/gpu_ref_build.log"
    echo "run_golden: the gpu_ref build failed (exit $rc)" >&2
    exit $rc
  fi
  tail -n 1 "${TMPDIR:-/tmp}/gpu_ref_build.log"
  cp "${TMPDIR:-/tmp}/gpu_ref_build.log" "$out/build.log"
fi

status=0
summary=()
found=0
for case_dir in "$dumps"/*/; do
  case_dir="${case_dir%/}"
  [ -f "$case_dir/meta.json" ] || continue
  found=1
  name="$(basename "$case_dir")"
  echo "=== $name"
  "$bin" "$case_dir" "$out/$name" "$@" >"$out/$name.log" 2>&1
  rc=$?
  if [ $rc -eq 0 ]; then
    cat "$out/$name.log"
    if "$python" "$here/tests/check_against_numpy.py" "$case_dir" "$out/$name" --json "$out/$name.check.json" \
        >"$out/$name.check.txt" 2>&1; then
      summary+=("PASS  $name")
    else
      summary+=("FAIL  $name (numpy check)")
      status=1
    fi
    cat "$out/$name.check.txt"
  else
    cat "$out/$name.log"
    summary+=("FAIL  $name (gpu_ref exit $rc)")
    status=1
  fi
done
if [ $found -eq 0 ]; then
  echo "run_golden: no dump (a folder with meta.json) under $dumps" >&2
  exit 2
fi
printf '%s\n' "${summary[@]}" | tee "$out/SUMMARY.txt"
exit $status
