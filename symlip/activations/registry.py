"""Activation functions and their constants ``S0, S1, S2, c0`` (docs/theory.md §1).

An :class:`Activation` is a real sympy expression in the symbol ``t``.  From it
symlip derives, exactly where sympy can and otherwise as a certified enclosure,

* ``S0 = sup |σ|``, ``S1 = sup |σ'|``, ``S2 = sup |σ''|``, ``c0 = |σ(0)|``;

each as a :class:`Constant` carrying its provenance.  The numeric layer gets
vectorised numpy callables and mpmath callables of ``σ, σ', σ''`` from
:meth:`Activation.numpy` and :meth:`Activation.mpmath`.
"""
from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Literal

import mpmath
import numpy as np
import sympy as sp

from symlip.activations.base import T, Constant
from symlip.activations.arb import point_enclosure
from symlip.activations.constants import derive_constants, exact_constant, singularity
from symlip.activations.timelimit import call_with_time_limit, can_time_limit
from symlip.core.expr import UnknownName, read_expr

__all__ = [
    "T",
    "Constant",
    "Activation",
    "activation",
    "available_activations",
    "numeric_note",
]

ActivationClass = Literal["lipschitz", "smooth", "bounded"]

_CLASS_CONSTANT = {"lipschitz": "S1", "smooth": "S2", "bounded": "S0"}
_CONSTANT_NAMES = ("S0", "S1", "S2", "c0")


