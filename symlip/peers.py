"""Other tools' input-Lipschitz constants, as claims symlip attacks.

A *peer* states an upper bound ``L`` on the input-Lipschitz constant of a network,
``|f(x) - f(x')|_2 <= L |x - x'|_2`` on some region.  Each adapter here asks the
tool (never re-implementing it) and returns a :class:`PeerClaim`: the constant, the
seconds the tool took, a status, and the tool's own failure signals (exit codes,
fallbacks, solver warnings, printed messages) as it reported them.
:func:`audit_tools` then runs one lower-bound search per network and checks every
claim against it with :func:`symlip.search.audit.audit_constant`.

Tools
-----
``product``
    AutoLip's product of spectral norms ``S1^{m-1} ∏_i |W_i|_2`` (Virmaux & Scaman
    2018), computed here from one SVD per layer; each factor is rounded up by a
    relative 1e-12 so that SVD rounding never makes a true bound look violated.
    Global (all of ``R^d``); needs a Lipschitz activation.
``eclipse``, ``eclipse-fast``
    ECLipsE and ECLipsE-Fast of the ``eclipse-nn`` package (``pip install
    'symlip[peers]'``): ``LipConstEstimator(weights=..., alphas=0, betas=S1).estimate(method)``.
    Global.  They assume activations slope-restricted in ``[0, β]``: applied to the
    monotone ones (identity, tanh, sigmoid, relu, leaky_relu, elu, softplus,
    softsign) with ``β = S1`` (for leaky ReLU the range ``[0, 1]`` contains its
    ``[α, 1]``), and "not applicable" for gelu, silu and other expressions, and for
    a network without hidden layer (the package needs one).
``eclipse-local``
    ECLipsE-Gen-Local (``estimate_gen_local(center, epsilon, actv, algo="Fast")``) on the
    Euclidean ball ``|x - c|_2 <= ε`` (its code propagates ``ε`` as an l2 radius):
    ``c = 0, ε = R``, the audit's own region.  Its activations: relu, leaky_relu with
    α = 0.01, sigmoid, tanh, elu with α = 1, silu, softplus (β = 1).
a number, or a callable ``(net, theta) -> float``
    A constant someone stated; :func:`callable_bound` wraps the callable.
"""
from __future__ import annotations

import contextlib
import io
import math
import re
import time
import warnings
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

import numpy as np

from symlip.core.display import html_table, markdown_table
from symlip.models.network import MLP

if TYPE_CHECKING:  # pragma: no cover
    from symlip.certify.certificate import Certificate
    from symlip.search.audit import AuditVerdict, InputLipschitzSearch

__all__ = ["TOOLS", "PEERS_HINT", "PeerClaim", "AuditRow", "Audit", "product_bound", "eclipse_bound",
           "eclipse_local_bound", "callable_bound", "peer_claim", "check_tool", "audit_tools", "CertifiedRow",
           "CertifiedAudit", "certified_audit"]

#: The named tools ``symlip audit --tool`` accepts (besides numbers).
TOOLS = ("product", "eclipse", "eclipse-fast", "eclipse-local")

#: How to install the peers extra.
PEERS_HINT = "pip install 'symlip[peers]' (eclipse-nn 0.1.7, with PyTorch)"

GLOBAL = "all of R^d"

_STATUSES = ("ok", "failed", "not installed", "not applicable")
_PRODUCT_ROUNDING = 1e-12
# ECLipsE needs σ' in [0, β]: the torch classes (symlip.models.torch_io) whose σ is non-decreasing
_MONOTONE = ("Identity", "Tanh", "Sigmoid", "ReLU", "LeakyReLU", "ELU", "Softplus", "Softsign")
# ECLipsE-Gen-Local's activation names and the parameter its code fixes
_GEN_LOCAL = {("ReLU", None): "relu", ("LeakyReLU", 0.01): "leakyrelu", ("Sigmoid", None): "sigmoid",
              ("Tanh", None): "tanh", ("ELU", 1.0): "elu", ("SiLU", None): "silu", ("Softplus", 1.0): "softplus"}
