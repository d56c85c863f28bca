"""Benchmarks of symlip (``symlip bench``): derivation, kernels, network derivatives.

Three groups, each with its targets and a pass/fail verdict in the JSON report:

(a) derive + compile time of the ``lip_grad`` bound (MATH.md §3, U2) against
    depth, cold (derivation cache cleared, a fresh :class:`~symlip.bounds.symbolic.Bound`
    each time): ``derive(...)`` then ``.kernel``.  Target: depth 200 < 5 s.
(b) the depth-10 ``lip_grad`` kernel: evaluations/s on random settings (best of
    3), against a sympy ``bound.expr.evalf(subs=...)`` loop (time-boxed, run in a
    child process so a single over-long evaluation can be stopped), their ratio,
    and the kernel's largest relative difference from ``evaluate_mp(dps=50)``.
    Targets: ratio >= 1000, kernel >= 5e6 evals/s, rel diff <= 1e-12.
(c) per-sample ``grad``/``hvp`` of the MLP [32, 64, 64, 64, 1] (tanh) on 1024
    float64 inputs against ``torch.func`` (vmap of grad / of jvp(grad)) when
    torch is importable; values are cross-checked before timing.
    Target: symlip/torch time ratio <= 1.5.
(d), (e) the falsifier (:mod:`symlip.report.bench_search`): fraction of known true
    constants reached in 10 s (target >= 0.99) beside random sampling and
    hypothesis alone; every mutant of ``proofs/mutants`` caught — violated, or refuted
    for a lower bound (target: all, each within 30 s); (f) one-step SGD moments by the
    low-rank path at ~10^5 parameters, batch 128 (target < 1 s per step).
"""
from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from symlip.report.index import QUICK_NOTE

__all__ = ["run_bench", "format_table"]

TARGETS: dict[str, dict[str, Any]] = {
    "derive_compile_depth200_s": {"op": "<", "value": 5.0},
    "kernel_vs_evalf_ratio": {"op": ">=", "value": 1000.0},
    "kernel_evals_per_s": {"op": ">=", "value": 5e6},
    "kernel_vs_mp_rel_diff": {"op": "<=", "value": 1e-12},
    "grad_ratio_symlip_over_torch": {"op": "<=", "value": 1.5},
    "hvp_ratio_symlip_over_torch": {"op": "<=", "value": 1.5},
    "falsifier_min_fraction_of_truth": {"op": ">=", "value": 0.99},
    "mutants_violated_fraction": {"op": ">=", "value": 1.0},
    "mutant_max_seconds": {"op": "<", "value": 30.0},
    "dynamics_lowrank_step_s": {"op": "<", "value": 1.0},
}

_WIDTHS = (32, 64, 64, 64, 1)
_N_INPUTS = 1024


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------
def _machine() -> dict[str, Any]:
    import mpmath
    import sympy

    info: dict[str, Any] = {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "numpy": np.__version__,
        "sympy": sympy.__version__,
        "mpmath": mpmath.__version__,
    }
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
    except ImportError:
        info["torch"] = None
    return info


def _random_settings(symbols: tuple, n: int, rng: np.random.Generator,
                     inf_fraction: float = 0.1) -> dict[str, np.ndarray]:
    """Random kernel arguments: ``d_i`` integers 1..64 (as floats), others uniform in
    [0.05, 2]; ``S0`` is ``inf`` in about ``inf_fraction`` of the settings."""
    out: dict[str, np.ndarray] = {}
    for s in symbols:
        if s.name.startswith("d_"):
            out[s.name] = rng.integers(1, 65, size=n).astype(float)
        else:
            out[s.name] = rng.uniform(0.05, 2.0, size=n)
    if "S0" in out and inf_fraction > 0:
        out["S0"][rng.random(n) < inf_fraction] = np.inf
    return out


def _best_of(fn: Callable[[], Any], reps: int) -> float:
    best = math.inf
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def _verdict(name: str, value: float | None) -> bool | None:
    if value is None or not math.isfinite(value):
        return None if value is None else False
    t = TARGETS[name]
    return {"<": value < t["value"], "<=": value <= t["value"], ">=": value >= t["value"]}[t["op"]]


