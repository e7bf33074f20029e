"""Tables in: Parquet written by real writers (pyarrow, Spark's VectorAssembler) train the same run
as the CSV files holding the same rows, and bad tables are one line naming the file, the row and
the column."""

import json
import os
from types import SimpleNamespace

import numpy as np
import pytest

import main_task
from conftest import read_output, wine_like
from rddnet.errors import DataError
from rddnet.outputs.sql_function import register_model

pytestmark = pytest.mark.spark
OPTIONS = ("--epochs", "3", "--hidden", "16", "--seed", "4")
SAME = ("cost_history", "accuracy_history", "model", "confusion_matrix")


def same_run_output(folder, output):
    """An output's lines as two runs on the same rows share them: the model's header without its
    record of the inputs (a table's columns, CSV files' none), which the same rows need not share."""
    lines = read_output(folder, output)
    if output == "model":
        header = {key: value for key, value in json.loads(lines[0]).items() if key != "inputs"}
        lines = [json.dumps(header), *lines[1:]]
    return lines


def csv_rows(images, labels):
    return np.loadtxt(images, delimiter=",", dtype=np.int64), np.loadtxt(labels, dtype=np.int64)


def write_columns(path, X, y, label_type="int64"):
    """pyarrow: one column per pixel (p0 ... p783, integers), then the label."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    columns = {f"p{j}": pa.array(X[:, j].astype(np.int16)) for j in range(X.shape[1])}
    columns["label"] = pa.array(y.astype(label_type))
    pq.write_table(pa.table(columns), path)
    return str(path)


def write_orc(path, X, y):
    """pyarrow's ORC writer: one column per pixel, then the label."""
    import pyarrow as pa
    import pyarrow.orc as orc
    columns = {f"p{j}": pa.array(X[:, j].astype(np.int16)) for j in range(X.shape[1])}
    orc.write_table(pa.table({**columns, "label": pa.array(y)}), str(path))
    return str(path)


