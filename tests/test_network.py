"""Tests of symlip.models.network (docs/theory.md §1) and symlip.core.precision.

Every analytic float64 derivative is checked two independent ways: against
central finite differences, and against the mpmath path at high precision.
"""
from __future__ import annotations

import dataclasses
import math
import re
import subprocess
import sys
from fractions import Fraction

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, strategies as st

from symlip.activations.registry import activation
from symlip.models.network import MLP
from symlip.core.precision import rel_diff, to_float, to_mp, workdps

SMOOTH = ["tanh", "sigmoid", "softplus", "gelu", "sin"]
ARCHS = [(3, 1), (2, 3, 1), (1, 1, 1), (3, 1, 2, 1), (2, 4, 3, 4, 1), (2, 1, 1, 1, 1)]


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------
def setup(widths, act, seed=0, n=3, scale=1.5):
    net = MLP(widths, act)
    rng = np.random.default_rng(seed + 1000)
    theta = net.init(seed, scale=scale)
    X = rng.normal(size=(n, widths[0]))
    v = rng.normal(size=net.n_params)
    return net, theta, X, v


def normwise(a, b):
    """max |a - b| / max |b| (max-norm relative error)."""
    a = np.asarray(to_float(a) if np.asarray(a).dtype == object else a, dtype=float)
    b = np.asarray(to_float(b) if np.asarray(b).dtype == object else b, dtype=float)
    assert a.shape == b.shape
    scale = np.abs(b).max()
    return float(np.abs(a - b).max() / scale) if scale > 0 else float(np.abs(a).max())


def fd_grad(net, theta, X, h=1e-5):
    """Central differences of f in each coordinate of θ: (n, P)."""
    cols = []
    for k in range(net.n_params):
        e = np.zeros(net.n_params)
        e[k] = h
        cols.append((net.f(theta + e, X) - net.f(theta - e, X)) / (2 * h))
    return np.stack(cols, axis=1)


def fd_jac_x(net, theta, X, h=1e-5):
    cols = []
    for k in range(X.shape[1]):
        e = np.zeros(X.shape[1])
        e[k] = h
        cols.append((net.f(theta, X + e) - net.f(theta, X - e)) / (2 * h))
    return np.stack(cols, axis=-1)


def fd_hvp(net, theta, X, v, h=1e-5):
    return (net.grad(theta + h * v, X) - net.grad(theta - h * v, X)) / (2 * h)


def min_abs_preactivation(net, theta, X):
    """Smallest |a_i| over hidden layers and samples (distance to a ReLU kink)."""
    z, best = X, np.inf
    for i, (W, b) in enumerate(net.unflatten(theta), start=1):
        a = z @ W.T + b
        if i < net.depth:
            best = min(best, float(np.abs(a).min()))
            z = net.activation.numpy(0)(a)
    return best


# ---------------------------------------------------------------------------
# construction and layout
# ---------------------------------------------------------------------------
def test_construction_normalises_widths_and_activation():
    net = MLP([np.int64(3), 4, 1], "tanh")
    assert net.widths == (3, 4, 1) and all(type(w) is int for w in net.widths)
    assert net.activation == activation("tanh")
    assert MLP(np.array([3, 4, 1]), sp.tanh(sp.Symbol("t"))) == net
    assert MLP((3, 4, 1), activation("tanh")) == net
    assert MLP((3, 4, 1), "t/(1+Abs(t))").activation.name == "t/(1+Abs(t))"
    assert net.depth == 2 and net.d_in == 3 and net.d_out == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        net.widths = (1, 1)  # type: ignore[misc]
    assert hash(net) == hash(MLP((3, 4, 1), "tanh"))


