"""The falsifier: planted violations are caught and confirmed, true claims survive,
float64-only violations are inconclusive, seeds reproduce, witnesses replay."""
from __future__ import annotations

import dataclasses
import json
import math
import re

import mpmath
import numpy as np
import pytest

import symlip
from symlip import Case, Claim, Inequality, MLP, Region, derive, falsify, replay
from symlip.search import quantities
from symlip.search.falsify import STRATEGIES
from symlip.search.strategies.parameters import ParameterContext
from symlip.testing import activation_cases, check_activation
from symlip.search.witness import Witness, confirm


def _depth1():
    return MLP([3, 1], "tanh"), Region.box(2.0, 1.0)


# ---------------------------------------------------------------------------
# verdicts
# ---------------------------------------------------------------------------
def test_planted_false_claim_is_caught_and_confirmed(tmp_path):
    net, region = _depth1()
    claim = Claim("0.98 sqrt(1+R^2)", "lip_f", "0.98*sqrt(1+R**2)", expect="fails")
    v = falsify(claim, net, region, R=2.0, budget=1.5, seed=0)
    assert v.status == "violated" and v.as_expected
    # the true depth-1 constant is sqrt(1+R^2), so the ratio approaches 1/0.98
    assert 1.0 < v.best_ratio <= 1 / 0.98 + 1e-9
    assert v.best_ratio > 1 / 0.98 - 1e-3
    assert v.confirmed_digits >= 3
    w = v.witness
    assert region.contains(net, w.theta) and region.contains(net, w.theta2)
    assert np.linalg.norm(w.x) <= 2.0
    # the witness's value is an honest difference quotient
    direct = abs(net.f(w.theta, w.x[0]) - net.f(w.theta2, w.x[0])) / np.linalg.norm(w.theta - w.theta2)
    assert direct == pytest.approx(w.value, rel=1e-6)
    path = w.save(tmp_path / "w.json")
    r = replay(path, dps=80)
    assert r.status == "violated" and r.dps == 80 and r.confirmed_digits >= 3


def test_true_claims_survive_and_come_close():
    net, region = _depth1()
    v = falsify(Claim("U1 m=1", "lip_f", derive("lip_f", 1)), net, region, R=2.0, budget=1.5, seed=1)
    assert v.status == "survived" and v.as_expected
    # depth 1: the U1 bound sqrt(1+R^2) is the exact constant (docs/theory.md §3)
    assert 0.99 <= v.best_ratio <= 1.0
    net2 = MLP([2, 5, 1], "tanh")
    v2 = falsify(Claim("U2 m=2", "lip_grad", derive("lip_grad", 2)), net2, Region.box(1.5, 0.5), budget=1.5)
    assert v2.status == "survived" and 0 < v2.best_ratio < 1
    assert set(v2.strategies) <= set(STRATEGIES) and v2.evaluations > 10


def test_float64_only_violation_is_inconclusive():
    """sin(t)^2 + cos(t)^2 <= 1 holds exactly, but float64 rounds it to
    1.0000000000000002 for many t: only mpmath can tell."""
    def unit_circle(net, theta, X, y, dps):
        t = theta[0]
        if dps is None:
            return math.sin(t) ** 2 + math.cos(t) ** 2, 1.0
        t = mpmath.mpf(float(t))
        return mpmath.sin(t) ** 2 + mpmath.cos(t) ** 2, mpmath.mpf(1)

    claim = Claim("sin^2+cos^2<=1", "pointwise", Inequality(unit_circle, text=r"\sin^2 t + \cos^2 t \le 1"))
    net = MLP([1, 1], "identity")
    v = falsify(claim, net, Region.box(3.0, 3.0), budget=1.0, seed=0)
    assert v.witness.value > 1.0                     # float64 saw a "violation"
    assert v.status == "inconclusive", v.message      # ... which high precision does not confirm
    assert "50 digits" in v.message


