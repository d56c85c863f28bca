"""Benchmarks of symlip (``symlip bench``): derivation, kernels, network derivatives, search.

Every target is a ratio measured side by side in one run with BLAS threads
pinned to one (threadpoolctl, when installed; torch's intra-op threads too), or
a fraction of a known truth, so that it holds on a shared machine; absolute
seconds stay in the report as information.  A target is ``pass``, ``fail`` or
``unmeasured``; ``all_passed`` is true only when every target was measured and
passed, and ``symlip bench`` exits 1 when one failed.

(a) derive + compile time of the ``lip_grad`` bound (docs/theory.md §3.3, U2)
    against depth, cold; target: near-linear scaling, ``t(2d)/t(d) <= 2.5`` for
    the two largest depths (100 -> 200; quick 25 -> 50).
(b) the depth-10 ``lip_grad`` kernel against ``sympy.lambdify`` of the unrolled
    expression without CSE, same settings, interleaved (target: ratio >= 5),
    and against mpmath at 50 digits (target: rel diff <= 1e-12).
(c) per-sample ``grad``/``hvp`` of the MLP [32, 64, 64, 64, 1] (tanh) against
    ``torch.func`` (target: symlip/torch <= 1.5 each).
(d), (e) the search (:mod:`symlip.report.bench_search`): the hard ground-truth
    suite (symlip >= 99 % of the truth on every ground-truth case; plain random
    < 80 % on every hard case) and the mutants (every search mutant violated
    within 10 s, lower-bound mutants refuted, statistical ones violated, the
    large ones missed by the ``random`` strategy alone).
(f) one-step SGD moments (docs/theory.md §7): the low-rank estimator against the
    dense one at a size where dense is feasible (target: time ratio <= 0.2).
(g) certify (:mod:`symlip.report.bench_certify`): the gaps reached by the exact,
    medium, large and ReLU tiers, certified step sizes against U3, budgets kept.
(h) the main job with two worker processes against one
    (:mod:`symlip.report.bench_parallel`; target: wall-time ratio <= 0.6).
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from symlip.report.bench_certify import CERTIFY_TARGETS, certify_values, format_certify, run_certify_bench
from symlip.report.index import QUICK_NOTE

__all__ = ["run_bench", "format_table", "evaluate_targets", "TARGETS"]

#: name -> comparison and threshold; every value is a ratio or a fraction measured in one run
TARGETS: dict[str, dict[str, Any]] = {
    "derive_scaling_ratio": {"op": "<=", "value": 2.5},
    "kernel_vs_lambdify_ratio": {"op": ">=", "value": 5.0},
    "kernel_vs_mp_rel_diff": {"op": "<=", "value": 1e-12},
    "grad_ratio_symlip_over_torch": {"op": "<=", "value": 1.5},
    "hvp_ratio_symlip_over_torch": {"op": "<=", "value": 1.5},
    "search_min_fraction_of_truth": {"op": ">=", "value": 0.99},
    "search_random_max_fraction_hard": {"op": "<", "value": 0.8},
    "mutants_search_caught_fraction": {"op": ">=", "value": 1.0},
    "mutant_max_seconds_to_violation": {"op": "<=", "value": 10.0},
    "mutants_refuted_fraction": {"op": ">=", "value": 1.0},
    "mutants_statistical_violated_fraction": {"op": ">=", "value": 1.0},
    "large_mutants_missed_by_random_fraction": {"op": ">=", "value": 1.0},
    "dynamics_lowrank_over_dense_ratio": {"op": "<=", "value": 0.2},
    "check_jobs2_over_jobs1_ratio": {"op": "<=", "value": 0.6},
    **CERTIFY_TARGETS,
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


def _verdict(name: str, value: float | None) -> str:
    """``pass``, ``fail`` or ``unmeasured`` (None); a non-finite value fails."""
    if value is None:
        return "unmeasured"
    if not math.isfinite(value):
        return "fail"
    t = TARGETS[name]
    ok = {"<": value < t["value"], "<=": value <= t["value"], ">=": value >= t["value"]}[t["op"]]
    return "pass" if ok else "fail"


def evaluate_targets(values: dict[str, float | None]) -> tuple[dict[str, dict[str, Any]], bool]:
    """Each target's value, threshold and status; and ``all_passed`` (every target measured and passed)."""
    targets = {name: {"value": values.get(name), "op": TARGETS[name]["op"], "threshold": TARGETS[name]["value"],
                      "status": _verdict(name, values.get(name))} for name in TARGETS}
    return targets, all(t["status"] == "pass" for t in targets.values())


