"""The Lipschitz constant under SGD: one-step moments and Monte-Carlo (docs/theory.md §7).

Setting
-------
An MLP ``f(x; θ)`` with layers ``W_ℓ`` (``ℓ = 1..m``), data ``(x_n, y_n)``,
``n = 1..N``, per-sample losses ``ℓ_n`` (``"squared"``: ``½ (f - y)²``;
``"logistic"``: ``log(1 + exp(-y f))`` with labels ``y = ±1``), ``L = mean ℓ_n``.
An SGD step is ``Δθ = -η g``, ``g`` the mean per-sample gradient over a batch of
``B`` indices drawn with replacement or without.  ``s_ℓ = ||W_ℓ||_2`` and
``K = S1^{m-1} ∏ s_ℓ`` (the input-Lipschitz bound of the network).

Batch noise
-----------
``Σ_1 = (1/N) Σ_n (g_n - ∇L)(g_n - ∇L)^T`` (population covariance of the
per-sample gradients); ``Σ_B = c_B Σ_1`` with ``c_B = 1/B`` (with replacement)
or ``(N - B)/(B (N - 1))`` (without).  Every noise term is ``Σ_B = κ G G^T`` for
a matrix ``G`` of centred gradients: all ``N`` (``κ = c_B/N``, exact) or a
sample of ``k`` indices drawn with replacement, centred on their own mean
(``κ = c_B/(k - 1)``, unbiased: the low-rank estimator of §7).  Then, with
``J_ℓ = u_ℓ v_ℓ^T`` and ``H_ℓ`` the Hessian of ``s_ℓ`` (:mod:`symlip.training.spectral`),

    J_ℓ:Σ_B:J_k   = κ Σ_b (G_bℓ·J_ℓ)(G_bk·J_k),
    tr(H_ℓ Σ_B)   = κ Σ_b G_bℓ:H_ℓ:G_bℓ,

and no ``P × P`` (or ``mn × mn``) matrix is formed; ``estimator="dense"`` forms
them, as an independent check on small problems.

One step (second-order Taylor in ``Δ = -η g``; ``E[g] = ∇L``,
``E[g g^T] = ∇L ∇L^T + Σ_B``)::

    E[Δs_ℓ]   = -η <J_ℓ, ∇_ℓ L>                 (i)   gradient flow
                + (η²/2) ∇_ℓL:H_ℓ:∇_ℓL           (iii') mean-gradient curvature
                + (η²/2) tr(H_ℓ Σ_B)             (iii)  noise on the Hessian   + O(η³)
    Cov[Δs_ℓ, Δs_k] = η² J_ℓ:Σ_B:J_k                                           + O(η³)

and for ``log K = const + Σ_ℓ log s_ℓ`` (``log(1 + t) = t - t²/2 + ...``)::

    E[Δ log K]   = Σ_ℓ E[Δs_ℓ]/s_ℓ - Σ_ℓ E[Δs_ℓ²]/(2 s_ℓ²),  E[Δs_ℓ²] = η²(<J_ℓ,∇_ℓL>² + J_ℓ:Σ_B:J_ℓ)
    Var[Δ log K] = Σ_{ℓ,k} Cov[Δs_ℓ, Δs_k]/(s_ℓ s_k).

The cross-layer covariances enter ``Var[Δ log K]`` (and ``E[ΔK]``) but not
``E[Δ log K]``: docs/theory.md §7's network-level Itô formula, which subtracts
``½ Σ_{ℓ,k} d<s_ℓ, s_k>/(s_ℓ s_k)`` from the drift, is right only when the
cross terms vanish (``proofs/dynamics.py`` records the finding).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from scipy.special import expit

from symlip.training.spectral import TopSingular, top_singular

if TYPE_CHECKING:  # pragma: no cover
    from symlip.models.network import MLP

__all__ = ["LOSSES", "ESTIMATORS", "noise_factor", "per_sample_gradients", "loss_value", "mean_gradient",
           "Moments", "sgd_moments", "MonteCarlo", "monte_carlo", "draw_batches", "teacher_student"]

LOSSES = ("squared", "logistic")
ESTIMATORS = ("exact", "dense", "low_rank")
_DENSE_MAX = 4096     # largest layer block (d_ℓ d_{ℓ-1}) the dense path accepts

Loss = Literal["squared", "logistic"]


# ---------------------------------------------------------------------------
# validation
# ---------------------------------------------------------------------------
def check_net(net: Any) -> None:
    """``net`` is an MLP with a scalar output (:func:`symlip.models.network.check_mlp`)."""
    from symlip.models.network import check_mlp

    check_mlp(net, "the SGD analysis")


def check_loss(loss: str) -> None:
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {', '.join(map(repr, LOSSES))}; got {loss!r}")


def check_data(net: "MLP", X: Any, y: Any, loss: str) -> tuple[np.ndarray, np.ndarray]:
    from symlip.models.network import real_array

    X2 = real_array(X, "X")
    if X2.ndim != 2 or X2.shape[1] != net.d_in or X2.shape[0] < 2:
        raise ValueError(f"X must have shape (N, {net.d_in}) with N >= 2 samples; got {X2.shape}")
    yv = real_array(y, "y").reshape(-1)
    if yv.shape[0] != X2.shape[0]:
        raise ValueError(f"y has {yv.shape[0]} entries, expected N = {X2.shape[0]} (one per row of X)")
    for name, a in (("X", X2), ("y", yv)):
        if not np.isfinite(a).all():
            raise ValueError(f"{name} must be finite; it has {int((~np.isfinite(a)).sum())} non-finite entries")
    if loss == "logistic" and not np.isin(yv, (-1.0, 1.0)).all():
        bad = yv[~np.isin(yv, (-1.0, 1.0))][0]
        raise ValueError(f"the logistic loss needs labels -1 or +1; got y = {bad!r}")
    return X2, yv


#: cap on sample counts and on n * d of generated data (10^7 floats: 80 MB)
MAX_SAMPLES = 10 ** 7


def check_int(name: str, v: Any, lo: int, hi: int | None = None) -> int:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) or v < lo or (hi is not None and v > hi):
        rng = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
        raise ValueError(f"{name} must be an integer {rng}; got {v!r}")
    return int(v)


def check_eta(eta: Any) -> float:
    if isinstance(eta, bool) or not isinstance(eta, (int, float, np.integer, np.floating)) \
            or not (math.isfinite(eta) and eta > 0):
        raise ValueError(f"eta must be a finite number > 0; got {eta!r}")
    return float(eta)


# ---------------------------------------------------------------------------
# losses and gradients
# ---------------------------------------------------------------------------
def _residual(f: np.ndarray, y: np.ndarray, loss: str) -> np.ndarray:
    """``dℓ_n/df`` per sample."""
    if loss == "squared":
        return f - y
    return -y * expit(-y * f)


def _loss_from_f(f: np.ndarray, y: np.ndarray, loss: str) -> float:
    """``mean ℓ_n`` from the network outputs ``f``."""
    if loss == "squared":
        return float(0.5 * np.mean((f - y) ** 2))
    return float(np.mean(np.logaddexp(0.0, -y * f)))


def _per_sample(net: "MLP", theta: np.ndarray, X: np.ndarray, y: np.ndarray,
                loss: str) -> tuple[np.ndarray, np.ndarray]:
    """``(G, f)``: per-sample loss gradients ``(N, P)`` and the outputs (validated inputs)."""
    f = net.f(theta, X)
    G = net.grad(theta, X)
    G *= _residual(f, y, loss)[:, None]
    return G, f


def loss_value(net: "MLP", theta: Any, X: Any, y: Any, loss: Loss = "squared") -> float:
    """``L(θ) = (1/N) Σ_n ℓ_n`` for the squared or logistic loss."""
    check_net(net)
    check_loss(loss)
    X2, yv = check_data(net, X, y, loss)
    return _loss_from_f(net.f(theta, X2), yv, loss)


def per_sample_gradients(net: "MLP", theta: Any, X: Any, y: Any, loss: Loss = "squared") -> np.ndarray:
    """``g_n = ∇_θ ℓ_n(θ) = ℓ'(f_n) ∇_θ f(x_n; θ)``, shape ``(N, P)``."""
    check_net(net)
    check_loss(loss)
    X2, yv = check_data(net, X, y, loss)
    return _per_sample(net, theta, X2, yv, loss)[0]


