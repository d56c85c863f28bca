"""Audit tables and the peer comparison report: ``symlip audit`` and ``symlip peers``.

``symlip peers`` runs every tool of :data:`symlip.peers.TOOLS` on a fixed set of seeded
networks — widths ``[4,16,16,16,1]``, ``[8,64,64,64,64,1]`` and ``[8] + [64]*9 + [1]``
(depth 10, width 64); tanh and ReLU; PyTorch's default ``nn.Linear`` initialisation and
He initialisation — on the input ball ``|x|_2 <= R = 1`` and puts each tool's constant
and time beside symlip's best lower bound: the gap table to read before choosing a tool.
"""
from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from symlip.models.network import MLP
from symlip.peers import TOOLS, Audit, AuditRow, CertifiedAudit
from symlip.report.index import QUICK_NOTE, mark_quick

__all__ = ["format_audit", "format_certified", "write_audit_report", "CERTIFICATE_FILE", "run_peers_report", "NETWORKS", "WITNESS_DIR"]

#: witness files of audits go here (inside the report folder); ``symlip check`` owns ``witnesses/``
WITNESS_DIR = "audit-witnesses"

#: the certificate of ``symlip audit --certify`` (inside :data:`WITNESS_DIR`; cleared with the audit's witnesses)
CERTIFICATE_FILE = "audit-certificate.json"

#: widths of the report's networks
NETWORKS = ((4, 16, 16, 16, 1), (8, 64, 64, 64, 64, 1), (8,) + (64,) * 9 + (1,))
_ACTIVATIONS = ("tanh", "relu")
_INITS = ("default", "he")
_R = 1.0
_LABELS = {"product": "product (AutoLip)", "eclipse": "ECLipsE", "eclipse-fast": "ECLipsE-Fast",
           "eclipse-local": "ECLipsE-Gen-Local"}


# ---------------------------------------------------------------------------
# one audit: text table, Markdown, JSON, witnesses
# ---------------------------------------------------------------------------
def _num(v: float | None, digits: int = 6) -> str:
    return "—" if v is None else f"{v:.{digits}g}"


def _ratio(v: float | None) -> str:
    from symlip.report.check import format_ratio

    return "—" if v is None else format_ratio(v)


def _status_text(row: AuditRow, witness: str | None) -> str:
    if row.verdict is not None:
        return row.status + (f" (witness {witness})" if witness else "")
    return f"{row.status}: {row.claim.message}" if row.claim.message else row.status


def format_audit(audit: Audit, witnesses: dict[int, str] | None = None) -> str:
    """The audit as a plain-text table: tool, claimed, lower bound, status, ratio, seconds."""
    witnesses = witnesses or {}
    head = ("tool", "claimed", "lower bound", "status", "ratio", "seconds")
    rows = [(r.tool, _num(r.claim.constant), _num(r.verdict.lower_bound if r.verdict else None),
             _status_text(r, witnesses.get(k)), _ratio(r.ratio), f"{r.claim.seconds:.2f}")
            for k, r in enumerate(audit.rows)]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(head)]
    widths[3] = min(widths[3], 60)

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()

    out = [line(head)] + [line(r) for r in rows]
    for r in audit.rows:
        for s in r.claim.signals:
            out.append(f"  {r.tool}: {s}")
    return "\n".join(out)


def search_line(audit: Audit) -> str:
    s = audit.search
    where = "all of R^d" if audit.R is None else f"|x|_2 <= {audit.R:g}"
    exact = f"; exact constant {s.exact:.10g}" if s.exact is not None else ""
    return (f"symlip's best lower bound on {where}: {s.value:.10g} ({s.strategy}, {s.evaluations} evaluations, "
            f"{s.seconds:.1f} s of a {audit.budget:g} s budget, seed {audit.seed}{exact})")


def _certified_head(ca: CertifiedAudit) -> str:
    where = "all of R^d" if ca.audit.R is None else f"|x|_2 <= {ca.audit.R:g}"
    return (f"certified (symlip certify, {ca.certify_budget:g} s budget) on {where}: witnessed lower "
            f"{ca.lower:.10g} ({ca.lower_source}, mpmath), certified upper {ca.upper:.10g}, gap {ca.gap:.12g}; "
            f"status {ca.status}, stopped by {ca.stop}, {ca.seconds:.1f} s, {ca.boxes} boxes")


