"""The exact tier of the activation constants, and the sympy analysis all tiers share
(docs/theory.md §1.4).

``σ`` is split into its Piecewise pieces (:func:`split_pieces`).  On a piece
:func:`exact_sup` takes the largest ``|g|`` (``g = σ^(k)``) over the one-sided
limits at the ends (limits at ``±oo`` read off the dominant terms,
:class:`ExpPolyForm`, else sympy), the values at closed ends and the values
at the critical points (``solveset``; equations polynomial in ``exp(t/q)``
after ``u = exp(t/q)``).  :func:`jump_at_breakpoints` decides whether
``σ^(k)`` jumps at a breakpoint.  Every sympy call runs under a time limit
(:func:`~symlip.activations.timelimit.guarded`).
"""
from __future__ import annotations

import functools
import math

import mpmath
import numpy as np
import sympy as sp
from flint import arb
from sympy.calculus.util import continuous_domain

from symlip.activations.arb import (ONE, PINF, ZERO, ArbInterval, abs_lower, abs_upper, arb_evaluator,
                                    at_arb_precision, enclose_constant, eval_or_none, iv_add, iv_exp, iv_inv,
                                    iv_mul, iv_point, iv_powi)
from symlip.activations.base import T
from symlip.activations.timelimit import Deadline, TierFailed, can_time_limit, guarded, sympy_step

__all__ = ["split_pieces", "proper_pieces", "real_number", "is_infinite", "ExpPolyForm", "exp_poly_form",
           "limit_at", "exact_sup", "InfiniteSup", "jump_at_breakpoints", "feature_centres", "T_TAIL",
           "FORM_SECONDS"]

#: default half-width of the bounded region of the certified tier; a tail form's opaque
#: factors must be bounded on ``[T_TAIL, oo)``
T_TAIL = 40


# ---------------------------------------------------------------------------
# pieces
# ---------------------------------------------------------------------------
def split_pieces(expr: sp.Expr) -> list[tuple[sp.Expr, sp.Interval]]:
    """Split σ into ``(expression, interval)`` pieces covering R, sorted left to right.

    Degenerate pieces ``[c, c]`` (a single point) are kept.
    """
    if not isinstance(expr, sp.Piecewise):
        if expr.has(sp.Piecewise):
            raise TierFailed("nested Piecewise")
        return [(expr, sp.Interval(-sp.oo, sp.oo))]
    out: list[tuple[sp.Expr, sp.Interval]] = []
    for e, s in expr.as_expr_set_pairs(sp.S.Reals):
        if e.has(sp.Piecewise):
            raise TierFailed("nested Piecewise")
        comps = s.args if isinstance(s, sp.Union) else (s,)
        for comp in comps:
            if comp is sp.S.EmptySet:
                continue
            if isinstance(comp, sp.Interval):
                out.append((e, comp))
            elif isinstance(comp, sp.FiniteSet):
                out.extend((e, sp.Interval(p, p)) for p in comp)
            else:
                raise TierFailed(f"piece domain {comp} is not an interval")
    out.sort(key=lambda p: (float(p[1].inf), float(p[1].sup)))
    for (_, left), (_, right) in zip(out, out[1:]):
        if left.sup != right.inf:
            raise TierFailed("pieces do not cover R")
    if not out or out[0][1].inf != -sp.oo or out[-1][1].sup != sp.oo:
        raise TierFailed("pieces do not cover R")
    return out


def proper_pieces(pieces):
    """The pieces that are not a single point."""
    return [(e, I) for e, I in pieces if I.measure != 0]


# ---------------------------------------------------------------------------
# small exact helpers
# ---------------------------------------------------------------------------
def real_number(v: sp.Expr, digits: int = 40) -> mpmath.mpf:
    """A real number from a sympy constant (``TierFailed`` if not real and finite)."""
    try:
        re, im = sp.N(v, digits).as_real_imag()
        re, im = sp.Float(re, digits), sp.Float(im, digits)
    except (TypeError, ValueError, AttributeError):
        raise TierFailed(f"cannot evaluate {v}") from None
    if im != 0 and abs(im) > 1e-30 * max(1, abs(re)):
        raise TierFailed(f"non-real value {v}")
    with mpmath.workdps(digits):
        return mpmath.mpf(re._mpf_)


