"""README.md runs as pasted: every ``python`` block prints the ``text`` block that follows it,
every ``$ symlip ...`` line of a ``console`` block prints what follows it, and following the
README leaves the committed reference reports alone.

Blocks run in README order, each in a fresh interpreter, in one scratch folder holding a copy
of ``proofs/`` and ``reports/`` (a later block may use a file an earlier one wrote, as a reader's
would).  Outputs are compared as doctest does with ``ELLIPSIS`` (``...`` matches anything),
after trailing blanks are stripped and every ``<number> s`` (wall-clock seconds) is replaced
by ``<sec> s``.  A directive ``<!-- readme-test: WORDS -->`` just above a block marks it:
``slow`` (run only with ``SYMLIP_README_SLOW=1``), ``needs torch``/``eclipse`` (skipped
without them), ``no-run``, ``targets`` (exit 1 allowed: a benchmark target failed, which the
output says).

The scratch interpreters lift the activation derivation's time limits tenfold, so that a
loaded machine prints what an idle one does (``exact`` rather than ``certified``).
"""
from __future__ import annotations

import doctest
import hashlib
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
SLOW = os.environ.get("SYMLIP_README_SLOW") == "1"

#: run first in every scratch interpreter: the derivation's time limits, ten times longer
PRELUDE = """\
import symlip.activations.constants as _c
for _n in ("CALL_SECONDS", "_EXACT_BUDGET", "CERT_SECONDS", "NUMERIC_SECONDS", "_TOTAL_SECONDS"):
    setattr(_c, _n, 10 * getattr(_c, _n))   # the limits constants.py reads at call time
del _c, _n
"""
CLI = PRELUDE + "import sys\nfrom symlip.cli import main\nsys.exit(main(sys.argv[1:]))\n"

_FENCE = re.compile(r"^```(\w*)\s*$")
_DIRECTIVE = re.compile(r"^<!-- readme-test: (.*) -->\s*$")
_SECONDS = re.compile(r"\d+(?:\.\d+)? s\b")


@dataclass(frozen=True)
class Example:
    kind: str            # "python" or "cli"
    line: int            # README line of the block
    source: str          # code, or the command line after ``$ ``
    want: str | None     # expected output (None: not shown, only the exit code is checked)
    marks: frozenset[str]

    @property
    def id(self) -> str:
        head = self.source.splitlines()[0] if self.kind == "cli" else f"python@{self.line}"
        return head[:70]


def _blocks(text: str) -> list[tuple[str, int, list[str], frozenset[str]]]:
    """(language, first line number, lines, directive words) of every fenced block."""
    out, lines, k, marks = [], text.splitlines(), 0, frozenset()
    while k < len(lines):
        d = _DIRECTIVE.match(lines[k])
        m = _FENCE.match(lines[k])
        if d:
            marks = frozenset(d.group(1).split())
        elif m:
            end = next(j for j in range(k + 1, len(lines)) if lines[j].startswith("```"))
            out.append((m.group(1), k + 1, lines[k + 1:end], marks))
            marks, k = frozenset(), end
        elif lines[k].strip():
            marks = frozenset()
        k += 1
    return out


def _examples() -> list[Example]:
    blocks = _blocks(README.read_text(encoding="utf-8"))
    found = []
    for i, (lang, line, body, marks) in enumerate(blocks):
        if "no-run" in marks:
            continue
        if lang == "python":
            nxt = blocks[i + 1] if i + 1 < len(blocks) else None
            want = "\n".join(nxt[2]) + "\n" if nxt and nxt[0] == "text" and _adjacent(line, body, nxt[1]) else ""
            found.append(Example("python", line, "\n".join(body) + "\n", want, marks))
        elif lang == "console":
            cmd, want = None, []
            for text in body + ["$ "]:
                if text.startswith("$ "):
                    if cmd:
                        found.append(Example("cli", line, cmd, "\n".join(want) + "\n" if want else None, marks))
                    cmd, want = text[2:].strip(), []
                else:
                    want.append(text)
    return found


def _adjacent(line: int, body: list[str], next_line: int) -> bool:
    """The next block starts right after this one (blank lines between at most)."""
    text = README.read_text(encoding="utf-8").splitlines()
    return all(not t.strip() for t in text[line + len(body) + 1:next_line - 1])


def _normal(text: str) -> str:
    return "\n".join(_SECONDS.sub("<sec> s", t.rstrip()) for t in text.splitlines()).strip("\n") + "\n"


EXAMPLES = _examples()


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    """A scratch folder with copies of proofs/ and reports/, shared by the README's blocks."""
    box = tmp_path_factory.mktemp("readme")
    shutil.copytree(ROOT / "proofs", box / "proofs")
    shutil.copytree(ROOT / "reports", box / "reports")
    return box


def _run(argv: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "PYTHONIOENCODING": "utf-8", "COLUMNS": "100"}
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def _skip_unless_ready(ex: Example) -> None:
    if "slow" in ex.marks and not SLOW:
        pytest.skip("slow README example: set SYMLIP_README_SLOW=1")
    if "torch" in ex.marks:
        pytest.importorskip("torch")
    if "eclipse" in ex.marks:
        pytest.importorskip("eclipse_nn")


def test_readme_has_examples():
    kinds = [e.kind for e in EXAMPLES]
    assert kinds.count("python") >= 7 and kinds.count("cli") >= 10
    assert all(e.want for e in EXAMPLES if e.kind == "python" and "print(" in e.source), \
        "a python block that prints has no output block after it"


@pytest.mark.parametrize("ex", EXAMPLES, ids=[e.id for e in EXAMPLES])
def test_readme_example(ex, sandbox):
    _skip_unless_ready(ex)
    if ex.kind == "python":
        proc = _run([sys.executable, "-c", PRELUDE + ex.source], sandbox, timeout=900)
    else:
        argv = shlex.split(ex.source, comments=True)
        assert argv[0] == "symlip", ex.source
        if argv[1] == "audit" and not (sandbox / argv[2]).exists():
            pytest.skip(f"{argv[2]} is written by the README's audit example (torch)")
        proc = _run([sys.executable, "-c", CLI, *argv[1:]], sandbox, timeout=1800)
    allowed = (0, 1) if "targets" in ex.marks else (0,)
    assert proc.returncode in allowed, f"{ex.source}\nexit {proc.returncode}\n{proc.stderr[-2000:]}"
    if ex.want is not None:
        checker = doctest.OutputChecker()
        want, got = _normal(ex.want), _normal(proc.stdout)
        assert checker.check_output(want, got, doctest.ELLIPSIS), \
            f"README line {ex.line}: {ex.source.splitlines()[0]}\n--- README shows\n{want}--- today prints\n{got}"


def _tree(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_readme_leaves_reference_reports_alone(sandbox):
    """After the README's commands (all but the main job and the full regeneration, which
    are not run here) the copy of reports/ is unchanged: nothing written, nothing removed."""
    assert _tree(sandbox / "reports") == _tree(ROOT / "reports")
    assert (sandbox / "symlip-out").is_dir()
