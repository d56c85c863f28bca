"""Branch and bound over boxes of (θ, x) for a certified upper bound (docs/theory.md §2 (R4)).

The root box (:meth:`Problem.root`) covers the domain; a priority queue holds the
leaves by their upper enclosure.  The worst leaf is split in two at the midpoint of
its contracted extent along the variable that scores highest (the mean-value
form's ``|G_k| h_k`` where available, else the relative width); a child that lies
certainly outside the domain is kept as an *outside* leaf.  The incumbent lower
bound is the local quantity at the leaves' centres pulled into the domain, rated
in float64 and, at the end, confirmed in mpmath by the network's independent
mpmath path (:func:`confirm_lower`).  The search stops as soon as the answer is
decided — ``upper <= (1 + tol) lower``, or the caller's :attr:`Search.decide` names
an outcome (a claim proved or violated) — or when the deadline passes (a box
enclosure running at the deadline is interrupted on the main thread and dropped:
its parent stays a leaf), or ``max_boxes`` boxes were enclosed.  The tree is the
same for a given problem whatever the timing (splits depend on enclosures only);
the clock only decides where it ends, and the incumbent search is seeded.

The proof is the tree of splits: :func:`encode_tree` writes it in preorder as
``tree`` (a split variable, ``-1`` for a leaf, ``-2`` for an outside leaf, ``-3`` for a root left
unenclosed at the deadline, bounded by the U cap alone, ``-4`` for a leaf bounded by the layer bound of
the whole domain, :func:`symlip.certify.bigball.layer_bound`), ``cuts``
(the split points) and ``uppers`` (each leaf's claimed enclosure, a float rounded up).
"""
from __future__ import annotations

import heapq
import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

import mpmath
import numpy as np

from symlip.activations.timelimit import call_with_time_limit
from symlip.certify.enclose import Problem
from symlip.certify.incumbent import ascend, continuation, starts
from symlip.certify.interval import float_up
from symlip.core.precision import norm_mp
from symlip.search.quantities import INSIDE

if TYPE_CHECKING:  # pragma: no cover
    pass

__all__ = ["Search", "Witnessed", "OutOfTime", "encode_tree", "local_value", "confirm_lower"]

_LEAF, _OUT, _CAPPED, _LAYER = -1, -2, -3, -4
_ALARM_GRACE = 0.25  # seconds the alarm of an enclosure waits after its cooperative deadline
PROGRESS_SECONDS = 5.0  # interval of the optional progress callback of Search.run
_ASCENT_EVALS = 20000  # points the initial ascent evaluates (100 per allowed box when max_boxes is set)


@dataclass
class Witnessed:
    """A domain point and the local quantity there (float64 rating; ``value_mp`` once confirmed)."""

    value: float
    theta: np.ndarray
    x: np.ndarray
    y: float | None = None
    v: np.ndarray | None = None
    value_mp: Any = None


@dataclass
class _Node:
    lo: np.ndarray
    hi: np.ndarray
    upper: float = math.inf
    cut: tuple[int, float] | None = None
    children: tuple[int, int] | None = None
    outside: bool = False
    scores: np.ndarray | None = field(default=None, repr=False)
    unenclosed: bool = False  # the root when its enclosure did not finish in time (its upper is the cap)
    layered: bool = False  # a leaf whose upper is the layer bound of the whole domain (Search.layer)


class OutOfTime(Exception):
    """A box enclosure was interrupted at the deadline."""


def local_value(prob: Problem, theta: np.ndarray, x: np.ndarray) -> Witnessed:
    """The local quantity at a domain point in float64 (with the direction it is attained along)."""
    net, q = prob.net, prob.quantity
    if q == "lip_f":
        return Witnessed(float(np.linalg.norm(net.grad(theta, x))), theta, x)
    if q == "lip_input":
        J = np.atleast_2d(net.jac_x(theta, x))
        _, s, vt = np.linalg.svd(J)
        return Witnessed(float(s[0]), theta, x, v=vt[0])
    P = net.n_params
    H = np.array([net.hvp(theta, x, e) for e in np.eye(P)])
    H = (H + H.T) / 2
    cands = []
    ys = [None] if q == "lip_grad" else ([-prob.Y, prob.Y] if prob.Y else [0.0])
    g = net.grad(theta, x) if q == "lip_loss_grad" else None
    for y in ys:
        M = H if y is None else np.outer(g, g) + (float(net.f(theta, x)) - y) * H
        w, V = np.linalg.eigh(M)
        k = int(np.argmax(np.abs(w)))
        cands.append(Witnessed(float(abs(w[k])), theta, x, y=y, v=V[:, k]))
    return max(cands, key=lambda c: c.value)


