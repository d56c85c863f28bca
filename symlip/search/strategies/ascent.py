"""``ascent``: multi-start projected ascent of the *local* quantity over ``(θ, x)``.

``|∇_θ f|`` (lip_f), the top eigenvalue of ``∇²_θ f`` (lip_grad) or of
``∇²_θ ℓ`` (lip_loss_grad) by Lanczos on Hessian-vector products,
``|∇_x f|`` (lip_input); the ascent direction of an eigenvalue ``λ = vᵀHv`` is
``D³f[v, v, ·] = d/dε H(θ+εv)v`` (third derivatives are symmetric).  The
starts are the best candidates so far, the lower-bound chain of docs/theory.md
§4 fitted into the region (where no global bound survives), then random points.
"""
from __future__ import annotations

import numpy as np

from symlip.search import quantities
from symlip.search.strategies.base import Strategy
from symlip.search.strategies.parameters import Candidate, ParameterContext

__all__ = ["Ascent", "chain_points"]


class Ascent(Strategy):
    """Projected ascent with step doubling/halving from many starts."""

    name = "ascent"
    share = 0.35

    def applies(self, ctx: ParameterContext) -> bool:
        return ctx.q != "pointwise" and (ctx.q != "lip_input" or ctx.net.d_out == 1)

    def run(self, ctx: ParameterContext, rng: np.random.Generator) -> None:
        starts = sorted(ctx.cands, key=lambda c: -c.est)[:6]
        for theta, X in chain_points(ctx):  # docs/theory.md §4: where no global bound survives
            val, d = ctx.local(theta, X, None)
            chain = Candidate(val, theta, X, None, self.name, d, origin="chain")
            ctx.record(chain)
            starts.insert(0, chain)
        k = 0
        while True:
            if k < len(starts):
                c = starts[k]
                theta, X, y = c.theta.copy(), c.X.copy(), None if c.y is None else c.y.copy()
            else:
                theta, X, y = ctx.random_point(rng)
            k += 1
            self.ascend(ctx, theta, X, y, rng)

    def ascend(self, ctx: ParameterContext, theta: np.ndarray, X: np.ndarray, y: np.ndarray | None,
               rng: np.random.Generator, iters: int = 60) -> None:
        val, d = ctx.local(theta, X, y)
        if d is None:
            return
        self._state = (theta, X, y, val, d)
        try:
            self._ascend(ctx, theta, X, y, val, d, iters)
        finally:  # a spent budget still records the best point reached
            theta, X, y, val, d = self._state
            ctx.record(Candidate(val, theta, X, y, self.name, d))

    def _ascend(self, ctx: ParameterContext, theta: np.ndarray, X: np.ndarray, y: np.ndarray | None, val: float,
                d: np.ndarray, iters: int) -> None:
        self._state = (theta, X, y, val, d)
        step_t, step_x = 0.3, 0.3
        for _ in range(iters):
            g_t, g_x = ctx.local_grad(theta, X, y, d)
            nt, nx = np.linalg.norm(g_t), np.linalg.norm(g_x)
            improved = False
            for _try in range(8):
                th2 = ctx.project(theta + step_t * ctx.theta_scale * g_t / nt) if nt > 0 else theta
                X2 = X.copy()
                if nx > 0 and ctx.R > 0:
                    X2[0] = X[0] + step_x * ctx.R * g_x / nx
                    X2 = ctx.clip_inputs(X2)
                v2, d2 = ctx.local(th2, X2, y)
                if v2 > val and d2 is not None:
                    theta, X, val, d = th2, X2, v2, d2
                    self._state = (theta, X, y, val, d)
                    step_t, step_x = min(step_t * 1.6, 1.0), min(step_x * 1.6, 1.0)
                    improved = True
                    break
                step_t, step_x = step_t * 0.4, step_x * 0.4
            if not improved or step_t < 1e-9:
                break
        if ctx.uses_y:  # the loss-Hessian norm is convex in y: its max is at y = ±Y
            for yy in (np.full(ctx.n, ctx.Y), np.full(ctx.n, -ctx.Y)):
                v2, d2 = ctx.local(theta, X, yy)
                if v2 > val and d2 is not None:
                    val, d, y = v2, d2, yy
                    self._state = (theta, X, y, val, d)


def chain_points(ctx: ParameterContext) -> list[tuple[np.ndarray, np.ndarray]]:
    """The lower-bound construction of docs/theory.md §4 fitted into the region (ball:
    around 0 with the radius the ball leaves there; box: with ``t0 = 0``), or
    nothing when it does not apply.  A region-independent ("global") bound
    fails at this point once the region is large enough."""
    from symlip.models.network import MLP

    net, q = ctx.net, ctx.q
    if q not in ("lip_f", "lip_grad") or not isinstance(net, MLP) or net.d_out != 1 or not ctx.R > 0:
        return []
    from symlip.bounds.lower import chain_parameters, lower_constant

    R = ctx.R * (1 - quantities.INSIDE)
    try:
        if ctx.region.kind == "ball":
            room = ctx.region.radius - float(np.linalg.norm(ctx.region.center))
            if room <= 0:
                return []
            const = lower_constant(net.activation, q, net.depth, R, r=room)
            if room <= const.r_min:
                return []
            theta, X = chain_parameters(net, ctx.region.radius * (1 - 1e-9), R, const.t0,
                                        ctx.region.center if np.any(ctx.region.center) else None)
            return [(theta, X)]
        const = lower_constant(net.activation, q, net.depth, R)
        if net.depth < 2 or const.t0 != 0.0:  # a box: the chain with t0 = 0 only
            return []
        s0 = float(net.activation.numpy(0)(np.array([0.0]))[0])
        caps = [float(np.min(ctx.omega)), ctx.beta[0] / R]
        caps += [b / abs(s0) for b in ctx.beta[1:-1] if s0 != 0.0]
        w = min(caps) * (1 - 1e-9)
        if not w > 0:
            return []
        layers = [(np.zeros_like(W), np.zeros_like(b)) for W, b in net.unflatten(np.zeros(ctx.P))]
        for j, (W, b) in enumerate(layers):
            W[0, 0] = w
            if j == 0:
                b[0] = -w * R
            elif j < net.depth - 1:
                b[0] = -w * s0
        X = np.zeros((1, ctx.d0))
        X[0, 0] = R
        return [(ctx.project(net.flatten(layers)), X)]
    except ValueError:  # no admissible t0 (e.g. an affine activation)
        return []

