"""PyTorch models in and out: ``nn.Sequential`` <-> :class:`~symlip.models.network.MLP` and θ.

PyTorch is optional (``pip install 'symlip[torch]'``, torch==2.13.0): it is
imported only when one of these functions runs, and a missing install raises
``ImportError`` saying how to get it.

Supported modules are ``nn.Sequential`` stacks ``Linear, σ, Linear, σ, ..., Linear``
with one activation ``σ`` (same class and parameters) after every hidden
``Linear`` and an affine output layer, which is what an :class:`MLP` computes.
``nn.Identity`` and ``nn.Flatten()`` (a no-op on ``(n, d_0)`` inputs) are dropped and
nested ``nn.Sequential`` blocks are flattened; a stack of ``Linear`` layers with no
activation between them is an MLP with the identity activation.  The activations and
their symlip counterparts:

* ``nn.Tanh``, ``nn.Sigmoid``, ``nn.ReLU``, ``nn.SiLU``, ``nn.Softsign``: ``"tanh"``,
  ``"sigmoid"``, ``"relu"``, ``"silu"``, ``"softsign"``;
* ``nn.LeakyReLU(a)``, ``nn.ELU(a)``: ``activation("leaky_relu", alpha=a)``,
  ``activation("elu", alpha=a)``;
* ``nn.GELU()``: ``"gelu"`` (``t Φ(t)``, the erf form); ``nn.GELU(approximate="tanh")``:
  ``t (1 + tanh(√(2/π) (t + 0.044715 t³))) / 2`` (named ``gelu_tanh``);
* ``nn.Softplus(β, threshold)``: ``log(1 + exp(β t)) / β`` (the registry's ``"softplus"``
  when β = 1).

``nn.Softplus`` switches to the identity where ``β t > threshold``; there the two
differ by ``log(1 + exp(-β t)) / β < exp(-threshold) / β`` (about 2e-9 for the
default threshold 20), so symlip's smooth ``σ`` and torch's agree to that much.  For
β ≠ 1 symlip evaluates the expression itself, which is finite up to ``β t ≈ 700``.

Weights of any floating dtype are converted to float64 exactly (float32, float16
and bfloat16 values are float64 values).
"""
from __future__ import annotations

import math
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import sympy as sp

from symlip.activations.registry import T, Activation, activation as _activation
from symlip.core.messages import first_line as _first_line
from symlip.models.network import MLP

__all__ = ["TorchNet", "from_torch", "load_model", "to_torch", "INSTALL_HINT"]

#: How to get the optional PyTorch dependency.
INSTALL_HINT = "pip install 'symlip[torch]' (PyTorch 2.13.0)"

_SUPPORTED = ("Linear", "Tanh", "Sigmoid", "ReLU", "LeakyReLU", "ELU", "GELU", "SiLU", "Softplus",
              "Softsign", "Identity", "Flatten", "Sequential")


@dataclass(frozen=True)
class TorchNet:
    """A PyTorch network as symlip sees it; unpacks as ``net, theta = ...``.

    Attributes
    ----------
    net : MLP
        Widths and activation.
    theta : numpy.ndarray
        The flat float64 parameter vector (layout of :meth:`MLP.flatten`).
    bias_free : bool
        True when every ``Linear`` layer was built with ``bias=False`` (θ then holds
        zero biases); such a network with a positively homogeneous activation can be
        audited on all of ``R^d`` (``R=None``).
    layers : tuple of str
        The modules that were read, e.g. ``("Linear(4, 16)", "Tanh()", ...)``.
    source : str or None
        The file the network came from (:func:`load_model`), or None.
    """

    net: MLP
    theta: np.ndarray
    bias_free: bool
    layers: tuple[str, ...]
    source: str | None = None

    def __iter__(self) -> Iterator[Any]:
        return iter((self.net, self.theta))

    def __repr__(self) -> str:
        src = f", source={self.source!r}" if self.source else ""
        return (f"TorchNet(widths={list(self.net.widths)}, activation={self.net.activation.name!r}, "
                f"bias_free={self.bias_free}{src})")


def _torch() -> Any:
    """``import torch``, or ``ImportError`` saying how to install the extra."""
    try:
        import torch
    except ImportError as exc:
        raise ImportError(f"this needs PyTorch, which is not installed ({exc}); {INSTALL_HINT}") from None
    return torch


