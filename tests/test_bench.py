"""symlip.report.bench: the quick benchmark writes a complete, finite JSON report whose
targets can fail; the suite's truths are right; the baselines are independent of symlip."""
import ast
import json
import math
from pathlib import Path

import numpy as np
import pytest

from symlip.report import bench
from symlip.report.bench import TARGETS, evaluate_targets, format_table, run_bench

REPORT = Path(bench.__file__).resolve().parent


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    path = tmp_path_factory.mktemp("bench") / "sub" / "bench.json"
    results = run_bench(out_path=path, quick=True)
    return path, results


def _numbers(obj):
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return
    if isinstance(obj, (int, float)):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _numbers(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _numbers(v)


def test_writes_valid_json_with_all_keys(quick):
    path, results = quick
    data = json.loads(path.read_text())
    assert data == json.loads(json.dumps(results))
    for key in ("machine", "config", "threads", "derive", "kernel", "network", "search", "dynamics", "certify",
                "targets", "all_passed", "any_failed"):
        assert key in data
    for key in ("python", "numpy", "sympy", "cpu_count"):
        assert data["machine"][key]
    assert [r["depth"] for r in data["derive"]] == [2, 10, 25, 50]
    assert set(data["targets"]) == set(TARGETS)
    for t in data["targets"].values():
        assert t["status"] in ("pass", "fail", "unmeasured")
    assert data["all_passed"] == all(t["status"] == "pass" for t in data["targets"].values())
    assert data["any_failed"] == any(t["status"] == "fail" for t in data["targets"].values())
    k = data["kernel"]
    for key in ("kernel", "lambdify", "ratio_kernel_over_lambdify", "mp_check"):
        assert key in k
    assert {"symlip_grad", "symlip_hvp"} <= set(data["network"]["ms_per_call_median"])


def test_numbers_finite_and_ratios_consistent(quick):
    _, results = quick
    for r in results["derive"]:
        assert r["derive_s"] > 0 and r["compile_s"] > 0 and math.isfinite(r["total_s"])
    k = results["kernel"]
    assert k["ratio_kernel_over_lambdify"] == pytest.approx(k["kernel"]["evals_per_s"] / k["lambdify"]["evals_per_s"])
    assert k["lambdify"]["max_rel_diff_vs_kernel"] <= 1e-9          # the baseline computes the same bound
    d1, d2 = results["derive"][-2:]
    assert results["targets"]["derive_scaling_ratio"]["value"] == pytest.approx(d2["total_s"] / d1["total_s"])
    dy = results["dynamics"]
    assert dy["ratio_low_rank_over_dense"] == pytest.approx(dy["median_step_s"]["low_rank"]
                                                            / dy["median_step_s"]["dense"])
    assert dy["exact_vs_dense_max_rel_diff"] <= 1e-6               # exact low-rank algebra = dense
    for x in _numbers(results):
        assert math.isfinite(x) and x >= 0


def test_non_finite_values_are_nulled_and_listed():
    data = {"a": [1.0, math.inf], "b": {"c": math.nan, "d": 2}}
    assert bench._nulled_non_finite(data) == ["/a/1", "/b/c"]
    assert data == {"a": [1.0, None], "b": {"c": None, "d": 2}}


def test_kernel_matches_mpmath(quick):
    _, results = quick
    assert results["kernel"]["mp_check"]["max_rel_diff"] <= 1e-12


def test_suite_rows_complete(quick):
    _, results = quick
    suite = results["search"]["suite"]
    assert len(suite["cases"]) >= 3
    assert any(r["n_params"] >= 1000 for r in suite["cases"])
    for r in suite["cases"]:
        assert r["truth"] > 0 and r["truth_how"]
        f = r["symlip"]["fraction"]["1s"]
        # a search value is a witnessed lower bound: never above a ground truth (beyond rounding)
        if r["ground_truth"]:
            assert 0 < f <= 1 + 1e-9, r["name"]
        assert {"random", "hypothesis", "differential_evolution"} <= set(r["baselines"])
        for name, b in r["baselines"].items():
            v = b["fraction"]["1s"]
            assert v >= 0
            if name != "clever" and r["ground_truth"]:     # CLEVER is an estimate and may exceed 1
                assert v <= 1 + 1e-9, (r["name"], name)
    assert suite["min_fraction"] == min(r["symlip"]["fraction"]["1s"] for r in suite["cases"] if r["ground_truth"])


def test_mutants_split_and_large_ones_measured(quick):
    _, results = quick
    mu = results["search"]["mutants"]
    assert mu is not None
    large = [r for r in mu["mutants"] if "random_only" in r]
    assert len(large) >= 1 and all(r["n_params"] >= 1000 for r in large)
    for r in large:
        assert r["group"] == "search" and r["status"] in ("violated", "survived", "inconclusive")
        assert r["budget_s"] == mu["budget_s"] and mu["stop"] == "first"
        if r["status"] == "violated":   # one run at stop="first": it ended at the violation
            assert r["seconds"] > 0 and r["evals"] >= 1 and r["evals"] == r["evaluations"]
            assert r["search_seconds"] <= r["seconds"] == r["run_s"]


def test_format_table_mentions_every_target(quick):
    _, results = quick
    table = format_table(results)
    for name in TARGETS:
        assert name in table


def test_targets_pass_fail_unmeasured():
    targets, ok = evaluate_targets({name: None for name in TARGETS})
    assert not ok and {t["status"] for t in targets.values()} == {"unmeasured"}
    good = {"derive_scaling_ratio": 2.0, "kernel_vs_lambdify_ratio": 10.0, "kernel_vs_mp_rel_diff": 0.0,
            "grad_ratio_symlip_over_torch": 1.0, "hvp_ratio_symlip_over_torch": 1.0,
            "search_min_fraction_of_truth": 1.0, "search_random_max_fraction_hard": 0.5,
            "mutants_search_caught_fraction": 1.0, "mutant_max_seconds_to_violation": 1.0,
            "mutants_refuted_fraction": 1.0, "mutants_statistical_violated_fraction": 1.0,
            "large_mutants_missed_by_random_fraction": 1.0, "dynamics_lowrank_over_dense_ratio": 0.1,
            "certify_exact_max_gap": 1.0, "certify_medium_gap": 1.1, "certify_large_upper_within_u_fraction": 1.0,
            "certify_large_u_over_upper_1e-2": 2.5, "certify_relu_max_gap": 1.0,
            "certify_relu_references_inside_fraction": 1.0, "certify_stepsize_steps_ratio": 1.0,
            "certify_max_budget_overrun": 0.0, "check_jobs2_over_jobs1_ratio": 0.5}
    assert set(good) == set(TARGETS)
    targets, ok = evaluate_targets(good)
    assert ok
    targets, ok = evaluate_targets({**good, "search_min_fraction_of_truth": 0.5})
    assert not ok and targets["search_min_fraction_of_truth"]["status"] == "fail"
    targets, ok = evaluate_targets({**good, "kernel_vs_lambdify_ratio": math.nan})
    assert targets["kernel_vs_lambdify_ratio"]["status"] == "fail"
    targets, ok = evaluate_targets({**good, "mutants_refuted_fraction": None})
    assert not ok and targets["mutants_refuted_fraction"]["status"] == "unmeasured"


def test_cli_exits_1_on_a_failing_target(quick, monkeypatch, tmp_path, capsys):
    """The quick results re-judged with an impossible threshold: ``symlip bench`` exits 1."""
    from symlip.cli import main

    _, results = quick
    monkeypatch.setitem(bench.TARGETS, "kernel_vs_mp_rel_diff", {"op": "<=", "value": -1.0})
    values = {name: t["value"] for name, t in results["targets"].items()}
    targets, ok = evaluate_targets(values)
    assert targets["kernel_vs_mp_rel_diff"]["status"] == "fail" and not ok
    failing = {**results, "targets": targets, "all_passed": ok}
    monkeypatch.setattr(bench, "run_bench", lambda out_path, quick: failing)
    assert main(["bench", "--quick", "--out", str(tmp_path / "b.json")]) == 1
    passing = {**results, "targets": {n: {**t, "status": "pass"} for n, t in targets.items()}, "all_passed": True}
    monkeypatch.setattr(bench, "run_bench", lambda out_path, quick: passing)
    assert main(["bench", "--quick", "--out", str(tmp_path / "b.json")]) == 0
    capsys.readouterr()


# ---------------------------------------------------------------------------
# the suite's truths and the baselines' independence
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("hidden,eps", [(5, 0.02), (7, 0.1)])
def test_needle_truth_is_the_exact_constant(hidden, eps):
    from symlip.report.bench_suite import needle_network
    from symlip.search.audit import exact_input_lipschitz

    net, theta, truth = needle_network(2, hidden, eps=eps)
    exact = exact_input_lipschitz(net, theta, R=1.0)
    # exact is a rigorous upper end, a few ulps above the constant
    assert truth <= exact <= truth * (1 + 1e-12)
    # the needle matters: the constant off the cap is 1
    assert truth > 2.0
    X = np.random.default_rng(5).standard_normal((2000, 2))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    (W1, b1), _ = net.unflatten(theta)
    off = (X @ W1[-1] + b1[-1]) < 0
    assert np.allclose(np.linalg.norm(net.jac_x(theta, X[off]), axis=1), 1.0, rtol=1e-12)


def test_trained_networks_load_without_pickle_and_fit():
    from symlip.models.network import MLP
    from symlip.report.bench_suite import DATA_FILE, trained_networks

    nets = trained_networks()
    assert set(nets) == {"trained_2_128_1", "trained_8_64_64_4"}
    for widths, theta in nets.values():
        assert theta.shape == (MLP(widths, "relu").n_params,) and np.all(np.isfinite(theta))
    with np.load(DATA_FILE, allow_pickle=False) as data:   # plain arrays only
        assert all(data[k].dtype != object for k in data.files)


def test_hidden_chain_truth_is_attained():
    """The aligned positive chain of docs/theory.md §3.5 reaches U4 = ∏ω on the suite's box."""
    from symlip.report.bench_suite import suite_cases

    sc = [c for c in suite_cases(quick=True) if c.kind == "param"][0]
    net, region = sc.net, sc.case.region
    om, be = region.layer_bounds(net)
    layers = []
    for i, (o, b) in enumerate(zip(om, be)):
        d_out, d_in = net.widths[i + 1], net.widths[i]
        W = np.zeros((d_out, d_in))
        W[0, 0] = o
        bias = np.zeros(d_out)
        bias[0] = b
        layers.append((W, bias))
    theta = net.flatten(layers)
    assert region.contains(net, theta)
    J = net.jac_x(theta, np.zeros(net.d_in))
    assert np.linalg.norm(J) == pytest.approx(sc.truth, rel=1e-12)
    assert sc.truth == pytest.approx(float(np.prod(om)), rel=1e-12)


def test_baselines_do_not_use_symlip_search():
    """The baselines import no search strategy of symlip (only MLP/Region derivatives and samplers)."""
    tree = ast.parse((REPORT / "bench_baselines.py").read_text())
    mods = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    mods |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not any(m and m.startswith("symlip.search") for m in mods), mods


def test_parallel_section_compares_two_runs_of_the_same_cases(quick):
    _, results = quick
    pa = results["parallel"]
    t = results["targets"]["check_jobs2_over_jobs1_ratio"]
    if pa["ratio"] is None:                       # a one-core machine: unmeasured, with the reason
        assert pa["reason"] and t["status"] == "unmeasured"
        return
    assert pa["cases"] == 8 and pa["jobs"] == 2
    assert pa["ratio"] == pytest.approx(pa["seconds_jobs_N"] / pa["seconds_jobs_1"])
    assert t["value"] == pa["ratio"] and t["status"] in ("pass", "fail")
    assert sum(pa["statuses"]["jobs_1"].values()) == sum(pa["statuses"]["jobs_N"].values()) == pa["cases"]
    assert 0 <= pa["same_status"] <= pa["cases"]
    assert "(h) check" in format_table(results)
