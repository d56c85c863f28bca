"""``certify``: a certified upper bound on the true local constant (docs/theory.md §1–§3).

The constant certified is the supremum of the local quantity over the domain —
``θ`` in the region, ``|x| <= R`` (and ``|y| <= Y``):
``sup |∇_θ f|`` (``lip_f``), ``sup ||∇²_θ f||_2`` (``lip_grad``), ``sup ||∇²_θ ℓ||_2`` for
``ℓ = ½ (f - y)²`` (``lip_loss_grad``), ``sup ||∂f/∂x||_2`` (``lip_input``, on the input
ball ``|x| <= R`` as the falsifier reads ``R > 0``).  On a convex region it bounds
the Lipschitz constant of docs/theory.md §1 (D1.3) from above (§2 (R4)); the
witness's local value bounds it from below when the region has interior points.
"""
from __future__ import annotations

import math
import time
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import mpmath
import numpy as np

from symlip.certify.bigball import LARGE_VARIABLES, layer_bound
from symlip.certify.bnb import Search, Witnessed, confirm_lower, encode_tree
from symlip.certify.cap import u_cap
from symlip.certify.certificate import Certificate, problem_spec
from symlip.certify.enclose import CERTIFY_QUANTITIES, Problem
from symlip.certify.interval import float_up
from symlip.certify.patterns import pattern_search, pl_slopes

if TYPE_CHECKING:  # pragma: no cover
    from symlip.models.network import MLP
    from symlip.models.region import Region

__all__ = ["certify"]

_REL = mpmath.mpf(10) ** -30  # margin for the 50-digit evaluation of a claim's bound
#: seconds per parameter kept back from the search for the mpmath confirmation of the witness
#: (a generous estimate; at most a fifth of the budget)
_CONFIRM_PER_PARAM = 2e-4


def _positive(name: str, v: Any, allow_zero: bool = False) -> float:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number; got {v!r}")
    v = float(v)
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise ValueError(f"{name} must be a finite number {'>=' if allow_zero else '>'} 0; got {v!r}")
    return v


