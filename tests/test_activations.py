"""Tests of symlip.activations.registry and the constants S0, S1, S2, c0 (docs/theory.md §1)."""
from __future__ import annotations

import math
import threading
import time

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

from symlip.activations import certified as _certified, constants as _constants, exact as _exact
from symlip.activations import timelimit as _timelimit
from symlip.activations.registry import T, Constant, activation, available_activations

REGISTRY = available_activations()
oo = sp.oo

#: the docs/theory.md §1 table: (S0, S1, S2, c0), all exact
ORACLE = {
    "tanh": (1, 1, 4 / (3 * sp.sqrt(3)), 0),
    "sigmoid": (1, sp.Rational(1, 4), 1 / (6 * sp.sqrt(3)), sp.Rational(1, 2)),
    "softplus": (oo, 1, sp.Rational(1, 4), sp.log(2)),
    "relu": (oo, 1, oo, 0),
}

#: further closed forms (derived by hand) for the rest of the registry
MORE_EXACT = {
    "identity": (oo, 1, 0, 0),
    "leaky_relu": (oo, 1, oo, 0),
    "elu": (oo, 1, 1, 0),  # σ' = e^t | 1 is continuous at 0: Lip(σ') = sup|σ''| = 1
    "gelu": (oo, sp.Rational(1, 2) + sp.erf(1) / 2 + sp.exp(-1) / sp.sqrt(sp.pi),
             sp.sqrt(2 / sp.pi), 0),
    "softsign": (1, 1, 2, 0),
    "sin": (1, 1, 1, 0),
}

NAMES = ("S0", "S1", "S2", "c0")
FAR = np.array([1e3, 1e8, 1e300, 709.8, 745.2, 800.0, 1e154, 1e200])
FAR = np.concatenate([FAR, -FAR, [0.0, 5e-324, -5e-324, 1e-300]])


def _same(value: sp.Expr, expected) -> bool:
    expected = sp.sympify(expected)
    if expected == oo or value == oo:
        return value == expected
    return sp.simplify(value - expected) == 0


def _check_enclosure(c: Constant) -> None:
    assert c.lower <= c.upper
    if not c.is_finite:
        assert c.lower == c.upper == math.inf and c.value == oo
        return
    if c.provenance == "exact":
        with mpmath.workdps(50):
            x = mpmath.mpf(sp.N(c.value, 50))
        assert mpmath.mpf(c.lower) <= x <= mpmath.mpf(c.upper)
        # outward rounding, but no wider than two ulps
        assert c.upper <= math.nextafter(math.nextafter(c.lower, math.inf), math.inf)


# ---------------------------------------------------------------------------
# constants: exact values
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(ORACLE))
def test_math_md_table(name):
    consts = activation(name).constants
    assert set(consts) == set(NAMES)
    for key, expected in zip(NAMES, ORACLE[name]):
        c = consts[key]
        assert c.name == key
        assert c.provenance == "exact", (name, c)
        assert _same(c.value, expected), (name, key, c.value, expected)
        _check_enclosure(c)
        assert c.how


@pytest.mark.parametrize("name", sorted(MORE_EXACT))
def test_other_registry_exact(name):
    consts = activation(name).constants
    for key, expected in zip(NAMES, MORE_EXACT[name]):
        c = consts[key]
        assert c.provenance == "exact", (name, c)
        assert _same(c.value, expected), (name, key, c.value, expected)
        _check_enclosure(c)


def test_gelu_s1_attained_at_sqrt2():
    c = activation("gelu").S1
    assert "sqrt(2)" in c.how
    assert abs(c.upper - 1.1289041451851547) < 1e-15


def test_silu_certified():
    consts = activation("silu").constants
    assert consts["S0"].provenance == "exact" and not consts["S0"].is_finite
    assert consts["c0"].value == 0
    for key in ("S1", "S2"):
        c = consts[key]
        assert c.provenance == "certified", c
        assert c.lower <= c.upper < c.lower * (1 + 1e-10)
        assert "tail" in c.how and c.value == sp.Float(c.upper)
    # S2 = σ''(0) = 1/2 (σ'' is even, its maximum is at 0); S1 ≈ 1.0998 at t ≈ 2.3994
    assert consts["S2"].lower <= 0.5 <= consts["S2"].upper
    assert 1.0998 < consts["S1"].lower


