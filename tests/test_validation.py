"""Held-out data: the validation rows, their figures every epoch, early stopping and the weights
it keeps, checked against single-process NumPy computations of the same rows and weights."""

import json
import re

import numpy as np
import pytest

import main_task
import nn_math
from conftest import load_csv, read_output
from rddnet import sampling
from rddnet.outputs import model_file

pytestmark = pytest.mark.spark
OPTIONS = ("--hidden", "16", "--optimizer", "adam", "--lr", "0.01", "--seed", "7")
quiet = lambda line: None  # noqa: E731


def run(sc, files, out, *options, log=quiet):
    main_task.run(sc, main_task.parse_args([*files, str(out), *OPTIONS, *options]), log=log)
    return json.loads(read_output(out, "summary")[0])


def validation_history(out):
    return [(int(e), float(c), float(a)) for e, c, a in (line.split(",") for line in
                                                         read_output(out, "validation_history"))]


def numpy_validation(sc, out, X, labels):
    """(mean error, accuracy) of the saved model on rows X (raw features), computed here."""
    net, theta, scale, _ = model_file.read_model(sc, str(out / "model"), log=quiet)
    P = nn_math.forward(theta, net, scale.apply(X))[2]
    Y = nn_math.one_hot(labels, net.sizes[-1], np.float64)
    return nn_math.LOSSES[net.loss].error(P, Y) / len(X), nn_math.count_correct(P, Y) / len(X)


def test_holdout_rows_depend_on_the_seed_and_row_alone():
    rows = np.arange(100_000)
    held = sampling.holdout_mask(3, rows, 0.2)
    assert abs(held.mean() - 0.2) < 0.005  # 0.2 +- 4 standard deviations of a binomial share
    # The same rows however the rows are cut into blocks, and not those of another seed.
    pieces = [sampling.holdout_mask(3, part, 0.2) for part in np.array_split(rows, 7)]
    assert np.array_equal(np.concatenate(pieces), held)
    assert 0.15 < (held & sampling.holdout_mask(4, rows, 0.2)).mean() / 0.2 < 0.25  # independent: about 0.2 x 0.2
    assert not sampling.holdout_mask(3, rows, 0.0).any()


@pytest.mark.parametrize("kind", [(), ("--local-steps", "4")], ids=["data-parallel", "averaging"])
def test_held_out_rows_are_validated_every_epoch_and_never_trained_on(sc, small_compact, tmp_path, kind):
    X, labels = load_csv(*small_compact[:2])
    X = X * 255.0  # the raw pixels
    said = []
    summary = run(sc, small_compact, tmp_path / "out", "--validation-fraction", "0.2", "--epochs", "3",
                  "--scale", "standardize", *kind, log=said.append)
    held = sampling.holdout_mask(7, np.arange(len(X)), 0.2)
    assert summary["validation_rows"] == held.sum()
    # Every epoch's sample is drawn from the other rows only.
    samples = [int((sampling.sample_mask(7, epoch, np.arange(len(X)), 0.7) & ~held).sum()) for epoch in (1, 2, 3)]
    assert [int(re.search(r"  sample (\d+)", line).group(1)) for line in said if line.startswith("epoch")] == samples
    # The scaling statistics are the training rows' alone.
    _, _, scale, _ = model_file.read_model(sc, str(tmp_path / "out" / "model"), log=quiet)
    np.testing.assert_allclose(scale.shift, X[~held].mean(axis=0), rtol=1e-12, atol=1e-9)
    # One validation per epoch, of the weights it started from, then one of the last weights:
    # that last one is the saved model's, recomputed here.
    history = validation_history(tmp_path / "out")
    assert [epoch for epoch, _, _ in history] == [0, 1, 2, 3]
    cost, accuracy = numpy_validation(sc, tmp_path / "out", X[held], labels[held])
    assert history[-1][1] == pytest.approx(cost, rel=1e-5)  # float32 passes
    assert history[-1][2] == pytest.approx(accuracy, abs=1.5 / held.sum())
    # The plots draw the validation curves beside the training ones.
    import matplotlib
    matplotlib.use("Agg")
    import generate_plots
    drawn, real = {}, generate_plots.plot_curve

    def plot_curve(values, ylabel, path, marks=(), **options):  # draws, and notes what it drew
        drawn[ylabel] = marks
        return real(values, ylabel, path, marks, **options)
    generate_plots.plot_curve = plot_curve
    try:
        generate_plots.plot_run(str(tmp_path / "out"))
    finally:
        generate_plots.plot_curve = real
    assert [label for label, _ in drawn["cost"]] == ["validation rows (weights after the epoch)"]
    assert drawn["accuracy"][0][1] == [(e, a) for e, _, a in history]


