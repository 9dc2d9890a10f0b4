#!/usr/bin/env python3
"""attnsim search: a multi-objective design-space search (docs/search.md).

    .venv/bin/python scripts/search/search.py SPACE.json -o OUT [--workers N] [--trials N]
        [--sampler nsga2|tpe|random] [--seed N] [--storage URL] [--compare-random] [-q]

Optuna proposes the points (NSGA-II, TPE or random sampling over the space's
ranges, its constrained sampling for the constraints); attnsim evaluates each
one as a sweep point (`attnsim sweep SPACE --out OUT --point JSON`: content-
hashed reports in OUT/points, the functional cache, timeouts, failed points
recorded). The study lives in an Optuna RDB storage (default
sqlite:///OUT/study.db), so a search survives kill -9 and resumes, and several
workers (--workers, or Slurm array tasks: scripts/slurm_search.sh) fill one
study. At the end: OUT/summary.csv and summary.json (the sweep's format, with
the Pareto front), OUT/search_progress.csv and the hypervolume plot
OUT/search_hypervolume.png/.svg.

Bad input gives one line naming the file and field, exit code 2.
"""
import argparse
import ctypes
import hashlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import warnings

PROG = "attnsim search"
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
MAIN_STUDY = "attnsim-search"
RANDOM_STUDY = "attnsim-search-random"  # --compare-random: the baseline on the same budget
FORMAT = "attnsim-search"


class SearchError(Exception):
    """Bad input or an unusable study: one line, exit code 2."""


class PointFailed(Exception):
    """The trial's point failed (recorded in the study and the summary)."""


class Surplus(Exception):
    """A trial asked for after the budget was filled by other workers."""


try:
    import optuna
    from optuna.trial import TrialState
    from tqdm import tqdm
except ImportError:
    print(f"{PROG}: error: needs optuna, which {sys.executable} lacks (run with .venv/bin/python, "
          "which scripts/setup.sh makes from scripts/requirements.txt)", file=sys.stderr)
    sys.exit(2)

sys.path.insert(0, HERE)
import hypervolume  # noqa: E402


def one_line(e):
    text = " ".join(str(e).split())
    return text[:300] + ("..." if len(text) > 300 else "")


# ---------------------------------------------------------------------------
# The space (validated by attnsim itself) and the output folder.

