"""A standing fuzz suite for bad input (issue 12): refused clearly, never run, never a result.

What every bad input must give:

* on the command line (``symlip.cli.main`` in process, cwd a fresh temporary folder):
  exit code 2 and exactly ONE line on stderr starting ``symlip: error:``, nothing on
  stdout, no ``Traceback``, no file written;
* in the API: a ``ValueError`` or ``TypeError`` (subclasses allowed) whose message
  names the bad value (or the field), and no result;
* expressions (activation specs, claim bounds, witness fields) are never run: a
  sentinel file that an injection would create must not appear;
* a malformed witness file is refused (exit 2, one line); a tampered one (its
  evidence edited: points, network, bound, stated values) never replays as
  ``violated`` (exit 0).

The inputs are hand-written tables (every entry is checked, and a failing test lists
all mishandled entries) and hypothesis-generated junk (derandomized, no shrinking,
one failing example per test).  Every call runs under a time guard, so a hang is a
failure and not a stuck suite.  With ``SYMLIP_FUZZ_REPORT=FILE`` every mishandled
input is appended to FILE (one JSON line each) instead of failing its test, and the
last test fails with the full list.  The last test also prints how many distinct bad
inputs were tried (``pytest -s`` or ``-rA`` shows it).
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import re
import resource
import shutil
import signal
import tempfile
import textwrap
import unicodedata
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings, strategies as st

from symlip import MLP, Claim, Region, derive, falsify
from symlip.cli import main

#: seconds before a call counts as a hang (a bad input must be refused long before)
GUARD = 8.0
#: hypothesis settings: reproducible, no shrinking (time-bounded even when something fails)
FUZZ = dict(deadline=None, derandomize=True, phases=[Phase.explicit, Phase.generate], print_blob=False,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                   HealthCheck.filter_too_much, HealthCheck.data_too_large])
SENTINEL = "SENTINEL"
REPORT = os.environ.get("SYMLIP_FUZZ_REPORT")
#: distinct bad inputs tried, as (area, input) pairs
TRIED: set[tuple[str, str]] = set()
#: mishandled inputs recorded in report mode
FOUND: list[str] = []


# ---------------------------------------------------------------------------
# bookkeeping
# ---------------------------------------------------------------------------
def _show(what: Any) -> str:
    text = repr(what)
    return text if len(text) <= 160 else f"{text[:120]}... ({len(text)} characters)"


def _record(area: str, what: Any, problems: list[str]) -> list[str]:
    """Count the input; return its problem line (empty list when it was handled well)."""
    TRIED.add((area, repr(what)))
    if not problems:
        return []
    line = f"[{area}] {_show(what)}: {'; '.join(problems)}"
    if REPORT:
        FOUND.append(line)
        with open(REPORT, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"area": area, "input": _show(what), "problems": problems}) + "\n")
    return [line]


def _fail_if(lines: list[str]) -> None:
    if lines and not REPORT:
        raise AssertionError(f"{len(lines)} bad input(s) mishandled:\n" + "\n".join(lines))


class _Hang(BaseException):
    """A call ran past :data:`GUARD` (a BaseException: ``except Exception`` in library code
    cannot swallow it)."""


@contextlib.contextmanager
def _guard(seconds: float = GUARD) -> Iterator[None]:
    """Time and memory limits around one call: a hang raises :class:`_Hang`, an allocation beyond
    :data:`MEMORY` bytes more address space a ``MemoryError`` (a bad size must not take the machine's
    memory: ``growth --depth 1000000000`` reached 15 GB in 8 s)."""
    def alarm(signum: int, frame: Any) -> None:
        raise _Hang(f"still running after {seconds:g} s")

    old = signal.signal(signal.SIGALRM, alarm)
    limits = _limit_memory()
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        if limits is not None:
            resource.setrlimit(resource.RLIMIT_AS, limits)


#: address space a guarded call may add (bytes)
MEMORY = 3 << 30


def _limit_memory() -> tuple[int, int] | None:
    """Lower the soft address-space limit to the current size + :data:`MEMORY`; returns the old limits."""
    try:
        with open("/proc/self/statm") as fh:
            size = int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):  # pragma: no cover - not Linux
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = size + MEMORY
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    if soft != resource.RLIM_INFINITY and soft <= limit:
        return None
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    return soft, hard


def _tree(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``folder`` (bytecode caches aside) with its size and mtime."""
    out = {}
    for p in folder.rglob("*"):
        if "__pycache__" in p.parts:
            continue
        st_ = p.stat()
        out[str(p.relative_to(folder))] = (st_.st_size, st_.st_mtime_ns)
    return out


# ---------------------------------------------------------------------------
# assets: valid inputs the bad ones are variations of (built once per session)
# ---------------------------------------------------------------------------
CATALOGUE = """
from symlip import MLP, Claim, Region
from symlip.search.claims import Case

CASES = [Case(Claim("fuzz-ok", "lip_f", 100.0), MLP([2, 1], "tanh"), Region.box(1.0, 1.0), R=1.0)]
"""

EVIL = f"""
open({SENTINEL!r}, "w").write("imported")
CASES = []
"""


@pytest.fixture(scope="session")
def assets(tmp_path_factory) -> Path:
    """A folder with a valid catalogue, a torch state dict, witness files of every kind (made here by
    falsify, audit_constant and a moment claim), a file, an empty folder and a malicious module."""
    from symlip.search.audit import audit_constant
    from symlip.training.moment_claims import MomentCase, MomentClaim

    base = tmp_path_factory.mktemp("fuzz-assets")
    (base / "cat.py").write_text(CATALOGUE)
    (base / "evil.py").write_text(EVIL)
    (base / "afile.txt").write_text("not a catalogue, a model or a witness\n")
    (base / "adir").mkdir()
    (base / "junk.bin").write_bytes(bytes(range(256)) * 4)
    net = MLP([3, 1], "tanh")
    v = falsify(Claim("fuzz-program", "lip_f", "0.98*sqrt(1 + R**2)", expect="fails"), net,
                Region.box(1.0, 1.0), R=1.5, max_evals=100, seed=0)
    assert v.status == "violated", v.message
    v.witness.save(base / "program.json")
    v = falsify(Claim("fuzz-number", "lip_f", 1.0, expect="fails"), net, Region.box(1.0, 1.0), R=1.5,
                max_evals=100, seed=0)
    assert v.status == "violated", v.message
    v.witness.save(base / "number.json")
    step = MLP([1, 2, 1], "relu")
    th = step.flatten([(np.array([[1.0], [1.0]]), np.array([0.0, -1.0])), (np.array([[1.0, -1.0]]), np.zeros(1))])
    a = audit_constant(step, th, 0.5, R=2.0, budget=0.5, max_evals=300, tool="0.5")
    assert a.status == "violated", a.message
    a.witness.save(base / "audit.json")
    small = MLP([2, 3, 1], "tanh")
    rng = np.random.default_rng(0)
    case = MomentCase(MomentClaim("fuzz-var-x8", "var", predict=lambda m: m.var * 8, rel_tol=0.05, expect="fails"),
                      small, small.init(seed=1), rng.normal(size=(16, 2)), rng.normal(size=16), batch_size=4,
                      eta=0.01, n_steps=400)
    mv = case.run(seed=0)
    assert mv.status == "violated", mv.message
    mv.witness.save(base / "moment.json")
    try:
        import torch
        from torch import nn
    except ImportError:  # pragma: no cover - the peers extra is installed in CI
        pass
    else:
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1)).double()
        torch.save(model.state_dict(), base / "model.pt")
        torch.save({"weight": _Evil()}, base / "evil.pt")   # unpickling it would run a command
    return base


