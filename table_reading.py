"""Tables as Spark users keep them: Parquet and ORC files (one file, a folder of part files, a
glob or a list), their features in one column of ML vectors or of arrays, or in numeric columns,
their label in a column named by --label-column.

The driver learns the columns from Spark's reader (it reads only the files' footers) and
resolves which are the label and the features (Layout). The executors read each file whole with
pyarrow (``sc.binaryFiles``: through Hadoop, so any Hadoop path) and cut its rows, in the file's
own order, into the same blocks as CSV rows (blocks.Block). A file is the unit a task reads, so
rows are numbered by file (in sorted order) and by their place in it, whatever the partitioning.
"""

import io
from collections import namedtuple

import numpy as np

from blocks import Block, ParsedBlock
from errors import DataError, as_error, first_error
from scaling import NOT_PIXEL

# The formats whose files the executors read with pyarrow, by the end of a file's name.
FORMATS = {"parquet": (".parquet", ".parq"), "orc": (".orc",)}

# What the features are: kind "columns" (numeric columns, ``names``), "vector" (one column of
# pyspark.ml vectors, ``names`` = [it]) or "array" (one column of arrays of numbers); label: the
# label column's name, or None; width: features per row; columns: every column of the table, in
# order, for messages.
Layout = namedtuple("Layout", "kind names label width columns")


def table_format(files, forced=None):
    """The format of an input's files: ``forced`` (--format), or the one every file's name ends
    with; None when the names say nothing (CSV, as before tables)."""
    if forced:
        return forced
    for fmt, endings in FORMATS.items():
        if all(name.lower().endswith(endings) for name in files):
            return fmt
    return None


def spark_session(sc):
    from pyspark.sql import SparkSession
    return SparkSession(sc) if SparkSession.getActiveSession() is None else SparkSession.getActiveSession()


def numeric(dtype):
    from pyspark.sql.types import NumericType
    return isinstance(dtype, NumericType)


def feature_kind(dtype):
    """"vector", "array" or "columns" (a plain number) for a column's Spark type; None otherwise."""
    from pyspark.ml.linalg import VectorUDT
    from pyspark.sql.types import ArrayType
    if isinstance(dtype, VectorUDT):
        return "vector"
    if isinstance(dtype, ArrayType) and numeric(dtype.elementType):
        return "array"
    return "columns" if numeric(dtype) else None


def read_layout(sc, files, fmt, label, features):
    """The Layout of a table's files: ``label`` (a column name, or None: no labels), ``features``
    (None: every numeric column but the label, in the table's order; else a list of names: one
    vector or array column, or numeric columns). One-line errors name the file and the columns."""
    from pyspark.sql.utils import AnalysisException
    spark = spark_session(sc)
    try:
        frame = spark.read.format(fmt).load(files)
    except AnalysisException as e:
        raise DataError(f"{files[0]}: cannot be read as {fmt} ({str(e).splitlines()[0]})") from None
    types = {field.name: field.dataType for field in frame.schema.fields}
    columns = list(types)
    there = f"(its columns: {', '.join(columns)})"
    if label is not None and label not in types:  # first, last or a number: the column in that place
        place = {"first": 1, "last": len(columns)}.get(label, label)
        label = columns[place - 1] if isinstance(place, int) and 1 <= place <= len(columns) else label
    for name in ([label] if label else []) + (features or []):
        if name not in types:
            raise DataError(f"{files[0]}: no column {name!r} {there}")
    if label is not None and not numeric(types[label]):
        raise DataError(f"{files[0]}: label column {label!r} is {types[label].simpleString()}, not a number")
    names = features or [name for name in columns if name != label and numeric(types[name])]
    if not names:
        raise DataError(f"{files[0]}: no numeric feature columns {there}")
    kinds = [feature_kind(types[name]) for name in names]
    for name, kind in zip(names, kinds):
        if kind is None or (kind != "columns" and len(names) > 1):
            what = "not a number" if kind is None else "a column of vectors or arrays: name it alone in --features"
            raise DataError(f"{files[0]}: feature column {name!r} is {types[name].simpleString()}, {what}")
    kind = kinds[0]
    width = len(names) if kind == "columns" else first_length(frame, names[0], kind, files[0])
    return Layout(kind, names, label, width, columns)


