"""Rigorous enclosures of the local quantities on a box of (θ, x) (docs/theory.md §1–§3).

The local quantities whose suprema the certifier bounds (docs/theory.md §1 (D1.3), §2 (R4)):

* ``lip_f``:         ``|∇_θ f(x;θ)|``
* ``lip_grad``:      ``||∇²_θ f(x;θ)||_2``
* ``lip_loss_grad``: ``||∇²_θ ½(f(x;θ) - y)²||_2 = ||g gᵀ + (f - y) ∇²_θ f||_2`` (``g = ∇_θ f``)
* ``lip_input``:     ``||∂f/∂x (x;θ)||_2``

A :class:`Problem` fixes the network, the quantity and the domain (a region of θ,
``|x| <= R``, ``|y| <= Y``) and encloses the quantity on boxes of its *variables*
(θ's entries, then x's).  One code path evaluates the network (D1.2: forward pass,
``δ_m = 1``, ``δ_i = σ'(a_i) ⊙ W_{i+1}ᵀ δ_{i+1}``, ``∂f/∂W_i = δ_i z_{i-1}ᵀ``) on any
number type: arb balls (the natural interval extension), or :class:`Jet` — a ball
value with ball partial derivatives (forward-mode differentiation in interval
arithmetic), which gives the Hessian rows for ``lip_grad`` and the gradient of the
squared norm for the mean-value form.  Activation enclosures come from
:func:`symlip.activations.constants.compile_interval` (arguments wider than 1 are cut
into pieces; a Piecewise σ — ReLU — gets the hull of its one-sided slopes on an
interval holding a kink).

Enclosure of ``φ = |∇_θ f|²`` (``lip_f``) or ``|∇_x f|²`` (``lip_input``, scalar output):
the minimum of the natural extension and the mean-value form
``φ(p) <= φ(c) + g₀·(p - c) + Σ_k ρ_k |p_k - c_k|`` (``G = g₀ ± ρ`` the interval gradient
over the box), whose linear part is maximised over the box *and* each ball of the
domain (``sup_{|p-o|<=r} g₀·(p - c) = g₀·(o - c) + r|g₀|``), so maxima on the boundary of a
ball converge quadratically too.  The mean-value form needs φ's derivative to exist
and be enclosed: it is used for non-piecewise activations only.

Enclosure of a Hessian norm: ``||H(p)||_2 <= ||H(c)||_2 + || |H(box) - H(c)| ||_2`` and the
natural ``||mid H(box)|| + ||rad H(box)||`` (:func:`~symlip.certify.interval.norm2_upper`).
For ``lip_loss_grad`` the norm is convex in ``y``, so its supremum over ``|y| <= Y`` is
at ``y = ±Y``: both are enclosed and the larger is kept (no branching on y).

Every enclosure is computed on the box *contracted* to the domain (a coordinate of a
ball constraint cannot exceed ``sqrt(r² - Σ_{other} dist²)``; a row or column of ``W_i``
cannot exceed ``ω_i`` in norm because ``||W_i||_2 >= `` its row and column norms), and a
box is reported outside only when that contraction is certainly empty.
"""
from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import sympy as sp
from flint import arb

from symlip.activations.base import T
from symlip.activations.constants import compile_interval
from symlip.certify.hessian import block_bound
from symlip.certify.interval import (ONE, ZERO, ball_function, float_down, float_up, hull, norm2_upper,
                                    sym_intersect, sym_norm_upper, to_arb, workprec)
from symlip.certify.jets import Jet, check_deadline, dot_rows, value
from symlip.certify.shallow import applies as shallow_applies, shallow_bound, shallow_enclosure

if TYPE_CHECKING:  # pragma: no cover
    from symlip.models.network import MLP
    from symlip.models.region import Region

__all__ = ["CERTIFY_QUANTITIES", "Problem"]

#: the quantities :func:`symlip.certify.certify` bounds
CERTIFY_QUANTITIES = ("lip_f", "lip_grad", "lip_loss_grad", "lip_input")

