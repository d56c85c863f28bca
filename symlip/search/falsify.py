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
``stop="first"`` judges candidates as they come (the same confirmation) and ends
the search at the first confirmed violation, with the seconds and evaluations
spent until then in the verdict.
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
from symlip.search.strategies.base import Budget, run_search
from symlip.search.strategies.parameters import Candidate, ParameterContext, pw_ratio
from symlip.search.verdict import Verdict
from symlip.search.witness import Witness, activation_spec, bound_spec, confirm, model_spec, region_spec
from symlip.core.precision import MAX_DPS as _precision_max_dps
from symlip.core.precision import check_max_dps

if TYPE_CHECKING:  # pragma: no cover
    from symlip.models.network import MLP
    from symlip.models.region import Region

__all__ = ["falsify", "Verdict", "STRATEGIES", "STOPS", "MAX_BUDGET", "MAX_EVALS", "MAX_DPS", "check_stop", "warm_imports"]

#: caps on the search's size arguments: one day of search, 10^9 evaluations,
#: 1000 digits of confirmation.
MAX_BUDGET = 86_400.0
MAX_EVALS = 10 ** 9
MAX_DPS = _precision_max_dps  # one cap, owned by symlip.core.precision

#: the strategies, in the order they run, with their default share of the budget.
STRATEGIES = {s.name: s.share for s in PARAMETER_STRATEGIES}
_NEAR = 1e-6  # ratios above 1 - _NEAR are re-evaluated at high precision
#: when the search ends: ``"budget"`` when the budget is spent, ``"first"`` at the first confirmed violation
STOPS = ("budget", "first")


# ---------------------------------------------------------------------------
# the entry point
# ---------------------------------------------------------------------------
def falsify(claim: Claim | Case, net: "MLP | None" = None, region: "Region | None" = None,
            R: float | None = None, Y: float | None = None, budget: float = 5.0,
            max_evals: int | None = None, seed: int = 0, strategies: Sequence[str] | None = None,
            dps: int = 50, source: str | None = None, allow_numeric: bool = False,
            stop: str = "budget") -> Verdict:
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
    stop : {"budget", "first"}
        ``"budget"``: search until the budget is spent, then judge the best
        candidate.  ``"first"``: judge candidates during the search (the same
        mpmath confirmation) and stop at the first confirmed violation; the
        verdict then carries ``seconds_to_violation`` and ``evals_to_violation``.
        Until a violation is confirmed the search is the same (under
        ``max_evals``, evaluation for evaluation).

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
    check_stop(stop)
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
    Rf, Yf = float(R), None if Y is None else float(Y)
    ctx = (ParameterContext(claim, net, region, Rf, Yf) if stop == "budget"
           else _FirstViolation(claim, net, region, Rf, Yf, dps))
    return _numeric_marked(_search(ctx, names, float(budget), None if max_evals is None else int(max_evals),
                                   int(seed), dps, source, stop), net)


def check_stop(stop: Any) -> str:
    """``stop`` when it is one of :data:`STOPS`, else a ``ValueError`` naming it and the allowed values."""
    if not isinstance(stop, str) or stop not in STOPS:
        raise ValueError(f"stop must be one of {', '.join(map(repr, STOPS))}; got {stop!r}")
    return stop


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
            source: str | None, stop: str) -> Verdict:
    """Run the strategies ``names`` that apply (else ``random``) and judge the best candidate."""
    warm_imports()
    activation = getattr(ctx.net, "activation", None)
    for order in range(3) if activation is not None else ():  # lambdified once per process: setup, not search
        activation.numpy(order)
    t0 = time.perf_counter()
    if isinstance(ctx, _FirstViolation):
        ctx.t0 = t0
    rng = np.random.default_rng(seed)
    registry = list(PARAMETER_STRATEGIES)
    order = [s.name for s in registry]
    plan = [(registry[order.index(s)](), order.index(s)) for s in names]
    plan = [(s, k) for s, k in plan if s.applies(ctx)] or [(registry[0](), 0)]
    finish_reserve = min(0.25 * budget, 2.0)
    run_search(ctx, plan, seed=seed, seconds=max(budget - finish_reserve, 0.5 * budget), max_evals=max_evals,
               time_limit=20 * budget)
    return _verdict(ctx, rng, t0, dps, seed, source, math.inf if max_evals is not None else t0 + budget, stop)


