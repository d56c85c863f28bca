"""symlip.peers: the adapters (product, eclipse-nn's three bounds, callables) and audit_tools."""
import math
import re
import sys

import numpy as np
import pytest

from symlip import MLP, activation
from symlip.peers import (PEERS_HINT, TOOLS, Audit, PeerClaim, audit_tools, callable_bound, eclipse_bound,
                          eclipse_local_bound, peer_claim, product_bound)


def _net(widths=(4, 16, 16, 16, 1), act="tanh", seed=0, scale=1.0):
    net = MLP(list(widths), act)
    return net, net.init(seed=seed, scale=scale)


# ---------------------------------------------------------------------------
# product (AutoLip)
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("act,S1", [("tanh", 1.0), ("sigmoid", 0.25), ("relu", 1.0), (("elu", 2), 2.0)])
def test_product_is_S1_to_the_m_minus_1_times_the_spectral_norms(act, S1):
    a = activation(act[0], alpha=act[1]) if isinstance(act, tuple) else act
    net, theta = _net((3, 6, 5, 2), a)
    want = S1 ** 2 * math.prod(np.linalg.norm(W, 2) for W, _ in net.unflatten(theta))
    c = product_bound(net, theta)
    assert c.status == "ok" and c.region == "all of R^d" and c.signals == ()
    assert want <= c.constant <= want * (1 + 1e-11)


def test_product_of_a_single_layer_is_the_spectral_norm():
    net, theta = _net((3, 2), "tanh")
    W = net.unflatten(theta)[0][0]
    assert product_bound(net, theta).constant == pytest.approx(np.linalg.norm(W, 2), rel=1e-11)


def test_product_not_applicable_without_a_lipschitz_activation():
    net, theta = _net((2, 3, 1), "t**2")
    c = product_bound(net, theta)
    assert c.status == "not applicable" and c.constant is None and "S1 = inf" in c.message


# ---------------------------------------------------------------------------
# dispatch, numbers, callables
# ---------------------------------------------------------------------------
def test_peer_claim_dispatch_and_numbers():
    net, theta = _net()
    assert peer_claim("product", net, theta, R=1.0).tool == "product"
    assert peer_claim("0.5", net, theta, R=1.0) == PeerClaim("0.5", 0.5, 0.0, "ok", region="as stated")
    assert peer_claim(2, net, theta, R=1.0).constant == 2.0
    with pytest.raises(ValueError, match=r"unknown tool 'autolip'; allowed: product, eclipse, eclipse-fast"):
        peer_claim("autolip", net, theta, R=1.0)
    with pytest.raises(ValueError, match="must be a finite number > 0"):
        peer_claim("-1", net, theta, R=1.0)
    with pytest.raises(TypeError, match="is a bool"):
        peer_claim(True, net, theta, R=1.0)
    with pytest.raises(ValueError, match="status 'maybe' is not one of"):
        PeerClaim("x", None, 0.0, "maybe")


def test_callable_tools_and_their_failures_are_recorded():
    net, theta = _net()

    def loud(n, t):
        print("solver gave up once")
        return 10.0

    def broken(n, t):
        raise RuntimeError("no convergence")

    c = callable_bound(loud, net, theta)
    assert c.status == "ok" and c.constant == 10.0 and c.tool == "loud"
    assert c.signals == ("printed: solver gave up once",)
    b = peer_claim(broken, net, theta, R=1.0)
    assert b.status == "failed" and b.constant is None and b.signals[0] == "raised RuntimeError: no convergence"
    n = callable_bound(lambda n, t: float("nan"), net, theta, name="nan-tool")
    assert n.tool == "nan-tool" and n.status == "failed" and "not a finite number > 0" in n.message
    with pytest.raises(TypeError, match="a tool must be"):
        callable_bound(3.0, net, theta)


# ---------------------------------------------------------------------------
# eclipse-nn: absent, not applicable, present
# ---------------------------------------------------------------------------
def test_eclipse_tools_say_not_installed_with_the_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "eclipse_nn", None)
    net, theta = _net()
    for tool in ("eclipse", "eclipse-fast", "eclipse-local"):
        c = peer_claim(tool, net, theta, R=1.0)
        assert c.status == "not installed" and c.constant is None and PEERS_HINT in c.message


@pytest.mark.parametrize("tool,net_args,R,match", [
    ("eclipse", ((4, 8, 1), "gelu"), 1.0, "not one symlip knows to be non-decreasing"),
    ("eclipse-fast", ((4, 8, 1), "silu"), 1.0, "not one symlip knows to be non-decreasing"),
    ("eclipse-fast", ((4, 8, 1), "t/(2+Abs(t))"), 1.0, "non-decreasing"),
    ("eclipse-local", ((4, 8, 1), "tanh"), None, "give a finite input radius"),
    ("eclipse-local", ((4, 8, 1), activation("leaky_relu", alpha=0.1)), 1.0, "leaky_relu \\(alpha=0.01\\)"),
    ("eclipse-local", ((4, 8, 1), "gelu"), 1.0, "has no activation 'gelu'"),
])
def test_eclipse_tools_apply_only_where_they_claim_to(tool, net_args, R, match):
    net, theta = _net(*net_args)
    c = peer_claim(tool, net, theta, R=R)
    assert c.status == "not applicable" and c.constant is None
    assert re.search(match, c.message)


def test_eclipse_needs_a_hidden_layer():
    pytest.importorskip("eclipse_nn")
    net, theta = _net((3, 2), "tanh")
    c = eclipse_bound(net, theta)
    assert c.status == "not applicable" and "depth >= 2" in c.message


