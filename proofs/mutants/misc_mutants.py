"""Mutants of U3, U4 and of activation constants (docs/theory.md §1, §3).

Each comes with a hand-made witness in :data:`WITNESSES` (see
``_witness_tools``): for ``lip_input`` two inputs x, x' at distance 1e-6 for one
θ of the region; for ``lip_loss_grad`` one sample (x, y) with |x| <= R,
|y| <= Y and θ' = θ + 1e-6 v, v the top eigenvector of the loss Hessian
(assembled from ``MLP.loss_hvp``); for ``lip_f`` a pair along ∇_θ f.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Callable

import numpy as np

from symlip import MLP, Bound, Region, activation, derive, standard_symbols
from symlip.search.claims import Case, Claim

from _witness_tools import Witness, curvature_pair, gradient_pair, layers_to_theta

__all__ = ["CASES", "WITNESSES"]


def _u4_s1_power() -> tuple[Case, Callable[[], Witness]]:
    std = standard_symbols(2)
    bound = Bound.from_expr(std.omega[0] * std.omega[1], 2, "lip_input",
                            name="S1^(m-2) prod omega_i")
    claim = Claim(
        "M-U4-S1^(m-2)", "lip_input", bound, assumptions=("lipschitz",), expect="fails",
        why="U4 with S1^(m-2) in place of S1^(m-1): one activation layer too few, wrong whenever "
            "S1 > 1.  GELU has S1 = max σ' = σ'(sqrt(2)) = 1.12890; depth 2, box ω = 1, "
            "β = (1.5, 0.5): the mutant is ω_1 ω_2 = 1, while W_1 = 0.999 e_1 e_1^T, "
            "b_1 = (sqrt(2), 0), W_2 = 0.999 e_1^T put a_1[1] = sqrt(2) at x = 0 and "
            "|∇_x f| = 0.999^2 · 1.12890 = 1.12665 (true U4: 1.12890).",
    )
    net = MLP((2, 2, 1), "gelu")
    region = Region.box(1.0, [1.5, 0.5])
    case = Case(claim, net, region, R=1.0)

    def witness() -> Witness:
        theta = layers_to_theta(net, [([[0.999, 0], [0, 0]], [math.sqrt(2.0), 0]), ([[0.999, 0]], [0.0])])
        return {"theta": theta, "theta2": None, "x": np.array([[0.0, 0.0]]), "x2": np.array([[1e-6, 0.0]])}

    return case, witness


def _u3_no_curvature() -> tuple[Case, Callable[[], Witness]]:
    u1 = derive("lip_f", 2)
    bound = Bound.from_expr(u1.expr ** 2, 2, "lip_loss_grad", name="L_f^2 (Gauss-Newton only)")
    claim = Claim(
        "M-U3-no-curvature-term", "lip_loss_grad", bound, assumptions=("smooth",), expect="fails",
        why="U3 without the (F + Y) L_∇f term, i.e. the Gauss-Newton part only: the loss Hessian "
            "(1/N) Σ [∇f ∇f^T + (f - y_n) ∇²f] has a residual-weighted curvature that grows with "
            "|y| <= Y.  tanh, widths [1, 2, 1], box ω = 1, β = 0.5, R = 1, Y = 20: the mutant is "
            "L_f^2 = 5.0, while W_1 = 0, b_1 = 0, W_2 = 0.999 e_1^T, one sample x = 1, y = -20 "
            "(residual 20) give a loss-Hessian norm of 29.34 (true U3: 76.77).",
    )
    net = MLP((1, 2, 1), "tanh")
    region = Region.box(1.0, 0.5)
    case = Case(claim, net, region, R=1.0, Y=20.0)

    def witness() -> Witness:
        theta = layers_to_theta(net, [(np.zeros((2, 1)), [0.0, 0.0]), ([[0.999, 0.0]], [0.0])])
        x, y = np.array([[1.0]]), np.array([-20.0])
        return {"theta": theta, "theta2": curvature_pair(net, region, theta, x, y=y), "x": x, "y": y}

    return case, witness


def _u3_lf_not_squared() -> tuple[Case, Callable[[], Witness]]:
    u1 = derive("lip_f", 1)
    bound = Bound.from_expr(u1.expr, 1, "lip_loss_grad", name="L_f + (F+Y) L_gradf (= L_f at depth 1)")
    claim = Claim(
        "M-U3-L_f-not-squared", "lip_loss_grad", bound, assumptions=("smooth",), expect="fails",
        why="U3 with L_f in place of L_f^2 (at depth 1, where L_∇f = 0, the mutant is "
            "L_f = sqrt(1 + R^2)): the Gauss-Newton term ∇f ∇f^T has eigenvalue |∇f|^2 = 1 + |x|^2, "
            "the square.  Depth 1, R = 2: the mutant is sqrt(5) = 2.236, while one sample x = (2, 0, 0) "
            "gives the loss Hessian (x, 1)(x, 1)^T of norm 5 at every θ.",
    )
    net = MLP((3, 1), "sigmoid")
    region = Region.box(1.0, 1.0)
    case = Case(claim, net, region, R=2.0, Y=1.0)

    def witness() -> Witness:
        theta = layers_to_theta(net, [([[0.3, 0.2, -0.1]], [0.1])])
        x, y = np.array([[2.0, 0.0, 0.0]]), np.array([0.5])
        return {"theta": theta, "theta2": curvature_pair(net, region, theta, x, y=y), "x": x, "y": y}

    return case, witness


def _claimed_constant() -> tuple[Case, Callable[[], Witness]]:
    claim = Claim(
        "M-U1-claimed-S1=1-for-tanh(2t)", "lip_f",
        dataclasses.replace(derive("lip_f", 2), name="U1 lip_f (with the claimed S1)"),
        assumptions=("lipschitz",), expect="fails",
        why="The true U1, evaluated with a wrong activation constant: σ(t) = tanh(2t) claimed with "
            "S1 = 1 while sup σ' = σ'(0) = 2.  Box ω = 1, β = 0.5, R = 1, widths [2, 3, 1]: with "
            "S1 = 1 the bound is sqrt(2 + 1 + 1.5^2) = 2.291, while W_1 = 0, b_1 = 0, "
            "W_2 = 0.999 e_1^T, x = (1, 0) give δ_1 = 2·0.999 e_1 and |∇_θ f| = 2.997 (U1 with the "
            "true S1 = 2: 3.464).",
    )
    net = MLP((2, 3, 1), activation("tanh(2*t)").with_constants(S1=1))
    region = Region.box(1.0, 0.5)
    case = Case(claim, net, region, R=1.0)

    def witness() -> Witness:
        theta = layers_to_theta(net, [(np.zeros((3, 2)), np.zeros(3)), ([[0.999, 0, 0]], [0.0])])
        x = np.array([[1.0, 0.0]])
        return {"theta": theta, "theta2": gradient_pair(net, region, theta, x[0]), "x": x}

    return case, witness


_BUILT = [_u4_s1_power(), _u3_no_curvature(), _u3_lf_not_squared(), _claimed_constant()]

#: the U3/U4/activation-constant mutants (all expect="fails")
CASES: list[Case] = [case for case, _ in _BUILT]
#: claim name -> hand-made violating pair (see _witness_tools)
WITNESSES: dict[str, Callable[[], Witness]] = {case.claim.name: w for case, w in _BUILT}
