"""Baselines of the ground-truth suite (``symlip bench``, section ``search``), written
independently of symlip's search strategies: they share only the network's own
derivatives (:meth:`MLP.grad`, :meth:`MLP.jac_x`) and the region's sampler and
projection (:meth:`Region.sample`, :meth:`Region.project`).

Every baseline rates points by the *local* value — ``||∇_x f||`` (input and
``lip_input`` cases) or ``|∇_θ f|`` (``lip_f``) — which never exceeds the true
constant (the supremum of the local value over the convex domain), so the
fractions of the truth are fair lower-bound figures.  Each run returns an
anytime trace ``[(seconds, best), ...]``.

``random``
    plain uniform sampling: θ from the region's sampler, x uniform in the ball;
``hypothesis``
    one ``@given`` test of its own, maximising the local value with ``target()``
    (θ in a random 32-dimensional subspace of the region, x coordinates drawn directly,
    or in a random 64-dimensional subspace above 64 inputs);
``differential_evolution``
    ``scipy.optimize.differential_evolution`` on the same coordinates;
``clever``
    a CLEVER-style extreme-value *estimate* (Weng et al. 2018) for input
    constants: maxima of ``||∇_x f||`` over batches of uniform points, a
    reverse Weibull (``scipy.stats.weibull_max``) fitted to them, its location
    reported — an estimate, not a bound (it may exceed the truth).
"""
from __future__ import annotations

import math
import time
import warnings
from typing import Any, Callable

import numpy as np

__all__ = ["BASELINES", "run_baseline", "fraction_at", "time_to"]

BASELINES = ("random", "hypothesis", "differential_evolution", "clever")
_SUB_THETA = 32
_SUB_X = 64


class _Stop(BaseException):
    """Time is up (a BaseException, so that hypothesis does not take it for a failing example)."""


