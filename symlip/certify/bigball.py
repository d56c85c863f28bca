"""A cheap certified bound of ``sup |∇_θ f|`` on a θ-ball around a large network
(docs/theory.md §8.7 (LB8)).

The box enclosures of :mod:`symlip.certify.enclose` carry jets over all ``P + d_0``
variables and cost ``O(P²)`` per box; for thousands of parameters even the root box is
out of reach.  :func:`layer_bound` bounds the local quantity on the whole domain —
``|θ - θ°| <= r``, ``|x| <= R`` — from per-layer norms and one-dimensional suprema of the
activation, in ``O(P)`` work:

* forward: ``|z_l|² <= B_l²`` by (B) of §3.1 and, for a bounded σ, the tangent majorant
  ``σ(a)² <= α_β + β a²`` (``α_β = sup_a σ(a)² - β a²``, enclosed on a grid), summed
  over the units: ``|z_l|² <= d_l α_β + β (ω_l B_{l-1} + β_l)²``;
* backward: with ``v = w_m ⊙ σ'(a_{m-1})`` (``w_m`` the output row),
  ``|∇_θ f|² <= 1 + |z_{m-1}|² + C |v|²``, ``C = K_{m-1} + ω_{m-1}² Σ_{l<=m-2} G'_l² K_l``,
  ``K_l = 1 + B_{l-1}²``, ``G'_{m-2} = S1``, ``G'_l = S1 ω_{l+1} G'_{l+1}``;
* per unit of the last hidden layer the two terms are coupled at the same
  pre-activation ``a_j`` (``|a_j| <= A_j = |w°_j| B_{m-2} + |b°_j| + r (1 + B_{m-2}²)^{1/2}``):
  ``|∇_θ f|² <= 1 + (1 + 1/ε) C r² S1² + Σ_j sup_{|a| <= A_j} σ(a)² + (1 + ε) C w°_j² σ'(a)²``,
  or, uncoupled, ``<= 1 + B_{m-1}² + C S1² (|w°| + r)²``: the smaller counts.

Every number is an arb (or a float rounded in a stated direction, each rounding
accounted for in :func:`_unit_sups`); nothing estimated enters.  The bound does not
depend on a box, so a certificate records it as a leaf of its own (tree code ``-4``)
that :func:`symlip.certify.certificate.replay_certificate` re-derives from scratch.
"""
from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

import numpy as np
from flint import arb

from symlip.certify.cap import region_layer_bounds
from symlip.certify.interval import ONE, ZERO, float_down, float_up, frobenius_up, hull, to_arb, workprec

if TYPE_CHECKING:  # pragma: no cover
    from symlip.certify.enclose import Problem

__all__ = ["layer_bound", "layer_bound_applies", "LARGE_VARIABLES"]

#: from this many free variables on, certify bounds a ``lip_f`` ball by :func:`layer_bound`
#: instead of enclosing the root box (whose jets cost ``O(n²)``)
LARGE_VARIABLES = 1500
_PIECES = 4096  # grid pieces of the one-dimensional suprema
_BETAS = tuple(2.0 ** -k for k in range(0, 9))  # slopes of the tangent majorants (times S1²)
_PROVEN = ("exact", "certified")
_TINY = 2.0 ** -1000  # absolute slack for a float product that may underflow


class _Late(Exception):
    """The deadline passed during the computation (or no bound can be computed)."""


def layer_bound_applies(prob: "Problem") -> str:
    """Why :func:`layer_bound` does not apply to ``prob`` ("" when it does)."""
    net, reg = prob.net, prob.region
    if prob.quantity != "lip_f":
        return "it bounds lip_f only"
    if reg.kind != "ball":
        return "it needs a ball region"
    if net.depth < 2 or net.d_out != 1:
        return "it needs a hidden layer and a scalar output"
    c = net.activation.constants
    for name in ("S0", "S1", "c0"):
        if c[name].provenance not in _PROVEN:
            return f"the activation constant {name} is {c[name].provenance}"
    if not c["S1"].is_finite or not math.isfinite(c["c0"].upper):
        return "it needs a Lipschitz activation"
    return ""


