"""Witnesses: the points that realise a claim's best ratio, saved and replayed.

A :class:`Witness` holds everything needed to re-check a violation without the
search that found it: the network (widths and activation), the region, the
radii, the parameter pair ``θ, θ'`` (or input pair ``x, x'``), the data, the
claimed bound as a serialised sympy program, and the values found in float64
and at high precision.  :func:`replay` re-evaluates it at any precision.

A violation is *confirmed* (MATH.md: "float round-off can never fake or hide
one") when the margin ``value - bound`` is positive at two precisions ``d`` and
``d + 30`` that agree on at least :data:`MIN_CONFIRMED_DIGITS` of its digits.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mpmath
import numpy as np
import sympy as sp

from symlip import _quantities
from symlip.bounds import Bound

if TYPE_CHECKING:  # pragma: no cover
    from symlip.claims import Claim
    from symlip.network import MLP
    from symlip.region import Region

__all__ = ["Witness", "Replay", "replay", "confirm", "MIN_CONFIRMED_DIGITS"]

#: digits of the violation margin two precisions must share for "violated".
MIN_CONFIRMED_DIGITS = 3
_EXTRA_DPS = 30
_FORMAT = "symlip-witness/1"


def _write_json(path: str | Path, data: dict[str, Any]) -> Path:
    """Write a witness dictionary as indented JSON (folders created); returns the path."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    return p


def _read_json(path: str | Path) -> dict[str, Any]:
    """A witness file's dictionary (``ValueError`` if missing or not JSON)."""
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"no such witness file: {str(path)!r}")
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{str(path)!r} is not a JSON witness file: {exc}") from None


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
    problems = tuple(_quantities.domain_problems(claim, net, region, w, R, Y))
    vals = []
    for d in (dps, dps + _EXTRA_DPS):
        with mpmath.workdps(d):
            v = _quantities.pair_value_mp(claim, net, w, d)
            if claim.quantity == "pointwise":
                b = _quantities.rhs_value(claim, net, w, d)
            elif bound_value is not None:
                b = mpmath.mpf(bound_value)
            else:
                b = claim.bound_value_mp(net, region, R=R, Y=Y, dps=d)
            vals.append((v, b))
    (v1, b1), (v2, b2) = vals
    with mpmath.workdps(dps + _EXTRA_DPS):
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
    model: dict | None = None  # None: MLP(widths, activation); else e.g. a CDNN spec (symlip.cdnn)

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
            "y": arr(self.y), "value": _json_float(self.value), "bound": _json_float(self.bound),
            "ratio": _json_float(self.ratio), "value_mp": self.value_mp, "bound_mp": self.bound_mp,
            "dps": self.dps, "confirmed_digits": self.confirmed_digits, "bound_spec": self.bound_spec,
            "source": self.source, "strategy": self.strategy, "seed": self.seed,
        }
        if self.model is not None:  # only non-MLP models: MLP witness files are unchanged
            out["model"] = self.model
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Witness":
        """Inverse of :meth:`to_dict`; ``ValueError`` names a missing or bad field."""
        if not isinstance(d, dict) or d.get("format") != _FORMAT:
            raise ValueError(f"not a symlip witness (expected format {_FORMAT!r})")

        def arr(key: str, ndim: int) -> np.ndarray | None:
            v = d.get(key)
            if v is None:
                return None
            a = np.array(v, dtype=float)
            if a.ndim != ndim or not np.all(np.isfinite(a)):
                raise ValueError(f"witness field {key!r} must be a finite {ndim}-d array")
            return a

        try:
            theta = arr("theta", 1)
            if theta is None:
                raise ValueError("witness field 'theta' is missing")
            x = arr("x", 2)
            if x is None:
                raise ValueError("witness field 'x' is missing")
            return cls(
                claim=str(d["claim"]), quantity=str(d["quantity"]), expect=str(d.get("expect", "holds")),
                widths=tuple(int(w) for w in d["widths"]), activation=dict(d["activation"]),
                region=dict(d["region"]), R=float(d["R"]), Y=None if d.get("Y") is None else float(d["Y"]),
                theta=theta, theta2=arr("theta2", 1), x=x, x2=arr("x2", 2), y=arr("y", 1),
                value=float(d["value"]), bound=float(d["bound"]), value_mp=d.get("value_mp"),
                bound_mp=d.get("bound_mp"), dps=d.get("dps"), confirmed_digits=int(d.get("confirmed_digits", 0)),
                bound_spec=dict(d.get("bound_spec") or {}), source=d.get("source"),
                strategy=str(d.get("strategy", "")), seed=int(d.get("seed", 0)),
                model=None if d.get("model") is None else dict(d["model"]),
            )
        except KeyError as exc:
            raise ValueError(f"witness field {exc.args[0]!r} is missing") from None

    def save(self, path: str | Path) -> Path:
        """Write the witness as JSON; returns the path."""
        return _write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> "Witness":
        """Read a witness file written by :meth:`save` (``ValueError`` if it is not one)."""
        return cls.from_dict(_read_json(path))

    # -- rebuilding the objects --------------------------------------------
    def rebuild(self, base: str | Path | None = None) -> tuple["Claim", "MLP", "Region"]:
        """The claim, network and region this witness is about.

        A claim that is code (pointwise, callable bound) is re-imported from its
        recorded source file, looked up from the working directory and then
        from ``base`` (the witness file's folder) and its parents.
        """
        from symlip.claims import Claim, load_cases
        from symlip.network import MLP

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
            bound: Any = _bound_from(spec)
        elif kind == "number":
            bound = float(spec["value"])
        elif kind == "source":
            if not self.source or "::" not in self.source:
                raise ValueError("this witness's claim is code (a pointwise inequality or a callable) and "
                                 "its source file is not recorded; it cannot be replayed alone")
            path, _, index = self.source.rpartition("::")
            cases = load_cases([_find_source(path, base)])
            match = [c.case for c in cases if c.index == int(index) and c.case.claim.name == self.claim]
            if not match:
                raise ValueError(f"claim {self.claim!r} is no longer case {index} of {path}")
            return match[0].claim, net, region
        else:
            raise ValueError(f"witness has an unknown bound kind {kind!r}")
        claim = Claim(self.claim, self.quantity, bound, expect=self.expect if self.expect in ("holds", "fails")
                      else "holds")
        return claim, net, region