@pytest.mark.parametrize("act", ["tanh", "relu"])
def test_eclipse_bounds_are_finite_and_their_signals_recorded(act):
    pytest.importorskip("eclipse_nn")
    from symlip.search.audit import input_lipschitz_lower_bound

    net, theta = _net((4, 16, 16, 16, 1), act, seed=1)
    lower = input_lipschitz_lower_bound(net, theta, R=1.0, budget=0.5, seed=0).value
    full = eclipse_bound(net, theta)
    fast = eclipse_bound(net, theta, fast=True)
    local = eclipse_local_bound(net, theta, R=1.0)
    for c in (full, fast, local):
        assert c.status == "ok" and math.isfinite(c.constant) and c.constant >= lower and c.seconds >= 0
        assert isinstance(c.signals, tuple)
    assert full.tool == "eclipse" and fast.tool == "eclipse-fast" and local.tool == "eclipse-local"
    # the package's fallback from ECLipsE to ECLipsE-Fast is printed; it is reported with its exit code
    fell_back = any("Falling back to ECLipsE-Fast" in s for s in full.signals)
    assert fell_back == any(s.startswith("exit code 1") for s in full.signals)
    if fell_back:
        assert full.constant == fast.constant
        assert any("SDP at layer" in s and "rejected by the package's test" in s for s in full.signals)
    assert "epsilon = R" in local.region and local.region.startswith("|x|_2 <= 1")
    assert product_bound(net, theta).constant >= fast.constant * (1 - 1e-9)


def test_eclipse_local_failure_codes_become_status_failed(monkeypatch):
    pytest.importorskip("eclipse_nn")
    import eclipse_nn

    def fails(self, center, epsilon, actv="relu", algo="Fast"):
        print("Xi < 0. Break.")
        return float("nan"), 0.01, -1

    monkeypatch.setattr(eclipse_nn.LipConstEstimator, "estimate_gen_local", fails)
    net, theta = _net((4, 8, 8, 1), "tanh")
    c = eclipse_local_bound(net, theta, R=1.0)
    assert c.status == "failed" and c.constant is None
    assert "exit code -1 (failure; the package returns NaN)" in c.signals
    assert "printed: Xi < 0. Break." in c.signals


# ---------------------------------------------------------------------------
# audit_tools
# ---------------------------------------------------------------------------
def test_audit_tools_shares_one_search_and_catches_a_false_claim():
    net, theta = _net((3, 8, 8, 1), "tanh", seed=2, scale=3.0)
    audit = audit_tools(net, theta, ["product", "0.5", lambda n, t: 1e6], R=1.0, budget=0.5, seed=0)
    assert isinstance(audit, Audit) and audit.R == 1.0 and len(audit.rows) == 3
    assert all(r.verdict.search is audit.search for r in audit.rows)
    product, half, big = audit.rows
    assert audit.search.value > 0.5
    assert product.status == "survived" and product.ratio < 1 and product.gap > 1
    assert half.status == "violated" and half.ratio > 1 and half.verdict.witness is not None
    assert big.status == "survived" and big.tool == "<lambda>"
    assert audit.complete


def test_audit_tools_reports_unavailable_tools_without_a_verdict(monkeypatch):
    monkeypatch.setitem(sys.modules, "eclipse_nn", None)
    net, theta = _net((2, 6, 1), "relu", seed=0)
    audit = audit_tools(net, theta, list(TOOLS), R=1.0, budget=0.3)
    by = {r.tool: r for r in audit.rows}
    assert by["product"].status == "survived" and by["eclipse"].status == "not installed"
    assert by["eclipse"].verdict is None and by["eclipse"].ratio is None and by["eclipse"].gap is None
    assert audit.complete  # not installed is reported, not a failure
    failed = audit_tools(net, theta, [lambda n, t: -1.0], R=1.0, budget=0.3)
    assert not failed.complete and failed.rows[0].status == "failed"


def test_audit_tools_on_all_of_R_d_needs_a_homogeneous_network():
    net = MLP([2, 6, 1], "relu")
    layers = [(W, np.zeros_like(b)) for W, b in net.unflatten(net.init(seed=1))]
    theta = net.flatten(layers)
    audit = audit_tools(net, theta, ["product", "eclipse-local"], R=None, budget=0.3)
    assert audit.rows[0].status == "survived"
    assert audit.search.exact is not None and audit.rows[0].claim.constant >= audit.search.exact
    assert audit.rows[1].status == "not applicable"
    with pytest.raises(ValueError, match="positively homogeneous"):
        audit_tools(net, net.init(seed=1), ["product"], R=None, budget=0.3)
    with pytest.raises(ValueError, match="at least one tool"):
        audit_tools(net, theta, [], R=1.0)
    with pytest.raises(TypeError, match="sequence of names"):
        audit_tools(net, theta, "product", R=1.0)



@pytest.mark.parametrize("tools, exc, match", [
    (["product", "autolip"], ValueError, "unknown tool 'autolip'"),
    ([2.0, 0], ValueError, "claimed constant 0 must be a finite number > 0"),
    ([math.inf], ValueError, "claimed constant inf must be"),
    ([object()], TypeError, "must be a name"),
    ([], ValueError, "tools is empty"),
])
def test_tools_are_checked_before_the_search(monkeypatch, tools, exc, match):
    """Regression (issue 12): a bad tool was refused only after the whole search had run."""
    import symlip.search.audit

    def no_search(*args, **kwargs):
        raise AssertionError("the search ran before the tools were checked")

    monkeypatch.setattr(symlip.search.audit, "input_lipschitz_lower_bound", no_search)
    net, theta = _net()
    with pytest.raises(exc, match=match):
        audit_tools(net, theta, tools, R=1.0, budget=60.0)
