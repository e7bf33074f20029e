"""The mathematics of a fully connected network: NumPy only, no Spark.

Shapes (one row per example, as the data is stored):

    X       (n, d[0])                a block of n input rows; h[0] = X
    W[l]    (d[l], d[l+1])           weights of layer l;  b[l]  (d[l+1],)
    z[l]    = h[l] @ W[l] + b[l]     pre-activation,      (n, d[l+1])
    h[l+1]  = f(z[l]) * M[l+1]       hidden layers; M is an inverted-dropout mask (1 without dropout)
    P       = g(z[L-1])              output: sigmoid for the loss "sse", softmax for "cross-entropy"
    E       = 1/2 sum (P - Y)^2      or  -sum Y log P, summed over the block;  Y (n, k) one-hot

Backward propagation:

    delta[L-1] = (P - Y) * P (1 - P)                 sse with sigmoid outputs
    delta[L-1] = P - Y                               cross-entropy with softmax (fused)
    delta[l-1] = (delta[l] @ W[l].T) * gate[l]       gate[l] = f'(z[l-1]) * M[l]
    dE/dW[l]   = h[l].T @ delta[l],   dE/db[l] = sum over rows of delta[l]

All parameters live in one flat vector ``theta``: W[0], b[0], W[1], b[1], ...
Each layer's W and b are views into it (``layer_views``), so a gradient is one
flat vector too and sums of gradients are a single ``+=``.

The seeded samples and dropout masks are sampling.py's; optimisers, learning-rate schedules
and early stopping, training/optimizers.py's.

Precision: the forward and backward passes run in the dtype of theta and X (float32 or
float64, the same for both); whatever is summed over rows beyond one matrix product (the
error, dE/db) and every gradient are float64, as are the optimizers' steps.
"""

from collections import namedtuple

import numpy as np

# Overflow and NaN appear only when training diverges, which the driver detects from the
# cost and the weights and reports in one line: the formulas stay quiet about them.
quiet_overflow = np.errstate(over="ignore", invalid="ignore")


class Network(namedtuple("Network", "sizes activation loss")):
    """Layer sizes [d0, hidden..., k], the hidden layers' activation name, the loss name."""

    __slots__ = ()

    @property
    def layers(self):
        return len(self.sizes) - 1

    @property
    def activations(self):
        """One activation name per layer: the hidden one, then the loss's output function."""
        return [self.activation] * (self.layers - 1) + [LOSSES[self.loss].output]


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


def weight_mask(sizes):
    """Boolean vector like theta: True at weights, False at biases (which are not regularised)."""
    mask = np.zeros(parameter_count(sizes), dtype=bool)
    for W, _ in layer_views(mask, sizes):
        W[...] = True
    return mask


def init_parameters(sizes, rng, scheme="uniform"):
    """Initial theta (flat float64).

    uniform: every weight and bias from U[-0.5, 0.5), as the original;
    xavier:  W from U(-r, r) with r = sqrt(6 / (d_in + d_out)), biases 0 (Glorot and Bengio);
    he:      W from N(0, 2 / d_in), biases 0 (He et al., for relu).
    """
    if scheme == "uniform":
        return rng.uniform(-0.5, 0.5, size=parameter_count(sizes))
    theta = np.zeros(parameter_count(sizes))
    for W, _ in layer_views(theta, sizes):
        d_in, d_out = W.shape
        if scheme == "xavier":
            limit = np.sqrt(6.0 / (d_in + d_out))
            W[...] = rng.uniform(-limit, limit, size=W.shape)
        elif scheme == "he":
            W[...] = rng.normal(0.0, np.sqrt(2.0 / d_in), size=W.shape)
        else:
            raise ValueError(f"unknown initialisation {scheme!r}")
    return theta


# --------------------------------------------------------------- activations

@quiet_overflow
def sigmoid(z):
    """1 / (1 + exp(-z)), computed through exp(-|z|) so it never overflows."""
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0, e) / (1.0 + e)


@quiet_overflow
def softmax(z):
    """Row-wise exp(z) / sum exp(z), shifted by the row maximum so it never overflows."""
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


# name -> (f(z), f'(z) expressed through a = f(z)); softmax only ever comes fused with its loss
ACTIVATIONS = {
    "tanh": (np.tanh, lambda a: 1.0 - a * a),
    "sigmoid": (sigmoid, lambda a: a * (1.0 - a)),
    "relu": (lambda z: np.maximum(z, 0.0), lambda a: (a > 0).astype(a.dtype)),
    "softmax": (softmax, None),
}
HIDDEN_ACTIVATIONS = ("sigmoid", "tanh", "relu")


