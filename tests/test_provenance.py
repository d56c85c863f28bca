"""Provenance of activation constants (issue 12): numeric estimates never enter a bound
silently, the numeric tier searches the whole line, the certified tier is rigorous (arb)
for shifted features and Float coefficients, and every sympy/interval step is time-limited."""
from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap
import threading
import time

import mpmath
import numpy as np
import pytest
import sympy as sp

from symlip.activations import arb as _arb, certified as _certified, exact as _exact, numeric as _numeric
from symlip.activations import timelimit as _timelimit
from symlip.activations.registry import T, activation, available_activations
from symlip.bounds.symbolic import derive
from symlip.search.catalogue import LoadedCase
from symlip.search.claims import Claim, Case
from symlip.verify import check_case
from symlip.cli import main
from symlip.search.falsify import falsify
from symlip.models.network import MLP
from symlip.models.region import Region
from symlip.search.witness import Witness
from symlip.verify import replay

SINC = "sinc(t - 100)"


def _sinc1_max() -> mpmath.mpf:
    """max |d/dx sin(x)/x|, at the first zero x* ≈ 2.08 of the second derivative (mpmath)."""
    with mpmath.workdps(40):
        d1 = lambda x: (x * mpmath.cos(x) - mpmath.sin(x)) / x**2  # noqa: E731
        d2 = lambda x: ((2 - x**2) * mpmath.sin(x) - 2 * x * mpmath.cos(x)) / x**3  # noqa: E731
        return abs(d1(mpmath.findroot(d2, 2.08)))


# ---------------------------------------------------------------------------
# the numeric tier: the whole real line
# ---------------------------------------------------------------------------
def test_shifted_sinc_numeric_s1_is_the_true_maximum():
    act = activation(SINC)
    s1 = act.S1
    assert s1.provenance == "numeric" and not s1.is_proven
    want = float(_sinc1_max())  # the feature sits at t = 100: the value at the shifted point
    assert abs(s1.upper - want) <= 1e-9 * want, (s1, want)
    assert "not a proof" in s1.how and "100" in s1.how
    # S0 = sinc(0) = 1 at t = 100: rigorous (the region grows to cover the shift)
    assert act.S0.is_proven and act.S0.lower <= 1 <= act.S0.upper and act.S0.upper - 1 <= 1e-12


def test_shifted_bessel_s0_is_one():
    act = activation("besselj(0, t - 50)")
    with mpmath.workdps(50):
        want = mpmath.besselj(0, mpmath.mpf(50) - 50)  # J0 at the shifted point t = 50
    assert want == 1
    s0 = act.S0
    assert s0.lower <= 1 <= s0.upper and s0.upper - 1 <= 1e-12, s0
    assert s0.provenance in ("certified", "numeric")


def test_numeric_tier_reports_growth_where_float64_overflows():
    # |σ'| ~ e^t / t^2 -> oo: no finite estimate from samples near the overflow frontier
    consts = activation("sin(exp(t))/(1 + t**2)").constants
    assert not consts["S1"].is_finite and not consts["S2"].is_finite
    with mpmath.workdps(40):  # S0: the largest |σ| near t = 0.2, where σ' = 0
        f = lambda t: mpmath.sin(mpmath.exp(t)) / (1 + t**2)  # noqa: E731
        want = f(mpmath.findroot(lambda t: mpmath.diff(f, t), 0.2))
    s0 = consts["S0"]
    assert s0.is_proven and s0.lower <= want <= s0.upper, (s0, want)


def test_undecided_sympy_limit_is_not_an_infinite_constant():
    # sympy returns Limit(...) unevaluated for W(t^2)' at oo; its argument oo is no verdict
    s1 = activation("LambertW(t**2)").S1
    with mpmath.workdps(40):
        f = lambda t: mpmath.lambertw(t**2).real  # noqa: E731
        want = mpmath.diff(f, mpmath.findroot(lambda t: mpmath.diff(f, t, 2), 1.0))
    assert s1.is_finite and abs(s1.upper - want) <= 1e-9 * want, (s1, want)