# lines eclipse-nn prints on every successful layer (kept as a count, not verbatim)
_ROUTINE = re.compile(r"^(Layer \d+|All good\.|Checking Mi: min eigenvalue = .*)$")


@dataclass(frozen=True)
class PeerClaim:
    """One tool's claim on one network.

    Attributes
    ----------
    tool : str
        ``"product"``, ``"eclipse"``, ``"eclipse-fast"``, ``"eclipse-local"``, the
        number as given, or a callable's name.
    constant : float or None
        The claimed Lipschitz constant (None unless ``status == "ok"``).
    seconds : float
        Wall time of the tool's own computation.
    status : str
        ``"ok"``, ``"failed"`` (the tool ran and gave no usable constant),
        ``"not installed"`` or ``"not applicable"`` (the tool does not claim anything
        for this network or region; ``message`` says why).
    signals : tuple of str
        What the tool itself reported: exit codes, fallbacks, solver statuses and
        warnings, printed lines.  Empty when it reported nothing unusual.
    region : str
        Where the tool states its bound: ``"all of R^d"`` or the ball it used.
    message : str
        One line for a status other than ``"ok"`` (and how to fix it, if it can be).
    """

    tool: str
    constant: float | None
    seconds: float
    status: str
    signals: tuple[str, ...] = ()
    region: str = GLOBAL
    message: str = ""

    def __post_init__(self) -> None:
        if self.status not in _STATUSES:
            raise ValueError(f"status {self.status!r} is not one of {', '.join(_STATUSES)}")

    @property
    def ok(self) -> bool:
        return self.status == "ok"


# ---------------------------------------------------------------------------
# adapters
# ---------------------------------------------------------------------------
def _unproven_S1(net: MLP) -> str:
    S1 = net.activation.S1
    return (f"the activation {net.activation.name!r} has only a numeric estimate S1 ≈ {S1.upper:.6g} (not proven); "
            "state it with activation(...).with_constants(S1=...) to use it")


def product_bound(net: MLP, theta: Any) -> PeerClaim:
    """AutoLip's ``S1^{m-1} ∏_i |W_i|_2`` (global), each factor rounded up by 1e-12 relative."""
    S1 = net.activation.S1.bound  # symlip's constant (derived once per activation), not the tool's time
    t0 = time.perf_counter()
    if not net.activation.S1.is_proven:
        return PeerClaim("product", None, 0.0, "not applicable", message=_unproven_S1(net))
    if not math.isfinite(S1):
        return PeerClaim("product", None, 0.0, "not applicable",
                         message=f"the activation {net.activation.name!r} is not Lipschitz (S1 = inf)")
    up = 1.0 + _PRODUCT_ROUNDING
    value = (S1 * up) ** (net.depth - 1) if net.depth > 1 else 1.0
    for W, _ in net.unflatten(theta):
        value *= float(np.linalg.norm(W, 2)) * up
    return PeerClaim("product", value, time.perf_counter() - t0, "ok")