class _Evil:
    def __reduce__(self):
        return (os.system, (f"touch {SENTINEL}",))


@contextlib.contextmanager
def _sandbox(assets: Path) -> Iterator[Path]:
    """A fresh copy of the assets as the working directory."""
    tmp = Path(tempfile.mkdtemp(prefix="symlip-fuzz-"))
    old = os.getcwd()
    try:
        shutil.copytree(assets, tmp, dirs_exist_ok=True)
        os.chdir(tmp)
        yield tmp
    finally:
        os.chdir(old)
        shutil.rmtree(tmp, ignore_errors=True)


# ---------------------------------------------------------------------------
# the checks
# ---------------------------------------------------------------------------
def _run_cli(argv: list[str], capsys) -> tuple[Any, str, str]:
    """``main(argv)`` in process: (exit code or what happened instead, stdout, stderr)."""
    capsys.readouterr()
    extra = ""
    try:
        with _guard():
            try:
                rc: Any = main(list(argv))
            except SystemExit as exc:       # argparse's --help/--version, or code calling sys.exit
                rc = exc.code if isinstance(exc.code, int) else f"SystemExit({exc.code!r})"
    except _Hang as exc:
        rc = f"hang ({exc})"
    except Exception as exc:  # noqa: BLE001 - escaping main is what a user sees as a traceback
        rc = f"raised {type(exc).__name__}"
        extra = f"Traceback (escaped main): {type(exc).__name__}: {exc}"
    out = capsys.readouterr()
    return rc, out.out, out.err + extra


def _cli_problems(rc: Any, out: str, err: str, written: list[str], sentinel: bool) -> list[str]:
    problems = []
    if rc != 2:
        problems.append(f"exit {rc!r}, expected 2")
    lines = err.splitlines()
    if "Traceback" in out + err:
        problems.append(f"traceback: {err.strip().splitlines()[-1][:200] if err.strip() else out[-200:]!r}")
    elif len(lines) != 1 or not lines[0].startswith("symlip: error:"):
        problems.append(f"stderr {err[:240]!r}, expected one line 'symlip: error: ...'")
    if out.strip():
        problems.append(f"printed {out.strip()[:120]!r}")
    if written:
        problems.append(f"wrote {written[:4]}")
    if sentinel:
        problems.append("RAN CODE: the sentinel file was created")
    return problems


def _check_cli(area: str, argv: list[str], assets: Path, capsys) -> list[str]:
    """A bad command line: exit 2, one line 'symlip: error: ...', nothing printed or written."""
    with _sandbox(assets) as box:
        before = _tree(box)
        rc, out, err = _run_cli(argv, capsys)
        after = _tree(box)
        written = sorted(k for k in after if before.get(k) != after[k])
        sentinel = (box / SENTINEL).exists()
    return _record(area, argv, _cli_problems(rc, out, err, written, sentinel))


_KEYWORDS = ("empty", "long", "characters", "deep", "nest", "parenthes", "exponent", "power", "syntax",
             "blank", "whitespace")


def _names(msg: str, value: Any, field: str | None = None) -> bool:
    """Whether an error message names the bad value (or its field, or, for text, one of its tokens)."""
    low = msg.lower()
    if field and (field.lower() in low or field.lower().rstrip("s") in low):
        return True
    if isinstance(value, str):
        text = value.strip()
        if text and (text[:30] in msg or repr(text)[1:-1][:30] in msg):
            return True
        tokens = re.findall(r"[^\W\d]\w*|\d+(?:\.\d+)?", text)
        if any(repr(t) in msg or f'"{t}"' in msg or (len(t) >= 2 and t in msg)
               or (t not in ("t", "R") and re.search(rf"(?<!\w){re.escape(t)}(?!\w)", msg)) for t in tokens):
            return True
        return any(k in low for k in _KEYWORDS)
    if isinstance(value, (list, tuple)) and value:
        return any(_names(msg, v) for v in value) or repr(value) in msg
    for form in (repr(value), str(value)):
        if form and form in msg:
            return True
    return False


def _check_api(area: str, what: Any, call: Callable[[], Any], value: Any, field: str | None = None,
               sentinel_in: Path | None = None) -> list[str]:
    """A bad API call: ValueError/TypeError naming ``value`` (or ``field``), no result."""
    problems = []
    try:
        with _guard():
            result = call()
    except _Hang as exc:
        problems.append(f"hang ({exc})")
    except (ValueError, TypeError) as exc:
        if not _names(str(exc), value, field):
            problems.append(f"{type(exc).__name__} does not name the bad value: {str(exc)[:200]!r}")
    except Exception as exc:  # noqa: BLE001
        problems.append(f"{type(exc).__name__}: {str(exc)[:200]!r}, expected ValueError/TypeError")
    else:
        problems.append(f"accepted, returned {_show(result)[:120]}")
    if sentinel_in is not None and (sentinel_in / SENTINEL).exists():
        problems.append("RAN CODE: the sentinel file was created")
        (sentinel_in / SENTINEL).unlink()
    return _record(area, what, problems)


# ---------------------------------------------------------------------------
# bad values
# ---------------------------------------------------------------------------
SECONDS = ["0", "-1", "-0.5", "nan", "NaN", "inf", "-inf", "1e400", "1e300", "abc", "", " ", "1,5", "0x10"]
SEED = ["-1", "1.5", "abc", "", " ", "1e3", "nan", "inf", "0x1f", "--"]
MAX_EVALS = ["9", "0", "-5", "1e3", "abc", "", "nan", "100000000000000000000"]
WIDTHS = ["", " ", "3", "3,,1", ",3,1", "3,1,", "0,1", "-1,1", "3,0,1", "a,b", "3.5,1", "nan,1", "3;1",
          "1000000000000,1", "3,1e3", "3, ,1"]
FLOATS = ["-1", "nan", "inf", "-inf", "", " ", "1,,2", "a", "1e400", "1;2", ",1"]
RADII = ["-1", "nan", "inf", "-inf", "x", "", "1e400"]
PARAMS = ["alpha", "alpha=", "=1", "alpha=x", "alpha=nan", "alpha=inf", "beta=1", "alpha=1", "alpha=-1"]
LEAKY_PARAMS = ["alpha=-1", "alpha=nan", "alpha=inf", "alpha=x", "gamma=1", "alpha=", "alpha=1e400"]

