"""The numeric tier of the activation constants: an estimate, not a proof (docs/theory.md §1.4).

Used when neither the exact nor the certified tier succeeds: dense samples on
the whole real line (``t = s/(1-|s|)``), dense local grids where the
arguments of the expression's functions vanish (``sinc(t - 100)``: around
``t = 100``), golden-section refinement and sympy limits at ``±oo``.  A bound
refuses to rest on it unless the user opts in (``allow_numeric``).
"""
from __future__ import annotations

import math
import time
from typing import Callable

import mpmath
import numpy as np
import sympy as sp

from symlip.activations.arb import point_interval
from symlip.activations.base import T
from symlip.activations.exact import InfiniteSup, feature_centres, is_infinite, limit_at, real_number
from symlip.activations.timelimit import Deadline, TierFailed, can_time_limit

__all__ = ["numeric_sup", "Sampler", "sample_points", "NUMERIC_SECONDS"]

#: time budget (seconds) of one numeric estimate
NUMERIC_SECONDS = 1.5

#: beyond this |t| single points are not evaluated in mpmath (sin(exp(t)) needs ~1.44|t| bits)
_MP_POINT_MAX = 1e4


class Sampler:
    """``|g|`` in float64 on arrays (numpy/scipy), with single-point fallbacks
    (a narrow arb enclosure, else mpmath at 30 digits for ``|t| <= 1e4``); nan where unknown."""

    def __init__(self, g: sp.Expr) -> None:
        self.g = g
        self.vectorised = None
        try:
            f = sp.lambdify(T, g, modules=["scipy", "numpy"])
            with np.errstate(all="ignore"):
                np.asarray(f(np.array([0.5, 1.5])))
            self.vectorised = f
        except Exception:  # noqa: BLE001 - no numpy form: single points only
            pass
        self._mp: Callable | None = None

    def values(self, t: np.ndarray) -> np.ndarray:
        if self.vectorised is None:
            return np.array([self.point(float(x)) for x in t])
        with np.errstate(all="ignore"):
            try:
                y = np.asarray(self.vectorised(t))
            except Exception:  # noqa: BLE001
                return np.full(t.shape, np.nan)
        if y.shape != t.shape:
            y = np.broadcast_to(y, t.shape)
        if np.iscomplexobj(y):
            y = np.where(np.abs(y.imag) <= 1e-12 * np.abs(y.real), y.real, np.nan)
        y = np.abs(np.asarray(y, dtype=float))
        y[~np.isfinite(y)] = np.nan
        return y

    def point(self, x: float, dps: int = 30) -> float:
        y = point_interval(self.g, x)
        if y is not None:
            if not y.is_finite():  # undefined, or too large for mpmath to finish (exp(exp(exp(t))))
                return math.nan
            lo, hi = float(y.lo), float(y.hi)
            if hi - lo <= 1e-9 * max(abs(lo), abs(hi)) + 1e-300:
                return abs((lo + hi) / 2)
        if not abs(x) <= _MP_POINT_MAX:
            return math.nan
        try:
            if self._mp is None:
                self._mp = sp.lambdify(T, self.g, modules="mpmath")
            with mpmath.workdps(dps):
                y = self._mp(mpmath.mpf(x))
                if isinstance(y, mpmath.mpc):
                    if abs(y.imag) > 1e-20 * max(1, abs(y.real)):
                        return math.nan
                    y = y.real
                y = abs(float(y))
        except Exception:  # noqa: BLE001 - undefined here (e.g. a removable singularity)
            return math.nan
        return y if math.isfinite(y) else math.nan