@dataclass(frozen=True, eq=False)
class Activation:
    """A componentwise activation ``σ(t)`` given by a real sympy expression.

    Use :func:`activation` for the registry (``activation("tanh")``,
    ``activation("leaky_relu", alpha=0.1)``) and :meth:`from_expr` for any
    expression in ``t``.
    """

    name: str
    expr: sp.Expr
    params: tuple[tuple[str, float], ...] = field(default=())
    claimed: tuple[tuple[str, float], ...] = field(default=())

    # -- construction -----------------------------------------------------
    @classmethod
    def from_expr(cls, expr: str | sp.Expr, name: str | None = None) -> "Activation":
        """Build an activation from a sympy expression (or its string) in ``t``.

        Piecewise, Abs, Max, Min, Heaviside, exp, log, erf, trigonometric and
        hyperbolic functions are allowed.  Raises ``ValueError`` when the
        expression cannot be parsed, has a free symbol other than ``t``, or is
        not real-valued.
        """
        label = name if name is not None else str(expr)
        parsed = _parse(expr)
        return cls(name=label, expr=parsed)

    def with_constants(self, **claimed: float) -> "Activation":
        """The same ``σ`` with user-stated constants (provenance ``"claimed"``).

        Bounds evaluated on networks with this activation use the stated values
        while the network computes the true ``σ``: this is how a user's belief
        about a new activation (``S1 = 1``, say) is put to the test.

        >>> act = activation("tanh(2*t)").with_constants(S1=1)   # wrong: S1 = 2
        """
        bad = sorted(set(claimed) - set(_CONSTANT_NAMES))
        if bad:
            raise ValueError(f"unknown activation constant {bad[0]!r}; allowed: {', '.join(_CONSTANT_NAMES)}")
        items = dict(self.claimed)
        for k, v in claimed.items():
            try:
                val = float(v)
            except (TypeError, ValueError):
                raise ValueError(f"claimed constant {k}={v!r} must be a number >= 0 (inf allowed)") from None
            if math.isnan(val) or val < 0:
                raise ValueError(f"claimed constant {k}={v!r} must be a number >= 0 (inf allowed)")
            items[k] = val
        label = self.name.split(" [claimed")[0]
        label += " [claimed " + ", ".join(f"{k}={v:g}" for k, v in sorted(items.items())) + "]"
        return Activation(name=label, expr=self.expr, params=self.params, claimed=tuple(sorted(items.items())))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Activation) and self.expr == other.expr and self.claimed == other.claimed

    def __hash__(self) -> int:
        return hash((self.expr, self.claimed))

    def __repr__(self) -> str:
        extra = f", claimed={dict(self.claimed)}" if self.claimed else ""
        return f"Activation({self.name!r}, {sp.sstr(self.expr)}{extra})"

    # -- symbolic ---------------------------------------------------------
    def derivative(self, order: int = 1) -> sp.Expr:
        """``σ^{(order)}(t)`` as a sympy expression (piecewise where σ is)."""
        return _derivative(self.expr, _check_order(order))

    # -- numeric ----------------------------------------------------------
    def numpy(self, order: int = 0) -> Callable[[np.ndarray], np.ndarray]:
        """Vectorised float64 callable for ``σ^{(order)}``, ``order`` in 0..3.

        Registry activations (tanh, sigmoid, softplus, silu, gelu, elu) use
        overflow-free forms (``expit``, ``logaddexp``, ``ndtr``, ``expm1``) for
        orders 0..2, finite for every finite ``t``.  Other expressions are
        lambdified; a non-finite output at a finite input raises
        ``ValueError`` naming the point (never a silent nan/inf).
        """
        return _numpy_callable(self.expr, _check_order(order))

    def mpmath(self, order: int = 0) -> Callable[[mpmath.mpf], mpmath.mpf]:
        """mpmath callable for ``σ^{(order)}`` at the current ``mpmath.mp.dps``.

        Registry activations use cancellation-free forms (e.g. ``sech^2`` for
        ``1 - tanh^2``) accurate to the working precision for every ``t``;
        Piecewise expressions are evaluated branch by branch.
        """
        return _mpmath_callable(self.expr, _check_order(order))

    # -- constants --------------------------------------------------------
    @functools.cached_property
    def constants(self) -> dict[str, Constant]:
        """``{"S0", "S1", "S2", "c0"}`` → :class:`Constant` (docs/theory.md §1)."""
        known = _known_constants().get(self.expr)
        consts = ({k: exact_constant(k, v, how) for k, (v, how) in known.items()} if known is not None
                  else dict(derive_constants(self.expr)))
        for k, v in self.claimed:
            consts[k] = Constant(k, sp.oo if math.isinf(v) else sp.Float(v, 17), v, v, "claimed",
                                 "stated by the user, not derived")
        return consts

    # -- shape --------------------------------------------------------------
    @property
    def is_piecewise(self) -> bool:
        """Whether the expression has Piecewise branches (ReLU, leaky ReLU, hard tanh, ...)."""
        return self.expr.has(sp.Piecewise)

    @functools.cached_property
    def kinks(self) -> tuple[float, ...]:
        """Breakpoints of a piecewise activation, sorted: the real numbers its branch
        conditions compare ``t`` with (``(0.0,)`` when none is found); ``()`` for a
        smooth one."""
        if not self.is_piecewise:
            return ()
        pts: set[float] = set()
        for pw in self.expr.atoms(sp.Piecewise):
            for _, cond in pw.args:
                for rel in cond.atoms(sp.core.relational.Relational):
                    for root in sp.solve(sp.Eq(rel.lhs - rel.rhs, 0), T):
                        if root.is_real:
                            pts.add(float(root))
        return tuple(sorted(pts)) or (0.0,)

    @property
    def S0(self) -> Constant:
        return self.constants["S0"]

    @property
    def S1(self) -> Constant:
        return self.constants["S1"]

    @property
    def S2(self) -> Constant:
        return self.constants["S2"]

    @property
    def c0(self) -> Constant:
        return self.constants["c0"]

    @property
    def is_lipschitz(self) -> bool:
        return self.S1.is_finite

    @property
    def is_smooth(self) -> bool:
        return self.S2.is_finite

    @property
    def is_bounded(self) -> bool:
        return self.S0.is_finite

    def in_class(self, cls: str) -> bool:
        """Whether σ belongs to the class ``"lipschitz"``, ``"smooth"`` or ``"bounded"``."""
        if cls not in _CLASS_CONSTANT:
            raise ValueError(
                f"unknown activation class {cls!r}; allowed: {', '.join(_CLASS_CONSTANT)}"
            )
        return self.constants[_CLASS_CONSTANT[cls]].is_finite

    def require(self, cls: str, purpose: str = "this computation") -> None:
        """Raise ``ValueError`` unless σ is in class ``cls`` (docs/theory.md §1)."""
        if not self.in_class(cls):
            const = _CLASS_CONSTANT[cls]
            raise ValueError(
                f"{purpose} needs a {cls} activation ({const} < inf), but "
                f"{self.name!r} has {const} = inf; use an activation of the {cls} "
                f"class (e.g. tanh, sigmoid, softplus, gelu)"
            )

    def values(self) -> dict[str, float]:
        """The float values a bound uses: the upper ends of the enclosures."""
        return {k: c.bound for k, c in self.constants.items()}

    def unproven(self, names: Iterable[str] = _CONSTANT_NAMES) -> tuple[Constant, ...]:
        """The constants among ``names`` that are finite numeric estimates (see :attr:`Constant.is_proven`)."""
        return tuple(self.constants[k] for k in names if not self.constants[k].is_proven)

    def require_proven(self, names: Iterable[str], purpose: str = "this bound",
                       allow_numeric: bool = False) -> str:
        """Check that the constants ``names`` (those a bound uses) are proven.

        Raises ``ValueError`` naming the first numeric estimate among them, its
        value and how to supply a proven one, unless ``allow_numeric``.  Returns
        :func:`numeric_note` of the estimates used (``""`` when there are none).
        """
        weak = self.unproven(names)
        if weak and not allow_numeric:
            c = weak[0]
            raise ValueError(
                f"{purpose} uses {c.name} ≈ {c.upper:.6g} of the activation {self.name!r}, a numeric estimate, "
                f"not a proof; state the value as a claim (activation(...).with_constants({c.name}=...)), write "
                "σ in a form sympy can treat exactly or the certified tier can enclose, or accept the estimate "
                "with allow_numeric=True (CLI: --allow-numeric; results are then marked 'not proven')"
            )
        return numeric_note(weak)


