"""Symbolic bounds of docs/theory.md §3 (U1–U4), their LaTeX and compiled kernels.

A :class:`Bound` is a small straight-line program: an ordered tuple of
assignments ``(symbol, expression)`` — the per-layer recursion of docs/theory.md §3 —
and a result expression in those symbols and the *standard symbols*

    R, Y, d_0..d_m, omega_1..omega_m, beta_1..beta_m, S0, S1, S2, c0.

The program is the derivation's own common-subexpression elimination: it is
never expanded, so depth 200 derives in well under a second.  The symbolic and
numeric layers meet only in :attr:`Bound.kernel`, which runs sympy ``cse``
across the program (subexpressions scheduled after their last dependency),
hands the result to :func:`sympy.lambdify` as its ``cse``, and prints ``Min``
as nested ``numpy.minimum``.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import mpmath
import numpy as np
import sympy as sp
from sympy.printing.numpy import NumPyPrinter
from sympy.printing.pycode import MpmathPrinter

if TYPE_CHECKING:  # pragma: no cover
    from symlip.models.network import MLP
    from symlip.models.region import Region

__all__ = ["QUANTITIES", "Bound", "BoundOverflowError", "Kernel", "derive", "standard_symbols", "general_form"]

#: quantity -> (description, activation class needed at depth >= 2, docs/theory.md label)
QUANTITIES: dict[str, tuple[str, str, str]] = {
    "lip_f": ("Lipschitz constant of θ ↦ f(x;θ)", "lipschitz", "U1"),
    "lip_grad": ("Lipschitz constant of θ ↦ ∇_θ f(x;θ)", "smooth", "U2"),
    "lip_loss_grad": ("Lipschitz constant of θ ↦ ∇_θ ℓ(θ) (squared loss)", "smooth", "U3"),
    "lip_input": ("Lipschitz constant of x ↦ f(x;θ)", "lipschitz", "U4"),
}

_POS = {"positive": True, "finite": True}


def _sym(name: str, **assumptions: bool) -> sp.Symbol:
    return sp.Symbol(name, **(assumptions or _POS))


@dataclass(frozen=True)
class StandardSymbols:
    """The standard symbols of a depth-``m`` bound (docs/theory.md §1–§3)."""

    depth: int
    R: sp.Symbol
    Y: sp.Symbol
    d: tuple[sp.Symbol, ...]
    omega: tuple[sp.Symbol, ...]
    beta: tuple[sp.Symbol, ...]
    S0: sp.Symbol
    S1: sp.Symbol
    S2: sp.Symbol
    c0: sp.Symbol

    @property
    def ordered(self) -> tuple[sp.Symbol, ...]:
        """Kernel argument order: R, Y, d_0..d_m, omega_1..m, beta_1..m, S0, S1, S2, c0."""
        return (self.R, self.Y, *self.d, *self.omega, *self.beta, self.S0, self.S1, self.S2, self.c0)


@functools.lru_cache(maxsize=None)
def standard_symbols(depth: int) -> StandardSymbols:
    """The standard symbols for depth ``depth`` (``omega`` is ``omega_1..omega_m``)."""
    m = _check_depth(depth)
    nonneg = {"nonnegative": True, "finite": True}
    return StandardSymbols(
        depth=m,
        R=_sym("R", **nonneg),
        Y=_sym("Y", **nonneg),
        d=tuple(_sym(f"d_{i}", integer=True, positive=True) for i in range(m + 1)),
        omega=tuple(_sym(f"omega_{i}", **nonneg) for i in range(1, m + 1)),
        beta=tuple(_sym(f"beta_{i}", **nonneg) for i in range(1, m + 1)),
        S0=_sym("S0", nonnegative=True),
        S1=_sym("S1", **nonneg),
        S2=_sym("S2", nonnegative=True),
        c0=_sym("c0", **nonneg),
    )


# ---------------------------------------------------------------------------
# compilation
# ---------------------------------------------------------------------------
class _KernelPrinter(NumPyPrinter):
    """numpy printer with ``Min``/``Max`` as nested elementwise ``minimum``/``maximum``."""

    def _nested(self, func: str, args: Sequence[sp.Expr]) -> str:
        parts = [self._print(a) for a in args]
        out = parts[-1]
        for p in reversed(parts[:-1]):
            out = f"{self._module_format('numpy.' + func)}({p}, {out})"
        return out

    def _print_Min(self, expr: sp.Min) -> str:
        return self._nested("minimum", expr.args)

    def _print_Max(self, expr: sp.Max) -> str:
        return self._nested("maximum", expr.args)


class _MpPrinter(MpmathPrinter):
    def _print_Min(self, expr: sp.Min) -> str:
        return "min(" + ", ".join(self._print(a) for a in expr.args) + ")"

    def _print_Max(self, expr: sp.Max) -> str:
        return "max(" + ", ".join(self._print(a) for a in expr.args) + ")"


_CHUNK = 16384
# as lambdify's own default printers: names resolved in the module namespace it builds
_PRINTER_SETTINGS = {"fully_qualified_modules": False, "inline": True, "allow_unknown_functions": False}

#: LaTeX names of step symbols whose Python names differ
_LATEX_NAMES = {"L_gradf": r"L_{\nabla f}", "L_f": "L_{f}", "L_loss": r"L_{\nabla \ell}", "L_x": "L_{x}"}


def _latex(expr: sp.Expr) -> str:
    names = {s: _LATEX_NAMES[s.name] for s in expr.free_symbols if getattr(s, "name", "") in _LATEX_NAMES}
    return sp.latex(expr, symbol_names=names)


@dataclass(frozen=True, eq=False)
class Kernel:
    """A compiled, vectorised float64 bound: ``kernel(*values)`` or ``kernel(**values)``.

    Arguments follow :attr:`symbols` and broadcast against each other; large
    inputs are evaluated in cache-sized chunks.  ``source`` is the generated code.
    """

    symbols: tuple[sp.Symbol, ...]
    fn: Callable[..., Any]
    source: str

    def __call__(self, *args: Any, **kwargs: Any) -> np.ndarray | float:
        values = _bind(self.symbols, args, kwargs)
        arrays = np.broadcast_arrays(*[np.asarray(v, dtype=float) for v in values])
        shape = arrays[0].shape if arrays else ()
        if not shape:
            with np.errstate(over="ignore", invalid="ignore"):
                return float(self.fn(*[np.float64(a) for a in arrays]))
        size = arrays[0].size
        flat = [a.reshape(-1) for a in arrays]
        out = np.empty(size)
        with np.errstate(over="ignore", invalid="ignore"):
            for lo in range(0, size, _CHUNK):
                out[lo:lo + _CHUNK] = self.fn(*[a[lo:lo + _CHUNK] for a in flat])
        return out.reshape(shape)


def _scheduled_cse(steps: Sequence[tuple[sp.Symbol, sp.Expr]],
                   result: sp.Expr) -> tuple[list[tuple[sp.Symbol, sp.Expr]], sp.Expr]:
    """sympy ``cse`` across a whole program, each new subexpression placed right
    after the last step it depends on (so the straight-line order stays valid)."""
    exprs = [rhs for _, rhs in steps] + [result]
    repl, reduced = sp.cse(exprs, symbols=sp.numbered_symbols("_x"), order="none")
    where = {s: i for i, (s, _) in enumerate(steps)}
    after: dict[int, list[tuple[sp.Symbol, sp.Expr]]] = {}
    for x, e in repl:  # replacements come in dependency order
        where[x] = max((where.get(s, -1) for s in e.free_symbols), default=-1)
        after.setdefault(where[x], []).append((x, e))
    program = list(after.get(-1, []))
    for i, (s, _) in enumerate(steps):
        program.append((s, reduced[i]))
        program.extend(after.get(i, []))
    return program, reduced[-1]


def _deep(fn: Callable[[], Any]) -> Any:
    """Run ``fn`` in a thread with a large stack and recursion limit.

    sympy recurses once per tree level; an unrolled depth-200 bound is thousands
    of levels deep, beyond Python's default limit of 1000 frames.
    """
    import sys
    import threading

    result: dict[str, Any] = {}

    def target() -> None:
        try:
            result["value"] = fn()
        except BaseException as exc:  # re-raised in the caller's thread
            result["error"] = exc

    old_limit, old_stack = sys.getrecursionlimit(), threading.stack_size()
    sys.setrecursionlimit(max(old_limit, 200_000))
    threading.stack_size(512 * 1024 * 1024)
    try:
        worker = threading.Thread(target=target, name="symlip-deep")
        worker.start()
        worker.join()
    finally:
        threading.stack_size(old_stack)
        sys.setrecursionlimit(old_limit)
    if "error" in result:
        raise result["error"]
    return result["value"]


def _bind(symbols: tuple[sp.Symbol, ...], args: tuple, kwargs: dict) -> list[Any]:
    names = [s.name for s in symbols]
    if len(args) > len(names):
        raise TypeError(f"kernel takes {len(names)} arguments ({', '.join(names)}); got {len(args)}")
    values: dict[str, Any] = dict(zip(names, args))
    for k, v in kwargs.items():
        if k not in names:
            raise TypeError(f"kernel got an unknown argument {k!r}; its arguments are {', '.join(names)}")
        if k in values:
            raise TypeError(f"kernel got argument {k!r} twice")
        values[k] = v
    missing = [n for n in names if n not in values]
    if missing:
        raise TypeError(f"kernel is missing argument(s) {', '.join(missing)}")
    return [values[n] for n in names]


# ---------------------------------------------------------------------------
# Bound
# ---------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Bound:
    """A derived (or user-given) bound: a straight-line program and its result.

    Attributes
    ----------
    quantity : str
        One of :data:`QUANTITIES` (or a free label for user bounds).
    depth : int
        Network depth ``m`` the bound is written for.
    steps : tuple of (Symbol, Expr)
        The recursion, in evaluation order; each right-hand side uses standard
        symbols and earlier step symbols only.
    result : Expr
        The bound in step symbols and standard symbols.
    requires : str or None
        Activation class the bound needs (``"lipschitz"``/``"smooth"``) or None.
    name : str
        A short label.
    """

    quantity: str
    depth: int
    steps: tuple[tuple[sp.Symbol, sp.Expr], ...]
    result: sp.Expr
    requires: str | None = None
    name: str = ""
    _subs: tuple[tuple[sp.Symbol, sp.Expr], ...] = field(default=(), repr=False)

    # -- constructors ------------------------------------------------------
    @classmethod
    def from_expr(cls, expr: sp.Expr | str, depth: int, quantity: str = "lip_f",
                  requires: str | None = None, name: str = "") -> "Bound":
        """A bound given as one sympy expression in the standard symbols of ``depth``.

        String input is parsed with the standard symbols (``omega_1``, ``S1``, ...).
        Raises ``ValueError`` when the expression has any other free symbol.
        """
        std = standard_symbols(depth)
        table = {s.name: s for s in std.ordered}
        if isinstance(expr, str):  # text is data: read by the whitelist reader, never run
            from symlip.core.expr import read_expr

            expr = read_expr(expr, symbols=table, what="bound expression")
        if not isinstance(expr, sp.Expr):
            raise TypeError(f"bound must be a sympy expression or string; got {type(expr).__name__}")
        expr = expr.xreplace({s: table[s.name] for s in expr.free_symbols
                              if s.name in table and s != table[s.name]})
        unknown = sorted(s.name for s in expr.free_symbols if s.name not in table)
        if unknown:
            raise ValueError(
                f"bound expression has unknown symbol(s) {', '.join(unknown)}; allowed for depth "
                f"{depth}: {', '.join(table)}"
            )
        return cls(quantity=quantity, depth=depth, steps=(), result=expr, requires=requires,
                   name=name or sp.sstr(expr)[:60])

    # -- symbolic views ----------------------------------------------------
    @property
    def symbols(self) -> tuple[sp.Symbol, ...]:
        """Kernel argument order (the standard symbols of this depth, minus substituted ones)."""
        fixed = {s for s, _ in self._subs}
        return tuple(s for s in standard_symbols(self.depth).ordered if s not in fixed)

    @functools.cached_property
    def expr(self) -> sp.Expr:
        """The unrolled expression in standard symbols (built with sharing, never expanded).

        Beyond depth 3 it is built unevaluated (sympy's automatic ``Min``
        simplification is quadratic in depth) on a deep stack.
        """
        def unroll() -> sp.Expr:
            env: dict[sp.Symbol, sp.Expr] = {}
            with sp.evaluate(self.depth <= 3):
                for s, rhs in self.steps:
                    env[s] = rhs.xreplace(env)
                return self.result.xreplace(env)

        return _deep(unroll) if self.depth > 3 else unroll()

    def subs(self, values: Mapping[sp.Symbol | str, Any]) -> "Bound":
        """Substitute values for standard symbols (names or symbols) in every step.

        Exact sympy values stay exact: ``bound.subs({"S1": 1, "S2": 4*sqrt(3)/9})``.
        """
        table = {s.name: s for s in standard_symbols(self.depth).ordered}
        mapping: dict[sp.Symbol, sp.Expr] = {}
        for k, v in values.items():
            key = table.get(k if isinstance(k, str) else k.name)
            if key is None:
                raise ValueError(f"cannot substitute {k!r}: not a standard symbol of depth {self.depth} "
                                 f"({', '.join(table)})")
            if isinstance(v, str):  # text is data: read by the whitelist reader, never run
                from symlip.core.expr import read_expr

                val = read_expr(v, allow_oo=True, what=f"the value of {k}")
            else:
                val = sp.oo if isinstance(v, float) and math.isinf(v) and v > 0 else sp.sympify(v, strict=True)
            mapping[key] = val
        steps = tuple((s, rhs.xreplace(mapping)) for s, rhs in self.steps)
        return Bound(quantity=self.quantity, depth=self.depth, steps=steps,
                     result=self.result.xreplace(mapping), requires=self.requires, name=self.name,
                     _subs=self._subs + tuple(mapping.items()))

    def specialize(self, widths: Sequence[int] | None = None, activation: Any = None,
                   allow_numeric: bool = False) -> "Bound":
        """Substitute the widths ``d_i`` and the activation constants (exact values where
        exact, else the upper end of the enclosure or the claimed value).

        A numeric estimate among the constants used raises ``ValueError`` unless
        ``allow_numeric`` (see :meth:`~symlip.activations.registry.Activation.require_proven`).
        """
        values: dict[str, Any] = {}
        if widths is not None:
            widths = _check_widths(widths, self.depth)
            values.update({f"d_{i}": int(w) for i, w in enumerate(widths)})
        if activation is not None:
            from symlip.activations.registry import activation as _activation

            act = _activation(activation)
            if self.requires and self.depth >= 2:
                act.require(self.requires, purpose=f"the {self.quantity} bound")
            act.require_proven(self.activation_constants(), purpose=f"the {self.quantity} bound",
                               allow_numeric=allow_numeric)
            for k, c in act.constants.items():
                if self._uses(k):
                    values[k] = c.value if c.provenance == "exact" else sp.Float(c.upper, 17)
        return self.subs(values)

    @functools.cached_property
    def _used_names(self) -> frozenset[str]:
        syms = self.result.free_symbols.union(*(rhs.free_symbols for _, rhs in self.steps))
        return frozenset(s.name for s in syms)

    def _uses(self, name: str) -> bool:
        return name in self._used_names

    def activation_constants(self) -> tuple[str, ...]:
        """The activation constants (among ``S0, S1, S2, c0``) this bound depends on."""
        return tuple(k for k in ("S0", "S1", "S2", "c0") if self._uses(k))

    # -- printing ----------------------------------------------------------
    def latex(self, unrolled: bool | None = None) -> str:
        """LaTeX: the general-depth closed form (docs/theory.md §3), this depth's recursion,
        and the unrolled expression (by default only for depth <= 3)."""
        lines: list[str] = []
        label = QUANTITIES.get(self.quantity, (self.quantity, None, ""))
        lines.append(f"% {self.name or self.quantity}: {label[0]} ({label[2]}), depth m = {self.depth}")
        gen = general_form(self.quantity) if self.quantity in QUANTITIES and not self._subs \
            and self.steps else None
        if gen is not None:
            lines.append("% general depth m (closed form with sums/products)")
            lines.append(r"\begin{aligned}")
            lines.extend(f"  {_latex(lhs)} &= {_latex(rhs)} \\\\" for lhs, rhs in gen)
            lines.append(r"\end{aligned}")
        if self.steps:
            lines.append(f"% recursion at depth m = {self.depth}")
            lines.append(r"\begin{aligned}")
            lines.extend(f"  {_latex(s)} &= {_latex(rhs)} \\\\" for s, rhs in self.steps)
            lines.append(f"  \\text{{bound}} &= {_latex(self.result)}")
            lines.append(r"\end{aligned}")
        if unrolled is None:
            unrolled = self.depth <= 3 or not self.steps
        if unrolled:
            lines.append("% unrolled")
            lines.append(_deep(lambda: sp.latex(self.expr)) if self.depth > 3 else sp.latex(self.expr))
        return "\n".join(lines)

    def _repr_latex_(self) -> str:
        """Notebook display: ``$...$`` of the bound's unrolled expression (short) or its recursion."""
        if self.depth <= 3 or not self.steps:
            return f"${_latex(self.expr)}$"
        body = r" \\ ".join(f"{_latex(s)} &= {_latex(rhs)}" for s, rhs in self.steps)
        return f"$\\begin{{aligned}}{body} \\\\ \\text{{bound}} &= {_latex(self.result)}\\end{{aligned}}$"

    def __str__(self) -> str:
        body = "\n".join(f"  {sp.sstr(s)} = {sp.sstr(rhs)}" for s, rhs in self.steps)
        return f"{self.name or self.quantity} (depth {self.depth}):\n{body}\n  bound = {sp.sstr(self.result)}"

    # -- compilation -------------------------------------------------------
    @functools.cached_property
    def kernel(self) -> Kernel:
        """Vectorised float64 numpy kernel: lambdify with sympy ``cse`` run across the
        derivation's program (the mpmath path :meth:`evaluate_mp` uses the plain program)."""
        syms = self.symbols
        cse: Any = True
        if self.steps:
            program, final = _scheduled_cse(self.steps, self.result)
            cse = lambda e: (program, final)  # noqa: E731
        fn = sp.lambdify(syms, self.result, modules="numpy", printer=_KernelPrinter(_PRINTER_SETTINGS),
                         cse=cse, docstring_limit=None)
        import inspect

        return Kernel(symbols=syms, fn=fn, source=inspect.getsource(fn))

    @functools.cached_property
    def _mp_fn(self) -> Callable[..., Any]:
        cse: Any = (lambda e: (list(self.steps), e)) if self.steps else False
        return sp.lambdify(self.symbols, self.result, modules="mpmath", printer=_MpPrinter(_PRINTER_SETTINGS),
                           cse=cse, docstring_limit=None)

    def evaluate_mp(self, values: Mapping[str, Any], dps: int = 50) -> mpmath.mpf:
        """The bound at ``dps`` digits with mpmath (an independent check of the kernel).

        ``values`` maps every argument name of :attr:`symbols` to a number; floats
        are converted exactly, strings parsed at ``dps`` digits.
        """
        args = _bind(self.symbols, (), dict(values))
        with mpmath.workdps(dps):
            return +self._mp_fn(*[mpmath.mpf(a) for a in args])

    # -- evaluation on a network -------------------------------------------
    def values_for(self, net: "MLP", region: "Region", R: float | None = None,
                   Y: float | None = None, allow_numeric: bool = False) -> dict[str, float]:
        """The kernel arguments for ``net`` on ``region`` with ``|x| <= R``, ``|y| <= Y``.

        Raises ``ValueError`` when an activation constant the bound uses is only a
        numeric estimate, unless ``allow_numeric`` (then the result rests on it:
        mark it with :func:`~symlip.activations.registry.numeric_note`).
        """
        if net.depth != self.depth:
            raise ValueError(f"bound is for depth {self.depth} but the network {list(net.widths)} "
                             f"has depth {net.depth}; derive it for depth {net.depth}")
        if self.requires and self.depth >= 2:
            net.activation.require(self.requires, purpose=f"the {self.quantity} bound")
        net.activation.require_proven(self.activation_constants(), purpose=f"the {self.quantity} bound",
                                      allow_numeric=allow_numeric)
        omega, beta = region.layer_bounds(net)
        std = standard_symbols(self.depth)
        vals: dict[str, float] = {
            "R": _check_radius("R", R, needed=self._uses("R")),
            "Y": _check_radius("Y", Y, needed=self._uses("Y")),
        }
        vals.update({s.name: float(w) for s, w in zip(std.d, net.widths)})
        vals.update({s.name: float(o) for s, o in zip(std.omega, omega)})
        vals.update({s.name: float(b) for s, b in zip(std.beta, beta)})
        consts = net.activation.values()
        for k in ("S0", "S1", "S2", "c0"):
            v = consts[k]
            # an unused constant may be infinite (S2 of ReLU in U1): pass a harmless 0
            vals[k] = v if (math.isfinite(v) or self._uses(k)) else 0.0
        names = {s.name for s in self.symbols}
        return {k: v for k, v in vals.items() if k in names}

    def evaluate(self, net: "MLP", region: "Region", R: float | None = None,
                 Y: float | None = None, allow_numeric: bool = False) -> float:
        """The bound's value for ``net`` on ``region`` with inputs ``|x| <= R`` (targets ``|y| <= Y``).

        When float64 overflows on an intermediate (``omega**2`` for ``omega = 1e200``)
        the value comes from the mpmath program (:meth:`evaluate_mp`).  Raises
        ``ValueError`` for a depth mismatch, an activation outside the bound's
        class, a numeric activation constant without ``allow_numeric`` (see
        :meth:`values_for`), or a missing/invalid ``R``/``Y``;
        :class:`BoundOverflowError` (an ``OverflowError`` and ``ValueError``)
        when the value itself exceeds the float64 range (use :meth:`evaluate_mp`).
        """
        values = self.values_for(net, region, R=R, Y=Y, allow_numeric=allow_numeric)
        out = self.kernel(**values)
        if math.isfinite(out):
            return float(out)
        exact = self.evaluate_mp(values, dps=30)
        if mpmath.isnan(exact):
            raise ValueError(f"the {self.quantity} bound is undefined (nan) for these values")
        if mpmath.isfinite(exact) and math.isfinite(float(exact)):
            return float(exact)
        raise BoundOverflowError(f"the {self.quantity} bound is {mpmath.nstr(exact, 6)}, beyond the "
                                 "float64 range; use Bound.evaluate_mp")