class Search:
    """What one invocation works with: the space, options, folders."""

    def __init__(self, args):
        self.args = args
        self.space_file = args.space
        self.out = os.path.abspath(args.out or ".")
        self.attnsim = os.path.abspath(args.attnsim or os.environ.get("ATTNSIM") or
                                       os.path.join(REPO, "build", "attnsim"))
        if not os.access(self.attnsim, os.X_OK):
            raise SearchError(f"{self.attnsim}: --attnsim: not an executable (build attnsim, or set ATTNSIM)")
        base_hash = self.validate()
        with open(self.space_file, "rb") as f:
            self.spec = json.loads(f.read())
        if "space" not in self.spec:
            raise SearchError(f"{self.space_file}: space: missing: a search space needs \"space\" "
                              "(this is a sweep spec? run attnsim sweep)")
        self.params = list(self.spec["space"].items())  # written order (json keeps it)
        self.objectives = self.spec.get("objectives") or [
            {"metric": m, "goal": "min"} for m in ("total.cycles", "total.energy.total_pj", "area.total_mm2")]
        self.directions = ["maximize" if o.get("goal", "min") == "max" else "minimize" for o in self.objectives]
        self.constraints = self.spec.get("constraints", [])
        self.sampler = args.sampler or self.spec.get("sampler", "nsga2")
        self.seed = args.seed if args.seed is not None else self.spec.get("seed", 0)
        self.population = self.spec.get("population", 50)
        # The study belongs to this space: its file's content (but the budget,
        # which may grow), and the base point's content hash, which covers the
        # arch's and workload's bytes and the attnsim version.
        identity = {k: v for k, v in self.spec.items() if k != "trials"}
        self.space_hash = hashlib.sha256((json.dumps(identity, sort_keys=True) + base_hash).encode()).hexdigest()[:16]
        self.storage_url = args.storage or f"sqlite:///{os.path.join(self.out, 'study.db')}"
        self.heartbeat = args.heartbeat

    def validate(self):
        """attnsim checks the space (types, ranges against the arch, metric
        names, constraints); returns the base point's content hash."""
        r = subprocess.run([self.attnsim, "sweep", self.space_file, "--dry-run"], capture_output=True, text=True)
        if r.returncode != 0:
            lines = [line for line in r.stderr.splitlines() if line.strip()]
            msg = lines[-1] if lines else f"{self.attnsim} sweep --dry-run exited with {r.returncode}"
            for prefix in ("attnsim sweep: error: ", "attnsim sweep: "):
                if msg.startswith(prefix):
                    msg = msg[len(prefix):]
                    break
            raise SearchError(msg)
        first = r.stdout.split("\n", 1)[0].split()
        return first[1] if len(first) > 1 else ""

    def claim_out(self):
        """OUT is new, empty, or this same space's search (attnsim writes only
        into folders it made); returns whether this call created it."""
        marker = os.path.join(self.out, "search.json")
        if os.path.exists(self.out):
            if not os.path.isdir(self.out):
                raise SearchError(f"{self.out}: --out: is a file, expected a folder")
            if os.path.exists(marker):
                try:
                    with open(marker) as f:
                        m = json.load(f)
                    ok = isinstance(m, dict) and m.get("format") == FORMAT
                except (OSError, ValueError):
                    ok = False
                if not ok:
                    raise SearchError(f"{marker}: format: not an attnsim search marker; "
                                      "attnsim writes only into folders it made")
                if m.get("space_hash") != self.space_hash:
                    raise SearchError(f"{self.out}: --out: holds the search of another space "
                                      f"({m.get('space_file', '?')}, or its arch, workload or attnsim version "
                                      "changed); choose another --out")
                return False
            other = sorted(os.listdir(self.out))
            if other:
                raise SearchError(f"{self.out}: --out: is a folder that is neither empty nor a search's output "
                                  f"(it holds {other[0]}); attnsim writes only into folders it made")
            return False
        os.makedirs(self.out)
        return True

    def write_marker(self):
        marker = os.path.join(self.out, "search.json")
        write_json_atomic(marker, {"format": FORMAT, "space_file": os.path.abspath(self.space_file),
                                   "space_hash": self.space_hash, "storage": redact(self.storage_url)})

    # -- one trial ----------------------------------------------------------

    def suggest(self, trial):
        params = {}
        for path, r in self.params:
            if "choices" in r:
                params[path] = trial.suggest_categorical(path, r["choices"])
            elif "int" in r:
                params[path] = trial.suggest_int(path, r["int"][0], r["int"][1], step=r.get("step", 1),
                                                 log=r.get("log", False))
            else:
                params[path] = trial.suggest_float(path, r["float"][0], r["float"][1], log=r.get("log", False))
        return params

    def evaluate(self, params):
        """One point through attnsim's sweep machinery: its entry (point_entry)."""
        cmd = [self.attnsim, "sweep", self.space_file, "--out", self.out, "-q", "--point", json.dumps(params)]
        if self.args.timeout:
            cmd += ["--timeout", str(self.args.timeout)]
        if self.args.no_reuse:
            cmd.append("--no-reuse")
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode == 2:
            lines = [line for line in r.stderr.splitlines() if line.strip()]
            raise SearchError((lines[-1] if lines else "attnsim sweep --point: exit code 2").replace(
                "attnsim sweep: error: ", ""))
        try:
            return json.loads(r.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise PointFailed(f"attnsim sweep --point exited with {r.returncode} and no result: "
                              f"{one_line(r.stderr)[-300:]}")


def write_json_atomic(path, value):
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(value, f, indent=1)
        f.write("\n")
    os.replace(tmp, path)


def redact(url):
    """A storage URL without its password (it goes into files)."""
    if "://" in url and "@" in url.split("://", 1)[1]:
        scheme, rest = url.split("://", 1)
        cred, host = rest.rsplit("@", 1)
        return f"{scheme}://{cred.split(':', 1)[0]}:***@{host}"
    return url


# ---------------------------------------------------------------------------
# The study database.

def check_sqlite_file(path, where):
    """An existing SQLite file must be an intact Optuna database: never let
    Optuna add its tables to someone else's file or read a damaged one."""
    if not os.path.exists(path) or os.path.getsize(path) == 0:
        return
    with open(path, "rb") as f:
        header = f.read(16)
    if header != b"SQLite format 3\x00":
        raise SearchError(f"{path}: {where}: not an SQLite database (corrupt or foreign file); "
                          "attnsim never overwrites it: move it away or choose another --out/--storage")
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=60)
        try:
            tables = {row[0] for row in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            check = con.execute("PRAGMA quick_check").fetchone()[0]
        finally:
            con.close()
    except sqlite3.DatabaseError as e:
        raise SearchError(f"{path}: {where}: damaged SQLite database ({one_line(e)}); "
                          "attnsim never overwrites it: move it away or choose another --out/--storage")
    if not {"studies", "trials", "version_info"} <= tables:
        raise SearchError(f"{path}: {where}: an SQLite database without Optuna's tables (a foreign file); "
                          "attnsim never writes into it: choose another --out/--storage")
    if check != "ok":
        raise SearchError(f"{path}: {where}: damaged SQLite database (integrity check: {one_line(check)})")


def open_storage(s):
    where = "--storage" if s.args.storage else "study.db"
    url = s.storage_url
    kwargs = {}
    if url.startswith("sqlite:///"):
        check_sqlite_file(url[len("sqlite:///"):], where)
        # Workers wait for each other's writes rather than failing.
        kwargs["engine_kwargs"] = {"connect_args": {"timeout": 600}}
    try:
        return optuna.storages.RDBStorage(
            url, heartbeat_interval=s.heartbeat, grace_period=4 * s.heartbeat,
            heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=3),
            **kwargs)
    except Exception as e:  # SQLAlchemy, a driver, or Optuna's schema check: say which storage
        raise SearchError(f"{redact(url)}: {where}: not a usable Optuna study database ({one_line(e)})")


