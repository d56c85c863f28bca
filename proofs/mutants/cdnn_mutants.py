"""Mutants of the CDNN bounds (docs/theory.md §5; derivation in proofs/cdnn.py): plausible
slips in the Grönwall argument that make the bound false.

Each comes with a hand-made witness in :data:`WITNESSES` (the convention of the other
mutant files): a pair (θ, θ') of the region in the CDNN's *scaled* coordinates and an
input ``|x| <= R``.  The constructions hold a trajectory at ``u = Wz + b = 0``, where
``σ'(0) = S1 = 1`` for tanh, so the sensitivity equation grows at the full rate
``S1 ω``.  Numbers quoted in each ``why`` were computed with ``CDNN.grad`` / ``CDNN.hvp``.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

from symlip.bounds.cdnn import cdnn_bound
from symlip.models.cdnn import CDNN
from symlip.search.claims import Case, Claim

from _witness_tools import Witness, curvature_pair, gradient_pair

__all__ = ["CASES", "WITNESSES"]


def _vals(net: CDNN, region, R: float, quantity: str, scheme: str) -> dict[str, float]:
    return cdnn_bound(quantity, scheme).values_for(net, region, R)


def _Z_E2(v: dict[str, float], scheme: str) -> tuple[float, float]:
    a = v["S1"] * v["omega"]
    q = math.sqrt(v["d"]) * v["c0"] + v["S1"] * v["beta"]
    T = v["T"]
    if scheme == "ode":
        g, E2 = math.exp(a * T), math.expm1(2 * a * T) / (2 * a)
    else:
        h = T / v["N"]
        g = (1 + h * a) ** v["N"]
        E2 = ((1 + h * a) ** (2 * v["N"]) - 1) / (a * (2 + h * a))
    Z = min(v["R"] + math.sqrt(v["d"]) * v["S0"] * T, v["R"] * g + q * (g - 1) / a)
    return Z, E2


def cdnn_lip_f_no_exponential(net: CDNN, region, R: float, Y=None) -> float:
    """lip_f with Grönwall's exponential dropped: E2 := T."""
    v = _vals(net, region, R, "lip_f", "ode")
    Z, _ = _Z_E2(v, "ode")
    return math.sqrt(v["gamma"] ** 2 * v["S1"] ** 2 * (1 + Z * Z) * v["T"] + Z * Z + 1)


def cdnn_lip_f_h_forgotten(net: CDNN, region, R: float, Y=None) -> float:
    """Euler lip_f with the L2 weight h forgotten: E2_N := h E2_N."""
    v = _vals(net, region, R, "lip_f", "euler")
    Z, E2 = _Z_E2(v, "euler")
    h = v["T"] / v["N"]
    return math.sqrt(v["gamma"] ** 2 * v["S1"] ** 2 * (1 + Z * Z) * h * E2 + Z * Z + 1)


def cdnn_lip_grad_no_cross_term(net: CDNN, region, R: float, Y=None) -> float:
    """Euler lip_grad without the c–path cross term: γ C2 alone (A := 0)."""
    b = cdnn_bound("lip_grad", "euler")
    v = dict(b.values_for(net, region, R))
    full = b(net, region, R)
    # L = (γC2 + sqrt(γ²C2² + 4A²))/2 with A² = S1² Q² E2: recover γC2 from L and A
    Z, E2 = _Z_E2(v, "euler")
    A2 = v["S1"] ** 2 * (1 + Z * Z) * E2
    return full - A2 / full  # = γ C2 exactly (L² - γC2 L - A² = 0)