@contextlib.contextmanager
def pinned_threads() -> Iterator[dict[str, Any]]:
    """BLAS (threadpoolctl) and torch intra-op threads pinned to one; yields what was pinned."""
    info: dict[str, Any] = {"threadpoolctl": None, "blas": [], "torch_threads": None}
    with contextlib.ExitStack() as stack:
        try:
            from threadpoolctl import threadpool_info, threadpool_limits

            info["threadpoolctl"] = True
            info["blas"] = [{k: p.get(k) for k in ("user_api", "internal_api", "num_threads", "version")}
                            for p in threadpool_info()]
            stack.enter_context(threadpool_limits(1))
        except ImportError:
            info["threadpoolctl"] = False   # not installed: threads not pinned (recorded)
        try:
            import torch

            old = torch.get_num_threads()
            torch.set_num_threads(1)
            stack.callback(torch.set_num_threads, old)
            info["torch_threads"] = {"before": old, "during": 1}
        except ImportError:
            pass
        yield info


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
# (b) kernel throughput and accuracy, against sympy's own lambdify
# ---------------------------------------------------------------------------
def _bench_kernel(depth: int, n_kernel: int, n_mp: int, reps: int, seed: int) -> dict[str, Any]:
    """The derived kernel beside ``sympy.lambdify`` of the unrolled expression without
    CSE (a baseline that completes), both on the same settings, interleaved, best of
    ``reps``; their values are cross-checked, and the kernel against mpmath at 50 digits."""
    import mpmath
    import sympy as sp

    from symlip.bounds import symbolic as bounds

    b = bounds.derive("lip_grad", depth)
    k = b.kernel
    rng = np.random.default_rng(seed)
    args = _random_settings(b.symbols, n_kernel, rng)
    ordered = [args[s.name] for s in b.symbols]
    t0 = time.perf_counter()
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 100_000))
    try:
        lam = sp.lambdify(b.symbols, b.expr, "numpy", cse=False)
    finally:
        sys.setrecursionlimit(old)
    lam_build = time.perf_counter() - t0
    k(*[a[:1000] for a in ordered])  # warm-up
    lam(*[a[:1000] for a in ordered])
    tk, tl = math.inf, math.inf
    for _ in range(reps):   # interleaved: both see the same load
        tk = min(tk, _best_of(lambda: k(*ordered), 1))
        tl = min(tl, _best_of(lambda: lam(*ordered), 1))
    kv, lv = np.asarray(k(*ordered), float), np.asarray(lam(*ordered), float)
    both = np.isfinite(kv) & np.isfinite(lv)
    agree = float(np.max(np.abs(kv[both] - lv[both]) / np.abs(lv[both]))) if both.any() else math.inf
    if not np.array_equal(np.isfinite(kv), np.isfinite(lv)) or agree > 1e-9:
        raise RuntimeError(f"kernel and lambdify disagree (max rel diff {agree:g})")

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
    return {
        "depth": depth,
        "quantity": "lip_grad",
        "n_arguments": len(b.symbols),
        "kernel": {"settings": n_kernel, "best_s": tk, "reps": reps, "evals_per_s": n_kernel / tk,
                   "S0_inf_fraction": float(np.mean(np.isinf(args["S0"])))},
        "lambdify": {"how": "sympy.lambdify(symbols, expr, 'numpy', cse=False) of the unrolled expression",
                     "build_s": lam_build, "best_s": tl, "evals_per_s": n_kernel / tl,
                     "max_rel_diff_vs_kernel": agree},
        "ratio_kernel_over_lambdify": tl / tk,
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
# (f) SGD moments: low-rank against dense
# ---------------------------------------------------------------------------
def _bench_dynamics(reps: int, seed: int) -> dict[str, Any]:
    """One-step SGD moments (docs/theory.md §7) at a size where the dense estimator is
    feasible: the low-rank estimator's time against the dense one's (interleaved, median of
    ``reps``), and the exact low-rank algebra against dense (the same moments)."""
    from symlip.models.network import MLP
    from symlip.training.dynamics import sgd_moments, teacher_student

    widths = (16, 32, 32, 1)
    net = MLP(list(widths), "tanh")
    theta = net.init(seed=seed)
    X, y = teacher_student(256, widths[0], seed=seed)
    times: dict[str, list[float]] = {"low_rank": [], "exact": [], "dense": []}
    res = {}
    for est in times:   # warm-up
        res[est] = sgd_moments(net, theta, X, y, batch_size=64, eta=0.01, estimator=est, seed=seed)
    for k in range(reps):
        for est in times:
            t0 = time.perf_counter()
            sgd_moments(net, theta, X, y, batch_size=64, eta=0.01, estimator=est, seed=seed + k)
            times[est].append(time.perf_counter() - t0)
    med = {k: float(np.median(v)) for k, v in times.items()}
    ex, de = res["exact"], res["dense"]
    scale = max(float(np.max(np.abs(de.cov))), 1e-300)
    agree = max(float(np.max(np.abs(ex.mean - de.mean) / np.maximum(np.abs(de.mean), 1e-300))),
                float(np.max(np.abs(ex.cov - de.cov))) / scale)
    return {"widths": list(widths), "n_params": net.n_params, "N": int(X.shape[0]), "batch_size": 64,
            "median_step_s": med, "reps": reps, "exact_vs_dense_max_rel_diff": agree,
            "ratio_low_rank_over_dense": med["low_rank"] / med["dense"],
            "ratio_exact_over_dense": med["exact"] / med["dense"]}


# ---------------------------------------------------------------------------
# driver
# ---------------------------------------------------------------------------
def run_bench(out_path: str | os.PathLike = "reports/bench.json", quick: bool = False) -> dict:
    """Run the benchmarks, write them as JSON to ``out_path`` and return them.

    Parameters
    ----------
    out_path : path
        JSON output file (parent directories are created).
    quick : bool
        Small sizes (depths up to 50, 2e4 kernel settings, the suite's quick cases at
        1 s, the large mutants only, certify's small cases at budgets of seconds) so the
        run takes a few minutes.

    Returns
    -------
    dict
        ``machine``, ``config``, ``threads``, ``derive``, ``kernel``, ``network``,
        ``search``, ``dynamics``, ``certify``, ``targets`` (each with value, threshold and
        ``status``: pass / fail / unmeasured), ``all_passed`` and ``any_failed``.
    """
    if quick:
        cfg = {"depths": (2, 10, 25, 50), "n_kernel": 2 * 10**4, "n_mp": 200, "kernel_reps": 3, "network_reps": 5,
               "dynamics_reps": 3}
    else:
        cfg = {"depths": (2, 10, 50, 100, 200), "n_kernel": 10**6, "n_mp": 10**3, "kernel_reps": 5,
               "network_reps": 30, "dynamics_reps": 7}
    seed = 0
    t_start = time.perf_counter()
    with pinned_threads() as threads:
        derive_rows = _bench_derive(cfg["depths"])
        kern = _bench_kernel(10, cfg["n_kernel"], cfg["n_mp"], cfg["kernel_reps"], seed)
        netw = _bench_network(cfg["network_reps"], seed)
        dyn = _bench_dynamics(cfg["dynamics_reps"], seed)
        from symlip.report.bench_search import run_falsify_bench

        search = run_falsify_bench(quick=quick)
        from symlip.report.bench_parallel import run_parallel_bench

        parallel = run_parallel_bench(quick=quick)
        cert = run_certify_bench(quick=quick)
    d1, d2 = derive_rows[-2], derive_rows[-1]
    mut = search.get("mutants") or {}
    suite = search["suite"]
    values = {
        "derive_scaling_ratio": d2["total_s"] / d1["total_s"],
        "kernel_vs_lambdify_ratio": kern["ratio_kernel_over_lambdify"],
        "kernel_vs_mp_rel_diff": kern["mp_check"]["max_rel_diff"],
        "grad_ratio_symlip_over_torch": netw["ratio_grad_symlip_over_torch"],
        "hvp_ratio_symlip_over_torch": netw["ratio_hvp_symlip_over_torch"],
        "search_min_fraction_of_truth": suite["min_fraction"],
        "search_random_max_fraction_hard": suite["random_max_fraction_hard"],
        "mutants_search_caught_fraction": mut.get("search_caught_fraction"),
        "mutant_max_seconds_to_violation": mut.get("max_seconds_to_violation"),
        "mutants_refuted_fraction": mut.get("refuted_fraction"),
        "mutants_statistical_violated_fraction": mut.get("statistical_violated_fraction"),
        "large_mutants_missed_by_random_fraction": mut.get("large_random_missed_fraction"),
        "dynamics_lowrank_over_dense_ratio": dyn["ratio_low_rank_over_dense"],
        "check_jobs2_over_jobs1_ratio": parallel["ratio"],
        **certify_values(cert),
    }
    targets, all_passed = evaluate_targets(values)
    if mut.get("max_seconds_to_violation") == math.inf:   # JSON has no inf: a search mutant never violated
        targets["mutant_max_seconds_to_violation"]["value"] = None
        targets["mutant_max_seconds_to_violation"]["status"] = "fail"
        mut["max_seconds_to_violation"] = None
    results = {
        "machine": _machine(),
        "config": {**{k: (list(v) if isinstance(v, tuple) else v) for k, v in cfg.items()},
                   "quick": quick, "seed": seed, **({"note": QUICK_NOTE} if quick else {}),
                   "derive_scaling_depths": [d1["depth"], d2["depth"]]},
        "threads": threads,
        "derive": derive_rows,
        "kernel": kern,
        "network": netw,
        "search": search,
        "dynamics": dyn,
        "parallel": parallel,
        "certify": cert,
        "targets": targets,
        "all_passed": all_passed,
        "any_failed": any(t["status"] == "fail" for t in targets.values()),
        "total_s": time.perf_counter() - t_start,
    }
    results["non_finite_values"] = _nulled_non_finite(results)
    path = Path(out_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, allow_nan=False) + "\n")
    return results


