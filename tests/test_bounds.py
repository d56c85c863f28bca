"""Symbolic bounds (docs/theory.md §3): hand formulas, kernel = sympy evalf = mpmath,
closed forms = recursion, monotonicity, growth exponents, scale, errors."""
import math

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, strategies as st

from symlip.bounds.symbolic import QUANTITIES, Bound, derive, general_form, standard_symbols


def _random_values(bound, rng, n=None):
    vals = {}
    for s in bound.symbols:
        if s.name.startswith("d_"):
            vals[s.name] = rng.integers(1, 20, size=n).astype(float) if n else float(rng.integers(1, 20))
        elif s.name == "S0":
            vals[s.name] = rng.uniform(0.5, 3.0, size=n) if n else float(rng.uniform(0.5, 3.0))
        else:
            vals[s.name] = rng.uniform(0.05, 2.5, size=n) if n else float(rng.uniform(0.05, 2.5))
    return vals


def _subs(bound, vals):
    return {s: sp.Float(vals[s.name], 30) for s in bound.symbols}


# -- hand formulas ------------------------------------------------------------
def test_depth_one_lip_f_is_sqrt_one_plus_R2():
    s = standard_symbols(1)
    assert sp.simplify(derive("lip_f", 1).expr - sp.sqrt(1 + s.R**2)) == 0


def test_depth_one_lip_grad_is_zero():
    # f is affine in θ at depth 1
    assert derive("lip_grad", 1).expr == 0
    assert derive("lip_grad", 1).kernel(**{x.name: 1.0 for x in derive("lip_grad", 1).symbols}) == 0.0


def test_depth_two_matches_math_md():
    s = standard_symbols(2)
    q0 = sp.sqrt(1 + s.R**2)
    B1 = sp.Min(sp.sqrt(s.d[1]) * s.S0, s.S1 * (s.omega[0] * s.R + s.beta[0]) + sp.sqrt(s.d[1]) * s.c0)
    Lf = sp.sqrt((s.S1 * s.omega[1]) ** 2 * (1 + s.R**2) + (1 + B1**2))
    K1 = s.S1 * q0 + s.S2 * s.omega[1] * (1 + s.R**2)
    K2 = s.S1 * q0
    Lg = sp.sqrt(K1**2 + K2**2)
    F = s.omega[1] * B1 + s.beta[1]
    hand = {"lip_f": Lf, "lip_grad": Lg, "lip_loss_grad": Lf**2 + (F + s.Y) * Lg,
            "lip_input": s.S1 * s.omega[0] * s.omega[1]}
    rng = np.random.default_rng(1)
    for q, formula in hand.items():
        b = derive(q, 2)
        for _ in range(5):
            vals = _random_values(b, rng)
            sub = _subs(b, vals)
            want = sp.N(formula.subs(sub), 30)
            assert abs(b.kernel(**vals) - float(want)) <= 1e-13 * abs(float(want)), q
        if q in ("lip_grad", "lip_input"):
            assert sp.simplify(b.expr**2 - formula**2) == 0, q


def test_lip_input_is_product():
    s = standard_symbols(4)
    assert sp.simplify(derive("lip_input", 4).expr - s.S1**3 * sp.Mul(*s.omega)) == 0


# -- kernel = sympy evalf = mpmath -------------------------------------------
@pytest.mark.parametrize("quantity", list(QUANTITIES))
@pytest.mark.parametrize("depth", [1, 2, 3, 5])
def test_kernel_equals_sympy_evalf_and_mpmath(quantity, depth):
    b = derive(quantity, depth)
    rng = np.random.default_rng(depth)
    for i in range(4):
        vals = _random_values(b, rng)
        k = b.kernel(**vals)
        mp = b.evaluate_mp(vals, dps=50)
        # evalf walks the unrolled tree, exponential in depth: every point up to depth 2, one at depth 3
        if depth <= 2 or (depth == 3 and i == 0):
            ev = b.expr.evalf(50, subs=_subs(b, vals))
            with mpmath.workdps(50):
                assert abs(mp - mpmath.mpf(str(ev))) <= mpmath.mpf(10) ** -40 * abs(mp)
        assert abs(k - float(mp)) <= 1e-12 * abs(float(mp))


def test_kernel_vectorised_and_broadcast():
    b = derive("lip_grad", 4)
    rng = np.random.default_rng(0)
    vals = _random_values(b, rng, n=40000)  # larger than one chunk
    vals["R"] = 1.0  # scalars broadcast against arrays
    out = b.kernel(**vals)
    assert out.shape == (40000,)
    for idx in (0, 17, 39999):
        one = {k: (v[idx] if isinstance(v, np.ndarray) else v) for k, v in vals.items()}
        assert out[idx] == pytest.approx(b.kernel(**one), rel=1e-15)
        assert isinstance(b.kernel(**one), float)
    positional = b.kernel(*[vals[s.name] for s in b.symbols])
    np.testing.assert_array_equal(positional, out)


