"""High-precision helpers: exact float -> mpmath conversion and comparisons.

symlip checks every float64 quantity against an independent evaluation with
``mpmath.mpf`` at ``dps`` decimal digits (docs/theory.md §1 quantities, §3-§4 claims).
These helpers move arrays between the two worlds without losing information:

* :func:`to_mp` converts floats to ``mpf`` *exactly* (every float64 is a dyadic
  rational with a 53-bit mantissa, so it is representable in any mpmath
  precision of at least 53 bits);
* :func:`to_float` rounds ``mpf`` back to the nearest float64;
* :func:`rel_diff` is the maximal entrywise relative difference, computed in
  mpmath when either side holds ``mpf`` values;
* :func:`workdps` is a validating wrapper around :func:`mpmath.workdps`.
"""
from __future__ import annotations

import contextlib
import math
import numbers
from typing import Any, Iterator

import mpmath
import numpy as np
from mpmath.libmp import from_float

__all__ = ["MIN_DPS", "MAX_DPS", "check_dps", "check_max_dps", "norm_mp", "to_mp", "to_float", "rel_diff", "workdps"]

#: Smallest accepted working precision (15 digits = 53 bits = float64).
MIN_DPS = 15
#: Largest precision a caller may ask for (a network evaluated at more digits takes minutes or more);
#: :func:`workdps` allows ``_DPS_MARGIN`` more for the guard digits the checks add on top of it.
MAX_DPS = 1_000
_DPS_MARGIN = 1_000

_TINY = float(np.finfo(np.float64).tiny)


def check_max_dps(dps: Any) -> None:
    """``ValueError`` when an integer ``dps`` exceeds :data:`MAX_DPS` (other values: :func:`check_dps`)."""
    if isinstance(dps, (int, np.integer)) and not isinstance(dps, bool) and dps > MAX_DPS:
        raise ValueError(f"dps must be an integer <= {MAX_DPS}, got {dps!r}")


def check_dps(dps: Any, margin: int = 0) -> int:
    """``dps`` as an int when it is an integer in ``[MIN_DPS, MAX_DPS + margin]``, else ``ValueError``."""
    if isinstance(dps, (bool, np.bool_)) or not isinstance(dps, (int, np.integer)):
        raise ValueError(f"dps must be an integer >= {MIN_DPS}, got {dps!r}")
    if dps < MIN_DPS:
        raise ValueError(
            f"dps must be an integer >= {MIN_DPS} (float64 needs 15-16 digits), got {dps!r}"
        )
    if dps > MAX_DPS + margin:
        raise ValueError(f"dps must be an integer <= {MAX_DPS + margin}, got {dps!r}")
    return int(dps)


@contextlib.contextmanager
def workdps(dps: int) -> Iterator[int]:
    """Context manager: run the block at ``dps`` decimal digits.

    Parameters
    ----------
    dps : int
        Working precision in decimal digits, an integer in ``[15, MAX_DPS + 1000]``.

    Raises
    ------
    ValueError
        When ``dps`` is not an integer or lies outside that range.
    """
    d = check_dps(dps, margin=_DPS_MARGIN)
    with mpmath.workdps(d):
        yield d


def _scalar_to_mp(x: Any) -> mpmath.mpf:
    if isinstance(x, mpmath.mpf):
        return x
    if isinstance(x, (bool, np.bool_)):
        raise TypeError(f"cannot convert boolean {x!r} to mpmath.mpf; pass a real number")
    if isinstance(x, (numbers.Integral, np.integer)):
        return mpmath.mpf(int(x))
    if isinstance(x, (float, np.floating)):
        return mpmath.mpf(float(x))
    if isinstance(x, numbers.Rational):  # fractions.Fraction: rounded at the working precision
        return mpmath.mpf(x.numerator) / x.denominator
    raise TypeError(
        f"cannot convert {x!r} of type {type(x).__name__} to mpmath.mpf; "
        "allowed: int, float, numpy real scalars, mpmath.mpf"
    )


def to_mp(a: Any) -> np.ndarray:
    """Convert a real array (any shape) to an object array of ``mpmath.mpf``.

    Floats are converted exactly (no rounding, whatever the current precision);
    ``mpf`` entries pass through unchanged.  A scalar gives a 0-d object array.

    Parameters
    ----------
    a : array_like
        Real numbers: Python/numpy ints and floats, or ``mpmath.mpf``.

    Returns
    -------
    numpy.ndarray
        ``dtype=object`` array of ``mpmath.mpf`` with the shape of ``a``.

    Raises
    ------
    TypeError
        For complex, boolean, string or other non-real entries.
    """
    if isinstance(a, np.ndarray) and a.dtype != object:
        if a.dtype.kind not in "iuf":
            raise TypeError(
                f"cannot convert an array of dtype {a.dtype} to mpmath.mpf; "
                "allowed: integer, float or object arrays of real numbers"
            )
        arr = a
    else:
        arr = np.asarray(a, dtype=object)
    out = np.empty(arr.shape, dtype=object)
    if arr.dtype.kind == "f" and arr.dtype.itemsize <= 8:  # exact: from_float keeps 53 bits (as mpmath.mpf)
        make, flat = mpmath.mp.make_mpf, out.reshape(-1)
        for k, x in enumerate(arr.astype(float).reshape(-1).tolist()):
            flat[k] = make(from_float(x))
        return out
    # 53 bits suffice for an exact float conversion; never lower the precision
    with mpmath.workprec(max(mpmath.mp.prec, 64)):
        flat_in = arr.reshape(-1)
        flat_out = out.reshape(-1)
        for k in range(flat_in.size):
            flat_out[k] = _scalar_to_mp(flat_in[k])
    return out


