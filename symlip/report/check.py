"""Reports of a ``symlip check`` run: Markdown, JSON, LaTeX and witness files.

:func:`write_check_report` turns the outcomes of a check — one
(:class:`~symlip.search.claims.LoadedCase`, :class:`~symlip.search.falsify.Verdict`) pair per
claim, or a :class:`CaseError` for a claim that could not be checked — into

``check.md``
    a summary line, the command that reproduces the run, the main table (claim,
    source, architecture, region, R, expectation, status, best ratio, strategy,
    evaluations, seconds, as expected), one section per distinct bound with its
    LaTeX and where it comes from, the violations with their witness files, and
    a per-strategy table;
``check.json``
    the same, machine readable: every verdict's :meth:`~symlip.search.falsify.Verdict.to_dict`
    with the case it was checked on;
``check.tex``
    a standalone LaTeX document with the main table (``longtable``) and the bounds;
``witnesses/<slug>.json``
    one :class:`~symlip.search.witness.Witness` file per ``violated`` or
    ``inconclusive`` verdict, replayable with ``symlip replay``.

The files contain no dates or host names: given the same verdicts they are the
same, so the diff of a committed reference report shows changes of outcome
(and timings) only.
"""
from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence, Union

from symlip.batch import CaseError
from symlip.search.catalogue import LoadedCase
from symlip.search.claims import Claim
from symlip.search.falsify import STRATEGIES, Verdict
from symlip.training.moment_claims import MomentVerdict
from symlip.search.witness import Witness, json_float
from symlip.report.index import write_index

__all__ = ["CaseError", "Outcome", "write_check_report", "write_index", "format_ratio", "case_slug", "summary_counts",
           "reproduce_command"]

_FORMAT = "symlip-check/1"
_STATUSES = ("violated", "survived", "proved", "witnessed", "refuted", "inconclusive", "error")
_WITNESS_STATUSES = ("violated", "inconclusive")


#: what a check produces for one case.
Outcome = Union[Verdict, CaseError, MomentVerdict]


# ---------------------------------------------------------------------------
# small formatting helpers
# ---------------------------------------------------------------------------
def format_ratio(ratio: float, decimals: int = 4) -> str:
    """A ratio with ``decimals`` decimals that never rounds across 1.

    A ratio just below 1 prints as ``1 - 5.0e-11`` rather than ``1.0000`` (which
    would read as "reached the bound"), one just above as ``1 + 2.0e-09``, and
    ratios of 10^4 or more in exponent form.

    Parameters
    ----------
    ratio : float
        ``value / bound``.
    decimals : int
        Decimals of the plain format.

    Returns
    -------
    str
    """
    if not isinstance(ratio, (int, float)) or math.isnan(ratio):
        return "nan"
    if math.isinf(ratio):
        return "inf" if ratio > 0 else "-inf"
    if abs(ratio) >= 1e4:
        return f"{ratio:.{decimals}e}"
    text = f"{ratio:.{decimals}f}"
    if ratio != 1 and float(text) == 1.0:
        gap = abs(1.0 - ratio)
        return f"1 {'-' if ratio < 1 else '+'} {gap:.1e}"
    return text


def case_slug(loaded: LoadedCase) -> str:
    """A filesystem-safe name for a case: ``<file stem>-<index>-<claim name>``.

    Parameters
    ----------
    loaded : LoadedCase

    Returns
    -------
    str
        Letters, digits, ``.``, ``_`` and ``-`` only (not yet made unique; see
        :func:`write_check_report`).
    """
    stem = Path(loaded.source).stem
    raw = f"{stem}-{loaded.index:02d}-{loaded.case.claim.name}"
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", raw).strip("._-")
    return slug[:120] or f"case-{loaded.index:02d}"


