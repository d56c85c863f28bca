"""Regenerate every reference report in ``reports/``: ``python -m symlip.report.regenerate``.

Runs the command lines of :data:`symlip.report.index.REFERENCE_RUNS` one after the
other (from the repository root, where ``proofs/`` is), each as ``python -m symlip
...``; each records its command and date in ``reports/runs.json`` and rewrites
``reports/README.md``.  The full set takes tens of minutes and needs the
``peers`` extra (torch, eclipse-nn).  ``--list`` prints the commands, ``--only
NAME`` (repeatable) runs some of them.  Exit code: the largest of the commands'.
"""
from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
from typing import Sequence

from symlip.report.index import REFERENCE_RUNS

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run (or ``--list``) the reference commands; returns the largest exit code."""
    names = [name for name, _ in REFERENCE_RUNS]
    p = argparse.ArgumentParser(prog="python -m symlip.report.regenerate",
                                description="Regenerate the reference reports in reports/ (run from the "
                                            "repository root).")
    p.add_argument("--list", action="store_true", help="print the commands and exit")
    p.add_argument("--only", action="append", choices=names, metavar="NAME",
                   help=f"run only these (repeatable): {', '.join(names)}")
    args = p.parse_args(argv)
    runs = [(n, a) for n, a in REFERENCE_RUNS if not args.only or n in args.only]
    code = 0
    for name, cmd in runs:
        line = "symlip " + shlex.join(cmd)
        print(line, flush=True)
        if not args.list:
            code = max(code, subprocess.call([sys.executable, "-m", "symlip", *cmd]))
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
