"""The pyspark.ml front door: NeuralNetworkClassifier trains on the job's own engine (the same
weights as main_task.py on the same table), NeuralNetworkModel scores as NumPy does with the
same weights, and both live in Pipelines, CrossValidator and pyspark.ml's save and load."""

import json
from types import SimpleNamespace

import numpy as np
import pytest

import main_task
import nn_math
from conftest import read_output
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
    """Wine-like data: 178 rows of 13 measurements on scales of their own, in 3 overlapping
    classes (seeded Gaussian clusters, so that Spark 3.5's environment needs no scikit-learn): its
    Parquet file, and the DataFrame of the same rows with an id."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    rng = np.random.default_rng(7)
    target = rng.integers(0, 3, 178)
    X = (rng.normal(size=(3, 13))[target] + 0.8 * rng.normal(size=(178, 13))) * rng.uniform(0.5, 50, 13) + 10
    names = [f"m{j}" for j in range(13)]
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
