"""The search section of ``symlip bench``: the hard ground-truth suite and the mutants.

(d) *Ground truth* (:mod:`symlip.report.bench_suite`): for each case, the
    fraction of the true constant symlip reaches at budgets 1 s and 10 s (60 s
    when 10 s is not enough; quick mode: 1 s), the time to 99 % (the first
    budget of the ladder 0.25, 0.5, 1, 2, 5, 10, 60 s whose run reaches it) and,
    from one anytime run each on the same machine in the same process, the
    baselines of :mod:`symlip.report.bench_baselines` (plain uniform random
    sampling, hypothesis alone, scipy differential evolution alone, a
    CLEVER-style estimate for input constants).
(e) *Mutants* (``proofs/mutants``), split three ways: upper-bound mutants the
    search must catch (seconds and evaluations to the first confirmed violation:
    one run at ``stop="first"`` with a 10 s budget, :func:`first_violation`), lower-bound mutants that are *refuted*
    without search (docs/theory.md §4.2) and statistical SGD-moment mutants
    (docs/theory.md §7.8).  The large mutants (``large_mutants.py``, >= 1,000
    parameters) are also attacked by the ``random`` strategy alone at the
    bench budget, which must miss them.
"""
from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, Callable

__all__ = ["run_falsify_bench", "run_mutants", "first_violation", "LADDER", "LEVEL", "MUTANT_BUDGET"]

#: budgets (s) tried in order for the time to 99 %
LADDER = (0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 60.0)
#: the fraction of the truth that counts as reached
LEVEL = 0.99


def _symlip_value(sc: Any, budget: float, seed: int = 0) -> tuple[float, float, str]:
    """(value, seconds, strategy) of symlip's search on a suite case with a time budget."""
    if sc.kind == "input":
        from symlip.search.audit import input_lipschitz_lower_bound

        r = input_lipschitz_lower_bound(sc.net, sc.theta, R=sc.R, budget=budget, seed=seed, use_exact=False)
        return float(r.value), float(r.seconds), r.strategy
    from symlip.search.falsify import falsify

    v = falsify(sc.case, budget=budget, seed=seed)
    return float(v.best_value), float(v.seconds), v.strategy


def _symlip_ladder(sc: Any, horizons: tuple[float, ...]) -> dict[str, Any]:
    """Runs at the ladder's budgets up to the last horizon (60 s only when the 10 s run
    missed 99 %); the time to 99 % is the wall time of the first run that reached it."""
    runs: list[dict[str, Any]] = []
    reached_at = None
    top = max(horizons)
    for b in LADDER:
        if b > top and b != 60.0:
            continue
        if b == 60.0 and (top < 10.0 or any(r["budget_s"] == 10.0 and r["value"] >= LEVEL * sc.truth
                                            for r in runs)):
            continue
        value, secs, strategy = _symlip_value(sc, b)
        runs.append({"budget_s": b, "value": value, "seconds": secs, "strategy": strategy})
        if reached_at is None and value >= LEVEL * sc.truth:
            reached_at = secs
        if b >= top and b != 60.0 and reached_at is not None:
            break
    return {"runs": runs, "time_to_99_s": reached_at}


def _at(runs: list[dict], budget: float) -> float | None:
    return next((r["value"] for r in runs if r["budget_s"] == budget), None)


