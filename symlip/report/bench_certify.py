"""The ``certify`` section of ``symlip bench``: how tight :func:`symlip.certify.certify` gets, how fast.

Tiers (docs/theory.md §2 (R4), §3, §6, §8.6); every figure is measured in this run:

exact
    free dimension (parameters + input variables) <= 8: ``[1, 2, 1]`` networks, tanh /
    sigmoid / softplus / GELU, ``lip_f`` and ``lip_grad``, ball and box regions; the
    gap ``upper / lower`` reached within the budget and the seconds per case (target:
    the largest gap <= 1.01).
medium
    about 50 parameters (``[4, 8, 1]`` tanh, ``lip_f`` on a ball): one run, its gap at
    the end and a trace (float64 incumbent against the certified upper, every few
    seconds) read at 10 / 60 / 300 s (target: gap <= 1.25 at the end).
large
    ``[32, 64, 64, 1]`` tanh trained on synthetic data (:func:`~symlip.report.bench_suite.train_mlp`),
    ``lip_f`` on balls of radius 1e-3, 1e-2, 1e-1 around the trained θ: the certified
    upper within the budget never above the rigorously evaluated U1 (:func:`symlip.certify.cap.u_cap`,
    the ``cap``), and the ratio ``U1 / upper`` (target: >= 1.1 at 1e-2).  The issue's aim of 2x is
    out of reach on this network: the witnessed lower bound is above U1 / 2 (``u_over_lower``, the
    ceiling of ``U1 / upper`` for any sound upper, is about 1.89 at every radius).
relu
    input constants of fixed ReLU networks (pattern branch and bound,
    :mod:`symlip.certify.patterns`): one hidden layer of 64 units with 2 inputs (against
    the exact enumeration :func:`~symlip.search.exact_pl.exact_input_lipschitz`) and 16
    inputs, two hidden layers of 32 (against symlip's dense search), and in full mode the shipped
    trained 784-50-10 network (:func:`relu_trained_network`, ``R = 16``, the data radius; budget
    300 s); target gap <= 1 + 1e-9, and every reference value inside the certified sandwich.
stepsize
    the demo task of :func:`symlip.report.stepsize.demo_task`: gradient descent with the
    local step of :func:`symlip.training.stepsize.local_step` from U3 and from the
    certified upper (``certified=True``: the structured one-hidden-layer enclosure of
    ``lip_loss_grad`` on ``B(θ, δ)``, :mod:`symlip.certify.shallow`, about 0.06 s per step
    on an idle core; the budget of 0.3 s per step leaves room for a loaded machine — a
    step whose enclosure misses it falls back to U3); steps to the target loss (target:
    the certified rule needs no more steps than U3's).

Every certify call is also checked for its budget: the largest overrun ``seconds /
budget - 1`` (target <= 0.1).  Quick mode runs one or two small cases per tier with
budgets of seconds.
"""
from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

__all__ = ["run_certify_bench", "certify_values", "format_certify", "CERTIFY_TARGETS", "RELU_TRAINED_FILE",
           "relu_trained_network", "write_relu_trained_network"]

#: the shipped trained ReLU network of the relu tier (784-50-10, float32 weights)
RELU_TRAINED_FILE = Path(__file__).resolve().parent / "data" / "relu_784_50_10.npz"
_RELU_TRAINED = "relu_784_50_10"

#: the section's targets (name -> comparison and threshold), merged into ``bench.TARGETS``
CERTIFY_TARGETS: dict[str, dict[str, Any]] = {
    "certify_exact_max_gap": {"op": "<=", "value": 1.01},
    "certify_medium_gap": {"op": "<=", "value": 1.25},
    "certify_large_upper_within_u_fraction": {"op": ">=", "value": 1.0},
    "certify_large_u_over_upper_1e-2": {"op": ">=", "value": 1.1},
    "certify_relu_max_gap": {"op": "<=", "value": 1.0 + 1e-9},
    "certify_relu_references_inside_fraction": {"op": ">=", "value": 1.0},
    "certify_stepsize_steps_ratio": {"op": "<=", "value": 1.0},
    "certify_max_budget_overrun": {"op": "<=", "value": 0.1},
}

