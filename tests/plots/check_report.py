#!/usr/bin/env python3
"""ctest check of scripts/plots/sweep_report.py in a real browser: runs two
small sweeps with attnsim (two workloads, a list axis with a text parameter,
two failed points; and a one-point sweep), builds their HTML pages, loads
them in headless Chromium and checks the dumped DOM (one table row per point,
the order after #sort=..., every figure drawn, the script ran to its end with
no error), a screenshot (a PNG of the asked size, not blank), that the page
fetches nothing, that the same inputs give the same bytes, and that bad input
fails with one line and exit code 2 and writes no page. Exit 77 (skipped)
where matplotlib, numpy or Chromium is missing.

    check_report.py ATTNSIM_BINARY SOURCE_DIR
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from html.parser import HTMLParser

try:
    import matplotlib.image
    import numpy as np
except ImportError as e:
    print(f"skipped: {e}")
    sys.exit(77)

BROWSER = next((shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)
if BROWSER is None:
    print("skipped: no chromium (scripts/setup.sh installs Debian's chromium)")
    sys.exit(77)

attnsim, src = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
script = os.path.join(src, "scripts", "plots", "sweep_report.py")
failures = []
started = time.monotonic()


def check(cond, what):
    if cond:
        print(f"ok {what}")
    else:
        failures.append(what)
        print(f"FAIL {what}")
    return cond


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def browser(url, profile, *args):
    """Headless Chromium (root needs --no-sandbox); the virtual-time budget
    lets the page's script finish before the dump or screenshot."""
    cmd = [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
           "--disable-extensions", f"--user-data-dir={profile}", "--virtual-time-budget=10000", *args, url]
    return run(cmd, timeout=120)


class Dom(HTMLParser):
    """What the test reads from a dumped page: <html>'s attributes, the points
    table (each row's data-point and cells' sort values), and per figure the
    number of drawn elements and its texts."""

    def __init__(self):
        super().__init__()
        self.html_attrs, self.rows, self.figures, self.sorted_by = {}, [], {}, None
        self.in_points = self.in_body = False
        self.figure, self.depth = None, 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "html":
            self.html_attrs = a
        elif tag == "table" and a.get("id") == "points":
            self.in_points, self.sorted_by = True, a.get("data-sorted")
        elif tag == "tbody" and self.in_points:
            self.in_body = True
        elif tag == "tr" and self.in_body:
            self.rows.append({"point": a.get("data-point"), "class": a.get("class", ""), "cells": []})
        elif tag == "td" and self.in_body and self.rows:
            self.rows[-1]["cells"].append(a.get("data-v"))
        elif tag == "svg" and "data-figure" in a:
            self.figure, self.depth = a["data-figure"], 0
            self.figures[self.figure] = {"drawn": 0, "text": []}
        if self.figure:
            self.depth += 1
            if tag in ("path", "use", "rect", "polyline", "line"):
                self.figures[self.figure]["drawn"] += 1

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        self.handle_endtag(tag)

    def handle_endtag(self, tag):
        if tag == "table" and self.in_points:
            self.in_points = self.in_body = False
        if self.figure:
            self.depth -= 1
            if tag == "svg" and self.depth == 0:
                self.figure = None

    def handle_data(self, data):
        if self.figure and data.strip():
            self.figures[self.figure]["text"].append(data.strip())


def dump(page, fragment, profile):
    r = browser(f"file://{page}{fragment}", profile, "--dump-dom")
    if r.returncode != 0 or "<html" not in r.stdout:
        failures.append(f"chromium --dump-dom {page}{fragment}: exit {r.returncode}: {r.stderr[-500:]}")
        return None
    d = Dom()
    d.feed(r.stdout)
    return d


def sort_values(dom, header, column):
    k = header.index(column)
    return [row["cells"][k] for row in dom.rows]


def check_sorted(name, values, numeric, descending):
    filled = [v for v in values if v not in (None, "")]
    empty_last = values[len(filled):] == [v for v in values if v in (None, "")]
    keys = [float(v) for v in filled] if numeric else filled
    check(empty_last and keys == sorted(keys, reverse=descending), f"{name}: rows sorted, empty cells last")


