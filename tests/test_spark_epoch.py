"""The distributed epoch against a single-process NumPy computation on the same rows."""

import numpy as np
import pytest

import main_task
import nn_math
from conftest import SMALL_TEST, SMALL_TRAIN, inputs_of, load, load_csv
from rddnet import sampling
from rddnet.run_settings import starting_point, weighing_classes
from rddnet.training import epoch_tasks, evaluation, loop, optimizers

pytestmark = pytest.mark.spark


def numpy_epoch(theta, X, labels, d, h, k, seed, epoch, fraction):
    """One epoch of the 784-h-k tanh/sigmoid network written out in plain NumPy.

    Written from the formulas, not from nn_math, except for the row sample it must share.
    Returns (sum of errors, correct, rows, gradient sum laid out like theta).
    """
    keep = sampling.sample_mask(seed, epoch, np.arange(len(X)), fraction)
    X, labels = X[keep], labels[keep]
    Y = np.eye(k)[labels]
    W1 = theta[:d * h].reshape(d, h)
    b1 = theta[d * h:d * h + h]
    W2 = theta[d * h + h:d * h + h + h * k].reshape(h, k)
    b2 = theta[d * h + h + h * k:]
    H = np.tanh(X @ W1 + b1)
    out = 1 / (1 + np.exp(-(H @ W2 + b2)))
    error = 0.5 * ((out - Y) ** 2).sum()
    correct = (out.argmax(axis=1) == labels).sum()
    d2 = (out - Y) * out * (1 - out)
    d1 = (d2 @ W2.T) * (1 - H ** 2)
    grad = np.concatenate([(X.T @ d1).ravel(), d1.sum(0), (H.T @ d2).ravel(), d2.sum(0)])
    return error, correct, len(X), grad


@pytest.fixture(scope="module")
def train_set(sc, small_compact):
    return load(sc, small_compact[0], small_compact[1], block_size=128)


@pytest.mark.spark35
def test_loaded_blocks_match_the_files(train_set, small_compact):
    X, labels = load_csv(small_compact[0], small_compact[1])
    assert (train_set.rows, train_set.width, train_set.classes) == (SMALL_TRAIN, 784, 10)
    blocks = sorted(train_set.blocks.collect(), key=lambda b: b.start)
    assert all(b.rows <= 128 for b in blocks)
    assert all(b.stored.dtype == np.uint8 for b in blocks)  # whole pixel values: a byte each
    np.testing.assert_array_equal(inputs_of(blocks, train_set), X)
    np.testing.assert_array_equal(np.concatenate([b.labels for b in blocks]), labels)


@pytest.mark.parametrize("epoch", [1, 2])
def test_spark_epoch_sums_equal_a_single_process_numpy_epoch(sc, train_set, small_compact, epoch):
    X, labels = load_csv(small_compact[0], small_compact[1])
    net = nn_math.Network([784, 64, 10], "tanh", "sse")
    theta = nn_math.init_parameters(net.sizes, np.random.default_rng(5))
    theta_bc = sc.broadcast(theta)
    sums = epoch_tasks.epoch_sums(train_set, theta_bc, net, seed=9, epoch=epoch, fraction=0.7)
    error, correct, count, grad = sums.error + sums.error_lo, sums.correct, sums.rows, sums.vector + sums.vector_lo
    expected = numpy_epoch(theta, X, labels, 784, 64, 10, seed=9, epoch=epoch, fraction=0.7)
    assert count == expected[2] and abs(count - 0.7 * SMALL_TRAIN) < 5 * np.sqrt(SMALL_TRAIN * 0.21)
    assert correct == expected[1]
    assert error == pytest.approx(expected[0], rel=1e-10)
    np.testing.assert_allclose(grad, expected[3], rtol=1e-9, atol=1e-9 * np.abs(expected[3]).max())


def settings(*options):
    """The job's settings for these options, every other one at its default but --dtype float64:
    these tests compare with NumPy oracles in float64 (a later --dtype wins)."""
    return main_task.parse_args(["train.csv", "labels.csv", "test.csv", "labels.csv", "out", "--dtype", "float64",
                                 *options])


def start(sc, args, data):
    """(Network, Settings, TrainingState) before the first epoch, as the job starts a run."""
    start = weighing_classes(sc, starting_point(args.values, data), data, log=lambda line: None)
    return start.net, start.settings, start.state