# ---------------------------------------------------------------------------
# (a) derive + compile
# ---------------------------------------------------------------------------
def _bench_derive(depths: tuple[int, ...]) -> list[dict[str, Any]]:
    from symlip.bounds import symbolic as bounds

    rows = []
    for m in depths:
        bounds._derive.cache_clear()
        bounds.standard_symbols.cache_clear()
        t0 = time.perf_counter()
        b = bounds.derive("lip_grad", m)
        t1 = time.perf_counter()
        _ = b.kernel
        t2 = time.perf_counter()
        rows.append({"depth": m, "derive_s": t1 - t0, "compile_s": t2 - t1, "total_s": t2 - t0,
                     "n_steps": len(b.steps)})
    return rows


# ---------------------------------------------------------------------------
# (b) kernel throughput and accuracy
# ---------------------------------------------------------------------------
_EVALF_CHILD = r"""
import sys, time, json
import numpy as np, sympy as sp
sys.setrecursionlimit(100000)
from symlip.bounds import symbolic as bounds
depth, n, seed = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
b = bounds.derive("lip_grad", depth)
expr = b.expr
rng = np.random.default_rng(seed)
settings = []
for _ in range(n):
    vals = {}
    for s in b.symbols:
        if s.name.startswith("d_"):
            vals[s] = sp.Integer(int(rng.integers(1, 65)))
        else:
            vals[s] = sp.Float(float(rng.uniform(0.05, 2.0)))
    settings.append(vals)
print("start", flush=True)
t0 = time.perf_counter()
for i, vals in enumerate(settings):
    expr.evalf(subs=vals)
    print("done", i + 1, time.perf_counter() - t0, flush=True)
"""


def _bench_evalf(depth: int, n: int, time_box: float, seed: int) -> dict[str, Any]:
    """``bound.expr.evalf(subs=...)`` loop in a child process, stopped after ``time_box`` s.

    Returns the number of evaluations done and evals/s; when none finished in the
    time box, ``evals_per_s`` is the upper bound ``1 / time_box``.
    """
    cmd = [sys.executable, "-c", _EVALF_CHILD, str(depth), str(n), str(seed)]
    # the child's own setup (imports, derivation) is excluded: the box starts at "start"
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=str(Path(__file__).resolve().parent.parent))
    done, elapsed, started_at = 0, 0.0, None
    timed_out = False
    assert proc.stdout is not None
    import selectors

    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    setup_deadline = time.perf_counter() + 120.0
    buf = ""
    while True:
        now = time.perf_counter()
        deadline = (started_at + time_box) if started_at is not None else setup_deadline
        if now >= deadline:
            timed_out = True
            break
        if not sel.select(timeout=min(0.5, deadline - now)):
            if proc.poll() is not None:
                break
            continue
        chunk = os.read(proc.stdout.fileno(), 65536).decode()
        if not chunk:
            break
        buf += chunk
        *lines, buf = buf.split("\n")
        for line in lines:
            parts = line.split()
            if parts and parts[0] == "start":
                started_at = time.perf_counter()
            elif parts and parts[0] == "done":
                done, elapsed = int(parts[1]), float(parts[2])
    sel.close()
    killed = proc.poll() is None
    if killed:
        proc.kill()
    proc.wait()
    if not killed and proc.returncode != 0:
        err = proc.stderr.read() if proc.stderr else ""
        raise RuntimeError(f"evalf benchmark child failed (exit {proc.returncode}): {err[-2000:]}")
    if started_at is None:
        err = proc.stderr.read() if proc.stderr else ""
        raise RuntimeError(f"evalf benchmark child failed before starting: {err[-2000:]}")
    if done == 0:
        wall = time.perf_counter() - started_at if not timed_out else time_box
        return {"settings_requested": n, "settings_done": 0, "seconds": wall, "time_box_s": time_box,
                "timed_out": True, "evals_per_s": 1.0 / wall, "evals_per_s_is_upper_bound": True}
    return {"settings_requested": n, "settings_done": done, "seconds": elapsed, "time_box_s": time_box,
            "timed_out": timed_out and done < n, "evals_per_s": done / elapsed,
            "evals_per_s_is_upper_bound": False}


