"""Shared helpers of the catalogue modules (skipped by ``load_cases``: leading ``_``)."""
from __future__ import annotations

from symlip import MLP, Region, derive
from symlip.search.claims import Case, Claim


def derived_claims(label: str, quantity: str, why: str, assumptions: tuple[str, ...],
                   depths: range = range(1, 6)) -> dict[int, Claim]:
    """``{m: Claim(f"{label}[m={m}]", quantity, derive(quantity, m))}`` for each depth."""
    return {m: Claim(name=f"{label}[m={m}]", quantity=quantity, bound=derive(quantity, m),
                     assumptions=assumptions, why=why) for m in depths}


class CaseList(list):
    """A list of :class:`~symlip.search.claims.Case` with a one-line ``add``."""

    def __init__(self, claims: dict[int, Claim]) -> None:
        super().__init__()
        self.claims = claims

    def add(self, widths: tuple[int, ...], act: str, region: Region | tuple[int, float], R: float,
            Y: float | None = None, weight: float = 1.0) -> None:
        """The claim of ``len(widths) - 1`` layers on ``MLP(widths, act)``; ``region``
        is a Region or ``(seed, radius)``: the ball around ``net.init(seed)``."""
        net = MLP(widths, act)
        reg = Region.ball(net.init(region[0]), region[1]) if isinstance(region, tuple) else region
        self.append(Case(self.claims[net.depth], net, reg, R=R, Y=Y, weight=weight))


def sgd_point(widths: tuple[int, ...], act: str, N: int, *, seed: int = 0, task: str = "regression",
              loss: str = "squared", label_noise: float = 0.0, noise_std: float = 0.1, pre_steps: int = 30,
              eta: float = 0.05, batch_size: int = 8, positive_inputs: bool = False):
    """``(net, θ, X, y)``: teacher-student data and θ after ``pre_steps`` seeded SGD steps
    from ``net.init(seed)`` (a generic point, not the special initialisation)."""
    import numpy as np

    from symlip.training.dynamics import draw_batches, mean_gradient, teacher_student

    net = MLP(widths, act)
    X, y = teacher_student(N, widths[0], task=task, label_noise=label_noise,
                           noise_std=noise_std if task == "regression" else 0.0, seed=seed)
    if positive_inputs:
        X = np.abs(X) + 0.5
    theta = net.init(seed=seed)
    rng = np.random.default_rng(seed)
    for idx in draw_batches(rng, N, batch_size, pre_steps, True):
        theta = theta - eta * mean_gradient(net, theta, X[idx], y[idx], loss)
    return net, theta, X, y
