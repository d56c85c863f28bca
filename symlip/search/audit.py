"""Audit a claimed input-Lipschitz constant of one concrete network.

A tool (an SDP relaxation, a product of norms, a paper's table) states that a
fixed network ``x ↦ f(x; θ)`` is ``L``-Lipschitz for inputs in the ball
``|x| <= R`` (or on all of ``R^d``).  The true constant over the (convex) ball is

    L*(R) = sup_{x in B_R} ||J(x)||_2,        J = ∂f/∂x  (d_m x d_0),

(almost everywhere for piecewise-linear activations), and every pair ratio
``|f(x) - f(x')|_2 / |x - x'|_2`` with ``x, x'`` in the ball is a lower bound of
it.  :func:`input_lipschitz_lower_bound` searches for a large pair ratio,
:func:`audit_constant` turns it into a verdict on a claim (``violated`` only
when the pair's ratio exceeds the claim at two mpmath precisions), and
:func:`exact_input_lipschitz` computes ``L*`` exactly for small
piecewise-linear networks by enumerating their activation regions.

Strategies of the search (all seeded; ``max_evals`` makes it exactly
reproducible):

``random``
    points uniform in the ball and on the sphere ``|x| = R``, rated by ``||J||_2``;
``ascent``
    (smooth activations) multi-start projected ascent of ``||J(x)||_2``; its
    gradient is ``∇_x (uᵀ J(x) v)`` for the top singular pair ``(u, v)``,
    computed exactly by one forward tangent along ``v`` and one back-propagation;
``lines``
    (piecewise-linear) exact walks along chords of the ball: along a line the
    network is piecewise linear and the next boundary is found in closed form,
    so every activation region a chord crosses is visited once;
``smoothed``
    (piecewise-linear) ascent on a smoothed surrogate (each kink replaced by a
    softplus of temperature τ, annealed towards 0), then the real ``||J||`` at
    the points reached: the surrogate has a gradient where the real network
    has none (``||J||`` is constant on each region);
``walk``
    (piecewise-linear) hill climbing on the adjacency graph of the regions:
    from a point, cross to neighbouring regions (towards the nearest neuron
    boundaries, along ``±v`` and random directions) and keep the best;
``exact_region``
    when :func:`exact_input_lipschitz` applies, a point inside the region that
    attains the exact constant (disable with ``use_exact=False``); the search
    stops early once its own candidates reach the exact constant.

The witness of the best point is a pair: for a piecewise-linear network the
chord through the point along the top right singular vector ``v`` (nine tenths of it) that
stays inside its region and the ball (the ratio is then exactly ``||J||_2``);
for a smooth network a symmetric pair ``x ± h v/2`` with the best ``h`` (its
ratio evaluated without cancellation, as the Gauss-Legendre quadrature of ``J``
along the segment, so tiny ``h`` costs no accuracy).
A pair straddling region boundaries never beats the best region it touches
(``|Σ J_k Δ_k| <= max ||J_k|| Σ |Δ_k|``), so within-region pairs are optimal.

For ``R=None`` (all of ``R^d``) the network must be positively homogeneous
(no biases, activation ``σ(t) = s± t``: relu, leaky_relu, identity); then
``J(cx) = J(x)`` for ``c > 0`` and the search runs on the unit ball.
"""
from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Sequence

import mpmath
import numpy as np
from scipy.special import expit

from symlip.search import quantities
from symlip.search.audit_witness import WITNESS_KIND, AuditWitness, confirm_pair, net_key, replay_audit

if TYPE_CHECKING:  # pragma: no cover
    from symlip.models.network import MLP

__all__ = ["InputLipschitzSearch", "AuditVerdict", "AuditWitness", "input_lipschitz_lower_bound",
           "audit_constant", "exact_input_lipschitz", "replay_audit", "STRATEGIES", "WITNESS_KIND"]

#: strategies and their share of the budget (piecewise-linear / smooth activations).
STRATEGIES = ("random", "ascent", "lines", "smoothed", "walk", "exact_region")
_SHARES_PL = {"random": 0.15, "lines": 0.25, "smoothed": 0.25, "walk": 0.35}
_SHARES_SMOOTH = {"random": 0.2, "ascent": 0.8}

#: Jacobian norms above ``claimed * (1 + _JAC_TOL)`` without a confirmed pair make a verdict inconclusive.
_JAC_TOL = 1e-9
#: a search that reaches the exact constant to this relative accuracy stops early.
_EXACT_REACHED = 1e-12
_POOL = 32


# ---------------------------------------------------------------------------
# results
# ---------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class InputLipschitzSearch:
    """The best lower bound found on the input-Lipschitz constant of one network.

    Attributes
    ----------
    value : float
        The pair ratio ``|f(x) - f(x2)|_2 / |x - x2|_2`` of the pair below (float64).
    x, x2 : ndarray
        The pair, inside the input ball ``|x| <= R`` (inside the unit ball when ``R`` is None).
    strategy : str
        The strategy that found the pair's point (see the module docstring).
    evaluations, seconds : int, float
        Network evaluations (points at which J or f was computed) and wall time.
    exact : float or None
        The exact constant when :func:`exact_input_lipschitz` applies (its rigorous upper end,
        rounded up), else None.
    R : float or None
        The input radius searched (None: all of ``R^d``).
    jacobian_norm : float
        The largest ``||J(x)||_2`` seen at a point (float64); the pair ratio
        reproduces it up to rounding (piecewise-linear) or ``O(h^2)`` (smooth).
    by_strategy : dict
        Per strategy: best ``||J||_2`` seen and evaluations spent.
    seed : int
        The seed of the search.
    """

    value: float
    x: np.ndarray
    x2: np.ndarray
    strategy: str
    evaluations: int
    seconds: float
    exact: float | None
    R: float | None = None
    jacobian_norm: float = 0.0
    by_strategy: dict = field(default_factory=dict)
    seed: int = 0
    _mp: dict = field(default_factory=dict, repr=False, compare=False)   # the pair at high precision
    _net: str | None = field(default=None, repr=False, compare=False)    # which network (see net_key)


@dataclass(frozen=True, eq=False)
class AuditVerdict:
    """The verdict on one claimed constant (in the manner of ``scipy.optimize.OptimizeResult``).

    Attributes
    ----------
    tool : str
        Who claimed the constant (a peer tool's name, ``"value"`` by default).
    claimed : float
        The claimed input-Lipschitz constant.
    status : {"violated", "survived", "inconclusive"}
        ``violated``: a pair with ratio above ``claimed``, confirmed with mpmath at
        two precisions; ``survived``: nothing above it was found; ``inconclusive``:
        float64 saw a violation that high precision did not confirm (or a
        Jacobian norm above the claim had no confirming pair); both values are
        in ``message``.
    lower_bound : float
        The best lower bound found (``search.value``).
    ratio : float
        ``lower_bound / claimed``.
    witness : AuditWitness or None
        The pair, for ``violated`` and ``inconclusive``; ``.save(path)`` writes it
        and ``symlip replay FILE`` re-checks it.
    message, seconds, search
        Explanation, wall time (including the search), and the search itself.
    confirmed_digits : int
        Digits of the violation margin the two precisions agree on (0 unless violated).
    value_mp : str or None
        The pair ratio at high precision (None when not evaluated).
    """

    tool: str
    claimed: float
    status: str
    lower_bound: float
    ratio: float
    witness: Any | None
    message: str
    seconds: float
    search: InputLipschitzSearch
    confirmed_digits: int = 0
    value_mp: str | None = None

    @property
    def violated(self) -> bool:
        return self.status == "violated"

    def _repr_markdown_(self) -> str:
        """Notebook display: the verdict and its fields as a Markdown table."""
        from symlip.core.display import markdown_fields

        return markdown_fields(f"{self.tool} claims {self.claimed:g}: {self.status}", [
            ("lower bound", self.lower_bound), ("ratio", self.ratio),
            ("confirmed digits", self.confirmed_digits or None), ("seconds", round(self.seconds, 2)),
            ("message", self.message)])


