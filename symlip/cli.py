"""The ``symlip`` command line (also ``python -m symlip``).

Commands
--------
derive      print a bound of MATH.md §3 (text or LaTeX), or its value on a box
activation  print an activation's constants S0, S1, S2, c0 with provenance
bench       run the benchmarks and write reports/bench.json
check       attack every claim of catalogue files/folders (proofs/); write the report
            (reports/check.md, .json, .tex, witnesses/*.json); exit 0 iff every outcome
            is as expected (holds -> survived, fails -> violated), else 1
replay      re-evaluate a witness file at high precision from its data alone (no code runs unless
            --trust); exit 0 iff it still violates, 1 when it does not, is inconclusive or the
            file disagrees with itself (tampered), 2 when its claim is code and --trust is missing
growth      upper bound (U1/U2) and witnessed lower bound (MATH.md §4) on balls |θ| <= r
            over radii; fitted log-log slopes; table, Markdown, JSON and PNG in reports/;
            exit 0 iff both slopes are within 0.05 of m-1 (lip_f) or 2m-3 (lip_grad)
demo        demonstrations that write reports: ``stepsize`` (MATH.md §6) and ``cdnn``
            (MATH.md §5, the N-convergence table)
dynamics    the Lipschitz bound under SGD (MATH.md §7): one-step moments vs Monte-Carlo over η,
            trajectories with predicted bands, factor studies; reports/dynamics.md, .json, *.png;
            exit 0 iff the one-step targets hold (5% at the smallest η, slope ~2)
audit       check other tools' input-Lipschitz constants of a torch.save'd network (product of
            spectral norms, ECLipsE, ECLipsE-Fast, ECLipsE-Gen-Local, stated values) against
            symlip's best lower bound on |x| <= R; table on stdout and in reports/audit.md, .json,
            audit-witnesses/*.json; exit 0 when every claim made was checked (violated or
            survived), 1 when a tool failed or a check was inconclusive
peers       the peer comparison: every tool on a fixed set of seeded networks beside symlip's
            lower bound; reports/peers.md, .json; exit 0 iff no tool's claim was violated

Bad arguments exit with code 2 and one line on stderr.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from symlip.bounds.symbolic import MAX_DEPTH
from symlip.search.falsify import MAX_BUDGET, MAX_DPS, MAX_EVALS
from symlip.bounds.lower import MAX_POINTS

__all__ = ["main"]


class _UsageError(Exception):
    """A bad command-line argument: one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not usage + message
        if message.startswith("argument --") and message.endswith(": expected one argument"):
            opt = message[len("argument "):].split(":")[0].split("/")[0]
            message += f" (a value starting with '-' is written {opt}=VALUE, e.g. {opt}=-1)"
        raise _UsageError(f"symlip: error: {message} (see '{self.prog} --help')")


#: caps on the size arguments without an API counterpart (the others: MAX_DEPTH,
#: symlip.search.falsify.MAX_BUDGET, MAX_EVALS, MAX_DPS and symlip.bounds.lower.MAX_POINTS)
MAX_WIDTH = 1_000_000       # one layer's width


def _fields(text: str, expected: str) -> list[str]:
    """The comma-separated fields of ``text``; an empty or blank field is an error."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"empty value {text!r}; expected {expected}")
    fields = text.split(",")
    if any(not f.strip() for f in fields):
        raise argparse.ArgumentTypeError(f"empty field in {text!r}; expected {expected}")
    return [f.strip() for f in fields]


def _floats(text: str) -> list[float]:
    """Comma-separated finite numbers (no empty fields, no nan or inf)."""
    expected = "comma-separated finite numbers such as 2 or 2,1.5"
    out = []
    for f in _fields(text, expected):
        try:
            v = float(f)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{f!r} in {text!r} is not a number; expected {expected}") from None
        if not math.isfinite(v):
            raise argparse.ArgumentTypeError(f"{f!r} in {text!r} is not finite; expected {expected}")
        out.append(v)
    return out


def _ints(text: str) -> list[int]:
    """Comma-separated integers from 1 to :data:`MAX_WIDTH` (layer widths)."""
    expected = f"comma-separated positive integers such as 3,16,1 (each at most {MAX_WIDTH})"
    out = []
    for f in _fields(text, expected):
        try:
            v = int(f)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{f!r} in {text!r} is not an integer; expected {expected}") from None
        if not 1 <= v <= MAX_WIDTH:
            raise argparse.ArgumentTypeError(f"{f!r} in {text!r} is out of range; expected {expected}")
        out.append(v)
    return out


def _positive_float(text: str, expected: str, bad_value: str | None = None) -> float:
    """``float(text)`` when finite and > 0, else an ArgumentTypeError ``expected ..., got ...``
    (``bad_value`` words the error for a number that is not positive and finite)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"{bad_value or 'expected ' + expected}, got {text!r}")
    return value