def _find_source(path: str, base: str | Path | None) -> str:
    if Path(path).exists() or base is None:
        return path
    for folder in [Path(base).resolve(), *Path(base).resolve().parents]:
        if (folder / path).exists():
            return str(folder / path)
    return path


def _ratio(value: float, bound: float) -> float:
    if bound > 0:
        return value / bound
    return math.inf if value > 0 else 0.0


def _json_float(v: float) -> float | str:
    """A float for strict JSON: non-finite values become their repr (``'inf'``)."""
    return v if math.isfinite(v) else repr(v)


def activation_spec(act: Any) -> dict[str, Any]:
    """A JSON-able description of an :class:`~symlip.Activation`."""
    return {"name": act.name, "expr": sp.srepr(act.expr), "params": [list(p) for p in act.params],
            "claimed": [list(c) for c in act.claimed]}


def _activation_from(d: dict[str, Any]) -> Any:
    from symlip.activations import Activation

    try:
        expr = sp.sympify(d["expr"])
    except (sp.SympifyError, KeyError, TypeError) as exc:
        raise ValueError(f"witness activation is not readable: {exc}") from None
    return Activation(name=str(d.get("name", "custom")), expr=expr,
                      params=tuple((str(k), float(v)) for k, v in d.get("params", [])),
                      claimed=tuple((str(k), float(v)) for k, v in d.get("claimed", [])))


def model_spec(net: Any) -> dict[str, Any] | None:
    """How a witness stores a network other than an MLP (None for an MLP, whose
    widths and activation suffice): the network's ``model_spec()``, e.g. a CDNN."""
    spec = getattr(net, "model_spec", None)
    return spec() if callable(spec) else None


def _model_from(spec: dict[str, Any], act: Any, widths: tuple[int, ...]) -> Any:
    if spec.get("kind") != "cdnn":
        raise ValueError(f"witness model has an unknown kind {spec.get('kind')!r}; allowed: 'cdnn'")
    from symlip.cdnn import model_from_spec

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
    from symlip.region import Region

    try:
        if d.get("kind") == "box":
            return Region.box(d["omega"], d["beta"])
        if d.get("kind") == "ball":
            return Region.ball(d["center"], d["radius"])
    except KeyError as exc:
        raise ValueError(f"witness region lacks the field {exc.args[0]!r}") from None
    raise ValueError(f"witness region has an unknown kind {d.get('kind')!r}")