def eclipse_bound(net: MLP, theta: Any, *, fast: bool = False) -> PeerClaim:
    """ECLipsE (``fast=False``) or ECLipsE-Fast of ``eclipse-nn``: a global constant.

    Signals recorded: the package's fallback from ECLipsE to ECLipsE-Fast (its exit
    code 1, printed), each layer's SDP solver (SCS) status with the package's own
    acceptance test (``s >= 1e-20``, ``L >= 0``, least eigenvalue of the Schur matrix
    ``>= -1e-8``), warnings and any other printed line.
    """
    tool = "eclipse-fast" if fast else "eclipse"
    method = "ECLipsE_Fast" if fast else "ECLipsE"
    skip = _eclipse_skip(tool, net)
    if skip is not None:
        return skip
    torch, estimator_cls, _ = _import_eclipse()
    if net.depth < 2:
        return PeerClaim(tool, None, 0.0, "not applicable",
                         message="eclipse-nn's ECLipsE needs at least one hidden layer (depth >= 2)")
    if not net.activation.S1.is_proven:
        return PeerClaim(tool, None, 0.0, "not applicable", message=_unproven_S1(net))
    S1 = float(net.activation.S1.bound)
    weights = [torch.from_numpy(np.array(W, dtype=np.float64)) for W, _ in net.unflatten(theta)]
    est = estimator_cls(weights=weights, alphas=[0.0] * (net.depth - 1), betas=[S1] * (net.depth - 1))
    sdp_log: list[str] = []
    with _captured() as cap, (_observe_sdp(sdp_log) if not fast else contextlib.nullcontext()):
        t0 = time.perf_counter()
        try:
            out = est.estimate(method=method)
            error = None
        except Exception as exc:  # noqa: BLE001 - a peer's crash is a signal, not our failure
            out, error = None, exc
        seconds = time.perf_counter() - t0
    signals = sdp_log + cap.signals()
    if any("Falling back to ECLipsE-Fast" in s for s in signals):
        signals.insert(0, "exit code 1 (ECLipsE's acceptance test failed): the package fell back to "
                          "ECLipsE-Fast, so the constant is ECLipsE-Fast's")
    return _finish(tool, out, error, seconds, signals, GLOBAL)


def eclipse_local_bound(net: MLP, theta: Any, *, R: float | None, center: Any = None,
                        algo: str = "Fast") -> PeerClaim:
    """ECLipsE-Gen-Local of ``eclipse-nn`` on the ball ``|x - center|_2 <= R`` (center 0 by default).

    Signals recorded: its exit code (0 success, -1 failure: NaN constant), the layers
    whose Fast SDP failed and were redone in closed form (its printed
    ``Failed in initial try.``), solver warnings and any other printed line.
    """
    tool = "eclipse-local"
    if R is None or not math.isfinite(R):
        return PeerClaim(tool, None, 0.0, "not applicable", region=GLOBAL,
                         message="ECLipsE-Gen-Local bounds a ball around a center; give a finite input radius R")
    if algo not in ("Fast", "Acc", "CF"):
        raise ValueError(f"algo {algo!r} is not an ECLipsE-Gen-Local algorithm; allowed: Fast, Acc, CF")
    c = np.zeros(net.d_in) if center is None else np.asarray(center, dtype=np.float64).reshape(-1)
    if c.shape != (net.d_in,):
        raise ValueError(f"center has {c.size} entries, expected d_0 = {net.d_in}")
    region = (f"|x|_2 <= {R:g}" if not np.any(c) else f"|x - c|_2 <= {R:g}") + " (its center c, epsilon = R)"
    from symlip.models.torch_io import identify

    found = identify(net.activation)
    actv = _GEN_LOCAL.get(found) if found is not None else None
    if actv is None:
        return PeerClaim(tool, None, 0.0, "not applicable", region=region,
                         message=f"ECLipsE-Gen-Local has no activation {net.activation.name!r}; it knows relu, "
                                 "leaky_relu (alpha=0.01), sigmoid, tanh, elu (alpha=1), silu, softplus")
    try:
        torch, estimator_cls, _ = _import_eclipse()
    except ImportError as exc:
        return PeerClaim(tool, None, 0.0, "not installed", region=region, message=str(exc))
    layers = net.unflatten(theta)
    weights = [torch.from_numpy(np.array(W, dtype=np.float64)) for W, _ in layers]
    biases = [torch.from_numpy(np.array(b, dtype=np.float64).reshape(-1, 1)) for _, b in layers]
    est = estimator_cls(weights=weights, biases=biases)
    with _captured() as cap:
        t0 = time.perf_counter()
        try:
            out = est.estimate_gen_local(c, float(R), actv=actv, algo=algo)
            error = None
        except Exception as exc:  # noqa: BLE001
            out, error = None, exc
        seconds = time.perf_counter() - t0
    signals = cap.signals()
    value = None
    if out is not None:
        value, _, ext = out
        if ext != 0:
            signals.insert(0, f"exit code {ext} (failure; the package returns NaN)")
        fails = sum(1 for line in cap.stdout_lines() if line == "Failed in initial try.")
        if fails and algo == "Fast":
            signals.insert(0, f"the Fast SDP failed at {fails} of {net.depth - 1} hidden layers; each was redone "
                              "with the closed form (CF) after clipping the slope range to contain 0")
    return _finish(tool, value, error, seconds, signals, region)


