"""Derivation of the activation constants ``S0, S1, S2, c0`` (docs/theory.md §1).

For an activation ``σ`` given as a real sympy expression in ``t``::

    S0 = sup |σ|,   S1 = sup |σ'| = Lip(σ),   S2 = sup |σ''| = Lip(σ'),   c0 = |σ(0)|.

Three tiers, tried in order for each constant:

``exact``
    ``σ`` is split into its Piecewise pieces (interval domains).  On a piece the
    supremum of ``|g|`` (``g = σ^(k)``) is the largest of: the one-sided limits
    at the ends of the piece (limits at ``±oo`` for unbounded pieces), the values
    at closed ends (for ``k = 0``) and the values at the critical points (zeros
    of ``g'`` in the open piece, from ``solveset``; equations that are
    polynomial in ``exp(t/q)`` are solved after the substitution
    ``u = exp(t/q)``).  An infinite limit makes the constant ``oo``.  A jump of
    ``σ`` at a breakpoint makes ``S1 = S2 = oo``; a jump of ``σ'`` makes
    ``S2 = oo`` (``S2`` is the Lipschitz constant of ``σ'``).
``certified``
    A rigorous enclosure ``[lower, upper]`` of the supremum: branch and bound
    with interval arithmetic on python-flint's ``arb`` balls (natural and
    mean-value forms) on ``[-M, M]``, plus a proven bound on the tails
    ``|t| >= M`` (a monomial bound of ``g`` written as a rational function of
    ``t`` and ``exp(-t/q)``, or interval evaluation on ``[M, +inf]``).  ``M``
    grows (up to ``6.5e5``) while the tail bound exceeds the values found
    inside, so a feature at ``t = 100`` is inside the searched region.  Only
    the functions of a whitelist have rigorous enclosures; any other makes
    this tier fail ("no rigorous enclosure for FUNC").
``numeric``
    An estimate when neither succeeds: dense samples on the whole real line
    (``t = s/(1-|s|)``), dense local grids where the arguments of the
    expression's functions vanish (``sinc(t - 100)``: around ``t = 100``),
    golden-section refinement and sympy limits at ``±oo``.  Flagged as such: a
    bound refuses to rest on it unless the user opts in (``allow_numeric``).

``c0`` is exact (a substitution) unless it cannot be evaluated.

Time limits: every sympy call of the exact tier runs under a time limit
(``signal.setitimer``, main thread only), each tier runs under a hard limit
on the main thread, and the certified and numeric tiers check a deadline in
their loops.  Off the main thread the exact tier is skipped and sympy
rewriting that may blow up (nested functions, large expressions) is not
attempted.  One derivation keeps within :data:`_TOTAL_SECONDS` (18 s) up to
about a second of overshoot per step; with the checks made when an activation
is parsed (probes <= 2 s, singularities <= 4 s) ``symlip activation X``
finishes in under 30 s for any expression.  When time runs out the constant
is ``numeric`` and its ``how`` says which limit was reached.

This module assembles the constants; the tiers live in
:mod:`~symlip.activations.exact`, :mod:`~symlip.activations.certified` (on the
arb interval arithmetic of :mod:`~symlip.activations.arb`) and
:mod:`~symlip.activations.numeric`, the time limits in
:mod:`~symlip.activations.timelimit`.
"""
from __future__ import annotations

import math
from typing import Callable

import mpmath
import numpy as np
import sympy as sp
from sympy.calculus.util import continuous_domain

from flint import arb

from symlip.activations.arb import (NINF, PINF, ArbInterval, arb_evaluator, at_arb_precision, enclose_constant,
                                  eval_or_none, float_down, float_up, to_arb, to_mpf)
from symlip.activations.base import T, Constant
from symlip.activations.certified import CERT_SECONDS, certified_sup
from symlip.activations.exact import (FORM_SECONDS, InfiniteSup, exact_sup, exp_poly_form, feature_centres,
                                      is_infinite, jump_at_breakpoints, proper_pieces, real_number, split_pieces)
from symlip.activations.numeric import NUMERIC_SECONDS, Sampler, numeric_sup, sample_points
from symlip.activations.timelimit import (CALL_SECONDS, Deadline, TierFailed, can_time_limit, guarded, hard_limit,
                                          sympy_step)

__all__ = ["derive_constants", "exact_rationals", "exact_constant", "singularity", "compile_interval"]

#: time budget (seconds) of all exact attempts of one activation
_EXACT_BUDGET = 7.0

