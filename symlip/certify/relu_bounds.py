"""Helpers of the pattern branch and bound (:mod:`symlip.certify.patterns`) that need no
pattern state: unit stabilisation by Farkas-proved splits and Gordan certificates of thin
cones (docs/theory.md §1 (D1.3), §2 (R4)).

* :func:`stabilise_units`: an undecided unit of the layer being split whose other side the
  node's constraints exclude is fixed; the certificate is a Farkas vector ``(y, 1)`` for the
  excluded child (``y`` proposed by :func:`dual_min`, checked in arb), replayed as any pruned node.
* :func:`gordan_certificate` / :func:`gordan_ok`: on a *homogeneous* network (every bias 0,
  ``σ(0) = 0``, kink at 0) every region is a cone through 0 and a Farkas test never prunes;
  a cone ``{G x <= 0}`` whose rows admit ``y >= 0``, ``y ≠ 0`` with ``Gᵀy = 0`` *exactly* (in
  rationals; the rows with ``y_i > 0`` nonzero) has no interior (Gordan), so it is a null set
  and carries no weight in the Lipschitz constant (``lip_input`` is a difference quotient: the
  essential supremum of ``||J||`` on the ball).
"""
from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np

__all__ = ["dual_min", "affine_float", "stabilise_units", "float_rows", "exact_rows", "gordan_certificate",
           "gordan_ok"]

_FLOAT_ROWS: dict[int, tuple[list, np.ndarray]] = {}


def float_rows(G: list[list[Any]], h: list[Any], d0: int) -> tuple[np.ndarray, np.ndarray]:
    """Midpoints of arb constraint rows as floats (LP heuristics only); the rows are cached
    objects (``PatternProblem.constraint_row``), so their conversions are cached by identity."""
    out = []
    for row in G:
        ent = _FLOAT_ROWS.get(id(row))
        if ent is None or ent[0] is not row:
            if len(_FLOAT_ROWS) > 100_000:
                _FLOAT_ROWS.clear()
            ent = _FLOAT_ROWS[id(row)] = (row, np.array([float(e.mid()) for e in row]))
        out.append(ent[1])
    return np.array(out).reshape(len(G), d0), np.array([float(e.mid()) for e in h])


