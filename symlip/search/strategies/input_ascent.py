"""``ascent`` (audit, smooth activations): multi-start projected ascent of ``||J(x)||_2``.

Its gradient is ``∇_x (uᵀ J(x) v)`` for the top singular pair ``(u, v)``,
computed exactly by one forward tangent along ``v`` and one back-propagation
(:meth:`~symlip.search.strategies.fixed_net.FixedNet.spec_grad`).
"""
from __future__ import annotations

import numpy as np

from symlip.search.strategies.base import Strategy
from symlip.search.strategies.input_context import InputContext

__all__ = ["JacobianAscent"]


class JacobianAscent(Strategy):
    """Sixteen ascents at once, from the best points and random ones; converged ones restart."""

    name = "ascent"
    share = 0.8

    def applies(self, ctx: InputContext) -> bool:
        return ctx.eng.pl is None

    def run(self, ctx: InputContext, rng: np.random.Generator) -> None:
        n = 16
        X = np.concatenate([ctx.top(6), ctx.sample(rng, n)])[:n]
        eta = np.full(X.shape[0], 0.05)
        while True:
            X, eta = ctx.ascend(X, eta, None, 25, record_real=False)
            done = eta < 1e-9
            if done.any():
                X[done] = ctx.sample(rng, int(done.sum()), sphere_frac=0.3)
                eta[done] = 0.05
