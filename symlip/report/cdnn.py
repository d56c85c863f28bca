"""The CDNN N-convergence report (docs/theory.md §5): ``symlip demo cdnn``.

For N = 1, 4, 16, 64, 256, 1024 steps of the Euler residual network of a fixed
controlled ODE (d = 2, T = 1, tanh, box ω = 1.5, β = 0.5, γ = 1, R = 1) it tabulates
the Euler network's derived bounds of ``lip_f`` and ``lip_grad``, the ODE's bounds
(N-independent), the relative gap, and the best ratio the falsifier found — on the
**Euler network** of that N, against **the Euler bound of that N** (``lip_f``).
Seeded, with an evaluation budget (reproducible); ``quick`` for CI.
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

from symlip.bounds.cdnn import cdnn_bound
from symlip.models.cdnn import CDNN
from symlip.report.index import QUICK_NOTE, mark_quick

__all__ = ["run_cdnn_report", "NS"]

#: the step counts of the table
NS = (1, 4, 16, 64, 256, 1024)
_SETTING = {"d": 2, "T": 1.0, "activation": "tanh", "omega": 1.5, "beta": 0.5, "gamma": 1.0, "e_bound": 0.5,
            "R": 1.0}


def run_cdnn_report(out_dir: str | Path = "reports", seed: int = 0, quick: bool = False) -> dict[str, Any]:
    """Write ``cdnn.md``, ``cdnn.json`` (and ``cdnn.png`` when matplotlib is present) to ``out_dir``.

    Parameters
    ----------
    out_dir : path
        Output folder (created).
    seed : int
        Seed of the falsifier runs.
    quick : bool
        A few seconds in total (small evaluation budget) instead of about a minute.

    Returns
    -------
    dict
        ``{"files": [paths], "summary": [one-line strings], "rows": [...]}``.
    """
    from symlip.search.claims import Case, Claim
    from symlip.search.falsify import falsify

    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0; got {seed!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    s = _SETTING
    max_evals, budget = (12, 0.3) if quick else (250, 8.0)
    t0 = time.perf_counter()
    claim = Claim("CDNN-lip_f-euler", "lip_f", cdnn_bound("lip_f", "euler"), assumptions=("lipschitz",))
    ode = CDNN(s["d"], s["T"], 1, s["activation"], scheme="ode")
    ode_reg = ode.region(s["omega"], s["beta"], s["gamma"], s["e_bound"])
    ode_f = cdnn_bound("lip_f", "ode")(ode, ode_reg, s["R"])
    ode_g = cdnn_bound("lip_grad", "ode")(ode, ode_reg, s["R"])
    rows = []
    for N in NS:
        net = CDNN(s["d"], s["T"], N, s["activation"], scheme="euler")
        reg = net.region(s["omega"], s["beta"], s["gamma"], s["e_bound"])
        ef = cdnn_bound("lip_f", "euler")(net, reg, s["R"])
        eg = cdnn_bound("lip_grad", "euler")(net, reg, s["R"])
        ts = time.perf_counter()
        v = falsify(Case(claim, net, reg, R=s["R"]), budget=budget, max_evals=max_evals, seed=seed)
        rows.append({"N": N, "P": net.n_params, "euler_lip_f": ef, "ode_lip_f": ode_f,
                     "gap_lip_f": (ode_f - ef) / ode_f, "euler_lip_grad": eg, "ode_lip_grad": ode_g,
                     "gap_lip_grad": (ode_g - eg) / ode_g, "ratio": v.best_ratio, "status": v.status,
                     "evaluations": v.evaluations, "seconds": round(time.perf_counter() - ts, 2)})
    files = [out / "cdnn.md", out / "cdnn.json"]
    mono = all(a["euler_lip_f"] < b["euler_lip_f"] and a["euler_lip_grad"] < b["euler_lip_grad"]
               for a, b in zip(rows, rows[1:]))
    survived = all(r["status"] == "survived" for r in rows)
    best = max(r["ratio"] for r in rows)
    lines = [
        "# Continuously deep networks: N-convergence of the Grönwall bounds (docs/theory.md §5)", "",
        f"Setting: d = {s['d']}, T = {s['T']:g}, σ = {s['activation']}, box ||W_k||_2 <= ω = {s['omega']}, "
        f"|b_k| <= β = {s['beta']}, |c| <= γ = {s['gamma']}, |e| <= {s['e_bound']}, inputs |x| <= R = {s['R']}. "
        "Distances: the L2 path norm (the CDNN's scaled coordinates).", "",
        "Euler = derived bound of the explicit-Euler residual network with N steps; ODE = bound of the "
        "controlled ODE (independent of N); gap = (ODE − Euler)/ODE. The **falsifier ratio** is the best "
        "witnessed |f(θ) − f(θ')| / |θ − θ'| on the **Euler network of that N**, divided by **the Euler "
        f"lip_f bound of that N** (seed {seed}, at most {max_evals} evaluations; all strategies; "
        f"differential evolution only where P <= 48, hypothesis in a 64-dimensional random subspace where "
        f"P > 400)"
        f"{', quick mode' if quick else ''}).", "",
        "| N | P | Euler lip_f | ODE lip_f | gap | N·gap | Euler lip_grad | ODE lip_grad | gap | falsifier ratio "
        "(Euler net / Euler lip_f) | status |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(f"| {r['N']} | {r['P']} | {r['euler_lip_f']:.6g} | {r['ode_lip_f']:.6g} | {r['gap_lip_f']:.3e} | "
                     f"{r['N'] * r['gap_lip_f']:.4g} | {r['euler_lip_grad']:.6g} | {r['ode_lip_grad']:.6g} | "
                     f"{r['gap_lip_grad']:.3e} | {r['ratio']:.4f} | {r['status']} |")
    lines += ["", f"- The Euler bounds increase monotonically in N: {'yes' if mono else 'NO'}; "
              "the relative gap to the ODE bound shrinks like 1/N (N·gap is nearly constant).",
              f"- Falsifier: {'every run survived' if survived else 'a run did not survive'}; best ratio "
              f"{best:.4f} (lower bounds on how tight the Euler lip_f bound is).",
              f"- Total time {time.perf_counter() - t0:.1f} s.", ""]
    summary = [f"CDNN: Euler lip_f bound {rows[0]['euler_lip_f']:.4g} (N=1) -> {rows[-1]['euler_lip_f']:.6g} "
               f"(N={rows[-1]['N']}) -> ODE {ode_f:.6g}; lip_grad {rows[-1]['euler_lip_grad']:.6g} -> "
               f"ODE {ode_g:.6g}; monotone: {mono}",
               f"CDNN: falsifier best ratio {best:.4f} (Euler net vs Euler lip_f bound), "
               f"{'all survived' if survived else 'NOT all survived'}"]
    plt = None
    try:
        from symlip.core.plot import pyplot

        plt = pyplot()
    except ImportError:  # pragma: no cover
        plt = None
    if plt is not None:
        fig, ax = plt.subplots(figsize=(6, 4))
        Ns = [r["N"] for r in rows]
        ax.semilogx(Ns, [r["euler_lip_f"] for r in rows], "o-", label="Euler lip_f bound")
        ax.axhline(ode_f, ls="--", color="C0", label="ODE lip_f bound")
        ax.semilogx(Ns, [r["ratio"] * r["euler_lip_f"] for r in rows], "s:", label="falsifier best (Euler net)")
        ax.set_xlabel("N (Euler steps)")
        ax.set_ylabel("Lipschitz constant of θ ↦ f")
        ax.legend()
        ax.set_title("CDNN: Euler bound → ODE bound")
        fig.tight_layout()
        png = out / "cdnn.png"
        fig.savefig(png, dpi=110)
        plt.close(fig)
        files.append(png)
        lines.insert(-4, "![convergence](cdnn.png)\n")
    files[0].write_text(mark_quick("\n".join(lines)) if quick else "\n".join(lines))
    data = {"setting": s, "seed": seed, "quick": quick, **({"note": QUICK_NOTE} if quick else {}), "max_evals": max_evals, "ode_lip_f": ode_f,
            "ode_lip_grad": ode_g, "monotone": mono, "rows": rows,
            "ratio_is": "best falsifier ratio on the Euler network of N steps against the Euler lip_f bound of N"}
    files[1].write_text(json.dumps(data, indent=1, default=lambda x: x if math.isfinite(x) else repr(x)) + "\n")
    return {"files": [str(f) for f in files], "summary": summary, "rows": rows}
