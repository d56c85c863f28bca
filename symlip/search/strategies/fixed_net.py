"""Batched float64 evaluation of one fixed network for the input-Lipschitz audit.

:class:`FixedNet` gives input Jacobians ``J(x)`` (also of a smoothed surrogate
of a piecewise-linear network), their spectral norm and its gradient, and for
piecewise-linear networks the distance along rays to the next activation-region
boundary; it is also the audit search's evaluation meter.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
from scipy.special import expit

from symlip.search.exact_pl import piecewise_linear
from symlip.search.strategies.base import Meter

if TYPE_CHECKING:  # pragma: no cover
    from symlip.models.network import MLP

__all__ = ["FixedNet", "exit_distance", "unit_rows", "clip_rows"]


class FixedNet(Meter):
    """Batched float64 evaluation of one network (independent of ``MLP.jac_x``;
    cross-checked against it in the tests)."""

    def __init__(self, net: "MLP", theta: np.ndarray) -> None:
        self.net = net
        self.theta = theta
        self.layers = [(np.array(W, dtype=float), np.array(b, dtype=float)) for W, b in net.unflatten(theta)]
        self.m = net.depth
        self.d = net.d_in
        self.k = net.d_out
        self.pl = piecewise_linear(net)
        act = net.activation
        self._s0 = act.numpy(0)
        self._s1 = act.numpy(1)
        self._s2 = None if self.pl is not None else act.numpy(2)
        if self.pl is not None:
            self.kinks = np.array(self.pl.kinks, dtype=float)
            self.slopes = np.array(self.pl.slopes, dtype=float)
        super().__init__(spend_all=True)

    # -- bookkeeping ----------------------------------------------------------
    @property
    def batch(self) -> int:
        """Points per batch: fewer for expensive networks, so the time budget is kept."""
        cost = self.k * sum(W.size for W, _ in self.layers) + 1
        return int(min(128, max(8, 2e7 // cost)))

    # -- activation -----------------------------------------------------------
    def _act(self, a: np.ndarray, tau: float | None, order: int) -> np.ndarray:
        """σ^{(order)}(a), or the smoothed surrogate's at temperature ``tau``."""
        if self.pl is None:
            return (self._s0, self._s1, self._s2)[order](a)
        kinks, slopes = self.kinks, self.slopes
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
                for kap in self.kinks:
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
        return np.concatenate([np.searchsorted(self.kinks, a, side="right") for a in pre], axis=1)


def exit_distance(X: np.ndarray, D: np.ndarray, radius: float) -> np.ndarray:
    """Distance ``t >= 0`` along unit directions ``D`` from ``X`` (inside the ball) to the sphere."""
    xd = np.sum(X * D, axis=1)
    disc = xd * xd - np.sum(X * X, axis=1) + radius * radius
    return np.maximum(-xd + np.sqrt(np.maximum(disc, 0.0)), 0.0)


def unit_rows(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    g = rng.standard_normal((n, d))
    nrm = np.linalg.norm(g, axis=1, keepdims=True)
    return g / np.where(nrm > 0, nrm, 1.0)


def clip_rows(X: np.ndarray, radius: float) -> np.ndarray:
    n = np.linalg.norm(X, axis=1, keepdims=True)
    return np.where(n > radius, X * (radius / np.maximum(n, 1e-300)), X)

