"""A DataFrame's columns as the engine reads them: the features (a column of pyspark.ml vectors,
converted to arrays on the Spark side; a column of arrays of numbers; or a list of numeric
columns) and the label, as the InputSpec of a table read through the DataFrame (inputs/frames.py),
and as the array column transform scores."""

from functools import partial

from rddnet.errors import DataError
from rddnet.inputs.frames import arrow_schema
from rddnet.inputs.loading import InputSpec
from rddnet.inputs.tables import layout_of

WHERE = "the DataFrame"  # how errors name it


def is_vector(frame, name):
    from pyspark.ml.linalg import VectorUDT
    return isinstance(frame.schema[name].dataType, VectorUDT)


def feature_columns(params, frame):
    """The feature columns ``params`` name that ``frame`` must have: featuresCols', or featuresCol."""
    names = params.getFeaturesCols() or [params.getFeaturesCol()]
    missing = [name for name in names if name not in frame.columns]
    if missing:
        raise DataError(f"{WHERE} has no column {missing[0]!r} (its columns: {', '.join(frame.columns)}); "
                        "featuresCol or featuresCols names the features")
    return names


def features_expression(params, frame):
    """The Column of the features as arrays of doubles: vectors converted by vector_to_array, an
    array column as it is, numeric columns (featuresCols', or featuresCol's one) gathered into an
    array in their order."""
    from pyspark.ml.functions import vector_to_array
    from pyspark.sql import functions as F
    from pyspark.sql.types import ArrayType
    names = feature_columns(params, frame)
    if is_vector(frame, names[0]):
        return vector_to_array(F.col(names[0]), "float64")
    if len(names) == 1 and isinstance(frame.schema[names[0]].dataType, ArrayType):
        return F.col(names[0])
    return F.array(*[F.col(name).cast("double") for name in names])  # numeric columns, in order


def training_spec(params, frame, label=True):
    """The InputSpec of ``frame``'s features (and label column, with ``label``) for load_input:
    vectors converted to arrays first, the other columns left out."""
    from pyspark.sql import functions as F
    names = feature_columns(params, frame)
    label_col = params.getLabelCol() if label else None
    if label_col is not None and label_col not in frame.columns:
        raise DataError(f"{WHERE} has no label column {label_col!r} (its columns: {', '.join(frame.columns)})")
    if is_vector(frame, names[0]):  # read as the array transform scores
        frame = frame.withColumn(names[0], features_expression(params, frame))
    selected = frame.select(*names, *([F.col(label_col).cast("double").alias(label_col)] if label_col else []))
    layout = layout_of(arrow_schema(selected), partial(any_row, selected), WHERE, label_col, names)
    return InputSpec("table", layout, [WHERE], selected, WHERE, None, label_col)


def any_row(frame, name):
    """A row's value of ``frame``'s column ``name`` (the first non-null Spark meets), as the
    one-row pyarrow Table tables.layout_of reads a vector or array column's width from; None when
    there are no rows. An aggregate, not limit(1): a frame computed by Python (a DataFrame made
    from local rows, for one) would see its Python workers cut off midway, with a trace each."""
    import pyarrow as pa
    from pyspark.sql import functions as F
    value = frame.agg(F.first(F.col(name), ignorenulls=True)).collect()[0][0]
    return None if value is None else pa.table({name: pa.array([value])})
