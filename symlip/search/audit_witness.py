"""Witnesses of audits: a pair of inputs whose ratio exceeds a claimed
input-Lipschitz constant of one network, its confirmation at two precisions and
its replay (docs/theory.md §5).

An :class:`AuditWitness` is kind ``"input-lipschitz"`` of the witness format
(:mod:`symlip.search.witness_format`), written as ``"symlip-witness/3"``; files of
the older format ``"symlip-audit-witness/2"`` are still read and replayed."""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import mpmath
import numpy as np

from symlip.core.precision import check_dps
from symlip.search import quantities
from symlip.core.version import VERSION
from symlip.search.witness_format import (EXTRA_DPS, Replay, WitnessCheck, activation_label, confirmation, header,
                                          inadmissible, load_witness_data, read_header, read_json, replay_result,
                                          write_witness)

if TYPE_CHECKING:  # pragma: no cover
    from symlip.models.network import MLP

__all__ = ["AuditWitness", "replay_audit", "confirm_pair", "pair_problems", "net_key", "WITNESS_KIND"]

#: the ``kind`` field of an audit witness file (``symlip replay`` dispatches on it).
WITNESS_KIND = "input-lipschitz"


def net_key(net: "MLP", theta: np.ndarray) -> str:
    """A fingerprint of one concrete network (architecture, activation and parameters)."""
    h = hashlib.sha256(repr((net.widths, str(net.activation.expr), net.activation.params)).encode())
    h.update(np.ascontiguousarray(theta, dtype=np.float64).tobytes())
    return h.hexdigest()


def outside(x: np.ndarray, R: float | None) -> str | None:
    """Exact test of ``|x| <= R`` in rational arithmetic (None when inside)."""
    if R is None:
        return None
    s = sum(Fraction(float(t)) ** 2 for t in x)
    if s > Fraction(R) ** 2:
        return f"|x| = {math.sqrt(float(s)):.17g} > R = {R!r}"
    return None


def pair_problems(x: np.ndarray, x2: np.ndarray, R: float | None) -> list[str]:
    """Why a pair of inputs is not admissible (empty when it is)."""
    problems = [f"{name} lies outside the input ball: {out}" for name, p in (("x", x), ("x2", x2))
                if (out := outside(p, R))]
    if np.array_equal(x, x2):
        problems.append("x and x2 coincide (no pair)")
    return problems


def confirm_pair(net: "MLP", theta: np.ndarray, x: Any, x2: Any, claimed: float, R: float | None, dps: int,
                  cache: dict | None = None):
    """Decide whether the pair's ratio exceeds ``claimed``: a :class:`symlip.search.witness_format.Confirmation`.

    The ratio is evaluated with mpmath at ``dps`` and ``dps + 30`` digits (plus the
    digits the close pair cancels; :func:`symlip.search.quantities.pair_value_mp`, quantity
    ``lip_input``), and, as in :func:`symlip.search.witness.confirm`, the violation is
    confirmed when the margin is positive at both precisions and they agree on at
    least ``MIN_CONFIRMED_DIGITS`` of its digits.  Both inputs must lie in the ball
    ``|x| <= R`` (checked exactly, in rationals).  ``cache`` keeps the two values
    (they do not depend on ``claimed``), so several claims share one evaluation.
    """
    x = np.asarray(x, dtype=float)
    x2 = np.asarray(x2, dtype=float)
    for name, p in (("x", x), ("x2", x2)):
        if p.shape != (net.d_in,) or not np.all(np.isfinite(p)):
            raise ValueError(f"{name} must be a finite input of shape ({net.d_in},); got shape {p.shape}")
    problems = pair_problems(x, x2, R)
    key = (dps, x.tobytes(), x2.tobytes(), net_key(net, theta))
    if cache is not None and key in cache:
        v1, v2 = cache[key]
    else:
        stub = SimpleNamespace(quantity="lip_input")
        w = {"theta": theta, "x": x[None, :], "x2": x2[None, :]}
        vals = []
        for d in (dps, dps + EXTRA_DPS):
            with mpmath.workdps(d):
                vals.append(quantities.pair_value_mp(stub, net, w, d))
        v1, v2 = vals
        if cache is not None:
            cache[key] = (v1, v2)
    with mpmath.workdps(dps + EXTRA_DPS):
        b = mpmath.mpf(float(claimed))
    return confirmation((v1, b), (v2, b), dps, problems)