def certify(quantity_or_claim: Any, net: "MLP", region: "Region", *, R: float, Y: float | None = None,
            budget: float = 60.0, tol: float = 0.01, seed: int = 0, max_boxes: int | None = None,
            progress: Any = None) -> Certificate:
    """Sandwich the true local constant: ``lower <= sup (local quantity) <= upper``.

    Parameters
    ----------
    quantity_or_claim : str or Claim
        One of ``lip_f``, ``lip_grad``, ``lip_loss_grad``, ``lip_input``, or an upper-bound
        :class:`~symlip.search.claims.Claim` on one of them (then ``status`` says whether
        its bound is proved or violated).
    net : MLP
        The architecture (scalar output except for ``lip_input``).
    region : Region
        The parameter region (``Region.ball(theta, 0.0)`` fixes the network).
    R : float
        Input radius ``|x| <= R`` (> 0).
    Y : float, optional
        Target radius ``|y| <= Y`` (needed by ``lip_loss_grad``).
    budget : float
        Seconds of wall time (> 0), setup included: the search stops at ``budget`` after
        the call less a reserve for the mpmath confirmation of the witness that follows
        (about ``2e-4`` s per parameter, at most a fifth of the budget); a box enclosure
        running then stops at its next deadline check or is interrupted on the main thread.
        The message reports these fixed costs.  From
        :data:`~symlip.certify.bigball.LARGE_VARIABLES` free variables on, ``lip_f`` on a
        ball is bounded by the layer bound (docs/theory.md §8.7 (LB8)) instead of boxes.
    tol : float
        Stop when ``upper <= (1 + tol) lower`` (> 0).  For a claim the search also stops
        as soon as it is decided: proved (the upper below the bound) or violated (a
        confirmed witness above it).
    seed : int
        Seed of the incumbent search.
    max_boxes : int, optional
        Stop after this many box enclosures.
    progress : callable, optional
        Called as ``progress(boxes, lower, upper)`` every few seconds of branching
        (:data:`symlip.certify.bnb.PROGRESS_SECONDS`), e.g. for a progress line.

    Returns
    -------
    Certificate

    Raises
    ------
    TypeError, ValueError
        Naming the bad argument (unknown quantity, non-MLP network, region of another
        network, ``R <= 0``, missing ``Y``, non-positive budget, ...).
    """
    from symlip.models.network import MLP
    from symlip.models.region import Region
    from symlip.search.claims import Claim

    claim = None
    if isinstance(quantity_or_claim, Claim):
        claim = quantity_or_claim
        quantity = claim.quantity
        if claim.direction != "upper":
            raise ValueError(f"claim {claim.name!r} is a lower-bound claim; certify proves upper bounds")
    elif isinstance(quantity_or_claim, str):
        quantity = quantity_or_claim
    else:
        raise TypeError(f"quantity_or_claim must be a quantity name or a Claim; got {type(quantity_or_claim).__name__}")
    if quantity not in CERTIFY_QUANTITIES:
        raise ValueError(f"quantity {quantity!r} cannot be certified; allowed: {', '.join(CERTIFY_QUANTITIES)}")
    if not isinstance(net, MLP):
        raise TypeError(f"net must be an MLP; got {type(net).__name__}")
    if not isinstance(region, Region):
        raise TypeError(f"region must be a Region; got {type(region).__name__}")
    region.check_net(net)
    R = _positive("R", R)
    if Y is not None:
        Y = _positive("Y", Y, allow_zero=True)
    if quantity == "lip_loss_grad" and Y is None:
        raise ValueError("lip_loss_grad needs the target radius Y (|y| <= Y)")
    budget = _positive("budget", budget)
    tol = _positive("tol", tol)
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an integer; got {seed!r}")
    if max_boxes is not None and (isinstance(max_boxes, (bool, np.bool_)) or not isinstance(max_boxes, (int, np.integer))
                                  or max_boxes < 1):
        raise ValueError(f"max_boxes must be an integer >= 1 or None; got {max_boxes!r}")
    if quantity != "lip_input" and net.d_out != 1:
        raise ValueError(f"{quantity} needs a scalar output; the network {list(net.widths)} has d_m = {net.d_out}")
    if quantity in ("lip_grad", "lip_loss_grad"):
        net.activation.require("smooth", purpose=f"certify({quantity!r})")
    if claim is not None:
        claim.check_applicable(net)

    t0 = time.monotonic()
    deadline = t0 + budget
    prob = Problem(quantity, net, region, R, Y)
    b = bound_mp = bound = None
    if claim is not None:
        b = claim.bound_value_mp(net, region, R, Y, dps=50)
        bound, bound_mp = float(b), mpmath.nstr(b, 30)
    u_bound = _u_bound(quantity, net, region, R, Y)
    root_seconds = math.nan
    if (quantity == "lip_input" and region.kind == "ball" and region.radius == 0
            and pl_slopes(net.activation) is not None):
        # a fixed piecewise-linear network: branch and bound over activation patterns
        setup = time.monotonic() - t0
        pat = pattern_search(net, region.center, R, budget=max(deadline - time.monotonic(), 1e-3), tol=tol,
                             max_nodes=max_boxes)
        w0 = pat["witness"]
        best = None if w0 is None else Witnessed(pat["lower_est"], region.center.copy(), np.asarray(w0["x"]),
                                                   v=np.asarray(w0["v"]))
        search = SimpleNamespace(upper=pat["upper"], best=best, boxes=pat["nodes"], tree_upper=pat["upper"],
                                 nodes=None)
        reason, upper, cap, cap_note = pat["stop"], pat["upper"], None, "not used by the pattern search"
    else:
        pat = None
        hess = 3 if quantity in ("lip_grad", "lip_loss_grad") else 1
        reserve = min(0.2 * budget, _CONFIRM_PER_PARAM * hess * prob.P)
        search = Search(prob, budget=budget, tol=tol, max_boxes=max_boxes, seed=int(seed), deadline=deadline - reserve)
        cap_arb, cap_note = u_cap(quantity, net, region, R, Y)
        cap = None if cap_arb is None else float_up(cap_arb)
        if cap is not None:
            search.cap = cap
        if prob.n >= LARGE_VARIABLES:  # no root box enclosure: the layer bound (docs/theory.md §8.7 (LB8))
            lb = layer_bound(prob, deadline=deadline - reserve)
            if lb is not None:
                search.layer, search.layer_root = float_up(lb), True
        search.progress = progress
        if b is not None:
            search.decide = _decider(prob, b)
        setup = time.monotonic() - t0
        reason = search.run()
        upper = search.upper
        best = search.best
        root_seconds = search.root_seconds
    t_post = time.monotonic()
    lower_mp = confirm_lower(prob, best) if best is not None else mpmath.mpf(0)
    lower = float(lower_mp)
    if lower > upper:  # the two implementations disagree: a bug, never a result
        raise RuntimeError(f"certify: witnessed {lower!r} exceeds the certified upper {upper!r}; please report")
    gap = upper / lower if lower > 0 else math.inf
    status, note = "certified", ""
    if claim is not None:
        if b >= mpmath.mpf(upper) * (1 + _REL):
            status = "proved"
        elif lower_mp > b * (1 + _REL) and _lower_is_lipschitz(prob, best):
            status = "violated"
        else:
            status = "open"
            if lower_mp > b * (1 + _REL):
                note = "; the witness is not an interior smooth point, so it does not refute the claim"
    w = {"theta": best.theta.tolist(), "x": best.x.tolist(), "y": best.y,
         "v": None if best.v is None else best.v.tolist()} if best is not None else {}
    seconds = time.monotonic() - t0
    capped = cap is not None and cap <= search.tree_upper
    unenclosed = pat is None and bool(search.nodes) and search.nodes[0].unenclosed
    layered = pat is None and bool(search.nodes) and search.nodes[0].layered
    costs = (f"; fixed costs: setup {setup:.2f} s" + ("" if math.isnan(root_seconds) else
                                                      f", root box {root_seconds:.2f} s")
             + f", confirmation {time.monotonic() - t_post:.2f} s")
    msg = (f"{quantity} in [{lower:.8g}, {upper:.8g}] (gap {gap:.6g}) after {search.boxes} boxes, "
           f"stopped by {reason}" + (f"; U bound {u_bound:.6g}" if u_bound is not None else "")
           + ("; the root box was not enclosed within the budget: the upper is the U cap" if unenclosed else
              "; the upper is the U cap (the tree proves " + f"{search.tree_upper:.6g})" if capped else
              "; the upper is the layer bound of the whole domain" if layered else "")
           + note + costs)
    return Certificate(quantity=quantity, lower=lower, upper=upper, gap=gap, status=status, boxes=search.boxes,
                       seconds=seconds, message=msg, seed=int(seed), witness=w,
                       proof=encode_tree(search.nodes) if pat is None else pat["proof"],
                       problem=problem_spec(quantity, net, region, R, Y), lower_mp=mpmath.nstr(lower_mp, 30),
                       bound=bound, bound_mp=bound_mp, claim=None if claim is None else claim.name,
                       u_bound=u_bound, stop=reason, cap=cap, cap_note=cap_note)