def study_attrs(s, name):
    return {"format": FORMAT, "space_hash": s.space_hash, "space_file": os.path.abspath(s.space_file),
            "sampler": "random" if name == RANDOM_STUDY else s.sampler, "seed": s.seed}


def open_study(s, storage, name, create):
    """Loads (or creates) study `name`, checking it is this space's."""
    where = redact(s.storage_url)
    try:
        names = {st.study_name for st in storage.get_all_studies()}
    except Exception as e:
        raise SearchError(f"{where}: not a readable Optuna study database ({one_line(e)})")
    if names and not names & {MAIN_STUDY, RANDOM_STUDY}:
        raise SearchError(f"{where}: holds Optuna studies of something else ({', '.join(sorted(names))}), "
                          "not an attnsim search; choose another --out/--storage")
    want = study_attrs(s, name)
    if name not in names:
        if not create:
            raise SearchError(f"{where}: no study {name}: start the search once without --only work")
        try:
            study = optuna.create_study(storage=storage, study_name=name, directions=s.directions)
            for k, v in want.items():
                study.set_user_attr(k, v)
            study.set_user_attr("out", s.out)
            study.set_user_attr("trials", s.args.trials or s.spec.get("trials", 100))
        except optuna.exceptions.DuplicatedStudyError:
            pass  # another worker made it at the same moment
    study = optuna.load_study(study_name=name, storage=storage)
    for _ in range(100):  # its maker may still be writing the attributes
        attrs = study.user_attrs
        if "space_hash" in attrs and "trials" in attrs:
            break
        time.sleep(0.1)
    if attrs.get("format") != FORMAT:
        raise SearchError(f"{where}: study {name} was not made by attnsim search")
    if attrs.get("space_hash") != s.space_hash:
        raise SearchError(f"{where}: study {name} was made from another search space ({attrs.get('space_file')}, "
                          "or its arch, workload or attnsim version changed); choose another --out/--storage")
    # The points are in the OUT the study was made for: a study in a shared
    # database used from another OUT would summarise reports it cannot see.
    # (A study in OUT/study.db moves with its folder.)
    if s.args.storage and attrs.get("out") not in (None, s.out):
        raise SearchError(f"{where}: study {name} keeps its points in {attrs['out']}, not {s.out}; "
                          "use that --out")
    for k in ("sampler", "seed"):
        if attrs.get(k) != want[k]:
            raise SearchError(f"{where}: study {name} was made with {k} {attrs.get(k)}, not {want[k]}; "
                              "choose another --out/--storage")
    if s.args.trials and attrs.get("trials") != s.args.trials:
        study.set_user_attr("trials", s.args.trials)  # --trials sets the budget of the study
    return study


