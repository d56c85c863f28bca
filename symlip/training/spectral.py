"""Spectral-norm calculus: Jacobian and Hessian of ``s_1 = ||W||_2`` (docs/theory.md §7).

Write the thin SVD ``W = Σ_{l=1}^k s_l u_l v_l^T`` (``k = min(m, n)``,
``s_1 >= s_2 >= ... >= 0``).  Where ``s_1`` is *simple* (``s_1 > s_2`` and
``s_1 > 0``) the spectral norm is analytic and

    ∂s_1/∂W = u_1 v_1^T,

    E:H:E = d²/dt² s_1(W + tE) |_{t=0}
          = Σ_{l=2}^{k} [ s_1 (a_l² + b_l²) + 2 s_l a_l b_l ] / (s_1² - s_l²)
            + (1/s_1) ( |E v_1|² - Σ_{i<=k} a_i²  +  |E^T u_1|² - Σ_{j<=k} b_j² ),

with ``a_i = u_i^T E v_1`` and ``b_j = u_1^T E v_j``.  This is docs/theory.md §7's form
with its sums over the full bases beyond the rank ``r`` rewritten through the
thin factors: the completeness of the full bases gives
``Σ_{i>k} a_i² = |E v_1 - U a|²`` and ``Σ_{j>k} b_j² = |E^T u_1 - V b|²``, and
the zero singular values ``r < l <= k`` fit the first sum (with ``s_l = 0`` its
term is ``(a_l² + b_l²)/s_1``, the same as in the second).  Nothing of size
``mn × mn`` is formed (except by :meth:`TopSingular.hessian_matrix`).

Derivation: ``s_1`` is the top eigenvalue of the symmetric ``[[0, W], [W^T, 0]]``
(eigenvector ``(u_1, v_1)/√2``; eigenvalues ``±s_l`` with ``(u_l, ±v_l)/√2``;
``0`` on ``(u_i, 0)``, ``i > k``, and ``(0, v_j)``, ``j > k``), and second-order
perturbation theory of a simple eigenvalue gives the form above term by term.
It is positive semidefinite: each term of the first sum is at least
``(s_1 - s_l)(a_l² + b_l²)/(s_1² - s_l²) >= 0`` (the spectral norm is convex).

The polarised form ``F:H:E`` is ``<H[E], F>`` with the matrix

    H[E] = (U α + r_a/s_1) v_1^T + u_1 (V β + r_b/s_1)^T,
    α_l = (s_1 a_l + s_l b_l)/(s_1² - s_l²),  β_l = (s_1 b_l + s_l a_l)/(s_1² - s_l²)  (l >= 2; α_1 = β_1 = 0),
    r_a = E v_1 - U a,  r_b = E^T u_1 - V b.

Three independent paths:

* float64 (:func:`top_singular`, :class:`TopSingular`), vectorised over stacks
  of perturbations ``(..., m, n)``;
* mpmath (:func:`top_singular_mp`, :class:`TopSingularMP`), ``mpmath.svd_r`` and
  plain loops over ``mpf`` at ``dps`` digits;
* sympy (:func:`symbolic_top_singular`, :class:`SymbolicTopSingular`) for
  ``min(m, n) <= 2``, where ``s_1`` has a closed form (root of the characteristic
  polynomial of the 2 × 2 Gram matrix); sympy is imported only there.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from typing import Any

import mpmath
import numpy as np

from symlip.core.precision import to_mp, workdps

__all__ = [
    "DegenerateSpectrumError",
    "TopSingular",
    "TopSingularMP",
    "SymbolicTopSingular",
    "top_singular",
    "top_singular_mp",
    "symbolic_top_singular",
    "DEFAULT_GAP_TOL",
    "MAX_DENSE",
]

#: Default relative spectral gap ``(s_1 - s_2)/s_1`` below which ``s_1`` counts as repeated.
DEFAULT_GAP_TOL = 1e-8

#: Largest ``mn`` for which :meth:`TopSingular.hessian_matrix` builds the dense Hessian unasked.
MAX_DENSE = 4096


class DegenerateSpectrumError(ValueError):
    """The top singular value is repeated (or nearly so, or zero): ``||W||_2`` is
    not differentiable at ``W`` and ``u v^T`` / the Hessian are undefined (docs/theory.md §7)."""


# ---------------------------------------------------------------------------
# validation
# ---------------------------------------------------------------------------
def _real_matrix(a: Any, name: str, *, stack: bool = False) -> np.ndarray:
    """``a`` as a finite float64 array with ``ndim == 2`` (``>= 2`` if ``stack``), both
    trailing dims ``>= 1``; TypeError for non-real input, ValueError for bad shapes/values."""
    if isinstance(a, (str, bytes)):
        raise TypeError(f"{name} must be a real 2-D numeric array, got the string {_short(a)}")
    try:
        arr = np.asarray(a)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a real 2-D numeric array ({exc})") from exc
    if arr.dtype.kind == "c":
        raise TypeError(f"{name} must be real, got a complex array (dtype {arr.dtype}): {_short(a)}")
    if arr.dtype.kind == "b":
        raise TypeError(f"{name} must be a real numeric array, got a boolean array: {_short(a)}")
    if arr.dtype.kind not in "iuf" and arr.dtype != object:
        raise TypeError(
            f"{name} must be a real numeric array (integers or floats), got dtype {arr.dtype}: {_short(a)}"
        )
    if arr.dtype == object:
        for x in arr.reshape(-1):
            if isinstance(x, (complex, np.complexfloating, mpmath.mpc)):
                raise TypeError(f"{name} must be real, got the complex entry {x!r}")
            if isinstance(x, (str, bytes, bool, np.bool_)) or not isinstance(
                x, (numbers.Real, mpmath.mpf)
            ):
                raise TypeError(
                    f"{name} must hold real numbers, got the entry {x!r} of type {type(x).__name__}"
                )
    try:
        arr = np.asarray(arr, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as exc:
        raise TypeError(f"{name} must be a real numeric array ({exc})") from exc
    if (arr.ndim != 2 and not stack) or arr.ndim < 2:
        want = "a 2-D array (m, n)" if not stack else "an array of shape (..., m, n)"
        raise ValueError(f"{name} must be {want} with m, n >= 1, got shape {arr.shape}: {_short(a)}")
    if arr.shape[-2] < 1 or arr.shape[-1] < 1:
        raise ValueError(f"{name} must have both matrix dimensions >= 1, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
        raise ValueError(
            f"{name} must be finite, got {float(arr[bad])!r} at index {bad}; "
            "allowed: finite real numbers"
        )
    return arr


def _short(a: Any, limit: int = 120) -> str:
    """``repr(a)`` cut to ``limit`` characters (error messages name the bad value)."""
    r = repr(a)
    return r if len(r) <= limit else r[: limit - 5] + " ...]"


def _check_gap_tol(gap_tol: Any) -> float:
    if isinstance(gap_tol, (bool, np.bool_)) or not isinstance(gap_tol, (numbers.Real, np.floating)):
        raise TypeError(f"gap_tol must be a real number in [0, 1), got {gap_tol!r}")
    g = float(gap_tol)
    if not (0.0 <= g < 1.0):
        raise ValueError(f"gap_tol must be a real number in [0, 1), got {gap_tol!r}")
    return g


def _check_shape(E: np.ndarray, shape: tuple[int, int], name: str) -> None:
    if E.shape[-2:] != shape:
        raise ValueError(
            f"{name} must have shape {shape} or (..., {shape[0]}, {shape[1]}) like W, got {E.shape}"
        )


def _degenerate_message(s1: Any, s2: Any, gap: Any, gap_tol: float) -> str:
    s2txt = "none (k = min(m, n) = 1)" if s2 is None else f"{_fmt(s2)}"
    if not s1 > 0:
        why = "W = 0, where the spectral norm has a kink"
    else:
        why = "the top singular value is repeated or nearly so"
    return (
        f"top singular value not simple: s_1 = {_fmt(s1)}, s_2 = {s2txt}, relative gap "
        f"(s_1 - s_2)/s_1 = {_fmt(gap, 3)} <= gap_tol = {gap_tol:.3g} ({why}); the spectral "
        "norm is not differentiable there, so u_1 v_1^T and its Hessian are undefined: perturb W, "
        "use a subgradient (any convex combination of u_i v_i^T over the top singular space), "
        "or pass a smaller gap_tol if the gap is genuine"
    )


def _simple_message(s1: Any, gap: Any, gap_tol: float) -> str:
    return (
        f"top singular value s_1 = {_fmt(s1)} is simple: relative gap (s_1 - s_2)/s_1 = "
        f"{_fmt(gap, 3)} > gap_tol = {gap_tol:.3g}, so ||W||_2 is analytic at W."
    )


def _fmt(x: Any, digits: int = 17) -> str:
    return mpmath.nstr(x, digits) if isinstance(x, mpmath.mpf) else f"{float(x):.{digits}g}"


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    a.setflags(write=False)
    return a


class _Status:
    """Status of the top singular value, shared by :class:`TopSingular` and :class:`TopSingularMP`."""

    @property
    def shape(self) -> tuple[int, int]:
        """``(m, n)``, the shape of ``W``."""
        return (self.U.shape[0], self.V.shape[0])

    @property
    def simple(self) -> bool:
        """``True`` when ``gap > gap_tol`` and ``s > 0`` (the derivatives exist)."""
        return bool(self.gap > self.gap_tol and self.s > 0)

    @property
    def status(self) -> str:
        """``"simple"`` or ``"degenerate"``."""
        return "simple" if self.simple else "degenerate"

    @property
    def message(self) -> str:
        """One sentence describing the status (the error message when degenerate)."""
        if self.simple:
            return _simple_message(self.s, self.gap, self.gap_tol)
        return _degenerate_message(self.s, self._s2, self.gap, self.gap_tol) + "."

    @property
    def _s2(self) -> Any:
        return self.singular_values[1] if self.singular_values.size > 1 else None

    def _require_simple(self) -> None:
        if not self.simple:
            raise DegenerateSpectrumError(_degenerate_message(self.s, self._s2, self.gap, self.gap_tol))


# ---------------------------------------------------------------------------
# float64
# ---------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class TopSingular(_Status):
    """Top singular triple of ``W`` and the derivatives of ``s_1`` (docs/theory.md §7).

    Built by :func:`top_singular`.  Arrays are read-only.

    Attributes
    ----------
    s : float
        ``s_1 = ||W||_2``.
    u, v : numpy.ndarray
        Top left/right singular vectors, shapes ``(m,)`` and ``(n,)`` (their common
        sign is arbitrary; every derivative depends only on ``u v^T``).
    singular_values : numpy.ndarray
        ``(k,)``, ``k = min(m, n)``, decreasing.
    U, V : numpy.ndarray
        Thin factors ``(m, k)`` and ``(n, k)``: ``W = U diag(singular_values) V^T``.
    gap : float
        Relative gap ``(s_1 - s_2)/s_1``; ``1.0`` when ``k == 1``; ``0.0`` when ``s_1 == 0``.
    gap_tol : float
        ``s_1`` counts as simple when ``gap > gap_tol`` and ``s > 0``.
    """

    s: float
    u: np.ndarray
    v: np.ndarray
    singular_values: np.ndarray
    U: np.ndarray
    V: np.ndarray
    gap: float
    gap_tol: float

    # -- derivatives ------------------------------------------------------
    def jacobian(self) -> np.ndarray:
        """``∂s_1/∂W = u_1 v_1^T``, shape ``(m, n)`` (docs/theory.md §7).

        Raises
        ------
        DegenerateSpectrumError
            When ``s_1`` is not simple.
        """
        self._require_simple()
        return np.outer(self.u, self.v)

    def directional(self, E: Any) -> float | np.ndarray:
        """``<u_1 v_1^T, E> = u_1^T E v_1``, the first derivative of ``s_1`` along ``E``.

        ``E`` has shape ``(m, n)`` (gives a float) or ``(..., m, n)`` (gives ``(...)``).
        """
        self._require_simple()
        Ev, _ = self._products(E)
        out = Ev @ self.u
        return float(out) if out.ndim == 0 else out

    def hessian_form(self, E: Any) -> float | np.ndarray:
        """``E:H:E = d²/dt² s_1(W + tE)|_0`` (docs/theory.md §7), vectorised over ``(..., m, n)``.

        Cost ``O(B m n + B (m + n) k)`` for ``B`` matrices; no ``mn × mn`` matrix.
        Returns a float for one ``(m, n)`` matrix, else an array of the batch shape.
        """
        self._require_simple()
        a, b, ra, rb = self._coefficients(E)
        sig, w = self._weights()
        first = np.sum(w * (a[..., 1:] ** 2 + b[..., 1:] ** 2 + 2.0 * sig * a[..., 1:] * b[..., 1:]),
                       axis=-1)
        rest = np.sum(ra * ra, axis=-1) + np.sum(rb * rb, axis=-1)
        out = (first + rest) / self.s
        return float(out) if out.ndim == 0 else out

    def hessian_apply(self, E: Any) -> np.ndarray:
        """The matrix ``H[E]`` with ``<H[E], F> = F:H:E`` for every ``F`` (shape of ``E``).

        ``H[E] = (U α + r_a/s_1) v_1^T + u_1 (V β + r_b/s_1)^T`` (module docstring);
        it is also the derivative of ``u_1 v_1^T`` along ``E``.
        """
        self._require_simple()
        a, b, ra, rb = self._coefficients(E)
        sig, w = self._weights()
        zero = np.zeros(a.shape[:-1] + (1,))
        alpha = np.concatenate([zero, w * (a[..., 1:] + sig * b[..., 1:])], axis=-1)
        beta = np.concatenate([zero, w * (b[..., 1:] + sig * a[..., 1:])], axis=-1)
        left = (alpha @ self.U.T + ra) / self.s      # (..., m)
        right = (beta @ self.V.T + rb) / self.s      # (..., n)
        return left[..., :, None] * self.v + self.u[:, None] * right[..., None, :]

    def hessian_matrix(self, force: bool = False) -> np.ndarray:
        """Dense Hessian ``(mn, mn)`` of ``s_1`` in row-major ``vec(W)`` order.

        Parameters
        ----------
        force : bool
            Build it even when ``mn > MAX_DENSE`` (4096).

        Raises
        ------
        ValueError
            When ``mn > 4096`` and ``force`` is false.
        DegenerateSpectrumError
            When ``s_1`` is not simple.
        """
        m, n = self.shape
        if m * n > MAX_DENSE and not force:
            raise ValueError(
                f"hessian_matrix would be dense of size mn x mn with mn = {m * n} > {MAX_DENSE} "
                f"(W is {m} x {n}); use hessian_form / hessian_apply, or pass force=True"
            )
        self._require_simple()
        sig, w = self._weights()
        u, v, U, V, s = self.u, self.v, self.U, self.V, self.s
        A = np.einsum("il,j->ijl", U[:, 1:], v).reshape(m * n, -1)   # vec(u_l v_1^T)
        B = np.einsum("i,jl->ijl", u, V[:, 1:]).reshape(m * n, -1)   # vec(u_1 v_l^T)
        AB = (A * (w * sig)) @ B.T
        H = (A * w) @ A.T + (B * w) @ B.T + AB + AB.T
        PU = np.eye(m) - U @ U.T
        PV = np.eye(n) - V @ V.T
        H += np.kron(PU, np.outer(v, v)) + np.kron(np.outer(u, u), PV)
        H /= s
        return 0.5 * (H + H.T)

    # -- internals ----------------------------------------------------------
    def _products(self, E: Any) -> tuple[np.ndarray, np.ndarray]:
        """``(E v_1, E^T u_1)`` for a validated ``E`` of shape ``(..., m, n)``."""
        Ea = _real_matrix(E, "E", stack=True)
        _check_shape(Ea, self.shape, "E")
        return Ea @ self.v, np.matmul(self.u, Ea)

    def _coefficients(self, E: Any) -> tuple[np.ndarray, ...]:
        """``a = U^T E v_1``, ``b = V^T E^T u_1`` and the residuals ``r_a``, ``r_b``."""
        Ev, Etu = self._products(E)
        a = Ev @ self.U
        b = Etu @ self.V
        return a, b, Ev - a @ self.U.T, Etu - b @ self.V.T

    def _weights(self) -> tuple[np.ndarray, np.ndarray]:
        """``σ_l = s_l/s_1`` and ``w_l = 1/(1 - σ_l²)`` for ``l >= 2``, so that
        ``s_1/(s_1² - s_l²) = w_l/s_1`` and ``s_l/(s_1² - s_l²) = σ_l w_l/s_1``.

        Scale-free (no overflow of ``s_1²``) and without cancellation:
        ``1 - σ_l`` is formed as ``(s_1 - s_l)/s_1`` (the difference is exact),
        not from the rounded ratio ``σ_l``, which near a small gap would lose
        ``log10(1/gap)`` digits."""
        s = self.singular_values
        sig = s[1:] / s[0]
        return sig, 1.0 / (((s[0] - s[1:]) / s[0]) * (1.0 + sig))


def top_singular(W: Any, gap_tol: float = DEFAULT_GAP_TOL) -> TopSingular:
    """Top singular triple of ``W`` with one ``numpy.linalg.svd`` (docs/theory.md §7).

    Parameters
    ----------
    W : array_like
        Real finite 2-D array ``(m, n)``, ``m, n >= 1``.
    gap_tol : float
        In ``[0, 1)``: ``s_1`` is simple when ``(s_1 - s_2)/s_1 > gap_tol``.

    Returns
    -------
    TopSingular
        Its status may be ``"degenerate"``; then the derivative methods raise
        :class:`DegenerateSpectrumError`.

    Raises
    ------
    TypeError
        For strings, complex, boolean or non-numeric input, or a non-real ``gap_tol``.
    ValueError
        For a wrong number of dimensions, an empty dimension, NaN/inf entries,
        ``gap_tol`` outside ``[0, 1)``, or singular values overflowing float64.
    """
    A = _real_matrix(W, "W")
    tol = _check_gap_tol(gap_tol)
    U, S, Vt = np.linalg.svd(A, full_matrices=False)
    if not np.all(np.isfinite(S)):
        raise ValueError(
            f"the singular values of W overflow float64 (max |w_ij| = {np.abs(A).max():.3g}); rescale W"
        )
    s1 = float(S[0])
    if s1 == 0.0:
        gap = 0.0
    elif S.size == 1:
        gap = 1.0
    else:
        gap = float((S[0] - S[1]) / S[0])
    return TopSingular(
        s=s1, u=_readonly(U[:, 0]), v=_readonly(Vt[0]), singular_values=_readonly(S),
        U=_readonly(U), V=_readonly(Vt.T), gap=gap, gap_tol=tol,
    )


# ---------------------------------------------------------------------------
# mpmath
# ---------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class TopSingularMP(_Status):
    """The :class:`TopSingular` quantities at ``dps`` digits with mpmath (docs/theory.md §7).

    Built by :func:`top_singular_mp`.  Same field names as :class:`TopSingular`,
    but ``s`` and ``gap`` are ``mpmath.mpf`` and the arrays are ``dtype=object``
    arrays of ``mpf``; the methods return ``mpf`` (one matrix) or object arrays
    (a stack), computed with plain loops and ``mpmath.fdot`` at ``dps`` digits
    (no code shared with the float64 path).
    """

    s: mpmath.mpf
    u: np.ndarray
    v: np.ndarray
    singular_values: np.ndarray
    U: np.ndarray
    V: np.ndarray
    gap: mpmath.mpf
    gap_tol: float
    dps: int

    def jacobian(self) -> np.ndarray:
        """``u_1 v_1^T`` as an ``(m, n)`` object array of ``mpf``."""
        self._require_simple()
        m, n = self.shape
        with workdps(self.dps):
            out = np.empty((m, n), dtype=object)
            for i in range(m):
                for j in range(n):
                    out[i, j] = self.u[i] * self.v[j]
        return out

    def directional(self, E: Any) -> Any:
        """``u_1^T E v_1`` at ``dps`` digits (``mpf``, or an object array for a stack)."""
        self._require_simple()
        return self._map(E, lambda Em: mpmath.fdot(self.u, self._Ev(Em)))

    def hessian_form(self, E: Any) -> Any:
        """``E:H:E`` at ``dps`` digits (``mpf``, or an object array for a stack)."""
        self._require_simple()
        return self._map(E, self._form_one)

    def hessian_apply(self, E: Any) -> np.ndarray:
        """``H[E]`` (object array of the shape of ``E``) at ``dps`` digits."""
        self._require_simple()
        Em = self._perturbation(E)
        flat = Em.reshape((-1,) + self.shape)
        out = np.empty(flat.shape, dtype=object)
        with workdps(self.dps):
            for t in range(flat.shape[0]):
                out[t] = self._apply_one(flat[t])
        return out.reshape(Em.shape)

    # -- internals ----------------------------------------------------------
    def _perturbation(self, E: Any) -> np.ndarray:
        arr = np.asarray(E, dtype=object) if not isinstance(E, np.ndarray) else E
        if arr.ndim < 2 or arr.shape[-2:] != self.shape:
            raise ValueError(
                f"E must have shape {self.shape} or (..., {self.shape[0]}, {self.shape[1]}) "
                f"like W, got {arr.shape}"
            )
        with workdps(self.dps):
            Em = to_mp(arr)
        for x in Em.reshape(-1):
            if not mpmath.isfinite(x):
                raise ValueError(f"E must be finite, got the entry {x!r}")
        return Em

    def _map(self, E: Any, fn: Any) -> Any:
        Em = self._perturbation(E)
        flat = Em.reshape((-1,) + self.shape)
        out = np.empty(flat.shape[0], dtype=object)
        with workdps(self.dps):
            for t in range(flat.shape[0]):
                out[t] = fn(flat[t])
        return out[0] if Em.ndim == 2 else out.reshape(Em.shape[:-2])

    def _Ev(self, Em: np.ndarray) -> list:
        return [mpmath.fdot(Em[i, :], self.v) for i in range(Em.shape[0])]

    def _Etu(self, Em: np.ndarray) -> list:
        return [mpmath.fdot(Em[:, j], self.u) for j in range(Em.shape[1])]

    def _coefficients(self, Em: np.ndarray) -> tuple[list, list, list, list]:
        m, n = self.shape
        k = self.singular_values.size
        Ev, Etu = self._Ev(Em), self._Etu(Em)
        a = [mpmath.fdot(self.U[:, l], Ev) for l in range(k)]
        b = [mpmath.fdot(self.V[:, l], Etu) for l in range(k)]
        ra = [Ev[i] - mpmath.fdot(self.U[i, :], a) for i in range(m)]
        rb = [Etu[j] - mpmath.fdot(self.V[j, :], b) for j in range(n)]
        return a, b, ra, rb

    def _form_one(self, Em: np.ndarray) -> mpmath.mpf:
        a, b, ra, rb = self._coefficients(Em)
        s1 = self.s
        terms = []
        for l in range(1, len(a)):
            sl = self.singular_values[l]
            terms.append((s1 * (a[l] ** 2 + b[l] ** 2) + 2 * sl * a[l] * b[l]) / ((s1 - sl) * (s1 + sl)))
        terms.append((mpmath.fsum(x * x for x in ra) + mpmath.fsum(x * x for x in rb)) / s1)
        return mpmath.fsum(terms)

    def _apply_one(self, Em: np.ndarray) -> np.ndarray:
        m, n = self.shape
        a, b, ra, rb = self._coefficients(Em)
        s1 = self.s
        alpha = [mpmath.mpf(0)] * len(a)
        beta = [mpmath.mpf(0)] * len(a)
        for l in range(1, len(a)):
            sl = self.singular_values[l]
            den = (s1 - sl) * (s1 + sl)
            alpha[l] = (s1 * a[l] + sl * b[l]) / den
            beta[l] = (s1 * b[l] + sl * a[l]) / den
        left = [mpmath.fdot(self.U[i, :], alpha) + ra[i] / s1 for i in range(m)]
        right = [mpmath.fdot(self.V[j, :], beta) + rb[j] / s1 for j in range(n)]
        out = np.empty((m, n), dtype=object)
        for i in range(m):
            for j in range(n):
                out[i, j] = left[i] * self.v[j] + self.u[i] * right[j]
        return out


def top_singular_mp(W: Any, dps: int = 50, gap_tol: float = DEFAULT_GAP_TOL) -> TopSingularMP:
    """Top singular triple of ``W`` with ``mpmath.svd_r`` at ``dps`` digits.

    Parameters
    ----------
    W : array_like
        Real finite 2-D array: floats (converted exactly), ints, ``Fraction`` or
        ``mpf`` entries (``Fraction`` rounded at ``dps`` digits).
    dps : int
        Working precision, ``>= 15``.
    gap_tol : float
        In ``[0, 1)``, as in :func:`top_singular`.

    Returns
    -------
    TopSingularMP
    """
    if isinstance(W, (str, bytes)):
        raise TypeError(f"W must be a real 2-D numeric array, got the string {W!r}")
    arr = W if isinstance(W, np.ndarray) else np.asarray(W, dtype=object)
    if arr.dtype != object:
        _real_matrix(arr, "W")          # same checks and messages as the float path
    if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(
            f"W must be a 2-D array (m, n) with m, n >= 1, got shape {arr.shape}: {_short(W)}"
        )
    tol = _check_gap_tol(gap_tol)
    with workdps(dps) as d:
        try:
            Wm = to_mp(arr)
        except TypeError as exc:
            raise TypeError(f"W must hold real numbers: {exc}") from exc
        for x in Wm.reshape(-1):
            if not mpmath.isfinite(x):
                raise ValueError(f"W must be finite, got the entry {x!r}; allowed: finite real numbers")
        m, n = Wm.shape
        A = mpmath.matrix(Wm.tolist())
        Um, S, Vm = mpmath.svd_r(A, full_matrices=False, compute_uv=True)
        k = min(m, n)
        sv = np.array([S[l] for l in range(k)], dtype=object)
        order = sorted(range(k), key=lambda l: -sv[l])     # svd_r sorts already; be safe
        sv = sv[order]
        U = np.array([[Um[i, l] for l in order] for i in range(m)], dtype=object).reshape(m, k)
        V = np.array([[Vm[l, j] for l in order] for j in range(n)], dtype=object).reshape(n, k)
        s1 = sv[0]
        if s1 == 0:
            gap = mpmath.mpf(0)
        elif k == 1:
            gap = mpmath.mpf(1)
        else:
            gap = (s1 - sv[1]) / s1
    return TopSingularMP(
        s=s1, u=U[:, 0].copy(), v=V[:, 0].copy(), singular_values=sv, U=U, V=V,
        gap=gap, gap_tol=tol, dps=d,
    )


# ---------------------------------------------------------------------------
# sympy (closed form for min(m, n) <= 2)
# ---------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class SymbolicTopSingular:
    """Closed-form ``s_1`` of a symbolic ``m × n`` matrix with ``min(m, n) <= 2``.

    Built by :func:`symbolic_top_singular`.

    Attributes
    ----------
    m, n : int
        Shape of ``W``.
    W, E : sympy.ImmutableMatrix
        Matrices of real symbols ``w_i_j`` and ``e_i_j`` (1-based indices).
    s1 : sympy.Expr
        ``s_1``: ``sqrt(Σ w_ij²)`` when ``min(m, n) = 1``; otherwise, with ``G`` the
        2 × 2 Gram matrix (``W W^T`` if ``m <= n``, else ``W^T W``),
        ``s_1 = sqrt((tr G + sqrt(tr(G)² - 4 det G))/2)``.
    jacobian_formula : sympy.ImmutableMatrix
        docs/theory.md §7's ``u_1 v_1^T``, written sign-free with the projector identity
        ``u_1 u_1^T = (G - s_2² I)/(s_1² - s_2²)``: ``P_1 W / s_1`` (or ``W Q_1 / s_1``
        for tall ``W``, ``Q_1 = v_1 v_1^T``); ``W / s_1`` when ``min(m, n) = 1``.
    gram : str
        ``"left"`` (``G = W W^T``), ``"right"`` (``G = W^T W``) or ``"none"`` (min dim 1).
    """

    m: int
    n: int
    W: Any
    E: Any
    s1: Any
    jacobian_formula: Any
    gram: str
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    def hessian_formula(self, E: Any = None) -> Any:
        """docs/theory.md §7's ``E:H:E`` as a sympy expression (default ``E``: the symbols ``e_i_j``).

        With ``P_1 = u_1 u_1^T``, ``P_2 = I - P_1`` on the two-dimensional side
        (``m = 2``; the tall case uses ``W^T``, ``E^T``) every term is sign-free::

            s_1 a_2²     = tr(P_2 E W^T P_1 W E^T) / s_1
            2 s_2 a_2 b_2 = 2 tr(P_2 E W^T P_1 E W^T) / s_1
            s_2² b_2²    = tr(P_1 E W^T P_2 W E^T)
            b_1²         = tr(P_1 E W^T P_1 W E^T) / s_1²
            E:H:E = (s_1 a_2² + 2 s_2 a_2 b_2 + s_2² b_2²/s_1)/(s_1² - s_2²)
                    + (tr(P_1 E E^T) - b_1²)/s_1

        (the ``b_2²`` parts of both sums of the working spec combine as
        ``s_1/(s_1² - s_2²) - 1/s_1 = s_2²/(s_1 (s_1² - s_2²))``, so no ``1/s_2``
        appears; ``Σ_{i>2} a_i² = 0`` as ``m = 2``).  For ``min(m, n) = 1``:
        ``(|E|² - <W, E>²/s_1²)/s_1``.
        """
        import sympy as sp

        Em = self.E if E is None else sp.ImmutableMatrix(E)
        if Em.shape != (self.m, self.n):
            raise ValueError(f"E must have shape {(self.m, self.n)}, got {Em.shape}")
        W, s1 = self.W, self.s1
        if self.gram == "none":
            inner = sum(W[i, j] * Em[i, j] for i in range(self.m) for j in range(self.n))
            sq = sum(Em[i, j] ** 2 for i in range(self.m) for j in range(self.n))
            return (sq - inner ** 2 / s1 ** 2) / s1
        if self.gram == "right":
            W, Em = W.T, Em.T
        P1 = self._cache["P1"]
        P2 = sp.eye(2) - P1
        s1sq, s2sq = self._cache["s1sq"], self._cache["s2sq"]
        Wt, Et = W.T, Em.T
        s1a2sq = (P2 * Em * Wt * P1 * W * Et).trace() / s1
        two_s2a2b2 = 2 * (P2 * Em * Wt * P1 * Em * Wt).trace() / s1
        s2sq_b2sq = (P1 * Em * Wt * P2 * W * Et).trace()
        b1sq = (P1 * Em * Wt * P1 * W * Et).trace() / s1sq
        return ((s1a2sq + two_s2a2b2 + s2sq_b2sq / s1) / (s1sq - s2sq)
                + ((P1 * Em * Et).trace() - b1sq) / s1)

    def jacobian_sympy(self) -> Any:
        """sympy's own ``∂s_1/∂w_ij``, an ``(m, n)`` ImmutableMatrix (not simplified)."""
        import sympy as sp

        if "J" not in self._cache:
            self._cache["J"] = sp.ImmutableMatrix(
                self.m, self.n, lambda i, j: sp.diff(self.s1, self.W[i, j])
            )
        return self._cache["J"]

    def hessian_sympy(self) -> Any:
        """sympy's own ``∂²s_1/∂w ∂w``, ``(mn, mn)`` in row-major ``vec(W)`` order."""
        import sympy as sp

        if "H" not in self._cache:
            J = self.jacobian_sympy()
            w = list(self.W)          # row-major
            gj = list(J)
            N = len(w)
            H = [[None] * N for _ in range(N)]
            for p in range(N):
                for q in range(p, N):
                    H[p][q] = H[q][p] = sp.diff(gj[p], w[q])
            self._cache["H"] = sp.ImmutableMatrix(H)
        return self._cache["H"]

    def hessian_form_sympy(self, E: Any = None) -> Any:
        """``vec(E)^T (hessian_sympy()) vec(E)`` (default ``E``: the symbols ``e_i_j``)."""
        import sympy as sp

        Em = self.E if E is None else sp.ImmutableMatrix(E)
        e = sp.Matrix(list(Em))
        return (e.T * self.hessian_sympy() * e)[0, 0]

    def point(self, W: Any, E: Any = None) -> dict:
        """Substitution dict ``{w_i_j: W[i, j], e_i_j: E[i, j]}`` with exact sympy numbers
        (floats converted exactly to rationals)."""
        import sympy as sp

        def exact(x: Any) -> Any:
            if isinstance(x, float):
                return sp.Rational(x)
            return sp.nsimplify(x) if not isinstance(x, sp.Basic) else x

        out = {}
        for M, vals in ((self.W, W), (self.E, E)):
            if vals is None:
                continue
            arr = np.asarray(vals, dtype=object)
            if arr.shape != (self.m, self.n):
                raise ValueError(f"values must have shape {(self.m, self.n)}, got {arr.shape}")
            for i in range(self.m):
                for j in range(self.n):
                    out[M[i, j]] = exact(arr[i, j])
        return out


