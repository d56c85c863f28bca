"""Notebook display: ``_repr_latex_`` of a Bound, ``_repr_markdown_``/``_repr_html_`` of
verdicts, audits and replays."""
from __future__ import annotations

import pytest

from symlip import Claim, MLP, Region, derive, falsify
from symlip.core.display import html_fields, markdown_fields, markdown_table


def test_bound_repr_latex_is_its_latex_in_dollars():
    b = derive("lip_f", 2)
    text = b._repr_latex_()
    assert text.startswith("$") and text.endswith("$") and r"\omega_{2}" in text and r"\sqrt" in text
    deep = derive("lip_grad", 5)._repr_latex_()
    assert deep.startswith(r"$\begin{aligned}") and deep.endswith(r"\end{aligned}$") and "K_{4}" in deep


def test_verdict_markdown_and_html():
    claim = Claim("too tight", "lip_f", "0.98*sqrt(1 + R**2)", expect="fails")
    v = falsify(claim, MLP([3, 1], "tanh"), Region.box(1.0, 1.0), R=1.5, max_evals=200, seed=0)
    md = v._repr_markdown_()
    assert md.startswith("**too tight (lip_f): violated**") and "| best ratio | 1.02041 |" in md
    assert "as expected" in md and "| confirmed digits |" in md
    html = v._repr_html_()
    assert "<table>" in html and "violated" in html and "&lt;" not in md


def test_display_helpers_escape_and_skip_empty_fields():
    md = markdown_fields("t", [("a", "x|y"), ("b", None), ("c", ""), ("d", 1.23456789)])
    assert "x\\|y" in md and "| b |" not in md and "1.23457" in md
    assert "&lt;b&gt;" in html_fields("<b>", [("k", "<v>")])
    assert markdown_table(["x", "y"], [[1, 2.0]]).splitlines() == ["| x | y |", "|---|---|", "| 1 | 2 |"]


def test_replay_markdown(tmp_path):
    from symlip import replay

    claim = Claim("too tight", "lip_f", "0.98*sqrt(1 + R**2)", expect="fails")
    v = falsify(claim, MLP([3, 1], "tanh"), Region.box(1.0, 1.0), R=1.5, max_evals=200, seed=0)
    v.witness.save(tmp_path / "w.json")
    md = replay(tmp_path / "w.json", dps=30)._repr_markdown_()
    assert md.startswith("**too tight (lip_f)") and ": violated**" in md and "| ratio |" in md


def test_audit_and_audit_verdict_markdown():
    pytest.importorskip("numpy")
    from symlip.peers import audit_tools

    net = MLP([2, 4, 1], "tanh")
    audit = audit_tools(net, net.init(seed=0), ["product", 1e-3], R=1.0, max_evals=500)
    md = audit._repr_markdown_()
    assert md.startswith("**symlip's best lower bound on |x|_2 <= 1:") and "| tool | claimed | status |" in md
    assert "| product |" in md and "| 0.001 |" in md and "violated" in md
    assert "<table>" in audit._repr_html_()
    verdict = audit.rows[1].verdict
    vmd = verdict._repr_markdown_()
    assert vmd.startswith("**0.001 claims 0.001: violated**") and "| lower bound |" in vmd