def bound_spec(claim: "Claim", net: "MLP", bound_value: float) -> dict[str, Any]:
    """How a witness stores the claimed bound: the sympy program of a
    :class:`~symlip.Bound` (exact), the number for numbers and callables, or a
    pointer to the source for pointwise claims."""
    if claim.quantity == "pointwise":
        return {"kind": "source"}
    b = claim.bound_for(net)
    if b is None:
        return {"kind": "number", "value": bound_value}
    spec = {"kind": "bound", "quantity": b.quantity, "depth": b.depth, "requires": b.requires, "name": b.name,
            "steps": [[sp.srepr(s), sp.srepr(rhs)] for s, rhs in b.steps], "result": sp.srepr(b.result),
            "subs": [[sp.srepr(s), sp.srepr(v)] for s, v in b._subs]}
    weak = net.activation.unproven(b.activation_constants()) if claim.allow_numeric else ()
    if weak:  # the numeric estimates the bound rested on: replayed as stated values (claimed constants)
        spec["numeric"] = {c.name: c.upper for c in weak}
    return spec


def _bound_from(spec: dict[str, Any]) -> Bound:
    try:
        steps = tuple((sp.sympify(s), sp.sympify(rhs)) for s, rhs in spec["steps"])
        return Bound(quantity=spec["quantity"], depth=int(spec["depth"]), steps=steps,
                     result=sp.sympify(spec["result"]), requires=spec.get("requires"), name=spec.get("name", ""),
                     _subs=tuple((sp.sympify(s), sp.sympify(v)) for s, v in spec.get("subs", [])))
    except (sp.SympifyError, KeyError, TypeError) as exc:
        raise ValueError(f"witness bound is not readable: {exc}") from None


# ---------------------------------------------------------------------------
# replay
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Replay:
    """The result of :func:`replay` (``status``: ``"violated"``, ``"not violated"``
    or ``"inconclusive"``)."""

    status: str
    value_mp: str
    bound_mp: str
    ratio: float
    confirmed_digits: int
    dps: int
    message: str

    @property
    def violated(self) -> bool:
        return self.status == "violated"


def _witness_kind(path: "str | Path") -> str | None:
    """The ``kind`` field of a witness file (``None`` for Lipschitz witnesses or unreadable files)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data.get("kind") if isinstance(data, dict) else None


def replay(witness: "Witness | str | Path", dps: int = 80) -> Replay:
    """Re-evaluate a witness at ``dps`` (and ``dps + 30``) digits.

    Returns ``violated`` when the violation is confirmed, ``not violated`` when
    the value is at most the bound at both precisions, else ``inconclusive``.
    A statistical witness of an SGD-moment claim is re-run instead
    (:func:`symlip.moment_claims.replay_moment`; ``dps`` does not apply); an
    audit witness of a claimed input-Lipschitz constant goes to
    :func:`symlip.audit.replay_audit`.
    """
    from symlip.precision import _check_dps

    dps = _check_dps(dps)
    if getattr(witness, "kind", None) == "input-lipschitz" or (
            isinstance(witness, (str, Path)) and _witness_kind(witness) == "input-lipschitz"):
        from symlip.audit import replay_audit  # a pair of inputs against a claimed constant of one network

        return replay_audit(witness, dps=dps)
    if not isinstance(witness, Witness) and _witness_kind(witness) == "sgd-moment":
        from symlip.moment_claims import replay_moment  # a statistical witness (MATH.md §7)

        return replay_moment(witness)
    w = witness if isinstance(witness, Witness) else Witness.load(witness)
    claim, net, region = w.rebuild(base=None if isinstance(witness, Witness) else Path(witness).parent)
    fixed = float(w.bound_spec["value"]) if w.bound_spec.get("kind") == "number" else None
    c = confirm(claim, net, region, w.points, w.R, w.Y, dps=dps, bound_value=fixed)
    return _replay_result(c, dps)


def _replay_result(c: Any, dps: int, value: str = "value", bound: str = "bound") -> Replay:
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
               f"({c.confirmed_digits} digits of the margin confirmed at {dps} and {dps + _EXTRA_DPS})")
    elif c.margin <= 0:
        status, msg = "not violated", f"not violated: {value} {v} <= {bound} {b} at {dps} digits"
    else:
        status = "inconclusive"
        msg = (f"inconclusive: {value} {v} vs {bound} {b}; the margin is not stable across "
               f"{dps} and {dps + _EXTRA_DPS} digits")
    return Replay(status=status, value_mp=v, bound_mp=b, ratio=ratio, confirmed_digits=c.confirmed_digits,
                  dps=dps, message=msg)