def _positive_seconds(text: str) -> float:
    value = _positive_float(text, "a positive number of seconds")
    if value > MAX_BUDGET:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds up to {MAX_BUDGET:g} "
                                         f"(one day), got {text!r}")
    return value


def _radius(text: str) -> float | None:
    """A positive input radius, or None for 'inf'/'all' (all of R^d)."""
    if text.strip().lower() == "all":
        return None
    try:
        if float(text) == math.inf:
            return None
    except ValueError:
        pass  # worded by _positive_float
    return _positive_float(text, "a positive radius or 'inf'")


def _tool(text: str) -> str:
    from symlip.peers import TOOLS

    name = text.strip()
    if name.lower() in TOOLS:
        return name.lower()
    _positive_float(name, f"{', '.join(TOOLS)} or a number", "a claimed constant must be a finite number > 0")
    return name


def _int_at_least(low: int, high: int | None = None) -> Callable[[str], int]:
    allowed = f"an integer >= {low}" + ("" if high is None else f" and <= {high}")

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {allowed}, got {text!r}") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"expected {allowed}, got {text!r}")
        return value

    parse.__name__ = allowed
    return parse


def _params(items: Sequence[str]) -> dict[str, float]:
    out = {}
    for item in items:
        key, sep, val = item.partition("=")
        if not sep or not key.strip():
            raise _UsageError(f"symlip: error: --param expects NAME=VALUE, got {item!r}")
        try:
            out[key.strip()] = float(val)
        except ValueError:
            raise _UsageError(f"symlip: error: --param {key.strip()} expects a number, got {val!r}") from None
    return out


