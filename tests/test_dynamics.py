"""One-step SGD moments (docs/theory.md §7): gradients, the batch-noise covariance (exact by
enumeration of all batches, dense, low-rank), the second-order identity, Monte-Carlo
agreement and its error slope, the statistical claims and their witnesses."""
from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest

from symlip import MLP
from symlip.search.catalogue import _import_file
from symlip.training.dynamics import (draw_batches, loss_value, mean_gradient, monte_carlo, noise_factor,
                             per_sample_gradients, sgd_moments, teacher_student)
from symlip.training.moment_claims import MomentCase, MomentClaim, MomentWitness, replay_moment
from symlip.training.spectral import top_singular

ROOT = Path(__file__).resolve().parent.parent


def _problem(widths=(3, 5, 4, 1), act="tanh", N=12, seed=0, task="regression"):
    net = MLP(list(widths), act)
    X, y = teacher_student(N, widths[0], task=task, noise_std=0.2 if task == "regression" else 0.0,
                           label_noise=0.2 if task == "classification" else 0.0, seed=seed)
    return net, net.init(seed=seed + 1), X, y


# ---------------------------------------------------------------------------
# gradients
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("loss,task", [("squared", "regression"), ("logistic", "classification")])
def test_per_sample_gradients_match_finite_differences(loss, task):
    net, th, X, y = _problem(task=task)
    G = per_sample_gradients(net, th, X, y, loss)
    rng = np.random.default_rng(0)
    h = 1e-6
    for n in (0, 5):
        for _ in range(3):
            v = rng.normal(size=net.n_params)
            fd = (loss_value(net, th + h * v, X[n:n + 1].repeat(2, 0), y[n:n + 1].repeat(2), loss)
                  - loss_value(net, th - h * v, X[n:n + 1].repeat(2, 0), y[n:n + 1].repeat(2), loss)) / (2 * h)
            assert G[n] @ v == pytest.approx(fd, rel=1e-6, abs=1e-9)
    assert np.allclose(mean_gradient(net, th, X, y, loss), G.mean(axis=0), rtol=1e-12, atol=1e-15)


def test_mean_gradient_is_the_networks_loss_gradient():
    net, th, X, y = _problem()
    assert np.allclose(mean_gradient(net, th, X, y), net.loss_grad(th, X, y), rtol=1e-12, atol=1e-15)


# ---------------------------------------------------------------------------
# the batch noise: closed forms against enumeration of every batch
# ---------------------------------------------------------------------------
def _all_batches(N, B, replacement):
    it = itertools.product(range(N), repeat=B) if replacement else itertools.permutations(range(N), B)
    return np.array(list(it))


@pytest.mark.parametrize("replacement,B", [(True, 2), (True, 3), (False, 2), (False, 3)])
def test_moments_equal_exact_expectations_over_all_batches(replacement, B):
    """Every batch equally likely: E[g_b] = ∇L, Cov[J·g_b] = J:Σ_B:J and
    E[g_b:H:g_b] = ∇L:H:∇L + tr(HΣ_B) exactly (the identity behind the prediction)."""
    net, th, X, y = _problem(N=6)
    eta = 0.01
    m = sgd_moments(net, th, X, y, batch_size=B, eta=eta, replacement=replacement)
    G = per_sample_gradients(net, th, X, y)
    gb = G[_all_batches(6, B, replacement)].mean(axis=1)
    layers = net.unflatten(th)
    proj = []
    for i, ((sw, _), t) in enumerate(zip(net.layer_slices, m.spectra)):
        gW = gb[:, sw].reshape(len(gb), *layers[i][0].shape)
        lin = -eta * t.directional(gW)
        assert lin.mean() == pytest.approx(m.flow[i], rel=1e-12, abs=1e-18)
        second = 0.5 * eta ** 2 * t.hessian_form(gW).mean()
        assert second == pytest.approx(m.mean_curvature[i] + m.noise_curvature[i], rel=1e-10)
        proj.append(lin)
    proj = np.array(proj)
    assert np.allclose(np.cov(proj, bias=True), m.cov, rtol=1e-10, atol=1e-20)


def test_noise_factor_values_and_errors():
    assert noise_factor(10, 4, True) == 0.25
    assert noise_factor(10, 4, False) == pytest.approx(6 / 36)
    assert noise_factor(10, 10, False) == 0.0
    with pytest.raises(ValueError, match="batch_size"):
        noise_factor(10, 11, False)
    with pytest.raises(ValueError, match="N must"):
        noise_factor(1, 1, True)


