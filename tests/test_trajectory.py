"""SGD trajectories with accumulated §7 predictions (symlip.training.trajectory) and ``symlip dynamics``."""
import json

import numpy as np
import pytest

from symlip.cli import main
from symlip.training.dynamics import sgd_moments, teacher_student
from symlip.models.network import MLP
from symlip.training.trajectory import LOG_K_TERMS, Trajectory, pearson, sgd_trajectory


@pytest.fixture(scope="module")
def task():
    net = MLP([3, 8, 8, 1], "tanh")
    X, y = teacher_student(48, 3, seed=4)
    return net, net.init(1), X, y


@pytest.fixture(scope="module")
def run(task):
    net, th, X, y = task
    return sgd_trajectory(net, th, X, y, batch_size=4, eta=0.05, steps=60, seed=7)


def test_reproducible_for_a_seed(task, run):
    net, th, X, y = task
    again = sgd_trajectory(net, th, X, y, batch_size=4, eta=0.05, steps=60, seed=7)
    for name in ("theta", "s", "s_pred", "s_sd", "log_K_pred", "drift_obs", "remainder"):
        np.testing.assert_array_equal(getattr(run, name), getattr(again, name))
    other = sgd_trajectory(net, th, X, y, batch_size=4, eta=0.05, steps=60, seed=8)
    assert not np.allclose(other.theta[-1], run.theta[-1])
    np.testing.assert_array_equal(other.theta[0], th)  # the start is not modified


