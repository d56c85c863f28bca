"""High-precision (mpmath) evaluation of an MLP: the second, independent path (docs/theory.md §1).

The same mathematics as the float64 path of :class:`symlip.models.network.MLP`
(forward pass, back-propagation, the R-operator Hessian-vector product, the
input Jacobian) written with plain loops over ``mpmath.mpf`` and sharing no
code with it; used to cross-check it and to confirm witnesses to many digits.
The functions take the network ``net`` through its public protocol
(``widths``, ``depth``, ``d_in``, ``d_out``, ``n_params``, ``layer_slices``,
``activation``); results are object arrays of ``mpf`` shaped as the float64
ones.
"""
from __future__ import annotations

from typing import Any, Callable

import mpmath
import numpy as np

from symlip.core.precision import to_mp, workdps

__all__ = ["mp_f", "mp_grad", "mp_hvp", "mp_jac_x"]


def mp_f(net: Any, theta: Any, X: Any, dps: int = 50) -> Any:
    """:meth:`MLP.f` in mpmath at ``dps`` digits; object array of ``mpf`` (same shape)."""
    with workdps(dps):
        layers = _mp_layers(net, theta)
        xs, single = _mp_inputs(net, X)
        sig = net.activation.mpmath(0)
        res = []
        for x in xs:
            z = x
            for i, (W, b) in enumerate(layers, start=1):
                a = [mpmath.fdot(row, z) + bj for row, bj in zip(W, b)]
                z = [sig(t) for t in a] if i < net.depth else a
            res.append(z)
        out = _obj(res)
        out = out[:, 0] if net.d_out == 1 else out
        return out[0] if single else out


def mp_grad(net: Any, theta: Any, X: Any, dps: int = 50) -> Any:
    """:meth:`MLP.grad` in mpmath at ``dps`` digits; object array ``(n, P)`` of ``mpf``."""
    with workdps(dps):
        layers = _mp_layers(net, theta)
        xs, single = _mp_inputs(net, X)
        rows = []
        for x in xs:
            zs, s1 = _mp_forward(net, layers, x)
            deltas = _mp_backward(net, layers, s1)
            row: list = []
            for i in range(1, net.depth + 1):
                d, z = deltas[i], zs[i - 1]
                row += [dj * zk for dj in d for zk in z]
                row += list(d)
            rows.append(row)
        out = _obj(rows)
        return out[0] if single else out


def mp_hvp(net: Any, theta: Any, X: Any, v: Any, dps: int = 50) -> Any:
    """:meth:`MLP.hvp` in mpmath at ``dps`` digits; object array ``(n, P)`` of ``mpf``."""
    with workdps(dps):
        layers = _mp_layers(net, theta)
        vlay = _mp_layers(net, v, name="v")
        xs, single = _mp_inputs(net, X)
        m = net.depth
        sig0 = net.activation.mpmath(0)
        sig1 = net.activation.mpmath(1)
        sig2 = net.activation.mpmath(2)
        zero = mpmath.mpf(0)
        rows = []
        for x in xs:
            # forward with directional derivatives
            zs, rzs, ras, s1s, s2s = [list(x)], [[zero] * len(x)], [None], [None], [None]
            for i in range(1, m + 1):
                W, b = layers[i - 1]
                V, c = vlay[i - 1]
                z, rz = zs[-1], rzs[-1]
                a = [mpmath.fdot(row, z) + bj for row, bj in zip(W, b)]
                ra = [mpmath.fdot(Vr, z) + mpmath.fdot(Wr, rz) + cj
                      for Vr, Wr, cj in zip(V, W, c)]
                ras.append(ra)
                if i < m:
                    s1 = [sig1(t) for t in a]
                    s2 = [sig2(t) for t in a]
                    s1s.append(s1)
                    s2s.append(s2)
                    zs.append([sig0(t) for t in a])
                    rzs.append([p * q for p, q in zip(s1, ra)])
            # backward: δ_i and R{δ_i}
            delta = {m: [mpmath.mpf(1)]}
            rdelta = {m: [zero]}
            for i in range(m - 1, 0, -1):
                W, V = layers[i][0], vlay[i][0]
                dn, rdn = delta[i + 1], rdelta[i + 1]
                cols = range(net.widths[i])
                g = [mpmath.fdot([W[r][k] for r in range(len(dn))], dn) for k in cols]
                h = [mpmath.fdot([V[r][k] for r in range(len(dn))], dn)
                     + mpmath.fdot([W[r][k] for r in range(len(dn))], rdn) for k in cols]
                delta[i] = [s1s[i][k] * g[k] for k in cols]
                rdelta[i] = [s2s[i][k] * ras[i][k] * g[k] + s1s[i][k] * h[k] for k in cols]
            row: list = []
            for i in range(1, m + 1):
                d, rd, z, rz = delta[i], rdelta[i], zs[i - 1], rzs[i - 1]
                row += [rdj * zk + dj * rzk for rdj, dj in zip(rd, d) for zk, rzk in zip(z, rz)]
                row += list(rd)
            rows.append(row)
        out = _obj(rows)
        return out[0] if single else out


