"""Class weights: each row's loss and gradient weighted by its class, the training cost per unit
of weight, against NumPy; and a rare class's recall raised by balanced weights."""

import json

import numpy as np
import pytest

import main_task
import nn_math
from conftest import load_csv, read_output
from rddnet import sampling

pytestmark = pytest.mark.spark
quiet = lambda line: None  # noqa: E731


def run(sc, files, out, *options):
    main_task.run(sc, main_task.parse_args([*files, str(out), *options]), log=quiet)
    return json.loads(read_output(out, "summary")[0])


def write_set(folder, X, labels):
    folder.mkdir()
    np.savetxt(folder / "images.csv", X, fmt="%d", delimiter=",")
    np.savetxt(folder / "labels.csv", labels, fmt="%d")
    return [str(folder / "images.csv"), str(folder / "labels.csv")]


def test_the_first_epoch_cost_is_the_weighted_mean_error_of_its_sample(sc, small_compact, tmp_path):
    X, labels = load_csv(*small_compact[:2])
    weights = np.array([1, 1, 1, 5, 1, 1, 1, 1, 0.5, 2.0])
    options = ("--hidden", "12", "--seed", "3", "--epochs", "1", "--dtype", "float64", "--class-weight",
               ",".join(map(str, weights)))
    summary = run(sc, small_compact, tmp_path / "out", *options)
    net = nn_math.Network([784, 12, 10], "tanh", "sse")
    theta = nn_math.init_parameters(net.sizes, np.random.default_rng(3), "uniform")
    keep = sampling.sample_mask(3, 1, np.arange(len(X)), 0.7)
    w = weights[labels[keep]]
    P = nn_math.forward(theta, net, X[keep])[2]
    expected = (w * 0.5 * ((P - np.eye(10)[labels[keep]]) ** 2).sum(axis=1)).sum() / w.sum()
    assert summary["final_cost"] == pytest.approx(expected, rel=1e-10)
    assert summary["class_weights"] == weights.tolist()


@pytest.mark.other_run
def test_balanced_weights_raise_the_recall_of_a_rare_class(sc, small_compact, tmp_path):
    X, labels = load_csv(*small_compact[:2])
    rare = np.flatnonzero(labels == 3)
    kept = np.setdiff1d(np.arange(len(labels)), rare[max(1, len(rare) // 50):])  # class 3 cut to 2% of its rows
    train = write_set(tmp_path / "train", np.round(X[kept] * 255), labels[kept])
    options = ("--hidden", "32", "--activation", "relu", "--loss", "cross-entropy", "--init", "he", "--optimizer",
               "adam", "--lr", "0.01", "--sample-fraction", "1", "--local-steps", "10", "--epochs", "3", "--seed", "5")
    plain = run(sc, [*train, *small_compact[2:]], tmp_path / "plain", *options)
    balanced = run(sc, [*train, *small_compact[2:]], tmp_path / "balanced", *options, "--class-weight", "balanced")
    recall = [summary["per_class"][3]["recall"] for summary in (plain, balanced)]
    # Measured: 0.000 plain, 0.486 balanced (5 training rows of class 3, 107 in the test set; model
    # averaging, 30 local steps in 3 epochs).
    shown = f"class 3's test recall: {recall[0]:.3f} plain, {recall[1]:.3f} balanced"
    assert recall[1] > 2 * recall[0] and recall[1] > recall[0] + 0.1, shown
    counts = np.bincount(labels[kept], minlength=10)
    np.testing.assert_allclose(balanced["class_weights"], len(kept) / (10 * counts))


def test_class_weights_of_another_count_are_one_line(sc, small_compact, tmp_path):
    from rddnet.errors import DataError
    with pytest.raises(DataError, match="^--class-weight gives 3 weights, the training labels have 10 classes$"):
        run(sc, small_compact, tmp_path / "out", "--class-weight", "1,2,3", "--epochs", "1")
    assert not (tmp_path / "out").exists()


def test_weights_all_zero_or_a_class_without_rows_are_said_as_such(sc, small_compact, tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:
        main_task.parse_args([*small_compact, str(tmp_path / "out"), "--class-weight", "0,0,0"])
    assert stopped.value.code == 2 and capsys.readouterr().err == (
        "main_task.py: error: argument --class-weight: every weight of '0,0,0' is 0: no class would be trained on; "
        "give at least one weight > 0 (see --help)\n")
    X, labels = load_csv(*small_compact[:2])
    kept = np.flatnonzero((labels != 3) & (labels != 7))  # two classes with no training rows, 9 the largest label
    train = write_set(tmp_path / "train", np.round(X[kept] * 255), labels[kept])
    said = []
    main_task.run(sc, main_task.parse_args([*train, *small_compact[2:], str(tmp_path / "out"), "--class-weight",
                                            "balanced", "--epochs", "1"]), log=said.append)
    assert "classes 3, 7 have no training rows: weight 0, and the network cannot learn them" in said
    counts = np.bincount(labels[kept], minlength=10)
    weights = json.loads(read_output(tmp_path / "out", "summary")[0])["class_weights"]
    np.testing.assert_allclose(weights, np.divide(len(kept), 10 * counts, out=np.zeros(10), where=counts > 0))
