"""``falsify(..., stop="first")``: the search ends at the first confirmed violation
(docs/theory.md §5); the default ``stop="budget"`` is unchanged."""
import contextlib
import io
import json
import textwrap

import numpy as np
import pytest

from symlip import MLP, Region, derive, falsify
from symlip.cli import main
from symlip.search.catalogue import load_cases
from symlip.search.claims import Case, Claim
from symlip.verify import check_case, replay

MUTANT = Claim("0.98 sqrt(1+R^2)", "lip_f", "0.98*sqrt(1+R**2)", expect="fails")
TRUE = Claim("U1 m=1", "lip_f", derive("lip_f", 1))


def _depth1():
    return MLP([3, 1], "tanh"), Region.box(2.0, 1.0)


def test_first_violation_is_confirmed_and_replays(tmp_path):
    net, region = _depth1()
    first = falsify(MUTANT, net, region, R=2.0, budget=60.0, max_evals=150, seed=2, stop="first")
    full = falsify(MUTANT, net, region, R=2.0, budget=60.0, max_evals=150, seed=2)
    assert first.status == full.status == "violated" and first.as_expected
    assert first.stop == "first" and full.stop == "budget"
    assert first.confirmed_digits >= 3 and first.best_ratio > 1
    # the search stopped at the violation: no more evaluations than the full run
    assert 1 <= first.evals_to_violation == first.evaluations <= full.evaluations
    assert 0 < first.seconds_to_violation <= first.seconds
    assert full.seconds_to_violation is None and full.evals_to_violation is None
    d = first.to_dict()
    assert d["stop"] == "first" and d["evals_to_violation"] == first.evals_to_violation
    assert d["seconds_to_violation"] is not None
    json.dumps(d)
    w = first.witness
    assert region.contains(net, w.theta) and region.contains(net, w.theta2)
    r = replay(w.save(tmp_path / "w.json"), dps=80)
    assert r.status == "violated" and r.confirmed_digits >= 3
    # with a time budget too
    timed = falsify(MUTANT, net, region, R=2.0, budget=5.0, seed=0, stop="first")
    assert timed.status == "violated" and timed.evals_to_violation == timed.evaluations
    assert replay(timed.witness.save(tmp_path / "t.json"), dps=80).status == "violated"


def test_true_claim_same_search_at_both_stops():
    """No violation is confirmed, so stop="first" runs the search of stop="budget" to the end."""
    net, region = _depth1()
    runs = [falsify(TRUE, net, region, R=2.0, budget=60.0, max_evals=150, seed=2, stop=s) for s in ("budget", "first")]
    assert runs[0].status == runs[1].status == "survived"
    assert runs[0].best_ratio == runs[1].best_ratio and runs[0].evaluations == runs[1].evaluations
    assert runs[1].seconds_to_violation is None and runs[1].evals_to_violation is None
    net2 = MLP([2, 5, 1], "tanh")
    claim = Claim("U2", "lip_grad", derive("lip_grad", 2))
    a, b = (falsify(claim, net2, Region.box(1.2, 0.3), R=1.0, budget=60.0, max_evals=120, seed=4, stop=s)
            for s in ("budget", "first"))
    assert a.status == b.status == "survived" and a.best_ratio == b.best_ratio


def test_default_path_is_the_budget_path():
    """Without ``stop`` the search is ``stop="budget"``: the same status, evaluations, credited
    strategy, witness and best ratio in one run (bit for bit: the search is exactly reproducible).
    (Against commit 47903f3, before ``stop`` existed, these three runs were also identical.)"""
    net, region = _depth1()
    runs = [(MUTANT, net, region, 2.0, 150, 2, "violated"), (TRUE, net, region, 2.0, 150, 2, "survived"),
            (Claim("U2", "lip_grad", derive("lip_grad", 2)), MLP([2, 5, 1], "tanh"), Region.box(1.2, 0.3),
             1.0, 120, 4, "survived")]
    for claim, n, reg, R, evals, seed, status in runs:
        a = falsify(claim, n, reg, R=R, budget=60.0, max_evals=evals, seed=seed)
        b = falsify(claim, n, reg, R=R, budget=60.0, max_evals=evals, seed=seed, stop="budget")
        assert a.status == b.status == status
        assert (a.evaluations, a.strategy, a.best_ratio, a.confirmed_digits) == \
            (b.evaluations, b.strategy, b.best_ratio, b.confirmed_digits)
        assert evals - 1 <= a.evaluations <= evals
        assert (a.witness is None) == (b.witness is None)
        if a.witness is not None:
            assert np.array_equal(a.witness.theta, b.witness.theta) and np.array_equal(a.witness.x, b.witness.x)


CATALOGUE = """
from symlip import MLP, Region
from symlip.search.claims import Case, Claim

CASES = [Case(Claim("M|0.98", "lip_f", "0.98*sqrt(1+R**2)", expect="fails", why="2% below the exact value"),
              MLP((3, 1), "tanh"), Region.box(2.0, 1.0), R=2.0)]
"""


def _run(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main([str(a) for a in argv])
    return rc, out.getvalue(), err.getvalue()


def test_check_case_and_cli_stop_first(tmp_path):
    cat = tmp_path / "cat.py"
    cat.write_text(textwrap.dedent(CATALOGUE))
    (lc,) = load_cases([cat])
    v = check_case(lc, budget=60.0, max_evals=150, seed=2, stop="first")
    assert v.status == "violated" and v.stop == "first" and v.evals_to_violation is not None
    rc, out, err = _run(["check", cat, "--stop", "first", "--max-evals", "150", "--seed", "2", "--jobs", "1",
                         "--out", tmp_path / "rep"])
    assert rc == 0, out + err
    data = json.loads((tmp_path / "rep" / "check.json").read_text())
    text = json.dumps(data)
    assert '"stop": "first"' in text and "--stop first" in text
    assert f'"evals_to_violation": {v.evals_to_violation}' in text


def test_bad_stop_is_an_error(tmp_path):
    net, region = _depth1()
    for bad in ("fast", "", None, 1, "First"):
        with pytest.raises(ValueError, match=r"stop must be one of 'budget', 'first'; got") as e:
            falsify(TRUE, net, region, R=2.0, budget=1.0, max_evals=20, stop=bad)
        assert repr(bad) in str(e.value)
    cat = tmp_path / "cat.py"
    cat.write_text(textwrap.dedent(CATALOGUE))
    (lc,) = load_cases([cat])
    with pytest.raises(ValueError, match="'fast'"):
        check_case(lc, budget=1.0, stop="fast")
    from symlip.batch import check_cases

    with pytest.raises(ValueError, match="'fast'"):
        check_cases([lc], budget=1.0, stop="fast")
    with pytest.raises(ValueError, match="'fast'"):
        falsify(Case(TRUE, net, region, R=2.0), budget=1.0, stop="fast")
    rc, out, err = _run(["check", cat, "--stop", "fast", "--out", tmp_path / "rep"])
    assert rc == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("symlip: error:") and "'fast'" in lines[0] and "first" in lines[0]