def callable_bound(fn: Callable[[MLP, np.ndarray], float], net: MLP, theta: Any, *,
                   name: str | None = None) -> PeerClaim:
    """A user's tool: ``fn(net, theta) -> float``, a global constant unless it says otherwise.

    An exception or a value that is not a finite number > 0 gives status ``"failed"``
    with the reason in ``signals``.
    """
    if not callable(fn):
        raise TypeError(f"a tool must be a name, a number or a callable (net, theta) -> float, got {fn!r}")
    tool = name or getattr(fn, "__name__", type(fn).__name__)
    with _captured() as cap:
        t0 = time.perf_counter()
        try:
            out, error = fn(net, np.array(theta, dtype=np.float64)), None
        except Exception as exc:  # noqa: BLE001 - the user's tool failed: reported
            out, error = None, exc
        seconds = time.perf_counter() - t0
    return _finish(tool, out, error, seconds, cap.signals(), GLOBAL)


def peer_claim(tool: str | float | Callable[[MLP, np.ndarray], float], net: MLP, theta: Any, *,
               R: float | None) -> PeerClaim:
    """The claim of one tool: a name of :data:`TOOLS`, a number (as a number or a string) or a callable."""
    kind = check_tool(tool)
    if kind == "callable":
        return callable_bound(tool, net, theta)
    if kind == "value":
        return PeerClaim(str(tool).strip(), _tool_value(tool), 0.0, "ok", region="as stated")
    name = tool.strip().lower()
    if name == "product":
        return product_bound(net, theta)
    if name in ("eclipse", "eclipse-fast"):
        return eclipse_bound(net, theta, fast=name == "eclipse-fast")
    return eclipse_local_bound(net, theta, R=R)


def check_tool(tool: Any) -> str:
    """What ``tool`` is without running it: ``"callable"``, ``"name"`` (one of :data:`TOOLS`) or
    ``"value"`` (a claimed constant, finite and > 0); ``TypeError``/``ValueError`` naming it otherwise."""
    if callable(tool):
        return "callable"
    if isinstance(tool, (bool, np.bool_)):
        raise TypeError(f"tool {tool!r} is a bool; give a name ({', '.join(TOOLS)}), a number or a callable")
    if isinstance(tool, str) and tool.strip().lower() in TOOLS:
        return "name"
    if not isinstance(tool, (str, int, float, np.integer, np.floating)):
        raise TypeError(f"tool {tool!r} must be a name ({', '.join(TOOLS)}), a number or a callable")
    _tool_value(tool)
    return "value"


def _tool_value(tool: str | float) -> float:
    try:
        value = float(tool.strip() if isinstance(tool, str) else tool)
    except ValueError:
        raise ValueError(f"unknown tool {tool!r}; allowed: {', '.join(TOOLS)}, or a number") from None
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"claimed constant {tool!r} must be a finite number > 0")
    return value


# ---------------------------------------------------------------------------
# the audit of several tools on one network
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class AuditRow:
    """One tool's claim and, when it made one, symlip's verdict on it."""

    claim: PeerClaim
    verdict: "AuditVerdict | None"

    @property
    def tool(self) -> str:
        return self.claim.tool

    @property
    def status(self) -> str:
        """``violated``/``survived``/``inconclusive`` (checked), else the claim's status."""
        return self.verdict.status if self.verdict is not None else self.claim.status

    @property
    def ratio(self) -> float | None:
        """Lower bound / claimed constant (> 1 means the claim is false)."""
        return self.verdict.ratio if self.verdict is not None else None

    @property
    def gap(self) -> float | None:
        """Claimed constant / symlip's lower bound: how far above the truth the tool may be."""
        if self.verdict is None or not self.verdict.lower_bound > 0:
            return None
        return self.claim.constant / self.verdict.lower_bound


