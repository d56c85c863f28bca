"""symlip.models.torch_io: nn.Sequential <-> (MLP, θ), state dicts, the --trust rule, and life without torch."""
import sys

import numpy as np
import pytest

from symlip import MLP

# ---------------------------------------------------------------------------
# without torch (these run whether or not torch is installed)
# ---------------------------------------------------------------------------


def test_without_torch_the_message_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now raises ImportError
    from symlip.models import torch_io

    with pytest.raises(ImportError, match=r"pip install 'symlip\[torch\]'"):
        torch_io.from_torch(object())
    with pytest.raises(ValueError, match="m.pt' does not exist"):  # the missing file first
        torch_io.load_model(tmp_path / "m.pt")
    (tmp_path / "m.pt").write_bytes(b"x")
    with pytest.raises(ImportError, match=r"pip install 'symlip\[torch\]'"):
        torch_io.load_model(tmp_path / "m.pt")
    with pytest.raises(ImportError, match=r"symlip\[torch\]"):
        torch_io.to_torch(MLP([2, 1], "tanh"), np.zeros(3))


def test_without_torch_the_cli_prints_one_line_and_exits_2(monkeypatch, capsys, tmp_path):
    from symlip.cli import main

    monkeypatch.setitem(sys.modules, "torch", None)
    (tmp_path / "m.pt").write_bytes(b"x")
    assert main(["audit", str(tmp_path / "m.pt"), "--input-radius", "1", "--tool", "0.5"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "pip install 'symlip[torch]'" in err
    # a missing file is named, not "this needs PyTorch"
    assert main(["audit", str(tmp_path / "nosuch.pt"), "--input-radius", "1", "--tool", "0.5"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "nosuch.pt' does not exist" in err and "torch" not in err.split("'")[0]


def test_without_torch_everything_else_works(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    from symlip.peers import product_bound

    net = MLP([3, 4, 1], "tanh")
    theta = net.init(seed=0)
    assert product_bound(net, theta).status == "ok"
    assert np.isfinite(net.f(theta, np.ones(3)))


# ---------------------------------------------------------------------------
# with torch
# ---------------------------------------------------------------------------
torch = pytest.importorskip("torch")
nn = torch.nn

from symlip.models.torch_io import TorchNet, from_torch, load_model, to_torch  # noqa: E402

ACTIVATIONS = {
    "tanh": lambda: nn.Tanh(),
    "sigmoid": lambda: nn.Sigmoid(),
    "relu": lambda: nn.ReLU(),
    "leaky_relu": lambda: nn.LeakyReLU(0.1),
    "leaky_relu_default": lambda: nn.LeakyReLU(),
    "elu": lambda: nn.ELU(),
    "elu_0.7": lambda: nn.ELU(alpha=0.7),
    "gelu": lambda: nn.GELU(),
    "gelu_tanh": lambda: nn.GELU(approximate="tanh"),
    "silu": lambda: nn.SiLU(),
    "softplus": lambda: nn.Softplus(),
    "softplus_beta2": lambda: nn.Softplus(beta=2.0),
    "softsign": lambda: nn.Softsign(),
    "identity": None,
}


def _sequential(widths, make_act, bias=True, seed=0, dtype=torch.float64):
    torch.manual_seed(seed)
    mods = []
    for i in range(1, len(widths)):
        mods.append(nn.Linear(widths[i - 1], widths[i], bias=bias, dtype=dtype))
        if i < len(widths) - 1 and make_act is not None:
            mods.append(make_act())
    return nn.Sequential(*mods)


def _torch_param_grads(model, x):
    """Per-sample ∂f/∂(W_i, b_i) from autograd, in symlip's θ layout (b entries None when bias-free)."""
    model.zero_grad()
    out = model(torch.from_numpy(x)[None, :])[0, 0]
    out.backward()
    parts = []
    for mod in model:
        if isinstance(mod, nn.Linear):
            parts.append(mod.weight.grad.detach().numpy().reshape(-1).copy())
            parts.append(mod.bias.grad.detach().numpy().copy() if mod.bias is not None
                         else np.full(mod.out_features, np.nan))
    return np.concatenate(parts)


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no-bias"])
@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_round_trip_outputs_and_gradients_agree_to_1e_10(name, bias):
    widths = [3, 7, 5, 1]
    model = _sequential(widths, ACTIVATIONS[name], bias=bias, seed=1)
    got = from_torch(model)
    net, theta = got
    assert isinstance(got, TorchNet) and got.bias_free is (not bias) and net.widths == tuple(widths)
    X = np.random.default_rng(2).normal(size=(6, 3)) * 1.5
    f_torch = model(torch.from_numpy(X)).detach().numpy()[:, 0]
    np.testing.assert_allclose(net.f(theta, X), f_torch, rtol=1e-10, atol=1e-13)
    # per-sample ∇_θ f: symlip's analytic backprop vs torch autograd (bias entries only where torch has them)
    G = net.grad(theta, X)
    for n in range(X.shape[0]):
        want = _torch_param_grads(model, X[n])
        keep = ~np.isnan(want)
        np.testing.assert_allclose(G[n][keep], want[keep], rtol=1e-10, atol=1e-13)
    # input gradient ∇_x f
    xt = torch.from_numpy(X).requires_grad_(True)
    model(xt).sum().backward()
    np.testing.assert_allclose(net.jac_x(theta, X), xt.grad.numpy(), rtol=1e-10, atol=1e-13)


def test_vector_output_and_single_linear():
    model = _sequential([4, 6, 3], ACTIVATIONS["tanh"])
    net, theta = from_torch(model)
    X = np.random.default_rng(0).normal(size=(5, 4))
    np.testing.assert_allclose(net.f(theta, X), model(torch.from_numpy(X)).detach().numpy(), rtol=1e-10, atol=1e-13)
    single = nn.Sequential(nn.Linear(3, 2, dtype=torch.float64))
    got = from_torch(single)
    assert got.net.widths == (3, 2) and got.net.activation.name == "identity" and not got.bias_free
    np.testing.assert_allclose(got.net.f(got.theta, X[:, :3]),
                               single(torch.from_numpy(X[:, :3])).detach().numpy(), rtol=1e-10, atol=1e-13)


def test_float32_weights_convert_exactly():
    model = _sequential([3, 4, 1], ACTIVATIONS["relu"], dtype=torch.float32)
    net, theta = from_torch(model)
    want = np.concatenate([np.asarray(p.detach().numpy(), dtype=np.float64).reshape(-1) for p in model.parameters()])
    assert theta.dtype == np.float64 and np.array_equal(theta, want)


def test_identity_flatten_and_nested_sequential_are_read_through():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Sequential(nn.Linear(3, 4, dtype=torch.float64), nn.Tanh()),
                          nn.Identity(), nn.Linear(4, 1, dtype=torch.float64))
    net, theta = from_torch(model)
    assert net.widths == (3, 4, 1) and net.activation.name == "tanh"
    X = np.random.default_rng(0).normal(size=(4, 3))
    np.testing.assert_allclose(net.f(theta, X), model(torch.from_numpy(X)).detach().numpy()[:, 0], rtol=1e-10)


def test_softplus_threshold_difference_is_below_the_documented_bound():
    beta, thr = 2.0, 20.0
    model = nn.Sequential(nn.Linear(1, 1, bias=False, dtype=torch.float64), nn.Softplus(beta, thr),
                          nn.Linear(1, 1, bias=False, dtype=torch.float64))
    with torch.no_grad():
        model[0].weight.fill_(1.0)
        model[2].weight.fill_(1.0)
    net, theta = from_torch(model)
    t = np.array([[10.5], [12.0], [30.0]])  # β t > threshold: torch returns t itself
    diff = np.abs(net.f(theta, t) - model(torch.from_numpy(t)).detach().numpy()[:, 0])
    assert np.all(diff < np.exp(-thr) / beta)


@pytest.mark.parametrize("model,error,match", [
    (lambda: nn.Sequential(nn.Conv1d(3, 4, 1), nn.Linear(4, 1)), TypeError, r"layer 0 \(Conv1d"),
    (lambda: nn.Sequential(nn.Linear(3, 4), nn.Dropout(0.1), nn.Linear(4, 1)), TypeError, r"layer 1 \(Dropout"),
    (lambda: nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 1)),
     ValueError, r"mixed activations: layer 3 \(ReLU\), but the first hidden layer uses Tanh"),
    (lambda: nn.Sequential(nn.Linear(3, 4), nn.LeakyReLU(0.1), nn.Linear(4, 4), nn.LeakyReLU(0.2),
                           nn.Linear(4, 1)), ValueError, r"layer 3 .*LeakyReLU\(0.1\)"),
    (lambda: nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 4), nn.Linear(4, 1)),
     ValueError, r"no activation before layer 3"),
    (lambda: nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Tanh(), nn.Linear(4, 1)), ValueError,
     r"layer 2 \(Tanh\) follows the activation at layer 1"),
    (lambda: nn.Sequential(nn.Linear(3, 4), nn.Tanh()), ValueError, r"layer 1 \(Tanh\) comes after the last Linear"),
    (lambda: nn.Sequential(nn.Tanh(), nn.Linear(3, 1)), ValueError, r"layer 0 \(Tanh\) comes before the first"),
    (lambda: nn.Sequential(nn.Linear(3, 4), nn.Flatten(0), nn.Linear(4, 1)), TypeError, r"layer 1 .*Flatten"),
    (lambda: nn.Linear(3, 1), TypeError, r"needs a torch.nn.Sequential.*got Linear"),
    (lambda: nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(5, 1)), ValueError, r"layer 2 .*takes 5 inputs"),
    (lambda: nn.Sequential(nn.Tanh()), ValueError, r"before the first Linear"),
    (lambda: nn.Sequential(), ValueError, r"no Linear layer"),
])
def test_unsupported_structures_name_the_layer(model, error, match):
    with pytest.raises(error, match=match):
        from_torch(model())


