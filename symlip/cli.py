"""The ``symlip`` command line (also ``python -m symlip``).

Commands (``symlip COMMAND --help`` describes each, with examples)
--------
derive      print a bound U1-U4 of docs/theory.md §3 (text or LaTeX), or its value on a box
activation  print an activation's constants S0, S1, S2, c0 with provenance
bench       run the benchmarks and write bench.json
check       attack every claim of catalogue files/folders (proofs/); write check.md, .json, .tex,
            witnesses/*.json; exit 0 iff every outcome is as expected, else 1
replay      re-evaluate a witness file at high precision from its data alone (no code runs unless
            --trust); exit 0 iff it still violates, 1 when it does not, is inconclusive or the
            file disagrees with itself (tampered), 2 when its claim is code and --trust is missing;
            a certificate (``symlip certify``) is re-derived leaf by leaf: exit 0 iff it is
            ``certified`` or ``proved``, 1 when ``tampered`` or ``invalid``
certify     a certified sandwich lower <= true local constant <= upper (branch and bound in arb)
tightness   how loose U1 and U2 are on small architectures: U / true constant, certified
growth      upper bound (U1/U2) and witnessed lower bound (docs/theory.md §4) on balls |θ| <= r
demo        demonstrations that write reports: ``stepsize`` (§6) and ``cdnn`` (§5)
dynamics    the Lipschitz bound under SGD (docs/theory.md §7)
audit       check other tools' input-Lipschitz constants of a torch.save'd network
peers       the peer comparison on a fixed set of seeded networks

Every command that writes files writes them where ``--out`` says (default
``symlip-out/COMMAND``, never the committed ``reports/``), records the command line
and date in the folder's ``runs.json`` and rewrites its index ``README.md``; a
``--quick`` run is marked "quick run: not a reference" and refuses to replace a
full report.  Bad arguments exit with code 2 and one line on stderr.
"""
from __future__ import annotations

import argparse
import math
import shlex
import sys
import time
from pathlib import Path
from typing import Any, Sequence

from symlip.bounds.symbolic import MAX_DEPTH
from symlip.search.falsify import MAX_DPS, MAX_EVALS, STOPS
from symlip.batch import MAX_JOBS, default_jobs
from symlip.prove import DEFAULT_PROVE_BUDGET, MAX_PROVE_DIM
from symlip.bounds.lower import MAX_POINTS
from symlip.report.index import DEFAULT_OUT
from symlip.cli_args import (MAX_WIDTH, Formatter, Parser, UsageError, add_command, add_out, floats, int_at_least,
                              ints, parse_params, positive_float, positive_seconds, radius, tool_name)

__all__ = ["main"]


#: whether ``symlip check`` proves surviving claims by default (measured: see --prove's help)
PROVE_DEFAULT = False


