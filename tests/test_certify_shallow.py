"""The structured enclosure of one-hidden-layer Hessian norms (symlip/certify/shallow.py): the
block identity it rests on, soundness against float64 values at points of random boxes, the
one-dimensional supremum, replays of its certificates, and the certified step size."""
from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
from flint import arb

from symlip.certify import certify
from symlip.certify.bnb import local_value
from symlip.certify.certificate import replay_certificate
from symlip.certify.enclose import Problem
from symlip.certify.interval import float_up
from symlip.certify.shallow import applies, phi, shallow_bound, shallow_enclosure, sup_upper
from symlip.models.network import MLP
from symlip.models.region import Region

ACTS = ["tanh", "sigmoid", "softplus", "gelu"]


def _hessian(net, theta, x):
    H = np.array([net.hvp(theta, x, e) for e in np.eye(net.n_params)])
    return (H + H.T) / 2


@pytest.mark.parametrize("act", ACTS)
def test_block_identity_gives_the_hessian_norm(act):
    """||∇²_θ f||_2 = max_j φ(|v_j σ''(a_j)| |x̃|², |σ'(a_j)| |x̃|) for one hidden layer."""
    net = MLP((3, 5, 1), act)
    d1, d2 = net.activation.numpy(1), net.activation.numpy(2)
    rng = np.random.default_rng(ACTS.index(act))
    for _ in range(10):
        theta, x = rng.standard_normal(net.n_params), rng.uniform(-1, 1, 3)
        (W1, b1), (W2, _) = net.unflatten(theta)
        a = W1 @ x + b1
        s2 = 1 + x @ x
        A, B = np.abs(W2[0] * d2(a)) * s2, np.abs(d1(a)) * np.sqrt(s2)
        formula = float(np.max((A + np.sqrt(A * A + 4 * B * B)) / 2))
        direct = float(np.linalg.norm(_hessian(net, theta, x), 2))
        assert math.isclose(formula, direct, rel_tol=1e-9, abs_tol=1e-12)


def test_sup_upper_bounds_samples_and_is_tight():
    fn = lambda t: phi(2 * (t.tanh() * (1 - t.tanh() ** 2)).abs_upper() * 2, (1 - t.tanh() ** 2).abs_upper())
    up = float(sup_upper(fn, arb(-2), arb(3), rel=1e-4, max_evals=4000))
    ts = np.linspace(-2, 3, 20001)
    s1 = 1 - np.tanh(ts) ** 2
    A, B = 4 * np.abs(np.tanh(ts) * s1), s1
    best = float(np.max((A + np.sqrt(A * A + 4 * B * B)) / 2))
    assert best * (1 - 1e-12) <= up <= best * (1 + 1e-3)


@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("quantity", ["lip_f", "lip_grad", "lip_loss_grad"])
@pytest.mark.parametrize("widths,kind", [((1, 2, 1), "box"), ((1, 2, 1), "ball"), ((3, 8, 1), "ball")])
def test_enclosure_bounds_float_values_in_random_boxes(act, quantity, widths, kind):
    net = MLP(widths, act)
    region = Region.box(1.0, 1.0) if kind == "box" else Region.ball(net.init(0), 0.3)
    prob = Problem(quantity, net, region, 1.0, 0.5 if quantity == "lip_loss_grad" else None)
    assert applies(prob)
    rng = np.random.default_rng(len(widths) + ACTS.index(act))
    rlo, rhi = prob.root()
    for t in range(3):
        if t == 0:
            lo, hi = rlo, rhi
        else:
            c = rlo + (rhi - rlo) * rng.uniform(0, 1, rlo.size)
            w = (rhi - rlo) * float(rng.choice([0.01, 0.1, 0.4]))
            lo, hi = np.maximum(c - w, rlo), np.minimum(c + w, rhi)
        box = prob.contract(lo, hi)
        if box is None:
            continue
        up = float_up(shallow_bound(prob, *box))
        if quantity == "lip_grad":  # the enclosure certify uses (a ball's v_j ranges cut in pieces)
            up2, scores = shallow_enclosure(prob, *box)
            assert float_up(up2) <= up and scores.shape == (prob.n,) and np.all(scores >= 0)
            up = float_up(up2)
        full, _ = prob.enclose(lo, hi)
        if quantity != "lip_f":  # (lip_f takes the structured bound on wide boxes only)
            assert float_up(full) <= up  # enclose keeps the smaller of its bounds
        blo, bhi = box
        for _ in range(6):
            p = blo + (bhi - blo) * rng.uniform(0, 1, blo.size)
            th, x = p[:prob.P], np.zeros(net.d_in)
            x[:prob.dx] = p[prob.P:]
            if np.linalg.norm(x) > 1.0:
                x /= np.linalg.norm(x)
            if kind == "ball" and np.linalg.norm(th - region.center) > 0.3:
                continue
            val = local_value(prob, th, x).value
            # float64 eigenvalues of a P x P matrix: error below P eps |M|
            assert val <= up * (1 + 1e-9) + 1e-12


def test_certificates_replay_and_tampering_is_rejected():
    net = MLP((1, 2, 1), "tanh")
    cert = certify("lip_grad", net, Region.box(1.0, 1.0), R=1.0, budget=60, tol=0.01, max_boxes=20)
    assert cert.gap <= 1.01  # the structured bound at the root is the supremum up to 1e-4
    assert replay_certificate(cert.to_dict()).status == "certified"
    d = cert.to_dict()
    d["proof"]["uppers"] = [u * 0.999 for u in d["proof"]["uppers"]]
    d["upper"] *= 0.999
    assert replay_certificate(d).status == "tampered"


def test_certified_step_on_the_demo_beats_u3_and_keeps_the_descent_lemma():
    from symlip.report.stepsize import demo_task
    from symlip.training.stepsize import descent_sides, local_step

    task = demo_task(0, quick=True)
    net, theta, X, y, delta = task["net"], task["theta0"].copy(), task["X"], task["y"], task["delta"]
    for _ in range(3):
        u3 = local_step(net, theta, X, y, delta)
        cert = local_step(net, theta, X, y, delta, certified=True, budget=60.0)
        assert cert.L < u3.L and cert.eta >= u3.eta
        guaranteed, actual = descent_sides(net, theta, X, y, delta, dps=30,
                                           eta=lambda st, dps: mpmath.mpf(cert.eta))
        assert guaranteed <= actual
        theta = theta - cert.eta * cert.grad