def test_claim_outside_its_activation_class_is_refused():
    relu = MLP([2, 3, 1], "relu")
    with pytest.raises(ValueError, match="smooth"):
        falsify(Claim("U2", "lip_grad", derive("lip_grad", 2)), relu, Region.box(1.0, 1.0))
    with pytest.raises(ValueError, match="bounded"):
        falsify(Claim("b", "lip_f", derive("lip_f", 2), assumptions=("bounded",)), relu, Region.box(1.0, 1.0))
    with pytest.raises(ValueError, match="depth"):
        falsify(Claim("U1", "lip_f", derive("lip_f", 3)), relu, Region.box(1.0, 1.0))


@pytest.mark.parametrize("bad", [5, None, 1.5, {"smooth": True}])
def test_claim_assumptions_of_the_wrong_type_are_named(bad):
    """Regression (issue 12): Claim(..., assumptions=5) gave "'int' object is not iterable"."""
    with pytest.raises(TypeError, match=rf"assumptions must be a class name or a sequence.*got {re.escape(repr(bad))}"):
        Claim("c", "lip_f", 1.0, assumptions=bad)


def test_gradient_bound_claimed_for_relu_is_violated_across_a_kink():
    bound = dataclasses.replace(derive("lip_grad", 2).subs({"S2": 0}), requires=None)
    claim = Claim("U2 with S2:=0 for ReLU", "lip_grad", bound, expect="fails")
    v = falsify(claim, MLP([2, 4, 1], "relu"), Region.box(1.0, 1.0), budget=1.5, seed=0)
    assert v.status == "violated" and v.best_ratio > 10


def test_seeds_reproduce_verdicts():
    net = MLP([2, 4, 1], "tanh")
    claim = Claim("U1", "lip_f", derive("lip_f", 2))
    a = falsify(claim, net, Region.box(1.5, 0.5), max_evals=400, budget=60, seed=7)
    b = falsify(claim, net, Region.box(1.5, 0.5), max_evals=400, budget=60, seed=7)
    c = falsify(claim, net, Region.box(1.5, 0.5), max_evals=400, budget=60, seed=8)
    assert a.status == b.status and a.best_ratio == b.best_ratio and a.evaluations == b.evaluations
    assert np.array_equal(a.witness.theta, b.witness.theta) and np.array_equal(a.witness.x, b.witness.x)
    assert not np.array_equal(a.witness.theta, c.witness.theta)


def test_case_supplies_net_region_and_radii():
    net, region = _depth1()
    case = Case(Claim("U1", "lip_f", derive("lip_f", 1)), net, region, R=0.5)
    v = falsify(case, budget=0.5)
    assert v.bound == pytest.approx(math.sqrt(1 + 0.25))


@pytest.mark.parametrize("kwargs, match", [
    ({"budget": -1}, "budget"), ({"budget": "x"}, "budget"), ({"seed": -2}, "seed"),
    ({"strategies": ["annealing"]}, "unknown strategy"), ({"max_evals": 3}, "max_evals"), ({"R": math.inf}, "R"),
    ({"dps": 10}, "dps"),
])
def test_bad_arguments_name_the_value(kwargs, match):
    net, region = _depth1()
    with pytest.raises(ValueError, match=match):
        falsify(Claim("U1", "lip_f", derive("lip_f", 1)), net, region, **kwargs)


def test_loss_claim_needs_Y():
    net = MLP([2, 3, 1], "tanh")
    with pytest.raises(ValueError, match="Y"):
        falsify(Claim("U3", "lip_loss_grad", derive("lip_loss_grad", 2)), net, Region.box(1.0, 1.0))


# ---------------------------------------------------------------------------
# witnesses
# ---------------------------------------------------------------------------
def test_witness_roundtrip_and_replay_of_a_survivor(tmp_path):
    net = MLP([2, 3, 1], "sigmoid")
    region = Region.ball(net.init(3), 0.4)
    v = falsify(Claim("U3", "lip_loss_grad", derive("lip_loss_grad", 2)), net, region, R=1.0, Y=2.0, budget=1.0)
    p = v.witness.save(tmp_path / "w.json")
    w = Witness.load(p)
    assert w.to_dict() == json.loads(p.read_text())
    assert np.array_equal(w.theta, v.witness.theta) and w.Y == 2.0
    r = replay(w, dps=50)
    assert r.status == "not violated" and 0 < r.ratio < 1
    assert r.ratio == pytest.approx(v.best_ratio, rel=1e-6)