def train(sc, args, data, test_set=None):
    """(Network, TrainingState) after training on ``data`` with the job's settings ``args``."""
    net, run_settings, state = start(sc, args, data)
    return net, loop.train(sc, data, net, state, run_settings, log=lambda line: None, test_set=test_set)


def run_training(sc, data, *options, test_set=None):
    _, state = train(sc, settings("--epochs", "4", "--seed", "3", "--hidden", "32", *options), data, test_set)
    return state.theta, state.history


def test_one_row_blocks_give_the_same_histories_to_rounding(sc, train_set, small_compact):
    theta, history = run_training(sc, train_set)
    one_row = load(sc, small_compact[0], small_compact[1], block_size=1)
    assert one_row.blocks.count() == SMALL_TRAIN
    theta_1, history_1 = run_training(sc, one_row)  # other matrix products: the same to rounding
    assert history_1["sample"] == history["sample"]
    for key in ("cost", "accuracy", "lr"):
        np.testing.assert_allclose(history_1[key], history[key], rtol=1e-9)
    np.testing.assert_allclose(theta_1, theta, rtol=1e-7, atol=1e-10)
    one_row.cached.unpersist()


def test_other_files_splits_and_partitions_give_the_same_run_bit_for_bit(sc, train_set, small_compact, tmp_path):
    theta, history = run_training(sc, train_set)
    blocks = sorted(train_set.blocks.collect(), key=lambda b: b.start)
    assert [b.start for b in blocks] == list(range(0, SMALL_TRAIN, 128))  # rows k * 128 .. whatever the splits
    # The same rows in part files of uneven sizes (other splits and partitions), and the same
    # blocks spread over five partitions.
    for kind, path in (("images", small_compact[0]), ("labels", small_compact[1])):
        lines = open(path).read().splitlines(keepends=True)
        (tmp_path / kind).mkdir()
        for i, (a, b) in enumerate(((0, 700), (700, 2345), (2345, SMALL_TRAIN))):
            (tmp_path / kind / f"part-{i:05d}").write_text("".join(lines[a:b]))
    parts = load(sc, str(tmp_path / "images"), str(tmp_path / "labels"), block_size=128)
    rows_per_partition = lambda data: [sum(b.rows for b in part) for part in data.blocks.glom().collect()]  # noqa: E731
    assert rows_per_partition(parts) != rows_per_partition(train_set)
    reshuffled = train_set._replace(blocks=train_set.blocks.repartition(5).cache())
    for other in (parts, reshuffled):
        other_theta, other_history = run_training(sc, other)
        assert other_history["cost"] == history["cost"] and other_history["lr"] == history["lr"]
        assert np.array_equal(other_theta, theta)
    parts.cached.unpersist()
    reshuffled.blocks.unpersist()


def test_training_lowers_the_cost_and_follows_the_bold_driver(sc, train_set):
    _, history = run_training(sc, train_set, "--epochs", "6")
    assert history["cost"][-1] < history["cost"][0]
    lr = 0.1
    for i, cost in enumerate(history["cost"]):
        lr = optimizers.bold_driver(lr, cost, history["cost"][i - 1] if i else None, up=1.05, down=0.5)
        assert history["lr"][i] == pytest.approx(lr)


def test_test_set_evaluation_matches_numpy_predictions(sc, train_set, small_compact):
    test_set = load(sc, small_compact[2], small_compact[3], block_size=100, n_classes=10, width=784)
    assert test_set.rows == SMALL_TEST
    net = nn_math.Network([784, 64, 10], "tanh", "sse")
    theta = nn_math.init_parameters(net.sizes, np.random.default_rng(2))
    confusion, examples = evaluation.evaluate(sc, test_set, theta, net, examples=100)
    X, labels = load_csv(small_compact[2], small_compact[3])
    predicted = nn_math.predict(theta, net, X)
    np.testing.assert_array_equal(confusion, nn_math.confusion_matrix(labels, predicted, 10))
    assert examples == list(zip(predicted[:len(examples)].tolist(), labels[:len(examples)].tolist()))
    test_set.cached.unpersist()


