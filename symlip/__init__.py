"""symlip: derive, compile and attack Lipschitz bounds of neural networks.

The mathematics is in MATH.md (shared spec); the public API is re-exported here:

* :func:`activation`, :class:`Activation`, :class:`Constant` — activations and S0, S1, S2, c0;
* :class:`MLP` — networks with exact float64 and mpmath derivatives in θ;
* :class:`Region` — box and ball parameter regions;
* :func:`derive`, :class:`Bound` — the bounds U1–U4, their LaTeX and kernels;
* :class:`Claim`, :class:`Case`, :func:`falsify`, :class:`Verdict` — claims and the
  adversarial search that attacks them; :class:`Witness`, :func:`replay` — violations
  saved and re-checked at high precision (``symlip.testing`` has pytest helpers).
"""
from symlip.activations import Activation, Constant, activation, available_activations
from symlip.bounds import QUANTITIES, Bound, Kernel, derive, general_form, standard_symbols
from symlip.claims import Case, Claim, Inequality, load_cases
from symlip.falsify import Verdict, falsify
from symlip.network import MLP
from symlip.region import Region, sample_inputs
from symlip.witness import Replay, Witness, replay

__all__ = [
    "Activation", "Constant", "activation", "available_activations",
    "QUANTITIES", "Bound", "Kernel", "derive", "general_form", "standard_symbols",
    "MLP", "Region", "sample_inputs",
    "Claim", "Case", "Inequality", "load_cases", "falsify", "Verdict", "Witness", "Replay", "replay",
]
__version__ = "0.1.0"
