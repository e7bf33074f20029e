"""The mathematics of a fully connected network: NumPy only, no Spark.

Shapes (one row per example, as the data is stored):

    X      (n, d[0])               a block of n input rows
    W[l]   (d[l], d[l+1])          weights of layer l;  b[l]  (d[l+1],)
    z[l]   = a[l] @ W[l] + b[l]    pre-activation,      (n, d[l+1])
    a[l+1] = f_l(z[l])             activation;          a[0] = X
    E      = 1/2 sum (a[L] - Y)^2  sum-of-squares error of the block, Y (n, d[L])

All parameters live in one flat vector ``theta``: W[0], b[0], W[1], b[1], ...
Each layer's W and b are views into it (``layer_views``), so a gradient is one
flat vector too and sums of gradients are a single ``+=``.

Backward propagation, with f' written in terms of the activation a = f(z):

    delta[L-1] = (a[L] - Y) * f'(a[L])                    output layer, SSE
    delta[l-1] = (delta[l] @ W[l].T) * f'(a[l])           hidden layers
    dE/dW[l]   = a[l].T @ delta[l],   dE/db[l] = sum over rows of delta[l]
"""

import json

import numpy as np

# ---------------------------------------------------------------- parameters

def parameter_count(sizes):
    """Number of weights and biases of a network with layer sizes ``sizes``."""
    return sum((d_in + 1) * d_out for d_in, d_out in zip(sizes[:-1], sizes[1:]))


def layer_views(theta, sizes):
    """Split the flat vector ``theta`` into [(W (d[l], d[l+1]), b (d[l+1],)), ...].

    The arrays are views: writing into them writes into ``theta``.
    """
    views, offset = [], 0
    for d_in, d_out in zip(sizes[:-1], sizes[1:]):
        W = theta[offset:offset + d_in * d_out].reshape(d_in, d_out)
        offset += d_in * d_out
        b = theta[offset:offset + d_out]
        offset += d_out
        views.append((W, b))
    return views


def init_uniform(sizes, rng, low=-0.5, high=0.5):
    """Every weight and bias drawn uniformly from [low, high): a flat float64 vector."""
    return rng.uniform(low, high, size=parameter_count(sizes))


# --------------------------------------------------------------- activations

def sigmoid(z):
    """1 / (1 + exp(-z)), computed through exp(-|z|) so it never overflows."""
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0, e) / (1.0 + e)


# name -> (f(z), f'(z) expressed through a = f(z))
ACTIVATIONS = {
    "tanh": (np.tanh, lambda a: 1.0 - a * a),
    "sigmoid": (sigmoid, lambda a: a * (1.0 - a)),
}


def layer_activations(n_layers, hidden="tanh", output="sigmoid"):
    """Activation names, one per layer: ``hidden`` everywhere but the last."""
    return [hidden] * (n_layers - 1) + [output]


def activate(name, z):
    """a = f(z) for the activation called ``name``; same shape as z."""
    return ACTIVATIONS[name][0](z)


def activation_derivative(name, a):
    """f'(z) for the activation called ``name``, computed from a = f(z)."""
    return ACTIVATIONS[name][1](a)


# ------------------------------------------------------- forward and backward

def pre_activation(a, W, b):
    """z = a @ W + b: (n, d_in) @ (d_in, d_out) + (d_out,) -> (n, d_out)."""
    return a @ W + b


def sse(a_out, Y):
    """E = 1/2 sum (a_out - Y)^2 over every row and output: a float."""
    diff = a_out - Y
    return 0.5 * float(np.einsum("ij,ij->", diff, diff))


def output_delta_sse(a_out, Y, name):
    """delta of the last layer for the SSE error: (a_out - Y) * f'(a_out), (n, k)."""
    return (a_out - Y) * activation_derivative(name, a_out)


def hidden_delta(delta_next, W_next, a, name):
    """delta[l-1] = (delta[l] @ W[l].T) * f'(a[l]): (n, d[l+1]) -> (n, d[l])."""
    return (delta_next @ W_next.T) * activation_derivative(name, a)


def layer_gradients(a_prev, delta):
    """(dE/dW, dE/db) of one layer summed over the block: ((d_in, d_out), (d_out,))."""
    return a_prev.T @ delta, delta.sum(axis=0)


def forward(theta, sizes, activations, X):
    """All activations [a[0] = X, a[1], ..., a[L]] of a block X (n, d[0])."""
    a = [X]
    for (W, b), name in zip(layer_views(theta, sizes), activations):
        a.append(activate(name, pre_activation(a[-1], W, b)))
    return a


def backprop(theta, sizes, activations, X, Y):
    """(E, dE/dtheta) of a block: E summed over rows, gradient flat like theta."""
    a = forward(theta, sizes, activations, X)
    views = layer_views(theta, sizes)
    grad = np.empty_like(theta)
    grad_views = layer_views(grad, sizes)
    delta = output_delta_sse(a[-1], Y, activations[-1])
    for l in reversed(range(len(views))):
        nabla_W, nabla_b = grad_views[l]
        nabla_W[...], nabla_b[...] = layer_gradients(a[l], delta)
        if l > 0:
            delta = hidden_delta(delta, views[l][0], a[l], activations[l - 1])
    return sse(a[-1], Y), grad


