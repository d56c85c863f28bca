"""Step sizes from local constants (docs/theory.md §6): the rule, the driver, the claims, the demo."""
from __future__ import annotations

import json
import math
from pathlib import Path
from types import ModuleType

import mpmath
import numpy as np
import pytest

from symlip import MLP, Claim, Region, derive, falsify, replay, sample_inputs
from symlip.training.stepsize import (MARGIN, DescentResult, descent_sides, gradient_descent, local_step, local_step_mp,
                             loss_mp)
from symlip.search.witness import confirm
from symlip.search.catalogue import _import_file

ROOT = Path(__file__).resolve().parent.parent
PROOFS = ROOT / "proofs" / "stepsize.py"
MUTANTS = ROOT / "proofs" / "mutants" / "stepsize_mutants.py"
SMOOTH = ("tanh", "sigmoid", "softplus", "gelu")


def _module(path: Path) -> ModuleType:
    """Import a catalogue file as ``symlip check`` does."""
    return _import_file(path.resolve())


def _problem(seed: int) -> tuple[MLP, np.ndarray, np.ndarray, np.ndarray, float]:
    """A deterministic small regression problem: network, θ0, X, y, δ."""
    rng = np.random.default_rng(1000 + seed)
    depth = 1 + seed % 3
    d0 = 1 + seed % 3
    widths = (d0, *([2 + (seed % 4)] * (depth - 1)), 1)
    net = MLP(widths, SMOOTH[seed % 4])
    n = 1 + seed % 5
    X = sample_inputs(d0, 0.5 + 0.5 * (seed % 3), n, rng)
    y = rng.uniform(-1.5, 1.5, n)
    delta = (0.05, 0.3, 1.0, 3.0)[seed % 4]
    return net, net.init(seed, scale=0.5 + 0.25 * (seed % 4)), X, y, delta


# ---------------------------------------------------------------------------
# the rule
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(8))
def test_local_eta_satisfies_both_caps_and_stays_in_the_ball(seed):
    net, theta, X, y, delta = _problem(seed)
    st = local_step(net, theta, X, y, delta)
    # L is U3 on B(θ, δ) with the data's radii
    R, Y = float(np.max(np.linalg.norm(X, axis=1))), float(np.max(np.abs(y)))
    assert st.L == derive("lip_loss_grad", net.depth).evaluate(net, Region.ball(theta, delta), R=R, Y=Y)
    assert (st.R, st.Y) == (R, Y)
    assert st.grad_norm == pytest.approx(np.linalg.norm(net.loss_grad(theta, X, y)), rel=1e-15)
    assert st.loss == net.loss(theta, X, y)
    # both caps, with the margin
    assert st.eta <= 1 / st.L and st.eta * st.grad_norm <= delta
    assert st.eta == min(st.curvature_cap, st.ball_cap)
    assert st.cap == ("curvature" if st.curvature_cap <= st.ball_cap else "ball")
    # the stored float64 iterate lies in the closed ball (checked exactly)
    nxt = theta - st.eta * st.grad
    with mpmath.workdps(60):
        d2 = mpmath.fsum((mpmath.mpf(float(a)) - mpmath.mpf(float(b))) ** 2 for a, b in zip(nxt, theta))
        assert d2 <= mpmath.mpf(delta) ** 2


def test_which_cap_binds_depends_on_delta():
    net, theta, X, y, _ = _problem(4)
    small, large = local_step(net, theta, X, y, 1e-4), local_step(net, theta, X, y, 100.0)
    assert small.cap == "ball" and small.step_length == pytest.approx(1e-4 * (1 - MARGIN), rel=1e-12)
    assert large.cap == "curvature" and large.eta == pytest.approx(1 / large.L, rel=1e-8)
    assert large.L > small.L  # a larger ball, a larger box, a larger U3


def test_given_radii_must_cover_the_data():
    net, theta, X, y, delta = _problem(1)
    big = local_step(net, theta, X, y, delta, R=10.0, Y=10.0)
    assert big.L > local_step(net, theta, X, y, delta).L
    with pytest.raises(ValueError, match="smaller than the data"):
        local_step(net, theta, X, y, delta, R=0.01)


