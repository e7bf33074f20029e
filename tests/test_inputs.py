"""Files as people write them (a header line, a byte-order mark, CRLF, blank lines at the end, the
label in a column) and features that are not pixels, read as the plain files are."""

import gzip
import json
import os

import numpy as np
import pytest

import main_task
from conftest import inputs_of, load, read_output
from rddnet.errors import DataError

pytestmark = pytest.mark.spark
ROWS = 300


def lines_of(path, n=ROWS):
    with open(path) as f:
        return [next(f).rstrip("\n") for _ in range(n)]


def write(path, lines, ending="\n", prefix="", suffix=""):
    with open(path, "w", newline="") as f:
        f.write(prefix + "".join(line + ending for line in lines) + suffix)
    return str(path)


@pytest.fixture(scope="module")
def plain(small_compact):
    """The first ROWS training images and labels as lines."""
    return lines_of(small_compact[0]), lines_of(small_compact[1])


def contents(sc, images, labels, **options):
    """(network inputs, labels, first rows of the blocks, the format) of a loaded set, its rows numbered 0..n-1."""
    data = load(sc, images, labels, 64, **options)
    blocks = sorted(data.blocks.collect(), key=lambda b: b.start)
    data.cached.unpersist()
    assert [b.start for b in blocks] == np.cumsum([0] + [b.rows for b in blocks[:-1]]).tolist()  # rows 0..n-1
    return (inputs_of(blocks, data), np.concatenate([b.labels for b in blocks]), [b.start for b in blocks],
            data.format)


def assert_same(a, b):
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


@pytest.mark.spark35
def test_header_bom_crlf_and_blank_lines_at_the_end_read_as_the_plain_file(sc, tmp_path, plain):
    images, labels = plain
    expected = contents(sc, write(tmp_path / "i.csv", images), write(tmp_path / "l.csv", labels))
    header = ",".join(f"pixel{j}" for j in range(784))
    variants = {
        "header": ((images, {"prefix": header + "\n"}), (labels, {"prefix": "label\n"})),
        "bom": ((images, {"prefix": "\ufeff"}), (labels, {"prefix": "\ufeff"})),
        "bom and header": ((images, {"prefix": "\ufeff" + header + "\n"}), (labels, {"prefix": "\ufefflabel\n"})),
        "crlf": ((images, {"ending": "\r\n"}), (labels, {"ending": "\r\n"})),
        "blank lines at the end": ((images, {"suffix": "\n\n"}), (labels, {"suffix": "\r\n \n"})),
    }
    for name, ((image_lines, image_style), (label_lines, label_style)) in variants.items():
        got = contents(sc, write(tmp_path / f"{name}-i.csv", image_lines, **image_style),
                       write(tmp_path / f"{name}-l.csv", label_lines, **label_style))
        assert_same(got, expected)
        assert got[3]["header"] == ("header" in name), name


def test_a_blank_line_inside_is_still_an_error_when_the_file_ends_blank(sc, tmp_path, plain):
    images, labels = plain
    bad = write(tmp_path / "i.csv", images[:10] + [""] + images[10:], suffix="\n\n")
    with pytest.raises(DataError, match=r"i.csv: line 11: empty line$"):
        load(sc, bad, write(tmp_path / "l.csv", labels), 64)


def test_splits_are_even_and_bad_lines_in_a_later_split_are_named_exactly(sc, tmp_path, plain):
    # Each split numbers its lines from its own start; the driver makes them the file's.
    images, labels = plain
    good = load(sc, write(tmp_path / "i.csv", images), write(tmp_path / "l.csv", labels), 64)
    rows_per_partition = [sum(b.rows for b in part) for part in good.blocks.glom().collect()]
    good.cached.unpersist()
    assert len(rows_per_partition) == sc.defaultParallelism == 2 and sum(rows_per_partition) == ROWS
    # Split by bytes, even to a few rows; the block the split cuts goes whole to one side.
    assert max(rows_per_partition) - min(rows_per_partition) <= 64 + 4
    bad_images = images[:289] + ["abc" + images[289][images[289].index(","):]] + images[290:]
    with pytest.raises(DataError, match=r"i2.csv: line 290: 'abc' is not a number$"):
        load(sc, write(tmp_path / "i2.csv", bad_images), write(tmp_path / "l.csv", labels), 64)
    with pytest.raises(DataError, match=r"i3.csv: line 281: empty line$"):
        load(sc, write(tmp_path / "i3.csv", images[:280] + [""] + images[280:]), write(tmp_path / "l.csv", labels), 64)
    bad_labels = labels[:270] + ["-3"] + labels[271:]
    with pytest.raises(DataError, match=r"l2.csv: line 271: value -3 \(column 1\) is not a class number"):
        load(sc, write(tmp_path / "i.csv", images), write(tmp_path / "l2.csv", bad_labels), 64)


