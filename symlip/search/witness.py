"""Witnesses: the points that realise a claim's best ratio, saved and replayed.

A :class:`Witness` holds everything needed to re-check a violation without the
search that found it: the network (widths and activation), the region, the
radii, the parameter pair ``θ, θ'`` (or input pair ``x, x'``), the data, the
claimed bound as a serialised sympy program, and the values found in float64
and at high precision.  :func:`replay` re-evaluates it at any precision.

Replay reads only numbers and expressions (through the whitelist reader
:mod:`symlip.core.expr`); it never imports or runs code unless asked to with
``trust=True`` (``symlip replay --trust``), which is needed for claims that are
code (pointwise inequalities) and for comparing a claim with its source file.
:class:`WitnessCheck` compares everything replay recomputes with what the file
states; a file that disagrees with itself (or, with ``trust``, with its source)
is never reported ``violated`` but ``tampered``.

A violation is *confirmed* (MATH.md: "float round-off can never fake or hide
one") when the margin ``value - bound`` is positive at two precisions ``d`` and
``d + 30`` that agree on at least :data:`MIN_CONFIRMED_DIGITS` of its digits.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mpmath
import numpy as np
import sympy as sp

from symlip.search import quantities
from symlip.bounds.symbolic import QUANTITIES, Bound, standard_symbols
from symlip.core.expr import read_expr, write_expr
from symlip.search.catalogue import source_case

if TYPE_CHECKING:  # pragma: no cover
    from symlip.search.claims import Claim
    from symlip.models.network import MLP
    from symlip.models.region import Region

__all__ = ["Witness", "Replay", "replay_lipschitz", "confirm", "MIN_CONFIRMED_DIGITS", "WitnessCheck", "REPLAY_STATUSES"]

#: digits of the violation margin two precisions must share for "violated".
MIN_CONFIRMED_DIGITS = 3
EXTRA_DPS = 30
_FORMAT = "symlip-witness/2"  # /1 stored expressions as sympy srepr text, which replay no longer evaluates
_OLD_FORMATS = ("symlip-witness/1", "symlip-audit-witness/1")
#: statuses of :class:`Replay`
REPLAY_STATUSES = ("violated", "not violated", "inconclusive", "tampered", "needs-trust")
#: relative tolerances of a file's float64 fields against the recomputed values: the
#: bound is one float64 kernel evaluation; the value a float64 difference quotient
#: whose cancellation the falsifier keeps below 3 digits (the float64 sides of a
#: pointwise inequality are not compared: they may cancel any number of digits)
_BOUND_REL = 1e-9
_VALUE_REL = 1e-6


def write_json(path: str | Path, data: dict[str, Any]) -> Path:
    """Write a witness dictionary as indented JSON (folders created); returns the path."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    return p


def read_json(path: str | Path) -> dict[str, Any]:
    """A witness file's dictionary (``ValueError`` if missing or not JSON)."""
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"no such witness file: {str(path)!r}")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        raise ValueError(f"{str(path)!r} is not a JSON witness file: {type(exc).__name__}: "
                         f"{str(exc)[:200]}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{str(path)!r} is not a symlip witness (a JSON object with the witness fields)")
    return data


def load_witness_data(witness: Any) -> tuple[dict[str, Any], Path | None]:
    """A witness's dictionary and the folder of its file (None for an object in memory).

    ``witness`` is a path, a dictionary, or an object with ``to_dict()`` (a
    :class:`Witness` or an audit witness) or ``data`` (an SGD-moment witness).
    """
    if isinstance(witness, (str, Path)):
        return read_json(witness), Path(witness).parent
    if isinstance(witness, dict):
        return witness, None
    if callable(getattr(witness, "to_dict", None)):
        return witness.to_dict(), None
    if isinstance(getattr(witness, "data", None), dict):
        return witness.data, None
    raise TypeError(f"a witness is a file path, a dict or a witness object; got {type(witness).__name__}")


@dataclass(frozen=True)
class Confirmation:
    """The outcome of :func:`confirm`: both values at ``dps`` digits and the verdict."""

    confirmed: bool
    value_mp: mpmath.mpf
    bound_mp: mpmath.mpf
    confirmed_digits: int
    dps: int
    problems: tuple[str, ...] = ()

    @property
    def margin(self) -> mpmath.mpf:
        return self.value_mp - self.bound_mp


