"""Certified input constants of a fixed piecewise-linear MLP by branch and bound over
activation patterns (docs/theory.md §1 (D1.3), §2 (R4)).

The constant bounded is ``sup ||J(x)||_2`` over the ball ``|x| <= R`` for the network
fixed by ``Region.ball(theta, 0.0)``; σ has at most one kink ``κ`` with slopes
``s_-`` (below) and ``s_+`` (above), exact rationals (relu, leaky relu, identity).

A *node* decides a side (0: ``a <= κ``, 1: ``a >= κ``) for some hidden units, layer by
layer (a unit of layer ``l+1`` is split only when every unit of layers ``<= l`` is
decided or stable).  Every point of the ball lies in a leaf of any complete split tree
(the two closed sides cover the line), so the maximum of the node bounds over the
leaves is a certified upper bound.  On a node:

* pre-activation enclosures (arb): on the layers whose inputs are affine in ``x``
  given the decisions (``a = A x + c``) the exact range over the ball ``c ± R |A_j|``,
  further on interval propagation; each is intersected with the decided side, and a
  unit whose enclosure lies on one side of ``κ`` is *stable* (its slope is exact);
* the bound: while an earlier layer has undecided units, ``||J||_2`` over the interval
  Jacobian ``W_m D_{m-1} ... D_1 W_1`` (an undecided slope is the hull ``[s_-, s_+]``,
  :func:`~symlip.certify.interval.norm2_upper`); once only the last hidden layer ``L`` has
  undecided units, ``J = W D P`` with ``P = ∂a_L/∂x`` one matrix and the least of: the
  *split* bound ``||W D_mid P|| + e/2 ||W_U|| ||P_U||`` (verified eigenvalues of ``W D K D Wᵀ``,
  ``K = P Pᵀ``; on a leaf the exact norm), and for a scalar output the midpoint–radius
  Gram bound and the *roof* bound of the convex ``t ↦ |d + Σ_U t_j u_j|²`` on ``[0, 1]^U``;
* stabilisation (:func:`~symlip.certify.relu_bounds.stabilise_units`): an undecided unit
  that the node's constraints keep on one side is fixed by a split whose other child is
  pruned by Farkas;
* pruning: a node whose decided constraints ``G x <= h`` (linear while the decided
  layers are affine in ``x``) admit no point of the ball is dropped only with a Farkas
  certificate ``y >= 0``, ``yᵀh + R |Gᵀy| < 0``, checked in arb (an LP — scipy's HiGHS —
  only proposes ``y``);
* the lower bound: an LP point strictly inside a leaf's region and the ball (the
  pattern there re-checked in arb), its ``||J||`` evaluated in mpmath.

The proof (``"method": "patterns"``) is the tree in preorder: ``[l, j]`` a split
(children side 0 then 1), ``"L"`` a leaf or open node with its claimed bound in
``uppers``, ``"X"`` a pruned node with its multipliers in ``farkas`` (``{"y", "cuts"}``: empty; ``{"gordan"}``:
a thin cone of a homogeneous network, :mod:`symlip.certify.relu_bounds`).  A node's bound is the least of its
own and its ancestors' (their regions hold it); replay derives an ancestor's only when a leaf
claims less than its own.
:func:`replay_patterns` re-derives every bound and certificate from the pattern alone.
"""
from __future__ import annotations

import heapq
import math
import time
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import numpy as np
import sympy as sp
from flint import arb, arb_mat

from symlip.activations.base import T
from symlip.certify.interval import ZERO, float_up, norm2_upper, sym_norm_upper, to_arb, workprec
from symlip.certify.relu_bounds import float_rows, gordan_certificate, gordan_ok, stabilise_units

if TYPE_CHECKING:  # pragma: no cover
    from symlip.models.network import MLP

__all__ = ["pl_slopes", "PatternProblem", "pattern_search", "replay_patterns", "INCUMBENT_SECONDS"]

#: at most this many seconds of the input search seed the pattern search's lower bound
INCUMBENT_SECONDS = 5.0
#: ... once the tree has taken this many nodes from its queue
INCUMBENT_AFTER = 64


def pl_slopes(act: Any) -> tuple[Fraction | None, Fraction, Fraction] | None:
    """``(κ, s_-, s_+)`` of a piecewise-linear σ with at most one kink (``κ`` None when
    σ is affine), exact rationals; None for any other σ."""
    expr = act.expr
    kinks = act.kinks
    if len(kinks) > 1:
        return None
    k = Fraction(kinks[0]) if kinks else None
    d1 = act.derivative(1)
    if sp.simplify(act.derivative(2)) != 0 and k is None:
        return None
    pts = [0] if k is None else [sp.Rational(k) - 1, sp.Rational(k) + 1]
    out = []
    for t in pts:
        v = sp.piecewise_fold(d1.subs(T, t))
        if not v.is_Rational:
            return None
        out.append(Fraction(int(v.p), int(v.q)))
    # σ must be linear on each piece: σ(κ ± 2) matches the slope from σ(κ ± 1)
    base = sp.Rational(k) if k is not None else sp.Integer(0)
    for sgn, s in ((-1, out[0]), (1, out[-1])):
        for dt in (1, 2, 5):
            v = sp.nsimplify(sp.piecewise_fold(expr.subs(T, base + sgn * dt) - expr.subs(T, base)))
            if not (v.is_Rational and Fraction(int(v.p), int(v.q)) == s * sgn * dt):
                return None
    if k is None:
        return None, out[0], out[0]
    return k, out[0], out[1]


