"""Continuously deep networks: a controlled ODE and its Euler residual network (docs/theory.md §5).

A :class:`CDNN` is the network

    dz/dt = σ(W(t) z + b(t)),   z(0) = x ∈ R^d,   t ∈ [0, T],      f(x; θ) = c·z(T) + e,

with ``W(t) = W_k``, ``b(t) = b_k`` constant on the ``k``-th of ``N`` equal steps of
length ``h = T/N`` (``k = 1..N``).  ``scheme="ode"`` solves the ODE exactly (up to the
tolerances of :func:`scipy.integrate.solve_ivp`); ``scheme="euler"`` is its explicit
Euler discretisation, the residual network ``z_{k+1} = z_k + h σ(W_k z_k + b_k)``.

Parameter coordinates (read this first)
---------------------------------------
docs/theory.md §5 measures parameter distances in the L2 path norm

    ||Δθ||^2 = Σ_k h (|ΔW_k|_F^2 + |Δb_k|^2) + |Δc|^2 + |Δe|^2 .

So that the falsifier's *Euclidean* distance of flat vectors is exactly this
norm, the flat parameter vector stores the **scaled** blocks

    θ = ( √h W_1 (row-major), √h b_1, ..., √h W_N, √h b_N, c, e )  ∈ R^P,
    P = N (d^2 + d) + d + 1.

Every method taking ``theta`` (``f``, ``grad``, ``hvp``, ``unflatten``, ...) uses these
coordinates, and derivatives are with respect to them (``∂f/∂(√h W_k) =
h^{-1/2} ∂f/∂W_k``).  :meth:`CDNN.path` / :meth:`CDNN.from_path` convert to and
from the unscaled ``(W_k, b_k, c, e)``.  Viewed as an :class:`~symlip.MLP`-like
layer stack, the network has ``widths = (d,)*(N+1) + (1,)``: ``N`` layers of
``d x d`` blocks ``(√h W_k, √h b_k)`` and a ``1 x d`` output layer ``(c, e)``,
so :class:`~symlip.Region`, the falsifier and witnesses work unchanged.  The box of
docs/theory.md §5 (``||W_k||_2 <= ω``, ``|b_k| <= β``, ``|c| <= γ``, ``|e| <= ε``) is
``Region.box(omega=[√h ω]*N + [γ], beta=[√h β]*N + [ε])`` (:meth:`CDNN.region`).

Derivatives
-----------
*euler*: exact back-propagation (adjoint ``p_N = c``, ``p_k = p_{k+1} + h W_k^T
(σ'(u_k) ⊙ p_{k+1})``) and an exact Hessian-vector product (forward-over-reverse
R-operator).  *ode*: per step, ``solve_ivp`` (``DOP853``, ``rtol``/``atol``)
integrates the state together with its transition matrix ``Φ_k = ∂z_end/∂z_start``
and its sensitivity ``J_k = ∂z_end/∂(W_k, b_k)`` (the sensitivity equation
``d(δz)/dt = σ'(u)(W δz + δW z + δb)``); ``∇_θ f`` follows by chaining
``c^T Φ_N ... Φ_{k+1} J_k``.  The Hessian-vector product differentiates that whole
augmented system along ``v`` (R-operator of the sensitivity equation), so it is
exact up to the solver tolerance as well — no finite differences.

High precision (``*_mp``)
-------------------------
Independent mpmath code in :mod:`symlip.models.cdnn_mp` (the recursions for
*euler*, a Gragg–Bulirsch–Stoer integrator of the augmented systems for *ode*),
run with a guard of digits so that its error is far below the ``dps`` digits
it reports; :func:`symlip.search.witness.confirm` evaluates at two precisions
``dps`` and ``dps + 30`` that must agree.  (``mpmath.odefun`` was tried first:
its Taylor method needs ~5 s for a 2-d state at 50 digits and ~45 s at 80 with
mpmath's pure-Python backend, too slow for confirmation.)

Bounds (docs/theory.md §5)
--------------------------
The Grönwall bounds of ``lip_f`` and ``lip_grad`` are in :mod:`symlip.bounds.cdnn`
(:func:`~symlip.bounds.cdnn.cdnn_bound`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import sympy as sp

from symlip.activations.registry import Activation, activation as _make_activation
from symlip.core.precision import check_dps
from symlip.models.cdnn_mp import mp_rows
from symlip.models.network import float_path, real_array

if TYPE_CHECKING:  # pragma: no cover
    from symlip.models.region import Region

__all__ = ["CDNN", "model_from_spec", "SCHEMES"]

#: the two schemes: the controlled ODE and its explicit Euler residual network.
SCHEMES = ("ode", "euler")
_MAX_D, _MAX_N = 10_000, 100_000  # caps on the width and the number of steps (N (d² + d) parameters)


@dataclass(frozen=True, eq=False)
class CDNN:
    """A continuously deep network (docs/theory.md §5) in scaled parameter coordinates.

    Parameters
    ----------
    d : int
        State (and input) dimension, ``>= 1``.
    T : float
        Time horizon, finite and ``> 0``.
    N : int
        Number of equal steps ``h = T/N`` on which ``W, b`` are constant, ``>= 1``.
    activation : str, sympy.Expr or Activation
        The componentwise ``σ`` (e.g. ``"tanh"``).
    scheme : {"ode", "euler"}
        ``"ode"``: the controlled ODE, solved by ``scipy.integrate.solve_ivp``;
        ``"euler"``: the explicit Euler residual network.
    rtol, atol : float
        ``solve_ivp`` tolerances for ``scheme="ode"`` (``DOP853``).  The default
        ``rtol=1e-11`` keeps the solver error far below the quantities checked.

    Notes
    -----
    The flat parameter vector stores ``(√h W_k, √h b_k)_{k=1..N}, c, e`` so that
    Euclidean distances are the L2 path norm of docs/theory.md §5; see the module
    docstring.  The object offers the same protocol as :class:`~symlip.MLP`
    (``widths``, ``depth``, ``n_params``, ``layer_slices``, ``flatten``/``unflatten``,
    ``f``, ``grad``, ``hvp``, ``jac_x``, losses, ``f_mp``, ``grad_mp``, ``hvp_mp``,
    ``init``) so :func:`~symlip.search.falsify`, regions and witnesses use it unchanged.
    """

    d: int
    T: float
    N: int
    activation: Activation
    scheme: str = "ode"
    rtol: float = 1e-11
    atol: float = 1e-12
    _slices: tuple = field(init=False, repr=False, compare=False)

    # ------------------------------------------------------------------
    # construction and layout
    # ------------------------------------------------------------------
    def __post_init__(self) -> None:
        for name, cap in (("d", _MAX_D), ("N", _MAX_N)):
            v = getattr(self, name)
            if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) or not 1 <= v <= cap:
                raise ValueError(f"CDNN {name} must be an integer >= 1 and <= {cap}; got {v!r}")
            object.__setattr__(self, name, int(v))
        if isinstance(self.T, (bool, np.bool_)) or not isinstance(self.T, (int, float, np.integer, np.floating)) \
                or not (math.isfinite(self.T) and self.T > 0):
            raise ValueError(f"CDNN T must be a finite number > 0; got {self.T!r}")
        object.__setattr__(self, "T", float(self.T))
        if self.scheme not in SCHEMES:
            raise ValueError(f"CDNN scheme must be one of {', '.join(map(repr, SCHEMES))}; got {self.scheme!r}")
        for name, lo, hi in (("rtol", 1e-14, 1e-3), ("atol", 0.0, 1e-3)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float, np.floating)) or not (lo <= v <= hi) \
                    or (name == "atol" and v <= 0):
                raise ValueError(f"CDNN {name} must be a number in {'(' if lo == 0 else '['}{lo:g}, {hi:g}]; "
                                 f"got {v!r}")
            object.__setattr__(self, name, float(v))
        act = self.activation
        if not isinstance(act, Activation):
            if not isinstance(act, (str, sp.Expr)):
                raise TypeError(f"activation must be a name, a sympy expression or an Activation; got {act!r} "
                                f"of type {type(act).__name__}")
            act = _make_activation(act)
        object.__setattr__(self, "activation", act)
        d, slices, off = self.d, [], 0
        for _ in range(self.N):
            slices.append((slice(off, off + d * d), slice(off + d * d, off + d * d + d)))
            off += d * d + d
        slices.append((slice(off, off + d), slice(off + d, off + d + 1)))
        object.__setattr__(self, "_slices", tuple(slices))

    def __repr__(self) -> str:
        extra = f", rtol={self.rtol:g}, atol={self.atol:g}" if self.scheme == "ode" else ""
        return (f"CDNN(d={self.d}, T={self.T:g}, N={self.N}, activation={self.activation.name!r}, "
                f"scheme={self.scheme!r}{extra})")

    def describe(self) -> str:
        """A short label, e.g. ``CDNN ode d=2 T=1 N=8 tanh``."""
        return f"CDNN {self.scheme} d={self.d} T={self.T:g} N={self.N} {self.activation.name}"

    @property
    def h(self) -> float:
        """The step ``T / N``."""
        return self.T / self.N

    @property
    def widths(self) -> tuple[int, ...]:
        """``(d,)*(N+1) + (1,)``: N layers of d x d blocks and a 1 x d output layer."""
        return (self.d,) * (self.N + 1) + (1,)

    @property
    def depth(self) -> int:
        """``N + 1`` layers in the MLP-like view."""
        return self.N + 1

    @property
    def n_params(self) -> int:
        """``P = N (d^2 + d) + d + 1``."""
        return self._slices[-1][1].stop

    @property
    def d_in(self) -> int:
        return self.d

    @property
    def d_out(self) -> int:
        return 1

    @property
    def layer_slices(self) -> tuple[tuple[slice, slice], ...]:
        """``((slice of √h W_1, slice of √h b_1), ..., (slice of c, slice of e))``."""
        return self._slices

    def model_spec(self) -> dict[str, Any]:
        """A JSON-able description (the activation is stored separately by witnesses)."""
        return {"kind": "cdnn", "d": self.d, "T": self.T, "N": self.N, "scheme": self.scheme,
                "rtol": self.rtol, "atol": self.atol}

    # ------------------------------------------------------------------
    # parameters
    # ------------------------------------------------------------------
    def unflatten(self, theta: Any) -> list[tuple[np.ndarray, np.ndarray]]:
        """θ -> ``[(√h W_1, √h b_1), ..., (√h W_N, √h b_N), (c as 1 x d, [e])]`` (scaled blocks)."""
        th = self._theta(theta, allow_object=True)
        out = []
        for k, (sw, sb) in enumerate(self._slices):
            rows = 1 if k == self.N else self.d
            out.append((th[sw].reshape(rows, self.d), th[sb]))
        return out

    def flatten(self, layers: Sequence[tuple[Any, Any]]) -> np.ndarray:
        """Inverse of :meth:`unflatten` (blocks in scaled coordinates)."""
        if isinstance(layers, (str, bytes)) or not isinstance(layers, Sequence) or len(layers) != self.N + 1:
            raise ValueError(f"layers must be a sequence of N + 1 = {self.N + 1} pairs (√h W_k, √h b_k) and "
                             f"(c, e); got {type(layers).__name__}"
                             f"{'' if not isinstance(layers, Sequence) else f' of length {len(layers)}'}")
        parts, is_obj = [], False
        for k, pair in enumerate(layers):
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise ValueError(f"layers[{k}] must be a pair (W, b); got {pair!r}")
            W, b = (np.asarray(x) for x in pair)
            want = (1, self.d) if k == self.N else (self.d, self.d)
            if W.shape != want or b.shape != (want[0],):
                raise ValueError(f"layers[{k}] has shapes {W.shape}, {b.shape}; expected {want}, ({want[0]},)")
            is_obj = is_obj or W.dtype == object or b.dtype == object
            parts += [W.reshape(-1), b]
        if is_obj:
            return np.concatenate([p.astype(object) for p in parts])
        return self._theta(np.concatenate([p.astype(np.float64) for p in parts]))

    def path(self, theta: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        """Unscaled parameters ``(W (N, d, d), b (N, d), c (d,), e)`` of θ (float64)."""
        th = self._theta(theta)
        s = math.sqrt(self.h)
        W = np.stack([th[sw].reshape(self.d, self.d) for sw, _ in self._slices[:-1]]) / s
        b = np.stack([th[sb] for _, sb in self._slices[:-1]]) / s
        return W, b, th[self._slices[-1][0]].copy(), float(th[self._slices[-1][1]][0])

    def from_path(self, W: Any, b: Any, c: Any, e: float = 0.0) -> np.ndarray:
        """θ (scaled coordinates) from unscaled ``W (N, d, d)``, ``b (N, d)``, ``c (d,)``, ``e``."""
        W = np.asarray(W, dtype=float)
        b = np.asarray(b, dtype=float)
        c = np.asarray(c, dtype=float)
        if W.shape != (self.N, self.d, self.d) or b.shape != (self.N, self.d) or c.shape != (self.d,):
            raise ValueError(f"from_path needs W of shape (N, d, d) = ({self.N}, {self.d}, {self.d}), b of shape "
                             f"({self.N}, {self.d}) and c of shape ({self.d},); got {W.shape}, {b.shape}, {c.shape}")
        s = math.sqrt(self.h)
        layers = [(s * W[k], s * b[k]) for k in range(self.N)] + [(c[None, :], np.array([float(e)]))]
        return self.flatten(layers)

    def region(self, omega: float, beta: float, gamma: float, e_bound: float = 1.0) -> "Region":
        """The box of docs/theory.md §5: ``||W_k||_2 <= omega``, ``|b_k| <= beta``, ``|c| <= gamma``,
        ``|e| <= e_bound``, i.e. ``Region.box([√h ω]*N + [γ], [√h β]*N + [e_bound])``."""
        from symlip.models.region import Region

        for name, v in (("omega", omega), ("beta", beta), ("gamma", gamma), ("e_bound", e_bound)):
            if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) \
                    or not (math.isfinite(v) and v >= 0):
                raise ValueError(f"CDNN.region: {name} must be a finite number >= 0; got {v!r}")
        s = math.sqrt(self.h)
        return Region.box([s * omega] * self.N + [float(gamma)], [s * beta] * self.N + [float(e_bound)])

    def init(self, seed: int | None = 0, scale: float = 1.0) -> np.ndarray:
        """Random θ: ``W_k ~ N(0, scale²/d)``, ``b_k ~ N(0, 0.01 scale²)``, ``c ~ N(0, scale²/d)``,
        ``e ~ N(0, 0.01 scale²)`` (unscaled; returned in scaled coordinates)."""
        if isinstance(scale, bool) or not isinstance(scale, (int, float, np.integer, np.floating)) \
                or not (math.isfinite(scale) and scale >= 0):
            raise ValueError(f"scale must be a finite real number >= 0; got {scale!r}")
        rng = np.random.default_rng(seed)
        sd = scale / math.sqrt(self.d)
        W = rng.normal(0.0, sd, (self.N, self.d, self.d))
        b = rng.normal(0.0, 0.1 * scale, (self.N, self.d))
        c = rng.normal(0.0, sd, self.d)
        return self.from_path(W, b, c, float(rng.normal(0.0, 0.1 * scale)))

    # ------------------------------------------------------------------
    # float64 path
    # ------------------------------------------------------------------
    @float_path
    def f(self, theta: Any, X: Any) -> Any:
        """``f(x_n; θ)``, shape ``(n,)`` (a scalar for a single input ``(d,)``)."""
        W, b, c, e = self.path(theta)
        X2, single = self._inputs(X)
        if self.scheme == "euler":
            zs, _, _ = self._euler_forward(W, b, X2, 0)
            z = zs[-1]
        else:
            z = self._ode_pass(W, b, X2, "f")["z"]
        out = z @ c + e
        self._finite(out, "the output f")
        return out[0] if single else out

    @float_path
    def grad(self, theta: Any, X: Any) -> np.ndarray:
        """``∇_θ f`` in scaled coordinates, shape ``(n, P)`` (``(P,)`` for one input)."""
        out, _ = self._grad_and_jx(theta, X)
        return out

    @float_path
    def jac_x(self, theta: Any, X: Any) -> np.ndarray:
        """Input gradient ``∂f/∂x``, shape ``(n, d)`` (``(d,)`` for one input)."""
        _, jx = self._grad_and_jx(theta, X)
        return jx

    @float_path
    def hvp(self, theta: Any, X: Any, v: Any) -> np.ndarray:
        """Hessian-vector product ``(∇²_θ f) v`` in scaled coordinates, shape ``(n, P)``.

        Exact for ``euler`` (R-operator of back-propagation); for ``ode`` the
        R-operator of the sensitivity system, exact up to the solver tolerance.
        """
        W, b, c, e = self.path(theta)
        V, beta, vc, _ = self.path(self._theta(v, name="v"))
        X2, single = self._inputs(X)
        if self.scheme == "euler":
            out = self._euler_hvp(W, b, c, V, beta, vc, X2)
        else:
            out = self._ode_hvp(W, b, c, V, beta, vc, X2)
        self._finite(out, "the Hessian-vector product")
        return out[0] if single else out

    @float_path
    def hessian(self, theta: Any, x: Any) -> np.ndarray:
        """The dense Hessian ``∇²_θ f(x; θ)`` (scaled coordinates), shape ``(P, P)``, for one
        input ``x`` of shape ``(d,)``: the ``P`` Hessian-vector products along the unit
        vectors in one batched pass (for ``ode`` a single ``solve_ivp`` call per step)."""
        W, b, c, e = self.path(theta)
        X2, single = self._inputs(x)
        if not single:
            raise ValueError(f"hessian takes one input of shape ({self.d},); got shape {np.shape(x)}")
        P, N, d, sh = self.n_params, self.N, self.d, math.sqrt(self.h)
        eye = np.eye(P)
        V = np.stack([eye[:, sw] for sw, _ in self._slices[:-1]], axis=1).reshape(P, N, d, d) / sh
        beta = np.stack([eye[:, sb] for _, sb in self._slices[:-1]], axis=1) / sh
        vc = eye[:, self._slices[-1][0]]
        Xr = np.repeat(X2, P, axis=0)
        if self.scheme == "euler":
            H = self._euler_hvp(W, b, c, V, beta, vc, Xr, ps=True)
        else:
            H = self._ode_hvp(W, b, c, V, beta, vc, Xr, ps=True)
        self._finite(H, "the Hessian")
        return 0.5 * (H + H.T)

    def loss(self, theta: Any, X: Any, y: Any) -> float:
        """``ℓ(θ) = (1/n) Σ ½ (f(x_n) - y_n)²``."""
        X2, _ = self._inputs(X)
        r = self.f(theta, X2) - self._targets(y, X2.shape[0])
        return float(0.5 * np.mean(r * r))

    def loss_grad(self, theta: Any, X: Any, y: Any) -> np.ndarray:
        """``∇ℓ`` (scaled coordinates), shape ``(P,)``."""
        X2, _ = self._inputs(X)
        r = self.f(theta, X2) - self._targets(y, X2.shape[0])
        return (r[:, None] * self.grad(theta, X2)).mean(axis=0)

    def loss_hvp(self, theta: Any, X: Any, y: Any, v: Any) -> np.ndarray:
        """``(∇²ℓ) v = mean_n (∇f ∇fᵀ v + (f - y) ∇²f v)``, shape ``(P,)``."""
        X2, _ = self._inputs(X)
        r = self.f(theta, X2) - self._targets(y, X2.shape[0])
        G = self.grad(theta, X2)
        vv = self._theta(v, name="v")
        return (G * (G @ vv)[:, None] + r[:, None] * self.hvp(theta, X2, vv)).mean(axis=0)

    # -- euler --------------------------------------------------------------
    def _euler_forward(self, W: np.ndarray, b: np.ndarray, X: np.ndarray, order: int):
        act = self.activation
        sig, d1 = act.numpy(0), act.numpy(1)
        d2 = act.numpy(2) if order >= 2 else None
        zs, s1, s2 = [X], [], []
        for k in range(self.N):
            u = zs[-1] @ W[k].T + b[k]
            self._finite(u, f"pre-activation u_{k + 1}")
            zs.append(zs[-1] + self.h * sig(u))
            self._finite(zs[-1], f"state z_{k + 1}")
            if order >= 1:
                s1.append(d1(u))
            if d2 is not None:
                s2.append(d2(u))
        return zs, s1, s2

    def _grad_and_jx(self, theta: Any, X: Any) -> tuple[np.ndarray, np.ndarray]:
        W, b, c, e = self.path(theta)
        X2, single = self._inputs(X)
        n, d, h, sh = X2.shape[0], self.d, self.h, math.sqrt(self.h)
        out = np.empty((n, self.n_params))
        if self.scheme == "euler":
            zs, s1, _ = self._euler_forward(W, b, X2, 1)
            p = np.broadcast_to(c, (n, d)).copy()
            for k in range(self.N - 1, -1, -1):
                q = p * s1[k]
                sw, sb = self._slices[k]
                out[:, sw] = (sh * q[:, :, None] * zs[k][:, None, :]).reshape(n, d * d)
                out[:, sb] = sh * q
                p = p + h * (q @ W[k])
            zT = zs[-1]
        else:
            res = self._ode_pass(W, b, X2, "grad")
            p = np.broadcast_to(c, (n, d)).copy()
            for k in range(self.N - 1, -1, -1):
                sw, sb = self._slices[k]
                g = np.einsum("nij,ni->nj", res["J"][k], p) / sh
                out[:, sw.start:sb.stop] = g
                p = np.einsum("nij,ni->nj", res["Phi"][k], p)
            zT = res["z"]
        sc, se = self._slices[-1]
        out[:, sc] = zT
        out[:, se] = 1.0
        self._finite(out, "the gradient")
        self._finite(p, "the input gradient")
        return (out[0], p[0]) if single else (out, p)

    def _euler_hvp(self, W, b, c, V, beta, vc, X, ps: bool = False) -> np.ndarray:
        n, d, h, sh = X.shape[0], self.d, self.h, math.sqrt(self.h)
        zs, s1, s2 = self._euler_forward(W, b, X, 2)
        rz = [np.zeros_like(X)]
        ru = []
        for k in range(self.N):
            r = rz[k] @ W[k].T + _mv(_at(V, k, ps), zs[k]) + _at(beta, k, ps)
            ru.append(r)
            rz.append(rz[k] + h * s1[k] * r)
        out = np.empty((n, self.n_params))
        p = np.broadcast_to(c, (n, d)).copy()
        rp = np.broadcast_to(vc, (n, d)).copy()
        for k in range(self.N - 1, -1, -1):
            q = p * s1[k]
            rq = rp * s1[k] + p * s2[k] * ru[k]
            sw, sb = self._slices[k]
            out[:, sw] = (sh * (rq[:, :, None] * zs[k][:, None, :] + q[:, :, None] * rz[k][:, None, :])
                          ).reshape(n, d * d)
            out[:, sb] = sh * rq
            p, rp = p + h * (q @ W[k]), rp + h * (_vm(q, _at(V, k, ps)) + rq @ W[k])
        sc, se = self._slices[-1]
        out[:, sc] = rz[-1]
        out[:, se] = 0.0
        return out

    # -- ode ------------------------------------------------------------------
    def _B(self, z: np.ndarray, with_b: bool = True) -> np.ndarray:
        """``∂u/∂(W, b)`` for ``u = W z + b``: ``(n, d, d^2 + d)`` with ``[:, i, i d + j] = z_j``,
        ``[:, i, d^2 + i] = 1`` (the b columns zero when ``with_b`` is False)."""
        n, d = z.shape
        eye = np.eye(d)
        Bw = np.einsum("ik,nj->nikj", eye, z).reshape(n, d, d * d)
        Bb = np.broadcast_to(eye, (n, d, d)) if with_b else np.zeros((n, d, d))
        return np.concatenate([Bw, Bb], axis=2)

    def _ode_pass(self, W, b, X, mode: str, V=None, beta=None, ps: bool = False) -> dict[str, Any]:
        """Integrate the state (``mode="f"``), with ``Φ_k, J_k`` (``"grad"``), and with their
        R-operators along ``(V, beta)`` (``"hvp"``), step by step with ``solve_ivp``."""
        from scipy.integrate import solve_ivp

        act = self.activation
        sig, d1, d2 = act.numpy(0), act.numpy(1), act.numpy(2) if mode == "hvp" else None
        n, d = X.shape
        Q = d * d + d
        sizes = {"z": d, "Phi": d * d, "J": d * Q}
        if mode == "hvp":
            sizes.update({"Rz": d, "RPhi": d * d, "RJ": d * Q})
        keys = ["z"] if mode == "f" else list(sizes)
        offs, off = {}, 0
        for key in keys:
            offs[key] = (off, off + n * sizes[key])
            off += n * sizes[key]
        shapes = {"z": (n, d), "Phi": (n, d, d), "J": (n, d, Q), "Rz": (n, d), "RPhi": (n, d, d),
                  "RJ": (n, d, Q)}

        def unpack(y: np.ndarray) -> dict[str, np.ndarray]:
            return {k: y[offs[k][0]:offs[k][1]].reshape(shapes[k]) for k in keys}

        z = X.copy()
        rz = np.zeros_like(X)
        res: dict[str, Any] = {"Phi": [], "J": [], "RPhi": [], "RJ": []}
        eye = np.broadcast_to(np.eye(d), (n, d, d))
        for k in range(self.N):
            Wk, bk = W[k], b[k]
            Vk = None if V is None else _at(V, k, ps)
            bek = None if beta is None else _at(beta, k, ps)

            def rhs(_t: float, y: np.ndarray, Wk=Wk, bk=bk, Vk=Vk, bek=bek) -> np.ndarray:
                s = unpack(y)
                u = s["z"] @ Wk.T + bk
                dz = sig(u)
                if mode == "f":
                    return dz.reshape(-1)
                s1 = d1(u)
                A = s1[:, :, None] * Wk[None]
                B = self._B(s["z"])
                dPhi = A @ s["Phi"]
                dJ = A @ s["J"] + s1[:, :, None] * B
                parts = [dz, dPhi, dJ]
                if mode == "hvp":
                    ru = s["Rz"] @ Wk.T + _mv(Vk, s["z"]) + bek
                    w2 = d2(u) * ru
                    AR = w2[:, :, None] * Wk[None] + s1[:, :, None] * (Vk if Vk.ndim == 3 else Vk[None])
                    parts += [s1 * ru, AR @ s["Phi"] + A @ s["RPhi"],
                              AR @ s["J"] + w2[:, :, None] * B + s1[:, :, None] * self._B(s["Rz"], False)
                              + A @ s["RJ"]]
                return np.concatenate([p.reshape(-1) for p in parts])

            init = {"z": z, "Phi": eye, "J": np.zeros((n, d, Q)), "Rz": rz, "RPhi": np.zeros((n, d, d)),
                    "RJ": np.zeros((n, d, Q))}
            y0 = np.concatenate([np.asarray(init[key], float).reshape(-1) for key in keys])
            sol = solve_ivp(rhs, (0.0, self.h), y0, method="DOP853", rtol=self.rtol, atol=self.atol)
            if sol.status != 0 or not np.all(np.isfinite(sol.y[:, -1])):
                raise FloatingPointError(f"solve_ivp failed on step {k + 1} of {self.N} ({sol.message}); "
                                         "use smaller parameters / inputs")
            s = unpack(sol.y[:, -1])
            z = s["z"].copy()
            if mode != "f":
                res["Phi"].append(s["Phi"].copy())
                res["J"].append(s["J"].copy())
            if mode == "hvp":
                rz = s["Rz"].copy()
                res["RPhi"].append(s["RPhi"].copy())
                res["RJ"].append(s["RJ"].copy())
        res["z"], res["Rz"] = z, rz
        return res

    def _ode_hvp(self, W, b, c, V, beta, vc, X, ps: bool = False) -> np.ndarray:
        n, d, sh = X.shape[0], self.d, math.sqrt(self.h)
        res = self._ode_pass(W, b, X, "hvp", V, beta, ps)
        out = np.empty((n, self.n_params))
        p = np.broadcast_to(c, (n, d)).copy()
        rp = np.broadcast_to(vc, (n, d)).copy()
        for k in range(self.N - 1, -1, -1):
            sw, sb = self._slices[k]
            J, RJ, Phi, RPhi = res["J"][k], res["RJ"][k], res["Phi"][k], res["RPhi"][k]
            out[:, sw.start:sb.stop] = (np.einsum("nij,ni->nj", RJ, p) + np.einsum("nij,ni->nj", J, rp)) / sh
            p, rp = (np.einsum("nij,ni->nj", Phi, p),
                     np.einsum("nij,ni->nj", RPhi, p) + np.einsum("nij,ni->nj", Phi, rp))
        sc, se = self._slices[-1]
        out[:, sc] = res["Rz"]
        out[:, se] = 0.0
        return out

    # ------------------------------------------------------------------
    # mpmath path (independent code, symlip.models.cdnn_mp)
    # ------------------------------------------------------------------
    def f_mp(self, theta: Any, X: Any, dps: int = 50) -> Any:
        """:meth:`f` at ``dps`` digits (``mpf``; object array for a batch)."""
        return self._mp_apply(theta, X, dps, "f")

    def grad_mp(self, theta: Any, X: Any, dps: int = 50) -> np.ndarray:
        """:meth:`grad` at ``dps`` digits (object array of ``mpf``)."""
        return self._mp_apply(theta, X, dps, "grad")

    def hvp_mp(self, theta: Any, X: Any, v: Any, dps: int = 50) -> np.ndarray:
        """:meth:`hvp` at ``dps`` digits (object array of ``mpf``)."""
        return self._mp_apply(theta, X, dps, "hvp", v)

    def _mp_apply(self, theta: Any, X: Any, dps: int, mode: str, v: Any = None) -> Any:
        dps = check_dps(dps)
        th = self._theta(theta, allow_object=True)
        vv = None if v is None else self._theta(v, name="v", allow_object=True)
        X2 = X if isinstance(X, np.ndarray) and X.dtype == object else None
        if X2 is None:
            X2, single = self._inputs(X)
        else:
            single = X2.ndim == 1
            X2 = X2[None, :] if single else X2
            if X2.ndim != 2 or X2.shape[1] != self.d:
                raise ValueError(f"X has shape {X.shape}, expected (n, {self.d}) or ({self.d},)")
        out = mp_rows(self, th, vv, X2, dps, mode)
        return out[0] if single else out

    # ------------------------------------------------------------------
    # validation
    # ------------------------------------------------------------------
    def _theta(self, theta: Any, name: str = "theta", allow_object: bool = False) -> np.ndarray:
        if isinstance(theta, (str, bytes)):
            raise TypeError(f"{name} must be a real numeric array, got the string {theta!r}")
        if allow_object and isinstance(theta, np.ndarray) and theta.dtype == object:
            if theta.shape != (self.n_params,):
                raise ValueError(f"{name} has shape {theta.shape}, expected (P,) = ({self.n_params},) for {self!r}")
            return theta
        arr = real_array(theta, name)
        if arr.shape != (self.n_params,):
            raise ValueError(f"{name} has shape {arr.shape}, expected (P,) = ({self.n_params},) for {self!r} "
                             f"(P = N (d^2 + d) + d + 1)")
        if not np.isfinite(arr).all():
            k = int(np.flatnonzero(~np.isfinite(arr))[0])
            raise ValueError(f"{name} must be finite; {name}[{k}] = {float(arr[k])!r}")
        return arr

    def _inputs(self, X: Any) -> tuple[np.ndarray, bool]:
        if isinstance(X, (str, bytes)):
            raise TypeError(f"X must be a real numeric array, got the string {X!r}")
        try:
            arr = np.asarray(X, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"X must be a real numeric array ({exc})") from None
        if arr.ndim == 1 and arr.shape == (self.d,):
            arr, single = arr[None, :], True
        elif arr.ndim == 2 and arr.shape[1] == self.d and arr.shape[0] >= 1:
            single = False
        else:
            raise ValueError(f"X has shape {arr.shape}, expected (n, d) = (n, {self.d}) with n >= 1 or a single "
                             f"input ({self.d},) for {self!r}")
        if not np.isfinite(arr).all():
            raise ValueError("X must be finite; it has a NaN or infinite entry")
        return arr, single

    @staticmethod
    def _targets(y: Any, n: int) -> np.ndarray:
        arr = np.atleast_1d(np.asarray(y, dtype=np.float64))
        if arr.shape != (n,) or not np.isfinite(arr).all():
            raise ValueError(f"y must be {n} finite targets (one per input); got shape {arr.shape}")
        return arr

    @staticmethod
    def _finite(a: np.ndarray, what: str) -> None:
        if not np.isfinite(a).all():
            raise FloatingPointError(f"non-finite value (overflow or NaN) in {what} of the float64 evaluation; "
                                     "use the *_mp methods or smaller parameters / inputs")


def _at(A: np.ndarray, k: int, per_sample: bool) -> np.ndarray:
    """Step ``k`` of per-step parameters shared by all samples ``(N, ...)`` or per sample ``(n, N, ...)``."""
    return A[:, k] if per_sample else A[k]


def _mv(M: np.ndarray, z: np.ndarray) -> np.ndarray:
    """``M z`` per sample: ``M`` of shape ``(d, d)`` (shared) or ``(n, d, d)``."""
    return z @ M.T if M.ndim == 2 else np.einsum("nij,nj->ni", M, z)


def _vm(q: np.ndarray, M: np.ndarray) -> np.ndarray:
    """``Mᵀ q`` per sample: ``M`` of shape ``(d, d)`` (shared) or ``(n, d, d)``."""
    return q @ M if M.ndim == 2 else np.einsum("ni,nij->nj", q, M)


def model_from_spec(spec: dict[str, Any], act: Activation) -> CDNN:
    """Rebuild a :class:`CDNN` from :meth:`CDNN.model_spec` and its activation."""
    if not isinstance(spec, dict) or spec.get("kind") != "cdnn":
        raise ValueError(f"not a CDNN model spec (expected kind 'cdnn'): {spec!r}")
    try:
        return CDNN(int(spec["d"]), float(spec["T"]), int(spec["N"]), act, scheme=str(spec["scheme"]),
                    rtol=float(spec.get("rtol", 1e-11)), atol=float(spec.get("atol", 1e-12)))
    except KeyError as exc:
        raise ValueError(f"CDNN model spec lacks the field {exc.args[0]!r}") from None
