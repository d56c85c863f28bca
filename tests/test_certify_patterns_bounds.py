"""Node bounds, unit stabilisation and ancestor caps of the pattern branch and bound (symlip/certify/patterns.py)."""
import itertools
import json

import numpy as np
import pytest

from symlip.activations.registry import activation
from symlip.certify import certify
from symlip.certify.certificate import replay_certificate
from symlip.certify.patterns import PatternProblem, pattern_search, replay_patterns
from symlip.certify.relu_bounds import dual_min
from symlip.models.network import MLP
from symlip.models.region import Region
from symlip.search.exact_pl import exact_input_lipschitz

REL = 1e-9


def _net(widths, act="relu", seed=0, **kw):
    net = MLP(tuple(widths), activation(act, **kw))
    return net, net.init(seed=seed)


@pytest.mark.parametrize("widths,act,seed", [((3, 7, 1), "relu", 0), ((3, 7, 3), "relu", 1),
                                             ((4, 6, 2), "leaky_relu", 2), ((2, 8, 1), "leaky_relu", 3)])
def test_node_bounds_dominate_every_completion(widths, act, seed):
    """A node with undecided units: every bound (roof, split, the one used) is at least
    ``||W2 diag(s) W1||`` for every completion ``s`` of its slopes (geometry ignored)."""
    net, th = _net(widths, act, seed, **({"alpha": 0.2} if act == "leaky_relu" else {}))
    pp = PatternProblem(net, th, 1.0)
    (W1, _), (W2, _) = pp.layers
    sl = (float(pp.s[0]), float(pp.s[1]))
    rng = np.random.default_rng(seed)
    for _ in range(6):
        side = rng.integers(-1, 2, size=widths[1]).astype(np.int8)
        sides = [side]
        und = np.flatnonzero(side < 0)
        worst = 0.0
        for comp in itertools.product((0, 1), repeat=len(und)):
            s = np.where(side == 1, sl[1], sl[0])
            s[und] = [sl[c] for c in comp]
            worst = max(worst, np.linalg.norm(W2 @ (s[:, None] * W1), 2))
        bounds = [pp._split_bound(sides), pp._jac_bound(sides), pp._jac_bound_product(sides)]
        if widths[-1] == 1:
            G, _, pos = pp._gram(sides)
            bounds.append(pp._roof_bound(sides, G, pos))
        for b in bounds:
            assert float(b.upper()) >= worst * (1 - 1e-12)


@pytest.mark.parametrize("widths,seed", [((2, 6, 1), 0), ((2, 7, 3), 4), ((1, 5, 2), 2)])
def test_sandwich_against_exact(widths, seed):
    net, th = _net(widths, "relu", seed)
    ex = exact_input_lipschitz(net, th, R=1.0)
    r = pattern_search(net, th, 1.0, budget=60, tol=REL)
    assert r["upper"] >= ex * (1 - 4e-16)        # exact is an upper end (a few ulps high)
    assert r["lower_est"] <= ex * (1 + 1e-12)
    assert r["stop"] == "tol" and r["upper"] <= ex * (1 + REL)
    assert replay_patterns(net, th, 1.0, r["proof"], r["upper"])[0] == "certified"


def test_dual_min_bounds_the_maximum():
    """Weak duality: the value bounds ``max -g·x`` over ``{G x <= h, |x| <= R}`` (sampled points)."""
    rng = np.random.default_rng(0)
    d, R = 3, 1.5
    G = rng.normal(size=(4, d))
    h = rng.uniform(0.1, 1.0, size=4)
    g = rng.normal(size=(5, d))
    Y, v = dual_min(G, h, g, R)
    assert np.all(Y >= 0)
    np.testing.assert_allclose(v, Y @ h + R * np.linalg.norm(Y @ G + g, axis=1), rtol=1e-12)
    X = rng.normal(size=(20000, d))
    X *= R * rng.uniform(size=(len(X), 1)) ** (1 / d) / np.linalg.norm(X, axis=1, keepdims=True)
    X = X[np.all(X @ G.T <= h, axis=1)]
    assert len(X) > 100
    assert np.all((-X @ g.T).max(axis=0) <= v + 1e-12)
    assert np.all(v <= R * np.linalg.norm(g, axis=1) + 1e-12)   # never worse than y = 0


def _stabilised_case():
    # two hidden layers: once the first is decided, second-layer units get fixed by Farkas-proved splits
    net, th = _net((2, 6, 5, 1), "relu", 11)
    r = pattern_search(net, th, 1.0, budget=60, tol=REL)
    return net, th, r


