"""The tightness table: how loose the analytic bounds U1 (``lip_f``) and U2
(``lip_grad``) of docs/theory.md §3 are on small architectures, measured against
the certified sandwich ``lower <= true constant <= upper`` of
:func:`symlip.certify.certify` (issue 15).

Each row: architecture, region, the U bound (the rigorous arb value rounded up,
:func:`symlip.certify.cap.u_cap`, as recorded in the certificate), the certified
interval of the true constant and the looseness ``U / true ∈ [U / upper, U / lower]``.
A row whose upper equals U (the branch and bound did not get below the cap in its
budget) has ``U / upper = 1``: U is then at most ``U / lower`` times loose, and
possibly exact.  ``symlip tightness`` writes ``tightness.md``, ``tightness.tex`` and
``tightness.json``.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from symlip.report.check import jsonable
from symlip.report.index import QUICK_NOTE, mark_quick

__all__ = ["ARCHITECTURES", "REGIONS", "tightness_rows", "write_tightness", "print_row"]

#: (widths, activation) of the table (the catalogue's small architectures)
ARCHITECTURES = (((1, 1, 1), "tanh"), ((1, 2, 1), "tanh"), ((2, 2, 1), "tanh"), ((1, 2, 1), "sigmoid"),
                 ((1, 2, 1), "softplus"))
#: region names: balls |θ - init(0)| <= r and the box |W_i| <= 1, |b_i| <= 1
REGIONS = ("ball 0.1", "ball 0.3", "box ω=β=1")
_QUANTITIES = (("lip_f", "U1"), ("lip_grad", "U2"))
_R = 1.0


def _region(name: str, net: Any) -> Any:
    from symlip.models.region import Region

    if name.startswith("ball"):
        return Region.ball(net.init(0), float(name.split()[1]))
    return Region.box(1.0, 1.0)


def tightness_rows(*, budget: float = 3.0, seed: int = 0, quick: bool = False,
                   progress: Any = None) -> list[dict[str, Any]]:
    """Certify every (architecture, region, quantity) of the table; one dict per row.

    Parameters
    ----------
    budget : float
        Seconds of branch and bound per row.
    seed : int
        Seed of certify's incumbent search.
    quick : bool
        Only the first architecture and the first region (for tests).
    progress : callable, optional
        Called with each row when it is done.
    """
    from symlip.certify import certify
    from symlip.models.network import MLP

    rows = []
    archs = ARCHITECTURES[:1] if quick else ARCHITECTURES
    for widths, act in archs:
        net = MLP(widths, act)
        for rname in REGIONS[:1] if quick else REGIONS:
            region = _region(rname, net)
            for quantity, uname in _QUANTITIES:
                c = certify(quantity, net, region, R=_R, budget=budget, seed=seed)
                u = c.cap if c.cap is not None else c.u_bound
                row = {"widths": list(widths), "activation": act, "region": rname, "R": _R, "quantity": quantity,
                       "bound": uname, "U": u, "lower": c.lower, "upper": c.upper, "gap": c.gap,
                       "looseness": [_div(u, c.upper), _div(u, c.lower)], "upper_is_U": c.cap is not None
                       and c.upper >= c.cap, "boxes": c.boxes, "seconds": round(c.seconds, 2)}
                rows.append(row)
                if progress is not None:
                    progress(row)
    return rows


def print_row(r: dict[str, Any]) -> None:
    """One progress line of a row of :func:`tightness_rows`."""
    lo, hi = r["looseness"]
    print(f"  {r['bound']} [{', '.join(map(str, r['widths']))}] {r['activation']} {r['region']}: "
          f"U {_f(r['U'], 6)}, true ∈ [{_f(r['lower'], 6)}, {_f(r['upper'], 6)}], U/true ∈ [{_f(lo, 4)}, "
          f"{_f(hi, 4)}]", flush=True)


def _div(a: float | None, b: float) -> float | None:
    if a is None:
        return None
    return a / b if b > 0 else (math.nan if a == 0 else math.inf)


def _f(v: float | None, digits: int = 5) -> str:
    return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}g}"


def _cells(r: dict[str, Any]) -> list[str]:
    lo, hi = r["looseness"]
    return [f"[{', '.join(map(str, r['widths']))}] {r['activation']}", r["region"], r["bound"], _f(r["U"], 6),
            f"[{_f(r['lower'], 6)}, {_f(r['upper'], 6)}]", f"[{_f(lo, 4)}, {_f(hi, 4)}]" + (" *" if r["upper_is_U"]
                                                                                         else ""),
            str(r["boxes"]), f"{r['seconds']:.1f}"]


_HEADER = ["architecture", "region", "bound", "U", "true constant ∈", "U / true ∈", "boxes", "seconds"]


def _markdown(rows: list[dict[str, Any]], budget: float, command: str) -> str:
    out = ["# Tightness of U1 and U2", "",
           "How loose the analytic bounds U1 (Lipschitz constant of θ ↦ f, `lip_f`) and U2 (of θ ↦ ∇_θ f, "
           "`lip_grad`) of docs/theory.md §3 are, against the true local constant (the supremum of |∇_θ f| "
           "or ‖∇²_θ f‖₂ over the region and |x| ≤ R = 1) sandwiched by `symlip certify`: the lower end is a "
           "witnessed point confirmed in mpmath, the upper end a branch-and-bound proof re-checkable with "
           "`symlip replay`. U is the rigorous (arb) value rounded up. Balls are |θ − θ₀| ≤ r around "
           "`MLP.init(0)`; the box is ‖W_i‖₂ ≤ 1, ‖b_i‖ ≤ 1. `*`: the certified upper is U itself (the "
           f"branch and bound did not get below it in {budget:g} s), so only U / true ≤ U / lower is known.",
           "", f"Command: `{command}`", "",
           "| " + " | ".join(_HEADER) + " |", "|" + "|".join("---:" if h in ("U", "boxes", "seconds") else "---"
                                                           for h in _HEADER) + "|"]
    out += ["| " + " | ".join(_cells(r)) + " |" for r in rows]
    return "\n".join(out) + "\n"


def _tex(text: str) -> str:
    return (text.replace("θ₀", r"$\theta_0$").replace("ω", r"$\omega$").replace("β", r"$\beta$")
            .replace(" *", r"$^{*}$").replace("—", "--"))


def _latex(rows: list[dict[str, Any]]) -> str:
    out = [r"% symlip tightness: U / true constant, certified (issue 15)", r"\begin{tabular}{llllll}",
           r"\hline", r"architecture & region & bound & $U$ & true constant $\in$ & $U/\mathrm{true} \in$ \\",
           r"\hline"]
    for r in rows:
        out.append(" & ".join("{" + _tex(c) + "}" for c in _cells(r)[:6]) + r" \\")  # {[..]}: not \\[..]
    out += [r"\hline", r"\end{tabular}", r"% $^{*}$: the certified upper is $U$ itself."]
    return "\n".join(out) + "\n"


def write_tightness(rows: list[dict[str, Any]], out_dir: str | Path, *, budget: float, command: str,
                    quick: bool = False) -> dict[str, Path]:
    """Write ``tightness.md``, ``tightness.tex`` and ``tightness.json`` into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    md = _markdown(rows, budget, command)
    files = {"md": out / "tightness.md", "tex": out / "tightness.tex", "json": out / "tightness.json"}
    files["md"].write_text(mark_quick(md) if quick else md, encoding="utf-8")
    files["tex"].write_text(_latex(rows), encoding="utf-8")
    data = {"format": "symlip-tightness/1", "budget": budget, "command": command,
            "note": QUICK_NOTE if quick else None, "rows": rows}
    data = jsonable(data, nonfinite_null=True)
    files["json"].write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    return files
