"""The witness file format: one header, one writer, one reader, one integrity check.

Every witness file is a JSON object whose header says what it is::

    {"format": "symlip-witness/3", "kind": KIND, "symlip_version": "0.1.0",
     "claim": NAME, "seed": 0, "created_by": "symlip.search.falsify", ...the kind's fields}

``kind`` is one of the kinds :data:`symlip.verify.WITNESS_KINDS` lists (today
``"lipschitz"``: a parameter pair violating a claimed bound, :mod:`symlip.search.witness`;
``"input-lipschitz"``: an input pair exceeding a tool's claimed constant,
:mod:`symlip.search.audit_witness`; ``"sgd-moment"``: a statistical violation of a
one-step SGD moment, :mod:`symlip.training.moment_claims`), each with its class and
replay function (docs/theory.md §5).  :data:`HEADER_FIELDS` are the fields every
kind shares; ``symlip_version`` and ``created_by`` record what wrote the file,
``claim`` what it is about and ``seed`` the seed of the search or test.

Older files are still read and replayed (they are committed under ``reports/``
and users have them): ``"symlip-witness/2"`` (a Lipschitz witness, no ``kind``),
``"symlip-audit-witness/2"`` (kind ``"input-lipschitz"``) and SGD-moment witnesses
without ``format`` (kind ``"sgd-moment"``); their header fields other than
``format``/``kind`` may be missing.  New files are always written as
:data:`FORMAT`.  The ``/1`` formats stored expressions as sympy ``srepr`` text,
which replay no longer evaluates: they are refused with a clear message.

:func:`write_witness` writes any witness (an object with ``to_dict()`` whose
header is :func:`header`); :func:`read_header` checks a file's format and kind
(``ValueError`` naming the bad field and what is allowed);
:func:`symlip.verify.read_witness` returns the right class for any kind and
:func:`symlip.verify.replay` replays any kind.  :class:`WitnessCheck` reads the
kind's fields and records where the file disagrees with itself or its source
(``tampered``, never ``violated``); :class:`Replay` is the outcome of every
replay.  A violation is *confirmed* when its margin ``value - bound`` is positive
at two precisions ``d`` and ``d + 30`` that agree on at least
:data:`MIN_CONFIRMED_DIGITS` of its digits (:func:`confirmation`).
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import mpmath
import numpy as np
import sympy as sp

from symlip.core.display import markdown_fields
from symlip.core.expr import read_expr, write_expr
from symlip.core.version import VERSION

__all__ = ["FORMAT", "LEGACY_FORMATS", "HEADER_FIELDS", "Header", "header", "read_header", "write_witness",
           "read_json", "write_json", "load_witness_data", "WitnessCheck", "Replay", "REPLAY_STATUSES",
           "Confirmation", "confirmation", "replay_result", "inadmissible", "MIN_CONFIRMED_DIGITS", "EXTRA_DPS",
           "activation_spec", "activation_from", "activation_label", "json_float"]

#: the format every new witness file is written in
FORMAT = "symlip-witness/3"
#: older formats still read, and the kind each one holds (None: SGD-moment files had no format)
LEGACY_FORMATS: dict[str | None, str] = {"symlip-witness/2": "lipschitz", "symlip-audit-witness/2": "input-lipschitz",
                                         None: "sgd-moment"}
#: the /1 formats stored expressions as sympy srepr text, which replay no longer evaluates
_REFUSED_FORMATS = ("symlip-witness/1", "symlip-audit-witness/1")
#: the fields every witness file starts with, whatever its kind
HEADER_FIELDS = ("format", "kind", "symlip_version", "claim", "seed", "created_by")
#: digits of the violation margin two precisions must share for "violated".
MIN_CONFIRMED_DIGITS = 3
EXTRA_DPS = 30
#: statuses of :class:`Replay`
REPLAY_STATUSES = ("violated", "not violated", "inconclusive", "tampered", "needs-trust")


# ---------------------------------------------------------------------------
# files and the header
# ---------------------------------------------------------------------------
def write_json(path: str | Path, data: dict[str, Any]) -> Path:
    """Write a witness dictionary as indented JSON (folders created); returns the path."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    return p


