"""`symlip replay` never runs code unless trusted, and notices a witness file that
disagrees with itself or with its source (status "tampered", never "violated")."""
import copy
import json
from pathlib import Path

import numpy as np
import pytest

import symlip
from symlip import MLP
from symlip.search.audit import audit_constant
from symlip.search.catalogue import load_cases
from symlip.verify import check_case
from symlip.cli import main
from symlip.training.moment_claims import MomentWitness, replay_moment
from symlip.search.witness import Witness
from symlip.search.witness_format import HEADER_FIELDS
from symlip.verify import WITNESS_KINDS, read_witness, replay, write_witness

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


# ---------------------------------------------------------------------------
# one format: symlip-witness/3 with a kind; one reader, one writer, one replay
# ---------------------------------------------------------------------------
LEGACY = Path(__file__).parent / "data" / "witness_legacy"


@pytest.fixture(scope="module")
def each_kind(genuine, tmp_path_factory):
    """A genuine violation of each kind of witness, as an object."""
    folder = tmp_path_factory.mktemp("kinds")
    net = MLP([1, 2, 1], "relu")
    th = net.flatten([(np.array([[1.0], [1.0]]), np.array([0.0, -1.0])), (np.array([[1.0, -1.0]]), np.array([0.0]))])
    audit = audit_constant(net, th, 0.5, R=2.0, budget=0.3, max_evals=500)
    cat = folder / "moments.py"
    cat.write_text(MOMENT_CATALOGUE)
    [lc] = load_cases([cat])
    moment = check_case(lc, budget=1.0, seed=0)
    assert audit.status == "violated" and moment.status == "violated"
    return {"lipschitz": Witness.from_dict(genuine[1]), "input-lipschitz": audit.witness,
            "sgd-moment": moment.witness}


def test_kind_table_names_each_class():
    assert sorted(WITNESS_KINDS) == ["certificate", "input-lipschitz", "lipschitz", "sgd-moment"]
    for kind, row in WITNESS_KINDS.items():
        assert row.cls.kind == kind and callable(row.replay)


@pytest.mark.parametrize("kind", ["lipschitz", "input-lipschitz", "sgd-moment"])
def test_v3_file_of_each_kind_round_trips(each_kind, kind, tmp_path):
    w = each_kind[kind]
    p = w.save(tmp_path / "w.json")
    data = json.loads(p.read_text())
    assert list(data)[:len(HEADER_FIELDS)] == list(HEADER_FIELDS)
    assert data["format"] == "symlip-witness/3" and data["kind"] == kind
    assert data["symlip_version"] == symlip.__version__ and data["created_by"].startswith("symlip.")
    assert isinstance(data["claim"], str) and isinstance(data["seed"], int)
    back = read_witness(p)
    assert type(back) is type(w) and back.to_dict() == w.to_dict() == data
    assert type(w).load(p).to_dict() == data
    assert write_witness(back, tmp_path / "again.json").read_text() == p.read_text()
    assert replay(p).status == replay(w).status == replay(back).status == "violated"


@pytest.mark.parametrize("kind, changes, needle", [
    ("lipschitz", {"kind": "bogus"},
     "witness field 'kind' 'bogus' is unknown; allowed: 'lipschitz', 'input-lipschitz', 'sgd-moment', "
     "'certificate'"),
    ("sgd-moment", {"kind": "proof"}, "witness field 'kind' 'proof' is unknown; allowed:"),
    ("lipschitz", {"kind": _DELETE}, "witness field 'kind' is missing; a symlip-witness/3 file states one of "
                                     "'lipschitz', 'input-lipschitz', 'sgd-moment', 'certificate'"),
    ("input-lipschitz", {"kind": None}, "witness field 'kind' is missing"),
    ("lipschitz", {"format": "symlip-witness/9"}, "witness field 'format' 'symlip-witness/9' is unknown; allowed: "
                                                  "'symlip-witness/3' (or the older 'symlip-witness/2', "
                                                  "'symlip-audit-witness/2')"),
    ("input-lipschitz", {"format": _DELETE}, "witness field 'format' is missing; allowed: 'symlip-witness/3'"),
    ("sgd-moment", {"format": ["symlip-witness/3"]}, "witness field 'format' ['symlip-witness/3'] is unknown"),
    ("input-lipschitz", {"format": "symlip-witness/2"},
     "witness field 'kind' is 'input-lipschitz', but format 'symlip-witness/2' holds kind 'lipschitz'"),
    ("lipschitz", {"format": "symlip-audit-witness/1"}, "old format 'symlip-audit-witness/1'"),
    ("sgd-moment", {"claim": _DELETE}, "witness field 'claim' is missing"),
    ("lipschitz", {"claim": 3}, "witness field 'claim' must be a string; got 3"),
    ("input-lipschitz", {"seed": "0"}, "witness field 'seed' must be an integer; got '0'"),
])
def test_bad_format_or_kind_is_one_line_naming_it(each_kind, kind, changes, needle, tmp_path, capsys):
    p = _write(tmp_path, _edit(each_kind[kind].to_dict(), **changes))
    for read in (read_witness, replay):
        with pytest.raises(ValueError) as err:
            read(p)
        assert needle in str(err.value) and "\n" not in str(err.value), str(err.value)
        if "'kind'" in needle or "'format'" in needle or "format '" in needle:
            assert str(p) in str(err.value)  # the file is named
    rc, out, err_text = _cli(["replay", p], capsys)
    assert rc == 2 and out == "" and err_text.startswith("symlip: error:") and err_text.count("\n") == 1


