"""Parameter regions ("local" in local Lipschitz bounds), docs/theory.md §2.

A :class:`Region` is a convex set of parameter vectors θ of an :class:`~symlip.MLP`:

* ``Region.box(omega, beta)``: ``||W_i||_2 <= omega_i`` and ``|b_i| <= beta_i``;
* ``Region.ball(center, radius)``: ``|θ - center| <= radius``, which lies in
  the box ``omega_i = ||W°_i||_2 + radius``, ``beta_i = |b°_i| + radius``.

The layer layout comes from the network, so every method that needs it takes
``net``.  Inputs live in the Euclidean ball ``|x| <= R``: :func:`sample_inputs`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Sequence

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from symlip.models.network import MLP

__all__ = ["Region", "sample_inputs"]


def _real_numbers(name: str, value: object, what: str) -> np.ndarray:
    """``value`` as a float array, or a TypeError naming ``name`` (strings, booleans, complex, other objects)."""
    try:
        raw = None if isinstance(value, (str, bytes)) or _has_bool(value) else np.asarray(value)
    except (TypeError, ValueError):
        raw = None
    if raw is None or raw.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be {what}; got {value!r}")
    return raw.astype(float)


def _has_bool(value: object) -> bool:
    """Whether ``value`` is a boolean or a (nested) list/tuple holding one (numpy upcasts them silently)."""
    if isinstance(value, (bool, np.bool_)):
        return True
    return isinstance(value, (list, tuple)) and any(_has_bool(v) for v in value)


def _nonneg_vector(name: str, value: float | Sequence[float]) -> tuple[float, ...] | float:
    arr = _real_numbers(name, value, "a non-negative number or a sequence of them, one per layer")
    if arr.ndim > 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-negative number or a sequence of them, one per layer; got {value!r}")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f"{name} must be finite and >= 0; got {value!r}")
    return float(arr) if arr.ndim == 0 else tuple(float(v) for v in arr)


def _nonneg_number(name: str, value: object) -> float:
    """A finite real number >= 0 (not a bool or a string), else TypeError/ValueError naming ``name``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number (finite and >= 0); got {value!r}")
    v = float(value)
    if not (math.isfinite(v) and v >= 0):
        raise ValueError(f"{name} must be finite and >= 0; got {value!r}")
    return v


@dataclass(frozen=True, eq=False)
class Region:
    """A convex parameter region (docs/theory.md §2); build with :meth:`box` or :meth:`ball`."""

    kind: Literal["box", "ball"]
    omega: tuple[float, ...] | float | None = None
    beta: tuple[float, ...] | float | None = None
    center: np.ndarray | None = None
    radius: float | None = None

    # -- construction -------------------------------------------------------
    @classmethod
    def box(cls, omega: float | Sequence[float], beta: float | Sequence[float]) -> "Region":
        """``{θ : ||W_i||_2 <= omega_i, |b_i| <= beta_i}``; scalars apply to every layer."""
        return cls(kind="box", omega=_nonneg_vector("omega", omega), beta=_nonneg_vector("beta", beta))

    @classmethod
    def ball(cls, center: Sequence[float] | np.ndarray, radius: float) -> "Region":
        """``{θ : |θ - center| <= radius}`` (Euclidean norm of the flat vector)."""
        c = _real_numbers("ball center", center, "a finite flat parameter vector of real numbers").copy()
        if c.ndim != 1 or c.size == 0 or not np.all(np.isfinite(c)):
            raise ValueError(f"ball center must be a finite flat parameter vector; got shape {c.shape}"
                             + ("" if c.ndim != 1 or c.size == 0 else " with non-finite entries"))
        r = _nonneg_number("ball radius", radius)
        c.setflags(write=False)
        return cls(kind="ball", center=c, radius=r)

    def __repr__(self) -> str:
        if self.kind == "box":
            return f"Region.box(omega={self.omega}, beta={self.beta})"
        return f"Region.ball(center=<{self.center.size} params>, radius={self.radius})"

    def describe(self) -> str:
        """A short human-readable description."""
        if self.kind == "box":
            return f"box ω={_fmt(self.omega)} β={_fmt(self.beta)}"
        return f"ball r={self.radius:g} around |θ°|={np.linalg.norm(self.center):.4g}"

    # -- per-layer norms ----------------------------------------------------
    def check_net(self, net: "MLP") -> None:
        if self.kind == "ball" and self.center.size != net.n_params:
            raise ValueError(
                f"ball center has {self.center.size} parameters but the network "
                f"{list(net.widths)} has {net.n_params}"
            )
        if self.kind == "box":
            for name, val in (("omega", self.omega), ("beta", self.beta)):
                if isinstance(val, tuple) and len(val) != net.depth:
                    raise ValueError(
                        f"box {name} has {len(val)} entries but the network {list(net.widths)} "
                        f"has depth {net.depth}; give one per layer or a single number"
                    )

    def layer_bounds(self, net: "MLP") -> tuple[tuple[float, ...], tuple[float, ...]]:
        """Per-layer ``(omega_i, beta_i)`` such that the region lies in that box (docs/theory.md §2)."""
        self.check_net(net)
        if self.kind == "box":
            m = net.depth
            om = self.omega if isinstance(self.omega, tuple) else (self.omega,) * m
            be = self.beta if isinstance(self.beta, tuple) else (self.beta,) * m
            return om, be
        om, be = [], []
        for W, b in net.unflatten(self.center):
            om.append(_spectral_norm(W) + self.radius)
            be.append(float(np.linalg.norm(b)) + self.radius)
        return tuple(om), tuple(be)

    # -- membership, projection, sampling ----------------------------------
    def contains(self, net: "MLP", theta: np.ndarray, tol: float = 1e-12) -> bool:
        """Whether ``theta`` lies in the region (relative tolerance ``tol``, a finite number >= 0)."""
        tol = _nonneg_number("tol", tol)
        self.check_net(net)
        theta = _as_theta(net, theta)
        if self.kind == "ball":
            return float(np.linalg.norm(theta - self.center)) <= self.radius * (1 + tol) + tol
        om, be = self.layer_bounds(net)
        for (W, b), o, bb in zip(net.unflatten(theta), om, be):
            if _spectral_norm(W) > o * (1 + tol) + tol or float(np.linalg.norm(b)) > bb * (1 + tol) + tol:
                return False
        return True

    def project(self, net: "MLP", theta: np.ndarray) -> np.ndarray:
        """The Euclidean (Frobenius) projection of ``theta`` onto the region.

        Box: singular values of each ``W_i`` clipped at ``omega_i``, each ``b_i``
        scaled into its ball.  Ball: radial scaling towards the center.
        """
        self.check_net(net)
        theta = _as_theta(net, theta)
        if self.kind == "ball":
            diff = theta - self.center
            n = float(np.linalg.norm(diff))
            return theta.copy() if n <= self.radius else self.center + diff * (self.radius / n)
        om, be = self.layer_bounds(net)
        layers = []
        for (W, b), o, bb in zip(net.unflatten(theta), om, be):
            U, s, Vt = np.linalg.svd(W, full_matrices=False)
            W2 = (U * np.minimum(s, o)) @ Vt if s.size and s[0] > o else W.copy()
            nb = float(np.linalg.norm(b))
            b2 = b * (bb / nb) if nb > bb else b.copy()
            layers.append((W2, b2))
        return net.flatten(layers)

    def sample(self, net: "MLP", rng: np.random.Generator | int | None = None) -> np.ndarray:
        """One random point of the region (ball: uniform; box: random directions,
        norms uniform in ``[0, omega_i]``, ``[0, beta_i]``)."""
        self.check_net(net)
        rng = np.random.default_rng(rng)
        if self.kind == "ball":
            v = rng.standard_normal(net.n_params)
            v *= self.radius * rng.random() ** (1.0 / net.n_params) / max(np.linalg.norm(v), 1e-300)
            return self.center + v
        om, be = self.layer_bounds(net)
        layers = []
        for (d_out, d_in), o, bb in zip(zip(net.widths[1:], net.widths[:-1]), om, be):
            W = rng.standard_normal((d_out, d_in))
            W *= o * rng.random() / max(_spectral_norm(W), 1e-300)
            b = rng.standard_normal(d_out)
            b *= bb * rng.random() / max(float(np.linalg.norm(b)), 1e-300)
            layers.append((W, b))
        return net.flatten(layers)


