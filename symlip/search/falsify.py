"""The falsifier: an adversarial search for violations of a claim (docs/theory.md §3, §6).

:func:`falsify` spends a time (or evaluation) budget on five strategies and
returns a :class:`Verdict`, scipy-``OptimizeResult`` style:

``random``
    region points (half of them rank-one "aligned" chains, which drive the norms
    of docs/theory.md §3 to their bounds) and inputs on the sphere ``|x| = R``;
``hypothesis``
    hypothesis strategies for region points and inputs, with ``target()`` on the
    ratio (docs/theory.md §2 regions);
``ascent``
    multi-start projected ascent of the *local* quantity over ``(θ, x)``:
    ``|∇_θ f|`` (lip_f), the top eigenvalue of ``∇²_θ f`` by Lanczos on
    Hessian-vector products (lip_grad), of ``∇²_θ ℓ`` (lip_loss_grad),
    ``|∇_x f|`` (lip_input); the ascent direction of an eigenvalue ``λ = vᵀHv``
    is ``D³f[v, v, ·] = d/dε H(θ+εv)v`` (third derivatives are symmetric);
``pair``
    the difference quotient itself over pairs ``(θ, θ')`` — random, along the
    local direction at geometric separations, pairs straddling a kink of a
    piecewise activation, and a stochastic hill climb — which is what finds
    violations for non-smooth activations (ReLU);
``differential_evolution``
    scipy's global optimiser on the local quantity when the dimension is small.

Every candidate becomes a pair inside the region (kept a relative ``1e-10``
inside, so rounding cannot put it out), rated in float64; close pairs and
ratios near or above 1 are re-evaluated with mpmath, and only a violation
confirmed at ``dps`` and ``dps + 30`` digits is ``violated``
(:func:`symlip.search.witness.confirm`); a float64-only violation is ``inconclusive``.

The strategies are modules of :mod:`symlip.search.strategies` behind one
interface, run by the one engine (:func:`symlip.search.strategies.base.run_search`)
on a :class:`~symlip.search.strategies.parameters.ParameterContext`; this module
validates the arguments and turns the best candidate into a verdict.

With ``max_evals`` the search is exactly reproducible for a given ``seed``; a
time budget alone makes the amount of search depend on the machine's speed.
"""
from __future__ import annotations

import math
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Sequence

import mpmath
import numpy as np

from symlip.search import quantities
from symlip.search.claims import Case, Claim
from symlip.search.lower_claims import check_lower
from symlip.search.strategies import PARAMETER_STRATEGIES
from symlip.search.strategies.base import run_search
from symlip.search.strategies.parameters import ParameterContext, pw_ratio
from symlip.search.verdict import Verdict
from symlip.search.witness import Witness, activation_spec, bound_spec, confirm, model_spec, region_spec
from symlip.core.precision import MAX_DPS as _precision_max_dps
from symlip.core.precision import check_max_dps

if TYPE_CHECKING:  # pragma: no cover
    from symlip.models.network import MLP
    from symlip.models.region import Region

__all__ = ["falsify", "Verdict", "STRATEGIES", "MAX_BUDGET", "MAX_EVALS", "MAX_DPS"]

#: caps on the search's size arguments: one day of search, 10^9 evaluations,
#: 1000 digits of confirmation.
MAX_BUDGET = 86_400.0
MAX_EVALS = 10 ** 9
MAX_DPS = _precision_max_dps  # one cap, owned by symlip.core.precision

#: the strategies, in the order they run, with their default share of the budget.
STRATEGIES = {s.name: s.share for s in PARAMETER_STRATEGIES}
_NEAR = 1e-6  # ratios above 1 - _NEAR are re-evaluated at high precision