def _q(v: Fraction) -> arb:
    return arb(v.numerator) / v.denominator


class PatternProblem:
    """A fixed piecewise-linear network on the ball ``|x| <= R``: node bounds by pattern."""

    def __init__(self, net: "MLP", theta: np.ndarray, R: float) -> None:
        pl = pl_slopes(net.activation)
        if pl is None:
            raise ValueError(f"activation {net.activation.name!r} is not piecewise linear with at most one kink")
        self.net, self.R = net, float(R)
        self.theta = np.asarray(theta, float)
        self.kink, sm, sp_ = pl
        self.s = (sm, sp_)
        self.layers = net.unflatten(self.theta)
        with workprec():
            self.Wa = [arb_mat([[to_arb(v) for v in row] for row in W]) for W, _ in self.layers]
            self.ba = [[to_arb(v) for v in b] for _, b in self.layers]
            self.sa = (_q(sm), _q(sp_))
            self.hulla = self.sa[0].union(self.sa[1])
            self.ka = ZERO if self.kink is None else _q(self.kink)
            # σ(t) = s t + c on each side: c = σ(κ) - s κ, with σ(κ) from the expression
            if self.kink is None:
                c0 = sp.piecewise_fold(net.activation.expr.subs(T, 0))
                self.ca = (_q(Fraction(str(sp.Rational(c0)))),) * 2
            else:
                sk = sp.Rational(sp.piecewise_fold(net.activation.expr.subs(T, sp.Rational(self.kink))))
                sk = Fraction(int(sk.p), int(sk.q))
                self.ca = tuple(_q(sk - s * self.kink) for s in self.s)
        self.hidden = list(net.widths[1:-1])
        self.Ra = to_arb(self.R)
        # every region a cone through 0 (Gordan certificates, :mod:`symlip.certify.relu_bounds`)
        self.homogeneous = (self.kink == 0 and all(c == 0 for c in self.ca)
                            and all(not np.any(b) for _, b in self.layers[:-1]))

    def root(self) -> list[np.ndarray]:
        return [np.full(w, -1, dtype=np.int8) for w in self.hidden]

    # -- node analysis ----------------------------------------------------
    def analyse(self, dec: list[np.ndarray]) -> dict[str, Any]:
        """Enclosures, fixed sides (decided or stable), linear constraints and the bound."""
        with workprec():
            affine = True
            box = None  # interval values of the current layer's outputs when not affine
            sides: list[np.ndarray] = []
            G: list[list[arb]] = []
            h: list[arb] = []
            lin_ok = True   # the decided constraints so far are all linear in x
            empty = False
            rows_of: list[tuple[int, int]] = []   # (layer, unit) of each row of G
            for li, nl in enumerate(self.hidden):
                W, b = self.Wa[li], self.ba[li]
                if affine:
                    Al, cb, lo_hi = self.affine_layer(li, sides)
                else:
                    zl = [sum((W[j, k] * box[k] for k in range(W.ncols())), ZERO) + b[j] for j in range(nl)]
                    lo_hi = [(z, z.lower(), z.upper()) for z in zl]
                side = np.array(dec[li], dtype=np.int8)
                vals = []
                for j in range(nl):
                    _, lo, hi = lo_hi[j]
                    if side[j] == 1:
                        lo = lo if lo > self.ka else self.ka
                    elif side[j] == 0:
                        hi = hi if hi < self.ka else self.ka
                    if self.kink is None:
                        side[j] = 1
                    elif side[j] == -1:
                        if lo >= self.ka:
                            side[j] = 1
                        elif hi <= self.ka:
                            side[j] = 0
                    if not (lo <= hi) and lo > hi:
                        empty = True
                    vals.append((lo, hi))
                    if dec[li][j] >= 0 and not affine:
                        lin_ok = False
                    if dec[li][j] >= 0 and affine:
                        g, hh = self.constraint_row(li, sides, j, int(dec[li][j]))
                        G.append(g)
                        h.append(hh)
                        rows_of.append((li, j))
                sides.append(side)
                if not (affine and np.all(side >= 0)):
                    affine = False
                    box = []
                    for j in range(nl):
                        lo, hi = vals[j]
                        lo, hi = (lo, hi) if lo <= hi else (hi, lo)
                        sl = self.sa[int(side[j])] if side[j] >= 0 else None
                        if sl is not None:
                            cc = self.ca[int(side[j])]
                            box.append((sl * lo + cc).union(sl * hi + cc))
                        else:
                            # σ on [lo, hi] crossing κ: between its values at the ends and at κ
                            vk = self.sa[1] * self.ka + self.ca[1]
                            v1 = self.sa[0] * lo + self.ca[0]
                            v2 = self.sa[1] * hi + self.ca[1]
                            box.append(v1.union(v2).union(vk))
            bound = self._jac_bound(sides)
        return {"sides": sides, "G": G, "h": h, "lin": lin_ok, "bound": bound, "empty": empty, "rows": rows_of}

    def constraint_row(self, li: int, sides: list[np.ndarray], j: int, side: int) -> tuple[list[arb], arb]:
        """The row ``(g, η)`` of ``g x <= η`` saying that unit ``j`` of layer ``li`` (pre-activation
        ``Al[j] x + cb[j]``, :meth:`affine_layer`) is on ``side`` (0: ``a <= κ``; 1: ``κ <= a``)."""
        Al, cb, _, rows = self.affine_layer(li, sides, full=True)
        if (j, side) not in rows:
            with workprec():
                sg = 1 if side == 0 else -1
                rows[j, side] = ([sg * Al[j, k] for k in range(Al.ncols())], sg * (self.ka - cb[j]))
        return rows[j, side]

    def affine_layer(self, li: int, sides: list[np.ndarray], full: bool = False) -> tuple:
        """Layer ``li``'s pre-activations ``a = Al x + cb`` (arb) when the sides of the layers
        before it (``sides[:li]``) are all fixed, and ``(cb_j, lo_j, hi_j)``: the exact range
        over the ball, outward rounded (``full``: also the cache of constraint rows).  Cached by
        the earlier sides."""
        key = (li, b"".join(sd.tobytes() for sd in sides[:li]))
        cache = self.__dict__.setdefault("_affine", {})
        if key not in cache:
            with workprec():
                if li == 0:
                    Al, cb = self.Wa[0], list(self.ba[0])
                else:
                    Ap, cp, _, _ = self.affine_layer(li - 1, sides, full=True)
                    side = sides[li - 1]
                    D = [self.sa[int(t)] for t in side]
                    C = [self.ca[int(t)] for t in side]
                    A = arb_mat([[D[j] * Ap[j, k] for k in range(Ap.ncols())] for j in range(Ap.nrows())])
                    c = arb_mat([[D[j] * cp[j] + C[j]] for j in range(Ap.nrows())])
                    Al = self.Wa[li] * A
                    cl = self.Wa[li] * c
                    cb = [cl[j, 0] + self.ba[li][j] for j in range(Al.nrows())]
                lo_hi = []
                for j in range(Al.nrows()):
                    nrm = _row_norm_up(Al, j)
                    lo_hi.append((cb[j], cb[j] - self.Ra * nrm, cb[j] + self.Ra * nrm))
            if len(cache) > 4096:
                cache.clear()
            cache[key] = (Al, cb, lo_hi, {})
        return cache[key] if full else cache[key][:3]

    def _gram(self, sides: list[np.ndarray]) -> tuple[arb_mat, arb_mat]:
        """``G_jk = v_j·v_k``, ``v_j = w_out_j ∂a_L[j]/∂x`` for the last hidden layer ``L`` (scalar
        output, every earlier unit fixed: ``∂a_L/∂x`` is one matrix) and ``|G|`` (upper ends)."""
        key = b"".join(sd.tobytes() for sd in sides[:-1])
        cache = self.__dict__.setdefault("_grams", {})
        if key not in cache:
            P = self.Wa[0]
            for li, side in enumerate(sides[:-1]):
                P = self.Wa[li + 1] * arb_mat([[self.sa[int(side[j])] * P[j, k] for k in range(P.ncols())]
                                               for j in range(P.nrows())])
            w = self.Wa[-1]
            V = arb_mat([[w[0, j] * P[j, k] for k in range(P.ncols())] for j in range(P.nrows())])
            G = V * V.transpose()
            if len(cache) > 4096:
                cache.clear()
            n = G.nrows()
            aG = arb_mat([[G[i, j].abs_upper() for j in range(n)] for i in range(n)])
            # max(0, G_ij) rounded up, zero diagonal (float: only summed with an error allowance)
            pos = np.array([[0.0 if i == j or not G[i, j].upper() > 0 else float_up(G[i, j].upper())
                             for j in range(n)] for i in range(n)])
            cache[key] = (G, aG, pos)
        return cache[key]

    def _last_gram(self, sides: list[np.ndarray]) -> tuple[arb_mat, np.ndarray, np.ndarray]:
        """``K = P Pᵀ`` with ``P = ∂a_L/∂x`` (every unit before the last hidden layer ``L``
        fixed), ``|K|`` rounded up (floats) and ``|WᵀW|`` rounded up for the output weights."""
        key = b"".join(sd.tobytes() for sd in sides[:-1])
        cache = self.__dict__.setdefault("_kgrams", {})
        if key not in cache:
            with workprec():
                P = self.Wa[0]
                for li, side in enumerate(sides[:-1]):
                    P = self.Wa[li + 1] * arb_mat([[self.sa[int(side[j])] * P[j, k] for k in range(P.ncols())]
                                                   for j in range(P.nrows())])
                K = P * P.transpose()
                W = self.Wa[-1]
                Q = W.transpose() * W
                n = K.nrows()
                absk = np.array([[float_up(K[i, j].abs_upper()) for j in range(n)] for i in range(n)])
                absq = np.array([[float_up(Q[i, j].abs_upper()) for j in range(n)] for i in range(n)])
            if len(cache) > 1024:
                cache.clear()
            cache[key] = (K, absk, absq)
        return cache[key]

    def _split_bound(self, sides: list[np.ndarray]) -> arb:
        """Undecided slopes ``m_j + δ_j`` (``m`` the midpoint, ``|δ_j| <= e/2``): ``J = W D_m P +
        W_U Δ P_U``, so ``||J|| <= sqrt(||W D_m K D_m Wᵀ||) + e/2 ||W_U|| ||P_U||``, the last two
        norms by Gershgorin on ``|W_UᵀW_U|`` (or Frobenius) and ``|K_UU|`` (docs/theory.md §2 (R4))."""
        K, absk, absq = self._last_gram(sides)
        last = sides[-1]
        und = np.flatnonzero(last < 0)
        mid = (self.sa[1] + self.sa[0]) / 2
        W = self.Wa[-1]
        C = arb_mat([[W[i, j] * (self.sa[int(t)] if t >= 0 else mid) for j, t in enumerate(last)]
                     for i in range(W.nrows())])
        S = C * K * C.transpose()
        n = S.nrows()
        cen = sym_norm_upper(np.array([[S[i, j] for j in range(n)] for i in range(n)], dtype=object))
        b = cen.sqrt().upper() if cen > 0 else ZERO
        if len(und):
            allow = 1 + arb(2) ** -52 * (len(und) + 2)
            kb = to_arb(float(absk[np.ix_(und, und)].sum(axis=1).max())) * allow
            qu = absq[np.ix_(und, und)]
            qb = to_arb(float(min(qu.sum(axis=1).max(), np.trace(qu)))) * allow
            if W.nrows() > 1:   # vector output: verified eigenvalue bounds (cheaper ones are too loose)
                Wu = arb_mat([[W[i, int(j)] for j in und] for i in range(W.nrows())])
                Wg = Wu * Wu.transpose()
                m = Wg.nrows()
                qe = sym_norm_upper(np.array([[Wg[i, j] for j in range(m)] for i in range(m)], dtype=object))
                ke = sym_norm_upper(np.array([[K[int(i), int(j)] for j in und] for i in und], dtype=object))
                kb, qb = min(kb, ke, key=lambda v: v.upper()), min(qb, qe, key=lambda v: v.upper())
            half = abs(self.sa[1] - self.sa[0]) / 2
            b = b + half * (kb * qb).sqrt()
        return b.upper()

    def _jac_bound(self, sides: list[np.ndarray]) -> arb:
        if sides and all(np.all(sd >= 0) for sd in sides[:-1]):
            b = self._split_bound(sides)   # on a leaf: ||W D K D Wᵀ||^(1/2), the exact norm enclosed
        else:
            b = self._jac_bound_product(sides)
        if self.net.d_out == 1 and np.any(sides[-1] < 0) and all(np.all(sd >= 0) for sd in sides[:-1]):
            # J = Σ_j (m_j + δ_j) v_j, |δ_j| <= r_j: |J|² <= mᵀGm + 2 Σ r_j |(Gm)_j| + rᵀ|G|r
            G, aG, pos = self._gram(sides)
            b = min(b, self._roof_bound(sides, G, pos), key=lambda v: v.upper())
            half = (self.sa[1] - self.sa[0]) / 2
            mid = (self.sa[1] + self.sa[0]) / 2
            m = arb_mat([[self.sa[int(t)] if t >= 0 else mid] for t in sides[-1]])
            r = arb_mat([[ZERO if t >= 0 else half.abs_upper()] for t in sides[-1]])
            Gm = G * m
            q = (m.transpose() * Gm)[0, 0] + (r.transpose() * (aG * r))[0, 0]
            q = q + 2 * sum((r[j, 0] * Gm[j, 0].abs_upper() for j in range(Gm.nrows())), ZERO)
            q2 = q.upper()
            b2 = (q2 if q2 > 0 else ZERO).sqrt().upper()
            if b2 < b:
                return b2
        return b

    def _roof_bound(self, sides: list[np.ndarray], G: arb_mat, pos: np.ndarray) -> arb:
        """The undecided slopes as ``s_- + (s_+ - s_-) t_j``, ``t ∈ [0, 1]^U``: ``|J|²`` is convex in
        ``t``, at most ``|d|² + Σ_U max(0, 2 e (Gd)_j + e² G_jj + e² Σ_{i ∈ U, i ≠ j} max(0, G_ij))``
        (``t_i t_j G_ij <= t_j max(0, G_ij)``; ``d``: every undecided slope at ``s_-``, ``e = s_+ - s_-``)."""
        last = sides[-1]
        und = np.flatnonzero(last < 0)
        m0 = arb_mat([[self.sa[int(t)] if t >= 0 else self.sa[0]] for t in last])
        Gm = G * m0
        q = (m0.transpose() * Gm)[0, 0]
        e = self.sa[1] - self.sa[0]
        P = pos[np.ix_(und, und)].sum(axis=1)
        n = len(und)
        for k, j in enumerate(und):
            # a float sum of n nonnegative floats: at most (1 + n 2^-52) times the computed value
            pj = to_arb(float(P[k])) * (1 + arb(2) ** -52 * (n + 1))
            t = 2 * e * Gm[int(j), 0] + e * e * (G[int(j), int(j)] + pj)
            if not t.upper() <= 0:
                q = q + arb(t.upper())
        q2 = q.upper()
        return (q2 if q2 > 0 else ZERO).sqrt().upper()

    def _jac_bound_product(self, sides: list[np.ndarray]) -> arb:
        J = self.Wa[0]
        for li, side in enumerate(sides):
            d = [self.sa[int(t)] if t >= 0 else self.hulla for t in side]
            J = arb_mat([[d[j] * J[j, k] for k in range(J.ncols())] for j in range(J.nrows())])
            J = self.Wa[li + 1] * J
        if J.nrows() < J.ncols():   # ||J|| = ||Jᵀ||: the tall side keeps the Gram matrices small
            J = J.transpose()
        rows = [[J[i, k] for k in range(J.ncols())] for i in range(J.nrows())]
        return norm2_upper(np.array(rows, dtype=object))

    def farkas_ok(self, G: list[list[arb]], h: list[arb], y: list[float]) -> bool:
        """Whether ``y >= 0`` proves ``{G x <= h, |x| <= R}`` empty: ``yᵀh + R |Gᵀy| < 0`` in arb."""
        if len(y) != len(G) or any(not (math.isfinite(t) and t >= 0) for t in y):
            return False
        with workprec():
            ya = [to_arb(t) for t in y]
            s = sum((yi * hi for yi, hi in zip(ya, h)), ZERO)
            d0 = self.net.d_in
            g2 = ZERO
            for k in range(d0):
                gk = sum((yi * row[k] for yi, row in zip(ya, G)), ZERO)
                m = gk.abs_upper()
                g2 = g2 + m * m
            return bool(s + self.Ra * g2.sqrt() < 0)

    # -- LP heuristics (never trusted) ----------------------------------------
    def lp(self, G: list[list[arb]], h: list[arb], point: bool = True) -> tuple:
        """("point", x) strictly inside ``G x <= h`` and the ball, ("farkas", y, cuts) a
        proposed certificate of emptiness, or ("?", None) (``point=False``: only look for
        a certificate; "?" then means none was found)."""
        from scipy.optimize import linprog

        d0 = self.net.d_in
        if not G:
            return "point", np.zeros(d0)
        Gf, hf = float_rows(G, h, d0)
        m, R = len(hf), self.R
        # phase 1 on the box |x_k| <= R (it holds the ball): min Σ s, G x - s <= h, s >= 0
        r1 = linprog(np.r_[np.zeros(d0), np.ones(m)], A_ub=np.hstack([Gf, -np.eye(m)]), b_ub=hf,
                     bounds=[(-R, R)] * d0 + [(0, None)] * m, method="highs")
        if r1.status == 0 and r1.fun > 0:
            y = np.maximum(-np.asarray(r1.ineqlin.marginals), 0.0)
            return "farkas", [float(v) for v in y], []
        if not point or r1.status != 0:
            return "?", None
        nrm = np.linalg.norm(Gf, axis=1)
        cuts: list[np.ndarray] = []
        for it in range(10):
            Gc = np.vstack([Gf] + cuts) if cuts else Gf
            hc = np.concatenate([hf, np.full(len(cuts), R)])
            nc = np.concatenate([nrm, np.zeros(len(cuts))])
            # max t: G x + t |G_i| <= h, tangent cuts of the ball, |x_k| <= R, t <= R
            res = linprog(np.r_[np.zeros(d0), -1.0], A_ub=np.hstack([Gc, nc[:, None]]), b_ub=hc,
                          bounds=[(-R, R)] * d0 + [(None, R)], method="highs")
            if res.status != 0 or res.x[d0] <= 0:
                break
            x = res.x[:d0]
            nx = np.linalg.norm(x)
            if nx <= R * (1 - 1e-12):
                return "point", x
            cuts.append(x / nx)
        # the Chebyshev problem in the ball itself (SLSQP): max t, G x + t |G_i| <= h, |x|^2 <= R^2
        from scipy.optimize import minimize

        x0 = np.zeros(d0 + 1)
        cons = [{"type": "ineq", "fun": lambda z: hf - Gf @ z[:d0] - z[d0] * nrm, "jac": lambda z: -np.hstack([Gf, nrm[:, None]])},
                {"type": "ineq", "fun": lambda z: R * R - z[:d0] @ z[:d0], "jac": lambda z: np.r_[-2 * z[:d0], 0.0]}]
        res = minimize(lambda z: -z[d0], x0, jac=lambda z: np.r_[np.zeros(d0), -1.0], constraints=cons,
                       method="SLSQP", options={"maxiter": 200})
        x, t = res.x[:d0], res.x[d0]
        x = x * min(1.0, R * (1 - 1e-9) / max(np.linalg.norm(x), 1e-300))
        if t > 0 and np.all(Gf @ x < hf) and np.linalg.norm(x) < R:
            return "point", x
        # phase 1 with tangent cuts of the ball (at the closest points found) for a certificate
        if np.linalg.norm(res.x[:d0]) > 0:
            cuts.append(res.x[:d0] / np.linalg.norm(res.x[:d0]))
        for it in range(12):
            k = len(cuts)
            Gc = np.vstack([Gf] + cuts) if cuts else Gf
            hc = np.concatenate([hf, np.full(k, R)])
            A1 = np.hstack([Gc, -np.vstack([np.eye(m), np.zeros((k, m))])])
            r2 = linprog(np.r_[np.zeros(d0), np.ones(m)], A_ub=A1, b_ub=hc,
                         bounds=[(-R, R)] * d0 + [(0, None)] * m, method="highs")
            if r2.status != 0:
                break
            if r2.fun > 0:
                y = np.maximum(-np.asarray(r2.ineqlin.marginals), 0.0)
                return "farkas", [float(v) for v in y[:m]], [(c, float(v)) for c, v in zip(cuts, y[m:])]
            xs = r2.x[:d0]
            if np.linalg.norm(xs) <= R:
                break
            cuts.append(xs / np.linalg.norm(xs))
        # inside the l1 ball of radius R (inside the Euclidean ball): x = p - q
        n = len(hf)
        A = np.hstack([Gf, -Gf, nrm[:, None]])
        A = np.vstack([A, np.r_[np.ones(2 * d0), 0.0][None, :]])
        res = linprog(np.r_[np.zeros(2 * d0), -1.0], A_ub=A, b_ub=np.r_[hf, R * (1 - 1e-9)],
                      bounds=[(0, None)] * (2 * d0) + [(None, R)], method="highs")
        if res.status == 0 and res.x[-1] > 0 and n:
            return "point", res.x[:d0] - res.x[d0:2 * d0]
        return "?", None

    def pattern_at(self, x: np.ndarray) -> list[np.ndarray] | None:
        """σ's sides at x, decided strictly in arb (None when a pre-activation may be at κ)."""
        with workprec():
            z = [to_arb(float(v)) for v in x]
            out = []
            for li, nl in enumerate(self.hidden):
                W, b = self.Wa[li], self.ba[li]
                side = np.zeros(nl, dtype=np.int8)
                nz = []
                for j in range(nl):
                    a = sum((W[j, k] * z[k] for k in range(len(z))), ZERO) + b[j]
                    if self.kink is None or a > self.ka:
                        side[j] = 1
                    elif a < self.ka:
                        side[j] = 0
                    else:
                        return None
                    nz.append(self.sa[int(side[j])] * a + self.ca[int(side[j])])
                out.append(side)
                z = nz
        return out