@pytest.mark.parametrize("widths", ARCHS + [(2, 3, 4)])
def test_layout_slices_and_round_trip(widths):
    net = MLP(widths, "tanh")
    P = sum(widths[i] * (widths[i - 1] + 1) for i in range(1, len(widths)))
    assert net.n_params == P
    # slices tile [0, P) in the order W_1, b_1, ..., W_m, b_m
    pos = 0
    for i, (sw, sb) in enumerate(net.layer_slices, start=1):
        assert (sw.start, sw.stop) == (pos, pos + widths[i] * widths[i - 1])
        assert (sb.start, sb.stop) == (sw.stop, sw.stop + widths[i])
        pos = sb.stop
    assert pos == P
    theta = np.arange(P, dtype=float)
    layers = net.unflatten(theta)
    for i, ((W, b), (sw, sb)) in enumerate(zip(layers, net.layer_slices), start=1):
        assert W.shape == (widths[i], widths[i - 1]) and b.shape == (widths[i],)
        # row-major: W[r, c] = theta[start + r * d_{i-1} + c]
        r, c = widths[i] - 1, widths[i - 1] - 1
        assert W[r, c] == sw.start + r * widths[i - 1] + c
        assert W[0, c] == sw.start + c
        np.testing.assert_array_equal(b, theta[sb])
    back = net.flatten(layers)
    assert back.dtype == np.float64
    np.testing.assert_array_equal(back, theta)
    theta_mp = to_mp(theta)
    back_mp = net.flatten(net.unflatten(theta_mp))
    assert back_mp.dtype == object and all(isinstance(x, mpmath.mpf) for x in back_mp)
    assert [float(x) for x in back_mp] == list(theta)


def test_init_reproducible_and_scaled():
    net = MLP((400, 300, 1), "tanh")
    a, b, c = net.init(7), net.init(7), net.init(8)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    np.testing.assert_array_equal(net.init(3, scale=0.0), 0.0)
    t = net.init(0, scale=2.0)
    (W1, b1), (W2, b2) = net.unflatten(t)
    assert W1.var() == pytest.approx(4.0 / 400, rel=0.02)
    assert W2.var() == pytest.approx(4.0 / 300, rel=0.25)
    assert b1.var() == pytest.approx(0.01 * 4.0, rel=0.25)
    assert abs(W1.mean()) < 0.01


