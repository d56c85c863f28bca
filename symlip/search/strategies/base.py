"""The one search engine: strategies behind one interface, scheduled by budget.

A search is a *context* (the problem: what is searched, how a point is rated,
the incumbent candidates, the evaluation meter) and a list of *strategies*.
In the manner of hypothesis and scipy's global optimisers, a strategy only
proposes: it draws or improves points and reports each rating to the context
(``record``/``offer``), which keeps the best candidates.  :func:`run_search`
gives each strategy its share of the budget (evaluations with ``max_evals``,
else seconds), stops it when the share is spent (:class:`Budget`) and hands
the context back for the final step, the mpmath confirmation of the best
candidate (:mod:`symlip.search.falsify`, :mod:`symlip.search.audit`).

Two contexts exist: :class:`~symlip.search.strategies.parameters.ParameterContext`
(the quantities of docs/theory.md §3 over a parameter region: ``falsify``) and
:class:`~symlip.search.strategies.input_context.InputContext` (``||J(x)||_2``
of one fixed network over an input ball: the audit).  A new strategy is a
module with a :class:`Strategy` subclass, registered in
:mod:`symlip.search.strategies`.
"""
from __future__ import annotations

import math
import time
from typing import Any, ClassVar, Sequence

import numpy as np

__all__ = ["Budget", "Meter", "Strategy", "SearchContext", "run_search"]


class Budget(BaseException):
    """Raised inside a strategy when its share is spent (a BaseException so that
    hypothesis stops at once instead of treating it as a failing example)."""


class Meter:
    """Evaluations spent, and the running strategy's evaluation limit and deadline.

    Parameters
    ----------
    spend_all : bool
        Whether a strategy may spend its whole allowance (the audit's convention:
        stop when ``evals > limit``) or stops at the evaluation that reaches it
        (falsify's: ``evals >= limit``, the refused evaluation counted).
    """

    def __init__(self, spend_all: bool = False) -> None:
        self.evals = 0
        self.limit: float = math.inf
        self.deadline: float = math.inf
        self.spend_all = spend_all

    def tick(self, k: int = 1) -> None:
        """Count ``k`` evaluations; raise :class:`Budget` when the share is spent."""
        self.evals += int(k)
        over = self.evals > self.limit if self.spend_all else self.evals >= self.limit
        if over or time.perf_counter() >= self.deadline:
            raise Budget

    def unlimited(self) -> None:
        """No limit (the final step and direct use)."""
        self.limit, self.deadline = math.inf, math.inf


class SearchContext:
    """What every context gives the engine (subclasses add the problem itself).

    Attributes
    ----------
    meter : Meter
        The evaluation meter; strategies tick it through the context's evaluations.
    tolerated : tuple of exception types
        Exceptions that stop a strategy without stopping the search.
    """

    meter: Meter
    tolerated: ClassVar[tuple[type[BaseException], ...]] = ()

    def begin(self, name: str) -> None:
        """A strategy starts."""

    def end(self, name: str, evaluations: int, seconds: float) -> None:
        """A strategy stopped after ``evaluations`` evaluations and ``seconds`` s."""

    def done(self) -> bool:
        """Whether the search may stop early (the best possible value is reached)."""
        return False

    def close(self) -> None:
        """The budgeted strategies are over (before the share-free ones run)."""


class Strategy:
    """One search strategy: proposes candidates to a context until stopped.

    Attributes
    ----------
    name : str
        The registered name (``falsify(strategies=...)``, the verdict's credit).
    share : float
        Default share of the budget; 0 for a strategy that costs no search
        budget and proposes its candidates once, after the others (e.g. a
        known optimum).
    """

    name: ClassVar[str] = ""
    share: ClassVar[float] = 0.0

    def applies(self, ctx: Any) -> bool:
        """Whether the strategy has anything to do on this context."""
        return True

    def share_for(self, ctx: Any) -> float:
        """The share of the budget on this context (default :attr:`share`)."""
        return self.share

    def run(self, ctx: Any, rng: np.random.Generator) -> None:
        """Propose candidates (rate them through ``ctx``) until :class:`Budget` is raised."""
        raise NotImplementedError


def run_search(ctx: SearchContext, plan: Sequence[tuple[Strategy, int]], *, seed: int, seconds: float,
               max_evals: int | None, time_limit: float) -> None:
    """Run the strategies of ``plan`` on ``ctx``, each on its share of the budget.

    Parameters
    ----------
    ctx : SearchContext
    plan : sequence of (Strategy, int)
        The strategies in the order they run, each with its index in its
        registry: strategy ``k`` draws from ``numpy.random.default_rng([seed, k])``,
        so each has its own reproducible stream.
    seed : int
    seconds : float
        Seconds spread over the strategies by share (when ``max_evals`` is None); a
        strategy that overruns its share (by the evaluation under way at its
        deadline) shortens the next ones, so that the budgeted strategies end within
        ``seconds`` plus one evaluation.
    max_evals : int or None
        Evaluations spread by share (each strategy at least 5); with it the
        search is exactly reproducible and ``time_limit`` is only a safety stop.
    time_limit : float
        Seconds after which a strategy stops even with evaluations left.
    """
    budgeted = [(s, k) for s, k in plan if s.share_for(ctx) > 0]
    total = sum(s.share_for(ctx) for s, _ in budgeted) or 1.0
    meter = ctx.meter
    end = time.perf_counter() + seconds
    for strat, index in budgeted:
        frac = strat.share_for(ctx) / total
        ctx.begin(strat.name)
        ts = time.perf_counter()
        start = meter.evals
        meter.limit = start + (math.inf if max_evals is None else max(5, int(frac * max_evals)))
        meter.deadline = min(ts + frac * seconds, end) if max_evals is None else ts + time_limit
        try:
            strat.run(ctx, np.random.default_rng([int(seed), index]))
        except Budget:
            pass
        except ctx.tolerated:
            pass  # e.g. float64 overflow at an extreme point: the strategy stops, others go on
        ctx.end(strat.name, meter.evals - start, time.perf_counter() - ts)
        if ctx.done():
            break
    meter.unlimited()
    ctx.close()
    for strat, index in plan:
        if strat.share_for(ctx) <= 0:
            ctx.begin(strat.name)
            strat.run(ctx, np.random.default_rng([int(seed), index]))
