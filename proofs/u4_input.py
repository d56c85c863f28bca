"""U4 — a Lipschitz constant of x ↦ f(x; θ), uniformly over a parameter region (docs/theory.md §3).

Claim
-----
For a depth-``m`` network with a Lipschitz activation and every θ in the box
``||W_i||_2 <= ω_i``, ``|b_i| <= β_i`` (or a ball inside it, docs/theory.md §2)::

    |f(x; θ) - f(x'; θ)| <= S1^{m-1} ∏_{i=1}^{m} ||W_i||_2 |x - x'|
                          <= S1^{m-1} ∏_{i=1}^{m} ω_i |x - x'|.

This is the input-Lipschitz quantity K whose SGD dynamics [L] studies
(docs/theory.md §7).

Proof sketch
------------
1. *Layer maps.*  x ↦ f(x; θ) is the composition
   z_0 ↦ a_1 ↦ z_1 ↦ ... ↦ z_{m-1} ↦ a_m = f.
   - z_{i-1} ↦ a_i = W_i z_{i-1} + b_i is affine with Lipschitz constant
     ||W_i||_2 (the operator norm; the bias cancels in differences);
   - a_i ↦ z_i = σ(a_i) acts componentwise with |σ(t) - σ(t')| <= S1 |t - t'|,
     so |z_i - z'_i|^2 = Σ_k |σ(a_{ik}) - σ(a'_{ik})|^2 <= S1^2 |a_i - a'_i|^2.
2. *Composition.*  Lipschitz constants multiply under composition: m affine
   maps and m - 1 activation layers give S1^{m-1} ∏_i ||W_i||_2.  No
   differentiability is used, so the bound holds for ReLU-like σ; where f is
   differentiable it reads |∇_x f| = |W_m D_{m-1} W_{m-1} ... D_1 W_1| with
   D_i = diag(σ'(a_i)), |D_i|_2 <= S1, and submultiplicativity.
3. *Region.*  On the box ||W_i||_2 <= ω_i; a ball of radius ρ around θ° lies in
   the box ω_i = ||W°_i||_2 + ρ (docs/theory.md §2).  The bound holds for every input,
   so in particular on |x| <= R; it does not depend on R or on the biases.

Tightness: at depth 1, ∇_x f = W_1 and sup_Θ ||W_1||_2 = ω_1 exactly.  For the
identity activation f is linear in x with Jacobian W_m ... W_1, and the bound
is attained when the top singular vectors are aligned.  For deeper nonlinear
networks the bound is attained only when every pre-activation sits where
|σ'| = S1 along the aligned direction, which the region's biases may not allow.
(A Frobenius-norm box would also be valid, since ||W||_2 <= ||W||_F.)

The cases cover depths 1–5, widths 1–16, ReLU, leaky ReLU, softsign, tanh,
sigmoid, GELU (S1 > 1), SiLU, ELU, sin and identity, on boxes and balls around
``net.init(seed)``.
"""
from __future__ import annotations

from _catalogue import CaseList, derived_claims

from symlip import Region
from symlip.search.claims import Case, Claim

__all__ = ["CLAIMS", "CASES"]

#: U4 for depths 1..5 (docs/theory.md §3), valid for every Lipschitz activation.
CLAIMS: dict[int, Claim] = derived_claims(
    "U4", "lip_input", assumptions=("lipschitz",),
    why="docs/theory.md §3 U4: x ↦ f composes m affine maps (Lipschitz ||W_i||_2 <= ω_i) and m-1 "
            "componentwise S1-Lipschitz activation layers.",
)


def _cases() -> list[Case]:
    cases = CaseList(CLAIMS)
    add = cases.add

    # depth 1: the bound ω_1 is the exact value
    add((4, 1), "relu", Region.box(2.0, 1.0), R=1.0)
    # depth 2
    add((3, 8, 1), "relu", (0, 0.5), R=1.0)
    add((2, 1, 1), "tanh", Region.box([1.5, 2.0], 0.5), R=1.0)
    add((5, 16, 1), "gelu", Region.box(1.2, 1.0), R=1.5, weight=1.5)
    # depth 3
    add((2, 6, 6, 1), "leaky_relu", Region.box(1.2, 0.3), R=1.0)
    add((3, 8, 8, 1), "sigmoid", (1, 1.0), R=2.0)
    add((1, 4, 4, 1), "softsign", Region.box(1.3, 0.5), R=1.0)
    # depth 4
    add((4, 6, 6, 6, 1), "identity", (2, 0.5), R=1.0)
    add((2, 8, 8, 8, 1), "silu", Region.box(1.0, 0.5), R=1.0, weight=1.5)
    # depth 5
    add((3, 6, 6, 6, 6, 1), "elu", (3, 0.3), R=1.0, weight=1.5)
    add((2, 4, 1, 4, 4, 1), "sin", Region.box(1.1, 0.2), R=1.0)
    return cases


#: the U4 catalogue: 11 cases, depths 1–5
CASES: list[Case] = _cases()