def test_numeric_tier_sees_blow_up_at_a_finite_point():
    # (|tanh t|^(1/2))' = sech^2 t / (2 sqrt|tanh t|) -> oo as t -> 0 (the piece end)
    pieces = _exact.split_pieces(activation("Abs(tanh(t))**0.5").expr)
    est, how = _numeric.numeric_sup(pieces, 1)
    assert est == mpmath.inf and "t -> 0" in how
    # a removable singularity (sinc' at t = 100) is no blow-up
    est, how = _numeric.numeric_sup([(sp.sinc(T - 100), sp.Interval(-sp.oo, sp.oo))], 2)
    assert abs(est - mpmath.mpf(1) / 3) <= 1e-6, how


# ---------------------------------------------------------------------------
# the certified tier: rigorous for shifted features
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("shift", [300, 10**7])
def test_certified_tail_covers_any_shift(shift):
    """Beyond the largest region the tail bound itself must cover the feature:
    the enclosure stays rigorous (the upper end is at least the true maximum 1)."""
    e = sp.exp(-(T - shift) ** 2)
    lo, hi, how = _certified.certified_sup([(e, sp.Interval(-sp.oo, sp.oo))], 0, 3.0)
    assert lo <= 1 <= hi, (shift, lo, hi, how)
    lo, hi, how = _certified.certified_sup([(sp.sinc(T - shift), sp.Interval(-sp.oo, sp.oo))], 0, 3.0)
    assert lo <= 1 <= hi, (shift, lo, hi, how)


def test_certified_shifted_gaussian_derivative_is_tight():
    e = sp.exp(-(T - 300) ** 2 / 2)  # max |σ'| = e^{-1/2} at t = 299, 301
    lo, hi, _ = _certified.certified_sup([(e, sp.Interval(-sp.oo, sp.oo))], 1, 3.0)
    with mpmath.workdps(50):
        want = mpmath.exp(-mpmath.mpf(1) / 2)
    assert lo <= want <= hi and hi - lo <= 1e-9


# ---------------------------------------------------------------------------
# arb enclosures vs mpmath at 50 digits
# ---------------------------------------------------------------------------
def _inside(y, v) -> bool:
    return _arb.to_mpf(y.lo) <= v <= _arb.to_mpf(y.hi)


@pytest.mark.parametrize("name", available_activations())
def test_arb_enclosures_contain_mpmath_values(name):
    """Every registry activation, orders 0..2, on each piece: point and small-interval
    enclosures contain the mpmath values at 50 digits."""
    rng = np.random.default_rng(12)
    act = activation(name)
    for e, I in _exact.proper_pieces(_exact.split_pieces(act.expr)):
        a, b = max(float(I.inf), -60.0), min(float(I.sup), 60.0)
        xs = [float(x) for x in rng.uniform(a, b, 25)]
        xs += [x for x in (-700.0, -30.5, 30.5, 700.0, 1e8) if I.contains(sp.Float(x)) is sp.true]
        for k in range(3):
            g = sp.diff(e, T, k)
            F = _arb.arb_evaluator(g)
            f = sp.lambdify(T, g, modules="mpmath")
            for x in xs:
                with mpmath.workdps(50):
                    v = mpmath.mpf(f(mpmath.mpf(x)))
                y = F(_arb.iv_point(_arb.to_arb(x)))
                assert _inside(y, v), (name, k, x, v, y)
                xb = x + 1e-3 * (1 + abs(x))
                Y = F(_arb.ArbInterval(_arb.to_arb(x), _arb.to_arb(xb)))
                for u in (0, 0.37, 1):
                    with mpmath.workdps(50):
                        w = mpmath.mpf(f(mpmath.mpf(x) + u * (mpmath.mpf(xb) - mpmath.mpf(x))))
                    assert _inside(Y, w), (name, k, x, u, w, Y)


