"""The outcome of a search for a violation: :class:`Verdict` (docs/theory.md §5)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from symlip.core.display import html_fields, markdown_fields
from symlip.search.claims import Claim
from symlip.search.witness import Witness, json_float

__all__ = ["Verdict"]


@dataclass(frozen=True, eq=False)
class Verdict:
    """The outcome of :func:`~symlip.search.falsify.falsify` (in the manner of ``scipy.optimize.OptimizeResult``).

    Attributes
    ----------
    status : {"violated", "survived", "inconclusive", "witnessed", "refuted"}
        ``violated``: a witness with value > bound, confirmed with mpmath;
        ``survived``: nothing above the bound; ``inconclusive``: float64 saw a
        violation that high precision did not confirm (both values in ``message``).
        Lower-bound claims (``direction="lower"``, docs/theory.md §4) end ``witnessed``
        (the construction reaches the bound at high precision) or ``refuted`` (the
        upper bound of §3 on the region is below it).
    best_ratio : float
        Largest witnessed ``value / bound`` (the witness pair's ratio).
    witness : Witness or None
        The best pair found, with its float64 and (near or above 1) mpmath values.
    strategy : str
        The strategy whose candidate became the witness.
    evaluations, seconds : int, float
        Work done.
    confirmed_digits : int
        Digits of the violation margin confirmed at two precisions (0 unless violated).
    message : str
        One human sentence.
    claim : Claim
    bound : float
        The claimed bound in float64 (the witness's right-hand side for pointwise claims).
    best_value : float
        The witnessed value (numerator of ``best_ratio``).
    strategies : dict
        Per strategy: ``best_ratio`` (best local or pair estimate it saw, divided by
        the bound), ``evaluations``, ``seconds``.
    seed : int
    numeric : str
        ``"rests on numeric S1 ≈ ... (not proven)"`` when the bound uses numeric
        activation constants (only with ``allow_numeric``; also in ``message``), else ``""``.
    stop : {"budget", "first"}
        When the search ended: budget spent, or at the first confirmed violation.
    seconds_to_violation, evals_to_violation : float or None, int or None
        With ``stop="first"`` and a violation: the seconds of search (from its
        start, setup excluded) and the evaluations until the violation was
        confirmed, confirmation included; else None.
    """

    status: str
    best_ratio: float
    witness: Witness | None
    strategy: str
    evaluations: int
    seconds: float
    confirmed_digits: int
    message: str
    claim: Claim
    bound: float
    best_value: float
    strategies: dict[str, dict[str, float]] = field(default_factory=dict)
    seed: int = 0
    numeric: str = ""
    stop: str = "budget"
    seconds_to_violation: float | None = None
    evals_to_violation: int | None = None

    @property
    def as_expected(self) -> bool:
        """A ``holds`` claim survived, or a ``fails`` claim was violated."""
        if self.claim.expect == "holds":
            return self.status in ("survived", "witnessed")
        return self.status in ("violated", "refuted")

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary (the witness as :meth:`Witness.to_dict`)."""
        return {
            "claim": self.claim.name, "quantity": self.claim.quantity, "direction": self.claim.direction,
            "expect": self.claim.expect,
            "status": self.status, "as_expected": self.as_expected, "best_ratio": json_float(self.best_ratio),
            "best_value": json_float(self.best_value), "bound": json_float(self.bound), "strategy": self.strategy,
            "evaluations": self.evaluations, "seconds": round(self.seconds, 4),
            "confirmed_digits": self.confirmed_digits, "message": self.message, "seed": self.seed,
            "strategies": {k: {kk: json_float(vv) for kk, vv in v.items()} for k, v in self.strategies.items()},
            "witness": None if self.witness is None else self.witness.to_dict(),
            "numeric": self.numeric or None, "stop": self.stop,
            "seconds_to_violation": (None if self.seconds_to_violation is None
                                     else round(self.seconds_to_violation, 4)),
            "evals_to_violation": self.evals_to_violation,
        }

    def _display_fields(self) -> tuple[str, list[tuple[str, Any]]]:
        title = f"{self.claim.name} ({self.claim.quantity}): {self.status}"
        fields = [("expected", f"{self.claim.expect} ({'as expected' if self.as_expected else 'NOT as expected'})"),
                  ("best ratio", self.best_ratio), ("bound", self.bound), ("best value", self.best_value),
                  ("strategy", self.strategy), ("evaluations", self.evaluations),
                  ("seconds", round(self.seconds, 2)), ("confirmed digits", self.confirmed_digits or None),
                  ("seed", self.seed), ("numeric", self.numeric),
                  ("seconds to violation", None if self.seconds_to_violation is None
                   else round(self.seconds_to_violation, 2)),
                  ("evaluations to violation", self.evals_to_violation), ("message", self.message)]
        return title, fields

    def _repr_markdown_(self) -> str:
        """Notebook display: status and the main fields as a Markdown table."""
        return markdown_fields(*self._display_fields())

    def _repr_html_(self) -> str:
        """Notebook display: status and the main fields as an HTML table."""
        return html_fields(*self._display_fields())

    def __repr__(self) -> str:
        keys = ("status", "best_ratio", "strategy", "evaluations", "seconds", "confirmed_digits", "message")
        width = max(map(len, keys))
        return "\n".join(f"{k.rjust(width)}: {getattr(self, k)!r}" for k in keys)
