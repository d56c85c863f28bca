"""Certificates as witness files, ``symlip certify``, ``symlip check --prove`` and the
tightness table (issue 15, items 4-6)."""
from __future__ import annotations

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
