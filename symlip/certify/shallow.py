"""Structured enclosures of the local quantities of one-hidden-layer networks (docs/theory.md §8.7 (BB8.3)).

For ``f(x; θ) = Σ_j v_j σ(a_j) + b_2``, ``a_j = w_j·x + b_j`` (``v = W_2``'s row), the
Hessian ``∇²_θ f`` is block diagonal over the hidden units: unit ``j``'s variables
``(w_j, b_j, v_j)`` carry ``H_j = [[v_j σ''(a_j) x̃x̃ᵀ, σ'(a_j) x̃], [σ'(a_j) x̃ᵀ, 0]]``
(``x̃ = (x, 1)``), and every other entry (``b_2``'s row, pairs of units) is zero.  ``H_j``
acts on ``span(x̃, e_v)`` only, where it is ``[[A, B], [B, 0]]`` with ``A = v σ''(a) |x̃|²``,
``B = σ'(a) |x̃|``, so exactly

    ``||∇²_θ f||_2 = max_j φ(|A_j|, |B_j|)``,  ``φ(A, B) = (A + sqrt(A² + 4B²)) / 2``,

nondecreasing in ``A, B >= 0``.  On a box, ``|v_j| <= V_j``, ``|x̃|² <= S²`` and
``a_j`` in its range ``[a_j]`` give ``||H_j|| <= sup_{a ∈ [a_j]} φ(V_j S² |σ''(a)|, S |σ'(a)|)``:
a one-dimensional supremum, bounded rigorously by :func:`sup_upper` (an adaptive
subdivision of ``[a_j]`` in ball arithmetic, deterministic so that a replay re-derives
it).  The dependency between ``σ''`` and ``σ'`` at the same ``a`` is kept, and where
``V_j``, ``S`` and the ends of ``[a_j]`` are attained together (a box region's root)
the bound is the supremum itself.

``lip_f``: ``|g|² = 1 + Σ_j (σ(a_j)² + v_j² σ'(a_j)² |x̃|²)`` (``g = ∇_θ f``), each unit's term a
one-dimensional supremum, or the sums bounded through the layers' norms (:func:`_sums`).
``lip_loss_grad``: ``||g gᵀ + (f - y) H|| <= |g|² + |f - y| ||H||``.  These are first order in
the box width: :class:`~symlip.certify.enclose.Problem` keeps the smaller of them and its
generic enclosures.

On a ball region ``|θ - θ°| <= r`` each unit's variables move by at most ``r``
(``|a_j - w°_j·x - b°_j| <= r |x̃|``, ``|v_j| <= |v°_j| + r``), and the sums over units
share the radius (Cauchy–Schwarz: ``Σ_j |v_j| m_j <= Σ_j |v°_j| m_j + r |m|``).
"""
from __future__ import annotations

import functools
import heapq
import math
import weakref
from typing import Any, Callable

import numpy as np
import sympy as sp
from flint import arb

from symlip.activations.base import T
from symlip.certify.cap import region_layer_bounds
from symlip.certify.interval import ONE, ZERO, ball_function, hull, to_arb, workprec

__all__ = ["applies", "shallow_bound", "shallow_enclosure", "sup_upper", "phi"]

#: (initial piece width, relative target, enclosures per supremum): small networks (the exact
#: tier: every box matters), and networks above ``_FINE_MAX_P`` parameters (one cheap enclosure)
_FINE = (0.25, 3e-4, 100)
_COARSE = (0.25, 1e-2, 24)
_FINE_MAX_P = 24
_V_PIECES = 4  # lip_grad on a ball region, small networks: pieces of each v_j's range (ellipse of (v_j, a_j))
_MAX_INITIAL = 256
_UNIT = arb(0, 1)


def applies(prob: Any) -> bool:
    """Whether the structured bound applies: one hidden layer, scalar output, smooth σ,
    ``lip_f``, ``lip_grad`` or ``lip_loss_grad``."""
    return (prob.quantity in ("lip_f", "lip_grad", "lip_loss_grad") and prob.net.depth == 2
            and prob.net.d_out == 1 and prob.smooth)


