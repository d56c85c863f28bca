"""Regions (docs/theory.md §2) and the weak sampling check of U1–U4 on concrete networks."""
import math
import re

import numpy as np
import pytest
from hypothesis import given, strategies as st

from symlip import MLP, Region, derive, sample_inputs


def _net(widths=(3, 4, 2, 1), act="tanh"):
    return MLP(widths, act)


def test_box_layer_bounds_scalar_and_per_layer():
    net = _net()
    assert Region.box(2.0, 0.5).layer_bounds(net) == ((2.0,) * 3, (0.5,) * 3)
    assert Region.box([1, 2, 3], [0, 0, 1]).layer_bounds(net) == ((1.0, 2.0, 3.0), (0.0, 0.0, 1.0))


def test_ball_lies_in_implied_box():
    net = _net()
    theta0 = net.init(seed=3)
    ball = Region.ball(theta0, 0.3)
    box = Region.box(*ball.layer_bounds(net))
    rng = np.random.default_rng(0)
    for _ in range(50):
        th = ball.sample(net, rng)
        assert ball.contains(net, th) and box.contains(net, th)


@given(seed=st.integers(0, 2**31), kind=st.sampled_from(["box", "ball"]))
def test_projection_is_the_nearest_point(seed, kind):
    net = _net()
    rng = np.random.default_rng(seed)
    region = Region.box([0.7, 1.1, 0.9], [0.2, 0.3, 0.1]) if kind == "box" else Region.ball(net.init(seed=1), 0.5)
    theta = rng.normal(scale=2.0, size=net.n_params)
    p = region.project(net, theta)
    assert region.contains(net, p, tol=1e-10)
    np.testing.assert_allclose(region.project(net, p), p, atol=1e-12)  # idempotent
    d = np.linalg.norm(theta - p)
    for _ in range(20):  # no sampled point of the region is nearer
        assert np.linalg.norm(theta - region.sample(net, rng)) >= d - 1e-9


def test_sample_inputs_in_ball():
    X = sample_inputs(5, 2.0, 500, rng=0)
    assert X.shape == (500, 5) and np.all(np.linalg.norm(X, axis=1) <= 2.0 + 1e-12)
    S = sample_inputs(5, 2.0, 10, rng=0, surface=True)
    np.testing.assert_allclose(np.linalg.norm(S, axis=1), 2.0)


@pytest.mark.parametrize("call,match", [
    (lambda: Region.box(-1.0, 1.0), "omega must be finite and >= 0"),
    (lambda: Region.box(1.0, [1.0, math.nan]), "beta must be finite"),
    (lambda: Region.ball(np.zeros(3), -0.1), "radius must be finite and >= 0"),
    (lambda: Region.ball(np.zeros((2, 2)), 1.0), "flat parameter vector"),
    (lambda: Region.box([1, 2], 1.0).layer_bounds(_net()), "2 entries but.*depth 3"),
    (lambda: Region.ball(np.zeros(3), 1.0).layer_bounds(_net()), "3 parameters but"),
    (lambda: sample_inputs(0, 1.0, 3), "input dimension"),
])
def test_region_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize("call,exc,match", [
    (lambda: Region.box(True, 1.0), TypeError, "omega must be a non-negative number .*; got True"),
    (lambda: Region.box(1.0, [1.0, False]), TypeError, r"beta must be .*; got \[1.0, False\]"),
    (lambda: Region.box("1", 1.0), TypeError, "omega must be .*; got '1'"),
    (lambda: Region.ball([True, False], 1.0), TypeError, r"ball center must be .*; got \[True, False\]"),
    (lambda: Region.ball([1.0, "a"], 1.0), TypeError, r"ball center must be .*; got \[1.0, 'a'\]"),
    (lambda: Region.ball(np.zeros(3), "1"), TypeError, "ball radius must be a real number .*; got '1'"),
    (lambda: Region.ball(np.zeros(3), True), TypeError, "ball radius must be a real number .*; got True"),
    (lambda: Region.ball(np.zeros(3), [1.0]), TypeError, r"ball radius must be a real number .*; got \[1.0\]"),
    (lambda: Region.ball(np.zeros(3), "\x91"), TypeError, "ball radius .*; got " + re.escape(repr("\x91"))),
    (lambda: Region.box(1.0, 1.0).contains(_net(), np.zeros(_net().n_params), tol=-1.0), ValueError,
     "tol must be finite and >= 0; got -1.0"),
    (lambda: Region.box(1.0, 1.0).contains(_net(), np.zeros(_net().n_params), tol=math.nan), ValueError,
     "tol must be finite and >= 0; got nan"),
    (lambda: sample_inputs(2, 1.0, -1), ValueError, "number of points n must be an integer >= 0; got -1"),
    (lambda: sample_inputs(2, 1.0, 1.5), ValueError, "number of points n must be an integer >= 0; got 1.5"),
    (lambda: sample_inputs(True, 1.0, 3), ValueError, "input dimension dim must be an integer >= 1; got True"),
    (lambda: sample_inputs(2, "1", 3), TypeError, "input radius R must be a real number .*; got '1'"),
])
def test_region_errors_name_the_value(call, exc, match):
    """Regression (issue 12): booleans and numeric strings were taken as numbers, and float()'s own
    messages ("could not convert string to float") did not say which argument was wrong."""
    with pytest.raises(exc, match=match):
        call()


