"""Tests of symlip.training.spectral: Jacobian and Hessian of the spectral norm (docs/theory.md §7).

Every derivative is checked independently of its formula: against central finite
differences of ``numpy.linalg.norm(W, 2)`` in float64, against finite
differences of ``mpmath.svd_r`` at 50 digits (agreement to 18-25 digits), and
against sympy's own differentiation of the closed-form root of the Gram
matrix's characteristic polynomial.  Structural facts are checked too: the
Hessian is symmetric and positive semidefinite (``s_1`` is convex) and kills
``W`` and ``u_1 v_1^T`` (``s_1`` is positively homogeneous and linear along
``u_1 v_1^T``).
"""
from __future__ import annotations

import dataclasses

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, strategies as st

import symlip.training.spectral as spectral
from symlip.core.precision import to_float, to_mp
from symlip.training.spectral import (
    DegenerateSpectrumError,
    TopSingular,
    TopSingularMP,
    symbolic_top_singular,
    top_singular,
    top_singular_mp,
)


# ---------------------------------------------------------------------------
# cases
# ---------------------------------------------------------------------------
def _normal(seed, m, n):
    return np.random.default_rng(seed).normal(size=(m, n))


def _rank2():
    rng = np.random.default_rng(11)
    return rng.normal(size=(5, 2)) @ rng.normal(size=(2, 6))


def _rank1():
    # an exact rank-1 matrix: the float outer product of small integers is exact
    return np.outer([3.0, -1.0, 2.0, 5.0], [1.0, -2.0, 4.0])


def _small_gap():
    # s = (1, 0.99, 0.5, 0.2) rotated: relative gap 0.01
    rng = np.random.default_rng(5)
    Q1, _ = np.linalg.qr(rng.normal(size=(5, 4)))
    Q2, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    return Q1 @ np.diag([1.0, 0.99, 0.5, 0.2]) @ Q2.T


CASES = {
    "1x1": np.array([[-1.7]]),
    "1x5": _normal(0, 1, 5),
    "5x1": _normal(1, 5, 1),
    "2x2": _normal(0, 2, 2),
    "2x3": _normal(0, 2, 3),
    "3x2": _normal(0, 3, 2),
    "4x7": _normal(1, 4, 7),
    "7x4": _normal(1, 7, 4),
    "6x6": _normal(4, 6, 6),
    "wide3x9": _normal(0, 3, 9),
    "tall9x3": _normal(2, 9, 3),
    "rank2_5x6": _rank2(),
    "rank1_4x3": _rank1(),
    "gap0.01_5x4": _small_gap(),
}
NAMES = list(CASES)


def case(name):
    """``(W, E, F, t)``: the matrix, two unit-norm perturbations and its TopSingular."""
    W = CASES[name]
    rng = np.random.default_rng(100 + NAMES.index(name))
    E = rng.normal(size=W.shape)
    F = rng.normal(size=W.shape)
    t = top_singular(W)
    assert t.simple and t.status == "simple", t.message
    return W, E / np.linalg.norm(E), F / np.linalg.norm(F), t


def snorm(W):
    return float(np.linalg.svd(W, compute_uv=False)[0])


def hscale(t):
    """Size of the Hessian for unit perturbations: ``1/(s_1 · gap)`` (bounds every term)."""
    return 1.0 / (t.s * t.gap)


EPS = np.finfo(np.float64).eps


def svd_rounding(t, what):
    """How far a float64 quantity of ``top_singular`` may lie from the exact one (any BLAS/LAPACK).

    LAPACK's SVD is backward stable: its factors are exact for some ``W + δW`` with
    ``|δW| <= c eps s_1``, ``c`` a modest multiple of the size (here ``c = 4 (m + n)``).
    Then ``s_1`` moves by at most ``|δW|`` (Weyl), ``u_1`` and ``v_1`` by
    ``|δW| / (s_1 - s_2) = c eps / gap`` (Wedin), and so do ``u v^T`` and ``u^T E v``
    (``|E|_F = 1``); the Hessian, whose terms divide by ``s_1 - s_j``, moves by
    ``c eps / gap`` relative to its size ``hscale = 1/(s_1 - s_2)``, i.e. by
    ``c eps s_1 / (s_1 - s_2)^2``.  ``what``: ``"s"`` (relative), ``"vector"`` or
    ``"hessian"`` (absolute, for unit perturbations).
    """
    c = 4 * sum(t.shape) * EPS
    return {"s": c, "vector": c / t.gap, "hessian": c * hscale(t) / t.gap}[what]


