"""The math of nn_math.py against independent oracles: finite differences, hand-worked values."""


import numpy as np
import pytest

import nn_math
from nn_math import Network
from rddnet import sampling
from rddnet.training import optimizers


def random_problem(sizes, n=7, seed=0):
    """theta, X (n, d0) and one-hot Y (n, k) for a small network."""
    rng = np.random.default_rng(seed)
    theta = nn_math.init_parameters(sizes, rng)
    X = rng.uniform(0, 1, size=(n, sizes[0]))
    Y = nn_math.one_hot(rng.integers(0, sizes[-1], size=n), sizes[-1], dtype=np.float64)
    return theta, X, Y


def objective(theta, net, X, Y, l1=0.0, l2=0.0, masks=None):
    """What training minimises: the mean error of the rows plus the penalty."""
    P = nn_math.forward(theta, net, X, masks)[2]
    return nn_math.LOSSES[net.loss].error(P, Y) / len(X) + nn_math.penalty(theta, net.sizes, l1, l2)


def analytic_gradient(theta, net, X, Y, l1=0.0, l2=0.0, masks=None):
    _, grad = nn_math.backprop(theta, net, X, Y, masks)
    return grad / len(X) + nn_math.penalty_gradient(theta, net.sizes, l1, l2)


def finite_differences(f, theta, eps=1e-6):
    """Central differences of f at theta, one parameter at a time."""
    numeric = np.empty_like(theta)
    for i in range(theta.size):
        step = np.zeros_like(theta)
        step[i] = eps
        numeric[i] = (f(theta + step) - f(theta - step)) / (2 * eps)
    return numeric


REGULARISERS = {"none": (0.0, 0.0), "l1": (0.01, 0.0), "l2": (0.0, 0.03), "l1+l2": (0.01, 0.03)}


@pytest.mark.parametrize("regulariser", sorted(REGULARISERS))
@pytest.mark.parametrize("loss", sorted(nn_math.LOSSES))
@pytest.mark.parametrize("activation", nn_math.HIDDEN_ACTIVATIONS)
def test_gradient_of_every_parameter_matches_finite_differences(activation, loss, regulariser):
    l1, l2 = REGULARISERS[regulariser]
    net = Network([6, 5, 3], activation, loss)
    theta, X, Y = random_problem(net.sizes)
    grad = analytic_gradient(theta, net, X, Y, l1, l2)
    numeric = finite_differences(lambda t: objective(t, net, X, Y, l1, l2), theta)
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("sizes", [[6, 5, 4, 3], [6, 5, 4, 4, 3]], ids=["two hidden", "three hidden"])
@pytest.mark.parametrize("activation,loss", [("tanh", "sse"), ("relu", "cross-entropy"), ("sigmoid", "sse")])
def test_gradient_through_deeper_networks(sizes, activation, loss):
    net = Network(sizes, activation, loss)
    theta, X, Y = random_problem(sizes, seed=1)
    grad = analytic_gradient(theta, net, X, Y, 0.01, 0.02)
    numeric = finite_differences(lambda t: objective(t, net, X, Y, 0.01, 0.02), theta)
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-8)


def test_gradient_with_fixed_dropout_masks():
    net = Network([6, 5, 4, 3], "tanh", "cross-entropy")
    theta, X, Y = random_problem(net.sizes, seed=2)
    rows = np.arange(len(X))
    masks = [sampling.dropout_mask(3, 1, rows, layer, width, 0.4) for layer, width in ((1, 5), (2, 4))]
    assert (masks[0] == 0).any()
    grad = analytic_gradient(theta, net, X, Y, masks=masks)
    numeric = finite_differences(lambda t: objective(t, net, X, Y, masks=masks), theta)
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-8)


def test_block_gradient_is_the_sum_of_row_gradients():
    net = Network([8, 6, 5, 4], "relu", "cross-entropy")
    theta, X, Y = random_problem(net.sizes, n=11, seed=3)
    E, grad = nn_math.backprop(theta, net, X, Y)
    rows = [nn_math.backprop(theta, net, X[i:i + 1], Y[i:i + 1]) for i in range(len(X))]
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
    mask = nn_math.weight_mask(sizes)
    assert mask.sum() == 3 * 2 + 2 * 4 and not mask[6:8].any() and not mask[-4:].any()


