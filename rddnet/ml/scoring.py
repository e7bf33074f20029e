"""transform's one vectorized pandas UDF: a batch of feature arrays -> a struct of the raw
prediction (the output layer's pre-activations), the probabilities and the predicted class. The
weights travel in the UDF's closure (no broadcast, no SparkContext: it runs over Spark Connect
too); a row that cannot be scored (NULL, or a NULL, NaN or infinite value) gets NULLs."""

import numpy as np

SCORES = "struct<raw: array<double>, probability: array<double>, prediction: double>"


def scored_frame(features, net, theta, scaling):
    """One batch (a pandas Series of arrays, n rows) -> a pandas DataFrame of raw, probability
    (lists of k doubles) and prediction (a double), NULL where a row cannot be scored."""
    import pandas as pd

    from rddnet.outputs.scores import probabilities, raw_scores
    from rddnet.outputs.sql_function import argument_matrix
    X, ok = argument_matrix(features, net.sizes[0])
    raw, P = raw_scores(net, theta, scaling.apply(X))
    P = probabilities(P, net.loss)
    prediction = pd.Series(P.argmax(axis=1).astype(np.float64)).where(ok)
    return pd.DataFrame({"raw": [row if good else None for row, good in zip(raw.tolist(), ok)],
                         "probability": [row if good else None for row, good in zip(P.tolist(), ok)],
                         "prediction": prediction})


def scoring_udf(net, theta, scaling):
    """The pandas UDF of a model (its Network, theta and Scaling, carried in the closure)."""
    import pandas as pd
    from pyspark.sql.functions import pandas_udf

    @pandas_udf(SCORES)
    def score(features: pd.Series) -> pd.DataFrame:
        return scored_frame(features, net, theta, scaling)
    return score
