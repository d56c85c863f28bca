"""Feed-forward networks and their exact derivatives in the parameters (docs/theory.md §1).

An :class:`MLP` with widths ``d_0, ..., d_m`` and activation ``σ`` computes

    z_0 = x,   a_i = W_i z_{i-1} + b_i,   z_i = σ(a_i)  (0 < i < m),   f(x; θ) = a_m,

with the flat parameter vector ``θ = (W_1 row-major, b_1, ..., W_m, b_m)`` in ``R^P``.

Two independent evaluation paths are provided:

* **float64**, analytic and batched over samples (no finite differences and no
  per-sample Python loops): forward pass, per-sample gradient ``∇_θ f`` by
  back-propagation, per-sample Hessian-vector product ``(∇²_θ f) v`` by
  forward-over-reverse differentiation (Pearlmutter's R-operator), the input
  Jacobian, and the squared loss ``ℓ = mean_n ½ (f(x_n) - y_n)²`` with its
  gradient and Hessian-vector product;
* **mpmath** (``*_mp`` methods, ``dps`` decimal digits), the same mathematics
  written with plain loops over ``mpmath.mpf`` and sharing no code with the
  float64 path, used to cross-check it and to confirm witnesses to many digits
  (:mod:`symlip.models.network_mp`).

Derivative formulas (``δ_i = ∂f/∂a_i``, ``s_i = σ'(a_i)``, ``u_i = σ''(a_i)``)::

    δ_m = 1,   δ_i = s_i ⊙ W_{i+1}^T δ_{i+1}
    ∂f/∂W_i = δ_i z_{i-1}^T,   ∂f/∂b_i = δ_i

and, for a direction ``v = (V_1, c_1, ..., V_m, c_m)`` (``R{·}`` = directional
derivative along ``v``)::

    R{z_0} = 0,   R{a_i} = V_i z_{i-1} + W_i R{z_{i-1}} + c_i,   R{z_i} = s_i ⊙ R{a_i}
    R{δ_m} = 0,   R{δ_i} = u_i ⊙ R{a_i} ⊙ W_{i+1}^T δ_{i+1}
                           + s_i ⊙ (V_{i+1}^T δ_{i+1} + W_{i+1}^T R{δ_{i+1}})
    R{∂f/∂W_i} = R{δ_i} z_{i-1}^T + δ_i R{z_{i-1}}^T,   R{∂f/∂b_i} = R{δ_i}.

Shapes: a batch ``X`` has shape ``(n, d_0)``; a single input of shape ``(d_0,)``
is also accepted and then the leading sample axis is dropped from every result
(``f`` gives a scalar, ``grad`` a ``(P,)`` vector, ...).
"""
from __future__ import annotations

import functools
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import sympy as sp

from symlip.activations.registry import Activation, activation as _make_activation
from symlip.models.network_mp import mp_f, mp_grad, mp_hvp, mp_jac_x

__all__ = ["MLP", "MAX_PARAMS", "check_mlp", "real_array", "float_path"]

Layers = list[tuple[np.ndarray, np.ndarray]]

#: the largest parameter count ``P`` an :class:`MLP` accepts (8 GB per float64 vector θ)
MAX_PARAMS = 10**9