_ACTS = ("tanh", "sigmoid", "softplus", "gelu")
_FULL = {"exact_budget": 30.0, "exact_widths": (1, 2, 1), "medium_budget": 300.0, "medium_widths": (4, 8, 1),
         "large_budget": 30.0, "large_radii": (1e-3, 1e-2, 1e-1), "relu_budget": 60.0, "dense_budget": 10.0,
         "relu_cases": (((2, 64, 1), True), ((16, 64, 1), False), ((8, 32, 32, 1), False)),
         "relu_trained": True, "relu_trained_budget": 300.0,
         "step_budget": 0.3, "step_quick_task": False, "step_max_steps": None, "train_steps": 1500,
         "large_widths": (32, 64, 64, 1)}
_QUICK = {"exact_budget": 2.0, "exact_widths": (1, 1, 1), "medium_budget": 4.0, "medium_widths": (2, 2, 1),
          "large_budget": 3.0, "large_radii": (1e-2,), "relu_budget": 4.0, "dense_budget": 1.0,
          "relu_cases": (((2, 16, 1), True),), "relu_trained": False, "relu_trained_budget": 0.0,
          "step_budget": 0.15, "step_quick_task": True, "step_max_steps": None,
          "train_steps": 150, "large_widths": (32, 64, 64, 1)}
_TRACE_AT = (10.0, 60.0, 300.0)


def _record(cert: Any, budget: float, **info: Any) -> dict[str, Any]:
    """One certify run (gap ``inf`` when the lower is 0: a failing figure, nulled in the JSON)."""
    return {**info, "budget_s": budget, "lower": cert.lower, "upper": cert.upper,
            "gap": cert.gap, "seconds": cert.seconds, "boxes": cert.boxes,
            "stop": cert.stop, "cap": cert.cap, "u_bound": cert.u_bound, "message": cert.message}


def _exact_cases(widths: tuple[int, ...], quick: bool) -> list[tuple[str, str, str]]:
    """(activation, quantity, region kind): every activation with both quantities, the region alternating."""
    if quick:
        return [("tanh", "lip_f", "ball"), ("sigmoid", "lip_grad", "box")]
    out = []
    for i, act in enumerate(_ACTS):
        out.append((act, "lip_f", "ball" if i % 2 == 0 else "box"))
        out.append((act, "lip_grad", "box" if i % 2 == 0 else "ball"))
    return out


def _exact_tier(cfg: dict[str, Any], quick: bool) -> dict[str, Any]:
    from symlip.certify import certify
    from symlip.models.network import MLP
    from symlip.models.region import Region

    rows = []
    widths = cfg["exact_widths"]
    for act, q, kind in _exact_cases(widths, quick):
        net = MLP(widths, act)
        region = Region.ball(net.init(0), 0.3) if kind == "ball" else Region.box(1.0, 1.0)
        free = net.n_params + (1 if kind == "box" else net.d_in)
        cert = certify(q, net, region, R=1.0, budget=cfg["exact_budget"], tol=0.0099, seed=0)
        rows.append(_record(cert, cfg["exact_budget"], widths=list(widths), activation=act, quantity=q,
                            region=("ball(init(0), 0.3)" if kind == "ball" else "box(1, 1)"), R=1.0,
                            free_dimension=free))
    return {"cases": rows, "max_gap": max(r["gap"] for r in rows),
            "reached_1.01": sum(r["gap"] <= 1.01 for r in rows)}


def _medium_tier(cfg: dict[str, Any]) -> dict[str, Any]:
    from symlip.certify import certify
    from symlip.models.network import MLP
    from symlip.models.region import Region

    net = MLP(cfg["medium_widths"], "tanh")
    region = Region.ball(net.init(0), 0.1)
    trace: list[list[float]] = []
    t0 = time.monotonic()

    def progress(boxes: int, lower: float, upper: float) -> None:
        trace.append([time.monotonic() - t0, boxes, lower, upper])

    cert = certify("lip_f", net, region, R=1.0, budget=cfg["medium_budget"], tol=1e-3, seed=0, progress=progress)
    row = _record(cert, cfg["medium_budget"], widths=list(cfg["medium_widths"]), activation="tanh",
                  quantity="lip_f", region="ball(init(0), 0.1)", R=1.0, n_params=net.n_params)
    at = {}
    for t in _TRACE_AT:
        pts = [p for p in trace if p[0] <= t and p[2] > 0]
        at[f"{int(t)}s"] = None if t > cfg["medium_budget"] or not pts else pts[-1][3] / pts[-1][2]
    row["trace"] = {"columns": ["seconds", "boxes", "lower_float64", "upper"], "points": trace,
                    "gap_at": at, "note": "gap at t: the last trace point before t (float64 incumbent, "
                                          "not yet confirmed); the final gap is the certificate's"}
    return row