# ---------------------------------------------------------------------------
# the entry point
# ---------------------------------------------------------------------------
def falsify(claim: Claim | Case, net: "MLP | None" = None, region: "Region | None" = None,
            R: float | None = None, Y: float | None = None, budget: float = 5.0,
            max_evals: int | None = None, seed: int = 0, strategies: Sequence[str] | None = None,
            dps: int = 50, source: str | None = None, allow_numeric: bool = False) -> Verdict:
    """Search hard for a violation of ``claim`` on ``net`` over ``region``.

    Parameters
    ----------
    claim : Claim or Case
        The claim; a :class:`~symlip.search.claims.Case` also supplies ``net``,
        ``region``, ``R`` and ``Y``.
    net, region : MLP, Region
        Architecture and parameter region (docs/theory.md §1, §2).
    R, Y : float
        Input radius ``|x| <= R`` (default 1) and target radius ``|y| <= Y``
        (needed by ``lip_loss_grad`` and pointwise claims with targets).  Every
        input of a witness lies in the ball, both inputs of a ``lip_input``
        pair too; ``lip_input`` with ``R = 0`` is the global statement in x.
    budget : float
        Seconds of search, split among the strategies (:data:`STRATEGIES`).
    max_evals : int, optional
        Evaluation budget; when given the search is exactly reproducible.
    seed : int
        Seed of every random choice.
    strategies : sequence of str, optional
        A subset of :data:`STRATEGIES` (default: all that apply).
    dps : int
        Digits of the mpmath confirmation (at least 50 is recommended; the
        confirmation also runs at ``dps + 30``).
    source : str, optional
        Where the claim comes from (``"file.py::index"``), stored in the witness.
    allow_numeric : bool
        Let the bound rest on numeric activation constants (else ``ValueError``);
        the verdict then says so (:attr:`Verdict.numeric`).

    Returns
    -------
    Verdict

    Raises
    ------
    ValueError
        When the claim does not apply (activation outside the claim's classes,
        depth mismatch, missing ``Y``), or an argument is out of range.
    """
    if isinstance(claim, Case):
        case = claim
        claim, net, region = case.claim, case.net, case.region
        R = case.R if R is None else R
        Y = case.Y if Y is None else Y
    if not isinstance(claim, Claim):
        raise TypeError(f"falsify needs a Claim or a Case; got {type(claim).__name__}")
    if not isinstance(allow_numeric, bool):
        raise TypeError(f"allow_numeric must be True or False; got {allow_numeric!r}")
    if allow_numeric and not claim.allow_numeric:
        claim = replace(claim, allow_numeric=True)
    from symlip.models.cdnn import CDNN
    from symlip.models.network import MLP
    from symlip.core.precision import check_dps
    from symlip.models.region import Region

    if not isinstance(net, (MLP, CDNN)):
        raise TypeError(f"falsify needs a network (MLP or CDNN); got {type(net).__name__}")
    if not isinstance(region, Region):
        raise TypeError(f"falsify needs a Region; got {type(region).__name__}")
    R = 1.0 if R is None else R
    for name, v in (("R", R), ("Y", Y)):
        if v is not None and (isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer,
                                                                                        np.floating))):
            raise TypeError(f"{name} must be a number >= 0; got {v!r}")
    if not (math.isfinite(R) and R >= 0):
        raise ValueError(f"R must be a finite number >= 0; got {R!r}")
    if not (isinstance(budget, (int, float)) and not isinstance(budget, bool) and math.isfinite(budget)
            and 0 < budget <= MAX_BUDGET):
        raise ValueError(f"budget must be a positive number of seconds up to {MAX_BUDGET:g} (one day); "
                         f"got {budget!r}")
    if max_evals is not None and not (isinstance(max_evals, (int, np.integer)) and not isinstance(max_evals, bool)
                                      and 10 <= max_evals <= MAX_EVALS):
        raise ValueError(f"max_evals must be an integer >= 10 and <= {MAX_EVALS} or None; got {max_evals!r}")
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0; got {seed!r}")
    dps = check_dps(dps)
    check_max_dps(dps)
    claim.check_applicable(net)
    region.check_net(net)
    if claim.direction == "lower":  # docs/theory.md §4: witnessed by construction, not searched
        return _numeric_marked(check_lower(claim, net, region, float(R), dps, int(seed)), net)
    needs_y = claim.quantity == "lip_loss_grad" or (claim.quantity == "pointwise" and claim.bound.targets)
    if needs_y and (Y is None or not (math.isfinite(Y) and Y >= 0)):
        raise ValueError(f"claim {claim.name!r} ({claim.quantity}) needs the target radius Y >= 0; got {Y!r}")
    if strategies is not None and (isinstance(strategies, str) or not isinstance(strategies, (list, tuple))):
        raise TypeError(f"strategies must be a list of names from {', '.join(STRATEGIES)}; got {strategies!r}")
    names = list(STRATEGIES) if strategies is None else list(strategies)
    for s in names:
        if s not in STRATEGIES:
            raise ValueError(f"unknown strategy {s!r}; allowed: {', '.join(STRATEGIES)}")
    if not names:
        raise ValueError(f"strategies={strategies!r} names no strategy; give at least one of {', '.join(STRATEGIES)}")
    ctx = ParameterContext(claim, net, region, float(R), None if Y is None else float(Y))
    return _numeric_marked(_search(ctx, names, float(budget), None if max_evals is None else int(max_evals),
                                   int(seed), dps, source), net)


