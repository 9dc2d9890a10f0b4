#!/usr/bin/env python3
"""Reference facts for SpAtten's top-k engine (quick-select), our own model.

Written from a reading of the public SpAtten code (mit-han-lab/spatten, commit
below); no code of theirs is copied here. What it models:

* The latency rule of spatten_hardware/hardware/src/main/scala/spatten/sim/
  TopKLatencyModel.scala (the one the authors' RTL simulation feeds to its
  dummy top-k unit): a round over m candidates costs ceil(m / P) + 3 cycles;
  a round splits the candidates into those better than the pivot, those equal
  to it and those worse; the search stops in the round whose pivot has the
  wanted rank; the cycle count is the sum over the rounds (no fill and no
  output pass in that model).
* Pivot rules:
    uniform           - TopKLatencyModel: a uniformly random candidate.
    hash_as_coded     - QuickSelect.RandomPivot as the SpinalHDL is written:
                        the hash's input is a Counter that is never
                        incremented, so the hash output is always 0, every
                        row's lane 0 overwrites the pivot register, and the
                        pivot is lane 0 of the last P-wide candidate row.
    hash_row_counter  - our reading of RandomPivot's intent: the hash input is
                        the row counter r; the pivot register takes lane 0 of
                        row r when (H(r) & smear(r)) == 0, where smear(r) sets
                        every bit at or below r's highest set bit and H is the
                        GF(2) matrix HashRandomMatrix(seed 0) builds from
                        scala.util.Random(0).nextBoolean (width
                        bitlen(capacity / P)); the last such row wins.
    middle            - attnsim's rule: the middle candidate (m // 2).
* Rank convention: SpAtten's QuickSelect/TopKLatencyModel "target" is the
  0-based rank of the value sought; the TopK unit then keeps every element
  strictly better than that value plus the lowest-index ties so that exactly
  `target` elements come out. We run with target = k ("spatten": the value of
  0-based rank k, i.e. the best one not kept) and, for comparison with
  attnsim's topk_quickselect, target = k - 1 ("attnsim": the k-th largest).
  Both give the same selected set: all values above the k-th largest value
  plus its lowest-index ties, k indices in ascending order.

Writes tests/reference/facts/spatten_topk.json.
Run: /usr/bin/python3 tests/reference/spatten/topk_reference.py
"""
import argparse
import json
import math
import os
import sys

import numpy as np

REPO = "mit-han-lab/spatten"
COMMIT = "a0f1388630590668e09456c4680211c513592e3f"
COMMIT_DATE = "2024-07-11"
HW = "spatten_hardware/hardware/src/main/scala/spatten/"

MASK48 = (1 << 48) - 1


class JavaRandom:
    """java.util.Random's 48-bit LCG (scala.util.Random wraps it)."""

    def __init__(self, seed):
        self.seed = (seed ^ 0x5DEECE66D) & MASK48

    def _next(self, bits):
        self.seed = (self.seed * 0x5DEECE66D + 0xB) & MASK48
        r = self.seed >> (48 - bits)
        if bits == 32 and r >= 1 << 31:
            r -= 1 << 32
        return r

    def next_boolean(self):
        return self._next(1) != 0

    def next_int(self, bound=None):
        if bound is None:
            return self._next(32)
        r = self._next(31)
        m = bound - 1
        if bound & m == 0:
            return (bound * r) >> 31
        u = r
        while True:
            r = u % bound
            t = (u - r + m) & 0xFFFFFFFF  # int32 overflow test of the JDK loop
            if t < 1 << 31:
                return r
            u = self._next(31)


def hash_matrix(seed, width_in, width_out):
    """HashRandomMatrix's GF(2) matrix: row i = output bit i, column j = input bit j."""
    rng = JavaRandom(seed)
    return [[rng.next_boolean() for _ in range(width_in)] for _ in range(width_out)]


def hash_apply(matrix, x):
    out = 0
    for i, row in enumerate(matrix):
        bit = 0
        for j, on in enumerate(row):
            if on:
                bit ^= (x >> j) & 1
        out |= bit << i
    return out


def smear(r):
    return (1 << r.bit_length()) - 1