def test_initialisations():
    sizes = [784, 64, 10]
    uniform = nn_math.init_parameters(sizes, np.random.default_rng(1))
    assert uniform.size == 784 * 64 + 64 + 64 * 10 + 10
    assert uniform.min() >= -0.5 and uniform.max() < 0.5 and abs(uniform.mean()) < 0.01
    np.testing.assert_array_equal(uniform, nn_math.init_parameters(sizes, np.random.default_rng(1)))
    xavier = nn_math.init_parameters(sizes, np.random.default_rng(1), "xavier")
    W1, b1 = nn_math.layer_views(xavier, sizes)[0]
    limit = np.sqrt(6 / (784 + 64))
    assert np.abs(W1).max() <= limit and np.abs(W1).max() > 0.99 * limit and not b1.any()
    he = nn_math.init_parameters(sizes, np.random.default_rng(1), "he")
    W1, b1 = nn_math.layer_views(he, sizes)[0]
    assert W1.std() == pytest.approx(np.sqrt(2 / 784), rel=0.02) and not b1.any()


def test_activations_and_their_derivatives():
    z = np.linspace(-30, 30, 61)
    np.testing.assert_allclose(nn_math.sigmoid(z), 1 / (1 + np.exp(-z)), rtol=1e-12)
    z = np.linspace(-8, 8, 34)  # even count: no z exactly 0, where relu has no derivative
    for name in nn_math.HIDDEN_ACTIVATIONS:
        a = nn_math.activate(name, z)
        h = 1e-6
        numeric = (nn_math.activate(name, z + h) - nn_math.activate(name, z - h)) / (2 * h)
        np.testing.assert_allclose(nn_math.activation_derivative(name, a), numeric, rtol=1e-6, atol=1e-9)
    np.testing.assert_array_equal(nn_math.activate("relu", np.array([-2.0, 0.0, 3.0])), [0, 0, 3])


def test_softmax_rows_sum_to_one_and_survive_large_inputs():
    z = np.array([[1000.0, 1001.0, 999.0], [0.0, 0.0, 0.0]])
    P = nn_math.softmax(z)
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    np.testing.assert_allclose(P[1], [1 / 3] * 3)
    e = np.exp([0.0, 1.0, -1.0])
    np.testing.assert_allclose(P[0], e / e.sum())


def test_network_knows_its_output_function():
    assert Network([784, 64, 10], "tanh", "sse").activations == ["tanh", "sigmoid"]
    assert Network([784, 256, 128, 10], "relu", "cross-entropy").activations == ["relu", "relu", "softmax"]


def test_count_correct_uses_the_argmax_not_rounding():
    # Outputs all below 0.5: rounding would call every row wrong; the argmax gets two of three.
    P = np.array([[0.2, 0.4, 0.1], [0.3, 0.1, 0.2], [0.1, 0.2, 0.3]])
    Y = nn_math.one_hot(np.array([1, 0, 0]), 3)
    assert nn_math.count_correct(P, Y) == 2


def test_sample_mask_depends_only_on_seed_epoch_and_row():
    rows = np.arange(100_000)
    mask = sampling.sample_mask(7, 3, rows, 0.7)
    # Binomial(100000, 0.7): standard deviation 145.
    assert abs(mask.sum() - 70_000) < 5 * 145
    pieces = np.concatenate([sampling.sample_mask(7, 3, rows[i:i + 999], 0.7) for i in range(0, rows.size, 999)])
    np.testing.assert_array_equal(mask, pieces)
    assert sampling.sample_mask(7, 3, rows[::-1], 0.7)[::-1].tolist() == mask.tolist()
    assert (mask != sampling.sample_mask(7, 4, rows, 0.7)).mean() > 0.3   # a new sample each epoch
    assert (mask != sampling.sample_mask(8, 3, rows, 0.7)).mean() > 0.3   # and for each seed
    assert sampling.sample_mask(7, 3, rows, 1.0).all()


def test_row_uniforms_are_uniform():
    u = sampling.row_uniforms(0, 1, np.arange(200_000))
    counts = np.histogram(u, bins=10, range=(0, 1))[0]
    assert u.min() >= 0 and u.max() < 1
    # chi-square with 9 degrees of freedom: 33.7 is its 0.9999 quantile
    assert ((counts - 20_000) ** 2 / 20_000).sum() < 33.7