def summary_counts(outcomes: Sequence[Outcome]) -> dict[str, int]:
    """Counts of a check: ``claims``, ``as_expected``, ``not_as_expected`` and one
    per status (``violated``, ``survived``, ``proved``, ``inconclusive``, ``error``, ...).

    Parameters
    ----------
    outcomes : sequence of Verdict or CaseError

    Returns
    -------
    dict
    """
    by_status = Counter(o.status for o in outcomes)
    good = sum(1 for o in outcomes if o.as_expected)
    out = {"claims": len(outcomes), "as_expected": good, "not_as_expected": len(outcomes) - good}
    out.update({s: by_status.get(s, 0) for s in _STATUSES})
    return out


def _fmt_num(v: float | None) -> str:
    if v is None:
        return "—"
    return f"{v:g}"


def _fmt_seconds(s: float) -> str:
    return f"{s:.1f}"


def jsonable(obj: Any, digits: int | None = None, nonfinite_null: bool = False) -> Any:
    """``obj`` for strict JSON: nested dicts (keys as strings), lists and tuples,
    numpy arrays and scalars as Python values; a non-finite float becomes its repr
    (``'inf'``), or ``None`` with ``nonfinite_null``.  With ``digits`` floats are
    rounded to that many significant digits (keeps large files small)."""
    if isinstance(obj, float):
        if not math.isfinite(obj):
            return None if nonfinite_null else json_float(obj)
        return float(f"{obj:.{digits}g}") if digits is not None else obj
    if isinstance(obj, dict):
        return {str(k): jsonable(v, digits, nonfinite_null) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v, digits, nonfinite_null) for v in obj]
    if hasattr(obj, "tolist") and callable(obj.tolist):  # numpy arrays and scalars
        return jsonable(obj.tolist(), digits, nonfinite_null)
    if hasattr(obj, "item") and callable(obj.item):
        return jsonable(obj.item(), digits, nonfinite_null)
    return obj


# ---------------------------------------------------------------------------
# the rows
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class _Row:
    loaded: LoadedCase
    outcome: Outcome
    slug: str
    witness_file: str | None  # relative to the report folder
    latex: str
    bound_key: int            # index into the distinct bounds

    @property
    def case(self) -> Any:
        return self.loaded.case

    @property
    def claim(self) -> Claim:
        return self.loaded.case.claim

    @property
    def source(self) -> str:
        return f"{self.loaded.source}::{self.loaded.index}"


def _claim_latex(claim: Claim, net: Any) -> str:
    try:
        return claim.latex(net)
    except Exception as exc:  # a report must not die on one bad bound; say so instead
        return f"% LaTeX unavailable: {type(exc).__name__}: {exc}"


def _build_rows(results: Sequence[tuple[LoadedCase, Outcome]]
                ) -> tuple[list[_Row], list[tuple[Claim, str, list[int]]]]:
    rows: list[_Row] = []
    bounds: list[tuple[Claim, str, list[int]]] = []
    bound_index: dict[tuple[str, str, str, str], int] = {}
    taken: set[str] = set()
    for k, (loaded, outcome) in enumerate(results):
        if not isinstance(loaded, LoadedCase):
            raise TypeError(f"results[{k}] must be (LoadedCase, Verdict); got {type(loaded).__name__}")
        if not isinstance(outcome, (Verdict, CaseError, MomentVerdict)):
            raise TypeError(f"results[{k}]: outcome must be a Verdict or CaseError; got {type(outcome).__name__}")
        base = case_slug(loaded)
        slug, n = base, 2
        while slug in taken:
            slug, n = f"{base}-{n}", n + 1
        taken.add(slug)
        claim = loaded.case.claim
        latex = _claim_latex(claim, loaded.case.net)
        key = (claim.name, claim.quantity, claim.expect, latex)
        if key not in bound_index:
            bound_index[key] = len(bounds)
            bounds.append((claim, latex, []))
        bounds[bound_index[key]][2].append(k)
        wfile = (f"witnesses/{slug}.json" if outcome.status in _WITNESS_STATUSES and outcome.witness is not None
                 else None)
        rows.append(_Row(loaded, outcome, slug, wfile, latex, bound_index[key]))
    return rows, bounds