def inner(A, B):
    return float(np.sum(A * B))


# ---------------------------------------------------------------------------
# the dataclass
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_svd_fields(name):
    W, _, _, t = case(name)
    m, n = W.shape
    k = min(m, n)
    assert isinstance(t, TopSingular)
    assert t.u.shape == (m,) and t.v.shape == (n,)
    assert t.U.shape == (m, k) and t.V.shape == (n, k) and t.singular_values.shape == (k,)
    assert t.shape == (m, n)
    np.testing.assert_allclose(t.U @ np.diag(t.singular_values) @ t.V.T, W, atol=1e-13 * t.s)
    np.testing.assert_allclose(t.U.T @ t.U, np.eye(k), atol=1e-13)
    np.testing.assert_allclose(t.V.T @ t.V, np.eye(k), atol=1e-13)
    assert t.s == pytest.approx(snorm(W), rel=1e-14)
    assert np.all(np.diff(t.singular_values) <= 0)
    expected_gap = 1.0 if k == 1 else (t.singular_values[0] - t.singular_values[1]) / t.s
    assert t.gap == pytest.approx(expected_gap, rel=1e-12)
    assert "simple" in t.message and "gap" in t.message
    with pytest.raises(dataclasses.FrozenInstanceError):
        t.s = 1.0
    with pytest.raises(ValueError):
        t.U[0, 0] = 1.0          # read-only arrays