def test_dropout_masks_are_inverted_seeded_and_independent_of_blocks():
    rows = np.arange(20_000)
    mask = sampling.dropout_mask(5, 2, rows, 1, 64, 0.25)
    assert mask.shape == (20_000, 64)
    assert set(np.unique(mask)) == {0.0, 1 / 0.75}
    # each unit dropped with probability 0.25 (sd of the share over 1.28 M units: 0.0004)
    assert abs((mask == 0).mean() - 0.25) < 0.002
    assert abs(mask.mean() - 1.0) < 0.003  # inverted: the expected activation is unchanged
    np.testing.assert_array_equal(mask[1234:1300], sampling.dropout_mask(5, 2, rows[1234:1300], 1, 64, 0.25))
    assert (mask != sampling.dropout_mask(5, 2, rows, 2, 64, 0.25)).mean() > 0.2   # another layer
    assert (mask != sampling.dropout_mask(5, 3, rows, 1, 64, 0.25)).mean() > 0.2   # another epoch
    sample = sampling.sample_mask(5, 2, rows, 0.25)
    assert (mask[:, 0] == 0).tolist() != sample.tolist()  # not the sample's stream


def test_dropout_is_off_at_evaluation():
    net = Network([6, 8, 3], "relu", "cross-entropy")
    theta, X, _ = random_problem(net.sizes, n=50)
    masks = [sampling.dropout_mask(1, 1, np.arange(50), 1, 8, 0.5)]
    h, gates, P = nn_math.forward(theta, net, X)
    h_train, _, P_train = nn_math.forward(theta, net, X, masks)
    assert not np.allclose(P_train, P)
    np.testing.assert_array_equal(h_train[1], h[1] * masks[0])
    np.testing.assert_array_equal(nn_math.predict(theta, net, X), P.argmax(axis=1))


def test_optimizer_steps_by_hand():
    theta, g, lr = np.array([1.0, 2.0]), np.array([0.5, -1.0]), 0.1
    new, state = optimizers.Optimizer("sgd").step(theta, g, lr, optimizers.optimizer_state("sgd", theta))
    np.testing.assert_allclose(new, [0.95, 2.1])
    np.testing.assert_array_equal(theta, [1.0, 2.0])  # inputs are not modified

    state = optimizers.optimizer_state("momentum", theta)
    first, state = optimizers.Optimizer("momentum", momentum=0.9).step(theta, g, lr, state)
    np.testing.assert_allclose(first, [0.95, 2.1])            # v = -0.1 g = [-0.05, 0.1]
    second, state = optimizers.Optimizer("momentum", momentum=0.9).step(first, g, lr, state)
    np.testing.assert_allclose(state["v"], [-0.095, 0.19])    # v = 0.9 v - 0.1 g
    np.testing.assert_allclose(second, [0.855, 2.29])

    state = optimizers.optimizer_state("adam", theta)
    adam = optimizers.Optimizer("adam", beta1=0.9, beta2=0.999)
    first, state = adam.step(theta, g, lr, state)
    # m = 0.1 g, v = 0.001 g^2; bias-corrected m^ = g, v^ = g^2: the step is lr * sign(g)
    np.testing.assert_allclose(first, [0.9, 2.1], rtol=1e-7)
    second, state = adam.step(first, -g, lr, state)
    # with gradient -g: m = 0.9 (0.1 g) - 0.1 g = -0.01 g, m^ = m / (1 - 0.9^2) = m / 0.19;
    # v = 0.999 (0.001 g^2) + 0.001 g^2 = 0.001999 g^2, v^ = v / (1 - 0.999^2) = g^2
    assert state["t"] == 2
    np.testing.assert_allclose(state["m"], [-0.005, 0.01])
    np.testing.assert_allclose(state["v"], [0.00049975, 0.001999])
    np.testing.assert_allclose(second, [0.9 + 0.1 * 0.005 / 0.19 / 0.5, 2.1 - 0.1 * 0.01 / 0.19], rtol=1e-7)


