"""Continuously deep networks (docs/theory.md §5): derivatives, Euler → ODE convergence,
the Grönwall bounds, the catalogue claims and mutants, input validation."""
from __future__ import annotations

import math
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from symlip import Case, Claim, falsify, replay
from symlip.bounds.cdnn import cdnn_bound
from symlip.models.cdnn import CDNN
from symlip.search.witness import Witness
from symlip.search.catalogue import _import_file

PROOFS = Path(__file__).resolve().parent.parent / "proofs"


def _module(path: Path) -> ModuleType:
    """Import a catalogue file as ``symlip check`` does."""
    return _import_file(path.resolve())


@pytest.mark.parametrize("scheme", ["euler", "ode"])
def test_gradient_and_hvp_match_finite_differences_and_mpmath(scheme):
    net = CDNN(2, 1.0, 3, "tanh", scheme=scheme)
    th = net.init(1, scale=1.5)
    x = np.array([0.7, -0.4])
    g = net.grad(th, x)
    eps = 1e-6
    fd = np.array([(net.f(th + eps * e, x) - net.f(th - eps * e, x)) / (2 * eps) for e in np.eye(net.n_params)])
    assert np.max(np.abs(fd - g)) < 1e-8
    v = np.random.default_rng(0).standard_normal(net.n_params)
    hv = net.hvp(th, x, v)
    fdh = (net.grad(th + eps * v, x) - net.grad(th - eps * v, x)) / (2 * eps)
    assert np.max(np.abs(fdh - hv)) < 1e-7
    H = net.hessian(th, x)
    assert np.allclose(H @ v, hv, atol=1e-9)
    tol = 1e-14 if scheme == "euler" else 1e-10  # ode: float path at rtol 1e-11 vs mpmath GBS
    assert abs(float(net.f_mp(th, x, 30)) - net.f(th, x)) < tol
    assert np.max(np.abs(net.grad_mp(th, x, 30).astype(float) - g)) < tol
    assert np.max(np.abs(net.hvp_mp(th, x, v, 20).astype(float) - hv)) < 10 * tol
    jx = net.jac_x(th, x)
    fdx = np.array([(net.f(th, x + eps * e) - net.f(th, x - eps * e)) / (2 * eps) for e in np.eye(2)])
    assert np.max(np.abs(fdx - jx)) < 1e-8


def test_mp_ode_is_accurate_far_below_the_float_solver():
    net = CDNN(1, 1.0, 1, "identity", scheme="ode")  # ż = w z + b: closed form
    w, b, c, x = 0.8, 0.3, 1.5, 0.6
    th = net.from_path([[[w]]], [[b]], [c], 0.0)
    import mpmath
    with mpmath.workdps(60):
        exact = c * ((mpmath.mpf(x) + mpmath.mpf(b) / w) * mpmath.exp(mpmath.mpf(w)) - mpmath.mpf(b) / w)
        val = net.f_mp(th, [x], 50)
        # θ is stored scaled (√h w with h = 1): exact in float, so only the integrator errs
        assert abs(val - exact) < mpmath.mpf(10) ** -45


def test_euler_converges_to_the_ode_like_one_over_n():
    d, T = 2, 1.0
    ts_W = lambda t: np.array([[np.sin(2 * t), 0.8], [-0.5, np.cos(t)]])  # noqa: E731  a smooth W(t)
    ts_b = lambda t: np.array([0.2 * t, -0.1])  # noqa: E731
    x = np.array([0.5, -0.3])
    ode = CDNN(d, T, 64, "tanh", scheme="ode")
    mids = (np.arange(64) + 0.5) * ode.h
    th_ode = ode.from_path(np.stack([ts_W(t) for t in mids]), np.stack([ts_b(t) for t in mids]), [1.0, -0.5])
    f_ref = ode.f(th_ode, x)
    errs, gerrs = [], []
    for N in (4, 8, 16, 32):
        net = CDNN(d, T, N, "tanh", scheme="euler")
        m = (np.arange(N) + 0.5) * net.h
        th = net.from_path(np.stack([ts_W(t) for t in m]), np.stack([ts_b(t) for t in m]), [1.0, -0.5])
        errs.append(abs(net.f(th, x) - f_ref))
        g = net.grad(th, x)
        gerrs.append(abs(g[-3] - ode.grad(th_ode, x)[-3]))  # ∂f/∂c_1 = z_1(T)
    for a, b in zip(errs, errs[1:]):
        assert 1.6 < a / b < 2.6  # first order
    for a, b in zip(gerrs, gerrs[1:]):
        assert 1.6 < a / b < 2.6


