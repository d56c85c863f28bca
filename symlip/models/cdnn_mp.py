"""High-precision (mpmath) evaluation of a continuously deep network (docs/theory.md §5).

Independent code from the float64 path of :class:`symlip.models.cdnn.CDNN`.
*euler*: the same recursions in mpmath.  *ode*: the augmented systems (state,
transition matrix ``Φ_k``, sensitivity ``J_k``; for ``hvp`` their R-operators)
integrated with a Gragg–Bulirsch–Stoer extrapolation method written here
(modified midpoint rule, polynomial extrapolation in ``η^2``), run at ``dps +
15`` digits with a local error tolerance ``10^-(dps+5)`` (relative to
``1 + |y|``) and step halving until it is met.  The functions take the network
``net`` through its public protocol (``d``, ``N``, ``T``, ``scheme``,
``activation``, ``layer_slices``, ``n_params``).
"""
from __future__ import annotations

from typing import Any, Callable

import mpmath
import numpy as np

from symlip.core.precision import to_mp

__all__ = ["mp_rows"]

_GUARD_DPS = 15        # extra digits the mpmath ODE integrator works with
_TOL_DIGITS = 5        # its local tolerance is 10^-(dps + _TOL_DIGITS)


def mp_rows(net: Any, th: np.ndarray, vv: np.ndarray | None, X: Any, dps: int, mode: str) -> np.ndarray:
    """``f`` (``mode="f"``, shape ``(n,)``), ``∇_θ f`` (``"grad"``) or ``∇²_θ f v`` (``"hvp"``,
    shape ``(n, P)``) of the CDNN ``net`` at the rows of ``X``, as ``mpf`` rounded to ``dps`` digits.

    ``th``, ``vv`` and ``X`` are already validated (flat parameters in the scaled
    coordinates of :class:`~symlip.models.cdnn.CDNN`; ``X`` of shape ``(n, d)``).
    """
    work = dps + (_GUARD_DPS if net.scheme == "ode" else 10)
    rows = []
    with mpmath.workdps(work):
        P = _mp_params(net, th)
        Pv = None if vv is None else _mp_params(net, vv)
        for x in X:
            xm = [mpmath.mpf(t) if not isinstance(t, mpmath.mpf) else t for t in to_mp(np.asarray(x))]
            rows.append(_mp_one(net, P, Pv, xm, mode, dps))
    with mpmath.workdps(dps):
        if mode == "f":
            out = np.empty(len(rows), dtype=object)
            for i, r in enumerate(rows):
                out[i] = +r
        else:
            out = np.empty((len(rows), net.n_params), dtype=object)
            for i, r in enumerate(rows):
                for j, t in enumerate(r):
                    out[i, j] = +t
    return out


def _mp_params(net: Any, th: np.ndarray) -> tuple[list, list, list, Any]:
    """Unscaled ``(W_k rows, b_k, c, e)`` at the working precision."""
    d = net.d
    t = to_mp(th)
    sh = mpmath.sqrt(mpmath.mpf(net.T) / net.N)
    Ws, bs = [], []
    for sw, sb in net.layer_slices[:-1]:
        flat = [mpmath.mpf(a) / sh for a in t[sw]]
        Ws.append([flat[i * d:(i + 1) * d] for i in range(d)])
        bs.append([mpmath.mpf(a) / sh for a in t[sb]])
    sc, se = net.layer_slices[-1]
    return Ws, bs, [mpmath.mpf(a) for a in t[sc]], mpmath.mpf(t[se][0])


