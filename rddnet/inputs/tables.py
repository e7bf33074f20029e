"""Tables as Spark users keep them: Parquet and ORC files (one file, a folder of part files, a
glob or a list), their features in one column of ML vectors or of arrays, or in numeric columns,
their label in a column named by --label-column.

The driver reads the first file's footer with pyarrow (through Hadoop: hadoop_fs.HadoopFile)
and resolves which columns are the label and the features (Layout). Spark's file reader reads the
files in pieces (inputs/pieces.py), and the executors turn each piece's Arrow record batches
into NumPy values, checked (every value a finite number), and cut its rows, in the file's own
order, into the same blocks as CSV rows (parsed_blocks, blocks.Block).
"""

import re
from collections import namedtuple

import numpy as np

from rddnet.errors import DataError, as_error, first_error
from rddnet.inputs.blocks import Block, ParsedBlock
from rddnet.inputs.data_set import class_numbers
from rddnet.inputs.scaling import not_pixel_counts

# The formats whose files the executors read with pyarrow, by the end of a file's name.
FORMATS = {"parquet": (".parquet", ".parq"), "orc": (".orc",)}

# What the features are: kind "columns" (numeric columns, ``names``), "vector" (one column of
# pyspark.ml vectors, ``names`` = [it]) or "array" (one column of arrays of numbers); label: the
# label column's name, or None; width: features per row; columns: every column of the table (of
# its first file), in order, which every other file must have too; left_out: [(a column not read,
# why)] for the load line.
Layout = namedtuple("Layout", "kind names label width columns left_out", defaults=(None, ()))

# Columns named like identifiers (id, customer_id, index, pandas' saved index): not features by
# default, since an identifier trained on as a number would be learned from.
IDENTIFIER = re.compile(r"id|.+_id|index|__index_level_\d+__", re.IGNORECASE)


def table_format(files):
    """The format every one of an input's files' names ends with; None when they say nothing."""
    for file_format, endings in FORMATS.items():
        if all(name.lower().endswith(endings) for name in files):
            return file_format
    return None


def numeric(dtype):
    """True for an Arrow type of numbers (integers, floats, decimals)."""
    import pyarrow as pa
    return pa.types.is_integer(dtype) or pa.types.is_floating(dtype) or pa.types.is_decimal(dtype)


def feature_kind(dtype):
    """"vector" (a pyspark.ml vector as Spark stores it: a struct of type, size, indices and
    values), "array" (a list of numbers: a list, a large list or a fixed-size list) or "columns" (a
    number) for an Arrow type; None otherwise."""
    import pyarrow as pa
    if pa.types.is_struct(dtype) and {dtype.field(i).name for i in range(dtype.num_fields)} == VECTOR_FIELDS:
        return "vector"
    lists = (pa.types.is_list, pa.types.is_large_list, pa.types.is_fixed_size_list)  # as NumPy, Polars and others write
    if any(is_list(dtype) for is_list in lists) and numeric(dtype.value_type):
        return "array"
    return "columns" if numeric(dtype) else None


VECTOR_FIELDS = {"type", "size", "indices", "values"}


def not_of_format(path, file_format, error):
    """The DataError of a file pyarrow cannot read as ``file_format``, with pyarrow's ``error``'s first line."""
    return DataError(f"{path}: cannot be read as {file_format} ({type(error).__name__}: {str(error).splitlines()[0]})")


def open_table(sc, path, file_format):
    """(the Arrow schema of a table file, a function giving the first row of a column as a
    one-row pyarrow Table): read on the driver, the footer and the first page or stripe only."""
    from rddnet import hadoop_fs
    source = hadoop_fs.HadoopFile(sc, path)
    try:
        if file_format == "parquet":
            import pyarrow.parquet as pq
            table = pq.ParquetFile(source, buffer_size=2 ** 16, pre_buffer=False)  # page by page, not whole chunks
            return table.schema_arrow, lambda name: next(table.iter_batches(batch_size=1, columns=[name]), None)
        import pyarrow.orc as orc
        table = orc.ORCFile(source)
        return table.schema, lambda name: table.read_stripe(0, columns=[name]).slice(0, 1) if table.nstripes else None
    except Exception as e:  # pyarrow's errors for a file that is not a table of that format
        failure = getattr(e, "java_exception", None) and hadoop_fs.read_failure(e)
        if failure:  # the file system's: a checksum mismatch, a file cut short
            raise hadoop_fs.unreadable(path, *failure) from None
        raise not_of_format(path, file_format, e) from None