def numeric_note(constants: Iterable[Constant]) -> str:
    """``"rests on numeric S1 ≈ 0.436182 (not proven)"`` for the numeric estimates among
    ``constants`` (``""`` when there are none)."""
    weak = [c for c in constants if not c.is_proven]
    if not weak:
        return ""
    return "rests on numeric " + ", ".join(f"{c.name} ≈ {c.upper:.6g}" for c in weak) + " (not proven)"


# ---------------------------------------------------------------------------
# registry
# ---------------------------------------------------------------------------
def _registry() -> dict[str, tuple[Callable[..., sp.Expr], dict[str, float]]]:
    t = T
    return {
        "identity": (lambda: t, {}),
        "tanh": (lambda: sp.tanh(t), {}),
        "sigmoid": (lambda: 1 / (1 + sp.exp(-t)), {}),
        "softplus": (lambda: sp.log(1 + sp.exp(t)), {}),
        "relu": (lambda: sp.Piecewise((0, t < 0), (t, True)), {}),
        "leaky_relu": (
            lambda alpha: sp.Piecewise((alpha * t, t < 0), (t, True)),
            {"alpha": sp.Rational(1, 100)},
        ),
        "elu": (
            lambda alpha: sp.Piecewise((alpha * (sp.exp(t) - 1), t < 0), (t, True)),
            {"alpha": sp.Integer(1)},
        ),
        "gelu": (lambda: t * (1 + sp.erf(t / sp.sqrt(2))) / 2, {}),
        "silu": (lambda: t / (1 + sp.exp(-t)), {}),
        "softsign": (lambda: t / (1 + sp.Abs(t)), {}),
        "sin": (lambda: sp.sin(t), {}),
    }


