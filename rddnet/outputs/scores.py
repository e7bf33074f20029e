"""A model's answers for rows, the same in every output (predict.py's lines and tables, the SQL
function): the predicted class, the argmax of the network's outputs, and those outputs, or the
outputs as probabilities."""

import nn_math


def scores(net, theta, inputs):
    """(predicted classes (n,) int64, the network's outputs (n, k)) of ``inputs`` (n, d), rows
    scaled as training scaled them, at the weights ``theta``."""
    P = nn_math.forward(theta, net, inputs)[2]
    return P.argmax(axis=1), P


def probabilities(P, loss):
    """The network's outputs (n, k) as probabilities: softmax's as they are; an sse network's
    sigmoid outputs divided by their sum."""
    return P if loss == "cross-entropy" else P / P.sum(axis=1, keepdims=True)


def raw_scores(net, theta, inputs):
    """(the output layer's pre-activations (n, k), as MLlib's classifiers give rawPrediction; the
    network's outputs (n, k)) of ``inputs`` (n, d), scaled as training scaled them."""
    h, _, P = nn_math.forward(theta, net, inputs)
    W, b = nn_math.layer_views(theta, net.sizes)[-1]
    return nn_math.pre_activation(h[-1], W, b), P