def first_length(frame, name, kind, path):
    """The length of the first vector or array of a column: the table's features per row."""
    first = frame.select(name).head()
    if first is None:
        raise DataError(f"{path}: no rows")
    if first[0] is None:
        raise DataError(f"{path}: row 1: feature column {name!r} is null")
    return first[0].size if kind == "vector" else len(first[0])


def arrow_table(data, fmt, columns):
    """A file's bytes -> the pyarrow Table of its ``columns``, rows in the file's order."""
    if fmt == "parquet":
        import pyarrow.parquet as pq
        return pq.read_table(io.BytesIO(data), columns=columns)
    import pyarrow.orc as orc
    return orc.ORCFile(io.BytesIO(data)).read(columns=columns)


def first_bad(mask):
    return int(np.flatnonzero(mask)[0])


def column_values(column, name, path, first_row):
    """A numeric Arrow column (n rows) -> (n,) int64 or float64; DataError at its first null or NaN."""
    import pyarrow as pa
    column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if column.null_count:
        row = first_bad(np.asarray(column.is_null()))
        raise DataError(f"{path}: row {first_row + row}: {name!r} is null", first_row + row)
    values = column.to_numpy(zero_copy_only=False)
    if values.dtype.kind in "iub":
        return values.astype(np.int64)
    values = values.astype(np.float64)
    if np.isnan(values).any():
        row = first_bad(np.isnan(values))
        raise DataError(f"{path}: row {first_row + row}: {name!r} is NaN", first_row + row)
    return values


def list_values(column, name, path, first_row, width):
    """An Arrow column of lists of numbers (n rows) -> (n, width); DataError at its first null
    list, null or NaN value, or list of another length."""
    import pyarrow as pa
    import pyarrow.compute as pc
    column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if column.null_count:
        row = first_bad(np.asarray(column.is_null()))
        raise DataError(f"{path}: row {first_row + row}: {name!r} is null", first_row + row)
    lengths = np.asarray(pc.list_value_length(column))
    if (lengths != width).any():
        row = first_bad(lengths != width)
        raise DataError(f"{path}: row {first_row + row}: {name!r} has {lengths[row]} values, the first row "
                        f"{width}", first_row + row)
    flat = column.flatten()
    values = column_values(flat, name, path, first_row) if not flat.null_count else None
    if values is None:
        row = int(np.searchsorted(np.cumsum(lengths), first_bad(np.asarray(flat.is_null())), side="right"))
        raise DataError(f"{path}: row {first_row + row}: {name!r} holds a null", first_row + row)
    return values.reshape(len(column), width)


def vector_values(column, name, path, first_row, width):
    """An Arrow column of pyspark.ml vectors, as Spark stores them (a struct of type: 0 sparse or
    1 dense, size, indices, values) -> (n, width) float64."""
    import pyarrow as pa
    column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if column.null_count:
        row = first_bad(np.asarray(column.is_null()))
        raise DataError(f"{path}: row {first_row + row}: {name!r} is null", first_row + row)
    kind = column.field("type").to_numpy(zero_copy_only=False)
    values = column.field("values")
    lengths = np.diff(np.asarray(values.offsets))
    flat = values.flatten().to_numpy(zero_copy_only=False).astype(np.float64)
    if np.isnan(flat).any():
        row = int(np.searchsorted(np.cumsum(lengths), first_bad(np.isnan(flat)), side="right"))
        raise DataError(f"{path}: row {first_row + row}: {name!r} holds NaN", first_row + row)
    sizes = np.where(kind == 1, lengths, column.field("size").fill_null(0).to_numpy(zero_copy_only=False))
    if (sizes != width).any():
        row = first_bad(sizes != width)
        raise DataError(f"{path}: row {first_row + row}: {name!r} has {sizes[row]} values, the first row "
                        f"{width}", first_row + row)
    X = np.zeros((len(column), width))
    rows = np.repeat(np.arange(len(column)), lengths)
    dense = kind[rows] == 1
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    positions = np.arange(len(flat)) - starts  # each value's place in its own list
    X[rows[dense], positions[dense]] = flat[dense]
    if not dense.all():
        indices = column.field("indices").flatten().to_numpy(zero_copy_only=False)
        X[rows[~dense], indices] = flat[~dense]
    return X


