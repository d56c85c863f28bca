"""``pair``: the difference quotient itself over pairs ``(θ, θ')``.

Pairs straddling a kink of a piecewise activation (first: for ReLU these are
where a gradient bound breaks, docs/theory.md §1), pairs along the local
direction of the best candidates at geometric separations, and a stochastic
hill climb on the pair ratio: what finds violations for non-smooth
activations.
"""
from __future__ import annotations

import math

import numpy as np

from symlip.search.strategies.base import Strategy
from symlip.search.strategies.parameters import Candidate, ParameterContext

__all__ = ["PairSearch", "KINK_UNITS"]

#: hidden units (nearest a kink first) moved across their kink at each of the best candidates
KINK_UNITS = 16


class PairSearch(Strategy):
    """Pairs around the best candidates, then a hill climb on the pair ratio."""

    name = "pair"
    share = 0.20

    def applies(self, ctx: ParameterContext) -> bool:
        return ctx.q != "pointwise"

    def run(self, ctx: ParameterContext, rng: np.random.Generator) -> None:
        best = sorted(ctx.cands, key=lambda c: -c.est)[:4]
        if not best:
            theta, X, y = ctx.random_point(rng)
            val, d = ctx.local(theta, X, y)
            best = [Candidate(val, theta, X, y, self.name, d)]
        # 1. across kinks of a piecewise activation (first: for ReLU these are
        #    where a gradient bound breaks, docs/theory.md §1)
        if ctx.piecewise and ctx.q != "lip_input":
            for c in best:
                for h in (1e-3, 1e-6, 1e-9):
                    pair = ctx.kink_pair(c.theta, c.X, c.y, h, rng)
                    if pair is not None:
                        ctx.rate_pair(pair, self.name, origin=c.strategy)
            # the next units too: the nearest one may carry no jump (a zero outgoing weight)
            for rank in range(1, KINK_UNITS):
                for c in best:
                    pair = ctx.kink_pair(c.theta, c.X, c.y, 1e-6, rng, rank=rank)
                    if pair is not None:
                        ctx.rate_pair(pair, self.name, origin=c.strategy)
        # 2. along the local direction, at geometric separations
        for c in best:
            for h in (1e-1, 1e-2, 1e-3, 1e-5, 1e-8):
                for sign in (1.0, -1.0):
                    d = c.direction if c.direction is not None else rng.standard_normal(
                        ctx.d0 if ctx.q == "lip_input" else ctx.P)
                    pair = ctx.make_pair(c.theta, c.X, c.y, sign * d / np.linalg.norm(d), h)
                    ctx.rate_pair(pair, self.name, origin=c.strategy)
        # 3. stochastic hill climb on the pair ratio itself
        c = best[0]
        pair = ctx.make_pair(c.theta, c.X, c.y, c.direction if c.direction is not None else
                             rng.standard_normal(ctx.d0 if ctx.q == "lip_input" else ctx.P), 1e-2)
        cur = ctx.rate_pair(pair, self.name)
        scale = 0.05
        while True:
            th, th2, X, x2, y = pair
            th_n = ctx.project(th + scale * ctx.theta_scale * rng.standard_normal(ctx.P) / math.sqrt(ctx.P))
            if ctx.q == "lip_input":
                X_n = ctx.clip_inputs(X + scale * max(ctx.R, 1e-3) * rng.standard_normal(X.shape))
                x2_n = ctx.clip_inputs(x2 + scale * max(ctx.R, 1e-3) * rng.standard_normal(X.shape))
                cand = (th_n, None, X_n, x2_n, y)
            else:
                th2_n = ctx.project(th2 + scale * ctx.theta_scale * rng.standard_normal(ctx.P) / math.sqrt(ctx.P))
                X_n = ctx.clip_inputs(X + scale * ctx.R * rng.standard_normal(X.shape)) if ctx.R > 0 else X
                cand = (th_n, th2_n, X_n, None, y)
            v = ctx.rate_pair(cand, self.name)
            if v > cur:
                pair, cur = cand, v
                scale = min(scale * 1.5, 0.5)
            else:
                scale = max(scale * 0.85, 1e-6)

