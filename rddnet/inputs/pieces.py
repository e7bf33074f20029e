"""A table's Parquet or ORC files read in pieces by Spark's own file reader, so that one large
file is read by many tasks, each reading only its byte ranges (through Hadoop: any Hadoop path).

Spark cuts each file into splits of about spark.sql.files.maxPartitionBytes and reads, for each,
the row groups (ORC: stripes) that begin in it: a piece. Each row comes with its piece's key,
(the file's place in the input's sorted files, the split's first byte), from Spark's _metadata
columns; the pieces of a file, in key order, hold its rows in order. So rows are numbered by file
and by place in it, however the files are split and packed into partitions, and the same rows
give the same run. A file of one row group is one piece: one task reads it, and the load says so.

The driver builds the DataFrame and checks the pieces' reports (piece_frame, checked_pieces); the
executors cut each partition's record batches into pieces (keyed_runs).
"""

import itertools
from urllib.parse import unquote, urlsplit

from rddnet import hadoop_fs
from rddnet.errors import DataError, first_error
from rddnet.inputs.csv_files import shifted
from rddnet.inputs.tables import open_table, same_columns

# The columns that carry a row's piece key, beside the table's own.
FILE, START = "_rddnet_file", "_rddnet_start"


def uri_key(uri):
    """A file's URI as a key that does not depend on how it is written: "file:/a%20b" and
    "file:///a b" (Spark's _metadata.file_path and Hadoop's Path name a file so) are one key."""
    parts = urlsplit(uri)
    return parts.scheme, parts.netloc, unquote(parts.path)


def places_of(sc, files):
    """{uri_key of each of an input's ``files``: (its place in them, the path as the user gave it)}."""
    places = {}
    for place, shown in enumerate(files):
        fs, jpath = hadoop_fs.hadoop_path(sc, shown)
        places[uri_key(fs.makeQualified(jpath).toUri().toString())] = (place, shown)
    return places


def quoted(name):
    """A column's name as Spark SQL reads it literally (dots, spaces and backticks included)."""
    return "`" + name.replace("`", "``") + "`"


def piece_frame(sc, files, file_format, layout, columns):
    """The DataFrame of a table's ``columns`` (names) and each row's piece key (FILE, START), read
    by Spark from ``files`` with their schemas merged; DataError naming the file when a file has
    columns the first one has not (layout.columns: the first file's), other column types, or is
    not a file of ``file_format``."""
    from pyspark.sql import SparkSession
    from pyspark.sql.functions import col
    spark = SparkSession.builder.getOrCreate()
    try:
        # Merged (a Spark job reading every footer) only when there are schemas to merge.
        frame = spark.read.format(file_format).option("mergeSchema", str(len(files) > 1).lower()).load(files)
    except Exception as e:  # Spark's: a footer it cannot read, types it cannot merge
        first_fault(sc, files, file_format, layout.columns)
        raise DataError(f"{files[0]}: {str(e).strip().splitlines()[0][:300]}") from None
    if not set(frame.columns) <= set(layout.columns):
        first_fault(sc, files, file_format, layout.columns)
    return frame.select(*[col(quoted(name)) for name in columns], col("_metadata.file_path").alias(FILE),
                        col("_metadata.file_block_start").alias(START))


def first_fault(sc, files, file_format, columns):
    """Raise the DataError of the first of a table's ``files`` whose footer cannot be read as
    ``file_format``, or whose columns or their types are not the first file's (``columns``);
    read on the driver, a footer a file, when Spark has found that one is."""
    first_types = dict(zip(*reversed(schema_types(sc, files[0], file_format))))
    for path in files[1:]:
        types, names = schema_types(sc, path, file_format)
        same_columns(names, path, (files[0], columns))
        for name, kind in zip(names, types):
            if str(kind) != str(first_types[name]):
                raise DataError(f"{path}: column {name!r} is {kind}, in the table's first file {files[0]} "
                                f"{first_types[name]}; every file of a table must have the same columns")


def schema_types(sc, path, file_format):
    """([a table file's column types], [their names]), from its footer."""
    schema = open_table(sc, path, file_format)[0]
    return [field.type for field in schema], schema.names


def keyed_runs(batches, places):
    """A partition's record batches, each row with its piece key (FILE, START) -> (key, batch of
    that piece's rows) for each run of rows of one piece, in order; the key is (the file's place,
    the path as given, the piece's first byte). ``places``: places_of's."""
    import numpy as np
    for batch in batches:
        files = np.asarray(batch.column(FILE).to_pylist(), dtype=object)
        starts = batch.column(START).to_numpy()
        changes = np.flatnonzero((files[1:] != files[:-1]) | (starts[1:] != starts[:-1])) + 1
        for a, b in zip([0, *changes], [*changes, batch.num_rows]):
            place = places.get(uri_key(files[a]))
            if place is None:
                raise DataError(f"{files[a]}: Spark read a file the input does not name")
            yield (place[0], int(starts[a]), place[1]), batch.slice(a, b - a)


