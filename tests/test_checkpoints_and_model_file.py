"""What the job saves reads back exactly: the model file and the training state."""

import itertools
import json

import numpy as np
import pytest
from test_nn_math import random_problem

import nn_math
from nn_math import Network
from rddnet import option_table
from rddnet.inputs.scaling import Scaling
from rddnet.outputs import checkpoints, model_file
from rddnet.run_settings import Settings
from rddnet.training.state import TrainingState


@pytest.mark.parametrize("activation,loss", list(itertools.product(["tanh", "relu"], ["sse", "cross-entropy"])))
def test_saved_model_reloads_with_identical_predictions(activation, loss):
    net = Network([5, 4, 3, 3], activation, loss)
    theta, X, _ = random_problem(net.sizes, n=40)
    theta = theta * np.pi  # values with long decimal expansions
    scale = Scaling("standardize", np.arange(5.0), np.full(5, 2.5))
    lines = model_file.model_to_lines(net, theta, scale)
    net2, theta2, scale2, _ = model_file.model_from_lines(lines[::-1])
    assert net2 == net and scale2.kind == "standardize"
    assert scale2.shift.tolist() == scale.shift.tolist() and scale2.divisor.tolist() == scale.divisor.tolist()
    np.testing.assert_array_equal(theta2, theta)
    np.testing.assert_array_equal(nn_math.predict(theta2, net2, X), nn_math.predict(theta, net, X))
    with pytest.raises(ValueError, match=r"^model: not a valid model file: some weights are missing \(layer 2: row 2"):
        model_file.model_from_lines(lines[:-1])
    with pytest.raises(ValueError, match=r"^m/part-00000: line 1: not a valid model file: not JSON \(.*column 2\)$"):
        model_file.model_from_lines(["{not json"], "m/part-00000")


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity"])
def test_a_model_with_a_weight_that_is_not_finite_is_named_by_its_line(value):
    net = Network([3, 4, 2], "tanh", "sse")
    theta = np.linspace(-1, 1, nn_math.parameter_count(net.sizes))
    lines = model_file.model_to_lines(net, theta, Scaling("none", 0.0, 1.0))
    row = json.loads(lines[3])
    lines[3] = json.dumps(row).replace(repr(row["W"][1]), value)
    with pytest.raises(ValueError, match=rf"^model: line 4: not a valid model file: {value} is not a finite weight$"):
        model_file.model_from_lines(lines)
    lines[3] = json.dumps(row).replace(repr(row["W"][1]), "1e999")  # JSON's number, too large for a float
    with pytest.raises(ValueError, match=r"^model: not a valid model file: a weight is not finite$"):
        model_file.model_from_lines(lines)


def test_training_state_reads_back_bit_for_bit():
    theta = np.random.default_rng(1).normal(size=30) * np.pi
    settings = Settings.from_values(option_table.with_defaults({"optimizer": "adam", "lr": 0.1}))
    state = TrainingState.start(theta, settings)
    state.moments["m"] += theta / 7
    state.epoch, state.lr, state.previous_cost = 3, 0.1 * 1.05 ** 2, 1 / 3
    state.history["cost"].append(1 / 3)
    state.history["test_accuracy"].append((3, 0.5))
    net = Network([3, 5, 3], "relu", "cross-entropy")
    text = checkpoints.checkpoint_text(state, net, Scaling("pixels", 0.0, 255.0), {"seed": 7})
    net2, state2, scale, settings, _ = checkpoints.checkpoint_from_text(text, "checkpoint")
    assert scale == Scaling("pixels", 0.0, 255.0)
    assert (net2, settings, state2.epoch, state2.lr, state2.previous_cost) == (net, {"seed": 7}, 3, state.lr, 1 / 3)
    assert state2.history == state.history and state2.moments["t"] == 0
    for a, b in [(state.theta, state2.theta), (state.moments["m"], state2.moments["m"])]:
        assert a.tobytes() == b.tobytes()
