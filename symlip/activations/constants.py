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
"""
from __future__ import annotations

import contextlib
import functools
import heapq
import itertools
import math
import signal
import threading
import time
from typing import Callable, Iterator

import mpmath
import numpy as np
import sympy as sp
from flint import arb
from flint import ctx as _flint_ctx
from sympy.calculus.util import continuous_domain

from symlip.activations.base import T, Constant

__all__ = ["derive_constants", "call_with_time_limit", "can_time_limit", "point_enclosure", "exact_rationals",
           "compile_interval"]

#: time limit (seconds) of one guarded sympy call
_CALL_SECONDS = 2.5
#: time budget (seconds) of all exact attempts of one activation
_EXACT_BUDGET = 7.0
#: time budget (seconds) of one certified enclosure
_CERT_SECONDS = 3.5
#: time budget (seconds) of one numeric estimate
_NUMERIC_SECONDS = 1.5
#: time budget (seconds) of one whole derivation (all four constants); each step keeps
#: within it, up to about a second of overshoot per step
_TOTAL_SECONDS = 18.0
#: default half-width of the bounded region of the certified path, and its largest value
_T_TAIL = 40
_T_MAX = 40 * 16 ** 4
#: working precision (bits) of the arb interval arithmetic
_PREC = 128


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

    outer = signal.getitimer(signal.ITIMER_REAL)[0]
    if outer > 0:  # never outlast an enclosing limit
        seconds = min(seconds, outer)
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


@contextlib.contextmanager
def _cap(seconds: float, where: str) -> Iterator[None]:
    """A hard time limit on a whole tier (main thread; elsewhere the tier's own deadline rules).

    Raises :class:`_Fail` saying ``time limit ... s reached in <where>``.
    """
    if not _can_guard():
        yield
        return
    try:
        with _time_limit(max(seconds, 0.05)):
            yield
    except _Timeout:
        raise _Fail(f"time limit {seconds:.1f} s reached in {where}") from None


def _heavy(e: sp.Expr) -> bool:
    """Whether sympy rewriting of ``e`` may blow up: nested functions or a large expression.

    Off the main thread (no time limit) such rewriting is not attempted.
    """
    if sp.count_ops(e) > 60:
        return True
    return any(a.has(sp.Function) for f in e.atoms(sp.Function) for a in f.args)


def _sympy_step(fn: Callable, e: sp.Expr, *args, seconds: float = _CALL_SECONDS):
    """``fn(e, *args)`` for a sympy step outside the exact tier: time-limited on the main
    thread, skipped (``_Fail``) off it when ``e`` is :func:`_heavy`."""
    if _can_guard():
        return _guarded(_Deadline(seconds), fn, e, *args)
    if _heavy(e):
        raise _Fail(f"{getattr(fn, '__name__', fn)} skipped off the main thread (no time limit there)")
    try:
        return fn(e, *args)
    except _Fail:
        raise
    except (RecursionError, Exception) as exc:
        raise _Fail(f"{getattr(fn, '__name__', fn)} failed: {type(exc).__name__}") from None


def can_time_limit() -> bool:
    """Whether :func:`call_with_time_limit` can interrupt a call here (main thread, POSIX)."""
    return _can_guard()


def call_with_time_limit(seconds: float, fn: Callable, *args, **kwargs):
    """``fn(*args, **kwargs)``, interrupted after ``seconds`` with ``TimeoutError``.

    Only on the main thread (see :func:`can_time_limit`); elsewhere the call
    runs without a limit, so callers skip calls that may not finish there.
    Exceptions of ``fn`` propagate.
    """
    if not _can_guard():
        return fn(*args, **kwargs)
    try:
        with _time_limit(max(seconds, 0.01)):
            return fn(*args, **kwargs)
    except _Timeout:
        raise TimeoutError(f"{getattr(fn, '__name__', 'call')} took more than {seconds:.2g} s") from None


_PINF, _NINF = arb.pos_inf(), arb.neg_inf()
_ZERO, _ONE = arb(0), arb(1)


def _at_prec(fn: Callable) -> Callable:
    """Run ``fn`` at :data:`_PREC` bits of arb precision (any precision is rigorous;
    this one makes the enclosures tight)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if _flint_ctx.prec >= _PREC:
            return fn(*args, **kwargs)
        with _flint_ctx.workprec(_PREC):
            return fn(*args, **kwargs)

    return wrapper


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

    @_at_prec
    def limit(self) -> sp.Expr | None:
        """The exact limit on the tail, or ``None`` if it cannot be read off."""
        try:
            return self._limit()
        except _Fail:
            return None

    def _limit(self) -> sp.Expr | None:
        if not self.num:
            return sp.S.Zero
        # the growth order of a term is that of t^m exp(r) only if its factor F is bounded
        tail = _Iv(arb(_T_TAIL), _PINF)
        for terms in (self.num, self.den):
            for (_, _, F) in terms:
                if F != 1:
                    fi = _safe(_interval_fn(F), tail)
                    if fi is None or not _abs_hi(fi).is_finite():
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
                acc = _pt(_ZERO)
                for k in keys:
                    fi = _safe(_interval_fn(k[2]), tail) if k[2] != 1 else _pt(_ONE)
                    if fi is None:
                        return None
                    acc = _add(acc, _mul(_enclose_const(terms[k]), fi))
                sums.append(acc)
            if _abs_lo(sums[0]).is_zero() or _abs_lo(sums[1]).is_zero():
                return None
            ratio = _mul(sums[0], _inv(sums[1]))
            return sp.oo if ratio.lo > 0 else -sp.oo
        ratio = self.num[p] / self.den[q]
        if cmp < 0:
            return sp.S.Zero
        if cmp == 0:
            return ratio
        return sp.oo if _num(ratio) > 0 else -sp.oo

    @_at_prec
    def bound(self, M: arb) -> tuple[arb, arb] | None:
        """``(upper bound of |g| on [M', oo), M')`` with ``M' >= M``, or ``None``."""
        try:
            return self._bound(M)
        except _Fail:
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
                    if _num(rr.LC()) > 0:
                        return None
                    # t^mm exp(rr) decreases once h = mm + t rr' < 0: beyond a Cauchy root bound
                    h = sp.Poly(mm + T * rr.diff(T).as_expr(), T)
                    cs = h.all_coeffs()
                    cauchy = 1 + max((abs(_num(x / cs[0])) for x in cs[1:]), default=0)
                    M = max(M, arb(int(mpmath.ceil(cauchy)) + 1))
        M = max(M, _ONE)
        Mi = _pt(M)
        tail = _Iv(M, _PINF)
        exp = _IV_FUNCS[sp.exp]

        def total(terms):
            acc = _pt(_ZERO)
            for (r, m, F), c in terms.items():
                rr, mm = sp.Poly(r - q[0], T), m - q[1]
                val = _enclose_const(c)
                if F != 1:
                    fi = _safe(_interval_fn(F), tail)
                    if fi is None or not _abs_hi(fi).is_finite():
                        raise _Fail("opaque factor unbounded on the tail")
                    val = _mul(val, fi)
                if rr.is_zero:
                    if mm < 0:
                        val = _mul(val, _Iv(_ZERO, _powi(Mi, mm).hi))
                else:
                    r_at_M = _interval_fn(rr.as_expr())(Mi)
                    val = _mul(val, _Iv(_ZERO, _mul(_powi(Mi, mm), exp(r_at_M)).hi))
                acc = _add(acc, val)
            return acc

        n, d = total(self.num), total(self.den)
        if _abs_lo(d).is_zero():
            return None
        return _abs_hi(_mul(n, _inv(d))), M


def _exp_poly_form(g: sp.Expr, side: int) -> _ExpPolyForm | None:
    """The form of ``g`` on a tail, or ``None`` (also when sympy takes more than
    :data:`_FORM_SECONDS`: the expansion can blow up, e.g. for nested ``tanh``)."""
    return _exp_poly_form_cached(g, side, _can_guard())


#: time limit (seconds) of building one tail form
_FORM_SECONDS = 1.5


@functools.lru_cache(maxsize=256)
def _exp_poly_form_cached(g: sp.Expr, side: int, main: bool) -> _ExpPolyForm | None:
    try:
        return _sympy_step(_ExpPolyForm, g, side, seconds=_FORM_SECONDS)
    except _Fail:
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
                    x, y = _enclose_const(vals[0]), _enclose_const(v)
                    eq = False if (x.hi < y.lo or y.hi < x.lo) else None
                except Exception:  # noqa: BLE001 - any evaluation problem: undecided
                    eq = None
            if eq is False:
                return True, f"σ^({order}) jumps at t={c}"
            if eq is None:
                undecided = f"continuity of σ^({order}) at t={c} undecided"
    return (None, undecided) if undecided else (False, "")


# ---------------------------------------------------------------------------
# rigorous interval arithmetic on python-flint's arb balls
# ---------------------------------------------------------------------------
class _Iv:
    """The closed interval ``[lo, hi]`` of the extended real line.

    ``lo`` and ``hi`` are exact arb numbers (zero radius) or ``±inf``.  Every
    operation below encloses the exact range of the real operation (ends
    rounded outward by arb's ``lower``/``upper``); an operation outside its
    real domain gives the whole line (no information), never a wrong value.
    """

    __slots__ = ("lo", "hi")

    def __init__(self, lo: arb, hi: arb) -> None:
        self.lo, self.hi = lo, hi

    def is_finite(self) -> bool:
        return self.lo.is_finite() and self.hi.is_finite()

    def ball(self) -> arb:
        """An arb ball containing the (finite) interval."""
        return self.lo.union(self.hi)

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"[{self.lo.str(10)}, {self.hi.str(10)}]"


_WHOLE = _Iv(_NINF, _PINF)


def _lo(z: arb) -> arb:
    """The lower end of the ball ``z`` as an exact number (``-inf`` for nan)."""
    return _NINF if z.is_nan() else z.lower()


def _hi(z: arb) -> arb:
    return _PINF if z.is_nan() else z.upper()


def _pt(x: arb) -> _Iv:
    """The point interval of an exact arb number."""
    return _Iv(x, x)


def _ball_iv(z: arb) -> _Iv:
    return _Iv(_lo(z), _hi(z))


def _clip(x: _Iv, lo: arb | None, hi: arb | None) -> _Iv:
    a = lo if lo is not None and x.lo < lo else x.lo
    b = hi if hi is not None and x.hi > hi else x.hi
    return _Iv(a, b)


def _add(x: _Iv, y: _Iv) -> _Iv:
    return _Iv(_lo(x.lo + y.lo), _hi(x.hi + y.hi))


def _neg(x: _Iv) -> _Iv:
    return _Iv(-x.hi, -x.lo)


def _sub(x: _Iv, y: _Iv) -> _Iv:
    return _add(x, _neg(y))


def _end_mul(a: arb, b: arb) -> arb:
    """Product of two interval ends with ``0 * inf = 0`` (the interval convention)."""
    return _ZERO if a.is_zero() or b.is_zero() else a * b


def _mul(x: _Iv, y: _Iv) -> _Iv:
    ps = (_end_mul(x.lo, y.lo), _end_mul(x.lo, y.hi), _end_mul(x.hi, y.lo), _end_mul(x.hi, y.hi))
    return _Iv(min(_lo(p) for p in ps), max(_hi(p) for p in ps))


def _end_inv(a: arb) -> arb:
    return _ZERO if not a.is_finite() else 1 / a


def _inv(x: _Iv) -> _Iv:
    if x.lo > 0 or x.hi < 0:
        return _Iv(_lo(_end_inv(x.hi)), _hi(_end_inv(x.lo)))
    if x.lo.is_zero() and x.hi > 0:
        return _Iv(_lo(_end_inv(x.hi)), _PINF)
    if x.hi.is_zero() and x.lo < 0:
        return _Iv(_NINF, _hi(_end_inv(x.lo)))
    return _WHOLE


def _abs(x: _Iv) -> _Iv:
    if x.lo >= 0:
        return x
    if x.hi <= 0:
        return _neg(x)
    return _Iv(_ZERO, max(-x.lo, x.hi))


def _end_pow(a: arb, n: int) -> arb:
    if a.is_finite():
        return a ** n
    return _PINF if (a > 0 or n % 2 == 0) else _NINF


def _powi(x: _Iv, n: int) -> _Iv:
    """``x**n`` for an integer ``n``."""
    if n == 0:
        return _pt(_ONE)
    if n < 0:
        return _inv(_powi(x, -n))
    if n % 2 == 0:
        x = _abs(x)
    return _Iv(_lo(_end_pow(x.lo, n)), _hi(_end_pow(x.hi, n)))


def _rpow(x: _Iv, e: sp.Expr, eb: arb) -> _Iv:
    """``x**e`` for a real non-integer constant ``e`` (ball ``eb``); real only for ``x >= 0``."""
    if x.lo < 0 or eb.contains(0):
        return _WHOLE
    half = e == sp.S.Half

    def end(a: arb) -> arb:
        if a.is_zero():
            return _ZERO if eb > 0 else _PINF
        if not a.is_finite():
            return _PINF if eb > 0 else _ZERO
        return a.sqrt() if half else (eb * a.log()).exp()

    if eb > 0:
        return _Iv(max(_lo(end(x.lo)), _ZERO), _hi(end(x.hi)))
    return _Iv(max(_lo(end(x.hi)), _ZERO), _hi(end(x.lo)))


def _monotone(f: Callable[[arb], arb], at_ninf: arb, at_pinf: arb, increasing: bool = True,
              lo: arb | None = None, hi: arb | None = None) -> Callable[[_Iv], _Iv]:
    """Interval extension of a monotone function with limits ``at_ninf``, ``at_pinf``
    and range within ``[lo, hi]``."""

    def g(x: _Iv) -> _Iv:
        a = at_ninf if x.lo == _NINF else f(x.lo)
        b = at_pinf if x.hi == _PINF else f(x.hi)
        out = _Iv(_lo(a), _hi(b)) if increasing else _Iv(_lo(b), _hi(a))
        return _clip(out, lo, hi)

    return g


def _ball_fn(f: Callable[[arb], arb], lo: arb | None = None, hi: arb | None = None) -> Callable[[_Iv], _Iv]:
    """Interval extension by arb's ball evaluation (finite intervals); on an
    unbounded interval the function's global range ``[lo, hi]`` (whole line if unknown)."""

    def g(x: _Iv) -> _Iv:
        if x.is_finite():
            return _clip(_ball_iv(f(x.ball())), lo, hi)
        if lo is None or hi is None:
            return _WHOLE
        return _Iv(lo, hi)

    return g


def _log(x: _Iv) -> _Iv:
    if x.lo < 0:
        return _WHOLE
    a = _NINF if x.lo.is_zero() else _lo(x.lo.log())
    b = _PINF if x.hi == _PINF else _hi(x.hi.log())
    return _Iv(a, b)


def _even_increasing(f: Callable[[arb], arb], at_inf: arb) -> Callable[[_Iv], _Iv]:
    """``f(|x|)`` for ``f`` increasing on ``[0, inf)`` (cosh)."""
    inc = _monotone(f, at_inf, at_inf, True)
    return lambda x: inc(_abs(x))


def _sinc(x: _Iv) -> _Iv:
    if x.is_finite():
        return _clip(_ball_iv(x.ball().sinc()), -_ONE, _ONE)
    m = _abs(x).lo  # |sin x / x| <= min(1, 1/|x|)
    b = _ONE if m <= 1 else _hi(1 / m)
    return _Iv(-b, b)


def _besselj(nu: sp.Expr) -> Callable[[_Iv], _Iv]:
    if not (nu.is_Integer and nu >= 0):
        raise _Fail(f"no rigorous enclosure for besselj of order {nu}")
    n = int(nu)
    return _ball_fn(lambda z: z.bessel_j(n), -_ONE, _ONE)  # |J_n(x)| <= 1 for integer n >= 0


_SI_MAX = arb("1.852")  # max |Si| = Si(pi) = 1.8519370...

#: sympy function -> interval extension (the whitelist of the certified tier)
_IV_FUNCS: dict[type, Callable[[_Iv], _Iv]] = {
    sp.exp: _monotone(lambda a: a.exp(), _ZERO, _PINF, True, _ZERO, None),
    sp.log: _log,
    sp.tanh: _monotone(lambda a: a.tanh(), -_ONE, _ONE, True, -_ONE, _ONE),
    sp.sinh: _monotone(lambda a: a.sinh(), _NINF, _PINF, True),
    sp.asinh: _monotone(lambda a: a.asinh(), _NINF, _PINF, True),
    sp.atan: _monotone(lambda a: a.atan(), -arb.pi() / 2, arb.pi() / 2, True, -arb(2), arb(2)),
    sp.erf: _monotone(lambda a: a.erf(), -_ONE, _ONE, True, -_ONE, _ONE),
    sp.erfc: _monotone(lambda a: a.erfc(), arb(2), _ZERO, False, _ZERO, arb(2)),
    sp.cosh: _even_increasing(lambda a: a.cosh(), _PINF),
    sp.sin: _ball_fn(lambda z: z.sin(), -_ONE, _ONE),
    sp.cos: _ball_fn(lambda z: z.cos(), -_ONE, _ONE),
    sp.tan: _ball_fn(lambda z: z.tan()),
    sp.Abs: _abs,
    sp.sinc: _sinc,
    sp.Si: _ball_fn(lambda z: z.si(), -_SI_MAX, _SI_MAX),
    sp.airyai: _ball_fn(lambda z: z.airy_ai()),
    sp.airyaiprime: _ball_fn(lambda z: z.airy_ai(derivative=1)),
}
#: functions written through others: sech = 1/cosh, csch = 1/sinh, coth = cosh/sinh
_IV_REWRITE = {sp.sech: lambda a: 1 / sp.cosh(a, evaluate=False),
               sp.csch: lambda a: 1 / sp.sinh(a, evaluate=False),
               sp.coth: lambda a: sp.cosh(a, evaluate=False) / sp.sinh(a, evaluate=False)}


def _number(e: sp.Expr) -> _Iv:
    """An enclosure of a sympy number or named constant."""
    if e.is_Integer:
        return _pt(arb(int(e)))
    if e.is_Rational:
        return _ball_iv(arb(int(e.p)) / arb(int(e.q)))
    if e.is_Float:
        sign, man, exp, _ = e._mpf_
        if man == 0 and exp != 0:  # inf or nan
            raise _Fail(f"no rigorous enclosure for {e}")
        return _pt(arb((-man if sign else man, exp)))
    consts = {sp.pi: arb.pi, sp.E: arb.const_e, sp.EulerGamma: arb.const_euler,
              sp.Catalan: arb.const_catalan}
    if e in consts:
        return _ball_iv(consts[e]())
    if e is sp.GoldenRatio:
        return _ball_iv((1 + arb(5).sqrt()) / 2)
    raise _Fail(f"no rigorous enclosure for {e} ({type(e).__name__})")


def _compile(e: sp.Expr) -> Callable[[_Iv], _Iv]:
    """Interval extension of ``e(t)``; a subexpression without ``t`` is evaluated once."""
    f = _compile_node(e)
    if e.is_Atom or e.has(T):
        return f
    c = f(_pt(_ZERO))
    return lambda x: c


def _compile_node(e: sp.Expr) -> Callable[[_Iv], _Iv]:
    if e == T:
        return lambda x: x
    if e.is_Atom:
        if e.is_Symbol:
            raise _Fail(f"free symbol {e}")
        c = _number(e)
        return lambda x: c
    if e.is_Add or e.is_Mul:
        op = _add if e.is_Add else _mul
        parts = [_compile(a) for a in e.args]

        def combine(x: _Iv) -> _Iv:
            acc = parts[0](x)
            for p in parts[1:]:
                acc = op(acc, p(x))
            return acc

        return combine
    if e.is_Pow:
        base, ex = e.args
        fb = _compile(base)
        if ex.has(T):  # b**e = exp(e log b)
            fe = _compile(ex)
            exp = _IV_FUNCS[sp.exp]
            return lambda x: exp(_mul(fe(x), _log(fb(x))))
        if ex.is_Integer:
            n = int(ex)
            return lambda x: _powi(fb(x), n)
        eiv = _compile(ex)(_pt(_ZERO))
        if not eiv.is_finite():
            raise _Fail(f"no rigorous enclosure for the power {e}")
        eb = eiv.ball()
        return lambda x: _rpow(fb(x), ex, eb)
    func = type(e)
    if func in _IV_REWRITE:
        return _compile(_IV_REWRITE[func](*e.args))
    if func is sp.besselj:
        fn = _besselj(e.args[0])
        fa = _compile(e.args[1])
        return lambda x: fn(fa(x))
    if func in _IV_FUNCS and len(e.args) == 1:
        fn = _IV_FUNCS[func]
        fa = _compile(e.args[0])
        return lambda x: fn(fa(x))
    name = getattr(func, "__name__", str(func))
    raise _Fail(f"no rigorous enclosure for {name}")


@functools.lru_cache(maxsize=1024)
def _interval_fn(e: sp.Expr) -> Callable[[_Iv], _Iv]:
    """The interval extension of ``e(t)`` (``_Fail`` naming a function without one)."""
    try:
        return _at_prec(_compile(e))
    except RecursionError:
        raise _Fail("expression too deep for an interval extension") from None


@_at_prec
def _enclose_const(v: sp.Expr) -> _Iv:
    """Rigorous enclosure of a sympy constant (``_Fail`` if none)."""
    if v.has(T):
        raise _Fail(f"{v} is not a constant")
    return _interval_fn(v)(_pt(_ZERO))


def _arb_of(x) -> arb:
    """An exact arb number from an int, a float or an mpmath number (exactly)."""
    if isinstance(x, arb):
        return x
    if isinstance(x, int):
        return arb(x)
    x = mpmath.mpf(x) if not hasattr(x, "_mpf_") else x
    if mpmath.isinf(x):
        return _PINF if x > 0 else _NINF
    sign, man, exp, _ = x._mpf_
    return arb((-man if sign else man, exp))


def _to_mpf(x: arb) -> mpmath.mpf:
    """The exact mpmath number of an exact arb number (``±inf`` included)."""
    if x == _PINF:
        return mpmath.inf
    if x == _NINF:
        return -mpmath.inf
    man, exp = x.man_exp()
    return mpmath.mp.make_mpf(mpmath.libmp.from_man_exp(int(man), int(exp)))


def _abs_hi(y: _Iv) -> arb:
    return max(-y.lo, y.hi)


def _abs_lo(y: _Iv) -> arb:
    if y.lo <= 0 <= y.hi:
        return _ZERO
    return min(abs(y.lo), abs(y.hi))


def _safe(fn: Callable[[_Iv], _Iv], x: _Iv) -> _Iv | None:
    try:
        y = fn(x)
    except (ZeroDivisionError, ValueError, ArithmeticError, TypeError):
        return None
    return y


def _ratio_ok(a: arb, b: arb, rel: float) -> bool:
    """``a <= b * (1 + rel)`` as a heuristic decision (floats)."""
    fa, fb = float(a), float(b)
    return fa <= fb * (1 + rel)


@_at_prec
def _point_iv(expr: sp.Expr, x: float) -> _Iv | None:
    """The arb enclosure of ``expr`` at ``t = x`` (``None``: no interval extension)."""
    try:
        return _interval_fn(expr)(_pt(_arb_of(float(x))))
    except (_Fail, ZeroDivisionError, ValueError, ArithmeticError, TypeError):
        return None


def point_enclosure(expr: sp.Expr, x: float) -> tuple[float, float] | None:
    """A rigorous float enclosure ``(lo, hi)`` of ``expr`` at ``t = x`` from arb,
    or ``None`` when ``expr`` has a function without an interval extension or the
    enclosure is not finite (then ``expr`` may not be real there)."""
    y = _point_iv(expr, x)
    if y is None or not y.is_finite():
        return None
    return _float_down(_to_mpf(y.lo)), _float_up(_to_mpf(y.hi))


def compile_interval(expr: sp.Expr) -> Callable[[arb, arb], tuple[arb, arb]]:
    """A rigorous interval extension of ``expr(t)`` on python-flint's arb (docs/theory.md §1.4).

    Returns ``F(lo, hi) -> (ylo, yhi)`` with exact arb ends such that
    ``ylo <= expr(t) <= yhi`` for every real ``t`` in ``[lo, hi]`` (``lo <= hi``
    exact arb numbers or ``±inf``; ends may be ``±inf`` when nothing better is
    known).  A Piecewise ``expr`` is enclosed piece by piece over the pieces that
    meet ``[lo, hi]`` (each piece's closure, so a jump is covered by both sides).
    ``ValueError`` when ``expr`` has a function without an interval extension.
    The symbolic layer (sympy) is joined to the rigorous numeric layer here, as
    the numpy kernels join it to float64.
    """
    try:
        pieces = [(_arb_of(float(dom.inf)) if dom.inf.is_finite else _NINF,
                   _arb_of(float(dom.sup)) if dom.sup.is_finite else _PINF,
                   _interval_fn(e)) for e, dom in _pieces(expr)]
        for a, b, _fn in pieces:
            if a.is_finite() and _arb_of(float(a)) != a:  # pragma: no cover - float kinks only
                raise _Fail("a breakpoint is not a float")
    except _Fail as exc:
        raise ValueError(f"no interval extension of {expr}: {exc}") from None

    @_at_prec
    def enclose(lo: arb, hi: arb) -> tuple[arb, arb]:
        if not lo <= hi:
            raise ValueError(f"interval ends must satisfy lo <= hi; got [{lo}, {hi}]")
        ylo, yhi = _PINF, _NINF
        for a, b, fn in pieces:
            if b < lo or a > hi:
                continue
            x = _Iv(max(a, lo), min(b, hi))
            y = _safe(fn, x)
            if y is None:
                return _NINF, _PINF
            ylo, yhi = min(ylo, y.lo), max(yhi, y.hi)
        return ylo, yhi

    return enclose


def _mid(a: arb, b: arb) -> arb:
    return ((a + b) / 2).mid()


class _Enclosure:
    """Branch and bound for ``sup |g|`` on finite intervals (natural ∩ mean-value form)."""

    def __init__(self, g: sp.Expr, gp: sp.Expr) -> None:
        self.G = _interval_fn(g)
        try:
            self.GP = _interval_fn(gp)
        except _Fail:
            self.GP = None
        self.lower = _ZERO
        self.evals = 0

    def point(self, x: arb) -> None:
        y = _safe(self.G, _pt(x))
        self.evals += 1
        if y is not None:
            self.lower = max(self.lower, _abs_lo(y))

    def upper(self, a: arb, b: arb) -> arb:
        """Upper bound of ``|g|`` on ``[a, b]``; also improves the lower bound."""
        X = _Iv(a, b)
        m = _mid(a, b)
        nat = _safe(self.G, X)
        gm = _safe(self.G, _pt(m))
        dg = _safe(self.GP, X) if self.GP is not None else None
        self.evals += 3
        best = _PINF if nat is None else _abs_hi(nat)
        if gm is not None:
            self.lower = max(self.lower, _abs_lo(gm))
            if dg is not None:
                cen = _add(gm, _mul(dg, _sub(X, _pt(m))))
                best = min(best, _abs_hi(cen))
        return best

    def run(self, cells: list[tuple[arb, arb]], stop: Callable[[], arb],
            deadline: float, max_evals: int) -> tuple[arb, int]:
        heap = []
        count = itertools.count()
        self.point(cells[0][0])
        self.point(cells[-1][1])

        def push(up: arb, a: arb, b: arb) -> None:
            heapq.heappush(heap, (-float(up), next(count), up, a, b))

        for a, b in cells:
            push(self.upper(a, b), a, b)
        while heap and self.evals < max_evals and time.monotonic() < deadline:
            top = heap[0][2]
            if top <= stop():
                break
            _, _, up, a, b = heapq.heappop(heap)
            m = _mid(a, b)
            if not a < m < b:  # cannot split further
                push(up, a, b)
                break
            push(self.upper(a, m), a, m)
            push(self.upper(m, b), m, b)
        return (max(e[2] for e in heap) if heap else _ZERO), len(heap)


def _tail_interval(G: Callable, M: arb, side: int) -> tuple[arb, arb] | None:
    """Upper bound of ``|g|`` on the tail by interval evaluation on ``[M, +inf]``."""
    X = _Iv(M, _PINF) if side > 0 else _Iv(_NINF, -M)
    y = _safe(G, X)
    if y is None:
        return None
    hi = _abs_hi(y)
    return (hi, M) if hi.is_finite() else None


def _grid(a: arb, b: arb, n: int) -> list[tuple[arb, arb]]:
    """``n`` adjacent cells covering ``[a, b]`` (exact ends)."""
    pts = [a] + [(a + (b - a) * i / n).mid() for i in range(1, n)] + [b]
    pts = [p for i, p in enumerate(pts) if i == 0 or p > pts[i - 1]]
    return list(zip(pts, pts[1:]))


class _Piece:
    """One piece of σ^(order) prepared for the certified tier."""

    def __init__(self, g: sp.Expr, a: arb, b: arb) -> None:
        self.g, self.a, self.b = g, a, b
        self.enc = _Enclosure(g, sp.diff(g, T))
        self.forms = {side: _exp_poly_form(g, side)
                      for side, unbounded in ((+1, b == _PINF), (-1, a == _NINF)) if unbounded}
        for c in _centres(g):  # shifted features: lower bounds where they sit
            x = _arb_of(c)
            if a < x < b:
                self.enc.point(x)

    def tail(self, side: int, region: arb) -> tuple[arb, arb, str]:
        """``(bound of |g| on the tail, where the tail starts, how)``, starting it as early as the bound allows."""
        near = self.a if side > 0 else -self.b  # the piece's other end, seen from the tail
        base = max(near, _ZERO) if near.is_finite() else _ZERO
        form = self.forms[side]
        best = None
        for k in range(5):
            M = _hi(base + region / 2 ** k)
            res = None if form is None else form.bound(M)
            how = "exp-polynomial term bound"
            if res is None:
                res = _tail_interval(self.enc.G, M, side)
                how = "interval evaluation"
            if res is None:
                break
            if best is not None and not _ratio_ok(res[0], best[0], 2.0 ** -60):
                break
            best = (res[0], res[1], how)
        if best is None:
            raise _Fail(f"no tail bound for σ^(k) = {self.g} as t -> {side * sp.oo}")
        for k in (10, 20, 40, 80, 160, 320):  # far points: lower bounds near a limit sup
            self.enc.point(side * arb(2) ** k)
        return best


@_at_prec
def _certified_sup(pieces, order: int, seconds: float = _CERT_SECONDS) -> tuple[mpmath.mpf, mpmath.mpf, str]:
    """Rigorous ``lower <= sup |σ^(order)| <= upper`` over the pieces' open interiors.

    The bounded region ``[-M, M]`` grows (16-fold, up to :data:`_T_MAX`) while a
    tail bound exceeds the values found so far and growing lowers it: the
    enclosure is rigorous for any ``M`` (the tails are bounded for ``|t| >= M``),
    growing only makes it tight for features far from 0.
    """
    deadline = time.monotonic() + seconds
    lower = _ZERO
    fixed: list[arb] = []
    prepared: list[_Piece] = []
    for e, I in pieces:
        if I.measure == 0:
            if order == 0:
                y = _enclose_const(e.subs(T, I.inf))
                lower = max(lower, _abs_lo(y))
                fixed.append(_abs_hi(y))
            continue
        g = sp.diff(e, T, order) if order else e
        if g.has(sp.Piecewise):
            raise _Fail("no rigorous enclosure for a nested Piecewise")
        a = _NINF if I.inf == -sp.oo else _enclose_const(I.inf).lo
        b = _PINF if I.sup == sp.oo else _enclose_const(I.sup).hi
        prepared.append(_Piece(g, a, b))
    region = arb(_T_TAIL)
    # grow the region while the tails dominate what is found inside (cheap: tails and samples only)
    while True:
        tails = [p.tail(side, region) for p in prepared for side in p.forms]
        for p in prepared:  # coarse samples of the bounded part
            lo_end = max(p.a, -region)
            hi_end = min(p.b, region)
            if lo_end < hi_end:
                for c, _ in _grid(lo_end, hi_end, 256):
                    p.enc.point(c)
            lower = max([lower] + [p.enc.lower for p in prepared])
        worst = max((t[0] for t in tails), default=_ZERO)
        bigger = region * 16
        if (not tails or _ratio_ok(worst, lower, 2.0 ** -40) or bigger > _T_MAX
                or time.monotonic() > deadline - 0.6 * seconds):
            break
        grown = [p.tail(side, bigger) for p in prepared for side in p.forms]
        if not (max(t[0] for t in grown) < worst):  # growing does not tighten the tails
            break
        region = bigger
    uppers = list(fixed)
    tail_how = set()
    jobs = []
    for p in prepared:
        a, b = p.a, p.b
        for side in p.forms:
            bnd, M, how = p.tail(side, region)
            uppers.append(bnd)
            tail_how.add(f"{how} on |t|>={float(M):.6g}")
            if side > 0:
                b = M
            else:
                a = -M
        if a < b:
            jobs.append((p.enc, a, b))
        else:
            p.enc.point(a)
        lower = max(lower, p.enc.lower)
    n_cells = 0
    for enc, a, b in jobs:
        n = int(min(max(8, math.ceil(float(b - a) / 2.5)), 256))

        def stop(enc=enc):
            return _hi(max(lower, enc.lower) * (1 + arb(2) ** -44) + arb(2) ** -1000)

        up, left = enc.run(_grid(a, b, n), stop, deadline, max_evals=40000)
        lower = max(lower, enc.lower)
        uppers.append(up)
        n_cells += left
    upper = max(uppers) if uppers else _ZERO
    if not upper.is_finite():
        raise _Fail("interval enclosure is unbounded")
    how = (f"arb interval branch and bound ({n_cells} cells) on |t|<={float(region):g} + tail: "
           f"{'; '.join(sorted(tail_how)) or 'none'}")
    return _to_mpf(lower), _to_mpf(upper), how


# ---------------------------------------------------------------------------
# numeric estimate (last resort)
# ---------------------------------------------------------------------------
#: beyond this |t| single points are not evaluated in mpmath (sin(exp(t)) needs ~1.44|t| bits)
_MP_POINT_MAX = 1e4


class _Sampler:
    """``|g|`` in float64 on arrays (numpy/scipy), with single-point fallbacks
    (a narrow arb enclosure, else mpmath at 30 digits for ``|t| <= 1e4``); nan where unknown."""

    def __init__(self, g: sp.Expr) -> None:
        self.g = g
        self.vectorised = None
        try:
            f = sp.lambdify(T, g, modules=["scipy", "numpy"])
            with np.errstate(all="ignore"):
                np.asarray(f(np.array([0.5, 1.5])))
            self.vectorised = f
        except Exception:  # noqa: BLE001 - no numpy form: single points only
            pass
        self._mp: Callable | None = None

    def values(self, t: np.ndarray) -> np.ndarray:
        if self.vectorised is None:
            return np.array([self.point(float(x)) for x in t])
        with np.errstate(all="ignore"):
            try:
                y = np.asarray(self.vectorised(t))
            except Exception:  # noqa: BLE001
                return np.full(t.shape, np.nan)
        if y.shape != t.shape:
            y = np.broadcast_to(y, t.shape)
        if np.iscomplexobj(y):
            y = np.where(np.abs(y.imag) <= 1e-12 * np.abs(y.real), y.real, np.nan)
        y = np.abs(np.asarray(y, dtype=float))
        y[~np.isfinite(y)] = np.nan
        return y

    def point(self, x: float, dps: int = 30) -> float:
        y = _point_iv(self.g, x)
        if y is not None:
            if not y.is_finite():  # undefined, or too large for mpmath to finish (exp(exp(exp(t))))
                return math.nan
            lo, hi = float(y.lo), float(y.hi)
            if hi - lo <= 1e-9 * max(abs(lo), abs(hi)) + 1e-300:
                return abs((lo + hi) / 2)
        if not abs(x) <= _MP_POINT_MAX:
            return math.nan
        try:
            if self._mp is None:
                self._mp = sp.lambdify(T, self.g, modules="mpmath")
            with mpmath.workdps(dps):
                y = self._mp(mpmath.mpf(x))
                if isinstance(y, mpmath.mpc):
                    if abs(y.imag) > 1e-20 * max(1, abs(y.real)):
                        return math.nan
                    y = y.real
                y = abs(float(y))
        except Exception:  # noqa: BLE001 - undefined here (e.g. a removable singularity)
            return math.nan
        return y if math.isfinite(y) else math.nan


def _centres(g: sp.Expr, near_zero: bool = False) -> list[float]:
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


def _blow_up(samp: "_Sampler", points: list[float], a: float, b: float) -> float | None:
    """A point ``c`` among ``points`` where ``|g|`` grows without bound as ``t -> c``
    inside ``(a, b)``: at ``c ± 10^-k (1 + |c|)``, ``k = 7..12``, the values (arb or
    mpmath at 60 digits, so cancellation cannot fake it) increase and grow tenfold."""
    k = np.arange(7, 13)
    for c in points:
        for side in (-1.0, 1.0):
            t = c + side * 10.0 ** -k * (1 + abs(c))
            if not np.all((t > a) & (t < b)) or np.any(t == c):
                continue
            quick = samp.values(t)
            if np.all(np.isfinite(quick)) and not (quick[-1] > 5 * quick[0]):
                continue  # float64 sees no growth: skip the precise check
            y = [samp.point(float(x), dps=60) for x in t]
            if all(math.isfinite(v) for v in y) and all(v2 > v1 for v1, v2 in zip(y, y[1:])) \
                    and y[-1] > 10 * y[0]:
                return c
    return None


def _sample_points(a: float, b: float, centres: list[float], dense: bool) -> np.ndarray:
    """Samples of ``[a, b]`` (ends may be infinite): the whole line through
    ``t = s/(1-|s|)``, a fine grid on ``[-64, 64]`` and around each centre, points
    approaching finite ends, and far points up to ``|t| = 1e300``."""
    k = 1 if dense else 20
    s = np.linspace(-1.0, 1.0, 40001 // k + 1)[1:-1]
    parts = [s / (1.0 - np.abs(s)), np.linspace(-64.0, 64.0, 64001 // k)]
    parts += [c + np.linspace(-64.0, 64.0, 16001 // k) for c in centres]
    near = np.logspace(-12, 1, 300 // k)
    parts += [end + side * near for end in (a, b) if math.isfinite(end) for side in (-1.0, 1.0)]
    far = np.logspace(0, 300, 1201 // k)
    parts += [far, -far]
    t = np.concatenate(parts)
    return np.unique(t[(t > a) & (t < b)])


def _grows(t: np.ndarray, y: np.ndarray, side: int) -> bool:
    """Whether the maxima of the finite samples ``y`` over the shells
    ``2^k <= side*t < 2^(k+1)`` increase over the last six shells, beyond ``1e6``
    or still beyond ``|t| = 2^100`` (a bounded monotone function flattens out in
    float64 long before: ``W(t^2) ~ 2 log t`` does not)."""
    sel = (side * t >= 8) & np.isfinite(y)
    if not sel.any():
        return False
    k = np.floor(np.log2(side * t[sel])).astype(int)
    shells = np.unique(k)
    maxima = [float(y[sel][k == j].max()) for j in shells]
    last = maxima[-6:]
    return (len(last) == 6 and all(b > a for a, b in zip(last, last[1:]))
            and (last[-1] > 1e6 or shells[-1] >= 100))


def _golden_max(f: Callable[[float], float], a: float, b: float, steps: int = 60) -> tuple[float, float]:
    """``(x, f(x))`` after golden-section search for a maximum of ``f`` on ``[a, b]``."""
    phi = (math.sqrt(5) - 1) / 2
    c, d = b - phi * (b - a), a + phi * (b - a)
    fc, fd = f(c), f(d)
    for _ in range(steps):
        if not (fc <= fd):  # nan counts as small
            b, d, fd = d, c, fc
            c = b - phi * (b - a)
            fc = f(c)
        else:
            a, c, fc = c, d, fd
            d = a + phi * (b - a)
            fd = f(d)
    x = (a + b) / 2
    return x, f(x)


def _numeric_sup(pieces, order: int, seconds: float = _NUMERIC_SECONDS) -> tuple[mpmath.mpf, str]:
    """An estimate of ``sup |σ^(order)|`` on the whole real line (not a proof).

    Raises :class:`_Infinite` when a sympy limit at ``±oo`` (time-limited, main
    thread) is infinite.
    """
    end = time.monotonic() + seconds
    best, best_at = -1.0, None
    growth = []
    centres_used: set[float] = set()
    limits_used = False
    timed_out = False
    for e, I in pieces:
        g = sp.diff(e, T, order) if order else e
        samp = _Sampler(g)
        a = -math.inf if I.inf == -sp.oo else float(I.inf)
        b = math.inf if I.sup == sp.oo else float(I.sup)
        if I.measure == 0:
            if order == 0:
                v = samp.point(a)
                if v > best:
                    best, best_at = v, a
            continue
        centres = _centres(g)
        centres_used.update(centres)
        ends = [x for x in (a, b) if math.isfinite(x)]
        near = _blow_up(samp, ends + _centres(g, near_zero=True), a, b)
        if near is not None:
            return mpmath.inf, f"numeric: |σ^({order})| grows without bound as t -> {near:g}"
        t = _sample_points(a, b, centres + ends, dense=samp.vectorised is not None)
        y = samp.values(t)
        for i in np.flatnonzero(np.isnan(y) & (np.abs(t) <= _MP_POINT_MAX))[:40]:
            if time.monotonic() > end:
                timed_out = True
                break
            y[i] = samp.point(float(t[i]))
        ok = np.flatnonzero(np.isfinite(y))
        if ok.size:
            ranked = ok[np.argsort(-y[ok])]
            picked: list[int] = []
            for i in ranked[:200]:
                if len(picked) >= 8:
                    break
                if all(abs(t[i] - t[j]) > 1e-6 * (1 + abs(t[j])) for j in picked):
                    picked.append(int(i))
            if y[ranked[0]] > best:
                best, best_at = float(y[ranked[0]]), float(t[ranked[0]])

            def f1(x: float) -> float:
                v = samp.values(np.array([x]))[0]
                return v if math.isfinite(v) else -math.inf

            for i in picked:
                if time.monotonic() > end:
                    timed_out = True
                    break
                lo_t, hi_t = t[max(i - 1, 0)], t[min(i + 1, t.size - 1)]
                x, v = _golden_max(f1, float(lo_t), float(hi_t))
                if v > best:
                    best, best_at = v, x
        for side, edge in ((1, I.sup), (-1, I.inf)):
            if edge not in (sp.oo, -sp.oo):
                continue
            if _grows(t, y, side):
                growth.append(side)
            if _can_guard() and time.monotonic() < end:
                limits_used = True
                try:
                    lim = _limit(g, edge, None, _Deadline(max(min(1.0, end - time.monotonic()), 0.05)))
                except _Fail:
                    continue
                if lim is sp.nan or lim.has(sp.Limit, sp.nan):  # sympy could not decide
                    continue
                if _is_infinite(lim) and not isinstance(lim, sp.AccumBounds):
                    raise _Infinite(f"limit t->{edge} (sympy)")
                try:
                    if isinstance(lim, sp.AccumBounds):
                        v = float(max(abs(_num(lim.min)), abs(_num(lim.max))))
                    else:
                        v = float(abs(_num(lim)))
                except _Fail:
                    continue
                if v > best:
                    best, best_at = v, side * math.inf
    if growth or best > 1e250:
        return mpmath.inf, (f"numeric: |σ^({order})| grows without bound on samples as t -> "
                            f"{'±oo' if not growth else ('+oo' if growth[0] > 0 else '-oo')}")
    if best_at is not None and math.isfinite(best_at) and abs(best_at) <= _MP_POINT_MAX:
        samp_best = None
        for e, I in pieces:  # polish the value at the maximiser in mpmath
            if I.measure != 0 and I.contains(sp.Float(best_at)) is sp.true:
                samp_best = _Sampler(sp.diff(e, T, order) if order else e)
        if samp_best is not None:
            samp_best.vectorised = None
            v = samp_best.point(best_at)
            if math.isfinite(v):
                best = v
    if best < 0:
        return mpmath.inf, "numeric: no finite value found (time limit or evaluation failures)"
    where = ("as t -> ±oo" if best_at is not None and not math.isfinite(best_at)
             else f"at t ≈ {best_at:.10g}")
    how = ("numeric estimate, not a proof: samples on the whole line (t = s/(1-|s|)), a grid on "
           "[-64, 64]" + (" and around t = " + ", ".join(f"{c:g}" for c in sorted(centres_used))
                          if centres_used else "")
           + ", golden-section refinement" + (", sympy limits at ±oo" if limits_used else "")
           + f"; max {where}" + ("; time limit reached" if timed_out else ""))
    return mpmath.mpf(best), how


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
        y = _enclose_const(value)
        if not y.is_finite():
            raise _Fail("no finite enclosure")
        lo, hi = _to_mpf(y.lo), _to_mpf(y.hi)
    except _Fail:
        x = _num(value, 60)
        lo, hi = x - abs(x) * mpmath.mpf(10) ** -45, x + abs(x) * mpmath.mpf(10) ** -45
    return Constant(name, value, _float_down(max(lo, mpmath.mpf(0))), _float_up(hi), "exact", how)


def _sanity(pieces, order: int, value: sp.Expr) -> None:
    """Reject an 'exact' finite value that samples of the whole line exceed
    (found in float64, confirmed at 30 digits)."""
    bound = float(_num(value, 30))
    for e, I in _proper(pieces):
        g = sp.diff(e, T, order) if order else e
        samp = _Sampler(g)
        a = -math.inf if I.inf == -sp.oo else float(I.inf)
        b = math.inf if I.sup == sp.oo else float(I.sup)
        t = _sample_points(a, b, _centres(g), dense=samp.vectorised is not None)
        y = samp.values(t)
        over = np.flatnonzero(y > bound * (1 + 1e-9) + 1e-12)
        samp.vectorised = None  # confirm with single points (arb or mpmath)
        for i in over[np.argsort(-y[over])][:5]:
            v = samp.point(float(t[i]))
            if v > bound * (1 + 1e-12) + 1e-15:
                raise _Fail(f"sympy result {value} contradicted at t={t[i]:.17g}")


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


def _sup_constant(name: str, pieces, order: int, deadline: _Deadline, total: _Deadline,
                  later: int = 0) -> Constant:
    """``sup |σ^(order)|`` by the first tier that succeeds; ``total`` is the derivation's
    budget and ``later`` the number of constants still to derive after this one (each
    keeps :data:`_NUMERIC_SECONDS` for its numeric tier)."""
    reasons = []
    if _can_guard():
        try:
            with _cap(min(deadline.remaining(), total.remaining()) + 0.5, "the exact tier"):
                value, how = _exact_sup(pieces, order, deadline)
                _sanity(pieces, order, value)
                return _exact_constant(name, value, how)
        except _Infinite as inf:
            return _exact_constant(name, sp.oo, f"|σ^({order})| -> oo as {inf.where}")
        except _Fail as exc:
            reasons.append(f"exact: {exc}")
    else:
        reasons.append("exact tier skipped off the main thread (sympy calls cannot be time-limited there)")
    try:
        with _cap(min(2 * _FORM_SECONDS + 1.0, max(total.remaining() - (later + 1) * _NUMERIC_SECONDS, 0.5)),
                  "the dominant-term limits"):
            where = _infinite_end(pieces, order)
    except _Fail:
        where = None
    if where is not None:
        return _exact_constant(name, sp.oo, f"|σ^({order})| -> oo as {where}")
    seconds = min(_CERT_SECONDS, total.remaining() - (later + 1) * _NUMERIC_SECONDS)
    try:
        if seconds < 0.25:
            raise _Fail(f"time limit {_TOTAL_SECONDS:g} s of the derivation reached before the certified tier")
        with _cap(seconds + 1.0, "the certified tier"):
            lo, hi, how = _certified_sup(pieces, order, seconds)
        return Constant(name, sp.Float(_float_up(hi)), _float_down(lo), _float_up(hi),
                        "certified", how)
    except _Fail as exc:
        reasons.append(f"certified: {exc}")
    seconds = max(min(_NUMERIC_SECONDS, total.remaining() - later * _NUMERIC_SECONDS), 0.5)
    try:
        with _cap(seconds + 1.0, "the numeric tier"):
            est, how = _numeric_sup(pieces, order, seconds)
    except _Infinite as inf:
        return _exact_constant(name, sp.oo, f"|σ^({order})| -> oo as {inf.where}")
    except _Fail as exc:
        est, how = mpmath.inf, f"numeric: no estimate ({exc})"
    how = f"{how} ({'; '.join(reasons)})"
    if est == mpmath.inf:
        return Constant(name, sp.oo, math.inf, math.inf, "numeric", how)
    return Constant(name, sp.Float(_float_up(est)), _float_down(est), _float_up(est), "numeric", how)


def _c0(expr: sp.Expr, total: _Deadline) -> Constant:
    v = sp.Abs(expr.subs(T, 0))
    seconds = min(_CALL_SECONDS, max(total.remaining() / 4, 0.5))
    if _can_guard():
        try:
            v = _guarded(_Deadline(seconds), sp.simplify, v)
        except _Fail:
            pass
    try:
        with _cap(seconds, "evaluating |σ(0)|"):
            return _exact_constant("c0", v, "|σ(0)| by substitution")
    except _Fail as exc:
        x = _Sampler(expr).point(0.0)
        how = f"numeric: |σ(0)| in floating point ({exc})"
        if not math.isfinite(x):
            return Constant("c0", sp.oo, math.inf, math.inf, "numeric", f"|σ(0)| could not be evaluated ({exc})")
        return Constant("c0", sp.Float(x), x, x, "numeric", how)


def _infinite(name: str, how: str) -> Constant:
    return Constant(name, sp.oo, math.inf, math.inf, "exact", how)


def _derive(expr: sp.Expr) -> tuple[Constant, ...]:
    main = _can_guard()
    total = _Deadline(_TOTAL_SECONDS)
    deadline = _Deadline(_EXACT_BUDGET)
    try:
        pieces = _sympy_step(_pieces, expr)
    except _Fail:
        pieces = [(expr, sp.Interval(-sp.oo, sp.oo))]
    S0 = _sup_constant("S0", pieces, 0, deadline, total, later=2)
    c0 = _c0(expr, total)
    jump0: bool | None = False
    jump1: bool | None = False
    why0 = why1 = ""
    if len(_proper(pieces)) > 1:
        try:
            with _cap(min(max(deadline.remaining(), 0.0), max(total.remaining(), 0.0)) + 1.0,
                      "the continuity check at the breakpoints"):
                jump0, why0 = _jump(pieces, 0, deadline if main else None)
                if jump0 is False:
                    jump1, why1 = _jump(pieces, 1, deadline if main else None)
        except _Fail as exc:
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
    """Derive ``S0, S1, S2, c0`` of the activation ``σ = expr`` (MATH.md §1).

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
    elif _can_guard():
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
    if not _can_guard():
        return None
    if expr not in _SINGULARITY:
        _SINGULARITY[expr] = _find_singularity(exact_rationals(expr))
    return _SINGULARITY[expr]


def _find_singularity(expr: sp.Expr) -> str | None:
    deadline = _Deadline(_SINGULARITY_SECONDS)
    try:
        pieces = _guarded(deadline, _pieces, expr)
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