def test_accumulated_prediction_is_s0_plus_cumsum_of_the_step_means(run):
    assert isinstance(run, Trajectory) and run.steps == 60
    np.testing.assert_array_equal(run.t, np.arange(61))
    np.testing.assert_allclose(run.mean[:-1], run.drift_pred, rtol=0, atol=0)
    np.testing.assert_allclose(run.s_pred[1:], run.s[0] + np.cumsum(run.mean[:-1], axis=0), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(run.s_sd[1:] ** 2, np.cumsum(run.var[:-1], axis=0), rtol=1e-12, atol=1e-30)
    np.testing.assert_allclose(run.log_K_pred[1:], run.log_K[0] + np.cumsum(run.log_K_mean[:-1]), rtol=1e-13)
    np.testing.assert_array_equal(run.s_pred[0], run.s[0])
    # the predicted terms add up
    np.testing.assert_allclose(run.flow + run.mean_curvature + run.noise_curvature, run.mean, rtol=1e-13, atol=1e-18)
    np.testing.assert_allclose(sum(run.log_K_terms[k] for k in LOG_K_TERMS), run.log_K_drift_pred, rtol=1e-10,
                               atol=1e-16)


def test_recorded_moments_are_those_at_the_recorded_iterate(task, run):
    net, _, X, y = task
    for j in (0, 17, 60):
        mo = sgd_moments(net, run.theta[j], X, y, batch_size=4, eta=0.05)
        np.testing.assert_allclose(mo.mean, run.mean[j], rtol=1e-12, atol=1e-18)
        np.testing.assert_allclose(mo.var, run.var[j], rtol=1e-12, atol=1e-20)
        assert mo.log_K_var == pytest.approx(run.log_K_var[j], rel=1e-12)


def test_record_every_still_accumulates_every_step(task, run):
    net, th, X, y = task
    sparse = sgd_trajectory(net, th, X, y, batch_size=4, eta=0.05, steps=60, seed=7, record_every=7)
    assert sparse.t.tolist() == [0, 7, 14, 21, 28, 35, 42, 49, 56, 60]
    np.testing.assert_allclose(sparse.theta, run.theta[sparse.t], rtol=0, atol=0)
    np.testing.assert_allclose(sparse.s_pred, run.s_pred[sparse.t], rtol=1e-13)
    np.testing.assert_allclose(sparse.log_K_sd, run.log_K_sd[sparse.t], rtol=1e-13)
    np.testing.assert_array_equal(sparse.drift_pred, run.drift_pred)   # every step is kept


def test_observed_s_is_the_svd_of_the_recorded_parameters(task, run):
    net = task[0]
    for j in range(0, 61, 10):
        layers = net.unflatten(run.theta[j])
        s = np.array([np.linalg.svd(W, compute_uv=False)[0] for W, _ in layers])
        np.testing.assert_allclose(run.s[j], s, rtol=1e-13)
        assert run.log_K[j] == pytest.approx(np.sum(np.log(s)), rel=1e-13)   # tanh: S1 = 1
        assert run.K[j] == pytest.approx(np.prod(s), rel=1e-12)
    np.testing.assert_allclose(run.drift_obs, np.diff(run.s, axis=0), rtol=0, atol=1e-15)
    np.testing.assert_allclose(run.log_K_drift_obs, np.diff(run.log_K), rtol=0, atol=1e-14)


def test_full_batch_without_replacement_is_gradient_descent(task):
    """B = N without replacement: no noise, the step is exactly -η∇L, the band has width 0
    and observed - predicted is the Taylor remainder alone."""
    net, th, X, y = task
    tr = sgd_trajectory(net, th, X, y, batch_size=X.shape[0], eta=0.05, steps=5, replacement=False, seed=0)
    grad = net.loss_grad(th, X, y)
    np.testing.assert_allclose(tr.theta[1], th - 0.05 * grad, rtol=1e-12, atol=1e-15)
    assert np.all(tr.var == 0) and np.all(tr.noise_curvature == 0) and np.all(tr.s_sd == 0)
    # both sides telescope the same steps in a different order: they agree to the rounding of t sums
    # of numbers of size |s| (a fixed 1e-15 was below that for |s| ~ 3 and t = 5 on another BLAS)
    rounding = 8 * tr.s.shape[0] * np.finfo(float).eps * np.abs(tr.s).max()
    np.testing.assert_allclose(tr.s - tr.s_pred, tr.accumulated_remainder()[:, :-1], rtol=1e-9, atol=rounding)
    # the remainder is third order: tiny against the step itself
    assert np.max(np.abs(tr.remainder)) < 1e-3 * np.max(np.abs(tr.drift_obs))


def test_small_eta_path_stays_in_the_band(task):
    net, th, X, y = task
    tr = sgd_trajectory(net, th, X, y, batch_size=4, eta=0.01, steps=300, seed=3, record_every=3)
    assert np.all(tr.coverage(2.0) >= 0.8)
    z = tr.window_z(30)
    assert z.shape == (10, 4)
    assert np.mean(np.abs(z) < 2.5) >= 0.85
    # second order leaves out only a tiny remainder at this η (in units of the band)
    rem = np.abs(tr.accumulated_remainder()[-1]) / np.append(tr.s_sd[-1], tr.log_K_sd[-1])
    assert np.all(rem < 0.05)
    g = tr.growth()
    assert g["predicted"] == pytest.approx(tr.log_K_pred[-1] - tr.log_K[0])
    assert sum(g["terms"].values()) == pytest.approx(g["predicted"], rel=1e-9)
    assert np.all(tr.ito >= 0)                       # the spectral norm is convex
    json.dumps(tr.to_dict(max_points=20))            # JSON-able


def test_low_rank_estimator_and_logistic_loss(task):
    net, th, X, _ = task
    Xc, yc = teacher_student(48, 3, task="classification", label_noise=0.2, seed=1)
    a = sgd_trajectory(net, th, Xc, yc, batch_size=8, eta=0.1, steps=15, loss="logistic", estimator="low_rank",
                       n_estimate=12, seed=5)
    b = sgd_trajectory(net, th, Xc, yc, batch_size=8, eta=0.1, steps=15, loss="logistic", estimator="low_rank",
                       n_estimate=12, seed=5)
    np.testing.assert_array_equal(a.s_sd, b.s_sd)
    assert a.setup["n_estimate"] == 12 and a.setup["loss"] == "logistic"
    assert np.all(np.isfinite(a.cross_fraction))


def test_pearson():
    assert pearson([1, 2, 3, 4], [2, 4, 6, 8.5]) == pytest.approx(1.0, abs=1e-2)
    assert np.isnan(pearson([1, 1, 1], [1, 2, 3]))
    with pytest.raises(ValueError, match="equal lengths"):
        pearson([1, 2, 3], [1, 2])


@pytest.mark.parametrize("kw, exc, match", [
    (dict(steps=0), ValueError, r"steps must be an integer in \[1, 10000000\]; got 0"),
    (dict(steps=2.5), ValueError, "steps must be an integer"),
    (dict(eta=-0.1), ValueError, "eta must be a finite number > 0; got -0.1"),
    (dict(eta=float("nan")), ValueError, "eta must be"),
    (dict(batch_size=0), ValueError, "batch_size must be an integer"),
    (dict(batch_size=49, replacement=False), ValueError, r"batch_size must be an integer in \[1, 48\]; got 49"),
    (dict(record_every=11), ValueError, r"record_every must be an integer in \[1, 10\]; got 11"),
    (dict(seed=-1), ValueError, "seed must be an integer >= 0; got -1"),
    (dict(replacement="yes"), TypeError, "replacement must be True or False; got 'yes'"),
    (dict(estimator="fast"), ValueError, "estimator must be one of .*got 'fast'"),
    (dict(n_estimate=5), ValueError, "n_estimate is only used with estimator='low_rank'"),
    (dict(estimator="low_rank", n_estimate=1), ValueError, "n_estimate must be an integer >= 2; got 1"),
    (dict(loss="hinge"), ValueError, "loss must be one of .*got 'hinge'"),
    (dict(loss="logistic"), ValueError, "the logistic loss needs labels -1 or \\+1"),
])
def test_bad_inputs_raise_clear_errors(task, kw, exc, match):
    net, th, X, y = task
    args = dict(batch_size=4, eta=0.05, steps=10)
    args.update(kw)
    with pytest.raises(exc, match=match):
        sgd_trajectory(net, th, X, y, **args)


def test_bad_net_data_and_divergence(task):
    net, th, X, y = task
    with pytest.raises(TypeError, match="net must be a symlip MLP"):
        sgd_trajectory("net", th, X, y, batch_size=4, eta=0.05, steps=3)
    with pytest.raises(ValueError, match=r"X must have shape \(N, 3\)"):
        sgd_trajectory(net, th, X[:, :2], y, batch_size=4, eta=0.05, steps=3)
    with pytest.raises(ValueError, match="theta|θ|parameters"):
        sgd_trajectory(net, th[:-1], X, y, batch_size=4, eta=0.05, steps=3)
    with pytest.raises(ValueError, match="step|diverged|finite"):
        sgd_trajectory(MLP([3, 1], "tanh"), np.zeros(4) + 1.0, X, y, batch_size=4, eta=1e3, steps=300)
    with pytest.raises(ValueError, match="window must be an integer"):
        sgd_trajectory(net, th, X, y, batch_size=4, eta=0.05, steps=5).window_z(6)


def test_cli_dynamics_quick_writes_the_report(tmp_path, capsys):
    out = tmp_path / "rep"
    assert main(["dynamics", "--quick", "--report", str(out)]) == 0
    for name in ("dynamics.md", "dynamics.json", "dynamics_trajectories.png", "dynamics_eta.png",
                 "dynamics_factors.png", "dynamics_agreement.png", "README.md"):
        assert (out / name).is_file(), name
    md = (out / "dynamics.md").read_text(encoding="utf-8")
    assert "Reproduce: `symlip dynamics --seed 0 --quick`" in md
    for png in ("dynamics_trajectories.png", "dynamics_eta.png", "dynamics_factors.png"):
        assert f"({png})" in md
    data = json.loads((out / "dynamics.json").read_text(encoding="utf-8"))
    assert data["quick"] is True and data["target_met"] is True
    assert all(r["rel_err"] <= 0.05 for r in data["one_step"]["smallest"])
    # the target is on the second-order part, which gradient flow alone misses entirely
    assert all(r["curv_rel"] <= 0.05 for r in data["one_step"]["smallest"])
    # ... and the second-order prediction of the whole mean beats gradient flow alone
    assert all(r["rel_err"] < r["flow_rel"] for r in data["one_step"]["smallest"])
    assert set(data["findings"]) == {"batch size", "label noise", "initial scale", "near convergence"}
    assert "dynamics.md" in (out / "README.md").read_text(encoding="utf-8")
    printed = capsys.readouterr().out
    assert "wrote" in printed and "one step at η" in printed


@pytest.mark.parametrize("argv", [["dynamics", "--seed", "x"], ["dynamics", "--seed", "-2"],
                                  ["dynamics", "--bogus"]])
def test_cli_dynamics_bad_arguments_exit_2_with_one_line(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("symlip")


def test_cli_dynamics_report_must_be_a_folder(tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("x")
    assert main(["dynamics", "--quick", "--report", str(f)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is a file" in err


def test_report_rejects_a_bad_seed(tmp_path):
    from symlip.report.dynamics import run_dynamics_report

    with pytest.raises(ValueError, match="seed must be an integer >= 0; got -1"):
        run_dynamics_report(tmp_path, seed=-1, quick=True)


def test_a_repeated_top_singular_value_names_the_step(task):
    from symlip.training.spectral import DegenerateSpectrumError

    net, th, X, y = task
    layers = [(W.copy(), b.copy()) for W, b in net.unflatten(th)]
    layers[0] = (np.vstack([np.eye(3), np.zeros((5, 3))]), layers[0][1])   # s_1 = s_2 = s_3 = 1
    with pytest.raises(DegenerateSpectrumError, match="at SGD step 0"):
        sgd_trajectory(net, net.flatten(layers), X, y, batch_size=4, eta=0.05, steps=3)
