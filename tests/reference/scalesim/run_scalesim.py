#!/usr/bin/env python3
"""Reference compute cycles for the dense output-stationary (OS) baseline, from SCALE-Sim v3.

For every case (name, M, N, K, array rows R, array cols C) this script writes a SCALE-Sim
config, a GEMM topology CSV and a layout CSV into a temporary directory, runs

    python -m scalesim.scale -c CFG -t GEMM.csv -l LAYOUT.csv -p OUTDIR -i gemm

with the Python interpreter that runs this script (a venv made from
scripts/requirements.txt), parses OUTDIR/<run_name>/COMPUTE_REPORT.csv and prints one
JSON document (or writes it with --out).  Nothing of SCALE-Sim itself is in this repository; the
package is installed from PyPI.

SCALE-Sim's GEMM mode reads the topology row "Layer, M, N, K," as ifmap (M x K) times filter
(K x N) giving ofmap (M x N).  With dataflow 'os', M (the ofmap rows) is laid along the array rows
and N along the array cols, K is streamed.  The config below makes the SRAMs large enough to hold
every operand and gives the DRAM interface 1024 words/cycle, so there are no stall cycles: the
"Total Cycles" column is then compute cycles only.  The script checks that and, for every case,
compares SCALE-Sim's number with the closed form

    ceil(M/R) * ceil(N/C) * (K + R + C - 2) - 1

Usage (from the repository root):
    scripts/setup.sh    # or: /usr/bin/python3 -m venv .venv && .venv/bin/pip install -r scripts/requirements.txt
    .venv/bin/python tests/reference/scalesim/run_scalesim.py \
        --out tests/reference/facts/scalesim_v3.json

    # run SCALE-Sim again on the cases of a facts file (names, shapes, arrays and config taken
    # from the file) and exit 1 unless every total_cycles and stall_cycles still equals it
    # (the ctest reference_scalesim_live does this with the .venv made by scripts/setup.sh):
    .venv/bin/python tests/reference/scalesim/run_scalesim.py \
        --check tests/reference/facts/scalesim_v3.json
"""

import argparse
import concurrent.futures
import csv
import json
import math
import os
import subprocess
import sys
import tempfile
import time

# (name, M, N, K, rows, cols).  Attention head GEMMs: QK^T is (S x d) x (d x S) -> M=S, N=S, K=d;
# PV is (S x S) x (S x d) -> M=S, N=d, K=S.
DEFAULT_CASES = [
    # BERT-base-like head, S=512, d=64
    ("qk_s512_d64_32x32", 512, 512, 64, 32, 32),
    ("pv_s512_d64_32x32", 512, 64, 512, 32, 32),
    ("qk_s512_d64_128x128", 512, 512, 64, 128, 128),
    ("pv_s512_d64_128x128", 512, 64, 512, 128, 128),
    ("qk_s512_d64_64x16", 512, 512, 64, 64, 16),
    ("pv_s512_d64_64x16", 512, 64, 512, 64, 16),
    ("qk_s512_d64_16x64", 512, 512, 64, 16, 64),
    ("pv_s512_d64_16x64", 512, 64, 512, 16, 64),
    # MiniLM head, S=128, d=32
    ("minilm_qk_s128_d32_32x32", 128, 128, 32, 32, 32),
    ("minilm_pv_s128_d32_32x32", 128, 32, 128, 32, 32),
    ("minilm_qk_s128_d32_64x64", 128, 128, 32, 64, 64),
    ("minilm_pv_s128_d32_64x64", 128, 32, 128, 64, 64),
    # partial folds in both dimensions; on the non-square arrays the fold count tells whether
    # M goes on the rows (64x16: 2*5=10 folds, 16x64: 7*2=14) or on the cols (14 and 10)
    ("partial_100x70x33_32x32", 100, 70, 33, 32, 32),
    ("partial_100x70x33_64x16", 100, 70, 33, 64, 16),
    ("partial_100x70x33_16x64", 100, 70, 33, 16, 64),
    # a tile smaller than the array in M (one row fold using half the rows)
    ("tile_m64_n512_k64_128x128", 64, 512, 64, 128, 128),
    # M=64 row tiles
    ("tile_m64_n128_k32_32x32", 64, 128, 32, 32, 32),
    # degenerate K=1, one fold
    ("k1_32x32x1_32x32", 32, 32, 1, 32, 32),
]

