"""Lower bounds: no global bound exists (docs/theory.md §4) — witnessed claims.

Each claim says ``sup_{|θ| <= r} Q >= c r^e`` on the ball of radius ``r`` around
``θ = 0``, for ``Q = |∇_θ f|`` (``e = m - 1``, a lower bound of the Lipschitz
constant of ``θ ↦ f(x;θ)``) or ``Q = ||∇²_θ f||_2`` (``e = 2m - 3``, of ``θ ↦ ∇_θ f``),
with inputs ``|x| <= R``.  ``symlip check`` builds the witness of
:mod:`symlip.bounds.lower`, checks in mpmath that it lies in the ball and evaluates ``Q``
at two precisions; the claim is *witnessed* when both beat the formula.

Proof sketch (docs/theory.md §4).  Carry a scalar chain on unit 0 of every layer (all
other weights and biases 0; they only add to ``|∇_θ f|``), with input
``x = R e_0``, weights ``w_j = w`` and biases ``b_1 = t0 - wR``,
``b_j = t0 - w σ(t0)`` (``1 < j < m``), ``b_m = 0``.  Every hidden pre-activation
of the chain equals ``t0``, so backpropagation gives
``δ_1 = ∂f/∂a_1 = (w σ'(t0))^{m-1}`` and ``|∇_θ f| >= |δ_1| √(1 + R²)`` (the
entries of ``w_1`` and ``b_1``).  Differentiating ``∂f/∂w_1 = R w^{m-1} ∏_j σ'(a_j)``
once more in ``w_1`` (``∂a_j/∂w_1 = R (w σ'(t0))^{j-1}``):

    ∂²f/∂w_1² = R² σ''(t0) σ'(t0)^{m-2} w^{m-1} Σ_{j=0}^{m-2} (w σ'(t0))^j,

a sum of terms of one sign when ``σ'(t0) > 0``, so ``||∇²_θ f||_2 >= |∂²f/∂w_1²|
>= R² |σ''(t0)| σ'(t0)^{2m-4} w^{2m-3}``.  The parameters are ``θ(w) = w a + t0 e``
with ``|a|² = m + R² + (m-2) σ(t0)²`` and ``|e|² = m - 1``; the largest ``w`` with
``|θ(w)| = r`` satisfies ``w >= (r - |t0| √(m-1)) / |a| >= κ r / |a|`` once
``r >= |t0| √(m-1) / (1 - κ)``.  With ``κ = 1/2`` (or ``κ = 1 - 10⁻⁹`` when
``t0 = 0``, which needs no minimum radius; the witness sits a relative 10⁻¹²
inside the sphere):

    c  = √(1+R²) (κ σ'(t0) / |a|)^{m-1},    c' = R² |σ''(t0)| σ'(t0)^{2m-4} (κ / |a|)^{2m-3}.

At interior points where ``f`` is twice differentiable these local quantities
are limits of difference quotients inside the convex ball, hence lower bounds of
the Lipschitz constants there.  ``t0`` is chosen by :func:`symlip.bounds.lower.choose_t0`
(``σ'(t0) > 0``, ``σ''(t0) ≠ 0`` for the gradient, away from kinks) and the
choice is printed in the report.  The exponents equal those of U1 and U2 on the
ball (``ω_i = β_i = r``), so both are tight; ``symlip growth`` shows the slopes.

False variants (a wrong exponent, a constant above the upper bound) and
region-independent upper bounds, which this construction breaks, are in
``proofs/mutants/lower_mutants.py``.
"""
from __future__ import annotations

import numpy as np

from symlip import MLP, Region
from symlip.search.claims import Case, Claim
from symlip.bounds.lower import LowerFormula

__all__ = ["CASES", "CLAIMS"]

_WHY = {"lip_f": "docs/theory.md §4: the chain construction gives sup |∇_θ f| >= c r^(m-1) on |θ| <= r.",
        "lip_grad": "docs/theory.md §4: the chain construction gives sup ||∇²_θ f||_2 >= c' r^(2m-3) on |θ| <= r."}

#: the two lower-bound claims (the formula adapts to depth, activation and R)
CLAIMS = {q: Claim(name=f"L4-{q}", quantity=q, bound=LowerFormula(q), direction="lower",
                   assumptions=("lipschitz",) if q == "lip_f" else ("smooth",), why=_WHY[q])
          for q in ("lip_f", "lip_grad")}

_SPECS = [  # (quantity, widths, activation, ball radius around 0, R)
    ("lip_f", (3, 1), "elu", 5.0, 1.0),
    ("lip_f", (1, 1, 1), "tanh", 10.0, 1.0),
    ("lip_f", (1, 1, 1), "leaky_relu", 10.0, 0.5),
    ("lip_f", (2, 4, 4, 1), "tanh", 100.0, 2.0),
    ("lip_f", (1, 1, 1, 1), "sigmoid", 50.0, 1.0),
    ("lip_f", (1, 3, 3, 1), "softplus", 30.0, 1.0),
    ("lip_f", (3, 5, 5, 5, 1), "relu", 20.0, 1.0),
    ("lip_f", (2, 2, 2, 2, 2, 1), "gelu", 10.0, 1.0),
    ("lip_grad", (1, 1, 1), "tanh", 10.0, 1.0),
    ("lip_grad", (1, 1, 1, 1, 1), "tanh", 100.0, 1.0),
    ("lip_grad", (2, 3, 3, 1), "sigmoid", 100.0, 1.0),
    ("lip_grad", (1, 1, 1), "softplus", 20.0, 2.0),
    ("lip_grad", (1, 4, 4, 4, 1), "silu", 30.0, 1.0),
]

CASES = []
for _q, _widths, _act, _r, _R in _SPECS:
    _net = MLP(_widths, _act)
    CASES.append(Case(CLAIMS[_q], _net, Region.ball(np.zeros(_net.n_params), _r), R=_R, weight=0.2))