def test_dense_path_equals_low_rank_algebra():
    net, th, X, y = _problem(N=40)
    for repl, B in ((True, 5), (False, 30)):
        a = sgd_moments(net, th, X, y, batch_size=B, eta=0.02, replacement=repl)
        b = sgd_moments(net, th, X, y, batch_size=B, eta=0.02, replacement=repl, estimator="dense")
        assert np.allclose(a.cov, b.cov, rtol=1e-10, atol=1e-22)
        assert np.allclose(a.noise_curvature, b.noise_curvature, rtol=1e-10, atol=1e-22)
        assert np.allclose(a.mean, b.mean, rtol=1e-12)
        assert a.noise_curvature.min() > 0 and a.var.min() > 0


def test_low_rank_estimator_is_unbiased():
    """Mean of 400 low-rank estimates (k = 8 gradients each) against the exact value:
    a z-test per component at false-alarm rate 1e-3 (Bonferroni over the components)."""
    net, th, X, y = _problem(N=64)
    exact = sgd_moments(net, th, X, y, batch_size=8, eta=0.05)
    est = [sgd_moments(net, th, X, y, batch_size=8, eta=0.05, estimator="low_rank", seed=s) for s in range(400)]
    for name, ref in (("noise_curvature", exact.noise_curvature), ("cov", exact.cov.ravel())):
        vals = np.array([np.ravel(getattr(e, name)) for e in est])
        z = np.abs(vals.mean(axis=0) - ref) / (vals.std(axis=0, ddof=1) / math.sqrt(len(vals)))
        from statistics import NormalDist
        crit = NormalDist().inv_cdf(1 - 1e-3 / (2 * vals.shape[1]))
        assert np.all(z < crit), (name, z)
        # and the estimates really vary (the test is not vacuous)
        assert np.all(vals.std(axis=0) > 0)
    # grad-based terms are exact in the low-rank path too
    assert np.allclose(est[0].flow, exact.flow) and np.allclose(est[0].mean_curvature, exact.mean_curvature)


def test_with_eta_rescales_every_term():
    net, th, X, y = _problem()
    a = sgd_moments(net, th, X, y, batch_size=4, eta=0.1)
    b = sgd_moments(net, th, X, y, batch_size=4, eta=0.025)
    c = a.with_eta(0.025)
    for f in ("flow", "mean_curvature", "noise_curvature", "mean", "cov"):
        assert np.allclose(getattr(b, f), getattr(c, f), rtol=1e-12, atol=1e-25)
    assert b.log_K_mean == pytest.approx(c.log_K_mean, rel=1e-12)
    assert b.log_K_var == pytest.approx(c.log_K_var, rel=1e-12)


def test_log_K_and_cross_terms():
    net, th, X, y = _problem()
    m = sgd_moments(net, th, X, y, batch_size=4, eta=0.01)
    s = np.array([np.linalg.norm(W, 2) for W, _ in net.unflatten(th)])
    assert np.allclose(m.s, s, rtol=1e-14)
    assert m.log_K == pytest.approx(2 * math.log(1.0) + np.log(s).sum())   # tanh: S1 = 1
    scaled = m.cov / np.outer(s, s)
    assert m.log_K_var == pytest.approx(scaled.sum(), rel=1e-12)
    assert m.log_K_var_block == pytest.approx(np.trace(scaled), rel=1e-12)
    assert m.cross_fraction == pytest.approx((scaled.sum() - np.trace(scaled)) / np.trace(scaled), rel=1e-10)
    # E[Δ log K]: per layer, no cross terms
    expect = np.sum(m.mean / s) - 0.5 * np.sum((m.var + m.flow ** 2) / s ** 2)
    assert m.log_K_mean == pytest.approx(expect, rel=1e-12)


# ---------------------------------------------------------------------------
# Monte-Carlo
# ---------------------------------------------------------------------------
def test_draw_batches_is_uniform_and_respects_the_scheme():
    rng = np.random.default_rng(0)
    b = draw_batches(rng, 7, 7, 2000, replacement=False)
    assert all(len(set(row)) == 7 for row in b[:200])
    counts = np.bincount(draw_batches(rng, 5, 3, 20000, True).ravel(), minlength=5)
    assert np.all(np.abs(counts / counts.sum() - 0.2) < 0.01)