def test_core_does_not_import_torch():
    code = ("import sys, symlip.models.network, symlip.core.precision; "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------------------
# forward pass
# ---------------------------------------------------------------------------
def test_f_hand_computed_tiny_net():
    # widths (2, 2, 1): W1 = [[1, -2], [0.5, 3]], b1 = [0.1, -0.2], W2 = [[2, -1]], b2 = [0.3]
    net = MLP((2, 2, 1), "tanh")
    theta = np.array([1, -2, 0.5, 3, 0.1, -0.2, 2, -1, 0.3])
    x = np.array([0.7, -0.4])
    a1 = (0.7 + 0.8 + 0.1, 0.35 - 1.2 - 0.2)
    expect = 2 * math.tanh(a1[0]) - math.tanh(a1[1]) + 0.3
    assert net.f(theta, x) == pytest.approx(expect, rel=1e-15)
    X = np.stack([x, -x, np.zeros(2)])
    out = net.f(theta, X)
    assert out.shape == (3,)
    assert out[2] == pytest.approx(2 * math.tanh(0.1) - math.tanh(-0.2) + 0.3, rel=1e-15)
    with workdps(40):
        t = [mpmath.mpf(s) for s in theta]
        xm = [mpmath.mpf(s) for s in x]
        A1 = [t[0] * xm[0] + t[1] * xm[1] + t[4], t[2] * xm[0] + t[3] * xm[1] + t[5]]
        exact = t[6] * mpmath.tanh(A1[0]) + t[7] * mpmath.tanh(A1[1]) + t[8]
        got = net.f_mp(theta, x, dps=40)
        assert isinstance(got, mpmath.mpf)
        assert abs(got - exact) < mpmath.mpf(10) ** -38


def test_f_vector_output_and_single_input_shapes():
    net, theta, X, v = setup((3, 4, 2), "sigmoid", n=5)
    F = net.f(theta, X)
    assert F.shape == (5, 2)
    # one sample and the batch take different BLAS paths (gemv vs gemm, any summation order): they agree
    # to the rounding of the sums formed, a few (d + 2) ulps of |W2| (|σ| + |σ'| (|W1| |x| + |b1|)) + |b2|
    # with |σ| <= 1, |σ'| <= 1/4 (sigmoid)
    (W1, b1), (W2, b2) = net.unflatten(theta)
    first = np.abs(W1) @ np.abs(X[1]) + np.abs(b1)
    tol = 4 * (max(net.widths) + 2) * np.finfo(float).eps * (np.abs(W2) @ (1 + 0.25 * first) + np.abs(b2))
    assert np.all(np.abs(net.f(theta, X[1]) - F[1]) <= tol), (net.f(theta, X[1]) - F[1], tol)
    J = net.jac_x(theta, X)
    assert J.shape == (5, 2, 3)
    np.testing.assert_allclose(J, fd_jac_x(net, theta, X), rtol=1e-7, atol=1e-9)
    assert net.jac_x(theta, X[0]).shape == (2, 3)
    Fm, Jm = net.f_mp(theta, X, dps=30), net.jac_x_mp(theta, X, dps=30)
    assert Fm.shape == (5, 2) and Jm.shape == (5, 2, 3) and Fm.dtype == object
    assert net.jac_x_mp(theta, X[0]).shape == (2, 3)
    assert normwise(F, Fm) < 1e-14 and normwise(J, Jm) < 1e-12


def test_single_input_drops_sample_axis():
    net, theta, X, v = setup((3, 4, 1), "tanh")
    x = X[0]
    assert np.ndim(net.f(theta, x)) == 0
    assert net.grad(theta, x).shape == (net.n_params,)
    assert net.hvp(theta, x, v).shape == (net.n_params,)
    assert net.jac_x(theta, x).shape == (3,)
    np.testing.assert_allclose(net.grad(theta, x), net.grad(theta, X)[0], rtol=1e-13, atol=1e-15)
    assert isinstance(net.f_mp(theta, x, dps=20), mpmath.mpf)
    assert net.grad_mp(theta, x, dps=20).shape == (net.n_params,)
    assert net.hvp_mp(theta, x, v, dps=20).shape == (net.n_params,)
    assert net.jac_x_mp(theta, x, dps=20).shape == (3,)


# ---------------------------------------------------------------------------
# derivatives: finite differences and the mpmath path
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("act", SMOOTH)
@pytest.mark.parametrize("widths", ARCHS)
def test_derivatives_smooth(widths, act):
    net, theta, X, v = setup(widths, act, seed=len(widths) + len(act))
    G, H, J = net.grad(theta, X), net.hvp(theta, X, v), net.jac_x(theta, X)
    assert G.shape == H.shape == (3, net.n_params) and J.shape == (3, widths[0])
    # finite differences (truncation O(h^2) ~ 1e-10, rounding ~ 1e-11)
    assert normwise(G, fd_grad(net, theta, X)) < 1e-6
    assert normwise(J, fd_jac_x(net, theta, X)) < 1e-6
    if net.depth > 1:
        assert normwise(H, fd_hvp(net, theta, X, v)) < 1e-6
    # independent high-precision evaluation
    Gm, Hm, Jm = net.grad_mp(theta, X), net.hvp_mp(theta, X, v), net.jac_x_mp(theta, X)
    assert Gm.shape == G.shape and Hm.shape == H.shape and Jm.shape == J.shape
    assert Gm.dtype == object and isinstance(Gm[0, 0], mpmath.mpf)
    assert normwise(G, Gm) < 1e-12
    assert normwise(J, Jm) < 1e-12
    if net.depth > 1:
        assert normwise(H, Hm) < 1e-12
    else:
        assert all(x == 0 for x in Hm.ravel())
    assert normwise(net.f(theta, X), net.f_mp(theta, X)) < 1e-13


@pytest.mark.parametrize("act", ["relu", "leaky_relu"])
@pytest.mark.parametrize("widths", [(3, 1), (2, 3, 1), (3, 4, 4, 1), (2, 3, 2, 3, 1), (2, 3, 2)])
def test_derivatives_piecewise_away_from_kinks(widths, act):
    net, theta, X, _ = setup(widths, act, seed=11, n=4)
    assert min_abs_preactivation(net, theta, X) > 1e-3  # FD steps stay on one piece
    J = net.jac_x(theta, X)
    assert normwise(J, fd_jac_x(net, theta, X, h=1e-7)) < 1e-6
    assert normwise(J, net.jac_x_mp(theta, X)) < 1e-12
    if widths[-1] == 1:
        G = net.grad(theta, X)
        assert normwise(G, fd_grad(net, theta, X, h=1e-7)) < 1e-6
        assert normwise(G, net.grad_mp(theta, X)) < 1e-12


def test_relu_grad_is_exact_piecewise_linear():
    # with ReLU, f is piecewise polynomial: grad equals the mp result up to rounding
    net, theta, X, _ = setup((2, 5, 5, 1), "relu", seed=3, n=6)
    G = net.grad(theta, X)
    assert rel_diff(G, net.grad_mp(theta, X), floor=1e-12 * np.abs(G).max()) < 1e-13


def test_depth_one_is_affine():
    net = MLP((4, 1), "tanh")
    theta = net.init(5)
    X = np.random.default_rng(0).normal(size=(6, 4))
    G = net.grad(theta, X)
    np.testing.assert_array_equal(G, np.hstack([X, np.ones((6, 1))]))
    np.testing.assert_array_equal(net.hvp(theta, X, np.ones(net.n_params)), 0.0)
    W, b = net.unflatten(theta)[0]
    np.testing.assert_array_equal(net.jac_x(theta, X), np.broadcast_to(W, (6, 4)))
    Gm = net.grad_mp(theta, X)
    assert all(Gm[n, k] == G[n, k] for n in range(6) for k in range(5))


@pytest.mark.parametrize("widths", [(3, 5, 4, 1), (2, 1)])
def test_threaded_writes_match_single_thread(widths, monkeypatch):
    import symlip.models.network as network

    net, theta, X, v = setup(widths, "tanh", n=5)
    monkeypatch.setattr(network, "_n_workers", lambda: 3)
    monkeypatch.setattr(network, "_PARALLEL_MIN_ENTRIES", 1)
    G, H = net.grad(theta, X), net.hvp(theta, X, v)
    monkeypatch.setattr(network, "_PARALLEL_MIN_ENTRIES", 1 << 62)
    np.testing.assert_array_equal(G, net.grad(theta, X))
    np.testing.assert_array_equal(H, net.hvp(theta, X, v))


def test_large_batch_matches_mp():
    # big enough for the multi-threaded writer (n * P >= 2**20)
    net, theta, X, v = setup((8, 64, 64, 1), "sigmoid", n=256)
    assert X.shape[0] * net.n_params >= 1 << 20
    G, H = net.grad(theta, X), net.hvp(theta, X, v)
    for k in (0, 127, 255):
        assert normwise(G[k], net.grad_mp(theta, X[k], dps=20)) < 1e-12
        assert normwise(H[k], net.hvp_mp(theta, X[k], v, dps=20)) < 1e-12


def test_fork_after_threaded_use():
    import multiprocessing as mp_

    if "fork" not in mp_.get_all_start_methods():
        pytest.skip("no fork start method")
    net, theta, X, _ = setup((8, 64, 64, 1), "tanh", n=256)
    G = net.grad(theta, X)  # creates the worker pool
    with mp_.get_context("fork").Pool(1) as pool:
        G2 = pool.apply_async(net.grad, (theta, X)).get(timeout=60)
    np.testing.assert_array_equal(G, G2)


def test_hvp_symmetry_and_linearity():
    net, theta, X, u = setup((3, 5, 4, 1), "softplus", n=7)
    v = np.random.default_rng(5).normal(size=net.n_params)
    Hu, Hv = net.hvp(theta, X, u), net.hvp(theta, X, v)
    uHv, vHu = Hv @ u, Hu @ v
    np.testing.assert_allclose(uHv, vHu, rtol=1e-12, atol=1e-12 * np.abs(uHv).max())
    combo = net.hvp(theta, X, 2.5 * u - 0.75 * v)
    np.testing.assert_allclose(combo, 2.5 * Hu - 0.75 * Hv, rtol=1e-12,
                               atol=1e-13 * np.abs(combo).max())
    # the full Hessian assembled from hvp of unit vectors is symmetric per sample
    Hfull = np.stack([net.hvp(theta, X, e) for e in np.eye(net.n_params)], axis=2)
    np.testing.assert_allclose(Hfull, Hfull.transpose(0, 2, 1), atol=1e-13 * np.abs(Hfull).max())


def test_loss_and_its_derivatives():
    net, theta, X, v = setup((3, 4, 3, 1), "gelu", n=9)
    y = np.random.default_rng(2).normal(size=9)
    r = net.f(theta, X) - y
    assert net.loss(theta, X, y) == pytest.approx(0.5 * np.mean(r**2), rel=1e-15)
    g = net.loss_grad(theta, X, y)
    assert g.shape == (net.n_params,)
    h = 1e-5
    E = np.eye(net.n_params)
    fd = np.array([(net.loss(theta + h * e, X, y) - net.loss(theta - h * e, X, y)) / (2 * h) for e in E])
    assert normwise(g, fd) < 1e-6
    G = net.grad(theta, X)
    assert normwise(g, G.T @ r / 9) < 1e-13
    Hv = net.loss_hvp(theta, X, y, v)
    fdh = (net.loss_grad(theta + h * v, X, y) - net.loss_grad(theta - h * v, X, y)) / (2 * h)
    assert normwise(Hv, fdh) < 1e-6
    expect = (G.T @ (G @ v) + net.hvp(theta, X, v).T @ r) / 9
    assert normwise(Hv, expect) < 1e-13
    # a single sample with a scalar target
    assert net.loss(theta, X[0], y[0]) == pytest.approx(0.5 * r[0] ** 2, rel=1e-14)
    assert normwise(net.loss_grad(theta, X[0], y[0]), G[0] * r[0]) < 1e-13


def test_loss_depth_one_is_least_squares():
    net = MLP((3, 1), "tanh")
    rng = np.random.default_rng(4)
    X, y, theta, v = rng.normal(size=(8, 3)), rng.normal(size=8), net.init(1), rng.normal(size=4)
    A = np.hstack([X, np.ones((8, 1))])
    np.testing.assert_allclose(net.loss_grad(theta, X, y), A.T @ (A @ theta - y) / 8, rtol=1e-13)
    np.testing.assert_allclose(net.loss_hvp(theta, X, y, v), A.T @ (A @ v) / 8, rtol=1e-13)


def test_mp_path_accepts_mpf_inputs_beyond_float_precision():
    net = MLP((1, 1, 1), "tanh")
    with workdps(60):
        third = mpmath.mpf(1) / 3
        theta = np.array([third, mpmath.mpf(0), mpmath.mpf(2), third], dtype=object)
        x = np.array([[mpmath.mpf(3)]], dtype=object)
        out = net.f_mp(theta, x, dps=60)[0]
        assert abs(out - (2 * mpmath.tanh(1) + third)) < mpmath.mpf(10) ** -58
        g = net.grad_mp(theta, x, dps=60)[0]
        # ∂f/∂w1 = w2 σ'(w1 x) x, ∂f/∂b1 = w2 σ'(.), ∂f/∂w2 = tanh(1), ∂f/∂b2 = 1
        s1 = 1 - mpmath.tanh(1) ** 2
        expect = [2 * s1 * 3, 2 * s1, mpmath.tanh(1), 1]
        assert all(abs(a - b) < mpmath.mpf(10) ** -57 for a, b in zip(g, expect))
    # the context precision is restored afterwards
    assert mpmath.mp.dps == 15


def test_mp_path_converts_floats_exactly():
    # 0.1 is not 1/10: the mp path must use the float's exact binary value
    net = MLP((1, 1), "tanh")
    theta = np.array([0.1, 0.0])
    out = net.f_mp(theta, np.array([1.0]), dps=50)
    with workdps(50):
        assert out == mpmath.mpf(Fraction(0.1).numerator) / Fraction(0.1).denominator
        assert out != mpmath.mpf(1) / 10


@st.composite
def architectures(draw, scalar=True):
    depth = draw(st.integers(1, 4))
    widths = draw(st.lists(st.integers(1, 4), min_size=depth + 1, max_size=depth + 1))
    if scalar:
        widths[-1] = 1
    act = draw(st.sampled_from(SMOOTH + ["silu", "softsign"]))
    seed = draw(st.integers(0, 2**31))
    scale = draw(st.floats(0.2, 2.5))
    n = draw(st.integers(1, 3))
    return tuple(widths), act, seed, scale, n


@given(architectures())
def test_property_float_matches_mp(arch):
    widths, act, seed, scale, n = arch
    net, theta, X, v = setup(widths, act, seed=seed % 10_000, n=n, scale=scale)
    G, H = net.grad(theta, X), net.hvp(theta, X, v)
    assert normwise(G, net.grad_mp(theta, X, dps=30)) < 1e-12
    assert normwise(net.jac_x(theta, X), net.jac_x_mp(theta, X, dps=30)) < 1e-12
    if net.depth > 1:
        assert normwise(H, net.hvp_mp(theta, X, v, dps=30)) < 1e-12
    else:
        assert not H.any()


@given(architectures(), st.integers(0, 2**31))
def test_property_hvp_symmetric_and_grad_consistent(arch, seed2):
    widths, act, seed, scale, n = arch
    net, theta, X, u = setup(widths, act, seed=seed % 10_000, n=n, scale=scale)
    v = np.random.default_rng(seed2).normal(size=net.n_params)
    Hu, Hv = net.hvp(theta, X, u), net.hvp(theta, X, v)
    a, b = Hv @ u, Hu @ v
    tol = 1e-12 * (np.abs(Hu).max() * np.abs(v).max() + np.abs(Hv).max() * np.abs(u).max()) * net.n_params
    assert np.all(np.abs(a - b) <= tol + 1e-300)
    # directional derivative of f equals grad · v
    h = 1e-6
    dfd = (net.f(theta + h * v, X) - net.f(theta - h * v, X)) / (2 * h)
    gv = net.grad(theta, X) @ v
    assert np.all(np.abs(dfd - gv) <= 1e-6 * (1 + np.abs(gv)))


@given(architectures(scalar=False))
def test_property_jac_x_vector_output(arch):
    widths, act, seed, scale, n = arch
    net, theta, X, _ = setup(widths, act, seed=seed % 10_000, n=n, scale=scale)
    J = net.jac_x(theta, X)
    want = (n, widths[0]) if widths[-1] == 1 else (n, widths[-1], widths[0])
    assert J.shape == want
    assert normwise(J, net.jac_x_mp(theta, X, dps=30)) < 1e-12
    F = net.f(theta, X)
    assert F.shape == ((n,) if widths[-1] == 1 else (n, widths[-1]))


# ---------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "widths, act, exc, match",
    [
        ((3,), "tanh", ValueError, r"at least 2"),
        ((3, 0, 1), "tanh", ValueError, r"widths\[1\] = 0"),
        ((3, -2), "tanh", ValueError, r"widths\[1\] = -2"),
        ((3, 2.0, 1), "tanh", TypeError, r"widths\[1\] = 2.0"),
        ((3, True), "tanh", TypeError, r"widths\[1\] = True"),
        ("31", "tanh", TypeError, r"widths must be a sequence"),
        (5, "tanh", TypeError, r"widths must be a sequence"),
        ((3, 1), 3.5, TypeError, r"activation must be .*3.5"),
        ((3, 1), "nosuchact", ValueError, r"nosuchact"),
        ((10**12, 10**12), "tanh", ValueError, r"P = 1000000000001000000000000 parameters; at most MAX_PARAMS"),
        ((3, 10**30), "tanh", ValueError, r"at most MAX_PARAMS = 1000000000"),
    ],
)
def test_construction_errors(widths, act, exc, match):
    with pytest.raises(exc, match=match):
        MLP(widths, act)


