"""Safe reading and writing of expressions: text is data, never code.

:func:`read_expr` parses text with Python's :mod:`ast` (``eval`` mode) and
builds the sympy expression node by node from a whitelist:

* numbers: integers exactly, decimal and scientific literals exactly as
  rationals (``0.044715`` is ``8943/200000``, never a binary float);
* names from the caller's symbol table, and the constants ``pi``, ``E``
  (``oo`` only where the caller allows it);
* unary ``+ -`` and binary ``+ - * / **`` (exponents of at most
  :data:`MAX_EXPONENT`, numbers of at most :data:`MAX_DIGITS` digits);
* calls of the functions in :data:`FUNCTIONS` by plain name, positional
  arguments only;
* inside ``Piecewise`` conditions only: ``< <= > >=``, ``Eq``, ``Ne``, ``&``,
  ``|``, ``~``, ``True`` and ``False``.

Anything else — attributes, subscripts, strings, lambdas, comprehensions,
keyword arguments, unknown names or functions, ``I``, ``nan``, ``zoo`` — is a
``ValueError`` naming the token and what is allowed.  Text longer than
:data:`MAX_LENGTH` characters, or with more than :data:`MAX_NODES` syntax
nodes or :data:`MAX_DEPTH` levels of nesting, is refused before any sympy work.

:func:`write_expr` prints an expression (sympy's ``str`` printer; floats as
their exact rational value) so that :func:`read_expr` reads it back exactly.
"""
from __future__ import annotations

import ast
import decimal
import warnings
from typing import Callable, Mapping, Union

import sympy as sp

__all__ = ["read_expr", "write_expr", "UnknownName", "FUNCTIONS", "MAX_LENGTH", "MAX_NODES", "MAX_DEPTH",
           "MAX_DIGITS", "MAX_EXPONENT", "MAX_ARGS"]

#: longest text read (characters)
MAX_LENGTH = 100_000
#: most syntax nodes in one text
MAX_NODES = 50_000
#: deepest nesting of operations and calls
MAX_DEPTH = 100
#: most decimal digits of any number (literal or computed: numerator and denominator)
MAX_DIGITS = 4000
#: most arguments of one call (Piecewise pieces included)
MAX_ARGS = 100
#: largest |p|, q of a rational exponent p/q, and largest |exponent| of a decimal literal
MAX_EXPONENT = 1000


def _relu(x: sp.Expr) -> sp.Expr:
    return sp.Max(0, x)


def _sigmoid(x: sp.Expr) -> sp.Expr:
    return 1 / (1 + sp.exp(-x))


#: functions callable by plain name (``relu(x)`` is ``Max(0, x)``, ``sigmoid(x)`` is ``1/(1 + exp(-x))``)
FUNCTIONS: dict[str, Callable[..., sp.Basic]] = {
    "exp": sp.exp, "log": sp.log, "sqrt": sp.sqrt, "cbrt": sp.cbrt,
    "Abs": sp.Abs, "Max": sp.Max, "Min": sp.Min, "Piecewise": sp.Piecewise, "Heaviside": sp.Heaviside,
    "sign": sp.sign, "floor": sp.floor, "ceiling": sp.ceiling,
    "sin": sp.sin, "cos": sp.cos, "tan": sp.tan, "cot": sp.cot, "sec": sp.sec, "csc": sp.csc,
    "asin": sp.asin, "acos": sp.acos, "atan": sp.atan, "atan2": sp.atan2,
    "sinh": sp.sinh, "cosh": sp.cosh, "tanh": sp.tanh, "coth": sp.coth, "sech": sp.sech, "csch": sp.csch,
    "asinh": sp.asinh, "acosh": sp.acosh, "atanh": sp.atanh,
    "erf": sp.erf, "erfc": sp.erfc, "erfi": sp.erfi, "Si": sp.Si, "Ci": sp.Ci, "Shi": sp.Shi, "Chi": sp.Chi,
    "sinc": sp.sinc, "besselj": sp.besselj, "bessely": sp.bessely, "besseli": sp.besseli, "besselk": sp.besselk,
    "airyai": sp.airyai, "airybi": sp.airybi, "LambertW": sp.LambertW,
    "relu": _relu, "sigmoid": _sigmoid,
}
#: functions allowed only inside a Piecewise condition
_CONDITION_FUNCTIONS: dict[str, Callable[..., sp.Basic]] = {"Eq": sp.Eq, "Ne": sp.Ne}
_CONSTANTS = {"pi": sp.pi, "E": sp.E}
#: sympy names that are refused with a reason
_REFUSED = {
    "I": "the imaginary unit I makes the expression not real",
    "zoo": "zoo (complex infinity) is not a real number",
    "nan": "nan is not a number", "NaN": "nan is not a number",
    "inf": "use oo for infinity", "S": "S is sympy's registry of singletons, not a symbol",
}
_BINARY = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
_COMPARE = {ast.Lt: sp.Lt, ast.LtE: sp.Le, ast.Gt: sp.Gt, ast.GtE: sp.Ge}