def confirm_lower(prob: Problem, w: Witnessed, dps: int = 50) -> mpmath.mpf:
    """The local quantity at the witness in mpmath (``|M v| / |v|``, a lower bound of ``||M||_2``)."""
    net, q, th, x = prob.net, prob.quantity, w.theta, w.x
    with mpmath.workdps(dps):
        if q == "lip_f":
            return +norm_mp(net.grad_mp(th, x, dps=dps))
        if q == "lip_input":
            J = np.atleast_2d(net.jac_x_mp(th, x, dps=dps))
            v = [mpmath.mpf(float(t)) for t in w.v]
            Jv = [mpmath.fsum(J[i, j] * v[j] for j in range(len(v))) for i in range(J.shape[0])]
            return norm_mp(np.array(Jv, dtype=object)) / norm_mp(np.array(v, dtype=object))
        v = np.array([float(t) for t in w.v])
        Hv = net.hvp_mp(th, x, v, dps=dps)
        if q == "lip_grad":
            out = Hv
        else:
            g = net.grad_mp(th, x, dps=dps)
            r = net.f_mp(th, x, dps=dps) - mpmath.mpf(w.y)
            gv = mpmath.fsum(gi * mpmath.mpf(vi) for gi, vi in zip(g, v))
            out = np.array([gv * gi + r * hi for gi, hi in zip(g, Hv)], dtype=object)
        return norm_mp(out) / norm_mp(np.array([mpmath.mpf(t) for t in v], dtype=object))


