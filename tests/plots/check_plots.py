#!/usr/bin/env python3
"""ctest check of scripts/plots: each script makes a PNG from a small input,
and bad input fails with one line and exit code 2. Exit 77 (skipped) where
matplotlib or numpy is missing.

    check_plots.py ATTNSIM_BINARY SOURCE_DIR
"""
import csv
import json
import os
import struct
import subprocess
import sys
import tempfile

try:
    import matplotlib  # noqa: F401
    import numpy  # noqa: F401
except ImportError as e:
    print(f"skipped: {e}")
    sys.exit(77)

attnsim, src = sys.argv[1], sys.argv[2]
plots = os.path.join(src, "scripts", "plots")
failures = []


def run(cmd):
    return subprocess.run(cmd, cwd=src, capture_output=True, text=True)


def check_png(name, cmd, out, min_size=(300, 200)):
    r = run(cmd)
    if r.returncode != 0:
        failures.append(f"{name}: exit {r.returncode}: {r.stderr.strip()}")
        return
    try:
        with open(out, "rb") as f:
            head = f.read(24)
    except OSError as e:
        failures.append(f"{name}: no PNG written ({e})")
        return
    if head[:8] != b"\x89PNG\r\n\x1a\n":
        failures.append(f"{name}: {out} is not a PNG")
        return
    w, h = struct.unpack(">II", head[16:24])
    if w < min_size[0] or h < min_size[1]:
        failures.append(f"{name}: {out} is only {w}x{h} pixels")
    else:
        print(f"ok {name}: {w}x{h}")


def check_vector(name, stem):
    """STEM.svg and STEM.pdf beside the PNG."""
    for ext, magic in ((".svg", b"<svg"), (".pdf", b"%PDF")):
        try:
            with open(stem + ext, "rb") as f:
                head = f.read(2048)
        except OSError:
            failures.append(f"{name}: no {ext} beside the PNG")
            continue
        if magic not in head:
            failures.append(f"{name}: {stem + ext} is not {ext[1:].upper()}")
    print(f"ok {name}: SVG and PDF beside the PNG")


def pareto_figure(argv):
    """Runs pareto_scatter.main() in this process and returns its figure."""
    sys.path.insert(0, plots)
    import pareto_scatter
    captured = []
    pareto_scatter.save = lambda fig, out, formats: captured.append(fig)
    saved_argv, sys.argv = sys.argv, ["pareto_scatter.py"] + argv
    try:
        pareto_scatter.main()
    finally:
        sys.argv = saved_argv
    return captured[0]


