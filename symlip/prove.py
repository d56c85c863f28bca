"""Claims end proved: after the falsifier, a certificate for the claims it can cover
(issue 15, docs/theory.md §2 (R4) and §5).

:func:`prove_verdict` takes the verdict of a ``holds`` upper-bound claim that
survived and runs :func:`symlip.certify.certify` on its case when the case is small
enough (:func:`provable`: an MLP, a quantity certify supports, at most
:data:`MAX_PROVE_DIM` free parameters + input dimensions).  The result is a
:class:`ProvedVerdict` — the verdict with the sandwich ``lower <= true constant <=
upper`` and the certificate — whose status is ``proved`` (the claimed bound is
``>=`` the certified upper), ``violated`` (the certified lower is above the bound
and the witness is an interior smooth point: certify confirms it in mpmath) or
stays ``survived``.  The falsifier is never changed; this is the layer above it.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from symlip.certify import certify
from symlip.certify.certificate import Certificate
from symlip.certify.enclose import CERTIFY_QUANTITIES
from symlip.search.claims import Case
from symlip.search.verdict import Verdict
from symlip.search.witness import json_float

__all__ = ["MAX_PROVE_DIM", "DEFAULT_PROVE_BUDGET", "ProvedVerdict", "provable", "prove_verdict"]

#: the largest free dimension (parameters + input dimensions, 0 parameters on a
#: ball of radius 0) that ``symlip check --prove`` certifies
MAX_PROVE_DIM = 12
#: seconds of branch and bound per claim
DEFAULT_PROVE_BUDGET = 10.0


@dataclass(frozen=True, repr=False)
class ProvedVerdict(Verdict):
    """A :class:`~symlip.search.verdict.Verdict` with a certificate.

    Attributes (beyond the verdict's)
    ---------------------------------
    certificate : Certificate or None
        The certificate of the claim on its case.
    lower, upper : float
        The sandwich of the true constant (``nan`` without a certificate).
    falsifier_status : str
        The falsifier's status before the proof.
    """

    certificate: Certificate | None = None
    lower: float = math.nan
    upper: float = math.nan
    falsifier_status: str = ""

    @property
    def as_expected(self) -> bool:
        """``proved`` counts as expected for a ``holds`` claim (and ``violated`` for ``fails``)."""
        if self.status == "proved":
            return self.claim.expect == "holds"
        return super().as_expected

    @property
    def looseness(self) -> tuple[float, float]:
        """``bound / true ∈ [bound / upper, bound / lower]`` (``nan`` for ``0 / 0``)."""
        def ratio(b: float, t: float) -> float:
            return b / t if t > 0 else (math.nan if b == 0 else math.inf)

        return ratio(self.bound, self.upper), ratio(self.bound, self.lower)

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        lo, hi = self.looseness
        d.update(falsifier_status=self.falsifier_status, lower=json_float(self.lower), upper=json_float(self.upper),
                 looseness=[json_float(lo), json_float(hi)],
                 certificate=None if self.certificate is None else self.certificate.message)
        return d


def provable(case: Any, max_dim: int = MAX_PROVE_DIM) -> str:
    """Why ``case`` cannot be proved by :func:`prove_verdict` ("" when it can)."""
    from symlip.models.network import MLP

    if not isinstance(case, Case):
        return "not a Lipschitz case"
    claim, net = case.claim, case.net
    if claim.direction != "upper" or claim.expect != "holds":
        return "only holds upper-bound claims are proved"
    if not isinstance(net, MLP):
        return "not an MLP"
    if claim.quantity not in CERTIFY_QUANTITIES:
        return f"certify does not support {claim.quantity}"
    if not case.R or not math.isfinite(case.R):
        return "needs a finite input radius R > 0"
    fixed = case.region.kind == "ball" and case.region.radius == 0
    dim = (0 if fixed else net.n_params) + net.widths[0]
    if dim > max_dim:
        return f"free dimension {dim} > {max_dim}"
    return ""


def prove_verdict(verdict: Any, case: Any, *, budget: float = DEFAULT_PROVE_BUDGET, seed: int = 0,
                  max_dim: int = MAX_PROVE_DIM) -> Any:
    """The verdict with a proof attempt (module docstring); unchanged when the claim did
    not survive or the case is not :func:`provable`, or when certify refuses it
    (a ``ValueError``/``TypeError``, e.g. a non-smooth activation for ``lip_grad``)."""
    if not isinstance(verdict, Verdict) or verdict.status != "survived" or provable(case, max_dim):
        return verdict
    try:
        cert = certify(case.claim, case.net, case.region, R=case.R, Y=case.Y, budget=budget, seed=seed)
    except (ValueError, TypeError):
        return verdict
    status = verdict.status
    if cert.status == "proved":
        status = "proved"
    elif cert.status == "violated":
        status = "violated"
    fields = {f.name: getattr(verdict, f.name) for f in dataclasses.fields(Verdict)}
    fields.update(status=status, message=f"{verdict.message}; certify: {cert.status}, {cert.message}")
    return ProvedVerdict(**fields, certificate=cert, lower=cert.lower, upper=cert.upper,
                         falsifier_status=verdict.status)