@dataclass(frozen=True)
class Audit:
    """Every tool's claim on one network, checked against one shared search.

    ``R`` is the input radius (None: all of ``R^d``); ``search`` the
    :class:`~symlip.search.audit.InputLipschitzSearch` every verdict used.
    """

    rows: tuple[AuditRow, ...]
    search: "InputLipschitzSearch"
    R: float | None
    budget: float
    seed: int
    seconds: float

    @property
    def complete(self) -> bool:
        """True when no tool failed and every claim made got a verdict (violated or survived)."""
        return all(r.status not in ("failed", "inconclusive") for r in self.rows)

    def _table(self) -> tuple[str, list[str], list[list[Any]]]:
        where = "all of R^d" if self.R is None else f"|x|_2 <= {self.R:g}"
        title = (f"symlip's best lower bound on {where}: {self.search.value:.10g} "
                 f"({self.search.strategy}, {self.budget:g} s budget, seed {self.seed})")
        rows = [[r.tool, r.claim.constant if r.claim.ok else "", r.status,
                 "" if r.ratio is None else r.ratio, "" if r.gap is None else r.gap] for r in self.rows]
        return title, ["tool", "claimed", "status", "ratio", "gap"], rows

    def _repr_markdown_(self) -> str:
        """Notebook display: one row per tool (claimed constant, status, ratio, gap)."""
        title, header, rows = self._table()
        return f"**{title}**\n\n" + markdown_table(header, rows)

    def _repr_html_(self) -> str:
        """Notebook display: the table of :meth:`_repr_markdown_` in HTML."""
        title, header, rows = self._table()
        return html_table(title, header, rows)


def audit_tools(net: MLP, theta: Any, tools: Sequence[str | float | Callable[[MLP, np.ndarray], float]], *,
                R: float | None, budget: float = 5.0, seed: int = 0, max_evals: int | None = None) -> Audit:
    """Ask every tool for its constant and check each with :func:`symlip.search.audit.audit_constant`.

    One :func:`~symlip.search.audit.input_lipschitz_lower_bound` search (``budget`` seconds,
    ``seed``) on ``|x|_2 <= R`` (``R=None``: all of ``R^d``, only for a bias-free
    positively homogeneous network) serves all tools; a claim is ``violated`` only
    when a pair beating it is confirmed at high precision.
    """
    from symlip.search.audit import audit_constant, input_lipschitz_lower_bound

    if isinstance(tools, (str, bytes)) or not isinstance(tools, Sequence):
        raise TypeError(f"tools must be a sequence of names, numbers or callables, got {tools!r}")
    if not tools:
        raise ValueError(f"tools is empty; give at least one tool: {', '.join(TOOLS)}, a number or a callable")
    for t in tools:              # every tool checked before the search runs
        check_tool(t)
    t0 = time.perf_counter()
    search = input_lipschitz_lower_bound(net, theta, R=R, budget=budget, seed=seed, max_evals=max_evals)
    claims = [peer_claim(t, net, theta, R=R) for t in tools]
    rows = []
    for c in claims:
        verdict = None
        if c.ok:
            verdict = audit_constant(net, theta, c.constant, R=R, budget=budget, seed=seed, tool=c.tool,
                                     search=search)
        rows.append(AuditRow(c, verdict))
    return Audit(tuple(rows), search, R, budget, seed, time.perf_counter() - t0)


# ---------------------------------------------------------------------------
# the audit beside a certified upper bound (symlip audit --certify)
# ---------------------------------------------------------------------------
#: relative margin by which the 50-digit witnessed lower must exceed a constant to refute it
_REFUTE_REL = 1e-30
#: default ``tol`` of the certificate: exact for piecewise-linear σ (the pattern search), 0.1% otherwise
CERTIFY_TOL_PL, CERTIFY_TOL_SMOOTH = 1e-9, 1e-3