@pytest.mark.parametrize("q", ["lip_f", "lip_grad"])
def test_euler_bound_increases_monotonically_to_the_ode_bound(q):
    ode = CDNN(2, 1.0, 1, "tanh", scheme="ode")
    B = cdnn_bound(q, "ode")(ode, ode.region(1.5, 0.5, 1.0), 1.0)
    prev, gaps = 0.0, []
    for N in (1, 4, 16, 64, 256, 1024):
        net = CDNN(2, 1.0, N, "tanh", scheme="euler")
        v = cdnn_bound(q, "euler")(net, net.region(1.5, 0.5, 1.0), 1.0)
        assert prev < v <= B
        prev = v
        gaps.append((B - v) / B)
    assert all(b < a for a, b in zip(gaps, gaps[1:]))
    assert gaps[-1] < 1e-2 and 0.5 < gaps[-2] / gaps[-1] * 0.25 < 2.0  # ~ 1/N


def test_closed_cases_n1_and_linear():
    # Euler N = 1: |∇f|^2 = h |c ⊙ σ'|^2 (1 + |x|^2) + |z_1|^2 + 1 <= bound^2
    net = CDNN(2, 0.5, 1, "identity", scheme="euler")
    reg = net.region(0.8, 0.5, 1.0)
    B = cdnn_bound("lip_f", "euler")(net, reg, 1.0)
    th = net.from_path([[[0.8, 0], [0, 0.8]]], [[0.5, 0]], [1.0, 0.0])
    x = np.array([1.0, 0.0])
    z1 = x + 0.5 * (np.array([[0.8, 0], [0, 0.8]]) @ x + [0.5, 0])
    exact = math.sqrt(0.5 * 1.0 * 2.0 + z1 @ z1 + 1)
    assert abs(np.linalg.norm(net.grad(th, x)) - exact) < 1e-12
    assert exact <= B
    # linear σ: the S2 terms vanish, lip_grad is the cross term plus S1^2 terms only
    b = cdnn_bound("lip_grad", "ode")
    vals = b.values_for(CDNN(1, 0.25, 1, "identity", scheme="ode"), CDNN(1, 0.25, 1, "identity").region(1, .5, 2), 1.0)
    assert vals["S2"] == 0.0 and b.kernel(*(vals[s.name] for s in b.args)) > 0


def test_scaled_distance_is_the_l2_path_norm():
    net = CDNN(2, 2.0, 5, "tanh", scheme="euler")
    rng = np.random.default_rng(3)
    W1, b1, c1 = rng.standard_normal((5, 2, 2)), rng.standard_normal((5, 2)), rng.standard_normal(2)
    W2, b2, c2 = rng.standard_normal((5, 2, 2)), rng.standard_normal((5, 2)), rng.standard_normal(2)
    t1, t2 = net.from_path(W1, b1, c1, 0.3), net.from_path(W2, b2, c2, -0.1)
    l2 = sum(net.h * (np.sum((W1[k] - W2[k]) ** 2) + np.sum((b1[k] - b2[k]) ** 2)) for k in range(5))
    l2 += np.sum((c1 - c2) ** 2) + 0.4 ** 2
    assert abs(np.linalg.norm(t1 - t2) - math.sqrt(l2)) < 1e-12
    W, b, c, e = net.path(t1)
    assert np.allclose(W, W1) and np.allclose(b, b1) and np.allclose(c, c1) and abs(e - 0.3) < 1e-15
    reg = net.region(1.0, 0.5, 1.0)
    th = net.from_path(np.stack([np.eye(2)] * 5) * 0.999, np.full((5, 2), 0.3), [0.6, 0.0])
    assert reg.contains(net, th) and not reg.contains(net, th * 1.01)