def test_input_errors_name_the_bad_value():
    net, theta, X, v = setup((3, 4, 1), "tanh")
    P = net.n_params
    with pytest.raises(ValueError, match=rf"theta has shape \(5,\), expected \(P,\) = \({P},\)"):
        net.f(np.zeros(5), X)
    with pytest.raises(ValueError, match=r"theta has shape \(1, 21\)"):
        net.grad(theta[None, :], X)
    bad = theta.copy()
    bad[4] = np.nan
    with pytest.raises(ValueError, match=r"theta\[4\] = nan"):
        net.grad(bad, X)
    with pytest.raises(TypeError, match=r"theta must be real"):
        net.f(theta + 0j, X)
    with pytest.raises(TypeError, match=r"theta must be a real numeric array"):
        net.f("abc", X)
    with pytest.raises(ValueError, match=r"X has shape \(3, 2\), expected \(n, d_0\) = \(n, 3\)"):
        net.f(theta, X[:, :2])
    with pytest.raises(ValueError, match=r"X has shape \(2, 3, 3\)"):
        net.jac_x(theta, np.zeros((2, 3, 3)))
    with pytest.raises(ValueError, match=r"X has shape \(0, 3\)"):
        net.grad(theta, np.zeros((0, 3)))
    with pytest.raises(ValueError, match=r"X has shape \(4,\)"):
        net.f(theta, np.zeros(4))
    with pytest.raises(ValueError, match=r"X must be finite"):
        net.hvp(theta, np.full((2, 3), np.inf), v)
    with pytest.raises(ValueError, match=rf"v has shape \(3,\), expected \(P,\) = \({P},\)"):
        net.hvp(theta, X, np.zeros(3))
    with pytest.raises(ValueError, match=r"v must be finite"):
        net.loss_hvp(theta, X, np.zeros(3), np.full(P, np.nan))
    with pytest.raises(ValueError, match=r"y has shape \(2,\), expected \(n,\) = \(3,\)"):
        net.loss(theta, X, np.zeros(2))
    with pytest.raises(ValueError, match=r"y has shape \(3, 1\)"):
        net.loss_grad(theta, X, np.zeros((3, 1)))
    with pytest.raises(ValueError, match=r"y must be finite"):
        net.loss_grad(theta, X, np.array([0.0, np.nan, 1.0]))


