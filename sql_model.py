"""A trained model as a Spark SQL function: NAME(features) -> struct<prediction: int,
probability: array<float>>, the same classes and scores predict.py writes.

    predict.register_model(spark, "mnist_mlp", "output/run/model")
    spark.sql("SELECT id, mnist_mlp(features).prediction FROM digits")

A pandas (Arrow) UDF: Spark hands the Python workers column batches, each batch is scaled as the
training set was and goes through the network as one matrix product per layer; the model is
broadcast once. The features are an array of numbers or a pyspark.ml vector (dense or sparse).
"""

import numpy as np

import nn_math

PREDICTION = "struct<prediction: int, probability: array<float>>"


def vector_matrix(kinds, sizes, indices, values, width):
    """pyspark.ml vectors as Spark stores them, one row each: kind 1 dense (``values`` its
    values) or 0 sparse (``sizes`` its length, ``indices`` and ``values`` its entries) -> (n, width)."""
    X = np.zeros((len(kinds), width))
    for i, (kind, size, index, value) in enumerate(zip(kinds, sizes, indices, values)):
        if (len(value) if kind == 1 else size) != width:
            raise ValueError(f"a vector of {len(value) if kind == 1 else size} values; the model takes {width}")
        if kind == 1:
            X[i] = value
        else:
            X[i, index] = value
    return X


def feature_matrix(features, width):
    """A batch of the function's argument (a pandas Series of arrays, or a DataFrame of vectors'
    fields) -> (n, width) float64."""
    if hasattr(features, "columns"):  # a struct: pyspark.ml vectors
        return vector_matrix(features["type"].to_numpy(), features["size"].to_numpy(), features["indices"].to_numpy(),
                             features["values"].to_numpy(), width)
    lengths = {len(row) for row in features}
    if lengths - {width}:
        raise ValueError(f"an array of {min(lengths - {width})} values; the model takes {width}")
    return np.stack(features.to_numpy()).astype(np.float64) if len(features) else np.zeros((0, width))


def probabilities(P, loss):
    """The network's outputs (n, k) as probabilities: softmax's as they are; an sse network's
    sigmoid outputs divided by their sum."""
    return P if loss == "cross-entropy" else P / P.sum(axis=1, keepdims=True)


def score(features, model_bc):
    """One batch -> a pandas DataFrame of "prediction" (int32) and "probability" (float32 lists)."""
    import pandas as pd
    net, theta, scale = model_bc.value
    P = nn_math.forward(theta, net, scale.apply(feature_matrix(features, net.sizes[0])))[2]
    return pd.DataFrame({"prediction": P.argmax(axis=1).astype(np.int32),
                         "probability": list(probabilities(P, net.loss).astype(np.float32))})


# Spark 4.3 passes columnar input to pandas UDFs directly, and that path rejects vector columns
# (UNSUPPORTED_DATATYPE UDT); the row path takes them. Set for the session by register_model.
COLUMNAR_INPUT = "spark.sql.execution.arrow.pythonUDF.columnarInput.enabled"


def accept_vectors(spark):
    """Let pandas UDFs take pyspark.ml vector columns on Spark versions that pass columnar input
    (a setting the others do not read)."""
    spark.conf.set(COLUMNAR_INPUT, "false")


def model_function(sc, net, theta, scale):
    """The pandas UDF of a model (a Network, its theta and Scaling), its weights broadcast once."""
    import pandas as pd
    from pyspark.sql.functions import pandas_udf
    model_bc = sc.broadcast((net, theta, scale))

    @pandas_udf(PREDICTION)
    def predict(features: pd.Series) -> pd.DataFrame:
        return score(features, model_bc)
    return predict
