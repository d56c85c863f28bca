"""The ``symlip`` command line (also ``python -m symlip``).

Commands
--------
derive      print a bound of MATH.md §3 (text or LaTeX), or its value on a box
activation  print an activation's constants S0, S1, S2, c0 with provenance
bench       run the benchmarks and write reports/bench.json

Bad arguments exit with code 2 and one line on stderr.
"""
from __future__ import annotations

import argparse
import sys
from typing import Sequence

__all__ = ["main"]


class _UsageError(Exception):
    """A bad command-line argument: one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not usage + message
        raise _UsageError(f"{self.prog}: {message} (see '{self.prog} --help')")


def _floats(text: str) -> list[float]:
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def _ints(text: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def _params(items: Sequence[str]) -> dict[str, float]:
    out = {}
    for item in items:
        key, sep, val = item.partition("=")
        if not sep:
            raise _UsageError(f"--param expects NAME=VALUE, got {item!r}")
        try:
            out[key.strip()] = float(val)
        except ValueError:
            raise _UsageError(f"--param {key.strip()} expects a number, got {val!r}") from None
    return out


def _build_parser() -> _Parser:
    from symlip.bounds import QUANTITIES

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

    a = sub.add_parser("activation", help="print S0, S1, S2, c0 with provenance")
    a.add_argument("spec", help="registry name (tanh, gelu, ...) or expression in t")
    a.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")

    b = sub.add_parser("bench", help="run the benchmarks and write reports/bench.json")
    b.add_argument("--quick", action="store_true", help="small sizes (seconds, for smoke tests)")
    b.add_argument("--out", default="reports/bench.json", help="JSON output path")
    return p


def _version() -> str:
    from symlip import __version__

    return f"symlip {__version__}"


def _cmd_derive(args: argparse.Namespace) -> int:
    import sympy as sp

    from symlip.activations import activation
    from symlip.bounds import derive
    from symlip.network import MLP
    from symlip.region import Region

    widths = args.widths
    if len(widths) < 2:
        raise ValueError(f"--widths needs at least two entries d_0,...,d_m; got {widths}")
    act = activation(args.activation, **_params(args.param))
    depth = len(widths) - 1
    bound = derive(args.quantity, depth)
    if (args.omega is None) != (args.beta is None):
        raise ValueError("give both --omega and --beta (the box region), or neither")
    if args.omega is not None:
        net = MLP(widths, act)
        omega = args.omega[0] if len(args.omega) == 1 else args.omega
        beta = args.beta[0] if len(args.beta) == 1 else args.beta
        value = bound.evaluate(net, Region.box(omega, beta), R=args.R, Y=args.Y)
        print(f"{bound.name} for widths {widths}, {act.name}, box ω={args.omega} β={args.beta}, "
              f"R={args.R:g}{'' if args.Y is None else f', Y={args.Y:g}'}:")
        print(f"{value:.17g}")
        return 0
    special = bound.specialize(widths=widths, activation=act)
    if args.latex:
        print(bound.latex(unrolled=False))
        print(f"% with widths {widths} and {act.name} "
              f"({', '.join(str(c) for c in act.constants.values())})")
        print(special.latex(unrolled=depth <= 3))
    else:
        print(special)
        if depth <= 3:
            print("unrolled:", sp.sstr(special.expr))
    return 0


def _cmd_activation(args: argparse.Namespace) -> int:
    from symlip.activations import activation

    act = activation(args.spec, **_params(args.param))
    print(f"{act.name}: σ(t) = {act.expr}")
    for c in act.constants.values():
        print(f"  {c}" + (f"  [{c.how}]" if c.how else ""))
    classes = [c for c in ("lipschitz", "smooth", "bounded") if act.in_class(c)]
    print(f"  classes: {', '.join(classes) or 'none'}")
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from symlip._bench import format_table, run_bench

    print(format_table(run_bench(out_path=args.out, quick=args.quick)))
    print(f"wrote {args.out}")
    return 0


_COMMANDS = {"derive": _cmd_derive, "activation": _cmd_activation, "bench": _cmd_bench}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code (0 ok, 2 bad arguments)."""
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
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"symlip: error: {first}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