def confirm(claim: "Claim", net: "MLP", region: "Region", w: dict[str, Any], R: float,
            Y: float | None, dps: int = 50, bound_value: Any = None) -> Confirmation:
    """Evaluate a witness at ``dps`` and ``dps + 30`` digits and decide whether the
    violation ``value > bound`` is real.

    ``confirmed`` needs: the witness admissible (inside the region and the
    radii), a positive margin at the higher precision, and the two precisions
    agreeing on at least :data:`MIN_CONFIRMED_DIGITS` digits of the margin.
    ``confirmed_digits`` is how many digits of the margin agree (0 when it is
    not positive).
    """
    problems = tuple(quantities.domain_problems(claim, net, region, w, R, Y))
    vals = []
    for d in (dps, dps + EXTRA_DPS):
        with mpmath.workdps(d):
            v = quantities.pair_value_mp(claim, net, w, d)
            if claim.quantity == "pointwise":
                b = quantities.rhs_value(claim, net, w, d)
            elif bound_value is not None:
                b = mpmath.mpf(bound_value)
            else:
                b = claim.bound_value_mp(net, region, R=R, Y=Y, dps=d)
            vals.append((v, b))
    (v1, b1), (v2, b2) = vals
    with mpmath.workdps(dps + EXTRA_DPS):
        m1, m2 = v1 - b1, v2 - b2
        if m2 > 0:
            diff = abs(m1 - m2)
            digits = dps if diff == 0 else int(min(dps, max(0, math.floor(-mpmath.log10(diff / abs(m2))))))
        else:
            digits = 0
    confirmed = not problems and m2 > 0 and m1 > 0 and digits >= MIN_CONFIRMED_DIGITS
    with mpmath.workdps(dps):
        return Confirmation(confirmed=confirmed, value_mp=+v2, bound_mp=+b2, confirmed_digits=digits,
                            dps=dps, problems=problems)


# ---------------------------------------------------------------------------
# the witness record
# ---------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Witness:
    """A point (pair) realising a claim's ratio, with its values (see module doc).

    ``value``/``bound`` are float64; ``value_mp``/``bound_mp`` the high-precision
    values as decimal strings (None when the ratio was far below 1 and no
    confirmation was needed).
    """

    claim: str
    quantity: str
    expect: str
    widths: tuple[int, ...]
    activation: dict
    region: dict
    R: float
    Y: float | None
    theta: np.ndarray
    theta2: np.ndarray | None
    x: np.ndarray
    x2: np.ndarray | None
    y: np.ndarray | None
    value: float
    bound: float
    value_mp: str | None = None
    bound_mp: str | None = None
    dps: int | None = None
    confirmed_digits: int = 0
    bound_spec: dict = field(default_factory=dict)
    source: str | None = None
    strategy: str = ""
    seed: int = 0
    model: dict | None = None  # None: MLP(widths, activation); else e.g. a CDNN spec (symlip.models.cdnn)

    @property
    def ratio(self) -> float:
        """``value / bound`` (``inf`` for a positive value over a zero bound)."""
        return _ratio(self.value, self.bound)

    @property
    def points(self) -> dict[str, Any]:
        return {"theta": self.theta, "theta2": self.theta2, "x": self.x, "x2": self.x2, "y": self.y}

    # -- serialisation ------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict; floats keep every bit (``repr`` round-trips)."""
        def arr(a: np.ndarray | None) -> Any:
            return None if a is None else np.asarray(a, dtype=float).tolist()

        out = {
            "format": _FORMAT, "claim": self.claim, "quantity": self.quantity, "expect": self.expect,
            "widths": list(self.widths), "activation": self.activation, "region": self.region,
            "R": self.R, "Y": self.Y,
            "theta": arr(self.theta), "theta2": arr(self.theta2), "x": arr(self.x), "x2": arr(self.x2),
            "y": arr(self.y), "value": json_float(self.value), "bound": json_float(self.bound),
            "ratio": json_float(self.ratio), "value_mp": self.value_mp, "bound_mp": self.bound_mp,
            "dps": self.dps, "confirmed_digits": self.confirmed_digits, "bound_spec": self.bound_spec,
            "source": self.source, "strategy": self.strategy, "seed": self.seed,
        }
        if self.model is not None:  # only non-MLP models: MLP witness files are unchanged
            out["model"] = self.model
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Witness":
        """Inverse of :meth:`to_dict`; ``ValueError`` names a missing or bad field."""
        if isinstance(d, dict) and d.get("format") in _OLD_FORMATS:
            raise ValueError(f"this witness has the old format {d['format']!r}, whose expressions are sympy srepr "
                             "text that replay no longer evaluates; regenerate it with symlip check")
        if not isinstance(d, dict) or d.get("format") != _FORMAT:
            raise ValueError(f"not a symlip witness (expected format {_FORMAT!r})")
        f = WitnessCheck(d)
        return cls(
            claim=f.text("claim"), quantity=f.text("quantity", choices=(*QUANTITIES, "pointwise")),
            expect=f.text("expect", default="holds", choices=("holds", "fails")), widths=f.widths(),
            activation=f.mapping("activation"), region=f.mapping("region"), R=f.number("R", low=0.0),
            Y=f.number("Y", low=0.0, optional=True), theta=f.array("theta", 1),
            theta2=f.array("theta2", 1, optional=True), x=f.array("x", 2), x2=f.array("x2", 2, optional=True),
            y=f.array("y", 1, optional=True), value=f.number("value", infinite=True),
            bound=f.number("bound", infinite=True), value_mp=f.decimal("value_mp", optional=True),
            bound_mp=f.decimal("bound_mp", optional=True), dps=f.integer("dps", low=16, optional=True),
            confirmed_digits=f.integer("confirmed_digits", default=0, low=0),
            bound_spec=f.mapping("bound_spec", default={}), source=f.text("source", optional=True),
            strategy=f.text("strategy", default=""), seed=f.integer("seed", default=0),
            model=f.mapping("model", optional=True),
        )

    def save(self, path: str | Path) -> Path:
        """Write the witness as JSON; returns the path."""
        return write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> "Witness":
        """Read a witness file written by :meth:`save` (``ValueError`` if it is not one)."""
        return cls.from_dict(read_json(path))

    # -- rebuilding the objects --------------------------------------------
    def rebuild(self, base: str | Path | None = None, *,
                trust: bool = False) -> tuple["Claim", "MLP", "Region"]:
        """The claim, network and region this witness is about, from the file's data alone.

        A claim that is code (a pointwise inequality) is re-imported from its
        recorded source file only with ``trust=True`` (importing runs that file);
        the file is looked up from the working directory and then from ``base``
        (the witness file's folder) and its parents.  ``ValueError`` otherwise.
        """
        from symlip.search.claims import Claim
        from symlip.models.network import MLP

        act = _activation_from(self.activation)
        numeric = self.bound_spec.get("numeric")
        if numeric:  # numeric constants the bound rested on (allow_numeric): the recorded values
            try:
                act = act.with_constants(**{str(k): float(v) for k, v in dict(numeric).items()})
            except (TypeError, ValueError) as exc:
                raise ValueError(f"witness field 'numeric' is not readable: {exc}") from None
        if self.model is None:
            net = MLP(self.widths, act)
        else:
            net = _model_from(self.model, act, self.widths)
        region = _region_from(self.region)
        spec = self.bound_spec
        kind = spec.get("kind")
        if kind == "bound":
            bound: Any = _bound_from(spec, net.depth)
        elif kind == "number":
            bound = _spec_number(spec)
        elif kind == "source":
            if not trust:
                raise ValueError(needs_trust_message(self.source))
            return self.source_case(base).claim, net, region
        else:
            raise ValueError(f"witness field 'bound_spec' has an unknown kind {kind!r}; allowed: 'bound', 'number', "
                             "'source'")
        claim = Claim(self.claim, self.quantity, bound, expect=self.expect if self.expect in ("holds", "fails")
                      else "holds")
        return claim, net, region

    def source_case(self, base: str | Path | None = None) -> Any:
        """The catalogue case this witness came from: imports its source file (runs its code)."""
        return source_case(self.source, self.claim, base)


