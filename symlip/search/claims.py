"""Claims: statements "quantity <= bound" that the falsifier attacks (docs/theory.md §3, §6).

A :class:`Claim` names a quantity and a bound:

* the Lipschitz quantities of docs/theory.md §3 — ``lip_f`` (θ ↦ f(x;θ)), ``lip_grad``
  (θ ↦ ∇_θ f), ``lip_loss_grad`` (θ ↦ ∇ℓ for the squared loss, any data with
  ``|x| <= R``, ``|y| <= Y``) and ``lip_input`` (x ↦ f(x;θ) at any θ of the
  region) — with a bound given as a :class:`~symlip.Bound`, a sympy expression
  (or string) in the standard symbols, a number, or a callable
  ``(net, region, R, Y) -> float``;
* a pointwise inequality ``lhs(θ, X, y) <= rhs(θ, X, y)`` (quantity
  ``"pointwise"``, bound an :class:`Inequality`), e.g. the descent lemma of §6.

``assumptions`` names the activation classes the claim needs; checking a claim on
an activation outside them raises ``ValueError`` (it is not a pass).
``expect="fails"`` marks a claim known to be false (a *mutant*): the checker
must violate it.

A :class:`Case` is a claim together with the network, region and radii it is
checked on; catalogue modules (``proofs/``) expose a list ``CASES`` of them
(:func:`symlip.search.catalogue.load_cases` collects them from files and folders).
A :class:`SelfCheckingCase` is a catalogue entry that runs its own test (the
statistical SGD-moment claims).
"""
from __future__ import annotations

import abc
import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Literal

import mpmath
import numpy as np
import sympy as sp

from symlip.bounds.symbolic import QUANTITIES, Bound
from symlip.core.expr import read_expr

if TYPE_CHECKING:  # pragma: no cover
    from symlip.models.network import MLP
    from symlip.models.region import Region

__all__ = ["Claim", "Inequality", "Case", "SelfCheckingCase", "CLAIM_QUANTITIES"]

#: Quantities a claim may bound: the four of docs/theory.md §3 and pointwise inequalities.
CLAIM_QUANTITIES = tuple(QUANTITIES) + ("pointwise",)
_CLASSES = ("lipschitz", "smooth", "bounded")

Expect = Literal["holds", "fails"]


@dataclass(frozen=True)
class Inequality:
    """A pointwise inequality ``lhs(θ, X, y) <= rhs(θ, X, y)`` for every θ in the
    region, ``|x_n| <= R`` and ``|y_n| <= Y``.

    Parameters
    ----------
    fn : callable
        ``fn(net, theta, X, y, dps) -> (lhs, rhs)``.  ``X`` has shape
        ``(n_samples, d_0)``, ``y`` shape ``(n_samples,)`` (zeros when
        ``targets`` is False).  With ``dps=None`` return floats computed in
        float64; with an integer ``dps`` return ``mpmath.mpf`` values computed at
        that precision (the independent confirmation of a violation).
    n_samples : int
        Number of inputs ``x_n`` the inequality involves.
    targets : bool
        Whether it involves targets ``y_n`` (then ``Y`` is required).
    text : str
        The inequality in words or LaTeX, for reports.
    """

    fn: Callable[..., tuple[Any, Any]]
    n_samples: int = 1
    targets: bool = False
    text: str = ""

    def __post_init__(self) -> None:
        if not callable(self.fn):
            raise TypeError(f"Inequality.fn must be callable (net, theta, X, y, dps) -> (lhs, rhs); got {self.fn!r}")
        if not (isinstance(self.n_samples, int) and self.n_samples >= 1):
            raise ValueError(f"Inequality.n_samples must be an integer >= 1; got {self.n_samples!r}")