def layer_bound(prob: "Problem", deadline: float | None = None) -> arb | None:
    """An exact arb ``>= |∇_θ f(x; θ)|`` for every θ of the ball region and ``|x| <= R``
    (module docstring), or None when it does not apply or ``deadline`` (a
    :func:`time.monotonic` time) passes first."""
    if layer_bound_applies(prob):
        return None
    try:
        with workprec():
            return _bound(prob, deadline)
    except _Late:
        return None


def _tick(deadline: float | None) -> None:
    if deadline is not None and time.monotonic() >= deadline:
        raise _Late


def _bound(prob: "Problem", deadline: float | None) -> arb:
    net, reg = prob.net, prob.region
    c = net.activation.constants
    S0 = to_arb(c["S0"].upper) if c["S0"].is_finite else None
    S1, c0 = to_arb(c["S1"].upper), to_arb(c["c0"].upper)
    r, R = to_arb(reg.radius), to_arb(prob.R)
    m = net.depth
    om, be = region_layer_bounds(net, reg)  # ω_l >= ||W_l||_2, β_l >= |b_l| on the ball
    plain = _forward(net, om, be, R, S0, S1, c0, [])
    # the grid covers every |a_j| of the last hidden layer (A_j below, with the plain B) and,
    # for a bounded σ, the tangents' M = S0 / sqrt(β) of the smallest β
    reach = om[m - 2] * plain[m - 2].sqrt() + be[m - 2] + r * (ONE + plain[m - 2]).sqrt()
    M = float_up(reach)
    if S0 is not None:
        M = max(M, float_up(S0 / to_arb(_BETAS[-1] * float_up(S1 * S1)).sqrt()))
    if not M < 2.0 ** 60:
        raise _Late  # no useful grid: no bound
    M = float(2.0 ** math.ceil(math.log2(M))) if M > 0 else 1.0  # few distinct grids (cache)
    edges, s2, d2 = _pieces(prob, M, deadline)
    alphas = _tangents(edges, s2, S0, S1) if S0 is not None else []
    bsq = _forward(net, om, be, R, S0, S1, c0, alphas)  # bsq[l] >= |z_l|²
    K = [None] + [ONE + bsq[l - 1] for l in range(1, m)]  # K[l] >= 1 + |z_{l-1}|²
    tail, g = ZERO, S1  # Σ_{l <= m-2} G'_l² K_l
    for l in range(m - 2, 0, -1):
        tail = tail + g * g * K[l]
        g = g * S1 * om[l - 1]  # G'_{l-1} = S1 ω_l G'_l (om[l - 1] is ω_l)
    C = K[m - 1] + (om[m - 2] * om[m - 2] * tail if m >= 3 else ZERO)
    layers = net.unflatten(np.asarray(reg.center, float))
    Wh, bh = layers[m - 2]
    w = layers[m - 1][0][0]
    bprev = bsq[m - 2].sqrt()
    shift = r * (ONE + bsq[m - 2]).sqrt()
    A = []
    for row, bj in zip(Wh, bh):
        _tick(deadline)
        A.append(frobenius_up(to_arb(t) for t in row) * bprev + abs(to_arb(bj)) + shift)
    wn = frobenius_up(to_arb(t) for t in w)
    eps = ZERO if reg.radius == 0 else (r / wn if wn > 0 else ONE)
    D = [(ONE + eps) * C * to_arb(t) * to_arb(t) for t in w]
    sups = _unit_sups(edges, s2, d2, A, D, deadline)
    extra = (ONE + ONE / eps) * C * r * r * S1 * S1 if reg.radius > 0 else ZERO
    coupled = ONE + extra + sum(sups, ZERO)
    uncoupled = ONE + bsq[m - 1] + C * (S1 * (wn + r)) ** 2  # |z_{m-1}|² <= B², |v| <= S1 |w_m|
    return _least([coupled, uncoupled]).sqrt().upper()


def _forward(net: Any, om: list[arb], be: list[arb], R: arb, S0: arb | None, S1: arb, c0: arb,
             alphas: list[tuple[arb, arb]]) -> list[arb]:
    """Upper ends of ``|z_l|²``, ``l = 0 … m-1``: (B) of docs/theory.md §3.1 and the tangents."""
    bsq = [R * R]
    for l in range(1, net.depth):
        d = arb(net.widths[l])
        A = om[l - 1] * bsq[-1].sqrt() + be[l - 1]  # >= |a_l|
        cands = [(S1 * A + c0 * d.sqrt()) ** 2] + [d * a + b * A * A for b, a in alphas]
        if S0 is not None:
            cands.append(d * S0 * S0)
        bsq.append(_least(cands))
    return bsq


