"""Bad command-line input: exit code 2 and one line on stderr naming the bad value
(issue 12): strict comma-separated lists, caps on every size argument, catalogue
files that name themselves, a missing model file named before anything else."""
from __future__ import annotations

import contextlib
import io
import math
from pathlib import Path

import numpy as np
import pytest

from symlip import MLP, derive
from symlip.search.catalogue import load_cases
from symlip.cli import main


def _run(argv) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main([str(a) for a in argv])
    return rc, out.getvalue(), err.getvalue()


def _one_line_error(argv, *needles) -> str:
    rc, out, err = _run(argv)
    lines = err.strip().splitlines()
    assert rc == 2, (rc, out, err)
    assert len(lines) == 1 and lines[0].startswith("symlip: error: "), err
    for n in needles:
        assert n in lines[0], (n, lines[0])
    return lines[0]


# ---------------------------------------------------------------------------
# comma-separated lists: no field is silently dropped
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("widths, needle", [
    ("3,,1", "empty field in '3,,1'"),            # used to become depth 1, exit 0
    ("3, ,1", "empty field in '3, ,1'"),
    ("3,4,1,", "empty field in '3,4,1,'"),
    (",", "empty field"),
    ("", "empty value"),
    ("3,nan,1", "'nan' in '3,nan,1' is not an integer"),
    ("3,1.5,1", "'1.5' in '3,1.5,1' is not an integer"),
    ("3,0,1", "'0' in '3,0,1' is out of range"),
    ("3,99999999999999999999,1", "is out of range"),
])
def test_widths_are_parsed_strictly(widths, needle):
    line = _one_line_error(["derive", "--widths", widths], "argument --widths", needle)
    assert "comma-separated positive integers such as 3,16,1" in line


@pytest.mark.parametrize("option", ["--omega", "--beta"])
@pytest.mark.parametrize("value, needle", [
    ("1,,2", "empty field in '1,,2'"), (" ", "empty value"), ("nan", "'nan' in 'nan' is not finite"),
    ("1,inf", "'inf' in '1,inf' is not finite"), ("1e400", "is not finite"), ("1,x", "'x' in '1,x' is not a number"),
])
def test_box_lists_are_parsed_strictly(option, value, needle):
    other = "--beta" if option == "--omega" else "--omega"
    _one_line_error(["derive", "--widths", "3,4,1", option, value, other, "1"], f"argument {option}", needle)


def test_a_good_list_still_works(capsys):
    assert main(["derive", "--widths", " 3, 4 ,1", "--omega", "2, 1.5", "--beta", "1"]) == 0
    value = float(capsys.readouterr().out.strip().splitlines()[-1])
    from symlip import Region

    assert value == derive("lip_f", 2).evaluate(MLP((3, 4, 1), "tanh"), Region.box([2.0, 1.5], 1.0), R=1.0)


@pytest.mark.parametrize("radii, needle", [("1,,100", "empty field"), ("1,inf", "not finite"),
                                           ("nan,100", "not finite")])
def test_growth_radii_are_parsed_strictly(tmp_path, radii, needle):
    _one_line_error(["growth", "--radii", radii, "--out", tmp_path], "argument --radii", needle)


@pytest.mark.parametrize("param, needle", [("alpha", "NAME=VALUE"), ("=1", "NAME=VALUE"),
                                           ("alpha=", "expects a number")])
def test_param_errors_are_one_symlip_line(param, needle):
    _one_line_error(["activation", "leaky_relu", "--param", param], needle)


# ---------------------------------------------------------------------------
# caps: every size argument has an allowed range, stated in the message
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("argv, needles", [
    (["derive", "--widths", ",".join(["2"] * 5001)], ("at most 1001", "depth <= 1000", "got 5001")),
    (["growth", "--points", "100000"], ("argument --points", "<= 1000", "'100000'")),
    (["growth", "--depth", "5000"], ("argument --depth", "<= 1000", "'5000'")),
    (["growth", "--width", "2000000"], ("argument --width", "<= 1000000")),
    (["growth", "--width", "300"], ("radii x", "parameters exceeds 600,000")),
    (["growth", "--depth", "500"], ("depth 500", "leaves the float64 range")),
    (["check", "{cat}", "--budget", "1e300"], ("argument --budget", "up to 86400")),
    (["check", "{cat}", "--max-evals", "10000000000000"], ("argument --max-evals", "<= 1000000000")),
    (["audit", "{model}", "--input-radius", "1", "--budget", "1e9"], ("argument --budget", "up to 86400")),
    (["peers", "--budget", "100000"], ("argument --budget", "up to 86400")),
    (["replay", "{model}", "--dps", "1000000000"], ("argument --dps", "<= 1000")),
])
def test_size_arguments_are_capped(tmp_path, argv, needles):
    cat = tmp_path / "cat.py"
    cat.write_text("CASES = []\n")
    model = tmp_path / "m.pt"
    model.write_bytes(b"x")
    argv = [str(a).format(cat=cat, model=model) for a in argv]
    if argv[0] in ("growth",):
        argv += ["--out", str(tmp_path / "out")]
    _one_line_error(argv, *needles)
    assert not (tmp_path / "out").exists()