def mean_gradient(net: "MLP", theta: Any, X: Any, y: Any, loss: Loss = "squared") -> np.ndarray:
    """``∇L(θ) = (1/N) Σ_n g_n``, shape ``(P,)``, by one back-propagation (no ``(N, P)`` array)."""
    check_net(net)
    check_loss(loss)
    X2, yv = check_data(net, X, y, loss)
    return mean_grad(net, theta, X2, yv, loss)


def mean_grad(net: "MLP", theta: np.ndarray, X: np.ndarray, y: np.ndarray, loss: str) -> np.ndarray:
    """:func:`mean_gradient` on validated arrays (also a batch's SGD direction)."""
    return net.vjp(theta, X, _residual(net.f(theta, X), y, loss) / X.shape[0])


def noise_factor(N: int, B: int, replacement: bool) -> float:
    """``c_B`` with ``Σ_B = c_B Σ_1``: ``1/B``, or ``(N - B)/(B (N - 1))`` without replacement."""
    N = check_int("N", N, 2)
    B = check_int("batch_size", B, 1, None if replacement else N)
    return 1.0 / B if replacement else (N - B) / (B * (N - 1))


# ---------------------------------------------------------------------------
# one-step moments
# ---------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Moments:
    """Predicted one-step moments of ``s_ℓ = ||W_ℓ||_2`` and ``log K`` (docs/theory.md §7).

    Arrays are indexed by layer ``ℓ = 1..m`` (position ``ℓ - 1``).

    Attributes
    ----------
    s : ndarray (m,)
        Spectral norms ``s_ℓ``; ``K = S1^{m-1} ∏ s_ℓ`` and ``log_K``.
    flow, mean_curvature, noise_curvature : ndarray (m,)
        The terms of ``E[Δs_ℓ]``: ``-η<J,∇L>``, ``(η²/2)∇L:H:∇L``, ``(η²/2)tr(HΣ_B)``.
    mean : ndarray (m,)
        Their sum, the predicted ``E[Δs_ℓ]``.
    cov : ndarray (m, m)
        ``η² J_ℓ:Σ_B:J_k``; its diagonal is ``var``, the predicted ``Var[Δs_ℓ]``.
    log_K_mean, log_K_var : float
        Predicted ``E[Δ log K]`` and ``Var[Δ log K]``.
    log_K_var_block : float
        ``Var[Δ log K]`` under [L]'s block-diagonal noise assumption (cross terms dropped).
    cross_fraction : float
        ``Σ_{ℓ≠k} cov_{ℓk}/(s_ℓ s_k) / Σ_ℓ var_ℓ/s_ℓ²``: the cross-layer part of
        ``Var[Δ log K]`` relative to the block-diagonal part [L] keeps (0 when the
        assumption holds; may be negative or exceed 1).
    spectra : tuple of TopSingular
        Per layer, the top singular triple and its gap (degenerate layers raise).
    eta, batch_size, replacement, estimator, n_estimate, loss, N
        The inputs; ``n_estimate`` is the number of gradients in ``G``.
    grad_norm, loss_value : float
        ``|∇L|`` and ``L`` at θ.
    seconds : float
    """

    s: np.ndarray
    K: float
    log_K: float
    flow: np.ndarray
    mean_curvature: np.ndarray
    noise_curvature: np.ndarray
    mean: np.ndarray
    cov: np.ndarray
    log_K_mean: float
    log_K_var: float
    log_K_var_block: float
    cross_fraction: float
    spectra: tuple[TopSingular, ...]
    eta: float
    batch_size: int
    replacement: bool
    estimator: str
    n_estimate: int
    loss: str
    N: int
    grad_norm: float
    loss_value: float
    seconds: float = 0.0

    @property
    def var(self) -> np.ndarray:
        """Predicted ``Var[Δs_ℓ]`` (the diagonal of ``cov``)."""
        return np.diag(self.cov).copy()

    @property
    def ito(self) -> np.ndarray:
        """The Itô drift term ``(η/2) tr(H_ℓ Σ_B)`` per unit time ``t = kη`` (``noise_curvature / η``)."""
        return self.noise_curvature / self.eta

    def with_eta(self, eta: float) -> "Moments":
        """The same moments for another step size (every term is a power of η)."""
        eta = check_eta(eta)
        q = eta / self.eta
        scalars = {k: getattr(self, k) for k in _SCALARS}
        scalars["eta"] = eta
        return _assemble(self.s, self.spectra, self.flow * q, self.mean_curvature * q * q,
                         self.noise_curvature * q * q, self.cov * q * q, **scalars)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary."""
        return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in (
            ("s", self.s), ("K", self.K), ("log_K", self.log_K), ("flow", self.flow),
            ("mean_curvature", self.mean_curvature), ("noise_curvature", self.noise_curvature),
            ("mean", self.mean), ("cov", self.cov), ("log_K_mean", self.log_K_mean), ("log_K_var", self.log_K_var),
            ("log_K_var_block", self.log_K_var_block), ("cross_fraction", self.cross_fraction),
            ("gaps", [t.gap for t in self.spectra]), ("eta", self.eta), ("batch_size", self.batch_size),
            ("replacement", self.replacement), ("estimator", self.estimator), ("n_estimate", self.n_estimate),
            ("loss", self.loss), ("N", self.N), ("grad_norm", self.grad_norm), ("loss_value", self.loss_value))}


#: the scalar fields of Moments that the step's terms do not determine
_SCALARS = ("K", "log_K", "eta", "batch_size", "replacement", "estimator", "n_estimate", "loss", "N",
            "grad_norm", "loss_value", "seconds")


def _assemble(s: np.ndarray, spectra: tuple[TopSingular, ...], flow: np.ndarray, mcurv: np.ndarray,
              ncurv: np.ndarray, cov: np.ndarray, **scalars: Any) -> Moments:
    mean = flow + mcurv + ncurv
    var = np.diag(cov)
    second = var + flow * flow                     # E[Δs²] to order η²
    log_K_mean = float(np.sum(mean / s) - 0.5 * np.sum(second / s ** 2))
    scaled = cov / np.outer(s, s)
    log_K_var = float(scaled.sum())
    diag = float(np.trace(scaled))
    cross = log_K_var - diag
    return Moments(s=s, flow=flow, mean_curvature=mcurv, noise_curvature=ncurv, mean=mean, cov=cov,
                   log_K_mean=log_K_mean, log_K_var=log_K_var, log_K_var_block=diag,
                   cross_fraction=float(cross / diag) if diag > 0 else 0.0, spectra=spectra, **scalars)


def sgd_moments(net: "MLP", theta: Any, X: Any, y: Any, *, batch_size: int, eta: float,
                loss: Loss = "squared", replacement: bool = True, estimator: str = "exact",
                n_estimate: int | None = None, seed: int = 0, gap_tol: float = 1e-8) -> Moments:
    """Predicted mean and covariance of one SGD step's ``Δs_ℓ`` and ``Δ log K`` (docs/theory.md §7).

    Parameters
    ----------
    net, theta : MLP, array (P,)
        A scalar-output network and its parameters.
    X, y : arrays (N, d_0), (N,)
        The dataset SGD samples from.
    batch_size, eta : int, float
        ``B`` and ``η``.
    loss : {"squared", "logistic"}
    replacement : bool
        Batches drawn with replacement (``Σ_B = Σ_1/B``) or without.
    estimator : {"exact", "dense", "low_rank"}
        ``"exact"``: all ``N`` centred gradients, low-rank algebra; ``"dense"``:
        the same with the ``P_ℓ × P_ℓ`` covariance blocks and the ``mn × mn``
        Hessians formed (small problems, a cross-check); ``"low_rank"``: the
        unbiased estimator from ``n_estimate`` gradients (default ``batch_size``,
        at least 2) drawn with replacement with ``seed`` — ``∇L`` is still exact.
    gap_tol : float
        Relative spectral gap below which a layer's top singular value counts as
        repeated: the formulas do not apply and
        :class:`~symlip.training.spectral.DegenerateSpectrumError` is raised.

    Returns
    -------
    Moments
    """
    t0 = time.perf_counter()
    check_net(net)
    check_loss(loss)
    X2, yv = check_data(net, X, y, loss)
    theta = net.check_theta(theta)
    N = X2.shape[0]
    B = check_int("batch_size", batch_size, 1, None if replacement else N)
    eta = check_eta(eta)
    check_int("seed", seed, 0)
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {', '.join(map(repr, ESTIMATORS))}; got {estimator!r}")
    c_B = noise_factor(N, B, replacement)
    if estimator == "low_rank":
        f = net.f(theta, X2)
        grad = net.vjp(theta, X2, _residual(f, yv, loss) / N)
        k = check_int("n_estimate", B if n_estimate is None else n_estimate, 2)
        idx = np.random.default_rng(seed).integers(0, N, size=k)
        G = _per_sample(net, theta, X2[idx], yv[idx], loss)[0]
        G -= G.mean(axis=0)
        kappa = c_B / (k - 1)
    else:
        k = N
        G, f = _per_sample(net, theta, X2, yv, loss)
        grad = G.mean(axis=0)
        G -= grad
        kappa = c_B / N
    layers = net.unflatten(theta)
    spectra = tuple(top_singular(W, gap_tol=gap_tol) for W, _ in layers)
    m = net.depth
    s = np.array([t.s for t in spectra])
    flow, mcurv, ncurv = np.empty(m), np.empty(m), np.empty(m)
    proj = np.empty((m, k))
    dense_blocks: list[np.ndarray] = []
    for i, ((sw, _), t) in enumerate(zip(net.layer_slices, spectra)):
        shape = layers[i][0].shape
        J = t.jacobian()
        gW = grad[sw].reshape(shape)
        Gl = G[:, sw]
        flow[i] = -eta * float(np.sum(J * gW))
        mcurv[i] = 0.5 * eta ** 2 * float(t.hessian_form(gW))
        if estimator == "dense":
            if Gl.shape[1] > _DENSE_MAX:
                raise ValueError(f"estimator='dense' forms {Gl.shape[1]}x{Gl.shape[1]} matrices for layer {i + 1}; "
                                 f"allowed up to {_DENSE_MAX} entries per layer — use estimator='exact'")
            Sigma = kappa * (Gl.T @ Gl)                    # Σ_B block, P_ℓ × P_ℓ
            Hm = t.hessian_matrix()
            ncurv[i] = 0.5 * eta ** 2 * float(np.sum(Hm * Sigma))
            dense_blocks.append(J.reshape(-1))
            proj[i] = 0.0
        else:
            ncurv[i] = 0.5 * eta ** 2 * kappa * float(np.sum(t.hessian_form(Gl.reshape(k, *shape))))
            proj[i] = Gl @ J.reshape(-1)
    if estimator == "dense":
        Jfull = np.zeros((m, net.n_params))
        for i, (sw, _) in enumerate(net.layer_slices):
            Jfull[i, sw] = dense_blocks[i]
        Sigma_full = kappa * (G.T @ G)
        cov = eta ** 2 * (Jfull @ Sigma_full @ Jfull.T)
    else:
        cov = eta ** 2 * kappa * (proj @ proj.T)
    cov = 0.5 * (cov + cov.T)
    S1 = float(net.activation.S1.bound) if m > 1 else 1.0
    log_K = float((m - 1) * math.log(S1) + np.sum(np.log(s))) if S1 > 0 and (s > 0).all() else -math.inf
    return _assemble(s, spectra, flow, mcurv, ncurv, cov, K=math.exp(log_K) if math.isfinite(log_K) else 0.0,
                     log_K=log_K, eta=eta, batch_size=B, replacement=bool(replacement), estimator=estimator,
                     n_estimate=k, loss=loss, N=N, grad_norm=float(np.linalg.norm(grad)),
                     loss_value=_loss_from_f(f, yv, loss), seconds=time.perf_counter() - t0)


# ---------------------------------------------------------------------------
# Monte-Carlo: many real SGD steps from the same point
# ---------------------------------------------------------------------------
def draw_batches(rng: np.random.Generator, N: int, B: int, n: int, replacement: bool) -> np.ndarray:
    """``n`` batches of ``B`` indices in ``[0, N)``, shape ``(n, B)``, uniform with or without replacement."""
    N = check_int("N", N, 1)
    B = check_int("B", B, 1, None if replacement else N)
    n = check_int("n", n, 1, max(1, MAX_SAMPLES // B))
    if replacement:
        return rng.integers(0, N, size=(n, B))
    out = np.empty((n, B), dtype=np.int64)
    for lo in range(0, n, 4096):
        hi = min(n, lo + 4096)
        out[lo:hi] = np.argsort(rng.random((hi - lo, N)), axis=1)[:, :B]
    return out


@dataclass(frozen=True, eq=False)
class MonteCarlo:
    """``n`` real SGD steps from one point (docs/theory.md §7), with estimates and standard errors.

    Attributes
    ----------
    ds : ndarray (n, m)
        Observed ``Δs_ℓ`` per step; ``dlogK`` (n,) the observed ``Δ log K``.
    linear : ndarray (n, m)
        ``-η <J_ℓ, g_b>`` per step (first-order term; its mean is exactly ``flow``).
    taylor : ndarray (n, m)
        ``-η <J_ℓ, g_b> + (η²/2) g_b:H_ℓ:g_b``, the per-step second-order Taylor
        value; its mean is exactly the predicted ``E[Δs_ℓ]``, so
        ``mean(ds - taylor)`` estimates the prediction's error with small variance.
    mean, mean_se : ndarray (m,)
        ``E[Δs_ℓ]`` estimated with the control variate ``linear`` (whose exact mean
        is known): ``flow + mean(ds - linear)``, and its standard error.
    var, var_se : ndarray (m,)
        Sample variance of ``Δs_ℓ`` and its standard error.
    error, error_se : ndarray (m,)
        ``E[Δs_ℓ] - predicted`` estimated as ``mean(ds - taylor)``, and its standard error.
    cov : ndarray (m, m)
        Sample covariance of ``Δs``.
    log_K_mean, log_K_mean_se, log_K_var, log_K_var_se : float
        The same for ``Δ log K`` (control variate ``Σ_ℓ linear_ℓ / s_ℓ``).
    n, seed, seconds
    """

    ds: np.ndarray
    dlogK: np.ndarray
    linear: np.ndarray
    taylor: np.ndarray
    mean: np.ndarray
    mean_se: np.ndarray
    var: np.ndarray
    var_se: np.ndarray
    error: np.ndarray
    error_se: np.ndarray
    cov: np.ndarray
    log_K_mean: float
    log_K_mean_se: float
    log_K_var: float
    log_K_var_se: float
    n: int
    seed: int
    seconds: float


def monte_carlo(net: "MLP", theta: Any, X: Any, y: Any, moments: Moments, *, n_steps: int = 20000,
                seed: int = 0) -> MonteCarlo:
    """Run ``n_steps`` independent SGD steps ``θ - η g_b`` from ``θ`` (the batches of ``moments``).

    Batches are drawn as ``moments`` says (size, with/without replacement) from
    ``numpy.random.default_rng(seed)``; each step's ``s_ℓ`` is an exact SVD of the
    updated ``W_ℓ``.
    """
    t0 = time.perf_counter()
    n = check_int("n_steps", n_steps, 2, MAX_SAMPLES)
    check_net(net)
    if not isinstance(moments, Moments):
        raise TypeError(f"moments must be the Moments of sgd_moments at this point; got {type(moments).__name__}")
    X2, yv = check_data(net, X, y, moments.loss)
    theta = net.check_theta(theta)
    s_here = np.array([np.linalg.norm(W, 2) for W, _ in net.unflatten(theta)])
    if X2.shape[0] != moments.N or s_here.shape != moments.s.shape \
            or not np.allclose(s_here, moments.s, rtol=1e-12, atol=0.0):
        raise ValueError("moments were computed for another network, point or dataset (N, spectral norms "
                         "differ); call sgd_moments with the same net, theta, X and y")
    rng = np.random.default_rng(seed)
    N, B, eta, m = X2.shape[0], moments.batch_size, moments.eta, net.depth
    Gs = _per_sample(net, theta, X2, yv, moments.loss)[0]                 # (N, P)
    layers = net.unflatten(theta)
    ds, lin, tay = np.empty((n, m)), np.empty((n, m)), np.empty((n, m))
    chunk = max(1, min(n, 2_000_000 // max(1, net.n_params * B)))
    for lo in range(0, n, chunk):
        hi = min(n, lo + chunk)
        idx = draw_batches(rng, N, B, hi - lo, moments.replacement)
        gb = Gs[idx].mean(axis=1)                                           # (c, P)
        for i, ((sw, _), t) in enumerate(zip(net.layer_slices, moments.spectra)):
            W = layers[i][0]
            gW = gb[:, sw].reshape(hi - lo, *W.shape)
            new = np.linalg.norm(W[None] - eta * gW, ord=2, axis=(1, 2))
            ds[lo:hi, i] = new - t.s
            lin[lo:hi, i] = -eta * t.directional(gW)
            tay[lo:hi, i] = lin[lo:hi, i] + 0.5 * eta ** 2 * t.hessian_form(gW)
    dlogK = np.sum(np.log1p(ds / moments.s), axis=1)
    rt = math.sqrt(n)
    cv = ds - lin
    mean = moments.flow + cv.mean(axis=0)
    mean_se = cv.std(axis=0, ddof=1) / rt
    var = ds.var(axis=0, ddof=1)
    centred = ds - ds.mean(axis=0)
    var_se = _var_se(centred, var, n)
    err = ds - tay
    # log K with the same control variate: Σ_ℓ lin_ℓ / s_ℓ has the known mean Σ_ℓ flow_ℓ / s_ℓ
    lk_cv = dlogK - (lin / moments.s).sum(axis=1)
    return MonteCarlo(
        ds=ds, dlogK=dlogK, linear=lin, taylor=tay, mean=mean, mean_se=mean_se, var=var, var_se=var_se,
        error=err.mean(axis=0), error_se=err.std(axis=0, ddof=1) / rt, cov=np.cov(ds, rowvar=False).reshape(m, m),
        log_K_mean=float(np.sum(moments.flow / moments.s) + lk_cv.mean()),
        log_K_mean_se=float(lk_cv.std(ddof=1) / rt), log_K_var=float(dlogK.var(ddof=1)),
        log_K_var_se=float(_var_se(dlogK - dlogK.mean(), dlogK.var(ddof=1), n)),
        n=n, seed=int(seed), seconds=time.perf_counter() - t0)


def _var_se(centred: np.ndarray, var: Any, n: int) -> Any:
    """Standard error of a sample variance: ``sqrt((m4 - var²)/n)``."""
    return np.sqrt(np.maximum(np.mean(centred ** 4, axis=0) - var ** 2, 0.0) / n)


# ---------------------------------------------------------------------------
# synthetic data
# ---------------------------------------------------------------------------
def teacher_student(n: int, d: int, *, task: str = "regression", teacher_width: int = 8,
                    label_noise: float = 0.0, noise_std: float = 0.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic data from a random tanh teacher ``[d, teacher_width, 1]``.

    ``x ~ N(0, I/d)`` (so ``|x| ≈ 1``); ``"regression"``: ``y = teacher(x) + noise_std·N(0,1)``;
    ``"classification"``: ``y = sign(teacher(x))`` with each label flipped with
    probability ``label_noise``.
    """
    from symlip.models.network import MLP

    n = check_int("n", n, 2, MAX_SAMPLES)
    d = check_int("d", d, 1, MAX_SAMPLES // n)
    if task not in ("regression", "classification"):
        raise ValueError(f"task must be 'regression' or 'classification'; got {task!r}")
    if not (isinstance(label_noise, (int, float)) and 0 <= label_noise <= 0.5):
        raise ValueError(f"label_noise must be a probability in [0, 0.5]; got {label_noise!r}")
    if not (isinstance(noise_std, (int, float)) and math.isfinite(noise_std) and noise_std >= 0):
        raise ValueError(f"noise_std must be a finite number >= 0; got {noise_std!r}")
    rng = np.random.default_rng(seed)
    teacher = MLP([d, check_int("teacher_width", teacher_width, 1, MAX_SAMPLES // d), 1], "tanh")
    X = rng.normal(0.0, 1.0 / math.sqrt(d), size=(n, d))
    f = teacher.f(teacher.init(seed=int(rng.integers(2 ** 31)), scale=2.0), X)
    if task == "regression":
        return X, f + noise_std * rng.normal(size=n)
    y = np.where(f >= 0, 1.0, -1.0)
    flip = rng.random(n) < label_noise
    return X, np.where(flip, -y, y)