def _build_parser() -> Parser:
    from symlip.bounds.symbolic import QUANTITIES

    p = Parser(prog="symlip", formatter_class=Formatter,
                description="Derive, compile and attack Lipschitz bounds of neural networks with respect to "
                            "their parameters (docs/theory.md). Every command writes its reports where --out "
                            f"says (default {DEFAULT_OUT}/COMMAND in the current folder).",
                epilog="examples:\n  symlip derive --widths 3,16,1 --quantity lip_f\n"
                       "  symlip check proofs/ --out reports\n  symlip COMMAND --help")
    p.add_argument("--version", action="version", version=_version())
    sub = p.add_subparsers(dest="command", parser_class=Parser, metavar="COMMAND")

    d = add_command(sub, "derive", "print a bound (docs/theory.md §3) or its value on a region",
                 "Print the upper bound U1-U4 of docs/theory.md §3 for networks of the given widths: the "
                 "per-layer recursion and the unrolled formula (general in omega_i, beta_i, R), or with "
                 "--latex the general-depth closed form too. With --omega and --beta the bound is evaluated "
                 "on the box |W_i| <= omega_i, |b_i| <= beta_i and its value printed.",
                 ["symlip derive --widths 3,16,1 --quantity lip_f",
                  "symlip derive --widths 3,16,16,1 --quantity lip_grad --omega 2 --beta 1 --R 1",
                  "symlip derive --widths 3,16,16,1 --quantity lip_grad --latex"])
    d.add_argument("--widths", type=ints, required=True, help="layer widths d_0,...,d_m, e.g. 3,16,16,1")
    d.add_argument("--activation", default="tanh", help="registry name or expression in t")
    d.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="activation parameter, e.g. alpha=0.1 (repeatable)")
    d.add_argument("--quantity", default="lip_f", choices=list(QUANTITIES),
                   help="lip_f: U1, Lipschitz constant of θ ↦ f(x;θ); lip_grad: U2, of θ ↦ ∇_θ f; "
                        "lip_loss_grad: U3, of the squared-loss gradient (uses --Y); lip_input: U4, of x ↦ f(x;θ)")
    d.add_argument("--latex", action="store_true", help="print LaTeX")
    d.add_argument("--omega", type=floats, help="spectral-norm bounds per layer (or one for all); without "
                                                  "--omega and --beta the general formula is printed")
    d.add_argument("--beta", type=floats, help="bias-norm bounds per layer (or one for all)")
    d.add_argument("--R", type=float, default=1.0, help="input radius |x| <= R")
    d.add_argument("--Y", type=float, default=None, help="target radius |y| <= Y (lip_loss_grad; no default)")
    d.add_argument("--allow-numeric", action="store_true",
                   help="let the bound rest on activation constants that are only numeric estimates "
                        "(marked 'not proven'); by default such a bound is refused")

    a = add_command(sub, "activation", "print S0, S1, S2, c0 with provenance",
                 "Derive an activation's constants S0 = sup|σ|, S1 = sup|σ'|, S2 = sup|σ''| and c0 = |σ(0)| "
                 "(docs/theory.md §1) and print each with its provenance: exact (sympy), certified (an arb "
                 "enclosure) or numeric (an estimate); then the classes it belongs to.",
                 ["symlip activation sigmoid", "symlip activation leaky_relu --param alpha=0.1",
                  'symlip activation "t/(1+Abs(t))"'])
    a.add_argument("spec", help="registry name (tanh, gelu, ...) or expression in t")
    a.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="parameter of a registry activation, e.g. alpha=0.1 for leaky_relu (repeatable)")

    b = add_command(sub, "bench", "run the benchmarks and write bench.json",
                 "Time the derivation and compilation, the kernels against sympy evalf and mpmath, the "
                 "network derivatives (against torch.func when installed), the falsifier on known constants "
                 "and the SGD-moment path; print a table and write the JSON.",
                 ["symlip bench --quick", "symlip bench --out reports/bench.json   # the reference"])
    b.add_argument("--quick", action="store_true", help="small sizes (seconds, for smoke tests; marked "
                                                         "'quick run: not a reference')")
    b.add_argument("--out", default=f"{DEFAULT_OUT}/bench/bench.json", metavar="FILE", help="JSON output path")

    c = add_command(sub, "check", "attack the claims of catalogue files/folders and write a report",
                 "Attack every claim (the CASES of the Python files under the paths) with the falsifier and "
                 "write check.md, check.json, check.tex and a witness file per violation. Exit 0 iff every "
                 "claim comes out as expected (holds -> survived/witnessed/proved, fails -> "
                 "violated/refuted), else 1. With --prove, surviving claims on small networks are certified.",
                 ["symlip check proofs/ --out reports            # the main job: the reference report",
                  "symlip check proofs/mutants --max-evals 3000  # reproducible, into symlip-out/check"])
    c.add_argument("paths", nargs="+", metavar="PATH", help="catalogue .py files or folders (defining CASES)")
    c.add_argument("--budget", type=positive_seconds, default=3.0, metavar="SECONDS",
                   help="search seconds per case, times the case's weight")
    c.add_argument("--seed", type=int_at_least(0), default=0, metavar="N", help="seed")
    c.add_argument("--max-evals", type=int_at_least(10, MAX_EVALS), default=None, metavar="N",
                   help="evaluation budget per case (makes the search exactly reproducible; default: none, "
                        "the time budget decides)")
    c.add_argument("--stop", choices=STOPS, default="budget",
                   help="when a claim's search ends: 'budget' spends the whole budget, then confirms the best "
                        "candidate; 'first' confirms candidates as they come (the same mpmath confirmation) and "
                        "stops at the first confirmed violation, reporting the seconds and evaluations to it "
                        "(surviving claims still spend the budget)")
    add_out(c, "check", "check.md, check.json, check.tex, witnesses/")
    c.add_argument("--json", default=None, metavar="FILE", help="also write the JSON report to FILE")
    c.add_argument("--quiet", action="store_true", help="no progress line per claim")
    c.add_argument("--jobs", type=int_at_least(1, MAX_JOBS), default=default_jobs(), metavar="N",
                   help="worker processes on this machine (default: its cores); verdicts are those of --jobs 1 "
                        "(identical under --max-evals)")
    c.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="run the cases on a Dask distributed cluster, e.g. tcp://host:8786 (pip install "
                        "\"symlip[dask]\"); the catalogue files travel with the tasks, verdicts and witnesses "
                        "come back here")
    c.add_argument("--allow-numeric", action="store_true",
                   help="let bounds rest on activation constants that are only numeric estimates (verdicts "
                        "marked 'not proven'); by default such a claim is an error")
    c.add_argument("--prove", action=argparse.BooleanOptionalAction, default=PROVE_DEFAULT,
                   help=f"after the falsifier, certify each surviving 'holds' claim on an MLP case of free "
                        f"dimension (parameters + inputs; 0 parameters on a ball of radius 0) at most "
                        f"{MAX_PROVE_DIM} whose quantity certify supports (lip_f, lip_grad, lip_loss_grad, "
                        f"lip_input): status proved (bound >= certified upper), violated, or survived, with "
                        f"the sandwich [lower, upper] of the true constant and the looseness bound/true. "
                        f"Off by default: measured on 2 shared cores, the main job (check proofs/ --jobs 2) "
                        f"takes 4:24 without and 5:18 with --prove (10 of 126 claims qualify; 4 proved), too "
                        f"close to its 6-minute limit, and a time-budgeted proof is not reproducible under "
                        f"--max-evals")
    c.add_argument("--prove-budget", type=positive_seconds, default=DEFAULT_PROVE_BUDGET, metavar="SECONDS",
                   help="seconds of branch and bound per proved claim")

    g = add_command(sub, "growth", "upper vs witnessed lower bound on balls |θ| <= r; log-log slopes",
                 "On balls |θ| <= r over radii r, compare the upper bound (U1 or U2) with the lower bound "
                 "witnessed by the chain construction of docs/theory.md §4, fit log-log slopes and write a "
                 "table, Markdown, JSON and PNG. Exit 0 iff both slopes are within 0.05 of m-1 (lip_f) or "
                 "2m-3 (lip_grad).",
                 ["symlip growth --activation tanh --depth 4 --quantity lip_grad",
                  "symlip growth --activation relu --depth 4 --width 3"])
    g.add_argument("--activation", default="tanh", help="registry name or expression in t")
    g.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="activation parameter, e.g. alpha=0.1 (repeatable)")
    g.add_argument("--depth", type=int_at_least(1, MAX_DEPTH), default=4, metavar="M", help="depth m")
    g.add_argument("--quantity", default="lip_f", choices=["lip_f", "lip_grad"],
                   help="lip_f: U1 vs |∇_θ f| (slope m-1); lip_grad: U2 vs the top Hessian eigenvalue "
                        "(slope 2m-3)")
    g.add_argument("--width", type=int_at_least(1, MAX_WIDTH), default=1, metavar="N",
                   help="hidden width (1: the scalar chain); input width too")
    g.add_argument("--R", type=float, default=1.0, help="input radius")
    g.add_argument("--radii", type=floats, default=None, metavar="R0,R1",
                   help="smallest and largest radius, at least two decades apart (default: 1,1e4)")
    g.add_argument("--points", type=int_at_least(3, MAX_POINTS), default=17, metavar="N",
                   help="number of radii")
    add_out(g, "growth", "growth_<activation>_m<depth>_<quantity>.md, .json, .png", alias=False)

    dm = add_command(sub, "demo", "demonstrations that write reports (stepsize, cdnn)",
                  "stepsize: gradient descent with the local step-size rule of docs/theory.md §6 beside fixed "
                  "steps (stepsize.md, .json, .png); cdnn: the N-convergence table of continuously deep "
                  "networks, docs/theory.md §5 (cdnn.md, .json, .png).",
                  ["symlip demo stepsize", "symlip demo cdnn --quick"])
    dm.add_argument("name", choices=["stepsize", "cdnn"], help="stepsize (docs/theory.md §6) or cdnn (§5)")
    dm.add_argument("--seed", type=int_at_least(0), default=0, metavar="N", help="seed")
    dm.add_argument("--quick", action="store_true", help="small sizes (seconds, for smoke tests; marked "
                                                          "'quick run: not a reference')")
    add_out(dm, "demo", "<name>.md, .json, .png", alias=False)

    dy = add_command(sub, "dynamics", "SGD dynamics of the Lipschitz bound: predicted vs observed (docs/theory.md §7)",
                  "The Lipschitz bound under SGD (docs/theory.md §7): one-step moments against Monte-Carlo "
                  "over η, trajectories with predicted bands, factor studies; writes dynamics.md, .json and "
                  "plots. Exit 0 iff the one-step targets hold (5% at the smallest η, slope ~2).",
                  ["symlip dynamics --quick", "symlip dynamics --out reports   # the reference (minutes)"])
    dy.add_argument("--quick", action="store_true", help="small sizes (seconds, for CI; marked "
                                                          "'quick run: not a reference')")
    dy.add_argument("--seed", type=int_at_least(0), default=0, metavar="N", help="seed")
    add_out(dy, "dynamics", "dynamics.md, dynamics.json, dynamics_*.png")

    au = add_command(sub, "audit", "check other tools' Lipschitz constants of a saved torch network",
                  "Check other tools' input-Lipschitz constants of a torch.save'd network (product of "
                  "spectral norms, ECLipsE, ECLipsE-Fast, ECLipsE-Gen-Local, stated values) against symlip's "
                  "best lower bound on |x|_2 <= R; a table on stdout, audit.md, audit.json and a witness per "
                  "violation. With --certify also a certified upper bound of the true constant (symlip certify) with "
                  "the witnessed lower, each claim refuted (below the lower), holding (above the upper) or open. "
                  "Exit 0 when every claim made was checked (violated or survived), 1 when a tool "
                  "failed or a check was inconclusive. Needs torch (pip install -e \".[torch]\").",
                  ["symlip audit model.pt --trust --input-radius 1 --tool product --tool 0.5",
                   "symlip audit model.pt --trust --input-radius 1 --certify --certify-budget 60",
                   "symlip audit weights.pt --activation tanh --input-radius 1"])
    au.add_argument("model", metavar="MODEL",
                    help="a torch.save file: a state dict (with --activation) or, with --trust, an nn.Sequential")
    au.add_argument("--input-radius", required=True, type=radius, metavar="R",
                    help="audit on the input ball |x|_2 <= R; 'inf' for all of R^d (bias-free relu, "
                         "leaky_relu or identity networks)")
    au.add_argument("--tool", action="append", type=tool_name, default=None, metavar="TOOL",
                    help="product, eclipse, eclipse-fast, eclipse-local, or a claimed constant; repeatable "
                         "(default: the four tools)")
    au.add_argument("--budget", type=positive_seconds, default=5.0, metavar="SECONDS",
                    help="seconds of symlip's lower-bound search, shared by all tools")
    au.add_argument("--seed", type=int_at_least(0), default=0, metavar="N", help="seed")
    au.add_argument("--certify", action="store_true",
                    help="also certify an upper bound of the true constant (symlip certify: activation patterns "
                         "for relu/leaky_relu, arb branch and bound otherwise), shown beside the claims; the "
                         "certificate goes to audit-witnesses/ (symlip replay re-checks it)")
    au.add_argument("--certify-budget", type=positive_seconds, default=None, metavar="SECONDS",
                    help="seconds of the certificate's branch and bound (default 30; needs --certify)")
    au.add_argument("--max-evals", type=int_at_least(10, MAX_EVALS), default=None, metavar="N",
                    help="evaluation budget of the search instead of --budget (makes it exactly reproducible; "
                         "default: none, the time budget decides)")
    au.add_argument("--trust", action="store_true",
                    help="unpickle a whole saved module (this runs code from the file: only for files you trust)")
    au.add_argument("--widths", type=ints, default=None, help="check the state dict's widths d_0,...,d_m")
    au.add_argument("--activation", default=None, help="the activation of a state dict (registry name or "
                                                        "expression in t)")
    au.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                    help="activation parameter, e.g. alpha=0.1 (repeatable)")
    add_out(au, "audit", "audit.md, audit.json, audit-witnesses/")

    pe = add_command(sub, "peers", "every tool on a fixed set of seeded networks beside symlip's lower bound",
                  "The peer comparison: every tool's constant on 12 seeded networks beside symlip's best "
                  "lower bound, with the tools' failure signals; peers.md and peers.json. Exit 0 iff no "
                  "tool's claim was violated. Needs the peers extra (torch, eclipse-nn).",
                  ["symlip peers --quick", "symlip peers --out reports   # the reference (minutes)"])
    pe.add_argument("--quick", action="store_true", help="two small networks, 0.5 s each (for tests; marked "
                                                          "'quick run: not a reference')")
    pe.add_argument("--seed", type=int_at_least(0), default=0, metavar="N", help="seed")
    pe.add_argument("--budget", type=positive_seconds, default=None, metavar="SECONDS",
                    help="search seconds per network (default 5; quick 0.5)")
    add_out(pe, "peers", "peers.md, peers.json")

    r = add_command(sub, "replay", "re-evaluate a witness file; exit 0 iff it still violates (or a certificate holds)",
                 "Re-evaluate a witness file at high precision from its data alone (no code runs unless "
                 "--trust). Exit 0 iff it still violates; 1 when it does not, is inconclusive or the file "
                 "disagrees with itself (tampered); 2 when its claim is code and --trust is missing. "
                 "A certificate (kind 'certificate', written by symlip certify) is re-checked from scratch: "
                 "every leaf enclosure re-derived in arb and the leaves checked to cover the domain; exit 0 "
                 "iff its status is certified or proved, 1 when tampered or invalid.",
                 ["symlip replay reports/witnesses/u1_mutants-04-M-U1-depth1-0.98.json --dps 80",
                  "symlip replay symlip-out/certify/lip_f_1-2-1_tanh.json   # a certificate"])
    r.add_argument("witness", metavar="WITNESS.json", help="a witness or certificate file "
                                                           "(e.g. reports/witnesses/*.json)")
    r.add_argument("--dps", type=int_at_least(16, MAX_DPS), default=80, metavar="N",
                   help="decimal digits (also checked at N + 30)")
    r.add_argument("--trust", action="store_true",
                   help="import the source file the witness names (this runs its code): needed for pointwise "
                        "claims, and compares the witness with its source case")

    ce = add_command(sub, "certify", "a certified sandwich lower <= true local constant <= upper",
                  "Bound the true local constant (sup of |∇_θ f|, ||∇²_θ f||_2, ||∇²_θ ℓ||_2 or |∂f/∂x| over "
                  "the region and |x| <= R) from above by branch and bound with rigorous arb enclosures, and "
                  "from below by a witnessed point confirmed in mpmath; print the sandwich and write the "
                  "certificate, which symlip replay re-checks leaf by leaf. With --bound, the claimed bound "
                  "is proved (>= upper), violated (< lower, confirmed) or open. Exit 0 unless the bound is "
                  "violated or open (1).",
                  ["symlip certify --widths 1,2,1 --activation tanh --ball 0.3 --budget 10",
                   "symlip certify --widths 2,2,1 --quantity lip_grad --omega 1 --beta 1 --bound 3",
                   "symlip replay symlip-out/certify/lip_f_1-2-1_tanh.json"])
    ce.add_argument("--quantity", default="lip_f", choices=["lip_f", "lip_grad", "lip_loss_grad", "lip_input"],
                    help="lip_f: sup |∇_θ f|; lip_grad: sup ||∇²_θ f||_2; lip_loss_grad: of ½(f-y)² (uses -Y); "
                         "lip_input: sup |∂f/∂x|")
    ce.add_argument("--widths", type=ints, required=True, help="layer widths d_0,...,d_m, e.g. 1,2,1")
    ce.add_argument("--activation", default="tanh", help="registry name or expression in t")
    ce.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                    help="activation parameter, e.g. alpha=0.1 (repeatable)")
    ce.add_argument("--ball", type=lambda t: positive_float(t, "a radius >= 0") if t.strip() not in ("0", "0.0")
                    else 0.0, default=None, metavar="RADIUS",
                    help="the ball |θ - θ0| <= RADIUS around θ0 (--center); 0 fixes the network")
    ce.add_argument("--center", default="init", choices=["init", "zero"],
                    help="θ0 of --ball: init = MLP.init(--init-seed), zero = the origin")
    ce.add_argument("--init-seed", type=int_at_least(0), default=0, metavar="N", help="seed of the init θ0")
    ce.add_argument("--omega", type=floats, help="spectral-norm bounds per layer (or one for all): the box "
                                                   "region with --beta, instead of --ball")
    ce.add_argument("--beta", type=floats, help="bias-norm bounds per layer (or one for all)")
    ce.add_argument("-R", "--R", dest="R", type=lambda t: positive_float(t, "a positive radius"), default=1.0,
                    help="input radius |x| <= R")
    ce.add_argument("-Y", "--Y", dest="Y", type=float, default=None,
                    help="target radius |y| <= Y (lip_loss_grad; no default)")
    ce.add_argument("--budget", type=positive_seconds, default=60.0, metavar="SECONDS",
                    help="seconds of branch and bound")
    ce.add_argument("--tol", type=lambda t: positive_float(t, "a positive tolerance"), default=0.01,
                    help="stop when upper <= (1 + tol) lower")
    ce.add_argument("--seed", type=int_at_least(0), default=0, metavar="N", help="seed of the incumbent search")
    ce.add_argument("--max-boxes", type=int_at_least(1), default=None, metavar="N",
                    help="stop after N box enclosures (default: none, the budget decides)")
    ce.add_argument("--bound", type=floats, default=None, metavar="VALUE",
                    help="a claimed upper bound: status proved / violated / open")
    ce.add_argument("--out", default=None, metavar="FILE",
                    help=f"the certificate JSON (default {DEFAULT_OUT}/certify/QUANTITY_WIDTHS_ACTIVATION.json)")
    ce.add_argument("--quiet", action="store_true", help="no progress lines")

    ti = add_command(sub, "tightness", "how loose U1 and U2 are: U / true constant, certified",
                  "For U1 (lip_f) and U2 (lip_grad) on small architectures ([1,1,1], [1,2,1], [2,2,1] tanh; "
                  "[1,2,1] sigmoid and softplus) on balls of radius 0.1 and 0.3 around MLP.init(0) and the box "
                  "ω = β = 1 (R = 1): the rigorous U value, the certified interval [lower, upper] of the true "
                  "constant (symlip certify) and the looseness U/true ∈ [U/upper, U/lower]; writes "
                  "tightness.md, tightness.tex and tightness.json.",
                  ["symlip tightness --quick", "symlip tightness --out reports   # the reference (~3 min)"])
    ti.add_argument("--budget", type=positive_seconds, default=3.0, metavar="SECONDS",
                    help="seconds of branch and bound per row (30 rows)")
    ti.add_argument("--seed", type=int_at_least(0), default=0, metavar="N", help="seed of the incumbent search")
    ti.add_argument("--quick", action="store_true", help="two rows, 1 s each (for tests; marked "
                                                          "'quick run: not a reference')")
    add_out(ti, "tightness", "tightness.md, tightness.tex, tightness.json", alias=False)
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
    act = activation(args.activation, **parse_params(args.param))
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

    act = activation(args.spec, **parse_params(args.param))
    print(f"{act.name}: σ(t) = {act.expr}")
    for c in act.constants.values():
        print(f"  {c}" + (f"  [{c.how}]" if c.how else ""))
    classes = [c for c in ("lipschitz", "smooth", "bounded") if act.in_class(c)]
    print(f"  classes: {', '.join(classes) or 'none'}")
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from symlip.report.bench import format_table, run_bench
    from symlip.report.index import refuse_quick_over_reference

    out = Path(args.out)
    if not str(args.out).strip() or out.is_dir():
        raise ValueError(f"--out {args.out!r} must name a JSON file")
    for folder in out.parents:
        if folder.exists() and not folder.is_dir():
            raise ValueError(f"--out {args.out!r}: {str(folder)!r} is a file, not a folder")
    if args.quick:
        refuse_quick_over_reference(out.parent, [out.name])
    results = run_bench(out_path=args.out, quick=args.quick)
    print(format_table(results))
    _record(args, out.parent, [out], quick=args.quick)
    print(f"wrote {args.out}")
    return 1 if any(t["status"] == "fail" for t in results["targets"].values()) else 0


