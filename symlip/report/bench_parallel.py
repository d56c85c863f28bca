"""The parallel section of ``symlip bench``: the main job with worker processes against one process.

(g) ``symlip check proofs/`` (quick mode: the first 8 cases of ``proofs/u1_network.py``) run through
    :func:`symlip.batch.check_cases` with ``jobs=2`` and with ``jobs=1``, one after
    the other in the same process, at the check command's default budget (quick
    mode: 0.25 s per case, where the workers' start-up weighs more).  The figure is the wall-time ratio ``t(jobs=2) /
    t(jobs=1)`` (target: <= 0.6 on two cores); the statuses of the two runs are
    compared case by case (they agree exactly under ``--max-evals``; under a time
    budget a case near its budget's edge may differ, and the count says so).
    On a machine with fewer than two cores the ratio is unmeasured.
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

__all__ = ["run_parallel_bench", "CHECK_BUDGET"]

#: the ``symlip check`` default budget per case (s), which the main job uses
CHECK_BUDGET = 3.0


def run_parallel_bench(path: str | os.PathLike = "proofs", *, quick: bool = False,
                       budget: float | None = None, jobs: int = 2) -> dict[str, Any]:
    """Wall time of checking the catalogue ``path`` with ``jobs`` workers and with one.

    Parameters
    ----------
    path : path
        The catalogue (a folder of claim files); quick mode uses its ``u1_network.py``.
    quick : bool
        Eight cases of one file at 0.25 s per case.
    budget : float, optional
        Seconds per case (default: :data:`CHECK_BUDGET`, or 0.25 in quick mode).
    jobs : int
        Worker processes of the parallel run.

    Returns
    -------
    dict
        ``cases``, ``budget_s``, ``jobs``, ``cpu_count``, ``seconds_jobs_1``,
        ``seconds_jobs_N``, ``ratio`` (None when unmeasured, with ``reason``),
        ``same_status`` (cases whose status agrees) and ``statuses`` (counts per run).
    """
    from symlip.batch import check_cases
    from symlip.search.catalogue import load_cases

    root = Path(path)
    target = root / "u1_network.py" if quick else root
    budget = (0.25 if quick else CHECK_BUDGET) if budget is None else budget
    out: dict[str, Any] = {"catalogue": str(target), "budget_s": budget, "jobs": jobs, "cpu_count": os.cpu_count(),
                           "ratio": None}
    if not target.exists():
        out["reason"] = f"{target} not found (run the bench from the project root)"
        return out
    if (os.cpu_count() or 1) < jobs:
        out["reason"] = f"this machine has {os.cpu_count()} core(s), fewer than jobs={jobs}"
        return out
    loaded = load_cases([target])[:8] if quick else load_cases([target])
    out["cases"] = len(loaded)

    def run(n: int) -> tuple[float, list[str]]:
        t = time.perf_counter()
        res = check_cases(loaded, budget=budget, seed=0, jobs=n)
        return time.perf_counter() - t, [getattr(o, "status", "error") for _, o in res]

    tn, sn = run(jobs)
    t1, s1 = run(1)
    out.update(seconds_jobs_1=t1, seconds_jobs_N=tn, ratio=tn / t1,
               same_status=sum(a == b for a, b in zip(s1, sn)),
               statuses={"jobs_1": _counts(s1), "jobs_N": _counts(sn)})
    return out


def _counts(statuses: list[str]) -> dict[str, int]:
    return {s: statuses.count(s) for s in sorted(set(statuses))}