class BoundOverflowError(OverflowError, ValueError):
    """A bound's value exceeds the float64 range (its exact value: :meth:`Bound.evaluate_mp`)."""


# ---------------------------------------------------------------------------
# derivation (docs/theory.md §3)
# ---------------------------------------------------------------------------
def derive(quantity: str, depth: int) -> Bound:
    """Derive the docs/theory.md §3 bound ``quantity`` for networks of depth ``depth``.

    Parameters
    ----------
    quantity : {"lip_f", "lip_grad", "lip_loss_grad", "lip_input"}
        U1, U2, U3 and U4 of docs/theory.md §3.
    depth : int
        Number of affine layers ``m >= 1``.

    Returns
    -------
    Bound
        Holds on the box ``||W_i||_2 <= omega_i``, ``|b_i| <= beta_i`` for all
        inputs ``|x| <= R`` (and targets ``|y| <= Y`` for the loss).
    """
    if quantity not in QUANTITIES:
        raise ValueError(f"unknown quantity {quantity!r}; allowed: {', '.join(QUANTITIES)}")
    return _derive(quantity, _check_depth(depth))


@functools.lru_cache(maxsize=64)
def _derive(quantity: str, m: int) -> Bound:
    std = standard_symbols(m)
    steps: list[tuple[sp.Symbol, sp.Expr]] = []
    requires = QUANTITIES[quantity][1] if m >= 2 else None
    name = f"{QUANTITIES[quantity][2]} {quantity}"

    def let(name_: str, rhs: sp.Expr) -> sp.Expr:
        if rhs.is_Atom:
            return rhs
        s = sp.Symbol(name_, nonnegative=True, finite=True)
        steps.append((s, rhs))
        return s

    S0, S1, S2, c0 = std.S0, std.S1, std.S2, std.c0
    om = (None, *std.omega)  # 1-based
    be = (None, *std.beta)
    d = std.d

    if quantity == "lip_input":
        result = S1 ** (m - 1) * sp.Mul(*std.omega)
        return Bound(quantity, m, (), result, requires, name)

    # forward bounds B_i and Q_i = sqrt(1 + B_i^2)
    B: list[sp.Expr] = [std.R]
    for i in range(1, m):
        # Min(...) unevaluated: its argument comparison is undecidable here and costly
        B.append(let(f"B_{i}", sp.Min(sp.sqrt(d[i]) * S0, S1 * (om[i] * B[i - 1] + be[i])
                                      + sp.sqrt(d[i]) * c0, evaluate=False)))
    Q = [let(f"Q_{i}", sp.sqrt(1 + B[i] ** 2)) for i in range(m)]
    # backward bounds G_i
    G: list[sp.Expr] = [sp.S.Zero] * (m + 1)
    G[m] = sp.S.One
    for i in range(m - 1, 0, -1):
        G[i] = let(f"G_{i}", S1 * om[i + 1] * G[i + 1])

    def lip_f() -> sp.Expr:
        return let("L_f", sp.sqrt(sp.Add(*[G[i] ** 2 * (1 + B[i - 1] ** 2) for i in range(1, m + 1)])))

    def lip_grad() -> sp.Expr:
        Lam: list[sp.Expr] = [sp.S.Zero] * m
        A: list[sp.Expr] = [sp.S.Zero] * m
        for i in range(1, m):
            A[i] = let(f"A_{i}", om[i] * Lam[i - 1] + Q[i - 1])
            Lam[i] = let(f"Lambda_{i}", S1 * A[i])
        Gam: list[sp.Expr] = [sp.S.Zero] * (m + 1)
        for i in range(m - 1, 0, -1):
            Gam[i] = let(f"Gamma_{i}", S1 * om[i + 1] * Gam[i + 1] + S1 * G[i + 1]
                         + S2 * G[i + 1] * om[i + 1] * A[i])
        K = [let(f"K_{i}", Gam[i] * Q[i - 1] + G[i] * Lam[i - 1]) for i in range(1, m + 1)]
        return let("L_gradf", sp.sqrt(sp.Add(*[k ** 2 for k in K])))

    if quantity == "lip_f":
        result = lip_f()
    elif quantity == "lip_grad":
        result = lip_grad()
    else:  # lip_loss_grad (U3)
        Lf = lip_f()
        Lg = lip_grad()
        F = let("F", om[m] * B[m - 1] + be[m])
        result = Lf ** 2 + (F + std.Y) * Lg
    # the result is the last step's symbol: return its right-hand side instead
    if steps and result == steps[-1][0]:
        result = steps.pop()[1]
    return Bound(quantity, m, _prune(steps, result), result, requires, name)


