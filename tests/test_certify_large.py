"""The layer bound of lip_f on θ-balls (symlip.certify.bigball, docs/theory.md §8.7 (LB8)):
sound against witnessed values, replayed in certificates, and the cooperative deadline."""
import json
import time

import numpy as np
import pytest

import importlib
from symlip.certify import certify
from symlip.certify.bigball import layer_bound, layer_bound_applies
from symlip.certify.cap import u_cap
from symlip.certify.certificate import replay_certificate
from symlip.certify.enclose import Problem
from symlip.certify.interval import float_up
from symlip.certify.jets import PastDeadline
from symlip.models.network import MLP
from symlip.models.region import Region

api = importlib.import_module("symlip.certify.api")

# the float64 gradient norm is within a few hundred ulps of the exact one on these small nets
_REL = 1e-10


def _points(net, theta, r, R, rng, n):
    """Domain points: θ on and inside the ball's sphere, x on and inside |x| = R."""
    for k in range(n):
        d = rng.standard_normal(net.n_params)
        th = theta + d / np.linalg.norm(d) * r * (1.0 if k % 2 else rng.uniform())
        x = rng.standard_normal(net.d_in)
        x *= R * (1.0 if k % 3 else rng.uniform()) / np.linalg.norm(x)
        yield th, x


CASES = [((2, 3, 1), "tanh", 0.3, 1.0), ((3, 4, 4, 1), "tanh", 0.1, 2.0), ((2, 3, 3, 3, 1), "sigmoid", 0.2, 1.5),
         ((2, 5, 1), "softplus", 0.05, 1.0), ((3, 4, 3, 1), "gelu", 0.1, 1.0)]


@pytest.mark.parametrize("widths,act,r,R", CASES)
def test_layer_bound_is_above_witnessed_values(widths, act, r, R):
    """Every float evaluation of |∇_θ f| at a domain point is at most the bound (depth 2 to 4)."""
    net = MLP(widths, act)
    theta = net.init(7, scale=1.5)
    prob = Problem("lip_f", net, Region.ball(theta, r), R)
    assert layer_bound_applies(prob) == ""
    up = float_up(layer_bound(prob))
    rng = np.random.default_rng(0)
    worst = max(float(np.linalg.norm(net.grad(th, x))) for th, x in _points(net, theta, r, R, rng, 400))
    assert worst <= up * (1 + _REL)


@pytest.mark.parametrize("widths,act,r,R", CASES[:3])
def test_layer_bound_is_above_certified_witnesses(widths, act, r, R, monkeypatch):
    """certify with the layer leaf forced on small nets: its ascent's witness (confirmed in mpmath)
    stays below the layer bound (certify raises otherwise), the upper is min(layer bound, U cap)
    and a root box enclosure exists for comparison (both sound, neither needs to be smaller)."""
    monkeypatch.setattr(api, "LARGE_VARIABLES", 0)
    net = MLP(widths, act)
    region = Region.ball(net.init(3), r)
    cert = certify("lip_f", net, region, R=R, budget=2, seed=0)
    prob = Problem("lip_f", net, region, R)
    lb = float_up(layer_bound(prob))
    cap = float_up(u_cap("lip_f", net, region, R, None)[0])
    assert cert.proof["tree"] == [-4]
    assert cert.lower <= cert.upper == min(lb, cap)
    box, _ = prob.enclose(*prob.root())
    assert cert.lower <= float_up(box) * (1 + _REL)


def test_layer_bound_beats_u_on_a_trained_like_net():
    """On a wide net whose output row spreads over many units the per-unit coupling is below U1."""
    net = MLP((8, 32, 32, 1), "tanh")
    theta = net.init(1, scale=1.0)
    region = Region.ball(theta, 1e-2)
    lb = float_up(layer_bound(Problem("lip_f", net, region, 1.0)))
    cap = float_up(u_cap("lip_f", net, region, 1.0, None)[0])
    assert lb < cap