def is_infinite(v: sp.Expr) -> bool:
    """Whether the sympy value ``v`` is or contains an infinity."""
    return v in (sp.oo, -sp.oo, sp.zoo) or bool(v.has(sp.oo, -sp.oo, sp.zoo))


def _equal(a: sp.Expr, b: sp.Expr, deadline: Deadline) -> bool | None:
    """Exact equality of two constants: True, False, or None if undecided."""
    if is_infinite(a) or is_infinite(b):
        return False
    if a == b:
        return True
    d = a - b
    try:
        if abs(real_number(d, 50)) > mpmath.mpf(10) ** -30:
            return False
    except TierFailed:
        return None
    try:
        if guarded(deadline, sp.simplify, d) == 0:
            return True
        eq = guarded(deadline, d.equals, 0)
    except TierFailed:
        return None
    return True if eq else None


_SMOOTH_FUNCS = (
    sp.exp, sp.sin, sp.cos, sp.sinh, sp.cosh, sp.tanh, sp.sech, sp.atan, sp.asinh, sp.erf,
    sp.erfc,
)


def _continuous_on(e: sp.Expr, domain: sp.Set, deadline: Deadline) -> bool:
    """Whether ``e`` is (provably) continuous on ``domain``."""
    if not e.has(T):
        return True
    if isinstance(e, (sp.Add, sp.Mul)):
        return all(_continuous_on(a, domain, deadline) for a in e.args)
    if isinstance(e, _SMOOTH_FUNCS):
        return all(_continuous_on(a, domain, deadline) for a in e.args)
    if isinstance(e, sp.Pow) and e.exp.is_Integer and not e.exp.has(T):
        if not _continuous_on(e.base, domain, deadline):
            return False
        if e.exp >= 0:
            return True
        return guarded(deadline, sp.solveset, e.base, T, domain) is sp.S.EmptySet
    try:
        cont = guarded(deadline, continuous_domain, e, T, domain)
        return bool(guarded(deadline, domain.is_subset, cont))
    except TierFailed:
        return False


# ---------------------------------------------------------------------------
# exact supremum of |g| over the pieces
# ---------------------------------------------------------------------------
_HYPERBOLIC = (sp.tanh, sp.sinh, sp.cosh, sp.sech, sp.csch, sp.coth)