@dataclass(frozen=True, eq=False)
class AuditWitness:
    """A pair of inputs whose ratio exceeds a claimed input-Lipschitz constant.

    Saved as JSON with ``"kind": "input-lipschitz"``; ``symlip replay FILE`` (or
    :func:`replay_audit`) re-evaluates the pair with mpmath at two precisions and
    checks that both inputs lie in the ball ``|x| <= R`` (exactly, in rationals).
    The header's ``claim`` is :attr:`claim` (the tool and its claimed constant).
    """

    tool: str
    claimed: float
    R: float | None
    widths: tuple[int, ...]
    activation: dict
    theta: np.ndarray
    x: np.ndarray
    x2: np.ndarray
    value: float
    value_mp: str | None = None
    dps: int | None = None
    confirmed_digits: int = 0
    strategy: str = ""
    seed: int = 0
    created_by: str | None = "symlip.search.audit"
    symlip_version: str | None = VERSION  # None: read from a file older than symlip-witness/3

    kind = WITNESS_KIND

    @property
    def ratio(self) -> float:
        return self.value / self.claimed if self.claimed > 0 else math.inf

    @property
    def claim(self) -> str:
        """What the witness refutes (the header's ``claim``): the tool and its claimed constant."""
        return f"{self.tool}: input-Lipschitz constant {self.claimed!r}"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (floats keep every bit)."""
        return header(WITNESS_KIND, self.claim, self.seed, self.created_by, self.symlip_version) | {
            "tool": self.tool, "claimed": self.claimed, "R": self.R, "widths": list(self.widths),
            "activation": self.activation, "theta": np.asarray(self.theta, float).tolist(),
            "x": np.asarray(self.x, float).tolist(), "x2": np.asarray(self.x2, float).tolist(),
            "value": self.value, "value_mp": self.value_mp, "dps": self.dps,
            "confirmed_digits": self.confirmed_digits, "strategy": self.strategy}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "AuditWitness":
        """Inverse of :meth:`to_dict`, also reading format ``symlip-audit-witness/2``;
        ``ValueError`` names a missing or bad field."""
        h = read_header(d, (WITNESS_KIND,), "AuditWitness")
        f = WitnessCheck(d)
        if "R" not in d:
            raise ValueError("witness field 'R' is missing (null means all of R^d)")
        return cls(tool=f.text("tool"), claimed=f.number("claimed", positive=True),
                   R=f.number("R", optional=True, positive=True), widths=f.widths(),
                   activation=f.mapping("activation"), theta=f.array("theta", 1), x=f.array("x", 1),
                   x2=f.array("x2", 1), value=f.number("value", infinite=True),
                   value_mp=f.decimal("value_mp", optional=True), dps=f.integer("dps", optional=True, low=16),
                   confirmed_digits=f.integer("confirmed_digits", default=0, low=0),
                   strategy=f.text("strategy", default=""), seed=f.integer("seed", default=0),
                   created_by=h.created_by, symlip_version=h.symlip_version)

    def save(self, path: str | Path) -> Path:
        """Write the witness as a ``symlip-witness/3`` file; returns the path."""
        return write_witness(self, path)

    @classmethod
    def load(cls, path: str | Path) -> "AuditWitness":
        """Read an audit witness file (``ValueError`` if it is not one)."""
        return cls.from_dict(read_json(path))

    def network(self, check: Any = None) -> "MLP":
        """The audited network (its activation read safely; ``check``, a
        :class:`symlip.search.witness_format.WitnessCheck`, records a name that disagrees with the expression)."""
        from symlip.models.network import MLP
        return MLP(self.widths, (check or WitnessCheck({})).activation(self.activation))

    def describe(self) -> str:
        where = "all of R^d" if self.R is None else f"|x| <= {self.R!r}"
        return (f"{self.tool}: claimed input-Lipschitz constant {self.claimed!r} of {list(self.widths)} "
                f"{self.activation.get('name', '?')} on {where}")


def replay_audit(witness: "AuditWitness | dict | str | Path", dps: int = 80, *, trust: bool = False,
                 base: str | Path | None = None) -> "Replay":
    """Re-check an audit witness at ``dps`` and ``dps + 30`` digits from the file's data alone.

    Returns a :class:`symlip.search.witness_format.Replay`: ``violated`` when the pair's
    ratio exceeds the claimed constant at both precisions (both inputs in the ball)
    and the file agrees with itself (activation name and expression, the recorded
    float64 and high-precision ratio, the header's claim); ``tampered`` when it
    exceeds it but the file disagrees with itself; ``not violated`` when it does not
    exceed it, ``inconclusive`` otherwise.  ``ValueError`` names a missing or
    malformed field.  ``trust`` and ``base`` do not apply (an audit witness names no
    source file); they are accepted as by every kind's replay.
    """
    dps = check_dps(dps)
    data, _ = load_witness_data(witness)
    w = AuditWitness.from_dict(data)
    chk = WitnessCheck(data)
    if data.get("claim") is not None:  # the header's claim (files before symlip-witness/3 have none)
        chk.same("claim", data["claim"], w.claim, "its tool and claimed constant give")
    net = w.network(chk)
    if np.shape(w.theta) != (net.n_params,):
        raise ValueError(f"witness field 'theta' has {np.size(w.theta)} entries; widths {list(w.widths)} need "
                         f"{net.n_params}")
    for key in ("x", "x2"):
        if np.shape(getattr(w, key)) != (net.d_in,):
            raise ValueError(f"witness field {key!r} has {np.size(getattr(w, key))} entries; the network's input "
                             f"has dimension {net.d_in}")
    labels = ("the pair ratio", "claimed")
    label = activation_label(net.activation)
    title = w.describe() + ("" if label == net.activation.name else f"; {label}")
    problems = pair_problems(w.x, w.x2, w.R)
    if problems:
        return chk.verdict(inadmissible(problems, dps, title, labels))
    try:
        c = confirm_pair(net, np.asarray(w.theta, float), w.x, w.x2, w.claimed, w.R, dps)
    except (ValueError, ArithmeticError) as exc:
        raise ValueError(f"the witness cannot be replayed: {exc}") from None
    chk.digits("value_mp", w.value_mp, c.value_mp, min(w.dps or dps, dps))
    chk.close("value", w.value, c.value_mp, 1e-6)
    return chk.verdict(replay_result(c, dps, *labels, title=title))
