"""``symlip demo stepsize``: the local step-size rule beside fixed steps (docs/theory.md §6) (private).

A synthetic regression task — a seeded tanh *teacher* network plus Gaussian
label noise on inputs in the unit ball — is fitted by a tanh *student* with
full-batch gradient descent (:func:`symlip.training.stepsize.gradient_descent`):

* the local rule ``η_k = min(1/L_k, δ/|∇ℓ(θ_k)|)``, ``L_k`` = U3 on ``B(θ_k, δ)``
  (monotone by the descent lemma, a claim checked in ``proofs/stepsize.py``);
* fixed steps: ``1/L_0`` (the rule's first step held fixed) and multiples
  ``c/λ_0`` of the top Hessian eigenvalue at the start, ``c = 1, 1.9, 3, 10``;
  beyond ``c = 2`` gradient descent is unstable along the top eigenvector, so
  those runs oscillate or diverge.

Writes ``stepsize.md`` (table: rule, steps to the target loss, final loss,
monotone), ``stepsize.json`` (setup, the loss curves at <= 200 steps each) and ``stepsize.png``
(loss curves on a log axis, and the step sizes) when matplotlib is available.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from symlip.models.network import MLP
from symlip.models.region import sample_inputs
from symlip.training.stepsize import DescentResult, gradient_descent, local_step
from symlip.report.index import QUICK_NOTE, mark_quick

__all__ = ["run_stepsize_demo", "demo_task"]


@dataclass(frozen=True)
class _Setup:
    n_samples: int
    teacher: tuple[int, ...]
    student: tuple[int, ...]
    noise: float
    delta: float
    max_steps: int
    target_fraction: float
    multiples: tuple[float, ...]


_FULL = _Setup(n_samples=128, teacher=(3, 4, 1), student=(3, 16, 1), noise=0.02, delta=0.2, max_steps=4000,
               target_fraction=0.02, multiples=(1.0, 1.9, 3.0, 10.0))
_QUICK = _Setup(n_samples=48, teacher=(3, 4, 1), student=(3, 8, 1), noise=0.02, delta=0.2, max_steps=300,
                target_fraction=0.02, multiples=(1.0, 1.9, 3.0, 10.0))


def run_stepsize_demo(out_dir: str | Path = "reports", seed: int = 0, quick: bool = False) -> dict[str, Any]:
    """Run the step-size demo and write its report (docs/theory.md §6).

    Parameters
    ----------
    out_dir : str or Path
        Folder for ``stepsize.md``, ``stepsize.json`` and ``stepsize.png``.
    seed : int
        Seed of the data, teacher and student (``>= 0``).
    quick : bool
        A smaller task (48 samples, student [3, 8, 1], 300 steps) for tests.

    Returns
    -------
    dict
        ``{"files": [paths written], "summary": [one-line strings], "runs": [per rule: name, label,
        eta_min, eta_max, target_step, final_loss, monotone, status]}`` (JSON-able).
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0; got {seed!r}")
    setup = _QUICK if quick else _FULL
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    # -- the task ---------------------------------------------------------
    task = demo_task(seed, quick)
    net, theta0, X, y = task["net"], task["theta0"], task["X"], task["y"]
    loss0 = net.loss(theta0, X, y)
    lam0 = _top_hessian_eigenvalue(net, theta0, X, y)
    first = local_step(net, theta0, X, y, setup.delta)
    target = setup.target_fraction * loss0

    # -- the runs ---------------------------------------------------------
    rules: list[tuple[str, str | float, str]] = [("local", "local", f"local rule, δ = {setup.delta:g}")]
    rules.append(("fixed 1/L0", 1.0 / first.L, "fixed η = 1/L_0 (the rule's first step)"))
    for c in setup.multiples:
        rules.append((f"fixed {c:g}/λ0", c / lam0, f"fixed η = {c:g}/λ_0"))
    runs: dict[str, DescentResult] = {}
    for key, step, _ in rules:
        runs[key] = gradient_descent(net, theta0, X, y, step, delta=setup.delta, max_steps=setup.max_steps,
                                     target_loss=target, stop_at_target=False)

    # -- the report ---------------------------------------------------------
    files: list[str] = []
    png = out / "stepsize.png"
    plotted = _plot(runs, rules, target, png)
    if plotted:
        files.append(str(png))
    elif png.exists():  # a stale picture from an earlier run would contradict the text
        png.unlink()
    md = out / "stepsize.md"
    text = _markdown(setup, seed, quick, runs, rules, loss0, lam0, first, target, plotted)
    md.write_text(mark_quick(text) if quick else text)
    files.insert(0, str(md))
    js = out / "stepsize.json"
    js.write_text(json.dumps(_json(setup, seed, quick, runs, rules, loss0, lam0, first, target), indent=1) + "\n")
    files.insert(1, str(js))

    summary = [f"step-size demo (seed {seed}{', quick' if quick else ''}): target loss {target:.3g} "
               f"(= {setup.target_fraction:g} × ℓ0), λ0 = {lam0:.3g}, L0 (U3 on B(θ0, {setup.delta:g})) = "
               f"{first.L:.3g} = {first.L / lam0:.1f} λ0"]
    for key, step, label in rules:
        r = runs[key]
        reached = "never" if r.target_step is None else f"{r.target_step} steps"
        summary.append(f"  {label:<42} target: {reached:<11} final loss {r.loss:.3g}  "
                       f"monotone: {'yes' if r.monotone else 'no'}  ({r.status})")
    if not plotted:
        from symlip.core.plot import INSTALL_HINT

        summary.append(f"  no stepsize.png: {INSTALL_HINT}")
    summary.append("wrote " + ", ".join(files))
    table = [{"name": key, "label": label, "eta_min": float(np.min(runs[key].etas)) if runs[key].etas.size else None,
              "eta_max": float(np.max(runs[key].etas)) if runs[key].etas.size else None,
              "target_step": runs[key].target_step, "final_loss": runs[key].loss, "monotone": runs[key].monotone,
              "status": runs[key].status, "steps": runs[key].steps} for key, _, label in rules]
    return {"files": files, "summary": summary, "runs": table}