def run_suite(quick: bool, baselines: tuple[str, ...] | None = None) -> dict[str, Any]:
    """The ground-truth suite: one row per case (see the module docstring)."""
    from symlip.report.bench_baselines import BASELINES, run_baseline, time_to
    from symlip.report.bench_suite import suite_cases

    horizons = (1.0,) if quick else (1.0, 10.0)
    names = BASELINES if baselines is None else baselines
    rows = []
    for sc in suite_cases(quick):
        t0 = time.perf_counter()
        sym = _symlip_ladder(sc, horizons)
        base = {}
        for name in names:
            if name == "clever" and sc.kind != "input" and sc.case.claim.quantity != "lip_input":
                continue
            base[name] = run_baseline(name, sc, horizons)
        seen = [r["value"] for r in sym["runs"]] + [v for b in base.values() for _, v in b["trace"]]
        truth = sc.truth if sc.ground_truth else max([sc.truth] + seen)
        row: dict[str, Any] = {
            "name": sc.name, "kind": sc.kind, "n_params": sc.n_params, "truth": truth,
            "truth_how": sc.truth_how, "ground_truth": sc.ground_truth, "hard": sc.hard,
            "symlip": {"runs": sym["runs"], "time_to_99_s": sym["time_to_99_s"],
                       "fraction": {f"{int(h)}s": (None if _at(sym["runs"], h) is None
                                                   else _at(sym["runs"], h) / truth) for h in (1.0, 10.0, 60.0)}},
            "baselines": {},
        }
        for name, b in base.items():
            entry: dict[str, Any] = {"fraction": {f"{int(h)}s": b["at"][h] / truth if h in b["at"] else None
                                                  for h in (1.0, 10.0, 60.0)},
                                     "time_to_99_s": time_to(b["trace"], LEVEL * truth),
                                     "improvements": len(b["trace"])}
            if name == "clever":
                entry["note"] = "extreme-value estimate, not a bound (may exceed 1)"
                entry["batches"] = b["batches"]
            row["baselines"][name] = entry
        row["seconds"] = time.perf_counter() - t0
        rows.append(row)
    h = f"{int(max(horizons))}s"
    gt = [r for r in rows if r["ground_truth"]]
    hard = [r for r in rows if r["hard"]]
    out: dict[str, Any] = {"horizons_s": list(horizons), "level": LEVEL, "cases": rows, "horizon": h}
    out["min_fraction"] = min((r["symlip"]["fraction"][h] for r in gt), default=None)
    out["random_max_fraction_hard"] = max((r["baselines"]["random"]["fraction"][h] for r in hard
                                           if "random" in r["baselines"]), default=None)
    out["symlip_below_99"] = [r["name"] for r in gt if r["symlip"]["fraction"][h] < LEVEL]
    out["random_not_below_80"] = [r["name"] for r in rows if "random" in r["baselines"]
                                  and r["baselines"]["random"]["fraction"][h] >= 0.8]
    return out


# ---------------------------------------------------------------------------
# mutants
# ---------------------------------------------------------------------------
#: seconds of the search per search mutant; it stops at the first confirmed violation
MUTANT_BUDGET = 10.0


def first_violation(run: Callable[[], Any]) -> dict[str, Any]:
    """One run at ``stop="first"`` (``run()`` returns its verdict), timed.

    Returns the status, ``seconds`` (wall time of the whole run: setup, search to the
    violation and its mpmath confirmation, the verdict; None when it did not
    violate), ``search_seconds`` and ``evals`` (from the verdict: the search until
    the violation was confirmed), the run's wall time ``run_s``, the ratio and the
    confirmed digits.
    """
    t = time.perf_counter()
    v = run()
    dt = time.perf_counter() - t
    hit = v.status == "violated"
    return {"status": v.status, "seconds": dt if hit else None, "run_s": dt,
            "search_seconds": v.seconds_to_violation if hit else None,
            "evals": v.evals_to_violation if hit else None, "evaluations": v.evaluations,
            "ratio": v.best_ratio if math.isfinite(v.best_ratio) else None,   # inf: bound <= 0
            "confirmed_digits": v.confirmed_digits}