INJECTIONS = [
    f"__import__('os').system('touch {SENTINEL}')",
    f"t + __import__('os').system('touch {SENTINEL}')",
    f"__import__('os').system('touch {SENTINEL}') or t",
    f"open('{SENTINEL}', 'w').write('x')",
    f"exec(\"open('{SENTINEL}', 'w')\")",
    f"eval(\"__import__('os').system('touch {SENTINEL}')\")",
    f"(lambda: __import__('os').system('touch {SENTINEL}'))()",
    "t.__class__",
    "t.__class__.__base__.__subclasses__()",
    "().__class__.__bases__[0].__subclasses__()",
    "tanh(t).func",
    "lambda t: t",
    "[t for t in range(3)]",
    "getattr(t, 'func')",
    "t if t else t",
    "'tanh(t)'",
    "t[0]",
    "(x := t)",
    "import os",
    "t; import os",
    "Symbol('t').__init__",
    "Function('f')(t)",
    "sympy.tanh(t)",
    "tanh(t, evaluate=False)",
]
SPECIAL = ["nan", "oo", "-oo", "zoo", "I", "t*I", "sqrt(-1)*t", "1/0", "0**-1", "S*t", "S.Pi*t", "E**t**t**t"]
MALFORMED = ["", " ", "tanh(t", "t)", "((t)", "t +", "* t", "tanh()", "t t", "1e", "t**", "t\n+1", "#t",
             "t # comment", "\\t", "t@t", "t//2", "t%2", "~t", "t<<1", "t and t", "not t"]
HUGE = ["t**10**10", "2**2**2**2**2**2*t", "t**(10**100)", "(" * 1000 + "t" + ")" * 1000,
        "tanh(" * 1000 + "t" + ")" * 1000, "t+" * 5000 + "t", "1" * 10000 + "*t", "-" * 10000 + "t"]
UNKNOWN = ["foo", "x", "tanh(x)", "sigma(t)", "t*y", "Tanh(t)", "relux"]
BAD_EXPRESSIONS = INJECTIONS + SPECIAL + MALFORMED + HUGE + UNKNOWN
#: claim bounds: the same in the bound's own symbols
BAD_BOUNDS = (INJECTIONS + [re.sub(r"\bt\b", "R", b) for b in SPECIAL + MALFORMED + HUGE
                            if b != "E**t**t**t"]  # E**R**R**R is a fine bound (e at R = 1)
              + ["S*R", "foo*R", "x", "R*y", "omega_0", "omega_99", "t", "nan*R", "oo*R", "zoo", "-1", "-R",
                 "R - 10"])

BAD_PATHS = ["does-not-exist.py", "adir", "afile.txt", "", "junk.bin", "nested/missing/x.py", "/dev/null",
             "💥.py"]


def _not_a_number(s: str) -> bool:
    for conv in (float, lambda x: int(x, 0)):
        try:
            conv(s)
            return False
        except (ValueError, TypeError):
            pass
    return True


#: text that no option accepts as a number (nor as a word some option takes, like 'all' or 'product')
JUNK = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
               min_size=1, max_size=12).filter(
    lambda s: _not_a_number(s) and s.strip().lower() not in ("all", "product", "eclipse", "eclipse-fast",
                                                             "eclipse-local", "tanh", "relu", "lip_f"))


def _foreign(ch: str) -> bool:
    """A character that is no part of any valid expression (not ASCII, not folded to ASCII)."""
    return ord(ch) > 127 and unicodedata.normalize("NFKC", ch) == ch and not ch.isspace()


#: expressions made invalid by a foreign character
JUNK_EXPR = st.tuples(
    st.sampled_from(["", "t + ", "tanh(t) * ", "sqrt(1 + t**2) - "]),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=0,
            max_size=6),
    st.text(alphabet=st.characters(blacklist_categories=("Cs", "Zs", "Zl", "Zp", "Cc")).filter(_foreign),
            min_size=1, max_size=3),
    st.sampled_from(["", " * t", " + 1"]),
).map(lambda p: p[0] + p[1] + p[2] + p[3])


# ---------------------------------------------------------------------------
# the command line
# ---------------------------------------------------------------------------
#: per command: a valid (fast) command line, and the options with their bad values; a value is
#: appended as "OPTION VALUE" (store options: the last one counts) or replaces a positional "<name>"
COMMANDS: dict[str, tuple[list[str], dict[str, list[str]]]] = {
    "derive": (["derive", "--widths", "2,3,1"], {
        "--widths": WIDTHS, "--activation": BAD_EXPRESSIONS, "--param": PARAMS,
        "--quantity": ["foo", "", "LIP_F", "lip_f "],
        "--omega": FLOATS + ["1,2,3"], "--beta": FLOATS + ["1,2,3"], "--R": RADII, "--Y": RADII}),
    "activation": (["activation", "<spec>"], {"<spec>": BAD_EXPRESSIONS, "--param": PARAMS}),
    "check": (["check", "<path>", "--max-evals", "10", "--budget", "0.3", "--quiet", "--report", "rep"], {
        "<path>": BAD_PATHS, "--budget": SECONDS, "--seed": SEED, "--max-evals": MAX_EVALS,
        "--report": ["afile.txt"], "--json": ["adir"]}),
    "growth": (["growth", "--depth", "2", "--points", "3", "--out", "rep"], {
        "--activation": BAD_EXPRESSIONS[:30], "--param": PARAMS,
        "--depth": ["0", "-1", "x", "1.5", "", "1000000000"], "--quantity": ["lip_input", "foo", ""],
        "--width": ["0", "-3", "x", "1000000000000"], "--R": RADII,
        "--radii": ["1", "2,1", "0,10", "-1,10", "nan,10", "1,,10", "1,2,3", "1,1e400", "1,5", "", "1,inf"],
        "--points": ["0", "2", "-1", "x", "100000000"], "--out": ["afile.txt"]}),
    "demo": (["demo", "<name>", "--quick", "--out", "rep"], {
        "<name>": ["foo", "", "STEPSIZE", "stepsize;rm"], "--seed": SEED, "--out": ["afile.txt"]}),
    "dynamics": (["dynamics", "--quick", "--report", "rep"], {"--seed": SEED, "--report": ["afile.txt"]}),
    "audit": (["audit", "<model>", "--activation", "tanh", "--input-radius", "1", "--tool", "1.0", "--budget",
               "0.2", "--report", "rep"], {
        "<model>": BAD_PATHS + ["evil.pt", "cat.py"], "--input-radius": ["0", "-1", "nan", "x", "", "-inf"],
        "--tool": ["foo", "0", "-1", "nan", "inf", "", "eclipse-x", "1e400", "-inf"], "--budget": SECONDS,
        "--seed": SEED, "--widths": WIDTHS + ["3,1", "2,4,1"], "--activation": BAD_EXPRESSIONS[:30],
        "--param": PARAMS, "--report": ["afile.txt"]}),
    "peers": (["peers", "--quick", "--budget", "0.2", "--report", "rep"], {
        "--seed": SEED, "--budget": SECONDS, "--report": ["afile.txt"]}),
    "replay": (["replay", "<witness>", "--dps", "20"], {
        "<witness>": BAD_PATHS + ["cat.py", "model.pt"],
        "--dps": ["15", "0", "-1", "x", "1.5", "", "1000000000", "nan"]}),
    "bench": (["bench", "--quick", "--out", "rep/bench.json"], {"--out": ["adir", "", "afile.txt/x.json"]}),
}
DEFAULTS = {"<spec>": "tanh", "<path>": "cat.py", "<name>": "stepsize", "<model>": "model.pt",
            "<witness>": "program.json"}
