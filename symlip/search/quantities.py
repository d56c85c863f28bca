"""Witnessed values of the claimed quantities, in float64 and in mpmath (private).

A *witness* of a Lipschitz quantity is a pair: its value is a difference
quotient, a lower bound of the true constant that needs no limit argument
(docs/theory.md §2: the region is convex, so every pair inside it counts).

* ``lip_f``:         ``|f(x;θ) - f(x;θ')| / |θ - θ'|``
* ``lip_grad``:      ``|∇_θ f(x;θ) - ∇_θ f(x;θ')| / |θ - θ'|``
* ``lip_loss_grad``: ``|∇ℓ(θ) - ∇ℓ(θ')| / |θ - θ'|`` on the data ``(x_n, y_n)``
* ``lip_input``:     ``|f(x;θ) - f(x';θ)| / |x - x'|`` (Euclidean norm of a vector output)
* ``pointwise``:     the claimed inequality's ``lhs`` (its ``rhs`` is the bound)

The float64 versions rank candidates; the mpmath versions confirm. The
mpmath precision is raised by the number of digits a close pair cancels.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import mpmath
import numpy as np

from symlip.core.precision import norm_mp, to_mp

if TYPE_CHECKING:  # pragma: no cover
    from symlip.search.claims import Claim
    from symlip.models.network import MLP
    from symlip.models.region import Region

#: relative margin by which witnesses are kept strictly inside the region and
#: the input ball, so float rounding of a norm can never put them outside.
INSIDE = 1e-10


def lost_digits(a: np.ndarray, b: np.ndarray) -> int:
    """Decimal digits a difference ``a - b`` cancels (``log10(|a| / |a - b|)``)."""
    d = float(np.linalg.norm(np.asarray(a, float) - np.asarray(b, float)))
    s = max(float(np.linalg.norm(a)), float(np.linalg.norm(b)), 1.0)
    if d == 0.0:
        return 0
    return max(0, int(math.ceil(math.log10(s / d))))


def pair_value(claim: "Claim", net: "MLP", w: dict[str, Any]) -> float:
    """The witnessed value in float64 (``w`` holds theta, theta2, x, x2, y)."""
    q = claim.quantity
    th, th2, X, y = w["theta"], w.get("theta2"), w["x"], w.get("y")
    if q == "pointwise":
        lhs, _ = claim.bound.fn(net, th, X, _targets(claim, y, X), None)
        return float(lhs)
    if q == "lip_input":
        x2 = w["x2"]
        den = float(np.linalg.norm(X - x2))
        if den == 0.0:
            return 0.0
        return float(np.linalg.norm(np.atleast_1d(net.f(th, X[0]) - net.f(th, x2[0])))) / den
    den = float(np.linalg.norm(th - th2))
    if den == 0.0:
        return 0.0
    if q == "lip_f":
        num = abs(float(net.f(th, X[0])) - float(net.f(th2, X[0])))
    elif q == "lip_grad":
        num = float(np.linalg.norm(net.grad(th, X[0]) - net.grad(th2, X[0])))
    else:  # lip_loss_grad
        num = float(np.linalg.norm(net.loss_grad(th, X, y) - net.loss_grad(th2, X, y)))
    return num / den


def pair_value_mp(claim: "Claim", net: "MLP", w: dict[str, Any], dps: int) -> mpmath.mpf:
    """The witnessed value at ``dps`` digits (plus the digits the pair cancels)."""
    q = claim.quantity
    th, th2, X, y = w["theta"], w.get("theta2"), w["x"], w.get("y")
    if q == "pointwise":
        lhs, _ = claim.bound.fn(net, th, X, _targets(claim, y, X), dps)
        return mpmath.mpf(lhs)
    if q == "lip_input":
        x2 = w["x2"]
        d = dps + lost_digits(X, x2)
        with mpmath.workdps(d):
            fab = net.f_mp(th, np.stack([X[0], x2[0]]), dps=d)  # one conversion of θ for both inputs
            a, b = np.atleast_1d(fab[0]), np.atleast_1d(fab[1])
            num = norm_mp(a - b)
            den = norm_mp(to_mp(X[0]) - to_mp(x2[0]))
            return +(num / den) if den else mpmath.mpf(0)
    d = dps + lost_digits(th, th2)
    with mpmath.workdps(d):
        den = norm_mp(to_mp(th) - to_mp(th2))
        if not den:
            return mpmath.mpf(0)
        if q == "lip_f":
            num = abs(net.f_mp(th, X[0], dps=d) - net.f_mp(th2, X[0], dps=d))
        elif q == "lip_grad":
            num = norm_mp(net.grad_mp(th, X[0], dps=d) - net.grad_mp(th2, X[0], dps=d))
        else:
            num = norm_mp(_loss_grad_mp(net, th, X, y, d) - _loss_grad_mp(net, th2, X, y, d))
        return +(num / den)


def rhs_value(claim: "Claim", net: "MLP", w: dict[str, Any], dps: int | None) -> Any:
    """A pointwise claim's right-hand side (float, or mpf at ``dps``)."""
    X = w["x"]
    _, rhs = claim.bound.fn(net, w["theta"], X, _targets(claim, w.get("y"), X), dps)
    return float(rhs) if dps is None else mpmath.mpf(rhs)