def _prune(steps: list[tuple[sp.Symbol, sp.Expr]], result: sp.Expr) -> tuple[tuple[sp.Symbol, sp.Expr], ...]:
    """Drop steps the result does not depend on (dead-code elimination)."""
    live = set(result.free_symbols)
    kept = []
    for s, rhs in reversed(steps):
        if s in live:
            kept.append((s, rhs))
            live |= rhs.free_symbols
    return tuple(reversed(kept))


# ---------------------------------------------------------------------------
# general depth m: closed forms with Sum/Product (docs/theory.md §3)
# ---------------------------------------------------------------------------
def general_form(quantity: str) -> list[tuple[sp.Expr, sp.Expr]]:
    """The bound for a symbolic depth ``m`` as equations with ``Sum``/``Product``.

    Uses indexed symbols ``omega[i]``, ``beta[i]``, ``d[i]``, ``B[i]``; the
    forward bound ``B_i`` (a recursion through ``Min``) has no closed form and
    stays a recursion.  Linear recursions (``G``, ``A``, ``Gamma``) are unrolled.
    """
    if quantity not in QUANTITIES:
        raise ValueError(f"unknown quantity {quantity!r}; allowed: {', '.join(QUANTITIES)}")
    i, j, k = sp.symbols("i j k", integer=True, positive=True)
    m = sp.Symbol("m", integer=True, positive=True)
    om, be, d, B = (sp.IndexedBase(n) for n in ("omega", "beta", "d", "B"))
    G, A, Gam, K, Lam = (sp.IndexedBase(n) for n in ("G", "A", "Gamma", "K", "Lambda"))
    R, Y = sp.symbols("R Y", nonnegative=True)
    S0, S1, S2, c0 = sp.symbols("S0 S1 S2 c0", nonnegative=True)
    F, Lf, Lg = sp.symbols("F L_f L_gradf", nonnegative=True)

    eqs: list[tuple[sp.Expr, sp.Expr]] = []
    if quantity == "lip_input":
        return [(sp.Symbol("L_x"), S1 ** (m - 1) * sp.Product(om[i], (i, 1, m)))]

    def q(idx: sp.Expr) -> sp.Expr:
        return sp.sqrt(1 + B[idx] ** 2)

    eqs.append((B[0], R))
    eqs.append((B[i], sp.Min(sp.sqrt(d[i]) * S0, S1 * (om[i] * B[i - 1] + be[i]) + sp.sqrt(d[i]) * c0,
                             evaluate=False)))
    g_closed = S1 ** (m - i) * sp.Product(om[j], (j, i + 1, m))
    eqs.append((G[i], g_closed))
    lf = sp.sqrt(sp.Sum(G[i] ** 2 * (1 + B[i - 1] ** 2), (i, 1, m)))
    # A_i = sum_{k<=i} S1^{i-k} prod_{j=k+1}^{i} omega_j * sqrt(1+B_{k-1}^2)
    a_closed = sp.Sum(S1 ** (i - k) * sp.Product(om[j], (j, k + 1, i)) * q(k - 1), (k, 1, i))
    # Gamma_i = sum_{k=i}^{m-1} S1^{k-i} prod_{j=i+1}^{k} omega_j (S1 G_{k+1} + S2 G_{k+1} omega_{k+1} A_k)
    gam_closed = sp.Sum(S1 ** (k - i) * sp.Product(om[j], (j, i + 1, k))
                        * (S1 * G[k + 1] + S2 * G[k + 1] * om[k + 1] * A[k]), (k, i, m - 1))
    lg = sp.sqrt(sp.Sum(K[i] ** 2, (i, 1, m)))
    grad_eqs = [
        (A[i], a_closed),
        (Lam[i], S1 * A[i]),
        (Gam[i], gam_closed),
        (K[i], Gam[i] * q(i - 1) + G[i] * Lam[i - 1]),
    ]
    if quantity == "lip_f":
        eqs.append((Lf, lf))
    elif quantity == "lip_grad":
        eqs.extend(grad_eqs)
        eqs.append((Lg, lg))
    else:
        eqs.extend(grad_eqs)
        eqs.append((Lf, lf))
        eqs.append((Lg, lg))
        eqs.append((F, om[m] * B[m - 1] + be[m]))
        eqs.append((sp.Symbol("L_loss"), Lf ** 2 + (F + Y) * Lg))
    return eqs


