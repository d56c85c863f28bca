"""Regression helpers for users' own activations and bounds (pytest + hypothesis).

* :func:`check_activation` runs the catalogue's bounds (U1–U4 of docs/theory.md §3) for
  an activation through the falsifier and fails the calling test with the
  witness when one is violated::

      from symlip import activation
      from symlip.testing import check_activation

      def test_my_activation():
          check_activation(activation("t*tanh(t)"), depths=(1, 2, 3), budget=1.0)

* :func:`region_points`, :func:`inputs` and :func:`architectures` are the
  hypothesis strategies the falsifier uses, for property tests of one's own.
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Sequence

from symlip.search.sampling import architectures, inputs, region_points

__all__ = ["check_activation", "activation_cases", "region_points", "inputs", "architectures"]


def activation_cases(act: Any, depths: Sequence[int] = (1, 2, 3), width: int = 4, d_in: int = 2,
                     R: float = 1.0, Y: float = 1.0) -> list:
    """The :class:`~symlip.search.claims.Case` list :func:`check_activation` runs.

    For each depth ``m``: U1 (``lip_f``) and U4 (``lip_input``) for every
    Lipschitz activation, U2 (``lip_grad``) and U3 (``lip_loss_grad``) when it is
    smooth; each on the box ``ω_i = 1.5, β_i = 0.5`` and on the ball of radius
    0.5 around a seeded initialisation, widths ``[d_in, width, ..., width, 1]``.
    """
    from symlip.activations.registry import activation
    from symlip.bounds.symbolic import derive
    from symlip.search.claims import Case, Claim
    from symlip.models.network import MLP
    from symlip.models.region import Region

    act = activation(act)
    act.require("lipschitz", purpose="check_activation")
    for m in depths:
        if not (isinstance(m, int) and 1 <= m <= 8):
            raise ValueError(f"depths must be integers in 1..8; got {m!r}")
    quantities = ["lip_f", "lip_input"] + (["lip_grad", "lip_loss_grad"] if act.is_smooth else [])
    cases = []
    for m in depths:
        net = MLP([d_in] + [width] * (m - 1) + [1], act)
        regions = [Region.box(1.5, 0.5), Region.ball(net.init(seed=m, scale=1.0), 0.5)]
        for q in quantities:
            claim = Claim(f"{_LABEL[q]} (m={m})", q, derive(q, m), assumptions=("lipschitz",),
                          why=f"docs/theory.md §3 {_LABEL[q]} for {act.name}")
            for region in regions:
                cases.append(Case(claim, net, region, R=R, Y=Y if q == "lip_loss_grad" else None))
    return cases


_LABEL = {"lip_f": "U1", "lip_grad": "U2", "lip_loss_grad": "U3", "lip_input": "U4"}


def check_activation(act: Any, depths: Sequence[int] = (1, 2, 3), budget: float = 1.0, seed: int = 0,
                     width: int = 4, witness_dir: str | Path | None = None) -> list:
    """Attack the U1–U4 bounds for ``act`` and fail the calling test on a violation.

    Parameters
    ----------
    act : str, sympy.Expr or Activation
        The activation; constants stated with :meth:`Activation.with_constants`
        are what the bounds use, the network computes the true ``σ``.
    depths : sequence of int
        Network depths to check.
    budget : float
        Seconds of search per case (see :func:`activation_cases` for the cases).
    seed : int
        Seed of the search.
    witness_dir : path, optional
        Where to write witness files of violations (default: a temporary folder).

    Returns
    -------
    list of Verdict
        When every claim survived.

    Raises
    ------
    AssertionError
        (``pytest.fail`` under pytest) naming each violated or inconclusive
        claim with its witness values and the replayable witness file.
    """
    from symlip.search.falsify import falsify

    verdicts = []
    failures = []
    out = Path(witness_dir) if witness_dir is not None else Path(tempfile.mkdtemp(prefix="symlip-witness-"))
    for k, case in enumerate(activation_cases(act, depths=depths, width=width)):
        v = falsify(case, budget=budget, seed=seed)
        verdicts.append(v)
        if v.status != "survived":
            path = v.witness.save(out / f"{k:02d}-{case.claim.quantity}-m{case.net.depth}.json")
            w = v.witness
            failures.append(f"{case.label}: {v.status}, ratio {v.best_ratio:.6g} ({v.message}); witness "
                            f"θ[:4]={w.theta[:4].tolist()} x={w.x.tolist()}; replay with "
                            f"`symlip replay {path}`")
    if failures:
        text = f"{len(failures)} claim(s) broken for activation {verdicts[0].witness.activation['name']}:\n" + \
            "\n".join(failures)
        try:
            import pytest
        except ImportError:  # pragma: no cover
            raise AssertionError(text) from None
        pytest.fail(text, pytrace=False)
    return verdicts
