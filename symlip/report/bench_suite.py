"""The hard ground-truth suite of ``symlip bench`` (section ``search``): cases whose
true constant is known independently of any search.

Two kinds of case:

``input``
    one fixed network ``x ↦ f(x; θ)`` and its input-Lipschitz constant on the
    ball ``|x| <= R`` (docs/theory.md §8.6); symlip's search is
    :func:`symlip.search.audit.input_lipschitz_lower_bound` (its exact-region
    shortcut off, so the search itself is measured).
``param``
    a claim (a derived bound of docs/theory.md §3) on a network and a parameter
    region; symlip's search is :func:`symlip.search.falsify.falsify` and its
    figure is the witnessed value (the best pair's difference quotient).

Each case states how its truth is known (``truth_how``) and whether it is a
ground truth (closed form, construction, exact enumeration) or only the best
value known (``ground_truth=False``).  Certified truths from the coming
``symlip.certify`` package would enter in :func:`suite_cases` where the comment
``CERTIFIED-TRUTH HOOK`` stands; nothing is certified today.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["SuiteCase", "needle_network", "suite_cases", "trained_networks", "train_mlp", "synthetic_data",
           "DATA_FILE"]

#: the trained networks shipped with the bench (written by :func:`train_mlp`, read with allow_pickle=False)
DATA_FILE = Path(__file__).resolve().parent / "data" / "trained_mlps.npz"
#: seeds of the constructions; distinct from the searches' seeds (0) so that no
#: construction direction coincides with a search's first random draw
_SEED = 20240611


@dataclass(eq=False)
class SuiteCase:
    """One case of the suite.

    Attributes
    ----------
    name : str
    kind : {"input", "param"}
    net : MLP
    truth : float
        The true constant (or the best value known when ``ground_truth`` is False).
    truth_how : str
        Why the truth is the truth (a proof sketch or the method).
    ground_truth : bool
    hard : bool
        Expected to be out of reach of plain random sampling (a needle or a
        hidden chain); the depth-1 and real-world-shaped cases are sanity cases.
    R : float
        Input radius.
    theta : ndarray or None
        The network's parameters (``input`` cases).
    case : Case or None
        The claim, network and region (``param`` cases).
    """

    name: str
    kind: str
    net: Any
    truth: float
    truth_how: str
    ground_truth: bool
    hard: bool
    R: float = 1.0
    theta: np.ndarray | None = None
    case: Any = None
    info: dict = field(default_factory=dict)

    @property
    def n_params(self) -> int:
        return int(self.net.n_params)


# ---------------------------------------------------------------------------
# input needles
# ---------------------------------------------------------------------------
def needle_network(d: int, hidden: int, *, R: float = 1.0, eps: float = 0.02, gain: float = 3.0,
                   scale: float = 20.0, seed: int = _SEED) -> tuple[Any, np.ndarray, float]:
    """A one-hidden-layer ReLU network whose steepest region is a small cap of the ball.

    ``f(x) = Σ_j a_j relu(w_j·x + b_j)`` with three kinds of unit:

    * *always on* (about half of ``hidden - 1``): ``|w_j| = scale``,
      ``b_j = scale R + 1``, so ``w_j·x + b_j >= 1 > 0`` on ``|x| <= R``;
      together they give the constant linear part ``g0 = Σ a_j w_j``, scaled
      to ``|g0| = 1``;
    * *always off* (the rest): ``b_j = -(scale R + 1)``, so ``w_j·x + b_j <= -1``;
    * one *needle* ``w_n = c u`` (``|u| = 1``, ``c = 50``), ``b_n = -c R (1 - eps)``,
      ``a_n = gain / c``: active exactly on the cap ``u·x > R (1 - eps)``.

    The large weights of the other units keep ``u`` away from the top singular
    directions of ``W_1``.

    Truth.  On the ball the network is linear on two pieces: off the cap
    ``J = g0``, on the cap ``J = g0 + a_n c u = g0 + gain u``.  The cap is an
    open subset of the ball with non-empty interior for ``eps > 0``.  On a convex
    set the Lipschitz constant of a piecewise-linear function is the largest
    ``||J||`` over the pieces meeting its interior (a chord crosses finitely many
    pieces and ``|Σ J_k Δ_k| <= max ||J_k|| Σ |Δ_k|``; a chord inside one piece
    attains ``||J_k||``), hence ``L* = max(|g0|, |g0 + gain u|)``
    (docs/theory.md §8.6).  ``tests/test_bench.py`` checks it against
    :func:`symlip.search.audit.exact_input_lipschitz` at ``d = 2``.

    Returns
    -------
    (net, theta, truth)
    """
    from symlip.models.network import MLP

    if hidden < 3:
        raise ValueError(f"hidden must be >= 3 (an on unit, an off unit, the needle); got {hidden!r}")
    rng = np.random.default_rng(seed)
    u = rng.standard_normal(d)
    u /= np.linalg.norm(u)
    n_on = (hidden - 1 + 1) // 2
    W1 = rng.standard_normal((hidden, d))
    W1 *= scale / np.linalg.norm(W1, axis=1, keepdims=True)
    b1 = np.where(np.arange(hidden) < n_on, scale * R + 1.0, -(scale * R + 1.0))
    a = rng.standard_normal(hidden)
    g0 = W1[:n_on].T @ a[:n_on]
    a[:n_on] /= np.linalg.norm(g0)
    g0 = W1[:n_on].T @ a[:n_on]
    c = 50.0
    W1[-1], b1[-1], a[-1] = c * u, -c * R * (1.0 - eps), gain / c
    net = MLP([d, hidden, 1], "relu")
    theta = net.flatten([(W1, b1), (a[None, :], np.zeros(1))])
    truth = max(float(np.linalg.norm(g0)), float(np.linalg.norm(g0 + gain * u)))
    return net, theta, truth


def _input_needle(d: int, hidden: int, eps: float) -> SuiteCase:
    net, theta, truth = needle_network(d, hidden, eps=eps)
    return SuiteCase(
        name=f"input needle [{d}, {hidden}, 1] relu, cap eps {eps:g}", kind="input", net=net, theta=theta,
        truth=truth, ground_truth=True, hard=True, R=1.0, info={"eps": eps},
        truth_how="closed form max(|g0|, |g0 + gain u|): the only region boundary in the ball is the "
                  "needle's plane (bench_suite.needle_network)")


# ---------------------------------------------------------------------------
# parameter-space cases
# ---------------------------------------------------------------------------
def _depth1_many_inputs(d: int, R: float) -> SuiteCase:
    from symlip.bounds.symbolic import derive
    from symlip.models.network import MLP
    from symlip.models.region import Region
    from symlip.search.claims import Case, Claim

    net = MLP([d, 1], "relu")
    case = Case(Claim("U1 (m=1)", "lip_f", derive("lip_f", 1)), net, Region.box(1.0, 1.0), R=R)
    return SuiteCase(
        name=f"lip_f depth 1 [{d}, 1], R = {R:g}", kind="param", net=net, case=case, R=R,
        truth=math.sqrt(1.0 + R * R), ground_truth=True, hard=False,
        truth_how="closed form sqrt(1 + R^2): ∇_θ f = (x, 1) (docs/theory.md §3.2, tightness)")


def _hidden_chain(quantity: str, widths: list[int], omega: tuple[float, ...], beta: float, R: float) -> SuiteCase:
    from symlip.bounds.symbolic import derive
    from symlip.models.network import MLP
    from symlip.models.region import Region
    from symlip.search.claims import Case, Claim

    m = len(widths) - 1
    net = MLP(widths, "relu")
    region = Region.box(omega, beta)
    bound = derive(quantity, m)
    case = Case(Claim(f"{'U1' if quantity == 'lip_f' else 'U4'} (m={m})", quantity, bound), net, region, R=R)
    truth = float(bound.evaluate(net, region, R=R))
    how = ("U1 is attained for ReLU on a box (docs/theory.md §3.2, tightness): the aligned positive unit "
           "chain with |x| = R, b_i = β_i e_1 has |z_i| = B_i and |δ_i| = G_i at once"
           if quantity == "lip_f" else
           "U4 = ∏ω_i is attained for ReLU on a box (docs/theory.md §3.5): W_1 = ω_1 e_1 vᵀ, "
           "W_i = ω_i e_1 e_1ᵀ, b_i = β_i e_1 keep the chain's units active near x = 0, where "
           "J = ∏ω_i e_1 vᵀ has norm ∏ω_i; U4 is an upper bound everywhere")
    return SuiteCase(
        name=f"{quantity} depth {m} {widths} relu box (chain hidden in wide layers)", kind="param", net=net,
        case=case, R=R, truth=truth, ground_truth=True, hard=True, truth_how=how)


# ---------------------------------------------------------------------------
# real-world-shaped networks for audit
# ---------------------------------------------------------------------------
def train_mlp(widths: list[int], X: np.ndarray, Y: np.ndarray, *, steps: int = 1500, lr: float = 3e-3,
              seed: int = 0, activation: str = "relu") -> np.ndarray:
    """Train a ReLU (or ``activation="tanh"``) MLP on ``(X, Y)`` by full-batch Adam on the
    mean squared error (numpy, seeded).

    Returns the flat parameter vector (symlip's layout, :meth:`MLP.flatten`).
    """
    from symlip.models.network import MLP

    acts = {"relu": (lambda a: np.maximum(a, 0.0), lambda a: a > 0),
            "tanh": (np.tanh, lambda a: 1.0 - np.tanh(a) ** 2)}
    if activation not in acts:
        raise ValueError(f"activation must be one of {', '.join(acts)}; got {activation!r}")
    sigma, dsigma = acts[activation]
    net = MLP(widths, activation)
    rng = np.random.default_rng(seed)
    layers = [(rng.standard_normal((o, i)) * math.sqrt(2.0 / i), np.zeros(o))
              for i, o in zip(widths[:-1], widths[1:])]
    params = [p for W, b in layers for p in (W, b)]
    mom = [np.zeros_like(p) for p in params]
    vel = [np.zeros_like(p) for p in params]
    n = X.shape[0]
    for t in range(1, steps + 1):
        zs, pre = [X], []
        for k in range(0, len(params), 2):
            a = zs[-1] @ params[k].T + params[k + 1]
            pre.append(a)
            zs.append(sigma(a) if k + 2 < len(params) else a)
        delta = 2.0 * (zs[-1] - Y) / n
        grads: list[np.ndarray] = [np.zeros(0)] * len(params)
        for k in range(len(params) - 2, -1, -2):
            grads[k], grads[k + 1] = delta.T @ zs[k // 2], delta.sum(axis=0)
            if k:
                delta = (delta @ params[k]) * dsigma(pre[k // 2 - 1])
        for j, g in enumerate(grads):
            mom[j] = 0.9 * mom[j] + 0.1 * g
            vel[j] = 0.999 * vel[j] + 0.001 * g * g
            params[j] -= lr * (mom[j] / (1 - 0.9 ** t)) / (np.sqrt(vel[j] / (1 - 0.999 ** t)) + 1e-8)
    return net.flatten([(params[k], params[k + 1]) for k in range(0, len(params), 2)])


def synthetic_data(d: int, k: int, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` seeded inputs uniform in ``[-1, 1]^d`` and ``k`` smooth targets (the trained networks' data)."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1.0, 1.0, (n, d))
    A = rng.standard_normal((k, d))
    Y = np.sin(3.0 * X @ A.T) + 0.5 * np.cos(2.0 * X[:, :1] - X[:, -1:])
    return X, Y


def trained_networks(path: str | Path = DATA_FILE) -> dict[str, tuple[list[int], np.ndarray]]:
    """The shipped trained networks: name -> (widths, theta); read without pickle (data, never code)."""
    out = {}
    with np.load(Path(path), allow_pickle=False) as data:
        for key in data.files:
            if key.endswith("__widths"):
                name = key[: -len("__widths")]
                out[name] = ([int(w) for w in data[key]], np.array(data[name + "__theta"], dtype=float))
    return out


def write_trained_networks(path: str | Path = DATA_FILE) -> None:
    """Regenerate the shipped file (seeded; the bench reads the file, so BLAS rounding
    differences between machines do not change the networks)."""
    specs = {"trained_2_128_1": ([2, 128, 1], 0), "trained_8_64_64_4": ([8, 64, 64, 4], 1)}
    arrays = {}
    for name, (widths, seed) in specs.items():
        X, Y = synthetic_data(widths[0], widths[-1], 512, seed + 100)
        arrays[name + "__widths"] = np.array(widths, dtype=np.int64)
        arrays[name + "__theta"] = train_mlp(widths, X, Y, seed=seed)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(Path(path), **arrays)


def _exact_case(name: str, net: Any, theta: np.ndarray, how: str) -> SuiteCase:
    from symlip.search.audit import exact_input_lipschitz

    truth = exact_input_lipschitz(net, theta, R=1.0)
    return SuiteCase(name=name, kind="input", net=net, theta=theta, truth=truth, ground_truth=True, hard=False,
                     R=1.0, truth_how=f"exact: activation regions enumerated (exact_input_lipschitz); {how}")


def _audit_cases(best_known_budget: float) -> list[SuiteCase]:
    from symlip.models.network import MLP
    from symlip.search.audit import input_lipschitz_lower_bound

    cases = []
    net = MLP([2, 32, 3], "relu")
    cases.append(_exact_case("audit [2, 32, 3] relu, vector output (random init)", net,
                             net.init(_SEED), "3 outputs"))
    net = MLP([2, 64, 1], "relu")
    th = net.init(_SEED + 1)
    th[net.layer_slices[0][1]] = 0.0
    th[net.layer_slices[1][1]] = 0.0
    cases.append(_exact_case("audit [2, 64, 1] relu, bias-free", net, th, "positively homogeneous"))
    net = MLP([2, 64, 1], "relu")
    cases.append(_exact_case("audit [2, 64, 1] relu, random with biases", net, net.init(_SEED + 2, scale=1.5),
                             "64 boundary lines crossing the disk"))
    trained = trained_networks()
    widths, th = trained["trained_2_128_1"]
    cases.append(_exact_case("audit [2, 128, 1] relu, trained (shipped weights)", MLP(widths, "relu"), th,
                             "weights trained on synthetic data (bench_suite.train_mlp)"))
    widths, th = trained["trained_8_64_64_4"]
    net = MLP(widths, "relu")
    # no exact method for depth 2 hidden layers: the best value known, from a long search
    # (the suite's own searches may raise it: the driver takes the maximum it sees)
    best = input_lipschitz_lower_bound(net, th, R=1.0, budget=best_known_budget, seed=7).value
    cases.append(SuiteCase(
        name="audit [8, 64, 64, 4] relu, trained, vector output", kind="input", net=net, theta=th,
        truth=float(best), ground_truth=False, hard=False, R=1.0,
        truth_how=f"best known (NOT ground truth): a {best_known_budget:g} s search (seed 7), raised to the "
                  "largest value any method of this run reached"))
    return cases


def suite_cases(quick: bool) -> list[SuiteCase]:
    """The suite: quick mode keeps one case of each kind and size class (about 1 s each)."""
    if quick:
        return [_input_needle(4, 5, 0.002), _input_needle(100, 10, 0.02),
                _hidden_chain("lip_input", [8, 32, 32, 32, 32, 1], (1.5, 1.2, 1.1, 1.3, 1.4), 0.5, 1.0)]
    # CERTIFIED-TRUTH HOOK: when symlip.certify lands, cases whose truth is a certified
    # enclosure (e.g. tanh networks on a ball) are added here with ground_truth=True and
    # truth_how naming the certificate.  No such case exists yet.
    return [
        _input_needle(4, 5, 0.002),
        _input_needle(100, 10, 0.02),
        _input_needle(100, 100, 0.02),
        _depth1_many_inputs(2000, 3.0),
        _hidden_chain("lip_input", [16, 64, 64, 64, 64, 1], (1.5, 1.2, 1.1, 1.3, 1.4), 0.5, 1.0),
        _hidden_chain("lip_f", [16, 64, 64, 64, 64, 1], (1.5, 1.2, 1.1, 1.3, 1.4), 0.5, 1.0),
        *_audit_cases(best_known_budget=20.0),
    ]
