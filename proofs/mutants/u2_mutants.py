"""Mutants of U2 (docs/theory.md §3): false Lipschitz bounds of θ ↦ ∇_θ f(x; θ).

Each comes with a hand-made witness in :data:`WITNESSES`: a pair (θ, θ') of
the region and an input |x| <= R with |∇f(θ) - ∇f(θ')| / |θ - θ'| above the
bound.  For smooth activations θ' = θ + 1e-6 v with v the top eigenvector of
the θ-Hessian (assembled from ``MLP.hvp``), so the ratio is the Hessian's
spectral norm at θ; for ReLU the pair straddles a kink.
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

from symlip import MLP, Bound, Region, derive, standard_symbols
from symlip.search.claims import Case, Claim

from _witness_tools import Witness, curvature_pair, layers_to_theta

__all__ = ["CASES", "WITNESSES"]


def _s1_for_s2() -> tuple[Case, Callable[[], Witness]]:
    std = standard_symbols(2)
    bound = dataclasses.replace(derive("lip_grad", 2).subs({"S2": std.S1}), name="U2 with S2 := S1")
    claim = Claim(
        "M-U2-S1-for-S2", "lip_grad", bound, assumptions=("smooth",), expect="fails",
        why="U2 with S1 written where S2 = Lip(σ') belongs (in Γ_i's term S2 G_{i+1} ω_{i+1} A_i). "
            "For softsign S1 = 1 < S2 = 2, and at depth 2 the curvature block w_2 σ''(a_1) "
            "(x,1)(x,1)^T dominates: the Hessian restricted to (W_1 row 1, b_1[1], W_2[1]) is "
            "[[α u u^T/|u|^2, β u/|u|], [β u^T/|u|, 0]] with α = w_2 σ''(a_1)(1 + R^2), "
            "β = σ'(a_1) sqrt(1 + R^2).  Box ω = (1, 3), β = 0.5, R = 2: the mutant is 17.38, "
            "while W_1 = 0, b_1 = (-0.001, 0, 0), W_2 = 2.997 e_1^T, x = (2, 0) give "
            "σ'' = 1.994, α = 29.9 and a Hessian norm of 30.05 (true U2: 32.31).",
    )
    net = MLP((2, 3, 1), "softsign")
    region = Region.box([1.0, 3.0], 0.5)
    case = Case(claim, net, region, R=2.0)

    def witness() -> Witness:
        theta = layers_to_theta(net, [(np.zeros((3, 2)), [-1e-3, 0, 0]), ([[3.0 * 0.999, 0, 0]], [0.0])])
        x = np.array([[2.0, 0.0]])
        return {"theta": theta, "theta2": curvature_pair(net, region, theta, x), "x": x}

    return case, witness


def _relu_gradient() -> tuple[Case, Callable[[], Witness]]:
    u2 = derive("lip_grad", 2).subs({"S2": 0})
    # requires=None: the mutant pretends U2 applies outside the smooth class
    bound = Bound.from_expr(u2.expr, 2, "lip_grad", requires=None, name="U2 with S2 := 0 (for ReLU)")
    claim = Claim(
        "M-U2-relu", "lip_grad", bound, assumptions=(), expect="fails",
        why="A gradient-Lipschitz bound claimed for ReLU (U2 with S2 := 0, i.e. σ' treated as "
            "Lipschitz): ReLU's σ' jumps at 0, so ∇_θ f jumps across every kink and no finite "
            "bound exists.  Box ω = 1, β = 0.5, R = 1: the mutant is sqrt(2) S1 sqrt(1 + R^2) = 2.000; "
            "with W_1 = 0, W_2 = 0.999 e_1^T, x = (1, 0) and b_1 = (±η, 0, 0), "
            "η = 1e-3, the ∂f/∂(W_1 row 1, b_1[1]) block flips from 0.999 (x, 1) to 0: ratio "
            "0.999 sqrt(2) / (2η) ≈ 706 (→ ∞ as η → 0).",
    )
    net = MLP((2, 3, 1), "relu")
    region = Region.box(1.0, 0.5)
    case = Case(claim, net, region, R=1.0)

    def witness() -> Witness:
        eta = 1e-3
        w2 = ([[0.999, 0, 0]], [0.0])
        theta = layers_to_theta(net, [(np.zeros((3, 2)), [eta, 0, 0]), w2])
        theta2 = layers_to_theta(net, [(np.zeros((3, 2)), [-eta, 0, 0]), w2])
        return {"theta": theta, "theta2": theta2, "x": np.array([[1.0, 0.0]])}

    return case, witness


def _linear_network_is_linear() -> tuple[Case, Callable[[], Witness]]:
    claim = Claim(
        "M-U2-linear-net-is-linear", "lip_grad", 0.0, assumptions=("smooth",), expect="fails",
        why="'A linear network is linear in its parameters, so ∇_θ f is constant' — false for "
            "depth >= 2: f = W_2 (W_1 x + b_1) + b_2 is bilinear in (θ_1, θ_2), with mixed "
            "Hessian block ΔW_2 (ΔW_1 x + Δb_1) of norm sqrt(1 + |x|^2).  Identity activation, "
            "widths [2, 3, 1], box ω = 1, β = 0.5, R = 1: the bound is 0, the Hessian norm is "
            "sqrt(2) = 1.414 at every θ (x = (1, 0)); U2 gives 2.",
    )
    net = MLP((2, 3, 1), "identity")
    region = Region.box(1.0, 0.5)
    case = Case(claim, net, region, R=1.0)

    def witness() -> Witness:
        theta = layers_to_theta(net, [([[0.5, 0], [0, 0.5], [0, 0]], [0.1, 0, 0]), ([[0.5, 0.5, 0]], [0.0])])
        x = np.array([[1.0, 0.0]])
        return {"theta": theta, "theta2": curvature_pair(net, region, theta, x), "x": x}

    return case, witness


_BUILT = [_s1_for_s2(), _relu_gradient(), _linear_network_is_linear()]

#: the U2 mutants (all expect="fails")
CASES: list[Case] = [case for case, _ in _BUILT]
#: claim name -> hand-made violating pair (see _witness_tools)
WITNESSES: dict[str, Callable[[], Witness]] = {case.claim.name: w for case, w in _BUILT}
