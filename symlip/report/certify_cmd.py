"""``symlip certify``: print the certified sandwich of a local constant and write its
certificate (issue 15; :func:`symlip.certify.certify`)."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from symlip.report.index import DEFAULT_OUT

__all__ = ["certify_command"]


def certify_command(args: argparse.Namespace, params: dict[str, float]) -> int:
    """``symlip certify`` (arguments parsed by :mod:`symlip.cli`; ``params``: the activation's
    ``--param`` values); returns the exit code: 0 for ``certified``/``proved``, 1 otherwise."""
    from symlip.activations.registry import activation
    from symlip.certify import certify
    from symlip.models.network import MLP
    from symlip.models.region import Region
    from symlip.search.claims import Claim

    widths = args.widths
    net = MLP(widths, activation(args.activation, **params))
    if (args.omega is None) != (args.beta is None):
        raise ValueError("give both --omega and --beta (the box region), or neither")
    if args.omega is not None and args.ball is not None:
        raise ValueError("give --ball or --omega/--beta, not both")
    if args.omega is not None:
        omega = args.omega[0] if len(args.omega) == 1 else args.omega
        beta = args.beta[0] if len(args.beta) == 1 else args.beta
        region, where = Region.box(omega, beta), f"box ω={args.omega} β={args.beta}"
    else:
        radius = 0.3 if args.ball is None else args.ball
        center = net.init(args.init_seed) if args.center == "init" else [0.0] * net.n_params
        region = Region.ball(center, radius)
        at = f"init seed {args.init_seed}" if args.center == "init" else "0"
        where = f"ball |θ-θ0| <= {radius:g} (θ0 = {at})"
    target: Any = args.quantity
    if args.bound is not None:
        if len(args.bound) != 1:
            raise ValueError(f"--bound takes one number; got {args.bound}")
        target = Claim(f"{args.quantity} <= {args.bound[0]:g}", args.quantity, float(args.bound[0]))

    def progress(boxes: int, lower: float, upper: float) -> None:
        print(f"  ... {boxes} boxes, lower {lower:.8g}, upper {upper:.8g}", flush=True)

    cert = certify(target, net, region, R=args.R, Y=args.Y, budget=args.budget, tol=args.tol, seed=args.seed,
                   max_boxes=args.max_boxes, progress=None if args.quiet else progress)
    name = f"{args.quantity}_{'-'.join(map(str, widths))}_{net.activation.name}.json"
    path = cert.save(args.out or Path(DEFAULT_OUT) / "certify" / "".join(c if c.isalnum() or c in "._-" else "_"
                                                                          for c in name))
    print(f"{args.quantity} of {list(widths)} {net.activation.name} on {where}, |x| <= {args.R:g}"
          + ("" if args.Y is None else f", |y| <= {args.Y:g}") + f": true constant in [{cert.lower:.8g}, "
          f"{cert.upper:.8g}] (gap {cert.gap:.6g}), {cert.status}, {cert.boxes} boxes, {cert.seconds:.1f} s")
    if cert.bound is not None:
        print(f"claimed bound {cert.bound:.8g}: looseness bound/true in [{cert.bound / cert.upper:.6g}, "
              + (f"{cert.bound / cert.lower:.6g}]" if cert.lower > 0 else "inf]"))
    print(cert.message)
    print(f"certificate: {path} (re-check with symlip replay {path})")
    return 0 if cert.status in ("certified", "proved") else 1
