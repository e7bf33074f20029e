"""A table's Parquet or ORC files cut into pieces, so that a large file is read by many tasks,
each reading only its byte ranges, and a small one fast: every path goes through Hadoop (any
Hadoop path works).

A file no larger than four of Spark's splits (spark.sql.files.maxPartitionBytes: 512 MB by
default) is one piece: read whole (``sc.binaryFiles``) and decoded by pyarrow in one task, faster
than Spark's reader hands its rows to Python on four cores (WHOLE_FILE_SPLITS). A larger file is
read by Spark's own file reader, which cuts it into splits of about maxPartitionBytes and reads,
for each, the row groups (ORC: stripes) that begin in it: a piece, and one task each. Each piece
is keyed by (the file's place in the input's sorted files, the first byte of its split: 0 for a
whole file), from Spark's _metadata columns; the pieces of a file, in key order, hold its rows in
order. So rows are numbered by file and by place in it, however the files are split and packed
into partitions, and the same rows give the same run. A large file of one row group is one piece: the load says so.

The driver builds the RDD and checks the pieces' reports (parsed_of_pieces, in_files,
checked_pieces); the executors decode whole files (whole_file_split) and cut the record batches
of Spark's partitions into pieces (piece_split).
"""

import io
import itertools
from functools import partial
from urllib.parse import unquote, urlsplit

from rddnet import hadoop_fs
from rddnet.errors import DataError, first_error
from rddnet.inputs.csv_files import shifted
from rddnet.inputs.tables import PACKED, not_of_format, open_table, parsed_blocks, same_columns

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


def piece_frame(sc, spec, large, columns):
    """The DataFrame of ``columns`` (names) of a table's files at the places ``large`` and each
    row's piece key (FILE, START), read by Spark with their schemas merged; DataError naming the
    file when a file has columns the first one has not (layout.columns), other column types, or
    is not a file of the table's format."""
    from pyspark.sql import SparkSession
    from pyspark.sql.functions import col
    spark = SparkSession.builder.getOrCreate()
    files = [spec.files[place] for place in sorted(large)]
    try:
        # Merged (a Spark job reading every footer) only when there are schemas to merge. Without
        # vectored reads, Parquet reads a row group in buffers of 8 MB, not one of its whole size
        # (which a 1 GB heap, a local run's default, fails to find room for now and then).
        frame = spark.read.format(spec.format).option("mergeSchema", str(len(files) > 1).lower()).option(
            "parquet.hadoop.vectored.io.enabled", "false").load(files)
    except Exception as e:  # Spark's: a footer it cannot read, types it cannot merge
        first_fault(sc, spec, columns)
        raise DataError(f"{files[0]}: {str(e).strip().splitlines()[0][:300]}") from None
    if not set(frame.columns) <= set(spec.layout.columns):
        first_fault(sc, spec, columns)
    return frame.select(*selected(frame, spec.layout, columns), col("_metadata.file_path").alias(FILE),
                        col("_metadata.file_block_start").alias(START))


def selected(frame, layout, columns):
    """The Spark columns a table is read for, ``columns`` (names): its numeric feature columns
    packed into one array (tables.PACKED; booleans as bytes, so that they share a type), the
    others as they are."""
    from pyspark.sql.functions import array, col
    from pyspark.sql.types import BooleanType
    features = set(layout.names) if layout.kind == "columns" else set()
    types = {field.name: field.dataType for field in frame.schema}
    packed = [col(quoted(name)).cast("tinyint") if isinstance(types[name], BooleanType) else col(quoted(name))
              for name in layout.names if name in features]
    return ([array(*packed).alias(PACKED)] if packed else []) + [col(quoted(name)) for name in columns
                                                                 if name not in features]


def first_fault(sc, spec, needed):
    """Raise the DataError of the first of a table's files whose footer cannot be read as its
    format, that has a column the first file has not, lacks one of the ``needed`` columns, or
    holds a column of another type; read on the driver, a footer a file, when Spark has found
    that one is (``spec``: loading.input_spec's)."""
    files, first_types = spec.files, dict(zip(*reversed(schema_types(sc, spec.files[0], spec.format))))
    for path in files[1:]:
        types, names = schema_types(sc, path, spec.format)
        same_columns(names, path, (files[0], spec.layout.columns), needed)
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
        error = check["error"]
        if error and error[0]:  # a fault of a row (not of the file), numbered in the piece
            error = shifted(error, path, before, "row")
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
            same_columns(open_table(sc, path, spec.format)[0].names, path, (spec.files[0], spec.layout.columns),
                         read_columns(spec.layout))
            first_error([check["error"]])


def unsplit_files(checks, files, large, cores):
    """The input's large files (places ``large``) that Spark's reader read in one piece (a file of
    a single row group or stripe) when that left some of the ``cores`` idle: [path]."""
    pieces = {}
    for check in checks:
        if check["rows"]:
            pieces[check["split"][0]] = pieces.get(check["split"][0], 0) + 1
    if sum(pieces.values()) >= cores:
        return []
    return [files[place] for place in sorted(large) if pieces.get(place) == 1]


# A file up to this many of Spark's splits is read whole: on MNIST x20 (1.2 million rows of 784
# columns in a 347 MB file, docs/benchmarks.md section 2b), pyarrow decoding it in one task loaded
# it in 26 s, Spark's reader in 64 MB pieces on two cores in 64 s. The price is memory: the worker
# holds the file (a 2.1 GB peak there, 450 MB in pieces).
WHOLE_FILE_SPLITS = 4


