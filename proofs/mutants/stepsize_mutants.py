"""Mutants of the step-size rule of docs/theory.md §6: false descent-lemma claims.

Each claims the descent lemma ``(η/2)|g|^2 <= ℓ(θ) - ℓ(θ - ηg)`` (``g = ∇ℓ(θ)``,
as in ``proofs/stepsize.py``) for a step size other than the local rule's.  U3 is
loose at depth >= 2 (the true curvature is often 10-50 times smaller), so a
mutant such as ``η = 2/L`` at depth 2 is *not* false in practice; the mutants
below are false for a reason that does not depend on U3's slack:

* a fixed step ``η = 1`` where the loss curvature exceeds 1;
* ``η = 2/L`` at depth 1, where U3 = ``1 + R^2`` is exact (one sample: the
  step overshoots the minimum of the quadratic to its mirror point);
* ``L`` replaced by a *pointwise* curvature estimate, the Hessian norm
  ``||∇²ℓ(θ_k)||_2`` at the iterate instead of a bound over the ball the step
  travels through.

Each comes with a hand-made witness in :data:`WITNESSES` (the convention of
``_witness_tools``, for a pointwise claim: ``theta``, ``theta2 = None``,
``x`` of shape ``(n_samples, d_0)`` and ``y``).  The witness's ``lhs > rhs`` is
confirmed at high precision by ``tests/test_stepsize.py``.
"""
from __future__ import annotations

from typing import Any, Callable

import mpmath
import numpy as np

from symlip import MLP, Region
from symlip.search.claims import Case, Claim, Inequality
from symlip.training.stepsize import MARGIN, LocalStep, descent_sides

from _witness_tools import Witness, layers_to_theta

__all__ = ["CASES", "WITNESSES"]

_TEXT = r"\tfrac{\eta}{2}|\nabla\ell(\theta)|^2 \le \ell(\theta) - \ell(\theta - \eta\nabla\ell(\theta))"


def _descent_claim(name: str, delta: float, eta: Callable[[LocalStep, int | None], Any], label: str,
                   why: str, n_samples: int = 1) -> Claim:
    def fn(net: MLP, theta: np.ndarray, X: np.ndarray, y: np.ndarray, dps: int | None) -> tuple[Any, Any]:
        return descent_sides(net, theta, X, y, delta, dps, eta=eta)

    fn.__name__ = name.replace("-", "_").replace("=", "_").replace("/", "_over_")
    return Claim(name, "pointwise", Inequality(fn, n_samples=n_samples, targets=True,
                                               text=_TEXT + rf",\ \eta = {label}"),
                 assumptions=("smooth",), expect="fails", why=why)


def _fixed_step() -> tuple[Case, Callable[[], Witness]]:
    claim = _descent_claim(
        "M-SS-fixed-step[η=1]", 1.0, lambda st, dps: 1.0, "1",
        why="A fixed step η = 1 in place of the local rule: the descent lemma needs η <= 1/Lip(∇ℓ) on "
            "the segment, and with inputs |x| <= 2 the Gauss-Newton curvature |∇f|^2 alone exceeds 1. "
            "tanh, widths [2, 3, 1], the ball's centre θ° = init(0), one sample x = (2, 0), y = -2: "
            "ℓ rises from 0.7924 to 3.1196 after the step, so ℓ(θ) - ℓ(θ - g) = -2.327 < "
            "½|g|^2 = 3.534.",
    )
    net = MLP((2, 3, 1), "tanh")
    theta0 = net.init(0)
    case = Case(claim, net, Region.ball(theta0, 1.0), R=2.0, Y=2.0)

    def witness() -> Witness:
        return {"theta": theta0.copy(), "theta2": None, "x": np.array([[2.0, 0.0]]), "y": np.array([-2.0])}

    return case, witness


