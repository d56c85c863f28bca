"""Verdicts: one entry point per catalogue entry and per witness file, whatever
its kind (docs/theory.md §5).

:func:`check_case` checks a catalogue entry (the falsifier for a :class:`~symlip.Case`,
its own statistical test for an SGD-moment case); :func:`replay` re-checks a
witness file of any kind (Lipschitz, audit, SGD-moment).  This is the layer above
search and training that joins them, so neither imports the other's results.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from symlip.core.precision import check_dps
from symlip.search.audit_witness import replay_audit
from symlip.search.catalogue import LoadedCase
from symlip.search.claims import SelfCheckingCase
from symlip.search.falsify import falsify
from symlip.search.witness import Replay, Witness, load_witness_data, replay_lipschitz
from symlip.training.moment_claims import replay_moment

__all__ = ["check_case", "replay"]


def check_case(loaded: LoadedCase, *, budget: float, seed: int = 0, max_evals: int | None = None,
               allow_numeric: bool = False) -> Any:
    """Check one catalogue entry: :func:`~symlip.search.falsify.falsify` for a :class:`Case`
    (``budget`` seconds times its weight), its own test for a
    :class:`~symlip.search.claims.SelfCheckingCase` (the seeded statistical test of a
    :class:`~symlip.training.moment_claims.MomentCase`, MATH.md §7; ``budget`` does not apply).
    ``allow_numeric`` lets bounds rest on numeric activation constants (marked in the verdict)."""
    source = f"{loaded.source}::{loaded.index}"
    if isinstance(loaded.case, SelfCheckingCase):
        return loaded.case.run(seed=seed, source=source)
    return falsify(loaded.case, budget=budget * loaded.case.weight, seed=seed, max_evals=max_evals, source=source,
                   allow_numeric=allow_numeric)


def replay(witness: "Witness | str | Path | dict", dps: int = 80, *, trust: bool = False) -> Replay:
    """Re-evaluate a witness at ``dps`` (and ``dps + 30``) digits from the file's data alone.

    Returns ``violated`` when the violation is confirmed and the file agrees with
    itself (its float64 and high-precision values, ratio, activation name, bound),
    ``not violated`` when the value is at most the bound at both precisions,
    ``tampered`` when the file's data violate its claim but the file disagrees with
    itself (or, with ``trust``, with its source case), ``needs-trust`` for a
    claim that is code (a pointwise inequality) replayed without ``trust``, else
    ``inconclusive``.  ``trust=True`` imports the source file the witness names
    (this runs it) to rebuild a pointwise claim and to compare the witness with its
    case.  A statistical witness of an SGD-moment claim is re-run instead
    (:func:`symlip.training.moment_claims.replay_moment`; ``dps`` does not apply); an audit
    witness of a claimed input-Lipschitz constant goes to
    :func:`symlip.search.audit.replay_audit`.  ``ValueError`` names a missing or
    malformed field.
    """
    dps = check_dps(dps)
    data, base = load_witness_data(witness)
    kind = data.get("kind")
    if kind == "input-lipschitz":
        return replay_audit(data, dps=dps)
    if kind == "sgd-moment":
        return replay_moment(data, trust=trust, base=base)
    if kind is not None:
        raise ValueError(f"witness field 'kind' {kind!r} is unknown; allowed: none (a Lipschitz witness), "
                         "'input-lipschitz', 'sgd-moment'")
    return replay_lipschitz(data, base, dps, trust=trust)