def _build_parser() -> _Parser:
    from symlip.bounds.symbolic import QUANTITIES

    p = _Parser(prog="symlip", description="Derive, compile and attack Lipschitz bounds of neural networks.")
    p.add_argument("--version", action="version", version=_version())
    sub = p.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")

    d = sub.add_parser("derive", help="print a bound (MATH.md §3) or its value on a region")
    d.add_argument("--widths", type=_ints, required=True, help="d_0,...,d_m, e.g. 3,16,16,1")
    d.add_argument("--activation", default="tanh", help="registry name or expression in t (default tanh)")
    d.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="activation parameter, e.g. alpha=0.1")
    d.add_argument("--quantity", default="lip_f", choices=list(QUANTITIES))
    d.add_argument("--latex", action="store_true", help="print LaTeX")
    d.add_argument("--omega", type=_floats, help="spectral-norm bounds per layer (or one for all)")
    d.add_argument("--beta", type=_floats, help="bias-norm bounds per layer (or one for all)")
    d.add_argument("--R", type=float, default=1.0, help="input radius |x| <= R (default 1)")
    d.add_argument("--Y", type=float, default=None, help="target radius |y| <= Y (lip_loss_grad)")
    d.add_argument("--allow-numeric", action="store_true",
                   help="let the bound rest on activation constants that are only numeric estimates "
                        "(marked 'not proven'); by default such a bound is refused")

    a = sub.add_parser("activation", help="print S0, S1, S2, c0 with provenance")
    a.add_argument("spec", help="registry name (tanh, gelu, ...) or expression in t")
    a.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")

    b = sub.add_parser("bench", help="run the benchmarks and write reports/bench.json")
    b.add_argument("--quick", action="store_true", help="small sizes (seconds, for smoke tests)")
    b.add_argument("--out", default="reports/bench.json", help="JSON output path")

    c = sub.add_parser("check", help="attack the claims of catalogue files/folders and write a report")
    c.add_argument("paths", nargs="+", metavar="PATH", help="catalogue .py files or folders (defining CASES)")
    c.add_argument("--budget", type=_positive_seconds, default=3.0, metavar="SECONDS",
                   help="search seconds per case, times the case's weight (default 3)")
    c.add_argument("--seed", type=_int_at_least(0), default=0, metavar="N", help="seed (default 0)")
    c.add_argument("--max-evals", type=_int_at_least(10, MAX_EVALS), default=None, metavar="N",
                   help="evaluation budget per case (makes the search exactly reproducible)")
    c.add_argument("--report", default="reports", metavar="DIR",
                   help="report folder: check.md, check.json, check.tex, witnesses/ (default reports)")
    c.add_argument("--json", default=None, metavar="FILE", help="also write the JSON report to FILE")
    c.add_argument("--quiet", action="store_true", help="no progress line per claim")
    c.add_argument("--allow-numeric", action="store_true",
                   help="let bounds rest on activation constants that are only numeric estimates (verdicts "
                        "marked 'not proven'); by default such a claim is an error")

    g = sub.add_parser("growth", help="upper vs witnessed lower bound on balls |θ| <= r; log-log slopes")
    g.add_argument("--activation", default="tanh", help="registry name or expression in t (default tanh)")
    g.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
    g.add_argument("--depth", type=_int_at_least(1, MAX_DEPTH), default=4, metavar="M", help="depth m (default 4)")
    g.add_argument("--quantity", default="lip_f", choices=["lip_f", "lip_grad"])
    g.add_argument("--width", type=_int_at_least(1, MAX_WIDTH), default=1, metavar="N",
                   help="hidden width (default 1: the scalar chain); input width too")
    g.add_argument("--R", type=float, default=1.0, help="input radius (default 1)")
    g.add_argument("--radii", type=_floats, default=None, metavar="R0,R1",
                   help="smallest and largest radius (default 1,1e4), at least two decades apart")
    g.add_argument("--points", type=_int_at_least(3, MAX_POINTS), default=17, metavar="N",
                   help="radii (default 17)")
    g.add_argument("--out", default="reports", metavar="DIR", help="report folder (default reports)")

    dm = sub.add_parser("demo", help="demonstrations that write reports (stepsize, cdnn)")
    dm.add_argument("name", choices=["stepsize", "cdnn"], help="stepsize: MATH.md §6; cdnn: MATH.md §5")
    dm.add_argument("--seed", type=_int_at_least(0), default=0, metavar="N", help="seed (default 0)")
    dm.add_argument("--quick", action="store_true", help="small sizes (seconds, for smoke tests)")
    dm.add_argument("--out", default="reports", metavar="DIR", help="report folder (default reports)")

    dy = sub.add_parser("dynamics", help="SGD dynamics of the Lipschitz bound: predicted vs observed (MATH.md §7)")
    dy.add_argument("--quick", action="store_true", help="small sizes (seconds, for CI)")
    dy.add_argument("--seed", type=_int_at_least(0), default=0, metavar="N", help="seed (default 0)")
    dy.add_argument("--report", default="reports", metavar="DIR",
                    help="report folder: dynamics.md, dynamics.json, dynamics_*.png (default reports)")

    au = sub.add_parser("audit", help="check other tools' Lipschitz constants of a saved torch network")
    au.add_argument("model", metavar="MODEL",
                    help="a torch.save file: a state dict (with --activation) or, with --trust, an nn.Sequential")
    au.add_argument("--input-radius", required=True, type=_radius, metavar="R",
                    help="audit on the input ball |x|_2 <= R; 'inf' for all of R^d (bias-free relu, "
                         "leaky_relu or identity networks)")
    au.add_argument("--tool", action="append", type=_tool, default=None, metavar="TOOL",
                    help="product, eclipse, eclipse-fast, eclipse-local, or a claimed constant; repeatable "
                         "(default: the four tools)")
    au.add_argument("--budget", type=_positive_seconds, default=5.0, metavar="SECONDS",
                    help="seconds of symlip's lower-bound search, shared by all tools (default 5)")
    au.add_argument("--seed", type=_int_at_least(0), default=0, metavar="N", help="seed (default 0)")
    au.add_argument("--trust", action="store_true",
                    help="unpickle a whole saved module (this runs code from the file: only for files you trust)")
    au.add_argument("--widths", type=_ints, default=None, help="check the state dict's widths d_0,...,d_m")
    au.add_argument("--activation", default=None, help="the activation of a state dict (registry name or "
                                                        "expression in t)")
    au.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                    help="activation parameter, e.g. alpha=0.1")
    au.add_argument("--report", default="reports", metavar="DIR",
                    help="report folder: audit.md, audit.json, audit-witnesses/ (default reports)")

    pe = sub.add_parser("peers", help="every tool on a fixed set of seeded networks beside symlip's lower bound")
    pe.add_argument("--quick", action="store_true", help="two small networks, 0.5 s each (for tests)")
    pe.add_argument("--seed", type=_int_at_least(0), default=0, metavar="N", help="seed (default 0)")
    pe.add_argument("--budget", type=_positive_seconds, default=None, metavar="SECONDS",
                    help="search seconds per network (default 5; quick 0.5)")
    pe.add_argument("--report", default="reports", metavar="DIR",
                    help="report folder: peers.md, peers.json (default reports)")

    r = sub.add_parser("replay", help="re-evaluate a witness file; exit 0 iff it still violates")
    r.add_argument("witness", metavar="WITNESS.json", help="a witness file (e.g. reports/witnesses/*.json)")
    r.add_argument("--dps", type=_int_at_least(16, MAX_DPS), default=80, metavar="N",
                   help="decimal digits (default 80; also checked at N + 30)")
    r.add_argument("--trust", action="store_true",
                   help="import the source file the witness names (this runs its code): needed for pointwise "
                        "claims, and compares the witness with its source case")
    return p


