"""U1 — a Lipschitz constant of θ ↦ f(x; θ) on a parameter region (docs/theory.md §3).

Claim
-----
For a depth-``m`` network (docs/theory.md §1) with a Lipschitz activation, every input
``|x| <= R`` and all θ, θ' in the box ``||W_i||_2 <= ω_i``, ``|b_i| <= β_i``
(or any region inside it, e.g. a ball, docs/theory.md §2)::

    |f(x; θ) - f(x; θ')| <= L_f |θ - θ'|,
    L_f = sqrt( Σ_{i=1}^{m} G_i^2 (1 + B_{i-1}^2) ).

Proof sketch
------------
1. *Forward bound B_i >= |z_i| (docs/theory.md §3).*  B_0 = R = sup |x|.  For 0 < i < m,
   componentwise |σ(t)| <= |σ(0)| + S1 |t|, so by the triangle inequality in
   R^{d_i}: |z_i| <= sqrt(d_i) c0 + S1 |a_i|, and
   |a_i| <= ||W_i||_2 |z_{i-1}| + |b_i| <= ω_i B_{i-1} + β_i.  Independently
   |z_i| <= sqrt(d_i) S0 (each of the d_i components is at most S0).  B_i is
   the smaller of the two.  It holds for every θ of the box.
2. *Backward Lipschitz constant G_i of a_i ↦ f.*  Freeze the layers i+1..m.
   z_i = σ(a_i) is S1-Lipschitz in a_i (componentwise S1-Lipschitz implies
   S1-Lipschitz in the Euclidean norm), a_{i+1} = W_{i+1} z_i + b_{i+1} is
   ||W_{i+1}||_2 <= ω_{i+1} Lipschitz, and f = a_m.  Composing,
   a_i ↦ f is G_i-Lipschitz with G_m = 1, G_i = S1 ω_{i+1} G_{i+1}
   = S1^{m-i} ∏_{j>i} ω_j.  Where f is differentiable this is |δ_i| <= G_i for
   δ_i = ∂f/∂a_i = σ'(a_i) ⊙ W_{i+1}^T δ_{i+1}; no differentiability is needed.
3. *One layer at a time.*  Change only θ_i = (W_i, b_i) to θ'_i.  The earlier
   layers are untouched, so z_{i-1} is the same and
   |a_i - a'_i| = |ΔW_i z_{i-1} + Δb_i| <= |ΔW_i|_F B_{i-1} + |Δb_i|
   <= sqrt(1 + B_{i-1}^2) |Δθ_i|   (Cauchy–Schwarz in (|ΔW_i|_F, |Δb_i|)).
   With step 2: |Δf| <= c_i |Δθ_i|, c_i = G_i sqrt(1 + B_{i-1}^2).
   Equivalently ∇_{θ_i} f = (δ_i z_{i-1}^T, δ_i) has norm |δ_i| sqrt(1 + |z_{i-1}|^2).
4. *Assembly.*  Walk from θ to θ' through the hybrids
   θ^{(k)} = (θ'_1, ..., θ'_k, θ_{k+1}, ..., θ_m), k = 0..m.  The box is a
   product of per-layer constraints, so every hybrid stays in it (for a ball
   region, in its enclosing box of docs/theory.md §2, on which the bound is
   evaluated).  Telescoping and Cauchy–Schwarz:
   |f(θ) - f(θ')| <= Σ_k c_k |Δθ_k| <= sqrt(Σ_k c_k^2) sqrt(Σ_k |Δθ_k|^2) = L_f |θ - θ'|.
5. *Scope.*  Only S1 < ∞ was used (S0 and c0 enter B_i and may be infinite /
   nonzero), so U1 holds for the whole Lipschitz class, ReLU included, and
   needs no convexity beyond the product structure of the box.

Tightness: at depth 1, ∇_θ f = (x, 1) exactly, so L_f = sqrt(1 + R^2) is the
exact Lipschitz constant (attained at |x| = R for every θ).  For ReLU, leaky
ReLU and ELU on a box (c0 = 0, σ(t) = t for t > 0) U1 is attained at every
depth: rank-one weights aligned along one unit chain, W_1 x and b_i pointing
the same way, keep every pre-activation of that chain positive, so
|z_i| = B_i and |δ_i| = G_i simultaneously.  docs/theory.md §4 shows
that the exponent of ω in L_f (growth r^{m-1} on a ball of radius r) is
attained, so no region-free (global) bound exists.

The cases below span depths 1–5, widths 1–16 (width-1 bottlenecks and
``d_0 > 1``), Lipschitz-only (ReLU, leaky ReLU), smooth (tanh, sigmoid, softplus,
GELU, SiLU, ELU, sin), softsign and identity activations, on boxes and on balls
centred at ``net.init(seed)``.
"""
from __future__ import annotations

from _catalogue import CaseList, derived_claims

from symlip import Region
from symlip.search.claims import Case, Claim

__all__ = ["CLAIMS", "CASES"]

#: U1 for depths 1..5 (docs/theory.md §3), valid for every Lipschitz activation.
CLAIMS: dict[int, Claim] = derived_claims(
    "U1", "lip_f", assumptions=("lipschitz",),
    why="docs/theory.md §3 U1: changing layer i alone moves f by at most G_i sqrt(1 + B_{i-1}^2) |Δθ_i|; "
            "telescoping over the layers and Cauchy-Schwarz give L_f = sqrt(Σ_i G_i^2 (1 + B_{i-1}^2)).",
)


def _cases() -> list[Case]:
    cases = CaseList(CLAIMS)
    add = cases.add

    # depth 1: the exact value sqrt(1 + R^2) is the bound itself
    add((3, 1), "identity", Region.box(1.5, 0.5), R=1.0)
    add((1, 1), "relu", (0, 0.5), R=2.0)
    # depth 2
    add((2, 8, 1), "relu", Region.box([1.5, 1.2], [0.5, 0.5]), R=1.0)
    add((4, 1, 1), "tanh", (1, 1.0), R=1.0)
    add((3, 16, 1), "sigmoid", Region.box(2.0, 1.0), R=2.0, weight=1.5)
    # depth 3
    add((2, 6, 6, 1), "leaky_relu", Region.box(1.3, 0.3), R=1.0)
    add((1, 4, 4, 1), "softsign", (2, 0.7), R=1.5)
    add((5, 8, 1, 1), "gelu", Region.box([1.0, 1.5, 2.0], 0.5), R=1.0)
    # depth 4
    add((3, 6, 6, 6, 1), "elu", Region.box(1.1, 0.2), R=1.0)
    add((2, 8, 8, 8, 1), "softplus", (3, 0.5), R=1.0, weight=1.5)
    add((1, 1, 1, 1, 1), "identity", (5, 1.0), R=1.0)
    # depth 5
    add((2, 4, 4, 4, 4, 1), "sin", Region.box(1.2, 0.2), R=1.0)
    add((4, 8, 8, 8, 8, 1), "silu", (4, 0.3), R=2.0, weight=1.5)
    add((3, 10, 10, 10, 10, 1), "relu", Region.box(1.0, 0.5), R=1.0, weight=2.0)
    return cases


#: the U1 catalogue: 14 cases, depths 1–5
CASES: list[Case] = _cases()