def _standing_text(r: Any) -> str:
    return {"refuted": "REFUTED (below the witnessed lower)", "proved": "holds (>= certified upper)",
            "open": "open (between lower and upper)"}.get(r.standing, r.standing)


def format_certified(ca: CertifiedAudit, certificate: str | None = None) -> str:
    """The certified sandwich and each tool's constant against it (plain text)."""
    head = ("tool", "claimed", "standing", "x certified upper")
    rows = [(r.tool, _num(r.constant), _standing_text(r), "—" if r.above_upper is None else f"{r.above_upper:.6g}")
            for r in ca.rows]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(head)]
    out = [_certified_head(ca)]
    out += ["  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip() for cells in [head] + rows]
    if certificate:
        out.append(f"certificate: {certificate} (re-check with symlip replay FILE)")
    return "\n".join(out)


def write_audit_report(audit: Audit, out_dir: str | Path, *, model: str, net: MLP, command: str,
                       certified: CertifiedAudit | None = None) -> dict[str, Path]:
    """Write ``audit.md``, ``audit.json`` and one witness file per violated claim.

    Returns ``{"md": ..., "json": ..., "witness:audit:<row>": ...}``; witness files go to
    ``out_dir/audit-witnesses/`` and re-check with ``symlip replay FILE``.  With
    ``certified`` (:func:`symlip.peers.certified_audit` of the same audit) the certificate
    goes there too (:data:`CERTIFICATE_FILE`, key ``"certificate"``) and both reports show
    the certified sandwich beside the claims.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    _clear_witnesses(out, "audit")
    rel = _save_witnesses(audit.rows, out, "audit", files)
    if certified is not None:
        if certified.audit is not audit:
            raise ValueError("certified is the certificate of another audit")
        files["certificate"] = Path(certified.certificate.save(out / WITNESS_DIR / CERTIFICATE_FILE))
    where = "all of R^d" if audit.R is None else f"the ball |x|_2 <= {audit.R:g}"
    n_viol = sum(r.status == "violated" for r in audit.rows)
    lines = [f"# Audit of {model}", "",
             f"**{len(audit.rows)} claim{'s' if len(audit.rows) != 1 else ''} on {where}: {n_viol} violated, "
             f"{sum(r.status == 'survived' for r in audit.rows)} survived, "
             f"{sum(r.verdict is None for r in audit.rows)} not checked**", "",
             f"Network: widths {list(net.widths)}, activation {net.activation.name}. {search_line(audit)}.", "",
             "A claim is *violated* only when an input pair whose ratio |f(x) - f(x')|_2 / |x - x'|_2 exceeds it is "
             "confirmed at two high precisions (mpmath); `symlip replay FILE` re-checks a witness. Ratio = lower "
             "bound / claimed (> 1: the claim is false); seconds = the tool's own time.", "",
             "| tool | claimed | lower bound | status | ratio | seconds |", "|---|---:|---:|---|---:|---:|"]
    for k, r in enumerate(audit.rows):
        w = rel.get(k)
        status = _status_text(r, f"[{w}]({w})" if w else None)
        lines.append(f"| {_md(r.tool)} | {_num(r.claim.constant, 10)} | "
                     f"{_num(r.verdict.lower_bound if r.verdict else None, 10)} | {_md(status)} | {_ratio(r.ratio)} | "
                     f"{r.claim.seconds:.2f} |")
    if certified is not None:
        cf = f"{WITNESS_DIR}/{CERTIFICATE_FILE}"
        lines += ["", "## Certified", "", _md(_certified_head(certified)) + ".", "",
                  f"The upper bound is proved (branch and bound in arb; the proof is [{cf}]({cf}), re-checked by "
                  "`symlip replay FILE`); a constant below the witnessed lower is refuted, one at or above the "
                  "certified upper holds. × certified upper = claimed / certified upper.", "",
                  "| tool | claimed | standing | × certified upper |", "|---|---:|---|---:|"]
        lines += [f"| {_md(r.tool)} | {_num(r.constant, 10)} | {_standing_text(r)} | "
                  f"{'—' if r.above_upper is None else f'{r.above_upper:.6g}'} |" for r in certified.rows]
    signals = [(r.tool, s) for r in audit.rows for s in r.claim.signals]
    if signals:
        lines += ["", "## What the tools reported", ""] + [f"- **{_md(t)}**: {_md(s)}" for t, s in signals]
    lines += ["", f"Command: `{command}`", ""]
    files["md"] = out / "audit.md"
    files["md"].write_text("\n".join(lines), encoding="utf-8")
    data = {"model": model, "widths": list(net.widths), "activation": net.activation.name, "R": audit.R,
            "budget": audit.budget, "seed": audit.seed, "seconds": audit.seconds, "command": command,
            "search": _search_dict(audit.search), "rows": [_row_dict(r, rel.get(k)) for k, r in enumerate(audit.rows)]}
    if certified is not None:
        ca = certified
        data["certified"] = {"lower": ca.lower, "lower_mp": ca.lower_mp, "lower_source": ca.lower_source,
                             "upper": ca.upper, "gap": ca.gap, "status": ca.status, "stop": ca.stop,
                             "seconds": ca.seconds, "boxes": ca.boxes, "R": ca.R_certified,
                             "budget": ca.certify_budget, "tol": ca.tol,
                             "certificate": f"{WITNESS_DIR}/{CERTIFICATE_FILE}",
                             "tools": [{"tool": r.tool, "claimed": r.constant, "standing": r.standing,
                                        "above_upper": r.above_upper} for r in ca.rows]}
    files["json"] = out / "audit.json"
    files["json"].write_text(_json_text(data), encoding="utf-8")
    return files


def _clear_witnesses(out: Path, prefix: str) -> None:
    """Remove the witness files an earlier run of the same command left (``<prefix>-*.json``)."""
    for f in sorted((out / WITNESS_DIR).glob(f"{prefix}-*.json")):
        f.unlink()


def _save_witnesses(rows: Sequence[AuditRow], out: Path, prefix: str, files: dict[str, Path]) -> dict[int, str]:
    """Save each violated row's witness; ``{row index: path relative to out}``."""
    rel: dict[int, str] = {}
    for k, r in enumerate(rows):
        if r.verdict is None or r.verdict.status != "violated" or r.verdict.witness is None:
            continue
        slug = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{prefix}-{k:02d}-{r.tool}").strip("._-")
        path = r.verdict.witness.save(out / WITNESS_DIR / f"{slug}.json")
        files[f"witness:{prefix}:{k}"] = Path(path)
        rel[k] = f"{WITNESS_DIR}/{Path(path).name}"
    return rel


def _md(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _search_dict(s: Any) -> dict[str, Any]:
    return {"value": s.value, "strategy": s.strategy, "evaluations": s.evaluations, "seconds": s.seconds,
            "exact": s.exact, "x": np.asarray(s.x).tolist(), "x2": np.asarray(s.x2).tolist()}


def _row_dict(r: AuditRow, witness: str | None) -> dict[str, Any]:
    c, v = r.claim, r.verdict
    return {"tool": c.tool, "claimed": c.constant, "tool_status": c.status, "tool_seconds": c.seconds,
            "region": c.region, "signals": list(c.signals), "message": c.message, "status": r.status,
            "lower_bound": v.lower_bound if v else None, "ratio": r.ratio, "gap": r.gap,
            "verdict_message": v.message if v else None, "witness": witness}


def _json_text(obj: Any) -> str:
    """Strict, compact-array JSON (the format of check.json)."""
    from symlip.report.check import dumps, jsonable

    return dumps(jsonable(obj)) + "\n"


# ---------------------------------------------------------------------------
# the peer comparison report
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class _Network:
    widths: tuple[int, ...]
    activation: str
    init: str
    seed: int

    @property
    def label(self) -> str:
        return f"{'-'.join(map(str, self.widths)) if len(self.widths) <= 6 else _short(self.widths)} " \
               f"{self.activation} {self.init}"


def _short(widths: tuple[int, ...]) -> str:
    return f"{widths[0]}-{widths[1]}x{len(widths) - 2}-{widths[-1]}"


def _init(net: MLP, kind: str, seed: int) -> np.ndarray:
    """PyTorch's ``nn.Linear`` default (W, b ~ U(±1/√fan_in)) or He (W ~ N(0, 2/fan_in), b = 0), drawn with numpy."""
    rng = np.random.default_rng(seed)
    layers = []
    for i in range(1, len(net.widths)):
        fan_in, fan_out = net.widths[i - 1], net.widths[i]
        if kind == "default":
            bound = 1.0 / math.sqrt(fan_in)
            layers.append((rng.uniform(-bound, bound, (fan_out, fan_in)), rng.uniform(-bound, bound, fan_out)))
        else:
            layers.append((rng.normal(0.0, math.sqrt(2.0 / fan_in), (fan_out, fan_in)), np.zeros(fan_out)))
    return net.flatten(layers)


def _networks(quick: bool, seed: int) -> list[_Network]:
    if quick:
        return [_Network(NETWORKS[0], "tanh", "default", seed), _Network(NETWORKS[0], "relu", "he", seed + 1)]
    out = []
    for widths in NETWORKS:
        for act in _ACTIVATIONS:
            for init in _INITS:
                out.append(_Network(widths, act, init, seed + len(out)))
    return out


def _versions() -> dict[str, str]:
    from importlib import metadata

    out = {}
    for pkg in ("symlip", "eclipse-nn", "torch", "cvxpy", "scs"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def run_peers_report(out_dir: str | Path = "reports", *, seed: int = 0, quick: bool = False,
                     budget: float | None = None, progress: Any = None) -> dict[str, Any]:
    """Write ``peers.md`` and ``peers.json`` to ``out_dir``: every tool on every network of the set.

    Parameters
    ----------
    out_dir : path
        Output folder (created).
    seed : int
        Network ``k`` is drawn with seed ``seed + k``; the searches use ``seed``.
    quick : bool
        Two small networks and a 0.5 s search each (for tests) instead of twelve at 5 s.
    budget : float, optional
        Search seconds per network (default 5, quick 0.5).
    progress : callable, optional
        Called with one line per network.

    Returns
    -------
    dict
        ``{"files": [paths], "summary": [lines], "ok": bool, "rows": [...]}``; ``ok`` is False
        when a tool's claim was violated.
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0; got {seed!r}")
    from symlip.peers import audit_tools

    budget = (0.5 if quick else 5.0) if budget is None else float(budget)
    if not (math.isfinite(budget) and budget > 0):
        raise ValueError(f"budget must be a positive number of seconds, got {budget!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    results = []
    files_w: dict[str, Path] = {}
    _clear_witnesses(out, "peers")
    for spec in _networks(quick, seed):
        net = MLP(spec.widths, spec.activation)
        theta = _init(net, spec.init, spec.seed)
        audit = audit_tools(net, theta, TOOLS, R=_R, budget=budget, seed=seed)
        slug = re.sub(r"[^A-Za-z0-9]+", "_", spec.label)
        rel = _save_witnesses(audit.rows, out, f"peers-{slug}", files_w)
        results.append((spec, audit, rel))
        if progress is not None:
            progress(f"{spec.label}: lower bound {audit.search.value:.6g}; "
                     + ", ".join(f"{r.tool} {_cell_short(r)}" for r in audit.rows) + f"  {audit.seconds:.1f} s")
    seconds = time.perf_counter() - t0
    versions = _versions()
    command = "symlip peers" + (" --quick" if quick else "") + (f" --seed {seed}" if seed else "") + \
        (f" --budget {budget:g}" if budget != (0.5 if quick else 5.0) else "")
    md, summary = _peers_markdown(results, budget, seed, seconds, versions, command, quick)
    paths = [out / "peers.md", out / "peers.json"]
    paths[0].write_text(mark_quick(md) if quick else md, encoding="utf-8")
    data = {"R": _R, "budget": budget, "seed": seed, "quick": quick, **({"note": QUICK_NOTE} if quick else {}), "seconds": seconds, "versions": versions,
            "command": command, "init": {"default": "PyTorch nn.Linear default: W, b ~ U(-1/sqrt(fan_in), "
                                         "1/sqrt(fan_in)), drawn with numpy.random.default_rng(seed)",
                                         "he": "W ~ N(0, 2/fan_in), b = 0, drawn with numpy.random.default_rng(seed)"},
            "networks": [{"label": spec.label, "widths": list(spec.widths), "activation": spec.activation,
                          "init": spec.init, "seed": spec.seed, "search": _search_dict(a.search),
                          "seconds": a.seconds,
                          "tools": [_row_dict(r, rel.get(k)) for k, r in enumerate(a.rows)]}
                         for spec, a, rel in results]}
    paths[1].write_text(_json_text(data), encoding="utf-8")
    violated = [(spec.label, r.tool) for spec, a, _ in results for r in a.rows if r.status == "violated"]
    summary.append("wrote " + ", ".join(str(p) for p in paths + list(files_w.values())))
    return {"files": paths + list(files_w.values()), "summary": summary, "ok": not violated,
            "rows": data["networks"]}


def _cell_short(r: AuditRow) -> str:
    if r.verdict is None:
        return r.status
    gap = f"gap {r.gap:.3g}" if r.gap is not None else "gap —"
    return f"{r.claim.constant:.4g} ({gap}{', VIOLATED' if r.status == 'violated' else ''})"


def _cell(r: AuditRow, witness: str | None) -> str:
    if r.verdict is None:
        return r.status
    text = f"{r.claim.constant:.4g} (×{r.gap:.3g})" if r.gap is not None else f"{r.claim.constant:.4g}"
    if r.status == "violated":
        text += " **violated**" + (f" [witness]({witness})" if witness else "")
    elif r.status == "inconclusive":
        text += " inconclusive"
    return text + (" ⚑" if r.claim.signals else "")


def _coincidences(results: list) -> list[str]:
    """How often ECLipsE's and ECLipsE-Gen-Local's constants equal ECLipsE-Fast's (to 1e-9 relative)."""
    out = []
    for t in ("eclipse", "eclipse-local"):
        pairs = []
        for _, a, _ in results:
            by = {r.tool: r.claim.constant for r in a.rows}
            if by.get(t) is not None and by.get("eclipse-fast") is not None:
                pairs.append(math.isclose(by[t], by["eclipse-fast"], rel_tol=1e-9))
        if pairs:
            out.append(f"{_LABELS[t]}'s constant equals ECLipsE-Fast's (to 1e-9 relative) on {sum(pairs)} of "
                       f"{len(pairs)} networks.")
    return [" ".join(out), ""] if out else []


def _median(values: list[float]) -> float | None:
    return float(np.median(values)) if values else None


def _peers_markdown(results: list, budget: float, seed: int, seconds: float, versions: dict[str, str],
                    command: str, quick: bool) -> tuple[str, list[str]]:
    n = len(results)
    gaps = {t: [r.gap for _, a, _ in results for r in a.rows if r.tool == t and r.gap is not None] for t in TOOLS}
    viol = [(spec.label, r.tool) for spec, a, _ in results for r in a.rows if r.status == "violated"]
    med = ", ".join(f"{_LABELS[t]} {_median(g):.3g}" for t, g in gaps.items() if g)
    head = (f"**{n} networks, R = {_R:g}: {'no claim violated' if not viol else f'{len(viol)} claims violated'}; "
            f"median gap {med or '—'}**")
    lines = ["# Peer comparison: input-Lipschitz constants against symlip's lower bound", "", head, "",
             "Each tool states an upper bound L on the input-Lipschitz constant |f(x) − f(x')|_2 ≤ L |x − x'|_2 "
             f"of a network; symlip searches the input ball |x|_2 ≤ R = {_R:g} for the pair with the largest ratio "
             f"(`input_lipschitz_lower_bound`, {budget:g} s per network, seed {seed}) and checks every claim against "
             "it (`audit_constant`: a claim is violated only when a pair beating it is confirmed at two high "
             "precisions). **Gap** = constant / symlip's best lower bound: the tool is at most that factor above "
             "the true constant on the ball (the true gap is smaller when the search falls short of the truth; "
             "global tools are compared on the same ball). The search is time-budgeted, so a rerun may find a "
             "somewhat different lower bound, most of all for the deep ReLU networks.", "",
             "Networks: widths [4,16,16,16,1], [8,64,64,64,64,1] and [8]+[64]×9+[1] (depth 10, width 64); tanh and "
             "ReLU; **default** = PyTorch's `nn.Linear` initialisation (W, b ~ U(±1/√fan_in)), **he** = He "
             "initialisation (W ~ N(0, 2/fan_in), b = 0), both drawn with `numpy.random.default_rng(seed + k)` for "
             "network k (torch is not needed to regenerate the report).", "",
             "Tools: **product** = AutoLip's S1^(m−1) ∏ ‖W_i‖_2 (one SVD per layer; global); **ECLipsE** and "
             "**ECLipsE-Fast** = `eclipse_nn.LipConstEstimator(weights, alphas=0, betas=S1).estimate(method)` "
             "(global); **ECLipsE-Gen-Local** = `estimate_gen_local(center=0, epsilon=R, actv, algo='Fast')` on the "
             "same l2 ball. ⚑ marks a tool that reported a failure signal (listed below)."
             + (" **Quick mode** (two small networks)." if quick else ""), "",
             "## Gap table", "",
             "| network | symlip lower bound | " + " | ".join(_LABELS[t] for t in TOOLS) + " |",
             "|---|---:|" + "---:|" * len(TOOLS)]
    for spec, a, rel in results:
        by = {r.tool: (k, r) for k, r in enumerate(a.rows)}
        lb = f"{a.search.value:.4g}" + (" (exact)" if a.search.exact is not None
                                        and math.isclose(a.search.exact, a.search.value, rel_tol=1e-12) else "")
        lines.append(f"| {spec.label} | {lb} | "
                     + " | ".join(_cell(by[t][1], rel.get(by[t][0])) for t in TOOLS) + " |")
    lines += [""] + _coincidences(results) + ["## Seconds", "",
              "| network | symlip search | " + " | ".join(_LABELS[t] for t in TOOLS) + " |",
              "|---|---:|" + "---:|" * len(TOOLS)]
    for spec, a, _ in results:
        by = {r.tool: r for r in a.rows}
        lines.append(f"| {spec.label} | {a.search.seconds:.2f} | "
                     + " | ".join(f"{by[t].claim.seconds:.2f}" if by[t].claim.status in ("ok", "failed") else "—"
                                  for t in TOOLS) + " |")
    lines += ["", "## What the tools reported", ""]
    reported = False
    for t in TOOLS:
        per = [(spec.label, r) for spec, a, _ in results for r in a.rows if r.tool == t]
        notes = sorted({(r.status, r.claim.message) for _, r in per if r.claim.status != "ok"})
        sig = [(label, s) for label, r in per for s in r.claim.signals]
        if not notes and not sig:
            continue
        reported = True
        lines += [f"### {_LABELS[t]}", ""]
        for status, msg in notes:
            lines.append(f"- {status}: {_md(msg)}")
        if sig:
            flagged = {label for label, _ in sig}
            lines.append(f"- signals on {len(flagged)} of {len(per)} networks; the same signal on several networks "
                         "once, with their number:")
            where: dict[str, list[str]] = {}
            for label, s in sig:
                where.setdefault(s, []).append(label)
            for s, labels in sorted(where.items(), key=lambda item: -len(item[1])):
                at = labels[0] if len(labels) == 1 else f"{len(labels)} networks"
                lines.append(f"  - {at}: {_md(s)}")
        lines.append("")
    if not reported:
        lines += ["No tool reported a failure signal.", ""]
    lines += ["## Versions and command", "",
              ", ".join(f"{k} {v}" for k, v in versions.items()) + f"; {seconds:.1f} s in total.", "",
              f"Regenerate: `{command}` (writes peers.md and peers.json).", ""]
    summary = [head.strip("*"), f"{n} networks in {seconds:.1f} s"]
    return "\n".join(lines), summary