# ---------------------------------------------------------------------------
# float64 vs finite differences
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_jacobian_vs_finite_differences(name):
    W, E, _, t = case(name)
    J = t.jacobian()
    h = 1e-6
    fd = np.empty_like(W)
    for i in range(W.shape[0]):
        for j in range(W.shape[1]):
            D = np.zeros_like(W)
            D[i, j] = h
            fd[i, j] = (snorm(W + D) - snorm(W - D)) / (2 * h)
    np.testing.assert_allclose(J, fd, rtol=0, atol=2e-8)
    assert np.linalg.norm(J) == pytest.approx(1.0, rel=1e-13)   # |u v^T|_F = 1
    d_fd = (snorm(W + h * E) - snorm(W - h * E)) / (2 * h)
    assert t.directional(E) == pytest.approx(d_fd, abs=2e-8)
    assert t.directional(E) == pytest.approx(inner(J, E), rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("name", NAMES)
def test_hessian_vs_finite_differences(name):
    W, E, _, t = case(name)
    sc = hscale(t)
    # the quadratic form: second difference of s_1 along E
    h = 1e-3
    fd2 = (snorm(W + h * E) - 2 * snorm(W) + snorm(W - h * E)) / h ** 2
    form = t.hessian_form(E)
    assert abs(form - fd2) <= 2e-5 * sc + 2e-9, (form, fd2)
    # the matrix H[E]: central difference of the Jacobian u v^T along E
    h = 1e-5
    dJ = (top_singular(W + h * E).jacobian() - top_singular(W - h * E).jacobian()) / (2 * h)
    np.testing.assert_allclose(t.hessian_apply(E), dJ, rtol=0, atol=1e-7 * sc)
    if W.size > 1:
        assert form > 1e-3 / t.s      # a real curvature, not a vacuous 0 == 0


def test_hessian_known_values():
    # W = diag(s1, 0), E = e E_12: s_1(W + tE) = sqrt(s1^2 + t^2 e^2), second derivative e^2/s1
    s1, e = 3.0, 0.7
    t = top_singular(np.diag([s1, 0.0]))
    E = np.array([[0.0, e], [0.0, 0.0]])
    assert t.hessian_form(E) == pytest.approx(e * e / s1, rel=1e-14)
    # 1x1: s = |w| is linear near w != 0
    t1 = top_singular([[-2.5]])
    assert t1.jacobian()[0, 0] == -1.0
    assert t1.hessian_form([[1.3]]) == 0.0
    # a row vector: s = |w|, H = (I - w w^T/|w|^2)/|w|
    w = np.array([[3.0, 4.0, 0.0]])
    t2 = top_singular(w)
    Hexp = (np.eye(3) - w.T @ w / 25.0) / 5.0
    np.testing.assert_allclose(t2.hessian_matrix(), Hexp, atol=1e-15)


def test_rank_one_closed_form():
    # rank 1, W = s u v^T: E:H:E = (|Ev|^2 - (u^T E v)^2 + |E^T u|^2 - (u^T E v)^2)/s
    W, E, _, t = case("rank1_4x3")
    u, v, s = t.u, t.v, t.s
    a = u @ E @ v
    expected = (np.sum((E @ v) ** 2) + np.sum((E.T @ u) ** 2) - 2 * a * a) / s
    assert t.hessian_form(E) == pytest.approx(expected, rel=1e-12)


# ---------------------------------------------------------------------------
# internal consistency and structure of H
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_hessian_forms_agree(name):
    W, E, F, t = case(name)
    m, n = W.shape
    H = t.hessian_matrix()
    assert H.shape == (m * n, m * n)
    np.testing.assert_array_equal(H, H.T)
    sc = hscale(t)
    form = t.hessian_form(E)
    assert form == pytest.approx(E.ravel() @ H @ E.ravel(), abs=1e-13 * sc)
    assert form == pytest.approx(inner(t.hessian_apply(E), E), abs=1e-13 * sc)
    # polarisation: <H[E], F> = <H[F], E> = vec(F)^T H vec(E)
    pEF, pFE = inner(t.hessian_apply(E), F), inner(t.hessian_apply(F), E)
    assert pEF == pytest.approx(pFE, abs=1e-13 * sc)
    assert pEF == pytest.approx(F.ravel() @ H @ E.ravel(), abs=1e-13 * sc)
    # ... and the polarisation identity of the quadratic form
    pol = (t.hessian_form(E + F) - t.hessian_form(E - F)) / 4
    assert pEF == pytest.approx(pol, abs=1e-13 * sc)
    # H column by column is hessian_apply of the unit matrices (row-major vec)
    basis = np.eye(m * n).reshape(m * n, m, n)
    np.testing.assert_allclose(t.hessian_apply(basis).reshape(m * n, m * n), H, atol=1e-14 * sc)


@pytest.mark.parametrize("name", NAMES)
def test_hessian_psd_and_null_directions(name):
    W, _, _, t = case(name)
    H = t.hessian_matrix()
    ev = np.linalg.eigvalsh(H)
    scale = np.abs(H).max() if H.any() else 1.0
    assert ev.min() >= -1e-10 * scale, ev.min()
    # s_1 is positively homogeneous (H W = 0) and linear along u v^T (H uv^T = 0)
    J = t.jacobian()
    for D in (W, J):
        np.testing.assert_allclose(t.hessian_apply(D), 0.0, atol=1e-13 * hscale(t) * np.linalg.norm(D))
        assert abs(t.hessian_form(D)) <= 1e-13 * hscale(t) * np.sum(D * D)
    # the whole spectrum: on the orthonormal pairs vec(u_l v_1^T), vec(u_1 v_l^T) the form is
    # [[s1, s_l], [s_l, s1]]/(s1^2 - s_l^2), eigenvalues 1/(s1 -+ s_l); 1/s1 on the m + n - 2k
    # directions beyond the thin bases; 0 on the remaining (m-1)(n-1) + 1
    m, n = W.shape
    k = min(m, n)
    s1, sl = t.s, t.singular_values[1:]
    expected = np.sort(np.concatenate([1 / (s1 - sl), 1 / (s1 + sl), np.full(m + n - 2 * k, 1 / s1),
                                       np.zeros((m - 1) * (n - 1) + 1)]))
    np.testing.assert_allclose(ev, expected, rtol=0, atol=1e-12 * hscale(t))


@given(m=st.integers(1, 6), n=st.integers(1, 6), seed=st.integers(0, 2**32 - 1),
       scale=st.sampled_from([1e-3, 1.0, 1e4]))
def test_properties_random(m, n, seed, scale):
    rng = np.random.default_rng(seed)
    W = scale * rng.normal(size=(m, n))
    E, F = rng.normal(size=(2, m, n))
    t = top_singular(W)
    assert t.simple
    sc = hscale(t) * (1 + np.sum(E * E) + np.sum(F * F))
    H = t.hessian_matrix()
    assert np.linalg.eigvalsh(H).min() >= -1e-10 * np.abs(H).max() - 1e-300
    assert inner(t.hessian_apply(E), F) == pytest.approx(inner(t.hessian_apply(F), E), abs=1e-12 * sc)
    assert t.hessian_form(E) >= -1e-12 * sc
    assert t.hessian_form(E) == pytest.approx(E.ravel() @ H @ E.ravel(), abs=1e-12 * sc)
    np.testing.assert_allclose(t.hessian_apply(W), 0.0, atol=1e-12 * hscale(t) * np.linalg.norm(W))
    # Jacobian: u v^T has unit Frobenius norm and <u v^T, W> = s_1
    assert inner(t.jacobian(), W) == pytest.approx(t.s, rel=1e-12)


@pytest.mark.parametrize("name", ["1x5", "3x2", "4x7", "rank2_5x6", "gap0.01_5x4"])
def test_batched_equals_loop(name):
    W, _, _, t = case(name)
    stack = np.random.default_rng(3).normal(size=(2, 3) + W.shape)
    form = t.hessian_form(stack)
    app = t.hessian_apply(stack)
    dirs = t.directional(stack)
    assert form.shape == (2, 3) and dirs.shape == (2, 3) and app.shape == stack.shape
    for i in range(2):
        for j in range(3):
            assert form[i, j] == pytest.approx(t.hessian_form(stack[i, j]), rel=1e-13)
            assert dirs[i, j] == pytest.approx(t.directional(stack[i, j]), rel=1e-13, abs=1e-15)
            np.testing.assert_allclose(app[i, j], t.hessian_apply(stack[i, j]), rtol=1e-13, atol=1e-15)
    assert isinstance(t.hessian_form(stack[0, 0]), float)
    assert isinstance(t.directional(stack[0, 0]), float)


def test_large_batch():
    # B = 128 matrices of 256 x 256 at once (no mn x mn matrix: that would be 2^32 entries)
    rng = np.random.default_rng(0)
    W = rng.normal(size=(256, 256))
    t = top_singular(W)
    E = rng.normal(size=(128, 256, 256))
    form = t.hessian_form(E)
    assert form.shape == (128,)
    assert np.all(form > 0)
    for b in (0, 77, 127):
        assert form[b] == pytest.approx(t.hessian_form(E[b]), rel=1e-12)
    with pytest.raises(ValueError, match="mn = 65536"):
        t.hessian_matrix()


# ---------------------------------------------------------------------------
# mpmath at 50 digits
# ---------------------------------------------------------------------------
def _mp_s1(Wm):
    return mpmath.svd_r(mpmath.matrix(Wm.tolist()), compute_uv=False)[0]


def _sp(x):
    """An mpf as a 45-digit sympy Float."""
    return sp.Float(mpmath.nstr(x, 45), 45)


def _mp_rel(a, b):
    a, b = mpmath.mpf(a), mpmath.mpf(b)
    return abs(a - b) / max(abs(a), abs(b), mpmath.mpf(1))


@pytest.mark.parametrize("name", NAMES)
def test_mpmath_finite_differences(name):
    W, E, _, t = case(name)
    tm = top_singular_mp(W, dps=50)
    assert isinstance(tm, TopSingularMP) and tm.simple and tm.dps == 50
    with mpmath.workdps(50):
        Wm, Em = to_mp(W), to_mp(E)
        s0 = _mp_s1(Wm)
        assert _mp_rel(tm.s, s0) < mpmath.mpf("1e-45")
        # Jacobian entry by entry, and along E (h = 1e-15: error ~1e-30, rounding ~1e-35;
        # observed agreement 1e-28 .. 1e-37)
        h = mpmath.mpf("1e-15")
        J = tm.jacobian()
        for i in range(W.shape[0]):
            for j in range(W.shape[1]):
                D = np.zeros(W.shape, dtype=object)
                D.fill(mpmath.mpf(0))
                D[i, j] = h
                fd = (_mp_s1(Wm + D) - _mp_s1(Wm - D)) / (2 * h)
                assert abs(fd - J[i, j]) < mpmath.mpf("1e-26"), (i, j)
        fd = (_mp_s1(Wm + h * Em) - _mp_s1(Wm - h * Em)) / (2 * h)
        assert abs(fd - tm.directional(E)) < mpmath.mpf("1e-26")
        # Hessian form: second difference with h = 1e-12 (error ~1e-24, rounding ~1e-26;
        # observed agreement 1e-23 .. 1e-26 relative to the Hessian's size)
        h2 = mpmath.mpf("1e-12")
        fd2 = (_mp_s1(Wm + h2 * Em) - 2 * s0 + _mp_s1(Wm - h2 * Em)) / h2 ** 2
        form = tm.hessian_form(E)
        assert abs(fd2 - form) < mpmath.mpf("1e-21") * hscale(t)
        # H[E]: central difference of the mp Jacobian (u v^T is sign-invariant)
        Jp = top_singular_mp(Wm + h * Em).jacobian()
        Jm = top_singular_mp(Wm - h * Em).jacobian()
        HE = tm.hessian_apply(E)
        for i in range(W.shape[0]):
            for j in range(W.shape[1]):
                assert abs((Jp[i, j] - Jm[i, j]) / (2 * h) - HE[i, j]) < mpmath.mpf("1e-26") * hscale(t)


@pytest.mark.parametrize("name", NAMES)
def test_float64_vs_mpmath(name):
    """float64 against 50 digits, to the rounding the SVD's conditioning allows (:func:`svd_rounding`;
    observed: at most 1.4 of its c = 4 (m + n) units on OpenBLAS Haswell/Sandybridge/Prescott kernels).
    The fixed 1e-14 used before was half a unit for the gap-0.01 case (u^T F v off by 1.08e-14)."""
    W, E, F, t = case(name)
    tm = top_singular_mp(W, dps=50)
    assert float(tm.s) == pytest.approx(t.s, rel=svd_rounding(t, "s"))
    assert float(tm.gap) == pytest.approx(t.gap, abs=2 * svd_rounding(t, "s"))   # (s_1 - s_2)/s_1
    np.testing.assert_allclose(t.jacobian(), to_float(tm.jacobian()), rtol=0, atol=svd_rounding(t, "vector"))
    hess = svd_rounding(t, "hessian")
    assert t.hessian_form(E) == pytest.approx(float(tm.hessian_form(E)), abs=hess)
    np.testing.assert_allclose(t.hessian_apply(E), to_float(tm.hessian_apply(E)), rtol=0, atol=hess)
    # the mp path is vectorised over stacks too
    stack = np.stack([E, F])
    forms = tm.hessian_form(stack)
    assert forms.shape == (2,)
    assert float(forms[1]) == pytest.approx(t.hessian_form(F), abs=hess)
    dirs = tm.directional(stack)
    assert float(dirs[1]) == pytest.approx(t.directional(F), abs=svd_rounding(t, "vector"))


def test_mpmath_exact_rank_one():
    # exact zeros among the singular values at 50 digits; the thin factors stay orthonormal
    W, E, _, t = case("rank1_4x3")
    tm = top_singular_mp(W)
    with mpmath.workdps(50):
        assert all(abs(x) < mpmath.mpf("1e-45") for x in tm.singular_values[1:])
        a = sum(tm.u[i] * E[i, j] * tm.v[j] for i in range(4) for j in range(3))
        Ev = [mpmath.fsum(E[i, j] * tm.v[j] for j in range(3)) for i in range(4)]
        Etu = [mpmath.fsum(E[i, j] * tm.u[i] for i in range(4)) for j in range(3)]
        expected = (mpmath.fsum(x * x for x in Ev) + mpmath.fsum(x * x for x in Etu) - 2 * a * a) / tm.s
        assert _mp_rel(tm.hessian_form(E), expected) < mpmath.mpf("1e-45")


def test_mpmath_fractions_and_precision():
    from fractions import Fraction

    W = [[Fraction(1, 3), Fraction(2, 7)], [Fraction(-5, 11), Fraction(1, 2)]]
    before = mpmath.mp.dps
    t50 = top_singular_mp(W, dps=50)
    t80 = top_singular_mp(W, dps=80)
    assert mpmath.mp.dps == before            # the working precision is restored
    assert t50.dps == 50 and t80.dps == 80
    with mpmath.workdps(100):
        # s1^2 is the top root of x^2 - tr(G) x + det(G), G = W W^T, with exact rationals
        Wq = mpmath.matrix([[mpmath.mpf(1) / 3, mpmath.mpf(2) / 7], [mpmath.mpf(-5) / 11, mpmath.mpf(1) / 2]])
        G = Wq * Wq.T
        tr, det = G[0, 0] + G[1, 1], G[0, 0] * G[1, 1] - G[0, 1] ** 2
        exact = mpmath.sqrt((tr + mpmath.sqrt(tr ** 2 - 4 * det)) / 2)
        assert abs(t50.s - exact) < mpmath.mpf("1e-48")
        assert abs(t80.s - exact) < mpmath.mpf("1e-78")


# ---------------------------------------------------------------------------
# sympy: closed form for min(m, n) <= 2
# ---------------------------------------------------------------------------
def _rational_matrix(rng, m, n):
    # dyadic rationals are exact in float64, so the float and mpmath paths see the same W
    return [[sp.Rational(int(rng.integers(-24, 25)), int(2 ** rng.integers(0, 4))) for _ in range(n)]
            for _ in range(m)]


@pytest.mark.parametrize("shape", [(2, 2), (2, 3), (3, 2), (1, 4), (3, 1)])
def test_symbolic_matches_sympy_diff_and_numeric(shape):
    m, n = shape
    S = symbolic_top_singular(m, n)
    assert S.W.shape == shape and S.E.shape == shape
    Jd = S.jacobian_sympy()
    Hd = S.hessian_sympy()
    assert Hd.shape == (m * n, m * n)
    rng = np.random.default_rng(m * 10 + n)
    tol = sp.Float("1e-35", 40)
    for _ in range(3):
        Wv, Ev = _rational_matrix(rng, m, n), _rational_matrix(rng, m, n)
        pt = S.point(Wv, Ev)
        W = np.array(Wv, dtype=float)
        E = np.array(Ev, dtype=float)
        t = top_singular(W)
        if not t.gap > 1e-3:          # a random rational point with a near-repeated s_1: redraw
            continue
        tm = top_singular_mp(W, dps=45)
        s1 = S.s1.xreplace(pt).evalf(40)
        J_formula = S.jacobian_formula.xreplace(pt).evalf(40)
        J_diff = Jd.xreplace(pt).evalf(40)
        h_formula = S.hessian_formula().xreplace(pt).evalf(40)
        h_diff = S.hessian_form_sympy().xreplace(pt).evalf(40)
        # sympy's derivatives of the root = docs/theory.md §7 formulas, to 35 digits
        assert max(abs(x) for x in (J_formula - J_diff)) < tol
        assert abs(h_formula - h_diff) < tol * (1 + abs(h_diff))
        # ... = mpmath at 45 digits (the same W exactly)
        assert abs(s1 - _sp(tm.s)) < tol
        Jm = tm.jacobian()
        assert max(abs(J_diff[i, j] - _sp(Jm[i, j])) for i in range(m) for j in range(n)) < tol
        assert abs(h_diff - _sp(tm.hessian_form(E))) < tol * (1 + abs(h_diff))
        # ... = float64, to the SVD's rounding (svd_rounding; E here is not unit-norm)
        assert float(s1) == pytest.approx(t.s, rel=svd_rounding(t, "s"))
        np.testing.assert_allclose(np.array(J_diff.tolist(), dtype=float), t.jacobian(), rtol=0,
                                   atol=svd_rounding(t, "vector"))
        assert float(h_diff) == pytest.approx(t.hessian_form(E), abs=svd_rounding(t, "hessian") * np.sum(E * E))
        np.testing.assert_allclose(np.array(Hd.xreplace(pt).evalf(30).tolist(), dtype=float),
                                   t.hessian_matrix(), rtol=0, atol=svd_rounding(t, "hessian"))
        # the formula with a numeric E
        assert abs(S.hessian_formula(Ev).xreplace(pt).evalf(40) - h_formula) < tol * (1 + abs(h_diff))
        break
    else:
        pytest.fail("no random rational point with a simple top singular value")


@pytest.mark.parametrize("shape", [(2, 2), (2, 3)])
def test_symbolic_jacobian_simplifies_exactly(shape):
    S = symbolic_top_singular(*shape)
    diff = sp.simplify(S.jacobian_sympy() - S.jacobian_formula)
    assert diff == sp.zeros(*shape)


def test_symbolic_closed_forms():
    S = symbolic_top_singular(1, 3)
    assert sp.simplify(S.s1 - sp.sqrt(sum(x ** 2 for x in S.W))) == 0
    S = symbolic_top_singular(2, 2)
    # at W = diag(3, 1): s1 = 3, u v^T = E_11, E:H:E = 3(e21^2 + e12^2)/8 + 2 e21 e12/8
    pt = {S.W[0, 0]: 3, S.W[0, 1]: 0, S.W[1, 0]: 0, S.W[1, 1]: 1}
    assert sp.simplify(S.s1.xreplace(pt)) == 3
    assert sp.simplify(S.jacobian_formula.xreplace(pt)) == sp.Matrix([[1, 0], [0, 0]])
    e12, e21 = S.E[0, 1], S.E[1, 0]
    expected = (3 * (e21 ** 2 + e12 ** 2) + 2 * e21 * e12) / 8
    assert sp.simplify(S.hessian_formula().xreplace(pt) - expected) == 0
    with pytest.raises(ValueError, match=r"min\(m, n\) <= 2"):
        symbolic_top_singular(3, 3)
    with pytest.raises(ValueError, match="shape"):
        S.hessian_formula(sp.zeros(2, 3))
    with pytest.raises(TypeError, match="2.5"):
        symbolic_top_singular(2.5, 2)


def test_numeric_path_does_not_import_sympy():
    # sympy is imported lazily inside the symbolic functions only
    assert "sympy" not in vars(spectral) and "sp" not in vars(spectral)
    src = open(spectral.__file__, encoding="utf-8").read()
    top_level = [ln for ln in src.splitlines() if ln.startswith(("import ", "from "))]
    assert not any("sympy" in ln for ln in top_level)


# ---------------------------------------------------------------------------
# degenerate spectra
# ---------------------------------------------------------------------------
def _orthogonal(n, seed=0):
    Q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(n, n)))
    return Q


