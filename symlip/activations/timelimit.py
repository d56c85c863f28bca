"""Hard time limits for the derivation of the activation constants (docs/theory.md §1.4).

A sympy call may not finish (``solveset``, ``simplify`` and ``limit`` on an
unlucky expression), so every call of the exact tier runs under a time limit:
``signal.setitimer`` raises inside the call after the limit (main thread,
POSIX only; see :func:`can_time_limit`).  Off the main thread nothing can be
interrupted, so callers skip the steps that may not finish there
(:func:`sympy_step`).  A step that fails or runs out of time raises
:class:`TierFailed`: the caller tries the next tier.
"""
from __future__ import annotations

import contextlib
import signal
import sys
import threading
import time
from typing import Callable, Iterator

import sympy as sp

__all__ = ["TierFailed", "Deadline", "CALL_SECONDS", "can_time_limit", "call_with_time_limit", "guarded",
           "hard_limit", "sympy_step"]

#: time limit (seconds) of one guarded sympy call
CALL_SECONDS = 2.5


class TierFailed(Exception):
    """An approach does not apply (no rigorous enclosure, a sympy failure, a time limit);
    the caller tries the next tier."""


class _Timeout(BaseException):
    """Raised by the alarm handler (BaseException so sympy cannot swallow it)."""


class Deadline:
    """A time budget: :meth:`remaining` seconds from now on."""

    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def remaining(self) -> float:
        return self.end - time.monotonic()


def can_time_limit() -> bool:
    """Whether :func:`call_with_time_limit` can interrupt a call here (main thread, POSIX)."""
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`_Timeout` in the body after ``seconds`` (main thread only)."""
    if not can_time_limit():
        raise TierFailed("no time guard outside the main thread")
    if seconds <= 0:
        raise TierFailed("time budget exhausted")

    armed = [True]   # cleared first thing in the cleanup: an alarm landing after that is ignored

    def _alarm(signum, frame):  # pragma: no cover - timing dependent
        if armed[0]:
            raise _Timeout()

    outer = signal.getitimer(signal.ITIMER_REAL)[0]
    if outer > 0:  # never outlast an enclosing limit
        seconds = min(seconds, outer)
    old_hook = sys.unraisablehook

    def _quiet(info):  # an alarm inside a gc callback is swallowed there and fires again: not an error
        if not isinstance(info.exc_value, _Timeout):
            old_hook(info)

    old_handler = signal.signal(signal.SIGALRM, _alarm)
    sys.unraisablehook = _quiet
    # re-fire every 0.25 s in case some library code swallows the first alarm
    old_timer = signal.setitimer(signal.ITIMER_REAL, seconds, 0.25)
    start = time.monotonic()
    try:
        yield
    finally:
        # an alarm may still arrive while cleaning up: retry until both are done
        for _ in range(100):
            try:
                armed[0] = False
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, old_handler)
                sys.unraisablehook = old_hook
                break
            except _Timeout:  # pragma: no cover - timing dependent
                continue
        if old_timer[0] > 0:  # restore an outer timer, minus the time spent here
            left = max(old_timer[0] - (time.monotonic() - start), 1e-3)
            signal.setitimer(signal.ITIMER_REAL, left, old_timer[1])


def guarded(deadline: Deadline, fn: Callable, *args, **kwargs):
    """Call ``fn`` under the time limit; any failure or timeout raises :class:`TierFailed`."""
    try:
        with _time_limit(min(CALL_SECONDS, deadline.remaining())):
            return fn(*args, **kwargs)
    except _Timeout:
        raise TierFailed(f"{getattr(fn, '__name__', fn)} timed out") from None
    except TierFailed:
        raise
    except (RecursionError, Exception) as exc:  # sympy raises many kinds
        raise TierFailed(f"{getattr(fn, '__name__', fn)} failed: {type(exc).__name__}") from None


@contextlib.contextmanager
def hard_limit(seconds: float, where: str) -> Iterator[None]:
    """A hard time limit on a whole tier (main thread; elsewhere the tier's own deadline rules).

    Raises :class:`TierFailed` saying ``time limit ... s reached in <where>``.
    """
    if not can_time_limit():
        yield
        return
    try:
        with _time_limit(max(seconds, 0.05)):
            yield
    except _Timeout:
        raise TierFailed(f"time limit {seconds:.1f} s reached in {where}") from None


def _heavy(e: sp.Expr) -> bool:
    """Whether sympy rewriting of ``e`` may blow up: nested functions or a large expression.

    Off the main thread (no time limit) such rewriting is not attempted.
    """
    if sp.count_ops(e) > 60:
        return True
    return any(a.has(sp.Function) for f in e.atoms(sp.Function) for a in f.args)


def sympy_step(fn: Callable, e: sp.Expr, *args, seconds: float = CALL_SECONDS):
    """``fn(e, *args)`` for a sympy step outside the exact tier: time-limited on the main
    thread, skipped (``TierFailed``) off it when ``e`` is :func:`_heavy`."""
    if can_time_limit():
        return guarded(Deadline(seconds), fn, e, *args)
    if _heavy(e):
        raise TierFailed(f"{getattr(fn, '__name__', fn)} skipped off the main thread (no time limit there)")
    try:
        return fn(e, *args)
    except TierFailed:
        raise
    except (RecursionError, Exception) as exc:
        raise TierFailed(f"{getattr(fn, '__name__', fn)} failed: {type(exc).__name__}") from None


def call_with_time_limit(seconds: float, fn: Callable, *args, **kwargs):
    """``fn(*args, **kwargs)``, interrupted after ``seconds`` with ``TimeoutError``.

    Only on the main thread (see :func:`can_time_limit`); elsewhere the call
    runs without a limit, so callers skip calls that may not finish there.
    Exceptions of ``fn`` propagate.
    """
    if not can_time_limit():
        return fn(*args, **kwargs)
    try:
        with _time_limit(max(seconds, 0.01)):
            return fn(*args, **kwargs)
    except _Timeout:
        raise TimeoutError(f"{getattr(fn, '__name__', 'call')} took more than {seconds:.2g} s") from None