@pytest.mark.parametrize("name", optimizers.OPTIMIZERS)
def test_steps_follow_the_textbook_formulas_and_change_no_input(name):
    rng = np.random.default_rng(3)
    optimizer = optimizers.Optimizer(name, momentum=0.8, beta1=0.85, beta2=0.99)
    theta = rng.normal(size=1000)
    moments = optimizer.initial_moments(theta)
    m = v = np.zeros_like(theta)
    expected = theta.copy()
    for t, lr in enumerate((0.1, 0.03, 0.2), 1):
        grad = rng.normal(size=1000) * rng.choice([1e-6, 1.0, 1e3], size=1000)
        before = (theta.copy(), grad.copy(), {k: np.array(x, copy=True) for k, x in moments.items()})
        theta, moments = optimizer.step(theta, grad, lr, moments)
        np.testing.assert_array_equal(grad, before[1])  # step copies: its inputs stay as they were
        if name == "sgd":
            expected = expected - lr * grad
        elif name == "momentum":
            v = 0.8 * v - lr * grad
            expected = expected + v
        else:
            m, v = 0.85 * m + 0.15 * grad, 0.99 * v + 0.01 * grad ** 2
            expected = expected - lr * (m / (1 - 0.85 ** t)) / (np.sqrt(v / (1 - 0.99 ** t)) + 1e-8)
            assert moments["t"] == t
        np.testing.assert_allclose(theta, expected, rtol=1e-12, atol=1e-15)


def test_adams_step_count_as_a_numpy_integer_gives_the_same_bits():
    # A checkpoint or a broadcast can hand the count back as a NumPy integer; beta ** t must not
    # then take NumPy's power, which on some CPUs differs from Python's in the last bit.
    adam = optimizers.Optimizer("adam", beta1=0.85, beta2=0.99)
    rng = np.random.default_rng(4)
    theta, grad = rng.normal(size=64), rng.normal(size=64)
    moments = {"t": 6, "m": rng.normal(size=64), "v": rng.random(64)}
    plain, _ = adam.step(theta, grad, 0.1, moments)
    for count in (np.int64(6), np.array(6), np.int32(6)):
        numpy_count, after = adam.step(theta, grad, 0.1, dict(moments, t=count))
        assert numpy_count.tobytes() == plain.tobytes()
        assert type(after["t"]) is int


def test_learning_rate_schedules_by_hand():
    def rate(schedule, epoch, **kw):
        return optimizers.Schedule(schedule, 0.1, **kw).rate(epoch, None, None, None)
    assert [rate("constant", e) for e in (1, 50)] == [0.1, 0.1]
    assert [rate("step", e, lr_decay=0.5, lr_step=10) for e in (1, 10, 11, 20, 21)] == pytest.approx(
        [0.1, 0.1, 0.05, 0.05, 0.025])
    assert [rate("exponential", e, lr_decay=0.9) for e in (1, 2, 3)] == pytest.approx([0.1, 0.09, 0.081])
    lr, previous, rates = 0.1, None, []
    for epoch, cost in enumerate([1.0, 0.9, 0.95, 0.94], 1):
        lr = optimizers.Schedule("bold-driver", 0.1, bold_up=1.05, bold_down=0.5).rate(epoch, lr, cost, previous)
        previous = cost
        rates.append(lr)
    assert rates == pytest.approx([0.1, 0.105, 0.0525, 0.055125])
    assert optimizers.bold_driver(0.1, 1.0, 1.0, up=1.05, down=0.5) == pytest.approx(0.05)  # no fall, no reward
    assert optimizers.bold_driver(0.1, 0.5, 1.0, up=1.2, down=0.3) == pytest.approx(0.12)


def test_penalty_by_hand():
    sizes = [2, 1, 1]  # theta = W0 (2), b0 (1), W1 (1), b1 (1)
    theta = np.array([1.0, -2.0, 5.0, 3.0, -7.0])
    assert nn_math.penalty(theta, sizes, l1=0.1) == pytest.approx(0.1 * 6)
    assert nn_math.penalty(theta, sizes, l2=0.1) == pytest.approx(0.05 * 14)
    np.testing.assert_allclose(nn_math.penalty_gradient(theta, sizes, l1=0.1, l2=0.1),
                               [0.1 + 0.1, -0.1 - 0.2, 0.0, 0.1 + 0.3, 0.0])


def test_confusion_matrix_and_metrics_by_hand():
    true = np.array([0, 0, 0, 1, 1, 2])
    pred = np.array([0, 0, 1, 1, 2, 2])
    confusion = nn_math.confusion_matrix(true, pred, 4)
    np.testing.assert_array_equal(confusion, [[2, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 0], [0, 0, 0, 0]])
    precision, recall, f1 = nn_math.precision_recall_f1(confusion)
    np.testing.assert_allclose(precision, [1.0, 0.5, 0.5, 0.0])
    np.testing.assert_allclose(recall, [2 / 3, 0.5, 1.0, 0.0])
    np.testing.assert_allclose(f1, [0.8, 0.5, 2 / 3, 0.0])


