"""``symlip dynamics``: the Lipschitz constant under SGD, predicted vs observed (docs/theory.md §7) (private).

Three studies on a synthetic teacher–student task (:func:`symlip.training.dynamics.teacher_student`)
and a tanh student:

1. **One step, η sweep.**  At a point θ reached by a few SGD steps, for η on a
   geometric grid and both batch samplings, the predicted ``E[Δs_ℓ]`` and
   ``Var[Δs_ℓ]`` (:func:`~symlip.training.dynamics.sgd_moments`) against Monte-Carlo SGD
   steps (:func:`~symlip.training.dynamics.monte_carlo`); relative errors and their
   log-log slopes in η.  Second order predicts a remainder ``O(η³)`` in
   ``E[Δs]``: the relative error of the mean (dominated by the ``O(η)`` flow term)
   falls like ``η²``, that of the second-order part like ``η``, the variance's like ``η``.
2. **Trajectories.**  SGD runs (regression, squared loss; classification with
   label noise, logistic loss) with the per-step predictions accumulated along the
   observed path (:func:`symlip.training.trajectory.sgd_trajectory`): agreement
   (correlation of per-step and windowed drift, of the accumulated paths, the
   fraction of steps inside the ±2σ band) and the size of the cross-layer part of
   ``Var[Δ log K]`` that [L]'s block-diagonal assumption drops.
3. **Factors.**  Batch size, label noise, initial scale, and a long run to
   near-convergence: observed and predicted growth of ``log K`` and the Itô term.

Writes ``dynamics.md``, ``dynamics.json`` and ``dynamics_*.png`` (when matplotlib is present).
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from symlip.training.dynamics import monte_carlo, sgd_moments, teacher_student
from symlip.models.network import MLP
from symlip.report.check import jsonable
from symlip.report.dynamics_plots import PNGS, plot_all
from symlip.training.trajectory import Trajectory, sgd_trajectory
from symlip.report.index import QUICK_NOTE, mark_quick

__all__ = ["run_dynamics_report"]

#: one-step target at the smallest η, on the second-order part c = (η²/2)(∇L:H:∇L + tr(HΣ_B)) of E[Δs]:
#: |E_MC[Δs] - predicted| <= TARGET |c| (gradient flow alone misses it by 100%, docs/theory.md §7)
TARGET = 0.05
#: the fitted slope of the mean's relative error must be within this of 2 (second order)
SLOPE_TOL = 0.5


@dataclass(frozen=True)
class _Setup:
    widths: tuple[int, ...]
    N: int
    batch: int
    warm_steps: int
    warm_eta: float
    etas: tuple[float, ...]
    n_mc: int
    eta_reg: float
    eta_cls: float
    steps: int
    batch_sizes: tuple[int, ...]
    label_noises: tuple[float, ...]
    scales: tuple[float, ...]
    main_noise: float
    conv_eta: float
    conv_steps: int
    conv_record: int
    conv_noise_std: float
    window: int
    replicates: int
    rep_steps: int


_FULL = _Setup(widths=(4, 16, 16, 1), N=256, batch=8, warm_steps=200, warm_eta=0.05,
               etas=tuple(float(v) for v in np.geomspace(0.3, 0.003, 7)), n_mc=20000,
               eta_reg=0.05, eta_cls=0.1, steps=1500, batch_sizes=(8, 32, 128), label_noises=(0.0, 0.2, 0.4),
               scales=(0.5, 1.0, 2.0), main_noise=0.2, conv_eta=0.1, conv_steps=10000, conv_record=20,
               conv_noise_std=0.3, window=50, replicates=24, rep_steps=400)
_QUICK = _Setup(widths=(3, 8, 8, 1), N=64, batch=8, warm_steps=50, warm_eta=0.05,
                etas=tuple(float(v) for v in np.geomspace(0.3, 0.003, 4)), n_mc=4000,
                eta_reg=0.05, eta_cls=0.1, steps=100, batch_sizes=(8, 32, 128), label_noises=(0.0, 0.2, 0.4),
                scales=(0.5, 1.0, 2.0), main_noise=0.2, conv_eta=0.1, conv_steps=300, conv_record=5,
                conv_noise_std=0.3, window=20, replicates=6, rep_steps=50)


def run_dynamics_report(out_dir: str | Path = "reports", seed: int = 0, quick: bool = False) -> dict[str, Any]:
    """Run the §7 studies and write ``dynamics.md``, ``dynamics.json`` and ``dynamics_*.png``.

    Parameters
    ----------
    out_dir : str or Path
        Report folder (created).
    seed : int
        Seed of the data, the initial parameters, the batches and the Monte-Carlo steps (``>= 0``).
    quick : bool
        Smaller network and data, fewer steps and Monte-Carlo samples (seconds; for CI).
        Writes the same files.

    Returns
    -------
    dict
        ``{"ok": one-step targets met, "files": [paths], "summary": [lines], "seconds": float,
        "one_step": {...}, "trajectories": {...}, "factors": {...}}`` (JSON-able).
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0; got {seed!r}")
    seed = int(seed)
    if not isinstance(quick, (bool, np.bool_)):
        raise TypeError(f"quick must be True or False; got {quick!r}")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"report folder {str(out)!r} is a file; give a folder")
    out.mkdir(parents=True, exist_ok=True)
    setup = _QUICK if quick else _FULL
    t_start = time.perf_counter()
    net = MLP(setup.widths, "tanh")
    d = setup.widths[0]
    Xr, yr = teacher_student(setup.N, d, task="regression", seed=seed)

    # -- 1. one step: η sweep ---------------------------------------------
    t0 = time.perf_counter()
    warm = sgd_trajectory(net, net.init(seed + 1), Xr, yr, batch_size=setup.batch, eta=setup.warm_eta,
                          steps=setup.warm_steps, seed=seed + 2, record_every=setup.warm_steps)
    theta_pt = warm.theta[-1]
    one = _eta_sweep(net, theta_pt, Xr, yr, setup, seed)
    one["seconds"] = time.perf_counter() - t0

    # -- 2./3. trajectories and factors -----------------------------------
    t0 = time.perf_counter()
    runs: dict[str, Trajectory] = {}

    def reg(key: str, *, B: int = setup.batch, scale: float = 1.0, eta: float = setup.eta_reg,
            steps: int = setup.steps, record: int = 1, X: Any = Xr, y: Any = yr) -> Trajectory:
        if key not in runs:
            runs[key] = sgd_trajectory(net, net.init(seed + 1, scale=scale), X, y, batch_size=B, eta=eta,
                                       steps=steps, seed=seed + 3, record_every=record)
        return runs[key]

    cls_data: dict[float, tuple[np.ndarray, np.ndarray]] = {}

    def cls(key: str, p: float) -> Trajectory:
        if key not in runs:
            if p not in cls_data:
                cls_data[p] = teacher_student(setup.N, d, task="classification", label_noise=p, seed=seed)
            Xc, yc = cls_data[p]
            runs[key] = sgd_trajectory(net, net.init(seed + 1), Xc, yc, batch_size=setup.batch,
                                       eta=setup.eta_cls, steps=setup.steps, loss="logistic", seed=seed + 3)
        return runs[key]

    main_reg = reg(f"regression B={setup.batch}")
    main_cls = cls(f"classification p={setup.main_noise:g}", setup.main_noise)
    factors: dict[str, list[tuple[str, Trajectory]]] = {"batch size": [], "label noise": [], "initial scale": []}
    for B in setup.batch_sizes:
        factors["batch size"].append((f"B = {B}", reg(f"regression B={B}", B=B)))
    for p in setup.label_noises:
        factors["label noise"].append((f"p = {p:g}", cls(f"classification p={p:g}", p)))
    for sc in setup.scales:
        key = f"regression B={setup.batch}" if sc == 1.0 else f"regression scale={sc:g}"
        factors["initial scale"].append((f"scale {sc:g}", reg(key, scale=sc)))
    Xn, yn = teacher_student(setup.N, d, task="regression", noise_std=setup.conv_noise_std, seed=seed)
    conv = [("noiseless targets", reg("near-convergence, noiseless", eta=setup.conv_eta, steps=setup.conv_steps,
                                      record=setup.conv_record)),
            (f"targets + N(0, {setup.conv_noise_std:g}²)",
             reg("near-convergence, noisy targets", eta=setup.conv_eta, steps=setup.conv_steps,
                 record=setup.conv_record, X=Xn, y=yn))]
    reps = _replicates(net, Xr, yr, setup, seed)
    traj_seconds = time.perf_counter() - t0

    # -- the report ---------------------------------------------------------
    agreement = {key: _agreement(tr, setup.window) for key, tr in runs.items()}
    fac = {name: [dict(level=lab, key=_key_of(runs, tr), **_growth_row(tr)) for lab, tr in rows]
           for name, rows in factors.items()}
    fac["near convergence"] = [dict(level=lab, key=_key_of(runs, tr), **_growth_row(tr), trend=_late_trend(tr))
                               for lab, tr in conv]
    findings = _findings(fac, setup)
    cross = _cross_summary(runs)
    ok_target = all(r["target_met"] for r in one["smallest"])
    ok_slope = all(abs(f["slope"] - 2.0) <= SLOPE_TOL for f in one["fits"] if f["measure"] == "mean_rel"
                   and f["slope"] is not None)
    ok = ok_target and ok_slope
    seconds = time.perf_counter() - t_start
    plotted = plot_all(out, one, main_reg, main_cls, factors, conv, setup.window, TARGET)
    for name in PNGS:  # stale pictures from an earlier run would contradict the text
        if name not in plotted and (out / name).exists():
            (out / name).unlink()
    result = {
        "report": "dynamics", "seed": seed, "quick": bool(quick), **({"note": QUICK_NOTE} if quick else {}), "ok": ok, "target_met": ok_target,
        "slope_ok": ok_slope, "target": TARGET, "slope_tol": SLOPE_TOL, "seconds": round(seconds, 2),
        "trajectory_seconds": round(traj_seconds, 2), "setup": asdict(setup),
        "point": {"warm_steps": setup.warm_steps, "warm_eta": setup.warm_eta, "loss": float(warm.loss[-1]),
                  "grad_norm": float(warm.grad_norm[-1]), "s": warm.s[-1].tolist()},
        "one_step": one, "agreement": agreement, "replicates": reps, "factors": fac, "findings": findings,
        "cross_layer": cross,
        "trajectories": {key: tr.to_dict(max_points=60) for key, tr in runs.items()},
    }
    md = out / "dynamics.md"
    md.write_text(mark_quick(_markdown(result, setup, plotted)) if quick else _markdown(result, setup, plotted),
                  encoding="utf-8")
    js = out / "dynamics.json"
    js.write_text(json.dumps(_json(result), separators=(",", ":"), allow_nan=False) + "\n", encoding="utf-8")
    files = [str(md), str(js)] + [str(out / p) for p in plotted]
    small = one["smallest"]
    summary = [
        f"SGD dynamics of the Lipschitz bound (docs/theory.md §7; seed {seed}{', quick' if quick else ''}): "
        f"{'OK' if ok else 'TARGET MISSED'} in {seconds:.1f} s",
        f"  one step at η = {one['etas'][-1]:.3g}: max relative error of the second-order part of E[Δs_ℓ] "
        f"{max(r['curv_rel'] for r in small):.1%} (target {TARGET:.0%}; gradient flow alone: 100%), of the whole "
        f"mean {max(r['rel_err'] for r in small):.2%} (gradient flow alone: {max(r['flow_rel'] for r in small):.2%})",
    ]
    for f in one["fits"]:
        if f["measure"] == "mean_rel" and f["slope"] is not None:
            summary.append(f"  slope of the mean's relative error, {f['layer']} ({f['sampling']}): "
                           f"{f['slope']:.2f} (second order: 2)")
    for key in (f"regression B={setup.batch}", f"classification p={setup.main_noise:g}"):
        a = agreement[key]
        summary.append(f"  {key}: band coverage {min(a['coverage']):.0%}–{max(a['coverage']):.0%}, "
                       f"windowed drift corr {_fmt_list(a['corr_window'])}")
    summary.append(f"  {reps['runs']} replicate runs: final z mean {_fmt_list(reps['z_mean'], '{:+.2f}')}, "
                   f"sd {_fmt_list(reps['z_sd'])}, |z| < 2 in {_fmt_list(reps['z_within_2'], '{:.0%}')}")
    summary.append(f"  cross-layer covariances / block-diagonal part of Var[Δ log K]: median |.| "
                   f"{cross['median_abs']:.3g}, max |.| {cross['max_abs']:.3g}")
    for name, line in findings.items():
        summary.append(f"  {name}: {line}")
    if not plotted:
        from symlip.core.plot import INSTALL_HINT

        summary.append(f"  no PNG plots: {INSTALL_HINT}")
    summary.append("wrote " + ", ".join(files))
    return {"ok": ok, "files": files, "summary": summary, "seconds": seconds, "one_step": _json(one),
            "agreement": agreement, "replicates": reps, "factors": _json(fac), "findings": findings,
            "cross_layer": cross}


