"""Lower-bound claims ``sup_region Q >= bound``: witnessed by the §4 chain or
refuted by the §3 upper bound, never searched (docs/theory.md §4)."""
from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

import mpmath
import numpy as np

from symlip.bounds.lower import LOWER_QUANTITIES, LowerFormula, lower_bound, lower_constant, room
from symlip.bounds.symbolic import derive
from symlip.search.claims import Claim
from symlip.search.verdict import Verdict

if TYPE_CHECKING:  # pragma: no cover
    from symlip.models.network import MLP
    from symlip.models.region import Region

__all__ = ["check_lower"]


def check_lower(claim: Claim, net: "MLP", region: "Region", R: float, dps: int, seed: int) -> Verdict:
    """Check a lower-bound claim ``sup_region Q >= bound``.

    ``witnessed`` when the §4 witness beats the claimed value at ``dps`` and
    ``dps + 30`` digits; ``refuted`` when the upper bound U1/U2 on the region
    (docs/theory.md §3, itself checked in ``proofs/``) is below the claimed value, so no
    witness can exist; otherwise ``inconclusive``.
    """
    t_start = time.perf_counter()
    if claim.quantity not in LOWER_QUANTITIES:
        raise ValueError(f"lower-bound claim {claim.name!r}: quantity must be one of {', '.join(LOWER_QUANTITIES)}; "
                         f"got {claim.quantity!r}")
    r_eff = room(net, region)
    claimed = claim.bound_value(net, region, R=R)
    lc = lower_constant(net.activation, claim.quantity, net.depth, R if R > 0 else 1.0,
                        getattr(claim.bound, "t0", None), r=r_eff if r_eff > 0 else None)
    wit = None
    vals = []
    if R > 0 and r_eff >= lc.r_min and r_eff > 0:
        center = None if not np.any(region.center) else region.center
        inside = True
        for d in (dps, dps + 30):  # two independent evaluations
            wit = lower_bound(net, claim.quantity, region.radius, R, lc.t0, dps=d, center=center)
            inside &= wit.distance <= region.radius
            with mpmath.workdps(d):
                claimed_mp = (claim.bound.mp(net, region, R, d) if isinstance(claim.bound, LowerFormula)
                              else mpmath.mpf(claimed))
                vals.append(mpmath.mpf(wit.value_mp) - claimed_mp)
    upper = Claim("U", claim.quantity, derive(claim.quantity, net.depth), allow_numeric=claim.allow_numeric)
    upper_mp = upper.bound_value_mp(net, region, R=R, dps=dps)
    seconds = time.perf_counter() - t_start
    value = wit.value if wit is not None else 0.0
    what = "|∇_θ f|" if claim.quantity == "lip_f" else "|∇²_θ f v|"
    if wit is not None and inside and vals[0] >= 0 and vals[1] >= 0:
        with mpmath.workdps(dps + 30):
            m1, m2 = vals
            diff = abs(m1 - m2)
            digits = dps if diff == 0 or m2 == 0 else int(min(dps, max(0, math.floor(-mpmath.log10(diff / abs(m2))))))
        status = "witnessed"
        msg = (f"witnessed: the §4 chain (t0 = {lc.t0:g}) inside the ball has {what} = {wit.value:.6g} >= "
               f"claimed {claimed:.6g} (at {dps} and {dps + 30} digits)")
    elif upper_mp < (claim.bound.mp(net, region, R, dps) if isinstance(claim.bound, LowerFormula)
                     else mpmath.mpf(claimed)):
        status, digits = "refuted", 0
        msg = (f"refuted: the upper bound {upper.bound.name or claim.quantity} on the region is "
               f"{float(upper_mp):.6g} < claimed lower bound {claimed:.6g} (docs/theory.md §3), so no parameters "
               f"reach it; the §4 witness reaches {value:.6g}")
    else:
        status, digits = "inconclusive", 0
        msg = (f"inconclusive: the §4 witness reaches {value:.6g} < claimed {claimed:.6g} <= upper bound "
               f"{float(upper_mp):.6g}")
    return Verdict(status=status, best_ratio=value / claimed if claimed > 0 else math.inf, witness=None,
                   strategy="chain", evaluations=1, seconds=seconds, confirmed_digits=digits, message=msg,
                   claim=claim, bound=claimed, best_value=value,
                   strategies={"chain": {"best_ratio": value / claimed if claimed > 0 else math.inf,
                                         "evaluations": 1, "seconds": seconds}}, seed=seed)
