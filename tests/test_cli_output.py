"""Where the commands write (``--out``, default ``symlip-out/COMMAND``), the record of each
run (``runs.json`` and the index), quick runs marked and kept off full reports, the help
texts, and the light main job (no torch)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from symlip.cli import _build_parser, main
from symlip.report.index import QUICK_NOTE, REFERENCE_RUNS, mark_quick, record_run, refuse_quick_over_reference

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = ("derive", "activation", "bench", "check", "growth", "demo", "dynamics", "audit", "peers", "replay")


def _subparsers():
    p = _build_parser()
    action = next(a for a in p._actions if a.dest == "command")
    return action.choices


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_a_description_examples_and_defaults(command):
    sub = _subparsers()[command]
    text = sub.format_help()
    assert sub.description and len(sub.description) > 60
    assert "examples:\n  symlip " + command in text
    for action in sub._actions:
        if action.option_strings and action.default not in (None, False, []) and action.dest != "help":
            assert action.help and "default" in sub._get_formatter()._get_help_string(action), action.dest
    out = [a for a in sub._actions if a.dest == "out"]
    if command in ("bench", "check", "growth", "demo", "dynamics", "audit", "peers"):
        assert out and out[0].default.startswith("symlip-out/") and "reports" not in out[0].default


def test_derive_help_names_U1_to_U4_and_the_general_formula():
    text = _subparsers()["derive"].format_help().replace("\n", " ")
    text = " ".join(text.split())
    for q, u in (("lip_f", "U1"), ("lip_grad", "U2"), ("lip_loss_grad", "U3"), ("lip_input", "U4")):
        assert f"{q}: {u}" in text
    assert "general formula" in text


def test_growth_writes_where_asked_and_records_the_run(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = ["growth", "--depth", "2", "--points", "3", "--radii", "1,100"]
    assert main(argv) == 0
    out = tmp_path / "symlip-out" / "growth"
    md = out / "growth_tanh_m2_lip_f.md"
    assert md.exists() and not (tmp_path / "reports").exists()
    runs = json.loads((out / "runs.json").read_text())
    assert runs[md.name]["command"] == "symlip " + " ".join(argv)
    assert "note" not in runs[md.name]
    index = (out / "README.md").read_text()
    assert f"made by `symlip {' '.join(argv)}` on {runs[md.name]['date']}" in index


def test_quick_runs_are_marked_and_never_replace_a_full_report(tmp_path):
    full = tmp_path / "ref"
    full.mkdir()
    (full / "peers.md").write_text("# full\n")
    with pytest.raises(ValueError, match="full report.*give another --out"):
        refuse_quick_over_reference(full, ["peers.md"])
    record_run(full, ["peers.md"], "symlip peers --quick", quick=True)
    refuse_quick_over_reference(full, ["peers.md"])       # a quick report may be replaced by a quick run
    assert json.loads((full / "runs.json").read_text())["peers.md"]["note"] == QUICK_NOTE
    assert mark_quick("# Title\n\nbody\n").splitlines()[:3] == ["# Title", "", f"> **{QUICK_NOTE}**"]


def test_quick_cli_run_over_the_reference_folder_is_refused(tmp_path, capsys):
    ref = tmp_path / "reports"
    ref.mkdir()
    (ref / "stepsize.md").write_text("# Step sizes\n")
    assert main(["demo", "stepsize", "--quick", "--out", str(ref)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is a full report" in err
    assert (ref / "stepsize.md").read_text() == "# Step sizes\n"


def test_quick_demo_marks_its_files(tmp_path, capsys):
    assert main(["demo", "stepsize", "--quick", "--out", str(tmp_path)]) == 0
    assert QUICK_NOTE in (tmp_path / "stepsize.md").read_text().splitlines()[2]
    assert json.loads((tmp_path / "stepsize.json").read_text())["note"] == QUICK_NOTE
    assert QUICK_NOTE in (tmp_path / "README.md").read_text()


def test_reference_runs_cover_the_committed_reports():
    """Every report in reports/ has a runs.json entry whose command is a reference run."""
    runs = json.loads((ROOT / "reports" / "runs.json").read_text())
    commands = {"symlip " + " ".join(argv) for _, argv in REFERENCE_RUNS}
    for f in sorted((ROOT / "reports").iterdir()):
        if f.suffix in (".md", ".json", ".tex", ".png") and f.name not in ("README.md", "runs.json"):
            assert f.name in runs, f.name
            assert runs[f.name]["command"] in commands and "note" not in runs[f.name]
            assert all("--out" in argv for _, argv in REFERENCE_RUNS)
    index = (ROOT / "reports" / "README.md").read_text()
    assert "python -m symlip.report.regenerate" in index and "made by `symlip check proofs/ --out reports`" in index


def test_regenerate_lists_the_reference_commands(capsys):
    from symlip.report.regenerate import main as regenerate

    assert regenerate(["--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "symlip check proofs/ --out reports" and len(lines) == len(REFERENCE_RUNS)


def test_the_main_job_needs_no_torch(tmp_path):
    """``symlip check`` runs with torch unimportable (the main job installs the core only)."""
    code = ("import sys; sys.modules['torch'] = None; sys.modules['eclipse_nn'] = None\n"
            "from symlip.cli import main\n"
            f"rc = main(['check', {str(ROOT / 'proofs' / 'u1_network.py')!r}, '--max-evals', '10', '--quiet',"
            f" '--out', {str(tmp_path / 'out')!r}])\n"
            "if any(m.split('.')[0] == 'torch' and sys.modules[m] is not None for m in sys.modules): sys.exit(3)\n"
            "sys.exit(rc)\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode in (0, 1), proc.stderr[-2000:]     # 1: a claim not as expected at 10 evaluations
    assert (tmp_path / "out" / "check.md").exists() and "Traceback" not in proc.stderr


def test_pyproject_keeps_torch_out_of_the_core():
    text = (ROOT / "pyproject.toml").read_text()
    core = text.split("dependencies = [", 1)[1].split("]", 1)[0]
    assert "torch" not in core and "eclipse" not in core
    assert 'torch = ["torch==2.13.0"]' in text
