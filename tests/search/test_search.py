#!/usr/bin/env python3
"""attnsim search (scripts/search/search.py) end to end, on a tiny space of
the small synthetic workload: summaries and plots, the front without failed
or infeasible points, resume after kill -9, two workers on one study, bad
inputs, foreign and corrupt study databases.

    test_search.py ATTNSIM_BINARY TEST     (TEST: one of TESTS below)

Exit 77 (skipped) where optuna is not importable.
"""
import copy
import hashlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

try:
    import optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
except ImportError:
    print("skipped: optuna is not importable (scripts/setup.sh makes .venv with it)")
    sys.exit(77)

SRC = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SEARCH = os.path.join(SRC, "scripts", "search", "search.py")

SPACE = {
    "name": "test-space",
    "arch": os.path.join(SRC, "configs/arch/sanger.json"),
    "workload": os.path.join(SRC, "workloads/synthetic_small.json"),
    "run_options": {"layers": 1},
    "space": {
        "pe_array.rows": {"choices": [16, 32, 64]},
        "pe_array.pes_per_row": {"choices": [8, 32]},
        # 32 PEs per row on 16-key segments: a combination the arch rejects (a failed point)
        "encoder.segment_width": {"choices": [16, 64]},
        "mask_unit.threshold": {"float": [0.001, 0.02], "log": True},
    },
    "objectives": [{"metric": "total.cycles", "goal": "min"},
                   {"metric": "total.energy.total_pj", "goal": "min"},
                   {"metric": "total.mask.recall", "goal": "max"}],
    "constraints": [{"metric": "area.total_mm2", "max": 4.0}],
    "sampler": "nsga2",
    "population": 4,
    "seed": 1,
    "trials": 12,
}


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


class Env:
    def __init__(self, attnsim):
        self.attnsim = attnsim
        self.tmp = tempfile.mkdtemp(prefix="attnsim_search_test.")
        # A slower attnsim for the point evaluations, so that kill -9 lands in a running trial.
        self.slow = os.path.join(self.tmp, "slow_attnsim.sh")
        with open(self.slow, "w") as f:
            f.write(f'#!/bin/sh\ncase " $* " in *" --point "*) sleep 0.3;; esac\nexec "{attnsim}" "$@"\n')
        os.chmod(self.slow, 0o755)

    def space(self, name="space.json", **changes):
        spec = copy.deepcopy(SPACE)
        for k, v in changes.items():
            if v is None:
                spec.pop(k, None)
            else:
                spec[k] = v
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            json.dump(spec, f, indent=1)
        return path

    def search(self, space, out, *args, attnsim=None, background=False):
        cmd = [sys.executable, SEARCH, space, "-o", out, "--heartbeat", "1", "-q",
               "--attnsim", attnsim or self.attnsim, *args]
        if background:
            return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        return subprocess.run(cmd, capture_output=True, text=True)

    def path(self, *parts):
        return os.path.join(self.tmp, *parts)


def load(path):
    with open(path) as f:
        return json.load(f)


def without_host(summary):
    s = copy.deepcopy(summary)
    s.pop("host", None)
    for p in s["points"]:
        p.pop("host", None)
    return s


def ok_run(r, what):
    check(r.returncode == 0, f"{what}: exit {r.returncode}: {r.stderr.strip()}")


def study_trials(db):
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT number, state FROM trials ORDER BY number").fetchall()
    finally:
        con.close()


# ---------------------------------------------------------------------------