# SCALE-Sim config values (all cases share them except ArrayHeight/ArrayWidth).
# SRAM sizes are in kB of 1-byte words (single_layer_sim.py uses word_size = 1).
CONFIG = {
    "Dataflow": "os",
    "IfmapSramSzkB": 65536,
    "FilterSramSzkB": 65536,
    "OfmapSramSzkB": 65536,
    "IfmapOffset": 0,
    "FilterOffset": 10000000,
    "OfmapOffset": 20000000,
    "Bandwidth": 1024,
    "ReadRequestBuffer": 32,
    "WriteRequestBuffer": 32,
    "IfmapCustomLayout": False,
    "FilterCustomLayout": False,
    "IfmapSRAMBankBandwidth": 1024,
    "IfmapSRAMBankNum": 1,
    "IfmapSRAMBankPort": 2,
    "FilterSRAMBankBandwidth": 1024,
    "FilterSRAMBankNum": 1,
    "FilterSRAMBankPort": 2,
    "SparsitySupport": False,
    "InterfaceBandwidth": "USER",
    "UseRamulatorTrace": False,
}

COMMAND = "python -m scalesim.scale -c CFG -t GEMM.csv -l LAYOUT.csv -p OUTDIR -i gemm"
FORMULA = "ceil(M/rows) * ceil(N/cols) * (K + rows + cols - 2) - 1"


def config_text(run_name, rows, cols, config=None):
    c = CONFIG if config is None else config
    b = lambda v: "True" if v else "False"  # noqa: E731
    return f"""[general]
run_name = {run_name}

[architecture_presets]
ArrayHeight : {rows}
ArrayWidth : {cols}
IfmapSramSzkB : {c['IfmapSramSzkB']}
FilterSramSzkB : {c['FilterSramSzkB']}
OfmapSramSzkB : {c['OfmapSramSzkB']}
IfmapOffset : {c['IfmapOffset']}
FilterOffset : {c['FilterOffset']}
OfmapOffset : {c['OfmapOffset']}
Bandwidth : {c['Bandwidth']}
Dataflow : {c['Dataflow']}
MemoryBanks : 1
ReadRequestBuffer : {c['ReadRequestBuffer']}
WriteRequestBuffer : {c['WriteRequestBuffer']}

[layout]
IfmapCustomLayout : {b(c['IfmapCustomLayout'])}
IfmapSRAMBankBandwidth : {c['IfmapSRAMBankBandwidth']}
IfmapSRAMBankNum : {c['IfmapSRAMBankNum']}
IfmapSRAMBankPort : {c['IfmapSRAMBankPort']}
FilterCustomLayout : {b(c['FilterCustomLayout'])}
FilterSRAMBankBandwidth : {c['FilterSRAMBankBandwidth']}
FilterSRAMBankNum : {c['FilterSRAMBankNum']}
FilterSRAMBankPort : {c['FilterSRAMBankPort']}

[sparsity]
SparsitySupport : {b(c['SparsitySupport']).lower()}
SparseRep : ellpack_block
OptimizedMapping : false
BlockSize : 8
RandomNumberGeneratorSeed : 40

[run_presets]
InterfaceBandwidth : {c['InterfaceBandwidth']}
UseRamulatorTrace : {b(c['UseRamulatorTrace'])}
"""


def formula(m, n, k, rows, cols):
    row_folds = math.ceil(m / rows)
    col_folds = math.ceil(n / cols)
    folds = row_folds * col_folds
    fold_cycles = k + rows + cols - 2
    total = folds * fold_cycles - 1
    return {
        "row_folds": row_folds,
        "col_folds": col_folds,
        "folds": folds,
        "fold_cycles": fold_cycles,
        "total_cycles": total,
        # SCALE-Sim averages these per fold (unweighted); with full-size folds they reduce to:
        "mapping_efficiency_pct": 100.0 * m * n / (folds * rows * cols),
        "compute_util_pct": 100.0 * m * n * k / (folds * rows * cols * fold_cycles),
        "overall_util_pct": 100.0 * m * n * k / (total * rows * cols),
        # the same closed form with M on the cols and N on the rows, to show which mapping
        # SCALE-Sim uses (it differs only for partial folds on non-square arrays)
        "total_cycles_if_m_on_cols": math.ceil(m / cols) * math.ceil(n / rows) * fold_cycles - 1,
    }


