#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/, clang with AddressSanitizer and UBSan)
# into build-fuzz/ and runs each one (docs/fuzzing.md).
#   scripts/fuzz.sh --smoke          about 12 s per target (the ctest fuzz_smoke)
#   scripts/fuzz.sh [--seconds N]    N s per target (default 300)
#   scripts/fuzz.sh ... TARGET...    only these (arch, npy, validate, ...)
# libFuzzer runs in fork mode, so it keeps going after a finding.
# Exit 0: no new findings; 1: new findings (each reproducer's path is printed);
# 77: clang or libFuzzer is missing (Debian 12: apt-get install clang libclang-rt-14-dev).
# Everything it writes (corpora, crash reproducers, scratch files) is under build-fuzz/.
set -uo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
build="${ATTNSIM_FUZZ_BUILD:-$root/build-fuzz}"
seconds=300
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) seconds=12 ;;
    --seconds) seconds="$2"; shift ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) targets+=("$1") ;;
  esac
  shift
done

# Skip (77) unless clang can link a libFuzzer binary.
cxx="$(command -v clang++ || command -v clang++-14 || true)"
if [ -z "$cxx" ]; then echo "fuzz: skipped: clang++ not found (apt-get install clang)"; exit 77; fi
mkdir -p "$build"
probe="$build/probe"
printf 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }\n' >"$probe.cpp"
if ! "$cxx" -fsanitize=fuzzer,address,undefined "$probe.cpp" -o "$probe" 2>/dev/null; then
  echo "fuzz: skipped: $cxx cannot link libFuzzer (apt-get install libclang-rt-14-dev)"
  exit 77
fi

echo "fuzz: building $build"
cmake -S fuzz -B "$build" -DCMAKE_CXX_COMPILER="$cxx" >"$build/cmake.log" 2>&1 &&
  cmake --build "$build" -j2 >>"$build/cmake.log" 2>&1 || { tail -n 30 "$build/cmake.log"; echo "fuzz: build failed"; exit 1; }
if [ ${#targets[@]} -eq 0 ]; then
  for f in fuzz/*_fuzzer.cpp; do n="$(basename "$f" _fuzzer.cpp)"; targets+=("$n"); done
fi

# Seeds made from the shipped files (not kept in the tree as copies).
seed_files() {
  case "$1" in
    arch) ls configs/arch/*.json ;;
    workload) ls workloads/*.json fuzz/seeds/validate_base/*.json ;;
    sweep) ls configs/sweeps/*.json configs/search/*.json ;;   # search spaces go through the same loader
    npy) ls fuzz/seeds/validate_base/*/*.npy ;;
    gpu_timing) ls gpu_ref/timings/*.json gpu_ref/golden/*/meta.json ;;
  esac
}

# A finding's signature: the first frame in attnsim's own sources (functional/, models/, frontend/, fuzz/)
# when its reproducer is run again, e.g. "frontend/validate/validate.cpp:250".
signature() {  # $1: target binary, $2: reproducer
  "$1" "$2" 2>&1 | grep -oE "/(functional|models|frontend|fuzz)/[A-Za-z0-9_/.-]+(:[0-9]+)?" | grep -v "fuzz/fuzz_common.h" | head -n 1 | sed 's|^/||'
}
# Findings in files this branch does not own wait for their fix there; listed
# in fuzz/known_findings.txt ("TARGET SIGNATURE"), they are reported but do not fail the run.
is_known() {  # $1: target, $2: signature
  [ -n "$2" ] && grep -v '^#' fuzz/known_findings.txt 2>/dev/null | grep -qxF "$1 $2"
}

export TMPDIR="$build/tmp"  # the targets' scratch folders
export UBSAN_OPTIONS="print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
rm -rf "$TMPDIR" && mkdir -p "$TMPDIR"  # a crashed target leaves its folder behind
new=0 known=0
for t in "${targets[@]}"; do
  bin="$build/${t}_fuzzer"
  [ -x "$bin" ] || { echo "fuzz: no target '$t'"; exit 1; }
  seeds="$build/seeds/$t" corpus="$build/corpus/$t" artifacts="$build/artifacts/$t"
  rm -rf "$seeds" "$artifacts"
  mkdir -p "$seeds" "$corpus" "$artifacts"
  for f in $(seed_files "$t"); do cp "$f" "$seeds/$(echo "$f" | tr / _)"; done
  [ "$t" = validate ] && ATTNSIM_FUZZ_WRITE_SEEDS="$seeds" "$bin" -runs=0 "$corpus" >"$build/$t.seeds.log" 2>&1
  dirs=("$corpus" "$seeds")
  for d in "fuzz/seeds/$t" "fuzz/regressions/$t"; do [ -d "$d" ] && dirs+=("$d"); done
  # Fork mode: a crash, leak, timeout or out-of-memory is saved under
  # $artifacts and fuzzing goes on. 10 s per input: the loaders read small
  # files, anything slower is a hang.
  log="$build/$t.log"
  start=$(date +%s)
  "$bin" -fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1 -max_total_time="$seconds" -rss_limit_mb=2048 \
    -timeout=10 -max_len=65536 -artifact_prefix="$artifacts/" "${dirs[@]}" >"$log" 2>&1
  rc=$?
  secs=$(( $(date +%s) - start ))
  runs="$(grep -oE '^#[0-9]+' "$log" | tail -n 1 | tr -d '#')"
  echo "fuzz: $t: $secs s, ${runs:-0} inputs ($(( ${runs:-0} / (secs > 0 ? secs : 1) ))/s), corpus $(ls "$corpus" | wc -l)," \
       "exit $rc, log $log"
  if [ "$rc" -ne 0 ] && [ -z "$(ls "$artifacts")" ]; then tail -n 5 "$log"; new=$((new + 1)); fi
  declare -A seen=()
  for a in "$artifacts"/*; do
    [ -f "$a" ] || continue
    sig="$(signature "$bin" "$a")"
    [ -n "${seen["x$sig"]:-}" ] && continue  # one reproducer per signature
    seen["x$sig"]=1
    if is_known "$t" "$sig"; then known=$((known + 1)); tag="known (fuzz/known_findings.txt)"
    else new=$((new + 1)); tag="NEW"; fi
    echo "    $tag: ${sig:-no attnsim frame} $(basename "$a" | cut -d- -f1); reproducer: $a (replay: $bin $a)"
  done
  unset seen
done
echo "fuzz: $new new finding(s), $known known"
[ "$new" -eq 0 ]