def read_layout(sc, files, file_format, label, features):
    """The Layout of a table's files, from the first file's footer: ``label`` (a column name, or
    first, last or a number; None: no labels), ``features`` (None: every numeric column but the
    label, in the table's order; else a list of names: one vector or array column, or numeric
    columns). One-line errors name the file and the columns."""
    return layout_of(*open_table(sc, files[0], file_format), files[0], label, features)


def layout_of(schema, first_row, where, label, features):
    """The Layout of a table of Arrow ``schema``; ``first_row``(name): its first row of that column
    as a one-row pyarrow Table (None: no rows); ``where``: the file or table errors name."""
    columns = [field.name for field in schema]
    same_columns(columns, where, None)
    types = {field.name: field.type for field in schema}
    there = f"(its columns: {', '.join(columns)})"
    if label is not None and label not in types:  # first, last or a number: the column in that place
        place = {"first": 1, "last": len(columns)}.get(label, label)
        label = columns[place - 1] if isinstance(place, int) and 1 <= place <= len(columns) else label
    for name in ([label] if label else []) + (features or []):
        if name not in types:
            raise DataError(f"{where}: no column {name!r} {there}")
    if label is not None and label in (features or []):  # it would be trained on as a feature, and give itself away
        raise DataError(f"{where}: --features names the label column {label!r}; leave it out of --features")
    if label is not None and not numeric(types[label]):
        raise DataError(f"{where}: label column {label!r} is {types[label]}, not a number")
    names, left_out = (features, [(name, "not in --features") for name in columns if name not in features + [label]]) \
        if features else default_features(types, label, first_row, where)
    if not names:
        raise DataError(f"{where}: no numeric feature columns, nor one column of vectors or arrays {there}; "
                        f"name them with --features")
    kinds = [feature_kind(types[name]) for name in names]
    for name, kind in zip(names, kinds):
        if kind is None or (kind != "columns" and len(names) > 1):
            what = "not a number" if kind is None else "a column of vectors or arrays: name it alone in --features"
            raise DataError(f"{where}: feature column {name!r} is {types[name]}, {what}")
    kind = kinds[0]
    width = len(names) if kind == "columns" else first_length(first_row(names[0]), names[0], kind, where)
    return Layout(kind, names, label, width, columns, tuple(left_out))


def default_features(types, label, first_row, where):
    """(the features when --features is not given, [(a column left out, why)]): every numeric column
    but the label and those named like identifiers, in the table's order; failing those, the
    table's one column of vectors or arrays (VectorAssembler's output, for one). DataError for a
    column of text that holds numbers: it is a feature only once stored as numbers."""
    candidates = {name: dtype for name, dtype in types.items() if name != label}
    left_out = [(name, "named like an identifier") for name in candidates if IDENTIFIER.fullmatch(name)]
    candidates = {name: dtype for name, dtype in candidates.items() if not IDENTIFIER.fullmatch(name)}
    numbers = [name for name, dtype in candidates.items() if numeric(dtype)]
    lists = [name for name, dtype in candidates.items() if feature_kind(dtype) in ("vector", "array")]
    chosen = numbers or (lists if len(lists) == 1 else [])
    for name, dtype in candidates.items():
        if name in chosen:
            continue
        if numbers_as_text(first_row, name, dtype):
            raise DataError(f"{where}: column {name!r} holds numbers as text ({dtype}): store them as numbers to train "
                            f"on it, or leave it out with --features {','.join(chosen) or 'COLUMNS'}")
        left_out.append((name, "a column of vectors or arrays" if name in lists else f"{dtype}, not a number"))
    return chosen, left_out


