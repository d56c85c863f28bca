"""Number types of the enclosures: :class:`Jet` (a ball with ball partial derivatives)
and :class:`Taylor2` (a degree-2 Taylor polynomial whose coefficients are balls or jets)."""
from __future__ import annotations

import time
from typing import Any

import numpy as np
from flint import arb

__all__ = ["Jet", "Taylor2", "coef_add", "coef_mul", "value", "PastDeadline", "check_deadline", "dot_rows"]


class PastDeadline(Exception):
    """A cooperative deadline check found the deadline passed (the enclosure is abandoned)."""


def check_deadline(deadline: float | None) -> None:
    """Raise :class:`PastDeadline` when ``deadline`` (a :func:`time.monotonic` time) has passed.

    A signal lands only between Python bytecodes, and numpy's object loops over jets of
    thousands of partials run for long stretches without one; the enclosure loops call this
    between rows so that a run ends close to its budget."""
    if deadline is not None and time.monotonic() >= deadline:
        raise PastDeadline


def dot_rows(W: Any, z: Any, deadline: float | None = None) -> Any:
    """``W.dot(z)`` for object arrays (balls, jets), row by row with :func:`check_deadline`."""
    out = np.empty(W.shape[0], dtype=object)
    for i, row in enumerate(W):
        check_deadline(deadline)
        out[i] = row.dot(z)
    return out


class Jet:
    """A number with partial derivatives: ``v`` (arb) and ``d`` (object array of arbs,
    or None for a constant).  Arithmetic follows the product rule, so a computation on
    jets whose values and partials are balls encloses both the function and its
    gradient over the box the balls describe."""

    __slots__ = ("v", "d")

    def __init__(self, v: Any, d: Any = None) -> None:
        self.v = v
        self.d = d

    def __add__(self, o: Any) -> "Jet":
        if isinstance(o, Jet):
            d = self.d if o.d is None else (o.d if self.d is None else self.d + o.d)
            return Jet(self.v + o.v, d)
        return Jet(self.v + o, self.d)

    __radd__ = __add__

    def __neg__(self) -> "Jet":
        return Jet(-self.v, None if self.d is None else -self.d)

    def __sub__(self, o: Any) -> "Jet":
        return self + (-o)

    def __rsub__(self, o: Any) -> "Jet":
        return (-self) + o

    def __mul__(self, o: Any) -> "Jet":
        if isinstance(o, Jet):
            if self.d is None:
                d = None if o.d is None else o.d * self.v
            elif o.d is None:
                d = self.d * o.v
            else:
                d = self.d * o.v + o.d * self.v
            return Jet(self.v * o.v, d)
        return Jet(self.v * o, None if self.d is None else self.d * o)

    __rmul__ = __mul__


def value(u: Any) -> arb:
    """The ball value of a number (a jet's value)."""
    return u.v if isinstance(u, Jet) else u


def coef_add(a: Any, b: Any) -> Any:
    """``a + b`` where None is zero."""
    if a is None:
        return b
    if b is None:
        return a
    return a + b


def coef_mul(a: Any, b: Any) -> Any:
    """``a * b`` where None is zero."""
    if a is None or b is None:
        return None
    return a * b


class Taylor2:
    """``c0 + c1 s + c2 s²`` truncated at degree 2; coefficients are balls, jets or None (0)."""

    __slots__ = ("c",)

    def __init__(self, c0: Any, c1: Any = None, c2: Any = None) -> None:
        self.c = (c0, c1, c2)

    def __add__(self, o: Any) -> "Taylor2":
        if isinstance(o, Taylor2):
            return Taylor2(*(coef_add(a, b) for a, b in zip(self.c, o.c)))
        return Taylor2(coef_add(self.c[0], o), self.c[1], self.c[2])

    __radd__ = __add__

    def __mul__(self, o: Any) -> "Taylor2":
        a0, a1, a2 = self.c
        if isinstance(o, Taylor2):
            b0, b1, b2 = o.c
            return Taylor2(coef_mul(a0, b0), coef_add(coef_mul(a0, b1), coef_mul(a1, b0)),
                           coef_add(coef_add(coef_mul(a0, b2), coef_mul(a1, b1)), coef_mul(a2, b0)))
        return Taylor2(coef_mul(a0, o), coef_mul(a1, o), coef_mul(a2, o))

    __rmul__ = __mul__