# ---------------------------------------------------------------------------
# Workers.

def counted(t):
    """Trials that are points of the search: completed, or failed with the
    point's error recorded. Trials of a killed worker (failed by the
    heartbeat, then retried) and surplus ones are not."""
    return t.state == TrialState.COMPLETE or (t.state == TrialState.FAIL and "error" in t.user_attrs)


def make_sampler(name, seed, population):
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(population_size=population, seed=seed)
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    return optuna.samplers.RandomSampler(seed=seed)


def trial_seed(seed, k):
    """The sampler's seed for the k-th point: the samplers keep their state
    in the study, so reseeding per point makes a one-worker search resumed
    after kill -9 draw what an uninterrupted one draws."""
    return (seed * 1000003 + k) % (2 ** 32)


def run_worker(s, storage, name, bar=None):
    study = open_study(s, storage, name, create=False)
    sampler_name = study.user_attrs["sampler"]
    if s.args.workers == 1 and s.args.only is None:
        wait_for_running(s, study)

    def objective(trial):
        params = s.suggest(trial)
        trials = study.get_trials(deepcopy=False)
        ahead = sum(1 for t in trials if t.number < trial.number and
                    (counted(t) or t.state in (TrialState.RUNNING, TrialState.WAITING)))
        if ahead >= study.user_attrs["trials"]:
            trial.set_user_attr("surplus", True)
            raise Surplus()
        trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
        entry = s.evaluate(params)
        trial.set_user_attr("hash", entry["hash"])
        if entry["status"] != "ok":
            trial.set_user_attr("error", entry["error"] or "failed")
            raise PointFailed(entry["error"])
        values = [entry["objectives"].get(o["metric"]) for o in s.objectives]
        missing = [o["metric"] for o, v in zip(s.objectives, values) if v is None]
        if missing:
            trial.set_user_attr("error", f"the report lacks {', '.join(missing)}")
            raise PointFailed(trial.user_attrs["error"])
        for i, c in enumerate(entry.get("constraints", [])):
            v = c["violation"]
            trial.set_constraint(f"{i}:{c['metric']}", 1.0 if v is None else v)
        trial.set_user_attr("feasible", entry.get("feasible", True))
        return values

    while True:
        optuna.storages.fail_stale_trials(study)
        trials = study.get_trials(deepcopy=False)
        done = sum(1 for t in trials if counted(t))
        running = sum(1 for t in trials if t.state == TrialState.RUNNING)
        budget = study.user_attrs["trials"]
        if bar:
            bar.update(min(done, budget), budget)
        if done >= budget:
            return
        if done + running >= budget:
            time.sleep(min(s.heartbeat, 2.0))  # the others' trials end, or go stale and come back
            continue
        study.sampler = make_sampler(sampler_name, trial_seed(s.seed, done), s.population)
        study.optimize(objective, n_trials=1, catch=(PointFailed, Surplus))


