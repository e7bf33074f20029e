"""What an input is and which reader loads it: CSV files (csv_input.py), a table's Parquet or
ORC files (read in pieces: pieces.py, decoded by tables.py), JSON lines files or a catalog table
(frames.py, through a DataFrame). input_spec tells them apart and resolves a table's columns
before any long work; load_input gives any of them as a data_set.DataSet, the same blocks
whatever the kind of input (data_set.aligned_blocks). Every path is a Hadoop path."""

from collections import namedtuple

from rddnet import hadoop_fs
from rddnet.errors import DataError
from rddnet.inputs import pieces, scaling
from rddnet.inputs.csv_files import open_input
from rddnet.inputs.csv_input import load_data_set
from rddnet.inputs.data_set import DataSet, aligned_blocks, classes_of, held_out_rows, merge_checks, split_checks
from rddnet.inputs.frames import catalog_table, frame_format, frame_layout, json_frame, parsed_of_frame, spark_session
from rddnet.inputs.tables import check_files, not_pixels_of_files, read_layout, table_format

# What an input is (input_spec): format: None for CSV files, a table format (parquet, orc: read as
# files by pyarrow; json, table: through a DataFrame); layout: a table's tables.Layout; files:
# the input's files in sorted order (a catalog table read through a DataFrame: its name); frame:
# that DataFrame, or None.
# path, label_path: the input and its labels file as given (label_path None for a label column
# or none); label_column: --label-column's; sizes: a table's files' sizes in bytes, in order (None:
# not listed yet).
InputSpec = namedtuple("InputSpec", "format layout files frame path label_path label_column sizes",
                       defaults=(None, None, None, None, None, None, None))

# How a script reads its inputs, as its options say: --label-column, --features, --format and
# --table (TRAIN and TEST are names of catalog tables).
Reading = namedtuple("Reading", "label_column features format table", defaults=(None, None, None, False))


def peek_shape(sc, spec):
    """(features per row, classes) of a set from its first lines (a table: its columns and first
    row; ``spec``: input_spec's), before it is read: the classes of one-hot labels, or 2 (the
    fewest a set can have) until the labels are read."""
    if spec.format is not None:
        return spec.layout.width, 2
    layout = open_input(sc, spec.path, spec.label_column).layout
    width = layout["width"] - (layout["label_column"] is not None)
    one_hot = open_input(sc, spec.label_path).layout["width"] if spec.label_path is not None else 1
    return width, one_hot if one_hot > 1 else 2


def load_table_set(sc, spec, block_size, scale, n_classes=None, width=None, holdout=None):
    """A table input (``spec``: input_spec's; its Parquet or ORC files read by inputs/tables.py,
    or its DataFrame by inputs/frames.py) as a DataSet, its blocks the same as CSV rows of the
    same values would give. ``n_classes`` and ``width`` come from the training set (or the model)
    when loading another set."""
    from pyspark import StorageLevel
    file_format, layout, files, frame = spec.format, spec.layout, spec.files, spec.frame
    if width is not None and layout.width != width:
        shown = layout.names if len(layout.names) <= 5 else [*layout.names[:4], "..."]
        raise DataError(f"{files[0]}: {layout.width} features per row (from {layout.kind} {', '.join(shown)}), the "
                        f"training set has {width}; --features names the columns")
    if frame is not None:
        parsed = parsed_of_frame(frame, layout, files[0], block_size, n_classes)
    else:
        large = pieces.large_files(sc, spec)
        parsed = pieces.parsed_of_pieces(sc, spec, block_size, n_classes, large)
    parsed = parsed.persist(StorageLevel.MEMORY_AND_DISK_DESER)
    reads = pieces.reads_whole(spark_session(), file_format)
    with hadoop_fs.readable(sc, files if frame is None else [], reads):
        checks = merge_checks(parsed.mapPartitions(split_checks).collect())  # reads, parses and caches
    if frame is None:
        checks = pieces.in_files(checks, files)
        pieces.checked_pieces(sc, checks, spec)
    check_files(checks)
    rows = sum(check["rows"] for check in checks)
    if rows == 0:
        raise DataError(f"{files[0]}: no rows")
    if layout.label is not None and n_classes is None:
        n_classes = classes_of(files[0], 0, max(check["top"] for check in checks))
    blocks, cached, moments = aligned_blocks(sc, parsed, checks, None, block_size, holdout)
    held_rows = held_out_rows(rows, moments, holdout, files[0])
    described = {"header": 0, "table": file_format, "label_column": layout.label, "feature_kind": layout.kind,
                 "features": layout.names, "left_out": list(layout.left_out),
                 "pieces": sum(bool(check["rows"]) for check in checks) if frame is None else None,
                 "large": len(large) if frame is None else 0, "whole_limit": pieces.whole_limit(),
                 "unsplit": [] if frame is not None else pieces.unsplit_files(checks, files, large,
                                                                            sc.defaultParallelism)}
    return DataSet(blocks, rows, layout.width, n_classes, described, moments, cached,
                   files={"features": files, "labels": []}, headers={"features": 0, "labels": 0},
                   not_pixels=not_pixels_of_files(checks), scaling=scaling.Scaling.of(scale, moments),
                   held_rows=held_rows)