#: The exact constants of the built-in activations at their default parameters, as the
#: exact tier derives them (docs/theory.md §1.4).  Deriving takes seconds and runs under
#: time limits, so on a loaded machine a value could come out ``certified`` instead; the
#: table makes the built-ins' bounds the same on every machine.  The test suite re-derives
#: every entry (tests/test_activations.py::test_known_constants_are_derived).
_KNOWN = {
    "identity": {"S0": sp.oo, "S1": 1, "S2": 0, "c0": 0},
    "tanh": {"S0": 1, "S1": 1, "S2": 4 * sp.sqrt(3) / 9, "c0": 0},
    "sigmoid": {"S0": 1, "S1": sp.Rational(1, 4), "S2": sp.sqrt(3) / 18, "c0": sp.Rational(1, 2)},
    "softplus": {"S0": sp.oo, "S1": 1, "S2": sp.Rational(1, 4), "c0": sp.log(2)},
    "relu": {"S0": sp.oo, "S1": 1, "S2": sp.oo, "c0": 0},
    "leaky_relu": {"S0": sp.oo, "S1": 1, "S2": sp.oo, "c0": 0},
    "elu": {"S0": sp.oo, "S1": 1, "S2": 1, "c0": 0},
    "gelu": {"S0": sp.oo, "S1": sp.exp(-1) / sp.sqrt(sp.pi) + sp.erf(1) / 2 + sp.Rational(1, 2),
             "S2": sp.sqrt(2) / sp.sqrt(sp.pi), "c0": 0},
    "softsign": {"S0": 1, "S1": 1, "S2": 2, "c0": 0},
    "sin": {"S0": 1, "S1": 1, "S2": 1, "c0": 0},
}
#: how the exact tier found each value (shown by ``symlip activation``)
_KNOWN_HOW = {
    "identity": {
        "S0": '|σ^(0)| -> oo as limit t->-oo',
        "S1": 'sup |σ^(1)| at limit t->-oo; candidates: end limits + critical points',
        "S2": 'sup |σ^(2)| at limit t->-oo; candidates: end limits + critical points',
        "c0": '|σ(0)| by substitution',
    },
    "tanh": {
        "S0": 'sup |σ^(0)| at limit t->-oo; candidates: end limits + critical points',
        "S1": 'sup |σ^(1)| at critical point t=0 (solveset); candidates: end limits + critical points',
        "S2": 'sup |σ^(2)| at critical point t=atanh(sqrt(3)/3) (solveset); candidates: end limits + critical points',
        "c0": '|σ(0)| by substitution',
    },
    "sigmoid": {
        "S0": 'sup |σ^(0)| at limit t->oo; candidates: end limits + critical points',
        "S1": 'sup |σ^(1)| at critical point t=0 (solveset); candidates: end limits + critical points',
        "S2": 'sup |σ^(2)| at critical point t=log(sqrt(3) + 2) (solveset); candidates: end limits + critical points',
        "c0": '|σ(0)| by substitution',
    },
    "softplus": {
        "S0": '|σ^(0)| -> oo as limit t->oo',
        "S1": 'sup |σ^(1)| at limit t->oo; candidates: end limits + critical points',
        "S2": 'sup |σ^(2)| at critical point t=0 (solveset); candidates: end limits + critical points',
        "c0": '|σ(0)| by substitution',
    },
    "relu": {
        "S0": '|σ^(0)| -> oo as limit t->oo',
        "S1": 'sup |σ^(1)| at limit t->0+; candidates: end limits + critical points',
        "S2": "σ^(1) jumps at t=0: σ' is not Lipschitz",
        "c0": '|σ(0)| by substitution',
    },
    "leaky_relu": {
        "S0": '|σ^(0)| -> oo as limit t->-oo',
        "S1": 'sup |σ^(1)| at limit t->0+; candidates: end limits + critical points',
        "S2": "σ^(1) jumps at t=0: σ' is not Lipschitz",
        "c0": '|σ(0)| by substitution',
    },
    "elu": {
        "S0": '|σ^(0)| -> oo as limit t->oo',
        "S1": 'sup |σ^(1)| at limit t->0-; candidates: end limits + critical points',
        "S2": 'sup |σ^(2)| at limit t->0-; candidates: end limits + critical points',
        "c0": '|σ(0)| by substitution',
    },
    "gelu": {
        "S0": '|σ^(0)| -> oo as limit t->oo (dominant terms)',
        "S1": 'sup |σ^(1)| at critical point t=sqrt(2) (solveset); candidates: end limits + critical points',
        "S2": 'sup |σ^(2)| at critical point t=0 (solveset); candidates: end limits + critical points',
        "c0": '|σ(0)| by substitution',
    },
    "softsign": {
        "S0": 'sup |σ^(0)| at limit t->-oo; candidates: end limits + critical points',
        "S1": 'sup |σ^(1)| at limit t->0-; candidates: end limits + critical points',
        "S2": 'sup |σ^(2)| at limit t->0-; candidates: end limits + critical points',
        "c0": '|σ(0)| by substitution',
    },
    "sin": {
        "S0": 'sup |σ^(0)| at critical points t=2*pi*n + pi/2 (n integer, solveset); candidates: end limits + critical points',
        "S1": 'sup |σ^(1)| at critical points t=2*pi*n (n integer, solveset); candidates: end limits + critical points',
        "S2": 'sup |σ^(2)| at critical points t=2*pi*n + pi/2 (n integer, solveset); candidates: end limits + critical points',
        "c0": '|σ(0)| by substitution',
    },
}


