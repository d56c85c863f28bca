"""The command line: real output and one-line errors with exit code 2."""
import subprocess
import sys

import pytest

from symlip.cli import main


def test_derive_latex(capsys):
    assert main(["derive", "--widths", "3,16,16,1", "--activation", "tanh", "--quantity", "lip_grad", "--latex"]) == 0
    out = capsys.readouterr().out
    assert r"\begin{aligned}" in out and r"\Gamma_{1}" in out and r"\frac{4 \sqrt{3}" in out


def test_derive_value_matches_api(capsys):
    from symlip import MLP, Region, derive

    assert main(["derive", "--widths", "3,16,16,1", "--quantity", "lip_grad", "--omega", "2", "--beta", "1"]) == 0
    value = float(capsys.readouterr().out.strip().splitlines()[-1])
    want = derive("lip_grad", 3).evaluate(MLP((3, 16, 16, 1), "tanh"), Region.box(2.0, 1.0), R=1.0)
    assert value == want


def test_activation_sigmoid_exact(capsys):
    assert main(["activation", "sigmoid"]) == 0
    out = capsys.readouterr().out
    assert "S2 = sqrt(3)/18" in out and "(exact)" in out


@pytest.mark.parametrize("argv,match", [
    (["derive", "--widths", "3,x"], "comma-separated positive integers"),
    (["derive", "--widths", "3"], "at least two entries"),
    (["derive", "--widths", "3,4,1", "--quantity", "lip_grad", "--activation", "relu", "--omega", "1", "--beta", "1"],
     "smooth activation"),
    (["derive", "--widths", "3,4,1", "--omega", "1"], "both --omega and --beta"),
    (["activation", "nosuch"], "unknown activation 'nosuch'"),
    (["activation", "leaky_relu", "--param", "alpha"], "NAME=VALUE"),
    (["frobnicate"], "invalid choice"),
])
def test_bad_arguments_exit_2_with_one_line(capsys, argv, match):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and match in err


def test_python_m_symlip_runs():
    r = subprocess.run([sys.executable, "-m", "symlip", "activation", "tanh"], capture_output=True, text=True)
    assert r.returncode == 0 and "S2 = 4*sqrt(3)/9" in r.stdout