def _sandwich(o: Outcome) -> tuple[str, str] | None:
    """``("[lower, upper]", "[bound/upper, bound/lower]")`` of a proved verdict
    (:class:`symlip.prove.ProvedVerdict`), else None."""
    cert = getattr(o, "certificate", None)
    if cert is None:
        return None
    lo, hi = o.looseness
    return f"[{cert.lower:.6g}, {cert.upper:.6g}]", f"[{lo:.4g}, {hi:.4g}]"


def _ratio_text(o: Outcome) -> str:
    return "—" if isinstance(o, CaseError) else format_ratio(o.best_ratio)


def _strategy_table(rows: Sequence[_Row]) -> list[dict[str, Any]]:
    """Per strategy: in how many cases it ran, produced the best ratio, its mean
    best ratio (finite values), evaluations and seconds."""
    names = list(STRATEGIES)
    for r in rows:
        if isinstance(r.outcome, Verdict):
            for s in list(r.outcome.strategies) + [r.outcome.strategy]:
                if s and s not in names:
                    names.append(s)
    table = []
    for s in names:
        ran = [r.outcome.strategies[s] for r in rows if isinstance(r.outcome, Verdict) and s in r.outcome.strategies]
        best = sum(1 for r in rows if isinstance(r.outcome, Verdict) and r.outcome.strategy == s)
        ratios = [float(st.get("best_ratio", math.nan)) for st in ran]
        finite = [x for x in ratios if math.isfinite(x)]
        table.append({
            "strategy": s, "cases": len(ran), "best_in": best,
            "mean_best_ratio": (sum(finite) / len(finite)) if finite else None,
            "median_best_ratio": _median(finite),
            "evaluations": int(sum(float(st.get("evaluations", 0)) for st in ran)),
            "seconds": round(sum(float(st.get("seconds", 0.0)) for st in ran), 3),
        })
    return table


def _median(values: Sequence[float]) -> float | None:
    if not values:
        return None
    v = sorted(values)
    k = len(v) // 2
    return v[k] if len(v) % 2 else 0.5 * (v[k - 1] + v[k])


def _reproduce_command(rows: Sequence[_Row], budget: float, seed: int, max_evals: int | None) -> str:
    sources = list(dict.fromkeys(r.loaded.source for r in rows))
    return reproduce_command(sources, budget, seed, max_evals)


def reproduce_command(paths: Sequence[str], budget: float, seed: int, max_evals: int | None = None) -> str:
    """The ``symlip check`` command line for ``paths`` and the given budgets.

    Parameters
    ----------
    paths : sequence of str
        Catalogue files or folders (quoted for a POSIX shell where needed).
    budget : float
        Seconds per case.
    seed : int
    max_evals : int, optional

    Returns
    -------
    str
    """
    def quote(p: str) -> str:
        return p if re.fullmatch(r"[A-Za-z0-9_./:=+-]+", p) else "'" + p.replace("'", "'\\''") + "'"

    cmd = ["symlip", "check", *map(quote, paths), "--budget", f"{budget:g}", "--seed", str(seed)]
    if max_evals is not None:
        cmd += ["--max-evals", str(max_evals)]
    return " ".join(cmd)


def status_counts(counts: dict[str, int]) -> str:
    """``"14 violated, 45 survived, ..."`` (lower-bound statuses only when present)."""
    parts = [f"{counts['violated']} violated", f"{counts['survived']} survived"]
    parts += [f"{counts[s]} {s}" for s in ("proved", "witnessed", "refuted") if counts.get(s)]
    parts += [f"{counts['inconclusive']} inconclusive", f"{counts['error']} errors"]
    return ", ".join(parts)


def _summary_sentence(counts: dict[str, int], seconds: float, budget: float, seed: int,
                      max_evals: int | None) -> str:
    return (f"{counts['claims']} claims: {counts['as_expected']} as expected, "
            f"{counts['not_as_expected']} not as expected "
            f"({status_counts(counts)}); "
            f"{seconds:.1f} s in total, budget {budget:g} s per case, seed {seed}"
            + (f", at most {max_evals} evaluations per case" if max_evals is not None else ""))