def _large_tier(cfg: dict[str, Any]) -> dict[str, Any]:
    from symlip.certify import certify
    from symlip.models.network import MLP
    from symlip.models.region import Region
    from symlip.report.bench_suite import synthetic_data, train_mlp

    widths = list(cfg["large_widths"])
    X, Y = synthetic_data(widths[0], 1, 512, 132)
    t = time.monotonic()
    theta = train_mlp(widths, X, Y, steps=cfg["train_steps"], seed=3, activation="tanh")
    train_s = time.monotonic() - t
    net = MLP(widths, "tanh")
    rows = []
    for r in cfg["large_radii"]:
        cert = certify("lip_f", net, Region.ball(theta, r), R=1.0, budget=cfg["large_budget"], seed=0)
        row = _record(cert, cfg["large_budget"], widths=widths, activation="tanh", quantity="lip_f", radius=r,
                      R=1.0)
        row["within_u"] = cert.cap is not None and cert.upper <= cert.cap
        row["u_over_upper"] = None if cert.cap is None else cert.cap / cert.upper
        # no sound upper lies below the witnessed lower: U1 / lower bounds what U1 / upper can reach
        row["u_over_lower"] = None if cert.cap is None or not cert.lower > 0 else cert.cap / cert.lower
        rows.append(row)
    at = [r for r in rows if r["radius"] == 1e-2]
    return {"n_params": net.n_params, "train": {"steps": cfg["train_steps"], "seconds": train_s,
                                                "loss": float(net.loss(theta, X, Y[:, 0]))},
            "cases": rows, "within_u_fraction": sum(r["within_u"] for r in rows) / len(rows),
            "u_over_upper_1e-2": at[0]["u_over_upper"] if at else None}


def write_relu_trained_network(path: str | Path = RELU_TRAINED_FILE) -> None:
    """Regenerate the shipped 784-50-10 ReLU network (seeded): trained by
    :func:`~symlip.report.bench_suite.train_mlp` (800 Adam steps) on
    :func:`~symlip.report.bench_suite.synthetic_data` (512 inputs uniform in ``[-1, 1]^784``, 10
    targets), weights stored as float32 (the network *is* the stored values), with the data
    radius ``R = 16`` (the inputs' norms are about ``sqrt(784/3) ≈ 16.2``)."""
    import numpy as np

    from symlip.report.bench_suite import synthetic_data, train_mlp

    widths = [784, 50, 10]
    X, Y = synthetic_data(widths[0], widths[-1], 512, 784)
    theta = train_mlp(widths, X, Y, steps=800, seed=7).astype(np.float32)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(Path(path), **{_RELU_TRAINED + "__widths": np.array(widths, dtype=np.int64),
                                       _RELU_TRAINED + "__theta": theta,
                                       _RELU_TRAINED + "__R": np.array(16.0)})


def relu_trained_network(path: str | Path = RELU_TRAINED_FILE) -> tuple[Any, Any, float]:
    """The shipped trained ReLU network: ``(MLP, theta, R)`` (read without pickle)."""
    import numpy as np

    from symlip.models.network import MLP
    from symlip.report.bench_suite import trained_networks

    widths, theta = trained_networks(path)[_RELU_TRAINED]
    with np.load(Path(path), allow_pickle=False) as data:
        R = float(data[_RELU_TRAINED + "__R"])
    return MLP(widths, "relu"), theta, R


