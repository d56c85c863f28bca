"""Derivation of the activation constants ``S0, S1, S2, c0`` (MATH.md §1).

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
    ``S2 = oo`` (``S2`` is the Lipschitz constant of ``σ'``).  Every sympy call
    runs under a time limit (``signal.setitimer``, main thread only).
``certified``
    A rigorous enclosure ``[lower, upper]`` of the supremum: branch and bound
    with mpmath interval arithmetic (natural and mean-value forms) on
    ``[-M, M]``, plus a proven bound on the tails ``|t| >= M`` (a monomial
    bound of ``g`` written as a rational function of ``t`` and ``exp(-t/q)``,
    or interval evaluation on ``[M, +inf]``).
``numeric``
    A dense-grid plus golden-section estimate when neither succeeds; flagged as
    such, never used as a proof.

``c0`` is always exact (a substitution).
"""
from __future__ import annotations

import contextlib
import heapq
import math
import signal
import threading
import time
from typing import Callable, Iterator

import mpmath
import sympy as sp
from mpmath.ctx_iv import MPIntervalContext
from mpmath.ctx_mp import MPContext
from sympy.calculus.util import continuous_domain
from sympy.printing.pycode import MpmathPrinter

from symlip.activations import T, Constant

__all__ = ["derive_constants"]

#: time limit (seconds) of one guarded sympy call
_CALL_SECONDS = 2.5
#: time budget (seconds) of all exact attempts of one activation
_EXACT_BUDGET = 8.0
#: time budget (seconds) of one certified enclosure
_CERT_SECONDS = 4.0
#: default half-width of the bounded region of the certified path
_T_TAIL = 40
#: working precision (bits) of the interval arithmetic
_IV_PREC = 100

# private mpmath contexts, so that the global ``mpmath.mp``/``mpmath.iv`` precision is untouched
iv = MPIntervalContext()
iv.prec = _IV_PREC
_MP = MPContext()
_MP.prec = _IV_PREC + 40


class _Fail(Exception):
    """An approach does not apply; the caller tries the next tier."""


class _Timeout(BaseException):
    """Raised by the alarm handler (BaseException so sympy cannot swallow it)."""


# ---------------------------------------------------------------------------
# time guard
# ---------------------------------------------------------------------------
class _Deadline:
    """Overall time budget of the exact attempts of one derivation."""

    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def remaining(self) -> float:
        return self.end - time.monotonic()


