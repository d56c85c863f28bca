"""Step sizes from local Lipschitz constants, and gradient descent with them (docs/theory.md §6).

The rule
--------
At an iterate ``θ_k`` with data ``(X, y)`` (``|x_n| <= R``, ``|y_n| <= Y``) the
loss ``ℓ(θ) = (1/N) Σ_n ½ (f(x_n; θ) - y_n)²`` has an ``L_k``-Lipschitz gradient
on the ball ``B(θ_k, δ)``, with ``L_k`` the U3 bound (docs/theory.md §3) evaluated on
the box that contains the ball (docs/theory.md §2)::

    ω_i = ||W_i||_2 + δ,   β_i = |b_i| + δ,   L_k = L_f² + (F + Y) L_∇f.

``R = max_n |x_n|`` and ``Y = max_n |y_n|`` are valid radii for the data.  The
step is

    η_k = min( 1/L_k , δ/|∇ℓ(θ_k)| ),

so the step ``θ_{k+1} = θ_k - η_k ∇ℓ(θ_k)`` stays in ``B(θ_k, δ)`` (the segment
to it lies in the convex ball, where ``∇ℓ`` is ``L_k``-Lipschitz) and the
descent lemma gives ``ℓ(θ_{k+1}) <= ℓ(θ_k) - (η_k/2) |∇ℓ(θ_k)|²``: the loss
never increases.  Both caps are shrunk by the relative margin
:data:`MARGIN` (``2^-30 ≈ 9.3e-10``) so that float64 rounding of ``L_k``,
``|∇ℓ|`` and of the step itself cannot push ``η_k`` over the exact caps; the
claims in ``proofs/stepsize.py`` check the rule exactly as implemented here.

U3 needs the smooth activation class (it uses U2, the Lipschitz constant of
``∇_θ f``): for a network of depth ``m >= 2`` with, e.g., ReLU the rule raises
``ValueError`` (at depth 1 the network is affine and no activation is used).

Two evaluation paths, sharing no arithmetic: :func:`local_step` in float64 and
:func:`local_step_mp` at ``dps`` digits (U3 by :meth:`Bound.evaluate_mp` with the
spectral norms of ``θ_k``'s layers from an mpmath SVD, ``ℓ`` and ``∇ℓ`` from the
network's mpmath path).  :func:`gradient_descent` drives either the rule or a
fixed step and returns a :class:`DescentResult`.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Literal

import mpmath
import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from symlip.models.network import MLP

__all__ = ["MARGIN", "LocalStep", "DescentResult", "local_step", "local_step_mp", "loss_mp",
           "descent_sides", "gradient_descent", "certified_loss_curvature"]

#: relative margin by which both caps of the rule are shrunk (an exact binary fraction)
MARGIN = 2.0 ** -30

Cap = Literal["curvature", "ball", "fixed"]
_STATUSES = ("target", "converged", "stationary", "max_steps", "diverged")


# ---------------------------------------------------------------------------
# the rule
# ---------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class LocalStep:
    """One step of the local rule at an iterate (docs/theory.md §6).

    Numbers are floats from :func:`local_step`, ``mpmath.mpf`` from
    :func:`local_step_mp`.

    Attributes
    ----------
    eta : float
        The step size ``min(1/((1+κ) L), (1-κ) δ/|∇ℓ|)``, ``κ`` = :data:`MARGIN`.
    L : float
        U3 (docs/theory.md §3) on the ball ``B(θ, δ)``: a Lipschitz constant of ``∇ℓ`` there.
    grad_norm : float
        ``|∇ℓ(θ)|``.
    delta : float
        The ball radius ``δ``.
    cap : {"curvature", "ball"}
        Which cap is smaller: ``1/L`` (curvature) or ``δ/|∇ℓ|`` (ball).
    loss : float
        ``ℓ(θ)``.
    R, Y : float
        The data radii used (``max_n |x_n|`` and ``max_n |y_n|`` unless given larger).
    grad : numpy.ndarray
        ``∇ℓ(θ)`` (float64 array, or object array of ``mpf``).
    """

    eta: Any
    L: Any
    grad_norm: Any
    delta: float
    cap: Cap
    loss: Any
    R: Any
    Y: Any
    grad: np.ndarray = field(repr=False)

    @property
    def curvature_cap(self) -> Any:
        """``1/((1+κ) L)``: the largest step the descent lemma allows (with the margin)."""
        return 1 / ((1 + MARGIN) * self.L)

    @property
    def ball_cap(self) -> Any:
        """``(1-κ) δ/|∇ℓ|`` (``inf`` at a stationary point): the largest step inside ``B(θ, δ)``."""
        if not self.grad_norm:
            return math.inf
        return (1 - MARGIN) * self.delta / self.grad_norm

    @property
    def step_length(self) -> Any:
        """``η |∇ℓ(θ)|``, the distance from ``θ`` to the next iterate (``<= δ``)."""
        return self.eta * self.grad_norm


def local_step(net: "MLP", theta: Any, X: Any, y: Any, delta: float, *, R: float | None = None,
               Y: float | None = None, certified: bool = False, budget: float = 10.0) -> LocalStep:
    """The local rule ``η = min(1/L, δ/|∇ℓ(θ)|)`` at ``theta`` in float64 (docs/theory.md §6).

    Parameters
    ----------
    net : MLP
        Scalar-output network; depth ``>= 2`` needs a smooth activation (U3 uses U2).
    theta : array_like, shape (P,)
        The iterate ``θ_k``.
    X : array_like, shape (N, d_0)
        Inputs ``x_n``.
    y : array_like, shape (N,)
        Targets ``y_n``.
    delta : float
        Radius ``δ > 0`` of the ball ``B(θ_k, δ)`` on which ``L_k`` is computed.
    R, Y : float, optional
        Input and target radii; default ``max_n |x_n|`` and ``max_n |y_n|``.
        Given values must be at least those (else the bound would not cover the data).
    certified : bool
        Use for ``L`` the smaller of U3 and a certified upper bound of
        ``sup ||∇²_θ ½(f - y)²||_2`` over ``B(θ, δ)``, ``|x| <= R``, ``|y| <= Y``: the
        enclosure of the ball's root box by :class:`symlip.certify.enclose.Problem`
        (``lip_loss_grad``; the first box of :func:`symlip.certify.certify`'s branch and
        bound, a rigorous arb bound — for one hidden layer the structured bound of
        :mod:`symlip.certify.shallow`).  It bounds the Hessian of the mean loss too, so the
        step ``1/((1+κ)L)`` stays safe (docs/theory.md §6); it is never smaller than the U3 step.
    budget : float
        Seconds allowed for that enclosure when ``certified`` (main thread; if it does not
        finish in time, ``L`` is U3).

    Returns
    -------
    LocalStep

    Raises
    ------
    ValueError
        Non-smooth activation at depth ``>= 2``, ``delta <= 0``, radii smaller
        than the data's, or invalid shapes.
    TypeError
        ``net`` is not an MLP or ``delta`` is not a number.
    """
    from symlip.bounds.symbolic import derive
    from symlip.models.region import Region

    _check_net(net)
    _require_smooth(net)
    delta = _check_delta(delta)
    th, X2, yv = net.check_data(theta, X, y)
    R, Y = _radii(X2, yv, R, Y)
    loss = net.loss(th, X2, yv)
    g = net.loss_grad(th, X2, yv)
    gn = float(np.linalg.norm(g))
    L = derive("lip_loss_grad", net.depth).evaluate(net, Region.ball(th, delta), R=R, Y=Y)
    if certified:
        L = min(L, certified_loss_curvature(net, th, delta, R, Y, budget))
    return _assemble(L, gn, delta, loss, R, Y, g, inf=math.inf)


def certified_loss_curvature(net: "MLP", theta: np.ndarray, delta: float, R: float, Y: float,
                             budget: float) -> float:
    """A float ``>= sup ||∇²_θ ½(f(x;θ') - y)²||_2`` over ``|θ' - θ| <= δ``, ``|x| <= R``,
    ``|y| <= Y``: the rigorous root-box enclosure of :class:`symlip.certify.enclose.Problem`
    rounded up, or ``inf`` when it does not finish within ``budget`` seconds (main thread)."""
    from symlip.activations.timelimit import call_with_time_limit
    from symlip.certify.enclose import Problem
    from symlip.certify.interval import float_up
    from symlip.models.region import Region

    t0 = time.monotonic()
    prob = Problem("lip_loss_grad", net, Region.ball(theta, delta), R, Y)
    try:
        up, _ = call_with_time_limit(budget - (time.monotonic() - t0), prob.enclose, *prob.root())
    except Exception:
        if time.monotonic() - t0 < budget:
            raise
        return math.inf
    # an alarm swallowed inside numpy's object loops could leave a hole: a result at or after
    # the deadline is not used (as in symlip.certify.bnb.Search.enclose)
    if up is None or time.monotonic() - t0 >= budget:
        return math.inf
    return float_up(up)


def local_step_mp(net: "MLP", theta: Any, X: Any, y: Any, delta: float, dps: int = 50, *,
                  R: float | None = None, Y: float | None = None) -> LocalStep:
    """:func:`local_step` at ``dps`` digits, independently of the float64 path.

    ``ℓ`` and ``∇ℓ`` come from :meth:`MLP.f_mp` / :meth:`MLP.grad_mp`; ``L`` from
    :meth:`Bound.evaluate_mp` with ``ω_i = ||W_i||_2 + δ`` from an mpmath SVD of
    ``θ``'s blocks (floats converted exactly) and ``R = max_n |x_n|`` in mpmath.
    The returned numbers are ``mpf`` at ``dps`` digits; ``grad`` is an object
    array of ``mpf``.  ``theta``, ``X``, ``y`` must be float arrays (witnesses are).
    """
    from symlip.bounds.symbolic import derive
    from symlip.core.precision import check_max_dps
    from symlip.core.precision import check_dps, norm_mp
    from symlip.models.region import Region, layer_bounds_mp

    _check_net(net)
    _require_smooth(net)
    dps = check_dps(dps)
    check_max_dps(dps)
    delta = _check_delta(delta)
    th, X2, yv = net.check_data(theta, X, y)
    Rf, Yf = _radii(X2, yv, R, Y)
    bound = derive("lip_loss_grad", net.depth)
    ball = Region.ball(th, delta)
    values: dict[str, Any] = dict(bound.values_for(net, ball, R=Rf, Y=Yf))
    with mpmath.workdps(dps):
        om, be = layer_bounds_mp(net, ball, dps)
        for i, (o, b) in enumerate(zip(om, be), start=1):
            values[f"omega_{i}"], values[f"beta_{i}"] = o, b
        Rm = mpmath.mpf(R) if R is not None else max(norm_mp(row) for row in X2)
        Ym = mpmath.mpf(Y) if Y is not None else max(abs(mpmath.mpf(float(v))) for v in yv)
        if "R" in values:
            values["R"] = Rm
        if "Y" in values:
            values["Y"] = Ym
        L = bound.evaluate_mp(values, dps=dps)
        loss, g = _loss_and_grad_mp(net, th, X2, yv, dps)
        gn = norm_mp(g)
        step = _assemble(L, gn, mpmath.mpf(delta), loss, Rm, Ym, g, inf=mpmath.inf)
    return step


def _assemble(L: Any, gn: Any, delta: Any, loss: Any, R: Any, Y: Any, g: np.ndarray, inf: Any) -> LocalStep:
    # L >= L_f^2 >= 1 (the output bias alone has |∂f/∂b_m| = 1), so 1/L is finite
    curv = 1 / ((1 + MARGIN) * L)
    ball = (1 - MARGIN) * delta / gn if gn > 0 else inf
    cap: Cap = "curvature" if curv <= ball else "ball"
    return LocalStep(eta=min(curv, ball), L=L, grad_norm=gn, delta=float(delta), cap=cap, loss=loss, R=R, Y=Y,
                     grad=g)


def loss_mp(net: "MLP", theta: Any, X: Any, y: Any, dps: int = 50) -> mpmath.mpf:
    """``ℓ(θ) = (1/N) Σ_n ½ (f(x_n; θ) - y_n)²`` at ``dps`` digits (``theta`` may hold ``mpf``)."""
    from symlip.core.precision import check_max_dps
    from symlip.core.precision import to_mp, workdps

    check_max_dps(dps)
    with workdps(dps):  # checks dps
        F = net.f_mp(theta, X, dps=dps)
        Y = to_mp(np.asarray(y, dtype=object) if isinstance(y, np.ndarray) and y.dtype == object
                  else np.asarray(y, dtype=float))
        F, Y = np.atleast_1d(F), np.atleast_1d(Y)
        return +(mpmath.fsum((f - t) ** 2 for f, t in zip(F, Y)) / (2 * len(F)))


def descent_sides(net: "MLP", theta: Any, X: Any, y: Any, delta: float, dps: int | None = None,
                  eta: Callable[[LocalStep, int | None], Any] | None = None) -> tuple[Any, Any]:
    """Both sides of the descent lemma ``(η/2)|g|² <= ℓ(θ) - ℓ(θ - ηg)`` (docs/theory.md §6).

    Parameters
    ----------
    net, theta, X, y, delta
        As in :func:`local_step`.
    dps : int, optional
        None: float64 (:func:`local_step`, :meth:`MLP.loss`); an integer: at that
        many digits (:func:`local_step_mp`, :func:`loss_mp`, ``θ - ηg`` formed exactly).
    eta : callable, optional
        ``eta(step, dps) -> η`` replaces the rule's step size (for claims about
        other rules, e.g. the mutants in ``proofs/mutants``); it gets the
        :class:`LocalStep` at ``theta`` and must return a float (``dps`` None) or
        an ``mpf``.

    Returns
    -------
    (guaranteed, actual) : floats or mpf
        ``(η/2)|∇ℓ(θ)|²`` and ``ℓ(θ) - ℓ(θ - η∇ℓ(θ))``.
    """
    if dps is None:
        st = local_step(net, theta, X, y, delta)
        e = st.eta if eta is None else float(eta(st, None))
        th = net.check_theta(theta)
        return 0.5 * e * st.grad_norm ** 2, st.loss - net.loss(th - e * st.grad, X, y)
    from symlip.core.precision import to_mp

    st = local_step_mp(net, theta, X, y, delta, dps)
    with mpmath.workdps(dps):
        e = st.eta if eta is None else mpmath.mpf(eta(st, dps))
        after = loss_mp(net, to_mp(net.check_theta(theta)) - e * st.grad, X, y, dps)
        return e * st.grad_norm ** 2 / 2, st.loss - after


def _loss_and_grad_mp(net: "MLP", th: np.ndarray, X: np.ndarray, y: np.ndarray,
                      dps: int) -> tuple[mpmath.mpf, np.ndarray]:
    """``ℓ`` and ``∇ℓ = (1/N) Σ_n r_n ∇_θ f(x_n)`` at ``dps`` digits."""
    F = net.f_mp(th, X, dps=dps)
    G = net.grad_mp(th, X, dps=dps)
    n = X.shape[0]
    with mpmath.workdps(dps):
        r = [F[k] - mpmath.mpf(float(y[k])) for k in range(n)]
        loss = mpmath.fsum(t * t for t in r) / (2 * n)
        g = np.empty(net.n_params, dtype=object)
        for j in range(net.n_params):
            g[j] = mpmath.fsum(r[k] * G[k, j] for k in range(n)) / n
    return loss, g


# ---------------------------------------------------------------------------
# gradient descent
# ---------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class DescentResult:
    """The outcome of :func:`gradient_descent` (in the manner of ``scipy.optimize.OptimizeResult``).

    Attributes
    ----------
    theta : numpy.ndarray
        The last iterate (the last finite one when the run diverged).
    loss : float
        ``ℓ(theta)``.
    status : {"target", "converged", "stationary", "max_steps", "diverged"}
        ``target``: the loss reached ``target_loss`` (and ``stop_at_target``);
        ``converged``: the predicted decrease ``(η/2)|∇ℓ|²`` fell to the float64
        resolution of the loss (see :func:`gradient_descent`); ``stationary``:
        ``|∇ℓ| <= gtol`` (``∇ℓ = 0`` by default); ``max_steps``: the step budget
        ran out; ``diverged``: the loss became non-finite (overflow) or grew by
        more than ``blowup`` times its initial value.
    message : str
        One human sentence.
    steps : int
        Steps taken (``len(losses) - 1``).
    losses : numpy.ndarray, shape (steps + 1,)
        ``ℓ(θ_0), ..., ℓ(θ_steps)`` (finite values only).
    etas, grad_norms : numpy.ndarray, shape (steps,)
        ``η_k`` and ``|∇ℓ(θ_k)|`` of each step taken.
    Ls : numpy.ndarray, shape (steps,)
        ``L_k`` of the local rule (NaN for a fixed step).
    caps : tuple of str
        Which cap set each ``η_k`` (``"curvature"``, ``"ball"`` or ``"fixed"``).
    rule : str
        ``"local(δ=...)"`` or ``"fixed(η=...)"``.
    target_loss : float or None
    target_step : int or None
        First ``k`` with ``ℓ(θ_k) <= target_loss`` (None if never).
    seconds : float
    """

    theta: np.ndarray
    loss: float
    status: str
    message: str
    steps: int
    losses: np.ndarray
    etas: np.ndarray
    grad_norms: np.ndarray
    Ls: np.ndarray
    caps: tuple[str, ...]
    rule: str
    target_loss: float | None = None
    target_step: int | None = None
    seconds: float = 0.0

    @property
    def success(self) -> bool:
        """Reached the target, converged or stopped at a stationary point."""
        return self.status in ("target", "converged", "stationary")

    @property
    def monotone(self) -> bool:
        """Whether the recorded losses never increase."""
        return bool(np.all(np.diff(self.losses) <= 0))

    @property
    def max_increase(self) -> float:
        """The largest one-step increase of the loss (0 for a monotone run)."""
        return float(max(0.0, np.max(np.diff(self.losses)))) if self.losses.size > 1 else 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary (arrays as lists; non-finite floats as strings)."""
        def num(v: float) -> float | str:
            return float(v) if math.isfinite(v) else repr(float(v))

        return {"rule": self.rule, "status": self.status, "message": self.message, "steps": self.steps,
                "loss": num(self.loss), "target_loss": self.target_loss, "target_step": self.target_step,
                "monotone": self.monotone, "seconds": round(self.seconds, 4),
                "losses": [num(v) for v in self.losses], "etas": [num(v) for v in self.etas],
                "grad_norms": [num(v) for v in self.grad_norms], "Ls": [num(v) for v in self.Ls],
                "caps": list(self.caps)}

    def __repr__(self) -> str:
        keys = ("rule", "status", "steps", "loss", "target_step", "monotone", "message")
        width = max(map(len, keys))
        return "\n".join(f"{k.rjust(width)}: {getattr(self, k)!r}" for k in keys)


def gradient_descent(net: "MLP", theta0: Any, X: Any, y: Any, step: str | float = "local", *,
                     delta: float = 0.5, max_steps: int = 1000, target_loss: float | None = None,
                     stop_at_target: bool = True, rtol: float = 1e-12, gtol: float = 0.0,
                     blowup: float = 1e12, R: float | None = None, Y: float | None = None,
                     callback: Callable[[int, np.ndarray, float], Any] | None = None) -> DescentResult:
    """Full-batch gradient descent ``θ_{k+1} = θ_k - η_k ∇ℓ(θ_k)`` on the squared loss (docs/theory.md §6).

    Parameters
    ----------
    net : MLP
        Scalar-output network.
    theta0 : array_like, shape (P,)
        Starting point.
    X, y : array_like
        Data ``(N, d_0)`` and ``(N,)``.
    step : "local" or float
        ``"local"``: the rule of :func:`local_step` on ``B(θ_k, delta)`` at every
        step (needs a smooth activation at depth ``>= 2``); a positive number:
        that fixed step size.
    delta : float
        Ball radius of the local rule.
    max_steps : int
        Step budget (``>= 0``).
    target_loss : float, optional
        Record the first step with ``ℓ <= target_loss`` (``target_step``) and,
        with ``stop_at_target``, stop there.
    rtol : float
        Convergence: stop (status ``"converged"``) before a step whose predicted
        decrease ``(η_k/2)|∇ℓ(θ_k)|²`` is at most ``rtol · (ℓ_k + mean_n |r_n|
        (|f_n| + |y_n|))``, ``r_n = f_n - y_n``.  The bracket bounds the size of
        the numbers whose float64 rounding makes up the computed loss (the
        residuals are differences of ``f_n`` and ``y_n``), so with the default
        ``1e-12`` — far above float64's relative rounding — a step of the local
        rule that is taken always decreases the loss by more than rounding can
        hide: the recorded losses of the local rule never increase.
    gtol : float
        Stop (status ``"stationary"``) when ``|∇ℓ(θ_k)| <= gtol``; default: only at
        an exact zero gradient.
    blowup : float
        Status ``"diverged"`` when ``ℓ_k > blowup · ℓ_0`` or ``ℓ_k`` is not finite.
    R, Y : float, optional
        Radii for the local rule (default: from the data).
    callback : callable, optional
        ``callback(k, theta_k, loss_k)`` after each iterate; returning True stops
        (status ``"max_steps"`` with a message saying so).

    Returns
    -------
    DescentResult

    Raises
    ------
    ValueError
        ``step`` neither "local" nor a positive finite number, a non-smooth
        activation with the local rule, invalid budgets or data.
    TypeError
        ``step`` or a budget of the wrong type.
    """
    _check_net(net)
    local = _check_step(step)
    delta = _check_delta(delta)
    if isinstance(max_steps, bool) or not isinstance(max_steps, (int, np.integer)) or max_steps < 0:
        raise ValueError(f"max_steps must be an integer >= 0; got {max_steps!r}")
    if target_loss is not None and not (_is_real(target_loss) and math.isfinite(target_loss) and target_loss >= 0):
        raise ValueError(f"target_loss must be None or a finite number >= 0; got {target_loss!r}")
    for name, v in (("rtol", rtol), ("gtol", gtol)):
        if not (_is_real(v) and math.isfinite(v) and v >= 0):
            raise ValueError(f"{name} must be a finite number >= 0; got {v!r}")
    if not (_is_real(blowup) and blowup > 1):
        raise ValueError(f"blowup must be a number > 1; got {blowup!r}")
    th, X2, yv = net.check_data(theta0, X, y)
    th = th.copy()
    if local:
        _require_smooth(net)
        R, Y = _radii(X2, yv, R, Y)
    rule = f"local(δ={delta:g})" if local else f"fixed(η={float(step):g})"

    t0 = time.perf_counter()
    losses: list[float] = []
    etas: list[float] = []
    gnorms: list[float] = []
    Ls: list[float] = []
    caps: list[str] = []
    target_step: int | None = None
    status, message = "max_steps", ""
    try:
        loss, scale = _loss_scale(net, th, X2, yv)
    except FloatingPointError as exc:
        raise ValueError(f"the loss at theta0 is not finite in float64 ({exc})") from None
    losses.append(loss)
    loss0 = loss
    k = 0
    while True:
        if target_loss is not None and target_step is None and loss <= target_loss:
            target_step = k
            if stop_at_target:
                status, message = "target", f"loss {loss:.6g} <= target {target_loss:g} after {k} steps"
                break
        if callback is not None and callback(k, th, loss):
            status, message = "max_steps", f"stopped by the callback after {k} steps"
            break
        if k >= max_steps:
            status, message = "max_steps", f"step budget of {max_steps} spent; loss {loss:.6g}"
            break
        try:
            if local:
                st = local_step(net, th, X2, yv, delta, R=R, Y=Y)
                g, gn, eta, L, cap = st.grad, st.grad_norm, st.eta, st.L, st.cap
            else:
                g = net.loss_grad(th, X2, yv)
                gn, eta, L, cap = float(np.linalg.norm(g)), float(step), math.nan, "fixed"
        except (FloatingPointError, OverflowError) as exc:
            status, message = "diverged", f"step {k}: the gradient or L is not finite in float64 ({exc})"
            break
        if gn <= gtol:
            status = "stationary"
            message = (f"stationary point after {k} steps: |∇ℓ| = {gn:.3g}" + (" (exactly 0)" if gn == 0 else
                                                                               f" <= gtol = {gtol:g}"))
            break
        predicted = 0.5 * eta * gn * gn
        if predicted <= rtol * scale:
            status = "converged"
            message = (f"converged after {k} steps: predicted decrease (η/2)|∇ℓ|² = {predicted:.3g} is below "
                       f"the float64 resolution {rtol:g} × {scale:.3g} of the loss; loss {loss:.6g}")
            break
        new = th - eta * g
        try:
            new_loss, new_scale = _loss_scale(net, new, X2, yv)
        except FloatingPointError:
            new_loss = math.inf
        if not math.isfinite(new_loss) or new_loss > blowup * max(loss0, 1e-300):
            status = "diverged"
            what = "overflowed (non-finite)" if not math.isfinite(new_loss) else \
                f"grew to {new_loss:.3g}, more than {blowup:g} times the initial {loss0:.3g}"
            message = f"diverged at step {k + 1}: the loss {what}; kept the last finite iterate"
            break
        th, loss, scale = new, new_loss, new_scale
        losses.append(loss)
        etas.append(float(eta))
        gnorms.append(gn)
        Ls.append(float(L))
        caps.append(cap)
        k += 1
    return DescentResult(theta=th, loss=loss, status=status, message=message, steps=k,
                         losses=np.array(losses), etas=np.array(etas), grad_norms=np.array(gnorms),
                         Ls=np.array(Ls), caps=tuple(caps), rule=rule,
                         target_loss=None if target_loss is None else float(target_loss),
                         target_step=target_step, seconds=time.perf_counter() - t0)


def _loss_scale(net: "MLP", th: np.ndarray, X: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """``ℓ(θ)`` (as :meth:`MLP.loss`) and the magnitude scale ``ℓ + mean |r| (|f| + |y|)``
    of the numbers it is computed from (float64)."""
    F = net.f(th, X)
    r = F - y
    loss = float(0.5 * np.mean(r * r))
    scale = loss + float(np.mean(np.abs(r) * (np.abs(F) + np.abs(y))))
    if not (math.isfinite(loss) and math.isfinite(scale)):
        raise FloatingPointError("float64 overflow in the loss")
    return loss, scale


# ---------------------------------------------------------------------------
# validation
# ---------------------------------------------------------------------------
def _is_real(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def _check_net(net: Any) -> None:
    from symlip.models.network import check_mlp

    check_mlp(net, "the squared loss")


def _require_smooth(net: "MLP") -> None:
    """The rule uses U3, hence U2: a smooth activation at depth >= 2 (docs/theory.md §1, §3)."""
    if net.depth >= 2:
        net.activation.require("smooth", purpose="the local step-size rule (U3 on B(θ_k, δ), docs/theory.md §6)")


def _check_delta(delta: Any) -> float:
    if not _is_real(delta):
        raise TypeError(f"delta must be a real number > 0 (the ball radius of the rule); got {delta!r}")
    d = float(delta)
    if not (math.isfinite(d) and d > 0):
        raise ValueError(f"delta must be finite and > 0 (the ball radius of the rule); got {delta!r}")
    return d


def _check_step(step: Any) -> bool:
    """True for the local rule; validates a fixed step."""
    if isinstance(step, str):
        if step != "local":
            raise ValueError(f"step must be 'local' or a positive number; got {step!r}")
        return True
    if not _is_real(step):
        raise TypeError(f"step must be 'local' or a positive number; got {type(step).__name__} {step!r}")
    if not (math.isfinite(float(step)) and step > 0):
        raise ValueError(f"a fixed step must be finite and > 0; got {step!r}")
    return False


def _radii(X: np.ndarray, y: np.ndarray, R: float | None, Y: float | None) -> tuple[float, float]:
    """``R >= max |x_n|`` and ``Y >= max |y_n|`` (the data's own by default)."""
    r_data = float(np.max(np.linalg.norm(X, axis=1)))
    y_data = float(np.max(np.abs(y)))
    out = []
    for name, given, data in (("R", R, r_data), ("Y", Y, y_data)):
        if given is None:
            out.append(data)
            continue
        if not (_is_real(given) and math.isfinite(given)):
            raise ValueError(f"{name} must be a finite number; got {given!r}")
        if given < data:
            raise ValueError(f"{name} = {given!r} is smaller than the data's max norm {data!r}; the bound "
                             f"would not cover the data (omit {name} to use the data's)")
        out.append(float(given))
    return out[0], out[1]