def test_jumps_make_lipschitz_constants_infinite():
    step = activation("Piecewise((1, Eq(t, 0)), (0, True))")
    assert step.S0.value == 1 and not step.S1.is_finite and not step.S2.is_finite
    assert "jumps" in step.S1.how
    hardtanh = activation("Min(1, Max(-1, t))")
    assert (hardtanh.S0.value, hardtanh.S1.value) == (1, 1)
    assert not hardtanh.S2.is_finite and "jumps" in hardtanh.S2.how
    # elu with alpha != 1: σ' jumps from alpha to 1 at 0
    elu = activation("elu", alpha=0.5)
    assert elu.S1.value == 1 and not elu.S2.is_finite
    assert activation("leaky_relu", alpha=2).S1.value == 2


def test_registry_derivation_ends_proven():
    """Every registry constant comes out proven (exact or certified); the time check is a hang
    detector only (the derivation's own hard limit is 18 s), not a speed target."""
    for name in REGISTRY:
        t0 = time.monotonic()
        consts = _constants._derive(activation(name).expr)  # uncached
        assert time.monotonic() - t0 < 120, name
        assert all(c.provenance in ("exact", "certified") for c in consts), (name, consts)


# ---------------------------------------------------------------------------
# constants vs. dense evaluation, and the certified path vs. exact values
# ---------------------------------------------------------------------------
_FAR_SAMPLES = [s * 10.0**j for j in (2, 3, 4, 6, 9, 12) for s in (-1, 1)]
_GRID = np.concatenate(
    [np.linspace(-40, 40, 160001), [-1e-9, 1e-9, -1e-12, 1e-12], _FAR_SAMPLES])


def _dense_sup(act, k: int) -> float:
    with np.errstate(all="ignore"):
        return float(np.max(np.abs(act.numpy(k)(_GRID))))


def _unbounded_witness(act, k: int) -> float:
    """A large value of |σ| (k = 0) or a large difference quotient of σ^(k-1)."""
    if k == 0:
        return float(np.max(np.abs(act.numpy(0)(np.array([-1e10, 1e10])))))
    f = act.numpy(k - 1)
    h = 1e-9
    pts = np.concatenate([np.linspace(-5, 5, 1001), [1e10, -1e10]])
    return float(np.max(np.abs(f(pts + h) - f(pts - h)) / (2 * h)))


@pytest.mark.parametrize("name", REGISTRY)
def test_constants_contain_dense_maximum(name):
    act = activation(name)
    for k, key in enumerate(("S0", "S1", "S2")):
        c = act.constants[key]
        if c.is_finite:
            dense = _dense_sup(act, k)
            assert dense <= c.upper * (1 + 1e-12), (name, key, dense, c)
            assert dense >= 0.999 * c.lower, (name, key, dense, c)
        else:
            assert _unbounded_witness(act, k) > 1e6, (name, key)
    assert act.c0.upper == abs(float(act.numpy(0)(np.array(0.0)))) or act.c0.lower <= abs(
        float(act.numpy(0)(np.array(0.0)))) <= act.c0.upper


@pytest.mark.parametrize("name", ["tanh", "sigmoid", "softplus", "gelu", "elu", "softsign"])
def test_certified_path_encloses_exact_value(name):
    act = activation(name)
    pieces = _exact.split_pieces(act.expr)
    for k, key in enumerate(("S0", "S1", "S2")):
        c = act.constants[key]
        if not c.is_finite:
            continue
        # a generous time limit: the width below is what the tier reaches, not what a loaded machine allows
        lo, hi, how = _certified.certified_sup(pieces, k, seconds=120.0)
        with mpmath.workdps(40):
            exact = mpmath.mpf(sp.N(c.value, 40))
        assert lo <= exact <= hi, (name, key, lo, hi, exact)
        assert hi - lo <= 1e-10 * max(1, abs(exact)), (name, key, lo, hi)
        assert "branch and bound" in how


def test_worker_thread_never_overclaims():
    out = {}

    def work():
        for name in ("relu", "silu", "tanh"):
            out[name] = _constants._derive(activation(name).expr)

    th = threading.Thread(target=work)
    th.start()
    th.join()
    relu = dict(zip(NAMES, out["relu"]))
    assert not relu["S0"].is_finite and not relu["S2"].is_finite
    assert relu["S1"].lower <= 1 <= relu["S1"].upper
    for name in ("silu", "tanh"):
        consts = dict(zip(NAMES, out[name]))
        for key in ("S1", "S2"):
            c = consts[key]
            assert c.provenance == "certified", c
            main = activation(name).constants[key]
            assert c.lower <= main.upper and main.lower <= c.upper


def test_time_limit_interrupts():
    t0 = time.monotonic()
    with pytest.raises(_timelimit._Timeout):
        with _timelimit._time_limit(0.2):
            while True:
                pass
    assert time.monotonic() - t0 < 2