def read_json(path: str | Path) -> dict[str, Any]:
    """A witness file's dictionary (``ValueError`` if missing or not JSON)."""
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"no such witness file: {str(path)!r}")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        raise ValueError(f"{str(path)!r} is not a JSON witness file: {type(exc).__name__}: "
                         f"{str(exc)[:200]}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{str(path)!r} is not a symlip witness (a JSON object with the witness fields)")
    return data


def load_witness_data(witness: Any) -> tuple[dict[str, Any], Path | None]:
    """A witness's dictionary and the folder of its file (None for an object in memory).

    ``witness`` is a path, a dictionary, or a witness object (anything with ``to_dict()``).
    """
    if isinstance(witness, (str, Path)):
        return read_json(witness), Path(witness).parent
    if isinstance(witness, dict):
        return witness, None
    if callable(getattr(witness, "to_dict", None)):
        return witness.to_dict(), None
    raise TypeError(f"a witness is a file path, a dict or a witness object; got {type(witness).__name__}")


@dataclass(frozen=True)
class Header:
    """The fields every witness file starts with (:data:`HEADER_FIELDS`).

    ``format`` is the file's own (a legacy file keeps its older format); the
    other fields are None where a legacy file does not state them.  In a
    :data:`FORMAT` file ``seed`` is an integer; ``claim`` (None: a witness of no
    claim, e.g. a certificate of a bare quantity), ``symlip_version`` and
    ``created_by`` (None: read from an older file) are strings or null.
    """

    format: str | None
    kind: str
    symlip_version: str | None = None
    claim: str | None = None
    seed: int | None = None
    created_by: str | None = None

    @property
    def legacy(self) -> bool:
        """Whether the file is in an older format than :data:`FORMAT`."""
        return self.format != FORMAT


def header(kind: str, claim: str, seed: int, created_by: str | None, symlip_version: str | None = VERSION
           ) -> dict[str, Any]:
    """The header of a new witness file (:data:`FORMAT`): the first fields of every kind's
    ``to_dict()``.  ``created_by`` names what made the witness (a module), ``symlip_version``
    the version that did (None for both: a witness read from an older file)."""
    return {"format": FORMAT, "kind": kind, "symlip_version": symlip_version, "claim": claim, "seed": seed,
            "created_by": created_by}


def _formats() -> str:
    return f"{FORMAT!r} (or the older " + ", ".join(repr(f) for f in LEGACY_FORMATS if f) + ")"


def read_header(data: Any, kinds: Sequence[str], reader: str = "", where: str = "") -> Header:
    """A witness file's :class:`Header`, after checking its format and kind.

    ``kinds`` are the kinds the caller reads (every kind for
    :func:`symlip.verify.read_witness`; one for a class's ``from_dict``, whose name
    is ``reader``).  ``ValueError`` (prefixed with ``where``, the file) names a
    missing or unknown format or kind and what is allowed, or a malformed header field.
    """
    pre = f"{where}: " if where else ""
    if not isinstance(data, dict):
        raise ValueError(f"{pre}not a symlip witness (a JSON object with the witness fields)")
    fmt, kind = data.get("format"), data.get("kind")
    kinds = tuple(kinds)
    if kind is not None and kind not in kinds:
        if reader:
            raise ValueError(f"{pre}witness field 'kind' is {kind!r}; {reader} reads kind "
                             f"{' or '.join(map(repr, kinds))} (symlip.verify.read_witness reads every kind)")
        raise ValueError(f"{pre}witness field 'kind' {kind!r} is unknown; allowed: {', '.join(map(repr, kinds))}")
    if fmt in _REFUSED_FORMATS:
        raise ValueError(f"{pre}this witness has the old format {fmt!r}, whose expressions are sympy srepr text "
                         "that replay no longer evaluates; regenerate it (symlip check, symlip audit)")
    if fmt == FORMAT:
        if kind is None:
            raise ValueError(f"{pre}witness field 'kind' is missing; a {FORMAT} file states one of "
                             f"{', '.join(map(repr, kinds))}")
        f = WitnessCheck(data)
        try:
            return Header(fmt, kind, f.text("symlip_version", optional=True), f.text("claim", optional=True),
                          f.integer("seed"), f.text("created_by", optional=True))
        except ValueError as exc:
            raise ValueError(f"{pre}{exc}") from None
    if fmt is None and kind != LEGACY_FORMATS[None]:
        raise ValueError(f"{pre}{'' if kind else 'not a symlip witness: '}witness field 'format' is missing; "
                         f"allowed: {_formats()}")
    if not (fmt is None or isinstance(fmt, str)) or fmt not in LEGACY_FORMATS:
        raise ValueError(f"{pre}witness field 'format' {fmt!r} is unknown; allowed: {_formats()}")
    legacy_kind = LEGACY_FORMATS[fmt]
    if kind is not None and kind != legacy_kind:
        raise ValueError(f"{pre}witness field 'kind' is {kind!r}, but format {fmt!r} holds kind {legacy_kind!r}")
    if legacy_kind not in kinds:
        raise ValueError(f"{pre}this is a {legacy_kind!r} witness (format {fmt!r}); {reader or 'the reader'} reads "
                         f"kind {' or '.join(map(repr, kinds))}")
    seed, claim = data.get("seed"), data.get("claim")  # checked by the kind's reader, as before /3
    return Header(fmt, legacy_kind, None, claim if isinstance(claim, str) else None,
                  seed if isinstance(seed, int) and not isinstance(seed, bool) else None, None)