@dataclass(frozen=True)
class CertifiedRow:
    """One tool's constant against the certified sandwich ``lower <= L* <= upper``.

    ``standing`` is ``"refuted"`` (the constant is below the witnessed lower: the claim
    is false), ``"proved"`` (at or above the certified upper: the claim holds), ``"open"``
    (in between) or, when the tool made no claim, its status.  ``above_upper`` is
    ``constant / upper``: at most that factor above the true constant when ``>= 1``.
    """

    tool: str
    constant: float | None
    standing: str
    above_upper: float | None


@dataclass(frozen=True)
class CertifiedAudit:
    """:func:`audit_tools` beside a certified upper bound of the true constant.

    Attributes
    ----------
    audit : Audit
        The peers' claims and the search's verdicts on them.
    certificate : Certificate
        ``certify("lip_input", net, Region.ball(theta, 0.0), R=...)``: its proof
        replays with ``symlip replay`` once saved (``certificate.save(path)``).
    lower, lower_mp, lower_source : float, str, str
        The witnessed lower bound (evaluated in mpmath at 50 digits): the larger of the
        certificate's witness (``"certificate witness"``) and the search's pair
        (``"search pair"``).
    upper : float
        The certified upper bound (``certificate.upper``).
    rows : tuple of CertifiedRow
        Each tool's constant against ``[lower, upper]``.
    R_certified : float
        The input radius certified (1 for ``R=None``: a bias-free positively homogeneous
        network has the same constant on every ball around 0 and on all of ``R^d``).
    certify_budget, tol : float
        Seconds and relative gap given to :func:`~symlip.certify.certify`.
    """

    audit: Audit
    certificate: "Certificate"
    lower: float
    lower_mp: str
    lower_source: str
    upper: float
    rows: tuple[CertifiedRow, ...]
    R_certified: float
    certify_budget: float
    tol: float

    @property
    def gap(self) -> float:
        """``upper / lower`` (inf when nothing was witnessed)."""
        return self.upper / self.lower if self.lower > 0 else math.inf

    @property
    def status(self) -> str:
        return self.certificate.status

    @property
    def stop(self) -> str:
        return self.certificate.stop

    @property
    def seconds(self) -> float:
        """Seconds of the certificate (the search and the tools: ``audit.seconds``)."""
        return self.certificate.seconds

    @property
    def boxes(self) -> int:
        return self.certificate.boxes

    @property
    def refuted(self) -> tuple[str, ...]:
        return tuple(r.tool for r in self.rows if r.standing == "refuted")


