"""Predictions as a Parquet table: the columns named by --keep, then prediction (int) and
probability (array<float>, one per class, summing to 1), one row per input row, in input order.

The executors score the rows and write the table; nothing is collected on the driver. Each task
turns a piece of the input (up to ROWS_PER_BATCH rows of a table's piece, read as the load reads
it: inputs/pieces.py; or a CSV block) into one Arrow record batch, keyed by its place in the
input (file, piece, row); the batches are put in that order by sortByKey and become a
DataFrame (one row per batch, its Arrow IPC bytes), whose mapInArrow hands the batches to
Spark's Parquet writer as they are.
"""

import io
from functools import partial

import numpy as np

from rddnet.inputs import pieces
from rddnet.inputs.blocks import Block
from rddnet.inputs.frames import spark_session
from rddnet.inputs.tables import feature_rows
from rddnet.outputs.scores import probabilities, scores

ROWS_PER_BATCH = 8192  # rows of a table file scored and sent on at a time


def kept_columns(sc, spec, keep, output_format, path):
    """The Arrow fields of the --keep columns ``keep`` (names) of an input (loading.input_spec's
    ``spec``), as Spark's reader gives them (its types for unsigned integers and fixed-size lists),
    read from its first file's schema before any long work; DataError naming the columns there
    when one is missing, or when they cannot be kept (CSV files or output)."""
    from rddnet.errors import DataError
    from rddnet.inputs.frames import arrow_schema
    if not keep:
        return []
    if spec.format is None or output_format == "csv":
        raise DataError(f"{path}: --keep copies a table's columns into Parquet predictions; "
                        f"{'CSV files have none' if spec.format is None else 'CSV lines have no room for them'}")
    files = spec.files
    frame = spec.frame if spec.frame is not None else spark_session().read.format(spec.format).load(files[0])
    schema = arrow_schema(frame)
    names = list(schema.names)
    for name in keep:
        if name not in names:
            raise DataError(f"{files[0]}: --keep: no column {name!r} (its columns: {', '.join(names)})")
        if name in ("prediction", "probability"):
            raise DataError(f"{files[0]}: --keep {name}: the predictions have a column of that name")
    return [schema.field(name) for name in keep]


def spark_schema(fields):
    """The output table's Spark schema: ``fields`` (the kept columns' Arrow fields), then
    prediction and probability."""
    from pyspark.sql.pandas.types import from_arrow_type
    from pyspark.sql.types import ArrayType, FloatType, IntegerType, StructField, StructType
    return StructType([StructField(f.name, from_arrow_type(f.type), True) for f in fields]
                      + [StructField("prediction", IntegerType(), False),
                         StructField("probability", ArrayType(FloatType(), False), False)])


def scored_batch(columns, block, model):
    """Arrow IPC bytes of one record batch: ``columns`` ({name: Arrow array}, n rows each), then
    the prediction (n,) int32 and probability (n, k) float32 lists of the Block's rows, scaled as
    every pass scales them (Block.inputs)."""
    import pyarrow as pa
    net, theta, scale = model
    classes, P = scores(net, theta, block.inputs(scale))
    P = probabilities(P, net.loss).astype(np.float32)
    k = P.shape[1]
    probability = pa.ListArray.from_arrays(pa.array(np.arange(0, P.size + 1, k, dtype=np.int32)),
                                           pa.array(P.ravel()))
    batch = pa.RecordBatch.from_pydict({**columns, "prediction": pa.array(classes.astype(np.int32)),
                                        "probability": probability})
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
    return sink.getvalue()


def table_batches(sc, spec, fields, model_bc):
    """The RDD of ((the file's place, the piece's first byte, the batch's first row), IPC bytes)
    of a table's files, read in pieces as the load read them (inputs/pieces.py): whole files by
    pyarrow, large ones by Spark's reader. ``fields``: the kept columns' Arrow fields."""
    keep = [field.name for field in fields]
    whole = partial(file_batches, file_format=spec.format, layout=spec.layout, fields=fields, model_bc=model_bc)
    scored = partial(piece_batches, layout=spec.layout, keep=keep, model_bc=model_bc)
    return pieces.read_pieces(sc, spec, pieces.large_files(sc, spec), pieces.read_columns(spec.layout, keep), whole,
                              (scored, "place long, byte long, row long, batch binary"),
                              lambda row: ((row.place, row.byte, row.row), row.batch))


