"""``lines`` (audit, piecewise-linear activations): exact walks along chords of the ball.

Along a line the network is piecewise linear and the next region boundary is
found in closed form (:meth:`~symlip.search.strategies.fixed_net.FixedNet.ray_next`),
so every activation region a chord crosses is visited once (one point at the
middle of its piece of the chord).
"""
from __future__ import annotations

import numpy as np

from symlip.search.strategies.base import Strategy
from symlip.search.strategies.fixed_net import exit_distance, unit_rows
from symlip.search.strategies.input_context import InputContext

__all__ = ["Lines", "walk_lines"]


class Lines(Strategy):
    """Chords through the best points and random interior points, in random directions."""

    name = "lines"
    share = 0.25

    def applies(self, ctx: InputContext) -> bool:
        return ctx.eng.pl is not None

    def run(self, ctx: InputContext, rng: np.random.Generator) -> None:
        while True:
            n = 16
            anchors = np.concatenate([ctx.top(4), ctx.sample(rng, n, sphere_frac=0.0)])[:n]
            D = unit_rows(rng, n, ctx.d)
            plus = exit_distance(anchors, D, ctx.Rin)
            minus = exit_distance(anchors, -D, ctx.Rin)
            walk_lines(ctx, anchors, D, -minus * (1 - 1e-12), plus * (1 - 1e-12))


def walk_lines(ctx: InputContext, X0: np.ndarray, D: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> None:
    """Visit every region along the segments ``x0 + t d``, ``t`` in ``[lo, hi]``: one
    point at the middle of each region's piece of the segment."""
    eng = ctx.eng
    t = lo + 1e-9 * (hi - lo)
    active = t < hi
    gap = 1e-9 * np.maximum(hi - lo, 1e-300)
    planes = sum(ctx.net.widths[1:-1]) * max(1, len(eng.pl.kinks) if eng.pl else 1)
    for _ in range(4 * planes + 16):
        if not active.any():
            return
        idx = np.flatnonzero(active)
        Xs = X0[idx] + t[idx, None] * D[idx]
        tn = t[idx] + eng.ray_next(Xs, D[idx])
        end = np.minimum(tn, hi[idx])
        mid = 0.5 * (t[idx] + end)
        P = X0[idx] + mid[:, None] * D[idx]
        ctx.offer(P, eng.norms(P))
        t[idx] = tn + gap[idx]
        active[idx] = t[idx] < hi[idx]