Symbols = Union[Mapping[str, sp.Symbol], Callable[[str], Union[sp.Symbol, None]]]


class UnknownName(ValueError):
    """A name that is neither in the symbol table nor an allowed constant (``.name``)."""

    def __init__(self, message: str, name: str) -> None:
        super().__init__(message)
        self.name = name


class _Refused(ValueError):
    """A token off the whitelist (raised by the reader itself, never wrapped)."""


def read_expr(text: str, *, symbols: Symbols | None = None, names: str | None = None, allow_oo: bool = False,
              what: str = "expression") -> sp.Expr:
    """Read ``text`` as a real sympy expression without running any code.

    Parameters
    ----------
    text : str
        The expression, e.g. ``"0.5*tanh(t)"`` or ``"S1*omega_1*sqrt(1 + R**2)"``.
    symbols : mapping or callable, optional
        The names allowed: ``{"t": T}``, or a callable ``name -> Symbol or None``
        (default: none, the text is a number).
    names : str, optional
        How to list the allowed names in errors (default: the mapping's keys).
    allow_oo : bool
        Whether ``oo`` (infinity) may appear.
    what : str
        What the text is, for error messages (``"bound expression"``).

    Returns
    -------
    sympy.Expr

    Raises
    ------
    ValueError
        Naming the offending token and what is allowed (see the module docstring);
        :class:`UnknownName` for a name outside the table.
    """
    if not isinstance(text, str):
        raise TypeError(f"{what} must be a string; got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ValueError(f"{what} is {len(text)} characters long; at most {MAX_LENGTH} are read")
    if not text.strip():
        raise ValueError(f"{what} is empty")
    if "#" in text:  # a comment would silently drop the rest of the text
        raise ValueError(f"{what} {text[:80]!r} contains '#': comments are not allowed in an expression")
    try:
        with warnings.catch_warnings():  # e.g. SyntaxWarning for "1 is 1": the error below says it all
            warnings.simplefilter("ignore")
            tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"cannot parse {what} {_short(text)}: {exc.msg}") from None
    except (ValueError, RecursionError, MemoryError, OverflowError) as exc:
        raise ValueError(f"cannot parse {what} {_short(text)}: {type(exc).__name__} "
                         f"(too long or too deeply nested)") from None
    n_nodes = sum(1 for _ in ast.walk(tree))
    if n_nodes > MAX_NODES:
        raise ValueError(f"{what} {_short(text)} has {n_nodes} syntax nodes; at most {MAX_NODES} are read")
    reader = _Reader(text.strip(), {} if symbols is None else symbols, names, allow_oo, what)
    for node in ast.walk(tree):  # name a dunder (``__import__``, ``t.__class__``) before anything else
        ident = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else ""
        if ident.startswith("__"):
            raise reader.fail(f"the name {ident!r}", "is not allowed (no dunder names, no attribute access)")
    try:
        out = reader.build(tree.body, 0, condition=False)
    except (RecursionError, MemoryError) as exc:  # pragma: no cover - depth and sizes are bounded above
        raise ValueError(f"{what} {_short(text)} is too large to read ({type(exc).__name__})") from None
    if not isinstance(out, sp.Expr):
        raise ValueError(f"{what} {_short(text)} is not a number or expression (it is a {type(out).__name__})")
    if out.has(sp.zoo, sp.nan):
        raise ValueError(f"{what} {_short(text)} evaluates to {'zoo (complex infinity)' if out.has(sp.zoo) else 'nan'}"
                         ", not a real value")
    if out.has(sp.I):
        raise ValueError(f"{what} {_short(text)} is not real (it evaluates to {sp.sstr(out)[:80]})")
    if not allow_oo and out.has(sp.oo, -sp.oo):
        raise ValueError(f"{what} {_short(text)} is infinite (oo is not allowed here)")
    return out