# ---------------------------------------------------------------------------
# validation helpers
# ---------------------------------------------------------------------------
#: the largest depth a bound is derived for (``derive("lip_loss_grad", 1000)`` takes
#: about 20 s, its LaTeX or value on a box about 30 s).
MAX_DEPTH = 1000


def _check_depth(depth: int) -> int:
    if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or not 1 <= depth <= MAX_DEPTH:
        raise ValueError(f"depth must be an integer >= 1 and <= {MAX_DEPTH} (number of affine layers); got {depth!r}")
    return int(depth)


def _check_widths(widths: Sequence[int], depth: int) -> tuple[int, ...]:
    w = tuple(widths)
    if len(w) != depth + 1 or not all(isinstance(x, (int, np.integer)) and x >= 1 for x in w):
        raise ValueError(f"widths must be {depth + 1} integers >= 1 for depth {depth}; got {list(w)}")
    return w


def _check_radius(name: str, value: float | None, needed: bool) -> float:
    if value is None:
        if needed:
            raise ValueError(f"this bound needs {name} (the radius of the "
                             f"{'inputs |x|' if name == 'R' else 'targets |y|'} <= {name}); pass {name}=...")
        return 0.0
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a number; got {value!r}") from exc
    if not (math.isfinite(v) and v >= 0):
        raise ValueError(f"{name} must be finite and >= 0; got {value!r}")
    return v
