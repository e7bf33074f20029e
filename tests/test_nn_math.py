"""The math of nn_math.py against independent oracles: finite differences, hand-worked values."""

import numpy as np
import pytest

import nn_math


def random_problem(sizes, n=7, seed=0):
    """theta, X (n, d0) and one-hot Y (n, k) for a small network."""
    rng = np.random.default_rng(seed)
    theta = nn_math.init_uniform(sizes, rng)
    X = rng.uniform(0, 1, size=(n, sizes[0]))
    Y = nn_math.one_hot(rng.integers(0, sizes[-1], size=n), sizes[-1], dtype=np.float64)
    return theta, X, Y


def error(theta, sizes, activations, X, Y):
    return nn_math.sse(nn_math.forward(theta, sizes, activations, X)[-1], Y)


@pytest.mark.parametrize("sizes", [[6, 5, 3], [6, 5, 4, 3], [4, 6, 5, 3, 2]])
@pytest.mark.parametrize("hidden", ["tanh", "sigmoid"])
def test_gradient_matches_finite_differences_for_every_parameter(sizes, hidden):
    activations = nn_math.layer_activations(len(sizes) - 1, hidden=hidden, output="sigmoid")
    theta, X, Y = random_problem(sizes)
    E, grad = nn_math.backprop(theta, sizes, activations, X, Y)
    assert E == pytest.approx(error(theta, sizes, activations, X, Y), rel=1e-12)
    eps = 1e-6
    numeric = np.empty_like(theta)
    for i in range(theta.size):
        step = np.zeros_like(theta)
        step[i] = eps
        numeric[i] = (error(theta + step, sizes, activations, X, Y)
                      - error(theta - step, sizes, activations, X, Y)) / (2 * eps)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-9)


def test_block_gradient_is_the_sum_of_row_gradients():
    sizes = [8, 6, 4]
    activations = nn_math.layer_activations(2)
    theta, X, Y = random_problem(sizes, n=11, seed=3)
    E, grad = nn_math.backprop(theta, sizes, activations, X, Y)
    rows = [nn_math.backprop(theta, sizes, activations, X[i:i + 1], Y[i:i + 1]) for i in range(len(X))]
    assert E == pytest.approx(sum(e for e, _ in rows), rel=1e-12)
    np.testing.assert_allclose(grad, np.sum([g for _, g in rows], axis=0), rtol=1e-12, atol=1e-15)


def test_layer_views_cover_theta_in_order_without_overlap():
    sizes = [3, 2, 4]
    theta = np.arange(nn_math.parameter_count(sizes), dtype=np.float64)
    (W1, b1), (W2, b2) = nn_math.layer_views(theta, sizes)
    assert nn_math.parameter_count(sizes) == 3 * 2 + 2 + 2 * 4 + 4
    assert W1.shape == (3, 2) and b1.shape == (2,) and W2.shape == (2, 4) and b2.shape == (4,)
    np.testing.assert_array_equal(np.concatenate([W1.ravel(), b1, W2.ravel(), b2]), theta)
    W1[0, 0] = -1.0
    assert theta[0] == -1.0  # a view, not a copy


def test_init_uniform_is_in_the_original_range_and_seeded():
    sizes = [784, 64, 10]
    theta = nn_math.init_uniform(sizes, np.random.default_rng(1))
    assert theta.size == 784 * 64 + 64 + 64 * 10 + 10
    assert theta.min() >= -0.5 and theta.max() < 0.5
    assert abs(theta.mean()) < 0.01
    np.testing.assert_array_equal(theta, nn_math.init_uniform(sizes, np.random.default_rng(1)))


def test_activations_and_their_derivatives():
    z = np.linspace(-30, 30, 61)
    np.testing.assert_allclose(nn_math.sigmoid(z), 1 / (1 + np.exp(-z)), rtol=1e-12)
    z = np.linspace(-8, 8, 33)
    for name in ("tanh", "sigmoid"):
        a = nn_math.activate(name, z)
        h = 1e-6
        numeric = (nn_math.activate(name, z + h) - nn_math.activate(name, z - h)) / (2 * h)
        np.testing.assert_allclose(nn_math.activation_derivative(name, a), numeric, rtol=1e-6, atol=1e-9)