def test_label_column_first_last_or_numbered_reads_as_two_files(sc, tmp_path, plain):
    images, labels = plain
    expected = contents(sc, write(tmp_path / "i.csv", images), write(tmp_path / "l.csv", labels))
    kaggle = ["label," + ",".join(f"pixel{j}" for j in range(784))] + [f"{y},{x}" for x, y in zip(images, labels)]
    last = [f"{x},{y}" for x, y in zip(images, labels)]
    third = [",".join(x.split(",")[:2] + [y] + x.split(",")[2:]) for x, y in zip(images, labels)]
    for lines, column in ((kaggle, "first"), (last, "last"), (third, 3)):
        got = contents(sc, write(tmp_path / f"{column}.csv", lines), None, label_column=column)
        assert_same(got, expected)
    with pytest.raises(DataError, match=r"last.csv: --label-column 786: the rows have 785 values$"):
        load(sc, str(tmp_path / "last.csv"), None, 64, label_column=786)


def test_the_three_path_call_trains_as_the_five_path_call(sc, tmp_path, small_compact):
    one_file = []
    for images, labels in ((small_compact[0], small_compact[1]), (small_compact[2], small_compact[3])):
        with open(images) as x, open(labels) as y:
            lines = ["label," + ",".join(f"pixel{j}" for j in range(784))] + [
                f"{b.strip()},{a.strip()}" for a, b in zip(x, y)]
        one_file.append(write(tmp_path / os.path.basename(images), lines, ending="\r\n"))
    options = ("--epochs", "3", "--hidden", "16")
    quiet = []
    five = main_task.run(sc, main_task.parse_args([*small_compact, str(tmp_path / "five"), *options]), log=quiet.append)
    three = main_task.run(sc, main_task.parse_args([*one_file, str(tmp_path / "three"), "--label-column", "first",
                                                    *options]), log=quiet.append)
    # The files differ in bytes, so their splits hold other rows and blocks add up in another
    # order: the same run to rounding.
    for output in ("confusion_matrix", "tests"):
        assert read_output(tmp_path / "three", output) == read_output(tmp_path / "five", output)
    np.testing.assert_allclose(*[np.array(read_output(tmp_path / run, "cost_history"), dtype=float)
                                 for run in ("three", "five")], rtol=1e-6)
    model_three, model_five = [read_output(tmp_path / run, "model") for run in ("three", "five")]
    assert model_three[0] == model_five[0]
    for three_line, five_line in zip(model_three[1:], model_five[1:], strict=True):
        three_row, five_row = json.loads(three_line), json.loads(five_line)  # a layer's b, or one row of its W
        assert three_row.keys() == five_row.keys()
        for key in three_row.keys() & {"b", "W"}:
            np.testing.assert_allclose(three_row[key], five_row[key], rtol=1e-5, atol=1e-7)
    assert three["header_lines"] == {"train": 1, "train_labels": 0, "test": 1, "test_labels": 0}
    assert five["header_lines"] == {"train": 0, "train_labels": 0, "test": 0, "test_labels": 0}
    assert any("1 training features header line skipped; 1 test features header line skipped" in line
               for line in quiet)


