"""The certified tier of the activation constants (docs/theory.md §1.4).

A rigorous enclosure ``[lower, upper]`` of ``sup |σ^(k)|``: branch and bound
with the arb interval extensions of :mod:`symlip.activations.arb` (natural
and mean-value forms) on ``[-M, M]``, plus a proven bound on the tails
``|t| >= M`` (a term bound of the dominant-term form
:class:`~symlip.activations.exact.ExpPolyForm`, or interval evaluation on
``[M, +inf]``).  ``M`` grows (up to ``6.5e5``) while the tail bound exceeds
the values found inside, so a feature at ``t = 100`` is inside the searched
region.
"""
from __future__ import annotations

import heapq
import itertools
import math
import time
from typing import Callable

import mpmath
import sympy as sp
from flint import arb

from symlip.activations.arb import (NINF, PINF, ZERO, ArbInterval, abs_lower, abs_upper, arb_evaluator,
                                    at_arb_precision, ball_upper, enclose_constant, eval_or_none, iv_add, iv_mul,
                                    iv_point, iv_sub, to_arb, to_mpf)
from symlip.activations.base import T
from symlip.activations.exact import T_TAIL, exp_poly_form, feature_centres
from symlip.activations.timelimit import TierFailed

__all__ = ["certified_sup", "CERT_SECONDS"]

#: time budget (seconds) of one certified enclosure
CERT_SECONDS = 3.5

#: largest half-width of the bounded region (:data:`~symlip.activations.exact.T_TAIL` grown 16-fold 4 times)
_T_MAX = 40 * 16 ** 4


def _ratio_ok(a: arb, b: arb, rel: float) -> bool:
    """``a <= b * (1 + rel)`` as a heuristic decision (floats)."""
    fa, fb = float(a), float(b)
    return fa <= fb * (1 + rel)


def _mid(a: arb, b: arb) -> arb:
    return ((a + b) / 2).mid()


class _Enclosure:
    """Branch and bound for ``sup |g|`` on finite intervals (natural ∩ mean-value form)."""

    def __init__(self, g: sp.Expr, gp: sp.Expr) -> None:
        self.G = arb_evaluator(g)
        try:
            self.GP = arb_evaluator(gp)
        except TierFailed:
            self.GP = None
        self.lower = ZERO
        self.evals = 0

    def point(self, x: arb) -> None:
        y = eval_or_none(self.G, iv_point(x))
        self.evals += 1
        if y is not None:
            self.lower = max(self.lower, abs_lower(y))

    def upper(self, a: arb, b: arb) -> arb:
        """Upper bound of ``|g|`` on ``[a, b]``; also improves the lower bound."""
        X = ArbInterval(a, b)
        m = _mid(a, b)
        nat = eval_or_none(self.G, X)
        gm = eval_or_none(self.G, iv_point(m))
        dg = eval_or_none(self.GP, X) if self.GP is not None else None
        self.evals += 3
        best = PINF if nat is None else abs_upper(nat)
        if gm is not None:
            self.lower = max(self.lower, abs_lower(gm))
            if dg is not None:
                cen = iv_add(gm, iv_mul(dg, iv_sub(X, iv_point(m))))
                best = min(best, abs_upper(cen))
        return best

    def run(self, cells: list[tuple[arb, arb]], stop: Callable[[], arb],
            deadline: float, max_evals: int) -> tuple[arb, int]:
        heap = []
        count = itertools.count()
        self.point(cells[0][0])
        self.point(cells[-1][1])

        def push(up: arb, a: arb, b: arb) -> None:
            heapq.heappush(heap, (-float(up), next(count), up, a, b))

        for a, b in cells:
            push(self.upper(a, b), a, b)
        while heap and self.evals < max_evals and time.monotonic() < deadline:
            top = heap[0][2]
            if top <= stop():
                break
            _, _, up, a, b = heapq.heappop(heap)
            m = _mid(a, b)
            if not a < m < b:  # cannot split further
                push(up, a, b)
                break
            push(self.upper(a, m), a, m)
            push(self.upper(m, b), m, b)
        return (max(e[2] for e in heap) if heap else ZERO), len(heap)


def _tail_interval(G: Callable, M: arb, side: int) -> tuple[arb, arb] | None:
    """Upper bound of ``|g|`` on the tail by interval evaluation on ``[M, +inf]``."""
    X = ArbInterval(M, PINF) if side > 0 else ArbInterval(NINF, -M)
    y = eval_or_none(G, X)
    if y is None:
        return None
    hi = abs_upper(y)
    return (hi, M) if hi.is_finite() else None


def _grid(a: arb, b: arb, n: int) -> list[tuple[arb, arb]]:
    """``n`` adjacent cells covering ``[a, b]`` (exact ends)."""
    pts = [a] + [(a + (b - a) * i / n).mid() for i in range(1, n)] + [b]
    pts = [p for i, p in enumerate(pts) if i == 0 or p > pts[i - 1]]
    return list(zip(pts, pts[1:]))