def phi(A: arb, B: arb) -> arb:
    """``(A + sqrt(A² + 4 B²)) / 2`` for ``A, B >= 0`` (``max |λ|`` of ``[[±A, ±B], [±B, 0]]``)."""
    return (A + (A * A + 4 * B * B).sqrt()) / 2


def sup_upper(fn: Callable[[arb], arb], lo: arb, hi: arb, rel: float = 1e-4, max_evals: int = 300,
              piece: float = 0.035) -> arb:
    """An exact arb ``>= sup fn`` over ``[lo, hi]`` (``fn`` maps a ball to a ball enclosing
    its values there): the pieces whose enclosure exceeds ``(1 + rel)`` times the best
    midpoint value are halved, worst first, until none is left or ``max_evals`` enclosures
    were made (the first cut is into pieces of width about ``piece``).  Deterministic (no clock)."""
    lo, hi = lo.lower(), hi.upper()
    if not (lo.is_finite() and hi.is_finite()):
        return arb("inf")
    k = max(1, min(_MAX_INITIAL, math.ceil(float(hi - lo) / piece)))
    step = (hi - lo) / k
    heap: list[tuple[float, int, arb, arb, arb]] = []
    best_low = -math.inf
    n = 0

    def push(a: arb, b: arb) -> None:
        nonlocal best_low, n
        up = fn(hull(a, b)).upper()
        m = (a + b) / 2
        low = fn(m.mid()).lower()
        if low.is_finite():
            best_low = max(best_low, float(low))
        n += 1
        heapq.heappush(heap, (-float(up) if up.is_finite() else -math.inf, n, up, a, b))

    for i in range(k):
        a = lo if i == 0 else (lo + step * i).mid()
        b = hi if i == k - 1 else (lo + step * (i + 1)).mid()
        push(a, b)
    while heap and n < max_evals:
        neg, _, up, a, b = heap[0]
        if up.is_finite() and best_low > -math.inf and float(up) <= best_low * (1 + rel):
            break
        heapq.heappop(heap)
        m = ((a + b) / 2).mid()
        if not (a < m < b):  # cannot split further
            heapq.heappush(heap, (neg, 0, up, a, b))
            break
        push(a, m)
        push(m, b)
    return amax(t[2] for t in heap)


def amax(values: Any) -> arb:
    """The largest of exact arbs, compared exactly (a float key could pick a smaller one)."""
    best = None
    for v in values:
        if not v.is_finite():
            return arb("inf")
        best = v if best is None or v > best else best
    return ZERO if best is None else best


@functools.lru_cache(maxsize=32)
def _ball_fns(expr: sp.Expr) -> tuple[Callable[[arb], arb], ...] | None:
    """C ball extensions of σ and its first three derivatives (None when one has none)."""
    exprs = [expr]
    for _ in range(3):
        exprs.append(sp.diff(exprs[-1], T))
    try:
        return tuple(ball_function(e, T) for e in exprs)
    except ValueError:
        return None


def sigma(prob: Any, k: int, u: arb) -> arb:
    """``σ^(k)`` (k <= 2) on the ball ``u``: the natural C ball extension met with the centred
    form ``σ^(k)(m) + σ^(k+1)(u) [±r]``; the problem's own enclosure when there is no C form."""
    fs = _ball_fns(prob.net.activation.expr)
    if fs is None:
        return prob.act(k, u)
    nat = fs[k](u)
    r = u.rad()
    if r != 0:
        cen = fs[k](u.mid()) + fs[k + 1](u) * (r * _UNIT)
        if cen.is_finite():
            nat = cen if not nat.is_finite() else _meet(nat, cen)
    return nat if nat.is_finite() else prob.act(k, u)


def _dist2(lo: float, hi: float, c: float) -> arb:
    """A ball holding the squared distance from ``c`` to the interval ``[lo, hi]``."""
    if lo > c:
        t = to_arb(lo) - to_arb(c)
    elif hi < c:
        t = to_arb(c) - to_arb(hi)
    else:
        return ZERO
    return t * t


def _meet(a: arb, b: arb) -> arb:
    try:
        return a.intersection(b)
    except ValueError:  # disjoint: impossible for sound enclosures
        return a.union(b)


