"""spark-submit main_task.py on a few thousand MNIST rows; every output parsed and cross-checked.

One spark-submit run is the reference; runs that only vary it (another input layout, evaluating
its model) run in this process's SparkContext, which gives the same results bit for bit."""

import ast
import json
import os
import sys

import numpy as np
import pytest

import generate_plots
import main_task
import nn_math
import predict
from conftest import SMALL_TEST, load_csv, read_output, spark_submit
from rddnet.errors import DataError
from rddnet.inputs import scaling
from rddnet.outputs import model_file

pytestmark = pytest.mark.spark

EPOCHS = 8
OPTIONS = ("--epochs", EPOCHS, "--block-size", 256, "--eval-every", EPOCHS // 2)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return tmp_path_factory.mktemp("runs")


@pytest.fixture(scope="module")
def compact_run(small_compact, runs):
    out = runs / "compact"
    result = spark_submit(*small_compact, out, *OPTIONS)
    assert result.returncode == 0, result.stderr[-3000:]
    return result, out


def run_here(sc, *arguments):
    """main_task's run in this process (the test session's SparkContext); returns its summary."""
    return main_task.run(sc, main_task.parse_args([str(a) for a in arguments]), log=lambda line: None)


def error_lines(result):
    """The job's error lines (spark-submit merges the script's stderr into its stdout)."""
    output = result.stdout + result.stderr
    return [line for line in output.splitlines() if line.startswith("main_task.py: error:")]


@pytest.mark.spark35
def test_log_has_one_line_per_epoch_and_no_spark_info(compact_run):
    result, _ = compact_run
    epoch_lines = [line for line in result.stdout.splitlines() if line.startswith("epoch")]
    assert len(epoch_lines) == EPOCHS
    assert all(word in epoch_lines[0] for word in ("cost", "train accuracy", "lr", "sample", " s"))
    assert " INFO " not in result.stdout + result.stderr
    assert "test accuracy" in result.stdout.splitlines()[-1]


@pytest.mark.spark35
def test_outputs_agree_with_each_other_and_with_the_data(compact_run, small_compact):
    _, out = compact_run
    cost = [float(v) for v in read_output(out, "cost_history")]
    accuracy = [float(v) for v in read_output(out, "accuracy_history")]
    assert len(cost) == len(accuracy) == EPOCHS and cost[-1] < cost[0]
    confusion = np.array([[int(n) for n in line.split()] for line in read_output(out, "confusion_matrix")])
    X, labels = load_csv(small_compact[2], small_compact[3])
    assert confusion.shape == (10, 10) and confusion.sum() == SMALL_TEST
    np.testing.assert_array_equal(confusion.sum(axis=1), np.bincount(labels, minlength=10))

    metrics = [ast.literal_eval(line) for line in read_output(out, "metrics")]
    for c, (precision, recall, f1) in enumerate(metrics):
        predicted, actual = confusion[:, c].sum(), confusion[c].sum()
        assert precision == pytest.approx(confusion[c, c] / predicted if predicted else 0.0)
        assert recall == pytest.approx(confusion[c, c] / actual)
        assert f1 == pytest.approx(2 * precision * recall / (precision + recall) if precision + recall else 0.0)

    summary = json.loads(read_output(out, "summary")[0])
    assert summary["test_accuracy"] == pytest.approx(np.trace(confusion) / SMALL_TEST)
    assert summary["macro_f1"] == pytest.approx(np.mean([m[2] for m in metrics]))
    assert [(c["precision"], c["recall"], c["f1"]) for c in summary["per_class"]] == metrics
    assert summary["confusion_matrix"] == confusion.tolist()
    assert summary["final_train_accuracy"] == accuracy[-1]
    assert len(summary["epoch_seconds"]) == EPOCHS and summary["load_seconds"] > 0
    assert summary["settings"]["epochs"] == EPOCHS and summary["settings"]["block_size"] == 256
    recorded = [ast.literal_eval(line) for line in read_output(out, "test_accuracy_history")]
    assert [epoch for epoch, _ in recorded] == [EPOCHS // 2, EPOCHS]
    assert recorded[-1][1] == summary["test_accuracy"]
    assert summary["test_accuracy_history"] == [list(pair) for pair in recorded]

    # The saved model, run here in NumPy, predicts exactly what the job reported.
    net, theta, scale, _ = model_file.model_from_lines(read_output(out, "model"))
    assert net == nn_math.Network([784, 64, 10], "tanh", "sse")
    assert scale.kind == "pixels" and scale.divisor == 255
    predicted = nn_math.predict(theta, net, scale.apply(np.loadtxt(small_compact[2], delimiter=",")))
    np.testing.assert_array_equal(nn_math.confusion_matrix(labels, predicted, 10), confusion)
    examples = [ast.literal_eval(line) for line in read_output(out, "tests")]
    assert examples == list(zip(predicted.tolist(), labels.tolist()))[:len(examples)] and len(examples) == 100


@pytest.mark.spark35
def test_the_original_layout_gives_the_same_run(sc, compact_run, small_seed, runs):
    _, compact = compact_run
    seed = runs / "seed"
    run_here(sc, *small_seed, seed, "--epochs", EPOCHS)
    # The same to float32 rounding: the files differ in bytes, so their splits and blocks do.
    np.testing.assert_allclose([float(v) for v in read_output(seed, "cost_history")],
                               [float(v) for v in read_output(compact, "cost_history")], rtol=1e-6)
    assert read_output(seed, "confusion_matrix") == read_output(compact, "confusion_matrix")


@pytest.mark.spark35
def test_init_model_with_no_epochs_only_evaluates(sc, compact_run, small_compact, runs):
    _, trained = compact_run
    out = runs / "evaluate-only"
    run_here(sc, *small_compact, out, "--epochs", 0, "--init-model", trained / "model")
    for name in ("confusion_matrix", "metrics", "tests", "model"):
        assert read_output(out, name) == read_output(trained, name)
    assert read_output(out, "cost_history") == [] and read_output(out, "accuracy_history") == []
    summary = json.loads(read_output(out, "summary")[0])
    assert summary["test_accuracy"] == json.loads(read_output(trained, "summary")[0])["test_accuracy"]
    assert summary["final_train_accuracy"] is None


def test_plots_are_written_both_ways(compact_run, small_compact, tmp_path):
    _, out = compact_run
    assert generate_plots.main([str(out), "--test-images", small_compact[2], "--test-labels", small_compact[3]]) == 0
    assert generate_plots.main([str(out / "cost_history" / "part-00000"), "None", str(tmp_path)]) == 0
    names = ("cost_history", "accuracy_history", "learning_rate", "confusion_matrix", "class_metrics",
             "test_examples")
    for path in [out / f"{name}.png" for name in names] + [tmp_path / "cost_history.png"]:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000
    assert not (tmp_path / "accuracy_history.png").exists()


def test_plots_report_bad_input_in_one_line(compact_run, tmp_path, capsys):
    _, out = compact_run
    assert generate_plots.main([str(tmp_path / "nowhere")]) == 2
    missing = tmp_path / "nowhere" / "cost_history"
    assert capsys.readouterr().err.strip() == f"generate_plots.py: error: {missing}: file not found"
    with pytest.raises(SystemExit) as exit_:
        generate_plots.main([str(out), "--test-images", str(tmp_path / "x.csv")])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.strip() == ("generate_plots.py: error: --test-images and --test-labels go "
                                               "together (see --help)")
    import pyarrow as pa
    import pyarrow.parquet as pq
    table = tmp_path / "test.parquet"  # the test set as a table: the plots take CSV files
    pq.write_table(pa.table({"pixels": [[0, 255] * 392], "label": [3]}), table)
    assert generate_plots.main([str(out), "--test-images", str(table), "--test-labels", str(table)]) == 2
    said = capsys.readouterr().err.strip()
    assert said.startswith(f"generate_plots.py: error: {table}: not a CSV text file (UnicodeDecodeError: ")
    assert said.endswith("); --test-images and --test-labels take CSV files, plain or .gz") and "\n" not in said


def test_plots_read_test_files_as_the_job_does(compact_run, small_compact, tmp_path, capsys):
    _, out = compact_run
    with open(small_compact[2]) as images, open(small_compact[3]) as labels:
        image_lines, label_lines = images.read().splitlines(), labels.read().splitlines()
    header = ",".join(f"pixel{j}" for j in range(784))
    (tmp_path / "images.csv").write_text("\ufeff" + header + "\n" + "\n".join(image_lines) + "\n\n\n")
    (tmp_path / "labels.csv").write_text("label\r\n" + "\r\n".join(label_lines) + "\r\n")
    examples = out / "test_examples.png"
    examples.unlink(missing_ok=True)
    assert generate_plots.main([str(out), "--test-images", str(tmp_path / "images.csv"),
                                "--test-labels", str(tmp_path / "labels.csv")]) == 0
    assert examples.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    (tmp_path / "images.csv").write_text("\n".join(image_lines[:5] + [""] + image_lines[5:]) + "\n")
    assert generate_plots.main([str(out), "--test-images", str(tmp_path / "images.csv"),
                                "--test-labels", str(tmp_path / "labels.csv")]) == 2
    assert capsys.readouterr().err.strip().endswith("images.csv: line 6: empty line")


def test_existing_output_dir_is_refused_and_left_untouched(sc, small_compact, tmp_path):
    out = tmp_path / "out"
    (out / "summary").mkdir(parents=True)
    (out / "summary" / "part-00000").write_text("earlier results")
    with pytest.raises(DataError) as error:
        run_here(sc, *small_compact, out, "--epochs", 1)
    assert str(error.value) == f"{out}: already exists; choose another OUTPUT_DIR or pass --overwrite"
    assert read_output(out, "summary") == ["earlier results"]

    run_here(sc, *small_compact, out, "--epochs", 1, "--overwrite")
    assert read_output(out, "summary") != ["earlier results"] and len(read_output(out, "cost_history")) == 1
    assert sorted(os.listdir(tmp_path)) == ["out"]  # no staging folder left behind


@pytest.mark.spark35
def test_bad_input_is_one_line_naming_file_and_line(small_compact, tmp_path):
    with open(small_compact[0]) as f:
        lines = [next(f) for _ in range(300)]
    lines[122] = ",".join(lines[122].split(",")[:-1]) + "\n"  # line 123: 783 values
    bad = tmp_path / "images.csv"
    bad.write_text("".join(lines))
    labels = tmp_path / "labels.csv"
    with open(small_compact[1]) as f:
        labels.write_text("".join(next(f) for _ in range(300)))
    out = tmp_path / "out"
    result = spark_submit(bad, labels, *small_compact[2:], out, "--epochs", 1)
    assert result.returncode == 2 and "Traceback" not in result.stdout + result.stderr
    assert error_lines(result) == [f"main_task.py: error: {bad}: line 123: expected 784 values, found 783"]
    assert not out.exists()  # a missing file and every other bad input: test_errors.py, in this process


@pytest.fixture(scope="module")
def predicted(compact_run, small_compact, runs):
    """spark-submit predict.py with the compact run's model on the test set, with its labels."""
    _, trained = compact_run
    out = runs / "predict"
    result = spark_submit(trained / "model", small_compact[2], out, "--labels", small_compact[3], script="predict.py")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rows = [line.split(",") for line in read_output(out, "predictions")]
    return out, rows


@pytest.mark.spark35
def test_predict_agrees_exactly_with_what_training_reported(compact_run, predicted):
    (_, trained), (out, rows) = compact_run, predicted
    assert [int(r[0]) for r in rows] == list(range(1, SMALL_TEST + 1))  # every line, in input order
    scores = np.array([[float(v) for v in r[2:]] for r in rows])
    assert scores.shape == (SMALL_TEST, 10)
    np.testing.assert_array_equal([int(r[1]) for r in rows], scores.argmax(axis=1))
    for output in ("confusion_matrix", "tests", "metrics"):
        assert read_output(out, output) == read_output(trained, output)
    summary = json.loads(read_output(out, "summary")[0])
    assert summary["test_accuracy"] == json.loads(read_output(trained, "summary")[0])["test_accuracy"]


@pytest.mark.parametrize("where", ["first", "last", "label"])
def test_predict_takes_the_labels_of_a_csv_file_from_its_label_column(sc, compact_run, predicted, small_compact,
                                                                       tmp_path, where):
    (_, trained), (by_file, rows) = compact_run, predicted
    with open(small_compact[2]) as images, open(small_compact[3]) as labels:
        pairs = [(label.strip(), image.strip()) for image, label in zip(images, labels)]
    header = {"label": "label," + ",".join(f"p{i}" for i in range(784)) + "\n"}.get(where, "")
    last = where == "last"
    (tmp_path / "labelled.csv").write_text(header + "".join(f"{image},{label}\n" if last else f"{label},{image}\n"
                                                            for label, image in pairs))
    out = tmp_path / "out"
    predict.run(sc, predict.parse_args([str(trained / "model"), str(tmp_path / "labelled.csv"), str(out),
                                        "--label-column", where]), log=lambda line: None)
    for output in ("confusion_matrix", "tests", "metrics"):  # as with the labels in a file of their own
        assert read_output(out, output) == read_output(by_file, output)
    assert [line.split(",")[1:] for line in read_output(out, "predictions")] == [row[1:] for row in rows]


def test_the_onnx_model_gives_the_classes_and_probabilities_predict_gives(compact_run, predicted, small_compact):
    import onnxruntime
    (_, trained), (_, rows) = compact_run, predicted
    session = onnxruntime.InferenceSession(str(trained / "model.onnx"))
    features = np.loadtxt(small_compact[2], delimiter=",", dtype=np.float32)  # the file's raw values
    probabilities = session.run(None, {"features": features})[0]
    np.testing.assert_array_equal(probabilities.argmax(axis=1), [int(r[1]) for r in rows])
    np.testing.assert_allclose(probabilities, [[float(v) for v in r[2:]] for r in rows], atol=1e-5, rtol=0)


def test_a_model_of_the_first_format_still_loads_and_predicts_the_same(compact_run, small_compact, tmp_path):
    _, trained = compact_run
    lines = read_output(trained, "model")
    header = json.loads(lines[0])
    assert header["format"] == model_file.MODEL_FORMAT and header["scaling"]["kind"] == "pixels"
    old = {key: value for key, value in header.items() if key != "scaling"} | {"format": "mnist-mlp-model/1"}
    net, theta, scale, _ = model_file.model_from_lines([json.dumps(old), *lines[1:]])
    assert scale.divisor is None  # as that version did: pixels, scaled by what the data holds
    X = np.loadtxt(small_compact[2], delimiter=",")
    assert scaling.Scaling.choose(scale.kind, scaling.moments_of(X)) == (scale.kind, 0.0, 255.0)
    net2, theta2, scale2, _ = model_file.model_from_lines(lines)
    np.testing.assert_array_equal(nn_math.predict(theta, net, X / 255.0), nn_math.predict(theta2, net2,
                                                                                          scale2.apply(X)))


def test_without_the_onnx_package_the_job_says_so_and_writes_the_rest(sc, small_compact, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx -> ImportError
    said = []
    main_task.run(sc, main_task.parse_args([*small_compact, str(tmp_path / "out"), "--epochs", "1"]), log=said.append)
    assert [line for line in said if "onnx " in line] == [
        "model.onnx not written: the onnx package is not installed (pip install onnx); the rest is"]
    assert not (tmp_path / "out" / "model.onnx").exists() and read_output(tmp_path / "out", "model")


def test_predict_reports_bad_input_in_one_line(sc, compact_run, small_compact, tmp_path):
    _, trained = compact_run
    narrow = tmp_path / "narrow.csv"
    narrow.write_text("1,2,3\n4,5,6\n")
    for model, rows, message in ((trained / "model", narrow, f"{narrow}: line 1: 3 values per row, the training "
                                                             "images have 784"),
                                 (tmp_path / "nowhere", small_compact[2], f"{tmp_path / 'nowhere'}: file not found")):
        with pytest.raises(DataError) as error:
            predict.run(sc, predict.parse_args([str(model), str(rows), str(tmp_path / "out")]), log=lambda line: None)
        assert str(error.value) == message
        assert not (tmp_path / "out").exists()
