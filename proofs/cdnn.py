"""Continuously deep networks — Grönwall bounds of lip_f and lip_grad (docs/theory.md §5).

Setting
-------
``ż = σ(W(t) z + b(t))``, ``z(0) = x``, ``|x| <= R``, ``f = c·z(T) + e``; ``W, b``
constant on ``N`` steps of length ``h = T/N``; the Euler network
``z_{k+1} = z_k + h σ(W_k z_k + b_k)``.  Region: ``||W_k||_2 <= ω``, ``|b_k| <= β``,
``|c| <= γ`` (and ``|e| <= ε``, unused by the bounds).  Distances: the L2 path norm
``||Δθ||^2 = Σ_k h(|ΔW_k|_F^2 + |Δb_k|^2) + |Δc|^2 + |Δe|^2`` — exactly the Euclidean
norm of :class:`symlip.models.cdnn.CDNN`'s scaled flat vector ``(√h W_k, √h b_k, c, e)``.
Write ``φ(t) = (|ΔW(t)|_F^2 + |Δb(t)|^2)^{1/2}``, so ``∫_0^T φ^2 = ρ^2`` is the squared
path part of ``||Δθ||``, and

    a = S1 ω,    q = √d c0 + S1 β,    Q = √(1 + Z^2).

The bounds are built by :func:`symlip.bounds.cdnn.cdnn_bound` (sympy, compiled with
``lambdify(..., cse=True)``); this module states and proves them and checks them.

1. State bound Z >= sup_t |z(t)|
--------------------------------
*Bounded σ*: ``|ż| <= √d S0``, so ``|z(t)| <= R + √d S0 t``.  *Any Lipschitz σ*:
componentwise ``|σ(u)| <= c0 + S1|u|``, so ``|ż| <= √d c0 + S1(ω|z| + β) = q + a|z|``
and Grönwall gives ``|z(t)| <= R e^{at} + q (e^{at} - 1)/a`` (``R + q t`` if ``a = 0``).
Both increase in ``t``: ``Z = min(R + √d S0 T, R e^{aT} + q (e^{aT}-1)/a)``.
Euler: ``|z_{k+1}| <= (1 + ha)|z_k| + hq`` and ``|z_{k+1}| <= |z_k| + h√d S0``, so the
same with ``(1 + ha)^N`` for ``e^{aT}`` (``Z_Euler <= Z_ODE`` since ``(1+ha)^N <= e^{aT}``).

2. lip_f (docs/theory.md §5's statement, confirmed)
--------------------------------------------
``e(t) = z(t) - z'(t)``:  ``|ė| <= S1|W(z - z') + ΔW z' + Δb| <= a|e| + S1 Q φ(t)``
(Cauchy–Schwarz on ``|ΔW z' + Δb| <= |ΔW|_F |z'| + |Δb|``).  Grönwall and Cauchy–Schwarz:

    |e(T)| <= S1 Q ∫_0^T e^{a(T-s)} φ(s) ds <= S1 Q √E2 ρ,   E2 = ∫_0^T e^{2a(T-s)} ds = (e^{2aT} - 1)/(2a).

Then ``|Δf| <= |c·e(T)| + |Δc·z'(T)| + |Δe| <= γ|e(T)| + Z|Δc| + |Δe|`` and, by
Cauchy–Schwarz over the three parts,

    L_f = √( γ^2 S1^2 Q^2 E2 + Z^2 + 1 ).

This is docs/theory.md §5's ``|Δz(T)| <= S1 √(1+Z^2) √((e^{2S1ωT} - 1)/(2S1ω)) ||Δθ||_{L2}`` —
the falsifier found no violation of it (nor of the other three bounds).
Euler: ``|e_{k+1}| <= (1 + ha)|e_k| + h S1 Q φ_k`` gives
``|e_N| <= S1 Q Σ_k h (1+ha)^{N-1-k} φ_k <= S1 Q √E2_N ρ`` with

    E2_N = Σ_{j<N} h (1+ha)^{2j} = ((1+ha)^{2N} - 1) / (a (2 + ha)).

3. lip_grad (smooth σ, S2 < ∞): the sensitivity equation, Grönwall twice
-----------------------------------------------------------------------
The region is convex, so ``Lip(∇f) <= sup ||∇²f||_2 = sup_{|v|=1} |vᵀ∇²f v|``.  Along a
unit direction ``v = (V(t), β(t), v_c, v_e)`` (path part of L2 norm ``ρ``,
``|v_c|^2 <= 1 - ρ^2``), with ``u = Wz + b``:

    first variation   d(δz)/dt = σ'(u) ⊙ δu,          δu = W δz + V z + β,   δz(0) = 0
    second variation  d(δ²z)/dt = σ''(u) ⊙ δu^2 + σ'(u) ⊙ (W δ²z + 2 V δz),      δ²z(0) = 0
    vᵀ∇²f v = δ²f = 2 v_c·δz(T) + c·δ²z(T).

(i) As in 2, ``|δz(t)| <= D := S1 Q √E2 ρ`` for all ``t``.  (ii) ``|δu| <= ωD + Qφ`` and
``|σ''⊙δu^2| <= S2|δu|^2``, ``|σ'⊙2Vδz| <= 2 S1 φ D``; Grönwall (rate ``a``) once more:

    |δ²z(T)| <= ∫ e^{a(T-s)} [ S2 (ωD + Qφ)^2 + 2 S1 φ D ] ds
             <= ρ^2 [ S2 Q^2 (ω^2 S1^2 E2 M + 2 ω S1 E2 + P_max) + 2 S1^2 Q E2 ] =: ρ^2 C2,

using ``∫e^{a(T-s)} = M = (e^{aT} - 1)/a``, ``∫e^{a(T-s)} φ <= √E2 ρ`` and
``∫e^{a(T-s)} φ^2 <= P_max ρ^2``, ``P_max = e^{aT}``.  (iii) ``|δ²f| <= 2 A |v_c| ρ + γ C2 ρ^2``
with ``A = S1 Q √E2``; the maximum of this quadratic form over ``|v_c|^2 + ρ^2 <= 1`` is
its top eigenvalue:

    L_∇f = ( γ C2 + √(γ^2 C2^2 + 4 A^2) ) / 2.

Euler: the same two recursions, discretely (``δ²z_{k+1} = δ²z_k + h[σ''⊙δu_k^2 +
σ'⊙(W_k δ²z_k + 2 V_k δz_k)]``), with ``E2_N`` as above, ``M_N = ((1+ha)^N - 1)/a``
and ``P_max = (1+ha)^{N-1}``.

4. Convergence N → ∞
--------------------
``(1 + aT/N)^N ↑ e^{aT}``, ``(1+aT/N)^{N-1} ↑ e^{aT}``, and ``E2_N`` has an increasing
numerator and a decreasing denominator ``a(2 + aT/N) ↓ 2a``: every Euler quantity
increases in ``N`` to its ODE counterpart, so the Euler bounds increase monotonically
to the ODE bounds (the gap is ``O(1/N)``).  The ODE bound is therefore also valid for
every Euler network; the Euler bound is not valid for the ODE.

Checks: at ``N = 1`` the Euler network is ``f = c·(x + hσ(Wx + b)) + e`` and
``E2_1 = h``, matching ``|∇_{(√hW, √hb)} f| = √h |c ⊙ σ'| √(1+|x|^2)``; for linear σ
(``S2 = 0``) the ``S2`` terms vanish; ``a = 0`` gives ``E2 = M = T``.

Cases: lip_f for tanh, sigmoid, softplus and identity (both schemes), lip_grad for
tanh and sigmoid (both schemes), ``d`` = 1–3, ``N`` = 1–8, ``T`` = 0.5–2.
"""
from __future__ import annotations

