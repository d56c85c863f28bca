"""`symlip check` and `symlip replay`: reports, witnesses, exit codes (tiny budgets)."""
import contextlib
import io
import json
import textwrap

import pytest

from symlip.cli import main

TRUE_AND_MUTANT = """
from symlip import MLP, Region, derive
from symlip.search.claims import Case, Claim

net = MLP((2, 1), "tanh")
box = Region.box(1.0, 0.5)
CASES = [
    Case(Claim("exact", "lip_f", derive("lip_f", 1), why="depth 1: exactly sqrt(1+R^2)"), net, box),
    Case(Claim("M|0.98", "lip_f", "0.98*sqrt(1+R**2)", expect="fails", why="2% below the exact value"),
         net, box),
]
"""

FALSE_HOLDS = """
from symlip import MLP, Region, derive
from symlip.search.claims import Case, Claim

net = MLP((2, 1), "tanh")
CASES = [
    Case(Claim("too-small", "lip_f", "0.9*sqrt(1+R**2)"), net, Region.box(1.0, 0.5)),
    Case(Claim("wrong-depth", "lip_f", derive("lip_f", 2)), net, Region.box(1.0, 0.5)),
]
"""


def _write(folder, name, text):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(textwrap.dedent(text))
    return folder / name


def _run(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main([str(a) for a in argv])
    return rc, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def checked(tmp_path_factory):
    base = tmp_path_factory.mktemp("check")
    _write(base / "cat", "tiny.py", TRUE_AND_MUTANT)
    rep, extra = base / "rep", base / "out" / "extra.json"
    rc, out, err = _run(["check", base / "cat", "--budget", "0.8", "--report", rep, "--json", extra])
    return {"rc": rc, "out": out, "err": err, "rep": rep, "extra": extra, "base": base}


def test_check_true_and_mutant_exit_0_with_report(checked):
    assert checked["rc"] == 0, checked["out"] + checked["err"]
    rep = checked["rep"]
    for name in ("check.md", "check.json", "check.tex"):
        assert (rep / name).is_file()
    lines = checked["out"].splitlines()
    assert lines[0].startswith("[1/2] ✓ exact @ [2, 1] tanh box ω=1 β=0.5  survived  ratio ")
    assert lines[1].startswith("[2/2] ✓ M|0.98 @ ") and "violated  ratio 1.02" in lines[1]
    assert lines[2].startswith("OK: 2 claims, 2 as expected, 0 not (1 violated, 1 survived")
    assert "report: " in lines[3] and "check.md" in lines[3]
    assert (rep / "witnesses" / "tiny-01-M_0.98.json").is_file()
    assert sorted(p.name for p in (rep / "witnesses").iterdir()) == ["tiny-01-M_0.98.json"]


def test_check_json_is_consistent(checked):
    data = json.loads((checked["rep"] / "check.json").read_text())
    assert data == json.loads(checked["extra"].read_text())
    s = data["summary"]
    assert (s["claims"], s["as_expected"], s["violated"], s["survived"], s["ok"]) == (2, 2, 1, 1, True)
    exact, mutant = data["cases"]
    assert (exact["status"], exact["as_expected"], exact["witness_file"]) == ("survived", True, None)
    assert (mutant["status"], mutant["as_expected"]) == ("violated", True)
    assert mutant["witness_file"] == "witnesses/tiny-01-M_0.98.json"
    assert mutant["verdict"]["confirmed_digits"] >= 3 and mutant["verdict"]["best_ratio"] > 1.0
    assert exact["verdict"]["best_ratio"] <= 1.0
    assert exact["latex"].strip().endswith(r"\sqrt{R^{2} + 1}")
    assert [st["strategy"] for st in data["strategies"]][:2] == ["random", "hypothesis"]
    assert sum(st["best_in"] for st in data["strategies"]) == 2


def test_check_markdown_and_latex(checked):
    md = (checked["rep"] / "check.md").read_text()
    assert "**PASS** — 2 claims: 2 as expected" in md
    assert "| claim | source | architecture | region | R | expect | status | best ratio |" in md
    assert "M\\|0.98" in md  # a pipe in a name does not break the table
    # the literal 0.98 is read exactly (symlip.core.expr): 49/50, not the binary float 0.97999999999999998
    assert "```latex\n\\frac{49 \\sqrt{R^{2} + 1}}{50}\n```" in md and "2% below the exact value" in md
    assert "witnesses/tiny-01-M_0.98.json" in md and "digits confirmed" in md
    assert "## Strategies" in md and "symlip check " in md
    tex = (checked["rep"] / "check.tex").read_text()
    assert r"\begin{longtable}" in tex and r"\end{document}" in tex
    assert "\\[\n\\frac{49 \\sqrt{R^{2} + 1}}{50}\n\\]" in tex and r"2\% below" in tex


def test_replay_written_witness_violates(checked):
    rc, out, err = _run(["replay", checked["rep"] / "witnesses" / "tiny-01-M_0.98.json", "--dps", "80"])
    assert rc == 0, err
    assert "violated: value" in out and "at 80 digits" in out and not err


def test_replay_not_violated_exit_1(checked, tmp_path):
    w = json.loads((checked["rep"] / "witnesses" / "tiny-01-M_0.98.json").read_text())
    w["bound_spec"] = {"kind": "number", "value": 100.0}
    (tmp_path / "w.json").write_text(json.dumps(w))
    rc, out, _ = _run(["replay", tmp_path / "w.json"])
    assert rc == 1 and "not violated" in out


def test_report_is_deterministic_and_clears_stale_witnesses(checked, tmp_path):
    from symlip.search.catalogue import load_cases
    from symlip.search.falsify import falsify
    from symlip.report.check import CaseError, write_check_report

    lc_exact, lc_mutant = load_cases([checked["base"] / "cat"])
    v = falsify(lc_mutant.case, budget=1.0, max_evals=300, seed=1)
    results = [(lc_mutant, v), (lc_mutant, v), (lc_exact, CaseError(lc_exact.case.claim, "not applicable"))]
    a = write_check_report(results, tmp_path / "a", budget=1.0, seed=1, seconds=2.0)
    (tmp_path / "b" / "witnesses").mkdir(parents=True)
    (tmp_path / "b" / "witnesses" / "old.json").write_text(json.dumps({"format": "symlip-witness/1"}))
    (tmp_path / "b" / "witnesses" / "notes.json").write_text("{}")
    b = write_check_report(results, tmp_path / "b", budget=1.0, seed=1, seconds=2.0)
    assert sorted(a) == ["json", "md", "tex", "witness:tiny-01-M_0.98", "witness:tiny-01-M_0.98-2"]
    for key in a:
        assert a[key].read_text() == b[key].read_text()
    assert sorted(p.name for p in (tmp_path / "b" / "witnesses").iterdir()) == [
        "notes.json", "tiny-01-M_0.98-2.json", "tiny-01-M_0.98.json"]
    data = json.loads(a["json"].read_text())
    assert [c["status"] for c in data["cases"]] == ["violated", "violated", "error"]
    assert data["summary"]["ok"] is False and data["summary"]["error"] == 1
    assert "## Errors" in a["md"].read_text() and "not applicable" in a["md"].read_text()


def test_check_false_holds_claim_exit_1(tmp_path):
    _write(tmp_path / "cat", "bad.py", FALSE_HOLDS)
    rc, out, err = _run(["check", tmp_path / "cat", "--budget", "0.8", "--report", tmp_path / "rep"])
    assert rc == 1, out + err
    lines = out.splitlines()
    assert lines[0].startswith("[1/2] ✗ too-small") and "violated" in lines[0]
    assert lines[1].startswith("[2/2] ✗ wrong-depth") and "error: " in lines[1] and "depth" in lines[1]
    assert lines[2].startswith("FAILED: 2 claims, 0 as expected, 2 not")
    data = json.loads((tmp_path / "rep" / "check.json").read_text())
    assert [(c["status"], c["as_expected"]) for c in data["cases"]] == [("violated", False), ("error", False)]
    md = (tmp_path / "rep" / "check.md").read_text()
    assert "**FAIL**" in md and "## Not as expected" in md
    assert (tmp_path / "rep" / "witnesses" / "bad-00-too-small.json").is_file()


@pytest.mark.parametrize("argv,match", [
    (["check", "{cat}", "--budget", "-1"], "positive number of seconds"),
    (["check", "{cat}", "--budget", "abc"], "positive number of seconds"),
    (["check", "{cat}", "--budget", "nan"], "positive number of seconds"),
    (["check", "{cat}", "--seed", "-3"], "integer >= 0"),
    (["check", "{cat}", "--max-evals", "5"], "integer >= 10"),
    (["check", "{tmp}/nosuch"], "no such file or folder"),
    (["check", "{tmp}/nocases"], "defines no CASES"),
    (["check", "{tmp}/empty"], "no cases found"),
    (["check"], "required: PATH"),
    (["check", "{cat}", "--report", "{tmp}/other.json"], "is a file; give a folder"),
    (["check", "{cat}", "--json", "{tmp}/empty"], "is a folder; give a file name"),
    (["replay", "{tmp}/missing.json"], "no such witness file"),
    (["replay", "{tmp}/nocases/mod.py"], "not a JSON witness file"),
    (["replay", "{tmp}/other.json"], "not a symlip witness"),
    (["replay", "{tmp}/other.json", "--dps", "x"], "integer >= 16"),
])
def test_bad_arguments_exit_2_with_one_line(tmp_path, argv, match):
    _write(tmp_path / "cat", "ok.py", TRUE_AND_MUTANT)
    _write(tmp_path / "nocases", "mod.py", "X = 1\n")
    (tmp_path / "empty").mkdir()
    (tmp_path / "other.json").write_text('{"a": 1}')
    rc, out, err = _run([a.format(cat=tmp_path / "cat", tmp=tmp_path) for a in argv])
    assert rc == 2
    assert len(err.strip().splitlines()) == 1 and match in err, err
    assert not out