def _row_norm_up(A: arb_mat, j: int) -> arb:
    s = ZERO
    for k in range(A.ncols()):
        m = A[j, k].abs_upper()
        s = s + m * m
    return s.sqrt().upper()


def _farkas_with_cuts(pp: PatternProblem, G: list, h: list, y: list[float], cuts: list) -> bool:
    """A certificate found with tangent cuts of the ball: cut rows ``uᵀx <= R`` hold on the
    whole ball, so they join ``G`` (checked as rows with ``h = R``)."""
    G2 = list(G) + [[to_arb(float(v)) for v in u] for u, _ in cuts]
    with workprec():
        h2 = list(h) + [pp.Ra * _row_norm_up(arb_mat([[to_arb(float(v)) for v in u]]), 0) for u, _ in cuts]
    return pp.farkas_ok(G2, h2, list(y) + [w for _, w in cuts])


def _influence(pp: PatternProblem, sides: list[np.ndarray], li: int) -> np.ndarray:
    """Heuristic score of splitting each undecided unit of layer ``li`` (float mids)."""
    sm, sp_ = float(pp.s[0]), float(pp.s[1])
    mids = [np.where(s >= 0, np.where(s == 1, sp_, sm), (sm + sp_) / 2) for s in sides]
    U = pp.layers[0][0]
    for l in range(li):
        U = pp.layers[l + 1][0] @ (mids[l][:, None] * U)
    V = pp.layers[-1][0]
    for l in range(len(sides) - 1, li, -1):
        V = (V * mids[l][None, :]) @ pp.layers[l][0]
    return (abs(sp_ - sm)) * np.linalg.norm(V, axis=0) * np.linalg.norm(U, axis=1)