def needs_trust_message(source: str | None) -> str:
    """Why a witness whose claim is code cannot be replayed without ``trust``."""
    if not source or "::" not in source:
        return ("this witness's claim is Python code (a pointwise inequality) and its source file is not "
                "recorded; it cannot be replayed from the file alone")
    return (f"this witness's claim is Python code in {source.rpartition('::')[0]}; re-run with --trust "
            "(trust=True) to import that file")


def _ratio(value: float, bound: float) -> float:
    if bound > 0:
        return value / bound
    return math.inf if value > 0 else 0.0


def json_float(v: float) -> float | str:
    """A float for strict JSON: non-finite values become their repr (``'inf'``)."""
    return v if math.isfinite(v) else repr(v)


def activation_spec(act: Any) -> dict[str, Any]:
    """A JSON-able description of an :class:`~symlip.Activation` (the expression as
    :func:`~symlip.core.expr.write_expr` text)."""
    return {"name": act.name, "expr": write_expr(act.expr), "params": [list(p) for p in act.params],
            "claimed": [list(c) for c in act.claimed]}


def _activation_from(d: Any, key: str = "activation") -> Any:
    """The :class:`~symlip.Activation` of an :func:`activation_spec` (read safely, never run)."""
    from symlip.activations.registry import Activation

    if not isinstance(d, dict):
        raise ValueError(f"witness field {key!r} must be an object with name, expr, params, claimed")
    text = d.get("expr")
    if not isinstance(text, str):
        raise ValueError(f"witness field '{key}.expr' must be an expression in t (a string); got {text!r}")
    try:
        expr = Activation.from_expr(text).expr
    except (ValueError, TypeError) as exc:
        raise ValueError(f"witness field '{key}.expr' is not readable: {exc}") from None
    name = d.get("name", "custom")
    if not isinstance(name, str):
        raise ValueError(f"witness field '{key}.name' must be a string; got {name!r}")
    pairs = {}
    for part in ("params", "claimed"):
        items = d.get(part, [])
        try:
            pairs[part] = tuple((str(k), float(v)) for k, v in items)
        except (TypeError, ValueError):
            raise ValueError(f"witness field '{key}.{part}' must be a list of [name, number] pairs; "
                             f"got {items!r}") from None
        if any(math.isnan(v) for _, v in pairs[part]):
            raise ValueError(f"witness field '{key}.{part}' has a nan")
    bad = [k for k, v in pairs["claimed"] if k not in ("S0", "S1", "S2", "c0") or v < 0]
    if bad:
        raise ValueError(f"witness field '{key}.claimed' has a bad entry {bad[0]!r} (allowed: S0, S1, S2, c0 "
                         "with values >= 0)")
    return Activation(name=name, expr=expr, params=pairs["params"], claimed=pairs["claimed"])