def test_hard_user_expression_is_time_bounded():
    t0 = time.monotonic()
    mish = activation("t*tanh(log(1 + exp(t)))")
    consts = mish.constants
    assert time.monotonic() - t0 < 20
    assert consts["S0"].provenance == "exact" and not consts["S0"].is_finite
    for key in ("S1", "S2"):
        assert consts[key].provenance == "certified"
    # independent value: mish' at the root t = 1.49057117948... of mish'' (mpmath findroot)
    assert consts["S1"].lower <= 1.0884981612517278 <= consts["S1"].upper


# ---------------------------------------------------------------------------
# numeric callables
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", REGISTRY)
def test_numpy_finite_for_large_inputs(name):
    act = activation(name)
    for k in (0, 1, 2):
        y = act.numpy(k)(FAR)
        assert y.shape == FAR.shape and np.all(np.isfinite(y)), (name, k, y)


def test_numpy_tails_accurate():
    # values in the tails, against closed forms computed by mpmath at 40 digits
    cases = [
        ("tanh", 1, 40.0, lambda x: mpmath.sech(x) ** 2),
        ("sigmoid", 1, -700.0, lambda x: mpmath.exp(x) / (1 + mpmath.exp(x)) ** 2),
        ("sigmoid", 2, -30.0, lambda x: -mpmath.sech(x / 2) ** 2 * mpmath.tanh(x / 2) / 4),
        ("softplus", 0, 700.0, lambda x: x + mpmath.log1p(mpmath.exp(-x))),
        ("softplus", 0, -700.0, lambda x: mpmath.log1p(mpmath.exp(x))),
        ("softplus", 2, 700.0, lambda x: mpmath.sech(x / 2) ** 2 / 4),
        ("gelu", 0, -30.0, lambda x: x * mpmath.ncdf(x)),
        ("silu", 1, -700.0, lambda x: (1 + x * (1 - 1 / (1 + mpmath.exp(-x)))) / (1 + mpmath.exp(-x))),
        ("elu", 0, -1e-10, mpmath.expm1),
    ]
    with mpmath.workdps(40):
        for name, k, x, ref in cases:
            act = activation(name)
            want = ref(mpmath.mpf(x))
            got = act.numpy(k)(np.array([x]))[0]
            assert abs(got - want) <= 1e-13 * abs(want), (name, k, x, got, want)
            got_mp = act.mpmath(k)(x)
            assert abs(got_mp - want) <= mpmath.mpf(10) ** -35 * abs(want), (name, k, x)


_points = st.one_of(
    st.floats(-60, 60, allow_nan=False),
    st.sampled_from([1e3, -1e3, 1e8, -1e8, 1e300, -1e300, 800.0, -800.0, 0.0]),
)


@given(name=st.sampled_from(REGISTRY), k=st.integers(0, 2), t=_points)
def test_numpy_mpmath_sympy_agree(name, k, t):
    act = activation(name)
    y_np = float(act.numpy(k)(np.array([t]))[0])
    assert math.isfinite(y_np)
    with mpmath.workdps(30):
        y_mp = act.mpmath(k)(t)
        assert abs(y_np - y_mp) <= 1e-12 * abs(y_mp) + 1e-14, (name, k, t, y_np, y_mp)
        if abs(t) <= 60:
            # sympy's own evaluation of the symbolic derivative; a form like 1 - tanh(t)^2 cancels
            # about -log10|y| digits, which sympy's evalf does not always recover: evaluate with that
            # many more digits
            lost = 0 if y_mp == 0 else int(min(300, max(0, -mpmath.log10(abs(y_mp)))))
            y_sp = sp.N(act.derivative(k).subs(T, sp.Float(t, 40 + lost)), 40 + lost)
            y_sp = mpmath.mpf(sp.Float(y_sp, 40 + lost)._mpf_)
            assert abs(y_mp - y_sp) <= mpmath.mpf(10) ** -20 * (abs(y_sp) + 1e-12), (name, k, t)


@given(name=st.sampled_from(REGISTRY), k=st.integers(0, 1), t=st.floats(-10, 10))
def test_derivative_matches_finite_differences(name, k, t):
    if abs(t) < 1e-3:  # breakpoints of relu, leaky_relu, elu, softsign
        t = 1e-3 if t >= 0 else -1e-3
    act = activation(name)
    h = 1e-5
    f, d = act.numpy(k), act.numpy(k + 1)
    fd = (f(np.array([t + h])) - f(np.array([t - h])))[0] / (2 * h)
    assert abs(fd - d(np.array([t]))[0]) <= 1e-6 * (1 + abs(fd))


