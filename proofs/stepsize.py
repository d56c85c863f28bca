"""Step sizes from local constants: the descent lemma for the local rule (docs/theory.md §6).

Claim
-----
Let ``ℓ(θ) = (1/N) Σ_n ½ (f(x_n; θ) - y_n)^2`` with a smooth activation
(docs/theory.md §1), ``R = max_n |x_n|``, ``Y = max_n |y_n|``, ``δ > 0``, and let
``L`` be U3 (docs/theory.md §3) on the box ``ω_i = ||W_i||_2 + δ``, ``β_i = |b_i| + δ``
that contains the ball ``B(θ, δ)`` (docs/theory.md §2).  With ``g = ∇ℓ(θ)`` and the
step of :func:`symlip.training.stepsize.local_step`

    η = min( 1/((1+κ) L), (1-κ) δ/|g| ),     κ = 2^-30,

the next iterate ``θ⁺ = θ - η g`` satisfies, for every θ of the region,

    (SS-descent)  (η/2) |g|^2 <= ℓ(θ) - ℓ(θ⁺)       (the descent lemma),
    (SS-ball)     |θ⁺ - θ| <= δ                      (the step stays in the ball).

SS-descent is the descent lemma ``ℓ(θ⁺) <= ℓ(θ) - (η/2)|g|^2`` written so that
the checked ratio ``lhs/rhs`` is the guaranteed decrease over the actual one
(at most 1; a loss increase makes ``rhs <= 0``, which counts as a violation).

Proof sketch
------------
1. *The step stays in the ball.*  ``|θ⁺ - θ| = η |g| <= (1-κ) δ < δ`` by the
   second cap; this is SS-ball, and the segment ``[θ, θ⁺]`` lies in the convex
   ball ``B(θ, δ)``.
2. *U3 on the ball.*  ``B(θ, δ)`` lies in the box ``ω_i = ||W_i||_2 + δ``,
   ``β_i = |b_i| + δ`` (docs/theory.md §2, triangle inequality for the spectral and
   Euclidean norms), and every ``|x_n| <= R``, ``|y_n| <= Y``; so by U3
   ``|∇ℓ(u) - ∇ℓ(v)| <= L |u - v|`` for all ``u, v`` in the ball.
3. *Taylor with integral remainder along the segment.*  With ``u(t) = θ - t η g``,
   ``ℓ(θ⁺) - ℓ(θ) = -η |g|^2 + ∫_0^1 <∇ℓ(θ) - ∇ℓ(u(t)), η g> dt``
   and by step 2 the integrand is at most ``L t η^2 |g|^2``, so
   ``ℓ(θ⁺) <= ℓ(θ) - η |g|^2 + (L η^2 / 2) |g|^2``.
4. *The first cap.*  ``η <= 1/L`` gives ``L η^2/2 <= η/2``, hence
   ``ℓ(θ⁺) <= ℓ(θ) - (η/2) |g|^2``: SS-descent.  The margin ``κ`` only shrinks
   ``η``; it keeps float64 rounding of ``L``, ``|g|`` and ``θ - ηg`` from
   crossing the exact caps (symlip/stepsize.py).

Remarks.  At depth 1 the model is linear in θ, U3 = ``1 + R^2`` is the exact top
eigenvalue of the loss Hessian ``(1/N) Σ (x_n,1)(x_n,1)^T`` when all ``x_n``
coincide with ``|x_n| = R``, and the descent lemma is then tight: with one
sample ``η = 1/L`` reaches the minimum in one step and the ratio is
``1/(1+κ)``.  The falsifier should find ratios just below 1 there (the depth-1
cases below) and stay well below 1 at depth >= 2, where U3 is loose.  Both
claims are pointwise :class:`~symlip.search.claims.Inequality` claims with a float64
path (ranking) and an mpmath path (confirmation) that computes ``L`` by
:meth:`~symlip.Bound.evaluate_mp` with mpmath-SVD spectral norms of ``θ``'s
layers, ``∇ℓ`` and ``ℓ`` by the network's mpmath path, and ``θ⁺`` exactly.

The cases: tanh, sigmoid, softplus and GELU, depths 1–3, δ in {0.05, 0.1, 0.5,
1, 2} (small δ so that the ball cap binds, large so that 1/L does), 1–3 samples,
balls around ``net.init(seed)``.
"""
from __future__ import annotations

from typing import Any

import mpmath
import numpy as np

from symlip import MLP, Region
from symlip.search.claims import Case, Claim, Inequality
from symlip.core.precision import norm_mp, to_mp
from symlip.training.stepsize import descent_sides, local_step, local_step_mp

__all__ = ["CLAIMS", "CASES", "descent_inequality", "ball_inequality"]