def test_optimizer_pack_unpack_is_the_identity_and_counts_adam_steps():
    theta = np.arange(4.0)
    adam = optimizers.Optimizer("adam")
    moments = {"t": 5, "m": theta + 10, "v": theta + 20}
    packed = adam.pack(theta, moments)
    assert packed.tolist() == [0, 1, 2, 3, 10, 11, 12, 13, 20, 21, 22, 23]  # theta, then m, v by name
    theta2, moments2 = adam.unpack(packed, moments, steps=3)
    assert theta2.tolist() == theta.tolist() and moments2["t"] == 8 and moments["t"] == 5
    assert moments2["m"].tolist() == moments["m"].tolist() and moments2["v"].tolist() == moments["v"].tolist()
    sgd_theta, sgd_moments = optimizers.Optimizer("sgd").unpack(optimizers.Optimizer("sgd").pack(theta, {}), {}, 3)
    assert sgd_theta.tolist() == theta.tolist() and sgd_moments == {}


def test_schedule_record_follows_the_formula():
    bold = optimizers.Schedule("bold-driver", 0.1, bold_up=2.0, bold_down=0.25)
    assert bold.rate(2, 0.1, 1.0, 2.0) == pytest.approx(0.2) and bold.rate(2, 0.1, 2.0, 1.0) == pytest.approx(0.025)
    assert optimizers.Schedule("step", 1.0, lr_decay=0.5, lr_step=3).rate(7, None, None, None) == 0.25


