"""symlip.report.bench_certify: the certify section's structure on tiny budgets, its targets
computed from the figures (unmeasured when missing); certify's early stop and budgets."""
import json
import math

import numpy as np
import pytest

from symlip.certify import certify, replay_certificate
from symlip.certify.bnb import Search
from symlip.certify.enclose import Problem
from symlip.models.network import MLP
from symlip.models.region import Region
from symlip.report.bench import TARGETS, evaluate_targets
from symlip.report.bench_certify import CERTIFY_TARGETS, certify_values, format_certify, run_certify_bench

TINY = {"exact_budget": 0.5, "exact_widths": (1, 1, 1), "medium_budget": 0.5, "medium_widths": (1, 1, 1),
        "large_budget": 0.5, "large_widths": (2, 3, 1), "large_radii": (1e-2,), "train_steps": 20,
        "relu_budget": 2.0, "dense_budget": 0.2, "relu_cases": (((2, 4, 1), True), ((3, 4, 1), False)),
        "step_budget": 0.02, "step_max_steps": 2}


@pytest.fixture(scope="module")
def section():
    return run_certify_bench(quick=True, overrides=TINY)


def test_section_structure(section):
    for key in ("config", "exact", "medium", "large", "relu", "stepsize", "max_budget_overrun", "seconds"):
        assert key in section
    assert len(section["exact"]["cases"]) == 2
    for r in section["exact"]["cases"] + [section["medium"]] + section["large"]["cases"] + section["relu"]["cases"]:
        assert 0 <= r["lower"] <= r["upper"] and r["boxes"] >= 0 and r["stop"]
    assert set(section["medium"]["trace"]["gap_at"]) == {"10s", "60s", "300s"}
    for r in section["large"]["cases"]:
        # never above the rigorously evaluated U1 (the certificate's cap)
        assert r["cap"] is not None and r["upper"] <= r["cap"] and r["within_u"]
    for r in section["relu"]["cases"]:
        assert r["reference_inside"], r        # exact value inside the sandwich; searched value below the upper
    json.dumps(section, allow_nan=True)
    assert "(g) certify" in format_certify(section)[0]


def test_targets_from_values(section):
    values = certify_values(section)
    assert set(values) == set(CERTIFY_TARGETS) and set(CERTIFY_TARGETS) <= set(TARGETS)
    assert values["certify_exact_max_gap"] == max(r["gap"] for r in section["exact"]["cases"])
    # two steps cannot reach the demo's target loss: the step-size figure is unmeasured
    assert section["stepsize"]["u3"]["steps_to_target"] is None and values["certify_stepsize_steps_ratio"] is None
    targets, ok = evaluate_targets(values)
    assert not ok and targets["certify_stepsize_steps_ratio"]["status"] == "unmeasured"
    for name in CERTIFY_TARGETS:
        assert targets[name]["status"] in ("pass", "fail", "unmeasured")
    assert set(certify_values(None).values()) == {None}
    assert certify_values({"relu": {"max_gap": 1.5}})["certify_relu_max_gap"] == 1.5
    targets, _ = evaluate_targets({**values, "certify_exact_max_gap": math.inf})
    assert targets["certify_exact_max_gap"]["status"] == "fail"
    with pytest.raises(ValueError, match="unknown certify bench settings"):
        run_certify_bench(quick=True, overrides={"nope": 1})


def _claim(bound):
    from symlip.search.claims import Claim

    return Claim("c", "lip_f", bound)


def test_early_stop_on_a_decided_claim():
    net = MLP((1, 2, 1), "tanh")
    reg = Region.ball(net.init(0), 0.3)
    far_above = certify(_claim(1e3), net, reg, R=1.0, budget=600)
    assert far_above.status == "proved" and far_above.stop == "proved" and far_above.boxes <= 1
    far_below = certify(_claim(1e-3), net, reg, R=1.0, budget=600)
    assert far_below.status == "violated" and far_below.stop == "violated" and far_below.boxes <= 1
    assert far_below.lower > far_below.bound
    assert replay_certificate(far_above.to_dict()).status == "proved"


def test_box_budget_and_reproducible_search():
    net = MLP((1, 2, 1), "tanh")
    reg = Region.ball(net.init(0), 0.3)
    runs = []
    for _ in range(2):
        s = Search(Problem("lip_f", net, reg, 1.0), budget=1e9, tol=1e-12, max_boxes=9, seed=3)
        assert s.run() == "max_boxes"
        assert s.boxes <= 9 and s.evals <= s.eval_limit + 10 * (s.prob.n + 1)
        runs.append((s.upper, s.best.value, [n.upper for n in s.nodes]))
    assert runs[0] == runs[1]          # same seed, no clock in the way: the same search


def test_deadline_before_the_root_keeps_a_replayable_certificate():
    net = MLP((1, 2, 1), "tanh")
    cert = certify("lip_f", net, Region.ball(net.init(0), 0.3), R=1.0, budget=1e-9)
    assert cert.stop == "budget" and cert.boxes == 0 and cert.upper == cert.cap
    assert cert.proof["tree"] == [-3] and "not enclosed" in cert.message and "fixed costs" in cert.message
    assert cert.lower > 0                       # the centre still gives a witness
    assert replay_certificate(cert.to_dict()).status == "certified"
    d = cert.to_dict()
    d["cap"] = None
    assert replay_certificate(d).status == "invalid"   # a cap-only leaf without a cap proves nothing
    d = cert.to_dict()
    d["cap"] *= 0.99
    d["upper"] = d["cap"]
    assert replay_certificate(d).status == "tampered"


def test_incumbent_sees_the_deadline():
    net = MLP((1, 2, 1), "tanh")
    s = Search(Problem("lip_f", net, Region.ball(net.init(0), 0.3), 1.0), budget=1.0, tol=0.01, max_boxes=None,
               seed=0, deadline=0.0)
    assert s.out_of_time() and s.exhausted()
    s.best = None
    s.improve()                                   # nothing to improve and no time: returns
    assert np.isfinite(s.root_width).all()
