#!/usr/bin/env python3
"""One self-contained HTML page for an attnsim sweep (what `attnsim report` runs).

    sweep_report.py SWEEP_DIR [-o OUT.html] [--title TITLE] [--baseline POINT|none]

SWEEP_DIR is the folder `attnsim sweep --out` wrote (summary.json,
summary.csv, points/<hash>.json). The page (default SWEEP_DIR/report.html)
holds the summary table (click a header to sort; a URL ending in
#sort=COLUMN or #sort=-COLUMN sorts on load), the Pareto front, latency,
energy and area against each swept parameter, the per-unit breakdown of the
front's points (from their reports) and the run's provenance. Figures are
inline SVG, the sorting script is inline: the file opens from disk with no
server and no network. The same inputs give the same bytes.

The baseline (marked in the table and the plots) is, by default, the point of
each workload whose swept parameters all equal the spec's base arch (plus its
`set`); --baseline picks a point by index, or none. Bad input is one line
naming the file, exit code 2, and no page written. docs/sweep_report.md.
"""
import argparse
import csv
import html
import io
import json
import math
import os
import re

from plotlib import (BASELINE_COLOUR, COLOUR, FRONT_COLOUR, UNIT_COLOURS, InputProblem, fail_on_bad_input, front_2d,
                     is_number, label_and_scale, maybe_log, place_labels, plt, readable_ticks, tick_text, to_number)
import matplotlib

PROG = "attnsim report"
SOURCE_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Okabe & Ito's colour-blind-safe palette (plotlib); series also differ by
# marker, so they survive grey-scale printing.
SERIES_COLOURS = [COLOUR[c] for c in ("blue", "orange", "green", "purple", "sky", "vermillion", "black", "yellow")]
SERIES_MARKERS = ["o", "s", "^", "D", "v", "P", "X", "<"]
UNIT_ORDER = ["mask_unit", "encoder", "pe_array", "sram", "dram"]
UNIT_NAMES = {"mask_unit": "mask unit", "encoder": "encoder", "pe_array": "PE array", "sram": "SRAM (all buffers)",
              "dram": "DRAM"}
MAX_BREAKDOWN_POINTS = 30  # beyond this the bars are unreadable; the page says which were left out

# summary.csv columns: header shown, how the value is formatted, scale from the
# stored unit to the shown one. Sorting uses the stored value.
COLUMNS = {
    "point": ("point", "int", 1),
    "hash": ("report hash", "code", 1),
    "status": ("status", "text", 1),
    "workload": ("workload", "text", 1),
    "cycles": ("latency (cycles)", "int", 1),
    "time_us": ("latency (µs)", "num", 1),
    "energy_pj": ("energy (µJ)", "num", 1e-6),
    "area_mm2": ("area (mm²)", "num", 1),
    "pe_utilisation": ("PE array busy (%)", "num", 100),
    "mac_utilisation": ("MAC utilisation (%)", "num", 100),
    "dram_bytes": ("DRAM traffic (MB)", "num", 1e-6),
    "mask_density": ("mask density (%)", "num", 100),
    "density": ("mask density (%)", "num", 100),
    "relative_error": ("output relative error", "num", 1),
    "wall_time_s": ("simulator wall time (s)", "num", 1),
    "functional_cache_hits": ("reused heads", "int", 1),
    "pareto": ("Pareto front", "flag", 1),
    "error": ("error", "error", 1),
}
SWEEP_ARG = None  # the folder given, for the last-resort error line
BASE = object()  # a point's parameter left at the base arch's value (a `list` entry that omits it)


def quantity(name):
    """(label, scale) of a report path (an objective) or a summary column."""
    return label_and_scale(name)


# ---------------------------------------------------------------- reading

def read_json(path, what):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise InputProblem(f"{path}: missing: not {what}")
    except IsADirectoryError:
        raise InputProblem(f"{path}: is a folder, not {what}")
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputProblem(f"{path}: malformed JSON: {e}")


def expect(cond, path, field, message):
    if not cond:
        raise InputProblem(f"{path}: {field}: {message}")


