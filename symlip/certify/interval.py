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
import sympy as sp
from flint import arb, arb_mat, ctx

__all__ = ["PREC", "ZERO", "ONE", "to_arb", "hull", "float_up", "float_down", "abs_up", "arb_vector",
           "norm2_upper", "frobenius_up", "workprec", "ball_function", "sym_norm_upper", "nonneg_norm_upper",
           "sym_intersect"]

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
    ``||A_c||_2 + || A_r + E ||_2``: the first from a verified eigenvalue enclosure of
    ``A_cᵀA_c`` (:func:`_small_norm`), the second by :func:`nonneg_norm_upper` (the
    spectral norm of a nonnegative matrix dominates that of every matrix it bounds
    entrywise).
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
        return (_small_norm(mid) + nonneg_norm_upper(rad)).upper()


def sym_intersect(A: Any) -> np.ndarray:
    """The ball matrix ``A ∩ Aᵀ`` (entrywise), exactly symmetric: it holds every symmetric
    member of ``A`` (a Hessian enclosed row by row is symmetric, its enclosure need not be)."""
    rows = _as_rows(A)
    n = len(rows)
    out = np.empty((n, n), dtype=object)
    for i in range(n):
        for j in range(i, n):
            a, b = rows[i][j], rows[j][i]
            try:
                c = a.intersection(b)
            except ValueError:  # disjoint: cannot happen for a sound enclosure; stay sound anyway
                c = a.union(b)
            out[i, j] = out[j, i] = c
    return out


def sym_norm_upper(A: Any, E: Any = None) -> arb:
    """A rigorous upper bound of ``||S + D||_2`` over the symmetric members ``S`` of the ball
    matrix ``A`` and every symmetric ``D`` with ``|D| <= E`` (Weyl: ``||A_c|| + ρ(A_r + E)``,
    ``||A_c||_2 = max |λ(A_c)|`` from arb's verified eigenvalue enclosures)."""
    B = sym_intersect(A)
    n = B.shape[0] if B.size else 0
    if n == 0:
        return ZERO
    with workprec():
        mid = [[B[i, j].mid() for j in range(n)] for i in range(n)]
        rad = [[B[i, j].rad() for j in range(n)] for i in range(n)]
        if E is not None:
            erows = _as_rows(E)
            rad = [[r + e.abs_upper() for r, e in zip(rr, er)] for rr, er in zip(rad, erows)]
        cen = _sym_eig_norm(mid)
        if cen is None:
            cen = _small_norm(mid)
        return (cen + nonneg_norm_upper(rad, symmetric=E is None or _is_sym(rad))).upper()


def _is_sym(rows: list[list[arb]]) -> bool:
    n = len(rows)
    return len(rows[0]) == n and all(rows[i][j] == rows[j][i] for i in range(n) for j in range(i))


def _sym_eig_norm(rows: Any) -> arb | None:
    """An upper bound of ``max |λ|`` over the symmetric members of a ball matrix: verified
    eigenvalue bounds of its midpoint ``A`` (zero rows and columns dropped first) plus the
    radius's norm (Weyl); None when the verification fails.

    With ``w`` float estimates of ``A``'s eigenvalues and ``μ_+ = max w + δ``, ``μ_- = min w - δ``,
    ``μ_+ I - A`` and ``A - μ_- I`` are checked positive definite by an ``LDLᵀ`` factorisation in
    ball arithmetic (every pivot certainly positive); then ``μ_- < λ < μ_+`` for every
    eigenvalue, so ``||A||_2 <= max(|μ_+|, |μ_-|)``.
    """
    n = len(rows)
    keep = [i for i in range(n) if any(e != 0 for e in rows[i])]
    if not keep:
        return ZERO
    if len(keep) == 1:
        return rows[keep[0]][keep[0]].abs_upper()
    B = sym_intersect([[rows[i][j] for j in keep] for i in keep])
    rad = [[e.rad() for e in row] for row in B]
    extra = nonneg_norm_upper(rad, symmetric=True) if any(e != 0 for row in rad for e in row) else ZERO
    mid = [[e.mid() for e in row] for row in B]
    F = np.array([[float(e) for e in row] for row in mid])
    if not np.all(np.isfinite(F)):
        return None
    w = np.linalg.eigvalsh(F)
    scale = float(np.max(np.abs(w)))
    if scale == 0.0:
        scale = float(np.max(np.abs(F))) or 1.0
    for rel in (1e-12, 1e-8, 1e-4):
        delta = rel * scale + 1e-300
        hi, lo = to_arb(float(w[-1]) + delta), to_arb(float(w[0]) - delta)
        if _pos_def(mid, hi, -1) and _pos_def(mid, lo, 1):
            bound = hi.abs_upper() if hi.abs_upper() > lo.abs_upper() else lo.abs_upper()
            return (bound + extra).upper()
    return None


def _pos_def(A: list[list[arb]], mu: arb, sign: int) -> bool:
    """Whether ``sign (A - μ I)`` is certainly positive definite (``LDLᵀ`` in ball arithmetic)."""
    n = len(A)
    M = [[(A[i][j] - (mu if i == j else ZERO)) * sign for j in range(n)] for i in range(n)]
    for k in range(n):
        piv = M[k][k]
        if not piv > 0:
            return False
        for i in range(k + 1, n):
            f = M[i][k] / piv
            if f == 0:
                continue
            Mi = M[i]
            for j in range(k + 1, i + 1):  # the lower triangle: M[j][k] is the current (k, j) entry
                Mi[j] = Mi[j] - f * M[j][k]
    return True


