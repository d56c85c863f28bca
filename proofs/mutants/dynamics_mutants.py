"""False statements about one SGD step's moments (docs/theory.md §7) that the statistical check must catch.

Each is a plausible slip in the derivation of ``proofs/dynamics.py``; the test
rejects it at ``α = 1e-3`` twice (independent Monte-Carlo runs).  The first is
docs/theory.md §7's own network-level Itô formula, read as a one-step statement: the
finding recorded in ``proofs/dynamics.py``.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from symlip.training.moment_claims import MomentCase, MomentClaim

_PROOFS = str(Path(__file__).resolve().parent.parent)   # proofs/_catalogue.py: the shared points
sys.path.insert(0, _PROOFS)
try:
    from _catalogue import sgd_point
finally:
    sys.path.remove(_PROOFS)


def _log_k_with_cross_terms(m):
    """docs/theory.md §7 as stated: ``- ½ Σ_{ℓ,k} Cov/(s_ℓ s_k)`` in the drift of log K (cross terms included)."""
    return m.log_K_mean - np.sum(m.flow / m.s) - 0.5 * (m.log_K_var - m.log_K_var_block)


def _no_ito(m):
    return m.mean_curvature


def _batch_ignored(m):
    return m.var * m.batch_size


def _with_replacement_formula(m):
    return m.var * (m.N - 1) / (m.N - m.batch_size)


def _block_diagonal(m):
    return m.log_K_var_block


def _flow_only(m):
    return m.flow


def _cases() -> list[MomentCase]:
    out: list[MomentCase] = []

    def add(claim, point, **kw) -> None:
        net, theta, X, y = point
        out.append(MomentCase(claim, net, theta, X, y, **kw))

    chain = sgd_point((1, 1, 1), "tanh", 64, seed=1, positive_inputs=True)
    add(MomentClaim(
        "M-MATH7-logK-drift-cross-terms", "log_K_second_order", predict=_log_k_with_cross_terms, rel_tol=0.05,
        expect="fails",
        why="docs/theory.md §7's d log K = Σ ds_ℓ/s_ℓ - ½ Σ_{ℓ,k} d<s_ℓ,s_k>/(s_ℓ s_k) puts the cross-layer covariations "
            "into the drift of log K; log K is a sum of log s_ℓ, so only the ℓ = k terms belong there. f = w2 "
            "tanh(w1 x + b1) + b2 with x > 0: both layers' projected noises are r_n·(positive)·x_n, strongly "
            "correlated (cross fraction 0.86): observed second-order drift of log K -4.50e-6, the working spec's -8.24e-6."),
        chain, batch_size=4, eta=0.003)
    add(MomentClaim(
        "M-L-block-diagonal-logK-var", "log_K_var", predict=_block_diagonal, rel_tol=0.05, expect="fails",
        why="[L]'s block-diagonal noise assumption: Var[Δ log K] = Σ_ℓ Var[Δs_ℓ]/s_ℓ², cross-layer covariances "
            "dropped; with correlated layers (cross fraction 0.86) it predicts 8.76e-6 where 1.62e-5 is observed."),
        chain, batch_size=4, eta=0.003)
    tanh3 = sgd_point((4, 12, 12, 1), "tanh", 128, seed=0)
    add(MomentClaim(
        "M-no-Ito-term", "second_order", predict=_no_ito, rel_tol=0.05, expect="fails",
        why="The noise-on-the-Hessian term (η²/2) tr(H Σ_B) forgotten: only the mean-gradient curvature kept."),
        tanh3, batch_size=8, eta=0.003)
    add(MomentClaim(
        "M-batch-size-ignored", "var", predict=_batch_ignored, rel_tol=0.10, expect="fails",
        why="Var[Δs] with the per-sample covariance Σ_1 instead of the batch-mean covariance Σ_1/B."),
        tanh3, batch_size=8, eta=0.003)
    small = sgd_point((3, 8, 1), "sigmoid", 64, seed=1)
    add(MomentClaim(
        "M-replacement-formula-without-replacement", "var", predict=_with_replacement_formula, rel_tol=0.10,
        expect="fails",
        why="Σ_1/B used for batches drawn without replacement; the finite-population factor (N-B)/(N-1) = 16/63 "
            "is missing, so the predicted variance is ~4x too large at B = 48 of N = 64."),
        small, batch_size=48, eta=0.005, replacement=False)
    for point, kw, tol in ((sgd_point((4, 12, 12, 1), "tanh", 128, seed=0), dict(batch_size=8, eta=0.003), 2e-4),
                           (sgd_point((3, 10, 1), "softplus", 96, seed=2, task="classification", loss="logistic",
                                      label_noise=0.2), dict(batch_size=8, eta=0.005, loss="logistic"), 1e-3)):
        add(MomentClaim(
            "M-flow-only-mean", "mean", predict=_flow_only, rel_tol=tol, expect="fails",
            why="E[Δs] = -η<J,∇L> (gradient flow alone) at the tolerance of proofs/dynamics.py's E[ds] claim: "
                "the second-order terms, not the flow, are what that claim tests."), point, **kw)
    near = sgd_point((2, 8, 1), "tanh", 64, seed=2, noise_std=1.0, pre_steps=3000, eta=0.2)
    add(MomentClaim(
        "M-gradient-flow-only-near-minimum", "mean", predict=_flow_only, rel_tol=0.05, expect="fails",
        why="E[Δs] = -η<J,∇L> (gradient flow alone) after 3000 SGD steps on noisy targets: |∇L| is small but "
            "the Itô term (η²/2) tr(HΣ_B) is not, so s_ℓ (and K) keep drifting."),
        near, batch_size=4, eta=0.05)
    return out


CASES = _cases()
