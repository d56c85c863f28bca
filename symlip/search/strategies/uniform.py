"""``random``: region points and inputs drawn at random (docs/theory.md §3).

Half of the region points are rank-one "aligned" chains, which drive the norms
of docs/theory.md §3 to their bounds; inputs lie on the sphere ``|x| = R``
mostly, sometimes along the top right singular vector of ``W_1``.
"""
from __future__ import annotations

import numpy as np

from symlip.search.strategies.base import Strategy
from symlip.search.strategies.parameters import Candidate, ParameterContext

__all__ = ["RandomPoints"]


class RandomPoints(Strategy):
    """Random points, each rated by the local quantity."""

    name = "random"
    share = 0.10

    def run(self, ctx: ParameterContext, rng: np.random.Generator) -> None:
        while True:
            theta, X, y = ctx.random_point(rng)
            val, d = ctx.local(theta, X, y)
            ctx.record(Candidate(val, theta, X, y, self.name, d))
