"""Shared helpers of attnsim's plot scripts: reading sweep summaries and
reports, failing with one clear line, one look (units, colour-blind-safe
colours), and saving PNG with SVG/PDF beside it."""
import csv
import json
import math
import os
import sys

try:
    import matplotlib
except ImportError:
    # Run as scripts/plots/x.py by a Python without matplotlib (#!/usr/bin/env
    # python3): start again with the tree's .venv, which setup.sh makes.
    venv = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".venv", "bin", "python")
    if os.access(venv, os.X_OK) and not os.environ.get("ATTNSIM_PLOTS_REEXEC"):
        os.environ["ATTNSIM_PLOTS_REEXEC"] = "1"  # once: a .venv without matplotlib must not loop
        os.execv(venv, [venv] + sys.argv)
    print(f"{os.path.basename(sys.argv[0])}: needs matplotlib, which {sys.executable} lacks "
          "(run with .venv/bin/python, which scripts/setup.sh makes from scripts/requirements.txt)", file=sys.stderr)
    sys.exit(2)

matplotlib.use("Agg")  # files only, no display needed
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter  # noqa: E402

# Summary metric columns (attnsim sweep's summary.csv) and how to label them.
METRIC_LABELS = {
    "cycles": "latency (cycles)",
    "time_us": "latency (µs)",
    "energy_pj": "energy (µJ)",
    "area_mm2": "area (mm²)",
    "pe_utilisation": "PE-array busy fraction",
    "mac_utilisation": "MAC utilisation (useful MACs / PE-cycles)",
    "dram_bytes": "DRAM traffic (MB)",
    "density": "mask density",
    "mask_density": "mask density",
    "relative_error": "output relative error",
    "mask_recall": "mask recall",
    "wall_time_s": "simulator wall time (s)",
}
# The report path of each summary column (attnsim sweep's objectives are report paths).
REPORT_PATHS = {"cycles": "total.cycles", "time_us": "total.time_us", "energy_pj": "total.energy.total_pj",
                "area_mm2": "area.total_mm2", "pe_utilisation": "total.units.pe_array.busy_fraction",
                "mac_utilisation": "total.units.pe_array.mac_utilisation", "mask_density": "total.mask.density",
                "density": "total.mask.density", "relative_error": "total.accuracy.relative_error",
                "mask_recall": "total.mask.recall"}
# Values shown in other units than stored: pJ -> µJ, bytes -> MB (10^6).
METRIC_SCALE = {"energy_pj": 1e-6, "dram_bytes": 1e-6}
# Columns that are fractions in [0, 1].
FRACTIONS = {"pe_utilisation", "mac_utilisation", "density", "mask_density"}
# Okabe & Ito's colour-blind-safe palette (the default colour cycle), and the
# colours every plot gives the Pareto front and the baseline.
COLOUR = {"blue": "#0072B2", "orange": "#E69F00", "green": "#009E73", "vermillion": "#D55E00", "sky": "#56B4E9",
          "purple": "#CC79A7", "black": "#000000", "yellow": "#F0E442"}
OKABE_ITO = list(COLOUR.values())
FRONT_COLOUR = COLOUR["vermillion"]
BASELINE_COLOUR = COLOUR["black"]
UNIT_COLOURS = {"mask_unit": COLOUR["orange"], "encoder": COLOUR["purple"], "pe_array": COLOUR["blue"],
                "sram": COLOUR["green"], "dram": COLOUR["sky"]}
POINT_COLOUR = "#999999"
FORMATS = ("png", "svg", "pdf")
UNIT_ORDER = ["mask_unit", "encoder", "pe_array", "dram"]
UNIT_LABELS = {"mask_unit": "mask unit", "encoder": "encoder", "pe_array": "PE array", "dram": "DRAM"}


class InputProblem(Exception):
    """Bad input: reported as one line naming the file, exit code 2."""