def read_compute_report(path):
    with open(path, newline="") as f:
        rows = [[x.strip() for x in r] for r in csv.reader(f)]
    header = [h for h in rows[0] if h]
    values = [v for v in rows[1] if v != ""]
    rec = dict(zip(header, values))
    return {
        "total_cycles_incl_prefetch": int(float(rec["Total Cycles (incl. prefetch)"])),
        "total_cycles": int(float(rec["Total Cycles"])),
        "stall_cycles": int(float(rec["Stall Cycles"])),
        "overall_util_pct": float(rec["Overall Util %"]),
        "mapping_efficiency_pct": float(rec["Mapping Efficiency %"]),
        "compute_util_pct": float(rec["Compute Util %"]),
    }


def run_case(case, python, keep_dir=None, config=None):
    name, m, n, k, rows, cols = case
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="scalesim_" + name + "_") as tmp:
        work = tmp if keep_dir is None else os.path.join(keep_dir, name)
        os.makedirs(work, exist_ok=True)
        cfg = os.path.join(work, "os.cfg")
        topo = os.path.join(work, "gemm.csv")
        layout = os.path.join(work, "layout.csv")
        outdir = os.path.join(work, "out")
        with open(cfg, "w") as f:
            f.write(config_text(name, rows, cols, config))
        with open(topo, "w") as f:
            # GEMM topology: header, then "name, M, N, K," (the trailing comma matters: SCALE-Sim
            # drops the last comma-separated field of every row).
            f.write("Layer, M, N, K,\n")
            f.write(f"{name}, {m}, {n}, {k},\n")
        with open(layout, "w") as f:
            # Custom layouts are disabled in the config, so this file is parsed but unused;
            # a header row alone is enough.
            f.write("Layer,\n")
        cmd = [python, "-m", "scalesim.scale", "-c", cfg, "-t", topo, "-l", layout,
               "-p", outdir, "-i", "gemm"]
        proc = subprocess.run(cmd, cwd=work, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True)
        report = os.path.join(outdir, name, "COMPUTE_REPORT.csv")
        if proc.returncode != 0 or not os.path.exists(report):
            tail = proc.stdout[-2000:]
            raise RuntimeError(f"case {name}: scalesim exited {proc.returncode}\n{tail}")
        rep = read_compute_report(report)
    wall = time.monotonic() - t0

    ref = formula(m, n, k, rows, cols)
    out = {
        "name": name,
        "M": m, "N": n, "K": k,
        "rows": rows, "cols": cols,
        "dataflow": "os",
        # "Total Cycles" column of COMPUTE_REPORT.csv (= compute + stall cycles)
        "total_cycles": rep["total_cycles"],
        "stall_cycles": rep["stall_cycles"],
        "compute_cycles": rep["total_cycles"] - rep["stall_cycles"],
        # "Total Cycles (incl. prefetch)": from the first DRAM read to the last DRAM write; it
        # depends on the DRAM bandwidth chosen above, not on the array
        "total_cycles_incl_prefetch": rep["total_cycles_incl_prefetch"],
        "overall_util_pct": round(rep["overall_util_pct"], 6),
        "mapping_efficiency_pct": round(rep["mapping_efficiency_pct"], 6),
        "compute_util_pct": round(rep["compute_util_pct"], 6),
        "formula": {kk: (round(v, 6) if isinstance(v, float) else v) for kk, v in ref.items()},
        "formula_matches": (
            rep["total_cycles"] == ref["total_cycles"]
            and abs(rep["mapping_efficiency_pct"] - ref["mapping_efficiency_pct"]) < 1e-6
            and abs(rep["compute_util_pct"] - ref["compute_util_pct"]) < 1e-6
            and abs(rep["overall_util_pct"] - ref["overall_util_pct"]) < 1e-6
        ),
    }
    return out, wall