_EVERYTHING = arb(0).union(arb("inf"))
_PIECE = 1.0  # activation arguments wider than this are cut into pieces of about this width
_MAX_PIECES = 8
_BALL_RAD = 0.02  # arguments of at most this radius are evaluated in C ball arithmetic (centred form)
_UNIT = arb(0, 1)  # the ball [-1, 1]
_GENERIC_MAX_P = 24  # above this many parameters a one-hidden-layer Hessian box gets the structured bound only


class Problem:
    """The network, quantity and domain of a certificate, with its box enclosures.

    Variables are θ's ``P`` entries followed by the input coordinates: all ``d_0`` of
    them, or — for a box region (:meth:`Region.box` is invariant under ``W_1 ↦ W_1 Qᵀ``,
    ``x ↦ Q x`` for orthogonal ``Q``, which leaves every local quantity unchanged) — the
    single coordinate ``t`` of ``x = t e_1``, ``0 <= t <= R``.  For an odd activation on a
    box region the sign of each hidden unit is fixed by ``b_i[j] >= 0`` (flipping row
    ``j`` of ``W_i``, ``b_i[j]`` and column ``j`` of ``W_{i+1}`` leaves f unchanged and maps
    θ orthogonally), and the hidden units of a layer are ordered by ``b_i[0] >= b_i[1] >= …``
    (permuting the units of layer ``i`` — rows of ``W_i``, entries of ``b_i``, columns of
    ``W_{i+1}`` — leaves f and the box region unchanged and maps θ orthogonally, so every
    local quantity takes the same values on the ordered part of the domain; flipping signs
    first and sorting second keeps ``b_i >= 0``).  The root box is :meth:`root`.
    """

    def __init__(self, quantity: str, net: "MLP", region: "Region", R: float, Y: float | None = None) -> None:
        self.quantity, self.net, self.region = quantity, net, region
        self.R, self.Y = float(R), (None if Y is None else float(Y))
        self.P = net.n_params
        act = net.activation
        self.smooth = not act.is_piecewise
        self.odd = self.smooth and sp.simplify(act.expr.subs(T, -T) + act.expr) == 0
        self.reduced = region.kind == "box"
        self.dx = 1 if self.reduced else net.d_in
        self.n = self.P + self.dx
        orders = {"lip_f": 2, "lip_input": 2, "lip_grad": 3, "lip_loss_grad": 3}[quantity]
        self._sig: list[Callable] = [_compiled(act.expr if k == 0 else act.derivative(k)) for k in range(orders + 1)]
        self._ball = _ball_derivatives(act, orders + 1) if self.smooth else None
        self._groups = self._constraint_groups()
        # ordered pairs (k, k') with p[k] >= p[k'] on the reduced domain (hidden-unit order)
        self._order = [(sb.start + j, sb.start + j + 1) for sb in (s for _, s in net.layer_slices[:-1])
                       for j in range(sb.stop - sb.start - 1)] if self.reduced else []
        self.mean_value = self.smooth and (quantity in ("lip_f",) or (quantity == "lip_input" and net.d_out == 1))
        #: a time.monotonic() time after which an enclosure raises jets.PastDeadline (None: no limit;
        #: set by the branch and bound, never by a replay)
        self.deadline: float | None = None

    # -- the domain ---------------------------------------------------------
    def root(self) -> tuple[np.ndarray, np.ndarray]:
        """The root box ``(lo, hi)`` of the variables, covering the (reduced) domain."""
        lo, hi = np.empty(self.n), np.empty(self.n)
        net, reg = self.net, self.region
        if reg.kind == "ball":
            r = to_arb(reg.radius)
            for k, c in enumerate(reg.center):
                lo[k], hi[k] = float_down(to_arb(c) - r), float_up(to_arb(c) + r)
        else:
            om, be = reg.layer_bounds(net)
            for i, ((sw, sb), o, b) in enumerate(zip(net.layer_slices, om, be)):
                lo[sw], hi[sw] = -o, o
                lo[sb], hi[sb] = -b, b
                if self.odd and i < net.depth - 1:
                    lo[sb] = 0.0
        if self.reduced:
            lo[self.P], hi[self.P] = 0.0, self.R
        else:
            lo[self.P:], hi[self.P:] = -self.R, self.R
        return lo, hi

    def _constraint_groups(self) -> list[tuple[np.ndarray, np.ndarray, float, int]]:
        """Ball constraints ``|p[idx] - center| <= radius`` every domain point satisfies,
        with the rank used by the Frobenius test (0: none)."""
        net, reg, P = self.net, self.region, self.P
        groups = []
        if reg.kind == "ball":
            groups.append((np.arange(P), np.asarray(reg.center, float), reg.radius, 0))
        else:
            om, be = reg.layer_bounds(net)
            for (sw, sb), o, b, (dout, din) in zip(net.layer_slices, om, be, zip(net.widths[1:], net.widths[:-1])):
                idx = np.arange(sw.start, sw.stop).reshape(dout, din)
                for row in idx:
                    groups.append((row, np.zeros(din), o, 0))
                for col in idx.T:
                    groups.append((col, np.zeros(dout), o, 0))
                if min(dout, din) > 1:
                    groups.append((idx.ravel(), np.zeros(idx.size), o * math.sqrt(min(dout, din)), 0))
                groups.append((np.arange(sb.start, sb.stop), np.zeros(dout), b, 0))
        if not self.reduced and net.d_in > 1:
            groups.append((np.arange(P, self.n), np.zeros(net.d_in), self.R, 0))
        return groups

    def contract(self, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """The box shrunk to a box that still holds its intersection with the domain,
        or None when that intersection is certainly empty (rigorous, in arb)."""
        lo, hi = lo.copy(), hi.copy()
        with workprec():
            for _ in range(2):
                for k, k2 in self._order:  # p[k] >= p[k2]: exact float comparisons
                    lo[k], hi[k2] = max(lo[k], lo[k2]), min(hi[k2], hi[k])
                    if lo[k] > hi[k] or lo[k2] > hi[k2]:
                        return None
                for idx, cen, rad, _r in self._groups:
                    check_deadline(self.deadline)
                    d2 = []
                    for k, c in zip(idx, cen):
                        if k % 512 == 0:
                            check_deadline(self.deadline)
                        ca = to_arb(c)
                        if lo[k] > c:
                            t = to_arb(lo[k]) - ca
                        elif hi[k] < c:
                            t = ca - to_arb(hi[k])
                        else:
                            t = ZERO
                        d2.append(t * t)
                    total = sum(d2, ZERO)
                    r2 = to_arb(rad) * to_arb(rad)
                    if total.lower() > r2.upper():
                        return None
                    for k, c, dk in zip(idx, cen, d2):
                        if k % 512 == 0:
                            check_deadline(self.deadline)
                        room = r2 - (total - dk)
                        if room.upper() < 0:
                            return None
                        a = room.upper().sqrt()
                        ca = to_arb(c)
                        nlo, nhi = float_down(ca - a), float_up(ca + a)
                        lo[k], hi[k] = max(lo[k], nlo), min(hi[k], nhi)
                        if lo[k] > hi[k]:
                            return None
        return lo, hi

    # -- activations on balls -------------------------------------------------
    def act(self, k: int, u: Any) -> Any:
        """``σ^(k)`` of a ball or a jet (chain rule for jets)."""
        if isinstance(u, Jet):
            v = self.act(k, u.v)
            return Jet(v, None if u.d is None else self.act(k + 1, u.v) * u.d)
        if self._ball is not None and u.rad() <= _BALL_RAD:
            got = self._ball_act(k, u)
            if got is not None:
                return got
        lo, hi = u.lower(), u.upper()
        if not (lo.is_finite() and hi.is_finite()):
            return _EVERYTHING
        F = self._sig[k]
        width = float(hi - lo)
        pieces = 1 if width <= _PIECE else min(_MAX_PIECES, math.ceil(width / _PIECE))
        if pieces == 1:
            ylo, yhi = F(lo, hi)
            return ylo.union(yhi)
        out = None
        step = (hi - lo) / pieces
        for j in range(pieces):
            a = lo + step * j if j else lo
            b = lo + step * (j + 1) if j < pieces - 1 else hi
            ylo, yhi = F(a.lower() if j else a, b.upper() if j < pieces - 1 else b)
            part = ylo.union(yhi)
            out = part if out is None else out.union(part)
        return out

    def _ball_act(self, k: int, u: arb) -> arb | None:
        """``σ^(k)`` of a narrow ball in C ball arithmetic: the natural extension intersected
        with the centred form ``σ^(k)(m) + σ^(k+1)(u) [±r]`` (mean-value theorem; σ smooth)."""
        F = self._ball
        nat = F[k](u)
        r = u.rad()
        if r != 0 and k + 1 < len(F):
            cen = F[k](u.mid()) + F[k + 1](u) * (r * _UNIT)
            if cen.is_finite():
                nat = cen if not nat.is_finite() else _meet(nat, cen)
        return nat if nat.is_finite() else None

    # -- the network on any number type -----------------------------------------
    def network(self, theta: np.ndarray, x: np.ndarray, input_grad: bool = False) -> dict[str, Any]:
        """f, ∇_θ f (θ layout), ``δ_i``, ``z_i`` (and ``∇_x f``) on numbers of any type (D1.2)."""
        net = self.net
        layers = [(theta[sw].reshape(dout, din), theta[sb]) for (sw, sb), dout, din
                  in zip(net.layer_slices, net.widths[1:], net.widths[:-1])]
        zs, ss = [x], []
        z = x
        for i, (W, b) in enumerate(layers):
            a = dot_rows(W, z, self.deadline) + b
            if i < len(layers) - 1:
                check_deadline(self.deadline)
                z = np.array([self.act(0, t) for t in a], dtype=object)
                ss.append(np.array([self.act(1, t) for t in a], dtype=object))
                zs.append(z)
        out = {"f": a, "z": zs}
        if net.d_out != 1:
            return out
        grad = np.empty(self.P, dtype=object)
        delta = np.array([ONE], dtype=object)
        deltas = [None] * len(layers)
        for i in range(len(layers) - 1, -1, -1):
            (sw, sb), W = net.layer_slices[i], layers[i][0]
            deltas[i] = delta
            check_deadline(self.deadline)
            grad[sw] = np.outer(delta, zs[i]).ravel()
            grad[sb] = delta
            v = dot_rows(W.T, delta, self.deadline)
            if i > 0:
                delta = ss[i - 1] * v
        out.update(grad=grad, delta=deltas)
        if input_grad:
            out["grad_x"] = v
        return out

    def x_full(self, xv: np.ndarray) -> np.ndarray:
        """The input vector from the input variables (``x = t e_1`` when reduced)."""
        if not self.reduced:
            return xv
        return np.array([xv[0]] + [ZERO] * (self.net.d_in - 1), dtype=object)

    def numbers(self, lo: np.ndarray, hi: np.ndarray, jets: str | None) -> tuple[np.ndarray, np.ndarray]:
        """θ and x as balls over the box; as jets in all variables (``"all"``) or in θ (``"theta"``)."""
        check_deadline(self.deadline)
        balls = [hull(a, b) if a != b else to_arb(a) for a, b in zip(lo, hi)]
        if jets is None:
            th = np.array(balls[:self.P], dtype=object)
            return th, self.x_full(np.array(balls[self.P:], dtype=object))
        nd = self.n if jets == "all" else self.P
        zero = np.array([ZERO] * nd, dtype=object)

        def seed(k: int) -> Jet:
            if k >= nd:
                return Jet(balls[k])
            e = zero.copy()
            e[k] = ONE
            return Jet(balls[k], e)

        check_deadline(self.deadline)
        th = np.array([seed(k) for k in range(self.P)], dtype=object)
        check_deadline(self.deadline)
        xv = np.array([seed(k) for k in range(self.P, self.n)], dtype=object)
        if self.reduced:
            xv = np.array([xv[0]] + [Jet(ZERO)] * (self.net.d_in - 1), dtype=object)
        return th, xv

    # -- enclosures ---------------------------------------------------------------
    def enclose(self, lo: np.ndarray, hi: np.ndarray) -> tuple[arb | None, np.ndarray | None]:
        """``(upper, scores)``: an arb ``>=`` the quantity at every domain point of the box
        (None when the box lies certainly outside the domain), and per-variable split
        scores (larger = splitting there shrinks the enclosure more)."""
        box = self.contract(lo, hi)
        if box is None:
            return None, None
        lo, hi = box
        with workprec():
            if self.quantity in ("lip_f", "lip_input"):
                return self._enclose_norm(lo, hi)
            return self._enclose_hessian(lo, hi)

    def _sq_norm(self, out: dict[str, Any]) -> Any:
        if self.quantity == "lip_input":
            g = out["grad_x"]
            return sum((t * t for t in g), ZERO)
        total = ZERO
        for i, d in enumerate(out["delta"]):
            z = out["z"][i]
            total = total + sum((t * t for t in d), ZERO) * (ONE + sum((t * t for t in z), ZERO))
        return total

    def _enclose_norm(self, lo: np.ndarray, hi: np.ndarray) -> tuple[arb, np.ndarray]:
        widths = hi - lo
        if self.quantity == "lip_input" and self.net.d_out != 1:
            th, x = self.numbers(lo, hi, None)
            J = self._input_jacobian(th, x)
            return norm2_upper(J), widths
        if not self.mean_value:
            th, x = self.numbers(lo, hi, None)
            out = self.network(th, x, input_grad=True)
            return _sqrt_up(self._nat_sq(out)), widths
        th, x = self.numbers(lo, hi, "all")
        out = self.network(th, x, input_grad=True)
        phi = self._sq_norm(out)
        nat = self._nat_sq(out, jets=True)
        c = lo + (hi - lo) / 2
        thc, xc = self.numbers(c, c, None)
        phic = self._sq_norm(self.network(thc, xc, input_grad=True))
        G = phi.d if phi.d is not None else np.array([ZERO] * self.n, dtype=object)
        g0 = np.array([t.mid() for t in G], dtype=object)
        half = np.array([max(to_arb(h) - to_arb(cc), to_arb(cc) - to_arb(lw)) for lw, cc, h in zip(lo, c, hi)],
                        dtype=object)
        rem = sum((t.rad() * h for t, h in zip(G, half)), ZERO)
        lin = self.linear_sup(g0, c, half)
        mv = phic + lin + rem
        best = mv.upper() if mv.upper() < nat.upper() else nat.upper()
        scores = np.array([float((abs(a.mid()) + a.rad()) * h) for a, h in zip(G, half)])
        best = _sqrt_up(best)
        if shallow_applies(self):  # one hidden layer: the structured bound (symlip.certify.shallow)
            sh = shallow_bound(self, lo, hi)
            best = sh if sh < best else best
        return best, scores

    def _nat_sq(self, out: dict[str, Any], jets: bool = False) -> arb:
        """The natural enclosure of the squared norm from the balls' absolute values."""
        def sq(vec: Any) -> arb:
            s = ZERO
            for t in vec:
                m = value(t).abs_upper()
                s = s + m * m
            return s

        if self.quantity == "lip_input":
            return sq(out["grad_x"]).upper()
        total = ZERO
        for i, d in enumerate(out["delta"]):
            total = total + sq(d) * (ONE + sq(out["z"][i]))
        return total.upper()

    def linear_sup(self, g0: np.ndarray, c: np.ndarray, half: np.ndarray) -> arb:
        """``sup g0·(p - c)`` over the box ``c ± half`` intersected with each ball group."""
        covered = np.zeros(self.n, bool)
        total = ZERO
        for idx, cen, rad, _ in self._groups:
            if covered[idx].any():
                continue
            covered[idx] = True
            box_sup = sum((g0[k].abs_upper() * half[k] for k in idx), ZERO)
            gn = sum((g0[k] * g0[k] for k in idx), ZERO).sqrt()
            shift = sum((g0[k] * (to_arb(o) - to_arb(c[k])) for k, o in zip(idx, cen)), ZERO)
            ball_sup = shift + to_arb(rad) * gn
            total = total + (ball_sup if ball_sup.upper() < box_sup.upper() else box_sup)
        for k in np.flatnonzero(~covered):
            total = total + g0[k].abs_upper() * half[k]
        return total

    def _input_jacobian(self, th: np.ndarray, x: np.ndarray) -> np.ndarray:
        net = self.net
        J = np.array([[ONE if i == j else ZERO for j in range(net.d_in)] for i in range(net.d_in)], dtype=object)
        z = x
        for i, ((sw, sb), dout, din) in enumerate(zip(net.layer_slices, net.widths[1:], net.widths[:-1])):
            W, b = th[sw].reshape(dout, din), th[sb]
            a = W.dot(z) + b
            J = W.dot(J)
            if i < net.depth - 1:
                z = np.array([self.act(0, t) for t in a], dtype=object)
                s = np.array([self.act(1, t) for t in a], dtype=object)
                J = J * s[:, None]
        return J

    def hessian_parts(self, lo: np.ndarray, hi: np.ndarray) -> tuple[arb, np.ndarray, np.ndarray]:
        """``(f, g, H)`` as balls over the box: output, ``∇_θ f`` and ``∇²_θ f`` (P × P)."""
        th, x = self.numbers(lo, hi, "theta")
        out = self.network(th, x)
        zero = np.array([ZERO] * self.P, dtype=object)
        H = np.array([g.d if isinstance(g, Jet) and g.d is not None else zero for g in out["grad"]],
                     dtype=object)
        g = np.array([value(t) for t in out["grad"]], dtype=object)
        return value(out["f"][0]), g, H

    def targets(self) -> tuple[arb, ...]:
        """The targets at which the ``lip_loss_grad`` norm (convex in y) is largest."""
        Y = self.Y or 0.0
        return (to_arb(-Y), to_arb(Y)) if Y > 0 else (ZERO,)

    def matrices(self, lo: np.ndarray, hi: np.ndarray) -> list[np.ndarray]:
        """The matrices whose norm is the quantity on the box (one per target for the loss)."""
        f, g, H = self.hessian_parts(lo, hi)
        if self.quantity == "lip_grad":
            return [H]
        return [np.outer(g, g) + (f - y) * H for y in self.targets()]

    def _enclose_hessian(self, lo: np.ndarray, hi: np.ndarray) -> tuple[arb, np.ndarray]:
        # one hidden layer: the structured bound (symlip.certify.shallow), alone on large networks
        shallow = shallow_enclosure(self, lo, hi) if shallow_applies(self) else None
        if shallow is not None and self.P > _GENERIC_MAX_P:
            return shallow
        up, scores = self._enclose_hessian_generic(lo, hi)
        if shallow is not None and shallow[0] < up:
            return shallow
        return up, scores

    def _enclose_hessian_generic(self, lo: np.ndarray, hi: np.ndarray) -> tuple[arb, np.ndarray]:
        boxes = self.matrices(lo, hi)
        c = lo + (hi - lo) / 2
        cents = self.matrices(c, c)
        best = ZERO
        for i, (Mb, Mc) in enumerate(zip(boxes, cents)):
            boxes[i] = Mb = sym_intersect(Mb)  # M is symmetric: keep its symmetric members only
            cents[i] = Mc = sym_intersect(Mc)
            nat = sym_norm_upper(Mb)
            E = np.array([[(a - b).abs_upper() for a, b in zip(ra, rb)] for ra, rb in zip(Mb, Mc)], dtype=object)
            cen = sym_norm_upper(Mc, E)
            up = cen if cen < nat else nat
            best = up if up > best else best
        block, scores = block_bound(self, lo, hi, c, boxes, cents)
        if block < best:
            return block, scores + 1e-3 * (hi - lo)
        return best, hi - lo


def _ball_derivatives(act: Any, top: int) -> list[Callable] | None:
    """:func:`ball_function` of ``σ, σ', …, σ^(top)`` (None when one has no ball extension)."""
    exprs = [act.expr] + [act.derivative(k) for k in range(1, min(top, 3) + 1)]
    while len(exprs) <= top:
        exprs.append(sp.diff(exprs[-1], T))
    try:
        return [ball_function(e, T) for e in exprs]
    except ValueError:
        return None


def _meet(a: arb, b: arb) -> arb:
    """The intersection of two balls that both hold the same value."""
    try:
        return a.intersection(b)
    except ValueError:  # disjoint: impossible for sound enclosures; stay sound anyway
        return a.union(b)


@functools.lru_cache(maxsize=64)
def _compiled(expr: sp.Expr) -> Callable:
    """:func:`compile_interval`, once per expression."""
    return compile_interval(expr)


def _sqrt_up(v: arb) -> arb:
    if v < 0:
        return ZERO
    return v.upper().sqrt().upper()