@pytest.mark.parametrize("W", [np.eye(3), _orthogonal(4), np.diag([1.0, 1.0 - 1e-12]),
                               np.zeros((2, 3)), np.zeros((1, 1)), 2.0 * _orthogonal(5, seed=3)],
                         ids=["identity", "orthogonal", "near-repeated", "zero", "zero1x1", "scaled-orth"])
def test_degenerate(W):
    t = top_singular(W)
    assert t.status == "degenerate" and not t.simple
    assert t.gap <= t.gap_tol
    E = np.ones_like(W)
    calls = [t.jacobian, lambda: t.directional(E), lambda: t.hessian_form(E),
             lambda: t.hessian_apply(E), t.hessian_matrix]
    for call in calls:
        with pytest.raises(DegenerateSpectrumError) as info:
            call()
        msg = str(info.value)
        for word in ("s_1 =", "s_2 =", "(s_1 - s_2)/s_1", "gap_tol = 1e-08", "not differentiable",
                     "perturb W", "subgradient", "smaller gap_tol"):
            assert word in msg, (word, msg)
    assert isinstance(info.value, ValueError)
    assert "s_1" in t.message and t.message.count(". ") == 0      # one sentence
    tm = top_singular_mp(W, dps=30)
    assert tm.status == "degenerate"
    with pytest.raises(DegenerateSpectrumError):
        tm.hessian_form(E)