# -- the weak check: random points never exceed the bounds --------------------
def _hessian(net, theta, x):
    eye = np.eye(net.n_params)
    return np.stack([net.hvp(theta, x[None], e)[0] for e in eye])


def _loss_hessian(net, theta, X, y):
    eye = np.eye(net.n_params)
    return np.stack([net.loss_hvp(theta, X, y, e) for e in eye])


CASES = [((2, 3, 1), "tanh"), ((3, 4, 3, 1), "sigmoid"), ((1, 2, 2, 2, 1), "softplus"),
         ((2, 3, 1), "gelu"), ((2, 1), "tanh"), ((3, 5, 1), "sin")]


@pytest.mark.parametrize("widths,act", CASES)
@pytest.mark.parametrize("kind", ["box", "ball"])
def test_sampled_quantities_never_exceed_bounds(widths, act, kind):
    net = MLP(widths, act)
    rng = np.random.default_rng(len(widths))
    R, Y = 1.5, 2.0
    region = Region.box(1.3, 0.7) if kind == "box" else Region.ball(net.init(seed=2), 0.8)
    U = {q: derive(q, net.depth).evaluate(net, region, R=R, Y=Y)
         for q in ("lip_f", "lip_grad", "lip_loss_grad", "lip_input")}
    seen = dict.fromkeys(U, 0.0)
    for _ in range(15):
        theta = region.sample(net, rng)
        X = sample_inputs(net.widths[0], R, 6, rng)
        y = rng.uniform(-Y, Y, 6)
        seen["lip_f"] = max(seen["lip_f"], np.linalg.norm(net.grad(theta, X), axis=1).max())
        seen["lip_input"] = max(seen["lip_input"], np.linalg.norm(net.jac_x(theta, X), axis=1).max())
        seen["lip_grad"] = max(seen["lip_grad"], np.abs(np.linalg.eigvalsh(_hessian(net, theta, X[0]))).max())
        H = _loss_hessian(net, theta, X, y)
        seen["lip_loss_grad"] = max(seen["lip_loss_grad"], np.abs(np.linalg.eigvalsh((H + H.T) / 2)).max())
    for q in U:
        assert seen[q] <= U[q] * (1 + 1e-12), (q, seen[q], U[q])
    assert seen["lip_f"] > 0 and seen["lip_input"] > 0  # the check is not vacuous


def test_relu_gets_U1_and_U4_but_not_U2():
    net = MLP((2, 4, 1), "relu")
    region = Region.box(1.0, 0.5)
    rng = np.random.default_rng(0)
    Lf = derive("lip_f", 2).evaluate(net, region, R=1.0)
    for _ in range(30):
        th = region.sample(net, rng)
        X = sample_inputs(2, 1.0, 8, rng)
        assert np.linalg.norm(net.grad(th, X), axis=1).max() <= Lf
    with pytest.raises(ValueError, match="smooth activation.*'relu'.*S2 = inf"):
        derive("lip_grad", 2).evaluate(net, region, R=1.0)


def test_evaluate_errors():
    net = _net()
    b = derive("lip_loss_grad", 3)
    with pytest.raises(ValueError, match="needs Y"):
        b.evaluate(net, Region.box(1, 1), R=1.0)
    with pytest.raises(ValueError, match="R must be finite and >= 0"):
        b.evaluate(net, Region.box(1, 1), R=-1.0, Y=1.0)
    with pytest.raises(ValueError, match="depth 2 but the network.*depth 3"):
        derive("lip_f", 2).evaluate(net, Region.box(1, 1), R=1.0)
    with pytest.raises(OverflowError, match="beyond the float64 range"):
        derive("lip_f", 3).evaluate(net, Region.box(1e200, 1e200), R=1.0)