def test_kernel_handles_infinite_S0():
    # softplus/relu: S0 = inf, the Min picks the affine branch
    b = derive("lip_f", 3)
    vals = {s.name: 1.0 for s in b.symbols}
    fin = dict(vals, S0=1e300)
    inf = dict(vals, S0=math.inf)
    assert b.kernel(**inf) == pytest.approx(b.kernel(**fin), rel=1e-15)


# -- general depth closed forms = the recursion ------------------------------
def _eval_general(quantity, vals, m):
    """Evaluate general_form's equations for a concrete depth, in mpmath."""
    eqs = general_form(quantity)
    i = sp.Symbol("i", integer=True, positive=True)
    msym = sp.Symbol("m", integer=True, positive=True)
    om, be, d = (sp.IndexedBase(n) for n in ("omega", "beta", "d"))
    base = {sp.Symbol(k, nonnegative=True): v for k, v in vals.items() if k in ("R", "Y", "S0", "S1", "S2", "c0")}
    table = {}
    for j in range(1, m + 1):
        table[om[j]] = vals[f"omega_{j}"]
        table[be[j]] = vals[f"beta_{j}"]
    for j in range(0, m + 1):
        table[d[j]] = vals[f"d_{j}"]
    table.update(base)
    table[msym] = m
    scalars = {}
    for lhs, rhs in eqs:
        if isinstance(lhs, sp.Indexed):
            if lhs.indices[0] == 0:
                table[lhs] = sp.sympify(sp.sympify(rhs).xreplace(table))
                continue
            lo = 1
            hi = m if lhs.base.name in ("G", "K") else m - 1
            if lhs.base.name == "B":
                hi = m - 1
            for j in range(lo, hi + 1):
                e = rhs.xreplace({i: j}).xreplace({msym: m}).doit()
                table[lhs.base[j]] = sp.N(e.xreplace(table), 40)
            if lhs.base.name in ("A", "Lambda"):
                table[lhs.base[0]] = 0
            if lhs.base.name == "Gamma":
                table[lhs.base[m]] = 0
            if lhs.base.name == "G":
                table[lhs.base[m]] = 1
        else:
            e = sp.sympify(rhs).xreplace({msym: m}).doit()
            val = sp.N(sp.sympify(sp.sympify(e.xreplace(table)).xreplace(table)), 40)
            table[lhs] = val
            scalars[lhs.name] = val
    return scalars


@pytest.mark.parametrize("quantity,key", [("lip_f", "L_f"), ("lip_grad", "L_gradf"),
                                          ("lip_loss_grad", "L_loss"), ("lip_input", "L_x")])
@pytest.mark.parametrize("depth", [1, 2, 3, 4])
def test_general_form_equals_recursion(quantity, key, depth):
    b = derive(quantity, depth)
    rng = np.random.default_rng(10 + depth)
    vals = _random_values(b, rng)
    full = {"R": 0.7, "Y": 0.3, "S0": 1.5, "S1": 0.9, "S2": 0.4, "c0": 0.2}
    full.update(vals)
    for j in range(depth + 1):
        full.setdefault(f"d_{j}", 3.0)
    for j in range(1, depth + 1):
        full.setdefault(f"omega_{j}", 1.1)
        full.setdefault(f"beta_{j}", 0.5)
    got = _eval_general(quantity, full, depth)[key]
    want = b.kernel(**{s.name: full[s.name] for s in b.symbols})
    assert float(got) == pytest.approx(want, rel=1e-12)


# -- properties ---------------------------------------------------------------
@given(quantity=st.sampled_from(list(QUANTITIES)), depth=st.integers(1, 5),
       seed=st.integers(0, 2**31), which=st.integers(0, 10**6))
def test_bound_is_nondecreasing_in_every_argument(quantity, depth, seed, which):
    # soundness of using the upper ends of enclosures (S1, S2, omega, ...) needs this
    b = derive(quantity, depth)
    vals = _random_values(b, np.random.default_rng(seed))
    name = b.symbols[which % len(b.symbols)].name
    bigger = dict(vals, **{name: vals[name] * 1.25 + 0.01})
    assert b.kernel(**bigger) >= b.kernel(**vals) * (1 - 1e-14)


@pytest.mark.parametrize("depth", [2, 3, 4, 5])
def test_growth_exponents(depth):
    # docs/theory.md §3: L_f = O(r^(m-1)), L_grad f = O(r^(2m-3)) on the ball |θ| <= r (omega = beta = r)
    def at(q, r):
        b = derive(q, depth)
        vals = {s.name: 1.0 for s in b.symbols}
        vals.update({s.name: r for s in b.symbols if s.name.startswith(("omega", "beta"))})
        vals.update(S0=math.inf, S2=0.25, c0=math.log(2))
        return b.kernel(**vals)

    for q, slope in (("lip_f", depth - 1), ("lip_grad", 2 * depth - 3)):
        fitted = math.log(at(q, 1e5) / at(q, 1e4)) / math.log(10)
        assert fitted == pytest.approx(slope, abs=0.02), q