# ---------------------------------------------------------------------------
# the activation: piecewise linear or not
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class _PL:
    """A piecewise-linear activation: slopes on the pieces between sorted kinks."""

    kinks: tuple[float, ...]
    slopes: tuple[float, ...]     # len(kinks) + 1
    homogeneous: bool             # σ(t) = s± t: kinks ⊆ {0} and σ(0) = 0


@functools.lru_cache(maxsize=64)
def _pl_cached(act: Any) -> _PL | None:
    import sympy as sp

    try:
        d2 = sp.piecewise_fold(act.derivative(2))
        if sp.simplify(d2) != 0:
            return None
        kinks = act.kinks
    except Exception:  # noqa: BLE001 - an expression sympy cannot handle is treated as not piecewise linear
        return None
    s0, s1 = act.numpy(0), act.numpy(1)
    if kinks:
        mids = [kinks[0] - 1.0] + [(a + b) / 2 for a, b in zip(kinks, kinks[1:])] + [kinks[-1] + 1.0]
    else:
        mids = [0.0]
    slopes = tuple(float(s1(np.array([t]))[0]) for t in mids)
    # numeric double check that σ is linear on each piece with these slopes
    for j, t in enumerate(mids):
        lo = kinks[j - 1] if j > 0 else t - 10.0
        hi = kinks[j] if j < len(kinks) else t + 10.0
        a, b = lo + 0.25 * (hi - lo), lo + 0.75 * (hi - lo)
        va, vb = (float(s0(np.array([p]))[0]) for p in (a, b))
        if not math.isclose(vb - va, slopes[j] * (b - a), rel_tol=1e-9, abs_tol=1e-12):
            return None
    homogeneous = set(kinks) <= {0.0} and float(s0(np.array([0.0]))[0]) == 0.0
    return _PL(kinks, slopes, homogeneous)


def _piecewise_linear(net: "MLP") -> _PL | None:
    """The piecewise-linear structure of ``net`` (depth 1 is affine), None if σ is not piecewise linear."""
    if net.depth == 1:
        return _PL((), (1.0,), True)
    return _pl_cached(net.activation)


# ---------------------------------------------------------------------------
# the float64 engine: Jacobians, their spectral norm and its gradient, rays
# ---------------------------------------------------------------------------
class _Budget(Exception):
    pass