class ExpPolyForm:
    """``g`` on a tail as a ratio of sums of terms ``c t^m exp(r(t)) F(t)``.

    ``side = +1`` describes ``t -> +oo``; ``side = -1`` describes ``t -> -oo``
    after the substitution ``t -> -t`` (so ``T`` stands for ``|t|``).  ``c`` is a
    constant, ``m`` an integer, ``r`` a polynomial and ``F`` the product of the
    remaining factors (``1`` when there are none), which must be bounded on the
    tail (checked by interval evaluation).  Hyperbolic functions are rewritten
    in ``exp`` first.  Each of :attr:`num` and :attr:`den` is a dict
    ``(r, m, F) -> c`` with distinct keys and nonzero ``c``.
    """

    def __init__(self, g: sp.Expr, side: int) -> None:
        h = g if side > 0 else g.subs(T, -T)
        for f in _HYPERBOLIC:
            if h.has(f):
                h = h.rewrite(f, sp.exp)
        num, den = sp.fraction(sp.together(h))
        self.num = self._terms(num)
        self.den = self._terms(den)
        if not self.den:
            raise TierFailed("zero denominator")

    @staticmethod
    def _terms(x: sp.Expr) -> dict:
        x = sp.powsimp(sp.expand(x), combine="exp")
        out: dict = {}
        for term in sp.Add.make_args(x):
            c, m, r, F = sp.S.One, 0, sp.S.Zero, sp.S.One
            for f in sp.Mul.make_args(term):
                if not f.has(T):
                    c *= f
                elif f == T:
                    m += 1
                elif f.is_Pow and f.base == T and f.exp.is_Integer:
                    m += int(f.exp)
                elif isinstance(f, sp.exp) and sp.expand(f.args[0]).is_polynomial(T):
                    r += f.args[0]
                elif (f.is_Pow and isinstance(f.base, sp.exp) and f.exp.is_Integer
                      and sp.expand(f.base.args[0]).is_polynomial(T)):
                    r += f.exp * f.base.args[0]
                else:
                    F *= f
            r = sp.expand(r)
            if r.has(sp.I) or c.has(sp.I):
                raise TierFailed("complex term")
            key = (r, m, F)
            out[key] = out.get(key, sp.S.Zero) + c
        res = {}
        for key, c in out.items():
            c = sp.expand(c)
            if c == 0:
                continue
            if abs(real_number(c)) < 1e-30:  # not structurally zero, numerically tiny
                raise TierFailed("undecided cancellation")
            res[key] = c
        return res

    @staticmethod
    def compare(a: tuple, b: tuple) -> int:
        """Growth order of ``t^m exp(r)`` terms: -1, 0, +1 as ``t -> +oo``."""
        d = sp.Poly(a[0] - b[0], T)
        if d.is_zero:
            return (a[1] > b[1]) - (a[1] < b[1])
        return 1 if real_number(d.LC()) > 0 else -1

    def dominant(self, terms: dict) -> tuple:
        best = None
        for key in terms:
            if best is None or self.compare(key, best) > 0:
                best = key
        return best

    @at_arb_precision
    def limit(self) -> sp.Expr | None:
        """The exact limit on the tail, or ``None`` if it cannot be read off."""
        try:
            return self._limit()
        except TierFailed:
            return None

    def _limit(self) -> sp.Expr | None:
        if not self.num:
            return sp.S.Zero
        # the growth order of a term is that of t^m exp(r) only if its factor F is bounded
        tail = ArbInterval(arb(T_TAIL), PINF)
        for terms in (self.num, self.den):
            for (_, _, F) in terms:
                if F != 1:
                    fi = eval_or_none(arb_evaluator(F), tail)
                    if fi is None or not abs_upper(fi).is_finite():
                        return None
        p, q = self.dominant(self.num), self.dominant(self.den)
        top = [k for k in self.num if self.compare(k, p) == 0]
        bot = [k for k in self.den if self.compare(k, q) == 0]
        cmp = self.compare(p, q)
        if len(top) != 1 or len(bot) != 1 or p[2] != 1 or q[2] != 1:
            # opaque factors in the dominant part: only an infinite limit can be read off,
            # when both dominant sums stay away from 0 on the tail
            if cmp <= 0:
                return None
            sums = []
            for terms, keys in ((self.num, top), (self.den, bot)):
                acc = iv_point(ZERO)
                for k in keys:
                    fi = eval_or_none(arb_evaluator(k[2]), tail) if k[2] != 1 else iv_point(ONE)
                    if fi is None:
                        return None
                    acc = iv_add(acc, iv_mul(enclose_constant(terms[k]), fi))
                sums.append(acc)
            if abs_lower(sums[0]).is_zero() or abs_lower(sums[1]).is_zero():
                return None
            ratio = iv_mul(sums[0], iv_inv(sums[1]))
            return sp.oo if ratio.lo > 0 else -sp.oo
        ratio = self.num[p] / self.den[q]
        if cmp < 0:
            return sp.S.Zero
        if cmp == 0:
            return ratio
        return sp.oo if real_number(ratio) > 0 else -sp.oo

    @at_arb_precision
    def bound(self, M: arb) -> tuple[arb, arb] | None:
        """``(upper bound of |g| on [M', oo), M')`` with ``M' >= M``, or ``None``."""
        try:
            return self._bound(M)
        except TierFailed:
            return None

    def _bound(self, M: arb) -> tuple[arb, arb] | None:
        q = self.dominant(self.den)
        for terms in (self.num, self.den):
            for (r, m, F), c in terms.items():
                rr, mm = sp.Poly(r - q[0], T), m - q[1]
                if rr.is_zero:
                    if mm > 0:
                        return None  # numerator outgrows the denominator
                else:
                    if real_number(rr.LC()) > 0:
                        return None
                    # t^mm exp(rr) decreases once h = mm + t rr' < 0: beyond a Cauchy root bound
                    h = sp.Poly(mm + T * rr.diff(T).as_expr(), T)
                    cs = h.all_coeffs()
                    cauchy = 1 + max((abs(real_number(x / cs[0])) for x in cs[1:]), default=0)
                    M = max(M, arb(int(mpmath.ceil(cauchy)) + 1))
        M = max(M, ONE)
        Mi = iv_point(M)
        tail = ArbInterval(M, PINF)

        def total(terms):
            acc = iv_point(ZERO)
            for (r, m, F), c in terms.items():
                rr, mm = sp.Poly(r - q[0], T), m - q[1]
                val = enclose_constant(c)
                if F != 1:
                    fi = eval_or_none(arb_evaluator(F), tail)
                    if fi is None or not abs_upper(fi).is_finite():
                        raise TierFailed("opaque factor unbounded on the tail")
                    val = iv_mul(val, fi)
                if rr.is_zero:
                    if mm < 0:
                        val = iv_mul(val, ArbInterval(ZERO, iv_powi(Mi, mm).hi))
                else:
                    r_at_M = arb_evaluator(rr.as_expr())(Mi)
                    val = iv_mul(val, ArbInterval(ZERO, iv_mul(iv_powi(Mi, mm), iv_exp(r_at_M)).hi))
                acc = iv_add(acc, val)
            return acc

        n, d = total(self.num), total(self.den)
        if abs_lower(d).is_zero():
            return None
        return abs_upper(iv_mul(n, iv_inv(d))), M