def write_arrays(path, X, y, lists="list"):
    """pyarrow: an id, one column of arrays of floats (``lists``: Arrow's list, large_list, or the
    fixed_size_list NumPy-to-Arrow and Polars' Array write), the label as a double (MLlib's habit)."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    values = pa.array(X.ravel().astype(np.float32))
    offsets = np.arange(0, X.size + 1, X.shape[1])
    features = {"list": lambda: pa.ListArray.from_arrays(offsets.astype(np.int32), values),
                "large_list": lambda: pa.LargeListArray.from_arrays(offsets.astype(np.int64), values),
                "fixed_size_list": lambda: pa.FixedSizeListArray.from_arrays(values, X.shape[1])}[lists]()
    pq.write_table(pa.table({"id": np.arange(len(y)), "features": features, "label": y.astype(np.float64)}), path,
                   row_group_size=700)
    return str(path)


def write_vectors(spark, path, columns_file):
    """Spark: VectorAssembler's vectors (sparse for these mostly-zero rows) of the pixel columns of
    ``columns_file``, with the label, in one Parquet file."""
    from pyspark.ml.feature import VectorAssembler
    frame = spark.read.parquet(columns_file)
    names = [name for name in frame.columns if name != "label"]
    assembled = VectorAssembler(inputCols=names, outputCol="features").transform(frame).select("features", "label")
    assembled.coalesce(1).write.parquet(str(path))
    return str(path)


@pytest.fixture(scope="module")
def tables(sc, small_compact, tmp_path_factory):
    """{layout: (train, test)} of the small set's rows, in the CSV files' order."""
    from pyspark.sql import SparkSession
    folder = tmp_path_factory.mktemp("tables")
    spark = SparkSession(sc)
    sets = {"train": csv_rows(*small_compact[:2]), "test": csv_rows(*small_compact[2:])}
    columns = [write_columns(folder / f"{name}-columns.parquet", *rows) for name, rows in sets.items()]
    return {"columns": columns,
            "arrays": [write_arrays(folder / f"{name}-arrays.parquet", *rows) for name, rows in sets.items()],
            **{lists: [write_arrays(folder / f"{name}-{lists}.parquet", *rows, lists) for name, rows in sets.items()]
               for lists in ("large_list", "fixed_size_list")},
            "orc": [write_orc(folder / f"{name}.orc", *rows) for name, rows in sets.items()],
            "vectors": [write_vectors(spark, folder / f"{name}-vectors", path) for name, path in zip(sets, columns)]}


@pytest.fixture(scope="module")
def csv_run(sc, small_compact, tmp_path_factory):
    out = tmp_path_factory.mktemp("csv") / "out"
    main_task.run(sc, main_task.parse_args([*small_compact, str(out), *OPTIONS]), log=lambda line: None)
    return out


def run_table(sc, train, test, out, *options):
    said = []
    main_task.run(sc, main_task.parse_args([train, test, str(out), "--label-column", "label", *options]),
                  log=said.append)
    return said


@pytest.mark.parametrize("layout", ["columns", "arrays", "large_list", "fixed_size_list",
                                    pytest.param("vectors", marks=pytest.mark.spark35), "orc"])
def test_a_table_of_the_same_rows_trains_the_same_run_as_the_csv_files(sc, tables, csv_run, tmp_path, layout):
    # Without --features: every numeric column but the label, or the one column of vectors.
    features = ("--features", "features") if layout in ("arrays", "large_list", "fixed_size_list") else ()
    said = run_table(sc, *tables[layout], tmp_path / "out", *OPTIONS, *features)
    assert any(line.startswith("loaded 3000 training and 1000 test rows of 784 values, 10 classes") for line in said)
    for output in SAME:
        assert same_run_output(tmp_path / "out", output) == same_run_output(csv_run, output), output


@pytest.fixture
def small_splits(sc):
    """Spark's file reader cutting files into splits of 64 KB, not 128 MB: a file over 256 KB (not
    512 MB) is read in pieces, as a large one is."""
    from pyspark.sql import SparkSession
    conf = SparkSession.builder.getOrCreate().conf
    conf.set("spark.sql.files.maxPartitionBytes", "64k")
    yield
    conf.unset("spark.sql.files.maxPartitionBytes")


def rewritten(table_file, path, **row_groups):
    """The rows of a Parquet file written again with other row groups (pyarrow's row_group_size) or,
    with ``stripe_size``, as an ORC file of stripes of about that many bytes."""
    import pyarrow.orc as orc
    import pyarrow.parquet as pq
    table = pq.read_table(table_file)
    if "stripe_size" in row_groups:
        orc.write_table(table, str(path), stripe_size=row_groups["stripe_size"])
    else:
        pq.write_table(table, str(path), row_group_size=row_groups["row_group_size"])
    return str(path)


@pytest.mark.parametrize("split", [pytest.param("row groups", marks=pytest.mark.spark35), "one row group",
                                   "parts", "stripes"])
def test_one_file_is_read_in_pieces_and_trains_the_same_run_however_it_is_split(sc, tables, csv_run, tmp_path,
                                                                                small_splits, split):
    from pyspark.sql import SparkSession
    # 3,000 rows of an id, an array of 784 floats and a label, 2 MB; ORC: 784 integer columns, 1.8 MB.
    train, test = tables["orc" if split == "stripes" else "arrays"]
    features = () if split == "stripes" else ("--features", "features")
    if split == "stripes":  # 784 columns: splits of 256 KB, each split opening the file costs more
        train = tables["columns"][0]
        SparkSession.builder.getOrCreate().conf.set("spark.sql.files.maxPartitionBytes", "256k")
    if split == "parts":  # Spark's folder of part files, its rows in the files' order
        SparkSession.builder.getOrCreate().read.parquet(train).coalesce(1).write.option(
            "maxRecordsPerFile", 700).parquet(str(tmp_path / "parts"))
        train = str(tmp_path / "parts")
    else:
        train = rewritten(train, tmp_path / f"train.{'orc' if split == 'stripes' else 'parquet'}",
                          **{"row groups": {"row_group_size": 250}, "one row group": {"row_group_size": 3000},
                             "stripes": {"stripe_size": 100_000}}[split])
    said = run_table(sc, train, test, tmp_path / "out", *OPTIONS, *features)
    read = next(line for line in said if line.startswith("training table: "))
    if split == "parts":  # Spark's folder: five parts of 140 KB, each under 256 KB and read whole
        assert read == "training table: 5 files read whole", read
    else:  # a row group (ORC: a stripe) is read with the split its middle lies in
        assert read.startswith("training table: 1 file read in ") and " MB by row groups or ORC stripes" in read, read
        pieces = int(read.split(" read in ")[1].split()[0])
        assert pieces == 1 if split == "one row group" else pieces >= 2, read
    one_task = [line for line in said if line.startswith("training table: ") and "so one task read it" in line]
    assert bool(one_task) == (split == "one row group"), said
    for output in SAME:
        assert same_run_output(tmp_path / "out", output) == same_run_output(csv_run, output), output
    summary = json.loads(read_output(tmp_path / "out", "summary")[0])
    assert summary["train_rows"] == 3000


def test_a_fault_deep_in_a_file_read_in_pieces_is_named_by_its_row_in_the_file(sc, tmp_path, small_splits):
    import pyarrow as pa
    import pyarrow.parquet as pq
    from pyspark.sql import SparkSession
    rng = np.random.default_rng(3)
    n = 40_000  # 1 MB of pixels, stored as they are (no dictionary, no compression): 64 KB pieces
    x1, x2 = rng.integers(0, 256, n), rng.integers(0, 256, n)
    x2[30_000] = 300  # in the third piece: not a pixel
    path = tmp_path / "pixels.parquet"
    plain = {"row_group_size": 1000, "use_dictionary": False, "compression": "none"}
    pq.write_table(pa.table({"x1": x1, "x2": x2, "y": rng.integers(0, 2, n)}), path, **plain)
    said = run_table(sc, str(path), str(path), tmp_path / "out", "--label-column", "y", "--epochs", "1")
    read = next(line for line in said if line.startswith("training table: 1 file read in "))
    assert int(read.split(" read in ")[1].split()[0]) >= 8, read
    assert f"--scale auto: standardizing, not pixels, because of {path}: row 30001: value 300 (x2)" in "\n".join(said)
    x1 = x1.astype(np.float64)
    x1[[31_234, 35_000]] = np.nan
    x2 = pa.array(x2, mask=np.arange(n) == 30_500)  # a null earlier, in a later column: as columns are checked
    pq.write_table(pa.table({"x1": x1, "x2": x2, "y": rng.integers(0, 2, n)}), path, **plain)
    with pytest.raises(DataError, match=rf"^{path}: row 31235: 'x1' is NaN$"):
        run_table(sc, str(path), str(path), tmp_path / "nan", "--label-column", "y", "--epochs", "1")
    SparkSession.builder.getOrCreate().conf.unset("spark.sql.files.maxPartitionBytes")  # read whole: the same line
    with pytest.raises(DataError, match=rf"^{path}: row 31235: 'x1' is NaN$"):
        run_table(sc, str(path), str(path), tmp_path / "nan", "--label-column", "y", "--epochs", "1")


def bad_table(folder, name, change):
    """A small Parquet table (x1, x2: doubles; y: the label) with one thing wrong."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    columns = {"x1": [0.5, 1.5, 2.5, 3.5], "x2": [1.0, 2.0, 3.0, 4.0], "y": [0, 1, 0, 1]}
    columns = change(columns)
    pq.write_table(pa.table(columns), folder / name)
    return str(folder / name)


@pytest.mark.parametrize("name, change, message", [
    ("null.parquet", lambda c: dict(c, x2=[1.0, None, 3.0, 4.0]), r"null.parquet: row 2: 'x2' is null$"),
    ("nan.parquet", lambda c: dict(c, x1=[0.5, 1.5, float("nan"), 3.5]), r"nan.parquet: row 3: 'x1' is NaN$"),
    ("inf.parquet", lambda c: dict(c, x2=[1.0, float("inf"), 3.0, 4.0]),
     r"inf.parquet: row 2: 'x2' is inf, not a finite number$"),
    ("text.parquet", lambda c: dict(c, x1=["a", "b", "c", "d"]),
     r"text.parquet: feature column 'x1' is string, not a number$"),
    ("label.parquet", lambda c: dict(c, y=[0.0, 1.0, 0.5, 1.0]),
     r"label.parquet: row 3: label 0.5 is not a class number 0, 1, 2, \.\.\.$"),
    ("missing.parquet", lambda c: {"x1": c["x1"], "x2": c["x2"], "target": c["y"]},
     r"missing.parquet: no column 'y' \(its columns: x1, x2, target\)$"),
])
@pytest.mark.spark35
def test_a_bad_table_is_one_line_naming_file_row_and_column(sc, tmp_path, name, change, message):
    path = bad_table(tmp_path, name, change)
    features = ("--features", "x1,x2") if name == "text.parquet" else ()
    with pytest.raises(DataError, match=message):
        main_task.run(sc, main_task.parse_args([path, path, str(tmp_path / "out"), "--label-column", "y",
                                                "--epochs", "1", *features]), log=lambda line: None)
    assert not (tmp_path / "out").exists()


@pytest.mark.spark35
def test_vectors_of_different_lengths_are_one_line(sc, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq
    path = tmp_path / "ragged.parquet"
    pq.write_table(pa.table({"f": [[1.0, 2.0], [3.0, 4.0], [5.0], [6.0, 7.0]], "y": [0, 1, 0, 1]}), path)
    with pytest.raises(DataError, match=r"ragged.parquet: row 3: 'f' has 1 values, the first row 2$"):
        main_task.run(sc, main_task.parse_args([str(path), str(path), str(tmp_path / "out"), "--label-column", "y",
                                                "--features", "f", "--epochs", "1"]), log=lambda line: None)


def test_infinity_in_any_table_layout_is_one_line_for_training_and_predict(sc, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq
    from pyspark.ml.linalg import Vectors
    from pyspark.sql import SparkSession

    import predict
    inf = float("inf")
    good = tmp_path / "good.parquet"  # a model of an array column f, to score the others with
    pq.write_table(pa.table({"f": [[1.0, 2.0], [3.0, 4.0], [5.0, 0.5], [6.0, 7.0]], "y": [0, 1, 0, 1]}), good)
    main_task.run(sc, main_task.parse_args([str(good), str(good), str(tmp_path / "trained"), "--label-column", "y",
                                            "--epochs", "1"]), log=lambda line: None)
    arrays = tmp_path / "arrays.parquet"
    pq.write_table(pa.table({"f": [[1.0, 2.0], [3.0, 4.0], [5.0, -inf], [6.0, 7.0]], "y": [0, 1, 0, 1]}), arrays)
    vectors = str(tmp_path / "vectors")
    SparkSession(sc).createDataFrame([(Vectors.dense([1.0, 2.0]), 0), (Vectors.sparse(2, [1], [inf]), 1)],
                                     ["f", "y"]).coalesce(1).write.parquet(vectors)
    for path, message in ((str(arrays), r"arrays.parquet: row 3: 'f' holds -inf, not a finite number$"),
                          (vectors, r"part-00000-.*: row 2: 'f' holds inf, not a finite number$")):
        with pytest.raises(DataError, match=message):  # training
            main_task.run(sc, main_task.parse_args([path, path, str(tmp_path / "out"), "--label-column", "y",
                                                    "--features", "f", "--epochs", "1"]), log=lambda line: None)
        with pytest.raises(DataError, match=message):  # predict: no row scored as if it were a number
            predict.run(sc, predict.parse_args([str(tmp_path / "trained" / "model"), path, str(tmp_path / "out"),
                                                "--features", "f"]), log=lambda line: None)
    assert sorted(os.listdir(tmp_path)) == ["arrays.parquet", "good.parquet", "trained", "vectors"]


def test_the_sql_function_answers_null_for_a_row_it_cannot_score(sc, tmp_path):
    import pyspark.sql.functions as F
    from pyspark.ml.linalg import Vectors
    from pyspark.sql import SparkSession

    import nn_math
    from rddnet.outputs import model_file
    spark = SparkSession(sc)
    good = bad_table(tmp_path, "good.parquet", lambda c: c)
    main_task.run(sc, main_task.parse_args([good, good, str(tmp_path / "trained"), "--label-column", "y",
                                            "--epochs", "2", "--hidden", "4"]), log=lambda line: None)
    score = register_model(spark, "two_values", str(tmp_path / "trained" / "model"))
    nan, inf = float("nan"), float("inf")
    arrays = [[0.5, 1.0], None, [nan, 1.0], [None, 2.0], [inf, 1.0], [3.5, -4.0]]
    frame = spark.createDataFrame([(i, a) for i, a in enumerate(arrays)], "id int, f array<double>")
    rows = frame.select("id", score("f").alias("s")).orderBy("id").collect()
    vectors = spark.createDataFrame([(0, Vectors.dense([0.5, 1.0])), (1, None), (2, Vectors.sparse(2, [0], [nan])),
                                     (3, Vectors.sparse(2, [1], [-4.0]))], ["id", "f"])
    vector_rows = vectors.select("id", score("f").alias("s")).orderBy("id").collect()
    net, theta, scale, _ = model_file.read_model(sc, str(tmp_path / "trained" / "model"), lambda line: None)
    expected = nn_math.forward(theta, net, scale.apply(np.array([[0.5, 1.0], [3.5, -4.0], [0.0, -4.0]])))[2]
    for row, p in zip([rows[0], rows[5], vector_rows[3]], expected):  # the rows that can be scored, against NumPy
        assert row.s.prediction == int(p.argmax())
        np.testing.assert_allclose(row.s.probability, p / p.sum(), rtol=1e-6)  # sse's outputs, normalised
    assert rows[0].s == vector_rows[0].s
    for row in [*rows[1:5], *vector_rows[1:3]]:
        assert row.s.prediction is None and row.s.probability is None
    assert spark.sql("SELECT two_values(array(1.0, CAST(NULL AS DOUBLE))).prediction AS p").first().p is None
    wide = spark.createDataFrame([([1.0, 2.0, 3.0],)], "f array<double>")
    with pytest.raises(Exception, match="an array of 3 values; the model takes 2"):
        wide.select(score(F.col("f")).prediction).collect()


def test_the_label_among_the_features_or_a_feature_named_twice_is_one_line(sc, tmp_path, capsys):
    path = bad_table(tmp_path, "good.parquet", lambda c: c)
    for label, features in (("y", "x1,y"), ("last", "x1,x2,y"), ("3", "y")):
        with pytest.raises(DataError, match=r"good.parquet: --features names the label column 'y'; leave it out of "
                                            "--features$"):
            main_task.run(sc, main_task.parse_args([path, path, str(tmp_path / "out"), "--label-column", label,
                                                    "--features", features]), log=lambda line: None)
    for twice in ("x1,x1", "x1, x2,x1"):
        with pytest.raises(SystemExit) as stopped:
            main_task.parse_args([path, path, str(tmp_path / "out"), "--label-column", "y", "--features", twice])
        assert stopped.value.code == 2
        assert capsys.readouterr().err == (f"main_task.py: error: argument --features: 'x1' is named twice in "
                                           f"{twice!r} (see --help)\n")
    assert sorted(os.listdir(tmp_path)) == ["good.parquet"]


def test_parts_of_other_columns_or_a_column_named_twice_are_one_line(sc, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq
    from pyspark.sql import SparkSession

    import predict
    good = bad_table(tmp_path, "good.parquet", lambda c: c)
    main_task.run(sc, main_task.parse_args([good, good, str(tmp_path / "trained"), "--label-column", "y",
                                            "--epochs", "1"]), log=lambda line: None)
    columns = {"x1": [0.5, 1.5], "x2": [1.0, 2.0], "y": [0, 1]}
    # A part without a column that is read fails; predict reads x1, x2 and y only, which both parts have.
    for first, second, scored, message in (
            ({**columns, "extra": [1, 2]}, columns, True,
             "b.parquet: has no column 'extra', which the table's first file {folder}/a.parquet has; every file of a "
             "table must have the same columns$"),
            (columns, {**columns, "extra": [1, 2]}, False,
             "b.parquet: has a column 'extra' that the table's first file {folder}/a.parquet has not; every file of a "
             "table must have the same columns$")):
        folder = tmp_path / f"parts{len(list(tmp_path.glob('parts*')))}"
        folder.mkdir()
        pq.write_table(pa.table(first), folder / "a.parquet")
        pq.write_table(pa.table(second), folder / "b.parquet")
        with pytest.raises(DataError, match=message.format(folder=folder)):
            main_task.run(sc, main_task.parse_args([str(folder), str(folder), str(tmp_path / "out"),
                                                    "--label-column", "y", "--epochs", "1"]), log=lambda line: None)
        predicting = predict.parse_args([str(tmp_path / "trained" / "model"), str(folder), str(tmp_path / "scored"),
                                         "--features", "x1,x2", "--overwrite"])
        if scored:
            assert predict.run(sc, predicting, log=lambda line: None)["rows"] == 4
            continue
        with pytest.raises(DataError, match=message.format(folder=folder)):
            predict.run(sc, predicting, log=lambda line: None)
    # Read whole, a file of integers where the first has doubles gives the same numbers; Spark's
    # reader, reading large files in pieces, cannot merge the two: one line.
    folder = tmp_path / "types"
    folder.mkdir()
    pq.write_table(pa.table(columns), folder / "a.parquet")
    pq.write_table(pa.table({**columns, "x1": [1, 2]}), folder / "b.parquet")
    spark = SparkSession.builder.getOrCreate()
    spark.conf.set("spark.sql.files.maxPartitionBytes", "100b")  # every file is large
    try:
        with pytest.raises(DataError, match=rf"b.parquet: column 'x1' is int64, in the table's first file {folder}/"
                                            "a.parquet double; every file of a table must have the same columns$"):
            main_task.run(sc, main_task.parse_args([str(folder), str(folder), str(tmp_path / "out"),
                                                    "--label-column", "y", "--epochs", "1"]), log=lambda line: None)
    finally:
        spark.conf.unset("spark.sql.files.maxPartitionBytes")
    twice = tmp_path / "twice.parquet"
    pq.write_table(pa.Table.from_arrays([pa.array([0.5, 1.5]), pa.array([1.0, 2.0]), pa.array([0, 1])],
                                        names=["x1", "x1", "y"]), twice)
    with pytest.raises(DataError, match=r"twice.parquet: has two columns named 'x1'; name each column once$"):
        main_task.run(sc, main_task.parse_args([str(twice), str(twice), str(tmp_path / "out"), "--label-column", "y",
                                                "--epochs", "1"]), log=lambda line: None)
    assert not (tmp_path / "out").exists()


def test_a_stale_or_corrupt_checksum_file_is_named_or_passed_over_quietly(sc, tmp_path):
    import glob

    from pyspark import SparkConf
    from pyspark.sql import SparkSession

    from rddnet import spark_setup
    rows = [(float(i % 97), float(i % 13), i % 2) for i in range(20000)]
    frame = SparkSession(sc).createDataFrame(rows, ["x1", "x2", "y"]).repartition(2)
    for name in ("stale", "corrupt"):
        frame.write.parquet(str(tmp_path / name))  # Spark's folder: _SUCCESS, the parts and their .crc files
    # The second part is read by the executors only, the first one's footer by the driver too.
    for part in reversed(sorted(glob.glob(str(tmp_path / "stale" / "part-*.parquet")))):
        data = bytearray(open(part, "rb").read())
        data[len(data) // 2] ^= 0xFF  # changed after it was written, its .crc left as it was
        open(part, "wb").write(bytes(data))
        with pytest.raises(DataError, match=rf"^{part}: does not match its .crc checksum file \(ChecksumException: "
                                            r"Checksum error: .*\): it was changed or damaged after it was written; "
                                            r"if it was changed on purpose, delete its .crc file$"):
            main_task.run(sc, main_task.parse_args([str(tmp_path / "stale"), str(tmp_path / "stale"),
                                                    str(tmp_path / "out"), "--label-column", "y", "--epochs", "1"]),
                          log=lambda line: None)
    crc = sorted(glob.glob(str(tmp_path / "corrupt" / ".part-*.crc")))[0]
    open(crc, "wb").write(b"not a checksum file")
    corrupt = main_task.parse_args([str(tmp_path / "corrupt"), str(tmp_path / "corrupt"), str(tmp_path / "out"),
                                    "--label-column", "y", "--epochs", "1", "--overwrite"])
    spark = SparkSession.builder.getOrCreate()
    spark.conf.set("spark.sql.files.maxPartitionBytes", "1k")  # every part is large: read by Spark's reader
    try:  # the part is read unchecked (a trace at WARN), as when it is read whole
        main_task.run(sc, corrupt, log=lambda line: None)
        assert json.loads(read_output(tmp_path / "out", "summary")[0])["train_rows"] == 20000
    finally:
        spark.conf.unset("spark.sql.files.maxPartitionBytes")
    main_task.run(sc, corrupt, log=lambda line: None)  # read whole: likewise
    assert json.loads(read_output(tmp_path / "out", "summary")[0])["train_rows"] == 20000
    log4j = sc._jvm.org.apache.logging.log4j
    before = log4j.LogManager.getRootLogger().getLevel()
    try:  # the job's spark-submit runs keep that trace off the console
        spark_setup.quiet_spark_logs(SparkConf())
        assert str(log4j.LogManager.getLogger("org.apache.hadoop.fs.FSInputChecker").getLevel()) == "ERROR"
    finally:
        log4j.core.config.Configurator.setAllLevels(log4j.LogManager.getRootLogger().getName(), before)


def test_a_folder_that_is_not_a_model_is_one_line_saying_what_a_model_is(sc, tmp_path):
    from pyspark.sql import SparkSession

    import predict
    spark = SparkSession(sc)
    folder = str(tmp_path / "predictions")  # a table, as predict.py writes its predictions
    spark.createDataFrame([(1, 0.5)], ["prediction", "probability"]).coalesce(1).write.parquet(folder)
    message = (rf"^{folder}: not a model folder \(it holds part-00000-.*\.parquet\): a model is the model/ folder "
               r"of a training run's OUTPUT_DIR, its JSON lines in part-00000, or that OUTPUT_DIR$")
    with pytest.raises(DataError, match=message):
        register_model(spark, "no_model", folder)
    good = bad_table(tmp_path, "good.parquet", lambda c: c)
    with pytest.raises(DataError, match=message):
        predict.run(sc, predict.parse_args([folder, good, str(tmp_path / "out")]), log=lambda line: None)


def test_predict_scores_a_table_as_it_scores_the_csv_files(sc, tables, csv_run, small_compact, tmp_path):
    import predict

    def predicted(features, *options):
        out = tmp_path / f"out{len(list(tmp_path.iterdir()))}"
        summary = predict.run(sc, predict.parse_args([str(csv_run / "model"), features, str(out), *options]),
                              log=lambda line: None)
        return summary, read_output(out, "predictions")
    from_csv = predicted(small_compact[2], "--labels", small_compact[3])
    from_table = predicted(tables["vectors"][1], "--label-column", "label", "--features", "features",
                           "--output-format", "csv")
    assert from_table[1] == from_csv[1]  # the line field: the row's place in the table, from 1
    assert from_table[0]["test_accuracy"] == from_csv[0]["test_accuracy"]


def write_digits_folder(folder, X, y):
    """pyarrow: the rows in two files of a folder, the second the larger (Spark's readers would
    take it first), with an id, a name and an array of features, in row groups of 50 rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    folder.mkdir()
    for name, rows in (("part-0.parquet", slice(0, 300)), ("part-1.parquet", slice(300, None))):
        ids = np.arange(len(y))[rows]
        features = pa.ListArray.from_arrays(np.arange(0, X[rows].size + 1, X.shape[1]), pa.array(X[rows].ravel()))
        pq.write_table(pa.table({"id": ids, "name": [f"digit-{i}" for i in ids], "features": features,
                                 "label": y[rows]}), folder / name, row_group_size=50)
    return str(folder)


@pytest.mark.spark35
def test_predictions_of_a_table_are_a_parquet_table_in_input_order(sc, csv_run, small_compact, tmp_path,
                                                                   small_splits):
    from pyspark.sql import SparkSession

    import predict
    X, y = csv_rows(*small_compact[2:])
    digits = write_digits_folder(tmp_path / "digits", X, y)
    model = str(csv_run / "model")
    predict.run(sc, predict.parse_args([model, small_compact[2], str(tmp_path / "lines")]), log=lambda line: None)
    lines = [line.split(",") for line in read_output(tmp_path / "lines", "predictions")]
    scores = np.array([line[2:] for line in lines], dtype=np.float64)
    spark = SparkSession(sc)
    spark.conf.set("spark.sql.files.maxPartitionBytes", "32k")  # (small_splits puts it back)
    said = []
    predict.run(sc, predict.parse_args([model, digits, str(tmp_path / "table"), "--keep", "name,id",
                                        "--features", "features"]), log=said.append)
    read = next(line for line in said if line.startswith("input table: 2 files read in "))
    assert int(read.split(" read in ")[1].split()[0]) >= 6, read  # 250 KB in 32 KB splits: on every core
    predict.run(sc, predict.parse_args([model, small_compact[2], str(tmp_path / "csv-table"), "--output-format",
                                        "parquet"]), log=lambda line: None)
    table = spark.read.parquet(str(tmp_path / "table" / "predictions"))
    assert table.schema.simpleString() == "struct<name:string,id:bigint,prediction:int,probability:array<float>>"
    csv_table = spark.read.parquet(str(tmp_path / "csv-table" / "predictions"))
    assert csv_table.schema.simpleString() == "struct<line:bigint,prediction:int,probability:array<float>>"
    for frame, first, numbers in ((table, "id", range(len(y))), (csv_table, "line", range(1, len(y) + 1))):
        rows = in_order(frame)  # part files in order, and the rows in each: the input's order
        assert [row[first] for row in rows] == list(numbers)
        assert [row.prediction for row in rows] == [int(line[1]) for line in lines]
        # An sse network's sigmoid outputs, divided by their sum: probabilities.
        np.testing.assert_allclose([row.probability for row in rows], scores / scores.sum(axis=1, keepdims=True),
                                   rtol=1e-6)
    assert [row.name for row in in_order(table)] == [f"digit-{i}" for i in range(len(y))]


def in_order(frame):
    """The rows of a table read by Spark, its part files in the order of their names (Spark's
    reader takes the largest first), the rows of each in order."""
    from pyspark.sql.functions import col
    return frame.select("*", "_metadata.file_name", "_metadata.row_index").orderBy(
        col("file_name"), col("row_index")).collect()


@pytest.mark.parametrize("keep, options, message", [
    ("ident", (), r"part-0.parquet: --keep: no column 'ident' \(its columns: id, name, features, label\)$"),
    ("id", ("--output-format", "csv"), r"--keep copies a table's columns into Parquet predictions; CSV lines "),
])
def test_keep_with_a_missing_column_or_csv_lines_is_one_line(sc, csv_run, small_compact, tmp_path, keep, options,
                                                             message):
    import predict
    digits = write_digits_folder(tmp_path / "digits", *csv_rows(*small_compact[2:]))
    with pytest.raises(DataError, match=message):
        predict.run(sc, predict.parse_args([str(csv_run / "model"), digits, str(tmp_path / "out"), "--keep", keep,
                                            "--features", "features", *options]), log=lambda line: None)
    assert not (tmp_path / "out").exists()


def test_a_file_that_is_not_parquet_is_one_line(sc, small_compact, tmp_path):
    path = tmp_path / "images.parquet"
    path.write_bytes(open(small_compact[0], "rb").read()[:5000])
    with pytest.raises(DataError, match=r"images.parquet: cannot be read as parquet \(ArrowInvalid: "):
        main_task.run(sc, main_task.parse_args([str(path), str(path), str(tmp_path / "out"), "--label-column", "y"]),
                      log=lambda line: None)


@pytest.mark.spark35
def test_the_model_as_a_sql_function_gives_the_classes_predict_gives(sc, tables, csv_run, small_compact, tmp_path,
                                                                     small_splits):
    from pyspark.sql import SparkSession

    import predict
    spark = SparkSession(sc)
    out = tmp_path / "predicted"
    predict.run(sc, predict.parse_args([str(csv_run / "model"), small_compact[2], str(out)]), log=lambda line: None)
    expected = [int(line.split(",")[1]) for line in read_output(out, "predictions")]
    scores = [np.array(line.split(",")[2:], dtype=float) for line in read_output(out, "predictions")]
    mnist_mlp = register_model(spark, "mnist_mlp", str(csv_run / "model"))
    from pyspark.sql.functions import spark_partition_id
    spark.conf.set("spark.sql.files.maxPartitionBytes", "32k")  # (small_splits puts it back)
    digits = spark.read.parquet(tables["arrays"][1])  # one file of two row groups: scored by two tasks
    assert digits.select(spark_partition_id()).distinct().count() == 2
    digits.createOrReplaceTempView("digits")
    rows = spark.sql("SELECT id, mnist_mlp(features).prediction AS p, mnist_mlp(features).probability AS q "
                     "FROM digits ORDER BY id").collect()
    assert [row.p for row in rows] == expected
    for row, score in zip(rows, scores):  # an sse network's sigmoid outputs, divided by their sum
        np.testing.assert_allclose(row.q, score / score.sum(), rtol=1e-6)
    vectors = spark.read.parquet(tables["vectors"][1])  # one file, one partition: the rows in order
    assert [row.p for row in vectors.select(mnist_mlp("features").prediction.alias("p")).collect()] == expected


def write_json_lines(path, X, y):
    """The rows as JSON lines, as people write them: {"pixels": [...], "label": n}."""
    with open(path, "w") as f:
        f.writelines(json.dumps({"pixels": row.tolist(), "label": int(label)}) + "\n" for row, label in zip(X, y))
    return str(path)


@pytest.mark.spark35
def test_json_lines_and_catalog_tables_train_the_same_run_as_the_csv_files(sc, tables, csv_run, small_compact,
                                                                          tmp_path):
    from pyspark.sql import SparkSession
    spark = SparkSession(sc)
    sets = {"train": csv_rows(*small_compact[:2]), "test": csv_rows(*small_compact[2:])}
    json_files = [write_json_lines(tmp_path / f"{name}.jsonl", *rows) for name, rows in sets.items()]
    said = run_table(sc, *json_files, tmp_path / "json", *OPTIONS)
    assert any("3000 training and 1000 test rows of 784 values" in line for line in said)
    # Catalog tables: Parquet files (read as files are) and a view of the JSON lines (read through the frame).
    for name, columns, lines in zip(sets, tables["columns"], json_files):
        spark.read.parquet(columns).write.option("path", str(tmp_path / f"{name}-table")).saveAsTable(
            f"digits_{name}", mode="overwrite")
        spark.read.json(lines).createOrReplaceTempView(f"json_{name}")
    run_table(sc, "digits_train", "digits_test", tmp_path / "catalog", *OPTIONS, "--table")
    run_table(sc, "json_train", "json_test", tmp_path / "view", *OPTIONS, "--table")
    for out in ("json", "catalog", "view"):
        for output in SAME:
            assert same_run_output(tmp_path / out, output) == same_run_output(csv_run, output), (out, output)
    with pytest.raises(DataError, match=r"^no_such_table: no such table in the session's catalog"):
        run_table(sc, "no_such_table", "digits_test", tmp_path / "none", "--table")
    # predict.py on JSON lines (scored as the DataFrame's batches come): the CSV files' classes.
    import predict
    predict.run(sc, predict.parse_args([str(csv_run / "model"), json_files[1], str(tmp_path / "scored"), "--keep",
                                        "label", "--features", "pixels"]), log=lambda line: None)
    predict.run(sc, predict.parse_args([str(csv_run / "model"), small_compact[2], str(tmp_path / "lines")]),
                log=lambda line: None)
    scored = spark.read.parquet(str(tmp_path / "scored" / "predictions")).collect()
    assert [row.label for row in scored] == sets["test"][1].tolist()
    assert [row.prediction for row in scored] == [int(line.split(",")[1]) for line in
                                                 read_output(tmp_path / "lines", "predictions")]


@pytest.mark.spark35
@pytest.mark.skipif(int(__import__("pyspark").__version__[0]) >= 4, reason="Dataproc's Spark 3.5 and its Hive "
                    "metastore; on Spark 4 the catalog test above covers --table")
def test_tables_of_a_hive_metastore_train_the_same_run(tables, csv_run, tmp_path):
    """A local Hive metastore (Derby) holds the tables; the job reads them with --table, under
    spark-submit (in the JVM that made them: tests/hive_tables.py)."""
    import subprocess

    from conftest import submit_command
    conf = {"spark.sql.catalogImplementation": "hive", "spark.sql.warehouse.dir": tmp_path / "warehouse",
            "spark.hadoop.javax.jdo.option.ConnectionURL": f"jdbc:derby:;databaseName={tmp_path}/metastore;create=true"}
    result = subprocess.run(submit_command(tables["columns"][0], "digits_train", tables["columns"][1], "digits_test",
                                           "--", "digits_train", "digits_test", tmp_path / "out", "--table",
                                           "--label-column", "label", *OPTIONS, script="tests/hive_tables.py",
                                           conf=conf), capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for output in SAME:
        assert same_run_output(tmp_path / "out", output) == same_run_output(csv_run, output), output


def test_scikit_learns_data_as_parquet_trains_as_its_csv_file(sc, tmp_path):
    """scikit-learn's wine data: pandas writes its frame (13 named float columns, the target) to
    Parquet; the same rows are in scikit-learn's own CSV file (a first line of counts, the class
    last). Standardized, they train the same run."""
    import os

    import sklearn
    from sklearn.datasets import load_wine
    load_wine(as_frame=True).frame.to_parquet(tmp_path / "wine.parquet")
    csv = os.path.join(os.path.dirname(sklearn.__file__), "datasets", "data", "wine_data.csv")
    table = str(tmp_path / "wine.parquet")
    options = ("--scale", "standardize", "--epochs", "3", "--hidden", "8", "--block-size", "64")
    for name, path, label in (("csv", csv, "last"), ("table", table, "target")):
        main_task.run(sc, main_task.parse_args([path, path, str(tmp_path / name), "--label-column", label, *options]),
                      log=lambda line: None)
    for output in SAME:
        assert same_run_output(tmp_path / "table", output) == same_run_output(tmp_path / "csv", output), output


def test_a_parquet_file_read_as_json_is_one_line(sc, tmp_path):
    path = bad_table(tmp_path, "t.parquet", lambda c: c)
    with pytest.raises(DataError, match=r"t.parquet: not JSON lines \(one JSON object per line\): line 1 is not text "
                                        r"\(it begins 'PAR1'\)"):
        main_task.run(sc, main_task.parse_args([path, path, str(tmp_path / "out"), "--label-column", "y",
                                                "--format", "json"]), log=lambda line: None)


@pytest.mark.spark35
@pytest.mark.parametrize("lines, message", [
    (['{"a": 1, "b": 2, "y": 0}', '{"a": 3, "b": 4, "y": 1', '{"a": 5, "b": 6, "y": 0}'],
     r"rows.jsonl: a line that is not a JSON object: '\{\"a\": 3, \"b\": 4, \"y\": 1'$"),
    (['{"a": 1, "b": 2, "y": 0}', '{"a": 3, "y": 1}'], r"rows.jsonl, partition 0: row 2: 'b' is null$"),
    (json.dumps([{"a": 1, "b": 2, "y": 0}, {"a": 3, "b": 4, "y": 1}], indent=2).splitlines(),  # as json.dump writes
     r"rows.jsonl: not JSON lines \(one JSON object per line\): line 1 is '\['; a pretty-printed JSON document, or "
     r"a file of another format, cannot be read as JSON lines$"),
], ids=["broken line", "missing value", "pretty-printed"])
def test_bad_json_lines_are_one_line(sc, tmp_path, lines, message):
    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=message):
        main_task.run(sc, main_task.parse_args([str(path), str(path), str(tmp_path / "out"), "--label-column", "y",
                                                "--epochs", "1"]), log=lambda line: None)
    assert not (tmp_path / "out").exists()


def wine_tables(folder):
    """conftest.wine_like's rows as Parquet: the table as it comes (the measurements, then
    "label"), and the same rows with an "id" first and the columns in reverse order."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    X, target, names = wine_like()
    data = SimpleNamespace(data=X, target=target)
    columns = {name: data.data[:, j] for j, name in enumerate(names)}
    pq.write_table(pa.table({**columns, "label": data.target}), folder / "wine.parquet")
    shuffled = {"id": np.arange(len(data.target)), "label": data.target,
                **{name: columns[name] for name in reversed(names)}}
    pq.write_table(pa.table(shuffled), folder / "reordered.parquet")
    return str(folder / "wine.parquet"), str(folder / "reordered.parquet"), names, data


def predicted_classes(out):
    return [int(line.split(",")[1]) for line in read_output(out, "predictions")]


@pytest.mark.spark35
def test_a_model_knows_its_columns_and_predict_reads_them_by_name(sc, tmp_path):
    import nn_math
    import predict
    from rddnet.outputs import model_file
    wine, reordered, names, data = wine_tables(tmp_path)
    trained = tmp_path / "trained"
    main_task.run(sc, main_task.parse_args([wine, wine, str(trained), "--label-column", "label", "--scale",
                                            "standardize", "--epochs", "30", "--hidden", "16", "--loss",
                                            "cross-entropy", "--optimizer", "adam", "--lr", "0.01"]),
                  log=lambda line: None)
    model = model_file.read_model(sc, str(trained / "model"), log=lambda line: None)
    assert model.inputs == {"features": {"kind": "columns", "names": names, "width": 13}, "label": "label",
                            "classes": [0, 1, 2]}
    assert json.loads(read_output(trained, "model")[0])["format"] == "rddnet-model/3"
    expected = nn_math.predict(model.theta, model.net, model.scaling.apply(data.data)).tolist()  # NumPy's answer
    said = []
    options = ("--output-format", "csv")
    # No options: the model's columns, by name whatever their place, and its label column for metrics.
    for table, out in ((wine, "same"), (reordered, "reordered")):
        summary = predict.run(sc, predict.parse_args([str(trained), table, str(tmp_path / out), *options]),
                              log=said.append)
        assert predicted_classes(tmp_path / out) == expected and summary["rows"] == 178
        assert summary["test_accuracy"] == pytest.approx(np.mean(np.array(expected) == data.target))
    assert "labels from the column 'label', as in training: the metrics are written too" in said
    # --features in another order: read in the model's order, the same answers.
    predict.run(sc, predict.parse_args([str(trained), reordered, str(tmp_path / "named"), "--features",
                                        ",".join(reversed(names)), *options]), log=lambda line: None)
    assert predicted_classes(tmp_path / "named") == expected
    with pytest.raises(DataError, match=rf"^--features {names[0]},{names[1]}: the model {trained} was trained on "
                                        rf"the columns {','.join(names)}; leave --features out to read those$"):
        predict.run(sc, predict.parse_args([str(trained), wine, str(tmp_path / "other"), "--features",
                                            f"{names[0]},{names[1]}"]), log=lambda line: None)
    missing = bad_table(tmp_path, "missing.parquet", lambda c: {"m0": [1.0, 2.0, 3.0, 4.0]})
    with pytest.raises(DataError, match=r"^.*missing.parquet: no column 'm1' \(its columns: m0\)$"):
        predict.run(sc, predict.parse_args([str(trained), missing, str(tmp_path / "none")]), log=lambda line: None)
    # --init-model reads its training table by the model's columns too, and starts from its weights.
    main_task.run(sc, main_task.parse_args([reordered, reordered, str(tmp_path / "again"), "--label-column", "label",
                                            "--init-model", str(trained), "--epochs", "0"]), log=lambda line: None)
    summary = json.loads(read_output(tmp_path / "again", "summary")[0])
    assert summary["test_accuracy"] == pytest.approx(np.mean(np.array(expected) == data.target))


def test_a_model_of_the_second_format_still_loads_without_its_inputs(sc, tmp_path):
    from rddnet.outputs import model_file
    good = bad_table(tmp_path, "good.parquet", lambda c: c)
    main_task.run(sc, main_task.parse_args([good, good, str(tmp_path / "trained"), "--label-column", "y",
                                            "--epochs", "2", "--hidden", "4"]), log=lambda line: None)
    lines = read_output(tmp_path / "trained", "model")
    header = json.loads(lines[0])
    old = {key: value for key, value in header.items() if key != "inputs"} | {"format": "mnist-mlp-model/2"}
    model = model_file.model_from_lines([json.dumps(old), *lines[1:]])
    new = model_file.model_from_lines(lines)
    assert model.inputs is None and new.inputs["features"]["names"] == ["x1", "x2"]
    np.testing.assert_array_equal(model.theta, new.theta)


def test_columns_are_named_in_the_load_line_and_identifiers_are_left_out(sc, tmp_path):
    import pandas as pd
    rows = {"id": [7, 8, 9, 10], "x1": [0.5, 1.5, 2.5, 3.5], "note": ["a", "b", "c", "d"], "customer_id": [1, 2, 3, 4],
            "x2": [1.0, 2.0, 3.0, 4.0], "y": [0, 1, 0, 1]}
    table = str(tmp_path / "named.parquet")
    pd.DataFrame(rows, index=pd.Index([3, 1, 2, 0], name=None)).to_parquet(table)  # pandas keeps its index
    said = []
    main_task.run(sc, main_task.parse_args([table, table, str(tmp_path / "out"), "--label-column", "y", "--epochs", "1",
                                            "--hidden", "2"]), log=said.append)
    assert ("training columns: features x1, x2; label y; left out: id (named like an identifier), customer_id (named "
            "like an identifier), __index_level_0__ (named like an identifier), note (string, not a number)") in said
    assert json.loads(read_output(tmp_path / "out", "model")[0])["inputs"]["features"]["names"] == ["x1", "x2"]
    text = bad_table(tmp_path, "text.parquet", lambda c: dict(c, x3=["1.5", "2", "3", "4"]))
    with pytest.raises(DataError, match=r"^.*text.parquet: column 'x3' holds numbers as text \(string\): store them "
                                        r"as numbers to train on it, or leave it out with --features x1,x2$"):
        main_task.run(sc, main_task.parse_args([text, text, str(tmp_path / "none"), "--label-column", "y"]),
                      log=lambda line: None)
