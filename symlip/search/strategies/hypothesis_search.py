"""``hypothesis``: hypothesis strategies for region points and inputs, with
``target()`` on the ratio (docs/theory.md §2 regions).

Above ``HYP_FULL_MAX`` parameters hypothesis draws in a random subspace of
dimension ``HYP_MAX_DIM`` (its buffer cannot hold thousands of floats).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from symlip.search import quantities
from symlip.search.strategies.base import Strategy
from symlip.search.strategies.parameters import Candidate, ParameterContext

__all__ = ["HypothesisSearch", "HYP_FULL_MAX", "HYP_MAX_DIM"]

HYP_FULL_MAX = 400  # above this many parameters hypothesis draws in a random subspace ...
HYP_MAX_DIM = 64    # ... of this dimension (its buffer cannot hold thousands of floats)


class HypothesisSearch(Strategy):
    """Hypothesis' generation and targeting phases on the local quantity."""

    name = "hypothesis"
    share = 0.20

    def run(self, ctx: ParameterContext, rng: np.random.Generator) -> None:
        from hypothesis import HealthCheck, Phase, Verbosity, given, settings, target
        from hypothesis import seed as hseed
        from hypothesis.errors import HypothesisException

        from symlip.search.sampling import inputs as st_inputs
        from symlip.search.sampling import region_points

        import hypothesis.extra.numpy as hnp
        import hypothesis.strategies as st

        net = ctx.net
        name = self.name
        ys = (st.lists(st.sampled_from([-1.0, 1.0]), min_size=ctx.n, max_size=ctx.n)
              if ctx.uses_y else st.none())
        if ctx.P > HYP_FULL_MAX:
            # hypothesis' buffer cannot hold thousands of floats (draws overrun and are
            # rejected before any evaluation): draw a point in a random subspace instead
            basis = rng.standard_normal((ctx.P, HYP_MAX_DIM)) / math.sqrt(HYP_MAX_DIM)
            scale = ctx.theta_scale
            base = ctx.region.center if ctx.region.kind == "ball" else np.zeros(ctx.P)

            def lift(u: np.ndarray) -> np.ndarray:
                ctx.tick(0)
                return ctx.project(base + scale * (basis @ u))

            thetas = st.builds(lift, hnp.arrays(np.float64, HYP_MAX_DIM,
                                                elements=st.floats(-1.0, 1.0, allow_nan=False)))
        else:
            thetas = region_points(net, ctx.shrunk)

        @settings(max_examples=10 ** 6, database=None, deadline=None, derandomize=False,
                  phases=[Phase.generate, Phase.target], suppress_health_check=list(HealthCheck),
                  report_multiple_bugs=False, verbosity=Verbosity.quiet)
        @hseed(int(rng.integers(2 ** 31)))
        @given(theta=thetas, X=st_inputs(ctx.d0, ctx.R * (1 - quantities.INSIDE), n=ctx.n), signs=ys)
        def probe(theta: np.ndarray, X: np.ndarray, signs: Any) -> None:
            y = None if signs is None else np.asarray(signs, float) * ctx.Y
            try:
                val, d = ctx.local(theta, X, y)
            except FloatingPointError:
                return
            ctx.record(Candidate(val, theta, X, y, name, d))
            target(float(min(ctx.cand_ratio(ctx.cands[-1]), 1e300)), label="ratio")

        try:
            probe()
        except HypothesisException:  # e.g. the search space is exhausted
            pass
