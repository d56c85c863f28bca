"""Falsifier benchmarks (part of ``symlip bench``): how close does the search get?

(d) *Ground truth*: cases whose true constant on the region is known —
    exactly (depth 1: ``sqrt(1+R^2)``, MATH.md §3; ReLU input constant on a
    box: ``∏ω_i``, attained by an aligned positive chain) or by an exhaustive
    dense search over the scalar chain ``[1, 1, 1]`` (grid plus local
    refinement, run once per bench).  For each: the fraction of the true value
    the full falsifier reaches in the budget, beside pure random sampling and
    hypothesis alone with the same budget, and the per-strategy estimates.
(e) *Mutants*: every false claim of ``proofs/mutants`` with seconds to a
    confirmed violation.
"""
from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import minimize

__all__ = ["run_falsify_bench"]


def _tanh_chain_grid(quantity: str, om: tuple[float, float], be: float, R: float, n: int) -> float:
    """sup over the box and |x| <= R of the local quantity of f = w2 tanh(w1 x + b1) + b2.

    lip_f: |∇_θ f|² = (w2 σ' x)² + (w2 σ')² + σ² + 1, increasing in w2², so |w2| = ω2.
    lip_grad: ∇²_θ f is affine in w2 (b2 drops out), λ_max|H| convex in w2, so w2 = ±ω2.
    A grid over (w1, b1, x) then L-BFGS-B from the 20 best grid points.
    """
    w2max = om[1]

    def value(w1: np.ndarray, b1: np.ndarray, x: np.ndarray, w2: float) -> np.ndarray:
        a = w1 * x + b1
        s = np.tanh(a)
        s1 = 1 - s * s
        if quantity == "lip_f":
            return np.sqrt((w2 * s1 * x) ** 2 + (w2 * s1) ** 2 + s * s + 1)
        s2 = -2 * s * s1
        H = np.zeros(a.shape + (3, 3))
        H[..., 0, 0] = w2 * s2 * x * x
        H[..., 0, 1] = H[..., 1, 0] = w2 * s2 * x
        H[..., 1, 1] = w2 * s2
        H[..., 0, 2] = H[..., 2, 0] = s1 * x
        H[..., 1, 2] = H[..., 2, 1] = s1
        ev = np.linalg.eigvalsh(H)
        return np.max(np.abs(ev), axis=-1)

    g1, gb, gx = np.linspace(-om[0], om[0], n), np.linspace(-be, be, n), np.linspace(-R, R, n)
    best: list[tuple[float, tuple]] = []
    signs = (1.0,) if quantity == "lip_f" else (1.0, -1.0)
    for w2 in signs:
        for i in range(n):
            W1, B1, X = np.meshgrid(g1[i:i + 1], gb, gx, indexing="ij")
            v = value(W1, B1, X, w2 * w2max).ravel()
            k = np.argsort(v)[-3:]
            best += [(float(v[j]), (float(W1.ravel()[j]), float(B1.ravel()[j]), float(X.ravel()[j]), w2))
                     for j in k]
    best.sort(key=lambda t: -t[0])
    top = best[0][0]
    bounds = [(-om[0], om[0]), (-be, be), (-R, R)]
    for _, (w1, b1, x, sgn) in best[:20]:
        res = minimize(lambda p: -float(value(np.array(p[0]), np.array(p[1]), np.array(p[2]), sgn * w2max)),
                       [w1, b1, x], method="L-BFGS-B", bounds=bounds)
        top = max(top, -float(res.fun))
    return top


def _ground_truth_cases(quick: bool) -> list[dict[str, Any]]:
    from symlip.bounds.symbolic import derive
    from symlip.search.claims import Case, Claim
    from symlip.models.network import MLP
    from symlip.models.region import Region

    cases = [
        {"name": "lip_f depth 1 [4, 1] tanh, R = 2 (exact sqrt(1+R^2))",
         "case": Case(Claim("U1 (m=1)", "lip_f", derive("lip_f", 1)), MLP([4, 1], "tanh"),
                      Region.box(2.0, 1.0), R=2.0),
         "truth": math.sqrt(5.0), "how": "exact: MATH.md §3, depth 1"},
        {"name": "lip_input [3, 4, 1] relu box ω = (1.5, 2) (exact ω1 ω2)",
         "case": Case(Claim("U4 (m=2)", "lip_input", derive("lip_input", 2)), MLP([3, 4, 1], "relu"),
                      Region.box((1.5, 2.0), 0.5), R=1.0),
         "truth": 3.0, "how": "exact: aligned positive rank-one chain attains S1 ∏ ω_i"},
    ]
    if quick:
        return cases[:1]
    om, be, R = (2.0, 1.5), 1.0, 1.5
    for q, label in (("lip_f", "U1 (m=2)"), ("lip_grad", "U2 (m=2)")):
        t0 = time.perf_counter()
        truth = _tanh_chain_grid(q, om, be, R, n=160 if q == "lip_f" else 120)
        cases.append({
            "name": f"{q} chain [1, 1, 1] tanh box ω = {om}, β = {be}, R = {R} (dense search)",
            "case": Case(Claim(label, q, derive(q, 2)), MLP([1, 1, 1], "tanh"), Region.box(om, be), R=R),
            "truth": truth, "how": f"exhaustive grid + L-BFGS-B refinement ({time.perf_counter() - t0:.1f} s)"})
    return cases


def run_falsify_bench(quick: bool = False, budget: float | None = None,
                      mutants: str | Path = "proofs/mutants") -> dict[str, Any]:
    """Ground-truth fractions per strategy and baseline, and seconds per mutant."""
    from symlip.search.falsify import falsify

    budget = (1.0 if quick else 10.0) if budget is None else budget
    rows = []
    for gt in _ground_truth_cases(quick):
        case, truth = gt["case"], gt["truth"]
        row: dict[str, Any] = {"name": gt["name"], "truth": truth, "truth_how": gt["how"], "budget_s": budget}
        for label, strategies in (("falsifier", None), ("random_only", ["random"]),
                                  ("hypothesis_only", ["hypothesis"])):
            v = falsify(case, budget=budget, seed=0, strategies=strategies)
            row[label] = {"fraction": v.best_value / truth, "status": v.status, "seconds": v.seconds,
                          "evaluations": v.evaluations}
            if strategies is None:
                row["per_strategy_fraction"] = {k: s["best_ratio"] * v.bound / truth
                                                for k, s in v.strategies.items()}
        rows.append(row)
    out: dict[str, Any] = {"ground_truth": rows,
                           "min_fraction": min(r["falsifier"]["fraction"] for r in rows)}
    path = Path(mutants)
    if quick or not path.is_dir():
        out["mutants"] = None
        return out
    from symlip.search.catalogue import load_cases
    from symlip.verify import check_case

    mrows = []
    for lc in load_cases([path]):
        v = check_case(lc, budget=3.0, seed=0)
        mrows.append({"claim": lc.case.claim.name, "source": f"{lc.source}::{lc.index}", "status": v.status,
                      "ratio": v.best_ratio if math.isfinite(v.best_ratio) else 1e308,
                      "seconds": v.seconds, "confirmed_digits": v.confirmed_digits})
    out["mutants"] = mrows
    # caught: an upper-bound mutant violated, a lower-bound mutant refuted (MATH.md §4)
    out["mutants_violated_fraction"] = (sum(r["status"] in ("violated", "refuted") for r in mrows)
                                        / max(len(mrows), 1))
    out["mutant_max_seconds"] = max((r["seconds"] for r in mrows), default=None)
    return out