# ---------------------------------------------------------------------------
# Markdown
# ---------------------------------------------------------------------------
def _strip_status(message: str, status: str) -> str:
    """``"survived: best ratio ..."`` -> ``"best ratio ..."`` (the status is shown already)."""
    return message[len(status) + 1:].strip() if message.startswith(status + ":") else message


def _md_cell(text: Any) -> str:
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _md_code(text: str) -> str:
    return f"`{text}`" if "`" not in text else f"`` {text} ``"


def _markdown(rows: list[_Row], bounds: list[tuple[Claim, str, list[int]]], counts: dict[str, int],
              strategies: list[dict[str, Any]], budget: float, seed: int, max_evals: int | None,
              seconds: float, command: str) -> str:
    ok = counts["not_as_expected"] == 0
    out = ["# symlip check", ""]
    out.append(f"**{'PASS' if ok else 'FAIL'}** — "
               + _summary_sentence(counts, seconds, budget, seed, max_evals) + ".")
    out += ["", "Reproduce:", "", "```sh", command, "```", ""]
    out.append("A claim is *as expected* when a `holds` claim survives and a `fails` claim (a mutant) is "
               "violated, i.e. a witness with value > bound confirmed by mpmath at two precisions. "
               "*Best ratio* is the largest witnessed value / bound. A lower-bound claim (docs/theory.md §4, "
               "marked ≥) is as expected when it is *witnessed* (the §4 construction inside the ball reaches "
               "it at two precisions) or, for a mutant, *refuted* (the §3 upper bound on the region is "
               "below it); its best ratio is witnessed value / claimed lower bound. An SGD-moment claim "
               "(docs/theory.md §7, strategy monte-carlo) is a statistical test of |observed - predicted| <= "
               "rel_tol |predicted| on real SGD steps at false-alarm rate α per run; it is *violated* only "
               "when an independent second run also rejects, and its ratio is |obs - pred| / (rel_tol |pred| "
               "+ z SE), above 1 exactly when the test rejects.")
    out.append("")
    bad = [r for r in rows if not r.outcome.as_expected]
    if bad:
        out += ["## Not as expected", ""]
        for r in bad:
            out.append(f"- {_md_code(r.source)} — {_md_cell(r.case.label)}: expected to "
                       f"{'hold' if r.claim.expect == 'holds' else 'fail'}, got **{r.outcome.status}** — "
                       f"{_md_cell(_strip_status(r.outcome.message, r.outcome.status))}")
        out.append("")

    out += ["## Claims", ""]
    header = ["#", "claim", "source", "architecture", "region", "R", "expect", "status", "best ratio",
              "strategy", "evaluations", "seconds", "as expected"]
    proofs = any(_sandwich(r.outcome) for r in rows)
    if proofs:  # symlip check --prove: the certified sandwich and the bound's looseness
        header[9:9] = ["true constant ∈", "bound/true ∈"]
    out.append("| " + " | ".join(header) + " |")
    out.append("|" + "|".join("---:" if h in ("#", "R", "best ratio", "evaluations", "seconds") else "---"
                              for h in header) + "|")
    for k, r in enumerate(rows, start=1):
        o = r.outcome
        v = o if isinstance(o, (Verdict, MomentVerdict)) else None
        status = f"**{o.status}**" if o.status in ("violated", "refuted", "inconclusive", "error") else o.status
        name = r.claim.name + (" (≥)" if r.claim.direction == "lower" else "")
        cells = [str(k), _md_cell(name), _md_code(r.source), _md_cell(r.case.architecture),
                 _md_cell(r.case.region.describe()), _fmt_num(r.case.R), r.claim.expect, status,
                 _ratio_text(o), v.strategy if v else "—", str(v.evaluations) if v else "—",
                 _fmt_seconds(o.seconds), "✓" if o.as_expected else "✗"]
        if proofs:
            cells[9:9] = list(_sandwich(o) or ("—", "—"))
        out.append("| " + " | ".join(cells) + " |")
    out.append("")

    out += ["## Bounds", ""]
    for claim, latex, idx in bounds:
        out.append(f"### {claim.name}")
        out.append("")
        where = ", ".join(_md_code(rows[i].source) for i in idx)
        out.append(("lower bound on the supremum of " if claim.direction == "lower" else "")
                   + f"`{claim.quantity}`, expected to {'hold' if claim.expect == 'holds' else 'fail'}"
                   + (f"; assumes {', '.join(claim.requires)}" if claim.requires else "")
                   + f". Checked in {where}.")
        out += ["", "```latex", latex, "```", ""]
        if claim.why:
            out += [claim.why, ""]

    out += ["## Violations", ""]
    viol = [r for r in rows if r.outcome.status == "violated"]
    if not viol:
        out += ["None.", ""]
    for r in viol:
        w = r.outcome.witness
        line = (f"- {_md_cell(r.claim.name)} ({_md_code(r.source)}, {_md_cell(r.case.architecture)}, "
                f"{_md_cell(r.case.region.describe())}): ratio {_ratio_text(r.outcome)}, "
                + (f"{r.outcome.confirmed_digits} digits confirmed" if not isinstance(r.outcome, MomentVerdict)
                   else f"statistical: {_md_cell(r.outcome.message)}"))
        if isinstance(w, Witness) and w.value_mp is not None:
            line += f"; value {w.value_mp} > bound {w.bound_mp} at {w.dps} digits"
        if r.witness_file:
            line += f"; witness [{r.witness_file}]({r.witness_file})"
        out.append(line)
    if viol:
        out += ["", "Re-check a witness at 80 digits with `symlip replay <report>/witnesses/<file>.json "
                "--dps 80` (a statistical witness of an SGD-moment claim re-runs its two Monte-Carlo tests).", ""]
    inconc = [r for r in rows if r.outcome.status == "inconclusive"]
    if inconc:
        out += ["### Inconclusive", ""]
        for r in inconc:
            line = (f"- {_md_cell(r.claim.name)} ({_md_code(r.source)}): "
                    f"{_md_cell(_strip_status(r.outcome.message, r.outcome.status))}")
            if r.witness_file:
                line += f"; witness [{r.witness_file}]({r.witness_file})"
            out.append(line)
        out.append("")
    lower = [r for r in rows if r.outcome.status in ("witnessed", "refuted")]
    if lower:
        out += ["## Lower bounds (docs/theory.md §4)", ""]
        for r in lower:
            out.append(f"- {_md_cell(r.claim.name)} ({_md_code(r.source)}, {_md_cell(r.case.architecture)}, "
                       f"{_md_cell(r.case.region.describe())}): {_md_cell(r.outcome.message)}")
        out.append("")
    errors = [r for r in rows if r.outcome.status == "error"]
    if errors:
        out += ["## Errors", ""]
        for r in errors:
            out.append(f"- {_md_cell(r.claim.name)} ({_md_code(r.source)}): {_md_cell(r.outcome.message)}")
        out.append("")

    out += ["## Strategies", "",
            "How often each strategy produced the witness with the best ratio (*best in*), and the mean "
            "and median, over the cases it ran on, of the best ratio it reached by itself (the mean is "
            "pulled up by mutants far above their bound).", "",
            "| strategy | ran on | best in | mean best ratio | median best ratio | evaluations | seconds |",
            "|---|---:|---:|---:|---:|---:|---:|"]
    for s in strategies:
        mean, med = ("—" if s[k] is None else format_ratio(s[k]) for k in ("mean_best_ratio", "median_best_ratio"))
        out.append(f"| {s['strategy']} | {s['cases']} | {s['best_in']} | {mean} | {med} | {s['evaluations']} | "
                   f"{s['seconds']:.1f} |")
    out.append("")
    return "\n".join(out)