def _progress_line(k: int, n: int, loaded: Any, outcome: Any) -> str:
    from symlip.batch import CaseError
    from symlip.report.check import format_ratio

    width = len(str(n))
    mark = "✓" if outcome.as_expected else "✗"
    head = f"[{k:>{width}}/{n}] {mark} {loaded.case.label}  {outcome.status}"
    if isinstance(outcome, CaseError):
        return f"{head}: {outcome.message}"
    cert = getattr(outcome, "certificate", None)  # symlip check --prove
    proof = "" if cert is None else f"  true ∈ [{cert.lower:.6g}, {cert.upper:.6g}] (+{cert.seconds:.1f} s)"
    return f"{head}  ratio {format_ratio(outcome.best_ratio)}{proof}  {outcome.seconds:.1f} s"


def _cmd_check(args: argparse.Namespace) -> int:
    from symlip.batch import check_cases
    from symlip.report.check import reproduce_command, status_counts, summary_counts, write_check_report
    from symlip.search.catalogue import load_cases

    _check_folder(args.out, "--out")
    if args.json and Path(args.json).is_dir():
        raise ValueError(f"--json {args.json!r} is a folder; give a file name")
    loaded = load_cases(args.paths)
    if not loaded:
        raise ValueError(f"no cases found in {', '.join(args.paths)} (modules define CASES = [Case(...), ...])")
    t0 = time.perf_counter()
    shown = [0]
    done: dict[int, Any] = {}

    def progress(k: int, lc: Any, outcome: Any) -> None:  # lines in case order, as soon as they are known
        done[k] = outcome
        while shown[0] + 1 in done and not args.quiet:
            shown[0] += 1
            print(_progress_line(shown[0], len(loaded), loaded[shown[0] - 1], done[shown[0]]), flush=True)

    results = check_cases(loaded, budget=args.budget, seed=args.seed, max_evals=args.max_evals,
                          allow_numeric=args.allow_numeric, stop=args.stop, jobs=args.jobs, scheduler=args.scheduler,
                          prove=args.prove_budget if args.prove else None, progress=progress)
    seconds = time.perf_counter() - t0
    command = reproduce_command(args.paths, args.budget, args.seed, args.max_evals)
    if args.stop != "budget":
        command += f" --stop {args.stop}"
    if args.prove != PROVE_DEFAULT or args.prove:
        command += f" --prove --prove-budget {args.prove_budget:g}" if args.prove else " --no-prove"
    files = write_check_report(results, args.out, budget=args.budget, seed=args.seed, seconds=seconds,
                               max_evals=args.max_evals, command=command)
    if args.json:
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(files["json"].read_bytes())
    _record(args, args.out, [files["md"], files["json"], files["tex"]])
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
    print(rep.title + (f": {rep.status}" if rep.title == "certificate" else ""))
    print(rep.message)
    if rep.title == "certificate":
        if rep.value_mp:
            print(f"  {rep.labels[0]} = {rep.value_mp}" + (f"\n  {rep.labels[1]} = {rep.bound_mp}" if rep.bound_mp else ""))
        return 0 if rep.status in ("certified", "proved") else 1
    if rep.value_mp:
        ratio = f"{rep.ratio:.6g}" if rep.dps == 0 else f"{rep.ratio:.17g}"
        print(f"  {rep.labels[0]} = {rep.value_mp}\n  {rep.labels[1]} = {rep.bound_mp}\n  ratio = {ratio}")
        if rep.dps:
            print(f"  confirmed digits = {rep.confirmed_digits} (at {rep.dps} and {rep.dps + 30} digits)")
    return 0 if rep.status == "violated" else 1


