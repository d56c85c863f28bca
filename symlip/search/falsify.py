"""The falsifier: an adversarial search for violations of a claim (MATH.md §3, §6).

:func:`falsify` spends a time (or evaluation) budget on five strategies and
returns a :class:`Verdict`, scipy-``OptimizeResult`` style:

``random``
    region points (half of them rank-one "aligned" chains, which drive the norms
    of MATH.md §3 to their bounds) and inputs on the sphere ``|x| = R``;
``hypothesis``
    hypothesis strategies for region points and inputs, with ``target()`` on the
    ratio (MATH.md §2 regions);
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

With ``max_evals`` the search is exactly reproducible for a given ``seed``; a
time budget alone makes the amount of search depend on the machine's speed.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Callable, Sequence

import mpmath
import numpy as np

from symlip.search import quantities
from symlip.search.claims import Case, Claim
from symlip.search.lower_claims import check_lower
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
STRATEGIES = {"random": 0.10, "hypothesis": 0.20, "ascent": 0.35, "pair": 0.20, "differential_evolution": 0.15}
_DE_MAX_DIM = 48
_HYP_FULL_MAX = 400  # above this many parameters hypothesis draws in a random subspace ...
_HYP_MAX_DIM = 64    # ... of this dimension (its buffer cannot hold thousands of floats)
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
        Architecture and parameter region (MATH.md §1, §2).
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
    if claim.direction == "lower":  # MATH.md §4: witnessed by construction, not searched
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
    search = _Search(claim, net, region, float(R), None if Y is None else float(Y), float(budget),
                     None if max_evals is None else int(max_evals), int(seed), dps, source)
    return _numeric_marked(search.run(names), net)


def _numeric_marked(verdict: Verdict, net: Any) -> Verdict:
    """The verdict with :meth:`Claim.numeric_note` in ``numeric`` and its message."""
    note = verdict.claim.numeric_note(net)
    if not note:
        return verdict
    return replace(verdict, numeric=note, message=f"{verdict.message}; {note}")


# ---------------------------------------------------------------------------
# the search
# ---------------------------------------------------------------------------
@dataclass
class _Cand:
    """A candidate: a point (θ, X, y) with its local estimate and direction, or a pair."""

    est: float                      # estimated value of the quantity (local or pair)
    theta: np.ndarray
    X: np.ndarray                   # (n, d0)
    y: np.ndarray | None
    strategy: str
    direction: np.ndarray | None = None   # in θ (or in x for lip_input)
    theta2: np.ndarray | None = None      # a ready pair
    x2: np.ndarray | None = None
    origin: str = ""                      # the strategy whose point a pair was built around

    @property
    def credit(self) -> str:
        return f"{self.strategy} (around {self.origin})" if self.origin and self.origin != self.strategy \
            else self.strategy


class _Budget(BaseException):
    """Raised inside a strategy when its share is spent (a BaseException so that
    hypothesis stops at once instead of treating it as a failing example)."""


class _Search:
    def __init__(self, claim: Claim, net: "MLP", region: "Region", R: float, Y: float | None, budget: float,
                 max_evals: int | None, seed: int, dps: int, source: str | None) -> None:
        self.claim, self.net, self.region, self.R, self.Y = claim, net, region, R, Y
        self.budget, self.max_evals, self.seed, self.dps, self.source = budget, max_evals, seed, dps, source
        self.q = claim.quantity
        self.P, self.d0 = net.n_params, net.d_in
        self.n = claim.bound.n_samples if self.q == "pointwise" else 1
        self.uses_y = self.q == "lip_loss_grad" or (self.q == "pointwise" and claim.bound.targets)
        self.piecewise = net.activation.is_piecewise
        self.evals = 0
        self.cands: list[_Cand] = []
        self.stats: dict[str, dict[str, float]] = {}
        om, be = region.layer_bounds(net)
        self.omega, self.beta = np.array(om, float), np.array(be, float)
        scale = region.radius if region.kind == "ball" else float(np.sqrt(np.sum(self.omega ** 2 + self.beta ** 2)))
        self.theta_scale = scale if scale > 0 else 1.0
        self.shrunk = _shrunk(region)
        # pointwise claims have no separate bound; others: the float bound, once
        self.bound = math.nan if self.q == "pointwise" else claim.bound_value(net, region, R=R, Y=Y)
        self._eig_v0: np.ndarray | None = None

    # -- bookkeeping ------------------------------------------------------
    def ratio(self, value: float, bound: float | None = None) -> float:
        b = self.bound if bound is None else bound
        return value / b if b > 0 else (math.inf if value > 0 else 0.0)

    def _tick(self, k: int = 1) -> None:
        self.evals += k
        self._cur_evals += k
        if self._cur_evals >= self._cur_max or time.perf_counter() >= self._cur_deadline:
            raise _Budget

    def record(self, cand: _Cand) -> None:
        st = self.stats[cand.strategy]
        r = self.cand_ratio(cand)
        if r > st["best_ratio"]:
            st["best_ratio"] = r
        self.cands.append(cand)
        if len(self.cands) > 400:
            self.cands.sort(key=lambda c: -self.cand_ratio(c))
            del self.cands[200:]

    def cand_ratio(self, c: _Cand) -> float:
        if self.q == "pointwise":
            return c.est  # already lhs / rhs
        return self.ratio(c.est)

    # -- run --------------------------------------------------------------
    def run(self, names: list[str]) -> Verdict:
        import hypothesis  # noqa: F401  (imported before the clock starts: first imports take a second)
        import scipy.optimize  # noqa: F401
        import scipy.sparse.linalg  # noqa: F401
        import scipy.stats.qmc  # noqa: F401  (differential_evolution initialisation)

        import symlip.search.sampling  # noqa: F401

        t0 = time.perf_counter()
        self.rng = np.random.default_rng(self.seed)
        active = [s for s in names if self._applies(s)]
        if not active:
            active = ["random"]
        share = np.array([STRATEGIES[s] for s in active])
        share = share / share.sum()
        finish_reserve = min(0.25 * self.budget, 2.0)
        run_budget = max(self.budget - finish_reserve, 0.5 * self.budget)
        for s, frac in zip(active, share):
            self.stats[s] = {"best_ratio": 0.0, "evaluations": 0, "seconds": 0.0}
            ts = time.perf_counter()
            self._cur_evals = 0
            self._cur_max = math.inf if self.max_evals is None else max(5, int(frac * self.max_evals))
            self._cur_deadline = ts + frac * run_budget if self.max_evals is None else ts + 20 * self.budget
            rng = np.random.default_rng([self.seed, list(STRATEGIES).index(s)])
            try:
                getattr(self, "_s_" + s)(rng)
            except _Budget:
                pass
            except FloatingPointError:
                pass  # float64 overflow at an extreme point: the strategy stops, others go on
            self.stats[s]["evaluations"] = self._cur_evals
            self.stats[s]["seconds"] = time.perf_counter() - ts
        return self._finish(t0)

    def _applies(self, s: str) -> bool:
        if s == "ascent":
            return self.q != "pointwise" and (self.q != "lip_input" or self.net.d_out == 1)
        if s == "pair":
            return self.q != "pointwise"
        if s == "differential_evolution":
            return self.P + self.d0 * self.n <= _DE_MAX_DIM
        return True

    # -- points -----------------------------------------------------------
    def random_point(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        net = self.net
        if rng.random() < 0.5:
            theta = self.aligned_theta(rng)
        else:
            theta = self.region.sample(net, rng)
            if rng.random() < 0.5:  # push to the boundary, where the sup usually is
                theta = self.to_boundary(theta)
        X = self.random_inputs(rng, theta)
        y = self.random_targets(rng)
        return theta, X, y

    def random_inputs(self, rng: np.random.Generator, theta: np.ndarray | None = None) -> np.ndarray:
        from symlip.models.region import sample_inputs

        X = sample_inputs(self.d0, self.R, self.n, rng, surface=rng.random() < 0.7)
        if theta is not None and rng.random() < 0.3:  # x along the top right singular vector of W_1
            W1 = self.net.unflatten(theta)[0][0]
            _, _, Vt = np.linalg.svd(W1)
            X[0] = Vt[0] * self.R * (1 if rng.random() < 0.5 else -1)
        return self.clip_inputs(X)

    def random_targets(self, rng: np.random.Generator) -> np.ndarray | None:
        if not self.uses_y:
            return None
        y = self.Y * np.where(rng.random(self.n) < 0.5, -1.0, 1.0)
        if rng.random() < 0.3:
            y = y * rng.random(self.n)
        return y

    def aligned_theta(self, rng: np.random.Generator) -> np.ndarray:
        """A rank-one chain ``W_i = ω_i u_i u_{i-1}ᵀ`` with biases along ``u_i``:
        the configuration in which the norm bounds of MATH.md §3 multiply up."""
        net = self.net
        if self.region.kind == "ball":
            d = rng.standard_normal(self.P)
            return self.region.center + self.region.radius * d / np.linalg.norm(d)
        u = rng.standard_normal(net.widths[0])
        u /= np.linalg.norm(u)
        layers = []
        for i in range(1, net.depth + 1):
            v = rng.standard_normal(net.widths[i])
            v /= np.linalg.norm(v)
            if rng.random() < 0.5:
                v = np.abs(v)
            W = self.omega[i - 1] * np.outer(v, u)
            b = self.beta[i - 1] * (v if rng.random() < 0.6 else -v) * rng.choice([1.0, rng.random()])
            layers.append((W, b))
            u = v
        return self.project(net.flatten(layers))

    def to_boundary(self, theta: np.ndarray) -> np.ndarray:
        if self.region.kind == "ball":
            d = theta - self.region.center
            n = np.linalg.norm(d)
            return theta if n == 0 else self.region.center + d * (self.region.radius / n)
        layers = []
        for (W, b), o, be in zip(self.net.unflatten(theta), self.omega, self.beta):
            s = np.linalg.norm(W, 2) if W.size else 0.0
            nb = np.linalg.norm(b)
            layers.append((W * (o / s) if s > 0 else W, b * (be / nb) if nb > 0 else b))
        return self.net.flatten(layers)

    def inward(self, theta: np.ndarray, step: float) -> np.ndarray:
        """``theta`` moved towards the region's interior by enough that a pair
        ``theta ± step/2 · d`` (``|d| = 1``) stays inside without projection."""
        if self.region.kind == "ball":
            k = min(1.0, step / self.region.radius) if self.region.radius > 0 else 0.0
            return self.region.center + (1 - k) * (theta - self.region.center)
        pos = np.concatenate([self.omega, self.beta])
        pos = pos[pos > 0]
        k = min(1.0, step / float(pos.min())) if pos.size else 0.0
        return (1 - k) * theta

    def project(self, theta: np.ndarray) -> np.ndarray:
        return self.shrunk.project(self.net, theta)

    def clip_inputs(self, X: np.ndarray) -> np.ndarray:
        lim = self.R * (1 - quantities.INSIDE)
        n = np.linalg.norm(X, axis=1, keepdims=True)
        return np.where(n > lim, X * (lim / np.maximum(n, 1e-300)), X)

    # -- local quantity -----------------------------------------------------
    def local(self, theta: np.ndarray, X: np.ndarray, y: np.ndarray | None) -> tuple[float, np.ndarray | None]:
        """The local quantity at a point and the direction realising it."""
        self._tick()
        net, q = self.net, self.q
        if q == "lip_f":
            g = net.grad(theta, X[0])
            n = float(np.linalg.norm(g))
            return n, (g / n if n > 0 else None)
        if q == "lip_input":
            J = net.jac_x(theta, X[0])
            if J.ndim == 1:
                n = float(np.linalg.norm(J))
                return n, (J / n if n > 0 else None)
            _, s, Vt = np.linalg.svd(J)
            return float(s[0]), Vt[0]
        if q in ("lip_grad", "lip_loss_grad"):
            return self.top_eig(theta, X, y)
        lhs, rhs = self.claim.bound.fn(net, theta, X, y if y is not None else np.zeros(self.n), None)
        return _pw_ratio(float(lhs), float(rhs)), None

    def hvp_op(self, theta: np.ndarray, X: np.ndarray, y: np.ndarray | None) -> Callable[[np.ndarray], np.ndarray]:
        """``v ↦`` per-sample Hessian-vector products ``(n, P)`` of f, or of the
        one-sample loss ``∇f ∇fᵀ v + (f - y) ∇²f v`` (∇f and f computed once)."""
        net = self.net
        if self.q == "lip_grad":
            return lambda v: net.hvp(theta, X, v)
        g = net.grad(theta, X)
        r = (net.f(theta, X) - y)[:, None]
        return lambda v: g * (g @ v)[:, None] + r * net.hvp(theta, X, v)

    def hvp(self, theta: np.ndarray, X: np.ndarray, y: np.ndarray | None, v: np.ndarray) -> np.ndarray:
        """One product of :meth:`hvp_op`."""
        return self.hvp_op(theta, X, y)(v)

    def top_eig(self, theta: np.ndarray, X: np.ndarray, y: np.ndarray | None) -> tuple[float, np.ndarray]:
        P = self.P
        x1 = X[:1]
        y1 = None if y is None else y[:1]
        hv = self.hvp_op(theta, x1, y1)
        if P <= 40:
            dense = getattr(self.net, "hessian", None) if self.q == "lip_grad" else None
            if dense is not None:  # a network with a batched dense Hessian (CDNN: one ODE pass)
                H = dense(theta, x1[0])
            else:
                H = np.empty((P, P))
                eye = np.eye(P)
                for j in range(P):
                    H[:, j] = hv(eye[j])[0]
                H = 0.5 * (H + H.T)
            w, V = np.linalg.eigh(H)
            k = int(np.argmax(np.abs(w)))
            return float(abs(w[k])), V[:, k] * (1 if w[k] >= 0 else -1)
        from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, eigsh

        op = LinearOperator((P, P), matvec=lambda v: hv(np.ravel(v))[0], dtype=float)
        v0 = self._eig_v0 if self._eig_v0 is not None else np.random.default_rng(0).standard_normal(P)
        try:
            w, V = eigsh(op, k=1, which="LM", v0=v0, tol=1e-6, maxiter=300, ncv=min(P, 20))
        except ArpackNoConvergence as exc:
            if exc.eigenvalues.size == 0:
                raise FloatingPointError("Lanczos did not converge") from None
            w, V = exc.eigenvalues, exc.eigenvectors
        v = V[:, 0]
        self._eig_v0 = v
        return float(abs(w[0])), v * (1 if w[0] >= 0 else -1)

    def local_grad(self, theta: np.ndarray, X: np.ndarray, y: np.ndarray | None,
                   direction: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Ascent directions of the local quantity in θ and in x."""
        net, q = self.net, self.q
        hx = 1e-6 * max(self.R, 1.0)
        x = X[0]
        Xp = np.concatenate([x + hx * np.eye(self.d0), x - hx * np.eye(self.d0)])
        self._tick(2)
        if q == "lip_f":
            g_theta = net.hvp(theta, x, direction)           # ∇|∇f| = H ∇f / |∇f|
            G = net.grad(theta, Xp)
            vals = np.linalg.norm(G, axis=1)
            g_x = (vals[: self.d0] - vals[self.d0:]) / (2 * hx)
        elif q == "lip_input":
            eps = 1e-6 * max(self.R, 1.0)
            g_theta = (net.grad(theta, x + eps * direction) - net.grad(theta, x - eps * direction)) / (2 * eps)
            J = net.jac_x(theta, Xp)
            vals = np.linalg.norm(J, axis=1)
            g_x = (vals[: self.d0] - vals[self.d0:]) / (2 * hx)
        else:
            v = direction
            eps = 1e-4 * self.theta_scale / max(1.0, math.sqrt(self.P))
            x1 = X[:1]
            y1 = None if y is None else y[:1]
            hp = self.hvp(theta + eps * v, x1, y1, v)[0]
            hm = self.hvp(theta - eps * v, x1, y1, v)[0]
            g_theta = (hp - hm) / (2 * eps)                   # D³[v, v, ·]
            yy = None if y is None else np.repeat(y[:1], 2 * self.d0)
            Hv = self.hvp(theta, Xp, yy, v)
            vals = np.abs(Hv @ v)
            g_x = (vals[: self.d0] - vals[self.d0:]) / (2 * hx)
        return g_theta, g_x

    # -- strategies ---------------------------------------------------------
    def _s_random(self, rng: np.random.Generator) -> None:
        while True:
            theta, X, y = self.random_point(rng)
            val, d = self.local(theta, X, y)
            self.record(_Cand(val, theta, X, y, "random", d))

    def _s_hypothesis(self, rng: np.random.Generator) -> None:
        from hypothesis import HealthCheck, Phase, Verbosity, given, settings, target
        from hypothesis import seed as hseed
        from hypothesis.errors import HypothesisException

        from symlip.search.sampling import inputs as st_inputs
        from symlip.search.sampling import region_points

        import hypothesis.extra.numpy as hnp
        import hypothesis.strategies as st

        net = self.net
        search = self
        ys = (st.lists(st.sampled_from([-1.0, 1.0]), min_size=self.n, max_size=self.n)
              if self.uses_y else st.none())
        if self.P > _HYP_FULL_MAX:
            # hypothesis' buffer cannot hold thousands of floats (draws overrun and are
            # rejected before any evaluation): draw a point in a random subspace instead
            basis = rng.standard_normal((self.P, _HYP_MAX_DIM)) / math.sqrt(_HYP_MAX_DIM)
            scale = self.theta_scale
            base = self.region.center if self.region.kind == "ball" else np.zeros(self.P)

            def lift(u: np.ndarray) -> np.ndarray:
                search._tick(0)
                return search.project(base + scale * (basis @ u))

            thetas = st.builds(lift, hnp.arrays(np.float64, _HYP_MAX_DIM,
                                                elements=st.floats(-1.0, 1.0, allow_nan=False)))
        else:
            thetas = region_points(net, self.shrunk)

        @settings(max_examples=10 ** 6, database=None, deadline=None, derandomize=False,
                  phases=[Phase.generate, Phase.target], suppress_health_check=list(HealthCheck),
                  report_multiple_bugs=False, verbosity=Verbosity.quiet)
        @hseed(int(rng.integers(2 ** 31)))
        @given(theta=thetas, X=st_inputs(self.d0, self.R * (1 - quantities.INSIDE),
                                                                   n=self.n), signs=ys)
        def probe(theta: np.ndarray, X: np.ndarray, signs: Any) -> None:
            y = None if signs is None else np.asarray(signs, float) * search.Y
            try:
                val, d = search.local(theta, X, y)
            except FloatingPointError:
                return
            search.record(_Cand(val, theta, X, y, "hypothesis", d))
            target(float(min(search.cand_ratio(search.cands[-1]), 1e300)), label="ratio")

        try:
            probe()
        except HypothesisException:  # e.g. the search space is exhausted
            pass

    def _s_ascent(self, rng: np.random.Generator) -> None:
        starts = sorted(self.cands, key=lambda c: -c.est)[:6]
        for theta, X in self.chain_points():  # MATH.md §4: where no global bound survives
            val, d = self.local(theta, X, None)
            chain = _Cand(val, theta, X, None, "ascent", d, origin="chain")
            self.record(chain)
            starts.insert(0, chain)
        k = 0
        while True:
            if k < len(starts):
                c = starts[k]
                theta, X, y = c.theta.copy(), c.X.copy(), None if c.y is None else c.y.copy()
            else:
                theta, X, y = self.random_point(rng)
            k += 1
            self.ascend(theta, X, y, rng)

    def chain_points(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """The lower-bound construction of MATH.md §4 fitted into the region (ball:
        around 0 with the radius the ball leaves there; box: with ``t0 = 0``), or
        nothing when it does not apply.  A region-independent ("global") bound
        fails at this point once the region is large enough."""
        from symlip.models.network import MLP

        net, q = self.net, self.q
        if q not in ("lip_f", "lip_grad") or not isinstance(net, MLP) or net.d_out != 1 or not self.R > 0:
            return []
        from symlip.bounds.lower import chain_parameters, lower_constant

        R = self.R * (1 - quantities.INSIDE)
        try:
            if self.region.kind == "ball":
                room = self.region.radius - float(np.linalg.norm(self.region.center))
                if room <= 0:
                    return []
                const = lower_constant(net.activation, q, net.depth, R, r=room)
                if room <= const.r_min:
                    return []
                theta, X = chain_parameters(net, self.region.radius * (1 - 1e-9), R, const.t0,
                                            self.region.center if np.any(self.region.center) else None)
                return [(theta, X)]
            const = lower_constant(net.activation, q, net.depth, R)
            if net.depth < 2 or const.t0 != 0.0:  # a box: the chain with t0 = 0 only
                return []
            s0 = float(net.activation.numpy(0)(np.array([0.0]))[0])
            caps = [float(np.min(self.omega)), self.beta[0] / R]
            caps += [b / abs(s0) for b in self.beta[1:-1] if s0 != 0.0]
            w = min(caps) * (1 - 1e-9)
            if not w > 0:
                return []
            layers = [(np.zeros_like(W), np.zeros_like(b)) for W, b in net.unflatten(np.zeros(self.P))]
            for j, (W, b) in enumerate(layers):
                W[0, 0] = w
                if j == 0:
                    b[0] = -w * R
                elif j < net.depth - 1:
                    b[0] = -w * s0
            X = np.zeros((1, self.d0))
            X[0, 0] = R
            return [(self.project(net.flatten(layers)), X)]
        except ValueError:  # no admissible t0 (e.g. an affine activation)
            return []

    def ascend(self, theta: np.ndarray, X: np.ndarray, y: np.ndarray | None, rng: np.random.Generator,
               iters: int = 60) -> None:
        val, d = self.local(theta, X, y)
        if d is None:
            return
        try:
            self._ascend(theta, X, y, val, d, iters)
        finally:  # a spent budget still records the best point reached
            theta, X, y, val, d = self._ascent_state
            self.record(_Cand(val, theta, X, y, "ascent", d))

    def _ascend(self, theta: np.ndarray, X: np.ndarray, y: np.ndarray | None, val: float, d: np.ndarray,
                iters: int) -> None:
        self._ascent_state = (theta, X, y, val, d)
        step_t, step_x = 0.3, 0.3
        for _ in range(iters):
            g_t, g_x = self.local_grad(theta, X, y, d)
            nt, nx = np.linalg.norm(g_t), np.linalg.norm(g_x)
            improved = False
            for _try in range(8):
                th2 = self.project(theta + step_t * self.theta_scale * g_t / nt) if nt > 0 else theta
                X2 = X.copy()
                if nx > 0 and self.R > 0:
                    X2[0] = X[0] + step_x * self.R * g_x / nx
                    X2 = self.clip_inputs(X2)
                v2, d2 = self.local(th2, X2, y)
                if v2 > val and d2 is not None:
                    theta, X, val, d = th2, X2, v2, d2
                    self._ascent_state = (theta, X, y, val, d)
                    step_t, step_x = min(step_t * 1.6, 1.0), min(step_x * 1.6, 1.0)
                    improved = True
                    break
                step_t, step_x = step_t * 0.4, step_x * 0.4
            if not improved or step_t < 1e-9:
                break
        if self.uses_y:  # the loss-Hessian norm is convex in y: its max is at y = ±Y
            for yy in (np.full(self.n, self.Y), np.full(self.n, -self.Y)):
                v2, d2 = self.local(theta, X, yy)
                if v2 > val and d2 is not None:
                    val, d, y = v2, d2, yy
                    self._ascent_state = (theta, X, y, val, d)

    def _s_pair(self, rng: np.random.Generator) -> None:
        best = sorted(self.cands, key=lambda c: -c.est)[:4]
        if not best:
            theta, X, y = self.random_point(rng)
            val, d = self.local(theta, X, y)
            best = [_Cand(val, theta, X, y, "pair", d)]
        # 1. across kinks of a piecewise activation (first: for ReLU these are
        #    where a gradient bound breaks, MATH.md §1)
        if self.piecewise and self.q != "lip_input":
            for c in best:
                for h in (1e-3, 1e-6, 1e-9):
                    pair = self.kink_pair(c.theta, c.X, c.y, h, rng)
                    if pair is not None:
                        self.rate_pair(pair, "pair", origin=c.strategy)
        # 2. along the local direction, at geometric separations
        for c in best:
            for h in (1e-1, 1e-2, 1e-3, 1e-5, 1e-8):
                for sign in (1.0, -1.0):
                    d = c.direction if c.direction is not None else rng.standard_normal(
                        self.d0 if self.q == "lip_input" else self.P)
                    pair = self.make_pair(c.theta, c.X, c.y, sign * d / np.linalg.norm(d), h)
                    self.rate_pair(pair, "pair", origin=c.strategy)
        # 3. stochastic hill climb on the pair ratio itself
        c = best[0]
        pair = self.make_pair(c.theta, c.X, c.y, c.direction if c.direction is not None else
                              rng.standard_normal(self.d0 if self.q == "lip_input" else self.P), 1e-2)
        cur = self.rate_pair(pair, "pair")
        scale = 0.05
        while True:
            th, th2, X, x2, y = pair
            th_n = self.project(th + scale * self.theta_scale * rng.standard_normal(self.P) / math.sqrt(self.P))
            if self.q == "lip_input":
                X_n = self.clip_inputs(X + scale * max(self.R, 1e-3) * rng.standard_normal(X.shape))
                x2_n = self.clip_inputs(x2 + scale * max(self.R, 1e-3) * rng.standard_normal(X.shape))
                cand = (th_n, None, X_n, x2_n, y)
            else:
                th2_n = self.project(th2 + scale * self.theta_scale * rng.standard_normal(self.P) / math.sqrt(self.P))
                X_n = self.clip_inputs(X + scale * self.R * rng.standard_normal(X.shape)) if self.R > 0 else X
                cand = (th_n, th2_n, X_n, None, y)
            v = self.rate_pair(cand, "pair")
            if v > cur:
                pair, cur = cand, v
                scale = min(scale * 1.5, 0.5)
            else:
                scale = max(scale * 0.85, 1e-6)

    def make_pair(self, theta: np.ndarray, X: np.ndarray, y: np.ndarray | None, d: np.ndarray,
                  h: float) -> tuple:
        """A pair a distance ~``h`` (relative to the region's scale) apart along ``d``,
        both points strictly inside the region."""
        if self.q == "lip_input":
            th = self.project(theta)
            step = h * max(self.R, 1.0)
            if self.R == 0:  # R = 0: the global statement in x (no input ball), pairs around 0
                x0 = self.clip_inputs(X)
                return (th, None, x0 - 0.5 * step * d[None, :], x0 + 0.5 * step * d[None, :], y)
            # both inputs inside the ball |x| <= R: the centre moved inwards by half the step
            lim = self.R * (1 - quantities.INSIDE)
            step = min(step, lim)
            x0 = self.clip_inputs(X)
            n0 = float(np.linalg.norm(x0[0]))
            if n0 > lim - 0.5 * step:
                x0 = x0 * ((lim - 0.5 * step) / n0)
            a = self.clip_inputs(x0 - 0.5 * step * d[None, :])
            b = self.clip_inputs(x0 + 0.5 * step * d[None, :])
            return (th, None, a, b, y)
        step = h * self.theta_scale
        th = self.inward(self.project(theta), step)
        a = self.project(th - 0.5 * step * d)
        b = self.project(th + 0.5 * step * d)
        return (a, b, self.clip_inputs(X), None, y)

    def kink_pair(self, theta: np.ndarray, X: np.ndarray, y: np.ndarray | None, h: float,
                  rng: np.random.Generator) -> tuple | None:
        """A pair whose hidden unit nearest a kink of σ sits just on either side of it."""
        net = self.net
        layers = net.unflatten(self.project(theta))
        z = X[0]
        best = None
        for i, (W, b) in enumerate(layers[:-1]):
            a = W @ z + b
            for j in range(a.size):
                for t0 in self.kinks:
                    gap = abs(a[j] - t0)
                    if best is None or gap < best[0]:
                        best = (gap, i, j, a[j] - t0)
            z = net.activation.numpy(0)(a)
        if best is None:
            return None
        _, i, j, off = best
        sl = net.layer_slices[i][1]
        idx = sl.start + j
        th_a, th_b = self.project(theta).copy(), self.project(theta).copy()
        th_a[idx] -= off + h
        th_b[idx] -= off - h
        th_a, th_b = self.project(th_a), self.project(th_b)
        return (th_a, th_b, self.clip_inputs(X), None, y)

    @property
    def kinks(self) -> list[float]:
        if not hasattr(self, "_kinks"):
            self._kinks = list(self.net.activation.kinks)
        return self._kinks

    def rate_pair(self, pair: tuple, strategy: str, origin: str = "") -> float:
        """The pair's value in float64 (mpmath for very close pairs); records it."""
        th, th2, X, x2, y = pair
        self._tick()
        w = {"theta": th, "theta2": th2, "x": X, "x2": x2, "y": y}
        close = (quantities.lost_digits(X, x2) if self.q == "lip_input" else quantities.lost_digits(th, th2)) > 6
        if close:
            with mpmath.workdps(30):
                val = float(quantities.pair_value_mp(self.claim, self.net, w, 30))
        else:
            val = quantities.pair_value(self.claim, self.net, w)
        self.record(_Cand(val, th, X, y, strategy, None, th2, x2, origin))
        return val

    def _s_differential_evolution(self, rng: np.random.Generator) -> None:
        from scipy.optimize import differential_evolution

        dim_t, dim_x = self.P, self.d0 * self.n
        base = self.region.center if self.region.kind == "ball" else np.zeros(self.P)
        scale = (np.full(self.P, self.region.radius) if self.region.kind == "ball"
                 else self._box_entry_scale())

        def unpack(u: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
            theta = self.project(base + scale * u[:dim_t])
            X = self.clip_inputs(self.R * u[dim_t:dim_t + dim_x].reshape(self.n, self.d0))
            y = None if not self.uses_y else self.Y * u[dim_t + dim_x:]
            return theta, X, y

        def objective(u: np.ndarray) -> float:
            theta, X, y = unpack(u)
            try:
                val, d = self.local(theta, X, y)
            except FloatingPointError:
                return 0.0
            self.record(_Cand(val, theta, X, y, "differential_evolution", d))
            return -self.cand_ratio(self.cands[-1]) if self.q == "pointwise" else -val

        n_y = self.n if self.uses_y else 0
        bounds = [(-1.0, 1.0)] * (dim_t + dim_x + n_y)
        differential_evolution(objective, bounds, seed=int(rng.integers(2 ** 31)), maxiter=10 ** 6,
                               popsize=10, tol=0.0, atol=0.0, polish=False)

    def _box_entry_scale(self) -> np.ndarray:
        s = np.empty(self.P)
        for (sw, sb), o, b, (r, c) in zip(self.net.layer_slices, self.omega, self.beta,
                                           zip(self.net.widths[1:], self.net.widths[:-1])):
            s[sw] = o / math.sqrt(min(r, c)) * 1.5
            s[sb] = b / math.sqrt(r) * 1.5
        return s

    # -- the verdict --------------------------------------------------------
    def _finish(self, t0: float) -> Verdict:
        claim, net = self.claim, self.net
        # the best candidates become pairs, rated as pairs
        ranked = sorted(self.cands, key=lambda c: -self.cand_ratio(c))
        rated: list[tuple[float, dict, str]] = []
        seen = 0
        for c in ranked:
            if seen >= 6:
                break
            seen += 1
            if self.q == "pointwise":  # strictly inside: boundary points may be out by an ulp
                w = {"theta": self.project(c.theta), "theta2": None, "x": self.clip_inputs(c.X), "x2": None,
                     "y": c.y}
            elif c.theta2 is not None or c.x2 is not None:
                w = {"theta": c.theta, "theta2": c.theta2, "x": c.X, "x2": c.x2, "y": c.y}
            elif c.direction is not None:
                best_w = None
                for h in (1e-7, 1e-5):
                    pair = self.make_pair(c.theta, c.X, c.y, c.direction, h)
                    ww = {"theta": pair[0], "theta2": pair[1], "x": pair[2], "x2": pair[3], "y": pair[4]}
                    val = self.safe_value(ww)
                    if best_w is None or val > best_w[0]:
                        best_w = (val, ww)
                w = best_w[1]
            else:
                continue
            rated.append((self.safe_value(w), w, c.credit))
        if not rated:
            theta, X, y = self.random_point(self.rng)
            pair = self.make_pair(theta, X, y, np.ones(self.d0 if self.q == "lip_input" else self.P) /
                                  math.sqrt(self.d0 if self.q == "lip_input" else self.P), 1e-3)
            w = {"theta": pair[0], "theta2": pair[1], "x": pair[2], "x2": pair[3], "y": pair[4]}
            rated.append((self.safe_value(w), w, "random"))
        # pointwise: rank by lhs/rhs
        if self.q == "pointwise":
            scored = []
            for val, w, s in rated:
                rhs = quantities.rhs_value(claim, net, w, None)
                scored.append((_pw_ratio(val, rhs), val, rhs, w, s))
            scored.sort(key=lambda t: -t[0])
            ratio, value, bound, w, strategy = scored[0]
        else:
            rated.sort(key=lambda t: -t[0])
            value, w, strategy = rated[0]
            bound = self.bound
            ratio = self.ratio(value)
        status, digits, v_mp, b_mp, msg_extra = "survived", 0, None, None, ""
        near = ratio > 1 - _NEAR
        if near:
            conf = confirm(claim, net, self.region, w, self.R, self.Y, dps=self.dps,
                           bound_value=None if claim.bound_for(net) is not None or self.q == "pointwise"
                           else bound)
            with mpmath.workdps(self.dps):
                v_mp, b_mp = mpmath.nstr(conf.value_mp, 30), mpmath.nstr(conf.bound_mp, 30)
            if conf.confirmed:
                status, digits = "violated", conf.confirmed_digits
            elif ratio > 1 or conf.margin > 0:
                status = "inconclusive"
                msg_extra = (f"float64 value {value:.17g} vs bound {bound:.17g}, but at {self.dps} digits value "
                             f"{v_mp} vs bound {b_mp}" + (f"; not admissible: {'; '.join(conf.problems)}"
                                                          if conf.problems else ""))
        seconds = time.perf_counter() - t0
        witness = Witness(
            claim=claim.name, quantity=claim.quantity, expect=claim.expect, widths=net.widths,
            activation=activation_spec(net.activation), region=region_spec(self.region), R=self.R, Y=self.Y,
            theta=np.asarray(w["theta"], float), theta2=None if w.get("theta2") is None else np.asarray(w["theta2"]),
            x=np.asarray(w["x"], float), x2=None if w.get("x2") is None else np.asarray(w["x2"]),
            y=None if w.get("y") is None else np.asarray(w["y"], float), value=float(value), bound=float(bound),
            value_mp=v_mp, bound_mp=b_mp, dps=self.dps if near else None, confirmed_digits=digits,
            bound_spec=bound_spec(claim, net, float(bound)), source=self.source, strategy=strategy, seed=self.seed,
            model=model_spec(net),
        )
        if status == "violated":
            message = (f"violated: {claim.quantity} witnessed {v_mp} > bound {b_mp} (ratio {ratio:.6g}), "
                       f"confirmed to {digits} digits at {self.dps} and {self.dps + 30} digits")
        elif status == "inconclusive":
            message = "inconclusive: " + msg_extra
        else:
            message = (f"survived: best ratio {ratio:.6g} after {self.evals} evaluations in {seconds:.2f} s "
                       f"(strategy {strategy})")
        return Verdict(status=status, best_ratio=float(ratio), witness=witness, strategy=strategy,
                       evaluations=self.evals, seconds=seconds, confirmed_digits=digits, message=message,
                       claim=claim, bound=float(bound), best_value=float(value), strategies=self.stats,
                       seed=self.seed)

    def safe_value(self, w: dict) -> float:
        """A witness's value: float64, or mpmath at 30 digits for a close pair
        (more than 3 digits cancel) and where float64 overflows."""
        if self.q != "pointwise":
            a, b = (w["x"], w["x2"]) if self.q == "lip_input" else (w["theta"], w["theta2"])
            if quantities.lost_digits(a, b) > 3:
                return self._value_mp30(w)
        try:
            return quantities.pair_value(self.claim, self.net, w)
        except FloatingPointError:
            return self._value_mp30(w)

    def _value_mp30(self, w: dict) -> float:
        with mpmath.workdps(30):
            return float(quantities.pair_value_mp(self.claim, self.net, w, 30))


def _pw_ratio(lhs: float, rhs: float) -> float:
    """``lhs / rhs`` for ``rhs > 0``; otherwise ``1 + (lhs - rhs) / max(|lhs|, |rhs|)``
    (so the ratio exceeds 1 exactly when ``lhs > rhs``)."""
    if rhs > 0:
        return lhs / rhs
    return 1.0 + (lhs - rhs) / max(abs(lhs), abs(rhs), 1e-300)


def _shrunk(region: "Region") -> "Region":
    from symlip.models.region import Region

    k = 1 - quantities.INSIDE
    if region.kind == "ball":
        return Region.ball(region.center, region.radius * k)
    scale = (lambda v: tuple(x * k for x in v) if isinstance(v, tuple) else v * k)  # noqa: E731
    return Region.box(scale(region.omega), scale(region.beta))