# ---------------------------------------------------------------------------
# LaTeX
# ---------------------------------------------------------------------------
_TEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
_TEX_UNICODE = {
    "α": r"\alpha", "β": r"\beta", "γ": r"\gamma", "δ": r"\delta", "ε": r"\varepsilon", "ζ": r"\zeta",
    "η": r"\eta", "θ": r"\theta", "κ": r"\kappa", "λ": r"\lambda", "μ": r"\mu", "ν": r"\nu", "ξ": r"\xi",
    "π": r"\pi", "ρ": r"\rho", "σ": r"\sigma", "τ": r"\tau", "φ": r"\varphi", "χ": r"\chi", "ψ": r"\psi",
    "ω": r"\omega", "Γ": r"\Gamma", "Δ": r"\Delta", "Θ": r"\Theta", "Λ": r"\Lambda", "Σ": r"\Sigma",
    "Π": r"\Pi", "Φ": r"\Phi", "Ψ": r"\Psi", "Ω": r"\Omega", "≤": r"\le", "≥": r"\ge", "≠": r"\ne",
    "≈": r"\approx", "↦": r"\mapsto", "→": r"\to", "←": r"\leftarrow", "∇": r"\nabla", "∂": r"\partial",
    "·": r"\cdot", "×": r"\times", "√": r"\surd", "∈": r"\in", "∞": r"\infty", "°": r"^\circ",
    "′": r"'", "‖": r"\|", "∘": r"\circ", "²": r"^2", "³": r"^3", "ᵀ": r"^{\mathsf T}", "±": r"\pm",
    "∑": r"\sum", "∏": r"\prod", "⊙": r"\odot", "⁻": r"^-", "¹": r"^1",
}
_TEX_TEXT_UNICODE = {"–": "--", "—": "---", "…": r"\ldots{}", "“": "``", "”": "''", "’": "'", "‘": "`",
                     "✓": r"$\checkmark$", "✗": r"$\times$", "§": r"\S{}"}


