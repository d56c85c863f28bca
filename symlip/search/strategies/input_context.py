"""The fixed-network context of the input-Lipschitz audit (docs/theory.md §8.6).

:class:`InputContext` is the problem the audit searches: ``||J(x)||_2`` of one
network at fixed parameters over the ball ``|x| <= R`` (the unit ball when
``R`` is None: positively homogeneous networks, ``J(cx) = J(x)``).  It keeps
the incumbent points (one per distinct value), samples the ball, runs the
projected ascent its strategies share, and turns points into pairs whose
ratio ``|f(x) - f(x')|_2 / |x - x'|_2`` is the lower bound reported.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from symlip.search import quantities
from symlip.search.strategies.base import Budget, SearchContext
from symlip.search.strategies.fixed_net import FixedNet, clip_rows, exit_distance, unit_rows

if TYPE_CHECKING:  # pragma: no cover
    from symlip.models.network import MLP

__all__ = ["InputContext", "pair_ratios", "POOL", "EXACT_REACHED"]

#: incumbent points kept (one per distinct value)
POOL = 32
#: a search that reaches the exact constant to this relative accuracy stops early.
EXACT_REACHED = 1e-12


class InputContext(SearchContext):
    """``||J(x)||_2`` of ``net`` at ``theta`` over the input ball of radius ``R`` (None: all of ``R^d``).

    Attributes
    ----------
    eng : FixedNet
        The network's evaluator, also the meter (the audit's convention: a strategy
        may spend its whole allowance).
    pool_X, pool_v, pool_s
        The incumbent points, their ``||J||_2`` and the strategies that found them, best first.
    by : dict
        Per strategy: best ``||J||_2`` seen and evaluations spent.
    exact, exact_point : float or None, ndarray or None
        The exact constant and a point attaining it, when known (the search stops once it is reached).
    """

    def __init__(self, net: "MLP", theta: np.ndarray, R: float | None, seed: int) -> None:
        self.net, self.theta, self.R_user, self.seed = net, theta, R, seed
        self.eng = FixedNet(net, theta)
        self.meter = self.eng
        self.R = 1.0 if R is None else float(R)
        self.Rin = self.R * (1 - quantities.INSIDE)     # points stay strictly inside the ball
        self.sphere_only = R is None                       # homogeneous: J(cx) = J(x)
        self.d = net.d_in
        self.pool_X = np.zeros((0, self.d))
        self.pool_v = np.zeros(0)
        self.pool_s: list[str] = []
        self.by: dict[str, dict[str, float]] = {}
        self.cur = "random"
        self.best_local = 0.0
        self.taus: list[float] | None = None
        self._last: np.ndarray | None = None
        self.exact: float | None = None
        self.exact_point: np.ndarray | None = None
        self.finalists: list[tuple[np.ndarray, str]] = []
        self.keep_last = True   # rate an ascent's last points when its budget runs out (see ascend)

    # -- the engine's hooks -------------------------------------------------------
    def begin(self, name: str) -> None:
        self.cur = name
        self.by.setdefault(name, {"best": 0.0, "evaluations": 0})

    def end(self, name: str, evaluations: int, seconds: float) -> None:
        self.by[name]["evaluations"] += evaluations

    def done(self) -> bool:
        return self.exact is not None and self.best_local >= self.exact * (1 - EXACT_REACHED)

    def close(self) -> None:
        """The pairs are built at the best 8 distinct points (and the finalists added after)."""
        self.finalists = list(zip(self.pool_X[:8], self.pool_s[:8]))

    # -- candidates -------------------------------------------------------------
    def offer(self, X: np.ndarray, vals: np.ndarray) -> None:
        ok = np.isfinite(vals)
        X, vals = X[ok], vals[ok]
        if not vals.size:
            return
        st = self.by.setdefault(self.cur, {"best": 0.0, "evaluations": 0})
        st["best"] = max(st["best"], float(vals.max()))
        self.best_local = max(self.best_local, float(vals.max()))
        allX = np.concatenate([self.pool_X, X])
        allv = np.concatenate([self.pool_v, vals])
        alls = self.pool_s + [self.cur] * vals.size
        order = np.argsort(-allv, kind="stable")
        keep, seen = [], set()   # one point per distinct value (many points share one linear region)
        for j in order:
            key = f"{allv[j]:.12e}"
            if key in seen:
                continue
            seen.add(key)
            keep.append(j)
            if len(keep) >= POOL:
                break
        keep = np.array(keep, dtype=int)
        self.pool_X, self.pool_v = allX[keep], allv[keep]
        self.pool_s = [alls[j] for j in keep]

    def top(self, n: int) -> np.ndarray:
        return self.pool_X[:n].copy()

    def sample(self, rng: np.random.Generator, n: int, sphere_frac: float = 0.5) -> np.ndarray:
        D = unit_rows(rng, n, self.d)
        if self.sphere_only:
            return D * self.Rin
        ns = int(round(sphere_frac * n))
        r = np.concatenate([np.full(ns, self.Rin), self.Rin * rng.random(n - ns) ** (1.0 / self.d)])
        return D * r[:, None]

    # -- strategies ---------------------------------------------------------------
    def ascend(self, X: np.ndarray, eta: np.ndarray, taus: list[float] | None, iters: int,
                record_real: bool) -> tuple[np.ndarray, np.ndarray]:
        """Projected normalised-gradient ascent of ||J|| (or of the surrogate's); with
        ``record_real`` the real ||J|| at the points reached is recorded (also when the
        budget runs out during the ascent, unless ``keep_last`` is off: the search's own
        end, after which nothing may be rated that a longer search would not rate too)."""
        try:
            return self.ascend_steps(X, eta, taus, iters, record_real)
        except Budget:
            if record_real and self._last is not None and self.keep_last:
                eng = self.eng
                limit, deadline, eng.limit, eng.deadline = eng.limit, eng.deadline, math.inf, math.inf
                self.offer(self._last, eng.norms(self._last))
                eng.limit, eng.deadline = limit, deadline
            raise

    def ascend_steps(self, X: np.ndarray, eta: np.ndarray, taus: list[float] | None, iters: int,
                      record_real: bool) -> tuple[np.ndarray, np.ndarray]:
        self._last = None
        val, g = self.eng.spec_grad(X, taus)
        for _ in range(iters):
            gn = np.linalg.norm(g, axis=1, keepdims=True)
            step = np.where(gn > 0, g / np.where(gn > 0, gn, 1.0), 0.0)
            Xn = clip_rows(X + (eta * self.R)[:, None] * step, self.Rin)
            vn, gnew = self.eng.spec_grad(Xn, taus)
            better = vn > val
            X = np.where(better[:, None], Xn, X)
            self._last = X
            val = np.where(better, vn, val)
            g = np.where(better[:, None], gnew, g)
            eta = np.where(better, np.minimum(eta * 1.5, 0.5), eta * 0.5)
            if taus is None:
                self.offer(X[better], val[better])
            if np.all(eta < 1e-9):
                break
        if record_real:
            self.offer(X, self.eng.norms(X))
        return X, eta

    def pair_ratio(self, A: np.ndarray, B: np.ndarray) -> np.ndarray:
        fa = self.eng.f(A).reshape(A.shape[0], -1)
        fb = self.eng.f(B).reshape(A.shape[0], -1)
        den = np.linalg.norm(A - B, axis=1)
        return np.where(den > 0, np.linalg.norm(fa - fb, axis=1) / np.where(den > 0, den, 1.0), 0.0)

    def pairs(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The best pair around each point: (ratios, A, B)."""
        eng = self.eng
        _, _, v = eng.spec(eng.jac(X))
        if eng.pl is not None:
            # the chord through the point along v inside its region and the ball; also
            # through a point moved towards the centre (a point on the sphere has a short chord)
            inward = -X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-300)
            tin = np.minimum(eng.ray_next(X, inward), np.linalg.norm(X, axis=1))
            Y = X + 0.5 * np.where(np.isfinite(tin), tin, 0.0)[:, None] * inward
            best = (np.full(X.shape[0], -1.0), X.copy(), X.copy())
            for C in (X, Y):
                tp = np.minimum(eng.ray_next(C, v), exit_distance(C, v, self.Rin))
                tm = np.minimum(eng.ray_next(C, -v), exit_distance(C, -v, self.Rin))
                A = C - 0.9 * tm[:, None] * v
                B = C + 0.9 * tp[:, None] * v
                r = self.pair_ratio(A, B)
                better = r > best[0]
                best = (np.where(better, r, best[0]), np.where(better[:, None], A, best[1]),
                        np.where(better[:, None], B, best[2]))
            return best
        # smooth: symmetric pairs x ± (h/2) v (error O(h^2)), pulled inside the ball; h is chosen by
        # the ratio minus its rounding error, so float noise at tiny h is never mistaken for a gain
        ratios, score = np.full(X.shape[0], -1.0), np.full(X.shape[0], -np.inf)
        As, Bs = X.copy(), X.copy()
        for h in self.R * np.array([1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9]):
            nx = np.linalg.norm(X, axis=1, keepdims=True)
            C = X * np.minimum(1.0, (self.Rin - 0.5 * h) / np.maximum(nx, 1e-300))
            A, B = C - 0.5 * h * v, C + 0.5 * h * v
            A, B = clip_rows(A, self.Rin), clip_rows(B, self.Rin)
            r, noise = pair_ratios(self.net, self.theta, A, B, smooth=True)
            self.eng.evals += A.shape[0] * (2 + _GL_S.size)
            better = r - noise > score
            score = np.where(better, r - noise, score)
            ratios = np.where(better, r, ratios)
            As = np.where(better[:, None], A, As)
            Bs = np.where(better[:, None], B, Bs)
        return ratios, As, Bs