#: other bad command lines: unknown commands and options, missing arguments
OTHER_ARGV = [["foo"], ["--bogus"], ["derive"], ["derive", "--bogus", "1"], ["check"], ["replay"],
              ["audit", "model.pt"], ["activation"], ["demo"], ["check", "cat.py", "--budget"],
              ["derive", "--widths", "2,1", "--widths"], ["Derive", "--widths", "2,1"]]


def _argv(command: str, option: str, value: str) -> list[str]:
    base, _ = COMMANDS[command]
    argv = [DEFAULTS.get(a, a) for a in base]
    if option.startswith("<"):
        argv[base.index(option)] = value
        return argv
    extra = {"--R": ["--omega", "1", "--beta", "1"], "--Y": ["--omega", "1", "--beta", "1", "--quantity",
                                                             "lip_loss_grad"],
             "--omega": ["--beta", "1"], "--beta": ["--omega", "1"]}
    if command == "derive":
        argv += extra.get(option, [])
    return argv + [option, value]


def _table_cli() -> list[tuple[str, list[str]]]:
    rows = []
    for command, (_, options) in COMMANDS.items():
        for option, values in options.items():
            rows += [(command, _argv(command, option, v)) for v in values]
    return rows + [("other", argv) for argv in OTHER_ARGV]


def test_cli_valid_bases_work(assets, capsys):
    """The valid command lines the bad ones vary are accepted (else the tables test nothing): the fast
    ones run, the slow ones (demo, dynamics, peers, bench) are parsed (``--help`` after them)."""
    lines = []
    for command in COMMANDS:
        base, _ = COMMANDS[command]
        argv = [DEFAULTS.get(a, a) for a in base]
        slow = command in ("demo", "dynamics", "peers", "bench")
        with _sandbox(assets):
            rc, out, err = _run_cli(argv + ["--help"] if slow else argv, capsys)
        if rc not in ((0,) if slow else (0, 1)) or "Traceback" in err:
            lines.append(f"{argv}: exit {rc!r}, stderr {err[-300:]!r}")
    assert not lines, lines


def test_cli_table(assets, capsys):
    """Every listed bad value of every option of every command (and bad command lines)."""
    lines = []
    for area, argv in _table_cli():
        lines += _check_cli(f"cli {area}", argv, assets, capsys)
    _fail_if(lines)


_OPTIONS = [(c, o) for c, (_, opts) in COMMANDS.items() for o in opts
            if o not in ("--report", "--out", "--json") and not (c in ("growth", "demo", "dynamics", "peers",
                                                                      "bench") and o.startswith("<"))]


@settings(max_examples=150, **FUZZ)
@given(which=st.sampled_from(_OPTIONS), junk=JUNK)
def test_cli_junk_values(assets, capsys, which, junk):
    """Random non-numeric text (unicode, control characters) as any option's value."""
    command, option = which
    if option in ("--activation", "<spec>"):
        junk = "t" + junk + "\u2603"      # an expression made invalid whatever the junk
    _fail_if(_check_cli(f"cli {command} junk", _argv(command, option, junk), assets, capsys))


@settings(max_examples=60, **FUZZ)
@given(command=st.sampled_from(["derive", "audit"]),
       parts=st.lists(st.integers(1, 5), min_size=2, max_size=4), hole=st.integers(0, 3),
       filler=st.sampled_from(["", " ", "  ", "\t"]))
def test_cli_empty_fields(assets, capsys, command, parts, hole, filler):
    """An empty field in a comma-separated list ('3,,1') is an error, not dropped."""
    fields = [str(p) for p in parts]
    fields.insert(hole % (len(fields) + 1), filler)
    _fail_if(_check_cli(f"cli {command} empty field", _argv(command, "--widths", ",".join(fields)), assets,
                        capsys))


@settings(max_examples=60, **FUZZ)
@given(expr=JUNK_EXPR, where=st.sampled_from(["activation", "derive", "growth"]))
def test_cli_junk_expressions(assets, capsys, expr, where):
    option = "<spec>" if where == "activation" else "--activation"
    _fail_if(_check_cli(f"cli {where} junk expression", _argv(where, option, expr), assets, capsys))


# ---------------------------------------------------------------------------
# expressions through the API
# ---------------------------------------------------------------------------
def test_api_bad_activation_expressions(assets):
    from symlip.activations.registry import activation

    lines = []
    with _sandbox(assets) as box:
        for text in BAD_EXPRESSIONS:
            lines += _check_api("api activation", text, lambda: activation(text), text, sentinel_in=box)
            lines += _check_api("api MLP activation", text, lambda: MLP([2, 1], text), text, sentinel_in=box)
    _fail_if(lines)


def test_api_bad_claim_bounds(assets):
    """A claim's bound text: refused when the claim is made or, at the latest, before a value comes out."""
    net, box_region = MLP([2, 3, 1], "tanh"), Region.box(1.0, 1.0)
    lines = []
    with _sandbox(assets) as box:
        for text in BAD_BOUNDS:
            def call(text=text):
                claim = Claim("fuzz", "lip_f", text)
                return claim.bound_value(net, box_region, R=1.0)
            lines += _check_api("api claim bound", text, call, text, sentinel_in=box)
    _fail_if(lines)


@settings(max_examples=60, **FUZZ)
@given(expr=JUNK_EXPR)
def test_api_junk_expressions(assets, expr):
    from symlip.activations.registry import activation

    with _sandbox(assets) as box:
        _fail_if(_check_api("api activation junk", expr, lambda: activation(expr), expr, sentinel_in=box)
                 + _check_api("api claim junk", expr.replace("t", "R"),
                              lambda: Claim("fuzz", "lip_f", expr.replace("t", "R")).bound_value(
                                  MLP([2, 1], "tanh"), Region.box(1.0, 1.0), R=1.0),
                              expr.replace("t", "R"), sentinel_in=box))


# ---------------------------------------------------------------------------
# claims, regions, networks, derive, falsify: bad arguments through the API
# ---------------------------------------------------------------------------
NAN, INF = float("nan"), float("inf")
NOT_NUMBERS = ["1", "abc", None, {"a": 1}, complex(1, 1), True, object()]
BAD_NONNEG = [-1.0, -1e-300, NAN, INF, -INF] + NOT_NUMBERS