def _activation_problem(act: Any) -> str | None:
    """Why an activation's name disagrees with its expression (None when it does not).

    A registry name (``tanh``, ``leaky_relu(alpha=1/10)``) must give exactly the
    registry's expression and parameters, a name that is an expression in ``t``
    must be that expression, and a ``[claimed ...]`` suffix must state exactly the
    claimed constants.  Other names are free labels (shown with the expression).
    """
    from symlip.activations.registry import activation, available_activations

    name = act.name
    base = name.split(" [claimed ")[0]
    if act.claimed:
        label = base + " [claimed " + ", ".join(f"{k}={v:g}" for k, v in sorted(act.claimed)) + "]"
        if name != label:
            return f"the name {name!r} does not state the claimed constants {dict(act.claimed)} ({label!r})"
    elif base != name:
        return f"the name {name!r} states claimed constants, but the file claims none"
    registry = available_activations()
    m = re.fullmatch(r"\s*([A-Za-z_]\w*)\s*(\(\s*[A-Za-z_]\w*\s*=.*\))?\s*", base)
    ref = None
    if m and m.group(1).lower() in registry:
        params: dict[str, Any] = {}
        try:
            for part in (m.group(2) or "()")[1:-1].split(","):
                if part.strip():
                    k, _, v = part.partition("=")
                    params[k.strip()] = read_expr(v.strip(), what=f"parameter {k.strip()} in the name {name!r}")
            ref = activation(m.group(1).lower(), **params)
        except ValueError:
            ref = None  # not registry parameters (e.g. torch's softplus(beta=2)): a free label
        if ref is not None and (ref.expr != act.expr or ref.params != act.params):
            return (f"the name {name!r} is the registry's {sp.sstr(ref.expr)} with parameters {dict(ref.params)}, "
                    f"but the file's expression is {sp.sstr(act.expr)} with parameters {dict(act.params)}")
    if ref is None and re.sub(r"[\W_]+", "", base.lower()) in {re.sub(r"[\W_]+", "", r) for r in registry}:
        return f"the name {name!r} looks like a registry activation, but is not one (expression {sp.sstr(act.expr)})"
    if ref is None:
        try:
            named = activation(base)
        except (ValueError, TypeError):
            return None  # a free label
        if named.expr != act.expr:
            return f"the name {name!r} is the expression {sp.sstr(named.expr)}, but the file's is {sp.sstr(act.expr)}"
    return None


def activation_label(act: Any) -> str:
    """An activation's name, with its expression unless the name is a registry name or the expression."""
    from symlip.activations.registry import available_activations

    if act.name in available_activations() or act.name == sp.sstr(act.expr):
        return act.name
    return f"{act.name} (σ(t) = {sp.sstr(act.expr)})"


def model_spec(net: Any) -> dict[str, Any] | None:
    """How a witness stores a network other than an MLP (None for an MLP, whose
    widths and activation suffice): the network's ``model_spec()``, e.g. a CDNN."""
    spec = getattr(net, "model_spec", None)
    return spec() if callable(spec) else None


def _model_from(spec: dict[str, Any], act: Any, widths: tuple[int, ...]) -> Any:
    if spec.get("kind") != "cdnn":
        raise ValueError(f"witness model has an unknown kind {spec.get('kind')!r}; allowed: 'cdnn'")
    from symlip.models.cdnn import model_from_spec

    net = model_from_spec(spec, act)
    if tuple(net.widths) != tuple(widths):
        raise ValueError(f"witness model {net!r} does not match the recorded widths {list(widths)}")
    return net


def region_spec(region: "Region") -> dict[str, Any]:
    """A JSON-able description of a :class:`~symlip.Region`."""
    if region.kind == "box":
        enc = (lambda v: list(v) if isinstance(v, tuple) else v)  # noqa: E731
        return {"kind": "box", "omega": enc(region.omega), "beta": enc(region.beta)}
    return {"kind": "ball", "center": np.asarray(region.center, float).tolist(), "radius": region.radius}


def _region_from(d: dict[str, Any]) -> "Region":
    from symlip.models.region import Region

    try:
        if d.get("kind") == "box":
            return Region.box(d["omega"], d["beta"])
        if d.get("kind") == "ball":
            return Region.ball(d["center"], d["radius"])
    except KeyError as exc:
        raise ValueError(f"witness region lacks the field {exc.args[0]!r}") from None
    except (TypeError, ValueError) as exc:
        raise ValueError(f"witness field 'region' is not a region: {exc}") from None
    raise ValueError(f"witness region has an unknown kind {d.get('kind')!r}; allowed: 'box', 'ball'")


def bound_spec(claim: "Claim", net: "MLP", bound_value: float) -> dict[str, Any]:
    """How a witness stores the claimed bound: the sympy program of a
    :class:`~symlip.Bound` (exact, as :func:`~symlip.core.expr.write_expr` text), the
    number for numbers and callables, or a pointer to the source for pointwise claims."""
    if claim.quantity == "pointwise":
        return {"kind": "source"}
    b = claim.bound_for(net)
    if b is None:
        return {"kind": "number", "value": bound_value}
    spec = {"kind": "bound", "quantity": b.quantity, "depth": b.depth, "requires": b.requires, "name": b.name,
            "steps": [[s.name, write_expr(rhs)] for s, rhs in b.steps], "result": write_expr(b.result),
            "subs": [[s.name, write_expr(v)] for s, v in b._subs]}
    weak = net.activation.unproven(b.activation_constants()) if claim.allow_numeric else ()
    if weak:  # the numeric estimates the bound rested on: replayed as stated values (claimed constants)
        spec["numeric"] = {c.name: c.upper for c in weak}
    return spec


