"""Rigorous interval arithmetic on python-flint's ``arb`` balls (docs/theory.md §1.4).

:func:`arb_evaluator` compiles a real sympy expression in ``t`` into an
interval extension: a function mapping an :class:`ArbInterval` ``X`` (ends
may be ``±inf``) to an :class:`ArbInterval` that contains ``e(t)`` for every
``t`` in ``X``.  It is the rigorous evaluator of the certified tier
(:mod:`symlip.activations.certified`) and of :func:`point_enclosure`; only
the functions of a whitelist have extensions, any other raises
:class:`~symlip.activations.timelimit.TierFailed` ("no rigorous enclosure
for FUNC").  Conversions between arb, mpmath and float (rounded outward)
live here too.
"""
from __future__ import annotations

import functools
import math
from typing import Callable

import mpmath
import sympy as sp
from flint import arb
from flint import ctx as _flint_ctx

from symlip.activations.base import T
from symlip.activations.timelimit import TierFailed

__all__ = ["ArbInterval", "arb_evaluator", "enclose_constant", "point_interval", "point_enclosure",
           "at_arb_precision", "iv_point", "iv_from_ball", "iv_add", "iv_sub", "iv_mul", "iv_inv", "iv_powi", "iv_exp",
           "abs_lower", "abs_upper", "eval_or_none", "ball_lower", "ball_upper", "to_arb", "to_mpf",
           "float_down", "float_up", "PINF", "NINF", "ZERO", "ONE"]

#: working precision (bits) of the arb interval arithmetic
_PREC = 128

#: the ends of the extended real line, and 0 and 1, as exact arb numbers
PINF, NINF = arb.pos_inf(), arb.neg_inf()
ZERO, ONE = arb(0), arb(1)


