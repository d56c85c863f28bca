"""Lower bounds (docs/theory.md §4): the chain witnesses, their formulas, growth slopes,
lower-bound claims in the checker, and global bounds broken automatically."""
from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest

from symlip import MLP, Claim, Region, activation, derive, falsify
from symlip.cli import main
from symlip.bounds.lower import (LowerFormula, chain_parameters, choose_t0, growth, lower_bound, lower_constant,
                          lower_formula_expr, lower_formula_latex)


@pytest.mark.parametrize("act", ["tanh", "sigmoid", "softplus", "relu", "leaky_relu", "gelu", "elu", "silu"])
@pytest.mark.parametrize("widths", [(1, 1, 1), (2, 3, 3, 1), (1, 1, 1, 1, 1), (3, 4, 4, 4, 4, 1)])
def test_lip_f_witness_in_ball_and_beats_formula(act, widths):
    net = MLP(widths, act)
    for r in (3.0, 40.0):
        w = lower_bound(net, "lip_f", r, R=1.5, dps=30)
        assert w.holds, w.message
        assert np.linalg.norm(w.theta) <= r and w.distance <= r
        assert np.linalg.norm(w.x) <= 1.5
        assert mpmath.mpf(w.value_mp) >= mpmath.mpf(w.formula_mp) and w.ratio >= 1.0
        # the value is the true gradient norm (float64 cross-check)
        assert w.value == pytest.approx(np.linalg.norm(net.grad(w.theta, w.x[0])), rel=1e-9)


@pytest.mark.parametrize("act", ["tanh", "sigmoid", "softplus", "gelu", "silu", "elu"])
@pytest.mark.parametrize("widths", [(1, 1, 1), (2, 3, 3, 1), (1, 2, 2, 2, 1)])
def test_lip_grad_witness_in_ball_and_beats_formula(act, widths):
    net = MLP(widths, act)
    for r in (5.0, 60.0):
        w = lower_bound(net, "lip_grad", r, dps=30)
        assert w.holds, w.message
        assert w.distance <= r
        # |H v| <= ||H||_2: the witnessed value never exceeds the top eigenvalue (float64)
        H = np.stack([net.hvp(w.theta, w.x[0], e) for e in np.eye(net.n_params)])
        assert w.value <= np.max(np.abs(np.linalg.eigvalsh(0.5 * (H + H.T)))) * (1 + 1e-9)


def test_depth_one_and_exact_constant():
    net = MLP((3, 1), "tanh")
    w = lower_bound(net, "lip_f", 2.0, R=2.0)
    assert w.holds and w.value == pytest.approx(math.sqrt(5.0), rel=1e-15)
    assert lower_constant("tanh", "lip_f", 1, R=2.0).c == pytest.approx(math.sqrt(5.0) * (1 - 1e-9), rel=1e-15)


@pytest.mark.parametrize("m", [2, 3, 4, 5])
def test_closed_forms_of_the_construction_match_the_network(m):
    """docs/theory.md §4: ∂f/∂w_1 = R (w σ'(t0))^{m-1} and the ∂²f/∂w_1² sum, against the
    network's own mpmath derivatives at the chain point."""
    act = activation("sigmoid")
    R, t0, r = 0.7, 0.4, 25.0
    net = MLP([1] * m + [1], act)
    theta, x = chain_parameters(net, r, R, t0)
    w = theta[0]
    k = net.layer_slices[0][0].start
    s1, s2 = (float(act.mpmath(j)(mpmath.mpf(t0))) for j in (1, 2))
    g = net.grad_mp(theta, x[0], dps=40)
    assert float(g[k]) == pytest.approx(R * (w * s1) ** (m - 1), rel=1e-9)
    e = np.zeros(net.n_params)
    e[k] = 1.0
    h = net.hvp_mp(theta, x[0], e, dps=40)
    closed = R ** 2 * s2 * s1 ** (m - 2) * w ** (m - 1) * sum((w * s1) ** j for j in range(m - 1))
    assert float(h[k]) == pytest.approx(closed, rel=1e-9)
    # every hidden pre-activation of the chain is t0
    z = x[0]
    for W, b in net.unflatten(theta)[:-1]:
        a = W @ z + b
        assert a[0] == pytest.approx(t0, abs=1e-12 * max(1.0, w))
        z = act.numpy(0)(a)


