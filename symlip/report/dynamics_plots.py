"""The figures of ``symlip dynamics`` (docs/theory.md §7): ``dynamics_*.png``, when matplotlib is present.

The studies and their tables are in :mod:`symlip.report.dynamics`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from symlip.training.trajectory import Trajectory

__all__ = ["PNGS", "plot_all"]

#: the files :func:`plot_all` writes
PNGS = ("dynamics_trajectories.png", "dynamics_eta.png", "dynamics_factors.png", "dynamics_agreement.png")


def plot_all(out: Path, one: dict, main_reg: Trajectory, main_cls: Trajectory,
             factors: dict[str, list[tuple[str, Trajectory]]], conv: list[tuple[str, Trajectory]],
             window: int, target: float) -> list[str]:
    """Write the figures of :data:`PNGS` into ``out``; returns the names written (none
    without matplotlib).  ``one`` is the one-step study, ``target`` its relative-error
    target, ``window`` the block length of the drift agreement."""
    from symlip.core.plot import pyplot

    plt = pyplot()
    if plt is None:
        return []
    done = []
    for name, fn in (("dynamics_trajectories.png", lambda: _plot_traj(plt, main_reg, main_cls)),
                     ("dynamics_eta.png", lambda: _plot_eta(plt, one, target)),
                     ("dynamics_factors.png", lambda: _plot_factors(plt, factors, conv)),
                     ("dynamics_agreement.png", lambda: _plot_agreement(plt, main_reg, main_cls, window))):
        fig = fn()
        fig.savefig(out / name, dpi=110)
        plt.close(fig)
        done.append(name)
    return done


def _plot_traj(plt: Any, reg: Trajectory, cls: Trajectory) -> Any:
    m = reg.s.shape[1]
    fig, axes = plt.subplots(2, m + 1, figsize=(3.4 * (m + 1), 6.2), squeeze=False)
    for row, (tr, title) in enumerate(((reg, "regression"), (cls, "classification"))):
        for j in range(m + 1):
            ax = axes[row, j]
            if j < m:
                obs, pred, sd, lab = tr.s[:, j] - tr.s[0, j], tr.s_pred[:, j] - tr.s[0, j], tr.s_sd[:, j], \
                    f"s_{j + 1}(t) − s_{j + 1}(0)"
            else:
                obs, pred, sd, lab = tr.log_K - tr.log_K[0], tr.log_K_pred - tr.log_K[0], tr.log_K_sd, \
                    "log K(t) − log K(0)"
            ax.fill_between(tr.t, pred - 2 * sd, pred + 2 * sd, color="C1", alpha=0.25, lw=0, label="pred ± 2σ")
            ax.plot(tr.t, pred, color="C1", lw=1.2, ls="--", label="predicted")
            ax.plot(tr.t, obs, color="C0", lw=1.0, label="observed")
            ax.set_title(f"{title}: {lab}", fontsize=9)
            ax.set_xlabel("SGD step", fontsize=8)
            ax.tick_params(labelsize=7)
            if row == 0 and j == 0:
                ax.legend(fontsize=7)
    fig.suptitle("Observed path vs accumulated one-step prediction (band ±2σ)", fontsize=10)
    fig.tight_layout()
    return fig


def _plot_eta(plt: Any, one: dict, target: float) -> Any:
    rows = one["rows"]
    layers = sorted({r["layer"] for r in rows if r["layer"] != "log K"})
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.3))
    for ax, (key, se_key, meas, title, ref) in zip(axes, (
            ("taylor_rel", "taylor_rel_se", "mean_rel", "E[Δs]: |Taylor remainder| / |E[Δs]|", 2.0),
            ("curv_trunc_rel", "curv_trunc_rel_se", "curv_rel", "second-order part: |remainder| / |part|", 1.0),
            ("var_trunc_rel", "var_trunc_rel_se", "var_rel", "Var[Δs]: |Var[Δs] − Var[lin]| / Var", 1.0))):
        for i, ell in enumerate(layers):
            for repl, mk, fill in (("with", "o", True), ("without", "s", False)):
                sel = [r for r in rows if r["layer"] == ell and r["sampling"] == repl]
                e = np.array([r["eta"] for r in sel])
                v = np.array([abs(r[key]) for r in sel])
                s = np.array([r[se_key] for r in sel])
                f = next(x for x in one["fits"] if x["layer"] == ell and x["sampling"] == repl and x["measure"] == meas)
                lab = f"{ell} {repl}: slope " + ("—" if f["slope"] is None else f"{f['slope']:.2f}")
                ax.errorbar(e, np.maximum(v, 1e-12), yerr=np.minimum(s, 0.999 * np.maximum(v, 1e-12)), fmt=mk,
                            color=f"C{i}", mfc=f"C{i}" if fill else "none", ms=5, lw=0.8, capsize=2, label=lab)
                ax.plot(e, s * 2, ls=":", color=f"C{i}", lw=0.6)
        e = np.array(one["etas"])
        top = max(abs(r[key]) for r in rows if r["layer"] != "log K")
        ax.plot(e, top * (e / e.max()) ** ref, color="k", lw=1, ls="--", label=f"slope {ref:g} (second order)")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("η")
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=6)
    axes[0].axhline(target, color="red", lw=0.8, ls="-.")
    fig.suptitle("One-step relative errors vs η (dotted: 2 × Monte-Carlo SE; ○ with, □ without replacement)",
                 fontsize=10)
    fig.tight_layout()
    return fig


def _plot_factors(plt: Any, factors: dict[str, list[tuple[str, Trajectory]]],
                  conv: list[tuple[str, Trajectory]]) -> Any:
    fig, axes = plt.subplots(2, 3, figsize=(14, 7.8))
    for ax, (name, rows) in zip(axes.flat, list(factors.items()) + [("near convergence", conv)]):
        for i, (lab, tr) in enumerate(rows):
            pred = tr.log_K_pred - tr.log_K[0]
            ax.fill_between(tr.t, pred - 2 * tr.log_K_sd, pred + 2 * tr.log_K_sd, color=f"C{i}", alpha=0.15, lw=0)
            ax.plot(tr.t, tr.log_K - tr.log_K[0], color=f"C{i}", lw=1.1, label=f"{lab} observed")
            ax.plot(tr.t, pred, color=f"C{i}", lw=1.1, ls="--")
        ax.set_title(f"{name}: log K(t) − log K(0) (dashed: predicted ± 2σ)", fontsize=9)
        ax.set_xlabel("SGD step", fontsize=8)
        ax.legend(fontsize=7)
    # near convergence: the rates
    ax = axes.flat[4]
    for i, (lab, tr) in enumerate(conv):
        ax.plot(tr.t, np.sum(tr.ito / tr.s, axis=1), color=f"C{i}", lw=1.2,
                label=f"{lab}: Itô rate Σ(η/2)tr(H_ℓΣ_B)/s_ℓ")
        ax.plot(tr.t, tr.grad_norm, color=f"C{i}", lw=0.7, ls=":", label=f"{lab}: |∇L|")
        ax.plot(tr.t, tr.loss, color=f"C{i}", lw=0.9, ls="--", label=f"{lab}: loss")
    ax.set_yscale("log")
    ax.set_title("near convergence: Itô rate, |∇L| and loss", fontsize=9)
    ax.set_xlabel("SGD step", fontsize=8)
    ax.legend(fontsize=6)
    # near convergence: the accumulated terms after the first fifth
    ax = axes.flat[5]
    for i, (lab, tr) in enumerate(conv):
        k0 = tr.steps // 5
        x = np.arange(k0, tr.steps + 1)
        for name, ls in (("flow", "--"), ("ito", "-"), ("quadratic", ":")):
            acc = np.concatenate([[0.0], np.cumsum(tr.log_K_terms[name][k0:])])
            ax.plot(x, acc, color=f"C{i}", lw=1.1, ls=ls, label=f"{lab}: {name}")
        obs = np.concatenate([[0.0], np.cumsum(tr.log_K_drift_obs[k0:])])
        ax.plot(x, obs, color=f"C{i}", lw=0.6, alpha=0.5, label=f"{lab}: observed Δlog K")
    ax.axhline(0.0, color="k", lw=0.5)
    ax.set_title("near convergence: accumulated terms of Δlog K after the first fifth", fontsize=9)
    ax.set_xlabel("SGD step", fontsize=8)
    ax.legend(fontsize=6)
    fig.tight_layout()
    return fig


def _plot_agreement(plt: Any, reg: Trajectory, cls: Trajectory, window: int) -> Any:
    m = reg.s.shape[1]
    fig, axes = plt.subplots(2, m + 1, figsize=(3.3 * (m + 1), 6.2), squeeze=False)
    for row, (tr, title) in enumerate(((reg, "regression"), (cls, "classification"))):
        w = min(window, max(1, tr.steps // 5))
        pred, obs, sd = tr.window_sums(w)
        corr = tr.drift_corr(w)
        for j in range(m + 1):
            ax = axes[row, j]
            ax.errorbar(pred[:, j], obs[:, j], yerr=2 * sd[:, j], fmt="o", ms=2.5, lw=0.5, alpha=0.6)
            lo, hi = float(min(pred[:, j].min(), obs[:, j].min())), float(max(pred[:, j].max(), obs[:, j].max()))
            ax.plot([lo, hi], [lo, hi], color="k", lw=0.7)
            lab = f"W{j + 1}" if j < m else "log K"
            ax.set_title(f"{title} {lab}: corr {corr[j]:.2f}", fontsize=9)
            ax.set_xlabel(f"predicted drift per {w} steps", fontsize=7)
            ax.set_ylabel("observed", fontsize=7)
            ax.tick_params(labelsize=6)
    fig.suptitle("Predicted vs observed drift summed over blocks of steps (bars: predicted ±2σ of the block)",
                 fontsize=10)
    fig.tight_layout()
    return fig