def _cmd_certify(args: argparse.Namespace) -> int:
    from symlip.report.certify_cmd import certify_command

    if not 2 <= len(args.widths) <= MAX_DEPTH + 1:
        raise ValueError(f"--widths needs at least two entries d_0,...,d_m and at most {MAX_DEPTH + 1}; "
                         f"got {len(args.widths)}")
    return certify_command(args, parse_params(args.param))


def _cmd_tightness(args: argparse.Namespace) -> int:
    from symlip.report.index import refuse_quick_over_reference
    from symlip.report.tightness import print_row, tightness_rows, write_tightness

    _check_folder(args.out, "--out")
    if args.quick:
        refuse_quick_over_reference(args.out, ["tightness.md"])
    budget = 1.0 if args.quick else args.budget

    rows = tightness_rows(budget=budget, seed=args.seed, quick=args.quick, progress=print_row)
    files = write_tightness(rows, args.out, budget=budget, command=args.command_line, quick=args.quick)
    _record(args, args.out, files.values(), quick=args.quick)
    print(f"report: {files['md']} (also tightness.tex, tightness.json)")
    return 0


def _cmd_growth(args: argparse.Namespace) -> int:
    import numpy as np

    from symlip.activations.registry import activation
    from symlip.bounds.lower import growth
    from symlip.models.network import MLP

    _check_folder(args.out, "--out")
    act = activation(args.activation, **parse_params(args.param))
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
    _record(args, args.out, files.values())
    print("wrote " + ", ".join(str(p) for p in files.values())
          + ("" if "png" in files else " (no PNG: " + _plot_hint() + ")"))
    return 0 if g.ok else 1