def test_mpmath_piecewise_and_precision():
    relu = activation("relu")
    with mpmath.workdps(50):
        assert relu.mpmath(0)(-2) == 0 and relu.mpmath(0)(mpmath.mpf(3)) == 3
        assert relu.mpmath(1)(mpmath.mpf("1e-40")) == 1
        leaky = activation("leaky_relu", alpha=0.1)
        assert leaky.mpmath(0)(-1) == -mpmath.mpf(1) / 10  # exact rational, not 0.1 as float
        assert isinstance(activation("softsign").mpmath(2)(mpmath.mpf(-1)), mpmath.mpf)
        x = activation("tanh").mpmath(1)(mpmath.mpf(60))
        assert abs(x / (mpmath.sech(60) ** 2) - 1) < mpmath.mpf(10) ** -45


# ---------------------------------------------------------------------------
# classes and user expressions
# ---------------------------------------------------------------------------
def test_classes():
    relu, tanh, softplus = activation("relu"), activation("tanh"), activation("softplus")
    assert relu.is_lipschitz and not relu.is_smooth and not relu.is_bounded
    assert tanh.is_lipschitz and tanh.is_smooth and tanh.is_bounded
    assert softplus.is_lipschitz and softplus.is_smooth and not softplus.is_bounded
    assert tanh.in_class("bounded") and not relu.in_class("smooth")
    tanh.require("smooth")
    with pytest.raises(ValueError, match=r"'relu'.*S2 = inf"):
        relu.require("smooth", "the gradient bound")
    with pytest.raises(ValueError, match="unknown activation class 'convex'"):
        tanh.in_class("convex")
    assert relu.values() == {"S0": math.inf, "S1": 1.0, "S2": math.inf, "c0": 0.0}


def test_user_expressions():
    softsign = activation("t/(1+Abs(t))")
    assert [softsign.constants[k].value for k in NAMES] == [1, 1, 2, 0]
    assert softsign == activation("softsign")
    relu = activation("Max(0,t)")
    assert relu.S1.value == 1 and not relu.S2.is_finite and not relu.is_bounded
    np.testing.assert_array_equal(relu.numpy(0)(np.array([-2.0, 0.0, 3.0])), [0.0, 0.0, 3.0])
    lc = activation("log(cosh(t))")
    assert [lc.constants[k].value for k in NAMES] == [oo, 1, 1, 0]
    assert all(lc.constants[k].provenance == "exact" for k in NAMES)
    np.testing.assert_allclose(lc.numpy(1)(np.array([0.5, -2.0])), np.tanh([0.5, -2.0]), rtol=1e-14)
    # a user expression that overflows is reported, not silently nan/inf
    with pytest.raises(ValueError, match=r"gave inf at finite t=.*800.*numerically stable"):
        lc.numpy(0)(np.array([1.0, 800.0]))
    user_sigmoid = activation("exp(t)/(1+exp(t))")
    with pytest.raises(ValueError, match="gave nan"):
        user_sigmoid.numpy(0)(np.array([800.0]))
    assert activation("atan(t)").S0.value == sp.pi / 2


@pytest.mark.parametrize(
    "spec, kwargs, needle",
    [
        ("relu6", {}, "relu6"),
        ("x**2", {}, "it also has x"),
        ("t*y", {}, "it also has y"),
        ("sqrt(t)", {}, "not real"),
        ("I*t", {}, "not real"),
        ("tan(t)", {}, "not finite"),
        ("floor(t)", {}, "floor"),
        ("t +* 2", {}, "cannot parse"),
        ("tanh", {"alpha": 0.1}, "no parameter 'alpha'"),
        ("leaky_relu", {"beta": 2}, "no parameter 'beta'"),
        ("elu", {"alpha": -1.0}, "alpha"),
    ],
)
def test_errors_name_the_bad_thing(spec, kwargs, needle):
    with pytest.raises(ValueError, match=needle):
        activation(spec, **kwargs)


def test_bad_order_and_require():
    with pytest.raises(ValueError, match="order"):
        activation("tanh").numpy(5)
    with pytest.raises(ValueError, match="relu"):
        activation("relu").require("smooth")
    with pytest.raises(TypeError):
        activation(3.0)