def _relu_tier(cfg: dict[str, Any]) -> dict[str, Any]:
    from symlip.certify import certify
    from symlip.models.network import MLP
    from symlip.models.region import Region
    from symlip.search.audit import input_lipschitz_lower_bound
    from symlip.search.exact_pl import exact_input_lipschitz

    rows = []
    cases = [(MLP(widths, "relu"), None, 1.0, exact, cfg["relu_budget"]) for widths, exact in cfg["relu_cases"]]
    if cfg.get("relu_trained"):
        net, theta, R = relu_trained_network()
        cases.append((net, theta, R, False, cfg["relu_trained_budget"]))
    for k, (net, theta, R, exact, budget) in enumerate(cases):
        theta = net.init(100 + k) if theta is None else theta
        cert = certify("lip_input", net, Region.ball(theta, 0.0), R=R, budget=budget, tol=1e-10)
        row = _record(cert, budget, widths=list(net.widths), activation="relu", quantity="lip_input", R=R)
        t = time.monotonic()
        ref = (exact_input_lipschitz(net, theta, R=R) if exact else
               input_lipschitz_lower_bound(net, theta, R=R, budget=cfg["dense_budget"], seed=0,
                                           use_exact=False).value)
        row["reference"] = {"how": "exact_input_lipschitz (regions enumerated)" if exact else
                            f"dense search input_lipschitz_lower_bound, {cfg['dense_budget']:g} s",
                            "value": float(ref), "seconds": time.monotonic() - t}
        # an exact value (a rigorous upper end, within ulps of the constant) lies in the sandwich;
        # a search value is a lower bound: at most the certified upper
        slack = 1e-12 * cert.upper
        row["reference_inside"] = (cert.lower - slack <= ref <= cert.upper + slack if exact
                                   else ref <= cert.upper + slack)
        rows.append(row)
    return {"cases": rows, "max_gap": max(r["gap"] for r in rows),
            "references_inside_fraction": sum(r["reference_inside"] for r in rows) / len(rows)}


def _descent(task: dict[str, Any], certified: bool, budget: float, max_steps: int) -> dict[str, Any]:
    """Gradient descent with the local step (U3 or certified) until the target loss."""
    from symlip.training.stepsize import local_step

    net, theta, X, y = task["net"], task["theta0"].copy(), task["X"], task["y"]
    t0 = time.monotonic()
    etas = []
    for k in range(max_steps + 1):
        st = local_step(net, theta, X, y, task["delta"], certified=certified, budget=budget)
        if st.loss <= task["target"]:
            return {"steps_to_target": k, "seconds": time.monotonic() - t0, "eta_min": min(etas, default=None),
                    "eta_max": max(etas, default=None)}
        etas.append(st.eta)
        theta = theta - st.eta * st.grad
    return {"steps_to_target": None, "seconds": time.monotonic() - t0, "eta_min": min(etas), "eta_max": max(etas),
            "max_steps": max_steps}


def _stepsize_tier(cfg: dict[str, Any]) -> dict[str, Any]:
    from symlip.report.stepsize import demo_task

    task = demo_task(0, quick=cfg["step_quick_task"])
    limit = task["max_steps"] if cfg["step_max_steps"] is None else cfg["step_max_steps"]
    u3 = _descent(task, False, 0.0, limit)
    cap = limit if u3["steps_to_target"] is None else int(math.ceil(1.1 * u3["steps_to_target"]))
    cert = _descent(task, True, cfg["step_budget"], cap)
    ratio = (None if u3["steps_to_target"] is None else
             math.inf if cert["steps_to_target"] is None else cert["steps_to_target"] / u3["steps_to_target"])
    return {"task": {"student": list(task["net"].widths), "n_samples": int(task["X"].shape[0]),
                     "delta": task["delta"], "target_loss": task["target"]},
            "u3": u3, "certified": {**cert, "budget_per_step_s": cfg["step_budget"]}, "steps_ratio": ratio}