def _nulled_non_finite(obj: Any, where: str = "") -> list[str]:
    """Replace non-finite floats (JSON has none) by None in place; return their paths."""
    found: list[str] = []
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else ()
    for k, v in items:
        path = f"{where}/{k}"
        if isinstance(v, float) and not math.isfinite(v):
            obj[k] = None
            found.append(path)
        elif isinstance(v, (dict, list)):
            found += _nulled_non_finite(v, path)
    return found


def _fmt(x: float | None, spec: str = ".3g") -> str:
    return "n/a" if x is None else format(x, spec)


def format_table(results: dict) -> str:
    """A plain-text summary of :func:`run_bench` results."""
    lines: list[str] = []
    m = results["machine"]
    th = results.get("threads", {})
    lines.append(f"symlip bench  (python {m['python']}, numpy {m['numpy']}, sympy {m['sympy']}, "
                 f"torch {m.get('torch') or 'n/a'}, {m['cpu_count']} CPUs, BLAS threads "
                 f"{'pinned to 1' if th.get('threadpoolctl') else 'NOT pinned (no threadpoolctl)'}"
                 f"{', quick' if results['config']['quick'] else ''})")
    lines.append("")
    lines.append("(a) lip_grad derive + compile (cold)")
    lines.append(f"  {'depth':>6} {'steps':>6} {'derive s':>10} {'compile s':>10} {'total s':>10}")
    for r in results["derive"]:
        lines.append(f"  {r['depth']:>6} {r['n_steps']:>6} {r['derive_s']:>10.4f} {r['compile_s']:>10.4f} "
                     f"{r['total_s']:>10.4f}")
    k = results["kernel"]
    lines.append("")
    lines.append(f"(b) depth-{k['depth']} lip_grad kernel ({k['n_arguments']} arguments, "
                 f"{k['kernel']['settings']:.0e} settings, best of {k['kernel']['reps']})")
    lines.append(f"  kernel                    {k['kernel']['evals_per_s']:>12.4g} evals/s")
    lines.append(f"  lambdify (no CSE)         {k['lambdify']['evals_per_s']:>12.4g} evals/s  "
                 f"(built in {k['lambdify']['build_s']:.2f} s)")
    lines.append(f"  ratio kernel/lambdify     {k['ratio_kernel_over_lambdify']:>12.4g}")
    lines.append(f"  max rel diff vs mpmath (dps {k['mp_check']['dps']}, {k['mp_check']['settings']} settings): "
                 f"{k['mp_check']['max_rel_diff']:.3g}")
    n = results["network"]
    med, mn = n["ms_per_call_median"], n["ms_per_call_min"]
    lines.append("")
    lines.append(f"(c) MLP {n['widths']} {n['activation']}, {n['n_inputs']} inputs, P = {n['n_params']}, "
                 f"float64 (median of {n['reps']}, ms/call)")
    for name in med:
        lines.append(f"  {name:<12} median {med[name]:>9.3f} ms   min {mn[name]:>9.3f} ms")
    lines.append(f"  ratio symlip/torch: grad {_fmt(n['ratio_grad_symlip_over_torch'])}, "
                 f"hvp {_fmt(n['ratio_hvp_symlip_over_torch'])}")
    su = results["search"]["suite"]
    h = su["horizon"]
    lines.append("")
    lines.append(f"(d) ground-truth suite: fraction of the truth (symlip at 1 s / 10 s / 60 s; baselines at {h})")
    lines.append(f"  {'case':<62} {'P':>6} {'truth':>9} {'sym 1s':>7} {'10s':>7} {'60s':>7} {'t99 s':>6} "
                 f"{'random':>7} {'hypoth':>7} {'DE':>7} {'CLEVER':>7}")
    for r in su["cases"]:
        f = r["symlip"]["fraction"]
        b = r["baselines"]
        bf = [_fmt(b[x]["fraction"][h], ".3f") if x in b else "-" for x in
              ("random", "hypothesis", "differential_evolution", "clever")]
        mark = "" if r["ground_truth"] else "*"
        lines.append(f"  {(r['name'] + mark)[:62]:<62} {r['n_params']:>6} {r['truth']:>9.4g} "
                     f"{_fmt(f['1s'], '.3f'):>7} {_fmt(f['10s'], '.3f'):>7} {_fmt(f['60s'], '.3f'):>7} "
                     f"{_fmt(r['symlip']['time_to_99_s'], '.2f'):>6} " + " ".join(f"{x:>7}" for x in bf))
    lines.append("  (* best known, not ground truth; CLEVER is an estimate, not a bound)")
    if su["symlip_below_99"]:
        lines.append(f"  symlip below 99 %: {'; '.join(su['symlip_below_99'])}")
    if su["random_not_below_80"]:
        lines.append(f"  random not below 80 %: {'; '.join(su['random_not_below_80'])}")
    mu = results["search"].get("mutants")
    if mu:
        c = mu["counts"]
        lines.append("")
        lines.append(f"(e) mutants: search {c['search_caught']}/{c['search']} violated, refuted "
                     f"{c['refuted']}/{c['refuted_expected']}, statistical {c['statistical_violated']}/"
                     f"{c['statistical']}; large: {c['large_missed_by_random']}/{c['large']} missed by random alone")
        for r in mu["mutants"]:
            extra = (f"first violation after {_fmt(r.get('evals'))} evaluations, {_fmt(r.get('seconds'), '.2f')} s"
                     if r["group"] == "search" else f"{r['seconds']:.1f} s")
            if "random_only" in r:
                extra += f"; random alone: {r['random_only']['status']}"
            lines.append(f"  {r['claim'][:44]:<44} {r['group']:<11} {str(r['status']):<12} {extra}")
    dy = results["dynamics"]
    lines.append("")
    lines.append(f"(f) SGD moments {dy['widths']} (P = {dy['n_params']}), N = {dy['N']}, batch {dy['batch_size']}: "
                 f"median s/step " + ", ".join(f"{k} {v:.4f}" for k, v in dy["median_step_s"].items())
                 + f"; exact vs dense rel diff {dy['exact_vs_dense_max_rel_diff']:.2g}")
    if results.get("certify"):
        lines.append("")
        lines += format_certify(results["certify"])
    pa = results.get("parallel") or {}
    lines.append("")
    if pa.get("ratio") is None:
        lines.append(f"(h) check with 2 workers vs 1: unmeasured ({pa.get('reason', 'not run')})")
    else:
        lines.append(f"(h) check {pa['catalogue']} ({pa['cases']} cases, {pa['budget_s']:g} s each): jobs {pa['jobs']} "
                     f"{pa['seconds_jobs_N']:.1f} s, jobs 1 {pa['seconds_jobs_1']:.1f} s, ratio {pa['ratio']:.3f}; "
                     f"same status in {pa['same_status']}/{pa['cases']}")
    lines.append("")
    lines.append("targets")
    for name, t in results["targets"].items():
        lines.append(f"  {name:<40} {_fmt(t['value'], '.4g'):>12} {t['op']:>2} {t['threshold']:<8.4g} "
                     f"{t['status'].upper()}")
    lines.append(f"all passed: {results['all_passed']}   total {results['total_s']:.1f} s")
    return "\n".join(lines)
