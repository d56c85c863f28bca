"""One SGD step's moments of the spectral norms and of log K (docs/theory.md §7), checked statistically.

Each case takes a network at a generic point θ (30 seeded SGD steps from its
initialisation on teacher-student data), predicts a statistic of one SGD step
with :func:`symlip.training.dynamics.sgd_moments` and tests it against ``n_steps`` real
SGD steps from θ (:mod:`symlip.training.moment_claims`: H0 ``|obs - pred| <= rel_tol |pred|``,
per-run false-alarm rate ``α = 1e-3``, a rejection confirmed by an independent run).

Derivation (second-order Taylor, ``Δ = -η g``, ``E[g] = ∇L``, ``E[g g^T] = ∇L∇L^T + Σ_B``)
------------------------------------------------------------------------------------------
``s(W + Δ) = s + <J, Δ> + ½ Δ:H:Δ + O(|Δ|³)`` with ``J = u v^T`` and ``H`` the
Hessian of the top singular value (:mod:`symlip.training.spectral`), so

    E[Δs]   = -η <J, ∇L> + (η²/2)(∇L:H:∇L + tr(H Σ_B)) + O(η³),
    Var[Δs] = η² J:Σ_B:J + O(η³),  Cov[Δs_ℓ, Δs_k] = η² J_ℓ:Σ_B:J_k + O(η³),

``Σ_B = Σ_1/B`` (with replacement) or ``(N - B)/(B(N - 1)) Σ_1`` (without),
``Σ_1`` the population covariance of the per-sample gradients.  The error of the
mean is ``O(η³)``: relative to the second-order part it is ``O(η)``, so the
claims below use small ``η`` (0.002–0.005) and tolerances of 5–10 %.

``log K = (m-1) log S1 + Σ_ℓ log s_ℓ`` and ``log(1 + t) = t - t²/2 + O(t³)`` give

    E[Δ log K]   = Σ_ℓ E[Δs_ℓ]/s_ℓ - Σ_ℓ (Var[Δs_ℓ] + E[Δs_ℓ]²)/(2 s_ℓ²) + O(η³),
    Var[Δ log K] = Σ_{ℓ,k} Cov[Δs_ℓ, Δs_k]/(s_ℓ s_k) + O(η³).

Finding (docs/theory.md §7 corrected)
------------------------------
The working spec we started from (docs/theory.md, Appendix A) states ``d log K = Σ_ℓ ds_ℓ/s_ℓ - ½ Σ_{ℓ,k} d<s_ℓ, s_k>/(s_ℓ s_k)``.  Since
``log K`` is a *sum* of ``log s_ℓ``, Itô's formula applies term by term:
``d log K = Σ_ℓ ( ds_ℓ/s_ℓ - ½ d<s_ℓ>/s_ℓ² )`` — no cross terms in the drift.  The
cross-layer covariations enter the *variance* of ``d log K`` (and the drift of
``K`` itself, ``dK/K = Σ ds_ℓ/s_ℓ + Σ_{ℓ<k} d<s_ℓ, s_k>/(s_ℓ s_k)``), not the drift of
``log K``.  The statement as written is the mutant
``M-MATH7-logK-drift-cross-terms`` (``proofs/mutants/dynamics_mutants.py``),
violated on a network whose layers' gradient noise is strongly correlated; the
corrected drift is claim ``logK-drift`` below.  [L]'s block-diagonal noise
assumption therefore costs nothing in ``E[Δ log K]`` but biases ``Var[Δ log K]``
(mutant ``M-L-block-diagonal-logK-var``).
"""
from __future__ import annotations

from _catalogue import sgd_point

from symlip.training.moment_claims import MomentCase, MomentClaim



def _mean(rel_tol: float, flow_error: str) -> MomentClaim:
    """E[Δs_ℓ] to second order, with a tolerance below the error of gradient flow alone at the point
    (so the first-order term alone fails it: mutant M-flow-only-mean)."""
    return MomentClaim("E[ds]", "mean", rel_tol=rel_tol,
                       why=f"docs/theory.md §7 one-step mean of Δs_ℓ to second order; error O(η³), relative O(η²). "
                           f"The tolerance {rel_tol:.2%} is below the error of gradient flow alone here "
                           f"({flow_error}), so this tests the second-order terms.")


_SECOND = MomentClaim("E[ds]-flow", "second_order", rel_tol=0.05,
                      why="The second-order part (η²/2)(∇L:H:∇L + tr(HΣ_B)) of E[Δs_ℓ]; error O(η³), "
                          "relative O(η).")
_VAR = MomentClaim("Var[ds]", "var", rel_tol=0.10,
                   why="Var[Δs_ℓ] = η² J:Σ_B:J (gradient noise projected on the Jacobian u v^T); error O(η³).")
_LOGK = MomentClaim("logK-drift", "log_K_second_order", rel_tol=0.10,
                    why="E[Δ log K] beyond gradient flow: Σ_ℓ [second-order part of E[Δs_ℓ]]/s_ℓ - Σ_ℓ "
                        "E[Δs_ℓ²]/(2 s_ℓ²) — per layer, no cross-layer terms (docs/theory.md §7 corrected).")
_LOGK_VAR = MomentClaim("Var[dlogK]", "log_K_var", rel_tol=0.10,
                        why="Var[Δ log K] = Σ_{ℓ,k} η² J_ℓ:Σ_B:J_k/(s_ℓ s_k), cross-layer terms included.")


def _cases() -> list[MomentCase]:
    out: list[MomentCase] = []

    def add(claim: MomentClaim, point: tuple, *, batch_size: int, eta: float, replacement: bool = True,
            loss: str = "squared", n_steps: int = 20000) -> None:
        net, theta, X, y = point
        out.append(MomentCase(claim, net, theta, X, y, batch_size=batch_size, eta=eta, replacement=replacement,
                              loss=loss, n_steps=n_steps))

    tanh3 = sgd_point((4, 12, 12, 1), "tanh", 128, seed=0)
    for c in (_mean(2e-4, "0.08-0.17%"), _SECOND, _VAR, _LOGK, _LOGK_VAR):
        add(c, tanh3, batch_size=8, eta=0.003)
    small = sgd_point((3, 8, 1), "sigmoid", 64, seed=1)
    for c in (_SECOND, _VAR):                           # without replacement, B close to N
        add(c, small, batch_size=48, eta=0.005, replacement=False)
    cls = sgd_point((3, 10, 1), "softplus", 96, seed=2, task="classification", loss="logistic", label_noise=0.2)
    for c in (_mean(1e-3, "0.31% and 2.7%"), _SECOND, _VAR):
        add(c, cls, batch_size=8, eta=0.005, loss="logistic")
    deep = sgd_point((3, 6, 6, 6, 1), "gelu", 96, seed=3)
    for c in (_SECOND, _LOGK, _LOGK_VAR):
        add(c, deep, batch_size=4, eta=0.003)
    chain = sgd_point((1, 1, 1), "tanh", 64, seed=1, positive_inputs=True)   # strongly correlated layers
    for c in (_LOGK, _LOGK_VAR):
        add(c, chain, batch_size=4, eta=0.003)
    return out


CASES = _cases()