def large_files(sc, spec):
    """The places of a table's files larger than WHOLE_FILE_SPLITS of Spark's splits
    (spark.sql.files.maxPartitionBytes: 512 MB by default): those Spark's reader reads in pieces."""
    sizes, limit = spec.sizes or [hadoop_fs.size(sc, path) for path in spec.files], whole_limit()
    return {place for place, size in enumerate(sizes) if size > limit}


def whole_limit():
    """The size in bytes up to which a table file is read whole: WHOLE_FILE_SPLITS of Spark's splits."""
    from pyspark.sql import SparkSession
    conf = SparkSession.builder.getOrCreate()._jsparkSession.sessionState().conf()  # its sizes in bytes, as read
    return WHOLE_FILE_SPLITS * conf.filesMaxPartitionBytes()


def piece_split(batches, places, layout, block_size, n_classes):
    """mapInArrow's function: a partition's record batches -> each of its pieces' ParsedBlocks
    (tables.parsed_blocks; the piece's key is the split), each pickled in a one-row batch of one
    binary column."""
    import pickle

    import pyarrow as pa
    for split, path, runs in piece_runs(batches, places):
        for parsed in parsed_blocks(runs, split, layout, path, block_size, n_classes):
            yield pa.RecordBatch.from_pydict({"parsed": [pickle.dumps(parsed, protocol=pickle.HIGHEST_PROTOCOL)]})


def parsed_of_pieces(sc, spec, block_size, n_classes, large):
    """The RDD of the ParsedBlocks of a table's files (``spec``: loading.input_spec's), piece by
    piece: the files at the places ``large`` (large_files) through Spark's reader, the others whole."""
    import pickle
    layout = spec.layout
    whole = partial(whole_file_split, file_format=spec.format, layout=layout, first=(spec.files[0], layout.columns),
                    block_size=block_size, n_classes=n_classes)
    piece = partial(piece_split, layout=layout, block_size=block_size, n_classes=n_classes)
    return read_pieces(sc, spec, large, read_columns(layout), whole, (piece, "parsed binary"),
                       lambda row: pickle.loads(row.parsed))


def read_pieces(sc, spec, large, columns, whole, piece, item):
    """The RDD of a table's files read in pieces: ``whole``(record of sc.binaryFiles, places=
    {qualified path: (place, path as given)}) -> items, for each file read whole; for the files at
    the places ``large``, ``piece`` = (mapInArrow's function(batches, places=places_of's), its
    schema) over piece_frame's ``columns``, each row of its output made an item by ``item``."""
    parts = []
    places = {hadoop_fs.qualified(sc, path): (place, path) for place, path in enumerate(spec.files)
              if place not in large}
    if places:
        records = sc.binaryFiles(",".join(path for _, path in places.values()), minPartitions=sc.defaultParallelism)
        parts.append(records.flatMap(partial(whole, places=places)))
    if large:
        function, schema = piece
        frame = piece_frame(sc, spec, large, columns)
        parts.append(frame.mapInArrow(partial(function, places=places_of(sc, spec.files)), schema).rdd.map(item))
    return parts[0] if len(parts) == 1 else sc.union(parts)


PIECE_ROWS = 8192  # rows of a whole file decoded and checked at a time


def whole_file_split(pair, places, file_format, layout, first, block_size, n_classes):
    """A (qualified path, bytes) record of sc.binaryFiles -> the file's ParsedBlocks (its split's
    key: (its place, 0)). ``places``: {qualified path: (place, path as given)}; ``first``: (the
    path of the input's first file, its columns), which every file's columns must be."""
    place, path = places[pair[0]]
    batches = arrow_batches(pair[1], file_format, read_columns(layout), max(block_size, PIECE_ROWS), path, first)
    yield from parsed_blocks(batches, (place, 0), layout, path, block_size, n_classes)


def arrow_batches(data, file_format, columns, rows, path, first):
    """A file's bytes -> pyarrow record batches of its ``columns``, up to ``rows`` rows each, in
    the file's order; DataError (naming ``path``) if it cannot be read as ``file_format``, or if its
    columns are not the first file's (``first``: (its path, its columns); the read ``columns``
    present, no others added: tables.same_columns). Parquet is decoded batch
    by batch: a column chunk of lists (arrays, vectors) decodes 3-5x faster so than whole."""
    try:
        if file_format == "parquet":
            import pyarrow.parquet as pq
            table = pq.ParquetFile(io.BytesIO(data))
            same_columns(table.schema_arrow.names, path, first, columns)
            yield from table.iter_batches(batch_size=rows, columns=columns)
        else:
            import pyarrow.orc as orc
            table = orc.ORCFile(io.BytesIO(data))
            same_columns(table.schema.names, path, first, columns)
            yield from table.read(columns=columns).to_batches(max_chunksize=rows)
    except DataError:
        raise
    except Exception as e:  # pyarrow's errors: not a file of this format
        raise not_of_format(path, file_format, e) from None


def read_columns(layout, more=()):
    """The columns a table is read for: its features, its label, then ``more``, each once."""
    return list(dict.fromkeys([*layout.names, *([layout.label] if layout.label else []), *more]))


def reads_whole(spark, file_format):
    """A function that reads one file of a table through Spark's reader and no further (for
    hadoop_fs.readable to find the file that fails)."""
    return lambda path: spark.read.format(file_format).load(path).write.format("noop").mode("overwrite").save()