def _bench_xreplace_evalf(b: Any, settings: dict[str, np.ndarray], time_box: float) -> dict[str, Any]:
    """A second sympy baseline: substitute with ``xreplace`` then ``evalf()``."""
    import sympy as sp

    expr = b.expr
    n = len(next(iter(settings.values())))
    t0 = time.perf_counter()
    done = 0
    for j in range(n):
        vals = {s: (sp.Integer(int(settings[s.name][j])) if s.name.startswith("d_")
                    else sp.Float(float(settings[s.name][j]))) for s in b.symbols}
        expr.xreplace(vals).evalf()
        done += 1
        if time.perf_counter() - t0 > time_box:
            break
    dt = time.perf_counter() - t0
    return {"settings_done": done, "seconds": dt, "evals_per_s": done / dt}


def _bench_kernel(depth: int, n_kernel: int, n_evalf: int, n_mp: int, evalf_box: float,
                  reps: int, seed: int) -> dict[str, Any]:
    import mpmath

    from symlip.bounds import symbolic as bounds

    b = bounds.derive("lip_grad", depth)
    k = b.kernel
    rng = np.random.default_rng(seed)
    args = _random_settings(b.symbols, n_kernel, rng)
    ordered = [args[s.name] for s in b.symbols]
    k(*[a[:1000] for a in ordered])  # warm-up
    best = _best_of(lambda: k(*ordered), reps)
    kernel_rate = n_kernel / best

    # accuracy against mpmath at 50 digits (S0 = inf included)
    mp_args = _random_settings(b.symbols, n_mp, np.random.default_rng(seed + 1))
    kv = np.asarray(k(**mp_args), dtype=float)
    worst = 0.0
    for j in range(n_mp):
        exact = b.evaluate_mp({name: float(a[j]) for name, a in mp_args.items()}, dps=50)
        with mpmath.workdps(50):
            if not (math.isfinite(kv[j]) and mpmath.isfinite(exact)):
                raise RuntimeError(f"non-finite bound at setting {j}: kernel {kv[j]}, mp {exact}")
            rd = float(abs(mpmath.mpf(float(kv[j])) - exact) / abs(exact))
        worst = max(worst, rd)

    evalf = _bench_evalf(depth, n_evalf, evalf_box, seed + 2)
    xr_args = _random_settings(b.symbols, n_evalf, np.random.default_rng(seed + 3), inf_fraction=0.0)
    xr = _bench_xreplace_evalf(b, xr_args, evalf_box)
    return {
        "depth": depth,
        "quantity": "lip_grad",
        "n_arguments": len(b.symbols),
        "kernel": {"settings": n_kernel, "best_s": best, "reps": reps, "evals_per_s": kernel_rate,
                   "S0_inf_fraction": float(np.mean(np.isinf(args["S0"])))},
        "evalf_subs": evalf,
        "xreplace_evalf": xr,
        "ratio_kernel_over_evalf": kernel_rate / evalf["evals_per_s"],
        "ratio_is_lower_bound": evalf["evals_per_s_is_upper_bound"],
        "ratio_kernel_over_xreplace_evalf": kernel_rate / xr["evals_per_s"],
        "mp_check": {"settings": n_mp, "dps": 50, "max_rel_diff": worst},
    }


# ---------------------------------------------------------------------------
# (c) network derivatives vs torch
# ---------------------------------------------------------------------------
def _median_ms(ts: list[float]) -> float:
    return 1e3 * float(np.median(ts))