def certified_audit(net: MLP, theta: Any, tools: Sequence[str | float | Callable[[MLP, np.ndarray], float]] = TOOLS,
                    *, R: float | None, budget: float = 5.0, certify_budget: float = 30.0, seed: int = 0,
                    max_evals: int | None = None, tol: float | None = None,
                    audit: Audit | None = None) -> CertifiedAudit:
    """:func:`audit_tools`, then a certified upper bound of the true constant beside the claims.

    The upper comes from :func:`symlip.certify.certify` (``lip_input`` with the
    parameters fixed, ``Region.ball(theta, 0.0)``): for relu, leaky relu and identity
    the branch and bound over activation patterns (:mod:`symlip.certify.patterns`),
    otherwise the general branch and bound in arb (docs/theory.md §2 (R4)).

    Parameters
    ----------
    net, theta, tools, R, budget, seed, max_evals
        As :func:`audit_tools` (``audit``: one already run on this network, reused).
    certify_budget : float
        Seconds of the branch and bound (> 0).
    tol : float, optional
        Stop when ``upper <= (1 + tol) lower``; default :data:`CERTIFY_TOL_PL` for a
        piecewise-linear σ, :data:`CERTIFY_TOL_SMOOTH` otherwise.

    Returns
    -------
    CertifiedAudit
    """
    import mpmath

    from symlip.certify import certify
    from symlip.certify.patterns import pl_slopes
    from symlip.models.region import Region
    from symlip.search.audit_witness import confirm_pair
    from symlip.search.exact_pl import theta_vector

    if isinstance(certify_budget, (bool, np.bool_)) or not isinstance(certify_budget, (int, float, np.integer, np.floating)) \
            or not (math.isfinite(certify_budget) and certify_budget > 0):
        raise ValueError(f"certify_budget must be a positive number of seconds; got {certify_budget!r}")
    if tol is not None and (isinstance(tol, (bool, np.bool_)) or not isinstance(tol, (int, float, np.integer, np.floating))
                            or not (math.isfinite(tol) and tol > 0)):
        raise ValueError(f"tol must be a finite number > 0 or None; got {tol!r}")
    th = theta_vector(net, theta)
    if audit is None:
        audit = audit_tools(net, th, tools, R=R, budget=budget, seed=seed, max_evals=max_evals)
    elif not isinstance(audit, Audit):
        raise TypeError(f"audit must be an Audit; got {type(audit).__name__}")
    elif audit.R != R:
        raise ValueError(f"the audit was run for R = {audit.R!r}, not R = {R!r}")
    if tol is None:
        tol = CERTIFY_TOL_PL if pl_slopes(net.activation) is not None else CERTIFY_TOL_SMOOTH
    Rc = 1.0 if R is None else float(R)
    cert = certify("lip_input", net, Region.ball(th, 0.0), R=Rc, budget=float(certify_budget), tol=float(tol),
                   seed=int(seed))
    dps = 50
    with mpmath.workdps(dps):
        lower_mp, source = mpmath.mpf(cert.lower_mp or 0), "certificate witness"
        s = audit.search
        conf = confirm_pair(net, th, s.x, s.x2, s.value, audit.R, dps, cache=s._mp)
        if not conf.problems and conf.value_mp > lower_mp:
            lower_mp, source = +conf.value_mp, "search pair"
        if lower_mp > mpmath.mpf(cert.upper):   # two implementations disagree: a bug, never a result
            raise RuntimeError(f"certified_audit: witnessed {lower_mp} exceeds the certified upper {cert.upper!r}; "
                               "please report")
        rows = []
        for r in audit.rows:
            c = r.claim.constant
            if c is None:
                rows.append(CertifiedRow(r.tool, None, r.claim.status, None))
                continue
            standing = ("refuted" if lower_mp > mpmath.mpf(c) * (1 + mpmath.mpf(_REFUTE_REL))
                        else "proved" if c >= cert.upper else "open")
            rows.append(CertifiedRow(r.tool, c, standing, c / cert.upper if cert.upper > 0 else None))
        lower_text = mpmath.nstr(lower_mp, 30)
    return CertifiedAudit(audit, cert, float(lower_mp), lower_text, source, float(cert.upper), tuple(rows), Rc,
                          float(certify_budget), float(tol))


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------
def _import_eclipse() -> tuple[Any, Any, Any]:
    """``(torch, LipConstEstimator, eclipse_nn.eclipsE)``, or ImportError with the install hint."""
    try:
        import torch
        from eclipse_nn import LipConstEstimator
        from eclipse_nn import eclipsE as eclipse_module
    except ImportError as exc:
        raise ImportError(f"eclipse-nn is not installed ({exc}); {PEERS_HINT}") from None
    return torch, LipConstEstimator, eclipse_module


def _eclipse_skip(tool: str, net: MLP) -> PeerClaim | None:
    """"not applicable"/"not installed" for ECLipsE(-Fast), or None when it applies."""
    from symlip.models.torch_io import identify

    found = identify(net.activation)
    if found is None or found[0] not in _MONOTONE:
        return PeerClaim(tool, None, 0.0, "not applicable",
                         message=f"ECLipsE assumes slope-restricted activations with σ' in [0, β]; "
                                 f"{net.activation.name!r} is not one symlip knows to be non-decreasing "
                                 f"(applies to: identity, tanh, sigmoid, relu, leaky_relu, elu, softplus, softsign)")
    try:
        _import_eclipse()
    except ImportError as exc:
        return PeerClaim(tool, None, 0.0, "not installed", message=str(exc))
    return None