class _Engine:
    """Batched float64 evaluation of one network (independent of ``MLP.jac_x``;
    cross-checked against it in the tests)."""

    def __init__(self, net: "MLP", theta: np.ndarray) -> None:
        self.net = net
        self.theta = theta
        self.layers = [(np.array(W, dtype=float), np.array(b, dtype=float)) for W, b in net.unflatten(theta)]
        self.m = net.depth
        self.d = net.d_in
        self.k = net.d_out
        self.pl = _piecewise_linear(net)
        act = net.activation
        self._s0 = act.numpy(0)
        self._s1 = act.numpy(1)
        self._s2 = None if self.pl is not None else act.numpy(2)
        if self.pl is not None:
            self._kinks = np.array(self.pl.kinks, dtype=float)
            self._slopes = np.array(self.pl.slopes, dtype=float)
        self.evals = 0
        self.limit = math.inf
        self.deadline = math.inf

    # -- bookkeeping ----------------------------------------------------------
    @property
    def batch(self) -> int:
        """Points per batch: fewer for expensive networks, so the time budget is kept."""
        cost = self.k * sum(W.size for W, _ in self.layers) + 1
        return int(min(128, max(8, 2e7 // cost)))

    def tick(self, k: int) -> None:
        self.evals += int(k)
        if self.evals > self.limit or time.perf_counter() > self.deadline:
            raise _Budget

    # -- activation -----------------------------------------------------------
    def _act(self, a: np.ndarray, tau: float | None, order: int) -> np.ndarray:
        """σ^{(order)}(a), or the smoothed surrogate's at temperature ``tau``."""
        if self.pl is None:
            return (self._s0, self._s1, self._s2)[order](a)
        kinks, slopes = self._kinks, self._slopes
        if tau is None:
            if order == 0:
                return self._s0(a)
            if order == 1:
                return slopes[np.searchsorted(kinks, a, side="right")] if kinks.size else np.full_like(a, slopes[0])
            return np.zeros_like(a)
        jumps = np.diff(slopes)
        if order == 0:
            out = self._s0(a)
            for kap, dj in zip(kinks, jumps):
                out = out + dj * tau * np.log1p(np.exp(-np.abs(a - kap) / tau))
            return out
        out = np.full_like(a, slopes[0]) if order == 1 else np.zeros_like(a)
        for kap, dj in zip(kinks, jumps):
            e = expit((a - kap) / tau)
            out = out + (dj * e if order == 1 else dj * e * (1 - e) / tau)
        return out

    # -- forward ----------------------------------------------------------------
    def forward(self, X: np.ndarray, taus: Sequence[float] | None = None, order: int = 1):
        """Pre-activations ``a_i``, ``σ'(a_i)`` (and ``σ''``) of the hidden layers, and the output."""
        z = X
        pre, s1, s2 = [], [], []
        with np.errstate(over="ignore", invalid="ignore"):
            for i, (W, b) in enumerate(self.layers, start=1):
                a = z @ W.T + b
                if i == self.m:
                    return pre, s1, s2, a
                tau = None if taus is None else taus[i - 1]
                pre.append(a)
                s1.append(self._act(a, tau, 1))
                if order >= 2:
                    s2.append(self._act(a, tau, 2))
                z = self._act(a, tau, 0)
        raise AssertionError("unreachable")  # pragma: no cover

    def jac(self, X: np.ndarray, taus: Sequence[float] | None = None) -> np.ndarray:
        """Input Jacobians, shape ``(n, d_m, d_0)``."""
        self.tick(X.shape[0])
        _, s1, _, _ = self.forward(X, taus)
        return self._jac_from(s1, X.shape[0])

    def _jac_from(self, s1: list[np.ndarray], n: int) -> np.ndarray:
        Wm = self.layers[-1][0]
        J = np.broadcast_to(Wm, (n,) + Wm.shape)
        for i in range(self.m - 1, 0, -1):
            S = J * s1[i - 1][:, None, :]                     # (n, d_m, d_i), one GEMM below
            J = (S.reshape(-1, S.shape[2]) @ self.layers[i - 1][0]).reshape(n, self.k, -1)
        return np.array(J, dtype=float)

    @staticmethod
    def spec(J: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Top singular value, left and right singular vectors of each ``J`` (zero J: any unit v)."""
        n, k, d = J.shape
        if k == 1:
            s = np.linalg.norm(J[:, 0, :], axis=1)
            u = np.ones((n, 1))
            v = np.where(s[:, None] > 0, J[:, 0, :] / np.where(s > 0, s, 1.0)[:, None], 0.0)
        elif 4 * k <= d:  # wide J: the top eigenpair of the small Gram matrix J Jᵀ
            w, U = np.linalg.eigh(J @ np.swapaxes(J, 1, 2))
            u = U[:, :, -1]
            v = np.einsum("nk,nkd->nd", u, J)
            s = np.linalg.norm(v, axis=1)
            v = np.where(s[:, None] > 0, v / np.where(s > 0, s, 1.0)[:, None], 0.0)
        else:
            U, S, Vt = np.linalg.svd(J, full_matrices=False)
            s, u, v = S[:, 0], U[:, :, 0], Vt[:, 0, :]
        zero = ~(s > 0)
        if zero.any():
            v = v.copy()
            v[zero] = 0.0
            v[zero, 0] = 1.0
        return s, u, v

    def norms(self, X: np.ndarray, taus: Sequence[float] | None = None) -> np.ndarray:
        return self.spec(self.jac(X, taus))[0]

    def spec_grad(self, X: np.ndarray, taus: Sequence[float] | None = None):
        """``||J(x)||_2`` and its gradient ``∇_x (uᵀ J(x) v)`` at fixed top singular vectors."""
        n = X.shape[0]
        self.tick(2 * n)
        pre, s1, s2, _ = self.forward(X, taus, order=2)
        J = self._jac_from(s1, n)
        s, u, v = self.spec(J)
        m = self.m
        if m == 1:
            return s, np.zeros_like(X)
        # right tangents r_i = ∂a_i/∂x · v, left cotangents l_i = uᵀ ∂f/∂a_i ⊘ (through σ' of layer i)
        right = []
        r = v @ self.layers[0][0].T
        for i in range(1, m):
            right.append(r)
            if i < m - 1:
                r = (s1[i - 1] * r) @ self.layers[i][0].T
        left: list[Any] = [None] * (m - 1)
        lvec = u @ self.layers[m - 1][0]          # (n, d_{m-1})
        for i in range(m - 1, 0, -1):
            left[i - 1] = lvec
            if i > 1:
                lvec = (lvec * s1[i - 1]) @ self.layers[i - 1][0]
        q = s2[m - 2] * left[m - 2] * right[m - 2]
        for i in range(m - 1, 1, -1):
            q = (q @ self.layers[i - 1][0]) * s1[i - 2] + s2[i - 2] * left[i - 2] * right[i - 2]
        g = q @ self.layers[0][0]
        return s, g

    def f(self, X: np.ndarray) -> np.ndarray:
        self.tick(X.shape[0])
        return self.forward(X)[3]

    # -- rays (piecewise linear only) ------------------------------------------
    def ray_next(self, X: np.ndarray, D: np.ndarray) -> np.ndarray:
        """Distance ``t > 0`` along each ray ``x + t d`` to the first boundary of the
        current activation region (exact for the region's linear extension; inf if none)."""
        self.tick(X.shape[0])
        n = X.shape[0]
        best = np.full(n, np.inf)
        if self.pl is None or not self.pl.kinks:
            return best
        scale = 1e-12 * (1.0 + np.linalg.norm(X, axis=1)) / np.maximum(np.linalg.norm(D, axis=1), 1e-300)
        z, dz = X, D
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            for i, (W, b) in enumerate(self.layers[:-1], start=1):
                a = z @ W.T + b
                da = dz @ W.T
                for kap in self._kinks:
                    t = (kap - a) / da
                    t = np.where((da != 0) & (t > scale[:, None]), t, np.inf)
                    best = np.minimum(best, t.min(axis=1))
                s = self._act(a, None, 1)
                z, dz = self._act(a, None, 0), s * da
        return best

    def pattern(self, X: np.ndarray) -> np.ndarray:
        """Piece indices of every hidden neuron, shape ``(n, Σ d_i)`` (piecewise linear only)."""
        pre = self.forward(X)[0]
        if not pre:
            return np.zeros((X.shape[0], 0), dtype=np.int64)
        return np.concatenate([np.searchsorted(self._kinks, a, side="right") for a in pre], axis=1)


def _exit(X: np.ndarray, D: np.ndarray, radius: float) -> np.ndarray:
    """Distance ``t >= 0`` along unit directions ``D`` from ``X`` (inside the ball) to the sphere."""
    xd = np.sum(X * D, axis=1)
    disc = xd * xd - np.sum(X * X, axis=1) + radius * radius
    return np.maximum(-xd + np.sqrt(np.maximum(disc, 0.0)), 0.0)


def _unit(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    g = rng.standard_normal((n, d))
    nrm = np.linalg.norm(g, axis=1, keepdims=True)
    return g / np.where(nrm > 0, nrm, 1.0)


def _clip(X: np.ndarray, radius: float) -> np.ndarray:
    n = np.linalg.norm(X, axis=1, keepdims=True)
    return np.where(n > radius, X * (radius / np.maximum(n, 1e-300)), X)


# ---------------------------------------------------------------------------
# the search
# ---------------------------------------------------------------------------
class _Search:
    def __init__(self, net: "MLP", theta: np.ndarray, R: float | None, seed: int) -> None:
        self.net, self.theta, self.R_user, self.seed = net, theta, R, seed
        self.eng = _Engine(net, theta)
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
            if len(keep) >= _POOL:
                break
        keep = np.array(keep, dtype=int)
        self.pool_X, self.pool_v = allX[keep], allv[keep]
        self.pool_s = [alls[j] for j in keep]

    def top(self, n: int) -> np.ndarray:
        return self.pool_X[:n].copy()

    def sample(self, rng: np.random.Generator, n: int, sphere_frac: float = 0.5) -> np.ndarray:
        D = _unit(rng, n, self.d)
        if self.sphere_only:
            return D * self.Rin
        ns = int(round(sphere_frac * n))
        r = np.concatenate([np.full(ns, self.Rin), self.Rin * rng.random(n - ns) ** (1.0 / self.d)])
        return D * r[:, None]

    # -- strategies ---------------------------------------------------------------
    def s_random(self, rng: np.random.Generator) -> None:
        while True:
            X = self.sample(rng, self.eng.batch)
            self.offer(X, self.eng.norms(X))

    def _ascend(self, X: np.ndarray, eta: np.ndarray, taus: list[float] | None, iters: int,
                record_real: bool) -> tuple[np.ndarray, np.ndarray]:
        """Projected normalised-gradient ascent of ||J|| (or of the surrogate's); with
        ``record_real`` the real ||J|| at the points reached is recorded (also when the
        budget runs out during the ascent)."""
        try:
            return self._ascend_steps(X, eta, taus, iters, record_real)
        except _Budget:
            if record_real and self._last is not None:
                eng = self.eng
                limit, deadline, eng.limit, eng.deadline = eng.limit, eng.deadline, math.inf, math.inf
                self.offer(self._last, eng.norms(self._last))
                eng.limit, eng.deadline = limit, deadline
            raise

    def _ascend_steps(self, X: np.ndarray, eta: np.ndarray, taus: list[float] | None, iters: int,
                      record_real: bool) -> tuple[np.ndarray, np.ndarray]:
        self._last = None
        val, g = self.eng.spec_grad(X, taus)
        for _ in range(iters):
            gn = np.linalg.norm(g, axis=1, keepdims=True)
            step = np.where(gn > 0, g / np.where(gn > 0, gn, 1.0), 0.0)
            Xn = _clip(X + (eta * self.R)[:, None] * step, self.Rin)
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

    def s_ascent(self, rng: np.random.Generator) -> None:
        n = 16
        X = np.concatenate([self.top(6), self.sample(rng, n)])[:n]
        eta = np.full(X.shape[0], 0.05)
        while True:
            X, eta = self._ascend(X, eta, None, 25, record_real=False)
            done = eta < 1e-9
            if done.any():
                X[done] = self.sample(rng, int(done.sum()), sphere_frac=0.3)
                eta[done] = 0.05

    def _temperatures(self, rng: np.random.Generator) -> list[float]:
        """Per hidden layer: median distance of pre-activations to the nearest kink (the surrogate's scale)."""
        if self.taus is None:
            X = self.sample(rng, 64)
            self.eng.tick(64)
            pre = self.eng.forward(X)[0]
            kinks = self.eng._kinks
            taus = []
            for a in pre:
                dist = np.min(np.abs(a[..., None] - kinks), axis=-1) if kinks.size else np.abs(a)
                med = float(np.median(dist))
                taus.append(med if med > 0 else 1.0)
            self.taus = taus
        return self.taus

    def s_smoothed(self, rng: np.random.Generator) -> None:
        base = self._temperatures(rng)
        first = True
        while True:
            n = 16
            X = np.concatenate([self.top(4) if first else self.top(1), self.sample(rng, n)])[:n]
            first = False
            eta = np.full(X.shape[0], 0.1)
            for rel in (1.0, 0.3, 0.1, 0.03, 0.01, 0.003):
                X, eta = self._ascend(X, np.maximum(eta, 1e-3), [rel * t for t in base], 12, record_real=True)

    def _walk_lines(self, X0: np.ndarray, D: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> None:
        """Visit every region along the segments ``x0 + t d``, ``t`` in ``[lo, hi]``: one
        point at the middle of each region's piece of the segment."""
        eng = self.eng
        t = lo + 1e-9 * (hi - lo)
        active = t < hi
        gap = 1e-9 * np.maximum(hi - lo, 1e-300)
        for _ in range(4 * self._n_kink_planes() + 16):
            if not active.any():
                return
            idx = np.flatnonzero(active)
            Xs = X0[idx] + t[idx, None] * D[idx]
            tn = t[idx] + eng.ray_next(Xs, D[idx])
            end = np.minimum(tn, hi[idx])
            mid = 0.5 * (t[idx] + end)
            P = X0[idx] + mid[:, None] * D[idx]
            self.offer(P, eng.norms(P))
            t[idx] = tn + gap[idx]
            active[idx] = t[idx] < hi[idx]

    def _n_kink_planes(self) -> int:
        return sum(self.net.widths[1:-1]) * max(1, len(self.eng.pl.kinks) if self.eng.pl else 1)

    def s_lines(self, rng: np.random.Generator) -> None:
        while True:
            n = 16
            anchors = np.concatenate([self.top(4), self.sample(rng, n, sphere_frac=0.0)])[:n]
            D = _unit(rng, n, self.d)
            plus = _exit(anchors, D, self.Rin)
            minus = _exit(anchors, -D, self.Rin)
            self._walk_lines(anchors, D, -minus * (1 - 1e-12), plus * (1 - 1e-12))

    def _neighbours(self, X: np.ndarray, rng: np.random.Generator, n_normal: int = 12,
                    n_random: int = 4) -> tuple[np.ndarray, np.ndarray]:
        """Points in neighbouring regions: cross the first boundary along each direction and
        land in the middle of the next region's piece of the ray.  Returns (points, owner index)."""
        eng = self.eng
        n, d = X.shape
        dirs = []
        W1, b1 = eng.layers[0]
        if eng.m > 1 and eng._kinks.size:
            a1 = X @ W1.T + b1                                    # (n, d_1)
            wn = np.linalg.norm(W1, axis=1)
            diff = a1[..., None] - eng._kinks                     # (n, d_1, n_kinks)
            j = np.argmin(np.abs(diff), axis=-1)
            gap = np.take_along_axis(diff, j[..., None], axis=-1)[..., 0]
            dist = np.where(wn > 0, np.abs(gap) / np.where(wn > 0, wn, 1.0), np.inf)
            kn = min(n_normal, W1.shape[0])
            near = np.argsort(dist, axis=1, kind="stable")[:, :kn]
            for c in range(kn):
                k = near[:, c]
                w = W1[k] / np.where(wn[k] > 0, wn[k], 1.0)[:, None]
                dirs.append(-np.sign(gap[np.arange(n), k])[:, None] * w)
        J = eng.jac(X)
        _, _, v = eng.spec(J)
        dirs += [v, -v]
        dirs += [_unit(rng, n, d) for _ in range(n_random)]
        D = np.concatenate(dirs)                                   # (n * n_dirs, d)
        owner = np.tile(np.arange(n), len(dirs))
        Xr = X[owner]
        t1 = eng.ray_next(Xr, D)
        tx = _exit(Xr, D, self.Rin)
        ok = np.isfinite(t1) & (t1 < tx)
        Xr, D, t1, tx, owner = Xr[ok], D[ok], t1[ok], tx[ok], owner[ok]
        if not owner.size:
            return np.zeros((0, d)), owner
        step = t1 + 1e-9 * self.R
        t2 = step + eng.ray_next(Xr + step[:, None] * D, D)
        land = 0.5 * (t1 + np.minimum(t2, tx))
        return Xr + land[:, None] * D, owner

    def s_walk(self, rng: np.random.Generator) -> None:
        eng = self.eng
        n = 8
        X = np.concatenate([self.top(n), self.sample(rng, n)])[:n]
        val = eng.norms(X)
        while True:
            P, owner = self._neighbours(X, rng)
            moved = np.zeros(n, dtype=bool)
            if owner.size:
                pv = eng.norms(P)
                self.offer(P, pv)
                for i in range(n):
                    mine = np.flatnonzero(owner == i)
                    if mine.size:
                        j = mine[int(np.argmax(pv[mine]))]
                        if pv[j] > val[i] * (1 + 1e-12) + 1e-300:
                            X[i], val[i], moved[i] = P[j], pv[j], True
            stuck = np.flatnonzero(~moved)
            if stuck.size:
                # restart: half from fresh random points, half from random neighbours of the best
                fresh = self.sample(rng, stuck.size)
                half = stuck.size // 2
                if half and self.pool_X.shape[0]:
                    Pn, _ = self._neighbours(self.top(1), rng, n_normal=4, n_random=8)
                    if Pn.shape[0]:
                        fresh[:half] = Pn[rng.integers(0, Pn.shape[0], half)]
                X[stuck] = fresh
                val[stuck] = eng.norms(fresh)

    # -- pairs --------------------------------------------------------------------
    def _pair_ratio(self, A: np.ndarray, B: np.ndarray) -> np.ndarray:
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
                tp = np.minimum(eng.ray_next(C, v), _exit(C, v, self.Rin))
                tm = np.minimum(eng.ray_next(C, -v), _exit(C, -v, self.Rin))
                A = C - 0.9 * tm[:, None] * v
                B = C + 0.9 * tp[:, None] * v
                r = self._pair_ratio(A, B)
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
            A, B = _clip(A, self.Rin), _clip(B, self.Rin)
            r, noise = _pair_ratios(self.net, self.theta, A, B, smooth=True)
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


def _pair_ratios(net: "MLP", theta: np.ndarray, A: np.ndarray, B: np.ndarray,
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


def _check_R(R: Any) -> float | None:
    if R is None:
        return None
    if isinstance(R, (bool, np.bool_)) or not isinstance(R, (int, float, np.integer, np.floating)):
        raise TypeError(f"R must be a number > 0 (the input ball |x| <= R) or None (all of R^d); got {R!r}")
    r = float(R)
    if not (math.isfinite(r) and r > 0):
        raise ValueError(f"R must be a finite number > 0 (the input ball |x| <= R) or None (all of R^d, "
                         f"for bias-free relu/leaky_relu/identity networks); got {R!r}")
    return r


def _check_net(net: Any) -> None:
    from symlip.models.network import MLP

    if not isinstance(net, MLP):
        raise TypeError(f"net must be an MLP; got {type(net).__name__}")


def _theta(net: "MLP", theta: Any) -> np.ndarray:
    th = net._vector(theta, "theta")   # shape and finiteness, with a message naming the widths
    return np.array(th, dtype=float)


def _homogeneity_problem(net: "MLP", theta: np.ndarray) -> str | None:
    """Why ``net`` at ``theta`` is not positively homogeneous (None when it is)."""
    nz = [i for i, (_, sb) in enumerate(net.layer_slices, start=1) if np.any(theta[sb] != 0)]
    if nz:
        return (f"it has non-zero biases (b_{nz[0]}); a network with biases is not positively homogeneous, "
                "so its constant depends on the input radius: give R")
    pl = _piecewise_linear(net)
    if pl is None or not pl.homogeneous:
        return (f"its activation {net.activation.name!r} is not positively homogeneous; allowed: "
                "relu, leaky_relu, identity (σ(t) = s± t); give R")
    return None


def input_lipschitz_lower_bound(net: "MLP", theta: Any, *, R: float | None, budget: float = 5.0, seed: int = 0,
                                max_evals: int | None = None, use_exact: bool = True,
                                strategies: Sequence[str] | None = None) -> InputLipschitzSearch:
    """Search for the largest pair ratio ``|f(x) - f(x2)|_2 / |x - x2|_2`` over the input ball.

    Parameters
    ----------
    net, theta : MLP, array of shape (P,)
        One concrete network (vector outputs allowed: the constant is the
        supremum of the Jacobian's spectral norm).
    R : float or None
        Input radius ``|x| <= R``; None means all of ``R^d`` and is allowed only
        for positively homogeneous networks (all biases zero, activation relu,
        leaky_relu or identity), whose constant does not depend on the radius.
    budget : float
        Seconds of search (ignored, apart from a safety limit of 20x, when ``max_evals`` is given).
    seed : int
        Seed of every random choice.
    max_evals : int, optional
        Evaluation budget (points at which J or f is computed); makes the search
        exactly reproducible for a seed.
    use_exact : bool
        Add the region attaining :func:`exact_input_lipschitz` as a candidate when
        it applies.  Either way ``exact`` is reported, and the strategies stop as
        soon as their own candidates reach it.
    strategies : sequence of str, optional
        A subset of :data:`STRATEGIES` (default: all that apply to the activation).

    Returns
    -------
    InputLipschitzSearch
    """
    t0 = time.perf_counter()
    _check_net(net)
    th = _theta(net, theta)
    R = _check_R(R)
    if R is None:
        why = _homogeneity_problem(net, th)
        if why is not None:
            raise ValueError(f"R=None (all of R^d) needs a positively homogeneous network, but {why}")
    if isinstance(budget, (bool, np.bool_)) or not (isinstance(budget, (int, float, np.integer, np.floating))
                                                    and math.isfinite(budget) and budget > 0):
        raise ValueError(f"budget must be a positive number of seconds; got {budget!r}")
    if max_evals is not None and (isinstance(max_evals, (bool, np.bool_))
                                  or not isinstance(max_evals, (int, np.integer)) or max_evals < 10):
        raise ValueError(f"max_evals must be an integer >= 10 or None; got {max_evals!r}")
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0; got {seed!r}")
    search = _Search(net, th, R, int(seed))
    eng = search.eng
    shares = _SHARES_PL if eng.pl is not None else _SHARES_SMOOTH
    if strategies is None:
        names = list(shares)
    else:
        names = [strategies] if isinstance(strategies, str) else list(strategies)
        for s in names:
            if s not in STRATEGIES:
                raise ValueError(f"unknown strategy {s!r}; allowed: {', '.join(STRATEGIES)}")
        if not names:
            raise ValueError("give at least one strategy")
        use_exact = use_exact and "exact_region" in names
        names = [s for s in names if s != "exact_region"]
        for s in names:
            if s not in shares:
                kind = "piecewise-linear" if eng.pl is not None else "non-piecewise-linear"
                raise ValueError(f"strategy {s!r} does not apply to the {kind} activation "
                                 f"{net.activation.name!r}; applicable: {', '.join(shares)}, exact_region")
    # the exact constant, and a point of the region attaining it
    exact, exact_point = None, None
    if _exact_is_cheap(net):
        try:
            exact, exact_point = _exact(net, th, R)
        except ValueError:
            pass
    affine = eng.m == 1 or (eng.pl is not None and not eng.pl.kinks)
    if affine:  # J is constant: a few points are all there is
        search.cur = "random"
        X = search.sample(np.random.default_rng([int(seed), 0]), 8)
        search.offer(X, eng.norms(X))
        names = []
    total = sum(shares.get(s, 0.0) for s in names) or 1.0
    for s in names:
        frac = shares.get(s, 0.0) / total
        search.cur = s
        st = search.by.setdefault(s, {"best": 0.0, "evaluations": 0})
        start = eng.evals
        eng.limit = start + (max(5, int(frac * max_evals)) if max_evals is not None else math.inf)
        eng.deadline = time.perf_counter() + (frac * budget if max_evals is None else 20 * budget)
        rng = np.random.default_rng([int(seed), STRATEGIES.index(s)])
        try:
            getattr(search, "s_" + s)(rng)
        except _Budget:
            pass
        st["evaluations"] = eng.evals - start
        if exact is not None and search.best_local >= exact * (1 - _EXACT_REACHED):
            break
    eng.limit, eng.deadline = math.inf, math.inf
    # pairs at the best distinct points
    cand_X, cand_s = search.pool_X[:8], search.pool_s[:8]
    if use_exact and exact_point is not None:
        search.cur = "exact_region"
        search.offer(exact_point[None, :], eng.norms(exact_point[None, :]))
        cand_X = np.concatenate([cand_X, exact_point[None, :]])
        cand_s = list(cand_s) + ["exact_region"]
    if not cand_X.shape[0]:  # every strategy ran out before evaluating anything
        cand_X = search.sample(np.random.default_rng([int(seed), 99]), 1)
        search.offer(cand_X, eng.norms(cand_X))
        cand_s = [search.cur]
    ratios, A, B = search.pairs(cand_X)
    j = int(np.argmax(ratios))
    x, x2 = A[j], B[j]
    value = float(_pair_ratios(net, th, x[None, :], x2[None, :], smooth=eng.pl is None)[0][0])
    return InputLipschitzSearch(value=value, x=x, x2=x2, strategy=cand_s[j], evaluations=int(eng.evals),
                                seconds=time.perf_counter() - t0, exact=exact, R=R,
                                jacobian_norm=float(search.best_local), by_strategy=search.by, seed=int(seed),
                                _net=net_key(net, th))


# ---------------------------------------------------------------------------
# exact constants by enumerating activation regions
# ---------------------------------------------------------------------------
def exact_input_lipschitz(net: "MLP", theta: Any, *, R: float | None = None) -> float:
    """The exact input-Lipschitz constant ``sup ||J(x)||_2`` by enumerating activation regions.

    Supported: depth-1 (affine) networks and affine activations (identity) at any
    depth and input dimension; one-hidden-layer networks (widths ``[d_0, d_1, d_m]``)
    with a piecewise-linear activation (relu, leaky_relu, any σ with linear pieces)
    and ``d_0 <= 2``.  The region arrangement is enumerated in exact rational
    arithmetic (every region is adjacent to a piece of some neuron's boundary
    line between two crossings, or is the whole domain).  The regions are ranked
    by their float64 spectral norms; the Jacobians of the best ones (all within
    a generous rounding margin of the top) are recomputed in interval arithmetic
    from the float weights and σ's exact slopes, and the returned float is the
    upper end of the enclosure of ``||J||_2``, rounded up: never below the true
    constant, and above it by about an ulp.  For ``d_0 = 2`` the cost grows like
    ``K^2 log K`` rational operations in the number ``K`` of boundary lines (about
    1 s at ``K = 128``, 5 s at ``K = 256``); :func:`input_lipschitz_lower_bound`
    uses it for ``K <= 128`` only.

    Parameters
    ----------
    net, theta : MLP, array of shape (P,)
    R : float, optional
        Restrict to the ball ``|x| <= R`` (regions meeting its interior); None:
        all of ``R^d`` (for a bias-free relu network the same constant).

    Returns
    -------
    float
        A rigorous upper bound of the constant, at most a few ulps above it
        (the exact value when it is a float, e.g. an integer).

    Raises
    ------
    ValueError
        For other architectures, naming what is supported, and for affine
        networks too large for the interval evaluation (more than 10^5
        interval operations).
    """
    _check_net(net)
    th = _theta(net, theta)
    return _exact(net, th, _check_R(R))[0]


def _exact_is_cheap(net: "MLP") -> bool:
    """Whether the search computes the exact constant on the side (about a second at most)."""
    pl = _piecewise_linear(net)
    if pl is not None and (net.depth == 1 or not pl.kinks):
        return _affine_iv_ops(net.widths) <= _EXACT_IV_OPS // 5   # affine: about a second at most
    if pl is None or net.depth != 2:
        return True                       # unsupported (refused at once)
    planes = net.widths[1] * len(pl.kinks)
    return planes <= (10_000 if net.d_in == 1 else 128)


def _exact(net: "MLP", th: np.ndarray, R: float | None) -> tuple[float, np.ndarray]:
    """(exact constant, a point inside a region attaining it; inside the ball when R is given)."""
    layers = net.unflatten(th)
    pl = _piecewise_linear(net)
    d = net.d_in
    if pl is not None and (net.depth == 1 or not pl.kinks):
        ops = _affine_iv_ops(net.widths)
        if ops > _EXACT_IV_OPS:
            raise ValueError(f"exact_input_lipschitz: the affine network {list(net.widths)} needs {ops} interval "
                             f"operations for a rigorous constant; at most {_EXACT_IV_OPS} are spent")
        s = _slope_intervals(net, pl)[0] if net.depth > 1 else None
        mats = [_iv_matrix(W) for W, _ in layers]
        if net.d_out <= d:                 # the cheaper order of the chain
            M = mats[-1]
            for W in reversed(mats[:-1]):
                M = (M * s).dot(W)
        else:
            M = mats[0]
            for W in mats[1:]:
                M = W.dot(M * s)
        return _float_up(_iv_norm_upper(M)), np.zeros(d)
    if pl is None or net.depth != 2 or d > 2:
        raise ValueError(
            f"exact_input_lipschitz supports depth-1 networks, affine activations (identity) and "
            f"one-hidden-layer networks [d_0, d_1, d_m] with a piecewise-linear activation (relu, leaky_relu) "
            f"and d_0 <= 2; got widths {list(net.widths)} with activation {net.activation.name!r}")
    (W1, b1), (W2, _) = layers
    slopes = np.array(pl.slopes)
    kinks = [Fraction(k) for k in pl.kinks]
    K = W1.shape[0]
    Wq = [[Fraction(float(w)) for w in row] for row in W1]
    bq = [Fraction(float(b)) for b in b1]
    R2 = None if R is None else Fraction(R) ** 2
    rows: list[np.ndarray] = []      # piece patterns of the cells found (with repeats)
    where: list[tuple] = []          # for each row: where its cell lives (to find a point inside it)
    if d == 1:
        bounds, pats = _segments(bq, [w[0] for w in Wq], kinks)
        for j in np.flatnonzero(pats[0] < 0):            # neurons without input weight
            pats[:, j] = _piece_side(bq[j], kinks, 0)
        Rf = None if R is None else Fraction(R)
        for (lo, hi), row in zip(bounds, pats):
            if Rf is not None and ((lo is not None and lo >= Rf) or (hi is not None and hi <= -Rf)):
                continue                                   # the interval misses (-R, R)
            rows.append(row[None, :])
            where.append(("interval", lo, hi))
    else:
        for k in range(K):
            n = Wq[k]
            nn = n[0] * n[0] + n[1] * n[1]
            if nn == 0:
                continue
            dvec = (-n[1], n[0])
            dd = dvec[0] * dvec[0] + dvec[1] * dvec[1]
            for kap in kinks:
                c = kap - bq[k]
                p = (c * n[0] / nn, c * n[1] / nn)         # foot of the line n·x = c, orthogonal to dvec
                pp = p[0] * p[0] + p[1] * p[1]
                if R2 is not None and pp >= R2:
                    continue                               # the line misses the open disk
                alpha = [Wq[j][0] * p[0] + Wq[j][1] * p[1] + bq[j] for j in range(K)]
                beta = [Wq[j][0] * dvec[0] + Wq[j][1] * dvec[1] for j in range(K)]
                bounds, pats = _segments(alpha, beta, kinks)
                keep = []
                for i, (lo, hi) in enumerate(bounds):
                    if R2 is not None:
                        tc = Fraction(0)                   # the point of the piece nearest the origin
                        if lo is not None and lo > tc:
                            tc = lo
                        if hi is not None and hi < tc:
                            tc = hi
                        if pp + tc * tc * dd >= R2:
                            continue                       # this piece of the line is outside the disk
                    keep.append(i)
                if not keep:
                    continue
                const = np.flatnonzero(pats[0] < 0)        # neurons constant along the line (k among them)
                for side in (1, -1):                       # the cells on either side of the line
                    P = pats[keep].copy()
                    for j in const:
                        dot = Wq[j][0] * n[0] + Wq[j][1] * n[1]
                        P[:, j] = _piece_side(alpha[j], kinks, side * dot)
                    rows.append(P)
                    where += [("line", k, kap, p, dvec, bounds[i][0], bounds[i][1], side) for i in keep]
        if not rows:  # no boundary meets the domain: one region
            rows.append(np.array([[_piece_side(bq[j], kinks, 1) for j in range(K)]], dtype=np.int8))
            where.append(("origin",))
    allp = np.concatenate(rows)
    uniq, first = np.unique(allp, axis=0, return_index=True)
    S = slopes[uniq.astype(np.int64)]                          # (n_cells, K)
    J = np.einsum("ok,pk,kd->pod", W2, S, W1)                 # (n_cells, d_m, d_0)
    vals = np.linalg.norm(J[:, 0, :], axis=1) if J.shape[1] == 1 else np.linalg.norm(J, 2, axis=(1, 2))
    # float ranking, then the rigorous norm of every cell that rounding could have ranked below the top:
    # |J - fl(J)| <= γ_{K+1} |W2| |S| |W1| entrywise, and the norm adds (d_m + d_0) ulps (generous factor 8)
    eps = np.finfo(float).eps
    A = np.einsum("ok,pk,kd->pod", np.abs(W2), np.abs(S), np.abs(W1))
    err = 8 * eps * ((K + 4) * np.linalg.norm(A, axis=(1, 2)) + (J.shape[1] + d) * vals) + 1e-300
    cand = np.flatnonzero(vals + err >= np.max(vals - err))
    ops = len(cand) * (J.shape[1] + 1) * K * d
    if ops > _EXACT_IV_OPS:
        raise ValueError(f"exact_input_lipschitz: {len(cand)} regions tie within rounding; their rigorous norms "
                         f"need {ops} interval operations, at most {_EXACT_IV_OPS} are spent")
    s_iv = np.array(_slope_intervals(net, pl), dtype=object)
    W1i, W2i = _iv_matrix(W1), _iv_matrix(W2)
    upper = [_iv_norm_upper(W2i.dot(s_iv[uniq[c].astype(np.int64)][:, None] * W1i)) for c in cand]
    best = max(range(len(cand)), key=lambda i: upper[i])
    j = int(cand[best])
    return _float_up(upper[best]), _cell_point(where[int(first[j])], W1, b1, pl.kinks, R)


#: bits of the interval arithmetic of the exact constant's rigorous upper end
_EXACT_IV_PREC = 160
#: most interval operations (10-60 µs each) spent on one exact constant
_EXACT_IV_OPS = 100_000


@functools.lru_cache(maxsize=1)
def _iv_context() -> Any:
    """A private mpmath interval context (the global ``mpmath.iv`` precision stays untouched)."""
    from mpmath.ctx_iv import MPIntervalContext

    ctx = MPIntervalContext()
    ctx.prec = _EXACT_IV_PREC
    return ctx


def _iv_matrix(A: np.ndarray) -> np.ndarray:
    """A float array as an object array of exact (degenerate) intervals."""
    iv = _iv_context()
    A = np.asarray(A, dtype=float)
    return np.array([iv.mpf(float(x)) for x in A.ravel()], dtype=object).reshape(A.shape)


def _affine_iv_ops(widths: Sequence[int]) -> int:
    """Interval operations of the rigorous norm of an affine network's matrix chain (cheaper order)."""
    w = list(widths)
    if w[-1] <= w[0]:    # from the output: d_m Σ d_{i+1} d_i over the layers below the last
        chain = w[-1] * sum(w[i + 1] * w[i] for i in range(len(w) - 2))
    else:                # from the input: d_0 Σ d_i d_{i-1} over the layers above the first
        chain = w[0] * sum(w[i] * w[i - 1] for i in range(2, len(w)))
    k = min(w[0], w[-1])
    return sum(a * b for a, b in zip(w, w[1:])) + chain + w[0] * w[-1] * k + (k ** 3 if k > 2 else 0)


def _slope_intervals(net: "MLP", pl: _PL) -> list:
    """σ's slopes on its pieces as intervals, from the expression itself (exact when rational)."""
    return _slopes_cached(net.activation, pl)


@functools.lru_cache(maxsize=64)
def _slopes_cached(act: Any, pl: _PL) -> list:
    import sympy as sp

    from symlip.activations.registry import T

    iv = _iv_context()
    d1 = act.derivative(1)
    k = pl.kinks
    mids = [k[0] - 1.0] + [(a + b) / 2 for a, b in zip(k, k[1:])] + [k[-1] + 1.0] if k else [0.0]
    out = []
    for t in mids:
        v = sp.piecewise_fold(d1.subs(T, sp.Rational(t)))
        if v.is_Rational:
            out.append(iv.mpf(int(v.p)) / int(v.q))
            continue
        x = sp.N(v, 60)
        if not (x.is_real and x.is_finite and x.is_Number):
            raise ValueError(f"exact_input_lipschitz: the slope of {act.name!r} at t = {t!r} is {v}, "
                             "not a finite real number")
        c = iv.mpf(str(x))
        out.append(c + iv.mpf([-1, 1]) * (abs(c).b * iv.mpf(10) ** -50))   # sympy's 60 digits, with margin
    return out


def _iv_norm_upper(J: np.ndarray) -> Any:
    """An upper end of ``||J||_2`` for an interval matrix ``J`` (an interval-context number).

    ``J^T J`` or ``J J^T`` (the smaller), then its top eigenvalue in closed form for
    size 1 or 2; for larger sizes the float eigenvalues ``λ̂`` and eigenvectors ``V``
    of its midpoint and Bauer-Fike: every eigenvalue of ``G`` lies within
    ``sqrt(1 + f) / (1 - f) · ||G V - V Λ̂||_F`` of some ``λ̂_i``, ``f = ||V^T V - I||_F < 1``.
    """
    iv = _iv_context()
    G = J.T.dot(J) if J.shape[1] <= J.shape[0] else J.dot(J.T)
    k = G.shape[0]
    if k == 1:
        lam = G[0, 0]
    elif k == 2:
        a, b, c = G[0, 0], G[0, 1], G[1, 1]
        h = (a - c) / 2
        lam = (a + c) / 2 + iv.sqrt(iv.mpf((h * h + b * b).b))
    else:
        mid = np.array([[float(x.mid) for x in row] for row in G])
        lam_hat, V = np.linalg.eigh(mid)
        Vi = _iv_matrix(V)
        Rm = G.dot(Vi) - Vi * _iv_matrix(lam_hat)[None, :]
        Fm = Vi.T.dot(Vi) - _iv_matrix(np.eye(k))
        r = iv.sqrt(iv.mpf(sum((iv.mpf(abs(x).b) ** 2 for x in Rm.ravel()), iv.mpf(0)).b))
        f = iv.sqrt(iv.mpf(sum((iv.mpf(abs(x).b) ** 2 for x in Fm.ravel()), iv.mpf(0)).b))
        if not f.b < 1:
            raise ValueError("exact_input_lipschitz: the float eigenvectors are too far from orthonormal")
        lam = iv.mpf(float(lam_hat.max())) + iv.sqrt(1 + f) / (1 - f) * r
    return iv.sqrt(iv.mpf(max(lam.b, 0))).b


def _float_up(x: Any) -> float:
    """The smallest float64 >= the interval-context number ``x``."""
    iv = _iv_context()
    f = float(x)
    while not iv.mpf(f) >= x:
        f = math.nextafter(f, math.inf)
    return f


def _piece_side(a: Fraction, kinks: list[Fraction], direction: Fraction | int) -> int:
    """The piece of a constant pre-activation ``a``; on a kink, the piece on the side where
    ``a`` moves with sign ``direction`` (0: either; the neuron then has no input weight)."""
    below = sum(1 for kap in kinks if kap < a)
    if any(kap == a for kap in kinks) and direction > 0:
        return below + 1
    return below


def _segments(alpha: list[Fraction], beta: list[Fraction], kinks: list[Fraction]) -> tuple[list, np.ndarray]:
    """The pieces of the line ``t`` on which every ``a_j(t) = alpha_j + t beta_j`` stays in one piece of σ.

    Returns the bounds ``[(lo, hi), ...]`` (None for ±inf; exact rationals) and the
    piece index of every neuron on each of them, an int8 array ``(n_pieces, K)``
    with ``-1`` for a neuron constant along the line (``beta_j = 0``).
    """
    K, nk = len(alpha), len(kinks)
    init = np.full(K, -1, dtype=np.int8)
    events = []
    for j, (a, b) in enumerate(zip(alpha, beta)):
        if b == 0:
            continue
        init[j] = 0 if b > 0 else nk
        for kap in kinks:
            events.append(((kap - a) / b, j, 1 if b > 0 else -1))
    events.sort(key=lambda e: e[0])                           # exact order (rationals)
    times: list[Fraction] = []
    delta = [np.zeros(K, dtype=np.int8)]
    for t, j, step in events:
        if not times or times[-1] != t:                       # concurrent crossings change together
            times.append(t)
            delta.append(np.zeros(K, dtype=np.int8))
        delta[-1][j] += step
    pats = (init[None, :] + np.cumsum(np.array(delta), axis=0, dtype=np.int16)).astype(np.int8)
    bounds = [(times[i - 1] if i > 0 else None, times[i] if i < len(times) else None)
              for i in range(len(times) + 1)]
    return bounds, pats


def _cell_point(where: tuple, W1: np.ndarray, b1: np.ndarray, kinks: Sequence[float],
                R: float | None) -> np.ndarray:
    """A float point strictly inside the cell described by ``where`` (and the ball)."""
    Rin = math.inf if R is None else R * (1 - quantities.INSIDE)
    if where[0] == "origin":
        return np.zeros(W1.shape[1])
    if where[0] == "interval":
        lo, hi = where[1], where[2]
        a = -math.inf if lo is None else float(lo)
        b = math.inf if hi is None else float(hi)
        a, b = max(a, -Rin), min(b, Rin)
        if math.isinf(a) and math.isinf(b):
            return np.zeros(1)
        if math.isinf(a):
            return np.array([b - max(1.0, abs(b))])
        if math.isinf(b):
            return np.array([a + max(1.0, abs(a))])
        return np.array([0.5 * (a + b)])
    _, k, kap, p, dvec, lo, hi, side = where
    p = np.array([float(p[0]), float(p[1])])
    dv = np.array([float(dvec[0]), float(dvec[1])])
    dd = float(dv @ dv)
    a = -math.inf if lo is None else float(lo)
    b = math.inf if hi is None else float(hi)
    if R is not None:
        h = math.sqrt(max(Rin * Rin - float(p @ p), 0.0) / dd)
        a, b = max(a, -h), min(b, h)
    if math.isinf(a) and math.isinf(b):
        tc = 0.0
    elif math.isinf(a):
        tc = b - max(1.0, abs(b))
    elif math.isinf(b):
        tc = a + max(1.0, abs(a))
    else:
        tc = 0.5 * (a + b)
    y = p + tc * dv
    nk = W1[k] / np.linalg.norm(W1[k])
    # distance to every other boundary line (lines parallel and equal to this one excluded)
    dist = []
    for j in range(W1.shape[0]):
        wn = float(np.linalg.norm(W1[j]))
        if wn == 0:
            continue
        for kp in kinks:
            gap = abs(float(W1[j] @ y + b1[j] - kp)) / wn
            if gap > 1e-13 * (1 + float(np.linalg.norm(y))):
                dist.append(gap)
    if R is not None:
        dist.append(Rin - float(np.linalg.norm(y)))
    if math.isinf(a) or math.isinf(b):
        dist.append(1.0)
    eps = 0.5 * min(dist) if dist else 1.0
    return y + side * eps * nk


# ---------------------------------------------------------------------------
# the audit
# ---------------------------------------------------------------------------
def _check_claimed(claimed: Any) -> float:
    if isinstance(claimed, (str, bytes, bool, np.bool_)):
        raise TypeError(f"claimed must be a number > 0; got {claimed!r}")
    try:
        c = float(claimed)
    except (TypeError, ValueError):
        raise TypeError(f"claimed must be a number > 0; got {claimed!r} of type {type(claimed).__name__}") from None
    if not (math.isfinite(c) and c > 0):
        raise ValueError(f"claimed must be a finite number > 0 (a Lipschitz constant); got {claimed!r}")
    return c


def audit_constant(net: "MLP", theta: Any, claimed: float, *, R: float | None, budget: float = 5.0, seed: int = 0,
                   tool: str = "value", search: InputLipschitzSearch | None = None, dps: int = 50,
                   max_evals: int | None = None) -> AuditVerdict:
    """Check a claimed input-Lipschitz constant of one network on ``|x| <= R`` (or ``R^d``).

    Parameters
    ----------
    net, theta : MLP, array of shape (P,)
        The network.
    claimed : float
        The claimed constant (finite, > 0).
    R : float or None
        Input radius; None for all of ``R^d`` (positively homogeneous networks only).
    budget, seed, max_evals
        Passed to :func:`input_lipschitz_lower_bound` (unless ``search`` is given).
    tool : str
        Who claims the constant (recorded in the verdict and the witness).
    search : InputLipschitzSearch, optional
        A search already run on this network and radius (several claims can share one).
    dps : int
        Digits of the mpmath confirmation (also run at ``dps + 30``).

    Returns
    -------
    AuditVerdict
        ``violated`` only when the pair's ratio exceeds ``claimed`` at both precisions.
    """
    from symlip.core.precision import check_dps
    from symlip.search.witness import activation_spec

    t0 = time.perf_counter()
    _check_net(net)
    th = _theta(net, theta)
    c = _check_claimed(claimed)
    R = _check_R(R)
    dps = check_dps(dps)
    if not isinstance(tool, str) or not tool.strip():
        raise ValueError(f"tool must be a non-empty string; got {tool!r}")
    if search is None:
        search = input_lipschitz_lower_bound(net, th, R=R, budget=budget, seed=seed, max_evals=max_evals)
    else:
        if not isinstance(search, InputLipschitzSearch):
            raise TypeError(f"search must be an InputLipschitzSearch; got {type(search).__name__}")
        if search._net is not None and search._net != net_key(net, th):
            raise ValueError("the search was run on a different network (architecture, activation or theta)")
        if search.R != R:
            raise ValueError(f"the search was run for R = {search.R!r}, the audit asks for R = {R!r}")
        if np.shape(search.x) != (net.d_in,) or np.shape(search.x2) != (net.d_in,):
            raise ValueError(f"the search's pair has shapes {np.shape(search.x)}, {np.shape(search.x2)}; "
                             f"the network needs inputs of dimension {net.d_in}")
        if R is None and (why := _homogeneity_problem(net, th)) is not None:
            raise ValueError(f"R=None (all of R^d) needs a positively homogeneous network, but {why}")
    L = float(search.value)
    ratio = L / c
    where = "in R^d" if R is None else f"with |x| <= {R!r}"
    found = f"found by {search.strategy} in {search.evaluations} evaluations"
    exact_note = "" if search.exact is None else f"; exact constant {search.exact:.12g} (regions enumerated)"
    witness, digits, vmp = None, 0, None

    def verdict(status: str, msg: str) -> AuditVerdict:
        return AuditVerdict(tool=tool, claimed=c, status=status, lower_bound=L, ratio=ratio, witness=witness,
                            message=msg, seconds=time.perf_counter() - t0, search=search,
                            confirmed_digits=digits, value_mp=vmp)

    if L > c:
        conf = confirm_pair(net, th, search.x, search.x2, c, R, dps, cache=search._mp)
        with mpmath.workdps(dps):
            vmp = mpmath.nstr(conf.value_mp, 30)
        digits = conf.confirmed_digits if conf.confirmed else 0
        witness = AuditWitness(tool=tool, claimed=c, R=R, widths=net.widths,
                               activation=activation_spec(net.activation), theta=th.copy(),
                               x=np.array(search.x, float), x2=np.array(search.x2, float), value=L, value_mp=vmp,
                               dps=dps, confirmed_digits=digits, strategy=search.strategy, seed=search.seed)
        if conf.confirmed:
            return verdict("violated", (
                f"violated: inputs x, x2 {where} have |f(x) - f(x2)| / |x - x2| = {vmp} > claimed {c!r} "
                f"(ratio {ratio:.6g}); confirmed with mpmath at {dps} and {dps + 30} digits "
                f"({digits} digits of the margin agree); {found}{exact_note}"))
        if search.exact is not None and search.exact <= c:   # rounding only: the rigorous constant is <= c
            witness, digits = None, 0
            return verdict("survived", (
                f"survived: the claimed {c!r} is at or above the exact constant's rigorous upper end "
                f"{search.exact!r} (the float64 pair ratio {L!r} exceeds it by rounding only); {found}"))
        why = ("; ".join(conf.problems) + "; ") if conf.problems else ""
        return verdict("inconclusive", (
            f"inconclusive: the float64 pair ratio {L!r} exceeds the claimed {c!r}, but at {dps} digits the "
            f"pair gives {vmp}; {why}the violation is not confirmed; {found}{exact_note}"))
    if search.exact is not None and search.exact > c * (1 + _EXACT_REACHED):
        return verdict("inconclusive", (
            f"inconclusive: the exact constant {search.exact!r} exceeds the claimed {c!r}, but the search's best "
            f"pair ratio is only {L!r}; {found}"))
    if search.jacobian_norm > c * (1 + _JAC_TOL):
        return verdict("inconclusive", (
            f"inconclusive: a Jacobian norm {search.jacobian_norm!r} > claimed {c!r} was seen, but the best pair "
            f"ratio is {L!r} (no pair confirms it); {found}"))
    return verdict("survived", (
        f"survived: no pair {where} with ratio above the claimed {c!r}; best lower bound {L:.12g} "
        f"({ratio:.6g} x claimed), {found}{exact_note}"))