def sample_inputs(dim: int, R: float, n: int, rng: np.random.Generator | int | None = None,
                  surface: bool = False) -> np.ndarray:
    """``n`` points uniform in the ball ``|x| <= R`` of ``R^dim`` (on the sphere if ``surface``)."""
    for name, v, low in (("input dimension dim", dim, 1), ("number of points n", n, 0)):
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) or v < low:
            raise ValueError(f"{name} must be an integer >= {low}; got {v!r}")
    R = _nonneg_number("input radius R", R)
    rng = np.random.default_rng(rng)
    X = rng.standard_normal((n, dim))
    X /= np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-300)
    scale = np.ones((n, 1)) if surface else rng.random((n, 1)) ** (1.0 / dim)
    return X * (R * scale)


def _spectral_norm(W: np.ndarray) -> float:
    if W.size == 0:
        return 0.0
    if min(W.shape) == 1:
        return float(np.linalg.norm(W))
    return float(np.linalg.norm(W, 2))


def _as_theta(net: "MLP", theta: np.ndarray) -> np.ndarray:
    th = np.asarray(theta, dtype=float)
    if th.shape != (net.n_params,):
        raise ValueError(f"theta must have shape ({net.n_params},) for widths {list(net.widths)}; got {th.shape}")
    return th


def _fmt(v: tuple[float, ...] | float) -> str:
    if isinstance(v, tuple):
        return "(" + ", ".join(f"{x:g}" for x in v) + ")"
    return f"{v:g}"


def layer_bounds_mp(net: "MLP", region: Region, dps: int) -> tuple[list, list]:
    """:meth:`Region.layer_bounds` at ``dps`` digits (``mpf``): a ball's center norms
    by an mpmath SVD of its exact float blocks, so rounding cannot shrink the box."""
    import mpmath

    from symlip.core.precision import norm_mp

    if region.kind == "box":
        om, be = region.layer_bounds(net)
        return [mpmath.mpf(o) for o in om], [mpmath.mpf(b) for b in be]
    region.check_net(net)
    om, be = [], []
    with mpmath.workdps(dps):
        rad = mpmath.mpf(region.radius)
        for W, b in net.unflatten(region.center):
            if min(W.shape, default=0) <= 1:
                s = norm_mp(W)
            else:
                s = max(mpmath.svd_r(mpmath.matrix(W.tolist()), compute_uv=False))
            om.append(s + rad)
            be.append(norm_mp(b) + rad)
    return om, be
