"""Mutants of U1 (docs/theory.md §3): plausible-looking Lipschitz bounds of θ ↦ f(x; θ)
that are false on the case given with them.

Every mutant comes with a hand-made witness in :data:`WITNESSES` — a pair
(θ, θ') of the region and an input |x| <= R whose ratio |f(θ) - f(θ')| / |θ - θ'|
exceeds the mutant's bound.  The construction used throughout: W_1 = 0 and
b_1 = 0 put every first-layer pre-activation at a_1 = 0, where σ'(0) = S1 for
tanh/sigmoid, so δ_1 = S1 W_2^T ... is as large as the region allows and
|∇_{θ_1} f| = |δ_1| sqrt(1 + |x|^2) with |x| = R.  The numbers quoted in each
``why`` were computed with ``MLP.grad`` and a pair at distance 1e-5.
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np
import sympy as sp

from symlip import MLP, Bound, Region, derive, standard_symbols
from symlip.search.claims import Case, Claim

from _witness_tools import Witness, gradient_pair, layers_to_theta

__all__ = ["CASES", "WITNESSES"]


def _renamed(bound: Bound, name: str) -> Bound:
    return dataclasses.replace(bound, name=name)


def _no_sqrt_factor() -> tuple[Case, Callable[[], Witness]]:
    std = standard_symbols(2)
    bound = Bound.from_expr(sp.sqrt(std.S1 ** 2 * std.omega[1] ** 2 + 1), 2, "lip_f",
                            name="sqrt(Σ G_i^2)")
    claim = Claim(
        "M-U1-no-sqrt(1+B^2)", "lip_f", bound, assumptions=("lipschitz",), expect="fails",
        why="U1 without the factor sqrt(1 + B_{i-1}^2): it forgets that ∂f/∂W_i = δ_i z_{i-1}^T "
            "scales with |z_{i-1}| (|x| = R at the first layer) and that the bias adds 1.  Here "
            "the bound is sqrt(S1^2 ω_2^2 + 1) = sqrt(1.5^2 + 1) = 1.803, but at W_1 = 0, b_1 = 0, "
            "W_2 = 1.4985 e_1^T, x = (1.5, 0): |∇_θ f| = sqrt(1.4985^2 (1 + 1.5^2) + 1) = 2.881 "
            "(true U1: 3.509).",
    )
    net = MLP((2, 4, 1), "tanh")
    region = Region.box([1.0, 1.5], 0.5)
    case = Case(claim, net, region, R=1.5)

    def witness() -> Witness:
        theta = layers_to_theta(net, [(np.zeros((4, 2)), np.zeros(4)), ([[1.5 * 0.999, 0, 0, 0]], [0.0])])
        x = np.array([[1.5, 0.0]])
        return {"theta": theta, "theta2": gradient_pair(net, region, theta, x[0]), "x": x}

    return case, witness


def _growth_r_m_minus_2() -> tuple[Case, Callable[[], Witness]]:
    u1 = derive("lip_f", 3)
    std = standard_symbols(3)
    bound = Bound.from_expr(u1.expr / std.omega[2], 3, "lip_f", name="U1 / omega_3 (growth r^(m-2))")
    claim = Claim(
        "M-U1-growth-r^(m-2)", "lip_f", bound, assumptions=("lipschitz",), expect="fails",
        why="Claims growth r^(m-2) on the ball |θ| <= r (U1 divided by ω_3 = r), but docs/theory.md §4 "
            "shows sup_{|θ|<=r} |∇_θ f| >= c r^(m-1).  Depth 3, r = 6, R = 1: the bound is "
            "51.99 / 6 = 8.665, while W_1 = 0, b_1 = 0, W_2 = a e_1 e_1^T, W_3 = a e_1^T with "
            "a = 0.999 r / sqrt(2) (|θ| = 0.999 r), x = 1 give δ_1 = a^2 e_1 and "
            "|∇_θ f| >= a^2 sqrt(2) = 25.78.",
    )
    net = MLP((1, 2, 2, 1), "tanh")
    region = Region.ball(np.zeros(net.n_params), 6.0)
    case = Case(claim, net, region, R=1.0)

    def witness() -> Witness:
        a = 0.999 * 6.0 / np.sqrt(2.0)
        theta = layers_to_theta(net, [(np.zeros((2, 1)), np.zeros(2)), ([[a, 0], [0, 0]], [0, 0]),
                                      ([[a, 0]], [0.0])])
        x = np.array([[1.0]])
        return {"theta": theta, "theta2": gradient_pair(net, region, theta, x[0]), "x": x}

    return case, witness


def _sqrt_d_dropped() -> tuple[Case, Callable[[], Witness]]:
    bound = _renamed(derive("lip_f", 2).subs({"d_1": 1}), "U1 with sqrt(d_1) := 1")
    claim = Claim(
        "M-U1-sqrt(d)-dropped", "lip_f", bound, assumptions=("lipschitz",), expect="fails",
        why="U1 with sqrt(d_i) dropped from B_i = min(sqrt(d_i) S0, S1(ω_i B_{i-1} + β_i) + "
            "sqrt(d_i) c0): for sigmoid every unit contributes c0 = 1/2, so |z_1| = sqrt(d_1)/2 "
            "at a_1 = 0, not 1/2.  Widths [2, 16, 1], box ω = β = 0.5: the mutant's B_1 = 0.75 "
            "and bound 1.262, while W_1 = 0, b_1 = 0, W_2 = 0.4995 e_1^T, x = (1, 0) give "
            "|z_1| = 2 and |∇_θ f| = sqrt(0.125^2·2 + 4 + 1) = 2.243 (true U1: 2.469).",
    )
    net = MLP((2, 16, 1), "sigmoid")
    region = Region.box(0.5, 0.5)
    case = Case(claim, net, region, R=1.0)

    def witness() -> Witness:
        theta = layers_to_theta(net, [(np.zeros((16, 2)), np.zeros(16)), ([[0.4995] + [0.0] * 15], [0.0])])
        x = np.array([[1.0, 0.0]])
        return {"theta": theta, "theta2": gradient_pair(net, region, theta, x[0]), "x": x}

    return case, witness


def _global_bound() -> tuple[Case, Callable[[], Witness]]:
    bound = _renamed(derive("lip_f", 2).subs({"omega_1": 1, "omega_2": 1}), "U1 at omega := 1 (global)")
    claim = Claim(
        "M-U1-global-omega=1", "lip_f", bound, assumptions=("lipschitz",), expect="fails",
        why="A 'global' bound that ignores the region: U1 evaluated with ω_i = 1 although the box "
            "allows ||W_i||_2 <= 3; no region-free bound exists (docs/theory.md §4).  The mutant is "
            "sqrt(2 + 1 + 1.5^2) = 2.291; at W_1 = 0, b_1 = 0, W_2 = 2.997 e_1^T, x = (1, 0): "
            "|∇_θ f| = sqrt(2.997^2·2 + 1) = 4.355 (true U1: 4.796).",
    )
    net = MLP((2, 4, 1), "tanh")
    region = Region.box(3.0, 0.5)
    case = Case(claim, net, region, R=1.0)

    def witness() -> Witness:
        theta = layers_to_theta(net, [(np.zeros((4, 2)), np.zeros(4)), ([[3.0 * 0.999, 0, 0, 0]], [0.0])])
        x = np.array([[1.0, 0.0]])
        return {"theta": theta, "theta2": gradient_pair(net, region, theta, x[0]), "x": x}

    return case, witness


def _depth1_098() -> tuple[Case, Callable[[], Witness]]:
    bound = Bound.from_expr("0.98*sqrt(1 + R**2)", 1, "lip_f", name="0.98 sqrt(1+R^2)")
    claim = Claim(
        "M-U1-depth1-0.98", "lip_f", bound, assumptions=("lipschitz",), expect="fails",
        why="At depth 1 f = W_1 x + b_1 is affine in θ with ∇_θ f = (x, 1), so the Lipschitz "
            "constant is exactly sqrt(1 + R^2) (any θ, |x| = R); 0.98 of it is 2% short.  R = 1.5: "
            "bound 1.7667, every pair with x = (0, 1.5, 0) along ∇_θ f has ratio 1.8028.",
    )
    net = MLP((3, 1), "tanh")
    region = Region.box(1.0, 1.0)
    case = Case(claim, net, region, R=1.5)

    def witness() -> Witness:
        theta = layers_to_theta(net, [([[0.3, -0.2, 0.1]], [0.2])])
        x = np.array([[0.0, 1.5, 0.0]])
        return {"theta": theta, "theta2": gradient_pair(net, region, theta, x[0]), "x": x}

    return case, witness


def _halved() -> tuple[Case, Callable[[], Witness]]:
    u1 = derive("lip_f", 3)
    bound = Bound.from_expr(u1.expr / 2, 3, "lip_f", name="U1 / 2")
    claim = Claim(
        "M-U1-halved", "lip_f", bound, assumptions=("lipschitz",), expect="fails",
        why="Half of U1 at depth 3.  U1 = sqrt(G_1^2 Q_0^2 + G_2^2 Q_1^2 + Q_2^2) is dominated by "
            "G_1 Q_0 = ω_2 ω_3 sqrt(1 + R^2), which is attained (a_1 = a_2 = 0 and aligned "
            "W_2, W_3).  Box ω = 2, β = 1, R = 1: bound 7.550 / 2 = 3.775, while W_1 = 0, b_1 = 0, "
            "W_2 = 1.998 e_1 e_1^T, b_2 = 0, W_3 = 1.998 e_1^T, x = (1, 0) give |∇_θ f| = 6.072.",
    )
    net = MLP((2, 4, 4, 1), "tanh")
    region = Region.box(2.0, 1.0)
    case = Case(claim, net, region, R=1.0)

    def witness() -> Witness:
        c = 2.0 * 0.999
        theta = layers_to_theta(net, [(np.zeros((4, 2)), np.zeros(4)), (np.diag([c, 0, 0, 0]), np.zeros(4)),
                                      ([[c, 0, 0, 0]], [0.0])])
        x = np.array([[1.0, 0.0]])
        return {"theta": theta, "theta2": gradient_pair(net, region, theta, x[0]), "x": x}

    return case, witness


def _bias_ignored() -> tuple[Case, Callable[[], Witness]]:
    bound = _renamed(derive("lip_f", 2).subs({"beta_1": 0}), "U1 with beta_1 := 0 in B_1")
    claim = Claim(
        "M-U1-bias-ignored", "lip_f", bound, assumptions=("lipschitz",), expect="fails",
        why="U1 with the bias dropped from the forward bound (B_1 = S1 ω_1 R): a large first-layer "
            "bias makes |z_1| large even when W_1 is small.  ReLU, box ω = (0.2, 1), β = (3, 0.1), "
            "R = 1: the mutant's B_1 = 0.2 and bound 1.744, while W_1 = 0, b_1 = 2.99 e_1, "
            "W_2 = 0.999 e_1^T, x = (1, 0) give z_1 = 2.99 e_1 and |∇_θ f| = 3.455 (true U1: 3.639).",
    )
    net = MLP((2, 4, 1), "relu")
    region = Region.box([0.2, 1.0], [3.0, 0.1])
    case = Case(claim, net, region, R=1.0)

    def witness() -> Witness:
        theta = layers_to_theta(net, [(np.zeros((4, 2)), [2.99, 0, 0, 0]), ([[0.999, 0, 0, 0]], [0.0])])
        x = np.array([[1.0, 0.0]])
        return {"theta": theta, "theta2": gradient_pair(net, region, theta, x[0]), "x": x}

    return case, witness


_BUILT = [_no_sqrt_factor(), _growth_r_m_minus_2(), _sqrt_d_dropped(), _global_bound(), _depth1_098(),
          _halved(), _bias_ignored()]

#: the U1 mutants (all expect="fails")
CASES: list[Case] = [case for case, _ in _BUILT]
#: claim name -> hand-made violating pair (see _witness_tools)
WITNESSES: dict[str, Callable[[], Witness]] = {case.claim.name: w for case, w in _BUILT}