def _api_cases() -> list[tuple[str, Any, Callable[[], Any], Any, str]]:
    """(area, input, call, bad value, field) for every bad argument of the public constructors."""
    from symlip.activations.registry import activation

    net, box = MLP([2, 3, 1], "tanh"), Region.box(1.0, 1.0)
    good = Claim("fuzz-ok", "lip_f", 100.0)
    theta = net.init(seed=0)
    rows: list[tuple[str, Any, Callable[[], Any], Any, str]] = []

    def add(area: str, field: str, value: Any, call: Callable[[], Any]) -> None:
        rows.append((area, (field, value), call, value, field))

    for v in ["", "  ", None, 5, b"x", ["a"]]:
        add("Claim", "name", v, lambda v=v: Claim(v, "lip_f", 1.0))
    for v in ["foo", "", None, 3, "LIP_F", "lip_f "]:
        add("Claim", "quantity", v, lambda v=v: Claim("c", v, 1.0))
    for v in [-1.0, NAN, INF, -INF, True, None, [1.0, 2.0], complex(1, 2), object(), b"R", {"R": 1}]:
        add("Claim", "bound", v, lambda v=v: Claim("c", "lip_f", v).bound_value(net, box, R=1.0))
    for v in ["foo", ("smooth", "bad"), 5, ["lipschitz", None]]:
        add("Claim", "assumptions", v, lambda v=v: Claim("c", "lip_f", 1.0, assumptions=v))
    for v in ["maybe", None, True, "HOLDS"]:
        add("Claim", "expect", v, lambda v=v: Claim("c", "lip_f", 1.0, expect=v))
    for v in ["up", None, "LOWER"]:
        add("Claim", "direction", v, lambda v=v: Claim("c", "lip_f", 1.0, direction=v))
    add("Claim", "direction", "lower", lambda: Claim("c", "lip_input", 1.0, direction="lower"))
    for v in BAD_NONNEG + [[], [[1.0]], [1.0, NAN], [1.0, -1.0], np.array([]), "1"]:
        add("Region.box", "omega", v, lambda v=v: Region.box(v, 1.0))
        add("Region.box", "beta", v, lambda v=v: Region.box(1.0, v))
    for v in [[], [NAN], [INF], "abc", [[1.0, 2.0]], None, [1.0, "a"], 5.0, np.zeros((2, 2)), [True, False]]:
        add("Region.ball", "center", v, lambda v=v: Region.ball(v, 1.0))
    for v in BAD_NONNEG + [[1.0]]:
        add("Region.ball", "radius", v, lambda v=v: Region.ball(theta, v))
    add("Region.ball", "center", "wrong length", lambda: falsify(good, net, Region.ball(np.zeros(3), 1.0),
                                                                  max_evals=20))
    add("Region.box", "omega", "wrong length", lambda: falsify(good, net, Region.box([1.0, 2.0, 3.0], 1.0),
                                                                max_evals=20))
    for v in [[], [3], [3, 0], [3, -1], [3.5, 1], ["3", 1], "31", None, [True, 1], [3, NAN], 5,
              [10 ** 12, 10 ** 12], [3, 10 ** 30]]:
        add("MLP", "widths", v, lambda v=v: MLP(v, "tanh"))
    for v in [None, 5, object(), "", "   ", 1.5]:
        add("MLP", "activation", v, lambda v=v: MLP([2, 1], v))
    for v in ["foo", None, 1, "LIP_F"]:
        add("derive", "quantity", v, lambda v=v: derive(v, 2))
    for v in [0, -1, 1.5, "2", None, True, NAN, 10 ** 6, 10 ** 18]:
        add("derive", "depth", v, lambda v=v: derive("lip_f", v))
    for v in [-1.0, NAN, INF, "1", True, [1.0], -INF]:
        add("falsify", "R", v, lambda v=v: falsify(good, net, box, R=v, max_evals=20))
        add("falsify", "Y", v, lambda v=v: falsify(Claim("c", "lip_loss_grad", 1e6), net, box, Y=v,
                                                   max_evals=20))
    for v in [0, -1.0, NAN, INF, "1", True, 1e300]:
        add("falsify", "budget", v, lambda v=v: falsify(good, net, box, budget=v))
    for v in [9, 0, -1, 1.5, "10", True, 10 ** 20]:
        add("falsify", "max_evals", v, lambda v=v: falsify(good, net, box, max_evals=v))
    for v in [-1, 1.5, "0", True, None]:
        add("falsify", "seed", v, lambda v=v: falsify(good, net, box, seed=v, max_evals=20))
    for v in ["foo", [], ["foo"], 5, [5], ["hypothesis", None]]:
        add("falsify", "strategies", v, lambda v=v: falsify(good, net, box, strategies=v, max_evals=20))
    for v in [14, 0, 1.5, "50", True, None, 10 ** 9]:
        add("falsify", "dps", v, lambda v=v: falsify(good, net, box, dps=v, max_evals=20))
    for v in ["net", None, 5]:
        add("falsify", "net", v, lambda v=v: falsify(good, v, box, max_evals=20))
        add("falsify", "region", v, lambda v=v: falsify(good, net, v, max_evals=20))
        add("falsify", "claim", v, lambda v=v: falsify(v, net, box, max_evals=20))
    for v in [theta[:-1], np.append(theta, 0.0), np.full_like(theta, NAN), "theta", None, theta.reshape(1, -1)]:
        add("MLP.f", "theta", _show(v), lambda v=v: net.f(v, np.zeros(2)))
    for v in [np.zeros(3), np.full(2, INF), "x", None, np.zeros((2, 2, 2))]:
        add("MLP.f", "X", _show(v), lambda v=v: net.f(theta, v))
    for v in [-1.0, NAN, "1", None, True, INF]:
        add("MLP.init", "scale", v, lambda v=v: net.init(seed=0, scale=v))
    for v in [-1, 1.5, "seed", [1.5]]:
        add("MLP.init", "seed", v, lambda v=v: net.init(seed=v))
    for v in [-1.0, NAN, "1e-12", True]:
        add("Region.contains", "tol", v, lambda v=v: box.contains(net, theta, tol=v))
    from symlip.models.region import sample_inputs
    for dim, R, n in [(0, 1.0, 3), (2, -1.0, 3), (2, NAN, 3), (2, 1.0, -1), (2, 1.0, 1.5), ("2", 1.0, 3),
                      (2, "1", 3), (2, 1.0, None), (True, 1.0, 3), (2, INF, 3)]:
        bad = next(x for x, ok in ((dim, isinstance(dim, int) and not isinstance(dim, bool) and dim >= 1),
                                   (R, isinstance(R, float) and math.isfinite(R) and R >= 0),
                                   (n, isinstance(n, int) and n >= 0)) if not ok)
        rows.append(("sample_inputs", (dim, R, n), lambda a=(dim, R, n): sample_inputs(*a), bad, ""))
    for v in [14, -1, 1.5, "50", None, True, 10 ** 9]:
        from symlip.core.precision import workdps

        def use(v=v):
            with workdps(v):
                return 1
        add("workdps", "dps", v, use)
    for v in ["x", None, object(), [1, "a"], complex(1, 1), True]:
        from symlip.core.precision import to_mp
        add("to_mp", "a", v, lambda v=v: to_mp(v))
    for v in [-1.0, NAN, INF]:
        add("activation", "alpha", v, lambda v=v: activation("leaky_relu", alpha=v))
    add("activation", "gamma", 1.0, lambda: activation("leaky_relu", gamma=1.0))
    add("activation", "alpha", 0.1, lambda: activation("tanh", alpha=0.1))
    return rows