def _version() -> str:
    from symlip import __version__

    return f"symlip {__version__}"


def _cmd_derive(args: argparse.Namespace) -> int:
    import sympy as sp

    from symlip.activations.registry import activation
    from symlip.bounds.symbolic import derive
    from symlip.models.network import MLP
    from symlip.models.region import Region

    widths = args.widths
    if not 2 <= len(widths) <= MAX_DEPTH + 1:
        raise ValueError(f"--widths needs at least two entries d_0,...,d_m and at most {MAX_DEPTH + 1} "
                         f"(depth <= {MAX_DEPTH}); got {len(widths)}")
    act = activation(args.activation, **_params(args.param))
    depth = len(widths) - 1
    bound = derive(args.quantity, depth)
    if (args.omega is None) != (args.beta is None):
        raise ValueError("give both --omega and --beta (the box region), or neither")
    if args.omega is not None:
        net = MLP(widths, act)
        omega = args.omega[0] if len(args.omega) == 1 else args.omega
        beta = args.beta[0] if len(args.beta) == 1 else args.beta
        value = bound.evaluate(net, Region.box(omega, beta), R=args.R, Y=args.Y, allow_numeric=args.allow_numeric)
        print(f"{bound.name} for widths {widths}, {act.name}, box ω={args.omega} β={args.beta}, "
              f"R={args.R:g}{'' if args.Y is None else f', Y={args.Y:g}'}:")
        print(f"{value:.17g}")
        note = act.require_proven(bound.activation_constants(), allow_numeric=True)
        if note:
            print(f"note: this value {note}")
        return 0
    special = bound.specialize(widths=widths, activation=act, allow_numeric=args.allow_numeric)
    note = act.require_proven(bound.activation_constants(), allow_numeric=True)
    if args.latex:
        print(bound.latex(unrolled=False))
        print(f"% with widths {widths} and {act.name} "
              f"({', '.join(str(c) for c in act.constants.values())})")
        if note:
            print(f"% note: this bound {note}")
        print(special.latex(unrolled=depth <= 3))
    else:
        print(special)
        if depth <= 3:
            print("unrolled:", sp.sstr(special.expr))
        if note:
            print(f"note: this bound {note}")
    return 0


