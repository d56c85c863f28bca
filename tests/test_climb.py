"""The pattern-space climb of the audit (symlip.search.strategies.climb) and the audit's round schedule."""
import numpy as np
import pytest

from symlip import MLP
from symlip.search.audit import exact_input_lipschitz, input_lipschitz_lower_bound
from symlip.search.strategies.climb import PatternClimb, best_flip, climb, flip_values, region_maps, region_point
from symlip.search.strategies.input_context import InputContext


def _jnorm(net, th, x):
    """||J(x)||_2 from the network's own dense Jacobian (independent of the search's engine)."""
    J = np.atleast_2d(net.jac_x(th, x[None, :])[0])
    return float(np.linalg.norm(J, 2))


def _recording(ctx):
    """Record every point offered to the context (and its value)."""
    seen = []
    offer = ctx.offer

    def spy(X, vals):
        seen.extend(zip(np.array(X, float), np.array(vals, float)))
        offer(X, vals)

    ctx.offer = spy
    return seen


def _stairs(k=5, R=1.0):
    """Parallel slabs: unit i is on for x_1 > c_i, and ||J|| is the number of units on; from
    x_1 < c_1 the optimum is k single flips away (each flip alone reachable only in order)."""
    net = MLP([2, k, 1], "relu")
    c = np.linspace(-0.8, 0.8, k) * R
    W1 = np.tile([1.0, 0.0], (k, 1))
    return net, net.flatten([(W1, -c), (np.ones((1, k)), np.zeros(1))])


def test_stairs_optimum_k_flips_away_is_reached():
    net, th = _stairs(5)
    ctx = InputContext(net, th, 1.0, 0)
    x0 = np.array([-0.9, 0.1])
    assert ctx.eng.norms(x0[None])[0] == 0.0
    seen = set()
    x, v = climb(ctx, x0, seen)
    assert v == exact_input_lipschitz(net, th, R=1.0) == 5.0
    assert 1 <= len(seen) <= 5
    assert np.linalg.norm(x) < 1.0 and x[0] > 0.8 and _jnorm(net, th, x) == 5.0
    # unit 3 alone cannot be switched on from the start: the region is empty
    pat = ctx.eng.pattern(x0[None])[0]
    q = pat.copy()
    q[2] = 1
    assert region_point(ctx.eng, q, ctx.Rin) is None
    q[:3] = 1
    y = region_point(ctx.eng, q, ctx.Rin)
    assert y is not None and np.array_equal(ctx.eng.pattern(y[None])[0], q) and np.linalg.norm(y) < 1.0


def test_tiny_square_two_flips_away():
    """Slope A in two strips of width 2e-3, A·sqrt(2) only in their crossing square: from a point
    outside both strips the climb moves into one strip, then into the square (two single flips)."""
    eps, A = 1e-3, 3.0
    net = MLP([2, 4, 1], "relu")
    W1 = np.array([[1.0, 0], [1, 0], [0, 1], [0, 1]])
    b1 = np.array([eps - 0.3, -eps - 0.3, eps + 0.4, -eps + 0.4])
    th = net.flatten([(W1, b1), (np.array([[A, -A, A, -A]]), np.zeros(1))])
    ctx = InputContext(net, th, 1.0, 0)
    seen = set()
    x, v = climb(ctx, np.array([0.6, 0.2]), seen)
    assert len(seen) == 2 and v == pytest.approx(A * np.sqrt(2), rel=1e-15)
    assert abs(x[0] - 0.3) < eps and abs(x[1] + 0.4) < eps and _jnorm(net, th, x) == pytest.approx(v, rel=1e-14)
    assert abs(x[0] - 0.3) < 0.6 * eps and abs(x[1] + 0.4) < 0.6 * eps   # central in the square, not at a corner


@pytest.mark.parametrize("widths,act", [([3, 7, 2], "relu"), ([3, 6, 5, 3], "leaky_relu"), ([4, 5, 4, 1], "relu")])
def test_flip_values_are_the_flipped_regions_jacobian_norms(widths, act):
    net = MLP(widths, act)
    th = net.init(seed=4, scale=1.5)
    ctx = InputContext(net, th, 1.0, 0)
    x = ctx.sample(np.random.default_rng(1), 1)[0]
    pat = ctx.eng.pattern(x[None])[0]
    maps, J = region_maps(ctx.eng, pat)
    assert np.allclose(J, ctx.eng.jac(x[None])[0], rtol=0, atol=1e-13 * (1 + np.abs(J).max()))
    pre = ctx.eng.forward(x[None])[0]
    for (A, c), a in zip(maps, pre):
        assert np.allclose(A @ x + c, a[0], rtol=0, atol=1e-12 * (1 + np.abs(a).max()))
    units, pieces, vals, _, _ = flip_values(ctx.eng, pat)
    assert units.size == pat.size                       # one kink: one flip per unit
    for u, p, v in zip(units, pieces, vals):
        q = pat.copy()
        q[u] = p
        assert v == pytest.approx(np.linalg.norm(region_maps(ctx.eng, q)[1], 2), rel=1e-12)