@pytest.mark.parametrize("expr", [sp.exp(-T), sp.tanh(T), sp.erf(T), sp.erfc(T), sp.atan(T), 1 / (1 + T**2),
                                  T * sp.exp(-T), sp.sinc(T - 3), sp.exp(T) / (1 + sp.exp(T)),
                                  sp.sqrt(1 + T**2) - T, sp.besselj(0, T), sp.sech(T) ** 2])
def test_tail_enclosures_contain_far_values(expr):
    """Enclosures on [M, +inf] (where mpmath.iv was unsound) contain the values at far points."""
    F = _arb.arb_evaluator(expr)
    f = sp.lambdify(T, expr, modules="mpmath")
    for M in (1.0, 40.0, 1e6):
        y = F(_arb.ArbInterval(_arb.to_arb(M), _arb.PINF))
        for x in (M, 2 * M, 10 * M + 0.3, 1e3 * M, 1e100):
            with mpmath.workdps(50):
                v = mpmath.mpf(f(mpmath.mpf(x)))
            assert _inside(y, v), (expr, M, x, v, y)


def test_unsupported_function_is_a_clear_failure():
    with pytest.raises(_timelimit.TierFailed, match="no rigorous enclosure for LambertW"):
        _arb.arb_evaluator(sp.LambertW(T))
    assert _arb.point_enclosure(sp.LambertW(T), 1.0) is None


# ---------------------------------------------------------------------------
# Float and Rational coefficients of expressions built in Python
# ---------------------------------------------------------------------------
def test_float_coefficients_are_exact_rationals():
    act = activation(sp.Float(0.5) * sp.tanh(T))
    s2 = act.S2
    assert s2.provenance == "exact" and sp.simplify(s2.value - 2 * sp.sqrt(3) / 9) == 0, s2
    assert act.S0.value == sp.Rational(1, 2) and act.S1.value == sp.Rational(1, 2)
    big = activation(sp.Float(1e20) * sp.tanh(T))
    assert big.S1.lower <= 1e20 <= big.S1.upper


def test_gelu_tanh_approximation_with_float_coefficients():
    c, k = sp.Float(0.7978845608), sp.Float(0.044715)
    act = activation(sp.Float(0.5) * T * (1 + sp.tanh(c * (T + k * T**3))))
    s1 = act.S1
    assert s1.is_proven and not act.S0.is_finite
    with mpmath.workdps(50):
        cm, km = mpmath.mpf(0.7978845608), mpmath.mpf(0.044715)
        f = lambda t: t * (1 + mpmath.tanh(cm * (t + km * t**3))) / 2  # noqa: E731
        t1 = mpmath.findroot(lambda t: mpmath.diff(f, t, 2), 1.5)
        want = abs(mpmath.diff(f, t1))
    assert s1.lower <= want <= s1.upper and s1.upper - s1.lower <= 1e-9 * want, (s1, want)
    # the same expression as text (a float literal) has constants too, no traceback
    assert activation("0.5*t*(1+tanh(0.7978845608*(t+0.044715*t**3)))").S1.is_proven


@pytest.mark.parametrize("spec", ["Si(t)", "airyai(t)", "0.5*tanh(t)", "1e20*tanh(t)"])
def test_no_traceback_for_functions_without_enclosure(spec, capsys):
    assert main(["activation", spec]) == 0
    out = capsys.readouterr().out
    for key in ("S0", "S1", "S2", "c0"):
        assert f"  {key} = " in out


# ---------------------------------------------------------------------------
# numeric constants never enter a bound silently
# ---------------------------------------------------------------------------
def _sinc_net() -> MLP:
    return MLP([2, 3, 1], activation(SINC))