def test_replay_rejects_non_witness_files(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    with pytest.raises(ValueError, match="not a symlip witness"):
        replay(bad)
    with pytest.raises(ValueError, match="no such witness file"):
        replay(tmp_path / "missing.json")


def test_confirm_rejects_a_witness_outside_the_region():
    net, region = _depth1()
    claim = Claim("m", "lip_f", "0.5*sqrt(1+R**2)", expect="fails")
    theta = np.array([3.0, 0.0, 0.0, 0.0])        # |W| = 3 > omega = 2
    w = {"theta": theta, "theta2": theta * 0.9, "x": np.array([[1.0, 0, 0]]), "x2": None, "y": None}
    c = confirm(claim, net, region, w, R=2.0, Y=None)
    assert not c.confirmed and c.problems


# ---------------------------------------------------------------------------
# independent cross-checks of the numeric paths the search uses
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("quantity", ["lip_f", "lip_grad", "lip_loss_grad", "lip_input"])
def test_pair_values_float_vs_mpmath(quantity):
    net = MLP([2, 3, 1], "softplus")
    rng = np.random.default_rng(0)
    th, th2 = rng.standard_normal(net.n_params), rng.standard_normal(net.n_params)
    X, X2 = rng.standard_normal((1, 2)), rng.standard_normal((1, 2))
    claim = Claim("c", quantity, derive(quantity, 2))
    w = {"theta": th, "theta2": None if quantity == "lip_input" else th2, "x": X,
         "x2": X2 if quantity == "lip_input" else None, "y": np.array([0.7]) if quantity == "lip_loss_grad" else None}
    f = quantities.pair_value(claim, net, w)
    m = quantities.pair_value_mp(claim, net, w, 40)
    assert f == pytest.approx(float(m), rel=1e-12)


@pytest.mark.parametrize("quantity, P_small", [("lip_grad", True), ("lip_grad", False),
                                               ("lip_loss_grad", True), ("lip_loss_grad", False)])
def test_top_eigenvalue_matches_dense_hessian(quantity, P_small):
    widths = [2, 3, 1] if P_small else [3, 6, 4, 1]
    net = MLP(widths, "tanh")
    claim = Claim("c", quantity, derive(quantity, net.depth))
    s = ParameterContext(claim, net, Region.box(2.0, 1.0), 1.0, 1.0)  # no evaluation limit
    rng = np.random.default_rng(1)
    theta = rng.standard_normal(net.n_params)
    X, y = rng.standard_normal((1, net.d_in)), np.array([-1.0])
    lam, v = s.top_eig(theta, X, y)
    # independent: the dense Hessian by central differences of the gradient
    P, h = net.n_params, 1e-5
    H = np.empty((P, P))
    for j in range(P):
        e = np.zeros(P)
        e[j] = h
        if quantity == "lip_grad":
            H[:, j] = (net.grad(theta + e, X[0]) - net.grad(theta - e, X[0])) / (2 * h)
        else:
            H[:, j] = (net.loss_grad(theta + e, X, y) - net.loss_grad(theta - e, X, y)) / (2 * h)
    ev = np.linalg.eigvalsh(0.5 * (H + H.T))
    assert lam == pytest.approx(np.max(np.abs(ev)), rel=1e-5)
    assert np.linalg.norm(s.hvp(theta, X, y, v)[0]) == pytest.approx(lam, rel=1e-5)


def test_local_ascent_directions_match_finite_differences():
    """The θ-gradient of λ = vᵀHv is D³f[v,v,·] (symmetry); check it against
    differences of λ itself."""
    net = MLP([2, 3, 1], "tanh")
    claim = Claim("c", "lip_grad", derive("lip_grad", 2))
    s = ParameterContext(claim, net, Region.box(2.0, 1.0), 1.0, None)  # no evaluation limit
    rng = np.random.default_rng(2)
    theta, X = rng.standard_normal(net.n_params), rng.standard_normal((1, 2))
    lam, v = s.top_eig(theta, X, None)
    g_t, g_x = s.local_grad(theta, X, None, v)
    u = rng.standard_normal(net.n_params)
    h = 1e-5
    fd = (s.top_eig(theta + h * u, X, None)[0] - s.top_eig(theta - h * u, X, None)[0]) / (2 * h)
    assert g_t @ u == pytest.approx(fd, rel=1e-4, abs=1e-7)
    e = np.array([[1.0, 0.0]])
    fdx = (s.top_eig(theta, X + h * e, None)[0] - s.top_eig(theta, X - h * e, None)[0]) / (2 * h)
    assert g_x[0] == pytest.approx(fdx, rel=1e-4, abs=1e-7)


def test_bound_value_mp_on_a_ball_matches_float():
    net = MLP([3, 5, 1], "tanh")
    region = Region.ball(net.init(0), 0.3)
    claim = Claim("U2", "lip_grad", derive("lip_grad", 2))
    f = claim.bound_value(net, region, R=1.0)
    m = claim.bound_value_mp(net, region, R=1.0, dps=50)
    assert float(m) == pytest.approx(f, rel=1e-13)


# ---------------------------------------------------------------------------
# symlip.testing
# ---------------------------------------------------------------------------
def test_check_activation_passes_for_tanh():
    verdicts = check_activation("tanh", depths=(1, 2), budget=0.4)
    assert len(verdicts) == len(activation_cases("tanh", depths=(1, 2)))
    assert all(v.status == "survived" for v in verdicts)


def test_check_activation_fails_with_a_witness_for_wrong_constants(tmp_path):
    wrong = symlip.activation("tanh(2*t)").with_constants(S1=1)   # the true S1 is 2
    with pytest.raises(pytest.fail.Exception) as info:
        check_activation(wrong, depths=(2,), budget=0.6, witness_dir=tmp_path)
    text = str(info.value)
    assert "violated" in text and "symlip replay" in text
    files = sorted(tmp_path.glob("*.json"))
    assert files and replay(files[0]).status == "violated"


def test_activation_cases_skip_gradient_claims_for_relu():
    qs = {c.claim.quantity for c in activation_cases("relu", depths=(2,))}
    assert qs == {"lip_f", "lip_input"}


def test_region_point_strategy_stays_inside_and_finite():
    from hypothesis import given, settings

    from symlip.testing import inputs, region_points

    net = MLP([3, 4, 1], "tanh")
    box, ball = Region.box((1.5, 2.0), 0.5), Region.ball(net.init(0), 0.7)

    @settings(max_examples=60)
    @given(region_points(net, box), region_points(net, ball), inputs(3, 2.0, n=2))
    def prop(a, b, X):
        assert np.all(np.isfinite(a)) and box.contains(net, a, tol=1e-12)
        assert np.all(np.isfinite(b)) and ball.contains(net, b, tol=1e-12)
        assert X.shape == (2, 3) and np.all(np.linalg.norm(X, axis=1) <= 2.0 * (1 + 1e-12))

    prop()


# ---------------------------------------------------------------------------
# admissibility: every pair inside the region and the radii (issue 12)
# ---------------------------------------------------------------------------
_OM1, _OM2, _BE1 = 1.5, 1.2, 0.5


def _growing_input_case():
    """``f = w_2 σ(W_1 x + b_1) + b_2`` on ``[2, 1, 1]`` with ``σ(t) = log(1 + e^{t-3})``:
    ``|∇_x f| = |w_2| |W_1| s(W_1·x + b_1)``, ``s(t) = 1/(1 + e^{3-t})`` increasing and
    convex below 3, so over the box and ``|x| <= R`` the supremum is
    ``ω_2 ω_1 s(ω_1 R + β_1)``: it grows with ``|x|``, and a pair reaching past
    ``|x| = R`` would "beat" it."""
    act = symlip.activation("log(1 + exp(t - 3))")
    net = MLP([2, 1, 1], act)
    region = Region.box((_OM1, _OM2), (_BE1, 0.3))

    def sup(R):
        return _OM2 * _OM1 / (1 + math.exp(3 - (_OM1 * R + _BE1)))
    return net, region, sup


def test_growing_input_case_supremum_is_attained():
    net, region, sup = _growing_input_case()
    R = 0.5
    theta = net.flatten([(np.array([[_OM1, 0.0]]), np.array([_BE1])), (np.array([[_OM2]]), np.array([0.0]))])
    assert region.contains(net, theta)
    x = np.array([R, 0.0])
    assert float(np.linalg.norm(net.jac_x(theta, x))) == pytest.approx(sup(R), rel=1e-13)


@pytest.mark.parametrize("seed", [0, 1])
def test_lip_input_true_local_bound_on_the_ball_survives(seed):
    """Regression: pairs ``x0 ± step·d`` used to leave the ball (|x| = 0.55 > R = 0.5)
    and 'confirm' a violation of a bound that is true on the ball."""
    net, region, sup = _growing_input_case()
    R = 0.5
    claim = Claim("sup (1 + 1e-6)", "lip_input", lambda n, r, R_, Y: sup(R_) * (1 + 1e-6))
    v = falsify(claim, net, region, R=R, max_evals=1500, budget=60, seed=seed)
    assert v.status == "survived", v.message
    assert 0.99 < v.best_ratio <= 1.0
    w = v.witness
    ww = {"theta": w.theta, "theta2": w.theta2, "x": w.x, "x2": w.x2, "y": w.y}
    assert quantities.domain_problems(claim, net, region, ww, R, None) == []
    assert max(np.linalg.norm(w.x), np.linalg.norm(w.x2)) <= R


def test_lip_input_bound_just_below_the_supremum_is_violated_inside_the_ball():
    net, region, sup = _growing_input_case()
    R = 0.5
    claim = Claim("sup (1 - 1e-3)", "lip_input", lambda n, r, R_, Y: sup(R_) * (1 - 1e-3), expect="fails")
    v = falsify(claim, net, region, R=R, max_evals=1500, budget=60, seed=0)
    assert v.status == "violated" and v.best_ratio <= 1 / (1 - 1e-3)
    w = v.witness
    assert max(np.linalg.norm(w.x), np.linalg.norm(w.x2)) <= R


def _assert_every_pair_admissible(monkeypatch, claim, net, region, R, Y, **kw):
    seen = []
    orig = ParameterContext.rate_pair

    def checked(self, pair, strategy, origin=""):
        th, th2, X, x2, y = pair
        w = {"theta": th, "theta2": th2, "x": X, "x2": x2, "y": y}
        assert quantities.domain_problems(claim, net, region, w, R, Y) == [], (strategy, w)
        if claim.quantity == "lip_input":
            assert not np.array_equal(X, x2)
        seen.append(strategy)
        return orig(self, pair, strategy, origin)

    monkeypatch.setattr(ParameterContext, "rate_pair", checked)
    v = falsify(claim, net, region, R=R, Y=Y, max_evals=600, budget=60, seed=3, **kw)
    assert seen  # the pair builders ran
    w = v.witness
    ww = {"theta": w.theta, "theta2": w.theta2, "x": w.x, "x2": w.x2, "y": w.y}
    assert quantities.domain_problems(claim, net, region, ww, R, Y) == []


@pytest.mark.parametrize("quantity, widths, act, ball, R", [
    ("lip_input", [3, 4, 1], "tanh", True, 0.01),     # a tiny ball: the step is capped by the radius
    ("lip_input", [2, 3, 2], "relu", False, 0.5),     # vector output
    ("lip_f", [2, 3, 1], "relu", False, 0.7),         # kink pairs
    ("lip_grad", [2, 3, 1], "tanh", True, 1.0),
    ("lip_loss_grad", [2, 3, 1], "sigmoid", False, 1.0),
])
def test_every_candidate_pair_is_admissible(monkeypatch, quantity, widths, act, ball, R):
    net = MLP(widths, act)
    region = Region.ball(net.init(0), 0.3) if ball else Region.box((1.5, 1.0), 0.5)
    claim = Claim("c", quantity, derive(quantity, net.depth))
    _assert_every_pair_admissible(monkeypatch, claim, net, region, R, 2.0 if quantity == "lip_loss_grad" else None)


def test_domain_problems_checks_every_constraint():
    net, region = _depth1()
    th = np.zeros(net.n_params)
    out = np.array([[0.55, 0.0, 0.0]])
    inside = np.array([[0.45, 0.0, 0.0]])
    li = Claim("li", "lip_input", 1.0)
    w = {"theta": th, "theta2": None, "x": out, "x2": inside, "y": None}
    assert any("x[0] has norm 0.55" in p and "R = 0.5" in p for p in quantities.domain_problems(li, net, region, w, 0.5, None))
    assert quantities.domain_problems(li, net, region, w, 0.0, None) == []   # R = 0: the global statement
    assert any("x2 is missing" in p for p in
               quantities.domain_problems(li, net, region, {**w, "x2": None}, 0.5, None))
    lf = Claim("lf", "lip_f", 1.0)
    assert any("theta2 is missing" in p for p in
               quantities.domain_problems(lf, net, region, {**w, "x": inside}, 0.5, None))
    far = np.array([3.0, 0.0, 0.0, 0.0])
    assert any("theta2 lies outside" in p for p in quantities.domain_problems(
        lf, net, region, {**w, "x": inside, "theta2": far}, 0.5, None))
    net2 = MLP([2, 3, 1], "tanh")
    lg = Claim("lg", "lip_loss_grad", derive("lip_loss_grad", 2))
    w2 = {"theta": np.zeros(net2.n_params), "theta2": np.zeros(net2.n_params), "x": np.array([[0.1, 0.0]]),
          "x2": None, "y": np.array([2.5])}
    assert any("exceeds Y = 2.0" in p for p in quantities.domain_problems(lg, net2, Region.box(1, 1), w2, 1.0, 2.0))
    for bad_y in (np.array([math.nan]), None, np.array([0.1, 0.2])):
        assert quantities.domain_problems(lg, net2, Region.box(1, 1), {**w2, "y": bad_y}, 1.0, 2.0)
    assert quantities.domain_problems(lg, net2, Region.box(1, 1), {**w2, "y": np.array([1.0])}, 1.0, None)
    assert quantities.domain_problems(lg, net2, Region.box(1, 1), {**w2, "y": np.array([-2.0])}, 1.0, 2.0) == []


def test_engine_schedules_a_registered_strategy_by_share_and_seed():
    """A strategy is a small unit behind one interface: the engine gives it its share of
    max_evals (at least 5), its own random stream ``default_rng([seed, index])``, stops it
    when the share is spent, and runs share-free strategies once, afterwards."""
    from symlip.search.strategies import INPUT_STRATEGIES, PARAMETER_STRATEGIES
    from symlip.search.strategies.base import Meter, SearchContext, Strategy, run_search

    class Ctx(SearchContext):
        def __init__(self):
            self.meter, self.log, self.draws = Meter(), [], {}

        def begin(self, name):
            self.log.append(("begin", name))

        def end(self, name, evaluations, seconds):
            self.log.append(("end", name, evaluations))

    class Ticker(Strategy):
        def run(self, ctx, rng):
            ctx.draws[self.name] = rng.random()
            while True:
                ctx.meter.tick()

    class A(Ticker):
        name, share = "a", 3.0

    class B(Ticker):
        name, share = "b", 1.0

    class Last(Strategy):
        name = "last"

        def run(self, ctx, rng):
            ctx.log.append(("last", ctx.meter.limit))

    ctx = Ctx()
    run_search(ctx, [(A(), 0), (Last(), 7), (B(), 4)], seed=11, seconds=1e9, max_evals=100, time_limit=1e9)
    # falsify's convention: the evaluation that reaches the share is refused but counted
    assert ctx.log == [("begin", "a"), ("end", "a", 75), ("begin", "b"), ("end", "b", 25), ("begin", "last"),
                       ("last", math.inf)]
    assert ctx.meter.evals == 100
    assert ctx.draws == {"a": np.random.default_rng([11, 0]).random(), "b": np.random.default_rng([11, 4]).random()}
    # the audit's convention (spend_all): the whole share is spent, then one more is refused
    ctx = Ctx()
    ctx.meter = Meter(spend_all=True)
    run_search(ctx, [(B(), 0)], seed=0, seconds=1e9, max_evals=10, time_limit=1e9)
    assert ctx.log == [("begin", "b"), ("end", "b", 11)]
    # the registries hold distinct names, in the order that seeds the streams
    for reg in (PARAMETER_STRATEGIES, INPUT_STRATEGIES):
        names = [s.name for s in reg]
        assert len(set(names)) == len(names) and all(issubclass(s, Strategy) for s in reg)
    assert list(STRATEGIES) == [s.name for s in PARAMETER_STRATEGIES]


def test_lip_grad_search_is_reproducible_across_processes():
    """Same seed and max_evals, two fresh interpreters: the same verdict to the last bit
    (the Hessian's top eigenvalue at P <= DENSE_EIG_MAX comes from the dense Hessian)."""
    import subprocess
    import sys

    code = ("from symlip import MLP, Claim, Region, derive, falsify\n"
            "net = MLP([2, 6, 6, 1], 'gelu')\n"
            "v = falsify(Claim('U2', 'lip_grad', derive('lip_grad', 3)), net, Region.box(1.2, 0.3), R=1.0,\n"
            "            budget=30.0, max_evals=120, seed=4)\n"
            "print(v.status, v.best_ratio.hex(), v.evaluations)\n")
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
            for _ in range(2)]
    assert all(r.returncode == 0 for r in runs), [r.stderr[-500:] for r in runs]
    assert runs[0].stdout == runs[1].stdout