def test_a_class_reads_its_own_kind_only(each_kind, tmp_path):
    p = each_kind["input-lipschitz"].save(tmp_path / "audit.json")
    with pytest.raises(ValueError, match="witness field 'kind' is 'input-lipschitz'; Witness reads kind 'lipschitz'"):
        Witness.load(p)
    with pytest.raises(ValueError, match="this is a 'lipschitz' witness .*MomentWitness reads kind 'sgd-moment'"):
        MomentWitness.load(LEGACY / "lipschitz-v2.json")


@pytest.mark.parametrize("name, kind, fmt", [
    ("lipschitz-v2.json", "lipschitz", "symlip-witness/2"),
    ("audit-v2.json", "input-lipschitz", "symlip-audit-witness/2"),
    ("moment-v2.json", "sgd-moment", None),
])
def test_older_formats_still_read_and_replay(name, kind, fmt, tmp_path):
    """Files written before symlip-witness/3 (as committed under reports/) replay as before;
    read and saved again, they become /3 files that replay the same."""
    p = LEGACY / name
    data = json.loads(p.read_text())
    assert data.get("format") == fmt and "created_by" not in data
    w = read_witness(p)
    assert type(w) is WITNESS_KINDS[kind].cls
    rep = replay(p)
    assert rep.status == "violated", rep.message
    new = json.loads(w.save(tmp_path / "w.json").read_text())
    assert new["format"] == "symlip-witness/3" and new["kind"] == kind
    assert new["symlip_version"] is None and new["created_by"] is None  # not known for an old file
    again = replay(tmp_path / "w.json")
    assert (again.status, again.value_mp, again.bound_mp) == (rep.status, rep.value_mp, rep.bound_mp)


@pytest.mark.parametrize("kind, changes, needle", [
    ("lipschitz", {"value_mp": "1.90277563760718699260830412278"}, "value_mp: the file states 1.9027756376"),
    ("lipschitz", {"symlip_version": "9.9", "created_by": "someone"}, None),   # provenance only: not tampering
    ("input-lipschitz", {"value_mp": "3.0"}, "value_mp: the file states 3.0"),
    ("input-lipschitz", {"claim": "sdp: input-Lipschitz constant 0.25"}, "claim: the file states"),
    ("sgd-moment", {"seed": 7}, "seed: the file states 7, 'seeds' gives 0"),
    ("sgd-moment", {"prediction": "halved"}, "runs[0].ratios"),
])
def test_tampered_v3_file_of_each_kind_is_tampered(each_kind, kind, changes, needle, tmp_path):
    d = each_kind[kind].to_dict()
    if changes.get("prediction") == "halved":  # the recorded runs no longer follow from the prediction
        changes = {"prediction": [p / 2 for p in d["prediction"]]}
    p = _write(tmp_path, _edit(d, **changes))
    rep = replay(p)
    if needle is None:
        assert rep.status == "violated", rep.message
    else:
        assert rep.status == "tampered" and not rep.violated and needle in rep.message, rep.message


def test_json_float_writes_numpy_infinities_as_plain_text():
    import json

    import numpy as np

    from symlip.search.witness_format import json_float

    assert json_float(np.float64(np.inf)) == "inf" and json_float(-np.inf) == "-inf"
    assert json_float(np.float64(1.5)) == 1.5 and type(json_float(np.float64(1.5))) is float
    assert json.loads(json.dumps([json_float(np.float32(np.nan))])) == ["nan"]