@pytest.mark.parametrize("quantity", ["lip_f", "lip_grad"])
@pytest.mark.parametrize("m", [2, 3, 4, 5])
def test_growth_slopes_match_the_exponent(quantity, m):
    g = growth(MLP([1] * m + [1], "tanh"), quantity, dps=20)
    e = m - 1 if quantity == "lip_f" else 2 * m - 3
    assert g.exponent == e and g.all_witnessed and g.ok
    assert abs(g.slope_upper - e) <= 0.05 and abs(g.slope_lower - e) <= 0.05
    assert g.radii[-1] / g.radii[0] >= 100
    assert all(u >= lo for u, lo in zip(g.upper, g.lower))  # upper bound above the witness
    assert all(lo >= f for lo, f in zip(g.lower, g.formula))


def test_growth_wider_and_relu():
    g = growth(MLP((2, 3, 3, 3, 1), "relu"), "lip_f", dps=20)
    assert g.ok and abs(g.slope_lower - 3) <= 0.05


def test_choose_t0_says_why_and_respects_the_class():
    t0, why = choose_t0(activation("tanh"), "lip_f", 3)
    assert t0 == 0.0 and "σ'(0)" in why
    t0, why = choose_t0(activation("tanh"), "lip_grad", 3)
    assert t0 != 0.0 and "σ''" in why  # tanh''(0) = 0
    t0, why = choose_t0(activation("relu"), "lip_f", 3)
    assert abs(t0) >= 0.05 and "kink" in why
    with pytest.raises(ValueError, match="smooth"):
        choose_t0(activation("relu"), "lip_grad", 3)
    with pytest.raises(ValueError, match="σ''"):  # smooth but affine: no curvature anywhere
        choose_t0(activation("identity"), "lip_grad", 3)


def test_formula_is_symbolic():
    expr = lower_formula_expr("lip_grad", 3)
    assert str(expr).count("r") >= 1 and "kappa" in str(expr)
    assert r"\sigma''(t_0)" in lower_formula_latex("lip_grad", 3)
    c = lower_constant("sigmoid", "lip_f", 3, R=1.0)
    values = {"r": 10.0, "R": 1.0, "sigma_0": c.sigma, "sigma_1": c.d1, "sigma_2": c.d2, "kappa": c.kappa}
    f = lower_formula_expr("lip_f", 3)
    val = f.subs({s: values[s.name] for s in f.free_symbols})
    assert float(val) == pytest.approx(c.formula(10.0), rel=1e-12)


def test_bad_inputs():
    net = MLP((1, 1, 1), "tanh")
    with pytest.raises(ValueError, match="quantity"):
        lower_bound(net, "lip_input", 3.0)
    with pytest.raises(ValueError, match="r must be"):
        lower_bound(net, "lip_f", -1.0)
    with pytest.raises(ValueError, match="R must be"):
        lower_bound(net, "lip_f", 3.0, R=0.0)
    with pytest.raises(ValueError, match="depth m >= 2"):
        lower_bound(MLP((2, 1), "tanh"), "lip_grad", 3.0)
    with pytest.raises(ValueError, match="two decades"):
        growth(net, "lip_f", radii=[1.0, 2.0, 5.0])
    with pytest.raises(ValueError, match="balls"):
        Claim("L", "lip_f", LowerFormula(), direction="lower").bound_value(net, Region.box(1.0, 1.0), 1.0)
    with pytest.raises(ValueError, match="lip_f and lip_grad"):
        Claim("L", "lip_input", 1.0, direction="lower")
    with pytest.raises(ValueError, match="direction"):
        Claim("L", "lip_f", 1.0, direction="sideways")