def test_near_repeated_is_simple_with_smaller_tolerance():
    s1 = 3.0
    s2 = 3.0 * (1.0 - 1e-12)
    W = np.diag([s1, s2])
    t = top_singular(W, gap_tol=0.0)
    assert t.simple and t.gap == pytest.approx(1e-12, rel=1e-3)
    # E = E_12: b_2 = 1, a_2 = 0, E:H:E = s1/(s1^2 - s2^2) ~ 1.7e11; the float path must form
    # s1 - s2 exactly (not 1 - s2/s1, which loses 4 of the 16 digits here)
    E = np.array([[0.0, 1.0], [0.0, 0.0]])
    with mpmath.workdps(50):
        exact = mpmath.mpf(s1) / (mpmath.mpf(s1) ** 2 - mpmath.mpf(s2) ** 2)
    assert t.hessian_form(E) == pytest.approx(float(exact), rel=1e-13)
    assert t.hessian_apply(E)[0, 1] == pytest.approx(float(exact), rel=1e-13)
    assert t.hessian_matrix()[1, 1] == pytest.approx(float(exact), rel=1e-13)
    assert float(top_singular_mp(W, gap_tol=0.0).hessian_form(E)) == pytest.approx(float(exact), rel=1e-15)
    assert top_singular(W, gap_tol=1e-13).simple and not top_singular(W, gap_tol=1e-11).simple


