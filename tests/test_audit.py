"""Audits of claimed input-Lipschitz constants of fixed networks (symlip.search.audit)."""
import json
import math

import mpmath
import numpy as np
import pytest
from scipy.optimize import minimize

from symlip import MLP
from symlip.search.audit import (AuditVerdict, AuditWitness, InputLipschitzSearch, audit_constant,
                                 exact_input_lipschitz, input_lipschitz_lower_bound, replay_audit)
from symlip.search.strategies.fixed_net import FixedNet, exit_distance
from symlip.cli import main
from symlip.verify import replay


# ---------------------------------------------------------------------------
# networks
# ---------------------------------------------------------------------------
def _relu_step():
    """f(x) = relu(x) - relu(x - 1): slope 1 on (0, 1), 0 elsewhere; true constant 1."""
    net = MLP([1, 2, 1], "relu")
    th = net.flatten([(np.array([[1.0], [1.0]]), np.array([0.0, -1.0])),
                      (np.array([[1.0, -1.0]]), np.array([0.0]))])
    return net, th


def _bias_free(widths, act="relu", seed=0, scale=1.0):
    net = MLP(widths, act)
    th = net.init(seed=seed, scale=scale)
    for _, sb in net.layer_slices:
        th[sb] = 0.0
    return net, th


def _with_biases(widths, act="relu", seed=0, std=0.5):
    net = MLP(widths, act)
    th = net.init(seed=seed)
    for _, sb in net.layer_slices:
        th[sb] = np.random.default_rng(seed + 100).normal(0.0, std, sb.stop - sb.start)
    return net, th


def _disk(R, n_r=500, n_a=2000):
    """A dense polar grid of the closed disk |x| <= R (minus rounding)."""
    r = np.sqrt(np.linspace(0.0, 1.0, n_r)) * R * (1 - 1e-12)
    a = np.linspace(0.0, 2 * np.pi, n_a, endpoint=False)
    return (r[:, None, None] * np.stack([np.cos(a), np.sin(a)], -1)[None]).reshape(-1, 2)


def _jnorms(net, th, X):
    J = net.jac_x(th, X)
    if J.ndim == 2:
        return np.linalg.norm(J, axis=1)
    return np.linalg.norm(J, 2, axis=(1, 2))


def _pair_ratio(net, th, x, x2):
    return float(np.linalg.norm(np.atleast_1d(net.f(th, x) - net.f(th, x2)))) / float(np.linalg.norm(x - x2))


def _pair_ratio_mp(net, th, x, x2, dps=40):
    with mpmath.workdps(dps + 20):
        a = np.atleast_1d(net.f_mp(th, x, dps=dps + 20))
        b = np.atleast_1d(net.f_mp(th, x2, dps=dps + 20))
        num = mpmath.sqrt(mpmath.fsum((p - q) ** 2 for p, q in zip(a, b)))
        den = mpmath.sqrt(mpmath.fsum((mpmath.mpf(p) - mpmath.mpf(q)) ** 2 for p, q in zip(x, x2)))
        return float(num / den)


def _check_pair(s, net, th, R, smooth=False):
    """The search's pair is in the ball and reproduces its value (exactly, in mpmath)."""
    lim = 1.0 if R is None else R
    assert np.linalg.norm(s.x) <= lim and np.linalg.norm(s.x2) <= lim
    assert s.value == pytest.approx(_pair_ratio_mp(net, th, s.x, s.x2), rel=1e-13)
    # a close pair of a smooth network: the direct float64 difference is only good to its rounding error
    assert s.value == pytest.approx(_pair_ratio(net, th, s.x, s.x2), rel=1e-6 if smooth else 1e-14)