# ---------------------------------------------------------------------------
# 1. one step
# ---------------------------------------------------------------------------
def _eta_sweep(net: MLP, theta: np.ndarray, X: np.ndarray, y: np.ndarray, setup: _Setup, seed: int) -> dict:
    rows: list[dict[str, Any]] = []
    m = net.depth
    for repl in (True, False):
        base = sgd_moments(net, theta, X, y, batch_size=setup.batch, eta=setup.etas[0], replacement=repl)
        for i, eta in enumerate(setup.etas):
            mo = base.with_eta(eta)
            mc = monte_carlo(net, theta, X, y, mo, n_steps=setup.n_mc, seed=seed + 100 + i + (0 if repl else 50))
            curv = mo.mean_curvature + mo.noise_curvature
            vt, vt_se = _paired_var(mc.ds, mc.linear)
            lk_lin = (mc.linear / mo.s).sum(axis=1)
            lvt, lvt_se = _paired_var(mc.dlogK[:, None], lk_lin[:, None])
            for ell in range(m):
                mc_mean, se = float(mc.mean[ell]), float(mc.mean_se[ell])
                pred = float(mo.mean[ell])
                rows.append({
                    "sampling": "with" if repl else "without", "eta": eta, "layer": f"W{ell + 1}",
                    "pred_mean": pred, "mc_mean": mc_mean, "mc_mean_se": se,
                    "rel_err": abs(mc_mean - pred) / abs(mc_mean), "rel_err_se": se / abs(mc_mean),
                    "taylor_err": float(mc.error[ell]), "taylor_err_se": float(mc.error_se[ell]),
                    "taylor_rel": abs(float(mc.error[ell])) / abs(mc_mean),
                    "taylor_rel_se": float(mc.error_se[ell]) / abs(mc_mean),
                    "flow": float(mo.flow[ell]), "curv_pred": float(curv[ell]),
                    "curv_mc": mc_mean - float(mo.flow[ell]),
                    "curv_rel": abs(mc_mean - pred) / abs(float(curv[ell])),
                    "curv_rel_se": se / abs(float(curv[ell])),
                    "flow_rel": abs(mc_mean - float(mo.flow[ell])) / abs(mc_mean),
                    "pred_var": float(mo.var[ell]), "mc_var": float(mc.var[ell]), "mc_var_se": float(mc.var_se[ell]),
                    "var_rel": abs(float(mc.var[ell]) - float(mo.var[ell])) / float(mo.var[ell]),
                    "var_rel_se": float(mc.var_se[ell]) / float(mo.var[ell]),
                    "curv_trunc_rel": abs(float(mc.error[ell])) / abs(float(curv[ell])),
                    "curv_trunc_rel_se": float(mc.error_se[ell]) / abs(float(curv[ell])),
                    "var_trunc": float(vt[ell]), "var_trunc_se": float(vt_se[ell]),
                    "var_trunc_rel": abs(float(vt[ell])) / float(mo.var[ell]),
                    "var_trunc_rel_se": float(vt_se[ell]) / float(mo.var[ell]),
                })
            rows.append({
                "sampling": "with" if repl else "without", "eta": eta, "layer": "log K",
                "pred_mean": mo.log_K_mean, "mc_mean": mc.log_K_mean, "mc_mean_se": mc.log_K_mean_se,
                "rel_err": abs(mc.log_K_mean - mo.log_K_mean) / abs(mc.log_K_mean),
                "rel_err_se": mc.log_K_mean_se / abs(mc.log_K_mean),
                "pred_var": mo.log_K_var, "mc_var": mc.log_K_var, "mc_var_se": mc.log_K_var_se,
                "var_rel": abs(mc.log_K_var - mo.log_K_var) / mo.log_K_var,
                "var_rel_se": mc.log_K_var_se / mo.log_K_var, "cross_fraction": mo.cross_fraction,
                "var_trunc_rel": abs(float(lvt[0])) / mo.log_K_var, "var_trunc_rel_se": float(lvt_se[0]) / mo.log_K_var,
            })
    fits = []
    for repl in ("with", "without"):
        for layer in [f"W{ell + 1}" for ell in range(m)]:
            sel = [r for r in rows if r["sampling"] == repl and r["layer"] == layer]
            for measure, key, se_key, expect in (("taylor_abs", "taylor_err", "taylor_err_se", 3.0),
                                                 ("mean_rel", "taylor_rel", "taylor_rel_se", 2.0),
                                                 ("curv_rel", "curv_trunc_rel", "curv_trunc_rel_se", 1.0),
                                                 ("var_rel", "var_trunc_rel", "var_trunc_rel_se", 1.0)):
                slope, used = _fit_slope([r["eta"] for r in sel], [abs(r[key]) for r in sel],
                                         [r[se_key] for r in sel])
                fits.append({"sampling": repl, "layer": layer, "measure": measure, "expected": expect,
                             "slope": slope, "points": used})
    eta_min = setup.etas[-1]
    smallest = [dict(r, target_met=bool(r["curv_rel"] <= TARGET)) for r in rows
                if r["eta"] == eta_min and r["layer"] != "log K"]
    return {"etas": list(setup.etas), "batch_size": setup.batch, "n_mc": setup.n_mc, "rows": rows, "fits": fits,
            "smallest": smallest}