@pytest.mark.parametrize("seed", [1, 2, 6])
def test_mpmath_path_agrees_with_float64(seed):
    """An independent mpmath evaluation of the rule: L (U3 at mp precision with mpmath-SVD
    norms), ℓ, |∇ℓ|, η, and both sides of the descent lemma."""
    net, theta, X, y, delta = _problem(seed)
    f, m = local_step(net, theta, X, y, delta), local_step_mp(net, theta, X, y, delta, dps=40)
    assert isinstance(m.L, mpmath.mpf) and isinstance(m.eta, mpmath.mpf)
    for a, b in ((f.L, m.L), (f.loss, m.loss), (f.grad_norm, m.grad_norm), (f.eta, m.eta)):
        assert abs(a - float(b)) <= 1e-12 * abs(float(b)), (a, b)
    assert f.cap == m.cap
    # the same L through the claim machinery (Claim.bound_value_mp on the ball, float radii)
    u3 = Claim("U3", "lip_loss_grad", derive("lip_loss_grad", net.depth))
    ref = u3.bound_value_mp(net, Region.ball(theta, delta), R=f.R, Y=f.Y, dps=40)
    same = local_step_mp(net, theta, X, y, delta, dps=40, R=f.R, Y=f.Y)
    with mpmath.workdps(40):
        assert abs(ref - same.L) <= mpmath.mpf(10) ** -30 * ref
        assert abs(ref - m.L) <= 1e-14 * ref  # m uses R = max |x_n| exactly, not its float rounding
        assert abs(loss_mp(net, theta, X, y, dps=40) - m.loss) <= mpmath.mpf(10) ** -35 * (1 + m.loss)
    assert loss_mp(net, theta, X, y) == pytest.approx(net.loss(theta, X, y), rel=1e-14)
    lf, rf = descent_sides(net, theta, X, y, delta)
    lm, rm = descent_sides(net, theta, X, y, delta, dps=40)
    assert lf == pytest.approx(float(lm), rel=1e-12) and rf == pytest.approx(float(rm), rel=1e-8, abs=1e-14)
    assert lm <= rm  # the descent lemma at this point, at 40 digits


def test_relu_is_rejected_by_the_rule_but_not_by_a_fixed_step():
    net = MLP((2, 3, 1), "relu")
    theta, X, y = net.init(0), np.array([[0.5, -0.2]]), np.array([0.3])
    for call in (lambda: local_step(net, theta, X, y, 0.5), lambda: local_step_mp(net, theta, X, y, 0.5),
                 lambda: gradient_descent(net, theta, X, y, "local")):
        with pytest.raises(ValueError, match="smooth activation"):
            call()
    res = gradient_descent(net, theta, X, y, 0.01, max_steps=5)
    assert res.steps == 5 and res.status == "max_steps"


def test_argument_errors_name_the_bad_value():
    net, theta, X, y, _ = _problem(1)
    with pytest.raises(ValueError, match="'local' or a positive number"):
        gradient_descent(net, theta, X, y, "adam")
    with pytest.raises(ValueError, match="finite and > 0"):
        gradient_descent(net, theta, X, y, -0.1)
    with pytest.raises(TypeError, match="step must be"):
        gradient_descent(net, theta, X, y, True)
    with pytest.raises(ValueError, match="delta"):
        local_step(net, theta, X, y, 0.0)
    with pytest.raises(TypeError, match="delta"):
        local_step(net, theta, X, y, "0.5")
    with pytest.raises(ValueError, match="max_steps"):
        gradient_descent(net, theta, X, y, max_steps=-1)
    with pytest.raises(ValueError, match="target_loss"):
        gradient_descent(net, theta, X, y, target_loss=math.nan)
    with pytest.raises(TypeError, match="MLP"):
        local_step("net", theta, X, y, 0.5)
    with pytest.raises(ValueError, match="scalar output"):
        local_step(MLP((2, 2), "tanh"), np.zeros(6), X[:, :2] if X.shape[1] >= 2 else np.zeros((1, 2)),
                   np.zeros(1), 0.5)


# ---------------------------------------------------------------------------
# the driver
# ---------------------------------------------------------------------------
def test_driver_never_increases_the_loss_on_20_seeded_problems():
    """The local rule's recorded losses never increase, compared exactly in float64.

    Float rounding cannot fake an increase because the driver stops (status
    "converged") before a step whose guaranteed decrease (η/2)|∇ℓ|² is below
    1e-12 × the magnitude of the numbers the loss is computed from.
    """
    statuses = set()
    for seed in range(20):
        net, theta, X, y, delta = _problem(seed)
        res = gradient_descent(net, theta, X, y, "local", delta=delta, max_steps=150)
        assert isinstance(res, DescentResult)
        assert res.losses.size == res.steps + 1 and res.etas.size == res.steps
        assert np.all(np.diff(res.losses) <= 0), (seed, res.max_increase)
        assert res.monotone and res.max_increase == 0.0
        assert res.losses[-1] < res.losses[0] or res.status in ("converged", "stationary")
        assert np.all(res.etas * res.grad_norms <= delta)
        assert np.all(res.etas <= 1 / res.Ls)
        assert set(res.caps) <= {"curvature", "ball"}
        assert res.status in ("max_steps", "converged", "stationary")
        statuses.add(res.status)
    assert "max_steps" in statuses