@functools.lru_cache(maxsize=1)
def _known_constants() -> dict[sp.Expr, dict[str, tuple[sp.Expr, str]]]:
    """Built-in expressions (default parameters) -> their exact constants."""
    return {_parse(_registry()[name][0](**_registry()[name][1])):
                {k: (sp.sympify(v), _KNOWN_HOW[name][k]) for k, v in vals.items()}
            for name, vals in _KNOWN.items()}


def available_activations() -> tuple[str, ...]:
    """Names accepted by :func:`activation`."""
    return tuple(_registry())


def activation(spec: "str | sp.Expr | Activation", **params: float) -> Activation:
    """Return an :class:`Activation` by registry name, or from an expression.

    Parameters
    ----------
    spec : str, sympy.Expr or Activation
        A registry name (see :func:`available_activations`), or an expression
        in ``t`` such as ``"t/(1+Abs(t))"``.
    **params
        Parameters of a registry activation, e.g. ``alpha`` for ``leaky_relu``
        and ``elu``.
    """
    if isinstance(spec, Activation):
        if params:
            raise ValueError("parameters can only be given with a registry name")
        return spec
    reg = _registry()
    if isinstance(spec, str) and spec.strip().lower() in reg:
        key = spec.strip().lower()
        builder, defaults = reg[key]
        unknown = set(params) - set(defaults)
        if unknown:
            allowed = ", ".join(defaults) or "none"
            raise ValueError(
                f"activation {key!r} takes no parameter {sorted(unknown)[0]!r} "
                f"(parameters allowed: {allowed})"
            )
        values = {k: _as_param(key, k, params.get(k, v)) for k, v in defaults.items()}
        expr = _parse(builder(**values))
        label = key if not params else key + "(" + ", ".join(
            f"{k}={v}" for k, v in values.items()) + ")"
        return Activation(
            name=label, expr=expr, params=tuple((k, float(v)) for k, v in values.items())
        )
    if params:
        raise ValueError(
            f"unknown activation name {spec!r}; parameters are only for registry names: "
            f"{', '.join(reg)}"
        )
    if isinstance(spec, str) and spec.strip().isidentifier() and spec.strip() != "t":
        raise ValueError(
            f"unknown activation {spec!r}; known: {', '.join(reg)}, "
            "or give an expression in t such as 't/(1+Abs(t))'"
        )
    return Activation.from_expr(spec)


def _as_param(act: str, key: str, value: object) -> sp.Expr:
    try:
        if isinstance(value, str):  # text is read exactly and never run (symlip.core.expr)
            val = read_expr(value, what=f"parameter {key} of {act!r}")
        else:
            val = sp.nsimplify(value, rational=True) if isinstance(value, float) else sp.sympify(value, strict=True)
    except (sp.SympifyError, TypeError, ValueError) as exc:
        raise ValueError(f"parameter {key}={value!r} of {act!r} must be a real number ({exc})") from None
    if not (val.is_real and val.is_finite):
        raise ValueError(f"parameter {key}={value!r} of {act!r} must be a finite real number")
    if key == "alpha" and val < 0:
        raise ValueError(f"parameter alpha={value!r} of {act!r} must be >= 0")
    return val