def _plot_hint() -> str:
    from symlip.core.plot import INSTALL_HINT

    return INSTALL_HINT


def _cmd_demo(args: argparse.Namespace) -> int:
    from symlip.report.index import refuse_quick_over_reference

    _check_folder(args.out, "--out")
    if args.quick:
        refuse_quick_over_reference(args.out, [f"{args.name}.md", f"{args.name}.json"])
    if args.name == "stepsize":
        from symlip.report.stepsize import run_stepsize_demo as run
    else:
        from symlip.report.cdnn import run_cdnn_report as run
    out = run(args.out, seed=args.seed, quick=args.quick)
    for line in out.get("summary", []):
        print(line)
    _record(args, args.out, out.get("files", []), quick=args.quick)
    if not any(line.startswith("wrote") for line in out.get("summary", [])):
        print("wrote " + ", ".join(str(p) for p in out.get("files", [])))
    return 0 if out.get("ok", True) else 1


def _cmd_dynamics(args: argparse.Namespace) -> int:
    from symlip.report.dynamics import run_dynamics_report
    from symlip.report.index import refuse_quick_over_reference

    _check_folder(args.out, "--out")
    if args.quick:
        refuse_quick_over_reference(args.out, ["dynamics.md", "dynamics.json"])
    out = run_dynamics_report(args.out, seed=args.seed, quick=args.quick)
    for line in out["summary"]:
        print(line)
    _record(args, args.out, out["files"], quick=args.quick)
    return 0 if out["ok"] else 1


