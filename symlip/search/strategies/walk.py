"""``walk`` (audit, piecewise-linear activations): hill climbing on the region graph.

From a point, cross to neighbouring activation regions (towards the nearest
neuron boundaries of the first layer, along ``±v`` for the top right singular
vector ``v``, and along random directions), landing in the middle of the next
region's piece of the ray, and keep the best; stuck walkers restart from fresh
points and from neighbours of the best point.
"""
from __future__ import annotations

import numpy as np

from symlip.search.strategies.base import Strategy
from symlip.search.strategies.fixed_net import exit_distance, unit_rows
from symlip.search.strategies.input_context import InputContext

__all__ = ["RegionWalk", "neighbours"]


class RegionWalk(Strategy):
    """Eight walkers on the adjacency graph of the activation regions."""

    name = "walk"
    share = 0.35

    def applies(self, ctx: InputContext) -> bool:
        return ctx.eng.pl is not None

    def run(self, ctx: InputContext, rng: np.random.Generator) -> None:
        eng = ctx.eng
        n = 8
        X = np.concatenate([ctx.top(n), ctx.sample(rng, n)])[:n]
        val = eng.norms(X)
        while True:
            P, owner = neighbours(ctx, X, rng)
            moved = np.zeros(n, dtype=bool)
            if owner.size:
                pv = eng.norms(P)
                ctx.offer(P, pv)
                for i in range(n):
                    mine = np.flatnonzero(owner == i)
                    if mine.size:
                        j = mine[int(np.argmax(pv[mine]))]
                        if pv[j] > val[i] * (1 + 1e-12) + 1e-300:
                            X[i], val[i], moved[i] = P[j], pv[j], True
            stuck = np.flatnonzero(~moved)
            if stuck.size:
                # restart: half from fresh random points, half from random neighbours of the best
                fresh = ctx.sample(rng, stuck.size)
                half = stuck.size // 2
                if half and ctx.pool_X.shape[0]:
                    Pn, _ = neighbours(ctx, ctx.top(1), rng, n_normal=4, n_random=8)
                    if Pn.shape[0]:
                        fresh[:half] = Pn[rng.integers(0, Pn.shape[0], half)]
                X[stuck] = fresh
                val[stuck] = eng.norms(fresh)


def neighbours(ctx: InputContext, X: np.ndarray, rng: np.random.Generator, n_normal: int = 12,
               n_random: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Points in neighbouring regions: cross the first boundary along each direction and
    land in the middle of the next region's piece of the ray.  Returns (points, owner index)."""
    eng = ctx.eng
    n, d = X.shape
    dirs = []
    W1, b1 = eng.layers[0]
    if eng.m > 1 and eng.kinks.size:
        a1 = X @ W1.T + b1                                    # (n, d_1)
        wn = np.linalg.norm(W1, axis=1)
        diff = a1[..., None] - eng.kinks                     # (n, d_1, n_kinks)
        j = np.argmin(np.abs(diff), axis=-1)
        gap = np.take_along_axis(diff, j[..., None], axis=-1)[..., 0]
        dist = np.where(wn > 0, np.abs(gap) / np.where(wn > 0, wn, 1.0), np.inf)
        kn = min(n_normal, W1.shape[0])
        near = np.argsort(dist, axis=1, kind="stable")[:, :kn]
        for c in range(kn):
            k = near[:, c]
            w = W1[k] / np.where(wn[k] > 0, wn[k], 1.0)[:, None]
            dirs.append(-np.sign(gap[np.arange(n), k])[:, None] * w)
    J = eng.jac(X)
    _, _, v = eng.spec(J)
    dirs += [v, -v]
    dirs += [unit_rows(rng, n, d) for _ in range(n_random)]
    D = np.concatenate(dirs)                                   # (n * n_dirs, d)
    owner = np.tile(np.arange(n), len(dirs))
    Xr = X[owner]
    t1 = eng.ray_next(Xr, D)
    tx = exit_distance(Xr, D, ctx.Rin)
    ok = np.isfinite(t1) & (t1 < tx)
    Xr, D, t1, tx, owner = Xr[ok], D[ok], t1[ok], tx[ok], owner[ok]
    if not owner.size:
        return np.zeros((0, d)), owner
    step = t1 + 1e-9 * ctx.R
    t2 = step + eng.ray_next(Xr + step[:, None] * D, D)
    land = 0.5 * (t1 + np.minimum(t2, tx))
    return Xr + land[:, None] * D, owner