@quiet_overflow
def activate(name, z):
    """a = f(z) for the activation called ``name``; same shape as z."""
    return ACTIVATIONS[name][0](z)


def activation_derivative(name, a):
    """f'(z) for the elementwise activation called ``name``, computed from a = f(z)."""
    return ACTIVATIONS[name][1](a)


# ---------------------------------------------------------------------- loss

def row_sum(terms, w):
    """sum_i w_i sum_j terms_ij of an (n, k) array in float64 (w (n,) row weights; None: all 1)."""
    terms = as_float64(terms)
    return float(terms.sum()) if w is None else float(np.einsum("ij,i->", terms, as_float64(w)))


def weighted(delta, w):
    """An output delta (n, k) with each row's times its weight w_i (w None: as it is)."""
    return delta if w is None else delta * w[:, None].astype(delta.dtype, copy=False)


@quiet_overflow
def sse(P, Y, w=None):
    """E = 1/2 sum_i w_i sum_j (P_ij - Y_ij)^2 (w: row weights, None: all 1): a float."""
    diff = as_float64(P - Y)
    if w is None:
        return 0.5 * float(np.einsum("ij,ij->", diff, diff))
    return 0.5 * row_sum(diff * diff, w)


@quiet_overflow
def cross_entropy(P, Y, w=None):
    """E = -sum_i w_i sum_j Y_ij log P_ij (w: row weights, None: all 1): a float (P clipped
    away from 0)."""
    log_P = np.log(np.maximum(P, np.finfo(P.dtype).tiny))
    if w is None:
        return -float(np.einsum("ij,ij->", as_float64(Y), as_float64(log_P)))
    return -row_sum(as_float64(Y) * as_float64(log_P), w)


@quiet_overflow
def sse_output_delta(P, Y, w=None):
    """dE/dz of the output layer for sse and sigmoid outputs: w_i (P - Y) P (1 - P), (n, k)."""
    return weighted((P - Y) * activation_derivative("sigmoid", P), w)


def cross_entropy_output_delta(P, Y, w=None):
    """dE/dz of the output layer for cross-entropy and softmax outputs, fused: w_i (P - Y), (n, k)."""
    return weighted(P - Y, w)


Loss = namedtuple("Loss", "output error output_delta")
LOSSES = {
    "sse": Loss("sigmoid", sse, sse_output_delta),
    "cross-entropy": Loss("softmax", cross_entropy, cross_entropy_output_delta),
}


# ------------------------------------------------------- forward and backward

@quiet_overflow
def pre_activation(h, W, b):
    """z = h @ W + b: (n, d_in) @ (d_in, d_out) + (d_out,) -> (n, d_out)."""
    return h @ W + b


@quiet_overflow
def hidden_layer(name, z, mask=None):
    """(h, gate) of a hidden layer: h = f(z) * mask, gate = f'(z) * mask, both like z.

    ``mask`` is an inverted-dropout mask (0 or 1/(1-rate)); None means no dropout.
    """
    a = activate(name, z)
    gate = activation_derivative(name, a)
    if mask is None:
        return a, gate
    return a * mask, gate * mask


@quiet_overflow
def hidden_delta(delta_next, W_next, gate):
    """delta[l-1] = (delta[l] @ W[l].T) * gate[l]: (n, d[l+1]) -> (n, d[l])."""
    return (delta_next @ W_next.T) * gate


@quiet_overflow
def layer_gradients(h, delta):
    """(dE/dW, dE/db) of one layer summed over the block: ((d_in, d_out) in h's dtype, (d_out,) float64)."""
    return h.T @ delta, delta.sum(axis=0, dtype=np.float64)


def forward(theta, net, X, masks=None):
    """(layer inputs [h[0] = X, ..., h[L-1]], gates [None, gate[1], ...], outputs P).

    ``masks``: one dropout mask (or None) per hidden layer, for training; none at evaluation.
    """
    h, gates = [X], [None]
    views = layer_views(theta, net.sizes)
    for l, (W, b) in enumerate(views[:-1]):
        h_next, gate = hidden_layer(net.activation, pre_activation(h[-1], W, b), masks[l] if masks else None)
        h.append(h_next)
        gates.append(gate)
    W, b = views[-1]
    return h, gates, activate(LOSSES[net.loss].output, pre_activation(h[-1], W, b))