def write_witness(witness: Any, path: str | Path) -> Path:
    """Write a witness (an object with ``to_dict()`` and ``kind``) as a :data:`FORMAT` file;
    returns the path.  The one writer of every kind (their ``save`` methods call it)."""
    data = witness.to_dict()
    read_header(data, (witness.kind,), type(witness).__name__)
    if data.get("format") != FORMAT or list(data)[:len(HEADER_FIELDS)] != list(HEADER_FIELDS):
        raise ValueError(f"a {type(witness).__name__} must start with the {FORMAT} header {HEADER_FIELDS}")
    return write_json(path, data)


# ---------------------------------------------------------------------------
# confirmation at two precisions
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Confirmation:
    """The outcome of :func:`confirmation`: both values at ``dps`` digits and the verdict."""

    confirmed: bool
    value_mp: mpmath.mpf
    bound_mp: mpmath.mpf
    confirmed_digits: int
    dps: int
    problems: tuple[str, ...] = ()

    @property
    def margin(self) -> mpmath.mpf:
        return self.value_mp - self.bound_mp



def confirmation(low: tuple[Any, Any], high: tuple[Any, Any], dps: int, problems: Sequence[str] = ()
                 ) -> Confirmation:
    """The :class:`Confirmation` of ``value > bound`` from ``(value, bound)`` at ``dps``
    (``low``) and at ``dps + EXTRA_DPS`` digits (``high``).

    ``confirmed`` needs no ``problems`` (the points admissible), a positive margin at
    both precisions, and the two margins agreeing on at least
    :data:`MIN_CONFIRMED_DIGITS` digits; ``confirmed_digits`` is how many digits agree
    (0 when the margin is not positive).
    """
    (v1, b1), (v2, b2) = low, high
    with mpmath.workdps(dps + EXTRA_DPS):
        m1, m2 = v1 - b1, v2 - b2
        if m2 > 0:
            diff = abs(m1 - m2)
            digits = dps if diff == 0 else int(min(dps, max(0, math.floor(-mpmath.log10(diff / abs(m2))))))
        else:
            digits = 0
    confirmed = not problems and m2 > 0 and m1 > 0 and digits >= MIN_CONFIRMED_DIGITS
    with mpmath.workdps(dps):
        return Confirmation(confirmed=confirmed, value_mp=+v2, bound_mp=+b2, confirmed_digits=digits,
                            dps=dps, problems=tuple(problems))


# ---------------------------------------------------------------------------
# activations (shared by every kind)
# ---------------------------------------------------------------------------



def json_float(v: float) -> float | str:
    """A float for strict JSON: non-finite values become their repr (``'inf'``)."""
    v = float(v)   # numpy scalars too: repr(np.float64(inf)) is not 'inf'
    return v if math.isfinite(v) else repr(v)


def activation_spec(act: Any) -> dict[str, Any]:
    """A JSON-able description of an :class:`~symlip.Activation` (the expression as
    :func:`~symlip.core.expr.write_expr` text)."""
    return {"name": act.name, "expr": write_expr(act.expr), "params": [list(p) for p in act.params],
            "claimed": [list(c) for c in act.claimed]}