#: time budget (seconds) of one whole derivation (all four constants); each step keeps
#: within it, up to about a second of overshoot per step
_TOTAL_SECONDS = 18.0


def exact_constant(name: str, value: sp.Expr, how: str) -> Constant:
    """An ``exact`` :class:`Constant` of the closed form ``value`` with a rigorous float enclosure."""
    if value == sp.oo:
        return Constant(name, sp.oo, math.inf, math.inf, "exact", how)
    try:
        y = enclose_constant(value)
        if not y.is_finite():
            raise TierFailed("no finite enclosure")
        lo, hi = to_mpf(y.lo), to_mpf(y.hi)
    except TierFailed:
        x = real_number(value, 60)
        lo, hi = x - abs(x) * mpmath.mpf(10) ** -45, x + abs(x) * mpmath.mpf(10) ** -45
    return Constant(name, value, float_down(max(lo, mpmath.mpf(0))), float_up(hi), "exact", how)


def _sanity(pieces, order: int, value: sp.Expr) -> None:
    """Reject an 'exact' finite value that samples of the whole line exceed
    (found in float64, confirmed at 30 digits)."""
    bound = float(real_number(value, 30))
    for e, I in proper_pieces(pieces):
        g = sp.diff(e, T, order) if order else e
        samp = Sampler(g)
        a = -math.inf if I.inf == -sp.oo else float(I.inf)
        b = math.inf if I.sup == sp.oo else float(I.sup)
        t = sample_points(a, b, feature_centres(g), dense=samp.vectorised is not None)
        y = samp.values(t)
        over = np.flatnonzero(y > bound * (1 + 1e-9) + 1e-12)
        samp.vectorised = None  # confirm with single points (arb or mpmath)
        for i in over[np.argsort(-y[over])][:5]:
            v = samp.point(float(t[i]))
            if v > bound * (1 + 1e-12) + 1e-15:
                raise TierFailed(f"sympy result {value} contradicted at t={t[i]:.17g}")


def _infinite_end(pieces, order: int) -> str | None:
    """Where ``|σ^(order)| -> oo`` at ``±oo`` by dominant terms (no sympy limit), if anywhere."""
    for e, I in proper_pieces(pieces):
        g = sp.diff(e, T, order) if order else e
        for side, end in ((1, I.sup), (-1, I.inf)):
            if end not in (sp.oo, -sp.oo):
                continue
            form = exp_poly_form(g, side)
            lim = None if form is None else form.limit()
            if lim is not None and is_infinite(lim):
                return f"limit t->{end} (dominant terms)"
    return None


def _sup_constant(name: str, pieces, order: int, deadline: Deadline, total: Deadline,
                  later: int = 0) -> Constant:
    """``sup |σ^(order)|`` by the first tier that succeeds; ``total`` is the derivation's
    budget and ``later`` the number of constants still to derive after this one (each
    keeps :data:`NUMERIC_SECONDS` for its numeric tier)."""
    reasons = []
    if can_time_limit():
        try:
            with hard_limit(min(deadline.remaining(), total.remaining()) + 0.5, "the exact tier"):
                value, how = exact_sup(pieces, order, deadline)
                _sanity(pieces, order, value)
                return exact_constant(name, value, how)
        except InfiniteSup as inf:
            return exact_constant(name, sp.oo, f"|σ^({order})| -> oo as {inf.where}")
        except TierFailed as exc:
            reasons.append(f"exact: {exc}")
    else:
        reasons.append("exact tier skipped off the main thread (sympy calls cannot be time-limited there)")
    try:
        with hard_limit(min(2 * FORM_SECONDS + 1.0, max(total.remaining() - (later + 1) * NUMERIC_SECONDS, 0.5)),
                  "the dominant-term limits"):
            where = _infinite_end(pieces, order)
    except TierFailed:
        where = None
    if where is not None:
        return exact_constant(name, sp.oo, f"|σ^({order})| -> oo as {where}")
    seconds = min(CERT_SECONDS, total.remaining() - (later + 1) * NUMERIC_SECONDS)
    try:
        if seconds < 0.25:
            raise TierFailed(f"time limit {_TOTAL_SECONDS:g} s of the derivation reached before the certified tier")
        with hard_limit(seconds + 1.0, "the certified tier"):
            lo, hi, how = certified_sup(pieces, order, seconds)
        return Constant(name, sp.Float(float_up(hi)), float_down(lo), float_up(hi),
                        "certified", how)
    except TierFailed as exc:
        reasons.append(f"certified: {exc}")
    seconds = max(min(NUMERIC_SECONDS, total.remaining() - later * NUMERIC_SECONDS), 0.5)
    try:
        with hard_limit(seconds + 1.0, "the numeric tier"):
            est, how = numeric_sup(pieces, order, seconds)
    except InfiniteSup as inf:
        return exact_constant(name, sp.oo, f"|σ^({order})| -> oo as {inf.where}")
    except TierFailed as exc:
        est, how = mpmath.inf, f"numeric: no estimate ({exc})"
    how = f"{how} ({'; '.join(reasons)})"
    if est == mpmath.inf:
        return Constant(name, sp.oo, math.inf, math.inf, "numeric", how)
    return Constant(name, sp.Float(float_up(est)), float_down(est), float_up(est), "numeric", how)


