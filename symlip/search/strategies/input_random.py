"""``random`` (audit): points uniform in the input ball and on its sphere, rated by ``||J||_2``."""
from __future__ import annotations

import numpy as np

from symlip.search.strategies.base import Strategy
from symlip.search.strategies.input_context import InputContext

__all__ = ["RandomInputs"]


class RandomInputs(Strategy):
    """Batches of random points (half on the sphere ``|x| = R``)."""

    name = "random"
    share = 0.2

    def share_for(self, ctx: InputContext) -> float:
        return 0.15 if ctx.eng.pl is not None else 0.2

    def run(self, ctx: InputContext, rng: np.random.Generator) -> None:
        while True:
            X = ctx.sample(rng, ctx.eng.batch)
            ctx.offer(X, ctx.eng.norms(X))