def test_vector_output_rejects_scalar_only_quantities():
    net, theta, X, v = setup((3, 4, 2), "tanh")
    for call in (lambda: net.grad(theta, X), lambda: net.hvp(theta, X, v),
                 lambda: net.loss(theta, X, np.zeros(3)),
                 lambda: net.loss_grad(theta, X, np.zeros(3)),
                 lambda: net.loss_hvp(theta, X, np.zeros(3), v),
                 lambda: net.grad_mp(theta, X), lambda: net.hvp_mp(theta, X, v)):
        with pytest.raises(ValueError, match=r"scalar output \(d_m = 1\).*d_m = 2"):
            call()


def test_mp_input_errors():
    net, theta, X, v = setup((2, 3, 1), "tanh")
    with pytest.raises(ValueError, match=r"dps must be an integer >= 15.*got 10"):
        net.f_mp(theta, X, dps=10)
    with pytest.raises(ValueError, match=r"dps .* got 30.5"):
        net.grad_mp(theta, X, dps=30.5)
    with pytest.raises(ValueError, match=r"theta has shape \(3,\)"):
        net.grad_mp(theta[:3], X)
    with pytest.raises(ValueError, match=r"X has shape \(3, 5\)"):
        net.jac_x_mp(theta, np.zeros((3, 5)))
    with pytest.raises(ValueError, match=r"v has shape \(2,\)"):
        net.hvp_mp(theta, X, v[:2])
    bad = to_mp(theta)
    bad[1] = mpmath.inf
    with pytest.raises(ValueError, match=r"theta must be finite"):
        net.f_mp(bad, X)
    with pytest.raises(TypeError, match=r"complex"):
        net.f_mp(theta, X + 1j)