def wait_for_running(s, study):
    """A one-worker search first lets trials left RUNNING by a killed run end
    or go stale (then they are retried first), so that the resumed search
    equals an uninterrupted one."""
    while any(t.state == TrialState.RUNNING for t in study.get_trials(deepcopy=False)):
        optuna.storages.fail_stale_trials(study)
        time.sleep(min(s.heartbeat, 1.0))


def die_with_parent():
    """Local workers end with the search (Ctrl-C, kill -9): no strays."""
    libc = ctypes.CDLL(None)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def run_local_workers(s, storage, name, bar):
    cmd = [sys.executable, os.path.abspath(__file__), s.space_file, "-o", s.out, "--only", "work",
           "--study", name, "--storage", s.storage_url, "--attnsim", s.attnsim, "--heartbeat", str(s.heartbeat), "-q"]
    if s.args.timeout:
        cmd += ["--timeout", str(s.args.timeout)]
    if s.args.no_reuse:
        cmd.append("--no-reuse")
    if s.args.sampler:
        cmd += ["--sampler", s.args.sampler]
    if s.args.seed is not None:
        cmd += ["--seed", str(s.args.seed)]
    procs = [subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, preexec_fn=die_with_parent)
             for _ in range(s.args.workers)]
    study = optuna.load_study(study_name=name, storage=storage)
    while any(p.poll() is None for p in procs):
        trials = study.get_trials(deepcopy=False)
        budget = study.user_attrs["trials"]
        if bar:
            bar.update(min(budget, sum(1 for t in trials if counted(t))), budget)
        time.sleep(1.0)
    for p in procs:
        err = p.stderr.read().strip()
        if p.returncode != 0:
            raise SearchError(err.splitlines()[-1].replace(f"{PROG}: error: ", "") if err else
                              f"a worker exited with {p.returncode}")


class ProgressBar:
    """tqdm's bar with ETA on stderr, only on a terminal and without --quiet
    (as attnsim sweep's); trials of an earlier run do not count for the ETA."""

    def __init__(self, what, quiet):
        self.what, self.enabled, self.bar = what, not quiet and sys.stderr.isatty(), None

    def update(self, done, total):
        if not self.enabled or total <= 0:
            return
        if self.bar is None:
            self.bar = tqdm(total=total, initial=done, desc=self.what, file=sys.stderr, dynamic_ncols=True)
        self.bar.total = total
        self.bar.update(done - self.bar.n)

    def finish(self):
        if self.bar is not None:
            self.bar.close()
        self.bar = None


# ---------------------------------------------------------------------------
# Results: the summary (attnsim writes it), the front's progress and its plot.

def points_of(study):
    return sorted((t for t in study.get_trials(deepcopy=False) if counted(t)), key=lambda t: t.number)


def objective_vectors(s, trials):
    """Per trial, its objectives as minimised values, or None when it failed
    or violates a constraint."""
    sign = [-1.0 if d == "maximize" else 1.0 for d in s.directions]
    out = []
    for t in trials:
        ok = t.state == TrialState.COMPLETE and all(v <= 0 for v in t.constraints.values())
        out.append(tuple(x * g for x, g in zip(t.values, sign)) if ok else None)
    return out