def _cmd_activation(args: argparse.Namespace) -> int:
    from symlip.activations.registry import activation

    act = activation(args.spec, **_params(args.param))
    print(f"{act.name}: σ(t) = {act.expr}")
    for c in act.constants.values():
        print(f"  {c}" + (f"  [{c.how}]" if c.how else ""))
    classes = [c for c in ("lipschitz", "smooth", "bounded") if act.in_class(c)]
    print(f"  classes: {', '.join(classes) or 'none'}")
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from symlip.report.bench import format_table, run_bench

    out = Path(args.out)
    if not str(args.out).strip() or out.is_dir():
        raise ValueError(f"--out {args.out!r} must name a JSON file")
    for folder in out.parents:
        if folder.exists() and not folder.is_dir():
            raise ValueError(f"--out {args.out!r}: {str(folder)!r} is a file, not a folder")
    results = run_bench(out_path=args.out, quick=args.quick)
    print(format_table(results))
    print(f"wrote {args.out}")
    return 1 if any(t["status"] == "fail" for t in results["targets"].values()) else 0


def _progress_line(k: int, n: int, loaded: Any, outcome: Any) -> str:
    from symlip.report.check import CaseError, format_ratio

    width = len(str(n))
    mark = "✓" if outcome.as_expected else "✗"
    head = f"[{k:>{width}}/{n}] {mark} {loaded.case.label}  {outcome.status}"
    if isinstance(outcome, CaseError):
        return f"{head}: {outcome.message}"
    return f"{head}  ratio {format_ratio(outcome.best_ratio)}  {outcome.seconds:.1f} s"


def _cmd_check(args: argparse.Namespace) -> int:
    from symlip.search.catalogue import load_cases
    from symlip.verify import check_case
    from symlip.report.check import CaseError, status_counts, reproduce_command, summary_counts, write_check_report

    _check_folder(args.report, "--report")
    if args.json and Path(args.json).is_dir():
        raise ValueError(f"--json {args.json!r} is a folder; give a file name")
    loaded = load_cases(args.paths)
    if not loaded:
        raise ValueError(f"no cases found in {', '.join(args.paths)} (modules define CASES = [Case(...), ...])")
    t0 = time.perf_counter()
    results = []
    for k, lc in enumerate(loaded, start=1):
        ts = time.perf_counter()
        try:
            outcome: Any = check_case(lc, budget=args.budget, seed=args.seed, max_evals=args.max_evals,
                                      allow_numeric=args.allow_numeric)
        except ValueError as exc:  # the claim does not apply here: reported, not as expected
            outcome = CaseError(lc.case.claim, _first_line(exc), time.perf_counter() - ts)
        except Exception as exc:  # a broken case must not end the run; it is reported as an error
            outcome = CaseError(lc.case.claim, f"{type(exc).__name__}: {_first_line(exc)}",
                                time.perf_counter() - ts)
        results.append((lc, outcome))
        if not args.quiet:
            print(_progress_line(k, len(loaded), lc, outcome), flush=True)
    seconds = time.perf_counter() - t0
    command = reproduce_command(args.paths, args.budget, args.seed, args.max_evals)
    files = write_check_report(results, args.report, budget=args.budget, seed=args.seed, seconds=seconds,
                               max_evals=args.max_evals, command=command)
    if args.json:
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(files["json"].read_bytes())
    counts = summary_counts([o for _, o in results])
    ok = counts["not_as_expected"] == 0
    print(f"{'OK' if ok else 'FAILED'}: {counts['claims']} claims, {counts['as_expected']} as expected, "
          f"{counts['not_as_expected']} not ({status_counts(counts)}) in {seconds:.1f} s")
    n_wit = sum(1 for key in files if key.startswith("witness:"))
    print(f"report: {files['md']} (also check.json, check.tex"
          + (f", {n_wit} witness file{'s' if n_wit != 1 else ''} in {files['md'].parent / 'witnesses'}"
             if n_wit else "") + ")" + (f"; JSON also in {args.json}" if args.json else ""))
    return 0 if ok else 1