def warm_imports() -> None:
    """Import what the strategies import lazily before the clock starts (first imports take a second)."""
    import hypothesis
    import scipy.optimize
    import scipy.sparse.linalg
    import scipy.stats.qmc  # differential_evolution's initialisation

    from symlip.search import sampling

    del hypothesis, scipy, sampling


class _FirstViolation(ParameterContext):
    """The context of ``stop="first"``: it judges candidates as they are recorded.

    A candidate whose float64 ratio exceeds 1 and every ratio tried before (at most
    :attr:`MAX_TRIES` candidates that do not confirm) is made a pair and judged exactly
    as the final verdict judges its best pair (:func:`_judge`: the mpmath confirmation
    at ``dps`` and ``dps + 30`` digits); a confirmed violation ends the search
    (:class:`~symlip.search.strategies.base.Budget`, then :meth:`done`).  Judging draws
    no random number and counts no evaluation, so until a violation is confirmed the
    search is the one of ``stop="budget"`` under ``max_evals`` (with a time budget,
    judging takes some of the time) (docs/theory.md §5).
    """

    MAX_TRIES = 8

    def __init__(self, claim: Claim, net: "MLP", region: "Region", R: float, Y: float | None, dps: int) -> None:
        super().__init__(claim, net, region, R, Y)
        self.dps = dps
        self.t0 = time.perf_counter()   # the search's start (set by _search)
        self.found: tuple | None = None  # (picked, judged, seconds, evaluations) of the confirmed violation
        self.tried = 0
        self.floor = 1.0

    def record(self, cand: Candidate) -> None:
        super().record(cand)
        r = self.cand_ratio(cand)
        if self.found is not None or self.tried >= self.MAX_TRIES or not r > self.floor:
            return
        try:
            rated = _rate_candidate(self, cand)
            if rated is None:
                return
            self.tried += 1
            self.floor = r
            picked = _best_pair(self, [rated])
            judged = _judge(self, picked, self.dps)
        except FloatingPointError:  # not judged now (the final verdict may); the search goes on unchanged
            return
        if judged[0] == "violated":
            self.found = (picked, judged, time.perf_counter() - self.t0, self.evals)
            raise Budget

    def done(self) -> bool:
        return self.found is not None


def _rate_candidate(ctx: ParameterContext, c: Candidate) -> tuple[float, dict, str] | None:
    """A candidate as a pair strictly inside the region, rated as a pair (:meth:`~ParameterContext.safe_value`):
    ``(value, pair, credit)``; a point's pair lies along its direction at relative separations
    ``1e-7`` and ``1e-5`` (the larger value); None for a point without a direction."""
    if ctx.q == "pointwise":  # strictly inside: boundary points may be out by an ulp
        w = {"theta": ctx.project(c.theta), "theta2": None, "x": ctx.clip_inputs(c.X), "x2": None, "y": c.y}
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
        return best_w[0], best_w[1], c.credit
    else:
        return None
    return ctx.safe_value(w), w, c.credit


def _best_pair(ctx: ParameterContext, rated: list[tuple[float, dict, str]]) -> tuple[float, float, float, dict, str]:
    """``(ratio, value, bound, pair, credit)`` of the best rated pair (pointwise claims: by ``lhs / rhs``)."""
    if ctx.q == "pointwise":
        scored = []
        for val, w, s in rated:
            rhs = quantities.rhs_value(ctx.claim, ctx.net, w, None)
            scored.append((pw_ratio(val, rhs), val, rhs, w, s))
        scored.sort(key=lambda t: -t[0])
        return scored[0]
    value, w, strategy = sorted(rated, key=lambda t: -t[0])[0]
    return ctx.ratio(value), value, ctx.bound, w, strategy