def _next_split(pp: PatternProblem, sides: list[np.ndarray]) -> tuple[int, int] | None:
    for li, s in enumerate(sides):
        und = np.flatnonzero(s < 0)
        if len(und):
            sc = _influence(pp, sides, li)
            return li, int(und[np.argmax(sc[und])])
    return None


def _incumbent(pp: PatternProblem, budget: float, seed: int) -> tuple[float, dict[str, Any] | None]:
    """A first lower bound from the input search (:func:`symlip.search.audit.input_lipschitz_lower_bound`,
    ``budget`` seconds): the best point found, kept only when its pattern is strict in arb
    (it then lies inside its region, and ``||J||`` there bounds the constant from below)."""
    from symlip.search.audit import input_lipschitz_lower_bound

    try:
        s = input_lipschitz_lower_bound(pp.net, pp.theta, R=pp.R, budget=budget, seed=seed)
    except ValueError:
        return -math.inf, None
    best_val, best = -math.inf, None
    for x in ((np.asarray(s.x) + np.asarray(s.x2)) / 2, np.asarray(s.x)):
        if not np.linalg.norm(x) < pp.R or pp.pattern_at(x) is None:
            continue
        _, sv, vt = np.linalg.svd(np.atleast_2d(pp.net.jac_x(pp.theta, x)))
        if sv[0] > best_val:
            best_val, best = float(sv[0]), {"x": x.tolist(), "v": vt[0].tolist()}
    return best_val, best