@pytest.mark.parametrize("seed,act,out", [(0, "relu", 1), (1, "leaky_relu", 1), (2, "relu", 2), (3, "relu", 1)])
def test_local_optimum_against_dense_sampling_and_exact(seed, act, out):
    """One hidden layer: the single-flip test is exact, so at the climb's end no region one unit
    away that meets the disk is better (checked on a dense grid); the climbs reach the exact constant."""
    net = MLP([2, 8, out], act)
    th = net.init(seed=seed, scale=2.0)
    exact = exact_input_lipschitz(net, th, R=1.0)
    ctx = InputContext(net, th, 1.0, 0)
    seen = _recording(ctx)
    x, v = climb(ctx, ctx.sample(np.random.default_rng(seed), 1)[0])
    assert best_flip(ctx, x, v) is None
    r = np.sqrt(np.linspace(0, 1, 300)) * (1 - 1e-9)
    a = np.linspace(0, 2 * np.pi, 1200, endpoint=False)
    G = (r[:, None, None] * np.stack([np.cos(a), np.sin(a)], -1)[None]).reshape(-1, 2)
    P = ctx.eng.pattern(G)
    near = np.sum(P != ctx.eng.pattern(x[None])[0], axis=1) == 1
    assert near.any()
    assert ctx.eng.norms(G[near]).max() <= v * (1 + 1e-12)
    for y, val in seen:                                   # every value offered is witnessed in the disk
        assert np.linalg.norm(y) < 1.0
        assert val == pytest.approx(_jnorm(net, th, y), rel=1e-12)
    s = input_lipschitz_lower_bound(net, th, R=1.0, max_evals=3000, seed=seed, use_exact=False,
                                    strategies=["climb"])
    assert s.value == pytest.approx(exact, rel=1e-12)


def test_witnessed_by_finite_differences_and_reproducible():
    net = MLP([5, 24, 16, 3], "relu")
    th = net.init(seed=7, scale=1.5)
    runs = [input_lipschitz_lower_bound(net, th, R=1.0, max_evals=4000, seed=2, use_exact=False,
                                        strategies=["random", "climb"]) for _ in range(2)]
    a, b = runs
    assert a.value == b.value and a.evaluations == b.evaluations and np.array_equal(a.x, b.x)
    assert a.by_strategy["climb"]["best"] >= a.by_strategy["random"]["best"]
    # the reported value: a pair inside one region, so a central difference along its chord is exact
    assert np.linalg.norm(a.x) <= 1.0 and np.linalg.norm(a.x2) <= 1.0
    d = a.x2 - a.x
    fd = np.linalg.norm(net.f(th, a.x + 0.75 * d) - net.f(th, a.x + 0.25 * d)) / (0.5 * np.linalg.norm(d))
    assert a.value == pytest.approx(fd, rel=1e-9)
    assert a.value == pytest.approx(_jnorm(net, th, 0.5 * (a.x + a.x2)), rel=1e-12)


def _ladder_nets():
    nets = []
    for widths, act, seed in [([4, 16, 1], "relu", 1), ([3, 12, 12, 2], "leaky_relu", 2), ([2, 20, 1], "relu", 3)]:
        net = MLP(widths, act)
        nets.append((net, net.init(seed=seed, scale=1.5)))
    return nets


@pytest.mark.parametrize("k", range(3))
def test_best_value_is_monotone_in_max_evals(k):
    net, th = _ladder_nets()[k]
    prev_v, prev_j = 0.0, 0.0
    for me in (10, 60, 250, 500, 900, 1600, 3100):
        s = input_lipschitz_lower_bound(net, th, R=1.0, max_evals=me, seed=5, use_exact=False)
        assert s.value >= prev_v and s.jacobian_norm >= prev_j
        prev_v, prev_j = s.value, s.jacobian_norm


def test_climb_is_for_piecewise_linear_networks_only():
    net = MLP([2, 6, 1], "tanh")
    th = net.init(seed=0)
    assert not PatternClimb().applies(InputContext(net, th, 1.0, 0))
    s = input_lipschitz_lower_bound(net, th, R=1.0, max_evals=500)
    assert "climb" not in s.by_strategy
    with pytest.raises(ValueError, match="'climb' does not apply"):
        input_lipschitz_lower_bound(net, th, R=1.0, max_evals=500, strategies=["climb"])
    net = MLP([3, 6, 1], "relu")               # d = 3: no exact constant, so no early stop
    s = input_lipschitz_lower_bound(net, net.init(seed=0), R=1.0, max_evals=2000, use_exact=False)
    assert s.by_strategy["climb"]["evaluations"] > 0