def test_end_to_end(env):
    space, out = env.space(), env.path("out")
    r = env.search(space, out, "--compare-random")
    ok_run(r, "search")
    s = load(os.path.join(out, "summary.json"))
    check(s["format"] == "attnsim-sweep-summary", "summary.json is in the sweep's format")
    check(s["counts"]["points"] == 12, f"12 points, got {s['counts']}")
    failed = {p["index"] for p in s["points"] if p["status"] == "failed"}
    infeasible = {p["index"] for p in s["points"] if p.get("feasible") is False}
    check(failed, "the space has a combination the arch rejects; seed 1 draws it")
    check(all("rejected by the arch" in (p["error"] or "") for p in s["points"] if p["status"] == "failed"),
          "failed points say why")
    check(infeasible, "some point is over the area limit")
    check(s["pareto"] and not (set(s["pareto"]) & (failed | infeasible)), "the front has neither failed nor "
          f"infeasible points: front {s['pareto']}, failed {failed}, infeasible {infeasible}")
    with open(os.path.join(out, "summary.csv")) as f:
        header = f.readline().strip().split(",")
    check(header[-1] == "feasible" and "pe_array.rows" in header and "pareto" in header, f"CSV header {header}")
    with open(os.path.join(out, "search_progress.csv")) as f:
        rows = f.read().split()
    check(rows[0] == "trial,hypervolume_nsga2,hypervolume_random" and len(rows) == 13, f"progress CSV {rows[:2]}")
    for f in ("search_hypervolume.png", "search_hypervolume.svg", "study.db", "search.json"):
        check(os.path.getsize(os.path.join(out, f)) > 0, f"{f} written")
    # The hypervolume on fronts worked out by hand: two rectangles in 2-D; in
    # 3-D a box minus nothing, a dominated point, one outside the reference.
    sys.path.insert(0, os.path.join(SRC, "scripts", "search"))
    import hypervolume
    hv2 = hypervolume.hypervolume([(0.5, 0.5), (0.2, 0.9)], (1.1, 1.1))
    hv3 = hypervolume.hypervolume([(0.1, 0.1, 0.1), (0.5, 0.5, 0.5), (2.0, 0.0, 0.0)], (1.0, 1.0, 1.0))
    check(abs(hv2 - (0.6 * 0.6 + 0.3 * 0.2)) < 1e-12 and abs(hv3 - 0.9 ** 3) < 1e-12,
          f"hypervolume of hand-computed fronts ({hv2}, {hv3})")
    # compare and the plots read the search's summary as a sweep's.
    c = subprocess.run([env.attnsim, "compare", os.path.join(out, "summary.json"), "--pareto"],
                       capture_output=True, text=True)
    ok_run(c, "attnsim compare --pareto")
    check(all(f"point {i}" in c.stdout or str(i) in c.stdout for i in s["pareto"]), "compare lists the front")
    png = env.path("pareto.png")
    p = subprocess.run([sys.executable, os.path.join(SRC, "scripts/plots/pareto_scatter.py"),
                        os.path.join(out, "summary.csv"), "-o", png], capture_output=True, text=True)
    ok_run(p, "pareto_scatter.py")
    # The same search again: the same trials (one worker, a seed).
    r2 = env.search(space, env.path("again"))
    ok_run(r2, "second search")
    check(without_host(load(os.path.join(env.path("again"), "summary.json"))) == without_host(s),
          "one worker and a seed: the same summary")
    # Raising the budget extends the study: the first 12 points stay.
    r3 = env.search(space, out, "--trials", "14")
    ok_run(r3, "extended search")
    s3 = load(os.path.join(out, "summary.json"))
    check(s3["counts"]["points"] == 14 and without_host(s3)["points"][:12] == without_host(s)["points"],
          "--trials 14 adds two points")


def test_resume_after_kill(env):
    space = env.space()
    ref = env.path("reference")
    ok_run(env.search(space, ref), "uninterrupted search")
    out = env.path("killed")
    proc = env.search(space, out, attnsim=env.slow, background=True)
    db = os.path.join(out, "study.db")
    deadline = time.time() + 120
    while time.time() < deadline:
        time.sleep(0.1)
        try:
            states = [s for _, s in study_trials(db)]
        except sqlite3.Error:
            continue
        if states.count("COMPLETE") + states.count("FAIL") >= 4 and states and states[-1] == "RUNNING":
            break
    check(proc.poll() is None, "the search was still running when killed")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    check(any(s == "RUNNING" for _, s in study_trials(db)), "kill -9 left a trial RUNNING")
    r = env.search(space, out)
    ok_run(r, "resumed search")
    s, s_ref = load(os.path.join(out, "summary.json")), load(os.path.join(ref, "summary.json"))
    check(s["counts"]["points"] == 12, f"12 points after resuming, got {s['counts']}")
    trials = [p["host"]["trial"] for p in s["points"]]
    check(len(set(trials)) == len(trials), f"no trial twice: {trials}")
    states = study_trials(db)
    check(not any(st in ("RUNNING", "WAITING") for _, st in states), f"nothing left running: {states}")
    check(without_host(s) == without_host(s_ref), "the resumed search's summary equals the uninterrupted one's")