def _can_guard() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`_Timeout` in the body after ``seconds`` (main thread only)."""
    if not _can_guard():
        raise _Fail("no time guard outside the main thread")
    if seconds <= 0:
        raise _Fail("time budget exhausted")

    def _alarm(signum, frame):  # pragma: no cover - timing dependent
        raise _Timeout()

    old_handler = signal.signal(signal.SIGALRM, _alarm)
    # re-fire every 0.25 s in case some library code swallows the first alarm
    old_timer = signal.setitimer(signal.ITIMER_REAL, seconds, 0.25)
    start = time.monotonic()
    try:
        yield
    finally:
        # an alarm may still arrive while cleaning up: retry until both are done
        for _ in range(100):
            try:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, old_handler)
                break
            except _Timeout:  # pragma: no cover - timing dependent
                continue
        if old_timer[0] > 0:  # restore an outer timer, minus the time spent here
            left = max(old_timer[0] - (time.monotonic() - start), 1e-3)
            signal.setitimer(signal.ITIMER_REAL, left, old_timer[1])


def _guarded(deadline: _Deadline, fn: Callable, *args, **kwargs):
    """Call ``fn`` under the time limit; any failure or timeout raises :class:`_Fail`."""
    try:
        with _time_limit(min(_CALL_SECONDS, deadline.remaining())):
            return fn(*args, **kwargs)
    except _Timeout:
        raise _Fail(f"{getattr(fn, '__name__', fn)} timed out") from None
    except _Fail:
        raise
    except (RecursionError, Exception) as exc:  # sympy raises many kinds
        raise _Fail(f"{getattr(fn, '__name__', fn)} failed: {type(exc).__name__}") from None


# ---------------------------------------------------------------------------
# pieces
# ---------------------------------------------------------------------------
def _pieces(expr: sp.Expr) -> list[tuple[sp.Expr, sp.Interval]]:
    """Split σ into ``(expression, interval)`` pieces covering R, sorted left to right.

    Degenerate pieces ``[c, c]`` (a single point) are kept.
    """
    if not isinstance(expr, sp.Piecewise):
        if expr.has(sp.Piecewise):
            raise _Fail("nested Piecewise")
        return [(expr, sp.Interval(-sp.oo, sp.oo))]
    out: list[tuple[sp.Expr, sp.Interval]] = []
    for e, s in expr.as_expr_set_pairs(sp.S.Reals):
        if e.has(sp.Piecewise):
            raise _Fail("nested Piecewise")
        comps = s.args if isinstance(s, sp.Union) else (s,)
        for comp in comps:
            if comp is sp.S.EmptySet:
                continue
            if isinstance(comp, sp.Interval):
                out.append((e, comp))
            elif isinstance(comp, sp.FiniteSet):
                out.extend((e, sp.Interval(p, p)) for p in comp)
            else:
                raise _Fail(f"piece domain {comp} is not an interval")
    out.sort(key=lambda p: (float(p[1].inf), float(p[1].sup)))
    for (_, left), (_, right) in zip(out, out[1:]):
        if left.sup != right.inf:
            raise _Fail("pieces do not cover R")
    if not out or out[0][1].inf != -sp.oo or out[-1][1].sup != sp.oo:
        raise _Fail("pieces do not cover R")
    return out


def _proper(pieces):
    return [(e, I) for e, I in pieces if I.measure != 0]


# ---------------------------------------------------------------------------
# small exact helpers
# ---------------------------------------------------------------------------
def _num(v: sp.Expr, digits: int = 40) -> mpmath.mpf:
    """A real number from a sympy constant (``_Fail`` if not real and finite)."""
    try:
        re, im = sp.N(v, digits).as_real_imag()
        re, im = sp.Float(re, digits), sp.Float(im, digits)
    except (TypeError, ValueError, AttributeError):
        raise _Fail(f"cannot evaluate {v}") from None
    if im != 0 and abs(im) > 1e-30 * max(1, abs(re)):
        raise _Fail(f"non-real value {v}")
    with mpmath.workdps(digits):
        return mpmath.mpf(re._mpf_)


def _is_infinite(v: sp.Expr) -> bool:
    return v in (sp.oo, -sp.oo, sp.zoo) or bool(v.has(sp.oo, -sp.oo, sp.zoo))


def _equal(a: sp.Expr, b: sp.Expr, deadline: _Deadline) -> bool | None:
    """Exact equality of two constants: True, False, or None if undecided."""
    if _is_infinite(a) or _is_infinite(b):
        return False
    if a == b:
        return True
    d = a - b
    try:
        if abs(_num(d, 50)) > mpmath.mpf(10) ** -30:
            return False
    except _Fail:
        return None
    try:
        if _guarded(deadline, sp.simplify, d) == 0:
            return True
        eq = _guarded(deadline, d.equals, 0)
    except _Fail:
        return None
    return True if eq else None


_SMOOTH_FUNCS = (
    sp.exp, sp.sin, sp.cos, sp.sinh, sp.cosh, sp.tanh, sp.sech, sp.atan, sp.asinh, sp.erf,
    sp.erfc,
)


def _continuous_on(e: sp.Expr, domain: sp.Set, deadline: _Deadline) -> bool:
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
        return _guarded(deadline, sp.solveset, e.base, T, domain) is sp.S.EmptySet
    try:
        cont = _guarded(deadline, continuous_domain, e, T, domain)
        return bool(_guarded(deadline, domain.is_subset, cont))
    except _Fail:
        return False


# ---------------------------------------------------------------------------
# exact supremum of |g| over the pieces
# ---------------------------------------------------------------------------
_HYPERBOLIC = (sp.tanh, sp.sinh, sp.cosh, sp.sech, sp.csch, sp.coth)


class _ExpPolyForm:
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
            raise _Fail("zero denominator")

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
                raise _Fail("complex term")
            key = (r, m, F)
            out[key] = out.get(key, sp.S.Zero) + c
        res = {}
        for key, c in out.items():
            c = sp.expand(c)
            if c == 0:
                continue
            if abs(_num(c)) < 1e-30:  # not structurally zero, numerically tiny
                raise _Fail("undecided cancellation")
            res[key] = c
        return res

    @staticmethod
    def compare(a: tuple, b: tuple) -> int:
        """Growth order of ``t^m exp(r)`` terms: -1, 0, +1 as ``t -> +oo``."""
        d = sp.Poly(a[0] - b[0], T)
        if d.is_zero:
            return (a[1] > b[1]) - (a[1] < b[1])
        return 1 if _num(d.LC()) > 0 else -1

    def dominant(self, terms: dict) -> tuple:
        best = None
        for key in terms:
            if best is None or self.compare(key, best) > 0:
                best = key
        return best

    def limit(self) -> sp.Expr | None:
        """The exact limit on the tail, or ``None`` if it cannot be read off."""
        if not self.num:
            return sp.S.Zero
        # the growth order of a term is that of t^m exp(r) only if its factor F is bounded
        tail = iv.mpf([_T_TAIL, "inf"])
        for terms in (self.num, self.den):
            for (_, _, F) in terms:
                if F != 1:
                    fi = _safe(_iv_lambdify(F), tail)
                    if fi is None or not mpmath.isfinite(_abs_hi(fi)):
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
            try:
                sums = []
                for terms, keys in ((self.num, top), (self.den, bot)):
                    acc = iv.mpf(0)
                    for k in keys:
                        fi = _safe(_iv_lambdify(k[2]), tail) if k[2] != 1 else iv.mpf(1)
                        if fi is None:
                            return None
                        acc += _iv_const(terms[k]) * fi
                    sums.append(acc)
            except _Fail:
                return None
            if _abs_lo(sums[0]) == 0 or _abs_lo(sums[1]) == 0:
                return None
            ratio = sums[0] / sums[1]
            return sp.oo if _ends(ratio)[0] > 0 else -sp.oo
        ratio = self.num[p] / self.den[q]
        if cmp < 0:
            return sp.S.Zero
        if cmp == 0:
            return ratio
        return sp.oo if _num(ratio) > 0 else -sp.oo

    def bound(self, M: mpmath.mpf):
        """``(upper bound of |g| on [M', oo), M')`` with ``M' >= M``, or ``None``."""
        q = self.dominant(self.den)
        for terms in (self.num, self.den):
            for (r, m, F), c in terms.items():
                rr, mm = sp.Poly(r - q[0], T), m - q[1]
                if rr.is_zero:
                    if mm > 0:
                        return None  # numerator outgrows the denominator
                else:
                    if _num(rr.LC()) > 0:
                        return None
                    # t^mm exp(rr) decreases once h = mm + t rr' < 0: beyond a Cauchy root bound
                    h = sp.Poly(mm + T * rr.diff(T).as_expr(), T)
                    cs = h.all_coeffs()
                    cauchy = 1 + max((abs(_num(x / cs[0])) for x in cs[1:]), default=0)
                    M = max(M, mpmath.ceil(cauchy) + 1)
        M = max(M, mpmath.mpf(1))
        Mi = iv.mpf(M)
        tail = iv.mpf([M, "inf"])

        def total(terms):
            acc = iv.mpf(0)
            for (r, m, F), c in terms.items():
                rr, mm = sp.Poly(r - q[0], T), m - q[1]
                val = _iv_const(c)
                if F != 1:
                    fi = _safe(_iv_lambdify(F), tail)
                    if fi is None or not mpmath.isfinite(_abs_hi(fi)):
                        raise _Fail("opaque factor unbounded on the tail")
                    val = val * fi
                if rr.is_zero:
                    if mm < 0:
                        val = val * iv.mpf([0, (Mi ** mm).b])
                else:
                    r_at_M = _iv_lambdify(rr.as_expr())(Mi)
                    val = val * iv.mpf([0, (Mi ** mm * iv.exp(r_at_M)).b])
                acc += val
            return acc

        try:
            n, d = total(self.num), total(self.den)
        except _Fail:
            return None
        if _abs_lo(d) == 0:
            return None
        return _abs_hi(n / d), M


def _exp_poly_form(g: sp.Expr, side: int) -> _ExpPolyForm | None:
    try:
        return _ExpPolyForm(g, side)
    except (_Fail, sp.PolynomialError, TypeError, ValueError):
        return None


def _limit_at_infinity(g: sp.Expr, side: int, deadline) -> sp.Expr | None:
    """``lim g`` as ``t -> side*oo`` read off the dominant terms (see :class:`_ExpPolyForm`)."""
    form = _guarded(deadline, _exp_poly_form, g, side)
    return None if form is None else form.limit()


def _limit(g, point, direction, deadline):
    if point in (sp.oo, -sp.oo):
        fast = _limit_at_infinity(g, 1 if point == sp.oo else -1, deadline)
        if fast is not None:
            return fast
        return _guarded(deadline, sp.limit, g, T, point)
    if not g.has(T):
        return g
    if _continuous_on(g, sp.Interval(point - sp.Rational(1, 1024), point + sp.Rational(1, 1024)),
                      deadline):
        return g.subs(T, point)
    return _guarded(deadline, sp.limit, g, T, point, direction)


def _exp_substitution_points(gp: sp.Expr, interval: sp.Interval, deadline) -> list[sp.Expr]:
    """Zeros of ``gp`` in ``interval`` when ``gp`` is rational in ``u = exp(t/q)``."""
    h = _guarded(deadline, gp.rewrite, sp.exp)
    lin = {}
    for e in h.atoms(sp.exp):
        arg = sp.expand(e.args[0])
        a, b = arg.coeff(T, 1), arg.coeff(T, 0)
        if not (a.is_Rational and not b.has(T) and sp.expand(a * T + b - arg) == 0):
            raise _Fail("exp argument not linear with rational slope")
        lin[e] = (a, b)
    if not lin:
        raise _Fail("no exp to substitute")
    q = sp.ilcm(*[a.q for a, _ in lin.values()]) if len(lin) > 1 else list(lin.values())[0][0].q
    u = sp.Dummy("u", positive=True)
    hu = h.xreplace({e: sp.exp(b) * u ** (a * q) for e, (a, b) in lin.items()})
    if hu.has(T):
        raise _Fail("not rational in exp(t)")
    num, den = sp.fraction(_guarded(deadline, sp.together, hu))
    roots = _guarded(deadline, sp.solveset, num, u, sp.Interval.open(0, sp.oo))
    if not isinstance(roots, sp.FiniteSet):
        raise _Fail(f"roots in u: {roots}")
    pts = []
    for r in roots:
        if _equal(den.subs(u, r), sp.S.Zero, deadline) is not False:
            raise _Fail("root of the denominator")
        p = q * sp.log(r)
        if interval.contains(p) is sp.true:
            pts.append(p)
        elif interval.contains(p) is not sp.false:
            raise _Fail("cannot place a critical point")
    return pts


def _critical_points(g, gp, interval: sp.Interval, deadline):
    """Values of ``g`` at the critical points (``gp = 0``) in the open ``interval``.

    Returns a list of sympy constants; raises :class:`_Fail` when the zero set
    is not completely known.
    """
    if gp == 0:
        return [(g, "constant piece")]
    if not _continuous_on(gp, interval, deadline) or not _continuous_on(g, interval, deadline):
        raise _Fail("derivative not provably continuous on the piece")
    zeros = _guarded(deadline, sp.solveset, gp, T, interval)
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
                raise _Fail("critical points not an arithmetic progression")
            v = _guarded(deadline, sp.simplify, sp.Abs(g.subs(T, lam(n))))
            if v.has(n):
                raise _Fail("critical values depend on n")
            shown = lam.expr.xreplace({lam.variables[0]: sp.Symbol("n")})
            values.append((v, f"critical points t={sp.sstr(shown)} (n integer, solveset)"))
        elif isinstance(comp, sp.ConditionSet):
            values.extend((g.subs(T, p), f"critical point t={p} (solved in exp(t))")
                          for p in _exp_substitution_points(gp, interval, deadline))
        else:
            raise _Fail(f"critical set {type(comp).__name__}")
    return values


def _tidy(v: sp.Expr, deadline) -> sp.Expr:
    try:
        s = _guarded(deadline, sp.simplify, v)
        s = _guarded(deadline, sp.radsimp, s)
        return s if sp.count_ops(s) <= sp.count_ops(v) else v
    except _Fail:
        return v


def _exact_sup(pieces, order: int, deadline: _Deadline) -> tuple[sp.Expr, str]:
    """Exact ``sup |σ^(order)|`` (``oo`` allowed); raises :class:`_Fail`."""
    cands: list[tuple[mpmath.mpf, sp.Expr, str]] = []
    accum: list[tuple[mpmath.mpf, str]] = []

    def add(v: sp.Expr, where: str, periodic: bool = False) -> None:
        if isinstance(v, sp.AccumBounds):
            if periodic:  # critical points unbounded both ways: sup attained at them
                return
            if _is_infinite(v.min) or _is_infinite(v.max):
                raise _Fail(f"unbounded oscillation at {where}")
            accum.append((max(abs(_num(v.min)), abs(_num(v.max))), where))
            return
        if v.has(sp.Limit, sp.nan) or v is sp.nan:
            raise _Fail(f"undetermined {where}")
        if _is_infinite(v):
            raise _Infinite(where)
        cands.append((abs(_num(v)), v, where))

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
            add(_limit(g, end, side, deadline), f"limit t->{end}{side if end.is_finite else ''}",
                periodic=periodic and not end.is_finite)
            if order == 0 and end.is_finite and I.contains(end) is sp.true:
                add(g.subs(T, end), f"t={end}")
        for v, where in crit:
            add(v, where)
    if not cands:
        raise _Fail("no candidates")
    best = max(cands, key=lambda c: c[0])
    if accum and max(a for a, _ in accum) > best[0] * (1 + mpmath.mpf(10) ** -25):
        raise _Fail("limit at infinity is only an accumulation interval")
    value = _tidy(best[1] if _num(best[1]) >= 0 else -best[1], deadline)
    how = f"sup |σ^({order})| at {best[2]}; candidates: end limits + critical points"
    return value, how


class _Infinite(Exception):
    def __init__(self, where: str) -> None:
        super().__init__(where)
        self.where = where


def _jump(pieces, order: int, deadline: _Deadline | None) -> tuple[bool | None, str]:
    """Whether ``σ^(order)`` has a jump at a breakpoint (``None`` if undecided).

    With a ``deadline`` (main thread) the one-sided limits are exact sympy
    limits compared exactly.  Without one, each piece's formula is evaluated at
    the breakpoint (its one-sided limit, the formulas being elementary and
    finite there): equal expressions are continuous, disjoint interval
    enclosures are a jump, anything else is undecided.
    """
    proper = _proper(pieces)
    undecided = ""
    for (el, il), (er, ir) in zip(proper, proper[1:]):
        c = il.sup
        dl, dr = sp.diff(el, T, order), sp.diff(er, T, order)
        if deadline is not None:
            vals = [_limit(dl, c, "-", deadline), _limit(dr, c, "+", deadline)]
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
                    x, y = _iv_const(vals[0]), _iv_const(v)
                    xa, xb = _ends(x)
                    ya, yb = _ends(y)
                    eq = False if (xb < ya or yb < xa) else None
                except Exception:  # noqa: BLE001 - any evaluation problem: undecided
                    eq = None
            if eq is False:
                return True, f"σ^({order}) jumps at t={c}"
            if eq is None:
                undecided = f"continuity of σ^({order}) at t={c} undecided"
    return (None, undecided) if undecided else (False, "")


# ---------------------------------------------------------------------------
# interval arithmetic
# ---------------------------------------------------------------------------
def _ends(x) -> tuple[mpmath.mpf, mpmath.mpf]:
    a, b = x._mpi_
    return mpmath.mp.make_mpf(a), mpmath.mp.make_mpf(b)


def _as_iv(x):
    return x if isinstance(x, iv.mpf) else iv.mpf(x)


def _iv_hull(lo, hi):
    """Interval ``[lo, hi]`` widened by a relative ``2^-(prec-8)`` (covers evaluation error)."""
    eps = _MP.mpf(2) ** (-(iv.prec - 8))
    lo, hi = _MP.mpf(lo), _MP.mpf(hi)
    lo = lo - abs(lo) * eps if _MP.isfinite(lo) else lo
    hi = hi + abs(hi) * eps if _MP.isfinite(hi) else hi
    return iv.mpf([lo, hi])


def _iv_monotone(fn: Callable, increasing: bool) -> Callable:
    """Interval extension of a monotone function evaluated at 40 extra bits."""

    def f(x):
        a, b = _ends(_as_iv(x))
        fa, fb = fn(_MP.mpf(a)), fn(_MP.mpf(b))
        return _iv_hull(fa, fb) if increasing else _iv_hull(fb, fa)

    return f


def _iv_cosh(x):
    a, b = _ends(_as_iv(x))
    ca, cb = _MP.cosh(_MP.mpf(a)), _MP.cosh(_MP.mpf(b))
    if a >= 0:
        return _iv_hull(ca, cb)
    if b <= 0:
        return _iv_hull(cb, ca)
    return _iv_hull(1, max(ca, cb))


def _iv_namespace() -> dict:
    ns = {
        "mpf": iv.mpf, "exp": iv.exp, "log": iv.ln, "sqrt": iv.sqrt, "sin": iv.sin,
        "cos": iv.cos, "tan": iv.tan, "pi": iv.pi, "e": iv.e, "E": iv.e, "abs": abs,
        "fabs": abs,
        "erf": _iv_monotone(_MP.erf, True),
        "erfc": _iv_monotone(_MP.erfc, False),
        "tanh": _iv_monotone(_MP.tanh, True),
        "sinh": _iv_monotone(_MP.sinh, True),
        "atan": _iv_monotone(_MP.atan, True),
        "asinh": _iv_monotone(_MP.asinh, True),
        "cosh": _iv_cosh,
    }
    ns["sech"] = lambda x: 1 / _iv_cosh(x)
    return ns


def _iv_lambdify(e: sp.Expr) -> Callable:
    """Interval extension of ``e(t)``; unsupported functions raise NameError at call."""
    printer = MpmathPrinter(
        {"fully_qualified_modules": False, "inline": True, "allow_unknown_functions": True})
    fn = sp.lambdify(T, e, modules=[_iv_namespace()], printer=printer)

    def call(x):
        y = fn(x)
        return _as_iv(y)

    return call


def _iv_const(v: sp.Expr):
    """Rigorous interval enclosure of a sympy constant."""
    return _iv_lambdify(v)(iv.mpf(0))


def _abs_hi(y) -> mpmath.mpf:
    a, b = _ends(y)
    if mpmath.isnan(a) or mpmath.isnan(b):
        return mpmath.inf
    return max(abs(a), abs(b))


def _abs_lo(y) -> mpmath.mpf:
    a, b = _ends(y)
    if mpmath.isnan(a) or mpmath.isnan(b) or (a <= 0 <= b):
        return mpmath.mpf(0)
    return min(abs(a), abs(b))


def _safe(fn, x):
    try:
        y = fn(x)
    except (ZeroDivisionError, ValueError, ArithmeticError, TypeError):
        return None
    except NameError as exc:
        raise _Fail(f"no interval extension: {exc}") from None
    return y


class _Enclosure:
    """Branch and bound for ``sup |g|`` on finite intervals (natural ∩ mean-value form)."""

    def __init__(self, g: sp.Expr, gp: sp.Expr) -> None:
        self.G = _iv_lambdify(g)
        self.GP = _iv_lambdify(gp)
        self.lower = mpmath.mpf(0)
        self.evals = 0

    def point(self, x: mpmath.mpf) -> None:
        y = _safe(self.G, iv.mpf(x))
        self.evals += 1
        if y is not None:
            self.lower = max(self.lower, _abs_lo(y))

    def upper(self, a: mpmath.mpf, b: mpmath.mpf) -> mpmath.mpf:
        """Upper bound of ``|g|`` on ``[a, b]``; also improves the lower bound."""
        X = iv.mpf([a, b])
        m = iv.mpf((a + b) / 2)
        nat = _safe(self.G, X)
        gm = _safe(self.G, m)
        dg = _safe(self.GP, X)
        self.evals += 3
        best = mpmath.inf
        if nat is not None:
            best = _abs_hi(nat)
        if gm is not None:
            self.lower = max(self.lower, _abs_lo(gm))
            if dg is not None:
                cen = gm + dg * (X - m)
                best = min(best, _abs_hi(cen))
        return best

    def run(self, cells: list[tuple[mpmath.mpf, mpmath.mpf]], stop: Callable[[], float],
            deadline: float, max_evals: int) -> tuple[mpmath.mpf, int]:
        heap = []
        self.point(cells[0][0])
        self.point(cells[-1][1])
        for a, b in cells:
            heapq.heappush(heap, (-self.upper(a, b), a, b))
        while heap and self.evals < max_evals and time.monotonic() < deadline:
            top = -heap[0][0]
            if top <= stop():
                break
            _, a, b = heapq.heappop(heap)
            m = (a + b) / 2
            if not a < m < b:  # cannot split further
                heapq.heappush(heap, (-top, a, b))
                break
            heapq.heappush(heap, (-self.upper(a, m), a, m))
            heapq.heappush(heap, (-self.upper(m, b), m, b))
        return (-heap[0][0] if heap else mpmath.mpf(0)), len(heap)


def _tail_interval(G: Callable, M: mpmath.mpf, side: int):
    """Upper bound of ``|g|`` on the tail by interval evaluation on ``[M, +inf]``."""
    X = iv.mpf([M, "inf"]) if side > 0 else iv.mpf(["-inf", -M])
    y = _safe(G, X)
    if y is None:
        return None
    hi = _abs_hi(y)
    return (hi, M) if mpmath.isfinite(hi) else None


def _certified_sup(pieces, order: int) -> tuple[mpmath.mpf, mpmath.mpf, str]:
    """Rigorous ``lower <= sup |σ^(order)| <= upper`` over the pieces' open interiors."""
    t_start = time.monotonic()
    deadline = t_start + _CERT_SECONDS
    uppers: list[mpmath.mpf] = []
    lower = mpmath.mpf(0)
    n_cells = 0
    tail_how = set()
    region = mpmath.mpf(_T_TAIL)
    jobs = []
    for e, I in pieces:
        if I.measure == 0:
            if order == 0:
                y = _iv_const(e.subs(T, I.inf))
                lower = max(lower, _abs_lo(y))
                uppers.append(_abs_hi(y))
            continue
        g = sp.diff(e, T, order) if order else e
        if g.has(sp.Piecewise):
            raise _Fail("nested Piecewise has no interval extension")
        enc = _Enclosure(g, sp.diff(g, T))
        a = -mpmath.inf if I.inf == -sp.oo else _ends(_iv_const(I.inf))[0]
        b = mpmath.inf if I.sup == sp.oo else _ends(_iv_const(I.sup))[1]
        for side, unbounded in ((+1, b == mpmath.inf), (-1, a == -mpmath.inf)):
            if not unbounded:
                continue
            near = a if side > 0 else -b  # the piece's other end, seen from the tail
            form = _exp_poly_form(g, side)
            best = None
            base = max(near, 0) if mpmath.isfinite(near) else mpmath.mpf(0)
            for k in range(5):  # start the tail as early as the bound allows
                M = base + region / 2 ** k
                res = None if form is None else form.bound(M)
                how = "exp-polynomial term bound"
                if res is None:
                    res = _tail_interval(enc.G, M, side)
                    how = "interval evaluation"
                if res is None:
                    break
                if best is not None and res[0] > best[0][0] * (1 + mpmath.mpf(2) ** -60):
                    break
                best = (res, how)
            if best is None:
                raise _Fail(f"no tail bound for σ^({order}) = {g} as t -> {side * sp.oo}")
            (bnd, M), how = best
            uppers.append(bnd)
            tail_how.add(f"{how} on |t|>={mpmath.nstr(M, 6)}")
            for k in (3, 6, 12, 24, 48, 96):  # far points: lower bounds near a limit sup
                enc.point(side * mpmath.mpf(10) ** k)
            if side > 0:
                b = M
            else:
                a = -M
        if a < b:
            jobs.append((enc, a, b))
        else:
            enc.point(a)
            lower = max(lower, enc.lower)
    for enc, a, b in jobs:
        width = b - a
        n = int(min(max(8, mpmath.ceil(width / mpmath.mpf("2.5"))), 256))
        cells = [(a + width * i / n, a + width * (i + 1) / n) for i in range(n)]
        cells[-1] = (cells[-1][0], b)

        def stop(enc=enc):
            return max(lower, enc.lower) * (1 + mpmath.mpf(2) ** -44) + mpmath.mpf(2) ** -1000

        up, left = enc.run(cells, stop, deadline, max_evals=40000)
        lower = max(lower, enc.lower)
        uppers.append(up)
        n_cells += left
    upper = max(uppers) if uppers else mpmath.mpf(0)
    if not mpmath.isfinite(upper):
        raise _Fail("interval enclosure is unbounded")
    how = (f"mpmath iv branch and bound ({n_cells} cells) + tail: "
           f"{'; '.join(sorted(tail_how)) or 'none'}")
    return lower, upper, how


# ---------------------------------------------------------------------------
# numeric estimate (last resort)
# ---------------------------------------------------------------------------
def _numeric_sup(pieces, order: int) -> tuple[mpmath.mpf, str]:
    """A dense-grid + golden-section estimate of ``sup |σ^(order)|`` (not a proof)."""
    best = mpmath.mpf(0)
    growth = []
    with mpmath.workdps(30):
        for e, I in pieces:
            g = sp.diff(e, T, order) if order else e
            f = sp.lambdify(T, g, modules="mpmath")

            def val(x):
                try:
                    y = mpmath.mpf(f(mpmath.mpf(x)))
                    return abs(y) if mpmath.isfinite(y) else mpmath.inf
                except (ZeroDivisionError, ValueError, TypeError, ArithmeticError):
                    return mpmath.mpf(0)

            lo = -40.0 if I.inf == -sp.oo else float(I.inf)
            hi = 40.0 if I.sup == sp.oo else float(I.sup)
            if I.measure == 0:
                if order == 0:
                    best = max(best, val(lo))
                continue
            lo, hi = max(lo, min(-40.0, hi - 80)), min(hi, max(40.0, lo + 80))
            n = 4000
            xs = [lo + (hi - lo) * i / n for i in range(n + 1)]
            ys = [val(x) for x in xs]
            order_idx = sorted(range(len(xs)), key=lambda i: ys[i], reverse=True)[:5]
            for i in order_idx:
                a, b = xs[max(i - 1, 0)], xs[min(i + 1, n)]
                phi = (math.sqrt(5) - 1) / 2
                for _ in range(80):
                    c, d = b - phi * (b - a), a + phi * (b - a)
                    if val(c) > val(d):
                        b = d
                    else:
                        a = c
                ys.append(val((a + b) / 2))
            best = max(best, max(ys))
            for side, end in ((1, I.sup), (-1, I.inf)):
                if end in (sp.oo, -sp.oo):
                    vals = [val(side * 10.0 ** k) for k in range(2, 13)]
                    growth.append(vals)
                    best = max(best, max(vals))
    for vals in growth:
        if vals[-1] > 1e6 and all(x <= y for x, y in zip(vals[4:], vals[5:])):
            return mpmath.inf, "numeric: |σ^(%d)| grows without bound on samples up to |t|=1e12" % order
    return best, "numeric: dense grid + golden section on [-40,40], samples to |t|=1e12"


# ---------------------------------------------------------------------------
# assembling the constants
# ---------------------------------------------------------------------------
def _float_down(x: mpmath.mpf) -> float:
    if x == mpmath.inf:
        return math.inf
    f = float(x)
    return math.nextafter(f, -math.inf) if mpmath.mpf(f) > x else f


def _float_up(x: mpmath.mpf) -> float:
    if x == mpmath.inf:
        return math.inf
    f = float(x)
    return math.nextafter(f, math.inf) if mpmath.mpf(f) < x else f


def _exact_constant(name: str, value: sp.Expr, how: str) -> Constant:
    if value == sp.oo:
        return Constant(name, sp.oo, math.inf, math.inf, "exact", how)
    try:
        y = _iv_const(value)
        lo, hi = _ends(y)
        if not (mpmath.isfinite(lo) and mpmath.isfinite(hi)):
            raise _Fail("no finite enclosure")
    except (_Fail, NameError, ValueError, TypeError, ZeroDivisionError):
        x = _num(value, 60)
        lo, hi = x - abs(x) * mpmath.mpf(10) ** -45, x + abs(x) * mpmath.mpf(10) ** -45
    return Constant(name, value, _float_down(max(lo, mpmath.mpf(0))), _float_up(hi), "exact", how)


def _sanity(pieces, order: int, value: sp.Expr) -> None:
    """Reject an 'exact' finite value that a quick numeric sample exceeds."""
    bound = _num(value, 30)
    with mpmath.workdps(20):
        for e, I in pieces:
            if I.measure == 0:
                continue
            g = sp.diff(e, T, order) if order else e
            f = sp.lambdify(T, g, modules="mpmath")
            lo, hi = float(I.inf), float(I.sup)
            for i in range(-200, 201):
                x = mpmath.mpf(i) / 10
                if not lo < i / 10 < hi:
                    continue
                try:
                    y = abs(mpmath.mpf(f(x)))
                except (ZeroDivisionError, ValueError, TypeError, ArithmeticError):
                    continue
                if y > bound * (1 + mpmath.mpf(10) ** -12) + mpmath.mpf(10) ** -15:
                    raise _Fail(f"sympy result {value} contradicted at t={x}")


def _infinite_end(pieces, order: int) -> str | None:
    """Where ``|σ^(order)| -> oo`` at ``±oo`` by dominant terms (no sympy limit), if anywhere."""
    for e, I in _proper(pieces):
        g = sp.diff(e, T, order) if order else e
        for side, end in ((1, I.sup), (-1, I.inf)):
            if end not in (sp.oo, -sp.oo):
                continue
            form = _exp_poly_form(g, side)
            lim = None if form is None else form.limit()
            if lim is not None and _is_infinite(lim):
                return f"limit t->{end} (dominant terms)"
    return None


def _sup_constant(name: str, pieces, order: int, deadline: _Deadline) -> Constant:
    reason = ""
    if _can_guard():
        try:
            value, how = _exact_sup(pieces, order, deadline)
            _sanity(pieces, order, value)
            return _exact_constant(name, value, how)
        except _Infinite as inf:
            return _exact_constant(name, sp.oo, f"|σ^({order})| -> oo as {inf.where}")
        except _Fail as exc:
            reason = str(exc)
    else:
        reason = "not in the main thread (sympy calls cannot be time-limited)"
    where = _infinite_end(pieces, order)
    if where is not None:
        return _exact_constant(name, sp.oo, f"|σ^({order})| -> oo as {where}")
    try:
        lo, hi, how = _certified_sup(pieces, order)
        return Constant(name, sp.Float(_float_up(hi)), _float_down(lo), _float_up(hi),
                        "certified", how)
    except _Fail as exc:
        reason = f"{reason}; certified failed: {exc}" if reason else f"certified failed: {exc}"
    est, how = _numeric_sup(pieces, order)
    how = f"{how} ({reason})"
    if est == mpmath.inf:
        return Constant(name, sp.oo, math.inf, math.inf, "numeric", how)
    return Constant(name, sp.Float(_float_up(est)), _float_down(est), _float_up(est), "numeric", how)


def _c0(expr: sp.Expr) -> Constant:
    v = expr.subs(T, 0)
    v = sp.Abs(v)
    if _can_guard():
        try:
            v = _guarded(_Deadline(_CALL_SECONDS), sp.simplify, v)
        except _Fail:
            pass
    return _exact_constant("c0", v, "|σ(0)| by substitution")


def _infinite(name: str, how: str) -> Constant:
    return Constant(name, sp.oo, math.inf, math.inf, "exact", how)


def _derive(expr: sp.Expr) -> tuple[Constant, ...]:
    main = _can_guard()
    deadline = _Deadline(_EXACT_BUDGET)
    try:
        pieces = _pieces(expr)
    except _Fail:
        pieces = [(expr, sp.Interval(-sp.oo, sp.oo))]
    S0 = _sup_constant("S0", pieces, 0, deadline)
    c0 = _c0(expr)
    jump0: bool | None = False
    jump1: bool | None = False
    why0 = why1 = ""
    if len(_proper(pieces)) > 1:
        try:
            jump0, why0 = _jump(pieces, 0, deadline if main else None)
            if jump0 is False:
                jump1, why1 = _jump(pieces, 1, deadline if main else None)
        except _Fail as exc:
            jump0, why0 = None, f"continuity at the breakpoints undecided ({exc})"
    if jump0:
        return (S0, _infinite("S1", f"{why0}: σ is not Lipschitz"),
                _infinite("S2", f"{why0}: σ' is not Lipschitz"), c0)
    S1 = _sup_constant("S1", pieces, 1, deadline)
    if jump1:
        S2 = _infinite("S2", f"{why1}: σ' is not Lipschitz")
    else:
        S2 = _sup_constant("S2", pieces, 2, deadline)
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
    """Derive ``S0, S1, S2, c0`` of the activation ``σ = expr`` (MATH.md §1).

    Parameters
    ----------
    expr : sympy.Expr
        A real expression in :data:`symlip.activations.T` (as produced by
        :func:`symlip.activations.activation`).

    Returns
    -------
    dict
        ``{"S0", "S1", "S2", "c0"}`` → :class:`~symlip.activations.Constant`,
        each ``exact``, ``certified`` or ``numeric`` (see the module docstring).
        Results are cached per expression.
    """
    if expr in _FULL:
        consts = _FULL[expr]
    elif _can_guard():
        consts = _FULL.setdefault(expr, _derive(expr))
    else:  # a worker thread: no exact path; cached separately so the main thread can redo it
        consts = _PARTIAL.get(expr) or _PARTIAL.setdefault(expr, _derive(expr))
    return {c.name: c for c in consts}


_SINGULARITY: dict[sp.Expr, str | None] = {}


def _singularity(expr: sp.Expr) -> str | None:
    """A point set where a piece's formula of σ is not continuous, if sympy finds one.

    Used when parsing an activation: an activation must be finite for every real
    ``t`` (``tan(t)`` is not).  Returns ``None`` when nothing is found, when
    sympy cannot decide, or outside the main thread.
    """
    if not _can_guard():
        return None
    if expr not in _SINGULARITY:
        _SINGULARITY[expr] = _find_singularity(expr)
    return _SINGULARITY[expr]


def _find_singularity(expr: sp.Expr) -> str | None:
    deadline = _Deadline(2 * _CALL_SECONDS)
    try:
        pieces = _pieces(expr)
    except _Fail:
        return None
    for e, I in _proper(pieces):
        try:
            dom = _guarded(deadline, continuous_domain, e, T, I)
            bad = _guarded(deadline, sp.Complement, I, dom)
        except _Fail:
            continue
        if bad is not sp.S.EmptySet and isinstance(bad, sp.Set):
            where = sp.sstr(bad) if isinstance(bad, sp.FiniteSet) else "infinitely many points"
            return f"{e} is singular at {where}"
    return None