def test_early_stopping_keeps_the_weights_of_the_lowest_validation_cost(sc, small_compact, tmp_path):
    X, labels = load_csv(*small_compact[:2])
    held = sampling.holdout_mask(7, np.arange(len(X)), 0.25)
    said = []
    summary = run(sc, small_compact, tmp_path / "out", "--validation-fraction", "0.25", "--epochs", "40",
                  "--early-stopping", "2", "--lr", "0.05", log=said.append)
    history = validation_history(tmp_path / "out")
    costs = [cost for _, cost, _ in history]
    best = int(np.argmin(costs))
    assert summary["best_epoch"] == history[best][0] and summary["kept_epoch"] == summary["best_epoch"]
    # It stopped two validations after the best, so before the 40 epochs; the last weights were measured too
    # (and were kept if they beat the best).
    last = summary["last_epoch"]
    assert summary["best_epoch"] in (last - 3, last) and last < 40
    assert [epoch for epoch, _, _ in history] == list(range(last + 1))
    assert len(read_output(tmp_path / "out", "cost_history")) == last
    assert any(line.startswith("early stopping: 2 validations without a lower cost") for line in said)
    # The saved model is the best epoch's weights: its validation cost, recomputed here, is the best one.
    cost, _ = numpy_validation(sc, tmp_path / "out", X[held] * 255.0, labels[held])
    assert cost == pytest.approx(costs[best], rel=1e-5)


def test_a_min_delta_no_cost_can_beat_keeps_the_first_weights(sc, small_compact, tmp_path):
    summary = run(sc, small_compact, tmp_path / "out", "--validation-fraction", "0.2", "--epochs", "10",
                  "--early-stopping", "2", "--min-delta", "100")
    assert (summary["best_epoch"], summary["last_epoch"]) == (0, 3)  # epochs 2 and 3 measured weights 1 and 2
    net, theta, _, _ = model_file.read_model(sc, str(tmp_path / "out" / "model"), log=quiet)
    initial = nn_math.init_parameters(net.sizes, np.random.default_rng(7), "uniform")
    np.testing.assert_array_equal(theta, initial)


def test_a_validation_set_of_its_own_is_measured_on_all_its_rows(sc, small_compact, tmp_path):
    X, labels = load_csv(*small_compact[2:])
    summary = run(sc, small_compact, tmp_path / "out", "--validation", small_compact[2], "--validation-labels",
                  small_compact[3], "--epochs", "2")
    assert summary["validation_rows"] == len(X)
    history = validation_history(tmp_path / "out")
    assert [epoch for epoch, _, _ in history] == [0, 1, 2]
    cost, accuracy = numpy_validation(sc, tmp_path / "out", X * 255.0, labels)
    assert history[-1][1] == pytest.approx(cost, rel=1e-5)
    assert history[-1][2] == pytest.approx(summary["test_accuracy"], abs=1.5 / len(X))  # the same rows


@pytest.mark.other_run
def test_a_stopped_run_resumed_from_its_checkpoint_writes_the_same_outputs(sc, small_compact, tmp_path):
    options = ("--validation-fraction", "0.25", "--early-stopping", "2", "--lr", "0.05", "--epochs", "40")
    run(sc, small_compact, tmp_path / "whole", *options)
    last = json.loads(read_output(tmp_path / "whole", "summary")[0])["last_epoch"]
    # The same run, cut short two epochs before it stopped (as a kill would), then resumed.
    run(sc, small_compact, tmp_path / "parts", *options[:-1], str(last - 2), "--checkpoint-every", "1")
    run(sc, small_compact, tmp_path / "parts", *options, "--resume")
    for output in ("cost_history", "validation_history", "model", "metrics", "confusion_matrix"):
        assert read_output(tmp_path / "parts", output) == read_output(tmp_path / "whole", output), output


@pytest.mark.parametrize("options, message", [
    (("--early-stopping", "3"), "--early-stopping watches the validation cost: give --validation-fraction F or "
                                "--validation PATH"),
    (("--validation-fraction", "0.1", "--validation", "x.csv"), "--validation-fraction and --validation both give"),
    (("--validation-labels", "y.csv"), "--validation-labels labels the rows of --validation, which is not given"),
])
def test_validation_options_that_cannot_go_together_are_one_line(capsys, options, message):
    with pytest.raises(SystemExit) as stop:
        main_task.parse_args(["a", "b", "c", "d", "out", *options])
    assert stop.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("share, message", [("0.9999", "holds out all 3000 rows: none are left to train on"),
                                            ("1e-07", "holds out none of its 3000 rows: give a larger share")])
def test_a_share_that_leaves_no_training_or_no_validation_rows_is_one_line(sc, small_compact, tmp_path, share,
                                                                            message):
    from rddnet.errors import DataError
    with pytest.raises(DataError, match=re.escape(f"{small_compact[0]}: --validation-fraction {share} {message}")):
        run(sc, small_compact, tmp_path / "out", "--validation-fraction", share, "--epochs", "1")
    assert not (tmp_path / "out").exists()