_STEP_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*(_[A-Za-z0-9]+)*")


def _bound_from(spec: dict[str, Any], depth: int) -> Bound:
    """The :class:`~symlip.Bound` of a ``bound_spec`` of kind ``"bound"`` (read safely, never run)."""
    f = WitnessCheck(spec, prefix="bound_spec.")
    if f.integer("depth", low=1) != depth:
        raise ValueError(f"witness field 'bound_spec.depth' is {spec.get('depth')!r}, but the network has depth "
                         f"{depth}")
    std = {sym.name: sym for sym in standard_symbols(depth).ordered}
    table = dict(std)
    steps = []
    if f.text("quantity") not in QUANTITIES:
        raise ValueError(f"witness field 'bound_spec.quantity' must be one of {', '.join(QUANTITIES)}; "
                         f"got {spec.get('quantity')!r}")
    for key in ("steps", "subs"):
        if key not in spec or not isinstance(spec[key], list):
            raise ValueError(f"witness field 'bound_spec.{key}' must be a list; got {spec.get(key)!r}")
    for k, pair in enumerate(f.items("steps")):
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(x, str) for x in pair)):
            raise ValueError(f"witness field 'bound_spec.steps[{k}]' must be a pair [name, expression]")
        name, text = pair
        if not _STEP_NAME.fullmatch(name) or name in table:
            raise ValueError(f"witness field 'bound_spec.steps[{k}]': {name!r} is not a new step name")
        rhs = read_expr(text, symbols=table, allow_oo=True, what=f"witness field 'bound_spec.steps[{k}]'")
        sym = sp.Symbol(name, nonnegative=True, finite=True)  # as symlip.bounds.symbolic.derive makes them
        table[name] = sym
        steps.append((sym, rhs))
    result = read_expr(f.text("result"), symbols=table, allow_oo=True, what="witness field 'bound_spec.result'")
    subs = []
    for k, pair in enumerate(f.items("subs")):
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(x, str) for x in pair)) \
                or pair[0] not in std:
            raise ValueError(f"witness field 'bound_spec.subs[{k}]' must be a pair [standard symbol, expression]")
        subs.append((std[pair[0]], read_expr(pair[1], symbols=std, allow_oo=True,
                                             what=f"witness field 'bound_spec.subs[{k}]'")))
    return Bound(quantity=f.text("quantity"), depth=depth, steps=tuple(steps), result=result,
                 requires=f.text("requires", optional=True, choices=("lipschitz", "smooth", "bounded")),
                 name=f.text("name", default=""), _subs=tuple(subs))


def _spec_number(spec: dict[str, Any]) -> float:
    return WitnessCheck(spec, prefix="bound_spec.").number("value", low=0.0)


# ---------------------------------------------------------------------------
# reading fields and checking integrity (one helper for the three witness kinds)
# ---------------------------------------------------------------------------
_REQUIRED = object()
_DECIMAL = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d{1,9})?")