def run_certify_bench(quick: bool = False, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The certify section (module docstring): ``config``, ``exact``, ``medium``, ``large``,
    ``relu``, ``stepsize``, ``max_budget_overrun`` and ``seconds`` (per tier and total).

    ``overrides`` replaces entries of the configuration (budgets, sizes; for tests)."""
    cfg = dict(_QUICK if quick else _FULL)
    unknown = set(overrides or {}) - set(cfg)
    if unknown:
        raise ValueError(f"unknown certify bench settings {sorted(unknown)}; allowed: {', '.join(sorted(cfg))}")
    cfg.update(overrides or {})
    out: dict[str, Any] = {"config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in cfg.items()}}
    secs = {}
    t_all = time.monotonic()
    for name, fn in (("exact", lambda: _exact_tier(cfg, quick)), ("medium", lambda: _medium_tier(cfg)),
                     ("large", lambda: _large_tier(cfg)), ("relu", lambda: _relu_tier(cfg)),
                     ("stepsize", lambda: _stepsize_tier(cfg))):
        t = time.monotonic()
        out[name] = fn()
        secs[name] = time.monotonic() - t
    runs = out["exact"]["cases"] + [out["medium"]] + out["large"]["cases"] + out["relu"]["cases"]
    out["max_budget_overrun"] = max(0.0, max(r["seconds"] / r["budget_s"] - 1.0 for r in runs))
    secs["total"] = time.monotonic() - t_all
    out["seconds"] = secs
    return out


def certify_values(section: dict[str, Any] | None) -> dict[str, float | None]:
    """The targets' values from a section (None where a figure is missing: ``unmeasured``)."""
    s = section or {}

    def get(*path: str) -> float | None:
        v: Any = s
        for p in path:
            if not isinstance(v, dict) or p not in v:
                return None
            v = v[p]
        return None if v is None or isinstance(v, bool) else float(v)

    return {"certify_exact_max_gap": get("exact", "max_gap"),
            "certify_medium_gap": get("medium", "gap"),
            "certify_large_upper_within_u_fraction": get("large", "within_u_fraction"),
            "certify_large_u_over_upper_1e-2": get("large", "u_over_upper_1e-2"),
            "certify_relu_max_gap": get("relu", "max_gap"),
            "certify_relu_references_inside_fraction": get("relu", "references_inside_fraction"),
            "certify_stepsize_steps_ratio": get("stepsize", "steps_ratio"),
            "certify_max_budget_overrun": get("max_budget_overrun")}


def _g(x: Any, spec: str = ".4g") -> str:
    return "n/a" if x is None else format(x, spec)


def format_certify(s: dict[str, Any]) -> list[str]:
    """The section as lines of :func:`symlip.report.bench.format_table`."""
    c = s["config"]
    lines = [f"(g) certify: gap = upper/lower (tiers' total {s['seconds']['total']:.0f} s)"]
    lines.append(f"  exact tier, budget {c['exact_budget']:g} s ({'-'.join(map(str, c['exact_widths']))} networks)")
    for r in s["exact"]["cases"]:
        lines.append(f"    {r['activation']:<9} {r['quantity']:<9} {r['region']:<18} free {r['free_dimension']:>2} "
                     f"gap {_g(r['gap'], '.5g'):>8}  {r['seconds']:6.1f} s  {r['boxes']:>6} boxes  ({r['stop']})")
    m = s["medium"]
    at = m["trace"]["gap_at"]
    lines.append(f"  medium {m['widths']} (P = {m['n_params']}) lip_f, budget {m['budget_s']:g} s: gap "
                 f"{_g(m['gap'], '.5g')} after {m['seconds']:.1f} s ({m['boxes']} boxes); trace gap at "
                 + ", ".join(f"{k} {_g(v, '.4g')}" for k, v in at.items()))
    la = s["large"]
    lines.append(f"  large {c['large_widths']} tanh trained (P = {la['n_params']}), lip_f, budget "
                 f"{c['large_budget']:g} s:")
    for r in la["cases"]:
        lines.append(f"    radius {r['radius']:<6g} upper {_g(r['upper'])}  U1 {_g(r['cap'])}  U1/upper "
                     f"{_g(r['u_over_upper'])} (at most U1/lower {_g(r.get('u_over_lower'))})  lower {_g(r['lower'])}  "
                     f"{r['seconds']:.1f} s  ({r['stop']})")
    lines.append(f"  ReLU input constants (pattern branch and bound), budget {c['relu_budget']:g} s:")
    for r in s["relu"]["cases"]:
        ref = r["reference"]
        lines.append(f"    {str(r['widths']):<16} [{r['lower']:.10g}, {r['upper']:.10g}] gap {_g(r['gap'], '.12g')}  "
                     f"{r['seconds']:.1f} s; {ref['how'].split(' (')[0].split(',')[0]} {ref['value']:.10g} "
                     f"{'inside' if r['reference_inside'] else 'OUTSIDE'}")
    st = s["stepsize"]
    lines.append(f"  step sizes, demo task student {st['task']['student']}: steps to target U3 "
                 f"{_g(st['u3']['steps_to_target'])}, certified {_g(st['certified']['steps_to_target'])} "
                 f"({st['certified']['budget_per_step_s']:g} s per step, {st['certified']['seconds']:.0f} s)")
    lines.append(f"  largest budget overrun {s['max_budget_overrun']:.3f} (seconds/budget - 1)")
    return lines