# ---------------------------------------------------------------------------
# parsing and compilation (private)
# ---------------------------------------------------------------------------
def _parse(expr: str | sp.Expr) -> sp.Expr:
    if isinstance(expr, str):
        try:  # text is data: read by the whitelist reader, never run (symlip.core.expr)
            parsed = read_expr(expr, symbols={"t": T}, what="activation expression")
        except UnknownName as exc:
            allowed = str(exc).partition("; allowed: ")[2]
            raise ValueError(f"activation expression {expr!r} must depend on t only; it also has {exc.name} "
                             f"(allowed: {allowed})") from None
    elif isinstance(expr, sp.Basic):
        parsed = expr
    else:
        raise TypeError(
            f"activation expression must be a str or sympy expression, got {type(expr).__name__}"
        )
    if not isinstance(parsed, sp.Expr):
        raise ValueError(f"activation expression {expr!r} is not a scalar expression")
    # accept a plain Symbol('t') (without real=True) as the variable
    free = parsed.free_symbols
    plain = [s for s in free if s.name == "t" and s != T]
    if plain:
        parsed = parsed.xreplace({s: T for s in plain})
        free = parsed.free_symbols
    others = sorted(str(s) for s in free if s != T)
    if others:
        raise ValueError(
            f"activation expression {expr!r} must depend on t only; it also has "
            f"{', '.join(others)}"
        )
    parsed = parsed.rewrite(sp.Piecewise) if parsed.has(
        sp.Max, sp.Min, sp.Abs, sp.Heaviside, sp.sign) else parsed
    parsed = sp.piecewise_fold(parsed)
    if parsed.has(sp.I) or parsed.has(sp.zoo, sp.nan):
        raise ValueError(f"activation expression {expr!r} is not real-valued (contains I, zoo or nan)")
    _probe(parsed, expr)
    bad = sorted({type(f).__name__ for f in parsed.atoms(sp.Function)
                  if isinstance(f, _DISCONTINUOUS)})
    if bad:
        raise ValueError(
            f"activation expression {expr!r} uses {', '.join(bad)}, which is not supported "
            "(write jumps with Piecewise instead)"
        )
    problem = singularity(parsed)
    if problem:
        raise ValueError(
            f"activation expression {expr!r} is not finite and continuous for every real t "
            f"({problem}); an activation must map every real t to a real number"
        )
    return parsed


#: time budget (seconds) of all probes of one expression (sympy evaluation, main thread)
_PROBE_SECONDS = 2.0


def _probe(parsed: sp.Expr, expr: object) -> None:
    """Check at a few points that the activation is real and finite there.

    A finite arb enclosure (:func:`symlip.activations.arb.point_enclosure`) settles a
    point at once; otherwise sympy evaluates it, within :data:`_PROBE_SECONDS`
    in all on the main thread (when they run out the remaining points are
    skipped: the constants' derivation has its own checks and time limits).
    """

    end = time.monotonic() + _PROBE_SECONDS
    for x in (-2.5, -1.0, -0.25, 0.0, 0.25, 1.0, 2.5):
        if point_enclosure(parsed, x) is not None:
            continue
        try:
            val = complex(call_with_time_limit(end - time.monotonic(), lambda: parsed.subs(T, x).evalf(30)))
        except TimeoutError:
            break
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"activation expression {expr!r} cannot be evaluated at t={x}: {exc}"
            ) from exc
        if abs(val.imag) > 1e-20 * max(1.0, abs(val.real)) or not math.isfinite(val.real):
            raise ValueError(
                f"activation expression {expr!r} is not real and finite at t={x} (value {val}); "
                "an activation must map every real t to a real number"
            )


_DISCONTINUOUS = (
    sp.floor, sp.ceiling, sp.frac, sp.Mod, sp.DiracDelta, sp.KroneckerDelta, sp.re, sp.im,
    sp.arg, sp.conjugate,
)


def _check_order(order: int) -> int:
    if not isinstance(order, (int, np.integer)) or isinstance(order, bool) or not 0 <= order <= 3:
        raise ValueError(f"derivative order must be an integer 0..3, got {order!r}")
    return int(order)


@functools.lru_cache(maxsize=None)
def _derivative(expr: sp.Expr, order: int) -> sp.Expr:
    if order == 0:
        return expr
    d = sp.diff(_derivative(expr, order - 1), T)
    d = sp.piecewise_fold(d)
    if isinstance(d, sp.Piecewise):
        d = sp.Piecewise(*[(_simplified(e), c) for e, c in d.args])
    return d


