"""Checking many catalogue cases: one at a time, in worker processes, or on a
Dask cluster — with the same results (docs/theory.md §5).

:func:`check_cases` runs :func:`symlip.verify.check_case` on every loaded case.

* ``jobs=1``: in this process, in order.
* ``jobs=N``: in ``N`` worker processes on this machine, each with its BLAS
  pinned to one thread (so ``N`` workers use ``N`` cores and a float64 result
  does not depend on a thread count).  The workers are spawned and re-import
  the calling script: a script makes the call under ``if __name__ == "__main__":``.
* ``scheduler="tcp://host:8786"``: on a running Dask distributed cluster
  (``pip install "symlip[dask]"``).  The catalogue's Python files travel with
  the tasks (the workers need symlip, not the files), and the verdicts —
  witnesses included — come back to this process, which writes every report.

Each case is checked with the same seed wherever it runs, so under
``max_evals`` the verdicts are identical to a run with ``jobs=1``; with a time
budget they are as reproducible as one-process runs are (the budget is wall time).

A worker loads the catalogue file itself (importing it runs it, as
``symlip check`` does) and returns the verdict without its claim, which may hold
functions defined in the catalogue; this process puts its own claim back.
"""
from __future__ import annotations

import dataclasses
import hashlib
import math
import os
import tempfile
import time
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from symlip.core.messages import first_line
from symlip.search.catalogue import LoadedCase, load_cases
from symlip.search.claims import Claim
from symlip.search.falsify import check_stop
from symlip.prove import prove_verdict
from symlip.verify import check_case

__all__ = ["CaseError", "check_cases", "default_jobs", "MAX_JOBS", "GUARD_HINT"]

#: what a script calling ``check_cases(jobs > 1)`` must do (worker processes re-import it)
GUARD_HINT = ("worker processes re-import the calling script, so a script that calls check_cases(jobs > 1) "
              "must make the call under `if __name__ == \"__main__\":` (or use jobs=1)")

#: the most worker processes ``jobs`` may ask for.
MAX_JOBS = 256
_BLAS_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
              "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


@dataclass(frozen=True, eq=False)
class CaseError:
    """The outcome of a case that could not be checked (e.g. a claim applied
    outside its activation class): it counts as *not* as expected.

    Attributes
    ----------
    claim : Claim
        The claim of the case.
    message : str
        Why the case could not be checked (one line).
    seconds : float
        Time spent before the error.
    """

    claim: Claim
    message: str
    seconds: float = 0.0

    status = "error"
    as_expected = False
    witness = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary with the same keys as a verdict's where they apply."""
        return {"claim": self.claim.name, "quantity": self.claim.quantity, "expect": self.claim.expect,
                "status": "error", "as_expected": False, "message": self.message,
                "seconds": round(self.seconds, 4)}