# ---------------------------------------------------------------------------
# regression tests: known peer failures (issue 6, point 6)
# ---------------------------------------------------------------------------
def test_relu_step_sdp_value_is_violated_and_replays(tmp_path, capsys):
    net, th = _relu_step()
    assert exact_input_lipschitz(net, th, R=2.0) == 1.0
    v = audit_constant(net, th, 4.7e-6, R=2.0, budget=0.5, seed=0, tool="sdp-coupled", max_evals=2000)
    assert isinstance(v, AuditVerdict)
    assert v.status == "violated" and v.violated
    assert v.lower_bound == pytest.approx(1.0, rel=1e-12)
    assert v.ratio == pytest.approx(1.0 / 4.7e-6, rel=1e-12)
    assert v.confirmed_digits >= 3 and "sdp-coupled" in v.tool
    w = v.witness
    assert isinstance(w, AuditWitness)
    assert abs(w.x[0]) <= 2.0 and abs(w.x2[0]) <= 2.0
    path = w.save(tmp_path / "w.json")
    assert json.loads(path.read_text())["kind"] == "input-lipschitz"
    rep = replay(path, dps=60)
    assert rep.status == "violated" and float(rep.value_mp) == pytest.approx(1.0, rel=1e-12)
    assert replay_audit(path).status == "violated"
    assert main(["replay", str(path)]) == 0
    out = capsys.readouterr().out
    assert "violated" in out and "sdp-coupled" in out
    # the same search shared by a true claim: survives, no witness
    ok = audit_constant(net, th, 1.0, R=2.0, search=v.search)
    assert ok.status == "survived" and ok.witness is None and ok.lower_bound == v.lower_bound


def _mp_norm(J, dps=60):
    """The spectral norm of a float or mpf matrix at ``dps`` digits (every float converted exactly)."""
    with mpmath.workdps(dps):
        M = J if isinstance(J, mpmath.matrix) else mpmath.matrix(np.atleast_2d(J).tolist())
        return max(mpmath.svd_r(M, compute_uv=False))


def _ulps_above(value, true):
    """How far the float ``value`` lies above the mpf ``true``, in units of eps * true."""
    with mpmath.workdps(60):
        return float((mpmath.mpf(value) - true) / (true * mpmath.mpf(2) ** -52))


