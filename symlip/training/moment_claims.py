"""Statistical claims on one SGD step: predicted moments against Monte-Carlo (docs/theory.md §7).

A :class:`MomentClaim` says that a statistic of one SGD step from a point θ
(the mean or variance of ``Δs_ℓ``, the mean or variance of ``Δ log K``) equals a
prediction up to a relative tolerance ``rel_tol``:

    H0:  |E_obs - pred| <= rel_tol |pred|        (per component; layers for s_ℓ).

The check runs ``n_steps`` real SGD steps (:func:`symlip.training.dynamics.monte_carlo`)
and rejects H0 when, for some component ``j``,

    |obs_j - pred_j| - rel_tol |pred_j|  >  z SE_j,     z = Φ^{-1}(1 - α/(2k)),

``k`` the number of components (Bonferroni).  Under H0 a run rejects with
probability at most ``α`` (normal approximation of the Monte-Carlo means).  A
rejection is re-run with an independent seed; the claim is *violated* only when
both runs reject, so the false-alarm rate of ``violated`` is at most ``α²``
(``survived`` when the first run does not reject, ``inconclusive`` when only
one does).  The observed means use the control variate ``-η<J, g_b>``, whose
exact mean ``-η<J, ∇L>`` is known without any of the second-order formulas, so
the test never assumes what it checks.

``best_ratio`` is ``max_j |obs_j - pred_j| / (rel_tol |pred_j| + z SE_j)``: above 1
exactly when the run rejects.  Violations are saved as witness files (kind
``"sgd-moment"`` of the witness format :mod:`symlip.search.witness_format`: the
network, θ, the data, the step, the prediction and both seeds) that
:func:`replay_moment` (and ``symlip replay``) re-runs.  Moment witness files
written before ``"symlip-witness/3"`` (no ``format`` field) are still read and
replayed.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from statistics import NormalDist
from typing import Any, Callable

import numpy as np

from symlip.core.version import VERSION
from symlip.search.catalogue import source_case
from symlip.search.claims import SelfCheckingCase
from symlip.search.witness_format import (HEADER_FIELDS, Replay, WitnessCheck, header, load_witness_data,
                                          read_header, read_json, write_witness)
from symlip.training.dynamics import LOSSES, Moments, MonteCarlo, monte_carlo, sgd_moments

__all__ = ["STATISTICS", "MomentClaim", "MomentCase", "MomentVerdict", "MomentWitness", "moment_test",
           "replay_moment", "WITNESS_KIND", "MAX_STEPS"]

#: what a claim can be about: per layer (``mean``, ``second_order``, ``var``) or network-level
STATISTICS = ("mean", "second_order", "var", "log_K_mean", "log_K_second_order", "log_K_var")
WITNESS_KIND = "sgd-moment"
#: the most Monte-Carlo steps a case may ask for (one run of 10^7 steps takes hours)
MAX_STEPS = 10_000_000
_CONFIRM_SEED = 1_000_003   # offset of the independent confirmation run's seed

_TEX = {
    "mean": r"\mathbb{E}[\Delta s_\ell] = -\eta\langle u_\ell v_\ell^\top,\nabla_\ell L\rangle"
            r" + \tfrac{\eta^2}{2}\left(\nabla_\ell L:H_\ell:\nabla_\ell L + \operatorname{tr}(H_\ell\Sigma_B)\right)",
    "second_order": r"\mathbb{E}[\Delta s_\ell] + \eta\langle u_\ell v_\ell^\top,\nabla_\ell L\rangle"
                    r" = \tfrac{\eta^2}{2}\left(\nabla_\ell L:H_\ell:\nabla_\ell L"
                    r" + \operatorname{tr}(H_\ell\Sigma_B)\right)",
    "var": r"\operatorname{Var}[\Delta s_\ell] = \eta^2\, u_\ell v_\ell^\top:\Sigma_B:u_\ell v_\ell^\top",
    "log_K_mean": r"\mathbb{E}[\Delta\log K] = \sum_\ell \frac{\mathbb{E}[\Delta s_\ell]}{s_\ell}"
                  r" - \sum_\ell \frac{\mathbb{E}[\Delta s_\ell^2]}{2 s_\ell^2}",
    "log_K_second_order": r"\mathbb{E}[\Delta\log K] - \sum_\ell \frac{-\eta\langle u_\ell v_\ell^\top,"
                          r"\nabla_\ell L\rangle}{s_\ell} = \text{second-order terms}",
    "log_K_var": r"\operatorname{Var}[\Delta\log K] = \sum_{\ell,k}"
                 r" \frac{\eta^2\, J_\ell:\Sigma_B:J_k}{s_\ell s_k}",
}


def _model(statistic: str, m: Moments) -> np.ndarray:
    """The §7 second-order prediction of ``statistic``."""
    flow_log = float(np.sum(m.flow / m.s))
    return np.atleast_1d(np.asarray({
        "mean": m.mean, "second_order": m.mean_curvature + m.noise_curvature, "var": m.var,
        "log_K_mean": m.log_K_mean, "log_K_second_order": m.log_K_mean - flow_log, "log_K_var": m.log_K_var,
    }[statistic], dtype=float))


def _observed(statistic: str, m: Moments, mc: MonteCarlo) -> tuple[np.ndarray, np.ndarray]:
    flow_log = float(np.sum(m.flow / m.s))
    obs, se = {
        "mean": (mc.mean, mc.mean_se), "second_order": (mc.mean - m.flow, mc.mean_se), "var": (mc.var, mc.var_se),
        "log_K_mean": (mc.log_K_mean, mc.log_K_mean_se),
        "log_K_second_order": (mc.log_K_mean - flow_log, mc.log_K_mean_se),
        "log_K_var": (mc.log_K_var, mc.log_K_var_se),
    }[statistic]
    return np.atleast_1d(np.asarray(obs, dtype=float)), np.atleast_1d(np.asarray(se, dtype=float))


@dataclass(frozen=True)
class MomentClaim:
    """A claimed one-step SGD statistic (docs/theory.md §7), checked by a statistical test.

    Parameters
    ----------
    name : str
    statistic : str
        One of :data:`STATISTICS`: ``mean`` / ``var`` of ``Δs_ℓ`` (per layer),
        ``second_order`` (``E[Δs_ℓ]`` minus the gradient-flow term), the same for
        ``log K`` (``log_K_mean``, ``log_K_second_order``, ``log_K_var``).
    predict : "model" or callable
        ``"model"``: the second-order prediction of docs/theory.md §7 (:func:`sgd_moments`);
        a callable ``Moments -> array`` states another prediction (e.g. a mutant).
    rel_tol : float
        Allowed relative deviation ``|obs - pred| <= rel_tol |pred|``, in ``(0, 1)``.
    alpha : float
        Per-run false-alarm rate of the test, in ``(0, 0.5)``.
    expect : {"holds", "fails"}
    why : str
    """

    name: str
    statistic: str
    predict: str | Callable[[Moments], Any] = "model"
    rel_tol: float = 0.05
    alpha: float = 1e-3
    expect: str = "holds"
    why: str = ""

    direction = "upper"     # report compatibility with Claim
    requires = ()

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"MomentClaim.name must be a non-empty string; got {self.name!r}")
        if self.statistic not in STATISTICS:
            raise ValueError(f"statistic must be one of {', '.join(STATISTICS)}; got {self.statistic!r}")
        if not (self.predict == "model" or callable(self.predict)):
            raise TypeError(f"predict must be 'model' or a callable Moments -> array; got {self.predict!r}")
        for nm, v, hi in (("rel_tol", self.rel_tol, 1.0), ("alpha", self.alpha, 0.5)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not (0 < v < hi):
                raise ValueError(f"{nm} must be a number in (0, {hi:g}); got {v!r}")
        if self.expect not in ("holds", "fails"):
            raise ValueError(f"expect must be 'holds' or 'fails'; got {self.expect!r}")

    @property
    def quantity(self) -> str:
        return "sgd_" + self.statistic

    def prediction(self, moments: Moments) -> np.ndarray:
        """The claimed values for the moments at a point."""
        if self.predict == "model":
            return _model(self.statistic, moments)
        out = np.atleast_1d(np.asarray(self.predict(moments), dtype=float))
        if not np.isfinite(out).all():
            raise ValueError(f"claim {self.name!r}: the prediction is not finite: {out.tolist()}")
        return out

    def latex(self, net: Any = None) -> str:
        body = _TEX[self.statistic] if self.predict == "model" else \
            r"\text{" + self.name.replace("_", r"\_") + r"}\ (\text{a stated prediction})"
        return body + rf"\quad(\pm{self.rel_tol:g}\ \text{{relative}},\ \alpha={self.alpha:g})"

    def describe(self) -> str:
        return f"{self.name}: {self.statistic} within {self.rel_tol:g} (α = {self.alpha:g})"


@dataclass(frozen=True)
class _Point:
    """The 'region' of a moment case: one parameter point and one SGD step size."""

    eta: float
    batch_size: int
    replacement: bool
    N: int
    loss: str
    kind: str = "point"

    def describe(self) -> str:
        return (f"point θ, η={self.eta:g} B={self.batch_size} of N={self.N} "
                f"({'with' if self.replacement else 'without'} replacement, {self.loss} loss)")


@dataclass(frozen=True, eq=False)
class MomentCase(SelfCheckingCase):
    """A :class:`MomentClaim` at a point: network, θ, data and the SGD step."""

    claim: MomentClaim
    net: Any
    theta: np.ndarray
    X: np.ndarray
    y: np.ndarray
    batch_size: int
    eta: float
    replacement: bool = True
    loss: str = "squared"
    n_steps: int = 20000
    weight: float = 1.0
    Y: float | None = None

    def __post_init__(self) -> None:
        from symlip.models.network import MLP

        if not isinstance(self.claim, MomentClaim):
            raise TypeError(f"MomentCase.claim must be a MomentClaim; got {type(self.claim).__name__}")
        if not isinstance(self.net, MLP):
            raise TypeError(f"MomentCase.net must be an MLP; got {type(self.net).__name__}")
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {', '.join(LOSSES)}; got {self.loss!r}")
        object.__setattr__(self, "theta", self.net.check_theta(self.theta).copy())
        object.__setattr__(self, "X", np.array(self.X, dtype=float))
        object.__setattr__(self, "y", np.array(self.y, dtype=float).reshape(-1))
        if isinstance(self.n_steps, bool) or not isinstance(self.n_steps, int) or not 100 <= self.n_steps <= MAX_STEPS:
            raise ValueError(f"n_steps must be an integer in [100, {MAX_STEPS}]; got {self.n_steps!r}")
        if not isinstance(self.replacement, (bool, np.bool_)):
            raise TypeError(f"replacement must be True or False; got {self.replacement!r}")
        for name, v, allow_none in (("weight", self.weight, False), ("Y", self.Y, True)):
            if v is None and allow_none:
                continue
            if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)) \
                    or not math.isfinite(v) or v < 0 or (name == "weight" and v == 0):
                raise ValueError(f"MomentCase.{name} must be a finite number {'> 0' if name == 'weight' else '>= 0'}"
                                 f"{' or None' if allow_none else ''}; got {v!r}")

    @property
    def R(self) -> float:
        return float(np.max(np.linalg.norm(self.X, axis=1)))

    @property
    def region(self) -> _Point:
        return _Point(self.eta, self.batch_size, self.replacement, self.X.shape[0], self.loss)

    @property
    def architecture(self) -> str:
        return f"{list(self.net.widths)} {self.net.activation.name}"

    @property
    def label(self) -> str:
        return f"{self.claim.name} @ {self.architecture} {self.region.describe()}"

    def moments(self) -> Moments:
        return sgd_moments(self.net, self.theta, self.X, self.y, batch_size=self.batch_size, eta=self.eta,
                           loss=self.loss, replacement=self.replacement)

    def run(self, seed: int = 0, source: str | None = None) -> "MomentVerdict":
        """Test the claim (and confirm a rejection with an independent seed)."""
        t0 = time.perf_counter()
        m = self.moments()
        pred = self.claim.prediction(m)
        first = moment_test(self, m, pred, seed)
        runs = [first]
        if first["reject"]:
            runs.append(moment_test(self, m, pred, seed + _CONFIRM_SEED))
        if not first["reject"]:
            status = "survived"
        elif runs[1]["reject"]:
            status = "violated"
        else:
            status = "inconclusive"
        j = int(np.argmax(first["ratios"]))
        where = f" (component {j + 1})" if pred.size > 1 else ""
        msg = (f"{status}: observed {first['observed'][j]:.6g} ± {first['se'][j]:.2g} vs predicted "
               f"{pred[j]:.6g} ± {self.claim.rel_tol:g} relative{where}; ratio {first['ratios'][j]:.4g} "
               f"(> 1 rejects at α = {self.claim.alpha:g}, z = {first['z']:.3f})"
               + (f"; confirmation run (seed {seed + _CONFIRM_SEED}) ratio {max(runs[1]['ratios']):.4g}"
                  if len(runs) > 1 else ""))
        witness = MomentWitness.from_case(self, pred, runs, seed, source) if status == "violated" else None
        return MomentVerdict(
            status=status, best_ratio=float(np.max(first["ratios"])), witness=witness, strategy="monte-carlo",
            evaluations=sum(r["n"] for r in runs), seconds=time.perf_counter() - t0, confirmed_digits=0,
            message=msg, claim=self.claim, bound=float(pred[j]), best_value=float(first["observed"][j]),
            seed=seed, runs=runs)


def moment_test(case: MomentCase, moments: Moments, pred: np.ndarray, seed: int) -> dict[str, Any]:
    """One Monte-Carlo run of the test of H0 ``|obs - pred| <= rel_tol |pred|`` (module docstring)."""
    mc = monte_carlo(case.net, case.theta, case.X, case.y, moments, n_steps=case.n_steps, seed=seed)
    obs, se = _observed(case.claim.statistic, moments, mc)
    if pred.shape != obs.shape:
        raise ValueError(f"claim {case.claim.name!r}: prediction has shape {pred.shape}, the statistic "
                         f"{case.claim.statistic!r} has shape {obs.shape}")
    k = obs.size
    z = NormalDist().inv_cdf(1.0 - case.claim.alpha / (2 * k))
    tol = case.claim.rel_tol * np.abs(pred)
    dev = np.abs(obs - pred)
    ratios = dev / (tol + z * se)
    return {"seed": int(seed), "n": mc.n, "observed": obs.tolist(), "se": se.tolist(), "z": z,
            "ratios": ratios.tolist(), "reject": bool(np.any(dev - tol > z * se))}


@dataclass(frozen=True, eq=False)
class MomentVerdict:
    """Outcome of a :class:`MomentCase` (fields as :class:`symlip.search.falsify.Verdict`'s, plus ``runs``)."""

    status: str
    best_ratio: float
    witness: "MomentWitness | None"
    strategy: str
    evaluations: int
    seconds: float
    confirmed_digits: int
    message: str
    claim: MomentClaim
    bound: float
    best_value: float
    seed: int = 0
    runs: list[dict[str, Any]] = field(default_factory=list)
    strategies: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def as_expected(self) -> bool:
        if self.claim.expect == "holds":
            return self.status == "survived"
        return self.status == "violated"

    def to_dict(self) -> dict[str, Any]:
        return {"claim": self.claim.name, "quantity": self.claim.quantity, "direction": "upper",
                "expect": self.claim.expect, "status": self.status, "as_expected": self.as_expected,
                "best_ratio": self.best_ratio, "strategy": self.strategy, "evaluations": self.evaluations,
                "seconds": self.seconds, "message": self.message, "prediction": self.bound,
                "observed": self.best_value, "rel_tol": self.claim.rel_tol, "alpha": self.claim.alpha,
                "seed": self.seed, "runs": self.runs}


@dataclass(frozen=True)
class MomentWitness:
    """A statistical violation: everything needed to re-run both Monte-Carlo tests.

    ``data`` is the file's dictionary: the witness header (the header's ``seed`` is
    the first run's, ``seeds[0]``) and the fields :func:`replay_moment` reads.
    """

    data: dict[str, Any]

    kind = WITNESS_KIND

    @classmethod
    def from_case(cls, case: MomentCase, pred: np.ndarray, runs: list[dict[str, Any]], seed: int,
                  source: str | None) -> "MomentWitness":
        c = case.claim
        return cls(header(WITNESS_KIND, c.name, seed, "symlip.training.moment_claims", VERSION) | {
            "statistic": c.statistic, "expect": c.expect, "why": c.why, "rel_tol": c.rel_tol, "alpha": c.alpha,
            "source": source,
            "widths": list(case.net.widths), "activation": case.net.activation.name,
            "theta": case.theta.tolist(), "X": case.X.tolist(), "y": case.y.tolist(),
            "batch_size": case.batch_size, "eta": case.eta, "replacement": case.replacement, "loss": case.loss,
            "n_steps": case.n_steps, "prediction": pred.tolist(), "seeds": [r["seed"] for r in runs],
            "runs": runs,
        })

    def to_dict(self) -> dict[str, Any]:
        """The file's dictionary (a copy of :attr:`data`)."""
        return dict(self.data)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "MomentWitness":
        """A moment witness of a file's dictionary, after checking its header (``ValueError``
        if it is not an SGD-moment witness); :func:`replay_moment` checks the other fields.
        A file older than ``symlip-witness/3`` gets the header it lacked (``seed``:
        the first run's; what wrote it unknown)."""
        h = read_header(d, (WITNESS_KIND,), "MomentWitness")
        WitnessCheck(d).text("claim")  # a moment witness is always of a named claim
        if not h.legacy:
            return cls(dict(d))
        seeds = d.get("seeds")
        seed = seeds[0] if isinstance(seeds, list) and seeds else None
        return cls(header(WITNESS_KIND, h.claim, seed, None, None)
                   | {k: v for k, v in d.items() if k not in HEADER_FIELDS})

    def save(self, path: str | Path) -> Path:
        """Write the witness as a ``symlip-witness/3`` file; returns the path."""
        return write_witness(self, path)

    @classmethod
    def load(cls, path: str | Path) -> "MomentWitness":
        """Read an SGD-moment witness file (``ValueError`` if it is not one)."""
        return cls.from_dict(read_json(path))


_MAX_REPLAY_STEPS = 10**6  # a witness asking for more Monte-Carlo steps is refused (no hang)


def replay_moment(witness: "MomentWitness | dict | str | Path", dps: int | None = None, *, trust: bool = False,
                  base: str | Path | None = None) -> Replay:
    """Re-run a moment witness's tests with its recorded seeds; ``violated`` when both reject again.

    The prediction is the recorded one (the claim; with ``trust=True`` it is
    compared with the prediction of the source case, whose file is then
    imported and run, looked up from ``base`` and its parents); the Monte-Carlo
    runs are recomputed from scratch and compared with the recorded ones: a file
    that disagrees with itself (or its source) is ``tampered``, never ``violated``
    (:class:`symlip.search.witness_format.WitnessCheck`).  ``ValueError`` names a missing or
    malformed field.  ``dps`` does not apply (the test is statistical, in float64); it
    is accepted as by every kind's replay.
    """
    from symlip.models.network import MLP

    data, folder = load_witness_data(witness)
    base = folder if base is None else base
    h = read_header(data, (WITNESS_KIND,), "replay_moment")
    f = WitnessCheck(data)
    name, statistic = f.text("claim"), f.text("statistic", choices=STATISTICS)
    act = f.activation(f.get("activation"))
    net = MLP(f.widths(), act)
    X = f.array("X", 2, shape=(None, net.d_in))
    pred = f.array("prediction", 1)
    seeds = f.get("seeds")
    runs = f.get("runs")
    if not (isinstance(seeds, list) and 1 <= len(seeds) <= 2
            and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in seeds)):
        raise ValueError(f"witness field 'seeds' must be a list of one or two integers >= 0; got {seeds!r:.80}")
    if not (isinstance(runs, list) and len(runs) == len(seeds) and all(isinstance(r, dict) for r in runs)):
        raise ValueError("witness field 'runs' must be a list of one object per seed")
    claim = MomentClaim(name, statistic, predict=lambda _m: pred, rel_tol=f.number("rel_tol", positive=True),
                        alpha=f.number("alpha", positive=True), expect=f.text("expect", choices=("holds", "fails")),
                        why=f.text("why", default=""))
    case = MomentCase(claim, net, f.array("theta", 1, shape=(net.n_params,)), X,
                      f.array("y", 1, shape=(X.shape[0],)), f.integer("batch_size", low=1, high=X.shape[0]),
                      f.number("eta", positive=True), f.flag("replacement"), f.text("loss", choices=LOSSES),
                      f.integer("n_steps", low=100, high=_MAX_REPLAY_STEPS))
    source = f.text("source", optional=True)
    m = case.moments()
    if trust and source:
        _compare_with_source(f, case, pred, source_case(source, name, base))
    elif source:
        f.notes.append(f"the prediction is the file's own; it was not compared with its source {source} "
                       "(re-run with --trust to import it and compare)")
    if h.seed is not None:  # the header's seed is the first run's (files before symlip-witness/3 have none)
        f.same("seed", h.seed, seeds[0], "'seeds' gives")
    if len(seeds) == 2 and seeds[1] != seeds[0] + _CONFIRM_SEED:
        f.mismatch("seeds", f"the confirmation run's seed must be {seeds[0] + _CONFIRM_SEED}, an independent one; "
                            f"got {seeds[1]}")
    new = [moment_test(case, m, pred, s) for s in seeds]
    for k, (rec, run) in enumerate(zip(runs, new)):
        f.same(f"runs[{k}].seed", rec.get("seed"), run["seed"], "'seeds' gives")
        f.same(f"runs[{k}].n", rec.get("n"), run["n"], "the replay ran")
        f.same(f"runs[{k}].reject", rec.get("reject"), run["reject"], "the replay gives")
        for key in ("observed", "se", "ratios"):
            got, want = np.asarray(rec.get(key, []), dtype=object), np.asarray(run[key], dtype=float)
            try:
                ok = got.shape == want.shape and np.allclose(got.astype(float), want, rtol=1e-6,
                                                             atol=1e-9 * float(np.max(np.abs(want), initial=0)))
            except (TypeError, ValueError):
                ok = False
            if not ok:
                f.mismatch(f"runs[{k}].{key}", f"the file states {_short_list(rec.get(key))}, the replay gives "
                                               f"{_short_list(run[key])}")
    j = int(np.argmax(new[0]["ratios"]))
    status = "violated" if len(new) == 2 and all(r["reject"] for r in new) else "not violated"
    ratio = min(max(r["ratios"]) for r in new)
    msg = (f"{status}: {statistic} observed {new[0]['observed'][j]:.6g} ± {new[0]['se'][j]:.2g} vs "
           f"predicted {pred[j]:.6g} ± {claim.rel_tol:g} relative; ratios "
           + ", ".join(f"{max(r['ratios']):.4g} (seed {r['seed']})" for r in new)
           + f"; each run rejects with probability <= α = {claim.alpha:g} if the claim holds")
    title = (f"{name} (sgd_{statistic}) @ {list(net.widths)} {act.name}" + (f" from {source}" if source else ""))
    rep = Replay(status=status, value_mp=f"{new[0]['observed'][j]:.17g}", bound_mp=f"{pred[j]:.17g}",
                 ratio=ratio if math.isfinite(ratio) else math.inf, confirmed_digits=0, dps=0, message=msg,
                 title=title, labels=("observed", "predicted"))
    return f.verdict(rep)