def default_jobs() -> int:
    """The number of cores this process may use (``os.sched_getaffinity`` where available)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return max(1, os.cpu_count() or 1)


def check_cases(loaded: Sequence[LoadedCase], *, budget: float, seed: int = 0, max_evals: int | None = None,
                allow_numeric: bool = False, stop: str = "budget", jobs: int = 1, scheduler: str | None = None,
                prove: float | None = None, progress: Callable[[int, LoadedCase, Any], None] | None = None) -> list[tuple[LoadedCase, Any]]:
    """Check every case; returns ``(loaded case, outcome)`` pairs in the order given.

    Parameters
    ----------
    loaded : sequence of LoadedCase
        From :func:`symlip.search.catalogue.load_cases`.
    budget, seed, max_evals, allow_numeric, stop
        As :func:`symlip.verify.check_case` (the same for every case).
    jobs : int
        Worker processes on this machine (1: in this process).  Ignored with ``scheduler``.
    scheduler : str, optional
        Address of a Dask distributed scheduler (``tcp://host:port``); needs ``dask[distributed]``.
    prove : float, optional
        Seconds of :func:`symlip.prove.prove_verdict` per surviving claim that it can prove
        (None: no proofs).
    progress : callable, optional
        Called as ``progress(k, loaded_case, outcome)`` when the ``k``-th case
        (1-based, in the order given) is known; with workers the calls come in
        order of completion.

    Returns
    -------
    list of (LoadedCase, outcome)
        The outcome is a verdict, or a :class:`CaseError` for a case that raised.
    """
    loaded = list(loaded)
    for k, lc in enumerate(loaded):
        if not isinstance(lc, LoadedCase):
            raise TypeError(f"loaded[{k}] must be a LoadedCase (from load_cases); got {type(lc).__name__}")
    if scheduler is not None and (not isinstance(scheduler, str) or not scheduler.strip()):
        raise ValueError(f"scheduler must be the address of a Dask scheduler, e.g. 'tcp://127.0.0.1:8786'; "
                         f"got {scheduler!r}")
    if isinstance(jobs, bool) or not isinstance(jobs, int) or not 1 <= jobs <= MAX_JOBS:
        raise ValueError(f"jobs must be an integer in [1, {MAX_JOBS}]; got {jobs!r}")
    if prove is not None and (isinstance(prove, bool) or not isinstance(prove, (int, float))
                              or not (math.isfinite(prove) and prove > 0)):
        raise ValueError(f"prove must be a positive number of seconds or None; got {prove!r}")
    check_stop(stop)  # here, not once per case as a CaseError
    kw = dict(budget=budget, seed=seed, max_evals=max_evals, allow_numeric=allow_numeric, stop=stop, prove=prove)
    outcomes: list[Any] = [None] * len(loaded)

    def done(k: int, outcome: Any) -> None:
        outcome = _with_claim(outcome, loaded[k].case.claim)
        outcomes[k] = outcome
        if progress is not None:
            progress(k + 1, loaded[k], outcome)

    if scheduler is not None:
        _run_dask(loaded, kw, scheduler, done)
    elif jobs == 1 or len(loaded) <= 1:
        for k, lc in enumerate(loaded):
            done(k, check_one(lc, **kw))
    else:
        if _importing_main_in_worker():
            raise SystemExit(f"symlip: error: check_cases(jobs={jobs}) was called while a worker process "
                             f"imported the main script; {GUARD_HINT}")
        _run_processes(loaded, kw, min(jobs, len(loaded)), done)
    return list(zip(loaded, outcomes))


def _importing_main_in_worker() -> bool:
    """True in a spawned worker that is still importing the caller's main script (an unguarded
    ``check_cases`` call there would start workers of its own): ``multiprocessing`` runs the script as
    ``__mp_main__`` and makes it ``__main__`` only once it has run (in a main process the two are one module, or ``__mp_main__`` is absent)."""
    mp_main = sys.modules.get("__mp_main__")
    return mp_main is not None and sys.modules.get("__main__") is not mp_main


def check_one(lc: LoadedCase, prove: float | None = None, **kw: Any) -> Any:
    """One case, with an error turned into a :class:`CaseError` (a broken case must not end the run);
    with ``prove`` (seconds), a surviving claim is then proved where it can be (:mod:`symlip.prove`)."""
    ts = time.perf_counter()
    try:
        outcome = check_case(lc, **kw)
        if prove is not None:
            outcome = prove_verdict(outcome, lc.case, budget=prove, seed=kw.get("seed", 0))
        return outcome
    except ValueError as exc:  # the claim does not apply here: reported, not as expected
        return CaseError(lc.case.claim, first_line(exc), time.perf_counter() - ts)
    except Exception as exc:  # noqa: BLE001 - reported as an error of this case
        return CaseError(lc.case.claim, f"{type(exc).__name__}: {first_line(exc)}", time.perf_counter() - ts)


# ---------------------------------------------------------------------------
# workers
# ---------------------------------------------------------------------------
def _task(lc: LoadedCase) -> tuple[str, str, int]:
    """What a worker needs to find the case: the file (absolute), its display name and the index."""
    path = _path_of(lc)
    return str(path), lc.source, lc.index


def _path_of(lc: LoadedCase) -> Path:
    p = Path(lc.source)
    return p if p.is_absolute() else (Path.cwd() / p).resolve()


def _worker_case(path: str, source: str, index: int) -> LoadedCase:
    cases = [c for c in load_cases([path]) if c.index == index]
    if not cases:
        raise ValueError(f"case {index} of {path} is gone")
    return LoadedCase(case=cases[0].case, source=source, index=index)


def _worker(path: str, source: str, index: int, kw: dict[str, Any]) -> Any:
    try:
        lc = _worker_case(path, source, index)
    except ValueError as exc:
        return _Failed(first_line(exc))
    return _without_claim(check_one(lc, **kw))


@dataclass(frozen=True)
class _Failed:
    """A worker that could not even load its case."""

    message: str


def _without_claim(outcome: Any) -> Any:
    return dataclasses.replace(outcome, claim=None) if dataclasses.is_dataclass(outcome) else outcome


def _with_claim(outcome: Any, claim: Claim) -> Any:
    if isinstance(outcome, _Failed):
        return CaseError(claim, outcome.message)
    if dataclasses.is_dataclass(outcome) and getattr(outcome, "claim", claim) is None:
        return dataclasses.replace(outcome, claim=claim)
    return outcome


def _pin_blas() -> None:
    """One BLAS/OpenMP thread in this worker (set before numpy loads its BLAS; threadpoolctl if present)."""
    for var in _BLAS_VARS:
        os.environ[var] = "1"
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - the variables above did it
        return
    threadpool_limits(1)


def _run_processes(loaded: list[LoadedCase], kw: dict[str, Any], jobs: int,
                   done: Callable[[int, Any], None]) -> None:
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")  # a fresh interpreter: no forked locks or BLAS thread pools
    saved = {v: os.environ.get(v) for v in _BLAS_VARS}
    for v in _BLAS_VARS:  # the spawned interpreters read these before importing numpy
        os.environ[v] = "1"
    try:
        with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_pin_blas) as pool:
            futures = {pool.submit(_worker, *_task(loaded[k]), kw): k for k in _by_weight_index(loaded)}
            for fut in as_completed(futures):
                done(futures[fut], fut.result())
    except BrokenProcessPool:
        raise RuntimeError(f"a worker process of check_cases(jobs={jobs}) ended abruptly: it was killed "
                           f"(e.g. out of memory) or {GUARD_HINT}") from None
    finally:
        for v, val in saved.items():
            if val is None:
                os.environ.pop(v, None)
            else:
                os.environ[v] = val


def _by_weight_index(loaded: list[LoadedCase]) -> list[int]:
    """Indices of ``loaded``, heaviest cases first (long cases start early: less idle time at the end)."""
    return sorted(range(len(loaded)), key=lambda k: -float(getattr(loaded[k].case, "weight", 1.0)))


# ---------------------------------------------------------------------------
# Dask
# ---------------------------------------------------------------------------
def _bundle(loaded: list[LoadedCase]) -> tuple[str, dict[str, bytes]]:
    """The catalogue files' common folder and every ``.py`` file under it (helpers included)."""
    paths = sorted({_path_of(lc) for lc in loaded})
    root = Path(os.path.commonpath([str(p.parent) for p in paths]))
    files = {}
    for f in sorted(root.rglob("*.py")):
        rel = f.relative_to(root)
        if any(part.startswith(".") or part == "__pycache__" for part in rel.parts):
            continue
        files[rel.as_posix()] = f.read_bytes()
    if sum(len(b) for b in files.values()) > 50_000_000:
        raise ValueError(f"the catalogue folder {str(root)!r} holds more than 50 MB of Python files; "
                         "point symlip check at a smaller folder to use a Dask scheduler")
    return str(root), files