def read_sweep(sweep_dir):
    """summary.json checked field by field, and summary.csv's header and rows."""
    if not os.path.exists(sweep_dir):
        raise InputProblem(f"{sweep_dir}: missing: no such sweep folder")
    if not os.path.isdir(sweep_dir):
        raise InputProblem(f"{sweep_dir}: not a folder (expected the folder attnsim sweep --out wrote)")
    jpath = os.path.join(sweep_dir, "summary.json")
    s = read_json(jpath, "attnsim sweep's summary.json")
    expect(isinstance(s, dict), jpath, "top level", "not an object (expected attnsim sweep's summary)")
    expect(s.get("format", "attnsim-sweep-summary") == "attnsim-sweep-summary", jpath, "format",
           f"{s.get('format')!r} is not attnsim-sweep-summary")
    for key, kind in (("points", list), ("spec", dict), ("parameters", list), ("objectives", list),
                      ("counts", dict)):
        expect(key in s, jpath, key, "missing (expected attnsim sweep's summary.json)")
        expect(isinstance(s[key], kind), jpath, key, f"not a{'n object' if kind is dict else ' list'}")
    expect(isinstance(s.get("pareto", []), list), jpath, "pareto", "not a list")
    expect(isinstance(s.get("host", {}), dict), jpath, "host", "not an object")
    for i, p in enumerate(s["points"]):
        where = f"points[{i}]"
        expect(isinstance(p, dict), jpath, where, "not an object")
        for key in ("index", "status"):
            expect(key in p, jpath, f"{where}.{key}", "missing")
        expect(isinstance(p["index"], int), jpath, f"{where}.index", "not an integer")
        for key in ("params", "metrics", "objectives"):
            expect(isinstance(p.get(key, {}), dict), jpath, f"{where}.{key}", "not an object")
    for i, o in enumerate(s["objectives"]):
        expect(isinstance(o, dict) and isinstance(o.get("metric"), str), jpath, f"objectives[{i}].metric",
               "missing or not a string")

    cpath = os.path.join(sweep_dir, "summary.csv")
    try:
        with open(cpath, newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            rows = [r for r in reader if r]
    except FileNotFoundError:
        raise InputProblem(f"{cpath}: missing: attnsim sweep writes it beside summary.json")
    except (UnicodeDecodeError, csv.Error) as e:
        raise InputProblem(f"{cpath}: not a CSV file: {e}")
    expect(header and "point" in header and "status" in header, cpath, "header",
           "no point and status columns (expected attnsim sweep's summary.csv)")
    for k, r in enumerate(rows):
        expect(len(r) == len(header), cpath, f"line {k + 2}", f"{len(r)} fields, the header has {len(header)}")
    expect(len(rows) == len(s["points"]), cpath, "rows",
           f"{len(rows)} points, but {jpath} has {len(s['points'])} (files of different sweeps?)")
    return s, header, rows


def read_point_report(sweep_dir, point):
    """The point's report, or (None, why) when it cannot be read: the page notes it and goes on."""
    rel = point.get("report")
    if not isinstance(rel, str):
        return None, "no report (the point failed)"
    path = os.path.join(sweep_dir, rel)
    try:
        with open(path, encoding="utf-8") as f:
            r = json.load(f)
    except FileNotFoundError:
        return None, f"{rel} is missing"
    except (OSError, ValueError) as e:
        return None, f"{rel} cannot be read ({type(e).__name__})"
    if not isinstance(r, dict) or not isinstance(r.get("total"), dict):
        return None, f"{rel} is not an attnsim report"
    return r, None


def json_path(obj, dotted):
    for part in dotted.split("."):
        if not isinstance(obj, dict) or part not in obj:
            return BASE
        obj = obj[part]
    return obj


def find_spec_file(summary):
    spec_file = summary.get("host", {}).get("spec_file")
    if not isinstance(spec_file, str):
        return None
    for candidate in (spec_file, os.path.join(SOURCE_DIR, spec_file)):
        if os.path.isfile(candidate):
            return candidate
    return None


def base_values(summary):
    """{parameter: the base arch's value (or BASE when unknown)} and a sentence on where they came from."""
    spec, params = summary["spec"], summary["parameters"]
    spec_file = find_spec_file(summary)
    arch_rel = spec.get("arch")
    if spec_file is None or not isinstance(arch_rel, str):
        return None, (f"the spec file ({summary.get('host', {}).get('spec_file', 'not recorded')}) was not found "
                      "from this folder or the source tree, so the base arch's values are unknown")
    arch_path = os.path.join(os.path.dirname(spec_file), arch_rel)
    try:
        with open(arch_path, encoding="utf-8") as f:
            arch = json.load(f)
    except (OSError, ValueError):
        return None, f"the base arch {arch_path} could not be read"
    fixed = spec.get("set", {}) if isinstance(spec.get("set"), dict) else {}
    return {p: fixed[p] if p in fixed else json_path(arch, p) for p in params}, f"base arch {arch_rel}"


def choose_baseline(summary, wanted):
    """Indices of the baseline points and the sentence the page shows about them."""
    points = {p["index"]: p for p in summary["points"]}
    if wanted == "none":
        return set(), "none (--baseline none)"
    if wanted is not None:
        try:
            index = int(wanted)
        except ValueError:
            raise InputProblem(f"--baseline: {wanted!r} is not a point index or none")
        if index not in points:
            raise InputProblem(f"--baseline: the sweep has no point {index}")
        return {index}, f"point {index} (--baseline)"
    base, where = base_values(summary)
    if base is None:
        return set(), f"none: {where}"
    found = set()
    for i, p in points.items():
        params = p.get("params", {})
        # A parameter the point leaves out is at the base's value; one the
        # base arch does not write (a default) matches only when left out.
        if all((name not in params) or (base[name] is not BASE and params[name] == base[name]) for name in base):
            found.add(i)
    shown = ", ".join(f"{k} = {format_value(v)}" for k, v in base.items() if v is not BASE)
    if not found:
        return set(), f"none: no point has the {where}'s values ({shown or 'unknown'})"
    return found, (f"the point{'s' if len(found) > 1 else ''} with the {where}'s values ({shown or 'no parameter is swept'}): "
                   + ", ".join(f"#{i}" for i in sorted(found)))


# ---------------------------------------------------------------- figures

def setup_figures():
    plt.rcParams.update({"figure.dpi": 100, "font.size": 10, "axes.titlesize": 11, "axes.grid": True,
                         "grid.alpha": 0.3, "axes.spines.top": False, "axes.spines.right": False,
                         "font.family": "DejaVu Sans",
                         "svg.fonttype": "none",  # text stays text: small, searchable, checked by the test
                         "svg.hashsalt": "attnsim-sweep-report",  # stable ids: same inputs, same bytes
                         "axes.prop_cycle": matplotlib.cycler(color=SERIES_COLOURS)})


def svg_of(fig, key):
    """The figure as an inline <svg> element; ids prefixed with key so that
    several figures in one page never share one."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buf.getvalue()
    text = text[text.index("<svg"):]
    text = re.sub(r'\bid="([^"]+)"', rf'id="{key}-\1"', text)
    text = re.sub(r'url\(#([^)]+)\)', rf'url(#{key}-\1)', text)
    text = re.sub(r'href="#([^"]+)"', rf'href="#{key}-\1"', text)
    # Scale with the page, keep the aspect ratio (the viewBox stays).
    # At most its natural width (text at its point size), narrower on a small screen.
    text = re.sub(r'<svg([^>]*?) width="([^"]*)" height="[^"]*"',
                  rf'<svg\1 class="figure" data-figure="{key}" style="max-width: \2"', text, count=1)
    return text


def workload_styles(workloads):
    return {w: (SERIES_COLOURS[k % len(SERIES_COLOURS)], SERIES_MARKERS[k % len(SERIES_MARKERS)])
            for k, w in enumerate(workloads)}


def point_value(p, name):
    """An objective (report path) or a metric (summary column) of a point."""
    if name in p.get("objectives", {}):
        return p["objectives"][name]
    return p.get("metrics", {}).get(name)


def pareto_axes(summary):
    used = [(o["metric"], o.get("goal", "min")) for o in summary["objectives"] if o.get("used", True)]
    if len(used) >= 2:
        return used[:2], "the first two objectives of the sweep"
    return [("time_us", "min"), ("energy_pj", "min")], "latency and energy (the sweep has fewer than two objectives)"


def pareto_figure(summary, ok, workloads, styles, front, baseline):
    (xname, xgoal), (yname, ygoal) = pareto_axes(summary)[0]
    (xlabel, xs_scale), (ylabel, ys_scale) = quantity(xname), quantity(yname)
    n = len(workloads)
    cols = min(n, 3)
    rows = (n + cols - 1) // cols
    size = (7.5, 5.2) if n == 1 else (5.2, 4.2)  # one workload: the page's main plot, larger
    fig, axes = plt.subplots(rows, cols, figsize=(size[0] * cols, size[1] * rows), squeeze=False)
    for k, w in enumerate(workloads):
        ax = axes[k // cols][k % cols]
        pts = [p for p in ok if p.get("workload") == w and is_number(point_value(p, xname))
               and is_number(point_value(p, yname))]
        if not pts:
            ax.text(0.5, 0.5, f"no point with {xname} and {yname}", ha="center", transform=ax.transAxes)
            continue
        xs = [point_value(p, xname) * xs_scale for p in pts]
        ys = [point_value(p, yname) * ys_scale for p in pts]
        colour, marker = styles[w]
        ax.scatter(xs, ys, s=26, color=colour, marker=marker, alpha=0.75, label="sweep point", zorder=2)
        line = front_2d(xs, ys, (1 if xgoal == "min" else -1, 1 if ygoal == "min" else -1))
        if len(line) > 1:  # a single point is no line
            ax.step([xs[i] for i in line], [ys[i] for i in line], where="post", color=FRONT_COLOUR, lw=1.2,
                    label="front of these two", zorder=3)
        on = [i for i, p in enumerate(pts) if p["index"] in front]
        ax.scatter([xs[i] for i in on], [ys[i] for i in on], s=120, facecolors="none", edgecolors=FRONT_COLOUR,
                   linewidths=1.6, label="Pareto front (all objectives)", zorder=4)
        base = [i for i, p in enumerate(pts) if p["index"] in baseline]
        if base:
            ax.scatter([xs[i] for i in base], [ys[i] for i in base], s=170, marker="*", color=BASELINE_COLOUR,
                       label="baseline", zorder=5)
        maybe_log(ax, "x", xs)
        maybe_log(ax, "y", ys)
        readable_ticks(ax, "x", "y")
        ax.set_xlabel(xlabel + ("" if xgoal == "min" else ", higher is better"))
        ax.set_ylabel(ylabel + ("" if ygoal == "min" else ", higher is better"))
        ax.set_title(f"{w}: {len(pts)} points, {len(on)} on the front")
        ax.legend(fontsize=7.5, loc="best")
        labelled = sorted(on, key=lambda i: (xs[i], ys[i]))[:40]
        place_labels(ax, [(xs[i], ys[i]) for i in labelled], [f"#{pts[i]['index']}" for i in labelled],
                     FRONT_COLOUR, fontsize=7.5)
    for k in range(n, rows * cols):
        axes[k // cols][k % cols].set_visible(False)
    fig.tight_layout()
    return fig


def category_order(values):
    """Numbers ascending, then text, then anything else (objects, lists) by its JSON."""
    def key(v):
        if is_number(v):
            return (0, v, "")
        if isinstance(v, str):
            return (1, 0, v)
        return (2, 0, json.dumps(v, sort_keys=True))
    unique = []
    for v in sorted(values, key=key):
        if not unique or key(unique[-1]) != key(v):
            unique.append(v)
    return unique


def parameter_figure(name, ok, workloads, styles, base, baseline, metrics):
    """Latency, energy and area against one parameter: every point, and the
    best over the other parameters per value."""
    values = [p.get("params", {}).get(name, base) for p in ok]
    numeric = all(is_number(v) for v in values)
    order = category_order([v for v in values if v is not BASE])
    labels = [format_value(v) for v in order] + (["base arch"] if any(v is BASE for v in values) else [])
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.4 * len(metrics), 3.6), squeeze=False)
    spread = 0.12 if len(workloads) > 1 else 0.0
    for m, metric in enumerate(metrics):
        ax = axes[0][m]
        label, scale = quantity(metric)
        all_y = []
        for k, w in enumerate(workloads):
            colour, marker = styles[w]
            sel = [(v, p) for v, p in zip(values, ok) if p.get("workload") == w and is_number(point_value(p, metric))]
            if not sel:
                continue
            if numeric:
                xs = [v for v, _ in sel]
            else:  # categories side by side per workload, so the series do not hide each other
                offset = (k - (len(workloads) - 1) / 2) * spread
                xs = [(len(order) if v is BASE else index_of(order, v)) + offset for v, _ in sel]
            ys = [point_value(p, metric) * scale for _, p in sel]
            all_y += ys
            ax.scatter(xs, ys, s=18, color=colour, marker=marker, alpha=0.45,
                       label=f"{w}" if len(workloads) > 1 else "sweep point", zorder=2)
            best = {}
            for x, y in zip(xs, ys):
                best[x] = min(best.get(x, math.inf), y)
            bx = sorted(best)
            ax.plot(bx, [best[x] for x in bx], color=colour, marker=marker, ms=5, lw=1.4 if numeric else 0,
                    label=("best: " + w) if len(workloads) > 1 else "best over the other parameters", zorder=3)
            marked = [(x, y) for x, y, (_, p) in zip(xs, ys, sel) if p["index"] in baseline]
            if marked:
                ax.scatter([x for x, _ in marked], [y for _, y in marked], s=150, marker="*", color=BASELINE_COLOUR,
                           label="baseline" if k == 0 or not ax.get_legend_handles_labels()[1].count("baseline")
                           else None, zorder=5)
        if not all_y:
            ax.text(0.5, 0.5, "no values", ha="center", transform=ax.transAxes)
        maybe_log(ax, "y", all_y)
        readable_ticks(ax, "y")
        if numeric:
            maybe_log(ax, "x", values)
            readable_ticks(ax, "x")
            distinct = sorted(set(values))
            if len(distinct) <= 12:
                ax.set_xticks(distinct, [tick_text(v) for v in distinct])
                ax.minorticks_off()
        else:
            ax.set_xticks(range(len(labels)), labels, rotation=30 if max(map(len, labels)) > 6 else 0,
                          ha="right" if max(map(len, labels)) > 6 else "center")
            ax.grid(False, axis="x")
        ax.set_xlabel(name)
        ax.set_ylabel(label)
        if m == 0:
            ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig


def index_of(order, v):
    for i, o in enumerate(order):
        if o == v and type(o) is type(v):
            return i
    return order.index(v)


def grouped(values_by_name):
    """SRAM buffers (sram_q, sram_k, ...) summed into one 'sram' entry."""
    out = {}
    for k, v in values_by_name.items():
        if is_number(v):
            key = "sram" if k.startswith("sram_") else k
            out[key] = out.get(key, 0.0) + v
    return out


def breakdown_data(report):
    units = report["total"].get("units", {})
    busy = {u: units[u].get("busy_cycles") for u in ("mask_unit", "encoder", "pe_array", "dram")
            if isinstance(units.get(u), dict) and is_number(units[u].get("busy_cycles"))}
    energy = grouped(report["total"].get("energy", {}).get("by_unit", {}) or {})
    area = grouped((report.get("area") or {}).get("by_unit", {}) or {})
    return {"cycles": report["total"].get("cycles"), "busy": busy,
            "energy_uj": {k: v * 1e-6 for k, v in energy.items()}, "area_mm2": area}


def breakdown_figure(items):
    """items: [(label, data)]. Busy cycles per unit (grouped), energy and area by unit (stacked)."""
    n = len(items)
    labels = [lab for lab, _ in items]
    panels = [("busy cycles per unit", "busy"), ("energy by unit (µJ)", "energy_uj"), ("area by unit (mm²)", "area_mm2")]
    panels = [(t, k) for t, k in panels if any(d[k] for _, d in items)]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 1.2 + 0.42 * n), squeeze=False,
                             sharey=True)
    ys = list(range(n))[::-1]  # the first item on top
    for a, (title, key) in enumerate(panels):
        ax = axes[0][a]
        units = [u for u in UNIT_ORDER if any(u in d[key] for _, d in items)]
        units += sorted({u for _, d in items for u in d[key]} - set(units))
        if key == "busy":
            height = 0.8 / max(len(units), 1)
            for k, u in enumerate(units):
                ax.barh([y + (len(units) / 2 - k - 0.5) * height for y in ys], [d[key].get(u, 0) for _, d in items],
                        height, color=UNIT_COLOURS.get(u, "#999999"), label=UNIT_NAMES.get(u, u))
            ax.scatter([d["cycles"] if is_number(d["cycles"]) else 0 for _, d in items], ys, marker="|", s=260,
                       color=BASELINE_COLOUR, linewidths=2, label="total cycles", zorder=3)
            readable_ticks(ax, "x")
        else:
            left = [0.0] * n
            for u in units:
                vals = [d[key].get(u, 0.0) for _, d in items]
                ax.barh(ys, vals, 0.6, left=left, color=UNIT_COLOURS.get(u, "#999999"), label=UNIT_NAMES.get(u, u))
                left = [l + v for l, v in zip(left, vals)]
        ax.set_title(title)
        ax.grid(False, axis="y")
    axes[0][0].set_yticks(ys, labels, fontsize=8)
    # One legend for all panels (a unit has one colour throughout), below them.
    legend = {}
    for ax in axes[0]:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            legend.setdefault(label, handle)
    order = [UNIT_NAMES[u] for u in UNIT_ORDER] + ["total cycles"]
    legend = dict(sorted(legend.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order)))
    fig.tight_layout()
    fig.legend(list(legend.values()), list(legend.keys()), loc="upper center", bbox_to_anchor=(0.5, 0.0),
               ncol=len(legend), fontsize=8, frameon=False)
    return fig


# ---------------------------------------------------------------- HTML

def format_value(v):
    if v is BASE:
        return "base arch"
    if isinstance(v, bool) or v is None:
        return json.dumps(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, str):
        return v
    return json.dumps(v, sort_keys=True)


def format_number(v, kind):
    if kind == "int" and float(v).is_integer():
        return f"{int(v):,}"
    if abs(v) >= 1e5:
        return f"{v:,.0f}"
    if v == 0:
        return "0"
    return f"{v:.4g}"


def cell(column, raw, baseline):
    """(display HTML, sort value or None for the displayed text)."""
    kind, scale = COLUMNS.get(column, (column, "auto", 1))[1:]
    if raw == "":
        return "", ""
    if kind == "flag":
        return ("front" if raw == "1" else ""), raw
    if kind == "error":
        first, _, rest = raw.partition("\n")
        text = html.escape(first) + (f"<details><summary>more</summary><pre>{html.escape(rest)}</pre></details>"
                                     if rest else "")
        return text, None
    if kind == "code":
        return f"<code>{html.escape(raw)}</code>", raw
    v = to_number(raw)
    if is_number(v) and kind != "text":
        shown = format_number(v * scale, kind if scale == 1 else "num")
        if column == "point" and baseline:
            shown += " <span class=\"tag\">baseline</span>"
        return shown, raw
    return html.escape(raw), raw


def table_html(header, rows, parameters, baseline):
    heads = []
    for c in header:
        label = COLUMNS.get(c, (c,))[0]
        cls = ' class="param"' if c in parameters else ""
        sub = f"<small>{html.escape(c)}</small>" if label != c else ""
        heads.append(f'<th data-col="{html.escape(c)}"{cls}><button type="button">{html.escape(label)}{sub}'
                     '</button></th>')
    body = []
    status_col, pareto_col, point_col = header.index("status"), header.index("pareto") if "pareto" in header else -1, \
        header.index("point")
    for r in rows:
        index = to_number(r[point_col])
        classes = []
        if pareto_col >= 0 and r[pareto_col] == "1":
            classes.append("pareto")
        if r[status_col] != "ok":
            classes.append("failed")
        if index in baseline:
            classes.append("baseline")
        cells = []
        error = r[header.index("error")] if "error" in header else ""
        for c, raw in zip(header, r):
            shown, sort_value = cell(c, raw, index in baseline)
            attr = f' data-v="{html.escape(sort_value)}"' if sort_value is not None else ""
            cls = ' class="error"' if COLUMNS.get(c, ("", ""))[1] == "error" else ""
            if c == "status" and error:  # the reason on hover, without scrolling to the error column
                cls = f' title="{html.escape(error)}"'
            cells.append(f"<td{attr}{cls}>{shown}</td>")
        cls = f' class="{" ".join(classes)}"' if classes else ""
        body.append(f'<tr data-point="{html.escape(r[point_col])}"{cls}>{"".join(cells)}</tr>')
    return ('<table id="points" class="sortable">\n<thead><tr>' + "".join(heads) + "</tr></thead>\n<tbody>\n"
            + "\n".join(body) + "\n</tbody></table>")


def simple_table(headers, rows, table_id=None, sortable=False):
    ident = f' id="{table_id}"' if table_id else ""
    cls = ' class="sortable"' if sortable else ' class="kv"'
    out = [f"<table{ident}{cls}><thead><tr>"]
    out += [f'<th data-col="{html.escape(h)}"><button type="button">{html.escape(h)}</button></th>' if sortable
            else f"<th>{html.escape(h)}</th>" for h in headers]
    out.append("</tr></thead><tbody>")
    for r in rows:
        tds = []
        for v in r:
            if is_number(v):
                tds.append(f'<td data-v="{v!r}">{format_number(v, "int" if isinstance(v, int) else "num")}</td>')
            else:
                tds.append(f"<td>{html.escape(format_value(v)) if v is not None else ''}</td>")
        out.append("<tr>" + "".join(tds) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


STYLE = """
body { font-family: "DejaVu Sans", Helvetica, Arial, sans-serif; margin: 1.5em auto; max-width: 1400px;
       padding: 0 1em; color: #111; line-height: 1.4; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; } h2 { font-size: 1.2em; margin-top: 1.8em;
     border-bottom: 1px solid #ccc; }
.facts td, .facts th { text-align: left; padding: 0.1em 1em 0.1em 0; vertical-align: top; border: none; }
nav a { margin-right: 1em; }
.scroll { overflow-x: auto; max-height: 60vh; overflow-y: auto; border: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 0.85em; }
th, td { border-bottom: 1px solid #e4e4e4; padding: 0.25em 0.6em; text-align: right; white-space: nowrap; }
thead th { position: sticky; top: 0; background: #f3f3f3; z-index: 1; vertical-align: bottom; }
th button { font: inherit; font-weight: bold; background: none; border: none; cursor: pointer; padding: 0;
            text-align: right; }
th small { display: block; font-weight: normal; color: #555; font-family: monospace; }
th[aria-sort=ascending] button::after { content: " \\25B2"; }
th[aria-sort=descending] button::after { content: " \\25BC"; }
th.param { background: #eaf2fa; }
tr.pareto td { background: #fdf0e6; }
tr.pareto td:first-child { border-left: 4px solid #D55E00; }
tr.failed td { color: #8a1c00; background: #f6f6f6; }
tr.baseline td { font-weight: bold; }
td.error { text-align: left; white-space: normal; min-width: 30em; max-width: 60em; }
table.kv th, table.kv td { text-align: left; }
.tag { font-size: 0.8em; border: 1px solid #000; border-radius: 3px; padding: 0 0.2em; }
svg.figure { width: 100%; height: auto; display: block; margin: 0.8em 0; }
pre { background: #f6f6f6; padding: 0.8em; overflow-x: auto; font-size: 0.85em; }
.note { color: #444; font-size: 0.9em; }
code { font-size: 0.95em; }
"""

# Sorting: click a header (numbers numerically, text otherwise, empty cells
# last in either direction); #sort=COLUMN or #sort=-COLUMN sorts the points on
# load. data-ready="1" on <html> says the script ran to its end; data-js-error
# holds the first error, if any (the browser test reads both).
SCRIPT = r"""
window.onerror = function (message) {
  if (!document.documentElement.hasAttribute('data-js-error'))
    document.documentElement.setAttribute('data-js-error', String(message));
};
(function () {
  function sortValue(td) {
    var v = td.getAttribute('data-v');
    return v === null ? td.textContent.trim() : v;
  }
  function sortTable(table, column, descending) {
    var heads = table.tHead.rows[0].cells, k = -1, i;
    for (i = 0; i < heads.length; i++) if (heads[i].getAttribute('data-col') === column) k = i;
    if (k < 0) return false;
    var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
    var numeric = rows.every(function (r) { var v = sortValue(r.cells[k]); return v === '' || isFinite(Number(v)); });
    var keyed = rows.map(function (r, n) {
      var v = sortValue(r.cells[k]);
      return { row: r, n: n, empty: v === '', v: numeric ? Number(v) : v };
    });
    keyed.sort(function (a, b) {
      if (a.empty !== b.empty) return a.empty ? 1 : -1;
      var c = 0;
      if (!a.empty) c = numeric ? a.v - b.v : (a.v < b.v ? -1 : a.v > b.v ? 1 : 0);
      return (descending ? -c : c) || a.n - b.n;
    });
    keyed.forEach(function (x) { body.appendChild(x.row); });
    for (i = 0; i < heads.length; i++) heads[i].removeAttribute('aria-sort');
    heads[k].setAttribute('aria-sort', descending ? 'descending' : 'ascending');
    table.setAttribute('data-sorted', (descending ? '-' : '') + column);
    return true;
  }
  var tables = document.querySelectorAll('table.sortable');
  Array.prototype.forEach.call(tables, function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th) {
      th.querySelector('button').addEventListener('click', function () {
        sortTable(table, th.getAttribute('data-col'), th.getAttribute('aria-sort') === 'ascending');
      });
    });
  });
  function sortFromFragment() {
    var m = /^#sort=(-?)(.+)$/.exec(location.hash);
    var table = document.getElementById('points');
    if (m && table) sortTable(table, decodeURIComponent(m[2]), m[1] === '-');
  }
  window.addEventListener('hashchange', sortFromFragment);
  sortFromFragment();
  document.documentElement.setAttribute('data-ready', '1');
})();
"""


def compact_json(value, indent=""):
    """JSON with objects one key a line and short lists of plain values on one line."""
    if isinstance(value, dict) and value:
        inner = indent + "  "
        return "{\n" + ",\n".join(f"{inner}{json.dumps(k, ensure_ascii=False)}: {compact_json(v, inner)}"
                                  for k, v in value.items()) + f"\n{indent}}}"
    if isinstance(value, list) and value and any(isinstance(v, (dict, list)) for v in value):
        inner = indent + "  "
        return "[\n" + ",\n".join(inner + compact_json(v, inner) for v in value) + f"\n{indent}]"
    return json.dumps(value, ensure_ascii=False)


def provenance_html(summary, sweep_dir, out, reports_read):
    host = summary.get("host", {})
    facts = [("attnsim version (summary)", summary.get("attnsim_version", "not recorded")),
             ("summary format", summary.get("format", "not recorded"))]
    versions = sorted({str(r.get("attnsim_version")) for r in reports_read.values()})
    if versions:
        facts.append(("attnsim version (reports read)", ", ".join(versions)))
        facts.append(("report version", ", ".join(sorted({str(r.get("report_version")) for r in reports_read.values()}))))
    parts = ["<h3>Versions</h3>", simple_table(["what", "value"], facts)]
    parts.append("<h3>Host (summary.json <code>host</code>)</h3>")
    if host:
        parts.append(simple_table(["field", "value"], sorted(host.items())))
    else:
        parts.append('<p class="note">summary.json carries no host object.</p>')
    parts.append('<p class="note">The summary records no machine name or CPU model; wall and CPU times above are '
                 "those of the machine the sweep ran on.</p>")
    if reports_read:
        keys = sorted({k for r in reports_read.values() for k in (r.get("simulator") or {})})
        rows = [[i] + [(r.get("simulator") or {}).get(k) for k in keys] for i, r in sorted(reports_read.items())]
        parts.append("<h3>Simulator (<code>simulator</code> of the reports read)</h3>")
        parts.append(simple_table(["point"] + keys, rows, sortable=True))
    spec_file = host.get("spec_file", "SPEC.json")
    reuse = "" if host.get("reuse", True) else " --no-reuse"
    parts.append("<h3>Reproduce</h3>")
    parts.append("<pre>" + html.escape(
        f"# from the folder the sweep ran in (the spec's paths are relative to the spec file)\n"
        f"attnsim sweep {spec_file} --out {sweep_dir}{reuse}\n"
        f"attnsim report {sweep_dir} -o {out}") + "</pre>")
    parts.append("<h3>Spec (as written, from summary.json)</h3>")
    parts.append("<pre>" + html.escape(compact_json(summary["spec"])) + "</pre>")
    return "\n".join(parts)


def build_page(sweep_dir, out, title, baseline_arg):
    summary, header, rows = read_sweep(sweep_dir)
    points = sorted(summary["points"], key=lambda p: p["index"])
    ok = [p for p in points if p.get("status") == "ok"]
    parameters = [p for p in summary["parameters"] if isinstance(p, str)]
    front = {i for i in summary.get("pareto", []) if isinstance(i, int)}
    baseline, baseline_text = choose_baseline(summary, baseline_arg)
    workloads = []
    for p in points:
        if p.get("workload") not in workloads:
            workloads.append(p.get("workload"))
    styles = workload_styles(workloads)
    spec = summary["spec"]
    name = title or spec.get("name") or os.path.basename(os.path.normpath(sweep_dir))
    counts = summary["counts"]
    setup_figures()

    sections = []
    # Points table.
    sections.append(("points", "Points", (
        f'<p class="note">One row per point of summary.csv. Click a header to sort (again to reverse); empty cells '
        f'stay last. Rows on the Pareto front are tinted with an orange edge, failed points are grey with their '
        f'error, the baseline is bold. Parameter columns (blue headers) are empty where a <code>list</code> entry '
        f'leaves the parameter at the base arch\'s value.</p><div class="scroll">'
        + table_html(header, rows, parameters, baseline) + "</div>")))

    # Pareto front.
    (axes_used, why) = pareto_axes(summary)
    if ok:
        fig = pareto_figure(summary, ok, [w for w in workloads if any(p.get("workload") == w for p in ok)], styles,
                            front, baseline)
        text = (f'<p class="note">{html.escape(quantity(axes_used[1][0])[0])} against '
                f'{html.escape(quantity(axes_used[0][0])[0])} ({why}), one panel per workload (the front is computed '
                "per workload). Circled and numbered: the sweep's Pareto front over all its used objectives, so a "
                "circled point can lie off the line, which is the front of the two plotted quantities alone. Star: "
                "the baseline. An axis spanning more than 10x is logarithmic.</p>" + svg_of(fig, "pareto"))
    else:
        text = '<p class="note">No point ran successfully: nothing to plot.</p>'
    sections.append(("pareto", "Pareto front", text))

    # Against each parameter.
    base, _ = base_values(summary)  # where points that leave a parameter out sit on its axis
    metrics = []
    for options in (("time_us", "cycles"), ("energy_pj",), ("area_mm2",)):
        found = next((m for m in options if any(is_number(point_value(p, m)) for p in ok)), None)
        if found:
            metrics.append(found)
    parts = []
    for k, param in enumerate(parameters):
        base_value = base.get(param, BASE) if base else BASE
        if ok and metrics:
            parts.append(f"<h3><code>{html.escape(param)}</code></h3>"
                         + svg_of(parameter_figure(param, ok, workloads, styles, base_value, baseline, metrics),
                                  f"param{k}"))
    if not parameters:
        parts.append('<p class="note">The sweep varies no parameter (one point per workload).</p>')
    elif not parts:
        parts.append('<p class="note">No point ran successfully: nothing to plot.</p>')
    else:
        parts.insert(0, '<p class="note">Each dot is a point that ran; the line (markers alone for categories) is the '
                     "best value at each setting over the other parameters. Latency in µs, energy in µJ (dynamic, "
                     "from the technology table), area in mm². Points that left the parameter at the base arch's "
                     "value are placed at that value when the base arch is known, else under \"base arch\". Failed "
                     "points are left out. Star: the baseline.</p>")
    sections.append(("parameters", "Against each parameter", "\n".join(parts)))

    # Per-unit breakdown of the front (and the baseline) from the reports.
    chosen = [p for p in points if p["index"] in front] + [p for p in points if p["index"] in baseline
                                                            and p["index"] not in front]
    left_out = chosen[MAX_BREAKDOWN_POINTS:]
    chosen = chosen[:MAX_BREAKDOWN_POINTS]
    reports_read, items, missing = {}, [], []
    for p in chosen:
        report, why_not = read_point_report(sweep_dir, p)
        if report is None:
            missing.append(f"#{p['index']}: {why_not}")
            continue
        reports_read[p["index"]] = report
        tag = " (baseline)" if p["index"] in baseline else ""
        items.append((f"#{p['index']} {p.get('workload')}{tag}", p["index"], breakdown_data(report)))
    parts = ['<p class="note">Each point of the Pareto front (and the baseline), from its report in '
             "<code>points/</code>. Busy cycles per unit, with the run's total cycles marked: units overlap in the "
             "pipeline, so busy cycles do not add up to the total. Energy (dynamic, µJ) and area (mm²) by unit, "
             "stacked, SRAM buffers summed.</p>"]
    if items:
        parts.append(svg_of(breakdown_figure([(lab, d) for lab, _, d in items]), "units"))
        units = [u for u in UNIT_ORDER if any(u in d["busy"] or u in d["energy_uj"] for _, _, d in items)]
        heads = (["point", "workload", "cycles"] + [f"busy {UNIT_NAMES[u]}" for u in units if any(u in d["busy"] for _, _, d in items)]
                 + [f"{UNIT_NAMES[u]} (µJ)" for u in units] + ["area (mm²)"])
        table_rows = []
        for lab, index, d in items:
            p = next(q for q in points if q["index"] == index)
            table_rows.append([index, p.get("workload"), d["cycles"]]
                              + [d["busy"].get(u) for u in units if any(u in e["busy"] for _, _, e in items)]
                              + [d["energy_uj"].get(u) for u in units] + [sum(d["area_mm2"].values()) or None])
        parts.append('<div class="scroll">' + simple_table(heads, table_rows, table_id="units", sortable=True)
                     + "</div>")
    elif not chosen:
        parts.append('<p class="note">No point is on the front (no point ran successfully).</p>')
    if missing:
        parts.append('<p class="note">Left out, their report could not be read: ' + html.escape("; ".join(missing))
                     + ".</p>")
    if left_out:
        parts.append(f'<p class="note">{len(left_out)} more points of the front are not drawn (at most '
                     f"{MAX_BREAKDOWN_POINTS}): " + ", ".join(f"#{p['index']}" for p in left_out) + ".</p>")
    sections.append(("units", "Per-unit breakdown of the front", "\n".join(parts)))

    sections.append(("provenance", "Provenance", provenance_html(summary, sweep_dir, out, reports_read)))

    objectives = "; ".join(f"{o.get('goal', 'min')}imise {html.escape(quantity(o['metric'])[0])} "
                           f"(<code>{html.escape(o['metric'])}</code>)" + ("" if o.get("used", True) else ", not used")
                           for o in summary["objectives"])
    facts = [("points", f"{counts.get('points', len(points))}: {counts.get('ok', len(ok))} ok, "
                        f"{counts.get('failed', len(points) - len(ok))} failed; {len(front)} on the Pareto front"),
             ("workloads", html.escape(", ".join(str(w) for w in workloads))),
             ("parameters", ", ".join(f"<code>{html.escape(p)}</code>" for p in parameters) or "none"),
             ("objectives", objectives),
             ("baseline", html.escape(baseline_text)),
             ("architecture", f"<code>{html.escape(str(spec.get('arch', '')))}</code>")]
    head = (f"<h1>{html.escape(str(name))}</h1>\n"
            + (f"<p>{html.escape(str(spec['description']))}</p>\n" if spec.get("description") else "")
            + '<table class="facts">' + "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in facts) + "</table>\n"
            + "<nav>" + "".join(f'<a href="#section-{sid}">{title_}</a>' for sid, title_, _ in sections) + "</nav>")
    body = "\n".join(f'<section id="section-{sid}"><h2>{title_}</h2>\n{content}\n</section>' for sid, title_, content in sections)
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{html.escape(str(name))}: attnsim sweep report</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
            f"{head}\n{body}\n<script>{SCRIPT}</script>\n</body>\n</html>\n")


def write_atomically(out, text, sweep_dir):
    real = os.path.realpath(out)
    inputs = [os.path.realpath(os.path.join(sweep_dir, f)) for f in ("summary.json", "summary.csv", "sweep.json")]
    if real in inputs or real.startswith(os.path.realpath(os.path.join(sweep_dir, "points")) + os.sep):
        raise InputProblem(f"{out}: is an input of the sweep; choose another -o")
    if os.path.isdir(out):
        raise InputProblem(f"{out}: is a folder; -o takes the HTML file to write")
    d = os.path.dirname(out)
    if d and not os.path.isdir(d):
        raise InputProblem(f"{out}: folder {d} does not exist")
    tmp = out + ".tmp"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, out)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def main():
    ap = argparse.ArgumentParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sweep_dir", metavar="SWEEP_DIR", help="the folder attnsim sweep --out wrote")
    ap.add_argument("-o", "--out", help="HTML file to write (default SWEEP_DIR/report.html)")
    ap.add_argument("--title", help="page title (default: the spec's name)")
    ap.add_argument("--baseline", help="point index of the baseline, or none (default: the point(s) with the base "
                                       "arch's values)")
    a = ap.parse_args()
    global SWEEP_ARG
    SWEEP_ARG = a.sweep_dir
    out = a.out or os.path.join(a.sweep_dir, "report.html")
    page = build_page(a.sweep_dir, out, a.title, a.baseline)
    write_atomically(out, page, a.sweep_dir)


if __name__ == "__main__":
    fail_on_bad_input(main, prog=f"{PROG}: error",
                      inputs=lambda: os.path.join(SWEEP_ARG, "summary.json") if SWEEP_ARG else "input")