def _numeric_marked(verdict: Verdict, net: Any) -> Verdict:
    """The verdict with :meth:`Claim.numeric_note` in ``numeric`` and its message."""
    note = verdict.claim.numeric_note(net)
    if not note:
        return verdict
    return replace(verdict, numeric=note, message=f"{verdict.message}; {note}")


# ---------------------------------------------------------------------------
# the search and its verdict
# ---------------------------------------------------------------------------
def _search(ctx: ParameterContext, names: list[str], budget: float, max_evals: int | None, seed: int, dps: int,
            source: str | None) -> Verdict:
    """Run the strategies ``names`` that apply (else ``random``) and judge the best candidate."""
    _warm_imports()
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    registry = list(PARAMETER_STRATEGIES)
    order = [s.name for s in registry]
    plan = [(registry[order.index(s)](), order.index(s)) for s in names]
    plan = [(s, k) for s, k in plan if s.applies(ctx)] or [(registry[0](), 0)]
    finish_reserve = min(0.25 * budget, 2.0)
    run_search(ctx, plan, seed=seed, seconds=max(budget - finish_reserve, 0.5 * budget), max_evals=max_evals,
               time_limit=20 * budget)
    return _verdict(ctx, rng, t0, dps, seed, source)


def _warm_imports() -> None:
    """Import what the strategies import lazily before the clock starts (first imports take a second)."""
    import hypothesis
    import scipy.optimize
    import scipy.sparse.linalg
    import scipy.stats.qmc  # differential_evolution's initialisation

    from symlip.search import sampling

    del hypothesis, scipy, sampling


