"""spark-submit tests/hive_tables.py PARQUET NAME PARQUET NAME -- MAIN_TASK_ARGS...: Hive tables
(stored as Parquet, Hive's own SerDe) of the given Parquet files, in the metastore the --conf
settings name (the tests' stand-in for a cluster's Hive metastore); then, in the same JVM, the job
main_task.py with the arguments after "--", as spark-submit would run it. Exits with its code."""

import os
import runpy
import sys

from pyspark.sql import SparkSession

MAIN_TASK = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "main_task.py")

split = sys.argv.index("--")
pairs, job = sys.argv[1:split], sys.argv[split + 1:]
spark = SparkSession.builder.enableHiveSupport().getOrCreate()
for path, name in zip(pairs[::2], pairs[1::2]):
    spark.read.parquet(path).createOrReplaceTempView("source")
    spark.sql(f"CREATE TABLE {name} STORED AS PARQUET AS SELECT * FROM source")
spark.stop()  # the job starts its own SparkContext, with the same settings
sys.argv = [MAIN_TASK, *job]
runpy.run_path(MAIN_TASK, run_name="__main__")  # exits with the job's code
