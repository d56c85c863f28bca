"""``exact_region`` (audit): a point inside the activation region that attains the
exact constant, when :func:`~symlip.search.exact_pl.exact_input_lipschitz` applies.

It costs no search budget (share 0): the engine runs it once, after the
budgeted strategies, and its point joins the finalists the pairs are built at.
"""
from __future__ import annotations

import numpy as np

from symlip.search.strategies.base import Strategy
from symlip.search.strategies.input_context import InputContext

__all__ = ["ExactRegion"]


class ExactRegion(Strategy):
    """Propose the exact constant's point (computed by the audit before the search)."""

    name = "exact_region"
    share = 0.0

    def applies(self, ctx: InputContext) -> bool:
        return ctx.exact_point is not None

    def run(self, ctx: InputContext, rng: np.random.Generator) -> None:
        if ctx.exact_point is None:
            return
        p = ctx.exact_point[None, :]
        ctx.offer(p, ctx.eng.norms(p))
        ctx.finalists.append((ctx.exact_point, self.name))