@pytest.mark.parametrize("activation,loss", [("tanh", "sse"), ("relu", "cross-entropy"), ("sigmoid", "sse")])
def test_float32_passes_match_float64_to_float32_rounding_and_sum_in_float64(activation, loss):
    net = Network([784, 64, 10], activation, loss)
    theta, X, Y = random_problem(net.sizes, n=512, seed=4)
    masks = [sampling.dropout_mask(1, 1, np.arange(512), 1, 64, 0.3)]
    error, grad, P = nn_math.backprop(theta, net, X, Y, masks, outputs=True)
    masks32 = [sampling.dropout_mask(1, 1, np.arange(512), 1, 64, 0.3, np.float32)]
    error32, grad32, P32 = nn_math.backprop(theta.astype(np.float32), net, X.astype(np.float32),
                                            Y.astype(np.float32), masks32, outputs=True)
    assert P32.dtype == np.float32 and masks32[0].dtype == np.float32  # the passes ran in float32
    assert grad32.dtype == np.float64 and isinstance(error32, float)  # what is summed is float64
    assert error32 == pytest.approx(error, rel=1e-5)
    np.testing.assert_allclose(P32, P, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(grad32, grad, rtol=1e-3, atol=1e-5 * np.abs(grad).max())


@pytest.mark.parametrize("loss", sorted(nn_math.LOSSES))
def test_class_weighted_gradient_matches_finite_differences_of_the_weighted_cost(loss):
    net = Network([6, 5, 3], "tanh", loss)
    theta, X, Y = random_problem(net.sizes, n=9, seed=4)
    w = np.array([0.2, 3.0, 1.0])[Y.argmax(axis=1)]  # each row's class weight

    def weighted_cost(t):  # scikit-learn's convention: per unit of weight
        P = nn_math.forward(t, net, X)[2]
        per_row = 0.5 * ((P - Y) ** 2).sum(axis=1) if loss == "sse" else -(Y * np.log(P)).sum(axis=1)
        return (w * per_row).sum() / w.sum()
    error, grad = nn_math.backprop(theta, net, X, Y, w=w)
    assert error / w.sum() == pytest.approx(weighted_cost(theta), rel=1e-12)
    np.testing.assert_allclose(grad / w.sum(), finite_differences(weighted_cost, theta), rtol=1e-5, atol=1e-8)


def test_balanced_class_weights_are_scikit_learns():
    from sklearn.utils.class_weight import compute_class_weight
    labels = np.repeat([0, 1, 2, 3], [50, 7, 120, 3])
    counts = np.bincount(labels)
    expected = compute_class_weight("balanced", classes=np.arange(4), y=labels)
    np.testing.assert_allclose(nn_math.class_weights("balanced", counts), expected, rtol=1e-15)
    np.testing.assert_array_equal(nn_math.class_weights([1, 2.5, 1, 1], counts), [1, 2.5, 1, 1])


def test_cosine_schedule_by_hand():
    schedule = optimizers.Schedule("cosine", lr=0.1, epochs=4)
    rates = [schedule.rate(epoch, None, None, None) for epoch in (1, 2, 3, 4)]
    np.testing.assert_allclose(rates, [0.1, 0.1 * (2 + 2 ** 0.5) / 4, 0.05, 0.1 * (2 - 2 ** 0.5) / 4], rtol=1e-15)


def test_plateau_schedule_lowers_the_rate_after_its_patience_as_keras_does():
    schedule = optimizers.Schedule("plateau", lr=0.1, lr_decay=0.5, lr_patience=2)
    lr, plateau, rates = 0.1, optimizers.NO_BEST, []
    for epoch, cost in enumerate([1.0, 0.9, 0.95, 0.91, 0.92, 0.8, 0.85, 0.85]):
        lr, plateau = schedule.on_plateau(lr, plateau.after(epoch, cost, None, 0.0))
        rates.append(lr)
    # 0.95 and 0.91 do not beat 0.9: halved, the wait starts again; 0.92 waits; 0.8 is lower;
    # 0.85 twice: halved again.
    assert rates == [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05, 0.025]
    assert optimizers.Schedule("step", lr=0.1).on_plateau(0.1, plateau._replace(waited=9)) == (0.1, plateau._replace(
        waited=9))


def test_early_stopping_record_counts_validations_without_a_lower_cost():
    best = optimizers.NO_BEST
    for epoch, cost in enumerate([1.0, 0.9, 0.895, 0.95]):
        best = best.after(epoch, cost, f"weights {epoch}", 0.01)
    assert (best.epoch, best.theta, best.waited) == (1, "weights 1", 2)  # 0.895 is not lower by more than 0.01


def test_max_norm_in_place_changes_theta_as_the_copy_would():
    sizes = [5, 4, 3]
    theta = np.random.default_rng(4).normal(size=nn_math.parameter_count(sizes)) * 3
    copy = nn_math.max_norm(theta, sizes, 2.0)
    assert nn_math.max_norm(theta, sizes, 2.0, in_place=True) is theta
    assert theta.tobytes() == copy.tobytes()


def test_max_norm_scales_only_the_columns_longer_than_c():
    sizes = [4, 3, 2]
    theta = np.random.default_rng(5).normal(0, 2, size=nn_math.parameter_count(sizes))
    constrained = nn_math.max_norm(theta, sizes, 1.5)
    for (W, b), (V, c) in zip(nn_math.layer_views(theta, sizes), nn_math.layer_views(constrained, sizes)):
        for j in range(W.shape[1]):
            norm = np.linalg.norm(W[:, j])
            if norm <= 1.5:
                np.testing.assert_array_equal(V[:, j], W[:, j])
            else:  # the same direction, length 1.5
                np.testing.assert_allclose(V[:, j], W[:, j] * 1.5 / norm, rtol=1e-14)
        np.testing.assert_array_equal(c, b)


def test_input_dropout_masks_are_their_own_stream():
    rows = np.arange(500)
    mask = sampling.input_dropout_mask(1, 2, rows, 30, 0.2)
    assert set(np.unique(mask)) == {0.0, 1.25} and abs((mask == 0).mean() - 0.2) < 0.02
    assert not np.array_equal(mask, sampling.dropout_mask(1, 2, rows, 1, 30, 0.2))
    np.testing.assert_array_equal(mask[100:200], sampling.input_dropout_mask(1, 2, rows[100:200], 30, 0.2))


def test_step_sums_add_exactly_in_any_order_and_give_the_moments():
    import functools

    from rddnet.inputs import scaling
    rng = np.random.default_rng(6)
    blocks = [rng.integers(0, 256, size=(n, 5), dtype=np.uint8) for n in (3, 1, 7, 2, 5)]
    sums = [scaling.step_sums(b, 255) for b in blocks]
    forward = functools.reduce(scaling.combine_moments, sums)
    backward = functools.reduce(scaling.combine_moments, sums[::-1])
    assert all(np.array_equal(a, b) for a, b in zip(forward, backward))
    X = np.concatenate(blocks) / 255
    moments = scaling.as_moments(forward)
    np.testing.assert_allclose(moments.mean, X.mean(axis=0), rtol=1e-14)
    np.testing.assert_allclose(moments.M2, ((X - X.mean(axis=0)) ** 2).sum(axis=0), rtol=1e-12)
    assert (moments.n, moments.low, moments.high) == (18, X.min(), X.max())
