"""The safe expression reader (symlip.core.expr): text is data, never code; literals are exact."""
import pytest
import sympy as sp
from hypothesis import assume, given
from hypothesis import strategies as st

from symlip import Bound, Claim, activation, available_activations, derive, standard_symbols
from symlip.activations.registry import T
from symlip.bounds.symbolic import QUANTITIES
from symlip.cli import main
from symlip.core.expr import MAX_LENGTH, UnknownName, read_expr, write_expr


def _attack(sentinel):
    return f"__import__('os').system('touch {sentinel}')"


# ---------------------------------------------------------------------------
# nothing runs: every attack is a ValueError naming the bad token
# ---------------------------------------------------------------------------
ATTACKS = [
    ("__import__('os').system('touch {s}')", "'__import__'"),
    ("t.__class__", "'__class__'"),
    ("t.is_real", "attribute access 't.is_real'"),
    ("(lambda: 1)()", "lambda"),
    ("[t for t in (1, 2)][0]", "subscript"),
    ("[t for t in (1, 2)]", "comprehension"),
    ("S*R", "'S'"),
    ("nan", "'nan'"),
    ("oo", "'oo'"),
    ("I", "'I'"),
    ("zoo", "'zoo'"),
    ("2**10**10", "'2**10**10'"),
    ("10**(10**4)", "exponent beyond"),
    ("1e99999", "'1e99999'"),
    ("open('{s}', 'w')", "'open'"),
    ("eval('1')", "'eval'"),
    ("exp(t, evaluate=False)", "keyword argument"),
    ("'t'", "string"),
    ("t if t else 1", "if/else"),
    ("getattr(t, 'func')", "'getattr'"),
    ("Symbol('x')", "'Symbol'"),
    ("1j*t", "'1j'"),
    ("t < 1", "Piecewise condition"),
    ("Eq(t, 1)", "'Eq'"),
    ("exp", "'exp'"),
    ("Max(" + ", ".join(["t"] * 200) + ")", "more than 100"),
]


@pytest.mark.parametrize("text, token", ATTACKS)
def test_attacks_are_refused_naming_the_token_and_run_nothing(text, token, tmp_path):
    sentinel = tmp_path / "pwned"
    text = text.format(s=sentinel)
    with pytest.raises(ValueError) as err:
        read_expr(text, symbols={"t": T, "R": sp.Symbol("R")}, what="test expression")
    msg = str(err.value)
    assert token in msg, msg
    assert "\n" not in msg
    assert not sentinel.exists()


def test_errors_list_what_is_allowed():
    with pytest.raises(UnknownName) as err:
        read_expr("os + t", symbols={"t": T})
    msg = str(err.value)
    assert err.value.name == "os" and "'os'" in msg
    assert "names: t" in msg and "functions: exp, log" in msg and "tanh" in msg


