"""The command line's argument types and parser pieces: one-line errors (exit 2), numbers and
lists with their allowed ranges, subcommands with a description and examples (used by
:mod:`symlip.cli`)."""
from __future__ import annotations

import argparse
import math
from typing import Any, Callable, Sequence

from symlip.report.index import DEFAULT_OUT
from symlip.search.falsify import MAX_BUDGET

__all__ = ["MAX_WIDTH", "floats", "ints", "UsageError", "Parser", "Formatter", "add_command", "add_out", "fields", "number_list", "positive_float",
           "positive_seconds", "radius", "tool_name", "int_at_least", "parse_params"]

#: the largest layer width the command line accepts
MAX_WIDTH = 1_000_000


class UsageError(Exception):
    """A bad command-line argument: one line, exit code 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not usage + message
        if message.startswith("argument --") and message.endswith(": expected one argument"):
            opt = message[len("argument "):].split(":")[0].split("/")[0]
            message += f" (a value starting with '-' is written {opt}=VALUE, e.g. {opt}=-1)"
        raise UsageError(f"symlip: error: {message} (see '{self.prog} --help')")


def fields(text: str, expected: str) -> list[str]:
    """The comma-separated fields of ``text``; an empty or blank field is an error."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"empty value {text!r}; expected {expected}")
    fields = text.split(",")
    if any(not f.strip() for f in fields):
        raise argparse.ArgumentTypeError(f"empty field in {text!r}; expected {expected}")
    return [f.strip() for f in fields]


def number_list(kind: type, expected: str, ok: Callable[[Any], bool], bad: str) -> Callable[[str], list]:
    """A parser of comma-separated ``kind`` values each passing ``ok`` (no empty fields);
    ``bad`` words a value that fails ``ok``."""
    word = "a number" if kind is float else "an integer"

    def parse(text: str) -> list:
        out = []
        for f in fields(text, expected):
            try:
                v = kind(f)
            except ValueError:
                raise argparse.ArgumentTypeError(f"{f!r} in {text!r} is not {word}; expected {expected}") from None
            if not ok(v):
                raise argparse.ArgumentTypeError(f"{f!r} in {text!r} is {bad}; expected {expected}")
            out.append(v)
        return out

    return parse


#: comma-separated finite numbers (no empty fields, no nan or inf)
floats = number_list(float, "comma-separated finite numbers such as 2 or 2,1.5", math.isfinite, "not finite")
#: comma-separated integers from 1 to MAX_WIDTH (layer widths)
ints = number_list(int, f"comma-separated positive integers such as 3,16,1 (each at most {MAX_WIDTH})",
                     lambda v: 1 <= v <= MAX_WIDTH, "out of range")


def positive_float(text: str, expected: str, bad_value: str | None = None) -> float:
    """``float(text)`` when finite and > 0, else an ArgumentTypeError ``expected ..., got ...``
    (``bad_value`` words the error for a number that is not positive and finite)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"{bad_value or 'expected ' + expected}, got {text!r}")
    return value


def positive_seconds(text: str) -> float:
    value = positive_float(text, "a positive number of seconds")
    if value > MAX_BUDGET:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds up to {MAX_BUDGET:g} "
                                         f"(one day), got {text!r}")
    return value


def radius(text: str) -> float | None:
    """A positive input radius, or None for 'inf'/'all' (all of R^d)."""
    if text.strip().lower() == "all":
        return None
    try:
        if float(text) == math.inf:
            return None
    except ValueError:
        pass  # worded by positive_float
    return positive_float(text, "a positive radius or 'inf'")


def tool_name(text: str) -> str:
    """A tool name of :data:`symlip.peers.TOOLS` (lower-cased) or a claimed constant, checked by
    :func:`symlip.peers.check_tool`."""
    from symlip.peers import check_tool

    name = text.strip()
    try:
        kind = check_tool(name)
    except (TypeError, ValueError) as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return name.lower() if kind == "name" else name


def int_at_least(low: int, high: int | None = None) -> Callable[[str], int]:
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


def parse_params(items: Sequence[str]) -> dict[str, float]:
    out = {}
    for item in items:
        key, sep, val = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"symlip: error: --param expects NAME=VALUE, got {item!r}")
        try:
            out[key.strip()] = float(val)
        except ValueError:
            raise UsageError(f"symlip: error: --param {key.strip()} expects a number, got {val!r}") from None
    return out


class Formatter(argparse.HelpFormatter):
    """Descriptions wrapped, examples (an epilog starting ``examples:``) as written; every
    option's default in its help."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if text.startswith("examples:"):
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if ("default" in text or action.default is None or action.default is False or action.default == []
                or action.default is argparse.SUPPRESS or not action.option_strings):
            return text
        return text + " (default: %(default)s)"


def add_command(sub: Any, name: str, help: str, description: str, examples: Sequence[str]) -> Parser:
    """A subcommand with a help line, a description paragraph and examples."""
    return sub.add_parser(name, help=help, description=description, formatter_class=Formatter,
                          epilog="examples:\n" + "\n".join(f"  {e}" for e in examples))


def add_out(parser: Parser, command: str, what: str, *, alias: bool = True) -> None:
    """``--out DIR`` (also ``--report DIR``), default ``symlip-out/COMMAND``: never the committed reports/."""
    names = ("--out", "--report") if alias else ("--out",)
    parser.add_argument(*names, dest="out", default=f"{DEFAULT_OUT}/{command}", metavar="DIR",
                        help=f"output folder: {what}; the reference reports are written with --out reports")