def at_arb_precision(fn: Callable) -> Callable:
    """Run ``fn`` at :data:`_PREC` bits of arb precision (any precision is rigorous;
    this one makes the enclosures tight)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if _flint_ctx.prec >= _PREC:
            return fn(*args, **kwargs)
        with _flint_ctx.workprec(_PREC):
            return fn(*args, **kwargs)

    return wrapper


class ArbInterval:
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


_WHOLE = ArbInterval(NINF, PINF)


def ball_lower(z: arb) -> arb:
    """The lower end of the ball ``z`` as an exact number (``-inf`` for nan)."""
    return NINF if z.is_nan() else z.lower()


def ball_upper(z: arb) -> arb:
    """The upper end of the ball ``z`` as an exact number (``+inf`` for nan)."""
    return PINF if z.is_nan() else z.upper()


def iv_point(x: arb) -> ArbInterval:
    """The point interval of an exact arb number."""
    return ArbInterval(x, x)


def iv_from_ball(z: arb) -> ArbInterval:
    """The interval of the arb ball ``z`` (exact ends rounded outward; the whole line for nan)."""
    return ArbInterval(ball_lower(z), ball_upper(z))


def _clip(x: ArbInterval, lo: arb | None, hi: arb | None) -> ArbInterval:
    a = lo if lo is not None and x.lo < lo else x.lo
    b = hi if hi is not None and x.hi > hi else x.hi
    return ArbInterval(a, b)


def iv_add(x: ArbInterval, y: ArbInterval) -> ArbInterval:
    return ArbInterval(ball_lower(x.lo + y.lo), ball_upper(x.hi + y.hi))


def _neg(x: ArbInterval) -> ArbInterval:
    return ArbInterval(-x.hi, -x.lo)


def iv_sub(x: ArbInterval, y: ArbInterval) -> ArbInterval:
    return iv_add(x, _neg(y))


def _end_mul(a: arb, b: arb) -> arb:
    """Product of two interval ends with ``0 * inf = 0`` (the interval convention)."""
    return ZERO if a.is_zero() or b.is_zero() else a * b


def iv_mul(x: ArbInterval, y: ArbInterval) -> ArbInterval:
    ps = (_end_mul(x.lo, y.lo), _end_mul(x.lo, y.hi), _end_mul(x.hi, y.lo), _end_mul(x.hi, y.hi))
    return ArbInterval(min(ball_lower(p) for p in ps), max(ball_upper(p) for p in ps))


def _end_inv(a: arb) -> arb:
    return ZERO if not a.is_finite() else 1 / a


def iv_inv(x: ArbInterval) -> ArbInterval:
    if x.lo > 0 or x.hi < 0:
        return ArbInterval(ball_lower(_end_inv(x.hi)), ball_upper(_end_inv(x.lo)))
    if x.lo.is_zero() and x.hi > 0:
        return ArbInterval(ball_lower(_end_inv(x.hi)), PINF)
    if x.hi.is_zero() and x.lo < 0:
        return ArbInterval(NINF, ball_upper(_end_inv(x.lo)))
    return _WHOLE


def _abs(x: ArbInterval) -> ArbInterval:
    if x.lo >= 0:
        return x
    if x.hi <= 0:
        return _neg(x)
    return ArbInterval(ZERO, max(-x.lo, x.hi))


def _end_pow(a: arb, n: int) -> arb:
    if a.is_finite():
        return a ** n
    return PINF if (a > 0 or n % 2 == 0) else NINF


def iv_powi(x: ArbInterval, n: int) -> ArbInterval:
    """``x**n`` for an integer ``n``."""
    if n == 0:
        return iv_point(ONE)
    if n < 0:
        return iv_inv(iv_powi(x, -n))
    if n % 2 == 0:
        x = _abs(x)
    return ArbInterval(ball_lower(_end_pow(x.lo, n)), ball_upper(_end_pow(x.hi, n)))


def _rpow(x: ArbInterval, e: sp.Expr, eb: arb) -> ArbInterval:
    """``x**e`` for a real non-integer constant ``e`` (ball ``eb``); real only for ``x >= 0``."""
    if x.lo < 0 or eb.contains(0):
        return _WHOLE
    half = e == sp.S.Half

    def end(a: arb) -> arb:
        if a.is_zero():
            return ZERO if eb > 0 else PINF
        if not a.is_finite():
            return PINF if eb > 0 else ZERO
        return a.sqrt() if half else (eb * a.log()).exp()

    if eb > 0:
        return ArbInterval(max(ball_lower(end(x.lo)), ZERO), ball_upper(end(x.hi)))
    return ArbInterval(max(ball_lower(end(x.hi)), ZERO), ball_upper(end(x.lo)))


def _monotone(f: Callable[[arb], arb], at_ninf: arb, at_pinf: arb, increasing: bool = True,
              lo: arb | None = None, hi: arb | None = None) -> Callable[[ArbInterval], ArbInterval]:
    """Interval extension of a monotone function with limits ``at_ninf``, ``at_pinf``
    and range within ``[lo, hi]``."""

    def g(x: ArbInterval) -> ArbInterval:
        a = at_ninf if x.lo == NINF else f(x.lo)
        b = at_pinf if x.hi == PINF else f(x.hi)
        out = ArbInterval(ball_lower(a), ball_upper(b)) if increasing else ArbInterval(ball_lower(b), ball_upper(a))
        return _clip(out, lo, hi)

    return g


def _ball_fn(f: Callable[[arb], arb], lo: arb | None = None,
             hi: arb | None = None) -> Callable[[ArbInterval], ArbInterval]:
    """Interval extension by arb's ball evaluation (finite intervals); on an
    unbounded interval the function's global range ``[lo, hi]`` (whole line if unknown)."""

    def g(x: ArbInterval) -> ArbInterval:
        if x.is_finite():
            return _clip(iv_from_ball(f(x.ball())), lo, hi)
        if lo is None or hi is None:
            return _WHOLE
        return ArbInterval(lo, hi)

    return g


def _log(x: ArbInterval) -> ArbInterval:
    if x.lo < 0:
        return _WHOLE
    a = NINF if x.lo.is_zero() else ball_lower(x.lo.log())
    b = PINF if x.hi == PINF else ball_upper(x.hi.log())
    return ArbInterval(a, b)


def _even_increasing(f: Callable[[arb], arb], at_inf: arb) -> Callable[[ArbInterval], ArbInterval]:
    """``f(|x|)`` for ``f`` increasing on ``[0, inf)`` (cosh)."""
    inc = _monotone(f, at_inf, at_inf, True)
    return lambda x: inc(_abs(x))


def _sinc(x: ArbInterval) -> ArbInterval:
    if x.is_finite():
        return _clip(iv_from_ball(x.ball().sinc()), -ONE, ONE)
    m = _abs(x).lo  # |sin x / x| <= min(1, 1/|x|)
    b = ONE if m <= 1 else ball_upper(1 / m)
    return ArbInterval(-b, b)


