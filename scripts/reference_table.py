#!/usr/bin/env python3
"""Renders the external-reference comparison tables (build/reference/*.json, written by
build/tests/reference/reference_tests) as one Markdown page, docs/references.md.

    reference_table.py [DIR] [-o OUT.md] [--check]

DIR (default build/reference) holds one JSON file per table:

    {"unit": "...", "reference": "provenance one-liner", "notes": ["..."],
     "rows": [{"case": "...", "inputs": "...", "attnsim": number or string,
               "reference": number or string, "difference": "...", "parameter": "..."}]}

The page has one section per unit, sorted by unit name, rows in file order; the same inputs
always give the same bytes. --check writes nothing: it exits 0 when OUT.md already holds the
page, 1 when it differs (a diff is printed), 2 on bad input, like a normal run.
Standard library only.
"""

import argparse
import difflib
import json
import math
import os
import sys
import tempfile

ROW_KEYS = ("case", "inputs", "attnsim", "reference", "difference", "parameter")
COLUMNS = ("case", "inputs", "attnsim", "reference", "difference",
           "parameter that explains it")
REGENERATE = ("build/tests/reference/reference_tests && "
              "scripts/reference_table.py build/reference -o docs/references.md")

INTRO = f"""\
# External references

Each unit of attnsim below is held to its design's own public reference on the same inputs.
The numbers in the *reference* column are facts taken from the designs' public artefacts
(such as SCALE-Sim v3 from PyPI and the Sanger, SpAtten and MInference repositories), run or
re-implemented by the scripts under `tests/reference/` and committed, with their provenance,
in `tests/reference/facts/*.json`. The *attnsim* column is what the simulator gives on the
same inputs, the *difference* column says how far apart the two are, and the last column
names the attnsim parameter (or modelling choice) that explains the difference. The tests of
`reference_tests` fail when a unit drifts from its reference, and write the tables below to
`build/reference/*.json`. This page is generated from them; do not edit it by hand, but
regenerate it with

```sh
{REGENERATE}
```"""


class InputError(Exception):
    """Bad input: one line naming the file and the JSON path."""


def load_table(path):
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror}") from None
    except ValueError as e:
        raise InputError(f"{path}: not JSON: {e}") from None

    def fail(where, what):
        raise InputError(f"{path}: {where}: {what}")

    if not isinstance(doc, dict):
        fail("$", "expected an object")
    unknown = sorted(set(doc) - {"unit", "reference", "notes", "rows"})
    if unknown:
        fail("$", "unknown key(s) " + ", ".join(unknown))
    for key in ("unit", "reference"):
        if not isinstance(doc.get(key), str) or not doc[key].strip():
            fail(f"$.{key}", "expected a non-empty string")
    notes = doc.get("notes", [])
    if not isinstance(notes, list):
        fail("$.notes", "expected an array of strings")
    for i, n in enumerate(notes):
        if not isinstance(n, str):
            fail(f"$.notes[{i}]", "expected a string")
    rows = doc.get("rows")
    if not isinstance(rows, list):
        fail("$.rows", "expected an array")
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            fail(f"$.rows[{i}]", "expected an object")
        missing = [k for k in ROW_KEYS if k not in row]
        if missing:
            fail(f"$.rows[{i}]", "missing key(s) " + ", ".join(missing))
        unknown = sorted(set(row) - set(ROW_KEYS))
        if unknown:
            fail(f"$.rows[{i}]", "unknown key(s) " + ", ".join(unknown))
        for k in ROW_KEYS:
            v = row[k]
            numeric = k in ("attnsim", "reference")
            ok = isinstance(v, str) or (
                numeric and isinstance(v, (int, float)) and not isinstance(v, bool)
                and math.isfinite(v))
            if not ok:
                fail(f"$.rows[{i}].{k}",
                     "expected a finite number or a string" if numeric else "expected a string")
    return {"file": os.path.basename(path), "unit": doc["unit"], "reference": doc["reference"],
            "notes": notes, "rows": rows}


def load_tables(directory):
    if not os.path.isdir(directory):
        raise InputError(f"{directory}: no such directory (run build/tests/reference/"
                         f"reference_tests first: it writes the tables there)")
    names = sorted(n for n in os.listdir(directory) if n.endswith(".json"))
    if not names:
        raise InputError(f"{directory}: no *.json tables (run build/tests/reference/"
                         f"reference_tests first: it writes them there)")
    tables = [load_table(os.path.join(directory, n)) for n in names]
    # by unit name (case-insensitively, then exactly), then by file name for equal units
    tables.sort(key=lambda t: (t["unit"].casefold(), t["unit"], t["file"]))
    return tables


def cell(value):
    if isinstance(value, str):
        text = value
    elif isinstance(value, int):
        text = str(value)
    else:  # float: the shortest text that reads back as the same number
        text = repr(value)
    if "\n" in text or "\r" in text:
        text = " ".join(line.strip() for line in text.splitlines())
    return text.replace("|", "\\|").strip()


def inline(text):
    """A paragraph-safe line: newlines folded to spaces."""
    return " ".join(text.split())


def render(tables):
    out = [INTRO]
    for t in tables:
        out.append("")
        out.append(f"## {inline(t['unit'])}")
        out.append("")
        out.append(f"Reference: {inline(t['reference']).rstrip('.')}. "
                   f"Table: `build/reference/{t['file']}`.")
        out.append("")
        if t["rows"]:
            out.append("| " + " | ".join(COLUMNS) + " |")
            out.append("|" + "|".join("---" for _ in COLUMNS) + "|")
            for row in t["rows"]:
                out.append("| " + " | ".join(cell(row[k]) for k in ROW_KEYS) + " |")
        else:
            out.append("(no rows)")
        if t["notes"]:
            out.append("")
            for n in t["notes"]:
                out.append(f"* {inline(n)}")
    return "\n".join(out) + "\n"


def write_atomically(path, text):
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".reference_table.", suffix=".md")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("directory", nargs="?", default="build/reference",
                    help="the tables written by reference_tests (default: %(default)s)")
    ap.add_argument("-o", "--out", default="docs/references.md",
                    help="the page to write (default: %(default)s)")
    ap.add_argument("--check", action="store_true",
                    help="write nothing; exit 1 if OUT differs from the rendered page")
    args = ap.parse_args(argv)

    try:
        text = render(load_tables(args.directory))
    except InputError as e:
        print(f"reference_table.py: error: {e}", file=sys.stderr)
        return 2

    if args.check:
        try:
            with open(args.out, encoding="utf-8", newline="") as f:
                current = f.read()
        except OSError as e:
            print(f"reference_table.py: {args.out}: cannot read ({e.strerror}); regenerate it "
                  f"with: {REGENERATE}", file=sys.stderr)
            return 1
        if current == text:
            return 0
        diff = list(difflib.unified_diff(current.splitlines(), text.splitlines(),
                                         f"{args.out} (committed)",
                                         f"{args.out} (from {args.directory})", lineterm=""))
        shown = diff[:60]
        print("\n".join(shown))
        if len(diff) > len(shown):
            print(f"... {len(diff) - len(shown)} more diff lines")
        print(f"reference_table.py: {args.out} differs from the tables in {args.directory}; "
              f"regenerate it with: {REGENERATE}", file=sys.stderr)
        return 1

    write_atomically(args.out, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
