"""``differential_evolution``: scipy's global optimiser on the local quantity,
when the dimension ``P + n d_0 (+ n)`` is at most ``DE_MAX_DIM``."""
from __future__ import annotations

import numpy as np

from symlip.search.strategies.base import Strategy
from symlip.search.strategies.parameters import Candidate, ParameterContext

__all__ = ["DifferentialEvolution", "DE_MAX_DIM"]

DE_MAX_DIM = 48


class DifferentialEvolution(Strategy):
    """``scipy.optimize.differential_evolution`` over the scaled cube of (θ, X, y)."""

    name = "differential_evolution"
    share = 0.15

    def applies(self, ctx: ParameterContext) -> bool:
        return ctx.P + ctx.d0 * ctx.n <= DE_MAX_DIM

    def run(self, ctx: ParameterContext, rng: np.random.Generator) -> None:
        from scipy.optimize import differential_evolution

        name = self.name
        dim_t, dim_x = ctx.P, ctx.d0 * ctx.n
        base = ctx.region.center if ctx.region.kind == "ball" else np.zeros(ctx.P)
        scale = (np.full(ctx.P, ctx.region.radius) if ctx.region.kind == "ball"
                 else ctx.box_entry_scale())

        def unpack(u: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
            theta = ctx.project(base + scale * u[:dim_t])
            X = ctx.clip_inputs(ctx.R * u[dim_t:dim_t + dim_x].reshape(ctx.n, ctx.d0))
            y = None if not ctx.uses_y else ctx.Y * u[dim_t + dim_x:]
            return theta, X, y

        def objective(u: np.ndarray) -> float:
            theta, X, y = unpack(u)
            try:
                val, d = ctx.local(theta, X, y)
            except FloatingPointError:
                return 0.0
            ctx.record(Candidate(val, theta, X, y, name, d))
            return -ctx.cand_ratio(ctx.cands[-1]) if ctx.q == "pointwise" else -val

        n_y = ctx.n if ctx.uses_y else 0
        bounds = [(-1.0, 1.0)] * (dim_t + dim_x + n_y)
        differential_evolution(objective, bounds, seed=int(rng.integers(2 ** 31)), maxiter=10 ** 6,
                               popsize=10, tol=0.0, atol=0.0, polish=False)

