"""make bench's large tables: MNIST copied over and over as one Parquet file (784 columns, an
array column), as Spark's folder of the same rows and as CSV files, and a file over 2 GB; the
job's load of each and its Python workers' peak memory (section 2b of docs/benchmarks.md)."""

import os
import subprocess
import sys

import numpy as np
from spark_jobs import job, step


def write_big_tables(data, folder, copies):
    """{layout: (train, test)}: the training rows ``copies`` times over as one Parquet file of 784
    uint8 columns (pandas' to_parquet), one of an array column (pyarrow), each in row groups of 64k
    rows, and as the folder of parts Spark writes of the columns file; the test rows beside each."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq
    os.makedirs(folder, exist_ok=True)
    tables = {}
    for name, (images, labels), times in (("train", data[:2], copies), ("test", data[2:], 1)):
        X = np.tile(np.loadtxt(images, delimiter=",", dtype=np.uint8), (times, 1))
        y = np.tile(np.loadtxt(labels, dtype=np.int64), times)
        columns = pd.DataFrame(X, columns=[f"p{j}" for j in range(X.shape[1])]).assign(label=y)
        path = os.path.join(folder, f"{name}-columns.parquet")
        columns.to_parquet(path, row_group_size=BIG_ROW_GROUP, index=False)
        del columns
        arrays = pa.table({"features": pa.ListArray.from_arrays(
            np.arange(0, X.size + 1, X.shape[1], dtype=np.int64).astype(np.int32), pa.array(X.ravel())), "label": y})
        pq.write_table(arrays, os.path.join(folder, f"{name}-array.parquet"), row_group_size=BIG_ROW_GROUP)
        tables.setdefault("columns", []).append(path)
        tables.setdefault("array", []).append(os.path.join(folder, f"{name}-array.parquet"))
    parts = os.path.join(folder, "train-parts")
    subprocess.run([sys.executable, "-c", "import sys; from pyspark.sql import SparkSession; SparkSession.builder."
                    "master('local[2]').getOrCreate().read.parquet(sys.argv[1]).write.parquet(sys.argv[2])",
                    tables["columns"][0], parts], check=True, stderr=subprocess.DEVNULL)
    tables["parts"] = [parts, tables["columns"][1]]
    return tables


BIG_ROW_GROUP = 65536  # rows per row group of the large tables, as pandas and pyarrow users pick


def write_huge_array_file(data, path, rows, row_group):
    """A Parquet file of ``rows`` rows of a float64 array column of 784 (the training pixels, over
    and over) and a label, stored as they are (no dictionary, no compression): 6.3 KB a row."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    X = np.loadtxt(data[0], delimiter=",", dtype=np.uint8).astype(np.float64)
    y = np.loadtxt(data[1], dtype=np.int64)
    schema = pa.schema([("features", pa.list_(pa.float64())), ("label", pa.int64())])
    with pq.ParquetWriter(path, schema, compression="none", use_dictionary=False) as writer:
        for start in range(0, rows, row_group):
            picked = np.arange(start, min(rows, start + row_group)) % len(X)
            values = pa.array(X[picked].ravel())
            offsets = pa.array(np.arange(0, len(values) + 1, X.shape[1], dtype=np.int32))
            writer.write_table(pa.table({"features": pa.ListArray.from_arrays(offsets, values),
                                         "label": y[picked]}, schema=schema))
    return path


def measure_big_tables(r, data, work, quick):
    """One large Parquet file against Spark's folder of the same rows and against CSV files: the
    job's load and its Python workers' peak memory (a fresh JVM each); then a file over 2 GB."""
    copies = 4 if quick else 20
    step(f"large tables: MNIST x{copies} as one Parquet file (columns, array) and as Spark's folder")
    tables = write_big_tables(data, os.path.join(work, "big"), copies)
    r["big"] = {"copies": copies, "row_group": BIG_ROW_GROUP, "loads": {}, "sizes": {}}
    runs = {**tables, "columns-pieces": tables["columns"],
            "csv": [",".join([data[0]] * copies), ",".join([data[1]] * copies), data[2], data[3]]}
    for kind, paths in runs.items():
        step(f"large tables: the job's load of {kind}")
        options = () if kind == "csv" else ("--label-column", "label", *(("--features", "features")
                                                                        if kind == "array" else ()))
        # columns-pieces: the same file read by Spark's reader in 64 MB pieces, as a file over 512 MB is
        splits = ("--conf", "spark.sql.files.maxPartitionBytes=64m") if kind == "columns-pieces" else ()
        summary, _, memory = job(paths, os.path.join(work, f"big-{kind}"), *options, "--epochs", "1", memory=True,
                                 spark_options=splits)
        worker = memory.by_role().get("Python worker", (0, 0))
        r["big"]["loads"][kind] = {"seconds": summary["load_seconds"], "worker_peak": worker[0],
                                   "workers_total": worker[1], "rows": summary["train_rows"]}
        r["big"]["sizes"][kind] = sum(os.path.getsize(os.path.join(root, f)) for root, _, files in
                                      os.walk(paths[0]) for f in files) if os.path.isdir(paths[0]) else \
            sum(os.path.getsize(p) for p in paths[0].split(","))
    huge_rows = 40_000 if quick else 500_000
    step(f"large tables: a file of {huge_rows} rows of float64 arrays, stored as they are")
    huge = write_huge_array_file(data, os.path.join(work, "big", "huge.parquet"), huge_rows, 8192)
    summary, _, memory = job([huge, tables["array"][1]], os.path.join(work, "big-huge"), "--label-column", "label",
                             "--features", "features", "--epochs", "1", memory=True)
    r["big"]["huge"] = {"bytes": os.path.getsize(huge), "rows": summary["train_rows"],
                        "seconds": summary["load_seconds"], "worker_peak": memory.by_role()["Python worker"][0]}
    subprocess.run(["rm", "-rf", os.path.join(work, "big")])