def mp_jac_x(net: Any, theta: Any, X: Any, dps: int = 50) -> Any:
    """:meth:`MLP.jac_x` in mpmath at ``dps`` digits; object array of ``mpf`` (same shape)."""
    with workdps(dps):
        layers = _mp_layers(net, theta)
        xs, single = _mp_inputs(net, X)
        m = net.depth
        res = []
        for x in xs:
            _, s1 = _mp_forward(net, layers, x)
            J = [list(row) for row in layers[m - 1][0]]  # ∂f/∂z_{m-1}, (d_m, d_{m-1})
            for i in range(m - 1, 0, -1):
                W = layers[i - 1][0]
                scaled = [[Jr[k] * s1[i][k] for k in range(len(Jr))] for Jr in J]
                cols = range(net.widths[i - 1])
                J = [[mpmath.fdot(Sr, [W[r][c] for r in range(len(Sr))]) for c in cols]
                     for Sr in scaled]
            res.append(J)
        out = _obj(res)
        out = out[:, 0, :] if net.d_out == 1 else out
        return out[0] if single else out


def _mp_vector(net: Any, a: Any, name: str, shape_ok: Callable[[tuple], bool], want: str) -> np.ndarray:
    if isinstance(a, (str, bytes)):
        raise TypeError(f"{name} must be a real numeric array, got the string {a!r}")
    arr = a if isinstance(a, np.ndarray) else np.asarray(a, dtype=object)
    if arr.dtype.kind == "c":
        raise TypeError(f"{name} must be real, got a complex array (dtype {arr.dtype})")
    if not shape_ok(arr.shape):
        raise ValueError(f"{name} has shape {arr.shape}, expected {want} for widths {net.widths}")
    mp = to_mp(arr)
    for k, x in enumerate(mp.reshape(-1)):
        if not mpmath.isfinite(x):
            raise ValueError(f"{name} must be finite; entry {k} is {x}")
    return mp


def _mp_layers(net: Any, theta: Any, name: str = "theta") -> list[tuple[list[list], list]]:
    P = net.n_params
    th = _mp_vector(net, theta, name, lambda s: s == (P,), f"(P,) = ({P},)")
    out = []
    for i, (sw, sb) in enumerate(net.layer_slices, start=1):
        Wf = list(th[sw])
        cols = net.widths[i - 1]
        W = [Wf[r * cols:(r + 1) * cols] for r in range(net.widths[i])]
        out.append((W, list(th[sb])))
    return out


def _mp_inputs(net: Any, X: Any) -> tuple[list[list], bool]:
    d0 = net.d_in
    arr = _mp_vector(net, 
        X, "X",
        lambda s: s == (d0,) or (len(s) == 2 and s[1] == d0 and s[0] >= 1),
        f"(n, d_0) = (n, {d0}) with n >= 1 or a single input ({d0},)",
    )
    if arr.ndim == 1:
        return [list(arr)], True
    return [list(row) for row in arr], False


def _mp_forward(net: Any, layers, x):
    """Per-sample mp forward pass: ``z_0..z_{m-1}`` and ``σ'(a_i)`` (list index i)."""
    sig = net.activation.mpmath(0)
    sig1 = net.activation.mpmath(1)
    zs, s1 = [list(x)], [None]
    for i, (W, b) in enumerate(layers[:-1], start=1):
        a = [mpmath.fdot(row, zs[-1]) + bj for row, bj in zip(W, b)]
        zs.append([sig(t) for t in a])
        s1.append([sig1(t) for t in a])
    return zs, s1


def _mp_backward(net: Any, layers, s1):
    """δ_i for i = 1..m (index i) in mpmath, δ_m = 1."""
    m = net.depth
    deltas = {m: [mpmath.mpf(1)]}
    for i in range(m - 1, 0, -1):
        W = layers[i][0]
        dn = deltas[i + 1]
        deltas[i] = [
            s1[i][k] * mpmath.fdot([W[r][k] for r in range(len(dn))], dn)
            for k in range(net.widths[i])
        ]
    return deltas


def _obj(nested: list) -> np.ndarray:
    """Nested lists of mpf -> object ndarray (never lets numpy convert to float)."""
    arr = np.empty(_shape_of(nested), dtype=object)
    _fill(arr, nested)
    return arr


def _shape_of(nested: Any) -> tuple[int, ...]:
    shape = []
    x = nested
    while isinstance(x, list):
        shape.append(len(x))
        if not x:
            break
        x = x[0]
    return tuple(shape)


def _fill(arr: np.ndarray, nested: list) -> None:
    if arr.ndim == 1:
        for k, x in enumerate(nested):
            arr[k] = x
    else:
        for k, sub in enumerate(nested):
            _fill(arr[k], sub)
