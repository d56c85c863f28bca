"""docs/theory.md agrees with the code it describes.

* Every block of the document marked ``<!-- checked: QUANTITY general -->`` or
  ``<!-- checked: QUANTITY m=DEPTH -->`` is compared, line by line and ignoring
  whitespace, with the LaTeX that :meth:`symlip.Bound.latex` (what
  ``symlip derive --latex`` prints) gives for ``derive(QUANTITY, DEPTH)``: the
  general-depth closed form, resp. the recursion at that depth.  A change of a
  recursion in ``symlip/bounds.py`` fails this test until the document is updated.
* Every section number that the code and the catalogue cite has its section.
* Every mutant of ``proofs/mutants`` and every family of true claims is stated.

Nothing is parsed as code: the document's formulas are compared as strings.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import sympy as sp

from symlip import derive
from symlip.bounds.symbolic import QUANTITIES, general_form

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "theory.md"
_BLOCK = re.compile(r"<!-- checked: (\w+) (general|m=(\d+)) -->\s*\n\$\$\n(.*?)\n\$\$", re.S)


@pytest.fixture(scope="module")
def text() -> str:
    return DOC.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def blocks(text: str) -> dict[tuple[str, str], list[str]]:
    out: dict[tuple[str, str], list[str]] = {}
    for match in _BLOCK.finditer(text):
        key = (match.group(1), match.group(2))
        assert key not in out, f"block {key} appears twice in {DOC.name}"
        out[key] = _normalized(match.group(4).splitlines())
    return out


def _normalized(lines: list[str]) -> list[str]:
    """Lines without any whitespace (LaTeX spacing is not meaning), empty lines dropped."""
    return [s for s in (re.sub(r"\s+", "", line) for line in lines) if s]


def _section(latex: str, header: str) -> list[str]:
    """The ``aligned`` block that follows the comment line starting with ``header``."""
    lines = latex.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header)) + 1
    end = next(i for i in range(start, len(lines)) if lines[i].strip() == r"\end{aligned}")
    return lines[start:end + 1]


def expected(quantity: str, which: str) -> list[str]:
    """What the code prints for a block key (``"general"`` or ``"m=3"``)."""
    if quantity == "lip_input":  # no recursion: the closed form and the unrolled product
        if which == "general":
            (lhs, rhs), = general_form(quantity)
            return _normalized([r"\begin{aligned}", rf"{sp.latex(lhs)} &= {sp.latex(rhs)} \\", r"\end{aligned}"])
        latex = derive(quantity, int(which[2:])).latex(unrolled=True)
        lines = latex.splitlines()
        return _normalized(lines[lines.index("% unrolled") + 1:])
    if which == "general":
        return _normalized(_section(derive(quantity, 3).latex(unrolled=False), "% general depth m"))
    depth = int(which[2:])
    return _normalized(_section(derive(quantity, depth).latex(unrolled=False), f"% recursion at depth m = {depth}"))


def test_every_bound_has_its_checked_blocks(blocks):
    for q in QUANTITIES:
        assert (q, "general") in blocks, f"docs/theory.md lacks the general form of {q}"
        assert (q, "m=3") in blocks, f"docs/theory.md lacks the depth-3 recursion of {q}"
    assert all(q in QUANTITIES for q, _ in blocks)


@pytest.mark.parametrize("quantity", list(QUANTITIES))
def test_document_states_the_derived_recursions(blocks, quantity):
    for (q, which), lines in blocks.items():
        if q == quantity:
            assert lines == expected(q, which), (
                f"docs/theory.md block '{q} {which}' differs from the derivation in symlip/bounds.py; "
                f"the code prints:\n" + "\n".join(expected(q, which)))


def test_the_comparison_sees_a_changed_recursion(blocks):
    """Not vacuous: U2 with S2 written as S1 (a mutant of proofs/) no longer matches."""
    changed = derive("lip_grad", 3).subs({"S2": sp.Symbol("S1")}).latex(unrolled=False)
    assert _normalized(_section(changed, "% recursion at depth m = 3")) != blocks[("lip_grad", "m=3")]
    assert blocks[("lip_f", "m=3")] != blocks[("lip_loss_grad", "m=3")]
    assert len(blocks[("lip_grad", "m=3")]) >= 12


def test_every_cited_section_exists(text):
    """The code cites the theory by section number (``MATH.md §N``, later ``docs/theory.md §N``)."""
    headings = set(re.findall(r"^## (\d+)\. ", text, re.M))
    assert headings >= {str(n) for n in range(1, 9)}
    cited: set[str] = set()
    for path in [*ROOT.glob("symlip/*.py"), *ROOT.glob("proofs/**/*.py"), *ROOT.glob("tests/*.py"),
                 ROOT / "README.md"]:
        for line in path.read_text(encoding="utf-8").splitlines():
            if "MATH.md" in line or "theory.md" in line:
                cited.update(re.findall(r"§(\d+)", line))
    assert cited, "no citations found: the pattern is stale"
    assert cited <= headings, f"cited sections without a heading: {sorted(cited - headings)}"


def test_labels_of_the_bounds_are_defined(text):
    for label in ("U1", "U2", "U3", "U4", "B", "G", "M", "GR", "C4.1", "C4.5", "L4", "C5.1", "C5.2", "C5.3",
                  "C5.4", "S6.1", "SS-ball", "SS-descent", "J7", "H7", "N7.1", "E7", "V7", "LK7.1", "LK7.2",
                  "T7", "V8"):
        assert f"**({label})" in text, f"label ({label}) is not defined in docs/theory.md"


def test_every_mutant_and_claim_family_is_stated(text):
    names = set()
    for path in (ROOT / "proofs" / "mutants").glob("*.py"):
        names.update(re.findall(r'"(M-[^"]+)"', path.read_text(encoding="utf-8")))
    assert len(names) >= 30
    missing = sorted(n for n in names if f"`{n}`" not in text)
    assert not missing, f"mutants not described in docs/theory.md: {missing}"
    for family in ("U1[m=", "U2[m=", "U3[m=", "U4[m=", "L4-lip_f", "L4-lip_grad", "SS-descent[", "SS-ball[",
                   "CDNN-lip_f-ode", "CDNN-lip_f-euler", "CDNN-lip_grad-ode", "CDNN-lip_grad-euler",
                   "E[ds]", "E[ds]-flow", "Var[ds]", "logK-drift", "Var[dlogK]"):
        assert f"`{family}" in text, f"claim family {family!r} is not stated in docs/theory.md"