def _tex(text: Any) -> str:
    """Escape text for LaTeX (ASCII specials; common Greek and math symbols as math)."""
    out = []
    for ch in str(text):
        if ch in _TEX_SPECIAL:
            out.append(_TEX_SPECIAL[ch])
        elif ch in _TEX_UNICODE:
            out.append(f"${_TEX_UNICODE[ch]}$")
        elif ch in _TEX_TEXT_UNICODE:
            out.append(_TEX_TEXT_UNICODE[ch])
        else:
            out.append(ch)
    return "".join(out).replace("$$", "")


def _tex_math_blocks(latex: str) -> list[str]:
    """Split a claim's LaTeX (comment lines ``%`` between formulas) into TeX lines:
    comments stay comments, each formula goes into ``\\[ ... \\]``."""
    lines: list[str] = []
    chunk: list[str] = []

    def flush() -> None:
        body = "\n".join(chunk).strip()
        # a callable's name in \text{...} may hold "_", an error in text mode
        body = re.sub(r"\\text\{([^{}]*)\}", lambda m: r"\text{" + re.sub(r"(?<!\\)_", r"\\_", m.group(1)) + "}",
                      body)
        if body:
            lines.extend([r"\[", body, r"\]"])
        chunk.clear()

    for line in latex.splitlines():
        if line.lstrip().startswith("%"):
            flush()
            lines.append(line)
        else:
            chunk.append(line)
    flush()
    return lines