def activation_from(d: Any, key: str = "activation") -> Any:
    """The :class:`~symlip.Activation` of an :func:`activation_spec` (read safely, never run)."""
    from symlip.activations.registry import Activation

    if not isinstance(d, dict):
        raise ValueError(f"witness field {key!r} must be an object with name, expr, params, claimed")
    text = d.get("expr")
    if not isinstance(text, str):
        raise ValueError(f"witness field '{key}.expr' must be an expression in t (a string); got {text!r}")
    try:
        expr = Activation.from_expr(text).expr
    except (ValueError, TypeError) as exc:
        raise ValueError(f"witness field '{key}.expr' is not readable: {exc}") from None
    name = d.get("name", "custom")
    if not isinstance(name, str):
        raise ValueError(f"witness field '{key}.name' must be a string; got {name!r}")
    pairs = {}
    for part in ("params", "claimed"):
        items = d.get(part, [])
        try:
            pairs[part] = tuple((str(k), float(v)) for k, v in items)
        except (TypeError, ValueError):
            raise ValueError(f"witness field '{key}.{part}' must be a list of [name, number] pairs; "
                             f"got {items!r}") from None
        if any(math.isnan(v) for _, v in pairs[part]):
            raise ValueError(f"witness field '{key}.{part}' has a nan")
    bad = [k for k, v in pairs["claimed"] if k not in ("S0", "S1", "S2", "c0") or v < 0]
    if bad:
        raise ValueError(f"witness field '{key}.claimed' has a bad entry {bad[0]!r} (allowed: S0, S1, S2, c0 "
                         "with values >= 0)")
    return Activation(name=name, expr=expr, params=pairs["params"], claimed=pairs["claimed"])


def _activation_problem(act: Any) -> str | None:
    """Why an activation's name disagrees with its expression (None when it does not).

    A registry name (``tanh``, ``leaky_relu(alpha=1/10)``) must give exactly the
    registry's expression and parameters, a name that is an expression in ``t``
    must be that expression, and a ``[claimed ...]`` suffix must state exactly the
    claimed constants.  Other names are free labels (shown with the expression).
    """
    from symlip.activations.registry import activation, available_activations

    name = act.name
    base = name.split(" [claimed ")[0]
    if act.claimed:
        label = base + " [claimed " + ", ".join(f"{k}={v:g}" for k, v in sorted(act.claimed)) + "]"
        if name != label:
            return f"the name {name!r} does not state the claimed constants {dict(act.claimed)} ({label!r})"
    elif base != name:
        return f"the name {name!r} states claimed constants, but the file claims none"
    registry = available_activations()
    m = re.fullmatch(r"\s*([A-Za-z_]\w*)\s*(\(\s*[A-Za-z_]\w*\s*=.*\))?\s*", base)
    ref = None
    if m and m.group(1).lower() in registry:
        params: dict[str, Any] = {}
        try:
            for part in (m.group(2) or "()")[1:-1].split(","):
                if part.strip():
                    k, _, v = part.partition("=")
                    params[k.strip()] = read_expr(v.strip(), what=f"parameter {k.strip()} in the name {name!r}")
            ref = activation(m.group(1).lower(), **params)
        except ValueError:
            ref = None  # not registry parameters (e.g. torch's softplus(beta=2)): a free label
        if ref is not None and (ref.expr != act.expr or ref.params != act.params):
            return (f"the name {name!r} is the registry's {sp.sstr(ref.expr)} with parameters {dict(ref.params)}, "
                    f"but the file's expression is {sp.sstr(act.expr)} with parameters {dict(act.params)}")
    if ref is None and re.sub(r"[\W_]+", "", base.lower()) in {re.sub(r"[\W_]+", "", r) for r in registry}:
        return f"the name {name!r} looks like a registry activation, but is not one (expression {sp.sstr(act.expr)})"
    if ref is None:
        try:
            named = activation(base)
        except (ValueError, TypeError):
            return None  # a free label
        if named.expr != act.expr:
            return f"the name {name!r} is the expression {sp.sstr(named.expr)}, but the file's is {sp.sstr(act.expr)}"
    return None


def activation_label(act: Any) -> str:
    """An activation's name, with its expression unless the name is a registry name or the expression."""
    from symlip.activations.registry import available_activations

    if act.name in available_activations() or act.name == sp.sstr(act.expr):
        return act.name
    return f"{act.name} (σ(t) = {sp.sstr(act.expr)})"



# ---------------------------------------------------------------------------
# reading fields and checking integrity (one helper for the three witness kinds)
# ---------------------------------------------------------------------------
_REQUIRED = object()
_DECIMAL = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d{1,9})?")


