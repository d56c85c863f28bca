"""symlip.report.bench: the quick benchmark writes a complete, finite JSON report."""
import json
import math

import pytest

from symlip.report.bench import TARGETS, format_table, run_bench


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
    for key in ("machine", "config", "derive", "kernel", "network", "targets", "all_passed"):
        assert key in data
    for key in ("python", "numpy", "sympy", "cpu_count"):
        assert data["machine"][key]
    assert [r["depth"] for r in data["derive"]] == [2, 10, 50]
    assert set(data["targets"]) == set(TARGETS)
    for t in data["targets"].values():
        assert t["passed"] in (True, False, None)
    k = data["kernel"]
    for key in ("kernel", "evalf_subs", "xreplace_evalf", "ratio_kernel_over_evalf", "mp_check"):
        assert key in k
    assert {"symlip_grad", "symlip_hvp"} <= set(data["network"]["ms_per_call_median"])


def test_numbers_positive_and_finite(quick):
    _, results = quick
    for r in results["derive"]:
        assert r["derive_s"] > 0 and r["compile_s"] > 0 and math.isfinite(r["total_s"])
    k = results["kernel"]
    for x in (k["kernel"]["evals_per_s"], k["evalf_subs"]["evals_per_s"], k["xreplace_evalf"]["evals_per_s"],
              k["ratio_kernel_over_evalf"], k["ratio_kernel_over_xreplace_evalf"]):
        assert x > 0 and math.isfinite(x)
    for x in results["network"]["ms_per_call_median"].values():
        assert x > 0 and math.isfinite(x)
    dyn = results["dynamics"]
    assert dyn["n_params"] >= 10**5 * 0.95 and dyn["batch_size"] == 128 and dyn["median_step_s"] > 0
    for x in _numbers(results):
        assert math.isfinite(x) and x >= 0


def test_kernel_matches_mpmath(quick):
    _, results = quick
    assert results["kernel"]["mp_check"]["max_rel_diff"] <= 1e-12


def test_torch_agrees_when_present(quick):
    _, results = quick
    net = results["network"]
    if "check" not in net:
        pytest.skip("torch not importable")
    assert net["check"]["grad_max_rel_diff"] <= 1e-8
    assert net["check"]["hvp_max_rel_diff"] <= 1e-8


def test_format_table_mentions_every_target(quick):
    _, results = quick
    table = format_table(results)
    for name in TARGETS:
        assert name in table