def symbolic_top_singular(m: int, n: int) -> SymbolicTopSingular:
    """Closed-form ``s_1`` of an ``m × n`` matrix of symbols, for ``min(m, n) <= 2``.

    Raises
    ------
    ValueError
        When ``min(m, n) > 2`` (only then is the top root of the characteristic
        polynomial of the Gram matrix available in closed form here), or a
        dimension is below 1.
    TypeError
        When ``m`` or ``n`` is not an integer.
    """
    import sympy as sp

    for name, d in (("m", m), ("n", n)):
        if isinstance(d, (bool, np.bool_)) or not isinstance(d, (int, np.integer)):
            raise TypeError(f"{name} must be an integer >= 1, got {d!r}")
        if d < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {d!r}")
    m, n = int(m), int(n)
    if min(m, n) > 2:
        raise ValueError(
            f"symbolic_top_singular({m}, {n}): only min(m, n) <= 2 has a closed-form root "
            f"(here min(m, n) = {min(m, n)}); use top_singular or top_singular_mp"
        )
    W = sp.ImmutableMatrix(m, n, lambda i, j: sp.Symbol(f"w_{i + 1}_{j + 1}", real=True))
    E = sp.ImmutableMatrix(m, n, lambda i, j: sp.Symbol(f"e_{i + 1}_{j + 1}", real=True))
    cache: dict = {}
    if min(m, n) == 1:
        s1 = sp.sqrt(sum(x ** 2 for x in W))
        J = sp.ImmutableMatrix(W / s1)
        gram = "none"
    else:
        gram = "left" if m <= n else "right"
        G = W * W.T if gram == "left" else W.T * W
        tr, det = G.trace(), G.det()
        root = sp.sqrt(tr ** 2 - 4 * det)
        s1sq = (tr + root) / 2
        s2sq = (tr - root) / 2
        s1 = sp.sqrt(s1sq)
        P1 = (G - s2sq * sp.eye(2)) / (s1sq - s2sq)
        J = sp.ImmutableMatrix(P1 * W / s1 if gram == "left" else W * P1 / s1)
        cache.update(P1=sp.ImmutableMatrix(P1), s1sq=s1sq, s2sq=s2sq)
    return SymbolicTopSingular(m=m, n=n, W=W, E=E, s1=s1, jacobian_formula=J, gram=gram,
                               _cache=cache)
