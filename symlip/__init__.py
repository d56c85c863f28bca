"""symlip: derive, compile and attack Lipschitz bounds of neural networks.

See ``MATH.md`` (shared spec) for the mathematics; the public API is re-exported here.
"""
from symlip.activations import Activation, Constant, activation, available_activations

__all__ = ["Activation", "Constant", "activation", "available_activations"]
__version__ = "0.1.0"