def descent_inequality(delta: float, n_samples: int) -> Inequality:
    """SS-descent for the local rule on ``B(θ, delta)``: ``(η/2)|g|^2 <= ℓ(θ) - ℓ(θ - ηg)``."""

    def descent(net: MLP, theta: np.ndarray, X: np.ndarray, y: np.ndarray, dps: int | None) -> tuple[Any, Any]:
        return descent_sides(net, theta, X, y, delta, dps)

    descent.__name__ = f"descent_lemma_delta_{delta:g}"
    return Inequality(descent, n_samples=n_samples, targets=True,
                      text=rf"\tfrac{{\eta}}{{2}}|\nabla\ell(\theta)|^2 \le \ell(\theta) - "
                           rf"\ell(\theta - \eta\nabla\ell(\theta)),\ \eta = \min(1/L_{{U3}}(B(\theta,{delta:g})), "
                           rf"{delta:g}/|\nabla\ell(\theta)|)")


def ball_inequality(delta: float, n_samples: int) -> Inequality:
    """SS-ball for the local rule: ``|θ⁺ - θ| <= delta`` (the float64 path measures
    the rounded iterate the driver would store)."""

    def ball(net: MLP, theta: np.ndarray, X: np.ndarray, y: np.ndarray, dps: int | None) -> tuple[Any, Any]:
        if dps is None:
            st = local_step(net, theta, X, y, delta)
            return float(np.linalg.norm(theta - (theta - st.eta * st.grad))), delta
        st = local_step_mp(net, theta, X, y, delta, dps)
        with mpmath.workdps(dps):
            th = to_mp(theta)
            return norm_mp(th - (th - st.eta * st.grad)), mpmath.mpf(delta)

    ball.__name__ = f"stays_in_ball_delta_{delta:g}"
    return Inequality(ball, n_samples=n_samples, targets=True,
                      text=rf"|\theta_{{k+1}} - \theta_k| \le \delta = {delta:g}")


_WHY_DESCENT = ("docs/theory.md §6 with U3 (§3): η <= δ/|g| keeps the segment in B(θ, δ) where ∇ℓ is L-Lipschitz "
                "(U3 on the box ω_i = ||W_i|| + δ); Taylor with integral remainder and η <= 1/L give "
                "ℓ(θ - ηg) <= ℓ(θ) - (η/2)|g|^2.")
_WHY_BALL = "docs/theory.md §6: η <= (1-κ) δ/|g| by the rule's second cap, so |θ⁺ - θ| = η|g| < δ."


#: the claims, keyed by (kind, δ, n_samples); filled by :func:`_cases`
CLAIMS: dict[tuple[str, float, int], Claim] = {}


def _claim(kind: str, delta: float, n: int) -> Claim:
    key = (kind, delta, n)
    if key not in CLAIMS:
        if kind == "descent":
            CLAIMS[key] = Claim(f"SS-descent[δ={delta:g},N={n}]", "pointwise", descent_inequality(delta, n),
                                assumptions=("smooth",), why=_WHY_DESCENT)
        else:
            CLAIMS[key] = Claim(f"SS-ball[δ={delta:g},N={n}]", "pointwise", ball_inequality(delta, n),
                                assumptions=("smooth",), why=_WHY_BALL)
    return CLAIMS[key]


def _cases() -> list[Case]:
    cases: list[Case] = []

    def add(kind: str, widths: tuple[int, ...], act: str, seed: int, radius: float, delta: float, n: int,
            R: float, Y: float, weight: float = 1.0) -> None:
        net = MLP(widths, act)
        region = Region.ball(net.init(seed), radius)
        cases.append(Case(_claim(kind, delta, n), net, region, R=R, Y=Y, weight=weight))

    # descent lemma: depth 1 (tight: U3 = 1 + R^2 is exact), depths 2 and 3 (U3 loose)
    add("descent", (3, 1), "tanh", 0, 1.0, 0.5, 1, R=2.0, Y=1.0, weight=0.8)
    add("descent", (2, 1), "sigmoid", 1, 0.5, 2.0, 3, R=1.0, Y=2.0, weight=0.8)
    add("descent", (2, 4, 1), "tanh", 0, 1.0, 0.5, 3, R=1.0, Y=1.0)
    add("descent", (3, 5, 1), "sigmoid", 1, 1.0, 0.1, 2, R=2.0, Y=0.5)
    add("descent", (2, 3, 1), "softplus", 2, 0.5, 2.0, 1, R=1.0, Y=2.0)
    add("descent", (2, 3, 3, 1), "gelu", 3, 0.5, 0.5, 2, R=1.0, Y=1.0)
    add("descent", (1, 4, 4, 1), "tanh", 4, 1.0, 1.0, 3, R=1.5, Y=1.0)
    # stays in the ball: δ small so that the ball cap binds
    add("ball", (2, 4, 1), "tanh", 5, 1.0, 0.05, 2, R=1.0, Y=1.0, weight=0.6)
    add("ball", (2, 3, 3, 1), "gelu", 6, 0.5, 0.01, 1, R=1.0, Y=2.0, weight=0.6)
    add("ball", (3, 1), "sigmoid", 7, 1.0, 0.1, 2, R=1.0, Y=1.0, weight=0.6)
    return cases


#: the step-size catalogue: 7 descent-lemma and 3 stays-in-the-ball cases
CASES: list[Case] = _cases()