# ---------------------------------------------------------------------------
# claims
# ---------------------------------------------------------------------------
def test_lower_claim_witnessed_and_mutants_refuted():
    net = MLP((1, 1, 1, 1), "tanh")
    ball = Region.ball(np.zeros(net.n_params), 200.0)
    ok = falsify(Claim("L", "lip_f", LowerFormula("lip_f"), direction="lower"), net, ball, R=1.0)
    assert ok.status == "witnessed" and ok.as_expected and ok.best_ratio >= 1.0 and ok.confirmed_digits >= 3
    bad = Claim("Lx", "lip_f", LowerFormula("lip_f", extra_exponent=1), direction="lower", expect="fails")
    v = falsify(bad, net, ball, R=1.0)
    assert v.status == "refuted" and v.as_expected
    upper = derive("lip_f", 3).evaluate(net, ball, R=1.0)
    assert upper < v.bound and "refuted" in v.message
    # a claim between the witness and the upper bound is neither: inconclusive, never a pass
    mid = math.sqrt(upper * ok.best_value)
    v = falsify(Claim("Lm", "lip_f", mid, direction="lower"), net, ball, R=1.0)
    assert v.status == "inconclusive" and not v.as_expected


@pytest.mark.parametrize("quantity,bound", [("lip_f", 300.0), ("lip_grad", 1e4)])
def test_global_bound_refuted_automatically(quantity, bound):
    """Any region-independent bound fails on a ball large enough: the §4 chain
    seeds the ascent, so a handful of evaluations suffices."""
    net = MLP((2, 3, 3, 1), "tanh")
    claim = Claim("global", quantity, bound, expect="fails")
    v = falsify(claim, net, Region.ball(np.zeros(net.n_params), 100.0), R=1.0, max_evals=40, seed=1,
                strategies=["ascent", "pair"])
    assert v.status == "violated" and v.confirmed_digits >= 3
    # the same claim holds on a small ball: the bound is a property of the region
    small = falsify(claim, net, Region.ball(np.zeros(net.n_params), 1.0), R=1.0, max_evals=200, seed=1)
    assert small.status == "survived"


def test_chain_fits_a_box():
    net = MLP((1, 2, 2, 1), "tanh")
    v = falsify(Claim("global", "lip_f", 50.0, expect="fails"), net, Region.box(20.0, 30.0), R=1.0,
                max_evals=30, seed=0, strategies=["ascent", "pair"])
    assert v.status == "violated"


# ---------------------------------------------------------------------------
# CLI and reports
# ---------------------------------------------------------------------------
def test_cli_growth_writes_reports_and_index(tmp_path, capsys):
    code = main(["growth", "--activation", "sigmoid", "--depth", "3", "--quantity", "lip_grad",
                 "--radii", "1,1000", "--points", "10", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0 and "slopes over" in out and "both within 0.05" in out
    stem = tmp_path / "growth_sigmoid_m3_lip_grad"
    assert stem.with_suffix(".md").exists() and stem.with_suffix(".json").exists()
    assert stem.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"
    index = (tmp_path / "README.md").read_text()
    assert "growth_sigmoid_m3_lip_grad.md" in index and "growth_sigmoid_m3_lip_grad.png" in index


@pytest.mark.parametrize("argv,needle", [
    (["growth", "--activation", "relu", "--quantity", "lip_grad"], "smooth"),
    (["growth", "--depth", "1", "--quantity", "lip_grad"], "depth"),
    (["growth", "--radii", "1,5"], "two decades"),
    (["growth", "--radii", "5"], "two increasing"),
    (["growth", "--depth", "0"], "integer >= 1"),
    (["demo", "nonsense"], "invalid choice"),
])
def test_cli_growth_errors_exit_2_with_one_line(argv, needle, capsys, tmp_path):
    assert main(argv + ["--out", str(tmp_path)] if argv[0] == "growth" else argv) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1