def check_page(name, sweep, page, expect_figures, profile):
    summary = json.load(open(os.path.join(sweep, "summary.json")))
    with open(os.path.join(sweep, "summary.csv")) as f:
        header = f.readline().rstrip("\n").split(",")
    n = len(summary["points"])
    text = open(page, encoding="utf-8").read()
    # Self-contained: nothing loaded from anywhere (the only URLs are SVG namespaces).
    fetches = re.findall(r'<(?:link|img|iframe)\b|\bsrc=|@import|url\((?!#)|href="(?!#)[^"]*"', text)
    check(not fetches, f"{name}: no external resource ({fetches[:3]})")

    dom = dump(page, "#sort=-energy_pj", profile)
    if dom is None:
        return
    check(dom.html_attrs.get("data-ready") == "1", f"{name}: the page's script ran to its end (data-ready=1)")
    check("data-js-error" not in dom.html_attrs, f"{name}: no script error ({dom.html_attrs.get('data-js-error')})")
    check(len(dom.rows) == n and sorted(int(r["point"]) for r in dom.rows) == list(range(n)),
          f"{name}: one table row per point ({len(dom.rows)} rows, {n} points)")
    check(dom.sorted_by == "-energy_pj", f"{name}: #sort=-energy_pj sorted the table (data-sorted={dom.sorted_by})")
    check_sorted(f"{name} by energy, descending", sort_values(dom, header, "energy_pj"), True, True)
    failed = [r for r in dom.rows if "failed" in r["class"]]
    check(len(failed) == summary["counts"]["failed"], f"{name}: {len(failed)} rows marked failed")
    pareto = sorted(int(r["point"]) for r in dom.rows if "pareto" in r["class"].split())
    check(pareto == sorted(summary["pareto"]), f"{name}: Pareto rows highlighted {pareto}")
    for key in expect_figures:
        fig = dom.figures.get(key)
        check(fig is not None and fig["drawn"] >= 20 and fig["text"],
              f"{name}: figure {key} drawn ({fig['drawn'] if fig else 0} elements, texts {fig['text'][:4] if fig else []})")
    texts = " ".join(t for f in dom.figures.values() for t in f["text"])
    for label in ("latency", "energy (µJ)"):
        check(label in texts, f"{name}: axis label {label!r} in the figures")
    dom = dump(page, "#sort=workload", profile)  # text order
    if dom is not None:
        check_sorted(f"{name} by workload", sort_values(dom, header, "workload"), False, False)

    shot = os.path.join(os.path.dirname(page), "shot.png")
    r = browser(f"file://{page}", profile, f"--screenshot={shot}", "--window-size=1280,2400")
    if not check(r.returncode == 0 and os.path.exists(shot), f"{name}: screenshot taken"):
        return
    img = matplotlib.image.imread(shot)
    check(img.shape[:2] == (2400, 1280), f"{name}: screenshot is 1280x2400 ({img.shape[1]}x{img.shape[0]})")
    grey = img[..., :3].mean(axis=2)
    ink = float((grey < 0.6).mean())  # share of dark pixels: text, axes, bars
    check(grey.std() > 0.05 and ink > 0.005, f"{name}: screenshot not blank (std {grey.std():.3f}, ink {ink:.3f})")
    colours = len(np.unique((img[..., :3] * 15).round().reshape(-1, 3), axis=0))
    check(colours >= 8, f"{name}: screenshot has colour ({colours} distinct colours)")


def check_bad_input(name, sweep_dir, fragment, out):
    r = run([sys.executable, script, sweep_dir, "-o", out])
    lines = r.stderr.strip().splitlines()
    check(r.returncode == 2 and len(lines) == 1 and fragment in lines[0] and lines[0].startswith("attnsim report: "),
          f"bad input, {name}: exit {r.returncode}, {lines}")
    check(not os.path.exists(out) and not os.path.exists(out + ".tmp"), f"bad input, {name}: no page written")