def nonneg_norm_upper(rows: Any, symmetric: bool = False) -> arb:
    """An upper bound of ``||R||_2`` for the nonnegative matrix whose entries are bounded by
    the (upper ends of the) balls ``rows``.

    Collatz–Wielandt: for ``G >= 0`` and any ``x > 0``, ``ρ(G) <= max_i (G x)_i / x_i``
    (the ∞-norm of ``diag(x)⁻¹ G diag(x)``); ``x`` is a float estimate of the Perron vector
    (only a choice: the bound holds for every positive ``x``).  ``G = R`` when ``R`` is
    symmetric (then ``||R||_2 = ρ(R)``), else ``G = RᵀR`` and the bound is square-rooted.
    The Frobenius norm is taken when smaller.
    """
    R = [[e.abs_upper() if isinstance(e, arb) else to_arb(abs(e)) for e in row] for row in _as_rows(rows)]
    nr, nc = len(R), len(R[0]) if R else 0
    if nr == 0 or nc == 0 or all(e == 0 for row in R for e in row):
        return ZERO
    with workprec():
        if nr == 1 or nc == 1:
            return _fro(arb_mat(R)).upper()
        F = np.array([[float(e) for e in row] for row in R])  # only steers the choice of x
        if not np.all(np.isfinite(F)):
            return _fro(arb_mat(R)).upper()
        sym = symmetric and nr == nc
        G = (F + F.T) / 2 if sym else F.T @ F
        x = np.abs(np.linalg.eigh(G)[1][:, -1])
        x = np.maximum(x / max(float(np.max(x)), 1e-300), 1e-6)
        xa = [to_arb(t) for t in x]
        Rm = arb_mat(R)
        xv = arb_mat([[t] for t in xa])
        Gx = Rm * xv if sym else Rm.transpose() * (Rm * xv)
        rho = max((Gx[i, 0] / xa[i]).upper() for i in range(len(xa)))
        return rho if sym else rho.sqrt().upper()


def _small_norm(rows: list[list[arb]]) -> arb:
    """Upper bound of the spectral norm of an exact matrix (rows of exact arbs): the square
    root of the top verified eigenvalue of ``MᵀM`` (the smaller Gram matrix), else repeated
    squaring (:func:`_power_norm`); the cheap bounds when smaller."""
    if all(e == 0 for row in rows for e in row):
        return ZERO
    nr, nc = len(rows), len(rows[0])
    if nr == 1 or nc == 1:
        return _fro(arb_mat(rows)).upper()  # a vector: its spectral norm is its Euclidean norm
    M = arb_mat(rows) if nr >= nc else arb_mat(rows).transpose()
    G = M.transpose() * M
    ev = _sym_eig_norm([[G[i, j] for j in range(G.ncols())] for i in range(G.nrows())])
    if ev is not None:
        return ev.sqrt().upper()
    absm = [[e.abs_upper() for e in row] for row in rows]
    one = max(sum((absm[i][j] for i in range(nr)), ZERO) for j in range(nc))
    inf = max(sum(row, ZERO) for row in absm)
    best = (one * inf).sqrt().upper()
    p = _power_norm(M)
    return p if p < best else best


def _ipow(b: arb, k: int) -> arb:
    """``b**k`` by products (arb's ``**`` is ``exp(k log b)``: undefined on a ball around 0)."""
    out = ONE
    for _ in range(k):
        out = out * b
    return out


_BALL_FUNCS = {sp.exp: arb.exp, sp.log: arb.log, sp.tanh: arb.tanh, sp.erf: arb.erf}


def ball_function(expr: sp.Expr, var: sp.Symbol) -> Any:
    """``expr(var)`` compiled to a function of one arb ball whose value contains ``expr(t)``
    for every ``t`` in the ball (python-flint's ball arithmetic: the natural interval
    extension, evaluated in C).  Only sums, products, integer and half-integer powers,
    rational numbers, ``π``, ``e`` and exp, log, tanh, erf are compiled; anything else
    raises ``ValueError`` (the caller keeps its endpoint evaluator).  The expression is
    walked as a tree: nothing is evaluated as code."""
    if expr == var:
        return lambda t: t
    if expr.is_Rational:
        c = arb(int(expr.p)) / int(expr.q)
        return lambda t: c
    if expr is sp.pi:
        c = arb.pi()
        return lambda t: c
    if expr is sp.E:
        c = arb(1).exp()
        return lambda t: c
    if expr.is_Add or expr.is_Mul:
        fs = [ball_function(a, var) for a in expr.args]
        if expr.is_Add:
            def add(t: arb) -> arb:
                s = fs[0](t)
                for f in fs[1:]:
                    s = s + f(t)
                return s
            return add

        def mul(t: arb) -> arb:
            s = fs[0](t)
            for f in fs[1:]:
                s = s * f(t)
            return s
        return mul
    if expr.is_Pow:
        base, e = expr.args
        fb = ball_function(base, var)
        if e.is_Integer or (e.is_Rational and e.q == 2):
            k, root = (int(e), False) if e.is_Integer else (int(e.p), True)

            def power(t: arb) -> arb:
                b = fb(t)
                b = b.sqrt() if root else b
                out = _ipow(b, abs(k))
                return out if k >= 0 else 1 / out
            return power
        raise ValueError(f"no ball extension of {expr}")
    f = _BALL_FUNCS.get(expr.func)
    if f is not None and len(expr.args) == 1:
        g = ball_function(expr.args[0], var)
        return lambda t: f(g(t))
    raise ValueError(f"no ball extension of {expr}")