def _simplified(e: sp.Expr) -> sp.Expr:
    """``sympy.simplify(e)`` within 2 s on the main thread; ``e`` itself otherwise."""

    if not can_time_limit():
        return e
    try:
        return call_with_time_limit(2.0, sp.simplify, e)
    except Exception:  # noqa: BLE001 - TimeoutError or a sympy failure: keep the unsimplified form
        return e


def _stable_table() -> dict[sp.Expr, dict[int, Callable[[np.ndarray], np.ndarray]]]:
    """Overflow-free float64 ``σ, σ', σ''`` of registry activations, keyed by expression.

    The lambdified sympy forms overflow for large ``|t|`` (e.g. softplus' is
    ``exp(t)/(exp(t)+1)``, nan at ``t = 800``); these use ``expit``,
    ``logaddexp``, ``ndtr`` and ``expm1`` instead.
    """
    from scipy.special import expit, ndtr

    inv_sqrt_2pi = 1.0 / math.sqrt(2.0 * math.pi)

    def sech2(x):
        e = np.exp(-2.0 * np.abs(x))
        return 4.0 * e / (1.0 + e) ** 2

    def dsig(x):  # s (1 - s)
        return expit(x) * expit(-x)

    def phi(x):  # standard normal density, clipped where it underflows anyway
        xc = np.clip(x, -60.0, 60.0)
        return np.exp(-0.5 * xc * xc) * inv_sqrt_2pi

    def elu0(x):
        return np.where(x < 0, np.expm1(np.minimum(x, 0.0)), x)

    def elu1(x):
        return np.where(x < 0, np.exp(np.minimum(x, 0.0)), 1.0)

    def elu2(x):
        return np.where(x < 0, np.exp(np.minimum(x, 0.0)), 0.0)

    funcs = {
        "tanh": {0: np.tanh, 1: sech2, 2: lambda x: -2.0 * np.tanh(x) * sech2(x)},
        "sigmoid": {0: expit, 1: dsig, 2: lambda x: -dsig(x) * np.tanh(x / 2)},
        "softplus": {0: lambda x: np.logaddexp(0.0, x), 1: expit, 2: dsig},
        "silu": {
            0: lambda x: x * expit(x),
            1: lambda x: expit(x) * (1.0 + x * expit(-x)),
            2: lambda x: dsig(x) * (2.0 - x * np.tanh(x / 2)),
        },
        "gelu": {
            0: lambda x: x * ndtr(x),
            1: lambda x: ndtr(x) + np.clip(x, -60.0, 60.0) * phi(x),
            2: lambda x: phi(x) * (2.0 - np.clip(x, -60.0, 60.0) ** 2),
        },
        "elu": {0: elu0, 1: elu1, 2: elu2},
    }
    return {activation(name).expr: table for name, table in funcs.items()}


_STABLE: dict | None = None


def _stable(expr: sp.Expr, order: int) -> Callable[[np.ndarray], np.ndarray] | None:
    global _STABLE
    if _STABLE is None:
        _STABLE = _stable_table()
    return _STABLE.get(expr, {}).get(order)


def _lambdified_numpy(expr: sp.Expr, order: int) -> Callable[[np.ndarray], np.ndarray]:
    import scipy.special
    from sympy.codegen.rewriting import expm1_opt, log1p_opt, optimize

    d = _derivative(expr, order)
    try:
        d = optimize(d, [expm1_opt, log1p_opt])  # exp(x)-1 -> expm1(x), log(1+x) -> log1p(x)
    except Exception:  # noqa: BLE001 - the rewrite is only an accuracy improvement
        pass
    return sp.lambdify(
        T, d, modules=[{"erf": scipy.special.erf, "erfc": scipy.special.erfc}, "numpy"])


