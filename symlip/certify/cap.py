"""The analytic bound U1–U4 evaluated rigorously in arb: the cap of a certified upper
(docs/theory.md §3).

:func:`u_cap` evaluates the straight-line program of
:func:`symlip.bounds.symbolic.derive` (its ``steps`` and ``result``, never the
unrolled expression) in ball arithmetic with every input replaced by a certified
upper end:

* ``R``, ``Y``, the widths ``d_i`` and a box region's ``ω_i``, ``β_i``: exact;
* a ball region ``|θ - θ°| <= r``: ``ω_i = ||W°_i||_2 + r`` and ``β_i = |b°_i| + r``
  (:meth:`Region.layer_bounds`), with ``||W°_i||_2`` bounded from above rigorously
  (:func:`~symlip.certify.interval.norm2_upper`);
* the activation constants ``S0, S1, S2, c0``: :attr:`Constant.upper` of an
  ``exact`` or ``certified`` constant only (a ``numeric`` or ``claimed`` value never
  enters; then there is no cap).

U is nondecreasing in each of these inputs (sums, products, square roots and
``Min`` of nonnegative terms), so the upper end of the ball is ``>= U`` at the true
values, which bounds the local quantity everywhere on the domain (the theorem of
docs/theory.md §3).  :func:`replay_certificate` recomputes the cap from the problem.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import sympy as sp
from flint import arb

from symlip.certify.interval import ONE, ZERO, frobenius_up, norm2_upper, to_arb, workprec

if TYPE_CHECKING:  # pragma: no cover
    from symlip.models.network import MLP
    from symlip.models.region import Region

__all__ = ["u_cap", "arb_eval", "region_layer_bounds"]

_PROVEN = ("exact", "certified")


def arb_eval(expr: sp.Expr, env: dict[sp.Symbol, arb]) -> arb:
    """A ball containing ``expr`` at every value of the balls ``env`` (its free symbols;
    ``+inf`` allowed where the result stays meaningful, e.g. inside ``Min``).

    Supports numbers, ``Add``, ``Mul``, ``Pow`` (rational exponents), ``Min``, ``Max``,
    ``exp``, ``log``, ``pi``, ``E``; ``ValueError`` for anything else.
    """
    if expr.is_Symbol:
        if expr not in env:
            raise ValueError(f"no value for the symbol {expr}")
        return env[expr]
    if expr.is_Integer:
        return arb(int(expr))
    if expr.is_Rational:
        return arb(int(expr.p)) / arb(int(expr.q))
    if expr.is_Float:
        m, e = sp.Float(expr)._mpf_[1], sp.Float(expr)._mpf_[2]
        s = -1 if sp.Float(expr)._mpf_[0] else 1
        return arb(s * int(m)) * arb(2) ** e
    if expr is sp.pi:
        return arb.pi()
    if expr is sp.E:
        return ONE.exp()
    args = [arb_eval(a, env) for a in expr.args]
    if expr.is_Add:
        return sum(args[1:], args[0])
    if expr.is_Mul:
        out = args[0]
        for a in args[1:]:
            out = out * a
        return out
    if expr.is_Pow:
        base, ex = expr.args
        if ex.is_Integer:
            k = int(ex)
            out = ONE
            for _ in range(abs(k)):
                out = out * args[0]
            return out if k >= 0 else ONE / out
        if ex == sp.Rational(1, 2):
            return args[0].sqrt()
        if ex == sp.Rational(-1, 2):
            return ONE / args[0].sqrt()
        return args[0] ** args[1]
    if isinstance(expr, (sp.Min, sp.Max)):
        lows = [a.lower() for a in args]
        highs = [a.upper() for a in args]
        pick = min if isinstance(expr, sp.Min) else max
        return _ordered_pick(pick, lows).union(_ordered_pick(pick, highs))
    if isinstance(expr, sp.exp):
        return args[0].exp()
    if isinstance(expr, sp.log):
        return args[0].log()
    raise ValueError(f"no arb evaluation of {type(expr).__name__}")


def _ordered_pick(pick: Any, exact: list[arb]) -> arb:
    """min/max of exact arbs (comparisons of exact balls are decided)."""
    best = exact[0]
    for a in exact[1:]:
        if (a < best) if pick is min else (a > best):
            best = a
    return best


def region_layer_bounds(net: "MLP", region: "Region") -> tuple[list[arb], list[arb]]:
    """:meth:`Region.layer_bounds` as exact arbs ``>=`` the true values (rigorous for a ball)."""
    if region.kind == "box":
        om, be = region.layer_bounds(net)
        return [to_arb(o) for o in om], [to_arb(b) for b in be]
    region.check_net(net)
    r = to_arb(region.radius)
    om, be = [], []
    with workprec():
        for W, b in net.unflatten(np.asarray(region.center, float)):
            om.append((norm2_upper(np.asarray(W, float)) + r).upper())
            be.append((frobenius_up(to_arb(t) for t in b) + r).upper())
    return om, be


def u_cap(quantity: str, net: "MLP", region: "Region", R: float, Y: float | None) -> tuple[arb | None, str]:
    """``(cap, note)``: an exact arb ``>=`` the analytic bound of ``quantity`` (module
    docstring), or ``(None, why not)`` when an activation constant it uses is not
    exact/certified, the bound is infinite, or it does not apply."""
    from symlip.bounds.symbolic import derive, standard_symbols

    bound = derive(quantity, net.depth)
    act = net.activation
    if bound.requires and net.depth >= 2 and not act.in_class(bound.requires):
        return None, f"the U bound needs a {bound.requires} activation"
    std = standard_symbols(net.depth)
    om, be = region_layer_bounds(net, region)
    env: dict[sp.Symbol, arb] = {std.R: to_arb(R), std.Y: to_arb(Y or 0.0)}
    env.update({s: arb(int(w)) for s, w in zip(std.d, net.widths)})
    env.update(dict(zip(std.omega, om)))
    env.update(dict(zip(std.beta, be)))
    consts = act.constants
    for name in bound.activation_constants():
        c = consts[name]
        if c.provenance not in _PROVEN:
            return None, f"the activation constant {name} is {c.provenance}, not exact or certified"
        # an infinite constant enters as +inf (S0 of an unbounded σ inside Min: the other term decides)
        env[getattr(std, name)] = to_arb(c.upper) if c.is_finite else arb("inf")
    for name in ("S0", "S1", "S2", "c0"):
        env.setdefault(getattr(std, name), ZERO)  # unused by the bound
    with workprec():
        for s, rhs in bound.steps:
            env[s] = arb_eval(rhs, env)
        val = arb_eval(bound.result, env)
    if not val.is_finite():
        return None, "the U bound is not finite"
    return val.upper(), f"{bound.name} evaluated in arb"
