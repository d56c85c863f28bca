"""symlip: derive, compile and attack Lipschitz bounds of neural networks.

The mathematics is in docs/theory.md; the public API is re-exported here:

* :func:`activation`, :class:`Activation`, :class:`Constant` — activations and S0, S1, S2, c0;
* :class:`MLP` — networks with exact float64 and mpmath derivatives in θ;
* :class:`Region` — box and ball parameter regions;
* :func:`derive`, :class:`Bound` — the bounds U1–U4, their LaTeX and kernels;
* :class:`Claim`, :class:`Case`, :func:`falsify`, :class:`Verdict` — claims and the
  adversarial search that attacks them; :class:`Witness`, :func:`replay` — violations
  saved and re-checked at high precision (``symlip.testing`` has pytest helpers);
* :func:`lower_bound`, :func:`growth`, :class:`LowerFormula` — the witnessed lower
  bounds of docs/theory.md §4 (no global bound exists);
* :func:`local_step`, :func:`gradient_descent` — step sizes from local constants (docs/theory.md §6);
* :class:`CDNN`, :func:`cdnn_bound` — continuously deep networks (controlled ODE and its Euler
  network) and their Grönwall bounds (docs/theory.md §5);
* :func:`top_singular` (spectral-norm Jacobian and Hessian), :func:`sgd_moments`,
  :func:`monte_carlo`, :class:`MomentClaim`, :func:`sgd_trajectory` — the Lipschitz constant
  under SGD (docs/theory.md §7);
* :func:`audit_constant`, :func:`input_lipschitz_lower_bound`, :func:`from_torch`,
  :func:`audit_tools` — auditing other tools' certificates on concrete (PyTorch) networks.
"""
from symlip.core.version import VERSION
from symlip.activations.registry import Activation, Constant, activation, available_activations
from symlip.search.audit import (AuditVerdict, InputLipschitzSearch, audit_constant, exact_input_lipschitz,
                          input_lipschitz_lower_bound)
from symlip.bounds.symbolic import QUANTITIES, Bound, Kernel, derive, general_form, standard_symbols
from symlip.bounds.cdnn import cdnn_bound
from symlip.models.cdnn import CDNN
from symlip.search.catalogue import load_cases
from symlip.search.claims import Case, Claim, Inequality
from symlip.training.dynamics import Moments, MonteCarlo, monte_carlo, sgd_moments, teacher_student
from symlip.search.falsify import Verdict, falsify
from symlip.bounds.lower import Growth, LowerFormula, LowerWitness, growth, lower_bound, lower_constant
from symlip.training.moment_claims import MomentCase, MomentClaim, MomentVerdict
from symlip.models.network import MLP
from symlip.peers import Audit, PeerClaim, audit_tools, peer_claim
from symlip.models.region import Region, sample_inputs
from symlip.training.spectral import DegenerateSpectrumError, TopSingular, top_singular
from symlip.training.stepsize import DescentResult, LocalStep, gradient_descent, local_step
from symlip.models.torch_io import TorchNet, from_torch, load_model, to_torch
from symlip.training.trajectory import Trajectory, sgd_trajectory
from symlip.search.witness import Replay, Witness
from symlip.verify import replay
from symlip.certify import Certificate, certify

__all__ = [
    "Activation", "Constant", "activation", "available_activations",
    "QUANTITIES", "Bound", "Kernel", "derive", "general_form", "standard_symbols",
    "MLP", "Region", "sample_inputs",
    "Claim", "Case", "Inequality", "load_cases", "falsify", "Verdict", "Witness", "Replay", "replay",
    "lower_bound", "lower_constant", "growth", "LowerFormula", "LowerWitness", "Growth",
    "local_step", "gradient_descent", "LocalStep", "DescentResult", "CDNN", "cdnn_bound",
    "top_singular", "TopSingular", "DegenerateSpectrumError", "sgd_moments", "Moments", "monte_carlo",
    "MonteCarlo", "teacher_student", "MomentClaim", "MomentCase", "MomentVerdict", "sgd_trajectory", "Trajectory",
    "input_lipschitz_lower_bound", "audit_constant", "exact_input_lipschitz", "InputLipschitzSearch", "AuditVerdict",
    "from_torch", "to_torch", "load_model", "TorchNet", "audit_tools", "peer_claim", "PeerClaim", "Audit",
    "certify", "Certificate",
]
__version__ = VERSION
