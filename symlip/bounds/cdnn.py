"""Grönwall bounds of continuously deep networks (docs/theory.md §5).

:func:`cdnn_bound` returns the bounds of ``lip_f`` and ``lip_grad`` for the
controlled ODE and for its Euler network (:class:`~symlip.models.cdnn.CDNN`)
as sympy expressions compiled with ``sympy.lambdify(..., cse=True)`` (float64
and mpmath); the derivation is in the docstring of ``proofs/cdnn.py``.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

import mpmath
import sympy as sp

from symlip.core.precision import check_dps
from symlip.models.cdnn import CDNN, SCHEMES

if TYPE_CHECKING:  # pragma: no cover
    from symlip.models.region import Region

__all__ = ["CDNNBound", "cdnn_bound", "bound_symbols"]

_SYMBOL_NAMES = ("T", "N", "S0", "S1", "S2", "c0", "omega", "beta", "gamma", "R", "d")
QUANTITIES = ("lip_f", "lip_grad")


@functools.lru_cache(maxsize=None)
def bound_symbols() -> dict[str, sp.Symbol]:
    """The symbols of the CDNN bounds (all nonnegative; ``T``, ``N``, ``d`` positive)."""
    pos = {"T", "N", "d"}
    return {n: sp.Symbol(n, positive=True) if n in pos else sp.Symbol(n, nonnegative=True)
            for n in _SYMBOL_NAMES}


def _bound_steps(quantity: str, scheme: str) -> tuple[tuple[str, sp.Expr], ...]:
    """The definitions leading to the bound (docs/theory.md §5), as ``(name, expr)`` in order."""
    from sympy.codegen.cfunctions import expm1, log1p

    s = bound_symbols()
    T, N, S0, S1, S2, c0 = s["T"], s["N"], s["S0"], s["S1"], s["S2"], s["c0"]
    om, be, ga, R, d = s["omega"], s["beta"], s["gamma"], s["R"], s["d"]
    a = S1 * om                      # Lipschitz constant of z ↦ σ(Wz + b)
    q = sp.sqrt(d) * c0 + S1 * be    # |σ(Wz + b)| <= q + a |z|
    zero = sp.Eq(a, 0)
    if scheme == "ode":
        growth = sp.exp(a * T)                                                 # e^{aT}
        Zg = sp.Piecewise((R + q * T, zero), (R * sp.exp(a * T) + q * expm1(a * T) / a, True))
        E2 = sp.Piecewise((T, zero), (expm1(2 * a * T) / (2 * a), True))      # ∫_0^T e^{2a(T-s)} ds
        M = sp.Piecewise((T, zero), (expm1(a * T) / a, True))                 # ∫_0^T e^{a(T-s)} ds
        Pk = growth                                                            # sup e^{a(T-s)}
    else:
        h = T / N
        L1 = log1p(h * a)                                                      # log(1 + h a)
        Zg = sp.Piecewise((R + q * T, zero), (R * sp.exp(N * L1) + q * expm1(N * L1) / a, True))
        E2 = sp.Piecewise((T, zero), (expm1(2 * N * L1) / (a * (2 + h * a)), True))  # Σ h (1+ha)^{2j}
        M = sp.Piecewise((T, zero), (expm1(N * L1) / a, True))                 # Σ h (1+ha)^j
        Pk = sp.exp((N - 1) * L1)                                              # (1+ha)^{N-1}
    Z = sp.Min(R + sp.sqrt(d) * S0 * T, Zg)
    Zs, E2s, Ms, Ps = sp.symbols("Z E2 M P_max", nonnegative=True)
    Q = sp.sqrt(1 + Zs ** 2)
    steps: list[tuple[str, sp.Expr]] = [("Z", Z), ("E2", E2)]
    if quantity == "lip_f":
        steps.append(("L", sp.sqrt(ga ** 2 * S1 ** 2 * Q ** 2 * E2s + Zs ** 2 + 1)))
    else:
        steps += [("M", M), ("P_max", Pk)]
        C2 = S2 * Q ** 2 * (om ** 2 * S1 ** 2 * E2s * Ms + 2 * om * S1 * E2s + Ps) + 2 * S1 ** 2 * Q * E2s
        A2 = S1 ** 2 * Q ** 2 * E2s
        steps.append(("L", (ga * C2 + sp.sqrt(ga ** 2 * C2 ** 2 + 4 * A2)) / 2))
    return tuple(steps)


@dataclass(frozen=True, eq=False)
class CDNNBound:
    """A compiled Grönwall bound of docs/theory.md §5 (see :func:`cdnn_bound`).

    Callable as ``bound(net, region, R, Y) -> float`` so it can be a
    :class:`~symlip.Claim` bound.  ``expr`` is the closed form in the symbols of
    :func:`bound_symbols`; ``steps`` the intermediate definitions (``Z``, ``E2``, ...).
    """

    quantity: str
    scheme: str
    steps: tuple[tuple[str, sp.Expr], ...]
    expr: sp.Expr
    args: tuple[sp.Symbol, ...]
    kernel: Callable[..., float] = field(repr=False)
    kernel_mp: Callable[..., Any] = field(repr=False)
    label: str = ""

    @property
    def __name__(self) -> str:  # used by Claim.describe / Claim.latex
        return self.label or f"cdnn_{self.quantity}_{self.scheme}"

    @property
    def requires(self) -> str:
        return "smooth" if self.quantity == "lip_grad" else "lipschitz"

    def latex(self) -> str:
        return sp.latex(self.expr)

    def values_for(self, net: CDNN, region: "Region", R: float | None) -> dict[str, float]:
        """The kernel arguments for ``net`` on ``region`` with ``|x| <= R``."""
        if not isinstance(net, CDNN):
            raise TypeError(f"the {self.__name__} bound applies to a CDNN; got {type(net).__name__}")
        if self.scheme == "euler" and net.scheme != "euler":
            raise ValueError(f"the {self.__name__} bound is for the Euler network; {net!r} solves the ODE "
                             "(use the 'ode' bound, which is valid for both)")
        net.activation.require(self.requires, purpose=f"the {self.__name__} bound")
        if R is None or isinstance(R, bool) or not (math.isfinite(float(R)) and float(R) >= 0):
            raise ValueError(f"the {self.__name__} bound needs the input radius R >= 0; got {R!r}")
        om, be = region.layer_bounds(net)
        sh = math.sqrt(net.h)
        up = (lambda v: math.nextafter(math.nextafter(v, math.inf), math.inf))  # noqa: E731  (never round down)
        used = ("S0", "S1", "S2", "c0") if self.quantity == "lip_grad" else ("S0", "S1", "c0")
        net.activation.require_proven(used, purpose=f"the {self.__name__} bound")
        consts = net.activation.values()
        vals = {"T": net.T, "N": float(net.N), "d": float(net.d), "R": float(R),
                "omega": up(max(om[:-1]) / sh), "beta": up(max(be[:-1]) / sh), "gamma": float(om[-1]),
                "S0": consts["S0"], "S1": consts["S1"], "S2": consts["S2"] if self.quantity == "lip_grad" else 0.0,
                "c0": consts["c0"]}
        return vals

    def evaluate(self, net: CDNN, region: "Region", R: float | None) -> float:
        """The bound in float64 (``OverflowError`` beyond the float range)."""
        vals = self.values_for(net, region, R)
        try:
            out = float(self.kernel(*(vals[s.name] for s in self.args)))
        except OverflowError:
            out = math.inf
        if not math.isfinite(out):
            raise OverflowError(f"the {self.__name__} bound exceeds the float64 range for {net!r}")
        return out

    def evaluate_mp(self, values: dict[str, Any], dps: int = 50) -> mpmath.mpf:
        """The bound at ``dps`` digits from kernel arguments (e.g. :meth:`values_for`)."""
        with mpmath.workdps(check_dps(dps)):
            args = [mpmath.inf if math.isinf(float(values[s.name])) else mpmath.mpf(values[s.name])
                    for s in self.args]
            return +self.kernel_mp(*args)

    def __call__(self, net: CDNN, region: "Region", R: float | None = None, Y: float | None = None) -> float:
        return self.evaluate(net, region, R)


@functools.lru_cache(maxsize=None)
def cdnn_bound(quantity: str, scheme: str) -> CDNNBound:
    """The Grönwall bound of ``quantity`` (``"lip_f"`` or ``"lip_grad"``) for the ODE
    (``scheme="ode"``) or the Euler network (``"euler"``), docs/theory.md §5.

    With ``a = S1 ω``, ``q = √d c0 + S1 β``, ``Q = √(1 + Z²)``:

    * ``Z = min(R + √d S0 T, R e^{aT} + q (e^{aT} - 1)/a)``  (Euler: ``(1+ha)^N`` for ``e^{aT}``)
    * ``E2 = (e^{2aT} - 1)/(2a)``  (Euler: ``((1+ha)^{2N} - 1)/(a(2 + ha))``)
    * ``lip_f``: ``L_f = √(γ² S1² Q² E2 + Z² + 1)``
    * ``lip_grad``: ``C2 = S2 Q² (ω² S1² E2 M + 2 ω S1 E2 + P_max) + 2 S1² Q E2`` with
      ``M = (e^{aT} - 1)/a``, ``P_max = e^{aT}`` (Euler: ``((1+ha)^N - 1)/a``, ``(1+ha)^{N-1}``),
      ``L_∇f = (γ C2 + √(γ² C2² + 4 S1² Q² E2)) / 2``.
    """
    if quantity not in QUANTITIES:
        raise ValueError(f"CDNN bounds exist for {', '.join(QUANTITIES)}; got {quantity!r}")
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {', '.join(SCHEMES)}; got {scheme!r}")
    steps = _bound_steps(quantity, scheme)
    names = {"Z": sp.Symbol("Z", nonnegative=True), "E2": sp.Symbol("E2", nonnegative=True),
             "M": sp.Symbol("M", nonnegative=True), "P_max": sp.Symbol("P_max", nonnegative=True)}
    expr = steps[-1][1]
    for name, rhs in reversed(steps[:-1]):
        expr = expr.subs(names[name], rhs)
    s = bound_symbols()
    args = tuple(s[n] for n in _SYMBOL_NAMES if s[n] in expr.free_symbols)
    kernel = sp.lambdify(args, expr, modules="math", cse=True)
    kernel_mp = sp.lambdify(args, expr, modules="mpmath", cse=True)
    return CDNNBound(quantity=quantity, scheme=scheme, steps=steps, expr=expr, args=args, kernel=kernel,
                     kernel_mp=kernel_mp, label=f"cdnn_{quantity}_{scheme}")
