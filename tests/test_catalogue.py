"""The proofs/ catalogue: coverage of the true claims (docs/theory.md §3), the mutants,
hand-made witnesses that every mutant is false, and a cheap sampling check that
no true claim is exceeded at random points.

The adversarial attack itself is ``symlip check proofs/`` (symlip.search.falsify);
these tests only make sure the catalogue is well-formed and honest.
"""
from __future__ import annotations

import math
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from symlip import derive, sample_inputs
from symlip.search.catalogue import LoadedCase, _import_file, load_cases
from symlip.search.claims import Case

PROOFS = Path(__file__).resolve().parent.parent / "proofs"
MUTANTS = PROOFS / "mutants"
TRUE_MODULES = {
    "u1_network.py": "lip_f",
    "u2_gradient.py": "lip_grad",
    "u3_loss.py": "lip_loss_grad",
    "u4_input.py": "lip_input",
}
SMOOTH = {"tanh", "sigmoid", "softplus", "gelu", "silu", "elu", "sin"}
LIPSCHITZ_ONLY = {"relu", "leaky_relu"}


@pytest.fixture(scope="module")
def loaded() -> list[LoadedCase]:
    """The Lipschitz claims (statistical SGD claims, docs/theory.md §7, are tested in test_dynamics.py)."""
    return [lc for lc in load_cases([PROOFS]) if isinstance(lc.case, Case)]


def _true(loaded: list[LoadedCase]) -> list[LoadedCase]:
    """The true claims of the §3 catalogue (U1–U4); lower.py, cdnn.py and stepsize.py
    have tests of their own."""
    return [lc for lc in loaded if Path(lc.source).name in TRUE_MODULES]


def _mutants(loaded: list[LoadedCase]) -> list[LoadedCase]:
    return [lc for lc in loaded if "mutants" in Path(lc.source).parts]


def _module(path: Path) -> ModuleType:
    """Import a catalogue file as ``symlip check`` does."""
    return _import_file(path.resolve())


# ---------------------------------------------------------------------------
# structure and coverage
# ---------------------------------------------------------------------------
def test_four_true_modules_with_claims_for_depths_1_to_5(loaded):
    sources = {Path(lc.source).name for lc in _true(loaded)}
    assert set(TRUE_MODULES) <= sources
    for fname, quantity in TRUE_MODULES.items():
        module = _module(PROOFS / fname)
        assert sorted(module.CLAIMS) == [1, 2, 3, 4, 5]
        assert all(c.quantity == quantity and c.expect == "holds" for c in module.CLAIMS.values())
        doc = module.__doc__ or ""
        assert len(doc.splitlines()) >= 20 and "docs/theory.md §3" in doc and "Proof sketch" in doc


def test_true_cases_cover_depths_regions_widths_and_activations(loaded):
    true = _true(loaded)
    assert 40 <= len(true) <= 60
    for fname, quantity in TRUE_MODULES.items():
        cases = [lc.case for lc in true if Path(lc.source).name == fname]
        assert {c.net.depth for c in cases} == {1, 2, 3, 4, 5}, fname
        assert {c.region.kind for c in cases} == {"box", "ball"}, fname
        assert all(c.claim.quantity == quantity for c in cases)
        assert len({c.R for c in cases}) >= 2, fname
    widths = [w for lc in true for w in lc.case.net.widths]
    assert min(widths) == 1 and max(widths) <= 16
    assert any(1 in lc.case.net.widths[1:-1] for lc in true), "no width-1 hidden layer"
    assert any(lc.case.net.d_in > 1 for lc in true)
    acts = {lc.case.net.activation.name for lc in true}
    assert SMOOTH <= acts and LIPSCHITZ_ONLY <= acts and {"identity", "softsign"} <= acts
    # classes: Lipschitz-only (S2 = inf), smooth and bounded, smooth and unbounded, identity
    consts = [lc.case.net.activation.values() for lc in true]
    assert any(math.isinf(c["S2"]) for c in consts)
    assert any(math.isfinite(c["S2"]) and math.isfinite(c["S0"]) for c in consts)
    assert any(math.isfinite(c["S2"]) and math.isinf(c["S0"]) for c in consts)
    # ball regions are centred at initialisation points (not at the origin)
    assert all(np.linalg.norm(lc.case.region.center) > 0 for lc in true if lc.case.region.kind == "ball")