def _judge(ctx: ParameterContext, picked: tuple[float, float, float, dict, str],
          dps: int) -> tuple[str, int, str | None, str | None, str]:
    """``(status, confirmed digits, value_mp, bound_mp, detail)`` of a picked pair: ``violated`` only
    when :func:`~symlip.search.witness.confirm` confirms it at ``dps`` and ``dps + 30`` digits
    (tried when its float64 ratio exceeds ``1 - 1e-6``), ``inconclusive`` when float64 or the
    margin says above but the confirmation does not, else ``survived``."""
    ratio, value, bound, w, _ = picked
    claim, net = ctx.claim, ctx.net
    if not ratio > 1 - _NEAR:
        return "survived", 0, None, None, ""
    conf = confirm(claim, net, ctx.region, w, ctx.R, ctx.Y, dps=dps,
                   bound_value=None if claim.bound_for(net) is not None or ctx.q == "pointwise" else bound)
    with mpmath.workdps(dps):
        v_mp, b_mp = mpmath.nstr(conf.value_mp, 30), mpmath.nstr(conf.bound_mp, 30)
    if conf.confirmed:
        return "violated", conf.confirmed_digits, v_mp, b_mp, ""
    if ratio > 1 or conf.margin > 0:
        return "inconclusive", 0, v_mp, b_mp, (
            f"float64 value {value:.17g} vs bound {bound:.17g}, but at {dps} digits value {v_mp} vs bound {b_mp}"
            + (f"; not admissible: {'; '.join(conf.problems)}" if conf.problems else ""))
    return "survived", 0, v_mp, b_mp, ""


def _verdict(ctx: ParameterContext, rng: np.random.Generator, t0: float, dps: int, seed: int,
             source: str | None, deadline: float, stop: str) -> Verdict:
    """The verdict: the violation :class:`_FirstViolation` confirmed, else the best candidates rated as
    pairs (until ``deadline``, at least one) and the best one judged (:func:`_judge`)."""
    claim, net = ctx.claim, ctx.net
    found = getattr(ctx, "found", None)
    if found is not None:
        picked, judged, to_seconds, to_evals = found
    else:
        rated: list[tuple[float, dict, str]] = []
        for c in sorted(ctx.cands, key=lambda c: -ctx.cand_ratio(c))[:6]:
            if rated and time.perf_counter() > deadline:
                break
            r = _rate_candidate(ctx, c)
            if r is not None:
                rated.append(r)
        if not rated:
            theta, X, y = ctx.random_point(rng)
            dim = ctx.d0 if ctx.q == "lip_input" else ctx.P
            pair = ctx.make_pair(theta, X, y, np.ones(dim) / math.sqrt(dim), 1e-3)
            w = {"theta": pair[0], "theta2": pair[1], "x": pair[2], "x2": pair[3], "y": pair[4]}
            rated.append((ctx.safe_value(w), w, "random"))
        picked = _best_pair(ctx, rated)
        judged = _judge(ctx, picked, dps)
        to_seconds, to_evals = time.perf_counter() - t0, ctx.evals
    ratio, value, bound, w, strategy = picked
    status, digits, v_mp, b_mp, msg_extra = judged
    seconds = time.perf_counter() - t0
    witness = Witness(
        claim=claim.name, quantity=claim.quantity, expect=claim.expect, widths=net.widths,
        activation=activation_spec(net.activation), region=region_spec(ctx.region), R=ctx.R, Y=ctx.Y,
        theta=np.asarray(w["theta"], float), theta2=None if w.get("theta2") is None else np.asarray(w["theta2"]),
        x=np.asarray(w["x"], float), x2=None if w.get("x2") is None else np.asarray(w["x2"]),
        y=None if w.get("y") is None else np.asarray(w["y"], float), value=float(value), bound=float(bound),
        value_mp=v_mp, bound_mp=b_mp, dps=dps if v_mp is not None else None, confirmed_digits=digits,
        bound_spec=bound_spec(claim, net, float(bound)), source=source, strategy=strategy, seed=seed,
        model=model_spec(net),
    )
    first = stop == "first" and status == "violated"
    if status == "violated":
        message = (f"violated: {claim.quantity} witnessed {v_mp} > bound {b_mp} (ratio {ratio:.6g}), "
                   f"confirmed to {digits} digits at {dps} and {dps + 30} digits")
        if first:
            message += f"; the search stopped at it after {to_evals} evaluations in {to_seconds:.2f} s"
    elif status == "inconclusive":
        message = "inconclusive: " + msg_extra
    else:
        message = (f"survived: best ratio {ratio:.6g} after {ctx.evals} evaluations in {seconds:.2f} s "
                   f"(strategy {strategy})")
    return Verdict(status=status, best_ratio=float(ratio), witness=witness, strategy=strategy,
                   evaluations=ctx.evals, seconds=seconds, confirmed_digits=digits, message=message,
                   claim=claim, bound=float(bound), best_value=float(value), strategies=ctx.stats,
                   seed=seed, stop=stop, seconds_to_violation=to_seconds if first else None,
                   evals_to_violation=to_evals if first else None)