def _targets(claim: "Claim", y: Any, X: np.ndarray) -> np.ndarray:
    if y is None:
        return np.zeros(X.shape[0])
    return np.asarray(y, dtype=float)


def _loss_grad_mp(net: "MLP", th: np.ndarray, X: np.ndarray, y: np.ndarray, dps: int) -> np.ndarray:
    G = net.grad_mp(th, X, dps=dps)           # (n, P)
    F = net.f_mp(th, X, dps=dps)              # (n,)
    n = X.shape[0]
    r = [(F[k] - mpmath.mpf(float(y[k]))) / n for k in range(n)]
    out = np.empty(net.n_params, dtype=object)
    for j in range(net.n_params):
        out[j] = mpmath.fsum(r[k] * G[k, j] for k in range(n))
    return out


def domain_problems(claim: "Claim", net: "MLP", region: "Region", w: dict[str, Any],
                    R: float, Y: float | None) -> list[str]:
    """Why a witness is not admissible (empty list when it is).

    Every constraint is checked for every quantity: ``theta`` (and ``theta2``,
    which the parameter quantities need) in the region; ``x`` (and ``x2``, which
    ``lip_input`` needs) finite rows with ``|x| <= R``; the targets ``y`` finite
    with ``|y| <= Y`` where the claim uses them.  ``lip_input`` with ``R = 0`` is
    the global statement in x (any input counts), as in the audit with no ``R``.
    Ball membership and the input radius are checked exactly (mpmath sums of
    squares of the float entries); a box's spectral norms in float64, which is
    safe because witnesses keep a relative margin of :data:`INSIDE`.
    """
    out: list[str] = []
    q = claim.quantity
    thetas = [("theta", w.get("theta"))]
    if q in ("lip_f", "lip_grad", "lip_loss_grad") or w.get("theta2") is not None:
        thetas.append(("theta2", w.get("theta2")))
    for name, th in thetas:
        if th is None:
            out.append(f"{name} is missing (a {q} witness needs it)")
            continue
        th = np.asarray(th, dtype=float)
        if th.shape != (net.n_params,) or not np.all(np.isfinite(th)):
            out.append(f"{name} is not a finite vector of {net.n_params} parameters")
            continue
        if region.kind == "ball":
            with mpmath.workdps(60):
                d2 = mpmath.fsum((mpmath.mpf(float(a)) - mpmath.mpf(float(c))) ** 2
                                 for a, c in zip(th, region.center))
                if d2 > mpmath.mpf(region.radius) ** 2:
                    out.append(f"{name} lies outside the ball (distance {mpmath.nstr(mpmath.sqrt(d2), 17)} "
                               f"> radius {region.radius!r})")
        elif not region.contains(net, th, tol=0.0):
            out.append(f"{name} lies outside the box {region.describe()}")
    xs = [("x", w.get("x"))]
    if q == "lip_input" or w.get("x2") is not None:
        xs.append(("x2", w.get("x2")))
    n_rows = None
    for name, X in xs:
        if X is None:
            out.append(f"{name} is missing (a {q} witness needs it)")
            continue
        X = np.asarray(X, dtype=float)
        X = X[None, :] if X.ndim == 1 else X
        if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] != net.d_in or not np.all(np.isfinite(X)):
            out.append(f"{name} is not a finite array of inputs of dimension {net.d_in}")
            continue
        want = getattr(claim.bound, "n_samples", None) if q == "pointwise" else 1
        if want is not None and X.shape[0] != want:
            out.append(f"{name} has {X.shape[0]} input rows; a {q} witness has {want}")
            continue
        if name == "x":
            n_rows = X.shape[0]
        if q == "lip_input" and R == 0:
            continue  # R = 0: U4 as the global statement in x; any input counts
        with mpmath.workdps(60):
            for k, row in enumerate(X):
                n2 = mpmath.fsum(mpmath.mpf(float(a)) ** 2 for a in row)
                if n2 > mpmath.mpf(R) ** 2:
                    out.append(f"{name}[{k}] has norm {mpmath.nstr(mpmath.sqrt(n2), 17)} > R = {R!r}")
    uses_y = q == "lip_loss_grad" or (q == "pointwise" and bool(getattr(claim.bound, "targets", False)))
    y = w.get("y")
    if uses_y:
        if y is None:
            out.append(f"the targets y are missing (a {q} witness needs them)")
        elif Y is None:
            out.append("the targets y have no target radius Y to lie within")
        else:
            ya = np.atleast_1d(np.asarray(y, dtype=float))
            if ya.ndim != 1 or not np.all(np.isfinite(ya)) or (n_rows is not None and ya.size != n_rows):
                out.append(f"y is not a finite vector of {n_rows if n_rows is not None else 'one per input'} targets")
            elif np.any(np.abs(ya) > Y):
                out.append(f"a target exceeds Y = {Y!r}")
    elif y is not None and Y is not None and np.any(~(np.abs(np.asarray(y, float)) <= Y)):
        out.append(f"a target exceeds Y = {Y!r}")
    return out
