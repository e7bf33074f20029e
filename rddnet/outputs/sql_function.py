"""A trained model as a Spark SQL function: NAME(features) -> struct<prediction: int,
probability: array<float>>, the same classes and scores predict.py writes.

    register_model(spark, "mnist_mlp", "output/run/model")
    spark.sql("SELECT id, mnist_mlp(features).prediction FROM digits")

A pandas (Arrow) UDF: Spark hands the Python workers column batches, each batch is scaled as the
training set was and goes through the network as one matrix product per layer; the model is
broadcast once. The features are an array of numbers or a pyspark.ml vector (dense or sparse).
A row that cannot be scored (NULL, or a NULL, NaN or infinite value in it) gives NULL prediction
and probability; a row of another width than the model's fails the query, naming the width.
"""

import numpy as np

from rddnet.errors import DataError
from rddnet.inputs.tables import vector_matrix
from rddnet.outputs import model_file
from rddnet.outputs.scores import probabilities, scores
from rddnet.shipping import ship_code, ship_code_over_connect

PREDICTION = "struct<prediction: int, probability: array<float>>"


def argument_matrix(features, width):
    """A batch of the function's argument (a pandas Series of arrays, or a DataFrame of vectors'
    fields; n rows) -> (X (n, width) float64, scored (n,) bool): ``scored`` marks the rows that
    can be scored, the others (NULL, or holding a NULL, NaN or infinite value) are zeros in X.
    ValueError naming the model's width for a row of another number of values."""
    read = vectors if hasattr(features, "columns") else arrays  # a struct: pyspark.ml vectors
    present = (features["type"] if read is vectors else features).notna().to_numpy()
    X = np.zeros((len(present), width))
    if present.any():
        X[present] = read(features[present], width)
    scored = present & np.isfinite(X).all(axis=1)
    X[~scored] = 0.0
    return X, scored


def arrays(features, width):
    """A pandas Series of arrays of numbers, none of them NULL -> (n, width) float64 (a NULL
    element as NaN)."""
    rows = [np.asarray(row, dtype=np.float64) for row in features]  # None -> NaN
    lengths = {len(row) for row in rows}
    if lengths - {width}:
        raise ValueError(f"an array of {min(lengths - {width})} values; the model takes {width}")
    return np.stack(rows)


def vectors(fields, width):
    """A pandas DataFrame of pyspark.ml vectors' fields (type, size, indices, values), none of them
    NULL -> (n, width)."""
    kinds = fields["type"].to_numpy().astype(np.int8)
    values = [np.asarray(v, dtype=np.float64) for v in fields["values"]]
    lengths = np.array([len(v) for v in values], dtype=np.int64)
    sizes = np.where(kinds == 1, lengths, fields["size"].fillna(0).to_numpy().astype(np.int64))
    if (sizes != width).any():
        raise ValueError(f"a vector of {sizes[sizes != width][0]} values; the model takes {width}")
    indices = [np.asarray(i, dtype=np.int64) for vector_type, i in zip(kinds, fields["indices"]) if vector_type == 0]
    return vector_matrix(kinds, lengths, np.concatenate(values or [np.zeros(0)]),
                         np.concatenate(indices or [np.zeros(0, dtype=np.int64)]), width)


def score(features, model_bc):
    """One batch -> a pandas DataFrame of "prediction" (int32) and "probability" (float32 lists),
    both NULL in a row that cannot be scored (argument_matrix), as SQL answers what it cannot."""
    import pandas as pd
    net, theta, scale = model_bc.value
    X, scored = argument_matrix(features, net.sizes[0])
    classes, P = scores(net, theta, scale.apply(X))
    prediction = pd.array(classes.astype(np.int32), dtype="Int32")
    prediction[~scored] = pd.NA
    probability = [row if ok else None for row, ok in zip(probabilities(P, net.loss).astype(np.float32), scored)]
    return pd.DataFrame({"prediction": prediction, "probability": probability})


# Spark 4.3 passes columnar input to pandas UDFs directly, and that path rejects vector columns
# (UNSUPPORTED_DATATYPE UDT); the row path takes them. Set for the session by register_model.
COLUMNAR_INPUT = "spark.sql.execution.arrow.pythonUDF.columnarInput.enabled"


def accept_vectors(spark):
    """Let pandas UDFs take pyspark.ml vector columns on Spark versions that pass columnar input
    (a setting the others do not read)."""
    spark.conf.set(COLUMNAR_INPUT, "false")


def model_function(net, theta, scale, sc=None):
    """The pandas UDF of a model (a Network, its theta and Scaling): its weights broadcast once
    through the SparkContext ``sc``, or (None: over Spark Connect) carried in the UDF itself."""
    import pandas as pd
    from pyspark.sql.functions import pandas_udf
    model = sc.broadcast((net, theta, scale)) if sc is not None else Carried((net, theta, scale))

    @pandas_udf(PREDICTION)
    def predict(features: pd.Series) -> pd.DataFrame:
        return score(features, model)
    return predict


class Carried:
    """The weights in the UDF's own pickle, read as a broadcast is: .value."""

    def __init__(self, value):
        self.value = value


def register_model(spark, name, model_dir):
    """Register the model of MODEL_DIR (a run's model/ folder, or the run's folder) as the Spark SQL
    function ``name``(features), features an array of numbers or a pyspark.ml vector, returning a
    struct of prediction (int) and probability (array<float>), as predict.py writes them
    Returns the function, for DataFrames: frame.select(function("features")). Over Spark Connect
    the model is read with the session's reader and its weights travel in the function."""
    if model_file.over_connect(spark):
        ship_code_over_connect(spark)
        sc, (net, theta, scale, _) = None, model_file.read_model_through(spark, model_dir)
    else:
        sc = spark.sparkContext
        ship_code(sc)  # the executors import nn_math and this module
        net, theta, scale, _ = model_file.read_model(sc, model_dir, log=lambda line: None)
    if scale.divisor is None:
        raise DataError(f"{model_dir}: a model of the first file format keeps no input scaling (predict.py takes it "
                        f"from the data); train it again to use it in SQL")
    function = model_function(net, theta, scale, sc)
    spark.udf.register(name, function)
    accept_vectors(spark)
    return function