def _mp_one(net: Any, P, Pv, x: list, mode: str, dps: int) -> Any:
    Ws, bs, c, e = P
    act = net.activation
    sig, sig1 = act.mpmath(0), act.mpmath(1)
    sig2 = act.mpmath(2) if mode == "hvp" else None
    d, N = net.d, net.N
    h = mpmath.mpf(net.T) / N
    sh = mpmath.sqrt(h)
    Q = d * d + d
    if net.scheme == "euler":
        return _mp_euler(net, Ws, bs, c, e, Pv, x, mode, sig, sig1, sig2, h, sh)
    # ode: per step, integrate the augmented system with Gragg-Bulirsch-Stoer
    tol = mpmath.mpf(10) ** (-(dps + _TOL_DIGITS))
    kmax = 12 + dps // 5
    z, rz = list(x), [mpmath.mpf(0)] * d
    Phis, Js, RPhis, RJs = [], [], [], []
    n_sub = 1
    for k in range(N):
        W, b = Ws[k], bs[k]
        V, be = (None, None) if Pv is None else (Pv[0][k], Pv[1][k])
        F = _mp_rhs(W, b, V, be, d, mode, sig, sig1, sig2)
        y0 = list(z)
        if mode != "f":
            y0 += [mpmath.mpf(1) if i == j else mpmath.mpf(0) for i in range(d) for j in range(d)]
            y0 += [mpmath.mpf(0)] * (d * Q)
        if mode == "hvp":
            y0 += list(rz) + [mpmath.mpf(0)] * (d * d + d * Q)
        y, n_sub = _gbs_integrate(F, y0, h, tol, kmax, n_sub)
        z = y[:d]
        if mode != "f":
            Phis.append([y[d + i * d: d + (i + 1) * d] for i in range(d)])
            o = d + d * d
            Js.append([y[o + i * Q: o + (i + 1) * Q] for i in range(d)])
        if mode == "hvp":
            o = d + d * d + d * Q
            rz = y[o:o + d]
            RPhis.append([y[o + d + i * d: o + d + (i + 1) * d] for i in range(d)])
            o2 = o + d + d * d
            RJs.append([y[o2 + i * Q: o2 + (i + 1) * Q] for i in range(d)])
    if mode == "f":
        return mpmath.fdot(c, z) + e
    out: list = [None] * net.n_params
    p = list(c)
    rp = list(Pv[2]) if mode == "hvp" else None
    for k in range(N - 1, -1, -1):
        start = net.layer_slices[k][0].start
        J, Phi = Js[k], Phis[k]
        for col in range(Q):
            g = mpmath.fsum(J[i][col] * p[i] for i in range(d))
            if mode == "hvp":
                g = mpmath.fsum(RJs[k][i][col] * p[i] + J[i][col] * rp[i] for i in range(d))
            out[start + col] = g / sh
        newp = [mpmath.fsum(Phi[i][j] * p[i] for i in range(d)) for j in range(d)]
        if mode == "hvp":
            rp = [mpmath.fsum(RPhis[k][i][j] * p[i] + Phi[i][j] * rp[i] for i in range(d)) for j in range(d)]
        p = newp
    sc, se = net.layer_slices[-1]
    for j in range(d):
        out[sc.start + j] = rz[j] if mode == "hvp" else z[j]
    out[se.start] = mpmath.mpf(0) if mode == "hvp" else mpmath.mpf(1)
    return out


def _mp_euler(net: Any, Ws, bs, c, e, Pv, x, mode, sig, sig1, sig2, h, sh) -> Any:
    d, N = net.d, net.N
    zs, us = [list(x)], []
    for k in range(N):
        u = [mpmath.fdot(Ws[k][i], zs[-1]) + bs[k][i] for i in range(d)]
        us.append(u)
        zs.append([zs[-1][i] + h * sig(u[i]) for i in range(d)])
    if mode == "f":
        return mpmath.fdot(c, zs[-1]) + e
    s1 = [[sig1(t) for t in u] for u in us]
    out: list = [None] * net.n_params
    if mode == "grad":
        p = list(c)
        for k in range(N - 1, -1, -1):
            q = [p[i] * s1[k][i] for i in range(d)]
            start = net.layer_slices[k][0].start
            for i in range(d):
                for j in range(d):
                    out[start + i * d + j] = sh * q[i] * zs[k][j]
                out[start + d * d + i] = sh * q[i]
            p = [p[j] + h * mpmath.fsum(q[i] * Ws[k][i][j] for i in range(d)) for j in range(d)]
        sc, se = net.layer_slices[-1]
        for j in range(d):
            out[sc.start + j] = zs[-1][j]
        out[se.start] = mpmath.mpf(1)
        return out
    Vs, betas, vc, _ = Pv
    s2 = [[sig2(t) for t in u] for u in us]
    rz, ru = [[mpmath.mpf(0)] * d], []
    for k in range(N):
        r = [mpmath.fdot(Ws[k][i], rz[k]) + mpmath.fdot(Vs[k][i], zs[k]) + betas[k][i] for i in range(d)]
        ru.append(r)
        rz.append([rz[k][i] + h * s1[k][i] * r[i] for i in range(d)])
    p, rp = list(c), list(vc)
    for k in range(N - 1, -1, -1):
        q = [p[i] * s1[k][i] for i in range(d)]
        rq = [rp[i] * s1[k][i] + p[i] * s2[k][i] * ru[k][i] for i in range(d)]
        start = net.layer_slices[k][0].start
        for i in range(d):
            for j in range(d):
                out[start + i * d + j] = sh * (rq[i] * zs[k][j] + q[i] * rz[k][j])
            out[start + d * d + i] = sh * rq[i]
        p, rp = ([p[j] + h * mpmath.fsum(q[i] * Ws[k][i][j] for i in range(d)) for j in range(d)],
                 [rp[j] + h * mpmath.fsum(q[i] * Vs[k][i][j] + rq[i] * Ws[k][i][j] for i in range(d))
                  for j in range(d)])
    sc, se = net.layer_slices[-1]
    for j in range(d):
        out[sc.start + j] = rz[-1][j]
    out[se.start] = mpmath.mpf(0)
    return out