def test_layout_and_init_errors():
    net = MLP((2, 3, 1), "tanh")
    layers = net.unflatten(net.init())
    with pytest.raises(ValueError, match=r"layers has 1 entries, expected depth m = 2"):
        net.flatten(layers[:1])
    with pytest.raises(ValueError, match=r"W_2 has shape \(3, 1\), expected \(1, 3\)"):
        net.flatten([layers[0], (layers[1][0].T, layers[1][1])])
    with pytest.raises(ValueError, match=r"b_1 has shape \(2,\), expected \(3,\)"):
        net.flatten([(layers[0][0], np.zeros(2)), layers[1]])
    with pytest.raises(ValueError, match=r"scale must be .* got -1"):
        net.init(scale=-1.0)
    with pytest.raises(ValueError, match=r"theta has shape \(4,\)"):
        net.unflatten(np.zeros(4))


def test_overflow_is_an_error_not_inf():
    net = MLP((1, 2, 1), "identity")
    theta = np.array([1e200, 1e200, 0.0, 0.0, 1e200, 1e200, 0.0])
    with pytest.raises(FloatingPointError, match=r"non-finite value"):
        net.f(theta, np.array([[1e200]]))
    with pytest.raises(FloatingPointError, match=r"overflow"):
        net.grad(theta, np.array([[1e150]]))
    with pytest.raises(FloatingPointError, match=r"overflow in the loss"):
        net.loss(np.array([1.0, 1, 0, 0, 1, 1, 0]), np.array([[1e200]]), np.array([0.0]))
    # the mp path has no overflow
    with workdps(50):
        assert net.f_mp(theta, np.array([[1e200]]))[0] == 2 * mpmath.mpf(1e200) ** 3