def input_spec(sc, path, label_path, reading):
    """What the input ``path`` (with its labels file ``label_path``, or None) is, as an InputSpec:
    CSV files, a table's files, JSON lines files or, with --table, a table of the session's
    catalog; told apart by --format or by the files' names (``reading``: a Reading). A table's
    columns are resolved here, before any long work."""
    found = kind_of(sc, path, label_path, reading)
    return found._replace(path=path, label_path=label_path, label_column=reading.label_column)


def kind_of(sc, path, label_path, reading):
    """input_spec's InputSpec, without the paths."""
    label_column, features, file_format = reading.label_column, reading.features, reading.format
    if reading.table:
        if label_path is not None:
            raise DataError(f"{path}: a table keeps its labels in a column: give --label-column, not a labels file")
        frame, file_format = catalog_table(path)
        if file_format is None:  # read through the DataFrame
            return InputSpec("table", frame_layout(frame, path, label_column, features), [path], frame)
        files = sorted(frame.inputFiles())
        if not files:
            raise DataError(f"{path}: the table has no files")
        return InputSpec(file_format, read_layout(sc, files, file_format, label_column, features), files,
                         sizes=[hadoop_fs.size(sc, file) for file in files])
    listed = hadoop_fs.input_files(sc, path)
    files, sizes = [shown for shown, _ in listed], [size for _, size in listed]
    file_format = file_format or table_format(files) or frame_format(files)
    if file_format in (None, "csv"):
        if features:
            raise DataError(f"{path}: --features names columns of a table (Parquet, ORC, JSON), not of CSV files")
        return InputSpec(None, None, files)
    if label_path is not None:
        raise DataError(f"{path}: a {file_format} table keeps its labels in a column: give --label-column, not "
                        f"a labels file ({label_path})")
    if file_format == "json":
        frame = json_frame(files)
        return InputSpec(file_format, frame_layout(frame, files[0], label_column, features), files, frame)
    return InputSpec(file_format, read_layout(sc, files, file_format, label_column, features), files, sizes=sizes)


def columns_in_words(data):
    """A table's columns as the load line names them: its features (all of them when few, else the
    first and the last and their count), its label, and every column left out with why; None for
    CSV files."""
    described = data.format
    if not described.get("table"):
        return None
    names = described["features"]
    if described["feature_kind"] != "columns":
        features = f"{names[0]} ({described['feature_kind']}s of {data.width})"
    else:
        features = ", ".join(names) if len(names) <= 6 else f"{names[0]} ... {names[-1]} ({len(names)} columns)"
    words = f"features {features}"
    if described["label_column"]:
        words += f"; label {described['label_column']}"
    left_out = described.get("left_out") or []
    return words + (f"; left out: {', '.join(f'{name} ({why})' for name, why in left_out)}" if left_out else "")