def exp_poly_form(g: sp.Expr, side: int) -> ExpPolyForm | None:
    """The form of ``g`` on a tail, or ``None`` (also when sympy takes more than
    :data:`FORM_SECONDS`: the expansion can blow up, e.g. for nested ``tanh``)."""
    return _exp_poly_form_cached(g, side, can_time_limit())


#: time limit (seconds) of building one tail form
FORM_SECONDS = 1.5


@functools.lru_cache(maxsize=256)
def _exp_poly_form_cached(g: sp.Expr, side: int, main: bool) -> ExpPolyForm | None:
    try:
        return sympy_step(ExpPolyForm, g, side, seconds=FORM_SECONDS)
    except TierFailed:
        return None


def _limit_at_infinity(g: sp.Expr, side: int, deadline) -> sp.Expr | None:
    """``lim g`` as ``t -> side*oo`` read off the dominant terms (see :class:`ExpPolyForm`)."""
    form = guarded(deadline, exp_poly_form, g, side)
    return None if form is None else form.limit()


def limit_at(g, point, direction, deadline):
    """The one-sided limit of ``g`` at ``point`` (``±oo``: dominant terms first, then sympy)."""
    if point in (sp.oo, -sp.oo):
        fast = _limit_at_infinity(g, 1 if point == sp.oo else -1, deadline)
        if fast is not None:
            return fast
        return guarded(deadline, sp.limit, g, T, point)
    if not g.has(T):
        return g
    if _continuous_on(g, sp.Interval(point - sp.Rational(1, 1024), point + sp.Rational(1, 1024)),
                      deadline):
        return g.subs(T, point)
    return guarded(deadline, sp.limit, g, T, point, direction)


def _exp_substitution_points(gp: sp.Expr, interval: sp.Interval, deadline) -> list[sp.Expr]:
    """Zeros of ``gp`` in ``interval`` when ``gp`` is rational in ``u = exp(t/q)``."""
    h = guarded(deadline, gp.rewrite, sp.exp)
    lin = {}
    for e in h.atoms(sp.exp):
        arg = sp.expand(e.args[0])
        a, b = arg.coeff(T, 1), arg.coeff(T, 0)
        if not (a.is_Rational and not b.has(T) and sp.expand(a * T + b - arg) == 0):
            raise TierFailed("exp argument not linear with rational slope")
        lin[e] = (a, b)
    if not lin:
        raise TierFailed("no exp to substitute")
    q = sp.ilcm(*[a.q for a, _ in lin.values()]) if len(lin) > 1 else list(lin.values())[0][0].q
    u = sp.Dummy("u", positive=True)
    hu = h.xreplace({e: sp.exp(b) * u ** (a * q) for e, (a, b) in lin.items()})
    if hu.has(T):
        raise TierFailed("not rational in exp(t)")
    num, den = sp.fraction(guarded(deadline, sp.together, hu))
    roots = guarded(deadline, sp.solveset, num, u, sp.Interval.open(0, sp.oo))
    if not isinstance(roots, sp.FiniteSet):
        raise TierFailed(f"roots in u: {roots}")
    pts = []
    for r in roots:
        if _equal(den.subs(u, r), sp.S.Zero, deadline) is not False:
            raise TierFailed("root of the denominator")
        p = q * sp.log(r)
        if interval.contains(p) is sp.true:
            pts.append(p)
        elif interval.contains(p) is not sp.false:
            raise TierFailed("cannot place a critical point")
    return pts