def package_versions(python):
    """Versions of scalesim, numpy and Python in `python`, after importing SCALE-Sim's simulator
    there; None (with one line on stderr saying why) when that import fails."""
    code = ("import importlib.metadata as md, json, platform; import scalesim.scale_sim;"
            "print(json.dumps({'scalesim': md.version('scalesim'),"
            " 'numpy': md.version('numpy'), 'python': platform.python_version()}))")
    res = subprocess.run([python, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    if res.returncode != 0:
        lines = [ln.strip() for ln in res.stderr.splitlines() if ln.strip()]
        why = lines[-1] if lines else f"exit status {res.returncode}"
        print(f"run_scalesim.py: error: cannot import scalesim with {python} ({why}); make the "
              f"venv with scripts/setup.sh (.venv) or pip install -r "
              f"scripts/requirements.txt, and run this script with its python",
              file=sys.stderr)
        return None
    return json.loads(res.stdout)


def check(facts_path, only, python, jobs, keep):
    """Runs SCALE-Sim on the cases of the facts file `facts_path` (all of them, or those named in
    `only`) with the file's config; returns 0 when every case's total_cycles and stall_cycles
    equal the file's, 1 otherwise (the differing cases are printed), 2 when it cannot run."""
    try:
        with open(facts_path) as f:
            facts = json.load(f)
        ref = facts["reference"]
        config = ref["config"]
        cases = [(c["name"], c["M"], c["N"], c["K"], c["rows"], c["cols"]) for c in facts["cases"]]
        expected = {c["name"]: c for c in facts["cases"]}
        missing = sorted(set(CONFIG) - set(config))
        if missing:
            raise KeyError("reference.config lacks " + ", ".join(missing))
        bad_dataflow = [c["name"] for c in facts["cases"]
                        if c.get("dataflow", config["Dataflow"]) != config["Dataflow"]]
    except OSError as e:
        print(f"run_scalesim.py: error: cannot read {facts_path}: {e.strerror}", file=sys.stderr)
        return 2
    except (ValueError, KeyError, TypeError) as e:
        print(f"run_scalesim.py: error: {facts_path}: not a facts file of this script "
              f"({type(e).__name__}: {e})", file=sys.stderr)
        return 2
    if bad_dataflow:
        print(f"run_scalesim.py: error: {facts_path}: case dataflow differs from "
              f"config Dataflow: {', '.join(bad_dataflow)}", file=sys.stderr)
        return 2
    if only:
        unknown = sorted(set(only) - set(expected))
        if unknown:
            print(f"run_scalesim.py: error: not in {facts_path}: {', '.join(unknown)}",
                  file=sys.stderr)
            return 2
        cases = [c for c in cases if c[0] in only]
    if not cases:
        print(f"run_scalesim.py: error: {facts_path}: no cases", file=sys.stderr)
        return 2

    versions = package_versions(python)
    if versions is None:
        return 2
    if versions["scalesim"] != ref.get("version") or versions["numpy"] != ref.get("numpy"):
        print(f"note: running scalesim {versions['scalesim']} with numpy {versions['numpy']}; "
              f"the facts were made with scalesim {ref.get('version')}, numpy {ref.get('numpy')}",
              file=sys.stderr)

    t0 = time.monotonic()
    diffs = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as ex:
        # longest first (SCALE-Sim's run time grows with the cycle count) so that the jobs
        # end at about the same time
        order = sorted(cases, key=lambda c: -int(expected[c[0]].get("total_cycles") or 0))
        futs = {ex.submit(run_case, c, python, keep, config): c[0] for c in order}
        for fut in concurrent.futures.as_completed(futs):
            name = futs[fut]
            want = expected[name]
            try:
                res, wall = fut.result()
            except Exception as e:  # a SCALE-Sim failure on one case: report it with the others
                diffs.append(f"{name}: SCALE-Sim failed: {e}")
                continue
            got = {k: res[k] for k in ("total_cycles", "stall_cycles")}
            exp = {k: want.get(k) for k in got}
            if got != exp:
                diffs.append(f"{name} (M={res['M']} N={res['N']} K={res['K']} "
                             f"{res['rows']}x{res['cols']}): "
                             + ", ".join(f"{k} {got[k]} (facts: {exp[k]})" for k in got
                                         if got[k] != exp[k]))
            print(f"{name:<28} total={got['total_cycles']:>6} stall={got['stall_cycles']} "
                  f"{'ok' if got == exp else 'DIFFERS'} ({wall:.1f} s)", file=sys.stderr)
    elapsed = time.monotonic() - t0
    if diffs:
        print(f"{len(diffs)} of {len(cases)} cases differ from {facts_path} "
              f"(scalesim {versions['scalesim']}, {elapsed:.1f} s):")
        for d in sorted(diffs):
            print("  " + d)
        return 1
    print(f"all {len(cases)} cases equal {facts_path} (total_cycles, stall_cycles; scalesim "
          f"{versions['scalesim']}, {elapsed:.1f} s)")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", help="write the JSON here (default: stdout)")
    ap.add_argument("--only", action="append", default=[],
                    help="run only the case with this name (repeatable)")
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1),
                    help="cases run in parallel (default: %(default)s)")
    ap.add_argument("--keep", help="keep the SCALE-Sim inputs/outputs under this directory")
    ap.add_argument("--check", metavar="FACTS.json",
                    help="run the cases of this facts file (its shapes, arrays and config) and "
                         "exit 0 if every total_cycles and stall_cycles equals it, else 1")
    args = ap.parse_args()

    python = sys.executable
    if args.check:
        if args.out:
            ap.error("--check writes nothing: leave out --out")
        return check(args.check, args.only, python, args.jobs, args.keep)
    cases = DEFAULT_CASES
    if args.only:
        unknown = set(args.only) - {c[0] for c in cases}
        if unknown:
            ap.error("unknown case(s): " + ", ".join(sorted(unknown)))
        cases = [c for c in cases if c[0] in args.only]

    versions = package_versions(python)
    if versions is None:
        return 2
    t0 = time.monotonic()
    results = [None] * len(cases)
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as ex:
        futs = {ex.submit(run_case, c, python, args.keep): i for i, c in enumerate(cases)}
        for fut in concurrent.futures.as_completed(futs):
            i = futs[fut]
            res, wall = fut.result()
            results[i] = res
            print(f"{res['name']:<28} total={res['total_cycles']:>6} "
                  f"stall={res['stall_cycles']} formula={res['formula']['total_cycles']:>6} "
                  f"{'ok' if res['formula_matches'] else 'MISMATCH'} ({wall:.1f} s)",
                  file=sys.stderr)
    elapsed = time.monotonic() - t0

    doc = {
        "reference": {
            "package": "scalesim",
            "version": versions["scalesim"],
            "numpy": versions["numpy"],
            "python": versions["python"],
            "command": COMMAND,
            "topology_csv": "Layer, M, N, K,  (one row per case: name, M, N, K,)",
            "config": CONFIG,
            "config_note": ("SRAM sizes in kB (word = 1 byte); InterfaceBandwidth USER with "
                            "1024 words/cycle for ifmap/filter (IfmapSRAMBankBandwidth, "
                            "FilterSRAMBankBandwidth) and ofmap (Bandwidth); every case is "
                            "checked to have stall_cycles == 0, so total_cycles is compute "
                            "cycles only"),
            "formula": FORMULA,
            "mapping": "os: M (ofmap rows) on array rows, N on array cols, K streamed",
        },
        "cases": results,
    }
    text = json.dumps(doc, indent=2, sort_keys=True) + "\n"
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)

    stalls = [r["name"] for r in results if r["stall_cycles"] != 0]
    mismatches = [r["name"] for r in results if not r["formula_matches"]]
    print(f"{len(results)} cases in {elapsed:.1f} s; stalls: {stalls or 'none'}; "
          f"formula mismatches: {mismatches or 'none'}", file=sys.stderr)
    return 1 if stalls else 0


if __name__ == "__main__":
    sys.exit(main())