# ---------------------------------------------------------------------------
# symlip.core.precision
# ---------------------------------------------------------------------------
def test_to_mp_exact_and_passthrough():
    a = np.array([[0.1, -2.5e-300], [1e300, 3.0]])
    m = to_mp(a)
    assert m.shape == (2, 2) and m.dtype == object
    for x, y in zip(a.ravel(), m.ravel()):
        assert isinstance(y, mpmath.mpf)
        sign = -1 if y < 0 else 1
        assert Fraction(x) == sign * Fraction(int(y.man)) * Fraction(2) ** int(y.exp)
    with workdps(50):
        third = mpmath.mpf(1) / 3
    out = to_mp([third, 1, np.float32(0.5)])
    assert out[0] is third and out[1] == 1 and out[2] == mpmath.mpf(0.5)
    assert to_mp(2.0).shape == () and to_mp(2.0)[()] == 2
    for bad in (np.array([1 + 2j]), ["x"], [True], np.array(["a"])):
        with pytest.raises(TypeError):
            to_mp(bad)


def test_to_float_and_rel_diff():
    with workdps(40):
        third = mpmath.mpf(1) / 3
        assert to_float(np.array([third, third])).tolist() == [1 / 3, 1 / 3]
        assert to_float(third) == 1 / 3 and isinstance(to_float(third), float)
        close = third + mpmath.mpf(10) ** -30
        r = rel_diff(np.array([third], dtype=object), np.array([close], dtype=object))
        assert 2e-30 < r < 4e-30  # invisible in float64, seen in mp
    assert rel_diff(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 0.0
    assert rel_diff([0.0, 1.0], [0.0, 1.1]) == pytest.approx(0.1 / 1.1)
    assert rel_diff([1e-20], [0.0]) == 1.0
    assert rel_diff([1e-20], [0.0], floor=1.0) == pytest.approx(1e-20)
    assert rel_diff(np.zeros((0, 3)), np.zeros((0, 3))) == 0.0
    assert rel_diff(2.0, to_mp(2.0)) == 0.0
    with pytest.raises(ValueError, match=r"same shape.*\(2,\) and \(3,\)"):
        rel_diff(np.zeros(2), np.zeros(3))
    with pytest.raises(ValueError, match=r"non-finite"):
        rel_diff([np.nan], [1.0])
    with pytest.raises(ValueError, match=r"non-finite"):
        rel_diff(to_mp([1.0]), np.array([mpmath.inf], dtype=object))
    with pytest.raises(ValueError, match=r"floor"):
        rel_diff([1.0], [1.0], floor=0.0)


def test_workdps_validates_and_restores():
    before = mpmath.mp.dps
    with workdps(33) as d:
        assert d == 33 and mpmath.mp.dps == 33
    assert mpmath.mp.dps == before
    for bad in (14, 0, 20.0, True, "30", None):
        with pytest.raises(ValueError, match=r"dps must be an integer >= 15"):
            with workdps(bad):
                pass


def test_workdps_has_a_ceiling():
    """Regression (issue 12): any precision was accepted, e.g. 10^9 digits (a hang); the checks' guard
    digits still fit above MAX_DPS."""
    from symlip.core.precision import MAX_DPS

    with workdps(MAX_DPS + 30) as d:
        assert d == MAX_DPS + 30
    for bad in (10**9, MAX_DPS + 10**6):
        with pytest.raises(ValueError, match=rf"dps must be an integer <= \d+, got {bad}"):
            with workdps(bad):
                pass
    net, theta, X, _ = setup((2, 1), "tanh")
    from symlip import Claim, Region, falsify

    with pytest.raises(ValueError, match=rf"dps must be an integer <= {MAX_DPS}, got 1000000000"):
        falsify(Claim("c", "lip_f", 10.0), net, Region.box(1.0, 1.0), dps=10**9, max_evals=20)


@pytest.mark.parametrize("seed", [-1, 1.5, "seed", [1.5], True])
def test_init_seed_is_checked(seed):
    """Regression (issue 12): numpy's own errors ("expected non-negative integer") did not name the seed."""
    with pytest.raises(ValueError, match=rf"seed must be an integer >= 0 or None, got {re.escape(repr(seed))}"):
        MLP((2, 1), "tanh").init(seed=seed)


def test_check_data_names_the_bad_shape_and_returns_checked_arrays():
    from symlip import MLP

    net = MLP([2, 3, 1], "tanh")
    th, X, y = net.check_data(np.zeros(net.n_params), [0.5, -0.5], 1.0)
    assert th.shape == (net.n_params,) and X.shape == (1, 2) and y.shape == (1,)
    with pytest.raises(ValueError, match="theta has shape"):
        net.check_theta(np.zeros(net.n_params + 1))
    with pytest.raises(ValueError, match=r"y has shape \(3,\)"):
        net.check_data(np.zeros(net.n_params), np.zeros((2, 2)), np.zeros(3))
