"""Exact input-Lipschitz constants of piecewise-linear networks (docs/theory.md §8.6).

:func:`exact_input_lipschitz` computes ``L* = sup ||J(x)||_2`` for small
piecewise-linear networks by enumerating their activation regions in exact
rational arithmetic, and encloses the winning Jacobian's spectral norm in
interval arithmetic (a private mpmath interval context).  Also here: the
piecewise-linear structure of an activation (:func:`piecewise_linear`, used by
the audit's fixed-network search) and the argument checks the audit shares.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from symlip.search import quantities

if TYPE_CHECKING:  # pragma: no cover
    from symlip.models.network import MLP

__all__ = ["PL", "piecewise_linear", "exact_input_lipschitz", "exact_with_point", "exact_is_cheap",
           "check_net", "check_radius", "theta_vector"]


# ---------------------------------------------------------------------------
# the activation: piecewise linear or not
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class PL:
    """A piecewise-linear activation: slopes on the pieces between sorted kinks."""

    kinks: tuple[float, ...]
    slopes: tuple[float, ...]     # len(kinks) + 1
    homogeneous: bool             # σ(t) = s± t: kinks ⊆ {0} and σ(0) = 0


@functools.lru_cache(maxsize=64)
def _pl_cached(act: Any) -> PL | None:
    import sympy as sp

    try:
        d2 = sp.piecewise_fold(act.derivative(2))
        if sp.simplify(d2) != 0:
            return None
        kinks = act.kinks
    except Exception:  # noqa: BLE001 - an expression sympy cannot handle is treated as not piecewise linear
        return None
    s0, s1 = act.numpy(0), act.numpy(1)
    if kinks:
        mids = [kinks[0] - 1.0] + [(a + b) / 2 for a, b in zip(kinks, kinks[1:])] + [kinks[-1] + 1.0]
    else:
        mids = [0.0]
    slopes = tuple(float(s1(np.array([t]))[0]) for t in mids)
    # numeric double check that σ is linear on each piece with these slopes
    for j, t in enumerate(mids):
        lo = kinks[j - 1] if j > 0 else t - 10.0
        hi = kinks[j] if j < len(kinks) else t + 10.0
        a, b = lo + 0.25 * (hi - lo), lo + 0.75 * (hi - lo)
        va, vb = (float(s0(np.array([p]))[0]) for p in (a, b))
        if not math.isclose(vb - va, slopes[j] * (b - a), rel_tol=1e-9, abs_tol=1e-12):
            return None
    homogeneous = set(kinks) <= {0.0} and float(s0(np.array([0.0]))[0]) == 0.0
    return PL(kinks, slopes, homogeneous)


def piecewise_linear(net: "MLP") -> PL | None:
    """The piecewise-linear structure of ``net`` (depth 1 is affine), None if σ is not piecewise linear."""
    if net.depth == 1:
        return PL((), (1.0,), True)
    return _pl_cached(net.activation)



def check_radius(R: Any) -> float | None:
    if R is None:
        return None
    if isinstance(R, (bool, np.bool_)) or not isinstance(R, (int, float, np.integer, np.floating)):
        raise TypeError(f"R must be a number > 0 (the input ball |x| <= R) or None (all of R^d); got {R!r}")
    r = float(R)
    if not (math.isfinite(r) and r > 0):
        raise ValueError(f"R must be a finite number > 0 (the input ball |x| <= R) or None (all of R^d, "
                         f"for bias-free relu/leaky_relu/identity networks); got {R!r}")
    return r


def check_net(net: Any) -> None:
    from symlip.models.network import MLP

    if not isinstance(net, MLP):
        raise TypeError(f"net must be an MLP; got {type(net).__name__}")


def theta_vector(net: "MLP", theta: Any) -> np.ndarray:
    th = net._vector(theta, "theta")   # shape and finiteness, with a message naming the widths
    return np.array(th, dtype=float)




# ---------------------------------------------------------------------------
# exact constants by enumerating activation regions
# ---------------------------------------------------------------------------
def exact_input_lipschitz(net: "MLP", theta: Any, *, R: float | None = None) -> float:
    """The exact input-Lipschitz constant ``sup ||J(x)||_2`` by enumerating activation regions.

    Supported: depth-1 (affine) networks and affine activations (identity) at any
    depth and input dimension; one-hidden-layer networks (widths ``[d_0, d_1, d_m]``)
    with a piecewise-linear activation (relu, leaky_relu, any σ with linear pieces)
    and ``d_0 <= 2``.  The region arrangement is enumerated in exact rational
    arithmetic (every region is adjacent to a piece of some neuron's boundary
    line between two crossings, or is the whole domain).  The regions are ranked
    by their float64 spectral norms; the Jacobians of the best ones (all within
    a generous rounding margin of the top) are recomputed in interval arithmetic
    from the float weights and σ's exact slopes, and the returned float is the
    upper end of the enclosure of ``||J||_2``, rounded up: never below the true
    constant, and above it by about an ulp.  For ``d_0 = 2`` the cost grows like
    ``K^2 log K`` rational operations in the number ``K`` of boundary lines (about
    1 s at ``K = 128``, 5 s at ``K = 256``); :func:`input_lipschitz_lower_bound`
    uses it for ``K <= 128`` only.

    Parameters
    ----------
    net, theta : MLP, array of shape (P,)
    R : float, optional
        Restrict to the ball ``|x| <= R`` (regions meeting its interior); None:
        all of ``R^d`` (for a bias-free relu network the same constant).

    Returns
    -------
    float
        A rigorous upper bound of the constant, at most a few ulps above it
        (the exact value when it is a float, e.g. an integer).

    Raises
    ------
    ValueError
        For other architectures, naming what is supported, and for affine
        networks too large for the interval evaluation (more than 10^5
        interval operations).
    """
    check_net(net)
    th = theta_vector(net, theta)
    return exact_with_point(net, th, check_radius(R))[0]


def exact_is_cheap(net: "MLP") -> bool:
    """Whether the search computes the exact constant on the side (about a second at most)."""
    pl = piecewise_linear(net)
    if pl is not None and (net.depth == 1 or not pl.kinks):
        return _affine_iv_ops(net.widths) <= _EXACT_IV_OPS // 5   # affine: about a second at most
    if pl is None or net.depth != 2:
        return True                       # unsupported (refused at once)
    planes = net.widths[1] * len(pl.kinks)
    return planes <= (10_000 if net.d_in == 1 else 128)


def exact_with_point(net: "MLP", th: np.ndarray, R: float | None) -> tuple[float, np.ndarray]:
    """(exact constant, a point inside a region attaining it; inside the ball when R is given)."""
    layers = net.unflatten(th)
    pl = piecewise_linear(net)
    d = net.d_in
    if pl is not None and (net.depth == 1 or not pl.kinks):
        ops = _affine_iv_ops(net.widths)
        if ops > _EXACT_IV_OPS:
            raise ValueError(f"exact_input_lipschitz: the affine network {list(net.widths)} needs {ops} interval "
                             f"operations for a rigorous constant; at most {_EXACT_IV_OPS} are spent")
        s = _slope_intervals(net, pl)[0] if net.depth > 1 else None
        mats = [_iv_matrix(W) for W, _ in layers]
        if net.d_out <= d:                 # the cheaper order of the chain
            M = mats[-1]
            for W in reversed(mats[:-1]):
                M = (M * s).dot(W)
        else:
            M = mats[0]
            for W in mats[1:]:
                M = W.dot(M * s)
        return _float_up(_iv_norm_upper(M)), np.zeros(d)
    if pl is None or net.depth != 2 or d > 2:
        raise ValueError(
            f"exact_input_lipschitz supports depth-1 networks, affine activations (identity) and "
            f"one-hidden-layer networks [d_0, d_1, d_m] with a piecewise-linear activation (relu, leaky_relu) "
            f"and d_0 <= 2; got widths {list(net.widths)} with activation {net.activation.name!r}")
    (W1, b1), (W2, _) = layers
    slopes = np.array(pl.slopes)
    kinks = [Fraction(k) for k in pl.kinks]
    K = W1.shape[0]
    Wq = [[Fraction(float(w)) for w in row] for row in W1]
    bq = [Fraction(float(b)) for b in b1]
    R2 = None if R is None else Fraction(R) ** 2
    rows: list[np.ndarray] = []      # piece patterns of the cells found (with repeats)
    where: list[tuple] = []          # for each row: where its cell lives (to find a point inside it)
    if d == 1:
        bounds, pats = _segments(bq, [w[0] for w in Wq], kinks)
        for j in np.flatnonzero(pats[0] < 0):            # neurons without input weight
            pats[:, j] = _piece_side(bq[j], kinks, 0)
        Rf = None if R is None else Fraction(R)
        for (lo, hi), row in zip(bounds, pats):
            if Rf is not None and ((lo is not None and lo >= Rf) or (hi is not None and hi <= -Rf)):
                continue                                   # the interval misses (-R, R)
            rows.append(row[None, :])
            where.append(("interval", lo, hi))
    else:
        for k in range(K):
            n = Wq[k]
            nn = n[0] * n[0] + n[1] * n[1]
            if nn == 0:
                continue
            dvec = (-n[1], n[0])
            dd = dvec[0] * dvec[0] + dvec[1] * dvec[1]
            for kap in kinks:
                c = kap - bq[k]
                p = (c * n[0] / nn, c * n[1] / nn)         # foot of the line n·x = c, orthogonal to dvec
                pp = p[0] * p[0] + p[1] * p[1]
                if R2 is not None and pp >= R2:
                    continue                               # the line misses the open disk
                alpha = [Wq[j][0] * p[0] + Wq[j][1] * p[1] + bq[j] for j in range(K)]
                beta = [Wq[j][0] * dvec[0] + Wq[j][1] * dvec[1] for j in range(K)]
                bounds, pats = _segments(alpha, beta, kinks)
                keep = []
                for i, (lo, hi) in enumerate(bounds):
                    if R2 is not None:
                        tc = Fraction(0)                   # the point of the piece nearest the origin
                        if lo is not None and lo > tc:
                            tc = lo
                        if hi is not None and hi < tc:
                            tc = hi
                        if pp + tc * tc * dd >= R2:
                            continue                       # this piece of the line is outside the disk
                    keep.append(i)
                if not keep:
                    continue
                const = np.flatnonzero(pats[0] < 0)        # neurons constant along the line (k among them)
                for side in (1, -1):                       # the cells on either side of the line
                    P = pats[keep].copy()
                    for j in const:
                        dot = Wq[j][0] * n[0] + Wq[j][1] * n[1]
                        P[:, j] = _piece_side(alpha[j], kinks, side * dot)
                    rows.append(P)
                    where += [("line", k, kap, p, dvec, bounds[i][0], bounds[i][1], side) for i in keep]
        if not rows:  # no boundary meets the domain: one region
            rows.append(np.array([[_piece_side(bq[j], kinks, 1) for j in range(K)]], dtype=np.int8))
            where.append(("origin",))
    allp = np.concatenate(rows)
    uniq, first = np.unique(allp, axis=0, return_index=True)
    S = slopes[uniq.astype(np.int64)]                          # (n_cells, K)
    J = np.einsum("ok,pk,kd->pod", W2, S, W1)                 # (n_cells, d_m, d_0)
    vals = np.linalg.norm(J[:, 0, :], axis=1) if J.shape[1] == 1 else np.linalg.norm(J, 2, axis=(1, 2))
    # float ranking, then the rigorous norm of every cell that rounding could have ranked below the top:
    # |J - fl(J)| <= γ_{K+1} |W2| |S| |W1| entrywise, and the norm adds (d_m + d_0) ulps (generous factor 8)
    eps = np.finfo(float).eps
    A = np.einsum("ok,pk,kd->pod", np.abs(W2), np.abs(S), np.abs(W1))
    err = 8 * eps * ((K + 4) * np.linalg.norm(A, axis=(1, 2)) + (J.shape[1] + d) * vals) + 1e-300
    cand = np.flatnonzero(vals + err >= np.max(vals - err))
    ops = len(cand) * (J.shape[1] + 1) * K * d
    if ops > _EXACT_IV_OPS:
        raise ValueError(f"exact_input_lipschitz: {len(cand)} regions tie within rounding; their rigorous norms "
                         f"need {ops} interval operations, at most {_EXACT_IV_OPS} are spent")
    s_iv = np.array(_slope_intervals(net, pl), dtype=object)
    W1i, W2i = _iv_matrix(W1), _iv_matrix(W2)
    upper = [_iv_norm_upper(W2i.dot(s_iv[uniq[c].astype(np.int64)][:, None] * W1i)) for c in cand]
    best = max(range(len(cand)), key=lambda i: upper[i])
    j = int(cand[best])
    return _float_up(upper[best]), _cell_point(where[int(first[j])], W1, b1, pl.kinks, R)


#: bits of the interval arithmetic of the exact constant's rigorous upper end
_EXACT_IV_PREC = 160
#: most interval operations (10-60 µs each) spent on one exact constant
_EXACT_IV_OPS = 100_000


@functools.lru_cache(maxsize=1)
def _iv_context() -> Any:
    """A private mpmath interval context (the global ``mpmath.iv`` precision stays untouched)."""
    from mpmath.ctx_iv import MPIntervalContext

    ctx = MPIntervalContext()
    ctx.prec = _EXACT_IV_PREC
    return ctx


def _iv_matrix(A: np.ndarray) -> np.ndarray:
    """A float array as an object array of exact (degenerate) intervals."""
    iv = _iv_context()
    A = np.asarray(A, dtype=float)
    return np.array([iv.mpf(float(x)) for x in A.ravel()], dtype=object).reshape(A.shape)


def _affine_iv_ops(widths: Sequence[int]) -> int:
    """Interval operations of the rigorous norm of an affine network's matrix chain (cheaper order)."""
    w = list(widths)
    if w[-1] <= w[0]:    # from the output: d_m Σ d_{i+1} d_i over the layers below the last
        chain = w[-1] * sum(w[i + 1] * w[i] for i in range(len(w) - 2))
    else:                # from the input: d_0 Σ d_i d_{i-1} over the layers above the first
        chain = w[0] * sum(w[i] * w[i - 1] for i in range(2, len(w)))
    k = min(w[0], w[-1])
    return sum(a * b for a, b in zip(w, w[1:])) + chain + w[0] * w[-1] * k + (k ** 3 if k > 2 else 0)