@dataclass(frozen=True, eq=False)
class Claim:
    """A claim "``quantity <= bound``" on a parameter region (docs/theory.md §3), or a
    pointwise inequality.

    Parameters
    ----------
    name : str
        A short identifier, e.g. ``"U1"``.
    quantity : str
        One of :data:`CLAIM_QUANTITIES`.
    bound : Bound, sympy.Expr, str, float, callable or Inequality
        See the module docstring.  A :class:`~symlip.Bound` applies to networks
        of its depth; an expression is parsed for the network's depth.
    assumptions : tuple of str
        Activation classes the claim needs (``"lipschitz"``, ``"smooth"``,
        ``"bounded"``).  A derived bound's own requirement is added.
    expect : {"holds", "fails"}
        ``"fails"`` for a claim known to be false (a mutant).
    why : str
        Where the bound comes from, or — for a mutant — why it is false.
    direction : {"upper", "lower"}
        ``"upper"`` (default): the quantity is at most the bound everywhere on the
        region.  ``"lower"``: its supremum over the region is at least the bound
        (docs/theory.md §4; ``lip_f`` and ``lip_grad`` on balls), checked by the
        witness construction of :mod:`symlip.bounds.lower` instead of a search.
    allow_numeric : bool
        Let the bound rest on activation constants that are only numeric
        estimates (default False: evaluating it raises ``ValueError``); results
        are then marked (:meth:`numeric_note`).
    """

    name: str
    quantity: str
    bound: Any
    assumptions: tuple[str, ...] = ()
    expect: Expect = "holds"
    why: str = ""
    direction: Literal["upper", "lower"] = "upper"
    allow_numeric: bool = False
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError(f"claim name must be a non-empty string; got {self.name!r}")
        if self.quantity not in CLAIM_QUANTITIES:
            raise ValueError(f"claim {self.name!r}: unknown quantity {self.quantity!r}; "
                             f"allowed: {', '.join(CLAIM_QUANTITIES)}")
        if self.expect not in ("holds", "fails"):
            raise ValueError(f"claim {self.name!r}: expect must be 'holds' or 'fails'; got {self.expect!r}")
        if self.direction not in ("upper", "lower"):
            raise ValueError(f"claim {self.name!r}: direction must be 'upper' or 'lower'; got {self.direction!r}")
        if not isinstance(self.allow_numeric, bool):
            raise TypeError(f"claim {self.name!r}: allow_numeric must be True or False; got {self.allow_numeric!r}")
        if self.direction == "lower" and self.quantity not in ("lip_f", "lip_grad"):
            raise ValueError(f"claim {self.name!r}: lower-bound claims (docs/theory.md §4) are for lip_f and lip_grad; "
                             f"got {self.quantity!r}")
        if not isinstance(self.assumptions, (str, list, tuple)):
            raise TypeError(f"claim {self.name!r}: assumptions must be a class name or a sequence of them "
                            f"({', '.join(_CLASSES)}); got {self.assumptions!r}")
        assumptions = (self.assumptions,) if isinstance(self.assumptions, str) else tuple(self.assumptions)
        for a in assumptions:
            if a not in _CLASSES:
                raise ValueError(f"claim {self.name!r}: unknown assumption {a!r}; allowed activation "
                                 f"classes: {', '.join(_CLASSES)}")
        object.__setattr__(self, "assumptions", assumptions)
        b = self.bound
        if self.quantity == "pointwise":
            if not isinstance(b, Inequality):
                raise TypeError(f"claim {self.name!r}: a pointwise claim needs an Inequality as bound; "
                                f"got {type(b).__name__}")
        elif isinstance(b, Inequality):
            raise TypeError(f"claim {self.name!r}: an Inequality needs quantity='pointwise'")
        elif isinstance(b, str):
            object.__setattr__(self, "bound", _parse_expr(self.name, b))
        elif isinstance(b, (bool, np.bool_)) or not (
                isinstance(b, (Bound, sp.Expr, int, float, np.integer, np.floating)) or callable(b)):
            raise TypeError(f"claim {self.name!r}: bound must be a Bound, a sympy expression or string, a "
                            f"number or a callable (net, region, R, Y) -> float; got {type(b).__name__}")
        elif isinstance(b, (int, float, np.integer, np.floating)) and not (math.isfinite(b) and b >= 0):
            raise ValueError(f"claim {self.name!r}: a numeric bound must be finite and >= 0; got {b!r}")
        if isinstance(b, Bound) and b.quantity in QUANTITIES and b.quantity != self.quantity:
            raise ValueError(f"claim {self.name!r}: the bound is for {b.quantity!r}, the claim for "
                             f"{self.quantity!r}")

    # -- what the claim needs ------------------------------------------------
    @property
    def requires(self) -> tuple[str, ...]:
        """Activation classes needed: the assumptions plus a derived bound's own."""
        req = list(self.assumptions)
        if isinstance(self.bound, Bound) and self.bound.requires and self.bound.depth >= 2 \
                and self.bound.requires not in req:
            req.append(self.bound.requires)
        return tuple(req)

    def check_applicable(self, net: "MLP") -> None:
        """Raise ``ValueError`` unless the claim can be checked on ``net``.

        The activation must be in every class the claim assumes, a
        :class:`~symlip.Bound` must have the network's depth, and the gradient
        quantities need a scalar output.
        """
        for cls in self.requires:
            net.activation.require(cls, purpose=f"claim {self.name!r}")
        if isinstance(self.bound, Bound) and self.bound.depth != net.depth:
            raise ValueError(f"claim {self.name!r} has a bound for depth {self.bound.depth}; the network "
                             f"{list(net.widths)} has depth {net.depth}")
        if self.quantity != "lip_input" and net.d_out != 1:
            raise ValueError(f"claim {self.name!r} ({self.quantity}) needs a scalar output; the network "
                             f"{list(net.widths)} has d_m = {net.d_out}")

    # -- the bound's value ---------------------------------------------------
    def bound_for(self, net: "MLP") -> Bound | None:
        """The claim's :class:`~symlip.Bound` for ``net``'s depth (None for numbers,
        callables and pointwise claims)."""
        b = self.bound
        if isinstance(b, Bound):
            return b
        if isinstance(b, sp.Expr):
            key = ("bound", net.depth)
            if key not in self._cache:
                self._cache[key] = Bound.from_expr(b, net.depth, quantity=self.quantity, name=self.name)
            return self._cache[key]
        return None

    def bound_value(self, net: "MLP", region: "Region", R: float | None = None,
                    Y: float | None = None) -> float:
        """The claimed bound for ``net`` on ``region`` in float64 (not for pointwise claims)."""
        self._not_pointwise("bound_value")
        self.check_applicable(net)
        bound = self.bound_for(net)
        if bound is not None:
            val = bound.evaluate(net, region, R=R, Y=Y, allow_numeric=self.allow_numeric)
            if math.isnan(val) or val < 0:
                raise ValueError(f"claim {self.name!r}: the bound {bound.name if isinstance(self.bound, Bound) else sp.sstr(self.bound)!r} evaluates to {val!r} "
                                 "on this region; a bound must be a number >= 0")
            return val
        if callable(self.bound):
            val = self.bound(net, region, R, Y)
            try:
                val = float(val)
            except (TypeError, ValueError):
                raise TypeError(f"claim {self.name!r}: the bound callable returned {val!r}, not a number") from None
            if math.isnan(val) or val < 0:
                raise ValueError(f"claim {self.name!r}: the bound callable returned {val!r}; a bound must "
                                 "be a number >= 0")
            return val
        return float(self.bound)

    def bound_value_mp(self, net: "MLP", region: "Region", R: float | None = None,
                       Y: float | None = None, dps: int = 50) -> mpmath.mpf:
        """The claimed bound at ``dps`` digits.

        A :class:`~symlip.Bound` is evaluated by its mpmath program with the
        region's norms computed at ``dps`` digits (the spectral norms of a ball's
        center by an mpmath SVD), so float rounding of the region cannot move the
        bound.  Numbers and callables are taken as given (their float value is
        the claim).
        """
        self._not_pointwise("bound_value_mp")
        bound = self.bound_for(net)
        if bound is None:
            return mpmath.mpf(self.bound_value(net, region, R, Y))
        self.check_applicable(net)
        values: dict[str, Any] = dict(bound.values_for(net, region, R=R, Y=Y, allow_numeric=self.allow_numeric))
        if region.kind == "ball":
            from symlip.models.region import layer_bounds_mp

            om, be = layer_bounds_mp(net, region, dps)
            for i, (o, b) in enumerate(zip(om, be), start=1):
                for key, v in ((f"omega_{i}", o), (f"beta_{i}", b)):
                    if key in values:
                        values[key] = v
        return bound.evaluate_mp(values, dps=dps)

    def numeric_note(self, net: "MLP") -> str:
        """``"rests on numeric S1 ≈ ... (not proven)"`` when the claim's bound (for a
        lower-bound claim: the upper bound that can refute it) uses activation
        constants of ``net`` that are numeric estimates; ``""`` otherwise."""
        from symlip.activations.registry import numeric_note

        if self.quantity == "pointwise":
            return ""
        if self.direction == "lower":
            from symlip.bounds.symbolic import derive

            bound = derive(self.quantity, net.depth)
        else:
            bound = self.bound_for(net)
        if bound is None:
            return ""
        return numeric_note(net.activation.constants[k] for k in bound.activation_constants())

    def latex(self, net: "MLP | None" = None) -> str:
        """LaTeX of the bound (the general form and, given ``net``, its depth)."""
        b = self.bound
        if isinstance(b, Inequality):
            return b.text
        if isinstance(b, Bound):
            return b.latex(unrolled=b.depth <= 2)
        if isinstance(b, sp.Expr):
            return sp.latex(b)
        if callable(b):
            label = getattr(b, "__name__", "callable").replace("_", r"\_")
            return rf"\text{{{label}}}(\text{{net}}, \Theta, R, Y)"
        return f"{float(b):.17g}"

    def describe(self) -> str:
        """One line: name, quantity, bound, expectation."""
        b = self.bound
        if isinstance(b, Inequality):
            text = b.text or getattr(b.fn, "__name__", "inequality")
        elif isinstance(b, Bound):
            text = b.name or b.quantity
        elif isinstance(b, sp.Expr):
            text = sp.sstr(b)
        elif callable(b):
            text = getattr(b, "__name__", "callable")
        else:
            text = f"{float(b):.6g}"
        rel = ">=" if self.direction == "lower" else "<="
        what = f"sup {self.quantity}" if self.direction == "lower" else self.quantity
        return f"{self.name}: {what} {rel} {text} (expected to {'hold' if self.expect == 'holds' else 'fail'})"

    def _not_pointwise(self, what: str) -> None:
        if self.quantity == "pointwise":
            raise ValueError(f"claim {self.name!r} is pointwise (an Inequality); it has no {what}")


