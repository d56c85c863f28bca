"""The activation variable ``t`` and :class:`Constant`, an activation constant
with its provenance (docs/theory.md §1.4).

The base of the activations layer: the constant derivations
(:mod:`symlip.activations.constants`) and :class:`~symlip.activations.registry.Activation`
both build on it, and it imports neither.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import sympy as sp

__all__ = ["T", "Constant", "Provenance"]

#: The variable every activation expression is written in.
T = sp.Symbol("t", real=True)

Provenance = Literal["exact", "certified", "numeric", "claimed"]


@dataclass(frozen=True)
class Constant:
    """One activation constant with its provenance.

    Attributes
    ----------
    name : str
        ``"S0"``, ``"S1"``, ``"S2"`` or ``"c0"``.
    value : sympy.Expr
        The exact value (provenance ``"exact"``), or the upper end of the
        enclosure as a sympy Float (``"certified"``/``"numeric"``).  ``sympy.oo``
        when the constant is infinite.
    lower, upper : float
        A float enclosure ``lower <= true value <= upper`` (``upper`` rounded
        outward).  Both are ``inf`` for an infinite constant.  For a
        ``numeric`` constant both are the estimate (no enclosure).
    provenance : {"exact", "certified", "numeric", "claimed"}
        ``exact``: a sympy closed form; ``certified``: a rigorous interval
        enclosure (arb interval arithmetic plus a proven tail argument);
        ``numeric``: an estimate only — bounds refuse it unless the user opts
        in (``allow_numeric``) and then mark their results "not proven";
        ``claimed``: a value the user stated (:meth:`Activation.with_constants`),
        not derived — the falsifier checks bounds built on it against the true ``σ``.
    how : str
        One line saying how the value was obtained.
    """

    name: str
    value: sp.Expr
    lower: float
    upper: float
    provenance: Provenance
    how: str = ""

    @property
    def is_finite(self) -> bool:
        return math.isfinite(self.upper)

    @property
    def is_proven(self) -> bool:
        """Whether a bound may rest on this value: ``exact``, ``certified``, ``claimed``
        (the user's statement under test), or infinite (a larger constant only
        loosens a bound).  A finite ``numeric`` estimate is not."""
        return self.provenance != "numeric" or not self.is_finite

    @property
    def bound(self) -> float:
        """The value a bound may use: the upper end of the enclosure."""
        return self.upper

    def __float__(self) -> float:
        return self.upper

    def __str__(self) -> str:
        if self.provenance == "exact":
            text = sp.sstr(self.value)
            if self.is_finite and not self.value.is_Rational:
                text += f" ≈ {float(self.value):.12g}"
        elif self.provenance == "certified":
            text = f"in [{self.lower:.15g}, {self.upper:.15g}]"
        else:
            text = f"≈ {self.upper:.15g}"
        mark = "numeric, not proven" if not self.is_proven else self.provenance
        return f"{self.name} = {text} ({mark})"