# ---------------------------------------------------------------------------
# activations: torch module <-> symlip Activation
# ---------------------------------------------------------------------------
def _softplus(beta: float) -> Activation:
    """``log(1 + exp(β t)) / β`` (the registry's ``"softplus"`` when β = 1)."""
    if beta == 1:
        return _activation("softplus")
    b = sp.nsimplify(beta, rational=True) if isinstance(beta, float) else sp.sympify(beta, strict=True)
    act = Activation.from_expr(sp.log(1 + sp.exp(b * T)) / b, name=f"softplus(beta={beta:g})")
    return Activation(name=act.name, expr=act.expr, params=(("beta", float(beta)),))


def _gelu_tanh() -> Activation:
    """PyTorch's ``GELU(approximate="tanh")``: ``t (1 + tanh(√(2/π) (t + 0.044715 t³))) / 2``."""
    inner = sp.sqrt(2 / sp.pi) * (T + sp.Rational(44715, 1000000) * T**3)
    return Activation.from_expr(T * (1 + sp.tanh(inner)) / 2, name="gelu_tanh")


def _activation_of(module: Any, index: int) -> tuple[tuple, Activation] | None:
    """``(key, Activation)`` for a supported activation module, None for other modules.

    ``key`` identifies class and parameters (two layers with equal keys compute the same σ).
    """
    name = type(module).__name__
    simple = {"Tanh": "tanh", "Sigmoid": "sigmoid", "ReLU": "relu", "SiLU": "silu", "Softsign": "softsign"}
    try:
        if name in simple:
            return (name,), _activation(simple[name])
        if name == "LeakyReLU":
            a = float(module.negative_slope)
            return (name, a), _activation("leaky_relu", alpha=a)
        if name == "ELU":
            a = float(module.alpha)
            return (name, a), _activation("elu", alpha=a)
        if name == "GELU":
            approx = str(module.approximate)
            if approx == "none":
                return (name, approx), _activation("gelu")
            if approx == "tanh":
                return (name, approx), _gelu_tanh()
            raise ValueError(f"approximate={approx!r} is not a GELU variant symlip knows (none, tanh)")
        if name == "Softplus":
            beta = float(module.beta)
            if not (math.isfinite(beta) and beta > 0):
                raise ValueError(f"beta={beta!r} must be a finite number > 0")
            return (name, beta), _softplus(beta)
    except ValueError as exc:
        raise ValueError(f"layer {index} ({module!r}): {exc}") from None
    return None


def identify(act: Activation) -> tuple[str, float | None] | None:
    """``(torch class name, parameter)`` computing ``act``, or None when no torch module does."""
    for name, cls in (("identity", "Identity"), ("tanh", "Tanh"), ("sigmoid", "Sigmoid"), ("relu", "ReLU"),
                      ("silu", "SiLU"), ("softsign", "Softsign"), ("gelu", "GELU")):
        if act.expr == _activation(name).expr:
            return cls, None
    if act.expr == _gelu_tanh().expr:
        return "GELU-tanh", None
    params = dict(act.params)
    for name, cls in (("leaky_relu", "LeakyReLU"), ("elu", "ELU")):
        if "alpha" in params and act.expr == _activation(name, alpha=params["alpha"]).expr:
            return cls, params["alpha"]
    beta = params.get("beta", 1.0)
    if act.expr == _softplus(beta).expr:
        return "Softplus", beta
    return None


# ---------------------------------------------------------------------------
# nn.Sequential -> MLP
# ---------------------------------------------------------------------------
def _flat_modules(module: Any, torch: Any) -> list[Any]:
    out: list[Any] = []
    for child in module:
        if isinstance(child, torch.nn.Sequential):
            out.extend(_flat_modules(child, torch))
        else:
            out.append(child)
    return out


def _float64(tensor: Any, what: str) -> np.ndarray:
    """An exact float64 copy of a real floating tensor; ValueError for complex or non-finite entries."""
    torch = _torch()
    t = tensor.detach()
    if t.is_complex() or not t.is_floating_point():
        raise ValueError(f"{what} has dtype {t.dtype}; a real floating dtype is needed")
    arr = t.to(device="cpu", dtype=torch.float64).numpy().copy()
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{what} has non-finite entries (inf or nan)")
    return arr


