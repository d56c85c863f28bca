"""`symlip replay` never runs code unless trusted, and notices a witness file that
disagrees with itself or with its source (status "tampered", never "violated")."""
import copy
import json

import numpy as np
import pytest

from symlip import MLP
from symlip.search.audit import audit_constant
from symlip.search.catalogue import load_cases
from symlip.verify import check_case
from symlip.cli import main
from symlip.training.moment_claims import replay_moment
from symlip.search.witness import Witness
from symlip.verify import replay

CATALOGUE = '''
from symlip import MLP, Region
from symlip.search.claims import Case, Claim

CASES = [Case(Claim("M-0.98", "lip_f", "0.98*sqrt(1 + R**2)", expect="fails", why="2% below the exact value"),
              MLP((3, 1), "3*tanh(t)"), Region.box(1.0, 1.0), R=1.5)]
'''
SENTINEL_LINE = "import pathlib; pathlib.Path(__file__).with_name('IMPORTED').write_text('ran')\n"


@pytest.fixture(scope="module")
def genuine(tmp_path_factory):
    """A genuine violation of a catalogue claim (its source file is in the same folder)."""
    folder = tmp_path_factory.mktemp("trust")
    cat = folder / "cat.py"
    cat.write_text(CATALOGUE)
    [lc] = load_cases([cat])
    v = check_case(lc, budget=2.0, seed=0, max_evals=150)
    assert v.status == "violated", v.message
    path = v.witness.save(folder / "w.json")
    return folder, json.loads(path.read_text())


def _write(folder, data, name="edited.json"):
    p = folder / name
    p.write_text(json.dumps(data))
    return p


def _edit(data, **changes):
    d = copy.deepcopy(data)
    for key, value in changes.items():
        node = d
        *parents, last = key.split("__")
        for k in parents:
            node = node[k]
        if value is _DELETE:
            del node[last]
        else:
            node[last] = value
    return d


_DELETE = object()


def _cli(args, capsys):
    rc = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return rc, out, err


# ---------------------------------------------------------------------------
# a genuine witness, and no code without --trust
# ---------------------------------------------------------------------------
def test_genuine_witness_replays_as_violated(genuine, capsys):
    folder, data = genuine
    p = _write(folder, data, "genuine.json")
    rep = replay(p)
    assert rep.status == "violated", rep.message
    assert "not compared with its source" in rep.message and "--trust" in rep.message
    assert replay(p, trust=True).status == "violated"
    rc, out, err = _cli(["replay", p, "--trust"], capsys)
    assert rc == 0 and "violated: value" in out and not err
    assert "3*tanh(t)" in out


def test_replay_never_imports_the_source_without_trust(genuine, tmp_path, capsys):
    _, data = genuine
    cat = tmp_path / "cat.py"
    cat.write_text(SENTINEL_LINE + CATALOGUE)
    imported = tmp_path / "IMPORTED"
    p = _write(tmp_path, _edit(data, source=f"{cat}::0"))
    assert replay(p).status == "violated" and not imported.exists()
    pointwise = _write(tmp_path, _edit(data, quantity="pointwise", bound_spec={"kind": "source"},
                                       source=f"{cat}::0"), "pointwise.json")
    rep = replay(pointwise)
    assert rep.status == "needs-trust" and "--trust" in rep.message and str(cat) in rep.message
    rc, out, err = _cli(["replay", pointwise], capsys)
    assert rc == 2 and out == "" and err.startswith("symlip: error:") and err.count("\n") == 1 and "--trust" in err
    with pytest.raises(ValueError, match="--trust"):
        Witness.load(pointwise).rebuild()
    assert not imported.exists()
    assert replay(p, trust=True).status == "violated"  # --trust imports (runs) the source file
    assert imported.exists()


# ---------------------------------------------------------------------------
# tampering: the file disagrees with itself
# ---------------------------------------------------------------------------
TAMPERED = [
    ({"activation__name": "tanh"}, "activation: the name 'tanh' is the registry's tanh(t)"),
    ({"activation__name": "Tanh"}, "activation: the name 'Tanh'"),
    ({"activation__name": "tanh(3*t)"}, "activation: the name 'tanh(3*t)' is the expression tanh(3*t)"),
    ({"bound_spec__result": "sqrt(R**2 + 1)/2"}, "bound: the file states 1.76672"),
    ({"bound_spec": {"kind": "number", "value": 1e-300}}, "bound: the file states 1.76672"),
    ({"value_mp": "1.90277563760718699260830412278"}, "value_mp: the file states 1.9027756376"),
    ({"value": 2.5}, "value: the file states 2.5"),
    ({"bound_mp": "1.5"}, "bound_mp: the file states 1.5"),
    ({"ratio": 3.0}, "ratio: the file states 3.0"),
]


