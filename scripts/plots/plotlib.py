"""Shared helpers of attnsim's plot scripts: reading sweep summaries and
reports, failing with one clear line, and saving readable PNGs."""
import csv
import json
import os
import sys

try:
    import matplotlib
except ImportError:  # one line, like every other error of these scripts
    print(f"{os.path.basename(sys.argv[0])}: needs matplotlib, which {sys.executable} lacks "
          "(run with .venv/bin/python, which scripts/setup.sh makes from scripts/requirements.txt)", file=sys.stderr)
    sys.exit(2)

matplotlib.use("Agg")  # files only, no display needed
import matplotlib.pyplot as plt  # noqa: E402

# Summary metric columns (attnsim sweep's summary.csv) and how to label them.
METRIC_LABELS = {
    "cycles": "latency (cycles)",
    "time_us": "latency (µs)",
    "energy_pj": "energy (µJ)",
    "area_mm2": "area (mm²)",
    "pe_utilisation": "PE-array utilisation (busy fraction)",
    "dram_bytes": "DRAM traffic (bytes)",
    "density": "mask density",
    "mask_density": "mask density",
    "relative_error": "output relative error",
    "wall_time_s": "simulator wall time (s)",
}
# Values shown in other units than stored: pJ -> µJ.
METRIC_SCALE = {"energy_pj": 1e-6}
UNIT_ORDER = ["mask_unit", "encoder", "pe_array", "dram"]
UNIT_LABELS = {"mask_unit": "mask unit", "encoder": "encoder", "pe_array": "PE array", "dram": "DRAM"}


class InputProblem(Exception):
    """Bad input: reported as one line naming the file, exit code 2."""


def fail_on_bad_input(main):
    """Runs main(); bad input becomes one line on stderr and exit code 2."""
    prog = os.path.basename(sys.argv[0])
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
        inputs = [a for a in sys.argv[1:] if os.path.isfile(a)]
        what = ", ".join(inputs) if inputs else "input"
        print(f"{prog}: {what}: not the input this script reads ({type(e).__name__}: {e}); see --help",
              file=sys.stderr)
        sys.exit(2)


def setup_style():
    plt.rcParams.update({"figure.dpi": 110, "font.size": 10, "axes.titlesize": 11, "axes.grid": True,
                         "grid.alpha": 0.3, "axes.spines.top": False, "axes.spines.right": False})


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


def save(fig, out, vector=False):
    """Writes the PNG atomically (temporary file, then rename); with vector,
    an SVG beside it too (OUT.svg)."""
    d = os.path.dirname(out)
    if d and not os.path.isdir(d):
        raise InputProblem(f"{out}: directory {d} does not exist")
    outs = [out] + ([os.path.splitext(out)[0] + ".svg"] if vector else [])
    for o in outs:
        ext = os.path.splitext(o)[1] or ".png"
        tmp = o + ".tmp" + ext
        fig.savefig(tmp, bbox_inches="tight", **({"metadata": {"Date": None}} if ext == ".svg" else {}))
        os.replace(tmp, o)
    plt.close(fig)
