"""Lower bounds: no global bound exists (docs/theory.md §4).

The witness construction of §4, for any depth ``m``, widths and activation:

* a scalar chain carried by unit 0 of every layer (other weights and biases 0),
  input ``x = R e_0``, all weights ``w_j = w``, biases ``b_1 = t0 - wR``,
  ``b_j = t0 - w σ(t0)`` for ``1 < j < m`` and ``b_m = 0``, so that every hidden
  pre-activation of the chain equals ``t0``;
* then ``∂f/∂w_1 = R δ_1``, ``∂f/∂b_1 = δ_1`` with ``δ_1 = (w σ'(t0))^{m-1}``, and
  (for ``σ' (t0) > 0``)
  ``∂²f/∂w_1² = R² σ''(t0) σ'(t0)^{m-2} w^{m-1} Σ_{j=0}^{m-2} (w σ'(t0))^j``.

The chain's parameters are ``θ(w) = w a + t0 e`` with ``|a|² = m + R² + (m-2) σ(t0)²``
and ``|e|² = m - 1``, so on the ball ``|θ| <= r`` one may take ``w >= κ r / |a|``
for every ``r >= r_min = |t0| √(m-1) / (1 - κ)`` (``κ = 1/2``; with ``t0 = 0``,
``κ = 1 - 10⁻⁹`` and ``r_min = 0``).  Hence, with ``A = |a|``,

    sup_{|θ|<=r} |∇_θ f|      >= c  r^{m-1},   c  = √(1+R²) (κ σ'(t0) / A)^{m-1}
    sup_{|θ|<=r} ||∇²_θ f||_2 >= c' r^{2m-3},  c' = R² |σ''(t0)| σ'(t0)^{2m-4} (κ / A)^{2m-3}

(the second for ``m >= 2`` and the smooth class; at ``m = 1``, ``|∇_θ f| = √(1+|x|²)``
everywhere and ``c = κ √(1+R²)``), the exponents of U1 and U2: no
bound independent of the region can hold.  The claims are *witnessed*: symlip
builds the parameters, checks in mpmath that they lie in the ball, and evaluates
the local quantity — ``|∇_θ f|``, resp. ``|∇²_θ f v|`` for a unit ``v`` — at high
precision against the formula.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import mpmath
import numpy as np
import sympy as sp

if TYPE_CHECKING:  # pragma: no cover
    from symlip.activations.registry import Activation
    from symlip.models.network import MLP
    from symlip.models.region import Region

__all__ = ["LowerConstant", "LowerWitness", "LowerFormula", "Growth", "choose_t0", "lower_constant",
           "chain_parameters", "lower_bound", "growth", "room", "LOWER_QUANTITIES", "MAX_POINTS"]

#: Quantities with a §4 lower bound and their exponent of r (as a function of the depth m).
LOWER_QUANTITIES = ("lip_f", "lip_grad")
#: caps of :func:`growth`: radii, and radii times parameters (each radius evaluates the
#: witness with mpmath; 600000 takes about a minute)
MAX_POINTS = 1000
MAX_GROWTH_WORK = 600_000
_KAPPA = 0.5                 # w >= κ r / |a| for r >= r_min when t0 != 0
_KAPPA_ZERO = 1.0 - 1e-9     # t0 = 0: w = r / |a| up to the inside margin
_SHRINK = 1e-12              # witnesses sit this (relative) margin inside the ball
_T0_GRID = np.round(np.linspace(-4.0, 4.0, 321), 6)
_KINK_GAP = 0.05

_sym_r, _sym_R, _sym_m = sp.symbols("r R m", positive=True)
_s0, _s1, _s2 = sp.symbols("sigma_0 sigma_1 sigma_2", real=True)
_kappa, _A = sp.symbols("kappa A", positive=True)


def exponent(quantity: str, depth: int) -> int:
    """The growth exponent of §3/§4: ``m - 1`` (lip_f) or ``2m - 3`` (lip_grad)."""
    _check_quantity(quantity, depth)
    return depth - 1 if quantity == "lip_f" else 2 * depth - 3


# ---------------------------------------------------------------------------
# the explicit constant
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class LowerConstant:
    """The explicit constant of §4: ``sup_{|θ|<=r} Q >= c r^e`` for ``r >= r_min``.

    Attributes
    ----------
    quantity : str
        ``"lip_f"`` or ``"lip_grad"``.
    depth : int
    c : float
        The constant (``c`` or ``c'``).
    exponent : int
        ``m - 1`` or ``2m - 3``.
    r_min : float
        Smallest radius the formula is stated for.
    t0, sigma, d1, d2 : float
        The chosen point and ``σ(t0)``, ``σ'(t0)``, ``σ''(t0)``.
    kappa : float
        The fraction of ``r / |a|`` the chain weight is guaranteed to reach.
    A : float
        ``|a| = √(m + R² + (m-2) σ(t0)²)``.
    R : float
    reason : str
        Why this ``t0``.
    """

    quantity: str
    depth: int
    c: float
    exponent: int
    r_min: float
    t0: float
    sigma: float
    d1: float
    d2: float
    kappa: float
    A: float
    R: float
    reason: str

    def formula(self, r: float) -> float:
        """``c r^e`` (a ValueError below ``r_min``)."""
        if not (math.isfinite(r) and r >= self.r_min):
            raise ValueError(f"the lower bound is stated for radii r >= r_min = {self.r_min:.6g}; got r = {r!r}")
        return self.c * r ** self.exponent

    def formula_mp(self, r: float, dps: int = 50) -> mpmath.mpf:
        """``c r^e`` at ``dps`` digits, from the float ``t0`` and ``R``."""
        act_vals = (self.sigma, self.d1, self.d2)
        with mpmath.workdps(dps):
            return _constant_mp(self.quantity, self.depth, self.R, self.t0, self.kappa, act_vals) \
                * mpmath.mpf(r) ** self.exponent

    def expr(self) -> sp.Expr:
        """The constant as a sympy expression in ``R, σ_0 = σ(t0), σ_1, σ_2, κ``."""
        return lower_formula_expr(self.quantity, self.depth)

    def latex(self) -> str:
        """LaTeX of ``c r^e`` with ``A`` spelled out."""
        return lower_formula_latex(self.quantity, self.depth)


def lower_formula_expr(quantity: str, depth: int) -> sp.Expr:
    """The §4 formula ``c r^e`` (resp. ``c' r^{2m-3}``) as a sympy expression in
    ``r, R, σ_0 = σ(t0), σ_1 = σ'(t0), σ_2 = σ''(t0), κ`` for depth ``depth``."""
    e = exponent(quantity, depth)
    m = depth
    if m == 1:
        return _kappa * sp.sqrt(1 + _sym_R ** 2)
    A = sp.sqrt(m + _sym_R ** 2 + (m - 2) * _s0 ** 2)
    if quantity == "lip_f":
        return sp.sqrt(1 + _sym_R ** 2) * (_kappa * _s1 / A) ** (m - 1) * _sym_r ** e
    return _sym_R ** 2 * sp.Abs(_s2) * _s1 ** (2 * m - 4) * (_kappa / A) ** (2 * m - 3) * _sym_r ** e


def lower_formula_latex(quantity: str, depth: int) -> str:
    """LaTeX of :func:`lower_formula_expr` (``σ_k`` read as ``σ^{(k)}(t_0)``)."""
    text = sp.latex(lower_formula_expr(quantity, depth))
    for k, rep in (("0", r"\sigma(t_0)"), ("1", r"\sigma'(t_0)"), ("2", r"\sigma''(t_0)")):
        text = text.replace(rf"\sigma_{{{k}}}", rep)
    return text


def _constant_mp(quantity: str, m: int, R: float, t0: float, kappa: float,
                 vals: tuple[float, float, float] | None = None, act: "Activation | None" = None) -> mpmath.mpf:
    """The constant in mpmath (σ values from ``act`` at the working precision when given)."""
    R_ = mpmath.mpf(R)
    if m == 1:  # |∇_θ f| = √(1+|x|²) everywhere; κ < 1 keeps the claim strict
        return mpmath.mpf(kappa) * mpmath.sqrt(1 + R_ ** 2)
    if act is not None:
        t = mpmath.mpf(t0)
        s0, s1, s2 = (act.mpmath(k)(t) for k in (0, 1, 2))
    else:
        s0, s1, s2 = (mpmath.mpf(v) for v in vals)
    A = mpmath.sqrt(m + R_ ** 2 + (m - 2) * s0 ** 2)
    k = mpmath.mpf(kappa)
    if quantity == "lip_f":
        return mpmath.sqrt(1 + R_ ** 2) * (k * s1 / A) ** (m - 1)
    return R_ ** 2 * abs(s2) * s1 ** (2 * m - 4) * (k / A) ** (2 * m - 3)


def choose_t0(act: "Activation", quantity: str = "lip_f", depth: int = 2, R: float = 1.0,
              r: float | None = None) -> tuple[float, str]:
    """The point ``t0`` of the §4 construction and why it was chosen.

    ``t0`` maximises the explicit constant (:func:`lower_constant`) over a grid of
    ``[-4, 4]`` among points where ``σ'(t0) > 0`` (and ``σ''(t0) ≠ 0`` for
    ``lip_grad``), at least 0.05 away from a kink of a piecewise activation;
    ``t0 = 0`` is preferred on ties because it needs no minimum radius.  Given a
    radius ``r``, only points whose minimum radius ``|t0| √(m-1) / (1 - κ)`` is at
    most ``r`` qualify.

    Raises
    ------
    ValueError
        If no admissible point exists (e.g. ``lip_grad`` for a Lipschitz-only or
        affine activation).
    """
    from symlip.activations.registry import activation as _activation

    act = _activation(act)
    _check_quantity(quantity, depth)
    _check_R(R)
    if quantity == "lip_grad":
        act.require("smooth", purpose="the §4 lower bound of Lip(∇_θ f)")
    kinks = list(act.kinks)
    best: tuple[float, float] | None = None
    s1f, s2f = act.numpy(1), act.numpy(2)
    for t in _T0_GRID:
        if any(abs(t - k) < _KINK_GAP for k in kinks):
            continue
        d1 = float(s1f(np.array([t]))[0])
        d2 = float(s2f(np.array([t]))[0])
        if not (math.isfinite(d1) and d1 > 1e-8):
            continue
        if quantity == "lip_grad" and not (math.isfinite(d2) and abs(d2) > 1e-8):
            continue
        if r is not None and depth >= 2 and t != 0.0 and abs(t) * math.sqrt(depth - 1) / (1 - _KAPPA) > r:
            continue
        c = _constant_float(act, quantity, depth, R, float(t))
        if best is None or c > best[1] * (1 + 1e-12) or (abs(c - best[1]) <= 1e-12 * best[1] and t == 0.0):
            best = (float(t), c)
    if best is None:
        need = "σ'(t0) > 0 and σ''(t0) ≠ 0" if quantity == "lip_grad" else "σ'(t0) > 0"
        raise ValueError(f"activation {act.name!r} has no point t0 in [-4, 4] with {need} away from its kinks"
                         + ("" if r is None else f" usable at radius r = {r:g}")
                         + f"; the §4 construction for {quantity} needs one")
    t0, c = best
    d1 = float(s1f(np.array([t0]))[0])
    why = [f"σ'({t0:g}) = {d1:.6g} > 0"]
    if quantity == "lip_grad":
        why.append(f"σ''({t0:g}) = {float(s2f(np.array([t0]))[0]):.6g} ≠ 0")
    if kinks:
        why.append(f"away from the kink{'s' if len(kinks) > 1 else ''} at {', '.join(f'{k:g}' for k in kinks)}")
    why.append(f"it maximises the explicit constant over a grid of [-4, 4] (c = {c:.6g})")
    if t0 == 0.0:
        why.append("and t0 = 0 needs no minimum radius")
    return t0, "; ".join(why)


def _constant_float(act: "Activation", quantity: str, m: int, R: float, t0: float) -> float:
    kappa = _KAPPA_ZERO if (t0 == 0.0 or m == 1) else _KAPPA
    with mpmath.workdps(20):
        return float(_constant_mp(quantity, m, R, t0, kappa, act=act))


def lower_constant(act: "Activation | str", quantity: str = "lip_f", depth: int = 2, R: float = 1.0,
                   t0: float | None = None, r: float | None = None) -> LowerConstant:
    """The explicit constant ``c`` (``lip_f``) or ``c'`` (``lip_grad``) of §4.

    Parameters
    ----------
    act : Activation or str
    quantity : {"lip_f", "lip_grad"}
    depth : int
        ``m >= 1`` (``m >= 2`` for ``lip_grad``).
    R : float
        Input radius ``> 0``.
    t0 : float, optional
        The chain's pre-activation; chosen by :func:`choose_t0` when omitted.
    r : float, optional
        The radius the constant will be used at (restricts the choice of ``t0``).

    Returns
    -------
    LowerConstant
    """
    from symlip.activations.registry import activation as _activation

    act = _activation(act)
    _check_quantity(quantity, depth)
    _check_R(R)
    if quantity == "lip_grad":
        act.require("smooth", purpose="the §4 lower bound of Lip(∇_θ f)")
    if t0 is None:
        t0, reason = choose_t0(act, quantity, depth, R, r)
    else:
        if not (isinstance(t0, (int, float)) and math.isfinite(t0)):
            raise ValueError(f"t0 must be a finite number; got {t0!r}")
        t0 = float(t0)
        reason = "given by the caller"
    s0, d1, d2 = (float(act.numpy(k)(np.array([t0]))[0]) for k in (0, 1, 2))
    if not d1 > 0:
        raise ValueError(f"the §4 construction needs σ'(t0) > 0; {act.name}'(t0={t0:g}) = {d1:g}")
    if quantity == "lip_grad" and not (math.isfinite(d2) and d2 != 0):
        raise ValueError(f"the §4 lower bound of Lip(∇_θ f) needs σ''(t0) ≠ 0; {act.name}''(t0={t0:g}) = {d2:g}")
    kappa = _KAPPA_ZERO if (t0 == 0.0 or depth == 1) else _KAPPA
    m = depth
    A = math.sqrt(m + R * R + (m - 2) * s0 * s0) if m >= 2 else 1.0
    r_min = 0.0 if (t0 == 0.0 or m == 1) else abs(t0) * math.sqrt(m - 1) / (1 - kappa)
    with mpmath.workdps(30):
        c = float(_constant_mp(quantity, m, R, t0, kappa, act=act))
    return LowerConstant(quantity=quantity, depth=m, c=c, exponent=exponent(quantity, m), r_min=r_min, t0=t0,
                         sigma=s0, d1=d1, d2=d2, kappa=kappa, A=A, R=float(R), reason=reason)


# ---------------------------------------------------------------------------
# the witness
# ---------------------------------------------------------------------------
def chain_parameters(net: "MLP", r: float, R: float = 1.0, t0: float = 0.0,
                     center: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The §4 chain embedded in ``net``'s widths, inside the ball ``|θ - center| <= r``.

    The chain lies on the sphere ``|θ| = r (1 - 10⁻¹²)`` around 0 (around 0 also
    when ``center`` is given: then its radius is ``r - |center|``, so it lies in
    the ball by the triangle inequality).

    Returns
    -------
    theta : ndarray, shape (P,)
    x : ndarray, shape (1, d_0)
        The input ``R e_0``.
    """
    m = net.depth
    r_eff = float(r)
    if center is not None:
        r_eff = float(r) - float(np.linalg.norm(center))
    if not (math.isfinite(r_eff) and r_eff > 0):
        raise ValueError(f"the ball has no room for the chain around 0 (radius {r!r} minus |center|); "
                         "the §4 construction needs a ball that contains a ball around θ = 0")
    s0 = float(net.activation.numpy(0)(np.array([t0]))[0])
    layers = [(np.zeros((o, i)), np.zeros(o)) for i, o in zip(net.widths[:-1], net.widths[1:])]
    x = np.zeros((1, net.d_in))
    x[0, 0] = R
    if m == 1:
        return net.flatten(layers), x
    # θ(w) = w a + t0 e: solve |θ(w)| = r_eff for the largest root
    a2 = m + R * R + (m - 2) * s0 * s0
    ae = -R - (m - 2) * s0
    e2 = m - 1
    target = r_eff * (1 - _SHRINK)
    disc = (t0 * ae) ** 2 - a2 * (t0 * t0 * e2 - target ** 2)
    if disc < 0:
        raise ValueError(f"radius {r!r} is too small for the chain with t0 = {t0:g}")
    w = (-t0 * ae + math.sqrt(disc)) / a2
    if not w > 0:
        raise ValueError(f"radius {r!r} is too small for the chain with t0 = {t0:g} (weight {w:g} <= 0)")
    for j, (W, b) in enumerate(layers):
        W[0, 0] = w
        if j == 0:
            b[0] = t0 - w * R
        elif j < m - 1:
            b[0] = t0 - w * s0
    theta = net.flatten(layers)
    n = float(np.linalg.norm(theta))
    if n > target:  # rounding of the entries: pull back onto the sphere
        theta = theta * (target / n)
    return theta, x


@dataclass(frozen=True)
class LowerWitness:
    """A witnessed lower bound (the result of :func:`lower_bound`).

    Attributes
    ----------
    holds : bool
        The witness lies in the ball (checked in mpmath) and its local quantity,
        evaluated at ``dps`` digits, is at least the formula ``c r^e``.
    value, formula : float
        The witnessed local quantity (``|∇_θ f|`` or ``|∇²_θ f v|``) and ``c r^e``.
    value_mp, formula_mp : str
        The same at ``dps`` digits.
    theta, x : ndarray
        The witness parameters and input.
    distance : float
        ``|θ - center|`` (in mpmath, rounded).
    constant : LowerConstant
    message : str
    """

    holds: bool
    quantity: str
    r: float
    value: float
    formula: float
    value_mp: str
    formula_mp: str
    theta: np.ndarray
    x: np.ndarray
    direction: np.ndarray | None
    distance: float
    constant: LowerConstant
    dps: int
    message: str

    @property
    def ratio(self) -> float:
        """``value / formula`` (>= 1 when the witness beats the formula)."""
        return self.value / self.formula if self.formula > 0 else math.inf


def lower_bound(net: "MLP", quantity: str = "lip_f", r: float = 10.0, R: float = 1.0,
                t0: float | None = None, dps: int = 50, center: np.ndarray | None = None) -> LowerWitness:
    """Build the §4 witness for ``net`` on the ball of radius ``r`` and check it.

    Parameters
    ----------
    net : MLP
        Any widths (the chain uses unit 0 of each layer), scalar output.
    quantity : {"lip_f", "lip_grad"}
    r : float
        Ball radius (around 0, or around ``center``).
    R : float
        Input radius; the witness input is ``x = R e_0``.
    t0 : float, optional
        Chosen by :func:`choose_t0` when omitted.
    dps : int
        Digits of the mpmath evaluation.

    Returns
    -------
    LowerWitness
    """
    from symlip.models.network import MLP
    from symlip.core.precision import check_dps, norm_mp, to_mp

    if not isinstance(net, MLP):
        raise TypeError(f"lower_bound needs an MLP; got {type(net).__name__}")
    if net.d_out != 1:
        raise ValueError(f"lower_bound needs a scalar output; the network {list(net.widths)} has d_m = {net.d_out}")
    from symlip.core.precision import check_max_dps

    dps = check_dps(dps)
    check_max_dps(dps)
    _check_R(R)
    if not (isinstance(r, (int, float)) and math.isfinite(r) and r > 0):
        raise ValueError(f"r must be a finite radius > 0; got {r!r}")
    r_eff = float(r) if center is None else float(r) - float(np.linalg.norm(center))
    const = lower_constant(net.activation, quantity, net.depth, R, t0, r=r_eff)
    if r_eff < const.r_min:
        raise ValueError(f"the §4 formula with t0 = {const.t0:g} is stated for radii >= {const.r_min:.6g}; the "
                         f"ball leaves radius {r_eff:.6g} around 0")
    theta, x = chain_parameters(net, r, R, const.t0, center)
    c0 = np.zeros(net.n_params) if center is None else np.asarray(center, float)
    direction = None
    with mpmath.workdps(dps + 10):
        dist = norm_mp(to_mp(theta) - to_mp(c0))
        inside = dist <= mpmath.mpf(r)
        if quantity == "lip_f":
            g = net.grad_mp(theta, x[0], dps=dps + 10)
            val = norm_mp(g)
        else:
            direction = _top_direction(net, theta, x[0])
            hv = net.hvp_mp(theta, x[0], direction, dps=dps + 10)
            val = norm_mp(hv) / norm_mp(to_mp(direction))
        form = _constant_mp(quantity, net.depth, R, const.t0, const.kappa, act=net.activation) \
            * mpmath.mpf(r_eff) ** const.exponent
        holds = bool(inside and val >= form)
        value_s, form_s = mpmath.nstr(val, dps), mpmath.nstr(form, dps)
        ratio_s = mpmath.nstr(val / form, 6) if form else "inf"
        value_f, form_f, dist_f = float(val), float(form), float(dist)
    what = "|∇_θ f|" if quantity == "lip_f" else "|∇²_θ f v|"
    if not inside:
        msg = f"the witness lies outside the ball: |θ - center| = {dist_f:.17g} > r = {r!r}"
    elif holds:
        msg = (f"witnessed: {what} = {value_f:.6g} >= c r^{const.exponent} = {form_f:.6g} at r = {r:g} "
               f"(ratio {ratio_s}; t0 = {const.t0:g}, evaluated at {dps} digits)")
    else:
        msg = f"not witnessed: {what} = {value_f:.6g} < c r^{const.exponent} = {form_f:.6g} at r = {r:g}"
    return LowerWitness(holds=holds, quantity=quantity, r=float(r), value=value_f, formula=form_f,
                        value_mp=value_s, formula_mp=form_s, theta=theta, x=x, direction=direction,
                        distance=dist_f, constant=const, dps=dps, message=msg)


def _top_direction(net: "MLP", theta: np.ndarray, x: np.ndarray) -> np.ndarray:
    """A unit vector close to the top eigenvector of ``∇²_θ f`` (float64), so that
    ``|∇²_θ f v|`` is close to ``||∇²_θ f||_2``; any unit ``v`` gives a valid lower bound."""
    P = net.n_params
    if P <= 400:
        H = np.stack([net.hvp(theta, x, e) for e in np.eye(P)])
        H = 0.5 * (H + H.T)
        lam, V = np.linalg.eigh(H)
        k = int(np.argmax(np.abs(lam)))
        v = V[:, k]
    else:
        v = np.zeros(P)
        v[net.layer_slices[0][0].start] = 1.0  # W_1[0, 0]: the exact bound of §4
    return v / np.linalg.norm(v)


# ---------------------------------------------------------------------------
# growth: upper bound vs witnessed lower bound over radii
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Growth:
    """Upper bound (U1/U2 on the ball ``|θ| <= r``) and witnessed lower bound over radii.

    Attributes
    ----------
    radii, upper, lower, formula : tuple of float
        Per radius: the upper bound, the witnessed lower value, ``c r^e``.
    slope_upper, slope_lower : float
        Least-squares slopes of ``log`` value vs ``log r`` over the last decade of radii.
    exponent : int
        ``m - 1`` or ``2m - 3``.
    tolerance : float
        Allowed ``|slope - exponent|`` (0.05).
    all_witnessed : bool
        Every witness lay in its ball and beat its formula.
    """

    quantity: str
    widths: tuple[int, ...]
    activation: str
    R: float
    radii: tuple[float, ...]
    upper: tuple[float, ...]
    lower: tuple[float, ...]
    formula: tuple[float, ...]
    slope_upper: float
    slope_lower: float
    fit_from: float
    exponent: int
    tolerance: float
    all_witnessed: bool
    constant: LowerConstant
    seconds: float = 0.0
    messages: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """Both slopes within ``tolerance`` of the exponent and every witness valid."""
        return (self.all_witnessed and abs(self.slope_upper - self.exponent) <= self.tolerance
                and abs(self.slope_lower - self.exponent) <= self.tolerance)

    @property
    def stem(self) -> str:
        return f"growth_{_slug(self.activation)}_m{len(self.widths) - 1}_{self.quantity}"

    def table(self) -> str:
        """A plain-text table (one row per radius) and the slopes."""
        head = f"{'r':>10}  {'upper (U)':>14}  {'witnessed':>14}  {'c r^e':>14}  {'upper/witnessed':>15}"
        rows = [head]
        for r, u, lo, f in zip(self.radii, self.upper, self.lower, self.formula):
            rows.append(f"{r:>10.4g}  {u:>14.6g}  {lo:>14.6g}  {f:>14.6g}  {u / lo:>15.4g}")
        rows.append(self.verdict_line())
        return "\n".join(rows)

    def verdict_line(self) -> str:
        e = self.exponent
        return (f"slopes over r >= {self.fit_from:g}: upper {self.slope_upper:.4f}, witnessed lower "
                f"{self.slope_lower:.4f}; exponent {'m-1' if self.quantity == 'lip_f' else '2m-3'} = {e}: "
                + ("both within" if self.ok else "NOT both within") + f" {self.tolerance:g}"
                + ("" if self.all_witnessed else "; some witness failed"))

    def to_dict(self) -> dict[str, Any]:
        c = self.constant
        return {
            "quantity": self.quantity, "widths": list(self.widths), "activation": self.activation, "R": self.R,
            "exponent": self.exponent, "tolerance": self.tolerance, "ok": self.ok,
            "slope_upper": self.slope_upper, "slope_lower": self.slope_lower, "fit_from": self.fit_from,
            "all_witnessed": self.all_witnessed, "seconds": round(self.seconds, 3),
            "constant": {"c": c.c, "t0": c.t0, "r_min": c.r_min, "kappa": c.kappa, "A": c.A,
                         "reason": c.reason, "latex": c.latex()},
            "rows": [{"r": r, "upper": u, "witnessed": lo, "formula": f}
                     for r, u, lo, f in zip(self.radii, self.upper, self.lower, self.formula)],
        }

    def write(self, out_dir: str | Path = "reports") -> dict[str, Path]:
        """Write ``<stem>.md``, ``<stem>.json`` and (with matplotlib) ``<stem>.png``."""
        from symlip.core.plot import INSTALL_HINT, pyplot

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        files = {"json": out / f"{self.stem}.json", "md": out / f"{self.stem}.md"}
        files["json"].write_text(json.dumps(self.to_dict(), indent=1) + "\n")
        plt = pyplot()
        if plt is not None:
            files["png"] = out / f"{self.stem}.png"
            self._plot(plt, files["png"])
        files["md"].write_text(self._markdown(files.get("png"), None if plt is not None else INSTALL_HINT))
        return files

    def _plot(self, plt: Any, path: Path) -> None:
        fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=110)
        name = "U1" if self.quantity == "lip_f" else "U2"
        what = r"$\sup|\nabla_\theta f|$" if self.quantity == "lip_f" else r"$\mathrm{Lip}(\nabla_\theta f)$"
        ax.loglog(self.radii, self.upper, "o-", label=f"upper bound {name} on the ball (slope {self.slope_upper:.3f})")
        ax.loglog(self.radii, self.lower, "s-", label=f"witnessed lower bound (slope {self.slope_lower:.3f})")
        ax.loglog(self.radii, self.formula, "--", color="gray", label=f"formula $c\\,r^{{{self.exponent}}}$")
        ax.axvspan(self.fit_from, self.radii[-1], color="0.92", zorder=0, label="slope fit")
        ax.set_xlabel("ball radius r")
        ax.set_ylabel(what)
        ax.set_title(f"{self.activation}, widths {list(self.widths)}: growth like r^{self.exponent}")
        ax.legend(fontsize=8)
        ax.grid(True, which="both", alpha=0.3)
        fig.tight_layout()
        fig.savefig(path)
        plt.close(fig)

    def _markdown(self, png: Path | None, hint: str | None) -> str:
        c = self.constant
        name = "U1" if self.quantity == "lip_f" else "U2"
        q = "θ ↦ f(x;θ)" if self.quantity == "lip_f" else "θ ↦ ∇_θ f(x;θ)"
        lines = [f"# Growth of the Lipschitz constant of {q} on the ball |θ| ≤ r",
                 "",
                 f"{self.activation}, widths {list(self.widths)} (depth m = {len(self.widths) - 1}), "
                 f"inputs |x| ≤ R = {self.R:g}. docs/theory.md §3 (upper bound {name} on the ball, whose box has "
                 f"ω_i = β_i = r) and §4 (witnessed lower bound).",
                 "",
                 f"**{self.verdict_line()}.**",
                 "",
                 f"Lower-bound formula: ${c.latex()}$ with t0 = {c.t0:g}, κ = {c.kappa:.10g}, A = {c.A:.6g}, "
                 f"so c = {c.c:.6g} (stated for r ≥ {c.r_min:.4g}). Why t0: {c.reason}.",
                 "",
                 "| r | upper bound | witnessed | c r^e | upper / witnessed |",
                 "|---|---|---|---|---|"]
        for r, u, lo, f in zip(self.radii, self.upper, self.lower, self.formula):
            lines.append(f"| {r:.4g} | {u:.6g} | {lo:.6g} | {f:.6g} | {u / lo:.4g} |")
        lines.append("")
        if png is not None:
            lines += [f"![growth]({png.name})", ""]
        if hint:
            lines += [f"(No plot: {hint}.)", ""]
        lines.append(f"Every witness lies in its ball (checked in mpmath) and beats its formula: "
                     f"{'yes' if self.all_witnessed else 'NO'}. Computed in {self.seconds:.1f} s.")
        lines.append("")
        lines.append("Regenerate: `symlip growth --activation "
                     f"{self.activation} --depth {len(self.widths) - 1} --quantity {self.quantity}"
                     + (f" --width {self.widths[1]}" if len(self.widths) > 2 and self.widths[1] != 1 else "")
                     + f" --R {self.R:g}`")
        return "\n".join(lines) + "\n"


def growth(net: "MLP", quantity: str = "lip_f", radii: Sequence[float] | None = None, R: float = 1.0,
           t0: float | None = None, dps: int = 30, tolerance: float = 0.05) -> Growth:
    """Upper bound and witnessed lower bound on balls ``|θ| <= r`` over ``radii``.

    Parameters
    ----------
    net : MLP
    quantity : {"lip_f", "lip_grad"}
    radii : sequence of float, optional
        Increasing radii spanning at least two decades (default ``10^0 .. 10^4``,
        17 points, starting at the formula's ``r_min`` if that is larger).
    R : float
    t0 : float, optional
    dps : int
        Digits of the witnessed values.
    tolerance : float
        Allowed deviation of the fitted slopes from the exponent.

    Returns
    -------
    Growth
    """
    import time

    from symlip.bounds.symbolic import derive
    from symlip.models.region import Region

    t_start = time.perf_counter()
    if isinstance(tolerance, bool) or not (isinstance(tolerance, (int, float)) and 0 < tolerance < math.inf):
        raise ValueError(f"tolerance must be a finite number > 0; got {tolerance!r}")
    from symlip.core.precision import check_max_dps
    from symlip.core.precision import workdps

    check_max_dps(dps)
    with workdps(dps):  # checks dps before the seconds the bound's compilation may take
        pass
    if radii is not None:
        radii = [float(r) for r in radii]
    const = lower_constant(net.activation, quantity, net.depth, R, t0,
                           r=None if not radii or not radii[0] > 0 else radii[0])
    if radii is None:
        lo = max(1.0, 2.0 * const.r_min)
        radii = np.logspace(math.log10(lo), math.log10(lo) + 4, 17)
    radii = [float(r) for r in radii]
    if len(radii) < 3 or any(not (math.isfinite(r) and r > 0) for r in radii) or sorted(radii) != radii:
        raise ValueError(f"radii must be at least 3 increasing positive numbers; got {radii}")
    if radii[-1] / radii[0] < 100:
        raise ValueError(f"radii must span at least two decades; got {radii[0]:g} .. {radii[-1]:g}")
    if radii[0] < const.r_min:
        raise ValueError(f"the §4 formula with t0 = {const.t0:g} is stated for r >= {const.r_min:.6g}; "
                         f"the smallest radius is {radii[0]:g}")
    if len(radii) > MAX_POINTS:
        raise ValueError(f"growth takes at most {MAX_POINTS} radii; got {len(radii)}")
    if len(radii) * net.n_params > MAX_GROWTH_WORK:
        raise ValueError(f"growth evaluates a witness with mpmath at each radius: {len(radii)} radii x "
                         f"{net.n_params} parameters exceeds {MAX_GROWTH_WORK:,} (about a minute); use fewer "
                         "radii or a smaller network")
    for r in (radii[0], radii[-1]):  # before compiling the bound (seconds at a large depth)
        form = const.formula_mp(r, dps=20)
        if not mpmath.mpf("1e-300") < form < mpmath.mpf("1e300"):
            raise ValueError(f"at depth {net.depth} and r = {r:g} the lower-bound formula c r^{const.exponent} = "
                             f"{mpmath.nstr(form, 4)} leaves the float64 range; use a smaller depth or smaller radii")
    bound = derive(quantity, net.depth)
    zero = np.zeros(net.n_params)
    upper, lower, formula, msgs = [], [], [], []
    ok = True
    for r in radii:
        upper.append(bound.evaluate(net, Region.ball(zero, r), R=R))
        wit = lower_bound(net, quantity, r, R, const.t0, dps=dps)
        if not all(math.isfinite(v) and v > 0 for v in (upper[-1], wit.value, wit.formula)):
            raise ValueError(f"at depth {net.depth} and r = {r:g} the bounds leave the float64 range (upper "
                             f"{upper[-1]:.3g}, lower {mpmath.nstr(mpmath.mpf(wit.value_mp), 4)}, formula "
                             f"{mpmath.nstr(mpmath.mpf(wit.formula_mp), 4)}); "
                             "use a smaller depth or smaller radii")
        lower.append(wit.value)
        formula.append(wit.formula)
        ok &= wit.holds
        if not wit.holds:
            msgs.append(wit.message)
    fit_from = radii[-1] / 10.0
    sel = [k for k, r in enumerate(radii) if r >= fit_from * (1 - 1e-12)]
    if len(sel) < 2:
        sel = list(range(len(radii) - 2, len(radii)))
    fit_from = radii[sel[0]]
    lr = np.log([radii[k] for k in sel])
    su = float(np.polyfit(lr, np.log([upper[k] for k in sel]), 1)[0])
    sl = float(np.polyfit(lr, np.log([lower[k] for k in sel]), 1)[0])
    return Growth(quantity=quantity, widths=tuple(net.widths), activation=net.activation.name, R=float(R),
                  radii=tuple(radii), upper=tuple(upper), lower=tuple(lower), formula=tuple(formula),
                  slope_upper=su, slope_lower=sl, fit_from=fit_from, exponent=const.exponent,
                  tolerance=float(tolerance), all_witnessed=bool(ok), constant=const,
                  seconds=time.perf_counter() - t_start, messages=tuple(msgs))


# ---------------------------------------------------------------------------
# lower-bound claims (Claim(direction="lower")) as checked by falsify
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class LowerFormula:
    """The §4 formula as a claim bound ``(net, region, R, Y) -> c r^e``, with ``r``
    the radius the ball leaves around 0 (``radius - |center|``).

    ``scale`` and ``extra_exponent`` exist to state *false* variants (mutants):
    ``scale * c * r^(e + extra_exponent)``.
    """

    quantity: str = "lip_f"
    t0: float | None = None
    scale: float = 1.0
    extra_exponent: int = 0

    @property
    def __name__(self) -> str:  # claims describe callables by name
        base = "c r^(m-1)" if self.quantity == "lip_f" else "c' r^(2m-3)"
        if self.extra_exponent:
            base += f" * r^{self.extra_exponent}"
        return base if self.scale == 1.0 else f"{self.scale:g} * {base}"

    def __call__(self, net: "MLP", region: "Region", R: float | None, Y: float | None) -> float:
        r = room(net, region)
        const = lower_constant(net.activation, self.quantity, net.depth, 1.0 if R is None else R, self.t0, r=r)
        return self.scale * const.formula(r) * r ** self.extra_exponent

    def mp(self, net: "MLP", region: "Region", R: float | None, dps: int = 50) -> mpmath.mpf:
        """The same at ``dps`` digits (σ at ``t0`` by the activation's mpmath functions)."""
        R = 1.0 if R is None else R
        r = room(net, region)
        const = lower_constant(net.activation, self.quantity, net.depth, R, self.t0, r=r)
        const.formula(r)  # the range check
        with mpmath.workdps(dps):
            c = _constant_mp(self.quantity, net.depth, R, const.t0, const.kappa, act=net.activation)
            return mpmath.mpf(self.scale) * c * mpmath.mpf(r) ** (const.exponent + self.extra_exponent)


def room(net: "MLP", region: "Region") -> float:
    """How far the ball region reaches beyond its centre's norm (``ValueError`` for a box): the §4 chain's room."""
    if region.kind != "ball":
        raise ValueError("lower-bound claims are checked on balls (docs/theory.md §4); got a "
                         f"{region.kind} region {region.describe()}")
    return float(region.radius) - float(np.linalg.norm(region.center))


# ---------------------------------------------------------------------------
def _check_quantity(quantity: str, depth: int) -> None:
    if quantity not in LOWER_QUANTITIES:
        raise ValueError(f"quantity must be one of {', '.join(LOWER_QUANTITIES)} (docs/theory.md §4); got {quantity!r}")
    from symlip.bounds.symbolic import MAX_DEPTH

    if isinstance(depth, bool) or not (isinstance(depth, (int, np.integer)) and 1 <= depth <= MAX_DEPTH):
        raise ValueError(f"depth must be an integer >= 1 and <= {MAX_DEPTH}; got {depth!r}")
    if quantity == "lip_grad" and depth < 2:
        raise ValueError("the lower bound of Lip(∇_θ f) needs depth m >= 2 (at m = 1, f is affine in θ)")


def _check_R(R: float) -> None:
    if not (isinstance(R, (int, float)) and math.isfinite(R) and R > 0):
        raise ValueError(f"R must be a finite input radius > 0; got {R!r}")


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in name).strip("_") or "activation"
