#!/usr/bin/env bash
# Turns the output of run_golden.sh into goldens:
#
#   gpu_ref/install_goldens.sh OUT DEST [CASE...]
#
# copies OUT/<case>/ to DEST/<case>/ (every case, or the ones named) without
# the dense intermediates (pred_scores / pred_probs), and keeps a golden small:
# a case whose copy exceeds 2 MiB loses its CSR tensors (mask_*, scores,
# probs) — attnsim validate then compares its decisions (kept sets, plans) and
# outputs, which determine the mask. DEST/CHECKS.txt gets the numpy checks of
# the installed cases (OUT/<case>.check.txt), appended after the ones of cases
# installed before.
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: $0 OUT DEST [CASE...]" >&2
  exit 2
fi
out="$1"
dest="$2"
shift 2
cases=("$@")
if [ ${#cases[@]} -eq 0 ]; then
  for d in "$out"/*/; do [ -f "$d/meta.json" ] && cases+=("$(basename "$d")"); done
fi
mkdir -p "$dest"
for c in "${cases[@]}"; do
  [ -f "$out/$c/meta.json" ] || { echo "install_goldens: $out/$c has no meta.json" >&2; exit 2; }
  rm -rf "${dest:?}/$c"
  cp -r "$out/$c" "$dest/$c"
  rm -f "$dest/$c/pred_scores.npy" "$dest/$c/pred_probs.npy"
  if [ "$(du -sb "$dest/$c" | cut -f1)" -gt $((2 * 1024 * 1024)) ]; then
    rm -f "$dest/$c/"{mask_indptr,mask_indices,mask_offsets,scores,probs}.npy
  fi
  if [ -f "$out/$c.check.txt" ]; then
    [ -f "$dest/CHECKS.txt" ] || echo "# numpy checks of the goldens (gpu_ref/tests/check_against_numpy.py)" > "$dest/CHECKS.txt"
    { echo; cat "$out/$c.check.txt"; } >> "$dest/CHECKS.txt"
  fi
  echo "install_goldens: $dest/$c ($(du -sh "$dest/$c" | cut -f1))"
done