def demo_task(seed: int = 0, quick: bool = False) -> dict[str, Any]:
    """The demo's regression task (module docstring): ``net`` (the student), ``theta0``,
    ``X``, ``y``, ``delta`` and ``target`` (the target loss, a fraction of ``ℓ(θ0)``)."""
    setup = _QUICK if quick else _FULL
    rng = np.random.default_rng(seed)
    teacher = MLP(setup.teacher, "tanh")
    theta_t = teacher.init(seed + 1000, scale=1.5)
    X = sample_inputs(setup.teacher[0], 1.0, setup.n_samples, rng)
    y = teacher.f(theta_t, X) + setup.noise * rng.standard_normal(setup.n_samples)
    net = MLP(setup.student, "tanh")
    theta0 = net.init(seed)
    return {"net": net, "theta0": theta0, "X": X, "y": y, "delta": setup.delta, "max_steps": setup.max_steps,
            "target": setup.target_fraction * net.loss(theta0, X, y)}


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------
def _top_hessian_eigenvalue(net: MLP, theta: np.ndarray, X: np.ndarray, y: np.ndarray) -> float:
    """``λ_max(∇²ℓ(θ))`` from the dense Hessian (Hessian-vector products; small networks)."""
    P = net.n_params
    H = np.stack([net.loss_hvp(theta, X, y, e) for e in np.eye(P)])
    return float(np.linalg.eigvalsh(0.5 * (H + H.T))[-1])


def _eta_text(r: DescentResult) -> str:
    if r.etas.size == 0:
        return "—"
    lo, hi = float(np.min(r.etas)), float(np.max(r.etas))
    return f"{lo:.3g}" if math.isclose(lo, hi, rel_tol=1e-12) else f"{lo:.3g} … {hi:.3g}"


def _markdown(setup: _Setup, seed: int, quick: bool, runs: dict[str, DescentResult], rules: list,
              loss0: float, lam0: float, first: Any, target: float, plotted: bool) -> str:
    from symlip.core.plot import INSTALL_HINT

    lines = [
        "# Step sizes from local Lipschitz constants (docs/theory.md §6)",
        "",
        f"Synthetic regression{' (quick mode)' if quick else ''}, seed {seed}: {setup.n_samples} inputs uniform "
        f"in the unit ball of R^{setup.teacher[0]}, targets from a tanh teacher {list(setup.teacher)} "
        f"(init scale 1.5) plus N(0, {setup.noise:g}²) noise; student tanh {list(setup.student)} from "
        f"`init({seed})`; full-batch gradient descent on ℓ = mean ½ (f − y)², at most {setup.max_steps} steps.",
        "",
        f"- initial loss ℓ0 = {loss0:.4g}; **target loss** {target:.4g} (= {setup.target_fraction:g} ℓ0)",
        f"- top Hessian eigenvalue at the start λ0 = {lam0:.4g} (fixed steps above 2/λ0 = {2 / lam0:.3g} are "
        "unstable along its eigenvector)",
        f"- local rule: η_k = min(1/L_k, δ/|∇ℓ(θ_k)|), L_k = U3 on the ball B(θ_k, δ), δ = {setup.delta:g}; "
        f"at the start L0 = {first.L:.4g} = {first.L / lam0:.1f} λ0 (U3 is an upper bound over the whole "
        "ball and every data set with the same radii, hence conservative)",
        "",
        "| rule | η | steps to target | final loss | monotone | max increase | status |",
        "|---|---|---|---|---|---|---|",
    ]
    for key, step, label in rules:
        r = runs[key]
        reached = "never" if r.target_step is None else str(r.target_step)
        lines.append(f"| {label} | {_eta_text(r)} | {reached} | {r.loss:.4g} | {'yes' if r.monotone else 'no'} | "
                     f"{r.max_increase:.3g} | {r.status} after {r.steps} steps |")
    loc = runs["local"]
    lines += [
        "",
        "Reading the table: the local rule needs no knowledge of the curvature and its loss curve is "
        "monotone by the descent lemma (a claim the falsifier attacks in `proofs/stepsize.py`); it pays for "
        "the looseness of U3 with small steps "
        f"(η_k between {np.min(loc.etas):.3g} and {np.max(loc.etas):.3g}"
        + (f", capped by the ball in {loc.caps.count('ball')} of {len(loc.caps)} steps" if loc.caps else "")
        + "). Fixed steps tuned with λ0 are faster, but only a curvature estimate tells where they stop "
        "working: beyond 2/λ0 the loss oscillates or diverges.",
        "",
    ]
    diverged = [label for key, _, label in rules if runs[key].status == "diverged"]
    if diverged:
        lines.append("Diverged: " + "; ".join(f"{label} ({runs[key].message})" for key, _, label in rules
                                              if runs[key].status == "diverged") + ".")
        lines.append("")
    if plotted:
        lines.append("![loss curves](stepsize.png)")
    else:
        lines.append(f"No figure: matplotlib is not available ({INSTALL_HINT}); the numbers are in "
                     "`stepsize.json`.")
    lines.append("")
    lines.append(f"Reproduce: `symlip demo stepsize --seed {seed}{' --quick' if quick else ''}`.")
    return "\n".join(lines) + "\n"