def test_the_three_path_call_needs_a_label_column(capsys):
    with pytest.raises(SystemExit) as exit_:
        main_task.parse_args(["train.csv", "test.csv", "out"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "required: TRAIN_IMAGES TRAIN_LABELS TEST_IMAGES TEST_LABELS OUTPUT_DIR" in err


def sklearn_data(name):
    import sklearn
    path = os.path.join(os.path.dirname(sklearn.__file__), "datasets", "data", name)
    opener = gzip.open if name.endswith(".gz") else open
    with opener(path, "rt") as f:
        return f.read().splitlines()


def test_tabular_data_is_standardized_by_the_training_statistics(sc, tmp_path):
    # scikit-learn's wine data: a first line that is not numbers, 13 float features of any range, the class last.
    lines = sklearn_data("wine_data.csv")
    path = write(tmp_path / "wine.csv", lines)
    data = load(sc, path, None, 16, label_column="last")
    rows = np.loadtxt(lines[1:], delimiter=",")
    X, y = rows[:, :-1].astype(np.float32).astype(np.float64), rows[:, -1].astype(int)  # stored as float32
    assert (data.rows, data.width, data.classes, data.format["header"]) == (178, 13, 3, True)
    assert data.scaling.kind == "standardize"  # chosen from the data: these are not pixels
    np.testing.assert_allclose(data.scaling.shift, X.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(data.scaling.divisor, X.std(axis=0), rtol=1e-12)
    blocks = sorted(data.blocks.collect(), key=lambda b: b.start)
    np.testing.assert_allclose(inputs_of(blocks, data), (X - X.mean(axis=0)) / X.std(axis=0), atol=1e-6)
    np.testing.assert_array_equal(np.concatenate([b.labels for b in blocks]), y)
    data.cached.unpersist()


def test_a_network_trained_here_matches_scikit_learns_mlp_on_its_digits(sc, tmp_path):
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import StandardScaler
    lines = sklearn_data("digits.csv.gz")  # 1,797 8x8 images, values 0-16, the class last
    rows = np.loadtxt(lines, delimiter=",")
    train, test = train_test_split(np.arange(len(lines)), test_size=0.25, random_state=0, stratify=rows[:, -1])
    paths = [write(tmp_path / f"{name}.csv", [lines[i] for i in part]) for name, part in (("train", train),
                                                                                       ("test", test))]
    summary = main_task.run(sc, main_task.parse_args([*paths, str(tmp_path / "out"), "--label-column", "last",
                                                      "--scale", "standardize", "--hidden", "100", "--activation",
                                                      "relu", "--loss", "cross-entropy", "--init", "he", "--optimizer",
                                                      "adam", "--lr", "0.003", "--l2", "0.001", "--sample-fraction",
                                                      "1", "--local-steps", "10", "--epochs", "40"]),
                             log=lambda line: None)
    scaler = StandardScaler().fit(rows[train, :-1])
    mlp = MLPClassifier(random_state=0, max_iter=500).fit(scaler.transform(rows[train, :-1]), rows[train, -1])
    reference = mlp.score(scaler.transform(rows[test, :-1]), rows[test, -1])
    assert summary["test_accuracy"] >= reference - 0.01, (summary["test_accuracy"], reference)


def test_a_blank_line_inside_any_of_several_files_is_an_error(sc, tmp_path, plain):
    # Three files, a split each, coalesced into two partitions: every split's report counts.
    images, labels = plain
    for bad in range(3):
        parts = [images[:100], images[100:200], images[200:]]
        parts[bad] = parts[bad][:50] + [""] + parts[bad][50:]
        paths = [write(tmp_path / f"{bad}-{i}.csv", part) for i, part in enumerate(parts)]
        with pytest.raises(DataError) as error:
            load(sc, ",".join(paths), write(tmp_path / "l.csv", labels), 64)
        assert str(error.value) == f"{paths[bad]}: line 51: empty line"  # numbered within its own file


def part_files(folder, prefix, lines, sizes, header=None):
    """``lines`` cut into files folder/prefix-part00.csv, ... of ``sizes`` lines, written in reverse
    order (so that no listing order happens to be the sorted one); their paths, sorted."""
    folder.mkdir()
    cuts = np.cumsum([0, *sizes]).tolist()
    paths = [str(folder / f"{prefix}-part{i:02d}.csv") for i in range(len(sizes))]
    for i in reversed(range(len(sizes))):
        write(paths[i], lines[cuts[i]:cuts[i + 1]], prefix=f"{header}\n" if header else "")
    return paths


SIZES = (40, 70, 30, 60, 50, 50)


@pytest.mark.spark35
def test_folders_of_part_files_pair_by_sorted_name(sc, tmp_path, plain):
    images, labels = plain
    header = ",".join(f"pixel{j}" for j in range(784))
    part_files(tmp_path / "images", "images", images, SIZES, header=header)  # every part file has a header,
    part_files(tmp_path / "labels", "labels", labels, SIZES)  # as Spark and pandas write them
    expected = contents(sc, write(tmp_path / "images.csv", images), write(tmp_path / "labels.csv", labels))
    listed = part_files(tmp_path / "list", "x", labels, SIZES)
    for image_path, label_path in ((tmp_path / "images", tmp_path / "labels"),  # folders,
                                   (tmp_path / "images" / "*.csv", tmp_path / "labels" / "labels-*"),  # globs
                                   (tmp_path / "images", ",".join(reversed(listed)))):  # and a list
        assert_same(contents(sc, str(image_path), str(label_path)), expected)


def test_part_files_whose_rows_do_not_pair_are_one_line_naming_both(sc, tmp_path, plain):
    images, labels = plain
    image_paths = part_files(tmp_path / "images", "images", images, SIZES)
    label_paths = part_files(tmp_path / "labels", "labels", labels, (40, 70, 31, 59, 50, 50))
    with pytest.raises(DataError) as error:
        load(sc, str(tmp_path / "images"), str(tmp_path / "labels"), 64)
    assert str(error.value) == f"{image_paths[2]}: 30 images, but {label_paths[2]} has 31 labels"
    # With other numbers of files on the two sides, the rows pair in the sorted order as a whole.
    whole = part_files(tmp_path / "whole", "labels", labels, (100, 200))
    assert_same(contents(sc, str(tmp_path / "images"), str(tmp_path / "whole")),
                contents(sc, write(tmp_path / "images.csv", images), ",".join(whole)))


def test_the_log_names_the_files_of_an_input_in_the_order_read(sc, tmp_path, plain, small_compact):
    images, labels = plain
    image_paths = part_files(tmp_path / "images", "images", images, SIZES)
    label_paths = part_files(tmp_path / "labels", "labels", labels, SIZES)
    lines = []
    main_task.run(sc, main_task.parse_args([str(tmp_path / "images"), str(tmp_path / "labels"), *small_compact[2:],
                                            str(tmp_path / "out"), "--epochs", "1"]), log=lines.append)
    assert f"training features: 6 files, read in this order: {', '.join(image_paths)}" in lines
    assert f"training labels: 6 files, read in this order: {', '.join(label_paths)}" in lines


def test_a_labels_header_is_reported_like_a_features_header(sc, tmp_path, plain, small_compact):
    images, labels = plain
    lines = []
    summary = main_task.run(sc, main_task.parse_args([
        write(tmp_path / "images.csv", images), write(tmp_path / "labels.csv", labels, prefix="label\n"),
        *small_compact[2:], str(tmp_path / "out"), "--epochs", "1"]), log=lines.append)
    assert summary["header_lines"] == {"train": 0, "train_labels": 1, "test": 0, "test_labels": 0}
    assert any("; 1 training labels header line skipped)" in line for line in lines)


def test_the_labels_read_beside_the_features_leave_their_splits_alone(sc, small_compact):
    # The labels are listed in a thread of their own while the features are; each sets the minimum
    # split size in the shared Hadoop configuration while it lists its splits. With a file system
    # block smaller than a core's share of the file (as full MNIST's 104 MB against local disk's
    # 32 MB blocks), a minimum of the labels' size would cut the features into other splits, and
    # model averaging's partitions would hold other rows.
    conf = sc._jsc.hadoopConfiguration()
    conf.set("fs.file.impl.disable.cache", "true")  # a local file system of this configuration's block size:
    conf.set("fs.local.block.size", str(256 * 1024))  # a tenth of the file's
    try:
        def layout(labels):
            data = load(sc, small_compact[0], labels, 256)
            blocks = data.blocks.glom().map(lambda part: [(b.start, b.rows) for b in part]).collect()
            data.cached.unpersist()
            return blocks
        alone = layout(None)
        assert len(alone) == 2 and all(alone)
        for _ in range(4):
            assert layout(small_compact[1]) == alone
    finally:
        conf.unset("fs.local.block.size")
        conf.unset("fs.file.impl.disable.cache")
