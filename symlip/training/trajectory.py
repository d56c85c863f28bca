"""SGD trajectories with the predicted drift and diffusion of ``s_ℓ`` and ``log K`` (docs/theory.md §7).

:func:`sgd_trajectory` runs plain SGD ``θ_{k+1} = θ_k - η g_k`` (``g_k`` the mean
per-sample gradient over a batch of ``B`` indices, drawn with or without
replacement) and, **at every step**, evaluates the one-step predicted moments
of :func:`symlip.training.dynamics.sgd_moments` at the actual iterate ``θ_k``.  The
predictions are accumulated along the observed path::

    s_pred(t)   = s(0) + Σ_{k<t} E[Δs_ℓ | θ_k],      sd_s(t)   = sqrt(Σ_{k<t} Var[Δs_ℓ | θ_k]),
    logK_pred(t) = log K(0) + Σ_{k<t} E[Δ log K | θ_k], sd_logK(t) = sqrt(Σ_{k<t} Var[Δ log K | θ_k]).

``s(t) - s_pred(t) = Σ_{k<t} (Δs_k - E[Δs_k | θ_k])`` is a martingale (up to the
O(η³) Taylor remainder per step) whose variance is ``E[sd_s(t)²]``: when the
second-order model is right, the observed path stays in the band
``s_pred ± 2 sd_s`` about 95% of the time.  Because the conditioning is on the
realised ``θ_k``, the band measures the model of *one step*, not how well a
deterministic ODE tracks SGD.

Recording: the state (``θ``, ``s``, ``K``, loss, ``|∇L|``) and the moments at
``θ_t`` are stored at ``t = 0, r, 2r, ...`` and at the last step (``r =
record_every``); the accumulated predictions at those ``t`` always sum over
**every** step ``k < t``, and the per-step predicted and observed drifts
(``drift_pred``, ``drift_obs``, and their ``log K`` versions and terms) are kept
for every step.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from symlip.training.dynamics import MAX_SAMPLES
from symlip.training.dynamics import (ESTIMATORS, Loss, check_data, check_eta, check_int, check_loss, check_net,
                             mean_grad, draw_batches, sgd_moments)

if TYPE_CHECKING:  # pragma: no cover
    from symlip.models.network import MLP

__all__ = ["Trajectory", "sgd_trajectory", "pearson", "LOG_K_TERMS"]

#: the per-recorded-step moment fields (arrays (T, m) or (T,))
_LAYER_TERMS = ("flow", "mean_curvature", "noise_curvature", "mean", "var")
_SCALAR_TERMS = ("log_K_mean", "log_K_var", "log_K_var_block", "cross_fraction")
#: the terms of the predicted E[Δ log K] per step (they sum to log_K_mean)
LOG_K_TERMS = ("flow", "mean_curvature", "ito", "quadratic")


def pearson(a: Any, b: Any) -> float:
    """Pearson correlation of two equal-length sequences (``nan`` when either is constant or too short)."""
    a = np.asarray(a, dtype=float).reshape(-1)
    b = np.asarray(b, dtype=float).reshape(-1)
    if a.shape != b.shape:
        raise ValueError(f"pearson needs equal lengths; got {a.size} and {b.size}")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise ValueError("pearson needs finite values; got a NaN or infinite entry")
    if a.size < 3:
        return math.nan
    a = a - a.mean()
    b = b - b.mean()
    den = math.sqrt(float(a @ a) * float(b @ b))
    return float(a @ b) / den if den > 0 else math.nan


@dataclass(frozen=True, eq=False)
class Trajectory:
    """An SGD run with the §7 predictions accumulated along it.

    ``T`` recorded steps, ``n = steps`` SGD steps, ``m`` layers, ``P`` parameters.

    Attributes
    ----------
    t : ndarray (T,) of int
        The recorded step indices (``0``, multiples of ``record_every``, and ``steps``).
    theta : ndarray (T, P)
        The recorded iterates ``θ_t``.
    s : ndarray (T, m)
        Observed spectral norms ``s_ℓ(θ_t)`` (from the moments' SVD).
    K, log_K : ndarray (T,)
        ``K = S1^{m-1} ∏ s_ℓ`` and its logarithm.
    loss, grad_norm : ndarray (T,)
        ``L(θ_t)`` and ``|∇L(θ_t)|``.
    flow, mean_curvature, noise_curvature, mean, var : ndarray (T, m)
        The predicted terms of the next step ``θ_t → θ_{t+1}`` (:class:`~symlip.training.dynamics.Moments`):
        ``-η<J,∇L>``, ``(η²/2)∇L:H:∇L``, ``(η²/2)tr(HΣ_B)``, their sum ``E[Δs_ℓ]``, ``Var[Δs_ℓ]``.
        At ``t = steps`` they describe the step that was not taken.
    log_K_mean, log_K_var, log_K_var_block, cross_fraction : ndarray (T,)
        Predicted ``E[Δ log K]``, ``Var[Δ log K]``, its block-diagonal part, and the cross-layer
        covariances' part of ``Var[Δ log K]`` relative to the block-diagonal part (what [L]'s
        block-diagonal assumption drops; ``Var = Var_block (1 + cross_fraction)``).
    s_pred, s_sd : ndarray (T, m)
        ``s(0) + Σ_{k<t} E[Δs | θ_k]`` and ``sqrt(Σ_{k<t} Var[Δs | θ_k])`` (every step ``k < t``).
    log_K_pred, log_K_sd : ndarray (T,)
        The same for ``log K``.
    drift_pred, drift_obs : ndarray (n, m)
        Per SGD step ``k``: predicted ``E[Δs_ℓ | θ_k]`` and observed ``s_ℓ(θ_{k+1}) - s_ℓ(θ_k)``.
    log_K_drift_pred, log_K_drift_obs : ndarray (n,)
        The same for ``log K``.
    var_pred, log_K_var_pred, log_K_var_block_pred : ndarray (n, m), (n,), (n,)
        Per step, the predicted ``Var[Δs_ℓ | θ_k]``, ``Var[Δ log K | θ_k]`` and the latter's
        block-diagonal part (cross-layer covariances dropped, as [L] assumes).
    remainder, log_K_remainder : ndarray (n, m), (n,)
        Per step, the realised Taylor remainder: the observed ``Δs_ℓ`` minus its second-order
        expansion in the batch gradient actually used, ``-η<J_ℓ, g_k> + (η²/2) g_k:H_ℓ:g_k``
        (for ``log K``: minus ``Σ_ℓ (lin_ℓ + quad_ℓ)/s_ℓ - ½ Σ_ℓ lin_ℓ²/s_ℓ²``).  With
        ``estimator="exact"`` the expansion's conditional mean is exactly the prediction, so
        ``s(t) - s_pred(t)`` splits exactly into a martingale (the band's subject) plus
        ``Σ_{k<t} remainder_k`` — the part that second order leaves out (``O(η³)`` per step).
    log_K_sd_block : ndarray (T,)
        ``sqrt(Σ_{k<t} Var_block[Δ log K | θ_k])``: the band [L]'s block-diagonal assumption gives.
    log_K_terms : dict of str -> ndarray (n,)
        Per step, the terms of the predicted ``E[Δ log K]`` (they sum to ``log_K_drift_pred``):
        ``flow`` ``Σ flow_ℓ/s_ℓ``, ``mean_curvature`` ``Σ mcurv_ℓ/s_ℓ``, ``ito``
        ``Σ noise_curvature_ℓ/s_ℓ`` (the Itô term ``(η/2)tr(HΣ_B)/s`` times ``η``), and
        ``quadratic`` ``-½ Σ E[Δs_ℓ²]/s_ℓ²`` (the concavity of log).
    cross_step : ndarray (n,)
        ``cross_fraction`` at every step.
    setup : dict
        The inputs: eta, batch_size, steps, loss, replacement, seed, record_every, estimator,
        n_estimate, N, widths, activation.
    seconds : float
    """

    t: np.ndarray
    theta: np.ndarray
    s: np.ndarray
    K: np.ndarray
    log_K: np.ndarray
    loss: np.ndarray
    grad_norm: np.ndarray
    flow: np.ndarray
    mean_curvature: np.ndarray
    noise_curvature: np.ndarray
    mean: np.ndarray
    var: np.ndarray
    log_K_mean: np.ndarray
    log_K_var: np.ndarray
    log_K_var_block: np.ndarray
    cross_fraction: np.ndarray
    s_pred: np.ndarray
    s_sd: np.ndarray
    log_K_pred: np.ndarray
    log_K_sd: np.ndarray
    drift_pred: np.ndarray
    drift_obs: np.ndarray
    log_K_drift_pred: np.ndarray
    log_K_drift_obs: np.ndarray
    var_pred: np.ndarray
    log_K_var_pred: np.ndarray
    log_K_var_block_pred: np.ndarray
    remainder: np.ndarray
    log_K_remainder: np.ndarray
    log_K_sd_block: np.ndarray
    log_K_terms: dict[str, np.ndarray]
    cross_step: np.ndarray
    setup: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    # ------------------------------------------------------------------
    @property
    def steps(self) -> int:
        """The number of SGD steps taken."""
        return int(self.drift_obs.shape[0])

    @property
    def eta(self) -> float:
        return float(self.setup["eta"])

    @property
    def ito(self) -> np.ndarray:
        """``(η/2) tr(H_ℓ Σ_B)`` per unit time ``t = kη`` at the recorded steps, shape (T, m)."""
        return self.noise_curvature / self.eta

    def drift_corr(self, window: int = 1) -> np.ndarray:
        """Per layer, the correlation of predicted and observed drift over the steps.

        ``window = 1``: per step, ``corr(E[Δs_ℓ | θ_k], Δs_ℓ(k))`` — the observed step is
        dominated by its noise, so this is small even when the model is exact;
        ``window = w > 1``: the same for the sums over consecutive blocks of ``w`` steps.
        Returns ``(m + 1,)``: the layers, then ``log K``.
        """
        pred, obs, _ = self.window_sums(window)
        return np.array([pearson(pred[:, j], obs[:, j]) for j in range(pred.shape[1])])

    def window_sums(self, window: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Predicted and observed drift and the predicted sd, summed over consecutive
        blocks of ``window`` steps: three arrays ``(n // window, m + 1)`` (layers, then ``log K``)."""
        w = check_int("window", window, 1, self.steps)
        nb = self.steps // w

        def blocks(a: np.ndarray) -> np.ndarray:
            return a[:nb * w].reshape(nb, w, -1).sum(axis=1)

        pred = blocks(np.column_stack([self.drift_pred, self.log_K_drift_pred]))
        obs = blocks(np.column_stack([self.drift_obs, self.log_K_drift_obs]))
        sd = np.sqrt(blocks(np.column_stack([self.var_pred, self.log_K_var_pred])))
        return pred, obs, sd

    def window_z(self, window: int) -> np.ndarray:
        """``(observed - predicted)/sd`` of the drift summed over blocks of ``window`` steps,
        ``(n // window, m + 1)``: approximately independent standard normals when the model is
        right (the blocks' martingale increments are uncorrelated)."""
        pred, obs, sd = self.window_sums(window)
        with np.errstate(divide="ignore", invalid="ignore"):
            return (obs - pred) / sd

    def path_corr(self) -> np.ndarray:
        """Per layer (then ``log K``), the correlation over the recorded ``t > 0`` of the
        accumulated predicted change ``s_pred(t) - s(0)`` with the observed ``s(t) - s(0)``."""
        pred = np.column_stack([self.s_pred, self.log_K_pred])[1:]
        obs = np.column_stack([self.s, self.log_K])[1:]
        return np.array([pearson(pred[:, j], obs[:, j]) for j in range(pred.shape[1])])

    def accumulated_remainder(self) -> np.ndarray:
        """``Σ_{k<t} remainder_k`` at the recorded ``t``, shape (T, m + 1) (layers, then ``log K``)."""
        r = np.column_stack([self.remainder, self.log_K_remainder])
        return np.vstack([np.zeros(r.shape[1]), np.cumsum(r, axis=0)])[self.t]

    def coverage(self, k: float = 2.0, *, remove_remainder: bool = False, block: bool = False) -> np.ndarray:
        """Per layer (then ``log K``), the fraction of recorded ``t > 0`` with the observed
        value inside ``pred ± k sd``.

        ``remove_remainder``: test the martingale part ``observed - Σ remainder`` instead (what
        the band describes exactly); ``block``: the ``log K`` band from the block-diagonal
        variance only ([L]'s assumption; the layers are unchanged).
        """
        if isinstance(k, bool) or not isinstance(k, (int, float)) or not (math.isfinite(k) and k > 0):
            raise ValueError(f"k must be a finite number > 0; got {k!r}")
        pred = np.column_stack([self.s_pred, self.log_K_pred])[1:]
        obs = np.column_stack([self.s, self.log_K])[1:]
        if remove_remainder:
            obs = obs - self.accumulated_remainder()[1:]
        sd = np.column_stack([self.s_sd, self.log_K_sd_block if block else self.log_K_sd])[1:]
        return np.mean(np.abs(obs - pred) <= k * sd, axis=0)

    def z_final(self) -> np.ndarray:
        """``(observed - predicted)/sd`` at the last step, per layer then ``log K``."""
        pred = np.append(self.s_pred[-1], self.log_K_pred[-1])
        obs = np.append(self.s[-1], self.log_K[-1])
        sd = np.append(self.s_sd[-1], self.log_K_sd[-1])
        with np.errstate(divide="ignore", invalid="ignore"):
            return (obs - pred) / sd

    def growth(self) -> dict[str, Any]:
        """The change of ``log K`` over the run: observed, predicted (accumulated), its
        ±1 sd, the predicted split into :data:`LOG_K_TERMS`, and the mean Itô term.

        ``ito_rate`` is the time average of ``Σ_ℓ (η/2) tr(H_ℓ Σ_B)/s_ℓ`` per unit time
        ``t = kη`` (``log_K_terms["ito"] / η``), ``flow_rate`` the same for the gradient-flow
        term; ``*_late`` are the averages over the last fifth of the steps.  ``remainder`` is the
        accumulated realised Taylor remainder of ``log K`` (the part of observed − predicted that
        is not noise); ``cross_drift`` what [L]'s network-level Itô formula would add to the
        predicted drift, ``-½ Σ_k Σ_{ℓ≠j} Cov_k[Δs_ℓ, Δs_j]/(s_ℓ s_j)``.
        """
        n = self.steps
        late = slice(n - max(1, n // 5), n)
        eta = self.eta
        terms = {k: float(v.sum()) for k, v in self.log_K_terms.items()}
        return {
            "observed": float(self.log_K[-1] - self.log_K[0]),
            "predicted": float(self.log_K_pred[-1] - self.log_K[0]),
            "sd": float(self.log_K_sd[-1]),
            "terms": terms,
            "ito_rate": float(self.log_K_terms["ito"].mean() / eta),
            "flow_rate": float(self.log_K_terms["flow"].mean() / eta),
            "ito_rate_late": float(self.log_K_terms["ito"][late].mean() / eta),
            "flow_rate_late": float(self.log_K_terms["flow"][late].mean() / eta),
            "observed_late": float(self.log_K_drift_obs[late].sum()),
            "predicted_late": float(self.log_K_drift_pred[late].sum()),
            "sd_late": float(math.sqrt(max(0.0, float(np.sum(self.log_K_var_pred[late]))))),
            "late_steps": int(late.stop - late.start),
            "terms_late": {k: float(v[late].sum()) for k, v in self.log_K_terms.items()},
            "remainder": float(self.log_K_remainder.sum()),
            "cross_drift": float(-0.5 * np.sum(self.log_K_var_pred - self.log_K_var_block_pred)),
        }

    def to_dict(self, max_points: int = 200) -> dict[str, Any]:
        """JSON-able summary: setup, agreement figures, and the recorded curves at
        ``<= max_points`` points (θ is left out)."""
        idx = np.unique(np.linspace(0, self.t.size - 1, min(self.t.size, max(2, max_points))).astype(int))

        def cur(a: np.ndarray) -> list:
            return np.asarray(a)[idx].tolist()

        return {
            "setup": dict(self.setup), "steps": self.steps, "seconds": round(self.seconds, 3),
            "drift_corr": _nan_list(self.drift_corr(1)),
            "path_corr": _nan_list(self.path_corr()), "coverage_2sd": self.coverage(2.0).tolist(),
            "coverage_2sd_martingale": self.coverage(2.0, remove_remainder=True).tolist(),
            "log_K_coverage_2sd_block": float(self.coverage(2.0, block=True)[-1]),
            "remainder_final": self.accumulated_remainder()[-1].tolist(),
            "z_final": _nan_list(self.z_final()), "growth": self.growth(),
            "cross_fraction": {"median_abs": float(np.median(np.abs(self.cross_step))),
                               "max_abs": float(np.max(np.abs(self.cross_step)))},
            "curves": {"t": cur(self.t), "s": cur(self.s), "s_pred": cur(self.s_pred), "s_sd": cur(self.s_sd),
                       "log_K": cur(self.log_K), "log_K_pred": cur(self.log_K_pred),
                       "log_K_sd": cur(self.log_K_sd), "loss": cur(self.loss), "grad_norm": cur(self.grad_norm),
                       "ito": cur(self.ito), "cross_fraction": cur(self.cross_fraction)},
        }


def _nan_list(a: np.ndarray) -> list:
    return [None if not math.isfinite(float(v)) else float(v) for v in np.asarray(a).reshape(-1)]


# ---------------------------------------------------------------------------
def _check_bool(name: str, v: Any) -> bool:
    if not isinstance(v, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False; got {v!r}")
    return bool(v)


def sgd_trajectory(net: "MLP", theta0: Any, X: Any, y: Any, *, batch_size: int, eta: float, steps: int,
                   loss: Loss = "squared", replacement: bool = True, seed: int = 0, record_every: int = 1,
                   estimator: str = "exact", n_estimate: int | None = None, gap_tol: float = 1e-8) -> Trajectory:
    """Run SGD and accumulate the §7 one-step predictions along the observed path.

    Parameters
    ----------
    net, theta0 : MLP, array (P,)
        A scalar-output network and its starting parameters (not modified).
    X, y : arrays (N, d_0), (N,)
        The data SGD samples from (labels ±1 for the logistic loss).
    batch_size, eta, steps : int, float, int
        ``B``, ``η`` and the number of SGD steps.
    loss : {"squared", "logistic"}
    replacement : bool
        Batches with replacement (``Σ_B = Σ_1/B``) or without.
    seed : int
        Seeds the batches (``numpy.random.default_rng``) and, for ``estimator="low_rank"``,
        the estimator's samples: the run is reproducible.
    record_every : int
        Store the state and the moments every ``record_every`` steps (and at the last);
        the predictions are still computed at **every** step and accumulated.
    estimator : {"exact", "dense", "low_rank"}
        How :func:`~symlip.training.dynamics.sgd_moments` estimates the noise terms
        (``n_estimate`` gradients for ``"low_rank"``).
    gap_tol : float
        Relative spectral gap below which a top singular value counts as repeated;
        a step where that happens raises (the formulas do not apply there).

    Returns
    -------
    Trajectory

    Raises
    ------
    TypeError, ValueError
        Bad inputs (the message names the value); a non-finite iterate (SGD diverged)
        or a repeated top singular value along the way (the message names the step).
    """
    t0 = time.perf_counter()
    check_net(net)
    check_loss(loss)
    X2, yv = check_data(net, X, y, loss)
    theta = np.array(net.check_theta(theta0), dtype=float)
    N = X2.shape[0]
    replacement = _check_bool("replacement", replacement)
    B = check_int("batch_size", batch_size, 1, MAX_SAMPLES if replacement else N)
    eta = check_eta(eta)
    n = check_int("steps", steps, 1, MAX_SAMPLES)
    seed = check_int("seed", seed, 0)
    r = check_int("record_every", record_every, 1, n)
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {', '.join(map(repr, ESTIMATORS))}; got {estimator!r}")
    if n_estimate is not None:
        if estimator != "low_rank":
            raise ValueError(f"n_estimate is only used with estimator='low_rank'; got estimator={estimator!r}")
        check_int("n_estimate", n_estimate, 2)

    ss = np.random.SeedSequence(seed)
    batch_rng, est_rng = (np.random.default_rng(c) for c in ss.spawn(2))
    rec = sorted(set(range(0, n + 1, r)) | {n})
    m, P = net.depth, net.n_params
    T = len(rec)
    store: dict[str, np.ndarray] = {k: np.empty((T, m)) for k in ("s",) + _LAYER_TERMS}
    store.update({k: np.empty(T) for k in ("K", "log_K", "loss", "grad_norm") + _SCALAR_TERMS})
    thetas = np.empty((T, P))
    drift_pred, drift_obs = np.empty((n, m)), np.empty((n, m))
    lk_pred, lk_obs, lk_var, cross = np.empty(n), np.empty(n), np.empty(n), np.empty(n)
    lk_block, taylor, lk_taylor = np.empty(n), np.empty((n, m)), np.empty(n)
    var_steps = np.empty((n, m))
    terms = {k: np.empty(n) for k in LOG_K_TERMS}
    j = 0
    mom = None
    prev_s, prev_log_K = np.empty(m), 0.0
    # overflow on a diverging run is detected and reported below, not warned about
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for k in range(n + 1):
            try:
                mom = sgd_moments(net, theta, X2, yv, batch_size=B, eta=eta, loss=loss, replacement=replacement,
                                  estimator=estimator, n_estimate=n_estimate,
                                  seed=int(est_rng.integers(2 ** 63)) if estimator == "low_rank" else 0,
                                  gap_tol=gap_tol)
            except (ValueError, ArithmeticError) as exc:
                raise _at_step(exc, k, eta) from exc
            if not (np.isfinite(mom.mean).all() and np.isfinite(mom.cov).all() and math.isfinite(mom.log_K_mean)
                    and math.isfinite(mom.log_K) and math.isfinite(mom.loss_value)):
                raise ValueError(f"SGD diverged by step {k} (η = {eta:g}): the loss or the predicted moments are not "
                                 f"finite (|θ| = {float(np.linalg.norm(theta)):.3g})")
            if k > 0:  # the observed change of the step k-1 -> k
                drift_obs[k - 1] = mom.s - prev_s
                lk_obs[k - 1] = mom.log_K - prev_log_K
            if j < T and rec[j] == k:
                thetas[j] = theta
                store["s"][j] = mom.s
                store["K"][j], store["log_K"][j] = mom.K, mom.log_K
                store["loss"][j], store["grad_norm"][j] = mom.loss_value, mom.grad_norm
                for name in _LAYER_TERMS:
                    store[name][j] = getattr(mom, name)
                for name in _SCALAR_TERMS:
                    store[name][j] = getattr(mom, name)
                j += 1
            if k == n:
                break
            drift_pred[k] = mom.mean
            var_steps[k] = mom.var
            lk_pred[k], lk_var[k], cross[k] = mom.log_K_mean, mom.log_K_var, mom.cross_fraction
            lk_block[k] = mom.log_K_var_block
            terms["flow"][k] = float(np.sum(mom.flow / mom.s))
            terms["mean_curvature"][k] = float(np.sum(mom.mean_curvature / mom.s))
            terms["ito"][k] = float(np.sum(mom.noise_curvature / mom.s))
            terms["quadratic"][k] = float(-0.5 * np.sum((mom.var + mom.flow ** 2) / mom.s ** 2))
            prev_s, prev_log_K = mom.s, mom.log_K
            idx = draw_batches(batch_rng, N, B, 1, replacement)[0]
            g = mean_grad(net, theta, X2[idx], yv[idx], loss)
            # the second-order expansion of this very step (its remainder is O(η³))
            lin, quad = np.empty(m), np.empty(m)
            for i, ((sw, _), sp) in enumerate(zip(net.layer_slices, mom.spectra)):
                gW = g[sw].reshape(sp.shape)
                lin[i] = -eta * float(sp.directional(gW))
                quad[i] = 0.5 * eta ** 2 * float(sp.hessian_form(gW))
            taylor[k] = lin + quad
            lk_taylor[k] = float(np.sum((lin + quad) / mom.s) - 0.5 * np.sum((lin / mom.s) ** 2))
            theta = theta - eta * g
            if not np.isfinite(theta).all():
                raise ValueError(f"SGD diverged at step {k + 1} (η = {eta:g}): the iterate is not finite")
    rec_arr = np.asarray(rec)
    # accumulated predictions at the recorded t: sums over every step k < t
    cum_mean = np.vstack([np.zeros(m), np.cumsum(drift_pred, axis=0)])
    cum_var = np.vstack([np.zeros(m), np.cumsum(var_steps, axis=0)])
    cum_lk = np.concatenate([[0.0], np.cumsum(lk_pred)])
    cum_lk_var = np.concatenate([[0.0], np.cumsum(lk_var)])
    cum_lk_block = np.concatenate([[0.0], np.cumsum(lk_block)])
    s0, lk0 = store["s"][0], store["log_K"][0]
    setup = {"eta": eta, "batch_size": B, "steps": n, "loss": loss, "replacement": replacement, "seed": seed,
             "record_every": r, "estimator": estimator, "n_estimate": mom.n_estimate if mom else None, "N": N,
             "widths": list(net.widths), "activation": net.activation.name}
    return Trajectory(
        t=rec_arr, theta=thetas, s=store["s"], K=store["K"], log_K=store["log_K"], loss=store["loss"],
        grad_norm=store["grad_norm"], flow=store["flow"], mean_curvature=store["mean_curvature"],
        noise_curvature=store["noise_curvature"], mean=store["mean"], var=store["var"],
        log_K_mean=store["log_K_mean"], log_K_var=store["log_K_var"], log_K_var_block=store["log_K_var_block"],
        cross_fraction=store["cross_fraction"],
        s_pred=s0 + cum_mean[rec_arr], s_sd=np.sqrt(cum_var[rec_arr]),
        log_K_pred=lk0 + cum_lk[rec_arr], log_K_sd=np.sqrt(cum_lk_var[rec_arr]),
        drift_pred=drift_pred, drift_obs=drift_obs, log_K_drift_pred=lk_pred, log_K_drift_obs=lk_obs,
        var_pred=var_steps, log_K_var_pred=lk_var,
        log_K_var_block_pred=lk_block, remainder=drift_obs - taylor, log_K_remainder=lk_obs - lk_taylor,
        log_K_sd_block=np.sqrt(cum_lk_block[rec_arr]), log_K_terms=terms, cross_step=cross, setup=setup,
        seconds=time.perf_counter() - t0)


def _at_step(exc: BaseException, k: int, eta: float) -> BaseException:
    msg = f"at SGD step {k} (η = {eta:g}): {str(exc).strip().splitlines()[0] if str(exc).strip() else exc!r}"
    try:
        return type(exc)(msg)
    except Exception:  # an exception type with another constructor
        return ValueError(msg)