def pattern_search(net: "MLP", theta: Any, R: float, *, budget: float = 60.0, tol: float = 1e-9,
                   max_nodes: int | None = None, seed: int = 0, stabilise: bool | None = None) -> dict[str, Any]:
    """Best-first branch and bound over activation patterns (module docstring).

    Once :data:`INCUMBENT_AFTER` nodes were taken, a tenth of the budget (at most
    :data:`INCUMBENT_SECONDS`) goes to the input search for a better lower bound; a node's emptiness is checked (Farkas) when it is taken
    from the queue, not when it is made (on a homogeneous network also thinness, by Gordan).
    ``stabilise``: fix the undecided units of the split layer that the node's constraints
    exclude from one side (:func:`~symlip.certify.relu_bounds.stabilise_units`) — True on every
    layer, None (default) from the second hidden layer on (on the first, whose regions are
    nearly central cones in the benchmarks, it costs more than it prunes), False never.

    Returns a dict with ``upper`` (float, certified), ``witness`` (``x``, ``v``: a point
    strictly inside a leaf region and the top right singular vector of its Jacobian;
    None when no leaf point was found), ``lower_est`` (its float norm), ``nodes``,
    ``stop`` and ``proof`` (the tree, module docstring).
    """
    pp = PatternProblem(net, theta, R)
    t0 = time.monotonic()
    root = pp.root()
    info = pp.analyse(root)
    # tree nodes: id -> record; preorder encoded at the end
    nodes: dict[int, dict[str, Any]] = {0: {"dec": root, "up": float_up(info["bound"]), "info": info}}
    heap = [(-nodes[0]["up"], 0)]
    nid = 1
    best_val, best = -math.inf, None
    seeded = max_nodes is not None   # the search is time-budgeted: not with a node budget (reproducible)
    stop = "budget"
    count = 0
    done: set[int] = set()   # popped by a dive (their heap entries are stale)
    dive: int | None = None  # depth-first until the first confirmed leaf (an early incumbent)
    while heap:
        while heap and heap[0][1] in done:
            done.discard(heapq.heappop(heap)[1])
        if not heap:
            break
        negup, i = heap[0]
        if nodes[i].get("stuck") and dive is None:
            stop = "unconfirmed leaf"   # the top bound is a leaf with no point found nor emptiness proved
            break
        if -negup <= best_val * (1 + tol) and best is not None:
            stop = "tol"
            break
        if time.monotonic() - t0 > budget or (max_nodes is not None and count >= max_nodes):
            stop = "budget"
            break
        if dive is not None:
            i, negup = dive, -nodes[dive]["up"]
            done.add(i)
            dive = None
        else:
            heapq.heappop(heap)
        node = nodes[i]
        count += 1
        if count == INCUMBENT_AFTER and not seeded:   # not a small tree: seed the lower bound
            seeded = True
            val, wit = _incumbent(pp, min(0.1 * budget, INCUMBENT_SECONDS), seed)
            if val > best_val:
                best_val, best = val, wit
        sides = node["info"]["sides"]
        split = _next_split(pp, sides)
        if split is None:   # a leaf: exact Jacobian; find a point for the lower bound
            node["leaf"] = True
            if not node.get("stuck") and node["info"]["lin"]:
                r = pp.lp(node["info"]["G"], node["info"]["h"])
                if r[0] == "point":
                    pat = pp.pattern_at(r[1])
                    if pat is not None and all(np.array_equal(a, b) for a, b in zip(pat, sides)):
                        J = np.atleast_2d(net.jac_x(pp.theta, r[1]))
                        _, sv, vt = np.linalg.svd(J)
                        if sv[0] > best_val:
                            best_val, best = float(sv[0]), {"x": r[1].tolist(), "v": vt[0].tolist()}
                        continue
                elif r[0] == "farkas" and _farkas_with_cuts(pp, node["info"]["G"], node["info"]["h"], r[1], r[2]):
                    node["farkas"] = _pack_farkas(r)
                    continue
            if pp.homogeneous and not node.get("stuck"):
                cert = gordan_certificate(pp, node["info"], node["dec"])
                if cert is not None and gordan_ok(pp, node["info"], node["dec"], cert):
                    node["farkas"] = {"gordan": cert}
                    continue
            done.discard(i)
            node["stuck"] = True
            heapq.heappush(heap, (negup, i))   # an unconfirmed leaf stays open with its bound
            continue
        inf = node["info"]
        if i and inf["lin"] and len(inf["G"]) and not node.get("stab"):   # empty? (checked once taken)
            r = pp.lp(inf["G"], inf["h"], point=False)
            if r[0] == "farkas" and _farkas_with_cuts(pp, inf["G"], inf["h"], r[1], r[2]):
                node["farkas"] = _pack_farkas(r)
                continue
            cert = gordan_certificate(pp, inf, node["dec"]) if pp.homogeneous else None
            if cert is not None and gordan_ok(pp, inf, node["dec"], cert):
                node["farkas"] = {"gordan": cert}
                continue
        fixes = ([] if node.get("stab") or stabilise is False else
                 stabilise_units(pp, inf, node["dec"], min_layer=0 if stabilise else 1))
        if fixes:   # a chain of splits whose other side is proved empty, then the node re-queued
            cur, dec, fixed = node, [d.copy() for d in node["dec"]], []
            for li, j, side, cert in fixes:
                rows = sorted(inf["rows"] + fixed + [(li, j)])
                yv = dict(zip(inf["rows"], cert["y"]))
                yv[(li, j)] = 1.0
                xdec = [d.copy() for d in dec]
                xdec[li][j] = 1 - side
                dec[li][j] = side
                fixed.append((li, j))
                nodes[nid] = {"dec": xdec, "farkas": {"y": [yv.get(rw, 0.0) for rw in rows], "cuts": []}}
                nodes[nid + 1] = {"dec": [d.copy() for d in dec]}
                cur["split"], cur["kids"] = (li, j), ([nid + 1, nid] if side == 0 else [nid, nid + 1])
                cur = nodes[nid + 1]
                nid += 2
            cur["info"] = pp.analyse(cur["dec"])
            cur["up"] = min(float_up(cur["info"]["bound"]), node["up"])
            cur["stab"] = True
            heapq.heappush(heap, (-cur["up"], nid - 1))
            if best is None:
                dive = nid - 1
            continue
        li, j = split
        kids = []
        for side in (0, 1):
            dec = [d.copy() for d in node["dec"]]
            dec[li][j] = side
            inf = pp.analyse(dec)
            kid = {"dec": dec, "info": inf, "up": min(float_up(inf["bound"]), node["up"])}   # ⊂ the parent
            nodes[nid] = kid
            kids.append(nid)
            heapq.heappush(heap, (-kid["up"], nid))
            nid += 1
        node["split"] = (li, j)
        node["kids"] = kids
        open_kids = [k for k in kids if "farkas" not in nodes[k]]
        if best is None and open_kids:
            dive = max(open_kids, key=lambda k: nodes[k]["up"])
    proof = _encode(nodes)
    closed = [n["up"] for n in nodes.values() if "kids" not in n and "farkas" not in n]
    upper = max(closed) if closed else 0.0
    return {"upper": upper, "witness": best, "lower_est": best_val, "nodes": count, "stop": stop,
            "proof": proof, "seconds": time.monotonic() - t0}


