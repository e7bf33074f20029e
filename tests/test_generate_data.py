"""generate_data.py against known facts of the bundled MNIST files."""

import gzip
import hashlib
import os
import sys
import types

import numpy as np
import pytest

import generate_data
from conftest import ROOT, write_data

TRAIN_LABEL_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_LABEL_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
# md5 of the uncompressed files, from data/README.md
MD5 = {
    "train-images-idx3-ubyte.gz": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte.gz": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte.gz": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte.gz": "27ae3e4e09519cfbb04c329615203637",
}


def count_lines(path):
    with open(path) as f:
        return sum(1 for _ in f)


@pytest.mark.parametrize("name", sorted(MD5))
def test_bundled_idx_files_are_the_published_ones(name):
    with gzip.open(os.path.join(ROOT, "data", name), "rb") as f:
        assert hashlib.md5(f.read()).hexdigest() == MD5[name]


@pytest.fixture(scope="module")
def full_compact(tmp_path_factory):
    return write_data(tmp_path_factory.mktemp("full"))


@pytest.mark.other_run
def test_full_data_round_trip_matches_known_counts(full_compact):
    train_images, train_labels, test_images, test_labels = full_compact
    assert count_lines(train_images) == 60000 and count_lines(test_images) == 10000
    train = np.loadtxt(train_labels, dtype=np.int64)
    test = np.loadtxt(test_labels, dtype=np.int64)
    assert np.bincount(train).tolist() == TRAIN_LABEL_COUNTS
    assert np.bincount(test).tolist() == TEST_LABEL_COUNTS
    with open(test_images) as f:
        first = np.array(f.readline().split(","), dtype=np.int64)
    assert first.size == 784 and first.min() == 0 and first.max() == 255
    idx = generate_data.read_idx(os.path.join(ROOT, "data", "t10k-images-idx3-ubyte.gz"))
    np.testing.assert_array_equal(first, idx[0].ravel())


@pytest.mark.other_run
def test_the_readmes_default_run_row_is_what_the_default_run_gives(sc, full_compact, tmp_path):
    import json

    import main_task
    from conftest import read_output
    with open(os.path.join(ROOT, "README.md")) as f:
        row = next(line for line in f if line.startswith("| the original's defaults"))
    train, test, f1 = (float(cell) for cell in row.split("|")[3:6])
    main_task.run(sc, main_task.parse_args([*full_compact, str(tmp_path / "out")]), log=lambda line: None)
    summary = json.loads(read_output(tmp_path / "out", "summary")[0])
    # Within 0.001: on another CPU a float32 pass may round otherwise and flip a prediction or two.
    assert summary["final_train_accuracy"] == pytest.approx(train, abs=0.001)
    assert summary["test_accuracy"] == pytest.approx(test, abs=0.001)
    assert summary["macro_f1"] == pytest.approx(f1, abs=0.001)


def test_digits_keep_those_classes_relabelled(tmp_path):
    train_images, train_labels, test_images, test_labels = write_data(tmp_path, "--digits", "0,1")
    assert np.bincount(np.loadtxt(train_labels, dtype=np.int64)).tolist() == [5923, 6742]  # 12,665 rows
    assert np.bincount(np.loadtxt(test_labels, dtype=np.int64)).tolist() == [980, 1135]    # 2,115 rows
    assert count_lines(train_images) == 12665 and count_lines(test_images) == 2115
    # relabelled in the order given: 7 -> 0, 3 -> 1; the first N rows kept
    _, labels, _, _ = write_data(tmp_path / "73", "--digits", "7,3", "--limit-train", "2000", "--limit-test", "10")
    idx = generate_data.read_idx(os.path.join(ROOT, "data", "train-labels-idx1-ubyte.gz"))
    expected = (idx[np.isin(idx, [7, 3])][:2000] == 3).astype(np.int64)
    np.testing.assert_array_equal(np.loadtxt(labels, dtype=np.int64), expected)


def test_seed_format_is_the_compact_data_over_255_and_one_hot(tmp_path):
    compact = write_data(tmp_path / "c", "--limit-train", "50", "--limit-test", "20")
    seed = write_data(tmp_path / "s", "--format", "seed", "--limit-train", "50", "--limit-test", "20")
    for images in (0, 2):
        pixels = np.loadtxt(compact[images], delimiter=",")
        with open(seed[images]) as f:
            first = f.readline()
        assert "," not in first and "e+00" in first  # np.savetxt's default layout
        np.testing.assert_array_equal(np.loadtxt(seed[images]), pixels / 255.0)
    labels = np.loadtxt(compact[1], dtype=np.int64)
    one_hot = np.loadtxt(seed[1])
    assert one_hot.shape == (50, 10) and (one_hot.sum(axis=1) == 1).all()
    np.testing.assert_array_equal(one_hot.argmax(axis=1), labels)


def test_missing_keras_is_one_clear_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "keras", None)  # import keras -> ImportError
    assert generate_data.main(["--source", "keras", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "keras" in err[0] and "--source keras" in err[0]
    assert os.listdir(tmp_path) == []


def fake_keras(load_data):
    keras = types.ModuleType("keras")
    keras.datasets = types.SimpleNamespace(mnist=types.SimpleNamespace(load_data=load_data))
    return keras


def test_keras_source_writes_what_keras_returns(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    x_train = rng.integers(0, 256, (30, 28, 28), dtype=np.uint8)
    x_test = rng.integers(0, 256, (8, 28, 28), dtype=np.uint8)
    y_train, y_test = np.arange(30, dtype=np.uint8) % 10, np.arange(8, dtype=np.uint8)
    monkeypatch.setitem(sys.modules, "keras", fake_keras(lambda: ((x_train, y_train), (x_test, y_test))))
    paths = write_data(tmp_path, "--source", "keras")
    np.testing.assert_array_equal(np.loadtxt(paths[0], delimiter=",", dtype=np.uint8), x_train.reshape(30, -1))
    np.testing.assert_array_equal(np.loadtxt(paths[3], dtype=np.uint8), y_test)


def test_keras_download_failure_is_one_clear_line(tmp_path, monkeypatch, capsys):
    def offline():
        raise OSError("URL fetch failure: no network")
    monkeypatch.setitem(sys.modules, "keras", fake_keras(offline))
    assert generate_data.main(["--source", "keras", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "could not load MNIST" in err[0] and "URL fetch failure" in err[0]


def test_bad_idx_file_is_one_clear_line(tmp_path, capsys):
    for name in generate_data.IDX_FILES["train"] + generate_data.IDX_FILES["test"]:
        with gzip.open(tmp_path / name, "wb") as f:
            header = [2051, 10, 28, 28]  # promises 10 images of 28 x 28, holds none
            f.write(b"".join(n.to_bytes(4, "big") for n in header))
    assert generate_data.main(["--idx-dir", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "train-images-idx3-ubyte.gz" in err[0] and "header promises" in err[0]