# ---------------------------------------------------------------------------
# provenance (issue 12)
# ---------------------------------------------------------------------------
def test_constant_is_proven():
    assert not Constant("S1", sp.Float(0.4), 0.4, 0.4, "numeric").is_proven
    assert Constant("S1", oo, math.inf, math.inf, "numeric").is_proven  # inf only loosens a bound
    for prov in ("exact", "certified", "claimed"):
        assert Constant("S1", sp.Float(0.4), 0.4, 0.4, prov).is_proven
    assert str(Constant("S1", sp.Float(0.4), 0.4, 0.4, "numeric")) == "S1 = ≈ 0.4 (numeric, not proven)"
    act = activation("sinc(t - 100)")
    assert [c.name for c in act.unproven()] == ["S1", "S2"]
    assert act.require_proven(["S0", "c0"]) == ""
    assert act.require_proven(["S2"], allow_numeric=True).startswith("rests on numeric S2 ≈ 0.33333")


def test_piecewise_with_float_coefficients():
    act = activation(sp.Piecewise((sp.Float(0.25) * T, T < 0), (T, True)))
    assert act.S1.provenance == "exact" and act.S1.value == 1 and not act.S2.is_finite


def test_parse_probes_need_no_sympy_for_enclosable_expressions():
    # arb settles the probes at once: evaluating exp(exp(exp(2.5))) in sympy is not needed
    act = activation("tanh(exp(exp(exp(t))))")
    assert act.S0.lower <= 1 <= act.S0.upper


@pytest.mark.parametrize("name", ["tanh", "relu", "sigmoid", "gelu", "softplus", "leaky_relu"])
def test_compile_interval_encloses_sampled_values(name):
    """compile_interval's arb enclosure contains σ^(k) at points of the interval (mpmath at 30 digits)."""
    from flint import arb

    from symlip.activations.constants import compile_interval

    act = activation(name)
    rng = np.random.default_rng(0)
    for k in range(3):
        F = compile_interval(act.derivative(k) if k else act.expr)
        g = act.mpmath(k)
        for _ in range(20):
            a, b = np.sort(rng.uniform(-4, 4, 2))
            lo, hi = F(arb(float(a)), arb(float(b)))
            ends = [mpmath.inf if e == arb("inf") else -mpmath.inf if e == arb("-inf")
                    else mpmath.ldexp(int(e.man_exp()[0]), int(e.man_exp()[1])) for e in (lo, hi)]
            for t in np.linspace(a, b, 7):
                with mpmath.workdps(40):
                    v = g(mpmath.mpf(float(t)))
                    assert ends[0] <= v <= ends[1], (name, k, a, b, t)


@pytest.mark.parametrize("name", sorted(__import__("symlip.activations.registry", fromlist=["_KNOWN"])._KNOWN))
def test_known_constants_are_derived(name):
    """The built-ins' table of exact constants is what the exact tier derives (or, when the
    tier runs out of time on a loaded machine, lies in the certified enclosure it derives)."""
    from symlip.activations import registry

    act = activation(name)
    table = act.constants
    assert all(c.provenance == "exact" for c in table.values())
    for c in _constants._derive(act.expr):  # uncached, through the tiers
        t = table[c.name]
        if c.provenance == "exact":
            assert sp.simplify(c.value - t.value) == 0 or (c.value == t.value == sp.oo), (name, c, t)
        else:
            assert c.provenance == "certified", (name, c)
            assert c.lower <= t.upper and t.lower <= c.upper, (name, c, t)
    assert set(table) == set(registry._KNOWN[name])


def test_time_limit_alarm_inside_a_gc_callback_is_silent_and_still_stops_the_call(capsys):
    """An alarm that lands in a gc callback (hypothesis registers one) is swallowed there by
    Python and printed as 'Exception ignored'; the limit re-fires and no traceback reaches stderr."""
    import gc
    import time as _time

    from symlip.activations.timelimit import call_with_time_limit, can_time_limit

    if not can_time_limit():
        pytest.skip("time limits need the main thread on POSIX")

    calls = []

    def slow_callback(phase, info):   # the first collection outlasts the limit: the alarm lands in here
        if phase == "start" and not calls:
            calls.append(phase)
            t = _time.monotonic()
            while _time.monotonic() - t < 0.5:
                pass

    def churn():   # collections only until the slow one has run: the re-fired alarm then lands here
        while True:
            if not calls:
                gc.collect(0)
            sum(range(1000))

    gc.callbacks.append(slow_callback)
    try:
        with pytest.raises(TimeoutError):
            call_with_time_limit(0.3, churn)
    finally:
        gc.callbacks.remove(slow_callback)
    assert calls                                  # the alarm had a callback to land in
    assert "Exception ignored" not in capsys.readouterr().err