class PivotRules:
    def __init__(self, P, capacity, seed=0):
        self.P = P
        rows = capacity // P
        self.width = rows.bit_length()  # SpinalHDL log2Up(rows + 1)
        self.matrix = hash_matrix(seed, self.width, self.width)
        self.replace = [hash_apply(self.matrix, r) & smear(r) == 0 for r in range(rows + 1)]
        # Row whose lane 0 ends up in the pivot register, for a list of `nrows` rows.
        self.last_row = []
        best = 0
        for r in range(rows + 1):
            if self.replace[r]:
                best = r
            self.last_row.append(best)

    def index(self, rule, m, rng):
        P = self.P
        nrows = -(-m // P)
        if rule == "uniform":
            return int(rng.integers(m))
        if rule == "hash_as_coded":
            return (nrows - 1) * P
        if rule == "hash_row_counter":
            if nrows - 1 >= len(self.last_row):
                raise ValueError("more rows than the hash's capacity")
            return self.last_row[nrows - 1] * P
        if rule == "middle":
            return m // 2
        raise ValueError(rule)


def quickselect(values, k, P, rule, rules, rng, target_mode="spatten"):
    """One selection. values: 1-D array; higher is better. Returns a dict."""
    n = len(values)
    assert 0 < k < n
    target = k if target_mode == "spatten" else k - 1  # 0-based rank, best first
    cand = np.arange(n)
    rounds = cycles = 0
    sizes = []
    kth = None
    while cand.size:
        m = cand.size
        rounds += 1
        cycles += -(-m // P) + 3
        sizes.append(int(m))
        pv = values[cand[rules.index(rule, m, rng)]]
        cv = values[cand]
        better = cand[cv > pv]
        equal = int(np.count_nonzero(cv == pv))
        if better.size <= target:
            if better.size + equal > target:
                kth = pv
                break
            target -= better.size + equal
            cand = cand[cv < pv]
        else:
            cand = better
    assert kth is not None
    greater = np.flatnonzero(values > kth)
    ties = np.flatnonzero(values == kth)
    need = k - greater.size
    chosen = np.sort(np.concatenate([greater, ties[:need]]))
    assert chosen.size == k
    return {"indices": chosen, "rounds": rounds, "cycles": cycles, "round_sizes": sizes, "kth": kth}


def reference_set(values, k):
    order = np.lexsort((np.arange(len(values)), -values))  # best first, ties by index
    return np.sort(order[:k])


def topk_latency_model_main():
    """The printout of TopKLatencyModel.main, re-derived with a java.util.Random port
    (seed 1, one generator shared by every call, 100 trials a pair, P = 16)."""
    pairs = [(1024, 512), (64, 32), (64, 32), (64, 16), (128, 64), (128, 128), (128, 64), (128, 64),
             (256, 32), (256, 32), (256, 16), (512, 64), (512, 64), (512, 128), (512, 64), (1024, 128),
             (1024, 64), (1024, 32), (1024, 32), (1024, 32), (1024, 16), (2048, 64), (2048, 128),
             (2048, 64), (2048, 32), (4096, 32), (4096, 32), (4096, 16)]
    rng = JavaRandom(1)

    def one(size, target, par):
        seq = [rng.next_int() for _ in range(size)]
        cyc, cur = 0, target
        while seq:
            cyc += -(-len(seq) // par) + 3
            p = seq[rng.next_int(len(seq))]
            left = [v for v in seq if v < p]
            eq = sum(1 for v in seq if v == p)
            if len(left) <= cur:
                if len(left) + eq > cur:
                    break
                cur -= len(left) + eq
                seq = [v for v in seq if v > p]
            else:
                seq = left
        return cyc

    out = []
    for size, target in pairs:
        lat = [one(size, target, 16) for _ in range(100)]
        avg = sum(lat) / len(lat)
        std = math.sqrt(sum((x - avg) ** 2 for x in lat) / len(lat))
        out.append({"size": size, "target": target, "avg_cycles": avg, "std_cycles": std})
    return out


def stats(results):
    r = np.array([x["rounds"] for x in results])
    c = np.array([x["cycles"] for x in results])
    return {"mean_rounds": float(r.mean()), "max_rounds": int(r.max()), "mean_cycles": float(c.mean()),
            "std_cycles": float(c.std()), "min_cycles": int(c.min()), "max_cycles": int(c.max())}


def make_vector(dist, n, rng):
    u = rng.random(n)
    if dist == "uniform_float":
        return u
    if dist == "fixed12":  # 12-bit codes: ties occur, as in the 12-bit hardware
        return np.floor(u * 4096.0)
    raise ValueError(dist)


def organ_pipe(n):
    i = np.arange(n)
    return np.minimum(i, n - 1 - i).astype(float)  # 0, 1, ..., n/2-1, n/2-1, ..., 0: every value twice


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "facts",
                                                  "spatten_topk.json"))
    ap.add_argument("--trials", type=int, default=200)
    ap.add_argument("--parallelism", type=int, default=16)
    ap.add_argument("--capacity", type=int, default=2048)
    ap.add_argument("--skip-model-main", action="store_true")
    a = ap.parse_args()
    P = a.parallelism
    rules = PivotRules(P, a.capacity, seed=0)
    rule_names = ["uniform", "hash_as_coded", "hash_row_counter", "middle"]

    cases = []
    for dist_id, dist in enumerate(["uniform_float", "fixed12"]):
        for n in [64, 128, 256, 512, 1024]:
            for k in [n // 2, n // 4]:
                vec_rng = np.random.default_rng([n, k, dist_id, 1])
                vectors = [make_vector(dist, n, vec_rng) for _ in range(a.trials)]
                case = {"n": n, "k": k, "distribution": dist, "vectors": a.trials,
                        "vector_seed": [n, k, dist_id, 1], "emit_pass_cycles_attnsim": -(-n // P) + 2, "rules": {}}
                for mode in ["spatten", "attnsim"]:
                    for rule in rule_names:
                        piv_rng = np.random.default_rng([n, k, dist_id, 2])
                        res = []
                        for v in vectors:
                            r = quickselect(v, k, P, rule, rules, piv_rng, mode)
                            assert np.array_equal(r["indices"], reference_set(v, k))
                            res.append(r)
                        case["rules"][f"{rule}/target_{mode}"] = stats(res)
                cases.append(case)
                print(f"{dist:13s} n={n:5d} k={k:4d} " + " ".join(
                    f"{name.split('/')[0][:10]}:{s['mean_cycles']:.1f}" for name, s in case["rules"].items()
                    if name.endswith("spatten")), file=sys.stderr)

    fixed = []
    fv_rng = np.random.default_rng(20211)
    fixed_vectors = [
        ("organ_pipe_1024", organ_pipe(1024), 512, None),
        ("organ_pipe_64", organ_pipe(64), 32, "listed"),
        ("ties_32_levels4", np.floor(fv_rng.random(32) * 4), 10, "listed"),
        ("fixed12_48", np.floor(fv_rng.random(48) * 4096), 12, "listed"),
        ("float_64", np.round(fv_rng.random(64), 6), 16, "listed"),
        ("ascending_100", np.arange(100, dtype=float), 25, None),
        ("constant_40", np.full(40, 7.0), 13, None),
    ]
    for name, v, k, listed in fixed_vectors:
        entry = {"name": name, "n": int(v.size), "k": k}
        if listed:
            entry["values"] = [float(x) for x in v]
        elif name.startswith("organ_pipe"):
            entry["values_formula"] = "v[i] = min(i, n - 1 - i)"
        elif name.startswith("ascending"):
            entry["values_formula"] = "v[i] = i"
        else:
            entry["values_formula"] = "every value 7"
        sel = None
        entry["rules"] = {}
        for mode in ["spatten", "attnsim"]:
            for rule in rule_names:
                r = quickselect(v, k, P, rule, rules, np.random.default_rng(7), mode)
                if sel is None:
                    sel = r["indices"]
                assert np.array_equal(r["indices"], sel)
                entry["rules"][f"{rule}/target_{mode}"] = {
                    "rounds": r["rounds"], "cycles": r["cycles"],
                    "round_sizes": r["round_sizes"] if len(r["round_sizes"]) <= 40 else
                    r["round_sizes"][:20] + ["..."] + r["round_sizes"][-5:],
                    "value_found": float(r["kth"])}
        entry["selected_indices"] = [int(x) for x in sel]
        entry["emit_pass_cycles_attnsim"] = -(-int(v.size) // P) + 2
        fixed.append(entry)

    doc = {
        "provenance": {
            "repo": REPO, "commit": COMMIT, "commit_date": COMMIT_DATE,
            "files_read": [
                HW + "utils/QuickSelect.scala (RandomPivot lines 88-124; rounds: stateRun 214-279, stateAfterRun 281-309)",
                HW + "utils/Hashfunc.scala (HashRandomMatrix, lines 7-38; matrix filled at 15, XOR at 29-30)",
                HW + "sim/TopKLatencyModel.scala (lines 10-39 latency, 41-80 main)",
                HW + "TopK.scala (TopKDummy 37-88, TopK 91-225: emit pass with prefix sum over ties)",
                HW + "utils/PrefixSum.scala (inclusive Hillis-Steele scan)",
                HW + "SpAttenController.scala (top-k instance 509-523, target = val_fetch_num - 1 at 554, skip when val_fetch_num >= key_fetch_num at 591)",
                HW + "sim/TestSpAtten.scala (topk_latency = topKLatency(key_fetch_num, val_fetch_num, P) at 196/200)",
                "spatten_hardware/simulator/src/bert.cpp (simTopK 104-149)",
            ],
            "rule_in_words": {
                "round": "all m current candidates stream past P comparators against one pivot, ceil(m/P) cycles, "
                         "+3 cycles of pipeline/decision per round (TopKLatencyModel.scala:24); candidates split "
                         "into better / equal / worse, order-preserving (zero eliminators)",
                "stop": "target = 0-based rank sought; if #better <= target < #better + #equal the pivot is the value "
                        "(finish); if #better > target recurse into the better set; else target -= #better + #equal "
                        "and recurse into the worse set. Cycles = sum over rounds including the last; the model has "
                        "no fill and no output pass",
                "output": "TopK.scala: every element strictly better than the found value, plus ties kept while "
                          "(inclusive prefix count of ties in the row + ties in earlier rows) <= target - #better; "
                          "exactly `target` elements, in input (index) order",
                "pivot_uniform": "TopKLatencyModel: input(rng.nextInt(input.size)), uniform over the current candidates",
                "pivot_hash_as_coded": "RandomPivot: random = HashRandomMatrix(0)(Counter(w bits), w bits), the Counter "
                                       "is never incremented so random == 0; on each row fed, if (random & smear(count)) "
                                       "== 0 the pivot register takes lane 0; hence lane 0 of the last row. As written only pivot "
                                       "instance 0 is fed, and only while the input fills buffer 0 (QuickSelect.scala:184); "
                                       "we apply the rule to each round's candidate rows, as the two instances (one per "
                                       "buffer, line 139) evidently intend",
                "pivot_hash_row_counter": "our reading of the intent: same replace rule with the row counter hashed "
                                          "(H = GF(2) matrix from scala.util.Random(0).nextBoolean, w x w, "
                                          "w = bitlen(capacity/P)); lane 0 of the last row r with (H(r) & smear(r)) == 0",
                "pivot_middle": "attnsim topk_quickselect: candidate m // 2. Checked: attnsim's topk_quickselect "
                                "(commit f759769) gives cycles = middle/target_attnsim cycles + emit_pass_cycles_attnsim "
                                "and the same rounds on organ_pipe_1024, organ_pipe_64, ascending_100 and constant_40",
                "authors_simulation": "the RTL simulation uses TopKDummy (SpAtten.scala:35 useDummyTopK = true): it "
                                      "holds the first score row until topk_latency = TopKLatencyModel(key_fetch_num, "
                                      "val_fetch_num, P) cycles have passed, then streams one row a cycle, passing the first "
                                      "val_fetch_num scores; the real TopK (TopK.scala) is only generated to Verilog",
            },
            "generated_by": "tests/reference/spatten/topk_reference.py (own implementation; numpy " + np.__version__ + ")",
        },
        "parameters": {
            "P": P, "capacity": a.capacity, "hash_width_bits": rules.width,
            "hash_matrix_rows_output_bits": [[int(b) for b in row] for row in rules.matrix],
            "hash_rows_replacing": [r for r, ok in enumerate(rules.replace) if ok],
            "trials_per_case": a.trials,
            "target_modes": {"spatten": "target = k (0-based rank k: the best value not kept)",
                             "attnsim": "target = k - 1 (the k-th largest value)"},
        },
        "cases": cases,
        "fixed_vectors": fixed,
    }
    if not a.skip_model_main:
        doc["topk_latency_model_main"] = {
            "note": "TopKLatencyModel.main's printout (size,target,avg,std over 100 runs, P = 16, one java.util.Random "
                    "seeded 1 shared by all runs), re-derived here with a port of java.util.Random; population std",
            "rows": topk_latency_model_main(),
        }
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print("wrote", os.path.abspath(a.out), file=sys.stderr)


if __name__ == "__main__":
    main()
