"""``climb`` (audit, piecewise-linear activations): hill climbing in activation-pattern space.

On the region of an activation pattern ``P`` every pre-activation is affine in
``x`` and ``J`` is constant (docs/theory.md §8.6).  Changing one unit ``u`` to an
adjacent piece changes ``J`` by a rank-one term,

    J' = J + (s' - s) · L_u ⊗ A_u,

``L_u`` the column of ``∂f/∂z_l`` (the layers above, pattern fixed) and ``A_u``
the row of ``∂a_l/∂x``, so the value ``||J'||_2`` of *every* single flip costs one
small product.  The climb ranks all flips by value and, best first, asks a
linear program whether the flipped region meets the ball ``|x| <= R``: the
largest margin ``t`` such that ``x`` lies at distance ``>= t`` inside every
half-space of the flipped pattern and ``|x| + t <= R`` (the ball by tangent
cuts, added until the solution lies inside it).  The first feasible flip is the
best improving reachable one; the climb moves to the LP's point (witnessed: its
pattern is checked and its ``||J||_2`` recomputed there and offered to the
context) and repeats until no flip improves, a local optimum in pattern space.

For one hidden layer the regions are the cells of a hyperplane arrangement,
each facet-neighbour differs in exactly one unit, and the test is exact (up to
the LP's tolerances): the climb sees every neighbouring region in the ball.
For deeper networks the LP is still exact for the flipped pattern, but a
boundary of an early layer is bent by the later ones, so a neighbour across a
facet may differ in several units: single flips are then a heuristic subset of
the neighbours.
"""
from __future__ import annotations

import functools
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from symlip.search.strategies.base import Strategy
from symlip.search.strategies.input_context import InputContext
from symlip.search.strategies.walk import across_boundary

if TYPE_CHECKING:  # pragma: no cover
    from symlip.search.strategies.fixed_net import FixedNet

__all__ = ["PatternClimb", "region_maps", "flip_values", "region_point", "margin_point", "best_flip", "climb"]

#: a flip must raise ||J||_2 by this relative amount to count as an improvement
IMPROVE = 1e-12
#: tangent cuts of the ball tried per linear program before the flip is given up
MAX_CUTS = 40
#: the cheap points land this far (relative to R, at most) past a unit's boundary
_PAST = 1e-6
#: evaluations a linear program is counted as, per half-space and solve (its cost in network evaluations)
LP_COST = 4
#: linear programs per step of the strategy (beyond them a point counts as a local optimum)
STEP_LPS = 8


class PatternClimb(Strategy):
    """Climb from the best points (each pattern once), then from fresh random points."""

    name = "climb"
    share = 0.2

    def __init__(self) -> None:
        self.started: set[bytes] = set()   # patterns climbed from (kept across the rounds of a search)

    def applies(self, ctx: InputContext) -> bool:
        return ctx.eng.pl is not None and ctx.eng.m > 1 and bool(ctx.eng.pl.kinks)

    def run(self, ctx: InputContext, rng: np.random.Generator) -> None:
        eng = ctx.eng
        while True:
            start = None
            if ctx.pool_X.shape[0]:
                pats = eng.pattern(ctx.pool_X)
                for x, p in zip(ctx.pool_X, pats):
                    if p.tobytes() not in self.started:
                        start = x
                        break
            if start is None:
                start = ctx.sample(rng, 1)[0]
            self.started.add(eng.pattern(start[None, :])[0].tobytes())
            climb(ctx, start, self.started, STEP_LPS)


# ---------------------------------------------------------------------------
# the regions of one pattern
# ---------------------------------------------------------------------------
def _offsets(eng: "FixedNet") -> np.ndarray:
    """σ(t) = slope_p t + offset_p on piece p."""
    return _offsets_cached(eng.net.activation, eng.pl)


@functools.lru_cache(maxsize=64)
def _offsets_cached(act: Any, pl: Any) -> np.ndarray:
    k, slopes = np.array(pl.kinks, dtype=float), np.array(pl.slopes, dtype=float)
    mids = np.array([k[0] - 1.0, *((k[:-1] + k[1:]) / 2), k[-1] + 1.0]) if k.size else np.zeros(1)
    out = np.asarray(act.numpy(0)(mids), dtype=float) - slopes * mids
    out.setflags(write=False)
    return out


def region_maps(eng: "FixedNet", pat: np.ndarray) -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray]:
    """The affine pre-activations ``a_l(x) = A_l x + c_l`` of every hidden layer on the region
    of the pattern ``pat`` (as :meth:`FixedNet.pattern` numbers the pieces), and its Jacobian."""
    off = _offsets(eng)
    A, c = np.eye(eng.d), np.zeros(eng.d)
    maps, i0 = [], 0
    for W, b in eng.layers[:-1]:
        Ap, cp = W @ A, W @ c + b
        maps.append((Ap, cp))
        p = pat[i0:i0 + W.shape[0]]
        i0 += W.shape[0]
        A, c = eng.slopes[p][:, None] * Ap, eng.slopes[p] * cp + off[p]
    return maps, eng.layers[-1][0] @ A