@pytest.mark.parametrize("act", ["tanh", "relu", "gelu", "silu", "softsign", "identity", ("leaky_relu", 0.2),
                                 ("elu", 0.5)])
def test_to_torch_round_trip(act):
    from symlip import activation

    a = activation(act[0], alpha=act[1]) if isinstance(act, tuple) else activation(act)
    net = MLP([3, 5, 4, 2], a)
    theta = net.init(seed=3)
    back = from_torch(to_torch(net, theta))
    assert back.net == net and np.array_equal(back.theta, theta)
    X = np.random.default_rng(0).normal(size=(4, 3))
    np.testing.assert_allclose(net.f(theta, X), to_torch(net, theta)(torch.from_numpy(X)).detach().numpy(),
                               rtol=1e-10, atol=1e-13)


def test_to_torch_errors():
    with pytest.raises(ValueError, match="no torch module computes the activation"):
        to_torch(MLP([2, 3, 1], "t/(2+Abs(t))"), np.zeros(13))
    net = MLP([2, 3, 1], "relu")
    with pytest.raises(ValueError, match="bias=False needs every bias"):
        to_torch(net, net.init(seed=0), bias=False)
    theta = net.flatten([(W, np.zeros_like(b)) for W, b in net.unflatten(net.init(seed=0))])
    assert from_torch(to_torch(net, theta, bias=False)).bias_free