def backprop(theta, net, X, Y, masks=None, outputs=False, w=None):
    """(E, dE/dtheta) of a block: E summed over rows (each row's times its weight w_i, w (n,);
    None: all 1), the gradient flat like theta.

    With ``outputs``, (E, dE/dtheta, P): the outputs P (n, k) too.
    """
    h, gates, P = forward(theta, net, X, masks)
    views = layer_views(theta, net.sizes)
    grad = np.empty(theta.shape, dtype=np.float64)
    grad_views = layer_views(grad, net.sizes)
    delta = LOSSES[net.loss].output_delta(P, Y, w)
    for l in reversed(range(net.layers)):
        nabla_W, nabla_b = grad_views[l]
        nabla_W[...], nabla_b[...] = layer_gradients(h[l], delta)
        if l > 0:
            delta = hidden_delta(delta, views[l][0], gates[l])
    error = LOSSES[net.loss].error(P, Y, w)
    return (error, grad, P) if outputs else (error, grad)


def predict(theta, net, X):
    """Predicted class of each row: the argmax of the outputs, no dropout, (n,) ints."""
    return forward(theta, net, X)[2].argmax(axis=1)


def count_correct(P, Y):
    """How many rows have argmax(P) == argmax(Y): an int."""
    return int(np.count_nonzero(P.argmax(axis=1) == Y.argmax(axis=1)))


# -------------------------------------------------------------------- sums

@quiet_overflow
def in_dtype(theta, dtype):
    """theta cast to the passes' dtype (a diverged run's weights become inf in float32: quietly,
    the driver reports the divergence)."""
    return theta.astype(dtype)


def as_float64(a):
    """a as float64 (no copy when it is already), for sums that must not round to float32."""
    return a.astype(np.float64, copy=False)


def two_sum(a, b):
    """(s, e) with s = fl(a + b) and s + e == a + b exactly (Knuth's TwoSum), elementwise.

    Carrying e alongside s makes a sum of partial sums independent of the order
    they are combined in, to about 1e-32 relative (a double-double accumulator).
    """
    s = a + b
    b_part = s - a
    return s, (a - (s - b_part)) + (b - b_part)


# ------------------------------------------------------------ regularisation

def penalty(theta, sizes, l1=0.0, l2=0.0):
    """l1 * sum |W| + l2/2 * sum W^2 over the weights (not the biases): a float."""
    W = theta[weight_mask(sizes)]
    return l1 * float(np.abs(W).sum()) + 0.5 * l2 * float(W @ W)


def penalty_gradient(theta, sizes, l1=0.0, l2=0.0):
    """d penalty / d theta: l1 sign(W) + l2 W at the weights, 0 at the biases; like theta."""
    return weight_mask(sizes) * (l1 * np.sign(theta) + l2 * theta)


# ------------------------------------------------------------------ targets

def one_hot(labels, k, dtype=np.float32):
    """Target matrix (n, k) with a 1 in column labels[i] of row i."""
    Y = np.zeros((len(labels), k), dtype=dtype)
    Y[np.arange(len(labels)), labels] = 1
    return Y


# ------------------------------------------------------------------ max-norm

def max_norm(theta, sizes, c, in_place=False):
    """theta with each unit's incoming weights (a column of a layer's W) scaled down to Euclidean
    norm ``c`` where they are longer (Srivastava et al.'s max-norm constraint); biases as they
    are. A new array, or ``theta`` itself changed ``in_place``."""
    theta = theta if in_place else theta.copy()
    for W, _ in layer_views(theta, sizes):
        norms = np.sqrt(np.einsum("ij,ij->j", W, W))
        W *= np.minimum(1.0, c / np.maximum(norms, np.finfo(np.float64).tiny))
    return theta


# ------------------------------------------------------------- class weights

def class_weights(spec, counts):
    """The weight of each class (k,) float64: ``spec`` "balanced" gives n / (k n_c) for the class
    counts ``counts`` (k,), as scikit-learn computes it (0 for a class with no rows), and a
    list of k weights gives them."""
    counts = np.asarray(counts, dtype=np.float64)
    if spec != "balanced":
        return np.asarray(spec, dtype=np.float64)
    n, k = counts.sum(), len(counts)
    return np.divide(n, k * counts, out=np.zeros(k), where=counts > 0)


# ------------------------------------------------------------------- metrics

def confusion_matrix(true, pred, k):
    """(k, k) counts: row = true class, column = predicted class."""
    return np.bincount(np.asarray(true) * k + np.asarray(pred), minlength=k * k).reshape(k, k)


def accuracy_of(confusion):
    """Share of the rows on the diagonal of a confusion matrix: a float."""
    return float(np.trace(confusion) / confusion.sum())


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
