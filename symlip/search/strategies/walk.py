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

__all__ = ["RegionWalk", "neighbours", "across_boundary"]


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
    across: list[np.ndarray] = []
    across_owner: list[np.ndarray] = []
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
            side = -np.sign(gap[np.arange(n), k])
            dirs.append(side[:, None] * w)
            # the nearest point of the ball just across the unit's boundary: a ray from x may
            # leave the ball first (a unit active only on a small cap of the sphere)
            Y, ok = across_boundary(X, w, (eng.kinks[j[np.arange(n), k]] - b1[k]) / np.where(wn[k] > 0, wn[k], 1.0),
                                    side, ctx.Rin)
            across.append(Y[ok])
            across_owner.append(np.flatnonzero(ok))
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
    points = np.zeros((0, d))
    if owner.size:
        step = t1 + 1e-9 * ctx.R
        t2 = step + eng.ray_next(Xr + step[:, None] * D, D)
        land = 0.5 * (t1 + np.minimum(t2, tx))
        points = Xr + land[:, None] * D
    if across:
        points = np.concatenate([points, *across])
        owner = np.concatenate([owner, *across_owner])
    return points, owner


def across_boundary(X: np.ndarray, n: np.ndarray, h: np.ndarray, side: np.ndarray,
                    radius: float, past: float = 1e-2) -> tuple[np.ndarray, np.ndarray]:
    """For each row: the point of the ball ``|y| <= radius`` nearest to ``x`` on the ``side``
    (+1/-1 along the unit normal ``n``) of the plane ``n·y = h``, a little past the plane
    (by at most ``past * radius``).

    Returns the points and a mask of the rows where that side meets the ball.
    """
    across = side * (np.sum(X * n, axis=1) - h) > 0   # already on that side: x itself
    room = radius - side * h                         # how far the ball reaches past the plane
    ok = across | (room > 0)
    target = h + side * 0.5 * np.minimum(np.maximum(room, 0.0), past * radius)
    Y = X + np.where(across, 0.0, target - np.sum(X * n, axis=1))[:, None] * n   # onto the shifted plane
    r2 = radius ** 2 - target ** 2
    out = (np.sum(Y * Y, axis=1) > radius ** 2) & ~across
    if np.any(out & ok):
        perp = Y - target[:, None] * n
        pn = np.linalg.norm(perp, axis=1)
        scale = np.sqrt(np.maximum(r2, 0.0)) * (1 - 1e-12) / np.where(pn > 0, pn, 1.0)
        Y = np.where(out[:, None], target[:, None] * n + scale[:, None] * perp, Y)
    return Y, ok