def test_simple_diagonal():
    t = top_singular(np.diag([1.0, 0.5]))
    assert t.status == "simple" and t.gap == 0.5 and t.gap_tol == 1e-8
    np.testing.assert_allclose(t.jacobian(), [[1.0, 0.0], [0.0, 0.0]], atol=1e-15)
    # E:H:E = (s1(a^2 + b^2) + 2 s2 a b)/(s1^2 - s2^2) with a = E_21, b = E_12
    E = np.array([[0.3, 0.7], [-0.2, 0.9]])
    a, b = -0.2, 0.7
    assert t.hessian_form(E) == pytest.approx((a * a + b * b + 2 * 0.5 * a * b) / 0.75, rel=1e-14)


# ---------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("fn", [top_singular, top_singular_mp])
@pytest.mark.parametrize("bad, exc, words", [
    ("abc", TypeError, ["string", "'abc'"]),
    (np.array([1.0, 2.0, 3.0]), ValueError, ["2-D", "(3,)"]),
    (np.ones((2, 2, 2)), ValueError, ["2-D", "(2, 2, 2)"]),
    (np.zeros((0, 3)), ValueError, ["(0, 3)"]),
    ([[1.0, float("nan")], [0.0, 1.0]], ValueError, ["finite", "nan"]),
    ([[1.0, float("inf")]], ValueError, ["finite", "inf"]),
    (np.array([[1 + 2j, 0.0]]), TypeError, ["complex"]),
    ([[1 + 2j, 0.0]], TypeError, ["complex", "(1+2j)"]),
    (np.array([[True, False]]), TypeError, ["boolean"]),
    ([["a", "b"]], TypeError, ["'a'"]),
])
def test_bad_matrix(fn, bad, exc, words):
    with pytest.raises(exc) as info:
        fn(bad)
    for w in words:
        assert w in str(info.value), (w, str(info.value))
    assert "W" in str(info.value)