def test_api_bad_arguments():
    lines = []
    for area, what, call, value, field in _api_cases():
        lines += _check_api(f"api {area}", what, call, value, field)
    _fail_if(lines)


def _moment_rows() -> list[tuple[str, Any, Callable[[], Any], Any, str]]:
    from symlip.training.moment_claims import MomentCase, MomentClaim

    net = MLP([2, 3, 1], "tanh")
    rng = np.random.default_rng(0)
    th, X, y = net.init(seed=1), rng.normal(size=(16, 2)), rng.normal(size=16)
    claim = MomentClaim("m", "var")
    ok = dict(claim=claim, net=net, theta=th, X=X, y=y, batch_size=4, eta=0.01, n_steps=200)
    rows = []

    def add(field: str, value: Any, **kw: Any) -> None:
        args = {**ok, **kw}
        rows.append(("MomentCase", (field, _show(value)), lambda a=args: MomentCase(**a).moments(), value, field))

    for v in [0, -1, 1.5, "4", True, None, 17, 10 ** 9]:
        add("batch_size", v, batch_size=v, replacement=False)
    for v in [0, -0.1, NAN, INF, "0.1", None, True]:
        add("eta", v, eta=v)
    for v in [th[:-1], np.full_like(th, NAN), "theta"]:
        add("theta", v, theta=v)
    for v in [X[:, :1], np.full_like(X, INF), "X", X[:0]]:
        add("X", v, X=v)
    for v in [y[:-1], np.full_like(y, NAN), "y"]:
        add("y", v, y=v)
    for v in ["yes", None, 1.5]:
        add("replacement", v, replacement=v)
    for v in ["hinge", None, 5]:
        add("loss", v, loss=v)
    for v in [99, 0, -5, 1.5, "200", 10 ** 12]:
        add("n_steps", v, n_steps=v)
    for v in [0, -1.0, NAN, INF, "1"]:
        add("weight", v, weight=v)
    for v in [-1.0, NAN, INF, "1"]:
        add("Y", v, Y=v)
    for field, kw in [("statistic", {"statistic": "median"}), ("rel_tol", {"rel_tol": -0.1}),
                      ("rel_tol", {"rel_tol": NAN}), ("alpha", {"alpha": 0.0}), ("alpha", {"alpha": 1.0}),
                      ("expect", {"expect": "maybe"}), ("name", {"name": ""}), ("predict", {"predict": "foo"})]:
        args = {"name": "m", "statistic": "var", **kw}
        rows.append(("MomentClaim", (field, _show(kw[field])), lambda a=args: MomentClaim(**a), kw[field], field))
    return rows


def test_api_bad_moment_cases():
    lines = []
    for area, what, call, value, field in _moment_rows():
        lines += _check_api(f"api {area}", what, call, value, field)
    _fail_if(lines)


def test_api_bad_audit_arguments():
    from symlip.search.audit import audit_constant, exact_input_lipschitz, input_lipschitz_lower_bound
    from symlip.peers import audit_tools

    net = MLP([2, 3, 1], "relu")
    theta = net.init(seed=0)
    rows = []
    for v in [0, -1.0, NAN, INF, "1", True, [1.0]]:
        rows.append(("R", v, lambda v=v: input_lipschitz_lower_bound(net, theta, R=v, max_evals=20)))
        rows.append(("R", v, lambda v=v: exact_input_lipschitz(net, theta, R=v)))
    for v in [0, -1.0, NAN, INF, "1", True, None]:
        rows.append(("claimed", v, lambda v=v: audit_constant(net, theta, v, R=1.0, max_evals=20)))
    for v in [0, -1.0, NAN, "1", True]:
        rows.append(("budget", v, lambda v=v: input_lipschitz_lower_bound(net, theta, R=1.0, budget=v)))
    for v in [theta[:-1], np.full_like(theta, NAN), "theta", None]:
        rows.append(("theta", _show(v), lambda v=v: exact_input_lipschitz(net, v, R=1.0)))
    tools = [[], "product", ["foo"], [0], [-1.0], [NAN], [INF], [object()], [None], ["product", "eclipse-x"], 5,
             None]
    lines = []
    for field, value, call in rows:
        bad = None if field == "theta" else value
        lines += _check_api("api audit", (field, value), call, bad, field)
    for v in tools:
        bad = v[-1] if isinstance(v, list) and v else v
        lines += _check_api("api audit", ("tools", _show(v)), lambda v=v: audit_tools(net, theta, v, R=1.0, budget=30.0),
                            bad, "tools")
    _fail_if(lines)


@settings(max_examples=80, **FUZZ)
@given(omega=st.one_of(st.floats(max_value=-1e-300), st.just(NAN), st.just(INF), JUNK,
                       st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=1, max_size=3)
                       .filter(lambda xs: not all(math.isfinite(x) and x >= 0 for x in xs))),
       radius=st.one_of(st.floats(max_value=-1e-300), st.just(NAN), st.just(INF), JUNK))
def test_api_regions_hypothesis(omega, radius):
    net = MLP([2, 3, 1], "tanh")
    _fail_if(_check_api("api Region.box hypothesis", ("omega", omega), lambda: Region.box(omega, 1.0), omega,
                        "omega")
             + _check_api("api Region.ball hypothesis", ("radius", radius),
                          lambda: Region.ball(net.init(seed=0), radius), radius, "radius"))


# ---------------------------------------------------------------------------
# catalogue files
# ---------------------------------------------------------------------------
BAD_CATALOGUES = {
    "cases_int": "CASES = 5\n",
    "cases_none": "CASES = None\n",
    "cases_str": "CASES = 'abc'\n",
    "cases_dict": "CASES = {'a': 1}\n",
    "cases_raising": "def CASES():\n    raise RuntimeError('boom in CASES')\n",
    "cases_raising_generator": "def CASES():\n    yield 1 / 0\n",
    "cases_wrong_entries": "CASES = [None, 3, 'claim']\n",
    "cases_callable_wrong": "def CASES():\n    return 7\n",
    "cases_empty": "CASES = []\n",
    "no_cases": "X = 1\n",
    "syntax_error": "CASES = [\n",
    "import_error": "import symlip_no_such_module\nCASES = []\n",
    "raising_import": "raise ValueError('boom at import')\n",
    "raising_lookup": "raise KeyError('boom at import')\n",
    "bad_case": textwrap.dedent("""
        from symlip import MLP, Claim, Region
        from symlip.search.claims import Case
        CASES = [Case(Claim("c", "lip_f", 1.0), MLP([2, 1], "tanh"), Region.box(1.0, 1.0), R=-1.0)]
        """),
    "recursion": "def f():\n    return f()\nCASES = f()\n",
    "binary": "\x00\x01\x02",
}