def _cmd_replay(args: argparse.Namespace) -> int:
    from symlip.verify import replay

    rep = replay(args.witness, dps=args.dps, trust=args.trust)
    if rep.status == "needs-trust":  # the claim is code: one line, as a usage error
        raise ValueError(rep.message)
    print(rep.title)
    print(rep.message)
    if rep.value_mp:
        ratio = f"{rep.ratio:.6g}" if rep.dps == 0 else f"{rep.ratio:.17g}"
        print(f"  {rep.labels[0]} = {rep.value_mp}\n  {rep.labels[1]} = {rep.bound_mp}\n  ratio = {ratio}")
        if rep.dps:
            print(f"  confirmed digits = {rep.confirmed_digits} (at {rep.dps} and {rep.dps + 30} digits)")
    return 0 if rep.status == "violated" else 1


def _cmd_growth(args: argparse.Namespace) -> int:
    import numpy as np

    from symlip.activations.registry import activation
    from symlip.bounds.lower import growth
    from symlip.models.network import MLP
    from symlip.report.check import write_index

    _check_folder(args.out, "--out")
    act = activation(args.activation, **_params(args.param))
    if args.quantity == "lip_grad" and args.depth < 2:
        raise ValueError("--quantity lip_grad needs --depth >= 2 (at depth 1, f is affine in θ)")
    radii = None
    if args.radii is not None:
        if len(args.radii) != 2 or not (0 < args.radii[0] < args.radii[1]):
            raise ValueError(f"--radii expects two increasing positive numbers R0,R1; got {args.radii}")
        radii = np.logspace(math.log10(args.radii[0]), math.log10(args.radii[1]), args.points)
    elif args.points != 17:
        radii = np.logspace(0, 4, args.points)
    widths = [args.width] * args.depth + [1]
    g = growth(MLP(widths, act), args.quantity, radii=radii, R=args.R)
    print(f"{args.quantity} on |θ| <= r: {act.name}, widths {widths}, R = {args.R:g}")
    print(f"lower-bound formula: t0 = {g.constant.t0:g} ({g.constant.reason}); c = {g.constant.c:.6g}")
    print(g.table())
    files = g.write(args.out)
    write_index(args.out)
    print("wrote " + ", ".join(str(p) for p in files.values())
          + ("" if "png" in files else " (no PNG: " + _plot_hint() + ")"))
    return 0 if g.ok else 1


def _plot_hint() -> str:
    from symlip.core.plot import INSTALL_HINT

    return INSTALL_HINT


def _cmd_demo(args: argparse.Namespace) -> int:
    from symlip.report.check import write_index

    _check_folder(args.out, "--out")
    if args.name == "stepsize":
        from symlip.report.stepsize import run_stepsize_demo as run
    else:
        from symlip.report.cdnn import run_cdnn_report as run
    out = run(args.out, seed=args.seed, quick=args.quick)
    for line in out.get("summary", []):
        print(line)
    write_index(args.out)
    if not any(line.startswith("wrote") for line in out.get("summary", [])):
        print("wrote " + ", ".join(str(p) for p in out.get("files", [])))
    return 0 if out.get("ok", True) else 1


def _cmd_dynamics(args: argparse.Namespace) -> int:
    from symlip.report.dynamics import run_dynamics_report
    from symlip.report.check import write_index

    _check_folder(args.report, "--report")
    out = run_dynamics_report(args.report, seed=args.seed, quick=args.quick)
    for line in out["summary"]:
        print(line)
    write_index(args.report)
    return 0 if out["ok"] else 1