def test_gradient_claims_only_on_smooth_activations(loaded):
    for lc in _true(loaded):
        c = lc.case
        if c.claim.quantity in ("lip_grad", "lip_loss_grad"):
            assert "smooth" in c.claim.assumptions and c.net.activation.is_smooth
        else:
            assert "lipschitz" in c.claim.assumptions
        if c.claim.quantity == "lip_loss_grad":
            assert c.Y is not None


def test_true_cases_expect_to_hold_and_are_small(loaded):
    for lc in _true(loaded):
        assert lc.case.claim.expect == "holds", lc.case.label
        assert lc.case.net.n_params <= 400, lc.case.label


def test_mutants(loaded):
    mutants = _mutants(loaded)
    assert len(mutants) >= 12
    assert len({Path(lc.source).name for lc in mutants}) >= 3
    names = [lc.case.claim.name for lc in mutants]
    assert len(set(names)) == len(names)
    for lc in mutants:
        claim = lc.case.claim
        assert claim.expect == "fails", claim.name
        assert len(claim.why.strip()) > 40, claim.name
        if Path(lc.source).name == "large_mutants.py":   # the search at realistic sizes (symlip bench)
            assert lc.case.net.n_params >= 1000, claim.name
        else:
            assert lc.case.net.n_params <= 400, claim.name
    assert {lc.case.claim.quantity for lc in mutants} >= {"lip_f", "lip_grad", "lip_loss_grad", "lip_input"}


def test_every_case_applicable_and_bound_finite_positive(loaded):
    for lc in loaded:
        c = lc.case
        c.claim.check_applicable(c.net)
        if c.claim.quantity == "pointwise":  # no single bound: lhs <= rhs at each point
            continue
        value = c.claim.bound_value(c.net, c.region, c.R, c.Y)
        assert math.isfinite(value), c.label
        if c.claim.quantity == "lip_grad" and c.net.depth == 1:
            assert value == 0.0, c.label
        elif c.claim.expect == "holds":
            assert value > 0, c.label
        else:  # a mutant may claim 0 (a linear network "is linear in θ")
            assert value >= 0, c.label


# ---------------------------------------------------------------------------
# the mutants are false: hand-made witnesses
# ---------------------------------------------------------------------------
def _pair_ratio(quantity, net, w) -> float:
    X = np.atleast_2d(np.asarray(w["x"], dtype=float))
    if quantity == "lip_input":
        X2 = np.atleast_2d(np.asarray(w["x2"], dtype=float))
        num = np.abs(net.f(w["theta"], X) - net.f(w["theta"], X2))
        return float(np.max(num / np.linalg.norm(X - X2, axis=1)))
    th, th2 = np.asarray(w["theta"]), np.asarray(w["theta2"])
    dist = float(np.linalg.norm(th - th2))
    assert dist > 0
    if quantity == "lip_f":
        return float(np.max(np.abs(net.f(th, X) - net.f(th2, X)))) / dist
    if quantity == "lip_grad":
        return float(np.max(np.linalg.norm(net.grad(th, X) - net.grad(th2, X), axis=1))) / dist
    y = np.asarray(w["y"], dtype=float)
    return float(np.linalg.norm(net.loss_grad(th, X, y) - net.loss_grad(th2, X, y))) / dist