def test_api_caps_raise_value_errors():
    from symlip import Claim, Region, falsify
    from symlip.bounds.lower import growth

    with pytest.raises(ValueError, match=r"depth must be an integer >= 1 and <= 1000.*5000"):
        derive("lip_f", 5000)
    net, region = MLP([2, 1], "tanh"), Region.box(1.0, 1.0)
    claim = Claim("U1", "lip_f", derive("lip_f", 1))
    with pytest.raises(ValueError, match="budget .* up to 86400"):
        falsify(claim, net, region, budget=1e9)
    with pytest.raises(ValueError, match="max_evals .* <= 1000000000"):
        falsify(claim, net, region, max_evals=10 ** 12)
    with pytest.raises(ValueError, match="dps must be an integer <= 1000"):
        falsify(claim, net, region, dps=10 ** 6)
    with pytest.raises(ValueError, match="at most 1000 radii; got 1001"):
        growth(MLP([1, 1, 1], "tanh"), radii=np.logspace(0, 4, 1001))
    with pytest.raises(ValueError, match="depth must be an integer >= 1 and <= 1000"):
        growth(MLP([1] * 1002, "tanh"))


def test_growth_at_a_depth_beyond_float64_is_a_clear_error_not_a_crash():
    """Depth 300: the formula underflows float64 (the witness message used to divide by 0)."""
    from symlip.bounds.lower import growth, lower_bound

    with pytest.raises(ValueError, match="leaves the float64 range"):
        growth(MLP([1] * 301, "tanh"))
    w = lower_bound(MLP([1] * 301, "tanh"), "lip_f", r=1.0)
    assert w.formula == 0.0 and "ratio" in w.message  # no ZeroDivisionError


# ---------------------------------------------------------------------------
# catalogues: every problem names the file
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("source, needles", [
    ("CASES = 5\n", ("bad.py: CASES is a int", "expected a list")),
    ("CASES = 'abc'\n", ("bad.py: CASES is a str",)),
    ("def CASES():\n    raise RuntimeError('boom')\n", ("bad.py: CASES() raised RuntimeError: boom",)),
    ("def CASES():\n    return 7\n", ("bad.py: CASES is a int",)),
    ("CASES = [1]\n", ("bad.py: CASES[0] is a int",)),
    ("def f(:\n", ("importing", "bad.py failed: SyntaxError")),
    ("import sys\nsys.exit(3)\n", ("bad.py failed: SystemExit: 3",)),
    ("raise ValueError('line one\\nline two')\n", ("bad.py failed: ValueError: line one",)),
    ("X = 1\n", ("bad.py defines no CASES",)),
])
def test_bad_catalogue_files_name_themselves(tmp_path, source, needles):
    (tmp_path / "bad.py").write_text(source)
    _one_line_error(["check", tmp_path / "bad.py", "--report", tmp_path / "rep"], *needles)
    with pytest.raises(ValueError, match="bad.py"):
        load_cases([tmp_path / "bad.py"])
    assert not (tmp_path / "rep").exists()


def test_bad_catalogue_paths(tmp_path):
    (tmp_path / "nopy").mkdir()
    (tmp_path / "nopy" / "notes.txt").write_text("x")
    (tmp_path / "nopy" / "_helper.py").write_text("CASES = []\n")
    (tmp_path / "cat.txt").write_text("x")
    rep = ["--report", tmp_path / "rep"]
    _one_line_error(["check", tmp_path / "nosuch", *rep], "no such file or folder", "nosuch")
    _one_line_error(["check", tmp_path / "nopy", *rep], "no cases found in", "nopy", "no catalogue .py files")
    _one_line_error(["check", tmp_path / "cat.txt", *rep], "cat.txt", "not a Python file")
    _one_line_error(["check", "", *rep], "non-empty file or folder name")  # not the current folder
    assert not (tmp_path / "rep").exists()


