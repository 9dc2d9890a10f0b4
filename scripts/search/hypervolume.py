"""Pareto fronts and their hypervolume, for attnsim search's progress plot and
its benchmark (docs/search.md). Objectives are minimised here: callers negate
the ones to maximise."""
import math

import numpy as np
from optuna._hypervolume import compute_hypervolume  # no public name in optuna 5.1.0


def pareto_front(points):
    """The points no other point dominates (no worse everywhere, better once);
    duplicates are kept once."""
    front = []
    for p in sorted(set(map(tuple, points))):
        if not any(all(q[i] <= p[i] for i in range(len(p))) and q != p for q in front):
            front = [q for q in front if not all(p[i] <= q[i] for i in range(len(p)))] + [p]
    return front


def hypervolume(points, reference):
    """The volume dominated by `points` and bounded by `reference` (points not
    strictly better than the reference in every objective add nothing):
    Optuna's exact algorithm, the one its samplers use (optuna 5.1.0 is pinned)."""
    pts = [tuple(p) for p in points if all(x < r for x, r in zip(p, reference))]
    if not pts:
        return 0.0
    return float(compute_hypervolume(np.array(pareto_front(pts), dtype=float), np.array(reference, dtype=float),
                                     assume_pareto=True))


class Normaliser:
    """Maps objective vectors (minimised) onto [0, 1] by the ranges of a set of
    points, so objectives of different units weigh alike; the reference point
    is 1.1 in every objective, just beyond the worst value, so that the front's
    extreme points count too. With log_scale, an objective whose values all
    have one sign is compared by its logarithm (a factor of 2 counts alike at
    any size: latency, energy and errors span orders of magnitude); the others
    stay linear. Both are monotonic, so the front is the same."""

    REFERENCE = 1.1

    def __init__(self, points, log_scale=True):
        cols = list(zip(*points))
        self.transforms = [self._transform(c) if log_scale else None for c in cols]
        cols = [[self._apply(t, x) for x in c] for t, c in zip(self.transforms, cols)]
        self.lo = [min(c) for c in cols]
        self.hi = [max(c) for c in cols]

    @staticmethod
    def _transform(values):
        if all(x > 0 for x in values):
            return "log"
        if all(x < 0 for x in values):
            return "-log-"  # a maximised objective, negated: -log(-x) keeps the order
        return None

    @staticmethod
    def _apply(t, x):
        if t == "log":
            return math.log(x)
        if t == "-log-":
            return -math.log(-x)
        return x

    def __call__(self, p):
        return tuple((self._apply(t, x) - lo) / (hi - lo) if hi > lo else 0.0
                     for t, x, lo, hi in zip(self.transforms, p, self.lo, self.hi))

    def reference(self):
        return tuple(self.REFERENCE for _ in self.lo)

    def describe(self):
        return ("objectives min-max normalised" + (" (logarithms of those of one sign)" if any(self.transforms)
                                                   else "") + " over the feasible points, reference point 1.1")


def progress(vectors, normalise):
    """Hypervolume of the front after each of `vectors` (None: a trial with no
    feasible point); the front is kept incrementally."""
    front, out, volume = [], [], 0.0
    ref = normalise.reference()
    for v in vectors:
        if v is not None:
            p = normalise(v)
            if not any(all(q[i] <= p[i] for i in range(len(p))) for q in front):
                front = pareto_front(front + [p])
                volume = hypervolume(front, ref)
        out.append(volume)
    return out
