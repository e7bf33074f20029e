"""The pyspark.ml front door: NeuralNetworkClassifier trains on the job's own engine (the same
weights as main_task.py on the same table), NeuralNetworkModel scores as NumPy does with the
same weights, and both live in Pipelines, CrossValidator and pyspark.ml's save and load."""

import json
from types import SimpleNamespace

import numpy as np
import pytest

import main_task
import nn_math
from conftest import read_output, wine_like
from rddnet.ml import NeuralNetworkClassifier, NeuralNetworkModel
from rddnet.ml.params import BadParam
from rddnet.option_table import BY_FLAG

pytestmark = pytest.mark.spark
QUIET = dict(maxIter=8, hidden=[16], optimizer="adam", stepSize=0.01, loss="cross-entropy", scale="standardize")


@pytest.fixture(scope="module")
def spark(sc):
    from pyspark.sql import SparkSession
    return SparkSession(sc)


@pytest.fixture(scope="module")
def wine(spark, tmp_path_factory):
    """conftest.wine_like's 178 rows: their Parquet file, and its DataFrame (an id, the 13
    measurements, the label)."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    X, target, names = wine_like()
    path = str(tmp_path_factory.mktemp("wine") / "wine.parquet")
    pq.write_table(pa.table({"id": np.arange(178), **{n: X[:, j] for j, n in enumerate(names)}, "label": target}),
                   path)
    return path, spark.read.parquet(path), names, SimpleNamespace(data=X, target=target)


@pytest.mark.spark35
def test_fit_trains_the_weights_main_task_trains_on_the_same_table(sc, wine, tmp_path, capsys):
    path, frame, names, _ = wine
    options = ["--epochs", "8", "--hidden", "16", "--optimizer", "adam", "--lr", "0.01", "--loss", "cross-entropy",
               "--scale", "standardize", "--validation-fraction", "0.2", "--features", ",".join(names)]
    main_task.run(sc, main_task.parse_args([path, path, str(tmp_path / "run"), "--label-column", "label",
                                            *options]), log=lambda line: None)
    model = NeuralNetworkClassifier(featuresCols=names, validationFraction=0.2, **QUIET).fit(frame)
    run = NeuralNetworkModel.load(str(tmp_path / "run"))  # a main_task.py run's folder
    np.testing.assert_array_equal(model.theta, run.theta)  # the same engine, blocks and steps: the same bits
    summary = json.loads(read_output(tmp_path / "run", "summary")[0])
    assert model.summary.objectiveHistory == [float(c) for c in read_output(tmp_path / "run", "cost_history")]
    assert [list(v) for v in model.summary.history["validation"]] == summary["validation_history"]
    assert "epoch   8/8  cost" in capsys.readouterr().out  # the job's own epoch lines
    assert run.getFeaturesCols() == names and run.getLabelCol() == "label"


@pytest.mark.spark35
def test_transform_scores_as_numpy_keeping_every_row_and_column(spark, wine):
    from pyspark.ml.evaluation import MulticlassClassificationEvaluator
    from pyspark.ml.feature import VectorAssembler
    _, frame, names, data = wine
    vectors = VectorAssembler(inputCols=names, outputCol="features").transform(frame)
    model = NeuralNetworkClassifier(**QUIET).fit(vectors)
    scored = model.transform(vectors)
    assert scored.columns == [*vectors.columns, "rawPrediction", "probability", "prediction"]
    rows = scored.collect()  # in the input's order
    assert [r.id for r in rows] == [r.id for r in vectors.select("id").collect()]
    X = np.array([[getattr(r, n) for n in names] for r in rows])
    P = nn_math.forward(model.theta, model.net, model.scaling.apply(X))[2]  # NumPy, the same weights
    np.testing.assert_allclose([r.probability.toArray() for r in rows], P, rtol=1e-12)
    assert [r.prediction for r in rows] == P.argmax(axis=1).astype(float).tolist()
    accuracy = MulticlassClassificationEvaluator(metricName="accuracy").evaluate(scored)
    assert accuracy == pytest.approx(np.mean(P.argmax(axis=1) == data.target)) and accuracy > 0.8


def test_params_have_the_jobs_defaults_and_bad_values_fail_before_any_job(wine):
    _, frame, names, _ = wine
    classifier = NeuralNetworkClassifier()
    assert (classifier.getMaxIter(), classifier.getStepSize(), classifier.getSeed()) == (100, 0.1, 42)
    assert classifier.getHidden() == BY_FLAG["hidden"].default and classifier.getDropout() == 0.0
    assert classifier.getSampleFraction() == 0.7 and classifier.option_values()["lr_schedule"] == "bold-driver"
    assert classifier.setOptimizer("adam").option_values()["lr_schedule"] == "constant"
    for params, message in (({"dropout": 1.5}, r"^dropout 1\.5: expected a number in \[0, 1\), got '1\.5'$"),
                            ({"activation": "gelu"}, r"^activation 'gelu': expected one of sigmoid, tanh, relu$"),
                            ({"maxIter": 0}, r"^maxIter 0 trains nothing: give it the number of epochs to train$"),
                            ({"earlyStopping": 3}, r"^earlyStopping watches the validation cost: set "
                                                   r"validationIndicatorCol or validationFraction$")):
        with pytest.raises(BadParam, match=message):
            NeuralNetworkClassifier(featuresCols=names, **params).fit(frame)


def test_validation_rows_from_an_indicator_column_stop_early(spark, wine):
    from pyspark.sql import functions as F
    _, frame, names, _ = wine
    marked = frame.withColumn("held", F.col("id") % 5 == 0)
    model = NeuralNetworkClassifier(featuresCols=names, validationIndicatorCol="held", earlyStopping=2, minDelta=0.5,
                                    **QUIET).fit(marked)
    validations = model.summary.history["validation"]
    assert model.summary.lastEpoch < 8 and model.summary.keptEpoch == model.summary.bestEpoch == 0
    assert len(validations) == model.summary.lastEpoch + 1 and validations[0][0] == 0


@pytest.mark.spark35
def test_pipelines_cross_validation_and_save_load_keep_the_answers(spark, wine, tmp_path):
    from pyspark.ml import Pipeline, PipelineModel
    from pyspark.ml.evaluation import MulticlassClassificationEvaluator
    from pyspark.ml.feature import StandardScaler, VectorAssembler
    from pyspark.ml.tuning import CrossValidator, CrossValidatorModel, ParamGridBuilder
    _, frame, names, _ = wine
    classifier = NeuralNetworkClassifier(**{**QUIET, "scale": "none"})
    pipeline = Pipeline(stages=[VectorAssembler(inputCols=names, outputCol="raw"),
                                StandardScaler(inputCol="raw", outputCol="features", withMean=True), classifier])
    grid = ParamGridBuilder().addGrid(classifier.hidden, [[4], [16]]).build()
    tuned = CrossValidator(estimator=pipeline, estimatorParamMaps=grid, numFolds=2, parallelism=2, seed=1,
                           evaluator=MulticlassClassificationEvaluator(metricName="accuracy")).fit(frame)
    assert len(tuned.avgMetrics) == 2 and max(tuned.avgMetrics) > 0.8
    best = tuned.bestModel
    expected = [r.probability.toArray() for r in best.transform(frame).collect()]
    best.save(str(tmp_path / "pipeline"))
    tuned.save(str(tmp_path / "tuned"))
    for loaded in (PipelineModel.load(str(tmp_path / "pipeline")), CrossValidatorModel.load(str(tmp_path / "tuned"))):
        np.testing.assert_array_equal([r.probability.toArray() for r in loaded.transform(frame).collect()],
                                      expected)
    stage = PipelineModel.load(str(tmp_path / "pipeline")).stages[-1]
    assert isinstance(stage, NeuralNetworkModel) and stage.getHidden() == best.stages[-1].getHidden()
    assert stage.uid == best.stages[-1].uid


def test_a_saved_model_is_a_folder_predict_reads(sc, spark, wine, tmp_path):
    import predict
    path, frame, names, _ = wine
    model = NeuralNetworkClassifier(featuresCols=names, **QUIET).fit(frame)
    model.save(str(tmp_path / "saved"))
    predict.run(sc, predict.parse_args([str(tmp_path / "saved"), path, str(tmp_path / "scored"), "--output-format",
                                        "csv"]), log=lambda line: None)
    classes = [int(line.split(",")[1]) for line in read_output(tmp_path / "scored", "predictions")]
    rows = model.transform(frame).collect()
    assert classes == [int(r.prediction) for r in rows]
    summary = json.loads(read_output(tmp_path / "scored", "summary")[0])  # its metrics, from the label column
    assert summary["test_accuracy"] == pytest.approx(np.mean([r.prediction == r.label for r in rows]))


@pytest.mark.spark35
def test_probabilities_equal_mllibs_perceptron_with_the_same_weights(spark, wine, tmp_path):
    """MLlib's MultilayerPerceptronClassificationModel (sigmoid hidden layers, softmax on top) given
    our weights: it lays a layer out as theta does (W (in, out) row by row, then b), and MLlib has
    no constructor from weights, so they go into the data/ of a model folder it saved."""
    from pyspark.ml.classification import MultilayerPerceptronClassificationModel, MultilayerPerceptronClassifier
    from pyspark.ml.feature import VectorAssembler
    from pyspark.ml.linalg import Vectors
    _, frame, names, _ = wine
    vectors = VectorAssembler(inputCols=names, outputCol="features").transform(frame)
    ours = NeuralNetworkClassifier(hidden=[8], activation="sigmoid", loss="cross-entropy", scale="none", maxIter=5,
                                   optimizer="adam", stepSize=0.05).fit(vectors)
    folder = str(tmp_path / "mllib")
    MultilayerPerceptronClassifier(layers=[13, 8, 3], maxIter=1, seed=1).fit(vectors).save(folder)
    spark.createDataFrame([(Vectors.dense(ours.theta),)], ["weights"]).coalesce(1).write.mode("overwrite").parquet(
        f"{folder}/data")
    mllib = MultilayerPerceptronClassificationModel.load(folder)
    theirs = np.array([r.probability.toArray() for r in mllib.transform(vectors).collect()])
    mine = np.array([r.probability.toArray() for r in ours.transform(vectors).collect()])
    assert theirs.std(axis=0).max() > 0.01  # not a constant answer
    np.testing.assert_allclose(mine, theirs, rtol=1e-6, atol=1e-12)


def test_digits_in_a_pipeline_with_standard_scaler_are_within_a_point_of_scikit_learn(spark):
    """scikit-learn's digits, its split as the README's tabular row: StandardScaler and this
    estimator against MLPClassifier's default settings on standardized inputs."""
    from pyspark.ml import Pipeline
    from pyspark.ml.evaluation import MulticlassClassificationEvaluator
    from pyspark.ml.feature import StandardScaler as SparkScaler
    from pyspark.ml.feature import VectorAssembler
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import StandardScaler
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
    scaler = StandardScaler().fit(X_train)
    theirs = MLPClassifier(random_state=0, max_iter=500).fit(scaler.transform(X_train), y_train).score(
        scaler.transform(X_test), y_test)
    names = [f"x{j}" for j in range(64)]
    train, test = (spark.createDataFrame([(*map(float, row), int(label)) for row, label in zip(rows, labels)],
                                         [*names, "label"]) for rows, labels in ((X_train, y_train), (X_test, y_test)))
    classifier = NeuralNetworkClassifier(hidden=[100], activation="relu", loss="cross-entropy", init="he",
                                         optimizer="adam", stepSize=0.003, l2=0.001, sampleFraction=1.0, localSteps=10,
                                         maxIter=40, scale="none")
    pipeline = Pipeline(stages=[VectorAssembler(inputCols=names, outputCol="raw"),
                                SparkScaler(inputCol="raw", outputCol="features", withMean=True), classifier])
    ours = MulticlassClassificationEvaluator(metricName="accuracy").evaluate(pipeline.fit(train).transform(test))
    assert ours >= theirs - 0.01, (ours, theirs)