def _critical_points(g, gp, interval: sp.Interval, deadline):
    """Values of ``g`` at the critical points (``gp = 0``) in the open ``interval``.

    Returns a list of sympy constants; raises :class:`TierFailed` when the zero set
    is not completely known.
    """
    if gp == 0:
        return [(g, "constant piece")]
    if not _continuous_on(gp, interval, deadline) or not _continuous_on(g, interval, deadline):
        raise TierFailed("derivative not provably continuous on the piece")
    zeros = guarded(deadline, sp.solveset, gp, T, interval)
    values: list[tuple[sp.Expr, str]] = []
    comps = zeros.args if isinstance(zeros, sp.Union) else (zeros,)
    for comp in comps:
        if comp is sp.S.EmptySet:
            continue
        if isinstance(comp, sp.FiniteSet):
            values.extend((g.subs(T, p), f"critical point t={p} (solveset)") for p in comp)
        elif isinstance(comp, sp.Interval):
            # g' = 0 on an interval: g is constant there
            a, b = comp.inf, comp.sup
            p = (a + b) / 2 if a.is_finite and b.is_finite else (
                b - 1 if b.is_finite else (a + 1 if a.is_finite else sp.S.Zero))
            values.append((g.subs(T, p), f"constant on {comp}"))
        elif isinstance(comp, sp.ImageSet) and comp.base_set == sp.S.Integers:
            lam = comp.lamda
            n = sp.Dummy("n", integer=True)
            if not sp.Poly(lam.expr, lam.variables[0]).degree() == 1:
                raise TierFailed("critical points not an arithmetic progression")
            v = guarded(deadline, sp.simplify, sp.Abs(g.subs(T, lam(n))))
            if v.has(n):
                raise TierFailed("critical values depend on n")
            shown = lam.expr.xreplace({lam.variables[0]: sp.Symbol("n")})
            values.append((v, f"critical points t={sp.sstr(shown)} (n integer, solveset)"))
        elif isinstance(comp, sp.ConditionSet):
            values.extend((g.subs(T, p), f"critical point t={p} (solved in exp(t))")
                          for p in _exp_substitution_points(gp, interval, deadline))
        else:
            raise TierFailed(f"critical set {type(comp).__name__}")
    return values


def _tidy(v: sp.Expr, deadline) -> sp.Expr:
    try:
        s = guarded(deadline, sp.simplify, v)
        s = guarded(deadline, sp.radsimp, s)
        return s if sp.count_ops(s) <= sp.count_ops(v) else v
    except TierFailed:
        return v