def fail_on_bad_input(main, prog=None, inputs=None):
    """Runs main(); bad input becomes one line on stderr, starting with prog
    (default: the script's name), and exit code 2. inputs() names what was
    read, for errors that carry no file name (default: the file arguments)."""
    prog = prog or os.path.basename(sys.argv[0])
    try:
        main()
    except InputProblem as e:
        print(f"{prog}: {e}", file=sys.stderr)
        sys.exit(2)
    except OSError as e:
        print(f"{prog}: {e.filename or ''}: {e.strerror}", file=sys.stderr)
        sys.exit(2)
    except (ValueError, KeyError, TypeError, IndexError, AttributeError) as e:
        # An input of the wrong kind (a report where a summary belongs, a
        # binary file, a summary of another sweep): name the inputs, no traceback.
        what = inputs() if inputs else ", ".join(a for a in sys.argv[1:] if os.path.isfile(a)) or "input"
        print(f"{prog}: {what}: not the input this script reads ({type(e).__name__}: {e}); see --help",
              file=sys.stderr)
        sys.exit(2)


def label_and_scale(name):
    """(axis label, scale from the stored unit) of a summary column or a report path."""
    column = next((c for c, p in REPORT_PATHS.items() if p == name), name)
    return METRIC_LABELS.get(column, name), METRIC_SCALE.get(column, 1)


def setup_style():
    plt.rcParams.update({"figure.dpi": 110, "font.size": 10, "axes.titlesize": 11, "axes.grid": True,
                         "grid.alpha": 0.3, "axes.spines.top": False, "axes.spines.right": False,
                         "axes.prop_cycle": matplotlib.cycler(color=OKABE_ITO), "image.cmap": "viridis",
                         "svg.hashsalt": "attnsim", "pdf.fonttype": 42})  # stable SVG ids; editable PDF text


def front_2d(xs, ys, signs=(1, 1)):
    """Indices of the points no other point beats in both x and y (each
    minimised after multiplying by its sign: -1 maximises), in x order."""
    order = sorted(range(len(xs)), key=lambda i: (signs[0] * xs[i], signs[1] * ys[i]))
    front, best = [], float("inf")
    for i in order:
        if signs[1] * ys[i] < best:
            front.append(i)
            best = signs[1] * ys[i]
    return front


def place_labels(ax, anchors, texts, colour, fontsize=8):
    """Labels beside their points, each at the first of several offsets where
    it overlaps no label placed before it (greedy; a crowded front may still
    leave a label over a point, never over another label). Call once the
    axes' limits and scales are final: placement works in pixels."""
    renderer = ax.figure.canvas.get_renderer()
    placed = []
    offsets = [(6, 6), (6, -12), (-8, 8), (-8, -14), (10, 18), (10, -24), (-20, 20), (-20, -26), (24, 0), (-34, 0)]
    for (x, y), text in zip(anchors, texts):
        for k, off in enumerate(offsets):
            t = ax.annotate(text, (x, y), textcoords="offset points", xytext=off, fontsize=fontsize, color=colour,
                            ha="left" if off[0] >= 0 else "right",
                            arrowprops={"arrowstyle": "-", "color": colour, "lw": 0.5} if k >= 4 else None)
            box = t.get_window_extent(renderer).expanded(1.05, 1.1)
            if not any(box.overlaps(b) for b in placed) or k == len(offsets) - 1:
                placed.append(box)
                break
            t.remove()


def is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def maybe_log(ax, axis, values):
    """A log axis where the values span more than 10x (all positive)."""
    vals = [v for v in values if is_number(v)]
    if len(vals) > 1 and min(vals) > 0 and max(vals) / min(vals) > 10:
        (ax.set_xscale if axis == "x" else ax.set_yscale)("log")
        target = ax.xaxis if axis == "x" else ax.yaxis
        target.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))  # ticks at 1, 2, 5 x 10^n, written plainly
        target.set_minor_formatter(NullFormatter())