with tempfile.TemporaryDirectory(prefix="attnsim_report_") as tmp:
    profile = os.path.join(tmp, "chromium-profile")
    # A 512-wide head does not fit a 1 KiB Q buffer: two failed points.
    with open(os.path.join(tmp, "wide.json"), "w") as f:
        json.dump({"name": "wide", "layers": 1, "heads": 1, "seq_len": 16, "head_dim": 512,
                   "data": {"kind": "synthetic"}}, f)
    spec = {"name": "report-test", "description": "two workloads, a list axis with a text parameter, failed points",
            "arch": os.path.join(src, "configs/arch/sanger.json"),
            "workloads": [os.path.join(src, "workloads/synthetic_small.json"), "wide.json"],
            "axes": [{"grid": {"pe_array.rows": [32, 64]}},
                     {"list": [{"memory.sram_kib.q": 64}, {"memory.sram_kib.q": 1}, {"pe_array.exp": "pwl4"}]}],
            "run_options": {"layers": 1}}
    one = {"name": "one-point", "arch": os.path.join(src, "configs/arch/sanger.json"),
           "workload": os.path.join(src, "workloads/synthetic_small.json"), "run_options": {"layers": 1}}
    for name, s in (("mixed", spec), ("one", one)):
        with open(os.path.join(tmp, f"{name}.json"), "w") as f:
            json.dump(s, f)
    mixed, single = os.path.join(tmp, "mixed"), os.path.join(tmp, "one")
    r = run([attnsim, "sweep", "-q", "-j", "2", "mixed.json", "--out", mixed], cwd=tmp)
    if r.returncode != 1:  # 1: the sweep ran, with failed points
        print(f"attnsim sweep mixed.json: exit {r.returncode}: {r.stderr}")
        sys.exit(1)
    r = run([attnsim, "sweep", "-q", "one.json", "--out", single], cwd=tmp)
    if r.returncode != 0:
        print(f"attnsim sweep one.json: exit {r.returncode}: {r.stderr}")
        sys.exit(1)

    for name, sweep, figures in (("mixed", mixed, ["pareto", "param0", "param1", "param2", "units"]),
                                 ("one point", single, ["pareto", "units"])):
        page = os.path.join(sweep, "report.html")
        r = run([sys.executable, script, sweep], cwd=tmp)
        if not check(r.returncode == 0 and os.path.exists(page), f"{name}: report built ({r.stderr.strip()})"):
            continue
        # Again through the CLI, which runs the same script (with this Python).
        again = os.path.join(tmp, "again.html")
        r = subprocess.run([attnsim, "report", sweep, "-o", again], cwd=tmp, capture_output=True, text=True,
                           env=dict(os.environ, ATTNSIM_PYTHON=sys.executable))
        first = open(page, "rb").read().replace(page.encode(), b"OUT")
        second = open(again, "rb").read().replace(again.encode(), b"OUT")
        check(r.returncode == 0 and first == second, f"{name}: the same inputs give the same page")
        check_page(name, sweep, page, figures, profile)

    # The baseline of the mixed sweep: sanger.json's values, one point per workload.
    html_text = open(os.path.join(mixed, "report.html"), encoding="utf-8").read()
    check(re.search(r"base arch [^<]*sanger\.json&#x27;s values[^<]*: #3, #9", html_text) is not None,
          "mixed: baseline points #3 and #9 (the base arch's values)")

    # Bad input: one line naming the file, exit 2, no page.
    out = os.path.join(tmp, "bad.html")
    check_bad_input("missing folder", os.path.join(tmp, "nowhere"), "nowhere", out)
    os.mkdir(os.path.join(tmp, "empty"))
    check_bad_input("no summary.json", os.path.join(tmp, "empty"), "summary.json", out)
    corrupt = os.path.join(tmp, "corrupt")
    shutil.copytree(single, corrupt)
    with open(os.path.join(corrupt, "summary.json"), "w") as f:
        f.write('{"points": [')
    check_bad_input("corrupt summary.json", corrupt, "summary.json", out)
    with open(os.path.join(corrupt, "summary.json"), "w") as f:
        json.dump({"points": "many"}, f)
    check_bad_input("summary.json of the wrong shape", corrupt, "summary.json", out)
    r = run([sys.executable, script, single, "-o", os.path.join(single, "summary.json")])
    check(r.returncode == 2 and json.load(open(os.path.join(single, "summary.json")))["points"],
          "-o naming summary.json: refused, the summary intact")

print(f"{len(failures)} failure(s), {time.monotonic() - started:.1f} s")
for f in failures:
    print("FAIL", f)
sys.exit(1 if failures else 0)