def test_a_saved_model_transforms_over_spark_connect_where_fit_is_one_line(wine, tmp_path):
    """In a process of its own: a Spark Connect session cannot start beside the tests' classic one."""
    import subprocess
    import sys

    from conftest import ROOT
    path, frame, names, _ = wine
    model = NeuralNetworkClassifier(featuresCols=names, **QUIET).fit(frame)
    model.save(str(tmp_path / "saved"))
    rows = model.transform(frame).orderBy("id").collect()
    result = subprocess.run([sys.executable, f"{ROOT}/tests/connect_session.py", str(tmp_path / "saved"), path,
                             ",".join(names)], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    answers = json.loads(result.stdout.strip().splitlines()[-1])
    np.testing.assert_allclose(answers["probabilities"], [r.probability.toArray() for r in rows], rtol=1e-12)
    assert answers["predictions"] == answers["sql"] == [r.prediction for r in rows] and answers["uid"] == model.uid
    assert answers["refused"] == ("NeuralNetworkClassifier.fit trains with RDDs, which Spark Connect does not have: "
                                  "fit in a classic SparkSession (the saved model then transforms over Connect)")


@pytest.mark.spark35
def test_transform_scores_a_stream_and_two_classes_for_the_binary_evaluator(spark, tmp_path):
    from pyspark.ml.evaluation import BinaryClassificationEvaluator
    from pyspark.ml.tuning import ParamGridBuilder, TrainValidationSplit
    X, target, names = wine_like(rows=200, classes=2, seed=3)
    frame = spark.createDataFrame([(i, *map(float, x), int(y)) for i, (x, y) in enumerate(zip(X, target))],
                                  ["id", *names, "label"])
    classifier = NeuralNetworkClassifier(featuresCols=names, **QUIET)
    grid = ParamGridBuilder().addGrid(classifier.dropout, [0.0, 0.1]).build()
    model = TrainValidationSplit(estimator=classifier, estimatorParamMaps=grid, trainRatio=0.75, seed=2,
                                 evaluator=BinaryClassificationEvaluator()).fit(frame).bestModel
    scored = model.transform(frame)
    area = BinaryClassificationEvaluator(metricName="areaUnderROC").evaluate(scored)
    P = nn_math.forward(model.theta, model.net, model.scaling.apply(X))[2]
    assert area > 0.9 and model.numClasses == 2
    frame.write.parquet(str(tmp_path / "rows"))
    stream = spark.readStream.schema(frame.schema).parquet(str(tmp_path / "rows"))
    query = model.transform(stream).select("id", "probability").writeStream.format("memory") \
        .queryName("streamed").trigger(availableNow=True).start()
    query.awaitTermination(120)
    streamed = sorted((r.id, r.probability.toArray()) for r in spark.sql("SELECT * FROM streamed").collect())
    assert [i for i, _ in streamed] == list(range(200))
    np.testing.assert_allclose([p for _, p in streamed], P, rtol=1e-12)