def dual_min(Gf: np.ndarray, hf: np.ndarray, g: np.ndarray, R: float, iters: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """Approximately ``min_{y >= 0} yᵀh + R |Gᵀy + g_c|`` for every row ``g_c`` of ``g`` (batched
    projected gradient with momentum; floats, a heuristic: any ``y >= 0`` gives a valid bound).

    By weak duality the value bounds ``max -g_c·x`` over ``{G x <= h, |x| <= R}`` from above
    (``-g_c·x <= yᵀ(h - G x) - g_c·x = yᵀh - (Gᵀy + g_c)·x``); with ``g_c x <= η`` appended, a value
    below ``-η`` is a Farkas certificate ``(y, 1)`` of emptiness.
    Returns ``(Y, values)``, ``Y`` of shape ``(len(g), len(h))``."""
    c, k = g.shape[0], len(hf)
    if k == 0:
        return np.zeros((c, 0)), R * np.linalg.norm(g, axis=1)
    ng = np.linalg.norm(Gf, axis=1)
    ng = np.where(ng > 0, ng, 1.0)
    Gn, hn = Gf / ng[:, None], hf / ng
    L0 = R * max(np.linalg.norm(Gn, 2) ** 2, 1e-300)
    Y = np.zeros((c, k))
    V = Y
    best = np.full(c, np.inf)
    bestY = Y.copy()
    for it in range(iters):
        Z = V @ Gn + g
        nz = np.sqrt(np.einsum("ij,ij->i", Z, Z))
        f = V @ hn + R * nz
        better = f < best
        best = np.where(better, f, best)
        bestY[better] = V[better]
        step = np.maximum(nz, 1e-12 * R) / L0
        Yn = np.maximum(V - step[:, None] * (hn + (R / np.maximum(nz, 1e-300))[:, None] * (Z @ Gn.T)), 0.0)
        V = np.maximum(Yn + (it / (it + 3)) * (Yn - Y), 0.0)
        Y = Yn
    return bestY / ng[None, :], best


def affine_float(pp: Any, li: int, sides: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Layer ``li``'s pre-activations ``A x + c`` in floats (the sides before ``li`` fixed)."""
    sl = (float(pp.s[0]), float(pp.s[1]))
    cc = tuple(float(v.mid()) for v in pp.ca)
    A, c = pp.layers[0][0], pp.layers[0][1]
    for l in range(li):
        d = np.where(sides[l] == 1, sl[1], sl[0])
        off = np.where(sides[l] == 1, cc[1], cc[0])
        A = pp.layers[l + 1][0] @ (d[:, None] * A)
        c = pp.layers[l + 1][0] @ (d * c + off) + pp.layers[l + 1][1]
    return A, c


def stabilise_units(pp: Any, info: dict[str, Any], dec: list[np.ndarray],
                    min_layer: int = 0) -> list[tuple[int, int, int, dict]]:
    """Undecided units of the split layer that the node's constraints fix: ``(layer, unit,
    side, certificate)`` with the Farkas multipliers (in the order of the rows of the node's
    constraints, the unit's own row last) proving the other side empty, checked in arb; none
    when the split layer is below ``min_layer``."""
    sides = info["sides"]
    li = next((l for l, sd in enumerate(sides) if np.any(sd < 0)), None)
    if li is None or li < min_layer or not info["lin"] or pp.kink is None:
        return []
    und = np.flatnonzero(sides[li] < 0)
    A, c = affine_float(pp, li, sides)
    kap = float(pp.kink)
    G = info["G"]
    Gf, hf = float_rows(G, info["h"], pp.net.d_in)
    # side t of unit j empty: y >= 0 with yᵀh + η_t + R |Gᵀy + g_t| < 0; g_0 = A_j, η_0 = κ - c_j; g_1, η_1 = -(...)
    g = np.vstack([A[und], -A[und]])
    eta = np.r_[kap - c[und], -(kap - c[und])]
    Y, v = dual_min(Gf, hf, g, pp.R)
    scale = np.abs(eta) + pp.R * np.linalg.norm(g, axis=1) + 1e-300
    out: list[tuple[int, int, int, dict]] = []
    n = len(und)
    for ci in np.argsort((v + eta) / scale):
        if not v[ci] + eta[ci] < -1e-9 * scale[ci]:
            break
        j, t = int(und[ci % n]), int(ci // n)
        if any(o[1] == j for o in out):
            continue
        grow, hrow = pp.constraint_row(li, sides, j, t)
        y = [float(max(w, 0.0)) for w in Y[ci]]
        if pp.farkas_ok(list(G) + [grow], list(info["h"]) + [hrow], y + [1.0]):
            out.append((li, j, 1 - t, {"y": y}))
    return out


def exact_rows(pp: Any, sides: list[np.ndarray], rows: list[tuple[int, int]], dec: list[np.ndarray]) -> list[list[Fraction]]:
    """The node's constraint rows ``g`` (``g x <= 0``) in exact rationals, for a homogeneous
    network: ``±`` row ``j`` of ``A_l = W_l D_{l-1} ... D_0 W_0`` (floats and σ's slopes are exact)."""
    cache: dict[int, list[list[Fraction]]] = {}

    def layer(li: int) -> list[list[Fraction]]:
        if li not in cache:
            W = [[Fraction(float(v)) for v in row] for row in pp.layers[li][0]]
            if li == 0:
                cache[li] = W
            else:
                P = layer(li - 1)
                d = [pp.s[1] if t == 1 else pp.s[0] for t in sides[li - 1]]
                cache[li] = [[sum((W[j][k] * d[k] * P[k][c] for k in range(len(P)) if W[j][k] and d[k]), Fraction(0))
                              for c in range(len(P[0]))] for j in range(len(W))]
        return cache[li]

    out = []
    for li, j in rows:
        sg = 1 if dec[li][j] == 0 else -1
        out.append([sg * v for v in layer(li)[j]])
    return out


def gordan_certificate(pp: Any, info: dict[str, Any], dec: list[np.ndarray]) -> list[str] | None:
    """A Gordan certificate (module docstring) for a node of a homogeneous network, or None:
    an LP proposes ``y`` (``y >= 0``, ``Σ y = 1``, ``Gᵀy = 0``), then its support's null space
    is solved exactly; returned as strings ``"p/q"`` aligned with the node's rows."""
    from scipy.optimize import linprog
    import sympy as sp

    if not pp.homogeneous or not info["lin"] or not info["G"]:
        return None
    Gf, _ = float_rows(info["G"], info["h"], pp.net.d_in)
    m = len(Gf)
    r = linprog(np.zeros(m), A_eq=np.vstack([Gf.T, np.ones((1, m))]), b_eq=np.r_[np.zeros(pp.net.d_in), 1.0],
                bounds=[(0, None)] * m, method="highs")
    if r.status != 0:
        return None
    S = [i for i in range(m) if r.x[i] > 1e-12]
    E = exact_rows(pp, info["sides"], info["rows"], dec)
    ns = sp.Matrix([[sp.Rational(E[i][k].numerator, E[i][k].denominator) for i in S]
                    for k in range(pp.net.d_in)]).nullspace()
    if len(ns) != 1:
        return None
    v = [Fraction(int(sp.fraction(t)[0]), int(sp.fraction(t)[1])) for t in ns[0]]
    if all(t < 0 for t in v):
        v = [-t for t in v]
    if not all(t > 0 for t in v):
        return None
    y = [Fraction(0)] * m
    for i, t in zip(S, v):
        y[i] = t
    return [str(t) for t in y]


def gordan_ok(pp: Any, info: dict[str, Any], dec: list[np.ndarray], cert: Any) -> bool:
    """Whether ``cert`` (strings ``"p/q"``, one per row) proves the node's cone thin, exactly."""
    if not pp.homogeneous or not info["lin"] or not isinstance(cert, list) or len(cert) != len(info["G"]):
        return False
    try:
        y = [Fraction(t) for t in cert if isinstance(t, str)]
    except (ValueError, ZeroDivisionError):
        return False
    if len(y) != len(cert) or any(t < 0 for t in y) or not any(t > 0 for t in y):
        return False
    E = exact_rows(pp, info["sides"], info["rows"], dec)
    if any(t > 0 and not any(E[i]) for i, t in enumerate(y)):
        return False
    return all(sum((t * E[i][k] for i, t in enumerate(y) if t), Fraction(0)) == 0 for k in range(pp.net.d_in))