def _json(setup: _Setup, seed: int, quick: bool, runs: dict[str, DescentResult], rules: list, loss0: float,
          lam0: float, first: Any, target: float) -> dict[str, Any]:
    out: dict[str, Any] = {
        "demo": "stepsize", "seed": seed, "quick": quick, **({"note": QUICK_NOTE} if quick else {}),
        "setup": {"n_samples": setup.n_samples, "teacher": list(setup.teacher), "student": list(setup.student),
                  "noise": setup.noise, "delta": setup.delta, "max_steps": setup.max_steps},
        "initial_loss": loss0, "target_loss": target, "lambda0": lam0, "L0": first.L, "runs": [],
    }
    for key, step, label in rules:
        r = runs[key]
        idx = _curve_steps(r.losses.size)
        out["runs"].append({
            "name": key, "label": label, "rule": r.rule, "status": r.status, "message": r.message,
            "steps": r.steps, "target_step": r.target_step, "final_loss": r.loss, "monotone": r.monotone,
            "max_increase": r.max_increase,
            "eta_min": float(np.min(r.etas)) if r.etas.size else None,
            "eta_max": float(np.max(r.etas)) if r.etas.size else None,
            "ball_capped_steps": r.caps.count("ball"),
            "curve": {"step": idx.tolist(), "loss": [float(v) for v in r.losses[idx]],
                      "eta": [float(r.etas[min(k, r.etas.size - 1)]) for k in idx] if r.etas.size else []},
        })
    return out


def _curve_steps(n: int, points: int = 200) -> np.ndarray:
    """Steps at which a loss curve of ``n`` values is stored: the first 50, then
    log-spaced, and the last (the JSON stays small; the PNG uses every step)."""
    if n <= points:
        return np.arange(n)
    head = np.arange(min(50, n))
    tail = np.unique(np.geomspace(50, n - 1, points - 50).astype(int))
    return np.unique(np.concatenate([head, tail, [n - 1]]))


def _plot(runs: dict[str, DescentResult], rules: list, target: float, path: Path) -> bool:
    from symlip.core.plot import pyplot

    plt = pyplot()
    if plt is None:
        return False
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [3, 2]})
    for key, _, label in rules:
        r = runs[key]
        steps = np.arange(r.losses.size)
        style = {"lw": 2.2, "color": "black"} if key == "local" else {"lw": 1.2}
        line, = ax.semilogy(steps, r.losses, label=label, **style)
        if r.status == "diverged":
            ax.semilogy([steps[-1]], [r.losses[-1]], "x", color=line.get_color(), ms=9, mew=2)
        if r.etas.size:
            ax2.semilogy(np.arange(r.etas.size), r.etas, color=line.get_color(),
                         lw=style["lw"])
    ax.axhline(target, color="grey", ls="--", lw=1, label="target loss")
    last = max(max(r.losses.size for r in runs.values()) - 1, 1)
    ax.set_xscale("symlog", linthresh=10)
    ax.set_xlim(0, last)
    ax.set_xlabel("step k")
    ax.set_ylabel("loss ℓ(θ_k)")
    ax.set_title("gradient descent: local rule vs fixed steps (× = diverged)")
    ax.legend(fontsize=8)
    ax2.set_xscale("symlog", linthresh=10)
    ax2.set_xlim(0, last)
    ax2.set_xlabel("step k")
    ax2.set_ylabel("step size η_k")
    ax2.set_title("step sizes")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True