def _bench_network(reps: int, seed: int) -> dict[str, Any]:
    from symlip.models.network import MLP

    net = MLP(_WIDTHS, "tanh")
    theta = net.init(seed)
    rng = np.random.default_rng(seed + 1)
    X = rng.normal(size=(_N_INPUTS, _WIDTHS[0]))
    v = rng.normal(size=net.n_params)
    fns: dict[str, Callable[[], Any]] = {
        "symlip_grad": lambda: net.grad(theta, X),
        "symlip_hvp": lambda: net.hvp(theta, X, v),
    }
    out: dict[str, Any] = {"widths": list(_WIDTHS), "activation": "tanh", "n_inputs": _N_INPUTS,
                           "n_params": net.n_params, "dtype": "float64", "reps": reps}
    try:
        import torch
        from torch.func import grad, jvp, vmap
    except ImportError:
        torch = None
    if torch is not None:
        ps = tuple(torch.tensor(a, dtype=torch.float64) for W, b in net.unflatten(theta) for a in (W, b))
        vs = tuple(torch.tensor(a, dtype=torch.float64) for W, b in net.unflatten(v) for a in (W, b))
        Xt = torch.tensor(X, dtype=torch.float64)
        m = len(_WIDTHS) - 1

        def f(p: tuple, x: Any) -> Any:
            z = x
            for i in range(m):
                a = p[2 * i] @ z + p[2 * i + 1]
                z = torch.tanh(a) if i < m - 1 else a
            return z[0]

        tg = vmap(grad(f), in_dims=(None, 0))

        def hv(p: tuple, x: Any) -> Any:
            return jvp(lambda t: grad(f)(t, x), (p,), (vs,))[1]

        th = vmap(hv, in_dims=(None, 0))

        def flat(o: tuple) -> Any:
            return torch.cat([t.reshape(t.shape[0], -1) for t in o], 1)

        from symlip.core.precision import rel_diff

        g_s, g_t = net.grad(theta, X), flat(tg(ps, Xt)).numpy()
        h_s, h_t = net.hvp(theta, X, v), flat(th(ps, Xt)).numpy()
        # entrywise relative difference, ignoring entries below 1e-12 of the largest
        out["check"] = {
            "grad_max_rel_diff": rel_diff(g_s, g_t, floor=1e-12 * float(np.abs(g_t).max())),
            "hvp_max_rel_diff": rel_diff(h_s, h_t, floor=1e-12 * float(np.abs(h_t).max())),
        }
        if max(out["check"].values()) > 1e-8:
            raise RuntimeError(f"symlip and torch disagree: {out['check']}")
        # torch returns a tuple of per-layer arrays; flattening to (n, P) is symlip's output form
        fns["torch_grad"] = lambda: flat(tg(ps, Xt))
        fns["torch_hvp"] = lambda: flat(th(ps, Xt))
    times: dict[str, list[float]] = {k: [] for k in fns}
    for fn in fns.values():  # warm-up
        fn()
        fn()
    for _ in range(reps):  # interleaved: robust to background load
        for name, fn in fns.items():
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    out["ms_per_call_median"] = {k: _median_ms(ts) for k, ts in times.items()}
    out["ms_per_call_min"] = {k: 1e3 * min(ts) for k, ts in times.items()}
    if torch is not None:
        med = out["ms_per_call_median"]
        out["ratio_grad_symlip_over_torch"] = med["symlip_grad"] / med["torch_grad"]
        out["ratio_hvp_symlip_over_torch"] = med["symlip_hvp"] / med["torch_hvp"]
    else:
        out["ratio_grad_symlip_over_torch"] = None
        out["ratio_hvp_symlip_over_torch"] = None
    return out


# ---------------------------------------------------------------------------
# driver
# ---------------------------------------------------------------------------
def _bench_dynamics(reps: int, seed: int) -> dict[str, Any]:
    """One-step SGD moments by the low-rank path (MATH.md §7) on a network with
    ~10^5 parameters and batch 128: per-sample gradients of the batch, ∇L on the
    dataset, one SVD per layer, projections and Hessian forms of the 128 centred
    gradients (no P x P matrix)."""
    from symlip.training.dynamics import sgd_moments, teacher_student
    from symlip.models.network import MLP

    widths = (64, 256, 256, 64, 1)
    net = MLP(list(widths), "tanh")
    theta = net.init(seed=seed)
    X, y = teacher_student(512, widths[0], seed=seed)
    sgd_moments(net, theta, X, y, batch_size=128, eta=0.01, estimator="low_rank", seed=seed)  # warm-up
    times, m = [], None
    for k in range(reps):
        t0 = time.perf_counter()
        m = sgd_moments(net, theta, X, y, batch_size=128, eta=0.01, estimator="low_rank", seed=seed + k)
        times.append(time.perf_counter() - t0)
    return {"widths": list(widths), "n_params": net.n_params, "N": int(X.shape[0]), "batch_size": 128,
            "estimator": "low_rank", "median_step_s": float(np.median(times)), "min_step_s": float(min(times)),
            "reps": reps, "s": m.s.tolist(), "noise_curvature": m.noise_curvature.tolist()}