def test_two_workers(env):
    space, out = env.space(), env.path("out")
    r = env.search(space, out, "--workers", "2", attnsim=env.slow)
    ok_run(r, "search --workers 2")
    s = load(os.path.join(out, "summary.json"))
    check(s["counts"]["points"] == 12, f"12 points from two workers, got {s['counts']}")
    con = sqlite3.connect(os.path.join(out, "study.db"))
    workers = {json.loads(v) for (v,) in con.execute(
        "SELECT value_json FROM trial_user_attributes WHERE key='worker'")}
    states = con.execute("SELECT state, COUNT(*) FROM trials GROUP BY state").fetchall()
    con.close()
    check(len(workers) == 2, f"both workers ran trials: {workers}")
    check(dict(states).get("RUNNING", 0) == 0, f"no trial left running: {states}")


def expect_error(env, r, out, *needles):
    lines = r.stderr.strip().splitlines()
    check(r.returncode == 2, f"exit 2 expected, got {r.returncode}: {r.stderr.strip()}")
    check(len(lines) == 1 and lines[0].startswith("attnsim search: error: "), f"one error line: {r.stderr!r}")
    for n in needles:
        check(n in lines[0], f"'{n}' in: {lines[0]}")
    check(not os.path.exists(out), f"nothing written for: {lines[0]}")