@functools.lru_cache(maxsize=None)
def _numpy_callable(expr: sp.Expr, order: int) -> Callable[[np.ndarray], np.ndarray]:
    fn = _stable(expr, order)
    kind = "stable"
    if fn is None:
        fn = _lambdified_numpy(expr, order)
        kind = "lambdified"

    def call(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        with np.errstate(all="ignore"):
            y = np.asarray(fn(x), dtype=float)
        if y.shape != x.shape:
            y = np.broadcast_to(y, x.shape).copy()
        bad = ~np.isfinite(y) & np.isfinite(x)
        if bad.any():
            i = np.flatnonzero(bad.ravel())[0]
            raise ValueError(
                f"activation {sp.sstr(expr)}: σ^({order}) gave {y.ravel()[i]} at finite "
                f"t={x.ravel()[i]!r}; rewrite the expression in a numerically stable form "
                "(e.g. avoid exp(t)/(1+exp(t)) for large |t|)"
            )
        return y

    call.__doc__ = f"numpy σ^({order}) of {sp.sstr(expr)} ({kind})"
    return call


def _stable_mp_table() -> dict[sp.Expr, dict[int, Callable]]:
    """Cancellation-free mpmath ``σ, σ', σ''`` of registry activations, keyed by expression.

    The sympy forms cancel catastrophically in the tails (softplus'' is
    ``e^t/(e^t+1) - e^{2t}/(e^t+1)^2``, tanh' is ``1 - tanh^2``); these are
    accurate to the working precision for every ``t``.
    """
    mp = mpmath

    def q(x):  # s (1 - s) = sech(x/2)^2 / 4
        return mp.sech(x / 2) ** 2 / 4

    def softplus(x):
        return x + mp.log1p(mp.exp(-x)) if x > 0 else mp.log1p(mp.exp(x))

    def ncdf(x):  # mpmath's erfc overflows beyond |x| ~ 1e154: asymptotic tails there
        if x < -1e100:
            return mp.npdf(x) / -x * (1 - 1 / x**2)  # relative error < 3/x^4
        if x > 1e100:
            return 1 - mp.npdf(x) / x
        return mp.ncdf(x)

    funcs = {
        "tanh": {0: mp.tanh, 1: lambda x: mp.sech(x) ** 2,
                 2: lambda x: -2 * mp.tanh(x) * mp.sech(x) ** 2},
        "sigmoid": {0: lambda x: 1 / (1 + mp.exp(-x)), 1: q,
                    2: lambda x: -q(x) * mp.tanh(x / 2)},
        "softplus": {0: softplus, 1: lambda x: 1 / (1 + mp.exp(-x)), 2: q},
        "silu": {0: lambda x: x / (1 + mp.exp(-x)),
                 1: lambda x: 1 / (1 + mp.exp(-x)) + x * q(x),
                 2: lambda x: q(x) * (2 - x * mp.tanh(x / 2))},
        "gelu": {0: lambda x: x * ncdf(x), 1: lambda x: ncdf(x) + x * mp.npdf(x),
                 2: lambda x: mp.npdf(x) * (2 - x * x)},
        "elu": {0: lambda x: mp.expm1(x) if x < 0 else x,
                1: lambda x: mp.exp(x) if x < 0 else mp.mpf(1),
                2: lambda x: mp.exp(x) if x < 0 else mp.mpf(0)},
    }
    return {activation(name).expr: table for name, table in funcs.items()}


_STABLE_MP: dict | None = None


@functools.lru_cache(maxsize=None)
def _mpmath_callable(expr: sp.Expr, order: int) -> Callable[[mpmath.mpf], mpmath.mpf]:
    global _STABLE_MP
    if _STABLE_MP is None:
        _STABLE_MP = _stable_mp_table()
    fn = _STABLE_MP.get(expr, {}).get(order)
    kind = "stable"
    if fn is None:
        # Piecewise becomes a conditional expression, evaluated at the argument's precision
        fn = sp.lambdify(T, _derivative(expr, order), modules="mpmath")
        kind = "lambdified"

    def call(x: mpmath.mpf) -> mpmath.mpf:
        x = mpmath.mpf(x)
        y = fn(x)
        if isinstance(y, mpmath.mpc) or not mpmath.isfinite(y):
            raise ValueError(
                f"activation {sp.sstr(expr)}: σ^({order}) gave {y} at t={x}; "
                "an activation and its derivatives must be real and finite"
            )
        return mpmath.mpf(y)

    call.__doc__ = f"mpmath σ^({order}) of {sp.sstr(expr)} ({kind})"
    return call