def _verdict(ctx: ParameterContext, rng: np.random.Generator, t0: float, dps: int, seed: int,
             source: str | None) -> Verdict:
    """The best candidates rated as pairs; the best one confirmed in mpmath when its ratio is near 1."""
    claim, net = ctx.claim, ctx.net
    # the best candidates become pairs, rated as pairs
    ranked = sorted(ctx.cands, key=lambda c: -ctx.cand_ratio(c))
    rated: list[tuple[float, dict, str]] = []
    seen = 0
    for c in ranked:
        if seen >= 6:
            break
        seen += 1
        if ctx.q == "pointwise":  # strictly inside: boundary points may be out by an ulp
            w = {"theta": ctx.project(c.theta), "theta2": None, "x": ctx.clip_inputs(c.X), "x2": None,
                 "y": c.y}
        elif c.theta2 is not None or c.x2 is not None:
            w = {"theta": c.theta, "theta2": c.theta2, "x": c.X, "x2": c.x2, "y": c.y}
        elif c.direction is not None:
            best_w = None
            for h in (1e-7, 1e-5):
                pair = ctx.make_pair(c.theta, c.X, c.y, c.direction, h)
                ww = {"theta": pair[0], "theta2": pair[1], "x": pair[2], "x2": pair[3], "y": pair[4]}
                val = ctx.safe_value(ww)
                if best_w is None or val > best_w[0]:
                    best_w = (val, ww)
            w = best_w[1]
        else:
            continue
        rated.append((ctx.safe_value(w), w, c.credit))
    if not rated:
        theta, X, y = ctx.random_point(rng)
        pair = ctx.make_pair(theta, X, y, np.ones(ctx.d0 if ctx.q == "lip_input" else ctx.P) /
                              math.sqrt(ctx.d0 if ctx.q == "lip_input" else ctx.P), 1e-3)
        w = {"theta": pair[0], "theta2": pair[1], "x": pair[2], "x2": pair[3], "y": pair[4]}
        rated.append((ctx.safe_value(w), w, "random"))
    # pointwise: rank by lhs/rhs
    if ctx.q == "pointwise":
        scored = []
        for val, w, s in rated:
            rhs = quantities.rhs_value(claim, net, w, None)
            scored.append((pw_ratio(val, rhs), val, rhs, w, s))
        scored.sort(key=lambda t: -t[0])
        ratio, value, bound, w, strategy = scored[0]
    else:
        rated.sort(key=lambda t: -t[0])
        value, w, strategy = rated[0]
        bound = ctx.bound
        ratio = ctx.ratio(value)
    status, digits, v_mp, b_mp, msg_extra = "survived", 0, None, None, ""
    near = ratio > 1 - _NEAR
    if near:
        conf = confirm(claim, net, ctx.region, w, ctx.R, ctx.Y, dps=dps,
                       bound_value=None if claim.bound_for(net) is not None or ctx.q == "pointwise"
                       else bound)
        with mpmath.workdps(dps):
            v_mp, b_mp = mpmath.nstr(conf.value_mp, 30), mpmath.nstr(conf.bound_mp, 30)
        if conf.confirmed:
            status, digits = "violated", conf.confirmed_digits
        elif ratio > 1 or conf.margin > 0:
            status = "inconclusive"
            msg_extra = (f"float64 value {value:.17g} vs bound {bound:.17g}, but at {dps} digits value "
                         f"{v_mp} vs bound {b_mp}" + (f"; not admissible: {'; '.join(conf.problems)}"
                                                      if conf.problems else ""))
    seconds = time.perf_counter() - t0
    witness = Witness(
        claim=claim.name, quantity=claim.quantity, expect=claim.expect, widths=net.widths,
        activation=activation_spec(net.activation), region=region_spec(ctx.region), R=ctx.R, Y=ctx.Y,
        theta=np.asarray(w["theta"], float), theta2=None if w.get("theta2") is None else np.asarray(w["theta2"]),
        x=np.asarray(w["x"], float), x2=None if w.get("x2") is None else np.asarray(w["x2"]),
        y=None if w.get("y") is None else np.asarray(w["y"], float), value=float(value), bound=float(bound),
        value_mp=v_mp, bound_mp=b_mp, dps=dps if near else None, confirmed_digits=digits,
        bound_spec=bound_spec(claim, net, float(bound)), source=source, strategy=strategy, seed=seed,
        model=model_spec(net),
    )
    if status == "violated":
        message = (f"violated: {claim.quantity} witnessed {v_mp} > bound {b_mp} (ratio {ratio:.6g}), "
                   f"confirmed to {digits} digits at {dps} and {dps + 30} digits")
    elif status == "inconclusive":
        message = "inconclusive: " + msg_extra
    else:
        message = (f"survived: best ratio {ratio:.6g} after {ctx.evals} evaluations in {seconds:.2f} s "
                   f"(strategy {strategy})")
    return Verdict(status=status, best_ratio=float(ratio), witness=witness, strategy=strategy,
                   evaluations=ctx.evals, seconds=seconds, confirmed_digits=digits, message=message,
                   claim=claim, bound=float(bound), best_value=float(value), strategies=ctx.stats,
                   seed=seed)