@pytest.mark.parametrize("text, needle", [
    ("exp(" * 150 + "t" + ")" * 150, "nested more than 100"),
    ("-" * 5000 + "t", "cannot parse"),
    ("(" * 300 + "t" + ")" * 300, "cannot parse"),
    ("t+" * (MAX_LENGTH // 2) + "t", "characters long"),
    ("t +* 2", "cannot parse"),
    ("", "empty"),
    ("1/0", "zoo"),
    ("log(0)", "zoo"),
    ("sqrt(-1)", "not real"),
    ("10**1000*10**1000*10**1000*10**1000*10**1000", "more than 4000 digits"),
])
def test_size_depth_and_value_limits(text, needle):
    with pytest.raises(ValueError, match=needle):
        read_expr(text, symbols={"t": T})


def test_oo_only_where_allowed():
    assert read_expr("oo", allow_oo=True) == sp.oo
    with pytest.raises(ValueError, match="'oo'"):
        read_expr("oo")
    assert derive("lip_f", 2).subs({"S2": "oo"}).result == derive("lip_f", 2).result  # (S2 unused in U1)


def test_every_entry_point_refuses_code(tmp_path, capsys):
    sentinel = tmp_path / "pwned"
    attack = _attack(sentinel)
    calls = [
        lambda: activation(attack),
        lambda: activation("leaky_relu", alpha=attack),
        lambda: Claim("c", "lip_f", attack),
        lambda: Bound.from_expr(attack, 2),
        lambda: derive("lip_f", 2).subs({"S1": attack}),
    ]
    for call in calls:
        with pytest.raises(ValueError, match="__import__"):
            call()
    assert main(["activation", attack]) == 2
    err = capsys.readouterr().err
    assert err.startswith("symlip: error:") and err.count("\n") == 1 and "__import__" in err
    assert not sentinel.exists()


def test_cli_activation_attack_in_a_subprocess_creates_no_file(tmp_path):
    import os
    import subprocess
    import sys

    sentinel = tmp_path / "SENTINEL"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    out = subprocess.run([sys.executable, "-m", "symlip", "activation", _attack(sentinel)], capture_output=True,
                         text=True, env=env, timeout=120)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.startswith("symlip: error:") and out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
    assert not sentinel.exists()


@pytest.mark.parametrize("text", ["nan", "oo", "I", "zoo", "S*R", "-oo", "NaN"])
def test_bad_bound_strings_are_value_errors_naming_the_text(text):
    for make in (lambda: Claim("c", "lip_f", text), lambda: Bound.from_expr(text, 2)):
        with pytest.raises(ValueError) as err:
            make()
        assert repr(text) in str(err.value) and "allowed" in str(err.value)


# ---------------------------------------------------------------------------
# literals are exact
# ---------------------------------------------------------------------------
def test_float_literals_are_read_exactly():
    t = T
    assert read_expr("0.5*tanh(t)", symbols={"t": t}) == sp.tanh(t) / 2
    assert read_expr("0.1") == sp.Rational(1, 10) and read_expr("1e-300") == sp.Rational(1, 10**300)
    assert read_expr("1e20*tanh(t)", symbols={"t": t}) == 10**20 * sp.tanh(t)
    assert read_expr("1_000.25") == sp.Rational(4001, 4) and read_expr(".5e1") == 5 and read_expr("2.") == 2
    assert activation("0.5*tanh(t)").expr == sp.tanh(T) / 2
    gelu_tanh = activation("t*(1 + tanh(sqrt(2/pi)*(t + 0.044715*t**3)))/2")
    assert sp.Rational(44715, 10**6) in gelu_tanh.expr.atoms(sp.Rational)
    assert not gelu_tanh.expr.atoms(sp.Float)
    assert activation("1e20*tanh(t)").expr == 10**20 * sp.tanh(T)
    claim = Claim("c", "lip_f", "0.98*sqrt(1 + R**2)")
    assert not claim.bound.atoms(sp.Float) and sp.Rational(49, 50) in claim.bound.atoms(sp.Rational)


def test_write_expr_has_no_binary_floats():
    e = sp.Float(0.1) * T + sp.Float(2.5)
    text = write_expr(e)
    assert "." not in text
    back = read_expr(text, symbols={"t": T})
    assert back == sp.Rational(0.1) * T + sp.Rational(5, 2)  # the exact value of the binary float
    assert write_expr(3) == "3"
    with pytest.raises(TypeError):
        write_expr("t")


# ---------------------------------------------------------------------------
# round trips: expr == read_expr(write_expr(expr))
# ---------------------------------------------------------------------------
def test_round_trip_of_every_registry_activation():
    acts = [activation(n) for n in available_activations()]
    acts += [activation("leaky_relu", alpha=0.1), activation("elu", alpha=0.5), activation("Min(1, Max(-1, t))"),
             activation("Piecewise((t**2, t < 1), (2*t - 1, True))"), activation("t/(1+Abs(t))"),
             activation("t*(1 + tanh(sqrt(2/pi)*(t + 0.044715*t**3)))/2")]
    for act in acts:
        assert read_expr(write_expr(act.expr), symbols={"t": T}) == act.expr, act.name


@pytest.mark.parametrize("quantity", list(QUANTITIES))
def test_round_trip_of_every_derived_bound_program(quantity):
    for depth in range(1, 6):
        b = derive(quantity, depth)
        table = {s.name: s for s in standard_symbols(depth).ordered}
        table.update({s.name: s for s, _ in b.steps})
        for _, rhs in b.steps:
            assert read_expr(write_expr(rhs), symbols=table) == rhs
        assert read_expr(write_expr(b.result), symbols=table) == b.result
        special = b.specialize(widths=[3] * (depth + 1), activation="tanh")
        for _, rhs in special.steps:
            assert read_expr(write_expr(rhs), symbols=table) == rhs


_SYMS = {"t": T, "R": standard_symbols(2).R, "omega_1": standard_symbols(2).omega[0], "x": sp.Symbol("x")}
_UNARY = [sp.exp, sp.tanh, sp.sin, sp.atan, sp.erf, sp.Abs, sp.sqrt, sp.cosh, sp.sign, sp.Heaviside,
          lambda a: sp.log(1 + sp.exp(a))]
_leaves = st.one_of(st.sampled_from(list(_SYMS.values())), st.integers(-50, 50).map(sp.Integer),
                    st.tuples(st.integers(-99, 99), st.integers(1, 99)).map(lambda pq: sp.Rational(*pq)),
                    st.sampled_from([sp.pi, sp.E]))


def _grow(children):
    pair = st.tuples(children, children)
    return st.one_of(
        st.tuples(st.sampled_from(_UNARY), children).map(lambda fa: fa[0](fa[1])),
        pair.map(lambda ab: ab[0] + ab[1]), pair.map(lambda ab: ab[0] - ab[1]),
        pair.map(lambda ab: ab[0] * ab[1]),
        pair.filter(lambda ab: ab[1] != 0).map(lambda ab: ab[0] / ab[1]),
        st.tuples(children, st.integers(-4, 4)).map(lambda ak: ak[0] ** ak[1]),
        st.tuples(children, st.sampled_from([sp.Rational(1, 2), sp.Rational(-1, 3), sp.Rational(5, 2)]))
          .map(lambda ak: ak[0] ** ak[1]),
        pair.map(lambda ab: sp.Max(*ab)), pair.map(lambda ab: sp.Min(*ab)),
        st.tuples(children, children, children).map(
            lambda abc: sp.Piecewise((abc[0], abc[2] < 0), (abc[1], True))),
        st.tuples(children, children, children).map(
            lambda abc: sp.Piecewise((abc[0], (abc[2] > -1) & (abc[2] <= 1)), (abc[1], True))),
    )


@given(st.recursive(_leaves, _grow, max_leaves=8))
def test_round_trip_of_random_expressions(e):
    assume(isinstance(e, sp.Expr) and not e.has(sp.zoo, sp.nan, sp.I, sp.oo, -sp.oo))
    assume(len(write_expr(e)) < 5000)
    assert read_expr(write_expr(e), symbols=_SYMS) == e


def test_python_warnings_of_the_parser_stay_quiet(capsys):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a SyntaxWarning ("is" with a literal) would now raise
        with pytest.raises(ValueError, match="'1 is 1'"):
            read_expr("1 is 1")
    assert main(["activation", "1 is 1"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