class WitnessCheck:
    """Reads a witness file's fields and records where the file disagrees with itself
    or with its source: the one integrity helper of the Lipschitz, input-Lipschitz
    (audit) and SGD-moment witnesses.

    The readers (:meth:`text`, :meth:`number`, :meth:`array`, ...) raise
    ``ValueError`` naming a missing or malformed field.  The comparisons
    (:meth:`same`, :meth:`close`, :meth:`digits`, :meth:`activation`) collect
    disagreements in :attr:`problems`; :meth:`verdict` then turns a ``violated``
    replay into ``tampered`` (a replay that is not a violation keeps its status and
    names the disagreements).
    """

    def __init__(self, data: Any, prefix: str = "") -> None:
        if not isinstance(data, dict):
            raise ValueError(f"witness field {prefix.rstrip('.') or 'file'!r} must be a JSON object; "
                             f"got {type(data).__name__}")
        self.data = data
        self.prefix = prefix
        self.problems: list[str] = []
        self.notes: list[str] = []

    # -- reading ------------------------------------------------------------
    def _field(self, key: str) -> str:
        return repr(self.prefix + key)

    def get(self, key: str, default: Any = _REQUIRED) -> Any:
        """The raw value of ``key`` (``ValueError`` when it is missing and has no default)."""
        v = self.data.get(key)
        if v is None:
            if default is _REQUIRED:
                raise ValueError(f"witness field {self._field(key)} is missing")
            return default
        return v

    def text(self, key: str, default: Any = _REQUIRED, optional: bool = False,
             choices: tuple[str, ...] | None = None) -> Any:
        """A string field (one of ``choices`` when given)."""
        v = self.get(key, None if optional else default)
        if v is None:
            return None
        if not isinstance(v, str) or (choices is not None and v not in choices):
            allowed = f"one of {', '.join(choices)}" if choices else "a string"
            raise ValueError(f"witness field {self._field(key)} must be {allowed}; got {v!r}")
        return v

    def mapping(self, key: str, default: Any = _REQUIRED, optional: bool = False) -> Any:
        """An object field (a dict)."""
        v = self.get(key, None if optional else default)
        if v is not None and not isinstance(v, dict):
            raise ValueError(f"witness field {self._field(key)} must be an object; got {type(v).__name__}")
        return None if v is None else dict(v)

    def items(self, key: str) -> list:
        """A list field (empty when missing)."""
        v = self.get(key, [])
        if not isinstance(v, list):
            raise ValueError(f"witness field {self._field(key)} must be a list; got {type(v).__name__}")
        return v

    def flag(self, key: str) -> bool:
        v = self.get(key)
        if not isinstance(v, bool):
            raise ValueError(f"witness field {self._field(key)} must be true or false; got {v!r}")
        return v

    def integer(self, key: str, default: Any = _REQUIRED, optional: bool = False, low: int | None = None,
                high: int | None = None) -> Any:
        """An integer field in ``[low, high]``."""
        v = self.get(key, None if optional else default)
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, int) or (low is not None and v < low) \
                or (high is not None and v > high):
            bounds = f" >= {low}" if high is None and low is not None else \
                f" in [{low}, {high}]" if high is not None else ""
            raise ValueError(f"witness field {self._field(key)} must be an integer{bounds}; got {v!r}")
        return int(v)

    def number(self, key: str, default: Any = _REQUIRED, optional: bool = False, low: float | None = None,
               positive: bool = False, infinite: bool = False) -> Any:
        """A finite number field (``infinite``: also ``inf``, written ``"inf"``), ``>= low`` or ``> 0``."""
        v = self.get(key, None if optional else default)
        if v is None:
            return None
        x = float(v) if infinite and v in ("inf", "-inf") else v
        ok = not isinstance(x, bool) and isinstance(x, (int, float)) and not math.isnan(x) and \
            (math.isfinite(x) or infinite) and (low is None or x >= low) and (not positive or x > 0)
        if not ok:
            need = "a number" if infinite else "a finite number"
            need += " > 0" if positive else f" >= {low:g}" if low is not None else ""
            raise ValueError(f"witness field {self._field(key)} must be {need}; got {v!r}")
        return float(x)

    def decimal(self, key: str, optional: bool = False) -> Any:
        """A high-precision value written as a decimal string."""
        v = self.get(key, None if optional else _REQUIRED)
        if v is None:
            return None
        if not isinstance(v, str) or len(v) > 400 or not _DECIMAL.fullmatch(v.strip()):
            raise ValueError(f"witness field {self._field(key)} must be a decimal number as a string; got {v!r:.80}")
        return v

    def array(self, key: str, ndim: int, optional: bool = False, shape: tuple | None = None) -> Any:
        """A finite float array field with ``ndim`` dimensions (and ``shape``: None entries free)."""
        v = self.get(key, None if optional else _REQUIRED)
        if v is None:
            return None
        try:
            a = np.array(v, dtype=float) if _numbers_only(v) else None
        except (TypeError, ValueError, OverflowError):
            a = None
        if a is None or a.ndim != ndim or a.size == 0 or not np.all(np.isfinite(a)):
            raise ValueError(f"witness field {self._field(key)} must be a finite non-empty {ndim}-d array of "
                             "numbers")
        if shape is not None and any(want is not None and got != want for got, want in zip(a.shape, shape)):
            want = "(" + ", ".join("n" if w is None else str(w) for w in shape) + ")"
            raise ValueError(f"witness field {self._field(key)} has shape {a.shape}; it must be {want}")
        return a

    def widths(self, key: str = "widths") -> tuple[int, ...]:
        """Layer widths: at least two integers >= 1."""
        v = self.get(key)
        if not (isinstance(v, list) and len(v) >= 2 and all(isinstance(w, int) and not isinstance(w, bool)
                                                            and 1 <= w <= 10**6 for w in v)):
            raise ValueError(f"witness field {self._field(key)} must be a list of at least two integers in "
                             f"[1, 10^6]; got {v!r:.80}")
        return tuple(v)

    # -- comparing ----------------------------------------------------------
    def mismatch(self, key: str, text: str) -> None:
        """Record that field ``key`` disagrees with the rest of the file or its source."""
        self.problems.append(f"{self.prefix + key}: {text}")

    def activation(self, spec: Any, key: str = "activation") -> Any:
        """The activation of an :func:`activation_spec` or of a registry name or expression
        (read safely; ``ValueError`` if unreadable), recording a name that disagrees with
        the expression or parameters."""
        if isinstance(spec, str):
            from symlip.activations.registry import activation

            try:
                return activation(spec)
            except (ValueError, TypeError) as exc:
                raise ValueError(f"witness field {self._field(key)}: {exc}") from None
        act = activation_from(spec, self.prefix + key)
        problem = _activation_problem(act)
        if problem:
            self.mismatch(key, problem)
        return act

    def same(self, key: str, recorded: Any, expected: Any, where: str = "its source") -> None:
        """Record ``recorded != expected`` (exact comparison)."""
        if recorded != expected:
            self.mismatch(key, f"the file states {_short(recorded)}, {where} {_short(expected)}")

    def close(self, key: str, recorded: float, recomputed: Any, rel: float, where: str = "recomputed") -> None:
        """Record ``|recorded - recomputed| > rel |recomputed|`` (floats; inf only equals inf)."""
        r, c = float(recorded), float(recomputed)
        if not (r == c or (math.isfinite(r) and math.isfinite(c) and abs(r - c) <= rel * max(abs(c), 1e-300))):
            self.mismatch(key, f"the file states {r!r}, {where} {c!r}")

    def digits(self, key: str, recorded: str | None, recomputed: Any, dps: int | None,
               where: str = "recomputed") -> None:
        """Record a high-precision value that disagrees with the recomputed one beyond the
        digits it claims: its significant digits (at most ``dps``, the precision it was
        computed at), less two for rounding."""
        if recorded is None:
            return
        mant = re.sub(r"[eE].*", "", recorded).replace(".", "").lstrip("+-").lstrip("0")
        k = max(1, min(len(mant), dps or len(mant)) - 2)
        with mpmath.workdps(max(k + 10, mpmath.mp.dps)):
            r, c = mpmath.mpf(recorded), mpmath.mpf(recomputed)
            if abs(r - c) > mpmath.mpf(10) ** (-k) * abs(c):
                self.mismatch(key, f"the file states {recorded}, {where} {mpmath.nstr(c, min(k + 2, 40))} "
                                   f"(they should agree to {k} digits)")

    def verdict(self, rep: "Replay") -> "Replay":
        """``rep`` with the disagreements: ``tampered`` instead of ``violated``; any other
        status kept, with the disagreements named in the message."""
        notes = "".join(f"; {n}" for n in self.notes)
        if not self.problems:
            return Replay(**{**rep.__dict__, "message": rep.message + notes})
        listed = "; ".join(self.problems)
        if rep.status == "violated":
            msg = (f"tampered: the file disagrees with itself or its source ({listed}); its own data would "
                   f"give: {rep.message}{notes}")
            return Replay(**{**rep.__dict__, "status": "tampered", "message": msg})
        return Replay(**{**rep.__dict__, "message": f"{rep.message}; the file also disagrees with itself or "
                                                    f"its source ({listed}){notes}"})


