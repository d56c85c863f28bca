"""Mutants at >= 1,000 parameters that the ``random`` strategy alone misses.

Random sampling of a ball of parameters in P >= 1,000 dimensions moves the local
quantity by about ``r |∇q| / sqrt(P)`` (the projection of a random direction on
the gradient), while an ascent moves it by ``r |∇q|``: these mutants sit in
between.  ``symlip bench`` checks that ``falsify(..., strategies=["random"])``
misses each of them at the bench budget and that the full falsifier violates
each within 10 s.  Each comes with a hand-made witness (:data:`WITNESSES`).
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from symlip import MLP, Region
from symlip.search.claims import Case, Claim

from _witness_tools import Witness

__all__ = ["CASES", "WITNESSES"]

_SEED = 20240612


def _chain_centre(widths: list[int], noise: float, seed: int) -> tuple[MLP, np.ndarray]:
    """An identity network whose layers are a positive rank-one chain plus Gaussian noise."""
    net = MLP(widths, "identity")
    rng = np.random.default_rng(seed)
    layers = []
    v_prev = np.abs(rng.standard_normal(widths[0]))
    v_prev /= np.linalg.norm(v_prev)
    for i in range(1, len(widths)):
        v = np.abs(rng.standard_normal(widths[i]))
        v /= np.linalg.norm(v)
        W = 1.2 * np.outer(v, v_prev) + noise * rng.standard_normal((widths[i], widths[i - 1])) / np.sqrt(widths[i - 1])
        layers.append((W, np.zeros(widths[i])))
        v_prev = v
    return net, net.flatten(layers)


def _centre_norms_u4(widths: list[int], noise: float, radius: float, name: str
                     ) -> tuple[Case, Callable[[], Witness]]:
    net, centre = _chain_centre(widths, noise=noise, seed=_SEED)
    norms = [float(np.linalg.norm(W, 2)) for W, _ in net.unflatten(centre)]
    bound = float(np.prod(norms))
    m = len(widths) - 1
    region = Region.ball(centre, radius)
    claim = Claim(
        name, "lip_input", bound, assumptions=("lipschitz",), expect="fails",
        why=f"U4 on the ball |θ - θ°| <= {radius} evaluated with the centre's norms ω_i = ||W_i°||_2, "
            "forgetting the radius (Region.layer_bounds adds r to every layer): ∏||W_i°||_2 = "
            f"{bound:.6g}.  For the identity activation J = W_{m} ... W_1; scaling θ° radially to the sphere "
            f"multiplies J by (1 + r/|θ°|)^{m} and exceeds the product of the centre's norms "
            f"(P = {net.n_params}); a random point of the ball changes ||J|| by O(r/sqrt(P)).")
    case = Case(claim, net, region, R=1.0)

    def witness() -> Witness:
        theta = centre * (1.0 + 0.999 * radius / float(np.linalg.norm(centre)))
        J = net.jac_x(theta, np.zeros(widths[0]))
        v = J / np.linalg.norm(J)
        return {"theta": theta, "theta2": None, "x": 0.5 * v[None, :], "x2": -0.5 * v[None, :]}

    return case, witness


_BUILT = [_centre_norms_u4([32, 32, 32, 1], 0.15, 0.06, "M-large-U4-centre-norms-P2145"),
          _centre_norms_u4([64, 64, 64, 64, 1], 0.15, 0.06, "M-large-U4-centre-norms-P12545")]
CASES: list[Case] = [case for case, _ in _BUILT]
#: claim name -> hand-made violating pair (see _witness_tools)
WITNESSES: dict[str, Callable[[], Witness]] = {case.claim.name: w for case, w in _BUILT}