def _pack_farkas(r: tuple) -> dict[str, Any]:
    return {"y": r[1], "cuts": [[list(map(float, u)), w] for u, w in r[2]]}


def _encode(nodes: dict[int, dict[str, Any]]) -> dict[str, Any]:
    tree: list[Any] = []
    uppers: list[float] = []
    farkas: list[Any] = []
    stack = [0]
    while stack:
        n = nodes[stack.pop()]
        if "kids" in n:
            tree.append(list(n["split"]))
            stack.extend(reversed(n["kids"]))
        elif "farkas" in n:
            tree.append("X")
            farkas.append(n["farkas"])
        else:
            tree.append("L")
            uppers.append(n["up"])
    return {"method": "patterns", "tree": tree, "uppers": uppers, "farkas": farkas}


def replay_patterns(net: "MLP", theta: Any, R: float, proof: Any, upper: float,
                    max_nodes: int = 2_000_000) -> tuple[str, str]:
    """Re-check a pattern tree: ``("certified", message)``, ``("tampered", why)`` or
    ``("invalid", why)``.  Every leaf's bound is re-derived from its pattern, every pruned
    node's Farkas certificate re-checked, and the preorder must cover the tree exactly."""
    if not isinstance(proof, dict):
        return "invalid", "the field 'proof' must be an object"
    tree, uppers, farkas = proof.get("tree"), proof.get("uppers"), proof.get("farkas")
    if not (isinstance(tree, list) and isinstance(uppers, list) and isinstance(farkas, list)):
        return "invalid", "proof.tree, proof.uppers and proof.farkas must be lists"
    if len(tree) > max_nodes:
        return "invalid", f"the tree has more than {max_nodes} nodes"
    try:
        pp = PatternProblem(net, theta, R)
    except ValueError as exc:
        return "invalid", str(exc)
    stack: list[tuple[list[np.ndarray], int]] = [(pp.root(), -1)]
    anc: list[list[Any]] = []   # split nodes: [pattern, its bound (derived when a leaf needs it), parent]
    ti = ui = fi = 0
    worst = -math.inf
    while stack:
        if ti >= len(tree):
            return "invalid", "the tree ends before every pattern is covered (a node is missing)"
        dec, parent = stack.pop()
        t = tree[ti]
        ti += 1
        if isinstance(t, list):
            if (len(t) != 2 or any(isinstance(v, bool) or not isinstance(v, int) for v in t)
                    or not 0 <= t[0] < len(dec) or not 0 <= t[1] < len(dec[t[0]]) or dec[t[0]][t[1]] != -1):
                return "invalid", f"split {ti - 1} = {t!r} does not name an undecided unit"
            anc.append([dec, None, parent])
            for side in (1, 0):
                d = [x.copy() for x in dec]
                d[t[0]][t[1]] = side
                stack.append((d, len(anc) - 1))
        elif t == "L":
            if ui >= len(uppers) or isinstance(uppers[ui], bool) or not isinstance(uppers[ui], (int, float)):
                return "invalid", "fewer numeric leaf bounds than leaves"
            claimed = float(uppers[ui])
            ui += 1
            b = pp.analyse(dec)["bound"]
            a = parent
            while not b.upper() <= arb(claimed) and a >= 0:   # an enclosing node's bound holds here too
                if anc[a][1] is None:
                    anc[a][1] = pp.analyse(anc[a][0])["bound"]
                b, a = anc[a][1], anc[a][2]
            if not b.upper() <= arb(claimed):
                return "tampered", f"leaf {ui - 1} encloses up to {b.upper()} but claims {claimed!r}"
            worst = max(worst, claimed)
        elif t == "X":
            if fi >= len(farkas) or not isinstance(farkas[fi], dict):
                return "invalid", "fewer Farkas certificates than pruned nodes"
            f = farkas[fi]
            fi += 1
            info = pp.analyse(dec)
            if "gordan" in f:
                if not gordan_ok(pp, info, dec, f["gordan"]):
                    return "tampered", f"pruned node {fi - 1} is not proved thin by its Gordan certificate"
                continue
            try:
                y = [float(v) for v in f.get("y", [])]
                cuts = [(np.asarray(u, float), float(w)) for u, w in f.get("cuts", [])]
                if any(u.shape != (pp.net.d_in,) for u, _ in cuts):
                    raise ValueError("a cut has the wrong length")
            except (TypeError, ValueError) as exc:
                return "invalid", f"Farkas certificate {fi - 1} is malformed: {exc}"
            if not info["lin"] or not _farkas_with_cuts(pp, info["G"], info["h"], y, cuts):
                return "tampered", f"pruned node {fi - 1} is not proved empty by its Farkas certificate"
        else:
            return "invalid", f"unknown tree code {t!r}"
    if ti != len(tree) or ui != len(uppers) or fi != len(farkas):
        return "invalid", "the tree has entries beyond the patterns it covers"
    if worst > upper:
        return "tampered", f"a leaf claims {worst!r} > the recorded upper {upper!r}"
    return "certified", f"{len(uppers)} pattern nodes re-derived, {len(farkas)} pruned by Farkas; lip_input <= {upper!r}"