def from_torch(module: Any) -> TorchNet:
    """Read an ``nn.Sequential`` of ``Linear`` layers and one activation as ``(MLP, θ)``.

    Parameters
    ----------
    module : torch.nn.Sequential
        ``Linear, σ, Linear, σ, ..., Linear`` (a single ``Linear`` too); see the module
        docstring for the activations.  ``Linear`` layers without bias get zero biases.

    Returns
    -------
    TorchNet
        Unpacks as ``net, theta``; ``.bias_free`` tells whether every layer lacked a bias.

    Raises
    ------
    TypeError
        For a module that is not an ``nn.Sequential``, or an unsupported layer (its
        index and class are named).
    ValueError
        For a structure an MLP cannot express: activations that differ between layers,
        two activations in a row, an activation before the first or after the last
        ``Linear``, or widths that do not chain.
    ImportError
        When PyTorch is not installed.
    """
    torch = _torch()
    nn = torch.nn
    if not isinstance(module, nn.Sequential):
        what = type(module).__name__
        raise TypeError(f"from_torch needs a torch.nn.Sequential of Linear layers and activations, got {what}; "
                        "wrap the layers in nn.Sequential (custom forward() methods cannot be read)")
    layers: list[tuple[np.ndarray, np.ndarray]] = []
    names: list[str] = []
    has_bias: list[bool] = []
    gaps: list[tuple[int, str, tuple, Activation] | None] = []  # the activation after each Linear
    at: list[int] = []  # each Linear's index
    for k, mod in enumerate(_flat_modules(module, torch)):
        cls = type(mod).__name__
        if isinstance(mod, nn.Identity) or (isinstance(mod, nn.Flatten) and mod.start_dim == 1
                                            and mod.end_dim == -1):
            continue
        if isinstance(mod, nn.Linear):
            W = _float64(mod.weight, f"layer {k} (Linear) weight")
            b = (_float64(mod.bias, f"layer {k} (Linear) bias") if mod.bias is not None
                 else np.zeros(W.shape[0]))
            if layers and W.shape[1] != layers[-1][0].shape[0]:
                raise ValueError(f"layer {k} ({mod!r}) takes {W.shape[1]} inputs but the previous Linear "
                                 f"gives {layers[-1][0].shape[0]}")
            layers.append((W, b))
            has_bias.append(mod.bias is not None)
            gaps.append(None)
            at.append(k)
            names.append(f"Linear({W.shape[1]}, {W.shape[0]}{'' if mod.bias is not None else ', bias=False'})")
            continue
        found = _activation_of(mod, k)
        if found is None:
            if cls == "Flatten":
                raise TypeError(f"layer {k} ({mod!r}) is not supported: only nn.Flatten() with start_dim=1, "
                                "end_dim=-1 (a no-op on (n, d) inputs) is")
            raise TypeError(f"layer {k} ({cls}: {mod!r}) is not supported; supported layers: "
                            f"{', '.join(_SUPPORTED)}")
        if not layers:
            raise ValueError(f"layer {k} ({cls}) comes before the first Linear; an MLP starts with an affine layer")
        if gaps[-1] is not None:
            raise ValueError(f"layer {k} ({cls}) follows the activation at layer {gaps[-1][0]} ({gaps[-1][1]}); "
                             "an MLP applies one activation between Linear layers")
        gaps[-1] = (k, cls, found[0], found[1])
        names.append(repr(mod))
    if not layers:
        raise ValueError("the module has no Linear layer; an MLP needs at least one")
    if gaps[-1] is not None:
        raise ValueError(f"layer {gaps[-1][0]} ({gaps[-1][1]}) comes after the last Linear; an MLP's output "
                         "layer is affine (drop the final activation, or audit the network without it)")
    hidden = [g if g is not None else (at[i + 1], "Linear", ("Identity",), _activation("identity"))
              for i, g in enumerate(gaps[:-1])]
    for g in hidden[1:]:
        if g[2] != hidden[0][2]:
            where = f"layer {g[0]} ({g[1]})" if g[1] != "Linear" else f"no activation before layer {g[0]} (Linear)"
            raise ValueError(f"mixed activations: {where}, but the first hidden layer uses "
                             f"{_key_text(hidden[0][2])}; an MLP has one activation for all hidden layers")
    act = hidden[0][3] if hidden else _activation("identity")
    widths = [layers[0][0].shape[1]] + [W.shape[0] for W, _ in layers]
    net = MLP(widths, act)
    theta = net.flatten(layers)
    return TorchNet(net, theta, bias_free=not any(has_bias), layers=tuple(names))