def write_expr(expr: sp.Basic | int) -> str:
    """The text of ``expr`` that :func:`read_expr` reads back exactly.

    sympy's ``str`` printer; a ``Float`` is written as its exact rational value
    (so the text has no binary floats and reads back as a Rational of equal value).
    """
    if isinstance(expr, bool) or not isinstance(expr, (sp.Basic, int)):
        raise TypeError(f"write_expr needs a sympy expression; got {type(expr).__name__}")
    expr = sp.sympify(expr, strict=True)
    floats = expr.atoms(sp.Float)
    if floats:
        expr = expr.xreplace({f: sp.Rational(f) for f in floats})
    return sp.sstr(expr)


def _short(text: str) -> str:
    return repr(text if len(text) <= 80 else text[:77] + "...")


_MAX_BITS = int(MAX_DIGITS * 3.33)


def _bits(num: sp.Basic) -> int:
    """Bits of a rational's numerator plus denominator (0 for anything else)."""
    if isinstance(num, sp.Rational):
        return abs(int(num.p)).bit_length() + int(num.q).bit_length()
    return 0


def _too_big(num: sp.Basic) -> bool:
    """Whether a rational has more than :data:`MAX_DIGITS` digits (numerator or denominator)."""
    if isinstance(num, sp.Rational):
        return abs(int(num.p)).bit_length() > _MAX_BITS or int(num.q).bit_length() > _MAX_BITS
    return False