def finish(s, storage):
    study = open_study(s, storage, MAIN_STUDY, create=False)
    trials = points_of(study)
    host = {"study": MAIN_STUDY, "storage": redact(s.storage_url), "sampler": study.user_attrs["sampler"],
            "seed": s.seed, "trials_budget": study.user_attrs["trials"], "trials": len(trials),
            "trials_retried": sum(1 for t in study.get_trials(deepcopy=False)
                                  if t.state == TrialState.FAIL and not counted(t)
                                  and "surplus" not in t.user_attrs)}
    listing = {"points": [{"params": t.params, "error": t.user_attrs.get("error"), "trial": t.number}
                          for t in trials], "host": host}
    with tempfile.NamedTemporaryFile("w", suffix=".json", prefix="attnsim-search-", delete=False) as f:
        json.dump(listing, f)
    try:
        cmd = [s.attnsim, "sweep", s.space_file, "--out", s.out, "--summarize", f.name] + (["-q"] if s.args.quiet else [])
        r = subprocess.run(cmd, capture_output=True, text=True)
    finally:
        os.unlink(f.name)
    if r.returncode == 2:
        raise SearchError(r.stderr.strip().splitlines()[-1].replace("attnsim sweep: error: ", ""))
    if not s.args.quiet:
        sys.stderr.write(r.stderr.replace("attnsim sweep: ", f"{PROG}: "))
        sys.stdout.write(r.stdout)

    studies = {study.user_attrs["sampler"]: trials}
    names = {st.study_name for st in storage.get_all_studies()}
    if RANDOM_STUDY in names and study.user_attrs["sampler"] != "random":
        studies["random"] = points_of(open_study(s, storage, RANDOM_STUDY, create=False))
    vectors = {k: objective_vectors(s, v) for k, v in studies.items()}
    feasible = [v for vs in vectors.values() for v in vs if v is not None]
    if not feasible:
        print(f"{PROG}: warning: no trial has a feasible point: no front, no hypervolume", file=sys.stderr)
        return 1
    norm = hypervolume.Normaliser(feasible)
    curves = {k: hypervolume.progress(v, norm) for k, v in vectors.items()}
    n = max(len(c) for c in curves.values())
    rows = ["trial," + ",".join(f"hypervolume_{k}" for k in curves)]
    for i in range(n):
        rows.append(f"{i + 1}," + ",".join(f"{c[i]:.6g}" if i < len(c) else "" for c in curves.values()))
    tmp = os.path.join(s.out, f"search_progress.csv.tmp{os.getpid()}")
    with open(tmp, "w") as f:
        f.write("\n".join(rows) + "\n")
    os.replace(tmp, os.path.join(s.out, "search_progress.csv"))
    import plot_progress  # matplotlib only when a plot is made
    plot_progress.plot(curves, [o["metric"] + (" (max)" if d == "maximize" else "")
                                for o, d in zip(s.objectives, s.directions)],
                       os.path.join(s.out, "search_hypervolume.png"))
    if not s.args.quiet:
        final = ", ".join(f"{k} {c[-1]:.4g}" for k, c in curves.items())
        print(f"search: {len(trials)} trials ({study.user_attrs['sampler']}, seed {s.seed}); "
              f"hypervolume of the front ({norm.describe()}): {final}; "
              f"summary: {s.out}/summary.csv, plot: {s.out}/search_hypervolume.png")
    return 0


# ---------------------------------------------------------------------------

def grid_spec(s, path):
    """The sweep spec that enumerates the space (for an exhaustive check)."""
    grid = {}
    for name, r in s.params:
        if "choices" in r:
            grid[name] = r["choices"]
        elif "int" in r:
            grid[name] = list(range(r["int"][0], r["int"][1] + 1, r.get("step", 1)))
        else:
            raise SearchError(f"{s.space_file}: space[\"{name}\"].float: a float range has no grid")
    base = os.path.dirname(os.path.abspath(s.space_file))
    spec = {k: v for k, v in s.spec.items() if k in ("name", "description", "set", "run_options", "timeout_s",
                                                    "objectives")}
    spec["arch"] = os.path.normpath(os.path.join(base, s.spec["arch"]))
    w = s.spec.get("workload") or s.spec["workloads"][0]
    spec["workload"] = os.path.normpath(os.path.join(base, w))
    spec["axes"] = [{"grid": grid}]
    write_json_atomic(path, spec)
    size = 1
    for v in grid.values():
        size *= len(v)
    print(f"{path}: {size} points")


class ArgParser(argparse.ArgumentParser):
    def error(self, message):
        raise SearchError(f"command line: {message} (see --help)")


