"""U3 — a Lipschitz constant of the squared-loss gradient θ ↦ ∇ℓ(θ) (docs/theory.md §3).

Claim
-----
For ``ℓ(θ) = (1/N) Σ_n ½ (f(x_n; θ) - y_n)^2`` with ``|x_n| <= R``, ``|y_n| <= Y``,
any N >= 1, a smooth activation (docs/theory.md §1) and θ, θ' in the box
``||W_i||_2 <= ω_i``, ``|b_i| <= β_i`` (or a ball inside it, docs/theory.md §2)::

    |∇ℓ(θ) - ∇ℓ(θ')| <= ( L_f^2 + (F + Y) L_∇f ) |θ - θ'|,
    F = ω_m B_{m-1} + β_m,

with L_f of U1 and L_∇f of U2 evaluated on the same box and input radius R.

Proof sketch
------------
1. *Gradient of the loss.*  With the residual r_n(θ) = f(x_n; θ) - y_n,
   ∇ℓ(θ) = (1/N) Σ_n r_n(θ) ∇_θ f(x_n; θ).
2. *Three sample-wise facts, for every θ of the box and |x_n| <= R:*
   - |∇_θ f(x_n; θ)| <= L_f: the U1 proof bounds every gradient block,
     |∇_{θ_i} f| <= G_i sqrt(1 + B_{i-1}^2), and L_f is their ℓ2 sum;
   - |r_n(θ)| <= |f| + |y_n| <= F + Y, because f = a_m = W_m z_{m-1} + b_m and
     |z_{m-1}| <= B_{m-1} (U1, step 1), so |f| <= ω_m B_{m-1} + β_m = F;
   - |r_n(θ) - r_n(θ')| = |f(x_n; θ) - f(x_n; θ')| <= L_f |θ - θ'| (U1) and
     |∇f(x_n; θ) - ∇f(x_n; θ')| <= L_∇f |θ - θ'| (U2).
3. *Product rule for differences.*  For one sample,
   r ∇f - r' ∇f' = (r - r') ∇f + r' (∇f - ∇f'),
   so |Δ(r_n ∇f_n)| <= L_f · L_f |Δθ| + (F + Y) L_∇f |Δθ|.
4. *Average.*  The triangle inequality over the N samples keeps the same
   constant for the mean: Lip(∇ℓ) <= L_f^2 + (F + Y) L_∇f.

Remarks.  The first term is the Gauss–Newton part ((1/N) Σ ∇f ∇f^T in the
Hessian), the second the residual-weighted curvature of f; dropping either is
false in general (see proofs/mutants).  At depth 1, L_∇f = 0 and the bound
L_f^2 = 1 + R^2 is the exact top eigenvalue of the Hessian
(1/N) Σ_n (x_n, 1)(x_n, 1)^T when all x_n sit at one point of |x| = R.  The
bound is only stated on the box: ℓ is not globally Lipschitz-smooth (the
residual grows with the parameters, docs/theory.md §4).

The cases cover depths 1–5, widths 1–8, smooth activations (tanh, sigmoid,
softplus, GELU, sin, ELU, identity), boxes and balls around ``net.init(seed)``,
several R and Y.
"""
from __future__ import annotations

from _catalogue import CaseList, derived_claims

from symlip import Region
from symlip.search.claims import Case, Claim

__all__ = ["CLAIMS", "CASES"]

#: U3 for depths 1..5 (docs/theory.md §3); needs a smooth activation.
CLAIMS: dict[int, Claim] = derived_claims(
    "U3", "lip_loss_grad", assumptions=("smooth",),
    why="docs/theory.md §3 U3: Δ(r ∇f) = Δr ∇f + r' Δ∇f with |Δr| <= L_f ε (U1), |∇f| <= L_f, "
            "|r'| <= F + Y, |Δ∇f| <= L_∇f ε (U2); averaging over samples keeps the constant.",
)


def _cases() -> list[Case]:
    cases = CaseList(CLAIMS)
    add = cases.add

    # depth 1: ℓ is quadratic in θ, the bound 1 + R^2 is exact
    add((2, 1), "sigmoid", Region.box(1.0, 0.5), R=1.0, Y=1.0)
    # depth 2
    add((2, 8, 1), "tanh", Region.box(1.5, 0.5), R=1.0, Y=1.0)
    add((3, 1, 1), "softplus", (0, 0.5), R=1.0, Y=2.0)
    # depth 3
    add((2, 6, 6, 1), "sigmoid", (1, 1.0), R=2.0, Y=0.5)
    add((3, 4, 4, 1), "gelu", Region.box(1.0, 0.2), R=1.0, Y=1.0)
    # depth 4
    add((2, 5, 5, 5, 1), "sin", Region.box(1.1, 0.2), R=1.0, Y=1.0, weight=1.5)
    add((2, 4, 4, 4, 1), "identity", (2, 0.3), R=1.0, Y=1.0)
    # depth 5
    add((3, 6, 6, 6, 6, 1), "elu", Region.box(1.0, 0.2), R=1.0, Y=0.5, weight=1.5)
    add((2, 4, 4, 4, 4, 1), "tanh", (4, 0.2), R=1.0, Y=1.0, weight=1.5)
    return cases


#: the U3 catalogue: 9 cases, depths 1–5
CASES: list[Case] = _cases()