# ---------------------------------------------------------------------------
# files
# ---------------------------------------------------------------------------
def test_state_dict_needs_no_trust(tmp_path):
    model = _sequential([4, 8, 8, 1], ACTIVATIONS["tanh"], seed=5)
    torch.save(model.state_dict(), tmp_path / "sd.pt")
    got = load_model(tmp_path / "sd.pt", activation="tanh", widths=[4, 8, 8, 1])
    want = from_torch(model)
    assert got.net == want.net and np.array_equal(got.theta, want.theta) and got.source == str(tmp_path / "sd.pt")
    got2 = load_model(tmp_path / "sd.pt", activation="tanh")  # widths come from the shapes
    assert got2.net.widths == (4, 8, 8, 1)


def test_state_dict_errors(tmp_path):
    model = _sequential([4, 8, 1], ACTIVATIONS["relu"])
    torch.save(model.state_dict(), tmp_path / "sd.pt")
    with pytest.raises(ValueError, match="stores no activation"):
        load_model(tmp_path / "sd.pt")
    with pytest.raises(ValueError, match=r"widths \[4, 9, 1\] do not match the model's \[4, 8, 1\]"):
        load_model(tmp_path / "sd.pt", activation="relu", widths=[4, 9, 1])
    torch.save({"0.weight": torch.zeros(3, 2), "bn.running_mean": torch.zeros(3)}, tmp_path / "bn.pt")
    with pytest.raises(ValueError, match=r"'bn.running_mean'.*not a Linear weight"):
        load_model(tmp_path / "bn.pt", activation="relu")
    with pytest.raises(ValueError, match="does not exist"):
        load_model(tmp_path / "nope.pt", activation="relu")
    (tmp_path / "text.pt").write_text("not a torch file")
    with pytest.raises(ValueError, match="cannot read"):
        load_model(tmp_path / "text.pt", activation="relu")


def test_bias_free_state_dict(tmp_path):
    model = _sequential([2, 6, 1], ACTIVATIONS["relu"], bias=False)
    torch.save(model.state_dict(), tmp_path / "sd.pt")
    got = load_model(tmp_path / "sd.pt", activation="relu")
    assert got.bias_free and np.array_equal(got.theta, from_torch(model).theta)


def test_pickled_module_needs_trust(tmp_path):
    model = _sequential([3, 5, 1], ACTIVATIONS["gelu"])
    torch.save(model, tmp_path / "full.pt")
    with pytest.raises(ValueError, match=r"unpickling runs code from the file.*trust=True \(--trust\)"):
        load_model(tmp_path / "full.pt")
    got = load_model(tmp_path / "full.pt", trust=True)
    assert got.net.activation.name == "gelu" and np.array_equal(got.theta, from_torch(model).theta)
    with pytest.raises(ValueError, match="fixes the activation"):
        load_model(tmp_path / "full.pt", trust=True, activation="tanh")
