"""The trained model as an ONNX graph, for onnxruntime and every other ONNX runtime.

    features (n, d) float32, the file's raw values
      -> Sub(shift) -> Div(divisor)                  the input scaling (inputs/scaling.py)
      -> MatMul(W[l]) -> Add(b[l]) -> f              per layer: tanh, sigmoid or relu; then the
                                                     output: sigmoid (sse) or softmax (cross-entropy)
      -> probabilities (n, k) float32

The onnx package is optional: it is imported only here, when the export runs.
"""

import numpy as np

import nn_math

OPSET = 13  # Softmax over the last axis; every current onnxruntime runs it
IR_VERSION = 7
OPERATORS = {"tanh": "Tanh", "sigmoid": "Sigmoid", "relu": "Relu", "softmax": "Softmax"}


def model_bytes(net, theta, scale):
    """The serialized ONNX model of a Network, its flat theta and its scaling.Scaling.
    Raises ImportError without the onnx package."""
    from onnx import TensorProto, checker, helper, numpy_helper

    initializers, nodes = [], []

    def constant(name, value):
        initializers.append(numpy_helper.from_array(np.asarray(value, dtype=np.float32), name))
        return name

    def node(operator, inputs, output):
        nodes.append(helper.make_node(operator, inputs, [output]))
        return output

    d, k = net.sizes[0], net.sizes[-1]
    h = node("Sub", ["features", constant("shift", np.broadcast_to(scale.shift, (d,)))], "centred")
    h = node("Div", [h, constant("divisor", np.broadcast_to(scale.divisor, (d,)))], "h0")
    for l, ((W, b), activation) in enumerate(zip(nn_math.layer_views(theta, net.sizes), net.activations)):
        z = node("Add", [node("MatMul", [h, constant(f"W{l}", W)], f"hW{l}"), constant(f"b{l}", b)], f"z{l}")
        h = node(OPERATORS[activation], [z], "probabilities" if l == net.layers - 1 else f"h{l + 1}")
    graph = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("features", TensorProto.FLOAT, [None, d])],
                              [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, k])],
                              initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="main_task.py",
                              ir_version=IR_VERSION)
    checker.check_model(model)
    return model.SerializeToString()