def float_path(method: Callable) -> Callable:
    """Silence numpy's overflow warnings: the float64 path checks its own results
    and raises ``FloatingPointError`` instead of returning inf/NaN."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with np.errstate(over="ignore", invalid="ignore"):
            return method(*args, **kwargs)

    return wrapper


# per-sample outer products whose entries stay below this cannot overflow in a sum of two
_BIG = float(np.finfo(np.float64).max) / 4.0


def real_array(a: Any, name: str) -> np.ndarray:
    """``a`` as a float64 array, or a TypeError naming ``name`` (strings, complex, non-numeric)."""
    if isinstance(a, (str, bytes)):
        raise TypeError(f"{name} must be a real numeric array, got the string {a!r}")
    try:
        arr = np.asarray(a)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a real numeric array ({exc})") from exc
    if arr.dtype.kind == "c":
        raise TypeError(f"{name} must be real, got a complex array (dtype {arr.dtype})")
    if arr.dtype.kind not in "iuf" and arr.dtype != object:
        raise TypeError(f"{name} must be a real numeric array, got dtype {arr.dtype}")
    try:
        return np.asarray(arr, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a real numeric array ({exc})") from exc


@dataclass(frozen=True)
class MLP:
    """A fully connected network with an affine output layer (docs/theory.md §1).

    Parameters
    ----------
    widths : sequence of int
        ``(d_0, ..., d_m)``, at least two integers ``>= 1``; ``m = len(widths) - 1``
        is the depth (number of affine layers).
    activation : str, sympy.Expr or Activation
        The componentwise activation ``σ``: a registry name such as ``"tanh"``,
        an expression in ``t``, or an :class:`~symlip.activations.registry.Activation`.

    Notes
    -----
    ``grad``, ``hvp``, ``loss``, ``loss_grad`` and ``loss_hvp`` (and their
    ``_mp`` versions) need a scalar output ``d_m = 1``; ``f`` and ``jac_x``
    also handle vector outputs.
    """

    widths: tuple[int, ...]
    activation: Activation
    _slices: tuple[tuple[slice, slice], ...] = field(
        init=False, repr=False, compare=False, hash=False
    )
    _n_params: int = field(init=False, repr=False, compare=False, hash=False)

    # ------------------------------------------------------------------
    # construction
    # ------------------------------------------------------------------
    def __post_init__(self) -> None:
        widths = self.widths
        if isinstance(widths, (str, bytes)) or not isinstance(widths, (Sequence, np.ndarray)):
            raise TypeError(
                f"widths must be a sequence of integers (d_0, ..., d_m), got {widths!r}"
            )
        ws = []
        for k, w in enumerate(widths):
            if isinstance(w, (bool, np.bool_)) or not isinstance(w, (int, np.integer)):
                raise TypeError(
                    f"widths[{k}] = {w!r} is not an integer; widths must be integers >= 1"
                )
            if w < 1:
                raise ValueError(f"widths[{k}] = {w!r} must be an integer >= 1")
            ws.append(int(w))
        if len(ws) < 2:
            raise ValueError(
                f"widths = {tuple(ws)!r} must have at least 2 entries (d_0, ..., d_m with m >= 1)"
            )
        act = self.activation
        if not isinstance(act, Activation):
            if not isinstance(act, (str, sp.Expr)):
                raise TypeError(
                    f"activation must be a name, a sympy expression or an Activation, "
                    f"got {act!r} of type {type(act).__name__}"
                )
            act = _make_activation(act)
        slices = []
        off = 0
        for i in range(1, len(ws)):
            nw = ws[i] * ws[i - 1]
            sw = slice(off, off + nw)
            off += nw
            sb = slice(off, off + ws[i])
            off += ws[i]
            slices.append((sw, sb))
        if off > MAX_PARAMS:
            raise ValueError(f"widths {ws} give P = {off} parameters; at most MAX_PARAMS = {MAX_PARAMS} "
                             "are supported")
        object.__setattr__(self, "widths", tuple(ws))
        object.__setattr__(self, "activation", act)
        object.__setattr__(self, "_slices", tuple(slices))
        object.__setattr__(self, "_n_params", off)

    # ------------------------------------------------------------------
    # layout
    # ------------------------------------------------------------------
    @property
    def depth(self) -> int:
        """``m``, the number of affine layers."""
        return len(self.widths) - 1

    @property
    def n_params(self) -> int:
        """``P = Σ_i d_i (d_{i-1} + 1)``."""
        return self._n_params

    @property
    def d_in(self) -> int:
        """Input dimension ``d_0``."""
        return self.widths[0]

    @property
    def d_out(self) -> int:
        """Output dimension ``d_m``."""
        return self.widths[-1]

    @property
    def layer_slices(self) -> tuple[tuple[slice, slice], ...]:
        """``((slice_W_1, slice_b_1), ..., (slice_W_m, slice_b_m))`` into θ."""
        return self._slices

    def unflatten(self, theta: Any) -> Layers:
        """Split θ into ``[(W_1, b_1), ..., (W_m, b_m)]`` (views, ``W_i`` of shape ``(d_i, d_{i-1})``).

        Float input gives float64 arrays; an object array (e.g. of ``mpf``) keeps its dtype.
        """
        th = self._theta(theta, allow_object=True)
        return self._split(th)

    def flatten(self, layers: Sequence[tuple[Any, Any]]) -> np.ndarray:
        """Inverse of :meth:`unflatten`: ``[(W_i, b_i)]`` -> θ of shape ``(P,)``."""
        if isinstance(layers, (str, bytes)) or not isinstance(layers, Sequence):
            raise TypeError(f"layers must be a sequence of (W_i, b_i) pairs, got {type(layers).__name__}")
        if len(layers) != self.depth:
            raise ValueError(
                f"layers has {len(layers)} entries, expected depth m = {self.depth} "
                f"(W_i, b_i) pairs for widths {self.widths}"
            )
        parts: list[np.ndarray] = []
        is_obj = False
        for i, pair in enumerate(layers, start=1):
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise ValueError(f"layers[{i - 1}] must be a pair (W_{i}, b_{i}), got {pair!r}")
            W, b = (np.asarray(x) for x in pair)
            want_w = (self.widths[i], self.widths[i - 1])
            if W.shape != want_w:
                raise ValueError(f"W_{i} has shape {W.shape}, expected {want_w}")
            if b.shape != (self.widths[i],):
                raise ValueError(f"b_{i} has shape {b.shape}, expected ({self.widths[i]},)")
            is_obj = is_obj or W.dtype == object or b.dtype == object
            parts += [W.reshape(-1), b]
        if is_obj:
            return np.concatenate([p.astype(object) for p in parts])
        theta = np.concatenate([p.astype(np.float64) for p in parts])
        return self._theta(theta)

    def init(self, seed: int | None = 0, scale: float = 1.0) -> np.ndarray:
        """Random parameters: ``W_i ~ N(0, scale²/d_{i-1})``, ``b_i ~ N(0, 0.01 scale²)``.

        Reproducible: draws from ``numpy.random.default_rng(seed)`` (``seed``: an integer >= 0,
        None for fresh entropy, or a numpy ``Generator``/``SeedSequence``).
        """
        if not (isinstance(scale, (int, float, np.integer, np.floating))
                and not isinstance(scale, bool) and math.isfinite(scale) and scale >= 0):
            raise ValueError(f"scale must be a finite real number >= 0, got {scale!r}")
        if not (seed is None or isinstance(seed, (np.random.Generator, np.random.SeedSequence))
                or (isinstance(seed, (int, np.integer)) and not isinstance(seed, (bool, np.bool_)) and seed >= 0)):
            raise ValueError(f"seed must be an integer >= 0 or None, got {seed!r}")
        rng = np.random.default_rng(seed)
        theta = np.empty(self.n_params)
        for i, (sw, sb) in enumerate(self._slices, start=1):
            theta[sw] = rng.normal(0.0, scale / math.sqrt(self.widths[i - 1]), sw.stop - sw.start)
            theta[sb] = rng.normal(0.0, 0.1 * scale, sb.stop - sb.start)
        return theta

    # ------------------------------------------------------------------
    # float64 path
    # ------------------------------------------------------------------
    @float_path
    def f(self, theta: Any, X: Any) -> np.ndarray:
        """Network output ``f(x_n; θ)``: shape ``(n,)`` if ``d_m = 1`` else ``(n, d_m)``."""
        layers = self._split(self._theta(theta))
        X2, single = self._inputs(X)
        sig = self.activation.numpy(0)
        z = X2
        for i, (W, b) in enumerate(layers, start=1):
            a = z @ W.T
            a += b
            self._finite(a, f"pre-activation a_{i}")
            if i < self.depth:
                z = sig(a)
                self._finite(z, f"activation z_{i}")
        out = a[:, 0] if self.d_out == 1 else a
        return out[0] if single else out

    @float_path
    def grad(self, theta: Any, X: Any) -> np.ndarray:
        """Per-sample gradient ``∇_θ f(x_n; θ)``, shape ``(n, P)`` (back-propagation).

        Block ``W_i`` of row ``n`` is ``δ_i z_{i-1}^T``, block ``b_i`` is ``δ_i``;
        the blocks are written straight into the preallocated output.
        """
        check_mlp(self, "grad")
        layers = self._split(self._theta(theta))
        X2, single = self._inputs(X)
        zs, s1, _ = self._forward(layers, X2, order=1)
        m = self.depth
        # per layer: (slices, δ_i or None for δ_m = 1, z_{i-1}); then the blocks
        tasks: list[tuple] = []
        delta: np.ndarray | None = None
        for i in range(m, 0, -1):
            tasks.append((self._slices[i - 1], delta, zs[i - 1]))
            if delta is not None:
                self._product_safe(delta, zs[i - 1], "gradient")
            if i > 1:
                W = layers[i - 1][0]
                delta = s1[i - 2] * (W[0] if delta is None else delta @ W)
                self._finite(delta, f"back-propagated δ_{i - 1}")

        def write(out: np.ndarray, lo: int, hi: int) -> None:
            for (sw, sb), d, z in tasks:
                if d is None:
                    out[lo:hi, sw] = z[lo:hi]
                    out[lo:hi, sb] = 1.0
                else:
                    blk = self._block(out[lo:hi], sw, d.shape[1], z.shape[1])
                    np.multiply(d[lo:hi, :, None], z[lo:hi, None, :], out=blk)
                    out[lo:hi, sb] = d[lo:hi]

        out = _fill_rows(X2.shape[0], self.n_params, write)
        return out[0] if single else out

    @float_path
    def hvp(self, theta: Any, X: Any, v: Any) -> np.ndarray:
        """Per-sample Hessian-vector product ``(∇²_θ f(x_n; θ)) v``, shape ``(n, P)``.

        Forward-over-reverse (R-operator), exact up to rounding: block ``W_i`` of
        row ``n`` is ``R{δ_i} z_{i-1}^T + δ_i R{z_{i-1}}^T``, block ``b_i`` is ``R{δ_i}``.
        """
        check_mlp(self, "hvp")
        layers = self._split(self._theta(theta))
        vl = self._split(self._vector(v, "v"))
        X2, single = self._inputs(X)
        zs, s1, s2, ra, rz = self._forward_r(layers, vl, X2)
        m = self.depth
        # output layer (δ_m = 1, R{δ_m} = 0): W block R{z_{m-1}} (0 for m = 1), b block 0
        tasks: list[tuple] = [("last", self._slices[m - 1], rz[m - 1])]
        delta: np.ndarray | None = None
        rdelta: np.ndarray | None = None
        for i in range(m, 1, -1):
            W, V = layers[i - 1][0], vl[i - 1][0]
            # g = W_i^T δ_i, h = V_i^T δ_i + W_i^T R{δ_i}   (as row vectors per sample)
            if delta is None:
                g = W[0]
                h = V[0]
            else:
                g = delta @ W
                h = delta @ V
                h += rdelta @ W
            k = i - 2  # index of layer i-1 in s1/s2/ra
            new_delta = s1[k] * g
            new_rdelta = s2[k] * ra[k]
            new_rdelta *= g
            new_rdelta += s1[k] * h
            delta, rdelta = new_delta, new_rdelta
            self._finite(delta, f"back-propagated δ_{i - 1}")
            self._finite(rdelta, f"back-propagated R{{δ_{i - 1}}}")
            what = "Hessian-vector product"
            self._product_safe(rdelta, zs[i - 2], what)
            if i - 1 == 1:  # R{z_0} = 0
                tasks.append(("first", self._slices[0], rdelta, zs[0]))
            else:
                self._product_safe(delta, rz[i - 2], what)
                tasks.append(("mid", self._slices[i - 2], rdelta,
                              np.stack((rdelta, delta), axis=2),
                              np.stack((zs[i - 2], rz[i - 2]), axis=1)))

        def write(out: np.ndarray, lo: int, hi: int) -> None:
            for task in tasks:
                kind, (sw, sb) = task[0], task[1]
                if kind == "last":
                    out[lo:hi, sw] = 0.0 if task[2] is None else task[2][lo:hi]
                    out[lo:hi, sb] = 0.0
                    continue
                rd = task[2]
                if kind == "first":
                    z = task[3]
                    blk = self._block(out[lo:hi], sw, rd.shape[1], z.shape[1])
                    np.multiply(rd[lo:hi, :, None], z[lo:hi, None, :], out=blk)
                else:  # [R{δ}, δ] @ [z; R{z}] = R{δ} z^T + δ R{z}^T
                    L, R = task[3], task[4]
                    blk = self._block(out[lo:hi], sw, L.shape[1], R.shape[2])
                    np.matmul(L[lo:hi], R[lo:hi], out=blk)
                out[lo:hi, sb] = rd[lo:hi]

        out = _fill_rows(X2.shape[0], self.n_params, write)
        return out[0] if single else out

    @float_path
    def jac_x(self, theta: Any, X: Any) -> np.ndarray:
        """Input Jacobian ``∂f/∂x``: ``(n, d_0)`` if ``d_m = 1`` else ``(n, d_m, d_0)``."""
        layers = self._split(self._theta(theta))
        X2, single = self._inputs(X)
        zs, s1, _ = self._forward(layers, X2, order=1)
        m = self.depth
        Wm = layers[m - 1][0]
        n = X2.shape[0]
        # J has shape (n, d_m, d_{i-1}) = ∂f/∂z_{i-1}
        J = np.broadcast_to(Wm, (n,) + Wm.shape)
        for i in range(m - 1, 0, -1):
            W = layers[i - 1][0]
            J = (J * s1[i - 1][:, None, :]) @ W
            self._finite(J, f"input Jacobian through layer {i}")
        J = np.array(J, dtype=np.float64, copy=True) if not J.flags.writeable else J
        out = J[:, 0, :] if self.d_out == 1 else J
        return out[0] if single else out

    @float_path
    def loss(self, theta: Any, X: Any, y: Any) -> float:
        """Squared loss ``ℓ(θ) = (1/n) Σ_n ½ (f(x_n; θ) - y_n)²`` (docs/theory.md §3, U3)."""
        check_mlp(self, "loss")
        X2, _ = self._inputs(X)
        yv = self._targets(y, X2.shape[0])
        r = self.f(theta, X2) - yv
        value = float(0.5 * np.mean(r * r))
        if not math.isfinite(value):
            raise FloatingPointError(
                "float64 overflow in the loss; use smaller parameters / inputs / targets"
            )
        return value

    @float_path
    def loss_grad(self, theta: Any, X: Any, y: Any) -> np.ndarray:
        """``∇_θ ℓ = (1/n) Σ_n (f(x_n) - y_n) ∇_θ f(x_n)``, shape ``(P,)`` (:meth:`vjp` with ``r/n``)."""
        check_mlp(self, "loss_grad")
        X2, _ = self._inputs(X)
        n = X2.shape[0]
        yv = self._targets(y, n)
        return self.vjp(theta, X2, (self.f(theta, X2) - yv) / n)

    @float_path
    def vjp(self, theta: Any, X: Any, w: Any) -> np.ndarray:
        """``Σ_n w_n ∇_θ f(x_n; θ)``, shape ``(P,)``: back-propagation with ``δ_m = w``
        summed over the batch (no ``(n, P)`` array)."""
        check_mlp(self, "vjp")
        layers = self._split(self._theta(theta))
        X2, _ = self._inputs(X)
        wv = real_array(w, "w").reshape(-1) if np.ndim(w) <= 1 else real_array(w, "w")
        if wv.shape != (X2.shape[0],) or not np.isfinite(wv).all():
            raise ValueError(f"w must be {X2.shape[0]} finite weights (one per input); got shape {np.shape(w)}")
        zs, s1, _ = self._forward(layers, X2, order=1)
        delta = wv[:, None]  # (n, 1)
        out = np.empty(self.n_params)
        for i in range(self.depth, 0, -1):
            sw, sb = self._slices[i - 1]
            out[sw] = (delta.T @ zs[i - 1]).reshape(-1)
            out[sb] = delta.sum(axis=0)
            if i > 1:
                delta = s1[i - 2] * (delta @ layers[i - 1][0])
        self._finite(out, "vector-Jacobian product")
        return out

    @float_path
    def loss_hvp(self, theta: Any, X: Any, y: Any, v: Any) -> np.ndarray:
        """``(∇²_θ ℓ) v = (1/n) Σ_n [ ∇f (∇f·v) + (f - y_n) (∇²f) v ]``, shape ``(P,)``.

        One R-operator pass of the loss back-propagation: ``δ_m = r/n`` and
        ``R{δ_m} = R{f}/n`` (Gauss-Newton term), summed over the batch.
        """
        check_mlp(self, "loss_hvp")
        layers = self._split(self._theta(theta))
        vl = self._split(self._vector(v, "v"))
        X2, _ = self._inputs(X)
        n = X2.shape[0]
        yv = self._targets(y, n)
        zs, s1, s2, ra, rz = self._forward_r(layers, vl, X2)
        m = self.depth
        W, b = layers[-1]
        V, c = vl[-1]
        r = zs[-1] @ W[0] + b[0] - yv
        rf = zs[-1] @ V[0] + c[0]
        if m > 1:
            rf = rf + rz[-1] @ W[0]
        delta = (r / n)[:, None]
        rdelta = (rf / n)[:, None]
        out = np.empty(self.n_params)
        for i in range(m, 0, -1):
            sw, sb = self._slices[i - 1]
            gw = rdelta.T @ zs[i - 1]
            if i > 1:
                gw += delta.T @ rz[i - 1]
            out[sw] = gw.reshape(-1)
            out[sb] = rdelta.sum(axis=0)
            if i > 1:
                Wi, Vi = layers[i - 1][0], vl[i - 1][0]
                k = i - 2
                g = delta @ Wi
                h = delta @ Vi + rdelta @ Wi
                delta, rdelta = s1[k] * g, s2[k] * ra[k] * g + s1[k] * h
        self._finite(out, "loss Hessian-vector product")
        return out

    # ------------------------------------------------------------------
    # mpmath path (independent of the float64 code above; symlip.models.network_mp)
    # ------------------------------------------------------------------
    def f_mp(self, theta: Any, X: Any, dps: int = 50) -> Any:
        """:meth:`f` in mpmath at ``dps`` digits; object array of ``mpf`` (same shape)."""
        return mp_f(self, theta, X, dps)

    def grad_mp(self, theta: Any, X: Any, dps: int = 50) -> Any:
        """:meth:`grad` in mpmath at ``dps`` digits; object array ``(n, P)`` of ``mpf``."""
        check_mlp(self, "grad_mp")
        return mp_grad(self, theta, X, dps)

    def hvp_mp(self, theta: Any, X: Any, v: Any, dps: int = 50) -> Any:
        """:meth:`hvp` in mpmath at ``dps`` digits; object array ``(n, P)`` of ``mpf``."""
        check_mlp(self, "hvp_mp")
        return mp_hvp(self, theta, X, v, dps)

    def jac_x_mp(self, theta: Any, X: Any, dps: int = 50) -> Any:
        """:meth:`jac_x` in mpmath at ``dps`` digits; object array of ``mpf`` (same shape)."""
        return mp_jac_x(self, theta, X, dps)

    # ------------------------------------------------------------------
    # private: float64 helpers
    # ------------------------------------------------------------------
    def _split(self, th: np.ndarray) -> Layers:
        out = []
        for i, (sw, sb) in enumerate(self._slices, start=1):
            out.append((th[sw].reshape(self.widths[i], self.widths[i - 1]), th[sb]))
        return out

    def _forward(self, layers: Layers, X: np.ndarray, order: int):
        """Hidden states ``z_0..z_{m-1}`` and ``σ'(a_i)`` (and ``σ''``) for ``0 < i < m``."""
        act = self.activation
        sig = act.numpy(0)
        d1 = act.numpy(1)
        d2 = act.numpy(2) if order >= 2 else None
        zs, s1, s2 = [X], [], []
        for i in range(1, self.depth):
            W, b = layers[i - 1]
            a = zs[-1] @ W.T
            a += b
            self._finite(a, f"pre-activation a_{i}")
            z = sig(a)
            self._finite(z, f"activation z_{i}")
            zs.append(z)
            s1.append(d1(a))
            self._finite(s1[-1], f"σ'(a_{i})")
            if d2 is not None:
                s2.append(d2(a))
                self._finite(s2[-1], f"σ''(a_{i})")
        return zs, s1, s2

    def _forward_r(self, layers: Layers, vl: Layers, X: np.ndarray):
        """Forward pass with directional derivatives R{a_i}, R{z_i} for ``0 < i < m``.

        Returns ``zs`` (z_0..z_{m-1}), ``s1``, ``s2``, ``ra`` (R{a_i}) for hidden
        layers ``i = 1..m-1`` and ``rz`` (R{z_0} = None, R{z_1}, ..., R{z_{m-1}}).
        """
        zs, s1, s2 = self._forward(layers, X, order=2)
        ra: list[np.ndarray] = []
        rz: list[Any] = [None]
        for i in range(1, self.depth):
            W = layers[i - 1][0]
            V, c = vl[i - 1]
            r = zs[i - 1] @ V.T
            if rz[-1] is not None:
                r += rz[-1] @ W.T
            r += c
            self._finite(r, f"directional derivative R{{a_{i}}}")
            ra.append(r)
            rz.append(s1[i - 1] * r)
        return zs, s1, s2, ra, rz

    @staticmethod
    def _block(out: np.ndarray, sw: slice, rows: int, cols: int) -> np.ndarray:
        """View of the ``W`` block of a per-sample ``(n, P)`` array as ``(n, rows, cols)``."""
        return out[:, sw].reshape(out.shape[0], rows, cols, copy=False)

    @staticmethod
    def _product_safe(d: np.ndarray, z: np.ndarray, what: str) -> None:
        """Raise instead of overflowing in the per-sample outer products ``d ⊗ z``."""
        md = float(np.max(np.abs(d))) if d.size else 0.0
        mz = float(np.max(np.abs(z))) if z.size else 0.0
        if md * mz > _BIG:
            raise FloatingPointError(
                f"float64 overflow in the {what} (|δ| up to {md:.3g}, |z| up to {mz:.3g}); "
                "use the *_mp methods or smaller parameters / inputs"
            )

    @staticmethod
    def _finite(a: np.ndarray, what: str) -> None:
        if not np.isfinite(a).all():
            raise FloatingPointError(
                f"non-finite value (overflow or NaN) in {what} of the float64 evaluation; "
                "use the *_mp methods or smaller parameters / inputs"
            )

    # ------------------------------------------------------------------
    # validation
    # ------------------------------------------------------------------
    def check_theta(self, theta: Any) -> np.ndarray:
        """``theta`` as a finite float vector of length ``P`` (else ``ValueError`` naming its shape)."""
        return self._theta(theta)

    def check_data(self, theta: Any, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(theta, X, y)`` checked: a float vector of length ``P``, inputs of shape
        ``(n, d_0)`` (a single input ``(d_0,)`` becomes one row) and ``n`` finite targets."""
        X2, _ = self._inputs(X)
        return self._theta(theta), X2, self._targets(y, X2.shape[0])

    def _shape_hint(self) -> str:
        return f"for widths {self.widths}"


    def _theta(self, theta: Any, allow_object: bool = False) -> np.ndarray:
        if allow_object and isinstance(theta, np.ndarray) and theta.dtype == object:
            th = theta
            if th.shape != (self.n_params,):
                raise ValueError(
                    f"theta has shape {th.shape}, expected (P,) = ({self.n_params},) "
                    f"{self._shape_hint()}"
                )
            return th
        return self._vector(theta, "theta")

    def _vector(self, v: Any, name: str) -> np.ndarray:
        arr = real_array(v, name)
        if arr.shape != (self.n_params,):
            raise ValueError(
                f"{name} has shape {arr.shape}, expected (P,) = ({self.n_params},) "
                f"{self._shape_hint()}"
            )
        if not np.isfinite(arr).all():
            k = int(np.flatnonzero(~np.isfinite(arr))[0])
            raise ValueError(f"{name} must be finite; {name}[{k}] = {float(arr[k])!r}")
        return arr

    def _inputs(self, X: Any) -> tuple[np.ndarray, bool]:
        arr = real_array(X, "X")
        d0 = self.d_in
        if arr.ndim == 1 and arr.shape == (d0,):
            arr, single = arr[None, :], True
        elif arr.ndim == 2 and arr.shape[1] == d0 and arr.shape[0] >= 1:
            single = False
        else:
            raise ValueError(
                f"X has shape {arr.shape}, expected (n, d_0) = (n, {d0}) with n >= 1 "
                f"or a single input ({d0},) {self._shape_hint()}"
            )
        if not np.isfinite(arr).all():
            raise ValueError("X must be finite; it has a NaN or infinite entry")
        return arr, single

    @staticmethod
    def _targets(y: Any, n: int) -> np.ndarray:
        arr = real_array(y, "y")
        if arr.ndim == 0 and n == 1:
            arr = arr.reshape(1)
        if arr.shape != (n,):
            raise ValueError(f"y has shape {arr.shape}, expected (n,) = ({n},) (one target per input)")
        if not np.isfinite(arr).all():
            raise ValueError("y must be finite; it has a NaN or infinite entry")
        return arr

def check_mlp(net: Any, what: str = "this", scalar: bool = True) -> None:
    """Check that ``net`` is an :class:`MLP` and, with ``scalar``, that its output is scalar.

    Parameters
    ----------
    net : object
        The network to check.
    what : str
        What needs the scalar output (e.g. ``"grad"``, ``"the squared loss"``), named
        in the message.
    scalar : bool
        Also require ``d_m = 1``.

    Raises
    ------
    TypeError
        ``net`` is not an :class:`MLP`.
    ValueError
        ``scalar`` and ``d_m != 1``.
    """
    if not isinstance(net, MLP):
        raise TypeError(f"net must be a symlip MLP; got {type(net).__name__}")
    if scalar and net.d_out != 1:
        raise ValueError(f"{what} needs a scalar output (d_m = 1), but widths = {net.widths} has d_m = {net.d_out}")


# ---------------------------------------------------------------------------
# writing large per-sample outputs
# ---------------------------------------------------------------------------
#: outputs with at least this many entries are written by several threads
_PARALLEL_MIN_ENTRIES = 1 << 20
_pool_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None


def _reset_pool_after_fork() -> None:
    # a forked child inherits the executor object but not its threads
    global _pool, _pool_lock
    _pool = None
    _pool_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_pool_after_fork)


def _n_workers() -> int:
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - non-Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, 8))


def _get_pool() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=_n_workers(), thread_name_prefix="symlip-rows")
        return _pool


def _fill_rows(n: int, P: int, write: Callable[[np.ndarray, int, int], None]) -> np.ndarray:
    """Allocate an ``(n, P)`` float64 array and fill it with ``write(out, lo, hi)``.

    The writes are memory-bound numpy kernels that release the GIL, so large
    outputs are split into contiguous row chunks written concurrently (each
    chunk is a whole number of samples; the results do not depend on the split).
    """
    out = np.empty((n, P))
    workers = _n_workers()
    if workers == 1 or n < 2 or n * P < _PARALLEL_MIN_ENTRIES:
        write(out, 0, n)
        return out
    k = min(workers, n)
    bounds = [n * j // k for j in range(k + 1)]
    futures = [_get_pool().submit(write, out, bounds[j], bounds[j + 1]) for j in range(1, k)]
    write(out, bounds[0], bounds[1])
    for fut in futures:
        fut.result()
    return out
