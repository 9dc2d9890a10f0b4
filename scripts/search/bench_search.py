#!/usr/bin/env python3
"""Trials a search needs to come within 1 % of the exhaustive front's
hypervolume (bench/run_search_bench.sh; docs/search.md, "Evidence").

    bench_search.py BENCH_DIR SPACE.json [--target 0.99]

BENCH_DIR holds exhaustive/ (attnsim sweep of the space's grid) and
runs/<sampler>-<seed>/ (attnsim search of the same space). Objectives are
normalised to [0, 1] by the minimum and maximum of each over every feasible
point of the grid (maximised ones negated first), the reference point is 1.1
in each, once with the objectives' logarithms and once linear; a search's
hypervolume after N trials is that of the feasible points among its first N. Writes BENCH_DIR/results.json and results.md and the plot
BENCH_DIR/bench_progress.png (median hypervolume ratio against trials).
"""
import argparse
import json
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hypervolume  # noqa: E402


def report_value(report, dotted):
    v = report
    for k in dotted.split("."):
        if not isinstance(v, dict) or k not in v:
            raise SystemExit(f"bench_search.py: a report lacks {dotted} (the benchmark reads report paths only)")
        v = v[k]
    return v


def feasible(value, c):
    return ("max" not in c or value <= c["max"]) and ("min" not in c or value >= c["min"])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("bench")
    ap.add_argument("space")
    ap.add_argument("--target", type=float, default=0.99)
    a = ap.parse_args()
    with open(a.space) as f:
        space = json.load(f)
    goals = [-1.0 if o.get("goal") == "max" else 1.0 for o in space["objectives"]]
    metrics = [o["metric"] for o in space["objectives"]]
    constraints = space.get("constraints", [])

    # The exhaustive front, from the sweep's reports.
    exh = os.path.join(a.bench, "exhaustive")
    with open(os.path.join(exh, "summary.json")) as f:
        summary = json.load(f)
    grid_vectors = []
    for p in summary["points"]:
        if p["status"] != "ok":
            continue
        with open(os.path.join(exh, p["report"])) as f:
            r = json.load(f)
        if all(feasible(report_value(r, c["metric"]), c) for c in constraints):
            grid_vectors.append(tuple(g * report_value(r, m) for g, m in zip(goals, metrics)))
    front = hypervolume.pareto_front(grid_vectors)
    run_vectors = {}
    runs_dir = os.path.join(a.bench, "runs")
    for name in sorted(os.listdir(runs_dir)):
        with open(os.path.join(runs_dir, name, "summary.json")) as f:
            s = json.load(f)
        vectors = []
        for p in s["points"]:
            ok = p["status"] == "ok" and p.get("feasible", True) is not False
            vectors.append(tuple(g * p["objectives"][m] for g, m in zip(goals, metrics)) if ok else None)
        run_vectors[name] = vectors

    result = {"space": os.path.relpath(a.space), "grid_points": len(summary["points"]),
              "feasible_points": len(grid_vectors), "front_points": len(front), "target": a.target,
              "reference_point": hypervolume.Normaliser.REFERENCE, "normalisations": {}}
    lines = [f"Space {result['space']}: {result['grid_points']} grid points, {result['feasible_points']} feasible, "
             f"{result['front_points']} on the exhaustive front. Target: {a.target:.0%} of the exhaustive front's "
             "hypervolume (objectives min-max normalised over the grid's feasible points, reference point 1.1)."]
    curves_log = {}
    for scale, log_scale in (("log", True), ("linear", False)):
        norm = hypervolume.Normaliser(grid_vectors, log_scale=log_scale)
        best = hypervolume.hypervolume([norm(v) for v in grid_vectors], norm.reference())
        runs = {}
        for name, vectors in run_vectors.items():
            curve = [hv / best for hv in hypervolume.progress(vectors, norm)]
            reached = next((i + 1 for i, r in enumerate(curve) if r >= a.target), None)
            sampler, seed = name.rsplit("-", 1)
            runs.setdefault(sampler, []).append({"seed": int(seed), "trials": len(curve), "reached_at": reached,
                                                 "final_ratio": curve[-1], "curve": curve})
        if log_scale:
            curves_log = runs
        table = {}
        for sampler, rs in runs.items():
            rs.sort(key=lambda r: r["seed"])
            reached = [r["reached_at"] for r in rs if r["reached_at"] is not None]
            table[sampler] = {
                "seeds": [r["seed"] for r in rs], "budget": rs[0]["trials"],
                "reached_at": [r["reached_at"] for r in rs], "reached": len(reached),
                # Runs that never reach the target count as the budget plus one (a lower bound).
                "median_reached_at": statistics.median(r["reached_at"] or r["trials"] + 1 for r in rs),
                "final_ratio": [round(r["final_ratio"], 5) for r in rs],
                "mean_final_ratio": round(statistics.mean(r["final_ratio"] for r in rs), 5)}
        result["normalisations"][scale] = {"exhaustive_hypervolume": best, "samplers": table}
        lines += ["", f"Objectives {'as logarithms' if log_scale else 'linear'}:", "",
                  "| sampler | runs reaching the target | trials to reach it, per seed | median | "
                  "hypervolume ratio at the budget (mean) |", "|---|---|---|---|---|"]
        for sampler, r in table.items():
            per_seed = ", ".join(str(x) if x is not None else f">{r['budget']}" for x in r["reached_at"])
            median = r["median_reached_at"]
            median = f">{r['budget']}" if median > r["budget"] else f"{median:g}"
            lines.append(f"| {sampler} | {r['reached']} of {len(r['seeds'])} | {per_seed} | {median} | "
                         f"{r['mean_final_ratio']:.4f} |")
    tmp = os.path.join(a.bench, "results.json.tmp")
    with open(tmp, "w") as f:
        json.dump(result, f, indent=1)
    os.replace(tmp, os.path.join(a.bench, "results.json"))
    text = "\n".join(lines) + "\n"
    with open(os.path.join(a.bench, "results.md"), "w") as f:
        f.write(text)
    print(text, end="")
    runs = curves_log

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "plots"))
    from plotlib import plt, save, setup_style
    setup_style()
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for sampler, rs in runs.items():
        n = min(len(r["curve"]) for r in rs)
        median = [statistics.median(r["curve"][i] for r in rs) for i in range(n)]
        ax.plot(range(1, n + 1), median, label=f"{sampler} (median of {len(rs)} seeds)",
                linestyle="--" if sampler == "random" else "-")
    ax.axhline(a.target, color="grey", linewidth=0.8, linestyle=":")
    ax.set_xlabel("trials")
    ax.set_ylabel("hypervolume / exhaustive front's (log objectives)")
    ax.set_title(f"{os.path.basename(a.space)}: {result['grid_points']} points", fontsize=9)
    ax.legend(loc="lower right")
    save(fig, os.path.join(a.bench, "bench_progress.png"), "png,svg")


if __name__ == "__main__":
    main()
