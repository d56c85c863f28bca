"""U2 — a Lipschitz constant of θ ↦ ∇_θ f(x; θ) on a parameter region (docs/theory.md §3).

Claim
-----
For a depth-``m`` network with a *smooth* activation (S2 = Lip(σ') < ∞,
docs/theory.md §1), every input ``|x| <= R`` and all θ, θ' in the box
``||W_i||_2 <= ω_i``, ``|b_i| <= β_i`` (or a ball inside it, docs/theory.md §2)::

    |∇_θ f(x; θ) - ∇_θ f(x; θ')| <= L_∇f |θ - θ'|,   L_∇f = sqrt( Σ_i K_i^2 ),

with B_i, G_i of U1 and the recursions of docs/theory.md §3 for A_i, Λ_i, Γ_i, K_i.

Proof sketch
------------
Fix θ, θ' in the box, write Δu = u(θ) - u(θ') for any intermediate quantity u
and ε = |θ - θ'|, so |Δθ_i| <= ε for every layer.  Since σ' is Lipschitz, σ is
C^1 and ∇_θ f exists everywhere; no second derivative of σ is needed.
1. *Pointwise bounds (U1).*  |z_i| <= B_i and |δ_i| <= G_i for δ_i = ∂f/∂a_i,
   δ_m = 1, δ_i = σ'(a_i) ⊙ W_{i+1}^T δ_{i+1}, at θ and at θ' alike.
2. *Forward perturbation: |Δa_i| <= A_i ε, |Δz_i| <= Λ_i ε.*  z_0 = x does not
   move, so Λ_0 = 0.  Splitting
   a_i - a'_i = (ΔW_i z_{i-1} + Δb_i) + W'_i (z_{i-1} - z'_{i-1}),
   the first part is at most sqrt(1 + B_{i-1}^2) |Δθ_i| (Cauchy–Schwarz), the
   second at most ω_i Λ_{i-1} ε: A_i = ω_i Λ_{i-1} + sqrt(1 + B_{i-1}^2).  σ is
   S1-Lipschitz componentwise, so Λ_i = S1 A_i.
3. *Backward perturbation: |Δδ_i| <= Γ_i ε.*  Γ_m = 0 (δ_m = 1).  With
   s_i = σ'(a_i) and v_i = W_{i+1}^T δ_{i+1} (|v_i| <= ω_{i+1} G_{i+1}):
   Δδ_i = Δs_i ⊙ v_i + s'_i ⊙ Δv_i.
   - |Δs_i ⊙ v_i| <= max_k |Δs_{i,k}| |v_i| <= S2 |Δa_i|_∞ |v_i|
     <= S2 A_i ω_{i+1} G_{i+1} ε   (σ' is S2-Lipschitz; |·|_∞ <= |·|_2);
   - Δv_i = ΔW_{i+1}^T δ_{i+1} + W'^T_{i+1} Δδ_{i+1}, of norm at most
     (G_{i+1} + ω_{i+1} Γ_{i+1}) ε (|ΔW|_2 <= |ΔW|_F <= ε), and |s'_i| <= S1.
   Hence Γ_i = S1 ω_{i+1} Γ_{i+1} + S1 G_{i+1} + S2 G_{i+1} ω_{i+1} A_i.
4. *Gradient blocks.*  ∇_{θ_i} f = (δ_i z_{i-1}^T, δ_i), so
   Δ∇_{θ_i} f = (Δδ_i z_{i-1}^T, Δδ_i) + (δ'_i Δz_{i-1}^T, 0).  The first term has
   norm |Δδ_i| sqrt(1 + |z_{i-1}|^2) <= Γ_i sqrt(1 + B_{i-1}^2) ε, the second
   |δ'_i| |Δz_{i-1}| <= G_i Λ_{i-1} ε: together K_i ε.
5. *Assembly.*  |Δ∇_θ f|^2 = Σ_i |Δ∇_{θ_i} f|^2 <= Σ_i K_i^2 ε^2.  No segment
   is used, so the bound holds for any two points of the box.

Checks (docs/theory.md §3): m = 1 gives 0 (f is affine in θ; exactly true); m = 2
gives K_1 = S1 sqrt(1+R^2) + S2 ω_2 (1+R^2), K_2 = S1 sqrt(1+R^2).  Every step
needs only S1, S2 < ∞: activations whose σ'' jumps (ELU at 0, softsign at 0)
are covered, ReLU (σ' discontinuous) is not — ∇_θ f jumps across a kink, so
no finite Lipschitz constant exists (see proofs/mutants).

The cases cover depths 1–5, widths 1–16, the smooth activations tanh, sigmoid,
softplus, GELU, SiLU, ELU, sin, softsign (C^{1,1}) and identity (S2 = 0, the
network is polynomial in θ), on boxes and balls around ``net.init(seed)``.
"""
from __future__ import annotations

from _catalogue import CaseList, derived_claims

from symlip import Region
from symlip.search.claims import Case, Claim

__all__ = ["CLAIMS", "CASES"]

#: U2 for depths 1..5 (docs/theory.md §3); needs a smooth activation.
CLAIMS: dict[int, Claim] = derived_claims(
    "U2", "lip_grad", assumptions=("smooth",),
    why="docs/theory.md §3 U2: perturbation bounds |Δa_i| <= A_i ε, |Δz_i| <= Λ_i ε forward and "
            "|Δδ_i| <= Γ_i ε backward give |Δ∇_{θ_i} f| <= K_i ε per layer.",
)


def _cases() -> list[Case]:
    cases = CaseList(CLAIMS)
    add = cases.add

    # depth 1: ∇_θ f = (x, 1) does not depend on θ, the bound is exactly 0
    add((3, 1), "tanh", Region.box(1.0, 1.0), R=1.0)
    # depth 2
    add((1, 1, 1), "tanh", Region.box(2.0, 1.0), R=1.0)
    add((3, 8, 1), "sigmoid", (0, 1.0), R=2.0)
    add((2, 16, 1), "softplus", Region.box(1.5, 0.5), R=1.0, weight=1.5)
    # depth 3
    add((2, 6, 6, 1), "gelu", Region.box(1.2, 0.3), R=1.0)
    add((4, 1, 4, 1), "sin", (1, 0.5), R=1.0)
    add((2, 5, 5, 1), "identity", Region.box(1.5, 0.5), R=1.0)
    add((2, 4, 4, 1), "softsign", Region.box(1.2, 0.3), R=1.0)
    # depth 4
    add((3, 6, 6, 6, 1), "silu", (2, 0.4), R=1.0, weight=1.5)
    add((2, 4, 4, 4, 1), "elu", Region.box(1.0, 0.2), R=1.5)
    # depth 5
    add((2, 4, 4, 4, 4, 1), "tanh", (3, 0.3), R=1.0, weight=1.5)
    return cases


#: the U2 catalogue: 11 cases, depths 1–5
CASES: list[Case] = _cases()
