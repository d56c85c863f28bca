"""Lipschitz witnesses: the points that realise a claim's best ratio, saved and replayed.

A :class:`Witness` (kind ``"lipschitz"`` of the witness format,
:mod:`symlip.search.witness_format`) holds everything needed to re-check a
violation without the search that found it: the network (widths and activation),
the region, the radii, the parameter pair ``θ, θ'`` (or input pair ``x, x'``),
the data, the claimed bound as a serialised sympy program, and the values found
in float64 and at high precision.  :func:`replay_lipschitz` (through
:func:`symlip.verify.replay`) re-evaluates it at any precision.  Files of the
older format ``"symlip-witness/2"`` (the same fields, no ``kind``) are still read
and replayed; new files are written as ``"symlip-witness/3"``.

Replay reads only numbers and expressions (through the whitelist reader
:mod:`symlip.core.expr`); it never imports or runs code unless asked to with
``trust=True`` (``symlip replay --trust``), which is needed for claims that are
code (pointwise inequalities) and for comparing a claim with its source file.
:class:`WitnessCheck` compares everything replay recomputes with what the file
states; a file that disagrees with itself (or, with ``trust``, with its source)
is never reported ``violated`` but ``tampered``.

A violation is *confirmed* (docs/theory.md §5: "float round-off can never fake or
hide one") when the margin ``value - bound`` is positive at two precisions ``d``
and ``d + 30`` that agree on at least :data:`MIN_CONFIRMED_DIGITS` of its digits.

The names of the format layer (:class:`Replay`, :class:`WitnessCheck`,
:func:`read_json`, ...) are also importable from here.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mpmath
import numpy as np
import sympy as sp

from symlip.bounds.symbolic import QUANTITIES, Bound, standard_symbols
from symlip.core.expr import read_expr, write_expr
from symlip.core.precision import check_dps
from symlip.core.version import VERSION
from symlip.search import quantities
from symlip.search.catalogue import source_case
from symlip.search.witness_format import (EXTRA_DPS, MIN_CONFIRMED_DIGITS, REPLAY_STATUSES, Confirmation, Replay,
                                          WitnessCheck, activation_from, activation_label, activation_spec,
                                          confirmation, header, inadmissible, json_float, load_witness_data,
                                          read_header, read_json, replay_result, write_json, write_witness)

if TYPE_CHECKING:  # pragma: no cover
    from symlip.search.claims import Claim
    from symlip.models.network import MLP
    from symlip.models.region import Region

__all__ = ["Witness", "replay_lipschitz", "confirm", "WITNESS_KIND", "needs_trust_message", "model_spec",
           "region_spec", "bound_spec",
           # the format layer's names, re-exported (callers import them from here)
           "Replay", "WitnessCheck", "MIN_CONFIRMED_DIGITS", "REPLAY_STATUSES", "EXTRA_DPS", "Confirmation",
           "activation_label", "activation_spec", "inadmissible", "json_float", "load_witness_data", "read_json",
           "replay_result", "write_json"]

#: the ``kind`` of a Lipschitz witness file
WITNESS_KIND = "lipschitz"
#: relative tolerances of a file's float64 fields against the recomputed values: the
#: bound is one float64 kernel evaluation; the value a float64 difference quotient
#: whose cancellation the falsifier keeps below 3 digits (the float64 sides of a
#: pointwise inequality are not compared: they may cancel any number of digits)
_BOUND_REL = 1e-9
_VALUE_REL = 1e-6


def confirm(claim: "Claim", net: "MLP", region: "Region", w: dict[str, Any], R: float,
            Y: float | None, dps: int = 50, bound_value: Any = None) -> Confirmation:
    """Evaluate a witness at ``dps`` and ``dps + 30`` digits and decide whether the
    violation ``value > bound`` is real (:func:`~symlip.search.witness_format.confirmation`:
    the witness admissible, inside the region and the radii, and the margin positive
    at both precisions, which agree on at least :data:`MIN_CONFIRMED_DIGITS` of its digits).
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
    return confirmation(vals[0], vals[1], dps, problems)


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
    created_by: str | None = "symlip.search.falsify"
    symlip_version: str | None = VERSION  # None: read from a file older than symlip-witness/3

    kind = WITNESS_KIND

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

        out = header(WITNESS_KIND, self.claim, self.seed, self.created_by, self.symlip_version) | {
            "quantity": self.quantity, "expect": self.expect,
            "widths": list(self.widths), "activation": self.activation, "region": self.region,
            "R": self.R, "Y": self.Y,
            "theta": arr(self.theta), "theta2": arr(self.theta2), "x": arr(self.x), "x2": arr(self.x2),
            "y": arr(self.y), "value": json_float(self.value), "bound": json_float(self.bound),
            "ratio": json_float(self.ratio), "value_mp": self.value_mp, "bound_mp": self.bound_mp,
            "dps": self.dps, "confirmed_digits": self.confirmed_digits, "bound_spec": self.bound_spec,
            "source": self.source, "strategy": self.strategy,
        }
        if self.model is not None:  # only non-MLP models: MLP witness files are unchanged
            out["model"] = self.model
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Witness":
        """Inverse of :meth:`to_dict`, also reading format ``symlip-witness/2``; ``ValueError``
        names a missing or bad field."""
        h = read_header(d, (WITNESS_KIND,), "Witness")
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
            model=f.mapping("model", optional=True), created_by=h.created_by, symlip_version=h.symlip_version,
        )

    def save(self, path: str | Path) -> Path:
        """Write the witness as a ``symlip-witness/3`` file; returns the path."""
        return write_witness(self, path)

    @classmethod
    def load(cls, path: str | Path) -> "Witness":
        """Read a Lipschitz witness file (``ValueError`` if it is not one)."""
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

        act = activation_from(self.activation)
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



def replay_lipschitz(witness: "Witness | dict | str | Path", dps: int = 80, *, trust: bool = False,
                     base: str | Path | None = None) -> Replay:
    """Replay a Lipschitz witness at ``dps`` digits: see :func:`symlip.verify.replay`, which
    dispatches on the witness's kind.  ``base`` (default: the file's folder) is where a
    source file is looked up with ``trust``."""
    dps = check_dps(dps)
    data, folder = load_witness_data(witness)
    base = folder if base is None else base
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