#: Gauss-Legendre nodes and weights on [0, 1] (the difference of a smooth f along a segment)
_GL_S, _GL_W = np.polynomial.legendre.leggauss(6)
_GL_S, _GL_W = (_GL_S + 1) / 2, _GL_W / 2


def pair_ratios(net: "MLP", theta: np.ndarray, A: np.ndarray, B: np.ndarray,
                 smooth: bool) -> tuple[np.ndarray, np.ndarray]:
    """Pair ratios of the rows of ``A``, ``B`` in float64 and an estimate of their rounding error.

    For a smooth network the difference ``f(A) - f(B)`` is also computed without
    cancellation, as the Gauss-Legendre quadrature of ``J`` along the segment; it
    replaces the direct difference when the two agree within the direct one's
    rounding error (a kink of ``J`` inside the segment makes them disagree).
    """
    n = A.shape[0]
    fa = np.asarray(net.f(theta, A), dtype=float).reshape(n, -1)
    fb = np.asarray(net.f(theta, B), dtype=float).reshape(n, -1)
    D = A - B
    den = np.linalg.norm(D, axis=1)
    safe = np.where(den > 0, den, 1.0)
    r = np.where(den > 0, np.linalg.norm(fa - fb, axis=1) / safe, 0.0)
    scale = np.linalg.norm(np.abs(fa) + np.abs(fb), axis=1) + r * np.linalg.norm(np.abs(A) + np.abs(B), axis=1)
    noise = np.where(den > 0, 1e-15 * scale / safe, np.inf)
    if smooth:
        P = B[:, None, :] + _GL_S[None, :, None] * D[:, None, :]
        J = np.asarray(net.jac_x(theta, P.reshape(-1, A.shape[1])), dtype=float).reshape(n, _GL_S.size, -1,
                                                                                         A.shape[1])
        diff = np.einsum("q,nqkd,nd->nk", _GL_W, J, D)
        rq = np.where(den > 0, np.linalg.norm(diff, axis=1) / safe, 0.0)
        ok = np.abs(rq - r) <= noise + 1e-13 * r
        r = np.where(ok, rq, r)
        noise = np.where(ok, 1e-14 * rq, noise)
    return r, noise