@pytest.mark.parametrize("changes, needle", TAMPERED)
def test_tampered_witness_is_reported_tampered_naming_the_field(genuine, changes, needle, capsys):
    folder, data = genuine
    p = _write(folder, _edit(data, **changes))
    rep = replay(p)
    assert rep.status == "tampered" and not rep.violated, rep.message
    assert rep.message.startswith("tampered:") and needle in rep.message, rep.message
    rc, out, err = _cli(["replay", p], capsys)
    assert rc == 1 and "tampered" in out and not err


def test_consistent_edit_is_caught_against_the_source_with_trust(genuine):
    """Lowering the bound program, the bound, its digits and the ratio together leaves a
    self-consistent file: only the source can tell (and only --trust imports it)."""
    from symlip import Bound
    from symlip.models.network import MLP as _MLP
    from symlip.models.region import Region

    folder, data = genuine
    low = Bound.from_expr("sqrt(1 + R**2)/2", 1, "lip_f")
    net, region = _MLP((3, 1), "3*tanh(t)"), Region.box(1.0, 1.0)
    bound = low.evaluate(net, region, R=1.5)
    import mpmath

    with mpmath.workdps(50):
        bound_mp = mpmath.nstr(low.evaluate_mp(low.values_for(net, region, R=1.5), dps=50), 30)
    d = _edit(data, bound_spec__result="sqrt(R**2 + 1)/2", bound=bound, bound_mp=bound_mp,
              ratio=data["value"] / bound)
    p = _write(folder, d)
    rep = replay(p)
    assert rep.status == "violated" and "not compared with its source" in rep.message
    rep = replay(p, trust=True)
    assert rep.status == "tampered" and "bound_spec: the file states" in rep.message, rep.message
    region_edit = _write(folder, _edit(data, region__omega=2.0), "region.json")
    assert replay(region_edit).status == "violated"
    rep = replay(region_edit, trust=True)
    assert rep.status == "tampered" and "region:" in rep.message
    with pytest.raises(ValueError, match="no longer case 0"):
        replay(_write(folder, _edit(data, claim="other"), "claim.json"), trust=True)


def test_theta_far_outside_is_inconclusive_not_a_crash(genuine, capsys):
    folder, data = genuine
    p = _write(folder, _edit(data, theta=[1e300] * len(data["theta"])))
    rep = replay(p)
    assert rep.status == "inconclusive" and "theta lies outside the box" in rep.message  # not evaluated
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning (overflow) on stderr either
        rc, out, err = _cli(["replay", p], capsys)
    assert rc == 1 and not err


# ---------------------------------------------------------------------------
# malformed files: a ValueError naming the field (CLI: exit 2, one line)
# ---------------------------------------------------------------------------
MALFORMED = [
    ({"theta": _DELETE}, "witness field 'theta' is missing"),
    ({"R": "abc"}, "witness field 'R' must be a finite number >= 0; got 'abc'"),
    ({"R": float("nan")}, "witness field 'R'"),
    ({"theta": [0.1, 0.2]}, "witness field 'theta' has 2 entries; widths [3, 1] need 4"),
    ({"theta": [[0.1]]}, "witness field 'theta' must be a finite non-empty 1-d array"),
    ({"x": [[1.0, 2.0]]}, "witness field 'x' has shape (1, 2)"),
    ({"widths": [3, "1"]}, "witness field 'widths'"),
    ({"activation__expr": "__import__('os').system('touch {s}')"}, "witness field 'activation.expr'"),
    ({"activation__expr": "t.__class__"}, "'__class__'"),
    ({"bound_spec__result": "__import__('os').system('touch {s}')"}, "witness field 'bound_spec.result'"),
    ({"bound_spec__steps": [["__x", "1"]]}, "witness field 'bound_spec.steps[0]'"),
    ({"bound_spec__depth": 10**9}, "witness field 'bound_spec.depth'"),
    ({"bound_spec__kind": "code"}, "witness field 'bound_spec' has an unknown kind 'code'"),
    ({"value_mp": "1+1"}, "witness field 'value_mp' must be a decimal number"),
    ({"dps": "x"}, "witness field 'dps'"),
    ({"region__kind": "sphere"}, "unknown kind 'sphere'"),
    ({"format": "symlip-witness/1"}, "old format 'symlip-witness/1'"),
    ({"kind": "bogus"}, "witness field 'kind' 'bogus' is unknown"),
]