@pytest.mark.spark35
def test_gzip_inputs_and_two_class_data(sc, tmp_path):
    import gzip
    import shutil

    from conftest import write_data
    paths = write_data(tmp_path, "--digits", "0,1", "--limit-train", "500", "--limit-test", "50")
    for path in paths[:2]:
        with open(path, "rb") as source, gzip.open(path + ".gz", "wb") as target:
            shutil.copyfileobj(source, target)
    plain = load(sc, paths[0], paths[1], block_size=64)
    packed = load(sc, paths[0] + ".gz", paths[1] + ".gz", block_size=64)
    assert plain.classes == packed.classes == 2 and plain.rows == packed.rows == 500
    assert packed.blocks.getNumPartitions() >= sc.defaultParallelism  # a .gz is one split: spread out
    X, labels = load_csv(paths[0], paths[1])
    blocks = sorted(packed.blocks.collect(), key=lambda b: b.start)
    np.testing.assert_array_equal(inputs_of(blocks, packed), X)
    np.testing.assert_array_equal(np.concatenate([b.labels for b in blocks]), labels)
    plain.cached.unpersist()
    packed.cached.unpersist()


def single_process_training(X, labels, net, args):
    """The job's training loop, replayed in one process with nn_math on the full arrays."""
    theta = nn_math.init_parameters(net.sizes, np.random.default_rng(args.seed), args.init)
    state = optimizers.optimizer_state(args.optimizer, theta)
    lr, previous, costs = args.lr, None, []
    schedule = optimizers.Schedule(args.lr_schedule, args.lr, args.lr_decay, args.lr_step, args.bold_up,
                                   args.bold_down, epochs=args.epochs)
    counts = np.bincount(labels, minlength=net.sizes[-1])
    class_weights = nn_math.class_weights(args.class_weight, counts) if args.class_weight else np.ones(len(counts))
    for epoch in range(1, args.epochs + 1):
        rows = np.flatnonzero(sampling.sample_mask(args.seed, epoch, np.arange(len(X)), args.sample_fraction))
        masks = [sampling.dropout_mask(args.seed, epoch, rows, layer, width, args.dropout)
                 for layer, width in enumerate(net.sizes[1:-1], 1)] if args.dropout else None
        inputs = X[rows] * (sampling.input_dropout_mask(args.seed, epoch, rows, X.shape[1], args.input_dropout)
                            if args.input_dropout else 1.0)
        w = class_weights[labels[rows]]
        error, grad = nn_math.backprop(theta, net, inputs, np.eye(net.sizes[-1])[labels[rows]], masks, w=w)
        cost = error / w.sum() + nn_math.penalty(theta, net.sizes, args.l1, args.l2)
        grad = grad / w.sum() + nn_math.penalty_gradient(theta, net.sizes, args.l1, args.l2)
        lr = schedule.rate(epoch, lr, cost, previous)
        theta, state = optimizers.Optimizer(args.optimizer, args.momentum, args.beta1, args.beta2).step(
            theta, grad, lr, state)
        theta = nn_math.max_norm(theta, net.sizes, args.max_norm) if args.max_norm else theta
        previous = cost
        costs.append(cost)
    return theta, costs


@pytest.mark.parametrize("options", [
    ["--hidden", "24,16", "--activation", "relu", "--loss", "cross-entropy", "--optimizer", "adam", "--lr", "0.003",
     "--lr-schedule", "step", "--lr-step", "2", "--dropout", "0.3", "--l2", "0.001", "--init", "he"],
    ["--hidden", "20", "--activation", "sigmoid", "--optimizer", "momentum", "--momentum", "0.8",
     "--lr-schedule", "exponential", "--lr-decay", "0.9", "--l1", "0.0005", "--init", "xavier"],
    # One local step is plain data-parallel descent: for adam, averaging the partitions' single
    # steps would not give the replay's step on the whole sample's gradient.
    ["--hidden", "16", "--optimizer", "adam", "--lr", "0.01", "--local-steps", "1"],
    ["--hidden", "20", "--activation", "relu", "--loss", "cross-entropy", "--optimizer", "adam", "--lr", "0.01",
     "--lr-schedule", "cosine", "--input-dropout", "0.2", "--max-norm", "0.8", "--class-weight", "balanced"],
], ids=["adam-dropout-l2-step", "momentum-l1-exponential", "adam-one-local-step",
        "cosine-input-dropout-max-norm-balanced"])
