"""The parameter-space context of the falsifier (docs/theory.md §2, §3).

:class:`ParameterContext` is the problem ``falsify`` searches: a claim on a
network over a parameter region.  It owns the region's geometry (random,
aligned and boundary points, projection strictly inside), the *local*
quantity at a point with the direction realising it (``|∇_θ f|``, the top
eigenvalue of ``∇²_θ f`` or ``∇²_θ ℓ`` by Lanczos on Hessian-vector
products, ``||∇_x f||``), pairs built around a point (along a direction, or
straddling a kink of a piecewise activation) and their float64/mpmath
rating, the evaluation meter and the incumbent candidates.  The strategies
(:mod:`symlip.search.strategies`) only propose points through it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import mpmath
import numpy as np

from symlip.search import quantities
from symlip.search.claims import Claim
from symlip.search.strategies.base import Meter, SearchContext

if TYPE_CHECKING:  # pragma: no cover
    from symlip.models.network import MLP
    from symlip.models.region import Region

__all__ = ["Candidate", "ParameterContext", "pw_ratio", "shrunk"]


@dataclass
class Candidate:
    """A candidate: a point (θ, X, y) with its local estimate and direction, or a pair."""

    est: float                      # estimated value of the quantity (local or pair)
    theta: np.ndarray
    X: np.ndarray                   # (n, d0)
    y: np.ndarray | None
    strategy: str
    direction: np.ndarray | None = None   # in θ (or in x for lip_input)
    theta2: np.ndarray | None = None      # a ready pair
    x2: np.ndarray | None = None
    origin: str = ""                      # the strategy whose point a pair was built around

    @property
    def credit(self) -> str:
        return f"{self.strategy} (around {self.origin})" if self.origin and self.origin != self.strategy \
            else self.strategy


#: up to this many parameters the top Hessian eigenvalue comes from the dense Hessian (P Hessian-vector
#: products, then eigh): exact and reproducible; above it, Lanczos (eigsh) from a fixed start.
DENSE_EIG_MAX = 128


class ParameterContext(SearchContext):
    """A claim on ``net`` over ``region`` (inputs ``|x| <= R``, targets ``|y| <= Y``).

    Attributes
    ----------
    cands : list of Candidate
        The incumbents (at most 400, cut to the best 200 when full).
    stats : dict
        Per strategy: best ratio, evaluations, seconds.
    meter : Meter
        Evaluations (``falsify``'s convention: the refused evaluation counts).
    """

    tolerated = (FloatingPointError,)  # float64 overflow at an extreme point stops one strategy

    def __init__(self, claim: Claim, net: "MLP", region: "Region", R: float, Y: float | None) -> None:
        self.claim, self.net, self.region, self.R, self.Y = claim, net, region, R, Y
        self.q = claim.quantity
        self.P, self.d0 = net.n_params, net.d_in
        self.n = claim.bound.n_samples if self.q == "pointwise" else 1
        self.uses_y = self.q == "lip_loss_grad" or (self.q == "pointwise" and claim.bound.targets)
        self.piecewise = net.activation.is_piecewise
        self.meter = Meter()
        self.cands: list[Candidate] = []
        self.stats: dict[str, dict[str, float]] = {}
        om, be = region.layer_bounds(net)
        self.omega, self.beta = np.array(om, float), np.array(be, float)
        scale = region.radius if region.kind == "ball" else float(np.sqrt(np.sum(self.omega ** 2 + self.beta ** 2)))
        self.theta_scale = scale if scale > 0 else 1.0
        self.shrunk = shrunk(region)
        # pointwise claims have no separate bound; others: the float bound, once
        self.bound = math.nan if self.q == "pointwise" else claim.bound_value(net, region, R=R, Y=Y)
        self._eig_v0: np.ndarray | None = None
        self._kinks: list[float] | None = None

    # -- the engine's hooks -------------------------------------------------
    def begin(self, name: str) -> None:
        self.stats[name] = {"best_ratio": 0.0, "evaluations": 0, "seconds": 0.0}

    def end(self, name: str, evaluations: int, seconds: float) -> None:
        self.stats[name]["evaluations"] = evaluations
        self.stats[name]["seconds"] = seconds

    @property
    def evals(self) -> int:
        return self.meter.evals

    # -- bookkeeping ------------------------------------------------------
    def ratio(self, value: float, bound: float | None = None) -> float:
        b = self.bound if bound is None else bound
        return value / b if b > 0 else (math.inf if value > 0 else 0.0)

    def tick(self, k: int = 1) -> None:
        self.meter.tick(k)

    def record(self, cand: Candidate) -> None:
        st = self.stats[cand.strategy]
        r = self.cand_ratio(cand)
        if r > st["best_ratio"]:
            st["best_ratio"] = r
        self.cands.append(cand)
        if len(self.cands) > 400:
            self.cands.sort(key=lambda c: -self.cand_ratio(c))
            del self.cands[200:]

    def cand_ratio(self, c: Candidate) -> float:
        if self.q == "pointwise":
            return c.est  # already lhs / rhs
        return self.ratio(c.est)

    # -- points -----------------------------------------------------------
    def random_point(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        net = self.net
        if rng.random() < 0.5:
            theta = self.aligned_theta(rng)
        else:
            theta = self.region.sample(net, rng)
            if rng.random() < 0.5:  # push to the boundary, where the sup usually is
                theta = self.to_boundary(theta)
        X = self.random_inputs(rng, theta)
        y = self.random_targets(rng)
        return theta, X, y

    def random_inputs(self, rng: np.random.Generator, theta: np.ndarray | None = None) -> np.ndarray:
        from symlip.models.region import sample_inputs

        X = sample_inputs(self.d0, self.R, self.n, rng, surface=rng.random() < 0.7)
        if theta is not None and rng.random() < 0.3:  # x along the top right singular vector of W_1
            W1 = self.net.unflatten(theta)[0][0]
            _, _, Vt = np.linalg.svd(W1)
            X[0] = Vt[0] * self.R * (1 if rng.random() < 0.5 else -1)
        return self.clip_inputs(X)

    def random_targets(self, rng: np.random.Generator) -> np.ndarray | None:
        if not self.uses_y:
            return None
        y = self.Y * np.where(rng.random(self.n) < 0.5, -1.0, 1.0)
        if rng.random() < 0.3:
            y = y * rng.random(self.n)
        return y

    def aligned_theta(self, rng: np.random.Generator) -> np.ndarray:
        """A rank-one chain ``W_i = ω_i u_i u_{i-1}ᵀ`` with biases along ``u_i``:
        the configuration in which the norm bounds of docs/theory.md §3 multiply up."""
        net = self.net
        if self.region.kind == "ball":
            d = rng.standard_normal(self.P)
            return self.region.center + self.region.radius * d / np.linalg.norm(d)
        u = rng.standard_normal(net.widths[0])
        u /= np.linalg.norm(u)
        layers = []
        for i in range(1, net.depth + 1):
            v = rng.standard_normal(net.widths[i])
            v /= np.linalg.norm(v)
            if rng.random() < 0.5:
                v = np.abs(v)
            W = self.omega[i - 1] * np.outer(v, u)
            b = self.beta[i - 1] * (v if rng.random() < 0.6 else -v) * rng.choice([1.0, rng.random()])
            layers.append((W, b))
            u = v
        return self.project(net.flatten(layers))

    def to_boundary(self, theta: np.ndarray) -> np.ndarray:
        if self.region.kind == "ball":
            d = theta - self.region.center
            n = np.linalg.norm(d)
            return theta if n == 0 else self.region.center + d * (self.region.radius / n)
        layers = []
        for (W, b), o, be in zip(self.net.unflatten(theta), self.omega, self.beta):
            s = np.linalg.norm(W, 2) if W.size else 0.0
            nb = np.linalg.norm(b)
            layers.append((W * (o / s) if s > 0 else W, b * (be / nb) if nb > 0 else b))
        return self.net.flatten(layers)

    def inward(self, theta: np.ndarray, step: float) -> np.ndarray:
        """``theta`` moved towards the region's interior by enough that a pair
        ``theta ± step/2 · d`` (``|d| = 1``) stays inside without projection."""
        if self.region.kind == "ball":
            k = min(1.0, step / self.region.radius) if self.region.radius > 0 else 0.0
            return self.region.center + (1 - k) * (theta - self.region.center)
        pos = np.concatenate([self.omega, self.beta])
        pos = pos[pos > 0]
        k = min(1.0, step / float(pos.min())) if pos.size else 0.0
        return (1 - k) * theta

    def project(self, theta: np.ndarray) -> np.ndarray:
        return self.shrunk.project(self.net, theta)

    def clip_inputs(self, X: np.ndarray) -> np.ndarray:
        lim = self.R * (1 - quantities.INSIDE)
        n = np.linalg.norm(X, axis=1, keepdims=True)
        return np.where(n > lim, X * (lim / np.maximum(n, 1e-300)), X)

    # -- local quantity -----------------------------------------------------
    def local(self, theta: np.ndarray, X: np.ndarray, y: np.ndarray | None) -> tuple[float, np.ndarray | None]:
        """The local quantity at a point and the direction realising it."""
        self.tick()
        net, q = self.net, self.q
        if q == "lip_f":
            g = net.grad(theta, X[0])
            n = float(np.linalg.norm(g))
            return n, (g / n if n > 0 else None)
        if q == "lip_input":
            J = net.jac_x(theta, X[0])
            if J.ndim == 1:
                n = float(np.linalg.norm(J))
                return n, (J / n if n > 0 else None)
            _, s, Vt = np.linalg.svd(J)
            return float(s[0]), Vt[0]
        if q in ("lip_grad", "lip_loss_grad"):
            return self.top_eig(theta, X, y)
        lhs, rhs = self.claim.bound.fn(net, theta, X, y if y is not None else np.zeros(self.n), None)
        return pw_ratio(float(lhs), float(rhs)), None

    def hvp_op(self, theta: np.ndarray, X: np.ndarray, y: np.ndarray | None) -> Callable[[np.ndarray], np.ndarray]:
        """``v ↦`` per-sample Hessian-vector products ``(n, P)`` of f, or of the
        one-sample loss ``∇f ∇fᵀ v + (f - y) ∇²f v`` (∇f and f computed once)."""
        net = self.net
        if self.q == "lip_grad":
            return lambda v: net.hvp(theta, X, v)
        g = net.grad(theta, X)
        r = (net.f(theta, X) - y)[:, None]
        return lambda v: g * (g @ v)[:, None] + r * net.hvp(theta, X, v)

    def hvp(self, theta: np.ndarray, X: np.ndarray, y: np.ndarray | None, v: np.ndarray) -> np.ndarray:
        """One product of :meth:`hvp_op`."""
        return self.hvp_op(theta, X, y)(v)

    def top_eig(self, theta: np.ndarray, X: np.ndarray, y: np.ndarray | None) -> tuple[float, np.ndarray]:
        P = self.P
        x1 = X[:1]
        y1 = None if y is None else y[:1]
        hv = self.hvp_op(theta, x1, y1)
        if P <= DENSE_EIG_MAX:
            dense = getattr(self.net, "hessian", None) if self.q == "lip_grad" else None
            if dense is not None:  # a network with a batched dense Hessian (CDNN: one ODE pass)
                H = dense(theta, x1[0])
            else:
                H = np.empty((P, P))
                eye = np.eye(P)
                for j in range(P):
                    H[:, j] = hv(eye[j])[0]
                H = 0.5 * (H + H.T)
            w, V = np.linalg.eigh(H)
            k = int(np.argmax(np.abs(w)))
            return float(abs(w[k])), V[:, k] * (1 if w[k] >= 0 else -1)
        from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, eigsh

        op = LinearOperator((P, P), matvec=lambda v: hv(np.ravel(v))[0], dtype=float)
        v0 = self._eig_v0 if self._eig_v0 is not None else np.random.default_rng(0).standard_normal(P)
        try:
            w, V = eigsh(op, k=1, which="LM", v0=v0, tol=1e-6, maxiter=300, ncv=min(P, 20))
        except ArpackNoConvergence as exc:
            if exc.eigenvalues.size == 0:
                raise FloatingPointError("Lanczos did not converge") from None
            w, V = exc.eigenvalues, exc.eigenvectors
        v = V[:, 0]
        self._eig_v0 = v
        return float(abs(w[0])), v * (1 if w[0] >= 0 else -1)

    def local_grad(self, theta: np.ndarray, X: np.ndarray, y: np.ndarray | None,
                   direction: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Ascent directions of the local quantity in θ and in x."""
        net, q = self.net, self.q
        hx = 1e-6 * max(self.R, 1.0)
        x = X[0]
        Xp = np.concatenate([x + hx * np.eye(self.d0), x - hx * np.eye(self.d0)])
        self.tick(2)
        if q == "lip_f":
            g_theta = net.hvp(theta, x, direction)           # ∇|∇f| = H ∇f / |∇f|
            G = net.grad(theta, Xp)
            vals = np.linalg.norm(G, axis=1)
            g_x = (vals[: self.d0] - vals[self.d0:]) / (2 * hx)
        elif q == "lip_input":
            eps = 1e-6 * max(self.R, 1.0)
            g_theta = (net.grad(theta, x + eps * direction) - net.grad(theta, x - eps * direction)) / (2 * eps)
            J = net.jac_x(theta, Xp)
            vals = np.linalg.norm(J, axis=1)
            g_x = (vals[: self.d0] - vals[self.d0:]) / (2 * hx)
        else:
            v = direction
            eps = 1e-4 * self.theta_scale / max(1.0, math.sqrt(self.P))
            x1 = X[:1]
            y1 = None if y is None else y[:1]
            hp = self.hvp(theta + eps * v, x1, y1, v)[0]
            hm = self.hvp(theta - eps * v, x1, y1, v)[0]
            g_theta = (hp - hm) / (2 * eps)                   # D³[v, v, ·]
            yy = None if y is None else np.repeat(y[:1], 2 * self.d0)
            Hv = self.hvp(theta, Xp, yy, v)
            vals = np.abs(Hv @ v)
            g_x = (vals[: self.d0] - vals[self.d0:]) / (2 * hx)
        return g_theta, g_x

    # -- strategies ---------------------------------------------------------
    def make_pair(self, theta: np.ndarray, X: np.ndarray, y: np.ndarray | None, d: np.ndarray,
                  h: float) -> tuple:
        """A pair a distance ~``h`` (relative to the region's scale) apart along ``d``,
        both points strictly inside the region."""
        if self.q == "lip_input":
            th = self.project(theta)
            step = h * max(self.R, 1.0)
            if self.R == 0:  # R = 0: the global statement in x (no input ball), pairs around 0
                x0 = self.clip_inputs(X)
                return (th, None, x0 - 0.5 * step * d[None, :], x0 + 0.5 * step * d[None, :], y)
            # both inputs inside the ball |x| <= R: the centre moved inwards by half the step
            lim = self.R * (1 - quantities.INSIDE)
            step = min(step, lim)
            x0 = self.clip_inputs(X)
            n0 = float(np.linalg.norm(x0[0]))
            if n0 > lim - 0.5 * step:
                x0 = x0 * ((lim - 0.5 * step) / n0)
            a = self.clip_inputs(x0 - 0.5 * step * d[None, :])
            b = self.clip_inputs(x0 + 0.5 * step * d[None, :])
            return (th, None, a, b, y)
        step = h * self.theta_scale
        th = self.inward(self.project(theta), step)
        a = self.project(th - 0.5 * step * d)
        b = self.project(th + 0.5 * step * d)
        return (a, b, self.clip_inputs(X), None, y)

    def kink_units(self, theta: np.ndarray, X: np.ndarray) -> list[tuple[float, int, int, float]]:
        """``(gap, layer, unit, offset)`` of every hidden unit at the first input, nearest a kink first
        (``offset``: its pre-activation minus the nearest kink)."""
        net = self.net
        layers = net.unflatten(self.project(theta))
        z = X[0]
        units = []
        for i, (W, b) in enumerate(layers[:-1]):
            a = W @ z + b
            for j in range(a.size):
                off = min((a[j] - t0 for t0 in self.kinks), key=abs, default=None)
                if off is not None:
                    units.append((abs(off), i, j, off))
            z = net.activation.numpy(0)(a)
        return sorted(units)

    def kink_pair(self, theta: np.ndarray, X: np.ndarray, y: np.ndarray | None, h: float,
                  rng: np.random.Generator, rank: int = 0) -> tuple | None:
        """A pair whose hidden unit ``rank``-th nearest a kink of σ (0: the nearest) sits just on
        either side of it, moved there by its bias."""
        units = self.kink_units(theta, X)
        if rank >= len(units):
            return None
        _, i, j, off = units[rank]
        sl = self.net.layer_slices[i][1]
        idx = sl.start + j
        th_a, th_b = self.project(theta).copy(), self.project(theta).copy()
        th_a[idx] -= off + h
        th_b[idx] -= off - h
        th_a, th_b = self.project(th_a), self.project(th_b)
        return (th_a, th_b, self.clip_inputs(X), None, y)

    @property
    def kinks(self) -> list[float]:
        if self._kinks is None:
            self._kinks = list(self.net.activation.kinks)
        return self._kinks

    def rate_pair(self, pair: tuple, strategy: str, origin: str = "") -> float:
        """The pair's value in float64 (mpmath for very close pairs); records it."""
        th, th2, X, x2, y = pair
        self.tick()
        w = {"theta": th, "theta2": th2, "x": X, "x2": x2, "y": y}
        close = (quantities.lost_digits(X, x2) if self.q == "lip_input" else quantities.lost_digits(th, th2)) > 6
        if close:
            with mpmath.workdps(30):
                val = float(quantities.pair_value_mp(self.claim, self.net, w, 30))
        else:
            val = quantities.pair_value(self.claim, self.net, w)
        self.record(Candidate(val, th, X, y, strategy, None, th2, x2, origin))
        return val

    def box_entry_scale(self) -> np.ndarray:
        s = np.empty(self.P)
        for (sw, sb), o, b, (r, c) in zip(self.net.layer_slices, self.omega, self.beta,
                                           zip(self.net.widths[1:], self.net.widths[:-1])):
            s[sw] = o / math.sqrt(min(r, c)) * 1.5
            s[sb] = b / math.sqrt(r) * 1.5
        return s


    def safe_value(self, w: dict) -> float:
        """A witness's value: float64, or mpmath at 30 digits for a close pair
        (more than 3 digits cancel) and where float64 overflows."""
        if self.q != "pointwise":
            a, b = (w["x"], w["x2"]) if self.q == "lip_input" else (w["theta"], w["theta2"])
            if quantities.lost_digits(a, b) > 3:
                return self._value_mp30(w)
        try:
            return quantities.pair_value(self.claim, self.net, w)
        except FloatingPointError:
            return self._value_mp30(w)

    def _value_mp30(self, w: dict) -> float:
        with mpmath.workdps(30):
            return float(quantities.pair_value_mp(self.claim, self.net, w, 30))


def pw_ratio(lhs: float, rhs: float) -> float:
    """``lhs / rhs`` for ``rhs > 0``; otherwise ``1 + (lhs - rhs) / max(|lhs|, |rhs|)``
    (so the ratio exceeds 1 exactly when ``lhs > rhs``)."""
    if rhs > 0:
        return lhs / rhs
    return 1.0 + (lhs - rhs) / max(abs(lhs), abs(rhs), 1e-300)


def shrunk(region: "Region") -> "Region":
    from symlip.models.region import Region

    k = 1 - quantities.INSIDE
    if region.kind == "ball":
        return Region.ball(region.center, region.radius * k)
    scale = (lambda v: tuple(x * k for x in v) if isinstance(v, tuple) else v * k)  # noqa: E731
    return Region.box(scale(region.omega), scale(region.beta))