# ---------------------------------------------------------------------------
# files and folders
# ---------------------------------------------------------------------------
def test_audit_names_a_missing_model_before_anything_else(tmp_path):
    _one_line_error(["audit", tmp_path / "nosuch.pt", "--input-radius", "1", "--param", "alpha=1",
                     "--report", tmp_path / "file.txt"], "model file", "nosuch.pt", "does not exist")
    (tmp_path / "dir.pt").mkdir()
    _one_line_error(["audit", tmp_path / "dir.pt", "--input-radius", "1"], "dir.pt", "not a file")


@pytest.mark.parametrize("argv", [
    ["growth", "--out", "{file}"], ["demo", "stepsize", "--quick", "--out", "{file}"],
    ["demo", "cdnn", "--quick", "--out", "{file}"], ["dynamics", "--quick", "--report", "{file}"],
    ["check", "{file}.py", "--report", "{file}"],
])
def test_an_output_folder_that_is_a_file_is_refused_up_front(tmp_path, argv):
    """``growth --out FILE`` and ``demo --out FILE`` used to end in a FileExistsError traceback."""
    f = tmp_path / "taken"
    f.write_text("keep")
    Path(f"{f}.py").write_text("CASES = []\n")
    _one_line_error([a.format(file=f) for a in argv], "is a file; give a folder")
    assert f.read_text() == "keep"


def test_os_errors_are_one_line(tmp_path, monkeypatch):
    import symlip.cli as cli

    def boom(args):
        raise PermissionError(13, "Permission denied", str(tmp_path / "x"))

    monkeypatch.setitem(cli._COMMANDS, "activation", boom)
    _one_line_error(["activation", "tanh"], "Permission denied", "x'")


def test_nan_and_inf_are_refused_where_a_number_is_expected():
    for v in ("--R=nan", "--R=inf", "--R=-inf"):
        _one_line_error(["derive", "--widths", "3,4,1", "--omega", "1", "--beta", "1", v], "R must be finite")
    # a value that argparse takes for an option: the message says how to write it
    _one_line_error(["derive", "--widths", "3,4,1", "--R", "-inf"], "argument --R: expected one argument",
                    "written --R=VALUE")


# ---------------------------------------------------------------------------
# the API behind the commands: bad values are ValueErrors naming them
# ---------------------------------------------------------------------------
def test_api_argument_validation_and_caps():
    from symlip.models.cdnn import CDNN
    from symlip.training.dynamics import draw_batches, sgd_moments, teacher_student
    from symlip.bounds.lower import growth, lower_bound
    from symlip.training.stepsize import local_step_mp, loss_mp
    from symlip.training.trajectory import pearson, sgd_trajectory

    net = MLP([2, 3, 1], "tanh")
    th, X, y = net.init(0), np.full((4, 2), 0.3), np.array([0.1, -0.2, 0.3, 0.0])
    cases = [
        (lambda: sgd_moments(net, th, X, y, batch_size=2, eta=0.1, seed=math.nan), "seed must be an integer"),
        (lambda: sgd_moments(net, th, X, y, batch_size=2, eta=0.1, seed=-1), "seed must be an integer"),
        (lambda: teacher_student(10 ** 12, 2), r"n must be an integer in \[2, 10000000\]"),
        (lambda: teacher_student(1000, 10 ** 6), "d must be an integer in"),
        (lambda: draw_batches(np.random.default_rng(0), 4, 2, 10 ** 12, True), "n must be an integer in"),
        (lambda: sgd_trajectory(net, th, X, y, batch_size=10 ** 12, eta=0.1, steps=2), "batch_size"),
        (lambda: sgd_trajectory(net, th, X, y, batch_size=2, eta=0.1, steps=10 ** 12), "steps must be"),
        (lambda: CDNN(d=2, T=1.0, N=10 ** 12, activation="tanh"), "N must be an integer >= 1 and <= 100000"),
        (lambda: pearson([1.0, 2.0, math.nan], [1.0, 2.0, 3.0]), "finite"),
        (lambda: growth(MLP([1, 1, 1], "tanh"), tolerance=math.nan), "tolerance"),
        (lambda: growth(MLP([1, 1, 1], "tanh"), dps=10 ** 12), "dps must be an integer <= 1000"),
        (lambda: lower_bound(net, "lip_f", r=10.0, dps=10 ** 12), "dps must be an integer <= 1000"),
        (lambda: loss_mp(net, th, X, y, dps=10 ** 12), "dps must be an integer <= 1000"),
        (lambda: loss_mp(net, th, X, y, dps=math.inf), "dps"),
        (lambda: local_step_mp(net, th, X, y, 0.5, dps=10 ** 12), "dps must be an integer <= 1000"),
    ]
    for call, match in cases:
        with pytest.raises(ValueError, match=match):
            call()