def test_bad_catalogue_files(assets, capsys):
    from symlip.search.catalogue import load_cases

    lines = []
    for k, (name, text) in enumerate(BAD_CATALOGUES.items()):
        with _sandbox(assets) as box:
            path = box / f"fuzzcat_{k}_{name}.py"
            path.write_text(text)
            if name != "cases_empty":     # an empty list is a valid answer of the API; the CLI refuses it
                lines += _check_api("api load_cases", (name, text[:60]), lambda p=path: load_cases([str(p)]),
                                    None, path.name)
        lines += _check_cli_file(f"cli check {name}", name, text, k, assets, capsys)
    _fail_if(lines)


def _check_cli_file(area: str, name: str, text: str, k: int, assets: Path, capsys) -> list[str]:
    with _sandbox(assets) as box:
        path = box / f"fuzzcli_{k}_{name}.py"
        path.write_text(text)
        before = _tree(box)
        argv = ["check", path.name, "--max-evals", "10", "--budget", "0.3", "--quiet", "--report", "rep"]
        rc, out, err = _run_cli(argv, capsys)
        after = _tree(box)
        written = sorted(k_ for k_ in after if before.get(k_) != after[k_])
        problems = _cli_problems(rc, out, err, written, (box / SENTINEL).exists())
        if rc == 2 and path.name not in err:
            problems.append(f"the error does not name the file: {err.strip()[:200]!r}")
    return _record(area, (name, text[:60]), problems)


# ---------------------------------------------------------------------------
# witness files: valid ones mutated field by field
# ---------------------------------------------------------------------------
#: fields whose edit a replay must notice (exit 1 or 2, never 0), per witness kind; other fields
#: (names, seeds, notes) only must not crash it
EVIDENCE = {
    "program": {"format", "quantity", "widths", "activation", "region", "R", "theta", "theta2", "x", "value",
                "bound", "value_mp", "bound_mp", "ratio", "bound_spec"},
    "number": {"format", "quantity", "widths", "activation", "region", "R", "theta", "theta2", "x", "value",
               "bound", "value_mp", "bound_mp", "ratio", "bound_spec"},
    "audit": {"kind", "format", "R", "widths", "activation", "theta", "x", "x2", "value", "value_mp"},
    "moment": {"kind", "statistic", "rel_tol", "alpha", "widths", "activation", "theta", "X", "y", "batch_size",
               "eta", "replacement", "loss", "n_steps", "prediction", "seeds", "runs"},
}
#: fields that may legitimately be absent or null (deleting them or setting null is not an edit to catch)
OPTIONAL = {"Y", "x2", "y", "theta2", "value_mp", "bound_mp", "source", "model", "why", "dps",
            "confirmed_digits", "strategy", "seed", "expect", "ratio"}
#: edits of the input radius that keep the pair admissible state a weaker claim the pair still violates
#: (for a number bound or an audited constant, which do not depend on R)
_WEAKER = {("number", "R"): ("halved", "doubled", "1e300"), ("audit", "R"): ("halved", "doubled", "1e300", "null")}


def _must_notice(kind: str, key: str, label: str, old: Any, new: Any) -> bool:
    if key not in EVIDENCE[kind] or json.dumps(old) == json.dumps(new):
        return False
    return label not in _WEAKER.get((kind, key), ())

INJECT = f"__import__('os').system('touch {SENTINEL}')"


def _number_edits(v: float) -> list[tuple[str, Any]]:
    return [("nan", NAN), ("inf", INF), ("-inf", -INF), ("1e300", 1e300), ("-1e300", -1e300), ("zero", 0.0),
            ("negative", -abs(v) - 1.0), ("halved", v / 2 if v else 0.5), ("doubled", v * 2 if v else 2.0)]


def _mutations(d: dict[str, Any], kind: str) -> list[tuple[str, dict[str, Any], bool]]:
    """(label, mutated dict, must-notice) for every field of ``d``."""
    out: list[tuple[str, dict[str, Any], bool]] = []
    evidence = EVIDENCE[kind]

    def put(label: str, key: str, value: Any, notice: bool | None = None) -> None:
        m = json.loads(json.dumps(d))
        m[key] = value
        out.append((f"{key}: {label}", m, _must_notice(kind, key, label, d.get(key), value) if notice is None
                    else notice))

    for key, v in d.items():
        m = json.loads(json.dumps(d))
        del m[key]
        out.append((f"{key}: deleted", m, key in evidence and key not in OPTIONAL))
        for label, bad in [("junk text", "junk"), ("empty dict", {}), ("nested list", [[["deep"]]])]:
            put(label, key, bad)
        if v is not None and key not in OPTIONAL:
            put("null", key, None)
        if isinstance(v, bool):
            put("flipped", key, not v)
        elif isinstance(v, (int, float)):
            for label, bad in _number_edits(float(v)):
                put(label, key, bad if isinstance(v, float) or not math.isfinite(bad) else int(bad)
                    if abs(bad) < 1e18 else bad)
            put("numeric string", key, str(v))
        elif isinstance(v, str):
            put("injected expression", key, INJECT, notice=key in evidence or key in ("activation", "quantity"))
            put("empty string", key, "")
            put("10k characters", key, "t+" * 5000 + "t")
        elif isinstance(v, list) and v:
            put("one entry short", key, v[:-1])
            put("one entry more", key, v + [v[-1]])
            flat = v[0] if isinstance(v[0], list) else v
            if flat and isinstance(flat[0], (int, float)) and not isinstance(flat[0], bool):
                for label, bad in [("nan entry", NAN), ("1e300 entry", 1e300), ("string entry", "1")]:
                    m = json.loads(json.dumps(d))
                    (m[key][0] if isinstance(v[0], list) else m[key])[0] = bad
                    out.append((f"{key}: {label}", m, key in evidence))
                m = json.loads(json.dumps(d))
                row = m[key][0] if isinstance(v[0], list) else m[key]
                row[0] = row[0] + 1e-3 if isinstance(row[0], float) else row[0] + 1
                # a pair moved along an affine piece of a ReLU network keeps its ratio: still a valid witness
                affine = d.get("kind") == "input-lipschitz" and key in ("x", "x2")
                out.append((f"{key}: first entry moved", m, key in evidence and not affine))
        elif isinstance(v, dict):
            for sub, sv in v.items():
                m = json.loads(json.dumps(d))
                del m[key][sub]
                # deleting a field that holds its default (None, [], {}) changes nothing
                out.append((f"{key}.{sub}: deleted", m, key in evidence and sub != "name" and bool(sv)))
                for label, bad in [("junk", "junk"), ("null", None), ("injected expression", INJECT),
                                   ("nan", NAN), ("list", [1, 2])]:
                    if json.dumps(bad) == json.dumps(sv):
                        continue
                    m = json.loads(json.dumps(d))
                    m[key][sub] = bad
                    notice = key in evidence and sub != "name"      # a display name: any text will do
                    out.append((f"{key}.{sub}: {label}", m, notice))
    # semantic edits: the file disagrees with itself
    act = d.get("activation")
    if isinstance(act, dict) and isinstance(act.get("expr"), str):
        m = json.loads(json.dumps(d))
        m["activation"]["expr"] = f"3*({act['expr']})"
        out.append(("activation: name 'tanh' kept, expression tripled", m, True))
        m = json.loads(json.dumps(d))
        m["activation"]["name"] = "sigmoid" if act.get("name") != "sigmoid" else "tanh"
        out.append(("activation: name swapped, expression kept", m, True))
    elif isinstance(act, str):
        put("an expression instead of the name", "activation", "3*tanh(t)", notice=True)
        put("another registry name", "activation", "sigmoid" if act != "sigmoid" else "tanh", notice=True)
    spec = d.get("bound_spec")
    if isinstance(spec, dict) and spec.get("kind") == "bound" and isinstance(spec.get("result"), str):
        m = json.loads(json.dumps(d))
        m["bound_spec"]["result"] = f"({spec['result']})/2"
        out.append(("bound_spec: program lowered (result halved)", m, True))
    if isinstance(spec, dict) and spec.get("kind") == "number":
        for label, val in [("1e-300", 1e-300), ("halved", spec["value"] / 2)]:
            m = json.loads(json.dumps(d))
            m["bound_spec"]["value"] = val
            out.append((f"bound_spec: number bound {label}", m, True))
    if isinstance(spec, dict):
        m = json.loads(json.dumps(d))
        m["bound_spec"] = {"kind": "source"}
        m["source"] = "evil.py::0"
        out.append(("bound_spec: code from a source file next to it", m, True))
    if kind == "moment":
        m = json.loads(json.dumps(d))
        m["prediction"] = [p / 2 for p in d["prediction"]]
        out.append(("prediction: halved", m, True))
        m = json.loads(json.dumps(d))
        m["runs"][0]["observed"] = [2 * o for o in d["runs"][0]["observed"]]
        out.append(("runs: observed doubled", m, True))
        for label, val in [("1e12", 10 ** 12), ("-1", -1)]:
            put(f"n_steps {label}", "n_steps", val, notice=True)
    if kind == "audit":
        put("value doubled", "value", 2 * d["value"], notice=True)
    return out