def _mutant_modules() -> list[Path]:
    """Mutant files of Lipschitz claims (dynamics_mutants.py holds statistical ones: test_dynamics.py)."""
    return sorted(p for p in MUTANTS.glob("*.py")
                  if not p.name.startswith("_") and all(isinstance(c, Case) for c in _module(p).CASES))


@pytest.mark.parametrize("path", _mutant_modules(), ids=lambda p: p.name)
def test_each_mutant_has_a_witness_that_violates_it(path):
    module = _module(path)
    lower = [c for c in module.CASES if c.claim.direction == "lower"]
    for case in lower:  # refuted: the §3 upper bound on the region is below the claimed lower bound
        upper = derive(case.claim.quantity, case.net.depth).evaluate(case.net, case.region, R=case.R)
        assert upper * 1.01 < case.claim.bound_value(case.net, case.region, case.R), case.claim.name
    upper_cases = [c for c in module.CASES if c.claim.direction == "upper"]
    assert {c.claim.name for c in upper_cases} == set(module.WITNESSES)
    for case in upper_cases:
        claim, net, region = case.claim, case.net, case.region
        w = module.WITNESSES[claim.name]()
        assert region.contains(net, w["theta"]), claim.name
        if w.get("theta2") is not None:
            assert region.contains(net, w["theta2"]), claim.name
        for key in ("x", "x2"):
            if w.get(key) is not None:
                assert np.all(np.linalg.norm(np.atleast_2d(w[key]), axis=1) <= case.R * (1 + 1e-12)), claim.name
        if w.get("y") is not None:
            assert np.all(np.abs(w["y"]) <= case.Y), claim.name
        if claim.quantity == "pointwise":
            X = np.atleast_2d(np.asarray(w["x"], dtype=float))
            y = np.zeros(X.shape[0]) if w.get("y") is None else np.asarray(w["y"], dtype=float)
            lhs, rhs = claim.bound.fn(net, w["theta"], X, y, None)
            assert lhs > rhs + 1e-9 * max(abs(rhs), 1.0), (claim.name, lhs, rhs)
            continue
        ratio = _pair_ratio(claim.quantity, net, w)
        bound = claim.bound_value(net, region, case.R, case.Y)
        assert ratio > 1.01 * bound, (claim.name, ratio, bound)


# ---------------------------------------------------------------------------
# the true claims survive a cheap random probe (the falsifier does the real attack)
# ---------------------------------------------------------------------------
def _top_eig(matvec, P: int, rng: np.random.Generator, iters: int = 30) -> float:
    v = rng.standard_normal(P)
    v /= np.linalg.norm(v)
    lam = 0.0
    for _ in range(iters):
        w = matvec(v)
        lam = float(np.linalg.norm(w))
        if lam == 0.0:
            return 0.0
        v = w / lam
    return lam


def _local_quantity(case, theta, rng) -> float:
    net, R = case.net, case.R
    x = sample_inputs(net.d_in, R, 1, rng, surface=True)[0]
    q = case.claim.quantity
    if q == "lip_f":
        return float(np.linalg.norm(net.grad(theta, x)))
    if q == "lip_input":
        return float(np.linalg.norm(net.jac_x(theta, x)))
    if q == "lip_grad":
        return _top_eig(lambda v: net.hvp(theta, x, v), net.n_params, rng)
    X = sample_inputs(net.d_in, R, 3, rng, surface=True)
    y = rng.choice([-case.Y, case.Y], size=3)
    return _top_eig(lambda v: net.loss_hvp(theta, X, y, v), net.n_params, rng)


def test_true_claims_not_exceeded_at_random_points(loaded):
    rng = np.random.default_rng(20240601)
    for lc in _true(loaded):
        c = lc.case
        bound = c.claim.bound_value(c.net, c.region, c.R, c.Y)
        for _ in range(4):
            theta = c.region.sample(c.net, rng)
            value = _local_quantity(c, theta, rng)
            assert value <= bound * (1 + 1e-9) + 1e-12, (c.label, value, bound)