def _latex(rows: list[_Row], bounds: list[tuple[Claim, str, list[int]]], counts: dict[str, int],
           budget: float, seed: int, max_evals: int | None, seconds: float, command: str) -> str:
    out = [
        r"% symlip check report (generated; compile with pdflatex, xelatex or lualatex)",
        r"\documentclass[10pt]{article}",
        r"\usepackage[utf8]{inputenc}",
        r"\usepackage[T1]{fontenc}",
        r"\usepackage[margin=1.5cm,landscape]{geometry}",
        r"\usepackage{amsmath,amssymb,longtable,booktabs}",
        r"\begin{document}",
        r"\section*{symlip check}",
        _tex(_summary_sentence(counts, seconds, budget, seed, max_evals)) + ".",
        "",
        r"\noindent Reproduce: \texttt{" + _tex(command) + "}",
        "",
        r"{\small",
        r"\begin{longtable}{rlllllrllrlrrc}",
        r"\toprule",
        r"\# & claim & source & architecture & region & $R$ & expect & status & best ratio & strategy "
        r"& evaluations & seconds & ok \\",
        r"\midrule",
        r"\endhead",
    ]
    for k, r in enumerate(rows, start=1):
        o = r.outcome
        v = o if isinstance(o, (Verdict, MomentVerdict)) else None
        cells = [str(k), _tex(r.claim.name), r"\texttt{" + _tex(r.source) + "}", _tex(r.case.architecture),
                 _tex(r.case.region.describe()), _tex(_fmt_num(r.case.R)), r.claim.expect, _tex(o.status),
                 _tex(_ratio_text(o)), _tex(v.strategy) if v else "--",
                 str(v.evaluations) if v else "--", _fmt_seconds(o.seconds),
                 r"$\checkmark$" if o.as_expected else r"$\times$"]
        out.append(" & ".join(cells) + r" \\")
    out += [r"\bottomrule", r"\end{longtable}", r"}", "", r"\section*{Bounds}"]
    for claim, latex, idx in bounds:
        out.append(r"\subsection*{" + _tex(claim.name) + "}")
        out.append(r"\texttt{" + _tex(claim.quantity) + "}, expected to "
                   + ("hold" if claim.expect == "holds" else "fail") + ". Checked in "
                   + ", ".join(r"\texttt{" + _tex(rows[i].source) + "}" for i in idx) + ".")
        out += _tex_math_blocks(latex)
        if claim.why:
            out += ["", _tex(claim.why), ""]
    out += [r"\end{document}", ""]
    return "\n".join(out)


# ---------------------------------------------------------------------------
# JSON
# ---------------------------------------------------------------------------
def _case_dict(r: _Row) -> dict[str, Any]:
    from symlip.search.witness import region_spec

    case = r.case
    try:
        region = region_spec(case.region)
    except Exception:  # pragma: no cover - a region the witness module cannot encode
        region = {"kind": case.region.kind}
    return {
        "slug": r.slug, "source": r.loaded.source, "index": r.loaded.index, "label": case.label,
        "claim": r.claim.name, "quantity": r.claim.quantity, "expect": r.claim.expect,
        "assumptions": list(r.claim.requires), "why": r.claim.why, "latex": r.latex,
        "architecture": case.architecture, "widths": list(case.net.widths),
        "activation": case.net.activation.name, "region": case.region.describe(), "region_spec": region,
        "R": case.R, "Y": case.Y, "weight": case.weight,
        "status": r.outcome.status, "as_expected": bool(r.outcome.as_expected),
        "witness_file": r.witness_file, "verdict": r.outcome.to_dict(),
    }