def _c0(expr: sp.Expr, total: Deadline) -> Constant:
    v = sp.Abs(expr.subs(T, 0))
    seconds = min(CALL_SECONDS, max(total.remaining() / 4, 0.5))
    if can_time_limit():
        try:
            v = guarded(Deadline(seconds), sp.simplify, v)
        except TierFailed:
            pass
    try:
        with hard_limit(seconds, "evaluating |σ(0)|"):
            return exact_constant("c0", v, "|σ(0)| by substitution")
    except TierFailed as exc:
        x = Sampler(expr).point(0.0)
        how = f"numeric: |σ(0)| in floating point ({exc})"
        if not math.isfinite(x):
            return Constant("c0", sp.oo, math.inf, math.inf, "numeric", f"|σ(0)| could not be evaluated ({exc})")
        return Constant("c0", sp.Float(x), x, x, "numeric", how)


def _infinite(name: str, how: str) -> Constant:
    return Constant(name, sp.oo, math.inf, math.inf, "exact", how)


def _derive(expr: sp.Expr) -> tuple[Constant, ...]:
    main = can_time_limit()
    total = Deadline(_TOTAL_SECONDS)
    deadline = Deadline(_EXACT_BUDGET)
    try:
        pieces = sympy_step(split_pieces, expr)
    except TierFailed:
        pieces = [(expr, sp.Interval(-sp.oo, sp.oo))]
    S0 = _sup_constant("S0", pieces, 0, deadline, total, later=2)
    c0 = _c0(expr, total)
    jump0: bool | None = False
    jump1: bool | None = False
    why0 = why1 = ""
    if len(proper_pieces(pieces)) > 1:
        try:
            with hard_limit(min(max(deadline.remaining(), 0.0), max(total.remaining(), 0.0)) + 1.0,
                      "the continuity check at the breakpoints"):
                jump0, why0 = jump_at_breakpoints(pieces, 0, deadline if main else None)
                if jump0 is False:
                    jump1, why1 = jump_at_breakpoints(pieces, 1, deadline if main else None)
        except TierFailed as exc:
            jump0, why0 = None, f"continuity at the breakpoints undecided ({exc})"
    if jump0:
        return (S0, _infinite("S1", f"{why0}: σ is not Lipschitz"),
                _infinite("S2", f"{why0}: σ' is not Lipschitz"), c0)
    S1 = _sup_constant("S1", pieces, 1, deadline, total, later=1)
    if jump1:
        S2 = _infinite("S2", f"{why1}: σ' is not Lipschitz")
    else:
        S2 = _sup_constant("S2", pieces, 2, deadline, total)
    # the suprema are Lipschitz constants only if σ (for S1) and σ' (for S2) are continuous
    if jump0 is None:
        S1 = _downgrade(S1, why0)
    if jump0 is None or jump1 is None:
        S2 = _downgrade(S2, why0 or why1)
    return S0, S1, S2, c0


def _downgrade(c: Constant, why: str) -> Constant:
    if not c.is_finite and c.provenance == "exact":
        return c  # an unbounded derivative is unbounded regardless
    return Constant(c.name, c.value, c.lower, c.upper, "numeric", f"{c.how}; {why}")


_FULL: dict[sp.Expr, tuple[Constant, ...]] = {}
_PARTIAL: dict[sp.Expr, tuple[Constant, ...]] = {}


