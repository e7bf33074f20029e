"""What an input is and which reader loads it: CSV files (csv_input.py), a table's Parquet or
ORC files (tables.py, read by pyarrow in the executors), JSON lines files or a catalog table
(frames.py, through a DataFrame). input_kind tells them apart and resolves a table's columns
before any long work; load_input gives any of them as a data_set.DataSet, the same blocks
whatever the kind (data_set.aligned_blocks). Every path is a Hadoop path."""

from collections import namedtuple
from functools import partial

from rddnet import hadoop_fs
from rddnet.errors import DataError
from rddnet.inputs import scaling
from rddnet.inputs.csv_files import open_input
from rddnet.inputs.csv_input import load_data_set
from rddnet.inputs.data_set import DataSet, aligned_blocks, classes_of, held_out, merge_checks, split_checks
from rddnet.inputs.frames import catalog_table, frame_format, frame_layout, json_frame, parsed_of_frame
from rddnet.inputs.tables import check_files, not_pixels_of_files, read_layout, table_format, table_split

# What an input is (input_kind): format: None for CSV files, a table format (parquet, orc: read as
# files by pyarrow; json, table: through a DataFrame); layout: a table's tables.Layout; files:
# the input's files in sorted order (a catalog table read through a DataFrame: its name); frame:
# that DataFrame, or None.
InputKind = namedtuple("InputKind", "format layout files frame", defaults=(None, None, None))


def peek_shape(sc, image_path, label_path, kind, label_column=None):
    """(features per row, classes) of a set from its first lines (a table: its columns and first
    row; ``kind``: input_kind's), before it is read: the classes of one-hot labels, or 2 (the
    fewest a set can have) until the labels are read."""
    if kind.format is not None:
        return kind.layout.width, 2
    fmt = open_input(sc, image_path, label_column).fmt
    width = fmt["width"] - (fmt["label_column"] is not None)
    one_hot = open_input(sc, label_path).fmt["width"] if label_path is not None else 1
    return width, one_hot if one_hot > 1 else 2


def load_table_set(sc, kind, block_size, scale, n_classes=None, width=None, holdout=None):
    """A table input (``kind``: input_kind's; its Parquet or ORC files read by inputs/tables.py,
    or its DataFrame by inputs/frames.py) as a DataSet, its blocks the same as CSV rows of the
    same values would give. ``n_classes`` and ``width`` come from the training set (or the model)
    when loading another set."""
    from pyspark import StorageLevel
    fmt, layout, files, frame = kind
    if width is not None and layout.width != width:
        shown = layout.names if len(layout.names) <= 5 else [*layout.names[:4], "..."]
        raise DataError(f"{files[0]}: {layout.width} features per row (from {layout.kind} {', '.join(shown)}), the "
                        f"training set has {width}; --features names the columns")
    if frame is not None:
        parsed = parsed_of_frame(frame, layout, files[0], block_size, n_classes)
    else:
        records, places = table_files(sc, files)
        parsed = records.flatMap(partial(table_split, files=places, fmt=fmt, layout=layout, block_size=block_size,
                                         n_classes=n_classes))
    parsed = parsed.persist(StorageLevel.MEMORY_AND_DISK_DESER)
    with hadoop_fs.readable(sc, files if frame is None else [], binary=True):
        checks = merge_checks(parsed.mapPartitions(split_checks).collect())  # reads, parses and caches
    check_files(checks)
    rows = sum(check["rows"] for check in checks)
    if rows == 0:
        raise DataError(f"{files[0]}: no rows")
    if layout.label is not None and n_classes is None:
        n_classes = classes_of(files[0], 0, max(check["top"] for check in checks))
    blocks, cached, moments = aligned_blocks(sc, parsed, checks, None, block_size, holdout)
    held = held_out(rows, moments, holdout, files[0])
    return DataSet(blocks, rows, layout.width, n_classes, {"header": 0, "table": fmt, "label_column": layout.label},
                   moments, cached, files={"features": files, "labels": []}, headers={"features": 0, "labels": 0},
                   not_pixels=not_pixels_of_files(checks), scaling=scaling.Scaling.of(scale, moments),
                   held_rows=held)


def table_files(sc, files):
    """(the RDD of sc.binaryFiles: (qualified path, bytes) per file of a table, {qualified path:
    (its place in ``files``, the path as the user gave it)}): each file read whole by one task."""
    places = {hadoop_fs.qualified(sc, shown): (i, shown) for i, shown in enumerate(files)}
    return sc.binaryFiles(",".join(files), minPartitions=sc.defaultParallelism), places


def input_kind(sc, path, label_path, label_column, features, fmt, table=False):
    """What the input ``path`` is (an InputKind): CSV files, a table's files, JSON lines files or,
    with ``table`` (--table), a table of the session's catalog; told apart by ``fmt`` (--format)
    or by the files' names. A table's columns are resolved here, before any long work."""
    if table:
        if label_path is not None:
            raise DataError(f"{path}: a table keeps its labels in a column: give --label-column, not a labels file")
        frame, fmt = catalog_table(path)
        if fmt is None:  # read through the DataFrame
            return InputKind("table", frame_layout(frame, path, label_column, features), [path], frame)
        files = sorted(frame.inputFiles())
        if not files:
            raise DataError(f"{path}: the table has no files")
        return InputKind(fmt, read_layout(sc, files, fmt, label_column, features), files)
    files = [shown for shown, _ in hadoop_fs.input_files(sc, path)]
    kind = fmt or table_format(files) or frame_format(files)
    if kind in (None, "csv"):
        if features:
            raise DataError(f"{path}: --features names columns of a table (Parquet, ORC, JSON), not of CSV files")
        return InputKind(None, None, files)
    if label_path is not None:
        raise DataError(f"{path}: a {kind} table keeps its labels in a column: give --label-column, not "
                        f"a labels file ({label_path})")
    if kind == "json":
        frame = json_frame(files)
        return InputKind(kind, frame_layout(frame, files[0], label_column, features), files, frame)
    return InputKind(kind, read_layout(sc, files, kind, label_column, features), files)


def input_record(sc, path, label_path, table=False):
    """What a set is read from, as a checkpoint records it for --resume to check: {"files": [[the
    qualified path, its size in bytes], ...] of its features and labels files in order} (a table
    of the catalog: its name, size None). load_input's rows are added as "rows" once known."""
    if table:
        return {"files": [[path, None]]}
    return {"files": [[full, size] for part in (path, label_path) if part
                      for full, size in hadoop_fs.input_files(sc, part, qualified_paths=True)]}


def load_input(sc, path, label_path, block_size, scale, label_column=None, features=None, fmt=None, n_classes=None,
               width=None, kind=None, table=False, holdout=None):
    """The DataSet of any input: CSV files (load_data_set) or a table (load_table_set). ``kind``:
    input_kind's answer, when the caller has it already; ``holdout``: (seed, share) of the rows
    held out for validation (a training set's), or None."""
    kind = kind or input_kind(sc, path, label_path, label_column, features, fmt, table)
    holdout = holdout if holdout and holdout[1] else None
    if kind.format is None:
        return load_data_set(sc, path, label_path, block_size, scale, n_classes, width, label_column, holdout)
    return load_table_set(sc, kind, block_size, scale, n_classes, width, holdout)