def dumps(obj: Any, level: int = 0) -> str:
    """Strict JSON, indented by one space per level, with arrays of numbers (and
    arrays of such arrays) on one line each: readable, and a parameter vector
    is one line of a diff instead of hundreds."""
    pad, inner = " " * level, " " * (level + 1)
    if isinstance(obj, dict):
        if not obj:
            return "{}"
        items = [f"{inner}{json.dumps(k, ensure_ascii=False)}: {dumps(v, level + 1)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(obj, list):
        if _flat(obj):
            return json.dumps(obj, ensure_ascii=False, allow_nan=False)
        return "[\n" + ",\n".join(inner + dumps(v, level + 1) for v in obj) + "\n" + pad + "]"
    return json.dumps(obj, ensure_ascii=False, allow_nan=False)


def _flat(values: list) -> bool:
    scalar = (int, float, str, bool, type(None))
    return all(isinstance(v, scalar) or (isinstance(v, list) and all(isinstance(u, scalar) for u in v))
               for v in values)


# ---------------------------------------------------------------------------
# the entry point
# ---------------------------------------------------------------------------
def write_check_report(results: Sequence[tuple[LoadedCase, Outcome]], out_dir: str | Path, budget: float,
                       seed: int, seconds: float, *, max_evals: int | None = None,
                       command: str | None = None) -> dict[str, Path]:
    """Write the report of a check into ``out_dir``.

    Parameters
    ----------
    results : sequence of (LoadedCase, Verdict or CaseError)
        One outcome per case, in the order to report them.
    out_dir : str or Path
        Folder of the report (created if needed).
    budget : float
        Seconds per case the check was given (before ``Case.weight``).
    seed : int
        The check's seed.
    seconds : float
        Wall-clock seconds of the whole check.
    max_evals : int, optional
        The per-case evaluation budget, if one was given.
    command : str, optional
        The command that reproduces the run (default: built from the cases'
        source files, ``budget``, ``seed`` and ``max_evals``).

    Returns
    -------
    dict of str to Path
        ``"md"``, ``"json"`` and ``"tex"`` for ``check.md``, ``check.json`` and
        ``check.tex``, and ``"witness:<slug>"`` for each witness file
        ``witnesses/<slug>.json`` (one per ``violated`` or ``inconclusive``
        verdict), and ``"certificate:<slug>"`` for each certificate
        ``certificates/<slug>.json`` (``symlip check --prove``).  Witness files
        of an earlier report in the same folder that this one does not rewrite
        are removed, so the folder matches the report.

    Raises
    ------
    TypeError
        When an entry of ``results`` is not a (LoadedCase, Verdict/CaseError) pair.
    """
    results = list(results)
    for k, item in enumerate(results):
        if not (isinstance(item, (tuple, list)) and len(item) == 2):
            raise TypeError(f"results[{k}] must be a (LoadedCase, Verdict) pair; got {type(item).__name__}")
    rows, bounds = _build_rows(results)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    counts = summary_counts([r.outcome for r in rows])
    strategies = _strategy_table(rows)
    cmd = command if command is not None else _reproduce_command(rows, budget, seed, max_evals)

    written: dict[str, Path] = {}
    wdir = out / "witnesses"
    keep: set[str] = set()
    for r in rows:
        if r.witness_file is not None:
            path = r.outcome.witness.save(out / r.witness_file)
            written[f"witness:{r.slug}"] = path
            keep.add(path.name)
    _remove_stale_witnesses(wdir, keep)
    keep = set()
    for r in rows:
        if getattr(r.outcome, "certificate", None) is not None:  # symlip check --prove
            path = r.outcome.certificate.save(out / "certificates" / f"{r.slug}.json")
            written[f"certificate:{r.slug}"] = path
            keep.add(path.name)
    _remove_stale_witnesses(out / "certificates", keep)

    md = _markdown(rows, bounds, counts, strategies, budget, seed, max_evals, seconds, cmd)
    written["md"] = out / "check.md"
    written["md"].write_text(md, encoding="utf-8")

    data = {
        "format": _FORMAT,
        "summary": {**counts, "ok": counts["not_as_expected"] == 0, "seconds": round(float(seconds), 3),
                    "budget": budget, "seed": seed, "max_evals": max_evals, "command": cmd},
        "strategies": strategies,
        "cases": [_case_dict(r) for r in rows],
    }
    written["json"] = out / "check.json"
    written["json"].write_text(dumps(jsonable(data)) + "\n", encoding="utf-8")

    written["tex"] = out / "check.tex"
    written["tex"].write_text(_latex(rows, bounds, counts, budget, seed, max_evals, seconds, cmd),
                              encoding="utf-8")
    write_index(out)
    return {k: written[k] for k in ("md", "json", "tex")} | {k: v for k, v in written.items()
                                                              if k.startswith(("witness:", "certificate:"))}


def _remove_stale_witnesses(wdir: Path, keep: set[str]) -> None:
    """Delete witness files (format ``symlip-witness/1``) in ``wdir`` not in ``keep``;
    other files are left alone."""
    if not wdir.is_dir():
        return
    for f in sorted(wdir.glob("*.json")):
        if f.name in keep:
            continue
        try:
            is_witness = json.loads(f.read_text(encoding="utf-8")).get("format", "").startswith("symlip-witness/")
        except (OSError, ValueError, AttributeError):
            is_witness = False
        if is_witness:
            f.unlink()