@pytest.mark.parametrize("changes, needle", MALFORMED)
def test_malformed_witness_is_a_value_error_naming_the_field(genuine, tmp_path, changes, needle, capsys):
    _, data = genuine
    sentinel = tmp_path / "pwned"
    changes = {k: (v.format(s=sentinel) if isinstance(v, str) else v) for k, v in changes.items()}
    p = _write(tmp_path, _edit(data, **changes))
    with pytest.raises(ValueError) as err:
        replay(p)
    assert needle in str(err.value), str(err.value)
    rc, out, err_text = _cli(["replay", p], capsys)
    assert rc == 2 and err_text.startswith("symlip: error:") and err_text.count("\n") == 1
    assert not sentinel.exists()


@pytest.mark.parametrize("content, needle", [
    ('{"kind": "sgd-moment"}', "witness field 'claim' is missing"),
    ('{"kind": "input-lipschitz"}', "format"),
    ('[1, 2]', "not a symlip witness"),
    ('[' * 100000, "not a JSON witness file"),
    ('{"format": "symlip-witness/2"}', "witness field 'claim' is missing"),
])
def test_skeleton_files_are_clear_errors(tmp_path, content, needle, capsys):
    p = tmp_path / "w.json"
    p.write_text(content)
    with pytest.raises(ValueError, match=needle):
        replay(p)
    rc, out, err = _cli(["replay", p], capsys)
    assert rc == 2 and err.startswith("symlip: error:") and err.count("\n") == 1 and needle.split("'")[0] in err


# ---------------------------------------------------------------------------
# audit and SGD-moment witnesses go through the same integrity check
# ---------------------------------------------------------------------------
def test_tampered_audit_witness(tmp_path):
    net = MLP([1, 2, 1], "relu")
    th = net.flatten([(np.array([[1.0], [1.0]]), np.array([0.0, -1.0])), (np.array([[1.0, -1.0]]), np.array([0.0]))])
    v = audit_constant(net, th, 0.5, R=2.0, budget=0.3, max_evals=500)
    assert v.status == "violated"
    d = v.witness.to_dict()
    assert replay(_write(tmp_path, d)).status == "violated"
    renamed = _edit(d, activation__expr="Piecewise((0, t < 0), (2*t, True))")   # 2 relu, still named relu
    rep = replay(_write(tmp_path, renamed))
    assert rep.status == "tampered" and "activation: the name 'relu'" in rep.message
    rep = replay(_write(tmp_path, _edit(d, value_mp="3.0")))
    assert rep.status == "tampered" and "value_mp: the file states 3.0" in rep.message
    with pytest.raises(ValueError, match="witness field 'x2'"):
        replay(_write(tmp_path, _edit(d, x2=_DELETE)))


MOMENT_CATALOGUE = '''
import numpy as np
from symlip import MLP
from symlip.training.moment_claims import MomentCase, MomentClaim

_net = MLP((2, 3, 1), "tanh")
_rng = np.random.default_rng(0)
_X = _rng.normal(size=(32, 2))
CASES = [MomentCase(MomentClaim("half-var", "var", predict=lambda m: 0.5 * np.asarray(m.var), rel_tol=0.05,
                                expect="fails", why="half the variance"),
                    _net, _net.init(seed=0), _X, np.tanh(_X[:, 0]), batch_size=4, eta=0.05, n_steps=2000)]
'''


def test_tampered_moment_witness(tmp_path):
    cat = tmp_path / "moments.py"
    cat.write_text(MOMENT_CATALOGUE)
    [lc] = load_cases([cat])
    v = check_case(lc, budget=1.0, seed=0)
    assert v.status == "violated", v.message
    d = v.witness.data
    p = _write(tmp_path, d)
    rep = replay(p)
    assert rep.status == "violated" and "not compared with its source" in rep.message
    assert replay(p, trust=True).status == "violated"
    same_seed = _edit(d, seeds=[d["seeds"][0]] * 2)
    same_seed["runs"][1]["seed"] = d["seeds"][0]
    rep = replay_moment(same_seed)
    assert rep.status == "tampered" and "seeds: the confirmation run's seed must be" in rep.message
    observed = copy.deepcopy(d)
    observed["runs"][0]["observed"] = [2 * x for x in observed["runs"][0]["observed"]]
    rep = replay(_write(tmp_path, observed, "obs.json"))
    assert rep.status == "tampered" and "runs[0].observed" in rep.message
    lowered = _write(tmp_path, _edit(d, prediction=[0.1 * x for x in d["prediction"]]), "low.json")
    rep = replay(lowered, trust=True)
    assert rep.status == "tampered" and "prediction: the file states" in rep.message, rep.message
    with pytest.raises(ValueError, match="witness field 'n_steps'"):
        replay_moment(_edit(d, n_steps=10**12))
    with pytest.raises(ValueError, match="witness field 'batch_size'"):
        replay_moment(_edit(d, batch_size=10**6))