def _slope_intervals(net: "MLP", pl: PL) -> list:
    """σ's slopes on its pieces as intervals, from the expression itself (exact when rational)."""
    return _slopes_cached(net.activation, pl)


@functools.lru_cache(maxsize=64)
def _slopes_cached(act: Any, pl: PL) -> list:
    import sympy as sp

    from symlip.activations.registry import T

    iv = _iv_context()
    d1 = act.derivative(1)
    k = pl.kinks
    mids = [k[0] - 1.0] + [(a + b) / 2 for a, b in zip(k, k[1:])] + [k[-1] + 1.0] if k else [0.0]
    out = []
    for t in mids:
        v = sp.piecewise_fold(d1.subs(T, sp.Rational(t)))
        if v.is_Rational:
            out.append(iv.mpf(int(v.p)) / int(v.q))
            continue
        x = sp.N(v, 60)
        if not (x.is_real and x.is_finite and x.is_Number):
            raise ValueError(f"exact_input_lipschitz: the slope of {act.name!r} at t = {t!r} is {v}, "
                             "not a finite real number")
        c = iv.mpf(str(x))
        out.append(c + iv.mpf([-1, 1]) * (abs(c).b * iv.mpf(10) ** -50))   # sympy's 60 digits, with margin
    return out


def _iv_norm_upper(J: np.ndarray) -> Any:
    """An upper end of ``||J||_2`` for an interval matrix ``J`` (an interval-context number).

    ``J^T J`` or ``J J^T`` (the smaller), then its top eigenvalue in closed form for
    size 1 or 2; for larger sizes the float eigenvalues ``λ̂`` and eigenvectors ``V``
    of its midpoint and Bauer-Fike: every eigenvalue of ``G`` lies within
    ``sqrt(1 + f) / (1 - f) · ||G V - V Λ̂||_F`` of some ``λ̂_i``, ``f = ||V^T V - I||_F < 1``.
    """
    iv = _iv_context()
    G = J.T.dot(J) if J.shape[1] <= J.shape[0] else J.dot(J.T)
    k = G.shape[0]
    if k == 1:
        lam = G[0, 0]
    elif k == 2:
        a, b, c = G[0, 0], G[0, 1], G[1, 1]
        h = (a - c) / 2
        lam = (a + c) / 2 + iv.sqrt(iv.mpf((h * h + b * b).b))
    else:
        mid = np.array([[float(x.mid) for x in row] for row in G])
        lam_hat, V = np.linalg.eigh(mid)
        Vi = _iv_matrix(V)
        Rm = G.dot(Vi) - Vi * _iv_matrix(lam_hat)[None, :]
        Fm = Vi.T.dot(Vi) - _iv_matrix(np.eye(k))
        r = iv.sqrt(iv.mpf(sum((iv.mpf(abs(x).b) ** 2 for x in Rm.ravel()), iv.mpf(0)).b))
        f = iv.sqrt(iv.mpf(sum((iv.mpf(abs(x).b) ** 2 for x in Fm.ravel()), iv.mpf(0)).b))
        if not f.b < 1:
            raise ValueError("exact_input_lipschitz: the float eigenvectors are too far from orthonormal")
        lam = iv.mpf(float(lam_hat.max())) + iv.sqrt(1 + f) / (1 - f) * r
    return iv.sqrt(iv.mpf(max(lam.b, 0))).b


