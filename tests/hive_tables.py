"""spark-submit hive_tables.py PARQUET NAME [PARQUET NAME ...]: Hive tables (stored as Parquet,
Hive's own SerDe) of the given Parquet files, in the metastore the --conf settings name: the
tests' stand-in for a cluster's Hive metastore."""

import sys

from pyspark.sql import SparkSession

spark = SparkSession.builder.enableHiveSupport().getOrCreate()
pairs = sys.argv[1:]
for path, name in zip(pairs[::2], pairs[1::2]):
    spark.read.parquet(path).createOrReplaceTempView("source")
    spark.sql(f"CREATE TABLE {name} STORED AS PARQUET AS SELECT * FROM source")
spark.stop()