def check_pareto_figure(summary, points, baseline_report, tmp):
    """Labels of a crowded front do not overlap; the legend names what is drawn."""
    fig = pareto_figure([summary, "-o", f"{tmp}/unused.png", "--baseline", baseline_report])
    ax = fig.axes[0]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    if not any(t.startswith("baseline: ") for t in legend):
        failures.append(f"pareto_scatter: no baseline in the legend {legend}")
    renderer = fig.canvas.get_renderer()
    labels = [t for t in ax.texts if t.get_text().startswith("#")]
    want = sum(1 for p in points if p["status"] == "ok" and p["pareto"])
    if len(labels) != want:
        failures.append(f"pareto_scatter: {len(labels)} point labels for {want} front points")
    boxes = [t.get_window_extent(renderer) for t in labels]
    overlaps = [(labels[i].get_text(), labels[j].get_text()) for i in range(len(boxes))
                for j in range(i + 1, len(boxes)) if boxes[i].overlaps(boxes[j])]
    if overlaps:
        failures.append(f"pareto_scatter: labels overlap: {overlaps}")
    # A front of one point: no front line in the legend.
    one = os.path.join(tmp, "one_front.csv")
    with open(summary) as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        if r["status"] == "ok":  # point 0 is best in both metrics
            r["time_us"], r["energy_pj"] = (1, 1) if r["point"] == "0" else (float(r["time_us"]) + 5, 9e8)
            r["pareto"] = int(r["point"] == "0")
    with open(one, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    legend = [t.get_text() for t in pareto_figure([one, "-o", f"{tmp}/unused.png"]).axes[0].get_legend().get_texts()]
    if any(t.startswith("front of") for t in legend):
        failures.append(f"pareto_scatter: a one-point front has a front line in the legend {legend}")
    else:
        print(f"ok pareto_scatter figure: {len(labels)} labels apart, legend {legend}")


def check_bad_input(name, cmd, fragment):
    r = run(cmd)
    lines = r.stderr.strip().splitlines()
    if r.returncode != 2 or len(lines) != 1 or fragment not in lines[0]:
        failures.append(f"{name}: expected exit 2 and one line naming {fragment!r}, got {r.returncode}: {r.stderr!r}")
    else:
        print(f"ok {name}: {lines[0]}")


with tempfile.TemporaryDirectory(prefix="attnsim_plots_") as tmp:
    # A small stand-in for attnsim sweep's summary.csv: a rows x pes_per_row
    # grid whose latency falls and energy rises with the PE count, one failed point.
    summary = os.path.join(tmp, "summary.csv")
    cols = ["point", "hash", "status", "pe_array.rows", "pe_array.pes_per_row", "workload", "cycles", "time_us",
            "energy_pj", "area_mm2", "pe_utilisation", "mac_utilisation", "dram_bytes", "density", "relative_error", "wall_time_s",
            "pareto", "error"]
    points = []
    for rows in (16, 32, 64):
        for ppr in (4, 8, 16):
            pes = rows * ppr
            cycles = int(4e7 / pes + 2e4)
            points.append({"point": len(points), "hash": f"{len(points):016x}", "status": "ok",
                           "pe_array.rows": rows, "pe_array.pes_per_row": ppr, "workload": "minilm-s128",
                           "cycles": cycles, "time_us": cycles / 1000, "energy_pj": 4e8 + 3e5 * pes,
                           "area_mm2": 1 + pes * 0.002, "pe_utilisation": 0.9 - 0.01 * ppr - 0.002 * rows,
                           "mac_utilisation": 0.5 - 0.01 * ppr - 0.002 * rows,
                           "dram_bytes": 2359296, "density": 0.48, "relative_error": 0.05, "wall_time_s": 1.5,
                           "pareto": 0, "error": ""})
    for p in points:  # the front of (time_us, energy_pj)
        p["pareto"] = int(not any(q["time_us"] <= p["time_us"] and q["energy_pj"] <= p["energy_pj"] and
                                  (q["time_us"], q["energy_pj"]) != (p["time_us"], p["energy_pj"]) for q in points))
    points.append(dict(points[0], point=len(points), hash="f" * 16, status="failed", cycles="", time_us="",
                       energy_pj="", pareto=0, error="point crashed (signal 11)"))
    with open(summary, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        w.writerows(points)

    # Two real reports (one layer of the small synthetic workload), one dump.
    reports = []
    for arch in ("sanger", "dense_systolic"):
        out = os.path.join(tmp, f"{arch}.json")
        cmd = [attnsim, "run", "-q", "-a", f"configs/arch/{arch}.json", "-w", "workloads/synthetic_small.json",
               "--layers", "1", "-o", out]
        if arch == "sanger":
            cmd += ["--dump", os.path.join(tmp, "dump")]
        r = run(cmd)
        if r.returncode != 0:
            print(f"attnsim run failed: {r.stderr}")
            sys.exit(1)
        reports.append(out)

    py = sys.executable
    check_png("pareto_scatter", [py, f"{plots}/pareto_scatter.py", summary, "-o", f"{tmp}/pareto.png",
                                 "--color", "pe_array.rows", "--baseline", reports[1], "--formats", "png,svg,pdf"],
              f"{tmp}/pareto.png")
    check_vector("pareto_scatter", f"{tmp}/pareto")
    # Started by a Python without matplotlib (here: without site-packages), a
    # script runs itself again with the tree's .venv.
    if os.path.exists(os.path.join(src, ".venv", "bin", "python")):
        check_png("pareto_scatter started without matplotlib",
                  [sys.executable, "-S", f"{plots}/pareto_scatter.py", summary, "-o", f"{tmp}/no_mpl.png"],
                  f"{tmp}/no_mpl.png")
    check_png("utilisation_heatmap", [py, f"{plots}/utilisation_heatmap.py", summary, "-o", f"{tmp}/heat.png"],
              f"{tmp}/heat.png", min_size=(900, 200))  # three panels: MAC utilisation, latency, energy
    # The same input gives the same SVG, byte for byte.
    first = open(f"{tmp}/heat.svg", "rb").read() if os.path.exists(f"{tmp}/heat.svg") else b""
    run([py, f"{plots}/utilisation_heatmap.py", summary, "-o", f"{tmp}/heat.png"])
    if not first or first != open(f"{tmp}/heat.svg", "rb").read():
        failures.append("utilisation_heatmap: a second run wrote a different SVG")
    check_pareto_figure(summary, points, reports[1], tmp)
    check_png("unit_breakdown", [py, f"{plots}/unit_breakdown.py", *reports, "-o", f"{tmp}/units.png"],
              f"{tmp}/units.png")
    check_png("masks", [py, f"{plots}/masks.py", f"{tmp}/dump", "-o", f"{tmp}/masks.png"], f"{tmp}/masks.png")
    # Cost against length (bench/run_longctx_bench.sh length): lines as the bench writes them.
    longctx = os.path.join(tmp, "longctx.jsonl")
    with open(longctx, "w") as f:
        for seq, cpu, rss in [(4096, 1.2, 40), (8192, 2.5, 68), (16384, 5.1, 123)]:
            f.write(json.dumps({"case": f"length_s{seq}", "seq": seq, "cpu_s": cpu, "peak_rss_mib": rss}) + "\n")
    check_png("longctx_cost", [py, f"{plots}/longctx_cost.py", longctx, "-o", f"{tmp}/longctx.png"], f"{tmp}/longctx.png")
    if not os.path.exists(f"{tmp}/longctx.svg") or os.path.getsize(f"{tmp}/longctx.svg") == 0:
        failures.append("longctx_cost wrote no SVG beside its PNG")

    # The pandas example of docs/plots.md, on the sweep it names (64 points, a few seconds).
    example_dir = os.path.join(tmp, "example")
    os.makedirs(os.path.join(example_dir, "build"))
    os.symlink(os.path.abspath(attnsim), os.path.join(example_dir, "build", "attnsim"))
    r = run([attnsim, "sweep", "-q", "configs/sweeps/sanger_pe_grid.json", "-o", f"{example_dir}/out/grid"])
    doc = open(os.path.join(src, "docs", "plots.md")).read()
    start = doc.index("```python\n") + len("```python\n")
    with open(f"{example_dir}/example.py", "w") as f:
        f.write(doc[start:doc.index("```", start)])
    r = r if r.returncode else subprocess.run([py, "example.py"], cwd=example_dir, capture_output=True, text=True)
    if r.returncode != 0 or not os.path.exists(f"{example_dir}/latency_vs_pes.png"):
        failures.append(f"the pandas example of docs/plots.md failed: {r.stderr.strip()[-500:]}")
    else:
        print("ok the pandas example of docs/plots.md")

    # Bad input: one line naming the file, exit 2, no PNG.
    no_energy = os.path.join(tmp, "no_energy.csv")
    with open(summary) as f, open(no_energy, "w") as g:
        g.write(f.read().replace("energy_pj", "joules"))
    check_bad_input("pareto_scatter missing column", [py, f"{plots}/pareto_scatter.py", no_energy, "-o",
                                                       f"{tmp}/bad.png"], "no_energy.csv")
    check_bad_input("unit_breakdown not a report", [py, f"{plots}/unit_breakdown.py", summary, "-o",
                                                     f"{tmp}/bad.png"], "summary.csv")
    check_bad_input("masks not a dump", [py, f"{plots}/masks.py", tmp, "-o", f"{tmp}/bad.png"], "meta.json")
    # The wrong kind of input (a report where a summary belongs, a binary file
    # where a report belongs): one line naming it, never a traceback.
    check_bad_input("pareto_scatter given a report", [py, f"{plots}/pareto_scatter.py", reports[0], "-o",
                                                      f"{tmp}/bad.png"], os.path.basename(reports[0]))
    check_bad_input("utilisation_heatmap given a report", [py, f"{plots}/utilisation_heatmap.py", reports[0], "-o",
                                                           f"{tmp}/bad.png"], os.path.basename(reports[0]))
    check_bad_input("unit_breakdown given a binary", [py, f"{plots}/unit_breakdown.py", attnsim, "-o",
                                                      f"{tmp}/bad.png"], os.path.basename(attnsim))
    check_bad_input("longctx_cost given a report", [py, f"{plots}/longctx_cost.py", reports[0], "-o",
                                                    f"{tmp}/bad.png"], os.path.basename(reports[0]))
    check_bad_input("an unknown format", [py, f"{plots}/pareto_scatter.py", summary, "-o", f"{tmp}/bad.png",
                                          "--formats", "png,gif"], "'gif'")
    if os.path.exists(f"{tmp}/bad.png"):
        failures.append("a failed script left bad.png behind")

for f in failures:
    print("FAIL", f)
sys.exit(1 if failures else 0)