def _cmd_audit(args: argparse.Namespace) -> int:
    from symlip.report.peers import search_line, format_audit, format_certified, write_audit_report
    from symlip.activations.registry import activation
    from symlip.peers import TOOLS, audit_tools, certified_audit
    from symlip.models.torch_io import load_model

    if not Path(args.model).is_file():  # first: a missing file is the problem, whatever else is wrong
        raise ValueError(f"model file {args.model!r} does not exist (or is not a file)")
    _check_folder(args.out, "--out")
    if args.param and args.activation is None:
        raise ValueError("--param needs --activation")
    if args.certify_budget is not None and not args.certify:
        raise ValueError("--certify-budget needs --certify")
    act = activation(args.activation, **parse_params(args.param)) if args.activation is not None else None
    try:
        model = load_model(args.model, trust=args.trust, widths=args.widths, activation=act)
    except ImportError as exc:  # torch missing: one line saying how to install it
        raise ValueError(_first_line(exc)) from None
    net, theta = model
    tools = args.tool or list(TOOLS)
    where = "all of R^d" if args.input_radius is None else f"|x|_2 <= {args.input_radius:g}"
    print(f"{args.model}: widths {list(net.widths)}, {net.activation.name}"
          f"{', no biases' if model.bias_free else ''}; claims checked on {where}", flush=True)
    audit = audit_tools(net, theta, tools, R=args.input_radius, budget=args.budget, seed=args.seed,
                        max_evals=args.max_evals)
    certified = None
    if args.certify:
        certified = certified_audit(net, theta, tools, R=args.input_radius, seed=args.seed, audit=audit,
                                    certify_budget=30.0 if args.certify_budget is None else args.certify_budget)
    files = write_audit_report(audit, args.out, model=args.model, net=net, command=_audit_command(args, tools),
                               certified=certified)
    witnesses = {k: str(files[f"witness:audit:{k}"]) for k in range(len(audit.rows))
                 if f"witness:audit:{k}" in files}
    _record(args, args.out, [files["md"], files["json"]])
    print(format_audit(audit, witnesses))
    print(search_line(audit))
    if certified is not None:
        print(format_certified(certified, str(files["certificate"])))
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
    parts += ["--max-evals", str(args.max_evals)] if args.max_evals is not None else []
    parts += ["--certify"] if args.certify else []
    parts += ["--certify-budget", f"{args.certify_budget:g}"] if args.certify_budget is not None else []
    parts += ["--trust"] if args.trust else []
    if args.activation is not None:
        parts += ["--activation", args.activation] + [x for p in args.param for x in ("--param", p)]
    if args.widths is not None:
        parts += ["--widths", ",".join(map(str, args.widths))]
    return " ".join(shlex.quote(p) for p in parts)