@pytest.mark.parametrize("gap_tol, exc", [(-1, ValueError), (1.0, ValueError), (float("nan"), ValueError),
                                          (True, TypeError), ("0.1", TypeError)])
def test_bad_gap_tol(gap_tol, exc):
    for fn in (top_singular, top_singular_mp):
        with pytest.raises(exc, match=r"gap_tol must be a real number in \[0, 1\), got " + repr(gap_tol)[:3]):
            fn(np.eye(2), gap_tol=gap_tol)


def test_bad_perturbation_and_dense_limit(monkeypatch):
    t = top_singular(_normal(0, 3, 4))
    with pytest.raises(ValueError, match=r"E must have shape \(3, 4\).*got \(4, 3\)"):
        t.hessian_form(np.ones((4, 3)))
    with pytest.raises(ValueError, match="finite"):
        t.hessian_apply(np.full((3, 4), np.nan))
    with pytest.raises(TypeError, match="complex"):
        t.directional(np.ones((3, 4), dtype=complex))
    with pytest.raises(ValueError, match="shape"):
        top_singular_mp(_normal(0, 3, 4)).hessian_form(np.ones(12))
    with pytest.raises(ValueError, match="dps"):
        top_singular_mp(np.eye(2) + 0.1, dps=10)
    monkeypatch.setattr(spectral, "MAX_DENSE", 10)
    with pytest.raises(ValueError, match=r"mn = 12 > 10.*force=True"):
        t.hessian_matrix()
    assert t.hessian_matrix(force=True).shape == (12, 12)