def derive_constants(expr: sp.Expr) -> dict[str, Constant]:
    """Derive ``S0, S1, S2, c0`` of the activation ``σ = expr`` (docs/theory.md §1).

    Parameters
    ----------
    expr : sympy.Expr
        A real expression in :data:`symlip.activations.registry.T` (as produced by
        :func:`symlip.activations.registry.activation`).

    Returns
    -------
    dict
        ``{"S0", "S1", "S2", "c0"}`` → :class:`~symlip.activations.registry.Constant`,
        each ``exact``, ``certified`` or ``numeric`` (see the module docstring).
        Results are cached per expression.
    """
    if expr in _FULL:
        consts = _FULL[expr]
    elif can_time_limit():
        consts = _FULL.setdefault(expr, _derive(exact_rationals(expr)))
    else:  # a worker thread: no exact path; cached separately so the main thread can redo it
        consts = _PARTIAL.get(expr) or _PARTIAL.setdefault(expr, _derive(exact_rationals(expr)))
    return {c.name: c for c in consts}


def exact_rationals(expr: sp.Expr) -> sp.Expr:
    """``expr`` with every sympy Float replaced by the rational number it equals exactly.

    The same function of ``t``; sympy then computes with exact numbers (a
    Float makes solveset and simplify work in floating point, whose results
    are not exact).
    """
    floats = expr.atoms(sp.Float)
    if not floats:
        return expr
    return expr.xreplace({f: sp.Rational(f) for f in floats if f.is_finite})


_SINGULARITY: dict[sp.Expr, str | None] = {}
#: time budget (seconds) of the singularity check of one expression
_SINGULARITY_SECONDS = 4.0


def singularity(expr: sp.Expr) -> str | None:
    """A point set where a piece's formula of σ is not continuous, if sympy finds one.

    Used when parsing an activation: an activation must be finite for every real
    ``t`` (``tan(t)`` is not).  Returns ``None`` when nothing is found, when
    sympy cannot decide, or outside the main thread.
    """
    if not can_time_limit():
        return None
    if expr not in _SINGULARITY:
        _SINGULARITY[expr] = _find_singularity(exact_rationals(expr))
    return _SINGULARITY[expr]


def _find_singularity(expr: sp.Expr) -> str | None:
    deadline = Deadline(_SINGULARITY_SECONDS)
    try:
        pieces = guarded(deadline, split_pieces, expr)
    except TierFailed:
        return None
    for e, I in proper_pieces(pieces):
        try:
            dom = guarded(deadline, continuous_domain, e, T, I)
            bad = guarded(deadline, sp.Complement, I, dom)
        except TierFailed:
            continue
        if bad is not sp.S.EmptySet and isinstance(bad, sp.Set):
            where = sp.sstr(bad) if isinstance(bad, sp.FiniteSet) else "infinitely many points"
            return f"{e} is singular at {where}"
    return None


def compile_interval(expr: sp.Expr) -> Callable[[arb, arb], tuple[arb, arb]]:
    """A rigorous interval extension of ``expr(t)`` on python-flint's arb, Piecewise
    included (docs/theory.md §1.4).

    Returns ``F(lo, hi) -> (ylo, yhi)`` with ``ylo <= expr(t) <= yhi`` for every
    real ``t`` in ``[lo, hi]`` (``lo <= hi`` arb numbers or ``±inf``; the ends
    returned may be arb balls — take their lower/upper — or ``±inf`` when nothing
    better is known).  A Piecewise ``expr`` is enclosed piece by piece over the
    pieces that meet ``[lo, hi]`` (each piece's closure, so a jump is covered by
    both sides).  ``ValueError`` when ``expr`` has a function without an interval
    extension.  Here the symbolic layer (sympy) joins the rigorous numeric layer,
    as the numpy kernels join it to float64.
    """
    try:
        pieces = [(to_arb(float(dom.inf)) if dom.inf.is_finite else NINF,
                   to_arb(float(dom.sup)) if dom.sup.is_finite else PINF,
                   arb_evaluator(e)) for e, dom in split_pieces(expr)]
    except TierFailed as exc:
        raise ValueError(f"no interval extension of {expr}: {exc}") from None

    @at_arb_precision
    def enclose(lo: arb, hi: arb) -> tuple[arb, arb]:
        if not lo <= hi:
            raise ValueError(f"interval ends must satisfy lo <= hi; got [{lo}, {hi}]")
        ylo, yhi = PINF, NINF
        for a, b, fn in pieces:
            if b < lo or a > hi:
                continue
            y = eval_or_none(fn, ArbInterval(max(a, lo), min(b, hi)))
            if y is None:
                return NINF, PINF
            ylo, yhi = min(ylo, y.lo), max(yhi, y.hi)
        return ylo, yhi

    return enclose