def test_depth_200_derives_compiles_and_unrolls():
    b = derive("lip_grad", 200)
    assert len(b.steps) < 10 * 200  # linear in depth: never expanded
    vals = {s.name: 1.0 for s in b.symbols}
    vals.update(S1=0.5, S2=0.1)
    out = b.kernel(**vals)
    assert math.isfinite(out) and out > 0
    mp = b.evaluate_mp(vals, dps=40)
    assert abs(out - float(mp)) <= 1e-12 * float(mp)
    assert b.expr.has(sp.Min)


# -- LaTeX and specialisation --------------------------------------------------
def test_latex_has_recursion_general_form_and_unrolled():
    tex = derive("lip_grad", 3).latex()
    for fragment in (r"\Gamma_{1}", r"\prod_{j=i + 1}^{m}", r"\sum_{k=", r"L_{\nabla f}", r"\min\left(", "% unrolled"):
        assert fragment in tex, fragment
    assert "% unrolled" not in derive("lip_grad", 8).latex()


def test_specialize_keeps_exact_constants():
    b = derive("lip_grad", 3).specialize(widths=[3, 16, 16, 1], activation="tanh")
    free = {s.name for s in b.expr.free_symbols}
    assert not free & {"S0", "S1", "S2", "c0", "d_1", "d_2"}
    assert b.expr.has(sp.sqrt(3))  # S2 = 4*sqrt(3)/9 kept exact
    assert [s.name for s in b.symbols][:2] == ["R", "Y"]
    assert "S2" not in [s.name for s in b.symbols]


def test_from_expr_and_errors():
    b = Bound.from_expr("S1*omega_1*omega_2", depth=2, quantity="lip_input")
    assert b.kernel(**{s.name: 2.0 for s in b.symbols}) == 8.0
    with pytest.raises(ValueError, match="unknown symbol.*omega_3"):
        Bound.from_expr("omega_3", depth=2)
    with pytest.raises(ValueError, match="cannot parse"):
        Bound.from_expr("omega_1 +* 2", depth=2)


@pytest.mark.parametrize("args,match", [
    (("lip_hessian", 2), "unknown quantity 'lip_hessian'.*lip_f"),
    (("lip_f", 0), "depth must be an integer >= 1.*0"),
    (("lip_f", 2.5), "depth must be an integer"),
    (("lip_f", True), "depth must be an integer"),
])
def test_derive_errors(args, match):
    with pytest.raises(ValueError, match=match):
        derive(*args)


def test_kernel_argument_errors():
    k = derive("lip_f", 1).kernel
    with pytest.raises(TypeError, match="missing argument"):
        k(R=1.0)
    with pytest.raises(TypeError, match="unknown argument 'omega_9'"):
        k(**{s.name: 1.0 for s in k.symbols}, omega_9=1.0)


# -- float64 overflow (issue 12) -------------------------------------------------
def test_evaluate_uses_mpmath_when_an_intermediate_overflows():
    from symlip.models.network import MLP
    from symlip.models.region import Region

    net, region = MLP([3, 4, 1], "tanh"), Region.box(1e200, 1e200)
    for quantity in ("lip_f", "lip_grad"):
        b = derive(quantity, 2)
        vals = b.values_for(net, region, R=1.0)
        assert not math.isfinite(b.kernel(**vals))  # omega**2 = 1e400 overflows in float64
        value = b.evaluate(net, region, R=1.0)
        exact = b.evaluate_mp(vals, dps=50)
        assert math.isfinite(value) and abs(value - float(exact)) <= 4e-16 * value, (quantity, value, exact)


def test_overflow_error_only_when_the_value_exceeds_float64():
    from symlip.bounds.symbolic import BoundOverflowError
    from symlip.models.network import MLP
    from symlip.models.region import Region

    net, b = MLP([3, 4, 1], "tanh"), derive("lip_input", 2)
    with pytest.raises(BoundOverflowError, match=r"1\.0e\+400, beyond the float64 range") as info:
        b.evaluate(net, Region.box(1e200, 1.0))
    assert isinstance(info.value, ValueError) and isinstance(info.value, OverflowError)
    assert b.evaluate(net, Region.box(1e154, 1.0)) == 1e154 * 1e154  # 1e308 still fits


def test_specialize_refuses_numeric_constants_unless_allowed():
    from symlip.activations.registry import activation

    act = activation("sinc(t - 100)")
    with pytest.raises(ValueError, match=r"S1 ≈ 0\.436182.*numeric estimate.*allow_numeric=True"):
        derive("lip_input", 2).specialize(activation=act)
    special = derive("lip_input", 2).specialize(activation=act, allow_numeric=True)
    assert special.result.has(sp.Float(act.S1.upper, 17))
    assert derive("lip_input", 2).activation_constants() == ("S1",)
    assert set(derive("lip_grad", 3).activation_constants()) == {"S0", "S1", "S2", "c0"}
