"""`symlip audit` on saved torch models and `symlip peers`: tables, files, exit codes."""
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from symlip.cli import main


@pytest.mark.parametrize("argv,match", [
    (["audit", "m.pt"], "--input-radius"),
    (["audit", "m.pt", "--input-radius", "0"], "expected a positive radius or 'inf'"),
    (["audit", "m.pt", "--input-radius", "x"], "expected a positive radius or 'inf'"),
    (["audit", "m.pt", "--input-radius", "1", "--tool", "autolip"],
     "unknown tool 'autolip'; allowed: product, eclipse, eclipse-fast, eclipse-local, or a number"),
    (["audit", "m.pt", "--input-radius", "1", "--tool", "-2"], "finite number > 0"),
    (["audit", "m.pt", "--input-radius", "1", "--budget", "0"], "positive number of seconds"),
    (["audit", __file__, "--input-radius", "1", "--param", "alpha=0.1"], "--param needs --activation"),
    (["peers", "--budget", "-1"], "positive number of seconds"),
])
def test_bad_arguments_exit_2_with_one_line(capsys, argv, match):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and match in err


def test_peers_quick_writes_the_report(tmp_path, capsys):
    code = main(["peers", "--quick", "--report", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0 and "no claim violated" in out
    md = (tmp_path / "peers.md").read_text()
    assert "## Gap table" in md and "| 4-16-16-16-1 tanh default |" in md and "product (AutoLip)" in md
    data = json.loads((tmp_path / "peers.json").read_text())
    assert data["R"] == 1.0 and data["quick"] and len(data["networks"]) == 2
    for net in data["networks"]:
        tools = {t["tool"]: t for t in net["tools"]}
        assert set(tools) == {"product", "eclipse", "eclipse-fast", "eclipse-local"}
        assert tools["product"]["status"] == "survived" and tools["product"]["gap"] >= 1
        assert net["search"]["value"] > 0


# ---------------------------------------------------------------------------
# with torch: saved models
# ---------------------------------------------------------------------------
@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def _steep_model(torch, bias=True, act=None):
    """A tanh network whose input-Lipschitz constant on |x| <= 1 is far above 0.5 (about 4)."""
    nn = torch.nn
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 16, bias=bias), act() if act else nn.Tanh(), nn.Linear(16, 16, bias=bias),
                          act() if act else nn.Tanh(), nn.Linear(16, 1, bias=bias))
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(3.0)
    return model


def _table_rows(out: str) -> dict[str, str]:
    rows = {}
    for line in out.splitlines():
        parts = line.split()
        if parts and parts[0] in ("product", "eclipse", "eclipse-fast", "eclipse-local", "0.5", "1e6"):
            rows[parts[0]] = line
    return rows


def test_audit_saved_model_product_eclipse_fast_and_a_false_value(torch, tmp_path, capsys):
    model = _steep_model(torch)
    torch.save(model, tmp_path / "m.pt")
    report = tmp_path / "rep"
    code = main(["audit", str(tmp_path / "m.pt"), "--input-radius", "1", "--tool", "product", "--tool",
                 "eclipse-fast", "--tool", "0.5", "--budget", "1", "--trust", "--report", str(report)])
    out = capsys.readouterr().out
    assert code == 0
    assert "tool" in out and "claimed" in out and "lower bound" in out and "status" in out and "ratio" in out
    rows = _table_rows(out)
    assert "survived" in rows["product"]
    assert "violated" in rows["0.5"] and "witness" in rows["0.5"]
    if importlib.util.find_spec("eclipse_nn") is not None:
        assert "survived" in rows["eclipse-fast"]
    else:
        assert "not installed" in rows["eclipse-fast"] and "symlip[peers]" in rows["eclipse-fast"]
    data = json.loads((report / "audit.json").read_text())
    by = {r["tool"]: r for r in data["rows"]}
    assert by["0.5"]["status"] == "violated" and by["0.5"]["lower_bound"] > 0.5 and by["0.5"]["ratio"] > 1
    witness = report / by["0.5"]["witness"]
    assert witness.is_file() and "| 0.5 | 0.5 |" in (report / "audit.md").read_text()
    assert main(["replay", str(witness)]) == 0  # the violation re-checks at high precision
    assert "violated" in capsys.readouterr().out