def file_batches(pair, places, file_format, layout, fields, model_bc):
    """A (qualified path, bytes) record of sc.binaryFiles (a whole table file) -> ((its place, 0,
    first row), IPC bytes) per ROWS_PER_BATCH rows: the --keep columns, as Spark's reader types
    them (``fields``), then the scores. The rows were checked by the load."""
    place, path = places[pair[0]]
    start, keep = 0, [field.name for field in fields]
    for piece in pieces.arrow_batches(pair[1], file_format, pieces.read_columns(layout, keep), ROWS_PER_BATCH, path,
                                      None):
        block = Block.of_rows(start, feature_rows(piece, layout, path, start + 1))
        kept = {field.name: piece.column(field.name).cast(field.type) for field in fields}
        yield (place, 0, start), scored_batch(kept, block, model_bc.value)
        start += piece.num_rows


def piece_batches(batches, places, layout, keep, model_bc):
    """mapInArrow's function for a table's files read in pieces (inputs/pieces.py): a partition's
    record batches -> rows of (the file's place in the input's sorted files, the piece's first
    byte, the batch's first row in the piece, IPC bytes): the --keep columns ``keep`` as the file
    holds them, then the scores. The rows were checked by the load."""
    import pyarrow as pa
    for (place, first_byte), path, runs in pieces.piece_runs(batches, places):
        start = 0
        for run in runs:
            for offset in range(0, run.num_rows, ROWS_PER_BATCH):
                piece = run.slice(offset, ROWS_PER_BATCH)
                block = Block.of_rows(start, feature_rows(piece, layout, path, start + 1))
                scored = scored_batch({name: piece.column(name) for name in keep}, block, model_bc.value)
                yield pa.RecordBatch.from_pydict({"place": [place], "byte": [first_byte], "row": [start],
                                                  "batch": [scored]})
                start += piece.num_rows


def frame_batches(batches, layout, keep, where, model_bc):
    """mapInArrow's function for an input read through a DataFrame: its record batches -> the
    --keep columns ``keep`` and the scores, batch by batch."""
    import pyarrow as pa
    for batch in batches:
        block = Block.of_rows(0, feature_rows(batch, layout, where, 1))
        yield from pa.ipc.open_stream(scored_batch({name: batch.column(name) for name in keep}, block,
                                                   model_bc.value))


def block_batch(block, header, model_bc):
    """A Block of CSV rows -> (its first row, IPC bytes): line (the row's line number in the
    input, ``header`` lines counted), then the scores."""
    import pyarrow as pa
    lines = pa.array(block.row_numbers() + 1 + header, type=pa.int64())
    return block.start, scored_batch({"line": lines}, block, model_bc.value)


def decoded(batches):
    """mapInArrow's function: record batches of one binary column (IPC bytes) -> the batches they hold."""
    import pyarrow as pa
    for batch in batches:
        for blob in batch.column(0).to_pylist():
            yield from pa.ipc.open_stream(blob)


def frame_of(spark, keyed, schema):
    """The DataFrame of an RDD of (key, IPC bytes), rows in the keys' order, of Spark ``schema``."""
    ordered = keyed.sortByKey(numPartitions=max(1, keyed.getNumPartitions())).map(lambda pair: (pair[1],))
    return spark.createDataFrame(ordered, "batch binary").mapInArrow(decoded, schema)


def prediction_table(sc, data, spec, keep, model):
    """The DataFrame of the predictions of a loaded input (data: its DataSet; spec: input_spec's
    answer), ``keep``: the kept columns' Arrow fields; ``model``: (Network, theta, Scaling). A
    table's files are read again, for the kept columns; CSV rows come from the cached blocks."""
    import pyarrow as pa
    spark = spark_session()
    model_bc = sc.broadcast(model)
    names = [field.name for field in keep]
    if spec.frame is not None:  # scored as the DataFrame's partitions come
        return spec.frame.select(*dict.fromkeys(spec.layout.names + names)).mapInArrow(
            partial(frame_batches, layout=spec.layout, keep=names, where=spec.files[0], model_bc=model_bc),
            spark_schema(keep))
    if spec.format is None:
        keyed = data.blocks.map(partial(block_batch, header=data.format["header"], model_bc=model_bc))
        keep = [pa.field("line", pa.int64())]
    else:
        keyed = table_batches(sc, spec, keep, model_bc)
    return frame_of(spark, keyed, spark_schema(keep))