def _float_up(x: Any) -> float:
    """The smallest float64 >= the interval-context number ``x``."""
    iv = _iv_context()
    f = float(x)
    while not iv.mpf(f) >= x:
        f = math.nextafter(f, math.inf)
    return f


def _piece_side(a: Fraction, kinks: list[Fraction], direction: Fraction | int) -> int:
    """The piece of a constant pre-activation ``a``; on a kink, the piece on the side where
    ``a`` moves with sign ``direction`` (0: either; the neuron then has no input weight)."""
    below = sum(1 for kap in kinks if kap < a)
    if any(kap == a for kap in kinks) and direction > 0:
        return below + 1
    return below


def _segments(alpha: list[Fraction], beta: list[Fraction], kinks: list[Fraction]) -> tuple[list, np.ndarray]:
    """The pieces of the line ``t`` on which every ``a_j(t) = alpha_j + t beta_j`` stays in one piece of σ.

    Returns the bounds ``[(lo, hi), ...]`` (None for ±inf; exact rationals) and the
    piece index of every neuron on each of them, an int8 array ``(n_pieces, K)``
    with ``-1`` for a neuron constant along the line (``beta_j = 0``).
    """
    K, nk = len(alpha), len(kinks)
    init = np.full(K, -1, dtype=np.int8)
    events = []
    for j, (a, b) in enumerate(zip(alpha, beta)):
        if b == 0:
            continue
        init[j] = 0 if b > 0 else nk
        for kap in kinks:
            events.append(((kap - a) / b, j, 1 if b > 0 else -1))
    events.sort(key=lambda e: e[0])                           # exact order (rationals)
    times: list[Fraction] = []
    delta = [np.zeros(K, dtype=np.int8)]
    for t, j, step in events:
        if not times or times[-1] != t:                       # concurrent crossings change together
            times.append(t)
            delta.append(np.zeros(K, dtype=np.int8))
        delta[-1][j] += step
    pats = (init[None, :] + np.cumsum(np.array(delta), axis=0, dtype=np.int16)).astype(np.int8)
    bounds = [(times[i - 1] if i > 0 else None, times[i] if i < len(times) else None)
              for i in range(len(times) + 1)]
    return bounds, pats