def _numbers_only(v: Any) -> bool:
    """Whether ``v`` is a (nested) list of JSON numbers: no strings, booleans or nulls."""
    if isinstance(v, list):
        return all(_numbers_only(e) for e in v)
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _short(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 120 else text[:117] + "..."


# ---------------------------------------------------------------------------
# replay


@dataclass(frozen=True)
class Replay:
    """The result of :func:`symlip.verify.replay` (every kind).

    ``status``: ``"violated"`` (confirmed at two precisions, the file agreeing with
    itself), ``"not violated"``, ``"inconclusive"`` (margin not stable, or a point
    outside the region), ``"tampered"`` (the file's own data violate its claim, but
    the file disagrees with itself or with its source: never reported as a
    violation), or ``"needs-trust"`` (the claim is code in a source file; replay
    with ``trust=True``).  ``title`` says what the witness is about; ``labels``
    name ``value_mp`` and ``bound_mp``.
    """

    status: str
    value_mp: str
    bound_mp: str
    ratio: float
    confirmed_digits: int
    dps: int
    message: str
    title: str = ""
    labels: tuple[str, str] = ("value", "bound")

    @property
    def violated(self) -> bool:
        return self.status == "violated"

    def _repr_markdown_(self) -> str:
        """Notebook display: the replay's status and values as a Markdown table."""
        return markdown_fields(f"{self.title or 'replay'}: {self.status}", [
            (self.labels[0], self.value_mp), (self.labels[1], self.bound_mp), ("ratio", self.ratio),
            ("confirmed digits", self.confirmed_digits or None), ("digits", self.dps), ("message", self.message)])


def inadmissible(problems: Any, dps: int, title: str = "", labels: tuple[str, str] = ("value", "bound")) -> Replay:
    """The ``inconclusive`` replay of a witness whose points are not admissible (not evaluated)."""
    return Replay(status="inconclusive", value_mp="", bound_mp="", ratio=math.nan, confirmed_digits=0, dps=dps,
                  message="inconclusive: the witness is not admissible: " + "; ".join(problems), title=title,
                  labels=labels)


def replay_result(c: Any, dps: int, value: str = "value", bound: str = "bound", title: str = "") -> Replay:
    """A :class:`Replay` from a two-precision confirmation ``c`` (``value_mp``, ``bound_mp``,
    ``problems``, ``confirmed``, ``margin``, ``confirmed_digits``)."""
    with mpmath.workdps(dps):
        ratio = float(c.value_mp / c.bound_mp) if c.bound_mp > 0 else (math.inf if c.value_mp > 0 else 0.0)
        v, b = mpmath.nstr(c.value_mp, min(dps, 40)), mpmath.nstr(c.bound_mp, min(dps, 40))
    if c.problems:
        status, msg = "inconclusive", "the witness is not admissible: " + "; ".join(c.problems)
    elif c.confirmed:
        status = "violated"
        msg = (f"violated: {value} {v} > {bound} {b} at {dps} digits "
               f"({c.confirmed_digits} digits of the margin confirmed at {dps} and {dps + EXTRA_DPS})")
    elif c.margin <= 0:
        status, msg = "not violated", f"not violated: {value} {v} <= {bound} {b} at {dps} digits"
    else:
        status = "inconclusive"
        msg = (f"inconclusive: {value} {v} vs {bound} {b}; the margin is not stable across "
               f"{dps} and {dps + EXTRA_DPS} digits")
    return Replay(status=status, value_mp=v, bound_mp=b, ratio=ratio, confirmed_digits=c.confirmed_digits,
                  dps=dps, message=msg, title=title, labels=(value, bound))