def _no_exponential() -> tuple[Case, Callable[[], Witness]]:
    claim = Claim(
        "M-CDNN-lip_f-no-exponential", "lip_f", cdnn_lip_f_no_exponential, assumptions=("lipschitz",),
        expect="fails",
        why="Grönwall applied as if |ė| <= S1 Q φ(t) had no feedback term a|e|: E2 = (e^{2aT}-1)/(2a) "
            "replaced by T.  ODE, d = 1, tanh, T = 1, ω = β = 3, γ = 1, R = 1: the mutant is "
            "sqrt(Q^2 + Z^2 + 1) = 3.162, but with W = 2.997, b = -2.997, x = 1 the trajectory rests at "
            "u = 0 (σ' = 1) and the sensitivity grows like e^{ωt}: |∇_θ f| = 10.7 (true bound 18.4).",
    )
    net = CDNN(1, 1.0, 2, "tanh", scheme="ode")
    region = net.region(3.0, 3.0, 1.0, 0.5)
    case = Case(claim, net, region, R=1.0)

    def witness() -> Witness:
        w = 3.0 * 0.999
        theta = net.from_path(np.full((2, 1, 1), w), np.full((2, 1), -w), [0.999], 0.0)
        x = np.array([[1.0]])
        return {"theta": theta, "theta2": gradient_pair(net, region, theta, x[0]), "x": x}

    return case, witness


def _h_forgotten() -> tuple[Case, Callable[[], Witness]]:
    claim = Claim(
        "M-CDNN-lip_f-h-forgotten", "lip_f", cdnn_lip_f_h_forgotten, assumptions=("lipschitz",),
        expect="fails",
        why="The discrete Grönwall sum Σ_k h(1+ha)^{N-1-k} φ_k estimated by Cauchy-Schwarz against the "
            "unweighted Σ φ_k^2 instead of the L2 norm Σ h φ_k^2: E2_N gets an extra factor h, and the "
            "path part of the bound vanishes as N grows.  Euler, d = 2, N = 16, tanh, ω = 0.2, β = 0.1, "
            "γ = 3, R = 1: the mutant is 2.158, but W = 0, b = 0, c = 2.997 e_1, x = e_1 give "
            "|∇_θ f| = sqrt(T γ^2 (1 + R^2) + R^2 + 1) = 4.47 (true bound 5.74).",
    )
    net = CDNN(2, 1.0, 16, "tanh", scheme="euler")
    region = net.region(0.2, 0.1, 3.0, 0.5)
    case = Case(claim, net, region, R=1.0)

    def witness() -> Witness:
        theta = net.from_path(np.zeros((16, 2, 2)), np.zeros((16, 2)), [3.0 * 0.999, 0.0], 0.0)
        x = np.array([[1.0, 0.0]])
        return {"theta": theta, "theta2": gradient_pair(net, region, theta, x[0]), "x": x}

    return case, witness


def _no_cross_term() -> tuple[Case, Callable[[], Witness]]:
    claim = Claim(
        "M-CDNN-lip_grad-no-cross-term", "lip_grad", cdnn_lip_grad_no_cross_term, assumptions=("smooth",),
        expect="fails",
        why="lip_grad bounded by γ C2 (the path-path block) alone, forgetting that f = c·z(T) + e is "
            "bilinear in (c, z(T)): ∂²f/∂c∂θ_path = ∂z(T)/∂θ_path, of norm up to S1 Q sqrt(E2).  Euler, "
            "d = 1, N = 4, tanh, ω = 1, β = 0.5, γ = 0.01, R = 2: the mutant is 0.874 (true bound 5.15), but at W = 0, b = 0, "
            "c = 0.00999, x = 2 the Hessian has the eigenvalue ~ |∂z(T)/∂θ| = sqrt(T (1 + R^2)) = 2.24.",
    )
    net = CDNN(1, 1.0, 4, "tanh", scheme="euler")
    region = net.region(1.0, 0.5, 0.01, 0.5)
    case = Case(claim, net, region, R=2.0)

    def witness() -> Witness:
        theta = net.from_path(np.zeros((4, 1, 1)), np.zeros((4, 1)), [0.01 * 0.999], 0.0)
        x = np.array([[2.0]])
        return {"theta": theta, "theta2": curvature_pair(net, region, theta, x), "x": x}

    return case, witness


_BUILT = [_no_exponential(), _h_forgotten(), _no_cross_term()]

#: the CDNN mutants (all expect="fails")
CASES: list[Case] = [case for case, _ in _BUILT]
#: claim name -> hand-made violating pair (see _witness_tools)
WITNESSES: dict[str, Callable[[], Witness]] = {case.claim.name: w for case, w in _BUILT}