class _Reader:
    """Builds a sympy expression from an ``ast`` tree, refusing anything off the whitelist."""

    def __init__(self, text: str, symbols: Symbols, names: str | None, allow_oo: bool, what: str) -> None:
        self.text = text
        self.symbols = symbols
        self.allow_oo = allow_oo
        self.what = what
        if names is None:
            names = ", ".join(symbols) if isinstance(symbols, Mapping) else "(none)"
        consts = ", ".join([*_CONSTANTS, *(["oo"] if allow_oo else [])])
        self.allowed = (f"names: {names or '(none)'}; constants: {consts}; functions: {', '.join(FUNCTIONS)}; "
                        f"operators: + - * / ** (and < <= > >= & | ~ Eq Ne in Piecewise conditions)")

    # -- errors ---------------------------------------------------------------
    def fail(self, token: str, why: str = "is not allowed") -> ValueError:
        return _Refused(f"{self.what} {_short(self.text)}: {token} {why}; allowed: {self.allowed}")

    def segment(self, node: ast.AST) -> str:
        return ast.get_source_segment(self.text, node) or type(node).__name__

    # -- building ---------------------------------------------------------------
    def build(self, node: ast.AST, depth: int, condition: bool) -> sp.Basic:
        if depth > MAX_DEPTH:
            raise _Refused(f"{self.what} {_short(self.text)} is nested more than {MAX_DEPTH} levels deep")
        try:
            out = self._build(node, depth + 1, condition)
        except (_Refused, UnknownName):
            raise
        except (TypeError, ValueError, ArithmeticError, NotImplementedError, AttributeError, IndexError) as exc:
            raise _Refused(f"{self.what} {_short(self.text)}: {self.segment(node)!r} cannot be evaluated: "
                           f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from None
        return self.checked(out, node)

    def checked(self, out: sp.Basic, node: ast.AST) -> sp.Basic:
        """``out``, unless its numeric coefficient has more than :data:`MAX_DIGITS` digits."""
        coeff = out.as_coeff_Mul()[0] if isinstance(out, sp.Mul) else \
            out.as_coeff_Add()[0] if isinstance(out, sp.Add) else out
        if _too_big(coeff):
            raise _Refused(f"{self.what} {_short(self.text)}: {self.segment(node)[:60]!r} gives a number of more "
                           f"than {MAX_DIGITS} digits")
        return out

    def _build(self, node: ast.AST, depth: int, condition: bool) -> sp.Basic:
        if isinstance(node, ast.Constant):
            return self.constant(node, condition)
        if isinstance(node, ast.Name):
            return self.name(node.id, condition)
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, (ast.UAdd, ast.USub)):
                arg = self.expr_arg(node.operand, depth, condition)
                return -arg if isinstance(node.op, ast.USub) else arg
            if isinstance(node.op, ast.Invert) and condition:
                return sp.Not(self.cond_arg(node.operand, depth))
            raise self.fail(f"the operator {self.segment(node)!r}")
        if isinstance(node, ast.BinOp):
            if type(node.op) in _BINARY:
                return self.chain(node, depth, condition)
            if isinstance(node.op, (ast.BitAnd, ast.BitOr)) and condition:
                a, b = self.cond_arg(node.left, depth), self.cond_arg(node.right, depth)
                return sp.And(a, b) if isinstance(node.op, ast.BitAnd) else sp.Or(a, b)
            raise self.fail(f"the operator in {self.segment(node)!r}")
        if isinstance(node, ast.Compare):
            if not condition:
                raise self.fail(f"the comparison {self.segment(node)!r}", "is allowed only in a Piecewise condition")
            if len(node.ops) != 1 or type(node.ops[0]) not in _COMPARE:
                raise self.fail(f"the comparison {self.segment(node)!r}",
                                "is not allowed (one of < <= > >= per comparison)")
            a = self.expr_arg(node.left, depth, condition)
            b = self.expr_arg(node.comparators[0], depth, condition)
            return _COMPARE[type(node.ops[0])](a, b)
        if isinstance(node, ast.Call):
            return self.call(node, depth, condition)
        kind = {ast.Attribute: "attribute access", ast.Subscript: "a subscript", ast.Lambda: "a lambda",
                ast.ListComp: "a comprehension", ast.GeneratorExp: "a comprehension", ast.SetComp: "a comprehension",
                ast.DictComp: "a comprehension", ast.JoinedStr: "a string", ast.Tuple: "a tuple",
                ast.List: "a list", ast.Dict: "a dict", ast.Set: "a set", ast.BoolOp: "and/or",
                ast.IfExp: "if/else", ast.NamedExpr: "an assignment", ast.Starred: "a starred argument"}
        label = kind.get(type(node), type(node).__name__)
        raise self.fail(f"{label} {self.segment(node)!r}")

    def expr_arg(self, node: ast.AST, depth: int, condition: bool) -> sp.Expr:
        out = self.build(node, depth, condition)
        if not isinstance(out, sp.Expr):
            raise self.fail(f"{self.segment(node)!r}", "is not a number or expression here")
        return out

    def cond_arg(self, node: ast.AST, depth: int) -> sp.Basic:
        out = self.build(node, depth, condition=True)
        if not isinstance(out, (sp.logic.boolalg.Boolean, sp.core.relational.Relational)):
            raise self.fail(f"{self.segment(node)!r}", "is not a condition")
        return out

    def constant(self, node: ast.Constant, condition: bool) -> sp.Basic:
        v = node.value
        if isinstance(v, bool):
            if condition:
                return sp.true if v else sp.false
            raise self.fail(repr(v), "is allowed only as a Piecewise condition")
        if isinstance(v, int):
            out = sp.Integer(v)
            if _too_big(out):
                raise self.fail(f"the number {self.segment(node)[:20]}...", f"has more than {MAX_DIGITS} digits")
            return out
        if isinstance(v, float):
            return self.decimal(self.segment(node))
        if isinstance(v, complex):
            raise self.fail(f"the imaginary number {self.segment(node)!r}", "is not allowed (expressions are real)")
        if isinstance(v, (str, bytes)):
            raise self.fail(f"the string {self.segment(node)[:40]!r}")
        raise self.fail(f"{self.segment(node)!r}")

    def decimal(self, literal: str) -> sp.Rational:
        """A decimal/scientific literal's exact value (from its text, not a binary float)."""
        try:
            dec = decimal.Decimal(literal.replace("_", ""))
        except decimal.InvalidOperation:
            raise self.fail(f"the number {literal!r}", "is not a decimal literal") from None
        sign, digits, exp = dec.as_tuple()
        if not isinstance(exp, int):  # pragma: no cover - the parser gives finite literals only
            raise self.fail(f"the number {literal!r}", "is not finite")
        if len(digits) > MAX_DIGITS:
            raise self.fail(f"the number {literal!r}", f"has more than {MAX_DIGITS} digits")
        mant = int("".join(map(str, digits)))
        if mant == 0:
            return sp.S.Zero
        if abs(exp + len(digits) - 1) > MAX_EXPONENT:
            raise self.fail(f"the number {literal!r}", f"has an exponent beyond +-{MAX_EXPONENT}")
        out = sp.Integer(mant) * sp.Integer(10) ** exp if exp >= 0 else sp.Rational(mant, 10 ** -exp)
        return -out if sign else out

    def name(self, ident: str, condition: bool) -> sp.Basic:
        if ident.startswith("__"):
            raise self.fail(f"the name {ident!r}", "is not allowed (no dunder names)")
        sym = self.symbols.get(ident) if isinstance(self.symbols, Mapping) else self.symbols(ident)
        if sym is not None:
            return sym
        if ident in _CONSTANTS:
            return _CONSTANTS[ident]
        if ident == "oo" and self.allow_oo:
            return sp.oo
        if ident in FUNCTIONS or ident in _CONDITION_FUNCTIONS:
            raise self.fail(f"the function {ident!r}", "must be called with arguments, e.g. exp(t)")
        if ident == "oo":
            raise _Refused(f"{self.what} {_short(self.text)}: 'oo' (infinity) is not allowed here; "
                             f"allowed: {self.allowed}")
        if ident in _REFUSED:
            raise _Refused(f"{self.what} {_short(self.text)}: {ident!r} is not allowed: {_REFUSED[ident]}; "
                             f"allowed: {self.allowed}")
        raise UnknownName(f"{self.what} {_short(self.text)}: unknown symbol {ident!r} is not allowed; "
                          f"allowed: {self.allowed}", ident)

    def chain(self, node: ast.BinOp, depth: int, condition: bool) -> sp.Expr:
        """``a + b - c ...`` or ``a * b / c ...`` (a left-nested chain): one level of nesting, one sympy call."""
        if isinstance(node.op, ast.Pow):
            a, b = self.expr_arg(node.left, depth, condition), self.expr_arg(node.right, depth, condition)
            return self.power(a, b, node)
        group = (ast.Add, ast.Sub) if isinstance(node.op, (ast.Add, ast.Sub)) else (ast.Mult, ast.Div)
        links = [node]
        while isinstance(links[-1].left, ast.BinOp) and isinstance(links[-1].left.op, group):
            links.append(links[-1].left)
        first = self.expr_arg(links[-1].left, depth, condition)
        rest = [(type(link.op), self.expr_arg(link.right, depth, condition)) for link in reversed(links)]
        if group[0] is ast.Add:
            return sp.Add(first, *[v if op is ast.Add else -v for op, v in rest])
        bits = sum(_bits(v.as_coeff_Mul()[0]) for v in [first] + [v for _, v in rest])
        if bits > _MAX_BITS:
            raise self.fail(f"the product {self.segment(node)[:60]!r}", f"gives a number of more than {MAX_DIGITS} "
                                                                         "digits")
        return sp.Mul(first, *[v if op is ast.Mult else 1 / v for op, v in rest])

    def power(self, a: sp.Expr, b: sp.Expr, node: ast.AST) -> sp.Expr:
        """``a ** b`` with a bounded rational exponent and a bounded numeric result."""
        if b.is_Number:
            if not b.is_Rational:
                raise self.fail(f"the exponent in {self.segment(node)!r}", "is not a finite rational")
            if abs(int(b.p)) > MAX_EXPONENT or int(b.q) > MAX_EXPONENT:
                raise self.fail(f"the power {self.segment(node)!r}",
                                f"has an exponent beyond +-{MAX_EXPONENT} (or a denominator above it)")
            if isinstance(a, sp.Rational) and b.is_Integer:
                if _bits(a) * abs(int(b.p)) > 2 * _MAX_BITS:
                    raise self.fail(f"the power {self.segment(node)!r}", f"has more than {MAX_DIGITS} digits")
        return a ** b

    def call(self, node: ast.Call, depth: int, condition: bool) -> sp.Basic:
        if not isinstance(node.func, ast.Name):
            raise self.fail(f"the call {self.segment(node)[:60]!r}", "is not allowed (only plain function names)")
        fname = node.func.id
        if fname in _CONDITION_FUNCTIONS and condition:
            fn = _CONDITION_FUNCTIONS[fname]
        elif fname in FUNCTIONS:
            fn = FUNCTIONS[fname]
        elif fname in _CONDITION_FUNCTIONS:
            raise self.fail(f"the function {fname!r}", "is allowed only in a Piecewise condition")
        else:
            raise self.fail(f"the function {fname!r}")
        if node.keywords:
            raise self.fail(f"the keyword argument in {self.segment(node)[:60]!r}")
        if any(isinstance(a, ast.Starred) for a in node.args):
            raise self.fail(f"the starred argument in {self.segment(node)[:60]!r}")
        if not node.args:
            raise self.fail(f"{fname}()", "needs arguments")
        if len(node.args) > MAX_ARGS:
            raise self.fail(f"the call of {fname!r} with {len(node.args)} arguments", f"has more than {MAX_ARGS}")
        if fname == "Piecewise":
            pieces = []
            for a in node.args:
                if not (isinstance(a, ast.Tuple) and len(a.elts) == 2):
                    raise self.fail(f"the Piecewise argument {self.segment(a)[:60]!r}",
                                    "is not allowed (each must be a pair (expression, condition))")
                pieces.append((self.expr_arg(a.elts[0], depth, condition),
                               self.cond_arg(a.elts[1], depth)))
            return sp.Piecewise(*pieces)
        return fn(*[self.expr_arg(a, depth, condition) for a in node.args])