def _least(cands: list[arb]) -> arb:
    """The smallest upper end among balls that all bound the same quantity."""
    best = cands[0].upper()
    for a in cands[1:]:
        if a.upper() < best:
            best = a.upper()
    return best


_GRIDS: dict[tuple[str, float], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}


def _pieces(prob: "Problem", M: float, deadline: float | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Grid edges on ``[-M, M]`` and float upper ends of ``σ²`` and ``σ'²`` on each piece
    (cached per activation and ``M``: the enclosures depend on nothing else)."""
    key = (str(prob.net.activation.expr), M)
    if key in _GRIDS:
        return _GRIDS[key]
    edges = np.linspace(-M, M, _PIECES + 1)
    s2, d2 = np.empty(_PIECES), np.empty(_PIECES)
    for k in range(_PIECES):
        if k % 256 == 0:
            _tick(deadline)
        u = hull(edges[k], edges[k + 1])
        s, ds = prob.act(0, u), prob.act(1, u)
        s2[k] = float_up(s.abs_upper() ** 2)
        d2[k] = float_up(ds.abs_upper() ** 2)
    if len(_GRIDS) > 32:
        _GRIDS.clear()
    _GRIDS[key] = (edges, s2, d2)
    return edges, s2, d2


def _tangents(edges: np.ndarray, s2: np.ndarray, S0: arb, S1: arb) -> list[tuple[arb, arb]]:
    """``(β, α_β)`` with ``σ(a)² <= α_β + β a²`` for every real ``a`` (σ bounded by ``S0``):
    on the grid's pieces from their enclosures, beyond ``M = S0 / sqrt(β)`` (the grid covers
    it) ``σ² - βa² <= S0² - βM² <= 0``."""
    s1sq = float_up(S1 * S1)
    lo, hi = edges[:-1], edges[1:]
    amin = np.where((lo <= 0) & (hi >= 0), 0.0, np.minimum(np.abs(lo), np.abs(hi)))
    out = []
    for b in _BETAS:
        beta = to_arb(b * s1sq)
        if not float_up(S0 / beta.sqrt()) <= min(-edges[0], edges[-1]):
            continue
        # float products of nonnegatives, rounded down overall: fl(fl(β a²)(1 - 2^-50)) <= β a²
        # (each product within a factor 1 ± 2^-53 of the exact one), less 2^-1000 for underflow
        low = np.maximum((float_down(beta) * (amin * amin)) * (1 - 2.0 ** -50) - _TINY, 0.0)
        k = int(np.argmax(s2 - low))
        # the float argmax may miss the exact one by the rounding of two differences
        slack = to_arb(2.0 ** -50) * to_arb(float(np.max(s2)) + float(np.max(low)))
        alpha = to_arb(s2[k]) - to_arb(low[k]) + slack
        out.append((beta, (alpha if alpha > 0 else ZERO).upper()))
    return out


def _unit_sups(edges: np.ndarray, s2: np.ndarray, d2: np.ndarray, A: list[arb], D: list[arb],
               deadline: float | None) -> list[arb]:
    """Upper ends of ``sup_{|a| <= A_j} σ(a)² + D_j σ'(a)²`` for each unit ``j`` (the grid
    covers every ``[-A_j, A_j]``).

    All terms are nonnegative floats rounded up (``σ²``, ``σ'²`` per piece, ``D_j``); a float
    sum or product of nonnegatives is at least ``(1 - 2^-53)`` times the exact one, so
    ``u + D v <= fl(u + fl(D v)) / (1 - 2^-53)² <= fl(·) (1 + 2^-50)`` up to an absolute
    ``2^-1000`` for an underflowing product."""
    lo, hi = edges[:-1], edges[1:]
    out = []
    for a, d in zip(A, D):
        _tick(deadline)
        Aj, Dj = float_up(a), float_up(d)
        inside = (lo <= Aj) & (hi >= -Aj)
        val = float(np.max((s2 + Dj * d2)[inside]))
        out.append((to_arb(val) * (ONE + to_arb(2.0 ** -50)) + to_arb(_TINY)).upper())
    return out