class _Problem:
    """Points, local values and a low-dimensional parametrisation of one suite case."""

    def __init__(self, sc: Any, seed: int) -> None:
        self.sc, self.net, self.R = sc, sc.net, float(sc.R)
        self.rng = np.random.default_rng([seed, 11])
        self.d = self.net.d_in
        self.fixed = sc.kind == "input"
        self.quantity = "lip_input" if self.fixed else sc.case.claim.quantity
        self.region = None if self.fixed else sc.case.region
        self.kx = min(self.d, _SUB_X)
        self.Bx = None if self.kx == self.d else self.rng.standard_normal((self.d, self.kx)) / math.sqrt(self.kx)
        self.kt = 0 if self.fixed else min(self.net.n_params, _SUB_THETA)
        if not self.fixed:
            probe = np.stack([self.region.sample(self.net, self.rng) for _ in range(4)])
            self.t_scale = float(np.mean(np.linalg.norm(probe, axis=1))) * 2.0
            self.Bt = self.rng.standard_normal((self.net.n_params, self.kt)) / math.sqrt(self.kt)
        self.best, self.trace, self.t0, self.deadline = 0.0, [], 0.0, math.inf

    def start(self, budget: float) -> None:
        self.t0 = time.perf_counter()
        self.deadline = self.t0 + budget
        self.best, self.trace = 0.0, []

    def record(self, vals: np.ndarray) -> None:
        v = float(np.max(vals)) if np.size(vals) else 0.0
        now = time.perf_counter()
        if math.isfinite(v) and v > self.best:
            self.best = v
            self.trace.append((now - self.t0, v))
        if now > self.deadline:
            raise _Stop

    # -- local values -------------------------------------------------------
    def values(self, theta: np.ndarray, X: np.ndarray) -> np.ndarray:
        if self.quantity == "lip_f":
            return np.linalg.norm(self.net.grad(theta, X), axis=1)
        J = self.net.jac_x(theta, X)
        if J.ndim == 2:
            return np.linalg.norm(J, axis=1)
        return np.linalg.norm(J, ord=2, axis=(1, 2))

    def theta_fixed(self) -> np.ndarray:
        return self.sc.theta if self.fixed else None

    # -- uniform points -------------------------------------------------------
    def uniform_x(self, n: int) -> np.ndarray:
        X = self.rng.standard_normal((n, self.d))
        X /= np.linalg.norm(X, axis=1, keepdims=True)
        return X * (self.R * self.rng.random((n, 1)) ** (1.0 / self.d))

    def uniform_theta(self) -> np.ndarray:
        return self.sc.theta if self.fixed else self.region.sample(self.net, self.rng)

    # -- coordinates in [-1, 1]^k (hypothesis, differential evolution) --------
    @property
    def dim(self) -> int:
        return self.kt + self.kx

    def lift(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        zt, zx = z[: self.kt], z[self.kt:]
        x = zx if self.Bx is None else self.Bx @ zx
        x = x * (self.R / max(1.0, float(np.linalg.norm(x))))
        theta = self.sc.theta if self.fixed else self.region.project(self.net, self.t_scale * (self.Bt @ zt))
        return theta, x[None, :]


def _random(p: _Problem) -> None:
    n = 64
    while True:
        p.record(p.values(p.uniform_theta(), p.uniform_x(n)))


def _hypothesis(p: _Problem) -> None:
    import hypothesis.extra.numpy as hnp
    import hypothesis.strategies as st
    from hypothesis import HealthCheck, Phase, Verbosity, given, settings, target
    from hypothesis import seed as hseed
    from hypothesis.errors import HypothesisException

    @settings(max_examples=10 ** 7, database=None, deadline=None, phases=[Phase.generate, Phase.target],
              suppress_health_check=list(HealthCheck), verbosity=Verbosity.quiet)
    @hseed(int(p.rng.integers(2 ** 31)))
    @given(z=hnp.arrays(np.float64, p.dim, elements=st.floats(-1.0, 1.0, allow_nan=False)))
    def probe(z: np.ndarray) -> None:
        theta, x = p.lift(z)
        v = p.values(theta, x)
        p.record(v)
        target(float(v[0]))

    while True:   # hypothesis may end (max_examples, exhausted space): run it again
        try:
            probe()
        except HypothesisException:
            pass


def _differential_evolution(p: _Problem) -> None:
    from scipy.optimize import differential_evolution

    def neg(z: np.ndarray) -> float:
        theta, x = p.lift(z)
        v = p.values(theta, x)
        p.record(v)
        return -float(v[0])

    seed = 0
    while True:
        differential_evolution(neg, [(-1.0, 1.0)] * p.dim, seed=seed, maxiter=10 ** 6, polish=False, tol=0.0)
        seed += 1


def _clever_estimate(maxima: list[float]) -> float:
    from scipy.stats import weibull_max

    m = np.asarray(maxima)
    top = float(m.max())
    if m.size < 8 or float(np.ptp(m)) <= 1e-12 * max(top, 1e-300):
        return top                       # degenerate sample: the fit has nothing to say
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _, loc, _ = weibull_max.fit(m)
    except Exception:  # noqa: BLE001 - a failed fit is reported as the sample maximum
        return top
    return float(loc) if math.isfinite(loc) and loc >= top else top


def run_baseline(name: str, sc: Any, horizons: tuple[float, ...], seed: int = 0) -> dict[str, Any]:
    """Run baseline ``name`` on suite case ``sc`` up to the largest horizon.

    Returns ``{"trace": [[s, best], ...], "evaluations": ..., "at": {horizon: value}}``;
    for ``clever`` the value at a horizon is the Weibull estimate from the batches done by then.
    """
    if name not in BASELINES:
        raise ValueError(f"unknown baseline {name!r}; allowed: {', '.join(BASELINES)}")
    p = _Problem(sc, seed)
    budget = max(horizons)
    if name == "clever":
        maxima: list[tuple[float, float]] = []
        p.start(budget)
        theta = p.uniform_theta()
        try:
            while True:
                v = p.values(theta if p.fixed else p.uniform_theta(), p.uniform_x(64))
                maxima.append((time.perf_counter() - p.t0, float(np.max(v))))
                p.record(v)
        except _Stop:
            pass
        at = {h: _clever_estimate([m for t, m in maxima if t <= h]) if any(t <= h for t, _ in maxima) else 0.0
              for h in horizons}
        return {"trace": [list(t) for t in p.trace], "batches": len(maxima), "at": at,
                "note": "estimate, not a bound"}
    fn: Callable[[_Problem], None] = {"random": _random, "hypothesis": _hypothesis,
                                      "differential_evolution": _differential_evolution}[name]
    p.start(budget)
    try:
        fn(p)
    except _Stop:
        pass
    return {"trace": [list(t) for t in p.trace], "at": {h: fraction_at(p.trace, h, 1.0) for h in horizons}}


def fraction_at(trace: list, horizon: float, truth: float) -> float:
    """Best value reached by ``horizon`` seconds in an anytime trace, divided by ``truth``."""
    best = 0.0
    for t, v in trace:
        if t <= horizon:
            best = max(best, v)
    return best / truth


def time_to(trace: list, level: float) -> float | None:
    """Seconds until the trace first reaches ``level`` (None: never)."""
    for t, v in trace:
        if v >= level:
            return float(t)
    return None