def test_converged_status_stops_before_rounding_matters():
    # depth 1, two samples at one input with targets ±1: U3 = 1 + |x|^2 is the exact curvature,
    # the rule reaches the minimum (loss 1/2) in one step up to the 2^-30 margin, and then the
    # predicted decrease (~1e-18) is far below the float64 resolution of a loss of 1/2
    net = MLP((2, 1), "tanh")
    theta, X, y = np.array([0.3, -0.2, 0.1]), np.array([[0.6, 0.8], [0.6, 0.8]]), np.array([1.0, -1.0])
    res = gradient_descent(net, theta, X, y, "local", delta=10.0, max_steps=100)
    assert res.status == "converged" and res.steps <= 2 and "float64 resolution" in res.message, res
    assert res.monotone and res.loss == pytest.approx(0.5, abs=1e-12) and res.success
    # a single sample can be fitted exactly: the residual, then the gradient, become 0
    one = gradient_descent(net, theta, X[:1], y[:1], "local", delta=10.0, max_steps=100)
    assert one.status in ("stationary", "converged") and one.monotone and one.loss < 1e-15


def test_stationary_point_stops_at_once():
    net = MLP((2, 3, 1), "tanh")  # zero weights: f = 0 = y, so ∇ℓ = 0 exactly
    res = gradient_descent(net, np.zeros(net.n_params), np.array([[0.5, 0.5]]), np.array([0.0]), "local")
    assert res.status == "stationary" and res.steps == 0 and "exactly 0" in res.message and res.success
    st = local_step(net, np.zeros(net.n_params), np.array([[0.5, 0.5]]), np.array([0.0]), 0.5)
    assert st.grad_norm == 0 and st.cap == "curvature" and st.ball_cap == math.inf


def test_target_loss_is_reported_and_can_stop():
    net, theta, X, y, delta = _problem(3)
    full = gradient_descent(net, theta, X, y, 0.05, max_steps=300, target_loss=0.0, stop_at_target=False)
    target = 0.5 * (full.losses[0] + full.losses[-1])
    stop = gradient_descent(net, theta, X, y, 0.05, max_steps=300, target_loss=target)
    assert stop.status == "target" and stop.success and stop.losses[-1] <= target < stop.losses[-2]
    assert stop.target_step == stop.steps
    go_on = gradient_descent(net, theta, X, y, 0.05, max_steps=300, target_loss=target, stop_at_target=False)
    assert go_on.target_step == stop.target_step and go_on.steps == 300


def test_too_large_fixed_step_is_detected_as_divergence():
    rng = np.random.default_rng(5)
    net = MLP((3, 16, 1), "tanh")
    X = sample_inputs(3, 1.0, 64, rng)
    y = np.sin(X @ np.array([1.0, -2.0, 0.5]))
    theta = net.init(0)
    res = gradient_descent(net, theta, X, y, 20.0, max_steps=500)
    assert res.status == "diverged" and not res.success and "diverged at step" in res.message
    assert np.all(np.isfinite(res.losses)) and np.all(np.isfinite(res.theta)) and math.isfinite(res.loss)
    assert res.steps < 500 and not res.monotone
    # without the blow-up threshold the float64 overflow itself is caught: still no NaN
    over = gradient_descent(net, theta, X, y, 20.0, max_steps=5000, blowup=1e300)
    assert over.status == "diverged" and np.all(np.isfinite(over.losses))
    assert "non-finite" in over.message or "not finite" in over.message or "more than" in over.message
    # the local rule on the same problem is monotone
    loc = gradient_descent(net, theta, X, y, "local", max_steps=30)
    assert loc.monotone and loc.status == "max_steps"
    json.dumps(res.to_dict())