def _cell_point(where: tuple, W1: np.ndarray, b1: np.ndarray, kinks: Sequence[float],
                R: float | None) -> np.ndarray:
    """A float point strictly inside the cell described by ``where`` (and the ball)."""
    Rin = math.inf if R is None else R * (1 - quantities.INSIDE)
    if where[0] == "origin":
        return np.zeros(W1.shape[1])
    if where[0] == "interval":
        lo, hi = where[1], where[2]
        a = -math.inf if lo is None else float(lo)
        b = math.inf if hi is None else float(hi)
        a, b = max(a, -Rin), min(b, Rin)
        if math.isinf(a) and math.isinf(b):
            return np.zeros(1)
        if math.isinf(a):
            return np.array([b - max(1.0, abs(b))])
        if math.isinf(b):
            return np.array([a + max(1.0, abs(a))])
        return np.array([0.5 * (a + b)])
    _, k, kap, p, dvec, lo, hi, side = where
    p = np.array([float(p[0]), float(p[1])])
    dv = np.array([float(dvec[0]), float(dvec[1])])
    dd = float(dv @ dv)
    a = -math.inf if lo is None else float(lo)
    b = math.inf if hi is None else float(hi)
    if R is not None:
        h = math.sqrt(max(Rin * Rin - float(p @ p), 0.0) / dd)
        a, b = max(a, -h), min(b, h)
    if math.isinf(a) and math.isinf(b):
        tc = 0.0
    elif math.isinf(a):
        tc = b - max(1.0, abs(b))
    elif math.isinf(b):
        tc = a + max(1.0, abs(a))
    else:
        tc = 0.5 * (a + b)
    y = p + tc * dv
    nk = W1[k] / np.linalg.norm(W1[k])
    # distance to every other boundary line (lines parallel and equal to this one excluded)
    dist = []
    for j in range(W1.shape[0]):
        wn = float(np.linalg.norm(W1[j]))
        if wn == 0:
            continue
        for kp in kinks:
            gap = abs(float(W1[j] @ y + b1[j] - kp)) / wn
            if gap > 1e-13 * (1 + float(np.linalg.norm(y))):
                dist.append(gap)
    if R is not None:
        dist.append(Rin - float(np.linalg.norm(y)))
    if math.isinf(a) or math.isinf(b):
        dist.append(1.0)
    eps = 0.5 * min(dist) if dist else 1.0
    return y + side * eps * nk