def predict(theta, sizes, activations, X):
    """Predicted class of each row: the argmax of the output layer, (n,) ints."""
    return forward(theta, sizes, activations, X)[-1].argmax(axis=1)


def count_correct(a_out, Y):
    """How many rows have argmax(a_out) == argmax(Y): an int."""
    return int(np.count_nonzero(a_out.argmax(axis=1) == Y.argmax(axis=1)))


# ------------------------------------------------------------ data and sample

def one_hot(labels, k, dtype=np.float32):
    """Target matrix (n, k) with a 1 in column labels[i] of row i."""
    Y = np.zeros((len(labels), k), dtype=dtype)
    Y[np.arange(len(labels)), labels] = 1
    return Y


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _splitmix64(z):
    """The SplitMix64 finaliser: a bijective mix of a uint64 array."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def row_uniforms(seed, epoch, rows):
    """A uniform number in [0, 1) for each global row number, fixed by (seed, epoch, row).

    A counter-based generator: the value of a row does not depend on which
    block or partition holds it, so a sample is the same however data is split.
    """
    rows = np.asarray(rows, dtype=np.uint64)
    with np.errstate(over="ignore"):  # uint64 arithmetic wraps on purpose
        key = _splitmix64(np.array([seed], dtype=np.uint64) + _GOLDEN)
        key = _splitmix64(key + np.uint64(epoch) * _GOLDEN)
        bits = _splitmix64(key + rows * _GOLDEN)
    return (bits >> np.uint64(11)).astype(np.float64) * 2.0 ** -53


def sample_mask(seed, epoch, rows, fraction):
    """Boolean mask keeping each row with probability ``fraction``, (len(rows),)."""
    return row_uniforms(seed, epoch, rows) < fraction


# ------------------------------------------------------------- learning rate

def bold_driver(lr, cost, previous_cost, up=1.05, down=0.5):
    """Next learning rate: ``lr * up`` if the cost fell, ``lr * down`` if not.

    The first epoch has no previous cost (None) and keeps ``lr``.
    """
    if previous_cost is None:
        return lr
    return lr * up if cost < previous_cost else lr * down


# ------------------------------------------------------------------- metrics

def confusion_matrix(true, pred, k):
    """(k, k) counts: row = true class, column = predicted class."""
    return np.bincount(np.asarray(true) * k + np.asarray(pred), minlength=k * k).reshape(k, k)


def precision_recall_f1(confusion):
    """Per-class (precision, recall, F1), each (k,), from a confusion matrix.

    A class never predicted has precision 0; a class never present has recall 0
    (the convention scikit-learn calls zero_division=0).
    """
    confusion = np.asarray(confusion, dtype=np.float64)
    tp = np.diag(confusion)
    predicted, actual = confusion.sum(axis=0), confusion.sum(axis=1)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, actual, out=np.zeros_like(tp), where=actual > 0)
    both = precision + recall
    f1 = np.divide(2 * precision * recall, both, out=np.zeros_like(tp), where=both > 0)
    return precision, recall, f1


# --------------------------------------------------------------- model files

MODEL_FORMAT = "mnist-mlp-model/1"


def model_to_lines(sizes, activations, theta):
    """The model as JSON lines: a header, then per layer a line {"layer", "b"} and one
    line {"layer", "row", "W"} per row of W.

    JSON writes floats with repr, so the weights read back bit for bit; no pickle.
    """
    header = {"format": MODEL_FORMAT, "layer_sizes": list(sizes), "activations": list(activations)}
    lines = [json.dumps(header)]
    for l, (W, b) in enumerate(layer_views(theta, sizes)):
        lines.append(json.dumps({"layer": l, "b": b.tolist()}))
        lines.extend(json.dumps({"layer": l, "row": i, "W": row}) for i, row in enumerate(W.tolist()))
    return lines


def model_from_lines(lines):
    """(sizes, activations, theta) from the lines model_to_lines wrote, in any order.

    Raises ValueError if a line is not JSON or a weight is missing or misshapen.
    """
    records = [json.loads(line) for line in lines if line.strip()]
    headers = [r for r in records if "format" in r]
    if len(headers) != 1 or headers[0]["format"] != MODEL_FORMAT:
        raise ValueError(f"not a model file (expected one header line with format {MODEL_FORMAT!r})")
    sizes, activations = headers[0]["layer_sizes"], headers[0]["activations"]
    theta = np.full(parameter_count(sizes), np.nan)
    views = layer_views(theta, sizes)
    for r in records:
        if "b" in r:
            views[r["layer"]][1][...] = r["b"]
        elif "W" in r:
            views[r["layer"]][0][r["row"]] = r["W"]
    if np.isnan(theta).any():
        raise ValueError("some weights are missing")
    return sizes, activations, theta