class _Units:
    """Per-unit ranges on a box: ``[a_j]``, ``V_j >= |v_j|``, ``S² >= |x̃|²``, ``|b_2|``."""

    def __init__(self, prob: Any, lo: np.ndarray, hi: np.ndarray, v_pieces: int = 1) -> None:
        net = prob.net
        (sw1, sb1), (sw2, sb2) = net.layer_slices
        d, h = net.d_in, net.widths[1]
        th, x = prob.numbers(lo, hi, None)
        W1 = th[sw1].reshape(h, d)
        xsq = sum((t.abs_upper() * t.abs_upper() for t in x), ZERO)
        R = to_arb(prob.R)
        xsq = xsq if xsq < R * R else R * R
        xmax = self.xmax = xsq.sqrt().upper()
        self.S2 = (ONE + xsq).upper()
        self.S = self.S2.sqrt().upper()
        self.v = th[sw2]
        self.V = [t.abs_upper() for t in self.v]
        self.b2 = th[sb2][0]
        a = [sum((W1[j, k] * x[k] for k in range(d)), ZERO) + th[sb1][j] for j in range(h)]
        self.ball = prob.region.kind == "ball"
        self.pieces: list[list[tuple[arb, arb]]] = [[] for _ in range(h)]
        # the variables of unit j: its row of W_1 and b_1[j] (they move a_j), and v_j
        self.unit_vars = [np.r_[np.arange(sw1.start + j * d, sw1.start + (j + 1) * d), sb1.start + j,
                                sw2.start + j] for j in range(h)]
        if self.ball:
            r = to_arb(prob.region.radius)
            self.r = r
            c = np.asarray(prob.region.center, float)
            d2 = [_dist2(lw, hg, cc) for lw, hg, cc in zip(lo[:prob.P], hi[:prob.P], c)]
            total = sum(d2, ZERO)

            def room(idx: np.ndarray) -> arb:
                """``>= |θ_idx - θ°_idx|`` on the box's domain points: ``r² - Σ_{k ∉ idx} dist_k²``."""
                left = (r * r - (total - sum((d2[k] for k in idx), ZERO))).upper()
                return left.sqrt().upper() if left > 0 else ZERO

            Wc = c[sw1].reshape(h, d)
            for j in range(h):
                wx = sum((to_arb(Wc[j, k]) * x[k] for k in range(d)), ZERO)
                wn = sum((to_arb(t) * to_arb(t) for t in Wc[j]), ZERO).sqrt().upper()
                wx = _meet(wx, arb(0, 1) * (wn * xmax))
                ra = room(self.unit_vars[j][:-1])
                nat = a[j]
                a[j] = _meet(nat, wx + to_arb(c[sb1][j]) + arb(0, 1) * (ra * self.S))
                rv = room(self.unit_vars[j][-1:])
                self.V[j] = min(self.V[j], (to_arb(abs(c[sw2][j])) + rv).upper(), key=float)
                if v_pieces > 1:
                    # (|v_j|, a_j) lie in an ellipse: cut v_j's range, each piece leaves a_j its own room
                    k = sw2.start + j
                    base = r * r - (total - sum((d2[i] for i in self.unit_vars[j]), ZERO))
                    cuts = np.linspace(lo[k], hi[k], v_pieces + 1)
                    cuts[0], cuts[-1] = lo[k], hi[k]
                    for p1, p2 in zip(cuts[:-1], cuts[1:]):
                        left = (base - _dist2(p1, p2, c[k])).upper()
                        if left < 0:
                            continue  # no domain point with v_j in this piece
                        rp = left.sqrt().upper() if left > 0 else ZERO
                        ap = _meet(nat, wx + to_arb(c[sb1][j]) + arb(0, 1) * (rp * self.S))
                        Vp = min(to_arb(max(abs(p1), abs(p2))), self.V[j], key=float)
                        self.pieces[j].append((Vp, ap))
            self.vc = [to_arb(abs(t)) for t in c[sw2]]
            self.b2c = to_arb(abs(c[sb2][0]))
        self.a = a
        self.pieces = [pc or [(V, aj)] for pc, V, aj in zip(self.pieces, self.V, a)]


