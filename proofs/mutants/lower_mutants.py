"""False claims about growth (docs/theory.md §4): wrong lower bounds, and region-independent
("global") upper bounds, which the §4 construction breaks.

* Lower-bound mutants (``direction="lower"``) are *refuted*: the upper bound of
  docs/theory.md §3 (U1/U2) on the ball is below the claimed lower bound, so no
  parameters reach it.  They need no hand-made witness (the refutation is the
  upper bound's value, which ``tests/test_catalogue.py`` re-computes).
* Global upper bounds are *violated*: the falsifier seeds its ascent with the §4
  chain (``symlip.search.falsify`` ``chain_points``), where |∇_θ f| ~ c r^{m-1}
  exceeds any fixed number once the ball is large.  Their hand-made witnesses in
  :data:`WITNESSES` are pairs at that chain point (``_witness_tools``).
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from symlip import MLP, Region
from symlip.search.claims import Case, Claim
from symlip.bounds.lower import LowerFormula, chain_parameters, lower_constant

from _witness_tools import Witness, curvature_pair, gradient_pair

__all__ = ["CASES", "WITNESSES"]


def _zero_ball(net: MLP, r: float) -> Region:
    return Region.ball(np.zeros(net.n_params), r)


def _lower_wrong_exponent() -> Case:
    net = MLP((1, 1, 1, 1), "tanh")
    claim = Claim("M-L4-exponent-m", "lip_f", LowerFormula("lip_f", extra_exponent=1), direction="lower",
                  assumptions=("lipschitz",), expect="fails",
                  why="The §4 lower bound with exponent m instead of m - 1: c r^3 at depth 3 on |θ| <= 1000. "
                      "U1 on that ball grows like r^(m-1) (sqrt(1+R^2) r^2 ≈ 1.4e6 here), far below "
                      "c r^3 ≈ 3.5e8, so the supremum cannot reach the claim: it is refuted by U1.")
    return Case(claim, net, _zero_ball(net, 1000.0), R=1.0, weight=0.2)


def _lower_constant_too_large() -> Case:
    net = MLP((1, 1, 1), "sigmoid")
    claim = Claim("M-L4-constant-x1e4", "lip_grad", LowerFormula("lip_grad", scale=1e4), direction="lower",
                  assumptions=("smooth",), expect="fails",
                  why="The §4 gradient lower bound with its constant c' multiplied by 10^4 (depth 2, sigmoid, "
                      "|θ| <= 100): U2 on that ball is 19.6, the claim 2.8e4, so it is refuted by U2.")
    return Case(claim, net, _zero_ball(net, 100.0), R=1.0, weight=0.2)


def _chain_point(net: MLP, region: Region, quantity: str, R: float) -> tuple[np.ndarray, np.ndarray]:
    t0 = lower_constant(net.activation, quantity, net.depth, R).t0
    center = region.center if np.any(region.center) else None
    return chain_parameters(net, region.radius * (1 - 1e-6), R, t0, center)


def _global_lip_f() -> tuple[Case, Callable[[], Witness]]:
    net = MLP((1, 1, 1, 1), "tanh")
    region = _zero_ball(net, 50.0)
    claim = Claim("M-global-lip_f<=500", "lip_f", 500.0, assumptions=("lipschitz",), expect="fails",
                  why="A region-independent bound |f(θ) - f(θ')| <= 500 |θ - θ'| for a depth-3 tanh network. "
                      "docs/theory.md §4: on |θ| <= 50 the chain with t0 = 0 has |∇_θ f| = 884 >= c r^2 = 316, "
                      "so no global bound exists (the ascent from the chain reaches about 1600).")
    case = Case(claim, net, region, R=1.0)

    def witness() -> Witness:
        theta, x = _chain_point(net, region, "lip_f", 1.0)
        return {"theta": theta, "theta2": gradient_pair(net, region, theta, x[0]), "x": x}

    return case, witness


def _global_lip_grad() -> tuple[Case, Callable[[], Witness]]:
    net = MLP((1, 1, 1, 1), "tanh")
    region = _zero_ball(net, 100.0)
    claim = Claim("M-global-lip_grad<=1e4", "lip_grad", 1e4, assumptions=("smooth",), expect="fails",
                  why="A region-independent bound on Lip(∇_θ f) of a depth-3 tanh network. docs/theory.md §4: on "
                      "|θ| <= 100 the chain (t0 = -0.275) has ||∇²_θ f||_2 >= |∇²_θ f v| = 1.15e5 > 1e4.")
    case = Case(claim, net, region, R=1.0)

    def witness() -> Witness:
        theta, x = _chain_point(net, region, "lip_grad", 1.0)
        return {"theta": theta, "theta2": curvature_pair(net, region, theta, x), "x": x}

    return case, witness


def _global_relu_off_center() -> tuple[Case, Callable[[], Witness]]:
    net = MLP((2, 4, 4, 1), "relu")
    center = net.init(3)
    region = Region.ball(center, 30.0)
    claim = Claim("M-global-relu-lip_f<=100", "lip_f", 100.0, assumptions=("lipschitz",), expect="fails",
                  why="A region-independent Lipschitz bound for a depth-3 ReLU network, on a ball of radius 30 "
                      "around an initialisation point (|θ°| = 3.31): the §4 chain (t0 = 0.05) on the sphere of "
                      "radius 30 - |θ°| around 0, inside the ball by the triangle inequality, has "
                      "|∇_θ f| ≈ 250 > 100.")
    case = Case(claim, net, region, R=1.0)

    def witness() -> Witness:
        theta, x = _chain_point(net, region, "lip_f", 1.0)
        return {"theta": theta, "theta2": gradient_pair(net, region, theta, x[0]), "x": x}

    return case, witness


_BUILT = [_global_lip_f(), _global_lip_grad(), _global_relu_off_center()]

#: the growth mutants (all expect="fails"): two refuted lower bounds, three violated global bounds
CASES: list[Case] = [_lower_wrong_exponent(), _lower_constant_too_large()] + [case for case, _ in _BUILT]
#: claim name -> hand-made violating pair for the global upper bounds (see _witness_tools)
WITNESSES: dict[str, Callable[[], Witness]] = {case.claim.name: w for case, w in _BUILT}