class _Piece:
    """One piece of σ^(order) prepared for the certified tier."""

    def __init__(self, g: sp.Expr, a: arb, b: arb) -> None:
        self.g, self.a, self.b = g, a, b
        self.enc = _Enclosure(g, sp.diff(g, T))
        self.forms = {side: exp_poly_form(g, side)
                      for side, unbounded in ((+1, b == PINF), (-1, a == NINF)) if unbounded}
        for c in feature_centres(g):  # shifted features: lower bounds where they sit
            x = to_arb(c)
            if a < x < b:
                self.enc.point(x)

    def tail(self, side: int, region: arb) -> tuple[arb, arb, str]:
        """``(bound of |g| on the tail, where the tail starts, how)``, starting it as early as the bound allows."""
        near = self.a if side > 0 else -self.b  # the piece's other end, seen from the tail
        base = max(near, ZERO) if near.is_finite() else ZERO
        form = self.forms[side]
        best = None
        for k in range(5):
            M = ball_upper(base + region / 2 ** k)
            res = None if form is None else form.bound(M)
            how = "exp-polynomial term bound"
            if res is None:
                res = _tail_interval(self.enc.G, M, side)
                how = "interval evaluation"
            if res is None:
                break
            if best is not None and not _ratio_ok(res[0], best[0], 2.0 ** -60):
                break
            best = (res[0], res[1], how)
        if best is None:
            raise TierFailed(f"no tail bound for σ^(k) = {self.g} as t -> {side * sp.oo}")
        for k in (10, 20, 40, 80, 160, 320):  # far points: lower bounds near a limit sup
            self.enc.point(side * arb(2) ** k)
        return best


@at_arb_precision
def certified_sup(pieces, order: int, seconds: float = CERT_SECONDS) -> tuple[mpmath.mpf, mpmath.mpf, str]:
    """Rigorous ``lower <= sup |σ^(order)| <= upper`` over the pieces' open interiors.

    The bounded region ``[-M, M]`` grows (16-fold, up to :data:`_T_MAX`) while a
    tail bound exceeds the values found so far and growing lowers it: the
    enclosure is rigorous for any ``M`` (the tails are bounded for ``|t| >= M``),
    growing only makes it tight for features far from 0.
    """
    deadline = time.monotonic() + seconds
    lower = ZERO
    fixed: list[arb] = []
    prepared: list[_Piece] = []
    for e, I in pieces:
        if I.measure == 0:
            if order == 0:
                y = enclose_constant(e.subs(T, I.inf))
                lower = max(lower, abs_lower(y))
                fixed.append(abs_upper(y))
            continue
        g = sp.diff(e, T, order) if order else e
        if g.has(sp.Piecewise):
            raise TierFailed("no rigorous enclosure for a nested Piecewise")
        a = NINF if I.inf == -sp.oo else enclose_constant(I.inf).lo
        b = PINF if I.sup == sp.oo else enclose_constant(I.sup).hi
        prepared.append(_Piece(g, a, b))
    region = arb(T_TAIL)
    # grow the region while the tails dominate what is found inside (cheap: tails and samples only)
    while True:
        tails = [p.tail(side, region) for p in prepared for side in p.forms]
        for p in prepared:  # coarse samples of the bounded part
            lo_end = max(p.a, -region)
            hi_end = min(p.b, region)
            if lo_end < hi_end:
                for c, _ in _grid(lo_end, hi_end, 256):
                    p.enc.point(c)
            lower = max([lower] + [p.enc.lower for p in prepared])
        worst = max((t[0] for t in tails), default=ZERO)
        bigger = region * 16
        if (not tails or _ratio_ok(worst, lower, 2.0 ** -40) or bigger > _T_MAX
                or time.monotonic() > deadline - 0.6 * seconds):
            break
        grown = [p.tail(side, bigger) for p in prepared for side in p.forms]
        if not (max(t[0] for t in grown) < worst):  # growing does not tighten the tails
            break
        region = bigger
    uppers = list(fixed)
    tail_how = set()
    jobs = []
    for p in prepared:
        a, b = p.a, p.b
        for side in p.forms:
            bnd, M, how = p.tail(side, region)
            uppers.append(bnd)
            tail_how.add(f"{how} on |t|>={float(M):.6g}")
            if side > 0:
                b = M
            else:
                a = -M
        if a < b:
            jobs.append((p.enc, a, b))
        else:
            p.enc.point(a)
        lower = max(lower, p.enc.lower)
    n_cells = 0
    for enc, a, b in jobs:
        n = int(min(max(8, math.ceil(float(b - a) / 2.5)), 256))

        def stop(enc=enc):
            return ball_upper(max(lower, enc.lower) * (1 + arb(2) ** -44) + arb(2) ** -1000)

        up, left = enc.run(_grid(a, b, n), stop, deadline, max_evals=40000)
        lower = max(lower, enc.lower)
        uppers.append(up)
        n_cells += left
    upper = max(uppers) if uppers else ZERO
    if not upper.is_finite():
        raise TierFailed("interval enclosure is unbounded")
    how = (f"arb interval branch and bound ({n_cells} cells) on |t|<={float(region):g} + tail: "
           f"{'; '.join(sorted(tail_how)) or 'none'}")
    return to_mpf(lower), to_mpf(upper), how