def _hessian_norm(prob: Any, u: _Units, rel: float, max_evals: int, piece: float) -> arb:
    """``max_j sup_{[a_j]} φ(V_j S² |σ''|, S |σ'|)`` (module docstring); ``u.units`` keeps each unit's."""
    best = ZERO
    u.units = []
    for pieces in u.pieces:
        unit = ZERO
        for Vj, aj in pieces:
            cA, cB = Vj * u.S2, u.S

            def fn(t: arb, cA: arb = cA, cB: arb = cB) -> arb:
                return phi(cA * sigma(prob, 2, t).abs_upper(), cB * sigma(prob, 1, t).abs_upper())

            up = sup_upper(fn, aj.lower(), aj.upper(), rel, max_evals, piece)
            unit = up if up > unit else unit
        u.units.append(unit)
        best = unit if unit > best else best
    return best


def _sums(prob: Any, u: _Units, rel: float, max_evals: int, piece: float) -> tuple[arb, arb, arb]:
    """Bounds of ``Σ_j σ(a_j)²``, ``Σ_j v_j² σ'(a_j)²`` and ``|f|`` on the box: unit by unit, and
    through the layers' norms ``||W_1||_2 <= ω_1``, ``|b_1| <= β_1``, ``|v| <= ω_2``, ``|b_2| <= β_2``
    (:func:`~symlip.certify.cap.region_layer_bounds`): ``|σ(a)| <= |σ(0)| 1 + S_1 |a|`` entrywise
    (``S_1`` = the largest secant slope ``|σ(a) - σ(0)| / |a|`` between 0 and each ``a_j``), so
    ``Σ_j σ(a_j)² <= (|σ(0)| sqrt(h) + S_1 |a|)²`` with ``|a| <= ω_1 |x| + β_1``; on a ball region
    also the joint radius (module docstring).  The smallest of each is kept."""
    coarse = max(8, max_evals // 4)
    m0 = [sup_upper(lambda t: sigma(prob, 0, t).abs_upper(), a.lower(), a.upper(), rel, coarse, 4 * piece)
          for a in u.a]
    m1 = [sup_upper(lambda t: sigma(prob, 1, t).abs_upper(), a.lower(), a.upper(), rel, coarse, 4 * piece)
          for a in u.a]
    s0 = sigma(prob, 0, ZERO)

    def secant(t: arb) -> arb:
        """``|σ(a) - σ(0)| / |a|`` over the ball ``t`` (``sup |σ'|`` there when it holds 0)."""
        if t.contains(0):
            return sigma(prob, 1, t).abs_upper()
        return ((sigma(prob, 0, t) - s0) / t).abs_upper()

    s1z = amax((sup_upper(secant, a.union(ZERO).lower(), a.union(ZERO).upper(), rel, coarse, 4 * piece)
               for a in u.a))
    om, be = _layer_bounds(prob)
    top1 = amax(m1)
    # Σ_j σ(a_j)²
    t0 = sum((m * m for m in m0), ZERO)
    anorm = sum((a.abs_upper() * a.abs_upper() for a in u.a), ZERO).sqrt()
    alt = om[0] * u.xmax + be[0]
    anorm = anorm if anorm < alt else alt
    c = s0.abs_upper() * to_arb(len(u.a)).sqrt() + s1z * anorm
    t0 = t0 if t0 < c * c else c * c
    # Σ_j v_j² σ'(a_j)²
    t1 = sum((V * V * m * m for V, m in zip(u.V, m1)), ZERO)
    alt = om[1] * om[1] * top1 * top1
    t1 = t1 if t1 < alt else alt
    # |f|
    f = sum((V * m for V, m in zip(u.V, m0)), ZERO) + u.b2.abs_upper()
    alt = om[1] * t0.sqrt() + be[1]
    f = f if f < alt else alt
    if u.ball:
        alt = sum((v * m for v, m in zip(u.vc, m0)), ZERO) + u.b2c + u.r * (sum((m * m for m in m0), ZERO) + 1).sqrt()
        f = f if f < alt else alt
        vb = sum((v * v * m * m for v, m in zip(u.vc, m1)), ZERO).sqrt() + u.r * top1
        t1 = t1 if t1 < vb * vb else vb * vb
    return t0.upper(), t1.upper(), f.upper()


_LAYER_BOUNDS: "weakref.WeakKeyDictionary[Any, tuple[list[arb], list[arb]]]" = weakref.WeakKeyDictionary()


def _layer_bounds(prob: Any) -> tuple[list[arb], list[arb]]:
    """:func:`~symlip.certify.cap.region_layer_bounds` of the problem, once per problem."""
    got = _LAYER_BOUNDS.get(prob)
    if got is None:
        got = _LAYER_BOUNDS[prob] = region_layer_bounds(prob.net, prob.region)
    return got


def _grad_norm(prob: Any, u: _Units, rel: float, max_evals: int, piece: float) -> arb:
    """``|∇_θ f|² <= 1 + Σ_j sup_{[a_j]} (σ(a)² + V_j² S² σ'(a)²)``, or ``1 + Σσ² + S² Σ v² σ'²``
    by :func:`_sums` when smaller."""
    total = ONE
    for aj, Vj in zip(u.a, u.V):
        c = Vj * Vj * u.S2

        def fn(t: arb, c: arb = c) -> arb:
            s0, s1 = sigma(prob, 0, t).abs_upper(), sigma(prob, 1, t).abs_upper()
            return s0 * s0 + c * s1 * s1

        total = total + sup_upper(fn, aj.lower(), aj.upper(), rel / 4, max_evals, piece)
    t0, t1, _ = _sums(prob, u, rel, max_evals, piece)
    alt = ONE + t0 + u.S2 * t1
    total = total if total < alt else alt
    return total.sqrt().upper()


def shallow_enclosure(prob: Any, lo: np.ndarray, hi: np.ndarray) -> tuple[arb, np.ndarray]:
    """:func:`shallow_bound` and split scores: for ``lip_grad`` the relative widths of the
    variables of the units within 1% of the largest bound (and of x), zero elsewhere
    (splitting another unit's variables cannot lower the bound); else all relative widths."""
    with workprec():
        piece, rel, max_evals = _FINE if prob.P <= _FINE_MAX_P else _COARSE
        rlo, rhi = prob.root()
        rel_w = (hi - lo) / np.where(rhi > rlo, rhi - rlo, 1.0)
        if prob.quantity != "lip_grad":
            return _bound(prob, lo, hi), rel_w
        u = _Units(prob, lo, hi, _V_PIECES if prob.P <= _FINE_MAX_P else 1)
        best = _hessian_norm(prob, u, rel, max_evals, piece)
        keep = np.zeros(prob.n, bool)
        keep[prob.P:] = True
        for idx, up in zip(u.unit_vars, u.units):
            if up >= best * 0.99:
                keep[idx] = True
        return best, np.where(keep, rel_w, 0.0)


def shallow_bound(prob: Any, lo: np.ndarray, hi: np.ndarray) -> arb:
    """An exact arb ``>=`` the quantity (``lip_f``, ``lip_grad`` or ``lip_loss_grad``) at every point of the
    box ``lo, hi`` (already contracted to the domain) and every ``|y| <= Y`` (module docstring).
    Each one-dimensional supremum (:func:`sup_upper`) is fine on small networks, coarse above
    ``_FINE_MAX_P`` parameters (a function of the problem only: a replay re-derives it)."""
    with workprec():
        return _bound(prob, lo, hi)


def _bound(prob: Any, lo: np.ndarray, hi: np.ndarray) -> arb:
    piece, rel, max_evals = _FINE if prob.P <= _FINE_MAX_P else _COARSE
    u = _Units(prob, lo, hi)
    if prob.quantity == "lip_f":
        return _grad_norm(prob, u, rel, max_evals, piece)
    Hn = _hessian_norm(prob, u, rel, max_evals, piece)
    if prob.quantity == "lip_grad":
        return Hn
    t0, t1, f = _sums(prob, u, 1e-3, max_evals, piece)
    g2 = ONE + t0 + u.S2 * t1  # |g|² = 1 + Σ_j σ(a_j)² + |x̃|² Σ_j v_j² σ'(a_j)²
    Y = to_arb(prob.Y or 0.0)
    return (g2 + (f + Y) * Hn).upper()