def reading_in_words(data):
    """The load's lines on how a table's files were read (none for other inputs): whole, or in how
    many pieces; and the large files that one task read all the same (pieces.unsplit_files)."""
    described, files = data.format, len(data.files["features"])
    if not described.get("pieces"):
        return []
    pieces, large, limit = described["pieces"], described["large"], described["whole_limit"] / 2 ** 20
    in_files = f"{files} file{'s' * (files > 1)}"
    if not large:
        lines = [f"{in_files} read whole"]
    else:
        lines = [f"{in_files} read in {pieces} piece{'s' * (pieces > 1)}: {'the' if large == 1 else large} file"
                 f"{'s' * (large > 1)} over {limit:,.{0 if limit >= 1 else 2}f} MB by row groups or ORC stripes, "
                 "as Spark splits files" + (", the others whole" if large < files else "")]
    for path in described["unsplit"]:
        lines.append(f"{path} is one row group (or ORC stripe), so one task read it; written with smaller row "
                     "groups (pyarrow's row_group_size, Spark's parquet.block.size) it is read on every core")
    return lines


def trained_inputs(data):
    """What a model records of the training DataSet ``data``, so that predict.py, the SQL function
    and a pyspark.ml model read their inputs as training did: {"features": {"kind": "csv" (CSV
    columns), "columns" (a table's numeric columns), "vector" or "array" (its one column of those),
    "names": the table's feature columns in order ([] for CSV), "width": values per row}, "label":
    a table's label column (None for CSV), "classes": the class labels [0, ..., k-1]}."""
    described = data.format
    table = bool(described.get("table"))
    return {"features": {"kind": described["feature_kind"] if table else "csv",
                         "names": list(described["features"]) if table else [], "width": data.width},
            "label": described["label_column"] if table else None, "classes": list(range(data.classes))}


def input_spec_for_model(sc, path, label_path, reading, trained, model):
    """input_spec's InputSpec of an input read for a model trained on ``trained``
    (trained_inputs's record, or None; ``model`` names it): a table's features are the columns the
    model was trained on (model_features), selected by name whatever their order in the table."""
    spec = input_spec(sc, path, label_path, reading)
    if spec.format is None:
        return spec
    features = model_features(trained, reading.features, model)
    if features is None or features == spec.layout.names:
        return spec
    return input_spec(sc, path, label_path, reading._replace(features=features))


def model_features(trained, features, model):
    """The feature columns to read a table with for a model trained on ``trained``
    (trained_inputs's record, or None) when --features gives ``features`` (names, or None): the
    model's own columns, in its order, by default or when --features names the same ones in another
    order; DataError naming both when --features names others. ``model``: the model, as errors
    name it."""
    names = ((trained or {}).get("features") or {}).get("names") or []
    if not names or features is None or features == names:
        return names or features
    if sorted(features) != sorted(names):
        raise DataError(f"--features {','.join(features)}: the model {model} was trained on the columns "
                        f"{','.join(names)}; leave --features out to read those")
    return names


def input_record(sc, path, label_path, table=False):
    """What a set is read from, as a checkpoint records it for --resume to check: {"files": [[the
    qualified path, its size in bytes], ...] of its features and labels files in order} (a table
    of the catalog: its name, size None). load_input's rows are added as "rows" once known."""
    if table:
        return {"files": [[path, None]]}
    return {"files": [[full, size] for part in (path, label_path) if part
                      for full, size in hadoop_fs.input_files(sc, part, qualified_paths=True)]}


def load_input(sc, spec, block_size, scale, n_classes=None, width=None, holdout=None):
    """The DataSet of any input (``spec``: input_spec's): CSV files (load_data_set) or a table
    (load_table_set), scaled by ``scale`` (a kind of scaling, or a Scaling). ``n_classes`` and
    ``width`` come from the training set (or the model) when loading another set; ``holdout``:
    (seed, share) of the rows held out for validation (a training set's), or None."""
    holdout = holdout if holdout and holdout[1] else None
    if spec.format is None:
        return load_data_set(sc, spec.path, spec.label_path, block_size, scale, n_classes, width, spec.label_column,
                             holdout)
    return load_table_set(sc, spec, block_size, scale, n_classes, width, holdout)