def test_spark_training_equals_a_single_process_replay(sc, train_set, small_compact, options):
    args = settings("--epochs", "5", "--seed", "11", *options)
    net, state = train(sc, args, train_set)
    theta, history = state.theta, state.history
    X, labels = load_csv(small_compact[0], small_compact[1])
    expected_theta, expected_costs = single_process_training(X, labels, net, args)
    np.testing.assert_allclose(history["cost"], expected_costs, rtol=1e-9)
    np.testing.assert_allclose(theta, expected_theta, rtol=1e-6, atol=1e-9)


def test_eval_every_records_test_accuracy(sc, train_set, small_compact):
    test_set = load(sc, small_compact[2], small_compact[3], 256, n_classes=10, width=784)
    theta, history = run_training(sc, train_set, "--epochs", "4", "--eval-every", "2", test_set=test_set)
    assert [epoch for epoch, _ in history["test_accuracy"]] == [2, 4]
    net = starting_point(settings("--hidden", "32").values, train_set).net
    X, labels = load_csv(small_compact[2], small_compact[3])
    assert history["test_accuracy"][-1][1] == pytest.approx(np.mean(nn_math.predict(theta, net, X) == labels))
    assert 0 < history["test_accuracy"][0][1] < 1
    test_set.cached.unpersist()


def test_binary_task_trains_a_two_output_network_with_the_defaults(sc, tmp_path):
    from conftest import write_data
    paths = write_data(tmp_path, "--digits", "0,1", "--limit-train", "2000", "--limit-test", "500")
    train_01 = load(sc, paths[0], paths[1], 1024)
    test_01 = load(sc, paths[2], paths[3], 1024, n_classes=2, width=784)
    args = settings("--epochs", "20")
    net, state = train(sc, args, train_01)
    assert net.sizes == [784, 64, 2]
    theta = state.theta
    confusion = evaluation.evaluate(sc, test_01, theta, net).confusion
    assert confusion.shape == (2, 2) and confusion.sum() == 500
    assert nn_math.accuracy_of(confusion) > 0.95


@pytest.mark.parametrize("optimizer", ["sgd", "momentum"])
def test_averaging_one_local_step_is_plain_data_parallel_descent(sc, train_set, optimizer):
    # The averaging code path itself, with K = 1: the row-weighted mean of the partitions'
    # single steps is the step on the whole sample's gradient (for sgd and momentum).
    args = settings("--hidden", "24", "--optimizer", optimizer, "--lr", "0.5", "--lr-schedule", "constant",
                    "--l2", "0.01", "--local-steps", "1")
    net, run_settings, state = start(sc, args, train_set)
    state.moments = {key: np.full_like(value, 0.01) for key, value in state.moments.items()}

    def epoch_one(run_epoch):
        result = run_epoch(sc, train_set, net, state, run_settings, 1)
        return result.cost, result.sums.correct, result.sums.rows, result.lr, result.theta, result.moments

    plain = epoch_one(loop.data_parallel_epoch)
    averaged = epoch_one(loop.averaging_epoch)
    assert averaged[1:4] == plain[1:4]
    assert averaged[0] == pytest.approx(plain[0], rel=1e-12)
    np.testing.assert_allclose(averaged[4], plain[4], rtol=1e-10, atol=1e-13)
    for key in plain[5]:
        np.testing.assert_allclose(averaged[5][key], plain[5][key], rtol=1e-10, atol=1e-13)


