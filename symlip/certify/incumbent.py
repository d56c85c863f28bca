"""The incumbent of branch and bound: projected gradient ascent of the local quantity
in float64 from deterministic starts (docs/theory.md §2 (R4), §4).

Only the *lower* end of a certificate rests on the incumbent, and only after the
mpmath confirmation (:func:`~symlip.certify.bnb.confirm_lower`); float64 steers the
search here.  The starts depend on the domain only through its shape and size, so
a ball that contains another (same centre, larger radius) starts from the same
points and ascends at least as far in practice: the centre (and the incumbent so
far), ``x`` on the sphere ``|x| = R`` along ``±e_1`` and along the top right singular
vector of the centre's ``W_1``, and for a box region the falsifier's aligned chains
(``W_i = ±ω_i e_1 e_1ᵀ``, ``b_i = ±β_i e_1``, ``x = R e_1``).

The ascent maximises the smooth surrogate of the local quantity at the current
point — ``|∇_θ f|`` (``lip_f``), ``|∂f/∂x|`` with the top singular pair fixed
(``lip_input``), the Rayleigh quotient ``vᵀ M v`` with the top eigenvector ``v``
fixed (``lip_grad``/``lip_loss_grad``) — by central differences and normalised
steps, pulling every iterate back into the domain.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

__all__ = ["starts", "ascend", "continuation"]


def starts(search: Any) -> list[np.ndarray]:
    """Deterministic start points (variables of the problem) for :func:`ascend`."""
    prob = search.prob
    net, reg, P = prob.net, prob.region, prob.P
    out = []
    dirs = [np.eye(net.d_in)[0], -np.eye(net.d_in)[0]]
    if reg.kind == "ball":
        W1 = net.unflatten(np.asarray(reg.center, float))[0][0]
        _, _, vt = np.linalg.svd(W1)
        dirs += [vt[0], -vt[0]]
        thetas = [np.asarray(reg.center, float)]
    else:
        om, be = reg.layer_bounds(net)
        thetas = []
        for sign in (1.0, -1.0):
            layers = []
            for (dout, din), o, b in zip(zip(net.widths[1:], net.widths[:-1]), om, be):
                W = np.zeros((dout, din))
                W[0, 0] = sign * o
                bias = np.zeros(dout)
                bias[0] = sign * b if prob.odd is False or sign > 0 else b
                layers.append((W, bias))
            thetas.append(net.flatten(layers))
        thetas.append(np.zeros(P))
    for th in thetas:
        for d in dirs:
            x = prob.R * d
            out.append(np.concatenate([th, x[:prob.dx] if not prob.reduced else [prob.R]]))
    if search.best is not None:
        out.append(np.concatenate([search.best.theta, search.best.x[:prob.dx]]))
    return out


def _surrogate(search: Any, p: np.ndarray) -> tuple[Callable[[np.ndarray], float], float] | None:
    """The smooth function to ascend near ``p`` and its value at ``p`` (None if not finite)."""
    prob, net = search.prob, search.prob.net
    theta, x = search.pull_inside(p)
    q = prob.quantity
    try:
        w = search.local(theta, x)
    except (FloatingPointError, ValueError, np.linalg.LinAlgError):
        return None
    if not np.isfinite(w.value):
        return None

    def split(pp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        th, xx = pp[:prob.P], np.zeros(net.d_in)
        xx[:prob.dx] = pp[prob.P:]
        return th, xx

    if q == "lip_f":
        def fn(pp: np.ndarray) -> float:
            th, xx = split(pp)
            return float(np.linalg.norm(net.grad(th, xx)))
    elif q == "lip_input":
        J0 = np.atleast_2d(net.jac_x(theta, x))
        u = J0 @ w.v
        u = u / max(np.linalg.norm(u), 1e-300)

        def fn(pp: np.ndarray) -> float:
            th, xx = split(pp)
            return float(u @ np.atleast_2d(net.jac_x(th, xx)) @ w.v)
    else:
        v, y = w.v, w.y
        sign = 1.0 if _rayleigh(net, q, theta, x, v, y) >= 0 else -1.0

        def fn(pp: np.ndarray) -> float:
            th, xx = split(pp)
            return sign * _rayleigh(net, q, th, xx, v, y)
    return fn, w.value


_FD_LIMIT = 1000  # above this many variables the lip_f ascent differentiates θ exactly (one hvp)


def _lip_f_gradient(search: Any, fn: Callable[[np.ndarray], float], p: np.ndarray) -> np.ndarray:
    """The gradient of ``|∇_θ f|`` at ``p``: ``∇²_θ f g / |g|`` in θ (exact, forward over reverse),
    central differences in the few input variables."""
    prob, net = search.prob, search.prob.net
    th, xx = p[:prob.P], np.zeros(net.d_in)
    xx[:prob.dx] = p[prob.P:]
    g = net.grad(th, xx)
    n = float(np.linalg.norm(g))
    out = np.zeros(p.size)
    if n > 0:
        out[:prob.P] = np.asarray(net.hvp(th, xx, g)).reshape(-1)[:prob.P] / n
    for k in range(prob.P, p.size):
        hk = 1e-6 * max(1.0, abs(p[k]))
        e = np.zeros(p.size)
        e[k] = hk
        out[k] = (fn(p + e) - fn(p - e)) / (2 * hk)
    search.evals += 2 * (p.size - prob.P) + 2
    return out


def _rayleigh(net: Any, q: str, th: np.ndarray, x: np.ndarray, v: np.ndarray, y: Any) -> float:
    hv = float(v @ net.hvp(th, x, v))
    if q == "lip_grad":
        return hv
    g = float(net.grad(th, x) @ v)
    return g * g + (float(net.f(th, x)) - y) * hv


def continuation(search: Any, p0: np.ndarray, steps: int = 12) -> None:
    """:func:`ascend` from ``p0`` inside the concentric balls of radius ``r/8, r/4, r/2, r``
    in turn (a ball region; each stage starts where the last ended), so that a
    maximum near the centre is followed outwards as the ball grows."""
    reg = search.prob.region
    p = np.asarray(p0, float)
    for k in (3, 2, 1, 0):
        p = ascend(search, p, steps, radius=reg.radius / 2 ** k)


def _shrink(search: Any, p: np.ndarray, radius: float | None) -> np.ndarray:
    if radius is None:
        return p
    c = np.asarray(search.prob.region.center, float)
    d = p[:search.prob.P] - c
    n = float(np.linalg.norm(d))
    if n <= radius:
        return p
    q = p.copy()
    q[:search.prob.P] = c + d * (radius / n)
    return q


def ascend(search: Any, p0: np.ndarray, steps: int = 30, radius: float | None = None) -> np.ndarray:
    """Projected gradient ascent from ``p0`` (θ kept within ``radius`` of a ball region's
    centre when given); every iterate is rated by ``search.rate``.  Returns the last point."""
    p = _shrink(search, np.asarray(p0, float).copy(), radius)
    eta = float(np.mean(search.root_width)) * 0.05 * (1.0 if radius is None else radius / search.prob.region.radius)
    for _ in range(steps):
        if search.exhausted():  # its evaluation limit or the deadline
            return p
        sur = _surrogate(search, p)
        if sur is None:
            return p
        fn, val = sur
        if search.prob.quantity == "lip_f" and p.size > _FD_LIMIT:
            g = _lip_f_gradient(search, fn, p)
        elif search.evals + 2 * p.size > search.eval_limit:  # a step would overrun the evaluation limit
            return p
        else:
            h = 1e-6 * np.maximum(1.0, np.abs(p))
            g = np.array([(fn(p + hk * e) - fn(p - hk * e)) / (2 * hk) for hk, e in zip(h, np.eye(p.size))])
            search.evals += 2 * p.size
        n = float(np.linalg.norm(g))
        if not np.isfinite(n) or n == 0:
            return p
        while eta > 1e-9 * float(np.mean(search.root_width)) and not search.out_of_time():
            cand = _shrink(search, p + eta * g / n, radius)
            theta, x = search.pull_inside(cand)
            cand = np.concatenate([theta, x[:search.prob.dx]])
            got = search.rate(cand)
            if got is not None and got > val:
                p = cand
                eta *= 1.5
                break
            eta *= 0.5
        else:
            return p
    return p