def _unpack(files: dict[str, bytes]) -> Path:
    """Write a bundle once per worker (keyed by its content) and return its folder."""
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(name.encode() + b"\0" + files[name] + b"\0")
    folder = Path(tempfile.gettempdir()) / f"symlip-catalogue-{h.hexdigest()[:16]}"
    if not folder.exists():
        tmp = Path(tempfile.mkdtemp(prefix="symlip-catalogue-"))
        for name, data in files.items():
            target = tmp / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        try:
            tmp.rename(folder)
        except OSError:  # another task on this worker unpacked it first
            pass
    return folder


def _dask_worker(rel: str, files: dict[str, bytes], source: str, index: int, kw: dict[str, Any]) -> Any:
    _pin_blas()
    return _worker(str(_unpack(files) / rel), source, index, kw)


def _run_dask(loaded: list[LoadedCase], kw: dict[str, Any], scheduler: str,
              done: Callable[[int, Any], None]) -> None:
    try:
        from distributed import Client, as_completed as dask_completed
    except ImportError:
        raise ValueError('--scheduler needs Dask distributed: pip install "symlip[dask]"') from None
    root, files = _bundle(loaded)
    try:
        client = Client(scheduler, timeout="10s")
    except (OSError, TimeoutError) as exc:
        raise ValueError(f"cannot reach the Dask scheduler {scheduler!r}: {first_line(exc)}") from None
    try:
        shared = client.scatter([files], broadcast=True)[0]  # one copy of the files per worker
        futures = {}
        for k in _by_weight_index(loaded):
            lc = loaded[k]
            rel = _path_of(lc).relative_to(root).as_posix()
            fut = client.submit(_dask_worker, rel, shared, lc.source, lc.index, kw, pure=False,
                                key=f"symlip-case-{k}-{os.getpid()}-{time.time_ns()}")
            futures[fut] = k
        for fut in dask_completed(list(futures)):
            done(futures[fut], fut.result())
    finally:
        client.close()