def _blow_up(samp: "Sampler", points: list[float], a: float, b: float) -> float | None:
    """A point ``c`` among ``points`` where ``|g|`` grows without bound as ``t -> c``
    inside ``(a, b)``: at ``c ± 10^-k (1 + |c|)``, ``k = 7..12``, the values (arb or
    mpmath at 60 digits, so cancellation cannot fake it) increase and grow tenfold."""
    k = np.arange(7, 13)
    for c in points:
        for side in (-1.0, 1.0):
            t = c + side * 10.0 ** -k * (1 + abs(c))
            if not np.all((t > a) & (t < b)) or np.any(t == c):
                continue
            quick = samp.values(t)
            if np.all(np.isfinite(quick)) and not (quick[-1] > 5 * quick[0]):
                continue  # float64 sees no growth: skip the precise check
            y = [samp.point(float(x), dps=60) for x in t]
            if all(math.isfinite(v) for v in y) and all(v2 > v1 for v1, v2 in zip(y, y[1:])) \
                    and y[-1] > 10 * y[0]:
                return c
    return None


def sample_points(a: float, b: float, centres: list[float], dense: bool) -> np.ndarray:
    """Samples of ``[a, b]`` (ends may be infinite): the whole line through
    ``t = s/(1-|s|)``, a fine grid on ``[-64, 64]`` and around each centre, points
    approaching finite ends, and far points up to ``|t| = 1e300``."""
    k = 1 if dense else 20
    s = np.linspace(-1.0, 1.0, 40001 // k + 1)[1:-1]
    parts = [s / (1.0 - np.abs(s)), np.linspace(-64.0, 64.0, 64001 // k)]
    parts += [c + np.linspace(-64.0, 64.0, 16001 // k) for c in centres]
    near = np.logspace(-12, 1, 300 // k)
    parts += [end + side * near for end in (a, b) if math.isfinite(end) for side in (-1.0, 1.0)]
    far = np.logspace(0, 300, 1201 // k)
    parts += [far, -far]
    t = np.concatenate(parts)
    return np.unique(t[(t > a) & (t < b)])


def _grows(t: np.ndarray, y: np.ndarray, side: int) -> bool:
    """Whether the maxima of the finite samples ``y`` over the shells
    ``2^k <= side*t < 2^(k+1)`` increase over the last six shells, beyond ``1e6``
    or still beyond ``|t| = 2^100`` (a bounded monotone function flattens out in
    float64 long before: ``W(t^2) ~ 2 log t`` does not)."""
    sel = (side * t >= 8) & np.isfinite(y)
    if not sel.any():
        return False
    k = np.floor(np.log2(side * t[sel])).astype(int)
    shells = np.unique(k)
    maxima = [float(y[sel][k == j].max()) for j in shells]
    last = maxima[-6:]
    return (len(last) == 6 and all(b > a for a, b in zip(last, last[1:]))
            and (last[-1] > 1e6 or shells[-1] >= 100))


def _golden_max(f: Callable[[float], float], a: float, b: float, steps: int = 60) -> tuple[float, float]:
    """``(x, f(x))`` after golden-section search for a maximum of ``f`` on ``[a, b]``."""
    phi = (math.sqrt(5) - 1) / 2
    c, d = b - phi * (b - a), a + phi * (b - a)
    fc, fd = f(c), f(d)
    for _ in range(steps):
        if not (fc <= fd):  # nan counts as small
            b, d, fd = d, c, fc
            c = b - phi * (b - a)
            fc = f(c)
        else:
            a, c, fc = c, d, fd
            d = a + phi * (b - a)
            fd = f(d)
    x = (a + b) / 2
    return x, f(x)


def numeric_sup(pieces, order: int, seconds: float = NUMERIC_SECONDS) -> tuple[mpmath.mpf, str]:
    """An estimate of ``sup |σ^(order)|`` on the whole real line (not a proof).

    Raises :class:`InfiniteSup` when a sympy limit at ``±oo`` (time-limited, main
    thread) is infinite.
    """
    end = time.monotonic() + seconds
    best, best_at = -1.0, None
    growth = []
    centres_used: set[float] = set()
    limits_used = False
    timed_out = False
    for e, I in pieces:
        g = sp.diff(e, T, order) if order else e
        samp = Sampler(g)
        a = -math.inf if I.inf == -sp.oo else float(I.inf)
        b = math.inf if I.sup == sp.oo else float(I.sup)
        if I.measure == 0:
            if order == 0:
                v = samp.point(a)
                if v > best:
                    best, best_at = v, a
            continue
        centres = feature_centres(g)
        centres_used.update(centres)
        ends = [x for x in (a, b) if math.isfinite(x)]
        near = _blow_up(samp, ends + feature_centres(g, near_zero=True), a, b)
        if near is not None:
            return mpmath.inf, f"numeric: |σ^({order})| grows without bound as t -> {near:g}"
        t = sample_points(a, b, centres + ends, dense=samp.vectorised is not None)
        y = samp.values(t)
        for i in np.flatnonzero(np.isnan(y) & (np.abs(t) <= _MP_POINT_MAX))[:40]:
            if time.monotonic() > end:
                timed_out = True
                break
            y[i] = samp.point(float(t[i]))
        ok = np.flatnonzero(np.isfinite(y))
        if ok.size:
            ranked = ok[np.argsort(-y[ok])]
            picked: list[int] = []
            for i in ranked[:200]:
                if len(picked) >= 8:
                    break
                if all(abs(t[i] - t[j]) > 1e-6 * (1 + abs(t[j])) for j in picked):
                    picked.append(int(i))
            if y[ranked[0]] > best:
                best, best_at = float(y[ranked[0]]), float(t[ranked[0]])

            def f1(x: float) -> float:
                v = samp.values(np.array([x]))[0]
                return v if math.isfinite(v) else -math.inf

            for i in picked:
                if time.monotonic() > end:
                    timed_out = True
                    break
                lo_t, hi_t = t[max(i - 1, 0)], t[min(i + 1, t.size - 1)]
                x, v = _golden_max(f1, float(lo_t), float(hi_t))
                if v > best:
                    best, best_at = v, x
        for side, edge in ((1, I.sup), (-1, I.inf)):
            if edge not in (sp.oo, -sp.oo):
                continue
            if _grows(t, y, side):
                growth.append(side)
            if can_time_limit() and time.monotonic() < end:
                limits_used = True
                try:
                    lim = limit_at(g, edge, None, Deadline(max(min(1.0, end - time.monotonic()), 0.05)))
                except TierFailed:
                    continue
                if lim is sp.nan or lim.has(sp.Limit, sp.nan):  # sympy could not decide
                    continue
                if is_infinite(lim) and not isinstance(lim, sp.AccumBounds):
                    raise InfiniteSup(f"limit t->{edge} (sympy)")
                try:
                    if isinstance(lim, sp.AccumBounds):
                        v = float(max(abs(real_number(lim.min)), abs(real_number(lim.max))))
                    else:
                        v = float(abs(real_number(lim)))
                except TierFailed:
                    continue
                if v > best:
                    best, best_at = v, side * math.inf
    if growth or best > 1e250:
        return mpmath.inf, (f"numeric: |σ^({order})| grows without bound on samples as t -> "
                            f"{'±oo' if not growth else ('+oo' if growth[0] > 0 else '-oo')}")
    if best_at is not None and math.isfinite(best_at) and abs(best_at) <= _MP_POINT_MAX:
        samp_best = None
        for e, I in pieces:  # polish the value at the maximiser in mpmath
            if I.measure != 0 and I.contains(sp.Float(best_at)) is sp.true:
                samp_best = Sampler(sp.diff(e, T, order) if order else e)
        if samp_best is not None:
            samp_best.vectorised = None
            v = samp_best.point(best_at)
            if math.isfinite(v):
                best = v
    if best < 0:
        return mpmath.inf, "numeric: no finite value found (time limit or evaluation failures)"
    where = ("as t -> ±oo" if best_at is not None and not math.isfinite(best_at)
             else f"at t ≈ {best_at:.10g}")
    how = ("numeric estimate, not a proof: samples on the whole line (t = s/(1-|s|)), a grid on "
           "[-64, 64]" + (" and around t = " + ", ".join(f"{c:g}" for c in sorted(centres_used))
                          if centres_used else "")
           + ", golden-section refinement" + (", sympy limits at ±oo" if limits_used else "")
           + f"; max {where}" + ("; time limit reached" if timed_out else ""))
    return mpmath.mpf(best), how


