"""A second-order enclosure of a Hessian norm on a box (docs/theory.md §2 (R4), §3).

For ``M(p)`` = ``∇²_θ f`` (``lip_grad``) or ``g gᵀ + (f - y) ∇²_θ f`` (``lip_loss_grad``)
and any unit vector ``v`` (here the top eigenvector of ``M(c)`` at the box centre),
every unit ``u = s v + t w`` (``w ⊥ v``) gives
``|uᵀ M u| <= s² |a| + 2|s t| β + t² γ`` with ``a = vᵀ M v``, ``β = ||(I - v vᵀ) M v||``,
``γ = ||P M P||`` (``P = I - v vᵀ``), so

    ``||M(p)||_2 <= λ_max([[α, β], [β, γ]])``,  ``α >= |a(p)|``,

which is ``α + β² / (α - γ) + …`` when ``α > γ``.  ``β`` is ``O(width)`` because
``P M(c) v = 0``, and ``α`` comes from the mean-value form of ``a(p)`` — ``a`` is the
second derivative of ``s ↦ f(θ + s v, x)`` at 0, computed by a forward pass on
:class:`Taylor2` numbers (degree-2 Taylor polynomials in ``s`` whose coefficients are
:class:`~symlip.certify.enclose.Jet` balls, so ``∇a`` over the box needs ``σ'''``).
The bound is thus within ``O(width²)`` of ``||M||`` on the box where the top
eigenvalue is simple: branch and bound converges quadratically there.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from flint import arb, arb_mat

from symlip.certify.interval import ZERO, frobenius_up, norm2_upper, sym_norm_upper, to_arb
from symlip.certify.jets import Jet, Taylor2, coef_add, coef_mul

__all__ = ["block_bound", "directional"]


def _sigma(prob: Any, u: Taylor2) -> Taylor2:
    """``σ(u0 + u1 s + u2 s²) = σ(u0) + σ'(u0) u1 s + (σ'(u0) u2 + ½ σ''(u0) u1²) s²``."""
    u0, u1, u2 = u.c
    s0 = prob.act(0, u0)
    if u1 is None and u2 is None:
        return Taylor2(s0)
    s1 = prob.act(1, u0)
    c2 = coef_mul(s1, u2)
    if u1 is not None:
        c2 = coef_add(c2, prob.act(2, u0) * (u1 * u1) * to_arb(0.5))
    return Taylor2(s0, coef_mul(s1, u1), c2)


def directional(prob: Any, theta: np.ndarray, x: np.ndarray, v: np.ndarray) -> Taylor2:
    """``f(θ + s v, x)`` to degree 2 in ``s`` (θ, x: balls or jets; v: balls)."""
    net = prob.net
    z = [Taylor2(t) for t in x]
    out = None
    for i, ((sw, sb), dout, din) in enumerate(zip(net.layer_slices, net.widths[1:], net.widths[:-1])):
        W = [[Taylor2(theta[k], v[k]) for k in range(sw.start + r * din, sw.start + (r + 1) * din)]
             for r in range(dout)]
        b = [Taylor2(theta[k], v[k]) for k in range(sb.start, sb.stop)]
        a = []
        for r in range(dout):
            acc = b[r]
            for wk, zk in zip(W[r], z):
                acc = acc + wk * zk
            a.append(acc)
        if i < net.depth - 1:
            z = [_sigma(prob, t) for t in a]
        else:
            out = a[0]
    return out


def _curvature(prob: Any, f: Taylor2, y: Any) -> Any:
    """``vᵀ M v`` from ``f(θ + s v)``: ``2 c2`` or ``c1² + (c0 - y) 2 c2``."""
    c0, c1, c2 = f.c
    two_c2 = c2 * to_arb(2) if c2 is not None else ZERO
    if prob.quantity == "lip_grad":
        return two_c2
    c1 = c1 if c1 is not None else ZERO
    return c1 * c1 + (c0 - y) * two_c2


def _orthonormal(cols: list[np.ndarray]) -> list[np.ndarray]:
    """Gram–Schmidt in ball arithmetic: balls around the exactly orthonormal vectors
    the float inputs give (so every later bound holds for an exactly orthonormal set)."""
    out: list[np.ndarray] = []
    for c in cols:
        u = np.array([to_arb(t) for t in c], dtype=object)
        for q in out:
            u = u - q * sum((a * b for a, b in zip(q, u)), ZERO)
        nrm = sum((t * t for t in u), ZERO).sqrt()
        out.append(np.array([t / nrm for t in u], dtype=object))
    return out


def _enclosed(prob: Any, f_box: Any, f_c: Any, y: Any, c: np.ndarray, half: np.ndarray) -> tuple[arb, np.ndarray]:
    """A ball around ``q(p)`` (curvature along one direction) for the box's domain points,
    by the mean-value form, and the split scores ``|∂q| h``."""
    a_box, a_c = _curvature(prob, f_box, y), _curvature(prob, f_c, y)
    G = a_box.d if isinstance(a_box, Jet) and a_box.d is not None else np.array([ZERO] * prob.n, dtype=object)
    a_c = a_c.v if isinstance(a_c, Jet) else a_c
    g0 = np.array([t.mid() for t in G], dtype=object)
    rem = sum((t.rad() * h for t, h in zip(G, half)), ZERO)
    hi = (a_c + prob.linear_sup(g0, c, half) + rem).upper()
    lo = (a_c - prob.linear_sup(-g0, c, half) - rem).lower()
    nat = a_box.v if isinstance(a_box, Jet) else a_box
    hi = nat.upper() if nat.upper() < hi else hi
    lo = nat.lower() if nat.lower() > lo else lo
    scores = np.array([float((t.mid().abs_upper() + t.rad()) * h) for t, h in zip(G, half)])
    return lo.union(hi), scores


def lam2(alpha: arb, beta: arb, gamma: arb) -> arb:
    """The upper end of ``λ_max([[α, β], [β, γ]])`` (nondecreasing in each of α, β, γ >= 0)."""
    half_sum, half_diff = (alpha + gamma) / 2, (alpha - gamma) / 2
    return (half_sum + (half_diff * half_diff + beta * beta).sqrt()).upper()


def peeled_norm(A: np.ndarray) -> arb:
    """An upper bound of ``||A||_2`` over the symmetric ball matrix ``A`` whose first row
    and column are peeled off: ``λ_max([[|a_11|, ||a_1,2:||], [·, ||A_2:,2:||]])``, recursively
    (second-order in the off-diagonal widths when ``|a_11|`` stands out; the
    :func:`~symlip.certify.interval.norm2_upper` of the whole matrix when smaller)."""
    k = A.shape[0]
    if k == 1:
        return A[0, 0].abs_upper()
    col = frobenius_up(A[1:, 0])
    peeled = lam2(A[0, 0].abs_upper(), col, peeled_norm(A[1:, 1:]))
    whole = norm2_upper(A)
    return peeled if peeled < whole else whole


def block_bound(prob: Any, lo: np.ndarray, hi: np.ndarray, c: np.ndarray, boxes: list[np.ndarray],
                cents: list[np.ndarray], kmax: int = 2, ratio: float = 0.7) -> tuple[arb, np.ndarray]:
    """``(upper, scores)``: the module's bound of ``max_y ||M_y(p)||_2`` over the box's domain
    points (``boxes``/``cents``: ``M_y`` over the box and at its centre ``c``, per target).

    The block ``V`` holds the top eigenvectors of ``M(c)`` (by ``|λ|``) down to ``ratio``
    times the largest, at most ``kmax``; ``A = Vᵀ M V`` by the mean-value form (off-diagonal
    entries by polarization), and ``||M|| <= λ_max([[||A||, β], [β, γ]])``,
    ``β = ||P M V||``, ``γ = ||P M P||``, ``P = I - V Vᵀ``.
    """
    P = prob.P
    ys = [None] if prob.quantity == "lip_grad" else list(prob.targets())
    th_j, x_j = prob.numbers(lo, hi, "all")
    th_c, x_c = prob.numbers(c, c, None)
    half = np.array([max(to_arb(h) - to_arb(cc), to_arb(cc) - to_arb(lw)) for lw, cc, h in zip(lo, c, hi)],
                    dtype=object)
    best, scores = ZERO, np.zeros(prob.n)
    inf = arb("inf")
    for y, Mb, Mc in zip(ys, boxes, cents):
        mid = np.array([[float(e.mid()) for e in row] for row in Mc])
        if not np.all(np.isfinite(mid)):
            return inf, hi - lo
        w, V = np.linalg.eigh((mid + mid.T) / 2)
        order = np.argsort(-np.abs(w))
        k = 1
        while k < min(kmax, P) and abs(w[order[k]]) > ratio * abs(w[order[0]]):
            k += 1
        vs = _orthonormal([V[:, order[j]] for j in range(k)])
        # A = Vᵀ M V: diagonal by a(v_i), off-diagonal by (a(v_i + v_j) - a(v_i) - a(v_j)) / 2
        quad: dict[tuple[int, int], arb] = {}
        for i in range(k):
            for j in range(i, k):
                u = vs[i] if i == j else vs[i] + vs[j]
                q, sc = _enclosed(prob, directional(prob, th_j, x_j, u), directional(prob, th_c, x_c, u), y, c, half)
                quad[i, j] = q
                scores = np.maximum(scores, sc)
        A = np.empty((k, k), dtype=object)
        for i in range(k):
            A[i, i] = quad[i, i]
            for j in range(i + 1, k):
                A[i, j] = A[j, i] = (quad[i, j] - quad[i, i] - quad[j, j]) / 2
        alpha = peeled_norm(A)
        Vm = arb_mat([[vs[j][i] for j in range(k)] for i in range(P)])
        Pm = arb_mat([[1 if i == j else 0 for j in range(P)] for i in range(P)]) - Vm * Vm.transpose()
        PMV = Pm * arb_mat([list(row) for row in Mb]) * Vm
        beta = norm2_upper(np.array([[PMV[i, j] for j in range(k)] for i in range(P)], dtype=object))
        PMP = Pm * arb_mat([list(row) for row in Mc]) * Pm
        E = np.array([[(a - b).abs_upper() for a, b in zip(ra, rb)] for ra, rb in zip(Mb, Mc)], dtype=object)
        gamma = sym_norm_upper(np.array([[PMP[i, j] for j in range(P)] for i in range(P)], dtype=object), E)
        lam = lam2(alpha, beta, gamma)
        if not lam.is_finite():
            return inf, hi - lo
        best = lam if lam > best else best
    return best, scores
