"""Hypothesis strategies for networks, region points and inputs (docs/theory.md §1, §2).

Used by the falsifier's ``hypothesis`` strategy and re-exported by
:mod:`symlip.testing` for users' own property tests.  Every strategy draws raw
floats in ``[-1, 1]`` and a "fill" fraction in ``[0, 1]`` per block, then maps
them into the set, so hypothesis' preference for boundary values (fill = 1)
lands on the region's boundary, where suprema usually are.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

if TYPE_CHECKING:  # pragma: no cover
    from symlip.models.network import MLP
    from symlip.models.region import Region

_UNIT = st.floats(-1.0, 1.0, allow_nan=False, allow_infinity=False)
_FILL = st.floats(0.0, 1.0, allow_nan=False, allow_infinity=False)


def _direction(size: int) -> st.SearchStrategy[np.ndarray]:
    return hnp.arrays(np.float64, size, elements=_UNIT)


_TINY = 1e-100  # below this a drawn block counts as zero (scaling it up would overflow)


def _scaled(raw: np.ndarray, norm: float) -> np.ndarray:
    n = float(np.linalg.norm(raw))
    return raw * (norm / n) if n > _TINY else raw * 0.0


def region_points(net: "MLP", region: "Region") -> st.SearchStrategy[np.ndarray]:
    """Flat parameter vectors θ of ``net`` inside ``region`` (box: each block
    scaled to a drawn fraction of its norm bound; ball: a drawn fraction of the
    radius in a drawn direction)."""
    region.check_net(net)
    if region.kind == "ball":
        c, r = np.asarray(region.center, float), float(region.radius)
        return st.builds(lambda d, s: c + _scaled(d, r * s), _direction(net.n_params), _FILL)
    om, be = region.layer_bounds(net)
    shapes = [(net.widths[i], net.widths[i - 1]) for i in range(1, net.depth + 1)]

    def build(parts: list) -> np.ndarray:
        layers = []
        for (rw, sw, rb, sb), (r, c), o, b in zip(parts, shapes, om, be):
            W = rw.reshape(r, c)
            s = float(np.linalg.norm(W, 2)) if W.size else 0.0
            W = W * (o * sw / s) if s > _TINY else W * 0.0
            layers.append((W, _scaled(rb, b * sb)))
        return net.flatten(layers)

    blocks = [st.tuples(_direction(r * c), _FILL, _direction(r), _FILL) for r, c in shapes]
    return st.tuples(*blocks).map(lambda parts: build(list(parts)))


def inputs(dim: int, R: float, n: int = 1) -> st.SearchStrategy[np.ndarray]:
    """Arrays ``(n, dim)`` of inputs with ``|x_k| <= R``."""
    one = st.builds(lambda d, s: _scaled(d, R * s), _direction(dim), _FILL)
    return st.lists(one, min_size=n, max_size=n).map(lambda rows: np.array(rows, dtype=float).reshape(n, dim))


def architectures(activations: Sequence[str] = ("tanh", "sigmoid", "softplus", "relu"), max_depth: int = 4,
                  max_width: int = 8, max_input: int = 4) -> st.SearchStrategy["MLP"]:
    """Networks ``MLP(widths, activation)`` with scalar output, depth ``1..max_depth``."""
    from symlip.models.network import MLP

    if max_depth < 1 or max_width < 1 or max_input < 1 or not activations:
        raise ValueError("architectures needs max_depth, max_width, max_input >= 1 and at least one activation")
    return st.builds(
        lambda d0, hidden, act: MLP([d0, *hidden, 1], act),
        st.integers(1, max_input),
        st.lists(st.integers(1, max_width), min_size=0, max_size=max_depth - 1),
        st.sampled_from(list(activations)),
    )