def test_bias_free_2_16_1_relu_exact_claims():
    net, th = _bias_free([2, 16, 1], seed=3)
    exact = exact_input_lipschitz(net, th)
    assert exact_input_lipschitz(net, th, R=0.37) == exact  # positively homogeneous: any ball
    # brute force: ||J|| is constant on each of the 32 sectors; a dense circle hits them all
    ang = np.linspace(0.0, 2 * np.pi, 400001)
    X = np.c_[np.cos(ang), np.sin(ang)]
    norms = _jnorms(net, th, X)
    dense = norms.max()
    assert dense == pytest.approx(exact, rel=1e-13)
    # the true constant in mpmath: J of the best sectors at 60 digits (J is exact there, no rounding);
    # `exact` is a rigorous upper end (never below it, whatever the BLAS), a few ulps above at most
    top = np.flatnonzero(norms >= dense * (1 - 1e-9))
    true = max(_mp_norm(net.jac_x_mp(th, X[i], dps=60)) for i in top[:: max(1, len(top) // 12)])
    assert 0 <= _ulps_above(exact, true) <= 4
    # the search alone (no help from the enumeration) reaches it
    s = input_lipschitz_lower_bound(net, th, R=None, budget=2.0, seed=0, max_evals=4000, use_exact=False)
    assert s.exact == exact
    assert abs(s.value - exact) <= 1e-9 * exact and s.value <= exact * (1 + 1e-14)
    _check_pair(s, net, th, None)
    low = audit_constant(net, th, 0.99 * exact, R=None, search=s, tool="0.99x")
    assert low.status == "violated" and low.witness is not None
    assert replay_audit(low.witness).status == "violated"
    # a claim at the rigorous upper end holds: it survives on every BLAS, even when the float64 pair
    # ratio rounds above it
    at = audit_constant(net, th, exact, R=None, search=s, tool="1.0x")
    assert at.status == "survived" and at.witness is None
    # the whole audit, search included, agrees
    assert audit_constant(net, th, 0.99 * exact, R=None, budget=0.5, max_evals=3000).status == "violated"
    assert audit_constant(net, th, exact, R=None, budget=0.5, max_evals=3000).status == "survived"


# ---------------------------------------------------------------------------
# exact enumeration vs brute force
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("act,seed,out", [("relu", 0, 3), ("leaky_relu", 1, 1), ("relu", 2, 1)])
def test_exact_with_biases_2d_matches_dense_sampling(act, seed, out):
    net, th = _with_biases([2, 12, out], act, seed=seed)
    R = 1.0
    exact = exact_input_lipschitz(net, th, R=R)
    dense = _jnorms(net, th, _disk(R)).max()
    assert dense <= exact * (1 + 1e-13)
    assert dense == pytest.approx(exact, rel=1e-12)
    glob = exact_input_lipschitz(net, th)
    assert glob >= exact * (1 - 1e-15)
    wide = _jnorms(net, th, np.random.default_rng(0).uniform(-40, 40, (200000, 2))).max()
    assert wide <= glob * (1 + 1e-13)
    s = input_lipschitz_lower_bound(net, th, R=R, budget=1.0, max_evals=6000, use_exact=False)
    assert s.value <= exact * (1 + 1e-13) and s.value == pytest.approx(exact, rel=1e-9)
    _check_pair(s, net, th, R)


def test_exact_degenerate_arrangements():
    """Coincident boundaries of opposite orientation, parallel ones, a neuron without input weights."""
    rng = np.random.default_rng(3)
    for _ in range(3):
        W1, b1 = rng.standard_normal((6, 2)), rng.normal(0.0, 0.3, 6)
        W1[3], b1[3] = -2 * W1[0], -2 * b1[0]
        W1[4], b1[4] = 0.5 * W1[1], 0.5 * b1[1] + 0.2
        W1[5], b1[5] = 0.0, 0.7
        net = MLP([2, 6, 2], "leaky_relu")
        th = net.flatten([(W1, b1), (rng.standard_normal((2, 6)), np.zeros(2))])
        exact = exact_input_lipschitz(net, th, R=1.0)
        assert _jnorms(net, th, _disk(1.0, 400, 1600)).max() == pytest.approx(exact, rel=1e-13)
        s = input_lipschitz_lower_bound(net, th, R=1.0, max_evals=3000)
        assert s.value == pytest.approx(exact, rel=1e-12)


def test_exact_1d_regions_meeting_the_open_ball():
    # slopes: 0 on x < 0, 1 on (0, 2), 4 on (2, 3), 1 on x > 3
    net = MLP([1, 3, 1], "relu")
    th = net.flatten([(np.ones((3, 1)), np.array([0.0, -2.0, -3.0])), (np.array([[1.0, 3.0, -3.0]]), np.zeros(1))])
    assert exact_input_lipschitz(net, th, R=1.0) == 1.0
    assert exact_input_lipschitz(net, th, R=2.0) == 1.0          # (2, 3) does not meet (-2, 2)
    assert exact_input_lipschitz(net, th, R=2.0 + 1e-9) == 4.0
    assert exact_input_lipschitz(net, th) == 4.0
    s = input_lipschitz_lower_bound(net, th, R=2.5, budget=0.5, max_evals=2000, use_exact=False)
    assert s.value == pytest.approx(4.0, rel=1e-12) and 2.0 <= s.x[0] <= 2.5 and 2.0 <= s.x2[0] <= 2.5
    assert audit_constant(net, th, 1.0, R=2.0, budget=0.3, max_evals=1000).status == "survived"
    # a wider random 1-D net against a fine grid
    net, th = _with_biases([1, 30, 2], seed=4, std=1.0)
    for R in (0.3, 1.5):
        exact = exact_input_lipschitz(net, th, R=R)
        X = np.linspace(-R, R, 400001)[:, None]
        assert _jnorms(net, th, X).max() == pytest.approx(exact, rel=1e-12)


@pytest.mark.parametrize("widths,act", [([4, 3], "tanh"), ([3, 5, 4, 2], "identity"), ([2, 3, 3, 4], "identity"),
                                        ([5, 4, 6], "identity"), ([2, 12, 3], "relu"), ([1, 9, 2], "leaky_relu")])
def test_exact_constant_is_never_below_the_true_one(widths, act):
    """Regression (issue 12): the float64 norm of the best region's J was returned as "exact", and
    rounded below the true constant about half the time (so a claim at it was truly violated)."""
    for seed in range(6 if act in ("tanh", "identity") else 3):
        net = MLP(widths, act)
        th = net.init(seed=seed)
        got = exact_input_lipschitz(net, th, R=1.5)
        if net.depth == 1 or act == "identity":    # J = W_m ... W_1, the product in mpmath
            with mpmath.workdps(60):
                M = mpmath.matrix(net.unflatten(th)[-1][0].tolist())
                for W, _ in reversed(net.unflatten(th)[:-1]):
                    M = M * mpmath.matrix(W.tolist())
            true = _mp_norm(M)
        else:                                     # the best regions of a dense grid, J in mpmath
            X = _disk(1.5, 100, 400) if net.d_in == 2 else np.linspace(-1.5, 1.5, 40001)[:, None]
            norms = _jnorms(net, th, X)
            top = np.flatnonzero(norms >= norms.max() * (1 - 1e-9))
            true = max(_mp_norm(net.jac_x_mp(th, X[i], dps=60)) for i in top[:: max(1, len(top) // 8)])
        # above the true constant by rounding only (Bauer-Fike for the 5 x 5 Gram matrix: a few ulps)
        assert 0 <= _ulps_above(got, true) <= 8, (widths, act, seed, got, true)


def test_exact_affine_cases_and_unsupported():
    net = MLP([4, 3], "tanh")
    th = net.init(seed=0)
    W = net.unflatten(th)[0][0]
    assert exact_input_lipschitz(net, th, R=1.0) == pytest.approx(np.linalg.norm(W, 2), rel=1e-14)
    net = MLP([3, 5, 4, 2], "identity")
    th = net.init(seed=1)
    (W1, _), (W2, _), (W3, _) = net.unflatten(th)
    assert exact_input_lipschitz(net, th) == pytest.approx(np.linalg.norm(W3 @ W2 @ W1, 2), rel=1e-13)
    s = input_lipschitz_lower_bound(net, th, R=2.0, budget=0.3, max_evals=100)
    assert s.value == pytest.approx(np.linalg.norm(W3 @ W2 @ W1, 2), rel=1e-12)
    for widths, act in [([2, 8, 1], "tanh"), ([3, 8, 1], "relu"), ([2, 4, 4, 1], "relu")]:
        net = MLP(widths, act)
        with pytest.raises(ValueError, match="d_0 <= 2"):
            exact_input_lipschitz(net, net.init(seed=0))


# ---------------------------------------------------------------------------
# piecewise-linear search: zero gradients inside the pieces
# ---------------------------------------------------------------------------
def _bump(eps=1e-3, A=3.0, c=(0.3, -0.4)):
    """Slope A in two strips |x_i - c_i| < eps, A*sqrt(2) only in their tiny crossing square."""
    net = MLP([2, 4, 1], "relu")
    W1 = np.array([[1.0, 0], [1, 0], [0, 1], [0, 1]])
    b1 = np.array([eps - c[0], -eps - c[0], eps - c[1], -eps - c[1]])
    return net, net.flatten([(W1, b1), (np.array([[A, -A, A, -A]]), np.zeros(1))])


@pytest.mark.parametrize("strategies", [None, ["lines"], ["smoothed"], ["walk"]])
def test_piecewise_linear_strategies_find_a_tiny_region(strategies):
    net, th = _bump()
    exact = exact_input_lipschitz(net, th, R=1.0)
    assert exact == pytest.approx(3.0 * math.sqrt(2), rel=1e-15)
    s = input_lipschitz_lower_bound(net, th, R=1.0, budget=2.0, max_evals=8000, use_exact=False,
                                    strategies=strategies)
    assert s.value == pytest.approx(exact, rel=1e-12)
    _check_pair(s, net, th, 1.0)
    # random points alone almost never land in the 2e-3 x 2e-3 square
    r = input_lipschitz_lower_bound(net, th, R=1.0, budget=2.0, max_evals=8000, use_exact=False,
                                    strategies=["random"])
    assert r.value == pytest.approx(3.0, rel=1e-12)


def test_deep_relu_vs_dense_sampling():
    net, th = _with_biases([2, 16, 16, 16, 1], seed=5, std=0.1)
    dense = _jnorms(net, th, _disk(1.0, 400, 1600)).max()
    s = input_lipschitz_lower_bound(net, th, R=1.0, budget=2.0, max_evals=30000)
    assert s.exact is None
    assert s.value >= dense * (1 - 1e-12)
    assert s.value <= s.jacobian_norm * (1 + 1e-12)
    _check_pair(s, net, th, 1.0)


# ---------------------------------------------------------------------------
# vector outputs and smooth networks
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("act", ["tanh", "relu"])
def test_vector_outputs_match_dense_sup_of_spectral_norm(act):
    net = MLP([2, 8, 3], act)
    th = net.init(seed=1, scale=2.0)
    R = 1.5
    dense = _jnorms(net, th, _disk(R)).max()
    s = input_lipschitz_lower_bound(net, th, R=R, budget=2.0, max_evals=20000)
    _check_pair(s, net, th, R, smooth=act == "tanh")
    assert s.value >= dense * (1 - 1e-9)
    if act == "relu":
        assert s.exact == pytest.approx(dense, rel=1e-12)
        assert s.value == pytest.approx(s.exact, rel=1e-12)
        v = audit_constant(net, th, 0.999 * s.exact, R=R, search=s)
        assert v.status == "violated" and replay_audit(v.witness).status == "violated"
        assert audit_constant(net, th, 0.9999 * s.exact, R=R, search=s).status == "violated"
        assert len(s._mp) == 1  # the pair's high-precision values are shared by the claims
    else:
        assert s.exact is None
        assert s.value <= dense * (1 + 1e-4)  # the grid's spacing: the sup is within O(h^2) of it
        assert s.jacobian_norm == pytest.approx(s.value, rel=1e-9)


def test_smooth_tanh_against_scipy_multistart():
    net = MLP([3, 16, 16, 1], "tanh")
    th = net.init(seed=2, scale=2.0)
    R = 2.0
    s = input_lipschitz_lower_bound(net, th, R=R, budget=2.0, max_evals=40000)
    _check_pair(s, net, th, R, smooth=True)

    def neg(x):
        return -float(np.linalg.norm(net.jac_x(th, x)))

    rng = np.random.default_rng(0)
    cons = [{"type": "ineq", "fun": lambda x: R * R - x @ x}]
    best = 0.0
    for k in range(12):
        x0 = rng.standard_normal(3)
        x0 *= R * rng.random() ** (1 / 3) / np.linalg.norm(x0)
        r = minimize(neg, x0, method="SLSQP", constraints=cons, options={"ftol": 1e-15, "maxiter": 500})
        if np.linalg.norm(r.x) <= R * (1 + 1e-9):
            best = max(best, -r.fun)
    assert best > 0
    assert s.value >= best * (1 - 1e-8)
    # and scipy started at the search's point finds nothing above it (it is a maximum)
    r = minimize(neg, s.x, method="SLSQP", constraints=cons, options={"ftol": 1e-15, "maxiter": 500})
    assert s.value <= -r.fun * (1 + 1e-8)


# ---------------------------------------------------------------------------
# the engine against MLP (independent float64 paths)
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("widths,act", [([3, 7, 5, 2], "tanh"), ([3, 7, 5, 1], "relu"),
                                        ([2, 6, 6, 3], "leaky_relu"), ([30, 8, 4], "sigmoid")])
def test_engine_jacobian_norm_and_gradient(widths, act):
    net = MLP(widths, act)
    th = net.init(seed=0)
    eng = FixedNet(net, th)
    X = np.random.default_rng(1).standard_normal((6, widths[0]))
    J = eng.jac(X)
    ref = net.jac_x(th, X).reshape(J.shape)
    assert np.allclose(J, ref, rtol=1e-13, atol=1e-14)
    s, u, v = eng.spec(J)
    assert np.allclose(s, np.linalg.norm(ref, 2, axis=(1, 2)), rtol=1e-12)
    assert np.allclose(np.einsum("nk,nkd,nd->n", u, J, v), s, rtol=1e-12)
    if act in ("tanh", "sigmoid"):
        _, g = eng.spec_grad(X)
        h = 1e-6
        for i in range(widths[0]):
            e = np.zeros(widths[0])
            e[i] = h
            fd = (eng.norms(X + e) - eng.norms(X - e)) / (2 * h)
            assert np.allclose(g[:, i], fd, rtol=1e-5, atol=1e-7)
    if act != "tanh" and act != "sigmoid":
        # the smoothed surrogate tends to the real network as the temperature goes to 0
        taus = [1e-9] * (net.depth - 1)
        assert np.allclose(eng.jac(X, taus), J, rtol=1e-9, atol=1e-12)
        # and its gradient matches finite differences at a moderate temperature
        taus = [0.3] * (net.depth - 1)
        _, g = eng.spec_grad(X, taus)
        h = 1e-6
        for i in range(widths[0]):
            e = np.zeros(widths[0])
            e[i] = h
            fd = (eng.norms(X + e, taus) - eng.norms(X - e, taus)) / (2 * h)
            assert np.allclose(g[:, i], fd, rtol=1e-5, atol=1e-7)


def test_ray_next_finds_the_first_region_boundary():
    net, th = _with_biases([3, 10, 10, 1], seed=7)
    eng = FixedNet(net, th)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3))
    D = rng.standard_normal((40, 3))
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    t = eng.ray_next(X, D)
    assert np.all(np.isfinite(t) & (t > 0))
    p0 = eng.pattern(X)
    before = eng.pattern(X + (t * (1 - 1e-7))[:, None] * D)
    after = eng.pattern(X + (t * (1 + 1e-7))[:, None] * D)
    assert np.array_equal(p0, before)
    assert np.all(np.any(after != p0, axis=1))
    # the ball exit
    ex = exit_distance(X * 0.1, D, 2.0)
    assert np.allclose(np.linalg.norm(X * 0.1 + ex[:, None] * D, axis=1), 2.0, rtol=1e-14)


# ---------------------------------------------------------------------------
# verdicts
# ---------------------------------------------------------------------------
def test_claim_well_above_survives_and_float_only_is_inconclusive():
    net, th = _bias_free([2, 16, 1], seed=3)
    exact = exact_input_lipschitz(net, th)
    v = audit_constant(net, th, 3 * exact, R=None, budget=0.3, max_evals=1000)
    assert v.status == "survived" and v.witness is None
    assert v.ratio == pytest.approx(1 / 3, rel=1e-9) and v.lower_bound <= exact * (1 + 1e-14)
    # a (hand-made) search whose float value is above the claim but whose pair is not
    s = v.search
    fake = InputLipschitzSearch(value=2 * exact, x=s.x, x2=s.x2, strategy="fake", evaluations=1, seconds=0.0,
                                exact=None, R=None)
    bad = audit_constant(net, th, 1.5 * exact, R=None, search=fake)
    assert bad.status == "inconclusive" and bad.witness is not None
    assert repr(2 * exact) in bad.message and bad.value_mp is not None
    assert replay_audit(bad.witness).status == "not violated"
    # a Jacobian norm above the claim with no pair confirming it is not "survived" either
    fake = InputLipschitzSearch(value=0.5 * exact, x=s.x, x2=s.x2, strategy="fake", evaluations=1, seconds=0.0,
                                exact=None, R=None, jacobian_norm=exact)
    assert audit_constant(net, th, 0.8 * exact, R=None, search=fake).status == "inconclusive"
    fake = InputLipschitzSearch(value=0.5 * exact, x=s.x, x2=s.x2, strategy="fake", evaluations=1, seconds=0.0,
                                exact=exact, R=None)
    v = audit_constant(net, th, 0.8 * exact, R=None, search=fake)
    assert v.status == "inconclusive" and "exact constant" in v.message


def test_time_budget_is_kept():
    net = MLP([4, 32, 32, 2], "tanh")
    th = net.init(seed=0)
    s = input_lipschitz_lower_bound(net, th, R=1.0, budget=0.5)
    # the budget is spent, not skipped; the upper check is a hang detector, not a speed target
    assert 0.3 < s.seconds < 30 and s.evaluations > 100
    net, th = _with_biases([4, 32, 32, 2], seed=0)
    s = input_lipschitz_lower_bound(net, th, R=1.0, budget=0.5)
    assert s.seconds < 30


def test_tampered_witness_is_not_violated(tmp_path):
    net, th = _relu_step()
    v = audit_constant(net, th, 0.5, R=2.0, budget=0.3, max_evals=500)
    assert v.status == "violated"
    d = v.witness.to_dict()
    d["x2"] = [2.5]                                   # outside |x| <= 2
    p = tmp_path / "out.json"
    p.write_text(json.dumps(d))
    rep = replay(p)
    assert rep.status == "inconclusive" and "outside the input ball" in rep.message
    assert main(["replay", str(p)]) == 1
    d = v.witness.to_dict()
    d["claimed"] = 1.5
    p.write_text(json.dumps(d))
    assert replay(p).status == "not violated"


def test_reproducible_with_max_evals():
    net, th = _with_biases([2, 12, 12, 2], seed=9)
    a = input_lipschitz_lower_bound(net, th, R=1.0, budget=5.0, seed=4, max_evals=3000)
    b = input_lipschitz_lower_bound(net, th, R=1.0, budget=5.0, seed=4, max_evals=3000)
    assert a.value == b.value and a.strategy == b.strategy and a.evaluations == b.evaluations
    assert np.array_equal(a.x, b.x) and np.array_equal(a.x2, b.x2)
    net = MLP([3, 8, 1], "tanh")
    th = net.init(seed=0)
    a = input_lipschitz_lower_bound(net, th, R=1.0, seed=1, max_evals=2000)
    b = input_lipschitz_lower_bound(net, th, R=1.0, seed=1, max_evals=2000)
    assert a.value == b.value and np.array_equal(a.x, b.x)


# ---------------------------------------------------------------------------
# bad inputs
# ---------------------------------------------------------------------------
def test_R_none_needs_a_positively_homogeneous_network():
    net, th = _with_biases([2, 8, 1])
    with pytest.raises(ValueError, match="non-zero biases"):
        input_lipschitz_lower_bound(net, th, R=None)
    with pytest.raises(ValueError, match="non-zero biases"):
        audit_constant(net, th, 1.0, R=None)
    net, th = _bias_free([2, 8, 1], "tanh")
    with pytest.raises(ValueError, match="'tanh' is not positively homogeneous.*relu, leaky_relu, identity"):
        input_lipschitz_lower_bound(net, th, R=None)
    net, th = _bias_free([2, 8, 1], "leaky_relu")
    s = input_lipschitz_lower_bound(net, th, R=None, budget=0.3, max_evals=500)
    assert s.R is None and s.value == pytest.approx(exact_input_lipschitz(net, th), rel=1e-9)


def test_bad_arguments():
    net, th = _relu_step()
    for R in (-1.0, 0.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="R must be a finite number > 0"):
            audit_constant(net, th, 1.0, R=R)
    with pytest.raises(TypeError, match="R must be a number"):
        input_lipschitz_lower_bound(net, th, R="2")
    for c in (float("nan"), 0.0, -1.0, float("inf")):
        with pytest.raises(ValueError, match="claimed must be a finite number > 0"):
            audit_constant(net, th, c, R=1.0)
    with pytest.raises(TypeError, match="claimed must be a number"):
        audit_constant(net, th, "1.0", R=1.0)
    with pytest.raises(ValueError, match=r"theta has shape \(5,\), expected \(P,\) = \(7,\)"):
        audit_constant(net, th[:5], 1.0, R=1.0)
    with pytest.raises(ValueError, match="theta must be finite"):
        input_lipschitz_lower_bound(net, np.full(7, np.nan), R=1.0)
    with pytest.raises(TypeError, match="net must be an MLP"):
        input_lipschitz_lower_bound("net", th, R=1.0)
    with pytest.raises(ValueError, match="budget"):
        input_lipschitz_lower_bound(net, th, R=1.0, budget=0)
    with pytest.raises(ValueError, match="max_evals"):
        input_lipschitz_lower_bound(net, th, R=1.0, max_evals=3)
    with pytest.raises(ValueError, match="unknown strategy 'magic'"):
        input_lipschitz_lower_bound(net, th, R=1.0, strategies=["magic"])
    with pytest.raises(ValueError, match="'ascent' does not apply"):
        input_lipschitz_lower_bound(net, th, R=1.0, strategies=["ascent"])
    s = input_lipschitz_lower_bound(net, th, R=1.0, budget=0.2, max_evals=200)
    with pytest.raises(ValueError, match="search was run for R = 1.0"):
        audit_constant(net, th, 1.0, R=2.0, search=s)
    with pytest.raises(ValueError, match="different network"):
        audit_constant(net, th * 2, 1.0, R=1.0, search=s)
    with pytest.raises(ValueError, match="tool must be a non-empty string"):
        audit_constant(net, th, 1.0, R=1.0, search=s, tool="")


def test_walk_reaches_a_needle_cap_of_the_sphere():
    """A unit active only on the cap u·x > R(1 - 0.002) of a 100-dimensional ball: a ray from a
    point near the sphere leaves the ball before the cap, so the walk also steps straight across
    the unit's boundary inside the ball (walk.across_boundary) and reaches the exact constant."""
    from symlip.report.bench_suite import needle_network

    net, theta, truth = needle_network(100, 10, eps=0.002)
    s = input_lipschitz_lower_bound(net, theta, R=1.0, budget=30.0, seed=0, max_evals=4000, use_exact=False,
                                    strategies=["walk"])
    assert s.value >= truth * (1 - 1e-9)


def test_across_boundary_lands_in_the_ball_past_the_plane():
    from symlip.search.strategies.walk import across_boundary

    rng = np.random.default_rng(3)
    X = rng.standard_normal((200, 5))
    X *= (0.999 / np.linalg.norm(X, axis=1))[:, None]
    n = rng.standard_normal((200, 5))
    n /= np.linalg.norm(n, axis=1)[:, None]
    h = rng.uniform(-1.2, 1.2, 200)
    side = rng.choice([-1.0, 1.0], 200)
    Y, ok = across_boundary(X, n, h, side, 1.0)
    assert np.array_equal(ok, (side * (np.sum(X * n, axis=1) - h) > 0) | (1.0 - side * h > 0))
    assert np.all(np.linalg.norm(Y[ok], axis=1) <= 1.0 + 1e-12)
    assert np.all(side[ok] * (np.sum(Y[ok] * n[ok], axis=1) - h[ok]) > 0)
