"""What the job saves reads back exactly: the model file and the training state."""

import itertools

import numpy as np
import pytest
from test_nn_math import random_problem

import nn_math
import saved
from nn_math import Network


@pytest.mark.parametrize("activation,loss", list(itertools.product(["tanh", "relu"], ["sse", "cross-entropy"])))
def test_saved_model_reloads_with_identical_predictions(activation, loss):
    net = Network([5, 4, 3, 3], activation, loss)
    theta, X, _ = random_problem(net.sizes, n=40)
    theta = theta * np.pi  # values with long decimal expansions
    lines = saved.model_to_lines(net, theta)
    net2, theta2 = saved.model_from_lines(lines[::-1])
    assert net2 == net
    np.testing.assert_array_equal(theta2, theta)
    np.testing.assert_array_equal(nn_math.predict(theta2, net2, X), nn_math.predict(theta, net, X))
    with pytest.raises(ValueError, match="missing"):
        saved.model_from_lines(lines[:-1])
    with pytest.raises(ValueError, match="not a valid model"):
        saved.model_from_lines(["{not json"])
