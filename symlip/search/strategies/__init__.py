"""Search strategies behind one interface (:mod:`symlip.search.strategies.base`).

Registries, in the order the strategies run (a strategy's index here seeds its
random stream, so new strategies are appended):

``PARAMETER_STRATEGIES``
    for :func:`symlip.search.falsify.falsify`: a claim over a parameter region;
``INPUT_STRATEGIES``
    for the audit (:mod:`symlip.search.audit`): ``||J(x)||_2`` of one fixed
    network over an input ball.

Adding a strategy: a module with a :class:`~symlip.search.strategies.base.Strategy`
subclass (``name``, ``share``, ``applies``, ``run``), appended here.
"""
from __future__ import annotations

from symlip.search.strategies.ascent import Ascent
from symlip.search.strategies.climb import PatternClimb
from symlip.search.strategies.evolution import DifferentialEvolution
from symlip.search.strategies.exact_region import ExactRegion
from symlip.search.strategies.hypothesis_search import HypothesisSearch
from symlip.search.strategies.input_ascent import JacobianAscent
from symlip.search.strategies.input_random import RandomInputs
from symlip.search.strategies.lines import Lines
from symlip.search.strategies.pair import PairSearch
from symlip.search.strategies.smoothed import Smoothed
from symlip.search.strategies.uniform import RandomPoints
from symlip.search.strategies.walk import RegionWalk

__all__ = ["PARAMETER_STRATEGIES", "INPUT_STRATEGIES"]

PARAMETER_STRATEGIES = (RandomPoints, HypothesisSearch, Ascent, PairSearch, DifferentialEvolution)
INPUT_STRATEGIES = (RandomInputs, JacobianAscent, Lines, Smoothed, RegionWalk, ExactRegion, PatternClimb)