def test_audit_state_dict_needs_no_trust_and_prints_all_tools(torch, tmp_path, capsys):
    model = _steep_model(torch)
    torch.save(model.state_dict(), tmp_path / "sd.pt")
    code = main(["audit", str(tmp_path / "sd.pt"), "--activation", "tanh", "--widths", "4,16,16,1",
                 "--input-radius", "1", "--budget", "0.5", "--tool", "product", "--tool", "1e6",
                 "--report", str(tmp_path)])
    out = capsys.readouterr().out
    rows = _table_rows(out)
    assert code == 0 and "survived" in rows["product"] and "survived" in rows["1e6"]
    assert not list((tmp_path / "audit-witnesses").glob("*.json"))


def test_audit_refuses_a_pickled_module_without_trust(torch, tmp_path, capsys):
    torch.save(_steep_model(torch), tmp_path / "m.pt")
    assert main(["audit", str(tmp_path / "m.pt"), "--input-radius", "1", "--tool", "0.5"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--trust" in err and "runs code" in err


def test_audit_on_all_of_R_d(torch, tmp_path, capsys):
    model = _steep_model(torch, bias=False, act=torch.nn.ReLU)
    torch.save(model.state_dict(), tmp_path / "relu.pt")
    code = main(["audit", str(tmp_path / "relu.pt"), "--activation", "relu", "--input-radius", "inf",
                 "--tool", "product", "--tool", "eclipse-local", "--budget", "0.5", "--report", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0 and "all of R^d" in out and "no biases" in out
    rows = _table_rows(out)
    assert "survived" in rows["product"] and "not applicable" in rows["eclipse-local"]
    torch.save(_steep_model(torch, act=torch.nn.ReLU).state_dict(), tmp_path / "biased.pt")
    assert main(["audit", str(tmp_path / "biased.pt"), "--activation", "relu", "--input-radius", "inf",
                 "--tool", "product", "--report", str(tmp_path)]) == 2
    assert "positively homogeneous" in capsys.readouterr().err


def test_audit_exits_1_when_a_tool_fails(torch, tmp_path, capsys, monkeypatch):
    import symlip.peers as peers

    monkeypatch.setattr(peers, "product_bound",
                        lambda net, theta: peers.PeerClaim("product", None, 0.1, "failed", ("exit code 3",),
                                                           message="exit code 3"))
    torch.save(_steep_model(torch).state_dict(), tmp_path / "sd.pt")
    code = main(["audit", str(tmp_path / "sd.pt"), "--activation", "tanh", "--input-radius", "1",
                 "--tool", "product", "--tool", "0.5", "--budget", "0.3", "--report", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 1 and "failed: exit code 3" in out and "violated" in _table_rows(out)["0.5"]


def test_audit_bad_model_files_exit_2(torch, tmp_path, capsys):
    assert main(["audit", str(tmp_path / "none.pt"), "--input-radius", "1"]) == 2
    assert "does not exist" in capsys.readouterr().err
    torch.save(_steep_model(torch).state_dict(), tmp_path / "sd.pt")
    assert main(["audit", str(tmp_path / "sd.pt"), "--input-radius", "1"]) == 2
    assert "stores no activation" in capsys.readouterr().err
    (tmp_path / "f").write_text("x")
    assert main(["audit", str(tmp_path / "sd.pt"), "--activation", "tanh", "--input-radius", "1",
                 "--report", str(tmp_path / "f")]) == 2
    assert "is a file" in capsys.readouterr().err


def test_python_m_symlip_audit_runs(torch, tmp_path):
    torch.save(_steep_model(torch), tmp_path / "m.pt")
    r = subprocess.run([sys.executable, "-m", "symlip", "audit", str(tmp_path / "m.pt"), "--trust",
                        "--input-radius", "1", "--tool", "0.5", "--budget", "0.3", "--report", str(tmp_path)],
                       capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1])
    assert r.returncode == 0 and "violated" in r.stdout and np.isfinite(
        json.loads((tmp_path / "audit.json").read_text())["search"]["value"])
