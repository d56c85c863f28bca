"""`symlip audit --certify` and symlip.peers.certified_audit: the certified sandwich beside the peers' claims."""
import json

import mpmath
import pytest

from symlip.certify.certificate import replay_certificate
from symlip.cli import main
from symlip.models.network import MLP
from symlip.peers import audit_tools, certified_audit
from symlip.search.audit import exact_input_lipschitz

REL = 1e-9


def _relu(widths=(2, 8, 1), seed=0):
    net = MLP(widths, "relu")
    return net, net.init(seed=seed)


@pytest.fixture(scope="module")
def relu_case():
    net, th = _relu()
    ex = exact_input_lipschitz(net, th, R=1.0)
    ca = certified_audit(net, th, ["product", 0.5 * ex, 2 * ex], R=1.0, max_evals=200, certify_budget=30)
    return net, th, ex, ca


def test_upper_dominates_the_exact_constant_which_dominates_the_witnessed_lower(relu_case):
    net, th, ex, ca = relu_case
    assert ca.upper >= ex * (1 - 4e-16)      # exact is itself an upper end, a few ulps high
    assert ex * (1 + 4e-16) >= ca.lower > 0
    assert mpmath.mpf(ca.lower_mp) <= mpmath.mpf(ca.upper)
    assert ca.gap <= 1 + REL and ca.stop == "tol" and ca.status == "certified"
    assert ca.upper == ca.certificate.upper and ca.boxes == ca.certificate.boxes >= 1
    assert ca.lower_source in ("search pair", "certificate witness") and ca.R_certified == 1.0
    assert ca.tol == REL and ca.certify_budget == 30


def test_each_claim_stands_against_the_sandwich(relu_case):
    net, th, ex, ca = relu_case
    rows = {r.tool: r for r in ca.rows}
    assert [r.tool for r in ca.rows] == [r.tool for r in ca.audit.rows]
    low, high = rows[str(0.5 * ex)], rows[str(2 * ex)]
    assert low.standing == "refuted" and ca.refuted == (low.tool,)
    assert high.standing == "proved" and high.above_upper == pytest.approx(2 * ex / ca.upper, rel=1e-15)
    assert 1.99 < high.above_upper <= 2.0
    prod = rows["product"]
    assert prod.constant >= ca.lower and prod.standing in ("proved", "open")
    assert prod.above_upper == pytest.approx(prod.constant / ca.upper, rel=1e-15)


def test_the_certificate_replays_and_a_tampered_one_is_rejected(relu_case, tmp_path):
    _, _, _, ca = relu_case
    path = ca.certificate.save(tmp_path / "c.json")
    assert replay_certificate(path).status == "certified"
    data = json.loads(path.read_text())
    data["upper"] = data["upper"] * 0.9
    assert replay_certificate(data).status == "tampered"
    data = json.loads(path.read_text())
    data["proof"]["uppers"] = [u * 0.5 for u in data["proof"]["uppers"]]
    assert replay_certificate(data).status == "tampered"


def test_smooth_network_uses_the_general_branch_and_bound():
    net = MLP((2, 3, 1), "tanh")
    th = net.init(seed=1)
    ca = certified_audit(net, th, [1e-3, 100.0], R=0.5, max_evals=200, certify_budget=1)
    assert 0 < ca.lower <= ca.upper and ca.tol == 1e-3
    assert ca.certificate.proof.get("method") != "patterns"
    assert [r.standing for r in ca.rows] == ["refuted", "proved"]
    assert replay_certificate(ca.certificate.to_dict()).status == "certified"


def test_all_of_Rd_certifies_on_the_unit_ball():
    net = MLP((2, 4, 1), "relu")
    th = net.init(seed=2)
    for (_, sb) in net.layer_slices:
        th[sb] = 0.0
    ca = certified_audit(net, th, ["product"], R=None, max_evals=200, certify_budget=2)
    assert ca.R_certified == 1.0 and ca.certificate.problem["R"] == 1.0
    assert 0 < ca.lower <= ca.upper <= ca.rows[0].constant * (1 + 1e-12)