def test_stabilisation_is_replayed_and_tampering_rejected():
    net, th, r = _stabilised_case()
    proof = r["proof"]
    stab = [k for k, f in enumerate(proof["farkas"]) if f.get("cuts") == [] and 1.0 in f.get("y", [])]
    assert stab, "the case should fix some unit by a Farkas-proved split"
    off = pattern_search(net, th, 1.0, budget=60, tol=REL, stabilise=False)
    assert r["upper"] == pytest.approx(off["upper"], rel=3 * REL)
    assert replay_patterns(net, th, 1.0, proof, r["upper"])[0] == "certified"
    bad = json.loads(json.dumps(proof))
    bad["farkas"][stab[0]]["y"] = [0.0] * len(bad["farkas"][stab[0]]["y"])
    assert replay_patterns(net, th, 1.0, bad, r["upper"])[0] == "tampered"
    bad = json.loads(json.dumps(proof))
    bad["farkas"][stab[0]]["y"] = bad["farkas"][stab[0]]["y"][:-1]
    assert replay_patterns(net, th, 1.0, bad, r["upper"])[0] == "tampered"


def test_ancestor_caps_are_rederived():
    """A leaf may claim an ancestor's smaller bound; below every bound on its path it is tampered."""
    net, th = _net((3, 8, 2), "relu", 5)
    r = pattern_search(net, th, 1.0, max_nodes=12, tol=REL)
    proof = r["proof"]
    assert replay_patterns(net, th, 1.0, proof, r["upper"])[0] == "certified"
    if proof["uppers"]:
        bad = dict(proof, uppers=[u * 0.99 for u in proof["uppers"]])
        assert replay_patterns(net, th, 1.0, bad, r["upper"])[0] == "tampered"


def test_certificate_file_with_stabilisation(tmp_path):
    net, th = _net((2, 6, 5, 1), "relu", 11)
    c = certify("lip_input", net, Region.ball(th, 0.0), R=1.0, tol=REL)
    assert c.lower <= c.upper <= c.lower * (1 + REL)
    p = c.save(tmp_path / "c.json")
    assert replay_certificate(p).status == "certified"


def test_trained_relu_network_shipped():
    from symlip.report.bench_certify import RELU_TRAINED_FILE, relu_trained_network

    net, th, R = relu_trained_network()
    assert tuple(net.widths) == (784, 50, 10) and th.shape == (net.n_params,) and R == 16.0
    assert RELU_TRAINED_FILE.stat().st_size <= 200_000
    r = pattern_search(net, th, R, max_nodes=2, tol=REL)
    assert np.isfinite(r["upper"]) and r["upper"] > 0
    assert replay_patterns(net, th, R, r["proof"], r["upper"])[0] == "certified"


def _bias_free(widths, seed):
    net = MLP(tuple(widths), "relu")
    th = net.init(seed)
    for _, sb in net._slices:
        th[sb] = 0.0
    return net, th


@pytest.mark.parametrize("widths,seed", [((2, 8, 1), 5), ((2, 7, 2), 1)])
def test_bias_free_thin_cones_pruned_by_gordan(widths, seed):
    """Every region of a bias-free network is a cone through 0: thin cones are pruned by exact
    Gordan certificates, and the result is the exact constant."""
    net, th = _bias_free(widths, seed)
    ex = exact_input_lipschitz(net, th, R=1.0)
    r = pattern_search(net, th, 1.0, budget=60, tol=REL)
    assert r["stop"] == "tol"
    assert ex * (1 - 4e-16) <= r["upper"] <= ex * (1 + REL)
    proof = r["proof"]
    gi = [k for k, f in enumerate(proof["farkas"]) if "gordan" in f]
    assert gi
    assert replay_patterns(net, th, 1.0, proof, r["upper"])[0] == "certified"
    f = proof["farkas"][gi[0]]["gordan"]
    k = next(i for i, t in enumerate(f) if t != "0")
    for bad_value in ("0", "1/3" if f[k] != "1/3" else "2/3", "-1", "x", 1.5):
        bad = json.loads(json.dumps(proof))
        bad["farkas"][gi[0]]["gordan"][k] = bad_value
        assert replay_patterns(net, th, 1.0, bad, r["upper"])[0] == "tampered"
    # the same certificate on the network with one bias changed: not homogeneous, rejected
    th2 = th.copy()
    th2[net._slices[0][1].start] = 1e-3
    assert replay_patterns(net, th2, 1.0, proof, r["upper"])[0] in ("tampered", "invalid")