def _besselj(nu: sp.Expr) -> Callable[[ArbInterval], ArbInterval]:
    if not (nu.is_Integer and nu >= 0):
        raise TierFailed(f"no rigorous enclosure for besselj of order {nu}")
    n = int(nu)
    return _ball_fn(lambda z: z.bessel_j(n), -ONE, ONE)  # |J_n(x)| <= 1 for integer n >= 0


_SI_MAX = arb("1.852")  # max |Si| = Si(pi) = 1.8519370...
#: the interval extension of exp
iv_exp = _monotone(lambda a: a.exp(), ZERO, PINF, True, ZERO, None)

#: sympy function -> interval extension (the whitelist of the certified tier)
_IV_FUNCS: dict[type, Callable[[ArbInterval], ArbInterval]] = {
    sp.exp: iv_exp,
    sp.log: _log,
    sp.tanh: _monotone(lambda a: a.tanh(), -ONE, ONE, True, -ONE, ONE),
    sp.sinh: _monotone(lambda a: a.sinh(), NINF, PINF, True),
    sp.asinh: _monotone(lambda a: a.asinh(), NINF, PINF, True),
    sp.atan: _monotone(lambda a: a.atan(), -arb.pi() / 2, arb.pi() / 2, True, -arb(2), arb(2)),
    sp.erf: _monotone(lambda a: a.erf(), -ONE, ONE, True, -ONE, ONE),
    sp.erfc: _monotone(lambda a: a.erfc(), arb(2), ZERO, False, ZERO, arb(2)),
    sp.cosh: _even_increasing(lambda a: a.cosh(), PINF),
    sp.sin: _ball_fn(lambda z: z.sin(), -ONE, ONE),
    sp.cos: _ball_fn(lambda z: z.cos(), -ONE, ONE),
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


def _number(e: sp.Expr) -> ArbInterval:
    """An enclosure of a sympy number or named constant."""
    if e.is_Integer:
        return iv_point(arb(int(e)))
    if e.is_Rational:
        return iv_from_ball(arb(int(e.p)) / arb(int(e.q)))
    if e.is_Float:
        sign, man, exp, _ = e._mpf_
        if man == 0 and exp != 0:  # inf or nan
            raise TierFailed(f"no rigorous enclosure for {e}")
        return iv_point(arb((-man if sign else man, exp)))
    consts = {sp.pi: arb.pi, sp.E: arb.const_e, sp.EulerGamma: arb.const_euler,
              sp.Catalan: arb.const_catalan}
    if e in consts:
        return iv_from_ball(consts[e]())
    if e is sp.GoldenRatio:
        return iv_from_ball((1 + arb(5).sqrt()) / 2)
    raise TierFailed(f"no rigorous enclosure for {e} ({type(e).__name__})")


def _compile(e: sp.Expr) -> Callable[[ArbInterval], ArbInterval]:
    """Interval extension of ``e(t)``; a subexpression without ``t`` is evaluated once."""
    f = _compile_node(e)
    if e.is_Atom or e.has(T):
        return f
    c = f(iv_point(ZERO))
    return lambda x: c


def _compile_node(e: sp.Expr) -> Callable[[ArbInterval], ArbInterval]:
    if e == T:
        return lambda x: x
    if e.is_Atom:
        if e.is_Symbol:
            raise TierFailed(f"free symbol {e}")
        c = _number(e)
        return lambda x: c
    if e.is_Add or e.is_Mul:
        op = iv_add if e.is_Add else iv_mul
        parts = [_compile(a) for a in e.args]

        def combine(x: ArbInterval) -> ArbInterval:
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
            return lambda x: iv_exp(iv_mul(fe(x), _log(fb(x))))
        if ex.is_Integer:
            n = int(ex)
            return lambda x: iv_powi(fb(x), n)
        eiv = _compile(ex)(iv_point(ZERO))
        if not eiv.is_finite():
            raise TierFailed(f"no rigorous enclosure for the power {e}")
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
    raise TierFailed(f"no rigorous enclosure for {name}")


@functools.lru_cache(maxsize=1024)
def arb_evaluator(e: sp.Expr) -> Callable[[ArbInterval], ArbInterval]:
    """The interval extension of the real sympy expression ``e`` in ``t``.

    Parameters
    ----------
    e : sympy.Expr
        An expression in :data:`~symlip.activations.base.T` (or a constant) built
        from numbers, named constants, ``+ * **`` and the functions of the whitelist
        (exp, log, tanh, sinh, cosh, asinh, atan, erf, erfc, sin, cos, tan, Abs, sinc,
        Si, airyai, airyaiprime, besselj of integer order >= 0, sech, csch, coth).

    Returns
    -------
    callable
        ``F(X) -> Y`` on :class:`ArbInterval`: ``Y`` contains ``e(t)`` for every real
        ``t`` in ``X`` (ends may be infinite; :func:`iv_point` makes a point and
        :func:`iv_from_ball` the interval of an arb ball).  Where ``e``
        is not real on part of ``X`` the result is the whole line, never a wrong
        enclosure.  ``F`` may raise ``ZeroDivisionError``/``ArithmeticError``/
        ``ValueError`` (see :func:`eval_or_none`).  Evaluated at 128 bits; cached
        per expression.

    Raises
    ------
    TierFailed
        Naming the first function or constant without an interval extension, or
        when the expression is too deep.
    """
    try:
        return at_arb_precision(_compile(e))
    except RecursionError:
        raise TierFailed("expression too deep for an interval extension") from None


@at_arb_precision
def enclose_constant(v: sp.Expr) -> ArbInterval:
    """Rigorous enclosure of a sympy constant (``TierFailed`` if none)."""
    if v.has(T):
        raise TierFailed(f"{v} is not a constant")
    return arb_evaluator(v)(iv_point(ZERO))


def to_arb(x) -> arb:
    """An exact arb number from an int, a float or an mpmath number (exactly)."""
    if isinstance(x, arb):
        return x
    if isinstance(x, int):
        return arb(x)
    x = mpmath.mpf(x) if not hasattr(x, "_mpf_") else x
    if mpmath.isinf(x):
        return PINF if x > 0 else NINF
    sign, man, exp, _ = x._mpf_
    return arb((-man if sign else man, exp))


def to_mpf(x: arb) -> mpmath.mpf:
    """The exact mpmath number of an exact arb number (``±inf`` included)."""
    if x == PINF:
        return mpmath.inf
    if x == NINF:
        return -mpmath.inf
    man, exp = x.man_exp()
    return mpmath.mp.make_mpf(mpmath.libmp.from_man_exp(int(man), int(exp)))


def abs_upper(y: ArbInterval) -> arb:
    """An upper bound of ``|x|`` over ``x`` in ``y``."""
    return max(-y.lo, y.hi)


def abs_lower(y: ArbInterval) -> arb:
    """A lower bound of ``|x|`` over ``x`` in ``y``."""
    if y.lo <= 0 <= y.hi:
        return ZERO
    return min(abs(y.lo), abs(y.hi))


def eval_or_none(fn: Callable[[ArbInterval], ArbInterval], x: ArbInterval) -> ArbInterval | None:
    """``fn(x)``, or ``None`` when the evaluation raises an arithmetic error."""
    try:
        y = fn(x)
    except (ZeroDivisionError, ValueError, ArithmeticError, TypeError):
        return None
    return y


@at_arb_precision
def point_interval(expr: sp.Expr, x: float) -> ArbInterval | None:
    """The arb enclosure of ``expr`` at ``t = x`` (``None``: no interval extension)."""
    try:
        return arb_evaluator(expr)(iv_point(to_arb(float(x))))
    except (TierFailed, ZeroDivisionError, ValueError, ArithmeticError, TypeError):
        return None


def point_enclosure(expr: sp.Expr, x: float) -> tuple[float, float] | None:
    """A rigorous float enclosure ``(lo, hi)`` of ``expr`` at ``t = x`` from arb,
    or ``None`` when ``expr`` has a function without an interval extension or the
    enclosure is not finite (then ``expr`` may not be real there)."""
    y = point_interval(expr, x)
    if y is None or not y.is_finite():
        return None
    return float_down(to_mpf(y.lo)), float_up(to_mpf(y.hi))


def float_down(x: mpmath.mpf) -> float:
    """The largest float ``<= x`` (``inf`` stays ``inf``)."""
    if x == mpmath.inf:
        return math.inf
    f = float(x)
    return math.nextafter(f, -math.inf) if mpmath.mpf(f) > x else f


def float_up(x: mpmath.mpf) -> float:
    """The smallest float ``>= x``."""
    if x == mpmath.inf:
        return math.inf
    f = float(x)
    return math.nextafter(f, math.inf) if mpmath.mpf(f) < x else f