def test_true_claims_survive_a_short_falsify():
    cases = _module(PROOFS / "cdnn.py").CASES
    assert {(c.claim.quantity, c.net.scheme) for c in cases} == {(q, s) for q in ("lip_f", "lip_grad")
                                                                  for s in ("ode", "euler")}
    for case in cases:
        if case.net.scheme == "ode" and case.claim.quantity == "lip_grad":
            continue  # the slowest; `symlip check proofs/cdnn.py` attacks them
        v = falsify(case, budget=0.6, max_evals=30, seed=1, strategies=["random", "ascent", "pair"])
        assert v.status == "survived", (case.label, v.message)
        assert 0.0 < v.best_ratio < 1.0


def test_mutants_are_violated_and_replay(tmp_path):
    module = _module(PROOFS / "mutants" / "cdnn_mutants.py")
    assert len(module.CASES) >= 2
    for case in module.CASES:
        w = module.WITNESSES[case.claim.name]()
        assert case.region.contains(case.net, w["theta"]) and case.region.contains(case.net, w["theta2"])
        if case.net.scheme == "ode":
            continue  # confirmed by `symlip check` (mpmath ODE confirmation takes a few seconds)
        v = falsify(case, budget=1.0, max_evals=60, seed=0, strategies=["random", "ascent", "pair"])
        assert v.status == "violated", (case.claim.name, v.message)
        path = v.witness.save(tmp_path / f"{case.claim.name}.json")
        assert Witness.load(path).model["kind"] == "cdnn"
        r = replay(path, dps=40)
        assert r.violated, r.message


def test_mlp_witness_files_have_no_model_field():
    from symlip import MLP, Region, derive

    net = MLP((2, 3, 1), "tanh")
    v = falsify(Claim("U1", "lip_f", derive("lip_f", 2)), net, Region.box(1.0, 0.5), budget=0.3, max_evals=15)
    d = v.witness.to_dict()
    assert "model" not in d and Witness.from_dict(d).model is None


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="scheme"):
        CDNN(2, 1.0, 4, "tanh", scheme="rk4")
    with pytest.raises(ValueError, match="T must be"):
        CDNN(2, -1.0, 4, "tanh")
    with pytest.raises(ValueError, match="N must be"):
        CDNN(2, 1.0, 0, "tanh")
    with pytest.raises(ValueError, match="rtol"):
        CDNN(2, 1.0, 4, "tanh", rtol=0.0)
    net = CDNN(2, 1.0, 2, "tanh", scheme="euler")
    with pytest.raises(ValueError, match="theta has shape"):
        net.f(np.zeros(3), [0.0, 0.0])
    with pytest.raises(ValueError, match="X has shape"):
        net.f(net.init(0), [0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="finite"):
        net.f(np.full(net.n_params, np.nan), [0.0, 0.0])
    with pytest.raises(ValueError, match="smooth"):
        cdnn_bound("lip_grad", "euler")(CDNN(2, 1.0, 2, "relu", scheme="euler"), net.region(1, 1, 1), 1.0)
    with pytest.raises(ValueError, match="Euler network"):
        cdnn_bound("lip_f", "euler")(CDNN(2, 1.0, 2, "tanh", scheme="ode"), net.region(1, 1, 1), 1.0)
    with pytest.raises(ValueError, match="lip_f, lip_grad"):
        cdnn_bound("lip_input", "ode")
    with pytest.raises(TypeError, match="MLP or a CDNN"):
        Case(Claim("x", "lip_f", 1.0), object(), net.region(1, 1, 1))
