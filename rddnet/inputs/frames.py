"""Inputs read by Spark's DataFrame reader: JSON lines files, and tables of the session's catalog
(--table: the cluster's Hive metastore where there is one).

A metastore table whose files are Parquet or ORC (and that has no partition columns, which its
files do not hold) is read as those files are (inputs/tables.py): its files, in sorted order,
read whole by pyarrow in the executors, rows numbered by file and place. Any other table, and
JSON files, go through the DataFrame reader: each partition's rows reach the Python workers as
Arrow record batches (mapInArrow, no Row objects) and are cut into the same ParsedBlocks, the
partition being the split; the same files and settings give the same partitions, so the same run.
"""

import pickle

from rddnet.errors import DataError
from rddnet.inputs.tables import FORMATS, layout_of, parsed_blocks

# Files of these formats are read by Spark's DataFrame reader, by the end of their names.
FRAME_FORMATS = {"json": (".json", ".jsonl", ".ndjson", ".json.gz", ".jsonl.gz")}


def frame_format(files):
    """"json" when every one of an input's files' names ends as JSON lines files' do, else None."""
    return "json" if all(name.lower().endswith(FRAME_FORMATS["json"]) for name in files) else None


def spark_session():
    from pyspark.sql import SparkSession
    return SparkSession.builder.getOrCreate()


def catalog_table(name):
    """(the DataFrame of the catalog's table ``name``, its format: parquet or orc when its files
    can be read as such, else None); DataError when there is no such table."""
    spark = spark_session()
    try:
        frame = spark.table(name)
        columns = spark.catalog.listColumns(name)
    except Exception as e:  # AnalysisException: no such table or view
        raise DataError(f"{name}: no such table in the session's catalog "
                        f"({spark.conf.get('spark.sql.catalogImplementation', 'in-memory')}): "
                        f"{str(e).splitlines()[0][:200]}") from None
    if any(column.isPartition for column in columns):
        return frame, None
    details = {row[0].strip(): str(row[1]).lower() for row in
               spark.sql(f"DESCRIBE TABLE EXTENDED {name}").collect() if row[0]}
    provider, serde = details.get("Provider", ""), details.get("Serde Library", "")
    for file_format in FORMATS:
        if provider == file_format or (provider == "hive" and file_format in serde):
            return frame, file_format
    return frame, None


CORRUPT = "_corrupt_record"  # the column Spark's JSON reader puts a line it cannot parse in


def json_frame(files):
    """The DataFrame of JSON lines ``files`` (their schema inferred from every line, as Spark
    does); DataError naming the file and quoting the first line that is not a JSON object."""
    from pyspark.sql.functions import col, input_file_name
    frame = spark_session().read.json(files, columnNameOfCorruptRecord=CORRUPT)
    if frame.columns == [CORRUPT]:  # no line parsed at all: Spark will not query that column alone
        from rddnet import hadoop_fs
        line = next(iter(hadoop_fs.first_lines(frame.sparkSession.sparkContext, files[0], 1)), "")[:80]
        shown = repr(line) if line.isprintable() else f"not text (it begins {line[:4]!r})"
        raise DataError(f"{files[0]}: not JSON lines (one JSON object per line): line 1 is {shown}; a "
                        "pretty-printed JSON document, or a file of another format, cannot be read as JSON lines")
    if CORRUPT in frame.columns:  # only there when a line could not be parsed
        # Selecting every column, not the corrupt one alone, as Spark requires of raw JSON.
        bad = frame.withColumn("_file", input_file_name()).where(col(CORRUPT).isNotNull()).first()
        raise DataError(f"{bad['_file']}: a line that is not a JSON object: {bad[CORRUPT][:80]!r}")
    return frame.drop(CORRUPT)


def arrow_schema(frame):
    """The Arrow schema of a DataFrame (a user-defined type as the type it is stored as)."""
    from pyspark.sql.pandas.types import to_arrow_schema
    from pyspark.sql.types import StructField, StructType, UserDefinedType
    return to_arrow_schema(StructType([
        StructField(f.name, f.dataType.sqlType() if isinstance(f.dataType, UserDefinedType) else f.dataType)
        for f in frame.schema]))


def frame_layout(frame, where, label, features):
    """tables.Layout of a DataFrame: its schema, and its first row for the length of a
    vector or array column."""
    import pyarrow as pa

    def first_row(name):
        rows = frame.select(name).limit(1).collect()
        if not rows:
            return None
        value = rows[0][0]
        return pa.table({name: pa.array([value.asDict() if hasattr(value, "asDict") else value])})
    try:
        schema = arrow_schema(frame)
    except Exception as e:  # a column type Arrow has no match for
        raise DataError(f"{where}: {str(e).splitlines()[0][:200]}") from None
    return layout_of(schema, first_row, where, label, features)


def frame_split(batches, layout, where, block_size, n_classes):
    """mapInArrow's function: one partition's record batches -> its ParsedBlocks (the partition is
    the split), each pickled in a one-row batch of one binary column."""
    import pyarrow as pa
    from pyspark import TaskContext
    split = TaskContext.get().partitionId()
    for parsed in parsed_blocks(batches, split, layout, f"{where}, partition {split}", block_size, n_classes):
        yield pa.RecordBatch.from_pydict({"parsed": [pickle.dumps(parsed, protocol=pickle.HIGHEST_PROTOCOL)]})


def parsed_of_frame(frame, layout, where, block_size, n_classes):
    """The RDD of a DataFrame's ParsedBlocks, partition by partition (the splits)."""
    from functools import partial
    columns = list(dict.fromkeys(layout.names + ([layout.label] if layout.label else [])))
    parsed = frame.select(*columns).mapInArrow(
        partial(frame_split, layout=layout, where=where, block_size=block_size, n_classes=n_classes), "parsed binary")
    return parsed.rdd.map(lambda row: pickle.loads(row.parsed))
