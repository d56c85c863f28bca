"""Audit a claimed input-Lipschitz constant of one concrete network.

A tool (an SDP relaxation, a product of norms, a paper's table) states that a
fixed network ``x ↦ f(x; θ)`` is ``L``-Lipschitz for inputs in the ball
``|x| <= R`` (or on all of ``R^d``).  The true constant over the (convex) ball is

    L*(R) = sup_{x in B_R} ||J(x)||_2,        J = ∂f/∂x  (d_m x d_0),

(almost everywhere for piecewise-linear activations), and every pair ratio
``|f(x) - f(x')|_2 / |x - x'|_2`` with ``x, x'`` in the ball is a lower bound of
it.  :func:`input_lipschitz_lower_bound` searches for a large pair ratio,
:func:`audit_constant` turns it into a verdict on a claim (``violated`` only
when the pair's ratio exceeds the claim at two mpmath precisions), and
:func:`exact_input_lipschitz` computes ``L*`` exactly for small
piecewise-linear networks by enumerating their activation regions.

Strategies of the search (all seeded; ``max_evals`` makes it exactly
reproducible):

``random``
    points uniform in the ball and on the sphere ``|x| = R``, rated by ``||J||_2``;
``ascent``
    (smooth activations) multi-start projected ascent of ``||J(x)||_2``; its
    gradient is ``∇_x (uᵀ J(x) v)`` for the top singular pair ``(u, v)``,
    computed exactly by one forward tangent along ``v`` and one back-propagation;
``lines``
    (piecewise-linear) exact walks along chords of the ball: along a line the
    network is piecewise linear and the next boundary is found in closed form,
    so every activation region a chord crosses is visited once;
``smoothed``
    (piecewise-linear) ascent on a smoothed surrogate (each kink replaced by a
    softplus of temperature τ, annealed towards 0), then the real ``||J||`` at
    the points reached: the surrogate has a gradient where the real network
    has none (``||J||`` is constant on each region);
``walk``
    (piecewise-linear) hill climbing on the adjacency graph of the regions:
    from a point, cross to neighbouring regions (towards the nearest neuron
    boundaries, along ``±v`` and random directions) and keep the best;
``exact_region``
    when :func:`exact_input_lipschitz` applies, a point inside the region that
    attains the exact constant (disable with ``use_exact=False``); the search
    stops early once its own candidates reach the exact constant;
``climb``
    (piecewise-linear) hill climbing in activation-pattern space from the best
    points: every single-unit flip is rated (a rank-one change of ``J``) and the
    best improving one whose region meets the ball (a linear program) is taken,
    until none improves (exact neighbourhoods for one hidden layer, a heuristic
    subset for deeper networks).

The strategies run in rounds of doubling size (:func:`run_rounds`) whose
sequence does not depend on the budget, so for a seed the result is
non-decreasing in ``max_evals``.

The witness of the best point is a pair: for a piecewise-linear network the
chord through the point along the top right singular vector ``v`` (nine tenths of it) that
stays inside its region and the ball (the ratio is then exactly ``||J||_2``);
for a smooth network a symmetric pair ``x ± h v/2`` with the best ``h`` (its
ratio evaluated without cancellation, as the Gauss-Legendre quadrature of ``J``
along the segment, so tiny ``h`` costs no accuracy).
A pair straddling region boundaries never beats the best region it touches
(``|Σ J_k Δ_k| <= max ||J_k|| Σ |Δ_k|``), so within-region pairs are optimal.

For ``R=None`` (all of ``R^d``) the network must be positively homogeneous
(no biases, activation ``σ(t) = s± t``: relu, leaky_relu, identity); then
``J(cx) = J(x)`` for ``c > 0`` and the search runs on the unit ball.

The strategies are modules of :mod:`symlip.search.strategies` run by the one
search engine (:func:`symlip.search.strategies.base.run_search`) on an
:class:`~symlip.search.strategies.input_context.InputContext`; the exact
enumeration lives in :mod:`symlip.search.exact_pl`.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

import mpmath
import numpy as np

from symlip.search.audit_witness import WITNESS_KIND, AuditWitness, confirm_pair, net_key, replay_audit
from symlip.search.exact_pl import (check_net, check_radius, exact_input_lipschitz, exact_is_cheap,
                                    exact_with_point, piecewise_linear, theta_vector)
from symlip.search.strategies import INPUT_STRATEGIES
from symlip.search.strategies.base import run_search
from symlip.search.strategies.input_context import EXACT_REACHED, InputContext, pair_ratios

if TYPE_CHECKING:  # pragma: no cover
    from symlip.models.network import MLP

__all__ = ["InputLipschitzSearch", "AuditVerdict", "AuditWitness", "input_lipschitz_lower_bound", "run_rounds",
           "audit_constant", "exact_input_lipschitz", "replay_audit", "STRATEGIES", "WITNESS_KIND"]

#: the strategies, in registry order (their index seeds their random stream).
STRATEGIES = tuple(s.name for s in INPUT_STRATEGIES)

#: evaluations of the search's first round (each round doubles; see :func:`run_rounds`)
FIRST_ROUND = 500

#: Jacobian norms above ``claimed * (1 + _JAC_TOL)`` without a confirmed pair make a verdict inconclusive.
_JAC_TOL = 1e-9



# ---------------------------------------------------------------------------
# results
# ---------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class InputLipschitzSearch:
    """The best lower bound found on the input-Lipschitz constant of one network.

    Attributes
    ----------
    value : float
        The pair ratio ``|f(x) - f(x2)|_2 / |x - x2|_2`` of the pair below (float64).
    x, x2 : ndarray
        The pair, inside the input ball ``|x| <= R`` (inside the unit ball when ``R`` is None).
    strategy : str
        The strategy that found the pair's point (see the module docstring).
    evaluations, seconds : int, float
        Network evaluations (points at which J or f was computed) and wall time.
    exact : float or None
        The exact constant when :func:`exact_input_lipschitz` applies (its rigorous upper end,
        rounded up), else None.
    R : float or None
        The input radius searched (None: all of ``R^d``).
    jacobian_norm : float
        The largest ``||J(x)||_2`` seen at a point (float64); the pair ratio
        reproduces it up to rounding (piecewise-linear) or ``O(h^2)`` (smooth).
    by_strategy : dict
        Per strategy: best ``||J||_2`` seen and evaluations spent.
    seed : int
        The seed of the search.
    """

    value: float
    x: np.ndarray
    x2: np.ndarray
    strategy: str
    evaluations: int
    seconds: float
    exact: float | None
    R: float | None = None
    jacobian_norm: float = 0.0
    by_strategy: dict = field(default_factory=dict)
    seed: int = 0
    _mp: dict = field(default_factory=dict, repr=False, compare=False)   # the pair at high precision
    _net: str | None = field(default=None, repr=False, compare=False)    # which network (see net_key)


@dataclass(frozen=True, eq=False)
class AuditVerdict:
    """The verdict on one claimed constant (in the manner of ``scipy.optimize.OptimizeResult``).

    Attributes
    ----------
    tool : str
        Who claimed the constant (a peer tool's name, ``"value"`` by default).
    claimed : float
        The claimed input-Lipschitz constant.
    status : {"violated", "survived", "inconclusive"}
        ``violated``: a pair with ratio above ``claimed``, confirmed with mpmath at
        two precisions; ``survived``: nothing above it was found; ``inconclusive``:
        float64 saw a violation that high precision did not confirm (or a
        Jacobian norm above the claim had no confirming pair); both values are
        in ``message``.
    lower_bound : float
        The best lower bound found (``search.value``).
    ratio : float
        ``lower_bound / claimed``.
    witness : AuditWitness or None
        The pair, for ``violated`` and ``inconclusive``; ``.save(path)`` writes it
        and ``symlip replay FILE`` re-checks it.
    message, seconds, search
        Explanation, wall time (including the search), and the search itself.
    confirmed_digits : int
        Digits of the violation margin the two precisions agree on (0 unless violated).
    value_mp : str or None
        The pair ratio at high precision (None when not evaluated).
    """

    tool: str
    claimed: float
    status: str
    lower_bound: float
    ratio: float
    witness: Any | None
    message: str
    seconds: float
    search: InputLipschitzSearch
    confirmed_digits: int = 0
    value_mp: str | None = None

    @property
    def violated(self) -> bool:
        return self.status == "violated"

    def _repr_markdown_(self) -> str:
        """Notebook display: the verdict and its fields as a Markdown table."""
        from symlip.core.display import markdown_fields

        return markdown_fields(f"{self.tool} claims {self.claimed:g}: {self.status}", [
            ("lower bound", self.lower_bound), ("ratio", self.ratio),
            ("confirmed digits", self.confirmed_digits or None), ("seconds", round(self.seconds, 2)),
            ("message", self.message)])


def _homogeneity_problem(net: "MLP", theta: np.ndarray) -> str | None:
    """Why ``net`` at ``theta`` is not positively homogeneous (None when it is)."""
    nz = [i for i, (_, sb) in enumerate(net.layer_slices, start=1) if np.any(theta[sb] != 0)]
    if nz:
        return (f"it has non-zero biases (b_{nz[0]}); a network with biases is not positively homogeneous, "
                "so its constant depends on the input radius: give R")
    pl = piecewise_linear(net)
    if pl is None or not pl.homogeneous:
        return (f"its activation {net.activation.name!r} is not positively homogeneous; allowed: "
                "relu, leaky_relu, identity (σ(t) = s± t); give R")
    return None




def run_rounds(ctx: InputContext, plan: Sequence[tuple[Any, int]], *, seed: int, max_evals: int,
               time_limit: float) -> None:
    """Run the strategies of ``plan`` in rounds of doubling size; the budget only truncates them.

    Round ``r`` gives each budgeted strategy ``max(5, share * FIRST_ROUND * 2^r)``
    evaluations (shares normalised), in plan order, strategy ``k`` drawing from
    ``default_rng([seed, k + r * len(INPUT_STRATEGIES)])``; later rounds restart the
    strategies from the incumbents.  The sequence of evaluations does not depend on the
    budget: ``max_evals`` cuts it after that many evaluations (without rating anything a
    longer search would not rate: ``ctx.keep_last``), so for a seed the best value
    is non-decreasing in ``max_evals``; ``time_limit`` (seconds) is only a safety limit.
    (:func:`input_lipschitz_lower_bound` runs a time budget as one pass by share: rounds cut
    by the clock lost ground, docs/theory.md §8.6.)  The strategies of share 0 run
    once at the end (:func:`~symlip.search.strategies.base.run_search`).
    """
    budgeted = [(s, k) for s, k in plan if s.share_for(ctx) > 0]
    total = sum(s.share_for(ctx) for s, _ in budgeted) or 1.0
    end = time.perf_counter() + time_limit
    cap = max_evals
    r = 0
    while budgeted and not ctx.done():
        for strat, index in budgeted:
            allowance = max(5, int(strat.share_for(ctx) / total * FIRST_ROUND * 2 ** r))
            left, now = cap - ctx.eng.evals, time.perf_counter()
            if left <= 0 or now >= end or ctx.done():
                budgeted = []
                break
            ctx.keep_last = allowance <= left
            run_search(ctx, [(strat, index + len(INPUT_STRATEGIES) * r)], seed=seed, seconds=end - now,
                       max_evals=int(min(allowance, left)), time_limit=end - now)
        r += 1
    ctx.keep_last = True
    run_search(ctx, [(s, k) for s, k in plan if s.share_for(ctx) <= 0], seed=seed, seconds=1.0, max_evals=None,
               time_limit=1.0)


def input_lipschitz_lower_bound(net: "MLP", theta: Any, *, R: float | None, budget: float = 5.0, seed: int = 0,
                                max_evals: int | None = None, use_exact: bool = True,
                                strategies: Sequence[str] | None = None) -> InputLipschitzSearch:
    """Search for the largest pair ratio ``|f(x) - f(x2)|_2 / |x - x2|_2`` over the input ball.

    Parameters
    ----------
    net, theta : MLP, array of shape (P,)
        One concrete network (vector outputs allowed: the constant is the
        supremum of the Jacobian's spectral norm).
    R : float or None
        Input radius ``|x| <= R``; None means all of ``R^d`` and is allowed only
        for positively homogeneous networks (all biases zero, activation relu,
        leaky_relu or identity), whose constant does not depend on the radius.
    budget : float
        Seconds of search (ignored, apart from a safety limit of 20x, when ``max_evals`` is given):
        the same sequence of evaluations, cut at the deadline.
    seed : int
        Seed of every random choice.
    max_evals : int, optional
        Evaluation budget (points at which J or f is computed); makes the search
        exactly reproducible for a seed, and its value non-decreasing in ``max_evals``.
    use_exact : bool
        Add the region attaining :func:`exact_input_lipschitz` as a candidate when
        it applies.  Either way ``exact`` is reported, and the strategies stop as
        soon as their own candidates reach it.
    strategies : sequence of str, optional
        A subset of :data:`STRATEGIES` (default: all that apply to the activation).

    Returns
    -------
    InputLipschitzSearch
    """
    t0 = time.perf_counter()
    check_net(net)
    th = theta_vector(net, theta)
    R = check_radius(R)
    if R is None:
        why = _homogeneity_problem(net, th)
        if why is not None:
            raise ValueError(f"R=None (all of R^d) needs a positively homogeneous network, but {why}")
    if isinstance(budget, (bool, np.bool_)) or not (isinstance(budget, (int, float, np.integer, np.floating))
                                                    and math.isfinite(budget) and budget > 0):
        raise ValueError(f"budget must be a positive number of seconds; got {budget!r}")
    if max_evals is not None and (isinstance(max_evals, (bool, np.bool_))
                                  or not isinstance(max_evals, (int, np.integer)) or max_evals < 10):
        raise ValueError(f"max_evals must be an integer >= 10 or None; got {max_evals!r}")
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0; got {seed!r}")
    ctx = InputContext(net, th, R, int(seed))
    eng = ctx.eng
    registry = [cls() for cls in INPUT_STRATEGIES]
    budgeted = [s.name for s in registry if s.share_for(ctx) > 0 and s.applies(ctx)]
    if strategies is None:
        names = budgeted
    else:
        names = [strategies] if isinstance(strategies, str) else list(strategies)
        for s in names:
            if s not in STRATEGIES:
                raise ValueError(f"unknown strategy {s!r}; allowed: {', '.join(STRATEGIES)}")
        if not names:
            raise ValueError("give at least one strategy")
        use_exact = use_exact and "exact_region" in names
        names = [s for s in names if s != "exact_region"]
        for s in names:
            if s not in budgeted:
                kind = "piecewise-linear" if eng.pl is not None else "non-piecewise-linear"
                raise ValueError(f"strategy {s!r} does not apply to the {kind} activation "
                                 f"{net.activation.name!r}; applicable: {', '.join(budgeted)}, exact_region")
    # the exact constant, and a point of the region attaining it
    if exact_is_cheap(net):
        try:
            ctx.exact, ctx.exact_point = exact_with_point(net, th, R)
        except ValueError:
            pass
    affine = eng.m == 1 or (eng.pl is not None and not eng.pl.kinks)
    if affine:  # J is constant: a few points are all there is
        ctx.cur = "random"
        X = ctx.sample(np.random.default_rng([int(seed), 0]), 8)
        ctx.offer(X, eng.norms(X))
        names = []
    plan = [(registry[STRATEGIES.index(s)], STRATEGIES.index(s)) for s in names]
    exact_region = registry[STRATEGIES.index("exact_region")]
    if use_exact and exact_region.applies(ctx):
        plan.append((exact_region, STRATEGIES.index("exact_region")))
    if max_evals is None:   # a time budget: each strategy its share of the seconds, in one pass
        run_search(ctx, plan, seed=int(seed), seconds=budget, max_evals=None, time_limit=20 * budget)
    else:                   # an evaluation budget: the rounds, whose result is monotone in max_evals
        run_rounds(ctx, plan, seed=int(seed), max_evals=max_evals, time_limit=20 * budget)
    # pairs at the best distinct points
    cand_X = np.array([x for x, _ in ctx.finalists], dtype=float).reshape(-1, net.d_in)
    cand_s = [s for _, s in ctx.finalists]
    if not cand_X.shape[0]:  # every strategy ran out before evaluating anything
        cand_X = ctx.sample(np.random.default_rng([int(seed), 99]), 1)
        ctx.offer(cand_X, eng.norms(cand_X))
        cand_s = [ctx.cur]
    ratios, A, B = ctx.pairs(cand_X)
    j = int(np.argmax(ratios))
    x, x2 = A[j], B[j]
    value = float(pair_ratios(net, th, x[None, :], x2[None, :], smooth=eng.pl is None)[0][0])
    return InputLipschitzSearch(value=value, x=x, x2=x2, strategy=cand_s[j], evaluations=int(eng.evals),
                                seconds=time.perf_counter() - t0, exact=ctx.exact, R=R,
                                jacobian_norm=float(ctx.best_local), by_strategy=ctx.by, seed=int(seed),
                                _net=net_key(net, th))



# ---------------------------------------------------------------------------
# the audit
# ---------------------------------------------------------------------------
def _check_claimed(claimed: Any) -> float:
    if isinstance(claimed, (str, bytes, bool, np.bool_)):
        raise TypeError(f"claimed must be a number > 0; got {claimed!r}")
    try:
        c = float(claimed)
    except (TypeError, ValueError):
        raise TypeError(f"claimed must be a number > 0; got {claimed!r} of type {type(claimed).__name__}") from None
    if not (math.isfinite(c) and c > 0):
        raise ValueError(f"claimed must be a finite number > 0 (a Lipschitz constant); got {claimed!r}")
    return c


def audit_constant(net: "MLP", theta: Any, claimed: float, *, R: float | None, budget: float = 5.0, seed: int = 0,
                   tool: str = "value", search: InputLipschitzSearch | None = None, dps: int = 50,
                   max_evals: int | None = None) -> AuditVerdict:
    """Check a claimed input-Lipschitz constant of one network on ``|x| <= R`` (or ``R^d``).

    Parameters
    ----------
    net, theta : MLP, array of shape (P,)
        The network.
    claimed : float
        The claimed constant (finite, > 0).
    R : float or None
        Input radius; None for all of ``R^d`` (positively homogeneous networks only).
    budget, seed, max_evals
        Passed to :func:`input_lipschitz_lower_bound` (unless ``search`` is given).
    tool : str
        Who claims the constant (recorded in the verdict and the witness).
    search : InputLipschitzSearch, optional
        A search already run on this network and radius (several claims can share one).
    dps : int
        Digits of the mpmath confirmation (also run at ``dps + 30``).

    Returns
    -------
    AuditVerdict
        ``violated`` only when the pair's ratio exceeds ``claimed`` at both precisions.
    """
    from symlip.core.precision import check_dps
    from symlip.search.witness import activation_spec

    t0 = time.perf_counter()
    check_net(net)
    th = theta_vector(net, theta)
    c = _check_claimed(claimed)
    R = check_radius(R)
    dps = check_dps(dps)
    if not isinstance(tool, str) or not tool.strip():
        raise ValueError(f"tool must be a non-empty string; got {tool!r}")
    if search is None:
        search = input_lipschitz_lower_bound(net, th, R=R, budget=budget, seed=seed, max_evals=max_evals)
    else:
        if not isinstance(search, InputLipschitzSearch):
            raise TypeError(f"search must be an InputLipschitzSearch; got {type(search).__name__}")
        if search._net is not None and search._net != net_key(net, th):
            raise ValueError("the search was run on a different network (architecture, activation or theta)")
        if search.R != R:
            raise ValueError(f"the search was run for R = {search.R!r}, the audit asks for R = {R!r}")
        if np.shape(search.x) != (net.d_in,) or np.shape(search.x2) != (net.d_in,):
            raise ValueError(f"the search's pair has shapes {np.shape(search.x)}, {np.shape(search.x2)}; "
                             f"the network needs inputs of dimension {net.d_in}")
        if R is None and (why := _homogeneity_problem(net, th)) is not None:
            raise ValueError(f"R=None (all of R^d) needs a positively homogeneous network, but {why}")
    L = float(search.value)
    ratio = L / c
    where = "in R^d" if R is None else f"with |x| <= {R!r}"
    found = f"found by {search.strategy} in {search.evaluations} evaluations"
    exact_note = "" if search.exact is None else f"; exact constant {search.exact:.12g} (regions enumerated)"
    witness, digits, vmp = None, 0, None

    def verdict(status: str, msg: str) -> AuditVerdict:
        return AuditVerdict(tool=tool, claimed=c, status=status, lower_bound=L, ratio=ratio, witness=witness,
                            message=msg, seconds=time.perf_counter() - t0, search=search,
                            confirmed_digits=digits, value_mp=vmp)

    if L > c:
        conf = confirm_pair(net, th, search.x, search.x2, c, R, dps, cache=search._mp)
        with mpmath.workdps(dps):
            vmp = mpmath.nstr(conf.value_mp, 30)
        digits = conf.confirmed_digits if conf.confirmed else 0
        witness = AuditWitness(tool=tool, claimed=c, R=R, widths=net.widths,
                               activation=activation_spec(net.activation), theta=th.copy(),
                               x=np.array(search.x, float), x2=np.array(search.x2, float), value=L, value_mp=vmp,
                               dps=dps, confirmed_digits=digits, strategy=search.strategy, seed=search.seed)
        if conf.confirmed:
            return verdict("violated", (
                f"violated: inputs x, x2 {where} have |f(x) - f(x2)| / |x - x2| = {vmp} > claimed {c!r} "
                f"(ratio {ratio:.6g}); confirmed with mpmath at {dps} and {dps + 30} digits "
                f"({digits} digits of the margin agree); {found}{exact_note}"))
        if search.exact is not None and search.exact <= c:   # rounding only: the rigorous constant is <= c
            witness, digits = None, 0
            return verdict("survived", (
                f"survived: the claimed {c!r} is at or above the exact constant's rigorous upper end "
                f"{search.exact!r} (the float64 pair ratio {L!r} exceeds it by rounding only); {found}"))
        why = ("; ".join(conf.problems) + "; ") if conf.problems else ""
        return verdict("inconclusive", (
            f"inconclusive: the float64 pair ratio {L!r} exceeds the claimed {c!r}, but at {dps} digits the "
            f"pair gives {vmp}; {why}the violation is not confirmed; {found}{exact_note}"))
    if search.exact is not None and search.exact > c * (1 + EXACT_REACHED):
        return verdict("inconclusive", (
            f"inconclusive: the exact constant {search.exact!r} exceeds the claimed {c!r}, but the search's best "
            f"pair ratio is only {L!r}; {found}"))
    if search.jacobian_norm > c * (1 + _JAC_TOL):
        return verdict("inconclusive", (
            f"inconclusive: a Jacobian norm {search.jacobian_norm!r} > claimed {c!r} was seen, but the best pair "
            f"ratio is {L!r} (no pair confirms it); {found}"))
    return verdict("survived", (
        f"survived: no pair {where} with ratio above the claimed {c!r}; best lower bound {L:.12g} "
        f"({ratio:.6g} x claimed), {found}{exact_note}"))