def replay_model_averaging(partitions, net, args, theta, optimizer, epochs):
    """The averaging scheme, replayed in one process over the same partitions of blocks (with
    class weights, input dropout and max-norm as the options give them)."""
    t = optimizer.get("t", 0)
    counts = np.bincount(np.concatenate([b.labels for blocks in partitions for b in blocks]), minlength=net.sizes[-1])
    class_weights = nn_math.class_weights(args.class_weight, counts) if args.class_weight else np.ones(len(counts))
    for epoch in range(1, epochs + 1):
        results = []
        for blocks in partitions:
            X = np.concatenate([b.raw() / 255.0 for b in blocks])
            Y = np.eye(net.sizes[-1])[np.concatenate([b.labels for b in blocks])]
            rows = np.concatenate([b.start + np.arange(b.rows) for b in blocks])
            keep, batch = sampling.local_batches(args.seed, epoch, rows, args.sample_fraction, args.local_steps)
            local_theta, local_state, n = theta, dict(optimizer, t=t), 0
            for step in range(args.local_steps):
                chosen = np.flatnonzero(keep)[batch == step]
                masks = [sampling.dropout_mask(args.seed, epoch, rows[chosen], layer, width, args.dropout)
                         for layer, width in enumerate(net.sizes[1:-1], 1)]
                inputs = X[chosen] * (sampling.input_dropout_mask(args.seed, epoch, rows[chosen], X.shape[1],
                                                                 args.input_dropout) if args.input_dropout else 1.0)
                w = class_weights[Y[chosen].argmax(axis=1)]
                _, grad = nn_math.backprop(local_theta, net, inputs, Y[chosen], masks, w=w)
                local_theta, local_state = optimizers.Optimizer(args.optimizer, args.momentum, args.beta1,
                                                              args.beta2).step(local_theta, grad / w.sum(), args.lr,
                                                                               local_state)
                if args.max_norm:
                    local_theta = nn_math.max_norm(local_theta, net.sizes, args.max_norm)
                n += chosen.size
            results.append((n, local_theta, local_state))
        total = sum(n for n, _, _ in results)
        theta = sum(n * th for n, th, _ in results) / total
        optimizer = {key: sum(n * st[key] for n, _, st in results) / total for key in ("m", "v")}
        t += args.local_steps
    return theta, dict(optimizer, t=t)


@pytest.mark.parametrize("options", [(), ("--class-weight", "balanced", "--input-dropout", "0.2", "--max-norm",
                                            "0.8")], ids=["plain", "class-weights-input-dropout-max-norm"])
def test_local_steps_match_a_single_process_replay(sc, train_set, options):
    args = settings("--epochs", "2", "--hidden", "16", "--activation", "relu", "--loss", "cross-entropy",
                    "--optimizer", "adam", "--lr", "0.01", "--lr-schedule", "constant", "--dropout", "0.2",
                    "--local-steps", "3", "--seed", "5", *options)
    net, state = train(sc, args, train_set)
    partitions = [p for p in train_set.blocks.glom().collect() if p]
    assert len(partitions) >= 2  # the average is over more than one model
    theta = starting_point(args.values, train_set).state.theta
    expected_theta, expected_state = replay_model_averaging(partitions, net, args, theta,
                                                            optimizers.optimizer_state("adam", theta), 2)
    np.testing.assert_allclose(state.theta, expected_theta, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(state.moments["v"], expected_state["v"], rtol=1e-9, atol=1e-15)
    assert state.moments["t"] == expected_state["t"] == 6


@pytest.mark.spark35
def test_a_comma_separated_list_reads_several_files_as_one(sc, small_compact):
    doubled = load(sc, f"{small_compact[0]},{small_compact[0]}",
                                      f"{small_compact[1]},{small_compact[1]}", block_size=500)
    X, labels = load_csv(small_compact[0], small_compact[1])
    blocks = sorted(doubled.blocks.collect(), key=lambda b: b.start)
    assert doubled.rows == 2 * SMALL_TRAIN
    np.testing.assert_array_equal(inputs_of(blocks, doubled), np.vstack([X, X]))
    np.testing.assert_array_equal(np.concatenate([b.labels for b in blocks]), np.concatenate([labels] * 2))
    doubled.cached.unpersist()


def test_float32_training_repeats_bit_for_bit_and_follows_float64_to_rounding(sc, train_set):
    theta_64, history_64 = run_training(sc, train_set)
    theta_32, history_32 = run_training(sc, train_set, "--dtype", "float32")
    again_theta, again = run_training(sc, train_set, "--dtype", "float32")
    assert again["cost"] == history_32["cost"] and np.array_equal(again_theta, theta_32)
    assert theta_32.dtype == np.float64  # the driver's weights stay float64
    assert history_32["sample"] == history_64["sample"]
    np.testing.assert_allclose(history_32["cost"], history_64["cost"], rtol=1e-5)
    np.testing.assert_allclose(history_32["lr"], history_64["lr"], rtol=1e-5)
    np.testing.assert_allclose(history_32["accuracy"], history_64["accuracy"], atol=2 / SMALL_TRAIN)
    np.testing.assert_allclose(theta_32, theta_64, rtol=1e-3, atol=1e-5)
