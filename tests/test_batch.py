"""Checking many cases: worker processes and a Dask cluster give the verdicts of one process."""
from __future__ import annotations

import math
import textwrap

import pytest

from symlip.batch import CaseError, check_cases
from symlip.search.catalogue import load_cases

_CATALOGUE = textwrap.dedent('''
    from symlip import MLP, Region, derive
    from symlip.search.claims import Case, Claim

    from _helper import HALF

    net = MLP((1, 2, 1), "tanh")
    CASES = [
        Case(Claim("U1 holds", "lip_f", derive("lip_f", 2)), net, Region.ball([0.0] * 7, 1.0), R=1.0),
        Case(Claim("half of U1", "lip_f", HALF * derive("lip_f", 2).expr, expect="fails"), net,
             Region.box([1.0, 1.0], 1.0), R=1.0),
        Case(Claim("needs smooth", "lip_grad", derive("lip_grad", 2), assumptions=("smooth",)),
             MLP((1, 2, 1), "relu"), Region.ball([0.0] * 7, 1.0), R=1.0),
        Case(Claim("U2 holds", "lip_grad", derive("lip_grad", 2)), net, Region.ball([0.0] * 7, 0.5), R=1.0),
    ]
''')


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory):
    folder = tmp_path_factory.mktemp("catalogue")
    (folder / "_helper.py").write_text("HALF = 0.5\n")   # a sibling helper the case file imports
    (folder / "cases.py").write_text(_CATALOGUE)
    return load_cases([folder])


def _same(a, b):
    """Same statuses, work and witnesses; ratios equal up to float64 summation order."""
    assert [lc.index for lc, _ in a] == [lc.index for lc, _ in b]
    for (lc, x), (_, y) in zip(a, b):
        assert type(x) is type(y), lc.index
        assert x.status == y.status, (lc.index, x.message, y.message)
        assert y.claim is lc.case.claim          # the claim is the caller's own object again
        if isinstance(x, CaseError):
            assert x.message == y.message
            continue
        assert x.evaluations == y.evaluations
        assert math.isclose(x.best_ratio, y.best_ratio, rel_tol=1e-12)
        assert (x.witness is None) == (y.witness is None)


def test_workers_give_the_verdicts_of_one_process(catalogue):
    seen = []
    one = check_cases(catalogue, budget=1.0, max_evals=60, seed=3)
    two = check_cases(catalogue, budget=1.0, max_evals=60, seed=3, jobs=2,
                      progress=lambda k, lc, o: seen.append(k))
    _same(one, two)
    assert sorted(seen) == [1, 2, 3, 4]
    statuses = [o.status for _, o in one]
    assert statuses[1] == "violated" and statuses[2] == "error"
    assert isinstance(one[2][1], CaseError) and "smooth" in one[2][1].message
    assert one[1][1].witness is not None and one[1][1].witness.source.endswith("cases.py::1")


def test_dask_cluster_gives_the_verdicts_of_one_process(catalogue):
    distributed = pytest.importorskip("distributed")
    one = check_cases(catalogue, budget=1.0, max_evals=60, seed=3)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        remote = check_cases(catalogue, budget=1.0, max_evals=60, seed=3, scheduler=cluster.scheduler_address)
    _same(one, remote)


@pytest.mark.parametrize("kw, match", [
    ({"jobs": 0}, r"jobs must be an integer in \[1, 256\]; got 0"),
    ({"jobs": True}, r"jobs must be an integer"),
    ({"jobs": 2.0}, r"jobs must be an integer"),
    ({"scheduler": ""}, r"scheduler must be the address of a Dask scheduler"),
])
def test_bad_arguments_are_named(catalogue, kw, match):
    with pytest.raises(ValueError, match=match):
        check_cases(catalogue, budget=1.0, **kw)


def test_unreachable_scheduler_is_one_clear_error(catalogue):
    pytest.importorskip("distributed")
    with pytest.raises(ValueError, match="cannot reach the Dask scheduler 'tcp://127.0.0.1:9'"):
        check_cases(catalogue[:1], budget=1.0, max_evals=10, scheduler="tcp://127.0.0.1:9")


def test_entries_must_be_loaded_cases():
    with pytest.raises(TypeError, match=r"loaded\[0\] must be a LoadedCase"):
        check_cases(["proofs/u1_network.py"], budget=1.0)


def test_unguarded_script_gets_one_clear_error(catalogue, tmp_path):
    """A script calling check_cases(jobs=2) at import time: the workers re-import it; the run ends
    with an error naming the ``__main__`` guard, not a BrokenProcessPool traceback per worker."""
    import subprocess
    import sys
    from pathlib import Path

    src = str(Path(catalogue[0].source).resolve().parent)
    script = tmp_path / "unguarded.py"
    script.write_text(textwrap.dedent(f'''
        from symlip.batch import check_cases
        from symlip.search.catalogue import load_cases
        check_cases(load_cases([{src!r}])[:2], budget=0.2, max_evals=5, jobs=2)
    '''))
    root = str(Path(__file__).resolve().parents[1])
    env = {**__import__("os").environ, "PYTHONPATH": root}
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode != 0
    assert 'if __name__ == "__main__":' in r.stderr
    assert "BrokenProcessPool" not in r.stderr
    assert r.stderr.count("Traceback") <= 1   # at most the script's own, none from the workers
