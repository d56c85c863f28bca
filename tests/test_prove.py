"""Certificates as witness files, ``symlip certify``, ``symlip check --prove`` and the
tightness table (issue 15, items 4-6)."""
from __future__ import annotations

import importlib
import json

import pytest

from symlip.certify import Certificate, certify
from symlip.cli import main
from symlip.models.network import MLP
from symlip.models.region import Region
from symlip.search.witness_format import HEADER_FIELDS
from symlip.verify import read_witness, replay


@pytest.fixture(scope="module")
def cert() -> Certificate:
    net = MLP((1, 2, 1), "tanh")
    return certify("lip_f", net, Region.ball(net.init(0), 0.3), R=1.0, budget=5.0, max_boxes=40)


def test_certificate_is_a_witness_file(cert, tmp_path):
    path = cert.save(tmp_path / "c.json")
    data = json.loads(path.read_text())
    assert list(data)[:len(HEADER_FIELDS)] == list(HEADER_FIELDS)
    assert data["kind"] == "certificate" and data["created_by"] == "symlip.certify"
    assert read_witness(path) == cert
    assert Certificate.from_dict(cert.to_dict()) == cert
    rep = replay(path)
    assert rep.status == "certified"
    assert float(rep.value_mp) == cert.upper


def test_replay_cli_exit_status(cert, tmp_path, capsys):
    path = cert.save(tmp_path / "c.json")
    assert main(["replay", str(path)]) == 0
    assert "certificate: certified" in capsys.readouterr().out
    data = json.loads(path.read_text())
    data["upper"] = cert.lower * 0.99  # claims less than the leaves prove
    path.write_text(json.dumps(data))
    assert main(["replay", str(path)]) == 1
    assert "tampered" in capsys.readouterr().out
    data["proof"]["tree"] = data["proof"]["tree"][:-1]  # a leaf removed
    path.write_text(json.dumps(data))
    assert main(["replay", str(path)]) == 1


def test_from_dict_names_a_bad_field(cert):
    d = cert.to_dict()
    del d["upper"]
    with pytest.raises(ValueError, match="'upper'"):
        Certificate.from_dict(d)
    d = cert.to_dict() | {"kind": "lipschitz"}
    with pytest.raises(ValueError, match="kind"):
        Certificate.from_dict(d)