def test_kink_pairs_try_every_unit_nearest_first():
    """Each hidden unit moved across its kink by its bias: the pair straddles the kink at that unit."""
    from symlip.search.catalogue import load_cases
    from symlip.search.strategies.pair import KINK_UNITS
    from symlip.search.strategies.parameters import ParameterContext

    assert KINK_UNITS >= 2
    lc = [c for c in load_cases(["proofs/mutants/u2_mutants.py"]) if c.case.claim.name == "M-U2-relu"][0]
    net, region = lc.case.net, lc.case.region
    ctx = ParameterContext(lc.case.claim, net, region, 1.0, None)
    theta = ctx.project(net.init(0) * 0.3)
    X = np.array([[0.3, -0.2]])
    W1, b1 = net.unflatten(theta)[0]
    order = list(np.argsort(np.abs(W1 @ X[0] + b1), kind="stable"))
    assert [u[2] for u in ctx.kink_units(theta, X)] == order
    for rank, j in enumerate(order):
        th_a, th_b, *_ = ctx.kink_pair(theta, X, None, 1e-6, np.random.default_rng(0), rank=rank)
        pa = net.unflatten(th_a)[0][0] @ X[0] + net.unflatten(th_a)[0][1]
        pb = net.unflatten(th_b)[0][0] @ X[0] + net.unflatten(th_b)[0][1]
        assert pa[j] < 0 < pb[j] and max(abs(pa[j]), abs(pb[j])) < 1e-5
    assert ctx.kink_pair(theta, X, None, 1e-6, np.random.default_rng(0), rank=len(order)) is None