def tick_text(v, _=None):
    """Tick labels that stay short: 200k, 1.4M, 0.5."""
    if abs(v) >= 1e6:
        return f"{v / 1e6:g}M"
    if abs(v) >= 1e4:
        return f"{v / 1e3:g}k"
    return f"{v:g}"


def readable_ticks(ax, *axes):
    for axis in axes:
        (ax.xaxis if axis == "x" else ax.yaxis).set_major_formatter(FuncFormatter(tick_text))


def add_output_args(ap):
    """-o OUT and --formats, the same for every script."""
    ap.add_argument("-o", "--out", required=True,
                    help="file to write; its extension (.png, .svg or .pdf) is one of the formats written")
    ap.add_argument("--formats", default="png,svg",
                    help="formats written beside OUT with its name, comma-separated: png, svg, pdf "
                         "(default png,svg: a raster and a vector copy)")


def output_files(out, formats):
    """The files save() writes: OUT, and OUT's stem with each of --formats."""
    stem, ext = os.path.splitext(out)
    wanted = [f.strip().lower() for f in formats.split(",") if f.strip()]
    for f in wanted + [ext.lstrip(".").lower()]:
        if f not in FORMATS:
            raise InputProblem(f"{out}: format {f!r}: expected png, svg or pdf (as -o's extension and in --formats)")
    return [out] + [f"{stem}.{f}" for f in wanted if f != ext.lstrip(".").lower()]


def read_summary(path):
    """summary.csv rows as dicts; numbers converted where they parse."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise InputProblem(f"{path}: no points (expected attnsim sweep's summary.csv)")
    for r in rows:
        for k, v in r.items():
            r[k] = to_number(v)
    return rows


def to_number(v):
    if v is None or v == "":
        return None
    try:
        x = float(v)
        return int(x) if x.is_integer() and "." not in v and "e" not in v.lower() else x
    except ValueError:
        return v


def require_columns(path, rows, columns):
    missing = [c for c in columns if c not in rows[0]]
    if missing:
        raise InputProblem(f"{path}: missing column(s) {', '.join(missing)} (have: {', '.join(rows[0])})")


def ok_points(rows):
    """Points that ran (status ok, or no status column)."""
    return [r for r in rows if r.get("status") in (None, "ok")]


def is_true(v):
    return v in (1, True) or str(v).lower() in ("1", "true", "yes")


def metric_column(rows, name):
    """The summary's name for a metric ('density' or 'mask_density')."""
    if name in rows[0]:
        return name
    if name in ("density", "mask_density"):
        for alt in ("density", "mask_density"):
            if alt in rows[0]:
                return alt
    return name


def read_report(path):
    try:
        with open(path) as f:
            r = json.load(f)
    except json.JSONDecodeError as e:
        raise InputProblem(f"{path}: malformed JSON: {e}")
    if not isinstance(r, dict) or "total" not in r:
        raise InputProblem(f"{path}: total: missing: not an attnsim report")
    return r


def report_label(r, path):
    name = r.get("arch", {}).get("name") or os.path.basename(path)
    workload = r.get("workload", {}).get("name")
    return f"{name}\n{workload}" if workload else name


def save(fig, out, formats="png"):
    """Writes OUT and its siblings in `formats` (see output_files), each
    atomically (temporary file, then rename), without dates in SVG or PDF so
    the same input gives the same file."""
    outs = output_files(out, formats)
    d = os.path.dirname(out)
    if d and not os.path.isdir(d):
        raise InputProblem(f"{out}: directory {d} does not exist")
    no_date = {".svg": {"Date": None}, ".pdf": {"CreationDate": None}}
    for o in outs:
        ext = os.path.splitext(o)[1]
        tmp = o + ".tmp" + ext
        fig.savefig(tmp, bbox_inches="tight", **({"metadata": no_date[ext]} if ext in no_date else {}))
        os.replace(tmp, o)
    plt.close(fig)