def test_not_applicable_elsewhere():
    net = MLP((2, 3, 1), "tanh")
    assert layer_bound_applies(Problem("lip_grad", net, Region.ball(net.init(0), 0.1), 1.0))
    assert layer_bound_applies(Problem("lip_f", net, Region.box(1.0, 1.0), 1.0))
    assert layer_bound(Problem("lip_f", MLP((2, 1), "tanh"), Region.ball(MLP((2, 1), "tanh").init(0), 0.1), 1.0)) is None


@pytest.fixture(scope="module")
def layered_cert():
    mp = pytest.MonkeyPatch()
    mp.setattr(api, "LARGE_VARIABLES", 0)
    try:
        net = MLP((2, 4, 3, 1), "tanh")
        cert = certify("lip_f", net, Region.ball(net.init(0), 0.05), R=1.0, budget=2, seed=0)
    finally:
        mp.undo()
    return json.loads(json.dumps(cert.to_dict()))


def _status(d, edit):
    d = json.loads(json.dumps(d))
    edit(d)
    return replay_certificate(d).status


def test_layered_certificate_replays(layered_cert, tmp_path):
    d = layered_cert
    assert d["proof"]["tree"] == [-4] and len(d["proof"]["uppers"]) == 1
    assert d["upper"] == min(d["proof"]["uppers"][0], d["cap"])
    assert replay_certificate(d).status == "certified"
    path = tmp_path / "c.json"
    path.write_text(json.dumps(d))
    assert replay_certificate(str(path)).status == "certified"


def test_tampered_layered_certificate_is_rejected(layered_cert):
    def lower_layer(d):
        d["proof"]["uppers"][0] *= 0.999
        d["upper"] = min(d["upper"], d["proof"]["uppers"][0])

    def lower_upper(d):
        d["upper"] *= 0.999

    def other_quantity(d):  # the layer bound does not apply to a box region
        d["problem"]["region"] = {"kind": "box", "omega": [1.0] * 3, "beta": [1.0] * 3}
        d["cap"] = None

    def drop_leaf(d):
        d["proof"]["tree"] = []
        d["proof"]["uppers"] = []

    for edit in (lower_layer, lower_upper, other_quantity, drop_leaf):
        assert _status(layered_cert, edit) in ("tampered", "invalid"), edit.__name__


def test_enclosure_checks_its_deadline():
    """A passed deadline stops a box enclosure at its next cooperative check (no signal needed);
    without a deadline (a replay) the same enclosure runs to the end."""
    net = MLP((2, 3, 1), "tanh")
    prob = Problem("lip_f", net, Region.ball(net.init(0), 0.1), 1.0)
    lo, hi = prob.root()
    prob.deadline = time.monotonic() - 1.0
    with pytest.raises(PastDeadline):
        prob.enclose(lo, hi)
    prob.deadline = None
    up, _ = prob.enclose(lo, hi)
    assert up is not None


def test_layer_bound_gives_up_at_its_deadline():
    net = MLP((2, 3, 1), "sigmoid")
    prob = Problem("lip_f", net, Region.ball(net.init(5), 0.1), 1.3)  # a grid not cached yet
    assert layer_bound(prob, deadline=time.monotonic() - 1.0) is None
    assert layer_bound(prob) is not None


def test_large_network_certificate_uses_the_layer_leaf():
    """Above LARGE_VARIABLES free variables certify does not enclose the root box: the proof is the
    layer leaf, the upper is below U1 and the search stops within its budget's accounting."""
    net = MLP((16, 64, 16, 1), "tanh")
    region = Region.ball(net.init(2), 1e-2)
    cert = certify("lip_f", net, region, R=1.0, budget=8, seed=0)
    assert cert.proof["tree"] == [-4]
    assert cert.upper < cert.cap
    assert cert.boxes == 0 and cert.stop in ("budget", "unsplittable", "gap")
    assert 0 < cert.lower <= cert.upper
