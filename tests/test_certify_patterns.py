"""Pattern branch and bound for input constants of piecewise-linear MLPs (symlip/certify/patterns.py)."""
import json

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from symlip.activations.registry import activation
from symlip.certify import certify
from symlip.certify.certificate import replay_certificate
from symlip.certify.patterns import pattern_search, pl_slopes, replay_patterns
from symlip.models.network import MLP
from symlip.models.region import Region
from symlip.search.audit import exact_input_lipschitz, input_lipschitz_lower_bound

REL = 1e-9


def _net(widths, act="relu", seed=0, **kw):
    net = MLP(tuple(widths), activation(act, **kw))
    return net, net.init(seed=seed)


def _jnorm_mp(net, th, x):
    J = np.atleast_2d(net.jac_x_mp(th, x, dps=40))
    return mpmath.sqrt(mpmath.fsum(v * v for v in J.ravel()))   # Frobenius = 2-norm for one row


def test_pl_slopes():
    from fractions import Fraction

    assert pl_slopes(activation("relu")) == (0, 0, 1)
    assert pl_slopes(activation("leaky_relu", alpha=0.25)) == (0, Fraction(1, 4), 1)
    assert pl_slopes(activation("tanh")) is None


@pytest.mark.parametrize("widths,act,seed", [((2, 6, 1), "relu", 0), ((2, 7, 1), "relu", 1), ((1, 5, 1), "relu", 2),
                                             ((2, 6, 1), "leaky_relu", 3)])
def test_equals_exact_one_hidden_layer(widths, act, seed):
    net, th = _net(widths, act, seed, **({"alpha": 0.1} if act == "leaky_relu" else {}))
    ex = exact_input_lipschitz(net, th, R=1.0)
    r = pattern_search(net, th, 1.0, budget=60, tol=REL)
    assert r["stop"] == "tol"
    assert r["upper"] >= ex * (1 - 4e-16)          # exact is itself an upper end (a few ulps high)
    assert r["upper"] <= ex * (1 + REL)
    assert r["lower_est"] <= r["upper"]


@settings(max_examples=50, deadline=None, derandomize=True)
@given(d0=st.integers(1, 3), h=st.integers(1, 5), seed=st.integers(0, 10_000),
       act=st.sampled_from(["relu", "leaky_relu"]), R=st.sampled_from([0.3, 1.0, 3.0]))
def test_upper_dominates_witnessed_values(d0, h, seed, act, R):
    net, th = _net((d0, h, 1), act, seed, **({"alpha": 0.2} if act == "leaky_relu" else {}))
    r = pattern_search(net, th, R, budget=30, tol=REL)
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(4, d0))
    X *= (R * rng.uniform(size=(4, 1)) ** (1 / d0)) / np.linalg.norm(X, axis=1, keepdims=True)
    for x in X:
        assert mpmath.mpf(r["upper"]) >= _jnorm_mp(net, th, x)
    s = input_lipschitz_lower_bound(net, th, R=R, max_evals=100, seed=seed, use_exact=False)
    assert r["upper"] >= max(s.value, s.jacobian_norm) * (1 - 1e-12)
    if r["witness"] is not None:
        assert mpmath.mpf(r["upper"]) >= _jnorm_mp(net, th, np.asarray(r["witness"]["x"]))


@pytest.mark.parametrize("act,kw", [("relu", {}), ("leaky_relu", {"alpha": 0.1})])
def test_two_hidden_layers(act, kw):
    net, th = _net((2, 5, 4, 1), act, 5, **kw)
    r = pattern_search(net, th, 1.0, budget=60, tol=REL)
    assert r["stop"] == "tol" and r["upper"] <= r["lower_est"] * (1 + REL)
    rng = np.random.default_rng(0)
    X = rng.uniform(-0.7, 0.7, size=(2000, 2))
    J = np.stack([net.jac_x(th, x) for x in X]).reshape(len(X), -1)
    assert r["upper"] >= np.linalg.norm(J, axis=1).max() * (1 - 1e-12)


def test_certify_dispatch_and_replay(tmp_path):
    net, th = _net((2, 6, 3, 1), "relu", 7)
    c = certify("lip_input", net, Region.ball(th, 0.0), R=1.0, tol=REL)
    assert c.proof["method"] == "patterns"
    assert c.lower <= c.upper <= c.lower * (1 + REL)
    p = c.save(tmp_path / "c.json")
    assert replay_certificate(p).status == "certified"
    d = json.loads(p.read_text())

    def edited(change):
        e = json.loads(json.dumps(d))
        change(e)
        q = tmp_path / "e.json"
        q.write_text(json.dumps(e))
        return replay_certificate(q).status

    assert edited(lambda e: e.update(upper=e["upper"] * 0.9)) == "tampered"
    assert edited(lambda e: e["proof"]["uppers"].__setitem__(0, e["proof"]["uppers"][0] * 0.5)) == "tampered"
    assert edited(lambda e: (e["proof"]["tree"].pop(), e["proof"]["uppers"].pop())) == "invalid"
    if d["proof"]["farkas"]:
        assert edited(lambda e: e["proof"]["farkas"][0].update(y=[0.0] * len(e["proof"]["farkas"][0]["y"]))) \
            == "tampered"


def test_replay_patterns_rejects_a_missing_split():
    net, th = _net((2, 6, 1), "relu", 2)
    r = pattern_search(net, th, 1.0, budget=30, tol=REL)
    assert replay_patterns(net, th, 1.0, r["proof"], r["upper"])[0] == "certified"
    bad = dict(r["proof"], tree=["L"], uppers=[r["upper"] * 0.5])
    assert replay_patterns(net, th, 1.0, bad, r["upper"])[0] == "tampered"