def piece_runs(batches, places):
    """keyed_runs's runs grouped by piece -> ((place, first byte), path as given, the piece's
    batches) per piece, in order."""
    for key, runs in itertools.groupby(keyed_runs(batches, places), key=lambda run: run[0]):
        yield key[:2], key[2], (batch for _, batch in runs)


def in_files(checks, files):
    """merge_checks's checks of a table's pieces (split: (place, first byte), in that order) ->
    the same, each error and first not-pixel value numbered by its row in the file, not in the
    piece (``files``: the paths as given)."""
    numbered, before, place = [], 0, None
    for check in checks:
        if check["split"][0] != place:
            place, before = check["split"][0], 0
        path = files[place]
        error = check["error"] and shifted(check["error"], path, before, "row")
        not_pixels = {way: (count, shifted(first, path, before, "row"))
                      for way, (count, first) in (check["not_pixels"] or {}).items()}
        numbered.append(dict(check, error=error, not_pixels=not_pixels or None))
        before += check["rows"]
    return numbered


def checked_pieces(sc, checks, spec):
    """Raise the first error of a table's pieces (in_files's checks): of its first file that has
    one, its first row. A file that lacks a column the first one has (Spark reads it as nulls) is
    named as such."""
    for check in checks:
        if check["error"] is not None:
            path = spec.files[check["split"][0]]
            same_columns(open_table(sc, path, spec.format)[0].names, path, (spec.files[0], spec.layout.columns))
            first_error([check["error"]])


def unsplit_files(sc, checks, files):
    """The input's files that one task read though Spark splits files of their size (a single row
    group or stripe): [(path, size in bytes)]; none when the pieces are as many as the cores."""
    pieces = {}
    for check in checks:
        if check["rows"]:
            pieces.setdefault(check["split"][0], []).append(check["split"][1])
    if sum(map(len, pieces.values())) >= sc.defaultParallelism:
        return []
    split = max_split_bytes(sc, files)
    sizes = {place: hadoop_fs.size(sc, files[place]) for place, starts in pieces.items() if len(starts) == 1}
    return [(files[place], size) for place, size in sorted(sizes.items()) if size > split]


def max_split_bytes(sc, files):
    """The most bytes of a file one piece spans, as Spark's file reader sets it (its
    FilePartition.maxSplitBytes), for ``files``."""
    from pyspark.sql import SparkSession
    conf = SparkSession.builder.getOrCreate()._jsparkSession.sessionState().conf()  # its sizes in bytes, as read
    most, open_cost = conf.filesMaxPartitionBytes(), conf.filesOpenCostInBytes()
    total = sum(hadoop_fs.size(sc, path) + open_cost for path in files)
    return min(most, max(open_cost, total // max(1, sc.defaultParallelism)))



def piece_split(batches, places, layout, block_size, n_classes):
    """mapInArrow's function: a partition's record batches -> each of its pieces' ParsedBlocks
    (tables.parsed_blocks; the piece's key is the split), each pickled in a one-row batch of one
    binary column."""
    import pickle

    import pyarrow as pa

    from rddnet.inputs.tables import parsed_blocks
    for split, path, runs in piece_runs(batches, places):
        for parsed in parsed_blocks(runs, split, layout, path, block_size, n_classes):
            yield pa.RecordBatch.from_pydict({"parsed": [pickle.dumps(parsed, protocol=pickle.HIGHEST_PROTOCOL)]})


def parsed_of_pieces(sc, spec, block_size, n_classes):
    """The RDD of the ParsedBlocks of a table's files (``spec``: loading.input_spec's), piece by
    piece."""
    import pickle
    from functools import partial
    layout = spec.layout
    frame = piece_frame(sc, spec.files, spec.format, layout, read_columns(layout))
    parsed = frame.mapInArrow(partial(piece_split, places=places_of(sc, spec.files), layout=layout,
                                      block_size=block_size, n_classes=n_classes), "parsed binary")
    return parsed.rdd.map(lambda row: pickle.loads(row.parsed))


def read_columns(layout, more=()):
    """The columns a table is read for: its features, its label, then ``more``, each once."""
    return list(dict.fromkeys([*layout.names, *([layout.label] if layout.label else []), *more]))


def reads_whole(spark, file_format):
    """A function that reads one file of a table through Spark's reader and no further (for
    hadoop_fs.readable to find the file that fails)."""
    return lambda path: spark.read.format(file_format).load(path).write.format("noop").mode("overwrite").save()