def flip_values(eng: "FixedNet", pat: np.ndarray) -> tuple[np.ndarray, ...]:
    """``||J||_2`` of every pattern one unit away from ``pat`` (each unit to each adjacent piece).

    Returns, one entry per flip: the unit's index, its new piece, the flipped region's
    ``||J||_2``, and the unit's pre-activation ``a_u(x) = A_u·x + c_u`` on the region of
    ``pat`` (rows ``A_u`` and ``c_u``: the flip crosses ``a_u = κ``).
    """
    maps, J = region_maps(eng, pat)
    nk = eng.kinks.size
    lefts: list[np.ndarray] = [np.zeros(0)] * len(maps)
    L = eng.layers[-1][0]                      # ∂f/∂z_l with the pattern fixed, layer by layer downwards
    offs = np.cumsum([0] + [W.shape[0] for W, _ in eng.layers[:-1]])
    for l in range(len(maps) - 1, -1, -1):
        lefts[l] = L
        if l:
            L = (L * eng.slopes[pat[offs[l]:offs[l + 1]]][None, :]) @ eng.layers[l][0]
    units, pieces, mats, rows, consts = [], [], [], [], []
    for l, (A, c) in enumerate(maps):
        p = pat[offs[l]:offs[l + 1]]
        for step in (-1, 1):
            q = p + step
            j = np.flatnonzero((q >= 0) & (q <= nk))
            if not j.size:
                continue
            delta = eng.slopes[q[j]] - eng.slopes[p[j]]
            mats.append(J[None] + delta[:, None, None] * lefts[l].T[j][:, :, None] * A[j][:, None, :])
            units.append(offs[l] + j)
            pieces.append(q[j])
            rows.append(A[j])
            consts.append(c[j])
    if not mats:
        e = np.zeros(0, dtype=np.int64)
        return e, e, np.zeros(0), np.zeros((0, eng.d)), np.zeros(0)
    Jf = np.concatenate(mats)
    eng.tick(Jf.shape[0])                      # one Jacobian per region rated
    return (np.concatenate(units), np.concatenate(pieces), eng.spec(Jf)[0], np.concatenate(rows),
            np.concatenate(consts))


def region_point(eng: "FixedNet", pat: np.ndarray, radius: float) -> np.ndarray | None:
    """A point deep inside the region of ``pat`` and the ball ``|x| <= radius``, or None.

    The linear program maximises the margin ``t``: distance ``>= t`` inside every
    half-space of the pattern and ``|x| + t <= radius``; the ball enters by tangent
    cuts at the solutions that leave it (at most :data:`MAX_CUTS`).  None when the
    margin is not positive (the region misses the ball's interior) or the cuts run out.
    Ticks :data:`LP_COST` evaluations per half-space and solve (the cost of the program).
    """
    maps, _ = region_maps(eng, pat)
    kinks = eng.kinks
    G, h, i0 = [], [], 0
    for A, c in maps:
        p = pat[i0:i0 + A.shape[0]]
        i0 += A.shape[0]
        lo = np.concatenate([[-np.inf], kinks])[p]
        hi = np.concatenate([kinks, [np.inf]])[p]
        nrm = np.linalg.norm(A, axis=1)
        flat = ~(nrm > 1e-300 * (1 + np.abs(c)))
        if np.any(flat & ~((lo < c) & (c < hi))):
            return None                          # a constant pre-activation outside its piece
        for bound, sign in ((lo, -1.0), (hi, 1.0)):
            k = np.flatnonzero(np.isfinite(bound) & ~flat)
            # sign·(A x + c - bound) + t |A| <= 0
            G.append(np.hstack([sign * A[k], nrm[k][:, None]]))
            h.append(sign * (bound[k] - c[k]))
    G = np.concatenate(G) if G else np.zeros((0, eng.d + 1))
    h = np.concatenate(h) if h else np.zeros(0)
    return margin_point(G, h, radius, eng.tick)


def margin_point(G: np.ndarray, h: np.ndarray, radius: float, tick: Any = None) -> np.ndarray | None:
    """A point ``x`` of the ball ``|x| <= radius`` with ``G[:, :-1] x + t G[:, -1] <= h`` for the
    largest margin ``t`` (the last column holds the rows' norms), or None when ``t <= 0``.

    A linear program (scipy's HiGHS) with the ball as tangent cuts ``u·x + t <= radius`` at
    the solutions outside it (at most :data:`MAX_CUTS`); ``tick(k)`` counts its cost.
    """
    from scipy.optimize import linprog

    d = G.shape[1] - 1
    cuts: list[np.ndarray] = []
    bounds = [(-radius, radius)] * d + [(0.0, radius)]
    cost = np.zeros(d + 1)
    cost[-1] = -1.0
    for _ in range(MAX_CUTS):
        if tick is not None:
            tick(LP_COST * (G.shape[0] + len(cuts) + 1))
        Gc = np.vstack([G, *[np.append(u, 1.0)[None, :] for u in cuts]]) if cuts else G
        hc = np.concatenate([h, np.full(len(cuts), radius)])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = linprog(cost, A_ub=Gc if Gc.shape[0] else None, b_ub=hc if Gc.shape[0] else None,
                          bounds=bounds, method="highs")
        if res.status != 0 or not res.x[-1] > 1e-9 * radius:
            return None
        x, t = res.x[:-1], res.x[-1]
        nx = float(np.linalg.norm(x))
        if nx + 0.5 * t <= radius:
            return x
        cuts.append(x / nx)
    return None