@pytest.mark.parametrize("quantity", ["lip_f", "lip_input", "lip_grad"])
def test_bound_refuses_numeric_constant(quantity):
    net, region, b = _sinc_net(), Region.box(1.0, 1.0), derive(quantity, 2)
    s1 = net.activation.S1
    for call in (lambda: b.evaluate(net, region, R=1.0), lambda: b.values_for(net, region, R=1.0),
                 lambda: b.specialize(widths=[2, 3, 1], activation=net.activation)):
        with pytest.raises(ValueError) as info:
            call()
        msg = str(info.value)
        assert "S1" in msg and f"{s1.upper:.6g}" in msg and "with_constants(S1=" in msg
        assert "allow_numeric=True" in msg and "\n" not in msg
    value = b.evaluate(net, region, R=1.0, allow_numeric=True)
    assert math.isfinite(value)
    vals = b.values_for(net, region, R=1.0, allow_numeric=True)
    assert vals["S1"] == s1.upper


def test_claimed_constants_stay_allowed():
    act = activation(SINC).with_constants(S1=0.44, S0=1, c0=0.01)
    b = derive("lip_f", 2)
    net = MLP([2, 3, 1], act)
    assert math.isfinite(b.evaluate(net, Region.box(1.0, 1.0), R=1.0))
    # an exact/certified activation needs no opt-in either
    assert math.isfinite(b.evaluate(MLP([2, 3, 1], "tanh"), Region.box(1.0, 1.0), R=1.0))


def test_unused_numeric_constant_is_not_refused():
    # lip_f at depth 1 does not depend on the activation at all
    assert derive("lip_f", 1).evaluate(MLP([2, 1], activation(SINC)), Region.box(1.0, 1.0), R=1.0) > 0


def test_claim_and_falsify_refuse_then_mark():
    net, region = _sinc_net(), Region.box(1.0, 1.0)
    claim = Claim("U4", "lip_input", derive("lip_input", 2))
    with pytest.raises(ValueError, match="S1 ≈ 0.436"):
        claim.bound_value(net, region, R=1.0)
    with pytest.raises(ValueError, match="S1 ≈ 0.436"):
        falsify(claim, net, region, R=1.0, max_evals=30)
    v = falsify(claim, net, region, R=1.0, max_evals=30, allow_numeric=True)
    assert v.numeric == "rests on numeric S1 ≈ 0.436182 (not proven)"
    assert v.message.endswith(v.numeric) and v.to_dict()["numeric"] == v.numeric
    assert v.claim.allow_numeric and not claim.allow_numeric
    # the witness records the value the bound rested on; replay uses it as a stated constant
    spec = v.witness.to_dict()["bound_spec"]
    assert spec["numeric"] == {"S1": net.activation.S1.upper}
    rep = replay(Witness.from_dict(json.loads(json.dumps(v.witness.to_dict()))))
    assert rep.status in ("not violated", "inconclusive", "violated")
    # a claim stated with allow_numeric=True needs no keyword
    v2 = falsify(Claim("U4", "lip_input", derive("lip_input", 2), allow_numeric=True), net, region, R=1.0,
                 max_evals=30)
    assert v2.numeric and v2.bound == v.bound


def test_check_case_passes_the_flag():
    net, region = _sinc_net(), Region.box(1.0, 1.0)
    lc = LoadedCase(Case(Claim("U4", "lip_input", derive("lip_input", 2)), net, region, R=1.0), "mem", 0)
    with pytest.raises(ValueError, match="numeric estimate"):
        check_case(lc, budget=1.0, max_evals=30)
    assert check_case(lc, budget=1.0, max_evals=30, allow_numeric=True).numeric


def test_allow_numeric_must_be_bool():
    with pytest.raises(TypeError, match="allow_numeric must be True or False"):
        Claim("U4", "lip_input", derive("lip_input", 2), allow_numeric="yes")
    with pytest.raises(TypeError, match="allow_numeric must be True or False"):
        falsify(Claim("U4", "lip_input", derive("lip_input", 2)), _sinc_net(), Region.box(1.0, 1.0),
                max_evals=30, allow_numeric=1)