from symlip.bounds.cdnn import cdnn_bound
from symlip.models.cdnn import CDNN
from symlip.search.claims import Case, Claim

__all__ = ["CLAIMS", "CASES"]

_WHY = {
    "lip_f": "docs/theory.md §5: Grönwall on e = z - z' gives |Δz(T)| <= S1 sqrt(1+Z^2) sqrt(E2) ||Δθ||_L2; "
             "|Δf| <= γ|Δz(T)| + Z|Δc| + |Δe| and Cauchy-Schwarz (derivation in proofs/cdnn.py).",
    "lip_grad": "docs/theory.md §5: first and second variation (sensitivity equation) bounded by Grönwall twice; "
                "|vᵀ∇²f v| <= 2A|v_c|ρ + γ C2 ρ^2, maximised over the unit sphere (proofs/cdnn.py).",
}

#: (quantity, scheme) -> claim
CLAIMS: dict[tuple[str, str], Claim] = {
    (q, s): Claim(name=f"CDNN-{q}-{s}", quantity=q, bound=cdnn_bound(q, s),
                  assumptions=("smooth",) if q == "lip_grad" else ("lipschitz",), why=_WHY[q])
    for q in ("lip_f", "lip_grad") for s in ("ode", "euler")
}


def _case(q: str, scheme: str, d: int, T: float, N: int, act: str, omega: float, beta: float, gamma: float,
          R: float, weight: float = 1.0) -> Case:
    net = CDNN(d, T, N, act, scheme=scheme)
    return Case(CLAIMS[(q, scheme)], net, net.region(omega, beta, gamma, 0.5), R=R, weight=weight)


def _cases() -> list[Case]:
    return [
        # lip_f
        _case("lip_f", "euler", 2, 1.0, 4, "tanh", 1.5, 0.5, 1.0, 1.0),
        _case("lip_f", "ode", 2, 1.0, 4, "tanh", 1.5, 0.5, 1.0, 1.0),
        _case("lip_f", "euler", 3, 2.0, 8, "sigmoid", 1.0, 0.5, 1.5, 1.0),
        _case("lip_f", "ode", 2, 0.5, 2, "softplus", 2.0, 0.3, 1.0, 2.0),
        _case("lip_f", "euler", 2, 1.0, 1, "identity", 0.8, 0.5, 1.0, 1.0, weight=0.5),  # closed case N = 1
        _case("lip_f", "ode", 1, 0.25, 1, "identity", 1.0, 0.5, 2.0, 1.0, weight=0.5),   # linear, T small
        # lip_grad (smooth class)
        _case("lip_grad", "euler", 2, 1.0, 4, "tanh", 1.5, 0.5, 1.0, 1.0),
        _case("lip_grad", "ode", 1, 1.0, 2, "tanh", 1.5, 0.5, 1.0, 1.0),
        _case("lip_grad", "euler", 2, 0.5, 8, "sigmoid", 2.0, 0.5, 1.0, 1.0),
        _case("lip_grad", "ode", 2, 0.5, 2, "sigmoid", 1.0, 0.5, 1.0, 1.0),
    ]


#: the CDNN catalogue: 10 cases (docs/theory.md §5)
CASES: list[Case] = _cases()