def run_bench(out_path: str | os.PathLike = "reports/bench.json", quick: bool = False) -> dict:
    """Run the benchmarks, write them as JSON to ``out_path`` and return them.

    Parameters
    ----------
    out_path : path
        JSON output file (parent directories are created).
    quick : bool
        Small sizes (depths 2, 10, 50; 1e5 kernel settings; 50 evalf settings
        with a short time box; fewer repetitions) so the run takes well under 30 s.

    Returns
    -------
    dict
        ``machine``, ``config``, ``derive``, ``kernel``, ``network``, ``targets``
        (each with value, threshold and ``passed``: True/False, or None when not
        measured) and ``all_passed``.
    """
    if quick:
        cfg = {"depths": (2, 10, 50), "n_kernel": 10**5, "n_evalf": 50, "n_mp": 200,
               "evalf_time_box_s": 3.0, "kernel_reps": 3, "network_reps": 5}
    else:
        cfg = {"depths": (2, 10, 50, 200), "n_kernel": 10**6, "n_evalf": 10**3, "n_mp": 10**3,
               "evalf_time_box_s": 60.0, "kernel_reps": 3, "network_reps": 30}
    seed = 0
    t_start = time.perf_counter()
    derive_rows = _bench_derive(cfg["depths"])
    kern = _bench_kernel(10, cfg["n_kernel"], cfg["n_evalf"], cfg["n_mp"], cfg["evalf_time_box_s"],
                         cfg["kernel_reps"], seed)
    netw = _bench_network(cfg["network_reps"], seed)
    from symlip.report.bench_search import run_falsify_bench

    fals = run_falsify_bench(quick=quick)
    dyn = _bench_dynamics(3 if quick else 10, seed)

    d200 = next((r["total_s"] for r in derive_rows if r["depth"] == 200), None)
    values = {
        "derive_compile_depth200_s": d200,
        "kernel_vs_evalf_ratio": kern["ratio_kernel_over_evalf"],
        "kernel_evals_per_s": kern["kernel"]["evals_per_s"],
        "kernel_vs_mp_rel_diff": kern["mp_check"]["max_rel_diff"],
        "grad_ratio_symlip_over_torch": netw["ratio_grad_symlip_over_torch"],
        "hvp_ratio_symlip_over_torch": netw["ratio_hvp_symlip_over_torch"],
        "falsifier_min_fraction_of_truth": fals["min_fraction"],
        "mutants_violated_fraction": fals.get("mutants_violated_fraction"),
        "mutant_max_seconds": fals.get("mutant_max_seconds"),
        "dynamics_lowrank_step_s": dyn["median_step_s"],
    }
    targets = {name: {"value": val, "op": TARGETS[name]["op"], "threshold": TARGETS[name]["value"],
                      "passed": _verdict(name, val)} for name, val in values.items()}
    results = {
        "machine": _machine(),
        "config": {**{k: (list(v) if isinstance(v, tuple) else v) for k, v in cfg.items()},
                   "quick": quick, "seed": seed, **({"note": QUICK_NOTE} if quick else {})},
        "derive": derive_rows,
        "kernel": kern,
        "network": netw,
        "falsify": fals,
        "dynamics": dyn,
        "targets": targets,
        "all_passed": all(t["passed"] is not False for t in targets.values()),
        "total_s": time.perf_counter() - t_start,
    }
    path = Path(out_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, allow_nan=False) + "\n")
    return results


def _fmt(x: float | None, spec: str = ".3g") -> str:
    return "n/a" if x is None else format(x, spec)