# ---------------------------------------------------------------------------
# the command line
# ---------------------------------------------------------------------------
def test_cli_derive_refuses_then_marks(capsys):
    argv = ["derive", "--widths", "2,3,1", "--activation", SINC, "--omega", "1", "--beta", "1"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("symlip: error:") and "S1 ≈ 0.436182" in err
    assert main(argv + ["--allow-numeric"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert math.isfinite(float(out[1])) and out[2] == "note: this value rests on numeric S1 ≈ 0.436182 (not proven)"
    assert main(["derive", "--widths", "2,3,1", "--activation", SINC, "--quantity", "lip_input"]) == 2
    capsys.readouterr()
    assert main(["derive", "--widths", "2,3,1", "--activation", SINC, "--quantity", "lip_input",
                 "--allow-numeric"]) == 0
    assert "rests on numeric S1" in capsys.readouterr().out


def test_cli_activation_marks_numeric(capsys):
    assert main(["activation", SINC]) == 0
    out = capsys.readouterr().out
    assert "S1 = ≈ 0.43618181727" in out and "(numeric, not proven)" in out


def test_cli_check_allow_numeric(tmp_path, capsys):
    cat = tmp_path / "cat.py"
    cat.write_text(textwrap.dedent(f"""
        from symlip import MLP, Region, derive
        from symlip.activations.registry import activation
        from symlip.search.claims import Case, Claim
        CASES = [Case(Claim("U4", "lip_input", derive("lip_input", 2)), MLP([2, 3, 1], activation({SINC!r})),
                      Region.box(1.0, 1.0), R=1.0)]
    """))
    args = ["check", str(cat), "--max-evals", "30", "--report", str(tmp_path / "r"), "--quiet"]
    assert main(args) == 1  # an error outcome: the bound rests on a numeric constant
    capsys.readouterr()
    report = json.loads((tmp_path / "r" / "check.json").read_text())
    text = json.dumps(report)
    assert "numeric estimate" in text
    assert main(args + ["--allow-numeric"]) == 0
    capsys.readouterr()
    report = json.loads((tmp_path / "r" / "check.json").read_text())
    assert "rests on numeric S1" in json.dumps(report)


# ---------------------------------------------------------------------------
# time limits: hang detectors, not speed assertions
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("spec", ["tanh(tanh(tanh(tanh(tanh(t)))))", "sin(exp(t))/(1+t**2)"])
def test_pathological_activation_finishes(spec):
    r = subprocess.run([sys.executable, "-m", "symlip", "activation", spec], capture_output=True, text=True,
                       timeout=120)  # a hang detector: the derivation is bounded by about 25 s
    assert r.returncode == 0, r.stderr
    assert all(f"  {k} = " in r.stdout for k in ("S0", "S1", "S2", "c0"))


def test_nested_time_limit_never_outlasts_the_outer_one():
    t0 = time.monotonic()
    with pytest.raises(_timelimit._Timeout):
        with _timelimit._time_limit(0.2):
            with _timelimit._time_limit(60):
                while True:
                    pass
    assert time.monotonic() - t0 < 30  # the inner limit (60 s) did not replace the outer one


def test_call_with_time_limit():
    def spin():
        while True:
            pass

    with pytest.raises(TimeoutError):
        _timelimit.call_with_time_limit(0.1, spin)
    assert _timelimit.call_with_time_limit(1.0, lambda x: x + 1, 1) == 2
    seen = {}
    th = threading.Thread(target=lambda: seen.setdefault("can", _timelimit.can_time_limit()))
    th.start()
    th.join()
    assert seen["can"] is False and _timelimit.can_time_limit()


def test_worker_thread_refuses_numeric_too():
    out = {}

    def work():
        try:
            derive("lip_input", 2).evaluate(MLP([2, 3, 1], activation("sinc(t - 120)")), Region.box(1.0, 1.0))
        except ValueError as exc:
            out["err"] = str(exc)

    th = threading.Thread(target=work)
    th.start()
    th.join()
    assert "numeric estimate" in out["err"]