def test_certify_cli_prints_the_sandwich_and_writes_a_replayable_certificate(tmp_path, capsys):
    out = tmp_path / "c.json"
    rc = main(["certify", "--widths", "1,1,1", "--ball", "0.1", "--budget", "5", "--max-boxes", "30",
               "--bound", "100", "--out", str(out), "--quiet"])
    text = capsys.readouterr().out
    assert rc == 0, text
    assert "lip_f of [1, 1, 1] tanh on ball" in text and "proved" in text
    cert = read_witness(out)
    assert cert.status == "proved" and cert.lower <= cert.upper <= 100
    assert f"[{cert.lower:.8g}, {cert.upper:.8g}]" in text
    assert main(["replay", str(out)]) == 0
    assert "certificate: proved" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [
    ["certify", "--widths", "1,2,1", "--ball", "-1"],
    ["certify", "--widths", "1,2,1", "--quantity", "lip_loss_grad"],
    ["certify", "--widths", "1,2,1", "--ball", "0.1", "--omega", "1", "--beta", "1"],
    ["certify", "--widths", "1,2,1", "--omega", "1"],
    ["certify", "--widths", "1", "--budget", "1"],
    ["certify", "--widths", "1,2,1", "--quantity", "lip_grad", "--activation", "relu"],
])
def test_certify_cli_errors_are_one_line(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("symlip: error:") and err.count("\n") == 1


def test_progress_callback_reports_boxes_and_a_sandwich(monkeypatch):
    bnb = importlib.import_module("symlip.certify.bnb")

    monkeypatch.setattr(bnb, "PROGRESS_SECONDS", 0.0)
    seen = []
    # two hidden layers: the generic enclosures (one hidden layer's structured bound proves 1% at the root,
    # and its adaptive one-dimensional suprema are not monotone under box inclusion at the 1e-5 level)
    net = MLP((1, 1, 1, 1), "tanh")
    cert = certify("lip_f", net, Region.ball(net.init(0), 0.3), R=1.0, budget=5.0, max_boxes=20,
                   progress=lambda *a: seen.append(a))
    assert seen and all(lo <= up for _, lo, up in seen)
    assert [b for b, _, _ in seen] == sorted(b for b, _, _ in seen) and seen[-1][0] <= cert.boxes
    assert min(up for _, _, up in seen) >= cert.upper * (1 - 1e-12)


def _loaded(claim_bound, widths=(1, 1, 1), radius=0.1, quantity="lip_f"):
    from symlip.search.catalogue import LoadedCase
    from symlip.search.claims import Case, Claim

    net = MLP(widths, "tanh")
    case = Case(Claim(f"c{claim_bound}", quantity, claim_bound), net, Region.ball(net.init(0), radius), R=1.0)
    return LoadedCase(case=case, source="test", index=0)


def test_prove_verdict_proves_a_loose_bound_and_keeps_the_falsifier_verdict():
    from symlip.prove import ProvedVerdict, provable, prove_verdict
    from symlip.verify import check_case

    lc = _loaded(50.0)
    assert provable(lc.case) == ""
    v = check_case(lc, budget=1.0, max_evals=200)
    assert v.status == "survived"
    p = prove_verdict(v, lc.case, budget=5.0)
    assert isinstance(p, ProvedVerdict) and p.status == "proved" and p.as_expected
    assert p.falsifier_status == "survived" and p.best_ratio == v.best_ratio
    assert p.lower <= p.upper <= 50.0
    lo, hi = p.looseness
    assert lo == 50.0 / p.upper and hi == 50.0 / p.lower and lo <= hi
    d = p.to_dict()
    assert d["status"] == "proved" and d["upper"] == p.upper and d["falsifier_status"] == "survived"


def test_prove_verdict_leaves_what_it_cannot_prove():
    from symlip.prove import provable, prove_verdict

    big = _loaded(50.0, widths=(3, 4, 1))
    assert "free dimension" in provable(big.case)
    sentinel = object()
    assert prove_verdict(sentinel, big.case) is sentinel


def test_check_report_shows_proved_claims(tmp_path):
    from symlip.batch import check_cases
    from symlip.report.check import write_check_report

    results = check_cases([_loaded(50.0)], budget=1.0, max_evals=200, prove=5.0)
    (lc, out), = results
    assert out.status == "proved" and out.as_expected
    files = write_check_report(results, tmp_path, budget=1.0, seed=0, seconds=1.0)
    md = files["md"].read_text()
    assert "true constant ∈" in md and "bound/true ∈" in md and "1 proved" in md
    cert = [v for k, v in files.items() if k.startswith("certificate:")]
    assert len(cert) == 1 and replay(cert[0]).status == "proved"
    data = json.loads(files["json"].read_text())
    assert data["summary"]["proved"] == 1 and data["summary"]["not_as_expected"] == 0


def test_tightness_quick_table(tmp_path, capsys):
    out = tmp_path / "t"
    assert main(["tightness", "--quick", "--out", str(out)]) == 0
    md = (out / "tightness.md").read_text()
    assert "quick run: not a reference" in md and "| [1, 1, 1] tanh | ball 0.1 | U1 |" in md
    data = json.loads((out / "tightness.json").read_text())
    assert [r["bound"] for r in data["rows"]] == ["U1", "U2"]
    for r in data["rows"]:
        assert r["lower"] <= r["upper"] <= r["U"] * (1 + 1e-12)  # the certified upper never exceeds U
        lo, hi = r["looseness"]
        assert lo == r["U"] / r["upper"] and hi == r["U"] / r["lower"] and 1 - 1e-12 <= lo <= hi
    tex = (out / "tightness.tex").read_text()
    assert r"\begin{tabular}" in tex and "{[1, 1, 1] tanh}" in tex
    assert main(["tightness", "--quick", "--out", str(out)]) == 0  # a quick run may replace a quick run


def test_tightness_is_a_reference_report():
    from symlip.report.index import REFERENCE_RUNS

    assert ("tightness", ("tightness", "--out", "reports")) in REFERENCE_RUNS


def test_certified_step_is_at_least_the_u3_step_and_keeps_the_descent_lemma():
    import mpmath
    import numpy as np

    from symlip.training.stepsize import descent_sides, local_step

    net = MLP((1, 2, 1), "tanh")
    rng = np.random.default_rng(0)
    X, y = rng.uniform(-1, 1, (4, 1)), rng.uniform(-1, 1, 4)
    theta, delta = net.init(0), 0.05
    u3 = local_step(net, theta, X, y, delta)
    cert = local_step(net, theta, X, y, delta, certified=True, budget=3.0)
    assert cert.L <= u3.L * (1 + 1e-12)  # certify's upper is capped by the rigorous U3
    assert cert.eta >= u3.eta * (1 - 1e-12)
    guaranteed, actual = descent_sides(net, theta, X, y, delta, dps=50, eta=lambda st, dps: mpmath.mpf(cert.eta))
    assert guaranteed <= actual


def test_check_cli_prove(tmp_path, capsys):
    cat = tmp_path / "cat.py"
    cat.write_text("from symlip import Case, Claim, MLP, Region\n"
                   "net = MLP((1, 1, 1), 'tanh')\n"
                   "CASES = [Case(Claim('loose', 'lip_f', 50.0), net, Region.ball(net.init(0), 0.1), R=1.0)]\n")
    out = tmp_path / "r"
    rc = main(["check", str(cat), "--max-evals", "200", "--prove", "--prove-budget", "3", "--jobs", "1",
               "--out", str(out)])
    text = capsys.readouterr().out
    assert rc == 0, text
    assert "proved" in text and "true ∈ [" in text
    data = json.loads((out / "check.json").read_text())
    assert data["summary"]["proved"] == 1 and "--prove --prove-budget 3" in data["summary"]["command"]
    assert (out / "certificates").is_dir()