def test_monte_carlo_observes_real_steps():
    net, th, X, y = _problem(N=20)
    m = sgd_moments(net, th, X, y, batch_size=4, eta=0.05)
    mc = monte_carlo(net, th, X, y, m, n_steps=500, seed=3)
    # re-do step 17 by hand from the same batches
    idx = draw_batches(np.random.default_rng(3), 20, 4, 500, True)[17]
    th2 = th - 0.05 * mean_gradient(net, th, X[idx], y[idx])
    s2 = np.array([np.linalg.norm(W, 2) for W, _ in net.unflatten(th2)])
    assert np.allclose(mc.ds[17], s2 - m.s, rtol=1e-9, atol=1e-15)
    assert np.allclose(mc.dlogK, np.log1p(mc.ds / m.s).sum(axis=1))
    again = monte_carlo(net, th, X, y, m, n_steps=500, seed=3)
    assert np.array_equal(mc.ds, again.ds)


def test_monte_carlo_agrees_at_small_eta_and_error_has_third_order_slope():
    net, th, X, y = _problem(widths=(4, 10, 10, 1), N=96, seed=2)
    base = sgd_moments(net, th, X, y, batch_size=8, eta=0.01)
    errs = []
    for eta in (0.04, 0.01):
        m = base.with_eta(eta)
        mc = monte_carlo(net, th, X, y, m, n_steps=20000, seed=0)
        z = np.abs(mc.mean - m.mean) / (0.05 * np.abs(m.mean) + 3.3 * mc.mean_se)
        assert np.all(z < 1)
        second = mc.mean - m.flow
        pred2 = m.mean_curvature + m.noise_curvature
        if eta == 0.01:
            assert np.all(np.abs(second - pred2) <= 0.05 * np.abs(pred2) + 3.3 * mc.mean_se)
            assert np.all(np.abs(mc.var - m.var) <= 0.05 * m.var + 3.3 * mc.var_se)
        errs.append(np.abs(mc.error))
    slope = np.log(errs[0] / errs[1]) / np.log(4.0)
    assert np.all((slope > 2.6) & (slope < 3.4)), slope


# ---------------------------------------------------------------------------
# claims, witnesses, replay
# ---------------------------------------------------------------------------
def test_catalogue_claims_survive_and_mutants_are_violated(tmp_path):
    cases = _import_file((ROOT / "proofs" / "dynamics.py").resolve()).CASES
    mutants = _import_file((ROOT / "proofs" / "mutants" / "dynamics_mutants.py").resolve()).CASES
    assert len(cases) >= 10 and len(mutants) >= 5
    for c in cases[:5]:
        v = c.run(seed=0)
        assert v.status == "survived" and v.as_expected and v.best_ratio < 1
    v = mutants[0].run(seed=0, source="proofs/mutants/dynamics_mutants.py::0")
    assert v.status == "violated" and v.as_expected and v.best_ratio > 1 and len(v.runs) == 2
    path = v.witness.save(tmp_path / "w.json")
    data = json.loads(path.read_text())
    assert data["kind"] == "sgd-moment" and data["seeds"] == [0, 1_000_003]
    rep = replay_moment(path)
    assert rep.status == "violated" and rep.ratio > 1
    assert MomentWitness.load(path).data["claim"] == "M-MATH7-logK-drift-cross-terms"


def test_replay_of_a_tampered_witness_is_not_violated(tmp_path):
    mutant = _import_file((ROOT / "proofs" / "mutants" / "dynamics_mutants.py").resolve()).CASES[2]
    v = mutant.run(seed=0)
    data = dict(v.witness.data)
    m = mutant.moments()
    data["prediction"] = (m.mean_curvature + m.noise_curvature).tolist()   # the true prediction
    path = MomentWitness(data).save(tmp_path / "w.json")
    assert replay_moment(path).status == "not violated"


def test_moment_claim_validation():
    with pytest.raises(ValueError, match="statistic"):
        MomentClaim("x", "median")
    with pytest.raises(ValueError, match="rel_tol"):
        MomentClaim("x", "mean", rel_tol=0.0)
    with pytest.raises(ValueError, match="alpha"):
        MomentClaim("x", "mean", alpha=0.7)
    with pytest.raises(TypeError, match="predict"):
        MomentClaim("x", "mean", predict=3.0)
    net, th, X, y = _problem()
    with pytest.raises(ValueError, match="n_steps"):
        MomentCase(MomentClaim("x", "mean"), net, th, X, y, batch_size=2, eta=0.1, n_steps=10)