def exact_sup(pieces, order: int, deadline: Deadline) -> tuple[sp.Expr, str]:
    """Exact ``sup |σ^(order)|`` (``oo`` allowed); raises :class:`TierFailed`."""
    cands: list[tuple[mpmath.mpf, sp.Expr, str]] = []
    accum: list[tuple[mpmath.mpf, str]] = []

    def add(v: sp.Expr, where: str, periodic: bool = False) -> None:
        if isinstance(v, sp.AccumBounds):
            if periodic:  # critical points unbounded both ways: sup attained at them
                return
            if is_infinite(v.min) or is_infinite(v.max):
                raise TierFailed(f"unbounded oscillation at {where}")
            accum.append((max(abs(real_number(v.min)), abs(real_number(v.max))), where))
            return
        if v.has(sp.Limit, sp.nan) or v is sp.nan:
            raise TierFailed(f"undetermined {where}")
        if is_infinite(v):
            raise InfiniteSup(where)
        cands.append((abs(real_number(v)), v, where))

    for e, I in pieces:
        g = sp.diff(e, T, order) if order else e
        a, b = I.inf, I.sup
        if I.measure == 0:
            if order == 0:
                add(e.subs(T, a), f"t={a}")
            continue
        gp = sp.diff(g, T)
        crit = _critical_points(g, gp, sp.Interval.open(a, b), deadline)
        periodic = any(where.endswith("(n integer, solveset)") for _, where in crit)
        for end, side in ((a, "+"), (b, "-")):
            add(limit_at(g, end, side, deadline), f"limit t->{end}{side if end.is_finite else ''}",
                periodic=periodic and not end.is_finite)
            if order == 0 and end.is_finite and I.contains(end) is sp.true:
                add(g.subs(T, end), f"t={end}")
        for v, where in crit:
            add(v, where)
    if not cands:
        raise TierFailed("no candidates")
    best = max(cands, key=lambda c: c[0])
    if accum and max(a for a, _ in accum) > best[0] * (1 + mpmath.mpf(10) ** -25):
        raise TierFailed("limit at infinity is only an accumulation interval")
    value = _tidy(best[1] if real_number(best[1]) >= 0 else -best[1], deadline)
    how = f"sup |σ^({order})| at {best[2]}; candidates: end limits + critical points"
    return value, how


class InfiniteSup(Exception):
    """The supremum is infinite; ``where`` says where ``|σ^(k)|`` grows without bound."""

    def __init__(self, where: str) -> None:
        super().__init__(where)
        self.where = where


def jump_at_breakpoints(pieces, order: int, deadline: Deadline | None) -> tuple[bool | None, str]:
    """Whether ``σ^(order)`` has a jump at a breakpoint (``None`` if undecided).

    With a ``deadline`` (main thread) the one-sided limits are exact sympy
    limits compared exactly.  Without one, each piece's formula is evaluated at
    the breakpoint (its one-sided limit, the formulas being elementary and
    finite there): equal expressions are continuous, disjoint interval
    enclosures are a jump, anything else is undecided.
    """
    proper = proper_pieces(pieces)
    undecided = ""
    for (el, il), (er, ir) in zip(proper, proper[1:]):
        c = il.sup
        dl, dr = sp.diff(el, T, order), sp.diff(er, T, order)
        if deadline is not None:
            vals = [limit_at(dl, c, "-", deadline), limit_at(dr, c, "+", deadline)]
        else:
            vals = [dl.subs(T, c), dr.subs(T, c)]
        if order == 0:
            vals += [e.subs(T, c) for e, I in pieces if I.contains(c) is sp.true]
        for v in vals[1:]:
            if deadline is not None:
                eq = _equal(vals[0], v, deadline)
            elif vals[0] == v:
                eq = True
            else:
                try:
                    x, y = enclose_constant(vals[0]), enclose_constant(v)
                    eq = False if (x.hi < y.lo or y.hi < x.lo) else None
                except Exception:  # noqa: BLE001 - any evaluation problem: undecided
                    eq = None
            if eq is False:
                return True, f"σ^({order}) jumps at t={c}"
            if eq is None:
                undecided = f"continuity of σ^({order}) at t={c} undecided"
    return (None, undecided) if undecided else (False, "")


def feature_centres(g: sp.Expr, near_zero: bool = False) -> list[float]:
    """Real zeros of the polynomial arguments of ``g``'s functions and powers: where
    shifted features sit (``sinc(t - 100)``: ``t = 100``); only those with
    ``|t| > 32`` (outside the dense grid) unless ``near_zero``."""
    out: set[float] = set()
    for f in g.atoms(sp.Function, sp.Pow):
        args = f.args if isinstance(f, sp.Function) else (f.base,)
        for a in args:
            if not a.has(T):
                continue
            try:
                p = sp.Poly(a, T)
                if not 1 <= p.degree() <= 4:
                    continue
                roots = np.roots([complex(c) for c in p.all_coeffs()])
            except Exception:  # noqa: BLE001 - not a polynomial in t
                continue
            out.update(float(r.real) for r in roots
                       if math.isfinite(r.real) and abs(r.imag) <= 1e-9 * max(1.0, abs(r)))
    return sorted((c for c in out if (near_zero or 32 < abs(c)) and abs(c) < 1e15), key=abs)[:12]