def test_count_correct_uses_the_argmax_not_rounding():
    # Outputs all below 0.5: rounding would call every row wrong; the argmax gets two of three.
    a_out = np.array([[0.2, 0.4, 0.1], [0.3, 0.1, 0.2], [0.1, 0.2, 0.3]])
    Y = nn_math.one_hot(np.array([1, 0, 0]), 3)
    assert nn_math.count_correct(a_out, Y) == 2


def test_sample_mask_depends_only_on_seed_epoch_and_row():
    rows = np.arange(100_000)
    mask = nn_math.sample_mask(7, 3, rows, 0.7)
    # Binomial(100000, 0.7): standard deviation 145.
    assert abs(mask.sum() - 70_000) < 5 * 145
    pieces = np.concatenate([nn_math.sample_mask(7, 3, rows[i:i + 999], 0.7) for i in range(0, rows.size, 999)])
    np.testing.assert_array_equal(mask, pieces)
    assert nn_math.sample_mask(7, 3, rows[::-1], 0.7)[::-1].tolist() == mask.tolist()
    assert (mask != nn_math.sample_mask(7, 4, rows, 0.7)).mean() > 0.3   # a new sample each epoch
    assert (mask != nn_math.sample_mask(8, 3, rows, 0.7)).mean() > 0.3   # and for each seed
    assert nn_math.sample_mask(7, 3, rows, 1.0).all()


def test_row_uniforms_are_uniform():
    u = nn_math.row_uniforms(0, 1, np.arange(200_000))
    counts = np.histogram(u, bins=10, range=(0, 1))[0]
    assert u.min() >= 0 and u.max() < 1
    # chi-square with 9 degrees of freedom: 33.7 is its 0.9999 quantile
    assert ((counts - 20_000) ** 2 / 20_000).sum() < 33.7


def test_bold_driver_by_hand():
    assert nn_math.bold_driver(0.1, 1.0, None) == 0.1
    assert nn_math.bold_driver(0.1, 0.9, 1.0) == pytest.approx(0.105)
    assert nn_math.bold_driver(0.1, 1.1, 1.0) == pytest.approx(0.05)
    assert nn_math.bold_driver(0.1, 1.0, 1.0) == pytest.approx(0.05)  # no fall is no reward


def test_confusion_matrix_and_metrics_by_hand():
    true = np.array([0, 0, 0, 1, 1, 2])
    pred = np.array([0, 0, 1, 1, 2, 2])
    confusion = nn_math.confusion_matrix(true, pred, 4)
    np.testing.assert_array_equal(confusion, [[2, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 0], [0, 0, 0, 0]])
    precision, recall, f1 = nn_math.precision_recall_f1(confusion)
    np.testing.assert_allclose(precision, [1.0, 0.5, 0.5, 0.0])
    np.testing.assert_allclose(recall, [2 / 3, 0.5, 1.0, 0.0])
    np.testing.assert_allclose(f1, [0.8, 0.5, 2 / 3, 0.0])


def test_model_lines_round_trip_bit_for_bit():
    sizes = [5, 4, 3]
    activations = nn_math.layer_activations(2)
    theta, X, _ = random_problem(sizes)
    theta = theta * np.pi  # values with long decimal expansions
    lines = nn_math.model_to_lines(sizes, activations, theta)
    sizes2, activations2, theta2 = nn_math.model_from_lines(lines[::-1])
    assert sizes2 == sizes and activations2 == activations
    np.testing.assert_array_equal(theta2, theta)
    np.testing.assert_array_equal(nn_math.predict(theta2, sizes, activations, X),
                                  nn_math.predict(theta, sizes, activations, X))
    with pytest.raises(ValueError, match="missing"):
        nn_math.model_from_lines(lines[:-1])