def _key_text(key: tuple | None) -> str:
    if not key:
        return "none"
    return key[0] + ("" if len(key) == 1 else f"({key[1]!r})")


# ---------------------------------------------------------------------------
# MLP -> nn.Sequential
# ---------------------------------------------------------------------------
def to_torch(net: MLP, theta: Any, *, bias: bool = True) -> Any:
    """The network as a float64 ``nn.Sequential`` (the inverse of :func:`from_torch`).

    Parameters
    ----------
    net, theta : MLP and its parameter vector
    bias : bool
        False builds ``Linear(..., bias=False)`` layers; then every bias in θ must be 0.

    Raises
    ------
    ValueError
        For an activation no torch module computes (e.g. an arbitrary expression in t),
        or nonzero biases with ``bias=False``.
    """
    torch = _torch()
    nn = torch.nn
    found = identify(net.activation)
    if found is None:
        raise ValueError(f"no torch module computes the activation {net.activation.name!r}; supported: identity, "
                         "tanh, sigmoid, relu, leaky_relu, elu, gelu, gelu_tanh, silu, softplus, softsign")
    cls, param = found
    layers = net.unflatten(theta)
    if not bias and any(np.any(b != 0) for _, b in layers):
        raise ValueError("bias=False needs every bias in theta to be 0")
    mods: list[Any] = []
    for i, (W, b) in enumerate(layers, start=1):
        lin = nn.Linear(W.shape[1], W.shape[0], bias=bias, dtype=torch.float64)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(np.array(W, dtype=np.float64)))
            if bias:
                lin.bias.copy_(torch.from_numpy(np.array(b, dtype=np.float64)))
        mods.append(lin)
        if i < net.depth and cls != "Identity":
            mods.append(_torch_activation(nn, cls, param))
    return nn.Sequential(*mods)


def _torch_activation(nn: Any, cls: str, param: float | None) -> Any:
    if cls == "GELU-tanh":
        return nn.GELU(approximate="tanh")
    if cls == "LeakyReLU":
        return nn.LeakyReLU(negative_slope=param)
    if cls == "ELU":
        return nn.ELU(alpha=param)
    if cls == "Softplus":
        return nn.Softplus(beta=param)
    return getattr(nn, cls)()