def feature_rows(table, layout, path, first_row):
    """The features (n, d) of a pyarrow Table's rows: int64 when every column holds whole numbers
    as integers, float64 otherwise."""
    if layout.kind == "vector":
        return vector_values(table.column(layout.names[0]), layout.names[0], path, first_row, layout.width)
    if layout.kind == "array":
        return list_values(table.column(layout.names[0]), layout.names[0], path, first_row, layout.width)
    columns = [column_values(table.column(name), name, path, first_row) for name in layout.names]
    dtype = np.int64 if all(c.dtype == np.int64 for c in columns) else np.float64
    return np.column_stack(columns).astype(dtype, copy=False)


def label_values(table, layout, path, first_row, n_classes):
    """The class numbers (n,) of a pyarrow Table's label column: whole numbers >= 0, as integers
    or doubles (MLlib's convention), below ``n_classes`` when given."""
    labels = column_values(table.column(layout.label), layout.label, path, first_row)
    bad = (labels < 0) | (labels != np.round(labels))
    if bad.any():
        row = first_bad(bad)
        raise DataError(f"{path}: row {first_row + row}: label {labels[row]:g} is not a class number 0, 1, 2, ...",
                        first_row + row)
    labels = labels.astype(np.int64)
    if n_classes is not None and (labels >= n_classes).any():
        row = first_bad(labels >= n_classes)
        raise DataError(f"{path}: row {first_row + row}: class {labels[row]} is outside the {n_classes} classes "
                        f"of the training labels", first_row + row)
    return labels


def not_pixel_values(X, names, path, first_row):
    """scaling.NOT_PIXEL's {way: (count, (row, message naming the first value))} of features (n, d)."""
    found = {}
    for way, breaks in NOT_PIXEL.items():
        bad = breaks(X)
        count = int(bad.sum())
        if count:
            i, j = (int(k) for k in np.argwhere(bad)[0])
            column = names[j] if len(names) == X.shape[1] else f"{names[0]}[{j}]"
            found[way] = (count, (first_row + i, f"{path}: row {first_row + i}: value {X[i, j]:g} ({column})"))
    return found


def table_split(pair, files, fmt, layout, block_size, n_classes):
    """A (qualified path, bytes) record of sc.binaryFiles -> the file's ParsedBlocks of up to
    ``block_size`` rows, numbered from the file's first row. ``files``: {qualified path: (its
    place in the input's sorted files, the path as the user gave it)}; the place is the split.
    The last block carries the report check_files reads."""
    split, path = files[pair[0]]
    columns = list(dict.fromkeys(layout.names + ([layout.label] if layout.label else [])))
    table = arrow_table(pair[1], fmt, columns)
    held = None
    for start in range(0, table.num_rows, block_size):
        part = table.slice(start, block_size)
        try:
            X = feature_rows(part, layout, path, start + 1)
            labels = label_values(part, layout, path, start + 1, n_classes) if layout.label else None
        except DataError as e:
            held = ParsedBlock(split, Block.empty(layout.width)._replace(start=start), error=as_error(e))
            break
        if held is not None:
            yield held
        block = Block.of_rows(start, X, labels)
        held = ParsedBlock(split, block, not_pixels=None if block.unit is not None else
                           not_pixel_values(X, layout.names, path, start + 1))
    held = held or ParsedBlock(split, Block.empty(layout.width))
    yield held._replace(report={"lines": table.num_rows, "blank": None, "last": table.num_rows, "header": 0})


def check_files(checks):
    """Raise the first error of the first file that has one (merge_checks's checks, a file a split)."""
    for check in checks:
        first_error([check["error"]])


def not_pixels_of_files(checks):
    """not_pixels of a table input: counts over all files, the first value of the first file."""
    found = {}
    for check in checks:
        for way, (count, first) in (check["not_pixels"] or {}).items():
            known_count, known_first = found.get(way, (0, None))
            found[way] = (known_count + count, known_first or first[1])
    return found