def to_float(a: Any) -> np.ndarray | float:
    """Round ``mpf`` (or float) values to the nearest float64.

    Returns a float64 ndarray of the same shape, or a Python ``float`` for a
    scalar / 0-d input.
    """
    arr = np.asarray(a, dtype=object) if not isinstance(a, np.ndarray) else a
    if arr.dtype != object:
        if arr.dtype.kind not in "iuf":
            raise TypeError(f"cannot convert an array of dtype {arr.dtype} to float64")
        res = arr.astype(np.float64)
    else:
        res = np.empty(arr.shape, dtype=np.float64)
        flat_in = arr.reshape(-1)
        flat_out = res.reshape(-1)
        for k in range(flat_in.size):
            x = flat_in[k]
            if isinstance(x, (complex, np.complexfloating, mpmath.mpc, str, bytes)):
                raise TypeError(f"cannot convert {x!r} of type {type(x).__name__} to float64")
            flat_out[k] = float(x)
    return float(res) if res.ndim == 0 else res


def rel_diff(a: Any, b: Any, floor: float = _TINY) -> float:
    """Maximal entrywise relative difference ``max |a-b| / max(|a|, |b|, floor)``.

    Works for float arrays and for object arrays of ``mpf`` (then every
    difference is formed in mpmath, so cancellation between two
    high-precision values is not hidden by float rounding).

    Parameters
    ----------
    a, b : array_like
        Arrays of the same shape (scalars allowed).
    floor : float, optional
        Lower bound of the denominator; the default is the smallest normal
        float64, so ``rel_diff(0, 0) == 0`` and any other difference with a zero
        counts fully.  Pass e.g. ``1e-12 * scale`` to ignore the relative
        error of entries that are negligible at the scale of the problem.

    Returns
    -------
    float
        The maximal relative difference (``0.0`` for empty arrays).

    Raises
    ------
    ValueError
        When the shapes differ, or an entry is NaN or infinite.
    """
    if not (isinstance(floor, (int, float, np.floating, np.integer))
            and not isinstance(floor, bool) and math.isfinite(floor) and floor > 0):
        raise ValueError(f"floor must be a finite float > 0, got {floor!r}")
    A = a if isinstance(a, np.ndarray) else np.asarray(a, dtype=object if _has_mp(a) else None)
    B = b if isinstance(b, np.ndarray) else np.asarray(b, dtype=object if _has_mp(b) else None)
    if A.shape != B.shape:
        raise ValueError(f"rel_diff needs arrays of the same shape, got {A.shape} and {B.shape}")
    if A.size == 0:
        return 0.0
    if A.dtype != object and B.dtype != object:
        A = np.asarray(A, dtype=np.float64)
        B = np.asarray(B, dtype=np.float64)
        for name, X in (("a", A), ("b", B)):
            if not np.all(np.isfinite(X)):
                raise ValueError(f"rel_diff: {name} has a non-finite entry (NaN or inf)")
        den = np.maximum(np.maximum(np.abs(A), np.abs(B)), floor)
        return float(np.max(np.abs(A - B) / den))
    Am = to_mp(A).reshape(-1)
    Bm = to_mp(B).reshape(-1)
    worst = mpmath.mpf(0)
    fl = mpmath.mpf(float(floor))
    with mpmath.workprec(max(mpmath.mp.prec, 64)):
        for k in range(Am.size):
            x, y = Am[k], Bm[k]
            if not (mpmath.isfinite(x) and mpmath.isfinite(y)):
                raise ValueError(
                    f"rel_diff: non-finite entry at flat index {k} ({x!r} vs {y!r})"
                )
            den = max(abs(x), abs(y), fl)
            r = abs(x - y) / den
            if r > worst:
                worst = r
    return float(worst)


def norm_mp(v: Any) -> mpmath.mpf:
    """Euclidean norm of an array (floats converted exactly, or ``mpf``) at the
    current mpmath precision."""
    flat = to_mp(np.asarray(v, dtype=object)).reshape(-1)
    return mpmath.sqrt(mpmath.fsum(x * x for x in flat))


def _has_mp(a: Any) -> bool:
    if isinstance(a, mpmath.mpf):
        return True
    if isinstance(a, (list, tuple)):
        return any(_has_mp(x) for x in a)
    return False
