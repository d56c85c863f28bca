"""The index of a report folder (``README.md``), the record of which command made each
report and when (``runs.json``), the quick-run marking, and the reference runs.

The committed reference reports live in ``reports/``; every command writes where
``--out`` says (default ``symlip-out/<command>``), so following the README never
rewrites them.  :data:`REFERENCE_RUNS` are the command lines that regenerate them
(``python -m symlip.report.regenerate``).
"""
from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Iterable

__all__ = ["QUICK_NOTE", "REFERENCE_RUNS", "DEFAULT_OUT", "write_index", "record_run", "refuse_quick_over_reference",
           "mark_quick"]

#: the line (Markdown) and field value (JSON ``"note"``) that marks a quick run's files
QUICK_NOTE = "quick run: not a reference"

#: the default output folder of the commands (relative to the working directory)
DEFAULT_OUT = "symlip-out"

#: (name, argv after ``symlip``) of every reference report in ``reports/``, in index order
REFERENCE_RUNS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("check", ("check", "proofs/", "--out", "reports")),
    ("growth relu lip_f", ("growth", "--activation", "relu", "--depth", "4", "--quantity", "lip_f", "--width", "3",
                           "--out", "reports")),
    ("growth tanh lip_f", ("growth", "--activation", "tanh", "--depth", "4", "--quantity", "lip_f", "--out",
                           "reports")),
    ("growth tanh lip_grad", ("growth", "--activation", "tanh", "--depth", "4", "--quantity", "lip_grad", "--out",
                              "reports")),
    ("cdnn", ("demo", "cdnn", "--out", "reports")),
    ("stepsize", ("demo", "stepsize", "--out", "reports")),
    ("dynamics", ("dynamics", "--out", "reports")),
    ("peers", ("peers", "--out", "reports")),
    ("bench", ("bench", "--out", "reports/bench.json")),
    ("tightness", ("tightness", "--out", "reports")),
)

#: (glob, title, what it shows), in the order of the index
_INDEX = (
    ("check.md", "Claim check", "every claim of the catalogue attacked by the falsifier (docs/theory.md §3–§6); "
     "also check.json, check.tex and the witness files in witnesses/"),
    ("growth_*.md", "Growth", "upper bound vs witnessed lower bound on balls |θ| ≤ r and the fitted "
     "log-log slopes (docs/theory.md §4: no global bound)"),
    ("cdnn.md", "Continuously deep networks", "the N-convergence table: Euler-network bound, ODE bound and "
     "the falsifier's best ratio (docs/theory.md §5)"),
    ("stepsize.md", "Step sizes", "gradient descent with the local step-size rule beside fixed steps: loss "
     "curves and steps to a target loss (docs/theory.md §6)"),
    ("dynamics.md", "Lipschitz dynamics under SGD", "predicted vs observed drift and diffusion "
     "(docs/theory.md §7)"),
    ("peers.md", "Peer certificates", "other tools' Lipschitz constants (AutoLip product, ECLipsE, "
     "ECLipsE-Fast, Gen-Local) beside symlip's best attack lower bound on seeded networks, with their "
     "failure signals"),
    ("tightness.md", "Tightness", "how loose U1 and U2 are: the certified interval of the true constant and "
     "U / true on small architectures (also tightness.tex)"),
    ("audit.md", "Audit", "claimed constants of one model attacked by symlip"),
    ("bench.json", "Benchmarks", "derive/compile times, kernel throughput, mpmath agreement, falsifier "
     "figures"),
)

_RUNS = "runs.json"


def _read_runs(out: Path) -> dict[str, dict[str, str]]:
    try:
        data = json.loads((out / _RUNS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in data.items() if isinstance(v, dict)} if isinstance(data, dict) else {}


def record_run(out_dir: str | Path, files: Iterable[str | Path], command: str, quick: bool = False,
               date: str | None = None) -> Path:
    """Record in ``out_dir/runs.json`` that ``command`` wrote ``files`` (their names) on
    ``date`` (default today, UTC; ISO format) and whether it was a quick run."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    runs = _read_runs(out)
    day = date or datetime.datetime.now(datetime.timezone.utc).date().isoformat()
    for f in files:
        runs[Path(f).name] = {"command": command, "date": day, **({"note": QUICK_NOTE} if quick else {})}
    path = out / _RUNS
    path.write_text(json.dumps(dict(sorted(runs.items())), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def refuse_quick_over_reference(out_dir: str | Path, names: Iterable[str]) -> None:
    """``ValueError`` when a quick run would replace a full report ``names`` in ``out_dir``
    (a report whose ``runs.json`` entry is not marked quick, or that has no entry)."""
    out = Path(out_dir)
    runs = _read_runs(out)
    for name in names:
        if (out / name).exists() and runs.get(name, {}).get("note") != QUICK_NOTE:
            raise ValueError(f"{str(out / name)!r} is a full report; a quick run would replace it: "
                             "give another --out")


def write_index(out_dir: str | Path = "reports") -> Path:
    """Write ``README.md`` in a report folder: a link to every report present, with
    what it shows, the command that made it and when (from ``runs.json``), quick
    runs marked, PNG plots shown inline.

    Returns
    -------
    Path
        The index file.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    runs = _read_runs(out)
    lines = ["# symlip reports", "",
             "Written by the `symlip` commands; this index is rewritten by each of them. Each report names "
             "the command that made it and when. The mathematics is in docs/theory.md (sections cited per "
             "report).", ""]
    if out.resolve().name == "reports":
        lines += ["These are the reference reports. Regenerate them all with "
                  "`python -m symlip.report.regenerate` (one command after the other, as listed by "
                  "`python -m symlip.report.regenerate --list`).", ""]
    found = False
    for pattern, title, what in _INDEX:
        files = sorted(out.glob(pattern))
        if not files:
            continue
        found = True
        lines += [f"## {title}", "", f"{what}.", ""]
        for f in files:
            lines.append(f"- [{f.name}]({f.name})" + _index_summary(f))
            run = runs.get(f.name)
            if run:
                lines.append(f"  made by `{run.get('command', '?')}` on {run.get('date', '?')}"
                             + (f" (**{QUICK_NOTE}**)" if run.get("note") == QUICK_NOTE else ""))
            png = f.with_suffix(".png")
            if png.exists():
                lines += ["", f"  ![{f.stem}]({png.name})", ""]
        lines.append("")
    if not found:
        lines += ["No reports yet: run `symlip check proofs/`.", ""]
    path = out / "README.md"
    path.write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")
    return path


def _index_summary(f: Path) -> str:
    """The first bold line of a Markdown report (its verdict), as `` — text``."""
    if f.suffix != ".md":
        return ""
    for line in f.read_text(encoding="utf-8").splitlines():
        if line.startswith("**") and QUICK_NOTE not in line:
            text = line.strip().strip("*").replace("**", "")
            return " — " + (text if len(text) <= 200 else text[:197] + "...")
    return ""


def mark_quick(markdown: str) -> str:
    """``markdown`` with the line ``> **quick run: not a reference**`` after its title."""
    head, sep, rest = markdown.partition("\n")
    return f"{head}\n\n> **{QUICK_NOTE}**\n{sep}{rest}" if sep else f"{head}\n\n> **{QUICK_NOTE}**\n"