def numbers_as_text(first_row, name, dtype):
    """True when a text column's first value reads as a number ("1.5", "42")."""
    import pyarrow as pa
    if not (pa.types.is_string(dtype) or pa.types.is_large_string(dtype)):
        return False
    row = first_row(name)
    value = row.column(0)[0].as_py() if row is not None and row.num_rows else None
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def first_length(row, name, kind, path):
    """The length of the first vector or array of a column (a one-row pyarrow Table or batch): the
    table's features per row."""
    if row is None or row.num_rows == 0:
        raise DataError(f"{path}: no rows")
    value = row.column(0)[0].as_py()
    if value is None:
        raise DataError(f"{path}: row 1: {name!r} is null", 1)
    return (len(value["values"]) if value["type"] == 1 else value["size"]) if kind == "vector" else len(value)


def same_columns(names, path, first, needed=None):
    """DataError naming the column (and both files) if a file's column ``names`` name one column
    twice, hold one the table's first file has not (``first``: (its path, its columns); None:
    nothing to compare), or lack one of those that are read (``needed``; None: all of them)."""
    if len(set(names)) < len(names):
        twice = next(name for i, name in enumerate(names) if name in names[:i])
        raise DataError(f"{path}: has two columns named {twice!r}; name each column once")
    if first is None or first[1] is None:
        return
    first_path, expected = first
    extra = [name for name in names if name not in expected]
    if extra:
        raise DataError(f"{path}: has a column {extra[0]!r} that the table's first file {first_path} has not; "
                        "every file of a table must have the same columns")
    missing = [name for name in expected if name not in names and (needed is None or name in needed)]
    if missing:
        raise DataError(f"{path}: has no column {missing[0]!r}, which the table's first file {first_path} has; "
                        "every file of a table must have the same columns")


def first_bad(mask):
    return int(np.flatnonzero(mask)[0])


def numbers(column):
    """A numeric Arrow array without nulls -> NumPy values of its own type (booleans as int8;
    decimals and half floats as float64)."""
    values = column.to_numpy(zero_copy_only=False)
    if values.dtype.kind in "iub":
        return values.astype(np.int8) if values.dtype.kind == "b" else values
    if values.dtype.kind != "f" or values.dtype.itemsize < 4:
        values = values.astype(np.float64)
    return values


def first_not_finite(values):
    """The place of the first NaN or infinity in ``values``, or None."""
    if values.dtype.kind != "f" or np.isfinite(values).all():
        return None
    return first_bad(~np.isfinite(values))


def without_nulls(column, name, path, first_row):
    """An Arrow column (n rows, the first numbered ``first_row``) as one array; DataError at its
    first null row."""
    import pyarrow as pa
    column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if column.null_count:
        row = first_bad(np.asarray(column.is_null()))
        raise DataError(f"{path}: row {first_row + row}: {name!r} is null", first_row + row)
    return column


def column_values(column, name, path, first_row):
    """A numeric Arrow column (n rows) -> (n,) NumPy values (numbers()); DataError at its first
    null, NaN or infinity (as CSV files: every value a finite number)."""
    column = without_nulls(column, name, path, first_row)
    values = numbers(column)
    row = first_not_finite(values)
    if row is not None:
        raise DataError(f"{path}: row {first_row + row}: {name!r} is {not_finite(values[row])}", first_row + row)
    return values


def not_finite(value):
    """A value that is not a finite number, in words: "NaN", "inf, not a finite number", "-inf, ..."."""
    return "NaN" if np.isnan(value) else f"{value}, not a finite number"