class WitnessCheck:
    """Reads a witness file's fields and records where the file disagrees with itself
    or with its source: the one integrity helper of the Lipschitz, input-Lipschitz
    (audit) and SGD-moment witnesses.

    The readers (:meth:`text`, :meth:`number`, :meth:`array`, ...) raise
    ``ValueError`` naming a missing or malformed field.  The comparisons
    (:meth:`same`, :meth:`close`, :meth:`digits`, :meth:`activation`) collect
    disagreements in :attr:`problems`; :meth:`verdict` then turns a ``violated``
    replay into ``tampered`` (a replay that is not a violation keeps its status and
    names the disagreements).
    """

    def __init__(self, data: Any, prefix: str = "") -> None:
        if not isinstance(data, dict):
            raise ValueError(f"witness field {prefix.rstrip('.') or 'file'!r} must be a JSON object; "
                             f"got {type(data).__name__}")
        self.data = data
        self.prefix = prefix
        self.problems: list[str] = []
        self.notes: list[str] = []

    # -- reading ------------------------------------------------------------
    def _field(self, key: str) -> str:
        return repr(self.prefix + key)

    def get(self, key: str, default: Any = _REQUIRED) -> Any:
        """The raw value of ``key`` (``ValueError`` when it is missing and has no default)."""
        v = self.data.get(key)
        if v is None:
            if default is _REQUIRED:
                raise ValueError(f"witness field {self._field(key)} is missing")
            return default
        return v

    def text(self, key: str, default: Any = _REQUIRED, optional: bool = False,
             choices: tuple[str, ...] | None = None) -> Any:
        """A string field (one of ``choices`` when given)."""
        v = self.get(key, None if optional else default)
        if v is None:
            return None
        if not isinstance(v, str) or (choices is not None and v not in choices):
            allowed = f"one of {', '.join(choices)}" if choices else "a string"
            raise ValueError(f"witness field {self._field(key)} must be {allowed}; got {v!r}")
        return v

    def mapping(self, key: str, default: Any = _REQUIRED, optional: bool = False) -> Any:
        """An object field (a dict)."""
        v = self.get(key, None if optional else default)
        if v is not None and not isinstance(v, dict):
            raise ValueError(f"witness field {self._field(key)} must be an object; got {type(v).__name__}")
        return None if v is None else dict(v)

    def items(self, key: str) -> list:
        """A list field (empty when missing)."""
        v = self.get(key, [])
        if not isinstance(v, list):
            raise ValueError(f"witness field {self._field(key)} must be a list; got {type(v).__name__}")
        return v

    def flag(self, key: str) -> bool:
        v = self.get(key)
        if not isinstance(v, bool):
            raise ValueError(f"witness field {self._field(key)} must be true or false; got {v!r}")
        return v

    def integer(self, key: str, default: Any = _REQUIRED, optional: bool = False, low: int | None = None,
                high: int | None = None) -> Any:
        """An integer field in ``[low, high]``."""
        v = self.get(key, None if optional else default)
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, int) or (low is not None and v < low) \
                or (high is not None and v > high):
            bounds = f" >= {low}" if high is None and low is not None else \
                f" in [{low}, {high}]" if high is not None else ""
            raise ValueError(f"witness field {self._field(key)} must be an integer{bounds}; got {v!r}")
        return int(v)

    def number(self, key: str, default: Any = _REQUIRED, optional: bool = False, low: float | None = None,
               positive: bool = False, infinite: bool = False) -> Any:
        """A finite number field (``infinite``: also ``inf``, written ``"inf"``), ``>= low`` or ``> 0``."""
        v = self.get(key, None if optional else default)
        if v is None:
            return None
        x = float(v) if infinite and v in ("inf", "-inf") else v
        ok = not isinstance(x, bool) and isinstance(x, (int, float)) and not math.isnan(x) and \
            (math.isfinite(x) or infinite) and (low is None or x >= low) and (not positive or x > 0)
        if not ok:
            need = "a number" if infinite else "a finite number"
            need += " > 0" if positive else f" >= {low:g}" if low is not None else ""
            raise ValueError(f"witness field {self._field(key)} must be {need}; got {v!r}")
        return float(x)

    def decimal(self, key: str, optional: bool = False) -> Any:
        """A high-precision value written as a decimal string."""
        v = self.get(key, None if optional else _REQUIRED)
        if v is None:
            return None
        if not isinstance(v, str) or len(v) > 400 or not _DECIMAL.fullmatch(v.strip()):
            raise ValueError(f"witness field {self._field(key)} must be a decimal number as a string; got {v!r:.80}")
        return v

    def array(self, key: str, ndim: int, optional: bool = False, shape: tuple | None = None) -> Any:
        """A finite float array field with ``ndim`` dimensions (and ``shape``: None entries free)."""
        v = self.get(key, None if optional else _REQUIRED)
        if v is None:
            return None
        try:
            a = np.array(v, dtype=float) if _numbers_only(v) else None
        except (TypeError, ValueError, OverflowError):
            a = None
        if a is None or a.ndim != ndim or a.size == 0 or not np.all(np.isfinite(a)):
            raise ValueError(f"witness field {self._field(key)} must be a finite non-empty {ndim}-d array of "
                             "numbers")
        if shape is not None and any(want is not None and got != want for got, want in zip(a.shape, shape)):
            want = "(" + ", ".join("n" if w is None else str(w) for w in shape) + ")"
            raise ValueError(f"witness field {self._field(key)} has shape {a.shape}; it must be {want}")
        return a

    def widths(self, key: str = "widths") -> tuple[int, ...]:
        """Layer widths: at least two integers >= 1."""
        v = self.get(key)
        if not (isinstance(v, list) and len(v) >= 2 and all(isinstance(w, int) and not isinstance(w, bool)
                                                            and 1 <= w <= 10**6 for w in v)):
            raise ValueError(f"witness field {self._field(key)} must be a list of at least two integers in "
                             f"[1, 10^6]; got {v!r:.80}")
        return tuple(v)

    # -- comparing ----------------------------------------------------------
    def mismatch(self, key: str, text: str) -> None:
        """Record that field ``key`` disagrees with the rest of the file or its source."""
        self.problems.append(f"{self.prefix + key}: {text}")

    def activation(self, spec: Any, key: str = "activation") -> Any:
        """The activation of an :func:`activation_spec` or of a registry name or expression
        (read safely; ``ValueError`` if unreadable), recording a name that disagrees with
        the expression or parameters."""
        if isinstance(spec, str):
            from symlip.activations.registry import activation

            try:
                return activation(spec)
            except (ValueError, TypeError) as exc:
                raise ValueError(f"witness field {self._field(key)}: {exc}") from None
        act = _activation_from(spec, self.prefix + key)
        problem = _activation_problem(act)
        if problem:
            self.mismatch(key, problem)
        return act

    def same(self, key: str, recorded: Any, expected: Any, where: str = "its source") -> None:
        """Record ``recorded != expected`` (exact comparison)."""
        if recorded != expected:
            self.mismatch(key, f"the file states {_short(recorded)}, {where} {_short(expected)}")

    def close(self, key: str, recorded: float, recomputed: Any, rel: float, where: str = "recomputed") -> None:
        """Record ``|recorded - recomputed| > rel |recomputed|`` (floats; inf only equals inf)."""
        r, c = float(recorded), float(recomputed)
        if not (r == c or (math.isfinite(r) and math.isfinite(c) and abs(r - c) <= rel * max(abs(c), 1e-300))):
            self.mismatch(key, f"the file states {r!r}, {where} {c!r}")

    def digits(self, key: str, recorded: str | None, recomputed: Any, dps: int | None,
               where: str = "recomputed") -> None:
        """Record a high-precision value that disagrees with the recomputed one beyond the
        digits it claims: its significant digits (at most ``dps``, the precision it was
        computed at), less two for rounding."""
        if recorded is None:
            return
        mant = re.sub(r"[eE].*", "", recorded).replace(".", "").lstrip("+-").lstrip("0")
        k = max(1, min(len(mant), dps or len(mant)) - 2)
        with mpmath.workdps(max(k + 10, mpmath.mp.dps)):
            r, c = mpmath.mpf(recorded), mpmath.mpf(recomputed)
            if abs(r - c) > mpmath.mpf(10) ** (-k) * abs(c):
                self.mismatch(key, f"the file states {recorded}, {where} {mpmath.nstr(c, min(k + 2, 40))} "
                                   f"(they should agree to {k} digits)")

    def verdict(self, rep: "Replay") -> "Replay":
        """``rep`` with the disagreements: ``tampered`` instead of ``violated``; any other
        status kept, with the disagreements named in the message."""
        notes = "".join(f"; {n}" for n in self.notes)
        if not self.problems:
            return Replay(**{**rep.__dict__, "message": rep.message + notes})
        listed = "; ".join(self.problems)
        if rep.status == "violated":
            msg = (f"tampered: the file disagrees with itself or its source ({listed}); its own data would "
                   f"give: {rep.message}{notes}")
            return Replay(**{**rep.__dict__, "status": "tampered", "message": msg})
        return Replay(**{**rep.__dict__, "message": f"{rep.message}; the file also disagrees with itself or "
                                                    f"its source ({listed}){notes}"})


