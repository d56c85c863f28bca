"""symlip: derive, compile and attack Lipschitz bounds of neural networks.

The mathematics is in MATH.md (shared spec); the public API is re-exported here:

* :func:`activation`, :class:`Activation`, :class:`Constant` — activations and S0, S1, S2, c0;
* :class:`MLP` — networks with exact float64 and mpmath derivatives in θ;
* :class:`Region` — box and ball parameter regions;
* :func:`derive`, :class:`Bound` — the bounds U1–U4, their LaTeX and kernels.
"""
from symlip.activations import Activation, Constant, activation, available_activations
from symlip.bounds import QUANTITIES, Bound, Kernel, derive, general_form, standard_symbols
from symlip.network import MLP
from symlip.region import Region, sample_inputs

__all__ = [
    "Activation", "Constant", "activation", "available_activations",
    "QUANTITIES", "Bound", "Kernel", "derive", "general_form", "standard_symbols",
    "MLP", "Region", "sample_inputs",
]
__version__ = "0.1.0"