def parse_args(argv):
    p = ArgParser(prog=PROG, description=__doc__.split("\n\n")[0],
                  formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("space", help="the search space JSON (docs/search.md)")
    p.add_argument("-o", "--out", help="output folder: points/, summary.csv/json, study.db, plots (required)")
    p.add_argument("--storage", help="Optuna storage URL (default sqlite:///OUT/study.db; e.g. "
                                     "postgresql://user:pw@host/db for many workers)")
    p.add_argument("--workers", type=int, default=1, help="local worker processes sharing the study (default 1)")
    p.add_argument("--trials", type=int, help="the study's budget of points, over all workers "
                                              "(default: the space's \"trials\"; raising it extends a search)")
    p.add_argument("--sampler", choices=["nsga2", "tpe", "random"], help="overrides the space's \"sampler\"")
    p.add_argument("--seed", type=int, help="overrides the space's \"seed\"")
    p.add_argument("--compare-random", action="store_true",
                   help="also run random sampling on the same budget (a second study) for the progress plot")
    p.add_argument("--timeout", type=float, help="per-point time limit in seconds (overrides the space's timeout_s)")
    p.add_argument("--no-reuse", action="store_true", help="no functional cache between points")
    p.add_argument("--heartbeat", type=int, default=30,
                   help="seconds between a running trial's heartbeats; a trial silent for 4x this long "
                        "(its worker was killed) is retried (default 30)")
    p.add_argument("--attnsim", help="the attnsim binary (default: $ATTNSIM, else build/attnsim)")
    p.add_argument("--only", choices=["init", "work", "finish"],
                   help="one phase: create/check the study, run trials as one worker, or write the results "
                        "(scripts/slurm_search.sh)")
    p.add_argument("--study", default=MAIN_STUDY, help=argparse.SUPPRESS)  # --only work: which study
    p.add_argument("--grid-spec", metavar="FILE", help="write the sweep spec enumerating the space and exit")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no tables")
    a = p.parse_args(argv)
    if not a.out and not a.grid_spec:
        raise SearchError("command line: --out: expected an output folder")
    if a.workers < 1:
        raise SearchError("command line: --workers: expected at least 1")
    if a.trials is not None and a.trials < 1:
        raise SearchError("command line: --trials: expected at least 1")
    if a.heartbeat < 1:
        raise SearchError("command line: --heartbeat: expected at least 1 second")
    if a.timeout is not None and not a.timeout > 0:
        raise SearchError("command line: --timeout: expected a positive number of seconds")
    return a


def main(argv):
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # failed points are ours to report, without tracebacks
    args = parse_args(argv)
    s = Search(args)
    if args.grid_spec:
        grid_spec(s, args.grid_spec)
        return 0
    created = s.claim_out()
    try:
        storage = open_storage(s)
        studies = [MAIN_STUDY] + ([RANDOM_STUDY] if args.compare_random and s.sampler != "random" else [])
        if args.only in (None, "init"):
            for name in studies:
                open_study(s, storage, name, create=True)
            s.write_marker()
    except BaseException:
        if created:  # leave nothing behind for a search that never started
            import shutil
            shutil.rmtree(s.out, ignore_errors=True)
        raise
    if args.only == "init":
        return 0
    if args.only == "work":
        run_worker(s, storage, args.study)
        return 0
    if args.only is None:
        for name in studies:
            bar = ProgressBar("search" if name == MAIN_STUDY else "random baseline", args.quiet)
            try:
                if args.workers == 1:
                    run_worker(s, storage, name, bar)
                else:
                    run_local_workers(s, storage, name, bar)
            finally:
                bar.finish()
    return finish(s, storage)


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except SearchError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; run the same command again to resume", file=sys.stderr)
        sys.exit(130)
    except Exception as e:  # never a traceback: say what broke, in one line
        print(f"{PROG}: internal error: {type(e).__name__}: {one_line(e)}", file=sys.stderr)
        sys.exit(3)