def _decider(prob: Problem, b: Any) -> Any:
    """The early stop of a claim with bound ``b`` (mpf): ``"proved"`` once the certified upper
    is below it, ``"violated"`` once a witness above it is confirmed in mpmath at an interior
    smooth point (each new incumbent is confirmed at most once)."""
    checked: list[Any] = [None]

    def decide(search: Search) -> str | None:
        if b >= mpmath.mpf(search.upper) * (1 + _REL):
            return "proved"
        w = search.best
        if w is None or w is checked[0] or not w.value > float(b) * (1 + 1e-9):
            return None
        checked[0] = w
        if _lower_is_lipschitz(prob, w) and confirm_lower(prob, w) > b * (1 + _REL):
            return "violated"
        return None

    return decide


def _lower_is_lipschitz(prob: Problem, w: Any) -> bool:
    """Whether the witness's local value bounds the Lipschitz constant from below
    (docs/theory.md §2 (R4)): the region has interior points and, for a piecewise σ,
    no pre-activation sits within 1e-9 of a kink."""
    reg = prob.region
    if reg.kind == "ball" and reg.radius == 0 and prob.quantity != "lip_input":
        return False
    if reg.kind == "box":
        om, be = reg.layer_bounds(prob.net)
        if min(om) <= 0 or min(be) <= 0:
            return False
    kinks = prob.net.activation.kinks
    if not kinks:
        return True
    z = np.asarray(w.x, float)
    for i, (W, b) in enumerate(prob.net.unflatten(w.theta)):
        a = W @ z + b
        if i < prob.net.depth - 1:
            if any(abs(t - k) <= 1e-9 * (1 + abs(t)) for t in a for k in kinks):
                return False
            z = prob.net.activation.numpy(0)(a)
    return True


def _u_bound(quantity: str, net: "MLP", region: "Region", R: float, Y: float | None) -> float | None:
    """The analytic bound U1–U4 in float64, for comparison (None where it does not apply)."""
    from symlip.bounds.symbolic import derive

    try:
        return float(derive(quantity, net.depth).evaluate(net, region, R=R, Y=Y))
    except (ValueError, OverflowError, TypeError):
        return None