def format_table(results: dict) -> str:
    """A plain-text summary of :func:`run_bench` results."""
    lines: list[str] = []
    m = results["machine"]
    lines.append(f"symlip bench  (python {m['python']}, numpy {m['numpy']}, sympy {m['sympy']}, "
                 f"torch {m.get('torch') or 'n/a'}, {m['cpu_count']} CPUs"
                 f"{', quick' if results['config']['quick'] else ''})")
    lines.append("")
    lines.append("(a) lip_grad derive + compile (cold)")
    lines.append(f"  {'depth':>6} {'steps':>6} {'derive s':>10} {'compile s':>10} {'total s':>10}")
    for r in results["derive"]:
        lines.append(f"  {r['depth']:>6} {r['n_steps']:>6} {r['derive_s']:>10.4f} {r['compile_s']:>10.4f} "
                     f"{r['total_s']:>10.4f}")
    k = results["kernel"]
    ev, xr = k["evalf_subs"], k["xreplace_evalf"]
    lines.append("")
    lines.append(f"(b) depth-{k['depth']} lip_grad kernel ({k['n_arguments']} arguments)")
    lines.append(f"  kernel           {k['kernel']['evals_per_s']:>12.4g} evals/s  "
                 f"({k['kernel']['settings']:.0e} settings, best of {k['kernel']['reps']}: "
                 f"{k['kernel']['best_s']:.4f} s)")
    bound = "<" if ev["evals_per_s_is_upper_bound"] else " "
    lines.append(f"  evalf(subs=)    {bound}{ev['evals_per_s']:>12.4g} evals/s  "
                 f"({ev['settings_done']}/{ev['settings_requested']} settings in {ev['seconds']:.1f} s"
                 f"{', time box hit' if ev['timed_out'] else ''})")
    lines.append(f"  xreplace+evalf   {xr['evals_per_s']:>12.4g} evals/s  "
                 f"({xr['settings_done']} settings in {xr['seconds']:.1f} s)")
    lines.append(f"  ratio kernel/evalf(subs=)    {'>' if k['ratio_is_lower_bound'] else ' '}"
                 f"{k['ratio_kernel_over_evalf']:.4g}")
    lines.append(f"  ratio kernel/xreplace+evalf   {k['ratio_kernel_over_xreplace_evalf']:.4g}")
    lines.append(f"  max rel diff vs mpmath (dps {k['mp_check']['dps']}, {k['mp_check']['settings']} settings): "
                 f"{k['mp_check']['max_rel_diff']:.3g}")
    n = results["network"]
    med, mn = n["ms_per_call_median"], n["ms_per_call_min"]
    lines.append("")
    lines.append(f"(c) MLP {n['widths']} {n['activation']}, {n['n_inputs']} inputs, P = {n['n_params']}, "
                 f"float64 (median of {n['reps']}, ms/call)")
    for name in med:
        lines.append(f"  {name:<12} median {med[name]:>9.3f} ms   min {mn[name]:>9.3f} ms")
    if "check" in n:
        lines.append(f"  symlip vs torch max rel diff: grad {n['check']['grad_max_rel_diff']:.2g}, "
                     f"hvp {n['check']['hvp_max_rel_diff']:.2g}")
    lines.append(f"  ratio symlip/torch: grad {_fmt(n['ratio_grad_symlip_over_torch'])}, "
                 f"hvp {_fmt(n['ratio_hvp_symlip_over_torch'])}")
    f = results.get("falsify")
    if f:
        lines.append("")
        lines.append("(d) falsifier vs ground truth (fraction of the true constant reached)")
        lines.append(f"  {'case':<72} {'falsifier':>9} {'random':>9} {'hypoth.':>9}")
        for r in f["ground_truth"]:
            lines.append(f"  {r['name'][:72]:<72} {r['falsifier']['fraction']:>9.5f} "
                         f"{r['random_only']['fraction']:>9.5f} {r['hypothesis_only']['fraction']:>9.5f}")
            per = ", ".join(f"{k} {v:.4f}" for k, v in r["per_strategy_fraction"].items())
            lines.append(f"    per strategy: {per}")
        if f.get("mutants"):
            lines.append("")
            caught = sum(m["status"] in ("violated", "refuted") for m in f["mutants"])
            lines.append(f"(e) mutants: {caught}/{len(f['mutants'])} caught (violated or refuted), "
                         f"max {f['mutant_max_seconds']:.1f} s")
            for m in f["mutants"]:
                lines.append(f"  {m['claim'][:48]:<48} {m['status']:<12} ratio {m['ratio']:<11.5g} "
                             f"{m['seconds']:>5.1f} s")
    dy = results.get("dynamics")
    if dy:
        lines.append("")
        lines.append(f"(f) SGD moments, low-rank path: widths {dy['widths']} (P = {dy['n_params']}), "
                     f"N = {dy['N']}, batch {dy['batch_size']}: median {dy['median_step_s']:.3f} s per step")
    lines.append("")
    lines.append("targets")
    for name, t in results["targets"].items():
        verdict = {True: "PASS", False: "FAIL", None: "n/a"}[t["passed"]]
        lines.append(f"  {name:<32} {_fmt(t['value'], '.4g'):>12} {t['op']:>2} {t['threshold']:<8.4g} {verdict}")
    lines.append(f"total {results['total_s']:.1f} s")
    return "\n".join(lines)