def test_reuses_an_audit_and_checks_it():
    net, th = _relu()
    audit = audit_tools(net, th, [1.0], R=1.0, max_evals=100)
    ca = certified_audit(net, th, R=1.0, audit=audit, certify_budget=5)
    assert ca.audit is audit and len(ca.rows) == 1
    with pytest.raises(ValueError, match="R = 1.0, not R = 2.0"):
        certified_audit(net, th, R=2.0, audit=audit)
    with pytest.raises(TypeError, match="audit must be an Audit"):
        certified_audit(net, th, R=1.0, audit="x")


@pytest.mark.parametrize("kw,match", [({"certify_budget": 0}, "certify_budget must be a positive number"),
                                      ({"certify_budget": float("nan")}, "certify_budget must be a positive"),
                                      ({"certify_budget": True}, "certify_budget must be a positive"),
                                      ({"tol": -1.0}, "tol must be a finite number > 0")])
def test_bad_arguments(kw, match):
    net, th = _relu()
    with pytest.raises(ValueError, match=match):
        certified_audit(net, th, [1.0], R=1.0, **kw)


# ---------------------------------------------------------------------------
# the command line
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("argv,match", [
    (["audit", "m.pt", "--input-radius", "1", "--certify", "--certify-budget", "0"], "positive number of seconds"),
    (["audit", "m.pt", "--input-radius", "1", "--certify", "--certify-budget", "x"], "positive number of seconds"),
    (["audit", "m.pt", "--input-radius", "1", "--certify", "--certify-budget", "-3"], "positive number of seconds"),
    (["audit", __file__, "--input-radius", "1", "--certify-budget", "5"], "--certify-budget needs --certify"),
])
def test_bad_certify_budget_exits_2_with_one_line(capsys, argv, match):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and match in err


def test_cli_audit_certify_prints_the_sandwich_and_writes_a_replayable_certificate(tmp_path, capsys):
    torch = pytest.importorskip("torch")
    nn = torch.nn
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 1)).double()
    torch.save(model, tmp_path / "m.pt")
    rep = tmp_path / "rep"
    code = main(["audit", str(tmp_path / "m.pt"), "--trust", "--input-radius", "1", "--tool", "product", "--tool",
                 "1e-3", "--max-evals", "200", "--certify", "--certify-budget", "20", "--out", str(rep)])
    out = capsys.readouterr().out
    assert code == 0
    head = next(line for line in out.splitlines() if line.startswith("certified (symlip certify, 20 s budget)"))
    assert "witnessed lower" in head and "certified upper" in head and "gap" in head and "boxes" in head
    assert "status certified, stopped by tol" in head
    rows = {line.split()[0]: line for line in out.splitlines()[out.splitlines().index(head) + 1:] if line.split()}
    assert "standing" in rows["tool"] and "x certified upper" in rows["tool"]
    assert "REFUTED" in rows["1e-3"] and "holds" in rows["product"]
    cert = rep / "audit-witnesses" / "audit-certificate.json"
    assert f"certificate: {cert}" in out
    data = json.loads((rep / "audit.json").read_text())
    c = data["certified"]
    assert c["lower"] <= c["upper"] <= c["lower"] * (1 + REL) and c["certificate"] == "audit-witnesses/audit-certificate.json"
    assert [t["standing"] for t in c["tools"]] == ["proved", "refuted"]
    assert "## Certified" in (rep / "audit.md").read_text()
    assert "--certify --certify-budget 20" in data["command"]
    assert main(["replay", str(cert)]) == 0
    tampered = json.loads(cert.read_text())
    tampered["upper"] *= 0.5
    (tmp_path / "t.json").write_text(json.dumps(tampered))
    assert main(["replay", str(tmp_path / "t.json")]) == 1
    capsys.readouterr()
    # a rerun without --certify removes the stale certificate
    assert main(["audit", str(tmp_path / "m.pt"), "--trust", "--input-radius", "1", "--tool", "product",
                 "--max-evals", "100", "--out", str(rep)]) == 0
    assert not cert.exists() and "certified" not in json.loads((rep / "audit.json").read_text())