def run_mutants(path: str | Path = "proofs/mutants", *, only: tuple[str, ...] | None = None,
                budget: float = MUTANT_BUDGET, random_budget: float = 10.0,
                max_params: int | None = None) -> dict[str, Any]:
    """Every mutant of ``path`` (or only the files named in ``only``, and only networks of at
    most ``max_params`` parameters), split three ways; a search mutant is checked once at
    ``stop="first"`` with ``budget`` seconds (:func:`first_violation`)."""
    from symlip.search.catalogue import load_cases
    from symlip.search.claims import SelfCheckingCase
    from symlip.search.falsify import falsify, warm_imports
    from symlip.verify import check_case

    warm_imports()  # the first search of a process must not pay the imports
    files = sorted(p for p in Path(path).glob("*.py") if not p.name.startswith("_")
                   and (only is None or p.name in only))
    rows = []
    for lc in load_cases(files):
        case = lc.case
        if max_params is not None and hasattr(case, "net") and case.net.n_params > max_params:
            continue
        name = case.claim.name if hasattr(case, "claim") else type(case).__name__
        src = f"{Path(lc.source).name}::{lc.index}"
        row: dict[str, Any] = {"claim": name, "source": src}
        if isinstance(case, SelfCheckingCase):
            t = time.perf_counter()
            v = check_case(lc, budget=1.0, seed=0)
            row.update(group="statistical", status=v.status, seconds=time.perf_counter() - t)
        elif case.claim.direction == "lower":
            t = time.perf_counter()
            v = check_case(lc, budget=1.0, seed=0)
            row.update(group="refuted", status=v.status, seconds=time.perf_counter() - t)
        else:
            row["group"] = "search"
            row["n_params"] = int(case.net.n_params)
            row["budget_s"] = budget
            row.update(first_violation(lambda lc=lc: check_case(lc, budget=budget, seed=0, stop="first")))
            if Path(lc.source).name == "large_mutants.py":
                v = falsify(case, budget=random_budget, seed=0, strategies=["random"])
                row["random_only"] = {"status": v.status, "budget_s": random_budget,
                                      "ratio": v.best_ratio if math.isfinite(v.best_ratio) else None}
        rows.append(row)
    search = [r for r in rows if r["group"] == "search"]
    large = [r for r in search if "random_only" in r]
    refuted = [r for r in rows if r["group"] == "refuted"]
    stat = [r for r in rows if r["group"] == "statistical"]
    times = [r["seconds"] for r in search if r["seconds"] is not None]
    return {
        "mutants": rows,
        "counts": {"search": len(search), "search_caught": sum(r["status"] == "violated" for r in search),
                   "refuted_expected": len(refuted), "refuted": sum(r["status"] == "refuted" for r in refuted),
                   "statistical": len(stat), "statistical_violated": sum(r["status"] == "violated" for r in stat),
                   "large": len(large), "large_missed_by_random": sum(r["random_only"]["status"] != "violated"
                                                                      for r in large)},
        "search_caught_fraction": (sum(r["status"] == "violated" for r in search) / len(search)) if search else None,
        "max_seconds_to_violation": (max(times) if len(times) == len(search) and times else
                                     (math.inf if search else None)),
        "refuted_fraction": sum(r["status"] == "refuted" for r in refuted) / len(refuted) if refuted else None,
        "statistical_violated_fraction": (sum(r["status"] == "violated" for r in stat) / len(stat)) if stat else None,
        "large_random_missed_fraction": (sum(r["random_only"]["status"] != "violated" for r in large) / len(large)
                                         if large else None),
        "budget_s": budget, "stop": "first",
    }


def run_falsify_bench(quick: bool = False, mutants: str | Path = "proofs/mutants") -> dict[str, Any]:
    """The search section: the suite, and the mutants (quick mode: the large mutants below 5,000
    parameters only, random alone at 1 s)."""
    out: dict[str, Any] = {"suite": run_suite(quick)}
    path = Path(mutants)
    if not path.is_dir():
        out["mutants"] = None
        return out
    if quick:
        out["mutants"] = run_mutants(path, only=("large_mutants.py",), random_budget=1.0, max_params=5000)
    else:
        out["mutants"] = run_mutants(path)
    return out