# ---------------------------------------------------------------------------
# the climb
# ---------------------------------------------------------------------------
def best_flip(ctx: InputContext, x: np.ndarray, value: float | None = None, max_lp: int | None = None
              ) -> tuple[np.ndarray, float] | None:
    """The best improving move from the region of ``x``, or None at a local optimum in pattern space.

    First the cheap points: for every flip, the point of the ball nearest to ``x`` just past
    the unit's boundary (:func:`~symlip.search.strategies.walk.across_boundary`), rated at
    its real pattern (often the flipped one; for deeper networks also regions several units
    away).  Then, best first, the linear program (:func:`region_point`) for the single
    flips whose value beats every cheap point; the first feasible one is the best
    improving reachable flip (with ``max_lp``, only that many programs are solved: the
    answer None is then a local optimum as far as checked).  Returns a point inside the
    ball and its ``||J||_2`` recomputed there (every point rated is offered to ``ctx``).
    """
    eng = ctx.eng
    pat = eng.pattern(x[None, :])[0]
    if value is None:
        value = float(eng.norms(x[None, :])[0])
    units, pieces, vals, A, c = flip_values(eng, pat)
    best: tuple[np.ndarray, float] | None = None
    known = np.zeros(units.size, dtype=bool)
    if units.size:
        nrm = np.linalg.norm(A, axis=1)
        ok = nrm > 0
        safe = np.where(ok, nrm, 1.0)
        kap = eng.kinks[np.minimum(pieces, pat[units])]
        side = np.where(pieces > pat[units], 1.0, -1.0)
        Y, inside = across_boundary(np.broadcast_to(x, A.shape), A / safe[:, None], (kap - c) / safe, side,
                                    ctx.Rin, past=_PAST)
        idx = np.flatnonzero(ok & inside)
        if idx.size:
            Y = Y[idx]
            vy = eng.norms(Y)
            P = eng.pattern(Y)
            known[idx] = P[np.arange(idx.size), units[idx]] == pieces[idx]
            known[idx] &= np.sum(P != pat, axis=1) == 1
            j = int(np.argmax(vy))
            if vy[j] > value * (1 + IMPROVE):
                best = _centred(ctx, Y[j], P[j], float(vy[j]))
            ctx.offer(Y, vy)
    bar = value if best is None else best[1]
    todo = np.flatnonzero((vals > bar * (1 + IMPROVE) + 1e-300) & ~known)
    for i in todo[np.argsort(-vals[todo], kind="stable")][:max_lp]:
        q = pat.copy()
        q[units[i]] = pieces[i]
        y = region_point(eng, q, ctx.Rin)
        if y is None or not np.array_equal(eng.pattern(y[None, :])[0], q):
            continue                             # unreachable (or the LP's point sits on a boundary)
        v = float(eng.norms(y[None, :])[0])
        ctx.offer(y[None, :], np.array([v]))
        if v > bar * (1 + IMPROVE):
            return y, v
    return best


def _centred(ctx: InputContext, y: np.ndarray, pat: np.ndarray, value: float) -> tuple[np.ndarray, float]:
    """The point of the region of ``y`` deepest inside it (so the final pair's chord is long),
    offered before ``y`` (the pool keeps the first point of a value); ``y`` if the program fails."""
    z = region_point(ctx.eng, pat, ctx.Rin)
    if z is not None and np.array_equal(ctx.eng.pattern(z[None, :])[0], pat):
        vz = float(ctx.eng.norms(z[None, :])[0])
        ctx.offer(z[None, :], np.array([vz]))
        if vz >= value * (1 - IMPROVE):
            return z, vz
    return y, value


def climb(ctx: InputContext, x: np.ndarray, seen: set[bytes] | None = None,
          max_lp: int | None = None) -> tuple[np.ndarray, float]:
    """Climb from ``x`` by best improving moves (:func:`best_flip`) to a local optimum in pattern
    space (or until the budget ends); every region moved to is witnessed at a point offered to
    ``ctx``.  The patterns visited are added to ``seen``.  Returns the last point and its ``||J||_2``."""
    eng = ctx.eng
    v = float(eng.norms(x[None, :])[0])
    ctx.offer(x[None, :], np.array([v]))
    while True:
        step = best_flip(ctx, x, v, max_lp)
        if step is None:
            return x, v
        x, v = step
        if seen is not None:
            seen.add(eng.pattern(x[None, :])[0].tobytes())
