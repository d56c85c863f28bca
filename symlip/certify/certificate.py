"""Certificates: the sandwich ``lower <= true local constant <= upper`` and its checkable proof.

A :class:`Certificate` (scipy ``OptimizeResult`` style) records the quantity, the
best witnessed value (``lower``, confirmed in mpmath at a domain point), the
certified ``upper`` and the proof: the branch-and-bound tree in preorder
(:func:`symlip.certify.bnb.encode_tree`).  :meth:`Certificate.save` writes it as JSON
(``"format": "symlip-witness/3"``, ``"kind": "certificate"``); :func:`replay_certificate`
rebuilds the problem from the file, re-derives every leaf enclosure from scratch in
arb, checks that the split sequence partitions the root box (it does by
construction when every cut lies strictly inside its box and the preorder is
complete), that outside leaves are certainly outside, that no leaf encloses more
than it claims and that no claim exceeds the recorded upper (a root left
unenclosed at the deadline, code ``-3``, is bounded by the re-evaluated U cap alone; a leaf of code
``-4`` by the re-derived layer bound of :func:`symlip.certify.bigball.layer_bound`).  Any edit that would
make the file claim more than it proves (a leaf removed, an enclosure or the upper
lowered) is rejected as ``"tampered"`` or ``"invalid"``.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mpmath
import numpy as np
from flint import arb

from symlip.certify.bigball import layer_bound
from symlip.certify.bnb import Witnessed, confirm_lower
from symlip.certify.cap import u_cap
from symlip.certify.enclose import CERTIFY_QUANTITIES, Problem
from symlip.certify.patterns import replay_patterns
from symlip.core.version import VERSION
from symlip.search.witness import Replay, activation_spec, load_witness_data, region_spec
from symlip.search.witness_format import header, read_header, write_witness

if TYPE_CHECKING:  # pragma: no cover
    from symlip.models.network import MLP
    from symlip.models.region import Region

__all__ = ["Certificate", "FORMAT", "KIND", "replay_certificate", "problem_spec"]

FORMAT = "symlip-witness/3"
KIND = "certificate"
_LEAF, _OUT, _CAPPED, _LAYER = -1, -2, -3, -4
_MAX_NODES = 10_000_000
_REQUIRED = ("quantity", "lower", "upper", "gap", "status", "boxes", "seconds", "message", "witness", "proof",
             "problem")


@dataclass(frozen=True)
class Certificate:
    """The result of :func:`symlip.certify.certify`.

    Attributes
    ----------
    quantity : str
        ``lip_f``, ``lip_grad``, ``lip_loss_grad`` or ``lip_input``.
    lower : float
        The local quantity at :attr:`witness` (mpmath value rounded to a float); a
        lower bound of the supremum (docs/theory.md §2 (R4)).  ``lower_mp`` is its
        decimal text.
    upper : float
        A certified upper bound of the supremum of the local quantity over the domain.
    gap : float
        ``upper / lower`` (``inf`` when ``lower`` is 0).
    status : str
        ``"proved"`` (the claim's bound ``>= upper``), ``"violated"`` (``lower >`` the
        bound, confirmed), ``"open"`` (neither), ``"certified"`` (no claim).
    boxes, seconds, message, seed
        Boxes enclosed, wall time, a one-line summary, the seed.
    witness : dict
        ``theta``, ``x`` (and ``y``, ``v``: the target and the direction of a Hessian norm).
    proof : dict
        ``tree``, ``cuts``, ``uppers`` (preorder, :func:`~symlip.certify.bnb.encode_tree`).
    problem : dict
        What was certified: widths, activation, region, ``R``, ``Y``, ``quantity``.
    bound : float or None
        The claim's bound (mpmath value rounded to a float), ``claim`` its name.
    u_bound : float or None
        The analytic bound U1–U4 (float evaluation, for comparison only).
    cap : float or None
        The analytic bound evaluated rigorously in arb and rounded up
        (:func:`~symlip.certify.cap.u_cap`): ``upper = min(tree's upper, cap)``;
        ``cap_note`` says how it was obtained or why there is none.
    """

    quantity: str
    lower: float
    upper: float
    gap: float
    status: str
    boxes: int
    seconds: float
    message: str
    seed: int
    witness: dict[str, Any] = field(repr=False)
    proof: dict[str, Any] = field(repr=False)
    problem: dict[str, Any] = field(repr=False)
    lower_mp: str = ""
    bound: float | None = None
    bound_mp: str | None = None
    claim: str | None = None
    u_bound: float | None = None
    stop: str = ""
    cap: float | None = None
    cap_note: str = ""

    def __str__(self) -> str:
        return (f"{self.quantity}: {self.status}  [{self.lower:.8g}, {self.upper:.8g}]  gap {self.gap:.6g}  "
                f"({self.boxes} boxes, {self.seconds:.2f} s)")

    kind = KIND  # the witness kind of a certificate file (not a field)

    def to_dict(self) -> dict[str, Any]:
        """The file's dictionary: the witness header
        (:func:`~symlip.search.witness_format.header`), then the fields."""
        d = asdict(self)
        d["gap"] = d["gap"] if math.isfinite(d["gap"]) else repr(d["gap"])
        head = header(KIND, self.claim, self.seed, "symlip.certify", VERSION)
        return head | {k: v for k, v in d.items() if k not in head}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Certificate":
        """A certificate from its file's dictionary (``ValueError`` naming a bad field).
        Reading does not check the proof: :func:`replay_certificate` does."""
        h = read_header(d, (KIND,), "Certificate")
        names = [f.name for f in fields(cls)]
        missing = [n for n in _REQUIRED if n not in d]
        if missing:
            raise ValueError(f"certificate field {missing[0]!r} is missing")
        kw = {n: d[n] for n in names if n in d and n not in ("claim", "seed")}
        for n in ("lower", "upper"):
            if isinstance(kw[n], bool) or not isinstance(kw[n], (int, float)):
                raise ValueError(f"certificate field {n!r} must be a number; got {kw[n]!r}")
        gap = kw["gap"]
        if isinstance(gap, str) and gap in ("inf", "nan"):
            kw["gap"] = float(gap)
        elif isinstance(gap, bool) or not isinstance(gap, (int, float)):
            raise ValueError(f"certificate field 'gap' must be a number or 'inf'; got {gap!r}")
        for n in ("witness", "proof", "problem"):
            if not isinstance(kw[n], dict):
                raise ValueError(f"certificate field {n!r} must be an object")
        return cls(**kw, claim=h.claim, seed=h.seed)

    def save(self, path: str | Path) -> Path:
        """Write the certificate as a witness file (folders created; ``symlip replay``
        re-checks it); returns the path."""
        return write_witness(self, path)


def problem_spec(quantity: str, net: "MLP", region: "Region", R: float, Y: float | None) -> dict[str, Any]:
    """The JSON description of what a certificate covers."""
    return {"quantity": quantity, "widths": list(net.widths), "activation": activation_spec(net.activation),
            "region": region_spec(region), "R": R, "Y": Y}


def _problem_from(spec: Any) -> Problem:
    """Rebuild the :class:`Problem` of a certificate file (data only: the activation
    expression is read by the whitelist reader, nothing is evaluated as code)."""
    from symlip.activations.registry import Activation
    from symlip.models.network import MLP
    from symlip.models.region import Region

    if not isinstance(spec, dict):
        raise ValueError("the field 'problem' must be an object")
    q = spec.get("quantity")
    if q not in CERTIFY_QUANTITIES:
        raise ValueError(f"problem.quantity {q!r} is not one of {', '.join(CERTIFY_QUANTITIES)}")
    act_spec = spec.get("activation")
    if not isinstance(act_spec, dict) or not isinstance(act_spec.get("expr"), str):
        raise ValueError("problem.activation must be an object with an expression 'expr'")
    act = Activation.from_expr(act_spec["expr"])
    net = MLP(tuple(spec.get("widths", ())), act)
    reg = spec.get("region")
    if not isinstance(reg, dict):
        raise ValueError("problem.region must be an object")
    if reg.get("kind") == "ball":
        region = Region.ball(reg.get("center"), reg.get("radius"))
    elif reg.get("kind") == "box":
        region = Region.box(reg.get("omega"), reg.get("beta"))
    else:
        raise ValueError(f"problem.region has an unknown kind {reg.get('kind')!r}")
    region.check_net(net)
    R, Y = spec.get("R"), spec.get("Y")
    if isinstance(R, bool) or not isinstance(R, (int, float)) or not (R > 0 and math.isfinite(R)):
        raise ValueError(f"problem.R must be a finite number > 0; got {R!r}")
    if Y is not None and (isinstance(Y, bool) or not isinstance(Y, (int, float)) or not (Y >= 0 and math.isfinite(Y))):
        raise ValueError(f"problem.Y must be a finite number >= 0 or null; got {Y!r}")
    if q == "lip_loss_grad" and Y is None:
        raise ValueError("problem.Y is needed for lip_loss_grad")
    return Problem(q, net, region, float(R), None if Y is None else float(Y))


def _floats(name: str, v: Any) -> list[float]:
    if not isinstance(v, list) or any(isinstance(t, bool) or not isinstance(t, (int, float)) for t in v):
        raise ValueError(f"proof.{name} must be a list of numbers")
    return [float(t) for t in v]


def _result(status: str, message: str, upper: Any = "", bound: Any = "") -> Replay:
    return Replay(status=status, value_mp=str(upper), bound_mp=str(bound or ""), ratio=math.nan,
                  confirmed_digits=0, dps=0, message=message, title="certificate", labels=("upper", "bound"))


def replay_certificate(data_or_path: Any) -> Replay:
    """Re-check a certificate from scratch (module docstring).

    Returns a :class:`~symlip.search.witness.Replay` whose ``status`` is
    ``"certified"`` (every leaf re-derived; ``value_mp`` is the upper), ``"proved"``
    (also the recorded bound ``>=`` the upper), ``"tampered"`` (a leaf encloses more
    than the file claims, the upper is below a leaf's claim, or the witness does not
    give the recorded lower) or ``"invalid"`` (malformed file or incomplete tree).
    """
    try:
        data, _ = load_witness_data(data_or_path)
    except (TypeError, ValueError) as exc:
        return _result("invalid", str(exc))
    if data.get("format") != FORMAT or data.get("kind") != KIND:
        return _result("invalid", f"not a certificate (expected format {FORMAT!r} and kind {KIND!r})")
    try:
        prob = _problem_from(data.get("problem"))
        proof = data.get("proof")
        if not isinstance(proof, dict):
            raise ValueError("the field 'proof' must be an object")
        if proof.get("method") == "patterns":
            return _replay_patterns(prob, data, proof)
        tree = proof.get("tree")
        if not isinstance(tree, list) or any(isinstance(t, bool) or not isinstance(t, int) for t in tree):
            raise ValueError("proof.tree must be a list of integers")
        cuts, uppers = _floats("cuts", proof.get("cuts")), _floats("uppers", proof.get("uppers"))
        upper = data.get("upper")
        if isinstance(upper, bool) or not isinstance(upper, (int, float)) or math.isnan(upper):
            raise ValueError("the field 'upper' must be a number")
        if data.get("quantity") != prob.quantity:
            raise ValueError("the fields 'quantity' and 'problem.quantity' differ")
    except (TypeError, ValueError) as exc:
        return _result("invalid", f"malformed certificate: {exc}")
    if len(tree) > _MAX_NODES:
        return _result("invalid", f"the tree has more than {_MAX_NODES} nodes")

    lo, hi = prob.root()
    stack = [(lo, hi)]
    ti = ci = ui = 0
    worst = -math.inf
    while stack:
        if ti >= len(tree):
            return _result("invalid", "the tree ends before every box is covered (a leaf is missing)")
        blo, bhi = stack.pop()
        t = tree[ti]
        ti += 1
        if t >= 0:
            if t >= prob.n or ci >= len(cuts):
                return _result("invalid", f"split {ti - 1} names variable {t} or lacks its cut")
            c = cuts[ci]
            ci += 1
            if not (blo[t] < c < bhi[t]):
                return _result("invalid", f"cut {ci - 1} = {c!r} is not inside its box")
            lo1, hi1 = blo.copy(), bhi.copy()
            hi1[t] = c
            lo2, hi2 = blo.copy(), bhi.copy()
            lo2[t] = c
            stack.append((lo2, hi2))
            stack.append((lo1, hi1))
        elif t == _OUT:
            if prob.contract(blo, bhi) is not None:
                return _result("tampered", f"node {ti - 1} is recorded outside the domain but is not certainly outside")
        elif t == _LEAF:
            if ui >= len(uppers):
                return _result("invalid", "fewer leaf enclosures than leaves")
            claimed = uppers[ui]
            ui += 1
            enc, _ = prob.enclose(blo, bhi)
            if enc is None:
                continue  # certainly outside: any claim is sound
            if not enc.upper() <= arb(claimed):
                return _result("tampered", f"leaf {ui - 1} encloses up to {enc.upper()} but claims {claimed!r}")
            worst = max(worst, claimed)
        elif t == _LAYER:
            if ui >= len(uppers):
                return _result("invalid", "fewer leaf enclosures than leaves")
            claimed = uppers[ui]
            ui += 1
            lb = layer_bound(prob)
            if lb is None:
                return _result("tampered", f"node {ti - 1} claims the layer bound, which does not apply here")
            if not lb.upper() <= arb(claimed):
                return _result("tampered", f"leaf {ui - 1}: the layer bound is {lb.upper()} but the file claims "
                                           f"{claimed!r}")
            worst = max(worst, claimed)
        elif t == _CAPPED:
            if not isinstance(data.get("cap"), (int, float)):
                return _result("invalid", f"node {ti - 1} is bounded by the U cap only but the file has no cap")
            worst = max(worst, data["cap"])  # the cap is re-evaluated below
        else:
            return _result("invalid", f"unknown tree code {t}")
    if ti != len(tree) or ci != len(cuts) or ui != len(uppers):
        return _result("invalid", "the tree has entries beyond the boxes it covers")
    cap = data.get("cap")
    if cap is not None:
        if isinstance(cap, bool) or not isinstance(cap, (int, float)) or math.isnan(cap):
            return _result("invalid", "the field 'cap' must be a number or null")
        cap_arb, why = u_cap(prob.quantity, prob.net, prob.region, prob.R, prob.Y)
        if cap_arb is None:
            return _result("tampered", f"the file records a U cap but none applies: {why}", upper)
        if not cap_arb.upper() <= arb(cap):
            return _result("tampered", f"the recorded U cap {cap!r} is below its rigorous value {cap_arb.upper()}",
                           upper)
        worst = min(worst, cap)
    if worst > upper:
        return _result("tampered", f"a leaf (or the U cap) claims {worst!r} > the recorded upper {upper!r}", upper)
    msg = f"{len(uppers)} leaves re-derived{'' if cap is None else ', U cap re-evaluated'}; {prob.quantity} <= {upper!r}"
    return _settle(prob, data, msg, upper)


def _replay_patterns(prob: Problem, data: dict[str, Any], proof: dict[str, Any]) -> Replay:
    """Replay a pattern tree (:func:`symlip.certify.patterns.replay_patterns`)."""
    upper = data.get("upper")
    if isinstance(upper, bool) or not isinstance(upper, (int, float)) or math.isnan(upper):
        return _result("invalid", "malformed certificate: the field 'upper' must be a number")
    reg = prob.region
    if prob.quantity != "lip_input" or reg.kind != "ball" or reg.radius != 0:
        return _result("invalid", "a pattern proof needs lip_input on a fixed network (Region.ball(theta, 0))")
    status, msg = replay_patterns(prob.net, reg.center, prob.R, proof, float(upper))
    if status != "certified":
        return _result(status, msg, upper)
    return _settle(prob, data, msg, upper)


def _settle(prob: Problem, data: dict[str, Any], msg: str, upper: float) -> Replay:
    """The end of a replay whose tree checked out: the witness, then proved or certified."""
    lower_note = _check_lower(prob, data)
    if lower_note:
        return _result("tampered", lower_note, upper)
    bound = data.get("bound")
    if isinstance(bound, (int, float)) and not isinstance(bound, bool) and bound >= upper:
        return _result("proved", msg + f" <= the recorded bound {bound!r}", upper, bound)
    return _result("certified", msg, upper, bound)


def _check_lower(prob: Problem, data: dict[str, Any]) -> str:
    """Why the recorded witness does not give the recorded lower ("" when it does)."""
    w = data.get("witness")
    lower = data.get("lower")
    if not w or not lower:
        return ""
    try:
        theta = np.asarray(w["theta"], float)
        x = np.asarray(w["x"], float)
        v = None if w.get("v") is None else np.asarray(w["v"], float)
        wit = Witnessed(0.0, theta, x, y=w.get("y"), v=v)
        from symlip.search.claims import Claim
        from symlip.search.quantities import domain_problems

        probe = Claim("certificate", prob.quantity, 0.0)
        pts = {"theta": theta, "theta2": theta, "x": x[None, :], "x2": x[None, :],
               "y": None if wit.y is None else np.array([wit.y])}
        bad = domain_problems(probe, prob.net, prob.region, pts, prob.R, prob.Y)
        if bad:
            return f"the witness is not in the domain: {bad[0]}"
        val = confirm_lower(prob, wit)
    except (KeyError, TypeError, ValueError) as exc:
        return f"the witness is unreadable: {exc}"
    if val < mpmath.mpf(lower) * (1 - mpmath.mpf(10) ** -12):
        return f"the witness gives {mpmath.nstr(val, 17)} < the recorded lower {lower!r}"
    return ""