# ---------------------------------------------------------------------------
# files
# ---------------------------------------------------------------------------
def load_model(path: str | Path, *, trust: bool = False, widths: Sequence[int] | None = None,
               activation: str | Activation | None = None) -> TorchNet:
    """Read a file written by ``torch.save``: a state dict, or (with ``trust=True``) a whole module.

    Parameters
    ----------
    path : str or Path
        ``torch.save(model.state_dict(), path)`` or ``torch.save(model, path)``.
    trust : bool
        Unpickle a whole ``nn.Sequential``.  Unpickling runs code stored in the file,
        so it is refused unless the caller trusts the file (``symlip audit --trust``).
        A state dict is read with ``weights_only=True`` and needs no trust.
    widths : sequence of int, optional
        For a state dict the widths come from the weight shapes; given, they are checked.
    activation : str or Activation
        Needed for a state dict (it stores no activation): a registry name such as
        ``"tanh"``, an expression in ``t``, or an :class:`Activation`.

    Raises
    ------
    ValueError
        Missing file, a file torch cannot read, a pickled module without ``trust``,
        a state dict without ``activation``, or weights that do not form an MLP.
    ImportError
        When PyTorch is not installed.
    """
    if not isinstance(path, (str, Path)):
        raise TypeError(f"path must be a str or Path; got {type(path).__name__}")
    p = Path(path)
    if not p.is_file():  # first: a missing file is the problem even without PyTorch
        raise ValueError(f"model file {str(path)!r} does not exist (or is not a file)")
    torch = _torch()
    if not zipfile.is_zipfile(p):
        raise ValueError(f"cannot read {str(path)!r}: not a torch.save file (torch.save writes a zip archive; "
                         "the pre-1.6 legacy format is not supported)")
    try:
        obj = torch.load(p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if not trust:
            raise ValueError(
                f"{str(path)!r} holds pickled objects (e.g. a whole module saved with torch.save(model)); "
                "unpickling runs code from the file, so it is loaded only with trust=True (--trust) — or save "
                "model.state_dict() and pass --activation (and --widths)") from None
        obj = _load_trusted(torch, p, exc)
    except Exception as exc:  # noqa: BLE001 - torch raises many kinds for a file it cannot read
        raise ValueError(f"cannot read {str(path)!r} with torch.load: {type(exc).__name__}: "
                         f"{_first_line(exc)}") from None
    if isinstance(obj, torch.nn.Module):
        if activation is not None:
            raise ValueError(f"{str(path)!r} holds a module, which fixes the activation; drop activation= "
                             "(--activation)")
        out = from_torch(obj)
    elif isinstance(obj, dict):
        out = _from_state_dict(torch, obj, activation, str(path))
    else:
        raise ValueError(f"{str(path)!r} holds a {type(obj).__name__}; expected an nn.Sequential or a state dict "
                         "(a dict of parameter tensors)")
    if widths is not None and tuple(int(w) for w in widths) != out.net.widths:
        raise ValueError(f"widths {list(widths)} do not match the model's {list(out.net.widths)}")
    return TorchNet(out.net, out.theta, out.bias_free, out.layers, source=str(path))


def _load_trusted(torch: Any, p: Path, first: Exception) -> Any:
    try:
        return torch.load(p, map_location="cpu", weights_only=False)
    except Exception as exc:  # noqa: BLE001
        raise ValueError(f"cannot unpickle {str(p)!r}: {type(exc).__name__}: {_first_line(exc)}") from None


def _from_state_dict(torch: Any, sd: dict, activation: str | Activation | None, path: str) -> TorchNet:
    """Linear layers from ``prefix.weight`` / ``prefix.bias`` entries, in the dict's order."""
    if activation is None:
        raise ValueError(f"{path!r} is a state dict, which stores no activation; pass activation= (--activation, "
                         "e.g. tanh)")
    act = _activation(activation)
    weights: list[tuple[str, Any]] = []
    biases: dict[str, Any] = {}
    for key, val in sd.items():
        if not isinstance(val, torch.Tensor):
            raise ValueError(f"state dict entry {key!r} is a {type(val).__name__}, not a tensor; expected "
                             "model.state_dict() of Linear layers")
        prefix, _, leaf = str(key).rpartition(".")
        if leaf == "weight" and val.dim() == 2:
            weights.append((prefix, val))
        elif leaf == "bias" and val.dim() == 1:
            biases[prefix] = val
        else:
            raise ValueError(f"state dict entry {key!r} (shape {tuple(val.shape)}) is not a Linear weight or bias; "
                             "only nn.Sequential stacks of Linear layers and activations are supported")
    if not weights:
        raise ValueError(f"state dict {path!r} has no Linear weight (2-d '*.weight' entry)")
    unused = sorted(set(biases) - {prefix for prefix, _ in weights})
    if unused:
        raise ValueError(f"state dict entry {unused[0] + '.bias'!r} has no matching weight")
    layers = []
    for prefix, W in weights:
        Wn = _float64(W, f"{prefix}.weight")
        bn = _float64(biases[prefix], f"{prefix}.bias") if prefix in biases else np.zeros(Wn.shape[0])
        if bn.shape != (Wn.shape[0],):
            raise ValueError(f"{prefix}.bias has shape {bn.shape}, expected ({Wn.shape[0]},)")
        if layers and Wn.shape[1] != layers[-1][0].shape[0]:
            raise ValueError(f"{prefix}.weight takes {Wn.shape[1]} inputs but the previous layer gives "
                             f"{layers[-1][0].shape[0]}")
        layers.append((Wn, bn))
    net = MLP([layers[0][0].shape[1]] + [W.shape[0] for W, _ in layers], act)
    names = tuple(f"Linear({W.shape[1]}, {W.shape[0]}{'' if prefix in biases else ', bias=False'})"
                  for (prefix, _), (W, _) in zip(weights, layers))
    return TorchNet(net, net.flatten(layers), bias_free=not biases, layers=names)