def _twice_the_rule() -> tuple[Case, Callable[[], Witness]]:
    def eta(st: LocalStep, dps: int | None) -> Any:
        return min(2 / ((1 + MARGIN) * st.L), st.ball_cap)

    claim = _descent_claim(
        "M-SS-2/L[m=1]", 10.0, eta, r"\min(2/L, \delta/|\nabla\ell|)",
        why="The rule with 2/L in place of 1/L.  At depth 2 and more U3 is loose and 2/L usually still "
            "descends, but at depth 1 the loss ½(w·x + b - y)^2 of one sample is a quadratic with Hessian "
            "(x, 1)(x, 1)^T of norm 1 + |x|^2 = 1 + R^2 = L exactly (R = |x| from the data), and g is "
            "along (x, 1): η = 2/L sends the residual r to -r, so ℓ does not decrease while (η/2)|g|^2 "
            "= r^2 = 2ℓ.  Widths [2, 1], θ° = init(0), x = (1, 0), y = 1, δ = 10.",
    )
    net = MLP((2, 1), "sigmoid")
    theta0 = net.init(0)
    case = Case(claim, net, Region.ball(theta0, 1.0), R=1.0, Y=1.0)

    def witness() -> Witness:
        return {"theta": theta0.copy(), "theta2": None, "x": np.array([[1.0, 0.0]]), "y": np.array([1.0])}

    return case, witness


def _hessian_norm(net: MLP, theta: np.ndarray, X: np.ndarray, y: np.ndarray) -> float:
    """``||∇²ℓ(θ)||_2`` in float64 from Hessian-vector products (tiny networks)."""
    P = net.n_params
    H = np.stack([net.loss_hvp(theta, X, y, e) for e in np.eye(P)])
    return float(np.max(np.abs(np.linalg.eigvalsh(0.5 * (H + H.T)))))


def _pointwise_curvature() -> tuple[Case, Callable[[], Witness]]:
    delta = 5.0

    def fn(net: MLP, theta: np.ndarray, X: np.ndarray, y: np.ndarray, dps: int | None) -> tuple[Any, Any]:
        # the estimate is the float64 Hessian norm at θ, used as given by both paths
        lam = _hessian_norm(net, np.asarray(theta, float), X, y)

        def eta(st: LocalStep, dps: int | None) -> Any:
            return min(1 / (mpmath.mpf(lam) if dps is not None else lam), st.ball_cap)

        return descent_sides(net, theta, X, y, delta, dps, eta=eta)

    fn.__name__ = "M_SS_pointwise_curvature"
    claim = Claim(
        "M-SS-pointwise-curvature", "pointwise",
        Inequality(fn, n_samples=1, targets=True, text=_TEXT + r",\ \eta = \min(1/\|\nabla^2\ell(\theta)\|_2, "
                                                                r"\delta/|\nabla\ell|)"),
        assumptions=("smooth",), expect="fails",
        why="The rule with L replaced by a much smaller local estimate: the Hessian norm ||∇²ℓ(θ_k)||_2 at "
            "the iterate (e.g. from power iteration) instead of a Lipschitz constant of ∇ℓ on the ball the "
            "step travels through.  The curvature met along the step can be far larger.  softplus, widths "
            "[1, 1, 1], θ = (w_1, b_1, w_2, b_2) = (-1, 1.5, -2, 0), x = 1, y = -5: a_1 = 0.5, "
            "f = -1.948, ||∇²ℓ(θ)|| = 2.440, η = 0.4098, |g| = 6.857, and ℓ rises from 4.657 to 31.72.",
    )
    net = MLP((1, 1, 1), "softplus")
    theta_w = layers_to_theta(net, [([[-1.0]], [1.5]), ([[-2.0]], [0.0])])
    case = Case(claim, net, Region.ball(theta_w, 0.5), R=1.0, Y=5.0)

    def witness() -> Witness:
        return {"theta": theta_w.copy(), "theta2": None, "x": np.array([[1.0]]), "y": np.array([-5.0])}

    return case, witness


_BUILT = [_fixed_step(), _twice_the_rule(), _pointwise_curvature()]

#: the step-size mutants (all expect="fails", pointwise descent-lemma claims)
CASES: list[Case] = [case for case, _ in _BUILT]
#: claim name -> hand-made violating point (θ, x, y) (see _witness_tools)
WITNESSES: dict[str, Callable[[], Witness]] = {case.claim.name: w for case, w in _BUILT}