RAW_FILES = {
    "empty": "", "not json": "{kind: tanh", "list": "[]", "string": '"witness"', "number": "5", "null": "null",
    "empty object": "{}", "moment kind only": '{"kind": "sgd-moment"}', "audit kind only": '{"kind": "input-lipschitz"}',
    "unknown kind": '{"kind": "bogus"}', "format only": '{"format": "symlip-witness/1"}',
    "deeply nested": "[" * 100000 + "]" * 100000, "NaN literal": '{"kind": NaN}',
    "invalid utf-8": b"\xff\xfe\x00junk".decode("latin-1"),
}


def _check_replay(area: str, label: str, data: Any, notice: bool, assets: Path, capsys, raw: bool = False
                  ) -> list[str]:
    with _sandbox(assets) as box:
        path = box / "mutated.json"
        if raw:
            path.write_bytes(data.encode("latin-1") if isinstance(data, str) else data)
        else:
            path.write_text(json.dumps(data), encoding="utf-8")
        before = _tree(box)
        rc, out, err = _run_cli(["replay", path.name, "--dps", "20"], capsys)
        after = _tree(box)
        written = sorted(k for k in after if before.get(k) != after[k])
        sentinel = (box / SENTINEL).exists()
    problems = []
    if "Traceback" in out + err or not isinstance(rc, int) or rc not in (0, 1, 2):
        problems.append(f"exit {rc!r}, {'traceback ' if 'Traceback' in out + err else ''}"
                        f"{(err.strip().splitlines() or [''])[-1][:200]!r}")
    elif rc == 2:
        lines = err.splitlines()
        if len(lines) != 1 or not lines[0].startswith("symlip: error:"):
            problems.append(f"exit 2 with stderr {err[:240]!r}, expected one line 'symlip: error: ...'")
    elif rc == 0 and notice:
        problems.append("replayed as violated (exit 0) though the file was edited")
    if written:
        problems.append(f"wrote {written[:4]}")
    if sentinel:
        problems.append("RAN CODE: the sentinel file was created")
    return _record(area, label, problems)


@pytest.mark.parametrize("kind", ["program", "number", "audit", "moment"])
def test_witness_mutations(assets, capsys, kind):
    """Every field of a valid witness deleted, mistyped, non-finite, resized, injected or edited."""
    valid = json.loads((assets / f"{kind}.json").read_text())
    with _sandbox(assets):
        rc, out, err = _run_cli(["replay", f"{kind}.json", "--dps", "20"], capsys)
    assert rc == 0, (kind, out, err)    # the valid file replays as violated
    lines = []
    for label, data, notice in _mutations(valid, kind):
        lines += _check_replay(f"replay {kind}", label, data, notice, assets, capsys)
    _fail_if(lines)


def test_witness_raw_files(assets, capsys):
    lines = []
    for label, text in RAW_FILES.items():
        lines += _check_replay("replay raw file", label, text, True, assets, capsys, raw=True)
    _fail_if(lines)


@settings(max_examples=40, **FUZZ)
@given(kind=st.sampled_from(["program", "audit", "moment"]), data=st.data())
def test_witness_random_edits(assets, capsys, kind, data):
    """Random values (any JSON) in random fields."""
    valid = json.loads((assets / f"{kind}.json").read_text())
    key = data.draw(st.sampled_from(sorted(valid)))
    value = data.draw(st.recursive(st.none() | st.booleans() | st.floats() | st.integers() | JUNK,
                                   lambda inner: st.lists(inner, max_size=3) | st.dictionaries(JUNK, inner,
                                                                                                max_size=3),
                                   max_leaves=6))
    m = dict(valid)
    m[key] = value
    # a new radius may state a weaker claim the pair still violates (see _WEAKER); other evidence is checked
    notice = (key in EVIDENCE[kind] and key != "R" and not (value is None and key in OPTIONAL)
              and json.dumps(value) != json.dumps(valid[key]))
    _fail_if(_check_replay(f"replay {kind} random", (key, value), m, notice, assets, capsys))


# ---------------------------------------------------------------------------
# summary
# ---------------------------------------------------------------------------
def test_zz_summary(record_property):
    """How many distinct bad inputs this run tried (and, in report mode, every mishandled one)."""
    areas: dict[str, int] = {}
    for area, _ in TRIED:
        key = area.split()[0] + (" " + area.split()[1] if len(area.split()) > 1 else "")
        areas[key] = areas.get(key, 0) + 1
    record_property("distinct_bad_inputs", len(TRIED))
    print(f"\nfuzz: {len(TRIED)} distinct bad inputs tried: "
          + ", ".join(f"{k} {v}" for k, v in sorted(areas.items())))
    assert not FOUND, f"{len(FOUND)} bad inputs mishandled (listed in {REPORT}):\n" + "\n".join(FOUND[:200])