def _finish(tool: str, out: Any, error: BaseException | None, seconds: float, signals: list[str],
            region: str) -> PeerClaim:
    """A claim from a tool's raw output: ``failed`` for an exception or a non-finite/negative value."""
    if error is not None:
        text = str(error).strip().splitlines()
        signals = [f"raised {type(error).__name__}: {text[0] if text else ''}".rstrip(": ")] + signals
        return PeerClaim(tool, None, seconds, "failed", tuple(signals), region,
                         message=signals[0])
    try:
        value = float(out)
    except (TypeError, ValueError):
        msg = f"returned {out!r}, not a number"
        return PeerClaim(tool, None, seconds, "failed", tuple([msg] + signals), region, message=msg)
    if not (math.isfinite(value) and value > 0):
        msg = f"returned {value!r}, not a finite number > 0"
        return PeerClaim(tool, None, seconds, "failed", tuple([msg] + signals), region, message=msg)
    return PeerClaim(tool, value, seconds, "ok", tuple(signals), region)


class _Capture:
    """What a peer printed and warned while it ran."""

    def __init__(self) -> None:
        self.out = io.StringIO()
        self.err = io.StringIO()
        self.warned: list[warnings.WarningMessage] = []

    def stdout_lines(self) -> list[str]:
        return [line.strip() for line in self.out.getvalue().splitlines() if line.strip()]

    def signals(self) -> list[str]:
        """Printed lines (routine per-layer progress left out) and warnings, repeats counted."""
        items = [f"printed: {line}" for line in self.stdout_lines() if not _ROUTINE.match(line)]
        items += [f"stderr: {line.strip()}" for line in self.err.getvalue().splitlines() if line.strip()]
        items += [f"{w.category.__name__}: {str(w.message).strip().splitlines()[0]}" for w in self.warned
                  if str(w.message).strip()]
        counts = Counter(items)
        return [s if counts[s] == 1 else f"{s} (x{counts[s]})" for s in dict.fromkeys(items)]


@contextlib.contextmanager
def _captured() -> Iterator[_Capture]:
    cap = _Capture()
    with contextlib.redirect_stdout(cap.out), contextlib.redirect_stderr(cap.err), \
            warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield cap
        finally:
            cap.warned = list(caught)


@contextlib.contextmanager
def _observe_sdp(log: list[str]) -> Iterator[None]:
    """Record ECLipsE's per-layer SDPs that were not optimal or that the package's own test rejected.

    The package computes these and drops them (its status check is commented out); this
    wraps its ``sdp`` function for the duration of one call and passes results through
    unchanged.
    """
    torch, _, module = _import_eclipse()
    original = module.sdp
    layer = [0]

    def observed(*args: Any, **kwargs: Any) -> Any:
        out = original(*args, **kwargs)
        layer[0] += 1
        s, L, X, status = out
        if s is None or L is None or X is None:
            log.append(f"SDP at layer {layer[0]}: solver status {status}, no solution")
            return out
        least = float(torch.min(torch.linalg.eigvals(X).real))
        failed = ([f"s = {s:.3g} < 1e-20"] if s < 1e-20 else []) \
            + (["negative entries in L"] if bool(torch.any(L < 0)) else []) \
            + ([f"least eigenvalue of the Schur matrix {least:.3g} < -1e-8"] if least < -1e-8 else [])
        if failed or status != "optimal":
            log.append(f"SDP at layer {layer[0]}: solver (SCS) status {status}; "
                       + ("rejected by the package's test: " + ", ".join(failed) if failed else "accepted"))
        return out

    module.sdp = observed
    try:
        yield
    finally:
        module.sdp = original