# ---------------------------------------------------------------------------
# the claims
# ---------------------------------------------------------------------------
def test_catalogue_covers_architectures_depths_and_deltas():
    module = _module(PROOFS)
    doc = module.__doc__ or ""
    assert "docs/theory.md §6" in doc and "U3" in doc and "Proof sketch" in doc
    cases = module.CASES
    assert {c.net.activation.name for c in cases} >= set(SMOOTH)
    assert {c.net.depth for c in cases} == {1, 2, 3}
    assert all(c.region.kind == "ball" and c.claim.expect == "holds" for c in cases)
    assert all(c.claim.quantity == "pointwise" and c.claim.bound.targets for c in cases)
    names = {c.claim.name.split("[")[0] for c in cases}
    assert names == {"SS-descent", "SS-ball"}
    assert len({c.claim.name for c in cases}) >= 5  # several δ and sample counts


@pytest.mark.parametrize("index", [0, 2, 5, 7])
def test_descent_and_ball_claims_survive_a_short_falsify(index):
    case = _module(PROOFS).CASES[index]
    v = falsify(case, max_evals=150, seed=0)
    assert v.status == "survived", v.message
    assert v.best_ratio < 1
    if case.net.depth == 1 or case.claim.name.startswith("SS-ball"):
        assert v.best_ratio > 1 - 1e-6  # tight: U3 is exact at depth 1, the ball cap is attained
    else:
        assert v.best_ratio < 0.9  # U3 is loose at depth >= 2


def test_mutants_are_violated_and_their_witnesses_replay(tmp_path):
    module = _module(MUTANTS)
    assert {c.claim.name for c in module.CASES} == set(module.WITNESSES)
    assert len(module.CASES) >= 2
    for index, case in enumerate(module.CASES):
        claim, net, region = case.claim, case.net, case.region
        assert claim.expect == "fails" and len(claim.why) > 100
        # the hand-made witness: inside, within the radii, violated at high precision
        w = module.WITNESSES[claim.name]()
        assert region.contains(net, w["theta"], tol=0.0)
        assert np.all(np.linalg.norm(w["x"], axis=1) <= case.R) and np.all(np.abs(w["y"]) <= case.Y)
        lhs, rhs = claim.bound.fn(net, w["theta"], w["x"], w["y"], None)
        assert lhs > rhs
        conf = confirm(claim, net, region, w, case.R, case.Y, dps=50)
        assert conf.confirmed and conf.confirmed_digits >= 10, claim.name
        # the falsifier finds a violation on its own, and its witness replays from the file
        v = falsify(case, max_evals=200, seed=1, source=f"{MUTANTS}::{index}")
        assert v.status == "violated", (claim.name, v.message)
        path = v.witness.save(tmp_path / f"w{index}.json")
        assert replay(path, dps=60).status == "needs-trust"  # the claim is code: no import without trust
        rep = replay(path, dps=60, trust=True)
        assert rep.violated, (claim.name, rep.message)


# ---------------------------------------------------------------------------
# the demo
# ---------------------------------------------------------------------------
def test_demo_quick_writes_its_files(tmp_path):
    from symlip.report.stepsize import run_stepsize_demo
    from symlip.core.plot import pyplot

    out = run_stepsize_demo(tmp_path, seed=0, quick=True)
    files = [Path(f) for f in out["files"]]
    assert tmp_path / "stepsize.md" in files and tmp_path / "stepsize.json" in files
    assert all(f.exists() for f in files)
    assert (tmp_path / "stepsize.png" in files) == (pyplot() is not None)
    md = (tmp_path / "stepsize.md").read_text()
    assert "| rule | η | steps to target | final loss | monotone |" in md
    data = json.loads((tmp_path / "stepsize.json").read_text())
    runs = {r["name"]: r for r in data["runs"]}
    assert runs["local"]["monotone"] and runs["local"]["status"] != "diverged"
    assert runs["local"]["target_step"] is not None
    unstable = [r for r in data["runs"] if r["status"] == "diverged" or not r["monotone"]]
    assert unstable, "no fixed step diverged or oscillated"
    assert any(r["status"] == "diverged" for r in data["runs"])
    assert all(isinstance(s, str) for s in out["summary"]) and len(out["summary"]) >= 7
    json.dumps(out)


def test_demo_without_matplotlib_skips_the_png_and_says_so(tmp_path, monkeypatch):
    import symlip.core.plot
    from symlip.report.stepsize import run_stepsize_demo

    (tmp_path / "stepsize.png").write_bytes(b"stale")
    monkeypatch.setattr(symlip.core.plot, "pyplot", lambda: None)
    out = run_stepsize_demo(tmp_path, seed=1, quick=True)
    assert not (tmp_path / "stepsize.png").exists()
    assert all(not f.endswith(".png") for f in out["files"])
    assert "No figure: matplotlib is not available" in (tmp_path / "stepsize.md").read_text()
    assert any("no stepsize.png" in s for s in out["summary"])