def _short_list(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 80 else text[:77] + "..."


def _compare_with_source(f: Any, case: MomentCase, pred: np.ndarray, src: Any) -> None:
    """Record where a moment witness disagrees with its source case (a :class:`MomentCase`)."""
    if not isinstance(src, MomentCase):
        f.mismatch("source", f"the source case is a {type(src).__name__}, not a MomentCase")
        return
    c, s = case.claim, src.claim
    before = len(f.problems)
    for key, rec, exp in (("statistic", c.statistic, s.statistic), ("rel_tol", c.rel_tol, s.rel_tol),
                          ("alpha", c.alpha, s.alpha), ("expect", c.expect, s.expect),
                          ("widths", list(case.net.widths), list(src.net.widths)),
                          ("activation", case.net.activation.name, src.net.activation.name),
                          ("batch_size", case.batch_size, src.batch_size), ("eta", case.eta, src.eta),
                          ("replacement", case.replacement, src.replacement), ("loss", case.loss, src.loss),
                          ("n_steps", case.n_steps, src.n_steps)):
        f.same(key, rec, exp)
    if case.net.activation != src.net.activation:
        f.mismatch("activation", "the expression differs from the source's")
    for key in ("theta", "X", "y"):
        if not np.array_equal(getattr(case, key), getattr(src, key)):
            f.mismatch(key, "differs from the source case's")
    if len(f.problems) == before:  # the same point: the predictions must agree
        want = src.claim.prediction(src.moments())
        if want.shape != pred.shape or not np.allclose(pred, want, rtol=1e-9, atol=0.0):
            f.mismatch("prediction", f"the file states {_short_list(pred.tolist())}, the source predicts "
                                     f"{_short_list(want.tolist())}")
