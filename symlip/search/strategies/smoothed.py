"""``smoothed`` (audit, piecewise-linear activations): ascent on a smoothed surrogate.

Each kink is replaced by a softplus of temperature τ (per layer, the median
distance of pre-activations to the nearest kink, annealed towards 0); the real
``||J||`` is recorded at the points reached.  The surrogate has a gradient where
the real network has none (``||J||`` is constant on each activation region).
"""
from __future__ import annotations

import numpy as np

from symlip.search.strategies.base import Strategy
from symlip.search.strategies.input_context import InputContext

__all__ = ["Smoothed", "temperatures"]


class Smoothed(Strategy):
    """Annealed surrogate ascents from the best point and random ones."""

    name = "smoothed"
    share = 0.25

    def applies(self, ctx: InputContext) -> bool:
        return ctx.eng.pl is not None

    def run(self, ctx: InputContext, rng: np.random.Generator) -> None:
        base = temperatures(ctx, rng)
        first = True
        while True:
            n = 16
            X = np.concatenate([ctx.top(4) if first else ctx.top(1), ctx.sample(rng, n)])[:n]
            first = False
            eta = np.full(X.shape[0], 0.1)
            for rel in (1.0, 0.3, 0.1, 0.03, 0.01, 0.003):
                X, eta = ctx.ascend(X, np.maximum(eta, 1e-3), [rel * t for t in base], 12, record_real=True)


def temperatures(ctx: InputContext, rng: np.random.Generator) -> list[float]:
    """Per hidden layer: median distance of pre-activations to the nearest kink (the surrogate's scale);
    computed once per context."""
    if ctx.taus is None:
        X = ctx.sample(rng, 64)
        ctx.eng.tick(64)
        pre = ctx.eng.forward(X)[0]
        kinks = ctx.eng.kinks
        taus = []
        for a in pre:
            dist = np.min(np.abs(a[..., None] - kinks), axis=-1) if kinks.size else np.abs(a)
            med = float(np.median(dist))
            taus.append(med if med > 0 else 1.0)
        ctx.taus = taus
    return ctx.taus
