"""Rigorous interval numbers, vectors and matrices on python-flint's arb (docs/theory.md §1.4).

An arb is a ball ``[m ± r]``: every operation on balls returns a ball that
contains every result of the operation on the members, so a computation on arbs
is an interval extension by construction (mpmath's interval arithmetic, whose
``exp`` is not sound, is never used).  Vectors and matrices are numpy object arrays of arbs.  This module adds
what the certifier needs on top of that:

* conversions between floats and arbs rounded in a stated direction
  (:func:`float_up`, :func:`float_down`, :func:`hull`);
* rigorous upper bounds of the spectral norm ``||A||_2`` of a point matrix and of
  an interval (ball) matrix (:func:`norm2_upper`): the midpoint's norm by repeated
  squaring of ``AᵀA`` (``||A||_2 <= ||(AᵀA)^k||_F^{1/(2k)}``, the factor lost is at
  most ``n^{1/(2k)}``), plus the norm of the nonnegative radius matrix.
"""
from __future__ import annotations

import math
from typing import Any, Iterable

import numpy as np
from flint import arb, arb_mat, ctx

__all__ = ["PREC", "ZERO", "ONE", "to_arb", "hull", "float_up", "float_down", "abs_up", "arb_vector",
           "norm2_upper", "frobenius_up", "workprec"]

#: working precision in bits of every certified computation (any precision is rigorous;
#: this one keeps rounding far below the gaps that matter)
PREC = 128
ZERO = arb(0)
ONE = arb(1)


class workprec:
    """Context manager: run at least at :data:`PREC` bits."""

    def __enter__(self) -> None:
        self._old = ctx.prec
        ctx.prec = max(ctx.prec, PREC)

    def __exit__(self, *exc: Any) -> None:
        ctx.prec = self._old


def to_arb(v: float) -> arb:
    """The float ``v`` as an exact arb (``ValueError`` for nan)."""
    v = float(v)
    if math.isnan(v):
        raise ValueError("nan has no interval")
    return arb(v)


def hull(lo: Any, hi: Any) -> arb:
    """A ball containing the interval ``[lo, hi]`` (floats or arbs)."""
    a = lo if isinstance(lo, arb) else to_arb(lo)
    b = hi if isinstance(hi, arb) else to_arb(hi)
    return a.union(b)


def float_up(a: arb) -> float:
    """The smallest float ``>= `` every member of ``a`` (``inf`` when unbounded)."""
    u = a.upper()
    if not u.is_finite():
        return math.inf
    f = float(u)
    while arb(f) < u:
        f = math.nextafter(f, math.inf)
    return f


def float_down(a: arb) -> float:
    """The largest float ``<=`` every member of ``a`` (``-inf`` when unbounded)."""
    lo = a.lower()
    if not lo.is_finite():
        return -math.inf
    f = float(lo)
    while arb(f) > lo:
        f = math.nextafter(f, -math.inf)
    return f


def abs_up(a: arb) -> arb:
    """An exact arb ``>= |t|`` for every member ``t`` of ``a``."""
    return a.abs_upper()


def arb_vector(values: Iterable[float]) -> np.ndarray:
    """A numpy object array of exact arbs."""
    return np.array([to_arb(v) for v in values], dtype=object)


def frobenius_up(entries: Iterable[arb]) -> arb:
    """An upper bound of the Euclidean norm of a vector (or matrix) of balls."""
    s = ZERO
    for e in entries:
        m = e.abs_upper()
        s = s + m * m
    return s.sqrt().upper()


def _as_rows(A: Any) -> list[list[arb]]:
    A = np.asarray(A, dtype=object)
    if A.ndim == 1:
        A = A.reshape(1, -1)
    return [[e if isinstance(e, arb) else to_arb(e) for e in row] for row in A]


def _power_norm(M: arb_mat, rel: float = 1e-7) -> arb:
    """An upper bound of ``sup ||A||_2`` over the ball matrix ``M`` by squaring ``B = MᵀM``.

    ``||A||_2^{2k} = ||(AᵀA)^k||_2 <= ||(AᵀA)^k||_F <= n ||A||_2^{2k}``; squaring ``B`` in
    ball arithmetic encloses ``(AᵀA)^{2^j}`` for every member ``A``.  The number of
    squarings depends only on the size ``n`` (``n^{1/2^{j+1}} <= 1 + rel``), so the bound
    is the same on every machine (a replayed certificate recomputes it exactly).
    """
    n = max(M.ncols(), 2)
    steps = max(1, math.ceil(math.log2(math.log(n) / math.log1p(rel))) - 1)
    B = M.transpose() * M
    best = _fro(B).sqrt().upper()
    k = 1
    for _ in range(steps):
        B = B * B
        k *= 2
        fro = _fro(B)
        if not fro.is_finite():
            break
        cand = fro.root(2 * k).upper() if fro > 0 else ZERO
        best = cand if cand < best else best
    return best


def _fro(B: arb_mat) -> arb:
    s = ZERO
    for e in B.entries():
        m = e.abs_upper()
        s = s + m * m
    return s.sqrt()


def norm2_upper(A: Any, E: Any = None) -> arb:
    """A rigorous upper bound of ``||A' + D||_2`` for every matrix ``A'`` in the ball
    matrix ``A`` and every ``D`` with ``|D| <= E`` entrywise (``E`` nonnegative, optional).

    ``A`` is split into its midpoint ``A_c`` (exact) and radius ``A_r``; the result is
    ``||A_c||_2 + || A_r + E ||_2`` with both norms bounded by :func:`_power_norm`
    (the spectral norm of a nonnegative matrix dominates that of every matrix it
    bounds entrywise).  The cheap bounds ``||·||_F`` and ``sqrt(||·||_1 ||·||_∞)`` are
    taken when smaller.
    """
    rows = _as_rows(A)
    nr, nc = len(rows), len(rows[0]) if rows else 0
    if nr == 0 or nc == 0:
        return ZERO
    with workprec():
        mid = [[e.mid() for e in row] for row in rows]
        rad = [[e.rad() for e in row] for row in rows]
        if E is not None:
            erows = _as_rows(E)
            rad = [[r + e.abs_upper() for r, e in zip(rr, er)] for rr, er in zip(rad, erows)]
        return (_small_norm(mid) + _small_norm(rad)).upper()


def _small_norm(rows: list[list[arb]]) -> arb:
    """Upper bound of the spectral norm of an exact matrix (rows of exact arbs)."""
    if all(e == 0 for row in rows for e in row):
        return ZERO
    nr, nc = len(rows), len(rows[0])
    absm = [[e.abs_upper() for e in row] for row in rows]
    one = max(sum((absm[i][j] for i in range(nr)), ZERO) for j in range(nc))
    inf = max(sum(row, ZERO) for row in absm)
    best = (one * inf).sqrt().upper()
    fro = _fro(arb_mat(rows)).upper()
    best = fro if fro < best else best
    if nr == 1 or nc == 1:
        return fro  # a vector: its spectral norm is its Euclidean norm
    M = arb_mat(rows) if nr >= nc else arb_mat(rows).transpose()
    p = _power_norm(M)
    return p if p < best else best
