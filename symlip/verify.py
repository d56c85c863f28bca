"""Verdicts: one entry point per catalogue entry and per witness file, whatever
its kind (docs/theory.md §5).

:func:`check_case` checks a catalogue entry (the falsifier for a :class:`~symlip.Case`,
its own statistical test for an SGD-moment case); :func:`read_witness` reads and
:func:`replay` re-checks a witness file of any kind listed in
:data:`WITNESS_KINDS`.  This is the layer above search and training that joins
them, so neither imports the other's results.

Witness files (:mod:`symlip.search.witness_format`) are ``"symlip-witness/3"``
files whose ``kind`` picks a row of :data:`WITNESS_KINDS`; the older formats
``"symlip-witness/2"`` (Lipschitz, no ``kind``), ``"symlip-audit-witness/2"`` and
the SGD-moment files without ``format`` are still read and replayed.  A new kind
(e.g. a certificate re-checked by ``symlip replay``) is one more row: its class
(``kind``, ``to_dict()``, ``from_dict(data)``, ``save(path)`` through
:func:`~symlip.search.witness_format.write_witness`) and its replay function
``(witness, dps, *, trust, base) -> Replay``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from symlip.certify.certificate import Certificate, replay_certificate
from symlip.core.precision import check_dps
from symlip.search.audit_witness import AuditWitness, replay_audit
from symlip.search.catalogue import LoadedCase
from symlip.search.claims import SelfCheckingCase
from symlip.search.falsify import check_stop, falsify
from symlip.search.witness import Witness, replay_lipschitz
from symlip.search.witness_format import Replay, load_witness_data, read_header, read_json, write_witness
from symlip.training.moment_claims import MomentWitness, replay_moment

__all__ = ["check_case", "replay", "read_witness", "write_witness", "WITNESS_KINDS", "WitnessKind"]


@dataclass(frozen=True)
class WitnessKind:
    """One kind of witness file: its class and its replay function."""

    cls: type
    replay: Callable[..., Replay]   # (witness, dps, *, trust, base) -> Replay
    about: str


#: every kind of witness file ``symlip replay`` reads: kind -> class and replay function
WITNESS_KINDS: dict[str, WitnessKind] = {
    "lipschitz": WitnessKind(Witness, replay_lipschitz, "a parameter (or input) pair violating a claimed bound"),
    "input-lipschitz": WitnessKind(AuditWitness, replay_audit,
                                   "an input pair exceeding a tool's claimed input-Lipschitz constant"),
    "sgd-moment": WitnessKind(MomentWitness, replay_moment,
                              "a statistical violation of a one-step SGD moment (two Monte-Carlo runs)"),
    "certificate": WitnessKind(Certificate, lambda data, dps, *, trust, base: replay_certificate(data),
                               "a certified upper bound of a local constant: its branch-and-bound proof, "
                               "re-derived leaf by leaf (dps and trust do not apply)"),
}


def check_case(loaded: LoadedCase, *, budget: float, seed: int = 0, max_evals: int | None = None,
               allow_numeric: bool = False, stop: str = "budget") -> Any:
    """Check one catalogue entry: :func:`~symlip.search.falsify.falsify` for a :class:`Case`
    (``budget`` seconds times its weight), its own test for a
    :class:`~symlip.search.claims.SelfCheckingCase` (the seeded statistical test of a
    :class:`~symlip.training.moment_claims.MomentCase`, docs/theory.md §7; ``budget`` does not apply).
    ``allow_numeric`` lets bounds rest on numeric activation constants (marked in the verdict);
    ``stop="first"`` ends the search at the first confirmed violation (:func:`~symlip.search.falsify.falsify`;
    it does not apply to a statistical case)."""
    source = f"{loaded.source}::{loaded.index}"
    check_stop(stop)
    if isinstance(loaded.case, SelfCheckingCase):
        return loaded.case.run(seed=seed, source=source)
    return falsify(loaded.case, budget=budget * loaded.case.weight, seed=seed, max_evals=max_evals, source=source,
                   allow_numeric=allow_numeric, stop=stop)


def _kind(data: dict[str, Any], witness: Any) -> str:
    """The kind of a witness's data (``ValueError`` naming the file's bad format or kind)."""
    where = str(witness) if isinstance(witness, (str, Path)) else ""
    return read_header(data, tuple(WITNESS_KINDS), where=where).kind


def read_witness(path: "str | Path | dict") -> Any:
    """The witness object of a file (or its dictionary), of the class its kind names in
    :data:`WITNESS_KINDS` (:class:`~symlip.search.witness.Witness`,
    :class:`~symlip.search.audit_witness.AuditWitness`,
    :class:`~symlip.training.moment_claims.MomentWitness`).

    Reads ``"symlip-witness/3"`` and the older formats (module docstring).
    ``ValueError`` names a missing or unknown format or kind (and what is allowed),
    or a missing or malformed field.
    """
    if not isinstance(path, (str, Path, dict)):
        raise TypeError(f"read_witness reads a file path or a dict; got {type(path).__name__}")
    data = path if isinstance(path, dict) else read_json(path)
    return WITNESS_KINDS[_kind(data, path)].cls.from_dict(data)


def replay(witness: "Witness | str | Path | dict", dps: int = 80, *, trust: bool = False) -> Replay:
    """Re-evaluate a witness at ``dps`` (and ``dps + 30``) digits from the file's data alone.

    The single replay entry point for every kind of witness (``symlip replay``):
    dispatches on the file's ``kind`` through :data:`WITNESS_KINDS` (files of the
    older formats too, module docstring).  Returns ``violated`` when the violation
    is confirmed and the file agrees with itself (its float64 and high-precision
    values, ratio, activation name, bound), ``not violated`` when the value is at
    most the bound at both precisions, ``tampered`` when the file's data violate
    its claim but the file disagrees with itself (or, with ``trust``, with its
    source case), ``needs-trust`` for a claim that is code (a pointwise
    inequality) replayed without ``trust``, else ``inconclusive``.  ``trust=True``
    imports the source file the witness names (this runs it) to rebuild a pointwise
    claim and to compare the witness with its case.  A statistical witness of an
    SGD-moment claim is re-run instead
    (:func:`symlip.training.moment_claims.replay_moment`; ``dps`` does not apply); an
    audit witness of a claimed input-Lipschitz constant goes to
    :func:`symlip.search.audit_witness.replay_audit`.  ``ValueError`` names a missing
    or malformed field, format or kind.
    """
    dps = check_dps(dps)
    data, base = load_witness_data(witness)
    return WITNESS_KINDS[_kind(data, witness)].replay(data, dps, trust=trust, base=base)
