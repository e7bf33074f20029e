"""Spark MLlib's MultilayerPerceptronClassifier on the same CSV files, for bench/benchmark.py.

    spark-submit bench/mllib_mlp.py TRAIN_IMAGES TRAIN_LABELS TEST_IMAGES TEST_LABELS

Prints one JSON line: load seconds (CSV files to cached DataFrames), fit seconds and test accuracy.
Layers 784-64-10, l-bfgs, maxIter 100, as in the issue's reference measurement.
"""

import json
import sys
import time

from pyspark.ml.classification import MultilayerPerceptronClassifier
from pyspark.ml.linalg import Vectors
from pyspark.sql import SparkSession


def frame(spark, images, labels):
    """A cached DataFrame (features: pixels / 255, label), images and labels paired by line."""
    sc = spark.sparkContext
    classes = sc.broadcast([float(v) for v in sc.textFile(labels).collect()])
    rows = sc.textFile(images).zipWithIndex().map(
        lambda pair: (Vectors.dense([float(v) / 255.0 for v in pair[0].split(",")]), classes.value[pair[1]]))
    return spark.createDataFrame(rows, ["features", "label"]).cache()


def main(train_images, train_labels, test_images, test_labels):
    spark = SparkSession.builder.appName("mllib-mlp").getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    started = time.perf_counter()
    train = frame(spark, train_images, train_labels)
    test = frame(spark, test_images, test_labels)
    train.count(), test.count()
    load_seconds = time.perf_counter() - started
    started = time.perf_counter()
    model = MultilayerPerceptronClassifier(layers=[784, 64, 10], solver="l-bfgs", maxIter=100, seed=42).fit(train)
    fit_seconds = time.perf_counter() - started
    predictions = model.transform(test)
    accuracy = predictions.filter(predictions.prediction == predictions.label).count() / test.count()
    print(json.dumps({"load_seconds": load_seconds, "fit_seconds": fit_seconds, "test_accuracy": accuracy}))
    spark.stop()


if __name__ == "__main__":
    main(*sys.argv[1:5])