def _cmd_audit(args: argparse.Namespace) -> int:
    from symlip.report.peers import search_line, format_audit, write_audit_report
    from symlip.activations.registry import activation
    from symlip.peers import TOOLS, audit_tools
    from symlip.models.torch_io import load_model

    if not Path(args.model).is_file():  # first: a missing file is the problem, whatever else is wrong
        raise ValueError(f"model file {args.model!r} does not exist (or is not a file)")
    _check_folder(args.report, "--report")
    if args.param and args.activation is None:
        raise ValueError("--param needs --activation")
    act = activation(args.activation, **_params(args.param)) if args.activation is not None else None
    try:
        model = load_model(args.model, trust=args.trust, widths=args.widths, activation=act)
    except ImportError as exc:  # torch missing: one line saying how to install it
        raise ValueError(_first_line(exc)) from None
    net, theta = model
    tools = args.tool or list(TOOLS)
    where = "all of R^d" if args.input_radius is None else f"|x|_2 <= {args.input_radius:g}"
    print(f"{args.model}: widths {list(net.widths)}, {net.activation.name}"
          f"{', no biases' if model.bias_free else ''}; claims checked on {where}", flush=True)
    audit = audit_tools(net, theta, tools, R=args.input_radius, budget=args.budget, seed=args.seed)
    files = write_audit_report(audit, args.report, model=args.model, net=net, command=_audit_command(args, tools))
    witnesses = {k: str(files[f"witness:audit:{k}"]) for k in range(len(audit.rows))
                 if f"witness:audit:{k}" in files}
    print(format_audit(audit, witnesses))
    print(search_line(audit))
    n_wit = sum(1 for key in files if key.startswith("witness:"))
    print(f"report: {files['md']} (also audit.json" + (f", {n_wit} witness file{'s' if n_wit != 1 else ''}; "
          "re-check with symlip replay FILE" if n_wit else "") + ")")
    return 0 if audit.complete else 1


def _audit_command(args: argparse.Namespace, tools: Sequence[str]) -> str:
    import shlex

    parts = ["symlip", "audit", args.model, "--input-radius",
             "inf" if args.input_radius is None else f"{args.input_radius:g}"]
    for t in tools:
        parts += ["--tool", str(t)]
    parts += ["--budget", f"{args.budget:g}"] + (["--seed", str(args.seed)] if args.seed else [])
    parts += ["--trust"] if args.trust else []
    if args.activation is not None:
        parts += ["--activation", args.activation] + [x for p in args.param for x in ("--param", p)]
    if args.widths is not None:
        parts += ["--widths", ",".join(map(str, args.widths))]
    return " ".join(shlex.quote(p) for p in parts)


def _cmd_peers(args: argparse.Namespace) -> int:
    from symlip.report.peers import run_peers_report

    _check_folder(args.report, "--report")
    out = run_peers_report(args.report, seed=args.seed, quick=args.quick, budget=args.budget,
                           progress=lambda line: print(line, flush=True))
    for line in out["summary"]:
        print(line)
    return 0 if out["ok"] else 1


def _check_folder(path: str, option: str) -> None:
    """A report folder: ``ValueError`` when ``path`` names an existing file (or is empty)."""
    if not str(path).strip():
        raise ValueError(f"{option} is empty; give a folder")
    if Path(path).exists() and not Path(path).is_dir():
        raise ValueError(f"{option} {path!r} is a file; give a folder")


def _first_line(exc: BaseException) -> str:
    from symlip.core.messages import first_line

    return first_line(exc)


_COMMANDS = {"derive": _cmd_derive, "activation": _cmd_activation, "bench": _cmd_bench,
             "check": _cmd_check, "replay": _cmd_replay, "growth": _cmd_growth, "demo": _cmd_demo,
             "dynamics": _cmd_dynamics, "audit": _cmd_audit, "peers": _cmd_peers}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code (0 ok, 1 a check or replay found a problem,
    2 bad arguments)."""
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 2
        return _COMMANDS[args.command](args)
    except _UsageError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except (ValueError, TypeError, OverflowError) as exc:
        print(f"symlip: error: {_first_line(exc)}", file=sys.stderr)
        return 2
    except OSError as exc:  # e.g. a report folder that cannot be created or written
        where = f": {exc.filename!r}" if getattr(exc, "filename", None) else ""
        print(f"symlip: error: {exc.strerror or _first_line(exc)}{where}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