def _cmd_peers(args: argparse.Namespace) -> int:
    from symlip.report.peers import run_peers_report
    from symlip.report.index import refuse_quick_over_reference

    _check_folder(args.out, "--out")
    if args.quick:
        refuse_quick_over_reference(args.out, ["peers.md", "peers.json"])
    out = run_peers_report(args.out, seed=args.seed, quick=args.quick, budget=args.budget,
                           progress=lambda line: print(line, flush=True))
    _record(args, args.out, out["files"], quick=args.quick)
    for line in out["summary"]:
        print(line)
    return 0 if out["ok"] else 1


def _record(args: argparse.Namespace, folder: str | Path, files: Any, quick: bool = False) -> None:
    """Record the command line that wrote ``files`` (those directly in ``folder``) in its
    ``runs.json`` and rewrite its index ``README.md``."""
    from symlip.report.index import record_run, write_index

    names = [Path(f).name for f in files if Path(f).parent.resolve() == Path(folder).resolve()]
    record_run(folder, names, args.command_line, quick=quick)
    write_index(folder)


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
             "dynamics": _cmd_dynamics, "audit": _cmd_audit, "peers": _cmd_peers,
             "certify": _cmd_certify, "tightness": _cmd_tightness}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code (0 ok, 1 a check or replay found a problem,
    2 bad arguments)."""
    parser = _build_parser()
    try:
        argv = [str(a) for a in (sys.argv[1:] if argv is None else argv)]
        args = parser.parse_args(argv)
        args.command_line = "symlip " + shlex.join(argv)
        if args.command is None:
            parser.print_help()
            return 2
        return _COMMANDS[args.command](args)
    except UsageError as exc:
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