def list_values(column, name, path, first_row, width):
    """An Arrow column of lists of numbers (n rows) -> (n, width); DataError at its first null
    list, null, NaN or infinite value, or list of another length."""
    import pyarrow.compute as pc
    column = without_nulls(column, name, path, first_row)
    lengths = np.asarray(pc.list_value_length(column))
    if (lengths != width).any():
        row = first_bad(lengths != width)
        raise DataError(f"{path}: row {first_row + row}: {name!r} has {lengths[row]} values, the first row "
                        f"{width}", first_row + row)
    flat = column.flatten()
    if flat.null_count:
        row = first_bad(np.asarray(flat.is_null())) // width
        raise DataError(f"{path}: row {first_row + row}: {name!r} holds a null", first_row + row)
    values = numbers(flat)
    at = first_not_finite(values)
    if at is not None:
        row = at // width
        raise DataError(f"{path}: row {first_row + row}: {name!r} holds {not_finite(values[at])}", first_row + row)
    return values.reshape(len(column), width)


def vector_values(column, name, path, first_row, width):
    """An Arrow column of pyspark.ml vectors, as Spark stores them (a struct of type: 0 sparse or
    1 dense, size, indices, values) -> (n, width) float64."""
    column = without_nulls(column, name, path, first_row)
    types = column.field("type").to_numpy(zero_copy_only=False)
    values = column.field("values")
    lengths = np.diff(np.asarray(values.offsets))
    flat = values.flatten().to_numpy(zero_copy_only=False)
    low, high = (flat.min(), flat.max()) if flat.size else (0.0, 0.0)
    if not (np.isfinite(low) and np.isfinite(high)):  # the minimum is NaN when any value is
        at = first_bad(~np.isfinite(flat))
        row = int(np.searchsorted(np.cumsum(lengths), at, side="right"))
        raise DataError(f"{path}: row {first_row + row}: {name!r} holds {not_finite(flat[at])}",
                        first_row + row)
    sizes = np.where(types == 1, lengths, column.field("size").fill_null(0).to_numpy(zero_copy_only=False))
    if (sizes != width).any():
        row = first_bad(sizes != width)
        raise DataError(f"{path}: row {first_row + row}: {name!r} has {sizes[row]} values, the first row "
                        f"{width}", first_row + row)
    # Whole numbers 0-255 (pixels) go straight into bytes: a quarter of the memory of float64. In
    # that range a cast to bytes keeps exactly the whole numbers (and is 10x faster than np.rint).
    steps = flat.astype(np.uint8) if flat.size and low >= 0 and high <= 255 else None
    pixels = flat.size == 0 or (steps is not None and np.array_equal(steps, flat))
    return vector_matrix(types, lengths, steps if pixels and flat.size else flat,
                         column.field("indices").flatten().to_numpy(zero_copy_only=False), width,
                         np.uint8 if pixels else np.float64)


def vector_matrix(kinds, lengths, values, indices, width, dtype=np.float64):
    """pyspark.ml vectors as Spark stores them -> a matrix (n, width) of ``dtype``. kinds (n,): 1
    dense, 0 sparse; lengths (n,): how many values each row holds; values: every row's values,
    one row after another; indices: the sparse rows' indices, likewise."""
    if len(values) == len(kinds) * width and (kinds == 1).all():  # every row dense: the values as they lie
        return values.reshape(len(kinds), width).astype(dtype)
    X = np.zeros((len(kinds), width), dtype=dtype)
    rows = np.repeat(np.arange(len(kinds)), lengths)
    dense = kinds[rows] == 1
    positions = np.arange(len(values)) - np.repeat(np.cumsum(lengths) - lengths, lengths)  # place in its row
    X[rows[dense], positions[dense]] = values[dense]
    X[rows[~dense], indices] = values[~dense]
    return X


# The column Spark's reader packs a table's numeric feature columns into, as one array a row:
# its JVM hands one array column to Python about twice as fast as hundreds of columns.
PACKED = "_rddnet_features"