def _mp_rhs(W, b, V, be, d: int, mode: str, sig, sig1, sig2) -> Callable[[list], list]:
    """The augmented right-hand side in mpmath: state ``z``; with ``Φ`` (row-major) and
    ``J`` (d x (d^2 + d), row-major) for ``"grad"``; plus ``Rz, RΦ, RJ`` for ``"hvp"``."""
    Q = d * d + d
    zero = mpmath.mpf(0)

    def F(y: list) -> list:
        z = y[:d]
        u = [mpmath.fdot(W[i], z) + b[i] for i in range(d)]
        out = [sig(t) for t in u]
        if mode == "f":
            return out
        s1 = [sig1(t) for t in u]
        o = d
        Phi = [y[o + i * d: o + (i + 1) * d] for i in range(d)]
        o += d * d
        J = [y[o + i * Q: o + (i + 1) * Q] for i in range(d)]
        A = [[s1[i] * W[i][j] for j in range(d)] for i in range(d)]
        for i in range(d):
            out += [mpmath.fsum(A[i][k] * Phi[k][j] for k in range(d)) for j in range(d)]
        dJ = []
        for i in range(d):
            row = [mpmath.fsum(A[i][k] * J[k][col] for k in range(d)) for col in range(Q)]
            for j in range(d):
                row[i * d + j] += s1[i] * z[j]
            row[d * d + i] += s1[i]
            dJ += row
        if mode != "hvp":
            return out + dJ
        o += d * Q
        rz = y[o:o + d]
        RPhi = [y[o + d + i * d: o + d + (i + 1) * d] for i in range(d)]
        o2 = o + d + d * d
        RJ = [y[o2 + i * Q: o2 + (i + 1) * Q] for i in range(d)]
        ru = [mpmath.fdot(W[i], rz) + mpmath.fdot(V[i], z) + be[i] for i in range(d)]
        w2 = [sig2(u[i]) * ru[i] for i in range(d)]
        AR = [[w2[i] * W[i][j] + s1[i] * V[i][j] for j in range(d)] for i in range(d)]
        dRz = [s1[i] * ru[i] for i in range(d)]
        dRPhi = []
        for i in range(d):
            dRPhi += [mpmath.fsum(AR[i][k] * Phi[k][j] + A[i][k] * RPhi[k][j] for k in range(d)) for j in range(d)]
        dRJ = []
        for i in range(d):
            row = [mpmath.fsum(AR[i][k] * J[k][col] + A[i][k] * RJ[k][col] for k in range(d)) for col in range(Q)]
            for j in range(d):
                row[i * d + j] += w2[i] * z[j] + s1[i] * rz[j]
            row[d * d + i] += w2[i]
            dRJ += row
        return out + dJ + dRz + dRPhi + dRJ + [zero] * 0

    return F


def _gbs_step(F: Callable[[list], list], y: list, H: Any, tol: Any, kmax: int) -> tuple[bool, list]:
    """One Gragg-Bulirsch-Stoer step of length ``H``: modified midpoint with ``n_j = 2j``
    substeps, Aitken-Neville extrapolation in ``η^2``; accepted when two successive
    diagonal entries agree to ``tol`` (relative to ``1 + |y|``)."""
    f0 = F(y)
    table: list[list[list]] = []
    for j in range(1, kmax + 1):
        n = 2 * j
        eta = H / n
        y0 = y
        y1 = [a + eta * g for a, g in zip(y, f0)]
        for _ in range(1, n):
            y0, y1 = y1, [a + 2 * eta * g for a, g in zip(y0, F(y1))]
        row = [y1]
        for k in range(1, j):
            ratio = mpmath.mpf(j * j) / ((j - k) * (j - k)) - 1
            prev = table[j - 2][k - 1]
            row.append([a + (a - b) / ratio for a, b in zip(row[k - 1], prev)])
        table.append(row)
        if j >= 3:
            err = max(abs(a - b) / (1 + abs(a)) for a, b in zip(row[-1], row[-2]))
            if err <= tol:
                return True, row[-1]
    return False, y


def _gbs_integrate(F: Callable[[list], list], y0: list, h: Any, tol: Any, kmax: int,
                   n_sub: int) -> tuple[list, int]:
    """Integrate ``y' = F(y)`` over ``[0, h]`` in ``n_sub`` equal GBS steps, doubling
    ``n_sub`` until every step meets ``tol``; returns ``(y(h), n_sub)``."""
    while True:
        H = h / n_sub
        y, ok = y0, True
        for _ in range(n_sub):
            ok, y = _gbs_step(F, y, H, tol, kmax)
            if not ok:
                break
        if ok:
            return y, n_sub
        if n_sub >= 1 << 12:
            raise FloatingPointError("the mpmath ODE integrator did not converge (step below h/4096); "
                                     "parameters / inputs too large for high-precision integration")
        n_sub *= 2