@pytest.mark.parametrize("kw, exc, match", [
    ({"n_steps": 10**12}, ValueError, r"n_steps must be an integer in \[100, 10000000\]; got 1000000000000"),
    ({"replacement": "yes"}, TypeError, "replacement must be True or False; got 'yes'"),
    ({"replacement": None}, TypeError, "replacement must be True or False; got None"),
    ({"weight": 0}, ValueError, r"MomentCase.weight must be a finite number > 0; got 0"),
    ({"weight": math.nan}, ValueError, r"MomentCase.weight must be a finite number > 0; got nan"),
    ({"Y": -1.0}, ValueError, r"MomentCase.Y must be a finite number >= 0 or None; got -1.0"),
    ({"Y": "1"}, ValueError, r"MomentCase.Y must be .*; got '1'"),
])
def test_moment_case_validation(kw, exc, match):
    """Regression (issue 12): these were accepted (n_steps = 10^12 ran out of memory at the first run)."""
    net, th, X, y = _problem()
    with pytest.raises(exc, match=match):
        MomentCase(MomentClaim("x", "mean"), net, th, X, y, **{"batch_size": 2, "eta": 0.1, **kw})


# ---------------------------------------------------------------------------
# bad input and degenerate spectra
# ---------------------------------------------------------------------------
def test_bad_inputs_name_the_value():
    net, th, X, y = _problem()
    with pytest.raises(ValueError, match="loss must be one of"):
        sgd_moments(net, th, X, y, batch_size=2, eta=0.1, loss="hinge")
    with pytest.raises(ValueError, match="eta must be"):
        sgd_moments(net, th, X, y, batch_size=2, eta=0.0)
    with pytest.raises(ValueError, match="eta must be"):
        sgd_moments(net, th, X, y, batch_size=2, eta=float("nan"))
    with pytest.raises(ValueError, match="batch_size must be an integer in \\[1, 12\\]"):
        sgd_moments(net, th, X, y, batch_size=13, eta=0.1, replacement=False)
    with pytest.raises(ValueError, match="estimator"):
        sgd_moments(net, th, X, y, batch_size=2, eta=0.1, estimator="sketch")
    with pytest.raises(ValueError, match="labels -1 or \\+1"):
        sgd_moments(net, th, X, y, batch_size=2, eta=0.1, loss="logistic")
    with pytest.raises(ValueError, match="X must have shape"):
        sgd_moments(net, th, X[:, :2], y, batch_size=2, eta=0.1)
    with pytest.raises(ValueError, match="y has 11 entries"):
        sgd_moments(net, th, X, y[:-1], batch_size=2, eta=0.1)
    with pytest.raises(ValueError, match="scalar output"):
        sgd_moments(MLP([3, 2], "tanh"), np.zeros(8), X, y, batch_size=2, eta=0.1)
    with pytest.raises(TypeError, match="MLP"):
        sgd_moments("net", th, X, y, batch_size=2, eta=0.1)
    with pytest.raises(ValueError, match="must be finite"):
        Xb = X.copy()
        Xb[0, 0] = np.nan
        sgd_moments(net, th, Xb, y, batch_size=2, eta=0.1)


def test_degenerate_top_singular_value_is_reported_not_used():
    from symlip.training.spectral import DegenerateSpectrumError

    net = MLP([2, 2, 1], "tanh")
    th = net.flatten([(np.eye(2), np.zeros(2)), (np.array([[1.0, 0.5]]), np.zeros(1))])
    X, y = teacher_student(8, 2, seed=0)
    assert not top_singular(np.eye(2)).simple
    with pytest.raises(DegenerateSpectrumError, match="W|s_1|gap"):
        sgd_moments(net, th, X, y, batch_size=2, eta=0.1)


def test_monte_carlo_refuses_moments_of_another_point():
    net, th, X, y = _problem()
    m = sgd_moments(net, th, X, y, batch_size=2, eta=0.1)
    with pytest.raises(ValueError, match="another network, point or dataset"):
        monte_carlo(net, th * 1.1, X, y, m, n_steps=100)
    with pytest.raises(ValueError, match="another network, point or dataset"):
        monte_carlo(net, th, X[:-1], y[:-1], m, n_steps=100)
    with pytest.raises(TypeError, match="Moments"):
        monte_carlo(net, th, X, y, {"s": 1}, n_steps=100)