def _paired_var(ds: np.ndarray, lin: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``Var[Δs] - Var[lin]`` from paired samples, and its standard error.

    ``lin = -η<J, g_b>`` has exactly the predicted variance ``η² J:Σ_B:J``, so this is the
    variance's truncation error, estimated with the noise of ``Δs - lin`` (``O(η²)``) instead
    of that of ``Δs`` (``O(η)``).
    """
    n = ds.shape[0]
    d = (ds - ds.mean(axis=0)) ** 2 - (lin - lin.mean(axis=0)) ** 2
    return d.mean(axis=0) * n / (n - 1), d.std(axis=0, ddof=1) / math.sqrt(n)


def _fit_slope(eta: list[float], err: list[float], se: list[float]) -> tuple[float | None, int]:
    """Least-squares slope of ``log err`` on ``log η`` over the points where the error is
    resolved (``err > 2 SE``); ``None`` with fewer than 3 such points."""
    e, v, s = (np.asarray(a, dtype=float) for a in (eta, err, se))
    ok = (v > 2 * s) & (v > 0) & np.isfinite(v)
    if ok.sum() < 3:
        return None, int(ok.sum())
    slope = np.polyfit(np.log(e[ok]), np.log(v[ok]), 1)[0]
    return float(slope), int(ok.sum())


# ---------------------------------------------------------------------------
# 2./3. trajectories and factors
# ---------------------------------------------------------------------------
def _agreement(tr: Trajectory, window: int) -> dict[str, Any]:
    w = min(window, max(1, tr.steps // 5))
    return {"steps": tr.steps, "eta": tr.eta, "batch_size": tr.setup["batch_size"], "loss": tr.setup["loss"],
            "corr_step": _list(tr.drift_corr(1)), "corr_window": _list(tr.drift_corr(w)), "window": w,
            "corr_path": _list(tr.path_corr()), "coverage": _list(tr.coverage(2.0)),
            "window_z_sd": _list(np.nanstd(tr.window_z(w), axis=0, ddof=1)),
            "window_z_within_2": _list(np.nanmean(np.abs(tr.window_z(w)) < 2, axis=0)),
            "window_z_mean": _list(np.nanmean(tr.window_z(w), axis=0)), "windows": tr.steps // w,
            "z_final": _list(tr.z_final()),
            "cross_median_abs": float(np.median(np.abs(tr.cross_step))),
            "cross_max_abs": float(np.max(np.abs(tr.cross_step))),
            "loss_start": float(tr.loss[0]), "loss_end": float(tr.loss[-1]),
            "grad_start": float(tr.grad_norm[0]), "grad_end": float(tr.grad_norm[-1]),
            "coverage_martingale": _list(tr.coverage(2.0, remove_remainder=True)),
            "log_K_coverage_block": float(tr.coverage(2.0, block=True)[-1]),
            "remainder_z": _list(tr.accumulated_remainder()[-1] / np.append(tr.s_sd[-1], tr.log_K_sd[-1])),
            "seconds": round(tr.seconds, 2)}


def _replicates(net: MLP, X: np.ndarray, y: np.ndarray, setup: _Setup, seed: int) -> dict[str, Any]:
    """The main regression setting rerun with independent batch seeds: the distribution of the
    final ``z = (observed - predicted)/sd`` (ideally mean 0, sd 1, ``|z| < 2`` in 95% of runs)."""
    zs, cov = [], []
    theta0 = net.init(seed + 1)
    for r in range(setup.replicates):
        tr = sgd_trajectory(net, theta0, X, y, batch_size=setup.batch, eta=setup.eta_reg, steps=setup.rep_steps,
                            seed=seed + 1000 + r, record_every=max(1, setup.rep_steps // 50))
        zs.append(tr.z_final())
        cov.append(tr.coverage(2.0))
    z, c = np.array(zs), np.array(cov)
    return {"runs": setup.replicates, "steps": setup.rep_steps, "eta": setup.eta_reg, "batch_size": setup.batch,
            "z_mean": _list(z.mean(axis=0)), "z_sd": _list(z.std(axis=0, ddof=1)),
            "z_within_2": _list(np.mean(np.abs(z) < 2, axis=0)), "coverage_mean": _list(c.mean(axis=0)),
            "z": _json(z)}


def _growth_row(tr: Trajectory) -> dict[str, Any]:
    g = tr.growth()
    return {"observed": g["observed"], "predicted": g["predicted"], "sd": g["sd"], "terms": g["terms"],
            "ito_rate": g["ito_rate"], "flow_rate": g["flow_rate"], "ito_rate_late": g["ito_rate_late"],
            "flow_rate_late": g["flow_rate_late"], "observed_late": g["observed_late"],
            "predicted_late": g["predicted_late"], "sd_late": g["sd_late"], "late_steps": g["late_steps"],
            "remainder": g["remainder"], "cross_drift": g["cross_drift"], "terms_late": g["terms_late"],
            "grad_start": float(tr.grad_norm[0]), "grad_end": float(tr.grad_norm[-1]),
            "loss_start": float(tr.loss[0]), "loss_end": float(tr.loss[-1]),
            "ito_start": float(_ito_rate_at(tr, 0)), "ito_end": float(_ito_rate_at(tr, -1)),
            "steps": tr.steps, "eta": tr.eta}


def _ito_rate_at(tr: Trajectory, j: int) -> float:
    """``Σ_ℓ (η/2) tr(H_ℓ Σ_B)/s_ℓ`` per unit time at the recorded index ``j``."""
    return float(np.sum(tr.ito[j] / tr.s[j]))


def _key_of(runs: dict[str, Trajectory], tr: Trajectory) -> str:
    return next(k for k, v in runs.items() if v is tr)


def _cross_summary(runs: dict[str, Trajectory]) -> dict[str, Any]:
    allc = np.concatenate([tr.cross_step for tr in runs.values()])
    return {"median_abs": float(np.median(np.abs(allc))), "max_abs": float(np.max(np.abs(allc))),
            "mean": float(np.mean(allc)), "steps": int(allc.size),
            "per_run": {k: {"median_abs": float(np.median(np.abs(tr.cross_step))),
                            "max_abs": float(np.max(np.abs(tr.cross_step))),
                            "mean": float(np.mean(tr.cross_step)), "cross_drift": tr.growth()["cross_drift"],
                            "sd": float(tr.log_K_sd[-1])} for k, tr in runs.items()}}


def _carried(rows: list[dict]) -> str:
    """Which predicted term carries the change of log K across a factor's levels."""
    flow = all(abs(r["terms"]["flow"]) > abs(r["terms"]["ito"]) for r in rows)
    ito = all(abs(r["terms"]["ito"]) > abs(r["terms"]["flow"]) for r in rows)
    obs = [r["observed"] for r in rows]
    spread = max(obs) - min(obs)
    same = spread < 0.1 * max(abs(x) for x in obs)
    head = ("; the gradient-flow term dominates the predicted change at every level" if flow else
            "; the Itô term dominates the predicted change at every level" if ito else
            "; neither term dominates at every level")
    return head + (f" and the observed change varies little across levels (spread {spread:.3f})" if same else "")


def _late_trend(tr: Trajectory, fraction: float = 0.5, blocks: int = 10) -> dict[str, Any]:
    """The change of ``log K`` over the last ``fraction`` of a run, observed and predicted.

    ``observed_se`` comes from the spread of the observed changes over ``blocks`` equal
    blocks (``sd · sqrt(blocks)``): the scale of the observed path's own fluctuations.  Near a
    minimum the path is mean-reverting — the noise kicks and the gradient-flow term's pull
    back largely cancel — so this is much smaller than the martingale sd of the accumulated
    prediction (``predicted_sd``), which is the yardstick for observed vs predicted.
    """
    n = tr.steps
    k0 = n - (int(n * fraction) // blocks) * blocks
    obs = tr.log_K_drift_obs[k0:].reshape(blocks, -1).sum(axis=1)
    terms = {k: float(v[k0:].sum()) for k, v in tr.log_K_terms.items()}
    span = (n - k0) * tr.eta
    return {"from_step": int(k0), "steps": int(n - k0), "time": span, "observed": float(obs.sum()),
            "observed_se": float(obs.std(ddof=1) * math.sqrt(blocks)), "predicted": float(sum(terms.values())),
            "predicted_sd": float(math.sqrt(tr.log_K_var_pred[k0:].sum())), "terms": terms,
            "ito_rate": terms["ito"] / span, "flow_rate": terms["flow"] / span,
            "observed_rate": float(obs.sum()) / span}


def _findings(fac: dict[str, list[dict]], setup: _Setup) -> dict[str, str]:
    """One line per factor, written from the measured numbers."""
    out: dict[str, str] = {}

    def agree(r: dict) -> str:
        z = (r["observed"] - r["predicted"]) / r["sd"] if r["sd"] > 0 else math.inf
        return f"{r['observed']:+.3f} observed vs {r['predicted']:+.3f} ± {r['sd']:.3f} predicted ({z:+.1f}σ)"

    def split(rows: list[dict]) -> str:
        return ", ".join(f"{r['terms']['flow']:+.3f} / {r['terms']['ito']:+.3f}" for r in rows)

    def mono(rows: list[dict], key: str, what: str, up: str, down: str) -> str:
        v = [r[key] for r in rows]
        if all(x < y for x, y in zip(v, v[1:])):
            return f"{what} {up}"
        if all(x > y for x, y in zip(v, v[1:])):
            return f"{what} {down}"
        return f"{what} is not monotone"

    b = fac["batch size"]
    ratios = [r["ito_rate"] / b[0]["ito_rate"] for r in b]
    out["batch size"] = (
        "Δlog K " + "; ".join(f"{r['level']}: {agree(r)}" for r in b)
        + f". Mean Itô rate relative to {b[0]['level']}: " + ", ".join(f"{q:.3g}" for q in ratios)
        + " (noise ∝ 1/B predicts " + ", ".join(f"{setup.batch_sizes[0] / B:.3g}" for B in setup.batch_sizes)
        + "): " + ("the Itô term falls with B as predicted" if all(x > y for x, y in zip(ratios, ratios[1:]))
                   else "not monotone in B")
        + f"; predicted flow / Itô contributions {split(b)}" + _carried(b) + ".")
    ln = fac["label noise"]
    out["label noise"] = (
        "Δlog K " + "; ".join(f"{r['level']}: {agree(r)}" for r in ln)
        + ". Mean Itô rate " + ", ".join(f"{r['ito_rate']:.3g}" for r in ln) + ": "
        + mono(ln, "ito_rate", "it", "grows with the label-noise rate (larger Σ)",
               "falls with the label-noise rate")
        + f"; predicted flow / Itô contributions {split(ln)}: "
        + mono(ln, "observed", "the growth of K", "rises with p", "falls with p") + _carried(ln) + ".")
    sc = fac["initial scale"]
    out["initial scale"] = (
        "Δlog K " + "; ".join(f"{r['level']}: {agree(r)}" for r in sc)
        + ". Mean Itô rate " + ", ".join(f"{r['ito_rate']:.3g}" for r in sc)
        + "; mean flow rate " + ", ".join(f"{r['flow_rate']:+.3g}" for r in sc) + ": "
        + mono(sc, "observed", "the growth of K", "rises with the initial scale",
               "falls with the initial scale") + _carried(sc) + ".")
    cv = fac["near convergence"]
    parts = []
    for r in cv:
        tr = r["trend"]
        obs, se = tr["observed"], tr["observed_se"]
        trend = ("keeps growing" if obs > 2 * se else "shrinks" if obs < -2 * se
                 else "shows no significant trend") + f" ({obs / se:+.1f} se)"
        z = (obs - tr["predicted"]) / tr["predicted_sd"] if tr["predicted_sd"] > 0 else math.inf
        parts.append(
            f"{r['level']}: loss {r['loss_start']:.2g} → {r['loss_end']:.2g}, |∇L| {r['grad_start']:.2g} → "
            f"{r['grad_end']:.2g}; the Itô rate stays positive but goes {r['ito_start']:.2g} → {r['ito_end']:.2g} "
            f"per unit time. Over the last {tr['steps']} steps K {trend}: Δlog K = {obs:+.3f} ± {se:.3f} "
            f"observed, against the Itô term's {tr['terms']['ito']:+.3f}, the gradient-flow term's "
            f"{tr['terms']['flow']:+.3f} and the quadratic term's {tr['terms']['quadratic']:+.3f} "
            f"(predicted total {tr['predicted']:+.3f} ± {tr['predicted_sd']:.3f}, {z:+.1f}σ)")
    out["near convergence"] = "; ".join(parts) + "."
    return out


# ---------------------------------------------------------------------------
# markdown
# ---------------------------------------------------------------------------
def _fmt_list(v: list, fmt: str = "{:.2f}") -> str:
    return "[" + ", ".join("—" if x is None else fmt.format(x) for x in v) + "]"


def _markdown(res: dict, setup: _Setup, plotted: list[str]) -> str:
    from symlip.core.plot import INSTALL_HINT

    one = res["one_step"]
    m = len(setup.widths) - 1
    layers = [f"W{ell + 1}" for ell in range(m)]
    small = one["smallest"]
    worst = max(small, key=lambda r: r["rel_err"])
    worst2 = max(small, key=lambda r: r["curv_rel"])
    slope_mean = [f for f in one["fits"] if f["measure"] == "mean_rel"]
    sl = [f["slope"] for f in slope_mean if f["slope"] is not None]
    verdict = (f"**{'PASS' if res['ok'] else 'TARGET MISSED'} — the second-order part of one-step E[Δs_ℓ] "
               f"within {worst2['curv_rel']:.1%} ± {worst2['curv_rel_se']:.1%} of Monte-Carlo at η = "
               f"{one['etas'][-1]:.3g} (target {TARGET:.0%}; gradient flow alone: 100%); the whole mean within "
               f"{worst['rel_err']:.2%} (gradient flow alone: {max(r['flow_rel'] for r in small):.2%}); "
               "relative error ∝ η^p, p = " + (f"{min(sl):.2f}–{max(sl):.2f}" if sl else "—")
               + f" (second order: 2); cross-layer terms add a median {res['cross_layer']['median_abs']:.0%} to "
               "the block-diagonal Var[Δ log K].**")
    L: list[str] = [
        "# The Lipschitz bound under SGD: predicted vs observed (docs/theory.md §7)", "", verdict, "",
        f"Setting{' (quick mode)' if res['quick'] else ''}, seed {res['seed']}: student tanh {list(setup.widths)} "
        f"(K = S1^{m - 1} ∏ s_ℓ, s_ℓ = ||W_ℓ||_2, S1 = 1), N = {setup.N} inputs x ~ N(0, I/{setup.widths[0]}) with "
        f"targets from a random tanh teacher [{setup.widths[0]}, 8, 1] (`teacher_student`): regression with the "
        "squared loss ½(f − y)², classification (labels sign(teacher) flipped with probability p) with the logistic "
        "loss. Predictions are the second-order formulas of `symlip.training.dynamics.sgd_moments` (exact noise "
        "covariance over all N per-sample gradients).", "",
        "## 1. One step: predicted moments vs Monte-Carlo, η sweep", "",
        f"Point θ: {setup.warm_steps} SGD steps (η = {setup.warm_eta:g}, B = {setup.batch}) from "
        f"`init({res['seed'] + 1})`"
        f" (loss {res['point']['loss']:.3g}, |∇L| {res['point']['grad_norm']:.3g}, s = "
        f"{_fmt_list(res['point']['s'], '{:.3f}')}). Batch B = {setup.batch}, with and without replacement; "
        f"{setup.n_mc} Monte-Carlo steps per η (`monte_carlo`: exact SVD of every updated W_ℓ).", "",
        "Two kinds of figures. **Direct**: |E_MC[Δs] − pred| / |E_MC[Δs]| (E_MC with the control variate "
        "−η⟨J, g_b⟩, whose mean is known exactly) and |Var_MC[Δs] − pred| / pred — these test the predicted "
        "values, down to the Monte-Carlo noise. **Truncation**: the part second order leaves out, estimated "
        "from paired samples with far less noise — for the mean the Taylor remainder E[Δs − (−η⟨J,g_b⟩ + "
        "η²/2 g_b:H:g_b)] (the expansion's mean is exactly the prediction), for the variance "
        "Var[Δs] − Var[−η⟨J,g_b⟩] (the latter's variance is exactly the prediction η² J:Σ_B:J). Second order "
        "predicts a remainder O(η³) in E[Δs] (slope 3; relative to E[Δs] ≈ flow = O(η): slope 2; relative to the "
        "second-order part O(η²): slope 1) and O(η³) in Var[Δs] (relative: slope 1). The slopes are fitted to "
        "the truncation figures.", "",
        f"### At the smallest η = {one['etas'][-1]:.3g} (direct)", "",
        "| sampling | layer | predicted E[Δs] | Monte-Carlo ± SE | rel. error | second-order part: "
        f"pred / MC | its rel. error | target ≤ {TARGET:.0%} | Var pred / MC | var rel. error |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in small:
        L.append(f"| {r['sampling']} | {r['layer']} | {r['pred_mean']:.5g} | {r['mc_mean']:.5g} ± "
                 f"{r['mc_mean_se']:.2g} | {r['rel_err']:.3%} ± {r['rel_err_se']:.2%} | "
                 f"{r['curv_pred']:.3g} / {r['curv_mc']:.3g} | {r['curv_rel']:.1%} ± {r['curv_rel_se']:.1%} | "
                 f"{'yes' if r['target_met'] else '**no**'} | {r['pred_var']:.3g} / {r['mc_var']:.3g} | "
                 f"{r['var_rel']:.1%} ± {r['var_rel_se']:.1%} |")
    lk = [r for r in one["rows"] if r["layer"] == "log K" and r["eta"] == one["etas"][-1]]
    for r in lk:
        L.append(f"| {r['sampling']} | log K | {r['pred_mean']:.5g} | {r['mc_mean']:.5g} ± {r['mc_mean_se']:.2g} | "
                 f"{r['rel_err']:.3%} ± {r['rel_err_se']:.2%} | — | — | — | {r['pred_var']:.3g} / "
                 f"{r['mc_var']:.3g} | {r['var_rel']:.1%} ± {r['var_rel_se']:.1%} |")
    L += ["", "The flow term −η⟨J, ∇L⟩ dominates E[Δs] at small η, so the whole mean's relative error is easy to "
          "make small (gradient flow alone comes within "
          f"{max(r['flow_rel'] for r in small):.2%}); the target is therefore set on the second-order part "
          "(η²/2)(∇L:H:∇L + tr(HΣ_B)), which gradient flow alone misses by 100%: it tests the curvature and "
          "noise terms (its Monte-Carlo noise does not shrink with η in relative terms).",
          "", "### Truncation errors across η (with replacement; without replacement in dynamics.json)", "",
          "Relative to E[Δs], to the second-order part, and to Var[Δs]; ± one standard error.", "",
          "| η | " + " | ".join(f"{ell}: mean | {ell}: 2nd-order part | {ell}: var" for ell in layers) + " |",
          "|---|" + "---|---|---|" * m]
    for eta in one["etas"]:
        cells = []
        for ell in layers:
            r = next(x for x in one["rows"] if x["sampling"] == "with" and x["layer"] == ell and x["eta"] == eta)
            cells.append(f"{r['taylor_rel']:.1e} ± {r['taylor_rel_se']:.0e} | {r['curv_trunc_rel']:.1e} ± "
                         f"{r['curv_trunc_rel_se']:.0e} | {r['var_trunc_rel']:.1e} ± {r['var_trunc_rel_se']:.0e}")
        L.append(f"| {eta:.3g} | " + " | ".join(cells) + " |")
    L += ["", "### Fitted log-log slopes of the truncation errors (points with error > 2 SE only)", "",
          "| sampling | layer | |remainder of E[Δs]| (expect 3) | relative to E[Δs] (expect 2) | "
          "relative to the second-order part (expect 1) | variance, relative (expect 1) |",
          "|---|---|---|---|---|---|"]
    for repl in ("with", "without"):
        for ell in layers:
            cells = []
            for meas in ("taylor_abs", "mean_rel", "curv_rel", "var_rel"):
                f = next(x for x in one["fits"] if x["sampling"] == repl and x["layer"] == ell
                         and x["measure"] == meas)
                cells.append("—" if f["slope"] is None else f"{f['slope']:.2f} ({f['points']} pts)")
            L.append(f"| {repl} | {ell} | " + " | ".join(cells) + " |")
    L += ["", "A slope is left out (—) where fewer than three η resolve the error above twice its standard error "
          "(at small η the remainder sinks below the Monte-Carlo noise).", ""]
    if "dynamics_eta.png" in plotted:
        L += ["![relative error vs η](dynamics_eta.png)", ""]

    # trajectories
    L += ["## 2. Trajectories: accumulated prediction vs the observed path", "",
          "Along each SGD run the predicted one-step moments are evaluated at the actual iterate θ_k at every "
          "step and accumulated: s_pred(t) = s(0) + Σ_{k<t} E[Δs | θ_k], band ±2 sqrt(Σ_{k<t} Var[Δs | θ_k]); the "
          "same for log K. s(t) − s_pred(t) is then a martingale with that variance when the model is right, "
          "so about 95% of the steps should lie in the band. The observed per-step Δs is dominated by its "
          f"noise, so the per-step correlation is small even for an exact model; the windowed correlation "
          f"(sums over blocks of {setup.window} steps) and the correlation of the accumulated paths are also given.",
          "",
          "Correlations of predicted and observed drift (per layer W1…, then log K):", "",
          "| run | steps | η | B | loss L: start → end | per step | windowed | accumulated paths | "
          "block z: sd (ideal 1) | block z: share |z| < 2 (ideal 95%) |",
          "|---|---|---|---|---|---|---|---|---|---|"]
    for key, a in res["agreement"].items():
        L.append(f"| {key} | {a['steps']} | {a['eta']:g} | {a['batch_size']} | {a['loss_start']:.3g} → "
                 f"{a['loss_end']:.3g} | {_fmt_list(a['corr_step'])} | {_fmt_list(a['corr_window'])} | "
                 f"{_fmt_list(a['corr_path'])} | {_fmt_list(a['window_z_sd'])} | "
                 f"{_fmt_list(a['window_z_within_2'], '{:.0%}')} |")
    L += ["", "Correlations mix two things: how much the true drift varies along the run (little, late in a run "
          "or under heavy label noise, where the correlations are small) and how well it is predicted. The block "
          "residuals z = (observed − predicted)/σ of the drift summed over each block of steps isolate the "
          "second: they are approximately independent standard normals when the model is right."]
    L += ["", "Bands (per layer, then log K): the fraction of steps whose observed value lies in the predicted "
          "±2σ band; the same for the martingale part (observed minus the accumulated realised Taylor remainder, "
          "i.e. what the band describes exactly); for log K also the band [L]'s block-diagonal variance would "
          "give; z = (observed − predicted)/σ at the end, and the accumulated Taylor remainder in the same σ "
          "units (the truncation bias of second order along the run).", "",
          "| run | in ±2σ band | martingale part in band | log K in block-diagonal band | final z | "
          "remainder / σ |", "|---|---|---|---|---|---|"]
    for key, a in res["agreement"].items():
        L.append(f"| {key} | {_fmt_list(a['coverage'], '{:.0%}')} | {_fmt_list(a['coverage_martingale'], '{:.0%}')}"
                 f" | {a['log_K_coverage_block']:.0%} | {_fmt_list(a['z_final'], '{:+.1f}')} | "
                 f"{_fmt_list(a['remainder_z'], '{:+.1e}')} |")
    rp = res["replicates"]
    L += ["", f"One path is one draw of a strongly autocorrelated martingale, so its band coverage is itself very "
          f"noisy (shared batch seeds also make the regression runs above move together). Rerunning the main "
          f"regression setting {rp['runs']} times with independent batch seeds ({rp['steps']} steps, η = "
          f"{rp['eta']:g}, B = {rp['batch_size']}): final z per layer and log K has mean "
          f"{_fmt_list(rp['z_mean'], '{:+.2f}')} (ideal 0) and sd {_fmt_list(rp['z_sd'])} (ideal 1); |z| < 2 in "
          f"{_fmt_list(rp['z_within_2'], '{:.0%}')} of the runs (ideal 95%); mean band coverage "
          f"{_fmt_list(rp['coverage_mean'], '{:.0%}')}.", ""]
    if "dynamics_trajectories.png" in plotted:
        L += ["![trajectories with predicted bands](dynamics_trajectories.png)", ""]
    if "dynamics_agreement.png" in plotted:
        L += ["![predicted vs observed drift](dynamics_agreement.png)", ""]

    # block-diagonal
    cr = res["cross_layer"]
    L += ["## 3. The block-diagonal noise assumption of [L]", "",
          "[L] takes the gradient noise block-diagonal across layers. Measured at every step of every run: the "
          "cross-layer covariances' part of Var[Δ log K], Σ_{ℓ≠k} η² J_ℓ:Σ_B:J_k/(s_ℓ s_k), relative to the "
          "block-diagonal part Σ_ℓ η² J_ℓ:Σ_B:J_ℓ/s_ℓ² (`cross_fraction`: 0 when the assumption holds, negative "
          "when the layers' fluctuations anti-correlate; the true Var[Δ log K] is the block-diagonal one times "
          "1 + cross_fraction). Per-sample gradients of all layers share the factor ℓ'(f_n), so their "
          "projections on the J_ℓ are correlated across layers.", "",
          f"- over all {cr['steps']} steps: median |cross_fraction| = {cr['median_abs']:.3g}, max = "
          f"{cr['max_abs']:.3g}, mean (signed) = {cr['mean']:+.3g}", "",
          "| run | median abs | max abs | mean (signed) | [L]'s extra drift −½ Σ_k cross_k | σ of Δlog K over the run |",
          "|---|---|---|---|---|---|"]
    for key, c in cr["per_run"].items():
        L.append(f"| {key} | {c['median_abs']:.3g} | {c['max_abs']:.3g} | {c['mean']:+.3g} | "
                 f"{c['cross_drift']:+.2e} | {c['sd']:.3g} |")
    L += ["", "The log K column of the band table in §2 shows what dropping the cross terms does to the band "
          "(\"log K in block-diagonal band\"); [L]'s network-level drift formula would add the (small, O(η²) per "
          "step) extra drift above."]
    L += ["", "The cross terms do not enter E[Δ log K] (only Var[Δ log K] and E[ΔK]); the §7 Itô formula for "
          "log K subtracts ½ Σ_{ℓ,k} d⟨s_ℓ, s_k⟩/(s_ℓ s_k), which is right only when they vanish "
          "(see `symlip/dynamics.py`).", ""]

    # factors
    L += ["## 4. Factors", "",
          "Δlog K over each run: observed, accumulated prediction ± 1σ, the predicted split into gradient flow "
          "Σ flow_ℓ/s_ℓ, mean-gradient curvature, Itô term Σ (η²/2) tr(H_ℓΣ_B)/s_ℓ and the quadratic "
          "correction −½ Σ E[Δs_ℓ²]/s_ℓ²; the mean Itô rate is Σ_ℓ (η/2) tr(H_ℓΣ_B)/s_ℓ per unit time t = kη.", "",
          "| factor | level | steps × η | Δlog K observed | predicted ± σ | flow | mean curv. | Itô | quadratic | "
          "mean Itô rate | |∇L| start → end |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, rows in res["factors"].items():
        for r in rows:
            t = r["terms"]
            L.append(f"| {name} | {r['level']} | {r['steps']} × {r['eta']:g} | {r['observed']:+.4f} | "
                     f"{r['predicted']:+.4f} ± {r['sd']:.4f} | {t['flow']:+.4f} | {t['mean_curvature']:+.2e} | "
                     f"{t['ito']:+.2e} | {t['quadratic']:+.2e} | {r['ito_rate']:.3g} | {r['grad_start']:.2g} → "
                     f"{r['grad_end']:.2g} |")
    L += ["", "Near convergence the path is mean-reverting: the noise's kicks (the martingale) and the pull of the "
          "gradient-flow term evaluated at the jittering iterate largely cancel, so the accumulated prediction "
          "wanders with the martingale while the observed log K is smooth. Observed vs predicted is therefore "
          "judged against the martingale's σ, and whether K keeps growing against the spread of the observed "
          "path itself (its change over 10 blocks of the last half of the run: ± sd·√10).",
          "", "Findings (computed from the numbers above):", ""]
    for name, line in res["findings"].items():
        L.append(f"- **{name}**: {line}")
    L.append("")
    if "dynamics_factors.png" in plotted:
        L += ["![one panel per factor](dynamics_factors.png)", ""]
    if not plotted:
        L += [f"No figures: matplotlib is not available ({INSTALL_HINT}); the numbers are in `dynamics.json`.", ""]
    L += ["Figures: " + ", ".join(f"[{p}]({p})" for p in plotted) + "; numbers: [dynamics.json](dynamics.json)."
          if plotted else "Numbers: [dynamics.json](dynamics.json).", "",
          f"Reproduce: `symlip dynamics --seed {res['seed']}{' --quick' if res['quick'] else ''}` "
          f"({res['seconds']:.0f} s here; trajectories {res['trajectory_seconds']:.0f} s, η sweep "
          f"{one['seconds']:.0f} s)."]
    return "\n".join(L) + "\n"


# ---------------------------------------------------------------------------
def _list(a: Any) -> list:
    return [None if not math.isfinite(float(v)) else float(v) for v in np.asarray(a).reshape(-1)]


def _json(x: Any) -> Any:
    """JSON-able with floats to 7 significant digits (keeps the file small), non-finite as null."""
    return jsonable(x, digits=7, nonfinite_null=True)
