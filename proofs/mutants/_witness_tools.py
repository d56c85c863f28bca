"""Helpers for the hand-made witnesses of the mutants (not a catalogue module).

Each mutant module exposes ``WITNESSES``: claim name -> zero-argument callable
returning a dict with the keys of :class:`symlip.search.witness.Witness` that define a
violation — ``theta``, ``theta2`` (None for ``lip_input``), ``x`` (shape
``(n, d_0)``), ``x2`` (only ``lip_input``) and ``y`` (only ``lip_loss_grad``).
The quantity of the pair (``|q(θ) - q(θ')| / |θ - θ'|``, or the input ratio for
``lip_input``) exceeds the mutant's bound; ``tests/test_catalogue.py`` checks
that independently.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from symlip import MLP, Region

__all__ = ["layers_to_theta", "gradient_pair", "curvature_pair", "Witness"]

Witness = dict[str, Any]


def layers_to_theta(net: MLP, layers: Sequence[tuple[Sequence, Sequence]]) -> np.ndarray:
    """θ from per-layer ``(W_i, b_i)`` given as nested lists or arrays."""
    return net.flatten([(np.asarray(W, dtype=float), np.asarray(b, dtype=float)) for W, b in layers])


def gradient_pair(net: MLP, region: Region, theta: np.ndarray, x: np.ndarray,
                  eps: float = 1e-5) -> np.ndarray:
    """θ' = θ ± eps ∇_θ f / |∇_θ f|, the sign chosen so that θ' stays in ``region``.

    For a C^1 network the ratio |f(θ) - f(θ')| / |θ - θ'| is then |∇_θ f(θ)| up
    to O(eps).
    """
    g = net.grad(theta, x)
    g = g / np.linalg.norm(g)
    for sign in (-1.0, 1.0):
        theta2 = theta + sign * eps * g
        if region.contains(net, theta2, tol=0.0):
            return theta2
    raise ValueError("neither θ ± eps ∇f/|∇f| lies in the region; move θ inside")


def curvature_pair(net: MLP, region: Region, theta: np.ndarray, X: np.ndarray,
                   y: np.ndarray | None = None, eps: float = 1e-6) -> np.ndarray:
    """θ' = θ ± eps v, v the unit eigenvector of the largest |eigenvalue| of the
    θ-Hessian of f (one input ``X[0]``) or, given ``y``, of the loss.

    The dense Hessian is assembled from Hessian-vector products (tiny networks
    only); the pair ratio of the gradients is then that |eigenvalue| up to O(eps).
    """
    P = net.n_params
    eye = np.eye(P)
    if y is None:
        H = np.stack([net.hvp(theta, X[0], e) for e in eye])
    else:
        H = np.stack([net.loss_hvp(theta, X, y, e) for e in eye])
    w, V = np.linalg.eigh(0.5 * (H + H.T))
    v = V[:, int(np.argmax(np.abs(w)))]
    for sign in (1.0, -1.0):
        theta2 = theta + sign * eps * v
        if region.contains(net, theta2, tol=0.0):
            return theta2
    raise ValueError("neither θ ± eps v lies in the region; move θ inside")