def test_bad_inputs(env):
    out = env.path("never")
    cases = [
        ({"objectives": [{"metric": "total.cyles"}]}, ["objectives[0].metric", "unknown column 'total.cyles'"]),
        ({"constraints": [{"metric": "area.total_mm2", "min": 3, "max": 2}]}, ["constraints[0]", "impossible"]),
        ({"constraints": [{"metric": "sram_kib", "max": 100}]}, ["constraints[0].max", "impossible", "sram_kib"]),
        ({"constraints": [{"metric": "total.mask.recall", "min": 1.5}]}, ["constraints[0].min", "impossible"]),
        ({"constraints": [{"metric": "area.total_mm2"}]}, ["constraints[0]", "min"]),
        ({"space": {"pe_array.rows": {"choices": [16, 0]}}}, ['space["pe_array.rows"]', "rejected by the arch"]),
        ({"space": {"pe_array.rows": {"int": [64, 16]}}}, ['space["pe_array.rows"].int', "LO < HI"]),
        ({"space": {"pe_array.rows": {"int": [16, 64], "step": 5}}}, ['space["pe_array.rows"].step']),
        ({"space": {"mask_unit.threshold": {"float": [0, 0.1], "log": True}}},
         ['space["mask_unit.threshold"].log', "LO > 0"]),
        ({"space": {"pe_array.rows": {"range": [1, 2]}}}, ['space["pe_array.rows"]', "expected"]),
        ({"space": {}}, ["space", "non-empty"]),
        ({"sampler": "annealing"}, ["sampler"]),
        ({"trials": 0}, ["trials"]),
        ({"colour": "red"}, ["colour", "unknown key"]),
        ({"space": None}, ["space", "missing"]),
    ]
    for i, (changes, needles) in enumerate(cases):
        space = env.space(f"bad{i}.json", **changes)
        expect_error(env, env.search(space, out), out, f"bad{i}.json", *needles)
    malformed = env.path("malformed.json")
    with open(malformed, "w") as f:
        f.write('{"arch": "x.json", "space": {')
    expect_error(env, env.search(malformed, out), out, "malformed.json")
    expect_error(env, env.search(env.space(), out, "--workers", "0"), out, "--workers")
    expect_error(env, env.search(env.path("missing.json"), out), out, "missing.json")


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def test_foreign_and_corrupt_db(env):
    space = env.space()
    # A foreign SQLite file as the storage: refused, and left as it was.
    foreign = env.path("foreign.db")
    con = sqlite3.connect(foreign)
    con.execute("CREATE TABLE results (x INTEGER)")
    con.commit()
    con.close()
    before = sha(foreign)
    out = env.path("out1")
    expect_error(env, env.search(space, out, "--storage", f"sqlite:///{foreign}"), out, "foreign.db",
                 "without Optuna's tables")
    check(sha(foreign) == before, "the foreign database is untouched")
    # An Optuna database of someone else's study.
    other = env.path("other.db")
    optuna.create_study(storage=f"sqlite:///{other}", study_name="their-study")
    expect_error(env, env.search(space, out, "--storage", f"sqlite:///{other}"), out, "their-study")
    # A study made from another space.
    good = env.path("good")
    ok_run(env.search(space, good, "--trials", "3"), "a small search")
    space2 = env.space("space2.json", seed=4)
    expect_error(env, env.search(space2, out, "--storage", f"sqlite:///{good}/study.db"), out,
                 "another search space")
    r = env.search(space2, good)
    check(r.returncode == 2 and "holds the search of another space" in r.stderr, f"OUT of another space: {r.stderr}")
    # A study in a shared database keeps its points in its own OUT.
    shared = f"sqlite:///{env.path('shared.db')}"
    ok_run(env.search(space, env.path("first"), "--trials", "2", "--storage", shared), "a search in a shared db")
    expect_error(env, env.search(space, out, "--storage", shared), out, "keeps its points in")
    # The study's file damaged: garbage, then truncated.
    db = os.path.join(good, "study.db")
    shutil.copy(db, env.path("saved.db"))
    with open(db, "wb") as f:
        f.write(os.urandom(4096))
    r = env.search(space, good)
    check(r.returncode == 2 and "not an SQLite database" in r.stderr and r.stderr.count("\n") == 1,
          f"garbage study.db: {r.stderr}")
    with open(env.path("saved.db"), "rb") as f:
        data = f.read()
    with open(db, "wb") as f:
        f.write(data[:len(data) // 2])
    r = env.search(space, good)
    check(r.returncode == 2 and "study.db" in r.stderr and "Traceback" not in r.stderr and
          r.stderr.count("\n") == 1, f"truncated study.db: {r.stderr}")
    # Not a search folder.
    plain = env.path("plain")
    os.makedirs(plain)
    with open(os.path.join(plain, "notes.txt"), "w") as f:
        f.write("mine\n")
    r = env.search(space, plain)
    check(r.returncode == 2 and "neither empty nor a search's output" in r.stderr, f"foreign OUT: {r.stderr}")


TESTS = {"end_to_end": test_end_to_end, "resume_after_kill": test_resume_after_kill,
         "two_workers": test_two_workers, "bad_inputs": test_bad_inputs,
         "foreign_and_corrupt_db": test_foreign_and_corrupt_db}


def main():
    if len(sys.argv) != 3 or sys.argv[2] not in TESTS:
        print(f"usage: test_search.py ATTNSIM_BINARY {{{'|'.join(TESTS)}}}", file=sys.stderr)
        return 2
    env = Env(os.path.abspath(sys.argv[1]))
    start = time.time()
    try:
        TESTS[sys.argv[2]](env)
    except Failure as e:
        print(f"FAILED: {e}", file=sys.stderr)
        print(f"(kept {env.tmp})", file=sys.stderr)
        return 1
    shutil.rmtree(env.tmp, ignore_errors=True)
    print(f"passed: {sys.argv[2]} ({time.time() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