class Search:
    """One branch-and-bound run (see the module docstring).

    Parameters
    ----------
    prob : Problem
    budget : float
        Seconds from :meth:`run`'s start, unless ``deadline`` is given.
    tol : float
        Stop when ``upper <= (1 + tol) lower``.
    max_boxes : int or None
        At most this many box enclosures.
    seed : int
        Seed of the incumbent's random steps.
    deadline : float, optional
        An absolute :func:`time.monotonic` time at which to stop (overrides ``budget``).
    """

    def __init__(self, prob: Problem, *, budget: float, tol: float, max_boxes: int | None, seed: int,
                 deadline: float | None = None) -> None:
        self.prob, self.budget, self.tol, self.max_boxes = prob, budget, tol, max_boxes
        self.deadline = deadline
        self.rng = np.random.default_rng(seed)
        self.nodes: list[_Node] = []
        self.heap: list[tuple[float, int]] = []
        self.best: Witnessed | None = None
        self.boxes = 0
        self.evals = 0  # points evaluated by the incumbent search (its work, capped deterministically)
        self.eval_limit = _ASCENT_EVALS if max_boxes is None else min(_ASCENT_EVALS, 100 * max_boxes)
        self.cap = math.inf  # a certified cap of the upper (the analytic U bound in arb), if any
        self.progress: Any = None  # optional callback (boxes, lower, upper), every PROGRESS_SECONDS of branching
        #: optional early stop: ``decide(search)`` returns an outcome (e.g. ``"proved"``) or None
        self.decide: Callable[["Search"], str | None] | None = None
        self.interrupted = 0  # box enclosures dropped at the deadline
        self.root_seconds = math.nan  # wall time of the root box's enclosure
        #: a certified bound of the quantity on the whole domain (bigball.layer_bound), if any, and
        #: whether it replaces the root box's enclosure (large networks)
        self.layer = math.inf
        self.layer_root = False
        lo, hi = prob.root()
        self.root_width = np.where(hi > lo, hi - lo, 1.0)

    # -- time ---------------------------------------------------------------
    def out_of_time(self) -> bool:
        """Whether the deadline has passed."""
        return self.deadline is not None and time.monotonic() >= self.deadline

    def exhausted(self) -> bool:
        """Whether the incumbent search must stop (its evaluation limit or the deadline)."""
        return self.evals > self.eval_limit or self.out_of_time()

    # -- incumbent ----------------------------------------------------------
    def pull_inside(self, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A domain point near ``p`` (kept a relative :data:`INSIDE` inside)."""
        prob, net, reg = self.prob, self.prob.net, self.prob.region
        theta = np.asarray(p[:prob.P], float)
        theta = reg.project(net, theta)
        if reg.kind == "ball":
            theta = reg.center + (theta - reg.center) * (1 - 4 * INSIDE)
        else:
            theta = theta * (1 - 4 * INSIDE)
        x = np.zeros(net.d_in)
        x[:prob.dx] = p[prob.P:]
        n = float(np.linalg.norm(x))
        lim = prob.R * (1 - 4 * INSIDE)
        if n > lim:
            x *= lim / n
        return theta, x

    def local(self, theta: np.ndarray, x: np.ndarray) -> Witnessed:
        """:func:`local_value` of this problem."""
        return local_value(self.prob, theta, x)

    def rate(self, p: np.ndarray) -> float | None:
        """Rate the domain point nearest ``p``; keep it if best; returns its value."""
        theta, x = self.pull_inside(p)
        self.evals += 1
        try:
            with np.errstate(all="ignore"):
                w = local_value(self.prob, theta, x)
        except (FloatingPointError, ValueError, np.linalg.LinAlgError):
            return None
        if not math.isfinite(w.value):
            return None
        if self.best is None or w.value > self.best.value:
            self.best = w
        return w.value

    def improve(self, steps: int = 40) -> None:
        """A short random local search around the incumbent (float64 ratings; stops at the deadline)."""
        if self.best is None:
            return
        p = np.concatenate([self.best.theta, self.best.x[:self.prob.dx]])
        scale = self.root_width * 0.05
        for _ in range(steps):
            if self.out_of_time():
                return
            scale *= 0.9
            self.rate(p + self.rng.standard_normal(p.size) * scale)
            p = np.concatenate([self.best.theta, self.best.x[:self.prob.dx]])

    # -- tree ----------------------------------------------------------------
    def enclose(self, lo: np.ndarray, hi: np.ndarray) -> tuple[Any, Any]:
        """:meth:`Problem.enclose`, interrupted at the deadline (main thread) with :class:`OutOfTime`.

        An alarm may surface as another exception (numpy's object loops can drop it and leave
        a hole that fails later) or, in principle, be swallowed: so any exception at the
        deadline, and any result returned at or after it, is discarded — an enclosure is
        used only when it finished before the alarm could fire."""
        if self.deadline is None:
            return self.prob.enclose(lo, hi)
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise OutOfTime
        self.prob.deadline = self.deadline  # cooperative checks inside the enclosure's loops
        try:
            # the enclosure's own deadline checks end it first; the alarm, a little later, is the
            # backstop (an alarm landing while the limit is being torn down could outlive it)
            enc = call_with_time_limit(left + _ALARM_GRACE, self.prob.enclose, lo, hi)
        except Exception:
            if time.monotonic() < self.deadline:
                raise
            enc = None
        finally:
            self.prob.deadline = None
        if time.monotonic() >= self.deadline:
            self.interrupted += 1
            raise OutOfTime
        return enc

    def attach(self, lo: np.ndarray, hi: np.ndarray, enc: tuple[Any, Any]) -> int:
        """Record a box and its enclosure ``enc`` (from :meth:`enclose`) as a new leaf."""
        up, scores = enc
        k = len(self.nodes)
        node = _Node(lo, hi)
        self.nodes.append(node)
        self.boxes += 1
        if up is None:
            node.outside = True
            return k
        node.upper = float_up(up)
        node.scores = scores
        heapq.heappush(self.heap, (-node.upper, k))
        return k

    def add(self, lo: np.ndarray, hi: np.ndarray) -> int:
        """Enclose a box, record it and rate its centre."""
        k = self.attach(lo, hi, self.enclose(lo, hi))
        if not self.nodes[k].outside:
            self.rate(lo + (hi - lo) / 2)
        return k

    def split(self, k: int) -> bool:
        """Split leaf ``k`` in two (False when it cannot be split); both children are
        enclosed before the tree changes, so :class:`OutOfTime` leaves it untouched."""
        node = self.nodes[k]
        box = self.prob.contract(node.lo, node.hi)
        if box is None:  # pragma: no cover - enclose said inside
            return False
        clo, chi = box
        w = chi - clo
        score = np.asarray(node.scores, float) + 1e-3 * w / self.root_width
        score[w <= 0] = -1.0
        j = int(np.argmax(score))
        if score[j] <= 0:
            return False
        cut = clo[j] + (chi[j] - clo[j]) / 2
        if not (node.lo[j] < cut < node.hi[j]):
            return False
        lo2, hi1 = node.lo.copy(), node.hi.copy()
        hi1[j] = cut
        lo2[j] = cut
        enc1 = self.enclose(node.lo, hi1)
        enc2 = self.enclose(lo2, node.hi)
        node.cut = (j, float(cut))
        a = self.attach(node.lo, hi1, enc1)
        b = self.attach(lo2, node.hi, enc2)
        node.children = (a, b)
        node.scores = None
        for c in (a, b):
            if not self.nodes[c].outside:
                self.rate(self.nodes[c].lo + (self.nodes[c].hi - self.nodes[c].lo) / 2)
        return True

    @property
    def tree_upper(self) -> float:
        """The largest leaf enclosure (what the tree alone proves)."""
        return -self.heap[0][0] if self.heap else 0.0

    @property
    def upper(self) -> float:
        """The certified upper: the tree's, capped by :attr:`cap`."""
        return min(self.tree_upper, self.cap)

    def stop_reason(self) -> str | None:
        """``"gap"``, the outcome of :attr:`decide`, or None (go on)."""
        lower = self.best.value if self.best else 0.0
        if lower > 0 and self.upper <= lower * (1 + self.tol):
            return "gap"
        return None if self.decide is None else self.decide(self)

    def _root(self) -> None:
        """Enclose the root box; when that is interrupted, the root stays a leaf whose claim is
        the layer bound (:attr:`layer`, if below the cap) or the cap (else it is enclosed without a
        limit).  With :attr:`layer_root` the root is the layered leaf at once."""
        lo, hi = self.prob.root()
        t = time.monotonic()
        if self.layer_root and math.isfinite(self.layer):
            self._layered_root(lo, hi)
            return
        try:
            self.add(lo, hi)
        except OutOfTime:
            if self.layer < self.cap:
                self._layered_root(lo, hi)
            elif math.isfinite(self.cap):
                self.nodes = [_Node(lo, hi, upper=self.cap, unenclosed=True)]
                heapq.heappush(self.heap, (-self.cap, 0))
                self.rate(lo + (hi - lo) / 2)  # a witness all the same
            else:  # no other upper exists: the root is enclosed whatever it costs (one box)
                self.attach(lo, hi, self.prob.enclose(lo, hi))
        self.root_seconds = time.monotonic() - t

    def _layered_root(self, lo: np.ndarray, hi: np.ndarray) -> None:
        """The root as one leaf bounded by :attr:`layer` (no box enclosure)."""
        self.nodes = [_Node(lo, hi, upper=self.layer, layered=True)]
        self.heap = [(-self.layer, 0)]
        self.rate(lo + (hi - lo) / 2)

    def run(self) -> str:
        """Branch until a stopping rule holds; returns why it stopped."""
        t0 = time.monotonic()
        if self.deadline is None:
            self.deadline = t0 + self.budget
        self._root()
        reason = self.stop_reason()
        if reason is not None:
            return reason
        # with a layered root there is no tree to grow: the ascent may use the whole budget
        phase_end = self.deadline if self.nodes and self.nodes[0].layered else t0 + (self.deadline - t0) / 8
        for p in starts(self):
            if self.evals > self.eval_limit or time.monotonic() > phase_end:
                break
            if self.prob.region.kind == "ball" and self.prob.region.radius > 0:
                continuation(self, p)
            else:
                ascend(self, p)
            reason = self.stop_reason()
            if reason is not None:
                return reason
        self.improve()
        stuck: list[tuple[float, int]] = []
        reason = "budget"
        last = time.monotonic()
        while self.heap:
            done = self.stop_reason()
            if done is not None:
                reason = done
                break
            if self.out_of_time():
                reason = "budget"
                break
            if self.max_boxes is not None and self.boxes + 2 > self.max_boxes:
                reason = "max_boxes"
                break
            if self.progress is not None and time.monotonic() - last >= PROGRESS_SECONDS:
                last = time.monotonic()
                self.progress(self.boxes, self.best.value if self.best else 0.0, self.upper)
            neg, k = heapq.heappop(self.heap)
            if self.nodes[k].unenclosed or self.nodes[k].layered:  # no enclosure to split on
                stuck.append((neg, k))
                reason = "unsplittable" if self.nodes[k].layered else "budget"
                break
            try:
                ok = self.split(k)
            except OutOfTime:
                heapq.heappush(self.heap, (neg, k))
                reason = "budget"
                break
            if not ok:
                stuck.append((neg, k))  # cannot be split (a point): stays a leaf
                if not self.heap or self.heap[0][0] > neg:
                    reason = "unsplittable"
                    break
            if self.boxes % 64 == 0:
                self.improve(8)
                if self.best is not None:
                    self.eval_limit = self.evals + 60
                    ascend(self, np.concatenate([self.best.theta, self.best.x[:self.prob.dx]]), steps=5)
        for item in stuck:
            heapq.heappush(self.heap, item)
        if reason not in ("proved", "violated"):
            self.improve()
        return reason


def encode_tree(nodes: list[Any]) -> dict[str, list]:
    """The preorder encoding ``{"tree", "cuts", "uppers"}`` of a search tree (module docstring)."""
    tree, cuts, uppers = [], [], []
    stack = [0]
    while stack:
        k = stack.pop()
        n = nodes[k]
        if n.children is not None:
            tree.append(n.cut[0])
            cuts.append(n.cut[1])
            stack.append(n.children[1])
            stack.append(n.children[0])
        elif n.outside:
            tree.append(_OUT)
        elif getattr(n, "unenclosed", False):
            tree.append(_CAPPED)
        elif getattr(n, "layered", False):
            tree.append(_LAYER)
            uppers.append(n.upper)
        else:
            tree.append(_LEAF)
            uppers.append(n.upper)
    return {"tree": tree, "cuts": cuts, "uppers": uppers}