def feature_rows(table, layout, path, first_row):
    """The features (n, d) of a pyarrow Table's rows, for blocks.feature_matrix: integers when
    every column holds integers, floats otherwise."""
    if PACKED in table.schema.names:
        return packed_values(table.column(PACKED), layout.names, path, first_row)
    if layout.kind == "vector":
        return vector_values(table.column(layout.names[0]), layout.names[0], path, first_row, layout.width)
    if layout.kind == "array":
        return list_values(table.column(layout.names[0]), layout.names[0], path, first_row, layout.width)
    columns = [column_values(table.column(name), name, path, first_row) for name in layout.names]
    if all(c.dtype.kind in "iu" for c in columns):
        return np.column_stack(columns)  # NumPy's common integer type
    return np.column_stack([c.astype(np.float64, copy=False) for c in columns])


def packed_values(column, names, path, first_row):
    """The PACKED array column of numeric columns ``names`` (n rows) -> (n, d), as feature_rows
    gives those columns; DataError for the first column (in the table's order) holding a null, a
    NaN or an infinity, at its first such row: the error the columns themselves give."""
    column = without_nulls(column, PACKED, path, first_row)  # (never null: Spark's array of the columns)
    flat = column.flatten()
    values = numbers(flat).reshape(len(column), len(names))
    nulls = np.asarray(flat.is_null()).reshape(values.shape) if flat.null_count else np.zeros(values.shape, bool)
    faults = nulls | (~np.isfinite(values) if values.dtype.kind == "f" else False)
    if faults.any():
        j = first_bad(faults.any(axis=0))
        i = first_bad(nulls[:, j]) if nulls[:, j].any() else first_bad(faults[:, j])
        what = "null" if nulls[i, j] else not_finite(values[i, j])
        raise DataError(f"{path}: row {first_row + i}: {names[j]!r} is {what}", first_row + i)
    return values if values.dtype.kind in "iu" else values.astype(np.float64, copy=False)


def label_values(table, layout, path, first_row, n_classes):
    """The class numbers (n,) of a pyarrow Table's label column: whole numbers >= 0, as integers
    or doubles (MLlib's convention), below ``n_classes`` when given."""
    values = column_values(table.column(layout.label), layout.label, path, first_row)
    return class_numbers(values, n_classes, lambda i: (f"{path}: row {first_row + i}", f"label {values[i]:g}",
                                                       first_row + i))


def not_pixel_values(X, names, path, first_row):
    """{way: (count, (row, message naming the first value))} of features (n, d): the values that
    break each way of being pixels (scaling.NOT_PIXEL)."""
    found = {}
    for way, (count, (i, j)) in not_pixel_counts(X).items():
        column = names[j] if len(names) == X.shape[1] else f"{names[0]}[{j}]"
        found[way] = (count, (first_row + i, f"{path}: row {first_row + i}: value {X[i, j]:g} ({column})"))
    return found


def parsed_blocks(pieces, split, layout, path, block_size, n_classes):
    """pyarrow record batches or Tables (a split's rows, in order) -> the split's ParsedBlocks of up
    to ``block_size`` rows, numbered from its first row, checked (errors name ``path`` and the
    row); the last block carries the report check_files reads."""
    pending, start = None, 0
    try:
        for piece in pieces:  # converted whole: a call per column and piece, not per column and block
            features = feature_rows(piece, layout, path, start + 1)
            classes = label_values(piece, layout, path, start + 1, n_classes) if layout.label else None
            for offset in range(0, piece.num_rows, block_size):
                X = features[offset:offset + block_size]
                if pending is not None:
                    yield pending
                block = Block.of_rows(start, X, classes[offset:offset + block_size] if layout.label else None)
                pending = ParsedBlock(split, block, not_pixels=None if block.unit is not None else
                                   not_pixel_values(X, layout.names, path, start + 1))
                start += len(X)
    except DataError as e:
        pending = ParsedBlock(split, Block.empty(layout.width)._replace(start=start), error=as_error(e))
    pending = pending or ParsedBlock(split, Block.empty(layout.width))
    yield pending._replace(report={"lines": start, "blank": None, "last": start, "header": 0})


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
