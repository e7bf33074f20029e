"""python tests/connect_session.py MODEL_DIR TABLE COLUMNS: over a local Spark Connect session
(Spark 4; no SparkContext on this side), the saved model MODEL_DIR loads and transforms TABLE's
rows, the SQL function registers and answers for an array of the feature COLUMNS, and fit says in
one line that it needs a classic session. Prints the answers as JSON."""

import json
import sys

from pyspark.sql import SparkSession

from rddnet.errors import DataError
from rddnet.ml import NeuralNetworkClassifier, NeuralNetworkModel
from rddnet.outputs.sql_function import register_model

model_dir, table, columns = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
spark = SparkSession.builder.remote("local[2]").getOrCreate()
frame = spark.read.parquet(table)
model = NeuralNetworkModel.load(model_dir)
scored = model.transform(frame).orderBy("id").collect()
register_model(spark, "the_model", model_dir)
frame.createOrReplaceTempView("rows")
sql = spark.sql(f"SELECT id, the_model(array({', '.join(columns)})).prediction AS p FROM rows ORDER BY id").collect()
try:
    NeuralNetworkClassifier(featuresCols=columns, maxIter=1).fit(frame)
    refused = None
except DataError as e:
    refused = str(e)
print(json.dumps({"probabilities": [row.probability.toArray().tolist() for row in scored],
                  "predictions": [row.prediction for row in scored], "sql": [row.p for row in sql],
                  "refused": refused, "uid": model.uid}))
spark.stop()