_STANDARD_NAME = re.compile(r"(R|Y|S0|S1|S2|c0|d_(0|[1-9][0-9]{0,5})|(omega|beta)_[1-9][0-9]{0,5})")


def _standard_name(name: str) -> sp.Symbol | None:
    """A plain symbol for a standard-symbol name of any depth (Bound.from_expr maps it to the
    depth's own symbol), None for any other name."""
    return sp.Symbol(name) if _STANDARD_NAME.fullmatch(name) else None


def _parse_expr(name: str, text: str) -> sp.Expr:
    """A claim's bound text read by the whitelist reader (never run as code)."""
    return read_expr(text, symbols=_standard_name, what=f"claim {name!r}: bound expression",
                     names="R, Y, S0, S1, S2, c0, d_i, omega_i, beta_i")


@dataclass(frozen=True, eq=False)
class Case:
    """A claim and where it is checked: a network, a parameter region, radii.

    Parameters
    ----------
    claim : Claim
    net : MLP
    region : Region
    R : float
        Input radius ``|x| <= R``.
    Y : float or None
        Target radius ``|y| <= Y`` (``lip_loss_grad`` and pointwise claims with targets).
    weight : float
        Relative share of the check's time budget (default 1).
    """

    claim: Claim
    net: Any
    region: Any
    R: float = 1.0
    Y: float | None = None
    weight: float = 1.0

    def __post_init__(self) -> None:
        from symlip.models.cdnn import CDNN
        from symlip.models.network import MLP
        from symlip.models.region import Region

        if not isinstance(self.claim, Claim):
            raise TypeError(f"Case.claim must be a Claim; got {type(self.claim).__name__}")
        if not isinstance(self.net, (MLP, CDNN)):
            raise TypeError(f"Case.net must be an MLP or a CDNN; got {type(self.net).__name__}")
        if not isinstance(self.region, Region):
            raise TypeError(f"Case.region must be a Region; got {type(self.region).__name__}")
        if not (math.isfinite(self.R) and self.R >= 0):
            raise ValueError(f"Case.R must be finite and >= 0; got {self.R!r}")
        if self.Y is not None and not (math.isfinite(self.Y) and self.Y >= 0):
            raise ValueError(f"Case.Y must be None or finite and >= 0; got {self.Y!r}")
        if not (math.isfinite(self.weight) and self.weight > 0):
            raise ValueError(f"Case.weight must be > 0; got {self.weight!r}")

    @property
    def label(self) -> str:
        """``claim @ widths activation region`` for progress lines and reports."""
        return f"{self.claim.name} @ {self.architecture} {self.region.describe()}"

    @property
    def architecture(self) -> str:
        describe = getattr(self.net, "describe", None)  # e.g. a CDNN: "CDNN ode d=2 T=1 N=8 tanh"
        if callable(describe):
            return describe()
        return f"{list(self.net.widths)} {self.net.activation.name}"


class SelfCheckingCase(abc.ABC):
    """A catalogue entry that checks itself (e.g. a statistical claim on SGD,
    :class:`~symlip.training.moment_claims.MomentCase`), beside :class:`Case`,
    which the falsifier attacks."""

    weight: float = 1.0

    @abc.abstractmethod
    def run(self, *, seed: int = 0, source: str | None = None) -> Any:
        """Check the entry; returns its verdict (``status``, ``as_expected``, ``message``)."""