def _numbers_only(v: Any) -> bool:
    """Whether ``v`` is a (nested) list of JSON numbers: no strings, booleans or nulls."""
    if isinstance(v, list):
        return all(_numbers_only(e) for e in v)
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _short(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 120 else text[:117] + "..."


# ---------------------------------------------------------------------------
# replay
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Replay:
    """The result of :func:`replay`.

    ``status``: ``"violated"`` (confirmed at two precisions, the file agreeing with
    itself), ``"not violated"``, ``"inconclusive"`` (margin not stable, or a point
    outside the region), ``"tampered"`` (the file's own data violate its claim, but
    the file disagrees with itself or with its source: never reported as a
    violation), or ``"needs-trust"`` (the claim is code in a source file; replay
    with ``trust=True``).  ``title`` says what the witness is about; ``labels``
    name ``value_mp`` and ``bound_mp``.
    """

    status: str
    value_mp: str
    bound_mp: str
    ratio: float
    confirmed_digits: int
    dps: int
    message: str
    title: str = ""
    labels: tuple[str, str] = ("value", "bound")

    @property
    def violated(self) -> bool:
        return self.status == "violated"

    def _repr_markdown_(self) -> str:
        """Notebook display: the replay's status and values as a Markdown table."""
        from symlip.core.display import markdown_fields

        return markdown_fields(f"{self.title or 'replay'}: {self.status}", [
            (self.labels[0], self.value_mp), (self.labels[1], self.bound_mp), ("ratio", self.ratio),
            ("confirmed digits", self.confirmed_digits or None), ("digits", self.dps), ("message", self.message)])


def replay_lipschitz(data: dict[str, Any], base: Path | None, dps: int, *, trust: bool = False) -> Replay:
    """Replay a Lipschitz witness (no ``kind``) from its parsed file ``data`` at ``dps``
    digits: see :func:`symlip.verify.replay`, which dispatches on the witness's kind."""
    w = Witness.from_dict(data)
    chk = WitnessCheck(data)
    act = chk.activation(w.activation)
    title = (f"{w.claim} ({w.quantity}) @ {list(w.widths)} {activation_label(act)}"
             + (f" from {w.source}" if w.source else ""))
    spec = w.bound_spec
    if spec.get("kind") == "source" and not trust:
        return Replay(status="needs-trust", value_mp="", bound_mp="", ratio=math.nan, confirmed_digits=0,
                      dps=dps, message=needs_trust_message(w.source), title=title)
    claim, net, region = w.rebuild(base=base, trust=trust)
    _check_points(w, net)
    chk.close("ratio", chk.number("ratio", infinite=True), _ratio(w.value, w.bound), 1e-12,
              "value / bound gives")
    fixed = _spec_number(spec) if spec.get("kind") == "number" else None
    if fixed is not None:
        chk.same("bound", w.bound, fixed, "its bound_spec gives")
    if trust and w.source:
        _compare_with_source(chk, w, claim, net, region, base, dps)
    elif w.source:
        chk.notes.append(f"the claim is the file's own; it was not compared with its source {w.source} "
                         "(re-run with --trust to import it and compare)")
    with np.errstate(over="ignore", invalid="ignore"):  # a norm of a huge θ is inf: outside, said below
        problems = quantities.domain_problems(claim, net, region, w.points, w.R, w.Y)
    if problems:
        return chk.verdict(inadmissible(problems, dps, title))
    try:
        c = confirm(claim, net, region, w.points, w.R, w.Y, dps=dps, bound_value=fixed)
    except (ValueError, ArithmeticError) as exc:
        raise ValueError(f"the witness cannot be replayed: {exc}") from None
    chk.digits("value_mp", w.value_mp, c.value_mp, min(w.dps or dps, dps))
    chk.digits("bound_mp", w.bound_mp, c.bound_mp, min(w.dps or dps, dps))
    if w.quantity != "pointwise":  # float64 sides of an inequality may cancel: only their mp values are checked
        chk.close("value", w.value, c.value_mp, _VALUE_REL)
        chk.close("bound", w.bound, c.bound_mp, _BOUND_REL)
    if w.confirmed_digits and w.value_mp is None:
        chk.mismatch("confirmed_digits", f"the file claims {w.confirmed_digits} confirmed digits but has no value_mp")
    return chk.verdict(replay_result(c, dps, title=title))


def _check_points(w: Witness, net: Any) -> None:
    """``ValueError`` unless the witness's points have the network's shapes."""
    P, d = net.n_params, net.d_in
    for key in ("theta", "theta2"):
        a = getattr(w, key)
        if a is not None and a.shape != (P,):
            raise ValueError(f"witness field {key!r} has {a.size} entries; widths {list(w.widths)} need {P}")
    n = w.x.shape[0]
    for key in ("x", "x2"):
        a = getattr(w, key)
        if a is not None and a.shape != (n, d):
            raise ValueError(f"witness field {key!r} has shape {a.shape}; it must be ({n}, {d})")
    if w.y is not None and w.y.shape != (n,):
        raise ValueError(f"witness field 'y' has {w.y.size} entries; x has {n} rows")


def _compare_with_source(chk: WitnessCheck, w: Witness, claim: Any, net: Any, region: Any,
                         base: Path | None, dps: int) -> None:
    """Record where a witness disagrees with its source case (imports the source: ``trust`` only)."""
    case = w.source_case(base)
    for key, recorded, expected in (
            ("quantity", w.quantity, case.claim.quantity), ("expect", w.expect, case.claim.expect),
            ("widths", list(w.widths), list(case.net.widths)),
            ("activation", w.activation, activation_spec(case.net.activation)),
            ("region", w.region, region_spec(case.region)), ("R", w.R, case.R), ("Y", w.Y, case.Y),
            ("model", w.model, model_spec(case.net))):
        chk.same(key, recorded, expected)
    if w.quantity == "pointwise":
        return  # the claim was rebuilt from the source itself
    src = case.claim.bound_value_mp(case.net, case.region, R=case.R, Y=case.Y, dps=dps)
    own = claim.bound_value_mp(net, region, R=w.R, Y=w.Y, dps=dps) if w.bound_spec.get("kind") == "bound" \
        else _spec_number(w.bound_spec)
    chk.close("bound_spec", own, src, 10.0 ** (20 - dps) if w.bound_spec.get("kind") == "bound" else 1e-12,
              "its source's bound is")


def inadmissible(problems: Any, dps: int, title: str = "", labels: tuple[str, str] = ("value", "bound")) -> Replay:
    """The ``inconclusive`` replay of a witness whose points are not admissible (not evaluated)."""
    return Replay(status="inconclusive", value_mp="", bound_mp="", ratio=math.nan, confirmed_digits=0, dps=dps,
                  message="inconclusive: the witness is not admissible: " + "; ".join(problems), title=title,
                  labels=labels)


def replay_result(c: Any, dps: int, value: str = "value", bound: str = "bound", title: str = "") -> Replay:
    """A :class:`Replay` from a two-precision confirmation ``c`` (``value_mp``, ``bound_mp``,
    ``problems``, ``confirmed``, ``margin``, ``confirmed_digits``)."""
    with mpmath.workdps(dps):
        ratio = float(c.value_mp / c.bound_mp) if c.bound_mp > 0 else (math.inf if c.value_mp > 0 else 0.0)
        v, b = mpmath.nstr(c.value_mp, min(dps, 40)), mpmath.nstr(c.bound_mp, min(dps, 40))
    if c.problems:
        status, msg = "inconclusive", "the witness is not admissible: " + "; ".join(c.problems)
    elif c.confirmed:
        status = "violated"
        msg = (f"violated: {value} {v} > {bound} {b} at {dps} digits "
               f"({c.confirmed_digits} digits of the margin confirmed at {dps} and {dps + EXTRA_DPS})")
    elif c.margin <= 0:
        status, msg = "not violated", f"not violated: {value} {v} <= {bound} {b} at {dps} digits"
    else:
        status = "inconclusive"
        msg = (f"inconclusive: {value} {v} vs {bound} {b}; the margin is not stable across "
               f"{dps} and {dps + EXTRA_DPS} digits")
    return Replay(status=status, value_mp=v, bound_mp=b, ratio=ratio, confirmed_digits=c.confirmed_digits,
                  dps=dps, message=msg, title=title, labels=(value, bound))
